"""Corpus import: MusicXML, ABC, Humdrum and MIDI files and music21's own collections."""

from dataclasses import replace
from pathlib import Path

import music21
import pytest

from runtime.midi_io import read_midi, write_midi
from training.corpus import CorpusError, iter_music21, load_abc_tunes, load_file

M21_CORPUS = Path(music21.__file__).parent / "corpus"

ABC_BOOK = """\
% a small book: header fields before the first X: apply to every tune
L:1/8

X:1
T:Pickup, tie and chord symbols
M:3/4
Q:1/4=90
K:G
D | "G"G2 A2 B2- | B2 A2 G2 | "D"F3-G A2 |]

X:2
T:Repeated
M:2/4
K:D
|: d2 e2 | f4 :|
|: a2 b2 | c4 :|

X:3
T:No notes at all
M:4/4
K:C
z4 |]
"""


@pytest.fixture()
def abc_book(tmp_path):
    path = tmp_path / "book.abc"
    path.write_text(ABC_BOOK)
    return path


def _triples(clip):
    return [(n.pitch, n.start, n.end) for n in clip.notes]


def test_first_abc_tune_keeps_meter_tempo_pickup_and_ties(abc_book):
    clip = load_file(abc_book)
    assert clip.time_signature == (3, 4) and clip.tempo == 90
    # The pickup D is padded to the end of a whole 3/4 bar; the tie B2-|B2 is one note;
    # "F3-G" ties two different pitches (ABC slur habit) and must NOT swallow the G;
    # the chord symbols "G" "D" add no notes.
    assert _triples(clip) == [
        (62, 2.5, 3.0),
        (67, 3.0, 4.0), (69, 4.0, 5.0), (71, 5.0, 7.0), (69, 7.0, 8.0), (67, 8.0, 9.0),
        (66, 9.0, 10.5), (67, 10.5, 11.0), (69, 11.0, 12.0),
    ]
    assert clip.length == 12.0
    unaligned = load_file(abc_book, align_pickup=False)
    assert unaligned.notes[0].start == 0.0 and unaligned.length == 9.5


def test_all_abc_tunes_with_one_bad_tune_and_repeats(abc_book):
    tunes = load_abc_tunes(abc_book)
    assert [name for name, _ in tunes] == ["book#1", "book#2", "book#3"]
    assert isinstance(tunes[2][1], CorpusError) and "no notes" in str(tunes[2][1])
    plain = tunes[1][1]
    assert plain.time_signature == (2, 4) and len(plain) == 6 and plain.length == 8.0
    expanded = load_abc_tunes(abc_book, expand_repeats=True, limit=2)[1][1]
    assert len(expanded) == 12 and expanded.length == 16.0
    first, second = _triples(plain)[:3], _triples(plain)[3:]
    assert _triples(expanded) == (first + [(p, s + 4, e + 4) for p, s, e in first]
                                  + [(p, s + 4, e + 4) for p, s, e in second]
                                  + [(p, s + 8, e + 8) for p, s, e in second])
    assert len(load_abc_tunes(abc_book, limit=1)) == 1


def test_musicxml_parts_become_tracks(tmp_path):
    score = music21.stream.Score()
    for part_index, pitches in enumerate((["E5", "D5", "C5"], ["C4", "B3", "A3"])):
        part = music21.stream.Part()
        part.insert(0, music21.instrument.Violin() if part_index == 0 else music21.instrument.Violoncello())
        measure = music21.stream.Measure(number=1)
        measure.append(music21.meter.TimeSignature("3/4"))
        if part_index == 0:
            measure.append(music21.tempo.MetronomeMark(number=72))
        for name in pitches:
            measure.append(music21.note.Note(name, quarterLength=1.0))
        part.append(measure)
        score.insert(0, part)
    path = Path(score.write("musicxml", fp=tmp_path / "duet.musicxml"))
    clip = load_file(path)
    assert clip.time_signature == (3, 4) and clip.tempo == 72 and clip.length == 3.0
    assert {(n.track, n.pitch, n.start) for n in clip.notes} == {
        (0, 76, 0.0), (0, 74, 1.0), (0, 72, 2.0), (1, 60, 0.0), (1, 59, 1.0), (1, 57, 2.0)}
    assert {n.program for n in clip.notes if n.track == 0} == {40}   # violin
    assert {n.program for n in clip.notes if n.track == 1} == {42}   # cello


def test_bach_chorales_from_music21_survive_a_midi_round_trip(tmp_path):
    chorales = list(iter_music21("bach", limit=3))
    assert [name for name, _ in chorales] == ["bach/bwv269", "bach/bwv347", "bach/bwv153.1"]
    # Each opens with a one-beat pickup, padded so that the first full bar starts on a bar line.
    first_downbeats = [3.0, 4.0, 4.0]
    for (name, clip), downbeat in zip(chorales, first_downbeats):
        assert not isinstance(clip, CorpusError), clip
        assert sorted({n.track for n in clip.notes}) == [0, 1, 2, 3]          # SATB
        bar = clip.beats_per_bar
        assert downbeat == bar and clip.notes[0].start == bar - 1.0
        assert all(0 < n.end - n.start <= 4 * bar for n in clip.notes)
        # One program per voice, so that unisons between voices stay apart in the MIDI file.
        voiced = clip.copy(notes=[replace(n, program=n.track) for n in clip.notes])
        write_midi(voiced, tmp_path / "chorale.mid")
        again = read_midi(tmp_path / "chorale.mid")
        assert sorted((n.program, *t) for n, t in zip(again.notes, _triples(again))) == \
            sorted((n.program, *t) for n, t in zip(voiced.notes, _triples(voiced)))
        assert again.time_signature == clip.time_signature


@pytest.mark.parametrize("collection", ["oneills1850", "essenFolksong", "ryansMammoth", "airdsAirs"])
def test_folk_collections_give_monophonic_tunes(collection):
    tunes = list(iter_music21(collection, limit=2))
    assert len(tunes) == 2
    for name, clip in tunes:
        assert name.startswith(collection + "/")
        assert not isinstance(clip, CorpusError), clip
        assert len(clip) > 10 and {n.track for n in clip.notes} == {0}
        starts = [n.start for n in clip.notes]
        assert len(set(starts)) == len(starts)                               # one voice
        assert all(n.end <= m.start + 1e-9 for n, m in zip(clip.notes, clip.notes[1:]))


def test_folk_tune_with_triplets_feeds_the_note_codecs_exactly():
    from runtime.codecs.note_events import NoteEventCodec
    from runtime.codecs.pod import PodCodec

    book = M21_CORPUS / "oneills1850" / "0001-0050.abc"
    name, tune = load_abc_tunes(book, limit=2)[1]           # "Fare You Well": (3(A2G2F2)
    assert name == "0001-0050#2" and not isinstance(tune, CorpusError)
    thirds = [n for n in tune.notes if abs(n.duration - 1 / 3) < 1e-6]
    assert len(thirds) >= 3                                  # the triplet quavers
    grid = sorted((n.pitch, round(n.start * 12), round(n.end * 12)) for n in tune.notes)
    assert all(abs(n.start * 12 - round(n.start * 12)) < 1e-6 for n in tune.notes)
    for codec in (NoteEventCodec.build([tune]), PodCodec.build([tune])):
        again = codec.decode(codec.encode(tune))
        assert sorted((n.pitch, round(n.start * 12), round(n.end * 12)) for n in again.notes) == grid


def test_humdrum_file():
    krn = load_file(M21_CORPUS / "palestrina" / "Agnus_II_47.krn")
    assert len({n.track for n in krn.notes}) >= 4 and krn.time_signature == (4, 2)


def test_midi_through_load_file_matches_read_midi(shared_data):
    path = sorted((shared_data / "nottingham" / "melody").glob("*.mid"))[0]
    assert _triples(load_file(path)) == _triples(read_midi(path))


@pytest.mark.parametrize("suffix", [".mxl", ".xml", ".musicxml", ".abc", ".krn", ".mid"])
def test_garbage_bytes_give_one_line_corpus_error(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"\x00\x01 not music \xff" * 40)
    with pytest.raises(CorpusError) as err:
        load_file(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_bad_paths_and_names(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        load_file(tmp_path / "missing.xml")
    with pytest.raises(CorpusError, match="unsupported file type"):
        load_file(tmp_path / "notes.txt")
    with pytest.raises(CorpusError, match="no collection"):
        list(iter_music21("no_such_collection_here"))
    assert list(iter_music21("bach", limit=0)) == []
