"""Hear it: python -m runtime.render ... --wav and ``show`` run the real FluidSynth with a real
General MIDI SoundFont (scripts/test.sh installs both from apt), and a missing synth is one line."""

import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import mido
import numpy as np
import pytest

from runtime.audio import INSTALL, AudioError, find_soundfont, find_synth
from runtime.files import user_umask
from runtime.midi_io import write_midi
from runtime.music import Clip, Note
from runtime.render import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synth():
    try:
        return find_synth()
    except AudioError as exc:   # CI installs them (scripts/test.sh); a bare machine may not have
        pytest.skip(f"no synthesizer here: {exc}")


def render(*argv, cwd, path="/usr/bin:/bin"):
    return subprocess.run([sys.executable, "-m", "runtime.render", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": path, "OMP_NUM_THREADS": "1"})


def _audio(path):
    """(frames [n, channels] float, frame rate) of a WAV file, after checking its format."""
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 44100)
        data = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, 2)
    return data.astype(np.float64), 44100


def _rms(frames, rate, start, end):
    part = frames[int(start * rate):int(end * rate)]
    return float(np.sqrt((part ** 2).mean()))


def test_wav_beside_each_mid_sounds_where_the_notes_are(synth, tmp_path, capsys):
    """Drums that play only in the first bar: a 2-bar WAV (+1 s of release) loud in bar 1 and
    silent once the hits have rung out; one WAV beside each .mid, with the user's umask."""
    source = tmp_path / "bar1.mid"
    write_midi(Clip([Note(36, 0.0, 0.25, is_drum=True), Note(42, 0.5, 0.75, is_drum=True),
                     Note(38, 1.0, 1.25, is_drum=True), Note(42, 1.5, 1.75, is_drum=True)],
                    length=2.0, is_drum=True), source)
    out = tmp_path / "out" / "beat.mid"
    assert main(["reconstruct", str(source), "--model", "drums_2bar", "--temperature", "0",
                 "--tempo", "120", "--wav", "-o", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out), str(out.with_suffix(".wav"))]
    frames, rate = _audio(out.with_suffix(".wav"))
    assert len(frames) == (mido.MidiFile(out).length + 1.0) * rate == 5 * rate   # 8 beats at 120 + 1 s
    loud, quiet = _rms(frames, rate, 0.0, 1.0), _rms(frames, rate, 2.5, 4.0)
    assert loud > 300 and quiet < loud / 50, (loud, quiet)
    assert (os.stat(out.with_suffix(".wav")).st_mode & 0o777) == 0o666 & ~user_umask()
    assert sorted(p.name for p in out.parent.iterdir()) == ["beat.mid", "beat.wav"]   # no temp left

    # several files: one WAV each, every one sounding
    assert main(["sample", "-n", "2", "--seed", "3", "--wav", "-o", str(tmp_path / "many")]) == 0
    wavs = sorted((tmp_path / "many").glob("*.wav"))
    assert [p.stem for p in wavs] == ["mel_2bar_sample_01", "mel_2bar_sample_02"]
    for wav in wavs:
        frames, rate = _audio(wav)
        assert _rms(frames, rate, 0.0, 4.0) > 100
    capsys.readouterr()


def test_velocity_is_heard(synth, tmp_path):
    levels = {}
    for velocity in (30, 120):
        wav = synth.render_clip(Clip([Note(60, 0.0, 1.0, velocity=velocity)], length=4.0),
                                tmp_path / f"v{velocity}.wav")
        frames, rate = _audio(wav)
        assert len(frames) == 3 * rate       # 4 beats at 120 BPM + 1 s
        levels[velocity] = _rms(frames, rate, 0.0, 1.0)
    assert levels[120] > 3 * levels[30] > 0


def test_show_renders_any_midi_file_beside_it(synth, shared_data, tmp_path):
    song = tmp_path / "ashover1.mid"
    shutil.copy(shared_data / "nottingham" / "full" / "ashover1.mid", song)
    proc = render("show", song, cwd=tmp_path, path=os.environ["PATH"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(tmp_path / "ashover1.wav"), str(tmp_path / "ashover1.png")]
    frames, rate = _audio(tmp_path / "ashover1.wav")
    assert len(frames) == round((mido.MidiFile(song).length + 1.0) * rate)
    assert _rms(frames, rate, 0.0, 10.0) > 100
    # one part of it, into another folder: rendered from that part only
    proc = render("show", song, "--track", 2, "--wav", "-o", "parts", cwd=tmp_path, path=os.environ["PATH"])
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (tmp_path / "parts").iterdir()] == ["ashover1.wav"]
    assert "track 2 channel 1: 90 notes" in proc.stderr


def test_missing_synth_is_one_line_and_nothing_written(tmp_path):
    """Without FluidSynth on PATH: exit 1, one line naming what to install, no file at all."""
    proc = render("sample", "-n", 2, "--wav", "-o", "out", cwd=tmp_path, path="/nonexistent")
    assert proc.returncode == 1
    assert proc.stderr == f"error: --wav needs the FluidSynth synthesizer, not found on PATH: {INSTALL}\n"
    proc = render("show", REPO / "no_such.mid", "--wav", cwd=tmp_path, path="/nonexistent")
    assert proc.returncode == 1 and "FluidSynth" in proc.stderr
    # --png alone needs no synth
    write_midi(Clip([Note(60, 0.0, 1.0)], length=4.0), tmp_path / "one.mid")
    proc = render("show", "one.mid", "--png", cwd=tmp_path, path="/nonexistent")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.mid", "one.png"]


def test_bad_soundfont_is_one_line(tmp_path, monkeypatch):
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    with pytest.raises(AudioError, match=r"fake.sf2: not a SoundFont \(.sf2\) file"):
        find_soundfont(fake)
    monkeypatch.setenv("LATENTBRIDGE_SOUNDFONT", str(tmp_path / "gone.sf2"))
    with pytest.raises(AudioError, match=r"gone.sf2 \(LATENTBRIDGE_SOUNDFONT\): no such SoundFont file"):
        find_soundfont()
    if shutil.which("fluidsynth"):
        proc = render("sample", "--wav", "--soundfont", fake, "-o", "out", cwd=tmp_path,
                      path=os.environ["PATH"])
        assert proc.returncode == 1 and proc.stderr == f"error: {fake}: not a SoundFont (.sf2) file\n"
        assert not (tmp_path / "out").exists()
