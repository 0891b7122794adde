"""The real-time sender: one thread that sends MIDI events at their song beats.

The worker hands over whole bars of events; the sender never waits on inference, on a lock held
by the worker, or (as far as Python allows) on the garbage collector::

    >>> from bridge.clock import Clock
    >>> from bridge.scheduler import Scheduler, note_events
    >>> clock = Clock(tempo=120)
    >>> sent = []
    >>> sched = Scheduler(clock, send=sent.append)
    >>> sched.start()
    >>> sched.submit(note_events([(60, 0.0, 1.0, 100)], offset=0.0, channel=0))
    >>> clock.start(0.0)                       # note on now, note off half a second later
    >>> sched.close()                          # all notes off, thread joined

Timing: ``time.perf_counter`` targets from the clock snapshot; the thread sleeps until about
``spin_s`` before an event and spins for the rest, so the error is the spin's resolution plus
the time to get the GIL back (the bridge sets ``sys.setswitchinterval`` low for that).
Handoff: a ``collections.deque`` (append/popleft are atomic) of pre-built, sorted event batches.

All notes off: an explicit note-off for every note it has sounding, plus CC 123 on each channel
it played a note on since the last all-notes-off (on all 16 on ``panic`` and on exit), so a storm
of starts and stops on the MIDI input cannot turn into a storm of CC 123. Health: the thread
stamps ``counters[HEARTBEAT]`` on every pass; a batch handed to a dead sender is dropped and
counted, never queued.
"""

from __future__ import annotations

import heapq
import logging
import os
import threading
import time
from collections import deque
from typing import Callable, Iterable

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
    """Sends ``(beat, order, bar, kind, message)`` events on ``send`` at their times."""

    def __init__(self, clock: Clock, send: Callable[[list], None], spin_s: float = 0.0012,
                 realtime: bool = True, counters=None):
        super().__init__(name="latentbridge-sender", daemon=True)
        self.clock = clock
        self._send = send
        self.spin_s = spin_s
        self._inbox: deque = deque()       # batches of events from the worker
        self._commands: deque = deque()    # "flush" / "panic" from other threads
        self._pending: list = []           # heap of (beat, order, seq, bar, kind, message)
        self._seq = 0
        self._wake = threading.Event()
        self._running = True
        self._sounding = np.zeros((16, 128), np.int32)
        self._played = np.zeros(16, bool)  # channels with a note-on since the last CC 123
        # heartbeat, sent, late, dropped: read by /lb/status and the watchdog (maybe shared)
        self.counters = np.zeros(N_COUNTERS) if counters is None else counters
        self._send_failures = 0
        self._launched = False
        self._reported = False
        self._epoch = clock.state.epoch
        self.missed = 0                    # note-ons dropped for lateness
        self.sent = 0
        # preallocated timing record: intended vs actual send time (perf_counter seconds)
        self.intended = np.zeros(STATS_SIZE)
        self.actual = np.zeros(STATS_SIZE)
        self.codes = np.zeros(STATS_SIZE, np.int32)   # status << 16 | data1 << 8 | data2
        self.n_stats = 0
        self.last_bar_sent = -1
        self.realtime = realtime
        self.priority = "normal"           # what the thread got: "SCHED_FIFO n" or "normal"

    # -- other threads -----------------------------------------------------------------------
    def submit(self, events: list[tuple]) -> None:
        """Hand over a batch of events (sorted or not); never blocks. A dead sender's batches
        are dropped (and counted), so nothing grows without bound."""
        if self._launched and not self.is_alive():
            self.counters[DROPPED] += len(events)
            return
        self._inbox.append(events)
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

    def flush(self) -> None:
        """Drop every event not sent yet and send all notes off."""
        self._commands.append("flush")
        self._wake.set()

    def panic(self) -> None:
        """All notes off now (pending events stay)."""
        self._commands.append("panic")
        self._wake.set()

    def pending_count(self) -> int:
        return len(self._pending) + sum(len(b) for b in list(self._inbox))

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread; it sends all notes off on its way out."""
        self._running = False
        self._wake.set()
        if self.is_alive():
            self.join(timeout)
        else:
            self._all_notes_off(every_channel=True)

    def reset_stats(self) -> None:
        self.n_stats = 0
        self.missed = 0

    def stats(self) -> dict:
        """The timing record: ``intended`` and ``actual`` send times (perf_counter seconds) of
        every event sent since the last reset, their ``codes`` (status << 16 | data1 << 8 |
        data2), ``missed`` note-ons, ``sent``, ``priority``."""
        n = min(self.n_stats, STATS_SIZE)
        return {"intended": self.intended[:n].copy(), "actual": self.actual[:n].copy(),
                "codes": self.codes[:n].copy(), "missed": self.missed, "sent": self.sent,
                "priority": self.priority}

    def timing_errors(self) -> np.ndarray:
        """Seconds each sent event was late (negative: early), since the last reset."""
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
                if self._commands:
                    self._run_commands()
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
                beat, order, _, bar, kind, message = self._pending[0]
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
                if kind == NOTE_ON:
                    if now - target > LATE_DROP_S:
                        self.missed += 1
                        counters[LATE] += 1
                        continue
                    self._sounding[message[0] & 15, message[1]] += 1
                    self._played[message[0] & 15] = True
                else:
                    count = self._sounding[message[0] & 15, message[1]]
                    if count <= 0:
                        continue       # its note-on was skipped or cut by all-notes-off
                    self._sounding[message[0] & 15, message[1]] = count - 1
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
                self.sent += 1
                self.codes[i] = message[0] << 16 | message[1] << 8 | message[2]
                self.n_stats += 1
                if bar > self.last_bar_sent:
                    self.last_bar_sent = bar
        except Exception:  # a dead sender must not leave notes hanging
            log.exception("sender thread failed")
        finally:
            self._all_notes_off(every_channel=True)

    def _take_inbox(self) -> None:
        while self._inbox:
            for beat, order, bar, kind, message in self._inbox.popleft():
                self._seq += 1
                heapq.heappush(self._pending, (beat, order, self._seq, bar, kind, message))

    def _run_commands(self) -> None:
        while self._commands:
            command = self._commands.popleft()
            if command == "flush":
                self._inbox.clear()
                self._pending.clear()
            self._all_notes_off(every_channel=command == "panic")

    def _all_notes_off(self, every_channel: bool = False) -> None:
        """A note-off for every sounding note, then CC 123 on the channels played since the
        last time (``every_channel``: on all 16, for panic and exit)."""
        try:
            for channel, pitch in zip(*np.nonzero(self._sounding)):
                self._send([0x80 | int(channel), int(pitch), 0])
            self._sounding[:] = 0
            for channel in range(16):
                if every_channel or self._played[channel]:
                    self._send([0xB0 | channel, 123, 0])
            self._played[:] = False
        except Exception as exc:  # a closed port must not kill the caller
            log.warning("all notes off failed: %s", exc)
