"""Pitch class, octave, duration: three indices per note of a monophonic line (VRASH:
Tikhonov & Yamshchikov 2017, "Music Generation with Variational Recurrent Autoencoder Supported
by History").

Each event of the melody is (pitch class 0..11, or 12 for a rest; octave = pitch // 12, 0..10,
0 for rests; index into a duration vocabulary). Rests are events of their own, so the line
needs no clock: the events simply follow each other::

    >>> from runtime.codecs.pod import PodCodec
    >>> codec = PodCodec.build(clips, ticks_per_quarter=12)   # duration vocabulary from the data
    >>> tokens = codec.encode(melody)          # int64 [events, 3]
    >>> codec.decode(tokens).notes[0]          # Note(pitch=..., start=..., end=...)
    >>> codec_from_config(codec.config())      # the vocabulary travels in the config (JSON)

Public API: :class:`PodCodec` (``build``, ``encode``, ``decode``, ``to_input``, ``config``,
``field_sizes``, ``durations``), :data:`REST`.

Choices (docs/codecs_events.md): durations are tick counts at ``ticks_per_quarter``; a value
missing from the vocabulary maps to the nearest entry, and the encoder measures each rest from
where the decoded line has got to, so rounding never accumulates. Rests longer than the longest
entry are split into several rest events (longest entries first). ``polyphony="top"``
(default) keeps the highest note of notes struck together and cuts a note short where the next
one starts; ``polyphony="error"`` refuses chords with a :class:`CodecError` instead. A decoded
pitch above 127 drops an octave.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Sequence

import numpy as np

from ..music import Clip, Note
from ..quantize import to_steps
from .base import Codec, CodecError, register
from .note_events import _nearest

REST = 12
OCTAVES = 11  # MIDI 0..127 spans octaves 0..10
_DEFAULT_DURATIONS = (1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 36, 48)


@register
class PodCodec(Codec):
    """(pitch class or rest, octave, duration index) per event; ``field_sizes`` = (13, 11, D)."""

    name = "pod"
    prepare_kind = "pod"
    window_unit = "notes"
    built_from_data = True
    step_shape = (3,)

    def __init__(self, ticks_per_quarter: int = 12, durations: Sequence[int] = _DEFAULT_DURATIONS,
                 polyphony: str = "top", velocity: int = 100):
        if ticks_per_quarter < 1:
            raise CodecError(f"ticks_per_quarter must be at least 1, not {ticks_per_quarter}")
        if polyphony not in ("top", "error"):
            raise CodecError(f"polyphony must be 'top' or 'error', not {polyphony!r}")
        self.ticks_per_quarter = int(ticks_per_quarter)
        self.durations = np.array(sorted({int(d) for d in durations}), dtype=np.int64)
        if not len(self.durations) or self.durations[0] < 1:
            raise CodecError("durations must be a non-empty list of tick counts >= 1")
        self.polyphony = polyphony
        self.velocity = int(velocity)
        self.field_sizes = (REST + 1, OCTAVES, len(self.durations))
        self.input_depth = 3
        self.output_depth = sum(self.field_sizes)
        self.output_depths = self.field_sizes  # one softmax per field (training.train reads it)

    @classmethod
    def for_dataset(cls, clips=(), min_pitch: int = 21, max_pitch: int = 108,
                    steps_per_quarter: int = 4) -> "PodCodec":
        return cls.build(clips)

    @classmethod
    def build(cls, clips: Iterable[Clip], ticks_per_quarter: int = 12,
              max_values: int | None = None, min_count: int = 1, polyphony: str = "top",
              velocity: int = 100) -> "PodCodec":
        """A codec whose duration vocabulary holds the note and rest lengths seen in ``clips``
        (the ``max_values`` most frequent ones seen at least ``min_count`` times)."""
        counts: Counter = Counter()
        for clip in clips:
            line = _line(clip, ticks_per_quarter, polyphony)
            position = 0
            for start, end, _ in line:
                if start > position:
                    counts[start - position] += 1
                counts[end - start] += 1
                position = end
        if not counts:
            raise CodecError("no notes in the given clips to build the duration vocabulary from")
        values = [v for v, c in counts.most_common(max_values) if c >= min_count]
        return cls(ticks_per_quarter, values or [counts.most_common(1)[0][0]], polyphony, velocity)

    def encode(self, clip: Clip) -> np.ndarray:
        """int64 ``[events, 3]``: the line's notes and rests (a trailing rest up to clip.length)."""
        rows: list[tuple[int, int, int]] = []
        position = 0  # where the decoded line has got to, in ticks

        def rest_until(tick: int) -> None:
            """Rest events filling the gap: greedily the longest entries that fit."""
            nonlocal position
            while tick > position:
                gap = tick - position
                index = int(np.searchsorted(self.durations, gap, side="right")) - 1
                if index < 0:  # shorter than every entry: round to the shortest or to nothing
                    if 2 * gap < self.durations[0]:
                        return
                    index = 0
                rows.append((REST, 0, index))
                position += int(self.durations[index])

        for start, end, pitch in _line(clip, self.ticks_per_quarter, self.polyphony):
            rest_until(start)
            index = int(_nearest(self.durations, [end - max(start, position)])[0])
            rows.append((pitch % 12, pitch // 12, index))
            position = max(start, position) + int(self.durations[index])
        rest_until(to_steps(clip.length, self.ticks_per_quarter))
        return np.array(rows, dtype=np.int64).reshape(-1, 3)

    def decode(self, tokens: np.ndarray, **clip_fields) -> Clip:
        """Notes one after another; ``clip_fields`` (tempo, time_signature, length...) go to Clip."""
        tokens = self._check(tokens)
        tpq = float(self.ticks_per_quarter)
        notes, tick = [], 0
        for pitch_class, octave, index in tokens.tolist():
            length = int(self.durations[index])
            if pitch_class != REST:
                pitch = octave * 12 + pitch_class
                if pitch > 127:
                    pitch -= 12
                notes.append(Note(pitch, tick / tpq, (tick + length) / tpq, velocity=self.velocity))
            tick += length
        clip_fields.setdefault("length", tick / tpq)
        return Clip(notes=notes, **clip_fields)

    def to_input(self, tokens: np.ndarray) -> np.ndarray:
        return self._check(tokens).astype(np.float32)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "ticks_per_quarter": self.ticks_per_quarter,
                "durations": self.durations.tolist(), "polyphony": self.polyphony,
                "velocity": self.velocity}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "PodCodec":
        return cls(**config)

    def _check(self, tokens) -> np.ndarray:
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] != 3:
            raise CodecError(f"pod tokens must have shape [N, 3], not {list(tokens.shape)}")
        tokens = tokens.astype(np.int64)
        if len(tokens) and ((tokens < 0).any() or (tokens.max(axis=0) >= self.field_sizes).any()):
            raise CodecError(f"pod token out of range (field sizes {self.field_sizes})")
        return tokens


def _line(clip: Clip, tpq: int, polyphony: str) -> list[tuple[int, int, int]]:
    """(start, end, pitch) in ticks, one note at a time: the top note of a chord, each note cut
    where the next begins."""
    by_onset: dict[int, tuple[int, int]] = {}
    for n in clip.notes:
        start = to_steps(n.start, tpq)
        end = max(start + 1, to_steps(n.end, tpq))
        if start in by_onset and polyphony == "error" and by_onset[start][1] != n.pitch:
            raise CodecError(f"notes struck together at beat {n.start:g}: the pod codec is "
                             "monophonic (use polyphony='top' to keep the highest)")
        if start not in by_onset or n.pitch > by_onset[start][1]:
            by_onset[start] = (end, n.pitch)
    onsets = sorted(by_onset)
    line = []
    for i, start in enumerate(onsets):
        end, pitch = by_onset[start]
        if i + 1 < len(onsets):
            end = min(end, onsets[i + 1])
        line.append((start, end, pitch))
    return line
