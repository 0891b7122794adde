"""Window extraction as Magenta's converters do it (magenta/models/music_vae/data.py and the
configs in configs.py), rule by rule, on real Nottingham and Groove files: ``max_bars``, the
note-off before a window's first note, the 2-bar melody configs' program filter and dropped
out-of-range notes, and the trio converter's padded parts and gap bars.

Magenta's converters themselves need TensorFlow, so they do not run here; docs/data.md gives
the parity measured against them outside the suite."""

from dataclasses import replace

import numpy as np
import pytest

from runtime.codecs.melody import FIRST_PITCH_CLASS, NO_EVENT, NOTE_OFF, MelodyCodec
from runtime.midi_io import read_midi, write_midi
from runtime.music import Clip
from training import extract
from training.prepare import Options, Task, _process, main


def _keys(windows) -> set:
    return {w.tobytes() for w in windows}


# -- max_bars ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, windows", [
    ("groove/drummer1/session1/101_dance-disco_120_beat_4-4.mid", extract.drum_windows),  # 155 bars
    ("nottingham/melody/morris14.mid", extract.melody_windows)])                           # 169 bars
def test_a_melody_or_drum_track_is_cut_after_100_bars(shared_data, path, windows):
    """Both pieces are one melody / drum track from bar 0, so cutting the track after 100 bars
    gives exactly the windows of the piece's first 100 bars."""
    clip = read_midi(shared_data / path)
    capped = windows(clip, bars=2)
    assert np.array_equal(capped, windows(clip.slice(0.0, 400.0), bars=2))
    uncapped = windows(clip, bars=2, max_bars=None)
    assert _keys(capped) < _keys(uncapped)            # the ends of the piece add windows


def test_prepare_caps_as_magenta_and_the_flag_lifts_it(shared_data, tmp_path):
    path = str(shared_data / "groove/drummer1/session1/101_dance-disco_120_beat_4-4.mid")
    task = Task("take.mid", path)
    (default,) = _process(task, Options(kind="drums", bars=2))
    (lifted,) = _process(task, Options(kind="drums", bars=2, max_bars=0))
    assert np.array_equal(default.windows, extract.drum_windows(read_midi(path), 2))
    assert len(lifted.windows) > len(default.windows)
    assert Options(kind="drums", bars=2).extraction()["max_bars"] == 100
    assert Options(kind="drums", bars=2, max_bars=0).extraction()["max_bars"] is None
    assert Options(kind="trio", bars=16).extraction() == {
        "max_bars": 1024, "gap_bars": 2, "programs": None}


# -- the note-off before a window's first note ---------------------------------------------------
def test_a_note_off_before_the_first_note_becomes_no_event(shared_data):
    """reelsa-c66 has notes that end on a bar line: slices of its melody start with the
    note-off of a note that began before the window; note_seq's Melody makes it 'no event'."""
    clip = read_midi(shared_data / "nottingham" / "melody" / "reelsa-c66.mid")
    codec = MelodyCodec()
    raw = [w for section in extract.four_four_sections(clip)
           for notes in extract.tracks(section).values()
           for melody in extract.extract_melodies(notes)
           for w in extract.slide(extract.melody_tokens(melody, codec), 32)]
    leading = [w for w in raw if NOTE_OFF in w[:np.argmax(w >= FIRST_PITCH_CLASS)]]
    assert len(leading) >= 10
    windows = extract.melody_windows(clip, bars=2)
    for w in windows:
        assert NOTE_OFF not in w[:np.argmax(w >= FIRST_PITCH_CLASS)]
    for w in leading:
        cleaned = w.copy()
        cleaned[:np.argmax(w >= FIRST_PITCH_CLASS)] = NO_EVENT
        assert cleaned.tobytes() in _keys(windows) and w.tobytes() not in _keys(windows)
    # cleaned before de-duplication: no two windows differ only in a leading note-off
    assert len(windows) == len(_keys(windows))


# -- programs and the pitch range ----------------------------------------------------------------
@pytest.fixture(scope="module")
def tune_with_bass(shared_data, tmp_path_factory):
    """A real Nottingham tune (melody and chord tracks) whose chord track plays program 33."""
    clip = read_midi(shared_data / "nottingham" / "full" / "reelsa-c1.mid")
    melody_track = min(n.track for n in clip.notes)
    notes = [n if n.track == melody_track else replace(n, program=33) for n in clip.notes]
    path = tmp_path_factory.mktemp("bass") / "reelsa-c1-bass.mid"
    write_midi(clip.copy(notes=notes), path)
    melody_only = clip.copy(notes=[n for n in clip.notes if n.track == melody_track])
    return path, melody_only


def test_two_bar_melodies_read_programs_0_to_31_as_magentas_configs(tune_with_bass):
    path, melody_only = tune_with_bass
    task = Task(path.name, str(path))
    (two_bar,) = _process(task, Options(kind="mel", bars=2))
    assert np.array_equal(two_bar.windows, extract.melody_windows(melody_only, bars=2))
    (every,) = _process(task, Options(kind="mel", bars=2, programs=(0, 127)))
    assert _keys(two_bar.windows) < _keys(every.windows)      # the bass line's windows too
    (sixteen,) = _process(task, Options(kind="mel", bars=16))  # mel_16bar: every program
    (sixteen_melody,) = _process(task, Options(kind="mel", bars=16, programs=(0, 31)))
    assert _keys(sixteen_melody.windows) < _keys(sixteen.windows)


def test_out_of_range_notes_are_dropped_not_whole_melodies(shared_data):
    clip = read_midi(shared_data / "nottingham" / "melody" / "reelsa-c1.mid")
    low = sorted(n.pitch for n in clip.notes)[len(clip.notes) // 20]   # ~5% of notes below it
    codec = MelodyCodec(min_pitch=low, max_pitch=108)
    stats = {}
    windows = extract.melody_windows(clip, bars=2, codec=codec, stats=stats)
    kept = clip.copy(notes=[n for n in clip.notes if n.pitch >= low])
    assert stats["notes_out_of_range"] == len(clip.notes) - len(kept.notes) > 0
    assert len(windows) > 10
    assert np.array_equal(windows, extract.melody_windows(kept, bars=2, codec=codec))


# -- trio: whole parts, gap bars -----------------------------------------------------------------
@pytest.fixture(scope="module")
def trio_parts(shared_data):
    """Real parts: a Nottingham reel's melody (program 0), its chord track's lowest notes as a
    bass (program 33) and a Groove take's drums, all over the reel's 4/4 length."""
    clip = read_midi(shared_data / "nottingham" / "full" / "reelsa-c22.mid")
    first, last = min(n.track for n in clip.notes), max(n.track for n in clip.notes)
    melody = [n for n in clip.notes if n.track == first]
    lowest = {}
    for n in clip.notes:
        if n.track == last and (n.start not in lowest or n.pitch < lowest[n.start].pitch):
            lowest[n.start] = n
    bass = [replace(n, program=33) for n in lowest.values()]
    take = read_midi(shared_data / "groove/drummer1/session1/102_funk_95_beat_4-4.mid")
    drums = [replace(n, track=last + 1) for n in take.notes if n.start < clip.length]
    return clip, melody, bass, drums


def _trio_count(clip: Clip, notes, **kwargs) -> tuple[np.ndarray, int]:
    """Windows and how many bar positions gave one (before de-duplication)."""
    stats = {}
    windows = extract.trio_windows(clip.copy(notes=notes), bars=16, stats=stats, **kwargs)
    return windows, len(windows) + stats.get("duplicate_windows", 0) + stats.get("empty_windows", 0)


def test_trio_parts_may_rest_up_to_gap_bars(trio_parts):
    clip, melody, bass, drums = trio_parts
    _, every = _trio_count(clip, melody + bass + drums)
    bars = -(-max(round(n.end * 4) for n in melody + bass + drums) // 16)
    assert every == bars - 16 + 1 > 20                            # a window at every bar

    def silent(lo, hi):   # no drum sounds in bars lo..hi-1
        return [n for n in drums if n.end <= 4 * lo or n.start >= 4 * hi]

    _, two = _trio_count(clip, melody + bass + silent(8, 10))     # 2 silent bars: still covered
    assert two == every
    _, five = _trio_count(clip, melody + bass + silent(8, 13))    # bar 10: none within 2 bars
    assert five == every - 11                                     # windows from bars 0..10 go
    _, five_wide = _trio_count(clip, melody + bass + silent(8, 13), gap_bars=3)
    assert five_wide == every


def test_trio_parts_are_padded_to_the_whole_piece(trio_parts):
    """A bass that enters a bar late still covers the first window (its first bar padded with
    'no event'); the melody's leading note-off stays as the trio converter slices whole parts."""
    clip, melody, bass, drums = trio_parts
    late = [n for n in bass if n.start >= 4]
    windows, count = _trio_count(clip, melody + late + drums)
    assert count == _trio_count(clip, melody + bass + drums)[1]
    assert any((w[:16, 1] == NO_EVENT).all() and (w[16:, 1] >= FIRST_PITCH_CLASS).any()
               for w in windows)
    none, _ = _trio_count(clip, melody + late)                    # drums required by default
    assert len(none) == 0
    loose, _ = _trio_count(clip, melody + late, require_drums=False)
    assert len(loose) > 0 and (loose[..., 2] == 0).all()


def test_trio_parts_come_from_the_codecs_rule(trio_parts):
    """Which instrument is the melody, the bass or drums is the trio codec's rule
    (``part_of_instrument``): a bass on program 39 plays the bass as on 33, a copy of it on
    strings (48) is no part and changes nothing, a bass on 40 leaves no trio; a codec whose
    rule places 40 in the bass makes it one again."""
    from runtime.codecs.trio import BASS_PROGRAMS, TrioCodec

    clip, melody, bass, drums = trio_parts
    windows, _ = _trio_count(clip, melody + bass + drums)
    assert len(windows) > 20
    on = lambda program: [replace(n, program=program) for n in bass]   # noqa: E731
    assert np.array_equal(_trio_count(clip, melody + on(39) + drums)[0], windows)
    assert np.array_equal(_trio_count(clip, melody + bass + on(48) + drums)[0], windows)
    assert len(_trio_count(clip, melody + on(40) + drums)[0]) == 0

    class WideBass(TrioCodec):
        @staticmethod
        def part_of_instrument(program, is_drum=False):
            return "bass" if program == 40 and not is_drum else \
                TrioCodec.part_of_instrument(program, is_drum)

    assert 40 not in BASS_PROGRAMS
    wide = extract.trio_windows(clip.copy(notes=melody + on(40) + drums), bars=16,
                                codec=WideBass())
    assert np.array_equal(wide, windows)


# -- the command line ----------------------------------------------------------------------------
@pytest.mark.parametrize("flags, message", [
    (["--max-bars", "-1"], "--max-bars must be 0 (no cap) or more"),
    (["--programs", "40", "32"], "--programs LOW HIGH must be in 0..127, lowest first"),
    (["--kind", "trio", "--gap-bars", "1.5"], "--gap-bars must be a whole number of bars")])
def test_bad_extraction_flags_are_usage_errors(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["x.mid", "-o", str(tmp_path / "out"), *flags])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
