"""runtime.music, runtime.midi_io and runtime.quantize on real files, and on broken ones."""

import os

import mido
import pytest

from runtime.midi_io import MidiError, read_midi, write_midi
from runtime.music import Clip, Note
from runtime.quantize import quantize, steps_per_bar, to_steps


# -- music ---------------------------------------------------------------------------------------
def test_note_validates_its_values():
    with pytest.raises(ValueError, match="pitch"):
        Note(128, 0, 1)
    with pytest.raises(ValueError, match="velocity"):
        Note(60, 0, 1, velocity=200)
    with pytest.raises(ValueError, match="ends"):
        Note(60, 2, 1)
    assert Note(60, 1.0, 2.5).duration == 1.5


def test_clip_operations():
    clip = Clip([Note(64, 1, 2), Note(60, 0, 1), Note(36, 0, 0.25, is_drum=True)])
    assert clip.length == 2.0 and clip.notes[0].start == 0.0
    assert Clip([], length=6.0, time_signature=(3, 4)).bars == 2.0
    up = clip.transpose(3)
    assert sorted(n.pitch for n in up.notes) == [36, 63, 67]       # the drum keeps its pitch
    part = Clip([Note(60, 0, 3), Note(62, 3, 5)], length=8).slice(2, 4)
    assert [(n.pitch, n.start, n.end) for n in part.notes] == [(62, 1.0, 2.0)]
    assert part.length == 2.0
    joined = Clip.concat([Clip([Note(60, 0, 1)], length=4), Clip([Note(62, 0, 1)], length=4)])
    assert [(n.pitch, n.start) for n in joined.notes] == [(60, 0.0), (62, 4.0)]
    assert joined.length == 8.0
    assert [n.pitch for n in clip.filter(lambda n: not n.is_drum).notes] == [60, 64]
    assert clip.shifted(1.0).notes[0].start == 1.0


# -- quantize ------------------------------------------------------------------------------------
def test_to_steps_rounds_halves_up():
    assert [to_steps(b, 4) for b in (0.0, 0.12, 0.125, 0.2, 1.0)] == [0, 0, 1, 1, 4]


def test_quantize_keeps_every_note():
    clip = Clip([Note(60, 0.01, 0.05), Note(62, 0.26, 0.74), Note(38, 1.1, 1.9, is_drum=True)],
                length=3.9)
    q = quantize(clip, 4)
    assert [(n.start, n.end) for n in q.notes] == [(0.0, 0.25), (0.25, 0.75), (1.0, 1.25)]
    assert q.length == 4.0


def test_steps_per_bar():
    assert steps_per_bar((4, 4)) == 16 and steps_per_bar((6, 8)) == 12 and steps_per_bar((3, 4)) == 12
    with pytest.raises(ValueError, match="whole steps"):
        steps_per_bar((5, 8), 1)


# -- MIDI files ----------------------------------------------------------------------------------
def test_read_nottingham_keeps_tracks_and_meter_changes(shared_data):
    clip = read_midi(shared_data / "nottingham" / "full" / "ashover1.mid")
    assert {n.track for n in clip.notes} == {0, 1}                 # melody and chords
    assert clip.time_signature == (3, 4)
    meters = [(num, den) for _, num, den in clip.meter_changes]
    assert meters[:3] == [(3, 4), (2, 4), (3, 4)] and set(meters) == {(3, 4), (2, 4)}
    assert [beat for beat, _, _ in clip.meter_changes] == sorted(b for b, _, _ in clip.meter_changes)
    assert clip.length >= max(n.end for n in clip.notes)


def test_read_groove_marks_drums(shared_data):
    path = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*.mid"))[0]
    clip = read_midi(path)
    assert clip.is_drum and clip.notes and all(n.is_drum for n in clip.notes)
    assert clip.tempo == pytest.approx(float(path.name.split("_")[2]), abs=0.01)            # bpm in Groove's file name


@pytest.mark.parametrize("name", ["nottingham/full/ashover1.mid", "nottingham/melody/jigs10.mid",
                                  "groove/drummer1/session1/1_funk_80_beat_4-4.mid"])
def test_write_read_round_trip(shared_data, tmp_path, name):
    clip = read_midi(shared_data / name)
    out = tmp_path / "copy.mid"
    write_midi(clip, out)
    again = read_midi(out)
    key = lambda n: (round(n.start * 480), n.pitch, round(n.end * 480), n.velocity, n.is_drum)
    assert sorted(map(key, again.notes)) == sorted(map(key, clip.notes))
    assert again.time_signature == clip.time_signature and again.tempo == pytest.approx(clip.tempo)
    assert [m[1:] for m in again.meter_changes] == [m[1:] for m in clip.meter_changes] or \
           not clip.meter_changes
    assert [f for f in os.listdir(tmp_path) if f != "copy.mid"] == []   # no temp file left


def test_write_replaces_atomically(tmp_path):
    out = tmp_path / "clip.mid"
    write_midi(Clip([Note(60, 0, 1)], length=4), out)
    write_midi(Clip([Note(72, 0, 2)], length=4), out)
    assert [n.pitch for n in read_midi(out).notes] == [72]
    assert sorted(os.listdir(tmp_path)) == ["clip.mid"]


def _one_line_midi_error(path):
    with pytest.raises(MidiError) as info:
        read_midi(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_corrupt_files_give_one_line_errors(shared_data, tmp_path):
    real = (shared_data / "nottingham" / "full" / "ashover1.mid").read_bytes()
    truncated = tmp_path / "truncated.mid"
    truncated.write_bytes(real[:40])
    garbage = tmp_path / "garbage.mid"
    garbage.write_bytes(bytes(range(256)) * 4)
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    bad_header = tmp_path / "header.mid"
    bad_header.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01" + real[10:12])
    for path in (truncated, garbage, empty, bad_header):
        assert "not a readable MIDI file" in _one_line_midi_error(path)
    assert "no such file" in _one_line_midi_error(tmp_path / "missing.mid")


def test_type_2_file_is_refused(tmp_path):
    mid = mido.MidiFile(type=2)
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=90, time=0),
                                      mido.Message("note_off", note=60, velocity=0, time=480)]))
    path = tmp_path / "type2.mid"
    mid.save(path)
    assert "type 2" in _one_line_midi_error(path)


def test_overlapping_same_pitch_notes_pair_first_in_first_out(tmp_path):
    track = mido.MidiTrack([
        mido.Message("note_on", note=60, velocity=90, time=0),
        mido.Message("note_on", note=60, velocity=70, time=240),
        mido.Message("note_off", note=60, velocity=0, time=240),
        mido.Message("note_off", note=60, velocity=0, time=480),
    ])
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(track)
    path = tmp_path / "overlap.mid"
    mid.save(path)
    notes = read_midi(path).notes
    assert [(n.start, n.end, n.velocity) for n in notes] == [(0.0, 1.0, 90), (0.5, 2.0, 70)]
