"""Lesson 15: NegLUs in a LeNet (MixLU-LeNet) on MNIST and Fashion-MNIST.

What it shows
    Thesis "Negative rectifiers", sections 4.4.3 and 4.5.1. A NegLU outputs
    min(0, x), the mirror image of a ReLU. The thesis replaces a share (1-10%)
    of the ReLUs in the one "fully connected" stage of MatConvNet's MNIST
    LeNet by NegLUs (a "MixLU" layer) and reports (tables 6-8, figure 12):
    1. test error rises slowly with the NegLU share, 0.92% (ReLU) to 2.68% at
       9%, and training diverges at 10% (90.20% error);
    2. training error rises faster than test error: the train/test gap
       narrows (less overfitting);
    3. in the first epochs the 1% MixLU net reaches low error sooner than the
       ReLU net, then steps out of those regions again.
    We train the same network with 0-10% NegLUs, plot training and test
    error per epoch for each share (figure 12), the gap against the share
    (table 7), the first epochs of 0% vs 1% (table 8), and report at which
    share (if any) training diverged.

The network (section 4.4.3, MatConvNet's LeNet)
    conv 5x5x20 - maxpool 2 - conv 5x5x50 - maxpool 2 - conv 4x4x500 -
    ReLU/MixLU - conv 1x1x10 - softmax. The conv 4x4x500 sees a 4x4 map, so it
    is a fully connected layer whose output is (N, 500, 1, 1); ``MixedReLU``
    with ``exact=True`` makes exactly round(share * 500) of those channels
    NegLUs (1% = 5 units). Every share starts from the same initial weights.

Training (the thesis does not state it; it uses MatConvNet's example, whose
settings are taken here): SGD with momentum 0.9, learning rate 0.001, batch
100, weight decay 5e-4, weights drawn as 0.01 * N(0, 1), biases 0, inputs the
raw pixels 0..255 minus the mean training image; 20 epochs in ``--full``.
Reported numbers are at the epoch of best *validation* accuracy (a split held
out of the training data); the test set is only evaluated, never used to pick.
"Training error" is the running error over each epoch's mini-batches, as
MatConvNet reports it.

Data (which is which)
    MNIST: the 5,000-digit training sample embedded in minigrad
    (``load_mnist_sample``; 4,500 train / 500 validation) and the first 2,000
    digits of the official test set; the thesis trained on all 60,000 and tested
    on 10,000 (``--full`` uses full MNIST when ``data_scripts/mnist.py`` has
    installed it). One test digit is 0.05%, so differences of a tenth of a
    percent are within noise here.
    Fashion-MNIST (full, 60,000 / 10,000; ``data_scripts/fashion_mnist.py``):
    the same network and settings at full data size; skipped, with a note,
    when it is not installed.

What to read
    - ``minigrad/nn/neglu.py`` (NegLU, its smooth version) and
      ``minigrad/nn/mixed_relu.py`` (MixLU: one mask ``[sign * x > 0]``).

What to change
    - ``fractions`` and ``epochs`` in ``SETTINGS``; ``lr`` (divergence depends on it).

Why a null result is expected here
    min(0, x) = -max(0, -x): a NegLU is a ReLU with its input and output
    negated. In this network the MixLU sits on one unit per channel of conv
    4x4x500 and feeds the linear conv 1x1x10, so negating a NegLU unit's
    incoming filter and bias and its outgoing weights turns it into a ReLU unit
    computing the same function (tests/test_negative_rectifiers.py checks
    this). The initial weights are symmetric (N(0, s^2)) and SGD with momentum
    and weight decay commutes with that sign flip, so with exact gradients a
    MixLU-LeNet of any share trains like the ReLU-LeNet from another, equally
    likely initialisation. The thesis describes the NegLU's derivative as
    negative ("can receive a weight update which is opposite to the direction
    of steepest descent", chapter 5.1), while the derivative of min(0, x) is 1
    for x < 0 and 0 elsewhere; effects that grow with the share, and the
    divergence at 10%, would follow from a backward pass that negates it. That
    is our reading, not something the thesis states or this lesson tests.

Measured (default run, seed 0)
    MNIST sample, 10 epochs, errors at the best-validation epoch (epoch 10 for
    all but 6%, epoch 7): test error 4.25 / 4.15 / 3.95 / 4.20 / 4.00 / 4.15 /
    4.15 / 3.85% at 0 / 1 / 2 / 4 / 6 / 8 / 9 / 10% NegLUs (thesis, full MNIST:
    0.92 rising to 2.68% at 9%); training error 0.24-0.29% (1.04% at 6%, its
    earlier epoch); gap 3.0-4.0 points with no trend (thesis: 0.92 -> 0.59).
    None of the claims holds here: test error does not rise (the spread, 0.4
    points, is 8 of 2,000 test digits), the gap does not narrow, and no run
    diverged up to 10% (the largest share tried; the thesis's diverged at 10%).
    First epochs (table 8): ReLU and 1% test error per epoch are within half a
    point of each other (epoch 2: 9.55 vs 10.00%, epoch 5: 6.15 vs 6.10%,
    epoch 9: 4.15 vs 4.15%); the 1% net is not ahead.
    Fashion-MNIST (10,000 images, 2 epochs): test error 20.30 / 20.05 / 20.20%
    at 0 / 5 / 10%, training error 22.2 / 22.1 / 22.0%; no effect, no divergence.
    Time: 919 s (MNIST) + 135 s (Fashion-MNIST) = 17.6 minutes, measured while
    the 2 cores were shared with other jobs (load average 8-11); not measured
    on an idle machine. (Run of 2026-12-02, made before the lesson recorded claims.)
    Claims (``claims`` below; verdicts by its rules on the numbers above; a new default run
    writes them, with the data used, to metrics.json):
    - 15.mnist.test-rises, does not hold: 4.25% at 0% and 4.15% at 9% NegLUs (thesis: +1.76 points).
    - 15.mnist.gap-narrows: the gap narrows by 0.10 point plus the 0.00-0.05 point difference of the
      two training errors (0.24-0.29%), so by less than the rule's 0.2: partly (thesis: 0.33).
    - 15.mnist.diverges-at-10, does not hold: the 10% net trains (training error below 1%).
    - 15.mnist.first-epochs: lowest test error of epochs 1-5 is 6.10% (1%) against 6.15% (ReLU),
      so the rule says holds, by one test digit: within noise, not the thesis's effect.
    - 15.fashion.diverges-at-10 (beyond the thesis), does not hold: 22.0% training error at 10%.

Run
    python lessons/15_neglu_lenet_mnist.py            # default (17.6 minutes on 2 busy cores)
    python lessons/15_neglu_lenet_mnist.py --smoke    # seconds
    python lessons/15_neglu_lenet_mnist.py --full     # 20 epochs, every share, full Fashion-MNIST
Default (shortened for 2 CPU cores): MNIST sample, shares 0, 1, 2, 4, 6, 8, 9 and 10%,
10 epochs; Fashion-MNIST 10,000 training images (2,000 validation, all 10,000 test),
shares 0, 5 and 10%, 2 epochs.
Outputs in outputs/15_neglu_lenet_mnist/: <data>_curves.png, <data>_gap.png,
<data>_first_epochs.png, metrics.json.
"""
import time

import numpy as np

from minigrad import ledger, nn, optim, provenance
from minigrad.backend import to_device
from minigrad.experiment import (checkpoint_path, epoch_ticks, figure, mnist_or_sample, output_dir, parse_args,
                                 print_table, save_figure, save_metrics)
from minigrad.trainer import Trainer

ALL_SHARES = tuple(i / 100 for i in range(11))
# thesis table 6 (test error %) and table 7 (training error %), MNIST, by NegLU share
THESIS_TEST = dict(zip(ALL_SHARES, (0.92, 0.95, 1.02, 1.22, 1.14, 1.26, 1.43, 1.45, 2.53, 2.68, 90.20)))
THESIS_TRAIN = dict(zip(ALL_SHARES, (0.00, 0.12, 0.15, 0.34, 0.36, 0.48, 0.61, 0.85, 1.29, 2.09, 90.13)))
# thesis table 8: error per epoch (1-9), ReLU-LeNet vs 1% NegLU
THESIS_FIRST = {0.0: (0.0207, 0.0154, 0.0146, 0.0130, 0.0118, 0.0109, 0.0113, 0.0131, 0.0103),
                0.01: (0.0222, 0.0145, 0.0152, 0.0128, 0.0112, 0.0129, 0.0128, 0.0115, 0.0109)}

TRAINING = dict(lr=1e-3, momentum=0.9, weight_decay=5e-4, batch=100, init_scale=0.01)
SETTINGS = {
    "smoke": dict(mnist=dict(shares=(0.0, 0.01, 0.10), epochs=2, n_train=300, n_val=100, n_test=200),
                  fashion=dict(shares=(0.0, 0.10), epochs=1, n_train=300, n_val=100, n_test=200)),
    "default": dict(mnist=dict(shares=(0.0, 0.01, 0.02, 0.04, 0.06, 0.08, 0.09, 0.10), epochs=10, n_train=4500,
                               n_val=500, n_test=2000),
                    fashion=dict(shares=(0.0, 0.05, 0.10), epochs=2, n_train=10000, n_val=2000, n_test=10000)),
    "full": dict(mnist=dict(shares=ALL_SHARES, epochs=20, n_train=55000, n_val=5000, n_test=10000),
                 fashion=dict(shares=ALL_SHARES, epochs=20, n_train=55000, n_val=5000, n_test=10000)),
}


def build_lenet(share, seed):
    """MatConvNet's MNIST LeNet with a MixLU (``share`` of NegLUs) in place of its one ReLU.

    (N, 1, 28, 28) -> conv5 20 -> (N, 20, 24, 24) -> pool -> (N, 20, 12, 12) -> conv5 50 -> (N, 50, 8, 8)
    -> pool -> (N, 50, 4, 4) -> conv4 500 -> (N, 500, 1, 1) -> MixLU -> conv1 10 -> (N, 10, 1, 1) -> (N, 10).
    The weights come from ``seed`` alone, so every share starts from the same network.
    """
    rng = np.random.default_rng(seed)
    s = TRAINING["init_scale"]
    return nn.Sequential(
        nn.Conv2d(1, 20, 5, rng=rng, weight_scale=s), nn.MaxPool2d(2),
        nn.Conv2d(20, 50, 5, rng=rng, weight_scale=s), nn.MaxPool2d(2),
        nn.Conv2d(50, 500, 4, rng=rng, weight_scale=s),
        nn.MixedReLU(500, negative_fraction=share, exact=True, rng=np.random.default_rng(seed + 1000)),
        nn.Conv2d(500, 10, 1, rng=rng, weight_scale=s), nn.Flatten())


class TestErrorCurve:
    """Trainer rule: after each epoch, the test error, for figure 12's curves only (never used to choose)."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def end_epoch(self, trainer):
        _, acc = trainer.evaluate(self.X, self.y)
        trainer.history.setdefault("test_err", []).append(1 - acc)


def load_data(name, cfg, args, rng):
    """Images as (N, 1, 28, 28) float32 pixels 0..255 minus the mean training image.

    Returns (data, test, description, provenance entry); for an absent Fashion-MNIST
    (None, None, None, provenance entry saying it was skipped)."""
    from minigrad.data import load_fashion_mnist, load_mnist_sample
    from minigrad.data.paths import data_dir
    fallback, note = False, ""
    sample = "embedded 5,000-digit MNIST sample (test: first 2,000 official test digits)"
    if name == "mnist" and args.mode == "full":
        ((xtr, ytr), (xte, yte)), info = mnist_or_sample("both")     # says so when it falls back
        fallback, note = info["fallback"], info["note"]
        source = sample if fallback else f"MNIST ({data_dir() / 'mnist'}: {len(xtr)} / {len(xte)})"
    elif name == "mnist":
        source = sample
        (xtr, ytr), (xte, yte) = load_mnist_sample("train"), load_mnist_sample("test")
        note = "by design outside --full (the thesis trained on all 60,000 digits)"
    else:
        try:
            (xtr, ytr), (xte, yte) = load_fashion_mnist(split="train"), load_fashion_mnist(split="test")
        except FileNotFoundError as e:
            print(f"Fashion-MNIST part skipped: {e}")
            return None, None, None, provenance.data_used(
                "Fashion-MNIST", source="not installed", note="skipped (python data_scripts/fashion_mnist.py)")
        source = f"Fashion-MNIST ({data_dir() / 'fashion-mnist'}: {len(xtr)} / {len(xte)})"
    n_train = min(cfg["n_train"], len(xtr) - cfg["n_val"])
    order = rng.permutation(len(xtr))
    tr, va = order[:n_train], order[n_train:n_train + cfg["n_val"]]
    te = np.arange(min(cfg["n_test"], len(xte)))
    mean = xtr[tr].astype(np.float32).mean(axis=0)

    def prep(x):
        return (x.astype(np.float32) - mean)[:, None]
    data = {"X_train": prep(xtr[tr]), "y_train": ytr[tr], "X_val": prep(xtr[va]), "y_val": ytr[va]}
    used = provenance.data_used("MNIST" if name == "mnist" else "Fashion-MNIST", source=source, n_train=len(tr),
                                n_val=len(va), n_test=len(te), fallback=fallback, note=note)
    return (data, (prep(xte[te]), yte[te]), f"{source}; {n_train} train / {len(va)} validation / {len(te)} test",
            used)


def run_share(name, share, data, test, cfg, args, out, clock):
    model = build_lenet(share, args.seed + 1)
    X_test, y_test = to_device(test[0]), to_device(test[1])
    opt = optim.Momentum(TRAINING["lr"], momentum=TRAINING["momentum"], weight_decay=TRAINING["weight_decay"])
    trainer = Trainer(model, data, opt, batch_size=TRAINING["batch"], epochs=cfg["epochs"], rng=args.seed,
                      rules=[TestErrorCurve(X_test, y_test)], progress=False,
                      checkpoint=checkpoint_path(out, args, f"{name}_negshare{share:.2f}"), resume=args.resume)
    nan = False
    try:
        with clock("train"):                    # includes the per-epoch test-error curve of figure 12
            h = trainer.fit()
    except FloatingPointError as e:             # the loss became NaN/inf: training diverged
        print(f"  {e}")
        h, nan = trainer.history, True
    if not h["val_acc"]:
        return {"history": h, "diverged": True, "nan": nan, "negative_units": model[5].negative_count}
    best = int(np.argmax(h["val_acc"]))
    train_err, test_err = 1 - h["train_acc"][best], h["test_err"][best]
    r = ledger.round_sig                        # stored without float noise (4 significant digits)
    return {"history": h, "best_epoch": best + 1, "negative_units": model[5].negative_count,
            "val_err": r(1 - h["val_acc"][best]), "train_err": r(train_err), "test_err": r(test_err),
            "gap": r(test_err - train_err), "final_train_err": r(1 - h["train_acc"][-1]),
            "final_test_err": r(h["test_err"][-1]), "nan": nan,
            # diverged: a NaN loss, or still near chance (90% error) at the end, as the thesis's 10% net
            "diverged": nan or 1 - h["train_acc"][-1] > 0.85}


def plot_dataset(name, runs, out, title):
    shares = list(runs)
    cols = min(4, len(shares))
    rows = (len(shares) + cols - 1) // cols
    fig, axes = figure(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False, sharey=True)
    for ax, share in zip(axes.flat, shares):
        h = runs[share]["history"]
        e = np.arange(1, len(h["train_acc"]) + 1)
        ax.plot(e, 100 * (1 - np.array(h["train_acc"])), "C0-", label="train")
        ax.plot(e, 100 * (1 - np.array(h["val_acc"])), "C2--", label="validation")
        ax.plot(e, 100 * np.array(h.get("test_err", [])), "C1:", label="test")
        if name == "mnist" and share in THESIS_TEST:
            ax.axhline(THESIS_TEST[share], color="C3", lw=1, ls="-.",
                       label="thesis test (table 6, 60,000 digits)")
        ax.set_title(f"{100 * share:g}% NegLU" + (" (diverged)" if runs[share]["diverged"] else ""), fontsize=9)
        ax.set_yscale("symlog", linthresh=0.1), ax.set_ylim(0, 100), ax.grid(alpha=0.3, which="both")
        epoch_ticks(ax)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in list(axes.flat)[len(shares):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("error % (log above 0.1%)"), axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{title}: error per epoch (thesis figure 12)")
    save_figure(fig, out, f"{name}_curves.png")

    ok = [s for s in shares if not runs[s]["diverged"]]
    fig, axes = figure(1, 2, figsize=(11, 4))
    pct = [100 * s for s in ok]
    axes[0].plot(pct, [100 * runs[s]["test_err"] for s in ok], "C1o-", label="test (ours)")
    axes[0].plot(pct, [100 * runs[s]["train_err"] for s in ok], "C0o-", label="train (ours)")
    if name == "mnist":
        th = [s for s in ALL_SHARES if THESIS_TEST[s] < 50]
        axes[0].plot([100 * s for s in th], [THESIS_TEST[s] for s in th], "C1x--", label="test (thesis)")
        axes[0].plot([100 * s for s in th], [THESIS_TRAIN[s] for s in th], "C0x--", label="train (thesis)")
    axes[0].set_ylabel("error % at the best-validation epoch")
    axes[1].plot(pct, [100 * runs[s]["gap"] for s in ok], "C3o-", label="ours")
    if name == "mnist":
        axes[1].plot([100 * s for s in th], [THESIS_TEST[s] - THESIS_TRAIN[s] for s in th], "C3x--",
                     label="thesis (table 7)")
    axes[1].set_ylabel("test - train error (points)")
    for ax in axes:
        ax.set_xlabel("% NegLUs in the fully connected stage"), ax.grid(alpha=0.3), ax.legend(fontsize=8)
    fig.suptitle(f"{title}: error and train/test gap vs NegLU share (diverged runs left out)")
    save_figure(fig, out, f"{name}_gap.png")

    if 0.0 in runs and 0.01 in runs:
        fig, ax = figure(figsize=(6.5, 4))
        for i, share in enumerate((0.0, 0.01)):
            h = runs[share]["history"]
            e = np.arange(1, len(h["test_err"]) + 1)
            ax.plot(e, 100 * np.array(h["test_err"]), f"C{i}o-", label=f"{100 * share:g}% NegLU: test (ours)")
            ax.plot(e, 100 * (1 - np.array(h["val_acc"])), f"C{i}--", label=f"{100 * share:g}% NegLU: validation")
            if name == "mnist":
                ax.plot(np.arange(1, 10), 100 * np.array(THESIS_FIRST[share]), f"C{i}x:",
                        label=f"{100 * share:g}% NegLU: thesis table 8")
        ax.set_xlabel("epoch"), ax.set_ylabel("error %"), ax.grid(alpha=0.3), ax.legend(fontsize=7)
        epoch_ticks(ax)
        ax.set_title(f"{title}: first epochs, ReLU vs 1% NegLU (thesis table 8)")
        save_figure(fig, out, f"{name}_first_epochs.png")


def claims(results, used):
    """The thesis's MNIST claims (tables 6-8, section 4.5.1) and one beyond it on Fashion-MNIST, as ledger Claims.

    Ours are percentages at the best-validation epoch; None where this run has no such share
    (the verdict is then "not run"). Thresholds are ours, about half the thesis's effect.
    """
    mn, fa = results["mnist"].get("runs", {}), results["fashion"].get("runs", {})

    def pct(runs, share, key):
        r = runs.get(share)
        return None if r is None or key not in r else 100 * r[key]

    def diff(a, b):
        return None if a is None or b is None else a - b

    def cond(name, data):
        d = used[data]
        cfg = results[data].get("settings", {})
        if "runs" not in results[data]:                     # the part was skipped (data not installed)
            return ledger.Conditions(data=f"{d['name']} (not installed: skipped)", differs=[d["note"]])
        return ledger.Conditions(
            data=d["name"] + (" (embedded 5,000-digit sample)" if "embedded" in d["source"] else "")
            + (" (fallback)" if d["fallback"] else ""), n_train=d["n_train"], n_val=d["n_val"], n_test=d["n_test"],
            epochs=cfg.get("epochs"), differs=[
                f"{d['n_train']} training images (thesis: 60,000 MNIST digits)", "1 seed",
                "errors at the best-validation epoch (thesis: 20 epochs)",
                f"shares tried: {', '.join(f'{100 * s:g}' for s in cfg.get('shares', ()))}%"])
    t0, t9, tr0, tr9 = (pct(mn, 0.0, "test_err"), pct(mn, 0.09, "test_err"), pct(mn, 0.0, "train_err"),
                        pct(mn, 0.09, "train_err"))
    first = {}
    for share in (0.0, 0.01):
        h = mn.get(share, {}).get("history", {})
        first[share] = 100 * min(h["test_err"][:5]) if h.get("test_err") else None
    rise, narrow = "rise 0% -> 9% (points)", "narrowing 0% -> 9% (points)"
    return [
        ledger.Claim(
            id="15.mnist.test-rises", paper="negative-rectifiers-thesis", where="section 4.5.1, Table 6",
            statement="The test error of MixLU-LeNet rises with the share of NegLUs, from 0.92% (ReLU) to 2.68% at "
                      "9%; rule: a rise of at least 1 point (partly 0.5).",
            unit="% test error", paper_values={"0% NegLU": THESIS_TEST[0.0], "9% NegLU": THESIS_TEST[0.09],
                                               rise: THESIS_TEST[0.09] - THESIS_TEST[0.0]},
            ours={"0% NegLU": t0, "9% NegLU": t9, rise: diff(t9, t0)},
            rule=ledger.at_least(1.0, rise, partly=0.5), conditions=cond("mnist", "mnist")),
        ledger.Claim(
            id="15.mnist.gap-narrows", paper="negative-rectifiers-thesis", where="section 4.5.1, Table 7",
            statement="Training error rises faster than test error, so the test - train gap narrows from 0.92 "
                      "(ReLU) to 0.59 points at 9% NegLUs; rule: narrows by at least 0.2 point (partly: at all).",
            unit="points of test - train error",
            paper_values={"gap 0%": THESIS_TEST[0.0] - THESIS_TRAIN[0.0],
                          "gap 9%": THESIS_TEST[0.09] - THESIS_TRAIN[0.09],
                          narrow: (THESIS_TEST[0.0] - THESIS_TRAIN[0.0]) - (THESIS_TEST[0.09] - THESIS_TRAIN[0.09])},
            ours={"gap 0%": diff(t0, tr0), "gap 9%": diff(t9, tr9), narrow: diff(diff(t0, tr0), diff(t9, tr9))},
            rule=ledger.at_least(0.2, narrow, partly=0.0), conditions=cond("mnist", "mnist")),
        ledger.Claim(
            id="15.mnist.diverges-at-10", paper="negative-rectifiers-thesis", where="section 4.5.1, Tables 6-7",
            statement="With 10% NegLUs training diverges (90.13% training error); rule: our last-epoch training "
                      "error at 10% at least 85% (partly 50%).",
            unit="% training error (last epoch)", paper_values={"10% NegLU": THESIS_TRAIN[0.10]},
            ours={"10% NegLU": last_train_value(mn, 0.10)},
            rule=ledger.at_least(85, "10% NegLU", partly=50), conditions=cond("mnist", "mnist")),
        ledger.Claim(
            id="15.mnist.first-epochs", paper="negative-rectifiers-thesis", where="section 4.5.1, Table 8, Figure 12",
            statement="In the first epochs the 1% MixLU-LeNet reaches low error sooner than the ReLU-LeNet; rule: "
                      "its lowest test error over epochs 1-5 below the ReLU net's.",
            unit="% test error (lowest of epochs 1-5)",
            paper_values={"ReLU": 100 * min(THESIS_FIRST[0.0][:5]), "1% NegLU": 100 * min(THESIS_FIRST[0.01][:5])},
            ours={"ReLU": first[0.0], "1% NegLU": first[0.01]},
            rule=ledger.ordering(["ReLU", "1% NegLU"]), conditions=cond("mnist", "mnist")),
        ledger.Claim(
            id="15.fashion.diverges-at-10", paper="negative-rectifiers-thesis",
            where="section 4.5.1 (beyond the thesis: Fashion-MNIST)",
            statement="Beyond the thesis (which predates Fashion-MNIST): its MNIST result, divergence at 10% "
                      "NegLUs, carries over to Fashion-MNIST; rule: last-epoch training error at 10% at least 85% "
                      "(partly 50%).",
            unit="% training error (last epoch)", paper_values={},
            ours={"10% NegLU": last_train_value(fa, 0.10)},
            rule=ledger.at_least(85, "10% NegLU", partly=50), conditions=cond("fashion", "fashion")),
    ]


def last_train_value(runs, share):
    """Training error % of the last finished epoch at ``share`` (90 for a run that produced NaN in its first)."""
    r = runs.get(share)
    if r is None:
        return None
    acc = r["history"]["train_acc"]
    return 100 * (1 - acc[-1]) if acc else 90.0


def main():
    args = parse_args(__doc__.splitlines()[0])
    out = output_dir(__file__, args)
    settings = SETTINGS[args.mode]
    results, timings, used, clock = {}, {}, {}, provenance.Clock()
    for name, title in (("mnist", "MNIST"), ("fashion", "Fashion-MNIST")):
        cfg = settings[name]
        data, test, source, used[name] = load_data(name, cfg, args, np.random.default_rng(args.seed))
        if data is None:
            results[name] = {"skipped": "not installed"}
            continue
        print(f"=== {title}: {source}; {cfg['epochs']} epochs", flush=True)
        start = time.perf_counter()
        runs = {}
        for share in cfg["shares"]:
            r = runs[share] = run_share(name, share, data, test, cfg, args, out, clock)
            if "test_err" in r:
                print(f"{title} {100 * share:4.1f}% NegLU ({r['negative_units']} units): best val epoch "
                      f"{r['best_epoch']}, train err {100 * r['train_err']:.2f}%, test err "
                      f"{100 * r['test_err']:.2f}%, gap {100 * r['gap']:.2f}"
                      f"{'  DIVERGED' if r['diverged'] else ''}", flush=True)
            else:
                print(f"{title} {100 * share:4.1f}% NegLU: diverged in the first epoch", flush=True)
        timings[name] = time.perf_counter() - start
        plot_dataset(name, runs, out, f"{title} ({source.split(';')[0]})")
        diverged = [s for s in runs if runs[s]["diverged"]]
        results[name] = {"data": source, "settings": cfg, "runs": runs,
                         "first_diverged_share": min(diverged) if diverged else None,
                         "shares_tried": list(cfg["shares"])}

    prov = provenance.collect(args, data=list(used.values()), clock=clock)
    checked = claims(results, used)
    save_metrics(out, {"training": TRAINING, "results": results, "timings": timings,
                       "thesis": {"table6_test_err_pct": THESIS_TEST, "table7_train_err_pct": THESIS_TRAIN,
                                  "table8_err_per_epoch": THESIS_FIRST, "diverges_at": 0.10},
                       "provenance": prov, "claims": ledger.to_json(checked, prov)})
    for name, title in (("mnist", "MNIST"), ("fashion", "Fashion-MNIST")):
        res = results[name]
        if "runs" not in res:
            print(f"{title}: skipped ({res['skipped']})")
            continue
        print(f"\n{title}: {res['data']}; errors % at the best-validation epoch")
        rows = []
        for share, r in res["runs"].items():
            thesis = (f"{THESIS_TEST[share]:.2f} / {THESIS_TRAIN[share]:.2f}" if name == "mnist" else "-")
            if "test_err" in r:
                rows.append([f"{100 * share:g}", r["negative_units"], r["best_epoch"], f"{100 * r['test_err']:.2f}",
                             f"{100 * r['train_err']:.2f}", f"{100 * r['gap']:.2f}",
                             "yes" if r["diverged"] else "no", thesis])
            else:
                rows.append([f"{100 * share:g}", r["negative_units"], "-", "-", "-", "-", "yes (NaN)", thesis])
        print_table(["% NegLU", "units", "epoch", "test err", "train err", "gap", "diverged",
                     "thesis test / train (MNIST, 60k)"], rows)
        first = res["first_diverged_share"]
        print(f"{title}: training diverged first at {100 * first:g}% NegLUs" if first is not None else
              f"{title}: no run diverged (shares tried up to {100 * max(res['shares_tried']):g}%; "
              "the thesis's diverged at 10%)")
        if 0.0 in res["runs"] and 0.01 in res["runs"]:
            h0, h1 = res["runs"][0.0]["history"], res["runs"][0.01]["history"]
            n = min(9, len(h0["test_err"]), len(h1["test_err"]))
            print_table(["epoch", "ReLU test err", "1% NegLU test err"] +
                        (["thesis ReLU", "thesis 1%"] if name == "mnist" else []),
                        [[e + 1, f"{h0['test_err'][e]:.4f}", f"{h1['test_err'][e]:.4f}"] +
                         ([THESIS_FIRST[0.0][e], THESIS_FIRST[0.01][e]] if name == "mnist" else [])
                         for e in range(n)])
    print("timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    print_table(["claim", "ours", "rule", "verdict"],
                [[c.id, ", ".join(f"{k} {'-' if v is None else f'{v:.2f}'}" for k, v in c.ours.items()),
                  c.rule.text(), c.verdict] for c in checked])


if __name__ == "__main__":
    main()
