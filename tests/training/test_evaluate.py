"""training.metrics (MI, active units, KL, slerp, interpolation, mgeval) and training.evaluate."""

import json

import numpy as np
import pytest
import torch

from runtime.midi_io import read_midi
from training import metrics
from training.data import WindowDataset
from training.evaluate import evaluate_model, main
from training.prepare import prepare
from training.train import build_config, fit_to_dataset, train
from training.models import build_model


@pytest.fixture(scope="module")
def data(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_data")
    melody, full = shared_data / "nottingham" / "melody", shared_data / "nottingham" / "full"
    prepare([str(melody)], root / "mel", kind="mel", bars=2, max_files=8, progress=False)
    prepare([str(full)], root / "notes", kind="notes", notes=12, stride=6, max_files=8,
            progress=False)
    return root


def test_mutual_information_between_its_bounds():
    g = torch.Generator().manual_seed(0)
    batch, nz = 256, 4
    # every x has the same posterior: z tells nothing about x
    same = metrics.mutual_information(torch.zeros(batch, nz), torch.zeros(batch, nz), g)
    assert abs(same) < 0.2
    # sharp, far apart posteriors: z identifies x, I reaches the estimator's bound log B
    mu = torch.randn(batch, nz, generator=g) * 100
    sharp = metrics.mutual_information(mu, torch.full((batch, nz), -10.0), g)
    assert sharp == pytest.approx(np.log(batch), abs=0.3)  # one z per x: sampling noise


def test_active_units_and_kl():
    g = torch.Generator().manual_seed(0)
    mu = torch.cat([torch.randn(500, 3, generator=g), 0.01 * torch.randn(500, 2, generator=g)], 1)
    count, variances = metrics.active_units(mu)
    assert count == 3 and variances.shape == (5,)
    logvar = torch.randn(7, 5, generator=g)
    q = torch.distributions.Normal(mu[:7], (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(7, 5), torch.ones(7, 5))
    expected = torch.distributions.kl_divergence(q, p).sum(-1)
    torch.testing.assert_close(metrics.gaussian_kl(mu[:7], logvar), expected)


def test_slerp_keeps_the_norm_and_hits_the_ends():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    torch.testing.assert_close(metrics.slerp(a, b, 0.0), a)
    torch.testing.assert_close(metrics.slerp(a, b, 1.0), b)
    mid = metrics.slerp(a, b, 0.5)
    assert mid.norm().item() == pytest.approx(3.0)
    assert mid[0].item() == pytest.approx(mid[1].item())


def test_interpolation_curve_and_smoothness():
    a, b = np.zeros(10, int), np.ones(10, int)
    # step k flips the first k tokens: a straight walk from A to B
    path = [np.r_[np.ones(k, int), np.zeros(10 - k, int)] for k in range(0, 11, 2)]
    curve = metrics.interpolation_curve([path], [(a, b)])
    assert curve["to_a"] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert curve["to_b"] == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2, 0.0])
    assert metrics.smoothness(curve["to_a"]) == pytest.approx(0.0)
    jumpy = [a, a, a, b, b, b]
    assert metrics.smoothness(metrics.interpolation_curve([jumpy])["to_a"]) > 0.1
    # multi-field tokens: a note is wrong when any field is
    assert metrics.token_accuracy(np.array([[[1, 2], [3, 4]]]), np.array([[[1, 2], [3, 5]]])) == 0.5


def test_mgeval_statistics_on_real_tunes(shared_data):
    files = sorted((shared_data / "nottingham" / "melody").glob("*.mid"))[:16]
    clips = [read_midi(f).slice(0, 32) for f in files]
    first, second = clips[::2], clips[1::2]
    feats = metrics.clip_features(first)
    assert feats["pitch_class_histogram"].shape == (8, 12)
    np.testing.assert_allclose(feats["pitch_class_histogram"].sum(1), 1.0)
    assert (feats["pitch_range"] > 0).all() and (feats["avg_ioi"] > 0).all()
    alike = metrics.compare_sets(first, second)
    shifted = metrics.compare_sets(first, [c.transpose(6) for c in second])
    pch = "pitch_class_histogram"
    assert alike[pch]["overlap"] > shifted[pch]["overlap"]
    assert alike[pch]["inter"] < shifted[pch]["inter"]
    assert 0.0 <= alike[pch]["overlap"] <= 1.0 and alike[pch]["kl"] >= 0.0


def test_mgeval_compares_drum_rhythms_not_zeros(shared_data):
    """Drum clips have no pitched note: the statistics are their rhythm (inter-onset interval,
    distinct drum instruments), and a sparser set is told apart from a like one."""
    files = sorted((shared_data / "groove").rglob("*.mid"))[:24]
    clips = [c for c in (read_midi(f).slice(0, 8) for f in files) if c.notes][:16]
    assert len(clips) >= 8 and all(n.is_drum for c in clips for n in c.notes)
    feats = metrics.clip_features(clips, drums=True)
    assert set(feats) == {"avg_ioi", "pitch_count"}
    assert (feats["avg_ioi"] > 0).all() and (feats["pitch_count"] >= 1).all()
    first, second = clips[::2], clips[1::2]
    alike = metrics.compare_sets(first, second)
    assert set(alike) == {"avg_ioi", "pitch_count"}
    sparse = [c.copy(notes=[n for n in c.notes if n.pitch == 36][:2]) for c in second]   # kicks
    far = metrics.compare_sets(first, sparse)
    assert alike["pitch_count"]["overlap"] > far["pitch_count"]["overlap"]
    assert alike["pitch_count"]["inter"] < far["pitch_count"]["inter"]


@pytest.mark.parametrize("name,folder", [("lb-mel_2bar_ae", "mel"), ("lb-notes_modular", "notes")])
def test_next_step_accuracy_matches_the_models_own(name, folder, data):
    """Deterministic models (z = mu): evaluate's teacher-forced accuracy is the loss's accuracy."""
    dataset = WindowDataset(data / folder, "train")
    cfg = build_config(name, ["model.hidden_size=8" if folder == "notes" else "model.dec_rnn_size=[8]",
                              "model.z_size=4"])
    fit_to_dataset(cfg, dataset)
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    n = 16
    report = evaluate_model(model, dataset, max_examples=n, batch_size=n, samples=4, pairs=2,
                            interp_steps=3)
    with torch.no_grad():
        _, own = model.loss(dataset.batch(range(n)), 0)
    assert report["accuracy"]["next_step"] == pytest.approx(own["accuracy"], abs=1e-6)
    assert 0.0 <= report["accuracy"]["reconstruction"] <= 1.0
    assert len(report["interpolation"]["to_a"]) == 3


def test_cli_table_json_and_errors(data, tmp_path, capsys):
    cfg = build_config("lb-mel_2bar", ["model.enc_rnn_size=[8]", "model.dec_rnn_size=[8]",
                                       "model.z_size=4", "train.eval_every=0"], steps=2,
                       batch_size=4)
    train(cfg, data / "mel", tmp_path / "run", progress=False)
    out = tmp_path / "eval.json"
    args = ["--max-examples", "16", "--samples", "6", "--pairs", "2", "--interp-steps", "3",
            "--quiet", "--split", "train"]
    assert main([str(tmp_path / "run"), "--data", str(data / "mel"), "--json", str(out)] + args) == 0
    table = capsys.readouterr().out
    assert "reconstruction accuracy (free running)" in table and "pitch_class_histogram" in table
    report = json.loads(out.read_text())
    assert report["examples"] == 16 and report["latent"]["z_size"] == 4
    assert 0 <= report["accuracy"]["next_step"] <= 1
    assert set(report["mgeval"]) >= {"pitch_class_histogram", "pitch_range", "avg_ioi"}

    # a dataset of another codec, a corrupt checkpoint, a bad flag: one line, no traceback
    assert main([str(tmp_path / "run"), "--data", str(data / "notes")] + args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main([str(bad), "--data", str(data / "mel")] + args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
    with pytest.raises(SystemExit) as exc:
        main([str(bad), "--data", str(data / "mel"), "--no-such-flag"])
    assert exc.value.code == 2
