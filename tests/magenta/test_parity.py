"""Imported Magenta.js checkpoints decode and encode exactly as @magenta/music does.

Each test writes a small MusicVAE checkpoint with random weights in Magenta.js' own layout
(config.json + weights_manifest.json + shard), runs the real @magenta/music 1.23.1 on it under
node (tests/magenta/mvae_harness.js), imports it with training.import_magenta and compares:
argmax tokens for the same z (identical), the mean of z for the same real clip (within 1e-4),
and the notes the two data converters make of the tokens.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from runtime.codecs import codec_from_config
from runtime.engine import Engine
from runtime.midi_io import read_midi
from runtime.quantize import quantize
from training import import_magenta as im

_spec = importlib.util.spec_from_file_location("lb_magenta_js", Path(__file__).with_name(
    "magenta_js.py"))
mjs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mjs)

Z = 8
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def node_modules() -> Path:
    return mjs.ensure_magenta_js()


def latent_codes(n: int = 4, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, Z)).astype(np.float32)


def melody_clip(shared_data: Path, bars: int = 2):
    """Bars 2.. of a real Nottingham reel (monophonic, 4/4, inside 21..108)."""
    clip = quantize(read_midi(shared_data / "nottingham" / "melody" / "reelsu-z23.mid"), 4)
    return clip.slice(4.0, 4.0 + 4 * bars)


def drum_clip(shared_data: Path, codec, bars: int = 2):
    """A real Groove MIDI beat, keeping only pitches the checkpoint's drum table maps."""
    path = sorted(glob.glob(str(shared_data / "groove" / "drummer1" / "*" / "*beat_4-4.mid")))[0]
    clip = quantize(read_midi(path), 4).slice(0.0, 4.0 * bars)
    return clip.copy(notes=[n for n in clip.notes if n.pitch in codec.class_of])


def js_tokens(result: dict, depths: list[int]) -> np.ndarray:
    """Argmax per part of Magenta.js' one-hot decoder output -> [B, T] or [B, T, parts]."""
    outputs = np.asarray(result["outputs"])
    bounds = np.cumsum([0] + depths)
    parts = [outputs[..., a:b].argmax(-1) for a, b in zip(bounds[:-1], bounds[1:])]
    return parts[0] if len(parts) == 1 else np.stack(parts, -1)


def js_notes(note_sequence: dict) -> list[tuple]:
    return sorted((n["pitch"], int(n.get("quantizedStartStep", 0)), int(n["quantizedEndStep"]))
                  for n in note_sequence["notes"])


def our_notes(clip) -> list[tuple]:
    return sorted((n.pitch, round(n.start * 4), round(n.end * 4)) for n in clip.notes)


def test_flat_melody_bundle_matches_magenta_js(tmp_path, node_modules, shared_data):
    ckpt_dir = tmp_path / "mel_2bar"
    mjs.random_checkpoint(ckpt_dir, "melody", seed=0, bars=2, z=Z)
    clip = melody_clip(shared_data)
    z = latent_codes()
    js = mjs.run_magenta_js(node_modules, ckpt_dir, z=z, sequences=[mjs.note_sequence(clip)])

    im.import_bundle(ckpt_dir, tmp_path / "bundle")
    engine = Engine.load(tmp_path / "bundle")
    assert (engine.kind, engine.bars, engine.z_size) == ("flat", 2, Z)

    tokens = engine.decode_tokens(z, temperature=0.0)
    np.testing.assert_array_equal(tokens, js_tokens(js, [90]))
    # the two melody converters turn the same tokens into the same notes
    for ours, theirs in zip(engine.decode(z, temperature=0.0), js["decoded"]):
        assert our_notes(ours) == js_notes(theirs)

    # encoding: same model input from the same real clip, same mean of z
    np.testing.assert_array_equal(engine.codec.to_input(engine.tokens(clip)),
                                  np.asarray(js["converted"][0], np.float32))
    np.testing.assert_allclose(engine.encode([clip]), np.asarray(js["mu"]), atol=1e-4, rtol=0)


def test_hierarchical_melody_matches_magenta_js(tmp_path, node_modules, shared_data):
    """Conductor + bar decoder (the previous token carries over the bar line) and Magenta.js'
    2-level hierarchical encoder; checked through the exported bundle. Weights stored as
    uint16 (like the published ``_q2`` checkpoints): both sides dequantise alike."""
    ckpt_dir = tmp_path / "hier_mel"
    mjs.random_checkpoint(ckpt_dir, "hier_melody", seed=3, bars=2, z=Z, quantize="uint16")
    clip = melody_clip(shared_data)
    z = latent_codes(seed=4)
    js = mjs.run_magenta_js(node_modules, ckpt_dir, z=z, sequences=[mjs.note_sequence(clip)])
    assert js["numSegments"] == 2

    ckpt = im.load_checkpoint(ckpt_dir)
    assert ckpt.arch.hierarchical and ckpt.arch.conductor_units == [32, 32]
    im.import_bundle(ckpt_dir, tmp_path / "bundle")
    engine = Engine.load(tmp_path / "bundle")
    assert engine.kind == "hierarchical"
    np.testing.assert_array_equal(engine.decode_tokens(z, temperature=0.0), js_tokens(js, [90]))
    np.testing.assert_allclose(engine.encode([clip]), np.asarray(js["mu"]), atol=1e-4, rtol=0)


def test_drums_match_magenta_js(tmp_path, node_modules, shared_data):
    """512-way drums: decoding is identical. Encoding: the encoder network agrees on our drum
    roll; Magenta.js' own DrumsConverter writes its "no hit" column one step early (it sets
    TensorBuffer index -1 of the *next* row), which we do not copy."""
    ckpt_dir = tmp_path / "drums_2bar"
    mjs.random_checkpoint(ckpt_dir, "drums", seed=5, bars=2, z=Z)
    ckpt = im.load_checkpoint(ckpt_dir)
    codec = codec_from_config(ckpt.codec_config())
    assert codec.pitch_classes == im.DEFAULT_DRUM_PITCH_CLASSES  # Magenta.js' table, not ours
    clip = drum_clip(shared_data, codec)
    roll = codec.to_input(codec.encode(clip))
    z = latent_codes(seed=6)
    js = mjs.run_magenta_js(node_modules, ckpt_dir, z=z, sequences=[mjs.note_sequence(clip)],
                            inputs=roll[None])

    im.import_bundle(ckpt_dir, tmp_path / "bundle")
    engine = Engine.load(tmp_path / "bundle")
    tokens = engine.decode_tokens(z, temperature=0.0)  # feeds back the 512-way one-hot
    np.testing.assert_array_equal(tokens, js_tokens(js, [512]))
    for row, theirs in zip(tokens, js["decoded"]):
        assert our_notes(codec.decode(row)) == js_notes(theirs)

    np.testing.assert_array_equal(engine.codec.to_input(engine.tokens(clip)), roll)
    np.testing.assert_allclose(engine.encode([clip]), np.asarray(js["inputs_mu"]), atol=1e-4,
                               rtol=0)

    converted = np.asarray(js["converted"][0], np.float32)
    np.testing.assert_array_equal(converted[:, :9], roll[:, :9])  # the same hits
    np.testing.assert_array_equal(converted[:-1, 9], roll[1:, 9])  # "no hit" shifted by one
    assert converted[-1, 9] == 0


def trio_clip(shared_data: Path, drum_codec, bars: int = 2):
    """Real parts side by side: the reel as melody, the same line two octaves down on a bass
    program, and a Groove MIDI beat."""
    melody = melody_clip(shared_data, bars)
    bass = [replace(n, pitch=n.pitch - 24, program=33) for n in melody.notes]
    # One hit per drum class and step: Magenta.js' DrumsOneHotConverter *adds* 2**class per
    # note, so two hits of one class on one step carry into the next bit (Magenta and we OR).
    drums, seen = [], set()
    for n in drum_clip(shared_data, drum_codec, bars).notes:
        key = (round(n.start * 4), drum_codec.class_of[n.pitch])
        if key not in seen:
            seen.add(key)
            drums.append(n)
    return melody.copy(notes=melody.notes + bass + drums)


def test_hierarchical_trio_matches_magenta_js(tmp_path, node_modules, shared_data):
    """hierdec-trio: three bar decoders (melody, bass, drums) under one conductor, each carrying
    its own previous token over the bar line; the encoder reads the drums as a 512-way one-hot.
    Weights stored as uint8 (like the published ``trio_4bar`` ``_q1``)."""
    ckpt_dir = tmp_path / "trio"
    mjs.random_checkpoint(ckpt_dir, "hier_trio", seed=7, bars=2, z=Z, enc=16, dec=(16,),
                          quantize="uint8")
    im.import_bundle(ckpt_dir, tmp_path / "bundle")
    engine = Engine.load(tmp_path / "bundle")
    clip = trio_clip(shared_data, engine.codec.drums)
    z = latent_codes(seed=8)
    js = mjs.run_magenta_js(node_modules, ckpt_dir, z=z, sequences=[mjs.note_sequence(clip)])

    tokens = engine.decode_tokens(z, temperature=0.0)
    assert tokens.shape == (len(z), 32, 3)
    np.testing.assert_array_equal(tokens, js_tokens(js, [90, 90, 512]))
    np.testing.assert_array_equal(engine.codec.to_input(engine.tokens(clip)),
                                  np.asarray(js["converted"][0], np.float32))
    np.testing.assert_allclose(engine.encode([clip]), np.asarray(js["mu"]), atol=1e-4, rtol=0)


# -- reading checkpoints -----------------------------------------------------------------------

def test_quantized_and_sharded_weights_are_read(tmp_path):
    """TF.js' uint8 affine quantisation and weights split over several shard files."""
    values = np.linspace(-1.0, 1.0, 300, dtype=np.float32)
    scale, low = 2.0 / 255, -1.0
    q = np.round((values - low) / scale).astype(np.uint8)
    plain = np.arange(7, dtype=np.float32)
    blob = q.tobytes() + plain.tobytes()
    (tmp_path / "a").write_bytes(blob[:100])
    (tmp_path / "b").write_bytes(blob[100:])
    (tmp_path / "weights_manifest.json").write_text(json.dumps([{"paths": ["a", "b"], "weights": [
        {"name": "q", "shape": [3, 100], "dtype": "float32",
         "quantization": {"dtype": "uint8", "scale": scale, "min": low}},
        {"name": "plain", "shape": [7], "dtype": "float32"}]}]))
    weights = im.read_tfjs_weights(tmp_path)
    np.testing.assert_allclose(weights["q"].ravel(), values, atol=scale / 2 + 1e-6)
    np.testing.assert_array_equal(weights["plain"], plain)


def test_lstm_layout_round_trip():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(5 + 3, 12)).astype(np.float32)
    bias = rng.normal(size=12).astype(np.float32)
    wi, wh, bi, bh = im.tf_lstm_to_torch(kernel, bias)
    assert wi.shape == (12, 5) and wh.shape == (12, 3)
    # torch's forget gate (rows 3..5) is TF's third block plus the run-time forget bias
    np.testing.assert_allclose(bi[3:6], bias[6:9] + 1.0)
    k2, b2 = im.torch_lstm_to_tf(wi, wh, bi, bh)
    np.testing.assert_array_equal(k2, kernel)
    np.testing.assert_allclose(b2, bias, atol=1e-6)


# -- the command line on bad input ---------------------------------------------------------------

def _run_cli(capsys, *argv) -> tuple[int, str]:
    code = im.main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize("breakage, message", [
    ("no_folder", "not a folder"),
    ("no_config", "config.json: missing"),
    ("wrong_type", "not 'MusicVAE'"),
    ("multitrack", "multitrack models are not supported"),
    ("chords", "chord-conditioned models"),
    ("truncated_shard", "shards end before"),
    ("missing_variable", "decoder/output_projection/bias is missing"),
    ("control_inputs", "conditioned models (control inputs) are not supported"),
])
def test_broken_checkpoints_get_one_line(tmp_path, capsys, breakage, message):
    ckpt = tmp_path / "ckpt"
    config = mjs.random_checkpoint(ckpt, "melody", bars=1, z=4, enc=4, dec=(4,))
    if breakage == "no_folder":
        ckpt = tmp_path / "nothing here"
    elif breakage == "no_config":
        (ckpt / "config.json").unlink()
    elif breakage in ("wrong_type", "multitrack", "chords"):
        if breakage == "wrong_type":
            config["type"] = "MusicRNN"
        elif breakage == "multitrack":
            config["dataConverter"]["type"] = "MultitrackConverter"
        else:
            config["chordEncoder"] = "PitchChordEncoder"
        (ckpt / "config.json").write_text(json.dumps(config))
    elif breakage == "truncated_shard":
        shard = ckpt / "group1-shard1of1"
        shard.write_bytes(shard.read_bytes()[:-struct.calcsize("f") * 3])
    elif breakage == "missing_variable":
        manifest = json.loads((ckpt / "weights_manifest.json").read_text())
        last = manifest[0]["weights"][-1]
        assert last["name"] == "decoder/output_projection/bias"
        manifest[0]["weights"].pop()
        (ckpt / "weights_manifest.json").write_text(json.dumps(manifest))
    elif breakage == "control_inputs":  # e.g. mel_multicontrol: 12 more decoder inputs
        weights = im.read_tfjs_weights(ckpt)
        name = "decoder/multi_rnn_cell/cell_0/lstm_cell/kernel"
        weights[name] = np.concatenate([weights[name], np.zeros((12, 16), np.float32)])
        im.write_tfjs_checkpoint(ckpt, config, weights)
    code, err = _run_cli(capsys, ckpt, tmp_path / "out")
    assert code == 2
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_cli_pt_only_writes_a_loadable_checkpoint(tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    mjs.random_checkpoint(ckpt, "melody", bars=1, z=4, enc=8, dec=(8,))
    code, _ = _run_cli(capsys, ckpt, tmp_path / "mel.pt", "--pt-only")
    assert code == 0
    saved = torch.load(tmp_path / "mel.pt", weights_only=True)
    assert saved["model_config"]["z_size"] == 4 and saved["codec"]["name"] == "melody"
    model = im.convert(im.load_checkpoint(ckpt))
    for name, value in model.state_dict().items():
        assert torch.equal(saved["model_state"][name], value)
