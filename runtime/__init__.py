"""latentbridge runtime: torch-free music core, codecs, model bundles, ONNX engine, offline render."""

__version__ = "0.1.0"
