"""Export a trained checkpoint to a model bundle: ONNX step graphs + model.json, self-verified.

    $ python -m training.export runs/mel_2bar -o my_bundle      # the run's checkpoint.pt
    $ python -m training.export runs/mel_2bar/best.pt -o runtime/models/mel_2bar --data data/mel_2bar

Without ``--data`` the checks use the dataset the run trained on (recorded by training.train).

or from Python, with a model in memory::

    >>> from training.export import export_bundle
    >>> export_bundle(model, "out/mel_2bar", name="mel_2bar", codec=codec, bars=2,
    ...               valid_tokens=windows)       # real windows: parity checks + eval figures

What gets written (docs/bundle.md has the schema): the graphs of the model's decoding kind, which
its class declares (``decoding_kind``: ``flat``, ``hierarchical``, ``note_events``, ``groove``)
and :mod:`runtime.decoding` describes: one ``<key>.onnx`` per graph, cut from the model's step
function of the same name (``encoder.onnx``; ``decoder_init.onnx`` and ``decoder_step.onnx``:
ONE step, previous token input, conditioning and recurrent state in, logits and state out,
batch axis dynamic; ``conductor_*`` for hierarchical models; ``decoder_step_{dt,t,p}`` for the
note-unrolling model), on the arguments of its first call in the model's own greedy rollout
(:func:`trace_rollout`); and ``model.json``. Sampling stays outside the graphs
(runtime/sampling.py).

The export verifies itself before anything lands in ``OUT_DIR``: ``onnx.checker`` on every
graph; ONNX vs PyTorch on real inputs for every graph and every call of the step functions in
the rollout (hierarchical: its first bar) (max abs diff, within ``TOLERANCE``, or where the
model itself amplifies float32 rounding, within what PyTorch's own float32 run misses a float64
one by: see :func:`judge_parity`); and a whole free-running argmax rollout through the
torch-free runtime engine against the PyTorch rollout (tokens must be identical). Files are
written to a temporary folder next to ``OUT_DIR`` and renamed into place only when all checks
pass.
"""

from __future__ import annotations

import contextlib
import copy
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
from runtime.cli import Parser, fail
from runtime.codecs import Codec, codec_from_config
from runtime.decoding import Decoding, GraphSpec, decoding_for

#: parity tolerances: ONNX and PyTorch run the same float32 math in a different order
TOLERANCE = 1e-3
#: a long recurrence with large weights amplifies float32 rounding step by step (in a 2048-unit
#: encoder with weight std 0.2 PyTorch's own float32 run drifts ~1.4x per step from float64, to
#: 1.5 at step 32): there ONNX may differ from PyTorch float32 by TOLERANCE + FLOAT32_SLACK x that
#: drift (2 = the triangle bound when ONNX is no farther from float64 than PyTorch is)
FLOAT32_SLACK = 2.0
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
        # torch.onnx.export puts the wrapper back in its own mode afterwards: let that be the
        # model's (eval), or a model with dropout (GrooVAE) would be left training
        self.train(model.training)

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


def _batch_axis(t: torch.Tensor) -> int:
    axes = [i for i, s in enumerate(t.shape) if s == EXAMPLE_BATCH]
    return axes[0] if len(axes) == 1 else (1 if t.dim() == 3 else 0)


def _dyn(names, tensors) -> dict[str, dict[int, str]]:
    return {n: {_batch_axis(t): "batch"} for n, t in zip(names, tensors)}


def model_decoding(model: nn.Module, kind: str | None = None) -> type[Decoding]:
    """The decoding kind of ``model``'s bundle (runtime/decoding.py): ``kind`` if given, else
    the one its class declares (``decoding_kind``, training/models)."""
    kind = kind or getattr(model, "decoding_kind", None)
    if kind is None:
        raise ExportError(f"{type(model).__name__} declares no decoding kind (decoding_kind): "
                          f"it has no step graphs to export")
    try:
        return decoding_for(kind)
    except ValueError as exc:
        raise ExportError(str(exc)) from None


@torch.no_grad()
def trace_rollout(model: nn.Module, decoding: type[Decoding], z: torch.Tensor,
                  length: int) -> tuple[Any, dict[str, list[tuple]]]:
    """The model's own greedy rollout, ``model.generate(z, length, 0.0)``, with the arguments
    of every call of the step functions the kind's graphs are cut from (same names) recorded,
    flat as the graphs take them (the state tuple spread): ``(output, {key: [args, ...]})``.
    The samplers are written with exactly these functions: the first call of each gives its
    graph's example inputs, every call a parity check (:func:`_step_parity`)::

        >>> _, calls = trace_rollout(model, decoding_for("flat"), z, 32)
        >>> len(calls["decoder_step"]), len(calls["decoder_init"])
        (32, 1)
    """
    steps = [g for g in decoding.graphs if g.key != "encoder"]
    calls: dict[str, list[tuple]] = {g.key: [] for g in steps}

    def recording(spec, fn):
        def call(*args):
            calls[spec.key].append((*args[:-1], *args[-1]) if spec.state == "in_out" else args)
            return fn(*args)
        return call

    try:
        for spec in steps:
            if not callable(getattr(model, spec.method, None)):
                raise ExportError(f"{type(model).__name__} has no step function "
                                  f"{spec.method!r}, which kind {decoding.kind!r} is cut from")
            # an instance attribute shadows the method while the rollout runs
            setattr(model, spec.method, recording(spec, getattr(model, spec.method)))
        output = model.generate(z, length, 0.0)
    finally:
        for spec in steps:
            model.__dict__.pop(spec.method, None)
    unused = [key for key, seen in calls.items() if not seen]
    if unused:
        raise ExportError(f"{type(model).__name__}.generate never calls {', '.join(unused)}: "
                          f"the {decoding.kind!r} graphs are cut from what its rollout runs")
    return output, calls


@torch.no_grad()
def build_graphs(model: nn.Module, kind, example_inputs: torch.Tensor, lengths: torch.Tensor,
                 calls: dict[str, list[tuple]] | None = None) -> list[Graph]:
    """One :class:`Graph` per graph of ``kind`` (a name or a Decoding class), named and cut as
    its :class:`~runtime.decoding.GraphSpec` says: the encoder on the real example inputs
    ``example_inputs[EXAMPLE_BATCH, ...]``, every step function on the arguments of its first
    call in the greedy rollout from their mu (``calls`` of :func:`trace_rollout`, traced here
    if not given)."""
    decoding = decoding_for(kind) if isinstance(kind, str) else kind
    if calls is None:
        z = model.encode(example_inputs, lengths)[0].float()
        calls = trace_rollout(model, decoding, z, example_inputs.shape[1])[1]
    return [_graph(model, spec, (example_inputs, lengths) if spec.key == "encoder"
                   else calls[spec.key][0], decoding.grid)
            for spec in decoding.graphs]


def _graph(model: nn.Module, spec: GraphSpec, args: tuple, grid: bool) -> Graph:
    """The graph of ``spec`` on example ``args``: named inputs and outputs have the batch
    first, state tensors where the example batch size is; a non-grid encoder reads any number
    of notes (a dynamic ``time`` axis)."""
    fixed = len(spec.inputs)
    module = _Step(model, getattr(model, spec.method), fixed, spec.state == "in_out")
    outputs = module(*args)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    states = len(outputs) - len(spec.outputs) if spec.state else 0
    inputs, names = spec.input_names(states), spec.output_names(states)
    dynamic = {n: {0: "batch"} for n in (*spec.inputs, *spec.outputs)}
    dynamic.update(_dyn(inputs[fixed:], args[fixed:]))
    dynamic.update(_dyn(names[len(spec.outputs):], outputs[len(spec.outputs):]))
    if spec.key == "encoder" and not grid:
        dynamic["inputs"] = {0: "batch", 1: "time"}
    return Graph(spec.key, module, tuple(args), inputs, names, dynamic)


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


def short_args(graph: Graph) -> tuple:
    """The encoder's example inputs cut to (at most) two steps per sequence: no recurrence
    long enough to amplify rounding, two steps so that the forget gate plays a part."""
    inputs, lengths = graph.args
    return inputs, lengths.clamp(max=min(2, inputs.shape[1]))


def graph_parity(graph: Graph, path: Path) -> dict[str, float]:
    """Max abs ONNX - PyTorch difference of a written graph on its example inputs; for the
    encoder also on two-step sequences (``encoder_two_steps``), where only an export error,
    never a drift of float32 rounding, can make the two differ."""
    parity = {graph.key: check_parity(graph, path)}
    if graph.key == "encoder":
        parity["encoder_two_steps"] = check_parity(graph, path, short_args(graph))
    return parity


def float32_noise(graph: Graph, args: tuple | None = None) -> float:
    """Max abs difference between the PyTorch module in float32 and a float64 copy of it on the
    same inputs: how far float32 rounding alone moves the outputs (0.0 where the module cannot
    run in float64)."""
    args = graph.args if args is None else args
    try:
        double = copy.deepcopy(graph.module).double()
        with torch.no_grad():
            low = graph.module(*args)
            high = double(*(a.double() if a.is_floating_point() else a for a in args))
    except (RuntimeError, TypeError):   # an op without float64 or a fixed float32 tensor
        return 0.0
    low = low if isinstance(low, tuple) else (low,)
    high = high if isinstance(high, tuple) else (high,)
    return max((float((a.double() - b).abs().max()) for a, b in zip(low, high) if a.numel()),
               default=0.0)


def judge_parity(parity: dict[str, float], graphs: dict[str, Graph]) -> dict[str, float]:
    """Raise ExportError for a check whose ONNX - PyTorch difference exceeds ``TOLERANCE`` +
    ``FLOAT32_SLACK`` x the float32 noise of that graph on those inputs; returns the noise of
    the checks over ``TOLERANCE`` (computed only for those; 0 = not computable, no slack).

    Why: ONNX Runtime and PyTorch round differently, and a recurrence whose gates amplify small
    differences (large weights, long sequences) carries that apart exponentially, PyTorch's own
    float32 run from a float64 one as much as ONNX from PyTorch. A wrong export (gate order,
    state layout, lengths) differs far more than that, and ``encoder_two_steps`` and the single
    decoder steps have no such drift, so they are held to ``TOLERANCE`` in practice."""
    noise = {}
    for key, diff in parity.items():
        if diff <= TOLERANCE:
            continue
        base = "encoder" if key == "encoder_two_steps" else key
        if base in graphs:
            graph = graphs[base]
            noise[key] = float32_noise(graph, short_args(graph) if base != key else None)
        allowed = TOLERANCE + FLOAT32_SLACK * noise.get(key, 0.0)
        if diff > allowed:
            raise ExportError(f"{key}: ONNX differs from PyTorch by {diff:.2e} (tolerance "
                              f"{TOLERANCE:g} + {FLOAT32_SLACK:g} x float32 noise "
                              f"{noise.get(key, 0.0):.2e})")
    return noise


@torch.no_grad()
def torch_rollout(model: nn.Module, decoding: type[Decoding], z: torch.Tensor, length: int,
                  codec: Codec) -> np.ndarray:
    """Greedy (argmax) rollout with the model's own sampler (``generate``, written with its step
    functions), as tokens: the reference the runtime engine must reproduce token for token."""
    return decoding.to_tokens(codec, _np(model.generate(z, length, 0.0)))


@torch.no_grad()
def rollout_near_ties(model: nn.Module, kind: str, z: torch.Tensor, got: np.ndarray) -> int | None:
    """Where the runtime's argmax rollout left PyTorch's, was every differing choice a tie that
    float32 cannot decide? PyTorch is run teacher-forced along the runtime's own tokens, in
    float32 and in float64: each token the runtime chose must fall short of the best logit of its
    part by at most ``TOLERANCE + 2 * FLOAT32_SLACK * noise`` (noise: the largest float32 -
    float64 logit difference of that sequence so far; 2: a shortfall is a difference of two
    logits). Returns the number of steps where the runtime took a near-tie, or None where one
    shortfall is larger than that, or the model has no teacher-forced decoder (only kinds with
    one-hot feedback, the categorical MusicVAEs, have one: other kinds must agree token for
    token)."""
    if not decoding_for(kind).one_hot_feedback or not hasattr(model, "decode_teacher_forced"):
        return None
    tokens = torch.from_numpy(np.asarray(got)).long()
    tokens = tokens.unsqueeze(-1) if tokens.dim() == 2 else tokens
    chosen = model.one_hot(tokens)
    prev = torch.cat([torch.zeros_like(chosen[:, :1]), chosen[:, :-1]], 1)
    low = model.decode_teacher_forced(z, prev)
    high = copy.deepcopy(model).double().decode_teacher_forced(z.double(), prev.double())
    noise = (low.double() - high).abs().amax(-1).cummax(-1).values
    shortfall = torch.zeros_like(noise)
    silent = getattr(model, "silent_parts", ())
    for k, part in enumerate(low.double().split(model.part_depths, -1)):
        if k not in silent:
            gap = part.amax(-1) - part.gather(-1, tokens[..., k:k + 1]).squeeze(-1)
            shortfall = torch.maximum(shortfall, gap)
    if bool((shortfall > TOLERANCE + 2 * FLOAT32_SLACK * noise).any()):
        return None
    return int((shortfall > 0).sum())


def _step_parity(graphs: dict[str, Graph], folder: Path, calls: dict[str, list[tuple]],
                 limit: int) -> float:
    """ONNX vs PyTorch at each call of every step graph in the greedy rollout (the first
    ``limit`` calls of each), both fed the same (PyTorch) inputs."""
    worst = 0.0
    for key, seen in calls.items():
        for args in seen[:limit]:
            worst = max(worst, check_parity(graphs[key], folder / f"{key}.onnx", args))
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


def _token_inputs(kind, codec: Codec, tokens: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The encoder's inputs and lengths for token windows (``kind``: a name or Decoding class)."""
    decoding = decoding_for(kind) if isinstance(kind, str) else kind
    x = torch.from_numpy(decoding.encoder_inputs(codec, tokens))
    return x, torch.full((len(tokens),), tokens.shape[1], dtype=torch.int64)


@dataclass
class Plan:
    """What one export works with: the real windows, the size of a generation (``length``
    steps, or ``notes`` for a kind off the grid) and the encoder's example inputs."""

    codec: Codec
    valid: np.ndarray
    bars: int
    steps_per_bar: int
    notes: int
    length: int
    x: torch.Tensor
    lengths: torch.Tensor
    z_size: int
    output_depths: list[int]


def plan_export(model: nn.Module, decoding: type[Decoding], codec: Codec, valid_tokens,
                bars: int | None, steps_per_bar: int, notes: int) -> Plan:
    """The :class:`Plan` of an export; the windows' length gives what is not given (bars on
    the grid, notes off it)."""
    valid = np.asarray(valid_tokens)
    if len(valid) < 1:
        raise ExportError("need at least one real validation window to verify the export")
    if not decoding.grid:
        notes = notes or valid.shape[1]
        bars = bars or 4
    elif bars is None:
        bars = valid.shape[1] // steps_per_bar
    examples = valid[np.arange(EXAMPLE_BATCH) % len(valid)]
    x, lengths = _token_inputs(decoding, codec, examples)
    config = getattr(model, "config", None)
    z_size = int(getattr(config, "z_size", 0)) or int(model.encode(x[:1], lengths[:1])[0].shape[-1])
    depths = list(getattr(model, "part_depths", None) or getattr(codec, "output_depths", None)
                  or [codec.output_depth])
    return Plan(codec, valid, int(bars), int(steps_per_bar), int(notes),
                bars * steps_per_bar if decoding.grid else int(notes), x, lengths, z_size, depths)


def export_bundle(model: nn.Module, out_dir, *, name: str, codec: Codec, valid_tokens: np.ndarray,
                  bars: int | None = None, steps_per_bar: int = 16, kind: str | None = None,
                  data: dict | None = None, training: dict | None = None,
                  evaluation: dict | None = None, notes: int = 0,
                  eval_windows: int = 256, progress: bool = False) -> Path:
    """Write a verified bundle for ``model`` to ``out_dir`` (atomically) and return its path.

    The bundle's kind is the one the model declares (``decoding_kind``; ``kind`` overrides it).
    ``valid_tokens`` are real windows (codec tokens) from the validation split: they are the
    example inputs of the export, the inputs of the parity checks, and the data of the
    reconstruction accuracy recorded in ``evaluation``.
    """
    started = time.time()
    model = model.eval().float()
    decoding = model_decoding(model, kind)
    plan = plan_export(model, decoding, codec, valid_tokens, bars, steps_per_bar, notes)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        specs, parity, noise, z = write_graphs(model, decoding, plan, tmp, progress)
        meta = bundle_meta(model, decoding, plan, name, specs, parity, noise,
                           data=data, training=training, evaluation=evaluation)
        _write_json(tmp / "model.json", meta)
        engine = check_rollout(model, decoding, plan, tmp, z, meta)
        meta["evaluation"].update(evaluate_bundle(engine, codec, plan.valid[:eval_windows]))
        meta["export"]["seconds"] = round(time.time() - started, 2)
        _write_json(tmp / "model.json", meta)
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def write_graphs(model: nn.Module, decoding: type[Decoding], plan: Plan, folder: Path,
                 progress: bool = False):
    """Every graph of the kind written to ``folder`` and checked against PyTorch (each graph on
    its example inputs, every step function along the greedy rollout): (model.json graph specs,
    max abs differences, float32 noise where they exceed TOLERANCE, the example batch's mu)."""
    with torch.no_grad():
        z = model.encode(plan.x, plan.lengths)[0].float()
    _, calls = trace_rollout(model, decoding, z, plan.length)
    graphs = build_graphs(model, decoding, plan.x, plan.lengths, calls)
    specs, parity = {}, {}
    for graph in _progress(graphs, progress, "export"):
        path = folder / f"{graph.key}.onnx"
        specs[graph.key] = _write_graph(graph, path)
        parity.update(graph_parity(graph, path))
    by_key = {g.key: g for g in graphs}
    parity["decoder_rollout_steps"] = _step_parity(
        by_key, folder, calls, decoding.parity_calls(plan.length, plan.steps_per_bar))
    return specs, parity, judge_parity(parity, by_key), z


def _write_graph(graph: Graph, path: Path) -> dict[str, Any]:
    """Export one graph, run ``onnx.checker`` and compare its io names: its model.json entry."""
    import onnx

    _export_one(graph, path)
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:  # noqa: BLE001 - onnx raises several types
        raise ExportError(f"{path.name}: onnx.checker failed ({str(exc).splitlines()[0]})") from None
    inputs, outputs = _io_spec(path)
    names = [i["name"] for i in inputs]
    # An encoder that ignores ``lengths`` (fixed-size windows) loses that input in export.
    expected = [n for n in graph.inputs if n != "lengths" or graph.key != "encoder" or n in names]
    if names != expected or [o["name"] for o in outputs] != graph.outputs:
        raise ExportError(f"{path.name}: exported io names {names} -> "
                          f"{[o['name'] for o in outputs]} differ from {graph.inputs} -> "
                          f"{graph.outputs}")
    return {"file": path.name, "inputs": inputs, "outputs": outputs, "sha256": sha256(path),
            "bytes": path.stat().st_size}


def decoding_block(model: nn.Module, decoding: type[Decoding], plan: Plan) -> dict[str, Any]:
    """model.json's ``decoding``: the kind's fixed fields, the notes of a generation off the
    grid, the model's own fields (``decoding_fields``) and the parts that never played."""
    block = dict(decoding.fields)
    if not decoding.grid:
        block["notes"] = plan.notes
    block.update(model.decoding_fields() if hasattr(model, "decoding_fields") else {})
    names = list(getattr(plan.codec, "part_names", ()) or ())
    tokens = plan.valid
    silent = [n for k, n in enumerate(names)
              if tokens.ndim == 3 and k < tokens.shape[-1] and not tokens[..., k].any()]
    if silent:  # trained on data where these parts never play: they stay silent
        block["silent_parts"] = silent
    return block


def bundle_meta(model: nn.Module, decoding: type[Decoding], plan: Plan, name: str, specs: dict,
                parity: dict, noise: dict, data=None, training=None, evaluation=None) -> dict:
    """model.json (docs/bundle.md) before the rollout check adds its figures."""
    import onnx

    config = getattr(model, "config", None)
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "kind": decoding.kind,
        "codec": plan.codec.config(),
        "steps_per_bar": plan.steps_per_bar,
        "bars": plan.bars,
        "z_size": plan.z_size,
        "output_depths": plan.output_depths,
        "decoding": decoding_block(model, decoding, plan),
        "graphs": specs,
        "model": {"class": type(model).__name__, "config": _jsonable(config),
                  "parameters": int(sum(p.numel() for p in model.parameters()))},
        "data": _jsonable(data or {}),
        "training": _jsonable(training or {}),
        "evaluation": _jsonable(evaluation or {}),
        "export": {"torch": torch.__version__, "onnx": onnx.__version__, "opset": OPSET,
                   "max_abs_diff": parity, "tolerance": TOLERANCE,
                   "float32_noise": noise, "float32_slack": FLOAT32_SLACK},
    }


def check_rollout(model: nn.Module, decoding: type[Decoding], plan: Plan, folder: Path,
                  z: torch.Tensor, meta: dict):
    """The whole runtime path (bundle loader + numpy loop) against the PyTorch rollout: the
    same tokens, or differing only where float32 cannot decide a tie; returns the engine."""
    from runtime.engine import Engine

    engine = Engine.load(folder)
    model.silent_parts = engine.silent_parts  # the reference keeps the same parts silent
    expected = torch_rollout(model, decoding, z, plan.length, plan.codec)
    got = engine.decode_tokens(_np(z), temperature=0.0)
    identical = decoding.same_rollout(plan.codec, expected, got)
    ties = 0 if identical else rollout_near_ties(model, decoding.kind, z, got)
    if ties is None:
        same = float(np.mean(expected == got)) if expected.shape == got.shape else 0.0
        raise ExportError(f"free-running argmax rollout: runtime tokens differ from PyTorch "
                          f"({same:.1%} equal over {plan.length} steps)")
    meta["export"]["rollout_tokens_identical"] = identical
    if not identical:   # float32 ties taken the other way, then each sequence went its way
        meta["export"]["rollout_near_ties"] = ties
    return engine


def evaluate_bundle(engine, codec: Codec, tokens: np.ndarray) -> dict[str, Any]:
    """Reconstruction through the exported graphs: encode real windows (mu), decode greedily,
    count equal tokens (per step, per note field off the grid) and whole windows; a continuous
    decoder (groove) is scored by hits, velocities and timing."""
    tokens = np.asarray(tokens)
    decoder = engine.decoder
    mu = decoder.encode_tokens(tokens)
    decoded = np.concatenate([engine.decode_tokens(mu[i:i + 64], temperature=0.0)
                              for i in range(0, len(mu), 64)])
    if decoder.continuous:
        return _continuous_figures(codec, decoded, tokens)
    equal = decoded == tokens
    per_step = equal.reshape(len(tokens), tokens.shape[1], -1).all(-1)
    figures = {"valid_windows": int(len(tokens)),
               "valid_reconstruction_accuracy": round(float(per_step.mean()), 4),
               "valid_exact_windows": round(float(per_step.all(-1).mean()), 4)}
    if not decoder.grid:
        names = getattr(codec, "field_names", None) or [f"f{k}" for k in range(tokens.shape[-1])]
        figures["valid_field_accuracy"] = {name.lower(): round(float(equal[..., k].mean()), 4)
                                           for k, name in enumerate(names)}
    else:
        # Token 0 ("nothing new happens") dominates MusicVAE sequences; accuracy where the
        # target has an event (a note start, note-off or drum hit) is the figure that shows
        # whether the model reproduces the music rather than the silence between onsets.
        events = tokens != 0
        figures["valid_event_accuracy"] = round(float(equal[events].mean()) if events.any() else 0.0, 4)
        figures["valid_event_fraction"] = round(float(events.mean()), 4)
    return {**figures,
            "reconstruction": "ONNX bundle, z = mu, argmax decoding, token accuracy per "
                              + ("step" if decoder.grid else "note")}


def _continuous_figures(codec: Codec, decoded: np.ndarray, tokens: np.ndarray) -> dict[str, Any]:
    """Hits, velocities and timing against the take (groove)."""
    from .benchmark import groove_scores

    scores = groove_scores(codec, decoded, tokens)
    velocity, timing = scores["velocity_error"], scores["timing_error_steps"]
    return {"valid_windows": int(len(tokens)),
            "valid_reconstruction_accuracy": round(scores["steps"], 4),
            "valid_hit_f1": round(scores["hits"]["f1"], 4),
            "valid_velocity_error": None if velocity is None else round(velocity, 3),
            "valid_timing_error_steps": None if timing is None else round(timing, 4),
            "reconstruction": "ONNX bundle, z = mu, hits at threshold 0.5; steps whose 9 "
                              "hits are all right, hit F1, velocity (MIDI) and timing (steps) "
                              "errors on matched hits"}


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


def build_parser() -> Parser:
    parser = Parser(
        prog="python -m training.export",
        description="Export a training checkpoint to a verified model bundle (ONNX step graphs + "
                    "model.json), checked on windows of the dataset the run was trained on.",
        examples=["python -m training.export runs/mel_2bar -o my_bundle",
                  "python -m training.export runs/drums_2bar/best.pt -o runtime/models/drums_2bar "
                  "--data data/drums_2bar",
                  "python -m runtime.render sample --model my_bundle"])
    parser.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="checkpoint.pt or best.pt written by training.train, or a run folder "
                             "(its checkpoint.pt)")
    parser.add_argument("out_dir", nargs="?", metavar="OUT_DIR",
                        help="bundle folder to create, replaced atomically if it exists (the same "
                             "as -o)")
    parser.add_argument("-o", "--out", metavar="OUT_DIR", help="bundle folder to create")
    parser.add_argument("--name", help="bundle name (default: the bundle folder's name)")
    parser.add_argument("--data", metavar="DIR",
                        help="prepared dataset folder for the checks (default: the one the run "
                             "trained on, recorded in the checkpoint)")
    parser.add_argument("--bars", type=int, default=None,
                        help="bars per generation for a note-event model (default 8; MusicVAE "
                             "models take theirs from the dataset window)")
    parser.add_argument("--eval-windows", type=int, default=256,
                        help="validation windows for the reconstruction figure (default 256)")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out and args.out_dir and args.out != args.out_dir:
        parser.error("give the bundle folder once: OUT_DIR or -o/--out")
    out_dir = args.out or args.out_dir
    if not out_dir:
        parser.error("no bundle folder: add -o OUT_DIR")
    if args.eval_windows < 1 or (args.bars is not None and args.bars < 1):
        parser.error("--eval-windows and --bars must be at least 1")
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        model, codec, training, data_dir = read_training_run(args.checkpoint, args.data)
        if args.data is None:
            print(f"data: {data_dir} ({training.pop('data_source')})", file=sys.stderr)
        training.pop("data_source", None)
        valid, manifest = load_valid_tokens(data_dir, limit=max(args.eval_windows, EXAMPLE_BATCH))
        # input-only options (a groove model's input transform) may differ: same tokens
        if manifest.get("codec") and \
                codec.token_config() != codec_from_config(manifest["codec"]).token_config():
            raise ExportError(f"{data_dir}: dataset codec {manifest['codec']} differs from the "
                              f"checkpoint's {codec.config()}")
        window = manifest.get("window", {})
        out = export_bundle(
            model, out_dir, name=args.name or Path(out_dir).name, codec=codec,
            valid_tokens=valid, bars=window.get("bars") or args.bars or 8,
            steps_per_bar=window.get("steps_per_bar", 16),
            data=data_summary(manifest, data_dir), training=training,
            eval_windows=args.eval_windows, progress=True)
    except (ExportError, BundleError, OSError, ValueError, KeyError) as exc:
        return fail(str(exc) if not isinstance(exc, KeyError) else f"missing key {exc}")
    meta = json.loads((out / "model.json").read_text())
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out} ({size / 1e6:.1f} MB, {len(meta['graphs'])} graphs, kind {meta['kind']}); "
          f"max |ONNX - torch| {max(meta['export']['max_abs_diff'].values()):.1e}; valid "
          f"reconstruction {meta['evaluation']['valid_reconstruction_accuracy']:.3f}")
    return 0


def read_training_run(checkpoint, data=None) -> tuple[nn.Module, Codec, dict, Path]:
    """(model, codec, training summary, dataset folder) from a training.train checkpoint; the
    summary holds the config, steps and the validation figures of ``metrics.jsonl`` at the
    checkpoint's step (the last ones before it for a checkpoint between evaluations). The
    dataset is ``data`` if given, else the one the run recorded (``data_dir``), else for
    checkpoints older than that record the config's ``data.path``; ``data_source`` says which."""
    from training.train import METRICS, TrainingError, model_from_checkpoint, read_checkpoint, \
        read_metrics, upgrade_metrics

    try:   # read once: a bundle folder is read back from its graphs (training/unbundle.py)
        raw = read_checkpoint(checkpoint)
        model, config, codec = model_from_checkpoint(raw)
    except TrainingError as exc:
        raise ExportError(str(exc)) from None
    path = Path(checkpoint)
    steps = int(raw.get("step", 0))
    lines = upgrade_metrics(read_metrics((path if path.is_dir() else path.parent) / METRICS))
    valid = {}
    for row in lines:
        if row.get("split") == "valid" and row.get("step", 0) <= steps:
            valid = row
    training = {"config": config.name, "steps": steps,
                "batch_size": config.train.batch_size, "learning_rate": config.train.learning_rate,
                "nan_steps": int(raw.get("nan_steps", 0) or 0),
                "last_valid": {k: round(v, 4) if isinstance(v, float) else v
                               for k, v in valid.items() if k != "time"}}
    if config.train.init_from:   # a fine-tuned run: where its weights started, and after how much
        training["init_from"] = config.train.init_from
        if raw.get("init_steps") is not None:   # recorded when the fine-tune began
            training["init_steps"] = int(raw["init_steps"])
        else:   # a checkpoint from before that record: the starting file as it is now
            try:
                training["init_steps"] = int(read_checkpoint(config.train.init_from).get("step", 0))
            except TrainingError:
                pass   # the starting checkpoint is gone: its name stays recorded
    if data:
        training["data_source"] = "--data"
        return model, codec, training, Path(data)
    if raw.get("data_dir"):
        training["data_source"] = "the dataset this run trained on"
        return model, codec, training, Path(raw["data_dir"])
    if not config.data.path:
        raise ExportError("the checkpoint names no dataset: pass --data DIR")
    training["data_source"] = ("the config's data.path: this checkpoint predates recorded "
                               "datasets; pass --data if the run used another")
    return model, codec, training, Path(config.data.path)


if __name__ == "__main__":
    sys.exit(main())
