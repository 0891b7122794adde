"""Every model family memorises a few real windows with its named config's recipe.

A recipe or a model that cannot learn four windows will not learn ten thousand: each family
trains at a small width on four real windows, with its registered config's learning rate,
schedules, free bits and scheduled sampling, until free-running reconstruction from the posterior
mean (argmax, the way the runtime decodes) is right on >= 95% of the steps. Then z must matter:
decoding another window's code gives another window.
"""

import numpy as np
import pytest
import torch

from training import schedules
from training.data import WindowDataset
from training.models import build_model
from training.prepare import prepare
from training.train import build_config, fit_to_dataset


@pytest.fixture(scope="module")
def windows(shared_data, tmp_path_factory):
    """A small real dataset per representation (the first Nottingham / Groove files)."""
    root = tmp_path_factory.mktemp("overfit_data")
    full, melody = shared_data / "nottingham" / "full", shared_data / "nottingham" / "melody"
    drums = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*beat*.mid"))[:4]
    out = {}
    for name, sources, kw in [
            ("mel2", [melody], dict(kind="mel", bars=2, max_files=6)),
            ("mel4", [melody], dict(kind="mel", bars=4, max_files=6)),
            ("drums2", [str(f) for f in drums], dict(kind="drums", bars=2)),
            ("notes", [full], dict(kind="notes", notes=24, stride=12, max_files=6)),
            ("pianoroll", [full], dict(kind="pianoroll", notes=16, stride=8, max_files=6)),
            ("pod", [melody], dict(kind="pod", notes=16, stride=8, max_files=6))]:
        prepare([str(s) for s in sources], root / name, progress=False, valid=0.0, test=0.0, **kw)
        out[name] = WindowDataset(root / name, "train")
    return out


def distinct(tokens: np.ndarray, n: int = 4) -> np.ndarray:
    """``n`` windows that differ from each other (and are not silent)."""
    chosen = []
    for window in tokens:
        if window.any() and all((window != c).any() for c in chosen):
            chosen.append(window)
        if len(chosen) == n:
            return np.stack(chosen)
    raise AssertionError(f"only {len(chosen)} distinct windows")


def trio_windows(mel4: WindowDataset, drums2: WindowDataset) -> np.ndarray:
    """Real trio rows: Nottingham melodies, the same an octave down as bass, Groove drums."""
    melody = distinct(mel4.tokens)
    bass = np.where(melody >= 14, melody - 12, melody)
    drums = distinct(drums2.tokens)
    drums = np.concatenate([drums, drums[::-1]], axis=1)  # 2 bars -> 4 bars
    return np.stack([melody, bass, drums], axis=-1)


# name -> (config, dataset, overrides at a small width; everything else is the config's recipe)
FAMILIES = {
    "flat melody": ("lb-mel_2bar", "mel2", ["model.enc_rnn_size=[64]", "model.dec_rnn_size=[64]"]),
    "flat drums": ("lb-drums_2bar", "drums2", ["model.enc_rnn_size=[64]", "model.dec_rnn_size=[64]"]),
    "hierarchical": ("lb-mel_16bar", "mel4", ["model.level_lengths=[4,16]",
                                              "model.enc_level_lengths=[4,16]",
                                              "model.enc_rnn_size=[48,48]",
                                              "model.dec_rnn_size=[96]"]),
    "trio": ("lb-trio_16bar", "trio", ["model.level_lengths=[4,16]", "model.enc_level_lengths=[4,16]",
                                       "model.enc_rnn_size=[48,48]", "model.dec_rnn_size=[96]"]),
    "note events": ("lb-notes_modular", "notes", ["model.hidden_size=48", "model.embed_size=16"]),
    # MuseBar's own recipe (beta 1, no free bits) collapses even on four windows (KL under 1.5
    # nats, no frame right after 600 steps): the paper's setting, kept for the ablation; the
    # family itself must still learn, with free bits and a higher learning rate.
    "musebar piano roll": ("lb-pianoroll_musebar", "pianoroll", [
        "model.hidden_size=128", "model.free_bits=48", "model.max_beta=0.2",
        "train.learning_rate=0.01"]),
    "vrash": ("lb-pod_vrash", "pod", ["model.hidden_size=48", "model.embed_size=16"]),
}


def reconstruct(model, dataset, tokens):
    batch = dataset.batch_of(tokens)
    with torch.no_grad():
        mu, _ = model.posterior(batch)
        return mu, model.generate(mu, tokens.shape[1], 0.0).numpy()


def step_accuracy(pred, target):
    equal = pred == target
    if equal.ndim == 3:  # every part / field of a step right
        equal = equal.all(-1)
    return float(equal.mean())


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_memorises_four_windows_and_uses_z(family, windows):
    name, data, overrides = FAMILIES[family]
    if data == "trio":
        dataset = windows["mel4"]
        tokens = trio_windows(windows["mel4"], windows["drums2"])
        from runtime.codecs.trio import TrioCodec

        dataset = WindowDataset.__new__(WindowDataset)
        dataset.codec, dataset.tokens, dataset.transpose, dataset.pitched_parts = \
            TrioCodec(), tokens, (0, 0), []
        dataset.folder, dataset.split = "trio", "train"
    else:
        dataset = windows[data]
        tokens = distinct(dataset.tokens)
    cfg = build_config(name, overrides)
    fit_to_dataset(cfg, dataset)
    torch.manual_seed(0)
    model = build_model(cfg.model)
    t = cfg.train
    optimizer = torch.optim.Adam(model.parameters(), lr=t.learning_rate)
    batch = dataset.batch_of(tokens)
    accuracy, step = 0.0, 0
    for step in range(1, 1201):
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = schedules.learning_rate(step, t.learning_rate, t.min_learning_rate,
                                                  t.decay_rate)
        loss, _ = model(batch, step)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        optimizer.step()
        if step % 25 == 0:
            model.eval()
            _, pred = reconstruct(model, dataset, tokens)
            accuracy = step_accuracy(pred, tokens)
            if accuracy >= 0.95:
                break
    assert accuracy >= 0.95, f"{family} ({name}): free-running reconstruction {accuracy:.3f} " \
                             f"after {step} steps"

    # z is used: another window's code decodes to another window
    model.eval()
    mu, pred = reconstruct(model, dataset, tokens)
    with torch.no_grad():
        swapped = model.generate(mu.roll(1, 0), tokens.shape[1], 0.0).numpy()
    assert step_accuracy(swapped, np.roll(tokens, 1, 0)) >= 0.9
    assert step_accuracy(swapped, tokens) < 0.9, f"{family}: the decoder ignores z"
