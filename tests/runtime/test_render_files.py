"""DAW-ready files from python -m runtime.render: whole bars, named tracks, the user's umask,
the input's velocities carried through, and one clear line for input the model cannot hold."""

import os
import subprocess
import sys
from pathlib import Path

import mido
import pytest

from runtime.engine import Engine
from runtime.midi_io import read_midi, write_midi
from runtime.music import Clip, Note
from runtime.render import main

REPO = Path(__file__).resolve().parents[2]


def render(*argv, cwd, umask=None):
    return subprocess.run([sys.executable, "-m", "runtime.render", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=None if umask is None else (lambda: os.umask(umask)),
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                               "OMP_NUM_THREADS": "1"})


def _end_ticks(path):
    """Every track's end-of-track, in ticks."""
    mid = mido.MidiFile(path)
    return mid.ticks_per_beat, [sum(msg.time for msg in track) for track in mid.tracks]


def test_a_short_clip_is_still_whole_bars_and_named(tmp_path, capsys):
    """A reconstruction whose notes all end in bar 1 is 8 beats long (2 bars) in the file; the
    track names say model, command and seed; without --seed one is drawn and named, and that
    seed makes the same file again."""
    source = tmp_path / "short.mid"
    write_midi(Clip([Note(36, 0.0, 0.25, is_drum=True), Note(42, 0.5, 0.75, is_drum=True),
                     Note(38, 1.0, 1.25, is_drum=True), Note(42, 1.5, 1.75, is_drum=True)],
                    length=2.0, is_drum=True), source)
    out = tmp_path / "again.mid"
    assert main(["reconstruct", str(source), "--model", "drums_2bar", "--temperature", "0",
                 "--seed", "5", "-o", str(out)]) == 0
    clip = read_midi(out)
    assert clip.notes and max(n.end for n in clip.notes) < 4.0    # it does end early...
    tpb, ends = _end_ticks(out)
    assert ends == [8 * tpb] * len(ends)                          # ...but the file is 2 bars
    assert clip.length == 8.0 and mido.MidiFile(out).length == 4.0   # seconds at 120 BPM
    assert [t.name for t in mido.MidiFile(out).tracks] == ["drums_2bar reconstruct seed 5"] * 2
    source = tmp_path / "line.mid"
    write_midi(Clip([Note(67, 0.0, 0.5), Note(69, 0.5, 1.0), Note(71, 1.0, 2.0)], length=2.0), source)

    # 3 bars asked of a 2-bar model: 12 beats on every track
    assert main(["sample", "--model", "drums_2bar", "--bars", "3", "--seed", "2",
                 "-o", str(tmp_path / "three.mid")]) == 0
    tpb, ends = _end_ticks(tmp_path / "three.mid")
    assert set(ends) == {12 * tpb}

    # no --seed: a fresh one, written into the name; it reproduces the file
    assert main(["vary", str(source), "-n", "1", "-o", str(tmp_path / "free.mid")]) == 0
    name = mido.MidiFile(tmp_path / "free.mid").tracks[0].name
    assert name.startswith("mel_2bar vary seed ")
    seed = name.rsplit(" ", 1)[1]
    assert main(["vary", str(source), "-n", "1", "--seed", seed, "-o", str(tmp_path / "same.mid")]) == 0
    assert read_midi(tmp_path / "same.mid").notes == read_midi(tmp_path / "free.mid").notes
    capsys.readouterr()


@pytest.mark.parametrize("umask,file_mode,folder_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_files_and_folders_get_the_users_umask(tmp_path, umask, file_mode, folder_mode):
    proc = render("sample", "-n", 2, "--seed", 1, "--png", "-o", "new/deeper", cwd=tmp_path, umask=umask)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "new" / "deeper"
    assert (os.stat(tmp_path / "new").st_mode & 0o777) == folder_mode
    assert (os.stat(folder).st_mode & 0o777) == folder_mode
    written = sorted(folder.iterdir())
    assert [p.suffix for p in written] == [".mid", ".png", ".mid", ".png"]
    assert {os.stat(p).st_mode & 0o777 for p in written} == {file_mode}


def _dynamic(clip, low=20, spread=100):
    """The clip with a different velocity on (nearly) every note."""
    from dataclasses import replace

    return clip.copy(notes=[replace(n, velocity=low + (i * 37) % spread) for i, n in enumerate(clip.notes)])


def _allowed(notes, source, engine):
    """Per output note, the velocities it may have: those of the input notes on the same 16th
    step with the same pitch (drums: the same drum class), else the mean velocity of the notes
    the model hears (the input as prepared for it: one line, quantized, in its bars)."""
    from runtime.codecs.drums import DRUM_CLASS_PITCHES
    from runtime.quantize import to_steps

    drum_class = {p: i for i, ps in enumerate(DRUM_CLASS_PITCHES) for p in ps}
    heard = engine.prepare(source.slice(0.0, engine.length_beats)).notes
    mean = round(sum(n.velocity for n in heard) / len(heard))
    allowed = []
    for note in notes:
        key = (lambda n: (to_steps(n.start, 4), drum_class.get(n.pitch))) if note.is_drum else \
            (lambda n: (to_steps(n.start, 4), n.pitch))
        same = {n.velocity for n in source.notes if n.start < engine.length_beats and key(n) == key(note)}
        allowed.append(same or {mean})
    return allowed


def test_input_velocities_carry_through_reconstruct_and_vary(shared_data, tmp_path, capsys):
    tune = _dynamic(read_midi(shared_data / "nottingham" / "melody" / "ashover17.mid").slice(0.0, 8.0))
    source = tmp_path / "played.mid"
    write_midi(tune, source)
    assert main(["reconstruct", str(source), "--temperature", "0", "-o", str(tmp_path / "r.mid")]) == 0
    out = read_midi(tmp_path / "r.mid")
    assert len({n.velocity for n in out.notes}) > 3            # dynamics, not a flat 80
    melody = Engine.load(None)
    assert all(n.velocity in ok for n, ok in zip(out.notes, _allowed(out.notes, tune, melody)))
    matched = sum(any(round(m.start * 4) == round(n.start * 4) and m.pitch == n.pitch for m in tune.notes)
                  for n in out.notes)
    assert matched >= len(out.notes) / 2                        # most notes found their source

    assert main(["vary", str(source), "-n", "3", "--amount", "0.5", "--seed", "4",
                 "-o", str(tmp_path / "v")]) == 0
    for path in sorted((tmp_path / "v").glob("*.mid")):
        varied = read_midi(path)
        assert all(n.velocity in ok for n, ok in zip(varied.notes, _allowed(varied.notes, tune, melody)))

    # continue: the input kept as played, the new bars at its mean velocity
    assert main(["continue", str(source), "--bars", "2", "--seed", "4", "-o", str(tmp_path / "c.mid")]) == 0
    longer = read_midi(tmp_path / "c.mid")
    assert [n.velocity for n in longer.notes if n.start < 8.0] == [n.velocity for n in tune.notes]
    mean = round(sum(n.velocity for n in tune.notes) / len(tune.notes))
    assert {n.velocity for n in longer.notes if n.start >= 8.0} == {mean}

    # drums: a real Groove take, hits matched by drum class
    path = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*.mid"))[0]
    assert main(["reconstruct", str(path), "--model", "drums_2bar", "--temperature", "0",
                 "-o", str(tmp_path / "d.mid")]) == 0
    drums = read_midi(tmp_path / "d.mid")
    assert len({n.velocity for n in drums.notes}) > 5
    allowed = _allowed(drums.notes, read_midi(path), Engine.load("drums_2bar"))
    assert all(n.velocity in ok for n, ok in zip(drums.notes, allowed))
    assert sum(len(ok) == 1 and n.velocity in ok for n, ok in zip(drums.notes, allowed)) > 10

    # no input file: prior samples have no dynamics, the codec's own velocity stays
    assert main(["reconstruct", "--seed", "3", "-o", str(tmp_path / "prior.mid")]) == 0
    assert {n.velocity for n in read_midi(tmp_path / "prior.mid").notes} == {80}
    capsys.readouterr()


def test_interpolation_velocities_move_from_one_end_to_the_other(tmp_path, capsys):
    a, b = tmp_path / "soft.mid", tmp_path / "loud.mid"
    line = [Note(60 + (i * 5) % 12, i * 0.5, i * 0.5 + 0.5) for i in range(16)]
    write_midi(Clip([Note(n.pitch, n.start, n.end, velocity=30) for n in line], length=8.0), a)
    write_midi(Clip([Note(n.pitch + 12, n.start, n.end, velocity=120) for n in line], length=8.0), b)
    assert main(["interpolate", str(a), str(b), "--steps", "3", "--temperature", "0",
                 "-o", str(tmp_path / "p")]) == 0
    first, middle, last = (read_midi(p) for p in sorted((tmp_path / "p").glob("*.mid")))
    assert {n.velocity for n in first.notes} == {30} and {n.velocity for n in last.notes} == {120}
    assert {n.velocity for n in middle.notes} <= {30, 75, 120}
    capsys.readouterr()


def test_input_the_model_cannot_hold_is_one_line_and_no_file(tmp_path):
    """What used to be a silent 0-note, 0-length file: exit 1, one line saying why, nothing
    written; what the model only partly hears is written with a warning naming what it leaves."""
    files = {
        "drums.mid": Clip([Note(36 + i % 3, i * 0.5, i * 0.5 + 0.25, is_drum=True) for i in range(16)],
                          length=8.0, is_drum=True),
        "empty.mid": Clip([], length=8.0),
        "late.mid": Clip([Note(60, 16.0 + i, 17.0 + i) for i in range(4)], length=24.0),
    }
    for name, clip in files.items():
        write_midi(clip, tmp_path / name)
    expected = {"drums.mid": "mel_2bar can read none of the 16 notes in bars 1-2: 16 drum notes",
                "empty.mid": "no notes to reconstruct (the file has none)",
                "late.mid": "no notes in bars 1-2 (the first is in bar 5: --bars 5 reaches it)"}
    for name, message in expected.items():
        proc = render("reconstruct", tmp_path / name, "-o", "out", cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.startswith(f"error: {tmp_path / name}: {message}")
        assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
    proc = render("reconstruct", tmp_path / "late.mid", "--bars", 5, "-o", "late_again.mid", cwd=tmp_path)
    assert proc.returncode == 0 and read_midi(tmp_path / "late_again.mid").length == 20.0

    # heard in part: chords (one line kept), a pitch out of range (moved by octaves), drums
    partly = Clip([Note(p, float(b), b + 1.0) for b in range(8) for p in (48, 55, 64)]
                  + [Note(115, 0.0, 1.0), Note(38, 0.0, 0.25, is_drum=True)], length=8.0)
    write_midi(partly, tmp_path / "chords.mid")
    proc = render("reconstruct", tmp_path / "chords.mid", "--temperature", 0, "-o", "chords_out.mid",
                  cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"{tmp_path / 'chords.mid'}: 2 parts, all read (track 2 channel 1: 25 notes, track 3 "
        "channel 10: 1 note); pick one with --track N or --channel N",
        f"warning: {tmp_path / 'chords.mid'}: mel_2bar hears 8 of the 26 notes in bars 1-2: "
        "1 drum notes, which mel_2bar does not play; 17 under a higher voice or on the same "
        "16th step; 1 moved by octaves into its range 21-108"]
    assert read_midi(tmp_path / "chords_out.mid").length == 8.0


def test_engine_reads_what_render_says_it_hears(tmp_path):
    """The count in the warning is the model's own: the notes of the prepared, encoded piece."""
    from runtime.fit import hearing

    engine = Engine.load(None)
    partly = Clip([Note(p, float(b), b + 1.0) for b in range(8) for p in (48, 55, 64)], length=8.0)
    heard = hearing(engine, partly)
    assert (heard.total, heard.heard) == (24, 8)
    assert [n.pitch for n in heard.prepared.notes] == [64] * 8
    tokens = engine.tokens(partly)
    assert len(engine.to_clip(tokens).notes) == heard.heard
