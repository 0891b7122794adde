"""Offline rendering from the command line: sample, interpolate, reconstruct and vary, .mid in/out.

    $ python -m runtime.render sample                         # default model -> ./latentbridge-out/
    $ python -m runtime.render sample --model drums_2bar -n 4 --temperature 0.8 --seed 7
    $ python -m runtime.render sample --model mel_2bar --bars 8 -o long.mid   # 4 generations joined
    $ python -m runtime.render interpolate a.mid b.mid --steps 7 -o path/
    $ python -m runtime.render reconstruct tune.mid -o tune_again.mid
    $ python -m runtime.render vary tune.mid -n 5 --amount 0.3
    $ python -m runtime.render interpolate                    # no files: between two prior samples

``--model`` takes a shipped name (mel_2bar, drums_2bar, mel_16bar, trio_16bar, notes_poly) or a
bundle folder. ``--bars`` longer than the model's own length concatenates several generations
(inputs are cut into model-length pieces, each piece handled on its own). ``-o`` is a .mid file
(several results get ``_01``, ``_02``... suffixes) or a folder. Every path written is printed.
Without input files, interpolate, reconstruct and vary start from clips sampled from the prior
(with ``--seed``, the same ones each time), so every command runs with no argument at all.
Bad input (missing or corrupt .mid, bad flag, broken bundle) prints one line on stderr and exits
with status 2; nothing is half-written (results are computed first, each file lands atomically).

From Python, :func:`main` takes the argument list: ``main(["sample", "-n", "2"])`` -> exit code.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from .midi_io import MidiError, read_midi, write_midi
from .music import Clip

DEFAULT_OUT = "latentbridge-out"
COMMANDS = ("sample", "interpolate", "reconstruct", "vary")


class RenderError(Exception):
    """One line for the user; exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits with 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m runtime.render",
                     description="Render MIDI files with a latentbridge model bundle (no torch needed).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def common(p):
        p.add_argument("--model", default=None,
                       help="shipped model name or bundle folder (default: mel_2bar, embedded)")
        p.add_argument("--temperature", type=float, default=None,
                       help="sampling temperature, 0 = argmax (default 1.0 for sample, 0.5 otherwise)")
        p.add_argument("--seed", type=int, default=None, help="random seed for repeatable output")
        p.add_argument("--bars", type=int, default=None,
                       help="bars per output file; more than the model's length concatenates generations")
        p.add_argument("--tempo", type=float, default=None,
                       help="tempo of the written files in BPM (default: the input's, else 120)")
        p.add_argument("-o", "--out", default=None,
                       help=f"output .mid file or folder (default: ./{DEFAULT_OUT}/)")

    p = sub.add_parser("sample", help="new clips from the prior", description="Sample new clips from the prior.")
    p.add_argument("-n", "--num", type=int, default=1, help="number of files (default 1)")
    common(p)
    p = sub.add_parser("interpolate", help="slerp path between two clips",
                       description="Interpolate between two MIDI files along the latent slerp path (ends included).")
    p.add_argument("start", nargs="?", help="first .mid file (neither: two samples from the prior)")
    p.add_argument("end", nargs="?", help="second .mid file")
    p.add_argument("--steps", type=int, default=5, help="clips on the path, ends included (default 5)")
    p.add_argument("--join", action="store_true", help="write the whole path one after another into one file")
    common(p)
    p = sub.add_parser("reconstruct", help="encode and decode a clip",
                       description="Encode a MIDI file to its latent code and decode it again.")
    p.add_argument("input", nargs="?", help=".mid file (default: a sample from the prior)")
    common(p)
    p = sub.add_parser("vary", help="variations around a clip",
                       description="Variations of a MIDI file: its code moved towards random codes.")
    p.add_argument("input", nargs="?", help=".mid file (default: a sample from the prior)")
    p.add_argument("-n", "--num", type=int, default=3, help="number of variations (default 3)")
    p.add_argument("--amount", type=float, default=0.3,
                   help="0 = the clip itself, 1 = unrelated samples (default 0.3)")
    common(p)
    return parser


def _check_args(args) -> None:
    if args.temperature is not None and not (args.temperature >= 0 and math.isfinite(args.temperature)):
        raise RenderError(f"--temperature must be a number >= 0, got {args.temperature}")
    if args.bars is not None and args.bars < 1:
        raise RenderError(f"--bars must be at least 1, got {args.bars}")
    if args.tempo is not None and not 1 <= args.tempo <= 999:
        raise RenderError(f"--tempo must be in 1..999 BPM, got {args.tempo}")
    if getattr(args, "num", 1) < 1:
        raise RenderError(f"-n must be at least 1, got {args.num}")
    if getattr(args, "steps", 2) < 2:
        raise RenderError(f"--steps must be at least 2, got {args.steps}")
    if not 0 <= getattr(args, "amount", 0) <= 1:
        raise RenderError(f"--amount must be in 0..1, got {args.amount}")
    if args.command == "interpolate" and (args.start is None) != (args.end is None):
        raise RenderError("interpolate takes two .mid files (or none: two samples from the prior)")


def _read(path: str) -> Clip:
    if not os.path.isfile(path):
        raise RenderError(f"{path}: no such file")
    try:
        return read_midi(path)
    except MidiError as exc:
        raise RenderError(str(exc)) from None


def _inputs(args, engine, paths: list, chunks: int) -> list[Clip]:
    """The input clips: read from ``paths``, or (no paths given) sampled from the prior, each
    ``chunks`` model lengths long; the note on stderr says which."""
    if paths[0] is not None:
        return [_read(path) for path in paths]
    seed = None if args.seed is None else args.seed + 104729
    clips = engine.sample(n=len(paths) * chunks, temperature=1.0, seed=seed)
    print(f"no input file: starting from {len(paths)} sample(s) of {engine.name} from the prior",
          file=sys.stderr)
    return [Clip.concat(clips[i * chunks:(i + 1) * chunks]) for i in range(len(paths))]


def _pieces(clip: Clip, engine, chunks: int) -> list[Clip]:
    """The clip cut into ``chunks`` model-length pieces (past its end: empty pieces)."""
    beats = engine.length_beats
    return [clip.slice(i * beats, (i + 1) * beats) for i in range(chunks)]


def _seed(seed, i):
    return None if seed is None else seed + 7919 * i


def render(args) -> list[tuple[str, Clip]]:
    """Compute every output clip (nothing is written here): [(file stem, clip)]."""
    from .engine import Engine

    engine = Engine.load(args.model)
    chunks = max(1, math.ceil((args.bars or engine.bars) / engine.bars))
    total_beats = (args.bars or engine.bars) * engine.length_beats / engine.bars
    temperature = args.temperature if args.temperature is not None else (
        1.0 if args.command == "sample" else 0.5)
    stem = f"{engine.name}_{args.command}"
    results = []

    def warn(what: str) -> None:
        # the engine's quality guard already resampled what it could; say what is left
        for line in engine.warnings:
            print(f"warning: {engine.name} {what}: {line}", file=sys.stderr)

    if args.command == "sample":
        clips = engine.sample(n=args.num * chunks, temperature=temperature, seed=args.seed)
        warn("sample")
        for i in range(args.num):
            results.append((f"{stem}_{i + 1:02d}", Clip.concat(clips[i * chunks:(i + 1) * chunks])))
    elif args.command == "interpolate":
        a, b = _inputs(args, engine, [args.start, args.end], chunks)
        args.input_tempo = a.tempo
        paths = []
        for i, (pa, pb) in enumerate(zip(_pieces(a, engine, chunks), _pieces(b, engine, chunks))):
            paths.append(engine.interpolate(pa, pb, n=args.steps, temperature=temperature,
                                            seed=_seed(args.seed, i)))
            warn(f"interpolation (bars {i * engine.bars + 1}-{(i + 1) * engine.bars})")
        steps = [Clip.concat(path[k] for path in paths) for k in range(args.steps)]
        if args.join:
            results.append((f"{stem}_{args.steps}steps", Clip.concat(steps)))
            total_beats *= args.steps
        else:
            results += [(f"{stem}_{k + 1:02d}", clip) for k, clip in enumerate(steps)]
    elif args.command == "reconstruct":
        clip, = _inputs(args, engine, [args.input], chunks)
        args.input_tempo = clip.tempo
        z = engine.encode(_pieces(clip, engine, chunks))
        pieces = engine.decode(z, temperature=temperature, seed=args.seed)
        for line in engine.warnings:  # clip k = the k-th piece of engine.bars bars
            k = int(line.split(":")[0].split()[-1])
            print(f"warning: {engine.name} reconstruction of bars {(k - 1) * engine.bars + 1}-"
                  f"{k * engine.bars}: {line.split(': ', 1)[1]} (the model cannot hold these notes; "
                  "try another model or a higher --temperature)", file=sys.stderr)
        results.append((stem, Clip.concat(pieces)))
    else:  # vary
        clip, = _inputs(args, engine, [args.input], chunks)
        args.input_tempo = clip.tempo
        per_piece = []
        for i, p in enumerate(_pieces(clip, engine, chunks)):
            per_piece.append(engine.vary(p, n=args.num, amount=args.amount,
                                         temperature=temperature, seed=_seed(args.seed, i)))
            warn(f"variation (bars {i * engine.bars + 1}-{(i + 1) * engine.bars})")
        results += [(f"{stem}_{k + 1:02d}", Clip.concat(v[k] for v in per_piece)) for k in range(args.num)]
    tempo = args.tempo or getattr(args, "input_tempo", None) or 120.0
    return [(name, clip.slice(0.0, total_beats).copy(tempo=tempo)) for name, clip in results]


def output_paths(out: str | None, stems: list[str]) -> list[Path]:
    """Where each result goes: into a folder, or a .mid name (numbered when several)."""
    target = Path(out or DEFAULT_OUT)
    if target.suffix.lower() in (".mid", ".midi"):
        if len(stems) == 1:
            return [target]
        return [target.with_name(f"{target.stem}_{i + 1:02d}{target.suffix}") for i in range(len(stems))]
    if target.exists() and not target.is_dir():
        raise RenderError(f"{target}: exists and is not a folder (use a .mid name for a file)")
    return [target / f"{stem}.mid" for stem in stems]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .engine import EngineError

    try:
        _check_args(args)
        results = render(args)
        paths = output_paths(args.out, [name for name, _ in results])
        items = list(zip(paths, results))
        if len(items) > 3:
            from tqdm import tqdm

            items = tqdm(items, desc="writing", unit="file", file=sys.stderr)
        for path, (_, clip) in items:
            write_midi(clip, path)
            print(path)
    except (RenderError, EngineError, MidiError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
