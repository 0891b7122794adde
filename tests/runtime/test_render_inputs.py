"""Input to python -m runtime.render: one part of a multi-track MIDI file (--track/--channel, the
part used said on stderr) and scores (.mxl, .xml, .abc) through music21."""

import subprocess
import sys
from pathlib import Path

import mido
import pytest

from runtime.engine import Engine
from runtime.inputs import InputError, read_clip
from runtime.midi_io import read_midi, write_midi
from runtime.render import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def band(tmp_path):
    """A type-1 file as a DAW writes it: tempo track, then Lead (ch 1), Bass (ch 2), Drums (ch 10)."""
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100))]))
    for name, channel, pitches, step in (("Lead", 0, [72, 74, 76, 79], 240), ("Bass", 1, [36, 43], 480),
                                         ("Drums", 9, [36, 42, 38, 42], 240)):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
        for i in range(8 * 480 // step):
            pitch = pitches[i % len(pitches)]
            track.append(mido.Message("note_on", channel=channel, note=pitch, velocity=90, time=0))
            track.append(mido.Message("note_off", channel=channel, note=pitch, velocity=0, time=step))
        mid.tracks.append(track)
    path = tmp_path / "band.mid"
    mid.save(path)
    return path


def _pitches(path):
    return [n.pitch for n in read_midi(path).notes]


def test_track_and_channel_pick_the_part(band, tmp_path, capsys):
    engine = Engine.load(None)
    whole = read_midi(band)

    # no choice: every part is read (the melody model keeps the highest voice) and the parts listed
    assert main(["reconstruct", str(band), "--temperature", "0", "-o", str(tmp_path / "all.mid")]) == 0
    err = capsys.readouterr().err
    assert (f"{band}: 3 parts, all read (track 2 'Lead' channel 1: 16 notes, track 3 'Bass' channel 2: "
            f"8 notes, track 4 'Drums' channel 10: 16 notes); pick one with --track N or --channel N") in err

    # --track 3: the bass, as the engine reconstructs the bass alone
    assert main(["reconstruct", str(band), "--track", "3", "--temperature", "0",
                 "-o", str(tmp_path / "bass.mid")]) == 0
    assert capsys.readouterr().err.splitlines()[0] == f"{band}: track 3 'Bass' channel 2: 8 notes"
    bass = whole.filter(lambda n: n.track == 2)
    expected = engine.decode(engine.encode([bass]), temperature=0.0)[0]
    assert _pitches(tmp_path / "bass.mid") == [n.pitch for n in expected.notes]
    assert _pitches(tmp_path / "bass.mid") != _pitches(tmp_path / "all.mid")
    assert read_midi(tmp_path / "bass.mid").tempo == pytest.approx(100.0)   # the file's tempo kept

    # --channel 10: the drums, for the drum model
    assert main(["reconstruct", str(band), "--channel", "10", "--model", "drums_2bar",
                 "--temperature", "0", "-o", str(tmp_path / "drums.mid")]) == 0
    assert capsys.readouterr().err.splitlines()[0] == f"{band}: track 4 'Drums' channel 10: 16 notes"
    assert {n.pitch for n in read_midi(tmp_path / "drums.mid").notes} <= {36, 38, 42}

    # a part that is not there: one line naming the parts that are, exit 1, nothing written
    assert main(["reconstruct", str(band), "--track", "1", "-o", str(tmp_path / "none.mid")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {band}: no notes for --track 1 (parts with notes: track 2 'Lead'")
    assert len(err.splitlines()) == 1 and not (tmp_path / "none.mid").exists()
    assert main(["vary", str(band), "--track", "2", "--channel", "2", "-o", str(tmp_path / "no.mid")]) == 1
    assert "no notes for --track 2 --channel 2" in capsys.readouterr().err


def test_read_clip_api(band):
    clip, said = read_clip(band, channel=2)
    assert said == f"{band}: track 3 'Bass' channel 2: 8 notes" and {n.pitch for n in clip.notes} == {36, 43}
    assert clip.length == read_midi(band).length
    single = band.parent / "single.mid"
    write_midi(clip, single)
    assert read_clip(single) == (read_midi(single), None)      # one part: nothing to say
    with pytest.raises(InputError, match="no such file"):
        read_clip(band.parent / "missing.mid")


def _corpus(name):
    music21 = pytest.importorskip("music21", reason="music21 comes with the train extra")
    return Path(music21.__file__).parent / "corpus" / name


@pytest.mark.parametrize("name,args", [("bach/bwv66.6.mxl", ["--track", "1"]),
                                       ("bach/bwv67.4.xml", ["--track", "4"]),
                                       ("ryansMammoth/PaddyMilesFricasseeReel.abc", [])])
def test_scores_are_read_through_music21(name, args, tmp_path, capsys):
    from runtime.scores import load_file

    score = _corpus(name)
    out = tmp_path / "out.mid"
    assert main(["reconstruct", str(score), *args, "--temperature", "0", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    clip = load_file(score)
    if args:
        part = int(args[1])
        clip = clip.filter(lambda n: n.track == part - 1)
        assert err.splitlines()[0] == f"{score}: part {part}: {len(clip.notes)} notes"
    engine = Engine.load(None)
    expected = engine.decode(engine.encode([clip]), temperature=0.0)[0]
    assert _pitches(out) == [n.pitch for n in expected.notes] and _pitches(out)
    if name.endswith(".mxl"):   # a chorale without --track: its four voices listed
        assert main(["vary", str(score), "-n", "1", "-o", str(tmp_path / "v.mid")]) == 0
        assert f"{score}: 4 parts, all read (part 1: " in capsys.readouterr().err


def test_score_errors_are_one_line(tmp_path, capsys):
    score = _corpus("bach/bwv66.6.mxl")
    assert main(["reconstruct", str(score), "--channel", "1", "-o", str(tmp_path / "x.mid")]) == 1
    assert capsys.readouterr().err == (f"error: {score}: --channel is for MIDI files; pick a "
                                       f"score's part with --track N\n")
    assert main(["reconstruct", str(score), "--track", "9", "-o", str(tmp_path / "x.mid")]) == 1
    assert capsys.readouterr().err.startswith(f"error: {score}: no part 9 with notes (parts with notes: part 1:")
    broken = tmp_path / "broken.xml"
    broken.write_text("<score-partwise><part-list>")
    assert main(["vary", str(broken), "-o", str(tmp_path / "x.mid")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {broken}: ") and len(err.splitlines()) == 1
    assert not (tmp_path / "x.mid").exists()


def test_a_score_without_music21_says_what_to_install(tmp_path):
    """A performer's install has no music21: reading a score says how to get it (exit 1)."""
    score = _corpus("bach/bwv66.6.mxl")
    script = ("import sys; sys.modules['music21'] = None\n"
              "from runtime.render import main\n"
              f"sys.exit(main(['vary', {str(score)!r}, '-o', {str(tmp_path / 'x.mid')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert proc.stderr == "error: music21 is not installed (pip install latentbridge[scores])\n"
    assert not (tmp_path / "x.mid").exists()
