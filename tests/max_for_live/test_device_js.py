"""max_for_live/latentbridge.js under node, against a simulated LiveAPI holding real clips.

Every OSC message the device sends is checked against docs/osc.md and encoded with python-osc
into the real datagram, which must stay under 8 KB.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

DEVICE_JS = Path(__file__).resolve().parents[2] / "max_for_live" / "latentbridge.js"
TRACK = "live_set tracks 0"
HINT = "bridge not running: start `python -m bridge`"


def track(clips=None, **extra):
    return dict({"device": True, "slots": 4, "clips": clips or {}}, **extra)


def datagrams(out, osc_contract, helpers):
    """Every OSC message of a run as (address, decoded args, datagram size)."""
    result = []
    for message in out["osc"]:
        dgram = osc_contract.encode(message[0], message[1:])
        assert len(dgram) < helpers["max_datagram"], f"{message[0]}: {len(dgram)} bytes"
        address, args = helpers["decode"](dgram)
        result.append((address, args, len(dgram)))
    return result


def uploaded_notes(sent, slot):
    """The notes of one begin/notes/end transfer, as (pitch, start, duration, velocity)."""
    addresses = [a for a, _, _ in sent if a.startswith("/lb/clip/")]
    assert addresses[0] == "/lb/clip/begin" and addresses[-1] == "/lb/clip/end"
    begin = next(args for a, args, _ in sent if a == "/lb/clip/begin")
    notes = []
    for address, args, _ in sent:
        if address == "/lb/clip/notes":
            assert args[0] == slot
            notes += [tuple(args[i:i + 4]) for i in range(1, len(args), 4)]
    assert next(args for a, args, _ in sent if a == "/lb/clip/end") == [slot]
    assert begin[0] == slot and begin[2] == len(notes)
    return begin, notes


def same_notes(got, expected, tol=1e-4):
    got = sorted(got, key=lambda n: (round(n[1], 3), n[0], n[2]))
    expected = sorted(expected, key=lambda n: (round(n[1], 3), n[0], n[2]))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g[0] == e[0] and g[3] == e[3], (g, e)
        assert abs(g[1] - e[1]) < tol and abs(g[2] - e[2]) < tol, (g, e)


def test_device_is_plain_es5_for_max():
    """Max's [js] engine is ES5: no arrows, let/const, classes or template strings."""
    code = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', DEVICE_JS.read_text())     # string literals
    code = re.sub(r"//[^\n]*", "", code)
    for pattern in (r"=>", r"\blet\s", r"\bconst\s", r"`", r"\bclass\s"):
        assert not re.search(pattern, code), f"ES6 syntax {pattern!r} in latentbridge.js"


def test_capture_session_clip_sends_the_files_notes_in_chunks(run_device, drums, osc_contract, helpers):
    notes = helpers["live_notes"](drums)
    out = run_device({
        "live": {"tracks": [track({"0": {"length": drums.length, "notes": notes, "name": "groove"}})],
                 "detail_clip": f"{TRACK} clip_slots 0 clip"},
        "steps": [{"init": True}, {"handle": "capture_a", "args": [1]}]})
    sent = datagrams(out, osc_contract, helpers)
    begin, got = uploaded_notes(sent, "A")
    assert abs(begin[1] - drums.length) < 1e-3
    same_notes(got, [(n.pitch, n.start, n.duration, n.velocity) for n in drums.notes])
    chunks = [size for a, _, size in sent if a == "/lb/clip/notes"]
    assert len(chunks) == -(-len(drums.notes) // 100)     # 100 notes a chunk, as docs/osc.md advises
    assert max(chunks) < helpers["max_datagram"]
    assert any("sent 1397 notes to slot A (groove)" in s for s in out["status"])


def test_capture_arrangement_clip_from_its_loop_start(run_device, melody, osc_contract, helpers):
    """A looped Arrangement clip is read from loop_start for `length` beats, shifted to 0."""
    notes = helpers["live_notes"](melody)
    out = run_device({
        "live": {"tracks": [dict(track(), arrangement=[{"length": 24.0, "loop_start": 6.0, "notes": notes}])],
                 "detail_clip": f"{TRACK} arrangement_clips 0"},
        "steps": [{"init": True}, {"handle": "capture", "args": ["B"]}]})
    begin, got = uploaded_notes(datagrams(out, osc_contract, helpers), "B")
    assert begin[1] == 24.0
    expected = [(n.pitch, n.start - 6.0, n.duration, n.velocity) for n in melody.notes if 6.0 <= n.start < 30.0]
    assert expected
    same_notes(got, expected)
    call = next(c for c in out["calls"] if c["fn"] == "get_notes_extended")
    assert call["path"] == f"{TRACK} arrangement_clips 0" and call["args"] == [0, 128, 6.0, 24.0]


def test_capture_unlooped_clip_from_its_start_marker(run_device, melody, osc_contract, helpers):
    notes = helpers["live_notes"](melody)
    out = run_device({
        "live": {"tracks": [track({"1": {"length": 9.0, "start_marker": 3.0, "notes": notes}})],
                 "detail_clip": f"{TRACK} clip_slots 1 clip"},
        "steps": [{"handle": "capture_a", "args": [1]}]})
    begin, got = uploaded_notes(datagrams(out, osc_contract, helpers), "A")
    assert begin[1] == 9.0
    same_notes(got, [(n.pitch, n.start - 3.0, n.duration, n.velocity) for n in melody.notes if 3.0 <= n.start < 12.0])


@pytest.mark.parametrize("where", ["highlighted", "playing"])
def test_capture_falls_back_to_highlighted_then_playing_clip(where, run_device, melody, osc_contract, helpers):
    notes = helpers["live_notes"](melody)
    live = {"tracks": [track({"2": {"length": melody.length, "notes": notes}},
                             playing=2 if where == "playing" else -1)]}
    if where == "highlighted":
        live["highlighted_clip_slot"] = f"{TRACK} clip_slots 2"
    out = run_device({"live": live, "steps": [{"init": True}, {"handle": "capture_a", "args": [1]}]})
    _, got = uploaded_notes(datagrams(out, osc_contract, helpers), "A")
    same_notes(got, [(n.pitch, n.start, n.duration, n.velocity) for n in melody.notes])


def test_capture_without_a_midi_clip_says_so_and_sends_nothing(run_device, melody, helpers):
    out = run_device({"live": {"tracks": [track({"1": {"length": 4, "audio": True}})],
                               "highlighted_clip_slot": f"{TRACK} clip_slots 1"},
                      "steps": [{"handle": "capture_a", "args": [1]},
                                {"handle": "capture_b", "args": [1]},
                                {"handle": "capture_a", "args": [0]}]})
    assert out["osc"] == []
    assert out["status"] == ["capture A: the selected clip is an audio clip",
                             "capture B: the selected clip is an audio clip"]
    out = run_device({"live": {"tracks": [track()]}, "steps": [{"handle": "capture_a", "args": [1]}]})
    assert out["osc"] == [] and out["status"] == ["capture A: select a MIDI clip first"]


def result_messages(clip, result_id=7):
    notes = [(n.pitch, n.start, n.duration, n.velocity) for n in clip.notes]
    steps = [{"handle": "/lb/result/begin", "args": [result_id, clip.length, len(notes)]}]
    for i in range(0, len(notes), 100):
        steps.append({"handle": "/lb/result/notes",
                      "args": [result_id] + [v for n in notes[i:i + 100] for v in n]})
    steps.append({"handle": "/lb/result/end", "args": [result_id]})
    return notes, steps


def test_write_clip_creates_a_clip_in_the_first_empty_slot(run_device, melody, osc_contract, helpers):
    two_bars = melody.slice(0.0, 6.0)                       # 3/4: the first two bars
    notes, replies = result_messages(two_bars)
    occupied = {"0": {"length": 4, "notes": []}, "1": {"length": 4, "notes": []}}
    out = run_device({"live": {"tracks": [track(occupied)]},
                      "clips_out": [f"{TRACK} clip_slots 2 clip"],
                      "steps": [{"handle": "write", "args": [1]}] + replies})
    assert [a for a, _, _ in datagrams(out, osc_contract, helpers)] == ["/lb/generate"]
    calls = [c for c in out["calls"] if c["fn"] in ("create_clip", "add_new_notes")]
    assert calls[0] == {"path": f"{TRACK} clip_slots 2", "fn": "create_clip", "args": [6.0]}
    assert calls[1]["path"] == f"{TRACK} clip_slots 2 clip"
    written = calls[1]["args"][0]["notes"]
    assert set(written[0]) == {"pitch", "start_time", "duration", "velocity", "mute"}
    same_notes([(n["pitch"], n["start_time"], n["duration"], n["velocity"]) for n in written], notes)
    clip = out["clips"][f"{TRACK} clip_slots 2 clip"]
    assert clip["props"]["name"] == "latentbridge 7" and len(clip["notes"]) == len(notes)


def test_write_clip_from_inside_a_rack_and_when_the_track_is_full(run_device, melody):
    notes, replies = result_messages(melody.slice(0.0, 6.0), result_id=1)
    out = run_device({"live": {"tracks": [track()], "chain": 0},
                      "steps": [{"handle": "write", "args": [1]}] + replies})
    assert [c["path"] for c in out["calls"] if c["fn"] == "create_clip"] == [f"{TRACK} clip_slots 0"]
    full = {str(i): {"length": 4, "notes": []} for i in range(4)}
    out = run_device({"live": {"tracks": [track(full)]},
                      "steps": [{"handle": "write", "args": [1]}] + replies})
    assert not [c for c in out["calls"] if c["fn"] == "create_clip"]
    assert out["status"][-1] == "write: no empty clip slot on this track (add a scene)"


def test_a_result_with_lost_chunks_is_not_written(run_device, melody):
    notes, replies = result_messages(melody, result_id=3)     # 68 notes in one chunk
    replies[0]["args"][2] = len(notes) + 100                   # a chunk that never came
    out = run_device({"live": {"tracks": [track()]},
                      "steps": [{"handle": "write", "args": [1]}] + replies})
    assert not [c for c in out["calls"] if c["fn"] == "create_clip"]
    assert out["status"][-1] == f"result 3: got {len(notes)} of {len(notes) + 100} notes (lost datagrams?)"


def test_no_pong_within_a_second_means_bridge_not_running(run_device, bridge_ports, osc_contract, helpers):
    out = run_device({"live": {"tracks": [track()]},
                      "steps": [{"init": True}, {"handle": "temperature", "args": [0.8]},
                                {"advance": 990}]})
    sent = [a for a, _, _ in datagrams(out, osc_contract, helpers)]
    assert sent[:6] == ["/lb/transport", "/lb/hello", "/lb/ping", "/lb/models", "/lb/modes", "/lb/status"]
    assert out["osc"][1] == ["/lb/hello", bridge_ports[2]]     # replies come to udpreceive's port
    assert HINT not in out["status"]
    late = run_device({"live": {"tracks": [track()]},
                       "steps": [{"init": True}, {"handle": "temperature", "args": [0.8]},
                                 {"advance": 1000}, {"handle": "/lb/pong"}]})
    assert [o["t"] for o in late["outlets"] if o["message"] == ["status", HINT]] == [1000]
    assert ["connected", 0] in late["ui"] and late["ui"][-1][0] in ("connected", "status")
    # When the bridge shows up, the device tells it the settings made meanwhile.
    assert late["osc"][-1] == ["/lb/temperature", 0.8]
    assert ["connected", 1] in late["ui"]


def test_bridge_that_stops_answering_is_reported(run_device):
    out = run_device({"live": {"tracks": [track()]},
                      "steps": [{"init": True}, {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]},
                                {"advance": 3000}, {"advance": 1000}]})
    assert out["status"][:2] == ["connected to the bridge", "bridge 0.1.0, model mel_2bar"]
    assert out["status"][-1] == HINT and out["ui"][-2:] == [["connected", 0], ["status", HINT]]


def test_every_control_of_the_patch_reaches_the_bridge(run_device, osc_contract, helpers):
    steps = [{"handle": "/lb/models", "args": ["cat-mel_2bar_small", "cat-drums_2bar_small"]},
             {"handle": "/lb/modes", "args": ["sample", "interpolate", "vary"]},
             {"handle": "model", "args": [1]}, {"handle": "mode", "args": [2]},
             {"handle": "mode", "args": ["interpolate"]}, {"handle": "position", "args": [0.25]},
             {"handle": "temperature", "args": [0.5]}, {"handle": "amount", "args": [0.3]},
             {"handle": "bars", "args": [2.0]}, {"handle": "seed", "args": [42]},
             {"handle": "stream", "args": [1]}, {"handle": "generate", "args": [1]},
             {"handle": "stream", "args": [0]}, {"handle": "connect", "args": [1]}]
    out = run_device({"live": {"tracks": [track()]}, "steps": steps})
    sent = [(a, args) for a, args, _ in datagrams(out, osc_contract, helpers)]
    assert sent[:10] == [("/lb/model", ["cat-drums_2bar_small"]), ("/lb/mode", ["vary"]),
                         ("/lb/mode", ["interpolate"]), ("/lb/position", [0.25]),
                         ("/lb/temperature", [0.5]), ("/lb/amount", [pytest.approx(0.3)]),
                         ("/lb/bars", [2]), ("/lb/seed", [42]), ("/lb/stream", [1]), ("/lb/generate", [])]
    assert sent[10] == ("/lb/stream", [0])
    assert ["models", "cat-mel_2bar_small", "cat-drums_2bar_small"] in out["ui"]
    assert not [s for s in out["status"] if s.startswith("unknown")]


def test_transport_is_reported_while_playing_and_at_once_on_changes(run_device, osc_contract, helpers):
    out = run_device({"live": {"tracks": [track()], "song": {"tempo": 96.0}},
                      "steps": [{"init": True}, {"advance": 200}, {"song": "is_playing", "value": 1},
                                {"advance": 1000}, {"song": "tempo", "value": 140.0},
                                {"song": "signature_numerator", "value": 3},
                                {"song": "current_song_time", "value": 32.0},
                                {"song": "is_playing", "value": 0}, {"advance": 15}]})
    datagrams(out, osc_contract, helpers)
    transport = [(o["t"], o["message"][1:]) for o in out["outlets"]
                 if o["outlet"] == 0 and o["message"][0] == "/lb/transport"]
    assert transport[0] == (0, [0, 0, 96, 4, 4])
    playing = [m for t, m in transport if 200 <= t <= 1200 and m[0] == 1]
    assert len(playing) >= 4                                   # docs/osc.md: >= 4 a second
    late = 10 / 60000 * 96                                     # Live's notification delay, in beats
    for t, m in transport:
        if m[0] == 1 and m[2] == 96:                           # the beat follows the clock
            assert m[1] == pytest.approx((t - 200) / 60000 * 96 - late, abs=1e-3)
    assert transport[-4:][0][1][2] == 140 and transport[-3][1][3] == 3
    assert transport[-2][1][:2] == [1, 32.0] and transport[-1][1][0] == 0
    assert out["play"][-1]["message"] == ["clear"]


def streamed_melody(melody, bars=4, skip=0):
    """Steps that stream bars of a real 3/4 melody (from bar `skip`) as /lb/bar 0, 1, ...,
    and the notes they hold."""
    parts = [melody.slice((b + skip) * 3.0, (b + skip + 1) * 3.0) for b in range(bars)]
    steps = []
    for index, bar in enumerate(parts):
        args = [index, index * 3.0] + [v for n in bar.notes for v in (n.pitch, n.start, n.duration, n.velocity)]
        steps += [{"handle": "/lb/bar", "args": args}, {"handle": "/lb/bar/end", "args": [index, len(bar.notes)]}]
    return parts, steps


def test_streamed_bars_are_handed_over_ahead_with_their_song_tick(run_device, melody):
    """Each streamed note goes to the patch before its beat, stamped with its song position in
    ticks (480 a beat), however late Live's notifications reach the script (30 ms here)."""
    parts, steps = streamed_melody(melody)
    steps = [{"init": True}, {"song": "tempo", "value": 100.0}] + steps
    # Bar 1 is replaced by a later /lb/bar (a parameter change): the new notes play instead.
    steps += [{"handle": "/lb/bar", "args": [1, 3.0, 40, 0.0, 3.0, 77]}, {"handle": "/lb/bar/end", "args": [1, 1]},
              {"song": "is_playing", "value": 1}, {"advance": 8000}]
    out = run_device({"live": {"tracks": [track()], "notify_delay_ms": 30}, "steps": steps})
    ms_per_beat = 60000 / 100.0
    notes = [o for o in out["play"] if o["message"][0] == "note"]
    got = sorted((o["message"][4], o["message"][1:4]) for o in notes)
    expected = sorted([(round((b * 3.0 + n.start) * 480, 3), [n.pitch, n.velocity, round(n.duration * ms_per_beat)])
                       for b, bar in enumerate(parts) if b != 1 for n in bar.notes]
                      + [(3.0 * 480, [40, 77, round(3.0 * ms_per_beat)])])
    assert len(got) == len(expected)
    for (tick, note), (tick_expected, note_expected) in zip(got, expected):
        assert note == note_expected and tick == pytest.approx(tick_expected, abs=1e-3)
    for o in notes:                 # handed over ahead of its beat, at most a beat (+ a poll) ahead
        assert o["ticks"] <= o["message"][4] <= o["ticks"] + 480 + 20 / ms_per_beat * 480


def test_late_notes_are_dropped_and_a_replaced_bar_is_requeued(run_device, melody):
    parts, steps = streamed_melody(melody, bars=2, skip=3)
    out = run_device({"live": {"tracks": [track()], "song": {"tempo": 120.0}}, "steps": [
        {"init": True}, {"song": "is_playing", "value": 1}, {"advance": 900}] + steps + [   # bar 0 came late
        {"advance": 1500},                                   # beat ~4.8: bar 1's first beat is handed over
        {"handle": "/lb/bar", "args": [1, 3.0, 40, 2.5, 0.5, 77]}, {"handle": "/lb/bar/end", "args": [1, 1]},
        {"advance": 2000}]})
    notes = [(o["message"][4], o["message"][1]) for o in out["play"] if o["message"][0] == "note"]
    on_time = [(round(n.start * 480, 3), n.pitch) for n in parts[0].notes if n.start >= 2.0]
    assert on_time and [n for n in parts[0].notes if n.start < 1.75]
    assert all(tick >= 1.75 * 480 for tick, _ in notes)                # nothing behind the playhead
    assert [n for n in notes if 2.0 * 480 <= n[0] < 3.0 * 480] == sorted(on_time)
    flush = next(i for i, o in enumerate(out["play"]) if o["message"] == ["flush"])
    after = [o["message"] for o in out["play"][flush + 1:] if o["message"][0] == "note"]
    assert after == [["note", 40, 77, 250, 5.5 * 480]]                 # the old bar 1 is gone


MAX_GLUE = r"""
// Load latentbridge.js the way Max does: plain global code, Max's globals, no `module`.
const vm = require("vm"), fs = require("fs");
const {FakeLive} = require(process.argv[2]);
const live = new FakeLive({tracks: [{device: true, slots: 2}]});
const log = [];
const max = {
  outlet: (i, m) => log.push([i].concat(m)), post: () => {}, LiveAPI: live.LiveAPI, Task: live.Task,
  arrayfromargs: (args) => Array.prototype.slice.call(args), messagename: "",
};
vm.createContext(max);
vm.runInContext(fs.readFileSync(process.argv[1], "utf8"), max);
const declared = [max.inlets, max.outlets, max.autowatch];
max.bang();                                              // [live.thisdevice] -> init
max.messagename = "/lb/pong"; max.anything();
max.messagename = "temperature"; max.anything(0.75);
live.advance(1000);
max.notifydeleted();
process.stdout.write(JSON.stringify({declared, log}));
"""


def test_max_glue_runs_as_global_code_with_max_globals(node):
    """In Max there is no `module`: the file declares 1 inlet, 3 outlets and routes messages."""
    here = Path(__file__).resolve().parent
    proc = subprocess.run([node, "-e", MAX_GLUE, str(DEVICE_JS), str(here / "fake_live.js")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["declared"] == [1, 3, 1]
    log = out["log"]
    assert [0, "/lb/hello", 9001] in log and [2, "connected", 1] in log
    assert log[-2:] == [[0, "/lb/temperature", 0.75], [0, "/lb/bye"]]   # deleted: bye
    assert [2, "status", HINT] not in log                  # the pong arrived in time


def test_capture_falls_back_to_the_arrangement_clip_under_the_playhead(run_device, melody, drums,
                                                                       osc_contract, helpers):
    """Nothing selected, no Session clip playing, the song plays: the device's track's
    Arrangement clip with start_time <= current_song_time < end_time is captured."""
    arrangement = [
        {"start_time": 0.0, "length": 16.0, "name": "drums", "notes": helpers["live_notes"](drums.slice(0.0, 16.0))},
        {"start_time": 16.0, "length": 24.0, "loop_start": 6.0, "name": "tune",
         "notes": helpers["live_notes"](melody)},
    ]
    live = {"tracks": [track(arrangement=arrangement)], "song": {"is_playing": 1, "current_song_time": 16.0}}
    out = run_device({"live": live, "steps": [{"init": True}, {"handle": "capture_a", "args": [1]}]})
    _, got = uploaded_notes(datagrams(out, osc_contract, helpers), "A")
    same_notes(got, [(n.pitch, n.start - 6.0, n.duration, n.velocity) for n in melody.notes if 6.0 <= n.start < 30.0])
    assert out["status"][-1].endswith("(tune)")
    call = next(c for c in out["calls"] if c["fn"] == "get_notes_extended")
    assert call["path"] == f"{TRACK} arrangement_clips 1"

    live["song"]["current_song_time"] = 15.99                # still inside the first clip
    out = run_device({"live": live, "steps": [{"handle": "capture_b", "args": [1]}]})
    _, got = uploaded_notes(datagrams(out, osc_contract, helpers), "B")
    same_notes(got, [(n.pitch, n.start, n.duration, n.velocity) for n in drums.slice(0.0, 16.0).notes])

    for song in ({"is_playing": 0, "current_song_time": 20.0},      # stopped: nothing "plays"
                 {"is_playing": 1, "current_song_time": 40.0}):     # past the last clip's end
        out = run_device({"live": dict(live, song=song), "steps": [{"handle": "capture_a", "args": [1]}]})
        assert out["osc"] == [] and out["status"] == ["capture A: select a MIDI clip first"]


def test_a_playing_session_clip_wins_over_the_arrangement(run_device, melody, drums, osc_contract, helpers):
    live = {"tracks": [track({"1": {"length": melody.length, "notes": helpers["live_notes"](melody)}}, playing=1,
                             arrangement=[{"start_time": 0.0, "length": 64.0,
                                           "notes": helpers["live_notes"](drums.slice(0.0, 64.0))}])],
            "song": {"is_playing": 1, "current_song_time": 8.0}}
    out = run_device({"live": live, "steps": [{"handle": "capture_a", "args": [1]}]})
    _, got = uploaded_notes(datagrams(out, osc_contract, helpers), "A")
    same_notes(got, [(n.pitch, n.start, n.duration, n.velocity) for n in melody.notes])


def test_model_menu_echoes_do_not_reload_the_model(run_device, osc_contract, helpers):
    """Filling the menu may make it send the item it shows; only a real pick loads a model."""
    out = run_device({"live": {"tracks": [track()]}, "steps": [
        {"init": True}, {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]},
        {"handle": "/lb/models", "args": ["mel_2bar", "drums_2bar", "mel_16bar"]},
        {"handle": "model", "args": [0]},                       # the refilled menu re-sends index 0
        {"handle": "model", "args": [1]},                       # the user picks drums_2bar
        {"handle": "model", "args": [1]},                       # ... echoed while it loads
        {"handle": "/lb/model/loaded", "args": ["drums_2bar", "drums", 2]},
        {"handle": "/lb/models", "args": ["drums_2bar", "mel_2bar", "mel_16bar"]},   # loaded first
        {"handle": "model", "args": [0]},                       # echo of the refill: drums_2bar
        {"handle": "model", "args": [2]}]})                     # a second real pick
    loads = [args for a, args, _ in datagrams(out, osc_contract, helpers) if a == "/lb/model"]
    assert loads == [["drums_2bar"], ["mel_16bar"]]
    menu = [m for m in out["ui"] if m[0] in ("models", "model")]
    assert menu == [["models", "mel_2bar", "drums_2bar", "mel_16bar"], ["model", 0], ["model", 1],
                    ["models", "drums_2bar", "mel_2bar", "mel_16bar"], ["model", 0]]


def test_reconnect_pings_every_3_s_and_resends_stream_and_the_chosen_model(run_device, osc_contract, helpers):
    steps = [{"init": True}, {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]},
             {"handle": "/lb/models", "args": ["mel_2bar", "mel_16bar"]},
             {"handle": "model", "args": [1]}, {"handle": "/lb/model/loaded", "args": ["mel_16bar", "melody", 16]},
             {"handle": "bars", "args": [8]}, {"handle": "temperature", "args": [0.8]},
             {"handle": "stream", "args": [1]},
             {"advance": 12500},                                # the bridge went away before t=3000
             {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]}]     # restarted with its default
    out = run_device({"live": {"tracks": [track()]}, "steps": steps})
    sent = [(o["t"], o["message"]) for o in out["outlets"] if o["outlet"] == 0]
    datagrams(out, osc_contract, helpers)
    # One keep-alive ping while connected, then hello + ping every 3 s while not.
    assert [t for t, m in sent if m[0] == "/lb/ping"] == [0, 3000, 6000, 9000, 12000]
    assert [t for t, m in sent if m[0] == "/lb/hello"] == [0, 6000, 9000, 12000]
    hints = [o["t"] for o in out["outlets"] if o["message"] == ["status", HINT]]
    assert hints == [4000]                                       # shown once, then it stays
    statuses = [(o["t"], o["message"][1]) for o in out["outlets"] if o["message"][0] == "status"]
    assert [s for t, s in statuses if 4000 <= t < 12500] == [HINT]
    assert [m for m in out["ui"] if m[0] == "connected"] == [["connected", 1], ["connected", 0], ["connected", 1]]
    # Back: the chosen model is loaded again (the restarted bridge has mel_2bar), the settings
    # made before are sent again, stream last; bars waits for the 16-bar model (on mel_2bar
    # the bridge would refuse 8 bars).
    after = [m for t, m in sent if t == 12500]
    assert after == [["/lb/model", "mel_16bar"], ["/lb/temperature", 0.8], ["/lb/stream", 1]]
    assert out["status"][-2:] == ["bridge 0.1.0, model mel_2bar", "loading mel_16bar ..."]
    out = run_device({"live": {"tracks": [track()]}, "steps": steps + [
        {"handle": "/lb/model/loaded", "args": ["mel_16bar", "melody", 16]}]})
    assert out["osc"][-1] == ["/lb/bars", 8]


def test_reconnect_to_a_bridge_that_kept_the_model_does_not_reload_it(run_device):
    """A late pong (bridge busy, not gone): the /lb/status reply says the model is still there."""
    out = run_device({"live": {"tracks": [track()]}, "steps": [
        {"init": True}, {"handle": "/lb/pong"}, {"handle": "/lb/models", "args": ["mel_2bar", "drums_2bar"]},
        {"handle": "model", "args": [1]}, {"handle": "/lb/model/loaded", "args": ["drums_2bar", "drums", 2]},
        {"advance": 4000}, {"handle": "/lb/pong"},
        {"handle": "/lb/status", "args": ["drums_2bar", 0, 0, 0.0, 120.0, "sample", 0.5, 0.5, 2, 0, 0]}]})
    assert [m for m in out["osc"] if m[0] == "/lb/model"] == [["/lb/model", "drums_2bar"]]
    assert out["ui"][-1][0] == "bridge" and ["connected", 1] == [m for m in out["ui"] if m[0] == "connected"][-1]


def test_free_detaches_observers_and_stops_timers(run_device):
    out = run_device({"live": {"tracks": [track()]}, "steps": [
        {"init": True}, {"handle": "/lb/pong"}, {"free": True},
        {"song": "is_playing", "value": 1}, {"song": "tempo", "value": 90.0}, {"advance": 10000}]})
    assert out["observed"] == [] and out["pending"] == []
    freed_at = max(i for i, o in enumerate(out["outlets"]) if o["t"] == 0)
    assert out["outlets"][freed_at + 1:] == []                # no transport, no ping, no status
    alive = run_device({"live": {"tracks": [track()]}, "steps": [{"init": True}]})
    assert sorted(alive["observed"]) == sorted(["is_playing", "current_song_time", "tempo",
                                                "signature_numerator", "signature_denominator"])


def test_liveapi_is_constructed_the_way_max_takes_it(run_device, node):
    """new LiveAPI(path) without a callback, new LiveAPI(callback, path) with one."""
    out = run_device({"live": {"tracks": [track({"0": {"length": 4, "notes": []}})],
                               "detail_clip": f"{TRACK} clip_slots 0 clip"},
                      "steps": [{"init": True}, {"handle": "capture_a", "args": [1]}]})
    assert set(out["constructed"]) == {"path", "callback, path"}
    assert out["constructed"].count("callback, path") == 5     # the transport observers
    here = Path(__file__).resolve().parent
    script = ("const {FakeLive} = require(process.argv[1]); const live = new FakeLive({});"
              "try { new live.LiveAPI(null, 'live_set'); console.log('accepted'); }"
              "catch (e) { console.log('refused'); }")
    proc = subprocess.run([node, "-e", script, str(here / "fake_live.js")], capture_output=True, text=True,
                          timeout=30)
    assert proc.stdout.strip() == "refused", proc.stderr


# --- many devices in one set: each its own reply port ----------------------------------------

def test_each_device_takes_its_own_free_reply_port_and_registers_it(run_device, bridge_ports):
    base = bridge_ports[2]
    out = run_device({"live": {"tracks": [track(), track()]}, "devices": 3, "steps": [
        {"init": True, "device": 0}, {"init": True, "device": 1}, {"free": True, "device": 0},
        {"init": True, "device": 2}]})
    hellos = [(o["device"], o["message"][1]) for o in out["outlets"] if o["message"][0] == "/lb/hello"]
    listens = [(o["device"], o["message"][1]) for o in out["outlets"] if o["message"][0] == "port"]
    assert hellos == [(0, base), (1, base + 1), (2, base)]          # a freed port is taken again
    assert listens == hellos                                          # [udpreceive] listens there
    assert sorted(int(p) for p in out["ports"]) == [base, base + 1]


def test_a_port_nothing_comes_back_on_is_given_up_but_a_working_one_kept(run_device, bridge_ports):
    base = bridge_ports[2]
    silent = run_device({"live": {"tracks": [track()]}, "steps": [{"init": True}, {"advance": 9500}]})
    hellos = [(o["t"], o["message"][1]) for o in silent["outlets"]
              if o["message"][0] == "/lb/hello"]
    assert hellos == [(0, base), (3000, base), (6000, base), (9000, base + 1)]   # after 3 silent tries
    heard = run_device({"live": {"tracks": [track()]}, "steps": [
        {"init": True}, {"handle": "/lb/pong"}, {"advance": 15000}]})       # the bridge went away
    assert {m[1] for m in heard["osc"] if m[0] == "/lb/hello"} == {base}


# --- writing a clip: look at what Live really did ------------------------------------------------

@pytest.mark.parametrize("fails, said", [
    ("add_new_notes", "write: Live kept 0 of {n} notes in clip slot 1 (see the Max console)"),
    ("create_clip", "write: Live made no clip in slot 1 (see the Max console)")])
def test_a_write_that_live_refuses_is_reported_not_claimed(fails, said, run_device, melody):
    notes, replies = result_messages(melody.slice(0.0, 6.0), result_id=2)
    out = run_device({"live": {"tracks": [track()], "fail": {fails: "Invalid arguments"}},
                      "clips_out": [f"{TRACK} clip_slots 0 clip"],
                      "steps": [{"handle": "write", "args": [1]}] + replies})
    assert out["live_posts"] and "Invalid arguments" in out["live_posts"][0]   # Max posted, did not throw
    assert out["status"][-1] == said.format(n=len(notes))
    assert not [s for s in out["status"] if s.startswith("wrote")]


def test_a_written_clip_is_read_back(run_device, melody):
    notes, replies = result_messages(melody.slice(0.0, 6.0), result_id=4)
    out = run_device({"live": {"tracks": [track()]}, "steps": [{"handle": "write", "args": [1]}] + replies})
    reads = [c for c in out["calls"] if c["fn"] == "get_notes_extended"]
    assert reads and reads[-1]["path"] == f"{TRACK} clip_slots 0 clip"
    assert out["status"][-1] == f"wrote {len(notes)} notes to clip slot 1"


# --- the model choice is saved with the set ----------------------------------------------------

def test_the_saved_model_is_loaded_when_the_set_opens(run_device):
    out = run_device({"live": {"tracks": [track()]}, "steps": [
        {"handle": "saved_model", "args": ["mel_16bar"]},        # [pattr] restores before init
        {"init": True}, {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]}]})
    assert [m for m in out["osc"] if m[0] == "/lb/model"] == [["/lb/model", "mel_16bar"]]
    same = run_device({"live": {"tracks": [track()]}, "steps": [
        {"handle": "saved_model", "args": ["mel_2bar"]}, {"init": True},
        {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]}]})
    assert not [m for m in same["osc"] if m[0] == "/lb/model"]
    picked = run_device({"live": {"tracks": [track()]}, "steps": [
        {"handle": "/lb/models", "args": ["mel_2bar", "drums_2bar"]}, {"handle": "model", "args": [1]}]})
    assert ["savemodel", "drums_2bar"] in picked["ui"]


# --- drum map: racks whose pads are not on General MIDI notes ----------------------------------

PADS = [24, 25, 26, 27, 28, 29, 30, 31, 32]       # a rack laid out from C0 up


def test_the_drum_map_applies_to_capture_write_and_stream(run_device, drums, osc_contract, helpers):
    from runtime.codecs.drums import DRUM_CLASS_PITCHES
    gm = [c[0] for c in DRUM_CLASS_PITCHES]
    pad_of = {p: PADS[k] for k, c in enumerate(DRUM_CLASS_PITCHES) for p in c}
    played = drums.slice(0.0, 8.0)
    on_pads = [dict(n, pitch=pad_of[n["pitch"]]) for n in helpers["live_notes"](played)]
    drum_map = [{"handle": "drum", "args": [k, pad]} for k, pad in enumerate(PADS)]
    out = run_device({"live": {"tracks": [track({"0": {"length": 8.0, "notes": on_pads}})],
                               "detail_clip": f"{TRACK} clip_slots 0 clip"},
                      "steps": drum_map + [{"handle": "capture_a", "args": [1]}]})
    _, got = uploaded_notes(datagrams(out, osc_contract, helpers), "A")
    gm_of = {p: gm[k] for k, c in enumerate(DRUM_CLASS_PITCHES) for p in c}
    assert sorted(n[0] for n in got) == sorted(gm_of[n.pitch] for n in played.notes)   # pads -> GM

    result = [(gm[k], k * 0.25, 0.25, 100) for k in range(9)] + [(44, 2.5, 0.25, 90)]   # 44: a closed hat
    replies = [{"handle": "/lb/result/begin", "args": [5, 4.0, len(result)]},
               {"handle": "/lb/result/notes", "args": [5] + [v for n in result for v in n]},
               {"handle": "/lb/result/end", "args": [5]}]
    out = run_device({"live": {"tracks": [track()]}, "clips_out": [f"{TRACK} clip_slots 0 clip"],
                      "steps": drum_map + [{"handle": "write", "args": [1]}] + replies})
    written = out["clips"][f"{TRACK} clip_slots 0 clip"]["notes"]
    assert [n["pitch"] for n in written] == PADS + [PADS[2]]                            # GM -> pads

    out = run_device({"live": {"tracks": [track()]}, "steps": drum_map + [
        {"init": True}, {"handle": "/lb/bar", "args": [0, 0.0, 38, 0.5, 0.25, 100]},
        {"handle": "/lb/bar/end", "args": [0, 1]}, {"song": "is_playing", "value": 1}, {"advance": 1000}]})
    assert [o["message"][1] for o in out["play"] if o["message"][0] == "note"] == [PADS[1]]


def test_the_default_drum_map_changes_nothing(run_device, drums, osc_contract, helpers):
    from runtime.codecs.drums import DRUM_CLASS_PITCHES
    notes = helpers["live_notes"](drums.slice(0.0, 8.0))
    out = run_device({"live": {"tracks": [track({"0": {"length": 8.0, "notes": notes}})],
                               "detail_clip": f"{TRACK} clip_slots 0 clip"},
                      "steps": [{"handle": "drum", "args": [k, c[0]]} for k, c in enumerate(DRUM_CLASS_PITCHES)]
                      + [{"handle": "capture_a", "args": [1]}]})
    _, got = uploaded_notes(datagrams(out, osc_contract, helpers), "A")
    assert sorted(n[0] for n in got) == sorted(n["pitch"] for n in notes)


# --- tools: the Mode menu shows what the bridge offers (issue 12, item 7) ------------------------

def test_the_mode_menu_lists_only_the_tools_the_bridge_offers(run_device, osc_contract, helpers):
    offered = ["sample", "interpolate", "vary", "harmonize"]       # harmonize: a tool yet to come
    out = run_device({"live": {"tracks": [track()]}, "steps": [
        {"init": True}, {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]},
        {"handle": "/lb/modes", "args": offered},
        {"handle": "mode", "args": [1]},                               # interpolate
        {"handle": "mode", "args": [3]},                               # harmonize
        {"handle": "mode", "args": [7]},                               # not in the menu
        {"handle": "/lb/model/loaded", "args": ["mel_16bar", "hierarchical", 16]},
        {"handle": "/lb/modes", "args": ["sample", "interpolate", "vary"]}]})
    sent = [(a, args) for a, args, _ in datagrams(out, osc_contract, helpers)]
    menus = [m[1:] for m in out["ui"] if m[0] == "modes"]
    assert menus == [offered, ["sample", "interpolate", "vary"]]      # only what the bridge said
    modes_sent = [args for a, args in sent if a == "/lb/mode"]
    assert modes_sent == [["interpolate"], ["harmonize"], ["sample"]]  # the last: it is gone
    assert [a for a, _ in sent].count("/lb/modes") == 2               # asked again on a new model
    assert out["status"][-1] == "mel_16bar does not offer harmonize: mode sample"
    assert any(s.startswith("no mode 7") for s in out["status"])

    # each "tool <index>" is followed by the seven controls' "active <name> 0|1"
    shown = tools_shown(out["ui"])
    assert shown[1] == active("capture_a", "capture_b", "position")        # interpolate
    assert shown[3] == active(*TOOL_SPECIFIC)                             # unknown: none dimmed
    assert shown[0] == active()                                           # sample


def test_the_tool_picked_is_kept_by_name_with_the_set(run_device):
    out = run_device({"live": {"tracks": [track()]}, "steps": [
        {"handle": "saved_mode", "args": ["vary"]},                    # [pattr] restores first
        {"init": True}, {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]},
        {"handle": "/lb/modes", "args": ["sample", "interpolate", "vary"]}]})
    assert [m for m in out["osc"] if m[0] == "/lb/mode"] == [["/lb/mode", "vary"]]
    assert out["ui"][-8] == ["tool", 2] and tools_shown(out["ui"])[2] == active("capture_a", "amount")
    picked = run_device({"live": {"tracks": [track()]}, "steps": [
        {"handle": "/lb/modes", "args": ["vary", "sample"]}, {"handle": "mode", "args": [0]}]})
    assert ["savemode", "vary"] in picked["ui"] and ["/lb/mode", "vary"] in picked["osc"]


TOOL_SPECIFIC = ["capture_a", "capture_b", "position", "amount", "continue_bars", "follow_bars",
                 "answer"]


def active(*names):
    """{control: 1 if in ``names`` else 0} for the controls a tool may dim."""
    return {name: int(name in names) for name in TOOL_SPECIFIC}


def tools_shown(ui):
    """{tool index: {control: 0|1}} from each "tool <index>" and the "active" lines after it."""
    shown = {}
    for i, m in enumerate(ui):
        if m[0] == "tool":
            shown[m[1]] = {a[1]: a[2] for a in ui[i + 1:i + 1 + len(TOOL_SPECIFIC)] if a[0] == "active"}
    return shown


def test_the_tool_specific_controls_are_the_devices(node):
    """The list above is the script's own (TOOL_SPECIFIC), and each tool's list names only them."""
    code = "const lb = require(%s); console.log(JSON.stringify([lb.TOOL_SPECIFIC, lb.TOOL_CONTROLS]))"
    out = subprocess.run([node, "-e", code % json.dumps(str(DEVICE_JS))], capture_output=True,
                         text=True, check=True).stdout
    specific, controls = json.loads(out)
    assert specific == TOOL_SPECIFIC
    assert all(set(uses) <= set(specific) for uses in controls.values())


# --- Continue, Groove, Drumify and follow mode (issue 15; issue 12, item 7) ----------------------

ALL_MODES = ["sample", "interpolate", "vary", "continue", "groove", "drumify", "follow"]


def test_each_new_tool_shows_its_own_controls(run_device):
    """continue: slot A and the bars it adds; groove, drumify: slot A; follow: its phrase length,
    its answer, and the amount only while the answer is a variation."""
    out = run_device({"live": {"tracks": [track()]}, "steps": [
        {"init": True}, {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]},
        {"handle": "/lb/modes", "args": ALL_MODES}] +
        [{"handle": "mode", "args": [i]} for i in range(3, 7)] +
        [{"handle": "answer", "args": [1]}]})
    shown = []
    ui = out["ui"]
    for i, m in enumerate(ui):
        if m[0] == "tool":
            shown.append((m[1], tools_shown(ui[i:i + 1 + len(TOOL_SPECIFIC)])[m[1]]))
    assert shown[-5:] == [(3, active("capture_a", "continue_bars")), (4, active("capture_a")),
                          (5, active("capture_a")), (6, active("follow_bars", "answer", "amount")),
                          (6, active("follow_bars", "answer"))]     # answer continue: no amount


def test_continue_and_follow_controls_reach_the_bridge_and_come_back(run_device, osc_contract, helpers):
    """Each new control sends its documented message (checked against docs/osc.md) and is sent
    again when the bridge comes back, before the stream."""
    steps = [{"init": True}, {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]},
             {"handle": "/lb/modes", "args": ["sample", "interpolate", "vary", "continue", "follow"]},
             {"handle": "continue_bars", "args": [4.0]}, {"handle": "follow_bars", "args": [2]},
             {"handle": "answer", "args": [1]}, {"handle": "answer", "args": [9]},
             {"handle": "mode", "args": [4]}, {"handle": "stream", "args": [1]},
             {"advance": 9500}, {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]}]
    out = run_device({"live": {"tracks": [track()]}, "steps": steps})
    sent = [(o["t"], o["message"]) for o in out["outlets"] if o["outlet"] == 0]
    datagrams(out, osc_contract, helpers)
    assert [m for t, m in sent if t == 0 and m[0] not in ("/lb/transport", "/lb/hello", "/lb/ping",
                                                          "/lb/models", "/lb/modes", "/lb/status")] == [
        ["/lb/continue/bars", 4], ["/lb/follow/bars", 2], ["/lb/follow/answer", "continue"],
        ["/lb/mode", "follow"], ["/lb/stream", 1]]
    assert any(s.startswith("no answer 9") for s in out["status"])
    assert [m for t, m in sent if t == 9500] == [
        ["/lb/mode", "follow"], ["/lb/continue/bars", 4], ["/lb/follow/bars", 2],
        ["/lb/follow/answer", "continue"], ["/lb/stream", 1]]


def test_an_answer_the_new_model_cannot_give_falls_back_like_the_bridge(run_device):
    """groove picked on a groove model; then mel_2bar: the Answer menu shows vary (without
    output), the bridge is told, and the status line says why."""
    out = run_device({"live": {"tracks": [track()]}, "steps": [
        {"init": True}, {"handle": "/lb/hello", "args": ["0.1.0", "groove_2bar"]},
        {"handle": "/lb/modes", "args": ["sample", "interpolate", "vary", "groove", "follow"]},
        {"handle": "mode", "args": [4]}, {"handle": "answer", "args": [2]},
        {"handle": "/lb/model/loaded", "args": ["mel_2bar", "flat", 2]},
        {"handle": "/lb/modes", "args": ["sample", "interpolate", "vary", "continue", "follow"]}]})
    answers = [m for m in out["osc"] if m[0] == "/lb/follow/answer"]
    assert answers == [["/lb/follow/answer", "groove"], ["/lb/follow/answer", "vary"]]
    assert ["answer", 0] in out["ui"]
    assert "mel_2bar cannot answer with groove: answer vary" in out["status"]
    assert tools_shown(out["ui"])[4] == active("follow_bars", "answer", "amount")   # vary again


def test_a_bar_that_comes_just_before_it_plays_is_handed_over_at_once(run_device):
    """Follow mode's answers reach the device a 32nd before their bar: /lb/bar/end hands the
    notes to [pipe] at once, not at the next 20 ms tick (which could be after their beat)."""
    out = run_device({"live": {"tracks": [track()], "song": {"tempo": 120.0}}, "steps": [
        {"init": True}, {"song": "is_playing", "value": 1}, {"advance": 1950},   # beat 3.9
        {"handle": "/lb/bar", "args": [1, 4.0, 60, 0.0, 0.5, 90, 64, 0.5, 0.5, 90]},
        {"handle": "/lb/bar/end", "args": [1, 2]}, {"advance": 600}]})
    notes = [(o["t"], o["message"][1], o["message"][4]) for o in out["play"] if o["message"][0] == "note"]
    assert notes == [(1950, 60, 4.0 * 480), (1950, 64, 4.5 * 480)]
