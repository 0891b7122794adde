"""The device's Temperature dial follows the tool as the bridge's default does (runtime/defaults.py,
docs/osc.md Defaults): while it holds the previous tool's default it moves to the new tool's
(shown without output, sent to the bridge); once moved by hand it stays."""

from runtime.defaults import TOOL_DEFAULTS

MODES = ["sample", "interpolate", "vary", "continue", "groove", "drumify", "follow"]
SAMPLE, VARY = TOOL_DEFAULTS["sample"]["temperature"], TOOL_DEFAULTS["vary"]["temperature"]


def connected(*steps):
    return {"live": {"tracks": [{"device": True, "slots": 4, "clips": {}}]},
            "steps": [{"init": True}, {"handle": "/lb/hello", "args": ["0.1.0", "mel_2bar"]},
                      {"handle": "/lb/modes", "args": MODES}, *steps]}


def sent(out, address):
    return [m[1:] for m in out["osc"] if m[0] == address]


def test_the_dial_follows_the_tool_while_it_holds_the_default(run_device, osc_contract):
    out = run_device(connected(
        {"handle": "temperature", "args": [SAMPLE]},      # restored with the set: sample's
        {"handle": "mode", "args": [2]},                  # vary
        {"handle": "mode", "args": [0]},                  # sample again
        {"handle": "mode", "args": [6]},                  # follow, answering with a variation
        {"handle": "answer", "args": [1]}))               # ... with a continuation
    for message in out["osc"]:
        osc_contract.encode(message[0], message[1:])      # every message as docs/osc.md says
    assert [m for m in out["ui"] if m[0] == "temperature"] == [
        ["temperature", VARY], ["temperature", SAMPLE], ["temperature", VARY]]
    assert sent(out, "/lb/temperature") == [[SAMPLE], [VARY], [SAMPLE], [VARY]]
    assert out["osc"].index(["/lb/mode", "vary"]) < out["osc"].index(["/lb/temperature", VARY])


def test_a_dial_moved_by_hand_stays_through_tool_changes(run_device):
    out = run_device(connected(
        {"handle": "temperature", "args": [0.8]},
        *[{"handle": "mode", "args": [i]} for i in (2, 3, 0)]))        # vary, continue, sample
    assert not [m for m in out["ui"] if m[0] == "temperature"]
    assert sent(out, "/lb/temperature") == [[0.8]]
    assert sent(out, "/lb/mode") == [["vary"], ["continue"], ["sample"]]
