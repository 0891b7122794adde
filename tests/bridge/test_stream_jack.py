"""Real MIDI through a real jackd (dummy driver): the sender, streaming, MIDI clock in, recording.

A second rtmidi client stands in for the DAW: it listens to "latentbridge out" and plays clock
and notes into "latentbridge in". JACK delivers MIDI once per period (256 frames at 48 kHz =
5.3 ms), so arrival times are compared with that slack; the sender's own timestamps are exact.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from bridge.scheduler import note_events

pytestmark = pytest.mark.jack
JACK_PERIOD_S = 256 / 48000


def test_sender_plays_events_at_their_times(jack_scheduler):
    clock, sched, receiver = jack_scheduler(tempo=240.0)   # a beat every 0.25 s
    notes = [(60 + i, i * 0.25, 0.2, 100) for i in range(16)]   # 16ths over one bar
    sched.submit(note_events(notes[8:], offset=0.0, channel=2))   # out of order on purpose
    sched.submit(note_events(notes[:8], offset=0.0, channel=2))
    clock.start(0.0, now=time.perf_counter() + 0.05)
    time.sleep(1.25)
    sched.close()                                    # all notes off on the way out
    time.sleep(0.05)
    ons = receiver.notes_on()
    assert [m for _, m in ons] == [[0x92, 60 + i, 100] for i in range(16)]
    offs = [m for _, m in receiver.events if m[0] == 0x82]
    assert [m[1] for m in offs] == [60 + i for i in range(16)]
    assert [m for _, m in receiver.events[-16:]] == [[0xB0 | c, 123, 0] for c in range(16)]
    arrival = np.array([t - clock.time_at(i * 0.25) for i, (t, _) in enumerate(ons)])
    assert np.median(arrival) < 2 * JACK_PERIOD_S and arrival.max() < 0.05, arrival
    sent = sched.timing_errors()
    assert len(sent) == 32 and np.median(np.abs(sent)) < 0.002, sent


def test_stream_sends_midi_and_bars_with_the_internal_clock(make_bridge, midi_receiver,
                                                           hanging_notes):
    bridge, client = make_bridge(midi=True)
    receiver = midi_receiver()
    try:
        client.send("/lb/hello", client.sock.getsockname()[1])
        client.expect("/lb/hello")
        client.send("/lb/tempo", 240.0)
        client.send("/lb/temperature", 0.5)
        client.send("/lb/seed", 3)
        client.send("/lb/stream", 1)
        bars = {}
        deadline = time.monotonic() + 2.3             # a bar lasts 1 s at 240 BPM
        while time.monotonic() < deadline:
            got = client.receive(0.2)
            if got and got[0] == "/lb/bar":
                index, start, *values = got[1]
                bars.setdefault(index, [start, []])[1].extend(values)
        client.send("/lb/status")
        status = client.expect("/lb/status")
        before = time.perf_counter()
        client.send("/lb/model", str(bridge.engine.bundle.path))   # a model change mid-stream
        client.expect("/lb/model/loaded", timeout=20)
        time.sleep(0.05)
        cut = [m for t, m in receiver.events if t > before]
        client.send("/lb/stream", 0)
        time.sleep(0.1)
    finally:
        receiver.close()
    assert [0xB0, 123, 0] in cut                        # model change: all notes off
    assert status[1:3] == [1, 1] and status[4] == pytest.approx(240.0)
    assert {0, 1, 2} <= set(bars) and bars[0][0] == 0.0 and bars[1][0] == 4.0
    # what went out as MIDI during bars 0 and 1 is what the device was told, at those times
    planned = sorted((start + values[i + 1], values[i]) for start, values in
                     (bars[0], bars[1]) for i in range(0, len(values), 4))
    played = [(t, m[1]) for t, m in receiver.notes_on()][:len(planned)]
    assert planned and [p for _, p in played] == [p for _, p in planned]
    late = np.array([t - bridge.clock.time_at(beat) for (t, _), (beat, _) in zip(played, planned)])
    assert np.median(late) < 2 * JACK_PERIOD_S and late.max() < 0.05, late
    assert bridge.worker.missed_bars == 0 and bridge.scheduler.stats()["missed"] == 0
    # stream off: all notes off (CC 123 on the channel that played) and nothing left sounding
    assert receiver.events[-1][1] == [0xB0, 123, 0] and not hanging_notes(receiver.events)


def test_midi_clock_in_drives_streaming_and_recording(make_bridge, midi_receiver, midi_sender):
    bridge, client = make_bridge(midi=True)
    receiver = midi_receiver()
    daw = midi_sender()
    stop = threading.Event()
    period = 60.0 / (240.0 * 24)

    def clock_thread():                               # the DAW: start, then 24 ticks a beat
        daw.send([0xFA])
        t = time.perf_counter()
        while not stop.is_set():
            daw.send([0xF8])
            t += period
            while time.perf_counter() < t:
                time.sleep(0.0005)

    ticker = threading.Thread(target=clock_thread, daemon=True)
    try:
        ticker.start()
        client.send("/lb/seed", 5)
        client.send("/lb/stream", 1)
        time.sleep(0.2)
        for pitch in (60, 64, 67):                    # the musician plays three notes in bar 0
            daw.send([0x90, pitch, 90])
            time.sleep(0.1)
            daw.send([0x80, pitch, 0])
        time.sleep(0.9)                               # into bar 1 (a bar lasts 1 s)
        client.send("/lb/record", "A", 1)
        assert client.expect("/lb/clip/ok") == ["A", 3]
        time.sleep(0.8)
        client.send("/lb/status")
        status = client.expect("/lb/status")
        stop.set()
        ticker.join()
        daw.send([0xFC])                              # DAW stop
        time.sleep(0.2)
        client.send("/lb/status")
        stopped = client.expect("/lb/status")
    finally:
        stop.set()
        daw.close()
        receiver.close()
    assert bridge.clock.state.source == "midi"
    assert status[2] == 1 and status[4] == pytest.approx(240.0, rel=0.05)
    assert 6.5 < status[3] < 9.5                      # beats since start at 240 BPM, ~2 s
    assert stopped[2] == 0
    recorded = bridge.session.slot("A").clip
    assert [n.pitch for n in recorded.notes] == [60, 64, 67]
    assert all(0.0 <= n.start < 4.0 for n in recorded.notes)
    assert receiver.notes_on(), "nothing streamed while the MIDI clock ran"
    assert [0xB0, 123, 0] in [m for _, m in receiver.events]     # stop: all notes off
