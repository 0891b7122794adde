"""Train a model from the config registry: ``python -m training.train CONFIG --data DIR --out RUN_DIR``.

    $ python -m training.train lb-mel_2bar --data data/mel_2bar --out runs/mel
    $ python -m training.train cat-mel_2bar_small --data data/mel_2bar --out runs/big \\
          --steps 50000 --batch-size 256 --set model.z_size=128 --set train.eval_every=1000
    $ torchrun --nproc_per_node=2 -m training.train lb-mel_2bar --data data/mel_2bar --out runs/ddp

Rerunning the same command after a kill continues from ``RUN_DIR/checkpoint.pt`` (same batches,
same random numbers: the continuation is identical). Written to RUN_DIR: ``config.json``,
``metrics.jsonl`` (one JSON line per step: loss, recon, kl, beta, lr, sampling_prob, accuracy,
grad_norm; plus ``"split": "valid"`` lines every ``train.eval_every`` steps) and
``checkpoint.pt`` every ``train.checkpoint_every`` steps and at the end (written atomically).

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
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from . import schedules
from .configs import CONFIGS, Config, ConfigError, get_config
from .data import DatasetError, WindowDataset
from .models import Model, build_model

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
CHECKPOINT_FORMAT = 1


class TrainingError(RuntimeError):
    """Training cannot go on (diverged, incompatible checkpoint...); the message is one line."""


# -- checkpoints --------------------------------------------------------------------------------

def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then move the file into place, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_checkpoint(path, device: str | torch.device = "cpu") -> dict:
    """The raw checkpoint dict (``torch.load(weights_only=True)``), or a one-line TrainingError."""
    path = Path(path)
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
    from runtime.codecs import codec_from_config

    ckpt = read_checkpoint(path, device)
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
    if not path.exists():
        return []
    lines = []
    for text in path.read_text().splitlines():
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:
            break  # a line cut by a kill: everything after it is not trusted
    return lines


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
    t = cfg.train
    if t.threads > 0:
        torch.set_num_threads(t.threads)
    device = pick_device(t.device, local_rank)
    train_set = WindowDataset(data_dir, "train", cfg.data.transpose)
    fit_to_dataset(cfg, train_set)
    valid_set = WindowDataset(data_dir, "valid") if t.eval_every > 0 else None
    if valid_set is not None and len(valid_set) == 0:
        valid_set = None
    per_rank = t.batch_size // world
    if per_rank < 1 or len(train_set) < t.batch_size:
        raise TrainingError(f"batch size {t.batch_size} does not fit {len(train_set)} training "
                            f"windows on {world} process(es)")

    torch.manual_seed(t.seed)
    try:
        model = build_model(cfg.model).to(device)
    except ValueError as exc:  # e.g. a 16-bar hierarchical config on 2-bar windows
        raise TrainingError(f"config {cfg.name} does not fit {data_dir}: {exc}") from None
    optimizer = torch.optim.Adam(model.parameters(), lr=t.learning_rate)
    ckpt_path, metrics_path = out_dir / CHECKPOINT, out_dir / METRICS
    start, nan_steps = 0, 0
    if ckpt_path.exists():
        ckpt = read_checkpoint(ckpt_path, device)
        saved = Config.from_dict(ckpt["config"])
        if saved.model != cfg.model or saved.codec != cfg.codec:
            raise TrainingError(f"{ckpt_path} holds a different model or codec than {cfg.name} "
                                "with these settings; use another --out")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        start, nan_steps = int(ckpt["step"]), int(ckpt.get("nan_steps", 0))
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_metrics(metrics_path, [m for m in read_metrics(metrics_path) if m.get("step", 0) < start])
        config_json = json.dumps(cfg.to_dict(), indent=1) + "\n"
        _atomic_write(out_dir / "config.json", lambda tmp: Path(tmp).write_text(config_json))

    if world > 1:
        ddp_model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        ddp_model = model
    sampler = DistributedSampler(range(len(train_set)), num_replicas=world, rank=rank,
                                 shuffle=True, seed=t.seed, drop_last=True)
    batches_per_epoch = len(sampler) // per_rank
    epoch, order = None, None
    log = open(metrics_path, "a") if rank == 0 else None
    bar = tqdm(total=t.steps, initial=start, desc=cfg.name, unit="step", dynamic_ncols=True,
               disable=not progress or rank != 0)
    bad_in_a_row, metrics = 0, {}
    try:
        for step in range(start, t.steps):
            # the batch and every random number of this step are functions of (seed, step, rank)
            if epoch != step // batches_per_epoch:
                epoch = step // batches_per_epoch
                sampler.set_epoch(epoch)
                order = list(sampler)
            first = (step % batches_per_epoch) * per_rank
            rng = np.random.default_rng([t.seed, step, rank])
            batch = {k: v.to(device) for k, v in
                     train_set.batch(order[first:first + per_rank], rng).items()}
            torch.manual_seed(t.seed * 1_000_003 + step * 131 + rank)

            lr = schedules.learning_rate(step, t.learning_rate, t.min_learning_rate, t.decay_rate)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss, metrics = ddp_model(batch, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip))

            # grad_norm is the same on every rank after DDP's all-reduce: all ranks agree to skip
            finite = math.isfinite(grad_norm) and (world > 1 or math.isfinite(loss.item()))
            if finite and grad_norm < t.grad_norm_clip_to_zero:
                optimizer.step()
                bad_in_a_row, skipped = 0, 0
            else:
                optimizer.zero_grad(set_to_none=True)
                skipped = 1
                if not finite:
                    nan_steps += 1
                    bad_in_a_row += 1
                    if bad_in_a_row >= t.max_bad_steps:
                        raise TrainingError(
                            f"training diverged: {bad_in_a_row} steps in a row with a non-finite "
                            f"loss or gradient (step {step}); lower train.learning_rate or check "
                            "the data")
            metrics = {"step": step, **metrics, "lr": lr, "grad_norm": grad_norm,
                       "skipped": skipped, "nan_steps": nan_steps}
            if rank == 0:
                log.write(json.dumps(metrics) + "\n")
                if step % 10 == 0 or step == t.steps - 1:
                    log.flush()
                    bar.set_postfix(loss=f"{metrics['loss']:.3g}", acc=f"{metrics['accuracy']:.3f}",
                                    refresh=False)
                bar.update(1)

            done = step + 1
            if rank == 0 and valid_set is not None and (done % t.eval_every == 0 or done == t.steps):
                log.write(json.dumps({"step": step, "split": "valid",
                                      **evaluate(model, valid_set, cfg, step, device)}) + "\n")
                log.flush()
            if rank == 0 and (done % t.checkpoint_every == 0 or done == t.steps):
                log.flush()
                save_checkpoint(ckpt_path, model, optimizer, done, cfg, cfg.codec,
                                nan_steps=nan_steps)
    finally:
        bar.close()
        if log is not None:
            log.close()
    return metrics


# -- command line -------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.train",
        description="Train a model of the config registry on a dataset folder; rerun the same "
                    "command to continue from RUN_DIR/checkpoint.pt.")
    parser.add_argument("config", help=f"config name (one of: {', '.join(sorted(CONFIGS))})")
    parser.add_argument("--data", help="dataset folder from `python -m training.prepare` "
                                       "(default: the config's data.path)")
    parser.add_argument("--out", required=True, help="run folder (checkpoint, metrics, config)")
    parser.add_argument("--steps", type=int, help="total training steps (train.steps)")
    parser.add_argument("--batch-size", type=int, help="global batch size (train.batch_size)")
    parser.add_argument("--seed", type=int, help="random seed (train.seed)")
    parser.add_argument("--threads", type=int, help="torch CPU threads per process (train.threads)")
    parser.add_argument("--device", help="auto, cpu, cuda (train.device)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set model.z_size=64 (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = build_config(args.config, args.overrides, args.steps, args.batch_size, args.seed)
        if args.threads is not None:
            cfg.train.threads = args.threads
        if args.device is not None:
            cfg.train.device = args.device
        data = args.data or cfg.data.path
        if not data:
            raise ConfigError("no dataset: pass --data DIR")
        metrics = train(cfg, data, args.out, progress=not args.quiet)
    except (ConfigError, DatasetError, TrainingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to continue from the last checkpoint",
              file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) == 0:
        if metrics:
            print(f"step {metrics['step'] + 1}: loss {metrics['loss']:.4g}, accuracy "
                  f"{metrics['accuracy']:.3f}; checkpoint in {Path(args.out) / CHECKPOINT}")
        else:
            print(f"nothing to do: {Path(args.out) / CHECKPOINT} has already done "
                  f"{cfg.train.steps} steps (raise --steps to train further)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
