"""Session state: the two clip slots and the generation parameters the musician sets.

    >>> from bridge.session import Session
    >>> s = Session()
    >>> s.set("mode", "interpolate"); s.set("position", 0.25)
    >>> s.params().mode, s.params().position
    ('interpolate', 0.25)

Every setter validates and raises :class:`SessionError` (one line, sent back as ``/lb/error``).
``params()`` returns an immutable snapshot, so the worker reads one consistent set per clip.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

import numpy as np

from runtime.music import Clip

from .errors import BridgeError

MODES = ("sample", "interpolate", "vary")
SLOTS = ("A", "B")


class SessionError(BridgeError):
    """A parameter or slot request that cannot be honoured; one line for the user."""


@dataclass(frozen=True)
class Params:
    mode: str = "sample"
    position: float = 0.5        # interpolation: 0 = slot A, 1 = slot B
    temperature: float = 1.0
    bars: int = 0                # bars per /lb/generate result; 0 = the model's bars
    seed: int = -1               # -1 = fresh randomness
    amount: float = 0.5          # size of a variation
    channel: int = 0             # MIDI channel 0..15 of streamed notes
    midi_out: bool = True
    osc_out: bool = True


@dataclass
class Slot:
    clip: Clip | None = None
    z: np.ndarray | None = None   # [z_size] code of the clip under the loaded model


@dataclass
class Session:
    _params: Params = field(default_factory=Params)
    slots: dict = field(default_factory=lambda: {name: Slot() for name in SLOTS})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def params(self) -> Params:
        return self._params

    def set(self, name: str, value) -> None:
        """Validate and set one parameter."""
        if name == "mode":
            if value not in MODES:
                raise SessionError(f"unknown mode {value!r} (one of {', '.join(MODES)})")
        elif name in ("position", "amount"):
            value = float(value)
            if not 0.0 <= value <= 1.0:
                raise SessionError(f"{name} must be in 0..1, got {value:g}")
        elif name == "temperature":
            value = float(value)
            if not 0.0 <= value <= 10.0:   # 0 = argmax decoding, as in runtime.render
                raise SessionError(f"temperature must be in 0..10, got {value:g}")
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
            self._params = replace(self._params, **{name: value})

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
