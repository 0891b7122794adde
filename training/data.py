"""Training batches from dataset shards (``python -m training.prepare`` output).

A split is loaded into memory once; batches are drawn by index, so the order is a pure function
of (seed, epoch) and a resumed run sees exactly the batches it would have seen::

    >>> from training.data import WindowDataset
    >>> train = WindowDataset("data/mel_2bar", "train", transpose=(-5, 5))
    >>> len(train), train.codec.name, train.steps
    (7898, 'melody', 32)
    >>> batch = train.batch([0, 5, 9], rng=np.random.default_rng(0))
    >>> batch["inputs"].shape, batch["tokens"].shape, batch["lengths"].tolist()
    (torch.Size([3, 32, 90]), torch.Size([3, 32]), [32, 32, 32])

``inputs`` is the codec's ``to_input`` (float32), ``tokens`` the int64 targets and ``lengths``
the number of valid steps (all windows of a dataset have the same length). A codec with
continuous outputs (groove) adds ``targets``, its ``to_output`` of the tokens (float32).

Transposition augmentation happens here, at load time, only for codecs with pitched parts
(melody; trio's melody and bass; the pitch field of note events) and only when the shards were not transposed by ``prepare``
already (manifest ``augment.transpose``). Each example gets a shift drawn from [low, high]; a
shift that would push a note out of the codec's range is replaced by no shift.
"""

from __future__ import annotations

import numpy as np
import torch

from runtime.codecs.melody import FIRST_PITCH_CLASS  # 0 = no event, 1 = note-off, then pitches

from .shards import DatasetError, load_split, read_manifest  # noqa: F401  (DatasetError re-exported)


class WindowDataset:
    """One split of a dataset folder, in memory."""

    def __init__(self, folder, split: str = "train", transpose=(0, 0)):
        from runtime.codecs import CodecError, codec_from_config

        self.folder, self.split = str(folder), split
        self.manifest = read_manifest(folder)
        try:
            self.codec = codec_from_config(self.manifest["codec"])
        except (CodecError, TypeError) as exc:
            raise DatasetError(f"{folder}: bad codec in manifest.json ({exc})") from None
        self.tokens = load_split(folder, split, self.manifest)["tokens"].astype(np.int64)
        if self.tokens.ndim < 2:
            raise DatasetError(f"{folder}: {split} tokens have shape {self.tokens.shape}, "
                               "expected one fixed-length window per row")
        already = self.manifest.get("augment", {}) or {}
        already = already.get("transpose") if isinstance(already, dict) else already
        self.transpose = (0, 0) if already else (int(transpose[0]), int(transpose[1]))
        self.pitched_parts = _pitched_parts(self.codec)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def steps(self) -> int:
        return self.tokens.shape[1]

    def batch(self, indices, rng: np.random.Generator | None = None) -> dict[str, torch.Tensor]:
        """The examples at ``indices``, transposed at random when ``rng`` is given."""
        tokens = self.tokens[np.asarray(indices, dtype=np.int64)].copy()
        low, high = self.transpose
        if rng is not None and (low, high) != (0, 0) and self.pitched_parts:
            shifts = rng.integers(low, high + 1, size=len(tokens))
            tokens = transpose_tokens(tokens, shifts, self.pitched_parts)
        return self.batch_of(tokens)

    def batch_of(self, tokens: np.ndarray) -> dict[str, torch.Tensor]:
        """A batch of given token windows (the codec's inputs, the tokens, the lengths)."""
        tokens = np.ascontiguousarray(tokens, dtype=np.int64)
        # one window at a time: codecs define to_input on a single token array
        inputs = np.stack([self.codec.to_input(w) for w in tokens]).astype(np.float32)
        lengths = np.full(len(tokens), tokens.shape[1], dtype=np.int64)
        batch = {"inputs": torch.from_numpy(inputs), "tokens": torch.from_numpy(tokens),
                 "lengths": torch.from_numpy(lengths)}
        if hasattr(self.codec, "to_output"):  # continuous targets (groove), scaled by the codec
            batch["targets"] = torch.from_numpy(self.codec.to_output(tokens))
        return batch


def _pitched_parts(codec) -> list[tuple]:
    """(column or None for 1-D tokens, number of classes[, first pitch class]) for each part
    whose classes are semitones from some first class on (2 in melodies: 0 = no event, 1 =
    note-off; 0 in the note-event pitch field)."""
    if codec.name == "melody":
        return [(None, codec.output_depth)]
    if codec.name == "trio":
        return [(0, codec.output_depths[0]), (1, codec.output_depths[1])]
    if codec.name == "note_events":
        return [(2, codec.field_sizes[2], 0)]
    return []


def transpose_tokens(tokens: np.ndarray, shifts: np.ndarray, parts) -> np.ndarray:
    """Shift the pitch classes of every example by its semitone shift (0 where out of range).
    ``parts``: (column or None, classes[, first pitch class = FIRST_PITCH_CLASS]) per part."""
    shifts = np.asarray(shifts, dtype=np.int64).copy()
    parts = [(part[0], part[1], part[2] if len(part) > 2 else FIRST_PITCH_CLASS) for part in parts]
    views = [tokens if column is None else tokens[..., column] for column, _, _ in parts]
    for view, (_, classes, first) in zip(views, parts):
        pitched = view >= first
        axes = tuple(range(1, view.ndim))
        lowest = np.where(pitched, view, classes).min(axis=axes)
        highest = np.where(pitched, view, -1).max(axis=axes)
        fits = (lowest + shifts >= first) & (highest + shifts <= classes - 1)
        shifts = np.where(fits | (highest < 0), shifts, 0)
    out = tokens.copy()
    for column, _, first in parts:
        view = out if column is None else out[..., column]
        shift = shifts.reshape((-1,) + (1,) * (view.ndim - 1))
        view[...] = np.where(view >= first, view + shift, view)
    return out
