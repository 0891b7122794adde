"""The ONNX engine: encode clips to latent codes, decode codes to clips, sample, interpolate, vary.

Torch-free (numpy + onnxruntime). The autoregressive decoder runs one exported step graph per
step; choosing tokens (temperature, seeded RNG) happens in numpy (:mod:`runtime.sampling`)::

    >>> from runtime.engine import Engine, EngineError
    >>> engine = Engine.load(None)               # the embedded default model (mel_2bar)
    >>> engine.name, engine.kind, engine.bars, engine.steps_per_bar, engine.z_size
    ('mel_2bar', 'flat', 2, 16, 128)
    >>> clips = engine.sample(n=4, temperature=0.8, seed=1)    # 4 clips of engine.bars bars
    >>> z = engine.encode(clips)                              # mu, float32 [4, z_size]
    >>> again = engine.decode(z, temperature=0.0)             # argmax decoding
    >>> path = engine.interpolate(clips[0], clips[1], n=5)    # slerp, both ends included
    >>> more = engine.vary(clips[0], n=3, amount=0.3, seed=2)
    >>> longer = engine.continue_(clips[0], bars=2, temperature=0.5, seed=3)  # clip + 2 bars
    >>> played = Engine.load("groove_2bar").groove(drum_clip)       # velocities and timing
    >>> beat = Engine.load("drumify_2bar").drumify(rhythm_clip, temperature=0.5, seed=4)

Every returned clip starts at beat 0 and is ``engine.bars`` bars of 4/4 long (16 steps per bar).
:class:`EngineError` carries a one-line message for the user.

Sample quality guard: a decoded clip that is empty, or far denser than the music the model was
trained on (more notes per bar than ``DENSITY_FACTOR`` times the 99th percentile of its training
windows, recorded in model.json ``data.notes_per_bar``), is decoded again with fresh randomness
(a fresh z too for prior samples), up to ``GUARD_TRIES`` times. What is still degenerate is handed
out all the same, and said: ``engine.warnings`` lists one line per such clip of the last call::

    >>> clips = engine.sample(n=8, temperature=1.5, seed=3)
    >>> engine.warnings                          # [] or ['clip 5: 9.5 notes per bar, ...']
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .bundle import Bundle, BundleError, load_bundle
from .codecs import CodecError, codec_from_config
from .music import Clip, Note
from .quantize import quantize
from .sampling import make_rng, sample_bernoulli, sample_categorical, slerp

#: a clip with more notes per bar than this times the training data's 99th percentile is noise
DENSITY_FACTOR = 1.5
#: decodes of a degenerate clip before it is handed out with a warning
GUARD_TRIES = 4


class EngineError(ValueError):
    """Something the engine cannot do with this input or bundle; one line for the user."""


class Engine:
    """A loaded model bundle plus the decode loops that drive its step graphs."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        meta = bundle.meta
        self.name: str = bundle.name
        self.kind: str = bundle.kind
        self.bars: int = bundle.bars
        self.steps_per_bar: int = bundle.steps_per_bar
        self.z_size: int = bundle.z_size
        try:
            self.codec = codec_from_config(meta["codec"])
        except (CodecError, TypeError) as exc:
            raise EngineError(f"{bundle.path / 'model.json'}: bad codec block ({exc})") from None
        self.decoding: dict = dict(meta.get("decoding") or {})
        self.steps_per_quarter = self.steps_per_bar // 4
        self.total_steps = self.bars * self.steps_per_bar
        #: notes per generation of a note-event model (it has no fixed steps)
        self.notes = int(self.decoding.get("notes", 0))
        #: softmax widths side by side in the decoder's logits (three for the trio)
        depths = meta.get("output_depths") or getattr(self.codec, "output_depths", None)
        self.output_depths = [int(d) for d in (depths or [self.codec.output_depth])]
        density = (meta.get("data") or {}).get("notes_per_bar") or {}
        p99 = density.get("p99") if isinstance(density, dict) else None
        #: notes per bar above which a decoded clip counts as noise (None: only empty is checked)
        self.max_notes_per_bar = (float(p99) * DENSITY_FACTOR
                                  if isinstance(p99, (int, float)) and p99 > 0 else None)
        #: one line per degenerate clip handed out by the last decode/sample/interpolate/vary
        self.warnings: list[str] = []
        #: indexes of decoder parts that always decode to silence (model.json
        #: ``decoding.silent_parts``, named as the codec's parts)
        names = list(getattr(self.codec, "part_names", ()) or ())
        silent = self.decoding.get("silent_parts") or []
        self.silent_parts = {names.index(p) for p in silent if isinstance(p, str) and p in names}

    # -- loading --------------------------------------------------------------------------------
    @classmethod
    def load(cls, model=None, providers=None, threads=None) -> "Engine":
        """``None`` -> the embedded default (mel_2bar); a name -> runtime/models/<name>/; else a
        bundle folder. Raises :class:`EngineError` with the bundle's one-line complaint."""
        try:
            return cls(load_bundle(model, providers=providers, threads=threads))
        except BundleError as exc:
            raise EngineError(str(exc)) from None

    @property
    def length_beats(self) -> float:
        return self.total_steps / self.steps_per_quarter

    def __repr__(self) -> str:
        return (f"Engine({self.name!r}, kind={self.kind!r}, bars={self.bars}, z_size={self.z_size}, "
                f"providers={self.bundle.providers})")

    # -- clips <-> model input ------------------------------------------------------------------
    def prepare(self, clip: Clip, beats: float | None = None) -> Clip:
        """Fit a user clip to the model: quantise, cut or pad to ``bars`` bars (``beats`` beats if
        given), and make it something the codec represents (highest voice for melodies, pitches
        folded into range by octaves, drums flagged as drums, any meter read beat for beat as
        4/4). A groove model's clip keeps its timing and velocities (a tap model's notes, of any
        instrument, become taps) and is not cut: its tokens are (:meth:`tokens`)."""
        if not isinstance(clip, Clip):
            raise EngineError(f"expected a Clip, got {type(clip).__name__}")
        beats = self.length_beats if beats is None else beats
        if self.kind == "groove":
            clip = clip.copy(time_signature=(4, 4), tempo_changes=[], meter_changes=[])
            if self.codec.input_transform == "tap":
                return self.codec.as_taps(clip)
            return clip.copy(notes=[replace(n, is_drum=True) for n in clip.notes], is_drum=True)
        if self.kind == "note_events":  # any meter and polyphony: cut to length, fold range
            low, high = self.codec.min_pitch, self.codec.max_pitch
            notes = [_into_range(n, low, high) for n in clip.notes if not n.is_drum]
            return clip.copy(notes=notes, is_drum=False, tempo_changes=[],
                             meter_changes=[]).slice(0.0, beats)
        # MusicVAE models read 4/4 bars; a clip in another meter is read beat for beat as 4/4.
        clip = clip.copy(time_signature=(4, 4), tempo_changes=[], meter_changes=[])
        clip = quantize(clip, self.steps_per_quarter)
        clip = clip.slice(0.0, beats)
        codec = self.codec.name
        if codec == "melody":
            low, high = self.codec.min_pitch, self.codec.max_pitch
            notes = [_into_range(n, low, high) for n in clip.notes if not n.is_drum]
            clip = clip.copy(notes=_highest_voice(notes))
        elif codec == "drums":
            clip = clip.copy(notes=[replace(n, is_drum=True) for n in clip.notes], is_drum=True)
        elif codec == "trio":
            from .codecs.trio import trio_part

            low, high = self.codec.melody.min_pitch, self.codec.melody.max_pitch
            by_part = {"melody": [], "bass": [], "drums": []}
            for n in clip.notes:
                part = trio_part(n)
                if part is not None:
                    by_part[part].append(n if part == "drums" else _into_range(n, low, high))
            clip = clip.copy(notes=_highest_voice(by_part["melody"]) + _highest_voice(by_part["bass"])
                             + by_part["drums"], is_drum=False)
        return clip

    def tokens(self, clip: Clip, steps: int | None = None) -> np.ndarray:
        """Codec tokens of a prepared clip, exactly ``bars * steps_per_bar`` (or ``steps``) steps
        long."""
        steps = self.total_steps if steps is None else steps
        try:
            if self.kind == "groove":  # a user's kit: the General MIDI drum table
                tokens = self.codec.encode(self.prepare(clip), inference=True)
            else:
                tokens = self.codec.encode(self.prepare(clip, steps / self.steps_per_quarter))
        except CodecError as exc:
            raise EngineError(f"{self.name} cannot encode this clip: {exc}") from None
        if self.kind == "note_events":
            return tokens
        if len(tokens) < steps:
            pad = np.zeros((steps - len(tokens),) + tokens.shape[1:], tokens.dtype)
            tokens = np.concatenate([tokens, pad])
        return tokens[:steps]

    def to_clip(self, tokens: np.ndarray) -> Clip:
        """A clip for decoded tokens, exactly ``bars`` bars long (later notes are dropped)."""
        clip = self.codec.decode(np.asarray(tokens))
        return clip.slice(0.0, self.length_beats)

    # -- encode -----------------------------------------------------------------------------
    def encode(self, clips: list[Clip]) -> np.ndarray:
        """Posterior means ``mu`` for a list of clips -> float32 [B, z_size]."""
        if isinstance(clips, Clip):
            clips = [clips]
        if not clips:
            return np.zeros((0, self.z_size), np.float32)
        if self.kind == "note_events":  # note counts differ per clip: one encoder call each
            return np.concatenate([self._encode_events(c) for c in clips]).astype(np.float32)
        tokens = np.stack([self.tokens(c) for c in clips])
        inputs = np.stack([self.codec.to_input(t) for t in tokens]).astype(np.float32)
        lengths = np.full(len(clips), self.total_steps, np.int64)
        return self.run_encoder(inputs, lengths)

    def run_encoder(self, inputs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """mu from the encoder graph (``lengths`` only goes in where the graph reads it)."""
        spec = self.bundle.graph("encoder")
        feeds = {"inputs": inputs, "lengths": lengths}
        args = [feeds.get(i["name"]) for i in spec["inputs"]]
        if any(a is None for a in args):
            raise EngineError(f"{self.bundle.path / spec['file']}: encoder inputs must be named "
                              f"'inputs' and 'lengths', not {[i['name'] for i in spec['inputs']]}")
        mu = self.bundle.run("encoder", *args)[0]
        return mu.astype(np.float32)

    def _encode_events(self, clip: Clip) -> np.ndarray:
        tokens = self.tokens(clip)[: self.notes]
        if not len(tokens):
            raise EngineError(f"{self.name} cannot encode an empty clip (no notes in the first "
                              f"{self.bars} bars)")
        return self.run_encoder(tokens[None], np.array([len(tokens)], np.int64))

    # -- decode -----------------------------------------------------------------------------
    def decode(self, z: np.ndarray, temperature: float = 1.0, seed: int | None = None,
               guard: bool = True, redraw_z: bool = False) -> list[Clip]:
        """Clips for latent codes ``z`` [B, z_size] (a single [z_size] vector is one clip).

        With ``guard`` a degenerate clip (see :meth:`degenerate`) is decoded again with another
        seed (and, with ``redraw_z``, another prior code) up to ``GUARD_TRIES`` times; what stays
        degenerate is returned and listed in ``self.warnings``."""
        z = np.asarray(z, dtype=np.float32)
        clips = [self.to_clip(t) for t in self.decode_tokens(z, temperature, seed)]
        self.warnings = []
        if not guard:
            return clips
        z = z[None] if z.ndim == 1 else z.copy()
        rng = make_rng(None if seed is None else seed + 7919)
        for i, clip in enumerate(clips):
            reason = self.degenerate(clip)
            for _ in range(GUARD_TRIES if reason and (temperature > 0 or redraw_z) else 0):
                if redraw_z:
                    z[i] = rng.standard_normal(self.z_size).astype(np.float32)
                clip = self.to_clip(self.decode_tokens(z[i:i + 1], temperature,
                                                       int(rng.integers(2**31)))[0])
                reason = self.degenerate(clip)
                if not reason:
                    break
            clips[i] = clip
            if reason:
                self.warnings.append(f"clip {i + 1}: {reason}")
        return clips

    def degenerate(self, clip: Clip) -> str | None:
        """Why ``clip`` is no music the model should hand out (empty, or far denser than its
        training data), or None."""
        if not clip.notes:
            return "no notes at all"
        per_bar = len(clip.notes) / max(1, self.bars)
        if self.max_notes_per_bar is not None and per_bar > self.max_notes_per_bar:
            return (f"{per_bar:.1f} notes per bar, far denser than the training data "
                    f"(99th percentile {self.max_notes_per_bar / DENSITY_FACTOR:.1f})")
        return None

    def decode_tokens(self, z: np.ndarray, temperature: float = 1.0, seed: int | None = None,
                      hits: np.ndarray | None = None) -> np.ndarray:
        """Token arrays [B, steps, ...] for latent codes; all codes decode together as one batch.
        ``hits`` [B, steps, classes] (groove models only) keeps those hits: the model plays
        their velocities and timing."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.z_size:
            raise EngineError(f"{self.name} decodes codes of shape [B, {self.z_size}], got {list(z.shape)}")
        if not np.isfinite(z).all():
            raise EngineError("latent codes contain NaN or infinity")
        if not np.isfinite(temperature) or temperature < 0:
            raise EngineError(f"temperature must be a number >= 0, got {temperature}")
        rng = make_rng(seed)
        if self.kind == "groove":
            return self._groove_loop(z, temperature, rng, hits)
        if hits is not None:
            raise EngineError(f"{self.name} is no groove model: it cannot keep given hits")
        if self.kind == "flat":
            return self._step_loop(z, self.total_steps, temperature, rng)[0]
        if self.kind == "hierarchical":
            return self._decode_hierarchical(z, temperature, rng)
        return self._decode_events(z, temperature, rng)

    def _step_loop(self, cond: np.ndarray, steps: int, temperature: float, rng,
                   prev: np.ndarray | None = None, state=None):
        """``steps`` x decoder_step(prev, cond, *state) -> (logits, *state), starting from
        decoder_init(cond); returns (tokens [B, steps(, parts)], last prev input)."""
        if state is None:
            state = self.bundle.run("decoder_init", cond)
        batch, width, parts = cond.shape[0], sum(self.output_depths), len(self.output_depths)
        tokens = np.zeros((batch, steps) + ((parts,) if parts > 1 else ()), np.int64)
        # The hot loop (per step: one graph call, one sampling draw, one feedback): the session
        # and its names are fetched once; the one-hot feedback is written into one reused buffer
        # (runs are synchronous, so rewriting it between steps is safe).
        session = self.bundle.sessions["decoder_step"]
        spec = self.bundle.graph("decoder_step")
        in_names = [i["name"] for i in spec["inputs"]]
        out_names = [o["name"] for o in spec["outputs"]]
        if len(in_names) != 2 + len(state):
            raise EngineError(f"{self.bundle.path / spec['file']}: decoder_step takes "
                              f"{len(in_names)} inputs, got {2 + len(state)}")
        feed = np.zeros((batch, width), np.float32)
        if prev is not None:
            feed[...] = prev
        cond = np.ascontiguousarray(cond, np.float32)
        feeds = dict(zip(in_names, [feed, cond, *state]))
        one_hot = self.decoding.get("feedback", "one_hot") == "one_hot" and parts == 1
        bound = _StepBinding.make(session, in_names, out_names, feed, cond, state) if one_hot else None
        rows, hot = np.arange(batch), feed.argmax(axis=-1)   # where each row's one hot is
        if batch == 1:
            hot = int(hot[0])
        for t in range(steps):
            if bound is not None:
                logits = bound.run(t)
            else:
                logits, *state = session.run(out_names, feeds)
                feeds.update(zip(in_names[2:], state))
            if one_hot:
                chosen = sample_categorical(logits, temperature, rng)
                tokens[:, t] = chosen
                if batch == 1:  # scalar indexing: far cheaper than fancy indexing per step
                    feed[0, hot] = 0.0
                    hot = int(chosen[0])
                    feed[0, hot] = 1.0
                else:
                    feed[rows, hot] = 0.0
                    feed[rows, chosen] = 1.0
                    hot = chosen
            else:
                tokens[:, t] = self.choose(logits, temperature, rng)
                feed = feeds[in_names[0]] = self._feedback(tokens[:, t])
        return tokens, feed.copy()

    def choose(self, logits: np.ndarray, temperature: float, rng) -> np.ndarray:
        """Tokens for one step's logits: [B] for one softmax, [B, parts] when the decoder emits
        several side by side (the trio's melody, bass and drums), each part sampled on its own."""
        if len(self.output_depths) == 1:
            return sample_categorical(logits, temperature, rng)
        bounds = np.cumsum([0] + self.output_depths)
        # a part that was silent in all the training data (the trio's drums, trained on scores
        # without drums) stays silent: its head never learnt what playing would mean
        return np.stack([np.zeros(len(logits), np.int64) if k in self.silent_parts
                         else sample_categorical(logits[:, a:b], temperature, rng)
                         for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))], axis=-1)

    def _feedback(self, tokens: np.ndarray) -> np.ndarray:
        """The decoder's next input for chosen tokens [B] or [B, parts]: MusicVAE feeds back the
        one-hot of the output token (512 wide for drums), concatenated over parts."""
        if self.decoding.get("feedback", "one_hot") == "codec_input":
            return self.codec.to_input(tokens).astype(np.float32)
        tokens = tokens.reshape(len(tokens), -1)
        out = np.zeros((len(tokens), sum(self.output_depths)), np.float32)
        rows = np.arange(len(tokens))
        offset = 0
        for k, depth in enumerate(self.output_depths):
            out[rows, offset + tokens[:, k]] = 1.0
            offset += depth
        return out

    def _groove_loop(self, z, temperature, rng, hits=None):
        """GrooVAE's decoder: per step the graph gives hit logits, velocities and offsets; hits
        are drawn here (Bernoulli at ``temperature``, 0 = logit > 0) or taken from ``hits``, and
        the chosen hits with their velocities and offsets (zero elsewhere) are the next input."""
        batch, c = z.shape[0], self.codec.num_classes
        if hits is not None:
            hits = np.asarray(hits, np.float32)
            if hits.shape != (batch, self.total_steps, c):
                raise EngineError(f"hits to keep must have shape {[batch, self.total_steps, c]}, "
                                  f"got {list(hits.shape)}")
        state = self.bundle.run("decoder_init", z)
        prev = np.zeros((batch, 3 * c), np.float32)
        values = np.zeros((batch, self.total_steps, 3 * c), np.float32)
        for t in range(self.total_steps):
            outputs, *state = self.bundle.run("decoder_step", prev, z, *state)
            chosen = (hits[:, t] if hits is not None
                      else sample_bernoulli(outputs[:, :c], temperature, rng).astype(np.float32))
            prev = np.concatenate([chosen, outputs[:, c:2 * c] * chosen,
                                   outputs[:, 2 * c:] * chosen], -1).astype(np.float32)
            values[:, t] = prev
        return self.codec.from_output(values)

    def _decode_hierarchical(self, z, temperature, rng):
        """The conductor emits one embedding per bar; the bar decoder restarts from it (the
        previous token carries over the bar line, as in Magenta, unless model.json says not)."""
        state = self.bundle.run("conductor_init", z)
        carry_prev = bool(self.decoding.get("carry_prev_across_bars", True))
        prev, bars = None, []
        for _ in range(self.bars):
            embedding, *state = self.bundle.run("conductor_step", *state)
            tokens, last = self._step_loop(embedding, self.steps_per_bar, temperature, rng,
                                           prev if carry_prev else None)
            prev = last
            bars.append(tokens)
        return np.concatenate(bars, axis=1)

    def _decode_events(self, z, temperature, rng):
        """Note unrolling: per note, dT, then T given dT, then P given both (seed 000)."""
        batch = z.shape[0]
        state = self.bundle.run("decoder_init", z)
        prev = np.tile(np.asarray(self.decoding["start_note"], np.int64), (batch, 1))
        notes = np.zeros((batch, self.notes, 3), np.int64)
        for i in range(self.notes):
            logits, *state = self.bundle.run("decoder_step_dt", prev, z, *state)
            dt = sample_categorical(logits, temperature, rng)
            logits, *state = self.bundle.run("decoder_step_t", dt, *state)
            t = sample_categorical(logits, temperature, rng)
            logits, *state = self.bundle.run("decoder_step_p", dt, t, *state)
            p = sample_categorical(logits, temperature, rng)
            prev = notes[:, i] = np.stack([dt, t, p], axis=-1)
        return notes

    # -- generation -------------------------------------------------------------------------
    def sample(self, n: int = 1, temperature: float = 1.0, seed: int | None = None) -> list[Clip]:
        """``n`` clips from the prior: z ~ N(0, I), then decoded."""
        if int(n) < 1:
            raise EngineError(f"n must be at least 1, got {n}")
        rng = make_rng(seed)
        z = rng.standard_normal((int(n), self.z_size)).astype(np.float32)
        return self.decode(z, temperature, int(rng.integers(2**31)), redraw_z=True)

    @staticmethod
    def slerp(z0: np.ndarray, z1: np.ndarray, t: float) -> np.ndarray:
        """Spherical interpolation (linear where z0, z1 are (anti)parallel or zero)."""
        return slerp(z0, z1, t)

    def interpolate(self, clip_a: Clip, clip_b: Clip, n: int = 5, temperature: float = 0.5,
                    seed: int | None = None) -> list[Clip]:
        """``n`` clips on the slerp path from ``clip_a``'s code to ``clip_b``'s, ends included."""
        if int(n) < 2:
            raise EngineError(f"interpolation needs n >= 2 steps, got {n}")
        za, zb = self.encode([clip_a, clip_b])
        z = np.stack([slerp(za, zb, t) for t in np.linspace(0.0, 1.0, int(n))])
        return self.decode(z, temperature, seed)

    def vary(self, clip: Clip, n: int = 1, amount: float = 0.5, temperature: float = 0.5,
             seed: int | None = None) -> list[Clip]:
        """``n`` variations: the clip's code slerped towards random prior codes by ``amount``
        (0 = the clip itself, 1 = unrelated samples)."""
        if int(n) < 1:
            raise EngineError(f"n must be at least 1, got {n}")
        if not 0.0 <= float(amount) <= 1.0:
            raise EngineError(f"amount must be in 0..1, got {amount}")
        rng = make_rng(seed)
        z = self.encode([clip])
        noise = rng.standard_normal((int(n), self.z_size)).astype(np.float32)
        zs = slerp(np.repeat(z, int(n), axis=0), noise, float(amount))
        return self.decode(zs, temperature, int(rng.integers(2**31)))

    # -- Groove, Drumify, Continue ----------------------------------------------------------
    #: the tools of DESIGN.md an engine call serves, and the groove input each groove tool needs
    TOOLS = ("sample", "interpolate", "vary", "continue", "groove", "drumify")
    GROOVE_INPUTS = {"groove": "humanize", "drumify": "tap"}

    def offers(self, tool: str) -> bool:
        """Whether this model serves ``tool`` (one of :data:`TOOLS`), as its engine call does::

            >>> [t for t in Engine.TOOLS if Engine.load("mel_2bar").offers(t)]
            ['sample', 'interpolate', 'vary', 'continue']
        """
        if tool == "sample":
            return True
        if tool in ("interpolate", "vary"):
            return "encoder" in (self.bundle.meta.get("graphs") or {})
        if tool == "continue":
            return self.kind == "flat" and self.codec.name in ("melody", "drums")
        if tool in self.GROOVE_INPUTS:
            return self.kind == "groove" and \
                getattr(self.codec, "input_transform", None) == self.GROOVE_INPUTS[tool]
        return False

    def groove(self, clip: Clip, temperature: float = 0.5, seed: int | None = None,
               keep_hits: bool = True) -> Clip:
        """Groove (humanize): the clip's drum hits played with velocities and microtiming.

        Needs a groove model with the ``humanize`` input (groove_2bar). The clip is read as a
        quantized, flat-velocity pattern (its own timing and velocities are not looked at), in
        windows of the model's bars; with ``keep_hits`` (default) exactly the clip's hits come
        back (General MIDI pitches of their class), else the model may add or drop hits
        (Bernoulli at ``temperature``). The result is the clip's length in whole bars."""
        self._need_groove("humanize", "groove", "groove_2bar")
        windows, length = self._groove_windows(clip, "drum hits")
        mu = self.run_encoder(self.codec.to_input(windows).astype(np.float32),
                              np.full(len(windows), self.total_steps, np.int64))
        hits = windows[..., :self.codec.num_classes] if keep_hits else None
        self.warnings = []
        return self._joined(self.decode_tokens(mu, temperature, seed, hits=hits), clip, length)

    def drumify(self, clip: Clip, temperature: float = 0.5, seed: int | None = None) -> Clip:
        """Drumify (tap2drum): a drum groove for the rhythm of any clip.

        Needs a groove model with the ``tap`` input (drumify_2bar). Every note of the clip, of
        any instrument, is a tap (timing kept; the loudest of a 16th counts); the model answers
        with full drums, hits drawn at ``temperature`` (0: the likeliest pattern). A window
        with taps that comes back empty is drawn again with fresh randomness, up to
        ``GUARD_TRIES`` times (``engine.warnings`` says when that did not help); a window
        without taps stays silent. The result is the clip's length in whole bars."""
        self._need_groove("tap", "drumify", "drumify_2bar")
        windows, length = self._groove_windows(clip, "notes")
        mu = self.run_encoder(self.codec.to_input(windows).astype(np.float32),
                              np.full(len(windows), self.total_steps, np.int64))
        c, rng = self.codec.num_classes, make_rng(seed)
        tapped = windows[..., :c].any(axis=(1, 2))
        tokens = np.zeros_like(windows)
        tokens[tapped] = self.decode_tokens(mu[tapped], temperature, int(rng.integers(2**31)))
        self.warnings = []
        for i in np.flatnonzero(tapped):
            for _ in range(GUARD_TRIES if temperature > 0 else 0):
                if tokens[i, :, :c].any():
                    break
                tokens[i:i + 1] = self.decode_tokens(mu[i:i + 1], temperature,
                                                     int(rng.integers(2**31)))
            if not tokens[i, :, :c].any():
                self.warnings.append(f"window {i + 1}: no drum hits for these taps")
        return self._joined(tokens, clip, length)

    def continue_(self, clip: Clip, bars: int = 2, temperature: float = 0.5,
                  seed: int | None = None) -> Clip:
        """Continue: the clip, kept as it is, followed by ``bars`` new bars in its style.

        For flat melody and drum models (mel_2bar, drums_2bar). The clip is read in whole bars;
        each round encodes the last window of the model's length (the clip tiled if shorter) to
        z, feeds the decoder the last ``bars - 1`` model bars of the music so far as if it had
        written them (teacher forcing), then lets it run free for the bar(s) after them at
        ``temperature``, until ``bars`` bars are written (docs/groove.md#continue)."""
        if not self.offers("continue"):
            raise EngineError(f"{self.name} cannot continue a clip (continue needs a 2-bar "
                              f"melody or drums model such as mel_2bar or drums_2bar)")
        if isinstance(bars, bool) or int(bars) != bars or not 1 <= int(bars) <= 64:
            raise EngineError(f"bars must be a whole number in 1..64, got {bars}")
        if not np.isfinite(temperature) or temperature < 0:
            raise EngineError(f"temperature must be a number >= 0, got {temperature}")
        bars, spb, window = int(bars), self.steps_per_bar, self.total_steps
        clip_bars = self._whole_bars(clip)
        music = self.tokens(clip, clip_bars * spb)
        if not music.any():
            raise EngineError(f"nothing to continue: no notes {self.name} can read in the clip")
        primer = min(len(music), window - spb)
        rng = make_rng(seed)
        self.warnings = []
        for attempt in range(GUARD_TRIES + 1):
            tokens = music
            while len(tokens) < len(music) + bars * spb:
                recent = tokens[-window:] if len(tokens) >= window else np.resize(tokens, window)
                z = self.run_encoder(self.codec.to_input(recent)[None].astype(np.float32),
                                     np.array([window], np.int64))
                tokens = np.concatenate([tokens, self._primed(z, tokens[-primer:], window - primer,
                                                              temperature, rng)])
            new = tokens[len(music):len(music) + bars * spb]
            added = self.codec.decode(new)
            if added.notes or temperature <= 0 or attempt == GUARD_TRIES:
                break
        if not added.notes:
            self.warnings.append(f"clip 1: the {bars} new bar(s) have no notes")
        start = clip_bars * 4.0
        notes = list(clip.notes) + [replace(n, start=n.start + start, end=n.end + start,
                                            program=_program(clip, n)) for n in added.notes]
        return clip.copy(notes=notes, length=start + bars * 4.0)

    def _primed(self, z, primer: np.ndarray, steps: int, temperature: float, rng) -> np.ndarray:
        """``steps`` tokens after the decoder was fed ``primer`` as its own first tokens."""
        state = self.bundle.run("decoder_init", z)
        prev = np.zeros((1, sum(self.output_depths)), np.float32)
        for token in primer:
            _, *state = self.bundle.run("decoder_step", prev, z, *state)
            prev = self._feedback(np.array([token]))
        return self._step_loop(z, steps, temperature, rng, prev=prev, state=state)[0][0]

    def _need_groove(self, transform: str, tool: str, model: str) -> None:
        if not self.offers(tool):
            raise EngineError(f"{self.name} cannot {tool}: {tool} needs a groove model with the "
                              f"{transform} input, such as {model}")

    def _whole_bars(self, clip: Clip) -> int:
        if not isinstance(clip, Clip):
            raise EngineError(f"expected a Clip, got {type(clip).__name__}")
        return max(1, int(np.ceil(clip.length * self.steps_per_quarter / self.steps_per_bar - 1e-9)))

    def _groove_windows(self, clip: Clip, what: str) -> tuple[np.ndarray, int]:
        """The clip's groove tokens cut into windows of the model's length -> ([N, T, 27], bars):
        encoded whole, so a hit played just before a window's first beat belongs to it."""
        bars = self._whole_bars(clip)
        windows = -(-bars // self.bars)
        tokens = self.tokens(clip, windows * self.total_steps)
        if not tokens[:, :self.codec.num_classes].any():
            raise EngineError(f"no {what} to work with in the clip (drum hits are read with the "
                              f"General MIDI drum map)" if what == "drum hits" else
                              f"no {what} to work with in the clip")
        return tokens.reshape(windows, self.total_steps, -1), bars

    def _joined(self, windows: np.ndarray, clip: Clip, bars: int) -> Clip:
        """Groove windows [N, T, 27] decoded as one performance (a hit ahead of a window's first
        beat stays ahead of it), cut to ``bars`` bars, at the input's tempo."""
        played = self.codec.decode(windows.reshape(-1, windows.shape[-1]), tempo=clip.tempo)
        return played.slice(0.0, bars * 4.0)


class _StepBinding:
    """decoder_step on preallocated buffers: two ONNX Runtime IOBindings (state A -> B, B -> A)
    over numpy arrays, so a step is one ``run_with_iobinding`` that allocates nothing. The
    buffers live here as long as the bindings that point into them."""

    @classmethod
    def make(cls, session, in_names, out_names, feed, cond, state) -> "_StepBinding | None":
        """``None`` where it does not apply (not on the CPU, state not float32): plain runs."""
        if session.get_providers()[:1] != ["CPUExecutionProvider"] or \
                len(out_names) != len(in_names) - 1 or \
                any(np.asarray(a).dtype != np.float32 for a in state):
            return None
        return cls(session, in_names, out_names, feed, cond, state)

    def __init__(self, session, in_names, out_names, feed, cond, state):
        self.session = session
        self.inputs = [feed, cond]                    # rewritten in place by the caller
        self.ping = [np.array(a, np.float32, order="C") for a in state]
        self.pong = [np.empty_like(a) for a in self.ping]
        self.logits = np.empty_like(feed)
        self.bindings = [self._bind(in_names, out_names, self.ping, self.pong),
                         self._bind(in_names, out_names, self.pong, self.ping)]

    def _bind(self, in_names, out_names, src, dst):
        binding = self.session.io_binding()
        for name, array in zip(in_names, self.inputs + src):
            binding.bind_input(name, "cpu", 0, np.float32, list(array.shape), array.ctypes.data)
        for name, array in zip(out_names, [self.logits] + dst):
            binding.bind_output(name, "cpu", 0, np.float32, list(array.shape), array.ctypes.data)
        return binding

    def run(self, step: int) -> np.ndarray:
        """Step ``step`` of the loop; returns the logits buffer (overwritten by the next)."""
        self.session.run_with_iobinding(self.bindings[step % 2])
        return self.logits


def _program(clip: Clip, note: Note) -> int:
    """The program of the clip's first pitched note (a continuation plays the same instrument)."""
    if note.is_drum:
        return note.program
    return next((n.program for n in clip.notes if not n.is_drum), note.program)


def _into_range(note: Note, low: int, high: int) -> Note:
    """Move a note by octaves until it lies in low..high (the model's pitch range)."""
    pitch = note.pitch
    while pitch < low and pitch + 12 <= 127:
        pitch += 12
    while pitch > high and pitch - 12 >= 0:
        pitch -= 12
    return note if pitch == note.pitch else replace(note, pitch=pitch)


def _highest_voice(notes: list[Note]) -> list[Note]:
    """Monophonic line from possibly overlapping notes: at each onset the highest note wins and
    cuts the note sounding before it (the 'skyline' reduction)."""
    by_start: dict[float, Note] = {}
    for n in notes:
        if n.start not in by_start or n.pitch > by_start[n.start].pitch:
            by_start[n.start] = n
    line = sorted(by_start.values(), key=lambda n: n.start)
    out = []
    for i, n in enumerate(line):
        end = n.end if i + 1 == len(line) else min(n.end, line[i + 1].start)
        if end > n.start:
            out.append(replace(n, end=end))
    return out
