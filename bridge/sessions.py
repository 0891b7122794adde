"""The bridge's sessions: one per device, keyed by the reply address it registered.

Every device that says ``/lb/hello i:port`` gets its own :class:`~bridge.session.Session` (model,
slots, settings, stream), keyed by ``(its host, port)``; clients that never said hello share one
more, the session of unregistered clients (``sessions.default``)::

    >>> from bridge.sessions import Sessions
    >>> sessions = Sessions(engine)
    >>> device, dropped = sessions.hello(("127.0.0.1", 53122), 9001)   # hello from 53122
    >>> sessions.resolve(("127.0.0.1", 53122)) is device                # later requests
    True
    >>> sessions.resolve(("127.0.0.1", 40000)) is device   # another port: the one hello there
    True
    >>> sessions.listeners(device)                         # where its bars and errors go
    [('127.0.0.1', 9001)]

Which session a request belongs to (docs/osc.md, Sessions):

1. the session whose reply port it came from, or whose ``/lb/hello`` came from its port (a
   device sending from a fixed port: such a session is *pinned*);
2. else, from the same host, the one registered session that is not pinned (a script that says
   hello once and sends every message from a new port, as liblo's ``oscsend``);
3. else the session of unregistered clients.

A registered session that sends nothing for ``timeout_s`` seconds is dropped (``expire``), and
so is the oldest when more than ``limit`` are registered; the caller stops its notes.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict

from .session import Session

MAX_SESSIONS = 16          # registered reply ports; the oldest is dropped beyond
SESSION_TIMEOUT_S = 30.0   # a registered session silent this long is dropped (the device pings
                           # every 3 s); 0 = never


class Sessions:
    """Thread-safe registry of the sessions; see the module docstring."""

    def __init__(self, engine, fixed_targets=(), timeout_s: float = SESSION_TIMEOUT_S,
                 limit: int = MAX_SESSIONS):
        self.engine = engine                  # the model every new session starts with
        self.default = Session(engine=engine)
        self.fixed_targets = list(fixed_targets)   # --reply-port: the default session's ear
        self.timeout_s = timeout_s
        self.limit = limit
        self._registered: OrderedDict[tuple, Session] = OrderedDict()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- registration ------------------------------------------------------------------------
    def hello(self, client: tuple, port: int) -> tuple[Session, list[Session]]:
        """Register (or refresh) the session replying to ``port`` on the client's host; returns
        it and the sessions dropped to stay within ``limit`` (oldest first)."""
        key = (client[0], port)
        dropped = []
        with self._lock:
            session = self._registered.pop(key, None)
            if session is None:
                session = Session(engine=self.engine, id=next(self._ids), reply=key)
            session.source = client
            session.pinned = client == key
            session.last_seen = time.monotonic()
            self._registered[key] = session
            while len(self._registered) > self.limit:
                dropped.append(self._registered.popitem(last=False)[1])
        return session, dropped

    def bye(self, session: Session) -> bool:
        """Drop a registered session (``/lb/bye``); False for the default one."""
        with self._lock:
            if session.reply is None or self._registered.get(session.reply) is not session:
                return False
            del self._registered[session.reply]
            return True

    def expire(self, now: float | None = None) -> list[Session]:
        """Drop and return the registered sessions silent for ``timeout_s``."""
        if self.timeout_s <= 0:
            return []
        now = time.monotonic() if now is None else now
        with self._lock:
            gone = [s for s in self._registered.values() if now - s.last_seen > self.timeout_s]
            for session in gone:
                del self._registered[session.reply]
        return gone

    # -- lookup ------------------------------------------------------------------------------
    def _lookup(self, client: tuple) -> Session:
        session = self._registered.get(client)
        if session is not None:
            return session
        same_host = []
        for session in self._registered.values():
            if session.source == client:
                return session
            if session.reply[0] == client[0]:
                same_host.append(session)
        roaming = [s for s in same_host if not s.pinned]
        return roaming[0] if len(roaming) == 1 else self.default

    def find(self, client: tuple) -> Session:
        """The session a datagram from ``client`` belongs to (no side effects)."""
        with self._lock:
            return self._lookup(client)

    def resolve(self, client: tuple) -> Session:
        """:meth:`find` for a request: the session counts as alive, a fixed port pins it."""
        with self._lock:
            session = self._lookup(client)
            session.last_seen = time.monotonic()
            if session.source == client:
                session.pinned = True
            if session is self.default:
                session.last_sender = client
            return session

    def get(self, reply: tuple) -> Session | None:
        """The session registered with reply address ``reply``, if any."""
        with self._lock:
            return self._registered.get(tuple(reply))

    def all(self) -> list[Session]:
        """Every session, the default one first."""
        with self._lock:
            return [self.default, *self._registered.values()]

    def __len__(self) -> int:
        """Registered sessions (the default one not counted)."""
        return len(self._registered)

    # -- where messages go -------------------------------------------------------------------
    def listeners(self, session: Session) -> list[tuple]:
        """Where a session's unsolicited messages go (``/lb/bar``, stream errors): its reply
        port; for the default session ``--reply-port``, else the last client that sent."""
        if session.reply is not None:
            return [session.reply]
        if self.fixed_targets:
            return list(self.fixed_targets)
        return [session.last_sender] if session.last_sender else []

    def reply_targets(self, client: tuple) -> list[tuple]:
        """Where the answer to a request from ``client`` goes: ``client`` itself and the
        listeners of its session (for the default session: ``--reply-port`` only)."""
        session = self.find(client)
        extra = [session.reply] if session.reply is not None else self.fixed_targets
        return list(dict.fromkeys([client, *extra]))
