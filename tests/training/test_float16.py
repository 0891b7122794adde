"""training.float16: a shipped bundle with float16 weights loads, is about half the size and
decodes like the float32 one."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from runtime.engine import Engine
from runtime.midi_io import read_midi
from training.benchmark import note_scores
from training.float16 import main, store_float16

REPO = Path(__file__).resolve().parents[2]


def _graph_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.onnx"))


def test_float16_weights_halve_a_shipped_bundle_and_decode_alike(tmp_path, shared_data):
    original = REPO / "runtime" / "models" / "drums_1bar"
    bundle = tmp_path / "drums_1bar"
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


def test_int8_weights_quarter_a_shipped_bundle_and_decode_alike(tmp_path, shared_data):
    original = REPO / "runtime" / "models" / "drums_1bar"
    bundle = tmp_path / "drums_1bar"
    shutil.copytree(original, bundle)
    before = _graph_bytes(bundle)
    assert main([str(bundle), "--int8"]) == 0
    assert _graph_bytes(bundle) < 0.35 * before, (before, _graph_bytes(bundle))
    assert json.loads((bundle / "model.json").read_text())["export"]["weights"] == "int8"
    assert store_float16(bundle, int8=True) == 0              # already converted: unchanged
    with pytest.raises(ValueError, match="int8 already"):
        store_float16(bundle)                                  # float16 needs a float32 export

    full, small = Engine.load(original), Engine.load(bundle)
    takes = [read_midi(p) for p in sorted(   # 1-bar windows: a dozen takes, a few hundred hits
        (shared_data / "groove" / "drummer1" / "session1").glob("*beat_4-4.mid"))[:12]]
    z_full, z_small = full.encode(takes), small.encode(takes)
    assert np.abs(z_full - z_small).max() < 5e-2 * max(1.0, np.abs(z_full).max())
    assert not np.array_equal(z_full, z_small)
    # argmax decoding parts ways at more near-ties than float16's (a changed step changes the
    # steps after it), but the reconstructions of real takes score the same
    z = np.random.default_rng(0).standard_normal((32, full.z_size)).astype(np.float32)
    agree = (full.decode_tokens(z, temperature=0.0) == small.decode_tokens(z, temperature=0.0)).mean()
    assert agree > 0.85, agree
    target = np.stack([full.tokens(t) for t in takes])
    f1 = [note_scores(e.codec, e.decode_tokens(zs, temperature=0.0), target)["f1"]
          for e, zs in ((full, z_full), (small, z_small))]
    assert f1[0] > 0.5 and abs(f1[0] - f1[1]) < 0.03, f1


def test_the_engine_folds_int8_weights_into_float32_once(tmp_path):
    """The runtime's session options fold the DequantizeLinear of stored weights when the
    session opens (else every decoder step would dequantize every matrix again)."""
    import onnx
    import onnxruntime as ort

    from runtime.bundle import _session_options

    bundle = tmp_path / "mel_2bar"
    shutil.copytree(REPO / "runtime" / "models" / "mel_2bar", bundle)
    store_float16(bundle, int8=True)
    graph = bundle / "decoder_step.onnx"
    assert any(n.op_type == "DequantizeLinear" for n in onnx.load(str(graph)).graph.node)
    options = _session_options(1)
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(graph), sess_options=options, providers=["CPUExecutionProvider"])
    ops = {n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node}
    assert "DequantizeLinear" not in ops and ops, ops


def test_float16_cli_says_one_line_for_a_converted_bundle(tmp_path, capsys):
    bundle = tmp_path / "hier_mel_16bar"
    shutil.copytree(REPO / "runtime" / "models" / "hier_mel_16bar", bundle)   # float16 already
    assert main([str(bundle), "--int8"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "export it again" in err and str(tmp_path) not in err
