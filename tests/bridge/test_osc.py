"""The OSC protocol of docs/osc.md, driven over real UDP from a separate client socket."""

from __future__ import annotations

import random
import struct

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.osc import OscArgError, parse_args
from runtime.midi_io import read_midi


def _melody(shared_data, name="ashover1.mid", bars=2):
    clip = read_midi(shared_data / "nottingham" / "melody" / name)
    return clip.slice(0.0, bars * 4.0)


def test_parse_args_types_and_coercion():
    assert parse_args(["A", 8, 3.0], "sfi") == ["A", 8.0, 3]
    assert parse_args(["A", 60, 0.0, 1, 100, 62, 1.0, 1.0, 90], "s(iffi)*")[5:] == \
        [62, 1.0, 1.0, 90]
    for args, types in ([], "i"), (["A"], "f"), ([1.5], "i"), ([1, 2], "i"), \
                       (["A", 60, 0.0], "s(iffi)*"), ([float("nan")], "f"):
        with pytest.raises(OscArgError):
            parse_args(args, types)


class _Pong:
    """The smallest protocol: answers /lb/ping with /lb/pong."""

    server = None

    def handle(self, address, args, client):
        self.server.reply(client, "/lb/pong", [])


def _returns_within(call, seconds: float) -> bool:
    """Run ``call`` on a thread; False when it is still running after ``seconds`` (a hang
    fails the test instead of stopping the suite)."""
    import threading

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive()


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_close_without_start_returns_and_frees_the_port():
    from bridge.osc import OscServer

    idle = OscServer(_Pong(), port=0)                       # a real bound UDP socket
    port = idle.address[1]
    assert not _port_is_free(port)
    assert _returns_within(idle.close, 5.0), "OscServer.close() hangs when never started"
    assert _port_is_free(port)
    assert _returns_within(idle.close, 5.0)                 # twice is fine

    import socket

    from pythonosc.osc_message import OscMessage

    protocol = _Pong()
    served = protocol.server = OscServer(protocol, port=0)  # started: serves, then closes
    served.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind(("127.0.0.1", 0))
        client.settimeout(5.0)
        client.sendto(OscMessageBuilder("/lb/ping").build().dgram, served.address)
        assert OscMessage(client.recv(65536)).address == "/lb/pong"
    assert _returns_within(served.close, 5.0)
    assert _port_is_free(served.address[1])
    assert _returns_within(served.close, 5.0)


def test_garbage_flood_never_kills_the_server(make_bridge):
    bridge, client = make_bridge(sender="thread")   # no MIDI here: the in-process sender
    rng = random.Random(5)
    bad = []
    for _ in range(150):                                   # random bytes
        bad.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
    good = OscMessageBuilder("/lb/position")
    good.add_arg(0.5)
    dgram = good.build().dgram
    bad += [dgram[:n] for n in range(1, len(dgram))]       # every truncation of a real message
    bad.append(b"/lb/ping\x00\x00\x00\x00,zzz\x00\x00\x00\x00")  # unknown type tags
    bad.append(b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 500) + b"x" * 10)  # lying bundle
    bad.append(b"\x00" * 9000)                             # over the 8 KB limit
    for data in bad:
        client.send_raw(data)
    wrong = [("/lb/nope",), ("/other",), ("/lb/mode", "loud"), ("/lb/mode", 3),
             ("/lb/position", 2.0), ("/lb/position", "x"), ("/lb/temperature", -1.0),
             ("/lb/bars", 99), ("/lb/hello", "x"), ("/lb/hello", 70000), ("/lb/seed", 1.5),
             ("/lb/stream",), ("/lb/transport", 1, 0.0), ("/lb/transport", 1, 0.0, 5000.0, 4, 4),
             ("/lb/clip/notes", "A", 60, 0.0, 1.0, 100), ("/lb/clip/end", "C"),
             ("/lb/clip/begin", "A", -4.0, 2), ("/lb/channel", 17), ("/lb/record", "A", 0),
             ("/lb/tempo", 5.0), ("/lb/output", 1)]
    for message in wrong:
        client.send(*message)
    errors = []
    while (got := client.receive(1.0)) is not None:
        assert got[0] == "/lb/error", got
        errors.append(got[1])
        if len(errors) == len(bad) + len(wrong):
            break
    assert len(errors) == len(bad) + len(wrong)
    assert all(len(e) == 2 and "\n" not in e[1] for e in errors)
    assert ["/lb/nope", "unknown address /lb/nope"] in errors
    assert ["/lb/mode", "unknown mode 'loud' (one of sample, interpolate, vary, continue, groove, "
                         "drumify, follow)"] in errors
    assert ["/lb/mode", "argument 1 should be a string, got int"] in errors
    assert ["/lb/position", "position must be in 0..1, got 2"] in errors
    assert ["/lb/ping", "unsupported OSC type tag(s) z"] in errors
    assert ["/lb/position", "truncated or padded OSC message"] in errors
    assert any("8192-byte limit" in m for a, m in errors if a == "?")
    client.send("/lb/ping")
    assert client.expect("/lb/pong") == []
    assert bridge.server.errors == len(bad) + len(wrong)


def test_session_over_osc(make_bridge, shared_data):
    bridge, client = make_bridge(sender="thread")   # no MIDI here: the in-process sender
    hello = OscClient_listener(client)
    client.send("/lb/hello", hello.port)
    version, model = client.expect("/lb/hello")
    assert model == bridge.engine.name == "mel_2bar" and version
    assert hello.expect("/lb/hello") == [version, model]   # also on the hello port
    session = bridge.sessions.get(("127.0.0.1", hello.port))   # this client's own session
    assert session is not None and session is not bridge.session

    client.send("/lb/models")
    assert client.expect("/lb/models")[0] == "mel_2bar"

    melody_a, melody_b = _melody(shared_data), _melody(shared_data, "ashover2.mid")
    client.upload("A", melody_a, chunk=7)
    assert client.expect("/lb/clip/ok") == ["A", len(melody_a.notes)]
    assert session.slot("A").z.shape == (bridge.engine.z_size,)
    assert bridge.session.slot("A").z is None          # the unregistered clients' slot

    client.send("/lb/clip/get", "A")                       # round trip of the upload
    slot, length, count = client.expect("/lb/clip/begin")
    values = []
    while True:
        address, args = client.receive()
        if address == "/lb/clip/end":
            break
        assert address == "/lb/clip/notes" and args[0] == "A"
        values += args[1:]
    assert (slot, length, count) == ("A", melody_a.length, len(melody_a.notes))
    assert values[0::4] == [n.pitch for n in melody_a.notes]

    # a short transfer is refused with a reason
    client.send("/lb/clip/begin", "B", 8.0, 3)
    client.send("/lb/clip/notes", "B", 60, 0.0, 1.0, 100)
    client.send("/lb/clip/end", "B")
    assert "3 notes announced, 1 received" in client.expect("/lb/error")[1]

    client.send("/lb/mode", "interpolate")
    client.send("/lb/generate")
    assert client.expect("/lb/error") == ["/lb/generate", "interpolate mode needs a clip in slot B"]

    client.upload("B", melody_b, chunk=7)
    client.expect("/lb/clip/ok")
    client.send("/lb/position", 0.3)
    client.send("/lb/temperature", 0.5)
    client.send("/lb/seed", 11)
    client.send("/lb/status")
    status = client.expect("/lb/status")
    assert status[0] == "mel_2bar" and status[5:8] == ["interpolate", pytest.approx(0.3),
                                                        pytest.approx(0.5)]
    assert status[8:] == [2, len(melody_a.notes), len(melody_b.notes), "ok", 0, 0, 0]

    results = []
    for _ in range(2):                                     # same seed, same result
        client.send("/lb/generate")
        rid, length, count = client.expect("/lb/result/begin")
        notes = []
        while True:
            address, args = client.receive()
            if address == "/lb/result/end":
                assert args == [rid]
                break
            assert address == "/lb/result/notes" and args[0] == rid
            notes += args[1:]
        assert length == 8.0 and len(notes) == 4 * count
        assert all(0 <= s < 8.0 for s in notes[1::4]) and all(d > 0 for d in notes[2::4])
        results.append(notes)
    assert results[0] == results[1] and results[0]

    client.send("/lb/mode", "vary")
    client.send("/lb/bars", 1)
    client.send("/lb/generate")
    assert client.expect("/lb/result/begin")[1] == 4.0

    client.send("/lb/model", "no_such_model")
    assert client.expect("/lb/error")[0] == "/lb/model"
    client.send("/lb/model", str(bridge.engine.bundle.path))   # a bundle folder by path
    assert client.expect("/lb/model/loaded", timeout=20) == ["mel_2bar", bridge.engine.kind, 2]
    assert session.slot("B").z is not None                 # slots re-encoded
    hello.close()


class OscClient_listener:
    """A bare receiving socket standing in for the device's reply port."""

    def __init__(self, client):
        import socket

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._client = client

    def expect(self, address, timeout=5.0):
        from pythonosc.osc_message import OscMessage

        self.sock.settimeout(timeout)
        while True:
            message = OscMessage(self.sock.recv(65536))
            if message.address == address:
                return list(message.params)

    def close(self):
        self.sock.close()


def test_device_transport_drives_the_stream(make_bridge):
    import time

    bridge, client = make_bridge(sender="thread")
    client.send("/lb/hello", client.sock.getsockname()[1])
    client.expect("/lb/hello")
    client.send("/lb/transport", 1, 6.0, 240.0, 4, 4)      # Live plays, at beat 6 (bar 1)
    client.send("/lb/stream", 1)
    bars, started = {}, time.monotonic()
    while time.monotonic() - started < 1.6:
        client.send("/lb/transport", 1, 6.0 + (time.monotonic() - started) * 4.0, 240.0, 4, 4)
        while (got := client.receive(0.05)) is not None:
            if got[0] == "/lb/bar":
                bars.setdefault(got[1][0], got[1][1])
            elif got[0] == "/lb/bar/end":
                assert got[1][0] in bars
    client.send("/lb/status")
    status = client.expect("/lb/status")
    assert bridge.clock.state.source == "osc" and status[2] == 1
    assert status[3] == pytest.approx(12.4, abs=0.6) and status[4] == 240.0
    assert sorted(bars)[:3] == [2, 3, 4]                   # from the next bar line on
    assert all(start == 4.0 * index for index, start in bars.items())
    client.send("/lb/transport", 1, 64.0, 240.0, 4, 4)      # the musician jumps to bar 16
    assert client.expect("/lb/bar")[:2] == [16, 64.0]       # re-planned from the new playhead
    client.send("/lb/transport", 0, 65.0, 240.0, 4, 4)      # Live stops
    client.send("/lb/status")
    assert client.expect("/lb/status")[2:4] == [0, 65.0]
