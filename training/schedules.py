"""Schedules of training: KL weight (beta), scheduled-sampling probability, learning rate.

All are plain functions of the global step, so a resumed run continues exactly::

    >>> from training import schedules
    >>> schedules.kl_beta(0, "magenta", max_beta=0.2, beta_rate=0.99999)
    0.0
    >>> round(schedules.sampling_probability(1000, "inverse_sigmoid", rate=1000), 4)
    0.0027
    >>> schedules.learning_rate(0, 1e-3, 1e-5, 0.9999)
    0.001

Magenta's formulas (magenta/models/music_vae/base_model.py, lstm_utils.py):
beta = max_beta * (1 - beta_rate ** step); inverse sigmoid p = 1 - k / (k + exp(step / k));
lr = (lr0 - lr_min) * decay_rate ** step + lr_min.
"""

from __future__ import annotations

import math

KL_SCHEDULES = ("magenta", "linear", "sigmoid", "constant")
SAMPLING_SCHEDULES = ("constant", "inverse_sigmoid", "exponential")


def kl_beta(step: int, schedule: str, max_beta: float, beta_rate: float = 0.0,
            anneal_steps: int = 10000) -> float:
    """Weight of the KL term at ``step``.

    ``magenta``: ``max_beta * (1 - beta_rate ** step)`` (beta_rate 0 gives 0 at step 0, then max);
    ``linear``: Bowman et al.'s linear warm-up from 0 to max_beta over ``anneal_steps``;
    ``sigmoid``: Bowman et al.'s logistic warm-up, half of max_beta at ``anneal_steps / 2``;
    ``constant``: max_beta.
    """
    if schedule == "magenta":
        return max_beta * (1.0 - beta_rate ** step)
    if schedule == "linear":
        return max_beta * min(1.0, step / max(1, anneal_steps))
    if schedule == "sigmoid":
        x = 10.0 * (step / max(1, anneal_steps) - 0.5)
        return max_beta / (1.0 + math.exp(-x))
    if schedule == "constant":
        return max_beta
    raise ValueError(f"unknown KL schedule {schedule!r} (known: {', '.join(KL_SCHEDULES)})")


def sampling_probability(step: int, schedule: str, rate: float) -> float:
    """Probability of feeding the model its own sample instead of the ground truth (per example
    and step), as Magenta's ``get_sampling_probability``; ``constant`` with rate 0 = teacher forcing.
    """
    if schedule == "constant" or not schedule:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"constant sampling rate must be in [0, 1], got {rate}")
        return float(rate)
    if schedule == "inverse_sigmoid":
        if rate < 1.0:
            raise ValueError(f"inverse_sigmoid sampling rate must be at least 1, got {rate}")
        exponent = min(step / rate, 700.0)  # exp overflows past ~709
        return 1.0 - rate / (rate + math.exp(exponent))
    if schedule == "exponential":
        if not 0.0 < rate < 1.0:
            raise ValueError(f"exponential sampling rate must be in (0, 1), got {rate}")
        return 1.0 - rate ** step
    raise ValueError(f"unknown sampling schedule {schedule!r} "
                     f"(known: {', '.join(SAMPLING_SCHEDULES)})")


def learning_rate(step: int, initial: float, minimum: float, decay_rate: float) -> float:
    """Magenta's exponential decay from ``initial`` towards ``minimum``."""
    return (initial - minimum) * decay_rate ** step + minimum
