"""training.benchmark and `python -m training.evaluate BUNDLE`: note-level scores, the trivial
baselines, and the figures of a shipped bundle (real weights, real onnxruntime) on real data."""

import json
import shutil

import numpy as np
import pytest

from runtime.codecs.drums import DrumsCodec
from runtime.codecs.melody import MelodyCodec
from runtime.codecs.note_events import NoteEventCodec
from runtime.codecs.trio import TrioCodec
from runtime.engine import Engine
from runtime.music import Clip, Note
from training import benchmark
from training.evaluate import main
from training.prepare import prepare

REST, OFF = 0, 1


def mel(*pitches):
    """Melody tokens: a pitch starts a note (class 2 + pitch - 21), None holds, 'off' ends it."""
    return np.array([REST if p is None else OFF if p == "off" else 2 + p - 21 for p in pitches])


def test_interpolation_paths_monotonic_share():
    """A decoder that reads each code's signs moves every slerp path steadily (a coordinate's
    sign flips at most once on a great circle); one that answers noise does not; the paths are
    the same whatever the decoding batch."""
    mu = np.random.default_rng(1).normal(size=(40, 16)).astype(np.float32)
    signs = lambda z: (np.asarray(z) > 0).astype(np.int64)
    smooth = benchmark.interpolation_paths(mu, signs, pairs=50, steps=9, batch_size=7)
    assert smooth["monotonic"] == 1.0 and smooth["pairs"] == 50
    assert smooth["to_start"][0] == 0.0 and np.all(np.diff(smooth["to_start"]) > 0)
    assert benchmark.interpolation_paths(mu, signs, 50, 9, batch_size=450) == smooth
    noise = np.random.default_rng(2)
    shaky = benchmark.interpolation_paths(mu, lambda z: noise.integers(0, 2, (len(z), 16)),
                                          pairs=50, steps=9)
    assert shaky["monotonic"] < 0.1


def test_melody_onsets_count_pitch_and_time():
    codec = MelodyCodec()
    target = mel(60, None, 62, None, 64, "off", None, None)[None]
    same = benchmark.note_scores(codec, target, target)
    assert same["f1"] == 1.0 and same["true"] == 3
    # one wrong pitch, one note a step late: 1 of 3 predicted notes right
    pred = mel(60, None, 63, None, None, 64, "off", None)[None]
    s = benchmark.note_scores(codec, pred, target)
    assert (s["precision"], s["recall"]) == pytest.approx((1 / 3, 1 / 3))
    # holding instead of re-striking is a missed onset even though most steps agree
    held = mel(60, None, None, None, None, None, None, None)[None]
    assert benchmark.note_scores(codec, held, target)["recall"] == pytest.approx(1 / 3)
    assert benchmark.score(codec, held, target)["steps"] == pytest.approx(5 / 8)


def test_rhythm_and_pitch_are_scored_apart():
    """The tune's rhythm under wrong pitches: notes F1 0, rhythm F1 1, pitch right on none; one
    onset missed and one pitch wrong: rhythm recall 2/3, pitch right on 1 of 2; drums: none."""
    codec = MelodyCodec()
    target = mel(60, None, 62, None, 64, "off", None, None)[None]
    moved = mel(61, None, 63, None, 65, "off", None, None)[None]
    s = benchmark.note_scores(codec, moved, target)
    assert s["f1"] == 0.0 and s["rhythm"]["f1"] == 1.0 and s["rhythm"]["pitch_right"] == 0.0
    pred = mel(60, None, 63, None, None, None, "off", None)[None]
    r = benchmark.note_scores(codec, pred, target)["rhythm"]
    assert (r["precision"], r["recall"], r["pitch_right"]) == pytest.approx((1.0, 2 / 3, 0.5))
    assert benchmark.note_scores(codec, target, target)["rhythm"]["pitch_right"] == 1.0
    drums = np.array([[1, 0, 2, 0]])
    assert "rhythm" not in benchmark.note_scores(DrumsCodec(), drums, drums)
    # a trio's bass at the melody's onsets is no rhythm match for the bass
    trio = TrioCodec()
    t = np.stack([mel(60, None, None, None), mel(None, None, 40, None), np.zeros(4, np.int64)], -1)
    p = np.stack([mel(60, None, None, None), mel(40, None, None, None), np.zeros(4, np.int64)], -1)
    assert benchmark.note_scores(trio, p[None], t[None])["rhythm"]["f1"] == pytest.approx(0.5)
    table = benchmark.format_benchmark({"rows": {"model": benchmark.score(codec, moved, target)},
                                        "density": {"data_notes_per_window": 3.0,
                                                    "model_notes_per_window": 3.0}})
    assert "onsets at any pitch F1 1.000" in table and "right on 0.000" in table


def test_drum_hits_are_scored_per_class():
    codec = DrumsCodec()
    kick, snare, hat = 1, 2, 4
    target = np.array([[kick | hat, 0, snare | hat, 0]])
    pred = np.array([[kick, 0, snare | hat, hat]])
    s = benchmark.note_scores(codec, pred, target)
    parts = s["per_part"]
    assert parts["kick"]["f1"] == 1.0 and parts["snare"]["f1"] == 1.0
    assert parts["closed_hihat"]["recall"] == 0.5 and parts["closed_hihat"]["precision"] == 0.5
    assert (s["true"], s["predicted"]) == (4, 4) and s["f1"] == pytest.approx(0.75)


def test_trio_parts_are_kept_apart():
    codec = TrioCodec()
    melody = mel(60, None, None, None)
    target = np.stack([melody, melody, np.zeros(4, np.int64)], -1)[None]
    # the right pitch in the wrong part (bass plays the melody's note an octave up) is wrong
    pred = np.stack([melody, mel(72, None, None, None), np.array([1, 0, 0, 0])], -1)[None]
    s = benchmark.note_scores(codec, pred, target)["per_part"]
    assert s["melody"]["f1"] == 1.0 and s["bass"]["f1"] == 0.0
    assert s["kick"]["precision"] == 0.0 and s["kick"]["true"] == 0


def test_baselines_learn_only_from_train():
    train = np.array([[5, 0, 7, 0], [5, 0, 9, 0], [6, 1, 7, 0]])
    assert benchmark.most_frequent(train).tolist() == [5, 0, 7, 0]
    windows = np.array([[6, 1, 7, 1], [5, 0, 9, 9]])
    assert benchmark.nearest_train(train, windows).tolist() == [[6, 1, 7, 0], [5, 0, 9, 0]]
    rows = benchmark.baselines(MelodyCodec(), train, windows)
    assert set(rows) == {"all-rest", "most-frequent", "nearest-train"}
    assert not rows["all-rest"].any()


def test_the_codec_names_the_fields_and_says_where_silence_is_a_baseline():
    """Scores and baselines ask the codec: a trio's parts and a note model's fields by their
    names; "all-rest" only where token 0 everywhere is silence (a grid codec)."""
    trio = np.stack([mel(60, None, "off", None)] * 2 + [np.zeros(4, np.int64)], -1)[None]
    assert list(benchmark.score(TrioCodec(), trio, trio)["fields"]) == ["melody", "bass", "drums"]
    assert "all-rest" in benchmark.baselines(TrioCodec(), trio, trio)
    notes = NoteEventCodec()
    tokens = notes.encode(Clip([Note(60, 0.0, 1.0), Note(64, 1.0, 2.0)], length=4.0))[None]
    assert list(benchmark.score(notes, tokens, tokens)["fields"]) == ["dT", "T", "P"]
    assert set(benchmark.baselines(notes, tokens, tokens)) == {"most-frequent", "nearest-train"}


@pytest.fixture(scope="module")
def heldout(shared_data, tmp_path_factory):
    """Nottingham tunes as a held-out folder (every window in the test split) and a train set."""
    root = tmp_path_factory.mktemp("bench")
    melody = shared_data / "nottingham" / "melody"
    prepare([str(melody)], root / "heldout", kind="mel", bars=2, max_files=12, valid=0.0,
            test=1.0, progress=False)
    prepare([str(melody)], root / "train", kind="mel", bars=2, max_files=40, progress=False)
    return root


def test_evaluate_cli_scores_a_shipped_bundle_beside_its_baselines(heldout, tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main([str(Engine.load("mel_2bar").bundle.path), "--data", str(heldout / "heldout"),
                 "--split", "all", "--train-data", str(heldout / "train"), "--quiet",
                 "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    for row in ("model", "all-rest", "most-frequent", "nearest-train", "notes F1"):
        assert row in text
    report = json.loads(out.read_text())
    rows = report["benchmark"]["rows"]
    assert report["examples"] == report["benchmark"]["windows"] > 20
    # real trained weights: far above playing nothing, above the per-position guess
    assert rows["model"]["notes"]["f1"] > rows["most-frequent"]["notes"]["f1"] + 0.2
    assert rows["model"]["steps"] > rows["all-rest"]["steps"]
    assert rows["all-rest"]["notes"]["f1"] == 0.0
    assert 0.0 <= report["benchmark"]["interpolation"]["monotonic"] <= 1.0


def test_evaluate_record_writes_model_json(heldout, tmp_path):
    bundle = tmp_path / "mel"
    shutil.copytree(Engine.load("mel_2bar").bundle.path, bundle)
    code = main([str(bundle), "--data", str(heldout / "heldout"), "--split", "test",
                 "--train-data", str(heldout / "train"), "--quiet", "--record",
                 "--max-examples", "40"])
    assert code == 0
    meta = json.loads((bundle / "model.json").read_text())
    bench = meta["evaluation"]["benchmark"]
    assert bench["windows"] == 40 and set(bench["rows"]) >= {"model", "all-rest"}
    assert bench["command"].startswith("python -m training.evaluate")
    rhythm = bench["rows"]["model"]["rhythm"]   # a trained melody model: rhythm and pitch mostly right
    assert rhythm["onset_f1"] > 0.8 and 0.5 < rhythm["pitch_right"] <= 1.0
    assert bench["rows"]["all-rest"]["rhythm"]["onset_f1"] == 0.0
    assert rhythm["pitch_right"] > bench["rows"]["most-frequent"]["rhythm"]["pitch_right"]
    density = meta["data"]["notes_per_bar"]
    assert 0 < density["mean"] <= density["p99"] <= density["max"]
    # and the engine reads it: its quality guard now knows the data's density
    assert Engine.load(str(bundle)).max_notes_per_bar == pytest.approx(1.5 * density["p99"])


def test_evaluate_cli_rejects_bad_flags(heldout, capsys):
    bundle = str(Engine.load("mel_2bar").bundle.path)
    with pytest.raises(SystemExit) as exit_:
        main([bundle, "--data", str(heldout / "heldout"), "--max-examples", "-1"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--max-examples" in err and "must be >= 0" in err
    with pytest.raises(SystemExit) as exit_:
        main([bundle, "--data", str(heldout / "heldout"), "--split", "bogus"])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_evaluate_cli_refuses_data_of_another_kind(shared_data, tmp_path, capsys):
    groove = sorted((shared_data / "groove" / "drummer1" / "session1").glob("*beat*.mid"))[:2]
    prepare([str(f) for f in groove], tmp_path / "drums", kind="drums", bars=2, valid=0.0,
            test=1.0, progress=False)
    code = main([str(Engine.load("mel_2bar").bundle.path), "--data", str(tmp_path / "drums"),
                 "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "drums" in err and "Traceback" not in err


def test_most_frequent_groove_keeps_the_cells_played_in_most_windows():
    """Hand-made grooves: a cell played in 2 of 3 windows is in the pattern with its mean
    velocity and offset over those 2; a cell played once is not."""
    from runtime.codecs.groove import GrooveCodec

    codec = GrooveCodec()
    c = codec.num_classes
    train = np.zeros((3, 32, 3 * c), np.int64)
    for w, (velocity, offset) in enumerate([(100, 10), (60, -20)]):   # kick on step 0, twice
        train[w, 0, 0], train[w, 0, c], train[w, 0, 2 * c] = 1, velocity, offset
    train[2, 4, 1], train[2, 4, c + 1] = 1, 90                           # a snare once
    pattern = benchmark.most_frequent_groove(codec, train)
    assert pattern.shape == (32, 3 * c)
    assert pattern[..., :c].sum() == 1 and pattern[0, 0] == 1
    assert pattern[0, c] == 80 and pattern[0, 2 * c] == -5
    assert not pattern[4].any()
    scores = benchmark.groove_scores(codec, np.broadcast_to(pattern, train.shape), train)
    assert scores["hits"]["f1"] == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3))
