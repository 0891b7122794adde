"""The worker thread: all inference, kept ahead of the playhead.

It owns the :class:`~runtime.engine.Engine`. Jobs from the OSC thread (load a model, encode a
slot, generate on request) and the streaming loop run here one after another, so the sender
thread never waits on them::

    >>> worker = Worker(engine, session, clock, scheduler, emit=print)
    >>> worker.start()
    >>> worker.submit(lambda: print(worker.engine.name))   # runs on the worker thread
    >>> worker.set_streaming(True)     # keep `ahead` bars generated beyond the playhead
    >>> worker.close()

Streaming: the next clip is generated when the playhead comes within ``ahead`` bars of the last
generated bar. Each clip is cut into bars; only the first ``chunk`` bars of a clip are used, so a
parameter change is heard at most ``ahead + chunk`` bars later (``chunk=1, ahead=1``: bar by
bar). Each bar is handed to the scheduler as MIDI events and sent to the device as ``/lb/bar``
messages (see docs/osc.md).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from typing import Callable

import numpy as np

from runtime.engine import Engine, EngineError
from runtime.music import DRUM_CHANNEL, Clip

from .clock import Clock
from .errors import BugLog, is_domain_error, one_line
from .scheduler import Scheduler, note_events
from .session import Params, Session, SessionError

log = logging.getLogger("bridge.worker")

MODEL_BEATS_PER_BAR = 4.0     # engine clips are 4/4
NOTES_PER_MESSAGE = 100       # keeps one /lb/bar datagram near 2 KB
START_DELAY_S = 0.05          # the internal clock starts this far in the future: bar 0 on time
START_TOLERANCE_BEATS = 0.1   # this close after a bar line, the bar still counts as coming
MAX_PENDING_REQUESTS = 32     # client jobs waiting for the worker before new ones are refused


class Worker(threading.Thread):
    """Runs jobs and keeps the stream ``ahead`` bars ahead of the playhead."""

    def __init__(self, engine: Engine, session: Session, clock: Clock, scheduler: Scheduler,
                 emit: Callable[[str, list], None], ahead: int = 2, chunk: int = 2,
                 load: Callable[[str], Engine] | None = None):
        super().__init__(name="latentbridge-worker", daemon=True)
        self.engine = engine
        self.session = session
        self.clock = clock
        self.scheduler = scheduler
        self.emit = emit                  # broadcast an OSC message to the device(s)
        self.ahead = max(1, int(ahead))
        self.chunk_pref = max(1, int(chunk))
        self._load = load or (lambda name: Engine.load(name, threads=1))
        self._jobs: queue.Queue = queue.Queue()
        self._running = True
        self.streaming = False
        self._epoch = clock.state.epoch
        self._next_bar: int | None = None     # first bar not generated yet
        self._first_bar = 0                   # first bar of the current run of generated bars
        self._last_error = ""
        self.bugs = BugLog(log)
        self.generated_bars = 0
        self.missed_bars = 0                  # bars handed over after their start had passed
        self.gen_seconds: list[float] = []    # inference time per clip

    @property
    def chunk(self) -> int:
        return max(1, min(self.chunk_pref, self.engine.bars))

    # -- other threads -----------------------------------------------------------------------
    def submit(self, job: Callable[[], None], request: bool = False, address: str = "",
               reply: Callable[[str, list], None] | None = None) -> None:
        """Queue ``job`` for this thread. A client's ``request`` (a generation, an encode, a
        model load) is refused with :class:`SessionError` while ``MAX_PENDING_REQUESTS`` wait:
        a flood of valid requests cannot grow memory or starve the stream. If the job raises,
        ``/lb/error address line`` goes to ``reply`` (the requester; default: broadcast)."""
        if request and self._jobs.qsize() >= MAX_PENDING_REQUESTS:
            raise SessionError(f"busy: {self._jobs.qsize()} requests are waiting; try again")
        self._jobs.put((job, address, reply))

    def set_streaming(self, on: bool, reply=None) -> None:
        self.submit(lambda: self._set_streaming(on), address="/lb/stream", reply=reply)

    def close(self, timeout: float = 5.0) -> None:
        self._running = False
        self._jobs.put(None)
        if self.is_alive():
            self.join(timeout)

    # -- the thread --------------------------------------------------------------------------
    def run(self) -> None:
        while self._running:
            try:
                item = self._jobs.get(timeout=0.005)
            except queue.Empty:
                item = None
            if item is not None:
                self._run_job(*item)
            try:
                self._watch_sender()
                self.clock.check_masters()
                if self.streaming:
                    self._keep_ahead()
            except Exception as exc:  # the worker must survive any one failure
                self._stream_error(exc)

    def _run_job(self, job, address: str, reply) -> None:
        """Run one job; a failure is one ``/lb/error`` at the requester's address."""
        try:
            job()
        except Exception as exc:
            line = str(exc) if is_domain_error(exc) else self.bugs.report(exc, address or "a job")
            try:
                (reply or self.emit)("/lb/error", [address or "/lb/stream", one_line(line)])
            except Exception:        # the reply path itself: log, never die
                log.exception("cannot report a failed job")

    def _stream_error(self, exc: Exception) -> None:
        """A failure while streaming: the traceback once (a bug) and one /lb/error per new
        message, never one per loop."""
        line = str(exc) if is_domain_error(exc) else self.bugs.report(exc, "the stream")
        if line != self._last_error:
            self._last_error = line
            if is_domain_error(exc):
                log.warning("stream: %s", line)
            self.emit("/lb/error", ["/lb/stream", one_line(line)])

    def _watch_sender(self) -> None:
        """The sender may die (killed, crashed): say so once; the process sender restarts."""
        check = getattr(self.scheduler, "check", None)
        problem = check() if check is not None else None
        if problem:
            self.emit("/lb/error", ["/lb/stream", problem])
            self._next_bar = None
            self._epoch = -1         # what the dead sender held is lost: plan again

    def _set_streaming(self, on: bool) -> None:
        state = self.clock.state
        # internal clock, stopped: also after a lost master while streaming, so that the next
        # /lb/stream 1 starts the music again (docs/bridge.md, Time)
        restart = on and state.source == "internal" and not state.playing
        if on == self.streaming and not restart:
            return
        self.streaming = on
        self._next_bar = None
        if not on:
            self.clock.stop()          # only stops the internal clock
            self.scheduler.flush()
            return
        if restart:
            # bar 0 is generated before the internal clock starts, so it is never late
            self.scheduler.flush()
            self._epoch = state.epoch
            self._next_bar = self._first_bar = 0
            self._generate_bars(0, state)
            self.clock.start(0.0, now=time.perf_counter() + START_DELAY_S)

    def _bar_to_come(self, state, beat: float) -> int:
        per_bar = state.beats_per_bar
        bar = math.floor(beat / per_bar + 1e-9)
        if beat - bar * per_bar <= (START_TOLERANCE_BEATS if state.playing else 1e-9):
            return bar
        return bar + 1

    def _keep_ahead(self) -> None:
        state = self.clock.state
        beat = state.beat_at(time.perf_counter())
        coming = self._bar_to_come(state, beat)
        if state.epoch != self._epoch:
            self._epoch = state.epoch
            if self._next_bar is None or not self._first_bar <= coming <= self._next_bar:
                # a relocation (or a restart from the top): what was planned is wrong now
                self.scheduler.flush()
                self._next_bar = None
        if self._next_bar is None:
            self._next_bar = self._first_bar = coming
        current = math.floor(beat / state.beats_per_bar) if state.playing else coming - 1
        horizon = current + self.ahead
        # jobs (/lb/generate, encodes) go first, unless the next bar is due soon
        while self.streaming and self._next_bar <= horizon and \
                (self._jobs.empty() or self._next_bar <= current + 1):
            self._generate_bars(self._next_bar, state)
            if self.clock.state.epoch != self._epoch:
                return

    # -- generation --------------------------------------------------------------------------
    def generate(self, params: Params, seed: int | None) -> Clip:
        """One clip of ``engine.bars`` bars in the session's mode (raises SessionError)."""
        engine = self.engine
        temperature = params.temperature
        if params.mode == "sample":
            return engine.sample(1, temperature=temperature, seed=seed)[0]
        slot_a = self.session.slot("A")
        if slot_a.z is None:
            raise SessionError(f"{params.mode} mode needs a clip in slot A")
        if params.mode == "interpolate":
            slot_b = self.session.slot("B")
            if slot_b.z is None:
                raise SessionError("interpolate mode needs a clip in slot B")
            z = engine.slerp(slot_a.z[None], slot_b.z[None], params.position)
        else:  # vary: the slot's code slerped towards a random prior code, as Engine.vary does
            rng = np.random.default_rng(seed)
            noise = rng.standard_normal((1, engine.z_size)).astype(np.float32)
            z = engine.slerp(slot_a.z[None], noise, params.amount)
            seed = int(rng.integers(2**31))
        return engine.decode(np.asarray(z, np.float32), temperature=temperature, seed=seed)[0]

    def _generate_bars(self, first: int, state) -> None:
        params = self.session.params()
        seed = None if params.seed < 0 else params.seed + first
        started = time.perf_counter()
        try:
            clip = self.generate(params, seed)
            self._last_error = ""
        except Exception as exc:    # domain errors and bugs alike: silence keeps time
            clip = Clip([], length=self.engine.bars * MODEL_BEATS_PER_BAR)
            self._stream_error(exc)
        self.gen_seconds.append(time.perf_counter() - started)
        # advanced first: a bar that fails to go out is not generated again and again
        self._next_bar = first + self.chunk
        per_bar = state.beats_per_bar
        now_beat = self.clock.beat_at()
        for i in range(self.chunk):
            bar = first + i
            notes = bar_notes(clip, i, per_bar)
            channel = self._channel(params)
            start_beat = bar * per_bar
            if self.clock.state.playing and now_beat > start_beat + START_TOLERANCE_BEATS:
                self.missed_bars += 1
            if params.midi_out:
                events = []
                for part_channel, part in split_channels(notes, channel, self.engine):
                    events += note_events(part, start_beat, part_channel, bar)
                self.scheduler.submit(events)
            if params.osc_out:
                self.emit_bar(bar, start_beat, [(n[0], n[1], n[2], n[3]) for n in notes])
            self.generated_bars += 1

    def _channel(self, params: Params) -> int:
        return DRUM_CHANNEL if self.engine.codec.name == "drums" else params.channel

    def emit_bar(self, bar: int, start_beat: float, notes: list[tuple]) -> None:
        for i in range(0, max(1, len(notes)), NOTES_PER_MESSAGE):
            args: list = [bar, float(start_beat)]
            for pitch, start, duration, velocity in notes[i:i + NOTES_PER_MESSAGE]:
                args += [int(pitch), float(start), float(duration), int(velocity)]
            self.emit("/lb/bar", args)
        self.emit("/lb/bar/end", [bar, len(notes)])

    # -- jobs --------------------------------------------------------------------------------
    def load_model(self, name: str, reply: Callable[[str, list], None]) -> None:
        """Load a model (on this thread); slots are re-encoded, the stream restarts. Raises
        (EngineError, or a bug) before anything changed: the old model stays."""
        engine = self._load(name)
        codes, problems = {}, []
        for slot_name, slot in list(self.session.slots.items()):
            codes[slot_name] = None
            if slot.clip is not None:
                try:
                    codes[slot_name] = engine.encode([slot.clip])[0]
                except EngineError as exc:
                    problems.append(f"slot {slot_name}: {exc}")
        # everything is ready: swap in one go
        self.scheduler.flush()      # all notes off on model change
        self.engine = engine
        for slot_name, z in codes.items():
            self.session.set_slot(slot_name, self.session.slot(slot_name).clip, z)
        self._next_bar = None
        self._epoch = -1            # forces the stream to re-plan from the playhead
        reply("/lb/model/loaded", [engine.name, engine.kind, int(engine.bars)])
        for problem in problems:
            reply("/lb/error", ["/lb/model", problem])

    def encode_slot(self, name: str, clip: Clip | None) -> np.ndarray | None:
        """Store ``clip`` in slot ``name`` with its code (raises EngineError)."""
        z = None if clip is None else self.engine.encode([clip])[0]
        self.session.set_slot(name, clip, z)
        return z


def bar_notes(clip: Clip, index: int, song_bar_beats: float = MODEL_BEATS_PER_BAR
              ) -> list[tuple[int, float, float, int, object]]:
    """``(pitch, start in bar, duration, velocity, note)`` of the notes starting in bar ``index``
    of a model clip; durations are kept whole (a note may ring into the next bar). Model bars
    are 4/4: in a shorter song bar (``song_bar_beats``), notes starting beyond it are dropped."""
    start = index * MODEL_BEATS_PER_BAR
    end = start + min(MODEL_BEATS_PER_BAR, song_bar_beats)
    return [(n.pitch, n.start - start, max(n.end - n.start, 1e-3), n.velocity, n)
            for n in clip.notes if start <= n.start < end]


def split_channels(notes: list[tuple], channel: int, engine: Engine):
    """Group notes by MIDI channel: drums on channel 10, a trio's bass one above the melody."""
    groups: dict[int, list] = {}
    for pitch, start, duration, velocity, note in notes:
        if note.is_drum:
            ch = DRUM_CHANNEL
        elif engine.codec.name == "trio" and 32 <= note.program <= 39:
            ch = (channel + 1) % 16
        else:
            ch = channel
        groups.setdefault(ch, []).append((pitch, start, duration, velocity))
    return groups.items()
