"""Model bundles: a folder with ``model.json`` and ONNX step graphs, loaded and checked (no torch).

    >>> from runtime.bundle import load_bundle, BundleError
    >>> bundle = load_bundle("runtime/models/mel_2bar")        # or a name: load_bundle("mel_2bar")
    >>> bundle.name, bundle.kind, bundle.bars, bundle.z_size
    ('mel_2bar', 'flat', 2, 256)
    >>> mu, sigma = bundle.run("encoder", x, lengths)      # inputs and outputs in model.json order

A bundle that is incomplete, of an unknown ``format_version`` or inconsistent with its
``model.json`` (missing file, checksum, input/output names, shapes or types that do not match the
ONNX graph) is refused with :class:`BundleError`, whose one-line message names the file and the
problem. The schema is documented in docs/bundle.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "mel_2bar"

#: ONNX graphs every bundle of a kind must hold
REQUIRED_GRAPHS = {
    "flat": ("encoder", "decoder_init", "decoder_step"),
    "hierarchical": ("encoder", "conductor_init", "conductor_step", "decoder_init", "decoder_step"),
    "note_events": ("encoder", "decoder_init", "decoder_step_dt", "decoder_step_t", "decoder_step_p"),
}
REQUIRED_KEYS = ("format_version", "name", "kind", "codec", "steps_per_bar", "bars", "z_size", "graphs")

_ORT_TYPES = {"tensor(float)": "float32", "tensor(int64)": "int64", "tensor(float16)": "float16",
              "tensor(int32)": "int32", "tensor(bool)": "bool"}


class BundleError(ValueError):
    """A bundle that cannot be used; the message is one line and names the file at fault."""


@dataclass
class Bundle:
    """A loaded, validated bundle: metadata from ``model.json`` plus one ONNX session per graph."""

    path: Path
    meta: dict[str, Any]
    sessions: dict[str, Any] = field(default_factory=dict)
    _names: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    @property
    def bars(self) -> int:
        return int(self.meta["bars"])

    @property
    def steps_per_bar(self) -> int:
        return int(self.meta["steps_per_bar"])

    @property
    def z_size(self) -> int:
        return int(self.meta["z_size"])

    @property
    def providers(self) -> list[str]:
        first = next(iter(self.sessions.values()), None)
        return first.get_providers() if first is not None else []

    def graph(self, key: str) -> dict[str, Any]:
        return self.meta["graphs"][key]

    def run(self, key: str, *inputs: np.ndarray) -> list[np.ndarray]:
        """Run graph ``key`` with its inputs in model.json order; returns its outputs in order."""
        names = self._names.get(key)
        if names is None:
            spec = self.graph(key)
            names = self._names[key] = ([i["name"] for i in spec["inputs"]],
                                        [o["name"] for o in spec["outputs"]])
        if len(inputs) != len(names[0]):
            raise BundleError(f"{self.path / self.graph(key)['file']}: takes {len(names[0])} "
                              f"inputs, got {len(inputs)}")
        return self.sessions[key].run(names[1], dict(zip(names[0], inputs)))


def resolve(model: str | os.PathLike | None) -> Path:
    """``None`` -> the embedded default model, a shipped name -> runtime/models/<name>, else a path."""
    if model is None:
        model = DEFAULT_MODEL
    text = os.fspath(model)
    if os.sep not in text and "/" not in text and (MODELS_DIR / text).is_dir():
        return MODELS_DIR / text
    path = Path(text).expanduser()
    if path.is_file() and path.name == "model.json":
        path = path.parent
    if not path.is_dir():
        shipped = ", ".join(shipped_models()) or "none"
        raise BundleError(f"{text}: no such model bundle (shipped models: {shipped})")
    return path


def shipped_models() -> list[str]:
    """Names of the bundles that ship in runtime/models/."""
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / "model.json").is_file())


def read_meta(folder: Path) -> dict[str, Any]:
    """Parse and check ``model.json`` (keys, version, kind, graph list) without opening ONNX files."""
    meta_path = folder / "model.json"
    if not meta_path.is_file():
        raise BundleError(f"{meta_path}: missing (a bundle folder needs model.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{meta_path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise BundleError(f"{meta_path}: expected a JSON object at the top level")
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise BundleError(f"{meta_path}: missing key(s) {', '.join(missing)}")
    if meta["format_version"] != FORMAT_VERSION:
        raise BundleError(f"{meta_path}: unknown format_version {meta['format_version']!r} "
                          f"(this runtime reads {FORMAT_VERSION})")
    if meta["kind"] not in REQUIRED_GRAPHS:
        raise BundleError(f"{meta_path}: unknown kind {meta['kind']!r} "
                          f"(known: {', '.join(REQUIRED_GRAPHS)})")
    graphs = meta["graphs"]
    if not isinstance(graphs, dict):
        raise BundleError(f"{meta_path}: 'graphs' must be an object of graph specs")
    for key in REQUIRED_GRAPHS[meta["kind"]]:
        if key not in graphs:
            raise BundleError(f"{meta_path}: graph {key!r} is required for kind {meta['kind']!r}")
    for key, spec in graphs.items():
        if not isinstance(spec, dict) or not all(k in spec for k in ("file", "inputs", "outputs")):
            raise BundleError(f"{meta_path}: graph {key!r} needs 'file', 'inputs' and 'outputs'")
    return meta


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_providers() -> list[str]:
    """CUDA when onnxruntime-gpu sees a GPU (and LATENTBRIDGE_DEVICE is not 'cpu'), else CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if os.environ.get("LATENTBRIDGE_DEVICE", "").lower() != "cpu" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _session_options(threads: int | None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Step graphs are small: one or two threads beat a pool that wakes up every step.
    options.intra_op_num_threads = threads or int(os.environ.get("LATENTBRIDGE_THREADS", "1"))
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options


def _check_io(file: Path, kind: str, declared: list[dict], actual) -> None:
    names = [d.get("name") for d in declared]
    got = [a.name for a in actual]
    if names != got:
        raise BundleError(f"{file}: graph {kind} are {got}, model.json says {names}")
    for d, a in zip(declared, actual):
        dtype = _ORT_TYPES.get(a.type, a.type)
        if d.get("dtype", dtype) != dtype:
            raise BundleError(f"{file}: {kind[:-1]} {a.name!r} has type {dtype}, model.json says {d['dtype']}")
        shape = d.get("shape")
        if shape is None:
            continue
        if len(shape) != len(a.shape):
            raise BundleError(f"{file}: {kind[:-1]} {a.name!r} has rank {len(a.shape)} "
                              f"{list(a.shape)}, model.json says {shape}")
        for want, have in zip(shape, a.shape):
            if isinstance(want, int) and isinstance(have, int) and want != have:
                raise BundleError(f"{file}: {kind[:-1]} {a.name!r} has shape {list(a.shape)}, "
                                  f"model.json says {shape}")


def load_bundle(model: str | os.PathLike | None = None, providers: list[str] | None = None,
                threads: int | None = None, verify_checksums: bool = True) -> Bundle:
    """Load and validate a bundle; ``model`` as in :func:`resolve`. Raises :class:`BundleError`."""
    folder = resolve(model)
    meta = read_meta(folder)
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - onnxruntime is a hard dependency
        raise BundleError(f"onnxruntime is not installed ({exc})") from None
    providers = providers or default_providers()
    options = _session_options(threads)
    bundle = Bundle(path=folder, meta=meta)
    for key, spec in meta["graphs"].items():
        file = folder / spec["file"]
        if not file.is_file():
            raise BundleError(f"{file}: missing (model.json lists it for graph {key!r})")
        if verify_checksums and spec.get("sha256") and sha256(file) != spec["sha256"]:
            raise BundleError(f"{file}: checksum does not match model.json (file changed or corrupt)")
        try:
            session = ort.InferenceSession(str(file), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BundleError(f"{file}: not a loadable ONNX graph ({reason[:200]})") from None
        _check_io(file, "inputs", spec["inputs"], session.get_inputs())
        _check_io(file, "outputs", spec["outputs"], session.get_outputs())
        bundle.sessions[key] = session
    return bundle
