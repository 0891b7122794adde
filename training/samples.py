"""Hear a run while it trains: a few MIDI files every ``train.sample_every`` steps.

``training.train`` calls :func:`write_samples` into ``RUN/samples/step_NNNNN/``::

    prior_1.mid ... prior_3.mid   prior samples at temperature 1 (the same z at every step, so
                                  the files of two steps compare the same points of the prior)
    input.mid                     the first validation window (the first train window without one)
    reconstruction.mid            its greedy reconstruction from z = the posterior mean

Tokens become clips through the dataset's own codec (the one the runtime plays), for every model
kind through :class:`training.evaluate.ModelAdapter`. The folder is written under a temporary
name and renamed into place. From Python::

    >>> from training.samples import write_samples
    >>> write_samples(model, WindowDataset("data/mel_2bar", "valid"), "runs/mel/samples/step_00100")
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from runtime.files import user_umask
from runtime.midi_io import write_midi

from .evaluate import ModelAdapter

#: prior samples per step
PRIOR_SAMPLES = 3


@torch.no_grad()
def write_samples(model, dataset, folder, seed: int = 0, count: int = PRIOR_SAMPLES,
                  device: str | torch.device = "cpu") -> list[Path]:
    """Write ``count`` prior samples and one reconstruction of ``dataset``'s first window as MIDI
    into ``folder`` (replaced if it exists); returns the files written. Leaves ``model`` in the
    mode it was in and the global random state alone (a seeded generator draws z)."""
    folder = Path(folder)
    adapter = ModelAdapter(model)
    was_training = model.training
    model.eval()
    try:
        batch = {k: v.to(device) for k, v in dataset.batch(range(1)).items()}
        mu, _ = adapter.posterior(batch)
        generator = torch.Generator(device=device).manual_seed(seed)
        z = torch.randn(count, mu.shape[1], generator=generator, device=device)
        prior = adapter.generate(z, dataset.steps, 1.0, generator).cpu().numpy()
        reconstruction = adapter.generate(mu, dataset.steps, 0.0).cpu().numpy()
    finally:
        model.train(was_training)
    named = [(f"prior_{i + 1}", tokens) for i, tokens in enumerate(prior)]
    named += [("input", batch["tokens"][0].cpu().numpy()), ("reconstruction", reconstruction[0])]

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        written = []
        for name, tokens in named:
            try:
                clip = dataset.codec.decode(np.asarray(tokens))
            except Exception:  # noqa: BLE001 - a codec may refuse an ill-formed sample: skip it
                continue
            write_midi(clip, tmp / f"{name}.mid")
            written.append(folder / f"{name}.mid")
        os.chmod(tmp, 0o777 & ~user_umask())   # mkdtemp makes 0700 folders
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written
