"""Real OSC clients and hostile input, over real UDP (issue 11, items 1-6, 9, 10 and the fuzz).

Many control surfaces and scripts (liblo's ``oscsend``) send every message from a new source
port; ``one_shot`` does the same: a fresh socket per datagram, closed right after.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import socket
import time

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.osc import build
from bridge.sessions import MAX_SESSIONS


def one_shot(port: int, address: str, *args) -> None:
    """Send one message from a new socket (a new source port), like ``oscsend``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(build(address, list(args)), ("127.0.0.1", port))


class Listener:
    """A bound socket standing for the port a client registered with /lb/hello."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def expect(self, address: str, timeout: float = 5.0) -> list:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                message = OscMessage(self.sock.recv(65536))
            except socket.timeout:
                break
            seen.append((message.address, list(message.params)))
            if message.address == address:
                return list(message.params)
        raise AssertionError(f"no {address} on the registered port within {timeout} s: {seen}")

    def close(self):
        self.sock.close()


def ping_until_pong(client, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.send("/lb/ping")
        while (got := client.receive(0.3)) is not None:
            if got[0] == "/lb/pong":
                return
    raise AssertionError("the bridge does not answer /lb/ping")


@pytest.fixture
def listener():
    made = Listener()
    yield made
    made.close()


# -- item 1 ---------------------------------------------------------------------------------
def test_hello_to_the_bridges_own_port_does_not_loop(make_bridge):
    bridge, client = make_bridge(sender="thread")
    own = bridge.server.address[1]
    client.send("/lb/hello", own)                    # oscsend localhost 9000 /lb/hello i 9000
    assert client.expect("/lb/error")[0] == "/lb/hello"
    client.send("/lb/error", "/lb/x", "an error from a peer")   # errors are never answered
    time.sleep(1.0)
    assert client.drain(0.2) == []
    assert bridge.server.errors == 1, "the bridge answers itself in a loop"
    assert bridge.server.ignored >= 1
    client.send("/lb/ping")
    assert client.expect("/lb/pong") == []


# -- item 2 ---------------------------------------------------------------------------------
def test_clients_send_from_any_port_and_hear_back_on_the_registered_one(make_bridge, listener,
                                                                        shared_data):
    from runtime.midi_io import read_midi

    bridge, _ = make_bridge(sender="thread")
    port = bridge.server.address[1]
    one_shot(port, "/lb/hello", listener.port)
    assert listener.expect("/lb/hello")[1] == "mel_2bar"
    one_shot(port, "/lb/ping")
    assert listener.expect("/lb/pong") == []
    one_shot(port, "/lb/status")
    assert listener.expect("/lb/status")[0] == "mel_2bar"
    one_shot(port, "/lb/mode", "loud")
    assert listener.expect("/lb/error")[0] == "/lb/mode"

    clip = read_midi(shared_data / "nottingham" / "melody" / "ashover1.mid").slice(0.0, 8.0)
    notes = clip.notes
    one_shot(port, "/lb/clip/begin", "A", float(clip.length), len(notes))   # one call each
    for i in range(0, len(notes), 3):
        args = ["A"]
        for n in notes[i:i + 3]:
            args += [n.pitch, float(n.start), float(n.end - n.start), n.velocity]
        one_shot(port, "/lb/clip/notes", *args)
    one_shot(port, "/lb/clip/end", "A")
    assert listener.expect("/lb/clip/ok") == ["A", len(notes)]
    assert bridge.sessions.get(("127.0.0.1", listener.port)).slot_notes("A") == len(notes)


def test_reply_port_gets_every_reply(make_bridge, listener):
    bridge, _ = make_bridge(sender="thread", reply_port=listener.port)   # --reply-port
    port = bridge.server.address[1]
    one_shot(port, "/lb/ping")
    assert listener.expect("/lb/pong") == []
    one_shot(port, "/lb/status")
    assert listener.expect("/lb/status")[0] == "mel_2bar"


# -- item 3 ---------------------------------------------------------------------------------
def test_unfinished_uploads_and_registrations_stay_bounded(make_bridge):
    bridge, client = make_bridge(sender="thread")
    port = bridge.server.address[1]
    chunk = ["A"] + [60, 0.0, 0.5, 100] * 100
    for i in range(300):                              # 300 uploads from 300 ports, unfinished
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            slot = "AB"[i % 2]
            sock.sendto(build("/lb/clip/begin", [slot, 8.0, 10000]), ("127.0.0.1", port))
            sock.sendto(build("/lb/clip/notes", [slot] + chunk[1:]), ("127.0.0.1", port))
    for _ in range(200):                              # 200 hellos from 200 ports
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.sendto(build("/lb/hello", [sock.getsockname()[1]]), ("127.0.0.1", port))
    ping_until_pong(client)            # UDP: a flood may overflow the socket; ask again
    uploads = bridge.session.uploads                  # no hello: the unregistered clients'
    assert len(uploads) <= 2
    assert sum(len(u.notes) for u in uploads.values()) <= 200
    assert len(bridge.sessions) <= MAX_SESSIONS

    bridge.upload_timeout_s = 0.3                     # an idle upload expires
    client.send("/lb/clip/begin", "B", 4.0, 2)
    client.send("/lb/clip/notes", "B", 60, 0.0, 1.0, 100)
    time.sleep(0.5)
    client.send("/lb/clip/notes", "B", 62, 1.0, 1.0, 100)
    address, message = client.expect("/lb/error")
    assert address == "/lb/clip/notes" and "no /lb/clip/begin for slot B" in message
    assert "B" not in bridge.session.uploads


# -- items 4, 5, 6, 9: bundles and model names ------------------------------------------------
BAD_FIELDS = [
    ("steps_per_bar", -16, "'steps_per_bar'"),
    ("bars", "two", "'bars'"),
    ("bars", 0, "'bars'"),
    ("z_size", None, "'z_size'"),
    ("codec", "melody", "'codec'"),
    ("name", 42, "'name'"),
    ("encoder.inputs", "x", "'inputs'"),
    ("encoder.file", "/etc/passwd", "'file'"),
    ("encoder.file", "../mel_2bar/encoder.onnx", "'file'"),
]


def _bad_bundle(tmp_path, key, value):
    from runtime.bundle import MODELS_DIR

    folder = tmp_path / f"bad_{key.replace('.', '_')}_{abs(hash(repr(value)))}"
    shutil.copytree(MODELS_DIR / "mel_2bar", folder)
    meta = json.loads((folder / "model.json").read_text())
    if key.startswith("encoder."):
        meta["graphs"]["encoder"][key.split(".")[1]] = value
    else:
        meta[key] = value
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


def test_bad_bundles_are_refused_in_one_line_at_the_requester(make_bridge, tmp_path, caplog,
                                                              listener):
    bridge, client = make_bridge(sender="thread")
    # two devices, each sending from the port it listens on: the other must not hear our errors
    other = Listener()
    other.sock.sendto(build("/lb/hello", [other.port]), bridge.server.address[:2])
    other.expect("/lb/hello")
    client.send("/lb/hello", client.sock.getsockname()[1])
    client.expect("/lb/hello")
    client.send("/lb/stream", 1)                       # streaming while models are refused
    for key, value, named in BAD_FIELDS:
        folder = _bad_bundle(tmp_path, key, value)
        client.send("/lb/model", str(folder))
        while True:
            address, args = client.receive(20) or ("timeout", [])
            if address != "/lb/bar" and address != "/lb/bar/end":
                break
        assert address == "/lb/error", (key, value, address, args)
        assert args[0] == "/lb/model" and "model.json" in args[1] and named in args[1], args
        assert "internal error" not in args[1] and "\n" not in args[1]
        assert bridge.engine.name == "mel_2bar"
    time.sleep(0.3)
    client.send("/lb/stream", 0)
    client.send("/lb/status")
    assert client.expect("/lb/status")[0] == "mel_2bar"
    other.sock.settimeout(0.2)
    heard = []
    try:
        while True:
            heard.append(OscMessage(other.sock.recv(65536)).address)
    except socket.timeout:
        pass
    other.close()
    assert heard == ["/lb/hello"] * heard.count("/lb/hello")   # not our bars, not our errors
    assert bridge.worker.bugs.count == 0 and bridge.server.bugs.count == 0
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_model_names_long_or_probing_get_one_line(make_bridge, tmp_path):
    bridge, client = make_bridge(sender="thread")
    client.send("/lb/model", "x" * 300)
    address, message = client.expect("/lb/error")
    assert address == "/lb/model" and "1..255" in message and "Errno" not in message
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("not a bundle")
    answers = []
    for probe in (tmp_path / "nothing_here", tmp_path / "empty", tmp_path / "file",
                  tmp_path / "file" / "x", "/etc/passwd", "/root"):
        client.send("/lb/model", str(probe))
        address, message = client.expect("/lb/error")
        assert address == "/lb/model"
        answers.append(message.split(": ", 1)[1])      # what follows the echoed name
    assert len(set(answers)) == 1, answers             # existence is not revealed
    client.send("/lb/ping")
    client.expect("/lb/pong")


def test_listening_beyond_this_machine_warns(make_bridge, caplog):
    caplog.set_level(logging.WARNING, logger="bridge.osc")
    bridge, _ = make_bridge(sender="thread", host="0.0.0.0")
    assert any("not only on this machine" in r.getMessage() for r in caplog.records)
    caplog.clear()
    make_bridge(sender="thread")                       # 127.0.0.1: no warning
    assert not any("not only on this machine" in r.getMessage() for r in caplog.records)


# -- item 10 --------------------------------------------------------------------------------
def test_a_flood_of_bad_datagrams_is_answered_but_logged_sparingly(make_bridge, caplog):
    caplog.set_level(logging.INFO, logger="bridge")
    bridge, client = make_bridge(sender="thread")
    rng = random.Random(3)
    for i in range(3000):
        client.send_raw(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))))
        if i % 100 == 99:       # paced, so that neither socket's receive buffer overflows
            client.drain(0.0)
            wait = time.monotonic() + 2
            while bridge.server.errors < i - 50 and time.monotonic() < wait:
                time.sleep(0.002)
    deadline = time.monotonic() + 10
    while bridge.server.errors < 3000 and time.monotonic() < deadline:
        client.drain(0.05)
    assert bridge.server.errors == 3000               # every one answered, once
    lines = [r for r in caplog.records if r.name.startswith("bridge")]
    assert len(lines) <= 40, f"{len(lines)} log lines for 3000 bad datagrams"
    client.drain(0.1)
    client.send("/lb/ping")
    assert client.expect("/lb/pong") == []


# -- the fuzz -------------------------------------------------------------------------------
def _fuzz_datagram(rng: random.Random, addresses: list[str], reply_ports: list[int]) -> bytes:
    roll = rng.random()
    if roll < 0.15:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120)))
    address = rng.choice(addresses) if rng.random() < 0.9 else \
        "/lb/" + "".join(rng.choice("abc/xyz") for _ in range(rng.randrange(1, 12)))
    builder = OscMessageBuilder(address)
    if address == "/lb/hello" and rng.random() < 0.7:
        builder.add_arg(rng.choice(reply_ports))
    else:
        for _ in range(rng.randrange(0, 9)):
            kind = rng.randrange(7)
            if kind == 0:
                builder.add_arg(rng.choice([0, 1, -1, 2**31 - 1, -2**31, rng.randrange(-300, 300)]))
            elif kind == 1:
                builder.add_arg(rng.choice([0.0, 0.5, -1.0, 1e30, float("nan"), float("inf"),
                                            rng.uniform(-10, 10)]))
            elif kind == 2:
                builder.add_arg(rng.choice(["A", "B", "C", "", "sample", "vary", "mel_2bar",
                                            "../../etc", "x" * rng.randrange(300)]))
            elif kind == 3:
                builder.add_arg(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9))), "b")
            elif kind == 4:
                builder.add_arg(rng.choice([True, False]))
            elif kind == 5:
                builder.add_arg(rng.uniform(-1e6, 1e6), "d")
            else:
                builder.add_arg(rng.randrange(-2**40, 2**40), "h")
    data = builder.build().dgram
    if roll > 0.9:                                     # a bundle, sometimes cut or lying
        bundle = OscBundleBuilder(IMMEDIATELY)
        bundle.add_content(builder.build())
        data = bundle.build().dgram
        if rng.random() < 0.5:
            data = data[:rng.randrange(1, len(data))]
    elif roll > 0.85:
        data = data[:rng.randrange(1, len(data))]
    return data


def test_fuzz_keeps_the_bridge_answering_status(make_bridge, caplog):
    bridge, client = make_bridge(sender="thread")
    probe = type(client)(bridge.server.address[1])     # a second, well-behaved client
    rng = random.Random(11)
    addresses = list(bridge._handlers) + ["/lb/error", "/lb/bar", "/lb/pong"]
    reply_ports = [client.sock.getsockname()[1], bridge.server.address[1]]
    sent, deadline = 0, time.monotonic() + 4.0
    try:
        while time.monotonic() < deadline:
            for _ in range(100):
                client.send_raw(_fuzz_datagram(rng, addresses, reply_ports))
                sent += 1
            client.drain(0.0)
            probe.send("/lb/status")
            status = probe.expect("/lb/status", timeout=5.0)
            assert len(status) == 15
        client.send("/lb/stream", 0)
        probe.send("/lb/ping")
        probe.expect("/lb/pong")
    finally:
        probe.close()
    assert sent >= 500
    assert bridge.server.bugs.count == 0 and bridge.worker.bugs.count == 0, \
        [r.getMessage() for r in caplog.records if r.exc_info]
    assert bridge.worker.is_alive() and bridge.scheduler.is_alive()


# -- a real bug: onnxruntime fails inside the engine at stream time --------------------------
def _bundle_that_fails_at_run_time(tmp_path):
    """mel_2bar with one more node in its decoder step: a Gather whose indices run past the
    logits. It loads and validates (names, types, shapes, checksum all fit), and onnxruntime
    raises on the first step it runs: a genuine internal failure, not a mock."""
    import hashlib

    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    from runtime.bundle import MODELS_DIR

    folder = tmp_path / "fails_at_run_time"
    shutil.copytree(MODELS_DIR / "mel_2bar", folder)
    graph_file = folder / "decoder_step.onnx"
    model = onnx.load(graph_file)
    for node in model.graph.node:
        node.output[:] = ["logits_raw" if o == "logits" else o for o in node.output]
    index = np.arange(90, dtype=np.int64)
    index[7] = 1000                                     # out of the 90 logits
    model.graph.initializer.append(numpy_helper.from_array(index, "out_of_range"))
    model.graph.node.append(helper.make_node("Gather", ["logits_raw", "out_of_range"],
                                             ["logits"], axis=1))
    onnx.save(model, graph_file)
    meta = json.loads((folder / "model.json").read_text())
    meta["graphs"]["decoder_step"]["sha256"] = hashlib.sha256(graph_file.read_bytes()).hexdigest()
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


def test_a_real_bug_is_one_line_once_one_traceback_and_the_bridge_serves_on(make_bridge,
                                                                           tmp_path, caplog,
                                                                           listener):
    caplog.set_level(logging.INFO, logger="bridge")
    bridge, client = make_bridge(sender="thread", chunk=1, ahead=1, tempo=400.0)
    other = make_bridge.client(bridge)                 # a second device: hears none of it
    other.hello()
    client.send("/lb/hello", listener.port)            # replies and bars go to `listener`
    listener.expect("/lb/hello")
    client.send("/lb/model", str(_bundle_that_fails_at_run_time(tmp_path)))
    assert listener.expect("/lb/model/loaded", timeout=20)[0] == "mel_2bar"
    client.send("/lb/stream", 1)
    heard = []
    deadline = time.monotonic() + 2.5                  # ~4 bars at 400 BPM, each one fails
    listener.sock.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            message = OscMessage(listener.sock.recv(65536))
            heard.append((message.address, list(message.params)))
        except socket.timeout:
            pass
    errors = [args for address, args in heard if address == "/lb/error"]
    assert errors == [["/lb/stream", "internal error (see the bridge log): RuntimeError"]]
    assert bridge.worker.bugs.count >= 3, "the failure did not repeat: nothing to rate-limit"
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1, [r.getMessage() for r in tracebacks]
    assert "out of data bounds" in str(tracebacks[0].exc_info[1])   # onnxruntime's own words
    assert not [m for m in other.drain(0.1) if m[0] == "/lb/error"]
    # the bridge serves on: status, a good model, a stream with notes
    client.send("/lb/status")
    assert listener.expect("/lb/status")[1] == 1
    client.send("/lb/model", "mel_2bar")
    listener.expect("/lb/model/loaded", timeout=20)
    bars = 0
    deadline = time.monotonic() + 3.0
    while bars < 2 and time.monotonic() < deadline:
        bar = listener.expect("/lb/bar", timeout=3.0)
        bars += len(bar) > 2                           # a bar with notes in it
    client.send("/lb/stream", 0)
    assert bars >= 2 and bridge.worker.is_alive()
