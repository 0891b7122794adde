"""MuseBar (IDA 2022): bar-wise KL regularisation of a recurrent VAE, and its piano-roll LSTM VAE.

Bar-wise KL is a flag usable on any recurrent VAE whose encoder exposes its per-step hidden
states: the Gaussian prior is imposed on the posterior read from the encoder state at the end of
every k bars, not only on the last one, and the KL term is the mean of those divergences
(paper eq. 2). z for the decoder still comes from the last state::

    >>> from training.models.musebar import barwise_kl
    >>> kl = barwise_kl(hidden, to_params, steps_per_bar=16, every_bars=1)   # [B], nats
    >>> # hidden: encoder states [B, T, H]; to_params(h[..., H]) -> (mu, logvar), the same
    >>> # projection used for the final state

The paper's model: a 2-layer LSTM encoder and a 2-layer LSTM decoder over 128-pitch piano
rolls (codec ``pianoroll``), sigmoid outputs with binary cross-entropy, z both initialises the
decoder and is concatenated to its input at every step::

    >>> from training.models.musebar import MuseBarVAE, MuseBarConfig
    >>> model = MuseBarVAE(MuseBarConfig(hidden_size=64, z_size=16, barwise_every=2))
    >>> loss, metrics = model.loss({"inputs": rolls}, step=0)   # rolls float [B, T, 128]

``barwise_every=0`` is the vanilla LSTM-VAE of the paper; ``kl_anneal_steps > 0`` adds
Bowman's weight annealing (VAE-BOW / MuseBar-BOW).

Step functions (the usual LSTM contract of docs/internals.md, ``sample`` uses them):

- ``encode(rolls[B,T,P] float, lengths=None) -> (mu[B,Z], sigma[B,Z])``
- ``decoder_init(z[B,Z]) -> (h[L,B,H], c[L,B,H])``
- ``decoder_step(prev[B,P] float, z[B,Z], state) -> (logits[B,P], state)``; prev = the previous
  frame (zeros at step 0), P = pitches; probabilities are ``sigmoid(logits)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F


from training.metrics import gaussian_kl

from . import register_model
from .base import LstmVAEParts, Model, ModelConfig, free_bits_kl
from .modular import batch_tokens
from .musicvae import MusicVAE, MusicVAEConfig


def bar_ends(steps: int, steps_per_bar: int, every_bars: int) -> list[int]:
    """Step indices (0-based) of the encoder states that are regularised: the last step of
    every ``every_bars`` bars, plus the final step."""
    span = max(1, steps_per_bar * every_bars)
    ends = list(range(span - 1, steps, span))
    if not ends or ends[-1] != steps - 1:
        ends.append(steps - 1)
    return ends


def barwise_kl(hidden: torch.Tensor,
               to_params: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
               steps_per_bar: int, every_bars: int = 1,
               lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Mean KL(q(z_t | x_1:t) || N(0, I)) over the bar-end states: tensor [B] in nats.

    ``hidden`` holds the encoder's state after every step ``[B, T, H]``; ``to_params`` maps
    states to (mu, logvar). With ``lengths``, bar ends beyond a sequence's length are ignored.
    """
    ends = bar_ends(hidden.shape[1], steps_per_bar, every_bars)
    mu, logvar = to_params(hidden[:, ends])                      # [B, K, Z]
    kl = gaussian_kl(mu, logvar)                                 # [B, K]
    if lengths is None:
        return kl.mean(-1)
    valid = torch.tensor(ends, device=hidden.device)[None] < lengths[:, None]
    return (kl * valid).sum(-1) / valid.sum(-1).clamp(min=1)


@dataclass
class MuseBarConfig(ModelConfig):
    """``input_depth`` = piano-roll width (128, from the codec); ``max_seq_len`` = frames."""

    kind: str = "musebar"
    z_size: int = 100          # paper: 100
    input_depth: int = 128
    output_depths: list[int] = field(default_factory=lambda: [128])
    max_seq_len: int = 64
    hidden_size: int = 512     # paper: 512, 2 layers, encoder and decoder
    layers: int = 2
    steps_per_bar: int = 4     # paper: 4 steps per 4/4 bar
    barwise_every: int = 2     # regularise every k bars (paper's best: 2); 0 = vanilla LSTM-VAE
    kl_schedule: str = "constant"  # "linear"/"sigmoid" = Bowman's annealing (the -BOW variants)


@register_model("musebar")
class MuseBarVAE(LstmVAEParts, Model):
    config_class = MuseBarConfig

    def __init__(self, config: MuseBarConfig):
        super().__init__(config)
        c = config
        P = c.input_depth
        self.encoder = nn.LSTM(P, c.hidden_size, c.layers, batch_first=True)
        self.enc_mu = nn.Linear(c.hidden_size, c.z_size)
        self.enc_logvar = nn.Linear(c.hidden_size, c.z_size)
        self.dec_init = nn.Linear(c.z_size, 2 * c.layers * c.hidden_size)
        self.decoder = nn.LSTM(P + c.z_size, c.hidden_size, c.layers, batch_first=True)
        self.out = nn.Linear(c.hidden_size, P)

    def to_params(self, h: torch.Tensor):
        return self.enc_mu(h), self.enc_logvar(h)

    def encoder_states(self, rolls: torch.Tensor) -> torch.Tensor:
        """Top-layer encoder state after every frame: [B, T, H] (the bar-wise KL hook)."""
        out, _ = self.encoder(rolls)
        return out

    def posterior(self, batch):
        """(mu, logvar) for rolls [B, T, P] (or a batch: its ``inputs``)."""
        rolls = batch_tokens(batch, "inputs")
        return self.to_params(self.encoder_states(rolls.float())[:, -1])

    def teacher_forced(self, rolls: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        prev = torch.cat([torch.zeros_like(rolls[:, :1]), rolls[:, :-1]], 1)
        zz = z[:, None].expand(-1, rolls.shape[1], -1)
        out, _ = self.decoder(torch.cat([prev, zz], -1), self.decoder_init(z))
        return self.out(out)

    def decoder_step(self, prev: torch.Tensor, z: torch.Tensor, state):
        out, state = self.decoder(torch.cat([prev, z], -1)[:, None], state)
        return self.out(out[:, 0]), state

    @torch.no_grad()
    def sample(self, z: torch.Tensor, steps: int | None = None, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Frames from z, float [B, steps, P]; ``temperature=0`` thresholds at p = 0.5."""
        state = self.decoder_init(z)
        prev = torch.zeros(z.shape[0], self.config.input_depth, device=z.device)
        frames = []
        for _ in range(steps or self.config.max_seq_len):
            logits, state = self.decoder_step(prev, z, state)
            if temperature <= 0:
                prev = (logits > 0).float()
            else:
                probs = torch.sigmoid(logits / temperature)
                prev = torch.bernoulli(probs, generator=generator)
            frames.append(prev)
        return torch.stack(frames, 1)

    # evaluation interface
    def generate(self, z, length, temperature=0.0, generator=None):
        return self.sample(z, length, temperature, generator).long()

    @torch.no_grad()
    def predict_next(self, batch, z):
        return (self.teacher_forced(batch_tokens(batch, "inputs").float(), z) > 0).long()

    def loss(self, batch, step: int = 0):
        c = self.config
        rolls = batch_tokens(batch, "inputs" if isinstance(batch, dict) else "tokens").float()
        hidden = self.encoder_states(rolls)
        mu, logvar = self.to_params(hidden[:, -1])
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu) if self.training else mu
        logits = self.teacher_forced(rolls, z)
        bce = F.binary_cross_entropy_with_logits(logits, rolls, reduction="sum") / rolls.shape[0]
        kl_last = gaussian_kl(mu, logvar)                            # [B]
        if c.barwise_every > 0:
            kl_reg = barwise_kl(hidden, self.to_params, c.steps_per_bar, c.barwise_every)
        else:
            kl_reg = kl_last
        beta = self.beta(step)
        loss = bce + beta * free_bits_kl(kl_reg, c.free_bits).mean()
        with torch.no_grad():
            acc = ((logits > 0).float() == rolls).all(-1).float().mean()
        return loss, {"loss": loss.item(), "recon": bce.item(), "kl": kl_last.mean().item(),
                      "kl_barwise": kl_reg.mean().item(), "beta": beta, "accuracy": acc.item()}


# --------------------------------------------------------------------------- the flag on MusicVAE

@dataclass
class BarwiseMusicVAEConfig(MusicVAEConfig):
    kind: str = "musicvae_barwise"
    steps_per_bar: int = 16
    barwise_every: int = 1     # 0 = plain MusicVAE


@register_model("musicvae_barwise")
class BarwiseMusicVAE(MusicVAE):
    """MusicVAE plus MuseBar's bar-wise KL on its encoder's per-step states (``encode_steps``).

    The bidirectional encoder's state at step t is [forward h_t; backward h_t]; the posterior read
    from it with the model's own mu/sigma layers is pulled to the prior at every k-th bar end,
    and this mean KL is added (times beta) to MusicVAE's usual loss. Everything else, including
    the step functions and the export, is MusicVAE's.
    """

    config_class = BarwiseMusicVAEConfig

    def to_params(self, h: torch.Tensor):
        sigma = F.softplus(self.sigma(h))
        return self.mu(h), 2.0 * torch.log(sigma.clamp(min=1e-8))

    def loss(self, batch, step: int):
        loss, metrics = super().loss(batch, step)
        c = self.config
        if c.barwise_every > 0:
            hidden = self.encode_steps(batch["inputs"], batch["lengths"])
            kl_bar = barwise_kl(hidden, self.to_params, c.steps_per_bar, c.barwise_every,
                                batch["lengths"].to(hidden.device)).mean()
            loss = loss + metrics["beta"] * kl_bar
            metrics.update(loss=loss.item(), kl_barwise=kl_bar.item())
        return loss, metrics
