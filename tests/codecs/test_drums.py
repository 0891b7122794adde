"""The MusicVAE drum codec: Magenta's 9-class table, 512 tokens, round trips on Groove."""

import numpy as np
import pytest

from runtime.codecs import CodecError, codec_from_config
from runtime.codecs.drums import DRUM_CLASS_PITCHES, DrumsCodec
from runtime.midi_io import read_midi
from runtime.music import Clip, Note
from training.extract import four_four_sections


def test_table_is_a_partition_with_gm_heads():
    pitches = [p for c in DRUM_CLASS_PITCHES for p in c]
    assert len(DRUM_CLASS_PITCHES) == 9
    assert len(pitches) == len(set(pitches)) == 63          # no pitch in two classes
    # the pitch written back for each class is the standard GM sound of that class
    assert [c[0] for c in DRUM_CLASS_PITCHES] == [36, 38, 42, 46, 45, 48, 50, 49, 51]
    codec = DrumsCodec()
    # GM2 / Roland extras of Magenta's current table land where Magenta puts them
    assert [codec.class_of[p] for p in (22, 26, 43, 52, 35, 37)] == [2, 3, 4, 7, 0, 1]


def test_bits_per_class_and_roll_input():
    codec = DrumsCodec()
    assert (codec.input_depth, codec.output_depth) == (10, 512)
    hits = [Note(36, 0, 0.25, is_drum=True), Note(42, 0, 0.25, is_drum=True),
            Note(35, 0, 0.25, is_drum=True),                       # second kick: same bit
            Note(38, 0.5, 0.75, is_drum=True), Note(51, 0.5, 0.6, is_drum=True),
            Note(127, 1.0, 1.25, is_drum=True)]                    # not in the table: ignored
    tokens = codec.encode(Clip(hits, length=2.0, is_drum=True))
    assert tokens.tolist() == [1 + 4, 0, 2 + 256, 0, 0, 0, 0, 0]
    roll = codec.to_input(tokens)
    assert roll.dtype == np.float32 and roll.shape == (8, 10)
    assert roll[0].tolist() == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert roll[1].tolist() == [0] * 9 + [1]                        # the "no hits" bit
    assert (roll[:, 9] == (tokens == 0)).all()
    decoded = codec.decode(tokens)
    assert decoded.is_drum and [(n.pitch, n.start, n.end) for n in decoded.notes] == [
        (36, 0.0, 0.25), (42, 0.0, 0.25), (38, 0.5, 0.75), (51, 0.5, 0.75)]
    assert all(n.is_drum and n.velocity == 80 for n in decoded.notes)


def test_rejects_bad_input():
    codec = DrumsCodec()
    with pytest.raises(CodecError, match="4/4"):
        codec.encode(Clip([Note(36, 0, 0.25, is_drum=True)], length=3.0, time_signature=(3, 4)))
    with pytest.raises(CodecError, match="quantised"):
        codec.encode(Clip([Note(36, 0.01, 0.25, is_drum=True)], length=4.0))
    with pytest.raises(CodecError, match="0..511"):
        codec.decode(np.array([512]))


def test_config_round_trip():
    codec = DrumsCodec(velocity=100)
    assert codec_from_config(codec.config()) == codec
    custom = DrumsCodec(pitch_classes=[[36], [38], [42]])
    again = codec_from_config(custom.config())
    assert again.output_depth == 8 and again.input_depth == 4 and again == custom


def test_round_trip_on_groove(shared_data):
    """Quantised Groove performances: decode(encode) keeps every mapped hit's class and step."""
    codec = DrumsCodec()
    files = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*4-4.mid"))[:6]
    assert files
    for path in files:
        for section in four_four_sections(read_midi(path)):
            tokens = codec.encode(section)
            assert tokens.min() >= 0 and tokens.max() < 512 and tokens.any()
            expected = {(round(n.start * 4), codec.class_of[n.pitch])
                        for n in section.notes if n.pitch in codec.class_of}
            decoded = codec.decode(tokens)
            got = {(round(n.start * 4), codec.class_of[n.pitch]) for n in decoded.notes}
            assert got == expected
            assert (codec.encode(decoded) == tokens).all()


def test_fit_makes_every_note_a_hit_and_every_hit_plays_on_the_drum_channel():
    codec = DrumsCodec()
    clip = Clip([Note(38, 0.1, 0.3), Note(36, 2.0, 2.5, is_drum=True), Note(42, 5.0, 5.1)],
                length=8.0, time_signature=(3, 4))
    fitted = codec.fit(clip, 4.0, 4)                  # a drum rack's clip need not be flagged
    assert fitted.is_drum and all(n.is_drum for n in fitted.notes) and fitted.length == 4.0
    assert [(n.pitch, n.start) for n in fitted.notes] == [(38, 0.0), (36, 2.0)]
    assert codec.encode(fitted)[[0, 8]].tolist() == [2, 1]
    assert {codec.channel_of(n, 3) for n in fitted.notes + [Note(60, 0, 1)]} == {9}
