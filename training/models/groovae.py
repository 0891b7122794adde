"""GrooVAE (Gillick et al. 2019): MusicVAE's encoder with a decoder of continuous drum outputs.

Per 16th step and drum class the decoder emits a hit logit, a velocity and a timing offset
(Magenta's ``GrooveLstmDecoder``, music_vae/lstm_models.py); the data is the groove codec's
(runtime/codecs/groove.py), whose input transform (humanize, tap) decides what the encoder reads::

    >>> from training.configs import get_config
    >>> from training.models import build_model
    >>> cfg = get_config("lb-groovae_2bar_humanize").model
    >>> cfg.input_depth, cfg.output_depths, cfg.max_seq_len = 27, [27], 32   # from the codec
    >>> model = build_model(cfg).eval()
    >>> mu, sigma = model.encode(inputs, lengths)          # inputs [B, 32, 27]: codec.to_input
    >>> values = model.sample(mu, temperature=0.0)         # float [B, 32, 27]
    >>> tokens = codec.from_output(values.numpy())         # int64 tokens, codec.decode -> clip
    >>> kept = model.sample(mu, 0.0, hits=hit_roll)        # the player's hits kept (Groove)

What follows Magenta:

- encoder, latent and decoder state as MusicVAE (``training/models/musicvae.py``, flat only);
- the decoder's ``prev`` input is the previous step's (hits, velocities, offsets) vector, 27 wide
  (zeros before the first step), read with ``z`` like MusicVAE's one-hot;
- outputs: hit logits, ``sigmoid`` velocities in [0, 1], ``tanh`` offsets in [-1, 1]; the loss per
  step is the hits' binary cross-entropy plus the squared errors of velocities and offsets, summed
  over the classes and the steps, plus MusicVAE's KL term (free bits, beta);
- sampling: Bernoulli hits from ``sigmoid(logit / temperature)``; temperature 0 is the threshold
  0.5 (logit > 0); velocities and offsets are the network's values;
- dropout on every LSTM layer's input while training (Magenta's ``dropout_keep_prob``; 0.3 kept
  in its groovae configs, i.e. ``dropout=0.7`` here). With a multi-layer encoder only its first
  layer's input is dropped.

Two choices of ours, both switchable in the config and documented in docs/groove.md:

- ``mse_on_hits_only``: velocity and offset errors count only where the target has a hit
  (Magenta counts them everywhere, with 0 as the target where nothing is played);
- the feedback zeroes velocity and offset where the chosen hit is 0, so a free-running decoder
  reads exactly what teacher forcing showed it (the targets are 0 there); ``feedback_mask="none"``
  feeds back every drum's velocity and offset as Magenta does (imported Magenta checkpoints).

Step interface (the export contract, as MusicVAE's): ``decoder_init(z) -> (h, c)``,
``decoder_step(prev, z, (h, c)) -> (outputs [B, 27], (h, c))`` where ``outputs`` are the hit
logits, velocities and offsets; :meth:`feedback` turns outputs into the next ``prev``. Sampling
stays out of the step graph (runtime/engine.py does it in numpy).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import register_model
from .base import free_bits_kl, gaussian_kl
from .musicvae import LstmDecoderCore, MusicVAE, MusicVAEConfig


#: GrooVAEConfig.feedback_mask values (model.json ``decoding.feedback_mask``, runtime/engine.py)
FEEDBACK_MASKS = ("hits", "none")


@dataclass
class GrooVAEConfig(MusicVAEConfig):
    kind: str = "groovae"
    #: probability of dropping an LSTM layer's input unit while training (Magenta: 1 - keep)
    dropout: float = 0.0
    #: velocity and offset squared errors only where the target is hit (Magenta: everywhere)
    mse_on_hits_only: bool = False
    #: what the next step reads of the velocities and offsets: "hits" (ours: those of the
    #: chosen hits, zero elsewhere) or "none" (Magenta's and Magenta.js' sampling: every
    #: drum's, hit or not; imported checkpoints)
    feedback_mask: str = "hits"


class GrooveDecoderCore(LstmDecoderCore):
    """MusicVAE's decoder LSTM with dropout on each layer's input (Magenta's DropoutWrapper)."""

    def __init__(self, output_depth: int, cond_size: int, sizes: list[int], dropout: float,
                 init_stddev: float | None = 0.001):
        super().__init__(output_depth, cond_size, sizes, init_stddev)
        self.input_dropout = nn.Dropout(dropout)
        self.layer_dropout = self.lstm.dropout = dropout   # a new module is in training mode

    def train(self, mode: bool = True):
        """nn.LSTM drops between layers (the later layers' inputs) only while training: its
        ONNX export would keep a nonzero ``dropout`` in the graph even in eval mode."""
        super().train(mode)
        self.lstm.dropout = self.layer_dropout if mode else 0.0
        return self

    def forward(self, prev, cond, state):
        x = torch.cat([prev, cond.unsqueeze(1).expand(-1, prev.shape[1], -1)], dim=-1)
        out, state = self.lstm(self.input_dropout(x), state)
        return self.output_projection(out), state


@register_model("groovae")
class GrooVAE(MusicVAE):
    config_class = GrooVAEConfig
    decoding_kind = "groove"

    def __init__(self, config: GrooVAEConfig):
        super().__init__(config)
        c = config
        if len(c.output_depths) != 1 or c.output_depths[0] % 3:
            raise ValueError(f"GrooVAE needs the groove codec's outputs (3 x drum classes), got "
                             f"output_depths {c.output_depths}")
        if self.hierarchical or c.split_decoders:
            raise ValueError("GrooVAE has a flat decoder only (no level_lengths, split_decoders)")
        if c.sampling_rate > 0 and c.sampling_schedule != "constant":
            raise ValueError("GrooVAE trains with teacher forcing only (no scheduled sampling)")
        if not 0.0 <= c.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {c.dropout}")
        if c.feedback_mask not in FEEDBACK_MASKS:
            raise ValueError(f"feedback_mask must be one of {FEEDBACK_MASKS}, got "
                             f"{c.feedback_mask!r}")
        self.classes = c.output_depths[0] // 3
        self.encoder_dropout = nn.Dropout(c.dropout)
        self.decoders = nn.ModuleList([GrooveDecoderCore(c.output_depths[0], c.z_size,
                                                         c.dec_rnn_size, c.dropout,
                                                         c.latent_init_stddev or None)])

    def decoding_fields(self) -> dict:
        """The drum classes, and whether the fed-back velocities and offsets are those of the
        chosen hits only ("hits") or of every drum ("none", Magenta's)."""
        return {"classes": int(self.classes), "feedback_mask": self.config.feedback_mask}

    # -- step functions -----------------------------------------------------------------------
    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw decoder outputs [..., 27] -> hit logits | sigmoid velocities | tanh offsets."""
        logits, velocity, offset = raw.split(self.classes, -1)
        return torch.cat([logits, torch.sigmoid(velocity), torch.tanh(offset)], -1)

    def decoder_step(self, prev: torch.Tensor, cond: torch.Tensor, state):
        """prev [B, 27] previous step's (hits, velocities, offsets) -> (outputs [B, 27], state)."""
        raw, state = super().decoder_step(prev, cond, state)
        return self.activate(raw), state

    def feedback(self, outputs: torch.Tensor, hits: torch.Tensor) -> torch.Tensor:
        """The next ``prev``: chosen hits (0/1) with their velocities and offsets, zero elsewhere
        (``feedback_mask="none"``: every drum's velocity and offset, as Magenta samples)."""
        _, velocity, offset = outputs.split(self.classes, -1)
        hits = hits.to(outputs.dtype)
        if self.config.feedback_mask == "none":
            return torch.cat([hits, velocity, offset], -1)
        return torch.cat([hits, velocity * hits, offset * hits], -1)

    def choose(self, outputs: torch.Tensor, temperature: float,
               generator: torch.Generator | None = None,
               hits: torch.Tensor | None = None) -> torch.Tensor:
        """The feedback vector for one step: ``hits`` [B, classes] if given (kept), else Bernoulli
        draws at ``temperature`` (0: logit > 0, the 0.5 threshold)."""
        if hits is None:
            logits = outputs[..., :self.classes]
            if temperature <= 0:
                hits = logits > 0
            else:
                probs = torch.sigmoid(logits / temperature)
                hits = torch.rand(probs.shape, generator=generator) < probs
        return self.feedback(outputs, hits)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, temperature: float = 1.0,
               generator: torch.Generator | None = None,
               hits: torch.Tensor | None = None) -> torch.Tensor:
        """Free-running decoding from z [B, Z] with the step functions -> float32 [B, T, 27]:
        hits 0/1, velocities in [0, 1], offsets in [-1, 1]: what each step fed back (zero where
        nothing is hit unless ``feedback_mask`` is "none"; ``codec.from_output`` drops them).
        ``hits`` [B, T, classes] keeps given hits (the decoder plays velocities and timing)."""
        prev = z.new_zeros(z.shape[0], 3 * self.classes)
        state = self.decoder_init(z)
        values = []
        for t in range(self.config.max_seq_len):
            outputs, state = self.decoder_step(prev, z, state)
            prev = self.choose(outputs, temperature, generator, None if hits is None else hits[:, t])
            values.append(prev)
        return torch.stack(values, 1)

    # -- training -------------------------------------------------------------------------------
    def loss(self, batch: dict[str, torch.Tensor], step: int):
        """batch: ``inputs`` [B, T, 27] (the codec's transformed input), ``targets`` [B, T, 27]
        (``codec.to_output`` of the tokens: the played performance), ``lengths`` [B]."""
        inputs, target, lengths = batch["inputs"], batch["targets"], batch["lengths"]
        mu, sigma = self.encode(self.encoder_dropout(inputs), lengths)
        z = mu + sigma * torch.randn_like(sigma)
        raw = self.decode_teacher_forced(z, F.pad(target[:, :-1], (0, 0, 1, 0)))

        logits, velocity, offset = self.activate(raw).split(self.classes, -1)
        hits_t, velocity_t, offset_t = target.split(self.classes, -1)
        weight = hits_t if self.config.mse_on_hits_only else torch.ones_like(hits_t)
        hit_loss = F.binary_cross_entropy_with_logits(logits, hits_t, reduction="none").sum(-1)
        velocity_loss = ((velocity - velocity_t).square() * weight).sum(-1)
        offset_loss = ((offset - offset_t).square() * weight).sum(-1)

        steps = target.shape[1]
        mask = (torch.arange(steps, device=target.device).unsqueeze(0)
                < lengths.to(target.device).unsqueeze(1)).float()
        recon = ((hit_loss + velocity_loss + offset_loss) * mask).sum(1)
        kl = gaussian_kl(mu, sigma)
        kl_cost = free_bits_kl(kl, self.config.free_bits)
        beta = self.beta(step)
        loss = recon.mean() + beta * kl_cost.mean()

        with torch.no_grad():
            cells = mask.unsqueeze(-1).expand_as(hits_t)
            played = hits_t * cells
            right = ((logits > 0).float() == hits_t).float() * cells
            n_hits = played.sum().clamp(min=1)
            metrics = {
                "loss": loss.item(), "recon": recon.mean().item(), "kl": kl.mean().item(),
                "kl_bits": kl.mean().item() / 0.6931471805599453,
                "kl_cost": kl_cost.mean().item(), "beta": beta, "sampling_prob": 0.0,
                "mu_spread": self.mu_spread,
                # share of (step, class) cells whose hit/no-hit is right (teacher forced)
                "accuracy": (right.sum() / cells.sum().clamp(min=1)).item(),
                "hit_loss": (hit_loss * mask).sum(1).mean().item(),
                "velocity_loss": (velocity_loss * mask).sum(1).mean().item(),
                "offset_loss": (offset_loss * mask).sum(1).mean().item(),
                # mean absolute errors on the played hits, in MIDI velocity and in steps
                "velocity_error": ((velocity - velocity_t).abs() * played).sum().item()
                                  / n_hits.item() * 127,
                "timing_error": ((offset - offset_t).abs() * played).sum().item()
                                / n_hits.item() / 2,
            }
        return loss, metrics
