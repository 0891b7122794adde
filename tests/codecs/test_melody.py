"""The MusicVAE melody codec: Magenta's one-hot layout, round trips on real Nottingham tunes."""

import numpy as np
import pytest

from runtime.codecs import CodecError, codec_from_config
from runtime.codecs.melody import MelodyCodec
from runtime.midi_io import read_midi
from runtime.music import Clip, Note
from training.extract import extract_melodies, four_four_sections, melody_tokens


def test_class_layout_matches_magenta():
    codec = MelodyCodec()
    assert (codec.min_pitch, codec.max_pitch, codec.num_classes) == (21, 108, 90)
    assert codec.input_depth == codec.output_depth == 90
    assert MelodyCodec(0, 127).num_classes == 130
    clip = Clip([Note(21, 0, 0.5), Note(108, 1, 1.25)], length=2.0)
    tokens = codec.encode(clip)
    assert tokens.dtype == np.int64 and tokens.shape == (8,)
    # step 0: lowest pitch -> class 2; step 2: note-off; step 4: highest pitch -> class 89
    assert tokens.tolist() == [2, 0, 1, 0, 89, 1, 0, 0]


def test_note_off_only_between_separated_notes():
    codec = MelodyCodec()
    legato = Clip([Note(60, 0, 1), Note(60, 1, 2), Note(62, 2, 2.5)], length=4.0)
    tokens = codec.encode(legato)
    assert tokens[[0, 4, 8]].tolist() == [41, 41, 43]          # repeated pitch re-struck
    assert (tokens[:10] != 1).all() and tokens[10] == 1         # one note-off, after the last note
    assert codec.decode(tokens).notes == [Note(60, 0, 1, 80), Note(60, 1, 2, 80),
                                          Note(62, 2, 2.5, 80)]


def test_decode_holds_until_next_event_and_to_input_is_one_hot():
    codec = MelodyCodec(velocity=64)
    tokens = np.array([41, 0, 0, 43, 0, 1, 0, 0], dtype=np.int64)
    clip = codec.decode(tokens, tempo=90.0)
    assert [(n.pitch, n.start, n.end, n.velocity) for n in clip.notes] == [
        (60, 0.0, 0.75, 64), (62, 0.75, 1.25, 64)]
    assert clip.length == 2.0 and clip.tempo == 90.0 and clip.time_signature == (4, 4)
    x = codec.to_input(tokens)
    assert x.dtype == np.float32 and x.shape == (8, 90)
    assert (x.sum(axis=1) == 1).all() and (x.argmax(axis=1) == tokens).all()
    batch = codec.to_input(np.stack([tokens, tokens]))
    assert batch.shape == (2, 8, 90)


@pytest.mark.parametrize("clip, message", [
    (Clip([Note(60, 0, 1), Note(64, 0.5, 1.5)], length=4.0), "monophonic"),
    (Clip([Note(60, 0, 1)], length=3.0, time_signature=(3, 4)), "4/4"),
    (Clip([Note(60, 0.1, 1)], length=4.0), "quantised"),
    (Clip([Note(10, 0, 1)], length=4.0), "outside the melody range"),
    (Clip([Note(36, 0, 0.25, is_drum=True)], length=4.0, is_drum=True), "drum"),
    (Clip([Note(60, 0, 1)], length=8.0, meter_changes=[(0.0, 4, 4), (4.0, 3, 4)]), "4/4"),
])
def test_rejects_what_it_cannot_represent(clip, message):
    with pytest.raises(CodecError, match=message):
        MelodyCodec().encode(clip)


def test_decode_rejects_bad_tokens():
    codec = MelodyCodec()
    with pytest.raises(CodecError, match="0..89"):
        codec.decode(np.array([0, 90]))
    with pytest.raises(CodecError, match="one-dimensional"):
        codec.decode(np.zeros((2, 2), np.int64))


def test_config_round_trip():
    codec = MelodyCodec(0, 127, velocity=100)
    again = codec_from_config(codec.config())
    assert isinstance(again, MelodyCodec) and again == codec and again.num_classes == 130
    assert codec_from_config({"name": "melody"}) == MelodyCodec()


def test_round_trip_on_nottingham_melodies(shared_data):
    """Every 4/4 Nottingham melody (quantised) decodes back to the same notes."""
    codec = MelodyCodec()
    files = sorted((shared_data / "nottingham" / "melody").glob("*.mid"))[:60]
    checked = 0
    for path in files:
        for section in four_four_sections(read_midi(path)):
            notes = sorted(section.notes, key=lambda n: (n.start, n.pitch))
            overlapping = any(b.start < a.end for a, b in zip(notes, notes[1:]))
            if overlapping or not notes:
                continue
            tokens = codec.encode(section)
            assert tokens.shape == (round(section.length * 4),)
            decoded = codec.decode(tokens)
            assert [(n.pitch, n.start, n.end) for n in decoded.notes] == \
                   [(n.pitch, n.start, n.end) for n in notes]
            assert (codec.encode(decoded) == tokens).all()
            checked += 1
    assert checked >= 10


def test_extracted_melodies_survive_decode_encode(shared_data):
    """Melodies extracted from polyphonic Nottingham files (tune + chord tracks) round-trip."""
    codec = MelodyCodec()
    count = 0
    for path in sorted((shared_data / "nottingham" / "full").glob("reelsa-c*.mid"))[:15]:
        for section in four_four_sections(read_midi(path)):
            for track in (0, 1):
                for melody in extract_melodies([n for n in section.notes if n.track == track]):
                    tokens = melody_tokens(melody, codec)
                    assert len(tokens) % 16 == 0
                    assert (codec.encode(codec.decode(tokens)) == tokens).all()
                    count += 1
    assert count >= 15


def test_fit_keeps_one_voice_in_range_and_drops_drums():
    """What the engine hears of a user's clip (Engine.prepare asks the codec): any meter read
    beat for beat as 4/4, the highest voice, pitches folded by octaves into the range, cut."""
    codec = MelodyCodec()
    clip = Clip([Note(60, 0, 2), Note(64, 0, 1), Note(67, 1, 3), Note(10, 3, 4),
                 Note(36, 0, 1, is_drum=True), Note(72, 5, 6)], length=8.0, time_signature=(6, 8))
    fitted = codec.fit(clip, 4.0, 4)
    assert [(n.pitch, n.start, n.end) for n in fitted.notes] == [(64, 0, 1), (67, 1, 3), (22, 3, 4)]
    assert fitted.time_signature == (4, 4) and fitted.length == 4.0
    assert codec.channel_of(fitted.notes[0], 3) == 3
    assert codec.channel_of(Note(36, 0, 1, is_drum=True), 3) == 9
