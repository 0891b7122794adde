"""Read what a user hands in: a MIDI file or a score (MusicXML, ABC, ...), whole or one part.

    >>> from runtime.inputs import InputError, read_clip
    >>> clip, said = read_clip("quartet.mid", track=3)     # the third track, as a DAW counts
    >>> said
    "quartet.mid: track 3 'Viola' (channel 3), 212 notes"
    >>> clip, said = read_clip("song.mid", channel=10)     # General MIDI drums
    >>> clip, said = read_clip("chorale.mxl", track=1)     # a score's first part (music21)

``track`` and ``channel`` count from 1, as a musician does (channel 10 is the drums; a type-1
MIDI file's track 1 often holds only the tempo). Without them every note is read, and ``said``
lists the parts when there are several, so the user learns that ``--track N`` picks one (a
melody model hears only the highest voice of everything it is given). Scores (``.xml``,
``.mxl``, ``.musicxml``, ``.abc``, ``.krn``) are read by :mod:`runtime.scores` through music21,
which the ``scores`` extra installs (the ``train`` extra too); without it the error says so. Every problem is an
:class:`InputError` with one line naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from .midi_io import MidiError, midi_parts, read_midi
from .music import Clip

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
#: how many parts a listing names before "..."
LISTED = 6


class InputError(ValueError):
    """An input file that cannot be read, or has no such part; one line for the user."""


def read_clip(path, track: int | None = None, channel: int | None = None) -> tuple[Clip, str | None]:
    """The clip of ``path`` (one track/part and/or channel if asked) and a line saying which part
    was read (None for a file with a single part and no choice made)."""
    path = Path(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() in MIDI_SUFFIXES:
        return _read_midi(path, track, channel)
    return _read_score(path, track, channel)


def _read_midi(path: Path, track, channel) -> tuple[Clip, str | None]:
    try:
        parts = midi_parts(path)
        clip = read_midi(path, None if track is None else track - 1,
                         None if channel is None else channel - 1)
    except MidiError as exc:
        raise InputError(str(exc)) from None
    chosen = [p for p in parts if (track is None or p.track == track - 1)
              and (channel is None or p.channel == channel - 1)]
    if track is None and channel is None:
        if len(parts) < 2:
            return clip, None
        return clip, (f"{path}: {len(parts)} parts, all read ({_listing(parts)}); "
                      f"pick one with --track N or --channel N")
    if not chosen:
        asked = " ".join(f"--{name} {value}" for name, value in (("track", track), ("channel", channel))
                         if value is not None)
        raise InputError(f"{path}: no notes for {asked} (parts with notes: "
                         f"{_listing(parts) if parts else 'none'})")
    return clip, f"{path}: {_listing(chosen)}"


def _listing(parts) -> str:
    text = [f"track {p.track + 1}{f' {p.name!r}' if p.name else ''} channel {p.channel + 1}: "
            f"{_notes(p.notes)}" for p in parts[:LISTED]]
    return ", ".join(text) + (", ..." if len(parts) > LISTED else "")


def _read_score(path: Path, track, channel) -> tuple[Clip, str | None]:
    from .scores import ScoreError, load_file   # music21: the scores extra

    if channel is not None:
        raise InputError(f"{path}: --channel is for MIDI files; pick a score's part with --track N")
    try:
        clip = load_file(path)
    except ScoreError as exc:
        raise InputError(str(exc)) from None
    counts: dict[int, int] = {}
    for n in clip.notes:
        counts[n.track] = counts.get(n.track, 0) + 1
    listing = ", ".join(f"part {t + 1}: {_notes(c)}" for t, c in sorted(counts.items())[:LISTED])
    if track is None:
        if len(counts) < 2:
            return clip, None
        return clip, (f"{path}: {len(counts)} parts, all read ({listing}"
                      f"{', ...' if len(counts) > LISTED else ''}); pick one with --track N")
    if track - 1 not in counts:
        raise InputError(f"{path}: no part {track} with notes (parts with notes: {listing})")
    return clip.filter(lambda n: n.track == track - 1), f"{path}: part {track}: {_notes(counts[track - 1])}"


def _notes(count: int) -> str:
    return f"{count} note{'' if count == 1 else 's'}"
