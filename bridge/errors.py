"""What counts as the user's mistake, what counts as our bug, and how each is logged.

A *domain error* (:class:`BridgeError` and its subclasses, the runtime's ``EngineError`` and
``BundleError``) is the answer to bad input: its message is one line for the user, sent back as
``/lb/error`` and logged without a traceback. Anything else is a bug in the bridge: the user still
gets one line (``internal error (see the bridge's log): TypeError``) at the address of the request
that hit it, and the log gets the traceback **once** per place it happened (:class:`BugLog`);
repeats are counted, not logged again. Hostile floods are logged through a :class:`RateLimitedLog`,
which keeps at most a few lines a second and summarises the rest::

    >>> from bridge.errors import BridgeError, is_domain_error, BugLog
    >>> is_domain_error(BridgeError("slot C does not exist"))
    True
    >>> bugs = BugLog(logging.getLogger("bridge"))
    >>> try:
    ...     1 / 0
    ... except Exception as exc:
    ...     line = bugs.report(exc, "/lb/generate")    # traceback logged the first time only
    >>> line
    'internal error (see the bridge log): ZeroDivisionError'
"""

from __future__ import annotations

import logging
import threading
import time
import traceback

from runtime.bundle import BundleError
from runtime.engine import EngineError


class BridgeError(ValueError):
    """Bad input or a request that cannot be honoured: one line for the user, no traceback.

    (A ``ValueError`` for the callers that predate this class.)"""


DOMAIN_ERRORS = (BridgeError, EngineError, BundleError)


def is_domain_error(exc: BaseException) -> bool:
    return isinstance(exc, DOMAIN_ERRORS)


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class BugLog:
    """Logs the traceback of each distinct bug once (keyed by exception type and the place it
    was raised), then only counts it; thread-safe."""

    def __init__(self, logger: logging.Logger):
        self.log = logger
        self._seen: dict[tuple, int] = {}
        self._lock = threading.Lock()
        self.count = 0

    def report(self, exc: BaseException, where: str) -> str:
        """Log ``exc`` (raised while handling ``where``); return the one line for the user."""
        frames = traceback.extract_tb(exc.__traceback__)
        place = (frames[-1].filename, frames[-1].lineno) if frames else ("?", 0)
        key = (type(exc).__name__, place)
        with self._lock:
            self.count += 1
            seen = self._seen.get(key, 0)
            self._seen[key] = seen + 1
        if not seen:
            self.log.error("bug while handling %s (logged once; repeats are counted)", where,
                           exc_info=(type(exc), exc, exc.__traceback__))
        elif seen + 1 in (10, 100, 1000, 10000) or (seen + 1) % 100000 == 0:
            self.log.error("the same bug again while handling %s (%d times)", where, seen + 1)
        return f"internal error (see the bridge log): {type(exc).__name__}"


class RateLimitedLog:
    """At most ``per_second`` lines a second (bursts up to ``burst``); what is held back is
    summarised in one line when logging resumes."""

    def __init__(self, logger: logging.Logger, level: int = logging.WARNING,
                 per_second: float = 2.0, burst: int = 10):
        self.log = logger
        self.level = level
        self.rate = per_second
        self.burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._held = 0
        self._lock = threading.Lock()

    def __call__(self, message: str, *args) -> None:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens < 1.0:
                self._held += 1
                return
            self._tokens -= 1.0
            held, self._held = self._held, 0
        if held:
            self.log.log(self.level, "(%d similar lines not logged)", held)
        self.log.log(self.level, message, *args)
