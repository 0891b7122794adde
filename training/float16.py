"""Store an exported bundle's weights as float16 or int8: a half or a quarter of the bytes, the
same float32 arithmetic.

    python -m training.float16 runtime/models/mel_16bar            # float16
    python -m training.float16 runtime/models/trio_16bar --int8    # int8, a scale per row

Every float32 weight (initializer) of at least ``MIN_ELEMENTS`` values is stored as float16 and
turned back into float32 by a ``Cast`` node at the start of its graph; onnxruntime folds those
casts once when it opens the session, so the graphs' inputs, outputs, state and arithmetic stay
float32 and the engine needs nothing new. The weights lose their last 13 mantissa bits (a
relative error under 5e-4), so argmax decoding can differ from the float32 graphs at near-ties:
score the converted bundle (``python -m training.evaluate BUNDLE --data ... --record``), not the
checkpoint. ``model.json`` records ``"weights": "float16"`` under ``export`` and the new
checksums.

``--int8`` (weight-only quantization) stores each such weight matrix as int8 with one float32
scale per row (the row's largest magnitude / 127; a row is a slice along the second-to-last
axis: an output unit of a dense layer, one gate row of an LSTM), turned back into float32 by a
``DequantizeLinear`` node; biases and vectors stay float32. The error is up to half a step of
the row's scale (1/254 of its largest weight), so score the bundle again as for float16. The
engine opens sessions with onnxruntime's QDQ handling off (``session.disable_quant_qdq``), so
those nodes are folded into float32 weights once, like the casts, and decoding is as fast as
float32. It starts from a float32 export (a float16 bundle is refused: export it again).

Each graph is rewritten through a temporary file and renamed into place; a bundle that is
already converted is left as it is.

    >>> from training.float16 import store_float16
    >>> saved = store_float16("runtime/models/mel_16bar")       # bytes saved
    >>> saved = store_float16("runtime/models/trio_16bar", int8=True)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from runtime.bundle import sha256
from runtime.files import atomic_path, atomic_write

#: smaller tensors (biases, scalars) stay float32: they cost nothing and keep exact zeros/ones
MIN_ELEMENTS = 256


def _rewrite(model, stored_as) -> int:
    """Store the large float32 weights of one ONNX model in place in memory: ``stored_as(name,
    weight)`` gives the tensors to keep and the node that turns them back into ``name``
    (float32), or None to leave a weight as it is. The nodes go first in the graph. Returns how
    many weights were converted."""
    from onnx import TensorProto, numpy_helper

    graph, nodes = model.graph, []
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < MIN_ELEMENTS:
            continue
        converted = stored_as(init.name, numpy_helper.to_array(init).astype(np.float32))
        if converted is None:
            continue
        tensors, node = converted
        graph.initializer.remove(init)
        graph.initializer.extend(tensors)
        nodes.append(node)
    for i, node in enumerate(nodes):
        graph.node.insert(i, node)
    return len(nodes)


#: the names a stored weight's tensors take beside its own (written below, read by stored_weights)
HALF, INT8, SCALE, ZERO = "__float16", "__int8", "__scale", "__zero"


def _as_float16(name: str, weight: np.ndarray):
    """A weight as float16 and a ``Cast`` back to float32."""
    from onnx import TensorProto, helper, numpy_helper

    half = numpy_helper.from_array(weight.astype(np.float16), f"{name}{HALF}")
    return [half], helper.make_node("Cast", [half.name], [name], to=TensorProto.FLOAT,
                                    name=f"{name}__to_float32")


def _as_int8(name: str, weight: np.ndarray):
    """A weight matrix as int8 with a float32 scale per row (a slice along the second-to-last
    axis) and a ``DequantizeLinear`` back to float32; vectors stay as they are (None)."""
    from onnx import helper, numpy_helper

    if weight.ndim < 2:
        return None
    axis = weight.ndim - 2
    shape = [1] * weight.ndim
    shape[axis] = -1
    scale = np.abs(weight).max(axis=tuple(i for i in range(weight.ndim) if i != axis)) / 127
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    values = np.clip(np.round(weight / scale.reshape(shape)), -127, 127).astype(np.int8)
    tensors = [numpy_helper.from_array(values, f"{name}{INT8}"),
               numpy_helper.from_array(scale, f"{name}{SCALE}"),
               numpy_helper.from_array(np.zeros(len(scale), np.int8), f"{name}{ZERO}")]
    return tensors, helper.make_node("DequantizeLinear", [t.name for t in tensors], [name],
                                     axis=axis, name=f"{name}__to_float32")


def stored_weights(model) -> dict[str, np.ndarray]:
    """Every float initializer of one ONNX model as float32, by the name its graph uses: a
    weight stored as float16 or int8 (above) under its own name again, as the graph computes
    it once the ``Cast`` / ``DequantizeLinear`` ran (training/unbundle.py reads them back)."""
    from onnx import numpy_helper

    tensors = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    weights = {}
    for name, value in tensors.items():
        if name.endswith(HALF):
            weights[name[:-len(HALF)]] = value.astype(np.float32)
        elif name.endswith(INT8):
            base = name[:-len(INT8)]
            shape = [1] * value.ndim
            shape[value.ndim - 2] = -1
            scale = tensors[f"{base}{SCALE}"].astype(np.float32).reshape(shape)
            zero = tensors[f"{base}{ZERO}"].astype(np.float32).reshape(shape)
            weights[base] = ((value.astype(np.float32) - zero) * scale).astype(np.float32)
        elif value.dtype in (np.float32, np.float64, np.float16) and not name.endswith(
                (SCALE, ZERO)):
            weights[name] = value.astype(np.float32)
    return weights


def store_float16(bundle, int8: bool = False) -> int:
    """Convert every graph of ``bundle`` (a folder with model.json) to float16 weights (``int8``:
    int8 weight matrices); returns the bytes saved."""
    import onnx

    folder = Path(bundle)
    meta_path = folder / "model.json"
    meta = json.loads(meta_path.read_text())
    kind = "int8" if int8 else "float16"
    stored = meta.get("export", {}).get("weights")
    if stored == kind:
        return 0
    if stored not in (None, "float32"):
        raise ValueError(f"its weights are {stored} already; export it again for {kind}")
    saved = 0
    for spec in meta["graphs"].values():
        path = folder / spec["file"]
        before = path.stat().st_size
        model = onnx.load(str(path))
        if _rewrite(model, _as_int8 if int8 else _as_float16):
            with atomic_path(path) as tmp:
                onnx.save(model, str(tmp))
            if spec.get("sha256"):
                spec["sha256"] = sha256(path)
        saved += before - path.stat().st_size
    meta.setdefault("export", {})["weights"] = kind
    atomic_write(meta_path, (json.dumps(meta, indent=2) + "\n").encode())
    return saved


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.float16",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="an exported bundle folder (model.json + ONNX graphs)")
    parser.add_argument("--int8", action="store_true",
                        help="int8 weight matrices with a float32 scale per row (a quarter of "
                             "the bytes) instead of float16")
    args = parser.parse_args(argv)
    folder = Path(args.bundle)
    if not (folder / "model.json").is_file():
        print(f"error: {folder.name or folder} is not a bundle folder (no model.json)",
              file=sys.stderr)
        return 2
    try:
        saved = store_float16(folder, int8=args.int8)
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {folder.name}: {err}", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    print(f"{folder.name}: weights stored as {'int8' if args.int8 else 'float16'} "
          f"({saved / 1e6:.1f} MB saved, "
          f"{size / 1e6:.1f} MB now)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
