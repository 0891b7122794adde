"""Evaluate a trained model on a dataset: ``python -m training.evaluate CHECKPOINT --data DIR``.

    $ python -m training.evaluate runs/mel --data data/mel_2bar
    $ python -m training.evaluate runs/mel/checkpoint.pt --data data/mel_2bar --split valid \\
          --max-examples 512 --samples 128 -o runs/mel/eval.json

Prints one table (and writes it as JSON with ``-o/--out FILE.json``, atomically; ``--json``
is the old name of the flag):

- teacher-forced next-step accuracy and free-running reconstruction accuracy (the columns of
  MusicVAE's Table 1): z = posterior mean, greedy (argmax) decoding; a step of a multi-field
  token counts as right when every field is right, a piano-roll frame when all 128 pitches are;
- the model's own reconstruction loss (teacher forced, in nats per sequence) and KL(q(z|x)||p(z));
- mutual information I(x;z) with He et al. (2019)'s minibatch estimator (bounded by log batch);
- active units: latent dims whose posterior mean has variance > 0.01 over the data;
- interpolation: Hamming distance of the decodings along a slerp path between two data points to
  each end point (Wang et al. 2019, Fig. 2), and its smoothness (mean |second difference|, 0 = linear);
- mgeval-style statistics (Yang & Lerch 2018) of prior samples against the data: pitch-class
  histogram, pitch range, note-length histogram, inter-onset interval, pitch count; intra-set and
  inter-set distances, KL and overlap area of the distance distributions.

From Python::

    >>> from training.evaluate import evaluate_checkpoint, evaluate_model
    >>> report = evaluate_checkpoint("runs/mel", "data/mel_2bar", split="test", max_examples=256)
    >>> report["accuracy"]["reconstruction"], report["latent"]["mutual_information"]

Works for every model kind of the registry: MusicVAE and its variants (``musicvae``,
``musicvae_barwise``, ``lm``, ``ae``), ``modular``, ``musebar`` and ``vrash``, through the one
model interface (training/models/base.py: ``posterior``, ``predict_next``, ``generate``); a
model whose decoding kind is continuous (GrooVAE) gets the groove benchmark instead.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from runtime.cli import Parser, fail
from runtime.decoding import DECODINGS

from . import benchmark, metrics
from .data import DatasetError, WindowDataset


class EvaluationError(ValueError):
    """The checkpoint and the data do not fit together; one line for the user."""


# -- the evaluation -----------------------------------------------------------------------------

def _decode_clips(codec, tokens: np.ndarray) -> tuple[list, int]:
    clips, failed = [], 0
    for window in tokens:
        try:
            clips.append(codec.decode(window))
        except Exception:  # noqa: BLE001 - a codec may refuse an ill-formed sample; count it
            failed += 1
    return clips, failed


@torch.no_grad()
def evaluate_model(model, dataset: WindowDataset, max_examples: int = 512, batch_size: int = 64,
                   samples: int = 64, pairs: int = 8, interp_steps: int = 11,
                   temperature: float = 1.0, seed: int = 0, progress: bool = False) -> dict:
    """All metrics of the module docstring for ``model`` on the first windows of ``dataset``."""
    model.eval()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    n = min(max_examples, len(dataset))
    if n == 0:
        raise EvaluationError(f"{dataset.folder}: the {dataset.split} split has no windows")
    length = dataset.steps

    mus, logvars, tokens_all = [], [], []
    next_right = recon_right = total = 0.0
    recon_loss, kl_sum, mi_sum, mi_weight = 0.0, 0.0, 0.0, 0
    batches = list(range(0, n, batch_size))
    for begin in tqdm(batches, desc="evaluate", unit="batch", disable=not progress):
        batch = dataset.batch(range(begin, min(begin + batch_size, n)))
        tokens = batch["tokens"]
        mu, logvar = model.posterior(batch)
        pred_next = model.predict_next(batch, mu)
        pred_free = model.generate(mu, length, 0.0)
        b = tokens.shape[0]
        next_right += metrics.token_accuracy(pred_next.numpy(), tokens.numpy()) * b
        recon_right += metrics.token_accuracy(pred_free.numpy(), tokens.numpy()) * b
        total += b
        _, m = model.loss(batch, 10 ** 9)        # late step: the final KL weight
        recon_loss += m["recon"] * b
        kl_sum += float(metrics.gaussian_kl(mu, logvar).sum())
        if b > 1:
            mi_sum += metrics.mutual_information(mu, logvar, generator) * b
            mi_weight += b
        mus.append(mu)
        logvars.append(logvar)
        tokens_all.append(tokens)
    mu_all = torch.cat(mus)
    tokens_all = torch.cat(tokens_all)
    au, variances = metrics.active_units(mu_all)

    # interpolation between random pairs of data points (slerp of posterior means)
    rng = np.random.default_rng(seed)
    paths, ends = [], []
    for _ in range(pairs if n > 1 else 0):
        i, j = rng.choice(n, size=2, replace=False)
        zs = torch.stack([metrics.slerp(mu_all[i], mu_all[j], float(a))
                          for a in np.linspace(0, 1, interp_steps)])
        if not torch.isfinite(zs).all():  # a zero latent (lm) has no direction: go linearly
            zs = torch.stack([(1 - a) * mu_all[i] + a * mu_all[j]
                              for a in np.linspace(0, 1, interp_steps)])
        decoded = model.generate(zs, length, 0.0).numpy()
        paths.append(list(decoded))
        ends.append((tokens_all[i].numpy(), tokens_all[j].numpy()))
    interpolation = metrics.interpolation_curve(paths, ends) if paths else {}
    if interpolation:
        interpolation["smoothness"] = metrics.smoothness(interpolation["to_a"])

    # prior samples vs data, mgeval-style
    z = torch.randn(samples, mu_all.shape[1], generator=generator)
    sampled = model.generate(z, length, temperature, generator).numpy()
    data_clips, _ = _decode_clips(dataset.codec, tokens_all[:samples].numpy())
    sample_clips, failed = _decode_clips(dataset.codec, sampled)
    mgeval = {}
    if len(data_clips) > 2 and len(sample_clips) > 2:
        mgeval = metrics.compare_sets(data_clips, sample_clips)

    return {
        "examples": int(total),
        "accuracy": {"next_step": next_right / total, "reconstruction": recon_right / total},
        "recon_loss": recon_loss / total,
        "latent": {"kl": kl_sum / total,
                   "mutual_information": mi_sum / mi_weight if mi_weight else 0.0,
                   "mi_batch": min(batch_size, n),
                   "active_units": au, "z_size": int(mu_all.shape[1]),
                   "mu_variance_mean": float(variances.mean())},
        "interpolation": interpolation,
        "samples": {"count": samples, "temperature": temperature, "undecodable": failed},
        "mgeval": mgeval,
    }


def _dataset(data, split: str, max_examples: int) -> WindowDataset:
    dataset = WindowDataset(data, split)
    if max_examples:
        dataset.tokens = dataset.tokens[:max_examples]
    if not len(dataset):
        raise EvaluationError(f"{data}: the {split} split has no windows")
    return dataset


def _train_windows(train_data, data, codec) -> np.ndarray | None:
    """The train windows that feed the learned baselines, in ``codec``'s vocabulary."""
    try:
        train = WindowDataset(train_data or data, "train")
    except DatasetError:
        return None
    if not len(train):
        return None
    if train.codec.token_config() != codec.token_config():
        if train.codec.name != codec.name:
            raise EvaluationError(f"{train_data}: codec {train.codec.name!r}, but the model "
                                  f"uses {codec.name!r}")
        return benchmark.convert_windows(train.tokens, train.codec, codec)
    return train.tokens


def evaluate_checkpoint(checkpoint, data, split: str = "test", train_data=None,
                        max_examples: int = 0, **options) -> dict:
    """Load a checkpoint (file or run folder) and evaluate it on ``data``'s ``split`` (every
    window unless ``max_examples``): the benchmark table, then the latent-space figures."""
    from .train import load_checkpoint

    model, config, codec = load_checkpoint(checkpoint)
    dataset = _dataset(data, split, max_examples)
    if _continuous(model):
        report = _groove_checkpoint(model, codec, dataset, data, train_data,
                                    options.get("batch_size", 64), options.get("progress", False))
        report.update(config=config.name, kind=config.model.kind, data=str(data), split=split,
                      checkpoint=str(checkpoint))
        return report
    if dataset.codec.config() != codec.config():
        raise EvaluationError(f"{data} uses codec {dataset.codec.config()['name']!r} with other "
                              f"settings than the checkpoint's {codec.config()['name']!r}; "
                              "evaluate on the dataset the model was trained on")
    report = evaluate_model(model, dataset, max_examples=len(dataset), **options)

    def encode(tokens):
        return model.posterior(dataset.batch_of(tokens))[0].numpy()

    def decode(z):
        return model.generate(torch.as_tensor(z, dtype=torch.float32), dataset.steps, 0.0).numpy()

    with torch.no_grad():
        report["benchmark"] = benchmark.benchmark(
            codec, dataset.tokens, encode, decode, _train_windows(train_data, data, codec),
            batch_size=options.get("batch_size", 64), seed=options.get("seed", 0),
            progress=options.get("progress", False))
    report.update(config=config.name, kind=config.model.kind, data=str(data), split=split,
                  checkpoint=str(checkpoint))
    return report


def _continuous(model) -> bool:
    """Whether the model's decoder emits values (a groove's velocities and offsets), scored
    by hits and errors rather than tokens: its decoding kind says (runtime/decoding.py)."""
    kind = getattr(model, "decoding_kind", None)
    return kind in DECODINGS and DECODINGS[kind].continuous


def _groove_data(codec, dataset: WindowDataset, data) -> None:
    """A groove model reads the dataset's tokens through its own input transform."""
    if dataset.codec.token_config() != codec.token_config():
        raise EvaluationError(f"{data} holds {dataset.codec.name!r} windows that differ from the "
                              f"model's {codec.name!r} codec; evaluate on groove data "
                              "(python -m training.prepare ... --kind groove)")
    dataset.codec = codec


def _groove_checkpoint(model, codec, dataset, data, train_data, batch_size, progress) -> dict:
    """Hits, velocities and timing of a GrooVAE checkpoint beside "copy the input"."""
    _groove_data(codec, dataset, data)

    def encode(tokens):
        batch = dataset.batch_of(tokens)
        with torch.no_grad():
            return model.encode(batch["inputs"], batch["lengths"])[0].numpy()

    def decode(z, hits=None):
        hits = None if hits is None else torch.as_tensor(hits, dtype=torch.float32)
        values = model.sample(torch.as_tensor(z, dtype=torch.float32), 0.0, hits=hits)
        return codec.from_output(values.numpy())

    return {"groove": True, "examples": len(dataset), "benchmark": benchmark.groove_benchmark(
        codec, dataset.tokens, encode, decode, _train_windows(train_data, data, codec),
        batch_size=batch_size, progress=progress)}


def evaluate_bundle(bundle, data, split: str = "test", train_data=None, max_examples: int = 0,
                    batch_size: int = 64, seed: int = 0, progress: bool = False) -> dict:
    """The benchmark table of an exported bundle, run by onnxruntime as the runtime plays it."""
    from runtime.engine import Engine, EngineError

    try:
        engine = Engine.load(str(bundle))
    except EngineError as exc:
        raise EvaluationError(str(exc)) from None
    dataset = _dataset(data, split, max_examples)
    if engine.decoder.continuous:
        _groove_data(engine.codec, dataset, data)
        if dataset.steps != engine.total_steps:
            raise EvaluationError(f"{data} has windows of {dataset.steps} steps, the bundle "
                                  f"decodes {engine.total_steps}")

        def encode(tokens):
            inputs = engine.decoder.encoder_inputs(engine.codec, tokens)
            return engine.run_encoder(inputs, np.full(len(tokens), tokens.shape[1], np.int64))

        def decode(z, hits=None):
            return engine.decode_tokens(z, temperature=0.0, seed=0, hits=hits)

        report = {"groove": True, "benchmark": benchmark.groove_benchmark(
            engine.codec, dataset.tokens, encode, decode,
            _train_windows(train_data, data, engine.codec), batch_size=batch_size,
            progress=progress)}
        report.update(config=engine.name, kind=f"bundle, {engine.kind}", data=str(data),
                      split=split, examples=len(dataset), bundle=str(bundle))
        return report
    if dataset.codec.name != engine.codec.name:
        raise EvaluationError(f"{data} uses codec {dataset.codec.name!r}, the bundle "
                              f"{engine.codec.name!r}; evaluate on data of the same kind")
    if engine.decoder.grid and dataset.steps != engine.total_steps:
        raise EvaluationError(f"{data} has windows of {dataset.steps} steps, the bundle decodes "
                              f"{engine.total_steps}")
    encode, decode = benchmark.bundle_model(engine, dataset.codec)
    report = {"benchmark": benchmark.benchmark(
        dataset.codec, dataset.tokens, encode, decode,
        _train_windows(train_data, data, dataset.codec), batch_size=batch_size, seed=seed,
        progress=progress)}
    report.update(config=engine.name, kind=f"bundle, {engine.kind}", data=str(data), split=split,
                  examples=len(dataset), bundle=str(bundle))
    return report


def record_bundle(bundle, report: dict, train_data, command: str) -> None:
    """model.json gets the benchmark and the training windows' notes per bar (quality guard)."""
    from runtime.engine import Engine

    engine = Engine.load(str(bundle))
    density = None
    try:
        train = WindowDataset(train_data, "train")
        if len(train):
            density = benchmark.notes_per_bar(train.codec, train.tokens, engine.bars)
    except DatasetError:
        pass
    summarize = benchmark.groove_summary if report.get("groove") else benchmark.summary
    benchmark.record(bundle, summarize(report, command.replace(" --record", "")), density)


# -- output -------------------------------------------------------------------------------------

def format_report(r: dict) -> str:
    head = (f"model {r.get('config', '?')} ({r.get('kind', '?')}) on {r.get('data', '?')} "
            f"[{r.get('split', '?')}, {r['examples']} windows], z = mu, argmax decoding")
    if r.get("groove"):
        return head.replace("argmax decoding", "hits at threshold 0.5") + "\n" + \
            benchmark.format_groove_benchmark(r["benchmark"])
    table = benchmark.format_benchmark(r["benchmark"]) if "benchmark" in r else ""
    if "latent" not in r:
        return head + "\n" + table
    return head + "\n" + table + "\n\n" + _format_latent(r)


def _format_latent(r: dict) -> str:
    lat, acc = r["latent"], r["accuracy"]
    rows = [("model", f"{r.get('config', '?')} ({r.get('kind', '?')})"),
            ("data", f"{r.get('data', '?')} [{r.get('split', '?')}, {r['examples']} windows]"),
            ("next-step accuracy (teacher forced)", f"{acc['next_step']:.3f}"),
            ("reconstruction accuracy (free running)", f"{acc['reconstruction']:.3f}"),
            ("reconstruction loss (nats/seq)", f"{r['recon_loss']:.2f}"),
            ("KL (nats)", f"{lat['kl']:.2f}"),
            (f"MI I(x;z) (nats, batch {lat['mi_batch']})", f"{lat['mutual_information']:.2f}"),
            ("active units", f"{lat['active_units']} / {lat['z_size']}")]
    if r["interpolation"]:
        it = r["interpolation"]
        rows.append(("interp. Hamming to A", " ".join(f"{v:.2f}" for v in it["to_a"])))
        rows.append(("interp. Hamming to B", " ".join(f"{v:.2f}" for v in it["to_b"])))
        rows.append(("interp. smoothness (|2nd diff|)", f"{it['smoothness']:.4f}"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    if r["mgeval"]:
        lines.append("")
        lines.append(f"mgeval, {r['samples']['count']} prior samples (T={r['samples']['temperature']:g}) "
                     "vs data")
        head = ("feature", "data", "samples", "intra-data", "intra-smp", "inter", "KL", "overlap")
        lines.append("{:<22}".format(head[0]) + "".join(f"{h:>11}" for h in head[1:]))
        for name, m in r["mgeval"].items():
            values = (m["reference_mean"], m["generated_mean"], m["intra_reference"],
                      m["intra_generated"], m["inter"], m["kl"], m["overlap"])
            lines.append(f"{name:<22}" + "".join(f"{v:>11.3f}" for v in values))
    return "\n".join(lines)


def write_json(path, report: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(report, handle, indent=1, default=float)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def build_parser() -> Parser:
    p = Parser(
        prog="python -m training.evaluate",
        description="Evaluate a checkpoint: Table-1 accuracies, KL, MI, active units, "
                    "interpolation smoothness and mgeval statistics of samples vs data.",
        examples=["python -m training.evaluate runs/mel_2bar --data data/mel_2bar",
                  "python -m training.evaluate runs/mel_2bar/best.pt --data data/mel_2bar "
                  "--split valid -o runs/mel_2bar/eval.json",
                  "python -m training.evaluate runtime/models/mel_2bar --data data/mel_2bar "
                  "--split test --record"])
    p.add_argument("checkpoint", metavar="MODEL",
                   help="checkpoint.pt, a run folder holding one, or an exported bundle folder "
                        "(model.json + ONNX graphs: scored through the runtime's engine)")
    p.add_argument("--data", required=True, metavar="DIR",
                   help="dataset folder (python -m training.prepare)")
    p.add_argument("--split", default="test", choices=("train", "valid", "test", "all"),
                   help="split of --data to score (default test; all = every split, e.g. a "
                        "held-out folder prepared with --valid 0 --test 1)")
    p.add_argument("--train-data", metavar="DIR",
                   help="dataset whose train split feeds the most-frequent and nearest-window "
                        "baselines (default: --data)")
    p.add_argument("--max-examples", type=int, default=0,
                   help="score only the first N windows (default 0 = the whole split)")
    p.add_argument("--batch-size", type=int, default=64, help="also the MI estimator's batch")
    p.add_argument("--samples", type=int, default=64, help="prior samples for mgeval (default 64)")
    p.add_argument("--pairs", type=int, default=8, help="interpolation pairs (default 8)")
    p.add_argument("--interp-steps", type=int, default=11, help="points per interpolation path")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("-o", "--out", "--json", dest="json", metavar="FILE.json",
                   help="also write the report as JSON (atomically; --json is the old name)")
    p.add_argument("--record", action="store_true",
                   help="bundle only: write the figures into its model.json (evaluation.benchmark) "
                        "with the training data's notes per bar (data.notes_per_bar)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .configs import ConfigError
    from .train import TrainingError

    for name in ("batch_size", "interp_steps"):
        if getattr(args, name) < 1 or (name == "interp_steps" and args.interp_steps < 2):
            parser.error(f"--{name.replace('_', '-')} is too small")
    if args.samples < 0 or args.pairs < 0 or args.max_examples < 0 \
            or not math.isfinite(args.temperature):
        parser.error("--samples, --pairs and --max-examples must be >= 0, --temperature finite")
    if args.record and not (Path(args.checkpoint) / "model.json").is_file():
        parser.error("--record writes into a bundle's model.json; MODEL is not a bundle folder")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        if (Path(args.checkpoint) / "model.json").is_file():
            report = evaluate_bundle(args.checkpoint, args.data, args.split,
                                     train_data=args.train_data, max_examples=args.max_examples,
                                     batch_size=args.batch_size, seed=args.seed,
                                     progress=not args.quiet)
        else:
            report = evaluate_checkpoint(args.checkpoint, args.data, args.split,
                                         train_data=args.train_data,
                                         max_examples=args.max_examples,
                                         batch_size=args.batch_size, samples=args.samples,
                                         pairs=args.pairs, interp_steps=args.interp_steps,
                                         temperature=args.temperature, seed=args.seed,
                                         progress=not args.quiet)
    except (EvaluationError, DatasetError, TrainingError, ConfigError, ValueError) as exc:
        return fail(exc)
    print(format_report(report))
    if args.record:
        record_bundle(args.checkpoint, report, args.train_data or args.data,
                      "python -m training.evaluate " + " ".join(argv if argv is not None
                                                                else sys.argv[1:]))
        print(f"recorded in {Path(args.checkpoint) / 'model.json'}")
    if args.json:
        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
