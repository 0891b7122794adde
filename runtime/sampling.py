"""Sampling outside the graph: temperature, seeded numpy RNG, slerp (no torch).

The ONNX step graphs return logits; choosing a token from them happens here, in numpy, so that
temperature and seed are runtime choices and one exported bundle serves every setting::

    >>> import numpy as np
    >>> from runtime.sampling import make_rng, sample_categorical, slerp
    >>> rng = make_rng(7)                                  # same seed -> same tokens
    >>> logits = np.array([[2.0, 0.5, -1.0]], np.float32)
    >>> sample_categorical(logits, temperature=0.0, rng=rng)   # temperature 0 is argmax
    array([0])
    >>> z = slerp(np.ones(4), -np.ones(4) + 0.1, 0.5)         # great-circle path between codes
"""

from __future__ import annotations

import numpy as np

#: temperatures at or below this pick the most likely token (argmax), with no randomness
GREEDY_BELOW = 1e-6
#: up to this many logits per call, sample with Gumbel noise; above, through the inverse CDF
GUMBEL_MAX_SIZE = 256


def make_rng(seed: int | None) -> np.random.Generator:
    """A numpy Generator; ``None`` draws fresh entropy, an int gives a repeatable stream."""
    return np.random.default_rng(seed)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` in float64 (stable for large logits)."""
    x = np.asarray(logits, dtype=np.float64) / max(float(temperature), GREEDY_BELOW)
    x = x - x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def sample_categorical(logits: np.ndarray, temperature: float = 1.0,
                       rng: np.random.Generator | None = None) -> np.ndarray:
    """One class id per row of ``logits`` [B, C] -> int64 [B].

    Temperature 0 (or below ``GREEDY_BELOW``) is argmax. Otherwise an exact draw from
    ``softmax(logits / T)``, by whichever method is cheaper for the size (this runs once per
    decoder step): the Gumbel-max trick for small arrays, one uniform per row through the
    inverse CDF for large ones. A given seed and logits shape give the same tokens every time.
    """
    logits = np.asarray(logits)
    if temperature <= GREEDY_BELOW:
        return logits.argmax(axis=-1).astype(np.int64, copy=False)
    rng = rng if rng is not None else make_rng(None)
    if logits.size <= GUMBEL_MAX_SIZE:
        noisy = rng.gumbel(size=logits.shape)
        noisy += logits if temperature == 1.0 else logits / temperature  # x / 1.0 == x exactly
        return noisy.argmax(axis=-1).astype(np.int64, copy=False)
    x = logits.astype(np.float32) / np.float32(temperature)
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    cdf = np.cumsum(x, axis=-1)
    u = rng.random((x.shape[0], 1), dtype=np.float32) * cdf[:, -1:]
    return np.minimum((cdf < u).sum(axis=-1), x.shape[-1] - 1).astype(np.int64)


def sample_bernoulli(logits: np.ndarray, temperature: float = 1.0,
                     rng: np.random.Generator | None = None) -> np.ndarray:
    """Independent on/off per unit (multi-hot outputs such as a piano roll) -> uint8 [B, C]."""
    logits = np.asarray(logits, dtype=np.float64)
    if temperature <= GREEDY_BELOW:
        return (logits > 0).astype(np.uint8)
    rng = rng if rng is not None else make_rng(None)
    probs = 1.0 / (1.0 + np.exp(-logits / temperature))
    return (rng.random(probs.shape) < probs).astype(np.uint8)


def slerp(z0: np.ndarray, z1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation from ``z0`` (t=0) to ``z1`` (t=1), row-wise for [..., Z] arrays.

    Falls back to linear interpolation where the vectors are (nearly) parallel, antiparallel or
    zero: there the great circle is undefined (antiparallel) or numerically unstable (parallel),
    and the straight line is the sensible path in a Gaussian latent space.
    """
    z0 = np.asarray(z0, dtype=np.float64)
    z1 = np.asarray(z1, dtype=np.float64)
    n0 = np.linalg.norm(z0, axis=-1, keepdims=True)
    n1 = np.linalg.norm(z1, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(z0 * z1, axis=-1, keepdims=True) / (n0 * n1)
    cos = np.nan_to_num(cos, nan=1.0)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    sin = np.sin(omega)
    degenerate = (np.abs(sin) < 1e-6) | (n0 < 1e-12) | (n1 < 1e-12)
    safe_sin = np.where(degenerate, 1.0, sin)
    spherical = (np.sin((1.0 - t) * omega) * z0 + np.sin(t * omega) * z1) / safe_sin
    linear = (1.0 - t) * z0 + t * z1
    return np.where(degenerate, linear, spherical).astype(np.float32)
