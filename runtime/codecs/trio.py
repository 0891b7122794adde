"""MusicVAE's trio codec: melody, bass and drums side by side, one row of three tokens per step.

The parts are told apart the way Magenta's ``TrioConverter`` does: melody = pitched notes with
General MIDI programs 0-31, bass = programs 32-39, drums = notes on the drum channel. Each part
is coded with its own codec (melody one-hot, melody one-hot, 512-way drums)::

    >>> from runtime.music import Clip, Note
    >>> from runtime.codecs.trio import TrioCodec
    >>> codec = TrioCodec()
    >>> clip = Clip([Note(72, 0, 1, program=0), Note(36, 0, 2, program=33),
    ...              Note(36, 0, 0.25, is_drum=True)], length=4.0)
    >>> codec.encode(clip)[0].tolist()              # (melody class, bass class, drums token)
    [53, 17, 1]
    >>> codec.to_input(codec.encode(clip)).shape    # 90 + 90 + 10
    (16, 190)
    >>> codec.output_depths                         # one softmax per part
    (90, 90, 512)

``output_depth`` is the sum of the parts (692): a model splits its logits by ``output_depths``.
Decoding gives one clip with the melody on program 0, the bass on program 33 and the drums on
the drum channel (tracks 0, 1, 2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..music import DRUM_CHANNEL, Clip, Note
from .base import Codec, CodecError, PitchedPart, highest_voice, into_range, register
from .drums import DrumsCodec
from .melody import FIRST_PITCH_CLASS, MelodyCodec, check_grid, clip_steps

MELODY_PROGRAMS = range(0, 32)
BASS_PROGRAMS = range(32, 40)


def span(programs: range) -> str:
    """'0-31' for range(0, 32): a program range as messages write it."""
    return f"{programs.start}-{programs.stop - 1}"


#: the rule in words, for messages
PROGRAMS_TEXT = f"melody {span(MELODY_PROGRAMS)}, bass {span(BASS_PROGRAMS)}, drums channel 10"


def instrument_part(program: int, is_drum: bool = False) -> str | None:
    """The part an instrument plays: 'melody', 'bass', 'drums' or None (a program the trio has
    no place for). The one table of the rule::

        >>> instrument_part(0), instrument_part(33), instrument_part(48), instrument_part(0, True)
        ('melody', 'bass', None, 'drums')
    """
    if is_drum:
        return "drums"
    if program in MELODY_PROGRAMS:
        return "melody"
    if program in BASS_PROGRAMS:
        return "bass"
    return None


def trio_part(note: Note) -> str | None:
    """'melody', 'bass', 'drums' or None: the part of ``note``'s instrument
    (:func:`instrument_part`)."""
    return instrument_part(note.program, note.is_drum)


@register
class TrioCodec(Codec):
    """Trio clip <-> int64 tokens [T, 3]; ``to_input`` concatenates the three parts' inputs."""

    name = "trio"
    #: the parts side by side in tokens [T, 3] and in the decoder's logits
    part_names = ("melody", "bass", "drums")
    parts = ("melody", "bass", "drums")
    prepare_kind = "trio"
    one_hot_steps = True
    step_shape = (3,)

    def __init__(self, min_pitch: int = 21, max_pitch: int = 108, steps_per_quarter: int = 4,
                 velocity: int = 80, melody_program: int = 0, bass_program: int = 33,
                 drums_input: str = "roll", drum_pitch_classes: list[list[int]] | None = None):
        self.melody = MelodyCodec(min_pitch, max_pitch, steps_per_quarter, velocity)
        self.bass = MelodyCodec(min_pitch, max_pitch, steps_per_quarter, velocity)
        self.drums = DrumsCodec(steps_per_quarter, velocity, pitch_classes=drum_pitch_classes)
        # "one_hot": the drums part of the input is the 512-way one-hot, as in Magenta's
        # TrioConverter (needed by imported Magenta.js trio checkpoints, training.import_magenta)
        if drums_input not in ("roll", "one_hot"):
            raise CodecError(f"drums_input must be 'roll' or 'one_hot', got {drums_input!r}")
        self.drums_input = drums_input
        self.steps_per_quarter = int(steps_per_quarter)
        self.melody_program = int(melody_program)
        self.bass_program = int(bass_program)
        self.input_depths = (self.melody.input_depth, self.bass.input_depth,
                             self.drums.input_depth if drums_input == "roll"
                             else self.drums.output_depth)
        self.output_depths = (self.melody.output_depth, self.bass.output_depth,
                              self.drums.output_depth)
        self.input_depth = sum(self.input_depths)
        self.output_depth = sum(self.output_depths)
        self.pitched_parts = (PitchedPart(0, self.melody.num_classes, FIRST_PITCH_CLASS),
                              PitchedPart(1, self.bass.num_classes, FIRST_PITCH_CLASS))

    @classmethod
    def for_dataset(cls, clips=(), min_pitch: int = 21, max_pitch: int = 108,
                    steps_per_quarter: int = 4) -> "TrioCodec":
        return cls(min_pitch, max_pitch)

    @property
    def steps_per_bar(self) -> int:
        return 4 * self.steps_per_quarter

    def encode(self, clip: Clip) -> np.ndarray:
        """Tokens [T, 3]; each pitched part must be monophonic (see training.extract.trios)."""
        steps = clip_steps(clip, self.steps_per_quarter)
        by_part = {part: [] for part in self.parts}
        for n in clip.notes:
            part = "drums" if clip.is_drum else trio_part(n)
            if part is None:
                raise CodecError(f"the trio codec has no part for program {n.program} "
                                 f"({PROGRAMS_TEXT})")
            by_part[part].append(n)
        # Pitched notes must sit on the grid at both ends, drum hits only at their onsets.
        check_grid(clip.copy(notes=by_part["melody"] + by_part["bass"]), self.steps_per_quarter,
                   "the trio codec")
        check_grid(clip.copy(notes=by_part["drums"]), self.steps_per_quarter, "the trio codec",
                   check_ends=False)
        columns = []
        for part in self.parts:
            try:
                columns.append(getattr(self, part).encode_notes(by_part[part], steps))
            except CodecError as exc:
                raise CodecError(f"trio {part}: {exc}") from None
        return np.stack(columns, axis=1) if steps else np.zeros((0, 3), dtype=np.int64)

    @staticmethod
    def part_of(note: Note) -> str | None:
        """The part ``note`` plays in: see :func:`trio_part`."""
        return trio_part(note)

    #: the part of an instrument, ``(program, is_drum) -> 'melody' | 'bass' | 'drums' | None``
    #: (training.extract groups a file's notes by instrument and asks this)
    part_of_instrument = staticmethod(instrument_part)

    def unplayable(self, notes) -> dict[str, int]:
        """Notes on programs the trio has no part for."""
        return {f"on programs without a trio part: {PROGRAMS_TEXT}":
                sum(trio_part(n) is None for n in notes)}

    def fit(self, clip: Clip, beats: float, steps_per_quarter: int) -> Clip:
        """The clip on the grid (:meth:`Codec.fit`) as three parts: melody and bass each one
        line (highest voice) folded into the range, the drums as they are; notes on programs
        without a part are dropped."""
        clip = super().fit(clip, beats, steps_per_quarter)
        by_part = {part: [] for part in self.parts}
        for n in clip.notes:
            part = trio_part(n)
            if part == "drums":
                by_part[part].append(n)
            elif part is not None:
                codec = getattr(self, part)
                by_part[part].append(into_range(n, codec.min_pitch, codec.max_pitch))
        return clip.copy(notes=highest_voice(by_part["melody"]) + highest_voice(by_part["bass"])
                         + by_part["drums"], is_drum=False)

    def channel_of(self, note: Note, channel: int) -> int:
        """Drums on the General MIDI drum channel, the bass one channel above the melody's."""
        if note.is_drum:
            return DRUM_CHANNEL
        return (channel + 1) % 16 if trio_part(note) == "bass" else channel

    def decode(self, tokens: np.ndarray, **clip_fields) -> Clip:
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] != 3:
            raise CodecError(f"trio tokens must have shape [T, 3], got {tokens.shape}")
        notes = (self.melody.decode_notes(tokens[:, 0], program=self.melody_program, track=0)
                 + self.bass.decode_notes(tokens[:, 1], program=self.bass_program, track=1)
                 + self.drums.decode_notes(tokens[:, 2], track=2))
        fields = dict(length=len(tokens) / self.steps_per_quarter, time_signature=(4, 4))
        fields.update(clip_fields)
        return Clip(notes=notes, **fields)

    def to_input(self, tokens: np.ndarray) -> np.ndarray:
        tokens = np.asarray(tokens, dtype=np.int64)
        return np.concatenate([self.melody.to_input(tokens[..., 0]),
                               self.bass.to_input(tokens[..., 1]),
                               self.drums.to_input(tokens[..., 2]) if self.drums_input == "roll"
                               else np.eye(self.drums.output_depth, dtype=np.float32)[
                                   tokens[..., 2]]], axis=-1)

    def config(self) -> dict[str, Any]:
        cfg = {"name": self.name, "min_pitch": self.melody.min_pitch,
               "max_pitch": self.melody.max_pitch, "steps_per_quarter": self.steps_per_quarter,
               "velocity": self.melody.velocity, "melody_program": self.melody_program,
               "bass_program": self.bass_program}
        if self.drums_input != "roll":
            cfg["drums_input"] = self.drums_input
        if "pitch_classes" in self.drums.config():
            cfg["drum_pitch_classes"] = self.drums.pitch_classes
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "TrioCodec":
        return cls(**{k: v for k, v in config.items() if k != "name"})

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.config() == self.config()

    def __repr__(self) -> str:
        return f"TrioCodec(min_pitch={self.melody.min_pitch}, max_pitch={self.melody.max_pitch})"
