"""Imported GrooVAE checkpoints decode and encode as @magenta/music does.

Random-weight GrooVAE checkpoints in Magenta.js' layout (GrooveConverter: humanize, tapify or
plain) run through the real @magenta/music 1.23.1 under node (tests/magenta/mvae_harness.js
serves the folder on 127.0.0.1) and through our imported bundle:

- the decoder's output for the same z (no temperature: hits at sigmoid > 0.5; velocities and
  offsets of every drum fed back, Magenta's GrooveDecoder): the same hits, velocities and
  offsets within float32 rounding, and the same notes from the two data converters;
- the groove converter's tensors of a real Groove MIDI take (played timing and velocities) and
  the mean of z Magenta.js' ``MusicVAE.encode`` gives for it.

The humanize model has the published size (Magenta's groovae config: 512-unit encoder, 2 x 256
decoder, z 256); its kernels have a trained network's scale (1 / sqrt(fan in)), where float32
rounding does not grow through the recurrence (docs/magenta.md, "Export parity").
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from runtime.codecs import codec_from_config
from runtime.engine import Engine
from runtime.midi_io import read_midi
from runtime.music import Clip
from runtime.quantize import to_steps
from training import import_magenta as im
from training.magenta_catalog import find

_spec = importlib.util.spec_from_file_location("lb_magenta_js", Path(__file__).with_name(
    "magenta_js.py"))
mjs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mjs)

torch.set_num_threads(1)
#: float32 through two runtimes (tf.js cpu, onnxruntime) on the same network
FLOAT32 = 1e-5
C = 9


@pytest.fixture(scope="module")
def node_modules() -> Path:
    return mjs.ensure_magenta_js()


def groove_take(shared_data: Path, bars: int = 2) -> Clip:
    """The first bars of a real Groove MIDI take (480 ticks per beat, so every played time is a
    whole number of our 1/120-step offset units), without the hits that round to the next
    window (Magenta.js refuses a sequence longer than the model)."""
    path = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*beat_4-4.mid"))[0]
    clip = read_midi(path)
    notes = [n for n in clip.notes if to_steps(n.start, 4) < 16 * bars]
    return clip.copy(notes=notes).slice(0.0, 4.0 * bars)


def performance(clip: Clip) -> dict:
    """An unquantized NoteSequence (JSON) of the clip as played, in seconds: Magenta.js quantizes
    it itself (GrooveConverter.toTensor)."""
    spb = 60.0 / clip.tempo
    return {"notes": [{"pitch": n.pitch, "velocity": n.velocity, "isDrum": n.is_drum,
                       "instrument": 9 if n.is_drum else 0, "program": n.program,
                       "startTime": n.start * spb, "endTime": n.end * spb} for n in clip.notes],
            "tempos": [{"qpm": clip.tempo}], "totalTime": clip.length * spb}


def js_hits(note_sequence: dict) -> list[tuple[int, int, float]]:
    """(pitch, velocity, start in 16th steps at 120 qpm) per decoded note, sorted; a hit ahead
    of the first step starts at 0 in a clip."""
    return sorted((n["pitch"], n["velocity"], max(0.0, n.get("startTime", 0.0) * 8))
                  for n in note_sequence["notes"])


def our_hits(clip: Clip) -> list[tuple[int, int, float]]:
    return sorted((n.pitch, n.velocity, n.start * 4) for n in clip.notes)


def assert_same_notes(ours: Clip, theirs: dict) -> None:
    """Same pitches and velocities; times within our offset unit (1/120 step: Magenta.js keeps
    the offset continuous, our tokens round it to 1/120 step, and clamp a hit exactly half a
    step late one unit earlier)."""
    a, b = our_hits(ours), js_hits(theirs)
    assert [(p, v) for p, v, _ in a] == [(p, v) for p, v, _ in b]
    assert np.abs(np.array([t for *_, t in a]) - np.array([t for *_, t in b])).max(
        initial=0.0) <= 1 / 120 + 1e-6


def test_humanize_at_published_size_matches_magenta_js(tmp_path, node_modules, shared_data,
                                                       capsys):
    """groovae_2bar_humanize's shape, imported through the command line's entry point."""
    arch = find("groovae_2bar_humanize").arch
    ckpt_dir = tmp_path / "groovae_2bar_humanize"
    config = mjs.random_checkpoint(ckpt_dir, arch["kind"], seed=21, bars=arch["bars"],
                                   z=arch["z"], enc=arch["enc"], dec=tuple(arch["dec"]),
                                   std="fan_in")
    assert config["dataConverter"] == {"type": "GrooveConverter",
                                       "args": {"humanize": True, "numSteps": 32}}
    clip = groove_take(shared_data)
    z = np.random.default_rng(22).normal(size=(4, arch["z"])).astype(np.float32)
    js = mjs.run_magenta_js(node_modules, ckpt_dir, z=z, sequences=[performance(clip)])
    assert js["numSteps"] == 32 and js["outputDims"] == 27

    assert im.main([str(ckpt_dir), str(tmp_path / "bundle")]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'bundle'} (kind groove")
    engine = Engine.load(tmp_path / "bundle")
    assert (engine.kind, engine.bars, engine.z_size) == ("groove", 2, 256)
    assert engine.decoding["feedback_mask"] == "none"
    assert engine.codec.input_transform == "humanize" and engine.offers("groove")

    # decoding: Magenta.js' decoder output [B, 32, hits | velocities | offsets]
    theirs = np.asarray(js["outputs"], np.float32)
    ours = engine.decode_values(z, temperature=0.0)
    assert 0.05 < theirs[..., :C].mean() < 0.95   # hits and rests both drawn
    np.testing.assert_array_equal(ours[..., :C], theirs[..., :C])
    np.testing.assert_allclose(ours[..., C:], theirs[..., C:], atol=FLOAT32, rtol=0)
    for clip_out, ns in zip(engine.decode(z, temperature=0.0), js["decoded"]):
        assert_same_notes(clip_out, ns)
    # the decoding mode is what makes it Magenta's: our own feedback (velocities and offsets of
    # undrawn hits zeroed) reads other inputs from the second step on, and plays otherwise
    engine.decoding["feedback_mask"] = "hits"
    masked = engine.decode_values(z, temperature=0.0)
    assert np.abs(masked[..., C:] * masked[..., :C].repeat(2, -1)
                  - theirs[..., C:] * theirs[..., :C].repeat(2, -1)).max() > 1e-2

    # encoding a real take: the humanize converter's tensor (hits only) and the mean of z
    converted = np.asarray(js["converted"][0], np.float32)
    assert converted[:, :C].sum() > 20 and not converted[:, C:].any()
    np.testing.assert_array_equal(engine.codec.to_input(engine.tokens(clip)), converted)
    np.testing.assert_allclose(engine.encode([clip]), np.asarray(js["mu"]), atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind", ["groove_tap", "groove"])
def test_tap_and_plain_converters_match_magenta_js(tmp_path, node_modules, shared_data, kind):
    """tap2drum (tapify: every note of any instrument a tap on the open hi-hat, its timing kept,
    velocity flat) and groovae_4bar's plain converter (the performance itself) on a real take
    with a melody on top: Magenta.js' tensors, its ``MusicVAE.encode`` mean and its decoding,
    through our bundle (small sizes: the published one is the test above)."""
    ckpt_dir = tmp_path / kind
    mjs.random_checkpoint(ckpt_dir, kind, seed=23, bars=2, z=8, enc=32, dec=(32, 32))
    im.import_bundle(ckpt_dir, tmp_path / "bundle")
    engine = Engine.load(tmp_path / "bundle")
    take = groove_take(shared_data)
    reel = read_midi(shared_data / "nottingham" / "melody" / "reelsu-z23.mid").slice(4.0, 12.0)
    clip = take.copy(notes=take.notes + [n for n in reel.notes if to_steps(n.start, 4) < 32])
    if kind == "groove":   # the plain converter reads drum pitches only (ours: the same table)
        clip = take
    z = np.random.default_rng(24).normal(size=(3, 8)).astype(np.float32)
    js = mjs.run_magenta_js(node_modules, ckpt_dir, z=z, sequences=[performance(clip)])

    converted = np.asarray(js["converted"][0], np.float32)
    ours = engine.codec.to_input(engine.tokens(clip))
    if kind == "groove_tap":
        assert engine.offers("drumify") and not converted[:, [0, 1, 2, 4, 5, 6, 7, 8]].any()
        assert not converted[:, C:2 * C].any()   # velocities flat
    else:
        assert converted[:, C:2 * C].max() > 0.5
    assert np.abs(converted[:, 2 * C:]).max() > 0.05   # played timing, not the grid
    np.testing.assert_allclose(ours, converted, atol=1e-6, rtol=0)
    np.testing.assert_allclose(engine.encode([clip]), np.asarray(js["mu"]), atol=1e-4, rtol=0)

    theirs = np.asarray(js["outputs"], np.float32)
    values = engine.decode_values(z, temperature=0.0)
    np.testing.assert_array_equal(values[..., :C], theirs[..., :C])
    np.testing.assert_allclose(values[..., C:], theirs[..., C:], atol=FLOAT32, rtol=0)
    for clip_out, ns in zip(engine.decode(z, temperature=0.0), js["decoded"]):
        assert_same_notes(clip_out, ns)


def test_converter_spec_becomes_our_groove_codec():
    """Magenta.js' GrooveConverter args -> our groove codec: its drum table (Magenta.js' default
    unless given) for reading clips and naming hits, the tap channel, the input transform."""
    for args, transform in (({"humanize": True}, "humanize"), ({"tapify": True}, "tap"),
                            ({}, "full")):
        codec = codec_from_config(im.codec_config_for(
            {"type": "GrooveConverter", "args": {"numSteps": 32, **args}}))
        assert codec.input_transform == transform and codec.tap_class == im.TAPIFY_CHANNEL
        assert codec.inference_pitch_classes == codec.pitch_classes == im.DEFAULT_DRUM_PITCH_CLASSES
    table = [[36], [38], [42], [46], [45], [48], [50], [49], [51]]
    codec = codec_from_config(im.codec_config_for(
        {"type": "GrooveConverter", "args": {"numSteps": 16, "pitchClasses": table}}))
    assert codec.inference_pitch_classes == table


@pytest.mark.parametrize("breakage, message", [
    ("split", "splitInstruments"),
    ("humanize_tapify", "both humanize and tapify"),
    ("hierarchical", "hierarchical GrooVAE models"),
    ("hits_control", "conditioned models (control inputs) are not supported"),
    ("extra_controls", "conditioned models (control inputs: extraControls"),
])
def test_unsupported_groove_checkpoints_get_one_line(tmp_path, capsys, breakage, message):
    """What Magenta's GrooVAE variants need and latentbridge has not: one line, exit 1, nothing
    written (groovae_2bar_hits_control's decoder reads the 9 hits as control inputs)."""
    ckpt = tmp_path / "ckpt"
    config = mjs.random_checkpoint(ckpt, "groove_humanize", bars=1, z=4, enc=4, dec=(4,))
    args = config["dataConverter"]["args"]
    if breakage == "split":
        args["splitInstruments"] = True
    elif breakage == "humanize_tapify":
        args["tapify"] = True
    elif breakage == "hierarchical":
        args["numSegments"] = 1
    elif breakage == "extra_controls":
        config["extraControls"] = [{"name": "hits", "depth": 9}]
    elif breakage == "hits_control":
        weights = im.read_tfjs_weights(ckpt)
        name = "decoder/multi_rnn_cell/cell_0/lstm_cell/kernel"
        weights[name] = np.concatenate([weights[name], np.zeros((C, 16), np.float32)])
        im.write_tfjs_checkpoint(ckpt, config, weights)
    (ckpt / "config.json").write_text(json.dumps(config))
    code = im.main([str(ckpt), str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "out").exists()
