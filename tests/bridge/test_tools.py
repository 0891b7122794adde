"""Groove, Drumify, Continue and follow mode over real UDP (issue 15, item 3): /lb/modes per
model, the tools' parameters, one-shot results that are the engine's own calls, and streams
that play them bar by bar. Real bundles: the shipped mel_2bar, and groove / drumify models
(tests/bridge/conftest.py: the shipped ones or tiny ones exported for the test session)."""

from __future__ import annotations

import time

import pytest

from runtime.engine import Engine
from runtime.midi_io import read_midi
from runtime.music import Clip, Note
from runtime.quantize import to_steps


@pytest.fixture(scope="module")
def melody(shared_data):
    """Two bars of a real Nottingham tune."""
    return read_midi(shared_data / "nottingham" / "melody" / "ashover1.mid").slice(0.0, 8.0)


@pytest.fixture(scope="module")
def beat(shared_data):
    """Two bars of a real Groove take, quantized to 16ths at one velocity: what Groove reads."""
    take = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*beat*.mid"))[0]
    played = read_midi(take).slice(0.0, 8.0)
    notes = {(n.pitch, to_steps(n.start, 4)) for n in played.notes if to_steps(n.start, 4) < 32}
    return Clip([Note(p, s / 4, s / 4 + 0.25, 100, is_drum=True) for p, s in sorted(notes)],
                length=8.0, is_drum=True)


def _hello(client):
    client.send("/lb/hello", client.port)
    client.expect("/lb/hello")


def _load(client, path):
    client.send("/lb/model", str(path))
    return client.expect("/lb/model/loaded", timeout=20)


def _result(client):
    """The notes of the next /lb/result: (length, [(pitch, start, duration, velocity), ...])."""
    rid, length, count = client.expect("/lb/result/begin", timeout=10)
    values = []
    while True:
        address, args = client.receive()
        if address == "/lb/result/end":
            break
        assert address == "/lb/result/notes" and args[0] == rid
        values += args[1:]
    notes = [tuple(values[i:i + 4]) for i in range(0, len(values), 4)]
    assert len(notes) == count
    return length, notes


def _as_args(clip):
    return [(n.pitch, pytest.approx(n.start, abs=1e-4), pytest.approx(n.end - n.start, abs=1e-4),
             n.velocity) for n in clip.notes]


def _stream(client, bars_wanted, seconds=8.0):
    """{bar: [(pitch, start in the bar, duration, velocity)]} of the streamed /lb/bar messages,
    and the other messages heard, until ``bars_wanted`` bars are closed."""
    bars, closed, other = {}, set(), []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not set(bars_wanted) <= closed:
        got = client.receive(0.1)
        if got is None:
            continue
        address, args = got
        if address == "/lb/bar":
            values = args[2:]
            bars.setdefault(args[0], []).extend(tuple(values[i:i + 4])
                                                for i in range(0, len(values), 4))
        elif address == "/lb/bar/end":
            closed.add(args[0])
            bars.setdefault(args[0], [])
        else:
            other.append(got)
    client.send("/lb/stream", 0)
    assert set(bars_wanted) <= closed, (sorted(closed), other)
    return bars, other


def test_modes_and_tool_parameters_follow_the_model(make_bridge, groove_bundles):
    bridge, client = make_bridge(sender="thread")
    _hello(client)
    client.send("/lb/modes")
    assert client.expect("/lb/modes") == ["sample", "interpolate", "vary", "continue", "follow"]
    for address, value, why in [("/lb/continue/bars", 0, "continue bars must be in 1..64, got 0"),
                                ("/lb/continue/bars", 65, "continue bars must be in 1..64, got 65"),
                                ("/lb/follow/bars", 17, "follow bars must be in 1..16, got 17"),
                                ("/lb/follow/answer", "loop", "unknown answer 'loop' (one of vary, "
                                                               "continue, groove, drumify)"),
                                ("/lb/follow/answer", "groove", "mel_2bar cannot answer with "
                                                                "'groove' (it answers with vary, "
                                                                "continue)"),
                                ("/lb/mode", "drumify", "mel_2bar does not offer mode 'drumify' "
                                                        "(it offers sample, interpolate, vary, "
                                                        "continue, follow)"),
                                ("/lb/continue/bars", "x", None)]:
        client.send(address, value)
        error = client.expect("/lb/error")
        assert error[0] == address and (why is None or error[1] == why), error
    session = bridge.sessions.get(("127.0.0.1", client.port))
    client.send("/lb/continue/bars", 5)
    client.send("/lb/follow/bars", 4)
    client.send("/lb/follow/answer", "continue")
    client.send("/lb/ping")
    client.expect("/lb/pong")
    params = session.params()
    assert (params.continue_bars, params.follow_bars, params.answer) == (5, 4, "continue")

    assert _load(client, groove_bundles["groove"])[1] == "groove"
    client.send("/lb/modes")
    assert client.expect("/lb/modes") == ["sample", "interpolate", "vary", "groove", "follow"]
    client.send("/lb/mode", "follow")
    client.send("/lb/follow/answer", "groove")
    _load(client, groove_bundles["drumify"])          # no groove there: follow answers drumify
    assert client.expect("/lb/error") == ["/lb/model", f"{session.engine.name} cannot answer "
                                          f"with 'groove': follow answers with vary now"]
    client.send("/lb/modes")
    assert client.expect("/lb/modes") == ["sample", "interpolate", "vary", "drumify", "follow"]
    client.send("/lb/mode", "drumify")
    _load(client, "mel_2bar")
    assert client.expect("/lb/error") == ["/lb/model", "mel_2bar does not offer mode "
                                          "'drumify': mode is sample now"]
    assert session.params().mode == "sample"


def test_one_shot_results_are_the_engines_calls(make_bridge, groove_bundles, melody, beat):
    """/lb/generate in groove, drumify and continue mode answers what runtime.render writes:
    the engine's call on slot A with the session's temperature and seed."""
    bridge, client = make_bridge(sender="thread")
    _hello(client)
    client.send("/lb/mode", "continue")
    client.send("/lb/generate")
    assert client.expect("/lb/error") == ["/lb/generate", "continue mode needs a clip in slot A"]
    client.upload("A", melody)
    client.expect("/lb/clip/ok")
    client.send("/lb/continue/bars", 3)
    client.send("/lb/temperature", 0.7)
    client.send("/lb/seed", 11)
    client.send("/lb/generate")
    length, notes = _result(client)
    expected = bridge.engine.continue_(melody, bars=3, temperature=0.7, seed=11)
    assert length == 20.0 == expected.length and notes == _as_args(expected)
    assert notes[:len(melody.notes)] == _as_args(melody)       # the clip, kept as the start

    results = {}
    for tool in ("groove", "drumify"):
        _load(client, groove_bundles[tool])
        client.send("/lb/mode", tool)
        client.upload("A", beat)
        client.expect("/lb/clip/ok")
        client.send("/lb/generate")
        length, results[tool] = _result(client)
        engine = Engine.load(groove_bundles[tool], threads=1)
        expected = getattr(engine, tool)(beat, temperature=0.7, seed=11)
        assert length == 8.0 and results[tool] == _as_args(expected), tool
    # groove keeps exactly the hits of the slot, at their steps
    assert {(p, to_steps(s, 4)) for p, s, _, _ in results["groove"]} == \
        {(p, to_steps(n.start, 4)) for p, n in _gm(beat)}
    assert results["drumify"]

    client.send("/lb/mode", "follow")
    client.send("/lb/generate")
    assert client.expect("/lb/error") == ["/lb/generate", "follow: heard nothing (the bridge has "
                                          "no MIDI input) in the last 2 complete bar(s)"]


def _gm(clip):
    """(first GM pitch of its drum class, note) for the notes of ``clip`` the GM map reads."""
    from runtime.codecs.drums import DRUM_CLASS_PITCHES

    first = {p: pitches[0] for pitches in DRUM_CLASS_PITCHES for p in pitches}
    return [(first[n.pitch], n) for n in clip.notes if n.pitch in first]


def test_groove_stream_plays_slot_a_bar_by_bar_with_its_hits(make_bridge, groove_bundles, beat):
    """The groove of slot A streams in a loop: every song bar b keeps the hits of the slot's bar
    b mod 2 at their steps, with the model's velocities and timing."""
    bridge, client = make_bridge(sender="thread", tempo=300.0)
    _hello(client)
    _load(client, groove_bundles["groove"])
    client.send("/lb/mode", "groove")
    client.send("/lb/stream", 1)
    assert "groove mode needs a clip in slot A" in client.expect("/lb/error")[1]
    client.send("/lb/stream", 0)
    client.upload("A", beat)
    client.expect("/lb/clip/ok")
    client.send("/lb/seed", 4)
    client.send("/lb/stream", 1)
    bars, other = _stream(client, range(4))
    assert not [m for m in other if m[0] == "/lb/error"], other
    wanted = {}
    for pitch, n in _gm(beat):
        step = to_steps(n.start, 4)
        wanted.setdefault(step // 16, set()).add((pitch, step % 16))
    velocities, offsets, hits = set(), [], {}
    for bar in range(4):
        for pitch, start, _, velocity in bars[bar]:     # a hit played early may lie in the
            step = to_steps(4.0 * bar + start, 4)       # bar before its step's
            hits.setdefault(step // 16, set()).add((pitch, step % 16))
            velocities.add(velocity)
            offsets.append(abs(start * 4 - round(start * 4)))
    assert [hits.get(bar, set()) for bar in range(4)] == [wanted[bar % 2] for bar in range(4)]
    assert len(velocities) > 3 and max(offsets) > 0.01     # a groove, not the flat input


def test_continue_stream_plays_phrases_that_go_on_from_slot_a(make_bridge, melody):
    """Continue streams phrases of /lb/continue/bars bars: each continues slot A again (at
    temperature 0 the same phrase every time), its first bars those of Engine.continue_."""
    bridge, client = make_bridge(sender="thread", tempo=300.0)
    _hello(client)
    client.upload("A", melody)
    client.expect("/lb/clip/ok")
    client.send("/lb/mode", "continue")
    client.send("/lb/continue/bars", 3)
    client.send("/lb/temperature", 0.0)
    client.send("/lb/stream", 1)
    bars, other = _stream(client, range(6))
    assert not [m for m in other if m[0] == "/lb/error"], other
    new = bridge.engine.continue_(melody, bars=3, temperature=0.0).slice(8.0, 20.0)
    streamed = [(p, 4.0 * bar + s, d, v) for bar in (0, 1, 2) for p, s, d, v in bars[bar]]
    assert streamed == [(n.pitch, pytest.approx(n.start, abs=1e-4),
                         pytest.approx(n.end - n.start, abs=1e-4), n.velocity) for n in new.notes]
    assert [bars[b] for b in (3, 4, 5)] == [bars[b] for b in (0, 1, 2)] and bars[2]


def test_note_event_model_continues_over_udp(make_bridge, shared_data):
    """notes_poly (polyphonic note events) offers continue and answers with it in follow mode;
    /lb/generate answers Engine.continue_ of slot A (melody and chords of a real tune), and a
    stream plays phrases that go on from slot A: at temperature 0 each phrase is the same and
    is what one continue_ call writes (it writes bar by bar, so chunks join seamlessly)."""
    tune = read_midi(shared_data / "nottingham" / "full" / "ashover10.mid").slice(0.0, 8.0)
    clip = Clip([Note(n.pitch, n.start, n.end, n.velocity) for n in tune.notes], length=8.0)
    bridge, client = make_bridge(sender="thread", tempo=300.0)
    _hello(client)
    _load(client, "notes_poly")
    client.send("/lb/modes")
    assert client.expect("/lb/modes") == ["sample", "interpolate", "vary", "continue", "follow"]
    client.send("/lb/follow/answer", "continue")
    client.upload("A", clip)
    client.expect("/lb/clip/ok")
    client.send("/lb/mode", "continue")
    client.send("/lb/continue/bars", 3)
    client.send("/lb/temperature", 0.7)
    client.send("/lb/seed", 11)
    client.send("/lb/generate")
    length, notes = _result(client)
    engine = Engine.load("notes_poly", threads=1)
    expected = engine.continue_(clip, bars=3, temperature=0.7, seed=11)
    assert length == 20.0 == expected.length and notes == _as_args(expected)
    assert notes[:len(clip.notes)] == _as_args(clip) and len(notes) > len(clip.notes)
    session = bridge.sessions.get(("127.0.0.1", client.port))
    assert session.params().answer == "continue"

    client.send("/lb/temperature", 0.0)
    client.send("/lb/stream", 1)
    bars, other = _stream(client, range(6))
    assert not [m for m in other if m[0] == "/lb/error"], other
    new = engine.continue_(clip, bars=3, temperature=0.0).slice(8.0, 20.0)
    streamed = [(p, 4.0 * bar + s, d, v) for bar in (0, 1, 2) for p, s, d, v in bars[bar]]
    assert streamed == [(n.pitch, pytest.approx(n.start, abs=1e-4),
                         pytest.approx(n.end - n.start, abs=1e-4), n.velocity) for n in new.notes]
    assert [bars[b] for b in (3, 4, 5)] == [bars[b] for b in (0, 1, 2)]
    assert all(bars[b] for b in (0, 1, 2))
