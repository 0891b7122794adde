"""prepare says why a piece gave nothing: per-file reasons for 0 windows (real 2/4, 3/4, 2/2
Nottingham tunes), ``--fold-2-4`` and corrupt MIDI reasons that say something."""

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from runtime.midi_io import read_midi
from training import extract
from training.prepare import PrepareError, fold_duple_meters, main, prepare
from training.shards import load_split

REPO = Path(__file__).resolve().parents[2]
# meters (from the files): ashover10 4/4, ashover15 3/4, ashover16 2/4, ashover2 2/2, ashover1
# 3/4 with single 2/4 bars, ashover11 6/8
TUNES = ("ashover10", "ashover15", "ashover16", "ashover2", "ashover1", "ashover11")


@pytest.fixture(scope="module")
def source(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("meters")
    for name in TUNES:
        shutil.copy(shared_data / "nottingham" / "full" / f"{name}.mid", folder)
    real = (folder / "ashover10.mid").read_bytes()
    (folder / "cut.mid").write_bytes(real[: len(real) // 2])      # a download cut short
    (folder / "empty.mid").write_bytes(b"")
    (folder / "garbage.mid").write_bytes(b"\x00garbage" * 50)
    return folder


def _windows_per_file(out, manifest) -> Counter:
    sources = load_split(out, "train")["source"]
    return Counter(Path(manifest["files"][i]).stem for i in sources)


def test_every_piece_without_a_window_says_why(source, tmp_path):
    out = tmp_path / "plain"
    manifest = prepare([str(source)], out, kind="mel", bars=2, valid=0, test=0, progress=False)
    reasons = {Path(e["file"]).stem: e["reason"] for e in manifest["no_windows"]}
    assert reasons == {
        "ashover15": "no 4/4 bars (meter 3/4)",
        "ashover16": "no 4/4 bars (meter 2/4); --fold-2-4 reads 2/4 and 2/2 as 4/4",
        "ashover2": "no 4/4 bars (meter 2/2); --fold-2-4 reads 2/4 and 2/2 as 4/4",
        "ashover1": "no 4/4 bars (meter 2/4, 3/4); --fold-2-4 reads 2/4 and 2/2 as 4/4",
        "ashover11": "no 4/4 bars (meter 6/8)"}
    assert set(_windows_per_file(out, manifest)) == {"ashover10"}
    skipped = {Path(e["file"]).stem: e["reason"] for e in manifest["skipped"]}
    assert skipped["cut"] == skipped["empty"] == "not a readable MIDI file (the file ends too early)"
    assert skipped["garbage"].startswith("not a readable MIDI file (MThd not found")
    assert all("()" not in r and str(source) not in r for r in skipped.values())

    # the same piece for other reasons (no window at all is a failure: nothing is written)
    with pytest.raises(PrepareError, match=r"^no window from any of the 1 pieces \(1: its 4/4 "
                       r"stretches are shorter than 66 bars \(longest 65; meter 4/4\)\); "
                       "nothing written$"):
        prepare([str(source / "ashover10.mid")], tmp_path / "long", kind="mel", bars=66,
                valid=0, test=0, progress=False)
    with pytest.raises(PrepareError, match=r"\(1: no drum notes \(MIDI channel 10\)\)"):
        prepare([str(source / "ashover10.mid")], tmp_path / "drums", kind="drums", bars=2,
                valid=0, test=0, progress=False)
    assert not (tmp_path / "long").exists() and not (tmp_path / "drums").exists()


def test_fold_2_4_reads_two_four_bars_as_four_four(source, tmp_path):
    plain = prepare([str(source)], tmp_path / "plain", kind="mel", bars=2, valid=0, test=0,
                    progress=False)
    folded = prepare([str(source)], tmp_path / "folded", kind="mel", bars=2, valid=0, test=0,
                     progress=False, fold_2_4=True)
    reasons = {Path(e["file"]).stem: e["reason"] for e in folded["no_windows"]}
    assert reasons == {"ashover15": "no 4/4 bars (meter 3/4)",
                       "ashover1": "its 4/4 stretches are shorter than a bar (meter 2/4, 3/4)",
                       "ashover11": "no 4/4 bars (meter 6/8)"}
    counts = _windows_per_file(tmp_path / "folded", folded)
    assert counts["ashover16"] > 10 and counts["ashover2"] > 10
    assert counts["ashover10"] == _windows_per_file(tmp_path / "plain", plain)["ashover10"]

    # two 2/4 bars are one 4/4 bar from the first bar line: the same windows as the tune
    # written in 4/4
    clip = read_midi(source / "ashover16.mid")
    as_four = clip.copy(time_signature=(4, 4), meter_changes=[(0.0, 4, 4)])
    got = extract.melody_windows(fold_duple_meters(clip), bars=2)
    assert len(got) == counts["ashover16"]
    assert np.array_equal(got, extract.melody_windows(as_four, bars=2))
    assert fold_duple_meters(read_midi(source / "ashover15.mid")).meter_changes == \
        read_midi(source / "ashover15.mid").meter_changes   # 3/4 stays 3/4


def test_cli_report_lists_each_piece_and_why(source, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "training.prepare", str(source), "-o",
                           str(tmp_path / "out"), "--quiet", "--workers", "1", "--valid", "0",
                           "--test", "0"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    out = proc.stdout.splitlines()
    assert out[0].endswith("windows from 6 pieces (3 skipped, 5 gave no window)")
    assert f"  {source.name}/ashover15.mid: no 4/4 bars (meter 3/4)" in out
    assert f"  {source.name}/cut.mid: not a readable MIDI file (the file ends too early)" in out
    assert out.index("skipped (unreadable):") < out.index("no window:")
    assert len(out) == 1 + 1 + 3 + 1 + 5

    folded = subprocess.run([sys.executable, "-m", "training.prepare", str(source),
                             str(tmp_path / "folded"), "--fold-2-4", "--quiet", "--workers", "1"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert folded.returncode == 0 and "(3 skipped, 3 gave no window)" in folded.stdout
    helped = subprocess.run([sys.executable, "-m", "training.prepare", "--help"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert "--fold-2-4" in helped.stdout and "examples:" in helped.stdout


def test_report_is_cut_after_twenty_pieces_per_group(tmp_path, capsys, shared_data):
    folder = tmp_path / "many"
    folder.mkdir()
    for path in sorted((shared_data / "nottingham" / "full").glob("jigs*.mid"))[:23]:   # 6/8
        shutil.copy(path, folder)
    assert main([str(folder), "-o", str(tmp_path / "out"), "--quiet", "--workers", "1"]) == 1
    assert "no window" in capsys.readouterr().err      # nothing at all: a failure, one line
    shutil.copy(shared_data / "nottingham" / "full" / "ashover10.mid", folder)
    assert main([str(folder), "-o", str(tmp_path / "out"), "--quiet", "--workers", "1",
                 "--valid", "0", "--test", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"  ... and 3 more ({tmp_path / 'out' / 'manifest.json'}: no_windows)"
    assert len([line for line in out if line.startswith("  many/jigs")]) == 20
