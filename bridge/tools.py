"""Groove, Drumify, Continue and follow mode's answers, as the bridge plays them bar by bar.

The engine's calls (``Engine.groove``, ``drumify``, ``continue_``, ``vary``) take a clip read beat
for beat as 4/4. A stream plays song bars, in the song's meter, a chunk at a time, so the source
bars of a chunk are first laid out as model bars (:func:`window`), one song bar per 4/4 model
bar, and the answer's model bar ``i`` plays in song bar ``first + i`` (``bridge.worker.bar_notes``
drops what does not fit a shorter song bar)::

    >>> from bridge.tools import window, tool_clip, continued, answer_phrase
    >>> two = window(slot_a, first=5, count=2, per_bar=3.0)  # bars 5, 6 of a 3/4 loop: 8 beats
    >>> grooved = tool_clip(groove_engine, "groove", two, params, seed=1)   # bars line up with two
    >>> added, context = continued(mel_engine, two, 1, params, seed=2)     # the bar after them
    >>> answer = answer_phrase(mel_engine, "vary", call, 4, params, seed=3)  # a 4-bar answer

A source clip loops (as a clip does in Live): song bar ``b`` of a stream reads bar ``b mod L`` of
an ``L``-bar slot. Continue and follow work in phrases (docs/osc.md, Tools): a phrase keeps its
state in a :class:`Phrase` on the session.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from runtime.music import Clip

MODEL_BEATS_PER_BAR = 4.0     # engine clips are 4/4


def song_bars(clip: Clip, per_bar: float) -> int:
    """Whole song bars of ``clip`` in a meter of ``per_bar`` beats (at least one)."""
    return max(1, math.ceil(clip.length / per_bar - 1e-9))


def window(clip: Clip, first: int, count: int, per_bar: float) -> Clip:
    """Song bars ``first .. first + count - 1`` of ``clip`` (modulo its length: it loops), each
    laid out as one 4/4 model bar: a note keeps its place in its bar and its duration; notes
    beyond beat 4 of a longer song bar are dropped (a model bar has four beats)::

        >>> window(Clip([Note(60, 3.0, 4.0)], length=6.0), 1, 2, per_bar=3.0).notes
        [Note(pitch=60, start=4.0, end=5.0, ...), Note(pitch=60, start=8.0, end=9.0, ...)]
    """
    bars = song_bars(clip, per_bar)
    fits = min(per_bar, MODEL_BEATS_PER_BAR)
    notes = []
    for i in range(count):
        origin = ((first + i) % bars) * per_bar
        for n in clip.notes:
            if origin <= n.start < origin + fits:
                start = i * MODEL_BEATS_PER_BAR + n.start - origin
                notes.append(replace(n, start=start, end=start + n.end - n.start))
    return clip.copy(notes=notes, length=count * MODEL_BEATS_PER_BAR, time_signature=(4, 4),
                     tempo_changes=[], meter_changes=[])


def tool_clip(engine, tool: str, source: Clip, params, seed: int | None) -> Clip:
    """``vary``, ``groove`` or ``drumify`` of ``source`` (model bars) on ``engine``: a clip whose
    bars line up with the source's. A source without notes answers silence (a rest in the
    call is no error)."""
    if not source.notes:
        return Clip([], length=source.length)
    if tool == "vary":
        return engine.vary(source, 1, params.amount, params.temperature, seed)[0]
    if tool == "groove":
        return engine.groove(source, params.temperature, seed)
    if tool == "drumify":
        return engine.drumify(source, params.temperature, seed)
    raise ValueError(f"no such tool {tool!r}")


def continued(engine, context: Clip, bars: int, params, seed: int | None) -> tuple[Clip, Clip]:
    """The ``bars`` bars that continue ``context`` (model bars), from beat 0, and the context
    for the bars after them (the music so far: chunk after chunk, at temperature 0 a phrase is
    what one ``Engine.continue_`` call of the phrase's length writes)."""
    whole = engine.continue_(context, bars, params.temperature, seed)
    return whole.slice(whole.length - bars * MODEL_BEATS_PER_BAR, whole.length), whole


def answer_phrase(engine, tool: str, call: Clip, bars: int, params, seed: int | None) -> Clip:
    """A whole answer of ``bars`` bars to ``call`` (model bars), as a stream plays it: continue
    in one go, the other tools window by window of the model's length."""
    if tool == "continue":
        return continued(engine, call, bars, params, seed)[0]
    pieces = []
    for first in range(0, bars, engine.bars):
        count = min(engine.bars, bars - first)
        clip = tool_clip(engine, tool, window(call, first, count, MODEL_BEATS_PER_BAR), params,
                         None if seed is None else seed + first)
        pieces.append(clip.slice(0.0, count * MODEL_BEATS_PER_BAR))
    return Clip.concat(pieces)


def replay(bars: list[Clip], first: int, count: int) -> Clip:
    """Bars ``first .. first + count - 1`` of a recorded answer (one clip per bar, cycled), as
    one clip; silence if there is none."""
    pieces = [bars[(first + i) % len(bars)] if bars else Clip([], length=MODEL_BEATS_PER_BAR)
              for i in range(count)]
    return Clip.concat(pieces)


@dataclass
class Phrase:
    """A phrase of continue or follow mode: song bars ``start .. start + length - 1``.

    ``key`` is what it was made for (mode, answer, start, length): when any of them changes the
    next chunk starts a new phrase. ``source`` is what it answers, in model bars (follow: the
    call, None if nothing was played; continue: slot A); ``context`` the music a continuation
    goes on from; ``bars`` the answer's bars so far (phrase bar -> one-bar clip)."""

    key: tuple
    source: Clip | None
    context: Clip | None = None
    next: int = 0
    bars: dict = field(default_factory=dict)

    @property
    def start(self) -> int:
        return self.key[2]

    @property
    def length(self) -> int:
        return self.key[3]

    def keep(self, first: int, clip: Clip) -> None:
        """Remember the bars of ``clip`` as the phrase's bars from ``first`` on."""
        for i in range(int(round(clip.length / MODEL_BEATS_PER_BAR))):
            self.bars[first + i] = window(clip, i, 1, MODEL_BEATS_PER_BAR)

    def answer(self) -> list[Clip]:
        """The answer's bars in order (a bar never generated is silent)."""
        return [self.bars.get(i) or Clip([], length=MODEL_BEATS_PER_BAR)
                for i in range(self.length)]
