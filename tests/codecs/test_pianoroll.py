"""Piano-roll codec and the Boulanger-Lewandowski .mat rolls."""

import json

import numpy as np
import pytest

from runtime.codecs import CodecError, codec_from_config
from runtime.codecs.pianoroll import PianorollCodec, load_mat
from runtime.midi_io import read_midi
from runtime.music import Clip, Note
from runtime.quantize import to_steps


def _spans(clip, spq):
    out = []
    for n in clip.notes:
        start = to_steps(n.start, spq)
        out.append((n.pitch, start, max(start + 1, to_steps(n.end, spq))))
    return sorted(out)


@pytest.mark.parametrize("name", ["JSB_Chorales", "Nottingham"])
def test_mat_rolls_map_88_keys_to_128_and_survive_decode(shared_data, name):
    rolls = load_mat(shared_data / "polyphonic-pianoroll" / f"{name}.mat", "valid")
    assert len(rolls) > 50
    codec = PianorollCodec(steps_per_quarter=1)
    for roll in rolls[:20]:
        assert roll.dtype == np.uint8 and roll.shape[1] == 128
        assert roll[:, :21].sum() == 0 and roll[:, 109:].sum() == 0 and roll.sum() > 0
        clip = codec.decode(roll)
        assert clip.length == roll.shape[0]
        np.testing.assert_array_equal(codec.encode(clip), roll)


def test_mat_splits_differ_and_bad_input_is_one_line(shared_data, tmp_path):
    path = shared_data / "polyphonic-pianoroll" / "JSB_Chorales.mat"
    sizes = {split: len(load_mat(path, split)) for split in ("train", "valid", "test")}
    assert sizes == {"train": 229, "valid": 76, "test": 77}       # the published JSB split
    with pytest.raises(CodecError, match="split"):
        load_mat(path, "dev")
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"\x00garbage\xff" * 50)
    with pytest.raises(CodecError, match="not a readable .mat") as err:
        load_mat(junk)
    assert "\n" not in str(err.value)
    with pytest.raises(CodecError, match="no such file"):
        load_mat(tmp_path / "missing.mat")


def test_polyphonic_midi_round_trip_merges_only_restrikes(shared_data):
    clip = read_midi(shared_data / "nottingham" / "full" / "ashover1.mid")
    codec = PianorollCodec(steps_per_quarter=4)
    roll = codec.encode(clip)
    assert roll.shape == (int(np.ceil(clip.length * 4)), 128)
    spans = _spans(clip, 4)
    for pitch, start, end in spans:
        assert roll[start:end, pitch].all()
    assert roll.sum() == len({(p, t) for p, s, e in spans for t in range(s, e)})
    decoded = codec.decode(roll, tempo=clip.tempo)
    # Every decoded note is a maximal run: the union of original notes that touch or overlap.
    np.testing.assert_array_equal(codec.encode(decoded), roll)
    assert len(decoded) <= len(spans)
    assert {(p, s) for p, s, e in _spans(decoded, 4)} <= {(p, s) for p, s, e in spans}


def test_separate_repeats_keeps_restruck_notes_apart(shared_data):
    melody = read_midi(shared_data / "nottingham" / "melody" / "ashover10.mid")
    spans = _spans(melody, 4)
    plain, separate = PianorollCodec(4), PianorollCodec(4, separate_repeats=True)
    by_time = sorted(spans, key=lambda x: x[1])
    restrikes = [b for a, b in zip(by_time, by_time[1:])
                 if a[0] == b[0] and a[2] == b[1] and a[2] - a[1] > 1]
    assert restrikes, "this tune repeats notes; the test needs some"
    merged = {(n.pitch, to_steps(n.start, 4)) for n in plain.decode(plain.encode(melody)).notes}
    kept = {(n.pitch, to_steps(n.start, 4)) for n in separate.decode(separate.encode(melody)).notes}
    assert all((p, s) not in merged for p, s, e in restrikes)
    # Only a restrike right after a ONE-step note of the same pitch cannot be kept apart.
    lost = {(b[0], b[1]) for a, b in zip(by_time, by_time[1:])
            if a[0] == b[0] and a[2] == b[1] and a[2] - a[1] == 1}
    assert kept == {(p, s) for p, s, e in spans} - lost


def test_decode_thresholds_probabilities_and_config_round_trips():
    codec = codec_from_config(json.loads(json.dumps(
        PianorollCodec(steps_per_quarter=2, velocity=80, threshold=0.4).config())))
    assert isinstance(codec, PianorollCodec) and codec.steps_per_quarter == 2
    probs = np.zeros((8, 128), np.float32)
    probs[0:3, 60] = [0.9, 0.5, 0.41]
    probs[3, 60] = 0.39
    probs[4:8, 64] = 0.8
    clip = codec.decode(probs, time_signature=(2, 4))
    assert [(n.pitch, n.start, n.end, n.velocity) for n in clip.notes] == [(60, 0.0, 1.5, 80), (64, 2.0, 4.0, 80)]
    assert clip.length == 4.0 and clip.time_signature == (2, 4)
    x = codec.to_input(codec.encode(Clip([Note(60, 0, 1)], length=2)))
    assert x.dtype == np.float32 and x.shape == (4, codec.input_depth)
    with pytest.raises(CodecError, match="shape"):
        codec.decode(np.zeros((4, 88), np.uint8))
