"""One default per tool setting (runtime/defaults.py), the same from every door: render's flags,
the engine's keyword defaults, the bridge's session, the device and the Open Stage Control
surface; and over real UDP, a mode change brings the mode's temperature unless the client set
one."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from bridge.session import Session
from runtime import render
from runtime.defaults import TOOL_DEFAULTS
from runtime.engine import Engine

REPO = Path(__file__).resolve().parents[2]
# engine call and keyword of each (tool, setting)
ENGINE_CALLS = {"continue": "continue_"}
ENGINE_KEYWORDS = {"steps": "n"}
# what the bridge has no setting for, and why
BRIDGE_LACKS = {("reconstruct", "temperature"): "the bridge has no reconstruct mode",
                ("interpolate", "steps"): "the bridge plays one position of the path at a time"}
CASES = [(tool, setting) for tool, values in TOOL_DEFAULTS.items() for setting in values]


def render_default(tool: str, setting: str):
    """The value render uses when the flag is not given, and what its --help says."""
    parser = render.build_parser()
    command = parser._subparsers._group_actions[0].choices[tool]
    flag = f"--{setting}"
    line = re.search(rf"^  {flag} \S+\s.*?(?=^  -|^\S|\Z)", command.format_help(), re.M | re.S)
    return getattr(parser.parse_args([tool]), setting), line.group(0)


def bridge_default(tool: str, setting: str):
    """A new session's value once the client picks ``tool``'s mode (nothing set by hand)."""
    session = Session()          # no engine: every mode may be picked
    session.set("mode", tool)
    params = session.params()
    return {"temperature": params.temperature, "amount": params.amount,
            "bars": params.continue_bars}[setting]


@pytest.mark.parametrize("tool,setting", CASES, ids=[f"{t}-{s}" for t, s in CASES])
def test_render_bridge_and_engine_default_agree(tool, setting):
    expected = TOOL_DEFAULTS[tool][setting]
    value, help_text = render_default(tool, setting)
    assert value == expected, f"render {tool}: {setting} {value} != {expected}"
    assert re.search(rf"\(default: {re.escape(str(expected))}\)", " ".join(help_text.split())), \
        f"render {tool} --help does not show {setting}'s default {expected}"
    method = getattr(Engine, ENGINE_CALLS.get(tool, tool))
    keyword = ENGINE_KEYWORDS.get(setting, setting)
    engine_value = inspect.signature(method).parameters[keyword].default
    assert engine_value == expected, f"Engine.{method.__name__}: {keyword}={engine_value}"
    if (tool, setting) not in BRIDGE_LACKS:
        assert bridge_default(tool, setting) == expected, f"bridge {tool}: {setting}"


def test_the_device_and_the_control_surface_start_where_the_bridge_does():
    """The device's per-tool temperatures are the table's; its dials and the Open Stage Control
    knobs start at the values of the bridge's first mode (sample) and of vary's amount."""
    js = (REPO / "max_for_live" / "latentbridge.js").read_text()
    table = re.search(r"var TOOL_TEMPERATURE = \{(.*?)\};", js, re.S).group(1)
    device = {k.strip('"'): float(v) for k, v in re.findall(r'("?\w+"?):\s*([\d.]+)', table)}
    tools = {t for t in TOOL_DEFAULTS if t != "reconstruct"}     # the device has no reconstruct
    assert device == {t: TOOL_DEFAULTS[t]["temperature"] for t in tools}

    patch = json.loads((REPO / "max_for_live" / "latentbridge.maxpat").read_text())
    initial = {b["box"]["varname"]: b["box"]["saved_attribute_attributes"]["valueof"]
               ["parameter_initial"][0] for b in patch["patcher"]["boxes"]
               if b["box"].get("varname") in ("temperature", "amount")}
    assert initial == {"temperature": TOOL_DEFAULTS["sample"]["temperature"],
                       "amount": TOOL_DEFAULTS["vary"]["amount"]}

    surface = json.loads((REPO / "controls" / "latentbridge.json").read_text())
    widgets = {w["id"]: w for w in surface["content"]["widgets"]}
    assert widgets["mode"]["default"] == "sample"
    assert widgets["temperature"]["default"] == TOOL_DEFAULTS["sample"]["temperature"]
    assert widgets["amount"]["default"] == TOOL_DEFAULTS["vary"]["amount"]
    assert widgets["continue_bars"]["default"] == TOOL_DEFAULTS["continue"]["bars"]


# /lb/status: s:model i:streaming i:playing f:beat f:tempo s:mode f:position f:temperature ...
TEMPERATURE = 7


def status(client) -> tuple[str, float]:
    client.send("/lb/status")
    reply = client.expect("/lb/status")
    return reply[5], round(reply[TEMPERATURE], 6)


def test_a_mode_brings_its_temperature_until_the_client_sets_one(make_bridge):
    bridge, device = make_bridge()
    other = make_bridge.client(bridge)
    device.hello()
    assert status(device) == ("sample", TOOL_DEFAULTS["sample"]["temperature"])
    for mode in ("vary", "continue", "interpolate", "sample"):
        device.send("/lb/mode", mode)
        assert status(device) == (mode, TOOL_DEFAULTS[mode]["temperature"])
    device.send("/lb/mode", "follow")
    device.send("/lb/follow/answer", "continue")
    assert status(device) == ("follow", TOOL_DEFAULTS["continue"]["temperature"])

    # the client's own value stays through every mode change
    device.send("/lb/mode", "sample")
    device.send("/lb/temperature", 0.8)
    for mode in ("vary", "sample", "continue"):
        device.send("/lb/mode", mode)
        assert status(device) == (mode, 0.8)

    # another client's session (unregistered) still follows its modes
    other.send("/lb/mode", "vary")
    assert status(other) == ("vary", TOOL_DEFAULTS["vary"]["temperature"])
    assert status(device) == ("continue", 0.8)
