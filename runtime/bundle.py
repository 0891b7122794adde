"""Model bundles: a folder with ``model.json`` and ONNX step graphs, loaded and checked (no torch).

    >>> from runtime.bundle import load_bundle, BundleError
    >>> bundle = load_bundle("runtime/models/mel_2bar")        # or a name: load_bundle("mel_2bar")
    >>> available_models()          # shipped names, then imported ones (user_models_dir())
    ['drums_2bar', 'mel_2bar', ..., 'mel_2bar_small']
    >>> bundle.name, bundle.kind, bundle.bars, bundle.z_size
    ('mel_2bar', 'flat', 2, 256)
    >>> mu, sigma = bundle.run("encoder", x, lengths)      # inputs and outputs in model.json order

A bundle that is incomplete, of an unknown ``format_version`` or kind, inconsistent with its
``model.json`` (missing file, checksum, input/output names, shapes or types that do not match the
ONNX graph) or whose graphs are not exactly its kind's (:mod:`runtime.decoding`) is refused with
:class:`BundleError`, whose one-line message names the file and the problem. The schema is
documented in docs/bundle.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .decoding import DECODINGS

FORMAT_VERSION = 1
MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "mel_2bar"
#: imported bundles (training.import_magenta) live in $LB_MODELS, by default
#: $XDG_DATA_HOME/latentbridge/models (~/.local/share/latentbridge/models)
USER_MODELS_ENV = "LB_MODELS"

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
    shown = text if len(text) <= 80 else text[:77] + "..."   # one line, even for a hostile name
    if not text or "\x00" in text or len(text) > 4096:
        raise BundleError(f"{shown!r}: not a model name or bundle folder")
    try:
        if os.sep not in text and "/" not in text:
            for folder in (MODELS_DIR, user_models_dir()):
                if (folder / text).is_dir():
                    return folder / text
        path = Path(text).expanduser()
        if path.is_file() and path.name == "model.json":
            path = path.parent
        found = path.is_dir()
    except (OSError, ValueError) as exc:   # a name too long for the file system, and the like
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise BundleError(f"{shown}: not a usable model name or folder ({reason})") from None
    if not found:
        known = ", ".join(available_models()) or "none"
        raise BundleError(f"{shown}: no such model bundle (models: {known})")
    return path


def shipped_models() -> list[str]:
    """Names of the bundles that ship in runtime/models/."""
    return _bundles_in(MODELS_DIR)


def user_models_dir() -> Path:
    """Where imported bundles go and are found by name: ``$LB_MODELS``, else
    ``$XDG_DATA_HOME/latentbridge/models`` (default ``~/.local/share/latentbridge/models``)."""
    if os.environ.get(USER_MODELS_ENV):
        return Path(os.environ[USER_MODELS_ENV]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data).expanduser() / "latentbridge" / "models"


def available_models() -> list[str]:
    """Every model a name loads: the shipped ones, then the imported ones in
    :func:`user_models_dir` (a shipped name wins over an imported bundle of the same name)."""
    shipped = shipped_models()
    return shipped + [n for n in _bundles_in(user_models_dir()) if n not in shipped]


def _bundles_in(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir() if (p / "model.json").is_file())
    except OSError:   # no such folder (nothing imported yet), or unreadable
        return []


def read_meta(folder: Path) -> dict[str, Any]:
    """Parse and check ``model.json`` (keys, version, kind, and exactly the graphs of that kind,
    :mod:`runtime.decoding`) without opening ONNX files."""
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
    if _plain_int(meta["format_version"]) != FORMAT_VERSION:
        raise BundleError(f"{meta_path}: unknown format_version {_shown(meta['format_version'])} "
                          f"(this runtime reads {FORMAT_VERSION})")
    _check_fields(meta_path, meta)
    for key, spec in meta["graphs"].items():
        _check_graph_spec(meta_path, key, spec)
    # exactly the graphs of its kind, with their input and output names (runtime/decoding.py)
    problem = DECODINGS[meta["kind"]].check_graphs(meta["graphs"])
    if problem:
        raise BundleError(f"{meta_path}: {problem}")
    _check_consistency(meta_path, meta)
    return meta


def _plain_int(value) -> int | None:
    """``value`` if it is a JSON integer (not a bool, not a float), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: integer fields of model.json and their allowed ranges (steps per bar: whole 16ths of a beat
#: grid, so a multiple of 4; the engine divides by it)
INT_FIELDS = {"steps_per_bar": (4, 256), "bars": (1, 256), "z_size": (1, 65536)}
MAX_NAME = 100


def _check_fields(meta_path: Path, meta: dict) -> None:
    """Types and ranges of the top-level fields: a wrong one is refused here, with its name,
    instead of failing later inside the engine (or, worse, while a bridge streams)."""
    name = meta["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or \
            not name.isprintable():
        raise BundleError(f"{meta_path}: 'name' must be a non-empty one-line string of at most "
                          f"{MAX_NAME} characters, got {_shown(name)}")
    kind = meta["kind"]
    if not isinstance(kind, str) or kind not in DECODINGS:
        raise BundleError(f"{meta_path}: unknown kind {_shown(kind)} "
                          f"(known: {', '.join(DECODINGS)})")
    codec = meta["codec"]
    if not isinstance(codec, dict) or not isinstance(codec.get("name"), str):
        raise BundleError(f"{meta_path}: 'codec' must be an object with a 'name' string, "
                          f"got {_shown(codec)}")
    for key, (low, high) in INT_FIELDS.items():
        value = _plain_int(meta[key])
        if value is None or not low <= value <= high:
            raise BundleError(f"{meta_path}: {key!r} must be a whole number in {low}..{high}, "
                              f"got {_shown(meta[key])}")
    if meta["steps_per_bar"] % 4:
        raise BundleError(f"{meta_path}: 'steps_per_bar' must be a multiple of 4 (steps per "
                          f"quarter note), got {meta['steps_per_bar']}")
    if not isinstance(meta["graphs"], dict):
        raise BundleError(f"{meta_path}: 'graphs' must be an object of graph specs")


def _check_graph_spec(meta_path: Path, key: str, spec) -> None:
    if not isinstance(spec, dict) or not all(k in spec for k in ("file", "inputs", "outputs")):
        raise BundleError(f"{meta_path}: graph {key!r} needs 'file', 'inputs' and 'outputs'")
    file = spec["file"]
    # a bundle names files inside its own folder: no absolute path, no way out of the folder
    if not isinstance(file, str) or not file or "\x00" in file or "\\" in file or \
            Path(file).is_absolute() or ".." in Path(file).parts or file.startswith("~"):
        raise BundleError(f"{meta_path}: graph {key!r}: 'file' must be a file name inside the "
                          f"bundle folder, got {_shown(file)}")
    for part in ("inputs", "outputs"):
        ios = spec[part]
        if not isinstance(ios, list) or not all(isinstance(d, dict) and
                                                isinstance(d.get("name"), str) for d in ios):
            raise BundleError(f"{meta_path}: graph {key!r}: {part!r} must be a list of objects "
                              f"with a 'name', got {_shown(ios)}")
        for d in ios:
            shape = d.get("shape")
            if shape is not None and (not isinstance(shape, list) or not all(
                    isinstance(n, str) or _plain_int(n) is not None for n in shape)):
                raise BundleError(f"{meta_path}: graph {key!r}: shape of {d['name']!r} must be a "
                                  f"list of whole numbers and names, got {_shown(shape)}")
            if "dtype" in d and not isinstance(d["dtype"], str):
                raise BundleError(f"{meta_path}: graph {key!r}: dtype of {d['name']!r} must be "
                                  f"a string, got {_shown(d['dtype'])}")


def _check_consistency(meta_path: Path, meta: dict) -> None:
    """``bars * steps_per_bar`` and ``z_size`` against the encoder's declared shapes."""
    encoder = meta["graphs"].get("encoder")
    if encoder is None:
        return
    inputs, outputs = encoder["inputs"], encoder["outputs"]
    decoding = DECODINGS[meta["kind"]]
    window = decoding.encoder_window(meta)
    if isinstance(window, str):
        raise BundleError(f"{meta_path}: {window}")
    want, z_size = window
    if decoding.grid and inputs and len(inputs[0].get("shape") or []) == 3:
        steps = inputs[0]["shape"][1]
        if _plain_int(steps) is not None and steps != want:
            raise BundleError(f"{meta_path}: bars x steps_per_bar = {meta['bars']} x "
                              f"{meta['steps_per_bar']} make windows of {want} steps, but the "
                              f"encoder's input {inputs[0]['name']!r} has {steps}")
    if outputs and len(outputs[0].get("shape") or []) == 2:
        size = outputs[0]["shape"][1]
        if _plain_int(size) is not None and size != z_size:
            raise BundleError(f"{meta_path}: z_size is {meta['z_size']}, so the encoder must "
                              f"write codes of {z_size}, but its output {outputs[0]['name']!r} "
                              f"has {size}")


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
    # int8-stored weights (python -m training.float16 --int8): fold their DequantizeLinear nodes
    # into float32 weights once, as the float16 casts are folded, instead of keeping them for
    # quantized kernels that would dequantize every step
    options.add_session_config_entry("session.disable_quant_qdq", "1")
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
    inside = folder.resolve()
    for key, spec in meta["graphs"].items():
        file = folder / spec["file"]
        if not file.resolve().is_relative_to(inside):   # a link out of the folder
            raise BundleError(f"{folder / 'model.json'}: graph {key!r}: 'file' "
                              f"{_shown(spec['file'])} leads out of the bundle folder")
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
