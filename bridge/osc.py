"""The OSC side of the bridge: a python-osc UDP server and the ``/lb/...`` protocol.

The protocol is documented in docs/osc.md (the single source of truth). Every datagram is
checked here: garbage, unknown addresses, wrong argument types or counts and failing requests
are answered with ``/lb/error s:address s:message`` and logged; nothing a client sends can
stop the server::

    >>> from bridge.osc import OscServer
    >>> server = OscServer(protocol, host="127.0.0.1", port=9000)
    >>> server.start()              # serves on its own thread
    >>> server.send([("127.0.0.1", 9001)], "/lb/bar", [0, 0.0])
    >>> server.close()

Replies go to the port the request came from *and* to wherever ``protocol.reply_targets(client)``
says (the bridge: the reply port of the requester's session, see bridge.sessions), so a client
may send every message from a new port, as liblo's ``oscsend`` does, and still hears back where
it listens. Datagrams from the bridge's own port, and ``/lb/error`` messages, are never answered
(that would loop forever). Bad datagrams are each answered once; their log lines are
rate-limited.

The server is python-osc's ``BlockingOSCUDPServer`` (one thread, messages handled in arrival
order: a clip's chunks must not overtake its ``/lb/clip/end``) with our own request handler in
place of the dispatcher, which drops malformed packets silently.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import socketserver
import threading
import time

from pythonosc import osc_packet
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

from .errors import BridgeError, BugLog, RateLimitedLog, is_domain_error, one_line

log = logging.getLogger("bridge.osc")

PREFIX = "/lb/"
MAX_DATAGRAM = 8192
NEVER_ANSWERED = ("/lb/error",)   # answering an error with an error loops between two programs


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


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
        except (OSError, ValueError):
            return False


class OscArgError(BridgeError):
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


def parse_args(args: list, types: str) -> list:
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
        try:   # room for a whole clip upload sent back to back (the kernel may grant less)
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except OSError:
            pass

    def verify_request(self, request, client_address) -> bool:
        return True           # our handler answers garbage with an error instead of dropping it

    def handle_error(self, request, client_address) -> None:
        import sys

        self.owner.bugs.report(sys.exc_info()[1], f"a datagram from {client_address}")


class OscServer:
    """Receives ``/lb/...`` requests, hands them to ``protocol.handle(address, args, client)``
    and sends the replies; replies go to the sender and to ``protocol.reply_targets(client)``
    (see the module docstring)."""

    def __init__(self, protocol, host: str = "127.0.0.1", port: int = 9000):
        self.protocol = protocol
        self.bugs = BugLog(log)
        self._bad_log = RateLimitedLog(log)
        self._server = _Server((host, port), self)
        self.address = self._server.server_address
        self.host = host
        if not is_loopback(host):
            log.warning("OSC listens on %s:%d, not only on this machine: anyone who can reach "
                        "it can control the bridge (the default is 127.0.0.1)", host,
                        self.address[1])
        self._thread: threading.Thread | None = None
        self.errors = 0
        self.ignored = 0          # datagrams not answered: from our own port, or /lb/error

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={
            "poll_interval": 0.05}, name="latentbridge-osc", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving (if :meth:`start` ran) and free the port; safe to call twice."""
        if self._thread is not None:
            # shutdown() waits for serve_forever to end: it would wait forever if it never ran
            self._server.shutdown()
            self._thread.join(2.0)
            self._thread = None
        self._server.server_close()

    # -- sending -----------------------------------------------------------------------------
    def local_host(self) -> str:
        """The address of this machine as seen from the bridge's socket."""
        host = self.address[0]
        return "127.0.0.1" if host in ("", "0.0.0.0", "::") or is_loopback(host) else host

    def _send(self, data: bytes, address: str, targets) -> None:
        for target in targets:
            try:
                self._server.socket.sendto(data, target)
            except OSError as exc:
                self._bad_log("cannot send %s to %s:%s: %s", address, target[0], target[1], exc)

    def send(self, targets, address: str, args: list) -> None:
        """Send one message to each of ``targets`` (never to the bridge's own port)."""
        targets = [t for t in dict.fromkeys(targets) if not self.is_own(t)]
        if targets:
            self._send(build(address, args), address, targets)

    def send_to(self, target: tuple[str, int], address: str, args: list) -> None:
        self.send([target], address, args)

    def reply_targets(self, client: tuple[str, int]) -> list[tuple[str, int]]:
        """The requester's own port and what the protocol adds (its session's reply port)."""
        extra = getattr(self.protocol, "reply_targets", None)
        return extra(client) if extra is not None else [client]

    def reply(self, client: tuple[str, int], address: str, args: list) -> None:
        """Send to the requester and to the reply port of its session."""
        self.send(self.reply_targets(client), address, args)

    def is_own(self, target: tuple[str, int]) -> bool:
        """``target`` is this server's own socket (or another bridge's on our port here)."""
        if target[1] != self.address[1]:
            return False
        return target[0] == self.address[0] or self.address[0] in ("0.0.0.0", "::", "") or \
            is_loopback(target[0])

    def check_reply_port(self, client: tuple[str, int], port: int) -> None:
        """A reply port a client may register with /lb/hello (raises BridgeError)."""
        if self.is_own((client[0], port)):
            raise BridgeError(f"reply port {port} is the bridge's own port; use the port your "
                              f"client listens on")

    # -- receiving ---------------------------------------------------------------------------
    def handle_datagram(self, data: bytes, client: tuple[str, int]) -> None:
        try:
            self._handle_datagram(data, client)
        except Exception as exc:   # a bug in our own checks: one line back, the traceback once
            self.error(client, "?", self.bugs.report(exc, "a datagram"))

    def _handle_datagram(self, data: bytes, client: tuple[str, int]) -> None:
        if self.is_own(client):
            self.ignored += 1      # our own reply come back (a hello to our own port): no loop
            return
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
            if address in NEVER_ANSWERED:
                self.ignored += 1
                self._bad_log("%s from %s:%s ignored (errors are never answered)", address,
                              *client[:2])
                continue
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
            self.dispatch(address, args, client)

    def dispatch(self, address: str, args: list, client: tuple[str, int]) -> None:
        started = time.perf_counter()
        try:
            self.protocol.handle(address, args, client)
        except Exception as exc:
            if is_domain_error(exc):      # the client's mistake: one line, no traceback
                self.error(client, address, str(exc) or type(exc).__name__)
            else:                         # a bug: one line back, the traceback once in the log
                self.error(client, address, self.bugs.report(exc, address))
        elapsed = time.perf_counter() - started
        if elapsed > 0.05:
            log.debug("%s took %.1f ms", address, elapsed * 1e3)

    def error(self, client: tuple[str, int], address: str, message: str) -> None:
        """Answer once with ``/lb/error``; the log line is rate-limited (a flood of bad
        datagrams must not fill the disk)."""
        self.errors += 1
        message = one_line(message)
        address = one_line(address, 120)
        self._bad_log("%s from %s:%s: %s", address, client[0], client[1], message)
        self.reply(client, "/lb/error", [address, message])

