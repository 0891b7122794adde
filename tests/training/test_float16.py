"""training.float16: a shipped bundle with float16 weights loads, is about half the size and
decodes like the float32 one."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from runtime.engine import Engine
from runtime.midi_io import read_midi
from training.float16 import main, store_float16

REPO = Path(__file__).resolve().parents[2]


def _graph_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.onnx"))


def test_float16_weights_halve_a_shipped_bundle_and_decode_alike(tmp_path, shared_data):
    original = REPO / "runtime" / "models" / "drums_2bar"
    bundle = tmp_path / "drums_2bar"
    shutil.copytree(original, bundle)
    before = _graph_bytes(bundle)
    saved = store_float16(bundle)
    assert saved == before - _graph_bytes(bundle)
    assert _graph_bytes(bundle) < 0.6 * before, (before, _graph_bytes(bundle))
    meta = json.loads((bundle / "model.json").read_text())
    assert meta["export"]["weights"] == "float16"
    assert store_float16(bundle) == 0                        # already converted: unchanged

    full, half = Engine.load(original), Engine.load(bundle)  # checksums verified on load
    for name, spec in meta["graphs"].items():                # the graphs' interface is float32
        old = json.loads((original / "model.json").read_text())["graphs"][name]
        assert spec["inputs"] == old["inputs"] and spec["outputs"] == old["outputs"]
    takes = [read_midi(p) for p in sorted(
        (shared_data / "groove" / "drummer1" / "session1").glob("*beat_4-4.mid"))[:6]]
    z_full, z_half = full.encode(takes), half.encode(takes)
    assert np.abs(z_full - z_half).max() < 2e-2 * max(1.0, np.abs(z_full).max())
    assert not np.array_equal(z_full, z_half)                # the weights did change
    z = np.random.default_rng(0).standard_normal((32, full.z_size)).astype(np.float32)
    agree = (full.decode_tokens(z, temperature=0.0) == half.decode_tokens(z, temperature=0.0)).mean()
    assert agree > 0.99, agree


def test_float16_cli_refuses_a_folder_without_model_json(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model.json" in err and str(tmp_path.parent) not in err
