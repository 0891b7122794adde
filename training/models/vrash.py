"""VRASH (Tikhonov & Yamshchikov 2017): variational recurrent autoencoder supported by history,
on monophonic notes.

Every note is (pitch class or rest, octave, duration index) (codec ``pod``), each field with its
own embedding; a note's input is the concatenation of the three embeddings. The encoder LSTM
reads the notes and gives mu and sigma. The decoder LSTM is started from z and reads z at every
step; VRASH also feeds it its own history, the previous note's embeddings ("it listens to the
notes it has composed already"). ``history=False`` is the paper's plain VRAE, whose decoder
reconstructs from z alone; the LSTM language model of the paper is ``baselines.MelodyLM``.

Usage::

    >>> from training.models.vrash import VRASH, VRASHConfig
    >>> model = VRASH(VRASHConfig(output_depths=[13, 8, 16], hidden_size=64))
    >>> loss, metrics = model.loss({"tokens": tokens}, step=0)     # tokens int64 [B, N, 3]
    >>> notes = model.sample(torch.randn(4, model.config.z_size), notes=32)

Step functions (``sample`` uses exactly these):

- ``encode(tokens[B,N,3] int64, lengths=None) -> (mu[B,Z], sigma[B,Z])``
- ``decoder_init(z[B,Z]) -> (h[L,B,H], c[L,B,H])``
- ``decoder_step(prev[B,3] int64, z[B,Z], state) -> (logits[B, pc+octave+dur], state)``;
  ``prev`` is the previous note, ``start_note(B)`` = the field sizes at step 0
  (the extra "start" row of each table); the logits are the three fields' logits concatenated,
  split them with ``config.field_sizes``. Without history, ``prev`` is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from training.metrics import gaussian_kl

from . import register_model
from .base import LstmVAEParts, Model, ModelConfig, free_bits_kl
from .modular import _pick, batch_tokens


@dataclass
class VRASHConfig(ModelConfig):
    """``output_depths`` = the pod codec's field sizes [pitch class/rest, octave, duration]."""

    kind: str = "vrash"
    z_size: int = 16           # paper: 16-dimensional latent vectors
    max_seq_len: int = 32      # notes per window
    embed_size: int = 32       # per field
    hidden_size: int = 256
    layers: int = 1
    history: bool = True       # False: plain VRAE (decoder sees only z)
    kl_schedule: str = "linear"
    kl_anneal_steps: int = 1000

    @property
    def field_sizes(self) -> tuple[int, int, int]:
        if len(self.output_depths) != 3:
            raise ValueError("model.output_depths must be the three field sizes of the pod codec, "
                             f"got {self.output_depths}")
        return tuple(int(d) for d in self.output_depths)


@register_model("vrash")
class VRASH(LstmVAEParts, Model):
    config_class = VRASHConfig

    def __init__(self, config: VRASHConfig):
        super().__init__(config)
        c = config
        E, H, Z = c.embed_size, c.hidden_size, c.z_size
        self.embeds = nn.ModuleList(nn.Embedding(n + 1, E) for n in c.field_sizes)
        self.encoder = nn.LSTM(3 * E, H, c.layers, batch_first=True)
        self.enc_mu = nn.Linear(H, Z)
        self.enc_logvar = nn.Linear(H, Z)
        self.dec_init = nn.Linear(Z, 2 * c.layers * H)
        self.decoder = nn.LSTM(Z + (3 * E if c.history else 0), H, c.layers, batch_first=True)
        self.out = nn.Linear(H, sum(c.field_sizes))

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.cat([emb(tokens[..., i]) for i, emb in enumerate(self.embeds)], -1)

    def posterior(self, batch):
        """(mu, logvar) for notes [B, N, 3] (or a batch with ``tokens``)."""
        _, (h, _) = self.encoder(self.embed(batch_tokens(batch)))
        return self.enc_mu(h[-1]), self.enc_logvar(h[-1])

    def start_note(self, batch: int, device=None) -> torch.Tensor:
        return torch.tensor([self.config.field_sizes], device=device).expand(batch, 3)

    def _decoder_input(self, prev: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        zz = z[:, None].expand(-1, prev.shape[1], -1)
        return torch.cat([zz, self.embed(prev)], -1) if self.config.history else zz

    def teacher_forced(self, tokens: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Concatenated field logits [B, N, sum(field_sizes)] given the true history."""
        prev = torch.cat([self.start_note(tokens.shape[0], tokens.device)[:, None],
                          tokens[:, :-1]], 1)
        out, _ = self.decoder(self._decoder_input(prev, z), self.decoder_init(z))
        return self.out(out)

    def decoder_step(self, prev: torch.Tensor, z: torch.Tensor, state):
        out, state = self.decoder(self._decoder_input(prev[:, None], z), state)
        return self.out(out[:, 0]), state

    def split(self, logits: torch.Tensor):
        return logits.split(list(self.config.field_sizes), -1)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, notes: int | None = None, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Notes int64 [B, notes, 3] from z; ``temperature=0`` is greedy."""
        state = self.decoder_init(z)
        prev = self.start_note(z.shape[0], z.device)
        out = []
        for _ in range(notes or self.config.max_seq_len):
            logits, state = self.decoder_step(prev, z, state)
            prev = torch.stack([_pick(part, temperature, generator)
                                for part in self.split(logits)], -1)
            out.append(prev)
        return torch.stack(out, 1)

    # evaluation interface
    def generate(self, z, length, temperature=0.0, generator=None):
        return self.sample(z, length, temperature, generator)

    @torch.no_grad()
    def predict_next(self, batch, z):
        logits = self.teacher_forced(batch_tokens(batch), z)
        return torch.stack([part.argmax(-1) for part in self.split(logits)], -1)

    def loss(self, batch, step: int = 0):
        c = self.config
        tokens = batch_tokens(batch).long()
        mu, logvar = self.posterior(tokens)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu) if self.training else mu
        parts = self.split(self.teacher_forced(tokens, z))
        B = tokens.shape[0]
        recs = [F.cross_entropy(p.reshape(-1, p.shape[-1]), tokens[..., i].reshape(-1),
                                reduction="sum") / B for i, p in enumerate(parts)]
        rec = sum(recs)
        kl = gaussian_kl(mu, logvar).mean()
        beta = self.beta(step)
        loss = rec + beta * free_bits_kl(gaussian_kl(mu, logvar), c.free_bits).mean()
        with torch.no_grad():
            pred = torch.stack([p.argmax(-1) for p in parts], -1)
            acc = (pred == tokens).all(-1).float().mean()
        n = tokens.shape[1] * 3
        return loss, {"loss": loss.item(), "recon": rec.item(), "kl": kl.item(), "beta": beta,
                      "xent_per_field": rec.item() / n, "accuracy": acc.item()}
