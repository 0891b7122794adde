"""training.train on small real datasets: every config learns, resume is exact, NaN guard, DDP, CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training.configs import CONFIGS, Config, ConfigError, get_config
from training.prepare import prepare
from training.train import TrainingError, load_checkpoint, main, read_checkpoint, train

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

# dataset kind for each config: (prepare kind, bars)
DATASETS = {"mel_2bar": ("mel", 2), "drums_2bar": ("drums", 2), "mel_16bar": ("mel", 16),
            "mel_32bar": ("mel", 32), "trio_16bar": ("trio", 16)}


@pytest.fixture(scope="module")
def datasets(shared_data, tmp_path_factory):
    """Small real datasets built with training.prepare from a handful of shared files."""
    root = tmp_path_factory.mktemp("lbdata")
    tunes = [str(p) for p in sorted((shared_data / "nottingham" / "full").glob("*.mid"))[:12]]
    grooves = [str(p) for p in sorted((shared_data / "groove" / "drummer1").rglob("*.mid"))[:10]]
    out = {}
    for name, (kind, bars) in DATASETS.items():
        extra = {"trio_require_drums": False, "trio_voices": True} if kind == "trio" else {}
        prepare(grooves if kind == "drums" else tunes, root / name, kind=kind, bars=bars,
                valid=0.2, test=0.0, progress=False, **extra)
        out[name] = root / name
    return out


def dataset_for(cfg_name):
    return Path(get_config(cfg_name).data.path).name


def tiny(cfg_name, steps, **train):
    """The named config at a tiny width (same layer counts), ready for a quick CPU run."""
    cfg = get_config(cfg_name)
    cfg.model.enc_rnn_size = [16] * len(cfg.model.enc_rnn_size)
    cfg.model.dec_rnn_size = [16] * len(cfg.model.dec_rnn_size)
    cfg.model.z_size = 8
    cfg.train.steps, cfg.train.batch_size, cfg.train.threads = steps, 8, 1
    cfg.train.learning_rate = 3e-3
    cfg.train.eval_every = cfg.train.checkpoint_every = steps
    cfg.train.eval_batches = 1
    cfg.train.sample_audio = False      # sample MIDI only; the WAVs: test_sample_audio.py
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


def read_lines(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_registry_has_magentas_configs_and_sizes():
    for name in ("cat-mel_2bar_small", "cat-mel_2bar_big", "cat-drums_2bar_small",
                 "cat-drums_2bar_big", "hierdec-mel_16bar", "hierdec-trio_16bar",
                 "hierdec-mel_32bar", "lb-mel_2bar", "lb-drums_2bar", "lb-mel_16bar",
                 "lb-trio_16bar"):
        assert name in CONFIGS
    small = get_config("cat-mel_2bar_small").model
    assert (small.enc_rnn_size, small.dec_rnn_size, small.z_size, small.free_bits, small.max_beta,
            small.beta_rate, small.sampling_schedule, small.sampling_rate) == (
        [512], [256, 256], 256, 0, 0.2, 0.99999, "inverse_sigmoid", 1000)
    drums = get_config("cat-drums_2bar_small").model
    assert (drums.free_bits, drums.max_beta, drums.beta_rate) == (48, 0.2, 0.0)
    hier = get_config("hierdec-trio_16bar")
    assert (hier.model.level_lengths, hier.model.dec_rnn_size, hier.model.enc_rnn_size,
            hier.model.split_decoders, hier.model.free_bits, hier.train.batch_size) == (
        [16, 16], [1024, 1024], [2048, 2048], True, 256, 256)

    cfg = get_config("lb-mel_2bar")
    cfg.override("model.dec_rnn_size=64,64")
    cfg.override("train.learning_rate=5e-4")
    cfg.override("model.kl_schedule=sigmoid")
    assert cfg.model.dec_rnn_size == [64, 64] and cfg.train.learning_rate == 5e-4
    assert Config.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert get_config("lb-mel_2bar").model.dec_rnn_size != [64, 64]   # the registry is untouched
    # a float setting registered as a whole number (sampling_rate=2000) takes a fraction;
    # an int setting does not
    cfg.override("model.sampling_rate=0.5")
    assert cfg.model.sampling_rate == 0.5
    for bad, message in (("model.nope=1", "unknown setting"), ("train.steps=abc", "bad value"),
                         ("train.steps=0.5", "bad value"), ("steps", "key=value")):
        with pytest.raises(ConfigError, match=message):
            cfg.override(bad)
    with pytest.raises(ConfigError, match="unknown config"):
        get_config("cat-mel_3bar")


@pytest.mark.parametrize("name", sorted(n for n in CONFIGS if CONFIGS[n].model.kind == "musicvae"))
def test_every_config_learns_on_real_data(name, datasets, tmp_path):
    hierarchical = bool(CONFIGS[name].model.level_lengths)
    cfg = tiny(name, steps=30 if hierarchical else 100)
    train(cfg, datasets[dataset_for(name)], tmp_path / "run", progress=False)
    lines = [m for m in read_lines(tmp_path / "run") if "split" not in m]
    assert [m["step"] for m in lines] == list(range(1, cfg.train.steps + 1))   # steps done
    first = sum(m["loss"] for m in lines[:5]) / 5
    last = sum(m["loss"] for m in lines[-5:]) / 5
    assert last < 0.8 * first, (first, last)
    assert sum(m["accuracy"] for m in lines[-5:]) > sum(m["accuracy"] for m in lines[:5])
    assert all(m["nan_steps"] == 0 for m in lines)
    valid = [m for m in read_lines(tmp_path / "run") if m.get("split") == "valid"]
    assert len(valid) == 1 and valid[0]["valid_loss"] > 0


def test_resume_continues_exactly(datasets, tmp_path):
    data = datasets["mel_2bar"]
    straight = tiny("cat-mel_2bar_small", steps=16, checkpoint_every=8)
    train(straight, data, tmp_path / "a", progress=False)
    first_half = tiny("cat-mel_2bar_small", steps=16, checkpoint_every=8)
    first_half.train.steps = 8          # as if killed right after the checkpoint at step 8
    train(first_half, data, tmp_path / "b", progress=False)
    assert read_checkpoint(tmp_path / "b")["step"] == 8
    with open(tmp_path / "b" / "metrics.jsonl", "a") as f:  # a half-written line from the kill
        f.write('{"step": 9, "loss": 1')
    train(tiny("cat-mel_2bar_small", steps=16, checkpoint_every=8), data, tmp_path / "b",
          progress=False)
    a, b = read_checkpoint(tmp_path / "a"), read_checkpoint(tmp_path / "b")
    assert a["step"] == b["step"] == 16
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    def steps_only(run):   # the same figures; only the wall-clock times differ
        return [{k: v for k, v in m.items() if k != "time"}
                for m in read_lines(run) if "split" not in m]
    assert steps_only(tmp_path / "a") == steps_only(tmp_path / "b")
    assert [m["step"] for m in read_lines(tmp_path / "b") if "split" not in m] == list(range(1, 17))

    model, config, codec = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert config.name == "cat-mel_2bar_small" and codec.name == "melody"
    assert not model.training
    tokens = model.sample(torch.zeros(2, config.model.z_size), temperature=0.0)
    clip = codec.decode(tokens[0].numpy())
    assert clip.length == 8.0

    other = tiny("cat-mel_2bar_small", steps=20)
    other.model.z_size = 4
    with pytest.raises(TrainingError, match="different model"):
        train(other, data, tmp_path / "b", progress=False)


def test_init_from_fine_tunes_from_another_runs_weights(datasets, tmp_path, capsys):
    """--init-from: a fresh run (step 1, new schedules, other loss settings) on another run's
    weights; shapes and codec must match, refused in one line otherwise."""
    data = datasets["mel_2bar"]
    base = tiny("cat-mel_2bar_small", steps=120)
    train(base, data, tmp_path / "base", progress=False)
    seeded = tiny("cat-mel_2bar_small", steps=2)
    seeded.model.free_bits = 16                     # a loss setting may differ: not a shape
    train(seeded, data, tmp_path / "seed", progress=False)
    tuned = tiny("cat-mel_2bar_small", steps=2, init_from=str(tmp_path / "base"))
    tuned.model.free_bits = 16
    train(tuned, data, tmp_path / "tuned", progress=False)
    first = {run: read_lines(tmp_path / run)[0] for run in ("base", "seed", "tuned")}
    last_base = [m for m in read_lines(tmp_path / "base") if "split" not in m][-1]
    assert first["tuned"]["step"] == 1 and read_checkpoint(tmp_path / "tuned")["step"] == 2
    assert first["tuned"]["recon"] < 0.8 * first["seed"]["recon"], (first, last_base)
    assert first["tuned"]["accuracy"] > first["seed"]["accuracy"] + 0.1
    saved = json.loads((tmp_path / "tuned" / "config.json").read_text())
    assert saved["train"]["init_from"] == str(tmp_path / "base")
    from training.export import read_training_run   # a bundle says where its weights started
    _, _, recorded, _ = read_training_run(tmp_path / "tuned", data)
    assert (recorded["init_from"], recorded["init_steps"], recorded["steps"]) == (
        str(tmp_path / "base"), 120, 2)
    # rerunning continues from the run's own checkpoint, not from the weights it started with,
    # and the record keeps where they began, at the step they had then (the file moves on)
    train(tiny("cat-mel_2bar_small", steps=125), data, tmp_path / "base", progress=False)
    again = tiny("cat-mel_2bar_small", steps=4, init_from=str(tmp_path / "seed"))
    again.model.free_bits = 16
    capsys.readouterr()
    train(again, data, tmp_path / "tuned", progress=False)
    assert "--init-from seed is not used (the run started from base)" in capsys.readouterr().err
    assert read_checkpoint(tmp_path / "tuned")["step"] == 4
    _, _, recorded, _ = read_training_run(tmp_path / "tuned", data)
    assert (recorded["init_from"], recorded["init_steps"], recorded["steps"]) == (
        str(tmp_path / "base"), 120, 4)
    assert json.loads((tmp_path / "tuned" / "config.json").read_text())["train"]["init_from"] \
        == str(tmp_path / "base")

    capsys.readouterr()
    mel, drums = str(data), str(datasets["drums_2bar"])
    small = ["--batch-size", "8", "--steps", "2", "--quiet",
             "--set", "model.enc_rnn_size=[16]", "--set", "model.dec_rnn_size=[16,16]",
             "--set", "model.z_size=8"]
    for argv, message in (
            (["cat-mel_2bar_small", "--data", mel, "--set", "model.z_size=4"], "do not fit"),
            (["cat-drums_2bar_small", "--data", drums], "codec differs"),
            (["cat-mel_2bar_small", "--data", mel, "--init-from", str(tmp_path / "nope.pt")],
             "no such checkpoint")):
        if "--init-from" not in argv:
            argv = argv + ["--init-from", str(tmp_path / "base" / "checkpoint.pt")]
        out = tmp_path / f"x{len(message)}"
        code = main(argv[:1] + ["--out", str(out)] + small + argv[1:])
        err = capsys.readouterr().err
        assert code == 1 and err.startswith("error: ") and "--init-from" in argv, err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_init_from_a_melody_model_starts_a_trio_model(datasets, tmp_path, capsys):
    """--init-from a 16-bar melody run into a trio config of the same sizes: the trio's encoder
    reads its melody inputs as the melody model does (bass and drums inputs start at zero
    weight), and its melody and bass decoders both decode a window as the melody model decodes
    its melody; other sizes or a trio with one shared decoder are refused in one line."""
    from training.train import _init_weights, build_config, fit_to_dataset
    from training.data import WindowDataset

    mel_run = tmp_path / "mel"
    train(tiny("lb-mel_16bar", steps=30), datasets["mel_16bar"], mel_run, progress=False)
    melody, _, _ = load_checkpoint(mel_run)
    windows = WindowDataset(datasets["trio_16bar"], "train")
    cfg = tiny("lb-trio_16bar", steps=1)
    fit_to_dataset(cfg, windows)
    from training.models import build_model
    trio = build_model(cfg.model)
    assert _init_weights(trio, cfg, mel_run, "cpu") == 30
    trio.eval()
    tokens = windows.tokens[:16]
    assert tokens[..., 1].any() and (tokens[..., 0] != tokens[..., 1]).any()   # a real bass
    batch = windows.batch_of(tokens)
    with torch.no_grad():
        mu, _ = trio.encode(batch["inputs"], batch["lengths"])
        mu_melody, _ = melody.encode(batch["inputs"][..., :90], batch["lengths"])
        assert torch.allclose(mu, mu_melody, atol=1e-5)
        both, alone = trio.sample(mu, 0.0), melody.sample(mu, 0.0)
        # teacher-forced on the window's melody (fed to the bass decoder as well): same logits
        played = torch.from_numpy(tokens).long()
        prev = torch.nn.functional.pad(trio.one_hot(played[..., [0, 0, 2]])[:, :-1], (0, 0, 1, 0))
        parts = trio.decode_teacher_forced(mu, prev).split(trio.part_depths, -1)
        alone_prev = torch.nn.functional.pad(melody.one_hot(played[..., :1])[:, :-1], (0, 0, 1, 0))
        logits = melody.decode_teacher_forced(mu, alone_prev)
    assert (both[..., 0] == alone).all() and (both[..., 1] == alone).all()
    assert torch.allclose(parts[0], logits, atol=1e-4) and torch.allclose(parts[1], logits, atol=1e-4)
    assert logits.std(0).mean() > 1e-3          # windows differ: a comparison of something

    capsys.readouterr()
    trio_data = str(datasets["trio_16bar"])
    small = ["--batch-size", "8", "--steps", "1", "--quiet", "--set", "model.z_size=8",
             "--set", "model.enc_rnn_size=[16,16]", "--set", "model.dec_rnn_size=[16]"]
    assert main(["lb-trio_16bar", "--out", str(tmp_path / "trio"), "--data", trio_data,
                 "--init-from", str(mel_run), *small]) == 0
    assert "a melody model; its encoder, conductor and bar decoder" in capsys.readouterr().err
    for extra, message in ((["--set", "model.z_size=4"], "other sizes"),
                           (["--set", "model.split_decoders=false"], "one bar decoder per part")):
        out = tmp_path / f"x{len(message)}"
        code = main(["lb-trio_16bar", "--out", str(out), "--data", trio_data,
                     "--init-from", str(mel_run), *small, *extra])
        err = capsys.readouterr().err
        assert code == 1 and err.startswith("error: ") and message in err, err
        assert err.count("\n") == 1 and "Traceback" not in err, err


def test_freeze_keeps_named_modules_for_the_first_steps(datasets, tmp_path, capsys):
    """train.freeze: the named modules keep their starting weights for train.freeze_steps steps
    (0: the whole run) while the rest learns; a name the model lacks is refused in one line."""
    from training.models import build_model
    from training.train import fit_to_dataset
    from training.data import WindowDataset

    data = datasets["mel_2bar"]
    names = ["encoder", "mu", "mu_norm"]
    cfg = tiny("cat-mel_2bar_small", steps=4, freeze=names, freeze_steps=0)
    cfg.model.mu_batch_norm = 1.0
    fit_to_dataset(cfg, WindowDataset(data, "train"))
    torch.manual_seed(cfg.train.seed)
    seed = build_model(cfg.model).state_dict()      # the run's starting weights (same seed)
    train(cfg, data, tmp_path / "all", progress=False)
    cfg = tiny("cat-mel_2bar_small", steps=4, freeze=names, freeze_steps=2)
    cfg.model.mu_batch_norm = 1.0
    train(cfg, data, tmp_path / "first2", progress=False)
    for run, kept in (("all", True), ("first2", False)):
        weights = read_checkpoint(tmp_path / run)["model"]
        for key in ("encoder.fw.0.weight_ih_l0", "mu.weight", "mu.bias", "mu_norm.bias",
                    "mu_norm.running_mean", "mu_norm.running_var"):
            assert torch.equal(weights[key], seed[key]) == kept, (run, key)
        for key in ("sigma.weight", "decoders.0.output_projection.weight"):
            assert not torch.equal(weights[key], seed[key]), (run, key)
    code = main(["cat-mel_2bar_small", "--out", str(tmp_path / "x"), "--data", str(data),
                 "--steps", "1", "--batch-size", "8", "--quiet", "--set", "train.freeze=[encoder,conductor]"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and "no module 'conductor'" in err, err
    assert err.count("\n") == 1


def test_nan_guard_skips_counts_and_aborts(datasets, tmp_path, capsys):
    cfg = tiny("cat-mel_2bar_small", steps=50, max_bad_steps=3)
    cfg.model.max_beta = float("nan")    # every loss is NaN
    with pytest.raises(TrainingError, match="diverged: 3 steps in a row"):
        train(cfg, datasets["mel_2bar"], tmp_path / "run", progress=False)
    lines = read_lines(tmp_path / "run")
    assert [(m["skipped"], m["nan_steps"]) for m in lines] == [(1, 1), (1, 2)]
    assert not (tmp_path / "run" / "checkpoint.pt").exists()

    code = main(["cat-mel_2bar_small", "--data", str(datasets["mel_2bar"]), "--out",
                 str(tmp_path / "cli"), "--steps", "10", "--batch-size", "8", "--quiet",
                 "--set", "model.max_beta=nan", "--set", "train.max_bad_steps=2",
                 "--set", "model.enc_rnn_size=[8]", "--set", "model.dec_rnn_size=[8,8]"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: training diverged") and err.count("\n") == 1


def test_cli_errors_are_one_line(datasets, tmp_path, capsys):
    mel = str(datasets["mel_2bar"])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "checkpoint.pt").write_bytes(b"not a checkpoint")
    cases = [   # usage errors exit 2, failures 1
        (["nope-config", "--out", str(tmp_path / "x"), "--data", mel], "unknown config", 2),
        (["lb-mel_2bar", "--out", str(tmp_path / "x"), "--data", mel, "--set", "model.z_size=big"],
         "bad value", 2),
        (["lb-mel_2bar", "--out", str(tmp_path / "x"), "--data", str(tmp_path / "missing")],
         "missing", 1),
        (["lb-drums_2bar", "--out", str(tmp_path / "x"), "--data", mel], "wants a 'drums' dataset",
         1),
        (["lb-mel_2bar", "--out", str(tmp_path / "x"), "--data", mel, "--batch-size", "100000"],
         "does not fit", 1),
        (["lb-mel_16bar", "--out", str(tmp_path / "x"), "--data", mel, "--batch-size", "8"],
         "do not multiply to max_seq_len 32", 1),
        (["lb-mel_2bar", "--out", str(broken), "--data", mel, "--batch-size", "8",
          "--set", "model.enc_rnn_size=[8]"], "not a readable checkpoint", 1),
    ]
    for argv, message, code in cases:
        assert main(argv) == code, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "--set KEY=VALUE" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["lb-mel_2bar", "--out", str(tmp_path / "x"), "--bogus"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "unrecognized arguments: --bogus" in err
    assert err.count("\n") == 1


def test_ddp_with_torchrun_on_cpu(datasets, tmp_path):
    """Two ranks train on different batches and end with the same weights (DDP averages their
    gradients); rank 0's checkpoint holds them. tests/training/ddp_ranks.py runs train's main
    and saves each rank's batches and final weights."""
    torchrun = Path(PYTHON).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    out = tmp_path / "ddp"
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2",
         str(REPO / "tests" / "training" / "ddp_ranks.py"),
         "cat-mel_2bar_small", "--data", str(datasets["mel_2bar"]), "--out", str(out),
         "--steps", "3", "--batch-size", "8", "--quiet", "--threads", "1",
         "--set", "model.enc_rnn_size=[16]", "--set", "model.dec_rnn_size=[16,16]",
         "--set", "model.z_size=8", "--set", "train.eval_every=3"],
        cwd=REPO, capture_output=True, text=True, timeout=90, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = read_lines(out)   # rank 0 alone writes
    assert [m["step"] for m in lines if "split" not in m] == [1, 2, 3]
    ckpt = read_checkpoint(out)
    assert ckpt["step"] == 3 and not any(k.startswith("module.") for k in ckpt["model"])
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [len(r["batches"]) for r in ranks] == [3, 3]
    assert all(a != b for a, b in zip(ranks[0]["batches"], ranks[1]["batches"]))  # own data
    for name, weight in ranks[0]["weights"].items():
        assert torch.equal(weight, ranks[1]["weights"][name]), name           # same model
        assert torch.equal(weight, ckpt["model"][name]), name


def test_configs_come_from_one_public_registry(monkeypatch):
    """training.registry: register(config) / get_config / CONFIGS, which the three config files
    use; a name is registered once."""
    from training import registry

    monkeypatch.setattr(registry, "CONFIGS", dict(registry.CONFIGS))   # undone after the test
    assert registry.CONFIGS == CONFIGS and {"cat-mel_2bar_small", "lb-notes_modular",
                                            "groovae_2bar_humanize"} <= set(CONFIGS)
    mine = get_config("lb-mel_2bar")
    mine.name = "my-mel_2bar"
    assert registry.register(mine) is mine and registry.get_config("my-mel_2bar") == mine
    with pytest.raises(ConfigError, match="'lb-mel_2bar' is registered already"):
        registry.register(get_config("lb-mel_2bar"))
