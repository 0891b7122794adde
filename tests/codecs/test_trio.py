"""The MusicVAE trio codec: parts by program, [T, 3] tokens, real parts from the shared data."""

from dataclasses import replace

import numpy as np
import pytest

from runtime.codecs import CodecError, codec_from_config
from runtime.codecs.trio import TrioCodec
from runtime.midi_io import read_midi, write_midi
from runtime.music import Clip, Note
from training.extract import extract_melodies, four_four_sections


def _first_bars(clip, bars):
    return clip.slice(0, bars * 4.0)


def _real_trio(shared_data, bars=4):
    """A melody and (two octaves down) a second tune as bass from Nottingham, drums from Groove."""
    tunes = []
    for path in sorted((shared_data / "nottingham" / "melody").glob("reelsa-c*.mid")):
        sections = four_four_sections(read_midi(path))
        if sections and sections[0].length >= bars * 4:
            notes = sorted(sections[0].notes, key=lambda n: (n.start, n.pitch))
            if not any(b.start < a.end for a, b in zip(notes, notes[1:])):
                tunes.append(_first_bars(sections[0], bars))
        if len(tunes) == 2:
            break
    groove = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*beat_4-4.mid"))[0]
    drums = _first_bars(four_four_sections(read_midi(groove))[0], bars)
    melody = [replace(n, program=0, track=0) for n in tunes[0].notes]
    bass = [replace(n, pitch=n.pitch - 24, program=33, track=1) for n in tunes[1].notes]
    return Clip(melody + bass + list(drums.notes), length=bars * 4.0)


def test_depths():
    codec = TrioCodec()
    assert codec.input_depths == (90, 90, 10) and codec.input_depth == 190
    assert codec.output_depths == (90, 90, 512) and codec.output_depth == 692
    assert codec_from_config(codec.config()) == codec


def test_round_trip_on_real_parts(shared_data, tmp_path):
    codec = TrioCodec()
    clip = _real_trio(shared_data)
    tokens = codec.encode(clip)
    assert tokens.shape == (64, 3) and tokens.dtype == np.int64
    assert (tokens[:, 0] >= 2).any() and (tokens[:, 1] >= 2).any() and (tokens[:, 2] > 0).any()
    x = codec.to_input(tokens)
    assert x.shape == (64, 190) and x.dtype == np.float32
    assert (x[:, :90].argmax(1) == tokens[:, 0]).all() and (x[:, 90:180].argmax(1) == tokens[:, 1]).all()
    decoded = codec.decode(tokens, tempo=100.0)
    programs = {(n.program, n.is_drum) for n in decoded.notes}
    assert programs == {(0, False), (33, False), (0, True)}
    assert (codec.encode(decoded) == tokens).all()
    # the decoded trio survives a trip through a MIDI file
    write_midi(decoded, tmp_path / "trio.mid")
    again = four_four_sections(read_midi(tmp_path / "trio.mid"))[0]
    assert (codec.encode(again.slice(0, 16.0)) == tokens).all()


def test_parts_are_told_apart_by_program():
    codec = TrioCodec()
    clip = Clip([Note(72, 0, 1, program=5), Note(40, 0, 1, program=38),
                 Note(42, 0, 0.3, is_drum=True)], length=4.0)
    assert codec.encode(clip)[0].tolist() == [72 - 21 + 2, 40 - 21 + 2, 4]
    with pytest.raises(CodecError, match="program 40"):
        codec.encode(Clip([Note(72, 0, 1, program=40)], length=4.0))
    with pytest.raises(CodecError, match="trio bass"):
        codec.encode(Clip([Note(40, 0, 1, program=33), Note(43, 0, 1, program=33)], length=4.0))
    with pytest.raises(CodecError, match=r"shape \[T, 3\]"):
        codec.decode(np.zeros(16, np.int64))


def test_extraction_matches_codec_on_bass_line(shared_data):
    """The bass line pulled out by extraction encodes like the codec encodes it."""
    codec = TrioCodec()
    clip = _real_trio(shared_data)
    bass = [n for n in clip.notes if n.program == 33]
    melodies = extract_melodies(bass)
    assert melodies and melodies[0].start == 0
    tokens = codec.encode(clip)[:, 1]
    extracted = np.array([0 if e == -2 else 1 if e == -1 else e - 21 + 2
                          for e in melodies[0].events])
    assert (extracted[:len(tokens)] == tokens[:len(extracted)]).all()


def test_bach_chorale_soprano_and_bass_as_trio():
    """A real four-part chorale (music21's corpus, read by runtime.scores): soprano = melody,
    bass voice = bass; the trio windows decode back to the chorale's own outer voices."""
    import music21
    from runtime.scores import load_file
    from training.extract import trio_windows, voices_as_trio

    chorale = load_file(str(music21.corpus.getWork("bwv347")))      # 4/4
    trio = voices_as_trio(chorale)
    windows = trio_windows(trio, bars=4, require_drums=False)
    assert len(windows) > 3 and (windows[..., 2] == 0).all()
    codec = TrioCodec()
    decoded = codec.decode(windows[0])
    soprano = sorted((n.pitch, n.start) for n in chorale.notes if n.track == 0 and n.start < 16)
    bass = sorted((n.pitch, n.start) for n in chorale.notes
                  if n.track == max(m.track for m in chorale.notes) and n.start < 16)
    assert sorted((n.pitch, n.start) for n in decoded.notes if n.program == 0) == soprano
    assert sorted((n.pitch, n.start) for n in decoded.notes if n.program == 33) == bass


def test_fit_sorts_the_parts_by_program_and_the_bass_plays_one_channel_up():
    from runtime.codecs.trio import trio_part

    codec = TrioCodec()
    clip = Clip([Note(110, 0, 1, program=0), Note(72, 0, 2, program=0),   # one voice: 110 -> 98
                 Note(12, 0, 1, program=33),                              # folded up to 24
                 Note(40, 1, 2, program=80),                              # no trio part
                 Note(36, 0, 0.25, is_drum=True)], length=8.0)
    fitted = codec.fit(clip, 4.0, 4)
    parts = {part: [n.pitch for n in fitted.notes if trio_part(n) == part]
             for part in codec.parts}
    assert parts == {"melody": [98], "bass": [24], "drums": [36]} and len(fitted.notes) == 3
    assert codec.encode(fitted)[0].tolist() == [2 + 98 - 21, 2 + 24 - 21, 1]
    channels = {trio_part(n): codec.channel_of(n, 15) for n in fitted.notes}
    assert channels == {"melody": 15, "bass": 0, "drums": 9}
