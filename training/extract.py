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
2. per instrument track, extract monophonic melodies as ``note_seq``'s
   ``Melody.from_quantized_sequence`` does: notes sorted by onset, the highest pitch wins at a
   shared onset, a later onset cuts the sounding note, and a melody ends at a silence of
   ``gap_bars`` (1) bar; each melody starts on a bar line and is padded to whole bars. Drum
   tracks are all drum-channel hits, split at the same one-bar gaps;
3. slide windows of ``bars`` bars with a stride of one bar (``range(window, len + 1, bar)``, as
   MusicVAE's converters slice), drop windows without any onset and de-duplicate;
4. trios: per bar window, a melody (programs 0-31), a bass (32-39) and a drum track that each
   cover the whole window, every combination of such tracks (Magenta's ``TrioConverter``).

Transposition augmentation works on the token arrays (:func:`transpose_windows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from runtime.codecs.drums import DrumsCodec
from runtime.codecs.melody import FIRST_PITCH_CLASS, NO_EVENT, NOTE_OFF, MelodyCodec
from runtime.codecs.trio import BASS_PROGRAMS, MELODY_PROGRAMS
from runtime.music import Clip
from runtime.quantize import quantize, to_steps

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16


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
                     steps_per_quarter: int = STEPS_PER_QUARTER) -> list[Sequence]:
    """Monophonic melodies from the quantised notes of one instrument (see the module doc)."""
    timed = sorted(((to_steps(n.start, steps_per_quarter), -n.pitch,
                     to_steps(n.end, steps_per_quarter)) for n in notes if n.velocity > 0))
    melodies, search_start, i = [], 0, 0
    while i < len(timed):
        first = timed[i][0]
        start = first - (first - search_start) % steps_per_bar
        events: list[int] = []
        last_on = last_off = None
        while i < len(timed):
            on, neg_pitch, off = timed[i]
            on_rel, off_rel = on - start, max(off, on + 1) - start
            if last_on is not None:
                if on_rel == last_on:       # same onset: the highest pitch came first, keep it
                    i += 1
                    continue
                if on_rel - last_off >= gap_bars * steps_per_bar:
                    break                   # a bar of silence ends the melody
            _add_note(events, -neg_pitch, on_rel, off_rel)
            last_on, last_off = on_rel, off_rel
            i += 1
        _finish(events, steps_per_bar)
        melodies.append(Sequence(start, events))
        search_start = start + len(events)
    return melodies


def _finish(events: list, steps_per_bar: int) -> None:
    """note_seq's ending: drop the final note-off, pad to a whole bar, and (as Melody.set_length
    does when it extends) end a note still sounding where the padding begins."""
    if events and events[-1] == -1:
        del events[-1]
    old_length = len(events)
    events += [-2] * (-old_length % steps_per_bar)
    if len(events) > old_length:
        for event in reversed(events[:old_length]):
            if event == -1:
                break
            if event >= 0:
                events[old_length] = -1
                break


def _add_note(events: list, pitch: int, start: int, end: int) -> None:
    """note_seq's Melody._add_note: the new note cuts whatever sounded before it."""
    del events[end + 1:]
    events += [-2] * (end + 1 - len(events))
    events[start] = pitch
    events[start + 1:end] = [-2] * (end - start - 1)
    events[end] = -1


def melody_tokens(sequence: Sequence, codec: MelodyCodec) -> np.ndarray | None:
    """Melody events as codec classes, or None when a pitch is outside the codec's range."""
    pitches = [e for e in sequence.events if e >= 0]
    if pitches and not codec.min_pitch <= min(pitches) <= max(pitches) <= codec.max_pitch:
        return None
    return np.array([NO_EVENT if e == -2 else NOTE_OFF if e == -1
                     else FIRST_PITCH_CLASS + e - codec.min_pitch for e in sequence.events],
                    dtype=np.int64)


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
                   gap_bars: float = 1, stats: dict | None = None) -> np.ndarray:
    """De-duplicated melody windows [n, bars*16] from every pitched track of ``clip``."""
    codec = codec or MelodyCodec()
    steps = bars * STEPS_PER_BAR
    windows = []
    for section in four_four_sections(clip):
        for (_, _, drum), notes in tracks(section).items():
            if drum:
                continue
            for melody in extract_melodies(notes, gap_bars):
                tokens = melody_tokens(melody, codec)
                if tokens is None:
                    _count(stats, "melody_out_of_range")
                    continue
                _keep_onsets(slide(tokens, steps), "melody", windows, stats)
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


def drum_windows(clip: Clip, bars: int, codec: DrumsCodec | None = None, gap_bars: float = 1,
                 stats: dict | None = None) -> np.ndarray:
    """De-duplicated drum windows [n, bars*16] (tokens 0..511) from the drum notes of ``clip``."""
    codec = codec or DrumsCodec()
    steps = bars * STEPS_PER_BAR
    windows = []
    for section in four_four_sections(clip):
        notes = [n for n in section.notes if n.is_drum or section.is_drum]
        for track in extract_drum_tracks(notes, gap_bars):
            _keep_onsets(slide(drum_tokens(track, codec), steps), "drums", windows, stats)
    return _unique_stack(windows, (steps,), stats)


def groove_windows(clip: Clip, bars: int, codec=None, gap_bars: float = 1,
                   stats: dict | None = None) -> np.ndarray:
    """De-duplicated groove windows [n, bars*16, 27] from the drum notes of ``clip`` as played
    (velocity and timing kept): the drum tracks, gaps and windows of :func:`drum_windows`, each
    step coded by the groove codec (runtime/codecs/groove.py) instead of the 512-way drums."""
    from runtime.codecs.groove import GrooveCodec

    codec = codec or GrooveCodec()
    steps = bars * STEPS_PER_BAR
    windows = []
    for section in four_four_sections(clip, quantized=False):
        notes = [n for n in section.notes if n.is_drum or section.is_drum]
        found = extract_drum_tracks(notes, gap_bars)
        performance = codec.encode_notes(notes, max((t.end for t in found), default=0))
        for track in found:
            _keep_onsets(slide(performance[track.start:track.end], steps), "groove", windows, stats)
    return _unique_stack(windows, (steps, codec.output_depth), stats)


def trio_windows(clip: Clip, bars: int, codec=None, gap_bars: float = 1,
                 require_drums: bool = True, max_combinations: int = 8,
                 stats: dict | None = None) -> np.ndarray:
    """De-duplicated trio windows [n, bars*16, 3] (melody, bass, drums columns).

    A window needs a melody track (programs 0-31), a bass track (32-39) and, unless
    ``require_drums`` is False, a drum track, each with one extracted sequence covering the
    whole window. Without drums the drum column stays silent (0)."""
    from runtime.codecs.trio import TrioCodec

    codec = codec or TrioCodec()
    steps = bars * STEPS_PER_BAR
    windows = []
    for section in four_four_sections(clip):
        # Each candidate: (start step, tokens) of one extracted sequence of one instrument.
        candidates: dict[str, list] = {"melody": [], "bass": [], "drums": []}
        for (_, program, drum), notes in tracks(section).items():
            if drum:
                for t in extract_drum_tracks(notes, gap_bars):
                    candidates["drums"].append((t.start, drum_tokens(t, codec.drums)))
                continue
            part = ("melody" if program in MELODY_PROGRAMS
                    else "bass" if program in BASS_PROGRAMS else None)
            if part is None:
                continue
            for m in extract_melodies(notes, gap_bars):
                tokens = melody_tokens(m, getattr(codec, part))
                if tokens is None:
                    _count(stats, "melody_out_of_range")
                    continue
                candidates[part].append((m.start, tokens))
        total_steps = max((s + len(t) for c in candidates.values() for s, t in c), default=0)
        for window_start in range(0, total_steps - steps + 1, STEPS_PER_BAR):
            chosen = []
            for part in ("melody", "bass", "drums"):
                covering = [t[window_start - s:window_start - s + steps]
                            for s, t in candidates[part]
                            if s <= window_start and s + len(t) >= window_start + steps]
                if not covering and part == "drums" and not require_drums:
                    covering = [np.zeros(steps, dtype=np.int64)]
                chosen.append(covering)
            if not all(chosen):
                continue
            combos = list(product(*chosen))[:max_combinations]
            _keep_onsets((np.stack(combo, axis=1) for combo in combos), "trio", windows, stats)
    return _unique_stack(windows, (steps, 3), stats)


def voices_as_trio(clip: Clip, melody_program: int = 0, bass_program: int = 33) -> Clip:
    """For scores whose parts name no General MIDI program (a choir, a string quartet): the
    first pitched part (lowest track number) becomes the melody, the last one the bass; inner
    parts are dropped and drums stay as they are. Both lines are real parts of the piece."""
    from dataclasses import replace

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


# -- augmentation --------------------------------------------------------------------------------
def transpose_tokens(windows: np.ndarray, semitones: int, num_classes: int, columns=None):
    """``(shifted, keep)``: every window with its pitch classes moved by ``semitones``, and a
    mask of the windows whose pitches all stay inside ``2..num_classes-1``. ``columns`` picks
    the pitched columns of [n, T, parts] arrays (trio: ``(0, 1)``; drums stay as they are)."""
    windows = np.asarray(windows)
    pitched = windows if columns is None else windows[..., list(columns)]
    is_pitch = pitched >= FIRST_PITCH_CLASS
    moved = np.where(is_pitch, pitched + semitones, pitched)
    in_range = np.where(is_pitch, (moved >= FIRST_PITCH_CLASS) & (moved < num_classes), True)
    keep = in_range.reshape(len(windows), -1).all(axis=1)
    if columns is None:
        return moved, keep
    shifted = windows.copy()
    shifted[..., list(columns)] = moved
    return shifted, keep


def transpose_windows(windows: np.ndarray, semitones: int, num_classes: int,
                      columns=None) -> np.ndarray:
    """Windows moved by ``semitones``, without those that would leave the codec's range.

        >>> transpose_windows(np.array([[40, 0, 1, 89]]), 1, 90)   # 89 + 1 is out of range
        array([], shape=(0, 4), dtype=int64)
    """
    shifted, keep = transpose_tokens(windows, semitones, num_classes, columns)
    return shifted[keep]


def _count(stats: dict | None, key: str, amount: int = 1) -> None:
    if stats is not None and amount:
        stats[key] = stats.get(key, 0) + amount
