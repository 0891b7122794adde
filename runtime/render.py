"""Offline rendering from the command line: sample, interpolate, reconstruct, vary, continue,
groove and drumify, .mid in/out (and WAV and piano-roll PNG beside them); ``show`` any file.

    $ python -m runtime.render sample                         # default model -> ./latentbridge-out/
    $ python -m runtime.render sample --model drums_2bar -n 4 --temperature 0.8 --seed 7
    $ python -m runtime.render sample --model mel_2bar --bars 8 -o long.mid   # 4 generations joined
    $ python -m runtime.render interpolate a.mid b.mid --steps 7 -o path/
    $ python -m runtime.render reconstruct tune.mid -o tune_again.mid --wav --png
    $ python -m runtime.render vary quartet.mid --track 2 -n 5 --amount 0.3
    $ python -m runtime.render vary chorale.mxl --track 1     # scores through music21 (train extra)
    $ python -m runtime.render interpolate                    # no files: between two prior samples
    $ python -m runtime.render continue tune.mid --bars 4     # the tune, then 4 new bars
    $ python -m runtime.render groove beat.mid                # groove_2bar: velocities + timing
    $ python -m runtime.render drumify bassline.mid --seed 3  # drumify_2bar: drums for a rhythm
    $ python -m runtime.render show song.mid                  # song.wav + song.png beside it

``--model`` takes a shipped name (mel_2bar, drums_2bar, mel_16bar, trio_16bar, notes_poly,
hier_mel_16bar, hier_trio_16bar) or a bundle folder (groove and drumify default to groove_2bar and drumify_2bar; docs/groove.md).
``--bars`` longer than the model's own length concatenates several generations (inputs are
cut into model-length pieces, each piece handled on its own); for continue it is the number of
bars added after the input, and groove and drumify write the input's length (in whole bars)
unless ``--bars`` says otherwise. ``-o`` is a .mid file (several results get ``_01``,
``_02``... suffixes) or a folder. Every path written is printed. Without input files,
interpolate, reconstruct, vary, continue, groove and drumify start from clips sampled from the
prior (with ``--seed``, the same ones each time), so every command runs with no argument at all.

Files are whole bars long, their track name says model, command and seed (a seed is drawn when
none is given, so every file can be made again), and reconstruct/vary/interpolate give each note
the velocity of the input note it came from. ``--wav`` renders audio with FluidSynth and a General
MIDI SoundFont (:mod:`runtime.audio`), ``--png`` draws a piano roll (:mod:`runtime.pianoroll`).

Exit status (runtime/cli.py): 2 for a usage error (a bad flag or value: one
``python -m runtime.render: error: ... (see --help)`` line), 1 for a failure (a missing or
unreadable input, a broken bundle, an input the model can read nothing of, no synthesizer for
``--wav``: one ``error: ...`` line). Nothing is half-written: results are computed and the synth is
found before anything is written, and each file lands atomically.

From Python, :func:`main` takes the argument list: ``main(["sample", "-n", "2"])`` -> exit code.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

import numpy as np

from .cli import USAGE, Parser, fail
from .defaults import default
from .dynamics import carry_between, carry_velocities
from .inputs import InputError, read_clip
from .midi_io import MidiError, write_midi
from .music import Clip

DEFAULT_OUT = "latentbridge-out"
PROG = "python -m runtime.render"
#: the model a command loads without --model (the others: the embedded default, mel_2bar)
DEFAULT_MODELS = {"groove": "groove_2bar", "drumify": "drumify_2bar"}
#: the generating commands: name -> (one-line help, description, examples after the name).
#: A new command adds a row here, its own arguments in build_parser, and a branch in render().
GENERATORS = {
    "sample": ("new clips from the prior", "Sample new clips from the prior.",
               ["", "--model drums_2bar -n 4 --bars 8 --seed 7 -o grooves/",
                "--temperature 0.8 --wav --png"]),
    "interpolate": ("slerp path between two clips",
                    "Interpolate between two files along the latent slerp path (ends included).",
                    ["a.mid b.mid --steps 7 --join -o morph.mid", "a.mid b.mid --wav"]),
    "reconstruct": ("encode and decode a clip",
                    "Encode a file to its latent code and decode it again.",
                    ["tune.mid --temperature 0 -o heard.mid",
                     "quartet.mid --track 2 --model mel_16bar --bars 16 --png"]),
    "vary": ("variations around a clip",
             "Variations of a file: its code moved towards random codes.",
             ["bass.mid -n 5 --amount 0.2 --seed 1", "chorale.mxl --track 1 --wav"]),
    "continue": ("extend a clip by --bars bars (default 2)",
                 "The file, kept as it is, followed by --bars new bars in its style "
                 "(melody, drums or trio model, 2 or 16 bars; notes_poly in the file's meter).",
                 ["tune.mid --bars 4", "beat.mid --model drums_2bar --wav",
                  "waltz.mid --bars 8 --model notes_poly"]),
    "groove": ("humanize drums: velocities and timing",
               "The drum hits of a file played with velocities and microtiming (a groove model "
               "with the humanize input; default groove_2bar).",
               ["beat.mid", "beat.mid --bars 4 --wav --png"]),
    "drumify": ("drums for the rhythm of any clip",
                "A drum groove for the rhythm of a file of any instrument (a groove model with "
                "the tap input; default drumify_2bar).",
                ["bassline.mid --seed 3", "riff.mid --channel 2 --wav"]),
}
COMMANDS = tuple(GENERATORS) + ("show",)
INPUT_HELP = (".mid file, or a score (.xml .mxl .musicxml .abc .krn; needs the train extra) "
              "(default: a sample from the prior)")


class RenderError(Exception):
    """One line for the user; exit status 1 (a failure, not a usage error)."""


class UsageError(Exception):
    """A bad value for a flag; exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description="Render MIDI files with a latentbridge model bundle "
                    "(no torch needed); hear and see them as WAV and PNG.",
                    examples=[f"{PROG} sample", f"{PROG} vary tune.mid -n 5 --wav --png",
                              f"{PROG} show song.mid", f"{PROG} COMMAND --help"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    def command(name):
        what, text, examples = GENERATORS[name]
        return sub.add_parser(name, help=what, description=text,
                              examples=[f"{PROG} {name} {e}".rstrip() for e in examples])

    p = command("sample")
    p.add_argument("-n", "--num", type=int, default=1, help="number of files")
    common(p, "sample")
    p = command("interpolate")
    p.add_argument("start", nargs="?", help="first file (neither: two samples from the prior)")
    p.add_argument("end", nargs="?", help="second file")
    p.add_argument("--steps", type=int, default=default("interpolate", "steps"),
                   help="clips on the path, ends included")
    p.add_argument("--join", action="store_true", help="write the whole path one after another into one file")
    common(p, "interpolate")
    p = command("reconstruct")
    p.add_argument("input", nargs="?", help=INPUT_HELP)
    common(p, "reconstruct")
    p = command("vary")
    p.add_argument("input", nargs="?", help=INPUT_HELP)
    p.add_argument("-n", "--num", type=int, default=3, help="number of variations")
    p.add_argument("--amount", type=float, default=default("vary", "amount"),
                   help="0 = the clip itself, 1 = unrelated samples")
    common(p, "vary")
    for name in ("continue", "groove", "drumify"):
        p = command(name)
        p.add_argument("input", nargs="?", help=INPUT_HELP)
        common(p, name)

    p = sub.add_parser("show", help="hear and see any MIDI file or score (WAV + piano-roll PNG)",
                       description="Render any MIDI file (or score) to a WAV file and a piano-roll "
                       "PNG beside it; --wav or --png alone makes only that one.",
                       examples=[f"{PROG} show song.mid", f"{PROG} show a.mid b.mid --png -o pics/",
                                 f"{PROG} show quartet.mid --track 3 --wav"])
    p.add_argument("files", nargs="+", metavar="FILE", help="MIDI files or scores")
    part_options(p)
    p.add_argument("--wav", action="store_true", help="only the WAV (default: both)")
    p.add_argument("--png", action="store_true", help="only the PNG (default: both)")
    p.add_argument("--soundfont", metavar="SF2", default=None,
                   help="General MIDI SoundFont (default: $LATENTBRIDGE_SOUNDFONT, else the system's)")
    p.add_argument("-o", "--out", default=None,
                   help="folder for the files (default: beside each input)")
    return parser


def part_options(p) -> None:
    p.add_argument("--track", type=int, default=None, metavar="N",
                   help="read only track N of a MIDI file (1 = the first) or part N of a score "
                        "(default: all; a melody model then keeps the highest voice)")
    p.add_argument("--channel", type=int, default=None, metavar="N",
                   help="read only MIDI channel N, 1..16 (10 = drums) (default: all)")


def common(p, name: str) -> None:
    """The options every generating command takes (``name``'s defaults: runtime.defaults)."""
    p.add_argument("--model", default=None,
                   help="shipped model name or bundle folder (default: "
                        f"{DEFAULT_MODELS.get(name, 'mel_2bar, embedded')})")
    p.add_argument("--temperature", type=float, default=default(name, "temperature"),
                   help="sampling temperature, 0 = argmax, 1 = the model's own distribution")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed for repeatable output (default: a fresh one, written into "
                        "each file's track name)")
    if name == "continue":
        p.add_argument("--bars", type=int, default=default("continue", "bars"),
                       help="bars added after the input")
    else:
        p.add_argument("--bars", type=int, default=None,
                       help="bars per output file; more than the model's length concatenates "
                            "generations (default: " + ("the input's length in whole bars)"
                                                        if name in ("groove", "drumify")
                                                        else "the model's length)"))
    p.add_argument("--tempo", type=float, default=None,
                   help="tempo of the written files in BPM (default: the input's, else 120)")
    part_options(p)
    p.add_argument("--wav", action="store_true",
                   help="also render each file to audio, NAME.wav (needs FluidSynth and a GM SoundFont)")
    p.add_argument("--png", action="store_true", help="also draw each file's piano roll, NAME.png")
    p.add_argument("--soundfont", metavar="SF2", default=None,
                   help="SoundFont for --wav (default: $LATENTBRIDGE_SOUNDFONT, else the system's)")
    p.add_argument("-o", "--out", default=None,
                   help=f"output .mid file or folder (default: ./{DEFAULT_OUT}/)")


def _check_args(args) -> None:
    """Values argparse cannot check; UsageError (exit 2) for the first bad one."""
    if args.track is not None and args.track < 1:
        raise UsageError(f"--track counts from 1, got {args.track}")
    if args.channel is not None and not 1 <= args.channel <= 16:
        raise UsageError(f"--channel must be in 1..16, got {args.channel}")
    if args.command == "show":
        if args.out and Path(args.out).suffix.lower() in (".png", ".wav", ".mid"):
            raise UsageError("show writes NAME.wav and NAME.png: -o takes a folder")
        return
    if not (args.temperature >= 0 and math.isfinite(args.temperature)):
        raise UsageError(f"--temperature must be a number >= 0, got {args.temperature}")
    if args.bars is not None and args.bars < 1:
        raise UsageError(f"--bars must be at least 1, got {args.bars}")
    if args.tempo is not None and not 1 <= args.tempo <= 999:
        raise UsageError(f"--tempo must be in 1..999 BPM, got {args.tempo}")
    if getattr(args, "num", 1) < 1:
        raise UsageError(f"-n must be at least 1, got {args.num}")
    if getattr(args, "steps", 2) < 2:
        raise UsageError(f"--steps must be at least 2, got {args.steps}")
    if not 0 <= getattr(args, "amount", 0) <= 1:
        raise UsageError(f"--amount must be in 0..1, got {args.amount}")
    if args.command == "interpolate" and (args.start is None) != (args.end is None):
        raise UsageError("interpolate takes two files (or none: two samples from the prior)")


def _read(path: str, args) -> Clip:
    """An input file (the part asked for); says on stderr which part was read."""
    try:
        clip, said = read_clip(path, args.track, args.channel)
    except InputError as exc:
        raise RenderError(str(exc)) from None
    if said:
        print(said, file=sys.stderr)
    return clip


def _inputs(args, engine, paths: list, chunks: int) -> list[Clip]:
    """The input clips: read from ``paths``, or (no paths given) sampled from the prior, each
    ``chunks`` model lengths long; the note on stderr says which."""
    if paths[0] is not None:
        return [_read(path, args) for path in paths]
    seed = None if args.seed is None else args.seed + 104729
    clips = engine.sample(n=len(paths) * chunks, temperature=default("sample", "temperature"),
                          seed=seed)
    print(f"no input file: starting from {len(paths)} sample(s) of {engine.name} from the prior",
          file=sys.stderr)
    return [Clip.concat(clips[i * chunks:(i + 1) * chunks]) for i in range(len(paths))]


def _pieces(clip: Clip, engine, chunks: int) -> list[Clip]:
    """The clip cut into ``chunks`` model-length pieces (past its end: empty pieces)."""
    beats = engine.length_beats
    return [clip.slice(i * beats, (i + 1) * beats) for i in range(chunks)]


def _listen(args, engine, clip: Clip, path, chunks: int) -> list[Clip]:
    """The model-length pieces of an input file as the model reads them (velocities kept, for
    :func:`carry_velocities`). RenderError when the model can read none of its notes; a warning
    line for what it leaves out."""
    from .fit import hearing

    pieces = _pieces(clip, engine, chunks)
    heard = [hearing(engine, piece) for piece in pieces]
    span = f"bars 1-{chunks * engine.bars}"
    total, kept = sum(h.total for h in heard), sum(h.heard for h in heard)
    reasons: dict[str, int] = {}
    for h in heard:
        for why, count in h.reasons.items():
            reasons[why] = reasons.get(why, 0) + count
    why = "; ".join(f"{count} {text}" for text, count in reasons.items())
    end = chunks * engine.length_beats
    later = [n for n in clip.notes if n.start >= end]
    whole = math.ceil(max(n.start for n in clip.notes) / 4 + 1e-9) if clip.notes else 0
    moved = sum(h.moved for h in heard)
    if moved:
        low, high = heard[0].pitch_range
        why += f"{'; ' if why else ''}{moved} moved by octaves into its range {low}-{high}"
    if not kept:
        if total:
            raise RenderError(f"{path}: {engine.name} can read none of the {total} notes in "
                              f"{span}: {why}")
        if later:
            first = int(min(n.start for n in later) // 4) + 1
            raise RenderError(f"{path}: no notes in {span} (the first is in bar {first}: "
                              f"--bars {whole} reaches it)")
        raise RenderError(f"{path}: no notes to {args.command} (the file has none)")
    if kept < total or moved:
        print(f"warning: {path}: {engine.name} hears {kept} of the {total} notes in {span}: "
              f"{why}", file=sys.stderr)
    if later:
        print(f"warning: {path}: {len(later)} notes after bar {chunks * engine.bars} left out "
              f"(--bars {whole} takes the whole file)", file=sys.stderr)
    if engine.decoder.grid and clip.beats_per_bar != 4.0:
        num, den = clip.time_signature
        print(f"warning: {path} is in {num}/{den}: {engine.name} reads it beat for beat as 4/4 "
              f"bars", file=sys.stderr)
    return [h.prepared for h in heard]


def _seed(seed, i):
    return None if seed is None else seed + 7919 * i


def render(args) -> list[tuple[str, Clip]]:
    """Compute every output clip (nothing is written here): [(file stem, clip)]."""
    from .engine import Engine

    engine = Engine.load(args.model or DEFAULT_MODELS.get(args.command))
    args.model_name = engine.name
    if args.command in ("continue", "groove", "drumify"):
        return _render_tool(args, engine)
    chunks = max(1, math.ceil((args.bars or engine.bars) / engine.bars))
    total_beats = (args.bars or engine.bars) * engine.length_beats / engine.bars
    temperature = args.temperature
    stem = f"{engine.name}_{args.command}"
    results = []

    def warn(what: str) -> None:
        # the engine's quality guard already resampled what it could; say what is left
        for line in engine.warnings:
            print(f"warning: {engine.name} {what}: {line}", file=sys.stderr)

    def heard(clip, path):
        """Pieces as the model reads them: the source of the output's velocities."""
        if path is None:   # prior samples: the codec's own velocity
            return _pieces(clip, engine, chunks)
        return _listen(args, engine, clip, path, chunks)

    if args.command == "sample":
        clips = engine.sample(n=args.num * chunks, temperature=temperature, seed=args.seed)
        warn("sample")
        for i in range(args.num):
            results.append((f"{stem}_{i + 1:02d}", Clip.concat(clips[i * chunks:(i + 1) * chunks])))
    elif args.command == "interpolate":
        a, b = _inputs(args, engine, [args.start, args.end], chunks)
        sources = list(zip(heard(a, args.start), heard(b, args.end)))
        args.input_tempo = a.tempo
        paths = []
        ts = np.linspace(0.0, 1.0, args.steps)
        for i, (pa, pb) in enumerate(zip(_pieces(a, engine, chunks), _pieces(b, engine, chunks))):
            path = engine.interpolate(pa, pb, n=args.steps, temperature=temperature,
                                      seed=_seed(args.seed, i))
            warn(f"interpolation (bars {i * engine.bars + 1}-{(i + 1) * engine.bars})")
            sa, sb = sources[i]
            paths.append([carry_between(c, [(sa, 1 - t), (sb, t)], engine.steps_per_quarter)
                          for c, t in zip(path, ts)])
        steps = [Clip.concat(path[k] for path in paths) for k in range(args.steps)]
        if args.join:
            results.append((f"{stem}_{args.steps}steps", Clip.concat(steps)))
            total_beats *= args.steps
        else:
            results += [(f"{stem}_{k + 1:02d}", clip) for k, clip in enumerate(steps)]
    elif args.command == "reconstruct":
        clip, = _inputs(args, engine, [args.input], chunks)
        sources = heard(clip, args.input)
        args.input_tempo = clip.tempo
        pieces = engine.reconstruct(_pieces(clip, engine, chunks), temperature=temperature,
                                    seed=args.seed)
        for line in engine.warnings:  # clip k = the k-th piece of engine.bars bars
            k = int(line.split(":")[0].split()[-1])
            print(f"warning: {engine.name} reconstruction of bars {(k - 1) * engine.bars + 1}-"
                  f"{k * engine.bars}: {line.split(': ', 1)[1]} (the model cannot hold these notes; "
                  "try another model or a higher --temperature)", file=sys.stderr)
        pieces = [carry_velocities(p, s, engine.steps_per_quarter) for p, s in zip(pieces, sources)]
        results.append((stem, Clip.concat(pieces)))
    else:  # vary
        clip, = _inputs(args, engine, [args.input], chunks)
        sources = heard(clip, args.input)
        args.input_tempo = clip.tempo
        per_piece = []
        for i, p in enumerate(_pieces(clip, engine, chunks)):
            variations = engine.vary(p, n=args.num, amount=args.amount,
                                     temperature=temperature, seed=_seed(args.seed, i))
            warn(f"variation (bars {i * engine.bars + 1}-{(i + 1) * engine.bars})")
            per_piece.append([carry_velocities(v, sources[i], engine.steps_per_quarter)
                              for v in variations])
        results += [(f"{stem}_{k + 1:02d}", Clip.concat(v[k] for v in per_piece)) for k in range(args.num)]
    tempo = args.tempo or getattr(args, "input_tempo", None) or 120.0
    return [(name, clip.slice(0.0, total_beats).copy(tempo=tempo)) for name, clip in results]


def _render_tool(args, engine) -> list[tuple[str, Clip]]:
    """continue, groove, drumify: one input clip (or a prior sample), one result."""
    clip, = _inputs(args, engine, [args.input], 1)
    temperature = args.temperature
    if args.command == "continue":
        # the new bars play at the input's mean velocity (Engine.continue_ carries it)
        out = engine.continue_(clip, bars=args.bars, temperature=temperature, seed=args.seed)
    elif args.command == "groove":
        out = engine.groove(clip, temperature=temperature, seed=args.seed)
    else:
        out = engine.drumify(clip, temperature=temperature, seed=args.seed)
    for line in engine.warnings:
        print(f"warning: {engine.name} {args.command}: {line}", file=sys.stderr)
    if args.bars and args.command != "continue":
        out = out.slice(0.0, args.bars * 4.0)
    return [(f"{engine.name}_{args.command}", out.copy(tempo=args.tempo or clip.tempo or 120.0))]


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


def show(args, synth) -> None:
    """``show FILE...``: a WAV and/or a piano-roll PNG for each file, beside it or in ``--out``."""
    from .pianoroll import save

    want_wav, want_png = args.wav or not args.png, args.png or not args.wav
    inputs = [(Path(path), _read(path, args)) for path in args.files]   # all read before writing
    for path, clip in inputs:
        folder = Path(args.out) if args.out else path.parent
        if want_wav:
            wav = folder / f"{path.stem}.wav"
            if path.suffix.lower() in (".mid", ".midi") and args.track is None and args.channel is None:
                synth.render(path, wav)            # the file as it is, controllers and all
            else:
                synth.render_clip(clip, wav)       # the part read, or a score
            print(wav)
        if want_png:
            png = folder / f"{path.stem}.png"
            part = "" if args.track is None and args.channel is None else " " + " ".join(
                f"{k} {v}" for k, v in (("track", args.track), ("channel", args.channel)) if v)
            save(clip, png, title=f"{path.name}{part}")
            print(png)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .audio import AudioError, find_synth
    from .engine import EngineError

    try:
        _check_args(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc} (see --help)", file=sys.stderr)
        return USAGE
    try:
        # found before anything is computed or written: no synth, no files
        synth = find_synth(args.soundfont) if args.wav or (args.command == "show" and not args.png) \
            else None
        if args.command == "show":
            show(args, synth)
            return 0
        if args.seed is None:   # drawn here, so the track name can say it
            args.seed = random.SystemRandom().randrange(1, 1_000_000)
        results = render(args)
        paths = output_paths(args.out, [name for name, _ in results])
        name = f"{args.model_name} {args.command} seed {args.seed}"
        items = list(zip(paths, results))
        if len(items) > 3:
            from tqdm import tqdm

            items = tqdm(items, desc="writing", unit="file", file=sys.stderr)
        for path, (_, clip) in items:
            write_midi(clip, path, name=name)
            print(path)
            if synth is not None:
                synth.render(path, path.with_suffix(".wav"))
                print(path.with_suffix(".wav"))
            if args.png:
                from .pianoroll import save

                save(clip, path.with_suffix(".png"), title=f"{path.name}: {name}")
                print(path.with_suffix(".png"))
    except (RenderError, EngineError, MidiError, AudioError) as exc:
        return fail(exc)
    except OSError as exc:
        return fail(f"{exc.filename or ''}: {exc.strerror or exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
