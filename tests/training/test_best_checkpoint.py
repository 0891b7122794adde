"""best.pt: the run keeps the weights of its lowest validation reconstruction loss."""

import json

import torch

from training.configs import get_config
from training.prepare import prepare
from training.train import BEST, read_checkpoint, train

torch.set_num_threads(1)


def test_best_checkpoint_is_the_lowest_validation_recon(shared_data, tmp_path):
    tunes = [str(p) for p in sorted((shared_data / "nottingham" / "full").glob("*.mid"))[:12]]
    prepare(tunes, tmp_path / "data", kind="mel", bars=2, valid=0.2, test=0.0, progress=False)
    cfg = get_config("lb-mel_2bar")
    cfg.model.enc_rnn_size, cfg.model.dec_rnn_size, cfg.model.z_size = [16], [16, 16], 8
    cfg.train.steps, cfg.train.batch_size, cfg.train.threads = 40, 8, 1
    cfg.train.eval_every, cfg.train.checkpoint_every, cfg.train.eval_batches = 5, 20, 1
    cfg.train.learning_rate, cfg.train.decay_rate = 0.03, 1.0   # too high: validation goes up again
    cfg.train.sample_audio = False      # sample MIDI only; the WAVs: test_sample_audio.py
    train(cfg, tmp_path / "data", tmp_path / "run", progress=False)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    valid = [m for m in lines if m.get("split") == "valid"]
    assert len(valid) == 8
    best_line = min(valid, key=lambda m: m["valid_recon"])
    assert best_line is not valid[-1]   # the case best.pt is for: the last weights are worse
    best = read_checkpoint(tmp_path / "run" / BEST)
    last = read_checkpoint(tmp_path / "run")
    assert best["best_valid_recon"] == best_line["valid_recon"] == last["best_valid_recon"]
    # best.pt holds the weights evaluated at that line (both count steps done)
    assert best["step"] == best_line["step"]
    if best["step"] != last["step"]:
        assert any(not torch.equal(best["model"][k], last["model"][k]) for k in best["model"])
