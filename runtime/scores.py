"""Read scores (MusicXML, ABC, Humdrum) as :class:`~runtime.music.Clip`, through music21.

    >>> from runtime.scores import ScoreError, load_abc_tunes, load_file
    >>> clip = load_file("chorale.mxl")             # .xml .mxl .musicxml .abc .krn .mid .midi
    >>> clip.notes[0].track                          # part index (soprano 0, alto 1, ...)
    0
    >>> for name, tune in load_abc_tunes("book.abc"):          # every tune of a multi-tune file
    ...     print(name, tune if isinstance(tune, ScoreError) else len(tune))

Public API: :func:`load_file`, :func:`load_abc_tunes`, :func:`abc_tunes`, :func:`score_to_clip`,
:func:`music21`, :data:`SCORE_SUFFIXES`, :class:`ScoreError`. The runtime reads a user's score
with it (:mod:`runtime.inputs`); training builds datasets from scores and music21's corpus with it
(:mod:`training.corpus`).

music21 is an optional dependency (the ``scores`` extra; the ``train`` extra has it too): without
it, reading a score raises :class:`ScoreError` with one line saying what to install. MIDI files
need no music21.

Conventions: times are in beats (quarter notes); each part becomes a track (``Note.track`` is the
part index, ``Note.program`` the part's MIDI program when the score names one); tied notes are
merged; grace notes and chord symbols are dropped; the first meter and tempo go to
``time_signature``/``tempo`` and later ones to ``meter_changes``/``tempo_changes``. A pickup bar
is padded at the front (``align_pickup=True``) so that beat 0 is always a downbeat, which keeps bar
windows aligned. Repeats are kept as written unless ``expand_repeats=True``.

Parsing is slow in music21 (a chorale takes ~0.2 s, a long ABC book many seconds), so multi-tune
ABC files are parsed one tune at a time (``limit``). Every failure is a :class:`ScoreError` whose
message is one line naming the file.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from .midi_io import MidiError, read_midi
from .music import Clip, Note

SCORE_SUFFIXES = (".xml", ".mxl", ".musicxml", ".abc", ".krn")
MIDI_SUFFIXES = (".mid", ".midi")
#: what to install for scores, said when music21 is missing
INSTALL = "pip install latentbridge[scores]"

_TUNE_START = re.compile(r"^X:\s*(\S*)", re.MULTILINE)


class ScoreError(ValueError):
    """A score that cannot be read or converted; the message is one line for the user."""


def load_file(path, expand_repeats: bool = False, align_pickup: bool = True) -> Clip:
    """One file as a Clip (for ABC, the file's first tune; see :func:`load_abc_tunes`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SCORE_SUFFIXES + MIDI_SUFFIXES:
        raise ScoreError(f"{path}: unsupported file type {suffix or '(none)'} "
                         f"(known: {' '.join(SCORE_SUFFIXES + MIDI_SUFFIXES)})")
    if not path.is_file():
        raise ScoreError(f"{path}: no such file")
    if suffix in MIDI_SUFFIXES:
        try:
            return read_midi(path)
        except MidiError as exc:
            raise ScoreError(str(exc)) from None
    if suffix == ".abc":
        for name, tune in abc_tunes(path, expand_repeats, align_pickup, limit=1):
            if isinstance(tune, ScoreError):
                raise tune
            return tune
        raise ScoreError(f"{path}: no tune in this ABC file")
    score = _parse(path, lambda m21: m21.converter.parse(path, forceSource=True))
    return _convert(score, path, expand_repeats, align_pickup)


def load_abc_tunes(path, expand_repeats: bool = False, align_pickup: bool = True,
                   limit: int | None = None) -> list[tuple[str, Clip | ScoreError]]:
    """Every tune (up to ``limit``) of an ABC file as ``(name, Clip or ScoreError)``.

    Names are ``"<file stem>#<X: number>"``. A tune music21 cannot read gives its error in place
    of a Clip, so one bad tune does not lose the book; an unreadable file raises ScoreError.
    """
    path = Path(path)
    if not path.is_file():
        raise ScoreError(f"{path}: no such file")
    return list(abc_tunes(path, expand_repeats, align_pickup, limit))


def score_to_clip(score, expand_repeats: bool = False, align_pickup: bool = True) -> Clip:
    """A parsed music21 Score (or Part, or the first score of an Opus) as a Clip."""
    return _convert(score, "score", expand_repeats, align_pickup)


# -- internals ------------------------------------------------------------------------------------

def music21():
    """The music21 module, or a one-line :class:`ScoreError` saying how to install it."""
    try:
        import music21 as module
    except ImportError:
        raise ScoreError(f"music21 is not installed ({INSTALL})") from None
    return module


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _parse(where, parse):
    m21 = music21()
    try:
        return parse(m21)
    except ScoreError:
        raise
    except Exception as exc:  # music21 raises many kinds; all mean "cannot read this"
        raise ScoreError(f"{where}: not readable by music21 ({_one_line(exc)})") from None


def _split_abc(text: str) -> tuple[str, list[tuple[str, str]]]:
    """File header and ``(X number, tune text)`` pairs; a file without X: is one tune."""
    starts = [m for m in _TUNE_START.finditer(text)]
    if not starts:
        return "", ([("1", text)] if text.strip() else [])
    header = text[:starts[0].start()]
    tunes = []
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        tunes.append((match.group(1) or str(i + 1), text[match.start():end]))
    return header, tunes


def abc_tunes(path: Path, expand_repeats: bool = False, align_pickup: bool = True,
              limit: int | None = None, prefix: str = ""):
    """The tunes of an ABC file one at a time, as ``(prefix + "<stem>#<X number>", Clip or
    ScoreError)``; a file that cannot be read at all raises ScoreError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ScoreError(f"{path}: cannot read ({_one_line(exc)})") from None
    if "\x00" in text:
        raise ScoreError(f"{path}: not an ABC text file (binary data)")
    header, tunes = _split_abc(text)
    # A header is only file-wide fields (L:, M:, ...); keep it only if it looks like one.
    header = "\n".join(line for line in header.splitlines() if re.match(r"^[A-Za-z]:", line))
    for number, body in tunes[:limit]:
        name = f"{prefix}{path.stem}#{number}"
        where = f"{path}#{number}"
        try:
            score = _parse(where, lambda m21: m21.converter.parse(
                (header + "\n" + body) if header else body, format="abc", forceSource=True))
            yield name, _convert(score, where, expand_repeats, align_pickup, abc=True)
        except ScoreError as exc:
            yield name, exc


def _convert(score, where, expand_repeats: bool, align_pickup: bool, abc: bool = False) -> Clip:
    m21 = music21()
    try:
        if isinstance(score, m21.stream.Opus):
            if not score.scores:
                raise ScoreError(f"{where}: no score inside")
            score = score.scores[0]
        if expand_repeats:
            score = _expand_repeats(m21, score)
        parts = list(score.parts) if isinstance(score, m21.stream.Score) else [score]
        parts = [p for p in parts if p.recurse().notes] or parts[:1]
        if not parts:
            raise ScoreError(f"{where}: no parts")
        shift = _pickup(parts[0]) if align_pickup else 0.0
        notes = []
        for track, part in enumerate(parts):
            notes += _part_notes(m21, part, track, shift)
        if not notes:
            raise ScoreError(f"{where}: no notes")
        flat = parts[0].flatten()
        meters = _dedupe(_meters(m21, parts[0], shift, abc))
        tempos = _dedupe((_at(mm.offset, shift), round(float(mm.getQuarterBPM()), 6))
                         for mm in flat.getElementsByClass(m21.tempo.MetronomeMark)
                         if mm.getQuarterBPM())
        length = float(score.highestTime) + shift
    except ScoreError:
        raise
    except Exception as exc:
        raise ScoreError(f"{where}: cannot convert ({_one_line(exc)})") from None
    return Clip(notes=notes, length=length,
                time_signature=(meters[0][1], meters[0][2]) if meters and meters[0][0] == 0 else (4, 4),
                tempo=tempos[0][1] if tempos and tempos[0][0] == 0 else 120.0,
                tempo_changes=tempos if len(tempos) > 1 else [],
                meter_changes=meters if len(meters) > 1 else [])


def _expand_repeats(m21, score):
    """Repeats written out, part by part (music21 expands a Part, not a whole Score)."""
    parts = list(score.parts) if isinstance(score, m21.stream.Score) else [score]
    if not all(part.getElementsByClass("Measure") for part in parts):
        return score  # music21 builds no bars for some very short ABC tunes: nothing to expand
    expanded = m21.stream.Score()
    for part in parts:
        expanded.insert(0, part.expandRepeats())
    return expanded


def _pickup(part) -> float:
    """Beats missing from an incomplete first bar (an anacrusis), 0 for a full bar."""
    measures = part.getElementsByClass("Measure")
    if not measures:
        return 0.0
    return float(measures[0].paddingLeft or 0.0)


def _at(offset, shift: float) -> float:
    """A meter or tempo at offset 0 stays at beat 0 (it rules the padded pickup too)."""
    offset = float(offset)
    return 0.0 if offset == 0 else offset + shift


def _meters(m21, part, shift: float, abc: bool):
    """(beat, numerator, denominator) from the bars; the ABC reader also leaves stray meters
    (from L:) in the flat stream, so bars are the reliable source when there are bars."""
    measures = part.getElementsByClass("Measure")
    if measures:
        found = [(_at(m.offset, shift), m.timeSignature.numerator, m.timeSignature.denominator)
                 for m in measures if m.timeSignature is not None]
        # The ABC reader turns an incomplete bar inside a tune (a repeat's pickup) into a
        # one-bar meter such as 1/16 followed by the old meter again: no real change, drop it.
        kept = []
        for i, meter in enumerate(found):
            if abc and kept and i + 1 < len(found) and found[i + 1][1:] == kept[-1][1:]:
                continue
            if kept and meter[1:] == kept[-1][1:]:
                continue
            kept.append(meter)
        return kept
    return [(_at(ts.offset, shift), ts.numerator, ts.denominator)
            for ts in part.flatten().getElementsByClass(m21.meter.TimeSignature)]


def _part_notes(m21, part, track: int, shift: float) -> list[Note]:
    """Notes of one part; a tie joins a note to the next one of the SAME pitch that starts where
    it ends (music21's stripTies also joins ABC "slur ties" between different pitches)."""
    instrument = part.getInstrument(returnDefault=True)
    program = instrument.midiProgram if instrument is not None and instrument.midiProgram is not None else 0
    notes: list[Note] = []
    tied: dict[int, int] = {}  # pitch -> index in notes of a note whose tie goes on
    for element in part.flatten().notes:
        if isinstance(element, m21.harmony.ChordSymbol) or element.duration.isGrace:
            continue
        length = float(element.quarterLength)
        pitches = getattr(element, "pitches", ())
        if length <= 0 or not pitches:
            continue
        start = float(element.offset) + shift
        velocity = element.volume.velocity
        velocity = 100 if velocity is None else min(127, max(1, int(velocity)))
        if isinstance(element, m21.chord.Chord):
            ties = [getattr(n, "tie", None) or element.tie for n in element.notes]
        else:
            ties = [element.tie]
        for pitch, tie in zip(pitches, ties):
            midi = pitch.midi
            if not 0 <= midi <= 127:
                continue
            goes_on = tie is not None and tie.type in ("start", "continue")
            held = tied.pop(midi, None)
            if held is not None and abs(notes[held].end - start) < 1e-6:
                notes[held] = replace(notes[held], end=start + length)
                if goes_on:
                    tied[midi] = held
                continue
            notes.append(Note(midi, start, start + length, velocity=velocity,
                              program=int(program), track=track))
            if goes_on:
                tied[midi] = len(notes) - 1
    return notes


def _dedupe(events) -> list:
    by_time = {}
    for event in sorted(events):
        by_time.setdefault(event[0], event)
    return [by_time[t] for t in sorted(by_time)]

