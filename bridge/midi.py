"""MIDI ports of the bridge (python-rtmidi) and the recorder of what the musician plays.

    >>> from bridge.midi import open_ports, Recorder
    >>> ports = open_ports(api="jack")                 # virtual "latentbridge out" / "latentbridge in"
    >>> ports = open_ports(out_name="loopMIDI Port")   # an existing port (Windows)
    >>> ports.send([0x90, 60, 100])
    >>> ports.close()
    >>> with open_ports(api="jack", use_input=False) as ports:   # closed after the block
    ...     ports.send([0x90, 60, 100])

What the sender (:class:`~bridge.scheduler.Scheduler`) sends to is a :class:`MidiOutput`, mido's
``BaseOutput`` in small: ``send(message)``, ``close()``, ``with``. :class:`Ports` (rtmidi) and
:class:`NoOutput` (MIDI off) are the two the bridge uses.

The input callback feeds MIDI clock / start / stop / continue / song position to the
:class:`~bridge.clock.Clock` and notes to a :class:`Recorder`, which keeps the notes of the last
bars (in song beats) so that ``/lb/record A 2`` can turn them into a clip.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import rtmidi

from runtime.music import Clip, Note

from .clock import Clock
from .errors import BridgeError, RateLimitedLog

log = logging.getLogger("bridge.midi")
_input_log = RateLimitedLog(log)

OUT_NAME = "latentbridge out"
IN_NAME = "latentbridge in"
CLIENT_NAME = "latentbridge"
APIS = {"auto": rtmidi.API_UNSPECIFIED, "alsa": rtmidi.API_LINUX_ALSA,
        "jack": rtmidi.API_UNIX_JACK, "coremidi": rtmidi.API_MACOSX_CORE,
        "winmm": rtmidi.API_WINDOWS_MM}
CLOCK_STATUSES = (0xF8, 0xFA, 0xFB, 0xFC, 0xF2)


class MidiPortError(BridgeError, RuntimeError):
    """A MIDI port that cannot be opened; the message is one line for the user."""


class MidiOutput:
    """What the scheduler sends MIDI to: ``send(message)`` takes one message as a list of ints
    (``[0x90, 60, 100]``) and must not block (the sender's real-time thread calls it);
    ``close()`` releases the port and is safe twice; ``with`` closes it on the way out::

        >>> class Printed(MidiOutput):             # another destination: one method
        ...     def send(self, message):
        ...         print(message)
        >>> with Printed() as out, Scheduler(clock, out) as sched:
        ...     sched.submit(note_events([(60, 0.0, 1.0, 100)], offset=0.0, channel=0))
    """

    closed = False

    def send(self, message: list[int]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class NoOutput(MidiOutput):
    """MIDI goes nowhere (the bridge without MIDI: devices play the ``/lb/bar`` notes)."""

    def send(self, message: list[int]) -> None:
        pass


class Recorder:
    """Notes played into the input, timed in song beats, kept for the last ``keep_beats``.

    When the playhead jumps (a start, a relocation, a loop going back), the notes recorded at or
    after its new position are forgotten: they were played in an earlier pass over those bars,
    and the bars about to be played again must not hold them twice."""

    def __init__(self, clock: Clock, keep_beats: float = 64 * 4.0):
        self.clock = clock
        self.keep_beats = keep_beats
        self._lock = threading.Lock()
        self._done: deque[Note] = deque()
        self._sounding: dict[int, tuple[float, int]] = {}
        self._epoch = clock.state.epoch
        clock.listeners.append(self._on_clock)

    def _on_clock(self, state) -> None:
        """Every new clock snapshot (called by the clock, under its lock): after a jump, forget
        what was recorded from the new position on."""
        if state.epoch == self._epoch:
            return
        self._epoch = state.epoch
        with self._lock:
            self._done = deque(n for n in self._done if n.start < state.anchor_beat)
            self._sounding = {p: (s, v) for p, (s, v) in self._sounding.items()
                              if s < state.anchor_beat}

    def note_on(self, pitch: int, velocity: int, now: float | None = None) -> None:
        if not (0 <= pitch <= 127 and 1 <= velocity <= 127):
            return                 # not MIDI: the input callback already refused it
        state = self.clock.state
        if not state.playing:
            return
        beat = state.beat_at(time.perf_counter() if now is None else now)
        with self._lock:
            if pitch in self._sounding:
                self._finish(pitch, beat)
            self._sounding[pitch] = (beat, velocity)

    def note_off(self, pitch: int, now: float | None = None) -> None:
        beat = self.clock.beat_at(time.perf_counter() if now is None else now)
        with self._lock:
            if pitch in self._sounding:
                self._finish(pitch, beat)

    def _finish(self, pitch: int, beat: float) -> None:
        start, velocity = self._sounding.pop(pitch)
        if beat > start:
            self._done.append(Note(pitch, start, beat, max(1, min(127, velocity))))
        while self._done and self._done[0].start < beat - self.keep_beats:
            self._done.popleft()

    def clip(self, bars: int, now: float | None = None) -> Clip:
        """The last ``bars`` complete bars before the playhead, starting at beat 0."""
        state = self.clock.state
        beat = state.beat_at(time.perf_counter() if now is None else now)
        per_bar = state.beats_per_bar
        end = int(beat // per_bar) * per_bar
        return self.between(end - bars * per_bar, end, now)

    def between(self, start: float, end: float, now: float | None = None) -> Clip:
        """The notes played from song beat ``start`` to ``end`` (those starting in it), moved to
        begin at 0; a note still held sounds until ``now`` (follow mode reads a call this way
        just before it ends)::

            >>> recorder.between(8.0, 16.0).notes     # what was played in bars 2 and 3 (4/4)
        """
        state = self.clock.state
        beat = state.beat_at(time.perf_counter() if now is None else now)
        with self._lock:
            notes = list(self._done) + [Note(p, s, max(s, beat), v)
                                        for p, (s, v) in self._sounding.items()]
        kept = [Note(n.pitch, n.start - start, min(n.end, end) - start, n.velocity)
                for n in notes if start <= n.start < end and n.end > n.start]
        return Clip(kept, length=end - start,
                    time_signature=(state.numerator, state.denominator), tempo=state.tempo)

    def clear(self) -> None:
        with self._lock:
            self._done.clear()
            self._sounding.clear()


@dataclass
class Ports(MidiOutput):
    """The opened output (and input, if any): a :class:`MidiOutput` whose ``close`` closes both."""

    out: rtmidi.MidiOut | None
    inp: rtmidi.MidiIn | None
    out_name: str | None
    in_name: str | None

    def send(self, message) -> None:
        self.out.send_message(message)

    def close(self) -> None:
        for port in (self.inp, self.out):
            if port is not None:
                try:
                    if port is self.inp:      # no callback into Python while the port closes
                        port.cancel_callback()  # (closing with one set can crash: mido #368)
                    port.close_port()
                    port.delete()
                except Exception:  # closing twice, or the server went away
                    pass
        self.closed = True


def open_ports(out_name: str | None = None, in_name: str | None = None, virtual: bool = True,
               api: str = "auto", clock: Clock | None = None,
               recorder: Recorder | None = None, use_input: bool = True,
               use_output: bool = True) -> Ports:
    """Open the output and input ports; raises :class:`MidiPortError` with one line.

    ``out_name`` / ``in_name`` pick existing ports by (part of) their name; otherwise virtual
    ports are created, unless ``virtual`` is false (then the first existing ports are used).
    """
    if api not in APIS:
        raise MidiPortError(f"unknown MIDI API {api!r} (one of {', '.join(APIS)})")
    try:
        out, out_label, inp, in_label = None, None, None, None
        if use_output:
            out = rtmidi.MidiOut(APIS[api], name=CLIENT_NAME)
            out_label = _open(out, out_name, virtual, OUT_NAME, "output")
        if use_input:
            inp = rtmidi.MidiIn(APIS[api], name=CLIENT_NAME, queue_size_limit=4096)
            in_label = _open(inp, in_name, virtual, IN_NAME, "input")
            inp.ignore_types(sysex=True, timing=False, active_sense=True)
            inp.set_callback(_input_callback(clock, recorder))
    except rtmidi.SystemError as exc:
        others = ", ".join(n for n in APIS if n not in ("auto", api))
        raise MidiPortError(f"MIDI system {api!r} unavailable ({' '.join(str(exc).split())}); "
                            f"try --midi-api ({others}) or --no-midi") from None
    except (rtmidi.InvalidPortError, rtmidi.NoDevicesError, rtmidi.InvalidUseError) as exc:
        raise MidiPortError(f"cannot open MIDI port ({exc})") from None
    return Ports(out, inp, out_label, in_label)


def _open(port, name: str | None, virtual: bool, virtual_name: str, what: str) -> str:
    names = port.get_ports()
    if name:
        matches = [i for i, n in enumerate(names) if name == n] or \
                  [i for i, n in enumerate(names) if name.lower() in n.lower()]
        if not matches:
            raise MidiPortError(f"no MIDI {what} port named {name!r} "
                                f"(available: {', '.join(names) or 'none'})")
        port.open_port(matches[0])
        return names[matches[0]]
    if virtual:
        try:
            port.open_virtual_port(virtual_name)
            return virtual_name
        except (NotImplementedError, rtmidi.InvalidUseError, rtmidi.SystemError):
            pass      # Windows (winmm) has no virtual ports: an existing one, as below
    index = existing_port(names, virtual_name)
    if index is None:
        flag = f"--midi-{'out' if what == 'output' else 'in'}"
        raise MidiPortError(f"{'this MIDI system has no virtual ports and ' if virtual else ''}"
                            f"no MIDI {what} port is available; create one (loopMIDI on Windows) "
                            f"or pick one with {flag} NAME") from None
    port.open_port(index)
    if virtual:
        log.warning("no virtual MIDI ports here: using the existing %s port %r", what, names[index])
    return names[index]


def existing_port(names: list[str], wanted: str) -> int | None:
    """The existing port to use when there are no virtual ports: one named like ours
    (``wanted``, then any 'latentbridge' port), then a loopMIDI port, then the first one::

        >>> existing_port(["Microsoft GS Wavetable Synth", "loopMIDI Port 1"], "latentbridge out")
        1
    """
    lowered = [n.lower() for n in names]
    for key in (wanted.lower(), "latentbridge", "loopmidi"):
        for i, name in enumerate(lowered):
            if key in name:
                return i
    return 0 if names else None


def _input_callback(clock: Clock | None, recorder: Recorder | None):
    def callback(event, _data=None):
        message, _delta = event
        now = time.perf_counter()
        try:
            status = message[0]
            if status in CLOCK_STATUSES:
                if clock is not None:
                    clock.midi_message(status, message[1:], now)
                return
            kind = status & 0xF0
            if recorder is None or len(message) < 3 or kind not in (0x80, 0x90):
                return
            if not 0 <= message[1] <= 127 or not 0 <= message[2] <= 127:
                # a data byte with its top bit set is not MIDI: recording it would poison
                # every later /lb/record ("pitch 201 is outside 0..127")
                _input_log("ignored MIDI input %s: data byte outside 0..127", list(message))
                return
            if kind == 0x90 and message[2] > 0:
                recorder.note_on(message[1], message[2], now)
            elif kind == 0x80 or kind == 0x90:
                recorder.note_off(message[1], now)
        except Exception as exc:  # never let a strange message kill the MIDI thread
            _input_log("ignored MIDI input %s: %s", list(message)[:8], exc)
    return callback
