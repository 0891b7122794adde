"""A private JACK server (``jackd -d dummy``): real MIDI ports without audio hardware, for the
tests, ``bench/stream.py`` and trying the bridge on a machine with no sound card::

    >>> from bridge.jackd import PrivateJack
    >>> with PrivateJack("latentbridge-try", period=256) as jack:
    ...     bridge = Bridge(engine, midi_api="jack")   # rtmidi's JACK API talks to this server
    ...     ...
    ...     jack.xrun_times()      # perf_counter times at which jackd reported an xrun

A private server name keeps away from any jackd a developer already runs; while it runs,
``JACK_DEFAULT_SERVER`` names it and ``JACK_NO_START_SERVER`` stops libjack from starting
another one behind our back (both are restored by ``stop``). jackd's output is read on a thread
as it comes (a pipe left unread could fill and block jackd, which reports every xrun), and each
xrun report is kept with the time it was read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections import deque

XRUN_MARKS = ("xrun", "was not finished")


class JackError(RuntimeError):
    """jackd is missing or did not start; the message is one line."""


class PrivateJack:
    """``jackd -n NAME -d dummy -r RATE -p PERIOD``; see the module docstring."""

    def __init__(self, name: str, rate: int = 48000, period: int = 256):
        self.name, self.rate, self.period = name, rate, period
        self.proc: subprocess.Popen | None = None
        self._xruns: list[tuple[float, str]] = []
        self._tail: deque[str] = deque(maxlen=20)
        self._saved: dict[str, str | None] = {}
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> "PrivateJack":
        """Start jackd and wait until a JACK client can connect (raises JackError)."""
        if shutil.which("jackd") is None:
            raise JackError("jackd not found (apt-get install jackd2)")
        env = {"JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1",
               "JACK_DEFAULT_SERVER": self.name}
        self._saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        self.proc = subprocess.Popen(["jackd", "-n", self.name, "-d", "dummy", "-r",
                                      str(self.rate), "-p", str(self.period)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, name="jackd-log", daemon=True)
        self._reader.start()
        import rtmidi

        deadline = time.monotonic() + timeout
        while True:
            try:
                rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="probe").delete()
                return self
            except rtmidi.SystemError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise JackError("jackd did not start: " + " / ".join(self._tail)[-300:])
                time.sleep(0.1)

    def _read(self) -> None:
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if any(mark in line.lower() for mark in XRUN_MARKS):
                self._xruns.append((time.perf_counter(), line))
            self._tail.append(line)

    def xrun_times(self) -> list[float]:
        """When jackd's xrun reports were read (``time.perf_counter`` seconds)."""
        return [t for t, _ in self._xruns]

    def xrun_lines(self) -> list[str]:
        """jackd's xrun reports (which client was late, ...), in order."""
        return [line for _, line in self._xruns]

    def xruns(self) -> int:
        return len(self._xruns)

    def stop(self) -> None:
        """Stop jackd (safe to call twice) and restore the environment."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self._reader is not None:
                self._reader.join(2)
            self.proc.stdout.close()
            self.proc = None
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved = {}

    def __enter__(self) -> "PrivateJack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
