"""Fixtures of the bridge tests: a real jackd (dummy driver), the real default model, an OSC
client with its own bound receiving socket, and a bridge running in this process."""

from __future__ import annotations

import os
import socket
import sys
import time

import pytest
import rtmidi

JACK_SERVER = f"latentbridge-test-{os.getpid()}"


@pytest.fixture(scope="session")
def jack():
    """A private jackd (``-n`` name, dummy driver, 48 kHz, 256 frames) for this test session
    (bridge.jackd: away from any jackd a developer runs, never started behind our back)."""
    from bridge.jackd import JackError, PrivateJack

    server = PrivateJack(JACK_SERVER, rate=48000, period=256)
    try:
        server.start()
    except JackError as exc:
        pytest.fail(str(exc))
    yield JACK_SERVER
    server.stop()


@pytest.fixture(scope="session")
def engine():
    """The shipped default model (mel_2bar) through the real runtime engine."""
    from runtime.engine import Engine

    return Engine.load(None, threads=1)


@pytest.fixture(scope="session")
def groove_bundles(shared_data, tmp_path_factory):
    """``{"groove": folder, "drumify": folder}``: the shipped groove_2bar / drumify_2bar where
    they exist, else a tiny GrooVAE of each input (humanize, tap) trained for 20 steps on two
    real Groove beats and exported as a real bundle (~5 s; no trained groove model is needed to
    check that the bridge plays the tools: Groove keeps the played hits whatever the weights)."""
    from runtime.bundle import MODELS_DIR

    wanted = {"groove": ("groove_2bar", "lb-groovae_2bar_humanize"),
              "drumify": ("drumify_2bar", "lb-groovae_2bar_tap")}
    found = {tool: MODELS_DIR / shipped for tool, (shipped, _) in wanted.items()
             if (MODELS_DIR / shipped / "model.json").is_file()}
    if len(found) == len(wanted):
        return found
    import torch

    from training.data import WindowDataset
    from training.export import export_bundle
    from training.models import build_model
    from training.prepare import prepare
    from training.train import build_config, fit_to_dataset

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("groove_bundles")
    beats = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*beat*.mid"))[:2]
    prepare([str(f) for f in beats], root / "data", kind="groove", bars=2, progress=False,
            valid=0.0, test=0.0)
    for tool, (shipped, config) in wanted.items():
        if tool in found:
            continue
        dataset = WindowDataset(root / "data", "train")
        cfg = build_config(config, ["model.enc_rnn_size=[16]", "model.dec_rnn_size=[16]",
                                    "model.z_size=8"])
        fit_to_dataset(cfg, dataset)
        torch.manual_seed(0)
        model = build_model(cfg.model)
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        batch = dataset.batch_of(dataset.tokens[:8])
        for step in range(1, 21):
            model.train()
            loss, _ = model(batch, step)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        found[tool] = export_bundle(model.eval(), root / shipped, name=f"tiny_{shipped}",
                                    codec=dataset.codec, valid_tokens=dataset.tokens[:4],
                                    eval_windows=4)
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OscClient:
    """Sends from a bound socket, so replies to the sender come back here; ``expect`` waits
    for a given address and returns its arguments (other messages are kept in ``seen``)."""

    def __init__(self, port: int):
        from pythonosc.udp_client import SimpleUDPClient

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.client = SimpleUDPClient("127.0.0.1", port)
        self.client._sock = self.sock       # send from the socket we read replies on
        self.target = ("127.0.0.1", port)
        self.seen: list[tuple[str, list]] = []

    @property
    def port(self) -> int:
        """The port this client sends from and listens on."""
        return self.sock.getsockname()[1]

    def send(self, address: str, *args) -> None:
        self.client.send_message(address, list(args))

    def hello(self) -> list:
        """Register this client's own port with /lb/hello: it has a session of its own."""
        self.send("/lb/hello", self.port)
        return self.expect("/lb/hello")

    def upload(self, slot: str, clip, chunk: int = 100) -> None:
        """Send ``clip`` into ``slot`` as docs/osc.md says: begin, notes in chunks, end."""
        notes = clip.notes
        self.send("/lb/clip/begin", slot, float(clip.length), len(notes))
        for i in range(0, len(notes), chunk):
            args = [slot]
            for n in notes[i:i + chunk]:
                args += [n.pitch, float(n.start), float(n.end - n.start), n.velocity]
            self.send("/lb/clip/notes", *args)
        self.send("/lb/clip/end", slot)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def receive(self, timeout: float = 2.0):
        from pythonosc.osc_message import OscMessage

        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, BlockingIOError):
            return None
        message = OscMessage(data)
        return message.address, list(message.params)

    def expect(self, address: str, timeout: float = 5.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.receive(max(0.01, deadline - time.monotonic()))
            if got is None:
                break
            self.seen.append(got)
            if got[0] == address:
                return got[1]
        raise AssertionError(f"no {address} within {timeout} s; got {self.seen[-5:]}")

    def drain(self, seconds: float = 0.1) -> list:
        out = []
        while (got := self.receive(seconds)) is not None:
            out.append(got)
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def make_bridge(engine):
    """Builds bridges on free ports and closes them (and their OSC clients) after the test."""
    from bridge.app import Bridge

    made = []

    def make(midi: bool = False, **kwargs):
        if midi:
            kwargs.setdefault("midi_api", "jack")
        bridge = Bridge(engine, port=free_port(), midi=midi, **kwargs)
        bridge.start()
        client = OscClient(bridge.server.address[1])
        made.append((bridge, client))
        return bridge, client

    def another_client(bridge) -> OscClient:
        """One more client of ``bridge`` (a second device), closed after the test."""
        client = OscClient(bridge.server.address[1])
        made.append((None, client))
        return client

    make.client = another_client

    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)      # as the CLI does
    yield make
    for bridge, client in made:
        if bridge is not None:
            bridge.close()
        client.close()
    sys.setswitchinterval(interval)


def hanging(events) -> dict:
    """``{(channel, pitch): count}`` of the notes left sounding by a list of ``(time, message)``
    (a CC 123 on a channel ends everything sounding there)."""
    sounding: dict = {}
    for _, m in events:
        kind, channel = m[0] & 0xF0, m[0] & 15
        if kind == 0x90 and m[2] > 0:
            sounding[(channel, m[1])] = sounding.get((channel, m[1]), 0) + 1
        elif kind in (0x80, 0x90) and sounding.get((channel, m[1])):
            sounding[(channel, m[1])] -= 1
        elif kind == 0xB0 and m[1] == 123:
            for key in [k for k in sounding if k[0] == channel]:
                sounding[key] = 0
    return {k: v for k, v in sounding.items() if v}


@pytest.fixture(scope="session")
def hanging_notes():
    """The function :func:`hanging`, for tests."""
    return hanging


class Receiver:
    """A JACK MIDI input connected to the port whose name contains ``port``."""

    def __init__(self, port: str = "latentbridge out"):
        self.midi = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="test-receiver")
        names = self.midi.get_ports()
        matches = [i for i, name in enumerate(names) if port in name]
        assert matches, f"no port {port!r} in {names}"
        self.events: list[tuple[float, list[int]]] = []
        self.midi.ignore_types(timing=False)
        self.midi.set_callback(lambda event, _: self.events.append((time.perf_counter(),
                                                                    event[0])))
        self.midi.open_port(matches[0])
        time.sleep(0.1)                   # the connection takes effect at the next cycle

    def notes_on(self):
        return [(t, m) for t, m in self.events if m[0] & 0xF0 == 0x90 and m[2] > 0]

    def close(self):
        if self.midi is not None:
            self.midi.cancel_callback()      # no callback while the port closes (mido #368)
            self.midi.close_port()
            self.midi.delete()
            self.midi = None


class Sender:
    """A JACK MIDI output connected to the bridge's input (the DAW's clock and keyboard)."""

    def __init__(self, port: str = "latentbridge in"):
        self.midi = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="test-daw")
        names = self.midi.get_ports()
        self.midi.open_port([i for i, name in enumerate(names) if port in name][0])
        time.sleep(0.1)

    def send(self, message):
        self.midi.send_message(message)

    def close(self):
        if self.midi is not None:
            self.midi.close_port()
            self.midi.delete()
            self.midi = None



@pytest.fixture
def midi_receiver(jack):
    """Factory: a JACK MIDI input listening to a port of the bridge (closed after the test)."""
    made = []

    def make(port: str = "latentbridge out") -> Receiver:
        made.append(Receiver(port))
        return made[-1]
    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def midi_sender(jack):
    """Factory: a JACK MIDI output playing into a port of the bridge (closed after the test)."""
    made = []

    def make(port: str = "latentbridge in") -> Sender:
        made.append(Sender(port))
        return made[-1]
    yield make
    for sender in made:
        sender.close()


@pytest.fixture
def jack_scheduler(jack, midi_receiver):
    """Factory: ``(clock, scheduler, receiver)`` -- a clock at ``tempo``, a started Scheduler
    sending on a real "latentbridge out" JACK port, and a receiver listening to it. All closed
    after the test, as ``with`` blocks (closing the scheduler twice only repeats its
    all-notes-off)."""
    from contextlib import ExitStack

    from bridge.clock import Clock
    from bridge.midi import open_ports
    from bridge.scheduler import Scheduler

    with ExitStack() as stack:
        def make(tempo: float = 120.0):
            clock = Clock(tempo=tempo)
            ports = stack.enter_context(open_ports(api="jack", use_input=False))
            receiver = midi_receiver()
            stack.callback(time.sleep, 0.05)    # the last notes-off reach JACK before the port goes
            return clock, stack.enter_context(Scheduler(clock, ports)), receiver
        yield make

