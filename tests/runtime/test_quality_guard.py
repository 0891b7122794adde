"""The engine's sample quality guard and silent parts, on the shipped trio bundle (real weights).

The 1 Dec trio model (trained on scores without drums) produced noise (a note on almost every
16th) in a large share of prior samples and drums in a third of them. With the training data's
density in model.json the engine resamples such clips and says what it could not fix (tested
here with a density written lower than the trio's data, so that the retrained trio's denser
samples are what the guard must catch); a part silent in all the training data stays silent
(the retrained trio's unmasked drum decoder plays drums at temperature 2).
"""

import json
import shutil

import pytest

from runtime.engine import DENSITY_FACTOR, Engine
from runtime.music import Clip, Note
from runtime.render import main as render_main


def bundle_copy(tmp_path, name, change):
    folder = tmp_path / name
    shutil.copytree(Engine.load(name).bundle.path, folder)
    meta = json.loads((folder / "model.json").read_text())
    change(meta)
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


def per_bar(engine, clip):
    return len(clip.notes) / engine.bars


def test_dense_samples_are_resampled(tmp_path):
    def with_density(meta):
        meta["data"]["notes_per_bar"] = {"mean": 3.0, "p99": 5.0, "max": 6.0}

    engine = Engine.load(str(bundle_copy(tmp_path, "trio_16bar", with_density)))
    limit = 5.0 * DENSITY_FACTOR
    assert engine.max_notes_per_bar == limit
    unguarded = engine.decode(_codes(engine, 12), temperature=1.0, seed=5, guard=False)
    assert any(per_bar(engine, c) > limit for c in unguarded), "no noisy sample to guard against"
    assert engine.warnings == []
    guarded = engine.sample(n=12, temperature=1.0, seed=5)
    fine = [c for c in guarded if per_bar(engine, c) <= limit and c.notes]
    # every clip is either music of the data's density or named in a warning
    assert len(fine) + len(engine.warnings) == 12
    assert len(fine) > sum(per_bar(engine, c) <= limit for c in unguarded)
    for line in engine.warnings:
        assert line.startswith("clip ") and "notes per bar" in line


def _codes(engine, n):
    import numpy as np

    return np.random.default_rng(5).standard_normal((n, engine.z_size)).astype("float32")


def test_degenerate_names_empty_and_dense_clips():
    engine = Engine.load("mel_2bar")
    assert engine.degenerate(Clip([], length=8.0)) == "no notes at all"
    if engine.max_notes_per_bar is not None:
        n = int(engine.max_notes_per_bar * engine.bars) + 4
        noise = Clip([Note(60 + i % 12, i * 0.25, i * 0.25 + 0.25) for i in range(n)], length=8.0)
        assert "denser than the training data" in engine.degenerate(noise)
    calm = Clip([Note(60, 0.0, 1.0), Note(62, 1.0, 2.0)], length=8.0)
    assert engine.degenerate(calm) is None


def test_a_part_silent_in_training_stays_silent(tmp_path):
    def without(meta):
        meta["decoding"].pop("silent_parts", None)

    # the hierarchical trio has a drums decoder (never trained to play); the segments trio has none
    loud = Engine.load(str(bundle_copy(tmp_path, "hier_trio_16bar", without)))
    quiet = Engine.load("hier_trio_16bar")
    assert quiet.decoding.get("silent_parts") == ["drums"]
    drums = lambda clips: sum(any(n.is_drum for n in c.notes) for c in clips)  # noqa: E731
    assert drums(loud.decode(_codes(loud, 16), temperature=2.0, seed=1, guard=False)) > 0
    assert drums(quiet.decode(_codes(quiet, 16), temperature=2.0, seed=1, guard=False)) == 0


def test_render_says_when_a_reconstruction_is_empty(tmp_path, capsys):
    from runtime.midi_io import read_midi, write_midi

    def mute(meta):  # a model that cannot hold any note: every part kept silent
        meta["decoding"]["silent_parts"] = ["melody", "bass", "drums"]

    model = bundle_copy(tmp_path, "trio_16bar", mute)
    source = tmp_path / "in.mid"
    write_midi(Clip([Note(60, 0.0, 1.0), Note(36, 0.0, 1.0, program=33)], length=64.0), source)
    out = tmp_path / "out.mid"
    code = render_main(["reconstruct", str(source), "--model", str(model), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0 and out.exists()
    assert "reconstruction of bars 1-16: no notes at all" in err
    assert "cannot hold these notes" in err and not read_midi(out).notes
