"""Real MIDI through a real jackd: routing, hostile MIDI input, the sender's health (issue 11,
items 7, 8, 11, 12)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from bridge.scheduler import note_events

pytestmark = pytest.mark.jack


def _note_ons(receiver, since: float = 0.0):
    return [(t, m) for t, m in receiver.events if t >= since and m[0] & 0xF0 == 0x90 and m[2]]


# -- item 11: routing -----------------------------------------------------------------------
def test_note_offs_go_before_note_ons_of_the_same_instant(jack_scheduler, hanging_notes):
    """Back-to-back notes of one pitch: each note-off must reach the synth before the next
    note-on of the same instant, or the new note is cut at once."""
    clock, sched, receiver = jack_scheduler(tempo=480.0)   # a beat every 0.125 s
    notes = [(62, i * 0.5, 0.5, 90) for i in range(8)]           # legato, same pitch
    sched.submit(note_events(notes, offset=0.0, channel=0))
    clock.start(0.0, now=time.perf_counter() + 0.05)
    time.sleep(0.7)
    sched.close()
    time.sleep(0.05)
    played = [m for _, m in receiver.events if m[0] & 0xF0 in (0x80, 0x90) and m[1] == 62]
    kinds = ["on" if m[0] & 0xF0 == 0x90 and m[2] else "off" for m in played]
    assert kinds == ["on", "off"] * 8, kinds
    assert not hanging_notes(receiver.events)


def test_streamed_notes_use_the_channel_set_over_osc(make_bridge, midi_receiver):
    bridge, client = make_bridge(midi=True)
    receiver = midi_receiver()
    client.send("/lb/channel", 5)                    # 1-based on the wire: status 0x94
    client.send("/lb/tempo", 400.0)
    client.send("/lb/seed", 2)
    client.send("/lb/stream", 1)
    deadline = time.monotonic() + 4
    while len(_note_ons(receiver)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    client.send("/lb/stream", 0)
    time.sleep(0.1)
    channels = {m[0] & 15 for _, m in _note_ons(receiver)}
    assert channels == {4}, channels


def test_trio_parts_go_to_their_channels(make_bridge, midi_receiver):
    """Melody on the channel set, bass one above it, drums on 10: what goes out over MIDI is
    the model's clip for the seed, part by part."""
    from runtime.engine import Engine

    trio = Engine.load("trio_16bar", threads=1)
    bridge, client = make_bridge(midi=True, chunk=1, ahead=1)
    client.send("/lb/model", "trio_16bar")
    assert client.expect("/lb/model/loaded", timeout=30)[0] == "trio_16bar"
    seed, temperature = 5, 0.5
    clip = trio.sample(1, temperature=temperature, seed=seed)[0]   # the stream's bar-0 clip
    bar0 = [n for n in clip.notes if n.start < 4.0]
    expected = sorted(((9 if n.is_drum else 3 if 32 <= n.program <= 39 else 2), n.pitch)
                      for n in bar0)
    assert any(ch == 3 for ch, _ in expected) and any(ch == 2 for ch, _ in expected), \
        "pick a seed whose first bar has melody and bass"
    receiver = midi_receiver()
    client.send("/lb/channel", 3)
    client.send("/lb/tempo", 240.0)                  # bar 0 lasts 1 s
    client.send("/lb/temperature", temperature)
    client.send("/lb/seed", seed)
    client.send("/lb/status")
    client.expect("/lb/status")
    started = time.perf_counter()
    client.send("/lb/stream", 1)
    time.sleep(0.5)
    bar_end = bridge.clock.state.time_at(4.0)        # bar 1 starts here
    time.sleep(0.8)
    client.send("/lb/stream", 0)
    time.sleep(0.1)
    got = sorted((m[0] & 15, m[1]) for t, m in _note_ons(receiver, started) if t < bar_end)
    assert got == expected, (got, expected)


# -- item 7: a data byte above 127 on the input ----------------------------------------------
def test_bad_midi_input_does_not_poison_recording(make_bridge, midi_sender):
    bridge, client = make_bridge(midi=True)
    daw = midi_sender()
    client.send("/lb/tempo", 240.0)
    client.send("/lb/output", 0, 0)                  # only the recording matters here
    client.send("/lb/stream", 1)                     # the internal clock runs: bar = 1 s
    time.sleep(0.2)
    daw.send([0x90, 201, 100])                       # not MIDI: a data byte above 127
    daw.send([0x90, 61, 200])                        # velocity above 127
    time.sleep(0.05)
    daw.send([0x80, 201, 0])
    for pitch in (60, 64):
        daw.send([0x90, pitch, 90])
        time.sleep(0.1)
        daw.send([0x80, pitch, 0])
    time.sleep(1.0)                                  # into bar 1
    client.send("/lb/record", "A", 1)
    assert client.expect("/lb/clip/ok", timeout=10) == ["A", 2]
    recorded = bridge.session.slot("A").clip
    assert [n.pitch for n in recorded.notes] == [60, 64]
    client.send("/lb/stream", 0)


# -- item 8: start/stop spam ----------------------------------------------------------------
def test_start_stop_spam_does_not_spam_all_notes_off(make_bridge, midi_receiver, midi_sender,
                                                     hanging_notes):
    bridge, client = make_bridge(midi=True)
    receiver = midi_receiver()
    daw = midi_sender()
    client.send("/lb/stream", 1)
    time.sleep(0.3)
    end = time.monotonic() + 2.0
    spam = 0
    while time.monotonic() < end:                     # start/stop as fast as the port takes
        daw.send([0xFA])
        daw.send([0xF8])
        daw.send([0xFC])
        spam += 1
        time.sleep(0.001)
    client.send("/lb/stream", 0)
    time.sleep(0.3)
    cc123 = [m for _, m in receiver.events if m[0] & 0xF0 == 0xB0 and m[1] == 123]
    ons = _note_ons(receiver)
    assert spam > 300
    assert len(cc123) <= 16 + 16 + len(ons), (len(cc123), len(ons), spam)
    assert not hanging_notes(receiver.events)


# -- item 12: the sender's health -----------------------------------------------------------
def test_a_killed_sender_is_reported_and_replaced(make_bridge, midi_receiver):
    bridge, client = make_bridge(midi=True)          # the default: a sender process
    client.send("/lb/hello", client.sock.getsockname()[1])
    client.expect("/lb/hello")
    client.send("/lb/status")
    assert client.expect("/lb/status")[11] == "ok"
    client.send("/lb/tempo", 240.0)
    client.send("/lb/stream", 1)
    time.sleep(0.5)
    os.kill(bridge.scheduler._proc.pid, signal.SIGKILL)    # the child we started: killed
    address, message = client.expect("/lb/error", timeout=10)
    assert address == "/lb/stream" and "sender" in message and "died" in message, message
    client.send("/lb/status")
    status = client.expect("/lb/status")
    assert status[11] == "ok" and bridge.scheduler.restarts == 1, status
    receiver = midi_receiver()                       # the new child's "latentbridge out"
    deadline = time.monotonic() + 5
    while not _note_ons(receiver) and time.monotonic() < deadline:
        time.sleep(0.05)
    client.send("/lb/stream", 0)
    assert _note_ons(receiver), "nothing streamed after the sender was replaced"
