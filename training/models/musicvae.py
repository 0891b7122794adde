"""MusicVAE (Roberts et al. 2018), flat and hierarchical, with Magenta's exact math.

One file, top to bottom: the config, the bidirectional LSTM encoder, the categorical LSTM decoder,
the model with its loss, its step functions and a sampler built only from those step functions::

    >>> import torch
    >>> from training.configs import get_config
    >>> from training.models import build_model
    >>> cfg = get_config("lb-mel_2bar").model
    >>> cfg.input_depth, cfg.output_depths = 90, [90]          # from the melody codec
    >>> model = build_model(cfg).eval()
    >>> mu, sigma = model.encode(inputs, lengths)                # inputs [B, 32, 90] one-hot
    >>> tokens = model.sample(mu, temperature=0.0)               # int64 [B, 32], argmax decoding
    >>> tokens = model.sample(torch.randn(4, cfg.z_size), temperature=1.0,
    ...                       generator=torch.Generator().manual_seed(0))

What follows Magenta (magenta/models/music_vae/lstm_models.py, lstm_utils.py, base_model.py):

- Encoder: per layer a forward and a backward LSTM (``stack_bidirectional_dynamic_rnn``: layer
  ``l+1`` reads both directions of layer ``l``); the final forward and backward ``h`` of the last
  layer are concatenated; ``mu = Dense(z)``, ``sigma = softplus(Dense(z))``, ``z = mu + sigma * eps``.
- Decoder: a stack of LSTMs whose initial state is ``tanh(Dense(cond))`` split into
  ``(c0, h0, c1, h1, ...)`` (``initial_cell_state_from_embedding``); each step reads
  ``[one-hot of the previous output token, cond]`` (zeros before the first step) and projects to
  the logits with ``Dense(output_depth)``. The previous token is one-hot in the *output* space
  (512 wide for drums), as Magenta feeds back ``output_sequence``; the encoder input is the
  codec's ``to_input`` (the 9+1 drum roll for drums).
- Hierarchical encoder (``enc_level_lengths=[bars, steps_per_bar]``, Magenta's hier-* configs and
  the Magenta.js 16-bar checkpoints): a bidirectional LSTM per bar, another over the bar embeddings.
- Hierarchical decoder (``level_lengths=[bars, steps_per_bar]``): a conductor LSTM stack of the same
  sizes, initial state ``tanh(Dense(z))``, input zeros of width 1 (``disable_autoregression``);
  its top ``h`` at each bar is the embedding that re-initialises the bar decoder(s) and is
  concatenated to their inputs. The previous token carries over the bar boundary (Magenta's
  ``start_inputs``). ``split_decoders=True`` gives one bar decoder per codec part under the
  same conductor (Magenta's ``SplitMultiOutLstmDecoder``, hierdec-trio_16bar); without it several
  ``output_depths`` share one decoder with one softmax per part (``MultiOutCategoricalLstmDecoder``).
- Loss: cross-entropy summed over time (and parts), KL to N(0, I) summed over z, free bits on the
  total KL, beta schedule, scheduled sampling per example with the given probability.

Step interface (docs/internals.md), used by :meth:`MusicVAE.sample` and by the ONNX export:
``encode(inputs, lengths) -> (mu, sigma)``, ``decoder_init(cond) -> (h, c)``,
``decoder_step(prev, cond, (h, c)) -> (logits, (h, c))``, ``conductor_init(z) -> (h, c)``,
``conductor_step((h, c)) -> (embedding, (h, c))``. Decoder state tensors are ``[K*L, B, H]``
(K bar decoders of L layers each, decoder ``k`` owns rows ``k*L .. k*L+L-1``).

Importing TensorFlow weights (``LSTMBlockCell``): the kernel ``[in + H, 4H]`` has gates in the
order (i, j, f, o); PyTorch wants (i, f, g=j, o) in ``weight_ih [4H, in]`` / ``weight_hh [4H, H]``
and TF adds ``forget_bias=1.0`` at run time, so ``bias_ih[f] = b_f + 1`` (``bias_hh = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import register_model
from .base import Model, ModelConfig, free_bits_kl, gaussian_kl


@dataclass
class MusicVAEConfig(ModelConfig):
    kind: str = "musicvae"
    #: units per layer (per direction) of the bidirectional encoder
    enc_rnn_size: list[int] = field(default_factory=lambda: [512])
    #: units per layer of the decoder (and of the conductor); all layers the same size
    dec_rnn_size: list[int] = field(default_factory=lambda: [256, 256])
    #: [] = flat decoder; [segments, steps per segment] = conductor + bar decoder
    level_lengths: list[int] = field(default_factory=list)
    #: one bar decoder per codec part (trio) instead of one decoder with a softmax per part
    split_decoders: bool = False
    #: [] = flat encoder; [segments, steps per segment] = Magenta's HierarchicalLstmEncoder
    #: (hier-* configs, Magenta.js mel_16bar/trio_16bar): a bidirectional LSTM over the steps
    #: of each segment, then one over the segment embeddings; ``enc_rnn_size[i]`` is then the
    #: size of level ``i`` (one bidirectional layer per level)
    enc_level_lengths: list[int] = field(default_factory=list)
    #: stddev of the normal init of the layers between the encoder and the decoders (mu, sigma,
    #: z -> conductor state, conductor/z -> decoder state). Magenta: 0.001, which starts every z
    #: alike; on the hierarchical path (two such layers in a row) that is a saddle CPU-sized runs
    #: never leave (the decoder learns to ignore z). 0 = Glorot uniform, as the other layers.
    latent_init_stddev: float = 0.001
    #: initial bias of sigma's layer (sigma = softplus(bias) at the start). Magenta: 0, i.e.
    #: sigma 0.69 while mu barely differs between inputs, so z starts as noise and a strong
    #: decoder learns to ignore it; -5 starts sigma at 0.007 (z carries the input from step 1)
    #: and the KL term raises it as beta grows
    sigma_init_bias: float = 0.0
    #: > 0: batch-normalise mu with this fixed scale (BN-VAE, Zhu et al. 2020, "A Batch
    #: Normalized Inference Network Keeps the KL Vanishing Away"): across a batch every mu
    #: dimension has mean ``beta`` (learnt) and standard deviation ``mu_batch_norm``, so the
    #: encoder cannot give every input the same z (what the 16-bar encoders did within 200
    #: steps) and the KL has a floor of ``z_size * mu_batch_norm**2 / 2`` nats. Exported as
    #: the fixed affine map of its running statistics. 0 = off (Magenta).
    mu_batch_norm: float = 0.0


def init_lstm(lstm: nn.LSTM) -> None:
    """TF's LSTMBlockCell defaults: Glorot-uniform kernels, zero biases, forget bias 1."""
    for name, p in lstm.named_parameters():
        if name.startswith("weight"):
            nn.init.xavier_uniform_(p)
        else:
            nn.init.zeros_(p)
            if name.startswith("bias_ih"):
                hidden = p.shape[0] // 4
                nn.init.ones_(p[hidden:2 * hidden])


def dense(inputs: int, outputs: int, stddev: float | None = None) -> nn.Linear:
    """tf.layers.dense: Glorot-uniform kernel (or normal(stddev) where Magenta says so), zero bias."""
    layer = nn.Linear(inputs, outputs)
    if stddev is None:
        nn.init.xavier_uniform_(layer.weight)
    else:
        nn.init.normal_(layer.weight, std=stddev)
    nn.init.zeros_(layer.bias)
    return layer


def state_from_embedding(layer: nn.Linear, cond: torch.Tensor, layers: int, hidden: int):
    """Magenta's initial_cell_state_from_embedding: tanh(Dense) split as (c0, h0, c1, h1, ...)."""
    s = torch.tanh(layer(cond)).view(cond.shape[0], layers, 2, hidden)
    c = s[:, :, 0].transpose(0, 1).contiguous()
    h = s[:, :, 1].transpose(0, 1).contiguous()
    return h, c


class BidirectionalLstmEncoder(nn.Module):
    """Stacked bidirectional LSTM that honours per-example lengths without packing (ONNX-friendly):
    the backward direction reads each sequence reversed within its own length."""

    def __init__(self, input_depth: int, sizes: list[int]):
        super().__init__()
        self.fw, self.bw = nn.ModuleList(), nn.ModuleList()
        depth = input_depth
        for size in sizes:
            self.fw.append(nn.LSTM(depth, size, batch_first=True))
            self.bw.append(nn.LSTM(depth, size, batch_first=True))
            depth = 2 * size
        for lstm in [*self.fw, *self.bw]:
            init_lstm(lstm)
        self.output_size = depth

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):
        """-> (final [B, 2H]: last layer's final fw and bw h, outputs [B, T, 2H] per step)."""
        batch, steps, _ = x.shape
        t = torch.arange(steps, device=x.device).unsqueeze(0)
        lengths = lengths.to(x.device).long().unsqueeze(1)
        reverse = torch.where(t < lengths, lengths - 1 - t, t)  # an involution on [0, T)

        def flip(seq):
            return seq.gather(1, reverse.unsqueeze(-1).expand(-1, -1, seq.shape[-1]))

        for fw, bw in zip(self.fw, self.bw):
            out_fw, _ = fw(x)
            out_bw_reversed, _ = bw(flip(x))
            x = torch.cat([out_fw, flip(out_bw_reversed)], dim=-1)
        last = (lengths.squeeze(1) - 1).clamp(min=0)
        rows = torch.arange(batch, device=x.device)
        final = torch.cat([out_fw[rows, last], out_bw_reversed[rows, last]], dim=-1)
        # an empty sequence keeps the zero initial state, as TF's dynamic_rnn does
        return final * (lengths > 0).to(final.dtype), x


class HierarchicalLstmEncoder(nn.Module):
    """Magenta's HierarchicalLstmEncoder with two levels: each segment (bar) of the input is
    encoded by ``levels[0]``, the sequence of segment embeddings by ``levels[1]``."""

    def __init__(self, input_depth: int, sizes: list[int], level_lengths: list[int]):
        super().__init__()
        if len(level_lengths) != 2 or len(sizes) != 2:
            raise ValueError("a hierarchical encoder needs enc_level_lengths [segments, steps] "
                             f"and two enc_rnn_size entries, got {level_lengths} and {sizes}")
        self.segments, self.segment_steps = level_lengths
        self.levels = nn.ModuleList([BidirectionalLstmEncoder(input_depth, [sizes[0]]),
                                     BidirectionalLstmEncoder(2 * sizes[0], [sizes[1]])])
        self.output_size = self.levels[1].output_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):
        """-> (final [B, 2H1], per-segment outputs of the top level [B, segments, 2H1])."""
        batch = x.shape[0]
        starts = torch.arange(self.segments, device=x.device) * self.segment_steps
        segment_lengths = (lengths.to(x.device).long().unsqueeze(1) - starts).clamp(0, self.segment_steps)
        bars, _ = self.levels[0](x.reshape(batch * self.segments, self.segment_steps, -1),
                                 segment_lengths.reshape(-1))
        bars = bars.reshape(batch, self.segments, -1)
        full = torch.full((batch,), self.segments, dtype=torch.long, device=x.device)
        return self.levels[1](bars, full)


class LstmDecoderCore(nn.Module):
    """One categorical LSTM decoder (Magenta's CategoricalLstmDecoder) for one output part."""

    def __init__(self, output_depth: int, cond_size: int, sizes: list[int],
                 init_stddev: float | None = 0.001):
        super().__init__()
        self.layers, self.hidden = len(sizes), sizes[0]
        self.initial_state = dense(cond_size, 2 * self.layers * self.hidden, stddev=init_stddev)
        self.lstm = nn.LSTM(output_depth + cond_size, self.hidden, self.layers, batch_first=True)
        init_lstm(self.lstm)
        self.output_projection = dense(self.hidden, output_depth)

    def init_state(self, cond: torch.Tensor):
        return state_from_embedding(self.initial_state, cond, self.layers, self.hidden)

    def forward(self, prev: torch.Tensor, cond: torch.Tensor, state):
        """prev [B, T, D] previous tokens one-hot, cond [B, C] -> (logits [B, T, O], state)."""
        x = torch.cat([prev, cond.unsqueeze(1).expand(-1, prev.shape[1], -1)], dim=-1)
        out, state = self.lstm(x, state)
        return self.output_projection(out), state


@register_model("musicvae")
class MusicVAE(Model):
    config_class = MusicVAEConfig
    #: bundle kind (runtime/decoding.py); "hierarchical" for an instance with a conductor
    decoding_kind = "flat"

    def __init__(self, config: MusicVAEConfig):
        super().__init__(config)
        c = config
        if c.input_depth <= 0 or not c.output_depths:
            raise ValueError("model.input_depth and model.output_depths must be set (from the codec)")
        if len(set(c.dec_rnn_size)) != 1:
            raise ValueError(f"all decoder layers must have the same size, got {c.dec_rnn_size}")
        self.hierarchical = bool(c.level_lengths)
        if self.hierarchical:
            self.decoding_kind = "hierarchical"
            if len(c.level_lengths) != 2:
                raise ValueError("level_lengths must be [segments, steps per segment]")
            if c.max_seq_len and c.level_lengths[0] * c.level_lengths[1] != c.max_seq_len:
                raise ValueError(f"level_lengths {c.level_lengths} do not multiply to "
                                 f"max_seq_len {c.max_seq_len}")
        self.part_depths = list(c.output_depths)
        self.decoder_depths = self.part_depths if c.split_decoders else [sum(self.part_depths)]
        layers, hidden = len(c.dec_rnn_size), c.dec_rnn_size[0]

        if c.enc_level_lengths:
            if c.max_seq_len and c.enc_level_lengths[0] * c.enc_level_lengths[1] != c.max_seq_len:
                raise ValueError(f"enc_level_lengths {c.enc_level_lengths} do not multiply to "
                                 f"max_seq_len {c.max_seq_len}")
            self.encoder = HierarchicalLstmEncoder(c.input_depth, c.enc_rnn_size, c.enc_level_lengths)
        else:
            self.encoder = BidirectionalLstmEncoder(c.input_depth, c.enc_rnn_size)
        stddev = c.latent_init_stddev or None          # None: Glorot uniform
        self.mu = dense(self.encoder.output_size, c.z_size, stddev=stddev)
        self.sigma = dense(self.encoder.output_size, c.z_size, stddev=stddev)
        nn.init.constant_(self.sigma.bias, c.sigma_init_bias)
        #: the batch's standard deviation of mu before ``mu_norm`` (mean over dimensions), set
        #: by each training-mode encode and logged as ``mu_spread``: near 0 the encoder gives
        #: every input the same code, which a batch norm would only hide (docs/training.md)
        self.mu_spread = float("nan")
        self.mu_norm = None
        if c.mu_batch_norm > 0:
            self.mu_norm = nn.BatchNorm1d(c.z_size)
            nn.init.constant_(self.mu_norm.weight, c.mu_batch_norm)
            self.mu_norm.weight.requires_grad_(False)          # a fixed scale: BN-VAE's floor
            self.mu_norm.register_load_state_dict_post_hook(self._keep_mu_scale)
        if self.hierarchical:
            self.conductor_initial_state = dense(c.z_size, 2 * layers * hidden, stddev=stddev)
            self.conductor = nn.LSTM(1, hidden, layers, batch_first=True)
            init_lstm(self.conductor)
        cond_size = hidden if self.hierarchical else c.z_size
        self.decoders = nn.ModuleList(LstmDecoderCore(d, cond_size, c.dec_rnn_size, stddev)
                                      for d in self.decoder_depths)

    # -- shapes ---------------------------------------------------------------------------------
    @property
    def segment_length(self) -> int:
        """Steps decoded from one conditioning vector: a bar (hierarchical) or the whole sequence."""
        return self.config.level_lengths[1] if self.hierarchical else self.config.max_seq_len

    def one_hot(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens [..., K] (K parts, K=1 for one) -> concatenated one-hots [..., sum(depths)]."""
        return torch.cat([F.one_hot(tokens[..., k], d).float()
                          for k, d in enumerate(self.part_depths)], dim=-1)

    def _keep_mu_scale(self, module: nn.Module, _incompatible) -> None:
        """The batch norm's scale is the config's ``mu_batch_norm``, not a weight: loading other
        weights (``--init-from`` a run with another scale) keeps this model's value."""
        with torch.no_grad():
            module.weight.fill_(self.config.mu_batch_norm)

    # -- step functions (the export contract) ---------------------------------------------------
    def encode(self, inputs: torch.Tensor, lengths: torch.Tensor):
        """inputs [B, T, input_depth] float, lengths [B] -> (mu [B, Z], sigma [B, Z])."""
        final, _ = self.encoder(inputs, lengths)
        mu = self.mu(final)
        if self.training:   # the metric mu_spread: a collapsed encoder shows here first
            self.mu_spread = mu.detach().std(0).mean().item() if len(mu) > 1 else float("nan")
        if self.mu_norm is not None:
            mu = self.mu_norm(mu)
        return mu, F.softplus(self.sigma(final))

    def encode_steps(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The encoder's top-layer outputs at every step [B, T, 2H] (flat) or every segment
        [B, segments, 2H] (hierarchical encoder): the hook for bar-wise KL (MuseBar)."""
        return self.encoder(inputs, lengths)[1]

    def decoder_init(self, cond: torch.Tensor):
        states = [d.init_state(cond) for d in self.decoders]
        return torch.cat([h for h, _ in states]), torch.cat([c for _, c in states])

    def decoder_step(self, prev: torch.Tensor, cond: torch.Tensor, state):
        """prev [B, sum(depths)] one-hot of the previous token(s), cond [B, C] -> (logits, state)."""
        h, c = state
        layers = self.decoders[0].layers
        logits, hs, cs = [], [], []
        for k, (decoder, part) in enumerate(zip(self.decoders, prev.split(self.decoder_depths, -1))):
            rows = slice(k * layers, (k + 1) * layers)
            out, (hk, ck) = decoder(part.unsqueeze(1), cond, (h[rows], c[rows]))
            logits.append(out.squeeze(1))
            hs.append(hk)
            cs.append(ck)
        return torch.cat(logits, -1), (torch.cat(hs), torch.cat(cs))

    def conductor_init(self, z: torch.Tensor):
        c = self.config
        return state_from_embedding(self.conductor_initial_state, z, len(c.dec_rnn_size),
                                    c.dec_rnn_size[0])

    def conductor_step(self, state):
        """-> (embedding [B, H] for the next bar, state); the conductor's input is always zero."""
        h, _ = state
        out, state = self.conductor(h.new_zeros(h.shape[1], 1, 1), state)
        return out[:, 0], state

    # -- decoding -------------------------------------------------------------------------------
    def conductor_embeddings(self, z: torch.Tensor) -> torch.Tensor:
        """All bar embeddings at once [B, bars, H] (same math as repeated conductor_step)."""
        bars = self.config.level_lengths[0]
        out, _ = self.conductor(z.new_zeros(z.shape[0], bars, 1), self.conductor_init(z))
        return out

    def _segments(self, z: torch.Tensor, prev: torch.Tensor):
        """What each bar decoder run reads: (cond, prev). Flat: z and the whole sequence;
        hierarchical: one row per bar, with its conductor embedding and its steps."""
        if not self.hierarchical:
            return z, prev
        bars, per_bar = self.config.level_lengths
        cond = self.conductor_embeddings(z).reshape(prev.shape[0] * bars, -1)
        return cond, prev.reshape(prev.shape[0] * bars, per_bar, -1)

    def decode_teacher_forced(self, z: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, sum(depths)] given the shifted targets ``prev`` (one-hot), in parallel."""
        batch, steps, _ = prev.shape
        cond, prev = self._segments(z, prev)
        logits = [decoder(part, cond, decoder.init_state(cond))[0]
                  for decoder, part in zip(self.decoders, prev.split(self.decoder_depths, -1))]
        return torch.cat(logits, -1).reshape(batch, steps, -1)

    def decode_scheduled(self, z: torch.Tensor, prev: torch.Tensor, probability: float) -> torch.Tensor:
        """Scheduled sampling (Magenta's ScheduledOutputTrainingHelper): with ``probability``, per
        example, step and bar decoder, the input is the model's own sample of the previous step
        (drawn at temperature 1, no gradient) instead of the truth. The first step of every
        segment reads the truth, as in Magenta.

        Same math as a step-by-step loop, but the LSTM runs in parallel between the steps where
        some example reads a sample, so a small probability costs little more than teacher
        forcing."""
        batch, steps, _ = prev.shape
        cond, prev = self._segments(z, prev)
        use_sample = torch.rand(prev.shape[0], len(self.decoders), prev.shape[1],
                                device=prev.device) < probability
        use_sample[:, :, 0] = False
        logits = []
        for k, (decoder, part) in enumerate(zip(self.decoders, prev.split(self.decoder_depths, -1))):
            part_depths = self.part_depths if len(self.decoders) == 1 else [self.part_depths[k]]
            mask = use_sample[:, k]
            bounds = [0, *mask.any(0).nonzero().flatten().tolist(), part.shape[1]]
            state, outputs = decoder.init_state(cond), []
            for begin, end in zip(bounds[:-1], bounds[1:]):
                inputs = part[:, begin:end]
                if begin > 0:
                    with torch.no_grad():
                        last = outputs[-1][:, -1].detach()
                        sampled = torch.cat([F.one_hot(torch.multinomial(torch.softmax(p, -1), 1)[:, 0],
                                                       p.shape[-1]).float()
                                             for p in last.split(part_depths, -1)], -1)
                    first = torch.where(mask[:, begin].unsqueeze(1), sampled, inputs[:, 0])
                    inputs = torch.cat([first.unsqueeze(1), inputs[:, 1:]], 1)
                out, state = decoder(inputs, cond, state)
                outputs.append(out)
            logits.append(torch.cat(outputs, 1))
        return torch.cat(logits, -1).reshape(batch, steps, -1)

    def choose(self, logits: torch.Tensor, temperature: float,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Tokens [B, K] from logits [B, sum(depths)]: argmax at temperature 0, else a categorical
        draw per part from softmax(logits / temperature)."""
        tokens = []
        silent = getattr(self, "silent_parts", ())  # parts kept silent (bundle decoding.silent_parts)
        for k, part in enumerate(logits.split(self.part_depths, -1)):
            if k in silent:
                tokens.append(torch.zeros(part.shape[0], dtype=torch.long, device=part.device))
            elif temperature <= 0:
                tokens.append(part.argmax(-1))
            else:
                probs = torch.softmax(part / temperature, -1)
                tokens.append(torch.multinomial(probs, 1, generator=generator).squeeze(1))
        return torch.stack(tokens, -1)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Free-running decoding from z [B, Z] using only the step functions.

        Returns int64 tokens [B, T] (one part) or [B, T, K]. ``temperature=0`` is argmax, which is
        what the ONNX export is checked against token for token."""
        steps, segment = self.config.max_seq_len, self.segment_length
        prev = z.new_zeros(z.shape[0], sum(self.part_depths))
        tokens = []
        for t in range(steps):
            if t % segment == 0:
                if self.hierarchical:
                    if t == 0:
                        conductor_state = self.conductor_init(z)
                    cond, conductor_state = self.conductor_step(conductor_state)
                else:
                    cond = z
                state = self.decoder_init(cond)
            logits, state = self.decoder_step(prev, cond, state)
            token = self.choose(logits, temperature, generator)
            prev = self.one_hot(token)
            tokens.append(token)
        out = torch.stack(tokens, 1)
        return out.squeeze(-1) if len(self.part_depths) == 1 else out

    @torch.no_grad()
    def reconstruct(self, inputs: torch.Tensor, lengths: torch.Tensor, temperature: float = 0.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Encode to the posterior mean and decode it (argmax by default)."""
        mu, _ = self.encode(inputs, lengths)
        return self.sample(mu, temperature, generator)

    # -- the evaluation interface (training/models/base.py) ------------------------------------
    def generate(self, z, length, temperature=0.0, generator=None):
        """:meth:`sample` (its window of ``max_seq_len`` steps, whatever ``length``)."""
        return self.sample(z, temperature, generator)

    @torch.no_grad()
    def predict_next(self, batch, z):
        """Teacher-forced argmax tokens, shaped like ``batch["tokens"]``."""
        tokens = batch["tokens"]
        parts = tokens if tokens.dim() == 3 else tokens.unsqueeze(-1)
        prev = F.pad(self.one_hot(parts)[:, :-1], (0, 0, 1, 0))
        logits = self.decode_teacher_forced(z, prev)
        pred = torch.stack([p.argmax(-1) for p in logits.split(self.part_depths, -1)], -1)
        return pred if tokens.dim() == 3 else pred.squeeze(-1)

    # -- training -------------------------------------------------------------------------------
    def loss(self, batch: dict[str, torch.Tensor], step: int):
        """batch: ``inputs`` [B, T, D] float, ``tokens`` [B, T] or [B, T, K] int64, ``lengths`` [B]."""
        inputs, tokens, lengths = batch["inputs"], batch["tokens"], batch["lengths"]
        if tokens.dim() == 2:
            tokens = tokens.unsqueeze(-1)
        mu, sigma = self.encode(inputs, lengths)
        z = mu + sigma * torch.randn_like(sigma)

        target = self.one_hot(tokens)
        prev = F.pad(target[:, :-1], (0, 0, 1, 0))
        if self.training and self.config.word_dropout > 0:
            keep = torch.rand(prev.shape[:2], device=prev.device) >= self.config.word_dropout
            prev = prev * keep.unsqueeze(-1)      # a dropped step reads all zeros, as the first
        probability = self.sampling_probability(step)
        if probability > 0:
            logits = self.decode_scheduled(z, prev, probability)
        else:
            logits = self.decode_teacher_forced(z, prev)

        steps = tokens.shape[1]
        mask = (torch.arange(steps, device=tokens.device).unsqueeze(0)
                < lengths.to(tokens.device).unsqueeze(1)).float()
        recon = torch.zeros_like(mask)
        correct = torch.zeros_like(mask)
        for k, part in enumerate(logits.split(self.part_depths, -1)):
            recon = recon + F.cross_entropy(part.transpose(1, 2), tokens[..., k], reduction="none")
            correct = correct + (part.argmax(-1) == tokens[..., k]).float()
        recon = (recon * mask).sum(1)
        accuracy = (correct * mask).sum() / (mask.sum() * len(self.part_depths)).clamp(min=1)

        kl = gaussian_kl(mu, sigma)
        kl_cost = free_bits_kl(kl, self.config.free_bits)
        beta = self.beta(step)
        loss = recon.mean() + beta * kl_cost.mean()
        metrics = {"loss": loss.item(), "recon": recon.mean().item(), "kl": kl.mean().item(),
                   "kl_bits": kl.mean().item() / 0.6931471805599453,
                   "kl_cost": kl_cost.mean().item(), "beta": beta,
                   "sampling_prob": probability, "accuracy": accuracy.item(),
                   "mu_spread": self.mu_spread}
        return loss, metrics
