"""Several devices on one bridge (issue 12, item 3): two clients registered at two reply ports
at once, over real UDP (and real JACK MIDI for the shared output port). Each has its own slots,
settings, model and stream; its bars and errors reach only it; a stop, a bye or silence ends
only its own notes."""

from __future__ import annotations

import time

import pytest

from runtime.midi_io import read_midi


def _collect(clients, seconds: float) -> dict:
    """Everything each client hears for ``seconds``: {client: [(address, args), ...]}."""
    heard = {c: [] for c in clients}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for c in clients:
            while (got := c.receive(0.0)) is not None:
                heard[c].append(got)
        time.sleep(0.01)
    return heard


def _bars(messages) -> dict:
    """{bar index: [(pitch, start, duration, velocity), ...]} from /lb/bar messages."""
    bars: dict = {}
    for address, args in messages:
        if address == "/lb/bar":
            values = args[2:]
            bars.setdefault(args[0], []).extend(tuple(values[i:i + 4])
                                                for i in range(0, len(values), 4))
    return bars


def _expected_bar(engine, seed: int):
    clip = engine.sample(1, temperature=0.0, seed=seed)[0]
    return [(n.pitch, round(n.start, 3), round(n.end - n.start, 3), n.velocity)
            for n in clip.notes if n.start < 4.0]


def _rounded(notes):
    return [(p, round(s, 3), round(d, 3), v) for p, s, d, v in notes]


def test_each_device_hears_only_its_own_bars_and_errors(make_bridge):
    bridge, a = make_bridge(sender="thread", chunk=1, ahead=1, tempo=400.0)
    b = make_bridge.client(bridge)
    assert a.hello()[1] == b.hello()[1] == "mel_2bar"
    assert len(bridge.sessions) == 2
    a.send("/lb/temperature", 0.0)
    a.send("/lb/seed", 10)
    b.send("/lb/mode", "interpolate")              # b has no clips: its stream fails, a's not
    a.send("/lb/stream", 1)
    b.send("/lb/stream", 1)
    heard = _collect([a, b], 2.5)                  # a bar lasts 0.6 s at 400 BPM
    a.send("/lb/stream", 0)
    b.send("/lb/stream", 0)
    bars_a, bars_b = _bars(heard[a]), _bars(heard[b])
    errors_a = [args for address, args in heard[a] if address == "/lb/error"]
    errors_b = [args for address, args in heard[b] if address == "/lb/error"]
    assert len(bars_a) >= 3 and len(bars_b) >= 3
    assert errors_a == []
    assert errors_b == [["/lb/stream", "interpolate mode needs a clip in slot A"]]   # once
    for index, notes in bars_a.items():            # a's own seed, bar by bar (chunk 1)
        assert _rounded(notes) == _expected_bar(bridge.engine, 10 + index), index
    assert any(bars_a.values())
    assert not any(bars_b.values()), "b heard notes: a's bars leaked into b's session"


def test_slots_settings_and_models_stay_in_their_session(make_bridge, shared_data):
    bridge, a = make_bridge(sender="thread")
    b = make_bridge.client(bridge)
    a.hello()
    b.hello()
    clip = read_midi(shared_data / "nottingham" / "melody" / "ashover1.mid").slice(0.0, 8.0)
    a.upload("A", clip)
    assert a.expect("/lb/clip/ok") == ["A", len(clip.notes)]
    a.send("/lb/mode", "vary")
    a.send("/lb/temperature", 0.3)
    b.send("/lb/model", "drums_2bar")
    assert b.expect("/lb/model/loaded", timeout=30)[0] == "drums_2bar"
    b.send("/lb/mode", "vary")
    b.send("/lb/generate")
    assert b.expect("/lb/error") == ["/lb/generate", "vary mode needs a clip in slot A"]
    a.send("/lb/generate")
    assert a.expect("/lb/result/begin")[1] == 8.0
    a.send("/lb/status")
    b.send("/lb/status")
    status_a, status_b = a.expect("/lb/status"), b.expect("/lb/status")
    assert status_a[0] == "mel_2bar" and status_b[0] == "drums_2bar"
    assert status_a[5:8] == ["vary", 0.5, pytest.approx(0.3)]
    assert status_b[5:8] == ["vary", 0.5, 0.5]     # untouched: vary's own temperature
    assert (status_a[9], status_b[9]) == (len(clip.notes), 0)
    b.send("/lb/clip/get", "A")
    assert b.expect("/lb/clip/begin") == ["A", 0.0, 0]
    for client, model in ((a, "mel_2bar"), (b, "drums_2bar")):
        client.send("/lb/modes")
        assert client.expect("/lb/modes") == ["sample", "interpolate", "vary", "continue", "follow"]
        client.send("/lb/models")
        assert client.expect("/lb/models")[0] == model
    # a client that never said hello has a session of its own too: none of the above
    stranger = make_bridge.client(bridge)
    stranger.send("/lb/status")
    assert stranger.expect("/lb/status")[0:1] + stranger.seen[-1][1][9:11] == ["mel_2bar", 0, 0]


def test_a_stop_or_a_bye_ends_only_that_stream(make_bridge):
    bridge, a = make_bridge(sender="thread", chunk=1, ahead=1, tempo=400.0)
    b = make_bridge.client(bridge)
    a.hello()
    b.hello()
    a.send("/lb/stream", 1)
    b.send("/lb/stream", 1)
    _collect([a, b], 1.0)
    a.send("/lb/stream", 0)
    _collect([a, b], 0.2)                          # what was on its way
    heard = _collect([a, b], 1.5)
    assert not _bars(heard[a]), "a still streams after its /lb/stream 0"
    assert len(_bars(heard[b])) >= 2, "b's stream stopped with a's"
    assert bridge.clock.state.playing
    b.send("/lb/bye")
    assert b.expect("/lb/bye") == []
    _collect([a, b], 0.2)
    heard = _collect([a, b], 1.0)
    assert not _bars(heard[b]) and len(bridge.sessions) == 1
    assert not bridge.clock.state.playing          # nobody streams: the internal clock stops
    b.send("/lb/bye")                              # no session left to end
    assert b.expect("/lb/error")[0] == "/lb/bye"


@pytest.mark.jack
def test_devices_share_the_midi_output_on_their_channels(make_bridge, midi_receiver,
                                                         hanging_notes):
    """Two devices stream to the one MIDI port, on channels 1 and 2. Device 1 goes silent (no
    ping) and is dropped: its notes end, with no CC 123 on device 2's channel, which plays on."""
    bridge, a = make_bridge(midi=True, session_timeout_s=0.8, chunk=1, ahead=1, tempo=400.0)
    b = make_bridge.client(bridge)
    receiver = midi_receiver()
    for client, channel, seed in ((a, 1, 3), (b, 2, 4)):
        client.hello()
        client.send("/lb/channel", channel)
        client.send("/lb/temperature", 1.5)        # busy bars: notes sound most of the time
        client.send("/lb/seed", seed)
        client.send("/lb/stream", 1)
    deadline = time.monotonic() + 4.0
    while bridge.sessions.get(("127.0.0.1", a.port)) is not None:   # a stays silent
        assert time.monotonic() < deadline, "the silent device was not dropped"
        b.send("/lb/ping")                         # b keeps its session alive
        b.drain(0.1)
    dropped_at = time.perf_counter()
    for _ in range(15):                            # b plays on for 1.5 s (2.5 bars)
        b.send("/lb/ping")
        b.drain(0.1)
    b_stops = time.perf_counter()
    b.send("/lb/stream", 0)
    time.sleep(0.3)
    after = [(t, m) for t, m in receiver.events if dropped_at + 0.05 < t]
    before_b_stop = [(t, m) for t, m in receiver.events if t < b_stops]
    channels_on = lambda events: {m[0] & 15 for _, m in events if m[0] & 0xF0 == 0x90 and m[2]}
    assert channels_on(receiver.events) == {0, 1}
    assert channels_on(after) == {1}, "the dropped device still plays (or b stopped)"
    assert [0xB1, 123, 0] not in [m for _, m in before_b_stop], "b's channel was cut"
    until_drop = [(t, m) for t, m in receiver.events if t <= dropped_at + 0.05]
    assert not {k for k in hanging_notes(until_drop) if k[0] == 0}, "a's notes hang"
    assert not hanging_notes(receiver.events)
