"""Notes and clips: the musical values every layer passes around.

Times are in beats (quarter notes), so a clip means the same thing at any tempo::

    >>> from runtime.music import Note, Clip
    >>> clip = Clip([Note(60, 0.0, 1.0), Note(64, 1.0, 2.0, velocity=90)], length=4.0)
    >>> clip.bars
    1.0
    >>> clip.transpose(2).notes[0].pitch
    62
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

DRUM_CHANNEL = 9  # General MIDI channel 10, counted from zero


@dataclass(frozen=True, order=True)
class Note:
    """One note: MIDI pitch, start and end in beats, velocity 1..127.

    ``program`` is the General MIDI program (0..127) and ``is_drum`` marks notes on the drum
    channel; together they let one clip hold several instruments (a trio, a multi-track file).
    ``track`` remembers which track of a MIDI file the note came from.
    """

    pitch: int
    start: float
    end: float
    velocity: int = 100
    program: int = 0
    is_drum: bool = False
    track: int = 0

    def __post_init__(self):
        if not 0 <= self.pitch <= 127:
            raise ValueError(f"pitch {self.pitch} is outside 0..127")
        if not 0 <= self.velocity <= 127:
            raise ValueError(f"velocity {self.velocity} is outside 0..127")
        if self.end < self.start:
            raise ValueError(f"note ends ({self.end}) before it starts ({self.start})")

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Clip:
    """A stretch of music: notes plus the length, meter and tempo they live in.

    ``time_signature`` and ``tempo`` are the values at beat 0; ``meter_changes`` holds
    ``(beat, numerator, denominator)`` and ``tempo_changes`` holds ``(beat, bpm)`` for files
    whose meter or tempo changes later (the first entry, if any, restates beat 0).
    """

    notes: list[Note] = field(default_factory=list)
    length: float = 0.0
    time_signature: tuple[int, int] = (4, 4)
    tempo: float = 120.0
    is_drum: bool = False
    tempo_changes: list[tuple[float, float]] = field(default_factory=list)
    meter_changes: list[tuple[float, int, int]] = field(default_factory=list)

    def __post_init__(self):
        self.notes = sorted(self.notes, key=lambda n: (n.start, n.pitch, n.end))
        if not self.length:
            self.length = max((n.end for n in self.notes), default=0.0)

    @property
    def beats_per_bar(self) -> float:
        num, den = self.time_signature
        return num * 4.0 / den

    @property
    def bars(self) -> float:
        return self.length / self.beats_per_bar

    def copy(self, **changes) -> "Clip":
        values = dict(notes=list(self.notes), length=self.length,
                      time_signature=self.time_signature, tempo=self.tempo,
                      is_drum=self.is_drum, tempo_changes=list(self.tempo_changes),
                      meter_changes=list(self.meter_changes))
        values.update(changes)
        return Clip(**values)

    def transpose(self, semitones: int) -> "Clip":
        """Shift every pitched note; drum notes keep their pitch (it names an instrument)."""
        notes = [n if n.is_drum else replace(n, pitch=n.pitch + semitones) for n in self.notes]
        return self.copy(notes=notes)

    def slice(self, start: float, end: float) -> "Clip":
        """Notes starting in [start, end), moved to begin at 0 and cut at the new end."""
        notes = [replace(n, start=n.start - start, end=min(n.end, end) - start)
                 for n in self.notes if start <= n.start < end]
        return self.copy(notes=notes, length=end - start, tempo_changes=[], meter_changes=[])

    def shifted(self, beats: float) -> "Clip":
        notes = [replace(n, start=n.start + beats, end=n.end + beats) for n in self.notes]
        return self.copy(notes=notes, length=self.length + beats)

    def filter(self, keep) -> "Clip":
        return self.copy(notes=[n for n in self.notes if keep(n)])

    @classmethod
    def concat(cls, clips: Iterable["Clip"]) -> "Clip":
        """Play clips one after another (meter and tempo of the first)."""
        clips = list(clips)
        if not clips:
            return cls()
        notes, offset = [], 0.0
        for clip in clips:
            notes += [replace(n, start=n.start + offset, end=n.end + offset) for n in clip.notes]
            offset += clip.length
        return clips[0].copy(notes=notes, length=offset, tempo_changes=[], meter_changes=[])

    def __len__(self) -> int:
        return len(self.notes)
