"""Fixtures for the Max for Live device tests: the OSC contract, the node harness, real clips.

The OSC contract is read from docs/osc.md itself (the single source of truth), so a message the
device sends that the page does not describe fails the tests.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DEVICE_DIR = REPO / "max_for_live"
OSC_DOC = REPO / "docs" / "osc.md"
MAX_DATAGRAM = 8192


@dataclass
class Signature:
    """One documented form of a message: fixed argument types, then an optional repeated group."""

    address: str
    fixed: list[str]
    repeat: list[str]
    text: str

    def matches(self, args) -> bool:
        if len(args) < len(self.fixed):
            return False
        rest = args[len(self.fixed):]
        if not self.repeat:
            if rest:
                return False
        elif len(rest) % len(self.repeat):
            return False
        types = self.fixed + self.repeat * (len(rest) // max(1, len(self.repeat)))
        return all(_fits(t, a) for t, a in zip(types, args))

    def types_for(self, args) -> list[str]:
        rest = len(args) - len(self.fixed)
        return self.fixed + (self.repeat * (rest // len(self.repeat)) if self.repeat else [])


def _fits(tag: str, value) -> bool:
    if tag == "s":
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if tag == "i":   # docs/osc.md: a float with no fractional part is accepted as an int
        return float(value).is_integer() and -2**31 <= value < 2**31
    return True      # f: ints are accepted too


def parse_signature(text: str) -> Signature:
    """`/lb/clip/notes s:slot (i:pitch f:start f:duration i:velocity)*` -> Signature."""
    text = text.replace("\\|", "|").strip()
    address, _, rest = text.partition(" ")
    fixed, repeat = [], []
    group = re.search(r"\((.*)\)\*", rest)
    if group:
        repeat = [tok.split(":")[0] for tok in group.group(1).split()]
        rest = rest[:group.start()]
    for token in rest.split():
        tag = token.split(":")[0]
        if tag not in ("i", "f", "s"):
            continue
        if token.endswith("..."):
            repeat = [tag]
        else:
            fixed.append(tag)
    return Signature(address, fixed, repeat, text)


@dataclass
class OscContract:
    requests: dict[str, list[Signature]]
    others: dict[str, list[Signature]]
    text: str

    def addresses(self) -> set[str]:
        return set(self.requests) | set(self.others)

    def request(self, address: str, args) -> Signature:
        """The documented request form the message fits; fails the test if none does."""
        forms = self.requests.get(address)
        assert forms, f"{address} is not a request in docs/osc.md"
        for form in forms:
            if form.matches(args):
                return form
        raise AssertionError(f"{address} {args!r} fits none of {[f.text for f in forms]}")

    def encode(self, address: str, args) -> bytes:
        """A real OSC datagram, typed as docs/osc.md says (python-osc)."""
        form = self.request(address, args)
        builder = OscMessageBuilder(address=address)
        for tag, value in zip(form.types_for(args), args):
            builder.add_arg(int(value) if tag == "i" else float(value) if tag == "f" else value,
                            {"i": builder.ARG_TYPE_INT, "f": builder.ARG_TYPE_FLOAT,
                             "s": builder.ARG_TYPE_STRING}[tag])
        return builder.build().dgram


def _parse_contract(text: str) -> OscContract:
    requests: dict[str, list[Signature]] = {}
    others: dict[str, list[Signature]] = {}
    for line in text.splitlines():
        spans = re.findall(r"`(/lb/[^`]*)`", line)
        stripped = line.strip()
        if stripped.startswith("/lb/"):          # indented code lines (streaming section)
            spans = [stripped]
        for i, span in enumerate(spans):
            sig = parse_signature(span)
            is_request = stripped.startswith("|") and i == 0 and line.split("|")[1].count("`/lb/")
            (requests if is_request else others).setdefault(sig.address, []).append(sig)
    return OscContract(requests, others, text)


@pytest.fixture(scope="session")
def osc_contract() -> OscContract:
    assert OSC_DOC.exists(), "docs/osc.md (the bridge's OSC contract) is missing"
    return _parse_contract(OSC_DOC.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def bridge_ports(osc_contract):
    """(host, bridge port, device port) as docs/osc.md states them."""
    listen = re.search(r"listens on \*\*([\d.]+):(\d+)\*\*", osc_contract.text)
    device = re.search(r"device listens on \*\*(\d+)\*\*", osc_contract.text)
    assert listen and device, "docs/osc.md no longer states the bridge and device ports"
    return listen.group(1), int(listen.group(2)), int(device.group(1))


@pytest.fixture(scope="session")
def node() -> str:
    path = shutil.which("node")
    assert path, "node is needed to run the device's JavaScript (apt install nodejs)"
    return path


@pytest.fixture
def run_device(node, tmp_path):
    """Run a scenario through max_for_live/latentbridge.js on the simulated Live."""
    counter = iter(range(1000))

    def run(scenario: dict) -> dict:
        path = tmp_path / f"scenario{next(counter)}.json"
        path.write_text(json.dumps(scenario))
        proc = subprocess.run([node, str(HERE / "harness.js"), str(path)],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        out["osc"] = [o["message"] for o in out["outlets"] if o["outlet"] == 0]
        out["ui"] = [o["message"] for o in out["outlets"] if o["outlet"] == 2]
        out["play"] = [o for o in out["outlets"] if o["outlet"] == 1]
        out["status"] = [m[1] for m in out["ui"] if m[0] == "status"]
        return out

    return run


def live_notes(clip) -> list[dict]:
    """A runtime Clip's notes as Live 11 note dictionaries (get_notes_extended format)."""
    return [{"pitch": n.pitch, "start_time": n.start, "duration": n.duration,
             "velocity": float(n.velocity), "mute": 0, "probability": 1.0,
             "velocity_deviation": 0.0, "release_velocity": 64.0} for n in clip.notes]


def decode(datagram: bytes):
    message = OscMessage(datagram)
    return message.address, list(message.params)


@pytest.fixture(scope="session")
def melody(shared_data):
    from runtime.midi_io import read_midi
    return read_midi(shared_data / "nottingham" / "melody" / "ashover1.mid")


@pytest.fixture(scope="session")
def drums(shared_data):
    """A long real performance: 1397 drum hits with unquantised timing, 14 chunks of 100."""
    from runtime.midi_io import read_midi
    return read_midi(shared_data / "groove" / "drummer1" / "session1" /
                     "100_neworleans-secondline_94_beat_4-4.mid")


@pytest.fixture(scope="session")
def helpers():
    return {"live_notes": live_notes, "decode": decode, "max_datagram": MAX_DATAGRAM}
