"""Lesson 20: fully connected CWA networks against affine ones, and why deep CWA networks need a rest potential of 0.

What it shows
    "Learning high-dimensional perceptual tasks with Hodgkin-Huxley networks"
    (ICLR 2020 submission, ``shared/papers/cwa-hodgkin-huxley-networks.txt``),
    sections 4.2-4.4, tables 1 and 2, fully connected networks (FCN):

    0. Deep CWA networks must be built with care (section 4.3's settings, our
       measurement). Built literally, a CWA network with two hidden layers
       cannot learn: with doubled inputs and conductances near 1, each pixel's
       inhibitory and excitatory copies cancel, the first layer's outputs are
       ~1e-3, and the second layer, at rest potential e_r = -0.4, sits at its
       rest for every input: no unit is active, no gradient reaches any CWA
       layer. ``minigrad.models.cwa_mlp`` therefore gives the layers after the
       first e_r = 0 (``deep_rest_potential``): about half their units are
       active at initialisation, and the network learns. The figure
       ``active_units.png`` follows the fraction of active units per hidden
       layer over training for both settings. It is not the whole story: with
       three hidden layers on CIFAR-10 and the paper's Glorot conductances
       (all near 1) the deeper layers still fall silent within a few steps of
       training (a term shared by all units of a layer, ``cwa_nets.py``),
       unless batchnorm removes it (CWA + BN). ``cwa_mlp`` therefore starts the
       conductances spread (init_std = 0.75, ``docs/cwa-deep-nets.md``): with
       it the CIFAR-10 network's three layers stay active and it learns (see
       Measured), and so does the lateral variant. Alive is not yet learning
       fast: Adam moves every conductance by about lr a step, and CWA's output
       depends on conductance ratios near 1, so it changes ~30x more slowly
       than an affine layer's at the same lr; the default therefore trains CWA
       at the largest lr that kept its layers alive over seeds (chosen on
       validation): 3e-3 on MNIST, 1e-3 on CIFAR-10.
    1. MNIST, 2 hidden layers of 2,000 (table 1): CWA 98.65% vs affine + BN
       98.72% test accuracy: "nearly equal".
    2. CIFAR-10, 3 hidden layers 2000-1000-500 (table 1): CWA 61.98, CWA + BN
       64.93, affine without BN 65.10, affine + BN 63.93: CWA within 2 points of
       affine + BN, batchnorm helps CWA.
    3. CIFAR-10 variants (table 2, section 4.4): CWA 61.98, AbsNorm 59.95 (signed
       weights, normalised by their absolute values: about 2 points worse), CWA +
       lateral inhibition 62.03 (marginally best).

    Inputs (section 4.3): CWA networks (and AbsNorm, CWA + lateral inhibition)
    get pixels scaled to [-0.3, 1], clipped to [0, 1] and doubled
    (``cwa_scale_clip``, ``double_inputs``); "affine, no BN" the same scaled
    pixels, not doubled; the "+ BN" affine networks standardised pixels (the
    paper whitened them). Adam with beta1 0.9, beta2 0.99; softmax readout.

How we measure (protocol)
    The epoch is chosen on a validation split held out of the training data;
    the test accuracy of that epoch is our number ("test @ val-best"). The paper
    used no validation set and reported the best test accuracy seen during
    training; that figure is printed too, labelled "paper's protocol" (it is
    optimistic: the test set chooses the epoch).

What to read
    - ``minigrad/models/cwa_nets.py``, section "Deep CWA networks": the trap and
      the default that avoids it, with the numbers measured here.
    - ``minigrad/nn/cwa.py`` (equations 3 and 5, the backward pass step by step),
      ``absnorm.py`` and ``cwa_lateral.py`` (the section 4.4 variants).

What to change (exercise)
    - ``DEEP_REST`` below: set it to -0.4 (the paper's value for every layer) and
      watch "hidden 2" in ``active_units.png`` stay at 0.
    - ``LR["default"]["mnist"]["cwa"]``: 1e-2 silences the MNIST network's second layer
      within a few steps (measured in a probe run: 8.1% validation accuracy;
      the first large steps push every unit below 0); 1e-3 learns more slowly
      (probe: 89.5 vs 91.8% after 300 steps); 1e-5 (the paper's) barely moves
      in this budget.

Measured (default run of 2026-12-02, seed 0, one thread on the shared 2-core
machine while lesson 21 ran on the second core: 6 minutes wall clock;
``cwa_mlp``'s spread conductances, init_std = 1.0, for every CWA network but the
literal-settings one, which keeps the paper's Glorot init)
    Data: MNIST = the 5,000-digit subset (``<data dir>/mnist``, imported from
    /work/shared/datasets/mnist-subset): 3,000 training digits, 1,000 held out
    for validation, 2,000 random test digits of the official 10,000; 8 epochs
    (376 steps of 64; the literal-settings network 1). CIFAR-10 = the
    JPEG-recompressed copy: 3,000 training images, 1,000 validation, 2,000
    random test images; 12 epochs, hidden 500-250-125 (a quarter of the paper's
    widths, for time). Adam lr chosen on validation (``LR``): MNIST CWA 3e-3,
    everything else 1e-3 (paper: 1e-5 for CWA, trained to > 99.4% training
    accuracy). Test accuracy (%) at the epoch the validation split chose
    [paper's protocol, best test during training, in brackets]:
        MNIST     CWA, e_r = -0.4 everywhere  9.80 [9.80]   (chance: silent)
                  CWA (minigrad default)     90.35 [90.85] paper 98.65 (val 92.20)
                  Affine, no BN              92.55 [93.05]
                  Affine + BN                92.70 [93.00] paper 98.72 (val 95.20)
        CIFAR-10  CWA                        30.55 [30.55] paper 61.98
                  CWA + BN                   30.75 [30.75] paper 64.93
                  Affine, no BN              38.65 [38.65] paper 65.10
                  Affine + BN                38.35 [40.15] paper 63.93
                  AbsNorm                    40.10 [40.10] paper 59.95
                  CWA + lateral inhibition   27.70 [28.60] paper 62.03
    (The first default, 3 epochs at lr 1e-3 with init_std 0.75: MNIST CWA
    71.45, CIFAR-10 CWA 21.95, CWA + BN 20.55, lateral 21.60, AbsNorm 32.65.)
    Active units at initialisation (500 validation digits, MNIST 2 x 2000):
    literal setting hidden 1 z = -0.0024 +- 0.0019 (9.0% active), hidden 2
    z = -0.355 +- 0.019 (0% active); default hidden 1 z = -0.0019 +- 0.0580
    (48.7% active), hidden 2 z = -0.0051 +- 0.0446 (45.9% active). After
    training (active_units.png) the default's layers are 33% and 83% active;
    the literal one's hidden 2 stays at 0 and its loss at log 10 = 2.303.
    CIFAR-10 CWA ends with its three layers 46%, 15% and 72% active (with the
    paper's Glorot conductances, before the spread default, hidden 2 and 3
    were at 0% after 10 steps, for good, and the network stayed at chance).
    Which of the paper's claims hold here:
    - Does not hold (by design, our finding): the paper's stated settings give a
      silent network (20.mnist.literal-settings-learn).
    - Partly: with minigrad's defaults the MNIST CWA network is 2.35 points
      below affine + BN (90.35 vs 92.70 test; on validation 92.20 vs 95.20),
      in 8 epochs on 3,000 digits rather than the paper's training to > 99.4%;
      the rule asks for 1 point (seeds 1 and 2: within 1, below).
    - Does not hold in this budget: on CIFAR-10 CWA (30.55) is 7.8 points
      below affine + BN (38.35; the paper: 1.95) and 8 below the affine network
      without BN.
    - Holds, barely: batchnorm helps CWA (30.75 vs 30.55; the paper 64.93 vs
      61.98) -- 0.2 points in one seed; see the tagged seed runs in the report.
    - Does not hold: AbsNorm is the best network here (40.10; the paper: 2
      points below CWA), and CWA + lateral inhibition is 2.85 points below CWA
      (27.70; the paper 62.03 vs 61.98).
    - Beside the paper: at lr 3e-3 the lateral variant's layers 2-3 fell silent
      in the first epoch (10.55%, an earlier run of this lesson), and a 3-seed
      sweep lost CWA layers at 3e-3 in 1-2 of 3 seeds on CIFAR-10: CWA's
      usable learning rates sit close to the one that switches a layer off.
    Seeds 1 and 2 (``--seed 1 --tag seed1``, ``--seed 2 --tag seed2``, same
    code, in the committed report beside this run), test % for seeds 0 / 1 / 2:
        MNIST     CWA 90.35 / 93.05 / 91.65, affine + BN 92.70 / 93.70 / 92.60,
                  affine no BN 92.55 / 93.35 / 92.45
        CIFAR-10  CWA 30.55 / 28.45 / 29.55, CWA + BN 30.75 / 31.90 / 32.90,
                  lateral 27.70 / 28.90 / 29.70, AbsNorm 40.10 / 36.80 / 36.85,
                  affine no BN 38.65 / 39.10 / 40.00, affine + BN 38.35 / 38.15 / 39.15
    So over three seeds: batchnorm helps CWA in every seed (+0.2, +3.45,
    +3.35); AbsNorm beats CWA in every seed (the paper's order reversed); the
    lateral variant is within 1 point of CWA in seeds 1 and 2, 2.85 below in
    seed 0; on MNIST CWA is 0.65-2.35 points below affine + BN, "nearly
    equal" within 1 point in two seeds of three.
    (These are the runs after ``Trainer.restore_best`` began to restore
    batchnorm's running statistics with the best epoch's weights; before, the
    affine + BN rows read up to 10 points lower.)

Run:
    python lessons/20_cwa_dense.py --smoke   # seconds, tiny networks (CIFAR-10 synthetic if not installed)
    python lessons/20_cwa_dense.py           # default, 6-11 min on one thread (6 and 11 measured, machine shared)
    python lessons/20_cwa_dense.py --full    # the paper's setting: paper widths, all data, lr 1e-5 / 1e-3, plateau rule
Data: MNIST from ``<data dir>/mnist`` (here: the 5,000-digit subset with the
full 10,000-digit test set, ``python data_scripts/mnist.py --from
/work/shared/datasets/mnist-subset``), else the embedded 5,000-digit sample
(2,000 test digits), said on screen and in metrics.json. CIFAR-10 from
``<data dir>/cifar10`` (here a JPEG-recompressed copy: ``python
data_scripts/cifar10.py --from /work/shared/datasets/cifar10-images.tar.gz``);
required outside --smoke.
Outputs in outputs/20_cwa_dense/: active_units.png, mnist.png, cifar10.png, metrics.json.
"""
import numpy as np

from minigrad import ledger, nn, optim, provenance
from minigrad.backend import to_device, to_float
from minigrad.data import cwa_scale_clip, double_inputs, flatten, load_cifar10, standardize, train_val_split
from minigrad.experiment import (checkpoint_path, figure, mnist_or_sample, output_dir, parse_args,
                                 plot_loss_and_accuracy, print_table, save_figure, save_metrics, synthetic_images,
                                 test_on_best)
from minigrad.models import CIFAR10_FCN, MNIST_FCN, cwa_mlp
from minigrad.trainer import Trainer

SETTINGS = {
    "smoke": dict(mnist=dict(hidden=(40, 40), n_train=400, n_val=100, n_test=200, epochs=2),
                  cifar10=dict(hidden=(40, 30, 20), n_train=300, n_val=100, n_test=200, epochs=2),
                  batch=32, probe=64, probe_every=4, plateau=False, lr="default"),
    "default": dict(mnist=dict(hidden=MNIST_FCN, n_train=3000, n_val=1000, n_test=2000, epochs=8),
                    cifar10=dict(hidden=(500, 250, 125), n_train=3000, n_val=1000, n_test=2000, epochs=12),
                    batch=64, probe=500, probe_every=10, plateau=False, lr="default"),
    "full": dict(mnist=dict(hidden=MNIST_FCN, n_train=None, n_val=500, n_test=10000, epochs=300),
                 cifar10=dict(hidden=CIFAR10_FCN, n_train=None, n_val=5000, n_test=10000, epochs=300),
                 batch=64, probe=1000, probe_every=50, plateau=True, lr="paper"),
}
LITERAL_EPOCHS = 1       # the literal setting's network does not learn: one epoch shows it (not in --full)
DEEP_REST = 0.0          # e_r of the CWA layers after the first (the builder's default; the paper: -0.4)
# Adam lr per data set and family. Default: chosen on validation splits by the probe runs of
# docs/cwa-deep-nets.md ("Learning rate and budget", 3 seeds where it mattered): on MNIST 3e-3 beat 1e-3
# for CWA in every seed (1e-2 silenced the second layer); on CIFAR-10 3e-3 silenced layers of CWA in 1-2
# of 3 seeds (as it did the lateral variant's in this lesson), so every CWA-family network trains at 1e-3
# there, as do the affine networks. The paper's 1e-5 needs hundreds of epochs.
LR = {"default": {"mnist": {"cwa": 3e-3, "affine": 1e-3},
                  "cifar10": {"cwa": 1e-3, "lateral": 1e-3, "absnorm": 1e-3, "affine": 1e-3}},
      "paper": {ds: {"cwa": 1e-5, "lateral": 1e-5, "absnorm": 1e-5, "affine": 1e-3}      # section 4.3,
                for ds in ("mnist", "cifar10")}}                                          # "Parameter Fitting"
PATIENCE = {"cwa": 25, "lateral": 25, "absnorm": 25, "affine": 5}              # plateau rule of section 4.3 (--full)
# network -> (builder kind, batchnorm, input preparation, lr family)
NETS = {
    "CWA, e_r = -0.4 everywhere": ("cwa", False, "cwa", "cwa"),
    "CWA": ("cwa", False, "cwa", "cwa"),
    "CWA + BN": ("cwa", True, "cwa", "cwa"),
    "Affine, no BN": ("affine", False, "scaled", "affine"),
    "Affine + BN": ("affine", True, "standardised", "affine"),
    "AbsNorm": ("absnorm", False, "cwa", "absnorm"),
    "CWA + lateral inhibition": ("lateral", False, "cwa", "lateral"),
}
RUNS = {"mnist": ["CWA, e_r = -0.4 everywhere", "CWA", "Affine, no BN", "Affine + BN"],
        "cifar10": ["CWA", "CWA + BN", "Affine, no BN", "Affine + BN", "AbsNorm", "CWA + lateral inhibition"]}
# test accuracy (%), table 1 (FCN rows) and table 2
PAPER = {"mnist": {"CWA": 98.65, "Affine + BN": 98.72},
         "cifar10": {"CWA": 61.98, "CWA + BN": 64.93, "Affine, no BN": 65.10, "Affine + BN": 63.93,
                     "AbsNorm": 59.95, "CWA + lateral inhibition": 62.03}}
NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10"}
PAPER_ID = "cwa-hodgkin-huxley-networks"


def load(dataset, args, cfg, rng):
    """Raw uint8 images split into train / validation (held out of the training split) / test.

    Returns (dict of images and labels, provenance.data_used(...)).
    """
    c = cfg[dataset]
    try:
        if dataset == "mnist":
            ((xtr, ytr), (xte, yte)), info = mnist_or_sample("both")
        else:
            (xtr, ytr), (xte, yte) = load_cifar10(split="train"), load_cifar10(split="test")
            info = dict(source="<data dir>/cifar10 (JPEG-recompressed image folder)", fallback=False, note="")
    except FileNotFoundError:
        if args.mode != "smoke":
            raise
        info = dict(source="synthetic", fallback=True,
                    note=f"{NAMES[dataset]} is not installed: --smoke runs on synthetic images")
        print("NOTE:", info["note"])
        shape = (28, 28) if dataset == "mnist" else (3, 32, 32)
        xtr, ytr = synthetic_images(c["n_train"] + c["n_val"], shape, 10, rng)
        xte, yte = synthetic_images(c["n_test"], shape, 10, rng)
    split = train_val_split(xtr, ytr, min(c["n_val"], len(xtr) // 5), rng, n_train=c["n_train"])
    n_test = min(c["n_test"], len(xte))
    te = np.sort(rng.permutation(len(xte))[:n_test])     # a random subset: the image folders are sorted by class
    split["X_test"], split["y_test"] = xte[te], yte[te]
    used = provenance.data_used(NAMES[dataset], n_train=len(split["X_train"]), n_val=len(split["X_val"]),
                                n_test=n_test, **info)
    return split, used


def prepare(split, how):
    """Trainer data and test arrays for one input preparation ("cwa", "scaled", "standardised")."""
    images = [split[k] for k in ("X_train", "X_val", "X_test")]
    if how == "standardised":                     # per-channel, with the training images' statistics
        parts = [flatten(p) for p in standardize(*images)]
    else:
        parts = [flatten(p) for p in images]
        parts = [cwa_scale_clip(p) for p in parts]
        if how == "cwa":
            parts = [double_inputs(p) for p in parts]
    data = {"X_train": parts[0], "y_train": split["y_train"], "X_val": parts[1], "y_val": split["y_val"]}
    return data, (parts[2], split["y_test"])


def hidden_activities(model, x):
    """Activities after each ReLU (hidden 1, hidden 2, ...) for a batch x, in eval mode."""
    model.eval()
    acts, h = [], x
    for layer in model.layers:
        h = layer.forward(h)
        if isinstance(layer, nn.ReLU):
            acts.append(h)
    model.train()
    return acts


class ActiveUnits:
    """Every ``every`` steps, the fraction of active (> 0) units per hidden layer on a fixed probe batch.

    Active means p > 0 for a (probe example, unit) pair. Adds ``history["active"]``: one list
    per epoch of [step, fraction hidden 1, fraction hidden 2, ...] rows. One forward pass of
    the probe batch per record (no gradient; batchnorm in eval mode).
    """

    def __init__(self, probe, every):
        self.probe, self.every, self.step, self._rows = probe, every, 0, []

    def attach(self, trainer):
        self._x = to_device(self.probe, dtype=next(iter(trainer.model.params.values())).dtype)
        if self.step == 0:
            self._record(trainer)

    def _record(self, trainer):
        fractions = [to_float((a > 0).mean()) for a in hidden_activities(trainer.model, self._x)]
        self._rows.append([self.step] + fractions)

    def after_step(self, trainer):
        self.step += 1
        if self.step % self.every == 0:
            self._record(trainer)

    def end_epoch(self, trainer):
        trainer.history.setdefault("active", []).append(self._rows)
        self._rows = []

    def state_dict(self):
        return {"step": self.step}

    def load_state_dict(self, d):
        self.step, self._rows = int(d["step"]), []


class TestEvaluation:
    """After each epoch, the test accuracy (``history["test_acc"]``): only to print the paper's
    protocol (best test accuracy during training); nothing is selected with it."""

    def __init__(self, X, y):
        self.X, self.y, self._device = X, y, None

    def end_epoch(self, trainer):
        if self._device is None:
            self._device = (to_device(self.X, dtype=trainer.dtype), to_device(self.y))
        trainer.history.setdefault("test_acc", []).append(trainer.evaluate(*self._device)[1])


def build(name, d, hidden, seed):
    kind, bn, _, _ = NETS[name]
    if name == "CWA, e_r = -0.4 everywhere":           # the paper's settings: also Glorot conductances
        return cwa_mlp(d, hidden, kind=kind, batchnorm=bn, rng=seed, deep_rest_potential=None, init_std=None)
    return cwa_mlp(d, hidden, kind=kind, batchnorm=bn, rng=seed, deep_rest_potential=DEEP_REST)


def init_stats(model, x):
    """Per hidden layer at initialisation: mean and sd of z (before the ReLU) and the active fraction."""
    rows, h = [], x
    for layer in model.layers:
        h_in, h = h, layer.forward(h)
        if isinstance(layer, nn.ReLU):
            rows.append({"z_mean": to_float(h_in.mean()), "z_sd": to_float(h_in.std()),
                         "active": to_float((h > 0).mean())})
    return rows


def run_dataset(dataset, args, cfg, out, rng, clock):
    split, used = load(dataset, args, cfg, rng)
    c, results, histories = cfg[dataset], {}, {}
    prepared = {how: prepare(split, how) for how in ("cwa", "scaled", "standardised")}
    for name in RUNS[dataset]:
        kind, bn, how, family = NETS[name]
        data, (X_test, y_test) = prepared[how]
        lr = LR[cfg["lr"]][dataset][family]
        model = build(name, data["X_train"].shape[1], c["hidden"], args.seed + 1)
        probe = data["X_val"][:cfg["probe"]]
        stats = init_stats(model, to_device(probe, dtype=np.float32)) if kind != "affine" else None
        opt = optim.Adam(lr=lr, beta1=0.9, beta2=0.99)
        plateau = (optim.ReduceLROnPlateau(opt, factor=10.0, patience=PATIENCE[family], threshold=0.0)
                   if cfg["plateau"] else None)
        print(f"--- {NAMES[dataset]}: {name} (lr {lr:g}, hidden {c['hidden']})")
        epochs = LITERAL_EPOCHS if name == "CWA, e_r = -0.4 everywhere" and args.mode != "full" else c["epochs"]
        trainer = Trainer(model, data, opt, batch_size=cfg["batch"], epochs=epochs, rng=args.seed,
                          rules=[ActiveUnits(probe, cfg["probe_every"]), TestEvaluation(X_test, y_test)],
                          scheduler=plateau, progress=args.mode != "smoke", eval_batch_size=1000,
                          checkpoint=checkpoint_path(out, args, f"{dataset}_{name}"), resume=args.resume,
                          fresh=args.fresh)
        with clock("train"):
            h = trainer.fit()
        with clock("eval"):
            _, test_acc = test_on_best(trainer, X_test, y_test)
        best = int(np.argmax(h["val_acc"]))
        results[name] = {"lr": lr, "best_epoch": best + 1, "val_acc": 100 * h["val_acc"][best],
                         "test_at_val_best": 100 * test_acc, "best_test_during_training": 100 * max(h["test_acc"]),
                         "train_acc_last": 100 * h["train_acc"][-1], "train_loss": h["train_loss"],
                         "active_last": [r for e in h["active"] for r in e][-1][1:], "init": stats}
        histories[name] = h
    return results, histories, used


def plot_active(out, histories, steps_per_epoch):
    fig, axes = figure(1, 2, figsize=(11, 4), sharey=True)
    for ax, name in zip(axes, ["CWA, e_r = -0.4 everywhere", "CWA"]):
        rows = np.array([r for e in histories[name]["active"] for r in e], dtype=float)
        for i in range(1, rows.shape[1]):
            ax.plot(rows[:, 0] / steps_per_epoch, rows[:, i], f"C{i - 1}", label=f"hidden {i}")
        title = ("paper's settings: e_r = -0.4 in every layer" if name != "CWA"
                 else f"minigrad default: e_r = -0.4, then {DEEP_REST:g}")
        ax.set_title(f"MNIST 2-hidden-layer CWA, {title}", fontsize=9)
        ax.set_xlabel("epoch"), ax.grid(alpha=0.3), ax.legend()
        ax.set_xticks(range(0, int(np.ceil(rows[-1, 0] / steps_per_epoch)) + 1))
    axes[0].set_ylabel("fraction of active units (p > 0) on probe images")
    save_figure(fig, out, "active_units.png")


def make_claims(results, used, cfg, mode):
    def cond(ds, differs):
        c, u = cfg[ds], used[ds]
        data = u["name"] + (f" ({u['source']})" if u["source"] else "")
        return ledger.Conditions(data=data, n_train=u["n_train"], n_val=u["n_val"], n_test=u["n_test"],
                                 epochs=c["epochs"], differs=differs)
    def budget(ds):
        lrs = ", ".join(f"{k} {v:g}" for k, v in LR[cfg["lr"]][ds].items())
        return [] if mode == "full" else [
            f"{cfg[ds]['epochs']} epochs; Adam lr chosen on validation: {lrs} (paper: to >99.4% train, CWA lr 1e-5 "
            "with a plateau rule)"]
    mn = {k: v["test_at_val_best"] for k, v in results["mnist"].items()}
    cf = {k: v["test_at_val_best"] for k, v in results["cifar10"].items()}
    mnist_diff = budget("mnist") + ["MNIST: 5,000 training digits", "epoch chosen on validation (paper: best test)",
                                    "CWA layers after the first at e_r = 0 (paper: -0.4)"]
    cifar_diff = budget("cifar10") + ["JPEG-recompressed CIFAR-10", "epoch chosen on validation (paper: best test)",
                                      "CWA layers after the first at e_r = 0 (paper: -0.4)"]
    if tuple(cfg["cifar10"]["hidden"]) != CIFAR10_FCN:
        cifar_diff.append(f"hidden {'-'.join(map(str, cfg['cifar10']['hidden']))} (paper 2000-1000-500)")
    pick = lambda d, names: {n: d[n] for n in names}            # noqa: E731
    return [
        ledger.Claim(
            id="20.mnist.literal-settings-learn", paper=PAPER_ID, where="Section 4.3, table 1",
            statement="A CWA FCN with two hidden layers built with the paper's stated settings (e_r = -0.4 in "
                      "every layer, conductances near 1, doubled inputs) learns MNIST (paper: 98.65%).",
            unit="% test accuracy", paper_values={"CWA": PAPER["mnist"]["CWA"]},
            ours={"CWA, e_r = -0.4 everywhere": mn["CWA, e_r = -0.4 everywhere"]},
            rule=ledger.at_least(90.0, "CWA, e_r = -0.4 everywhere", partly=50.0),
            conditions=cond("mnist", mnist_diff[:-1]),
            note="Its second layer is silent at initialisation (active_units.png): no gradient reaches the "
                 "CWA layers. minigrad's default (e_r = 0 after the first layer) is used in every other claim."),
        ledger.Claim(
            id="20.mnist.cwa-vs-affine-bn", paper=PAPER_ID, where="Table 1 (FCN, MNIST)",
            statement="A CWA FCN (2 x 2000) is nearly as accurate as an affine FCN with batchnorm on MNIST.",
            unit="% test accuracy", paper_values=PAPER["mnist"], ours=pick(mn, PAPER["mnist"]),
            rule=ledger.within(1.0, "CWA", of="Affine + BN", partly=3.0), conditions=cond("mnist", mnist_diff)),
        ledger.Claim(
            id="20.cifar10.cwa-vs-affine-bn", paper=PAPER_ID, where="Table 1 (FCN, CIFAR-10)",
            statement="On CIFAR-10 a CWA FCN is within 2 points of an affine FCN with batchnorm.",
            unit="% test accuracy", paper_values=pick(PAPER["cifar10"], ["CWA", "Affine + BN"]),
            ours=pick(cf, ["CWA", "Affine + BN"]), rule=ledger.within(2.0, "CWA", of="Affine + BN", partly=5.0),
            conditions=cond("cifar10", cifar_diff)),
        ledger.Claim(
            id="20.cifar10.bn-helps-cwa", paper=PAPER_ID, where="Table 1 (FCN, CIFAR-10)",
            statement="Adding batchnorm before each ReLU improves the CWA FCN on CIFAR-10 (61.98 -> 64.93).",
            unit="% test accuracy", paper_values=pick(PAPER["cifar10"], ["CWA + BN", "CWA"]),
            ours=pick(cf, ["CWA + BN", "CWA"]), rule=ledger.ordering(["CWA + BN", "CWA"]),
            conditions=cond("cifar10", cifar_diff)),
        ledger.Claim(
            id="20.cifar10.absnorm-below-cwa", paper=PAPER_ID, where="Table 2, section 4.4",
            statement="AbsNorm (valence per synapse) is less accurate than CWA (valence per neuron) on CIFAR-10.",
            unit="% test accuracy", paper_values=pick(PAPER["cifar10"], ["CWA", "AbsNorm"]),
            ours=pick(cf, ["CWA", "AbsNorm"]), rule=ledger.ordering(["CWA", "AbsNorm"]),
            conditions=cond("cifar10", cifar_diff + ["AbsNorm fed the doubled inputs as CWA"])),
        ledger.Claim(
            id="20.cifar10.lateral-matches-cwa", paper=PAPER_ID, where="Table 2, section 4.4",
            statement="CWA with lateral inhibitory interneurons is as accurate as CWA (62.03 vs 61.98).",
            unit="% test accuracy", paper_values=pick(PAPER["cifar10"], ["CWA + lateral inhibition", "CWA"]),
            ours=pick(cf, ["CWA + lateral inhibition", "CWA"]),
            rule=ledger.within(1.0, "CWA + lateral inhibition", of="CWA", partly=2.0),
            conditions=cond("cifar10", cifar_diff + ["lateral equations are ours (K = M/5, T = 3)"])),
    ]


def main():
    args = parse_args(__doc__.splitlines()[0])
    out = output_dir(__file__, args)
    cfg = SETTINGS[args.mode]
    rng = np.random.default_rng(args.seed)
    clock = provenance.Clock()
    results, histories, used = {}, {}, {}
    for dataset in ("mnist", "cifar10"):
        results[dataset], histories[dataset], used[dataset] = run_dataset(dataset, args, cfg, out, rng, clock)
        plot_loss_and_accuracy(out, f"{dataset}.png", histories[dataset], PAPER[dataset],
                               (f"{NAMES[dataset]} FCN: training loss", f"{NAMES[dataset]}: accuracy"))
    steps = int(np.ceil(used["mnist"]["n_train"] / cfg["batch"]))
    plot_active(out, histories["mnist"], steps)

    rows = []
    for dataset, res in results.items():
        for name, r in res.items():
            rows.append([NAMES[dataset], name, f"{r['lr']:g}", r["best_epoch"], f"{r['val_acc']:.2f}",
                         f"{r['test_at_val_best']:.2f}", f"{r['best_test_during_training']:.2f}",
                         f"{r['train_acc_last']:.1f}", " / ".join(f"{a:.2f}" for a in r["active_last"]),
                         PAPER[dataset].get(name, "-")])
    print("\naccuracy in %; 'test @ val-best': the epoch chosen on the validation split (ours);")
    print("'best test in training' is the paper's protocol (the test set chooses the epoch)")
    print_table(["data", "network", "lr", "best epoch", "val", "test @ val-best", "best test in training "
                 "[paper's protocol]", "train (last)", "active units per hidden layer (last)", "paper test"], rows)
    print("\nat initialisation (probe images): z mean +- sd and fraction active, per hidden layer")
    for name in ("CWA, e_r = -0.4 everywhere", "CWA"):
        init = results["mnist"][name]["init"]
        print(f"  {name}: " + "; ".join(f"hidden {i + 1}: z {s['z_mean']:+.4f} +- {s['z_sd']:.4f}, "
                                        f"active {s['active']:.3f}" for i, s in enumerate(init)))
    for u in used.values():
        if u["fallback"]:
            print("NOTE:", u["note"])
    claims = make_claims(results, used, cfg, args.mode)
    prov = provenance.collect(args, data=list(used.values()), clock=clock)
    save_metrics(out, {"settings": cfg, "learning_rates": LR[cfg["lr"]], "deep_rest_potential": DEEP_REST,
                       "paper": PAPER, "results": results,
                       "history": {ds: {n: {k: v for k, v in h.items()} for n, h in hs.items()}
                                   for ds, hs in histories.items()},
                       "provenance": prov, "claims": ledger.to_json(claims, prov)})
    print()
    print_table(["claim", "verdict"], [[c.id, c.verdict] for c in claims])


if __name__ == "__main__":
    main()
