"""What a musician hears back, measured: reconstruction of held-out windows beside trivial baselines.

``python -m training.evaluate`` prints this table for a checkpoint or for an exported bundle
folder (then through the ONNX graphs the runtime plays, no torch model involved)::

    $ python -m training.evaluate runtime/models/mel_2bar --data data/mel_2bar --split test

For every window of the split, z = posterior mean and argmax decoding give the model's
reconstruction. It is scored, and so are three predictions that use no latent code at all:

- ``all-rest``: nothing played (token 0 everywhere; only for grid codecs: note-event models have
  no such baseline);
- ``most-frequent``: the training split's most frequent token at each position (per part/field);
- ``nearest-train``: the training window with the most equal steps — what a model that only
  memorised the training set could at best play back.

Scores (from Python)::

    >>> from training.benchmark import score
    >>> s = score(codec, predicted_tokens, target_tokens)
    >>> s["steps"], s["notes"]["f1"], s["notes"]["per_part"]["kick"]["recall"]

- ``steps``: fraction of steps (notes, for note events) whose every part/field is right;
- ``notes``: note-level precision / recall / F1 of onsets — a predicted note counts when the
  target has a note of the same pitch (melody, bass) or drum class starting at the same time;
  ``per_part`` splits them by melody / bass / each of the 9 drum classes; ``rhythm`` (pitched
  notes) scores the onsets at any pitch and the share of notes at a right onset with the right
  pitch, to tell a model that misses the rhythm from one that misses the pitches;
- ``fields`` (note events only): accuracy of dT, T and P alone.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import numpy as np

from runtime.sampling import slerp


#: onset times are compared on a grid of 1/48 beat (16ths and triplets both land on it)
ONSET_GRID = 48
#: most windows of the training split scanned by the nearest-window baseline
NEAREST_MAX_TRAIN = 20000


# -- vocabularies -------------------------------------------------------------------------------

def convert_windows(tokens: np.ndarray, source, target) -> np.ndarray:
    """Windows re-encoded from codec ``source`` to codec ``target`` (a bundle's own vocabulary
    of note events differs from the dataset's): decoded to notes, encoded again, cut or padded
    to the same length."""
    if source.config() == target.config():
        return tokens
    out = np.zeros_like(tokens)
    for i, window in enumerate(tokens):
        encoded = np.asarray(target.encode(source.decode(window)), dtype=np.int64)[: len(window)]
        out[i, : len(encoded)] = encoded
    return out


# -- notes --------------------------------------------------------------------------------------

def _part_of(codec, note) -> str:
    """What a decoded note is scored as, by the codec's own tables: a drum hit by its class
    (the codec's, or its drum part's, ``class_of``), a pitched note by the codec's part
    (``part_of``, a trio's melody or bass) or as one line of "notes"."""
    if note.is_drum:
        from runtime.codecs.drums import DRUM_CLASS_NAMES

        drums = getattr(codec, "drums", codec)
        index = getattr(drums, "class_of", {}).get(note.pitch)
        return DRUM_CLASS_NAMES[index] if index is not None else "drums"
    part_of = getattr(codec, "part_of", None)
    if part_of is not None:
        return part_of(note) or "other"
    return "notes"


def onsets(codec, window: np.ndarray) -> set[tuple[str, int, int]]:
    """The note onsets of one token window: ``(part, onset on the 1/48-beat grid, pitch)``; drum
    hits carry their class as the part and no pitch (any pitch of a class is the same hit)."""
    try:
        clip = codec.decode(np.asarray(window))
    except Exception:  # noqa: BLE001 - an ill-formed prediction has no notes to score
        return set()
    out = set()
    for note in clip.notes:
        part = _part_of(codec, note)
        out.add((part, int(round(note.start * ONSET_GRID)), -1 if note.is_drum else note.pitch))
    return out


def _prf(tp: int, n_pred: int, n_true: int) -> dict:
    precision = tp / n_pred if n_pred else (1.0 if not n_true else 0.0)
    recall = tp / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true": n_true, "predicted": n_pred}


def note_scores(codec, pred: np.ndarray, target: np.ndarray) -> dict:
    """Micro-averaged onset precision/recall/F1 over all windows, and per part / drum class."""
    tp, n_pred, n_true = Counter(), Counter(), Counter()
    pairs = [(onsets(codec, p), onsets(codec, t)) for p, t in zip(pred, target)]
    for po, to in pairs:
        for key in po & to:
            tp[key[0]] += 1
        for key in po:
            n_pred[key[0]] += 1
        for key in to:
            n_true[key[0]] += 1
    parts = sorted(set(n_pred) | set(n_true))
    total = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_true.values()))
    total["per_part"] = {k: _prf(tp[k], n_pred[k], n_true[k]) for k in parts}
    rhythm = rhythm_scores(pairs)
    if rhythm is not None:
        total["rhythm"] = rhythm
    return total


def rhythm_scores(pairs) -> dict | None:
    """Rhythm and pitch apart, for pitched notes (``pairs``: predicted and target
    :func:`onsets` of each window): onset P/R/F1 at any pitch (a predicted onset
    counts when the target's same part starts a note then), and ``pitch_right``: the share of
    predicted notes at such an onset whose pitch is right too. A model that plays the tune's
    rhythm under the wrong pitches scores high on the first and low on the second. None when
    nothing pitched is predicted or played (drums)."""
    tp = n_pred = n_true = at_onset = pitch_right = 0
    for po, to in pairs:
        po = {k for k in po if k[2] >= 0}
        to = {k for k in to if k[2] >= 0}
        p_times, t_times = {k[:2] for k in po}, {k[:2] for k in to}
        tp += len(p_times & t_times)
        n_pred += len(p_times)
        n_true += len(t_times)
        matched = [k for k in po if k[:2] in t_times]
        at_onset += len(matched)
        pitch_right += sum(k in to for k in matched)
    if not (n_pred or n_true):
        return None
    out = _prf(tp, n_pred, n_true)
    out["pitch_right"] = pitch_right / at_onset if at_onset else 0.0
    return out


def score(codec, pred: np.ndarray, target: np.ndarray) -> dict:
    """Steps (all parts/fields right), note onsets P/R/F1 and, for multi-field tokens, each part."""
    pred, target = np.asarray(pred), np.asarray(target)
    equal = pred == target
    out = {"steps": float(equal.all(-1).mean() if equal.ndim == 3 else equal.mean()),
           "notes": note_scores(codec, pred, target)}
    if equal.ndim == 3:   # the codec names its fields (note events) or parts (trio)
        names = (getattr(codec, "field_names", None) or getattr(codec, "part_names", None)
                 or [f"part{k}" for k in range(equal.shape[-1])])
        out["fields"] = {n: float(equal[..., k].mean()) for k, n in enumerate(names)}
    return out


# -- baselines ----------------------------------------------------------------------------------

def most_frequent(train: np.ndarray) -> np.ndarray:
    """The most frequent token at each position (and part) of the training windows."""
    flat = train.reshape(len(train), -1)
    best = np.empty(flat.shape[1], np.int64)
    for j in range(flat.shape[1]):
        values, counts = np.unique(flat[:, j], return_counts=True)
        best[j] = values[np.argmax(counts)]
    return best.reshape(train.shape[1:])


def nearest_train(train: np.ndarray, windows: np.ndarray, seed: int = 0,
                  chunk: int = 64) -> np.ndarray:
    """For each window, the training window with the most equal steps (ties: the first)."""
    if len(train) > NEAREST_MAX_TRAIN:
        keep = np.random.default_rng(seed).choice(len(train), NEAREST_MAX_TRAIN, replace=False)
        train = train[np.sort(keep)]
    small = np.uint16 if max(train.max(initial=0), windows.max(initial=0)) < 65536 else np.int64
    a = train.reshape(len(train), -1).astype(small)
    out = np.empty_like(windows)
    for begin in range(0, len(windows), chunk):
        b = windows[begin:begin + chunk].reshape(-1, a.shape[1]).astype(small)
        same = (b[:, None, :] == a[None, :, :]).sum(-1)
        out[begin:begin + chunk] = train[np.argmax(same, axis=1)]
    return out


def baselines(codec, train: np.ndarray | None, windows: np.ndarray, seed: int = 0) -> dict:
    """Predictions of the trivial baselines for ``windows`` (name -> tokens like ``windows``)."""
    out = {}
    if codec.window_unit == "bars":   # a grid: token 0 everywhere is silence
        out["all-rest"] = np.zeros_like(windows)
    if train is not None and len(train):
        out["most-frequent"] = np.broadcast_to(most_frequent(train), windows.shape).copy()
        out["nearest-train"] = nearest_train(train, windows, seed)
    return out


# -- the whole benchmark ------------------------------------------------------------------------

def benchmark(codec, windows: np.ndarray, encode: Callable[[np.ndarray], np.ndarray],
              decode: Callable[[np.ndarray], np.ndarray], train: np.ndarray | None = None,
              batch_size: int = 64, pairs: int = 256, interp_steps: int = 11, seed: int = 0,
              progress: bool = False) -> dict:
    """Score the model (``encode``: token windows -> mu; ``decode``: z -> argmax tokens) and the
    baselines on ``windows``; ``train`` feeds the baselines that learn from data. Also: how
    often an interpolation path moves steadily away from its start."""
    from tqdm import tqdm

    preds, mus = [], []
    for begin in tqdm(range(0, len(windows), batch_size), desc="reconstruct", unit="batch",
                      disable=not progress):
        mu = np.asarray(encode(windows[begin:begin + batch_size]))
        mus.append(mu)
        preds.append(np.asarray(decode(mu)))
    pred, mu = np.concatenate(preds), np.concatenate(mus)
    rows = {"model": score(codec, pred, windows)}
    for name, tokens in baselines(codec, train, windows, seed).items():
        rows[name] = score(codec, tokens, windows)
    return {"windows": int(len(windows)), "rows": rows,
            "interpolation": interpolation_paths(mu, decode, pairs, interp_steps, seed, batch_size),
            "density": {"data_notes_per_window": _notes_per_window(codec, windows),
                        "model_notes_per_window": _notes_per_window(codec, pred)}}


def interpolation_paths(mu: np.ndarray, decode, pairs: int, steps: int, seed: int = 0,
                        batch_size: int = 64) -> dict:
    """Decode ``pairs`` slerp paths between random posterior means; ``monotonic`` is the share of
    paths whose Hamming distance to the path's start never falls (MusicVAE's Fig. 5 shape),
    ``to_start`` the mean distance (share of steps) at each point. The paths are decoded
    ``batch_size`` codes at a time (whole paths per batch)."""
    if len(mu) < 2 or pairs < 1:
        return {}
    rng = np.random.default_rng(seed)
    ends = [rng.choice(len(mu), size=2, replace=False) for _ in range(pairs)]
    z = np.stack([slerp(mu[i], mu[j], t) for i, j in ends
                  for t in np.linspace(0, 1, steps)]).astype(np.float32)
    chunk = max(1, batch_size // steps) * steps
    tokens = np.concatenate([np.asarray(decode(z[b:b + chunk])) for b in range(0, len(z), chunk)])
    tokens = tokens.reshape((pairs, steps, -1))
    distance = (tokens != tokens[:, :1]).mean(-1)                 # [pairs, steps]
    monotonic = np.all(np.diff(distance, axis=1) >= 0, axis=1)
    return {"pairs": pairs, "monotonic": float(monotonic.mean()),
            "to_start": [float(v) for v in distance.mean(0)]}


def _notes_per_window(codec, windows: np.ndarray) -> float:
    sample = windows[:: max(1, len(windows) // 256)]
    return float(np.mean([len(onsets(codec, w)) for w in sample])) if len(sample) else 0.0


def bundle_model(engine, dataset_codec):
    """``(encode, decode)`` through a bundle's ONNX graphs (the runtime's engine), in the
    dataset's vocabulary; windows are converted to the bundle's own vocabulary where they differ
    (note events: each bundle carries the dictionaries it was trained with)."""
    same = dataset_codec.config() == engine.codec.config()
    width = {}

    def encode(tokens: np.ndarray) -> np.ndarray:
        width["steps"] = tokens.shape[1]
        x = tokens if same else convert_windows(tokens, dataset_codec, engine.codec)
        if not engine.decoder.grid:   # at most the notes the model reads and writes
            x = x[:, : engine.notes]
        return engine.decoder.encode_tokens(x)

    def decode(z: np.ndarray) -> np.ndarray:
        out = engine.decode_tokens(z, temperature=0.0, seed=0)
        if not same:
            out = convert_windows(out, engine.codec, dataset_codec)
        steps = width.get("steps", out.shape[1])
        if out.shape[1] < steps:  # a model of fewer notes than the windows
            pad = np.zeros((len(out), steps - out.shape[1]) + out.shape[2:], out.dtype)
            out = np.concatenate([out, pad], 1)
        return out[:, :steps]

    return encode, decode


def format_benchmark(report: dict) -> str:
    """The table: one row per predictor, steps and note onsets, then per-part recall."""
    rows = report["rows"]
    fields = next(iter(rows.values())).get("fields")
    head = ["", "steps", "notes P", "notes R", "notes F1"] + (list(fields) if fields else [])
    lines = [f"{head[0]:<15}" + "".join(f"{h:>10}" for h in head[1:])]
    for name, r in rows.items():
        values = [r["steps"], r["notes"]["precision"], r["notes"]["recall"], r["notes"]["f1"]]
        values += list(r["fields"].values()) if fields else []
        lines.append(f"{name:<15}" + "".join(f"{v:>10.3f}" for v in values))
    parts = rows["model"]["notes"]["per_part"]
    if len(parts) > 1:
        lines.append("model per part (P / R / F1): " + ", ".join(
            f"{k} {v['precision']:.2f}/{v['recall']:.2f}/{v['f1']:.2f}" for k, v in parts.items()))
    rhythm = {name: r["notes"]["rhythm"] for name, r in rows.items() if "rhythm" in r["notes"]}
    if "model" in rhythm:
        others = [(name, r) for name, r in rhythm.items() if name != "model"]
        aside = lambda key: (" (" + ", ".join(f"{n} {r[key]:.3f}" for n, r in others) + ")"
                             if others else "")
        lines.append(f"model rhythm: onsets at any pitch F1 {rhythm['model']['f1']:.3f}"
                     f"{aside('f1')}; the pitch is right on {rhythm['model']['pitch_right']:.3f} "
                     f"of the notes at a right onset{aside('pitch_right')}")
    it = report.get("interpolation")
    if it:
        lines.append(f"interpolation: {it['monotonic']:.2f} of {it['pairs']} paths move steadily "
                     "away from their start; distance " + " ".join(f"{v:.2f}" for v in it["to_start"]))
    d = report["density"]
    lines.append(f"notes per window: data {d['data_notes_per_window']:.1f}, "
                 f"model {d['model_notes_per_window']:.1f}")
    return "\n".join(lines)


# -- grooves (GrooVAE: hits, velocities, timing) --------------------------------------------------

#: a 16th note at 120 BPM lasts 125 ms: timing errors in steps are also shown in these ms
MS_PER_STEP_AT_120 = 125.0


def groove_scores(codec, pred: np.ndarray, target: np.ndarray) -> dict:
    """A predicted performance against the played take, both groove tokens [N, T, 3 * classes]:
    hit precision / recall / F1 over (window, step, drum class) cells, also per class; and on
    the hits both played and predicted, the mean absolute velocity error (MIDI units) and timing
    error (in steps; ``timing_error_ms`` at 120 BPM). ``steps``: share of steps whose hits are all
    right. Without any matched hit the two errors are None (nothing to measure)."""
    from runtime.codecs.drums import DRUM_CLASS_NAMES

    pred, target = np.asarray(pred), np.asarray(target)
    c = codec.num_classes
    played, predicted = target[..., :c] > 0, pred[..., :c] > 0
    both = played & predicted
    hits = _prf(int(both.sum()), int(predicted.sum()), int(played.sum()))
    names = DRUM_CLASS_NAMES if c == len(DRUM_CLASS_NAMES) else [f"class{k}" for k in range(c)]
    hits["per_part"] = {name: _prf(int(both[..., k].sum()), int(predicted[..., k].sum()),
                                   int(played[..., k].sum())) for k, name in enumerate(names)}
    matched = int(both.sum())
    velocity = np.abs(pred[..., c:2 * c] - target[..., c:2 * c])[both]
    timing = np.abs(pred[..., 2 * c:] - target[..., 2 * c:])[both] / codec.offset_units
    timing_steps = float(timing.mean()) if matched else None
    return {"steps": float((played == predicted).all(-1).mean()), "hits": hits,
            "matched_hits": matched,
            "velocity_error": float(velocity.mean()) if matched else None,
            "timing_error_steps": timing_steps,
            "timing_error_ms": timing_steps * MS_PER_STEP_AT_120 if matched else None}


def copy_the_input(codec, windows: np.ndarray, velocity: float) -> np.ndarray:
    """The "copy the input" baseline: what the encoder reads, played back as it is (humanize:
    the quantized hits; tap: the tapped line on its channel, with its timing), every hit at the
    flat ``velocity``; a ``full`` input is the performance itself."""
    x = codec.to_input(np.asarray(windows))
    if codec.input_transform != "full":
        c = codec.num_classes
        x[..., c:2 * c] = velocity / 127.0
    return codec.from_output(x)


def most_frequent_groove(codec, train: np.ndarray) -> np.ndarray:
    """The "most frequent" baseline of a groove: one 2-bar pattern from the train split, a hit
    at every (step, drum class) played in more than half of the training windows, with the
    mean velocity and timing offset that cell has where it is played."""
    train = np.asarray(train)
    c = codec.num_classes
    played = train[..., :c] > 0
    pattern = np.zeros(train.shape[1:], train.dtype)
    pattern[..., :c] = played.mean(0) > 0.5
    count = np.maximum(played.sum(0), 1)
    for k in (1, 2):                       # velocities, then offsets, where the cell is played
        mean = (train[..., k * c:(k + 1) * c] * played).sum(0) / count
        pattern[..., k * c:(k + 1) * c] = np.where(pattern[..., :c] > 0, mean, 0)
    return pattern


def mean_hit_velocity(codec, windows: np.ndarray) -> float:
    """Mean MIDI velocity of the played hits (the flat velocity of the copy baseline)."""
    c = codec.num_classes
    hits = np.asarray(windows)[..., :c] > 0
    return float(np.asarray(windows)[..., c:2 * c][hits].mean()) if hits.any() else 80.0


def groove_benchmark(codec, windows: np.ndarray, encode: Callable[[np.ndarray], np.ndarray],
                     decode: Callable[..., np.ndarray], train: np.ndarray | None = None,
                     batch_size: int = 64, progress: bool = False) -> dict:
    """Score a groove model on ``windows`` (the played takes) beside "copy the input" and, given
    the ``train`` split, its most frequent pattern.

    ``encode``: windows -> mu (through the codec's input transform); ``decode(mu, hits=None)``:
    tokens at temperature 0, the given hits kept when ``hits`` is not None. Rows: ``model``
    (hits decoded freely), for a humanize model also ``model, hits kept`` (what Groove plays:
    the player's hits, the model's velocities and timing), ``copy the input`` at the train
    split's mean hit velocity and ``most-frequent`` (:func:`most_frequent_groove`)."""
    from tqdm import tqdm

    c = codec.num_classes
    free, kept = [], []
    keep = codec.input_transform == "humanize"
    for begin in tqdm(range(0, len(windows), batch_size), desc="reconstruct", unit="batch",
                      disable=not progress):
        chunk = windows[begin:begin + batch_size]
        mu = np.asarray(encode(chunk))
        free.append(np.asarray(decode(mu)))
        if keep:
            kept.append(np.asarray(decode(mu, hits=chunk[..., :c])))
    velocity = mean_hit_velocity(codec, train if train is not None and len(train) else windows)
    rows = {"model": groove_scores(codec, np.concatenate(free), windows)}
    if keep:
        rows["model, hits kept"] = groove_scores(codec, np.concatenate(kept), windows)
    rows["copy the input"] = groove_scores(codec, copy_the_input(codec, windows, velocity), windows)
    if train is not None and len(train):
        pattern = most_frequent_groove(codec, train)
        rows["most-frequent"] = groove_scores(codec, np.broadcast_to(pattern, windows.shape), windows)
    return {"windows": int(len(windows)), "rows": rows, "input_transform": codec.input_transform,
            "copy_velocity": round(velocity, 2)}


def format_groove_benchmark(report: dict) -> str:
    """One row per predictor: steps, hit P/R/F1, velocity error, timing error."""
    head = ["", "steps", "hits P", "hits R", "hits F1", "vel err", "time err", "ms@120"]
    lines = [f"{head[0]:<18}" + "".join(f"{h:>9}" for h in head[1:])]
    for name, r in report["rows"].items():
        values = [r["steps"], r["hits"]["precision"], r["hits"]["recall"], r["hits"]["f1"],
                  r["velocity_error"], r["timing_error_steps"], r["timing_error_ms"]]
        lines.append(f"{name:<18}" + "".join(f"{'-':>9}" if v is None else f"{v:>9.3f}"
                                             for v in values))
    parts = report["rows"]["model"]["hits"]["per_part"]
    lines.append("model hits per class (F1): " + ", ".join(f"{k} {v['f1']:.2f}"
                                                           for k, v in parts.items()))
    lines.append(f"velocity error in MIDI units, timing error in steps (16ths) and in ms at 120 "
                 f"BPM, on the hits both played and predicted; input {report['input_transform']}, "
                 f"copy-the-input velocity {report['copy_velocity']:g} (train mean)")
    return "\n".join(lines)


def groove_summary(report: dict, command: str) -> dict:
    """The groove benchmark in a few numbers per row (model.json ``evaluation.benchmark``)."""
    b = report["benchmark"]
    def rounded(value, digits):
        return None if value is None else round(value, digits)

    rows = {name: {"steps": round(r["steps"], 4), "hits_f1": round(r["hits"]["f1"], 4),
                   "hits_precision": round(r["hits"]["precision"], 4),
                   "hits_recall": round(r["hits"]["recall"], 4),
                   "velocity_error": rounded(r["velocity_error"], 3),
                   "timing_error_steps": rounded(r["timing_error_steps"], 4),
                   "timing_error_ms_120bpm": rounded(r["timing_error_ms"], 2)}
            for name, r in b["rows"].items()}
    return {"split": report.get("split"), "windows": b["windows"], "rows": rows,
            "input_transform": b["input_transform"], "copy_velocity": b["copy_velocity"],
            "decoding": "z = posterior mean, hits at threshold 0.5", "command": command}


# -- what model.json records ----------------------------------------------------------------------

def notes_per_bar(codec, windows: np.ndarray, bars: int, limit: int = 4000, seed: int = 0) -> dict:
    """Notes per bar of the (training) windows: mean, 99th percentile, max. The engine's quality
    guard calls a decoded clip noise when it is far denser than this."""
    if len(windows) > limit:
        windows = windows[np.sort(np.random.default_rng(seed).choice(len(windows), limit, False))]
    counts = np.array([len(onsets(codec, w)) for w in windows], np.float64) / max(1, bars)
    if not len(counts):
        return {}
    return {"mean": round(float(counts.mean()), 3), "p99": round(float(np.percentile(counts, 99)), 3),
            "max": round(float(counts.max()), 3), "windows": int(len(counts))}


def summary(report: dict, command: str) -> dict:
    """The benchmark in a few numbers per row (what model.json and the README table show)."""
    b = report["benchmark"]
    rows = {}
    for name, r in b["rows"].items():
        row = {"steps": round(r["steps"], 4), "notes_f1": round(r["notes"]["f1"], 4),
               "notes_precision": round(r["notes"]["precision"], 4),
               "notes_recall": round(r["notes"]["recall"], 4)}
        if "fields" in r:
            row["fields"] = {k: round(v, 4) for k, v in r["fields"].items()}
        if name == "model" and len(r["notes"]["per_part"]) > 1:
            row["per_part_f1"] = {k: round(v["f1"], 4) for k, v in r["notes"]["per_part"].items()}
        if "rhythm" in r["notes"]:
            row["rhythm"] = {"onset_f1": round(r["notes"]["rhythm"]["f1"], 4),
                             "pitch_right": round(r["notes"]["rhythm"]["pitch_right"], 4)}
        rows[name] = row
    out = {"split": report.get("split"), "windows": b["windows"], "rows": rows,
           "density": {k: round(v, 3) for k, v in b["density"].items()},
           "decoding": "z = posterior mean, argmax", "command": command}
    if b.get("interpolation"):
        out["interpolation_monotonic"] = round(b["interpolation"]["monotonic"], 4)
    return out


def record(bundle, benchmark_summary: dict | None = None, density: dict | None = None) -> None:
    """Write the benchmark (``evaluation.benchmark``) and the data's note density
    (``data.notes_per_bar``) into a bundle's model.json, atomically."""
    import json
    import os
    from pathlib import Path

    path = Path(bundle) / "model.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    if benchmark_summary is not None:
        meta.setdefault("evaluation", {})["benchmark"] = benchmark_summary
    if density:
        meta.setdefault("data", {})["notes_per_bar"] = density
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
