"""runtime.engine with the shipped bundles and real onnxruntime sessions (no torch)."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from runtime.bundle import shipped_models
from runtime.engine import Engine, EngineError
from runtime.midi_io import read_midi
from runtime.music import Clip, Note
from runtime.sampling import sample_categorical, slerp

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine():
    return Engine.load(None)


@pytest.fixture(scope="module")
def tune(shared_data):
    return read_midi(shared_data / "nottingham" / "melody" / "jigs10.mid")


def test_default_engine_attributes(engine):
    assert engine.name == "mel_2bar" and engine.kind == "flat"
    assert (engine.bars, engine.steps_per_bar) == (2, 16)
    assert engine.codec.name == "melody" and engine.z_size > 0


def _check_clip(clip, engine):
    assert isinstance(clip, Clip)
    assert clip.length == engine.bars * 4 and clip.time_signature == (4, 4)
    assert all(0 <= n.start < n.end <= clip.length for n in clip.notes)


def test_sample_is_seeded(engine):
    a = engine.sample(n=3, temperature=1.0, seed=11)
    b = engine.sample(n=3, temperature=1.0, seed=11)
    c = engine.sample(n=3, temperature=1.0, seed=12)
    assert len(a) == 3
    for clip in a:
        _check_clip(clip, engine)
    assert [x.notes for x in a] == [x.notes for x in b]
    assert [x.notes for x in a] != [x.notes for x in c]


def test_batched_decode_equals_single(engine):
    z = np.random.default_rng(3).standard_normal((5, engine.z_size)).astype(np.float32)
    batched = engine.decode_tokens(z, temperature=0.0)
    singles = np.concatenate([engine.decode_tokens(z[i], temperature=0.0) for i in range(5)])
    np.testing.assert_array_equal(batched, singles)
    assert batched.shape == (5, engine.bars * engine.steps_per_bar)


def test_encode_decode_real_melody(engine, tune, shared_data):
    """Reconstruction of real tunes through encoder + argmax decoding beats chance by far."""
    tunes = [read_midi(p) for p in sorted((shared_data / "nottingham" / "melody").glob("reels*.mid"))[:8]]
    z = engine.encode(tunes + [tune])
    assert z.shape == (9, engine.z_size) and z.dtype == np.float32 and np.isfinite(z).all()
    decoded = engine.decode_tokens(z, temperature=0.0)
    target = np.stack([engine.tokens(c) for c in tunes + [tune]])
    accuracy = float((decoded == target).mean())
    assert accuracy > 0.5, accuracy
    clips = engine.decode(z, temperature=0.0)
    for clip in clips:
        _check_clip(clip, engine)
    # the decoded clips read back as exactly the decoded tokens, and the encoder reads what the
    # decoder wrote: their codes decode to (nearly) the same tokens again, not to another tune's
    np.testing.assert_array_equal(np.stack([engine.tokens(c) for c in clips]), decoded)
    again = engine.decode_tokens(engine.encode(clips), temperature=0.0)
    assert (again == decoded).mean() > 0.9 > (again == np.roll(decoded, 1, axis=0)).mean()


def test_prepare_reduces_polyphony_and_range(engine):
    chord = Clip([Note(48, 0, 2), Note(64, 0, 1), Note(67, 1, 4), Note(120, 4, 5)], length=12.0,
                 time_signature=(3, 4))
    prepared = engine.prepare(chord)
    assert prepared.length == 8.0 and prepared.time_signature == (4, 4)
    pitches = [(n.pitch, n.start, n.end) for n in prepared.notes]
    assert pitches == [(64, 0.0, 1.0), (67, 1.0, 4.0), (108, 4.0, 5.0)]
    assert engine.encode([chord]).shape == (1, engine.z_size)


def test_interpolate_ends_are_reconstructions(engine, tune):
    other = tune.slice(16.0, 24.0)
    path = engine.interpolate(tune, other, n=5, temperature=0.0)
    assert len(path) == 5
    ends = engine.decode(engine.encode([tune, other]), temperature=0.0)
    assert path[0].notes == ends[0].notes and path[-1].notes == ends[1].notes


def test_vary(engine, tune):
    same = engine.vary(tune, n=2, amount=0.0, temperature=0.0, seed=1)
    recon = engine.decode(engine.encode([tune]), temperature=0.0)[0]
    assert all(v.notes == recon.notes for v in same)
    varied = engine.vary(tune, n=4, amount=0.8, temperature=0.0, seed=1)
    assert len(varied) == 4 and len({tuple(v.notes) for v in varied}) > 1
    with pytest.raises(EngineError, match="amount"):
        engine.vary(tune, amount=2.0)


def test_slerp_guards():
    z0 = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
    z1 = np.array([0.0, 2.0, 0.0, 0.0], np.float32)
    np.testing.assert_allclose(slerp(z0, z1, 0.0), z0, atol=1e-6)
    np.testing.assert_allclose(slerp(z0, z1, 1.0), z1, atol=1e-6)
    mid = slerp(z0, z1, 0.5)
    assert abs(np.linalg.norm(mid) - np.linalg.norm((np.sin(np.pi / 4) * (z0 + z1)) / np.sin(np.pi / 2))) < 1e-5
    for other in (z0 * 3, -z0, np.zeros(4, np.float32)):  # parallel, antiparallel, zero
        out = Engine.slerp(z0, other, 0.25)
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out, 0.75 * z0 + 0.25 * other, atol=1e-6)
    batch = slerp(np.stack([z0, z0]), np.stack([z1, -z0]), 0.5)
    assert batch.shape == (2, 4) and np.isfinite(batch).all()


def test_sampling_temperature():
    logits = np.array([[0.0, 3.0, 1.0]] * 2000, np.float32)
    assert (sample_categorical(logits, 0.0) == 1).all()
    rng = np.random.default_rng(0)
    counts = np.bincount(sample_categorical(logits, 1.0, rng), minlength=3) / 2000
    expected = np.exp([0.0, 3.0, 1.0]) / np.exp([0.0, 3.0, 1.0]).sum()
    np.testing.assert_allclose(counts, expected, atol=0.04)
    hot = np.bincount(sample_categorical(logits, 100.0, rng), minlength=3) / 2000
    assert hot.min() > 0.25
    # one row at a time (the batch-1 decoding path) draws from the same distribution
    single = np.concatenate([sample_categorical(logits[:1], 1.0, rng) for _ in range(2000)])
    np.testing.assert_allclose(np.bincount(single, minlength=3) / 2000, expected, atol=0.04)


def test_bad_inputs(engine):
    with pytest.raises(EngineError, match="shape"):
        engine.decode(np.zeros((2, engine.z_size + 1), np.float32))
    with pytest.raises(EngineError, match="NaN"):
        engine.decode(np.full((1, engine.z_size), np.nan, np.float32))
    with pytest.raises(EngineError, match="temperature"):
        engine.sample(1, temperature=-1)
    with pytest.raises(EngineError, match="Clip"):
        engine.encode(["not a clip"])


#: shipped models whose decoder does not read what the encoder writes for real music (their
#: reconstructions from each piece's own code are no closer to it than from other pieces'
#: codes: trio own/other agreement 0.877/0.863 after its 5 Dec retraining (0.871/0.871
#: before), issue 10). The 6 Dec trio (hier_trio_16bar since the segments trio_16bar, which reads
#: both parts window by window, took its name) is mel_16bar's encoder and melody decoder with a bass
#: decoder learnt under them (docs/training.md): its melody follows the code (0.740 / 0.675 on
#: these reels) but its encoder does not read the bass, which follows the melody instead (0.902 /
#: 0.905), and the always-silent drums agree everywhere: 0.881 / 0.860 over the three parts.
#: The 1 Dec mel_16bar was here too (0.710/0.707); its batch-normalised retraining of 5 Dec
#: reads z (0.723/0.679). drumify_2bar was listed by a test that fed it
#: Groove takes, whose tap lines are nearly all the same (a hit on almost every 16th); on
#: melodies its drums follow the taps (steps agreeing 0.891 own vs 0.838 others, 12 reels).
DO_NOT_READ_Z = {"hier_trio_16bar"}


def _real_clips(engine, shared_data, n=6):
    """Real pieces of the kind the model plays: Groove takes for drum models, Nottingham reels
    otherwise (for the trio, the chord track played as the bass, program 33)."""
    if engine.kind == "groove" and engine.codec.input_transform == "tap":
        # Drumify answers a rhythm played on anything: the reels' melodies are the taps (Groove
        # takes, ghost notes and all, tap a hit on nearly every 16th: one rhythm for all)
        return [read_midi(p) for p in sorted(
            (shared_data / "nottingham" / "melody").glob("reels*.mid"))[:n]]
    if engine.kind == "groove" or engine.codec.name == "drums":
        return [read_midi(p) for p in sorted(
            (shared_data / "groove" / "drummer1" / "session1").glob("*beat_4-4.mid"))[:n]]
    folder = "melody" if engine.codec.name == "melody" else "full"
    clips = [read_midi(p) for p in sorted((shared_data / "nottingham" / folder).glob("reels*.mid"))[:n]]
    if engine.codec.name == "trio":
        clips = [c.copy(notes=[x if x.track == min(m.track for m in c.notes) else replace(x, program=33)
                               for x in c.notes]) for c in clips]
    return clips


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(
    strict=True, raises=AssertionError,
    reason="the decoder ignores the code of real input (issue 10)"))
    if n in DO_NOT_READ_Z else n for n in shipped_models()])
def test_every_shipped_model(name, shared_data):
    """Samples are clips of the model's length, and a real piece decodes from its own code
    closer to itself than from the codes of the other pieces (steps that agree; hits for
    groove models): the encoder, the decoder and their codec work together."""
    engine = Engine.load(name)
    clips = engine.sample(n=2, temperature=0.8, seed=5)
    assert len(clips) == 2
    for clip in clips:
        _check_clip(clip, engine)
    pieces = _real_clips(engine, shared_data)
    z = engine.encode(pieces)
    assert z.shape == (len(pieces), engine.z_size) and np.isfinite(z).all()
    decoded = engine.decode_tokens(z, temperature=0.0)
    targets = [engine.tokens(c)[:decoded.shape[1]] for c in pieces]

    def agreement(i, j):
        a, b = targets[i], decoded[j][:len(targets[i])]
        if engine.kind == "groove":
            hits = engine.codec.num_classes               # hits | velocities | offsets
            a, b = a[..., :hits], b[..., :hits]
            if engine.codec.input_transform == "tap":     # the drums' steps follow the taps
                a, b = a.any(-1), b.any(-1)
        return float((a == b).mean())

    n = len(pieces)
    own = np.mean([agreement(i, i) for i in range(n)])
    other = np.mean([agreement(i, j) for i in range(n) for j in range(n) if i != j])
    assert own > other + 0.03, (own, other)


def test_runtime_imports_without_torch(tmp_path):
    """A performer's install has no torch: block it and render with the default model."""
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from runtime.engine import Engine\n"
        "from runtime.render import main\n"
        "engine = Engine.load(None)\n"
        "assert len(engine.sample(2, seed=0)) == 2\n"
        f"code = main(['sample', '--seed', '1', '-o', {str(tmp_path / 'x.mid')!r}])\n"
        "assert 'torch' not in {m.split('.')[0] for m, v in sys.modules.items() if v is not None}\n"
        "sys.exit(code)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "x.mid").is_file()


def _plain_decode(engine, z, temperature, seed):
    """The decode loop without the engine's IOBinding fast path: one ``Bundle.run`` per step,
    the decoder's ``choose`` and ``feedback`` as the reference semantics."""
    from runtime.sampling import make_rng

    rng = make_rng(seed)
    bundle = engine.bundle

    def loop(cond, steps, prev, state):
        out = []
        for _ in range(steps):
            logits, *state = bundle.run("decoder_step", prev, cond, *state)
            tokens = engine.decoder.choose(logits, temperature, rng)
            out.append(tokens)
            prev = engine.decoder.feedback(tokens)
        return np.stack(out, 1), prev

    width = sum(engine.output_depths)
    zeros = np.zeros((len(z), width), np.float32)
    if engine.kind == "flat":
        return loop(z, engine.total_steps, zeros, bundle.run("decoder_init", z))[0]
    if engine.kind == "segments":   # every short window from its own code, as one batch
        from runtime.sampling import sample_categorical

        depth = sum(engine.decoder.short_depths)
        cond = z.reshape(-1, engine.decoder.segment_z)
        prev, state, out = np.zeros((len(cond), depth), np.float32), bundle.run("decoder_init", cond), []
        for _ in range(engine.decoder.segment_steps):
            logits, *state = bundle.run("decoder_step", prev, cond, *state)
            out.append(sample_categorical(logits, temperature, rng))
            prev = np.eye(depth, dtype=np.float32)[out[-1]]
        return engine.decoder._join(np.stack(out, 1), len(z))
    state = bundle.run("conductor_init", z)
    prev, bars = zeros, []
    for _ in range(engine.bars):
        embedding, *state = bundle.run("conductor_step", *state)
        tokens, prev = loop(embedding, engine.steps_per_bar, prev, bundle.run("decoder_init", embedding))
        bars.append(tokens)
    return np.concatenate(bars, 1)


@pytest.mark.parametrize("name", ["mel_2bar", "drums_2bar", "mel_16bar", "hier_mel_16bar",
                                  "trio_16bar", "hier_trio_16bar"])
def test_fast_step_loop_gives_the_plain_loops_tokens(name):
    """The IOBinding step loop (preallocated buffers, state ping-pong) is an optimisation only:
    same tokens as the plain session.run loop, sampled and argmax, batch 1 and batch 3."""
    engine = Engine.load(name, threads=1)
    assert engine.bundle.sessions["decoder_step"].get_providers()[0] == "CPUExecutionProvider"
    rng = np.random.default_rng(5)
    for batch, temperature, seed in [(1, 1.0, 3), (3, 0.7, 4), (1, 0.0, None), (3, 0.0, None)]:
        z = rng.standard_normal((batch, engine.z_size)).astype(np.float32)
        fast = engine.decode_tokens(z, temperature=temperature, seed=seed)
        plain = _plain_decode(engine, z, temperature, seed)
        np.testing.assert_array_equal(fast, plain.reshape(fast.shape))
