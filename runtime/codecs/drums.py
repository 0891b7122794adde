"""MusicVAE's drum codec: 9 drum classes per step, packed into one of 512 tokens.

Every General MIDI drum pitch falls into one of nine classes (kick, snare, closed hi-hat, open
hi-hat, low/mid/high tom, crash, ride), the table of Magenta's ``DEFAULT_DRUM_TYPE_PITCHES``
(note_seq/drums_encoder_decoder.py). A step's token has bit ``i`` set when class ``i`` is hit,
so tokens run 0..511; the model input is the 9-dim roll plus a tenth "no hits" bit::

    >>> from runtime.music import Clip, Note
    >>> from runtime.codecs.drums import DrumsCodec
    >>> codec = DrumsCodec()
    >>> clip = Clip([Note(36, 0.0, 0.25, is_drum=True), Note(42, 0.0, 0.25, is_drum=True),
    ...              Note(38, 1.0, 1.25, is_drum=True)], length=4.0, is_drum=True)
    >>> codec.encode(clip)[:5].tolist()             # kick + closed hat = 1 + 4; snare = 2
    [5, 0, 0, 0, 2]
    >>> codec.to_input(codec.encode(clip)).shape
    (16, 10)

Every note of the clip counts as a drum hit (a clip from a drum rack need not be flagged as
drums); pitches outside the table are ignored, as Magenta does. Decoding writes each class's
first pitch (36, 38, 42, 46, 45, 48, 50, 49, 51) as a one-step note on the drum channel.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..music import DRUM_CHANNEL, Clip, Note
from .base import Codec, CodecError, register
from .melody import check_grid, clip_steps, on_grid

#: Magenta's current 9-class mapping (note_seq.drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES).
DRUM_CLASS_PITCHES: list[list[int]] = [
    [36, 35],                                                    # kick
    [38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85],  # snare
    [42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22],                # closed hi-hat
    [46, 67, 72, 74, 79, 81, 26],                                # open hi-hat
    [45, 29, 41, 43, 61, 64, 84],                                # low tom
    [48, 47, 60, 63, 77, 86, 87],                                # mid tom
    [50, 30, 62, 76, 83],                                        # high tom
    [49, 52, 55, 57, 58],                                        # crash
    [51, 53, 59, 82],                                            # ride
]
DRUM_CLASS_NAMES = ["kick", "snare", "closed_hihat", "open_hihat", "low_tom", "mid_tom",
                    "high_tom", "crash", "ride"]


@register
class DrumsCodec(Codec):
    """Drum clip <-> int64 tokens [T] in 0..2**classes-1; ``to_input`` is the roll [T, classes+1]."""

    name = "drums"
    prepare_kind = "drums"
    one_hot_steps = True

    def __init__(self, steps_per_quarter: int = 4, velocity: int = 80,
                 pitch_classes: list[list[int]] | None = None):
        self.pitch_classes = [list(map(int, c)) for c in (pitch_classes or DRUM_CLASS_PITCHES)]
        if not self.pitch_classes or any(not c for c in self.pitch_classes):
            raise CodecError("drum pitch classes must be non-empty lists of pitches")
        self.class_of = {p: i for i, pitches in enumerate(self.pitch_classes) for p in pitches}
        self.steps_per_quarter = int(steps_per_quarter)
        self.velocity = int(velocity)
        self.num_drum_classes = len(self.pitch_classes)
        self.input_depth = self.num_drum_classes + 1
        self.output_depth = 2 ** self.num_drum_classes

    @property
    def steps_per_bar(self) -> int:
        return 4 * self.steps_per_quarter

    def encode(self, clip: Clip) -> np.ndarray:
        check_grid(clip, self.steps_per_quarter, "the drums codec", check_ends=False)
        return self.encode_notes(clip.notes, clip_steps(clip, self.steps_per_quarter))

    def encode_notes(self, notes, steps: int) -> np.ndarray:
        """Tokens for drum hits (their onsets) over ``steps`` steps."""
        tokens = np.zeros(steps, dtype=np.int64)
        for n in notes:
            step = on_grid(n.start, self.steps_per_quarter)
            drum_class = self.class_of.get(n.pitch)
            if drum_class is not None and step < steps:
                tokens[step] |= 1 << drum_class
        return tokens

    overlap_reason = "doubling a drum class on one 16th step"

    def unplayable(self, notes) -> dict[str, int]:
        """Pitches outside the drum classes' map."""
        return {"not on the General MIDI drum map": sum(n.pitch not in self.class_of for n in notes)}

    def fit(self, clip: Clip, beats: float, steps_per_quarter: int) -> Clip:
        """The clip on the grid (:meth:`Codec.fit`), every note a drum hit (a clip from a drum
        rack need not be flagged as drums)."""
        clip = super().fit(clip, beats, steps_per_quarter)
        return clip.copy(notes=[replace(n, is_drum=True) for n in clip.notes], is_drum=True)

    def channel_of(self, note: Note, channel: int) -> int:
        """Every note on the General MIDI drum channel."""
        return DRUM_CHANNEL

    def decode_notes(self, tokens, track: int = 0) -> list[Note]:
        tokens = np.asarray(tokens)
        if tokens.ndim != 1:
            raise CodecError(f"drum tokens must be one-dimensional, got shape {tokens.shape}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.output_depth):
            raise CodecError(f"drum tokens must be in 0..{self.output_depth - 1}")
        spq = self.steps_per_quarter
        return [Note(pitches[0], step / spq, (step + 1) / spq, velocity=self.velocity,
                     is_drum=True, track=track)
                for step, token in enumerate(tokens.tolist())
                for i, pitches in enumerate(self.pitch_classes) if token >> i & 1]

    def decode(self, tokens: np.ndarray, **clip_fields) -> Clip:
        fields = dict(length=len(tokens) / self.steps_per_quarter, time_signature=(4, 4),
                      is_drum=True)
        fields.update(clip_fields)
        return Clip(notes=self.decode_notes(tokens), **fields)

    def to_input(self, tokens: np.ndarray) -> np.ndarray:
        """Roll of hit classes plus a last column that is 1 on steps without any hit."""
        tokens = np.asarray(tokens, dtype=np.int64)
        bits = (tokens[..., None] >> np.arange(self.num_drum_classes)) & 1
        silent = (tokens == 0)[..., None]
        return np.concatenate([bits, silent], axis=-1).astype(np.float32)

    def config(self) -> dict[str, Any]:
        cfg = {"name": self.name, "steps_per_quarter": self.steps_per_quarter,
               "velocity": self.velocity}
        if self.pitch_classes != DRUM_CLASS_PITCHES:
            cfg["pitch_classes"] = self.pitch_classes
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "DrumsCodec":
        return cls(**{k: v for k, v in config.items() if k != "name"})

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.config() == self.config()

    def __repr__(self) -> str:
        return f"DrumsCodec(steps_per_quarter={self.steps_per_quarter})"
