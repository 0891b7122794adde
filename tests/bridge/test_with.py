"""``with`` blocks (mido's style) for the bridge's ports, sender, worker and the whole bridge: the
block's end silences, joins and releases, whatever happened inside."""

from __future__ import annotations

import socket
import time

import pytest
import rtmidi

from bridge.clock import Clock
from bridge.midi import MidiOutput, NoOutput, open_ports
from bridge.scheduler import Scheduler, note_events


def _our_ports() -> int:
    """How many JACK ports named like the bridge's output exist now."""
    probe = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="with-probe")
    try:
        return sum("latentbridge out" in name for name in probe.get_ports())
    finally:
        probe.delete()


@pytest.mark.jack
def test_ports_and_scheduler_close_at_the_end_of_their_blocks(jack, midi_receiver):
    before = _our_ports()
    clock = Clock(tempo=240.0)
    with open_ports(api="jack", use_input=False) as ports:
        assert isinstance(ports, MidiOutput) and _our_ports() == before + 1
        receiver = midi_receiver()
        with Scheduler(clock, ports) as sched:          # started by the block
            assert sched.is_alive()
            sched.submit(note_events([(60, 0.0, 16.0, 100)], offset=0.0, channel=3))  # 4 s long
            clock.start(0.0, now=time.perf_counter() + 0.02)
            deadline = time.monotonic() + 2.0
            while not receiver.notes_on() and time.monotonic() < deadline:
                time.sleep(0.01)
        assert not sched.is_alive() and not ports.closed
        time.sleep(0.05)
        messages = [m for _, m in receiver.events]
        assert messages[0] == [0x93, 60, 100]
        assert [0x83, 60, 0] in messages               # the held note ended by the block's end
        assert messages[-16:] == [[0xB0 | c, 123, 0] for c in range(16)]
    assert ports.closed and _our_ports() == before


def test_a_bridge_serves_for_its_block_and_frees_its_port(engine):
    from pythonosc.osc_message import OscMessage
    from pythonosc.udp_client import SimpleUDPClient

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    from bridge.app import Bridge

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5.0)
        client = SimpleUDPClient("127.0.0.1", port)
        client._sock = sock                              # replies come back to this socket
        with Bridge(engine, port=port, midi=False, sender="thread") as bridge:
            assert isinstance(bridge.scheduler.out, NoOutput)
            assert bridge.worker.is_alive() and bridge.scheduler.is_alive()
            client.send_message("/lb/ping", [])
            assert OscMessage(sock.recv(65536)).address == "/lb/pong"
        assert not bridge.worker.is_alive() and not bridge.scheduler.is_alive()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(("127.0.0.1", port))                 # the OSC port is free again
