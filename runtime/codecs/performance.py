"""Performance events (Oore et al. 2018, "This Time with Feeling"): 388 tokens of note-on,
note-off, time-shift, velocity.

Time runs in real seconds, so expressive timing and dynamics survive (the language-model
baseline reads this)::

    >>> from runtime.codecs.performance import PerformanceCodec
    >>> codec = PerformanceCodec()             # 10 ms steps, shifts up to 1 s, 32 velocity bins
    >>> tokens = codec.encode(clip)            # int64 [events] in 0..387
    >>> codec.describe(tokens[:4])             # ['velocity 97', 'note-on 60', 'shift 500 ms', ...]
    >>> clip_again = codec.decode(tokens, tempo=clip.tempo)   # seconds back to beats at a tempo

Public API: :class:`PerformanceCodec` (``encode``, ``decode``, ``to_input``, ``describe``,
``config``), :func:`seconds_at`.

Token layout (with the defaults): 0..127 note-on of a pitch, 128..255 note-off, 256..355 shift
the clock by 1..100 steps of 10 ms, 356..387 set the velocity bin for the note-ons that follow
(bins of 4, as in Magenta: velocity 1..4 is bin 0, decoded as 1). Beats become seconds through
the clip's tempo map (``tempo_changes``, else ``tempo``); ``decode`` turns seconds back into beats
at one tempo (``tempo=`` or 120). At one instant note-offs come before note-ons so a repeated
note restrikes; the final shift runs to ``clip.length`` so that the length survives.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any

import numpy as np

from ..music import Clip, Note
from .base import Codec, CodecError, register

PITCHES = 128


def seconds_at(clip: Clip):
    """A function beats -> seconds following ``clip``'s tempo map."""
    changes = sorted(clip.tempo_changes) or [(0.0, clip.tempo)]
    if changes[0][0] > 0:
        changes.insert(0, (0.0, clip.tempo))
    beats, seconds = [changes[0][0]], [0.0]
    for (beat, bpm), (next_beat, _) in zip(changes, changes[1:]):
        beats.append(next_beat)
        seconds.append(seconds[-1] + (next_beat - beat) * 60.0 / bpm)

    def convert(beat: float) -> float:
        i = max(0, bisect_right(beats, beat) - 1)
        return seconds[i] + (beat - beats[i]) * 60.0 / changes[i][1]

    return convert


@register
class PerformanceCodec(Codec):
    """Note-on / note-off / time-shift / velocity events; ``output_depth`` = 388 by default."""

    name = "performance"
    prepare_kind = "performance"
    window_unit = "events"

    def __init__(self, steps_per_second: int = 100, max_shift_steps: int = 100,
                 velocity_bins: int = 32):
        if steps_per_second < 1 or max_shift_steps < 1 or not 1 <= velocity_bins <= 127:
            raise CodecError("steps_per_second and max_shift_steps must be >= 1, "
                             "velocity_bins in 1..127")
        self.steps_per_second = int(steps_per_second)
        self.max_shift_steps = int(max_shift_steps)
        self.velocity_bins = int(velocity_bins)
        self.bin_size = math.ceil(127 / self.velocity_bins)
        self.note_off = PITCHES
        self.shift = 2 * PITCHES
        self.velocity = self.shift + self.max_shift_steps
        self.input_depth = self.output_depth = self.velocity + self.velocity_bins

    def encode(self, clip: Clip) -> np.ndarray:
        to_seconds = seconds_at(clip)
        sps = self.steps_per_second
        events = []  # (step, 0 = off / 1 = on, pitch, velocity bin)
        for n in clip.notes:
            on = int(round(to_seconds(n.start) * sps))
            off = max(on + 1, int(round(to_seconds(n.end) * sps)))
            events.append((on, 1, n.pitch, (max(1, n.velocity) - 1) // self.bin_size))
            events.append((off, 0, n.pitch, 0))
        events.sort()
        tokens: list[int] = []
        step, current_bin = 0, None

        def shift_to(target: int) -> None:
            nonlocal step
            while target > step:
                jump = min(target - step, self.max_shift_steps)
                tokens.append(self.shift + jump - 1)
                step += jump

        for at, is_on, pitch, velocity_bin in events:
            shift_to(at)
            if is_on:
                if velocity_bin != current_bin:
                    tokens.append(self.velocity + velocity_bin)
                    current_bin = velocity_bin
                tokens.append(pitch)
            else:
                tokens.append(self.note_off + pitch)
        shift_to(int(round(to_seconds(clip.length) * sps)))
        return np.array(tokens, dtype=np.int64)

    def decode(self, tokens: np.ndarray, **clip_fields) -> Clip:
        """Notes in beats at ``tempo`` (a clip field, 120 if not given).

        Lenient like a MIDI player: an off without a sounding note is ignored, a note still
        sounding at the end stops there (at least one step long).
        """
        tokens = self._check(tokens)
        tempo = float(clip_fields.setdefault("tempo", 120.0))
        beats_per_step = tempo / 60.0 / self.steps_per_second
        step, velocity = 0, 1 + (100 - 1) // self.bin_size * self.bin_size
        sounding: dict[int, list[tuple[int, int]]] = {}
        spans = []
        for token in tokens.tolist():
            if token < self.note_off:
                sounding.setdefault(token, []).append((step, velocity))
            elif token < self.shift:
                started = sounding.get(token - self.note_off)
                if started:
                    on, vel = started.pop(0)
                    spans.append((token - self.note_off, on, max(step, on + 1), vel))
            elif token < self.velocity:
                step += token - self.shift + 1
            else:
                velocity = 1 + (token - self.velocity) * self.bin_size
        for pitch, started in sounding.items():
            spans += [(pitch, on, max(step, on + 1), vel) for on, vel in started]
        notes = [Note(p, on * beats_per_step, off * beats_per_step, velocity=min(127, vel))
                 for p, on, off, vel in spans]
        clip_fields.setdefault("length", step * beats_per_step)
        return Clip(notes=notes, **clip_fields)

    def to_input(self, tokens: np.ndarray) -> np.ndarray:
        tokens = self._check(tokens)
        one_hot = np.zeros((len(tokens), self.input_depth), dtype=np.float32)
        one_hot[np.arange(len(tokens)), tokens] = 1.0
        return one_hot

    def describe(self, tokens) -> list[str]:
        """Readable names of tokens, for debugging and docs."""
        names = []
        for token in self._check(tokens).tolist():
            if token < self.note_off:
                names.append(f"note-on {token}")
            elif token < self.shift:
                names.append(f"note-off {token - self.note_off}")
            elif token < self.velocity:
                names.append(f"shift {(token - self.shift + 1) * 1000 // self.steps_per_second} ms")
            else:
                names.append(f"velocity {1 + (token - self.velocity) * self.bin_size}")
        return names

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "steps_per_second": self.steps_per_second,
                "max_shift_steps": self.max_shift_steps, "velocity_bins": self.velocity_bins}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "PerformanceCodec":
        return cls(**config)

    def _check(self, tokens) -> np.ndarray:
        tokens = np.asarray(tokens)
        if tokens.ndim != 1:
            raise CodecError(f"performance tokens must be one-dimensional, not {list(tokens.shape)}")
        tokens = tokens.astype(np.int64)
        if len(tokens) and (tokens.min() < 0 or tokens.max() >= self.output_depth):
            raise CodecError(f"performance token out of range 0..{self.output_depth - 1}")
        return tokens
