"""What a training run leaves a trainer to trust: signals save a checkpoint, resume says where it
starts, 1-based timestamped metrics, TensorBoard events, sample MIDI, the ETA warning and the
recorded dataset path (used by export). Real tiny runs on real prepared Nottingham windows."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from runtime.midi_io import read_midi
from training.configs import get_config
from training.data import WindowDataset
from training.export import main as export_main
from training.prepare import prepare
from training.train import load_checkpoint, main, read_checkpoint, train

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]
TINY = ["--batch-size", "8", "--threads", "1", "--quiet", "--set", "model.enc_rnn_size=[16]",
        "--set", "model.dec_rnn_size=[16,16]", "--set", "model.z_size=8"]


@pytest.fixture(scope="module")
def mel(shared_data, tmp_path_factory):
    """2-bar melody windows of 12 real Nottingham tunes, with a validation split."""
    tunes = [str(p) for p in sorted((shared_data / "nottingham" / "full").glob("*.mid"))[:12]]
    out = tmp_path_factory.mktemp("trainrun") / "mel"
    prepare(tunes, out, kind="mel", bars=2, valid=0.2, test=0.0, progress=False)
    return out


def tiny(steps, **train_settings):
    cfg = get_config("lb-mel_2bar")
    cfg.model.enc_rnn_size, cfg.model.dec_rnn_size, cfg.model.z_size = [16], [16, 16], 8
    cfg.train.steps, cfg.train.batch_size, cfg.train.threads = steps, 8, 1
    cfg.train.eval_batches = 1
    cfg.train.sample_audio = False      # sample MIDI only; the WAVs: test_sample_audio.py
    for key, value in train_settings.items():
        setattr(cfg.train, key, value)
    return cfg


def lines(run):
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]


def _stderr_lines(proc):
    """A queue fed with the process's stderr lines by a thread (readline would block)."""
    out = queue.Queue()

    def pump():
        for line in proc.stderr:
            out.put(line)
        out.put(None)
    threading.Thread(target=pump, daemon=True).start()
    return out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_a_checkpoint_and_the_run_resumes(mel, tmp_path, capsys, signum):
    run = tmp_path / "run"
    # 10**9 steps: more than a day on any machine, so the ETA warning comes after the first
    # timed steps; no periodic checkpoint, so only the signal can leave one
    argv = ["lb-mel_2bar", "--data", str(mel), "-o", str(run), "--steps", str(10 ** 9), *TINY,
            "--set", "train.checkpoint_every=1000000000", "--set", "train.eval_every=0"]
    proc = subprocess.Popen([sys.executable, "-m", "training.train", *argv], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    err = _stderr_lines(proc)
    try:
        warning = err.get(timeout=120)
        assert warning.startswith("warning: lb-mel_2bar runs at ") and "lower --steps" in warning
        hours = float(warning.split("take about ")[1].split(" h")[0].split()[-1].strip("("))
        assert hours > 24
        proc.send_signal(signum)
        assert proc.wait(timeout=120) == 128 + signum
    finally:
        proc.kill()
    rest = []
    while (line := err.get(timeout=10)) is not None:
        rest.append(line)
    assert len(rest) == 1 and "Traceback" not in "".join(rest), rest
    said = rest[0]
    assert said.startswith(f"{signal.Signals(signum).name}: saved checkpoint at step ")
    step = int(said.split("at step ")[1].split()[0])
    assert step >= 11
    model, config, codec = load_checkpoint(run)                  # loadable, and the right one
    assert read_checkpoint(run)["step"] == step and config.model.z_size == 8
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]   # written atomically
    logged = lines(run)
    assert [m["step"] for m in logged] == list(range(1, step + 1))   # 1-based, as the checkpoint
    times = [m["time"] for m in logged]
    assert all(isinstance(t, float) for t in times) and times == sorted(times)
    assert abs(times[-1] - os.path.getmtime(run / "checkpoint.pt")) < 60

    assert main(argv[:argv.index("--steps")] + ["--steps", str(step + 3)] + TINY
                + ["--set", "train.eval_every=0"]) == 0
    captured = capsys.readouterr()
    assert f"resuming from step {step} " in captured.err
    assert captured.out.startswith(f"step {step + 3}: loss")
    assert [m["step"] for m in lines(run)] == list(range(1, step + 4))
    assert read_checkpoint(run)["step"] == step + 3


def test_tensorboard_events_beside_the_metrics(mel, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(tiny(10, eval_every=5, sample_every=0), mel, tmp_path / "run", progress=False)
    assert list((tmp_path / "run").glob("events.out.tfevents.*"))
    events = EventAccumulator(str(tmp_path / "run"))
    events.Reload()
    assert {"train/loss", "train/accuracy", "train/kl", "valid/recon", "valid/accuracy"} <= set(
        events.Tags()["scalars"])
    logged = lines(tmp_path / "run")
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == list(range(1, 11))
    assert [e.value for e in losses] == pytest.approx([m["loss"] for m in logged
                                                       if "split" not in m], rel=1e-6)
    assert [e.step for e in events.Scalars("valid/recon")] == [5, 10]


def test_without_tensorboard_the_run_says_so_once_and_trains(mel, tmp_path):
    run = tmp_path / "run"
    code = ("import sys; sys.modules['tensorboard'] = None\n"   # as if it were not installed
            "from training.train import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "lb-mel_2bar", "--data", str(mel), "-o",
                           str(run), "--steps", "4", *TINY, "--set", "train.eval_every=2",
                           "--set", "train.sample_every=0"],       # (no WAV note either)
                          cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("tensorboard is not installed") == 1
    assert proc.stderr.startswith("note: ") and proc.stderr.count("\n") == 1
    assert not list(run.glob("events.out.tfevents.*"))
    assert [m["step"] for m in lines(run) if "split" not in m] == [1, 2, 3, 4]


def test_sample_midi_every_n_steps_through_the_codec(mel, tmp_path):
    run = tmp_path / "run"
    train(tiny(6, eval_every=3, sample_every=3), mel, run, progress=False)
    folders = sorted(p.name for p in (run / "samples").iterdir())
    assert folders == ["step_00003", "step_00006"]
    names = {"prior_1.mid", "prior_2.mid", "prior_3.mid", "input.mid", "reconstruction.mid"}
    for folder in folders:     # MIDI only with train.sample_audio=false (WAVs: test_sample_audio.py)
        assert {p.name for p in (run / "samples" / folder).iterdir()} == names
    valid = WindowDataset(mel, "valid")
    expected = valid.codec.decode(valid.tokens[0])           # the first validation window
    written = read_midi(run / "samples" / "step_00006" / "input.mid")
    assert expected.notes and [(n.pitch, n.start, n.end) for n in written.notes] == [
        (n.pitch, n.start, n.end) for n in expected.notes]
    clips = [read_midi(run / "samples" / "step_00006" / f"prior_{i}.mid") for i in (1, 2, 3)]
    assert all(0 <= n.start < 8.0 for c in clips for n in c.notes)   # 2 bars of 4/4
    assert sum(len(c.notes) for c in clips) > 0     # temperature 1 on an untrained model plays
    assert not [p for p in (run / "samples").iterdir() if p.name.startswith(".")]

    # off with sample_every=0; the default follows eval_every
    train(tiny(4, eval_every=2, sample_every=0), mel, tmp_path / "off", progress=False)
    assert not (tmp_path / "off" / "samples").exists()
    train(tiny(4, eval_every=2), mel, tmp_path / "default", progress=False)
    assert sorted(p.name for p in (tmp_path / "default" / "samples").iterdir()) == [
        "step_00002", "step_00004"]


def test_the_run_records_its_data_and_export_uses_it(mel, tmp_path, capsys):
    cfg = tiny(4, eval_every=4, sample_every=0)
    assert cfg.data.path == "data/mel_2bar"                  # the registry's default...
    os.chdir(tmp_path)   # ...which does not exist here: only the recorded path can work
    try:
        train(cfg, mel, tmp_path / "run", progress=False)
        recorded = str(Path(mel).resolve())
        config = json.loads((tmp_path / "run" / "config.json").read_text())
        assert config["data"]["path"] == recorded
        assert read_checkpoint(tmp_path / "run")["data_dir"] == recorded
        assert export_main([str(tmp_path / "run"), "-o", str(tmp_path / "bundle"),
                            "--eval-windows", "8"]) == 0
    finally:
        os.chdir(REPO)
    err = capsys.readouterr().err
    assert f"data: {recorded} (the dataset this run trained on)" in err
    meta = json.loads((tmp_path / "bundle" / "model.json").read_text())
    assert meta["data"]["path"] == recorded
    assert meta["training"]["last_valid"]["step"] == meta["training"]["steps"] == 4


def test_metrics_of_older_runs_are_shifted_to_one_based_on_resume(mel, tmp_path):
    run = tmp_path / "run"
    train(tiny(6, eval_every=3, checkpoint_every=3, sample_every=0), mel, run, progress=False)
    # as a run of the old code wrote them: steps from 0, no wall-clock time
    old = [{k: v for k, v in m.items() if k != "time"} | {"step": m["step"] - 1} for m in lines(run)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in old))
    train(tiny(9, eval_every=3, checkpoint_every=3, sample_every=0), mel, run, progress=False)
    logged = lines(run)
    assert [m["step"] for m in logged if "split" not in m] == list(range(1, 10))
    assert [m["step"] for m in logged if "split" in m] == [3, 6, 9]
    assert [m["time"] is None for m in logged if "split" not in m] == [True] * 6 + [False] * 3
    np.testing.assert_allclose([m["loss"] for m in logged[:3]], [m["loss"] for m in old[:3]])
