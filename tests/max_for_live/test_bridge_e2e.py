"""End to end: the device's own OSC messages, as real UDP datagrams, to the real bridge.

The device (latentbridge.js on the simulated Live) captures a real clip and asks for a clip;
the test encodes what it sent with python-osc, sends it to `python -m bridge` (a tiny untrained
model exported from torch, no MIDI ports), and feeds the bridge's replies back to the device,
which writes the generated clip and plays the streamed bars.
"""

import socket
import subprocess
import sys
import time

import numpy as np
import pytest

TRACK = "live_set tracks 0"


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory, shared_data):
    import torch
    from runtime.codecs.melody import MelodyCodec
    from runtime.midi_io import read_midi
    from training.export import export_bundle
    from training.extract import melody_windows
    from training.models.musicvae import MusicVAE, MusicVAEConfig

    torch.set_num_threads(1)
    files = sorted((shared_data / "nottingham" / "melody").glob("*.mid"))[:3]
    windows = np.concatenate([melody_windows(read_midi(f), bars=2) for f in files])
    codec = MelodyCodec()
    torch.manual_seed(0)
    config = MusicVAEConfig(z_size=8, enc_rnn_size=[16], dec_rnn_size=[16], input_depth=codec.input_depth,
                            output_depths=[codec.output_depth], max_seq_len=windows.shape[1])
    return export_bundle(MusicVAE(config).eval(), tmp_path_factory.mktemp("bundle") / "tiny-mel",
                         name="tiny-mel", codec=codec, valid_tokens=windows[:8],
                         data={"source": "nottingham/melody"}, training={"steps": 0})


class Client:
    """A UDP socket standing in for [udpsend]/[udpreceive]."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port, self.bridge = self.sock.getsockname()[1], ("127.0.0.1", port)

    def send(self, dgram):
        self.sock.sendto(dgram, self.bridge)

    def receive(self, helpers, until, timeout=10.0):
        got, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                break
            got.append(helpers["decode"](data))
            if until(got):
                return got
        raise AssertionError(f"no reply for {until.__doc__}; got {[a for a, _ in got]}")


@pytest.fixture
def bridge(tiny_bundle):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "--no-midi", "--port", str(port),
                             "--model", str(tiny_bundle), "--log-level", "warning"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield proc, port
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def client(bridge):
    c = Client(bridge[1])
    yield c
    c.sock.close()


def send_all(client, messages, osc_contract, own_port):
    for address, *args in messages:
        if address == "/lb/hello":          # the device says 9001; here the test socket listens
            args = [own_port]
        client.send(osc_contract.encode(address, args))


def as_steps(replies):
    return [{"handle": address, "args": args} for address, args in replies]


def test_device_and_bridge_capture_generate_write_and_stream(bridge, client, run_device, melody, osc_contract,
                                                             helpers):
    proc = bridge[0]
    live = {"tracks": [{"device": True, "slots": 4,
                        "clips": {"0": {"length": 12.0, "notes": helpers["live_notes"](melody.slice(0, 12.0))}}}],
            "detail_clip": f"{TRACK} clip_slots 0 clip"}

    # The bridge starts in the background: ping until it answers.
    for _ in range(100):
        client.send(osc_contract.encode("/lb/ping", []))
        client.sock.settimeout(0.2)
        try:
            if helpers["decode"](client.sock.recvfrom(65536)[0])[0] == "/lb/pong":
                break
        except socket.timeout:
            assert proc.poll() is None, proc.stderr.read()
    else:
        pytest.fail("the bridge never answered /lb/ping")

    device = run_device({"live": live, "steps": [
        {"init": True}, {"handle": "/lb/modes", "args": ["sample", "interpolate", "vary"]},
        {"handle": "capture_a", "args": [1]}, {"handle": "mode", "args": [2]},
        {"handle": "temperature", "args": [0.5]}]})
    send_all(client, device["osc"], osc_contract, client.port)

    def clip_ok(got):
        """/lb/clip/ok"""
        return any(a == "/lb/clip/ok" for a, _ in got)
    replies = client.receive(helpers, clip_ok)
    assert [r[1] for a, r in replies if a == "/lb/hello"] == ["tiny-mel"]
    notes_sent = sum((len(m) - 2) // 4 for m in device["osc"] if m[0] == "/lb/clip/notes")
    assert ("/lb/clip/ok", ["A", notes_sent]) in replies
    assert not [r for a, r in replies if a == "/lb/error"]

    # Write clip: the device asks for /lb/generate, the bridge answers with a result.
    device = run_device({"live": live, "steps": [{"handle": "write", "args": [1]}]})
    assert device["osc"] == [["/lb/generate"]]
    send_all(client, device["osc"], osc_contract, client.port)

    def result_end(got):
        """/lb/result/end"""
        return any(a == "/lb/result/end" for a, _ in got)
    result = [(a, r) for a, r in client.receive(helpers, result_end) if a.startswith("/lb/result/")]
    written = run_device({"live": live, "clips_out": [f"{TRACK} clip_slots 1 clip"],
                          "steps": [{"handle": "write", "args": [1]}] + as_steps(result)})
    begin = result[0][1]
    clip = written["clips"][f"{TRACK} clip_slots 1 clip"]
    assert clip is not None and clip["props"]["length"] == begin[1]
    expected = [tuple(r[i:i + 4]) for a, r in result if a == "/lb/result/notes" for i in range(1, len(r), 4)]
    assert len(expected) == begin[2] == len(clip["notes"])
    for n, (pitch, start, duration, velocity) in zip(clip["notes"], expected):
        assert (n["pitch"], n["velocity"]) == (pitch, velocity)
        assert n["start_time"] == pytest.approx(start, abs=1e-5) and n["duration"] == pytest.approx(duration, abs=1e-5)

    # Streaming: the device reports Live playing; the bridge sends bars; the device plays them.
    device = run_device({"live": live, "steps": [
        {"init": True}, {"handle": "/lb/pong"}, {"song": "is_playing", "value": 1},
        {"handle": "stream", "args": [1]}, {"advance": 300}]})
    send_all(client, [m for m in device["osc"] if m[0] in ("/lb/transport", "/lb/stream")],
             osc_contract, client.port)

    def two_bars(got):
        """two /lb/bar/end"""
        return sum(a == "/lb/bar/end" for a, _ in got) >= 2
    bars = [(a, r) for a, r in client.receive(helpers, two_bars) if a.startswith("/lb/bar")]
    client.send(osc_contract.encode("/lb/stream", [0]))
    first = min(r[1] for a, r in bars if a == "/lb/bar")
    last_end = max(r[1] + 4.0 for a, r in bars if a == "/lb/bar")
    played = run_device({"live": live, "steps": [
        {"init": True}, {"song": "tempo", "value": 120.0}] + as_steps(bars) + [
        {"song": "current_song_time", "value": first}, {"song": "is_playing", "value": 1},
        {"advance": int((last_end - first) * 500) + 100}]})
    notes = [o["message"] for o in played["play"] if o["message"][0] == "note"]
    final_counts = {r[0]: r[1] for a, r in bars if a == "/lb/bar/end"}    # a resent bar replaces
    expected = sum(final_counts.values())
    assert expected > 0 and len(notes) == expected
    assert proc.poll() is None                                   # the bridge is still up


def test_device_continue_with_the_real_bridge_writes_the_clip_and_its_continuation(
        bridge, client, run_device, melody, osc_contract, helpers):
    """The Mode menu filled from the bridge's own /lb/modes, Continue picked with 3 bars to
    add: the clip written back is the captured clip followed by three new bars."""
    proc = bridge[0]
    live = {"tracks": [{"device": True, "slots": 4,
                        "clips": {"0": {"length": 8.0, "notes": helpers["live_notes"](melody.slice(0, 8.0))}}}],
            "detail_clip": f"{TRACK} clip_slots 0 clip"}
    for _ in range(100):                     # the bridge starts in the background
        client.send(osc_contract.encode("/lb/modes", []))
        client.sock.settimeout(0.2)
        try:
            address, modes = helpers["decode"](client.sock.recvfrom(65536)[0])
            break
        except socket.timeout:
            assert proc.poll() is None, proc.stderr.read()
    else:
        pytest.fail("the bridge never answered /lb/modes")
    assert address == "/lb/modes" and "continue" in modes and "follow" in modes
    device = run_device({"live": live, "steps": [
        {"init": True}, {"handle": "/lb/modes", "args": modes}, {"handle": "capture_a", "args": [1]},
        {"handle": "continue_bars", "args": [3]}, {"handle": "mode", "args": [modes.index("continue")]},
        {"handle": "temperature", "args": [0.5]}, {"handle": "write", "args": [1]}]})
    send_all(client, device["osc"], osc_contract, client.port)

    def result_end(got):
        """/lb/result/end"""
        return any(a == "/lb/result/end" for a, _ in got)
    replies = client.receive(helpers, result_end)
    assert not [r for a, r in replies if a == "/lb/error"], replies
    result = [(a, r) for a, r in replies if a.startswith("/lb/result/")]
    written = run_device({"live": live, "clips_out": [f"{TRACK} clip_slots 1 clip"],
                          "steps": [{"handle": "write", "args": [1]}] + as_steps(result)})
    clip = written["clips"][f"{TRACK} clip_slots 1 clip"]
    assert clip["props"]["length"] == 8.0 + 3 * 4.0
    captured = melody.slice(0, 8.0).notes
    kept = [n for n in clip["notes"] if n["start_time"] < 8.0]
    assert [(n["pitch"], n["start_time"]) for n in kept] == [(n.pitch, pytest.approx(n.start)) for n in captured]
    assert proc.poll() is None
