"""Store an exported bundle's weights as float16: half the bytes, the same float32 arithmetic.

    python -m training.float16 runtime/models/mel_16bar

Every float32 weight (initializer) of at least ``MIN_ELEMENTS`` values is stored as float16 and
turned back into float32 by a ``Cast`` node at the start of its graph; onnxruntime folds those
casts once when it opens the session, so the graphs' inputs, outputs, state and arithmetic stay
float32 and the engine needs nothing new. The weights lose their last 13 mantissa bits (a
relative error under 5e-4), so argmax decoding can differ from the float32 graphs at near-ties:
score the converted bundle (``python -m training.evaluate BUNDLE --data ... --record``), not the
checkpoint. ``model.json`` records ``"weights": "float16"`` under ``export`` and the new
checksums.

Each graph is rewritten through a temporary file and renamed into place; a bundle that is
already float16 is left as it is.

    >>> from training.float16 import store_float16
    >>> saved = store_float16("runtime/models/mel_16bar")       # bytes saved
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


def _halve(model) -> int:
    """Rewrite one ONNX model in place in memory; returns how many tensors were converted."""
    from onnx import TensorProto, helper, numpy_helper

    graph, casts, converted = model.graph, [], 0
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < MIN_ELEMENTS:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16),
                                       f"{init.name}__float16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                      name=f"{init.name}__to_float32"))
        converted += 1
    for i, node in enumerate(casts):
        graph.node.insert(i, node)
    return converted


def store_float16(bundle) -> int:
    """Convert every graph of ``bundle`` (a folder with model.json); returns the bytes saved."""
    import onnx

    folder = Path(bundle)
    meta_path = folder / "model.json"
    meta = json.loads(meta_path.read_text())
    if meta.get("export", {}).get("weights") == "float16":
        return 0
    saved = 0
    for spec in meta["graphs"].values():
        path = folder / spec["file"]
        before = path.stat().st_size
        model = onnx.load(str(path))
        if _halve(model):
            with atomic_path(path) as tmp:
                onnx.save(model, str(tmp))
            if spec.get("sha256"):
                spec["sha256"] = sha256(path)
        saved += before - path.stat().st_size
    meta.setdefault("export", {})["weights"] = "float16"
    atomic_write(meta_path, (json.dumps(meta, indent=2) + "\n").encode())
    return saved


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.float16",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="an exported bundle folder (model.json + ONNX graphs)")
    args = parser.parse_args(argv)
    folder = Path(args.bundle)
    if not (folder / "model.json").is_file():
        print(f"error: {folder.name or folder} is not a bundle folder (no model.json)",
              file=sys.stderr)
        return 2
    try:
        saved = store_float16(folder)
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {folder.name}: {err}", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    print(f"{folder.name}: weights stored as float16 ({saved / 1e6:.1f} MB saved, "
          f"{size / 1e6:.1f} MB now)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
