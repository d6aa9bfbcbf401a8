"""Lesson 17: Min-Maxout, maxout, ReLU, MixLU and a learned-sign rectifier in one LeNet.

What it shows
    Thesis "Negative rectifiers", section 5.2 (future directions), which
    proposes two generalisations of its NegLU/MixLU networks without testing
    them:
    - Min-Maxout: maxout units output the largest of k affine pieces, min
      units the smallest; a min unit generalises the NegLU as a max unit the
      ReLU. "It would be interesting to compare these networks with MixLU
      networks."
    - activations whose sign is learned like a weight instead of fixed per
      unit ("ConvAct" networks); here its simplest form, one learned mix per
      unit between a ReLU and a NegLU, y = min(0, x) + sigmoid(s) * |x|.
    We train the same LeNet with its fully connected stage (500 units) as
    ReLU, MixLU (5% NegLUs), maxout (k = 2), Min-Maxout (k = 2, 5% and 50%
    min units) and the learned-sign rectifier (started near a ReLU, a = 0.95,
    and started half-way, a = 0.5, where the stage is the linear x / 2; each
    at the network's learning rate and with the learning rate of s x1000, the
    ``ScaleGradient`` rule), on the same data from the same seed, and
    compare training and validation curves, test accuracy at the best
    validation epoch, and which sign the learned units chose. The thesis has
    no numbers for this; the lesson reports what it finds.

The network
    conv 5x5x20 - maxpool 2 - conv 5x5x50 - maxpool 2 - [fully connected
    stage: 800 -> 500] - Linear 500 -> 10 - softmax (lesson 15's LeNet, with the
    conv 4x4x500 written as a Linear on the flattened 4x4x50 map, which is the
    same function, so MinMaxout can take its place). Maxout and Min-Maxout
    have k = 2 pieces per unit, so twice the fully connected weights.
    Training as lesson 15 (MatConvNet's MNIST example): SGD, momentum 0.9, lr
    0.001, batch 100, weight decay 5e-4, weights 0.01 * N(0, 1), inputs raw pixels
    minus the mean training image.

Data (which is which)
    Fashion-MNIST (``python data_scripts/fashion_mnist.py``) when installed:
    default 6,000 training / 1,000 validation images (from its training set),
    its 10,000 test images, 6 epochs (shortened for 2 CPU cores); otherwise the embedded 5,000-digit MNIST sample
    (4,500 / 500, tested on its 2,000 test digits), and the lesson says so.

What to read
    - ``minigrad/nn/minmaxout.py`` (one argmax of sign * pieces for both unit types)
    - ``minigrad/nn/neglu.py``, ``LearnedSignReLU`` (the gradient of the mix).

What to change
    - ``pieces`` and ``min_fraction`` in ``VARIANTS``; ``init_logit`` of the learned sign.

Measured (default run, seed 0)
    Fashion-MNIST, 6,000 training images, 6 epochs (the best validation epoch
    was the last for every variant); test accuracy: ReLU 82.74%, MixLU 5%
    82.88%, maxout 83.60%, Min-Maxout 5% min 83.39%, Min-Maxout 50% min
    83.21%, learned sign a0 = 0.95: 82.67%, a0 = 0.5: 80.84%; with lr(s)
    x1000: 82.68% and 80.93%. Maxout and Min-Maxout (twice the fully connected
    weights: 831,580 parameters against 431,080) are 0.5-0.9 points above ReLU;
    min units neither help nor hurt against plain maxout here. MixLU matches
    ReLU (lesson 15 explains why it must in this stage). At the network's
    learning rate the learned signs do not move (a stays within 3e-4 of where
    it started), so "a0 = 0.5" is the linear stage x / 2, 1.9 points worse
    than ReLU: the rectifier matters. With lr(s) x1000, the units started at
    0.95 stay ReLU-like (0.949-0.959) and those started at 0.5 spread to
    0.26-0.71 (median 0.50) without choosing a side in 6 epochs; accuracy
    unchanged. Differences of a few tenths of a point are within the
    noise of one seed.
    Time: 454 s for the first seven variants (2 cores shared with other jobs,
    load average about 8) plus 92 s for the two lr(s) x1000 variants (added
    afterwards and run with ``--resume``, on a less busy machine): about 9-10
    minutes. (Run of 2026-12-02.) A second default run on 2026-12-02, with the claims
    and provenance recorded, reproduced every number above to the last digit: all nine
    variants in one run, 922 s (15.4 minutes, 13.5 of them training; load ~8); Fashion-MNIST
    installed (6,000 train / 1,000 validation from its training set, its 10,000 test images).
    Claims, all beyond the thesis (``claims`` below; the same numbers are in
    outputs/17_minmaxout_learned_sign/metrics.json):
    - 17.minmaxout-vs-mixlu, holds: Min-Maxout 5% min 83.39% above MixLU 5% 82.88%.
    - 17.min-units-vs-maxout, holds: Min-Maxout 5% min 0.21 point from maxout (83.60%).
    - 17.learned-sign-decides, does not hold: with lr(s) x1000 the units started at a = 0.5
      end between 0.26 and 0.71, none below 0.25 or above 0.75 (0% decided).

Run
    python lessons/17_minmaxout_learned_sign.py            # default (about 10 minutes on 2 busy cores)
    python lessons/17_minmaxout_learned_sign.py --smoke    # seconds
    python lessons/17_minmaxout_learned_sign.py --full     # all 55,000 / 5,000 images, 20 epochs
Outputs in outputs/17_minmaxout_learned_sign/: accuracy.png, learned_sign.png, metrics.json.
"""
import time

import numpy as np

from minigrad import ledger, nn, optim, provenance
from minigrad.backend import to_device, to_numpy
from minigrad.experiment import (checkpoint_path, epoch_ticks, figure, output_dir, parse_args, print_table,
                                 save_figure, save_metrics)
from minigrad.trainer import Trainer

TRAINING = dict(lr=1e-3, momentum=0.9, weight_decay=5e-4, batch=100, init_scale=0.01, hidden=500)
SETTINGS = {
    "smoke": dict(n_train=300, n_val=100, n_test=200, epochs=2),
    "default": dict(n_train=6000, n_val=1000, n_test=10000, epochs=6),
    "full": dict(n_train=55000, n_val=5000, n_test=10000, epochs=20),
}
# name -> the fully connected stage (800 -> 500), built from a weight generator and a unit-type generator
VARIANTS = {
    "ReLU": lambda w, u, s: [nn.Linear(800, 500, rng=w, weight_scale=s), nn.ReLU()],
    "MixLU 5%": lambda w, u, s: [nn.Linear(800, 500, rng=w, weight_scale=s),
                                 nn.MixedReLU(500, negative_fraction=0.05, exact=True, rng=u)],
    "maxout k=2": lambda w, u, s: [nn.MinMaxout(800, 500, pieces=2, min_fraction=0.0, rng=w, weight_scale=s)],
    "Min-Maxout k=2, 5% min": lambda w, u, s: [nn.MinMaxout(800, 500, pieces=2, min_fraction=0.05, rng=w,
                                                            weight_scale=s)],
    "Min-Maxout k=2, 50% min": lambda w, u, s: [nn.MinMaxout(800, 500, pieces=2, min_fraction=0.5, rng=w,
                                                             weight_scale=s)],
    "learned sign, a0=0.95": lambda w, u, s: [nn.Linear(800, 500, rng=w, weight_scale=s),
                                              nn.LearnedSignReLU(500, init_logit=3.0)],
    "learned sign, a0=0.5": lambda w, u, s: [nn.Linear(800, 500, rng=w, weight_scale=s),
                                             nn.LearnedSignReLU(500, init_logit=0.0)],
    "learned sign, a0=0.95, lr(s) x1000": lambda w, u, s: [nn.Linear(800, 500, rng=w, weight_scale=s),
                                                           nn.LearnedSignReLU(500, init_logit=3.0)],
    "learned sign, a0=0.5, lr(s) x1000": lambda w, u, s: [nn.Linear(800, 500, rng=w, weight_scale=s),
                                                          nn.LearnedSignReLU(500, init_logit=0.0)],
}
# At the network's learning rate (0.001) the sign logits s barely move in a few epochs; these variants
# multiply their gradient (so their learning rate) by a factor.
S_LR_FACTOR = {"learned sign, a0=0.95, lr(s) x1000": 1000.0, "learned sign, a0=0.5, lr(s) x1000": 1000.0}


class ScaleGradient:
    """Update rule: multiply the gradients of the parameters named ``keys`` by ``factor`` before the step.

    A per-parameter learning-rate multiplier (momentum and weight decay see the scaled gradient
    and the unscaled decay); switch it off by leaving it out of ``Trainer(rules=...)``.
    """

    def __init__(self, keys, factor):
        self.keys, self.factor = list(keys), factor

    def before_step(self, trainer):
        for k in self.keys:
            trainer.grads[k] = trainer.grads[k] * self.factor


def build(variant, seed):
    """The same conv layers (same initial weights) for every variant; only the 800 -> 500 stage differs."""
    w, u, s = np.random.default_rng(seed), np.random.default_rng(seed + 1000), TRAINING["init_scale"]
    convs = [nn.Conv2d(1, 20, 5, rng=w, weight_scale=s), nn.MaxPool2d(2),
             nn.Conv2d(20, 50, 5, rng=w, weight_scale=s), nn.MaxPool2d(2), nn.Flatten()]
    top = nn.Linear(500, 10, rng=np.random.default_rng(seed + 2000), weight_scale=s)
    return nn.Sequential(*convs, *VARIANTS[variant](w, u, s), top)


def load_data(args, cfg, rng):
    """(data, test, description, provenance entry); the embedded MNIST sample when Fashion-MNIST is absent."""
    from minigrad.data import load_fashion_mnist, load_mnist_sample
    from minigrad.data.paths import data_dir
    try:
        (xtr, ytr), (xte, yte) = load_fashion_mnist(split="train"), load_fashion_mnist(split="test")
        source, origin, note = "Fashion-MNIST", str(data_dir() / "fashion-mnist"), ""
        n_train, n_val = cfg["n_train"], cfg["n_val"]
    except FileNotFoundError:
        note = ("Fashion-MNIST is not installed (python data_scripts/fashion_mnist.py): "
                "using the embedded 5,000-digit MNIST sample")
        print(note)
        (xtr, ytr), (xte, yte) = load_mnist_sample("train"), load_mnist_sample("test")
        source, origin = "embedded MNIST sample", "minigrad/data/embedded"
        n_val = min(cfg["n_val"], 500)
        n_train = min(cfg["n_train"], len(xtr) - n_val)
    order = rng.permutation(len(xtr))
    tr, va = order[:n_train], order[n_train:n_train + n_val]
    te = np.arange(min(cfg["n_test"], len(xte)))
    mean = xtr[tr].astype(np.float32).mean(axis=0)

    def prep(x):
        return (x.astype(np.float32) - mean)[:, None]
    data = {"X_train": prep(xtr[tr]), "y_train": ytr[tr], "X_val": prep(xtr[va]), "y_val": ytr[va]}
    used = provenance.data_used("Fashion-MNIST" if not note else "MNIST (embedded sample)", source=origin,
                                n_train=len(tr), n_val=len(va), n_test=len(te), fallback=bool(note), note=note)
    return data, (prep(xte[te]), yte[te]), f"{source}: {len(tr)} train / {len(va)} validation / {len(te)} test", used


def claims(runs, cfg, used):
    """Section 5.2 proposes these networks without results: every claim is beyond the thesis (ours)."""
    def acc(name):
        r = runs.get(name, {})
        return 100 * r["test_acc"] if "test_acc" in r else None
    cond = ledger.Conditions(
        data=used["name"] + (" (fallback)" if used["fallback"] else ""), n_train=used["n_train"],
        n_val=used["n_val"], n_test=used["n_test"], epochs=cfg["epochs"],
        differs=["no thesis experiment: networks proposed in section 5.2, settings ours (lesson 15's LeNet)",
                 "1 seed; test accuracy at the best-validation epoch"])
    mm, mx, mix = "Min-Maxout k=2, 5% min", "maxout k=2", "MixLU 5%"
    fast = runs.get("learned sign, a0=0.5, lr(s) x1000", {})
    decided = (None if "relu_share_quartiles" not in fast else
               100 * (fast["neglu_like_units"] + fast["relu_like_units"]) / TRAINING["hidden"])
    where = "section 5.2 (beyond the thesis)"
    return [
        ledger.Claim(
            id="17.minmaxout-vs-mixlu", paper="negative-rectifiers-thesis", where=where,
            statement="Beyond the thesis (5.2: 'it would be interesting to compare these networks with MixLU "
                      "networks'): Min-Maxout (k=2, 5% min units) is more accurate than MixLU with 5% NegLUs.",
            unit="% test accuracy", paper_values={}, ours={mm: acc(mm), mix: acc(mix)},
            rule=ledger.ordering([mm, mix]), conditions=cond),
        ledger.Claim(
            id="17.min-units-vs-maxout", paper="negative-rectifiers-thesis", where=where,
            statement="Beyond the thesis: min units, the NegLU's generalisation, neither help nor hurt a maxout "
                      "network; rule: Min-Maxout within 0.5 point of maxout (partly 1.5).",
            unit="% test accuracy", paper_values={}, ours={mm: acc(mm), mx: acc(mx)},
            rule=ledger.within(0.5, mm, of=mx, partly=1.5), conditions=cond),
        ledger.Claim(
            id="17.learned-sign-decides", paper="negative-rectifiers-thesis", where=where,
            statement="Beyond the thesis (5.2: activations learned like weights): started half-way (a = 0.5) and "
                      "with its sign logits' learning rate x1000, each learned-sign unit chooses a side; rule: at "
                      "least half of the units end NegLU-like (a < 0.25) or ReLU-like (a > 0.75) (partly 10%).",
            unit="% of the 500 units", paper_values={}, ours={"decided units": decided},
            rule=ledger.at_least(50, "decided units", partly=10), conditions=cond),
    ]


def plot_runs(out, runs, source):
    """Training and validation accuracy per epoch, one line per fully connected stage (no thesis numbers)."""
    fig, axes = figure(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, key in zip(axes, ("train_acc", "val_acc")):
        for i, (name, r) in enumerate(runs.items()):
            ys = 100 * np.array(r["history"][key])
            ax.plot(np.arange(1, len(ys) + 1), ys, f"C{i % 10}" + ("--" if "learned" in name else "-"), marker=".",
                    label=name)
        epoch_ticks(ax)
        ax.set_xlabel("epoch"), ax.grid(alpha=0.3), ax.legend(fontsize=7)
    axes[0].set_title("training accuracy (running)"), axes[1].set_title("validation accuracy")
    axes[0].set_ylabel("accuracy (%)")
    fig.suptitle(f"LeNet, fully connected stage varied ({source}; the thesis has no numbers for these)")
    save_figure(fig, out, "accuracy.png")


def main():
    args = parse_args(__doc__.splitlines()[0])
    out = output_dir(__file__, args)
    cfg = SETTINGS[args.mode]
    data, (X_test, y_test), source, used = load_data(args, cfg, np.random.default_rng(args.seed))
    clock = provenance.Clock()
    X_test, y_test = to_device(X_test), to_device(y_test)
    print(f"{source}; {cfg['epochs']} epochs", flush=True)
    runs, learned, start = {}, {}, time.perf_counter()
    for variant in VARIANTS:
        model = build(variant, args.seed + 1)
        opt = optim.Momentum(TRAINING["lr"], momentum=TRAINING["momentum"], weight_decay=TRAINING["weight_decay"])
        rules = ([ScaleGradient([k for k in model.params if k.endswith(".s")], S_LR_FACTOR[variant])]
                 if variant in S_LR_FACTOR else [])
        trainer = Trainer(model, data, opt, batch_size=TRAINING["batch"], epochs=cfg["epochs"], rng=args.seed,
                          rules=rules, progress=False, checkpoint=checkpoint_path(out, args, variant),
                          resume=args.resume)
        try:
            with clock("train"):
                h = trainer.fit()
        except FloatingPointError as e:
            print(f"  {e}")
            h = trainer.history
        r = runs[variant] = {"history": h, "params": int(sum(v.size for v in model.params.values()))}
        if h["val_acc"]:
            best = int(np.argmax(h["val_acc"]))
            sign_layer = model[6] if isinstance(model[6], nn.LearnedSignReLU) else None
            if sign_layer is not None:            # the final (not the best-epoch) mix of every unit
                learned[variant] = to_numpy(sign_layer.relu_share)
            with clock("eval"):
                trainer.restore_best()
                _, test_acc = trainer.evaluate(X_test, y_test)
            rs = ledger.round_sig               # stored without float noise (4 significant digits)
            r.update(best_epoch=best + 1, train_acc=rs(h["train_acc"][best]), val_acc=rs(h["val_acc"][best]),
                     test_acc=rs(test_acc))
            if sign_layer is not None:
                a = to_numpy(sign_layer.relu_share)
                r.update(relu_share_mean=ledger.round_sig(a.mean()), neglu_like_units=int((a < 0.25).sum()),
                         relu_like_units=int((a > 0.75).sum()),
                         relu_share_quartiles=np.percentile(a, [0, 25, 50, 75, 100]).tolist())
        print(f"{variant}: " + (f"best val epoch {r['best_epoch']}, train {100 * r['train_acc']:.2f}%, val "
                                f"{100 * r['val_acc']:.2f}%, test {100 * r['test_acc']:.2f}%"
                                if "test_acc" in r else "no finished epoch") +
              (f"; a = sigmoid(s) min / median / max {r['relu_share_quartiles'][0]:.3f} / "
               f"{r['relu_share_quartiles'][2]:.3f} / {r['relu_share_quartiles'][4]:.3f}, units with a < 0.25 "
               f"(NegLU-like) {r['neglu_like_units']}, a > 0.75 (ReLU-like) {r['relu_like_units']}"
               if "relu_share_quartiles" in r else ""),
              flush=True)
    seconds = time.perf_counter() - start

    plot_runs(out, runs, source)
    fig, ax = figure(figsize=(6.5, 4))
    for i, (variant, a) in enumerate(learned.items()):
        ax.hist(a, bins=40, range=(0, 1), alpha=0.5, color=f"C{(i + 5) % 10}", label=variant)
    ax.set_xlabel("a = sigmoid(s): 0 NegLU, 1 ReLU (after training)"), ax.set_ylabel("units")
    ax.set_title("learned-sign rectifier: the mix each unit chose"), ax.grid(alpha=0.3), ax.legend()
    save_figure(fig, out, "learned_sign.png")

    prov = provenance.collect(args, data=[used], clock=clock)
    checked = claims(runs, cfg, used)
    save_metrics(out, {"data": source, "settings": cfg, "training": TRAINING, "runs": runs,
                       "learned_relu_share": learned, "timings": {"seconds": seconds},
                       "thesis": "section 5.2 proposes Min-Maxout and learned-sign (ConvAct) networks; no results",
                       "provenance": prov, "claims": ledger.to_json(checked, prov)})
    print(f"\n{source}; accuracy % at the best-validation epoch ({cfg['epochs']} epochs)")
    print_table(["fully connected stage", "params", "epoch", "train acc", "val acc", "test acc", "thesis"],
                [[n, r["params"], r.get("best_epoch", "-"),
                  *(f"{100 * r[k]:.2f}" if k in r else "-" for k in ("train_acc", "val_acc", "test_acc")),
                  "no results (proposed)"] for n, r in runs.items()])
    print(f"time: {seconds:.0f} s")
    print_table(["claim (beyond the thesis)", "ours", "rule", "verdict"],
                [[c.id, ", ".join(f"{k} {'-' if v is None else f'{v:.2f}'}" for k, v in c.ours.items()),
                  c.rule.text(), c.verdict] for c in checked])


if __name__ == "__main__":
    main()
