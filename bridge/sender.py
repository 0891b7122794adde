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
``stats``), so the bridge uses either.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading

import numpy as np

from .clock import Clock, SharedClock
from .midi import MidiPortError

log = logging.getLogger("bridge.sender")

READER_PRIORITY = 4       # the child's pipe reader: real-time too, just below the sender


class SenderProcess:
    """Runs a Scheduler in a child process; see the module docstring."""

    def __init__(self, clock: Clock, out_name: str | None = None, virtual: bool = True,
                 midi_api: str = "auto", spin_s: float = 0.0012, realtime: bool = True,
                 midi: bool = True):
        ctx = mp.get_context("spawn")
        self._array = ctx.RawArray("d", 1 + SharedClock.FIELDS)
        self._mirror = SharedClock(self._array)
        self._mirror.publish(clock.state)
        clock.listeners.append(self._mirror.publish)
        self._clock = clock
        self._conn, child_conn = ctx.Pipe()
        self._lock = threading.Lock()
        self._proc = ctx.Process(target=_child_main, name="latentbridge-sender", daemon=True,
                                 args=(child_conn, self._array, out_name, virtual, midi_api,
                                       spin_s, realtime, midi))
        self._proc.start()
        child_conn.close()
        if not self._conn.poll(30):
            self._proc.kill()
            raise MidiPortError("the sender process did not start")
        reply = self._conn.recv()
        if reply[0] == "error":
            self._proc.join(5)
            raise MidiPortError(reply[1])
        _, self.out_name, self.priority = reply
        self._closed = False

    def start(self) -> None:
        """The child's scheduler already runs; kept for the Scheduler interface."""

    def _send(self, message) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                self._conn.send(message)
            except (OSError, EOFError, BrokenPipeError) as exc:
                log.warning("sender process gone (%s)", exc)

    def submit(self, events: list[tuple]) -> None:
        self._send(("events", events))

    def flush(self) -> None:
        self._send(("flush",))

    def panic(self) -> None:
        self._send(("panic",))

    def stats(self) -> dict:
        """Timing record of the child's scheduler: ``intended``, ``actual`` (perf_counter
        seconds, CLOCK_MONOTONIC on Linux, so comparable across processes), ``missed``,
        ``sent``, ``priority``."""
        with self._lock:
            if self._closed:
                return self._final
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


def _child_main(conn, array, out_name, virtual, midi_api, spin_s, realtime, midi) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C reaches the parent, which closes us
    import gc
    import sys

    from .midi import open_ports
    from .scheduler import Scheduler

    sys.setswitchinterval(0.0005)    # the pipe reader hands the GIL back quickly

    ports = None
    try:
        if midi:
            ports = open_ports(out_name, None, virtual=virtual, api=midi_api, use_input=False)
    except MidiPortError as exc:
        conn.send(("error", str(exc)))
        return
    scheduler = Scheduler(SharedClock(array), send=ports.send if ports else (lambda m: None),
                          spin_s=spin_s, realtime=realtime)
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
                scheduler.submit(message[1])
            elif kind == "flush":
                scheduler.flush()
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
