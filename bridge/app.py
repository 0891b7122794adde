"""The bridge assembled: clock, sessions, MIDI ports, sender, worker and the OSC protocol.

    >>> from runtime.engine import Engine
    >>> from bridge.app import Bridge
    >>> bridge = Bridge(Engine.load(None), port=9000, midi_api="jack")
    >>> bridge.start()          # OSC on 127.0.0.1:9000, virtual MIDI ports, threads running
    >>> bridge.close()          # all notes off, ports closed, threads joined
    >>> with Bridge(Engine.load(None), port=9000) as bridge:   # start() ... close()
    ...     serve_until_stopped()

``Bridge.handle(address, args, client)`` is the protocol of docs/osc.md: one method per
address, arguments checked against the documented types before anything happens, each request
served in the session of its client (``bridge.sessions``: one per device registered with
``/lb/hello``, plus one for the clients that never registered).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from runtime.bundle import available_models
from runtime.engine import EngineError
from runtime.music import Clip, Note

from .clock import MAX_TEMPO, MIN_TEMPO, Clock
from .errors import BridgeError
from .midi import NoOutput, Ports, Recorder, open_ports
from .osc import OscServer, is_loopback, parse_args
from .scheduler import Scheduler
from .sender import SenderProcess
from .session import Session, SessionError, modes_for
from .sessions import SESSION_TIMEOUT_S, Sessions
from .worker import NOTES_PER_MESSAGE, Worker

log = logging.getLogger("bridge")

try:
    from importlib.metadata import version as _version
    VERSION = _version("latentbridge")
except Exception:  # running from a source tree that is not installed
    VERSION = "0.1.0"

MAX_CLIP_NOTES = 10000
MAX_BEAT = 1e6                # song positions beyond ~250,000 bars are refused
SENDERS = ("process", "thread")
UPLOAD_TIMEOUT_S = 30.0       # an upload with no chunk for this long is dropped
MAX_MODEL_NAME = 255


class UnknownAddress(BridgeError, LookupError):
    pass


@dataclass
class _Upload:
    length: float
    count: int
    notes: list = field(default_factory=list)
    touched: float = field(default_factory=time.monotonic)


class Bridge:
    """Everything the ``python -m bridge`` process runs; see the module docstring."""

    def __init__(self, engine, host: str = "127.0.0.1", port: int = 9000, tempo: float = 120.0,
                 midi: bool = True, midi_out: str | None = None, midi_in: str | None = None,
                 virtual: bool = True, midi_api: str = "auto", ahead: int = 2, chunk: int = 2,
                 sender: str = "process", realtime: bool = True, reply_port: int | None = None,
                 session_timeout_s: float = SESSION_TIMEOUT_S):
        if sender not in SENDERS:
            raise ValueError(f"unknown sender {sender!r} (one of {', '.join(SENDERS)})")
        self.clock = Clock(tempo=tempo)
        self.recorder = Recorder(self.clock)
        self.ports: Ports | None = None
        if sender == "process":   # the child opens the output port, we keep the input
            self.scheduler = SenderProcess(self.clock, midi_out, virtual=virtual,
                                           midi_api=midi_api, realtime=realtime, midi=midi)
        try:
            if midi:
                self.ports = open_ports(midi_out, midi_in, virtual=virtual, api=midi_api,
                                        clock=self.clock, recorder=self.recorder,
                                        use_output=sender == "thread")
            if sender == "thread":
                self.scheduler = Scheduler(self.clock, self.ports or NoOutput(), realtime=realtime)
            self.server = OscServer(self, host=host, port=port)
        except BaseException:
            if sender == "process":
                self.scheduler.close()
            if self.ports is not None:
                self.ports.close()
            raise
        fixed = [(self.server.local_host(), reply_port)] if reply_port else []
        self.sessions = Sessions(engine, fixed_targets=fixed, timeout_s=session_timeout_s)
        midi_in = self.ports.in_name if self.ports is not None else None
        self.worker = Worker(self.sessions, self.clock, self.scheduler, emit=self._emit,
                             ahead=ahead, chunk=chunk, recorder=self.recorder, midi_in=midi_in)
        self.upload_timeout_s = UPLOAD_TIMEOUT_S
        self._result_id = 0
        self._started = False
        self._handlers = {
            "/lb/hello": ("i", None),                   # served before any session exists
            "/lb/bye": ("", self.on_bye),
            "/lb/ping": ("", lambda s, c: self.server.reply(c, "/lb/pong", [])),
            "/lb/status": ("", self.on_status),
            "/lb/models": ("", self.on_models),
            "/lb/modes": ("", lambda s, c: self.server.reply(c, "/lb/modes",
                                                              modes_for(s.engine))),
            "/lb/model": ("s", self.on_model),
            "/lb/clip/begin": ("sfi", self.on_clip_begin),
            "/lb/clip/notes": ("s(iffi)*", self.on_clip_notes),
            "/lb/clip/end": ("s", self.on_clip_end),
            "/lb/clip/clear": ("s", self.on_clip_clear),
            "/lb/clip/get": ("s", self.on_clip_get),
            "/lb/record": ("si", self.on_record),
            "/lb/mode": ("s", lambda s, c, v: s.set("mode", v)),
            "/lb/position": ("f", lambda s, c, v: s.set("position", v)),
            "/lb/temperature": ("f", lambda s, c, v: s.set("temperature", v)),
            "/lb/bars": ("i", self.on_bars),
            "/lb/seed": ("i", lambda s, c, v: s.set("seed", v)),
            "/lb/amount": ("f", lambda s, c, v: s.set("amount", v)),
            "/lb/continue/bars": ("i", lambda s, c, v: s.set("continue_bars", v)),
            "/lb/follow/bars": ("i", lambda s, c, v: s.set("follow_bars", v)),
            "/lb/follow/answer": ("s", lambda s, c, v: s.set("answer", v)),
            "/lb/generate": ("", self.on_generate),
            "/lb/stream": ("i", lambda s, c, on: self.worker.set_streaming(s, bool(on),
                                                                           self._reply(c))),
            "/lb/transport": ("iffii", self.on_transport),
            "/lb/tempo": ("f", self.on_tempo),
            "/lb/output": ("ii", self.on_output),
            "/lb/channel": ("i", lambda s, c, v: s.set("channel", v)),
            "/lb/panic": ("", lambda s, c: self.scheduler.panic()),
        }

    @property
    def session(self) -> Session:
        """The session of the clients that never said /lb/hello."""
        return self.sessions.default

    @property
    def engine(self):
        """The model of the unregistered clients' session (the one the bridge started with,
        unless they loaded another)."""
        return self.sessions.default.engine

    # -- life --------------------------------------------------------------------------------
    def start(self) -> None:
        self._started = True
        self.scheduler.start()
        self.worker.start()
        self.server.start()
        out = getattr(self.scheduler, "out_name", None) or (self.ports and self.ports.out_name)
        log.info("listening on %s:%d, model %s, MIDI out %s, sender %s", *self.server.address[:2],
                 self.engine.name, out or "off", self.scheduler.priority)

    def __enter__(self) -> "Bridge":
        """``with Bridge(...) as bridge:`` serves for the block (started here unless it was) and
        closes after it: all notes off, ports closed, threads joined."""
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving; all notes off on the way out. Safe to call twice."""
        self.server.close()
        self.worker.close()
        self.scheduler.close()       # sends all notes off
        if self.ports is not None:
            self.ports.close()
            self.ports = None

    # -- protocol ----------------------------------------------------------------------------
    def handle(self, address: str, args: list, client: tuple) -> None:
        entry = self._handlers.get(address)
        if entry is None:
            raise UnknownAddress(f"unknown address {address}" +
                                 ("" if address.startswith("/lb/") else " (all are under /lb/)"))
        types, handler = entry
        values = parse_args(args, types)
        if handler is None:
            self.on_hello(client, *values)
            return
        handler(self.sessions.resolve(client), client, *values)

    def reply_targets(self, client: tuple) -> list:
        """Where the answer to ``client`` goes (the OSC server asks): see bridge.sessions."""
        return self.sessions.reply_targets(client)

    def _reply(self, client):
        return lambda address, args: self.server.reply(client, address, args)

    def _emit(self, session: Session, address: str, args: list) -> None:
        """An unsolicited message (a streamed bar, a stream error) to one session's device."""
        self.server.send(self.sessions.listeners(session), address, args)

    def on_hello(self, client, port: int) -> None:
        if not 1 <= port <= 65535:
            raise SessionError(f"reply port must be in 1..65535, got {port}")
        self.server.check_reply_port(client, port)
        session, dropped = self.sessions.hello(client, port)
        for old in dropped:
            log.warning("more than %d devices registered: %s dropped (the oldest)",
                        self.sessions.limit, old.name)
            self.worker.submit(lambda old=old: self.worker.end_session(old, "too many devices"))
        self.server.reply(client, "/lb/hello", [VERSION, session.engine.name])

    def on_bye(self, session: Session, client) -> None:
        if not self.sessions.bye(session):
            raise SessionError("no session to end: /lb/bye ends the session a /lb/hello "
                               "registered")
        self.worker.submit(lambda: self.worker.end_session(session, "said bye"))
        self.server.send([client, session.reply], "/lb/bye", [])

    def on_status(self, session: Session, client) -> None:
        params, state = session.params(), self.clock.state
        counts = self.scheduler.counts()
        self.server.reply(client, "/lb/status", [
            session.engine.name, int(session.streaming), int(state.playing),
            float(state.beat_at(time.perf_counter())), float(state.tempo), params.mode,
            float(params.position), float(params.temperature), self._bars(session),
            session.slot_notes("A"), session.slot_notes("B"),
            self.scheduler.health(), _int32(counts["late"]), _int32(counts["dropped"]),
            _int32(session.missed_bars)])

    def on_models(self, session: Session, client) -> None:
        current = session.engine.name
        names = [current] + [n for n in available_models() if n != current]
        self.server.reply(client, "/lb/models", names)

    def on_model(self, session: Session, client, name: str) -> None:
        self._check_model_request(client, name)
        reply = self._reply(client)
        self.worker.submit(lambda: self.worker.load_model(session, name, reply), request=True,
                           address="/lb/model", reply=reply)

    def _check_model_request(self, client, name: str) -> None:
        """Over OSC a model is a shipped name or, from this machine only, a bundle folder.
        Whatever the reason a folder is unusable before its model.json is read (missing, not a
        folder, unreadable, too long a name), the answer is the same line: the reply must not
        tell a client which paths exist."""
        shown = name if len(name) <= 60 else name[:57] + "..."
        if not name.strip() or len(name) > MAX_MODEL_NAME or not name.isprintable():
            raise SessionError(f"model name must be 1..{MAX_MODEL_NAME} printable characters "
                               f"(got {len(name)})")
        if name in available_models():   # shipped, or imported (runtime.bundle.user_models_dir)
            return
        shipped = ", ".join(available_models()) or "none"
        if not is_loopback(client[0]):
            raise SessionError(f"{shown}: not a shipped or imported model ({shipped}); bundle "
                               f"folders load only for clients on this machine")
        try:
            path = Path(name).expanduser()
            if path.name == "model.json":
                path = path.parent
            usable = (path / "model.json").is_file() and os.access(path / "model.json", os.R_OK)
        except (OSError, ValueError):
            usable = False
        if not usable:
            raise SessionError(f"{shown}: no such model bundle (a model name: {shipped}, or a "
                               f"readable folder with model.json)")

    def on_bars(self, session: Session, client, bars: int) -> None:
        if not 1 <= bars <= session.engine.bars:
            raise SessionError(f"bars must be in 1..{session.engine.bars} for "
                               f"{session.engine.name}")
        session.set("bars", bars)

    @staticmethod
    def _bars(session: Session) -> int:
        bars = session.params().bars
        return min(bars, session.engine.bars) if bars else int(session.engine.bars)

    # clips ---------------------------------------------------------------------------------
    # An upload belongs to its session's slot, not to the port it came from (oscsend sends
    # every message from a new port); a new begin replaces an unfinished one, and one left alone
    # for upload_timeout_s is dropped, so a session's unfinished uploads hold at most two clips.
    def on_clip_begin(self, session: Session, client, slot: str, length: float,
                      count: int) -> None:
        session.slot(slot)
        if not 0 < length <= 4 * 256:
            raise SessionError(f"clip length must be in (0, 1024] beats, got {length:g}")
        if not 0 <= count <= MAX_CLIP_NOTES:
            raise SessionError(f"note count must be in 0..{MAX_CLIP_NOTES}, got {count}")
        self._expire_uploads(session)
        session.uploads[slot] = _Upload(length, count)

    def _expire_uploads(self, session: Session) -> None:
        now = time.monotonic()
        for slot, upload in list(session.uploads.items()):
            if now - upload.touched > self.upload_timeout_s:
                del session.uploads[slot]

    def _upload(self, session: Session, slot: str) -> _Upload:
        session.slot(slot)
        self._expire_uploads(session)
        upload = session.uploads.get(slot)
        if upload is None:
            raise SessionError(f"no /lb/clip/begin for slot {slot} (or the transfer was idle "
                               f"for {self.upload_timeout_s:g} s and was dropped)")
        upload.touched = time.monotonic()
        return upload

    def on_clip_notes(self, session: Session, client, slot: str, *values) -> None:
        upload = self._upload(session, slot)
        notes = []
        for i in range(0, len(values), 4):
            pitch, start, duration, velocity = values[i:i + 4]
            if not 0 <= pitch <= 127 or not 1 <= velocity <= 127 or not 0 <= start <= 1e6 \
                    or not 0 < duration <= 1e6:
                del session.uploads[slot]
                raise SessionError(f"bad note (pitch {pitch}, start {start:g}, duration "
                                   f"{duration:g}, velocity {velocity}); transfer dropped")
            notes.append(Note(pitch, start, start + duration, velocity))
        if len(upload.notes) + len(notes) > upload.count:
            del session.uploads[slot]
            raise SessionError(f"more notes than the {upload.count} announced; transfer dropped")
        upload.notes += notes

    def on_clip_end(self, session: Session, client, slot: str) -> None:
        upload = self._upload(session, slot)
        del session.uploads[slot]
        if len(upload.notes) != upload.count:
            raise SessionError(f"slot {slot}: {upload.count} notes announced, "
                               f"{len(upload.notes)} received")
        self._store(session, client, "/lb/clip/end", slot, Clip(upload.notes,
                                                                length=upload.length))

    def _store(self, session: Session, client, address: str, slot: str, clip: Clip) -> None:
        reply = self._reply(client)

        def job():
            try:
                self.worker.encode_slot(session, slot, clip)
            except EngineError as exc:
                raise SessionError(f"slot {slot}: {exc}") from None
            reply("/lb/clip/ok", [slot, len(clip.notes)])
        self.worker.submit(job, request=True, address=address, reply=reply)

    def on_clip_clear(self, session: Session, client, slot: str) -> None:
        session.set_slot(slot, None, None)
        self.server.reply(client, "/lb/clip/ok", [slot, 0])

    def on_clip_get(self, session: Session, client, slot: str) -> None:
        clip = session.slot(slot).clip or Clip([], length=0.0)
        self.server.reply(client, "/lb/clip/begin", [slot, float(clip.length), len(clip.notes)])
        for i in range(0, len(clip.notes), NOTES_PER_MESSAGE):
            self.server.reply(client, "/lb/clip/notes",
                              [slot] + _note_args(clip.notes[i:i + NOTES_PER_MESSAGE]))
        self.server.reply(client, "/lb/clip/end", [slot])

    def on_record(self, session: Session, client, slot: str, bars: int) -> None:
        session.slot(slot)
        if not 1 <= bars <= 64:
            raise SessionError(f"bars must be in 1..64, got {bars}")
        self._store(session, client, "/lb/record", slot, self.recorder.clip(bars))

    # generation ----------------------------------------------------------------------------
    def on_generate(self, session: Session, client) -> None:
        reply = self._reply(client)
        params = session.params()
        bars = self._bars(session)
        self._result_id += 1
        result_id = self._result_id

        def job():
            clip = self.worker.result(session, params, None if params.seed < 0 else params.seed,
                                      bars)
            length = float(clip.length)
            notes = [n for n in clip.notes if 0.0 <= n.start < length]
            reply("/lb/result/begin", [result_id, length, len(notes)])
            for i in range(0, len(notes), NOTES_PER_MESSAGE):
                reply("/lb/result/notes", [result_id] + _note_args(notes[i:i + NOTES_PER_MESSAGE]))
            reply("/lb/result/end", [result_id])
        self.worker.submit(job, request=True, address="/lb/generate", reply=reply)

    # time and output (the clock and the MIDI output are shared by all sessions) ------------
    def on_transport(self, session: Session, client, playing: int, beat: float, tempo: float,
                     num: int, den: int) -> None:
        if not MIN_TEMPO <= tempo <= MAX_TEMPO:
            raise SessionError(f"tempo must be in {MIN_TEMPO:g}..{MAX_TEMPO:g}, got {tempo:g}")
        if not 1 <= num <= 32 or den not in (1, 2, 4, 8, 16, 32):
            raise SessionError(f"bad time signature {num}/{den}")
        if not 0.0 <= beat <= MAX_BEAT:   # also refuses NaN; bar numbers must fit OSC's int32
            raise SessionError(f"beat must be in 0..{MAX_BEAT:g}, got {beat:g}")
        self.clock.transport(bool(playing), beat, tempo, num, den)

    def on_tempo(self, session: Session, client, tempo: float) -> None:
        if not MIN_TEMPO <= tempo <= MAX_TEMPO:
            raise SessionError(f"tempo must be in {MIN_TEMPO:g}..{MAX_TEMPO:g}, got {tempo:g}")
        self.clock.set_tempo(tempo)

    def on_output(self, session: Session, client, midi: int, osc: int) -> None:
        session.set("midi_out", midi)
        session.set("osc_out", osc)


def _int32(value: int) -> int:
    return min(int(value), 2**31 - 1)


def _note_args(notes) -> list:
    args = []
    for n in notes:
        args += [int(n.pitch), float(n.start), float(n.end - n.start), int(n.velocity)]
    return args


__all__ = ["Bridge", "VERSION"]
