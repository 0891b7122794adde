"""Imported Magenta.js checkpoints decode and encode exactly as @magenta/music does.

Each test writes a small MusicVAE checkpoint with random weights in Magenta.js' own layout
(config.json + weights_manifest.json + shard), runs the real @magenta/music 1.23.1 on it under
node (tests/magenta/mvae_harness.js), imports it with training.import_magenta (in Python, through
``main()`` and as ``python -m training.import_magenta``) and compares: argmax tokens for the same
z (identical), the notes the two data converters make of the tokens, and the mean of z: our
bundle's encoder graph on Magenta.js' own converted input gives MusicVAE.encode's mean (within
1e-4), and so does our whole encode path on the same real clip where the converters agree.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import struct
import subprocess
import sys
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
REPO = Path(__file__).resolve().parents[2]
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


def encode_converted(engine: Engine, js: dict) -> np.ndarray:
    """Our bundle's encoder graph on the tensors Magenta.js' own data converter made."""
    converted = np.asarray(js["converted"], np.float32)
    assert converted.shape == (len(js["mu"]), engine.total_steps, engine.codec.input_depth)
    return engine.run_encoder(converted, np.full(len(converted), engine.total_steps, np.int64))


def run_module_cli(*argv) -> subprocess.CompletedProcess:
    """``python -m training.import_magenta ARGV`` in a fresh interpreter, from the repository."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "training.import_magenta", *map(str, argv)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=240)


def test_flat_melody_bundle_matches_magenta_js(tmp_path, node_modules, shared_data, capsys):
    """Imported through the command line's entry point, ``main([ckpt_dir, out_dir])``."""
    ckpt_dir = tmp_path / "mel_2bar"
    mjs.random_checkpoint(ckpt_dir, "melody", seed=0, bars=2, z=Z)
    clip = melody_clip(shared_data)
    z = latent_codes()
    js = mjs.run_magenta_js(node_modules, ckpt_dir, z=z, sequences=[mjs.note_sequence(clip)])

    assert im.main([str(ckpt_dir), str(tmp_path / "bundle")]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'bundle'} (kind flat")
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
    np.testing.assert_allclose(encode_converted(engine, js), np.asarray(js["mu"]), atol=1e-4,
                               rtol=0)


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
    np.testing.assert_allclose(encode_converted(engine, js), np.asarray(js["mu"]), atol=1e-4,
                               rtol=0)


def test_drums_match_magenta_js(tmp_path, node_modules, shared_data):
    """512-way drums, imported as ``python -m training.import_magenta``: decoding is identical.
    Encoding: the encoder network agrees on both inputs, Magenta.js' encoder on our drum roll and
    our bundle's encoder on Magenta.js' own roll (MusicVAE.encode); the rolls differ only where
    Magenta.js' DrumsConverter writes its "no hit" column one step early (it sets TensorBuffer
    index -1 of the *next* row), which we do not copy."""
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

    proc = run_module_cli(ckpt_dir, tmp_path / "bundle")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(f"wrote {tmp_path / 'bundle'} (kind flat")
    assert "Traceback" not in proc.stderr
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
    assert not np.array_equal(converted, roll)  # the two inputs really differ ...
    # ... and on Magenta.js' own input our exported encoder gives MusicVAE.encode's mean
    np.testing.assert_allclose(encode_converted(engine, js), np.asarray(js["mu"]), atol=1e-4,
                               rtol=0)
    assert np.abs(np.asarray(js["mu"]) - np.asarray(js["inputs_mu"])).max() > 1e-3


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
    np.testing.assert_allclose(encode_converted(engine, js), np.asarray(js["mu"]), atol=1e-4,
                               rtol=0)


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


@pytest.mark.parametrize("kind", ["melody", "hier_melody"])
def test_sigma_is_softplus_of_the_checkpoints_sigma_dense(tmp_path, kind):
    """Magenta.js never computes sigma, so the parity tests cannot see it: check the converted
    model's sigma against numpy ``softplus(h @ K + b)`` with the checkpoint's own sigma kernel, on
    the encoder output ``h`` for random inputs (flat and 2-level hierarchical encoders)."""
    mjs.random_checkpoint(tmp_path / "ckpt", kind, seed=11, bars=2, z=Z, enc=16, dec=(16,))
    ckpt = im.load_checkpoint(tmp_path / "ckpt")
    assert ckpt.arch.has_sigma
    model = im.convert(ckpt)
    rng = np.random.default_rng(12)
    inputs = torch.from_numpy(rng.random((3, 32, ckpt.arch.input_depth), dtype=np.float32))
    lengths = torch.full((3,), 32, dtype=torch.int64)
    with torch.no_grad():
        final, _ = model.encoder(inputs, lengths)
        mu, sigma = model.encode(inputs, lengths)
    h = final.numpy().astype(np.float64)
    kernel, bias = ckpt.weights["encoder/sigma/kernel"], ckpt.weights["encoder/sigma/bias"]
    pre = h @ kernel + bias
    assert np.abs(pre).max() > 1.0  # far enough from 0 that softplus is not near-linear
    np.testing.assert_allclose(sigma.numpy(), np.logaddexp(0.0, pre), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mu.numpy(), h @ ckpt.weights["encoder/mu/kernel"] +
                               ckpt.weights["encoder/mu/bias"], rtol=1e-5, atol=1e-6)


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
    ("flat_trio", "flat trio models (TrioConverter without numSegments) are not supported by "
                  "latentbridge"),
])
def test_broken_checkpoints_get_one_line(tmp_path, capsys, breakage, message):
    ckpt = tmp_path / "ckpt"
    config = mjs.random_checkpoint(ckpt, "melody", bars=1, z=4, enc=4, dec=(4,))
    if breakage == "no_folder":
        ckpt = tmp_path / "nothing here"
    elif breakage == "no_config":
        (ckpt / "config.json").unlink()
    elif breakage in ("wrong_type", "multitrack", "chords", "flat_trio"):
        if breakage == "wrong_type":
            config["type"] = "MusicRNN"
        elif breakage == "multitrack":
            config["dataConverter"]["type"] = "MultitrackConverter"
        elif breakage == "flat_trio":  # what Magenta.js runs with 3 split decoders, no conductor
            melody = {"minPitch": 21, "maxPitch": 108}
            config["dataConverter"] = {"type": "TrioConverter", "args": {
                "melArgs": melody, "bassArgs": melody, "drumsArgs": {}, "numSteps": 16}}
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
    assert code == 1   # a failure (runtime.cli): a usage error would be 2
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


def test_module_cli_on_a_folder_without_config_json(tmp_path):
    """``python -m training.import_magenta`` on a folder that is not a checkpoint: one line on
    stderr, exit status 1, no traceback, nothing written."""
    ckpt = tmp_path / "not_a_checkpoint"
    mjs.random_checkpoint(ckpt, "melody", bars=1, z=4, enc=4, dec=(4,))
    (ckpt / "config.json").unlink()
    proc = run_module_cli(ckpt, tmp_path / "out")
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: {ckpt / 'config.json'}: missing (not a Magenta.js " \
                                  "checkpoint folder?)"
    assert proc.stdout == ""
    assert not (tmp_path / "out").exists()


def test_missing_node_skips_for_a_developer_and_fails_in_ci(tmp_path, monkeypatch):
    """Without node/npm on PATH the parity tests skip with the reason, except under CI (``CI``
    set, as ``.ci/run`` runs) or ``LATENTBRIDGE_REQUIRE_NODE=1``, where they fail."""
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no node, no npm
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("LATENTBRIDGE_REQUIRE_NODE", raising=False)
    with pytest.raises(pytest.skip.Exception, match="node and npm not on PATH"):
        mjs.ensure_magenta_js(tmp_path / "cache")
    for name, value in (("CI", "true"), ("LATENTBRIDGE_REQUIRE_NODE", "1")):
        with monkeypatch.context() as env:
            env.setenv(name, value)
            with pytest.raises(pytest.fail.Exception, match="required here") as failure:
                mjs.ensure_magenta_js(tmp_path / "cache")
            assert "\n" not in str(failure.value)
    assert not (tmp_path / "cache").exists()


def test_npm_lock_file_pins_magenta_music():
    """The committed package.json / package-lock.json install exactly the version the harness
    and docs/magenta.md name (``npm ci`` refuses a lock file out of step with package.json)."""
    package = json.loads(mjs.PACKAGE_JSON.read_text())
    lock = json.loads(mjs.PACKAGE_LOCK.read_text())
    assert package["dependencies"] == {"@magenta/music": mjs.MAGENTA_MUSIC_VERSION}
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    assert lock["packages"]["node_modules/@magenta/music"]["version"] == mjs.MAGENTA_MUSIC_VERSION
    assert all("integrity" in entry for name, entry in lock["packages"].items()
               if name and not entry.get("link"))
