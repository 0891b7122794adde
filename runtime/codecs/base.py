"""What every codec provides: clip <-> token arrays, shared by training and runtime.

A codec turns a quantised :class:`~runtime.music.Clip` into the arrays a model reads and writes,
and back. Training builds datasets with it; the runtime decodes model output with the very same
object, rebuilt from the ``codec`` block of a bundle's ``model.json``::

    >>> from runtime.codecs import codec_from_config
    >>> codec = codec_from_config({"name": "melody", "min_pitch": 21, "max_pitch": 108})
    >>> tokens = codec.encode(clip)                # np.ndarray of class ids, one per step
    >>> x = codec.to_input(tokens)                 # float32 [steps, input_depth] for the encoder
    >>> clip_again = codec.decode(tokens)

Besides the tokens, a codec owns the rules that follow from its representation, so that the
engine, training and the bridge ask it instead of comparing codec names:

- :meth:`Codec.fit`: a user's clip made something the codec represents (the engine's
  ``prepare``): quantised and cut on the grid, folded into the pitch range, one voice...;
- :attr:`Codec.pitched_parts` and :meth:`Codec.transpose`: which parts move when the music is
  transposed, and how (training's augmentation);
- :meth:`Codec.channel_of`: the MIDI channel a decoded note plays on (the bridge);
- :attr:`Codec.prepare_kind`, :attr:`Codec.window_unit`, :attr:`Codec.step_shape` and
  :meth:`Codec.for_dataset`: how ``python -m training.prepare --kind KIND`` builds a dataset of it.

A new representation is one module here (a subclass with ``@register``, imported in
``runtime/codecs/__init__.py``) plus its tests; see docs/internals.md.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ..music import DRUM_CHANNEL, Clip, Note
from ..quantize import quantize


class PitchedPart(NamedTuple):
    """Where a codec's tokens hold pitches: ``column`` of the token array (None: the tokens are
    one column), the number of ``classes`` there, and the ``first`` class that is a pitch (the
    classes from it on are semitones; those below it, such as a melody's no-event and note-off,
    never move)."""

    column: int | None
    classes: int
    first: int


class CodecError(ValueError):
    """A clip the codec cannot represent (wrong meter, too many notes...); one line for the user."""


class Codec:
    """Base class. Subclasses set ``name`` and implement encode/decode/to_input."""

    name: ClassVar[str] = ""
    #: size of one step of model input (one-hot width, roll width, ...)
    input_depth: int = 0
    #: number of classes (or multi-hot width) of one step of model output
    output_depth: int = 0

    def encode(self, clip: Clip) -> np.ndarray:
        raise NotImplementedError

    def decode(self, tokens: np.ndarray, **clip_fields) -> Clip:
        raise NotImplementedError

    def to_input(self, tokens: np.ndarray) -> np.ndarray:
        """Model input for a token array: float32 of shape ``tokens.shape[:1] + (input_depth,)``."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """JSON-ready parameters; ``codec_from_config(codec.config())`` rebuilds an equal codec."""
        raise NotImplementedError

    #: config keys that change only ``to_input``, never the tokens (the groove codec's input
    #: transform): one dataset serves every value of them
    input_options: ClassVar[tuple[str, ...]] = ()

    def token_config(self) -> dict[str, Any]:
        """``config()`` without the input-only options: equal when two codecs' tokens mean the same."""
        return {k: v for k, v in self.config().items() if k not in self.input_options}

    # -- fitting a user's clip (the engine) -------------------------------------------------
    def fit(self, clip: Clip, beats: float, steps_per_quarter: int) -> Clip:
        """``clip`` made something this codec encodes, ``beats`` beats long: read beat for beat
        as 4/4 (any meter), quantised to ``steps_per_quarter`` and cut. Subclasses add their
        own rules (a melody keeps its highest voice, drums are flagged as drums...)."""
        clip = clip.copy(time_signature=(4, 4), tempo_changes=[], meter_changes=[])
        return quantize(clip, steps_per_quarter).slice(0.0, beats)

    # -- transposition (training's augmentation) --------------------------------------------
    #: the parts whose classes are semitones; empty: the codec does not transpose
    pitched_parts: tuple[PitchedPart, ...] = ()

    def transpose(self, tokens: np.ndarray, shifts) -> tuple[np.ndarray, np.ndarray]:
        """``(moved, fits)`` for token windows ``[n, ...]`` moved by ``shifts`` semitones (one
        int for all, or one per window): the pitched parts move, every other column stays;
        ``fits[i]`` is False where a pitch of window ``i`` would leave its part's classes
        (``moved[i]`` is then not a valid window)::

            >>> from runtime.codecs.melody import MelodyCodec
            >>> moved, fits = MelodyCodec().transpose(np.array([[40, 0, 1, 89]]), 1)
            >>> moved.tolist(), fits.tolist()          # 89 + 1 leaves the 90 classes
            ([[41, 0, 1, 90]], [False])
        """
        tokens = np.asarray(tokens)
        shifts = np.broadcast_to(np.asarray(shifts, dtype=np.int64), (len(tokens),))
        moved = tokens.copy()
        fits = np.ones(len(tokens), dtype=bool)
        for column, classes, first in self.pitched_parts:
            view = moved if column is None else moved[..., column]
            shift = shifts.reshape((-1,) + (1,) * (view.ndim - 1))
            pitched = view >= first
            shifted = np.where(pitched, view + shift, view)
            inside = np.where(pitched, (shifted >= first) & (shifted < classes), True)
            fits &= inside.reshape(len(tokens), -1).all(axis=1)
            view[...] = shifted
        return moved, fits

    # -- what a model cannot hear (runtime.fit) ---------------------------------------------
    def unplayable(self, notes) -> dict[str, int]:
        """Notes of a piece this codec has no place for, counted per reason: a phrase a musician
        reads in the fit report of render and the bridge (``{model}`` becomes the model's name)."""
        return {}

    #: why the other notes that do not reach the model are lost; ``{window}`` is the model's
    #: window (e.g. 100 notes) for codecs that count notes
    overlap_reason: ClassVar[str] = "under a higher voice or on the same 16th step"

    # -- playing decoded notes (the bridge) -------------------------------------------------
    def channel_of(self, note: Note, channel: int) -> int:
        """The MIDI channel (0..15) a decoded ``note`` plays on when the music goes out on
        ``channel``: drum notes on the General MIDI drum channel, the others on ``channel``."""
        return DRUM_CHANNEL if note.is_drum else channel

    # -- datasets (training.prepare) --------------------------------------------------------
    #: the ``--kind`` of ``python -m training.prepare`` that builds datasets of this codec
    #: ("" for none)
    prepare_kind: ClassVar[str] = ""
    #: what a dataset window of this codec counts: "bars" (of its step grid), "notes" or
    #: "events"
    window_unit: ClassVar[str] = "bars"
    #: whether :meth:`for_dataset` needs the training pieces (a vocabulary built from the data)
    built_from_data: ClassVar[bool] = False
    #: the shape of one step (or note, or event) of tokens: ``()`` for one class per step
    step_shape: tuple[int, ...] = ()
    #: each step's token is one class (per part) that the decoder is fed back as its one-hot,
    #: so a grid decoder can be primed with a clip's tokens (Engine.continue_)
    one_hot_steps: ClassVar[bool] = False

    @classmethod
    def for_dataset(cls, clips=(), min_pitch: int = 21, max_pitch: int = 108,
                    steps_per_quarter: int = 4) -> "Codec":
        """The codec ``python -m training.prepare`` builds a dataset with, from its flags (and,
        where :attr:`built_from_data`, the training ``clips``); each codec takes what it uses."""
        return cls()


def into_range(note: Note, low: int, high: int) -> Note:
    """``note`` moved by octaves until it lies in ``low..high`` (a model's pitch range)."""
    pitch = note.pitch
    while pitch < low and pitch + 12 <= 127:
        pitch += 12
    while pitch > high and pitch - 12 >= 0:
        pitch -= 12
    return note if pitch == note.pitch else replace(note, pitch=pitch)


def highest_voice(notes: list[Note]) -> list[Note]:
    """A monophonic line from possibly overlapping notes: at each onset the highest note wins and
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


REGISTRY: dict[str, type[Codec]] = {}


def register(cls: type[Codec]) -> type[Codec]:
    """Class decorator: make a codec constructible from its ``config()`` by name."""
    REGISTRY[cls.name] = cls
    return cls


def codec_from_config(config: dict[str, Any]) -> Codec:
    config = dict(config)
    name = config.pop("name", None)
    if name not in REGISTRY:
        raise CodecError(f"unknown codec {name!r} (known: {', '.join(sorted(REGISTRY))})")
    if hasattr(REGISTRY[name], "from_config"):
        return REGISTRY[name].from_config(config)
    return REGISTRY[name](**config)
