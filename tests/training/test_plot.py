"""``python -m training.plot``: a real PNG of real training curves, several runs, old metrics."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from training.configs import get_config
from training.plot import main, read_run
from training.prepare import prepare
from training.train import train

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def runs(shared_data, tmp_path_factory):
    """Two tiny real runs on real Nottingham windows (different learning rates)."""
    root = tmp_path_factory.mktemp("plot")
    tunes = [str(p) for p in sorted((shared_data / "nottingham" / "full").glob("*.mid"))[:12]]
    prepare(tunes, root / "data", kind="mel", bars=2, valid=0.2, test=0.0, progress=False)
    out = []
    for name, rate in (("fast", 3e-3), ("slow", 3e-4)):
        cfg = get_config("lb-mel_2bar")
        cfg.model.enc_rnn_size, cfg.model.dec_rnn_size, cfg.model.z_size = [16], [16, 16], 8
        cfg.train.steps, cfg.train.batch_size, cfg.train.threads = 30, 8, 1
        cfg.train.learning_rate, cfg.train.eval_every, cfg.train.eval_batches = rate, 10, 1
        cfg.train.sample_every = 0
        train(cfg, root / "data", root / name, progress=False)
        out.append(root / name)
    return out


def _pixels_of(image: np.ndarray, rgb) -> int:
    return int((np.abs(image[..., :3].astype(int) - np.array(rgb)).sum(-1) < 40).sum())


def test_plot_draws_every_run_to_a_png(runs, tmp_path, capsys):
    out = tmp_path / "curves.png"
    assert main([str(runs[0]), str(runs[1]), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape == (750, 1200, 3)
    # matplotlib's first two colours: one per run, drawn in all four panels
    blue, orange = (31, 119, 180), (255, 127, 14)
    assert _pixels_of(image, blue) > 500 and _pixels_of(image, orange) > 500
    for half in (image[:, :600], image[:, 600:]):
        assert _pixels_of(half, blue) > 100 and _pixels_of(half, orange) > 100
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    # one run: the PNG goes into its folder
    assert main([str(runs[0])]) == 0
    assert (runs[0] / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_reads_one_based_and_old_zero_based_metrics(runs, tmp_path):
    train_lines, valid_lines = read_run(runs[0])
    assert [m["step"] for m in train_lines] == list(range(1, 31))
    assert [m["step"] for m in valid_lines] == [10, 20, 30]
    old = tmp_path / "old"
    old.mkdir()
    rows = [json.loads(line) for line in (runs[0] / "metrics.jsonl").read_text().splitlines()]
    (old / "metrics.jsonl").write_text("".join(
        json.dumps({k: v for k, v in m.items() if k != "time"} | {"step": m["step"] - 1}) + "\n"
        for m in rows))
    assert read_run(old) == (
        [m | {"time": None} for m in train_lines], [m | {"time": None} for m in valid_lines])
    assert main([str(old), "-o", str(tmp_path / "old.png")]) == 0


def test_plot_errors_are_one_line(runs, tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no metrics.jsonl" in err and err.count("\n") == 1
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "metrics.jsonl").write_text("")
    assert main([str(tmp_path / "empty"), "-o", str(tmp_path / "x.png")]) == 1
    assert "no metrics yet" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([str(runs[0]), "-o", str(tmp_path / "x.jpg")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and "must end in .png" in err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.jpg").exists()
