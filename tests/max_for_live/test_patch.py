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


def test_every_patchline_joins_existing_boxes_at_valid_inlets(patch):
    boxes = {b["box"]["id"]: b["box"] for b in patch["patcher"]["boxes"]}
    assert len(boxes) == len(patch["patcher"]["boxes"])
    for entry in patch["patcher"]["lines"]:
        (src, outlet), (dst, inlet) = entry["patchline"]["source"], entry["patchline"]["destination"]
        assert 0 <= outlet < boxes[src]["numoutlets"], entry
        assert 0 <= inlet < boxes[dst]["numinlets"], entry
    assert load_build().validate_patch(patch) == []


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


def test_osc_ports_match_the_bridge_defaults(patch, bridge_ports):
    host, bridge_port, device_port = bridge_ports
    texts = boxes_by_text(patch)
    assert f"udpsend {host} {bridge_port}" in texts
    assert f"udpreceive {device_port}" in texts
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
                     "Amount", "Bars", "Stream", "Write Clip"}
    mode = next(b for b in params if b["varname"] == "mode")
    assert mode["saved_attribute_attributes"]["valueof"]["parameter_enum"] == ["sample", "interpolate", "vary"]


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
            selectors[src["varname"]] = dst["text"].split()[1]
    assert len(selectors) == 11
    steps = [{"handle": "/lb/models", "args": ["a", "b"]}]
    steps += [{"handle": sel, "args": [1]} for sel in selectors.values() if not sel.startswith("capture")]
    out = run_device({"live": {"tracks": [{"device": True}]}, "steps": steps})
    assert not [s for s in out["status"] if s.startswith("unknown")]
    assert len(out["osc"]) >= len(steps) - 1


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
