"""The device's patch (max_for_live/latentbridge.maxpat): wiring, ports, parameters."""

import copy
import importlib.util
import json
import re
from pathlib import Path

import pytest

DEVICE_DIR = Path(__file__).resolve().parents[2] / "max_for_live"


def load_build():
    spec = importlib.util.spec_from_file_location("lb_build", DEVICE_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def patch():
    return json.loads((DEVICE_DIR / "latentbridge.maxpat").read_text())


def boxes_by_text(patch):
    return {b["box"].get("text", ""): b["box"] for b in patch["patcher"]["boxes"]}


# The real inlet and outlet counts of every Max object class in the patch, as Max 8 creates them
# (from Max 7/8-saved patchers and the Max reference), as a function of the box's arguments. The
# patch's own numinlets/numoutlets are only what the file claims; Max rebuilds the box from its
# text when it loads, so a line to an inlet that does not exist is dropped without a word.
def _route(args):
    n = max(1, len(args))          # Max 7+: one inlet per argument (it replaces that argument)
    return n + 1, n + 1            # ... and one outlet per argument plus the reject outlet


def _pipe(args):
    if len(args) <= 1:             # [pipe] / [pipe 100]: the one argument is the delay
        return 2, 1
    return len(args), len(args) - 1   # N-1 values (inlet+outlet each), the last one is the delay


def _js(args):
    """[js file.js]: the counts the script declares (inlets = N; outlets = M;)."""
    source = (DEVICE_DIR / args[0]).read_text()
    inlets = re.search(r"^\s*inlets\s*=\s*(\d+);", source, re.M)
    outlets = re.search(r"^\s*outlets\s*=\s*(\d+);", source, re.M)
    assert inlets and outlets, f"{args[0]} does not declare inlets/outlets"
    return int(inlets.group(1)), int(outlets.group(1))


MAX_PORTS = {
    # object boxes (maxclass newobj), by class name
    "live.thisdevice": lambda args: (1, 3),     # bang when ready, enabled state, preview state
    "udpreceive": lambda args: (1, 1),
    "udpsend": lambda args: (1, 0),
    "midiin": lambda args: (1, 1),
    "midiout": lambda args: (1, 0),
    "midiformat": lambda args: (7, 2),          # note, poly pressure, CC, program, aftertouch,
                                                # pitch bend, channel; Max 7+ has a 2nd outlet
    "midiparse": lambda args: (1, 8),
    "makenote": lambda args: (4, 3) if len(args) >= 3 else (3, 2),   # 3rd argument: channel
    "pipe": _pipe,
    "pack": lambda args: (max(2, len(args)), 1),
    "t": lambda args: (1, max(1, len(args))),
    "trigger": lambda args: (1, max(1, len(args))),
    "prepend": lambda args: (1, 1),
    "transport": lambda args: (2, 9),           # bars, beats, units, resolution, tempo, time
                                                # signature, state, ticks, dumpout (Max 7+)
    "unpack": lambda args: (1, max(2, len(args))),
    "-": lambda args: (2, 1),
    "pattr": lambda args: (1, 3),               # value, bindto, dumpout
    "route": _route,
    "js": _js,
    # user-interface boxes, by maxclass
    "message": lambda args: (2, 1),
    "comment": lambda args: (1, 0),
    "led": lambda args: (1, 1),
    "live.text": lambda args: (1, 2),
    "live.menu": lambda args: (1, 3),
    "live.tab": lambda args: (1, 3),
    "live.dial": lambda args: (1, 2),
    "live.numbox": lambda args: (1, 2),
    "live.toggle": lambda args: (1, 1),
}


def box_class(box):
    if box["maxclass"] == "newobj":
        words = box["text"].split()
        return words[0], words[1:]
    return box["maxclass"], []


def real_ports(box):
    name, args = box_class(box)
    assert name in MAX_PORTS, f"{box['id']}: add [{name}] to MAX_PORTS with its real inlet/outlet counts"
    return MAX_PORTS[name](args)


def test_every_box_has_the_inlets_and_outlets_max_gives_its_class(patch):
    for entry in patch["patcher"]["boxes"]:
        box = entry["box"]
        inlets, outlets = real_ports(box)
        assert (box["numinlets"], box["numoutlets"]) == (inlets, outlets), (box["id"], box.get("text"))
        assert len(box.get("outlettype", [])) == outlets, box["id"]


def test_port_table_counts_follow_the_arguments():
    assert _route(["a"]) == (2, 2) and _route(["status", "connected", "models", "model"]) == (5, 5)
    assert _pipe([]) == (2, 1) and _pipe(["100"]) == (2, 1) and _pipe(["0", "0", "0", "0"]) == (4, 3)
    assert MAX_PORTS["makenote"](["100", "250"]) == (3, 2) and MAX_PORTS["makenote"](["1", "2", "3"]) == (4, 3)
    assert _js(["latentbridge.js"]) == (1, 3)


def test_every_patchline_joins_existing_boxes_at_valid_inlets(patch):
    boxes = {b["box"]["id"]: b["box"] for b in patch["patcher"]["boxes"]}
    assert len(boxes) == len(patch["patcher"]["boxes"])
    for entry in patch["patcher"]["lines"]:
        (src, outlet), (dst, inlet) = entry["patchline"]["source"], entry["patchline"]["destination"]
        assert 0 <= outlet < real_ports(boxes[src])[1], entry
        assert 0 <= inlet < real_ports(boxes[dst])[0], entry
    assert load_build().validate_patch(patch) == []


# Outlets of [route] and [prepend] boxes that are deliberately left open, and why.
UNCONNECTED = {
    ("obj-routeplay", 3): "the js sends only 'note ...', 'clear' and 'flush' on outlet 1",
    ("obj-routeui", 12): "'bridge ...' (the /lb/status readout) has no display in the device",
    ("obj-routeactive", 7): "the js dims only the seven tool-specific controls (TOOL_SPECIFIC)",
}


def lines_of(patch):
    return [l["patchline"] for l in patch["patcher"]["lines"]]


def test_every_route_and_prepend_outlet_goes_somewhere(patch):
    lines = lines_of(patch)
    for entry in patch["patcher"]["boxes"]:
        box = entry["box"]
        if box_class(box)[0] not in ("route", "prepend"):
            continue
        for outlet in range(real_ports(box)[1]):
            connected = any(l["source"] == [box["id"], outlet] for l in lines)
            if (box["id"], outlet) in UNCONNECTED:
                assert not connected, f"{box['id']} outlet {outlet} is connected now: drop its reason"
            else:
                assert connected, f"[{box['text']}] ({box['id']}) outlet {outlet} goes nowhere"


def flow(patch, source, message, ticks=0.0, state=None):
    """Where `message` out of (box, outlet) lands: follows [route], [prepend], [t], [unpack],
    [-], [transport] (which reports `ticks`, the song position) and "$1 ..." message boxes as
    Max runs them (right to left), and returns (box id, inlet, message) for every other box it
    reaches. [pipe] is followed too: a value into its left inlet lands as
    (pipe id, "after", [values..., delay]) with the delay it was given last."""
    boxes = {b["box"]["id"]: b["box"] for b in patch["patcher"]["boxes"]}
    lines = lines_of(patch)
    arrived = []
    state = {} if state is None else state          # what boxes hold in their right inlets

    def out(box_id, outlet, msg):
        for line in lines:
            if line["source"] == [box_id, outlet]:
                into(*line["destination"], msg)

    def into(box_id, inlet, msg):
        box = boxes[box_id]
        name, args = box_class(box)
        held = state.setdefault(box_id, {})
        if name == "route" and inlet == 0:
            for i, arg in enumerate(args):
                if str(msg[0]) == arg:
                    return out(box_id, i, msg[1:] or ["bang"])
            return out(box_id, len(args), msg)
        if name == "prepend":
            return out(box_id, 0, args + msg)
        if name in ("t", "trigger"):
            for i in reversed(range(len(args))):
                out(box_id, i, ["bang"] if args[i] == "b" else msg)
            return None
        if name == "transport" and inlet == 0 and msg == ["bang"]:
            return out(box_id, 7, [ticks])                # outlet 7: the position in ticks
        if name == "unpack":
            for i in reversed(range(len(args))):
                out(box_id, i, [msg[i]])
            return None
        if name == "-":
            if inlet == 1:
                held["right"] = msg[0]
                return None
            return out(box_id, 0, [msg[0] - held.get("right", float(args[0]) if args else 0)])
        if box["maxclass"] == "message" and inlet == 0 and msg[:1] != ["set"]:   # "$1 ticks", "clear"
            return out(box_id, 0, [msg[0] if w == "$1" else w for w in box["text"].split()])
        if name == "pipe":
            last = len(args) - 1                           # the delay inlet
            if inlet == last:
                held["delay"] = msg
                return None
            if inlet > 0:
                held[inlet] = msg[0]
                return None
            if msg == ["clear"]:
                return arrived.append((box_id, 0, msg))
            values = [msg[0]] + [held.get(i, 0) for i in range(1, last)]
            return arrived.append((box_id, "after", values + [held.get("delay")]))
        arrived.append((box_id, inlet, msg))

    out(*source, list(message))
    return arrived


def test_the_model_menu_is_filled_and_set_from_the_js(patch, run_device):
    """The js's own UI messages, sent through the patch's lines, reach the menu, text and LED."""
    out = run_device({"live": {"tracks": [{"device": True}]}, "steps": [
        {"init": True}, {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]},
        {"handle": "/lb/models", "args": ["mel_2bar", "drums_2bar"]},
        {"handle": "/lb/status", "args": ["mel_2bar", 0, 0, 0.0, 120.0, "sample", 0.5, 0.5, 2, 0, 0]},
        {"handle": "/lb/model/loaded", "args": ["drums_2bar", "drums", 2]}]})
    arrived = []
    for o in out["outlets"]:
        arrived += flow(patch, ("obj-js", o["outlet"]), o["message"])
    assert ("obj-model", 0, ["_parameter_range", "mel_2bar", "drums_2bar"]) in arrived
    assert ("obj-model", 0, ["set", 0]) in arrived and ("obj-model", 0, ["set", 1]) in arrived
    assert ("obj-status", 0, ["set", "connected to the bridge"]) in arrived
    assert ("obj-led", 0, ["set", 1]) in arrived
    assert ("obj-udpsend", 0, ["/lb/hello", 9001]) in arrived
    assert ("obj-udpreceive", 0, ["port", 9001]) in arrived       # listens where the hello says
    # Everything else the js says to the UI is routed, except the documented readout.
    routed = {"obj-model", "obj-status", "obj-led", "obj-udpreceive", "obj-savedmodel", "obj-mode",
              "obj-capture_a", "obj-capture_b", "obj-position", "obj-amount", "obj-continue_bars",
              "obj-follow_bars", "obj-answer"}
    lost = [o["message"] for o in out["outlets"] if o["outlet"] == 2
            and not any(box in routed for box, _, _ in flow(patch, ("obj-js", 2), o["message"]))]
    assert lost and all(m[0] == "bridge" for m in lost)


def test_streamed_notes_wait_in_pipe_for_their_tick_and_clear_reaches_makenote(patch):
    """A note handed over at song tick 9000 for tick 9600 waits 600 ticks in [pipe]: the delay
    is measured against [transport] when the note arrives, not when [js] computed it."""
    assert flow(patch, ("obj-js", 1), ["note", 60, 100, 250, 9600.0], ticks=9000.0) == [
        ("obj-pipe", "after", [60, 100, 250, [600.0, "ticks"]])]
    assert flow(patch, ("obj-js", 1), ["clear"]) == [("obj-pipe", 0, ["clear"]), ("obj-makenote", 0, ["stop"])]
    assert flow(patch, ("obj-js", 1), ["flush"]) == [("obj-pipe", 0, ["clear"])]   # sounding notes go on
    lines = lines_of(patch)
    # pipe's three value outlets feed makenote's pitch, velocity and duration inlets
    assert all({"source": ["obj-pipe", i], "destination": ["obj-makenote", i]} in lines for i in range(3))


def test_validation_finds_broken_wiring_and_unnamed_parameters(patch):
    broken = copy.deepcopy(patch)
    lines = broken["patcher"]["lines"]
    lines.append({"patchline": {"source": ["obj-js", 5], "destination": ["obj-udpsend", 0]}})
    lines.append({"patchline": {"source": ["obj-js", 0], "destination": ["obj-nowhere", 0]}})
    dial = next(b["box"] for b in broken["patcher"]["boxes"] if b["box"]["id"] == "obj-temperature")
    del dial["hint"], dial["annotation"]
    broken["patcher"]["boxes"].append({"box": {
        "id": "obj-sub", "maxclass": "newobj", "text": "p inner", "numinlets": 1, "numoutlets": 0,
        "patcher": {"boxes": [{"box": {"id": "obj-1", "maxclass": "newobj", "text": "t b",
                                       "numinlets": 1, "numoutlets": 1}}],
                    "lines": [{"patchline": {"source": ["obj-1", 0], "destination": ["obj-1", 1]}}]}}})
    problems = load_build().validate_patch(broken)
    assert sorted(problems) == ["obj-sub > patchline to obj-1 inlet 1: it has 1 inlets",
                                "obj-temperature: parameter Temperature has no hint",
                                "patchline from obj-js outlet 5: it has 3 outlets",
                                "patchline to missing box obj-nowhere"]


def test_osc_ports_match_the_bridge_defaults(patch, bridge_ports, run_device):
    """udpsend goes where `python -m bridge` listens by default; replies come to udpreceive."""
    from bridge.__main__ import build_parser            # the bridge's real defaults (read only)

    defaults = build_parser().parse_args([])
    host, bridge_port, device_port = bridge_ports       # as docs/osc.md states them
    assert (defaults.host, defaults.port) == (host, bridge_port) == ("127.0.0.1", 9000)
    texts = boxes_by_text(patch)
    assert f"udpsend {defaults.host} {defaults.port}" in texts
    assert f"udpreceive {device_port}" in texts
    # The bridge has no reply port of its own (--reply-port defaults to none): it learns the
    # device's from /lb/hello, so the hello must carry the port udpreceive listens on.
    assert defaults.reply_port is None
    out = run_device({"live": {"tracks": [{"device": True}]}, "steps": [{"init": True}]})
    assert ["/lb/hello", device_port] in out["osc"]
    js_default = re.search(r"replyPort:\s*(\d+)", (DEVICE_DIR / "latentbridge.js").read_text())
    assert int(js_default.group(1)) == device_port


def test_it_is_a_midi_effect_that_passes_midi_through(patch):
    patcher = patch["patcher"]
    assert patcher["project"]["amxdtype"] == int.from_bytes(b"mmmm", "big")
    texts = boxes_by_text(patch)
    midiin, midiout = texts["midiin"]["id"], texts["midiout"]["id"]
    assert {"source": [midiin, 0], "destination": [midiout, 0]} in [l["patchline"] for l in patcher["lines"]]
    js = texts["js latentbridge.js"]
    assert (DEVICE_DIR / "latentbridge.js").exists()
    assert (js["numinlets"], js["numoutlets"]) == (1, 3)      # as the script declares
    source = (DEVICE_DIR / "latentbridge.js").read_text()
    assert "inlets = 1;" in source and "outlets = 3;" in source


def test_every_parameter_has_a_name_a_hint_and_a_sane_default(patch):
    params = [b["box"] for b in patch["patcher"]["boxes"] if b["box"].get("parameter_enable")]
    names = set()
    for box in params:
        valueof = box["saved_attribute_attributes"]["valueof"]
        names.add(valueof["parameter_longname"])
        assert valueof["parameter_shortname"] and len(box["hint"]) > 20 and box["annotation"] == box["hint"]
        if "parameter_initial" in valueof:
            low, high = valueof.get("parameter_mmin", 0), valueof["parameter_mmax"]
            assert low <= valueof["parameter_initial"][0] <= high, valueof
        assert box["id"] in patch["patcher"]["parameters"]
    assert names == {"Connect", "Model", "Mode", "Capture A", "Capture B", "Position", "Temperature",
                     "Amount", "Bars", "Stream", "Write Clip", "Saved Model", "Saved Mode",
                     "Continue Bars", "Follow Bars", "Answer", "Kick Pad", "Snare Pad",
                     "Closed Hat Pad", "Open Hat Pad", "Low Tom Pad", "Mid Tom Pad", "High Tom Pad",
                     "Crash Pad", "Ride Pad"}
    # The Mode menu starts with what every model offers; the bridge's /lb/modes fills the rest.
    mode = next(b for b in params if b["varname"] == "mode")
    assert mode["saved_attribute_attributes"]["valueof"]["parameter_enum"] == ["sample"]


def test_every_control_is_wired_to_the_js_with_a_selector_it_knows(patch, run_device):
    """Each live.* control -> [prepend selector] -> [js]; the device understands each selector."""
    boxes = {b["box"]["id"]: b["box"] for b in patch["patcher"]["boxes"]}
    lines = [l["patchline"] for l in patch["patcher"]["lines"]]
    js = next(i for i, b in boxes.items() if b.get("text") == "js latentbridge.js")
    selectors = {}
    for line in lines:
        src, dst = boxes[line["source"][0]], boxes[line["destination"][0]]
        if src.get("parameter_enable") and dst.get("text", "").startswith("prepend "):
            assert {"source": [dst["id"], 0], "destination": [js, 0]} in lines
            selectors[src["varname"]] = dst["text"].split()[1:]
    assert len(selectors) == 25
    steps = [{"handle": "/lb/models", "args": ["a", "b"]},
             {"handle": "/lb/modes", "args": ["sample", "interpolate", "vary"]}]
    steps += [{"handle": sel[0], "args": [int(a) for a in sel[1:]] + [1]} for sel in selectors.values()
              if not sel[0].startswith("capture")]
    out = run_device({"live": {"tracks": [{"device": True}]}, "steps": steps})
    assert not [s for s in out["status"] if s.startswith("unknown") or s.startswith("drum map")]
    assert len(out["osc"]) >= len(steps) - 13          # the drum map, the /lb/ replies and the
                                                       # saved model and mode send nothing


def test_presentation_fits_the_device_strip_without_overlaps(patch):
    """Live shows a device 169 px high; presentation boxes must fit and not cover each other."""
    width = patch["patcher"]["devicewidth"]
    shown = [(b["box"]["id"], b["box"]["presentation_rect"]) for b in patch["patcher"]["boxes"]
             if b["box"].get("presentation")]
    assert len(shown) >= 14
    for box_id, (x, y, w, h) in shown:
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= 169, box_id
    for i, (a, (ax, ay, aw, ah)) in enumerate(shown):
        for b, (bx, by, bw, bh) in shown[i + 1:]:
            assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, (a, b)


def test_streamed_notes_land_on_their_beat_through_the_patch(patch, run_device, melody):
    """The script's real note messages, at the moments it sends them (30 ms notifications, a
    tempo change on the way), through the patch: each leaves [pipe] at its beat's tick."""
    bars = [melody.slice(b * 3.0, (b + 1) * 3.0) for b in range(1, 5)]
    steps = [{"init": True}, {"song": "tempo", "value": 100.0}]
    for index, bar in enumerate(bars, start=1):            # bar 0 is left empty: the count-in
        args = [index, index * 3.0] + [v for n in bar.notes for v in (n.pitch, n.start, n.duration, n.velocity)]
        steps += [{"handle": "/lb/bar", "args": args}, {"handle": "/lb/bar/end", "args": [index, len(bar.notes)]}]
    steps += [{"song": "is_playing", "value": 1}, {"advance": 3000}, {"song": "tempo", "value": 140.0},
              {"advance": 6000}]
    out = run_device({"live": {"tracks": [{"device": True}], "notify_delay_ms": 30}, "steps": steps})
    landed, state = [], {}
    for o in out["play"]:
        for box, how, values in flow(patch, ("obj-js", 1), o["message"], ticks=o["ticks"], state=state):
            if how == "after":
                delay, unit = values[3]
                assert unit == "ticks" and delay >= 0          # never in the past
                landed.append((o["ticks"] + delay, values[0]))
    expected = [((b * 3.0 + n.start) * 480, n.pitch) for b, bar in enumerate(bars, start=1) for n in bar.notes]
    assert len(landed) == len(expected) > 5
    for (tick, pitch), (tick_expected, pitch_expected) in zip(sorted(landed), sorted(expected)):
        assert pitch == pitch_expected and tick == pytest.approx(tick_expected, abs=1e-3)


def test_buttons_are_not_automatable_and_the_model_and_drum_map_are_stored(patch):
    boxes = {b["box"]["id"]: b["box"] for b in patch["patcher"]["boxes"]}
    valueof = {i: b["saved_attribute_attributes"]["valueof"] for i, b in boxes.items() if b.get("parameter_enable")}
    for button in ("obj-connect", "obj-capture_a", "obj-capture_b", "obj-write", "obj-model", "obj-mode"):
        assert valueof[button]["parameter_invisible"] == 2, button          # Hidden: not automated
    automatable = {v["parameter_longname"] for v in valueof.values() if not v.get("parameter_invisible")}
    assert automatable == {"Position", "Temperature", "Amount", "Bars", "Stream", "Continue Bars",
                           "Follow Bars", "Answer"}
    saved = boxes["obj-savedmodel"]
    assert box_class(saved) == ("pattr", ["lb_model"]) and valueof["obj-savedmodel"]["parameter_type"] == 3  # blob
    # The js's pick goes into [pattr] without output; what [pattr] restores goes to the js.
    assert flow(patch, ("obj-js", 2), ["savemodel", "drums_2bar"]) == [("obj-savedmodel", 0, ["set", "drums_2bar"])]
    assert flow(patch, ("obj-savedmodel", 0), ["drums_2bar"]) == [("obj-js", 0, ["saved_model", "drums_2bar"])]
    pads = [i for i in boxes if i.startswith("obj-drum")]
    assert len(pads) == 9
    for k in range(9):
        v = valueof[f"obj-drum{k}"]
        assert v["parameter_invisible"] == 1 and v["parameter_initial"] == [[36, 38, 42, 46, 45, 48, 50, 49, 51][k]]
        assert flow(patch, (f"obj-drum{k}", 0), [60]) == [("obj-js", 0, ["drum", str(k), 60])]


def test_the_mode_menu_and_the_tool_controls_follow_the_js(patch):
    """/lb/modes fills the Mode menu, the chosen tool is shown without output and stored by
    name, and the controls a tool does not use are dimmed ("active 0")."""
    assert flow(patch, ("obj-js", 2), ["modes", "sample", "vary"]) == [
        ("obj-mode", 0, ["_parameter_range", "sample", "vary"])]
    assert flow(patch, ("obj-js", 2), ["tool", 1]) == [("obj-mode", 0, ["set", 1])]
    for control in ("capture_a", "capture_b", "position", "amount", "continue_bars", "follow_bars",
                    "answer"):
        assert flow(patch, ("obj-js", 2), ["active", control, 0]) == [(f"obj-{control}", 0, ["active", 0])]
    # follow mode's Answer menu: fixed items, saved with the set as a parameter; the js shows a
    # fallback answer without output, and a pick goes to the js by index
    assert flow(patch, ("obj-js", 2), ["answer", 2]) == [("obj-answer", 0, ["set", 2])]
    assert flow(patch, ("obj-answer", 0), [1]) == [("obj-js", 0, ["answer", 1])]
    menu = next(b["box"] for b in patch["patcher"]["boxes"] if b["box"]["id"] == "obj-answer")
    from bridge.session import ANSWERS                 # the bridge's answers, in its order

    assert menu["saved_attribute_attributes"]["valueof"]["parameter_enum"] == list(ANSWERS)
    for control, selector in (("obj-continue_bars", "continue_bars"), ("obj-follow_bars", "follow_bars")):
        assert flow(patch, (control, 0), [4]) == [("obj-js", 0, [selector, 4])]
    assert flow(patch, ("obj-js", 2), ["savemode", "vary"]) == [("obj-savedmode", 0, ["set", "vary"])]
    assert flow(patch, ("obj-savedmode", 0), ["vary"]) == [("obj-js", 0, ["saved_mode", "vary"])]
    assert flow(patch, ("obj-mode", 0), [1]) == [("obj-js", 0, ["mode", 1])]
    assert box_class(boxes_by_text(patch)["pattr lb_mode"]) == ("pattr", ["lb_mode"])
