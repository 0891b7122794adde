"""GrooVAE on real Groove takes: prepare, the model family's overfit test, the per-step export
against PyTorch, the engine's Groove and Drumify, and the evaluation beside "copy the input"."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from runtime.codecs.drums import DRUM_CLASS_PITCHES, DrumsCodec
from runtime.codecs.groove import GrooveCodec
from runtime.engine import Engine, EngineError
from runtime.midi_io import read_midi
from runtime.music import Clip, Note
from training import schedules
from training.benchmark import copy_the_input, groove_scores
from training.data import WindowDataset
from training.export import export_bundle
from training.extract import drum_windows, groove_windows
from training.models import build_model
from training.prepare import prepare
from training.samples import write_samples
from training.shards import load_split
from training.train import build_config, fit_to_dataset

REPO = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)
SMALL = ["model.enc_rnn_size=[64]", "model.dec_rnn_size=[64]"]


@pytest.fixture(scope="module")
def beats(shared_data):
    return sorted((shared_data / "groove" / "drummer1" / "session1").glob("*beat*.mid"))[:6]


@pytest.fixture(scope="module")
def data(beats, tmp_path_factory):
    """Groove windows of six real beats, all in train (a folder, not shared:groove)."""
    out = tmp_path_factory.mktemp("groove") / "data"
    prepare([str(f) for f in beats], out, kind="groove", bars=2, progress=False, valid=0.0,
            test=0.0)
    return out


@pytest.fixture(scope="module")
def shared_groove(tmp_path_factory):
    """``python -m training.prepare shared:groove DIR --kind groove --bars 2`` on 30 files."""
    out = tmp_path_factory.mktemp("shared") / "groove_2bar"
    result = subprocess.run([sys.executable, "-m", "training.prepare", "shared:groove", str(out),
                             "--kind", "groove", "--bars", "2", "--max-files", "30", "--quiet"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    return out


def test_prepare_groove_from_shared_with_its_own_split(shared_groove, shared_data):
    """Groove's info.csv split, one window shape, velocity and timing kept."""
    out = shared_groove
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["codec"]["name"] == "groove" and manifest["token_shape"] == [32, 27]
    assert manifest["window"] == {"bars": 2, "steps_per_bar": 16, "stride": 1,
                                  "stride_unit": "bars"}
    assert "info.csv" in manifest["split_rule"]
    assert manifest["counts"]["train"] > 100 and manifest["counts"]["valid"] > 10
    with open(shared_data / "groove" / "info.csv", newline="") as handle:
        split_of = {f"groove/{row['midi_filename']}": row["split"] for row in csv.DictReader(handle)}
    for split, expected in (("train", "train"), ("valid", "validation")):
        names = {manifest["files"][i] for i in load_split(out, split)["source"]}
        assert names and {split_of[n] for n in names} == {expected}
    tokens = load_split(out, "train")["tokens"]
    assert tokens[..., 9:18].max() > 100 and (tokens[..., 18:] != 0).mean() > 0.01


def test_groove_windows_are_the_drum_windows_with_a_groove(beats):
    """Same tracks, gaps and windows as the drums dataset: with the drums codec's table the hits
    of every groove window are a drums window (and back), velocity and timing on top."""
    codec = GrooveCodec(pitch_classes=DRUM_CLASS_PITCHES)
    for path in beats[:3]:
        clip = read_midi(path)
        grooves = groove_windows(clip, 2, codec)
        drums = drum_windows(clip, 2, DrumsCodec(), max_bars=None)   # GrooveConverter: no cap
        bits = (grooves[..., :9] << np.arange(9)).sum(-1)
        assert {w.tobytes() for w in bits} == {w.tobytes() for w in drums}
        hit = grooves[..., :9] > 0
        assert (grooves[..., 9:18][hit] > 0).all() and not grooves[..., 9:18][~hit].any()


def distinct_windows(folder, n=4):
    """``n`` windows of ``n`` different takes (different hits)."""
    split = load_split(folder, "train")
    chosen, sources = [], set()
    for window, source in zip(split["tokens"], split["source"]):
        if source not in sources and window[:, :9].any():
            chosen.append(window)
            sources.add(source)
        if len(chosen) == n:
            return np.stack(chosen)
    raise AssertionError(f"only {len(chosen)} takes")


def train_small(name, folder, tokens, steps=1200, overrides=(), stop=None):
    """The named config's recipe at a small width on ``tokens``; ``stop(model, dataset)`` ends
    it early. -> (model in eval mode, dataset with the config's codec)."""
    dataset = WindowDataset(folder, "train")
    cfg = build_config(name, [*SMALL, *overrides])
    fit_to_dataset(cfg, dataset)
    torch.manual_seed(0)
    model = build_model(cfg.model)
    t = cfg.train
    optimizer = torch.optim.Adam(model.parameters(), lr=t.learning_rate)
    batch = dataset.batch_of(tokens)
    for step in range(1, steps + 1):
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = schedules.learning_rate(step, t.learning_rate, t.min_learning_rate,
                                                  t.decay_rate)
        loss, _ = model(batch, step)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        optimizer.step()
        if stop is not None and step % 25 == 0 and stop(model.eval(), dataset):
            break
    return model.eval(), dataset


def reconstruct(model, dataset, tokens, z=None):
    batch = dataset.batch_of(tokens)
    with torch.no_grad():
        mu = model.encode(batch["inputs"], batch["lengths"])[0] if z is None else z
        return mu, dataset.codec.from_output(model.sample(mu, 0.0).numpy())


@pytest.mark.parametrize("name", ["lb-groovae_2bar_humanize", "lb-groovae_2bar_tap"])
def test_family_memorises_four_takes_and_uses_z(name, data):
    """The recipe learns four real windows (hits, velocities, timing) from what its input
    transform leaves the encoder, far better than copying the input; z decides the pattern."""
    tokens = distinct_windows(data)
    copy = None

    def good(model, dataset):
        nonlocal copy
        copy = copy or groove_scores(dataset.codec, copy_the_input(dataset.codec, tokens, 80), tokens)
        s = groove_scores(dataset.codec, reconstruct(model, dataset, tokens)[1], tokens)
        return (s["hits"]["f1"] >= 0.95 and s["velocity_error"] < 12
                and s["timing_error_steps"] < 0.07)

    model, dataset = train_small(name, data, tokens, stop=good)
    mu, pred = reconstruct(model, dataset, tokens)
    s = groove_scores(dataset.codec, pred, tokens)
    assert s["hits"]["f1"] >= 0.95, f"{name}: hit F1 {s['hits']['f1']:.3f}"
    # velocities and timing learnt: well below a flat velocity and the grid (humanize input) or
    # the taps' own timing (tap)
    assert s["velocity_error"] < 12 < copy["velocity_error"] or copy["matched_hits"] == 0
    assert s["timing_error_steps"] < 0.07
    if name.endswith("humanize"):
        assert copy["hits"]["f1"] == 1.0 and copy["velocity_error"] > 20
        assert copy["timing_error_steps"] > 0.1
    swapped = reconstruct(model, dataset, tokens, mu.roll(1, 0))[1]
    assert groove_scores(dataset.codec, swapped, np.roll(tokens, 1, 0))["hits"]["f1"] >= 0.9
    assert groove_scores(dataset.codec, swapped, tokens)["hits"]["f1"] < 0.9, "z is ignored"


def test_dropout_trains_but_never_reaches_the_export(data):
    tokens = distinct_windows(data, 2)
    cfg = build_config("lb-groovae_2bar_tap", [*SMALL, "model.dec_rnn_size=[32,32]",
                                               "model.dropout=0.5"])
    dataset = WindowDataset(data, "train")
    fit_to_dataset(cfg, dataset)
    model = build_model(cfg.model)
    batch = dataset.batch_of(tokens)
    z, prev = torch.zeros(2, cfg.model.z_size), batch["targets"]
    with torch.no_grad():
        assert model.training and model.decoders[0].lstm.dropout == 0.5
        a, b = model.decode_teacher_forced(z, prev), model.decode_teacher_forced(z, prev)
        assert not torch.allclose(a, b)                        # dropout on while training
        model.eval()
        assert model.decoders[0].lstm.dropout == 0.0
        torch.testing.assert_close(model.decode_teacher_forced(z, prev),
                                   model.decode_teacher_forced(z, prev))
        model.train()
        assert model.decoders[0].lstm.dropout == 0.5
    with pytest.raises(ValueError, match="teacher forcing"):
        build_model(build_config("lb-groovae_2bar_tap", ["model.sampling_schedule=inverse_sigmoid",
                                                          "model.sampling_rate=1000",
                                                          "model.input_depth=27",
                                                          "model.output_depths=[27]"]).model)


def test_training_samples_play_the_models_velocities_and_timing(data, tmp_path):
    """write_samples rounds what a GrooVAE generates (hits, velocities in [0, 1], offsets in
    [-1, 1]) to tokens through its decoding kind, as the runtime does: MIDI velocities, not the
    raw 0..1 values read as tokens."""
    cfg = build_config("lb-groovae_2bar_humanize", SMALL)
    dataset = WindowDataset(data, "train")
    fit_to_dataset(cfg, dataset)
    torch.manual_seed(0)
    write_samples(build_model(cfg.model), dataset, tmp_path / "samples", audio=False)
    priors = sorted((tmp_path / "samples").glob("prior_*.mid"))
    notes = [n for f in priors for n in read_midi(f).notes]
    assert notes and min(n.velocity for n in notes) > 10
    assert len({round(n.start * 4, 3) % 1 for n in notes}) > 1      # off the 16th grid too


@pytest.fixture(scope="module")
def bundles(data, tmp_path_factory):
    """A humanize and a tap model, a little trained on the real takes, exported and verified."""
    tokens = distinct_windows(data, 6)
    valid = WindowDataset(data, "train").tokens[:24]
    out = {}
    for name in ("lb-groovae_2bar_humanize", "lb-groovae_2bar_tap"):
        model, dataset = train_small(name, data, tokens, steps=150, overrides=["model.z_size=16"])
        folder = tmp_path_factory.mktemp("bundles") / name
        export_bundle(model, folder, name=name, codec=dataset.codec, valid_tokens=valid,
                      data={"source": "groove beats"}, training={"steps": 150})
        out[name] = (model, dataset.codec, folder)
    return out


def test_export_per_step_matches_torch(bundles, data):
    """decoder_step.onnx is one step (prev = hits, velocities, offsets); the runtime's loop with
    sampling outside the graph gives PyTorch's rollout, free and with the hits kept."""
    model, codec, folder = bundles["lb-groovae_2bar_humanize"]
    meta = json.loads((folder / "model.json").read_text())
    assert meta["kind"] == "groove" and set(meta["graphs"]) == {"encoder", "decoder_init",
                                                              "decoder_step"}
    step = meta["graphs"]["decoder_step"]
    assert [i["name"] for i in step["inputs"]][:2] == ["prev", "cond"]
    assert step["inputs"][0]["shape"] == ["batch", 27]
    assert [o["name"] for o in step["outputs"]][0] == "outputs"
    assert meta["codec"]["input_transform"] == "humanize"
    assert max(meta["export"]["max_abs_diff"].values()) < 1e-4
    assert meta["export"]["rollout_tokens_identical"] is True
    assert 0.0 <= meta["evaluation"]["valid_hit_f1"] <= 1.0
    assert sum(p.stat().st_size for p in folder.iterdir()) < 10e6

    engine = Engine.load(folder)
    windows = WindowDataset(data, "train").tokens[5:10]
    x = torch.from_numpy(codec.to_input(windows))
    with torch.no_grad():
        mu, _ = model.encode(x, torch.full((5,), 32))
        free = codec.from_output(model.sample(mu, 0.0).numpy())
        hits = torch.from_numpy(windows[..., :9].astype(np.float32))
        kept = codec.from_output(model.sample(mu, 0.0, hits=hits).numpy())
    np.testing.assert_allclose(engine.encode([codec.decode(w) for w in windows]), mu.numpy(),
                               atol=1e-4)
    got = engine.decode_tokens(mu.numpy(), temperature=0.0)
    np.testing.assert_array_equal(got[..., :9], free[..., :9])
    assert np.abs(got - free).max() <= 1
    got = engine.decode_tokens(mu.numpy(), temperature=0.0, hits=windows[..., :9])
    np.testing.assert_array_equal(got[..., :9], windows[..., :9])
    assert np.abs(got - kept).max() <= 1
    # sampled hits: one seed, one answer
    a = engine.decode_tokens(mu.numpy(), temperature=1.0, seed=3)
    np.testing.assert_array_equal(a, engine.decode_tokens(mu.numpy(), temperature=1.0, seed=3))
    assert not np.array_equal(a, engine.decode_tokens(mu.numpy(), temperature=1.0, seed=4))


def played_hits(clip, bars):
    """(step, GM class) of every hit of a clip, as the engine reads a user's clip."""
    tokens = GrooveCodec().encode(clip.slice(0.0, bars * 4.0), inference=True)
    return {tuple(x) for x in np.argwhere(tokens[:, :9])}


def test_engine_groove_plays_the_clips_hits_with_a_groove(bundles, beats):
    """Groove on a real 3-bar take, quantized and flattened first (what a DAW user has): the
    same hits come back, with velocities and timing off the grid; two model windows."""
    engine = Engine.load(bundles["lb-groovae_2bar_humanize"][2])
    take = read_midi(beats[1]).slice(16.0, 28.0)
    flat = Clip([Note(n.pitch, round(n.start * 4) / 4, round(n.start * 4) / 4 + 0.25,
                      velocity=100, is_drum=True) for n in take.notes], length=12.0, tempo=95.0)
    out = engine.groove(flat, seed=0)
    assert out.length == 12.0 and out.tempo == 95.0 and out.is_drum
    assert played_hits(out, 3) == played_hits(flat, 3)
    assert len({n.velocity for n in out.notes}) > 3
    assert any(abs(n.start * 4 - round(n.start * 4)) > 1e-3 for n in out.notes)
    # the input's velocities and timing are not looked at: the take itself grooves the same
    assert played_hits(engine.groove(take, seed=0), 3) == played_hits(take, 3)
    # free hits (keep_hits=False) come from the model
    free = engine.groove(flat, temperature=0.0, keep_hits=False)
    assert free.length == 12.0


def test_engine_drumify_answers_a_rhythm_line(bundles):
    """Any instrument's notes are taps; the answer is drums, the clip's length; seeded."""
    engine = Engine.load(bundles["lb-groovae_2bar_tap"][2])
    line = Clip([Note(60 + i % 5, i * 0.5 + 0.01 * (i % 3), i * 0.5 + 0.4, velocity=90,
                      program=33) for i in range(12)], length=8.0)
    out = engine.drumify(line, temperature=0.5, seed=1)
    assert out.length == 8.0 and out.is_drum and all(n.is_drum for n in out.notes)
    assert out.notes, engine.warnings
    assert out.notes == engine.drumify(line, temperature=0.5, seed=1).notes
    # a bar without taps stays silent (three bars: the second model window has one bar of rest)
    longer = engine.drumify(line.copy(length=12.0), temperature=0.5, seed=1)
    assert longer.length == 12.0 and not [n for n in longer.notes if n.start >= 8.0]


def test_render_groove_and_drumify(bundles, beats, tmp_path, capsys):
    """``python -m runtime.render groove IN.mid`` / ``drumify IN.mid``: the input's length in
    whole bars, drums; the wrong model is one line and exit status 1 (a failure)."""
    from runtime.render import main

    humanize, tap = (str(bundles[n][2]) for n in ("lb-groovae_2bar_humanize", "lb-groovae_2bar_tap"))
    take = read_midi(beats[0])
    out = tmp_path / "grooved.mid"
    assert main(["groove", str(beats[0]), "--model", humanize, "-o", str(out)]) == 0
    grooved = read_midi(out)
    whole = -(-take.length // 4) * 4
    assert grooved.notes and max(n.start for n in grooved.notes) < whole
    assert played_hits(grooved, whole // 4) == played_hits(take, whole // 4)
    assert main(["drumify", str(beats[0]), "--model", tap, "--bars", "2", "--seed", "1",
                 "-o", str(tmp_path / "drums.mid")]) == 0
    drums = read_midi(tmp_path / "drums.mid")
    assert drums.notes and all(n.is_drum and n.start < 8.0 for n in drums.notes)
    assert main(["drumify", str(beats[0]), "--model", humanize, "-o", str(tmp_path / "x.mid")]) == 1
    assert "drumify needs a groove model with the tap input" in capsys.readouterr().err
    assert not (tmp_path / "x.mid").exists()


def test_engine_refuses_the_wrong_tool_or_nothing_to_play(bundles):
    humanize = Engine.load(bundles["lb-groovae_2bar_humanize"][2])
    tap = Engine.load(bundles["lb-groovae_2bar_tap"][2])
    clip = Clip([Note(36, 0.0, 0.25, is_drum=True)], length=4.0)
    with pytest.raises(EngineError, match="drumify needs a groove model with the tap input"):
        humanize.drumify(clip)
    with pytest.raises(EngineError, match="groove needs a groove model with the humanize input"):
        tap.groove(clip)
    with pytest.raises(EngineError, match="no drum hits"):
        humanize.groove(Clip([Note(100, 0.0, 1.0)], length=4.0))   # not in the GM drum map
    with pytest.raises(EngineError, match="no notes"):
        tap.drumify(Clip([], length=4.0))
    with pytest.raises(EngineError, match="cannot continue"):
        humanize.continue_(clip, bars=1)
    with pytest.raises(EngineError, match="shape"):
        humanize.decode_tokens(np.zeros((1, 16), np.float32), hits=np.zeros((1, 3, 9)))


def test_train_export_evaluate_commands(shared_groove, tmp_path, capsys):
    """The CLI path of scripts/train_defaults.sh at a tiny size (each command's main, in this
    process): train (the config's input transform over the dataset's tokens), export, evaluate
    a checkpoint and --record a bundle."""
    from training.evaluate import main as evaluate_main
    from training.export import main as export_main
    from training.train import main as train_main

    run = tmp_path / "run"
    small = ["--set", "model.enc_rnn_size=[32]", "--set", "model.dec_rnn_size=[32,32]",
             "--set", "model.z_size=16", "--set", "train.batch_size=16",
             "--set", "train.eval_every=10", "--set", "train.checkpoint_every=10",
             "--set", "train.sample_audio=false"]      # sample MIDI only (WAVs: test_sample_audio)
    mains = {"training.train": train_main, "training.export": export_main,
             "training.evaluate": evaluate_main}

    def py(module, *args):
        capsys.readouterr()
        try:
            code = mains[module]([str(a) for a in args])
        finally:
            torch.set_num_threads(1)   # the export's main takes two; the other tests want one
        out, err = capsys.readouterr()
        assert code == 0, err[-2000:]
        return out

    data = shared_groove
    py("training.train", "lb-groovae_2bar_tap", "--data", data, "--out", run, "--steps", 20,
       "--threads", 1, "--quiet", *small)
    config = json.loads((run / "config.json").read_text())
    assert config["codec"]["input_transform"] == "tap" and config["codec"]["name"] == "groove"
    bundle = tmp_path / "drumify_tiny"
    out = py("training.export", run / "checkpoint.pt", bundle, "--data", data, "--eval-windows", 16)
    assert "kind groove" in out
    assert json.loads((bundle / "model.json").read_text())["codec"]["input_transform"] == "tap"
    table = py("training.evaluate", run / "checkpoint.pt", "--data", data, "--split", "valid",
               "--max-examples", 32, "--quiet")
    assert "copy the input" in table and "hits F1" in table and "vel err" in table
    py("training.evaluate", bundle, "--data", data, "--split", "valid", "--max-examples", 32,
       "--quiet", "--record")
    recorded = json.loads((bundle / "model.json").read_text())["evaluation"]["benchmark"]
    assert set(recorded["rows"]) == {"model", "copy the input", "most-frequent"}
    assert recorded["input_transform"] == "tap" and recorded["windows"] == 32
    assert {"hits_f1", "velocity_error", "timing_error_ms_120bpm"} <= set(recorded["rows"]["model"])
