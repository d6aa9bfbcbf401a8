"""Lesson 02: checking a backward pass against finite differences.

What it shows
    Every gradient in minigrad is written by hand, so every layer is tested the
    same way: pick a random upstream gradient G, define the scalar
    L = sum(layer(x) * G), and compare ``backward(G)`` with the centred
    difference (L(p + h) - L(p - h)) / 2h for every input and parameter entry,
    in float64. The relative error ||a - n|| / (||a|| + ||n||) of a correct
    backward is about 1e-9 or smaller; a wrong one is 1e-3 or worse. The lesson
    checks the real layers, then three deliberately broken ones, each a classic
    bug, and shows how loudly the check fails.

    Then it shows that the textbook code is the code that trains. Conv2d,
    MaxPool2d, BatchNorm and RNN have two versions of their passes: fast
    kernels (the default, rearranged for speed) and the textbook ones, the
    ``*_reference`` functions in their files. ``--reference`` (or
    ``MINIGRAD_KERNELS=reference``) makes every layer train through the
    textbook ones. The lesson trains a small MLP with batchnorm on the
    embedded MNIST sample four ways: fast kernels; textbook kernels (the same
    curve: the two agree to float32 rounding); textbook kernels with the bug of
    ``BrokenBatchNorm`` put into the textbook backward
    (``batchnorm_backward_stats_as_constants`` below replaces
    ``batchnorm_backward_reference`` for that run); and the fast kernels with the
    same replacement, which do not call the textbook function, so their curve
    does not move. Default run: the broken textbook run's training loss stalls
    near 0.50 after 4 epochs where the correct runs reach 0.18, and its
    validation accuracy ends 6 points lower (0.84 against 0.90; training.png).

What to read
    - ``minigrad/gradcheck.py``: ``numeric_grad`` is a dozen lines.
    - The ``Broken*`` classes below: each changes one line of a real backward.
    - ``batchnorm_reference`` and ``batchnorm_backward_reference`` at the end of
      ``minigrad/nn/batchnorm.py``: the textbook batchnorm that ``--reference`` trains.

What to change
    - Edit the textbook backward yourself: in ``minigrad/nn/batchnorm.py``,
      ``batchnorm_backward_reference``, delete the line
      ``dx = dx + (w / n) * (dm + 2 * dv * (x - c))`` (the batch statistics then
      count as constants, the bug above) and run
      ``python lessons/02_gradient_check.py --reference``. Expect: the gradient
      check of "BatchNorm (train)" fails (x error about 1e-1; the lesson writes
      its outputs, then stops with a message naming the failed check), and the
      "textbook kernels (...as in the file)" run now stalls like the injected
      bug's (train loss 0.50 after 4 epochs instead of 0.18, in the table and
      in training.png). Run without ``--reference``
      and the edit changes nothing: the fast kernels (``_normalize_backward``)
      train. Undo the edit afterwards (``git checkout minigrad/nn/batchnorm.py``).
    - Break a layer yourself (for example drop the ``1 - h*h`` factor in
      ``minigrad/nn/rnn.py``, in ``RNN.backward`` for the default kernels or in
      ``rnn_backward_reference`` for ``--reference``) and run this lesson again.
    - See why the upstream gradient G must be random: set it to all ones in
      ``check_layer`` (``minigrad/gradcheck.py``). Batchnorm's true input and gamma
      gradients are then exactly zero, so the check compares zeros with rounding
      noise and can no longer tell the correct layer from the broken one.

Run
    python lessons/02_gradient_check.py [--smoke | --full] [--reference]
    (about 15 s by default; the gradient checks then test the textbook kernels too)
Outputs: outputs/02_gradient_check/errors.png, training.png and metrics.json.
"""
import numpy as np

from minigrad import backend, nn, optim, provenance
from minigrad.data import flatten, load_mnist_sample, normalize
from minigrad.experiment import (epoch_ticks, figure, log_scale, output_dir, parse_args, print_table, save_figure,
                                 save_metrics)
from minigrad.gradcheck import check_layer
from minigrad.ledger import round_sig
from minigrad.nn import batchnorm
from minigrad.trainer import Trainer


class BrokenLinear(nn.Linear):
    """Bug: divides dW by the batch size, although the loss already averaged over the batch."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.x.T @ dout / len(dout)
        return dx


class BrokenBatchNorm(nn.BatchNorm):
    """Bug: treats the batch mean and variance as constants in backward."""

    def backward(self, dout):
        super().backward(dout)
        return dout * self.params["gamma"] / self.cache["s"]


class BrokenTanh(nn.Tanh):
    """Bug: uses 1 - out instead of 1 - out**2 as the derivative."""

    def backward(self, dout):
        return dout * (1 - self.out)


def batchnorm_backward_stats_as_constants(dout, cache, gamma=None):
    """``batchnorm_backward_reference`` (minigrad/nn/batchnorm.py) with one line deleted,
    the line that carries the gradient through the batch mean and variance::

        dx = dx + (w / n) * (dm + 2 * dv * (x - c))

    so dx = dout * gamma / s, as if mu and var were constants (``BrokenBatchNorm``'s bug).
    """
    x_hat, s = cache["x_hat"], cache["s"]
    dgamma = dbeta = None
    if gamma is not None:
        dgamma, dbeta = (dout * x_hat).sum(axis=0), dout.sum(axis=0)
        dx_hat = dout * gamma
    else:
        dx_hat = dout
    return dx_hat / s, dgamma, dbeta


def train_bn_mlp(data, cfg, seed, kernels, textbook_backward=None):
    """Train 784-H-BN-ReLU-H-BN-ReLU-10 with SGD under ``kernels``; ``textbook_backward``
    (if given) replaces ``batchnorm.batchnorm_backward_reference`` for this run only.
    Returns the history (train_loss, val_acc per epoch)."""
    keep_kernels, keep_backward = backend.kernels(), batchnorm.batchnorm_backward_reference
    backend.set_kernels(kernels)
    if textbook_backward is not None:
        batchnorm.batchnorm_backward_reference = textbook_backward   # what editing the file does
    try:
        rng = np.random.default_rng(seed)
        H = cfg["hidden"]
        model = nn.Sequential(nn.Linear(784, H, rng=rng), nn.BatchNorm(H), nn.ReLU(),
                              nn.Linear(H, H, rng=rng), nn.BatchNorm(H), nn.ReLU(), nn.Linear(H, 10, rng=rng))
        trainer = Trainer(model, data, optim.SGD(lr=0.1), batch_size=50, epochs=cfg["epochs"], rng=seed,
                          progress=False)
        return trainer.fit()
    finally:
        backend.set_kernels(keep_kernels)
        batchnorm.batchnorm_backward_reference = keep_backward


def textbook_training(args, out):
    """Part 2: the same network trained four ways (see the module docstring)."""
    cfg = {"smoke": dict(n_train=300, epochs=1, hidden=32),
           "default": dict(n_train=2000, epochs=4, hidden=100),
           "full": dict(n_train=4000, epochs=8, hidden=100)}[args.mode]
    images, labels = load_mnist_sample("train")                     # sorted by class: shuffle
    order = np.random.default_rng(args.seed).permutation(len(images))
    X, y = flatten(normalize(images))[order], labels[order]
    data = {"X_train": X[:cfg["n_train"]], "y_train": y[:cfg["n_train"]], "X_val": X[-500:], "y_val": y[-500:]}
    textbook = "textbook kernels (batchnorm_backward_reference as in the file)"
    runs = {
        "fast kernels": ("fast", None),
        textbook: ("reference", None),
        "textbook kernels, stats-as-constants bug": ("reference", batchnorm_backward_stats_as_constants),
        "fast kernels, same bug in the textbook function": ("fast", batchnorm_backward_stats_as_constants),
    }
    hist = {name: train_bn_mlp(data, cfg, args.seed, k, f) for name, (k, f) in runs.items()}
    rows = [[name, h["train_loss"][-1], h["val_acc"][-1]] for name, h in hist.items()]
    print_table(["training run", "final train loss", "final val acc"], rows)
    fig, ax = figure(figsize=(7, 4))
    for (name, h), style in zip(hist.items(), ("-", "--", "-", ":")):
        ax.plot(np.arange(1, len(h["train_loss"]) + 1), h["train_loss"], style, label=name, lw=2)
    ax.set_xlabel("epoch")
    epoch_ticks(ax)
    ax.set_ylabel("training loss")
    ax.legend(fontsize=8)
    ax.set_title("Lesson 02: the textbook backward is the one that trains (--reference)")
    save_figure(fig, out, "training.png")
    fast, ref = np.array(hist["fast kernels"]["train_loss"]), np.array(hist[textbook]["train_loss"])
    used = provenance.data_used("MNIST (embedded sample)", "minigrad/data/embedded (5,000 training digits)",
                                n_train=len(data["X_train"]), n_val=len(data["X_val"]))
    return used, {"settings": cfg, "runs": {name: {"train_loss": h["train_loss"], "val_acc": h["val_acc"]}
                                      for name, h in hist.items()},
            "max_loss_difference_fast_vs_textbook": float(np.abs(fast - ref).max())}


def cases(mode):
    n = 3 if mode == "smoke" else 6
    good = {
        "Linear": (nn.Linear(8, 5, rng=0), (n, 8)),
        "Conv2d (stride 2, pad 1)": (nn.Conv2d(3, 4, 3, stride=2, padding=1, rng=0), (2, 3, 7, 7)),
        "MaxPool2d": (nn.MaxPool2d(2), (2, 3, 6, 6)),
        "BatchNorm (train)": (nn.BatchNorm(5), (n, 5)),
        "RNN (tanh, 6 steps)": (nn.RNN(4, 5, rng=0), (n, 6, 4)),
    }
    if mode == "full":
        good["BatchNorm2d (train)"] = (nn.BatchNorm2d(3), (4, 3, 5, 5))
        good["RNN (sigmoid, 20 steps)"] = (nn.RNN(4, 8, activation="sigmoid", rng=0), (4, 20, 4))
    broken = {
        "BrokenLinear (dW / N)": (BrokenLinear(8, 5, rng=0), (n, 8)),
        "BrokenBatchNorm (stats as constants)": (BrokenBatchNorm(5), (n, 5)),
        "BrokenTanh (1 - out)": (BrokenTanh(), (n, 5)),
    }
    return good, broken


def main():
    args = parse_args(__doc__.splitlines()[0])
    out = output_dir(__file__, args)
    rng = np.random.default_rng(args.seed)
    good, broken = cases(args.mode)
    rows, metrics = [], {}
    for kind, group in (("correct", good), ("broken", broken)):
        for name, (layer, shape) in group.items():
            errors = check_layer(layer, rng.standard_normal(shape), rng=rng)
            worst = max(errors.values())
            # stored to 3 significant digits: 1.23e-10, not 1.2345678901234e-10
            metrics[name] = {"kind": kind, "errors": {k: round_sig(v, 3) for k, v in errors.items()},
                             "worst": round_sig(worst, 3)}
            verdict = "ok" if worst < 1e-7 else "WRONG"
            rows.append([name, kind, ", ".join(f"{k} {v:.1e}" for k, v in errors.items()), verdict])
    print_table(["layer", "backward", "relative error per input/parameter", "check"], rows)

    fig, ax = figure(figsize=(7, 4))
    names = list(metrics)
    worst = [metrics[k]["worst"] for k in names]
    colors = ["tab:green" if metrics[k]["kind"] == "correct" else "tab:red" for k in names]
    ax.barh(names, worst, color=colors)
    log_scale(ax, worst, axis="x")                       # an exact 0 error would not show on a plain log axis
    ax.axvline(1e-7, color="k", ls="--", label="threshold 1e-7")
    ax.set_xlabel("worst relative error (log scale)")
    ax.legend()
    ax.set_title("Lesson 02: correct backward passes vs classic bugs")
    save_figure(fig, out, "errors.png")
    clock = provenance.Clock()
    with clock("train"):
        used, training = textbook_training(args, out)
    # the gradient checks use random float64 arrays (no data set); the training part the MNIST sample
    save_metrics(out, {"gradient_checks": metrics, "kernels": backend.kernels(), "textbook_training": training,
                       "provenance": provenance.collect(args, data=[used], clock=clock)})
    failed = [k for k, v in metrics.items() if v["kind"] == "correct" and v["worst"] >= 1e-7]
    if failed:
        raise SystemExit(f"lesson 02: the gradient check failed for {failed} under the {backend.kernels()} "
                         "kernels: is a backward edited? (outputs written)")
    assert all(v["worst"] > 1e-4 for v in metrics.values() if v["kind"] == "broken")


if __name__ == "__main__":
    main()
