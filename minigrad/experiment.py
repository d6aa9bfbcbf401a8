"""Small helpers shared by the numbered lessons: run modes, output folder, results.

Every lesson is ``python lessons/NN_name.py [--smoke | --full] [--seed S]``:

- ``--smoke``: a tiny run in seconds (the test suite runs every lesson this way;
  it falls back to small synthetic data, and says so, when a data set is not
  installed, so the tests need no download);
- default: the lesson's real experiment in a few minutes on 2 CPU cores;
- ``--full``: the paper-scale setting.

Results go to ``outputs/NN_name/`` (or ``$MINIGRAD_OUTPUTS/NN_name/``): PNG plots
and a ``metrics.json``, each written atomically (temporary file, then rename).
Every training run of a lesson also keeps a checkpoint after each epoch in
``outputs/NN_name/checkpoints/<mode>_seed<S>/``; after an interrupt (Ctrl-C, a lost session), the
same command with ``--resume`` continues each run from its last finished epoch
(finished runs are read back, not trained again), so nothing already computed is lost.
Only this module and plotting touch the host side of results.
"""
import argparse
import json
import os
import sys

import numpy as np

from .backend import describe, to_device, to_numpy


def parse_args(description, argv=None):
    """Parse --smoke/--full/--seed/--out/--resume. Returns an argparse Namespace with ``mode``."""
    p = argparse.ArgumentParser(description=description)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--smoke", action="store_true", help="tiny run in seconds (used by the tests)")
    g.add_argument("--full", action="store_true", help="the paper's settings (slow)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--out", default=None, help="output folder (default outputs/<lesson name>)")
    p.add_argument("--resume", action="store_true",
                   help="continue interrupted runs from their per-epoch checkpoints (give the same other options)")
    args = p.parse_args(argv)
    args.mode = "smoke" if args.smoke else "full" if args.full else "default"
    return args


def output_dir(lesson_file, args):
    """Create and return the folder for this lesson's plots and metrics."""
    name = os.path.splitext(os.path.basename(lesson_file))[0]
    root = os.environ.get("MINIGRAD_OUTPUTS", "outputs")
    path = args.out or os.path.join(root, name)
    os.makedirs(path, exist_ok=True)
    print(f"{name}: mode {args.mode}, seed {args.seed}, {describe()}; writing to {path}/")
    return path


def checkpoint_path(out_dir, args, run):
    """The per-epoch checkpoint file of one training run of a lesson (``Trainer(checkpoint=...)``).

    One folder per mode and seed (``checkpoints/default_seed0/``), so that ``--resume``
    only ever continues a run made with the same settings.
    """
    folder = os.path.join(out_dir, "checkpoints", f"{args.mode}_seed{args.seed}")
    os.makedirs(folder, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(run))
    return os.path.join(folder, name + ".npz")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "shape"):
        return _jsonable(to_numpy(obj).tolist())
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def save_metrics(out_dir, metrics, name="metrics.json"):
    """Write ``metrics`` (dicts, lists, numbers, arrays) as JSON atomically; returns the path."""
    path = os.path.join(out_dir, name)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(_jsonable(metrics), f, indent=2)
    os.replace(tmp, path)
    return path


def save_figure(fig, out_dir, name):
    """Save a matplotlib figure as PNG atomically and close it; returns the path."""
    import matplotlib.pyplot as plt
    path = os.path.join(out_dir, name)
    tmp = f"{path}.tmp-{os.getpid()}.png"
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def figure(*args, **kwargs):
    """``plt.subplots`` with the non-interactive Agg backend (no screen needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt.subplots(*args, **kwargs)


def plot_curves(out_dir, name, series, xlabel="epoch", ylabel="", title="", logy=False):
    """One line per entry of ``series`` (label -> list of values); saves ``name``."""
    fig, ax = figure(figsize=(6, 4))
    for label, ys in series.items():
        ys = to_numpy(np.asarray(ys, dtype=float)) if not hasattr(ys, "get") else to_numpy(ys)
        ax.plot(np.arange(1, len(ys) + 1), ys, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return save_figure(fig, out_dir, name)


def plot_accuracy(out_dir, runs, style, title, chance=None, name="accuracy.png"):
    """Training and validation accuracy per epoch, side by side, one line per run.

    ``runs``: run name -> dict with a ``history`` (the Trainer's); ``style(name)`` gives
    the matplotlib format string of a run's line; ``chance`` draws a dotted line at
    chance accuracy. Saves ``name`` in ``out_dir``; returns the path.
    """
    fig, axes = figure(1, 2, figsize=(11, 4), sharey=True)
    for ax, key in zip(axes, ("train_acc", "val_acc")):
        for run_name, r in runs.items():
            ys = r["history"][key]
            ax.plot(np.arange(1, len(ys) + 1), ys, style(run_name), label=run_name)
        if chance is not None:
            ax.axhline(chance, color="gray", lw=0.8, ls=":")
        ax.set_xlabel("epoch"), ax.set_title(key.replace("_", " ")), ax.grid(alpha=0.3), ax.legend()
    axes[0].set_ylabel("accuracy")
    fig.suptitle(title)
    return save_figure(fig, out_dir, name)


def print_table(headers, rows, file=None):
    """Print rows as an aligned plain-text table (also returns it as a string)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    text = "\n".join(lines)
    print(text, file=file or sys.stdout)
    return text


def _fmt(c):
    if isinstance(c, float):
        return f"{c:.4g}"
    return str(c)


def synthetic_images(n, shape, num_classes=10, rng=0):
    """Small labelled random images for ``--smoke`` runs when a data set is absent.

    Each class is a fixed random template plus noise, so a network can learn
    it. Returns uint8 images (n, *shape) and int64 labels (n,), like the loaders.
    """
    rng = np.random.default_rng(rng)
    templates = rng.uniform(0, 255, (num_classes,) + tuple(shape))
    y = rng.integers(num_classes, size=n)
    x = templates[y] * 0.6 + rng.uniform(0, 255, (n,) + tuple(shape)) * 0.4
    return x.astype(np.uint8), y.astype(np.int64)


def cifar10_subset(args, n_train, n_val, rng, n_test=10000):
    """CIFAR-10 as Trainer data (``n_train`` training and ``n_val`` validation images,
    drawn from the training split) and ``n_test`` test images (the first of the test split).

    The validation images are held out of the training split (``train_val_split``):
    lessons choose epochs and settings on them, and read the test images only with
    the chosen model. All images are standardised with the training subset's
    per-channel statistics: X (N, 3, 32, 32) float32, y (N,) int64. For ``--smoke``
    without the data set, synthetic images stand in (and the lesson says so).

    Returns:
        (data, (X_test, y_test)).
    """
    from .data import load_cifar10, standardize, train_val_split
    try:
        images, labels = load_cifar10(split="train")
        test_images, test_labels = load_cifar10(split="test")
    except FileNotFoundError:
        if args.mode != "smoke":
            raise
        print("CIFAR-10 is not installed: --smoke runs on synthetic images")
        images, labels = synthetic_images(n_train + n_val, (3, 32, 32), 10, rng)
        test_images = test_labels = None
    data = train_val_split(images, labels, n_val, rng, n_train=n_train)
    if test_images is None:
        test_images, test_labels = synthetic_images(n_test, (3, 32, 32), 10, rng.integers(1 << 30))
    test_images, test_labels = test_images[:n_test], test_labels[:n_test]
    data["X_train"], data["X_val"], X_test = standardize(data["X_train"], data["X_val"], test_images)
    return data, (X_test, test_labels)


def test_on_best(trainer, X_test, y_test):
    """Test loss and accuracy of the epoch chosen on validation (host floats).

    Puts the best epoch's parameters back (``trainer.restore_best()``, kept by
    validation accuracy) and evaluates them once on the test set. Lessons read
    their test set only here, after training: it never chooses an epoch or a setting.
    """
    trainer.restore_best()
    return trainer.evaluate(to_device(X_test), to_device(y_test))


def mnist_train_test(n_train, n_test, rng):
    """MNIST digits, or the embedded 5,000-digit sample when MNIST is not installed.

    Args:
        n_train: how many shuffled training digits (None: all).
        n_test: how many test digits (the first ones).
    Returns:
        (x_train, y_train, x_test, y_test): uint8 (N, 28, 28) images and int64 labels.
    """
    from .data import load_mnist, load_mnist_sample
    try:
        (xtr, ytr), (xte, yte) = load_mnist(split="train"), load_mnist(split="test")
    except FileNotFoundError:
        print("MNIST is not installed: using the embedded sample (python data_scripts/mnist.py fetches it)")
        (xtr, ytr), (xte, yte) = load_mnist_sample("train"), load_mnist_sample("test")
    tr = rng.permutation(len(xtr))[: n_train or len(xtr)]
    te = np.arange(min(n_test, len(xte)))
    return xtr[tr], ytr[tr], xte[te], yte[te]
