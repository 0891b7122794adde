"""runtime.decoding: one description per bundle kind, read by the bundle loader and the engine.

Real shipped bundles, copied and broken: a bundle holds exactly its kind's graphs, with their
input and output names, or it is refused with one line that names model.json and the kind.
"""

import json
import shutil

import pytest

from runtime.bundle import MODELS_DIR, BundleError, load_bundle, read_meta, shipped_models
from runtime.decoding import DECODINGS, decoding_for
from runtime.engine import Engine


@pytest.mark.parametrize("name", shipped_models())
def test_shipped_bundles_hold_exactly_their_kinds_graphs(name):
    """The description is what the shipped bundles are (and the engine decodes through it)."""
    meta = read_meta(MODELS_DIR / name)
    decoding = decoding_for(meta["kind"])
    assert set(meta["graphs"]) == {g.key for g in decoding.graphs}
    assert decoding.check_graphs(meta["graphs"]) is None
    assert type(Engine.load(name).decoder) is decoding


def _copy(tmp_path, name):
    target = tmp_path / name
    shutil.copytree(MODELS_DIR / name, target)
    return target


def _edit(folder, change):
    path = folder / "model.json"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def _refused(folder, *fragments):
    with pytest.raises(BundleError) as info:
        load_bundle(folder)
    message = str(info.value)
    assert "\n" not in message and str(folder / "model.json") in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_a_bundle_missing_a_graph_is_refused(tmp_path):
    """hier_mel_16bar without its conductor step (entry and file gone): one line naming the
    graph and the kind, before any ONNX file is opened."""
    folder = _copy(tmp_path, "hier_mel_16bar")
    _edit(folder, lambda meta: meta["graphs"].pop("conductor_step"))
    (folder / "conductor_step.onnx").unlink()
    _refused(folder, "'conductor_step'", "required for kind 'hierarchical'")


def test_a_bundle_with_an_extra_graph_is_refused(tmp_path):
    """A flat bundle that also lists a conductor is no flat bundle."""
    folder = _copy(tmp_path, "mel_2bar")
    _edit(folder, lambda meta: meta["graphs"].update(conductor_init=meta["graphs"]["decoder_init"]))
    _refused(folder, "'conductor_init'", "no graphs of kind 'flat'")


def test_a_kind_whose_graphs_the_bundle_lacks_is_refused(tmp_path):
    """The same graphs under another kind's name: the kind's own graph list decides."""
    folder = _copy(tmp_path, "mel_2bar")
    _edit(folder, lambda meta: meta.update(kind="hierarchical"))
    _refused(folder, "'conductor_init'", "'conductor_step'", "kind 'hierarchical'")


def test_an_unknown_kind_is_refused(tmp_path):
    folder = _copy(tmp_path, "drums_2bar")
    _edit(folder, lambda meta: meta.update(kind="polyphonic_transformer"))
    _refused(folder, "unknown kind 'polyphonic_transformer'",
             f"known: {', '.join(DECODINGS)}")


def test_a_graph_with_the_wrong_io_names_is_refused(tmp_path):
    """A note-event step that takes the grid decoder's inputs: named against the description."""
    folder = _copy(tmp_path, "notes_poly_25")

    def rename(meta):
        meta["graphs"]["decoder_step_t"]["inputs"][0]["name"] = "prev"
    _edit(folder, rename)
    _refused(folder, "graph 'decoder_step_t' (decoder_step_t.onnx) of kind 'note_events'",
             "inputs ['prev', 'state0'", "must be ['dt', 'state0'")
