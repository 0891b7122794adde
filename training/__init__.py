"""latentbridge training: corpus import, datasets, models, training, evaluation and export (torch)."""
