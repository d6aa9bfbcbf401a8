"""Small helpers shared by the numbered lessons: run modes, output folder, results.

Every lesson is ``python lessons/NN_name.py [--smoke | --full] [--seed S]``:

- ``--smoke``: a tiny run in seconds (the test suite runs every lesson this way;
  it falls back to small synthetic data, and says so, when a data set is not
  installed, so the tests need no download);
- default: the lesson's real experiment in a few minutes on 2 CPU cores;
- ``--full``: the paper-scale setting.

Results go to ``outputs/NN_name/`` (or ``$MINIGRAD_OUTPUTS/NN_name/``, or
``<--out>/NN_name/``: two lessons never share a folder): PNG plots and a
``metrics.json``, each written atomically (temporary file, then rename; a failed
write leaves no temporary file, and those of killed processes are removed on the
next run). ``--tag NAME`` runs a variant (say, after editing a line as an
exercise) into ``NN_name-NAME/`` beside the default's, with the tag in every
figure title.

Every training run of a lesson keeps one checkpoint (the last epoch, with the
best epoch's parameters inside) in ``NN_name/checkpoints/<mode>_seed<S>/``; after
an interrupt (Ctrl-C, a lost session), the same command with ``--resume``
continues each run from its last finished epoch (finished runs are read back,
not trained again), so nothing already computed is lost. A run never starts over
an unfinished run's checkpoint unless given ``--resume`` (continue it) or
``--fresh`` (replace it); resuming refuses a checkpoint made by other code or
settings (see ``minigrad/checkpoint.py``). Refusals print as one message, not a
traceback. Only this module and plotting touch the host side of results.
"""
import argparse
import io
import json
import os
import sys

import numpy as np

from .backend import describe, to_device, to_numpy
from .checkpoint import CheckpointError, atomic_write, remove_stale_temps

_TAGS = {}                      # output folder -> the --tag of the run writing there (for figure titles)


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def _tag(text):
    if not text or not all(c.isalnum() or c in "-_." for c in text) or text.startswith("."):
        raise argparse.ArgumentTypeError(f"use letters, digits, '-', '_' and '.' only, got {text!r}")
    return text


def names_from(choices):
    """An argparse type for a lesson's own options (``parse_args(options=...)``): a comma-separated
    subset of ``choices``, returned in the order of ``choices``."""
    def parse(text):
        given = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in given if t not in choices]
        if bad or not given:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)} (comma-separated), got {text!r}")
        return [c for c in choices if c in given]
    return parse


def _one_line_refusals(kind, value, tb):
    """Print a refused run (a CheckpointError) as its message, without a traceback."""
    if issubclass(kind, CheckpointError):
        print(f"error: {value}", file=sys.stderr)
    else:
        sys.__excepthook__(kind, value, tb)


def parse_args(description, argv=None, options=None):
    """Parse --smoke/--full/--seed/--out/--tag/--resume/--fresh. Returns an argparse Namespace with ``mode``.

    ``options``: a function given the parser, adding the lesson's own arguments (lesson 11's
    ``--data``/``--models``/``--seeds``, which pick part of a long ``--full`` run).

    Bad values end the program with one line (argparse's usage error); a refused
    checkpoint (``CheckpointError``) later prints as one message instead of a traceback.
    """
    p = argparse.ArgumentParser(description=description)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--smoke", action="store_true", help="tiny run in seconds (used by the tests)")
    g.add_argument("--full", action="store_true", help="the paper's settings (slow)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of every random draw, >= 0 (default 0)")
    p.add_argument("--out", default=None,
                   help="folder under which the lesson writes its own folder (default outputs/)")
    p.add_argument("--tag", type=_tag, default=None,
                   help="name of a variant: outputs go to <lesson>-TAG/ beside the default's, the tag in every title")
    r = p.add_mutually_exclusive_group()
    r.add_argument("--resume", action="store_true",
                   help="continue interrupted runs from their per-epoch checkpoints (give the same other options)")
    r.add_argument("--fresh", action="store_true",
                   help="start every run afresh, replacing the checkpoints of earlier (even unfinished) runs")
    p.add_argument("--reference", action="store_true",
                   help="train through the layers' textbook kernels (*_reference), as MINIGRAD_KERNELS=reference")
    if options is not None:
        options(p)
    args = p.parse_args(argv)
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        p.error(f"--out {args.out} is a file; give a folder (each lesson writes its own folder inside it)")
    if args.reference:
        from .backend import set_kernels
        set_kernels("reference")
    args.mode = "smoke" if args.smoke else "full" if args.full else "default"
    sys.excepthook = _one_line_refusals
    return args


def output_dir(lesson_file, args):
    """Create and return this lesson's folder for plots, metrics and checkpoints:
    ``<--out or $MINIGRAD_OUTPUTS or outputs>/<lesson name>[-<tag>]/``."""
    name = os.path.splitext(os.path.basename(lesson_file))[0]
    tag = getattr(args, "tag", None)
    root = getattr(args, "out", None) or os.environ.get("MINIGRAD_OUTPUTS", "outputs")
    path = os.path.join(root, f"{name}-{tag}" if tag else name)
    os.makedirs(path, exist_ok=True)
    remove_stale_temps(path, recursive=True)
    if tag:
        _TAGS[os.path.abspath(path)] = tag
    print(f"{name}: mode {args.mode}, seed {args.seed}{f', tag {tag}' if tag else ''}, {describe()}; "
          f"writing to {path}/")
    return path


def checkpoint_path(out_dir, args, run):
    """The per-epoch checkpoint file of one training run of a lesson (``Trainer(checkpoint=...)``).

    One folder per mode and seed (``checkpoints/default_seed0/``), so that ``--resume``
    only ever continues a run made with the same settings. With ``--fresh`` an existing
    checkpoint of this run is removed (and the lesson says so): the run starts afresh.
    """
    folder = os.path.join(out_dir, "checkpoints", f"{args.mode}_seed{args.seed}")
    os.makedirs(folder, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(run))
    path = os.path.join(folder, name + ".npz")
    if getattr(args, "fresh", False) and os.path.exists(path):
        os.remove(path)
        print(f"--fresh: removed the checkpoint {path}; run {run!r} starts afresh")
    return path


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
    """Write ``metrics`` (dicts, lists, numbers, arrays) as JSON atomically; returns the path.

    A variant's metrics (``--tag``) record the tag."""
    tag = _TAGS.get(os.path.abspath(out_dir))
    if tag and isinstance(metrics, dict):
        metrics = {"tag": tag, **metrics}
    text = json.dumps(_jsonable(metrics), indent=2).encode()
    return atomic_write(os.path.join(out_dir, name), lambda f: f.write(text))


def _tag_titles(fig, tag):
    """Put ``[tag]`` in the figure's title: its suptitle, else every axes title, else a new suptitle."""
    mark = f"[{tag}]"
    sup = fig._suptitle
    if sup is not None and sup.get_text():
        sup.set_text(f"{sup.get_text()} {mark}")
        return
    titled = [ax for ax in fig.axes if ax.get_title()]
    for ax in titled:
        ax.set_title(f"{ax.get_title()} {mark}")
    if not titled:
        fig.suptitle(mark)


def save_figure(fig, out_dir, name):
    """Save a matplotlib figure as PNG atomically and close it; returns the path.

    For a variant (``--tag``), the tag is added to the figure's title first."""
    import matplotlib.pyplot as plt
    tag = _TAGS.get(os.path.abspath(out_dir))
    if tag:
        _tag_titles(fig, tag)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return atomic_write(os.path.join(out_dir, name), lambda f: f.write(buf.getvalue()))


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
        log_scale(ax, [v for ys in series.values() for v in to_numpy(np.asarray(ys, dtype=float))])
    if xlabel == "epoch":
        epoch_ticks(ax)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return save_figure(fig, out_dir, name)


def plot_accuracy(out_dir, runs, style, title, chance=None, name="accuracy.png"):
    """Training and validation accuracy per epoch, side by side, one line per run.

    ``runs``: run name -> dict with a ``history`` (the Trainer's) or ``histories``
    (one per seed: each seed is drawn thin and the mean over seeds thick; a seed that
    stopped early, e.g. diverged, counts in the mean only for the epochs it ran);
    ``style(name)`` gives the matplotlib format string of a run's line; ``chance``
    draws a dotted line at chance accuracy. Saves ``name`` in ``out_dir``; returns the path.
    """
    fig, axes = figure(1, 2, figsize=(11, 4), sharey=True)
    for ax, key in zip(axes, ("train_acc", "val_acc")):
        for run_name, r in runs.items():
            curves = [h[key] for h in (r["histories"] if "histories" in r else [r["history"]])]
            if len(curves) == 1:
                ax.plot(np.arange(1, len(curves[0]) + 1), curves[0], style(run_name), label=run_name)
                continue
            table = np.full((len(curves), max(len(c) for c in curves)), np.nan)   # seeds x epochs
            for i, c in enumerate(curves):
                table[i, :len(c)] = c
                ax.plot(np.arange(1, len(c) + 1), c, style(run_name), lw=0.6, alpha=0.35)
            ax.plot(np.arange(1, table.shape[1] + 1), np.nanmean(table, axis=0), style(run_name), lw=1.8,
                    label=f"{run_name} (mean of {len(curves)} seeds)")
        if chance is not None:
            ax.axhline(chance, color="gray", lw=0.8, ls=":")
        ax.set_xlabel("epoch"), ax.set_title(key.replace("_", " ")), ax.grid(alpha=0.3), ax.legend()
        epoch_ticks(ax)
    axes[0].set_ylabel("accuracy")
    fig.suptitle(title)
    return save_figure(fig, out_dir, name)


def plot_loss_and_accuracy(out_dir, name, histories, paper, titles):
    """Training loss (left) and validation accuracy in % (right) per epoch, one colour per run.

    ``histories``: run name -> the Trainer's history (``train_loss``, ``val_acc``);
    ``paper``: run name -> the paper's test accuracy in %, drawn dashed in the run's colour
    where given; ``titles``: (left, right). Saves ``name`` in ``out_dir``; returns the path.
    """
    fig, axes = figure(1, 2, figsize=(11, 4))
    for i, (run, h) in enumerate(histories.items()):
        e = np.arange(1, len(h["val_acc"]) + 1)
        axes[0].plot(e, h["train_loss"], f"C{i}", label=run)
        axes[1].plot(e, 100 * np.array(h["val_acc"]), f"C{i}", label=f"{run} (validation)")
        if run in paper:
            axes[1].axhline(paper[run], color=f"C{i}", ls="--", lw=0.8, label=f"paper {run} {paper[run]:.2f}% (test)")
    axes[0].set_ylabel("training loss (running mean over the epoch)"), axes[1].set_ylabel("accuracy (%)")
    axes[0].set_title(titles[0]), axes[1].set_title(titles[1])
    for ax in axes:
        ax.set_xlabel("epoch"), ax.grid(alpha=0.3), ax.legend(fontsize=7)
        ax.set_xticks(range(1, max(len(h["val_acc"]) for h in histories.values()) + 1))
    return save_figure(fig, out_dir, name)


def paper_line(ax, value, label, color="k", ls=":"):
    """Mark a number the paper gives: a horizontal line at ``value`` labelled ``paper: <label>``."""
    ax.axhline(value, color=color, ls=ls, lw=1.2, label=f"paper: {label}")


def epoch_ticks(ax):
    """Ticks on the x axis at whole epochs only (no 2.5)."""
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def log_scale(ax, values, axis="y"):
    """A log axis that does not break at 0: ``symlog`` (linear below the smallest
    positive value) when ``values`` include 0 or less, else a plain log axis."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    positive = values[values > 0]
    set_scale = ax.set_yscale if axis == "y" else ax.set_xscale
    if len(positive) == len(values):
        set_scale("log")
    else:
        set_scale("symlog", linthresh=float(positive.min()) if len(positive) else 1.0)


def layer_names(model):
    """Readable names of a model's feedback weights, for plot legends: ``{"1.W": "hidden 1", ...}``.

    Keys are as in ``model.params`` (and the AlignmentMonitor's ``grad_angle/<key>``).
    Convolutions are "conv 1", "conv 2", ...; recurrent layers "recurrent 1", ...; the
    last dense layer is "output" and the others "hidden 1", "hidden 2", ... A layer with
    several feedback weights adds the weight's name ("recurrent 1 Wh").
    """
    from .feedback import feedback_layers
    layers = feedback_layers(model)
    kind = {p: "conv" if "Conv" in type(layer).__name__ else "recurrent" if "RNN" in type(layer).__name__
            else "dense" for p, layer in layers}
    last_dense = [p for p, _ in layers if kind[p] == "dense"][-1:]
    counts, names = {}, {}
    for prefix, layer in layers:
        k = kind[prefix]
        counts[k] = counts.get(k, 0) + 1
        base = "output" if [prefix] == last_dense else f"{'hidden' if k == 'dense' else k} {counts[k]}"
        weights = list(layer.feedback_of)
        for w in weights:
            names[prefix + w] = base if len(weights) == 1 else f"{base} {w}"
    return names


def mean_sd(values, digits=2):
    """Per-seed numbers for a printed table: 'm' for one value, 'm +- sd' (sample sd) for several;
    None (a run that produced no number) counts as NaN."""
    v = np.asarray([np.nan if x is None else x for x in values], dtype=float)
    m = f"{v.mean():.{digits}f}"
    return m if len(v) == 1 else f"{m} +- {v.std(ddof=1):.{digits}f}"


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


TEST_SUBSET_SEED = 20141104         # fixed: every seed and lesson reads the same test subset


def cifar10_subset(args, n_train, n_val, rng, n_test=10000, used=None):
    """CIFAR-10 as Trainer data (``n_train`` training and ``n_val`` validation images,
    drawn from the training split) and ``n_test`` test images (all 10,000 of the test
    split, or a random subset of them, the same for every seed: ``TEST_SUBSET_SEED``).

    The validation images are held out of the training split (``train_val_split``):
    lessons choose epochs and settings on them, and read the test images only with
    the chosen model. All images are standardised with the training subset's
    per-channel statistics: X (N, 3, 32, 32) float32, y (N,) int64. For ``--smoke``
    without the data set, synthetic images stand in (and the lesson says so).
    Give a list as ``used`` to have what was used appended to it
    (``provenance.data_used``, ``fallback=True`` for the synthetic stand-in), for
    the lesson's provenance.

    Returns:
        (data, (X_test, y_test)).
    """
    from .data import load_cifar10, standardize, train_val_split
    from .data.paths import data_dir
    from .provenance import data_used
    try:
        images, labels = load_cifar10(split="train")
        test_images, test_labels = load_cifar10(split="test")
        fallback = False
    except FileNotFoundError:
        if args.mode != "smoke":
            raise
        print("CIFAR-10 is not installed: --smoke runs on synthetic images")
        # one draw, so that the test images come from the same class templates as the training ones
        images, labels = synthetic_images(n_train + n_val + n_test, (3, 32, 32), 10, rng)
        images, test_images = images[:-n_test], images[-n_test:]
        labels, test_labels = labels[:-n_test], labels[-n_test:]
        fallback = True
    data = train_val_split(images, labels, n_val, rng, n_train=n_train)
    if n_test < len(test_images):
        # the test split may be stored sorted by class (the image folder's is: its first 2,000 images
        # are all airplanes and cars), so a subset is drawn at random: the same one for every seed
        pick = np.sort(np.random.default_rng(TEST_SUBSET_SEED).permutation(len(test_images))[:n_test])
        test_images, test_labels = test_images[pick], test_labels[pick]
    data["X_train"], data["X_val"], X_test = standardize(data["X_train"], data["X_val"], test_images)
    info = data_used("synthetic images" if fallback else "CIFAR-10",
                     "experiment.synthetic_images" if fallback else str(data_dir() / "cifar10"),
                     n_train=len(data["X_train"]), n_val=len(data["X_val"]), n_test=len(X_test), fallback=fallback,
                     note="CIFAR-10 not installed: python data_scripts/cifar10.py" if fallback else "")
    if used is not None:
        used.append(info)
    return data, (X_test, test_labels)


def test_on_best(trainer, X_test, y_test):
    """Test loss and accuracy of the epoch chosen on validation (host floats).

    Puts the best epoch's parameters back (``trainer.restore_best()``, kept by
    validation accuracy) and evaluates them once on the test set. Lessons read
    their test set only here, after training: it never chooses an epoch or a setting.
    """
    trainer.restore_best()
    return trainer.evaluate(to_device(X_test), to_device(y_test))


def mnist_or_sample(split="train"):
    """MNIST if installed (``python data_scripts/mnist.py``), else the embedded sample: a fallback, announced.

    The embedded sample has 5,000 training digits (sorted by class: draw a permutation)
    and 2,000 test digits.

    Args:
        split: "train", "test" or "both".
    Returns:
        (images, labels), or for "both" ((x_train, y_train), (x_test, y_test)): uint8
        (N, 28, 28) images and int64 labels; then a dict ``source``, ``fallback``, ``note``
        to pass on to ``provenance.data_used(name, **that)``.
    """
    from .data import load_mnist, load_mnist_sample
    from .data.paths import data_dir
    splits = ("train", "test") if split == "both" else (split,)
    try:
        arrays = [load_mnist(split=s) for s in splits]
        info = dict(source=str(data_dir() / "mnist"), fallback=False, note="")
        if len(arrays[0][0]) < (60000 if splits[0] == "train" else 10000):
            info["source"] += f" (a {len(arrays[0][0]):,}-digit subset)"
            info["note"] = "the installed MNIST is a subset: " + ", ".join(
                f"{len(x)} {s} digits" for s, (x, _) in zip(splits, arrays))
    except FileNotFoundError:
        arrays = [load_mnist_sample(s) for s in splits]
        info = dict(source="embedded MNIST sample (minigrad/data/embedded)", fallback=True,
                    note="MNIST not installed (python data_scripts/mnist.py): the embedded 5,000-digit sample instead")
        print(info["note"])
    return (tuple(arrays) if split == "both" else arrays[0]), info


def mnist_train_test(n_train, n_test, rng):
    """MNIST digits, or the embedded 5,000-digit sample when MNIST is not installed (``mnist_or_sample``).

    Args:
        n_train: how many shuffled training digits (None: all).
        n_test: how many test digits (the first ones).
    Returns:
        (x_train, y_train, x_test, y_test): uint8 (N, 28, 28) images and int64 labels.
    """
    ((xtr, ytr), (xte, yte)), _ = mnist_or_sample("both")
    tr = rng.permutation(len(xtr))[: n_train or len(xtr)]
    te = np.arange(min(n_test, len(xte)))
    return xtr[tr], ytr[tr], xte[te], yte[te]


LATERAL_DATASETS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10 (gray)"}


def lateral_images(name, args, n_train, n_val, n_test, size, rng):
    """A data set prepared as the lateral-connections paper does (section 3.3), for lessons 22-24.

    "images were gray-scaled, resized to 48x48"; "Training/validation sets were 85% and
    15%" of the training split. Here: ``grayscale`` (CIFAR-10), ``resize_bilinear`` to
    ``size`` (None: keep the native 28x28 / 32x32), scaled to [0, 1] and standardised with
    the training subset's mean and std. MNIST falls back to the embedded 5,000-digit
    sample when the full set is missing; Fashion-MNIST and CIFAR-10 fall back to
    synthetic images in ``--smoke`` only (and say so).

    Args:
        name: "mnist", "fashion_mnist" or "cifar10".
        args: the lesson's arguments (``mode``).
        n_train, n_val: training and validation images drawn from the training split
            (None: all of it, 85/15); n_test: that many test images drawn at random (None: all).
        size: side of the resized images, or None.
        rng: numpy Generator (the split's permutation).
    Returns:
        (data for the Trainer: X (N, 1, s, s) float32, y (N,) int64; (X_test, y_test);
        ``provenance.data_used`` dict).
    """
    from .data import (data_dir, grayscale, load_cifar10, load_fashion_mnist, resize_bilinear, standardize,
                       train_val_split)
    from .provenance import data_used
    if name == "mnist":                                # MNIST, or the embedded sample, announced
        ((xtr, ytr), (xte, yte)), info = mnist_or_sample("both")
        source, note, fallback = info["source"], info["note"], info["fallback"]
    else:
        load, folder = {"fashion_mnist": (load_fashion_mnist, "fashion-mnist"),
                        "cifar10": (load_cifar10, "cifar10")}[name]
        source, note, fallback = str(data_dir() / folder), "", False
        try:
            (xtr, ytr), (xte, yte) = load(split="train"), load(split="test")
        except FileNotFoundError:
            if args.mode != "smoke":
                raise
            fallback, source = True, "synthetic images"
            note = f"{LATERAL_DATASETS[name]} is not installed: --smoke runs on synthetic images"
            shape = (3, 32, 32) if name == "cifar10" else (28, 28)
            xtr, ytr = synthetic_images((n_train or 100) + (n_val or 20), shape, 10, rng)
            xte, yte = synthetic_images(n_test or 100, shape, 10, rng)
            print(note)
    if xtr.ndim == 3:                                  # (N, 28, 28) -> (N, 1, 28, 28)
        xtr, xte = xtr[:, None], xte[:, None]
    if n_train is None and n_val is None:
        n_val = 0.15
    elif n_val is None:
        n_val = max(1, round(n_train * 15 / 85))
    data = train_val_split(xtr, ytr, n_val, rng, n_train=n_train)
    if n_test is not None and n_test < len(xte):
        # a random subset: the CIFAR-10 image folder's test split is sorted by class
        keep = np.sort(rng.permutation(len(xte))[:n_test])
        xte, yte = xte[keep], yte[keep]
    X_test, y_test = xte, yte

    def prep(x):
        x = grayscale(x)
        if size is not None and x.shape[-1] != size:
            x = resize_bilinear(x, size)
        return x.astype(np.float32) / 255.0
    data["X_train"], data["X_val"], X_test = standardize(prep(data["X_train"]), prep(data["X_val"]), prep(X_test))
    used = data_used(LATERAL_DATASETS[name], source, n_train=len(data["X_train"]), n_val=len(data["X_val"]),
                     n_test=len(X_test), fallback=fallback, note=note)
    return data, (X_test, y_test), used
