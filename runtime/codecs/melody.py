"""MusicVAE's monophonic melody codec (Magenta's ``MelodyOneHotEncoding``).

One class per sixteenth-note step: 0 = no event (the current note holds, or the rest goes on),
1 = note-off, ``2 + pitch - min_pitch`` = a new note starts. With Magenta's default range
21..108 that makes 90 classes; the paper's 0..127 makes 130::

    >>> from runtime.music import Clip, Note
    >>> from runtime.codecs.melody import MelodyCodec
    >>> codec = MelodyCodec()                       # min_pitch=21, max_pitch=108 -> 90 classes
    >>> clip = Clip([Note(60, 0.0, 1.0), Note(62, 1.0, 1.5)], length=4.0)
    >>> codec.encode(clip)[:8].tolist()             # 16 steps per 4/4 bar
    [41, 0, 0, 0, 43, 0, 1, 0]
    >>> codec.to_input(codec.encode(clip)).shape
    (16, 90)
    >>> codec.decode(codec.encode(clip)).notes[1]
    Note(pitch=62, start=1.0, end=1.5, velocity=80, program=0, is_drum=False, track=0)

``encode`` wants a quantised, monophonic clip in 4/4 (see :mod:`training.extract` for pulling
melodies out of real music) and raises :class:`~runtime.codecs.base.CodecError` otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..music import Clip, Note
from .base import Codec, CodecError, PitchedPart, highest_voice, into_range, register

NO_EVENT = 0
NOTE_OFF = 1
FIRST_PITCH_CLASS = 2


def clip_steps(clip: Clip, steps_per_quarter: int) -> int:
    """Number of grid steps the clip's length covers (a partial last step counts)."""
    return int(np.ceil(clip.length * steps_per_quarter - 1e-6))


def check_grid(clip: Clip, steps_per_quarter: int, what: str, check_ends: bool = True) -> None:
    """Raise CodecError unless the clip is in 4/4 and every note sits on the step grid
    (onsets only when ``check_ends`` is False: a drum hit's length means nothing)."""
    meters = {(num, den) for _, num, den in clip.meter_changes} | {tuple(clip.time_signature)}
    if meters != {(4, 4)}:
        raise CodecError(f"{what} needs 4/4 time, the clip has "
                         f"{', '.join(f'{n}/{d}' for n, d in sorted(meters))}")
    for n in clip.notes:
        for t in (n.start, n.end) if check_ends else (n.start,):
            if abs(t * steps_per_quarter - round(t * steps_per_quarter)) > 1e-6:
                raise CodecError(f"{what} needs a quantised clip (note {n.pitch} at beat {t:g} "
                                 f"is off the {steps_per_quarter}-per-quarter grid)")


def on_grid(beats: float, steps_per_quarter: int) -> int:
    return int(round(beats * steps_per_quarter))


@register
class MelodyCodec(Codec):
    """Monophonic melody <-> int64 classes [T]; ``to_input`` is the one-hot [T, C] float32."""

    name = "melody"
    prepare_kind = "mel"
    one_hot_steps = True

    def __init__(self, min_pitch: int = 21, max_pitch: int = 108, steps_per_quarter: int = 4,
                 velocity: int = 80):
        if not 0 <= min_pitch <= max_pitch <= 127:
            raise CodecError(f"melody pitch range {min_pitch}..{max_pitch} is not inside 0..127")
        self.min_pitch = int(min_pitch)
        self.max_pitch = int(max_pitch)
        self.steps_per_quarter = int(steps_per_quarter)
        self.velocity = int(velocity)
        self.num_classes = self.max_pitch - self.min_pitch + 1 + FIRST_PITCH_CLASS
        self.input_depth = self.output_depth = self.num_classes
        self.pitched_parts = (PitchedPart(None, self.num_classes, FIRST_PITCH_CLASS),)

    @classmethod
    def for_dataset(cls, clips=(), min_pitch: int = 21, max_pitch: int = 108,
                    steps_per_quarter: int = 4) -> "MelodyCodec":
        return cls(min_pitch, max_pitch)

    @property
    def steps_per_bar(self) -> int:
        return 4 * self.steps_per_quarter

    # -- clip -> tokens ---------------------------------------------------------------------
    def encode(self, clip: Clip) -> np.ndarray:
        """Classes for every step of ``clip`` (its length, rounded up to whole steps)."""
        check_grid(clip, self.steps_per_quarter, "the melody codec")
        if any(n.is_drum for n in clip.notes) or (clip.is_drum and clip.notes):
            raise CodecError("the melody codec cannot encode drum notes")
        return self.encode_notes(clip.notes, clip_steps(clip, self.steps_per_quarter))

    def encode_notes(self, notes, steps: int) -> np.ndarray:
        """Classes for quantised, non-overlapping ``notes`` over ``steps`` steps."""
        spq = self.steps_per_quarter
        tokens = np.full(steps, NO_EVENT, dtype=np.int64)
        previous_end = None
        for n in sorted(notes, key=lambda n: (n.start, n.pitch)):
            if not self.min_pitch <= n.pitch <= self.max_pitch:
                raise CodecError(f"pitch {n.pitch} is outside the melody range "
                                 f"{self.min_pitch}..{self.max_pitch}")
            start, end = on_grid(n.start, spq), on_grid(n.end, spq)
            if start >= steps:
                continue
            if previous_end is not None and start < previous_end:
                raise CodecError(f"the melody codec needs a monophonic clip (note {n.pitch} at "
                                 f"beat {n.start:g} starts before the previous note ends)")
            tokens[start] = FIRST_PITCH_CLASS + n.pitch - self.min_pitch
            # A note-off only where no other note starts on the same step; the next note
            # overwrites it if it does (sorted order guarantees it comes later).
            if end < steps and tokens[end] == NO_EVENT:
                tokens[end] = NOTE_OFF
            previous_end = max(end, start + 1)
        return tokens

    def unplayable(self, notes) -> dict[str, int]:
        """Drum notes: a melody has none."""
        return {"drum notes, which {model} does not play": sum(n.is_drum for n in notes)}

    def fit(self, clip: Clip, beats: float, steps_per_quarter: int) -> Clip:
        """The clip on the grid (:meth:`Codec.fit`) as one line: drum notes dropped, pitches
        folded by octaves into the range, the highest voice kept."""
        clip = super().fit(clip, beats, steps_per_quarter)
        notes = [into_range(n, self.min_pitch, self.max_pitch) for n in clip.notes if not n.is_drum]
        return clip.copy(notes=highest_voice(notes))

    # -- tokens -> clip ---------------------------------------------------------------------
    def decode_notes(self, tokens, program: int = 0, track: int = 0) -> list[Note]:
        """Notes for a class sequence: each pitch class starts a note that lasts until the next
        event (note-off or another note) or the end."""
        tokens = np.asarray(tokens)
        if tokens.ndim != 1:
            raise CodecError(f"melody tokens must be one-dimensional, got shape {tokens.shape}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.num_classes):
            raise CodecError(f"melody tokens must be in 0..{self.num_classes - 1}")
        spq = self.steps_per_quarter
        notes, pitch, start = [], None, 0

        def close(at):
            if pitch is not None:
                notes.append(Note(pitch, start / spq, at / spq, velocity=self.velocity,
                                  program=program, track=track))

        for step, token in enumerate(tokens.tolist()):
            if token == NO_EVENT:
                continue
            close(step)
            pitch, start = (None, step) if token == NOTE_OFF else (
                self.min_pitch + token - FIRST_PITCH_CLASS, step)
        close(len(tokens))
        return notes

    def decode(self, tokens: np.ndarray, **clip_fields) -> Clip:
        """A 4/4 clip as long as the tokens (``clip_fields`` go to :class:`Clip`, e.g. tempo)."""
        fields = dict(length=len(tokens) / self.steps_per_quarter, time_signature=(4, 4))
        fields.update(clip_fields)
        return Clip(notes=self.decode_notes(tokens), **fields)

    def to_input(self, tokens: np.ndarray) -> np.ndarray:
        tokens = np.asarray(tokens, dtype=np.int64)
        return np.eye(self.num_classes, dtype=np.float32)[tokens]

    # -- config -----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {"name": self.name, "min_pitch": self.min_pitch, "max_pitch": self.max_pitch,
                "steps_per_quarter": self.steps_per_quarter, "velocity": self.velocity}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "MelodyCodec":
        config = {k: v for k, v in config.items() if k != "name"}
        return cls(**config)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.config() == self.config()

    def __repr__(self) -> str:
        return (f"MelodyCodec(min_pitch={self.min_pitch}, max_pitch={self.max_pitch}, "
                f"steps_per_quarter={self.steps_per_quarter})")
