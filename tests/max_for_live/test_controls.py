"""controls/latentbridge.json: the Open Stage Control surface speaks docs/osc.md to the bridge."""

import json
import subprocess
from pathlib import Path

import pytest

SESSION = Path(__file__).resolve().parents[2] / "controls" / "latentbridge.json"

# Runs each widget's onValue script as Open Stage Control would on a press (value 1), with a
# send() that records its arguments.
RUN_SCRIPTS = r"""
const session = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const sent = {};
for (const w of session.content.widgets) {
  if (!w.onValue) continue;
  sent[w.id] = [];
  new Function("value", "send", w.onValue)(1, (...args) => sent[w.id].push(args));
  new Function("value", "send", w.onValue)(0, (...args) => sent[w.id].push(["released", ...args]));
}
process.stdout.write(JSON.stringify(sent));
"""


@pytest.fixture(scope="module")
def session():
    return json.loads(SESSION.read_text())


def test_it_is_an_open_stage_control_session(session):
    assert session["createdWith"] == "Open Stage Control" and session["type"] == "session"
    root = session["content"]
    assert root["type"] == "root" and root["widgets"]
    ids = [w["id"] for w in root["widgets"]]
    assert len(ids) == len(set(ids))


def test_every_widget_address_is_in_docs_osc_md(session, osc_contract, bridge_ports):
    host, port, _ = bridge_ports
    for widget in session["content"]["widgets"]:
        address = widget["address"]
        assert address in osc_contract.addresses(), f"{widget['id']}: {address} not in docs/osc.md"
        if widget["target"]:                                    # widgets that send
            assert widget["target"] == f"{host}:{port}"
            assert address in osc_contract.requests, f"{widget['id']}: {address} is not a request"
        if widget.get("bypass") or not widget["target"]:
            continue
        # What the widget sends (its default, every menu value, on/off) fits the documented types.
        values = list(widget.get("values", {}).values()) or [widget.get("default")]
        if widget["type"] == "button":
            values = [widget["on"], widget["off"]]
        for value in values:
            form = osc_contract.request(address, [value])
            assert form.fixed == list(widget["typeTags"]), (widget["id"], form.text)


def test_button_scripts_send_documented_messages(session, osc_contract, node, bridge_ports):
    proc = subprocess.run([node, "-e", RUN_SCRIPTS, str(SESSION)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    sent = json.loads(proc.stdout)
    host, port, _ = bridge_ports
    assert set(sent) == {"ping", "status_req", "models", "modes", "generate", "clear_a", "clear_b",
                         "panic"}
    for widget_id, calls in sent.items():
        assert len(calls) == 1, f"{widget_id} must send once per press, not on release"
        target, address, *args = calls[0]
        assert target == f"{host}:{port}"
        osc_contract.request(address, args)
        osc_contract.encode(address, args)
    assert sent["clear_b"] == [[f"{host}:{port}", "/lb/clip/clear", "B"]]


def test_model_input_defaults_to_a_shipped_bundle(session):
    models = Path(__file__).resolve().parents[2] / "runtime" / "models"
    shipped = {p.parent.name for p in models.glob("*/model.json")}
    model = next(w for w in session["content"]["widgets"] if w["id"] == "model")
    assert shipped and model["default"] in shipped


def test_replies_to_models_and_ping_are_shown(session, osc_contract):
    """Receive-only widgets (no target) listen on the reply addresses the bridge sends back."""
    shown = {w["address"] for w in session["content"]["widgets"] if not w["target"] and not w.get("bypass")}
    assert {"/lb/models", "/lb/modes", "/lb/pong", "/lb/status", "/lb/error"} <= shown
    assert shown <= osc_contract.addresses()


def test_the_modes_and_answers_are_the_bridges(session):
    """The mode switch offers every mode the bridge knows, the answer switch every answer."""
    from bridge.session import ANSWERS, MODES

    widgets = {w["id"]: w for w in session["content"]["widgets"]}
    assert list(widgets["mode"]["values"].values()) == list(MODES)
    assert list(widgets["answer"]["values"].values()) == list(ANSWERS)
