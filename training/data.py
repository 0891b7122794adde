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
(``codec.pitched_parts``: melody; trio's melody and bass; the pitch field of note events) and
only when the shards were not transposed by ``prepare`` already (manifest
``augment.transpose``). Each example gets a shift drawn from [low, high], applied by the codec
(:meth:`~runtime.codecs.base.Codec.transpose`); a shift that would push a note out of the
codec's range is replaced by no shift.
"""

from __future__ import annotations

import numpy as np
import torch

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

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def steps(self) -> int:
        return self.tokens.shape[1]

    def batch(self, indices, rng: np.random.Generator | None = None) -> dict[str, torch.Tensor]:
        """The examples at ``indices``, transposed at random when ``rng`` is given."""
        tokens = self.tokens[np.asarray(indices, dtype=np.int64)].copy()
        low, high = self.transpose
        if rng is not None and (low, high) != (0, 0) and self.codec.pitched_parts:
            shifts = rng.integers(low, high + 1, size=len(tokens))
            moved, fits = self.codec.transpose(tokens, shifts)
            tokens = np.where(fits.reshape((-1,) + (1,) * (tokens.ndim - 1)), moved, tokens)
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

