"""Evaluation metrics for music VAEs: latent-space quality and mgeval-style musical statistics.

Latent space (torch tensors of posterior parameters)::

    >>> from training import metrics
    >>> mi = metrics.mutual_information(mu, logvar)          # He et al. 2019, nats
    >>> au, var = metrics.active_units(all_mu)                # Burda et al.: Var_x E[z|x] > 0.01
    >>> kl = metrics.gaussian_kl(mu, logvar).mean()           # KL(q(z|x) || N(0, I)) per sequence

Reconstruction and interpolation (integer token arrays)::

    >>> metrics.token_accuracy(pred, target, mask)           # fraction of equal tokens
    >>> curve = metrics.interpolation_curve(paths)            # normalised Hamming to A and B per alpha
    >>> metrics.smoothness(curve["to_a"])                     # mean |second difference|, 0 = linear

Musical statistics of sets of clips (Yang & Lerch 2018, "mgeval")::

    >>> feats = metrics.clip_features(clips)                  # dict name -> [N, ...] arrays
    >>> metrics.compare_sets(data_clips, sample_clips)        # intra/inter distances, KL, overlap area

Everything here is deterministic given its inputs (or a seeded ``torch.Generator``/``numpy`` RNG).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from runtime.music import Clip

LOG_2PI = math.log(2 * math.pi)


# --------------------------------------------------------------------------- latent space

def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over latent dims: tensor [B] in nats."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


@torch.no_grad()
def mutual_information(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> float:
    """I(x; z) under q(z|x) with He et al. (2019)'s minibatch estimator, in nats.

    ``I = E_x E_q(z|x)[log q(z|x)] - E_z[log q(z)]`` where the aggregate posterior ``q(z)`` is
    approximated by the mixture of the B posteriors in the batch (one z sampled per x). The
    estimate is bounded by ``log B``, so report it together with the batch size.
    """
    mu, logvar = mu.double(), logvar.double()
    batch, nz = mu.shape
    neg_entropy = (-0.5 * nz * LOG_2PI - 0.5 * (1 + logvar).sum(-1)).mean()
    std = (0.5 * logvar).exp()
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    z = (mu + std * eps).unsqueeze(1)                                   # [B, 1, Z]
    dev = z - mu.unsqueeze(0)                                           # [B, B, Z]
    log_density = (-0.5 * (dev.pow(2) / logvar.exp().unsqueeze(0)).sum(-1)
                   - 0.5 * (nz * LOG_2PI + logvar.sum(-1)).unsqueeze(0))
    log_qz = torch.logsumexp(log_density, dim=1) - math.log(batch)
    return float(neg_entropy - log_qz.mean())


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    """Number of latent dims whose posterior mean varies over the data: Cov_x(E[z|x]) > threshold."""
    var = mu.double().var(dim=0, unbiased=True) if mu.shape[0] > 1 else torch.zeros(mu.shape[1])
    return int((var > threshold).sum()), var


def slerp(a: torch.Tensor, b: torch.Tensor, alpha: float) -> torch.Tensor:
    """Spherical interpolation between latent vectors (rows), linear when they are parallel."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((an * bn).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    lin = (1 - alpha) * a + alpha * b
    sph = (torch.sin((1 - alpha) * omega) / so) * a + (torch.sin(alpha * omega) / so) * b
    return torch.where(so.abs() < 1e-6, lin, sph)


# --------------------------------------------------------------------------- tokens

def token_accuracy(pred: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor,
                   mask: np.ndarray | torch.Tensor | None = None) -> float:
    """Fraction of positions where ``pred == target``; a step of a multi-field token (dT, T, P)
    counts as right only when every field is right. ``mask`` marks the positions that count."""
    pred, target = np.asarray(pred), np.asarray(target)
    equal = pred == target
    if equal.ndim == 3:   # [B, T, fields] -> all fields right
        equal = equal.all(-1)
    if mask is None:
        return float(equal.mean()) if equal.size else 0.0
    mask = np.asarray(mask, dtype=bool)
    return float(equal[mask].mean()) if mask.any() else 0.0


def hamming(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised Hamming distance between two equally long token arrays (0 = identical)."""
    a, b = np.asarray(a), np.asarray(b)
    diff = a != b
    if diff.ndim == 2:
        diff = diff.any(-1)
    return float(diff.mean())


def interpolation_curve(paths: Sequence[Sequence[np.ndarray]],
                        ends: Sequence[tuple[np.ndarray, np.ndarray]] | None = None
                        ) -> dict[str, list[float]]:
    """Average Hamming distance to each endpoint along interpolation paths (Wang et al. 2019, Fig. 2).

    ``paths[i][k]`` is the decoded token array at the k-th point of pair i's path.
    ``ends[i] = (A, B)`` are the data points the path runs between (default: the path's first
    and last decodings). Returns ``alpha``, ``to_a`` and ``to_b`` (means over pairs); a smooth
    latent space gives a steadily rising ``to_a`` and a falling ``to_b``.
    """
    steps = len(paths[0])
    to_a = np.zeros(steps)
    to_b = np.zeros(steps)
    for i, path in enumerate(paths):
        a, b = ends[i] if ends is not None else (path[0], path[-1])
        to_a += [hamming(p, a) for p in path]
        to_b += [hamming(p, b) for p in path]
    n = len(paths)
    return {"alpha": [float(v) for v in np.linspace(0, 1, steps)],
            "to_a": [float(v) for v in to_a / n], "to_b": [float(v) for v in to_b / n]}


def smoothness(curve: Sequence[float]) -> float:
    """Mean absolute second difference of a curve: 0 for a straight line, larger when jumpy."""
    c = np.asarray(curve, dtype=float)
    return float(np.abs(np.diff(c, 2)).mean()) if len(c) > 2 else 0.0


# --------------------------------------------------------------------------- mgeval statistics

NOTE_LENGTH_BINS = np.array([4.0, 3.0, 2.0, 1.5, 1.0, 0.75, 0.5, 0.375, 0.25, 0.125,
                             2 / 3, 1 / 3])  # beats: mgeval's 12 classes incl. dotted, triplets


def clip_features(clips: Sequence[Clip], drums: bool = False) -> dict[str, np.ndarray]:
    """mgeval-style features per clip (pitched notes only; ``drums=True``: drum notes only, and
    only the features that mean something for drums, ``avg_ioi`` and ``pitch_count``, the
    number of distinct drum instruments).

    - ``pitch_class_histogram`` [N, 12]: normalised counts of pitch classes
    - ``pitch_range`` [N, 1]: highest minus lowest pitch (semitones)
    - ``note_length_histogram`` [N, 12]: durations snapped to the nearest of NOTE_LENGTH_BINS
    - ``avg_ioi`` [N, 1]: mean inter-onset interval between distinct onsets, in beats
    - ``pitch_count`` [N, 1]: number of distinct pitches used
    """
    pch, rng, nlh, ioi, pc = [], [], [], [], []
    for clip in clips:
        notes = [n for n in clip.notes if n.is_drum == drums]
        pitches = np.array([n.pitch for n in notes], dtype=int)
        h = np.bincount(pitches % 12, minlength=12).astype(float) if len(notes) else np.zeros(12)
        pch.append(h / max(h.sum(), 1.0))
        rng.append([float(pitches.max() - pitches.min()) if len(notes) else 0.0])
        lh = np.zeros(len(NOTE_LENGTH_BINS))
        for n in notes:
            lh[np.abs(NOTE_LENGTH_BINS - n.duration).argmin()] += 1
        nlh.append(lh / max(lh.sum(), 1.0))
        onsets = np.unique([round(n.start, 6) for n in notes])
        ioi.append([float(np.diff(onsets).mean()) if len(onsets) > 1 else 0.0])
        pc.append([float(len(set(pitches.tolist())))])
    if drums:
        return {"avg_ioi": np.array(ioi).reshape(-1, 1), "pitch_count": np.array(pc).reshape(-1, 1)}
    return {"pitch_class_histogram": np.array(pch).reshape(-1, 12),
            "pitch_range": np.array(rng).reshape(-1, 1),
            "note_length_histogram": np.array(nlh).reshape(-1, len(NOTE_LENGTH_BINS)),
            "avg_ioi": np.array(ioi).reshape(-1, 1),
            "pitch_count": np.array(pc).reshape(-1, 1)}


def _pairwise(a: np.ndarray, b: np.ndarray, same: bool) -> np.ndarray:
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    if same:  # drop the diagonal (distance of a sample to itself)
        d = d[~np.eye(len(a), dtype=bool)]
    return d.ravel()


def _kde(values: np.ndarray):
    from scipy.stats import gaussian_kde
    values = np.asarray(values, dtype=float)
    if values.std() < 1e-9:  # degenerate set: jitter so the KDE is defined
        values = values + np.random.default_rng(0).normal(0, 1e-3, size=values.shape)
    return gaussian_kde(values)


def distribution_kl_and_overlap(p_values: np.ndarray, q_values: np.ndarray,
                                points: int = 1000) -> tuple[float, float]:
    """KL(P || Q) and overlapping area of two 1-D distance distributions (Gaussian KDEs)."""
    lo = min(p_values.min(), q_values.min())
    hi = max(p_values.max(), q_values.max())
    pad = 0.1 * (hi - lo) + 1e-6
    x = np.linspace(lo - pad, hi + pad, points)
    p, q = _kde(p_values)(x), _kde(q_values)(x)
    dx = x[1] - x[0]
    p, q = p / (p.sum() * dx), q / (q.sum() * dx)
    eps = 1e-10
    kl = float(np.sum(p * np.log((p + eps) / (q + eps))) * dx)
    overlap = float(np.minimum(p, q).sum() * dx)
    return kl, overlap


def compare_sets(reference: Sequence[Clip], generated: Sequence[Clip]) -> dict[str, dict]:
    """mgeval's absolute and relative measures of a generated set against a reference set.

    For each feature: mean/std of the feature in both sets, the mean intra-set distance of the
    reference and of the generated set, the mean inter-set distance, and KL / overlap area
    between the reference's intra-set distance distribution and the inter-set distribution
    (overlap 1 and KL 0 mean the samples are distributed like the data).
    """
    # a drum model's clips have no pitched note: compare their rhythm instead of zeros
    drums = not any(not n.is_drum for c in reference for n in c.notes) and \
        any(c.notes for c in reference)
    ref, gen = clip_features(reference, drums), clip_features(generated, drums)
    out = {}
    for name in ref:
        a, b = ref[name], gen[name]
        intra_ref, intra_gen = _pairwise(a, a, True), _pairwise(b, b, True)
        inter = _pairwise(a, b, False)
        kl, overlap = distribution_kl_and_overlap(intra_ref, inter)
        out[name] = {"reference_mean": float(a.mean()), "generated_mean": float(b.mean()),
                     "intra_reference": float(intra_ref.mean()),
                     "intra_generated": float(intra_gen.mean()),
                     "inter": float(inter.mean()), "kl": kl, "overlap": overlap}
    return out
