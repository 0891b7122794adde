"""The export's ONNX-vs-PyTorch check at the published sizes, where float32 rounding drifts.

Cause (issue 16: "ONNX differs from PyTorch by 1.59" on a 2048-unit encoder): an LSTM with large
weights carries a rounding difference forward and grows it step by step (about 1.4x per step
in a 2048-unit encoder with weight std 0.2), so after 32 steps PyTorch float32 is as far from
the same network in float64 as ONNX is from PyTorch. Gate order and forget bias were right: on
two-step sequences the two agree to 1e-5. The check now allows TOLERANCE + FLOAT32_SLACK x that
float32 drift, measured per graph; the two-step encoder check and the single decoder steps stay
strict, so a wrong export is still caught. Here at mel_2bar_small's published size (512 units,
the harness's weight std 0.4), which shows the same drift as the 2048-unit case in a second.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from runtime.codecs import codec_from_config
from training import export as ex
from training import import_magenta as im

_spec = importlib.util.spec_from_file_location(
    "lb_magenta_js", Path(__file__).resolve().parents[1] / "magenta" / "magenta_js.py")
mjs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mjs)
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def chaotic(tmp_path_factory):
    """mel_2bar_small's architecture (encoder 512, decoder 2x256, z 256) with weights of std 0.4."""
    folder = tmp_path_factory.mktemp("ckpt") / "mel_2bar_small"
    mjs.random_checkpoint(folder, "melody", seed=0, bars=2, z=256, enc=512, dec=(256, 256))
    return folder


def encoder_graph(folder: Path, out: Path):
    """(model, the encoder Graph on real example inputs, its ONNX file)."""
    ckpt = im.load_checkpoint(folder)
    model = im.convert(ckpt)
    codec = codec_from_config(ckpt.codec_config())
    tokens = im.prior_windows(model, ex.EXAMPLE_BATCH)
    x, lengths = ex._token_inputs("flat", codec, tokens)
    graph = ex.build_graphs(model, "flat", x, lengths)[0]
    ex._export_one(graph, out)
    ex._session.cache_clear()
    return model, graph, out


def test_import_at_the_published_size_passes_where_float32_drifts(chaotic, tmp_path):
    """The same failure as reported (hundreds of times the tolerance), now explained by the
    measured drift of PyTorch's own float32 run and accepted; the two-step check stays strict."""
    im.import_bundle(chaotic, tmp_path / "bundle")
    export = json.loads((tmp_path / "bundle" / "model.json").read_text())["export"]
    diff, noise = export["max_abs_diff"], export["float32_noise"]
    assert diff["encoder"] > 100 * ex.TOLERANCE         # what used to stop the import
    assert noise["encoder"] > 100 * ex.TOLERANCE        # PyTorch float32 vs float64, same inputs
    assert diff["encoder"] <= ex.TOLERANCE + ex.FLOAT32_SLACK * noise["encoder"]
    assert diff["encoder_two_steps"] < 1e-4             # no drift without a long recurrence
    assert max(diff[k] for k in ("decoder_init", "decoder_step", "decoder_rollout_steps")) < 1e-3
    assert export["rollout_tokens_identical"] is True


def test_the_drift_is_float32_rounding_growing_through_the_recurrence(chaotic, tmp_path):
    """Evidence: PyTorch float32 against float64, step by step in the forward LSTM; the error
    grows over the 32 steps by orders of magnitude, from float32's own resolution."""
    model, graph, _ = encoder_graph(chaotic, tmp_path / "encoder.onnx")
    x = graph.args[0]
    lstm = model.encoder.fw[0]
    with torch.no_grad():
        low, _ = lstm(x)
        high, _ = copy.deepcopy(lstm).double()(x.double())
    per_step = (low.double() - high).abs().amax(dim=(0, 2)).numpy()
    assert per_step[0] < 1e-6 and per_step[-1] > 1e-2
    assert per_step[-1] > 1e4 * per_step[0]


@pytest.mark.parametrize("breakage", ["gate_order", "forget_bias"])
def test_a_wrong_export_is_still_caught(chaotic, tmp_path, breakage):
    """The written graph against a PyTorch module that differs the way a bad LSTM export would
    (two gates swapped, the forget bias off by one): refused, although the whole-sequence
    difference of a drifting model is allowed to be large, where the honest module passes."""
    model, graph, path = encoder_graph(chaotic, tmp_path / "encoder.onnx")
    ex.judge_parity(ex.graph_parity(graph, path), {"encoder": graph})   # the real one passes
    lstm = model.encoder.fw[0]
    hidden = lstm.hidden_size
    with torch.no_grad():
        if breakage == "gate_order":                      # i, f, g, o read as f, i, g, o
            for p in (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0):
                p.copy_(torch.cat([p[hidden:2 * hidden], p[:hidden], p[2 * hidden:]]))
        else:
            lstm.bias_ih_l0[hidden:2 * hidden] -= 1.0
    parity = ex.graph_parity(graph, path)
    assert parity["encoder_two_steps"] > 10 * ex.TOLERANCE
    with pytest.raises(ex.ExportError, match="ONNX differs from PyTorch by"):
        ex.judge_parity(parity, {"encoder": graph})


def test_rollout_ties_float32_cannot_decide_are_accepted(tmp_path):
    """mel_16bar_small_q2's architecture with drifting weights: PyTorch float64 takes some
    argmax ties the other way than float32 (a different rollout, as the runtime may); such a
    rollout is accepted, one with a token that is no near-tie is not."""
    folder = tmp_path / "mel_16bar"
    mjs.random_checkpoint(folder, "hier_melody", seed=0, bars=16, z=256, enc=512,
                          dec=(256, 256), quantize="uint16")
    model = im.convert(im.load_checkpoint(folder))
    z = torch.from_numpy(np.random.default_rng(0).normal(size=(6, 256)).astype(np.float32))
    with torch.no_grad():
        low = model.sample(z, temperature=0.0).numpy()
        high = copy.deepcopy(model).double().sample(z.double(), temperature=0.0).numpy()
    assert (low != high).any(), "no float32 tie in these sequences: pick other codes"
    ties = ex.rollout_near_ties(model, "hierarchical", z, high)
    assert ties is not None and ties >= 1

    wrong = low.copy()
    wrong[0, 5] = (wrong[0, 5] + 7) % 90                  # a token PyTorch ranks far lower
    assert ex.rollout_near_ties(model, "hierarchical", z, wrong) is None
    assert ex.rollout_near_ties(model, "groove", z, low) is None   # no teacher-forced ties there
