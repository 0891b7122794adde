"""Carry a player's dynamics into a model's output: the MusicVAE codecs hold no velocity, so a
decoded clip plays every note at the codec's flat velocity (80) unless it is given some back.

    >>> from runtime.dynamics import carry_velocities
    >>> heard = engine.prepare(piece)                     # the input as the model reads it
    >>> out = carry_velocities(engine.decode(engine.encode([piece]))[0], heard)

Each output note takes the velocity of the source note it came from: the one starting on the
same grid step (``steps_per_quarter``) with the same pitch (drums: the same of the nine drum
classes, since a drum model writes each class with one pitch). A note with no such source note
(one the model added or moved) gets the source's mean velocity. A source without notes, or with
every note at one velocity, changes nothing but that level. For an interpolation pass both ends
(:func:`carry_between`): the nearer end is asked first, and the level moves from one end's mean to
the other's along the path.
"""

from __future__ import annotations

from dataclasses import replace

from .codecs.drums import DRUM_CLASS_PITCHES
from .music import Clip, Note

_DRUM_CLASS = {pitch: i for i, pitches in enumerate(DRUM_CLASS_PITCHES) for pitch in pitches}


def _key(note: Note, steps_per_quarter: int) -> tuple:
    step = int(round(note.start * steps_per_quarter))
    if note.is_drum:
        return step, True, _DRUM_CLASS.get(note.pitch, 1000 + note.pitch)
    return step, False, note.pitch


def mean_velocity(clip: Clip) -> int | None:
    """The rounded mean velocity of the clip's notes, None for an empty clip."""
    if not clip.notes:
        return None
    return max(1, min(127, round(sum(n.velocity for n in clip.notes) / len(clip.notes))))


def carry_velocities(clip: Clip, source: Clip, steps_per_quarter: int = 4) -> Clip:
    """``clip`` with each note's velocity taken from ``source`` (see the module's docstring)."""
    return carry_between(clip, [(source, 1.0)], steps_per_quarter)


def carry_between(clip: Clip, sources: list[tuple[Clip, float]], steps_per_quarter: int = 4) -> Clip:
    """Velocities from several sources, each with a weight (an interpolation step at ``t``:
    ``[(a, 1 - t), (b, t)]``): an exact match is looked up in the heaviest source first (a
    source of weight 0 is not asked); other notes get the weighted mean of the sources' means."""
    sources = sorted(((s, w) for s, w in sources if s.notes and w > 0), key=lambda sw: -sw[1])
    if not sources:
        return clip
    lookups = []
    for source, _ in sources:
        by_key = {}
        for n in source.notes:
            by_key.setdefault(_key(n, steps_per_quarter), n.velocity)
        lookups.append(by_key)
    total = sum(w for _, w in sources) or 1.0
    level = max(1, min(127, round(sum(mean_velocity(s) * w for s, w in sources) / total)))
    notes = []
    for n in clip.notes:
        key = _key(n, steps_per_quarter)
        velocity = next((by_key[key] for by_key in lookups if key in by_key), level)
        notes.append(n if n.velocity == velocity else replace(n, velocity=velocity))
    return clip.copy(notes=notes)
