"""The real-time sender: one thread that sends MIDI events at their song beats.

The worker hands over whole bars of events; the sender never waits on inference, on a lock held
by the worker, or (as far as Python allows) on the garbage collector::

    >>> import time
    >>> from bridge.clock import Clock
    >>> from bridge.scheduler import Scheduler, note_events
    >>> from bridge.midi import open_ports
    >>> clock = Clock(tempo=120)
    >>> with open_ports(api="jack", use_input=False) as out, Scheduler(clock, out) as sched:
    ...     sched.submit(note_events([(60, 0.0, 1.0, 100)], offset=0.0, channel=0))
    ...     clock.start(0.0)                   # note on now, note off half a second later
    ...     time.sleep(1.0)
    >>> # the block's end: all notes off, thread joined, port closed

``Scheduler(clock, out)`` sends to ``out``, a :class:`~bridge.midi.MidiOutput` (its ``send``);
``start()``/``close()`` do by hand what the ``with`` block does.

Timing: ``time.perf_counter`` targets from the clock snapshot; the thread sleeps until about
``spin_s`` before an event and spins for the rest, so the error is the spin's resolution plus
the time to get the GIL back (the bridge sets ``sys.setswitchinterval`` low for that).
Handoff: one ``collections.deque`` (append/popleft are atomic) of pre-built event batches and
commands, taken in the order they were given: a flush drops only what was handed over before it.

Owners: every batch belongs to an owner (the bridge's session id; 0 by default), and the notes
sounding are kept per owner, so ``flush(owner)`` ends one session's notes and leaves the others'
playing (several devices share the one MIDI output, each on its own channel).

All notes off: an explicit note-off for every note sounding, plus CC 123 on each channel played
since the last all-notes-off (on all 16 on ``panic`` and on exit); ``flush(owner)`` sends CC 123
only on its channels where no other owner has a note sounding. So a storm of starts and stops
on the MIDI input cannot turn into a storm of CC 123. Health: the thread stamps
``counters[HEARTBEAT]`` on every pass; a batch handed to a dead sender is dropped and counted,
never queued.
"""

from __future__ import annotations

import heapq
import logging
import os
import threading
import time
from collections import deque
from typing import Iterable

import numpy as np

from .clock import Clock

log = logging.getLogger("bridge.scheduler")

NOTE_OFF, NOTE_ON = 0, 1    # sort key: at the same beat, offs go before ons
LATE_DROP_S = 0.050         # a note-on later than this is skipped (counted as missed)
MAX_SLEEP_S = 0.004         # wake at least this often to see new bars and clock changes
STATS_SIZE = 1 << 16
REALTIME_PRIORITY = 5         # below jackd's (10): JACK's own thread comes first
STALL_S = 2.0                 # a sender whose heartbeat is older than this is stalled
# slots of the counters array (shared memory in the sender process, see bridge.sender)
HEARTBEAT, SENT, LATE, DROPPED, N_COUNTERS = 0, 1, 2, 3, 4
EVENTS, FLUSH, PANIC = 0, 1, 2  # what an inbox item is


def note_events(notes: Iterable[tuple[int, float, float, int]], offset: float, channel: int,
                bar: int = -1) -> list[tuple]:
    """Sorted ``(beat, order, bar, kind, message)`` events for ``(pitch, start, duration,
    velocity)`` notes placed at song beat ``offset`` on MIDI ``channel`` (0..15)."""
    events = []
    for pitch, start, duration, velocity in notes:
        on = offset + start
        events.append((on, NOTE_ON, bar, NOTE_ON, [0x90 | channel, pitch, max(1, velocity)]))
        events.append((on + duration, NOTE_OFF, bar, NOTE_OFF, [0x80 | channel, pitch, 0]))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


class Scheduler(threading.Thread):
    """Sends ``(beat, order, bar, kind, message)`` events to ``out`` (a
    :class:`~bridge.midi.MidiOutput`) at their times."""

    def __init__(self, clock: Clock, out, spin_s: float = 0.0012, realtime: bool = True,
                 counters=None):
        super().__init__(name="latentbridge-sender", daemon=True)
        self.clock = clock
        self.out = out
        self._send = out.send
        self.spin_s = spin_s
        self._inbox: deque = deque()       # (EVENTS|FLUSH|PANIC, owner, payload), in order
        self._pending: list = []           # heap of (beat, order, seq, bar, kind, message, owner)
        self._seq = 0
        self._wake = threading.Event()
        self._running = True
        # per owner: notes sounding [channel, pitch] and channels with a note-on since the
        # last CC 123 there
        self._sounding: dict[int, np.ndarray] = {}
        self._played: dict[int, np.ndarray] = {}
        # heartbeat, sent, late (note-ons dropped), dropped: read by /lb/status, the watchdog
        # and stats() (maybe in shared memory)
        self.counters = np.zeros(N_COUNTERS) if counters is None else counters
        self._send_failures = 0
        self._launched = False
        self._reported = False
        self._epoch = clock.state.epoch
        # preallocated timing record: intended vs actual send time (perf_counter seconds)
        self.intended = np.zeros(STATS_SIZE)
        self.actual = np.zeros(STATS_SIZE)
        self.codes = np.zeros(STATS_SIZE, np.int32)   # status << 16 | data1 << 8 | data2
        self.n_stats = 0
        self.last_bar_sent = -1
        self.realtime = realtime
        self.priority = "normal"           # what the thread got: "SCHED_FIFO n" or "normal"

    # -- other threads -----------------------------------------------------------------------
    def submit(self, events: list[tuple], owner: int = 0) -> None:
        """Hand over a batch of ``owner``'s events (sorted or not); never blocks. A dead
        sender's batches are dropped (and counted), so nothing grows without bound."""
        if self._launched and not self.is_alive():
            self.counters[DROPPED] += len(events)
            return
        self._inbox.append((EVENTS, owner, events))
        self._wake.set()

    def health(self) -> str:
        """``ok``, ``stalled`` (alive, but no heartbeat for ``STALL_S``) or ``dead``."""
        if not self._launched:
            return "ok"
        if not self.is_alive():
            return "dead"
        if time.perf_counter() - self.counters[HEARTBEAT] > STALL_S:
            return "stalled"
        return "ok"

    def check(self) -> str | None:
        """A one-line report the first time the thread is found dead (the watchdog's call)."""
        if self.health() == "dead" and not self._reported:
            self._reported = True
            return "the MIDI sender thread died: no MIDI goes out (see the log; restart the bridge)"
        return None

    def counts(self) -> dict:
        """Cheap counters for /lb/status: ``sent``, ``late`` note-ons dropped, ``dropped``."""
        return {"sent": int(self.counters[SENT]), "late": int(self.counters[LATE]),
                "dropped": int(self.counters[DROPPED])}

    def flush(self, owner: int | None = None, forget: bool = False) -> None:
        """Drop the events handed over so far and not sent yet, and end the notes sounding: of
        ``owner`` only, or of everyone (``None``). ``forget``: the owner is gone for good."""
        self._inbox.append((FLUSH, owner, forget))
        self._wake.set()

    def panic(self) -> None:
        """All notes off on every channel now (pending events stay)."""
        self._inbox.append((PANIC, None, None))
        self._wake.set()

    def pending_count(self) -> int:
        return len(self._pending) + sum(len(item[2]) for item in list(self._inbox)
                                        if item[0] == EVENTS)

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread; it sends all notes off on its way out."""
        self._running = False
        self._wake.set()
        if self.is_alive():
            self.join(timeout)
        else:
            self._all_notes_off(every_channel=True)

    def __enter__(self) -> "Scheduler":
        """The thread runs for the ``with`` block (started here unless it was) ..."""
        if not self._launched:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        """... and is closed after it: all notes off, thread joined (the port stays open)."""
        self.close()

    def stats(self) -> dict:
        """The timing record: ``intended`` and ``actual`` send times (perf_counter seconds) of
        the events sent (the last ``STATS_SIZE``), their ``codes`` (status << 16 | data1 << 8 |
        data2), ``missed`` note-ons (dropped for lateness), ``sent``, ``priority``."""
        n = min(self.n_stats, STATS_SIZE)
        return {"intended": self.intended[:n].copy(), "actual": self.actual[:n].copy(),
                "codes": self.codes[:n].copy(), "missed": int(self.counters[LATE]),
                "sent": int(self.counters[SENT]), "priority": self.priority}

    def timing_errors(self) -> np.ndarray:
        """Seconds each event of the timing record was late (negative: early)."""
        n = min(self.n_stats, STATS_SIZE)
        return self.actual[:n] - self.intended[:n]

    # -- the thread --------------------------------------------------------------------------
    def _raise_priority(self) -> None:
        """Ask the OS for real-time scheduling of this thread (Linux, if permitted): a busy
        machine then wakes the sender on time. Refusal is normal and harmless."""
        if not self.realtime or not hasattr(os, "sched_setscheduler"):
            return
        try:
            priority = min(REALTIME_PRIORITY, os.sched_get_priority_max(os.SCHED_FIFO))
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
            self.priority = f"SCHED_FIFO {priority}"
        except (OSError, AttributeError) as exc:
            log.debug("no real-time priority for the sender (%s)", exc)

    def start(self) -> None:
        self._launched = True
        super().start()

    def run(self) -> None:
        self._raise_priority()
        perf = time.perf_counter
        sleep = time.sleep
        counters = self.counters
        try:
            while self._running:
                counters[HEARTBEAT] = perf()
                if self._inbox:
                    self._take_inbox()
                state = self.clock.state
                if state.epoch != self._epoch:
                    self._epoch = state.epoch
                    self._all_notes_off()   # start, stop, relocation: nothing may hang
                if not state.playing or not self._pending:
                    self._wake.wait(MAX_SLEEP_S)
                    self._wake.clear()
                    continue
                beat, order, _, bar, kind, message, owner = self._pending[0]
                target = state.time_at(beat)
                wait = target - perf()
                if wait > self.spin_s:
                    # sleep in short pieces: new bars, commands and clock jumps are seen quickly
                    sleep(min(wait - self.spin_s, MAX_SLEEP_S))
                    continue
                while perf() < target:
                    pass
                heapq.heappop(self._pending)
                now = perf()
                channel = message[0] & 15
                if kind == NOTE_ON:
                    if now - target > LATE_DROP_S:
                        counters[LATE] += 1
                        continue
                    sounding = self._sounding.get(owner)
                    if sounding is None:
                        sounding = self._owner_state(owner)
                    sounding[channel, message[1]] += 1
                    self._played[owner][channel] = True
                else:
                    sounding = self._sounding.get(owner)
                    if sounding is None or sounding[channel, message[1]] <= 0:
                        continue       # its note-on was skipped or cut by all-notes-off
                    sounding[channel, message[1]] -= 1
                try:
                    self._send(message)
                except Exception as exc:   # a port that refuses one message: count, go on
                    counters[DROPPED] += 1
                    self._send_failures += 1
                    if self._send_failures in (1, 10, 100, 1000) or not self._send_failures % 10000:
                        log.warning("MIDI send failed (%d times): %s", self._send_failures, exc)
                    continue
                counters[SENT] += 1
                i = self.n_stats % STATS_SIZE
                self.actual[i] = perf()        # after the send returned: the whole cost counts
                self.intended[i] = target
                self.codes[i] = message[0] << 16 | message[1] << 8 | message[2]
                self.n_stats += 1
                if bar > self.last_bar_sent:
                    self.last_bar_sent = bar
        except Exception:  # a dead sender must not leave notes hanging
            log.exception("sender thread failed")
        finally:
            self._all_notes_off(every_channel=True)

    def _owner_state(self, owner: int) -> np.ndarray:
        self._played[owner] = np.zeros(16, bool)
        self._sounding[owner] = sounding = np.zeros((16, 128), np.int32)
        return sounding

    def _take_inbox(self) -> None:
        """Batches and commands in the order they were handed over."""
        pending = self._pending
        while self._inbox:
            what, owner, payload = self._inbox.popleft()
            if what == EVENTS:
                for beat, order, bar, kind, message in payload:
                    self._seq += 1
                    heapq.heappush(pending, (beat, order, self._seq, bar, kind, message, owner))
            elif what == PANIC:
                self._all_notes_off(every_channel=True)
            elif owner is None:
                pending.clear()
                self._all_notes_off()
            else:
                pending[:] = [e for e in pending if e[6] != owner]
                heapq.heapify(pending)
                self._notes_off(owner)
                if payload:            # forget: the owner is gone
                    self._sounding.pop(owner, None)
                    self._played.pop(owner, None)

    def _all_notes_off(self, every_channel: bool = False) -> None:
        """A note-off for every sounding note, then CC 123 on the channels played since the
        last time (``every_channel``: on all 16, for panic and exit)."""
        try:
            played = np.zeros(16, bool)
            for owner in list(self._sounding):
                played |= self._played[owner]
                self._notes_off(owner, cc123=False)
            for channel in range(16):
                if every_channel or played[channel]:
                    self._send([0xB0 | channel, 123, 0])
        except Exception as exc:  # a closed port must not kill the caller
            log.warning("all notes off failed: %s", exc)

    def _notes_off(self, owner: int, cc123: bool = True) -> None:
        """End ``owner``'s notes: a note-off for each, then CC 123 on the channels it played
        where no other owner has a note sounding."""
        sounding = self._sounding.get(owner)
        if sounding is None:
            return
        try:
            for channel, pitch in zip(*np.nonzero(sounding)):
                self._send([0x80 | int(channel), int(pitch), 0])
            sounding[:] = 0
            if cc123:
                for channel in np.nonzero(self._played[owner])[0]:
                    if not any(other[channel].any() for key, other in self._sounding.items()
                               if key != owner):
                        self._send([0xB0 | int(channel), 123, 0])
            self._played[owner][:] = False
        except Exception as exc:  # a closed port must not kill the caller
            log.warning("notes off failed: %s", exc)
