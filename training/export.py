"""Export a trained checkpoint to a model bundle: ONNX step graphs + model.json, self-verified.

    $ python -m training.export runs/mel_2bar/checkpoint.pt runtime/models/mel_2bar
    $ python -m training.export CHECKPOINT OUT_DIR --name mel_2bar --data data/mel_2bar

or from Python, with a model in memory::

    >>> from training.export import export_bundle
    >>> export_bundle(model, "out/mel_2bar", name="mel_2bar", codec=codec, bars=2,
    ...               valid_tokens=windows)       # real windows: parity checks + eval figures

What gets written (docs/bundle.md has the schema): ``encoder.onnx``; ``decoder_init.onnx`` and
``decoder_step.onnx`` (ONE step: previous token input, conditioning and recurrent state in,
logits and state out, batch axis dynamic); ``conductor_init.onnx``/``conductor_step.onnx`` for
hierarchical models; ``decoder_step_{dt,t,p}.onnx`` for the note-unrolling model; and
``model.json``. Sampling stays outside the graphs (runtime/sampling.py).

The export verifies itself before anything lands in ``OUT_DIR``: ``onnx.checker`` on every
graph; ONNX vs PyTorch on real inputs for every graph and every decoder step (max abs diff); and
a whole free-running argmax rollout through the torch-free runtime engine against the PyTorch
rollout (tokens must be identical). Files are written to a temporary folder next to ``OUT_DIR``
and renamed into place only when all checks pass.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from runtime.bundle import FORMAT_VERSION, BundleError, sha256
from runtime.codecs import Codec, codec_from_config

#: parity tolerances: ONNX and PyTorch run the same float32 math in a different order
TOLERANCE = 1e-3
#: batch size of the example inputs; odd and unusual so the batch axis of a state is findable
EXAMPLE_BATCH = 7
OPSET = 17


class ExportError(RuntimeError):
    """The export failed or did not verify; one line for the user."""


# ---------------------------------------------------------------------------------------------
# Graph wrappers: each step function becomes a module with flat tensor inputs and outputs.


class _Step(nn.Module):
    """Wrap ``fn(*fixed_args, state_tuple) -> (out, state_tuple)`` (or ``-> state_tuple``) so that
    ONNX sees flat tensors: inputs ``fixed..., state0..K``, outputs ``out, state0_out..K``."""

    def __init__(self, model: nn.Module, fn: Callable, n_fixed: int, has_state_in: bool):
        super().__init__()
        self.model, self.fn, self.n_fixed, self.has_state_in = model, fn, n_fixed, has_state_in

    def forward(self, *args):
        fixed, state = args[: self.n_fixed], tuple(args[self.n_fixed:])
        result = self.fn(*fixed, state) if self.has_state_in else self.fn(*fixed)
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], (tuple, list)):
            return (result[0], *result[1])
        return tuple(result) if isinstance(result, (tuple, list)) else result


@dataclass
class Graph:
    """One ONNX file to write: which step function, its example inputs and io names."""

    key: str
    module: nn.Module
    args: tuple
    inputs: list[str]
    outputs: list[str]
    #: input/output name -> the axis that is the batch (dynamic); time axes too where dynamic
    dynamic: dict[str, dict[int, str]] = field(default_factory=dict)


def _state_names(n: int, suffix: str = "") -> list[str]:
    return [f"state{i}{suffix}" for i in range(n)]


def _batch_axis(t: torch.Tensor) -> int:
    axes = [i for i, s in enumerate(t.shape) if s == EXAMPLE_BATCH]
    return axes[0] if len(axes) == 1 else (1 if t.dim() == 3 else 0)


def _dyn(names, tensors) -> dict[str, dict[int, str]]:
    return {n: {_batch_axis(t): "batch"} for n, t in zip(names, tensors)}


def model_kind(model: nn.Module) -> str:
    """'note_events' (seed 000), 'hierarchical' (has a conductor) or 'flat'."""
    if hasattr(model, "decoder_step_dt"):
        return "note_events"
    if getattr(model, "hierarchical", False) or (
            hasattr(model, "conductor_step") and getattr(model, "conductor", None) is not None):
        return "hierarchical"
    return "flat"


@torch.no_grad()
def build_graphs(model: nn.Module, kind: str, example_inputs: torch.Tensor,
                 lengths: torch.Tensor, z_size: int) -> list[Graph]:
    """The graphs of ``kind`` with real example inputs ``example_inputs[EXAMPLE_BATCH, ...]``."""
    B = example_inputs.shape[0]
    mu, _ = model.encode(example_inputs, lengths)
    z = mu.float()
    graphs = [Graph("encoder", _Step(model, model.encode, 2, False), (example_inputs, lengths),
                    ["inputs", "lengths"], ["mu", "sigma"],
                    {"inputs": {0: "batch", 1: "time"} if kind == "note_events" else {0: "batch"},
                     "lengths": {0: "batch"}, "mu": {0: "batch"}, "sigma": {0: "batch"}})]
    if kind == "note_events":
        state = model.decoder_init(z)
        n = len(state)
        s_in, s_out = _state_names(n), _state_names(n, "_out")
        prev = model.start_note(B)
        logits, state_dt = model.decoder_step_dt(prev, z, state)
        dt = logits.argmax(-1)
        logits, state_t = model.decoder_step_t(dt, state_dt)
        t = logits.argmax(-1)
        graphs += [
            Graph("decoder_init", _Step(model, model.decoder_init, 1, False), (z,), ["z"], s_in,
                  {"z": {0: "batch"}, **_dyn(s_in, state)}),
            Graph("decoder_step_dt", _Step(model, model.decoder_step_dt, 2, True),
                  (prev, z, *state), ["prev", "z", *s_in], ["logits", *s_out],
                  {"prev": {0: "batch"}, "z": {0: "batch"}, "logits": {0: "batch"},
                   **_dyn(s_in, state), **_dyn(s_out, state)}),
            Graph("decoder_step_t", _Step(model, model.decoder_step_t, 1, True),
                  (dt, *state_dt), ["dt", *s_in], ["logits", *s_out],
                  {"dt": {0: "batch"}, "logits": {0: "batch"}, **_dyn(s_in, state), **_dyn(s_out, state)}),
            Graph("decoder_step_p", _Step(model, model.decoder_step_p, 2, True),
                  (dt, t, *state_t), ["dt", "t", *s_in], ["logits", *s_out],
                  {"dt": {0: "batch"}, "t": {0: "batch"}, "logits": {0: "batch"},
                   **_dyn(s_in, state), **_dyn(s_out, state)}),
        ]
        return graphs
    cond = z
    if kind == "hierarchical":
        c_state = model.conductor_init(z)
        n = len(c_state)
        s_in, s_out = _state_names(n), _state_names(n, "_out")
        cond, _ = model.conductor_step(c_state)
        graphs += [
            Graph("conductor_init", _Step(model, model.conductor_init, 1, False), (z,), ["z"], s_in,
                  {"z": {0: "batch"}, **_dyn(s_in, c_state)}),
            Graph("conductor_step", _Step(model, model.conductor_step, 0, True), tuple(c_state),
                  s_in, ["embedding", *s_out],
                  {"embedding": {0: "batch"}, **_dyn(s_in, c_state), **_dyn(s_out, c_state)}),
        ]
    state = model.decoder_init(cond)
    n = len(state)
    s_in, s_out = _state_names(n), _state_names(n, "_out")
    prev = torch.zeros(B, _feedback_depth(model))
    graphs += [
        Graph("decoder_init", _Step(model, model.decoder_init, 1, False), (cond,), ["cond"], s_in,
              {"cond": {0: "batch"}, **_dyn(s_in, state)}),
        Graph("decoder_step", _Step(model, model.decoder_step, 2, True), (prev, cond, *state),
              ["prev", "cond", *s_in], ["logits", *s_out],
              {"prev": {0: "batch"}, "cond": {0: "batch"}, "logits": {0: "batch"},
               **_dyn(s_in, state), **_dyn(s_out, state)}),
    ]
    return graphs


def _feedback_depth(model: nn.Module) -> int:
    """Width of the decoder's ``prev`` input: the one-hot of the output token(s) (MusicVAE)."""
    return int(sum(model.part_depths))


def _feedback(model: nn.Module, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax tokens [B, K] per part and their one-hot, as ``MusicVAE.sample`` feeds back."""
    tokens = model.choose(logits, 0.0)
    return tokens, model.one_hot(tokens)


def _export_one(graph: Graph, path: Path) -> None:
    """torch.onnx.export with the TorchScript exporter (fast, one self-contained file); the
    dynamo exporter is the fallback for modules the TorchScript tracer cannot handle."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(graph.module, graph.args, str(path), input_names=graph.inputs,
                              output_names=graph.outputs, dynamic_axes=graph.dynamic,
                              opset_version=OPSET, dynamo=False, do_constant_folding=True)
        except Exception as first:  # noqa: BLE001 - fall back, then report the first failure
            try:
                torch.onnx.export(graph.module, graph.args, str(path), input_names=graph.inputs,
                                  output_names=graph.outputs, dynamo=True, external_data=False,
                                  dynamic_shapes=None, opset_version=18)
            except Exception:  # noqa: BLE001
                raise ExportError(f"{graph.key}: torch.onnx.export failed "
                                  f"({str(first).splitlines()[0][:200]})") from None


def _io_spec(path: Path) -> tuple[list[dict], list[dict]]:
    """Names, shapes (ints, or a name for a dynamic axis) and dtypes from the written graph."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    types = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT64: "int64",
             onnx.TensorProto.FLOAT16: "float16", onnx.TensorProto.INT32: "int32"}
    initializers = {i.name for i in model.graph.initializer}

    def spec(values):
        out = []
        for v in values:
            if v.name in initializers:
                continue
            t = v.type.tensor_type
            shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]
            out.append({"name": v.name, "shape": shape, "dtype": types.get(t.elem_type, str(t.elem_type))})
        return out

    return spec(model.graph.input), spec(model.graph.output)


# ---------------------------------------------------------------------------------------------
# Verification


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@functools.lru_cache(maxsize=8)
def _session(path: Path):
    """One CPU session per written graph (cached: the step checks call it at every step)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def check_parity(graph: Graph, path: Path, args: tuple | None = None) -> float:
    """Max abs difference between the ONNX graph and the PyTorch module on the same inputs."""
    args = graph.args if args is None else args
    with torch.no_grad():
        expected = graph.module(*args)
    expected = expected if isinstance(expected, tuple) else (expected,)
    session = _session(path)
    present = {i.name for i in session.get_inputs()}
    got = session.run(None, {n: _np(a) for n, a in zip(graph.inputs, args) if n in present})
    diff = 0.0
    for e, g in zip(expected, got):
        e = _np(e)
        if e.shape != g.shape:
            raise ExportError(f"{path.name}: output shape {list(g.shape)} != PyTorch {list(e.shape)}")
        if e.size:
            diff = max(diff, float(np.abs(e.astype(np.float64) - g.astype(np.float64)).max()))
    return diff


@torch.no_grad()
def torch_rollout(model: nn.Module, kind: str, z: torch.Tensor, notes: int = 0) -> np.ndarray:
    """Greedy (argmax) rollout with the model's own sampler (written with its step functions):
    the reference the runtime engine must reproduce token for token."""
    if kind == "note_events":
        return _np(model.sample(z, notes, temperature=0.0))
    return _np(model.sample(z, temperature=0.0))


def _step_parity(model, kind, graphs: dict[str, Graph], folder: Path, z: torch.Tensor,
                 codec: Codec, steps: int) -> float:
    """ONNX vs PyTorch at every step of a greedy rollout, fed the same (PyTorch) inputs."""
    worst = 0.0
    with torch.no_grad():
        if kind == "note_events":
            state = model.decoder_init(z)
            prev = model.start_note(z.shape[0])
            for _ in range(steps):
                g = graphs["decoder_step_dt"]
                worst = max(worst, check_parity(g, folder / f"{g.key}.onnx", (prev, z, *state)))
                logits, state = model.decoder_step_dt(prev, z, state)
                dt = logits.argmax(-1)
                g = graphs["decoder_step_t"]
                worst = max(worst, check_parity(g, folder / f"{g.key}.onnx", (dt, *state)))
                logits, state = model.decoder_step_t(dt, state)
                t = logits.argmax(-1)
                g = graphs["decoder_step_p"]
                worst = max(worst, check_parity(g, folder / f"{g.key}.onnx", (dt, t, *state)))
                logits, state = model.decoder_step_p(dt, t, state)
                prev = torch.stack([dt, t, logits.argmax(-1)], -1)
            return worst
        cond = z
        if kind == "hierarchical":
            c_state = model.conductor_init(z)
            g = graphs["conductor_step"]
            worst = check_parity(g, folder / f"{g.key}.onnx", tuple(c_state))
            cond, _ = model.conductor_step(c_state)
        g = graphs["decoder_init"]
        worst = max(worst, check_parity(g, folder / f"{g.key}.onnx", (cond,)))
        state = model.decoder_init(cond)
        prev = torch.zeros(z.shape[0], _feedback_depth(model))
        step = graphs["decoder_step"]
        for _ in range(steps):
            worst = max(worst, check_parity(step, folder / "decoder_step.onnx", (prev, cond, *state)))
            logits, state = model.decoder_step(prev, cond, state)
            _, prev = _feedback(model, logits)
    return worst


# ---------------------------------------------------------------------------------------------
# The export


def _jsonable(value):
    if is_dataclass(value):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    return value


def _token_inputs(kind: str, codec: Codec, tokens: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    if kind == "note_events":
        x = torch.from_numpy(np.asarray(tokens, np.int64))
    else:
        x = torch.from_numpy(np.stack([codec.to_input(t) for t in tokens]).astype(np.float32))
    return x, torch.full((len(tokens),), tokens.shape[1], dtype=torch.int64)


def export_bundle(model: nn.Module, out_dir, *, name: str, codec: Codec, valid_tokens: np.ndarray,
                  bars: int | None = None, steps_per_bar: int = 16, kind: str | None = None,
                  data: dict | None = None, training: dict | None = None,
                  evaluation: dict | None = None, model_config: Any = None, notes: int = 0,
                  eval_windows: int = 256, progress: bool = False) -> Path:
    """Write a verified bundle for ``model`` to ``out_dir`` (atomically) and return its path.

    ``valid_tokens`` are real windows (codec tokens) from the validation split: they are the
    example inputs of the export, the inputs of the parity checks, and the data of the
    reconstruction accuracy recorded in ``evaluation``.
    """
    from runtime.engine import Engine

    started = time.time()
    model = model.eval().float()
    kind = kind or model_kind(model)
    valid_tokens = np.asarray(valid_tokens)
    if len(valid_tokens) < 1:
        raise ExportError("need at least one real validation window to verify the export")
    if kind == "note_events":
        notes = notes or valid_tokens.shape[1]
        bars = bars or 4
    elif bars is None:
        bars = valid_tokens.shape[1] // steps_per_bar
    examples = valid_tokens[np.arange(EXAMPLE_BATCH) % len(valid_tokens)]
    x, lengths = _token_inputs(kind, codec, examples)
    config = getattr(model, "config", None)
    z_size = int(getattr(config, "z_size", 0)) or int(model.encode(x[:1], lengths[:1])[0].shape[-1])
    output_depths = list(getattr(model, "part_depths", None) or getattr(codec, "output_depths", None)
                         or [codec.output_depth])

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        import onnx

        graphs = build_graphs(model, kind, x, lengths, z_size)
        by_key = {g.key: g for g in graphs}
        specs, parity = {}, {}
        for g in _progress(graphs, progress, "export"):
            path = tmp / f"{g.key}.onnx"
            _export_one(g, path)
            try:
                onnx.checker.check_model(str(path), full_check=True)
            except Exception as exc:  # noqa: BLE001 - onnx raises several types
                raise ExportError(f"{path.name}: onnx.checker failed ({str(exc).splitlines()[0]})") from None
            inputs, outputs = _io_spec(path)
            # An encoder that ignores ``lengths`` (fixed-size windows) loses that input in export.
            expected_inputs = [n for n in g.inputs if n != "lengths" or g.key != "encoder"
                               or "lengths" in [i["name"] for i in inputs]]
            if [i["name"] for i in inputs] != expected_inputs or [o["name"] for o in outputs] != g.outputs:
                raise ExportError(f"{path.name}: exported io names {[i['name'] for i in inputs]} -> "
                                  f"{[o['name'] for o in outputs]} differ from {g.inputs} -> {g.outputs}")
            specs[g.key] = {"file": path.name, "inputs": inputs, "outputs": outputs,
                            "sha256": sha256(path), "bytes": path.stat().st_size}
            parity[g.key] = check_parity(g, path)

        with torch.no_grad():
            z = model.encode(x, lengths)[0].float()
        rollout_steps = notes if kind == "note_events" else bars * steps_per_bar
        # every decoder step of a rollout (for hierarchical models: the first bar)
        parity_steps = notes if kind == "note_events" else (
            steps_per_bar if kind == "hierarchical" else rollout_steps)
        parity["decoder_rollout_steps"] = _step_parity(model, kind, by_key, tmp, z, codec, parity_steps)
        bad = {k: v for k, v in parity.items() if v > TOLERANCE}
        if bad:
            worst = max(bad, key=bad.get)
            raise ExportError(f"{worst}: ONNX differs from PyTorch by {bad[worst]:.2e} "
                              f"(tolerance {TOLERANCE:g})")

        decoding = {}
        if kind == "note_events":
            decoding = {"notes": int(notes), "start_note": model.start_note(1)[0].tolist()}
        elif kind == "hierarchical":
            decoding = {"feedback": "one_hot", "carry_prev_across_bars": True}
        else:
            decoding = {"feedback": "one_hot"}
        if kind != "note_events":
            names = list(getattr(codec, "part_names", ()) or ())
            tokens = np.asarray(valid_tokens)
            silent = [n for k, n in enumerate(names)
                      if tokens.ndim == 3 and k < tokens.shape[-1] and not tokens[..., k].any()]
            if silent:  # trained on data where these parts never play: they stay silent
                decoding["silent_parts"] = silent
        meta = {
            "format_version": FORMAT_VERSION,
            "name": name,
            "kind": kind,
            "codec": codec.config(),
            "steps_per_bar": int(steps_per_bar),
            "bars": int(bars),
            "z_size": z_size,
            "output_depths": output_depths,
            "decoding": decoding,
            "graphs": specs,
            "model": {"class": type(model).__name__, "config": _jsonable(config),
                      "parameters": int(sum(p.numel() for p in model.parameters()))},
            "data": _jsonable(data or {}),
            "training": _jsonable(training or {}),
            "evaluation": _jsonable(evaluation or {}),
            "export": {"torch": torch.__version__, "onnx": onnx.__version__, "opset": OPSET,
                       "max_abs_diff": parity, "tolerance": TOLERANCE},
        }
        _write_json(tmp / "model.json", meta)

        # The whole runtime path (bundle loader + numpy loop) against the PyTorch rollout.
        engine = Engine.load(tmp)
        model.silent_parts = engine.silent_parts  # the reference keeps the same parts silent
        expected = torch_rollout(model, kind, z, notes)
        got = engine.decode_tokens(_np(z), temperature=0.0)
        if expected.shape != got.shape or not np.array_equal(expected, got):
            same = float(np.mean(expected == got)) if expected.shape == got.shape else 0.0
            raise ExportError(f"free-running argmax rollout: runtime tokens differ from PyTorch "
                              f"({same:.1%} equal over {rollout_steps} steps)")
        meta["export"]["rollout_tokens_identical"] = True
        meta["evaluation"].update(evaluate_bundle(engine, kind, codec, valid_tokens[:eval_windows]))
        meta["export"]["seconds"] = round(time.time() - started, 2)
        _write_json(tmp / "model.json", meta)
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def evaluate_bundle(engine, kind: str, codec: Codec, tokens: np.ndarray) -> dict[str, Any]:
    """Reconstruction through the exported graphs: encode real windows (mu), decode greedily,
    count equal tokens (per step, per note field for note events) and whole windows."""
    tokens = np.asarray(tokens)
    if kind == "note_events":
        mu = np.concatenate([engine.run_encoder(t[None], np.array([len(t)], np.int64))
                             for t in tokens])
    else:
        inputs = np.stack([codec.to_input(t) for t in tokens]).astype(np.float32)
        mu = engine.run_encoder(inputs, np.full(len(tokens), tokens.shape[1], np.int64))
    decoded = np.concatenate([engine.decode_tokens(mu[i:i + 64], temperature=0.0)
                              for i in range(0, len(mu), 64)])
    equal = decoded == tokens
    per_step = equal.reshape(len(tokens), tokens.shape[1], -1).all(-1)
    figures = {"valid_windows": int(len(tokens)),
               "valid_reconstruction_accuracy": round(float(per_step.mean()), 4),
               "valid_exact_windows": round(float(per_step.all(-1).mean()), 4)}
    if kind == "note_events":
        figures["valid_field_accuracy"] = {name: round(float(equal[..., k].mean()), 4)
                                           for k, name in enumerate(("dt", "t", "p"))}
    else:
        # Token 0 ("nothing new happens") dominates MusicVAE sequences; accuracy where the
        # target has an event (a note start, note-off or drum hit) is the figure that shows
        # whether the model reproduces the music rather than the silence between onsets.
        events = tokens != 0
        figures["valid_event_accuracy"] = round(float(equal[events].mean()) if events.any() else 0.0, 4)
        figures["valid_event_fraction"] = round(float(events.mean()), 4)
    return {**figures,
            "reconstruction": "ONNX bundle, z = mu, argmax decoding, token accuracy per "
                              + ("note" if kind == "note_events" else "step")}


def _write_json(path: Path, value) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    """Put the finished folder in place: the old bundle (if any) moves aside first."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old.{os.getpid()}")
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    os.chmod(out_dir, 0o755)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _progress(items, enabled: bool, desc: str):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="graph")


# ---------------------------------------------------------------------------------------------
# Command line


def load_valid_tokens(data_dir: Path, split: str = "valid", limit: int = 512) -> tuple[np.ndarray, dict]:
    """Windows of a split of a prepared dataset (training.prepare output) and its manifest."""
    manifest_path = data_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ExportError(f"{manifest_path}: missing (pass --data with a prepared dataset folder)")
    manifest = json.loads(manifest_path.read_text())
    shards = sorted(data_dir.glob(f"{split}-*.npz")) or sorted(data_dir.glob("test-*.npz"))
    if not shards:
        raise ExportError(f"{data_dir}: no {split}-*.npz shards")
    parts, total = [], 0
    for shard in shards:
        with np.load(shard) as f:
            parts.append(f["tokens"][: limit - total])
        total += len(parts[-1])
        if total >= limit:
            break
    return np.concatenate(parts), manifest


def data_summary(manifest: dict, data_dir: Path) -> dict:
    keep = ("name", "format", "window", "counts", "augment", "sources", "corpus")
    summary = {k: manifest[k] for k in keep if k in manifest}
    summary["path"] = str(data_dir)
    summary["files"] = len(manifest.get("files", []))
    summary["skipped"] = len(manifest.get("skipped", []))
    return summary


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits with 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv=None) -> int:
    parser = _Parser(
        prog="python -m training.export",
        description="Export a training checkpoint to a verified model bundle (ONNX step graphs + model.json).")
    parser.add_argument("checkpoint", help="checkpoint .pt written by training.train")
    parser.add_argument("out_dir", help="bundle folder to create (replaced atomically if it exists)")
    parser.add_argument("--name", help="bundle name (default: the out_dir folder name)")
    parser.add_argument("--data", help="prepared dataset folder for the checks (default: the one "
                                       "the checkpoint was trained on)")
    parser.add_argument("--bars", type=int, default=None,
                        help="bars per generation for a note-event model (default 8; MusicVAE "
                             "models take theirs from the dataset window)")
    parser.add_argument("--eval-windows", type=int, default=256,
                        help="validation windows for the reconstruction figure (default 256)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        model, codec, training, data_dir = read_training_run(args.checkpoint, args.data)
        valid, manifest = load_valid_tokens(data_dir, limit=max(args.eval_windows, EXAMPLE_BATCH))
        if manifest.get("codec") and codec.config() != codec_from_config(manifest["codec"]).config():
            raise ExportError(f"{data_dir}: dataset codec {manifest['codec']} differs from the "
                              f"checkpoint's {codec.config()}")
        window = manifest.get("window", {})
        out = export_bundle(
            model, args.out_dir, name=args.name or Path(args.out_dir).name, codec=codec,
            valid_tokens=valid, bars=window.get("bars") or args.bars or 8,
            steps_per_bar=window.get("steps_per_bar", 16),
            data=data_summary(manifest, data_dir), training=training,
            eval_windows=args.eval_windows, progress=True)
    except (ExportError, BundleError, OSError, ValueError, KeyError) as exc:
        message = str(exc) if not isinstance(exc, KeyError) else f"missing key {exc}"
        print(f"error: {message}", file=sys.stderr)
        return 2
    meta = json.loads((out / "model.json").read_text())
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out} ({size / 1e6:.1f} MB, {len(meta['graphs'])} graphs, kind {meta['kind']}); "
          f"max |ONNX - torch| {max(meta['export']['max_abs_diff'].values()):.1e}; valid "
          f"reconstruction {meta['evaluation']['valid_reconstruction_accuracy']:.3f}")
    return 0


def read_training_run(checkpoint, data=None) -> tuple[nn.Module, Codec, dict, Path]:
    """(model, codec, training summary, dataset folder) from a training.train checkpoint; the
    summary holds the config, steps and the last validation figures of ``metrics.jsonl``."""
    from training.train import METRICS, TrainingError, load_checkpoint, read_checkpoint

    try:
        raw = read_checkpoint(checkpoint)
        model, config, codec = load_checkpoint(checkpoint)
    except TrainingError as exc:
        raise ExportError(str(exc)) from None
    path = Path(checkpoint)
    metrics_path = (path if path.is_dir() else path.parent) / METRICS
    valid = {}
    if metrics_path.is_file():
        for line in metrics_path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("split") == "valid":
                valid = row
    training = {"config": config.name, "steps": int(raw.get("step", 0)),
                "batch_size": config.train.batch_size, "learning_rate": config.train.learning_rate,
                "nan_steps": int(raw.get("nan_steps", 0) or 0),
                "last_valid": {k: round(v, 4) if isinstance(v, float) else v for k, v in valid.items()}}
    if not (data or config.data.path):
        raise ExportError("the checkpoint names no dataset: pass --data DIR")
    return model, codec, training, Path(data or config.data.path)


if __name__ == "__main__":
    sys.exit(main())
