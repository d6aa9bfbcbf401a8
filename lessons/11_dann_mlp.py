"""Lesson 11: Dale's ANNs learn as well as ordinary networks; column-constrained ones do not.

What it shows
    Cornford et al. 2021 (sections 2-5, tables 1 and 3). A network that obeys
    Dale's principle (every unit excitatory or inhibitory, all weights of one
    sign) is usually built by fixing the sign of whole columns of W
    ("ColumnEi"), and it learns badly. A DANN layer instead keeps all weights
    non-negative and inhibits its excitatory units through a few feedforward
    inhibitory interneurons, subtractively and divisively (equation 1). With
    the paper's initialisation (inhibition balances excitation: z starts
    centred and scaled, like layer normalisation) and its corrected updates
    (inhibitory gradients scaled down by sqrt(ne), d, d sqrt(ne)), a DANN
    trains as well as an unconstrained MLP. Five networks, each 3 hidden
    layers of 500 (ColumnEi: 500 E + 50 I), batch 32, plain SGD at the
    paper's learning rates:

        MLP              Linear + ReLU (no sign constraints)
        DANN             50 inhibitory units per hidden layer, 1 at the output
        DANN 1i          one inhibitory unit per layer
        DANN nc          DANN without the update corrections (needs a much smaller lr)
        ColumnEi         column sign constraints

    Paper test error after 50 epochs (mean of 6 seeds): MNIST MLP 1.44%,
    DANN 1.325%, DANN 1i 1.56%, DANN nc 2.17%, ColumnEi 3.04%;
    Fashion-MNIST MLP 10.63%, DANN 10.96%, ColumnEi 14.99%.

What to read
    - ``minigrad/nn/dann.py``: equation 1 is written out line by line in
      ``dann_block_forward`` (zE, zI, subtractive and divisive inhibition);
      ``DANN.forward`` calls it and adds g and b, ``dann_block_backward`` is its
      exact gradient; ``dann_init`` is algorithm 1.
    - ``minigrad/models/feedforward.py``: ``mlp``, ``dann_mlp``, ``columnei_mlp``, the
      three networks; ``build`` below picks one and its rules.
    - ``minigrad/dale.py``: ``DANNCorrections`` (algorithm 3) and
      ``DaleProjection`` (algorithm 2), the two rules passed to the Trainer below.

Protocol
    Each network trains on the training split minus a held-out validation set
    (``n_val``); the Trainer keeps the epoch with the best validation accuracy,
    and that model's test error is our result. The paper reports the test error
    after the last epoch (its learning rates were chosen on a 10,000-image
    validation split); we print that figure too, labelled as the paper's protocol.
    The test set never chooses anything. Seeds change the initial weights and
    the batch order; the split and the examples are fixed by ``--seed``.

What to change (exercises; expected results are reasoned from the runs below, not measured)
    - Switch the corrections off for the DANN: in ``build``, change
      ``DANNCorrections(model, enabled=model_name != "DANN nc")`` to
      ``enabled=False``. Expect "DANN" to train like "DANN nc" at a 28x larger
      learning rate: its validation error stalls far above the MLP's or the
      loss diverges (the inhibitory parameters get updates ~sqrt(ne) to d times
      too large).
    - ``DaleProjection(model, enabled=False)`` in ``build``: weights may change
      sign; expect the DANN's error to stay close to the constrained one (the
      constraint costs little), while the network is no longer Dale's.
    - In ``LR``, set "DANN nc" to the corrected DANN's rate (0.1107 on MNIST):
      expect it to diverge (NaN loss, the run stops with an error) or stall.

Measured (--full on Fashion-MNIST: the paper's protocol, table 3's three networks)
    ``--full --tag full --data fashion_mnist --models MLP,DANN,ColumnEi --seeds 6``,
    run of 2026-12-02: all of Fashion-MNIST (50,000 trained on, 10,000 held out
    for validation, the 10,000 test images), 50 epochs, batch 32, plain SGD at
    the paper's learning rates, seeds 0-5; 127 minutes on one thread of the
    shared 2-core machine (per run: MLP ~5, DANN ~8, ColumnEi ~7.5 minutes).
    Test error (mean +- sd over 6 seeds), at the epoch of best validation
    accuracy [after the last epoch, the paper's protocol]; paper in brackets:
        MLP       10.67 +- 0.21%  [11.72 +- 1.72]   (paper 10.63)
        DANN      10.96 +- 0.23%  [11.65 +- 0.54]   (paper 10.96)
        ColumnEi  14.77 +- 0.33%  [16.10 +- 1.37]   (paper 14.99)
    Training error after 50 epochs: MLP 1.65 +- 0.14%, DANN 3.09 +- 0.15%,
    ColumnEi 12.63 +- 0.13% (paper 1.79, 3.83, 12.37).
    The paper's claims hold at its setting: the DANN is within 0.3 points of
    the MLP (11.fashion_mnist.dann-vs-mlp holds) and ColumnEi is 4.1 +- 0.5
    points worse than the MLP (paper 4.4; 11.fashion_mnist.columnei-gap holds);
    our means are within 0.25 points of the paper's. After the last epoch (the
    paper's protocol) single seeds land up to 4 points higher (an epoch of SGD
    at these rates moves test error a lot); choosing the epoch on validation
    removes most of that spread. MNIST at --full was not run: only the
    5,000-digit subset is installed here, not the paper's 60,000 digits.

Measured (default run, seed 0; MNIST: the 5,000-digit subset installed from
/work/shared/datasets, 4,500 trained on, 500 validation, 10,000 test; Fashion-MNIST:
18,000 trained on, 2,000 validation, 10,000 test; 10 / 5 epochs)
    Test error at the epoch of best validation accuracy (after the last epoch,
    the paper's protocol, in brackets):
    MNIST: MLP 6.46% (5.11), DANN 5.57% (5.57), DANN 1i 6.02% (6.25),
    DANN nc 13.86% (27.25), ColumnEi 12.33% (12.33).
    Fashion-MNIST: MLP 16.07% (15.56), DANN 15.02% (16.63), DANN 1i 15.43%
    (16.47), DANN nc 28.41% (28.41), ColumnEi 62.11% (71.86).
    Which part of the paper's claim holds at this budget: DANN (and DANN 1i)
    learn as well as the MLP (11.mnist.dann-vs-mlp holds: 0.9 points *below*
    the MLP; 11.fashion_mnist.dann-vs-mlp partly: 1.05 points below, the rule
    asks within 1), and the uncorrected DANN and ColumnEi are far worse. The
    sizes of those gaps do not hold, as expected of the short budget:
    ColumnEi - MLP 5.9 points on MNIST (paper 1.6) and 46 on Fashion-MNIST
    (paper 4.4: this seed's ColumnEi run jumped back up to a loss of 2.1 in
    its third epoch and had not recovered by the fifth; an earlier default run
    on another 20,000-image draw gave 33.8%), DANN nc - DANN 8.3 points on
    MNIST (paper 0.84) (claims *-gap do not hold), and on MNIST the
    uncorrected DANN comes out worse than ColumnEi (paper: the reverse; claim
    11.mnist.ordering partly). The --full run above is the one to trust.
    (Run of 2026-12-02, 4.4 minutes, the machine shared with other runs;
    numbers move a little when a code change reorders floating-point sums.)

Run (one thread on a shared 2-core CPU; a step of the DANN costs ~1.3x the MLP's)
    python lessons/11_dann_mlp.py          # default: reduced (see SETTINGS), one seed, ~5 minutes
    python lessons/11_dann_mlp.py --smoke  # seconds; embedded MNIST sample / synthetic data
    python lessons/11_dann_mlp.py --full   # the paper's protocol: 50 epochs, 6 seeds, all data (many hours)
    python lessons/11_dann_mlp.py --full --tag full --data fashion_mnist --models MLP,DANN,ColumnEi --seeds 6
                                           # one piece of it: table 3's three networks (the run quoted above)
``--data``, ``--models`` and ``--seeds N`` (seeds --seed .. --seed+N-1) pick part of the protocol,
so that a long ``--full`` run can be made a piece at a time; each data set draws its examples
and split from its own generator, the same whichever others run.
The default run trains each network on 18,000 of 20,000 Fashion-MNIST images
(2,000 held out for validation) for 5 epochs and on 4,500 of 5,000 MNIST digits
(500 held out) for 10 epochs, one seed, and reports test error on the 10,000
test images of each (2,000 for MNIST when only the embedded sample is there).
Budget: that is ~1,560 steps (MNIST 1,410) at learning rates the paper tuned for
50 epochs on all data (~78,000 steps). The fast learners (MLP, DANN, DANN 1i)
get close to their final errors; the slow ones (DANN nc at its 28x smaller
rate, ColumnEi) are far from converged, so the default *inflates* the gaps of
the uncorrected DANN and of ColumnEi to the MLP (measured: 4-11x the paper's;
an earlier estimate put it at ~15x). The ordering is meaningful, the size of those gaps is not; the claims
record this in their conditions (``differs``) and the printed table says so.
``--full`` is the paper's protocol: 50 epochs, 6 seeds (mean +- sd), 10,000
validation images held out of the training split, on all installed data (the
full Fashion-MNIST is the one data set here equal to the paper's; MNIST is the
5,000-digit subset unless the full set is installed).
Data: ``python data_scripts/fashion_mnist.py`` (required outside --smoke) and
``python data_scripts/mnist.py`` (without it, the embedded 5,000-digit MNIST
sample is used). Both are loaded before any training starts.
Outputs in outputs/11_dann_mlp/: errors_mnist.png, errors_fashion_mnist.png, metrics.json.
"""
import numpy as np

from minigrad import ledger, optim, provenance
from minigrad.backend import to_device
from minigrad.dale import DANNCorrections, DaleProjection
from minigrad.data import flatten, load_fashion_mnist, normalize, train_val_split
from minigrad.data.paths import data_dir
from minigrad.experiment import (checkpoint_path, figure, mean_sd, mnist_train_test, names_from, output_dir,
                                 parse_args, print_table, save_figure, save_metrics, synthetic_images, test_on_best)
from minigrad.models import columnei_mlp, dann_mlp, mlp
from minigrad.trainer import Trainer

# n_train examples are drawn from the training split; n_val of them are held out for
# validation (the paper held out 10,000), the rest are trained on
# (None: all installed); ``seeds``: how many seeds (args.seed, args.seed + 1, ...) each model trains with.
SETTINGS = {
    "smoke": dict(hidden=32, n_inhib=4, batch=32, epochs={"mnist": 1, "fashion_mnist": 1},
                  n_train={"mnist": 400, "fashion_mnist": 400}, n_val={"mnist": 100, "fashion_mnist": 100},
                  n_test=300, seeds=1),
    "default": dict(hidden=500, n_inhib=50, batch=32, epochs={"mnist": 10, "fashion_mnist": 5},
                    n_train={"mnist": 5000, "fashion_mnist": 20000}, n_val={"mnist": 500, "fashion_mnist": 2000},
                    n_test=10000, seeds=1),
    "full": dict(hidden=500, n_inhib=50, batch=32, epochs={"mnist": 50, "fashion_mnist": 50},
                 n_train={"mnist": None, "fashion_mnist": None}, n_val={"mnist": 10000, "fashion_mnist": 10000},
                 n_test=10000, seeds=6),
}
# What the default's short budget does to the comparison (printed with the table, kept in the claims).
BUDGET_NOTE = ("the default trains ~1,560 steps (Fashion-MNIST: 18,000 images x 5 epochs / batch 32; MNIST: "
               "4,500 x 10 / 32 = 1,410) at learning rates the paper tuned for 50 epochs on all data; the slow "
               "learners (DANN nc at its small rate, ColumnEi) are far from converged, so their gaps to the MLP "
               "come out many times the paper's (4-11x in the default run of 2026-12-02); --full is the paper's "
               "protocol")
MODELS = ["MLP", "DANN", "DANN 1i", "DANN nc", "ColumnEi"]
DATASETS = ("mnist", "fashion_mnist")
# Learning rates of tables 1 and 3. The paper gives no Fashion-MNIST value for
# DANN 1i and DANN nc; we reuse the DANN one and the MNIST "nc" one (marked *).
LR = {
    "mnist": {"MLP": 0.2976, "DANN": 0.1107, "DANN 1i": 0.05327, "DANN nc": 0.003981, "ColumnEi": 0.05273},
    "fashion_mnist": {"MLP": 0.08403, "DANN": 0.01973, "DANN 1i": 0.01973, "DANN nc": 0.003981,
                      "ColumnEi": 0.02265},
}
# (train error %, test error %) after 50 epochs, mean over 6 seeds; None: not in the paper
PAPER = {
    "mnist": {"MLP": (0.0, 1.44), "DANN": (0.0, 1.325), "DANN 1i": (0.0, 1.56), "DANN nc": (0.293, 2.167),
              "ColumnEi": (0.662, 3.035)},
    "fashion_mnist": {"MLP": (1.793, 10.626), "DANN": (3.832, 10.962), "DANN 1i": None, "DANN nc": None,
                      "ColumnEi": (12.365, 14.986)},
}


def options(p):
    """Lesson 11's own arguments: run part of the protocol (a long --full run one piece at a time)."""
    p.add_argument("--data", type=names_from(DATASETS), default=list(DATASETS),
                   help="data sets to train on, comma-separated (default: mnist,fashion_mnist)")
    p.add_argument("--models", type=names_from(MODELS), default=list(MODELS),
                   help=f"networks to train, comma-separated (default: all: {','.join(MODELS)})")
    p.add_argument("--seeds", type=int, default=None,
                   help="how many seeds, from --seed up (default: the mode's: 1, or 6 at --full)")


def load(name, args, cfg, rng):
    """(Trainer data, (X_test, y_test)) for 'mnist' or 'fashion_mnist': float32 rows of 784
    pixels in [0, 1]. The validation set is held out of the training split."""
    if name == "mnist":                       # falls back to the embedded sample
        xtr, ytr, xte, yte = mnist_train_test(cfg["n_train"][name], cfg["n_test"], rng)
    else:
        try:
            (xtr, ytr), (xte, yte) = load_fashion_mnist(split="train"), load_fashion_mnist(split="test")
        except FileNotFoundError:
            if args.mode != "smoke":
                raise
            print(f"{name} is not installed: --smoke runs on synthetic images")
            xtr, ytr = synthetic_images(cfg["n_train"][name], (28, 28), 10, rng)
            xte, yte = synthetic_images(cfg["n_test"], (28, 28), 10, rng)
        order = rng.permutation(len(xtr))[: cfg["n_train"][name] or len(xtr)]
        xtr, ytr = xtr[order], ytr[order]
    data = train_val_split(flatten(normalize(xtr)), ytr, cfg["n_val"][name], rng)
    return data, (flatten(normalize(xte[: cfg["n_test"]])), yte[: cfg["n_test"]])


def build(model_name, cfg, pixel_mean, seed):
    """The network and its update rules."""
    h, ni = cfg["hidden"], cfg["n_inhib"]
    if model_name == "MLP":
        return mlp(784, h, rng=seed), []
    if model_name == "ColumnEi":
        model = columnei_mlp(784, h, ni, rng=seed, input_mean=pixel_mean)
        return model, [DaleProjection(model)]
    model = dann_mlp(784, h, 1 if model_name == "DANN 1i" else ni, rng=seed)
    return model, [DANNCorrections(model, enabled=model_name != "DANN nc"), DaleProjection(model)]


def main():
    args = parse_args(__doc__.splitlines()[0], options=options)
    if args.seeds is not None and args.seeds < 1:
        raise SystemExit(f"--seeds must be at least 1, got {args.seeds}")
    out = output_dir(__file__, args)
    cfg = SETTINGS[args.mode]
    clock = provenance.Clock()
    seeds = [args.seed + k for k in range(args.seeds or cfg["seeds"])]
    models = args.models
    results, histories, rows = {}, {}, []
    # every chosen data set first: a missing one stops the lesson before any training.
    # Each data set draws its examples and split from its own generator, so they do not
    # depend on which other data sets are chosen.
    installed = {"mnist": (data_dir() / "mnist").is_dir(), "fashion_mnist": (data_dir() / "fashion-mnist").is_dir()}
    datasets = {name: load(name, args, cfg, np.random.default_rng([args.seed, DATASETS.index(name)]))
                for name in args.data}
    for dataset, (data, (X_test, y_test)) in datasets.items():
        X_test, y_test = to_device(X_test), to_device(y_test)
        pixel_mean = float(data["X_train"].mean())
        results[dataset], histories[dataset] = {}, {}
        for name in models:
            results[dataset][name], histories[dataset][name] = {}, {}
            for seed in seeds:
                print(f"--- {dataset}: {name} (lr {LR[dataset][name]}), seed {seed}")
                model, rules = build(name, cfg, pixel_mean, seed + 1)
                run = f"{dataset}_{name}" + (f"_seed{seed}" if seed != args.seed else "")
                trainer = Trainer(model, data, optim.SGD(LR[dataset][name]), batch_size=cfg["batch"],
                                  epochs=cfg["epochs"][dataset], rng=seed, rules=rules,
                                  eval_batch_size=2000, checkpoint=checkpoint_path(out, args, run),
                                  resume=args.resume)
                with clock("train"):
                    h = trainer.fit()
                with clock("eval"):
                    _, last_acc = trainer.evaluate(X_test, y_test)     # the paper's protocol: after the last epoch
                    _, test_acc = test_on_best(trainer, X_test, y_test)  # ours: the epoch chosen on validation
                histories[dataset][name][seed] = h
                best = int(np.argmax(h["val_acc"]))
                results[dataset][name][seed] = {
                    "lr": LR[dataset][name], "epochs": cfg["epochs"][dataset], "n_train": len(data["X_train"]),
                    "n_val": len(data["X_val"]), "train_error": 100 * (1 - h["train_acc"][-1]),
                    "best_val_error": 100 * (1 - h["val_acc"][best]), "best_epoch": best + 1,
                    "test_error": 100 * (1 - test_acc), "test_error_last_epoch": 100 * (1 - last_acc),
                    "seconds": sum(h["epoch_time"])}
            rs = list(results[dataset][name].values())
            paper = PAPER[dataset][name]
            rows.append([dataset, name, LR[dataset][name], cfg["epochs"][dataset], rs[0]["n_train"], len(rs),
                         mean_sd([r["train_error"] for r in rs]), mean_sd([r["best_val_error"] for r in rs]),
                         mean_sd([r["test_error"] for r in rs]), mean_sd([r["test_error_last_epoch"] for r in rs]),
                         "-" if paper is None else paper[0], "-" if paper is None else paper[1]])

        fig, axes = figure(1, 2, figsize=(11, 4))
        for i, name in enumerate(MODELS):
            if name not in models:
                continue
            for j, h in enumerate(histories[dataset][name].values()):
                e = np.arange(1, len(h["train_acc"]) + 1)
                # clipped at 0.01%: a log scale cannot show 0% error
                axes[0].plot(e, np.maximum(100 * (1 - np.array(h["train_acc"])), 1e-2), f"C{i}",
                             label=name if j == 0 else None, lw=1)
                axes[1].plot(e, np.maximum(100 * (1 - np.array(h["val_acc"])), 1e-2), f"C{i}",
                             label=name if j == 0 else None, lw=1)
            paper = PAPER[dataset][name]
            if paper is not None:       # the paper's test error after 50 epochs, at the right edge
                axes[1].axhline(paper[1], color=f"C{i}", ls=":", lw=1,
                                label=f"paper {name}: {paper[1]}% test (50 epochs)")
        axes[0].set_title(f"{dataset}: training error (running, per epoch)")
        axes[1].set_title(f"{dataset}: validation error (held out of the training data)")
        for ax in axes:
            ax.set_xlabel("epoch"), ax.set_ylabel("error (%)"), ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both"), ax.legend(fontsize=7)
            ax.xaxis.get_major_locator().set_params(integer=True)
        save_figure(fig, out, f"errors_{dataset}.png")

    # ---- claims (test error at the epoch chosen on validation; the paper's: after the last of 50 epochs)
    def per_seed(dataset, name, field="test_error"):      # [] for a model not run: its claims are "not run"
        return [r[field] for r in results[dataset].get(name, {}).values()]

    data_info, claims = [], []
    for dataset, (data, (X_test, _)) in datasets.items():
        n_tr, n_va, n_te = len(data["X_train"]), len(data["X_val"]), len(X_test)
        label = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}[dataset]
        fallback = not installed[dataset]
        stand_in = "embedded 5,000-digit sample" if dataset == "mnist" else "synthetic images"
        data_name = f"{label} (fallback: {stand_in})" if fallback else label
        data_info.append(provenance.data_used(
            data_name, source=stand_in if fallback else f"~/.minigrad/data/{label.lower()}",
            n_train=n_tr, n_val=n_va, n_test=n_te, fallback=fallback,
            note=f"{label} not installed: python data_scripts/{dataset}.py" if fallback else ""))
        epochs = cfg["epochs"][dataset]
        differs = ["test error at the epoch of best validation accuracy (paper: after the last epoch)"]
        if epochs < 50 or n_tr + n_va < 60000:
            differs.append(f"{n_tr:,} training images, {epochs} epochs instead of 50,000 (+10,000 validation) "
                           f"and 50: {BUDGET_NOTE}")
        if len(seeds) < 6:
            differs.append(f"{len(seeds)} seed(s) instead of 6")
        cond = ledger.Conditions(data=data_name, n_train=n_tr, n_val=n_va, n_test=n_te, epochs=epochs,
                                 differs=differs)
        p = {n: PAPER[dataset][n][1] for n in MODELS if PAPER[dataset][n] is not None}
        where = "Table 1, Figure 3" if dataset == "mnist" else "Table 3"
        claims.append(ledger.Claim(
            id=f"11.{dataset}.dann-vs-mlp", paper="dann-dales-principle", where=where,
            statement=f"On {label}, a DANN's test error is within 1 point of an MLP's.",
            unit="% test error", paper_values={"MLP": p["MLP"], "DANN": p["DANN"]},
            ours={"MLP": per_seed(dataset, "MLP"), "DANN": per_seed(dataset, "DANN")},
            rule=ledger.within(1.0, "DANN", of="MLP", partly=2.0), conditions=cond))
        claims.append(ledger.Claim(
            id=f"11.{dataset}.columnei-gap", paper="dann-dales-principle", where=where,
            statement=f"On {label}, ColumnEi's test error exceeds the MLP's by the paper's gap "
                      f"({p['ColumnEi'] - p['MLP']:.2f} points; ours within 1 point of it).",
            unit="points of test error above the MLP", paper_values={"ColumnEi - MLP": p["ColumnEi"] - p["MLP"]},
            ours={"ColumnEi - MLP": [a - b for a, b in zip(per_seed(dataset, "ColumnEi"), per_seed(dataset, "MLP"))]},
            rule=ledger.within(1.0, "ColumnEi - MLP", partly=3.0), conditions=cond,
            note="" if epochs >= 50 else "Inflated by the short budget (see conditions)."))
        if dataset == "mnist":
            claims.append(ledger.Claim(
                id="11.mnist.dann-nc-gap", paper="dann-dales-principle", where="Table 1, Figure 3",
                statement="On MNIST, a DANN without the update corrections (at its own tuned learning rate) has a "
                          f"test error {p['DANN nc'] - p['DANN']:.2f} points above the corrected DANN's "
                          "(ours within 1 point of that gap).",
                unit="points of test error above the DANN", paper_values={"DANN nc - DANN": p["DANN nc"] - p["DANN"]},
                ours={"DANN nc - DANN": [a - b for a, b in zip(per_seed(dataset, "DANN nc"),
                                                               per_seed(dataset, "DANN"))]},
                rule=ledger.within(1.0, "DANN nc - DANN", partly=3.0), conditions=cond,
                note="" if epochs >= 50 else "Inflated by the short budget (see conditions)."))
            claims.append(ledger.Claim(
                id="11.mnist.ordering", paper="dann-dales-principle", where="Table 1, Figure 3",
                statement="On MNIST, ColumnEi has the highest test error, then the uncorrected DANN, then the DANN.",
                unit="% test error", paper_values={n: p[n] for n in ("ColumnEi", "DANN nc", "DANN")},
                ours={n: per_seed(dataset, n) for n in ("ColumnEi", "DANN nc", "DANN")},
                rule=ledger.ordering(["ColumnEi", "DANN nc", "DANN"]), conditions=cond))

    prov = provenance.collect(args, data=data_info, clock=clock, seeds=seeds)
    save_metrics(out, {"settings": cfg, "learning_rates": LR, "results": results, "paper": PAPER,
                       "history": histories, "budget_note": None if args.mode == "full" else BUDGET_NOTE,
                       "provenance": prov, "claims": ledger.to_json(claims, prov)})
    print_table(["data", "model", "lr", "epochs", "n train", "seeds", "train err %", "best val err %",
                 "test err % (best val epoch)", "test err % (last epoch: paper's protocol)",
                 "paper train err % (50 ep)", "paper test err % (last epoch)"], rows)
    if args.mode != "full":
        print(f"Note: {BUDGET_NOTE}.")
    for c in claims:
        print(f"claim {c.id}: {c.verdict}")


if __name__ == "__main__":
    main()
