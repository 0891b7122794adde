"""Dataset folders: ``manifest.json`` plus ``{train,valid,test}-NNNNN.npz`` shards.

Written by ``python -m training.prepare``; read by training and evaluation::

    >>> from training.shards import read_manifest, load_split, codec_of
    >>> manifest = read_manifest("data/mel_2bar")
    >>> manifest["counts"]                        # {'train': ..., 'valid': ..., 'test': ...}
    >>> train = load_split("data/mel_2bar", "train")
    >>> train["tokens"].shape, train["source"].shape     # (n, 32) int64, (n,) int64
    >>> codec = codec_of("data/mel_2bar")         # the codec the tokens were made with
    >>> x = codec.to_input(train["tokens"][0])    # float32 [32, 90]

Every shard holds ``tokens`` (one fixed shape per dataset) and ``source`` (index into
``manifest["files"]``). A folder is written next to its final place and renamed into it, so a
reader never sees half a dataset; a broken folder is refused with a one-line
:class:`DatasetError`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

FORMAT = 1
SPLITS = ("train", "valid", "test")


class DatasetError(ValueError):
    """A dataset folder that cannot be written or read; the message is one line."""


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:05d}.npz"


def write_dataset(out_dir, splits: dict[str, tuple[np.ndarray, np.ndarray]], manifest: dict,
                  shard_size: int = 20000) -> dict:
    """Write ``splits`` (split -> (tokens, source)) and ``manifest`` into ``out_dir``.

    Counts, shard names and ``format`` are filled in. The folder is built under a temporary
    name beside ``out_dir`` and moved into place at the end; an existing dataset there is
    replaced, any other non-empty folder is refused."""
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir())
                                                       and not (out_dir / "manifest.json").exists())):
        raise DatasetError(f"{out_dir}: exists and is not a dataset folder; choose another one")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        manifest = dict(manifest)
        manifest["format"] = FORMAT
        manifest["counts"], manifest["shards"] = {}, {}
        for split in SPLITS:
            tokens, source = splits.get(split, (None, None))
            if tokens is None:
                tokens, source = np.zeros((0,), np.int64), np.zeros((0,), np.int64)
            tokens, source = np.asarray(tokens), np.asarray(source, dtype=np.int64)
            if len(tokens) != len(source):
                raise DatasetError(f"{split}: {len(tokens)} windows but {len(source)} sources")
            manifest["counts"][split] = int(len(tokens))
            names = []
            for index, begin in enumerate(range(0, max(len(tokens), 1), shard_size)):
                if not len(tokens):
                    break
                name = shard_name(split, index)
                np.savez_compressed(tmp / name, tokens=tokens[begin:begin + shard_size],
                                    source=source[begin:begin + shard_size])
                names.append(name)
            manifest["shards"][split] = names
        with open(tmp / "manifest.json", "w") as handle:
            json.dump(manifest, handle, indent=1)
            handle.write("\n")
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def read_manifest(folder) -> dict:
    path = Path(folder) / "manifest.json"
    try:
        with open(path) as handle:
            manifest = json.load(handle)
    except FileNotFoundError:
        raise DatasetError(f"{path}: missing (not a dataset folder)") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError(f"{path}: unknown dataset format {manifest.get('format') if isinstance(manifest, dict) else None!r}")
    for key in ("codec", "counts", "files"):
        if key not in manifest:
            raise DatasetError(f"{path}: no {key!r} entry")
    return manifest


def load_split(folder, split: str, manifest: dict | None = None) -> dict[str, np.ndarray]:
    """All shards of one split concatenated: ``{"tokens": ..., "source": ...}``; ``"all"`` gives
    every split, train then valid then test (a held-out folder scored as a whole)."""
    if split not in SPLITS and split != "all":
        raise DatasetError(f"unknown split {split!r} (known: {', '.join(SPLITS)}, all)")
    manifest = manifest or read_manifest(folder)
    if split == "all":
        parts = [load_split(folder, name, manifest) for name in SPLITS]
        return {key: np.concatenate([part[key] for part in parts]) for key in ("tokens", "source")}
    names = manifest.get("shards", {}).get(split)
    if names is None:
        names = sorted(p.name for p in Path(folder).glob(f"{split}-*.npz"))
    tokens, source = [], []
    for name in names:
        path = Path(folder) / name
        try:
            with np.load(path, allow_pickle=False) as shard:
                tokens.append(shard["tokens"])
                source.append(shard["source"])
        except FileNotFoundError:
            raise DatasetError(f"{path}: shard missing") from None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise DatasetError(f"{path}: unreadable shard ({exc})") from None
    if not tokens:
        shape = tuple(manifest.get("token_shape", ()))
        return {"tokens": np.zeros((0, *shape), np.int64), "source": np.zeros((0,), np.int64)}
    out = {"tokens": np.concatenate(tokens), "source": np.concatenate(source)}
    expected = manifest["counts"].get(split)
    if expected is not None and expected != len(out["tokens"]):
        raise DatasetError(f"{folder}: {split} has {len(out['tokens'])} windows, "
                           f"manifest says {expected}")
    return out


def codec_of(folder):
    """The codec named by the dataset's manifest, rebuilt (needs no torch)."""
    from runtime.codecs import codec_from_config

    return codec_from_config(read_manifest(folder)["codec"])
