"""The sender in its own process: the same :class:`~bridge.scheduler.Scheduler`, with its own GIL.

In one process the sender thread shares the GIL with the worker; when the OS pre-empts the
worker while it holds the GIL (a busy machine), the sender waits for it, whatever its own
priority. Here the scheduler runs in a child process (``multiprocessing`` spawn) that owns the
MIDI output port; the parent mirrors the clock into shared memory (a seqlock, see
:class:`~bridge.clock.SharedClock`) and sends bars of events down a pipe::

    >>> from bridge.clock import Clock
    >>> from bridge.sender import SenderProcess
    >>> clock = Clock(tempo=120)
    >>> sender = SenderProcess(clock, midi_api="jack")     # opens "latentbridge out" in the child
    >>> sender.start()
    >>> sender.submit(events)                              # same events as Scheduler.submit
    >>> sender.stats()["missed"]
    0
    >>> sender.close()                                     # all notes off, child joined

The interface is the scheduler's (``start``, ``submit``, ``flush``, ``panic``, ``close``,
``stats``, ``health``, ``check``, ``counts``, ``with``), so the bridge uses either.

Health: the child's scheduler stamps a heartbeat and its counters (sent, late, dropped) into
shared memory. ``check()``, called by the worker's watchdog, notices a child that died (killed,
crashed) or whose sender thread stopped, starts a new one (at most ``MAX_RESTARTS`` times) and
returns one line for the user; while no child runs, batches are dropped and counted.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time

import numpy as np

from .clock import Clock, SharedClock
from .midi import MidiPortError
from .scheduler import DROPPED, HEARTBEAT, LATE, N_COUNTERS, SENT, STALL_S

log = logging.getLogger("bridge.sender")

READER_PRIORITY = 4       # the child's pipe reader: real-time too, just below the sender
MAX_RESTARTS = 5          # a child that keeps dying is not restarted for ever
CHECK_EVERY_S = 0.2       # the watchdog looks at most this often


class SenderProcess:
    """Runs a Scheduler in a child process; see the module docstring."""

    def __init__(self, clock: Clock, out_name: str | None = None, virtual: bool = True,
                 midi_api: str = "auto", spin_s: float = 0.0012, realtime: bool = True,
                 midi: bool = True):
        self._ctx = ctx = mp.get_context("spawn")
        self._array = ctx.RawArray("d", 1 + SharedClock.FIELDS)
        self._counters_raw = ctx.RawArray("d", N_COUNTERS)
        self._counters = np.frombuffer(self._counters_raw)
        self._mirror = SharedClock(self._array)
        self._mirror.publish(clock.state)
        clock.listeners.append(self._mirror.publish)
        self._clock = clock
        self._lock = threading.Lock()
        self._args = (out_name, virtual, midi_api, spin_s, realtime, midi)
        self._closed = False
        self._dead = False            # the child is gone and not replaced (yet)
        self.restarts = 0
        self.dropped_while_dead = 0
        self._base = np.zeros(N_COUNTERS)   # counters of the children that died
        self._last_check = 0.0
        self._spawn()

    def __enter__(self) -> "SenderProcess":
        """The child runs from construction on; the ``with`` block's end closes it."""
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _spawn(self) -> None:
        """Start a child and wait for it to open its port (raises MidiPortError)."""
        self._counters[:] = 0
        self._conn, child_conn = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_child_main, name="latentbridge-sender",
                                       daemon=True, args=(child_conn, self._array,
                                                          self._counters_raw, *self._args))
        self._proc.start()
        child_conn.close()
        if not self._conn.poll(30):
            self._proc.kill()
            raise MidiPortError("the sender process did not start")
        try:
            reply = self._conn.recv()
        except (EOFError, OSError):
            self._proc.join(5)
            raise MidiPortError(f"the sender process died at start (exit code "
                                f"{self._proc.exitcode})") from None
        if reply[0] == "error":
            self._proc.join(5)
            raise MidiPortError(reply[1])
        _, self.out_name, self.priority = reply

    def start(self) -> None:
        """The child's scheduler already runs; kept for the Scheduler interface."""

    def _send(self, message) -> None:
        with self._lock:
            if self._closed:
                return
            if self._dead:
                if message[0] == "events":
                    self.dropped_while_dead += len(message[1])
                return
            try:
                self._conn.send(message)
            except (OSError, EOFError, BrokenPipeError) as exc:
                self._dead = True          # the watchdog reports it and starts a new one
                log.error("the MIDI sender process is gone (%s)", exc)
                if message[0] == "events":
                    self.dropped_while_dead += len(message[1])

    # -- health ------------------------------------------------------------------------------
    def health(self) -> str:
        """``ok``, ``stalled`` (the child lives, its sender thread does not beat) or ``dead``."""
        if self._closed:
            return "closed"
        if self._dead or not self._proc.is_alive():
            return "dead"
        if time.perf_counter() - self._counters[HEARTBEAT] > STALL_S:
            return "stalled"
        return "ok"

    def counts(self) -> dict:
        c = self._base + self._counters
        return {"sent": int(c[SENT]), "late": int(c[LATE]),
                "dropped": int(c[DROPPED]) + self.dropped_while_dead}

    def check(self) -> str | None:
        """The watchdog: a dead or stalled child is replaced (up to ``MAX_RESTARTS`` times);
        returns one line for the user when that happened, else None."""
        now = time.monotonic()
        if now - self._last_check < CHECK_EVERY_S or self._closed:
            return None
        self._last_check = now
        health = self.health()
        if health == "ok" or (health == "dead" and self.restarts >= MAX_RESTARTS and
                              self._dead):
            return None
        with self._lock:
            if self._closed:
                return None
            self._dead = True
            exitcode = self._proc.exitcode
            if self._proc.is_alive():            # stalled: its sender thread stopped
                self._proc.kill()
                self._proc.join(2)
            self._base += self._counters
            try:
                self._conn.close()
            except OSError:
                pass
            what = (f"the MIDI sender process died (exit code {exitcode})" if health == "dead"
                    else "the MIDI sender stopped")
            if self.restarts >= MAX_RESTARTS:
                log.error("%s; not restarted (%d restarts already)", what, self.restarts)
                return f"{what}; no MIDI goes out (restart the bridge)"
            self.restarts += 1
            try:
                self._spawn()
            except MidiPortError as exc:
                log.error("%s; restart failed: %s", what, exc)
                return f"{what}; restart failed: {exc}"
            self._dead = False
        self._mirror.publish(self._clock.state)
        log.error("%s; started a new one (restart %d)", what, self.restarts)
        return f"{what}; started a new one (reconnect '{self.out_name}')"

    def submit(self, events: list[tuple], owner: int = 0) -> None:
        self._send(("events", events, owner))

    def flush(self, owner: int | None = None, forget: bool = False) -> None:
        self._send(("flush", owner, forget))

    def panic(self) -> None:
        self._send(("panic",))

    def stats(self) -> dict:
        """Timing record of the child's scheduler: ``intended``, ``actual`` (perf_counter
        seconds, CLOCK_MONOTONIC on Linux, so comparable across processes), ``missed``,
        ``sent``, ``priority``."""
        with self._lock:
            if self._closed:
                return self._final
            if self._dead:
                raise EOFError("the sender process is gone")
            self._conn.send(("stats",))
            return self._receive()

    def _receive(self, timeout: float = 5.0):
        if not self._conn.poll(timeout):
            raise EOFError("the sender process does not answer")
        return self._conn.recv()

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                self._conn.send(("stats",))
                self._final = self._receive()
                self._conn.send(("close",))
                self._receive()             # the child has sent all notes off
            except (OSError, EOFError):
                self._final = {"intended": np.zeros(0), "actual": np.zeros(0),
                               "codes": np.zeros(0, np.int32), "missed": 0, "sent": 0,
                               "priority": self.priority}
            self._closed = True
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.kill()
        if self._mirror.publish in self._clock.listeners:
            self._clock.listeners.remove(self._mirror.publish)


def _child_main(conn, array, counters, out_name, virtual, midi_api, spin_s, realtime,
                midi) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C reaches the parent, which closes us
    import gc
    import sys

    from .midi import NoOutput, open_ports
    from .scheduler import Scheduler

    sys.setswitchinterval(0.0005)    # the pipe reader hands the GIL back quickly

    ports = None
    try:
        if midi:
            ports = open_ports(out_name, None, virtual=virtual, api=midi_api, use_input=False)
    except MidiPortError as exc:
        conn.send(("error", str(exc)))
        return
    scheduler = Scheduler(SharedClock(array), ports if ports else NoOutput(), spin_s=spin_s,
                          realtime=realtime, counters=np.frombuffer(counters))
    gc.collect()
    gc.freeze()                      # nothing alive now is ever scanned again
    scheduler.start()
    if realtime and hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(READER_PRIORITY))
        except OSError:
            pass
    conn.send(("ready", ports.out_name if ports else "", _wait_priority(scheduler, realtime)))
    try:
        while True:
            message = conn.recv()
            kind = message[0]
            if kind == "events":
                scheduler.submit(message[1], message[2])
            elif kind == "flush":
                scheduler.flush(message[1], message[2])
            elif kind == "panic":
                scheduler.panic()
            elif kind == "stats":
                conn.send(scheduler.stats())
            elif kind == "close":
                break
    except (EOFError, OSError):
        pass                                       # the parent is gone: silence and leave
    finally:
        scheduler.close()                          # all notes off
        if ports is not None:
            ports.close()
        try:
            conn.send(("closed",))
        except (OSError, EOFError):
            pass


def _wait_priority(scheduler, realtime: bool) -> str:
    """The sender thread sets its priority first thing; give it a moment to report."""
    import time

    deadline = time.monotonic() + 1.0
    while realtime and scheduler.priority == "normal" and time.monotonic() < deadline:
        time.sleep(0.005)
    return scheduler.priority
