"""Baselines of the papers, built from MusicVAE's parts: a decoder-only LM and a plain autoencoder.

- ``lm`` (MusicVAE Table 1 "Baseline", VRASH's LSTM language model, Wang et al.'s BachProp idea):
  MusicVAE's decoder alone, conditioned on a constant zero vector, so nothing about the sequence
  reaches it except its own history. "Reconstruction" from it is just a sample of the LM.
- ``ae`` (Wang et al.'s modularized autoencoder, MuseBar's AE): MusicVAE with z = mu, no noise and
  no KL term, so the latent space is not pulled towards the prior.

Both keep MusicVAE's step functions (``decoder_init``/``decoder_step``/``sample``), so export and
the runtime treat them as any flat MusicVAE; for ``lm`` the condition is always zeros::

    >>> from training.configs import get_config
    >>> from training.models import build_model
    >>> cfg = get_config("lb-mel_2bar_lm").model
    >>> cfg.input_depth, cfg.output_depths = 90, [90]
    >>> lm = build_model(cfg)
    >>> loss, metrics = lm({"inputs": x, "tokens": tokens, "lengths": lengths}, step=0)
    >>> melodies = lm.sample(torch.zeros(4, cfg.z_size), temperature=1.0)

Scheduled sampling (``sampling_schedule``/``sampling_rate``) works as in MusicVAE.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import register_model
from .musicvae import MusicVAE, MusicVAEConfig


@dataclass
class MelodyLMConfig(MusicVAEConfig):
    kind: str = "lm"
    z_size: int = 1            # the (always zero) condition; kept so the step interface holds
    #: the encoder is never used; one unit keeps MusicVAE's constructor happy
    enc_rnn_size: list[int] = field(default_factory=lambda: [1])


@dataclass
class MelodyAEConfig(MusicVAEConfig):
    kind: str = "ae"


def _masked_recon(model: MusicVAE, logits, tokens, lengths):
    """MusicVAE's reconstruction term: cross-entropy summed over steps and parts, per example,
    and the token accuracy over valid steps."""
    steps = tokens.shape[1]
    mask = (torch.arange(steps, device=tokens.device)[None]
            < lengths.to(tokens.device)[:, None]).float()
    recon = torch.zeros_like(mask)
    correct = torch.zeros_like(mask)
    for k, part in enumerate(logits.split(model.part_depths, -1)):
        recon = recon + F.cross_entropy(part.transpose(1, 2), tokens[..., k], reduction="none")
        correct = correct + (part.argmax(-1) == tokens[..., k]).float()
    accuracy = (correct * mask).sum() / (mask.sum() * len(model.part_depths)).clamp(min=1)
    return (recon * mask).sum(1), accuracy


class _Deterministic(MusicVAE):
    """Shared loss: decode from a deterministic condition, no KL."""

    def condition(self, inputs, lengths) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, batch, step: int):
        inputs, tokens, lengths = batch["inputs"], batch["tokens"], batch["lengths"]
        if tokens.dim() == 2:
            tokens = tokens.unsqueeze(-1)
        z = self.condition(inputs, lengths)
        prev = F.pad(self.one_hot(tokens)[:, :-1], (0, 0, 1, 0))
        probability = self.sampling_probability(step)
        if probability > 0:
            logits = self.decode_scheduled(z, prev, probability)
        else:
            logits = self.decode_teacher_forced(z, prev)
        recon, accuracy = _masked_recon(self, logits, tokens, lengths)
        loss = recon.mean()
        return loss, {"loss": loss.item(), "recon": loss.item(), "kl": 0.0,
                      "sampling_prob": probability, "accuracy": accuracy.item()}


@register_model("lm")
class MelodyLM(_Deterministic):
    """Decoder-only LSTM language model (no z): ``encode`` returns mu = 0, sigma = 1."""

    config_class = MelodyLMConfig

    def condition(self, inputs, lengths):
        return inputs.new_zeros(inputs.shape[0], self.config.z_size)

    def encode(self, inputs, lengths):
        zeros = self.condition(inputs, lengths)
        return zeros, torch.ones_like(zeros)


@register_model("ae")
class MelodyAE(_Deterministic):
    """Plain autoencoder: z = mu, no sampling, no KL (``encode``'s sigma is reported but unused)."""

    config_class = MelodyAEConfig

    def condition(self, inputs, lengths):
        return self.encode(inputs, lengths)[0]
