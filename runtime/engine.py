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
from .decoding import EngineError, decoding_for
from .defaults import default
from .dynamics import mean_velocity
from .music import Clip, Note
from .sampling import make_rng, slerp

#: a clip with more notes per bar than this times the training data's 99th percentile is noise
DENSITY_FACTOR = 1.5
#: decodes of a degenerate clip before it is handed out with a warning
GUARD_TRIES = 4


class Engine:
    """A loaded model bundle plus the tools; ``engine.decoder`` (runtime/decoding.py, one class
    per bundle kind) runs its step graphs."""

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
        #: the bundle kind's decoder: encodes, decodes and continues through its graphs
        self.decoder = decoding_for(self.kind)(self)

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
        """Fit a user clip to the model: cut or pad to ``bars`` bars (``beats`` beats if given)
        and made something the codec represents, by the codec's own rules
        (:meth:`runtime.codecs.base.Codec.fit`): quantised and any meter read beat for beat as
        4/4 for grid codecs, pitches folded into range by octaves, the highest voice for
        melodies, drums flagged as drums. A groove model's clip keeps its timing and
        velocities (a tap model's notes, of any instrument, become taps) and is not cut: its
        tokens are (:meth:`tokens`)."""
        if not isinstance(clip, Clip):
            raise EngineError(f"expected a Clip, got {type(clip).__name__}")
        beats = self.length_beats if beats is None else beats
        return self.codec.fit(clip, beats, self.steps_per_quarter)

    def tokens(self, clip: Clip, steps: int | None = None) -> np.ndarray:
        """Codec tokens of a prepared clip, exactly ``bars * steps_per_bar`` (or ``steps``) steps
        long (a note-event model: every note the clip has, no padding)."""
        steps = self.total_steps if steps is None else steps
        try:
            return self.decoder.tokens(clip, steps)
        except CodecError as exc:
            raise EngineError(f"{self.name} cannot encode this clip: {exc}") from None

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
        return self.decoder.encode(clips)

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
                    z[i] = self.decoder.prior(1, rng)[0]
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
        z = self._latents(z, temperature)
        rng = make_rng(seed)
        if hits is not None and not self.decoder.takes_hits:
            raise EngineError(f"{self.name} is no groove model: it cannot keep given hits")
        return self.decoder.decode(z, temperature, rng, hits)

    def decode_values(self, z: np.ndarray, temperature: float = 1.0, seed: int | None = None,
                      hits: np.ndarray | None = None) -> np.ndarray:
        """A groove model's decoding before the codec rounds it to tokens: float32 [B, steps,
        3 x classes], per step what the decoder fed back to the next step (the chosen hits 0/1,
        velocities in [0, 1], offsets in [-1, 1]; with ``decoding.feedback_mask`` "none" every
        drum's velocity and offset, as Magenta.js' ``decoder.decode`` returns them)::

            >>> engine.decode_values(z, temperature=0.0).shape      # a 2-bar GrooVAE
            (1, 32, 27)
        """
        if not self.decoder.continuous:
            raise EngineError(f"{self.name} is no groove model: decode_values is for GrooVAE")
        z = self._latents(z, temperature)
        return self.decoder.values(z, temperature, make_rng(seed), hits)

    def _latents(self, z, temperature: float) -> np.ndarray:
        """Latent codes as float32 [B, z_size] (one code may come as [z_size]), checked with the
        temperature (one line each)."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.z_size:
            raise EngineError(f"{self.name} decodes codes of shape [B, {self.z_size}], got {list(z.shape)}")
        if not np.isfinite(z).all():
            raise EngineError("latent codes contain NaN or infinity")
        if not np.isfinite(temperature) or temperature < 0:
            raise EngineError(f"temperature must be a number >= 0, got {temperature}")
        return z

    # -- generation -------------------------------------------------------------------------
    def sample(self, n: int = 1, temperature: float = default("sample", "temperature"),
               seed: int | None = None) -> list[Clip]:
        """``n`` clips from the prior (z ~ N(0, I); a segments bundle's own prior), decoded."""
        if int(n) < 1:
            raise EngineError(f"n must be at least 1, got {n}")
        rng = make_rng(seed)
        z = self.decoder.prior(n, rng)
        return self.decode(z, temperature, int(rng.integers(2**31)), redraw_z=True)

    @staticmethod
    def slerp(z0: np.ndarray, z1: np.ndarray, t: float) -> np.ndarray:
        """Spherical interpolation (linear where z0, z1 are (anti)parallel or zero)."""
        return slerp(z0, z1, t)

    def interpolate(self, clip_a: Clip, clip_b: Clip, n: int = default("interpolate", "steps"),
                    temperature: float = default("interpolate", "temperature"),
                    seed: int | None = None) -> list[Clip]:
        """``n`` clips on the slerp path from ``clip_a``'s code to ``clip_b``'s, ends included."""
        if int(n) < 2:
            raise EngineError(f"interpolation needs n >= 2 steps, got {n}")
        za, zb = self.encode([clip_a, clip_b])
        z = np.stack([slerp(za, zb, t) for t in np.linspace(0.0, 1.0, int(n))])
        return self.decode(z, temperature, seed)

    def vary(self, clip: Clip, n: int = 1, amount: float = default("vary", "amount"),
             temperature: float = default("vary", "temperature"),
             seed: int | None = None) -> list[Clip]:
        """``n`` variations: the clip's code slerped towards random prior codes by ``amount``
        (0 = the clip itself, 1 = unrelated samples)."""
        self._check_vary(n, amount)
        return self.vary_code(self.encode([clip])[0], n, amount, temperature, seed)

    def vary_code(self, z: np.ndarray, n: int = 1, amount: float = default("vary", "amount"),
                  temperature: float = default("vary", "temperature"),
                  seed: int | None = None) -> list[Clip]:
        """:meth:`vary` for a clip already encoded (its code ``z`` [z_size]), as the bridge keeps
        a slot's code: the same variations for the same seed."""
        self._check_vary(n, amount)
        rng = make_rng(seed)
        z = np.asarray(z, np.float32).reshape(1, -1)
        noise = self.decoder.prior(n, rng)
        zs = slerp(np.repeat(z, int(n), axis=0), noise, float(amount))
        return self.decode(zs, temperature, int(rng.integers(2**31)))

    @staticmethod
    def _check_vary(n: int, amount: float) -> None:
        if int(n) < 1:
            raise EngineError(f"n must be at least 1, got {n}")
        if not 0.0 <= float(amount) <= 1.0:
            raise EngineError(f"amount must be in 0..1, got {amount}")

    def reconstruct(self, clips: list[Clip], temperature: float = default("reconstruct", "temperature"),
                    seed: int | None = None) -> list[Clip]:
        """Each clip encoded to its code (mu) and decoded again: what the model hears of it."""
        return self.decode(self.encode(clips), temperature, seed)

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
        if tool == "continue":   # an encoder, and a decoder that knows how to be primed
            return "encoder" in (self.bundle.meta.get("graphs") or {}) and \
                self.decoder.offers_continue()
        if tool in self.GROOVE_INPUTS:   # a decoder that keeps given hits, the codec's input
            return self.decoder.takes_hits and \
                getattr(self.codec, "input_transform", None) == self.GROOVE_INPUTS[tool]
        return False

    def groove(self, clip: Clip, temperature: float = default("groove", "temperature"),
               seed: int | None = None,
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

    def drumify(self, clip: Clip, temperature: float = default("drumify", "temperature"),
                seed: int | None = None) -> Clip:
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

    def continue_(self, clip: Clip, bars: int = default("continue", "bars"),
                  temperature: float = default("continue", "temperature"),
                  seed: int | None = None) -> Clip:
        """Continue: the clip, kept as it is, followed by ``bars`` new bars in its style.

        One bar per round, each from the music so far (docs/groove.md#continue):

        - flat and hierarchical models (mel_2bar, drums_2bar, hier_mel_16bar,
          hier_trio_16bar), on the 16th grid, the clip read in whole 4/4 bars: z = mu of the
          last window of the model's length (the music tiled if shorter); the decoder
          (hierarchical: the conductor and the bar decoders, bar by bar) is fed the last
          ``model bars - 1`` bars as if it had written them (teacher forcing), then runs free
          for one bar at ``temperature``; segments models (mel_16bar, trio_16bar) continue
          each part so with their short model (mel_2bar);
        - note-event models (notes_poly), in the clip's own meter: z = mu of the last
          ``decoding.notes`` notes; the decoder is fed the last three quarters of them (dT, T,
          P sub-steps), then writes notes until one starts on or after the next bar line (that
          one is dropped; the first note of a bar cannot start before the bar).

        New notes play at the clip's mean velocity and take its instruments (programs); the
        result is whole bars long, notes cut at its end. An empty continuation at temperature
        > 0 is drawn again (``GUARD_TRIES`` times; ``engine.warnings`` says when it stays
        empty)::

            >>> Engine.load("notes_poly").continue_(waltz, bars=4, seed=1).bars   # in 3/4
            8.0
        """
        if not self.offers("continue"):
            raise EngineError(f"{self.name} cannot continue a clip (continue needs a melody, "
                              f"drums, trio or note-event model with an encoder, such as "
                              f"mel_2bar, drums_2bar, mel_16bar, trio_16bar or notes_poly)")
        if isinstance(bars, bool) or int(bars) != bars or not 1 <= int(bars) <= 64:
            raise EngineError(f"bars must be a whole number in 1..64, got {bars}")
        if not np.isfinite(temperature) or temperature < 0:
            raise EngineError(f"temperature must be a number >= 0, got {temperature}")
        if not isinstance(clip, Clip):
            raise EngineError(f"expected a Clip, got {type(clip).__name__}")
        bars = int(bars)
        rng = make_rng(seed)
        self.warnings = []
        start, per_bar, write = self.decoder.continuation(clip)
        for attempt in range(GUARD_TRIES + 1):
            added = write(bars, temperature, rng)
            if added.notes or temperature <= 0 or attempt == GUARD_TRIES:
                break
        if not added.notes:
            self.warnings.append(f"clip 1: the {bars} new bar(s) have no notes")
        length = start + bars * per_bar
        level = mean_velocity(clip)
        part = getattr(self.codec, "part_of", None)   # a codec of several pitched parts (trio)
        notes = list(clip.notes) + [
            replace(n, start=n.start + start, end=min(n.end + start, length),
                    velocity=level or n.velocity, program=_program(clip, n, part))
            for n in added.notes]
        result = clip.copy(notes=notes, length=length)
        meters = [(b, n, d) for b, n, d in clip.meter_changes if b < start - 1e-9] \
            or [(0.0, *clip.time_signature)]
        if self.decoder.grid and tuple(meters[-1][1:]) != (4, 4):
            # grid models write 4/4 bars: the file says so from the first new bar on
            result.meter_changes = meters + [(start, 4, 4)]
            self.warnings.append(f"{self.name} plays 4/4 bars: the clip in "
                                 f"{meters[-1][1]}/{meters[-1][2]} is continued in 4/4 from beat "
                                 f"{start:g}")
        return result

    def _need_groove(self, transform: str, tool: str, model: str) -> None:
        if not self.offers(tool):
            raise EngineError(f"{self.name} cannot {tool}: {tool} needs a groove model with the "
                              f"{transform} input, such as {model}")

    def whole_bars(self, clip: Clip) -> int:
        """Bars of the model's 4/4 grid the clip spans, a started bar counting (at least 1)."""
        if not isinstance(clip, Clip):
            raise EngineError(f"expected a Clip, got {type(clip).__name__}")
        return max(1, int(np.ceil(clip.length * self.steps_per_quarter / self.steps_per_bar - 1e-9)))

    def _groove_windows(self, clip: Clip, what: str) -> tuple[np.ndarray, int]:
        """The clip's groove tokens cut into windows of the model's length -> ([N, T, 27], bars):
        encoded whole, so a hit played just before a window's first beat belongs to it."""
        bars = self.whole_bars(clip)
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


def _program(clip: Clip, note: Note, part=None) -> int:
    """The program of the clip's first pitched note (of the same part, where ``part`` names a
    note's part: the trio's melody and bass): a continuation plays the same instruments."""
    if note.is_drum:
        return note.program
    return next((n.program for n in clip.notes if not n.is_drum
                 and (part is None or part(n) == part(note))), note.program)
