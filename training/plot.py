"""Draw a run's training curves to PNG: ``python -m training.plot RUN [RUN ...] [-o FILE.png]``.

    $ python -m training.plot runs/mel_2bar                    # -> runs/mel_2bar/curves.png
    $ python -m training.plot runs/a runs/b -o compare.png     # two runs, one colour each

Four panels from each run's ``metrics.jsonl`` against the step: loss, reconstruction loss,
step accuracy and KL (nats). Training values are drawn thin (raw) with a moving average over
them; the validation lines (``"split": "valid"``, every ``train.eval_every`` steps) are dashed
with markers. Files written before steps were 1-based are shifted as ``training.train`` does.
The PNG is written to a temporary file and renamed into place. Needs matplotlib (the ``train``
extra). For live curves, TensorBoard reads the same run folders: ``tensorboard --logdir runs``.

From Python::

    >>> from training.plot import plot_runs
    >>> plot_runs(["runs/mel_2bar"], "runs/mel_2bar/curves.png")
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from runtime.cli import Parser, fail
from runtime.files import atomic_path

#: panel title, training key, validation key
PANELS = (("loss", "loss", "valid_loss"),
          ("reconstruction loss (nats)", "recon", "valid_recon"),
          ("step accuracy", "accuracy", "valid_accuracy"),
          ("KL (nats)", "kl", "valid_kl"))
DEFAULT_NAME = "curves.png"


class PlotError(ValueError):
    """A run without metrics, or matplotlib missing; one line for the user."""


def read_run(run) -> tuple[list[dict], list[dict]]:
    """(training lines, validation lines) of a run folder (or its metrics.jsonl), 1-based steps."""
    from .train import METRICS, read_metrics, upgrade_metrics

    path = Path(run)
    path = path / METRICS if path.is_dir() else path
    if not path.is_file():
        raise PlotError(f"{run}: no {METRICS} (a run folder of python -m training.train)")
    lines = upgrade_metrics(read_metrics(path))
    train = [m for m in lines if "split" not in m]
    valid = [m for m in lines if m.get("split") == "valid"]
    if not train and not valid:
        raise PlotError(f"{path}: no metrics yet")
    return train, valid


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over ``window`` points (shorter at the start), NaNs ignored."""
    if window <= 1 or len(values) < 2:
        return values
    finite = np.isfinite(values)
    sums = np.convolve(np.where(finite, values, 0.0), np.ones(window))[:len(values)]
    counts = np.convolve(finite.astype(float), np.ones(window))[:len(values)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def plot_runs(runs, out) -> Path:
    """Draw the curves of ``runs`` into the PNG ``out``; returns its path."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("plotting needs matplotlib (pip install 'latentbridge[train]')") from None
    data = [(Path(run), *read_run(run)) for run in runs]
    figure, axes = plt.subplots(2, 2, figsize=(12, 7.5), sharex=True)
    for index, (run, train, valid) in enumerate(data):
        colour = f"C{index % 10}"
        label = run.name if run.is_dir() else run.parent.name
        for ax, (title, key, valid_key) in zip(axes.flat, PANELS):
            rows = [(m["step"], m[key]) for m in train if isinstance(m.get(key), (int, float))]
            if rows:
                steps, values = np.array(rows, dtype=float).T
                ax.plot(steps, values, color=colour, alpha=0.25, linewidth=0.6)
                ax.plot(steps, smooth(values, max(1, len(values) // 50)), color=colour,
                        linewidth=1.5, label=f"{label} train")
            rows = [(m["step"], m[valid_key]) for m in valid
                    if isinstance(m.get(valid_key), (int, float))]
            if rows:
                steps, values = np.array(rows, dtype=float).T
                ax.plot(steps, values, color=colour, linestyle="--", marker="o", markersize=3,
                        linewidth=1.2, label=f"{label} valid")
            ax.set_title(title)
            ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("step")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in axes.flat[1:]:   # a run may have a curve in one panel only
        for handle, text in zip(*ax.get_legend_handles_labels()):
            if text not in labels:
                handles.append(handle)
                labels.append(text)
    if handles:
        figure.legend(handles, labels, loc="upper center", ncol=min(4, len(labels)), fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    out = Path(out)
    try:
        with atomic_path(out) as tmp:
            figure.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(figure)
    return out


def build_parser() -> Parser:
    parser = Parser(
        prog="python -m training.plot",
        description="Draw loss, reconstruction, accuracy and KL curves (training and validation) "
                    "of one or more training runs to a PNG.",
        examples=["python -m training.plot runs/mel_2bar",
                  "python -m training.plot runs/a runs/b -o compare.png"])
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="run folder of python -m training.train (or its metrics.jsonl)")
    parser.add_argument("-o", "--out", metavar="FILE.png",
                        help=f"PNG to write (default: RUN/{DEFAULT_NAME} for one run, "
                             f"./{DEFAULT_NAME} for several)")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out is not None and Path(args.out).suffix.lower() != ".png":
        parser.error(f"--out {args.out}: the file name must end in .png")
    run = Path(args.runs[0])
    out = args.out or (run / DEFAULT_NAME if len(args.runs) == 1 and run.is_dir() else DEFAULT_NAME)
    try:
        path = plot_runs(args.runs, out)
    except PlotError as exc:
        return fail(exc)
    except OSError as exc:
        return fail(f"{exc.filename or out}: {exc.strerror or exc}")
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
