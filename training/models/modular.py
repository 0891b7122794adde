"""Modularized VAE with a note-unrolling decoder (Wang et al. 2019), on note events (dT, T, P).

A note is three indices into dictionaries built from data (codec ``note_events``): the onset
difference to the previous note dT (0 for chord tones), the duration T and the pitch P. Each
field has one embedding table shared by encoder and decoder (paper section 2.2).

- Encoder (2.3): three GRUs read the dT, T and P embeddings apart, a context GRU reads their
  outputs; the last states of all four go through linear layers to mu and sigma.
- Decoder (2.4): seven GRUs. Three attribute-context GRUs read the previous note's dT, T and P
  embeddings, a context GRU combines them with z, and three generating GRUs emit dT, then T
  given dT, then P given dT and T (note unrolling), each with a residual skip from the context.
  ``unroll=False`` is the paper's ablation: the three generating GRUs only see the context, so
  the three fields of a note are predicted at once (independent given the past).

Usage::

    >>> from training.models.modular import ModularVAE, ModularVAEConfig
    >>> model = ModularVAE(ModularVAEConfig(output_depths=[20, 30, 60], hidden_size=64))
    >>> loss, metrics = model.loss({"tokens": tokens}, step=0)     # tokens int64 [B, N, 3]
    >>> mu, sigma = model.encode(tokens)
    >>> notes = model.sample(mu, notes=100, temperature=1.0)      # int64 [B, 100, 3]

Step functions (what ``training.export`` turns into ONNX; ``sample`` uses exactly these).
The decoder state is a tuple of 7 tensors ``[1, B, H]``, in this order: dT-context, T-context,
P-context, context, dT-generator, T-generator, P-generator. One note is three sub-steps:

- ``decoder_init(z[B,Z]) -> state``
- ``decoder_step_dt(prev[B,3] int64, z[B,Z], state) -> (logits_dt[B,dT size], state)``
  ``prev`` is the previous note (dT, T, P); at the first note it is ``start_note(B)``, i.e.
  the field sizes ``output_depths``, the extra "start" row of each embedding table.
- ``decoder_step_t(dt[B] int64, state) -> (logits_t[B,T size], state)``  (dt = chosen dT)
- ``decoder_step_p(dt[B] int64, t[B] int64, state) -> (logits_p[B,P size], state)``

With ``unroll=False`` the T and P steps ignore their index arguments (they are kept so the two
variants share one interface).

Flags for the paper's baselines: ``variational=False`` is the modularized autoencoder (z = mu,
no KL), ``use_encoder=False`` is BachProp-like (decoder only, z = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from training.metrics import gaussian_kl

from . import register_model
from .base import Model, ModelConfig, free_bits_kl


@dataclass
class ModularVAEConfig(ModelConfig):
    """``output_depths`` = the codec's field sizes [dT, T, P] (filled by training.train)."""

    kind: str = "modular"
    z_size: int = 128
    max_seq_len: int = 100     # notes per segment (paper: 100, stride 50)
    embed_size: int = 64
    hidden_size: int = 512     # paper: 512 for every GRU
    unroll: bool = True        # note unrolling (dT -> T -> P); False = all three at once
    variational: bool = True   # False: modularized autoencoder baseline (no KL, z = mu)
    use_encoder: bool = True   # False: decoder-only baseline (BachProp-like, z = 0)
    kl_schedule: str = "linear"  # paper: KL annealing
    kl_anneal_steps: int = 2000

    @property
    def field_sizes(self) -> tuple[int, int, int]:
        if len(self.output_depths) != 3:
            raise ValueError("model.output_depths must be the three field sizes of the codec, "
                             f"got {self.output_depths}")
        return tuple(int(d) for d in self.output_depths)


def batch_tokens(batch, key: str = "tokens") -> torch.Tensor:
    """The token tensor of a batch (a dict as training.data yields, a tuple or a tensor)."""
    if isinstance(batch, dict):
        batch = batch[key]
    elif isinstance(batch, (tuple, list)):
        batch = batch[0]
    return torch.as_tensor(batch)


@register_model("modular")
class ModularVAE(Model):
    config_class = ModularVAEConfig
    decoding_kind = "note_events"

    def __init__(self, config: ModularVAEConfig):
        super().__init__(config)
        c = config
        self.dt_size, self.t_size, self.p_size = c.field_sizes
        E, H, Z = c.embed_size, c.hidden_size, c.z_size
        # +1 row per table: the "start" symbol fed as the previous note at step 0
        self.emb_dt = nn.Embedding(self.dt_size + 1, E)
        self.emb_t = nn.Embedding(self.t_size + 1, E)
        self.emb_p = nn.Embedding(self.p_size + 1, E)
        # modular encoder: 4 GRUs
        self.enc_dt = nn.GRU(E, H, batch_first=True)
        self.enc_t = nn.GRU(E, H, batch_first=True)
        self.enc_p = nn.GRU(E, H, batch_first=True)
        self.enc_ctx = nn.GRU(3 * H, H, batch_first=True)
        self.enc_v = nn.Linear(4 * H, H)
        self.enc_mu = nn.Linear(H, Z)
        self.enc_logvar = nn.Linear(H, Z)
        # note-unrolling decoder: 7 GRUs
        self.dec_init = nn.Linear(Z, 7 * H)
        self.dec_dt_ctx = nn.GRU(E, H, batch_first=True)
        self.dec_t_ctx = nn.GRU(E, H, batch_first=True)
        self.dec_p_ctx = nn.GRU(E, H, batch_first=True)
        self.dec_ctx = nn.GRU(3 * H + Z, H, batch_first=True)
        self.gen_dt = nn.GRU(H + Z, H, batch_first=True)
        self.gen_t = nn.GRU(H + (E if c.unroll else 0), H, batch_first=True)
        self.gen_p = nn.GRU(H + (2 * E if c.unroll else 0), H, batch_first=True)
        self.out_dt = nn.Linear(H, self.dt_size)
        self.out_t = nn.Linear(H, self.t_size)
        self.out_p = nn.Linear(H, self.p_size)

    # ------------------------------------------------------------------ encoder

    def posterior(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x) for notes int64 [B, N, 3] (or a batch with ``tokens``)."""
        tokens = batch_tokens(batch)
        B = tokens.shape[0]
        if not self.config.use_encoder:
            zeros = torch.zeros(B, self.config.z_size, device=tokens.device)
            return zeros, zeros
        o_dt, h_dt = self.enc_dt(self.emb_dt(tokens[..., 0]))
        o_t, h_t = self.enc_t(self.emb_t(tokens[..., 1]))
        o_p, h_p = self.enc_p(self.emb_p(tokens[..., 2]))
        _, h_c = self.enc_ctx(torch.cat([o_dt, o_t, o_p], -1))
        v = self.enc_v(torch.cat([h_dt[-1], h_t[-1], h_p[-1], h_c[-1]], -1))
        mu = self.enc_mu(v)
        logvar = self.enc_logvar(v) if self.config.variational else torch.zeros_like(mu)
        return mu, logvar

    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None):
        """``encode(tokens[B,N,3] int64) -> (mu[B,Z], sigma[B,Z])``; lengths are unused
        (windows have a fixed number of notes)."""
        mu, logvar = self.posterior(tokens)
        return mu, (0.5 * logvar).exp()

    # ------------------------------------------------------------------ decoder

    def start_note(self, batch: int, device=None) -> torch.Tensor:
        return torch.tensor([[self.dt_size, self.t_size, self.p_size]],
                            device=device).expand(batch, 3)

    def decoding_fields(self) -> dict:
        """The previous note fed to the first ``decoder_step_dt`` (the "start" rows)."""
        return {"start_note": self.start_note(1)[0].tolist()}

    def decoder_init(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = torch.tanh(self.dec_init(z)).unsqueeze(0)          # [1, B, 7H]
        return tuple(h.chunk(7, dim=-1))

    def _context(self, prev: torch.Tensor, z: torch.Tensor, state):
        """Run the four context GRUs over previous notes prev[B, L, 3]; returns context [B,L,H]."""
        s_dt, s_t, s_p, s_c = state[:4]
        o_dt, s_dt = self.dec_dt_ctx(self.emb_dt(prev[..., 0]), s_dt)
        o_t, s_t = self.dec_t_ctx(self.emb_t(prev[..., 1]), s_t)
        o_p, s_p = self.dec_p_ctx(self.emb_p(prev[..., 2]), s_p)
        zz = z.unsqueeze(1).expand(-1, prev.shape[1], -1)
        ctx, s_c = self.dec_ctx(torch.cat([o_dt, o_t, o_p, zz], -1), s_c)
        return ctx, (s_dt, s_t, s_p, s_c)

    def _gen_inputs(self, ctx, dt=None, t=None):
        """Inputs of the T and P generating GRUs (with unrolling they see the chosen fields)."""
        if not self.config.unroll:
            return ctx, ctx
        e_dt = self.emb_dt(dt)
        return torch.cat([ctx, e_dt], -1), torch.cat([ctx, e_dt, self.emb_t(t)], -1)

    def _true_past(self, tokens: torch.Tensor) -> torch.Tensor:
        """The note read before each of tokens[B, N, 3]: "start", then the notes shifted by one."""
        return torch.cat([self.start_note(tokens.shape[0], tokens.device)[:, None],
                          tokens[:, :-1]], 1)

    def teacher_forced(self, tokens: torch.Tensor, z: torch.Tensor, past: torch.Tensor | None = None):
        """Logits (dt, t, p), each [B, N, V], for notes tokens[B, N, 3] given the true past
        (or ``past`` [B, N, 3]: the notes read before each one, e.g. partly the model's own)."""
        B = tokens.shape[0]
        prev = self._true_past(tokens) if past is None else past
        if self.training and self.config.word_dropout > 0:   # a dropped note reads as "start"
            drop = torch.rand(prev.shape[:2], device=prev.device) < self.config.word_dropout
            prev = torch.where(drop.unsqueeze(-1), self.start_note(B, tokens.device)[:, None], prev)
        state = self.decoder_init(z)
        ctx, _ = self._context(prev, z, state)
        zz = z.unsqueeze(1).expand(-1, tokens.shape[1], -1)
        g_dt, _ = self.gen_dt(torch.cat([ctx, zz], -1), state[4])
        in_t, in_p = self._gen_inputs(ctx, tokens[..., 0], tokens[..., 1])
        g_t, _ = self.gen_t(in_t, state[5])
        g_p, _ = self.gen_p(in_p, state[6])
        return self.out_dt(g_dt + ctx), self.out_t(g_t + ctx), self.out_p(g_p + ctx)

    @torch.no_grad()
    def scheduled_past(self, tokens: torch.Tensor, z: torch.Tensor, probability: float,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """Scheduled sampling in two passes (parallel scheduled sampling, Duckworth et al. 2019):
        a teacher-forced pass draws each note's fields from the model, then every previous note
        the decoder reads is, with ``probability``, the model's draw instead of the true note.
        Returns ``past`` [B, N, 3] for ``teacher_forced``; the first note still reads "start"."""
        B, N = tokens.shape[:2]
        truth = self._true_past(tokens)
        if probability <= 0:
            return truth
        drawn = [torch.multinomial(torch.softmax(l.float(), -1).reshape(B * N, -1), 1,
                                   generator=generator).reshape(B, N)
                 for l in self.teacher_forced(tokens, z, truth)]
        own = self._true_past(torch.stack(drawn, -1))
        pick = torch.rand((B, N, 1), device=tokens.device, generator=generator) < probability
        pick[:, 0] = False
        return torch.where(pick, own, truth)

    def decoder_step_dt(self, prev: torch.Tensor, z: torch.Tensor, state):
        """One note, sub-step 1: read the previous note, emit dT logits."""
        ctx, head = self._context(prev[:, None], z, state)
        g_dt, s_gdt = self.gen_dt(torch.cat([ctx, z[:, None]], -1), state[4])
        return self.out_dt((g_dt + ctx)[:, 0]), head + (s_gdt, state[5], state[6])

    def decoder_step_t(self, dt: torch.Tensor, state):
        """Sub-step 2: emit T logits given the chosen dT (context = state[3])."""
        ctx = state[3].transpose(0, 1)                          # [B, 1, H]
        in_t = torch.cat([ctx, self.emb_dt(dt)[:, None]], -1) if self.config.unroll else ctx
        g_t, s_gt = self.gen_t(in_t, state[5])
        return self.out_t((g_t + ctx)[:, 0]), state[:5] + (s_gt, state[6])

    def decoder_step_p(self, dt: torch.Tensor, t: torch.Tensor, state):
        """Sub-step 3: emit P logits given the chosen dT and T."""
        ctx = state[3].transpose(0, 1)
        if self.config.unroll:
            in_p = torch.cat([ctx, self.emb_dt(dt)[:, None], self.emb_t(t)[:, None]], -1)
        else:
            in_p = ctx
        g_p, s_gp = self.gen_p(in_p, state[6])
        return self.out_p((g_p + ctx)[:, 0]), state[:6] + (s_gp,)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, notes: int | None = None, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Roll the decoder out from z with the step functions: int64 [B, notes, 3].
        ``temperature=0`` picks the most likely index at every sub-step (greedy)."""
        notes = notes or self.config.max_seq_len
        state = self.decoder_init(z)
        prev = self.start_note(z.shape[0], z.device)
        out = []
        for _ in range(notes):
            logits, state = self.decoder_step_dt(prev, z, state)
            dt = _pick(logits, temperature, generator)
            logits, state = self.decoder_step_t(dt, state)
            t = _pick(logits, temperature, generator)
            logits, state = self.decoder_step_p(dt, t, state)
            p = _pick(logits, temperature, generator)
            prev = torch.stack([dt, t, p], -1)
            out.append(prev)
        return torch.stack(out, 1)

    # ------------------------------------------------------------------ evaluation interface

    def generate(self, z, length, temperature=0.0, generator=None):
        return self.sample(z, length, temperature, generator)

    @torch.no_grad()
    def predict_next(self, batch, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced argmax prediction of every note's fields: int64 [B, N, 3]."""
        l_dt, l_t, l_p = self.teacher_forced(batch_tokens(batch), z)
        return torch.stack([l_dt.argmax(-1), l_t.argmax(-1), l_p.argmax(-1)], -1)

    # ------------------------------------------------------------------ training

    def loss(self, batch, step: int = 0):
        c = self.config
        tokens = batch_tokens(batch).long()
        mu, logvar = self.posterior(tokens)
        if c.variational and c.use_encoder and self.training:
            z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        else:
            z = mu
        probability = self.sampling_probability(step)
        past = self.scheduled_past(tokens, z, probability) if probability > 0 else None
        l_dt, l_t, l_p = self.teacher_forced(tokens, z, past)
        B = tokens.shape[0]
        ce = lambda logits, target: F.cross_entropy(  # noqa: E731
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="sum") / B
        rec_dt, rec_t, rec_p = ce(l_dt, tokens[..., 0]), ce(l_t, tokens[..., 1]), ce(l_p, tokens[..., 2])
        rec = rec_dt + rec_t + rec_p
        if c.variational and c.use_encoder:
            kl = gaussian_kl(mu, logvar).mean()
            kl_value = kl.item()
            beta = self.beta(step)
            loss = rec + beta * free_bits_kl(gaussian_kl(mu, logvar), c.free_bits).mean()
        else:
            kl_value, beta, loss = 0.0, 0.0, rec
        with torch.no_grad():
            pred = torch.stack([l_dt.argmax(-1), l_t.argmax(-1), l_p.argmax(-1)], -1)
            right = pred == tokens
        return loss, {"loss": loss.item(), "recon": rec.item(), "kl": kl_value, "beta": float(beta),
                      "rec_dt": rec_dt.item(), "rec_t": rec_t.item(), "rec_p": rec_p.item(),
                      "sampling_prob": probability,
                      "accuracy": right.all(-1).float().mean().item(),
                      "acc_p": right[..., 2].float().mean().item()}


def _pick(logits: torch.Tensor, temperature: float, generator=None) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / temperature, -1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]
