"""The worker thread: all inference, kept ahead of the playhead, for every session.

Every :class:`~runtime.engine.Engine` is used on this thread only. Jobs from the OSC thread
(load a model, encode a slot, generate on request) and the streams of all sessions run here one
after another, so the sender thread never waits on them::

    >>> worker = Worker(sessions, clock, scheduler, emit=lambda session, address, args: ...)
    >>> with worker:                  # start() ... close()
    ...     worker.submit(lambda: print(sessions.default.engine.name))   # on the worker thread
    ...     worker.set_streaming(sessions.default, True)   # keep `ahead` bars generated

Streaming: a session's next clip is generated when the playhead comes within ``ahead`` bars of
its last generated bar. Each clip is cut into bars; only the first ``chunk`` bars of a clip are
used, so a parameter change is heard at most ``ahead + chunk`` bars later (``chunk=1, ahead=1``:
bar by bar). Each bar is handed to the scheduler as MIDI events owned by the session (its
channel) and sent to that session's device only as ``/lb/bar`` messages (see docs/osc.md).
The clock is shared: a start, stop or relocation re-plans every stream.

Groove and drumify play slot A in a loop; continue and follow play phrases (:mod:`bridge.tools`).
Follow mode answers what was played: the first bar of a phrase is generated only
``FOLLOW_LEAD_BEATS`` before it starts, when the call (the phrase before) is all but played.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from runtime.engine import Engine, EngineError
from runtime.music import Clip

from .clock import Clock
from .errors import BugLog, is_domain_error, one_line
from .scheduler import Scheduler, note_events
from .session import Params, Session, SessionError, answers_for, modes_for
from .tools import (MODEL_BEATS_PER_BAR, Phrase, answer_phrase, continued, replay, song_bars,
                    tool_clip, window)

log = logging.getLogger("bridge.worker")

NOTES_PER_MESSAGE = 100       # keeps one /lb/bar datagram near 2 KB
START_DELAY_S = 0.05          # the internal clock starts this far in the future: bar 0 on time
START_TOLERANCE_BEATS = 0.1   # this close after a bar line, the bar still counts as coming
MAX_PENDING_REQUESTS = 32     # client jobs waiting for the worker before new ones are refused
EXPIRE_EVERY_S = 0.5          # how often silent sessions are looked for
FOLLOW_LEAD_BEATS = 0.125     # follow: a call is read this long (a 32nd) before its phrase ends,
                              # so that the answer is ready for the phrase's first beat


class Worker(threading.Thread):
    """Runs jobs and keeps every streaming session ``ahead`` bars ahead of the playhead."""

    def __init__(self, sessions, clock: Clock, scheduler: Scheduler,
                 emit: Callable[[Session, str, list], None], ahead: int = 2, chunk: int = 2,
                 load: Callable[[str], Engine] | None = None, recorder=None,
                 midi_in: str | None = None):
        super().__init__(name="latentbridge-worker", daemon=True)
        self.sessions = sessions
        self.clock = clock
        self.scheduler = scheduler
        self.emit = emit                  # emit(session, address, args): to its device only
        self.ahead = max(1, int(ahead))
        self.chunk_pref = max(1, int(chunk))
        self._load = load or (lambda name: Engine.load(name, threads=1))
        self.recorder = recorder          # bridge.midi.Recorder: what follow mode listens to
        self.midi_in = midi_in            # the input port's name (None: no MIDI input)
        self._jobs: queue.Queue = queue.Queue()
        self._running = True
        self._next_expiry = 0.0
        self.bugs = BugLog(log)
        self.generated_bars = 0               # all sessions together
        self.missed_bars = 0                  # bars handed over after their start had passed
        self.gen_seconds: list[float] = []    # inference time per clip

    def chunk(self, session: Session) -> int:
        return max(1, min(self.chunk_pref, session.engine.bars))

    @property
    def streaming(self) -> bool:
        """Some session streams."""
        return any(s.streaming for s in self.sessions.all())

    # -- other threads -----------------------------------------------------------------------
    def submit(self, job: Callable[[], None], request: bool = False, address: str = "",
               reply: Callable[[str, list], None] | None = None,
               session: Session | None = None) -> None:
        """Queue ``job`` for this thread. A client's ``request`` (a generation, an encode, a
        model load) is refused with :class:`SessionError` while ``MAX_PENDING_REQUESTS`` wait:
        a flood of valid requests cannot grow memory or starve the streams. If the job raises,
        ``/lb/error address line`` goes to ``reply`` (the requester), else to ``session``'s
        device (default: the session of unregistered clients)."""
        if request and self._jobs.qsize() >= MAX_PENDING_REQUESTS:
            raise SessionError(f"busy: {self._jobs.qsize()} requests are waiting; try again")
        if reply is None:
            target = session or self.sessions.default
            reply = lambda address, args: self.emit(target, address, args)   # noqa: E731
        self._jobs.put((job, address, reply))

    def set_streaming(self, session: Session, on: bool, reply=None) -> None:
        self.submit(lambda: self._set_streaming(session, on), address="/lb/stream", reply=reply,
                    session=session)

    def close(self, timeout: float = 5.0) -> None:
        self._running = False
        self._jobs.put(None)
        if self.is_alive():
            self.join(timeout)

    def __enter__(self) -> "Worker":
        """The thread runs for the ``with`` block (started here unless it was) and is closed
        after it."""
        if self.ident is None:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

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
                self._expire_sessions()
            except Exception as exc:  # the worker must survive any one failure
                self.bugs.report(exc, "the worker's housekeeping")
            for session in self.sessions.all():
                if not session.streaming:
                    continue
                try:
                    self._keep_ahead(session)
                except Exception as exc:  # one session's failure stops no other
                    self._stream_error(session, exc)

    def _run_job(self, job, address: str, reply) -> None:
        """Run one job; a failure is one ``/lb/error`` at the requester's address."""
        try:
            job()
        except Exception as exc:
            line = str(exc) if is_domain_error(exc) else self.bugs.report(exc, address or "a job")
            try:
                reply("/lb/error", [address or "/lb/stream", one_line(line)])
            except Exception:        # the reply path itself: log, never die
                log.exception("cannot report a failed job")

    def _stream_error(self, session: Session, exc: Exception) -> None:
        """A failure while streaming: the traceback once (a bug) and one /lb/error to the
        session's device per new message, never one per bar."""
        line = str(exc) if is_domain_error(exc) else self.bugs.report(exc, "the stream")
        if line != session.last_error:
            session.last_error = line
            if is_domain_error(exc):
                log.warning("stream of %s: %s", session.name, line)
            self.emit(session, "/lb/error", ["/lb/stream", one_line(line)])

    def _watch_sender(self) -> None:
        """The sender may die (killed, crashed): say so once, to every session; the process
        sender restarts."""
        check = getattr(self.scheduler, "check", None)
        problem = check() if check is not None else None
        if problem:
            for session in self.sessions.all():
                self.emit(session, "/lb/error", ["/lb/stream", problem])
                session.next_bar = None
                session.epoch = -1   # what the dead sender held is lost: plan again

    def _expire_sessions(self) -> None:
        now = time.monotonic()
        if now < self._next_expiry:
            return
        self._next_expiry = now + EXPIRE_EVERY_S
        for session in self.sessions.expire():
            self.end_session(session, f"silent for {self.sessions.timeout_s:g} s")

    def end_session(self, session: Session, why: str) -> None:
        """A session that is gone (bye, silence, too many): its stream stops, its notes end."""
        log.info("session %s dropped (%s)", session.name, why)
        self._stop_stream(session, forget=True)

    def _stop_stream(self, session: Session, forget: bool = False) -> None:
        was = session.streaming
        session.streaming = False
        session.next_bar = None
        self.scheduler.flush(session.id, forget=forget)
        if was and not self.streaming:
            self.clock.stop()          # only stops the internal clock, when nobody streams

    def _set_streaming(self, session: Session, on: bool) -> None:
        state = self.clock.state
        # internal clock, stopped: also after a lost master while streaming, so that the next
        # /lb/stream 1 starts the music again (docs/bridge.md, Time)
        restart = on and state.source == "internal" and not state.playing
        if on == session.streaming and not restart:
            return
        if not on:
            self._stop_stream(session)
            return
        session.streaming = True
        session.next_bar = None
        session.phrase, session.last_answer, session.quiet = None, [], False
        if restart:
            # bar 0 is generated before the internal clock starts, so it is never late
            self.scheduler.flush(session.id)
            session.epoch = state.epoch
            session.next_bar = session.first_bar = 0
            self._generate_bars(session, 0, state)
            self.clock.start(0.0, now=time.perf_counter() + START_DELAY_S)

    def _bar_to_come(self, state, beat: float) -> int:
        per_bar = state.beats_per_bar
        bar = math.floor(beat / per_bar + 1e-9)
        if beat - bar * per_bar <= (START_TOLERANCE_BEATS if state.playing else 1e-9):
            return bar
        return bar + 1

    def _keep_ahead(self, session: Session) -> None:
        state = self.clock.state
        beat = state.beat_at(time.perf_counter())
        coming = self._bar_to_come(state, beat)
        if state.epoch != session.epoch:
            session.epoch = state.epoch
            if session.next_bar is None or not session.first_bar <= coming <= session.next_bar:
                # a relocation (or a restart from the top): what was planned is wrong now
                self.scheduler.flush(session.id)
                session.next_bar = None
        if session.next_bar is None:
            session.next_bar = session.first_bar = coming
        current = math.floor(beat / state.beats_per_bar) if state.playing else coming - 1
        horizon = current + self.ahead
        # jobs (/lb/generate, encodes) go first, unless the next bar is due soon
        while session.streaming and session.next_bar <= horizon and \
                (self._jobs.empty() or session.next_bar <= current + 1) and \
                self._call_played(session, session.next_bar, beat, state):
            self._generate_bars(session, session.next_bar, state)
            if self.clock.state.epoch != session.epoch:
                return

    @staticmethod
    def _call_played(session: Session, bar: int, beat: float, state) -> bool:
        """Follow mode answers a call once it is played: the first bar of a phrase is generated
        only ``FOLLOW_LEAD_BEATS`` before it starts (the other modes: any time)."""
        params = session.params()
        if params.mode != "follow" or bar % params.follow_bars:
            return True
        return beat >= bar * state.beats_per_bar - FOLLOW_LEAD_BEATS

    # -- generation --------------------------------------------------------------------------
    def generate(self, session: Session, params: Params, seed: int | None) -> Clip:
        """One clip of the session model's bars in its mode (raises SessionError)."""
        engine = session.engine
        temperature = params.temperature
        if params.mode == "sample":
            return engine.sample(1, temperature=temperature, seed=seed)[0]
        slot_a = session.slot("A")
        if slot_a.z is None:
            raise SessionError(f"{params.mode} mode needs a clip in slot A")
        if params.mode == "interpolate":
            slot_b = session.slot("B")
            if slot_b.z is None:
                raise SessionError("interpolate mode needs a clip in slot B")
            z = engine.slerp(slot_a.z[None], slot_b.z[None], params.position)
            return engine.decode(np.asarray(z, np.float32), temperature=temperature, seed=seed)[0]
        return engine.vary_code(slot_a.z, 1, params.amount, temperature, seed)[0]

    def _generate_bars(self, session: Session, first: int, state) -> None:
        params = session.params()
        seed = None if params.seed < 0 else params.seed + first
        engine = session.engine
        per_bar = state.beats_per_bar
        chunk = self.chunk(session)
        if params.mode in ("continue", "follow"):   # a chunk never crosses a phrase's end
            length = params.continue_bars if params.mode == "continue" else params.follow_bars
            chunk = min(chunk, length - first % length)
        started = time.perf_counter()
        try:
            clip = self.stream_clip(session, params, first, chunk, per_bar, seed)
            session.last_error = ""
        except Exception as exc:    # domain errors and bugs alike: silence keeps time
            clip = Clip([], length=chunk * MODEL_BEATS_PER_BAR)
            self._stream_error(session, exc)
        self.gen_seconds.append(time.perf_counter() - started)
        # advanced first: a bar that fails to go out is not generated again and again
        session.next_bar = first + chunk
        now_beat = self.clock.beat_at()
        for i in range(chunk):
            bar = first + i
            notes = bar_notes(clip, i, per_bar)
            start_beat = bar * per_bar
            if self.clock.state.playing and now_beat > start_beat + START_TOLERANCE_BEATS:
                session.missed_bars += 1
                self.missed_bars += 1
            if params.midi_out:
                events = []
                for part_channel, part in split_channels(notes, params.channel, engine.codec):
                    events += note_events(part, start_beat, part_channel, bar)
                self.scheduler.submit(events, session.id)
            if params.osc_out:
                self.emit_bar(session, bar, start_beat,
                              [(n[0], n[1], n[2], n[3]) for n in notes])
            self.generated_bars += 1

    def stream_clip(self, session: Session, params: Params, first: int, count: int,
                    per_bar: float, seed: int | None) -> Clip:
        """The clip whose model bars ``0 .. count - 1`` play in song bars ``first ..`` (raises
        SessionError / EngineError). sample, interpolate, vary: a clip of the model's bars;
        groove, drumify: slot A's bars there (it loops) with a groove / drums; continue and
        follow: the next bars of the phrase's answer (docs/osc.md, Tools)."""
        mode = params.mode
        if mode in ("sample", "interpolate", "vary"):
            return self.generate(session, params, seed)
        engine = session.engine
        if mode in ("groove", "drumify"):
            slot = self._slot_clip(session, mode)
            return tool_clip(engine, mode, window(slot, first, count, per_bar), params, seed)
        phrase = self._phrase(session, params, first, per_bar)
        bar = first - phrase.start
        if phrase.source is None:         # follow, nothing played: the last answer, or silence
            return replay(session.last_answer, bar, count)
        tool = "continue" if mode == "continue" else params.answer
        if tool == "continue":
            if phrase.next != bar:        # a phrase entered in its middle starts from the source
                phrase.context = phrase.source
            clip, phrase.context = continued(engine, phrase.context, count, params, seed)
        else:
            clip = tool_clip(engine, tool, window(phrase.source, bar, count, MODEL_BEATS_PER_BAR),
                             params, seed)
        phrase.next = bar + count
        if mode == "follow":
            phrase.keep(bar, clip.slice(0.0, count * MODEL_BEATS_PER_BAR))
        return clip

    def _slot_clip(self, session: Session, mode: str) -> Clip:
        clip = session.slot("A").clip
        if clip is None:
            raise SessionError(f"{mode} mode needs a clip in slot A")
        return clip

    def _phrase(self, session: Session, params: Params, first: int, per_bar: float) -> Phrase:
        """The phrase song bar ``first`` belongs to; a new one reads its source (continue: slot
        A; follow: the bars played just before it, the call)."""
        mode = params.mode
        length = params.continue_bars if mode == "continue" else params.follow_bars
        start = first - first % length
        key = (mode, params.answer if mode == "follow" else "", start, length)
        old = session.phrase
        if old is not None and old.key == key:
            return old
        if old is not None and old.key[0] == "follow" and old.source is not None and old.bars:
            session.last_answer = old.answer()
        if mode == "continue":
            slot = self._slot_clip(session, mode)
            source = window(slot, 0, song_bars(slot, per_bar), per_bar)
        else:
            call = self.played(start - length, length, per_bar)
            source = call if call.notes else None
            self._say_quiet(session, source is None, start, length)
        session.phrase = Phrase(key, source, context=source)
        return session.phrase

    def played(self, first: int, bars: int, per_bar: float) -> Clip:
        """Song bars ``first ..`` as played into the MIDI input, in model bars (a call)."""
        if self.recorder is None:
            return Clip([], length=bars * MODEL_BEATS_PER_BAR)
        call = self.recorder.between(first * per_bar, (first + bars) * per_bar)
        return window(call, 0, bars, per_bar)

    def _say_quiet(self, session: Session, quiet: bool, start: int, length: int) -> None:
        """A call with no notes is said once (until the player plays again): the stream then
        plays its last answer again, or stays silent."""
        if not quiet or session.quiet:
            session.quiet = quiet
            return
        session.quiet = True
        then = "plays its last answer again" if session.last_answer else "stays silent"
        self.emit(session, "/lb/error", ["/lb/stream", f"follow: heard nothing {self._ear()} in "
                  f"the {length} bar(s) before bar {start}; the stream {then} until you play"])

    def _ear(self) -> str:
        return f'on "{self.midi_in}"' if self.midi_in else "(the bridge has no MIDI input)"

    def result(self, session: Session, params: Params, seed: int | None, bars: int) -> Clip:
        """The clip ``/lb/generate`` answers (raises SessionError / EngineError): sample,
        interpolate, vary: ``bars`` bars of the model; groove, drumify: slot A, its length in
        whole bars; continue: slot A followed by ``continue_bars`` new bars; follow: the answer
        to the last ``follow_bars`` complete bars played."""
        engine, mode = session.engine, params.mode
        if mode in ("sample", "interpolate", "vary"):
            clip = self.generate(session, params, seed)
            return clip.copy(notes=[n for n in clip.notes if n.start < bars * MODEL_BEATS_PER_BAR],
                             length=bars * MODEL_BEATS_PER_BAR)
        if mode == "groove":
            return engine.groove(self._slot_clip(session, mode), params.temperature, seed)
        if mode == "drumify":
            return engine.drumify(self._slot_clip(session, mode), params.temperature, seed)
        if mode == "continue":
            return engine.continue_(self._slot_clip(session, mode), params.continue_bars,
                                    params.temperature, seed)
        state = self.clock.state
        per_bar, count = state.beats_per_bar, params.follow_bars
        last = math.floor(state.beat_at(time.perf_counter()) / per_bar + 1e-9)
        call = self.played(last - count, count, per_bar)
        if not call.notes:
            raise SessionError(f"follow: heard nothing {self._ear()} in the last {count} "
                               f"complete bar(s)")
        return answer_phrase(engine, params.answer, call, count, params, seed)

    def emit_bar(self, session: Session, bar: int, start_beat: float, notes: list[tuple]) -> None:
        for i in range(0, max(1, len(notes)), NOTES_PER_MESSAGE):
            args: list = [bar, float(start_beat)]
            for pitch, start, duration, velocity in notes[i:i + NOTES_PER_MESSAGE]:
                args += [int(pitch), float(start), float(duration), int(velocity)]
            self.emit(session, "/lb/bar", args)
        self.emit(session, "/lb/bar/end", [bar, len(notes)])

    # -- jobs --------------------------------------------------------------------------------
    def load_engine(self, name: str) -> Engine:
        """A shipped model another session already plays is shared (engines are used on this
        thread only); anything else is loaded."""
        from runtime.bundle import available_models, resolve

        if name in available_models():   # shipped or imported: a name, not a client's folder
            folder = resolve(name).resolve()
            for other in self.sessions.all():
                if Path(other.engine.bundle.path).resolve() == folder:
                    return other.engine
        return self._load(name)

    def load_model(self, session: Session, name: str, reply: Callable[[str, list], None]) -> None:
        """Load a model for ``session`` (on this thread); its slots are re-encoded, its stream
        restarts. Raises (EngineError, or a bug) before anything changed: the old model stays."""
        engine = self.load_engine(name)
        codes, problems = {}, []
        for slot_name, slot in list(session.slots.items()):
            codes[slot_name] = None
            if slot.clip is not None:
                try:
                    codes[slot_name] = engine.encode([slot.clip])[0]
                except EngineError as exc:
                    problems.append(f"slot {slot_name}: {exc}")
        # everything is ready: swap in one go
        self.scheduler.flush(session.id)      # this session's notes off on model change
        session.engine = engine
        for slot_name, z in codes.items():
            session.set_slot(slot_name, session.slot(slot_name).clip, z)
        session.next_bar = None
        session.epoch = -1           # forces the stream to re-plan from the playhead
        session.phrase = None
        mode = session.params().mode
        if mode not in modes_for(engine):
            session.set("mode", "sample")
            problems.append(f"{engine.name} does not offer mode {mode!r}: mode is sample now")
        answer, answers = session.params().answer, answers_for(engine)
        if answer not in answers and answers:
            session.set("answer", answers[0])
            if mode == "follow":
                problems.append(f"{engine.name} cannot answer with {answer!r}: follow answers "
                                f"with {answers[0]} now")
        reply("/lb/model/loaded", [engine.name, engine.kind, int(engine.bars)])
        for problem in problems:
            reply("/lb/error", ["/lb/model", problem])

    def encode_slot(self, session: Session, name: str, clip: Clip | None) -> np.ndarray | None:
        """Store ``clip`` in the session's slot ``name`` with its code (raises EngineError)."""
        z = None if clip is None else session.engine.encode([clip])[0]
        session.set_slot(name, clip, z)
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


def split_channels(notes: list[tuple], channel: int, codec):
    """Group notes by the MIDI channel their codec routes them to (``Codec.channel_of``: drums
    on channel 10, a trio's bass one above the melody, the rest on ``channel``)."""
    groups: dict[int, list] = {}
    for pitch, start, duration, velocity, note in notes:
        groups.setdefault(codec.channel_of(note, channel), []).append(
            (pitch, start, duration, velocity))
    return groups.items()
