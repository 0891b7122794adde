"""runtime.bundle: shipped bundles load with real onnxruntime sessions; broken ones are refused
with a one-line message that names the file and the problem."""

import json
import shutil

import onnx
import pytest

from runtime.bundle import FORMAT_VERSION, MODELS_DIR, BundleError, load_bundle, shipped_models
from runtime.engine import Engine, EngineError

SHIPPED = shipped_models()


def test_default_model_ships():
    assert "mel_2bar" in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_bundle_is_consistent(name):
    bundle = load_bundle(name)
    assert bundle.name == name and bundle.path == MODELS_DIR / name
    assert bundle.meta["format_version"] == FORMAT_VERSION
    assert set(bundle.sessions) == set(bundle.meta["graphs"])
    assert bundle.providers[-1] == "CPUExecutionProvider"
    evaluation = bundle.meta["evaluation"]
    assert 0.0 < evaluation["valid_reconstruction_accuracy"] <= 1.0
    assert bundle.meta["training"]["steps"] > 0 and bundle.meta["data"]
    assert bundle.meta["export"]["rollout_tokens_identical"] is True


@pytest.fixture()
def copy(tmp_path):
    target = tmp_path / "mel"
    shutil.copytree(MODELS_DIR / "mel_2bar", target)
    return target


def _meta(folder):
    return json.loads((folder / "model.json").read_text())


def _save(folder, meta):
    (folder / "model.json").write_text(json.dumps(meta))


def _refused(folder, *fragments):
    with pytest.raises(BundleError) as info:
        load_bundle(folder)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_missing_onnx_file(copy):
    (copy / "decoder_step.onnx").unlink()
    _refused(copy, "decoder_step.onnx", "missing")


def test_missing_model_json(copy):
    (copy / "model.json").unlink()
    _refused(copy, "model.json", "missing")


def test_bad_json(copy):
    (copy / "model.json").write_text('{"format_version": 1, "name": ')
    _refused(copy, "model.json", "not valid JSON")


def test_unknown_format_version(copy):
    meta = _meta(copy)
    meta["format_version"] = 99
    _save(copy, meta)
    _refused(copy, "model.json", "format_version 99")


def test_missing_key_and_graph(copy):
    meta = _meta(copy)
    del meta["z_size"]
    _save(copy, meta)
    _refused(copy, "model.json", "z_size")
    meta = _meta(copy) | {"z_size": 1}
    del meta["graphs"]["decoder_init"]
    _save(copy, meta)
    _refused(copy, "model.json", "decoder_init")


def test_input_renamed_in_model_json(copy):
    meta = _meta(copy)
    meta["graphs"]["decoder_step"]["inputs"][1]["name"] = "z"
    _save(copy, meta)
    _refused(copy, "decoder_step.onnx", "'z'", "'cond'")


def test_input_renamed_in_onnx_graph(copy):
    """The ONNX file itself changed (and its checksum entry with it): names are compared."""
    path = copy / "encoder.onnx"
    model = onnx.load(str(path))
    old = model.graph.input[0].name
    for node in model.graph.node:
        node.input[:] = ["x_renamed" if i == old else i for i in node.input]
    model.graph.input[0].name = "x_renamed"
    onnx.save(model, str(path))
    meta = _meta(copy)
    meta["graphs"]["encoder"].pop("sha256")
    _save(copy, meta)
    _refused(copy, "encoder.onnx", "x_renamed")


def test_state_shape_mismatch(copy):
    meta = _meta(copy)
    meta["graphs"]["decoder_step"]["inputs"][2]["shape"][-1] += 1
    _save(copy, meta)
    _refused(copy, "decoder_step.onnx", "shape")


def test_corrupt_onnx(copy):
    (copy / "decoder_init.onnx").write_bytes(b"\x00garbage" * 10)
    _refused(copy, "decoder_init.onnx", "checksum")
    meta = _meta(copy)
    meta["graphs"]["decoder_init"].pop("sha256")
    _save(copy, meta)
    _refused(copy, "decoder_init.onnx", "not a loadable ONNX graph")


def test_engine_wraps_bundle_errors(copy, tmp_path):
    (copy / "encoder.onnx").unlink()
    with pytest.raises(EngineError, match="encoder.onnx: missing"):
        Engine.load(copy)
    with pytest.raises(EngineError, match="no such model bundle"):
        Engine.load(tmp_path / "nowhere")
