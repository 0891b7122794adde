"""Read and write Standard MIDI Files as :class:`~runtime.music.Clip` (with mido).

    >>> from runtime.midi_io import read_midi, write_midi
    >>> clip = read_midi("song.mid")            # every track, tempo and meter changes kept
    >>> bass = read_midi("song.mid", track=2)   # one track (0-based, as mido counts)
    >>> drums = read_midi("song.mid", channel=9)                # one channel (9 = GM drums)
    >>> [(p.track, p.name, p.channel, p.notes) for p in midi_parts("song.mid")]
    [(1, 'Melody', 0, 120), (2, 'Bass', 1, 64), (3, 'Drums', 9, 210)]
    >>> write_midi(clip, "copy.mid", name="mel_2bar sample seed 7")   # temp file, then rename

Unreadable input raises :class:`MidiError` with a one-line reason. Written files end at
``clip.length`` (every track's end-of-track sits there, so a 2-bar clip whose last note ends early
is still 8 beats long in a DAW), carry ``name`` as their track names, and get the user's umask.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

import mido

from .files import atomic_write
from .music import DRUM_CHANNEL, Clip, Note


class MidiError(ValueError):
    """A MIDI file that cannot be read or written; the message is one line for the user."""


class MidiPart(NamedTuple):
    """The notes of one channel in one track of a MIDI file (what a DAW shows as a part)."""

    track: int      #: track index, 0-based as mido counts (a type-1 file's 0 is often tempo only)
    name: str       #: the track's name ('' when it has none)
    channel: int    #: 0..15 (9 = General MIDI drums)
    program: int    #: the last program change before the first note (0 if none)
    notes: int      #: note-ons


def midi_parts(path) -> list[MidiPart]:
    """Every (track, channel) of a MIDI file that plays notes, in file order."""
    mid = _open(path)
    parts = []
    for track_index, track in enumerate(mid.tracks):
        counts, programs, first_program = defaultdict(int), defaultdict(int), {}
        for msg in track:
            if msg.type == "program_change":
                programs[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                counts[msg.channel] += 1
                first_program.setdefault(msg.channel, programs[msg.channel])
        parts += [MidiPart(track_index, track.name.strip(), channel, first_program[channel], n)
                  for channel, n in counts.items()]
    return parts


def _open(path) -> mido.MidiFile:
    try:
        mid = mido.MidiFile(path, clip=True)
    except FileNotFoundError:
        raise MidiError(f"{path}: no such file") from None
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        # mido's EOFError of a cut-off file carries no message: say what it means
        reason = " ".join(str(exc).split()) or (
            "the file ends too early" if isinstance(exc, EOFError) else type(exc).__name__)
        raise MidiError(f"{path}: not a readable MIDI file ({reason})") from None
    if mid.type == 2:
        raise MidiError(f"{path}: MIDI type 2 (independent sequences) is not supported")
    return mid


def read_midi(path, track: int | None = None, channel: int | None = None) -> Clip:
    """Load every note of every track, in beats, with tempo and meter changes; with ``track``
    (0-based index) or ``channel`` (0..15) only the notes of that track or channel (the clip
    keeps the whole file's length, tempo and meter)."""
    mid = _open(path)
    only_track, only_channel = track, channel
    tpb = mid.ticks_per_beat or 480
    notes: list[Note] = []
    tempos: list[tuple[float, float]] = []
    meters: list[tuple[float, int, int]] = []
    end_tick = 0
    for track_index, track in enumerate(mid.tracks):
        tick = 0
        programs = defaultdict(int)
        sounding: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick / tpb, round(mido.tempo2bpm(msg.tempo), 6)))
            elif msg.type == "time_signature":
                meters.append((tick / tpb, msg.numerator, msg.denominator))
            elif msg.type == "program_change":
                programs[msg.channel] = msg.program
            elif not msg.type.startswith("note_") or only_track not in (None, track_index) \
                    or only_channel not in (None, msg.channel):
                continue
            elif msg.type == "note_on" and msg.velocity > 0:
                sounding[(msg.channel, msg.note)].append((tick, msg.velocity))
            elif msg.type in ("note_off", "note_on"):
                started = sounding.get((msg.channel, msg.note))
                if started:
                    on_tick, velocity = started.pop(0)  # first in, first out
                    notes.append(_note(msg.note, on_tick, tick, velocity, programs[msg.channel],
                                       msg.channel, track_index, tpb))
        # Notes never switched off end with their track.
        for (ch, pitch), started in sounding.items():
            for on_tick, velocity in started:
                notes.append(_note(pitch, on_tick, max(tick, on_tick), velocity,
                                   programs[ch], ch, track_index, tpb))
        end_tick = max(end_tick, tick)
    tempos = _dedupe(sorted(tempos))
    meters = _dedupe(sorted(meters))
    clip = Clip(
        notes=notes,
        length=end_tick / tpb,
        time_signature=(meters[0][1], meters[0][2]) if meters and meters[0][0] == 0 else (4, 4),
        tempo=tempos[0][1] if tempos and tempos[0][0] == 0 else 120.0,
        is_drum=bool(notes) and all(n.is_drum for n in notes),
        tempo_changes=tempos,
        meter_changes=meters,
    )
    clip.length = max(clip.length, max((n.end for n in clip.notes), default=0.0))
    return clip


def _note(pitch, on_tick, off_tick, velocity, program, channel, track, tpb) -> Note:
    return Note(pitch=pitch, start=on_tick / tpb, end=off_tick / tpb, velocity=velocity,
                program=program, is_drum=channel == DRUM_CHANNEL, track=track)


def _dedupe(events):
    """Keep the last event at each time (a file may restate tempo at the same tick)."""
    by_time = {}
    for event in events:
        by_time[event[0]] = event
    return [by_time[t] for t in sorted(by_time)]


def clip_to_midifile(clip: Clip, ticks_per_beat: int = 480, name: str | None = None) -> mido.MidiFile:
    """One track for the tempo map, then one track per (program, drum) instrument; every track
    ends at ``clip.length`` (or its last event, if later) and is called ``name`` (several
    instrument tracks: ``name drums``, ``name program N``)."""
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    conductor = mido.MidiTrack()
    mid.tracks.append(conductor)
    end = round(clip.length * ticks_per_beat)
    meta = [(0, mido.MetaMessage("track_name", name=name))] if name else []
    tempos = clip.tempo_changes or [(0.0, clip.tempo)]
    meters = clip.meter_changes or [(0.0, *clip.time_signature)]
    for beat, bpm in tempos:
        meta.append((round(beat * ticks_per_beat), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))))
    for beat, num, den in meters:
        meta.append((round(beat * ticks_per_beat),
                     mido.MetaMessage("time_signature", numerator=num, denominator=den)))
    _append_timed(conductor, meta, end)

    instruments = sorted({(n.is_drum or clip.is_drum, n.program) for n in clip.notes})
    free_channels = [c for c in range(16) if c != DRUM_CHANNEL]
    for index, (is_drum, program) in enumerate(instruments):
        channel = DRUM_CHANNEL if is_drum else free_channels[index % len(free_channels)]
        track = mido.MidiTrack()
        mid.tracks.append(track)
        events = [(0, mido.Message("program_change", channel=channel, program=program))]
        if name:
            part = "" if len(instruments) == 1 else " drums" if is_drum else f" program {program}"
            events.insert(0, (0, mido.MetaMessage("track_name", name=name + part)))
        for n in clip.notes:
            if (n.is_drum or clip.is_drum) != is_drum or n.program != program:
                continue
            on = round(n.start * ticks_per_beat)
            off = max(on + 1, round(n.end * ticks_per_beat))
            # Offs sort before ons at the same tick so repeated notes retrigger cleanly.
            events.append((on, mido.Message("note_on", channel=channel, note=n.pitch,
                                            velocity=max(1, n.velocity))))
            events.append((off, mido.Message("note_off", channel=channel, note=n.pitch, velocity=0)))
        events.sort(key=lambda e: (e[0], e[1].type == "note_on"))
        _append_timed(track, events, end)
    return mid


def _append_timed(track, events, end: int = 0):
    """Events as delta times, then the end-of-track at tick ``end`` (or right after the last)."""
    events = sorted(events, key=lambda e: e[0]) if all(e[1].is_meta for e in events) else events
    last = 0
    for tick, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - last)))


def write_midi(clip: Clip, path, ticks_per_beat: int = 480, name: str | None = None) -> None:
    """Write ``clip`` to ``path`` atomically (temp file in the same folder, then rename, with the
    user's umask), ``clip.length`` beats long, its tracks called ``name``."""
    mid = clip_to_midifile(clip, ticks_per_beat, name)
    atomic_write(path, lambda handle: mid.save(file=handle))
