"""Build a dataset folder (manifest.json + npz shards) from music files: ``python -m training.prepare``.

    $ python -m training.prepare shared:nottingham data/mel_2bar --kind mel --bars 2
    $ python -m training.prepare shared:groove data/drums_2bar --kind drums --bars 2
    $ python -m training.prepare shared:groove data/groove_2bar --kind groove --bars 2
    $ python -m training.prepare music21:bach data/bach_notes --kind notes --notes 100
    $ python -m training.prepare my_midi_folder/ data/mine --kind mel --bars 16 --transpose -5 5
    $ python -m training.prepare my_midi_folder/ -o data/mine --fold-2-4   # 2/4, 2/2 read as 4/4
    $ python -m training.prepare my_midi_folder/ -o data/all --programs 0 127 --max-bars 0

Windows are cut as Magenta's converters cut them, with its configs' settings (docs/data.md):
melodies and drum tracks end after 100 bars (``--max-bars``), 2-bar melodies come from GM
programs 0-31 only (``--programs``), trio parts may rest 2 bars (``--gap-bars``).

The dataset folder is the last positional argument or ``-o/--out``.

SOURCE is one or more of: a folder (searched recursively for .mid/.midi, and .xml/.mxl/
.musicxml/.abc/.krn through :mod:`runtime.scores`), a single file, ``music21:NAME`` (a music21
corpus collection: bach, essenFolksong, oneills1850, ...), or ``shared:groove`` /
``shared:nottingham`` (``full`` + ``melody``) / ``shared:nottingham/full`` for the project's
shared data (``$LATENTBRIDGE_DATA`` or ``../shared/data`` beside the repository).

Splits are deterministic: Groove uses the ``split`` column of its info.csv; everything else is
split by a hash of the piece's name (file stem, so ``full/x.mid`` and ``melody/x.mid`` of the same
tune land in the same split). Windows are de-duplicated within each split, and valid/test windows
that also occur in train are dropped. Transposition (``--transpose LOW HIGH``) augments the train
split only. A file that cannot be read is listed in the manifest under ``skipped`` with its
reason, a readable piece that gives no window (3/4, too short, no drums...) under ``no_windows``
with its reason; the command prints both after the counts. Bad flag values exit 2, an unusable
source or output folder, or no window at all, exit 1 (runtime/cli.py).

The same from Python::

    >>> from training.prepare import prepare
    >>> manifest = prepare(["shared:groove"], "data/drums_2bar", kind="drums", bars=2)
    >>> manifest["counts"]
"""

from __future__ import annotations

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

from runtime.cli import Parser, fail
from runtime.codecs import REGISTRY, Codec, CodecError
from runtime.codecs.trio import BASS_PROGRAMS, MELODY_PROGRAMS, span
from runtime import scores
from runtime.midi_io import MidiError, read_midi
from runtime.music import Clip

from . import extract
from .corpus import chorale_files, score_preference
from .shards import SPLITS, DatasetError, write_dataset

#: the files a folder source reads: MIDI files and scores (runtime.scores)
READABLE = scores.MIDI_SUFFIXES + scores.SCORE_SUFFIXES


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
                   if p.is_file() and p.suffix.lower() in READABLE)
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
        paths = [path for _, path in chorale_files(music21)]
    else:
        paths = [Path(str(p)) for p in music21.corpus.getComposer(collection)
                 if Path(str(p)).suffix.lower() in READABLE]
        if not paths:
            raise PrepareError(f"music21 corpus has no collection {collection!r}")
    best: dict[str, Path] = {}
    for path in sorted(paths):
        try:
            key = str(path.resolve().relative_to(root).with_suffix(""))
        except ValueError:
            key = f"{collection}/{path.stem}"
        if key not in best or score_preference(path) < score_preference(best[key]):
            best[key] = path
    return [Task(key, str(path), split_key=key) for key, path in sorted(best.items())]


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
    gap_bars: float | None = None  # None: Magenta's (1 bar; trio 2 bars)
    trio_require_drums: bool = True
    trio_voices: bool = False
    max_combinations: int = 8
    steps_per_quarter: int = 4     # piano-roll frames per beat (MuseBar: 1, i.e. 4 per bar)
    fold_2_4: bool = False         # read 2/4 and 2/2 stretches as 4/4 (fold_duple_meters)
    max_bars: int | None = None    # None: Magenta's (100; trio 1024; groove no cap); 0: no cap
    programs: tuple | None = None  # mel: (low, high) GM programs; None: Magenta's (2 bars 0-31)

    def extraction(self) -> dict:
        """The window-extraction settings in force, Magenta's configs filling what is None:
        ``max_bars`` 100 for melodies and drums (``OneHotMelodyConverter``,
        ``DrumsConverter``), 1024 for trios (``TrioConverter``), none for grooves; ``gap_bars``
        1, trio 2; melody programs 0-31 for 2-bar windows (the ``cat-mel_2bar`` configs'
        ``valid_programs``), every program for longer ones (``mel_16bar``)."""
        trio = self.kind == "trio"
        max_bars = self.max_bars if self.max_bars is not None else (
            extract.TRIO_MAX_BARS if trio else None if self.kind == "groove" else extract.MAX_BARS)
        programs = self.programs if self.programs is not None else (
            (0, 31) if self.kind == "mel" and self.bars == 2 else None)
        return {"max_bars": max_bars or None,
                "gap_bars": self.gap_bars if self.gap_bars is not None else (
                    extract.TRIO_GAP_BARS if trio else extract.GAP_BARS),
                "programs": list(programs) if programs and self.kind == "mel" else None}


@dataclass
class Item:
    """What one piece gave: windows (bar kinds) or the clip itself (clip kinds), or a reason."""

    name: str
    windows: np.ndarray | None = None
    clip: Clip | None = None
    error: str | None = None
    no_windows: str | None = None   # why a readable piece gave no window
    stats: dict = field(default_factory=dict)


def load_pieces(path: str, name: str) -> list[tuple[str, Clip]]:
    """Read a file into (name, clip) pairs; multi-tune ABC books give one pair per tune."""
    suffix = Path(path).suffix.lower()
    if suffix in scores.MIDI_SUFFIXES:
        return [(name, read_midi(path))]
    if suffix == ".abc":
        tunes = scores.load_abc_tunes(path)
        if not tunes:
            raise scores.ScoreError(f"{path}: no tune in this ABC file")
        if len(tunes) == 1 and not isinstance(tunes[0][1], Exception):
            return [(name, tunes[0][1])]
        return [(f"{name}#{tune_name.rsplit('#', 1)[-1]}", tune) for tune_name, tune in tunes]
    return [(name, scores.load_file(path))]


def codec_for(options: Options, clips=()) -> Codec:
    """The codec of ``options.kind``, built from the flags (and the train ``clips`` where the
    codec's vocabulary comes from the data): ``Codec.for_dataset``. A groove dataset's tokens
    serve every input transform (humanize, tap)."""
    return codec_classes()[options.kind].for_dataset(clips, options.min_pitch, options.max_pitch,
                                                     options.steps_per_quarter)


def codec_classes() -> dict[str, type[Codec]]:
    """The codec each ``--kind`` builds: every registered codec names its kind
    (``Codec.prepare_kind``), so a new codec module is a new kind."""
    return {cls.prepare_kind: cls for cls in REGISTRY.values() if cls.prepare_kind}


def kinds() -> tuple[str, ...]:
    """The ``--kind`` values: those with Magenta's converters first, then every other codec's."""
    return tuple(EXTRACTORS) + tuple(kind for kind in codec_classes() if kind not in EXTRACTORS)


# -- Magenta's converters (training.extract), one per kind that has one --------------------------
def _melodies(clip: Clip, codec, options: Options, rules: dict, stats: dict) -> np.ndarray:
    low, high = rules["programs"] or (0, 127)
    return extract.melody_windows(clip, options.bars, codec, rules["gap_bars"], stats,
                                  rules["max_bars"],
                                  range(low, high + 1) if rules["programs"] else None)


def _drum_tracks(clip: Clip, codec, options: Options, rules: dict, stats: dict) -> np.ndarray:
    return extract.drum_windows(clip, options.bars, codec, rules["gap_bars"], stats,
                                rules["max_bars"])


def _grooves(clip: Clip, codec, options: Options, rules: dict, stats: dict) -> np.ndarray:
    return extract.groove_windows(clip, options.bars, codec, rules["gap_bars"], stats,
                                  rules["max_bars"])


def _trios(clip: Clip, codec, options: Options, rules: dict, stats: dict) -> np.ndarray:
    return extract.trio_windows(clip, options.bars, codec, rules["gap_bars"],
                                options.trio_require_drums, options.max_combinations, stats,
                                rules["max_bars"])


#: the kinds whose windows Magenta's converters cut, piece by piece in the reader processes;
#: any other kind's codec reads whole pieces (:func:`_whole_piece_windows`)
EXTRACTORS = {"mel": _melodies, "drums": _drum_tracks, "trio": _trios, "groove": _grooves}


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
        item, original = Item(name), clip
        if options.fold_2_4:
            clip = fold_duple_meters(clip)
        try:
            if options.kind not in EXTRACTORS:
                item.clip = clip
            else:
                if options.kind == "trio" and options.trio_voices:
                    clip = extract.voices_as_trio(clip)
                item.windows = EXTRACTORS[options.kind](clip, codec_for(options), options,
                                                        options.extraction(), item.stats)
        except Exception as exc:  # noqa: BLE001
            item = Item(name, error=_one_line(exc, task.path))
        if item.windows is not None and not len(item.windows):
            item.no_windows = no_window_reason(clip, options, item.stats, original)
        items.append(item)
    return items


def fold_duple_meters(clip: Clip) -> Clip:
    """``clip`` with its 2/4 and 2/2 stretches marked 4/4 (``--fold-2-4``): two 2/4 bars make
    one 4/4 bar, counted from the stretch's first bar line (a stretch of an odd number of bars
    ends in half a bar); 2/2 already has the 4/4 bar's four quarter notes. Other meters stay."""
    def fold(num, den):
        return (4, 4) if (num, den) in ((2, 4), (2, 2)) else (num, den)

    return clip.copy(time_signature=fold(*clip.time_signature),
                     meter_changes=[(beat, *fold(num, den)) for beat, num, den in clip.meter_changes])


def _meters(clip: Clip) -> list[tuple[int, int]]:
    return sorted({(num, den) for _, num, den in clip.meter_changes} or {clip.time_signature})


def no_window_reason(clip: Clip, options: Options, stats: dict, original: Clip | None = None) -> str:
    """One line: why a readable piece gave no window of ``options.bars`` 4/4 bars (``clip`` as
    the windows were cut from it, ``original`` before ``--fold-2-4``)."""
    meters = _meters(original or clip)
    names = ", ".join(f"{num}/{den}" for num, den in meters)
    if not clip.notes:
        return "no notes"
    sections = extract.four_four_sections(clip)
    if not sections:
        if (4, 4) in _meters(clip):
            return f"its 4/4 stretches are shorter than a bar (meter {names})"
        hint = ("; --fold-2-4 reads 2/4 and 2/2 as 4/4" if not options.fold_2_4 and
                any(m in ((2, 4), (2, 2)) for m in meters) else "")
        return f"no 4/4 bars (meter {names}){hint}"
    longest = max(s.length for s in sections) / 4
    if longest < options.bars:
        return (f"its 4/4 stretches are shorter than {options.bars} bars (longest {longest:g}; "
                f"meter {names})")
    drums = [n for n in clip.notes if n.is_drum or clip.is_drum]
    gap = options.extraction()["gap_bars"]
    if options.kind in ("drums", "groove"):
        if not drums:
            return "no drum notes (MIDI channel 10)"
        return f"no {options.bars} bars of drums without {gap:g} silent bar(s)"
    if len(drums) == len(clip.notes):
        return "drum notes only"
    pitched = [n for n in clip.notes if not (n.is_drum or clip.is_drum)]
    programs = options.extraction()["programs"]
    if programs and not any(programs[0] <= n.program <= programs[1] for n in pitched):
        return (f"no melody instrument (GM programs {programs[0]}-{programs[1]}; "
                "--programs 0 127 reads every instrument)")
    if stats.get("notes_out_of_range") and not any(
            options.min_pitch <= n.pitch <= options.max_pitch for n in pitched):
        return (f"its notes lie outside the pitch range {options.min_pitch}..{options.max_pitch} "
                "(--min-pitch, --max-pitch)")
    if options.kind == "trio":
        drum_part = "" if not options.trio_require_drums else " and drums"
        return (f"no {options.bars} bars where a melody (programs {span(MELODY_PROGRAMS)}), "
                f"a bass ({span(BASS_PROGRAMS)})"
                f"{drum_part} all play, each silent for at most {gap:g} bar(s) "
                "(--gap-bars, --trio-voices, --trio-without-drums)")
    return (f"no melody of {options.bars} bars without a rest of {gap:g} bar(s) "
            "or more (--gap-bars)")


def _one_line(exc: BaseException, path: str) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if text.startswith(f"{path}: "):   # the manifest names the file already
        return text[len(path) + 2:]
    if isinstance(exc, (MidiError, CodecError)) or path in text:
        return text
    return f"{type(exc).__name__}: {text}"


# -- the whole run -------------------------------------------------------------------------------
def prepare(sources, out_dir, kind: str = "mel", bars: int = 2, transpose=(0, 0),
            workers: int = 1, valid: float = 0.1, test: float = 0.1, max_files: int | None = None,
            notes: int = 100, stride: int | None = None, shard_size: int = 20000,
            progress: bool = True, **option_fields) -> dict:
    """Build the dataset folder ``out_dir``; returns the manifest that was written."""
    options = _options(kind, bars, transpose, option_fields)
    tasks = _tasks(sources, max_files)
    found = _collect(_read(tasks, options, workers, progress), valid, test)
    codec, per_split, window, shape = _windows(found, options, notes, stride or notes // 2)

    # Augment train only; the codec's pitched parts move, drums stay.
    low, high = transpose
    augment = [s for s in range(low, high + 1) if s != 0] if codec.pitched_parts else []
    per_split["train"] = _augment(per_split["train"], augment, codec)

    splits, dedup = _dedupe_splits(per_split, shape)
    found.stats.update(dedup)
    if not any(len(tokens) for tokens, _ in splits.values()):
        why = Counter(e["reason"] for e in found.no_windows + found.skipped).most_common(3)
        raise PrepareError(f"no window from any of the {len(found.files) + len(found.skipped)} "
                           "pieces (" + "; ".join(f"{count}: {reason}" for reason, count in why)
                           + "); nothing written")
    manifest = {"kind": kind, "sources": list(map(str, sources)), "window": window}
    if kind in EXTRACTORS:
        manifest["extraction"] = options.extraction()
    manifest.update({
        "codec": codec.config(),
        "token_shape": list(shape),
        "files": found.files,
        "skipped": found.skipped,
        "no_windows": found.no_windows,
        "augment": {"transpose": augment, "splits": ["train"] if augment else []},
        "split_rule": ("groove info.csv split column, else " if any(t.split for t in tasks) else "")
                      + f"sha1(name) buckets: valid {valid:g}, test {test:g}",
        "stats": dict(sorted(found.stats.items())),
    })
    return write_dataset(out_dir, splits, manifest, shard_size)


def _options(kind: str, bars: int, transpose, option_fields: dict) -> Options:
    """The run's options, checked: a bad value is a one-line PrepareError."""
    if kind not in kinds():
        raise PrepareError(f"unknown kind {kind!r} (known: {', '.join(kinds())})")
    if bars < 1:
        raise PrepareError("--bars must be at least 1")
    if not 1 <= option_fields.get("steps_per_quarter", 4) <= 96:
        raise PrepareError("--steps-per-quarter must be in 1..96")
    low, high = transpose
    if low > high:
        raise PrepareError(f"--transpose {low} {high}: LOW must not exceed HIGH")
    return Options(kind=kind, bars=bars, **option_fields)


def _tasks(sources, max_files: int | None) -> list[Task]:
    tasks = [t for source in sources for t in source_tasks(source)]
    if max_files is not None:
        tasks = tasks[:max_files]
    if not tasks:
        raise PrepareError(f"no music files found in {', '.join(map(str, sources))}")
    return tasks


def _read(tasks: list[Task], options: Options, workers: int,
          progress: bool) -> list[tuple[Task, Item]]:
    """Every file read (and windowed, for the kinds with a converter), ``workers`` at a time."""
    items: list[tuple[Task, Item]] = []
    jobs = [(t, options) for t in tasks]
    bar = tqdm(total=len(jobs), desc=f"prepare {options.kind}", unit="file", disable=not progress)
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
    return items


@dataclass
class Found:
    """What the pieces gave, split by split: windows (kinds with a converter) or whole clips,
    each with the index of its file in ``files``, and what was skipped or gave nothing."""

    files: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    no_windows: list = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)
    windows: dict = field(default_factory=lambda: {s: [] for s in SPLITS})
    clips: dict = field(default_factory=lambda: {s: [] for s in SPLITS})


def _collect(items: list[tuple[Task, Item]], valid: float, test: float) -> Found:
    found = Found()
    for task, item in items:
        if item.error:
            found.skipped.append({"file": item.name, "reason": item.error})
            continue
        found.stats.update(item.stats)
        if item.no_windows:
            found.no_windows.append({"file": item.name, "reason": item.no_windows})
        index = len(found.files)
        found.files.append(item.name)
        # A tune of a multi-tune ABC book goes by its own name, a file by its stem.
        key = task.split_key or task.name if item.name == task.name else item.name
        split = task.split or hash_split(key, valid, test)
        if item.clip is not None:
            found.clips[split].append((item.clip, index))
        elif item.windows is not None:
            found.windows[split] += [(w, index) for w in item.windows]
    return found


def _windows(found: Found, options: Options, notes: int, stride: int):
    """-> (codec, windows per split, the manifest's ``window``, the shape of one window)."""
    if options.kind in EXTRACTORS:
        codec = codec_for(options)
        return (codec, found.windows, _bar_window(options.bars, extract.STEPS_PER_BAR),
                (options.bars * extract.STEPS_PER_BAR,) + codec.step_shape)
    return _whole_piece_windows(found, options, notes, stride)


def _bar_window(bars: int, steps_per_bar: int) -> dict:
    return {"bars": bars, "steps_per_bar": steps_per_bar, "stride": 1, "stride_unit": "bars"}


def _augment(windows, shifts, codec):
    """The windows plus each one transposed by each of ``shifts`` where it stays in range."""
    if not windows or not shifts:
        return windows
    tokens = np.stack([w for w, _ in windows])
    sources = np.array([s for _, s in windows])
    out = list(windows)
    for shift in shifts:
        moved, keep = codec.transpose(tokens, shift)
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


def _whole_piece_windows(found: Found, options: Options, notes: int, stride: int):
    """Codecs of whole pieces: the codec built (its vocabulary from the train pieces where it
    has one: note events, pod), then fixed-length windows: ``notes`` notes or events every
    ``stride`` (``segments``), or for a grid codec (``window_unit`` "bars": the piano roll)
    ``bars`` 4/4 bars every bar. -> as :func:`_windows`."""
    from runtime.codecs.note_events import segments

    train = [clip for clip, _ in found.clips["train"]]
    if codec_classes()[options.kind].built_from_data and not train:
        raise PrepareError(f"no readable train piece to build the {options.kind} vocabulary from")
    codec = codec_for(options, train)
    grid = codec.window_unit == "bars"
    steps_per_bar = 4 * codec.steps_per_quarter if grid else 0
    steps = options.bars * steps_per_bar
    per_split = {s: [] for s in SPLITS}
    for split, pieces in found.clips.items():
        for clip, index in pieces:
            try:
                if grid:
                    windows = [w for section in extract.four_four_sections(clip, codec.steps_per_quarter)
                               for w in extract.slide(codec.encode(section), steps, steps_per_bar)
                               if w.any()]
                else:
                    encoded = codec.encode(clip)
                    windows = list(segments(encoded, notes, stride))
            except CodecError as exc:
                found.skipped.append({"file": found.files[index],
                                      "reason": " ".join(str(exc).split())})
                continue
            if not windows:
                found.no_windows.append({"file": found.files[index], "reason": (
                    no_window_reason(clip, options, {}) if grid else
                    f"{len(encoded)} {codec.window_unit}, fewer than a window of {notes} "
                    "(--notes)")})
            per_split[split] += [(w, index) for w in windows]
    if grid:
        return codec, per_split, _bar_window(options.bars, steps_per_bar), (steps,) + codec.step_shape
    window = {"notes": notes, "stride": stride, "stride_unit": codec.window_unit}
    return codec, per_split, window, (notes,) + codec.step_shape


# -- command line --------------------------------------------------------------------------------
def build_parser() -> Parser:
    parser = Parser(
        prog="python -m training.prepare",
        description="Build a dataset folder (manifest.json + npz shards) from music files. "
                    "Pieces that give no window are listed with the reason.",
        examples=["python -m training.prepare shared:nottingham -o data/mel_2bar --kind mel --bars 2",
                  "python -m training.prepare shared:groove -o data/drums_2bar --kind drums --bars 2",
                  "python -m training.prepare shared:groove -o data/groove_2bar --kind groove --bars 2",
                  "python -m training.prepare my_midi/ -o data/mine --kind mel --bars 2 --fold-2-4",
                  "python -m training.prepare music21:bach -o data/bach_notes --kind notes --notes 100",
                  "python -m training.prepare my_midi/ data/mine   (without -o: the last path is "
                  "OUT_DIR)"])
    parser.add_argument("paths", nargs="+", metavar="SOURCE",
                        help="folder, file, music21:NAME, shared:groove or shared:nottingham "
                             "(several allowed); without -o the last one is OUT_DIR")
    parser.add_argument("-o", "--out", metavar="OUT_DIR", help="dataset folder to write")
    parser.add_argument("--kind", choices=kinds(), default="mel", help="representation (codec)")
    parser.add_argument("--bars", type=int, default=2,
                        help="window length in 4/4 bars (mel, drums, trio, groove)")
    parser.add_argument("--fold-2-4", action="store_true",
                        help="read 2/4 stretches as 4/4 (two 2/4 bars make one window bar) and "
                             "2/2 as 4/4 (bar kinds and pianoroll; default: 4/4 only)")
    parser.add_argument("--notes", type=int, default=100, help="window length in notes (notes, pod, performance)")
    parser.add_argument("--stride", type=int, default=None, help="note-window stride (default notes/2)")
    parser.add_argument("--transpose", type=int, nargs=2, default=(0, 0), metavar=("LOW", "HIGH"),
                        help="augment train with every transposition in LOW..HIGH semitones")
    parser.add_argument("--min-pitch", type=int, default=21, help="lowest melody pitch")
    parser.add_argument("--max-pitch", type=int, default=108, help="highest melody pitch")
    parser.add_argument("--gap-bars", type=float, default=None,
                        help="silence that ends a melody or drum track, in bars (default 1); trio: "
                             "bars a part may rest at a window's edge (default 2, Magenta's)")
    parser.add_argument("--max-bars", type=int, default=None,
                        help="cut each melody or drum track after N bars before windowing, as "
                             "Magenta's configs (default 100; trio: the piece, 1024; 0: no cap)")
    parser.add_argument("--programs", type=int, nargs=2, default=None, metavar=("LOW", "HIGH"),
                        help="mel: read only instruments with these GM programs (default: 0 31 "
                             "for --bars 2, as Magenta's 2-bar configs; every program otherwise)")
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


#: pieces listed per reason group in the report; the manifest lists all
REPORT_LINES = 20


def _check_args(parser: Parser, args) -> None:
    """Flag values that cannot work: a usage error (exit 2) before anything is read."""
    if not (0 <= args.valid and 0 <= args.test and args.valid + args.test < 1):
        parser.error("--valid and --test must be >= 0 and sum to less than 1")
    if not 1 <= args.steps_per_quarter <= 96:
        parser.error("--steps-per-quarter must be in 1..96")
    if args.transpose[0] > args.transpose[1]:
        parser.error(f"--transpose {args.transpose[0]} {args.transpose[1]}: LOW must not exceed HIGH")
    if args.min_pitch > args.max_pitch or not 0 <= args.min_pitch <= 127 \
            or not 0 <= args.max_pitch <= 127:
        parser.error("--min-pitch and --max-pitch must be in 0..127, lowest first")
    for flag, value in (("--bars", args.bars), ("--notes", args.notes), ("--stride", args.stride),
                        ("--max-files", args.max_files), ("--workers", args.workers),
                        ("--shard-size", args.shard_size)):
        if value is not None and value < 1:
            parser.error(f"{flag} must be at least 1")
    if args.gap_bars is not None and not args.gap_bars > 0:
        parser.error("--gap-bars must be more than 0")
    if args.kind == "trio" and args.gap_bars is not None and args.gap_bars != int(args.gap_bars):
        parser.error("--gap-bars must be a whole number of bars for --kind trio")
    if args.max_bars is not None and args.max_bars < 0:
        parser.error("--max-bars must be 0 (no cap) or more")
    if args.programs is not None and not 0 <= args.programs[0] <= args.programs[1] <= 127:
        parser.error("--programs LOW HIGH must be in 0..127, lowest first")


def report(out_dir, manifest: dict) -> str:
    """The lines printed after a build: counts, then each piece that gave nothing and why."""
    counts = manifest["counts"]
    skipped, empty = manifest["skipped"], manifest.get("no_windows", [])
    lines = [f"{out_dir}: train {counts['train']}, valid {counts['valid']}, test {counts['test']} "
             f"windows from {len(manifest['files'])} pieces ({len(skipped)} skipped, "
             f"{len(empty)} gave no window)"]
    for title, entries in (("skipped (unreadable)", skipped), ("no window", empty)):
        if entries:
            lines.append(f"{title}:")
            lines += [f"  {e['file']}: {e['reason']}" for e in entries[:REPORT_LINES]]
        if len(entries) > REPORT_LINES:
            key = "skipped" if entries is skipped else "no_windows"
            lines.append(f"  ... and {len(entries) - REPORT_LINES} more "
                         f"({Path(out_dir) / 'manifest.json'}: {key})")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out is None and len(args.paths) < 2:
        parser.error("give SOURCE ... and the dataset folder: SOURCE -o OUT_DIR")
    sources, out_dir = (args.paths, args.out) if args.out else (args.paths[:-1], args.paths[-1])
    _check_args(parser, args)
    try:
        manifest = prepare(
            sources, out_dir, kind=args.kind, bars=args.bars,
            transpose=tuple(args.transpose), workers=args.workers, valid=args.valid,
            test=args.test, max_files=args.max_files, notes=args.notes, stride=args.stride,
            shard_size=args.shard_size, progress=not args.quiet, min_pitch=args.min_pitch,
            max_pitch=args.max_pitch, gap_bars=args.gap_bars,
            trio_require_drums=not args.trio_without_drums, trio_voices=args.trio_voices,
            steps_per_quarter=args.steps_per_quarter, fold_2_4=args.fold_2_4,
            max_bars=args.max_bars, programs=tuple(args.programs) if args.programs else None)
    except (PrepareError, DatasetError, CodecError) as exc:
        return fail(exc)
    except OSError as exc:
        return fail(f"{exc.filename or out_dir}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        print("error: interrupted, nothing written", file=sys.stderr)
        return 130
    try:
        print(report(out_dir, manifest))
    except BrokenPipeError:   # `| head`: the dataset is written, the reader left
        sys.stdout = open(os.devnull, "w")
    return 0


if __name__ == "__main__":
    sys.exit(main())
