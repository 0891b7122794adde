"""The OSC side of the bridge: a python-osc UDP server and the ``/lb/...`` protocol.

The protocol is documented in docs/osc.md (the single source of truth). Every datagram is
checked here: garbage, unknown addresses, wrong argument types or counts and failing requests
are answered with ``/lb/error s:address s:message`` and logged; nothing a client sends can
stop the server::

    >>> from bridge.osc import OscServer
    >>> server = OscServer(protocol, host="127.0.0.1", port=9000)
    >>> server.start()              # serves on its own thread
    >>> server.broadcast("/lb/bar", [0, 0.0])
    >>> server.close()

The server is python-osc's ``BlockingOSCUDPServer`` (one thread, messages handled in arrival
order: a clip's chunks must not overtake its ``/lb/clip/end``) with our own request handler in
place of the dispatcher, which drops malformed packets silently.
"""

from __future__ import annotations

import logging
import socketserver
import threading
import time

from pythonosc import osc_packet
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

log = logging.getLogger("bridge.osc")

PREFIX = "/lb/"
MAX_DATAGRAM = 8192


KNOWN_TAGS = set("ifsdhTF")   # python-osc skips other tags silently; we refuse them


def _type_tags(dgram: bytes) -> str:
    """The type tag string of a message datagram, without its leading comma."""
    end = dgram.index(b"\x00")
    start = (end // 4 + 1) * 4             # the address is padded to a multiple of 4 bytes
    if start >= len(dgram) or dgram[start:start + 1] != b",":
        return ""
    return dgram[start + 1:dgram.index(b"\x00", start)].decode("ascii", "replace")


def _padded(n: int) -> int:
    return (n // 4 + 1) * 4     # OSC strings: NUL-terminated, padded to 4 bytes


def _expected_size(address: str, tags: str, args: list) -> int:
    size = _padded(len(address.encode())) + _padded(len(tags) + 1)
    strings = iter(a for a in args if isinstance(a, str))
    for tag in tags:
        if tag in "if":
            size += 4
        elif tag in "dh":
            size += 8
        elif tag == "s":
            size += _padded(len(next(strings).encode()))
    return size


class OscArgError(ValueError):
    """Arguments that do not match the address's type signature."""


def build(address: str, args: list) -> bytes:
    """An OSC datagram with ``i`` for ints, ``f`` for floats, ``s`` for strings."""
    builder = OscMessageBuilder(address)
    for value in args:
        if isinstance(value, bool):
            builder.add_arg(int(value), "i")
        elif isinstance(value, int):
            builder.add_arg(value, "i")
        elif isinstance(value, float):
            builder.add_arg(value, "f")
        else:
            builder.add_arg(str(value), "s")
    return builder.build().dgram


def parse_args(address: str, args: list, types: str) -> list:
    """Check ``args`` against ``types`` ('i', 'f', 's'; a trailing '*' group like '(iffi)*' is
    a repeated tuple) and convert: an int is accepted for 'f', an integral float for 'i'."""
    fixed, _, repeat = types.partition("(")
    repeat = repeat.rstrip(")*")
    if len(args) < len(fixed) or (not repeat and len(args) != len(fixed)):
        raise OscArgError(f"expects {_describe(types)}, got {len(args)} argument(s)")
    if repeat and (len(args) - len(fixed)) % len(repeat):
        raise OscArgError(f"expects {_describe(types)}: notes come in groups of {len(repeat)}")
    out = []
    for i, value in enumerate(args):
        kind = fixed[i] if i < len(fixed) else repeat[(i - len(fixed)) % len(repeat)]
        out.append(_convert(value, kind, i))
    return out


def _convert(value, kind: str, index: int):
    where = f"argument {index + 1}"
    if kind == "s":
        if not isinstance(value, str):
            raise OscArgError(f"{where} should be a string, got {type(value).__name__}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OscArgError(f"{where} should be a number, got {type(value).__name__}")
    if value != value or value in (float("inf"), float("-inf")):
        raise OscArgError(f"{where} is not a finite number")
    if kind == "f":
        return float(value)
    if float(value) != int(value):
        raise OscArgError(f"{where} should be a whole number, got {value}")
    return int(value)


def _describe(types: str) -> str:
    names = {"i": "int", "f": "float", "s": "string"}
    fixed, _, repeat = types.partition("(")
    parts = [names[c] for c in fixed]
    if repeat:
        parts.append("(" + " ".join(names[c] for c in repeat.rstrip(")*")) + ")*")
    return " ".join(parts) or "no arguments"


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, _sock = self.request
        self.server.owner.handle_datagram(data, self.client_address)


class _Server(BlockingOSCUDPServer):
    max_packet_size = 65536   # read whole datagrams, so oversized ones can be refused by size

    def __init__(self, address, owner):
        self.owner = owner
        super().__init__(address, Dispatcher())
        self.RequestHandlerClass = _Handler

    def verify_request(self, request, client_address) -> bool:
        return True           # our handler answers garbage with an error instead of dropping it

    def handle_error(self, request, client_address) -> None:
        log.exception("OSC request from %s failed", client_address)


class OscServer:
    """Receives ``/lb/...`` requests, hands them to ``protocol.handle(address, args, client)``
    and sends the replies; replies go to the sender and to its hello port."""

    def __init__(self, protocol, host: str = "127.0.0.1", port: int = 9000):
        self.protocol = protocol
        self._server = _Server((host, port), self)
        self.address = self._server.server_address
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.hello_targets: dict[tuple[str, int], tuple[str, int]] = {}  # sender -> reply port
        self.last_sender: tuple[str, int] | None = None
        self.errors = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={
            "poll_interval": 0.05}, name="latentbridge-osc", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(2.0)

    # -- sending -----------------------------------------------------------------------------
    def send_to(self, target: tuple[str, int], address: str, args: list) -> None:
        try:
            self._server.socket.sendto(build(address, args), target)
        except OSError as exc:
            log.warning("cannot send %s to %s: %s", address, target, exc)

    def reply(self, client: tuple[str, int], address: str, args: list) -> None:
        """Send to the requester and to its hello port."""
        targets = {client}
        with self._lock:
            hello = self.hello_targets.get(client)
        if hello is not None:
            targets.add(hello)
        for target in targets:
            self.send_to(target, address, args)

    def broadcast(self, address: str, args: list) -> None:
        """Send to every client that said hello (or to the last sender)."""
        with self._lock:
            targets = set(self.hello_targets.values())
            if not targets and self.last_sender is not None:
                targets = {self.last_sender}
        data = build(address, args)
        for target in targets:
            try:
                self._server.socket.sendto(data, target)
            except OSError as exc:
                log.warning("cannot send %s to %s: %s", address, target, exc)

    def hello(self, client: tuple[str, int], port: int) -> None:
        with self._lock:
            self.hello_targets[client] = (client[0], port)

    # -- receiving ---------------------------------------------------------------------------
    def handle_datagram(self, data: bytes, client: tuple[str, int]) -> None:
        if len(data) > MAX_DATAGRAM:
            self.error(client, "?", f"datagram of {len(data)} bytes is over the "
                                    f"{MAX_DATAGRAM}-byte limit")
            return
        try:
            messages = [m.message for m in osc_packet.OscPacket(data).messages]
        except Exception as exc:  # python-osc raises ParseError, and others on odd input
            self.error(client, "?", f"not an OSC message ({type(exc).__name__})")
            return
        if not messages:
            self.error(client, "?", "no OSC message in the datagram (empty or broken bundle)")
            return
        for message in messages:
            address = message.address
            try:
                args = list(message.params)
                tags = _type_tags(message.dgram)
            except Exception:
                self.error(client, address, "unreadable arguments")
                continue
            unknown = set(tags) - KNOWN_TAGS
            if unknown:
                self.error(client, address, f"unsupported OSC type tag(s) {''.join(sorted(unknown))}")
                continue
            if _expected_size(address, tags, args) != len(message.dgram):
                # python-osc reads short arguments as zeros; a cut datagram must not set values
                self.error(client, address, "truncated or padded OSC message")
                continue
            with self._lock:   # streamed bars go to the last client that sent a real message
                self.last_sender = client
            self.dispatch(address, args, client)

    def dispatch(self, address: str, args: list, client: tuple[str, int]) -> None:
        started = time.perf_counter()
        try:
            self.protocol.handle(address, args, client)
        except OscArgError as exc:
            self.error(client, address, str(exc))
        except LookupError as exc:   # unknown address (KeyError) and the like
            self.error(client, address, exc.args[0] if exc.args else "unknown address")
        except ValueError as exc:    # SessionError, EngineError, MidiError: one line each
            self.error(client, address, str(exc))
        except Exception as exc:     # a bug: still answer, still serve
            log.exception("handler for %s failed", address)
            self.error(client, address, f"internal error: {type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - started
        if elapsed > 0.05:
            log.debug("%s took %.1f ms", address, elapsed * 1e3)

    def error(self, client: tuple[str, int], address: str, message: str) -> None:
        self.errors += 1
        message = " ".join(str(message).split())  # one line
        log.warning("%s from %s:%s: %s", address, client[0], client[1], message)
        self.reply(client, "/lb/error", [address, message])

