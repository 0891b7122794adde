"""What every latentbridge model shares: the config base class, the model base class, the KL math.

A model is an ``nn.Module`` built from a config dataclass. The training loop only ever calls
``model(batch, step)`` (which is ``model.loss(batch, step)``) and gets ``(loss, metrics)`` back::

    >>> from training.configs import get_config
    >>> from training.models import build_model
    >>> cfg = get_config("lb-mel_2bar")
    >>> cfg.model.input_depth, cfg.model.output_depths = 90, [90]   # train.py fills these from the codec
    >>> model = build_model(cfg.model)
    >>> loss, metrics = model(batch, step=0)       # batch = training.data.Batch fields as a dict

To add a model kind, subclass :class:`ModelConfig` and :class:`Model` and register the pair with
:func:`training.models.register_model` (see docs/training.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from .. import schedules


@dataclass
class ModelConfig:
    """Fields every VAE config has. ``input_depth``/``output_depths``/``max_seq_len`` are filled
    from the dataset's codec and window by ``training.train`` (0/[] mean "not known yet")."""

    kind: str = ""
    z_size: int = 256
    input_depth: int = 0
    output_depths: list[int] = field(default_factory=list)
    max_seq_len: int = 0
    # KL term: loss = recon + beta(step) * max(kl - free_bits * ln 2, 0)   (Magenta's base_model)
    free_bits: float = 0.0
    max_beta: float = 1.0
    beta_rate: float = 0.0
    #: "magenta" = max_beta * (1 - beta_rate ** step); "linear" / "sigmoid" = Bowman et al.
    #: annealing from 0 to max_beta over ``kl_anneal_steps``; "constant" = max_beta
    kl_schedule: str = "magenta"
    kl_anneal_steps: int = 10000
    #: scheduled sampling (Magenta's lstm_utils.get_sampling_probability)
    sampling_schedule: str = "constant"
    sampling_rate: float = 0.0
    #: word dropout (Bowman et al. 2016, "Generating Sentences from a Continuous Space"): while
    #: training, each previous token the decoder reads is replaced by "nothing" with this
    #: probability, so the decoder has to take what it cannot read from z (against a decoder
    #: that ignores z); sampling and the exported step graphs are unchanged
    word_dropout: float = 0.0


class Model(nn.Module):
    """Base class, and the one interface training, evaluation and export use. ``batch`` is a
    dict as training.data yields (``tokens``, ``inputs``, ``lengths``, ``targets`` for
    continuous outputs); each model reads what it needs from it.

    - training: ``loss(batch, step) -> (loss, metrics)``; ``forward(batch, step)`` is ``loss``
      so DDP's hooks see the call;
    - evaluation (training.evaluate, training.samples): ``posterior(batch) -> (mu, logvar)``,
      ``predict_next(batch, z)`` (teacher-forced argmax tokens like ``batch["tokens"]``) and
      ``generate(z, length, temperature, generator)`` (free-running tokens; a continuous
      decoder's values, which its decoding kind's ``to_tokens`` rounds);
    - export (training.export): ``decoding_kind`` names the bundle kind (a key of
      ``runtime.decoding.DECODINGS``; None: nothing to export), whose graphs are cut from the
      model's step functions of the same names; ``encode(inputs, lengths) -> (mu, sigma)``;
      ``decoding_fields()``, the model's entries in model.json's ``decoding``; ``generate`` at
      temperature 0, written with those step functions, is the rollout the runtime reproduces::

        >>> model.decoding_kind, [g.key for g in decoding_for(model.decoding_kind).graphs]
        ('flat', ['encoder', 'decoder_init', 'decoder_step'])
    """

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    #: the kind of bundle training.export writes for this model (runtime/decoding.py)
    decoding_kind: str | None = None

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    def loss(self, batch: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def forward(self, batch: dict[str, torch.Tensor], step: int = 0):
        return self.loss(batch, step)

    # -- evaluation and export -----------------------------------------------------------------
    def posterior(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) of a batch as (mu, log variance); by default from ``encode(inputs, lengths)``."""
        mu, sigma = self.encode(batch["inputs"], batch["lengths"])
        return mu, 2.0 * torch.log(sigma.clamp(min=1e-12))

    def predict_next(self, batch, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced argmax prediction of every step (note, frame) of the batch's tokens."""
        raise NotImplementedError

    def generate(self, z: torch.Tensor, length: int, temperature: float = 0.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Free-running decoding of ``length`` steps (or notes) from z [B, Z]."""
        raise NotImplementedError

    def decoding_fields(self) -> dict:
        """What model.json's ``decoding`` block needs from this model (besides its kind's)."""
        return {}

    # -- shared pieces of a VAE loss -----------------------------------------------------------
    def beta(self, step: int) -> float:
        c = self.config
        return schedules.kl_beta(step, c.kl_schedule, c.max_beta, c.beta_rate, c.kl_anneal_steps)

    def sampling_probability(self, step: int) -> float:
        """Scheduled-sampling probability; 0 outside training (evaluation is teacher-forced)."""
        if not self.training:
            return 0.0
        c = self.config
        return schedules.sampling_probability(step, c.sampling_schedule, c.sampling_rate)


class LstmVAEParts:
    """Pieces shared by the simple LSTM VAEs (MuseBar's piano-roll VAE, VRASH): the posterior
    read as (mu, log variance), and a decoder state ``(h, c)`` of shape [layers, B, hidden]
    initialised from ``tanh(dec_init(z))``. Needs ``config.layers``, ``config.hidden_size``,
    ``self.dec_init`` and a ``posterior(x) -> (mu, logvar)`` method."""

    def encode(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        mu, logvar = self.posterior(x)
        return mu, (0.5 * logvar).exp()

    def decoder_init(self, z: torch.Tensor):
        L, H = self.config.layers, self.config.hidden_size
        h = torch.tanh(self.dec_init(z)).view(-1, 2, L, H).permute(1, 2, 0, 3)
        return h[0].contiguous(), h[1].contiguous()


def gaussian_kl(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) in nats, summed over the last axis."""
    return 0.5 * torch.sum(mu.square() + sigma.square() - 1.0 - 2.0 * torch.log(sigma), dim=-1)


def free_bits_kl(kl: torch.Tensor, free_bits: float) -> torch.Tensor:
    """Magenta's free bits on the total KL of each example: ``max(kl - free_bits * ln 2, 0)``."""
    return torch.clamp(kl - free_bits * math.log(2.0), min=0.0)
