"""One client's session: its model, its two clip slots, its parameters and its stream.

    >>> from bridge.session import Session
    >>> s = Session()
    >>> s.set("mode", "interpolate"); s.set("position", 0.25)
    >>> s.params().mode, s.params().position
    ('interpolate', 0.25)

Every setter validates and raises :class:`SessionError` (one line, sent back as ``/lb/error``).
``params()`` returns an immutable snapshot, so the worker reads one consistent set per clip.
Defaults come from :mod:`runtime.defaults`, as render's; the temperature follows the mode (each
tool's own, follow mode's answer's) until the client sets ``temperature`` itself::

    >>> s.set("mode", "vary"); s.params().temperature        # vary's default
    0.5
    >>> s.set("temperature", 0.8); s.set("mode", "sample"); s.params().temperature
    0.8

Each device registered with ``/lb/hello`` has its own session (:mod:`bridge.sessions`); the
fields below the slots are the worker's bookkeeping of that session's stream.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from runtime.defaults import default
from runtime.music import Clip

from .errors import BridgeError

MODES = ("sample", "interpolate", "vary", "continue", "groove", "drumify", "follow")
# what follow mode may answer the player with (each a tool the model must offer)
ANSWERS = ("vary", "continue", "groove", "drumify")
SLOTS = ("A", "B")
MAX_CONTINUE_BARS = 64       # as runtime.engine's continue_
MAX_FOLLOW_BARS = 16


def modes_for(engine) -> list[str]:
    """The modes ``engine`` can serve, in the order of :data:`MODES` (what ``/lb/modes`` lists):
    each tool the engine offers (``Engine.offers``), and ``follow`` wherever it has an answer::

        >>> modes_for(Engine.load("mel_2bar"))
        ['sample', 'interpolate', 'vary', 'continue', 'follow']
        >>> modes_for(Engine.load("groove_2bar"))
        ['sample', 'interpolate', 'vary', 'groove', 'follow']
    """
    return [mode for mode in MODES
            if (answers_for(engine) if mode == "follow" else engine.offers(mode))]


def answers_for(engine) -> list[str]:
    """What follow mode can answer with on ``engine``, in the order of :data:`ANSWERS`."""
    return [answer for answer in ANSWERS if engine.offers(answer)]


class SessionError(BridgeError):
    """A parameter or slot request that cannot be honoured; one line for the user."""


def mode_temperature(mode: str, answer: str = "vary") -> float:
    """The temperature a session plays ``mode`` at until its client sets one (runtime.defaults:
    the tool's own default; follow mode: that of its answer)::

        >>> [mode_temperature(m) for m in ("sample", "vary")], mode_temperature("follow", "groove")
        ([1.0, 0.5], 0.5)
    """
    return float(default(answer if mode == "follow" else mode, "temperature"))


@dataclass(frozen=True)
class Params:
    mode: str = "sample"
    position: float = 0.5        # interpolation: 0 = slot A, 1 = slot B
    temperature: float = mode_temperature("sample")   # the mode's until a client sets one
    bars: int = 0                # bars per /lb/generate result; 0 = the model's bars
    seed: int = -1               # -1 = fresh randomness
    amount: float = default("vary", "amount")         # size of a variation
    continue_bars: int = default("continue", "bars")  # continue: bars added to the clip
                                                      # (streamed: bars per phrase)
    follow_bars: int = 2         # follow: the last N played bars are the call, every N bars
    answer: str = "vary"         # follow: what answers the call (one of ANSWERS)
    channel: int = 0             # MIDI channel 0..15 of streamed notes
    midi_out: bool = True
    osc_out: bool = True


@dataclass
class Slot:
    clip: Clip | None = None
    z: np.ndarray | None = None   # [z_size] code of the clip under the loaded model


@dataclass(eq=False)        # compared and hashed by identity: one object per client
class Session:
    _params: Params = field(default_factory=Params)
    slots: dict = field(default_factory=lambda: {name: Slot() for name in SLOTS})
    lock: threading.Lock = field(default_factory=threading.Lock)
    engine: Any = None            # the model this session plays (runtime.engine.Engine)
    id: int = 0                   # 0: the shared session of unregistered clients
    reply: tuple | None = None    # the registered reply address (host, port); None for id 0
    source: tuple | None = None   # the address its /lb/hello came from
    pinned: bool = False          # later requests came from `source` too (a fixed-port client)
    last_seen: float = field(default_factory=time.monotonic)
    last_sender: tuple | None = None   # id 0 only: where streamed bars go without --reply-port
    uploads: dict = field(default_factory=dict)   # slot -> its unfinished /lb/clip upload
    temperature_set: bool = False  # a client set /lb/temperature: mode changes keep it
    # the stream, kept by the worker thread only
    streaming: bool = False
    epoch: int = -1               # clock epoch the plan below was made in
    next_bar: int | None = None   # first bar not generated yet
    first_bar: int = 0            # first bar of the current run of generated bars
    last_error: str = ""          # the last /lb/error about the stream (sent once)
    missed_bars: int = 0          # bars handed over after their start had passed
    phrase: Any = None            # continue / follow: the phrase being answered (bridge.tools)
    last_answer: list = field(default_factory=list)   # follow: the bars of the last answer
    quiet: bool = False           # follow: "nothing played" was said for this silence

    @property
    def name(self) -> str:
        """How the log names it: ``127.0.0.1:9001`` or ``unregistered clients``."""
        return f"{self.reply[0]}:{self.reply[1]}" if self.reply else "unregistered clients"

    def params(self) -> Params:
        return self._params

    def set(self, name: str, value) -> None:
        """Validate and set one parameter."""
        if name == "mode":
            if value not in MODES:
                raise SessionError(f"unknown mode {value!r} (one of {', '.join(MODES)})")
            if self.engine is not None and value not in modes_for(self.engine):
                raise SessionError(f"{self.engine.name} does not offer mode {value!r} (it "
                                   f"offers {', '.join(modes_for(self.engine))})")
        elif name in ("position", "amount"):
            value = float(value)
            if not 0.0 <= value <= 1.0:
                raise SessionError(f"{name} must be in 0..1, got {value:g}")
        elif name == "answer":
            if value not in ANSWERS:
                raise SessionError(f"unknown answer {value!r} (one of {', '.join(ANSWERS)})")
            if self.engine is not None and value not in answers_for(self.engine):
                offered = ", ".join(answers_for(self.engine)) or "nothing"
                raise SessionError(f"{self.engine.name} cannot answer with {value!r} (it "
                                   f"answers with {offered})")
        elif name in ("continue_bars", "follow_bars"):
            value, top = int(value), (MAX_CONTINUE_BARS if name == "continue_bars"
                                      else MAX_FOLLOW_BARS)
            if not 1 <= value <= top:
                raise SessionError(f"{name.replace('_', ' ')} must be in 1..{top}, got {value}")
        elif name == "temperature":
            value = float(value)
            if not 0.0 <= value <= 10.0:   # 0 = argmax decoding, as in runtime.render
                raise SessionError(f"temperature must be in 0..10, got {value:g}")
            self.temperature_set = True
        elif name == "bars":
            value = int(value)
            if value < 0:
                raise SessionError(f"bars must be positive, got {value}")
        elif name == "seed":
            value = int(value)
            if value < -1:
                raise SessionError(f"seed must be >= 0, or -1 for fresh randomness; got {value}")
        elif name == "channel":
            value = int(value)
            if not 1 <= value <= 16:
                raise SessionError(f"channel must be in 1..16, got {value}")
            value -= 1
        elif name in ("midi_out", "osc_out"):
            value = bool(value)
        else:
            raise SessionError(f"unknown parameter {name!r}")
        with self.lock:
            changes = {name: value}
            if name in ("mode", "answer") and not self.temperature_set:
                # a mode (or follow's answer) brings its own temperature until a client sets one
                mode = value if name == "mode" else self._params.mode
                answer = value if name == "answer" else self._params.answer
                changes["temperature"] = mode_temperature(mode, answer)
            self._params = replace(self._params, **changes)

    def slot(self, name: str) -> Slot:
        if name not in SLOTS:
            raise SessionError(f"unknown slot {name!r} (A or B)")
        return self.slots[name]

    def set_slot(self, name: str, clip: Clip | None, z: np.ndarray | None) -> None:
        self.slot(name)
        with self.lock:
            self.slots[name] = Slot(clip, z)

    def slot_notes(self, name: str) -> int:
        clip = self.slot(name).clip
        return 0 if clip is None else len(clip.notes)
