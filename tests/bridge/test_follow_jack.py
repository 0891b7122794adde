"""Follow mode (issue 15, item 4) through a real jackd: a second JACK client plays a call into
"latentbridge in" on the bridge's clock, and what comes out of "latentbridge out" in the next
bars must be an answer to it: a variation that shares most of its pitches, a continuation that
is the engine's own, a groove that keeps the played hits. 240 BPM: a bar lasts one second."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from bridge.tools import window
from runtime.midi_io import read_midi
from runtime.quantize import to_steps

pytestmark = pytest.mark.jack
TEMPO = 240.0
JACK_PERIOD_S = 256 / 48000


def _bar_of(shared_data, tune: str, bar: int):
    """One bar of a real Nottingham tune (4/4), from beat 0."""
    return read_midi(shared_data / "nottingham" / "melody" / tune).slice(4.0 * bar, 4.0 * bar + 4)


class Player:
    """Plays clips into the bridge's input at their song beats on the bridge's clock, each on a
    thread of its own; ``stop`` ends them (before the port they play into is closed)."""

    def __init__(self, daw, clock):
        self.daw, self.clock = daw, clock
        self.threads = []
        self.stopped = threading.Event()

    def play(self, clip, at_bar: int, channel: int = 0) -> None:
        events = []
        for n in clip.notes:
            events.append((4.0 * at_bar + n.start, [0x90 | channel, n.pitch, n.velocity]))
            events.append((4.0 * at_bar + min(n.end, 3.9), [0x80 | channel, n.pitch, 0]))
        events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90))
        thread = threading.Thread(target=self._run, args=(events,), daemon=True)
        thread.start()
        self.threads.append(thread)

    def _run(self, events):
        for beat, message in events:
            due = self.clock.time_at(beat)
            while (left := due - time.perf_counter()) > 0:
                if self.stopped.wait(min(left, 0.002)):
                    return
            self.daw.send(message)

    def join(self):
        for thread in self.threads:
            thread.join(10)

    def stop(self):
        self.stopped.set()
        self.join()


@pytest.fixture
def players(midi_sender):
    """Factory of Players; they stop before ``midi_sender`` closes their port (a thread still
    sending into a deleted rtmidi port would crash the test process)."""
    made = []

    def make(daw, clock):
        made.append(Player(daw, clock))
        return made[-1]
    yield make
    for player in made:
        player.stop()


@pytest.fixture(scope="module")
def mel_2bar():
    """mel_2bar for the expected results (the bridge's engine is its worker's alone)."""
    from runtime.engine import Engine

    return Engine.load("mel_2bar", threads=1)


def _start(make_bridge, midi_receiver, midi_sender, players, model=None, **settings):
    """A bridge streaming in follow mode (with ``model``, then ``settings``: OSC address ->
    value), its client, a receiver on its output and a player on its input, once the clock
    runs."""
    bridge, client = make_bridge(midi=True, tempo=TEMPO)
    receiver, daw = midi_receiver(), midi_sender()
    client.hello()
    if model is not None:
        client.send("/lb/model", str(model))
        client.expect("/lb/model/loaded", timeout=20)
    for address, value in settings.items():
        client.send(address, value)
    client.send("/lb/mode", "follow")
    client.send("/lb/stream", 1)
    deadline = time.monotonic() + 5
    while not bridge.clock.state.playing and time.monotonic() < deadline:
        time.sleep(0.005)
    assert bridge.clock.state.playing
    return bridge, client, receiver, players(daw, bridge.clock)


def _listen(client, until_beat, clock, at=None):
    """Planned bars {bar: [(pitch, start, duration, velocity)]}, errors and the other messages
    heard until the playhead passes ``until_beat``; ``at = (beat, address)`` sends a request
    once the playhead passes ``beat``. The stream stops then; ``clock.played`` keeps the
    snapshot of the clock that ran (beats of the notes heard)."""
    bars, errors, other = {}, [], []
    while clock.beat_at() < until_beat:
        if at is not None and clock.beat_at() >= at[0]:
            client.send(at[1])
            at = None
        got = client.receive(0.02)
        if got is None:
            continue
        if got[0] == "/lb/bar":
            values = got[1][2:]
            bars.setdefault(got[1][0], []).extend(tuple(values[i:i + 4])
                                                  for i in range(0, len(values), 4))
        elif got[0] == "/lb/error":
            errors.append(got[1])
        elif got[0] != "/lb/bar/end":
            other.append(got)
    clock.played = clock.state
    client.send("/lb/stream", 0)
    return bars, errors, other


def _played(receiver, clock, bar):
    """(pitch, beat in the bar, status byte) of the note-ons heard in song ``bar``."""
    out = []
    for t, m in receiver.notes_on():
        beat = clock.played.beat_at(t)
        if 4.0 * bar - 0.05 <= beat < 4.0 * bar + 3.95:
            out.append((m[1], beat - 4.0 * bar, m[0]))
    return out


def _on_time(receiver, clock, planned):
    """Arrival minus planned time of each planned note, matched in order of time."""
    ons = sorted((t, m[1]) for t, m in receiver.notes_on())
    late = []
    for beat, pitch in sorted(planned):
        t = clock.played.time_at(beat)
        match = [a for a, p in ons if p == pitch and abs(a - t) < 0.1]
        assert match, (beat, pitch)
        late.append(min(match, key=lambda a: abs(a - t)) - t)
    return np.array(late)


def test_follow_answers_each_call_with_a_variation(make_bridge, midi_receiver, midi_sender,
                                                  players, shared_data):
    call_1 = _bar_of(shared_data, "ashover10.mid", 1)
    call_2 = _bar_of(shared_data, "ashover20.mid", 1)
    bridge, client, receiver, player = _start(
        make_bridge, midi_receiver, midi_sender, players,
        **{"/lb/follow/bars": 1, "/lb/amount": 0.1, "/lb/temperature": 0.0, "/lb/seed": 1})
    player.play(call_1, at_bar=1)         # bar 2 answers it; nothing is played in bar 2, so
    player.play(call_2, at_bar=3)         # bar 3 plays that answer again; bar 4 answers call 2
    # during bar 2, /lb/generate answers the last complete bar: call 1 (one bar)
    bars, errors, other = _listen(client, 20.5, bridge.clock, at=(8.5, "/lb/generate"))
    player.join()
    time.sleep(0.1)
    receiver.close()

    def share(notes, call):
        """The part of ``notes`` ((pitch, beat) pairs) whose pitch the call plays (the two calls
        share one pitch of their nine)."""
        return sum(p in {n.pitch for n in call.notes} for p, _ in notes) / max(1, len(notes))

    heard = {b: _played(receiver, bridge.clock, b) for b in range(5)}
    assert not heard[0] and not heard[1]                  # nothing to answer yet
    answer_1 = [(p, b) for p, b, _ in heard[2]]
    assert len(answer_1) >= 4 and share(answer_1, call_1) >= 0.75 > share(answer_1, call_2)
    assert [(p, to_steps(b, 4)) for p, b, _ in heard[3]] == \
        [(p, to_steps(b, 4)) for p, b, _ in heard[2]]
    answer_2 = [(p, b) for p, b, _ in heard[4]]
    assert len(answer_2) >= 4 and share(answer_2, call_2) >= 0.75 > share(answer_2, call_1)
    assert answer_2 != answer_1
    # what the device was told is what played, on time (a 32nd of warning is enough)
    planned = [(4.0 * b + s, p) for b in (2, 3, 4) for p, s, _, _ in bars[b]]
    late = _on_time(receiver, bridge.clock, planned)
    assert np.median(late) < 2 * JACK_PERIOD_S and late.max() < 0.05, late
    assert bridge.worker.missed_bars == 0
    # "nothing played" is said once per silence: before bar 0 (bars 0 and 1 stay silent), and
    # before bars 3 and 5, where the last answer plays again
    quiet = [e[1] for e in errors if e[1].startswith('follow: heard nothing on "latentbridge in"')]
    assert [q.split("before ")[1].split(";")[0] for q in quiet] == ["bar 0", "bar 3", "bar 5"]
    assert "stays silent" in quiet[0] and "plays its last answer again" in quiet[1], errors
    result = [args for address, args in other if address.startswith("/lb/result/")]
    notes = [v for a in result[1:-1] for v in a[1:]]
    assert result[0][1:] == [4.0, len(notes) // 4] and len(notes) >= 16
    assert share(list(zip(notes[0::4], notes[1::4])), call_1) >= 0.75


def test_follow_continues_the_call_as_the_engine_does(make_bridge, midi_receiver, midi_sender,
                                                     players, shared_data, mel_2bar):
    call = _bar_of(shared_data, "ashover14.mid", 1)
    bridge, client, receiver, player = _start(
        make_bridge, midi_receiver, midi_sender, players,
        **{"/lb/follow/bars": 1, "/lb/temperature": 0.0, "/lb/follow/answer": "continue"})
    player.play(call, at_bar=1)
    bars, errors, _ = _listen(client, 16.5, bridge.clock)
    player.join()
    heard = bridge.recorder.between(4.0, 8.0)        # the call as the bridge recorded it
    assert [n.pitch for n in heard.notes] == [n.pitch for n in call.notes]
    expected = mel_2bar.continue_(window(heard, 0, 1, 4.0), 1, temperature=0.0)
    assert [(p, round(s, 3)) for p, s, _, _ in bars[2]] == \
        [(n.pitch, round(n.start - 4.0, 3)) for n in expected.notes if n.start >= 4.0]
    assert bars[2] and bars[3] == bars[2]           # nothing played in bar 2: answered again
    played = [p for p, _, _ in _played(receiver, bridge.clock, 2)]
    receiver.close()
    assert played == [p for p, *_ in bars[2]]


def test_follow_grooves_the_played_hits(make_bridge, midi_receiver, midi_sender, players,
                                        shared_data, groove_bundles):
    """Drums played into the bridge come back in the next bar with the same hits, played by
    the groove model (its velocities and timing), on the drum channel."""
    take = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*beat*.mid"))[0]
    hits = {(n.pitch, to_steps(n.start, 4)) for n in read_midi(take).slice(4.0, 8.0).notes
            if n.pitch in (36, 38, 42, 46, 51) and to_steps(n.start, 4) < 16}
    assert len(hits) >= 6
    from runtime.music import Clip, Note

    call = Clip([Note(p, s / 4, s / 4 + 0.1, 100, is_drum=True) for p, s in sorted(hits)],
                length=4.0, is_drum=True)
    bridge, client, receiver, player = _start(
        make_bridge, midi_receiver, midi_sender, players, model=groove_bundles["groove"],
        **{"/lb/follow/bars": 1, "/lb/follow/answer": "groove"})
    player.play(call, at_bar=1, channel=9)
    bars, errors, _ = _listen(client, 12.2, bridge.clock)
    player.join()
    played = _played(receiver, bridge.clock, 2)
    receiver.close()
    answer = {(p, to_steps(s, 4)) for p, s, _, _ in bars[2]}
    assert answer == hits
    assert len({v for *_, v in bars[2]}) > 1               # the model's velocities, not 100s
    assert sorted(p for p, _, _ in played) == sorted(p for p, _ in hits)
    assert all(status == 0x99 for _, _, status in played)  # drums on channel 10
