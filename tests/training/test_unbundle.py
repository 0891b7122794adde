"""training.unbundle: a bundle's weights read back into PyTorch, for every decoding kind and
every way a bundle stores them, and ``--init-from`` a shipped bundle."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from runtime.codecs import codec_from_config
from training.export import export_bundle
from training.float16 import store_float16
from training.models import build_model
from training.prepare import prepare
from training.registry import Config
from training.train import load_checkpoint, main as train_main
from training.unbundle import _example_tokens, checkpoint_from_bundle, main

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "runtime" / "models"


def _model(ckpt):
    config = Config.from_dict(ckpt["config"])
    model = build_model(config.model)
    model.load_state_dict(ckpt["model"])
    return model.eval(), codec_from_config(ckpt["codec"])


@pytest.mark.parametrize("name", ["drums_1bar", "hier_mel_16bar", "notes_poly_25", "groove_2bar"])
def test_export_then_unbundle_gives_back_every_weight_exactly(name, tmp_path):
    """One shipped bundle per decoding kind (flat, hierarchical, note events, groove): its
    weights read back run as its graphs do; exported again and read back once more, every
    weight comes back bit for bit (the map from graph tensors to weights is exact)."""
    ckpt = checkpoint_from_bundle(MODELS / name)
    info = ckpt["unbundled"]
    assert info["not_in_graphs"] == [] and max(info["max_abs_diff"].values()) < 1e-3, info
    model, codec = _model(ckpt)
    tokens = _example_tokens(MODELS / name, model.config.z_size)
    again = export_bundle(model, tmp_path / name, name=name, codec=codec, valid_tokens=tokens,
                          eval_windows=4)
    back = checkpoint_from_bundle(again)["model"]
    floats = [k for k, v in ckpt["model"].items() if v.is_floating_point()]
    assert floats and sorted(floats) == sorted(k for k, v in back.items() if v.is_floating_point())
    for key in floats:
        assert torch.equal(back[key], ckpt["model"][key]), key
    # and the weights are the trained ones, not a fresh model's (which runs nothing like them)
    fresh = build_model(model.config).state_dict()
    matrices = [k for k in floats if ckpt["model"][k].dim() >= 2]
    assert matrices and all(not torch.equal(fresh[k], ckpt["model"][k]) for k in matrices)


def test_float16_and_int8_bundles_read_back_as_their_graphs_compute(tmp_path):
    """float16 and int8 weights (training/float16.py) come back as the float32 values the
    graphs compute with: within the storage's rounding of the float32 bundle's, and the rebuilt
    model matches the converted graphs themselves within the export's tolerance."""
    full = checkpoint_from_bundle(MODELS / "drums_1bar")["model"]
    for kind, int8 in (("float16", False), ("int8", True)):
        bundle = tmp_path / kind
        shutil.copytree(MODELS / "drums_1bar", bundle)
        store_float16(bundle, int8=int8)
        ckpt = checkpoint_from_bundle(bundle)
        assert ckpt["unbundled"]["stored_as"] == kind
        assert max(ckpt["unbundled"]["max_abs_diff"].values()) < 1e-3
        changed = 0
        largest = max(v.abs().max() for v in full.values() if v.is_floating_point())
        for key, value in full.items():
            if not value.is_floating_point():
                continue
            got = ckpt["model"][key]
            if not int8:
                bound = value.abs() * 2 ** -11 + 6e-8
            elif value.dim() == 2:   # half a step of the row's scale (a row of the graph's
                # tensor: an LSTM gate row, or a column here for a dense layer run as MatMul)
                bound = torch.maximum(value.abs().amax(dim=1, keepdim=True),
                                      value.abs().amax(dim=0, keepdim=True)) / 254 + 1e-7
            else:   # a bias: one row of the graph's stacked LSTM biases, or float32 as it was
                bound = largest / 254
            assert ((got - value).abs() <= bound).all(), key
            changed += int(not torch.equal(got, value))
        assert changed > 0, kind


def test_the_shipped_int8_trio_reads_back(tmp_path):
    """The int8 trio, three decoders and all: every weight runs in a graph, and the rebuilt
    PyTorch model decodes a code as the bundle's engine does."""
    from runtime.engine import Engine

    ckpt = checkpoint_from_bundle(MODELS / "hier_trio_16bar")
    assert ckpt["unbundled"]["stored_as"] == "int8" and ckpt["unbundled"]["not_in_graphs"] == []
    model, _ = _model(ckpt)
    z = np.random.default_rng(1).standard_normal((3, model.config.z_size)).astype(np.float32)
    with torch.no_grad():
        mine = model.sample(torch.from_numpy(z), 0.0).numpy()
    engine = Engine.load(MODELS / "hier_trio_16bar")
    theirs = engine.decode_tokens(z, temperature=0.0)
    assert engine.silent_parts == {2}      # trained without drums: the engine keeps them silent
    assert (mine[..., :2] == theirs[..., :2]).mean() > 0.99 and mine[..., :2].any()


def test_init_from_a_shipped_bundle_starts_a_training_run_from_its_weights(shared_data, tmp_path,
                                                                          capsys):
    """``--init-from runtime/models/drums_1bar``: the run says what it read and starts from
    those weights (at learning rate 0 its checkpoint holds them unchanged); a broken bundle is
    one line and exit 1, for training and for the CLI."""
    grooves = [str(p) for p in sorted((shared_data / "groove" / "drummer1").rglob("*.mid"))[:6]]
    data = tmp_path / "drums"
    prepare(grooves, data, kind="drums", bars=2, valid=0.2, test=0.0, progress=False)
    ckpt = checkpoint_from_bundle(MODELS / "drums_1bar")
    run = tmp_path / "run"
    argv = ["lb-drums_2bar", "--data", str(data), "--out", str(run), "--steps", "1",
            "--batch-size", "4", "--quiet", "--set", "train.learning_rate=0",
            "--set", "train.min_learning_rate=0", "--set", "train.sample_every=0"]
    capsys.readouterr()
    # lb-drums_2bar is smaller than the shipped drums_1bar: the error names the sizes that fit
    assert train_main([*argv, "--init-from", str(MODELS / "drums_1bar")]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("error: --init-from drums_1bar: its weights do not fit"), err
    sizes = err.split("its sizes: ")[1].split()
    assert sizes == ["--set", "model.z_size=128", "--set", "model.dec_rnn_size=[256,256]"]
    argv += sizes
    assert train_main([*argv, "--init-from", str(MODELS / "drums_1bar")]) == 0
    assert "drums_1bar: 1,918,720 weights read back (float32)" in capsys.readouterr().err
    trained, _, _ = load_checkpoint(run)
    for key, value in trained.state_dict().items():
        if value.is_floating_point() and "running" not in key:
            assert torch.equal(value, ckpt["model"][key]), key

    broken = tmp_path / "broken"
    shutil.copytree(MODELS / "drums_1bar", broken)
    (broken / "decoder_step.onnx").write_bytes(b"not onnx")
    for call in (lambda: train_main([*argv[:4], str(tmp_path / "run2"), *argv[5:],
                                     "--init-from", str(broken)]),
                 lambda: main([str(broken), "-o", str(tmp_path / "x.pt")])):
        code = call()
        err = capsys.readouterr().err
        assert code == 1 and err.startswith("error: ") and err.count("\n") == 1, err
        assert "decoder_step.onnx" in err and str(tmp_path) not in err and "Traceback" not in err
    assert not (tmp_path / "x.pt").exists()
    assert main([str(tmp_path), "-o", str(tmp_path / "x.pt")]) == 1
    assert "no model.json" in capsys.readouterr().err
    # a segments bundle (mel_16bar) is a short model plus a prior: no one model to read back
    assert main([str(MODELS / "mel_16bar"), "-o", str(tmp_path / "y.pt")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "start from mel_2bar" in err and not (tmp_path / "y.pt").exists()


def test_cli_writes_a_checkpoint_the_training_tools_load(tmp_path, capsys):
    out = tmp_path / "mel_2bar.pt"
    assert main([str(MODELS / "mel_2bar"), "-o", str(out)]) == 0
    assert "mel_2bar: " in capsys.readouterr().out
    model, config, codec = load_checkpoint(out)
    assert config.name == "lb-mel_2bar" and codec.name == "melody"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp file left


@pytest.mark.parametrize("kind", ["melody", "hier_trio"])
def test_an_imported_magenta_bundle_reads_back_to_the_converted_weights(kind, tmp_path):
    """A Magenta.js checkpoint imported as a bundle (no training config in its model.json)
    reads back to exactly the weights the importer converted it to."""
    import importlib.util

    from training import import_magenta as im

    spec = importlib.util.spec_from_file_location(
        "lb_magenta_js", Path(__file__).resolve().parents[1] / "magenta" / "magenta_js.py")
    mjs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mjs)
    folder = tmp_path / "ckpt"
    mjs.random_checkpoint(folder, kind, seed=3, bars=2 if kind == "melody" else 4)
    bundle = im.import_bundle(folder, tmp_path / "bundle")
    converted = im.convert(im.load_checkpoint(folder)).state_dict()
    back = checkpoint_from_bundle(bundle)
    assert back["config"]["name"] == "bundle:bundle"     # named after the bundle
    for key, value in converted.items():
        if value.is_floating_point():
            assert torch.equal(back["model"][key], value), key
