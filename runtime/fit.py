"""What a model hears of an input clip: how many of its notes reach the model, and why the others
do not (so that a reconstruction of nothing is never a silent surprise).

    >>> from runtime.fit import hearing
    >>> h = hearing(engine, piece)             # piece: one model-length slice of the input
    >>> h.heard, h.total, h.reasons            # (12, 40, {'drum notes (...)': 20, 'under ...': 8})
    >>> h.prepared                             # the piece as the model reads it, velocities kept

The count comes from the model's own path: the piece is prepared and encoded to tokens exactly as
for encoding (:meth:`Engine.tokens`) and the tokens decoded back to notes, so whatever the codec
cannot hold is missing from ``heard``. The reasons name the notes a codec never takes (drums in a
melody model, pitches outside the drum map, programs without a trio part); the rest were merged
on the 16th grid or lay under a higher voice (melody models keep one line). ``moved`` counts the
pitched notes outside the model's range, which it hears moved by octaves into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .engine import Engine, EngineError
from .music import Clip


@dataclass
class Hearing:
    """One input piece as a model hears it."""

    total: int                     #: notes starting in the piece
    heard: int                     #: notes that reach the model
    #: why the others do not: {phrase: notes}, e.g. {"drum notes (...)": 8}
    reasons: dict[str, int] = field(default_factory=dict)
    prepared: Clip | None = None   #: the piece as the model reads it (velocities kept)
    moved: int = 0                 #: pitched notes moved by octaves into the model's range
    pitch_range: tuple[int, int] = (0, 127)   #: that range


def hearing(engine: Engine, piece: Clip) -> Hearing:
    """How ``engine``'s model hears ``piece`` (one model-length slice starting at beat 0)."""
    total = len(piece.notes)
    prepared = engine.prepare(piece)
    if engine.decoder.continuous or not total:
        return Hearing(total, len(prepared.notes) if total else 0, {}, prepared)
    try:
        tokens = engine.tokens(piece)
        if not engine.decoder.grid:
            tokens = tokens[: engine.notes]
        heard = len(engine.to_clip(tokens).notes)
    except EngineError:
        heard = 0
    words = {"model": engine.name, "window": engine.notes}
    unplayable = engine.codec.unplayable(piece.notes)
    reasons = {phrase.format(**words): n for phrase, n in unplayable.items()}
    rest = total - heard - sum(reasons.values())
    reasons[engine.codec.overlap_reason.format(**words)] = max(0, rest)
    low, high = _pitch_range(engine)
    moved = sum(not n.is_drum and not low <= n.pitch <= high for n in piece.notes)
    return Hearing(total, heard, {k: v for k, v in reasons.items() if v}, prepared, moved,
                   (low, high))


def _pitch_range(engine: Engine) -> tuple[int, int]:
    """The pitches a model plays (its codec's, the melody part's for a trio; 0-127 if none)."""
    codec = getattr(engine.codec, "melody", engine.codec)
    return getattr(codec, "min_pitch", 0), getattr(codec, "max_pitch", 127)
