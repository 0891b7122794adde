"""Imported Magenta checkpoints (training.import_magenta) are models like the shipped ones: the
bridge lists them in /lb/models after the shipped ones (what the device's model menu shows) and
loads them by name, over real UDP."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from runtime.bundle import shipped_models
from training import import_magenta as im

_spec = importlib.util.spec_from_file_location(
    "lb_magenta_js", Path(__file__).resolve().parents[1] / "magenta" / "magenta_js.py")
mjs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mjs)


def test_the_bridge_lists_and_loads_an_imported_model(make_bridge, tmp_path, monkeypatch):
    models = tmp_path / "models"
    monkeypatch.setenv("LB_MODELS", str(models))
    mjs.random_checkpoint(tmp_path / "ckpt", "drums", seed=2, bars=2, z=8, enc=16, dec=(16,))
    im.import_bundle(tmp_path / "ckpt", models / "drums_imported")

    bridge, client = make_bridge()
    client.send("/lb/models")
    listed = client.expect("/lb/models")
    assert listed == [bridge.engine.name] + [n for n in shipped_models()
                                             if n != bridge.engine.name] + ["drums_imported"]

    client.send("/lb/model", "drums_imported")
    assert client.expect("/lb/model/loaded", timeout=20) == ["drums_imported", "flat", 2]
    client.send("/lb/models")
    assert client.expect("/lb/models")[0] == "drums_imported"
