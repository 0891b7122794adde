"""A bundle's weights back into a PyTorch model: fine-tune or continue a shipped model.

A bundle (runtime/models/NAME, or any ``training.export`` output) holds every weight its
graphs run, rearranged by the ONNX export (LSTM gates reordered and stacked, dense layers
transposed) and maybe stored as float16 or int8 (training/float16.py). This module undoes
that, for any model family, without a table of names: it exports the same architecture twice
with every weight element set to its own index (``+i``, then ``-i``), so each element of each
exported tensor says which weight element it came from; an element that is not a plain copy
of one weight (the two exports disagree) is refused. The bundle's tensors are then copied back
through that map and the result is checked graph by graph against the bundle's own ONNX files
on the same inputs (the export's tolerance). Weights no graph runs (none in the shipped
models) keep their fresh initialisation and are named in the summary.

``--init-from`` takes a bundle folder wherever it takes a checkpoint::

    python -m training.train lb-drums_2bar --data data/drums_2bar -o runs/drums_more \\
        --init-from runtime/models/drums_2bar

and this writes a checkpoint file (no optimizer state: a run started from it starts Adam
afresh)::

    python -m training.unbundle runtime/models/mel_16bar -o runs/mel_16bar_shipped.pt

    >>> from training.unbundle import checkpoint_from_bundle
    >>> ckpt = checkpoint_from_bundle("runtime/models/drums_2bar")
    >>> ckpt["unbundled"]["max_abs_diff"]["decoder_step"] < 1e-3
    True
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from runtime.decoding import DECODINGS, segment_model_name

#: float32 holds every integer up to 2**24 exactly: the index export's limit on a model's size
MAX_ELEMENTS = 2 ** 24


class UnbundleError(ValueError):
    """A bundle whose weights cannot be read back (one line)."""


def is_bundle(path) -> bool:
    """A folder with a model.json (and no training checkpoint in it)."""
    path = Path(path)
    return path.is_dir() and (path / "model.json").is_file() and not (path / "checkpoint.pt").exists()


def _config(meta: dict, folder: Path):
    """The training Config of the bundle: its named config (model.json ``training.config``)
    with the bundle's model and codec blocks, or a bare one named after the bundle."""
    from runtime.codecs import codec_from_config
    from training.models import model_class
    from training.registry import CONFIGS, Config, ConfigError, _build, get_config

    block = meta.get("model") or {}
    values = dict(block.get("config") or {})
    try:
        model_cfg = _build(model_class(values.get("kind", "")).config_class, values, "model")
    except (ValueError, TypeError, ConfigError) as exc:
        raise UnbundleError(f"{folder.name}: its model.json model block does not build a model "
                            f"({str(exc).splitlines()[0]})") from None
    try:
        codec = codec_from_config(meta["codec"])
    except (KeyError, ValueError, TypeError) as exc:
        raise UnbundleError(f"{folder.name}: its codec block is not readable ({exc})") from None
    name = (meta.get("training") or {}).get("config")
    config = get_config(name) if name in CONFIGS else Config(name=f"bundle:{meta.get('name', folder.name)}",
                                                             model=model_cfg)
    config.model, config.codec = model_cfg, codec.config()
    return config, codec


def _float_entries(model) -> list[tuple[str, torch.Tensor]]:
    return [(n, t) for n, t in model.state_dict().items() if t.is_floating_point()]


def _fill(entries, sign: float) -> None:
    start = 1
    with torch.no_grad():
        for _, tensor in entries:
            n = tensor.numel()
            tensor.copy_(sign * torch.arange(start, start + n, dtype=torch.float64)
                         .reshape(tensor.shape).to(tensor.dtype))
            start += n


def _exported(graphs, folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every float initializer of each graph exported into ``folder``, by graph key."""
    import onnx

    from training.export import _export_one
    from training.float16 import stored_weights

    out = {}
    for graph in graphs:
        path = folder / f"{graph.key}.onnx"
        _export_one(graph, path)
        out[graph.key] = stored_weights(onnx.load(str(path)))   # float32: indexes < 2**24 exact
    return out


def _example_tokens(folder: Path, z_size: int) -> np.ndarray:
    """A few windows the bundle itself plays (prior samples): the example inputs the graphs
    are cut and checked on, shaped as its codec's tokens."""
    from runtime.engine import Engine, EngineError

    try:
        engine = Engine.load(folder, threads=1)
        z = np.random.default_rng(0).standard_normal((4, z_size)).astype(np.float32)
        return np.asarray(engine.decode_tokens(z, 1.0, seed=0))
    except EngineError as exc:   # the bundle loader's line, about the folder given
        raise UnbundleError(str(exc).replace(str(folder), folder.name)) from None


def checkpoint_from_bundle(folder) -> dict:
    """A training checkpoint dict (training/train.py's format, without an optimizer) holding
    the weights of the bundle in ``folder``; ``ckpt["unbundled"]`` says what was read and how
    close the rebuilt model runs to the bundle's graphs. Raises :class:`UnbundleError`."""
    from training.export import (ExportError, _session, build_graphs, graph_parity,
                                 judge_parity, model_decoding, plan_export, trace_rollout)
    from training.float16 import stored_weights
    from training.models import build_model
    from training.train import CHECKPOINT_FORMAT

    import onnx

    folder = Path(folder)
    try:
        meta = json.loads((folder / "model.json").read_text())
    except (OSError, ValueError) as exc:
        raise UnbundleError(f"{folder.name}: no readable model.json ({type(exc).__name__})") from None
    if meta.get("kind") in DECODINGS and DECODINGS[meta["kind"]].windowed:
        short = segment_model_name(meta)
        raise UnbundleError(f"{folder.name}: a {meta['kind']} bundle ({short} window by window "
                            f"and a prior over its codes) holds no one model to train on; start "
                            f"from {short}, or train the prior again with python -m "
                            f"training.segments")
    config, codec = _config(meta, folder)
    torch.manual_seed(0)
    model = build_model(config.model).eval()
    entries = _float_entries(model)
    total = sum(t.numel() for _, t in entries)
    if total >= MAX_ELEMENTS:
        raise UnbundleError(f"{folder.name}: {total:,} weights, more than the {MAX_ELEMENTS:,} "
                            f"this reader can index")
    fresh = {n: t.clone() for n, t in entries}
    tokens = _example_tokens(folder, int(meta.get("z_size") or config.model.z_size))
    try:
        decoding = model_decoding(model, meta.get("kind"))
        plan = plan_export(model, decoding, codec, tokens, meta.get("bars"),
                           int(meta.get("steps_per_bar") or 16),
                           int((meta.get("decoding") or {}).get("notes") or 0))
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            z = model.encode(plan.x, plan.lengths)[0].float()
            _, calls = trace_rollout(model, decoding, z, plan.length)
            graphs = build_graphs(model, decoding, plan.x, plan.lengths, calls)
            with tempfile.TemporaryDirectory(prefix="lb-unbundle-") as tmp:
                _fill(entries, 1.0)
                up = _exported(graphs, Path(tmp))
                _fill(entries, -1.0)
                down = _exported(graphs, Path(tmp))
    except ExportError as exc:
        raise UnbundleError(f"{folder.name}: {exc}") from None

    flat = np.full(total, np.nan, np.float64)
    for graph in graphs:
        spec = (meta.get("graphs") or {}).get(graph.key)
        if not spec:
            raise UnbundleError(f"{folder.name}: model.json lists no {graph.key} graph")
        try:
            stored = stored_weights(onnx.load(str(folder / spec["file"])))
        except Exception as exc:  # noqa: BLE001 - onnx raises several types
            raise UnbundleError(f"{folder.name}: {spec.get('file')} is not a readable ONNX "
                                f"graph ({type(exc).__name__})") from None
        for name, pos in up[graph.key].items():
            neg = down[graph.key].get(name)
            if not np.issubdtype(pos.dtype, np.floating) or neg is None:
                continue
            pos, neg = pos.astype(np.float64), neg.astype(np.float64)
            if np.array_equal(pos, neg):
                continue            # a constant of the graph, no weight in it
            copied = (pos == -neg) & (pos >= 1) & (pos <= total) & (pos == np.round(pos))
            if not copied.all():
                raise UnbundleError(f"{folder.name}: {graph.key}'s {name} is computed from the "
                                    f"weights, not copied: they cannot be read back")
            if name not in stored or stored[name].shape != pos.shape:
                raise UnbundleError(f"{folder.name}: {spec['file']} has no weight {name} of "
                                    f"shape {list(pos.shape)} (exported by another version?)")
            flat[pos.astype(np.int64).ravel() - 1] = stored[name].ravel()

    state, start, missing = {}, 0, []
    for name, tensor in entries:
        n = tensor.numel()
        values = flat[start:start + n]
        start += n
        got = ~np.isnan(values)
        if not got.any():
            missing.append(name)
        values = np.where(got, values, fresh[name].double().numpy().ravel())
        state[name] = torch.from_numpy(values.reshape(tuple(tensor.shape))).to(tensor.dtype)
    model.load_state_dict(state, strict=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parity = {}
            for graph in graphs:
                parity.update(graph_parity(graph, folder / meta["graphs"][graph.key]["file"]))
            judge_parity(parity, {g.key: g for g in graphs})
    except ExportError as exc:
        raise UnbundleError(f"{folder.name}: the rebuilt model does not run as the bundle: "
                            f"{exc}") from None
    finally:
        _session.cache_clear()   # the export's sessions are cached by path: none kept open
    training = meta.get("training") or {}
    return {"format": CHECKPOINT_FORMAT, "step": int(training.get("steps", 0) or 0),
            "model": model.state_dict(), "config": config.to_dict(), "codec": codec.config(),
            "unbundled": {"bundle": meta.get("name", folder.name), "weights": total,
                          "stored_as": (meta.get("export") or {}).get("weights", "float32"),
                          "not_in_graphs": missing,
                          "max_abs_diff": {k: float(v) for k, v in parity.items()}}}


def summary(ckpt: dict) -> str:
    """One line: what was read back, and how close it runs to the bundle."""
    info = ckpt["unbundled"]
    worst = max(info["max_abs_diff"].values(), default=0.0)
    line = (f"{info['bundle']}: {info['weights']:,} weights read back ({info['stored_as']}), "
            f"graphs match within {worst:.1e}")
    if info["not_in_graphs"]:
        line += f"; not in any graph, left as initialised: {', '.join(info['not_in_graphs'])}"
    return line


def build_parser():
    from runtime.cli import Parser

    parser = Parser(prog="python -m training.unbundle", description=__doc__.split("\n\n")[0],
                    examples=["python -m training.unbundle runtime/models/mel_16bar -o "
                              "runs/mel_16bar_shipped.pt",
                              "python -m training.train lb-mel_2bar --data data/mine -o runs/mine "
                              "--init-from runtime/models/mel_2bar   # the same, in a run"])
    parser.add_argument("bundle", help="a bundle folder (model.json + ONNX graphs)")
    parser.add_argument("-o", "--out", required=True,
                        help="the checkpoint file to write (no default: required)")
    return parser


def main(argv=None) -> int:
    from runtime.cli import fail
    from runtime.files import atomic_path

    args = build_parser().parse_args(argv)
    folder, out = Path(args.bundle), Path(args.out)
    if not (folder / "model.json").is_file():
        return fail(f"{folder.name or folder}: not a bundle folder (no model.json)")
    try:
        ckpt = checkpoint_from_bundle(folder)
        with atomic_path(out) as tmp:
            torch.save(ckpt, tmp)
    except UnbundleError as exc:
        return fail(exc)
    except OSError as exc:
        return fail(f"cannot write {out.name}: {exc.strerror}")
    print(f"{summary(ckpt)} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
