"""Build a dataset folder (manifest.json + npz shards) from music files: ``python -m training.prepare``.

    $ python -m training.prepare shared:nottingham data/mel_2bar --kind mel --bars 2
    $ python -m training.prepare shared:groove data/drums_2bar --kind drums --bars 2
    $ python -m training.prepare music21:bach data/bach_notes --kind notes --notes 100
    $ python -m training.prepare my_midi_folder/ data/mine --kind mel --bars 16 --transpose -5 5

SOURCE is one or more of: a folder (searched recursively for .mid/.midi, and .xml/.mxl/
.musicxml/.abc/.krn through :mod:`training.corpus`), a single file, ``music21:NAME`` (a music21
corpus collection: bach, essenFolksong, oneills1850, ...), or ``shared:groove`` /
``shared:nottingham`` (``full`` + ``melody``) / ``shared:nottingham/full`` for the project's
shared data (``$LATENTBRIDGE_DATA`` or ``../shared/data`` beside the repository).

Splits are deterministic: Groove uses the ``split`` column of its info.csv; everything else is
split by a hash of the piece's name (file stem, so ``full/x.mid`` and ``melody/x.mid`` of the same
tune land in the same split). Windows are de-duplicated within each split, and valid/test windows
that also occur in train are dropped. Transposition (``--transpose LOW HIGH``) augments the train
split only. A file that cannot be read is counted and listed in the manifest with its reason.

The same from Python::

    >>> from training.prepare import prepare
    >>> manifest = prepare(["shared:groove"], "data/drums_2bar", kind="drums", bars=2)
    >>> manifest["counts"]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import multiprocessing
import os
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from runtime.codecs import REGISTRY, CodecError, codec_from_config
from runtime.codecs.drums import DrumsCodec
from runtime.codecs.melody import MelodyCodec
from runtime.codecs.trio import TrioCodec
from runtime.midi_io import MidiError, read_midi
from runtime.music import Clip

from . import extract
from .shards import SPLITS, DatasetError, write_dataset

MIDI_SUFFIXES = (".mid", ".midi")
SCORE_SUFFIXES = (".xml", ".mxl", ".musicxml", ".abc", ".krn")
#: kinds that window by bars on the 16-step grid, and kinds that go through a whole-clip codec
BAR_KINDS = ("mel", "drums", "trio")
CLIP_KINDS = {"notes": "note_events", "pianoroll": "pianoroll", "pod": "pod",
              "performance": "performance"}
KINDS = BAR_KINDS + tuple(CLIP_KINDS)


class PrepareError(ValueError):
    """Bad arguments or an unusable source; one line for the user."""


def shared_data_root() -> Path:
    env = os.environ.get("LATENTBRIDGE_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


# -- sources -------------------------------------------------------------------------------------
@dataclass
class Task:
    """One unit of work for a worker: a file (or a music21 corpus file) to read."""

    name: str                 # what the manifest lists (relative path or corpus name)
    path: str
    split: str | None = None  # fixed split (Groove's info.csv), else by hash of split_key
    split_key: str = ""


def _folder_tasks(folder: Path, label: str) -> list[Task]:
    paths = sorted(p for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES + SCORE_SUFFIXES)
    return [Task(f"{label}/{p.relative_to(folder)}", str(p), split_key=p.stem) for p in paths]


def _groove_tasks(root: Path) -> list[Task]:
    info = root / "info.csv"
    splits = {}
    if info.is_file():
        with open(info, newline="") as handle:
            for row in csv.DictReader(handle):
                splits[row["midi_filename"]] = {"validation": "valid"}.get(row["split"], row["split"])
    tasks = []
    for task in _folder_tasks(root, "groove"):
        rel = str(Path(task.path).relative_to(root))
        task.split = splits.get(rel)
        tasks.append(task)
    return tasks


def _music21_tasks(collection: str) -> list[Task]:
    """One task per score of a music21 corpus collection ("bach" = the chorales only).

    music21 keeps some works twice (``.krn`` and ``.mxl``) and lists a few chorales twice;
    each piece is read once, from MusicXML when there is a choice."""
    try:
        import music21
    except ImportError:
        raise PrepareError("music21 sources need the music21 package "
                           "(pip install latentbridge[train])") from None
    root = Path(music21.__file__).resolve().parent / "corpus"
    if collection == "bach":
        paths = []
        for name in dict.fromkeys(music21.corpus.chorales.Iterator(returnType="filename")):
            found = music21.corpus.getWork(name)
            found = found if isinstance(found, list) else [found]
            stem = Path(name).name
            exact = [Path(str(p)) for p in found if Path(str(p)).stem == stem] or \
                    [Path(str(p)) for p in found]
            paths.append(min(exact, key=_score_preference))
    else:
        paths = [Path(str(p)) for p in music21.corpus.getComposer(collection)
                 if Path(str(p)).suffix.lower() in MIDI_SUFFIXES + SCORE_SUFFIXES]
        if not paths:
            raise PrepareError(f"music21 corpus has no collection {collection!r}")
    best: dict[str, Path] = {}
    for path in sorted(paths):
        try:
            key = str(path.resolve().relative_to(root).with_suffix(""))
        except ValueError:
            key = f"{collection}/{path.stem}"
        if key not in best or _score_preference(path) < _score_preference(best[key]):
            best[key] = path
    return [Task(key, str(path), split_key=key) for key, path in sorted(best.items())]


def _score_preference(path: Path) -> int:
    order = (".mxl", ".xml", ".musicxml", ".krn", ".abc", ".mid", ".midi")
    suffix = path.suffix.lower()
    return order.index(suffix) if suffix in order else len(order)


def source_tasks(source: str) -> list[Task]:
    """The files a SOURCE argument names (see the module doc)."""
    if source.startswith("music21:"):
        return _music21_tasks(source.split(":", 1)[1])
    if source.startswith("shared:"):
        name = source.split(":", 1)[1].strip("/")
        root = shared_data_root()
        if name == "groove":
            folder = root / "groove"
            if not folder.is_dir():
                raise PrepareError(f"shared data not found at {folder} (set LATENTBRIDGE_DATA)")
            return _groove_tasks(folder)
        if name == "nottingham":
            return source_tasks("shared:nottingham/full") + source_tasks("shared:nottingham/melody")
        folder = root / name
        if not folder.is_dir():
            raise PrepareError(f"shared data has no {name!r} at {folder} "
                               f"(try shared:groove, shared:nottingham, shared:nottingham/full)")
        return _folder_tasks(folder, name)
    path = Path(source)
    if path.is_dir():
        return _folder_tasks(path, path.name)
    if path.is_file():
        return [Task(path.name, str(path), split_key=path.stem)]
    raise PrepareError(f"{source}: no such file, folder or known source "
                       f"(music21:NAME, shared:groove, shared:nottingham)")


def hash_split(key: str, valid: float, test: float) -> str:
    """Deterministic split from a name: the same name always lands in the same split."""
    bucket = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    if bucket < test:
        return "test"
    if bucket < test + valid:
        return "valid"
    return "train"


# -- the work done for one file (in a worker process) --------------------------------------------
@dataclass
class Options:
    kind: str
    bars: int = 2
    min_pitch: int = 21
    max_pitch: int = 108
    gap_bars: float = 1.0
    trio_require_drums: bool = True
    trio_voices: bool = False
    max_combinations: int = 8
    steps_per_quarter: int = 4     # piano-roll frames per beat (MuseBar: 1, i.e. 4 per bar)


@dataclass
class Item:
    """What one piece gave: windows (bar kinds) or the clip itself (clip kinds), or a reason."""

    name: str
    windows: np.ndarray | None = None
    clip: Clip | None = None
    error: str | None = None
    stats: dict = field(default_factory=dict)


def load_pieces(path: str, name: str) -> list[tuple[str, Clip]]:
    """Read a file into (name, clip) pairs; multi-tune ABC books give one pair per tune."""
    suffix = Path(path).suffix.lower()
    if suffix in MIDI_SUFFIXES:
        return [(name, read_midi(path))]
    from . import corpus

    if suffix == ".abc":
        tunes = corpus.load_abc_tunes(path)
        if not tunes:
            raise corpus.CorpusError(f"{path}: no tune in this ABC file")
        if len(tunes) == 1 and not isinstance(tunes[0][1], Exception):
            return [(name, tunes[0][1])]
        return [(f"{name}#{tune_name.rsplit('#', 1)[-1]}", tune) for tune_name, tune in tunes]
    return [(name, corpus.load_file(path))]


def codec_for(options: Options):
    if options.kind == "mel":
        return MelodyCodec(options.min_pitch, options.max_pitch)
    if options.kind == "drums":
        return DrumsCodec()
    if options.kind == "trio":
        return TrioCodec(options.min_pitch, options.max_pitch)
    raise PrepareError(f"kind {options.kind} has no fixed codec")


def process(task_and_options: tuple[Task, Options]) -> list[Item]:
    """Read one file and extract its windows; never raises for a bad file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # music21 warns about every odd bar; reasons go to `skipped`
        return _process(*task_and_options)


def _process(task: Task, options: Options) -> list[Item]:
    try:
        pieces = load_pieces(task.path, task.name)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is skipped, with its reason
        return [Item(task.name, error=_one_line(exc, task.path))]
    items = []
    for name, clip in pieces:
        if isinstance(clip, Exception):
            items.append(Item(name, error=_one_line(clip, task.path)))
            continue
        item = Item(name)
        try:
            if options.kind in CLIP_KINDS:
                item.clip = clip
            else:
                codec = codec_for(options)
                if options.kind == "mel":
                    item.windows = extract.melody_windows(clip, options.bars, codec,
                                                          options.gap_bars, item.stats)
                elif options.kind == "drums":
                    item.windows = extract.drum_windows(clip, options.bars, codec,
                                                        options.gap_bars, item.stats)
                else:
                    if options.trio_voices:
                        clip = extract.voices_as_trio(clip)
                    item.windows = extract.trio_windows(
                        clip, options.bars, codec, options.gap_bars, options.trio_require_drums,
                        options.max_combinations, item.stats)
        except Exception as exc:  # noqa: BLE001
            item = Item(name, error=_one_line(exc, task.path))
        items.append(item)
    return items


def _one_line(exc: BaseException, path: str) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (MidiError, CodecError)) or path in text:
        return text
    return f"{type(exc).__name__}: {text}"


# -- the whole run -------------------------------------------------------------------------------
def prepare(sources, out_dir, kind: str = "mel", bars: int = 2, transpose=(0, 0),
            workers: int = 1, valid: float = 0.1, test: float = 0.1, max_files: int | None = None,
            notes: int = 100, stride: int | None = None, shard_size: int = 20000,
            progress: bool = True, **option_fields) -> dict:
    """Build the dataset folder ``out_dir``; returns the manifest that was written."""
    if kind not in KINDS:
        raise PrepareError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    if kind in CLIP_KINDS and CLIP_KINDS[kind] not in REGISTRY:
        raise PrepareError(f"kind {kind} needs the {CLIP_KINDS[kind]} codec, which is not "
                           f"available in runtime/codecs yet")
    if bars < 1:
        raise PrepareError("--bars must be at least 1")
    if not 1 <= option_fields.get("steps_per_quarter", 4) <= 96:
        raise PrepareError("--steps-per-quarter must be in 1..96")
    low, high = transpose
    if low > high:
        raise PrepareError(f"--transpose {low} {high}: LOW must not exceed HIGH")
    options = Options(kind=kind, bars=bars, **option_fields)
    tasks = [t for source in sources for t in source_tasks(source)]
    if max_files is not None:
        tasks = tasks[:max_files]
    if not tasks:
        raise PrepareError(f"no music files found in {', '.join(map(str, sources))}")

    def split_of(task: Task, item: Item) -> str:
        # A tune of a multi-tune ABC book goes by its own name, a file by its stem.
        key = task.split_key or task.name if item.name == task.name else item.name
        return task.split or hash_split(key, valid, test)

    items: list[tuple[Task, Item]] = []
    jobs = [(t, options) for t in tasks]
    bar = tqdm(total=len(jobs), desc=f"prepare {kind}", unit="file", disable=not progress)
    if workers > 1 and len(jobs) > 1:
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        with context.Pool(workers) as pool:
            for task, result in zip(tasks, pool.imap(process, jobs, chunksize=4)):
                items += [(task, item) for item in result]
                bar.update()
    else:
        for job in jobs:
            items += [(job[0], item) for item in process(job)]
            bar.update()
    bar.close()

    files, skipped, stats = [], [], Counter()
    per_split: dict[str, list[tuple[np.ndarray, int]]] = {s: [] for s in SPLITS}
    clips: dict[str, list[tuple[Clip, int]]] = {s: [] for s in SPLITS}
    for task, item in items:
        if item.error:
            skipped.append({"file": item.name, "reason": item.error})
            continue
        stats.update(item.stats)
        index = len(files)
        files.append(item.name)
        split = split_of(task, item)
        if item.clip is not None:
            clips[split].append((item.clip, index))
        elif item.windows is not None:
            per_split[split] += [(w, index) for w in item.windows]

    manifest = {"kind": kind, "sources": list(map(str, sources))}
    if kind in BAR_KINDS:
        codec = codec_for(options)
        stride_bars = 1
        manifest["window"] = {"bars": bars, "steps_per_bar": extract.STEPS_PER_BAR,
                              "stride": stride_bars, "stride_unit": "bars"}
        shape = (bars * extract.STEPS_PER_BAR,) + ((3,) if kind == "trio" else ())
    else:
        codec, per_split, shape = _clip_kind_windows(kind, clips, notes, stride or notes // 2,
                                                     options, skipped, files)
        manifest["window"] = ({"bars": bars, "steps_per_bar": 4 * options.steps_per_quarter,
                               "stride": 1, "stride_unit": "bars"} if kind == "pianoroll" else
                              {"notes": notes, "stride": stride or notes // 2,
                               "stride_unit": "events" if kind == "performance" else "notes"})

    # Augment train only; pitched columns move, drums stay.
    augment = []
    if (low, high) != (0, 0) and kind in ("mel", "trio", "notes"):
        augment = [s for s in range(low, high + 1) if s != 0]
        per_split["train"] = _augment(per_split["train"], augment, kind, codec)

    splits, dedup = _dedupe_splits(per_split, shape)
    stats.update(dedup)
    manifest.update({
        "codec": codec.config(),
        "token_shape": list(shape),
        "files": files,
        "skipped": skipped,
        "augment": {"transpose": augment, "splits": ["train"] if augment else []},
        "split_rule": ("groove info.csv split column, else " if any(t.split for t in tasks) else "")
                      + f"sha1(name) buckets: valid {valid:g}, test {test:g}",
        "stats": dict(sorted(stats.items())),
    })
    return write_dataset(out_dir, splits, manifest, shard_size)


def _augment(windows, shifts, kind, codec):
    if not windows:
        return windows
    tokens = np.stack([w for w, _ in windows])
    sources = np.array([s for _, s in windows])
    out = list(windows)
    for shift in shifts:
        if kind == "mel":
            moved, keep = extract.transpose_tokens(tokens, shift, codec.num_classes)
        elif kind == "trio":
            moved, keep = extract.transpose_tokens(tokens, shift, codec.melody.num_classes, (0, 1))
        else:  # note indices: the pitch field is the last column, 0..field_size-1
            pitch = tokens[..., 2] + shift
            keep = ((pitch >= 0) & (pitch < codec.field_sizes[2])).reshape(len(tokens), -1).all(1)
            moved = tokens.copy()
            moved[..., 2] = pitch
        out += list(zip(moved[keep], sources[keep]))
    return out


def _dedupe_splits(per_split, shape):
    """Unique windows per split; valid/test windows also found in train are dropped."""
    out, stats, train_keys = {}, Counter(), set()
    for split in SPLITS:
        seen, tokens, sources = set(), [], []
        for window, source in per_split[split]:
            key = window.tobytes()
            if key in seen:
                stats["duplicate_windows"] += 1
                continue
            if split != "train" and key in train_keys:
                stats[f"{split}_windows_in_train"] += 1
                continue
            seen.add(key)
            tokens.append(window)
            sources.append(source)
        if split == "train":
            train_keys = seen
        out[split] = (np.stack(tokens) if tokens else np.zeros((0, *shape), np.int64),
                      np.array(sources, dtype=np.int64))
    return out, stats


def _clip_kind_windows(kind, clips, notes, stride, options, skipped, files):
    """Codecs of whole pieces: vocabularies built from the train clips (note events, pod),
    then fixed-length windows: ``notes`` events every ``stride`` (notes, pod, performance) or
    ``bars`` 4/4 bars every bar (pianoroll)."""
    from runtime.codecs.note_events import segments

    train = [clip for clip, _ in clips["train"]]
    if kind in ("notes", "pod") and not train:
        raise PrepareError(f"no readable train piece to build the {kind} vocabulary from")
    if kind == "notes":
        from runtime.codecs.note_events import NoteEventCodec

        codec = NoteEventCodec.build(train, min_pitch=options.min_pitch, max_pitch=options.max_pitch)
    elif kind == "pod":
        from runtime.codecs.pod import PodCodec

        codec = PodCodec.build(train)
    elif kind == "pianoroll":
        codec = codec_from_config({"name": "pianoroll",
                                   "steps_per_quarter": options.steps_per_quarter})
    else:
        codec = codec_from_config({"name": CLIP_KINDS[kind]})
    per_split = {s: [] for s in SPLITS}
    steps_per_bar = 4 * options.steps_per_quarter if kind == "pianoroll" else extract.STEPS_PER_BAR
    steps = options.bars * steps_per_bar
    for split, pieces in clips.items():
        for clip, index in pieces:
            try:
                if kind == "pianoroll":
                    spq = options.steps_per_quarter
                    windows = [w for section in extract.four_four_sections(clip, spq)
                               for w in extract.slide(codec.encode(section), steps, steps_per_bar)
                               if w.any()]
                else:
                    windows = list(segments(codec.encode(clip), notes, stride))
            except CodecError as exc:
                skipped.append({"file": files[index], "reason": " ".join(str(exc).split())})
                continue
            per_split[split] += [(w, index) for w in windows]
    if kind == "pianoroll":
        shape = (steps, 128)
    else:
        shape = (notes,) + ((3,) if kind in ("notes", "pod") else ())
    return codec, per_split, shape


# -- command line --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.prepare",
        description="Build a dataset folder (manifest.json + npz shards) from music files.",
        epilog="examples: shared:nottingham data/mel_2bar --kind mel --bars 2 | "
               "shared:groove data/drums_2bar --kind drums --bars 2 | "
               "music21:bach data/bach_notes --kind notes --notes 100")
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="folder, file, music21:NAME, shared:groove or shared:nottingham "
                             "(several allowed); the last positional argument is OUT_DIR")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="dataset folder to write")
    parser.add_argument("--kind", choices=KINDS, default="mel", help="representation (codec)")
    parser.add_argument("--bars", type=int, default=2, help="window length in 4/4 bars (mel, drums, trio)")
    parser.add_argument("--notes", type=int, default=100, help="window length in notes (notes, pod, performance)")
    parser.add_argument("--stride", type=int, default=None, help="note-window stride (default notes/2)")
    parser.add_argument("--transpose", type=int, nargs=2, default=(0, 0), metavar=("LOW", "HIGH"),
                        help="augment train with every transposition in LOW..HIGH semitones")
    parser.add_argument("--min-pitch", type=int, default=21, help="lowest melody pitch (21)")
    parser.add_argument("--max-pitch", type=int, default=108, help="highest melody pitch (108)")
    parser.add_argument("--gap-bars", type=float, default=1.0, help="silence that ends a melody, in bars")
    parser.add_argument("--trio-without-drums", action="store_true",
                        help="accept trio windows that have melody and bass but no drum track")
    parser.add_argument("--trio-voices", action="store_true",
                        help="trio from score parts instead of programs: first part = melody, "
                             "last part = bass (choirs, quartets)")
    parser.add_argument("--steps-per-quarter", type=int, default=4,
                        help="piano-roll frames per beat (pianoroll; default 4, MuseBar's paper 1)")
    parser.add_argument("--valid", type=float, default=0.1, help="share of pieces for valid")
    parser.add_argument("--test", type=float, default=0.1, help="share of pieces for test")
    parser.add_argument("--max-files", type=int, default=None, help="use only the first N files")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="parallel reader processes")
    parser.add_argument("--shard-size", type=int, default=20000, help="windows per npz shard")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if not (0 <= args.valid and 0 <= args.test and args.valid + args.test < 1):
            raise PrepareError("--valid and --test must be >= 0 and sum to less than 1")
        manifest = prepare(
            args.sources, args.out_dir, kind=args.kind, bars=args.bars,
            transpose=tuple(args.transpose), workers=max(1, args.workers), valid=args.valid,
            test=args.test, max_files=args.max_files, notes=args.notes, stride=args.stride,
            shard_size=args.shard_size, progress=not args.quiet, min_pitch=args.min_pitch,
            max_pitch=args.max_pitch, gap_bars=args.gap_bars,
            trio_require_drums=not args.trio_without_drums, trio_voices=args.trio_voices,
            steps_per_quarter=args.steps_per_quarter)
    except (PrepareError, DatasetError, CodecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted, nothing written", file=sys.stderr)
        return 130
    counts = manifest["counts"]
    print(f"{args.out_dir}: train {counts['train']}, valid {counts['valid']}, test {counts['test']} "
          f"windows from {len(manifest['files'])} pieces ({len(manifest['skipped'])} skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
