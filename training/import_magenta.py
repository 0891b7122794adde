"""Import a Magenta.js MusicVAE checkpoint into our PyTorch MusicVAE and export it as a bundle.

A Magenta.js checkpoint is a folder: ``config.json`` (``{"type": "MusicVAE", "dataConverter":
{"type": "MelodyConverter", "args": {...}}}``), ``weights_manifest.json`` and binary shards in the
TensorFlow.js weights format. The TF variables keep their TensorFlow names and layouts (LSTM
kernels ``[input + units, 4 * units]`` with gates i, j, f, o and a forget bias of 1.0 added at run
time); this module renames and re-lays them out for ``torch.nn.LSTM`` (gates i, f, g, o)::

    $ python -m training.import_magenta --list                # what Magenta.js publishes
    $ python -m training.import_magenta mel_2bar_small        # download, convert, install by name
    $ python -m training.import_magenta https://host/ckpt/my_vae bundles/my_vae     # any URL
    $ python -m training.import_magenta ~/checkpoints/mel_2bar_small bundles/mel_2bar_small
    $ python -m training.import_magenta CKPT OUT --pt-only     # a checkpoint.pt, no ONNX export

Names and URLs are downloaded on request only (training/download.py: cached, resumable,
checked), names come from training/magenta_catalog.py; without a bundle folder the bundle goes
to runtime.bundle.user_models_dir(), where every model name is looked up. A failure is one line
and exit status 1 (usage errors: 2).

or from Python::

    >>> from training.import_magenta import fetch, load_checkpoint, convert
    >>> folder, source = fetch("mel_2bar_small")          # the cached download (or a folder)
    >>> ckpt = load_checkpoint(folder)                     # config + numpy weights, validated
    >>> ckpt.arch.z_size, ckpt.arch.hierarchical
    (256, False)
    >>> model = convert(ckpt)                              # training.models.musicvae.MusicVAE

Supported: flat and hierarchical (conductor) models whose data converter is ``MelodyConverter``,
``DrumsConverter`` (9 classes, 512-way output) or ``TrioConverter`` (hierarchical only, as in
Magenta.js), and flat GrooVAE models (``GrooveConverter``: plain, ``humanize`` or ``tapify``
input; imported as a ``groove`` bundle whose decoder feeds back every drum's velocity and offset,
``decoding.feedback_mask: "none"``, as Magenta.js decodes). Not supported (a one-line error says
so): ``MultitrackConverter`` (multitrack), ``DrumRollConverter`` / NADE outputs, other
converters, and conditioned models (``chordEncoder``, control inputs such as GrooVAE's hits
control). See docs/magenta.md.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = "weights_manifest.json"
CONFIG = "config.json"
FORGET_BIAS = 1.0

SUPPORTED_CONVERTERS = ("MelodyConverter", "DrumsConverter", "TrioConverter", "GrooveConverter")
UNSUPPORTED_CONVERTERS = {
    "MultitrackConverter": "multitrack models are not supported",
    "DrumRollConverter": "drum-roll (NADE output) models are not supported",
    "DrumsOneHotConverter": "DrumsOneHotConverter is a MusicRNN converter, not a MusicVAE one",
}
#: Magenta.js' GrooveConverter taps every note on this drum class (its TAPIFY_CHANNEL, open hi-hat)
TAPIFY_CHANNEL = 3
#: Magenta.js' default drum table (core/data.ts), older than note_seq's current one that our
#: drums codec defaults to: an imported drums model keeps the table it was used with.
DEFAULT_DRUM_PITCH_CLASSES = [
    [36, 35], [38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85],
    [42, 44, 54, 68, 69, 70, 71, 73, 78, 80], [46, 67, 72, 74, 79, 81], [45, 29, 41, 61, 64, 84],
    [48, 47, 60, 63, 77, 86, 87], [50, 30, 43, 62, 76, 83], [49, 55, 57, 58], [51, 52, 53, 59, 82],
]

# Variable names exactly as Magenta.js (music/src/music_vae/model.ts) looks them up.
# ``%d`` counts layers (flat) or levels (hierarchical), as in Magenta.js' getLstmLayers.
ENC_FLAT = "encoder/cell_%d/bidirectional_rnn/{dir}/multi_rnn_cell/cell_0/lstm_cell/"
ENC_HIER = ("encoder/hierarchical_level_%d/cell_0/bidirectional_rnn/{dir}/multi_rnn_cell/cell_0/"
            "lstm_cell/")
CONDUCTOR = "decoder/hierarchical_level_0/"


class MagentaImportError(ValueError):
    """A checkpoint we cannot import; the message is one line for the user."""


# -- the TF.js weights format -----------------------------------------------------------------

_DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "uint16": np.uint16,
           "float16": np.float16, "bool": np.bool_}


def weight_bytes(spec: dict[str, Any], where: str = MANIFEST) -> int:
    """Bytes one manifest entry takes in the shards (its shape times its stored dtype's size:
    the quantisation dtype where there is one)."""
    try:
        shape = [int(d) for d in spec["shape"]]
        quant = spec.get("quantization")
        stored = _DTYPES.get(quant["dtype"] if quant else spec["dtype"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise MagentaImportError(f"{where}: bad weight entry {spec!r:.80}")
    if stored is None or any(d < 0 for d in shape):
        raise MagentaImportError(f"{where}: {spec.get('name')}: unsupported dtype or shape")
    return int(np.prod(shape)) * np.dtype(stored).itemsize if shape else np.dtype(stored).itemsize


def group_sizes(manifest, where: str = MANIFEST) -> list[tuple[list[str], int]]:
    """``[(shard file names, bytes their weights need), ...]`` per group of a TF.js weights
    manifest, checked: a list of groups, each with ``paths`` (plain file names, nothing that
    leads out of the folder) and ``weights``."""
    if not isinstance(manifest, list) or not manifest:
        raise MagentaImportError(f"{where}: expected a non-empty list of weight groups")
    groups = []
    for group in manifest:
        paths = group.get("paths") if isinstance(group, dict) else None
        specs = group.get("weights") if isinstance(group, dict) else None
        if not isinstance(paths, list) or not paths or not isinstance(specs, list):
            raise MagentaImportError(f"{where}: a weight group needs 'paths' and 'weights'")
        for path in paths:
            if not isinstance(path, str) or not path or len(path) > 200 or \
                    path.startswith((".", "~")) or any(c in path for c in "/\\:\x00"):
                raise MagentaImportError(f"{where}: shard name {str(path)[:60]!r} is not a plain "
                                         "file name")
        groups.append((paths, sum(weight_bytes(spec, where) for spec in specs)))
    return groups


def read_tfjs_weights(folder: str | os.PathLike) -> dict[str, np.ndarray]:
    """All variables of a TF.js weights manifest as float32/int32 numpy arrays, by name.

    Handles several shards per group and the quantised forms TF.js writes (uint8/uint16 with
    ``scale``/``min``, float16)."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise MagentaImportError(f"{manifest_path}: missing (not a Magenta.js checkpoint folder?)")
    except (OSError, ValueError) as exc:
        raise MagentaImportError(f"{manifest_path}: unreadable JSON ({exc})")
    sizes = group_sizes(manifest, str(manifest_path))   # checks the structure and file names
    weights: dict[str, np.ndarray] = {}
    for group, (paths, _) in zip(manifest, sizes):
        try:
            buffer = b"".join((folder / p).read_bytes() for p in paths)
        except OSError as exc:
            raise MagentaImportError(f"{manifest_path}: shard unreadable ({exc})")
        offset = 0
        for spec in group["weights"]:
            nbytes = weight_bytes(spec, str(manifest_path))
            name, shape, dtype = spec.get("name"), [int(d) for d in spec["shape"]], spec["dtype"]
            quant = spec.get("quantization")
            stored = _DTYPES[quant["dtype"] if quant else dtype]
            count = nbytes // np.dtype(stored).itemsize
            if not isinstance(name, str):
                raise MagentaImportError(f"{manifest_path}: bad weight entry {spec!r:.80}")
            if offset + nbytes > len(buffer):
                raise MagentaImportError(f"{manifest_path}: shards end before {name} "
                                   f"({len(buffer)} bytes, need {offset + nbytes})")
            values = np.frombuffer(buffer, dtype=stored, count=count, offset=offset)
            offset += nbytes
            if quant and quant["dtype"] in ("uint8", "uint16"):
                values = values.astype(np.float32) * np.float32(quant["scale"]) + np.float32(
                    quant["min"])
            target = np.int32 if dtype == "int32" else np.float32
            weights[name] = values.astype(target).reshape(shape)
    return weights


def _quantize(values: np.ndarray, dtype: str) -> tuple[bytes, dict[str, Any]]:
    """TF.js' affine weight quantisation: ``q = round((v - min) / scale)``, ``scale = range /
    (2**bits - 1)`` (what ``tensorflowjs_converter --quantize_uint8/uint16`` writes)."""
    low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    levels = np.iinfo(_DTYPES[dtype]).max
    scale = (high - low) / levels if high > low else 1.0
    q = np.clip(np.round((values - low) / scale), 0, levels).astype(_DTYPES[dtype])
    return q.tobytes(), {"dtype": dtype, "scale": scale, "min": low}


def write_tfjs_checkpoint(folder: str | os.PathLike, config: dict[str, Any],
                          weights: dict[str, np.ndarray], shard_bytes: int = 4 << 20,
                          quantize: str | None = None) -> None:
    """Write ``config.json``, ``weights_manifest.json`` and shards as Magenta.js reads them (one
    group, shards ``group1-shardNofM``); ``quantize="uint8"`` / ``"uint16"`` stores the weights
    quantised like the published ``_q1`` / ``_q2`` checkpoints. The folder is written next to its
    final place and moved there at the end."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    entries, parts = [], []
    for name, w in weights.items():
        w = np.ascontiguousarray(w, dtype=np.float32)
        entry = {"name": name, "shape": list(w.shape), "dtype": "float32"}
        if quantize:
            data, entry["quantization"] = _quantize(w, quantize)
        else:
            data = w.tobytes()
        entries.append(entry)
        parts.append(data)
    blob = b"".join(parts)
    chunks = [blob[i:i + shard_bytes] for i in range(0, len(blob), shard_bytes)] or [b""]
    paths = [f"group1-shard{i + 1}of{len(chunks)}" for i in range(len(chunks))]
    for path, chunk in zip(paths, chunks):
        (tmp / path).write_bytes(chunk)
    manifest = [{"paths": paths, "weights": entries}]
    (tmp / MANIFEST).write_text(json.dumps(manifest))
    (tmp / CONFIG).write_text(json.dumps(config, indent=1))
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
        os.replace(folder, old / folder.name)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, folder)


# -- what the checkpoint holds ----------------------------------------------------------------

@dataclass
class MagentaArch:
    """The architecture a checkpoint's variables describe (inferred from their shapes)."""

    converter: str  # MelodyConverter | DrumsConverter | TrioConverter
    num_steps: int
    num_segments: int  # 0 = flat decoder
    input_depth: int  # encoder input per step
    output_depths: list[int]  # one per core decoder (trio: melody, bass, drums)
    z_size: int
    enc_units: list[int]  # flat: [units]; hierarchical: [bar level, song level]
    dec_units: list[int]  # core decoder LSTM layers
    conductor_units: list[int] = field(default_factory=list)
    has_sigma: bool = False

    @property
    def hierarchical(self) -> bool:
        return self.num_segments > 0

    @property
    def steps_per_segment(self) -> int:
        return self.num_steps // self.num_segments if self.num_segments else self.num_steps


@dataclass
class MagentaCheckpoint:
    folder: Path
    config: dict[str, Any]
    weights: dict[str, np.ndarray]
    arch: MagentaArch

    def codec_config(self) -> dict[str, Any]:
        """The ``codec`` block of our bundle for this checkpoint's data converter."""
        return codec_config_for(self.config["dataConverter"])


def _lstm_layers(weights: dict[str, np.ndarray], prefix_format: str) -> list[str]:
    """Prefixes ``..cell_N/lstm_cell/`` present in order, as Magenta.js' getLstmLayers finds."""
    prefixes = []
    while (prefix := prefix_format.replace("%d", str(len(prefixes)))) + "kernel" in weights:
        prefixes.append(prefix)
    return prefixes


def decoder_prefixes(arch_converter: str, hierarchical: bool) -> list[str]:
    base = "core_decoder/" if hierarchical else ""
    if arch_converter == "TrioConverter":
        return [f"{base}core_decoder_{i}/decoder/" for i in range(3)]
    return [f"{base}decoder/"]


def codec_config_for(spec: dict[str, Any]) -> dict[str, Any]:
    kind, args = spec["type"], spec.get("args", {})
    if kind == "MelodyConverter":
        return {"name": "melody", "min_pitch": int(args["minPitch"]),
                "max_pitch": int(args["maxPitch"])}
    if kind == "DrumsConverter":
        # Magenta.js' own default table (an older one than note_seq's current mapping: 43 is a
        # high tom there, 22/26 are unmapped), since that is what the checkpoint was used with.
        classes = args.get("pitchClasses") or DEFAULT_DRUM_PITCH_CLASSES
        return {"name": "drums", "pitch_classes": [[int(p) for p in c] for c in classes]}
    if kind == "TrioConverter":
        mel, bass = args["melArgs"], args["bassArgs"]
        if (mel["minPitch"], mel["maxPitch"]) != (bass["minPitch"], bass["maxPitch"]):
            raise MagentaImportError("trio models with different melody and bass ranges are not "
                               "supported (our trio codec has one range)")
        classes = (args.get("drumsArgs") or {}).get("pitchClasses") or DEFAULT_DRUM_PITCH_CLASSES
        # Magenta's TrioConverter feeds the drums to the encoder as the 512-way one-hot
        return {"name": "trio", "min_pitch": int(mel["minPitch"]),
                "max_pitch": int(mel["maxPitch"]), "drums_input": "one_hot",
                "drum_pitch_classes": [[int(p) for p in c] for c in classes]}
    if kind == "GrooveConverter":
        # Magenta.js reads and names the hits with one table (its default unless the config
        # gives one), for the user's clips as for decoded hits: both of our codec's tables.
        # tapify: every note a hit on TAPIFY_CHANNEL, velocity flat, timing kept (= our "tap");
        # humanize: the hits only (= our "humanize"); neither: the performance ("full").
        classes = [[int(p) for p in c] for c in
                   (args.get("pitchClasses") or DEFAULT_DRUM_PITCH_CLASSES)]
        transform = ("tap" if args.get("tapify") else "humanize" if args.get("humanize")
                     else "full")
        return {"name": "groove", "steps_per_quarter": int(args.get("stepsPerQuarter") or 4),
                "input_transform": transform, "tap_class": TAPIFY_CHANNEL,
                "pitch_classes": classes, "inference_pitch_classes": classes}
    raise MagentaImportError(f"data converter {kind} is not supported")


def _shape(weights, name, folder) -> tuple[int, ...]:
    if name not in weights:
        raise MagentaImportError(f"{folder}: variable {name} is missing")
    return tuple(weights[name].shape)


def infer_arch(folder: Path, config: dict[str, Any], weights: dict[str, np.ndarray]) -> MagentaArch:
    spec = config["dataConverter"]
    kind, args = spec["type"], spec.get("args", {})
    num_steps, num_segments = int(args.get("numSteps") or 0), int(args.get("numSegments") or 0)
    if num_steps <= 0:
        raise MagentaImportError(f"{folder / CONFIG}: dataConverter.args.numSteps is missing")
    if num_segments and num_steps % num_segments:
        raise MagentaImportError(f"{folder / CONFIG}: numSteps {num_steps} is not a multiple of "
                           f"numSegments {num_segments}")
    if kind == "GrooveConverter" and num_segments:
        raise MagentaImportError("hierarchical GrooVAE models (GrooveConverter with numSegments) "
                                 "are not supported: latentbridge's GrooVAE is flat")
    if kind == "TrioConverter" and not num_segments:
        # Magenta.js runs a flat TrioConverter model (three split decoders, no conductor);
        # latentbridge's trio bundle is hierarchical only.
        raise MagentaImportError("flat trio models (TrioConverter without numSegments) are not "
                                 "supported by latentbridge: only the hierarchical trio is")
    mu_in, z_size = _shape(weights, "encoder/mu/kernel", folder)

    if num_segments:
        enc_prefixes = [_lstm_layers(weights, ENC_HIER.format(dir=d)) for d in ("fw", "bw")]
        if len(enc_prefixes[0]) != 2 or len(enc_prefixes[1]) != 2:
            raise MagentaImportError(f"{folder}: a hierarchical checkpoint needs a 2-level encoder "
                               f"(found {len(enc_prefixes[0])} forward levels)")
    else:
        enc_prefixes = [_lstm_layers(weights, ENC_FLAT.format(dir=d)) for d in ("fw", "bw")]
        if len(enc_prefixes[0]) != 1 or len(enc_prefixes[1]) != 1:
            raise MagentaImportError(f"{folder}: expected a single-layer bidirectional encoder "
                               f"(found {len(enc_prefixes[0])} forward layers)")
    enc_units = [weights[p + "bias"].shape[0] // 4 for p in enc_prefixes[0]]
    input_depth = weights[enc_prefixes[0][0] + "kernel"].shape[0] - enc_units[0]
    if mu_in != 2 * enc_units[-1]:
        raise MagentaImportError(f"{folder}: encoder/mu/kernel has {mu_in} inputs, the encoder gives "
                           f"{2 * enc_units[-1]}")

    output_depths, dec_units = [], None
    for prefix in decoder_prefixes(kind, bool(num_segments)):
        layers = _lstm_layers(weights, prefix + "multi_rnn_cell/cell_%d/lstm_cell/")
        if not layers:
            raise MagentaImportError(f"{folder}: no decoder LSTM under {prefix}")
        if f"{prefix}nade/w_enc" in weights:
            raise MagentaImportError("NADE decoders (drum-roll models) are not supported")
        units = [weights[p + "bias"].shape[0] // 4 for p in layers]
        if dec_units is not None and units != dec_units:
            raise MagentaImportError(f"{folder}: core decoders of different sizes are not supported")
        dec_units = units
        output_depths.append(_shape(weights, prefix + "output_projection/bias", folder)[0])
        cond = _shape(weights, prefix + "z_to_initial_state/kernel", folder)[0]
        reads = weights[layers[0] + "kernel"].shape[0] - units[0]
        if reads != output_depths[-1] + cond:
            # extra decoder inputs are control signals (chords, rhythm, shape, ...)
            raise MagentaImportError(f"{folder}: the decoder reads {reads} values per step, not "
                               f"{output_depths[-1]} + {cond}: conditioned models (control "
                               "inputs) are not supported")

    conductor_units = []
    if num_segments:
        conductor = _lstm_layers(weights, CONDUCTOR + "cell_%d/lstm_cell/")
        if not conductor:
            raise MagentaImportError(f"{folder}: no conductor LSTM under {CONDUCTOR}")
        conductor_units = [weights[p + "bias"].shape[0] // 4 for p in conductor]
    arch = MagentaArch(
        converter=kind, num_steps=num_steps, num_segments=num_segments, input_depth=input_depth,
        output_depths=output_depths, z_size=z_size, enc_units=enc_units, dec_units=dec_units,
        conductor_units=conductor_units, has_sigma="encoder/sigma/kernel" in weights)
    _check_depths(folder, arch, spec)
    return arch


def _check_depths(folder: Path, arch: MagentaArch, spec: dict[str, Any]) -> None:
    args = spec.get("args", {})
    if arch.converter == "MelodyConverter":
        expected_out = [int(args["maxPitch"]) - int(args["minPitch"]) + 3]
        expected_in = expected_out[0]
    elif arch.converter == "DrumsConverter":
        expected_out, expected_in = [512], 10
    elif arch.converter == "GrooveConverter":   # hits | velocities | offsets per drum class
        classes = len(args.get("pitchClasses") or DEFAULT_DRUM_PITCH_CLASSES)
        expected_out, expected_in = [3 * classes], 3 * classes
    else:
        mel = int(args["melArgs"]["maxPitch"]) - int(args["melArgs"]["minPitch"]) + 3
        bass = int(args["bassArgs"]["maxPitch"]) - int(args["bassArgs"]["minPitch"]) + 3
        expected_out, expected_in = [mel, bass, 512], mel + bass + 512
    if arch.output_depths != expected_out:
        raise MagentaImportError(f"{folder}: output projections give {arch.output_depths} classes, "
                           f"{arch.converter} needs {expected_out}")
    if arch.input_depth != expected_in:
        raise MagentaImportError(f"{folder}: the encoder reads {arch.input_depth} values per step, "
                           f"{arch.converter} gives {expected_in}")


def check_config(config, where: str | os.PathLike = CONFIG) -> None:
    """Refuse (MagentaImportError, one line) a ``config.json`` this importer cannot take: not a
    MusicVAE, chord-conditioned, or a data converter we have no codec for. Needs no weights, so
    a download checks it before fetching any."""
    if not isinstance(config, dict) or config.get("type") != "MusicVAE":
        raise MagentaImportError(f"{where}: type is {config.get('type')!r}, not 'MusicVAE'"
                                 if isinstance(config, dict) else f"{where}: not an object")
    if config.get("chordEncoder"):
        raise MagentaImportError("chord-conditioned models (chordEncoder "
                                 f"{config['chordEncoder']}) are not supported")
    spec = config.get("dataConverter")
    if not isinstance(spec, dict) or "type" not in spec:
        raise MagentaImportError(f"{where}: dataConverter is missing")
    if spec["type"] in UNSUPPORTED_CONVERTERS:
        raise MagentaImportError(f"{spec['type']}: {UNSUPPORTED_CONVERTERS[spec['type']]}")
    if spec["type"] not in SUPPORTED_CONVERTERS:
        raise MagentaImportError(f"unknown data converter {spec['type']!r} (supported: "
                                 f"{', '.join(SUPPORTED_CONVERTERS)})")
    if config.get("extraControls") or config.get("conditionOnKey"):
        raise MagentaImportError("conditioned models (control inputs: extraControls, "
                                 "conditionOnKey) are not supported")
    if spec["type"] == "GrooveConverter":
        _check_groove_args(spec.get("args") or {}, where)


def _check_groove_args(args: dict[str, Any], where) -> None:
    """What of Magenta.js' GrooveConverterArgs our groove codec represents (one line if not)."""
    if args.get("splitInstruments"):
        raise MagentaImportError("GrooveConverter with splitInstruments (one drum per model step) "
                                 "is not supported")
    if args.get("humanize") and args.get("tapify"):
        raise MagentaImportError("GrooveConverter with both humanize and tapify (taps without "
                                 "timing) is not supported")
    if int(args.get("stepsPerQuarter") or 4) != 4:
        raise MagentaImportError(f"{where}: GrooveConverter stepsPerQuarter "
                                 f"{args['stepsPerQuarter']}: only 4 (16ths) is supported")
    if int(args.get("numSteps") or 0) % 16:
        raise MagentaImportError(f"{where}: GrooveConverter numSteps {args['numSteps']} is not a "
                                 "whole number of 4/4 bars of 16ths")


def load_checkpoint(folder: str | os.PathLike) -> MagentaCheckpoint:
    """Read and validate a Magenta.js MusicVAE checkpoint folder (raises MagentaImportError)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MagentaImportError(f"{folder}: not a folder")
    try:
        config = json.loads((folder / CONFIG).read_text())
    except FileNotFoundError:
        raise MagentaImportError(f"{folder / CONFIG}: missing (not a Magenta.js checkpoint folder?)")
    except (OSError, ValueError) as exc:
        raise MagentaImportError(f"{folder / CONFIG}: unreadable JSON ({exc})")
    check_config(config, folder / CONFIG)
    weights = read_tfjs_weights(folder)
    broken = next((n for n, w in weights.items() if not np.isfinite(w).all()), None)
    if broken:
        raise MagentaImportError(f"{folder}: {broken} holds NaN or infinite values (a corrupt "
                                 "shard?)")
    try:
        arch = infer_arch(folder, config, weights)
    except KeyError as exc:
        raise MagentaImportError(f"{folder / CONFIG}: dataConverter.args lacks {exc}")
    return MagentaCheckpoint(folder=folder, config=config, weights=weights, arch=arch)


# -- TF layouts -> torch layouts --------------------------------------------------------------

def tf_lstm_to_torch(kernel: np.ndarray, bias: np.ndarray, forget_bias: float = FORGET_BIAS):
    """TF ``[in + H, 4H]`` kernel (gates i, j, f, o) and bias -> torch ``weight_ih [4H, in]``,
    ``weight_hh [4H, H]``, ``bias_ih [4H]``, ``bias_hh [4H]`` (gates i, f, g, o). The forget
    bias TF adds at run time is folded into ``bias_ih``."""
    units = bias.shape[0] // 4
    i, j, f, o = np.split(kernel, 4, axis=1)
    bi, bj, bf, bo = np.split(bias, 4)
    weight = np.concatenate([i, f, j, o], axis=1).T  # [4H, in + H]
    in_size = kernel.shape[0] - units
    b = np.concatenate([bi, bf + np.float32(forget_bias), bj, bo]).astype(np.float32)
    return (np.ascontiguousarray(weight[:, :in_size]), np.ascontiguousarray(weight[:, in_size:]),
            b, np.zeros_like(b))


def torch_lstm_to_tf(weight_ih, weight_hh, bias_ih, bias_hh, forget_bias: float = FORGET_BIAS):
    """Inverse of :func:`tf_lstm_to_torch` (for writing checkpoints in Magenta.js' layout)."""
    weight = np.concatenate([weight_ih, weight_hh], axis=1).T  # [in + H, 4H], gates i f g o
    i, f, g, o = np.split(weight, 4, axis=1)
    b = np.asarray(bias_ih) + np.asarray(bias_hh)
    bi, bf, bg, bo = np.split(b, 4)
    return (np.ascontiguousarray(np.concatenate([i, g, f, o], axis=1), dtype=np.float32),
            np.concatenate([bi, bg, bf - np.float32(forget_bias), bo]).astype(np.float32))


# -- checkpoint -> our PyTorch MusicVAE -------------------------------------------------------

def model_config(arch: MagentaArch):
    """Our :class:`~training.models.musicvae.MusicVAEConfig` for a Magenta.js architecture (a
    :class:`~training.models.groovae.GrooVAEConfig` for a GrooVAE: no dropout, and the feedback
    of Magenta's GrooveLstmDecoder, every drum's velocity and offset)."""
    from training.models.groovae import GrooVAEConfig
    from training.models.musicvae import MusicVAEConfig

    if len(set(arch.dec_units)) != 1:
        raise MagentaImportError(f"decoder layers of different sizes {arch.dec_units} are not supported")
    if arch.hierarchical and arch.conductor_units != arch.dec_units:
        raise MagentaImportError(f"conductor {arch.conductor_units} and decoder {arch.dec_units} sizes "
                           "differ (our conductor has the decoder's sizes, as in Magenta)")
    groove = arch.converter == "GrooveConverter"
    config = (GrooVAEConfig if groove else MusicVAEConfig)(
        **({"feedback_mask": "none"} if groove else {}),
        z_size=arch.z_size, input_depth=arch.input_depth, output_depths=list(arch.output_depths),
        max_seq_len=arch.num_steps, enc_rnn_size=list(arch.enc_units[:1]),
        dec_rnn_size=list(arch.dec_units),
        level_lengths=[arch.num_segments, arch.steps_per_segment] if arch.hierarchical else [],
        split_decoders=len(arch.output_depths) > 1)
    if arch.hierarchical:
        if not hasattr(config, "enc_level_lengths"):
            raise MagentaImportError("hierarchical checkpoints need a hierarchical encoder, which this "
                               "version of training.models.musicvae lacks")
        config.enc_rnn_size = list(arch.enc_units)
        config.enc_level_lengths = [arch.num_segments, arch.steps_per_segment]
    return config


def torch_state_dict(ckpt: MagentaCheckpoint) -> dict[str, np.ndarray]:
    """Our parameter names -> arrays, renamed and re-laid out from the TF variables."""
    w, arch = ckpt.weights, ckpt.arch
    out: dict[str, np.ndarray] = {}

    def lstm(target: str, tf_prefix: str, layer: int = 0) -> None:
        wi, wh, bi, bh = tf_lstm_to_torch(w[tf_prefix + "kernel"], w[tf_prefix + "bias"])
        out.update({f"{target}.weight_ih_l{layer}": wi, f"{target}.weight_hh_l{layer}": wh,
                    f"{target}.bias_ih_l{layer}": bi, f"{target}.bias_hh_l{layer}": bh})

    def dense(target: str, tf_prefix: str) -> None:
        out[f"{target}.weight"] = np.ascontiguousarray(w[tf_prefix + "kernel"].T)
        out[f"{target}.bias"] = w[tf_prefix + "bias"]

    if arch.hierarchical:
        for level in range(2):
            for d in ("fw", "bw"):
                lstm(f"encoder.levels.{level}.{d}.0", ENC_HIER.replace("%d", str(level))
                     .format(dir=d))
    else:
        for d in ("fw", "bw"):
            lstm(f"encoder.{d}.0", ENC_FLAT.replace("%d", "0").format(dir=d))
    dense("mu", "encoder/mu/")
    if arch.has_sigma:
        dense("sigma", "encoder/sigma/")
    else:  # Magenta.js never uses sigma; keep ours neutral: softplus(0) for every example
        out["sigma.weight"] = np.zeros((arch.z_size, 2 * arch.enc_units[-1]), np.float32)
        out["sigma.bias"] = np.zeros(arch.z_size, np.float32)
    for k, prefix in enumerate(decoder_prefixes(arch.converter, arch.hierarchical)):
        for layer in range(len(arch.dec_units)):
            lstm(f"decoders.{k}.lstm", f"{prefix}multi_rnn_cell/cell_{layer}/lstm_cell/", layer)
        dense(f"decoders.{k}.initial_state", f"{prefix}z_to_initial_state/")
        dense(f"decoders.{k}.output_projection", f"{prefix}output_projection/")
    if arch.hierarchical:
        for layer in range(len(arch.conductor_units)):
            lstm("conductor", f"{CONDUCTOR}cell_{layer}/lstm_cell/", layer)
        dense("conductor_initial_state", f"{CONDUCTOR}initial_state/")
    return out


def convert(ckpt: MagentaCheckpoint):
    """Our MusicVAE (eval mode, float32) holding the checkpoint's weights exactly."""
    import torch

    from training.models import build_model

    model = build_model(model_config(ckpt.arch)).eval()
    ours = model.state_dict()
    theirs = torch_state_dict(ckpt)
    missing = sorted(set(ours) - set(theirs))
    unexpected = sorted(set(theirs) - set(ours))
    if missing or unexpected:
        raise MagentaImportError(f"parameter names do not match our MusicVAE (missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]})")
    for name, value in theirs.items():
        if tuple(ours[name].shape) != value.shape:
            raise MagentaImportError(f"{name}: shape {value.shape} from the checkpoint, our model has "
                               f"{tuple(ours[name].shape)}")
    model.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in
                           theirs.items()})
    return model


# -- bundle -----------------------------------------------------------------------------------

def prior_windows(model, count: int = 16, seed: int = 0, codec=None) -> np.ndarray:
    """Argmax decodes of ``count`` seeded prior samples: token windows for the export's checks
    when no dataset is given (an imported model comes without its training data). A GrooVAE's
    decodes (hits at the 0.5 threshold) become tokens through its ``codec``."""
    import torch

    from runtime.decoding import decoding_for

    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(count, model.config.z_size, generator=generator)
    values = model.sample(z, temperature=0.0).numpy()
    return decoding_for(model.decoding_kind).to_tokens(codec, values)   # a groove's: rounded


def import_bundle(checkpoint_dir, out_dir, name: str | None = None, valid_tokens=None,
                  progress: bool = False, source: dict[str, Any] | None = None) -> Path:
    """Convert a Magenta.js checkpoint folder and export it as a verified bundle in ``out_dir``
    (``source``: where it was downloaded from, recorded in model.json's ``data``)."""
    from runtime.codecs import codec_from_config
    from training.export import export_bundle

    ckpt = load_checkpoint(checkpoint_dir)
    model = convert(ckpt)
    codec = codec_from_config(ckpt.codec_config())
    arch = ckpt.arch
    if valid_tokens is None:
        valid_tokens = prior_windows(model, codec=codec)
    data = {"source": "magenta.js checkpoint", "path": str(Path(checkpoint_dir).resolve()),
            "converter": ckpt.config["dataConverter"],
            "validation_windows": "argmax decodes of seeded prior samples", **(source or {})}
    return export_bundle(model, out_dir, name=name or Path(out_dir).name, codec=codec,
                         valid_tokens=np.asarray(valid_tokens), bars=arch.num_steps // 16,
                         steps_per_bar=16, data=data,
                         training={"imported_from": "magenta.js", "arch": asdict(arch)},
                         progress=progress)


def save_torch_checkpoint(ckpt: MagentaCheckpoint, model, path) -> Path:
    """``{"model_config", "model_state", "codec", "imported_from"}`` as a .pt, atomically."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save({"model_config": asdict(model.config), "model_state": model.state_dict(),
                    "codec": ckpt.codec_config(), "imported_from": str(ckpt.folder),
                    "arch": asdict(ckpt.arch)}, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def fetch(source: str, mirror: str | None = None, progress: bool = False) -> tuple[Path, dict]:
    """The checkpoint folder for ``source`` and where it came from: a local folder as it is; a
    published name (training.magenta_catalog) or an http(s) URL downloaded into the cache
    (training.download), the model's config checked before any weights are fetched. Raises
    MagentaImportError, CatalogError or DownloadError (one line each)."""
    from training.download import checkpoint_folder_url, download_checkpoint
    from training.magenta_catalog import checkpoint_url, importable

    if Path(source).expanduser().is_dir():
        return Path(source).expanduser(), {}
    if source.lower().startswith(("http://", "https://")):
        url, expected, name = checkpoint_folder_url(source), None, None
    else:
        entry = importable(source)   # CatalogError for an unknown or unsupported name
        url, expected, name = checkpoint_url(entry, mirror), entry.size_mb, entry.name
    folder = download_checkpoint(url, expected_mb=expected, progress=progress,
                                 check_config=check_config)
    return folder, {"url": url, **({"published_name": name} if name else {})}


def default_name(source: str) -> str:
    """The bundle name for a source: a published name's id, else its last path element."""
    from training.magenta_catalog import find

    entry = find(source)
    if entry and not Path(source).expanduser().is_dir():
        return entry.name
    last = source.rstrip("/").rsplit("/", 1)[-1]
    for suffix in ("/" + CONFIG, "/" + MANIFEST):
        if source.rstrip("/").endswith(suffix):
            last = source.rstrip("/")[: -len(suffix)].rsplit("/", 1)[-1]
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in last).strip(".") or "magenta"


def build_parser():
    from runtime.cli import Parser

    parser = Parser(
        prog="python -m training.import_magenta",
        description="Import a Magenta.js MusicVAE checkpoint into a latentbridge model bundle: a "
                    "published one by name (--list shows them; downloaded on request into "
                    "$LB_CACHE or ~/.cache/latentbridge, resumably), any http(s) URL of such a "
                    "folder, or a local folder (config.json + weights_manifest.json + shards). "
                    "Without BUNDLE the bundle goes to the imported-models folder ($LB_MODELS, "
                    "default ~/.local/share/latentbridge/models), where the bridge, the device "
                    "and render find it by name.",
        examples=["python -m training.import_magenta --list",
                  "python -m training.import_magenta mel_2bar_small",
                  "python -m training.import_magenta drums_2bar_hikl_small bundles/drums_hikl",
                  "python -m training.import_magenta https://example.org/ckpt/my_vae my_vae",
                  "python -m training.import_magenta ~/checkpoints/mel_2bar_small -o mel.pt "
                  "--pt-only"])
    parser.add_argument("source", nargs="?", metavar="NAME_OR_URL",
                        help="a name from --list, an http(s) URL of a checkpoint folder, or a "
                             "local checkpoint folder")
    parser.add_argument("bundle", nargs="?", metavar="BUNDLE",
                        help="bundle folder to write (or a .pt file with --pt-only); default: "
                             "the imported-models folder / NAME")
    parser.add_argument("-o", "--out", metavar="BUNDLE", help="the same as BUNDLE")
    parser.add_argument("--name", help="bundle name (default: the published name, or the "
                                       "bundle folder's name)")
    parser.add_argument("--list", action="store_true",
                        help="list the checkpoints Magenta.js publishes, their sizes and whether "
                             "they import, and exit (no network)")
    parser.add_argument("--mirror", metavar="URL",
                        help="fetch published names from this mirror of Magenta.js' checkpoint "
                             "folder instead of storage.googleapis.com (default: "
                             "$LB_MAGENTA_MIRROR if set)")
    parser.add_argument("--download-only", action="store_true",
                        help="download into the cache, print the folder and exit (no torch)")
    parser.add_argument("--pt-only", action="store_true",
                        help="write only a PyTorch checkpoint (.pt), no ONNX export")
    parser.add_argument("--info", action="store_true",
                        help="print the architecture the checkpoint holds and exit")
    return parser


def main(argv=None) -> int:
    from runtime.cli import fail
    from training.download import DownloadError
    from training.magenta_catalog import CatalogError, format_list

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        print(format_list())
        return 0
    if not args.source:
        parser.error("NAME_OR_URL is required (a name from --list, a URL or a folder)")
    if args.out and args.bundle and args.out != args.bundle:
        parser.error("give the bundle once: BUNDLE or -o/--out")
    if args.pt_only and not (args.out or args.bundle):
        parser.error("--pt-only needs the .pt file to write (BUNDLE or -o)")
    try:
        folder, source = fetch(args.source, args.mirror, progress=True)
        if args.download_only:
            print(folder)
            return 0
        # validate first: a bad folder is reported before torch is even imported
        ckpt = load_checkpoint(folder)
        if args.info:
            print(json.dumps({"arch": asdict(ckpt.arch), "codec": ckpt.codec_config()}, indent=1))
            return 0
        out = args.out or args.bundle
        if out is None:
            from runtime.bundle import shipped_models, user_models_dir

            installed = args.name or default_name(args.source)
            if installed in shipped_models():
                raise MagentaImportError(f"{installed}: a shipped model has that name; pass "
                                         "--name or a BUNDLE folder")
            out = user_models_dir() / installed
        import torch

        if not os.environ.get("OMP_NUM_THREADS"):   # else torch took the user's count
            torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
        if args.pt_only:
            print(f"wrote {save_torch_checkpoint(ckpt, convert(ckpt), out)}")
            return 0
        from runtime.bundle import BundleError
        from training.export import ExportError

        name = args.name or (None if args.out or args.bundle else default_name(args.source))
        try:   # the export's bars on a terminal only: a log keeps its one line per failure
            out = import_bundle(folder, out, name=name, progress=sys.stderr.isatty(),
                                source=source)
        except (ExportError, BundleError) as exc:
            raise MagentaImportError(f"export failed: {exc}") from None
        except (RuntimeError, ValueError) as exc:  # torch/onnx complaints: keep to one line
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise MagentaImportError(f"export failed: {first[:300]}") from None
    except (MagentaImportError, CatalogError, DownloadError) as exc:
        return fail(exc)
    except OSError as exc:
        return fail(f"{exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}")
    except KeyboardInterrupt:
        return fail("interrupted (a download resumes where it stopped)", 130)
    meta = json.loads((Path(out) / "model.json").read_text())
    print(f"wrote {out} (kind {meta['kind']}, {meta['bars']} bars, z {meta['z_size']}, "
          f"codec {meta['codec']['name']})")
    if not (args.out or args.bundle):
        # what to try first: the tool a groove model's input serves (render's subcommands)
        tool = {"humanize": "groove IN.mid", "tap": "drumify IN.mid"}.get(
            meta["codec"].get("input_transform"), "sample")
        print(f"load it by name: {meta['name']} (the bridge's and the device's model menu, "
              f"python -m runtime.render {tool} --model {meta['name']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
