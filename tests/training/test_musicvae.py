"""MusicVAE: Magenta's math, the step functions against parallel decoding, data and schedules."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from training import schedules
from training.configs import get_config
from training.data import WindowDataset
from training.models import build_model
from training.models.base import free_bits_kl, gaussian_kl
from training.prepare import prepare

torch.set_num_threads(1)

# (config, input_depth, output_depths) at tiny sizes
TINY = {
    "flat-mel": ("cat-mel_2bar_small", 90, [90]),
    "flat-drums": ("cat-drums_2bar_small", 10, [512]),
    "hier-mel": ("hierdec-mel_16bar", 90, [90]),
    "hier-trio": ("hierdec-trio_16bar", 190, [90, 90, 512]),
    "hier-enc-trio": ("hier-trio_16bar", 190, [90, 90, 512]),
}


def tiny_model(key, seed=0, **fields):
    name, input_depth, output_depths = TINY[key]
    cfg = get_config(name).model
    cfg.input_depth, cfg.output_depths = input_depth, output_depths
    cfg.enc_rnn_size = [12] * len(cfg.enc_rnn_size)
    cfg.dec_rnn_size = [10] * len(cfg.dec_rnn_size)
    cfg.z_size = 6
    if cfg.level_lengths:
        cfg.level_lengths, cfg.max_seq_len = [3, 4], 12
    if cfg.enc_level_lengths:
        cfg.enc_level_lengths, cfg.enc_rnn_size = [3, 4], [12, 8]
    for k, v in fields.items():
        setattr(cfg, k, v)
    torch.manual_seed(seed)
    model = build_model(cfg)
    with torch.no_grad():  # Magenta's tiny-stddev init makes every z alike; spread it for the test
        for name_, p in model.named_parameters():
            if "initial_state" in name_ or name_.startswith(("mu.", "sigma.")):
                p.normal_(0, 0.5)
    return model.eval()


def decode_step_by_step(model, z, prev):
    """Reference loop over the export contract: conductor_init/step, decoder_init/step only."""
    logits, segment = [], model.segment_length
    for t in range(prev.shape[1]):
        if t % segment == 0:
            if model.hierarchical:
                if t == 0:
                    conductor = model.conductor_init(z)
                cond, conductor = model.conductor_step(conductor)
            else:
                cond = z
            state = model.decoder_init(cond)
        out, state = model.decoder_step(prev[:, t], cond, state)
        logits.append(out)
    return torch.stack(logits, 1)


def random_tokens(model, batch, steps, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, d, (batch, steps), generator=g)
                        for d in model.part_depths], -1)


@pytest.fixture(scope="module")
def mel_2bar(shared_data, tmp_path_factory):
    files = sorted((shared_data / "nottingham" / "full").glob("*.mid"))[:12]
    out = tmp_path_factory.mktemp("mvae") / "mel_2bar"
    prepare([str(f) for f in files], out, kind="mel", bars=2, valid=0.2, test=0.0, progress=False)
    return out


def test_initial_state_is_tanh_dense_split_c_then_h_per_layer():
    """Magenta's initial_cell_state_from_embedding order: (c0, h0, c1, h1) from one Dense."""
    model = tiny_model("flat-mel")
    layer = model.decoders[0].initial_state
    hidden = model.config.dec_rnn_size[0]
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.copy_(torch.linspace(-2, 2, layer.bias.numel()))
    h, c = model.decoder_init(torch.zeros(1, model.config.z_size))
    expected = torch.tanh(layer.bias).view(2, 2, hidden)   # [layer, (c, h), hidden]
    assert torch.equal(c[:, 0], expected[:, 0])
    assert torch.equal(h[:, 0], expected[:, 1])


def test_hierarchical_encoder_reads_bars_then_the_bar_sequence():
    """Magenta's HierarchicalLstmEncoder, with the parameter names training.import_magenta fills."""
    model = tiny_model("hier-enc-trio")
    names = {n for n, _ in model.named_parameters()}
    assert {"encoder.levels.0.fw.0.weight_ih_l0", "encoder.levels.1.bw.0.bias_hh_l0",
            "decoders.2.output_projection.weight", "conductor.weight_hh_l1"} <= names
    tokens = random_tokens(model, 2, 12)
    x = torch.cat([F.one_hot(tokens[..., 0], 90), F.one_hot(tokens[..., 1], 90),
                   torch.rand(2, 12, 10)], -1).float()
    lengths = torch.tensor([12, 12])
    enc = model.encoder
    bars = torch.stack([enc.levels[0](x[:, 4 * i:4 * i + 4], torch.tensor([4, 4]))[0]
                        for i in range(3)], 1)
    final = enc.levels[1](bars, torch.tensor([3, 3]))[0]
    mu, sigma = model.encode(x, lengths)
    torch.testing.assert_close(mu, model.mu(final))
    assert model.encode_steps(x, lengths).shape == (2, 3, 16)


def test_encoder_ignores_steps_past_each_length():
    model = tiny_model("flat-mel")
    tokens = random_tokens(model, 3, 32)[..., 0]
    x = F.one_hot(tokens, 90).float()
    lengths = torch.tensor([32, 20, 7])
    mu, sigma = model.encode(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        mu_i, sigma_i = model.encode(x[i:i + 1, :n], torch.tensor([n]))
        torch.testing.assert_close(mu[i:i + 1], mu_i, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(sigma[i:i + 1], sigma_i, rtol=1e-5, atol=1e-6)
    garbage = x.clone()
    garbage[1, 20:] = 1.0
    torch.testing.assert_close(model.encode(garbage, lengths)[0], mu)
    assert (sigma > 0).all()


@pytest.mark.parametrize("key", sorted(TINY))
def test_step_functions_match_parallel_decoding(key):
    """The step loop (what ONNX exports) gives the teacher-forced logits, and argmax sampling
    reproduces itself when its own tokens are fed back through the parallel decoder."""
    model = tiny_model(key)
    steps = model.config.max_seq_len
    tokens = random_tokens(model, 4, steps)
    z = torch.randn(4, model.config.z_size, generator=torch.Generator().manual_seed(1))
    prev = F.pad(model.one_hot(tokens)[:, :-1], (0, 0, 1, 0))
    with torch.no_grad():
        parallel = model.decode_teacher_forced(z, prev)
        stepwise = decode_step_by_step(model, z, prev)
        scheduled_never = model.decode_scheduled(z, prev, 0.0)
    torch.testing.assert_close(stepwise, parallel, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(scheduled_never, parallel, rtol=1e-5, atol=1e-5)

    sampled = model.sample(z, temperature=0.0)
    assert sampled.shape == ((4, steps) if len(model.part_depths) == 1 else (4, steps, 3))
    sampled = sampled.reshape(4, steps, -1)
    with torch.no_grad():
        logits = model.decode_teacher_forced(z, F.pad(model.one_hot(sampled)[:, :-1], (0, 0, 1, 0)))
    argmax = torch.stack([p.argmax(-1) for p in logits.split(model.part_depths, -1)], -1)
    assert torch.equal(argmax, sampled)
    assert len(set(map(tuple, sampled.reshape(4, -1).tolist()))) > 1   # z matters

    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(model.sample(z, 1.0, g1), model.sample(z, 1.0, g2))


def test_hierarchical_conductor_restarts_each_bar_decoder():
    model = tiny_model("hier-mel")
    z = torch.randn(2, model.config.z_size)
    state = model.conductor_init(z)
    embeddings = []
    for _ in range(model.config.level_lengths[0]):
        emb, state = model.conductor_step(state)
        embeddings.append(emb)
    torch.testing.assert_close(torch.stack(embeddings, 1), model.conductor_embeddings(z))
    assert [s.shape for s in model.conductor_init(z)] == [(2, 2, 10)] * 2   # [L, B, H]
    trio = tiny_model("hier-trio")
    h, c = trio.decoder_init(torch.randn(5, trio.config.dec_rnn_size[0]))
    assert h.shape == c.shape == (3 * 2, 5, 10)   # 3 bar decoders x 2 layers


def test_loss_is_summed_cross_entropy_plus_beta_times_free_bits_kl():
    model = tiny_model("flat-mel", free_bits=2.0, max_beta=0.2, beta_rate=0.99,
                       sampling_schedule="constant", sampling_rate=0.0)
    model.train()
    tokens = random_tokens(model, 5, 32)[..., 0]
    batch = {"inputs": F.one_hot(tokens, 90).float(), "tokens": tokens,
             "lengths": torch.full((5,), 32)}
    torch.manual_seed(3)
    loss, metrics = model(batch, step=10)
    torch.manual_seed(3)
    mu, sigma = model.encode(batch["inputs"], batch["lengths"])
    z = mu + sigma * torch.randn_like(sigma)
    logits = model.decode_teacher_forced(z, F.pad(F.one_hot(tokens, 90).float()[:, :-1], (0, 0, 1, 0)))
    recon = F.cross_entropy(logits.reshape(-1, 90), tokens.reshape(-1), reduction="none").view(5, 32).sum(1)
    q = torch.distributions.Normal(mu, sigma)
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(sigma))
    kl = torch.distributions.kl_divergence(q, p).sum(-1)
    beta = 0.2 * (1 - 0.99 ** 10)
    expected = recon.mean() + beta * torch.clamp(kl - 2.0 * math.log(2), min=0).mean()
    torch.testing.assert_close(loss, expected)
    assert metrics["beta"] == pytest.approx(beta)
    torch.testing.assert_close(gaussian_kl(mu, sigma), kl)
    assert free_bits_kl(torch.tensor([1.0, 5.0]), 2.0).tolist() == pytest.approx([0.0, 5 - 2 * math.log(2)])


def test_schedules_follow_magenta_formulas():
    assert schedules.kl_beta(0, "magenta", 0.2, 0.99999) == 0.0
    assert schedules.kl_beta(5, "magenta", 0.2, 0.0) == 0.2
    assert schedules.kl_beta(1000, "magenta", 0.5, 0.999) == pytest.approx(0.5 * (1 - 0.999 ** 1000))
    assert schedules.kl_beta(500, "linear", 1.0, anneal_steps=1000) == 0.5
    assert schedules.kl_beta(500, "sigmoid", 1.0, anneal_steps=1000) == pytest.approx(0.5)
    assert schedules.kl_beta(0, "sigmoid", 1.0, anneal_steps=1000) < 0.01
    k = 1000.0
    for step in (0, 3000, 10000, 10 ** 7):
        assert schedules.sampling_probability(step, "inverse_sigmoid", k) == pytest.approx(
            1 - k / (k + math.exp(min(step / k, 700))))
    assert schedules.sampling_probability(10 ** 7, "inverse_sigmoid", k) == 1.0
    assert schedules.learning_rate(0, 1e-3, 1e-5, 0.9999) == pytest.approx(1e-3)
    assert schedules.learning_rate(10 ** 6, 1e-3, 1e-5, 0.9999) == pytest.approx(1e-5)
    with pytest.raises(ValueError, match="unknown KL schedule"):
        schedules.kl_beta(0, "cosine", 1.0)


def test_scheduled_sampling_feeds_back_samples():
    """At probability 1 every step but the first reads the model's own sample, so the logits
    differ from teacher forcing; at 0 they are the teacher-forced ones."""
    model = tiny_model("flat-mel")
    tokens = random_tokens(model, 4, 32)
    z = torch.randn(4, 6)
    prev = F.pad(model.one_hot(tokens)[:, :-1], (0, 0, 1, 0))
    torch.manual_seed(0)
    with torch.no_grad():
        forced = model.decode_teacher_forced(z, prev)
        sampled = model.decode_scheduled(z, prev, 1.0)
    torch.testing.assert_close(sampled[:, 0], forced[:, 0])
    assert not torch.allclose(sampled[:, 1:], forced[:, 1:])


@pytest.mark.parametrize("key", ["flat-mel", "hier-trio"])
def test_word_dropout_blanks_previous_tokens_only_while_training(key):
    """Word dropout: in training, a dropped step's previous token reads as all zeros (as the
    first step does); a kept step reads the truth; evaluation never drops."""
    model = tiny_model(key, word_dropout=0.5, sampling_schedule="constant", sampling_rate=0.0)
    steps = model.config.max_seq_len or 32
    tokens = random_tokens(model, 16, steps)
    batch = {"inputs": torch.rand(16, steps, model.config.input_depth), "tokens": tokens,
             "lengths": torch.full((16,), steps)}
    truth = F.pad(model.one_hot(tokens)[:, :-1], (0, 0, 1, 0))
    seen = []
    forced = model.decode_teacher_forced
    model.decode_teacher_forced = lambda z, prev: seen.append(prev) or forced(z, prev)
    model.train()
    model(batch, step=0)
    model.eval()
    model(batch, step=0)
    dropped = seen[0].sum(-1) == 0
    kept = ~dropped
    assert torch.equal(seen[0][kept], truth[kept])
    assert 0.35 < dropped[:, 1:].float().mean() < 0.65
    assert torch.equal(seen[1], truth)


def test_latent_init_stddev_decides_whether_z_reaches_the_bar_decoders_at_init():
    """Magenta's 0.001 init of mu/sigma and the z -> state layers starts every z alike (on the
    hierarchical path a saddle the lb-* 16-bar runs never left); 0 = Glorot, z matters at once."""
    def spread(stddev):
        cfg = get_config("lb-mel_16bar").model
        cfg.input_depth, cfg.output_depths, cfg.latent_init_stddev = 90, [90], stddev
        torch.manual_seed(0)
        model = build_model(cfg).eval()
        with torch.no_grad():
            first = model.conductor_embeddings(torch.randn(8, cfg.z_size))[:, 0]
            return (first - first.mean(0)).abs().mean().item(), model
    magenta, model = spread(0.001)
    assert model.mu.weight.std().item() == pytest.approx(0.001, rel=0.05)
    glorot, model = spread(0.0)
    assert model.conductor_initial_state.weight.std().item() > 0.01
    assert glorot > 10 * magenta, (magenta, glorot)
    cfg = get_config("lb-mel_16bar").model
    cfg.input_depth, cfg.output_depths, cfg.sigma_init_bias = 90, [90], -5.0
    _, sigma = build_model(cfg).encode(torch.rand(2, 256, 90), torch.tensor([256, 256]))
    assert sigma.mean().item() == pytest.approx(math.log1p(math.exp(-5)), rel=0.2)


def _batch_norm_model():
    """(a small lb-mel_2bar with mu batch-normalised to spread 0.7, in training mode, its config)"""
    cfg = get_config("lb-mel_2bar").model
    cfg.input_depth, cfg.output_depths, cfg.max_seq_len = 90, [90], 32
    cfg.enc_rnn_size, cfg.dec_rnn_size, cfg.z_size = [16], [16], 8
    cfg.mu_batch_norm, cfg.latent_init_stddev = 0.7, 0.0
    torch.manual_seed(0)
    return build_model(cfg).train(), cfg


def test_mu_batch_norm_spreads_every_z_dimension_across_a_batch_and_keeps_its_scale(mel_2bar):
    """BN-VAE (model.mu_batch_norm): in training every mu dimension has the fixed standard
    deviation across the batch (the 16-bar encoders, without it, gave every window the same mu),
    the scale is not learnt, and in evaluation a window's mu does not depend on its batch."""
    data = WindowDataset(mel_2bar, "train")
    batch = data.batch(range(32))
    model, cfg = _batch_norm_model()
    mu, _ = model.encode(batch["inputs"], batch["lengths"])
    np.testing.assert_allclose(mu.std(0, unbiased=False).detach().numpy(), 0.7, rtol=0.02)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for step in range(3):
        loss, _ = model.loss(batch, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.equal(model.mu_norm.weight, torch.full((8,), 0.7))
    assert model.mu_norm.bias.abs().max().item() > 0     # the mean is learnt
    model.eval()
    with torch.no_grad():
        together, _ = model.encode(batch["inputs"][:4], batch["lengths"][:4])
        alone, _ = model.encode(batch["inputs"][:1], batch["lengths"][:1])
    torch.testing.assert_close(alone[0], together[0])
    # the scale is the config's: loading a model trained at 0.7 into one set to 1.5 (a
    # fine-tune, --init-from) takes every weight but keeps 1.5
    cfg.mu_batch_norm = 1.5
    other = build_model(cfg)
    other.load_state_dict(model.state_dict())
    assert torch.equal(other.mu_norm.weight, torch.full((8,), 1.5))
    torch.testing.assert_close(other.mu_norm.bias, model.mu_norm.bias)
    torch.testing.assert_close(other.mu_norm.running_var, model.mu_norm.running_var)
    torch.testing.assert_close(other.mu.weight, model.mu.weight)
    cfg.mu_batch_norm = 0.0
    assert build_model(cfg).mu_norm is None


def test_mu_spread_logs_what_the_batch_norm_hides(mel_2bar):
    """The ``mu_spread`` metric is the batch's spread of mu before the batch norm: the same
    window 16 times gives 0 (after the norm every z dimension still has spread 0.7, so the
    KL alone cannot tell a collapsed encoder), different windows give the pre-norm std."""
    data = WindowDataset(mel_2bar, "train")
    model, _ = _batch_norm_model()
    same = data.batch([3] * 16)
    _, metrics = model.loss(same, 0)
    assert metrics["mu_spread"] == pytest.approx(0.0, abs=1e-6)
    different = data.batch(range(16))
    _, metrics = model.loss(different, 0)
    final, _ = model.encoder(different["inputs"], different["lengths"])
    expected = model.mu(final).detach().std(0).mean().item()
    assert metrics["mu_spread"] == pytest.approx(expected, rel=1e-5) and expected > 1e-3


def test_dataset_batches_and_transposes_real_melodies(mel_2bar):
    data = WindowDataset(mel_2bar, "train", transpose=(-5, 5))
    assert data.codec.name == "melody" and data.steps == 32 and len(data) > 20
    plain = data.batch(range(16))
    shifted = data.batch(range(16), rng=np.random.default_rng(0))
    assert plain["inputs"].shape == (16, 32, 90) and plain["lengths"].tolist() == [32] * 16
    torch.testing.assert_close(plain["inputs"], F.one_hot(plain["tokens"], 90).float())
    a, b = plain["tokens"].numpy(), shifted["tokens"].numpy()
    assert np.array_equal(a < 2, b < 2) and np.array_equal(a[a < 2], b[a < 2])
    deltas = {int(np.unique(b[i][a[i] >= 2] - a[i][a[i] >= 2])[0]) for i in range(16) if (a[i] >= 2).any()}
    assert len(deltas) > 1 and all(-5 <= d <= 5 for d in deltas)
    # a shift that leaves the range is refused (no shift) rather than wrapping: a window with
    # the lowest and the highest pitch never moves
    edge = np.zeros((1, 32), np.int64)
    edge[0, 0], edge[0, 8] = 2, 89
    data.tokens = edge
    for seed in range(4):
        assert data.batch([0], rng=np.random.default_rng(seed))["tokens"].tolist() == edge.tolist()


def test_note_event_pitches_transpose_and_nothing_else(shared_data, tmp_path):
    files = sorted((shared_data / "nottingham" / "full").glob("*.mid"))[:6]
    prepare([str(f) for f in files], tmp_path / "notes", kind="notes", notes=16, stride=8,
            valid=0.0, test=0.0, progress=False)
    data = WindowDataset(tmp_path / "notes", "train", transpose=(-5, 5))
    assert data.codec.name == "note_events"
    a = data.batch(range(16))["tokens"].numpy()
    b = data.batch(range(16), rng=np.random.default_rng(0))["tokens"].numpy()
    assert np.array_equal(a[..., :2], b[..., :2])          # onsets and durations untouched
    deltas = [set(np.unique(b[i, :, 2] - a[i, :, 2]).tolist()) for i in range(16)]
    assert all(len(d) == 1 for d in deltas)                  # one shift per window
    assert len(set.union(*deltas)) > 1 and all(-5 <= min(d) <= 5 for d in deltas)
    # pitch class 0 is a pitch here (the lowest key), not a "no event" class as in melodies
    size = data.codec.field_sizes[2]
    edge = np.array([[[0, 0, 0], [0, 0, size - 1]]])
    assert not data.codec.transpose(edge, 1)[1].any()
    moved, fits = data.codec.transpose(np.array([[[0, 0, 0], [0, 0, 3]]]), 2)
    assert moved[..., 2].tolist() == [[2, 5]] and fits.all()
