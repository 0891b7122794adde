"""Pitch class / octave / duration codec (VRASH) on real Nottingham melodies."""

import json

import numpy as np
import pytest

from runtime.codecs import CodecError, codec_from_config
from runtime.codecs.pod import REST, PodCodec
from runtime.midi_io import read_midi
from runtime.music import Clip, Note
from runtime.quantize import to_steps


def _ticks(clip, tpq=12):
    return [(n.pitch, to_steps(n.start, tpq), to_steps(n.end, tpq)) for n in clip.notes]


@pytest.fixture(scope="module")
def melodies(shared_data):
    files = sorted((shared_data / "nottingham" / "melody").glob("*.mid"))[:20]
    return [read_midi(f) for f in files]


def test_round_trip_on_nottingham_melodies(melodies):
    codec = codec_from_config(json.loads(json.dumps(PodCodec.build(melodies).config())))
    assert isinstance(codec, PodCodec) and codec.field_sizes[:2] == (13, 11)
    exact = 0
    for clip in melodies:
        tokens = codec.encode(clip)
        assert tokens.dtype == np.int64 and tokens.shape[1] == 3
        assert (tokens < np.array(codec.field_sizes)).all()
        rests = tokens[:, 0] == REST
        assert (tokens[rests, 1] == 0).all()
        decoded = codec.decode(tokens, tempo=clip.tempo)
        assert decoded.length == clip.length
        onsets = [to_steps(n.start, 12) for n in clip.notes]
        if len(set(onsets)) == len(onsets):      # a true single line: nothing may change
            assert _ticks(decoded) == _ticks(clip)
            exact += 1
        else:                                    # double stops: the top note survives
            top = {}
            for pitch, start, end in _ticks(clip):
                top[start] = max(top.get(start, 0), pitch)
            assert [(p, s) for p, s, e in _ticks(decoded)] == [(top[s], s) for s in sorted(top)]
    assert exact >= 15


def test_pitch_class_and_octave_fields():
    codec = PodCodec(durations=[3, 6, 12])
    tokens = codec.encode(Clip([Note(60, 0, 1), Note(70, 1, 1.5), Note(23, 1.5, 1.75)]))
    np.testing.assert_array_equal(tokens, [[0, 5, 2], [10, 5, 1], [11, 1, 0]])


def test_rests_are_events_and_long_rests_split():
    codec = PodCodec(ticks_per_quarter=4, durations=[1, 2, 4])
    # A leading rest of 1 beat, a 2.75-beat gap (4 + 4 + 2 + 1 steps), a trailing rest of 3 beats.
    clip = Clip([Note(64, 1.0, 2.0), Note(65, 4.75, 5.0)], length=8.0)
    tokens = codec.encode(clip)
    np.testing.assert_array_equal(tokens[:, 0], [REST, 4, REST, REST, REST, REST, 5, REST, REST, REST])
    np.testing.assert_array_equal(tokens[:, 2], [2, 2, 2, 2, 1, 0, 0, 2, 2, 2])
    decoded = codec.decode(tokens)
    assert _ticks(decoded, 4) == _ticks(clip, 4) and decoded.length == 8.0


def test_unknown_durations_round_without_drift():
    codec = PodCodec(ticks_per_quarter=12, durations=[6, 12])
    # 15 ticks -> 12; the next note still starts on time because the rest fills up to it.
    clip = Clip([Note(60, 0.0, 1.25), Note(62, 2.0, 3.0)])
    decoded = codec.decode(codec.encode(clip))
    assert [(n.pitch, n.start, n.end) for n in decoded.notes] == [(60, 0.0, 1.0), (62, 2.0, 3.0)]


def test_polyphony_policy_and_bad_tokens():
    chord = Clip([Note(60, 0, 1), Note(67, 0, 1), Note(64, 0.5, 2)])
    top = PodCodec(durations=[6, 12, 18])
    line = top.decode(top.encode(chord))
    assert [(n.pitch, n.start, n.end) for n in line.notes] == [(67, 0.0, 0.5), (64, 0.5, 2.0)]
    with pytest.raises(CodecError, match="monophonic"):
        PodCodec(polyphony="error").encode(chord)
    with pytest.raises(CodecError, match="polyphony"):
        PodCodec(polyphony="lowest")
    with pytest.raises(CodecError, match="out of range"):
        top.decode(np.array([[13, 0, 0]]))
    assert top.decode(np.array([[11, 10, 0]])).notes[0].pitch == 119   # 131 is no MIDI pitch
