"""Extraction rules, windows, de-duplication, augmentation and the prepare CLI on real data."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime.codecs.drums import DrumsCodec
from runtime.codecs.melody import MelodyCodec
from runtime.codecs.trio import TrioCodec
from runtime.midi_io import read_midi
from runtime.music import Clip, Note
from training import extract
from training.prepare import _groove_tasks, hash_split, main, prepare
from training.shards import DatasetError, codec_of, load_split, read_manifest

REPO = Path(__file__).resolve().parents[2]


# -- extraction rules ----------------------------------------------------------------------------
def test_a_chord_track_as_the_trio_bass_gives_its_roots(shared_data):
    """Nottingham's chord track read as the trio's bass (--trio-voices): of each chord the
    lowest note, the root of its root-position triads, not the highest (a melody's rule)."""
    clip = read_midi(shared_data / "nottingham" / "full" / "reelsa-c1.mid")
    codec = TrioCodec()
    windows = extract.trio_windows(extract.voices_as_trio(clip), 16, codec, require_drums=False)
    assert len(windows)
    bass = {n.pitch for w in windows for n in codec.decode(w).notes
            if n.program == codec.bass_program}
    chord_track = max(n.track for n in clip.notes)
    chords: dict = {}
    for n in clip.notes:
        if n.track == chord_track:
            chords.setdefault(round(n.start * 4), []).append(n.pitch)
    lowest = {min(p) for p in chords.values()}
    assert bass and bass <= lowest, sorted(bass - lowest)
    assert not bass <= {max(p) for p in chords.values()}


def test_highest_pitch_wins_and_later_onset_cuts():
    notes = [Note(60, 0, 1), Note(64, 0, 1), Note(67, 0, 2),   # chord: 67 kept
             Note(55, 1, 1.5)]                                  # starts while 67 sounds: cuts it
    (melody,) = extract.extract_melodies(extract.quantize(Clip(notes, length=4), 4).notes)
    assert melody.start == 0 and len(melody.events) == 16       # padded to a whole bar
    assert melody.events[:7] == [67, -2, -2, -2, 55, -2, -1]


def test_one_bar_of_silence_ends_a_melody():
    notes = [Note(60, 0, 1), Note(62, 5, 6),       # rest of 4 beats = one bar: new melody
             Note(64, 6.75, 7)]                     # short rest: same melody
    melodies = extract.extract_melodies(Clip(notes, length=12).notes)
    assert [m.start for m in melodies] == [0, 16]                # each starts on a bar line
    assert melodies[1].events[4] == 62 and melodies[1].events[11] == 64
    assert all(len(m.events) % 16 == 0 for m in melodies)
    assert len(extract.extract_melodies(Clip(notes, length=12).notes, gap_bars=2)) == 1


def test_drum_tracks_split_at_a_silent_bar():
    hits = [Note(36, 0, 0.25, is_drum=True), Note(42, 0, 0.25, is_drum=True),
            Note(38, 1, 1.25, is_drum=True), Note(36, 9, 9.25, is_drum=True)]
    tracks = extract.extract_drum_tracks(hits)
    assert [(t.start, len(t.events)) for t in tracks] == [(0, 16), (32, 16)]
    assert tracks[0].events[0] == {36, 42} and tracks[1].events[4] == {36}


def test_only_four_four_sections_are_kept():
    notes = [Note(60, b, b + 1) for b in range(0, 20)]
    clip = Clip(notes, length=20, time_signature=(3, 4),
                meter_changes=[(0.0, 3, 4), (6.0, 4, 4), (14.0, 6, 8), (17.0, 4, 4)])
    sections = extract.four_four_sections(clip)
    assert [s.length for s in sections] == [8.0]                  # 17..20 is shorter than a bar
    assert sections[0].notes[0].pitch == 60 and sections[0].notes[0].start == 0.0


def test_windows_slide_by_one_bar_and_dedupe():
    tokens = np.arange(5 * 16)
    windows = extract.slide(tokens, 32)
    assert len(windows) == 4 and [w[0] for w in windows] == [0, 16, 32, 48]
    repeated = Clip([Note(60 + (b % 2) * 2, b * 4.0, b * 4.0 + 1) for b in range(8)], length=32)
    windows = extract.melody_windows(repeated, bars=2)
    assert windows.shape == (2, 32)                               # AB and BA, 7 windows in all
    stats = {}
    extract.melody_windows(repeated, bars=2, stats=stats)
    assert stats == {"duplicate_windows": 5}


def test_transposition_keeps_pitches_in_range():
    codec = MelodyCodec()
    windows = np.array([[2, 0, 1, 50], [40, 0, 0, 89]])          # lowest pitch / highest pitch
    up, keep = codec.transpose(windows, 2)
    assert up[keep].tolist() == [[4, 0, 1, 52]] and keep.tolist() == [True, False]
    down, keep = codec.transpose(windows, -1)
    assert down[keep].tolist() == [[39, 0, 0, 88]]
    trio = np.array([[[40, 40, 5], [0, 1, 0]]])
    moved, keep = TrioCodec().transpose(trio, 3)
    assert moved.tolist() == [[[43, 43, 5], [0, 1, 0]]] and keep.all()   # drums untouched
    assert not DrumsCodec().pitched_parts                         # drums never transpose


def test_trio_windows_need_every_part():
    melody = [Note(72, b, b + 1, program=0, track=0) for b in range(16)]
    bass = [Note(36, b * 2, b * 2 + 2, program=33, track=1) for b in range(8)]
    drums = [Note(36, b, b + 0.25, is_drum=True, track=2) for b in range(16)]
    full = Clip(melody + bass + drums, length=16)
    assert extract.trio_windows(full, bars=2).shape == (1, 32, 3)   # identical bars: deduped
    no_drums = Clip(melody + bass, length=16)
    assert extract.trio_windows(no_drums, bars=2).shape == (0, 32, 3)
    loose = extract.trio_windows(no_drums, bars=2, require_drums=False)
    assert loose.shape == (1, 32, 3) and (loose[..., 2] == 0).all()
    voices = extract.voices_as_trio(Clip([Note(72, 0, 1, track=0), Note(60, 0, 1, track=1),
                                          Note(40, 0, 1, track=3)], length=4))
    assert sorted((n.pitch, n.program) for n in voices.notes) == [(40, 33), (72, 0)]


def test_melody_windows_on_real_tune(shared_data):
    clip = read_midi(shared_data / "nottingham" / "full" / "reelsa-c1.mid")
    stats = {}
    windows = extract.melody_windows(clip, bars=2, stats=stats)
    assert len(windows) > 10 and windows.shape[1] == 32
    assert len({w.tobytes() for w in windows}) == len(windows)
    assert ((windows >= 2).any(axis=1)).all()                     # every window has a note
    assert windows.max() < 90


# -- prepare -------------------------------------------------------------------------------------
def test_music21_bach_reads_each_chorale_file_once_as_the_corpus_does():
    """``music21:bach`` is the corpus module's list of chorale files (training.corpus), read
    once each: a number music21 lists twice adds nothing, getWork("bach/bwv245.3") also
    matches bwv245.37 and bwv69.6 also bwv69.6-a.mxl (the exact work is taken), and a work
    stored as .krn and .mxl is read from the MusicXML."""
    import music21

    from training.corpus import chorale_files
    from training.prepare import _music21_tasks

    tasks = _music21_tasks("bach")
    names = list(music21.corpus.chorales.Iterator(returnType="filename"))
    assert len(tasks) == len({t.path for t in tasks}) == len({t.split_key for t in tasks})
    assert sorted(t.path for t in tasks) == sorted(str(path) for _, path in chorale_files())
    assert len(set(names)) == len(tasks) < len(names)           # numbers listed twice
    by_stem = {Path(t.path).stem: Path(t.path) for t in tasks}
    found = {}
    for name in names:
        work = music21.corpus.getWork(name)                       # one path or a list
        found[name] = [Path(str(p)) for p in (work if isinstance(work, list) else [work])]
    stems = {name.rsplit("/", 1)[-1] for name in names
             if any(p.stem == name.rsplit("/", 1)[-1] for p in found[name])}
    assert stems <= set(by_stem)                                  # every exact work is read
    assert by_stem["bwv245.3"].name == "bwv245.3.mxl"             # getWork also gives .37
    assert by_stem["bwv69.6"].name == "bwv69.6.xml"               # not bwv69.6-a.mxl
    both = [name for name in names if {p.suffix for p in found[name]} >= {".krn", ".mxl"}]
    assert both and all(by_stem[name.rsplit("/", 1)[-1]].suffix == ".mxl" for name in both)


@pytest.fixture(scope="module")
def small_source(shared_data, tmp_path_factory):
    """A folder with 24 real Nottingham tunes and two broken MIDI files."""
    folder = tmp_path_factory.mktemp("source")
    for path in sorted((shared_data / "nottingham" / "full").glob("reels*.mid"))[:24]:
        shutil.copy(path, folder / path.name)
    real = (folder / sorted(p.name for p in folder.iterdir())[0]).read_bytes()
    (folder / "truncated.mid").write_bytes(real[: len(real) // 3])
    (folder / "garbage.mid").write_bytes(b"\x00garbage" * 50)
    return folder


def test_prepare_melody_dataset(small_source, tmp_path):
    out = tmp_path / "mel"
    manifest = prepare([str(small_source)], out, kind="mel", bars=2, transpose=(-2, 2),
                       workers=2, progress=False)
    assert manifest == read_manifest(out)
    assert {s["file"].split("/")[-1] for s in manifest["skipped"]} == {"truncated.mid", "garbage.mid"}
    assert all("\n" not in s["reason"] and s["reason"] for s in manifest["skipped"])
    assert len(manifest["files"]) == 24 and manifest["augment"]["transpose"] == [-2, -1, 1, 2]
    assert manifest["window"] == {"bars": 2, "steps_per_bar": 16, "stride": 1, "stride_unit": "bars"}
    codec = codec_of(out)
    assert codec == MelodyCodec()
    seen = {}
    for split in ("train", "valid", "test"):
        data = load_split(out, split)
        assert data["tokens"].shape == (manifest["counts"][split], 32)
        assert len(data["tokens"]) == len(data["source"])
        assert data["tokens"].dtype == np.int64 and data["tokens"].max() < codec.num_classes
        assert ((data["source"] >= 0) & (data["source"] < 24)).all()
        seen[split] = {w.tobytes() for w in data["tokens"]}
        assert len(seen[split]) == len(data["tokens"])             # de-duplicated
    assert manifest["counts"]["train"] > 100
    assert not (seen["valid"] | seen["test"]) & seen["train"]      # no leak into evaluation
    # one tune = one split: all windows of a source sit in one split
    sources = {s: set(load_split(out, s)["source"].tolist()) for s in ("train", "valid", "test")}
    assert not sources["train"] & (sources["valid"] | sources["test"])
    # deterministic: a second run writes the same windows
    again = prepare([str(small_source)], tmp_path / "mel2", kind="mel", bars=2,
                    transpose=(-2, 2), workers=1, progress=False)
    assert again["counts"] == manifest["counts"]
    assert (load_split(tmp_path / "mel2", "train")["tokens"] == load_split(out, "train")["tokens"]).all()


def test_prepare_drums_from_groove_split_column(shared_data, tmp_path):
    tasks = _groove_tasks(shared_data / "groove")
    splits = [t.split for t in tasks]
    assert splits.count("train") == 897 and splits.count("valid") == 124   # info.csv's column
    folder = tmp_path / "groove"
    chosen = [t for t in tasks if t.split == "valid"][:2] + [t for t in tasks if t.split == "train"][:3]
    for task in chosen:
        target = folder / Path(task.path).relative_to(shared_data / "groove")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(task.path, target)
    shutil.copy(shared_data / "groove" / "info.csv", folder / "info.csv")
    from training import prepare as prepare_module
    tasks_here = prepare_module._groove_tasks(folder)
    assert sorted(t.split for t in tasks_here) == ["train", "train", "train", "valid", "valid"]


def test_prepare_drums_dataset(shared_data, tmp_path):
    folder = tmp_path / "beats"
    folder.mkdir()
    for path in sorted((shared_data / "groove" / "drummer1" / "session1").glob("*beat_4-4.mid"))[:4]:
        shutil.copy(path, folder / path.name)
    manifest = prepare([str(folder)], tmp_path / "drums", kind="drums", bars=2, progress=False)
    assert manifest["codec"]["name"] == "drums" and manifest["token_shape"] == [32]
    total = sum(manifest["counts"].values())
    assert total > 50
    tokens = np.concatenate([load_split(tmp_path / "drums", s)["tokens"]
                             for s in ("train", "valid", "test")])
    assert tokens.max() < 512 and (tokens > 0).any(axis=1).all()
    assert manifest["augment"]["transpose"] == []


def test_prepare_notes_kind_builds_dictionaries_from_train(small_source, tmp_path):
    manifest = prepare([str(small_source)], tmp_path / "notes", kind="notes", notes=64,
                       stride=32, progress=False, min_pitch=0, max_pitch=127)
    codec = codec_of(tmp_path / "notes")
    assert manifest["codec"]["name"] == "note_events" and manifest["token_shape"] == [64, 3]
    train = load_split(tmp_path / "notes", "train")["tokens"]
    assert train.shape[1:] == (64, 3) and len(train) > 10
    assert (train.max(axis=(0, 1)) < np.array(codec.field_sizes)).all()


@pytest.mark.parametrize("kind, shape, unit", [("pod", [32, 3], "notes"),
                                               ("performance", [32], "events"),
                                               ("pianoroll", [32, 128], "bars")])
def test_prepare_other_codec_kinds(small_source, tmp_path, kind, shape, unit):
    out = tmp_path / kind
    manifest = prepare([str(small_source)], out, kind=kind, bars=2, notes=32, max_files=8,
                       progress=False)
    assert manifest["token_shape"] == shape and manifest["codec"]["name"] == kind
    assert manifest["window"]["stride_unit"] == unit      # what the codec's windows count
    codec = codec_of(out)
    train = load_split(out, "train")["tokens"]
    assert list(train.shape[1:]) == shape and len(train) > 0
    # every stored window decodes with the codec named in the manifest
    assert codec.decode(train[0]).notes


def test_pianoroll_at_musebars_four_frames_per_bar(small_source, tmp_path):
    """--steps-per-quarter 1 (MuseBar's 4 frames per 4/4 bar): 8 bars are 32 frames, and the
    frames hold the same notes as the 16-per-bar roll sampled on the beat."""
    coarse = prepare([str(small_source)], tmp_path / "q1", kind="pianoroll", bars=8, max_files=8,
                     progress=False, steps_per_quarter=1)
    assert coarse["token_shape"] == [32, 128] and coarse["codec"]["steps_per_quarter"] == 1
    assert coarse["window"]["steps_per_bar"] == 4
    rolls = load_split(tmp_path / "q1", "train")["tokens"]
    assert rolls.shape[1:] == (32, 128) and len(rolls) > 0
    clip = codec_of(tmp_path / "q1").decode(rolls[0])
    assert clip.notes and all(float(n.start).is_integer() for n in clip.notes)   # on the beat
    proc = subprocess.run([sys.executable, "-m", "training.prepare", str(small_source),
                           str(tmp_path / "bad"), "--kind", "pianoroll", "--steps-per-quarter", "0"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr == (
        "python -m training.prepare: error: --steps-per-quarter must be in 1..96 (see --help)\n")
    assert not (tmp_path / "bad").exists()


def test_cli_errors_are_one_line(small_source, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "training.prepare", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=60)

    bad_source = run(str(tmp_path / "nowhere"), str(tmp_path / "out"))   # a failure: exit 1
    assert bad_source.returncode == 1 and bad_source.stderr.count("\n") == 1
    assert bad_source.stderr.startswith("error:") and "Traceback" not in bad_source.stderr
    bad_flag = run(str(small_source), str(tmp_path / "out"), "--kind", "nonsense")
    assert bad_flag.returncode == 2 and "invalid choice" in bad_flag.stderr
    assert "Traceback" not in bad_flag.stderr
    helped = run("--help")
    assert helped.returncode == 0 and "--transpose" in helped.stdout
    (tmp_path / "occupied").mkdir()
    (tmp_path / "occupied" / "keep.txt").write_text("mine")
    occupied = run(str(small_source), str(tmp_path / "occupied"), "--max-files", "2", "--quiet")
    assert occupied.returncode == 1 and "not a dataset folder" in occupied.stderr
    assert (tmp_path / "occupied" / "keep.txt").read_text() == "mine"


def test_cli_builds_a_dataset(small_source, tmp_path):
    out = tmp_path / "cli"
    assert main([str(small_source), str(out), "--kind", "mel", "--bars", "4", "--max-files", "8",
                 "--workers", "1", "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == 1 and manifest["window"]["bars"] == 4
    assert load_split(out, "train")["tokens"].shape[1] == 64
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".cli")]   # no temp folder


def test_broken_dataset_is_refused(small_source, tmp_path):
    out = tmp_path / "ds"
    main([str(small_source), str(out), "--max-files", "6", "--workers", "1", "--quiet"])
    shard = sorted(out.glob("train-*.npz"))[0]
    shard.write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="unreadable shard"):
        load_split(out, "train")
    (out / "manifest.json").write_text("{")
    with pytest.raises(DatasetError, match="unreadable"):
        read_manifest(out)


def test_hash_split_is_stable_and_proportional():
    names = [f"tune{i}" for i in range(2000)]
    splits = [hash_split(n, 0.1, 0.1) for n in names]
    assert splits == [hash_split(n, 0.1, 0.1) for n in names]
    assert 0.07 < splits.count("valid") / 2000 < 0.13 and 0.07 < splits.count("test") / 2000 < 0.13


def test_abc_book_gives_one_piece_per_tune(tmp_path):
    book = tmp_path / "book.abc"
    book.write_text(
        "X:1\nT:First\nM:4/4\nL:1/8\nK:G\n|:GABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|\n"
        "GABc dedB|dedB dedB|c2ec B2dB|A2F2 G4:|\n\n"
        "X:2\nT:Second\nM:4/4\nL:1/8\nK:D\n|:d2fd A2FA|dfaf gfed|c2ec B2dB|A2F2 D4:|\n\n")
    manifest = prepare([str(tmp_path)], tmp_path / "out", kind="mel", bars=2, progress=False)
    assert manifest["files"] == ["%s/book.abc#1" % tmp_path.name, "%s/book.abc#2" % tmp_path.name]
    assert sum(manifest["counts"].values()) >= 4
    tokens = np.concatenate([load_split(tmp_path / "out", s)["tokens"] for s in ("train", "valid", "test")])
    assert tokens.shape[1] == 32 and (tokens >= 2).any(axis=1).all()
