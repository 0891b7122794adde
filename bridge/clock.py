"""The playhead: song beats <-> ``time.perf_counter()`` seconds, following the best master.

Three masters, in order of priority: the device's OSC transport (``/lb/transport``), MIDI clock
(24 ppqn, start/stop/continue/song position) on the input port, and a free-running internal clock::

    >>> from bridge.clock import Clock
    >>> clock = Clock(tempo=120.0)
    >>> clock.start(beat=0.0)                  # internal clock, only while no master is heard
    >>> state = clock.state                    # one immutable snapshot, read without a lock
    >>> state.playing, state.tempo
    (True, 120.0)
    >>> t = clock.time_at(4.0)                 # perf_counter time of beat 4 (2 s after start)

Readers (the scheduler, the worker) take ``clock.state`` once and compute with it; writers
replace the whole snapshot, so a reader never sees half an update. ``epoch`` counts the
discontinuities (start, stop, relocation): a reader that sees it change drops what it planned.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, replace

TICKS_PER_BEAT = 24          # MIDI clock
MASTER_TIMEOUT_S = 1.0       # an external master silent for this long is gone
RELOCATE_BEATS = 0.25        # an OSC transport report this far from the prediction is a jump
RESYNC_BEATS = 0.02          # ... this far re-anchors smoothly (UDP jitter stays below it)
MIN_TEMPO, MAX_TEMPO = 20.0, 400.0


@dataclass(frozen=True)
class ClockState:
    """A snapshot of the playhead: at ``anchor_time`` the song was at ``anchor_beat``."""

    playing: bool = False
    anchor_time: float = 0.0
    anchor_beat: float = 0.0
    tempo: float = 120.0
    numerator: int = 4
    denominator: int = 4
    source: str = "internal"   # internal | midi | osc
    epoch: int = 0

    @property
    def beats_per_bar(self) -> float:
        return self.numerator * 4.0 / self.denominator

    def beat_at(self, t: float) -> float:
        if not self.playing:
            return self.anchor_beat
        return self.anchor_beat + (t - self.anchor_time) * self.tempo / 60.0

    def time_at(self, beat: float) -> float:
        return self.anchor_time + (beat - self.anchor_beat) * 60.0 / self.tempo


class Clock:
    """Thread-safe playhead fed by the internal clock, MIDI clock bytes and OSC transport."""

    def __init__(self, tempo: float = 120.0, numerator: int = 4, denominator: int = 4):
        self._lock = threading.Lock()
        self.state = ClockState(tempo=_clamp_tempo(tempo), numerator=numerator,
                                denominator=denominator, anchor_time=time.perf_counter())
        self.internal_tempo = self.state.tempo
        self.listeners: list = []   # called with each new snapshot (the sender process mirror)
        self._last_heard = {"midi": -1e9, "osc": -1e9}
        self._tick_times: deque[float] = deque(maxlen=TICKS_PER_BEAT + 1)
        self._ticks = 0              # MIDI clock ticks since start / song position
        self._await_first_tick = False
        self._midi_playing = False

    # -- reading -----------------------------------------------------------------------------
    def beat_at(self, t: float | None = None) -> float:
        return self.state.beat_at(time.perf_counter() if t is None else t)

    def time_at(self, beat: float) -> float:
        return self.state.time_at(beat)

    @property
    def playing(self) -> bool:
        return self.state.playing

    def _set(self, **changes) -> None:
        # callers hold the lock; one assignment publishes the new snapshot
        jump = changes.pop("jump", False)
        state = replace(self.state, **changes)
        if jump:
            state = replace(state, epoch=state.epoch + 1)
        self.state = state
        for listener in self.listeners:
            listener(state)

    def _master_active(self, name: str, now: float) -> bool:
        return now - self._last_heard[name] < MASTER_TIMEOUT_S

    def check_masters(self, now: float | None = None) -> None:
        """Fall back to the internal clock (stopped) when the external master went silent."""
        now = time.perf_counter() if now is None else now
        with self._lock:
            source = self.state.source
            if source != "internal" and not self._master_active(source, now):
                if source == "osc" and self._master_active("midi", now):
                    self._set(source="midi")
                    return
                beat = self.state.beat_at(now)
                self._set(source="internal", playing=False, anchor_beat=beat, anchor_time=now,
                          tempo=self.internal_tempo, jump=self.state.playing)

    # -- internal clock ----------------------------------------------------------------------
    def start(self, beat: float = 0.0, now: float | None = None) -> bool:
        """Start the internal clock at ``beat``; refused (False) while a master is heard."""
        now = time.perf_counter() if now is None else now
        with self._lock:
            if self.state.source != "internal":
                return False
            self._set(playing=True, anchor_time=now, anchor_beat=beat,
                      tempo=self.internal_tempo, jump=True)
            return True

    def stop(self, now: float | None = None) -> bool:
        now = time.perf_counter() if now is None else now
        with self._lock:
            if self.state.source != "internal" or not self.state.playing:
                return False
            self._set(playing=False, anchor_beat=self.state.beat_at(now), anchor_time=now,
                      jump=True)
            return True

    def set_tempo(self, bpm: float, now: float | None = None) -> None:
        """Tempo of the internal clock (applies at once when it is the source)."""
        now = time.perf_counter() if now is None else now
        with self._lock:
            self.internal_tempo = _clamp_tempo(bpm)
            if self.state.source == "internal":
                self._set(anchor_beat=self.state.beat_at(now), anchor_time=now,
                          tempo=self.internal_tempo)

    # -- MIDI clock --------------------------------------------------------------------------
    def midi_message(self, status: int, data: list[int] | tuple = (), now: float | None = None):
        """Feed one MIDI realtime/system-common message (clock, start, continue, stop, SPP)."""
        now = time.perf_counter() if now is None else now
        with self._lock:
            self._last_heard["midi"] = now
            if self._master_active("osc", now):
                return  # the device's transport outranks MIDI clock
            if self.state.source != "midi":
                self._set(source="midi", playing=False, anchor_time=now,
                          anchor_beat=self._ticks / TICKS_PER_BEAT, jump=self.state.playing)
            if status == 0xF8:
                self._midi_tick(now)
            elif status == 0xFA:                                   # start: from the top
                self._ticks, self._await_first_tick, self._midi_playing = 0, True, True
                self._set(playing=True, anchor_time=now, anchor_beat=0.0, jump=True)
            elif status == 0xFB:                                   # continue
                self._await_first_tick, self._midi_playing = True, True
                self._set(playing=True, anchor_time=now,
                          anchor_beat=self._ticks / TICKS_PER_BEAT, jump=True)
            elif status == 0xFC:                                   # stop
                self._midi_playing = False
                self._set(playing=False, anchor_time=now,
                          anchor_beat=self._ticks / TICKS_PER_BEAT, jump=True)
            elif status == 0xF2 and len(data) >= 2:                # song position, in 16ths
                sixteenths = (data[0] & 0x7F) | ((data[1] & 0x7F) << 7)
                self._ticks = sixteenths * 6
                self._set(anchor_time=now, anchor_beat=self._ticks / TICKS_PER_BEAT, jump=True)

    def _midi_tick(self, now: float) -> None:
        self._tick_times.append(now)
        tempo = self.state.tempo
        if len(self._tick_times) >= 7:  # a quarter of a beat is enough to estimate the tempo
            span = self._tick_times[-1] - self._tick_times[0]
            if span > 0:
                tempo = _clamp_tempo(60.0 * (len(self._tick_times) - 1) / (TICKS_PER_BEAT * span))
        if not self._midi_playing:
            self._set(tempo=tempo)
            return
        if self._await_first_tick:   # the first tick after start/continue *is* the position
            self._await_first_tick = False
        else:
            self._ticks += 1
        self._set(anchor_time=now, anchor_beat=self._ticks / TICKS_PER_BEAT, tempo=tempo)

    # -- OSC transport -----------------------------------------------------------------------
    def transport(self, playing: bool, beat: float, tempo: float, numerator: int = 4,
                  denominator: int = 4, now: float | None = None) -> None:
        """A report of Live's transport from the device (``/lb/transport``)."""
        now = time.perf_counter() if now is None else now
        tempo = _clamp_tempo(tempo)
        with self._lock:
            self._last_heard["osc"] = now
            state = self.state
            meter = dict(numerator=max(1, int(numerator)), denominator=max(1, int(denominator)))
            if state.source != "osc" or playing != state.playing:
                self._set(source="osc", playing=playing, anchor_time=now, anchor_beat=beat,
                          tempo=tempo, jump=True, **meter)
                return
            drift = abs(state.beat_at(now) - beat)
            if drift > RELOCATE_BEATS:
                self._set(anchor_time=now, anchor_beat=beat, tempo=tempo, jump=True, **meter)
            elif drift > RESYNC_BEATS or abs(tempo - state.tempo) > 1e-3 or \
                    (meter["numerator"], meter["denominator"]) != (state.numerator,
                                                                  state.denominator):
                self._set(anchor_time=now, anchor_beat=beat, tempo=tempo, **meter)


def _clamp_tempo(bpm: float) -> float:
    return min(MAX_TEMPO, max(MIN_TEMPO, float(bpm)))


SOURCES = ("internal", "midi", "osc")


class SharedClock:
    """A read-only mirror of a :class:`Clock` in another process, through shared memory.

    The writer (``publish``, registered as a listener of the real clock) bumps a sequence
    number to odd, writes the fields, bumps it to even; the reader retries until it reads the
    same even number before and after (a seqlock: neither side ever blocks)."""

    FIELDS = 8

    def __init__(self, array):
        self.array = array         # multiprocessing RawArray('d', 1 + FIELDS)
        self._last = ClockState()
        self._seq = None           # the (even) sequence number _last was read at

    def publish(self, state: ClockState) -> None:
        a = self.array
        a[0] += 1.0
        a[1:] = [float(state.playing), state.anchor_time, state.anchor_beat, state.tempo,
                 float(state.numerator), float(state.denominator),
                 float(SOURCES.index(state.source)), float(state.epoch)]
        a[0] += 1.0

    @property
    def state(self) -> ClockState:
        a = self.array
        for _ in range(100):
            seq = a[0]
            if seq == self._seq:   # unchanged since the last read: the sender's usual case
                return self._last
            values = a[1:]
            if seq == a[0] and int(seq) % 2 == 0:
                self._seq = seq
                self._last = ClockState(bool(values[0]), values[1], values[2], values[3],
                                        int(values[4]), int(values[5]),
                                        SOURCES[int(values[6])], int(values[7]))
                return self._last
        return self._last
