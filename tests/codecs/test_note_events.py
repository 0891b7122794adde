"""Note-event codec (dT, T, P) on real Nottingham and Groove MIDI."""

import json

import numpy as np
import pytest

from runtime.codecs import CodecError, codec_from_config
from runtime.codecs.note_events import NoteEventCodec, segments
from runtime.midi_io import read_midi
from runtime.music import Clip, Note
from runtime.quantize import to_steps


def _grid_notes(clip, tpq):
    """(onset, end, pitch) in ticks, as the codec sees them (durations at least one tick)."""
    rows = []
    for n in clip.notes:
        start = to_steps(n.start, tpq)
        rows.append((start, start + max(1, to_steps(n.end, tpq) - start), n.pitch))
    return sorted(rows)


@pytest.fixture(scope="module")
def nottingham(shared_data):
    files = sorted((shared_data / "nottingham" / "full").glob("*.mid"))[:25]
    assert len(files) == 25
    return [read_midi(f) for f in files]


def test_round_trip_is_exact_when_the_dictionaries_come_from_the_data(nottingham):
    codec = NoteEventCodec.build(nottingham, ticks_per_quarter=12)
    assert codec.dt_values[0] == 0                       # chords: dT = 0 is always there
    for clip in nottingham:
        tokens = codec.encode(clip)
        assert tokens.dtype == np.int64 and tokens.shape == (len(clip.notes), 3)
        assert (tokens < np.array(codec.field_sizes)).all()
        decoded = codec.decode(tokens, tempo=clip.tempo, time_signature=clip.time_signature)
        assert _grid_notes(decoded, 12) == _grid_notes(clip, 12)
        assert decoded.time_signature == clip.time_signature


def test_chords_are_encoded_with_zero_dt(nottingham):
    codec = NoteEventCodec.build(nottingham[:5])
    clip = nottingham[0]
    tokens = codec.encode(clip)
    onsets = [to_steps(n.start, 12) for n in sorted(clip.notes, key=lambda n: (to_steps(n.start, 12), n.pitch))]
    same_onset = np.diff(onsets) == 0
    assert same_onset.any()                              # the full arrangement has chords
    zero = int(np.flatnonzero(codec.dt_values == 0)[0])
    assert (tokens[1:, 0][same_onset] == zero).all()
    assert (tokens[1:, 0][~same_onset] != zero).all()


def test_config_survives_json_and_rebuilds_an_equal_codec(nottingham):
    codec = NoteEventCodec.build(nottingham[:10], ticks_per_quarter=24, min_pitch=21, max_pitch=108)
    again = codec_from_config(json.loads(json.dumps(codec.config())))
    assert isinstance(again, NoteEventCodec)
    assert again.config() == codec.config()
    assert again.field_sizes == codec.field_sizes == (len(codec.dt_values), len(codec.duration_values), 88)
    np.testing.assert_array_equal(again.encode(nottingham[3]), codec.encode(nottingham[3]))
    x = again.to_input(again.encode(nottingham[3]))
    assert x.dtype == np.float32 and x.shape[1] == again.input_depth == 3


def test_unseen_values_map_to_the_nearest_dictionary_entry():
    codec = NoteEventCodec(ticks_per_quarter=12, dt_values=[0, 12, 24], duration_values=[6, 12, 48])
    # dT 0.5 beats = 6 ticks (tie between 0 and 12 goes to 0), 1.25 beats = 15 ticks -> 12;
    # durations 0.75 beats = 9 ticks (tie 6/12 -> 6), 3 beats = 36 ticks -> 48.
    clip = Clip([Note(60, 0.5, 1.25), Note(62, 1.75, 4.75)])
    tokens = codec.encode(clip)
    np.testing.assert_array_equal(tokens, [[0, 0, 60], [1, 2, 62]])
    decoded = codec.decode(tokens)
    assert [(n.pitch, n.start, n.end) for n in decoded.notes] == [(60, 0.0, 0.5), (62, 1.0, 5.0)]


def test_triplets_and_odd_meters_are_exact_at_twelve_ticks():
    notes = [Note(60 + i, i / 3, (i + 1) / 3) for i in range(6)] + [Note(48, 2.5, 3.5)]
    clip = Clip(notes, length=3.5, time_signature=(7, 8))
    codec = NoteEventCodec.build([clip])
    assert codec.dt_values.tolist() == [0, 4, 10]       # a triplet eighth, 5/6 beat
    decoded = codec.decode(codec.encode(clip), time_signature=(7, 8))
    assert [(n.pitch, n.start, n.end) for n in decoded.notes] == [(n.pitch, n.start, n.end) for n in clip.notes]


def test_groove_drums_round_trip(shared_data):
    files = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*.mid"))[:2]
    clips = [read_midi(f) for f in files]
    codec = NoteEventCodec.build(clips, ticks_per_quarter=12)
    for clip in clips:
        decoded = codec.decode(codec.encode(clip))
        assert _grid_notes(decoded, 12) == _grid_notes(clip, 12)


def test_segments_cut_100_notes_with_stride_50():
    tokens = np.arange(260 * 3, dtype=np.int64).reshape(260, 3)
    windows = segments(tokens)
    assert windows.shape == (4, 100, 3)
    np.testing.assert_array_equal(windows[1], tokens[50:150])
    np.testing.assert_array_equal(windows[1, :50], windows[0, 50:])
    assert segments(tokens[:99]).shape == (0, 100, 3)
    assert segments(tokens, length=10, stride=10).shape == (26, 10, 3)


def test_bad_input_raises_codec_error():
    codec = NoteEventCodec(min_pitch=36, max_pitch=84)
    with pytest.raises(CodecError, match="outside"):
        codec.encode(Clip([Note(30, 0, 1)]))
    with pytest.raises(CodecError, match="shape"):
        codec.decode(np.zeros((4, 2), np.int64))
    with pytest.raises(CodecError, match="out of range"):
        codec.decode(np.array([[0, 0, 49]]))
    with pytest.raises(CodecError, match="no notes"):
        NoteEventCodec.build([Clip()])


def test_fit_keeps_chords_and_meter_and_folds_pitches_into_range():
    codec = NoteEventCodec(min_pitch=36, max_pitch=84)
    clip = Clip([Note(60, 0.1, 1), Note(64, 0.1, 1), Note(100, 1, 2),
                 Note(36, 0, 1, is_drum=True), Note(62, 5, 6)], length=6.0, time_signature=(3, 4))
    fitted = codec.fit(clip, 3.0, 4)                  # not quantised; 100 -> 88 -> 76
    assert sorted((n.pitch, n.start) for n in fitted.notes) == [(60, 0.1), (64, 0.1), (76, 1)]
    assert fitted.time_signature == (3, 4) and fitted.length == 3.0
    assert codec.pitched_parts[0].column == 2 and codec.transpose(codec.encode(fitted)[None], 8)[1][0]
