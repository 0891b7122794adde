"""Note events (dT, T, P): one token triple per note, for any meter and any polyphony
(Wang et al. 2019, "Modeling Melodic Feature Dependency with Modularized Variational Auto-Encoder").

Each note becomes three indices: ``dT`` (onset distance from the previous note, 0 for a note
struck together with the previous one, so chords need no special case), ``T`` (duration) and
``P`` (pitch). Times are counted in ticks of a grid (``ticks_per_quarter``, 12 by default so that
both sixteenths and eighth-note triplets are exact); there is no bar anywhere, so 3/4, 7/8 and
free rhythm all encode the same way. The dT and T values a model may emit come from dictionaries
built from the training data::

    >>> from runtime.codecs.note_events import NoteEventCodec, segments
    >>> codec = NoteEventCodec.build(clips, ticks_per_quarter=12)   # dictionaries from the data
    >>> tokens = codec.encode(clip)           # int64 [notes, 3]: (dT index, T index, P index)
    >>> windows = segments(tokens)            # int64 [k, 100, 3], 100 notes, stride 50, as Wang et al.
    >>> clip_again = codec.decode(tokens, tempo=clip.tempo, time_signature=clip.time_signature)
    >>> codec_from_config(codec.config())     # dictionaries travel inside the config (JSON)

Public API: :class:`NoteEventCodec` (``build``, ``encode``, ``decode``, ``to_input``,
``config``/``from_config``, ``field_sizes``, ``dt_values``, ``duration_values``) and
:func:`segments`.

Choices (see docs/codecs_events.md): dictionary entries are sorted by value (the paper numbers
them by first appearance; sorting keeps "nearest entry" lookups and index order meaningful). A
dT or T value missing from the dictionary maps to the nearest entry (ties to the shorter one).
Notes are ordered by onset, then pitch (low to high), so a chord reads bottom-up. The first
note's dT counts from the start of the clip, which keeps a leading rest.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Sequence

import numpy as np

from ..music import Clip, Note
from ..quantize import to_steps
from .base import Codec, CodecError, PitchedPart, into_range, register
from .melody import MelodyCodec

# A dictionary that covers common note values at 12 ticks per quarter, for a codec built
# without data (codec_from_config({"name": "note_events"})); real models store their own.
_DEFAULT_DT = (0, 1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 36, 48, 72, 96)
_DEFAULT_T = (1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 36, 48, 72, 96)


@register
class NoteEventCodec(Codec):
    """(dT, T, P) per note; ``dt_values``/``duration_values`` are tick counts, sorted.

    ``field_sizes`` = (len(dt_values), len(duration_values), max_pitch - min_pitch + 1) is what
    the three output heads of a note-unrolling decoder predict. ``to_input`` gives the indices as
    float32 ``[N, 3]`` (the model embeds them); ``input_depth`` is therefore 3 and
    ``output_depth`` the sum of the field sizes.
    """

    name = "note_events"
    prepare_kind = "notes"
    #: the three fields of a note's tokens (scores name them)
    field_names = ("dT", "T", "P")
    window_unit = "notes"
    built_from_data = True
    step_shape = (3,)

    def __init__(self, ticks_per_quarter: int = 12, dt_values: Sequence[int] = _DEFAULT_DT,
                 duration_values: Sequence[int] = _DEFAULT_T, min_pitch: int = 0,
                 max_pitch: int = 127, velocity: int = 100):
        if ticks_per_quarter < 1:
            raise CodecError(f"ticks_per_quarter must be at least 1, not {ticks_per_quarter}")
        if not 0 <= min_pitch <= max_pitch <= 127:
            raise CodecError(f"pitch range {min_pitch}..{max_pitch} is not inside 0..127")
        self.ticks_per_quarter = int(ticks_per_quarter)
        self.dt_values = np.array(sorted({int(v) for v in dt_values}), dtype=np.int64)
        self.duration_values = np.array(sorted({int(v) for v in duration_values}), dtype=np.int64)
        if not len(self.dt_values) or self.dt_values[0] < 0:
            raise CodecError("dt_values must be a non-empty list of tick counts >= 0")
        if not len(self.duration_values) or self.duration_values[0] < 1:
            raise CodecError("duration_values must be a non-empty list of tick counts >= 1")
        self.min_pitch = int(min_pitch)
        self.max_pitch = int(max_pitch)
        self.velocity = int(velocity)
        self.field_sizes = (len(self.dt_values), len(self.duration_values),
                            self.max_pitch - self.min_pitch + 1)
        self.input_depth = 3
        self.output_depth = sum(self.field_sizes)
        self.output_depths = self.field_sizes  # one softmax per field (training.train reads it)
        # the pitch field: index 0 is the lowest pitch, every index a semitone
        self.pitched_parts = (PitchedPart(2, self.field_sizes[2], 0),)

    # -- building from data -------------------------------------------------------------------

    @classmethod
    def build(cls, clips: Iterable[Clip], ticks_per_quarter: int = 12, min_pitch: int = 0,
              max_pitch: int = 127, max_values: int | None = None, min_count: int = 1,
              velocity: int = 100) -> "NoteEventCodec":
        """A codec whose dT and T dictionaries hold the values seen in ``clips``.

        ``max_values`` keeps only the most frequent values of each field and ``min_count``
        drops values seen fewer times; dT = 0 (chords) is always kept. Notes outside the pitch
        range are ignored while counting.
        """
        dts: Counter = Counter()
        durations: Counter = Counter()
        for clip in clips:
            onsets, lengths, _ = _ticks(clip, ticks_per_quarter, min_pitch, max_pitch, strict=False)
            if len(onsets):
                dts.update(np.diff(onsets, prepend=0).tolist())
                durations.update(lengths.tolist())
        if not durations:
            raise CodecError("no notes in the given clips to build the dictionaries from")

        def keep(counter: Counter) -> list[int]:
            values = [v for v, c in counter.most_common(max_values) if c >= min_count]
            return values or [counter.most_common(1)[0][0]]

        dt_values = sorted(set(keep(dts)) | {0})
        return cls(ticks_per_quarter, dt_values, keep(durations), min_pitch, max_pitch, velocity)

    @classmethod
    def for_dataset(cls, clips=(), min_pitch: int = 21, max_pitch: int = 108,
                    steps_per_quarter: int = 4) -> "NoteEventCodec":
        return cls.build(clips, min_pitch=min_pitch, max_pitch=max_pitch)

    # -- the codec ----------------------------------------------------------------------------

    unplayable = MelodyCodec.unplayable      # drum notes: pitched notes only, as a melody

    overlap_reason = "past the model's {window}-note window"

    def fit(self, clip: Clip, beats: float, steps_per_quarter: int) -> Clip:
        """The clip in its own meter, chords kept, not quantised: drum notes dropped, pitches
        folded by octaves into the range, cut to ``beats`` (``steps_per_quarter`` is not used)."""
        notes = [into_range(n, self.min_pitch, self.max_pitch) for n in clip.notes if not n.is_drum]
        return clip.copy(notes=notes, is_drum=False, tempo_changes=[],
                         meter_changes=[]).slice(0.0, beats)

    def encode(self, clip: Clip) -> np.ndarray:
        """int64 ``[notes, 3]``; raises :class:`CodecError` for a pitch outside the range."""
        onsets, lengths, pitches = _ticks(clip, self.ticks_per_quarter, self.min_pitch,
                                          self.max_pitch, strict=True)
        tokens = np.empty((len(onsets), 3), dtype=np.int64)
        tokens[:, 0] = _nearest(self.dt_values, np.diff(onsets, prepend=0))
        tokens[:, 1] = _nearest(self.duration_values, lengths)
        tokens[:, 2] = pitches - self.min_pitch
        return tokens

    def decode(self, tokens: np.ndarray, **clip_fields) -> Clip:
        """Notes from ``[N, 3]`` indices; ``clip_fields`` (tempo, time_signature, length...) go to Clip."""
        tokens = self._check(tokens)
        onsets = np.cumsum(self.dt_values[tokens[:, 0]]) if len(tokens) else np.zeros(0, np.int64)
        ends = onsets + self.duration_values[tokens[:, 1]]
        tpq = float(self.ticks_per_quarter)
        notes = [Note(int(p) + self.min_pitch, on / tpq, end / tpq, velocity=self.velocity)
                 for on, end, p in zip(onsets.tolist(), ends.tolist(), tokens[:, 2].tolist())]
        return Clip(notes=notes, **clip_fields)

    def to_input(self, tokens: np.ndarray) -> np.ndarray:
        return self._check(tokens).astype(np.float32)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "ticks_per_quarter": self.ticks_per_quarter,
                "dt_values": self.dt_values.tolist(),
                "duration_values": self.duration_values.tolist(),
                "min_pitch": self.min_pitch, "max_pitch": self.max_pitch,
                "velocity": self.velocity}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "NoteEventCodec":
        return cls(**config)

    def _check(self, tokens) -> np.ndarray:
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] != 3:
            raise CodecError(f"note_events tokens must have shape [N, 3], not {list(tokens.shape)}")
        tokens = tokens.astype(np.int64)
        if len(tokens) and ((tokens < 0).any() or (tokens.max(axis=0) >= self.field_sizes).any()):
            raise CodecError(f"note_events token out of range (field sizes {self.field_sizes})")
        return tokens


def segments(tokens: np.ndarray, length: int = 100, stride: int = 50) -> np.ndarray:
    """Windows of ``length`` notes every ``stride`` notes: ``[k, length, ...]`` (k may be 0).

        >>> segments(np.zeros((250, 3), np.int64)).shape
        (4, 100, 3)

    A piece shorter than ``length`` gives no window (Wang et al. train on full 100-note segments).
    """
    if length < 1 or stride < 1:
        raise ValueError("length and stride must be at least 1")
    tokens = np.asarray(tokens)
    starts = range(0, len(tokens) - length + 1, stride)
    if not len(starts):
        return np.zeros((0, length) + tokens.shape[1:], dtype=tokens.dtype)
    return np.stack([tokens[s:s + length] for s in starts])


def _ticks(clip: Clip, tpq: int, min_pitch: int, max_pitch: int, strict: bool):
    """Onsets, durations (>= 1 tick) and pitches on the tick grid, ordered by onset then pitch."""
    rows = []
    for n in clip.notes:
        if not min_pitch <= n.pitch <= max_pitch:
            if strict:
                raise CodecError(f"pitch {n.pitch} at beat {n.start:g} is outside the codec's "
                                 f"range {min_pitch}..{max_pitch}")
            continue
        start = to_steps(n.start, tpq)
        rows.append((start, n.pitch, max(1, to_steps(n.end, tpq) - start)))
    rows.sort()
    data = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return data[:, 0], data[:, 2], data[:, 1]


def _nearest(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index of the nearest dictionary entry for each wanted value (ties to the smaller)."""
    wanted = np.asarray(wanted, dtype=np.int64)
    right = np.clip(np.searchsorted(values, wanted), 0, len(values) - 1)
    left = np.clip(right - 1, 0, len(values) - 1)
    take_left = np.abs(wanted - values[left]) <= np.abs(values[right] - wanted)
    return np.where(take_left, left, right).astype(np.int64)
