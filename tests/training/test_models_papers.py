"""The other papers' models (modular VAE, MuseBar, VRASH) and the baselines, on real data.

Each named config trains through the real loop (training.train.train) at a tiny size on a tiny
dataset built from the shared Nottingham files, and its loss must go down. The step functions
(what the ONNX export uses) must give the same logits as the parallel teacher-forced pass.
"""

import json

import numpy as np
import pytest
import torch

from training.configs import get_config
from training.data import WindowDataset
from training.models import build_model
from training.models.modular import ModularVAE, ModularVAEConfig
from training.models.musebar import MuseBarConfig, MuseBarVAE, bar_ends, barwise_kl
from training.models.vrash import VRASH, VRASHConfig
from training.prepare import prepare
from training.train import build_config, fit_to_dataset, load_checkpoint, train


@pytest.fixture(scope="module")
def datasets(shared_data, tmp_path_factory):
    """Tiny real datasets: note events, piano roll, pitch/octave/duration, 2-bar melody."""
    root = tmp_path_factory.mktemp("paper_data")
    full, melody = shared_data / "nottingham" / "full", shared_data / "nottingham" / "melody"
    out = {}
    for name, source, kw in [("notes", full, dict(kind="notes", notes=10, stride=5)),
                             ("pianoroll", full, dict(kind="pianoroll", notes=32, stride=16)),
                             ("pod", melody, dict(kind="pod", notes=16, stride=8)),
                             ("mel", melody, dict(kind="mel", bars=2))]:
        prepare([str(source)], root / name, max_files=10, progress=False, **kw)
        out[name] = root / name
    return out


TINY = {
    "lb-notes_modular": ("notes", ["model.hidden_size=16", "model.embed_size=8", "model.z_size=8"]),
    "lb-pianoroll_musebar": ("pianoroll", ["model.hidden_size=16", "model.z_size=8"]),
    "lb-pod_vrash": ("pod", ["model.hidden_size=16", "model.embed_size=8"]),
    "lb-mel_2bar_lm": ("mel", ["model.dec_rnn_size=[16]"]),
    "lb-mel_2bar_ae": ("mel", ["model.dec_rnn_size=[16]", "model.enc_rnn_size=[16]",
                               "model.z_size=8"]),
    "lb-mel_2bar_barwise": ("mel", ["model.dec_rnn_size=[16]", "model.enc_rnn_size=[16]",
                                    "model.z_size=8"]),
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_named_config_trains_and_lowers_the_loss(name, datasets, tmp_path):
    data, overrides = TINY[name]
    cfg = build_config(name, overrides + ["model.kl_schedule=constant", "train.eval_every=0",
                                          "train.learning_rate=0.01", "train.threads=1"],
                       steps=200, batch_size=8)
    train(cfg, datasets[data], tmp_path, progress=False)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    losses = [line["loss"] for line in lines if "split" not in line]
    assert len(losses) == 200
    first, last = np.mean(losses[:20]), np.mean(losses[-20:])
    assert last < 0.9 * first, f"{name}: loss {first:.2f} -> {last:.2f}"
    model, config, codec = load_checkpoint(tmp_path)
    assert config.model.kind == cfg.model.kind and codec.name == cfg.codec["name"]


def _real_tokens(folder, n=4):
    return WindowDataset(folder, "train").batch(range(n))


@pytest.mark.parametrize("unroll", [True, False])
def test_modular_sub_steps_match_teacher_forcing(datasets, unroll):
    batch = _real_tokens(datasets["notes"])
    sizes = WindowDataset(datasets["notes"], "train").codec.field_sizes
    torch.manual_seed(0)
    model = ModularVAE(ModularVAEConfig(output_depths=list(sizes), hidden_size=12, embed_size=6,
                                        z_size=5, unroll=unroll)).eval()
    tokens = batch["tokens"]
    mu, sigma = model.encode(tokens)
    assert mu.shape == sigma.shape == (4, 5) and (sigma > 0).all()
    l_dt, l_t, l_p = model.teacher_forced(tokens, mu)
    state, prev = model.decoder_init(mu), model.start_note(4)
    assert len(state) == 7 and all(s.shape == (1, 4, 12) for s in state)
    for i in range(tokens.shape[1]):
        logits, state = model.decoder_step_dt(prev, mu, state)
        torch.testing.assert_close(logits, l_dt[:, i], atol=1e-5, rtol=1e-4)
        logits, state = model.decoder_step_t(tokens[:, i, 0], state)
        torch.testing.assert_close(logits, l_t[:, i], atol=1e-5, rtol=1e-4)
        logits, state = model.decoder_step_p(tokens[:, i, 0], tokens[:, i, 1], state)
        torch.testing.assert_close(logits, l_p[:, i], atol=1e-5, rtol=1e-4)
        prev = tokens[:, i]
    # the sampler is built from the same sub-steps: greedy samples agree with teacher forcing
    greedy = model.sample(mu, notes=tokens.shape[1], temperature=0.0)
    assert torch.equal(model.predict_next(greedy, mu), greedy)


def test_modular_word_dropout_replaces_previous_notes_with_start(datasets):
    """Word dropout (training only): a dropped previous note reads as the start symbol."""
    tokens = _real_tokens(datasets["notes"], 8)["tokens"]
    sizes = WindowDataset(datasets["notes"], "train").codec.field_sizes
    torch.manual_seed(0)
    model = ModularVAE(ModularVAEConfig(output_depths=list(sizes), hidden_size=12, embed_size=6,
                                        z_size=5, word_dropout=0.5))
    seen = []
    context = model._context
    model._context = lambda prev, z, state: seen.append(prev) or context(prev, z, state)
    model.train()
    model.loss({"tokens": tokens})
    model.eval()
    model.loss({"tokens": tokens})
    start = model.start_note(1)[0]
    truth = torch.cat([model.start_note(8)[:, None], tokens[:, :-1]], 1)
    dropped = (seen[0] == start).all(-1) & ~(truth == start).all(-1)
    assert torch.equal(seen[0][~dropped], truth[~dropped])
    assert 0.35 < dropped[:, 1:].float().mean() < 0.65
    assert torch.equal(seen[1], truth)


def test_modular_scheduled_sampling_reads_its_own_notes(datasets):
    """Scheduled sampling (training only): with probability p each previous note the decoder
    reads is the model's own draw from a teacher-forced pass; p = 0 (and eval) reads the truth."""
    tokens = _real_tokens(datasets["notes"], 8)["tokens"]
    sizes = WindowDataset(datasets["notes"], "train").codec.field_sizes
    torch.manual_seed(0)
    model = ModularVAE(ModularVAEConfig(output_depths=list(sizes), hidden_size=12, embed_size=6,
                                        z_size=5, sampling_schedule="constant", sampling_rate=1.0))
    with torch.no_grad():     # sharp output layers: a draw is the argmax
        for layer in (model.out_dt, model.out_t, model.out_p):
            layer.weight.mul_(1e4)
            layer.bias.mul_(1e4)
    model.train()
    z = torch.randn(8, 5)
    truth = torch.cat([model.start_note(8)[:, None], tokens[:, :-1]], 1)
    own = torch.stack([l.argmax(-1) for l in model.teacher_forced(tokens, z)], -1)
    assert not torch.equal(own, tokens)
    assert torch.equal(model.scheduled_past(tokens, z, 0.0), truth)
    everything = model.scheduled_past(tokens, z, 1.0)
    assert torch.equal(everything[:, 0], truth[:, 0])                     # "start" first
    assert torch.equal(everything[:, 1:], own[:, :-1])
    half = model.scheduled_past(tokens, z, 0.5)
    mine = (half == torch.cat([truth[:, :1], own[:, :-1]], 1)).all(-1)
    theirs = (half == truth).all(-1)
    assert (mine | theirs).all()
    assert 0.3 < (mine & ~theirs)[:, 1:].float().mean() < 0.7

    seen = []
    context = model._context
    model._context = lambda prev, z, state: seen.append(prev) or context(prev, z, state)
    _, metrics = model.loss({"tokens": tokens})
    assert metrics["sampling_prob"] == 1.0
    own_mu = seen[-1]                 # the second pass reads the first pass's draws
    assert (own_mu[:, 1:] != truth[:, 1:]).any()
    model.eval()
    seen.clear()
    _, metrics = model.loss({"tokens": tokens})
    assert metrics["sampling_prob"] == 0.0 and len(seen) == 1 and torch.equal(seen[0], truth)


def test_note_unrolling_conditions_t_and_p_on_chosen_fields(datasets):
    sizes = WindowDataset(datasets["notes"], "train").codec.field_sizes
    torch.manual_seed(0)
    z = torch.randn(2, 5)
    for unroll in (True, False):
        model = ModularVAE(ModularVAEConfig(output_depths=list(sizes), hidden_size=12,
                                            embed_size=6, z_size=5, unroll=unroll)).eval()
        state = model.decoder_init(z)
        _, state = model.decoder_step_dt(model.start_note(2), z, state)
        a, _ = model.decoder_step_t(torch.tensor([0, 0]), state)
        b, _ = model.decoder_step_t(torch.tensor([1, 1]), state)
        assert (not torch.allclose(a, b)) == unroll


def test_vrash_and_musebar_steps_match_teacher_forcing(datasets):
    torch.manual_seed(0)
    pod = _real_tokens(datasets["pod"])
    sizes = WindowDataset(datasets["pod"], "train").codec.field_sizes
    for history in (True, False):
        model = VRASH(VRASHConfig(output_depths=list(sizes), hidden_size=12, embed_size=4,
                                  z_size=3, history=history)).eval()
        mu, _ = model.encode(pod["tokens"])
        full = model.teacher_forced(pod["tokens"], mu)
        state, prev = model.decoder_init(mu), model.start_note(4)
        for i in range(pod["tokens"].shape[1]):
            logits, state = model.decoder_step(prev, mu, state)
            torch.testing.assert_close(logits, full[:, i], atol=1e-5, rtol=1e-4)
            prev = pod["tokens"][:, i]
    roll = _real_tokens(datasets["pianoroll"])
    model = MuseBarVAE(MuseBarConfig(hidden_size=12, z_size=3, layers=2)).eval()
    mu, _ = model.encode(roll["inputs"])
    full = model.teacher_forced(roll["inputs"], mu)
    state, prev = model.decoder_init(mu), torch.zeros(4, 128)
    assert state[0].shape == (2, 4, 12)
    for i in range(roll["inputs"].shape[1]):
        logits, state = model.decoder_step(prev, mu, state)
        torch.testing.assert_close(logits, full[:, i], atol=1e-5, rtol=1e-4)
        prev = roll["inputs"][:, i]


def test_barwise_kl_averages_the_bar_end_posteriors():
    assert bar_ends(64, 16, 1) == [15, 31, 47, 63]
    assert bar_ends(64, 16, 2) == [31, 63]
    assert bar_ends(40, 16, 1) == [15, 31, 39]        # the last state is always regularised
    hidden = torch.zeros(1, 32, 2)
    hidden[0, 15] = torch.tensor([2.0, 0.0])          # bar 1 end: mu = 2, logvar = 0 -> KL 2
    hidden[0, 31] = torch.tensor([0.0, 0.0])          # bar 2 end: standard normal -> KL 0

    def to_params(h):
        return h[..., :1], h[..., 1:]
    assert barwise_kl(hidden, to_params, 16, 1).item() == pytest.approx(1.0)
    assert barwise_kl(hidden, to_params, 16, 2).item() == pytest.approx(0.0)
    # with lengths, bar ends past a sequence's end do not count
    assert barwise_kl(hidden, to_params, 16, 1, torch.tensor([20])).item() == pytest.approx(2.0)


def test_barwise_flag_adds_a_kl_term_to_musicvae(datasets):
    data = WindowDataset(datasets["mel"], "train")
    losses = {}
    for every in (0, 1):
        cfg = get_config("lb-mel_2bar_barwise")
        cfg.override("model.enc_rnn_size=[8]")
        cfg.override("model.dec_rnn_size=[8]")
        cfg.override(f"model.barwise_every={every}")
        cfg.override("model.kl_schedule=constant")
        fit_to_dataset(cfg, data)
        torch.manual_seed(0)
        model = build_model(cfg.model)
        torch.manual_seed(1)
        losses[every] = model(data.batch(range(8)), 0)
    assert "kl_barwise" not in losses[0][1]
    extra = losses[1][1]["kl_barwise"]
    assert extra > 0
    beta = losses[1][1]["beta"]
    assert beta > 0
    assert losses[1][0].item() == pytest.approx(losses[0][0].item() + beta * extra, rel=1e-4)
