"""python -m runtime.render end to end: real .mid in and out, through a subprocess."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.bundle import MODELS_DIR
from runtime.engine import Engine
from runtime.midi_io import read_midi
from runtime.render import main

REPO = Path(__file__).resolve().parents[2]


def render(*argv, cwd):
    return subprocess.run([sys.executable, "-m", "runtime.render", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def tunes(shared_data):
    folder = shared_data / "nottingham" / "melody"
    return folder / "jigs10.mid", folder / "reelsa-c1.mid"


def test_sample_with_no_arguments(tmp_path):
    proc = render("sample", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = sorted((tmp_path / "latentbridge-out").glob("*.mid"))
    assert [p.name for p in written] == ["mel_2bar_sample_01.mid"]
    assert proc.stdout.split() == [str(Path("latentbridge-out") / "mel_2bar_sample_01.mid")]
    clip = read_midi(written[0])
    assert clip.length <= 8.0 and clip.notes


def test_sample_long_and_seeded(tmp_path, capsys):
    out = tmp_path / "long.mid"
    runs = []
    for _ in range(2):
        assert main(["sample", "--bars", "8", "--seed", "3", "--temperature", "0.7", "-n", "2",
                     "-o", str(out)]) == 0
        runs.append([read_midi(tmp_path / f"long_0{i}.mid") for i in (1, 2)])
    assert capsys.readouterr().out.split() == [str(tmp_path / f"long_0{i}.mid") for i in (1, 2)] * 2
    assert [c.notes for c in runs[0]] == [c.notes for c in runs[1]]
    assert all(max(n.end for n in c.notes) > 8.0 for c in runs[0])  # 4 generations joined


def test_interpolate_reconstruct_vary(tmp_path, tunes):
    a, b = tunes
    proc = render("interpolate", a, b, "--steps", 4, "-o", tmp_path / "path", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "path").glob("*.mid"))) == 4
    assert main(["interpolate", str(a), str(b), "--steps", "3", "--join", "--bars", "4",
                 "-o", str(tmp_path / "j.mid")]) == 0
    assert read_midi(tmp_path / "j.mid").length <= 3 * 16
    assert main(["reconstruct", str(a), "--temperature", "0", "-o", str(tmp_path / "r.mid")]) == 0
    engine = Engine.load(None)
    expected = engine.decode(engine.encode([read_midi(a)]), temperature=0.0)[0]
    got = read_midi(tmp_path / "r.mid")
    assert [(n.pitch, n.start, n.end) for n in got.notes] == [(n.pitch, n.start, n.end) for n in expected.notes]
    proc = render("vary", a, "-n", 5, "--amount", 0.4, "--seed", 1, "-o", tmp_path / "v", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "v").glob("mel_2bar_vary_0*.mid"))) == 5
    assert "writing" in proc.stderr  # progress bar for many files


def _one_line_error(proc, fragment, code):
    assert proc.returncode == code
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr


def _one_line_error_inprocess(capsys, argv, fragment, code):
    with pytest.raises(SystemExit) if argv[-1].startswith("--") else _nothing():
        assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_bad_input_is_one_line(tmp_path, tunes, capsys):
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    broken = tmp_path / "broken"
    shutil.copytree(MODELS_DIR / "mel_2bar", broken)
    (broken / "decoder_step.onnx").unlink()
    out = tmp_path / "out"
    # failures: exit 1, "error: ..."; usage errors: exit 2, "PROG: error: ... (see --help)"
    _one_line_error(render("vary", corrupt, "-o", out, cwd=tmp_path), "corrupt.mid", 1)
    _one_line_error(render("sample", "--bogus", cwd=tmp_path), "--bogus", 2)
    _one_line_error_inprocess(capsys, ["reconstruct", str(tmp_path / "missing.mid"), "-o", str(out)],
                              "error: " + str(tmp_path / "missing.mid"), 1)
    _one_line_error_inprocess(capsys, ["sample", "--model", str(broken), "-o", str(out)], "decoder_step.onnx", 1)
    _one_line_error_inprocess(capsys, ["sample", "--temperature", "-1", "-o", str(out)],
                              "python -m runtime.render: error: --temperature", 2)
    _one_line_error_inprocess(capsys, ["sample", "-n", "0", "-o", str(out)], "-n must be", 2)
    _one_line_error_inprocess(capsys, ["vary", str(tunes[0]), "--channel", "17", "-o", str(out)], "--channel", 2)
    _one_line_error_inprocess(capsys, ["vary", str(tunes[0]), "--track", "0", "-o", str(out)], "--track", 2)
    assert not out.exists() and not (tmp_path / "latentbridge-out").exists()


@pytest.mark.parametrize("command,count", [("interpolate", 5), ("reconstruct", 1), ("vary", 3)])
def test_every_command_runs_with_no_arguments(tmp_path, command, count):
    """No input file: the inputs are samples from the prior, said on stderr; seeded = repeatable."""
    first = render(command, "--seed", 4, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "no input file: starting from" in first.stderr and "Traceback" not in first.stderr
    written = sorted((tmp_path / "latentbridge-out").glob("*.mid"))
    assert len(written) == count and len(first.stdout.split()) == count
    notes = [read_midi(p).notes for p in written]
    again = render(command, "--seed", 4, "-o", "again", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert [read_midi(p).notes for p in sorted((tmp_path / "again").glob("*.mid"))] == notes
    if command == "interpolate":   # the path's ends are the two (different) prior samples
        assert notes[0] != notes[-1]


def test_interpolate_with_one_file_is_one_line(tmp_path, tunes):
    proc = render("interpolate", tunes[0], cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == ("python -m runtime.render: error: interpolate takes two files "
                                   "(or none: two samples from the prior) (see --help)")
    assert not (tmp_path / "latentbridge-out").exists()
