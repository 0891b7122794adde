"""Pull MusicVAE training windows out of real music, the way Magenta's data converters do.

The steps, for one file (a :class:`~runtime.music.Clip` with every track)::

    >>> from runtime.midi_io import read_midi
    >>> from training.extract import melody_windows, drum_windows, trio_windows
    >>> clip = read_midi("tune.mid")
    >>> windows = melody_windows(clip, bars=2)          # int64 [n, 32], de-duplicated
    >>> drums = drum_windows(read_midi("beat.mid"), bars=2)   # int64 [n, 32] in 0..511
    >>> trios = trio_windows(read_midi("band.mid"), bars=16)  # int64 [n, 256, 3]
    >>> grooves = groove_windows(read_midi("beat.mid"), bars=2)   # int64 [n, 32, 27], as played

1. quantise to 4 steps per quarter and keep only the 4/4 stretches (16 steps per bar);
2. per instrument track (only GM programs 0-31 when ``programs`` says so, as the 2-bar melody
   configs), drop the notes outside the codec's pitch range, then extract monophonic melodies
   as ``note_seq``'s ``Melody.from_quantized_sequence`` does: notes sorted by onset, the
   highest pitch wins at a shared onset, a later onset cuts the sounding note, and a melody ends
   at a silence of ``gap_bars`` (1) bar; each melody starts on a bar line, is padded to whole
   bars and cut after ``max_bars`` (100) bars. Drum tracks are all drum-channel hits of the 9
   classes, split at the same one-bar gaps and cut the same way;
3. slide windows of ``bars`` bars with a stride of one bar (``range(window, len + 1, bar)``, as
   MusicVAE's converters slice); a melody window's note-off before its first note becomes "no
   event" (note_seq's ``Melody`` does this to every slice); drop windows without any onset
   and de-duplicate;
4. trios as Magenta's ``TrioConverter``: each melody (programs 0-31), bass (32-39) and drum
   instrument is one part padded to the whole piece; a bar counts as covered by an instrument
   when it sounds within ``gap_bars`` (2) bars of it, and every bar window covered by a
   melody, a bass and a drum instrument gives a window, for every such combination.

Transposition augmentation is the codec's (``Codec.transpose``, applied by training.prepare).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from runtime.codecs.drums import DrumsCodec
from runtime.codecs.melody import FIRST_PITCH_CLASS, NO_EVENT, NOTE_OFF, MelodyCodec
from runtime.music import Clip
from runtime.quantize import quantize, to_steps

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
#: Magenta's melody and drum configs cut each extracted melody or drum track after 100 bars
#: (``max_bars=100`` in configs.py), before slicing windows
MAX_BARS = 100
#: ``TrioConverter``'s own cap on the length of a piece, in bars (``max_bars=1024``)
TRIO_MAX_BARS = 1024
#: the melody and drum track gap, and the trio configs' ``gap_bars``
GAP_BARS = 1
TRIO_GAP_BARS = 2


@dataclass
class Sequence:
    """One extracted melody or drum track: per-step events from ``start`` (a bar line, in steps
    from the start of its 4/4 section). Melody events are -2 = no event, -1 = note-off,
    else a MIDI pitch; drum events are sets of MIDI drum pitches."""

    start: int
    events: list

    @property
    def end(self) -> int:
        return self.start + len(self.events)


# -- 4/4 sections --------------------------------------------------------------------------------
def four_four_sections(clip: Clip, steps_per_quarter: int = STEPS_PER_QUARTER,
                       quantized: bool = True) -> list[Clip]:
    """The stretches of ``clip`` written in 4/4, each quantised (unless ``quantized`` is False:
    grooves keep their played timing) and starting on its first bar line.

    Files without a meter are taken as 4/4 (the MIDI default)."""
    meters = sorted(clip.meter_changes) or [(0.0, *clip.time_signature)]
    if meters[0][0] > 0:
        meters.insert(0, (0.0, *clip.time_signature))
    bounds = [m[0] for m in meters[1:]] + [clip.length]
    sections = []
    for (start, num, den), end in zip(meters, bounds):
        if (num, den) != (4, 4) or end - start < 4:
            continue
        section = clip.slice(start, end)
        section.time_signature = (4, 4)
        sections.append(quantize(section, steps_per_quarter) if quantized else section)
    return sections


def tracks(clip: Clip) -> dict[tuple, list]:
    """Notes grouped by instrument: (track, program, is_drum) -> notes, as note_seq's
    ``instrument`` numbers separate the parts of a file."""
    groups: dict[tuple, list] = {}
    for n in clip.notes:
        drum = n.is_drum or clip.is_drum
        groups.setdefault((n.track, -1 if drum else n.program, drum), []).append(n)
    return groups


# -- melodies ------------------------------------------------------------------------------------
def extract_melodies(notes, gap_bars: float = 1, steps_per_bar: int = STEPS_PER_BAR,
                     steps_per_quarter: int = STEPS_PER_QUARTER,
                     lowest: bool = False) -> list[Sequence]:
    """Monophonic melodies from the quantised notes of one instrument (see the module doc).
    Of notes struck together the highest is kept (note_seq's rule), or with ``lowest`` the
    lowest: a bass line read from a chord track (Nottingham's) is its chords' roots."""
    sign = 1 if lowest else -1
    timed = sorted(((to_steps(n.start, steps_per_quarter), sign * n.pitch,
                     to_steps(n.end, steps_per_quarter)) for n in notes if n.velocity > 0))
    melodies, search_start, i = [], 0, 0
    while i < len(timed):
        first = timed[i][0]
        start = first - (first - search_start) % steps_per_bar
        events: list[int] = []
        last_on = last_off = None
        while i < len(timed):
            on, signed_pitch, off = timed[i]
            on_rel, off_rel = on - start, max(off, on + 1) - start
            if last_on is not None:
                if on_rel == last_on:       # same onset: the kept pitch came first
                    i += 1
                    continue
                if on_rel - last_off >= gap_bars * steps_per_bar:
                    break                   # a bar of silence ends the melody
            _add_note(events, sign * signed_pitch, on_rel, off_rel)
            last_on, last_off = on_rel, off_rel
            i += 1
        _finish(events, steps_per_bar)
        melodies.append(Sequence(start, events))
        search_start = start + len(events)
    return melodies


def _finish(events: list, steps_per_bar: int) -> None:
    """note_seq's ending: drop the final note-off and pad to a whole bar."""
    if events and events[-1] == -1:
        del events[-1]
    _set_length(events, len(events) + (-len(events) % steps_per_bar))


def _set_length(events: list, length: int) -> None:
    """note_seq's ``Melody.set_length``: cut to ``length`` steps, or pad with no-events and end
    a note still sounding where the padding begins."""
    old_length = len(events)
    del events[length:]
    events += [-2] * (length - old_length)
    if length > old_length:
        for event in reversed(events[:old_length]):
            if event == -1:
                break
            if event >= 0:
                events[old_length] = -1
                break


def truncate(sequence: Sequence, max_bars: int | None,
             steps_per_bar: int = STEPS_PER_BAR) -> Sequence:
    """The first ``max_bars`` bars of a melody or drum track (all of it when None), cut as
    Magenta's ``max_steps_truncate`` cuts: a note sounding at the cut gets no note-off."""
    if not max_bars or len(sequence.events) <= max_bars * steps_per_bar:
        return sequence
    return Sequence(sequence.start, sequence.events[:max_bars * steps_per_bar])


def _add_note(events: list, pitch: int, start: int, end: int) -> None:
    """note_seq's Melody._add_note: the new note cuts whatever sounded before it."""
    del events[end + 1:]
    events += [-2] * (end + 1 - len(events))
    events[start] = pitch
    events[start + 1:end] = [-2] * (end - start - 1)
    events[end] = -1


def notes_in_range(notes, codec: MelodyCodec, stats: dict | None = None) -> list:
    """The notes inside the codec's pitch range (Magenta's melody converter drops the others
    before it extracts melodies); the dropped ones are counted as ``notes_out_of_range``."""
    kept = [n for n in notes if codec.min_pitch <= n.pitch <= codec.max_pitch]
    _count(stats, "notes_out_of_range", len(notes) - len(kept))
    return kept


def melody_tokens(sequence: Sequence, codec: MelodyCodec) -> np.ndarray:
    """Melody events as codec classes (their pitches are in range: :func:`notes_in_range`)."""
    return np.array([NO_EVENT if e == -2 else NOTE_OFF if e == -1
                     else FIRST_PITCH_CLASS + e - codec.min_pitch for e in sequence.events],
                    dtype=np.int64)


def without_leading_note_off(window: np.ndarray) -> np.ndarray:
    """The window with a note-off before its first note made "no event", as note_seq's
    ``Melody`` cleans every slice (the note it ended began before the window)."""
    pitched = np.flatnonzero(window >= FIRST_PITCH_CLASS)
    head = window[:pitched[0] if len(pitched) else len(window)]
    if not (head == NOTE_OFF).any():
        return window
    window = window.copy()
    window[:len(head)] = NO_EVENT
    return window


# -- drums ---------------------------------------------------------------------------------------
def extract_drum_tracks(notes, gap_bars: float = 1, steps_per_bar: int = STEPS_PER_BAR,
                        steps_per_quarter: int = STEPS_PER_QUARTER) -> list[Sequence]:
    """Drum tracks (sets of pitches per step) split at ``gap_bars`` bars without a hit."""
    onsets: dict[int, set] = {}
    for n in notes:
        if n.velocity > 0:
            onsets.setdefault(to_steps(n.start, steps_per_quarter), set()).add(n.pitch)
    tracks_out, current, start, last = [], None, 0, None
    search_start = 0
    for step in sorted(onsets):
        if current is not None and step - (last + 1) >= gap_bars * steps_per_bar:
            current += [frozenset()] * (-len(current) % steps_per_bar)
            tracks_out.append(Sequence(start, current))
            search_start = start + len(current)
            current = None
        if current is None:
            start = step - (step - search_start) % steps_per_bar
            current = []
        current += [frozenset()] * (step - start + 1 - len(current))
        current[step - start] = frozenset(onsets[step])
        last = step
    if current is not None:
        current += [frozenset()] * (-len(current) % steps_per_bar)
        tracks_out.append(Sequence(start, current))
    return tracks_out


def drum_tokens(sequence: Sequence, codec: DrumsCodec) -> np.ndarray:
    tokens = np.zeros(len(sequence.events), dtype=np.int64)
    for step, pitches in enumerate(sequence.events):
        for p in pitches:
            if p in codec.class_of:
                tokens[step] |= 1 << codec.class_of[p]
    return tokens


# -- windows -------------------------------------------------------------------------------------
def slide(tokens: np.ndarray, window_steps: int, stride_steps: int = STEPS_PER_BAR) -> list:
    """MusicVAE's slicing: every ``window_steps`` run ending at a multiple of the stride."""
    return [tokens[end - window_steps:end]
            for end in range(window_steps, len(tokens) + 1, stride_steps)]


def has_onset(window: np.ndarray, kind: str) -> bool:
    if kind == "melody":
        return bool((window >= FIRST_PITCH_CLASS).any())
    if kind == "drums":
        return bool((window > 0).any())
    if kind == "groove":  # [T, 3 * classes]: the hit columns come first
        return bool(window[:, : window.shape[1] // 3].any())
    return bool((window[:, 0] >= FIRST_PITCH_CLASS).any())   # trio: the melody must play


def dedupe(windows) -> list:
    """Unique windows, first occurrence kept, order preserved."""
    seen, unique = set(), []
    for w in windows:
        key = (w.shape, w.tobytes())
        if key not in seen:
            seen.add(key)
            unique.append(w)
    return unique


def _stack(windows, shape) -> np.ndarray:
    return np.stack(windows) if windows else np.zeros((0, *shape), dtype=np.int64)


def melody_windows(clip: Clip, bars: int, codec: MelodyCodec | None = None,
                   gap_bars: float = GAP_BARS, stats: dict | None = None,
                   max_bars: int | None = MAX_BARS, programs=None) -> np.ndarray:
    """De-duplicated melody windows [n, bars*16] from the pitched tracks of ``clip`` (those
    whose GM program is in ``programs``, every one when None), as Magenta's
    ``OneHotMelodyConverter`` (see the module doc)."""
    codec = codec or MelodyCodec()
    steps = bars * STEPS_PER_BAR
    windows = []
    for section in four_four_sections(clip):
        for (_, program, drum), notes in tracks(section).items():
            if drum or (programs is not None and program not in programs):
                continue
            for melody in extract_melodies(notes_in_range(notes, codec, stats), gap_bars):
                tokens = melody_tokens(truncate(melody, max_bars), codec)
                _keep_onsets([without_leading_note_off(w) for w in slide(tokens, steps)],
                             "melody", windows, stats)
    return _unique_stack(windows, (steps,), stats)


def _keep_onsets(candidates, kind: str, windows: list, stats: dict | None) -> None:
    """Append the candidate windows that hold an onset; count the empty ones."""
    for w in candidates:
        if has_onset(w, kind):
            windows.append(w)
        else:
            _count(stats, "empty_windows")


def _unique_stack(windows: list, shape: tuple, stats: dict | None) -> np.ndarray:
    """The windows de-duplicated (first occurrence kept) as one array; duplicates counted."""
    unique = dedupe(windows)
    _count(stats, "duplicate_windows", len(windows) - len(unique))
    return _stack(unique, shape)


def drum_windows(clip: Clip, bars: int, codec: DrumsCodec | None = None,
                 gap_bars: float = GAP_BARS, stats: dict | None = None,
                 max_bars: int | None = MAX_BARS) -> np.ndarray:
    """De-duplicated drum windows [n, bars*16] (tokens 0..511) from the drum notes of ``clip``
    that fall into the codec's classes (Magenta's ``DrumsConverter`` drops the others first)."""
    codec = codec or DrumsCodec()
    steps = bars * STEPS_PER_BAR
    windows = []
    for section in four_four_sections(clip):
        notes = [n for n in section.notes
                 if (n.is_drum or section.is_drum) and n.pitch in codec.class_of]
        for track in extract_drum_tracks(notes, gap_bars):
            tokens = drum_tokens(truncate(track, max_bars), codec)
            _keep_onsets(slide(tokens, steps), "drums", windows, stats)
    return _unique_stack(windows, (steps,), stats)


def groove_windows(clip: Clip, bars: int, codec=None, gap_bars: float = GAP_BARS,
                   stats: dict | None = None, max_bars: int | None = None) -> np.ndarray:
    """De-duplicated groove windows [n, bars*16, 27] from the drum notes of ``clip`` as played
    (velocity and timing kept): the drum tracks, gaps and windows of :func:`drum_windows`, each
    step coded by the groove codec (runtime/codecs/groove.py) instead of the 512-way drums.
    Magenta's ``GrooveConverter`` has no ``max_bars``: none by default here either."""
    from runtime.codecs.groove import GrooveCodec

    codec = codec or GrooveCodec()
    steps = bars * STEPS_PER_BAR
    windows = []
    for section in four_four_sections(clip, quantized=False):
        notes = [n for n in section.notes if n.is_drum or section.is_drum]
        found = extract_drum_tracks(notes, gap_bars)
        performance = codec.encode_notes(notes, max((t.end for t in found), default=0))
        for track in found:
            track = truncate(track, max_bars)
            _keep_onsets(slide(performance[track.start:track.end], steps), "groove", windows, stats)
    return _unique_stack(windows, (steps, codec.output_depth), stats)


def trio_windows(clip: Clip, bars: int, codec=None, gap_bars: int = TRIO_GAP_BARS,
                 require_drums: bool = True, max_combinations: int = 8,
                 stats: dict | None = None, max_bars: int | None = TRIO_MAX_BARS) -> np.ndarray:
    """De-duplicated trio windows [n, bars*16, 3] (melody, bass, drums columns), as Magenta's
    ``TrioConverter``.

    Each melody instrument (GM programs 0-31), bass (32-39) and drum instrument is one part
    (the codec's ``part_of_instrument`` says which): its notes in the codec's range as one
    melody (of notes struck together the highest; for the bass the lowest, so a chord track
    read as the bass plays its roots; drums: one track of the 9 classes) padded to the whole
    piece. A bar counts as
    covered by an instrument when the instrument sounds within
    ``gap_bars`` bars of it (so a part may rest up to ``gap_bars`` bars at a window's edge and
    twice that inside it); the first and last ``gap_bars`` bars of the piece count as covered
    when any instrument of the combination covers them. Every ``bars``-bar window covered by
    a melody, a bass and, unless ``require_drums`` is False, a drum instrument gives a window,
    for the first ``max_combinations`` such combinations. Without drums (and
    ``require_drums=False``) the drum column stays silent (0)."""
    from runtime.codecs.trio import TrioCodec

    codec = codec or TrioCodec()
    gap = int(gap_bars)
    windows = []
    for section in four_four_sections(clip):
        if not section.notes:
            continue
        ends = [max(to_steps(n.end, STEPS_PER_QUARTER), to_steps(n.start, STEPS_PER_QUARTER) + 1)
                for n in section.notes]
        total_bars = -(-max(ends) // STEPS_PER_BAR)
        total_bars = min(total_bars, max_bars) if max_bars else total_bars
        # per part: (coverage per bar, tokens over the whole piece) of each instrument
        parts: dict[str, list] = {"melody": [], "bass": [], "drums": []}
        for (_, program, drum), notes in tracks(section).items():
            part = codec.part_of_instrument(program, drum)
            if part is None:
                continue
            tokens = _whole_part(notes, part, codec, total_bars * STEPS_PER_BAR, stats)
            if tokens is not None:
                parts[part].append((_dilate(_coverage(notes, total_bars), gap), tokens))
        if not require_drums and not parts["drums"]:
            parts["drums"] = [(None, np.zeros(total_bars * STEPS_PER_BAR, dtype=np.int64))]
        per_window: dict[int, list] = {}
        for group in product(*parts.values()):
            covered = _group_coverage([c for c, _ in group if c is not None], gap)
            for j in range(total_bars - bars + 1):
                chosen = per_window.setdefault(j, [])
                if covered[j:j + bars].all() and len(chosen) < max_combinations:
                    span = slice(j * STEPS_PER_BAR, (j + bars) * STEPS_PER_BAR)
                    chosen.append(np.stack([t[span] for _, t in group], axis=1))
        for j in sorted(per_window):
            _keep_onsets(per_window[j], "trio", windows, stats)
    return _unique_stack(windows, (bars * STEPS_PER_BAR, 3), stats)


def _whole_part(notes, part: str, codec, total_steps: int, stats: dict | None):
    """One instrument's tokens over the whole piece (None when none of its notes is left):
    one melody without gaps, or one drum track, padded from step 0 to ``total_steps``."""
    if part == "drums":
        hits = [n for n in notes if n.pitch in codec.drums.class_of]
        found = extract_drum_tracks(hits, gap_bars=float("inf"))
        if not found:
            return None
        events = [frozenset()] * found[0].start + found[0].events
        events = (events + [frozenset()] * total_steps)[:total_steps]
        return drum_tokens(Sequence(0, events), codec.drums)
    part_codec = getattr(codec, part)
    found = extract_melodies(notes_in_range(notes, part_codec, stats), gap_bars=float("inf"),
                             lowest=part == "bass")
    if not found:
        return None
    events = [-2] * found[0].start + found[0].events
    _set_length(events, total_steps)
    return melody_tokens(Sequence(0, events), part_codec)


def _coverage(notes, total_bars: int) -> np.ndarray:
    """Bars [total_bars] in which any of ``notes`` sounds."""
    covered = np.zeros(total_bars, dtype=bool)
    for n in notes:
        start = to_steps(n.start, STEPS_PER_QUARTER)
        end = max(to_steps(n.end, STEPS_PER_QUARTER), start + 1)
        if start // STEPS_PER_BAR < total_bars:
            covered[start // STEPS_PER_BAR:-(-end // STEPS_PER_BAR)] = True
    return covered


def _dilate(covered: np.ndarray, gap: int) -> np.ndarray:
    """A bar is covered when a bar within ``gap`` bars of it is."""
    return np.array([covered[max(0, j - gap):j + gap + 1].any() for j in range(len(covered))],
                    dtype=bool)


def _group_coverage(coverages: list, gap: int) -> np.ndarray:
    """Bars covered by every instrument of a combination; the first and last ``gap`` bars of
    the piece by any of them (TrioConverter's leniency at the ends)."""
    both = np.logical_and.reduce(coverages)
    if gap > 0:
        both[:gap] = any(c[:gap].any() for c in coverages)
        both[-gap:] = any(c[-gap:].any() for c in coverages)
    return both


def voices_as_trio(clip: Clip, melody_program: int | None = None,
                   bass_program: int | None = None) -> Clip:
    """For scores whose parts name no General MIDI program (a choir, a string quartet): the
    first pitched part (lowest track number) becomes the melody, the last one the bass; inner
    parts are dropped and drums stay as they are. Both lines are real parts of the piece. The
    programs default to the trio codec's (``TrioCodec().melody_program``, ``.bass_program``)."""
    from dataclasses import replace

    from runtime.codecs.trio import TrioCodec

    defaults = TrioCodec()
    melody_program = defaults.melody_program if melody_program is None else melody_program
    bass_program = defaults.bass_program if bass_program is None else bass_program

    pitched = sorted({n.track for n in clip.notes if not (n.is_drum or clip.is_drum)})
    if len(pitched) < 2:
        return clip.copy(notes=[n for n in clip.notes if n.is_drum or clip.is_drum])
    top, bottom = pitched[0], pitched[-1]
    notes = []
    for n in clip.notes:
        if n.is_drum or clip.is_drum:
            notes.append(n)
        elif n.track == top:
            notes.append(replace(n, program=melody_program))
        elif n.track == bottom:
            notes.append(replace(n, program=bass_program))
    return clip.copy(notes=notes)


def _count(stats: dict | None, key: str, amount: int = 1) -> None:
    if stats is not None and amount:
        stats[key] = stats.get(key, 0) + amount
