"""A decoding kind is its description (runtime/decoding.py) plus a model that declares it.

A kind registered here, in the test, exports, loads and plays with no edit of training/export.py,
runtime/bundle.py or runtime/engine.py; a model that declares no kind is refused by the export.
"""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from runtime.bundle import BundleError, load_bundle
from runtime.codecs.melody import MelodyCodec
from runtime.decoding import DECODINGS, ENCODER, Decoding, GraphSpec, register
from runtime.engine import Engine
from runtime.midi_io import read_midi
from runtime.sampling import sample_categorical
from training.export import ExportError, export_bundle
from training.extract import melody_windows
from training.models.base import Model, ModelConfig
from training.models.vrash import VRASH, VRASHConfig

torch.set_num_threads(1)


class WholeWindowDecoding(Decoding):
    """Not autoregressive: one graph writes the logits of every step at once from z."""

    kind = "whole_window"
    graphs = (ENCODER,
              GraphSpec("decode_window", ("z",), ("logits",), about="z -> logits [B, T, C]"))

    def decode(self, z, temperature, rng, hits=None):
        logits = self.engine.bundle.run("decode_window", z)[0]
        return np.stack([sample_categorical(logits[:, t], temperature, rng)
                         for t in range(logits.shape[1])], 1)


class WholeWindowVAE(Model):
    """The model of that kind: a mean of the one-hot steps in, a linear map to all steps out."""

    decoding_kind = "whole_window"

    def __init__(self, config: ModelConfig, steps: int, classes: int):
        super().__init__(config)
        self.steps, self.classes = steps, classes
        self.read = nn.Linear(classes, 2 * config.z_size)
        self.write = nn.Linear(config.z_size, steps * classes)

    def encode(self, inputs, lengths):
        mu, raw = self.read(inputs.mean(1)).chunk(2, -1)
        return mu, F.softplus(raw)

    def decode_window(self, z):
        return self.write(z).view(-1, self.steps, self.classes)

    @torch.no_grad()
    def generate(self, z, length, temperature=0.0, generator=None):
        return self.decode_window(z).argmax(-1)


@pytest.fixture()
def whole_window():
    register(WholeWindowDecoding)
    yield WholeWindowDecoding
    DECODINGS.pop(WholeWindowDecoding.kind, None)


@pytest.fixture(scope="module")
def melody(shared_data):
    files = sorted((shared_data / "nottingham" / "melody").glob("*.mid"))[:4]
    return np.concatenate([melody_windows(read_midi(f), bars=2) for f in files])[:48]


def test_a_kind_registered_in_a_test_exports_loads_and_plays(tmp_path, whole_window, melody):
    codec = MelodyCodec()
    torch.manual_seed(0)
    model = WholeWindowVAE(ModelConfig(z_size=8), steps=32, classes=codec.output_depth)
    out = export_bundle(model, tmp_path / "whole", name="whole", codec=codec, valid_tokens=melody)
    meta = json.loads((out / "model.json").read_text())
    assert meta["kind"] == "whole_window" and set(meta["graphs"]) == {"encoder", "decode_window"}
    assert [o["name"] for o in meta["graphs"]["decode_window"]["outputs"]] == ["logits"]
    assert meta["export"]["rollout_tokens_identical"] is True
    assert meta["bars"] == 2 and meta["evaluation"]["valid_windows"] == len(melody)

    engine = Engine.load(out)
    assert type(engine.decoder) is WholeWindowDecoding
    z = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
    with torch.no_grad():
        reference = model.generate(torch.from_numpy(z), 32).numpy()
    np.testing.assert_array_equal(engine.decode_tokens(z, temperature=0.0), reference)
    clip = codec.decode(melody[0])
    with torch.no_grad():
        x = torch.from_numpy(codec.to_input(engine.tokens(clip))[None])
        mu = model.encode(x, None)[0].numpy()
    np.testing.assert_allclose(engine.encode([clip]), mu, atol=1e-5)
    assert [t for t in Engine.TOOLS if engine.offers(t)] == ["sample", "interpolate", "vary"]
    assert all(c.length == 8.0 for c in engine.vary(clip, n=2, seed=0))

    DECODINGS.pop("whole_window")    # the same bundle, its kind unknown: one line
    with pytest.raises(BundleError, match="unknown kind 'whole_window'"):
        load_bundle(out)


def test_a_model_without_a_decoding_kind_is_not_exported(tmp_path):
    """VRASH has no step graphs of a bundle kind: one line, and nothing written."""
    model = VRASH(VRASHConfig(output_depths=[13, 8, 6], hidden_size=8, embed_size=4, z_size=4))
    tokens = np.zeros((4, 16, 3), np.int64)
    with pytest.raises(ExportError, match="VRASH declares no decoding kind"):
        export_bundle(model, tmp_path / "vrash", name="vrash", codec=MelodyCodec(),
                      valid_tokens=tokens)
    assert list(tmp_path.iterdir()) == []
