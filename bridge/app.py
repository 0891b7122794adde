"""The bridge assembled: clock, session, MIDI ports, sender, worker and the OSC protocol.

    >>> from runtime.engine import Engine
    >>> from bridge.app import Bridge
    >>> bridge = Bridge(Engine.load(None), port=9000, midi_api="jack")
    >>> bridge.start()          # OSC on 127.0.0.1:9000, virtual MIDI ports, threads running
    >>> bridge.close()          # all notes off, ports closed, threads joined

``Bridge.handle(address, args, client)`` is the protocol of docs/osc.md: one method per
address, arguments checked against the documented types before anything happens.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from runtime.bundle import shipped_models
from runtime.engine import EngineError
from runtime.music import Clip, Note

from .clock import MAX_TEMPO, MIN_TEMPO, Clock
from .errors import BridgeError
from .midi import Ports, Recorder, open_ports
from .osc import OscServer, is_loopback, parse_args
from .scheduler import Scheduler
from .sender import SenderProcess
from .session import Session, SessionError
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
                 sender: str = "process", realtime: bool = True, reply_port: int | None = None):
        if sender not in SENDERS:
            raise ValueError(f"unknown sender {sender!r} (one of {', '.join(SENDERS)})")
        self.clock = Clock(tempo=tempo)
        self.session = Session()
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
                send = self.ports.send if self.ports else (lambda message: None)
                self.scheduler = Scheduler(self.clock, send=send, realtime=realtime)
            self.server = OscServer(self, host=host, port=port, reply_port=reply_port)
        except BaseException:
            if sender == "process":
                self.scheduler.close()
            if self.ports is not None:
                self.ports.close()
            raise
        self.worker = Worker(engine, self.session, self.clock, self.scheduler,
                             emit=self.server.broadcast, ahead=ahead, chunk=chunk)
        self._uploads: dict[str, _Upload] = {}    # slot -> its unfinished upload
        self.upload_timeout_s = UPLOAD_TIMEOUT_S
        self._result_id = 0
        self._handlers = {
            "/lb/hello": ("i", self.on_hello),
            "/lb/ping": ("", self.on_ping),
            "/lb/status": ("", self.on_status),
            "/lb/models": ("", self.on_models),
            "/lb/model": ("s", self.on_model),
            "/lb/clip/begin": ("sfi", self.on_clip_begin),
            "/lb/clip/notes": ("s(iffi)*", self.on_clip_notes),
            "/lb/clip/end": ("s", self.on_clip_end),
            "/lb/clip/clear": ("s", self.on_clip_clear),
            "/lb/clip/get": ("s", self.on_clip_get),
            "/lb/record": ("si", self.on_record),
            "/lb/mode": ("s", lambda c, v: self.session.set("mode", v)),
            "/lb/position": ("f", lambda c, v: self.session.set("position", v)),
            "/lb/temperature": ("f", lambda c, v: self.session.set("temperature", v)),
            "/lb/bars": ("i", self.on_bars),
            "/lb/seed": ("i", lambda c, v: self.session.set("seed", v)),
            "/lb/amount": ("f", lambda c, v: self.session.set("amount", v)),
            "/lb/generate": ("", self.on_generate),
            "/lb/stream": ("i", lambda c, on: self.worker.set_streaming(bool(on),
                                                                        self._reply(c))),
            "/lb/transport": ("iffii", self.on_transport),
            "/lb/tempo": ("f", self.on_tempo),
            "/lb/output": ("ii", self.on_output),
            "/lb/channel": ("i", lambda c, v: self.session.set("channel", v)),
            "/lb/panic": ("", lambda c: self.scheduler.panic()),
        }

    @property
    def engine(self):
        return self.worker.engine

    # -- life --------------------------------------------------------------------------------
    def start(self) -> None:
        self.scheduler.start()
        self.worker.start()
        self.server.start()
        out = getattr(self.scheduler, "out_name", None) or (self.ports and self.ports.out_name)
        log.info("listening on %s:%d, model %s, MIDI out %s, sender %s", *self.server.address[:2],
                 self.engine.name, out or "off", self.scheduler.priority)

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
        handler(client, *parse_args(address, args, types))

    def _reply(self, client):
        return lambda address, args: self.server.reply(client, address, args)

    def on_hello(self, client, port: int) -> None:
        if not 1 <= port <= 65535:
            raise SessionError(f"reply port must be in 1..65535, got {port}")
        self.server.hello(client, port)
        self.server.reply(client, "/lb/hello", [VERSION, self.engine.name])

    def on_ping(self, client) -> None:
        self.server.reply(client, "/lb/pong", [])

    def on_status(self, client) -> None:
        params, state = self.session.params(), self.clock.state
        counts = self.scheduler.counts()
        self.server.reply(client, "/lb/status", [
            self.engine.name, int(self.worker.streaming), int(state.playing),
            float(state.beat_at(time.perf_counter())), float(state.tempo), params.mode,
            float(params.position), float(params.temperature), self._bars(),
            self.session.slot_notes("A"), self.session.slot_notes("B"),
            self.scheduler.health(), _int32(counts["late"]), _int32(counts["dropped"]),
            _int32(self.worker.missed_bars)])

    def on_models(self, client) -> None:
        names = [self.engine.name] + [n for n in shipped_models() if n != self.engine.name]
        self.server.reply(client, "/lb/models", names)

    def on_model(self, client, name: str) -> None:
        self._check_model_request(client, name)
        reply = self._reply(client)
        self.worker.submit(lambda: self.worker.load_model(name, reply), request=True,
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
        if name in shipped_models():
            return
        shipped = ", ".join(shipped_models()) or "none"
        if not is_loopback(client[0]):
            raise SessionError(f"{shown}: not a shipped model ({shipped}); bundle folders load "
                               f"only for clients on this machine")
        try:
            path = Path(name).expanduser()
            if path.name == "model.json":
                path = path.parent
            usable = (path / "model.json").is_file() and os.access(path / "model.json", os.R_OK)
        except (OSError, ValueError):
            usable = False
        if not usable:
            raise SessionError(f"{shown}: no such model bundle (a shipped name: {shipped}, or a "
                               f"readable folder with model.json)")

    def on_bars(self, client, bars: int) -> None:
        if not 1 <= bars <= self.engine.bars:
            raise SessionError(f"bars must be in 1..{self.engine.bars} for {self.engine.name}")
        self.session.set("bars", bars)

    def _bars(self) -> int:
        bars = self.session.params().bars
        return min(bars, self.engine.bars) if bars else int(self.engine.bars)

    # clips ---------------------------------------------------------------------------------
    # An upload belongs to its slot, not to the port it came from (oscsend sends every message
    # from a new port); a new begin replaces an unfinished one, and one left alone for
    # upload_timeout_s is dropped, so unfinished uploads hold at most two clips' notes.
    def on_clip_begin(self, client, slot: str, length: float, count: int) -> None:
        self.session.slot(slot)
        if not 0 < length <= 4 * 256:
            raise SessionError(f"clip length must be in (0, 1024] beats, got {length:g}")
        if not 0 <= count <= MAX_CLIP_NOTES:
            raise SessionError(f"note count must be in 0..{MAX_CLIP_NOTES}, got {count}")
        self._expire_uploads()
        self._uploads[slot] = _Upload(length, count)

    def _expire_uploads(self) -> None:
        now = time.monotonic()
        for slot, upload in list(self._uploads.items()):
            if now - upload.touched > self.upload_timeout_s:
                del self._uploads[slot]

    def _upload(self, slot: str) -> _Upload:
        self.session.slot(slot)
        self._expire_uploads()
        upload = self._uploads.get(slot)
        if upload is None:
            raise SessionError(f"no /lb/clip/begin for slot {slot} (or the transfer was idle "
                               f"for {self.upload_timeout_s:g} s and was dropped)")
        upload.touched = time.monotonic()
        return upload

    def on_clip_notes(self, client, slot: str, *values) -> None:
        upload = self._upload(slot)
        notes = []
        for i in range(0, len(values), 4):
            pitch, start, duration, velocity = values[i:i + 4]
            if not 0 <= pitch <= 127 or not 1 <= velocity <= 127 or not 0 <= start <= 1e6 \
                    or not 0 < duration <= 1e6:
                del self._uploads[slot]
                raise SessionError(f"bad note (pitch {pitch}, start {start:g}, duration "
                                   f"{duration:g}, velocity {velocity}); transfer dropped")
            notes.append(Note(pitch, start, start + duration, velocity))
        if len(upload.notes) + len(notes) > upload.count:
            del self._uploads[slot]
            raise SessionError(f"more notes than the {upload.count} announced; transfer dropped")
        upload.notes += notes

    def on_clip_end(self, client, slot: str) -> None:
        upload = self._upload(slot)
        del self._uploads[slot]
        if len(upload.notes) != upload.count:
            raise SessionError(f"slot {slot}: {upload.count} notes announced, "
                               f"{len(upload.notes)} received")
        self._store(client, "/lb/clip/end", slot, Clip(upload.notes, length=upload.length))

    def _store(self, client, address: str, slot: str, clip: Clip) -> None:
        reply = self._reply(client)

        def job():
            try:
                self.worker.encode_slot(slot, clip)
            except EngineError as exc:
                raise SessionError(f"slot {slot}: {exc}") from None
            reply("/lb/clip/ok", [slot, len(clip.notes)])
        self.worker.submit(job, request=True, address=address, reply=reply)

    def on_clip_clear(self, client, slot: str) -> None:
        self.session.set_slot(slot, None, None)
        self.server.reply(client, "/lb/clip/ok", [slot, 0])

    def on_clip_get(self, client, slot: str) -> None:
        clip = self.session.slot(slot).clip or Clip([], length=0.0)
        self.server.reply(client, "/lb/clip/begin", [slot, float(clip.length), len(clip.notes)])
        for i in range(0, len(clip.notes), NOTES_PER_MESSAGE):
            self.server.reply(client, "/lb/clip/notes",
                              [slot] + _note_args(clip.notes[i:i + NOTES_PER_MESSAGE]))
        self.server.reply(client, "/lb/clip/end", [slot])

    def on_record(self, client, slot: str, bars: int) -> None:
        self.session.slot(slot)
        if not 1 <= bars <= 64:
            raise SessionError(f"bars must be in 1..64, got {bars}")
        self._store(client, "/lb/record", slot, self.recorder.clip(bars))

    # generation ----------------------------------------------------------------------------
    def on_generate(self, client) -> None:
        reply = self._reply(client)
        params = self.session.params()
        bars = self._bars()
        self._result_id += 1
        result_id = self._result_id

        def job():
            clip = self.worker.generate(params, None if params.seed < 0 else params.seed)
            length = bars * 4.0
            notes = [n for n in clip.notes if n.start < length]
            reply("/lb/result/begin", [result_id, length, len(notes)])
            for i in range(0, len(notes), NOTES_PER_MESSAGE):
                reply("/lb/result/notes", [result_id] + _note_args(notes[i:i + NOTES_PER_MESSAGE]))
            reply("/lb/result/end", [result_id])
        self.worker.submit(job, request=True, address="/lb/generate", reply=reply)

    # time and output -----------------------------------------------------------------------
    def on_transport(self, client, playing: int, beat: float, tempo: float, num: int,
                     den: int) -> None:
        if not MIN_TEMPO <= tempo <= MAX_TEMPO:
            raise SessionError(f"tempo must be in {MIN_TEMPO:g}..{MAX_TEMPO:g}, got {tempo:g}")
        if not 1 <= num <= 32 or den not in (1, 2, 4, 8, 16, 32):
            raise SessionError(f"bad time signature {num}/{den}")
        if not 0.0 <= beat <= MAX_BEAT:   # also refuses NaN; bar numbers must fit OSC's int32
            raise SessionError(f"beat must be in 0..{MAX_BEAT:g}, got {beat:g}")
        self.clock.transport(bool(playing), beat, tempo, num, den)

    def on_tempo(self, client, tempo: float) -> None:
        if not MIN_TEMPO <= tempo <= MAX_TEMPO:
            raise SessionError(f"tempo must be in {MIN_TEMPO:g}..{MAX_TEMPO:g}, got {tempo:g}")
        self.clock.set_tempo(tempo)

    def on_output(self, client, midi: int, osc: int) -> None:
        self.session.set("midi_out", midi)
        self.session.set("osc_out", osc)


def _int32(value: int) -> int:
    return min(int(value), 2**31 - 1)


def _note_args(notes) -> list:
    args = []
    for n in notes:
        args += [int(n.pitch), float(n.start), float(n.end - n.start), int(n.velocity)]
    return args


__all__ = ["Bridge", "VERSION"]
