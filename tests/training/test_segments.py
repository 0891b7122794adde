"""training.segments and the ``segments`` bundle kind: a long model made of a short flat
MusicVAE's codes (real mel_2bar weights, real onnxruntime) and a latent-sequence prior."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from runtime.bundle import BundleError, load_bundle
from runtime.engine import Engine
from runtime.midi_io import read_midi
from training import benchmark
from training.data import WindowDataset
from training.prepare import prepare
from training.segments import PriorConfig, SegmentPrior, encode_codes, main


@pytest.fixture(scope="module")
def long_data(shared_data, tmp_path_factory):
    """16-bar melody windows of a dozen real Nottingham tunes (training.prepare)."""
    root = tmp_path_factory.mktemp("seg")
    tunes = [str(p) for p in sorted((shared_data / "nottingham" / "full").glob("*.mid"))[:12]]
    prepare(tunes, root / "mel16", kind="mel", bars=16, valid=0.2, test=0.0, progress=False)
    return root / "mel16"


@pytest.fixture(scope="module")
def tiny_bundle(long_data, tmp_path_factory):
    """A segments bundle over the shipped mel_2bar, its prior trained for a few steps."""
    root = tmp_path_factory.mktemp("segrun")
    assert main(["mel_2bar", "--data", str(long_data), "-o", str(root / "run"), "--steps", "20",
                 "--hidden-size", "16", "--layers", "1", "--quiet",
                 "--export", str(root / "mel16_seg")]) == 0
    return root / "mel16_seg"


def test_prior_overfits_a_few_tunes_and_reads_the_codes_before(long_data):
    """Four real windows' codes: the prior learns to predict each code from the ones before
    it (teacher forced: each predicted mean nearest to its own window's code among the four,
    within a quarter of the codes' spread), and what it predicts follows what it read: window
    A's code 2 after window B's first two codes is far from A's."""
    short = load_bundle("mel_2bar", threads=1)
    mu, _ = encode_codes(short, WindowDataset(long_data, "train"), progress=False)
    # four windows that differ at every position (tunes repeat their phrases: overlapping
    # windows share codes)
    kept = []
    for window in mu:
        if all(np.linalg.norm(window[1:] - k[1:], axis=-1).min() > 1.0 for k in kept):
            kept.append(window)
        if len(kept) == 4:
            break
    codes = torch.from_numpy(np.stack(kept))
    torch.manual_seed(0)
    prior = SegmentPrior(PriorConfig(z_size=codes.shape[-1], hidden_size=64, layers=1))
    optimizer = torch.optim.Adam(prior.parameters(), lr=1e-2)
    for _ in range(600):
        loss = prior.nll(codes)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    prior.eval()
    with torch.no_grad():
        mean, _ = prior(codes)
        error = float((mean[:, 1:] - codes[:, 1:]).pow(2).mean().sqrt())
        spread = float(codes[:, 1:].std())
        assert error < 0.25 * spread, (error, spread)
        # each predicted code is nearest to its own window's (codes 1..7; code 0 has no past)
        distance = torch.cdist(mean[:, 1:].transpose(0, 1), codes[:, 1:].transpose(0, 1))
        assert (distance.argmin(-1) == torch.arange(4)).all()
        # the same code 2 of window 0, after window 1's codes instead of its own
        swapped = torch.cat([codes[1:2, :2], codes[0:1, 2:]], 1)
        other = prior(swapped)[0][0, 2]
        assert float((other - codes[0, 2]).norm()) > 3 * float((mean[0, 2] - codes[0, 2]).norm())


def test_a_segments_bundle_is_the_short_model_window_by_window(tiny_bundle, shared_data):
    """Encoding a 16-bar tune gives mel_2bar's codes of its eight 2-bar parts side by side,
    and decoding them gives mel_2bar's decodings of those parts, in order."""
    long, short = Engine.load(tiny_bundle), Engine.load("mel_2bar")
    assert (long.kind, long.bars, long.z_size) == ("segments", 16, 8 * short.z_size)
    tune = read_midi(shared_data / "nottingham" / "melody" / "ashover10.mid").slice(0.0, 64.0)
    tokens = long.tokens(tune)
    parts = tokens.reshape(8, 32)
    z = long.encode([tune])
    np.testing.assert_allclose(z.reshape(8, -1), short.decoder.encode_tokens(parts), atol=1e-5)
    assert np.array_equal(long.decode_tokens(z, temperature=0.0)[0],
                          short.decode_tokens(z.reshape(8, -1), temperature=0.0).reshape(-1))
    back = long.decode_tokens(z, temperature=0.0)[0]
    assert benchmark.note_scores(long.codec, back[None], tokens[None])["f1"] > 0.7
    assert long.offers("continue")
    out = long.continue_(tune.slice(0.0, 16.0), bars=2, temperature=1.0, seed=1)
    assert out.length == 24.0 and [n for n in out.notes if n.start >= 16.0]


def test_sampling_draws_the_codes_from_the_prior(tiny_bundle):
    """engine.sample draws each code from prior_step after the one before (reproducible per
    seed), not from N(0, I): the codes have the prior's own spread."""
    engine = Engine.load(tiny_bundle)
    rng = np.random.default_rng(3)
    codes = engine.decoder.prior(64, rng)
    assert codes.shape == (64, engine.z_size)
    again = engine.decoder.prior(64, np.random.default_rng(3))
    np.testing.assert_array_equal(codes, again)
    bundle = engine.bundle
    state = [np.zeros((1, 64, 16), np.float32)] * 2
    mu, sigma, *_ = bundle.run("prior_step", np.zeros((64, 128), np.float32), *state)
    first = codes[:, :128]
    # the first code is mu + sigma * noise of the prior's first step, with the same noise
    noise = np.random.default_rng(3).standard_normal(mu.shape)
    np.testing.assert_allclose(first, mu + sigma * noise, rtol=1e-5, atol=1e-5)
    clips = engine.sample(3, temperature=1.0, seed=5)
    assert [c.notes for c in clips] == [c.notes for c in engine.sample(3, temperature=1.0, seed=5)]


def test_the_prior_is_drawn_at_model_jsons_width(tiny_bundle, tmp_path):
    """decoding.prior_scale narrows the prior's draws: the first code is mu + scale x sigma x
    noise (the shipped mel_16bar samples at 0.55, docs/training.md)."""
    folder = tmp_path / "narrow"
    shutil.copytree(tiny_bundle, folder)
    meta = json.loads((folder / "model.json").read_text())
    meta["decoding"]["prior_scale"] = 0.25
    (folder / "model.json").write_text(json.dumps(meta))
    engine = Engine.load(folder)
    state = [np.zeros((1, 8, 16), np.float32)] * 2
    mu, sigma, *_ = engine.bundle.run("prior_step", np.zeros((8, 128), np.float32), *state)
    noise = np.random.default_rng(4).standard_normal(mu.shape)
    first = engine.decoder.prior(8, np.random.default_rng(4))[:, :128]
    np.testing.assert_allclose(first, mu + 0.25 * sigma * noise, rtol=1e-5, atol=1e-5)
    assert Engine.load("mel_16bar").decoder.prior_scale == 0.55


def test_a_broken_segments_bundle_is_refused_with_one_line(tiny_bundle, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(tiny_bundle, folder)
    meta = json.loads((folder / "model.json").read_text())
    for change, message in [({"decoding": {**meta["decoding"], "segment_bars": 3}},
                             "segment_bars must be a whole number dividing bars"),
                            ({"decoding": {k: v for k, v in meta["decoding"].items()
                                           if k != "segment_bars"}}, "segment_bars"),
                            ({"z_size": 1001}, "is not 8 codes of one size"),
                            ({"z_size": 512}, "must write codes of 64")]:
        (folder / "model.json").write_text(json.dumps({**meta, **change}))
        with pytest.raises(BundleError, match=message) as info:
            load_bundle(folder)
        assert "\n" not in str(info.value)
    (folder / "model.json").write_text(json.dumps(meta))
    (folder / "prior_step.onnx").unlink()
    with pytest.raises(BundleError):
        load_bundle(folder)


def test_cli_errors_are_one_line(long_data, tmp_path, capsys):
    for argv, code in [(["drums_2bar", "--data", str(long_data), "-o", str(tmp_path / "a")], 1),
                       (["hier_mel_16bar", "--data", str(long_data), "-o", str(tmp_path / "b")], 1),
                       (["mel_2bar", "--data", str(tmp_path / "none"), "-o", str(tmp_path / "c")], 1),
                       (["mel_2bar", "--data", str(long_data), "-o", str(tmp_path / "d"),
                         "--steps", "0"], 2)]:
        with pytest.raises(SystemExit) if code == 2 else _no_exit():
            assert main(argv) == code
        err = capsys.readouterr().err.strip()
        assert err and "\n" not in err and "Traceback" not in err, err


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_shipped_mel_16bar_plays_unseen_tunes_back(shared_data):
    """The shipped mel_16bar (segments over mel_2bar) on Nottingham test tunes: most notes
    come back, far above the hierarchical one-code model on the same windows."""
    files = sorted((shared_data / "nottingham" / "melody").glob("reels*.mid"))[:6]
    clips = [read_midi(p).slice(0.0, 64.0) for p in files]
    scores = {}
    for name in ("mel_16bar", "hier_mel_16bar"):
        engine = Engine.load(name)
        tokens = np.stack([engine.tokens(c) for c in clips])
        back = engine.decode_tokens(engine.encode(clips), temperature=0.0)
        scores[name] = benchmark.note_scores(engine.codec, back, tokens)["f1"]
    assert scores["mel_16bar"] > 0.7 and scores["hier_mel_16bar"] < 0.5, scores


def test_the_trio_reads_melody_and_bass_each_through_the_short_model(shared_data):
    """trio_16bar (segments over mel_2bar, parts melody and bass): each part of each 2-bar
    window has its own code, decoded as mel_2bar decodes it; a window's bass comes from its
    bass code (another tune's bass code gives another bass, the melody untouched); the drums
    stay silent."""
    trio, short = Engine.load("trio_16bar"), Engine.load("mel_2bar")
    assert trio.decoding["segment_parts"] == ["melody", "bass"] and trio.silent_parts == {2}
    clips = []
    for path in sorted((shared_data / "nottingham" / "full").glob("reels*.mid"))[:2]:
        clip = read_midi(path).slice(0.0, 64.0)
        low = max(n.track for n in clip.notes)
        clips.append(clip.copy(notes=[n if n.track != low else replace(n, program=33)
                                      for n in clip.notes]))
    tokens = np.stack([trio.tokens(c) for c in clips])
    z = trio.encode(clips)
    assert z.shape == (2, 8 * 2 * short.z_size)
    codes = z.reshape(2, 8, 2, short.z_size)
    melody = tokens[0, :, 0].reshape(8, 32)
    np.testing.assert_allclose(codes[0, :, 0], short.decoder.encode_tokens(melody), atol=1e-5)
    out = trio.decode_tokens(z, temperature=0.0)
    bass = short.decode_tokens(codes[0, :, 1], temperature=0.0).reshape(-1)
    assert np.array_equal(out[0, :, 1], bass) and not out[..., 2].any()
    assert benchmark.note_scores(trio.codec, out, tokens)["f1"] > 0.7
    swapped = codes.copy()
    swapped[0, :, 1] = codes[1, :, 1]            # tune 0's melody codes, tune 1's bass codes
    mixed = trio.decode_tokens(swapped.reshape(2, -1), temperature=0.0)
    assert np.array_equal(mixed[0, :, 0], out[0, :, 0])
    assert np.array_equal(mixed[0, :, 1], out[1, :, 1]) and not np.array_equal(out[0, :, 1], out[1, :, 1])
    new = trio.continue_(clips[0].slice(0.0, 16.0), bars=2, temperature=1.0, seed=2).notes
    assert {n.program for n in new if n.start >= 16.0} == {0, 33}


def test_note_segments_are_the_short_note_model_window_by_window(shared_data):
    """notes_poly (kind note_segments): 100 notes as four 25-note windows of notes_poly_25,
    each encoded and decoded on its own; the windows' notes follow each other (each window's
    first dT is its gap from the note before, as in the tune)."""
    long, short = Engine.load("notes_poly"), Engine.load("notes_poly_25")
    assert (long.kind, long.notes, short.kind, short.notes) == \
        ("note_segments", 100, "note_events", 25)
    assert long.z_size == 4 * short.z_size
    tune = read_midi(shared_data / "nottingham" / "full" / "ashover10.mid")
    tokens = long.codec.encode(tune)[:100]        # the tune's first 100 notes
    assert len(tokens) == 100
    z = long.decoder.encode_tokens(tokens[None])
    np.testing.assert_allclose(z.reshape(4, -1), short.decoder.encode_tokens(tokens.reshape(4, 25, 3)),
                               atol=1e-5)
    back = long.decode_tokens(z, temperature=0.0)
    assert np.array_equal(back[0], short.decode_tokens(z.reshape(4, -1), temperature=0.0).reshape(100, 3))
    assert (back[0] == tokens).all(-1).mean() > 0.3 and (back[0, :, 0] == tokens[:, 0]).mean() > 0.6
    # a clip of fewer notes (the model's 8 bars of this tune hold 68) is read tiled to 100
    heard = long.tokens(tune)
    assert len(heard) < 100
    tiled = np.resize(heard, (100, 3))
    np.testing.assert_allclose(long.encode([tune]), long.decoder.encode_tokens(tiled[None]), atol=1e-6)
