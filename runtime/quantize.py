"""Snap note times to a grid of steps per quarter note.

    >>> from runtime.quantize import quantize, to_steps
    >>> q = quantize(clip, steps_per_quarter=4)     # 16 steps per 4/4 bar, MusicVAE's grid
    >>> to_steps(q.notes[0].start, 4)
    0
"""

from __future__ import annotations

import math
from dataclasses import replace

from .music import Clip


def to_steps(beats: float, steps_per_quarter: int) -> int:
    """Nearest step for a time in beats (halves round up, so 0.125 at 4/quarter is step 1)."""
    return int(math.floor(beats * steps_per_quarter + 0.5))


def quantize(clip: Clip, steps_per_quarter: int = 4) -> Clip:
    """Move each note's start and end to the nearest step; a note never shrinks to nothing.

    Drum hits keep a one-step duration: their length carries no meaning in MIDI drums.
    """
    notes = []
    for n in clip.notes:
        start = to_steps(n.start, steps_per_quarter)
        end = max(start + 1, to_steps(n.end, steps_per_quarter))
        if n.is_drum or clip.is_drum:
            end = start + 1
        notes.append(replace(n, start=start / steps_per_quarter, end=end / steps_per_quarter))
    length = math.ceil(clip.length * steps_per_quarter - 1e-9) / steps_per_quarter
    return clip.copy(notes=notes, length=max(length, max((n.end for n in notes), default=0.0)))


def steps_per_bar(time_signature: tuple[int, int], steps_per_quarter: int = 4) -> int:
    num, den = time_signature
    steps = num * 4 * steps_per_quarter / den
    if steps != int(steps):
        raise ValueError(f"meter {num}/{den} does not fill whole steps at {steps_per_quarter} per quarter")
    return int(steps)
