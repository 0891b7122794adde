"""Decoding kinds: for each kind of bundle, the ONNX graphs it holds and how the engine runs them.

A bundle's ``kind`` (model.json) names one :class:`Decoding` subclass of this module, and three
readers use it instead of comparing kind names:

- ``training.export`` writes one graph per :class:`GraphSpec` of the kind (cut from the model's
  step function of the same name, with these input and output names) and the kind's
  ``decoding`` fields into model.json;
- ``runtime.bundle`` refuses, with one line, a bundle whose graphs are not exactly its kind's;
- ``runtime.engine`` encodes, decodes and continues through its decoder, an instance of the
  kind bound to the engine (``engine.decoder``)::

    >>> from runtime.decoding import DECODINGS, decoding_for
    >>> sorted(DECODINGS)
    ['flat', 'groove', 'hierarchical', 'note_events']
    >>> [g.key for g in decoding_for("hierarchical").graphs]
    ['encoder', 'conductor_init', 'conductor_step', 'decoder_init', 'decoder_step']
    >>> decoding_for("flat").graph("decoder_step").input_names(2)
    ['prev', 'cond', 'state0', 'state1']
    >>> engine = Engine.load("mel_2bar")
    >>> type(engine.decoder).__name__, engine.decoder.grid
    ('FlatDecoding', True)

A new kind is a subclass with ``kind``, ``graphs`` and :meth:`Decoding.decode` (and, to be
continued, :meth:`Decoding.continuation`), registered with :func:`register`, plus a model whose
``decoding_kind`` names it (docs/internals.md). Numpy only: no torch here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np

from .music import Clip, Note
from .quantize import to_steps
from .sampling import sample_bernoulli, sample_categorical


class EngineError(ValueError):
    """Something the engine cannot do with this input or bundle; one line for the user
    (raised by the decoders here, re-exported by :mod:`runtime.engine`)."""


def state_names(count: int, suffix: str = "") -> list[str]:
    """``state0..`` (a state going in, or made by an init graph), ``state0_out..`` (returned)."""
    return [f"state{i}{suffix}" for i in range(count)]


@dataclass(frozen=True)
class GraphSpec:
    """One ONNX graph of a kind: ``key`` names the graph in model.json, its file ``<key>.onnx``
    and the model's step function it is cut from (``function``, if that is named otherwise).
    Inputs are ``inputs``, then (``state`` "in_out") the recurrent state ``state0..``; outputs
    are ``outputs``, then the state: ``state0..`` from an init graph (``state`` "out"),
    ``state0_out..`` from a step ("in_out"). Every named input and output has the batch first.
    ``optional`` inputs may be missing (an encoder that ignores ``lengths`` loses it in
    export)."""

    key: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    state: str = ""
    optional: tuple[str, ...] = ()
    about: str = ""
    function: str = ""

    @property
    def method(self) -> str:
        """The name of the model's function this graph is cut from."""
        return self.function or self.key

    def input_names(self, states: int) -> list[str]:
        return list(self.inputs) + (state_names(states) if self.state == "in_out" else [])

    def output_names(self, states: int) -> list[str]:
        suffix = "_out" if self.state == "in_out" else ""
        return list(self.outputs) + (state_names(states, suffix) if self.state else [])

    def problem(self, inputs: list[str], outputs: list[str]) -> str | None:
        """What is wrong with a graph of these input and output names for this spec, or None."""
        states = len(outputs) - len(self.outputs) if self.state else 0
        shown = max(states, 1) if self.state else 0       # a state graph has one at least
        want_in = [n for n in self.input_names(shown) if n not in self.optional or n in inputs]
        want_out = self.output_names(shown)
        if states != shown or inputs != want_in or outputs != want_out:
            return f"inputs {inputs} -> outputs {outputs}, but it must be {want_in} -> {want_out}"
        return None


ENCODER = GraphSpec("encoder", ("inputs", "lengths"), ("mu", "sigma"), optional=("lengths",),
                    about="inputs [B, T, ...] (+ lengths [B]) -> posterior mean and sigma [B, Z]",
                    function="encode")


#: kind name -> its class
DECODINGS: dict[str, type["Decoding"]] = {}


def register(cls: type["Decoding"]) -> type["Decoding"]:
    """Class decorator: bundles of ``cls.kind`` load, export and decode with ``cls``."""
    DECODINGS[cls.kind] = cls
    return cls


def decoding_for(kind: str) -> type["Decoding"]:
    """The class of decoding kind ``kind``; ValueError with the known kinds otherwise."""
    if not isinstance(kind, str) or kind not in DECODINGS:
        raise ValueError(f"unknown decoding kind {kind!r} (known: {', '.join(DECODINGS)})")
    return DECODINGS[kind]


class Decoding:
    """A decoding kind. The class is the description (read by the export and the bundle loader);
    an instance is one engine's decoder (``engine.decoder``), bound to its bundle, codec and
    model.json ``decoding`` block through ``self.engine``."""

    kind: ClassVar[str] = ""
    #: the ONNX graphs of a bundle of this kind, the encoder first, in the order they run
    graphs: ClassVar[tuple[GraphSpec, ...]] = ()
    #: fixed fields of model.json's ``decoding`` block (the model adds its own)
    fields: ClassVar[dict] = {}
    #: a generation is ``bars`` bars of ``steps_per_bar`` steps (True), or ``decoding.notes``
    #: notes in any meter (False: the encoder reads any number of notes)
    grid: ClassVar[bool] = True
    #: the encoder reads token indices (embedded in the graph), not ``codec.to_input``
    encoder_reads_tokens: ClassVar[bool] = False
    #: the decoder emits values (a groove's velocities and offsets) besides classes: the codec
    #: rounds them to tokens (:meth:`to_tokens`), scores are hits and errors, not token accuracy
    continuous: ClassVar[bool] = False
    #: the decoder's previous choice is fed back as its one-hot (categorical MusicVAE): the
    #: export can check a float32 tie the runtime took the other way by teacher forcing
    one_hot_feedback: ClassVar[bool] = False
    #: ``decode`` can keep given hits and play only their velocities and timing (Groove)
    takes_hits: ClassVar[bool] = False
    #: a short model window by window with a prior over its codes (:class:`CodeSequence`): no
    #: one model to read back as a training checkpoint
    windowed: ClassVar[bool] = False

    def __init__(self, engine):
        self.engine = engine

    # -- the description ------------------------------------------------------------------
    @classmethod
    def graph(cls, key: str) -> GraphSpec:
        return next(g for g in cls.graphs if g.key == key)

    @classmethod
    def check_graphs(cls, graphs: dict) -> str | None:
        """Why model.json's ``graphs`` block is not this kind's (missing, extra or misnamed
        graphs, io names), or None. ``graphs`` holds specs already checked for shape."""
        want = [g.key for g in cls.graphs]
        missing = [k for k in want if k not in graphs]
        if missing:
            return (f"graph(s) {', '.join(map(repr, missing))} required for kind {cls.kind!r} "
                    f"(its graphs: {', '.join(want)})")
        extra = [k for k in graphs if k not in want]
        if extra:
            return (f"graph(s) {', '.join(map(repr, extra))} are no graphs of kind {cls.kind!r} "
                    f"(its graphs: {', '.join(want)})")
        for spec in cls.graphs:
            entry = graphs[spec.key]
            problem = spec.problem([i["name"] for i in entry["inputs"]],
                                   [o["name"] for o in entry["outputs"]])
            if problem:
                return f"graph {spec.key!r} ({entry['file']}) of kind {cls.kind!r}: {problem}"
        return None

    @classmethod
    def encoder_window(cls, meta: dict) -> tuple[int, int] | str:
        """(steps, code size) the encoder of a bundle with this model.json must read and
        write, or why model.json cannot say."""
        return meta["bars"] * meta["steps_per_bar"], meta["z_size"]

    @classmethod
    def parity_calls(cls, length: int, steps_per_bar: int) -> int:
        """How many calls of each step graph the export checks against PyTorch one by one
        along a rollout of ``length`` steps (or notes): all of them by default."""
        return length

    @classmethod
    def encoder_inputs(cls, codec, tokens: np.ndarray) -> np.ndarray:
        """The encoder's input for token windows ``[B, T, ...]``."""
        if cls.encoder_reads_tokens:
            return np.asarray(tokens, np.int64)
        return np.stack([codec.to_input(t) for t in tokens]).astype(np.float32)

    @classmethod
    def to_tokens(cls, codec, outputs: np.ndarray) -> np.ndarray:
        """Tokens for what a decoder rollout returns (the model's ``generate`` included)."""
        return np.asarray(outputs)

    @classmethod
    def same_rollout(cls, codec, expected: np.ndarray, got: np.ndarray) -> bool:
        """Whether the runtime's argmax rollout ``got`` is PyTorch's ``expected``: token for token."""
        return expected.shape == got.shape and bool(np.array_equal(expected, got))

    # -- the engine's decoder -----------------------------------------------------------------
    def decode(self, z: np.ndarray, temperature: float, rng,
               hits: np.ndarray | None = None) -> np.ndarray:
        """Token arrays [B, steps or notes, ...] for checked latent codes ``z`` [B, Z]."""
        raise NotImplementedError

    def values(self, z: np.ndarray, temperature: float, rng, hits=None) -> np.ndarray:
        """A continuous decoder's outputs before the codec rounds them (:attr:`continuous`)."""
        raise EngineError(f"{self.engine.name} is no groove model: decode_values is for GrooVAE")

    def tokens(self, clip: Clip, steps: int) -> np.ndarray:
        """Codec tokens of a user's clip, exactly ``steps`` steps long (cut or padded)."""
        tokens = self.encode_clip(clip, steps)
        if len(tokens) < steps:
            pad = np.zeros((steps - len(tokens),) + tokens.shape[1:], tokens.dtype)
            tokens = np.concatenate([tokens, pad])
        return tokens[:steps]

    def encode_clip(self, clip: Clip, steps: int) -> np.ndarray:
        engine = self.engine
        return engine.codec.encode(engine.prepare(clip, steps / engine.steps_per_quarter))

    def encode(self, clips: list[Clip]) -> np.ndarray:
        """mu [B, Z] of clips: their windows through the encoder as one batch."""
        engine = self.engine
        return self.encode_tokens(np.stack([engine.tokens(c) for c in clips]))

    def encode_tokens(self, tokens: np.ndarray) -> np.ndarray:
        """mu [B, Z] of token windows [B, T, ...] (a whole generation each)."""
        engine = self.engine
        return engine.run_encoder(self.encoder_inputs(engine.codec, tokens),
                                  np.full(len(tokens), tokens.shape[1], np.int64))

    def prior(self, n: int, rng) -> np.ndarray:
        """``n`` codes from the model's prior, float32 [n, Z]: N(0, I) for a VAE."""
        return rng.standard_normal((int(n), self.engine.z_size)).astype(np.float32)

    def offers_continue(self) -> bool:
        """Whether :meth:`continuation` can extend a clip with this bundle."""
        return False

    def continuation(self, clip: Clip) -> tuple[float, float, Callable]:
        """For ``Engine.continue_``: (the clip's end in beats, beats per new bar, a function
        ``write(bars, temperature, rng) -> Clip`` of the new bars from beat 0)."""
        raise EngineError(f"{self.engine.name} cannot continue a clip")


# ---------------------------------------------------------------------------------------------
# MusicVAE: categorical steps, the previous token fed back as its one-hot


class OneHotDecoding(Decoding):
    """What flat and hierarchical MusicVAE bundles share: the ``decoder_step`` loop with numpy
    sampling and one-hot feedback, and continuation on the 16th grid."""

    fields = {"feedback": "one_hot"}
    one_hot_feedback = True

    @property
    def decoder_depths(self) -> list[int]:
        """The softmax widths side by side in ``decoder_step``'s logits (the bundle's output
        depths; a segments bundle's short model may have its own)."""
        return self.engine.output_depths

    def step_loop(self, cond: np.ndarray, steps: int, temperature: float, rng,
                  prev: np.ndarray | None = None, state=None):
        """``steps`` x decoder_step(prev, cond, *state) -> (logits, *state), starting from
        decoder_init(cond); returns (tokens [B, steps(, parts)], last prev input)."""
        engine = self.engine
        bundle = engine.bundle
        if state is None:
            state = bundle.run("decoder_init", cond)
        depths = self.decoder_depths
        batch, width, parts = cond.shape[0], sum(depths), len(depths)
        tokens = np.zeros((batch, steps) + ((parts,) if parts > 1 else ()), np.int64)
        # The hot loop (per step: one graph call, one sampling draw, one feedback): the session
        # and its names are fetched once; the one-hot feedback is written into one reused buffer
        # (runs are synchronous, so rewriting it between steps is safe).
        session = bundle.sessions["decoder_step"]
        spec = bundle.graph("decoder_step")
        in_names = [i["name"] for i in spec["inputs"]]
        out_names = [o["name"] for o in spec["outputs"]]
        if len(in_names) != 2 + len(state):
            raise EngineError(f"{bundle.path / spec['file']}: decoder_step takes "
                              f"{len(in_names)} inputs, got {2 + len(state)}")
        feed = np.zeros((batch, width), np.float32)
        if prev is not None:
            feed[...] = prev
        cond = np.ascontiguousarray(cond, np.float32)
        feeds = dict(zip(in_names, [feed, cond, *state]))
        one_hot = engine.decoding.get("feedback", "one_hot") == "one_hot" and parts == 1
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
                feed = feeds[in_names[0]] = self.feedback(tokens[:, t])
        return tokens, feed.copy()

    def choose(self, logits: np.ndarray, temperature: float, rng) -> np.ndarray:
        """Tokens for one step's logits: [B] for one softmax, [B, parts] when the decoder emits
        several side by side (the trio's melody, bass and drums), each part sampled on its own."""
        depths, silent = self.engine.output_depths, self.engine.silent_parts
        if len(depths) == 1:
            return sample_categorical(logits, temperature, rng)
        bounds = np.cumsum([0] + depths)
        # a part that was silent in all the training data (the trio's drums, trained on scores
        # without drums) stays silent: its head never learnt what playing would mean
        return np.stack([np.zeros(len(logits), np.int64) if k in silent
                         else sample_categorical(logits[:, a:b], temperature, rng)
                         for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))], axis=-1)

    def feedback(self, tokens: np.ndarray) -> np.ndarray:
        """The decoder's next input for chosen tokens [B] or [B, parts]: MusicVAE feeds back the
        one-hot of the output token (512 wide for drums), concatenated over parts."""
        depths = self.decoder_depths
        tokens = tokens.reshape(len(tokens), -1)
        out = np.zeros((len(tokens), sum(depths)), np.float32)
        rows = np.arange(len(tokens))
        offset = 0
        for k, depth in enumerate(depths):
            out[rows, offset + tokens[:, k]] = 1.0
            offset += depth
        return out

    # -- continue: one bar per round, from the music so far ----------------------------------
    def offers_continue(self) -> bool:
        return bool(self.engine.codec.one_hot_steps)

    def continuation(self, clip: Clip):
        """The clip read in whole 4/4 bars on the 16th grid."""
        engine = self.engine
        spb = engine.steps_per_bar
        clip_bars = engine.whole_bars(clip)
        music = engine.tokens(clip, clip_bars * spb)
        if engine.silent_parts:   # a part the model never heard play is read as silence
            music = music.copy()
            music[:, sorted(engine.silent_parts)] = 0
        if not music.any():
            raise EngineError(f"nothing to continue: no notes {engine.name} can read in the clip")

        def write(bars: int, temperature: float, rng) -> Clip:
            tokens = music
            for _ in range(bars):
                tokens = np.concatenate([tokens, self.next_bar(tokens, temperature, rng)])
            return engine.codec.decode(tokens[len(music):])

        return clip_bars * 4.0, 4.0, write

    def next_bar(self, tokens: np.ndarray, temperature: float, rng) -> np.ndarray:
        """One bar of tokens after ``tokens``: z = mu of the last window (the music tiled when
        shorter), the decoder primed with the last ``window - 1 bar`` of it."""
        engine = self.engine
        window, spb = engine.total_steps, engine.steps_per_bar
        recent = tokens[-window:] if len(tokens) >= window else \
            np.resize(tokens, (window,) + tokens.shape[1:])
        z = engine.run_encoder(engine.codec.to_input(recent)[None].astype(np.float32),
                               np.array([window], np.int64))
        return self.bar_after(z, tokens[-min(len(tokens), window - spb):], temperature, rng)

    def bar_after(self, z: np.ndarray, primer: np.ndarray, temperature: float, rng) -> np.ndarray:
        """One bar of tokens decoded from ``z`` after the tokens ``primer``."""
        raise NotImplementedError


@register
class FlatDecoding(OneHotDecoding):
    """MusicVAE with one decoder for the whole sequence (mel_2bar, drums_2bar)."""

    kind = "flat"
    graphs = (
        ENCODER,
        GraphSpec("decoder_init", ("cond",), (), state="out", about="z -> decoder state"),
        GraphSpec("decoder_step", ("prev", "cond"), ("logits",), state="in_out",
                  about="one step: the previous token's one-hot (zeros first) and z -> logits"),
    )

    def decode(self, z, temperature, rng, hits=None):
        return self.step_loop(z, self.engine.total_steps, temperature, rng)[0]

    def bar_after(self, z, primer, temperature, rng):
        prev, state = self.force(z, primer)
        return self.step_loop(z, self.engine.steps_per_bar, temperature, rng, prev=prev,
                              state=state)[0][0]

    def force(self, cond: np.ndarray, primer: np.ndarray, prev: np.ndarray | None = None):
        """Teacher forcing: the decoder, started from ``decoder_init(cond)``, fed ``primer`` as
        its own tokens -> (the next step's input, the state)."""
        run = self.engine.bundle.run
        state = run("decoder_init", cond)
        if prev is None:
            prev = np.zeros((1, sum(self.decoder_depths)), np.float32)
        for token in primer:
            _, *state = run("decoder_step", prev, cond, *state)
            prev = self.feedback(np.array([token]))
        return prev, state


PRIOR_STEP = GraphSpec("prior_step", ("prev",), ("mu", "sigma"), state="in_out",
                       about="one code: the code before (zeros first) -> mean and sigma of the "
                             "next one (state starts at zeros)")


class CodeSequence:
    """What the windowed kinds share (``segments``, ``note_segments``): the codes of the short
    windows side by side (``segment_z`` each) and ``prior_step``, which draws them one after
    the other at model.json's ``decoding.prior_scale`` times its sigma."""

    windowed = True
    segment_z: int

    @property
    def prior_scale(self) -> float:
        return float(self.engine.decoding.get("prior_scale", 1.0))

    def prior(self, n, rng):
        """``n`` codes [n, z_size]: each short code mu + scale x sigma x noise after the one
        before, the first after zeros."""
        bundle = self.engine.bundle
        state = [np.zeros([int(n) if d == "batch" else d for d in spec["shape"]], np.float32)
                 for spec in bundle.graph("prior_step")["inputs"][1:]]
        prev, codes = np.zeros((int(n), self.segment_z), np.float32), []
        for _ in range(self.engine.z_size // self.segment_z):
            mu, sigma, *state = bundle.run("prior_step", prev, *state)
            noise = rng.standard_normal(mu.shape)
            prev = (mu + self.prior_scale * sigma * noise).astype(np.float32)
            codes.append(prev)
        return np.concatenate(codes, axis=1)


def split_windows(tokens: np.ndarray, windows: int, steps: int,
                  part_index: list[int] | None = None) -> np.ndarray:
    """Token windows [B, T(, ...)] cut into the short windows of a segments bundle, in the order
    of its codes: [B * windows(* parts), steps(, ...)], window by window and, with
    ``part_index`` (the codec columns the short model reads), part by part within a window."""
    batch = len(tokens)
    if part_index is None:
        return tokens.reshape((batch * windows, steps) + tokens.shape[2:])
    parts = tokens[..., part_index].reshape(batch, windows, steps, -1).transpose(0, 1, 3, 2)
    return parts.reshape(-1, steps)


def segment_model_name(meta: dict) -> str:
    """The short model a windowed bundle's model.json names (or words for it)."""
    return ((meta.get("model") or {}).get("segment_model") or {}).get("name", "its short model")


@register
class SegmentsDecoding(CodeSequence, FlatDecoding):
    """A long generation as consecutive windows of a short flat MusicVAE, one code each, with a
    latent-sequence prior over the codes (mel_16bar: eight codes of mel_2bar's 2 bars, as
    Mittal et al. 2021 model MusicVAE's 2-bar codes in sequence). The bundle holds the short
    model's three graphs and ``prior_step``; model.json's ``decoding.segment_bars`` gives the
    short window, ``z_size`` is the codes side by side.

    A bundle of several parts (trio_16bar: melody and bass) names them in
    ``decoding.segment_parts`` and the short model's codec in ``decoding.segment_codec``: each
    part of each window has its own code through the same short model (a bass line read as a
    melody in its register), the codes ordered window by window, part by part within a window
    (``z`` = [windows, parts, short z] flattened); the codec's other parts stay silent.

    Each window is encoded and decoded on its own (all of a batch's windows in one batch), so
    a clip comes back as well as the short model hears each of its windows; interpolation
    and variation move every window's code at once; sampling draws the codes one after the
    other from the prior (an LSTM: the previous code in, a Gaussian for the next one out; a
    window's bass after its melody), so the windows follow each other as in the training
    tunes (with ``decoding.prior_scale`` times the prior's sigma: its diagonal Gaussian at
    full width wanders off key). Continue extends each part with the short model from that
    part's last window."""

    kind = "segments"
    graphs = FlatDecoding.graphs + (PRIOR_STEP,)

    @classmethod
    def layout(cls, meta: dict) -> tuple[int, int, int] | str:
        """(windows, parts, steps per window) of a model.json, or why they do not fit."""
        decoding = meta.get("decoding") or {}
        seg, bars = decoding.get("segment_bars"), meta.get("bars")
        if isinstance(seg, bool) or not isinstance(seg, int) or seg < 1 or bars % seg:
            return f"decoding.segment_bars must be a whole number dividing bars ({bars}), got {seg!r}"
        parts = decoding.get("segment_parts")
        if parts is not None:
            names = _part_names(meta.get("codec"))
            if not isinstance(parts, list) or not parts or \
                    any(not isinstance(p, str) or p not in names for p in parts):
                return f"decoding.segment_parts must name parts of the codec {names}, got {parts!r}"
            problem = _codec_problem(decoding.get("segment_codec"))
            if problem:
                return f"decoding.segment_codec: {problem}"
        count = (bars // seg) * len(parts or [0])
        if meta["z_size"] % count:
            return f"z_size {meta['z_size']} is not {count} codes of one size"
        return _prior_scale_problem(decoding) or \
            (bars // seg, len(parts or [0]), seg * meta["steps_per_bar"])

    @classmethod
    def encoder_window(cls, meta):
        layout = cls.layout(meta)
        if isinstance(layout, str):
            return layout
        windows, parts, steps = layout
        return steps, meta["z_size"] // (windows * parts)

    def __init__(self, engine):
        super().__init__(engine)
        from .codecs import codec_from_config

        meta = engine.bundle.meta
        self.segments, count, self.segment_steps = self.layout(meta)
        self.segment_z = engine.z_size // (self.segments * count)
        parts = engine.decoding.get("segment_parts")
        #: the codec columns read and written through the short model (None: the codec is its)
        self.part_index = None if parts is None else \
            [_part_names(meta["codec"]).index(p) for p in parts]
        self.short_codec = engine.codec if parts is None else \
            codec_from_config(engine.decoding["segment_codec"])
        self.short_depths = [self.short_codec.output_depth] if parts is not None \
            else engine.output_depths

    @property
    def decoder_depths(self):
        return self.short_depths

    def _split(self, tokens: np.ndarray) -> np.ndarray:
        """[B, T(, parts)] -> the short windows [B * windows * parts, steps] in code order."""
        return split_windows(tokens, self.segments, self.segment_steps, self.part_index)

    def _join(self, windows: np.ndarray, batch: int) -> np.ndarray:
        """The inverse of :meth:`_split`; parts the short model does not play stay 0."""
        total = self.engine.total_steps
        if self.part_index is None:
            return windows.reshape((batch, total) + windows.shape[2:])
        count = len(self.part_index)
        parts = windows.reshape(batch, self.segments, count, self.segment_steps).transpose(0, 1, 3, 2)
        out = np.zeros((batch, total, len(self.engine.output_depths)), windows.dtype)
        out[..., self.part_index] = parts.reshape(batch, total, count)
        out[..., sorted(self.engine.silent_parts)] = 0     # model.json may silence a part
        return out

    def _short_codes(self, windows: np.ndarray) -> np.ndarray:
        inputs = np.stack([self.short_codec.to_input(w) for w in windows]).astype(np.float32)
        return self.engine.run_encoder(inputs, np.full(len(windows), windows.shape[1], np.int64))

    def encode_tokens(self, tokens):
        return self._short_codes(self._split(np.asarray(tokens))).reshape(len(tokens), -1)

    def decode(self, z, temperature, rng, hits=None):
        codes = np.ascontiguousarray(z.reshape(-1, self.segment_z))
        tokens = self.step_loop(codes, self.segment_steps, temperature, rng)[0]
        return self._join(tokens, len(z))

    def next_bar(self, tokens, temperature, rng):
        """Each part's next bar from its own last short window (the short model's continue)."""
        spb, window = self.engine.steps_per_bar, self.segment_steps
        columns = [tokens] if self.part_index is None else [tokens[:, k] for k in self.part_index]
        bars = []
        for part in columns:
            recent = part[-window:] if len(part) >= window else np.resize(part, (window,) + part.shape[1:])
            z = self._short_codes(recent[None])
            bars.append(self.bar_after(z, part[-min(len(part), window - spb):], temperature, rng))
        if self.part_index is None:
            return bars[0]
        out = np.zeros((spb, len(self.engine.output_depths)), np.int64)
        out[:, self.part_index] = np.stack(bars, -1)
        return out


def _prior_scale_problem(decoding: dict) -> str | None:
    scale = decoding.get("prior_scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 10:
        return f"decoding.prior_scale must be a number in (0, 10], got {scale!r}"
    return None


def _part_names(codec: dict | None) -> list[str]:
    """The part names of a model.json codec block ([] for a one-part codec or a bad block)."""
    from .codecs import CodecError, codec_from_config

    try:
        return list(getattr(codec_from_config(codec), "part_names", ()) or ())
    except (CodecError, TypeError, ValueError, KeyError):
        return []


def _codec_problem(codec) -> str | None:
    from .codecs import CodecError, codec_from_config

    try:
        parsed = codec_from_config(codec)
    except (CodecError, TypeError, ValueError, KeyError) as exc:
        return str(exc) or "not a codec"
    if not getattr(parsed, "one_hot_steps", False) or getattr(parsed, "part_names", None):
        return f"{parsed.name!r} is no one-part codec of one-hot steps"
    return None


@register
class HierarchicalDecoding(OneHotDecoding):
    """MusicVAE with a conductor: one embedding per bar restarts the bar decoder (mel_16bar,
    trio_16bar); the previous token carries over the bar line, as in Magenta, unless
    model.json's ``decoding.carry_prev_across_bars`` says not."""

    kind = "hierarchical"
    graphs = (
        ENCODER,
        GraphSpec("conductor_init", ("z",), (), state="out", about="z -> conductor state"),
        GraphSpec("conductor_step", (), ("embedding",), state="in_out",
                  about="one bar: conductor state -> the bar's embedding"),
        GraphSpec("decoder_init", ("cond",), (), state="out",
                  about="the bar's embedding -> bar decoder state"),
        GraphSpec("decoder_step", ("prev", "cond"), ("logits",), state="in_out",
                  about="one step of the bar: previous token's one-hot, embedding -> logits"),
    )
    fields = {"feedback": "one_hot", "carry_prev_across_bars": True}

    @classmethod
    def parity_calls(cls, length: int, steps_per_bar: int) -> int:
        return steps_per_bar   # the bar decoder restarts each bar: the first bar shows it all

    def decode(self, z, temperature, rng, hits=None):
        engine = self.engine
        state = engine.bundle.run("conductor_init", z)
        carry_prev = bool(engine.decoding.get("carry_prev_across_bars", True))
        prev, bars = None, []
        for _ in range(engine.bars):
            embedding, *state = engine.bundle.run("conductor_step", *state)
            tokens, last = self.step_loop(embedding, engine.steps_per_bar, temperature, rng,
                                          prev if carry_prev else None)
            prev = last
            bars.append(tokens)
        return np.concatenate(bars, axis=1)

    def bar_after(self, z, primer, temperature, rng):
        # The primer's bars take the conductor's first bars, the new bar the next. The bar
        # decoder restarts from each bar's embedding, so teacher-forcing it through the primer's
        # bars leaves one trace only: their last token, carried over the bar line (fed as the
        # new bar's first input, as decoding does); the same result, 16x cheaper.
        engine = self.engine
        state = engine.bundle.run("conductor_init", z)
        for _ in range(len(primer) // engine.steps_per_bar + 1):
            embedding, *state = engine.bundle.run("conductor_step", *state)
        carry = bool(engine.decoding.get("carry_prev_across_bars", True))
        prev = self.feedback(primer[-1:]) if carry else None
        return self.step_loop(embedding, engine.steps_per_bar, temperature, rng, prev)[0][0]


# ---------------------------------------------------------------------------------------------
# Note unrolling (Wang et al. 2019): per note dT, then T given dT, then P given both


@register
class NoteEventDecoding(Decoding):
    """The modularized VAE's note-unrolling decoder (notes_poly): notes in any meter."""

    kind = "note_events"
    graphs = (
        ENCODER,
        GraphSpec("decoder_init", ("z",), (), state="out", about="z -> the seven GRU states"),
        GraphSpec("decoder_step_dt", ("prev", "z"), ("logits",), state="in_out",
                  about="the previous note (dT, T, P indices; start_note first) -> dT logits"),
        GraphSpec("decoder_step_t", ("dt",), ("logits",), state="in_out",
                  about="the chosen dT -> T logits"),
        GraphSpec("decoder_step_p", ("dt", "t"), ("logits",), state="in_out",
                  about="the chosen dT and T -> P logits"),
    )
    grid = False
    encoder_reads_tokens = True

    @property
    def window_notes(self) -> int:
        """Notes the encoder reads and the decoder writes in one generation."""
        return self.engine.notes

    def decode(self, z, temperature, rng, hits=None):
        engine = self.engine
        run, batch = engine.bundle.run, z.shape[0]
        state = run("decoder_init", z)
        prev = np.tile(np.asarray(engine.decoding["start_note"], np.int64), (batch, 1))
        notes = np.zeros((batch, self.window_notes, 3), np.int64)
        for i in range(self.window_notes):
            logits, *state = run("decoder_step_dt", prev, z, *state)
            dt = sample_categorical(logits, temperature, rng)
            logits, *state = run("decoder_step_t", dt, *state)
            t = sample_categorical(logits, temperature, rng)
            logits, *state = run("decoder_step_p", dt, t, *state)
            p = sample_categorical(logits, temperature, rng)
            prev = notes[:, i] = np.stack([dt, t, p], axis=-1)
        return notes

    def tokens(self, clip: Clip, steps: int) -> np.ndarray:
        return self.encode_clip(clip, steps)    # as many notes as the clip has: no padding

    def encode(self, clips: list[Clip]) -> np.ndarray:
        # note counts differ per clip: one encoder call each
        return np.concatenate([self._encode_one(c) for c in clips]).astype(np.float32)

    def _encode_one(self, clip: Clip) -> np.ndarray:
        engine = self.engine
        tokens = engine.tokens(clip)[: engine.notes]
        if not len(tokens):
            raise EngineError(f"{engine.name} cannot encode an empty clip (no notes in the first "
                              f"{engine.bars} bars)")
        return engine.run_encoder(tokens[None], np.array([len(tokens)], np.int64))

    # -- continue, in the clip's own meter -------------------------------------------------------
    def offers_continue(self) -> bool:
        return True

    def continuation(self, clip: Clip):
        """(clip end on its bar line, beats per bar, bars -> new bars as a clip from beat 0)."""
        engine = self.engine
        per_bar, end = bar_grid(clip)
        heard = engine.prepare(clip, end)
        if not heard.notes:
            raise EngineError(f"nothing to continue: no notes {engine.name} can read in the clip")

        def write(bars: int, temperature: float, rng) -> Clip:
            music = heard
            for k in range(bars):   # bar by bar: each bar ends its notes at its bar line
                start, stop = end + k * per_bar, end + (k + 1) * per_bar
                new = self.next_notes(music, start, stop, temperature, rng)
                music = music.copy(notes=music.notes + new, length=stop).slice(0.0, stop)
            return music.slice(end, end + bars * per_bar)

        return end, per_bar, write

    def next_notes(self, music: Clip, start: float, stop: float, temperature: float,
                   rng) -> list[Note]:
        """The notes of the bar ``start .. stop`` (beats) after ``music`` (one round of
        ``Engine.continue_``), with their full durations."""
        engine = self.engine
        codec, run, count = engine.codec, engine.bundle.run, self.window_notes
        tpq = codec.ticks_per_quarter
        tokens = codec.encode(music)       # music: prepared notes (the clip's and new ones)
        z = engine.run_encoder(tokens[None, -count:], np.array([min(len(tokens), count)],
                                                               np.int64))
        state = run("decoder_init", z)
        prev = np.asarray(engine.decoding["start_note"], np.int64)[None]
        for dt, t, p in tokens[-min(len(tokens), count * 3 // 4):]:   # teacher forcing
            _, *state = run("decoder_step_dt", prev, z, *state)
            _, *state = run("decoder_step_t", np.array([dt]), *state)
            _, *state = run("decoder_step_p", np.array([dt]), np.array([t]), *state)
            prev = np.array([[dt, t, p]], np.int64)
        onset = max(to_steps(n.start, tpq) for n in music.notes)
        first, last = to_steps(start, tpq), to_steps(stop, tpq)
        notes = []
        for _ in range(count):                     # at most this many notes in one bar
            logits, *state = run("decoder_step_dt", prev, z, *state)
            if onset < first:  # the bar's first note: not before the bar line (the music so
                # far is fixed); a rest longer than the longest dT reads as the longest dT
                reach = codec.dt_values >= min(first - onset, codec.dt_values[-1])
                logits = np.where(reach, logits, -np.inf)
            dt = sample_categorical(logits, temperature, rng)
            logits, *state = run("decoder_step_t", dt, *state)
            t = sample_categorical(logits, temperature, rng)
            logits, *state = run("decoder_step_p", dt, t, *state)
            p = sample_categorical(logits, temperature, rng)
            onset = max(onset + int(codec.dt_values[dt[0]]), first)
            if onset >= last:
                break
            notes.append(Note(int(p[0]) + codec.min_pitch, onset / tpq,
                              (onset + int(codec.duration_values[t[0]])) / tpq, codec.velocity))
            prev = np.stack([dt, t, p], axis=-1)
        return notes


@register
class NoteSegmentsDecoding(CodeSequence, NoteEventDecoding):
    """A note-event model window by window (notes_poly: four 25-note windows of a 25-note
    modularized VAE for 100 notes), with a latent-sequence prior over the codes: what
    :class:`SegmentsDecoding` is for the grid. ``decoding.notes`` is the whole generation,
    ``decoding.segment_notes`` one window; each window's first dT is its gap from the note
    before (as in the tune), so the windows' notes follow each other as written. A clip of
    fewer notes is read tiled to the whole generation. Continue is the short model's, from the
    last window of notes."""

    kind = "note_segments"
    graphs = NoteEventDecoding.graphs + (PRIOR_STEP,)

    @classmethod
    def layout(cls, meta: dict) -> tuple[int, int] | str:
        """(windows, notes per window) of a model.json, or why they do not fit."""
        decoding = meta.get("decoding") or {}
        seg, notes = decoding.get("segment_notes"), decoding.get("notes")
        if isinstance(seg, bool) or not isinstance(seg, int) or seg < 1 or \
                not isinstance(notes, int) or notes % seg:
            return (f"decoding.segment_notes must be a whole number dividing decoding.notes "
                    f"({notes!r}), got {seg!r}")
        if meta["z_size"] % (notes // seg):
            return f"z_size {meta['z_size']} is not {notes // seg} codes of one size"
        return _prior_scale_problem(decoding) or (notes // seg, seg)

    @classmethod
    def encoder_window(cls, meta):
        layout = cls.layout(meta)
        return layout if isinstance(layout, str) else (layout[1], meta["z_size"] // layout[0])

    def __init__(self, engine):
        super().__init__(engine)
        self.segments, self.segment_notes = self.layout(engine.bundle.meta)
        self.segment_z = engine.z_size // self.segments

    @property
    def window_notes(self) -> int:
        return self.segment_notes

    def encode_tokens(self, tokens):
        tokens = np.asarray(tokens)
        if tokens.shape[1] != self.engine.notes:     # tiled (or cut) to the whole generation
            tokens = np.concatenate([np.resize(t, (self.engine.notes, 3))[None] for t in tokens])
        windows = split_windows(tokens, self.segments, self.segment_notes)
        return self.engine.run_encoder(windows, np.full(len(windows), self.segment_notes,
                                                        np.int64)).reshape(len(tokens), -1)

    def _encode_one(self, clip):
        tokens = self.engine.tokens(clip)[: self.engine.notes]
        if not len(tokens):
            raise EngineError(f"{self.engine.name} cannot encode an empty clip (no notes in the "
                              f"first {self.engine.bars} bars)")
        return self.encode_tokens(tokens[None])

    def decode(self, z, temperature, rng, hits=None):
        codes = np.ascontiguousarray(z.reshape(-1, self.segment_z))
        return super().decode(codes, temperature, rng).reshape(len(z), self.engine.notes, 3)


def bar_grid(clip: Clip) -> tuple[float, float]:
    """(beats per bar, the clip's end on a bar line) in the meter in force at its end (a meter
    change at the very end included; bars counted from that change); at least one bar."""
    origin, meter = 0.0, clip.time_signature
    for beat, num, den in clip.meter_changes:
        if beat <= clip.length + 1e-9:
            origin, meter = beat, (num, den)
    per_bar = meter[0] * 4.0 / meter[1]
    end = origin + int(np.ceil((clip.length - origin) / per_bar - 1e-9)) * per_bar
    return per_bar, max(end, per_bar)


# ---------------------------------------------------------------------------------------------
# GrooVAE: hits, velocities and offsets per step (docs/groove.md)


@register
class GrooveDecoding(Decoding):
    """GrooVAE (groove_2bar, drumify_2bar): ``decoder_step`` emits hit logits, velocities and
    offsets; hits are drawn here (Bernoulli at the temperature, 0 = logit > 0) or kept from
    the caller; the next input is the chosen hits with the velocities and offsets of those hits,
    zero elsewhere (``decoding.feedback_mask`` "hits", latentbridge's GrooVAE) or of every drum
    ("none": Magenta's GrooveLstmDecoder, imported checkpoints)."""

    kind = "groove"
    graphs = (
        ENCODER,
        GraphSpec("decoder_init", ("cond",), (), state="out", about="z -> decoder state"),
        GraphSpec("decoder_step", ("prev", "cond"), ("outputs",), state="in_out",
                  about="one step: the fed-back hits, velocities, offsets and z -> hit logits, "
                        "velocities, offsets"),
    )
    fields = {"feedback": "hits_velocities_offsets"}
    continuous = True
    takes_hits = True

    @classmethod
    def to_tokens(cls, codec, outputs):
        return codec.from_output(np.asarray(outputs))

    @classmethod
    def same_rollout(cls, codec, expected, got):
        """The same hits, and velocities / offsets within one unit (float32 in two runtimes may
        round a value at .5 to either side)."""
        if expected.shape != got.shape:
            return False
        c = codec.num_classes
        return bool(np.array_equal(expected[..., :c], got[..., :c])
                    and np.abs(expected - got).max(initial=0) <= 1)

    def encode_clip(self, clip, steps):
        # a user's kit: the General MIDI drum table; played timing kept, never cut here
        return self.engine.codec.encode(self.engine.prepare(clip), inference=True)

    def decode(self, z, temperature, rng, hits=None):
        return self.engine.codec.from_output(self.values(z, temperature, rng, hits))

    def values(self, z, temperature, rng, hits=None):
        """The fed-back values [B, steps, 3 x classes] (see the class)."""
        engine = self.engine
        batch, c, steps = z.shape[0], engine.codec.num_classes, engine.total_steps
        mask = engine.decoding.get("feedback_mask", "hits")
        if mask not in ("hits", "none"):
            raise EngineError(f"{engine.bundle.path / 'model.json'}: decoding.feedback_mask must "
                              f"be 'hits' or 'none', not {mask!r}")
        if hits is not None:
            hits = np.asarray(hits, np.float32)
            if hits.shape != (batch, steps, c):
                raise EngineError(f"hits to keep must have shape {[batch, steps, c]}, "
                                  f"got {list(hits.shape)}")
        state = engine.bundle.run("decoder_init", z)
        prev = np.zeros((batch, 3 * c), np.float32)
        values = np.zeros((batch, steps, 3 * c), np.float32)
        for t in range(steps):
            outputs, *state = engine.bundle.run("decoder_step", prev, z, *state)
            chosen = (hits[:, t] if hits is not None
                      else sample_bernoulli(outputs[:, :c], temperature, rng).astype(np.float32))
            if mask == "none":
                prev = np.concatenate([chosen, outputs[:, c:]], -1).astype(np.float32)
            else:
                prev = np.concatenate([chosen, outputs[:, c:2 * c] * chosen,
                                       outputs[:, 2 * c:] * chosen], -1).astype(np.float32)
            values[:, t] = prev
        return values


# ---------------------------------------------------------------------------------------------


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

