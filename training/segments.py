"""A long model from a short one: ``python -m training.segments SHORT --data DIR -o RUN``.

    $ python -m training.segments runtime/models/mel_2bar --data data/mel_16bar_folk -o runs/mel16_seg
    $ python -m training.segments runtime/models/mel_2bar --data data/mel_16bar_folk -o runs/mel16_seg \\
          --export runtime/models/mel_16bar

A 16-bar window is eight 2-bar windows; a short flat MusicVAE bundle (``SHORT``: mel_2bar)
encodes and decodes each on its own, and what is learnt here is the **prior**: an LSTM that
reads the code of one window and returns a Gaussian (mean, sigma per dimension) for the next
one, trained by maximum likelihood on the codes (posterior means) of the dataset's training
windows. This is how Mittal et al. (2021) make 32 bars from MusicVAE's
2-bar codes (with a diffusion model where we use an LSTM); the short model stays as it is.

Why: a window is then reconstructed as well as the short model hears each of its parts (on
Nottingham's unseen test tunes mel_2bar plays 0.85 of a 16-bar tune's notes back this way,
the one-code hierarchical MusicVAE trained on this CPU 0.22), and the prior orders the parts
as the tunes do. The code is larger (eight codes side by side), and interpolating moves all
eight at once.

The run folder holds ``codes.npz`` (the encoded windows, made once), ``checkpoint.pt`` (the
prior, optimizer and step; rerunning the command continues from it), ``best.pt`` (lowest
validation loss) and ``metrics.jsonl`` (``loss`` per step, ``valid_loss`` per evaluation:
``python -m training.plot RUN``). ``--export OUT`` writes the bundle (kind ``segments``,
runtime/decoding.py): the short bundle's three graphs, byte for byte, and ``prior_step.onnx``
from ``best.pt``, checked against PyTorch, written to a temporary folder and renamed into place.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from runtime.bundle import BundleError, load_bundle, sha256
from runtime.cli import Parser, fail
from runtime.codecs import codec_from_config
from runtime.decoding import decoding_for, split_windows
from runtime.files import atomic_path

from .data import DatasetError, WindowDataset


class SegmentsError(ValueError):
    """The short bundle, the data or the run do not fit together; one line for the user."""


@dataclass
class PriorConfig:
    """The latent-sequence prior and its training."""

    z_size: int = 128          # one window's code (the short model's z)
    hidden_size: int = 256
    layers: int = 2
    dropout: float = 0.1
    min_sigma: float = 1e-3
    batch_size: int = 64
    learning_rate: float = 1e-3
    steps: int = 3000
    eval_every: int = 250
    seed: int = 0
    #: train on codes drawn from the short encoder's posterior (mu + sigma x noise) instead of
    #: its means: the prior then covers what the decoder was trained on, at the price of
    #: samples farther from any real tune (its posterior is broad: sigma ~0.9 against a spread
    #: of the means of ~0.36 for mel_2bar)
    posterior_samples: bool = False


class SegmentPrior(nn.Module):
    """p(z_1..z_S) = prod_t N(z_t; mu_t, sigma_t) with (mu_t, sigma_t) = f(z_<t): an LSTM over
    the codes, the previous code in (zeros first).

        >>> prior = SegmentPrior(PriorConfig(z_size=128))
        >>> nll = prior.nll(codes)                  # codes [B, S, 128] -> nats per code
        >>> mu, sigma, h, c = prior.prior_step(prev, (h, c))   # one code: the exported graph
    """

    def __init__(self, config: PriorConfig):
        super().__init__()
        self.config = config
        c = config
        self.rnn = nn.LSTM(c.z_size, c.hidden_size, c.layers, batch_first=True,
                           dropout=c.dropout if c.layers > 1 else 0.0)
        self.out = nn.Linear(c.hidden_size, 2 * c.z_size)

    def _gaussian(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, pre = self.out(h).chunk(2, dim=-1)
        return mu, nn.functional.softplus(pre) + self.config.min_sigma

    def forward(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and sigma of every code given the ones before it, [B, S, Z] each."""
        prev = torch.cat([torch.zeros_like(codes[:, :1]), codes[:, :-1]], dim=1)
        return self._gaussian(self.rnn(prev)[0])

    def nll(self, codes: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood in nats per code (summed over its dimensions)."""
        mu, sigma = self(codes)
        nll = 0.5 * ((codes - mu) / sigma) ** 2 + torch.log(sigma) + 0.5 * math.log(2 * math.pi)
        return nll.sum(-1).mean()

    def prior_step(self, prev: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        """One code: the previous code [B, Z] and the LSTM state -> (mu, sigma, h, c)."""
        out, (h, c) = self.rnn(prev[:, None], state)
        mu, sigma = self._gaussian(out[:, 0])
        return mu, sigma, h, c

    @torch.no_grad()
    def sample(self, n: int, segments: int, generator=None) -> torch.Tensor:
        """``n`` code sequences [n, segments, Z] drawn one code after the other."""
        c = self.config
        state = (torch.zeros(c.layers, n, c.hidden_size), torch.zeros(c.layers, n, c.hidden_size))
        prev, codes = torch.zeros(n, c.z_size), []
        for _ in range(segments):
            mu, sigma, *state = self.prior_step(prev, tuple(state))
            prev = mu + sigma * torch.randn(mu.shape, generator=generator)
            codes.append(prev)
        return torch.stack(codes, 1)


# -- the codes --------------------------------------------------------------------------------

def short_layout(short, dataset: WindowDataset, parts: list[str] | None = None) -> tuple[int, int]:
    """(segments per window, steps per segment) of the data's windows in the short bundle's;
    ``parts``: the data codec's parts the short (one-part) model reads, each on its own."""
    meta = short.meta
    if short.kind not in ("flat", "note_events"):
        raise SegmentsError(f"{short.path}: a {short.kind!r} bundle; the short model must be "
                            f"a flat MusicVAE (mel_2bar, drums_2bar) or a note-event model")
    codec = codec_from_config(meta["codec"])
    if short.kind == "note_events":
        if parts or codec.config() != dataset.codec.config():
            raise SegmentsError(f"{dataset.folder}: a note-event model reads data of its own "
                                f"codec and dictionaries ({codec.name}), whole notes, no --parts")
        notes = int(meta["decoding"]["notes"])
        if dataset.steps % notes or dataset.steps == notes:
            raise SegmentsError(f"{dataset.folder} has windows of {dataset.steps} notes: not a "
                                f"multiple (2 or more) of the short model's {notes}")
        return dataset.steps // notes, notes
    if parts:
        names = list(getattr(dataset.codec, "part_names", ()) or ())
        missing = [p for p in parts if p not in names]
        if missing:
            raise SegmentsError(f"{dataset.folder}: its codec {dataset.codec.name!r} has no "
                                f"part(s) {', '.join(missing)} (parts: {', '.join(names) or 'none'})")
        shared = ("min_pitch", "max_pitch", "steps_per_quarter")
        if codec.name != "melody" or any(codec.config().get(k) != dataset.codec.config().get(k)
                                         for k in shared):
            raise SegmentsError(f"{short.path}: the parts of {dataset.codec.name!r} are read by a "
                                f"melody model of the same {', '.join(shared)}, not {codec.config()}")
    elif codec.config() != dataset.codec.config():
        raise SegmentsError(f"{dataset.folder} uses codec {dataset.codec.config()}, the short "
                            f"bundle {codec.config()} (a trio: name its --parts)")
    steps = short.bars * short.steps_per_bar
    if dataset.steps % steps or dataset.steps == steps:
        raise SegmentsError(f"{dataset.folder} has windows of {dataset.steps} steps: not a "
                            f"multiple (2 or more) of the short model's {steps}")
    return dataset.steps // steps, steps


def encode_codes(short, dataset: WindowDataset, parts: list[str] | None = None,
                 batch: int = 256, progress: bool = True):
    """(mu, sigma) [N, codes, Z] of the dataset's windows, each part (of each of ``parts``)
    through the short bundle's encoder, in the order a segments bundle keeps them: window by
    window, part by part within a window."""
    from tqdm import tqdm

    segments, steps = short_layout(short, dataset, parts)
    codec, decoding = codec_from_config(short.meta["codec"]), decoding_for(short.kind)
    index = [dataset.codec.part_names.index(p) for p in parts] if parts else None
    windows = np.asarray(dataset.tokens)
    mus, sigmas = [], []
    for i in tqdm(range(0, len(windows), batch), desc=f"encode {dataset.split}", unit="batch",
                  disable=not progress):
        chunk = windows[i:i + batch]
        pieces = split_windows(chunk, segments, steps, index)   # the order of the codes
        feeds = {"inputs": decoding.encoder_inputs(codec, pieces),
                 "lengths": np.full(len(pieces), steps, np.int64)}
        args = [feeds[spec["name"]] for spec in short.graph("encoder")["inputs"]]
        mu, sigma = short.run("encoder", *args)
        mus.append(mu.reshape(len(chunk), -1, mu.shape[-1]))
        sigmas.append(sigma.reshape(len(chunk), -1, sigma.shape[-1]))
    return np.concatenate(mus).astype(np.float32), np.concatenate(sigmas).astype(np.float32)


def load_codes(run: Path, short, data: Path, parts: list[str] | None = None,
               progress: bool = True) -> dict[str, np.ndarray]:
    """The run's ``codes.npz`` (train and valid mu and sigma), encoded once."""
    path = run / "codes.npz"
    if path.is_file():
        with np.load(path) as f:
            return dict(f)
    codes = {}
    for split in ("train", "valid"):
        try:
            dataset = WindowDataset(data, split)
        except DatasetError as exc:
            raise SegmentsError(str(exc)) from None
        codes[f"{split}_mu"], codes[f"{split}_sigma"] = encode_codes(short, dataset, parts,
                                                                     progress=progress)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **codes)
    return codes


# -- training -----------------------------------------------------------------------------

def _save(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def train_prior(run, short_path, data, config: PriorConfig, parts: list[str] | None = None,
                progress: bool = True) -> dict:
    """Train (or continue) the prior in ``run``; returns the last validation figures."""
    from tqdm import tqdm

    run, data = Path(run), Path(data)
    run.mkdir(parents=True, exist_ok=True)
    short = load_bundle(short_path, threads=1)
    codes = load_codes(run, short, data, parts, progress)
    if codes["train_mu"].shape[-1] != config.z_size:
        config.z_size = int(codes["train_mu"].shape[-1])
    torch.manual_seed(config.seed)
    model = SegmentPrior(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    step, best = 0, math.inf
    checkpoint = run / "checkpoint.pt"
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if state["config"] != asdict(config) | {"steps": state["config"]["steps"]}:
            raise SegmentsError(f"{checkpoint}: trained with another config "
                                f"({state['config']}); use a new run folder")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, best = int(state["step"]), float(state["best"])
    train_mu = torch.from_numpy(codes["train_mu"])
    train_sigma = torch.from_numpy(codes["train_sigma"])
    valid_mu = torch.from_numpy(codes["valid_mu"])
    generator = torch.Generator().manual_seed(config.seed + step)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.steps,
                                                          last_epoch=step - 1) \
        if step else torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.steps)
    last = {}
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as log, \
            tqdm(total=config.steps, initial=step, desc="prior", unit="step",
                 disable=not progress) as bar:
        while step < config.steps:
            model.train()
            rows = torch.randint(len(train_mu), (config.batch_size,), generator=generator)
            target = train_mu[rows]
            if config.posterior_samples:
                target = target + train_sigma[rows] * torch.randn(target.shape, generator=generator)
            loss = model.nll(target)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            record = {"step": step, "loss": round(loss.item(), 4),
                      "lr": schedule.get_last_lr()[0]}
            if step % config.eval_every == 0 or step == config.steps:
                model.eval()
                with torch.no_grad():
                    valid = float(np.mean([float(model.nll(valid_mu[i:i + 512]))
                                           for i in range(0, len(valid_mu), 512)]))
                last = {"step": step, "split": "valid", "valid_loss": round(valid, 4)}
                log.write(json.dumps(last) + "\n")
                state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "step": step, "best": min(best, valid), "config": asdict(config)}
                if valid < best:
                    best = valid
                    _save(run / "best.pt", state)
                _save(checkpoint, state)
                bar.set_postfix(valid=f"{valid:.1f}")
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.update(1)
    return last


# -- the bundle ---------------------------------------------------------------------------

def export_segments(run, short_path, data, out, name: str | None = None,
                    prior_scale: float = 1.0, parts: list[str] | None = None) -> Path:
    """Write the ``segments`` bundle of ``run``'s best prior over ``short_path``'s graphs."""
    from runtime.engine import Engine

    from .export import OPSET, _replace_dir, _write_json, data_summary, evaluate_bundle

    run, out = Path(run), Path(out)
    best = run / "best.pt"
    if not best.is_file():
        raise SegmentsError(f"{best}: missing (train the prior first)")
    state = torch.load(best, map_location="cpu", weights_only=True)
    config = PriorConfig(**state["config"])
    model = SegmentPrior(config).eval()
    model.load_state_dict(state["model"])
    short = load_bundle(short_path, threads=1)
    dataset = WindowDataset(Path(data), "valid")
    segments, steps = short_layout(short, dataset, parts)
    meta = short.meta
    decoding = {**meta.get("decoding", {}), "segment_bars": short.bars, "prior_scale": prior_scale}
    codec, depths = meta["codec"], meta.get("output_depths")
    if parts:   # the data's codec, its parts through the short model, the others silent
        codec = dataset.codec.config()
        depths = list(dataset.codec.output_depths)
        decoding.update(segment_parts=list(parts), segment_codec=meta["codec"],
                        silent_parts=[p for p in dataset.codec.part_names if p not in parts])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        graphs = {}
        for key, spec in meta["graphs"].items():
            shutil.copyfile(short.path / spec["file"], tmp / spec["file"])
            graphs[key] = spec
        graphs["prior_step"] = _export_prior(model, tmp / "prior_step.onnx")
        notes = short.kind == "note_events"
        bars = short.bars * segments if notes else dataset.steps // short.steps_per_bar
        if notes:
            decoding.update(notes=dataset.steps, segment_notes=int(meta["decoding"]["notes"]))
            decoding.pop("segment_bars")
        bundle = {
            "format_version": meta["format_version"], "name": name or out.name,
            "kind": "note_segments" if notes else "segments", "codec": codec, "steps_per_bar": short.steps_per_bar,
            "bars": bars, "z_size": segments * len(parts or [0]) * config.z_size,
            "output_depths": depths, "decoding": decoding,
            "graphs": graphs,
            "model": {"class": "SegmentPrior", "config": state["config"],
                      "parameters": int(sum(p.numel() for p in model.parameters())),
                      "segment_model": {"name": meta["name"], **meta.get("model", {})}},
            "data": data_summary(dataset.manifest, Path(data)),
            "training": {"command": "python -m training.segments", "run": str(run),
                         "steps": int(state["step"]), "batch_size": config.batch_size,
                         "learning_rate": config.learning_rate, "best_valid_loss": round(state["best"], 4),
                         "segment_model_training": meta.get("training", {})},
            "evaluation": {},
            "export": {"torch": torch.__version__, "opset": OPSET,
                       "prior_step_max_abs_diff": None, "segment_model_export": meta.get("export")},
        }
        _write_json(tmp / "model.json", bundle)
        engine = Engine.load(tmp)
        bundle["export"]["prior_step_max_abs_diff"] = _prior_parity(
            model, engine, segments * len(parts or [0]))
        valid = np.asarray(dataset.tokens)[:256]
        bundle["export"]["rollout_tokens_identical"] = _same_as_short(engine, short_path, valid)
        bundle["evaluation"] = evaluate_bundle(engine, dataset.codec, valid)
        _write_json(tmp / "model.json", bundle)
        Engine.load(tmp)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _export_prior(model: SegmentPrior, path: Path) -> dict:
    """prior_step.onnx, cut and checked as training.export cuts every step graph (the
    ``prior_step`` spec of runtime/decoding.py), and its model.json entry."""
    from runtime.decoding import PRIOR_STEP

    from .export import EXAMPLE_BATCH, _graph, _write_graph

    c = model.config
    args = (torch.zeros(EXAMPLE_BATCH, c.z_size),
            (torch.zeros(c.layers, EXAMPLE_BATCH, c.hidden_size),) * 2)
    return _write_graph(_graph(model, PRIOR_STEP, (args[0], *args[1]), grid=True), path)


def _same_as_short(engine, short_path, windows: np.ndarray) -> bool:
    """Whether the bundle decodes the windows' codes (argmax) token for token as the short
    bundle decodes each part's code on its own: the split into short windows and the join
    back are right. Raises SegmentsError where they differ."""
    from runtime.engine import Engine

    short = Engine.load(short_path, threads=1)
    z = engine.decoder.encode_tokens(windows[:16])
    got = engine.decode_tokens(z, temperature=0.0)
    codes = z.reshape(-1, short.z_size)
    parts = short.decode_tokens(codes, temperature=0.0)
    split = getattr(engine.decoder, "_split", None)
    if not np.array_equal(split(got) if split else got.reshape(parts.shape), parts):
        raise SegmentsError("the bundle's decoding differs from the short model's, window by window")
    return True


@torch.no_grad()
def _prior_parity(model: SegmentPrior, engine, segments: int) -> float:
    """Max |ONNX - PyTorch| of mu and sigma along one sequence of 8 real-looking codes."""
    c = model.config
    codes = model.sample(5, segments, torch.Generator().manual_seed(0))
    state = (torch.zeros(c.layers, 5, c.hidden_size), torch.zeros(c.layers, 5, c.hidden_size))
    onnx_state = [s.numpy() for s in state]
    prev, diff = torch.zeros(5, c.z_size), 0.0
    for t in range(segments):
        mu, sigma, *state = model.prior_step(prev, tuple(state))
        got_mu, got_sigma, *onnx_state = engine.bundle.run("prior_step", prev.numpy(), *onnx_state)
        diff = max(diff, float(np.abs(got_mu - mu.numpy()).max()),
                   float(np.abs(got_sigma - sigma.numpy()).max()))
        prev = codes[:, t]
    if diff > 1e-3:
        raise SegmentsError(f"prior_step: ONNX differs from PyTorch by {diff:.2e}")
    return diff


# -- command line -------------------------------------------------------------------------

def build_parser() -> Parser:
    parser = Parser(
        prog="python -m training.segments",
        description="Train a latent-sequence prior over a short flat MusicVAE's codes of the "
                    "parts of long windows, and export the long model (kind segments).",
        examples=["python -m training.segments runtime/models/mel_2bar --data data/mel_16bar_folk "
                  "-o runs/mel16_seg",
                  "python -m training.segments runtime/models/mel_2bar --data data/mel_16bar_folk "
                  "-o runs/mel16_seg --export runtime/models/mel_16bar"])
    parser.add_argument("short", help="the short flat bundle (a name or a folder), e.g. mel_2bar")
    parser.add_argument("--data", required=True, help="prepared dataset of long windows")
    parser.add_argument("-o", "--out", required=True, help="run folder (codes, checkpoints, metrics)")
    parser.add_argument("--steps", type=int, default=PriorConfig.steps, help="training steps")
    parser.add_argument("--hidden-size", type=int, default=PriorConfig.hidden_size)
    parser.add_argument("--layers", type=int, default=PriorConfig.layers)
    parser.add_argument("--learning-rate", type=float, default=PriorConfig.learning_rate)
    parser.add_argument("--batch-size", type=int, default=PriorConfig.batch_size)
    parser.add_argument("--posterior-samples", action="store_true",
                        help="train on codes drawn from the posterior, not its means")
    parser.add_argument("--parts", help="comma-separated parts of the data's codec, each read "
                        "by the short melody model on its own (a trio: melody,bass)")
    parser.add_argument("--export", metavar="BUNDLE", help="then write the bundle here")
    parser.add_argument("--name", help="the bundle's name (default: its folder's)")
    parser.add_argument("--prior-scale", type=float, default=1.0,
                        help="the prior's sigma is scaled by this when the bundle samples "
                             "(mel_16bar: 0.55, where its samples span the training tunes' "
                             "pitch range)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if min(args.steps, args.hidden_size, args.layers, args.batch_size, args.threads) < 1 \
            or not args.learning_rate > 0 or not 0 < args.prior_scale <= 10:
        parser.error("--steps, --hidden-size, --layers, --batch-size and --threads must be at "
                     "least 1, --learning-rate above 0, --prior-scale in (0, 10]")
    torch.set_num_threads(args.threads)
    config = PriorConfig(hidden_size=args.hidden_size, layers=args.layers,
                         learning_rate=args.learning_rate, batch_size=args.batch_size,
                         steps=args.steps, posterior_samples=args.posterior_samples)
    started = time.time()
    try:
        parts = [p.strip() for p in args.parts.split(",") if p.strip()] if args.parts else None
        last = train_prior(args.out, args.short, args.data, config, parts,
                           progress=not args.quiet)
        if last:
            print(f"prior: step {last['step']}, validation {last['valid_loss']:.2f} nats per code "
                  f"({time.time() - started:.0f} s)")
        if args.export:
            out = export_segments(args.out, args.short, args.data, args.export, args.name,
                                  args.prior_scale, parts)
            size = sum(p.stat().st_size for p in out.iterdir())
            kind = json.loads((out / "model.json").read_text())["kind"]
            print(f"wrote {out} ({size / 1e6:.1f} MB, kind {kind})")
    except (SegmentsError, BundleError, DatasetError, OSError, KeyError, ValueError) as exc:
        return fail(str(exc) if not isinstance(exc, KeyError) else f"missing key {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
