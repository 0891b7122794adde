"""training.export: tiny models trained a few steps on real data, exported, verified against torch."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from runtime.codecs.melody import MelodyCodec
from runtime.codecs.note_events import NoteEventCodec, segments
from runtime.codecs.trio import TrioCodec
from runtime.engine import Engine
from runtime.midi_io import read_midi
from training.export import ExportError, export_bundle, main
from training.extract import drum_windows, melody_windows
from training.models.modular import ModularVAE, ModularVAEConfig
from training.models.musicvae import MusicVAE, MusicVAEConfig

REPO = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)  # tiny LSTMs: a thread pool only adds contention on the 2-core CI


@pytest.fixture(scope="module")
def tunes(shared_data):
    files = sorted((shared_data / "nottingham" / "melody").glob("*.mid"))[:12]
    return [read_midi(f) for f in files]


@pytest.fixture(scope="module")
def melody_2bar(tunes):
    windows = np.concatenate([melody_windows(c, bars=2) for c in tunes])
    assert len(windows) > 64
    return windows


def _train(model, batches, steps=8):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    model.train()
    for step in range(steps):
        loss, _ = model.loss(batches(step), step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _musicvae(windows, codec, level_lengths=(), **fields):
    torch.manual_seed(0)
    depths = list(getattr(codec, "output_depths", [codec.output_depth]))
    config = MusicVAEConfig(z_size=8, enc_rnn_size=[16], dec_rnn_size=[16, 16],
                            input_depth=codec.input_depth, output_depths=depths,
                            max_seq_len=windows.shape[1], level_lengths=list(level_lengths),
                            split_decoders=len(depths) > 1, **fields)
    model = MusicVAE(config)

    def batch(step):
        tokens = windows[(np.arange(32) + 32 * step) % len(windows)]
        return {"inputs": torch.from_numpy(np.stack([codec.to_input(t) for t in tokens])),
                "tokens": torch.from_numpy(tokens),
                "lengths": torch.full((len(tokens),), tokens.shape[1])}

    return _train(model, batch)


@pytest.fixture(scope="module")
def trio_2bar(melody_2bar, shared_data):
    """Real trio rows: Nottingham melodies, the same an octave down as bass, Groove drums."""
    groove = sorted((shared_data / "groove" / "drummer1").rglob("*.mid"))[:3]
    drums = np.concatenate([drum_windows(read_midi(f), bars=2) for f in groove])
    n = min(len(melody_2bar), len(drums), 120)
    bass = np.where(melody_2bar[:n] >= 14, melody_2bar[:n] - 12, melody_2bar[:n])
    return np.stack([melody_2bar[:n], bass, drums[:n]], axis=-1)


@pytest.mark.parametrize("kind", ["flat", "hierarchical", "flat-mu-batch-norm"])
def test_export_musicvae_matches_torch(tmp_path, melody_2bar, trio_2bar, kind):
    """Flat melody model; hierarchical trio (conductor, three bar decoders, three softmaxes);
    a batch-normalised mu (BN-VAE) exports as its running statistics' affine map."""
    level_lengths = (2, 16) if kind == "hierarchical" else ()
    codec = TrioCodec() if kind == "hierarchical" else MelodyCodec()
    windows = trio_2bar if kind == "hierarchical" else melody_2bar
    train, valid = windows[:-40], windows[-40:]
    fields = {"mu_batch_norm": 0.8, "latent_init_stddev": 0.0} if "batch-norm" in kind else {}
    model = _musicvae(train, codec, level_lengths, **fields)
    if fields:  # the running statistics moved away from their (0, 1) start during training
        assert model.mu_norm.running_var.sub(1).abs().max().item() > 0.01
    out = export_bundle(model, tmp_path / "bundle", name="tiny", codec=codec, valid_tokens=valid,
                        data={"source": "nottingham/melody"}, training={"steps": 8})
    meta = json.loads((out / "model.json").read_text())
    kind = "hierarchical" if level_lengths else "flat"
    expected = {"encoder", "decoder_init", "decoder_step"} | (
        {"conductor_init", "conductor_step"} if level_lengths else set())
    assert meta["kind"] == kind and set(meta["graphs"]) == expected
    assert all((out / g["file"]).is_file() for g in meta["graphs"].values())
    assert max(meta["export"]["max_abs_diff"].values()) < 1e-4
    assert meta["export"]["rollout_tokens_identical"] is True
    assert meta["evaluation"]["valid_windows"] == 40
    assert 0.0 <= meta["evaluation"]["valid_reconstruction_accuracy"] <= 1.0
    assert meta["training"] == {"steps": 8}
    step = meta["graphs"]["decoder_step"]
    assert [i["name"] for i in step["inputs"]] == ["prev", "cond", "state0", "state1"]
    parts = 3 if level_lengths else 1
    assert step["inputs"][2]["shape"] == [2 * parts, "batch", 16]
    assert meta["output_depths"] == ([90, 90, 512] if level_lengths else [90])

    # The runtime, loaded from disk, reproduces the PyTorch sampler token for token (argmax),
    # on a batch size that differs from the export's example batch.
    engine = Engine.load(out)
    x = torch.from_numpy(np.stack([codec.to_input(t) for t in valid[:3]]).astype(np.float32))
    with torch.no_grad():
        mu, _ = model.encode(x, torch.full((3,), 32))
        reference = model.sample(mu, temperature=0.0).numpy()
    np.testing.assert_array_equal(engine.decode_tokens(mu.numpy(), temperature=0.0), reference)
    np.testing.assert_allclose(engine.encode([codec.decode(t) for t in valid[:3]]), mu.numpy(),
                               atol=1e-4)


def test_export_keeps_a_part_silent_that_never_played(tmp_path, trio_2bar):
    """A trio trained on scores without drums: model.json says so and no sample has drums,
    while the export's own checks (runtime vs PyTorch, token for token) still hold."""
    windows = trio_2bar.copy()
    windows[..., 2] = 0
    codec = TrioCodec()
    model = _musicvae(windows[:-40], codec, (2, 16))
    out = export_bundle(model, tmp_path / "bundle", name="tiny", codec=codec,
                        valid_tokens=windows[-40:], data={}, training={})
    meta = json.loads((out / "model.json").read_text())
    assert meta["decoding"]["silent_parts"] == ["drums"]
    assert meta["export"]["rollout_tokens_identical"] is True
    z = np.random.default_rng(0).standard_normal((16, model.config.z_size)).astype(np.float32)
    tokens = Engine.load(out).decode_tokens(z, temperature=1.5, seed=0)
    assert not tokens[..., 2].any() and tokens[..., 0].any()


def test_export_note_events_matches_torch(tmp_path, tunes):
    codec = NoteEventCodec.build(tunes, min_pitch=21, max_pitch=108)
    windows = np.concatenate([segments(codec.encode(c), 24, 12) for c in tunes])
    dt, t, p = codec.field_sizes
    torch.manual_seed(0)
    model = ModularVAE(ModularVAEConfig(output_depths=[dt, t, p], embed_size=8, hidden_size=16,
                                        z_size=8, max_seq_len=24))
    model = _train(model, lambda s: {"tokens": torch.from_numpy(windows[(np.arange(16) + 16 * s) % len(windows)])}, 4)
    out = export_bundle(model, tmp_path / "notes", name="notes", codec=codec,
                        valid_tokens=windows[-10:], bars=4)
    meta = json.loads((out / "model.json").read_text())
    assert meta["kind"] == "note_events"
    assert {"decoder_step_dt", "decoder_step_t", "decoder_step_p"} <= set(meta["graphs"])
    assert meta["decoding"] == {"notes": 24, "start_note": [dt, t, p]}
    engine = Engine.load(out)
    z = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    with torch.no_grad():
        reference = model.sample(torch.from_numpy(z), 24, temperature=0.0).numpy()
    np.testing.assert_array_equal(engine.decode_tokens(z, temperature=0.0), reference)
    clip = engine.sample(1, seed=0)[0]
    assert clip.length == 16.0 and all(0 <= n.start < 16.0 for n in clip.notes)


def test_failed_export_leaves_nothing(tmp_path, melody_2bar):
    codec = MelodyCodec()
    model = _musicvae(melody_2bar, codec)
    with pytest.raises(ExportError, match="validation window"):
        export_bundle(model, tmp_path / "never", name="x", codec=codec, valid_tokens=melody_2bar[:0])
    assert list(tmp_path.iterdir()) == []


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint at all")
    proc = subprocess.run([sys.executable, "-m", "training.export", str(bad), str(tmp_path / "out")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "broken.pt" in proc.stderr
    assert main([str(tmp_path / "missing.pt"), str(tmp_path / "out")]) == 1
    with pytest.raises(SystemExit) as info:
        main(["a.pt", "out", "--no-such-flag"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "missing.pt" in err[0] and "--no-such-flag" in err[1]
    assert not (tmp_path / "out").exists()
