"""Performance-event codec (388 tokens) on real Groove drumming and Nottingham tunes."""

import json

import numpy as np
import pytest

from runtime.codecs import CodecError, codec_from_config
from runtime.codecs.performance import PerformanceCodec, seconds_at
from runtime.midi_io import read_midi
from runtime.music import Clip, Note

NOTE_OFF, SHIFT, VELOCITY = 128, 256, 356


def _paired(a, b):
    """Notes of two clips matched up by pitch and order of onset."""
    key = lambda n: (n.pitch, n.start)  # noqa: E731
    return list(zip(sorted(a.notes, key=key), sorted(b.notes, key=key)))


@pytest.mark.parametrize("folder", [("groove", "drummer1", "session1"), ("nottingham", "full")])
def test_round_trip_keeps_pitch_velocity_bin_and_time_within_half_a_step(shared_data, folder):
    codec = codec_from_config(json.loads(json.dumps(PerformanceCodec().config())))
    assert codec.output_depth == codec.input_depth == 388
    path = sorted(shared_data.joinpath(*folder).glob("*.mid"))[1]
    clip = read_midi(path)
    tokens = codec.encode(clip)
    assert tokens.dtype == np.int64 and 0 <= tokens.min() and tokens.max() < 388
    assert (tokens < NOTE_OFF).sum() == (tokens[(tokens >= NOTE_OFF) & (tokens < SHIFT)]).size == len(clip)
    decoded = codec.decode(tokens, tempo=clip.tempo)
    assert len(decoded) == len(clip)
    half_step = 0.005 * clip.tempo / 60 + 1e-9          # 5 ms in beats
    assert abs(decoded.length - clip.length) <= half_step
    for original, again in _paired(clip, decoded):
        assert again.pitch == original.pitch
        assert (again.velocity - 1) // 4 == (original.velocity - 1) // 4
        assert abs(again.start - original.start) <= half_step
        assert abs(again.end - original.end) <= half_step or again.end - again.start <= 2 * half_step + 1e-9


def test_token_layout_long_shifts_and_restrikes():
    codec = PerformanceCodec()
    # At 60 bpm a beat is one second: a 2.5 s rest needs shifts of 1 s, 1 s and 0.5 s.
    clip = Clip([Note(60, 0.0, 0.5, velocity=100), Note(60, 0.5, 1.0, velocity=10),
                 Note(72, 3.5, 4.0, velocity=10)], tempo=60.0)
    assert codec.describe(codec.encode(clip)) == [
        "velocity 97", "note-on 60", "shift 500 ms", "note-off 60", "velocity 9", "note-on 60",
        "shift 500 ms", "note-off 60", "shift 1000 ms", "shift 1000 ms", "shift 500 ms",
        "note-on 72", "shift 500 ms", "note-off 72"]
    decoded = codec.decode(codec.encode(clip), tempo=60.0)
    assert [(n.pitch, n.start, n.end, n.velocity) for n in decoded.notes] == [
        (60, 0.0, 0.5, 97), (60, 0.5, 1.0, 9), (72, 3.5, 4.0, 9)]
    x = codec.to_input(codec.encode(clip))
    assert x.shape == (14, 388) and (x.sum(axis=1) == 1).all() and x[0, VELOCITY + 24] == 1


def test_tempo_changes_set_the_clock():
    clip = Clip([Note(64, 6.0, 7.0)], length=8.0, tempo=120.0, tempo_changes=[(0.0, 120.0), (4.0, 60.0)])
    to_seconds = seconds_at(clip)
    assert (to_seconds(4.0), to_seconds(6.0), to_seconds(8.0)) == (2.0, 4.0, 6.0)
    tokens = PerformanceCodec().encode(clip)
    shifts = tokens[(tokens >= SHIFT) & (tokens < VELOCITY)] - SHIFT + 1
    assert shifts.sum() == 600 and list(tokens).index(64) == 5       # 4 s = 4 shifts, velocity, on


def test_decoding_model_output_is_lenient_but_rejects_bad_arrays():
    codec = PerformanceCodec()
    # a stray note-off, then a note never switched off: it lasts until the clock stops
    clip = codec.decode(np.array([NOTE_OFF + 50, 62, SHIFT + 49]), tempo=120.0)
    assert [(n.pitch, n.start, n.end) for n in clip.notes] == [(62, 0.0, 1.0)]
    with pytest.raises(CodecError, match="one-dimensional"):
        codec.decode(np.zeros((3, 2), np.int64))
    with pytest.raises(CodecError, match="out of range"):
        codec.to_input(np.array([388]))
    with pytest.raises(CodecError):
        PerformanceCodec(velocity_bins=0)
