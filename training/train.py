"""Train a model from the config registry: ``python -m training.train CONFIG --data DIR -o RUN_DIR``.

    $ python -m training.train lb-mel_2bar --data data/mel_2bar -o runs/mel     # CPU: lb-* configs
    $ python -m training.train cat-mel_2bar_small --data data/mel_2bar -o runs/big \\
          --steps 50000 --batch-size 256 --set model.z_size=128 --set train.eval_every=1000
    $ torchrun --nproc_per_node=2 -m training.train lb-mel_2bar --data data/mel_2bar -o runs/ddp

Rerunning the same command after a kill continues from ``RUN_DIR/checkpoint.pt`` (same batches,
same random numbers: the continuation is identical) and says "resuming from step N". Ctrl-C or
SIGTERM finish the step under way, save the checkpoint and say "saved checkpoint at step N"
(a second Ctrl-C stops at once). Written to RUN_DIR:

- ``config.json``: the run's config, ``data.path`` = the dataset it really trains on;
- ``metrics.jsonl``: one JSON line per step (``step`` counts steps done, 1-based, as checkpoints
  do; ``time`` = Unix wall-clock seconds; loss, recon, kl, beta, lr, sampling_prob, accuracy,
  grad_norm...), plus ``"split": "valid"`` lines every ``train.eval_every`` steps;
- ``events.out.tfevents.*``: the same scalars for TensorBoard (``tensorboard --logdir runs``),
  when the ``tensorboard`` package is installed (the ``train`` extra);
- ``checkpoint.pt`` every ``train.checkpoint_every`` steps, at the end and when stopped (written
  atomically), and ``best.pt`` whenever the validation reconstruction loss is the lowest so far
  (export either one: on a small dataset such as Groove the last checkpoint may have started to
  overfit);
- ``samples/step_NNNNN/*.mid`` (and ``.wav``) every ``train.sample_every`` steps (training.samples).

After its first steps a run that would take more than a day on this machine prints a warning
with its estimate. ``python -m training.plot RUN_DIR`` draws the curves.

From Python, for export and evaluation::

    >>> from training.train import load_checkpoint
    >>> model, config, codec = load_checkpoint("runs/mel/checkpoint.pt")   # eval mode, on CPU

Under torchrun (RANK/WORLD_SIZE set) it trains with DistributedDataParallel (gloo on CPU, nccl on
GPU): the global batch is split across ranks, only rank 0 logs and saves. A step whose loss or
gradient is not finite is skipped and counted; ``train.max_bad_steps`` of them in a row abort the
run with a one-line message.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from runtime.cli import USAGE, Parser, fail
from runtime.files import atomic_path

from . import schedules, transfer, unbundle
from .registry import CONFIGS, Config, ConfigError, get_config
from .data import DatasetError, WindowDataset
from .models import Model, build_model
from .samples import write_samples

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
METRICS = "metrics.jsonl"
SAMPLES = "samples"
CHECKPOINT_FORMAT = 1
#: warn when the estimated time left is longer than this (seconds), measured over ETA_STEPS steps
ETA_WARN_SECONDS = 24 * 3600
ETA_STEPS = 10


class TrainingError(RuntimeError):
    """Training cannot go on (diverged, incompatible checkpoint...); the message is one line."""


class TrainingInterrupted(Exception):
    """SIGINT or SIGTERM stopped the run after a checkpoint was saved at ``step``."""

    def __init__(self, signum: int, step: int):
        super().__init__(f"stopped by {signal.Signals(signum).name} at step {step}")
        self.signum, self.step = signum, step


# -- checkpoints --------------------------------------------------------------------------------

def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then move the file into place, so readers never see half a file
    (runtime.files: the user's umask, the temp file removed on any error)."""
    with atomic_path(path) as tmp:
        write(str(tmp))


def read_checkpoint(path, device: str | torch.device = "cpu") -> dict:
    """The raw checkpoint dict (``torch.load(weights_only=True)``), or a one-line TrainingError.
    A bundle folder (model.json, no checkpoint) gives its weights read back (training/unbundle.py)."""
    path = Path(path)
    if unbundle.is_bundle(path):
        try:
            ckpt = unbundle.checkpoint_from_bundle(path)
        except unbundle.UnbundleError as exc:
            raise TrainingError(str(exc)) from None
        _say(unbundle.summary(ckpt))
        return ckpt
    if path.is_dir():
        path = path / CHECKPOINT
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise TrainingError(f"{path}: no such checkpoint") from None
    except Exception as exc:  # unpickling errors come in many types
        raise TrainingError(f"{path}: not a readable checkpoint ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path}: not a latentbridge checkpoint (format {ckpt.get('format') if isinstance(ckpt, dict) else None!r})")
    return ckpt


def load_checkpoint(path, device: str | torch.device = "cpu"):
    """-> (model in eval mode, Config, codec) from a checkpoint file or a run folder."""
    return model_from_checkpoint(read_checkpoint(path, device), device)


def model_from_checkpoint(ckpt: dict, device: str | torch.device = "cpu"):
    """-> (model in eval mode, Config, codec) from a checkpoint dict (:func:`read_checkpoint`)."""
    from runtime.codecs import codec_from_config

    config = Config.from_dict(ckpt["config"])
    model = build_model(config.model)
    model.load_state_dict(ckpt["model"])
    model.to(device).eval()
    return model, config, codec_from_config(ckpt["codec"])


def save_checkpoint(path: Path, model: Model, optimizer, step: int, config: Config, codec_config,
                    **extra) -> None:
    state = {"format": CHECKPOINT_FORMAT, "step": step, "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "config": config.to_dict(),
             "codec": codec_config, **extra}
    _atomic_write(path, lambda tmp: torch.save(state, tmp))


# -- setup --------------------------------------------------------------------------------------

def build_config(name: str, overrides=(), steps=None, batch_size=None, seed=None) -> Config:
    cfg = get_config(name)
    for assignment in overrides:
        cfg.override(assignment)
    if steps is not None:
        cfg.train.steps = steps
    if batch_size is not None:
        cfg.train.batch_size = batch_size
    if seed is not None:
        cfg.train.seed = seed
    return cfg


def fit_to_dataset(cfg: Config, dataset: WindowDataset) -> None:
    """Check the dataset's codec against the config and fill the codec-given model sizes."""
    codec = dataset.codec
    wanted = cfg.codec.get("name")
    if wanted and wanted != codec.name:
        raise TrainingError(f"config {cfg.name} wants a {wanted!r} dataset, "
                            f"{dataset.folder} holds {codec.name!r}")
    # the config's input-only codec options (the groove codec's input transform) apply to the
    # dataset's tokens: one prepared dataset serves every input transform
    options = {k: v for k, v in cfg.codec.items() if k in codec.input_options}
    if options:
        from runtime.codecs import CodecError, codec_from_config

        try:
            codec = dataset.codec = codec_from_config({**codec.config(), **options})
        except CodecError as exc:
            raise TrainingError(f"config {cfg.name}: {exc}") from None
    cfg.codec = codec.config()
    m = cfg.model
    m.input_depth = int(codec.input_depth)
    m.output_depths = [int(d) for d in getattr(codec, "output_depths", [codec.output_depth])]
    m.max_seq_len = int(dataset.steps)


def setup_distributed() -> tuple[int, int, int]:
    """(rank, world_size, local_rank); starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def pick_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(name)


def write_metrics(path: Path, lines: list[dict]) -> None:
    def write(tmp):
        with open(tmp, "w") as handle:
            handle.writelines(json.dumps(line) + "\n" for line in lines)
    _atomic_write(path, write)


def read_metrics(path: Path) -> list[dict]:
    """The lines of a metrics.jsonl (up to a line cut by a kill), as written."""
    if not path.exists():
        return []
    lines = []
    for text in path.read_text().splitlines():
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:
            break  # a line cut by a kill: everything after it is not trusted
    return lines


def upgrade_metrics(lines: list[dict]) -> list[dict]:
    """Lines without ``time`` were written when steps counted from 0: shift them to the 1-based
    steps of today's lines (``time`` None marks them as done)."""
    return [line if "time" in line else
            {"step": line.get("step", -1) + 1, "time": None,
             **{k: v for k, v in line.items() if k != "step"}} for line in lines]


# -- the loop -----------------------------------------------------------------------------------

@torch.no_grad()
def evaluate(model: Model, dataset: WindowDataset, cfg: Config, step: int,
             device: torch.device) -> dict[str, float]:
    """Mean metrics over the first ``eval_batches`` batches of the split (teacher forcing)."""
    model.eval()
    size = min(cfg.train.batch_size, len(dataset))
    totals: dict[str, float] = {}
    batches = 0
    for begin in range(0, min(len(dataset), size * cfg.train.eval_batches), size):
        torch.manual_seed(cfg.train.seed + begin)
        batch = {k: v.to(device) for k, v in dataset.batch(range(begin, min(begin + size, len(dataset)))).items()}
        _, metrics = model.loss(batch, step)
        for key, value in metrics.items():
            totals[key] = totals.get(key, 0.0) + value
        batches += 1
    model.train()
    return {f"valid_{k}": v / max(batches, 1) for k, v in totals.items()}


def train(cfg: Config, data_dir, out_dir, progress: bool = True) -> dict:
    """Train (or continue training) ``cfg`` on ``data_dir`` into ``out_dir``; returns the last
    step's metrics. Raises TrainingError / ConfigError / DatasetError with one-line messages."""
    rank, world, local_rank = setup_distributed()
    try:
        return _train(cfg, Path(data_dir), Path(out_dir), rank, world, local_rank, progress)
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _train(cfg: Config, data_dir: Path, out_dir: Path, rank: int, world: int, local_rank: int,
           progress: bool) -> dict:
    """One rank's run, top to bottom: data, model (resumed), run folder, then the steps."""
    t = cfg.train
    if t.threads > 0:
        torch.set_num_threads(t.threads)
    device = pick_device(t.device, local_rank)
    train_set, valid_set = _datasets(cfg, data_dir, world)
    ckpt_path = out_dir / CHECKPOINT
    model, optimizer, state = _model(cfg, data_dir, ckpt_path, device)
    if rank == 0:
        _start_run_folder(cfg, out_dir, state.done, ckpt_path)
    if world > 1:
        ddp_model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        ddp_model = model
    batches = _Batches(train_set, t, rank, world)
    record = _Record(cfg, out_dir, state.done, progress) if rank == 0 else None
    sample_every = t.eval_every if t.sample_every < 0 else t.sample_every
    sample_set = valid_set if valid_set is not None else train_set
    metrics: dict = {}

    def save(path: Path) -> None:
        save_checkpoint(path, model, optimizer, state.done, cfg, cfg.codec,
                        nan_steps=state.nan_steps, best_valid_recon=state.best,
                        init_steps=state.init_steps, data_dir=cfg.data.path)

    try:
        with _StopOnSignal() as stop:
            for step in range(state.done, t.steps):
                # the batch and every random number of this step are functions of (seed, step, rank)
                batch = batches.at(step, device)
                torch.manual_seed(t.seed * 1_000_003 + step * 131 + rank)
                metrics = _optimize(ddp_model, model, optimizer, batch, step, t, world, state)
                checkpointed = state.due(t.checkpoint_every, t.steps)
                if rank == 0:
                    record.train(metrics)
                    if valid_set is not None and state.due(t.eval_every, t.steps):
                        valid = evaluate(model, valid_set, cfg, step, device)
                        record.valid(valid, state.done)
                        if valid.get("valid_recon", math.inf) < state.best:
                            state.best = valid["valid_recon"]
                            save(out_dir / BEST)
                    if sample_every > 0 and state.due(sample_every, t.steps):
                        sample_every = _write_samples(model, sample_set, out_dir, state.done,
                                                      t.seed, device, sample_every, t.sample_audio)
                    if checkpointed:
                        record.flush()
                        save(ckpt_path)
                if stop.agreed(world, device):
                    if rank == 0:
                        record.flush()
                        if not checkpointed:
                            save(ckpt_path)
                        record.close()
                        _say(f"{signal.Signals(stop.signum).name}: saved checkpoint at step "
                             f"{state.done} in {ckpt_path}; rerun the same command to continue")
                    raise TrainingInterrupted(stop.signum, state.done)
    finally:
        if record is not None:
            record.close()
    return metrics


@dataclass
class _State:
    """Where a run stands (a checkpoint carries it over): steps done, non-finite steps so far
    (and in a row, not saved), the lowest validation reconstruction loss, and for a fine-tune
    the steps of the checkpoint its weights came from."""

    done: int = 0
    nan_steps: int = 0
    best: float = math.inf
    init_steps: int | None = None
    bad_in_a_row: int = 0

    def due(self, every: int, total: int) -> bool:
        """Whether the work done every ``every`` steps (and after the last) is due now."""
        return self.done % every == 0 or self.done == total


def _datasets(cfg: Config, data_dir: Path, world: int):
    """(train split, valid split or None); the config's codec-given sizes filled from the data."""
    t = cfg.train
    train_set = WindowDataset(data_dir, "train", cfg.data.transpose)
    fit_to_dataset(cfg, train_set)
    cfg.data.path = str(data_dir.resolve())   # export and evaluate find the run's real data
    valid_set = WindowDataset(data_dir, "valid") if t.eval_every > 0 else None
    if valid_set is not None:
        valid_set.codec = train_set.codec  # with the config's input options (fit_to_dataset)
    if valid_set is not None and len(valid_set) == 0:
        valid_set = None
    if t.batch_size // world < 1 or len(train_set) < t.batch_size:
        raise TrainingError(f"batch size {t.batch_size} does not fit {len(train_set)} training "
                            f"windows on {world} process(es)")
    return train_set, valid_set


def _model(cfg: Config, data_dir: Path, ckpt_path: Path, device: torch.device):
    """(model, optimizer, state): built from the seed, or resumed from ``ckpt_path``."""
    torch.manual_seed(cfg.train.seed)
    try:
        model = build_model(cfg.model).to(device)
    except ValueError as exc:  # e.g. a 16-bar hierarchical config on 2-bar windows
        raise TrainingError(f"config {cfg.name} does not fit {data_dir}: {exc}") from None
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.learning_rate)
    modules = dict(model.named_modules())
    for name in cfg.train.freeze:
        if name not in modules or not frozen(model, [name]):
            top = sorted({k.split(".")[0] for k, _ in model.named_parameters()})
            raise TrainingError(f"train.freeze: {cfg.name} has no module {name!r} (its modules: "
                                f"{', '.join(top)})")
    state = _State()
    if ckpt_path.exists():
        ckpt = read_checkpoint(ckpt_path, device)
        saved = Config.from_dict(ckpt["config"])
        if saved.model != cfg.model or saved.codec != cfg.codec:
            raise TrainingError(f"{ckpt_path} holds a different model or codec than {cfg.name} "
                                "with these settings; use another --out")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        state = _State(int(ckpt["step"]), int(ckpt.get("nan_steps", 0)),
                       float(ckpt.get("best_valid_recon", math.inf)), ckpt.get("init_steps"))
        if cfg.train.init_from != saved.train.init_from and cfg.train.init_from:
            _say(f"resuming: --init-from {Path(cfg.train.init_from).name} is not used (the run "
                 f"started from {Path(saved.train.init_from).name or 'the seed'})")
        cfg.train.init_from = saved.train.init_from   # the record keeps where the weights began
    elif cfg.train.init_from:
        state.init_steps = _init_weights(model, cfg, Path(cfg.train.init_from), device)
    return model, optimizer, state


def _init_weights(model: Model, cfg: Config, path: Path, device: torch.device) -> int:
    """Load another run's weights into a fresh run (``--init-from``): same shapes, same codec,
    or a melody model of the same sizes into a trio model (training/transfer.py).
    Returns the steps that run had done (kept in this run's checkpoints: the file may move on)."""
    ckpt = read_checkpoint(path, device)
    saved = Config.from_dict(ckpt["config"])
    if saved.model.kind != cfg.model.kind:
        raise TrainingError(f"--init-from {path.name}: a {saved.model.kind} model, not "
                            f"{cfg.model.kind}")
    if saved.codec != cfg.codec:
        if not transfer.can_transfer(saved.codec, cfg.codec):
            raise TrainingError(f"--init-from {path.name}: its codec differs from the dataset's "
                                "(prepare the data with the same codec as the model)")
        try:   # a melody model starts a trio model (training/transfer.py)
            model.load_state_dict(transfer.melody_into_trio(model.state_dict(), ckpt["model"]))
        except transfer.TransferError as exc:
            raise TrainingError(f"--init-from {path.name}: {exc}") from None
        _say(f"--init-from {path.name}: a melody model; its encoder, conductor and bar decoder "
             "start this trio's melody and bass parts (the drums decoder starts fresh)")
        return int(ckpt.get("step", 0))
    def shape(t):
        return "missing" if t is None else "x".join(map(str, t.shape)) or "scalar"

    mine, theirs = model.state_dict(), ckpt["model"]
    for key in sorted(mine.keys() | theirs.keys()):
        here, there = mine.get(key), theirs.get(key)
        if here is None or there is None or here.shape != there.shape:
            raise TrainingError(f"--init-from {path.name}: its weights do not fit this config "
                                f"({key}: {shape(there)} there, {shape(here)} here)"
                                + _sizes_hint(saved.model, cfg.model))
    model.load_state_dict(theirs)
    return int(ckpt.get("step", 0))


def _sizes_hint(theirs, mine) -> str:
    """The ``--set`` flags that give this config the starting model's sizes (``""`` if none)."""
    flags = [f"--set model.{f.name}={json.dumps(getattr(theirs, f.name)).replace(' ', '')}"
             for f in dataclasses.fields(theirs)
             if f.name.endswith(("_size", "_sizes", "level_lengths")) and hasattr(mine, f.name)
             and getattr(theirs, f.name) != getattr(mine, f.name)]
    return f"; its sizes: {' '.join(flags)}" if flags else ""


def _start_run_folder(cfg: Config, out_dir: Path, start: int, ckpt_path: Path) -> None:
    """The run folder with config.json and the metrics of the steps done so far (rank 0)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if start:
        _say(f"resuming from step {start} ({ckpt_path})")
    metrics_path = out_dir / METRICS
    kept = [m for m in upgrade_metrics(read_metrics(metrics_path)) if m.get("step", 0) <= start]
    write_metrics(metrics_path, kept)
    config_json = json.dumps(cfg.to_dict(), indent=1) + "\n"
    _atomic_write(out_dir / "config.json", lambda tmp: Path(tmp).write_text(config_json))


class _Batches:
    """One rank's training batches: ``at(step)`` is a function of (seed, step, rank) only, so a
    resumed run sees exactly the batches it would have seen (DistributedSampler: each epoch one
    permutation of the windows, each rank its share)."""

    def __init__(self, dataset: WindowDataset, t, rank: int, world: int):
        self.dataset, self.seed, self.rank = dataset, t.seed, rank
        self.sampler = DistributedSampler(range(len(dataset)), num_replicas=world, rank=rank,
                                          shuffle=True, seed=t.seed, drop_last=True)
        self.per_rank = t.batch_size // world
        self.per_epoch = len(self.sampler) // self.per_rank
        self.epoch, self.order = None, None

    def at(self, step: int, device: torch.device) -> dict:
        if self.epoch != step // self.per_epoch:
            self.epoch = step // self.per_epoch
            self.sampler.set_epoch(self.epoch)
            self.order = list(self.sampler)
        first = (step % self.per_epoch) * self.per_rank
        rng = np.random.default_rng([self.seed, step, self.rank])
        batch = self.dataset.batch(self.order[first:first + self.per_rank], rng)
        return {k: v.to(device) for k, v in batch.items()}


def frozen(model: Model, names) -> list:
    """(name, parameter) of ``model`` under the modules ``names`` (``train.freeze``)."""
    prefixes = tuple(f"{n}." for n in names)
    return [(k, p) for k, p in model.named_parameters() if k in names or k.startswith(prefixes)]


def _optimize(ddp_model, model: Model, optimizer, batch: dict, step: int, t, world: int,
              state: _State) -> dict:
    """One optimizer step (skipped when the gradient is not finite or too large) -> the step's
    metrics line; ``t.max_bad_steps`` non-finite steps in a row raise TrainingError."""
    lr = schedules.learning_rate(step, t.learning_rate, t.min_learning_rate, t.decay_rate)
    for group in optimizer.param_groups:
        group["lr"] = lr
    freezing = bool(t.freeze) and (t.freeze_steps <= 0 or step < t.freeze_steps)
    for name in t.freeze:   # frozen modules run as in evaluation: batch norms keep their statistics
        model.get_submodule(name).train(not freezing)
    loss, metrics = ddp_model(batch, step)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if freezing:
        for _, p in frozen(model, t.freeze):
            p.grad = None                 # Adam leaves a parameter without a gradient as it is
    grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip))

    # grad_norm is the same on every rank after DDP's all-reduce: all ranks agree to skip
    finite = math.isfinite(grad_norm) and (world > 1 or math.isfinite(loss.item()))
    if finite and grad_norm < t.grad_norm_clip_to_zero:
        optimizer.step()
        state.bad_in_a_row, skipped = 0, 0
    else:
        optimizer.zero_grad(set_to_none=True)
        skipped = 1
        if not finite:
            state.nan_steps += 1
            state.bad_in_a_row += 1
            if state.bad_in_a_row >= t.max_bad_steps:
                raise TrainingError(
                    f"training diverged: {state.bad_in_a_row} steps in a row with a non-finite "
                    f"loss or gradient (step {step + 1}); lower train.learning_rate or "
                    "check the data")
    # steps are counted 1-based in the logs, as in checkpoints: "step N" = N steps done
    state.done = step + 1
    return {"step": state.done, "time": round(time.time(), 3), **metrics, "lr": lr,
            "grad_norm": grad_norm, "skipped": skipped, "nan_steps": state.nan_steps}


class _Record:
    """Rank 0's account of the run: metrics.jsonl, TensorBoard events, the progress bar and the
    ETA warning. ``close`` is safe twice."""

    def __init__(self, cfg: Config, out_dir: Path, start: int, progress: bool):
        self.total = cfg.train.steps
        self.log = open(out_dir / METRICS, "a")
        self.board = _tensorboard(out_dir, start)
        self.bar = tqdm(total=self.total, initial=start, desc=cfg.name, unit="step",
                        dynamic_ncols=True, disable=not progress)
        self.eta = _EtaCheck(cfg.name, self.total)

    def train(self, metrics: dict) -> None:
        done = metrics["step"]
        self.log.write(json.dumps(metrics) + "\n")
        _board_scalars(self.board, "train", metrics, done)
        if done % 10 == 1 or done == self.total:
            self.log.flush()
            self.bar.set_postfix(loss=f"{metrics['loss']:.3g}", acc=f"{metrics['accuracy']:.3f}",
                                 refresh=False)
        self.bar.update(1)
        self.eta.tick(done)

    def valid(self, valid: dict, done: int) -> None:
        self.log.write(json.dumps({"step": done, "time": round(time.time(), 3), "split": "valid",
                                   **valid}) + "\n")
        self.log.flush()
        _board_scalars(self.board, "valid", valid, done)

    def flush(self) -> None:
        self.log.flush()

    def close(self) -> None:
        self.bar.close()
        self.log.close()
        if self.board is not None:
            self.board.close()
            self.board = None


def _say(message: str) -> None:
    """One status line on stderr that does not break a progress bar."""
    tqdm.write(message, file=sys.stderr)


class _StopOnSignal:
    """SIGINT and SIGTERM set a flag; the loop finishes its step, saves and stops. A second
    signal stops at once (KeyboardInterrupt). Outside the main thread nothing is installed."""

    def __init__(self):
        self.signum, self._previous = 0, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        if self.signum:
            raise KeyboardInterrupt
        self.signum = signum

    def agreed(self, world: int, device: torch.device) -> bool:
        """Whether to stop now; under DDP every rank stops at the same step (max over ranks)."""
        if world > 1:
            flag = torch.tensor([self.signum], device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            self.signum = int(flag.item())
        return bool(self.signum)


class _EtaCheck:
    """Times ETA_STEPS steps after the first one and warns once when the run's remaining steps
    would take longer than ETA_WARN_SECONDS on this machine."""

    def __init__(self, name: str, total: int):
        self.name, self.total, self.first, self.clock = name, total, None, None

    def tick(self, done: int) -> None:
        if self.first is None:
            self.first, self.clock = done, time.monotonic()   # step one warms up: not counted
        elif self.clock is not None and done - self.first == ETA_STEPS:
            per_step = (time.monotonic() - self.clock) / ETA_STEPS
            left = per_step * (self.total - done)
            self.clock = None
            if left > ETA_WARN_SECONDS:
                advice = ("lower --steps" if self.name.startswith("lb-") else
                          "on a CPU use an lb-* config (docs/training.md) or lower --steps")
                _say(f"warning: {self.name} runs at {per_step:.3g} s a step on this machine: the "
                     f"{self.total - done} steps left take about {_duration(left)}; {advice}")


def _duration(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:.0f} h" if hours < 72 else f"{hours / 24:.0f} days ({hours:.0f} h)"


def _tensorboard(out_dir: Path, start: int):
    """A SummaryWriter into the run folder, or None (said once) without the tensorboard package.
    A resumed run hides the events past its checkpoint (``purge_step``)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception as exc:  # noqa: BLE001 - ImportError, or a tensorboard that does not load
        reason = "not installed" if isinstance(exc, ImportError) else f"not usable ({exc})"
        _say(f"note: tensorboard is {reason}: no TensorBoard logs, metrics.jsonl only "
             "(pip install 'latentbridge[train]')")
        return None
    return SummaryWriter(log_dir=str(out_dir), purge_step=start + 1 if start else None)


def _board_scalars(board, split: str, values: dict, step: int) -> None:
    if board is None:
        return
    for key, value in values.items():
        if key not in ("step", "time", "split") and isinstance(value, (int, float)):
            board.add_scalar(f"{split}/{key.removeprefix('valid_')}", value, step)


def _write_samples(model, dataset, out_dir: Path, done: int, seed: int, device,
                   every: int, audio: bool = True) -> int:
    """Samples for step ``done``; a failure is said once and turns sampling off (returns 0)."""
    try:
        write_samples(model, dataset, out_dir / SAMPLES / f"step_{done:05d}", seed=seed,
                      device=device, audio=audio)
    except Exception as exc:  # noqa: BLE001 - samples are for listening: never stop training
        _say(f"warning: no samples written at step {done} ({type(exc).__name__}: "
             f"{' '.join(str(exc).split())}); sampling is off for this run")
        return 0
    return every


# -- command line -------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m training.train",
        description="Train a model of the config registry on a dataset folder; rerun the same "
                    "command to continue from RUN_DIR/checkpoint.pt. Ctrl-C or SIGTERM save a "
                    "checkpoint before stopping. On a CPU start with the lb-* configs.",
        examples=["python -m training.train lb-mel_2bar --data data/mel_2bar -o runs/mel_2bar",
                  "python -m training.train lb-drums_2bar --data data/drums_2bar -o runs/drums "
                  "--steps 5000 --set train.sample_every=500",
                  "python -m training.plot runs/mel_2bar -o runs/mel_2bar/curves.png"])
    parser.add_argument("config", help=f"config name (one of: {', '.join(sorted(CONFIGS))})")
    parser.add_argument("--data", metavar="DIR",
                        help="dataset folder from `python -m training.prepare` (default: the "
                             "config's data.path)")
    parser.add_argument("-o", "--out", required=True, metavar="RUN_DIR",
                        help="run folder: checkpoint.pt, best.pt, metrics.jsonl, config.json, "
                             "TensorBoard events, samples/")
    parser.add_argument("--steps", type=int, help="total training steps (default: the config's "
                                                  "train.steps)")
    parser.add_argument("--batch-size", type=int, help="global batch size (default: the config's "
                                                       "train.batch_size)")
    parser.add_argument("--seed", type=int, help="random seed (default: the config's train.seed)")
    parser.add_argument("--threads", type=int, help="torch CPU threads per process (default: the "
                                                    "config's train.threads, 0 = torch's choice)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"),
                        help="where to train (default: the config's train.device, auto)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set model.z_size=64 or --set "
                             "train.sample_every=0 (repeatable; default: none)")
    parser.add_argument("--init-from", metavar="CHECKPOINT",
                        help="start from this checkpoint's (or run folder's, or a bundle's, e.g. "
                             "runtime/models/mel_2bar) weights with a fresh optimizer and "
                             "schedules: fine-tune a model on your own data or with other loss "
                             "settings (same sizes and codec; default: from the seed)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag, value, least in (("--steps", args.steps, 1), ("--batch-size", args.batch_size, 1),
                               ("--threads", args.threads, 0)):
        if value is not None and value < least:
            parser.error(f"{flag} must be at least {least}")
    try:
        cfg = build_config(args.config, args.overrides, args.steps, args.batch_size, args.seed)
        if args.threads is not None:
            cfg.train.threads = args.threads
        if args.device is not None:
            cfg.train.device = args.device
        if args.init_from is not None:
            cfg.train.init_from = args.init_from
        data = args.data or cfg.data.path
        if not data:
            raise ConfigError("no dataset: pass --data DIR")
    except ConfigError as exc:   # an unknown config or setting: a usage error
        return fail(exc, USAGE)
    try:
        metrics = train(cfg, data, args.out, progress=not args.quiet)
    except (ConfigError, DatasetError, TrainingError) as exc:
        return fail(exc)
    except TrainingInterrupted as exc:   # the checkpoint is saved and said so
        return 128 + exc.signum
    except KeyboardInterrupt:            # a second Ctrl-C: stopped at once
        print("interrupted: rerun the same command to continue from the last checkpoint",
              file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) == 0:
        if metrics:
            print(f"step {metrics['step']}: loss {metrics['loss']:.4g}, accuracy "
                  f"{metrics['accuracy']:.3f}; checkpoint in {Path(args.out) / CHECKPOINT}")
        else:
            print(f"nothing to do: {Path(args.out) / CHECKPOINT} has already done "
                  f"{cfg.train.steps} steps (raise --steps to train further)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
