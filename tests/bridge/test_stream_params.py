"""Streaming over OSC with the real engine: parameter changes bar by bar, other meters, a lost
master, hostile transport values and a flood of garbage while the stream plays."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from runtime.midi_io import read_midi


def _melody(shared_data, name):
    return read_midi(shared_data / "nottingham" / "melody" / name).slice(0.0, 8.0)


def _upload(client, slot, clip):
    client.upload(slot, clip)
    assert client.expect("/lb/clip/ok")[0] == slot


def _collect_bars(client, seconds, until=None):
    """{bar: [(pitch, start, duration, velocity), ...]} of the /lb/bar messages received."""
    bars: dict[int, list] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = client.receive(0.05)
        if got is None:
            continue
        address, args = got
        if address == "/lb/bar":
            notes = bars.setdefault(args[0], [])
            values = args[2:]
            notes += [tuple(values[i:i + 4]) for i in range(0, len(values), 4)]
        if until is not None and until(bars):
            break
    return bars


def _first_bar(engine, z):
    clip = engine.decode(np.asarray(z, np.float32)[None], temperature=0.0)[0]
    return [(n.pitch, n.start, n.end - n.start, n.velocity) for n in clip.notes if n.start < 4.0]


def test_position_changes_every_bar_with_chunk_1(make_bridge, shared_data):
    """With --chunk 1 --ahead 1 every bar is generated from the position set at that moment."""
    bridge, client = make_bridge(sender="thread", chunk=1, ahead=1, tempo=400.0)
    engine = bridge.engine
    client.send("/lb/hello", client.sock.getsockname()[1])
    client.expect("/lb/hello")
    session = bridge.sessions.get(client.sock.getsockname())
    a, b = _melody(shared_data, "ashover1.mid"), _melody(shared_data, "hpps1.mid")
    _upload(client, "A", a)
    _upload(client, "B", b)
    za, zb = session.slot("A").z, session.slot("B").z
    bar_a, bar_b = _first_bar(engine, za), _first_bar(engine, zb)
    assert bar_a != bar_b
    client.send("/lb/mode", "interpolate")
    client.send("/lb/temperature", 0.0)
    client.send("/lb/position", 0.0)
    client.send("/lb/stream", 1)
    before = _collect_bars(client, 5.0, until=lambda bars: len(bars) >= 2)
    client.send("/lb/position", 1.0)
    changed_at = max(before)
    after = _collect_bars(client, 6.0, until=lambda bars: len(bars) >= 3)
    client.send("/lb/stream", 0)
    approx = lambda notes: [(p, round(s, 4), round(d, 4), v) for p, s, d, v in notes]
    assert all(approx(before[k]) == approx(bar_a) for k in before), (before, bar_a)
    # the bar planned before the change may still play A; from then on every bar is B
    later = sorted(k for k in after if k > changed_at + 1)
    assert later and all(approx(after[k]) == approx(bar_b) for k in later)
    assert bridge.worker.missed_bars == 0


def test_three_four_meter_places_bars_without_overlap(make_bridge):
    bridge, client = make_bridge(sender="thread")
    client.send("/lb/hello", client.sock.getsockname()[1])
    client.expect("/lb/hello")
    client.send("/lb/seed", 3)
    client.send("/lb/temperature", 1.5)        # busy melodies: notes all over the 4/4 bar
    started = time.monotonic()
    client.send("/lb/transport", 1, 0.0, 400.0, 3, 4)
    client.send("/lb/stream", 1)
    bars, starts = {}, {}
    while time.monotonic() - started < 2.5:
        beat = (time.monotonic() - started) * 400.0 / 60.0
        client.send("/lb/transport", 1, beat, 400.0, 3, 4)
        while (got := client.receive(0.03)) is not None:
            if got[0] == "/lb/bar":
                starts[got[1][0]] = got[1][1]
                values = got[1][2:]
                bars.setdefault(got[1][0], []).extend(values[i + 1] for i in range(0, len(values), 4))
    client.send("/lb/stream", 0)
    assert len(bars) >= 4
    assert all(starts[k] == pytest.approx(3.0 * k) for k in starts)
    assert all(0.0 <= s < 3.0 for k in bars for s in bars[k])      # nothing on the next downbeat
    assert any(bars.values())


def test_stream_restarts_after_the_master_is_lost(make_bridge):
    bridge, client = make_bridge(sender="thread")
    client.send("/lb/hello", client.sock.getsockname()[1])
    client.expect("/lb/hello")
    client.send("/lb/transport", 1, 0.0, 240.0, 4, 4)
    client.send("/lb/stream", 1)
    assert client.expect("/lb/bar")[0] == 0
    deadline = time.monotonic() + 5.0                 # the device goes quiet: no more transport
    while bridge.clock.state.source != "internal" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bridge.clock.state.source == "internal" and not bridge.clock.state.playing
    client.drain(0.2)
    client.send("/lb/stream", 1)                      # the user asks again: the music restarts
    assert client.expect("/lb/bar")[:2] == [0, 0.0]
    deadline = time.monotonic() + 2.0
    while not bridge.clock.state.playing and time.monotonic() < deadline:
        time.sleep(0.02)
    assert bridge.clock.state.playing and bridge.worker.streaming


def test_hostile_transport_values_are_refused(make_bridge):
    bridge, client = make_bridge(sender="thread")
    for beat in (1e10, -5.0, float("nan"), float("inf")):
        client.send("/lb/transport", 1, beat, 120.0, 4, 4)
        address, message = client.expect("/lb/error")
        assert address == "/lb/transport"
        assert "beat must be in 0..1e+06" in message or "not a finite number" in message
    client.send("/lb/stream", 1)
    time.sleep(0.3)
    client.send("/lb/status")
    assert client.expect("/lb/status")[0] == "mel_2bar"
    assert bridge.clock.state.source == "internal"
    assert bridge.worker.generated_bars < 10        # no runaway regeneration of one bar


def test_garbage_flood_while_streaming_misses_no_bar(make_bridge):
    bridge, client = make_bridge(sender="thread", tempo=240.0)
    client.send("/lb/stream", 1)
    rng = random.Random(9)
    sent = 0
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and sent < 5000:
        client.send_raw(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))))
        sent += 1
        if sent % 50 == 0:
            client.drain(0.001)
            time.sleep(0.002)
    time.sleep(0.5)
    client.drain(0.2)
    client.send("/lb/ping")
    assert client.expect("/lb/pong") == []
    assert bridge.server.errors >= sent * 0.9       # each answered (a few may be lost by UDP)
    assert bridge.worker.generated_bars >= 4        # ~3.5 s at one bar a second, 2 bars ahead
    assert bridge.worker.missed_bars == 0
    assert bridge.scheduler.stats()["missed"] == 0


@pytest.mark.jack
def test_without_virtual_ports_an_existing_loopmidi_port_is_used(jack):
    """What Windows gets (no virtual ports there): the bridge picks a 'latentbridge' or loopMIDI
    port over the others. Shown on JACK with --no-virtual and real ports of other clients."""
    import rtmidi

    from bridge.midi import existing_port, open_ports

    synth = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="some-synth")
    synth.open_virtual_port("Synth In")
    loop = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="loopmidi-sim")
    loop.open_virtual_port("loopMIDI Port")
    got = []
    loop.set_callback(lambda event, _: got.append(event[0]))
    try:
        time.sleep(0.1)
        with open_ports(virtual=False, api="jack", use_input=False) as ports:
            assert "loopMIDI Port" in ports.out_name
            ports.send([0x90, 60, 100])
            deadline = time.monotonic() + 2.0
            while not got and time.monotonic() < deadline:
                time.sleep(0.01)
            assert got == [[0x90, 60, 100]]
    finally:
        loop.cancel_callback()
        for client in (synth, loop):
            client.close_port()
            client.delete()
    assert existing_port(["Microsoft GS Wavetable Synth", "latentbridge out"], "latentbridge out") == 1
    assert existing_port(["A", "B"], "latentbridge in") == 0 and existing_port([], "x") is None


def test_a_flood_of_valid_requests_is_refused_when_busy(make_bridge):
    """Thousands of /lb/generate at once: the queue stays bounded, the excess gets 'busy', every
    request is answered one way or the other, and the bridge still serves afterwards."""
    import socket

    bridge, client = make_bridge(sender="thread")
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        try:          # room for every reply: this client reads them only after sending all
            client.sock.setsockopt(socket.SOL_SOCKET, option, 8 << 20)
            break
        except (OSError, TypeError):
            continue
    total = 200
    for _ in range(total):
        client.send("/lb/generate")
    results = busy = 0
    deadline = time.monotonic() + 60.0
    while results + busy < total and time.monotonic() < deadline:
        got = client.receive(2.0)
        if got is None:
            continue
        if got[0] == "/lb/result/end":
            results += 1
        elif got[0] == "/lb/error":
            assert got[1][0] == "/lb/generate" and got[1][1].startswith("busy: "), got
            busy += 1
    assert results + busy == total and busy > 0 and results >= 32
    client.send("/lb/ping")
    assert client.expect("/lb/pong") == []
