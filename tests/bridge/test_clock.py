"""The playhead: internal clock, MIDI clock bytes and OSC transport, with explicit times."""

from __future__ import annotations

import pytest

from bridge.clock import Clock

TICK, START, CONTINUE, STOP, SPP = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2


def test_internal_clock_start_stop_tempo():
    clock = Clock(tempo=120.0)
    assert clock.start(0.0, now=10.0)
    assert clock.state.beat_at(11.0) == pytest.approx(2.0)
    assert clock.time_at(4.0) == pytest.approx(12.0)
    clock.set_tempo(60.0, now=11.0)                  # from beat 2 on, one beat a second
    assert clock.state.beat_at(13.0) == pytest.approx(4.0)
    epoch = clock.state.epoch
    assert clock.stop(now=13.0)
    assert not clock.playing and clock.state.beat_at(20.0) == pytest.approx(4.0)
    assert clock.state.epoch == epoch + 1            # stop is a discontinuity


def test_midi_clock_drives_the_playhead_and_outranks_the_internal_clock():
    clock = Clock(tempo=120.0)
    clock.start(0.0, now=0.0)
    period = 60.0 / (150.0 * 24)                     # MIDI clock at 150 BPM
    t = 1.0
    clock.midi_message(START, now=t)
    assert clock.state.source == "midi" and clock.playing and clock.beat_at(t) == 0.0
    assert not clock.start(0.0, now=t)               # the internal clock yields to a master
    for _ in range(48):                              # the first tick after start is beat 0
        clock.midi_message(TICK, now=t)
        t += period
    last = t - period
    assert clock.state.anchor_beat == pytest.approx(47 / 24)
    assert clock.state.tempo == pytest.approx(150.0, rel=1e-6)
    assert clock.state.beat_at(last + 0.2) == pytest.approx(47 / 24 + 0.5)

    clock.midi_message(STOP, now=t)
    assert not clock.playing and clock.beat_at(t + 5) == pytest.approx(47 / 24)
    clock.midi_message(SPP, [16, 0], now=t + 0.1)    # 16 sixteenths = beat 4
    assert clock.beat_at(t + 0.2) == pytest.approx(4.0)
    clock.midi_message(CONTINUE, now=t + 0.3)
    clock.midi_message(TICK, now=t + 0.3)
    clock.midi_message(TICK, now=t + 0.3 + period)
    assert clock.playing and clock.state.anchor_beat == pytest.approx(4.0 + 1 / 24)


def test_osc_transport_outranks_midi_and_silence_falls_back():
    clock = Clock(tempo=100.0)
    clock.transport(True, 8.0, 90.0, 3, 4, now=5.0)
    state = clock.state
    assert (state.source, state.playing, state.tempo, state.beats_per_bar) == ("osc", True, 90.0,
                                                                               3.0)
    clock.midi_message(START, now=5.1)               # ignored while the device reports
    assert clock.state.source == "osc" and clock.beat_at(6.0) == pytest.approx(9.5)
    epoch = clock.state.epoch
    clock.transport(True, 9.51, 90.0, 3, 4, now=6.0)  # jitter: no discontinuity
    assert clock.state.epoch == epoch
    clock.transport(True, 32.0, 90.0, 3, 4, now=6.1)  # relocation
    assert clock.state.epoch == epoch + 1 and clock.beat_at(6.1) == pytest.approx(32.0)
    clock.check_masters(now=6.5)
    assert clock.state.source == "osc"
    clock.check_masters(now=8.0)                     # a second and more of silence
    assert clock.state.source == "internal" and not clock.playing
    assert clock.start(0.0, now=9.0)
