"""Lesson 19: CWA is self-normalising: activations stay in [-1, 1] through a deep network without batchnorm.

What it shows
    "Learning high-dimensional perceptual tasks with Hodgkin-Huxley networks"
    (ICLR 2020 submission, ``shared/papers/cwa-hodgkin-huxley-networks.txt``),
    section 2.3: a CWA neuron's potential is a conductance-weighted average of
    the valences -1, +1 and the rest potential, "and thus the output of CWA is
    bound by the range of the valences" (section 1): z in [-1, 1] in every
    layer, whatever the parameters, the depth or the training, with no
    batchnorm. An affine layer has no such bound: its pre-activations' scale is
    set by the weights, so it drifts with depth (shrinks or grows by a factor
    per layer) and grows with training.

    We build 8 hidden layers of 256 units, CWA (``cwa_mlp`` defaults) and
    affine (Glorot, ReLU, no batchnorm), train both briefly on MNIST, and plot
    per hidden layer the range of the pre-activations z (min to max, and the
    1st to 99th percentile) at initialisation and after training, and the
    fraction of active units per layer (the deep-CWA question of lesson 20:
    with the literal e_r = -0.4 in every layer, every layer after the first is
    silent).

How we measure
    Ranges over a fixed batch of validation digits (held out of the training
    data). The bound is a property of every input, so the claim is checked on
    the largest |z| seen in any layer, before and after training.

What to read
    ``minigrad/nn/cwa.py``: equation 3 and why ``den >= G_r > 0`` for inputs >= 0;
    ``minigrad/models/cwa_nets.py``, "Deep CWA networks".

What to change (exercise)
    Raise ``LR`` to 1e-2: the affine network's ranges grow by orders of
    magnitude, CWA's stay inside [-1, 1] (its deeper layers may fall silent instead).

Measured (default run of 2026-12-02, with ``cwa_mlp``'s spread conductances,
init_std = 1.0; seed 0, one thread on the shared 2-core machine, 12 s of
training)
    Data: MNIST = the 5,000-digit subset (``<data dir>/mnist``, imported from
    /work/shared/datasets/mnist-subset): 3,000 training digits, 1,000 held out
    (500 of them are the probe batch); 3 epochs of Adam at lr 1e-3, batch 64;
    8 hidden layers of 256.
        largest |z| in any hidden layer     at init    after training
        CWA (minigrad default)              0.663      0.657
        CWA, e_r = -0.4 everywhere          0.415      0.415
        Affine, no BN                       2.28       7.6
        sd of z, last hidden layer / first  at init    after training
        CWA                                 1.29       2.02
        Affine, no BN                       0.099      2.19
    - Holds (19.cwa-bounded): every CWA layer stays inside [-1, 1], before and
      after training, with no batchnorm; the affine network's scale shrinks
      ten-fold over 8 layers at initialisation (Glorot with ReLU) and grows
      with training (|z| up to 7.6 in the last layer).
    - Trainable is another matter. Active units per CWA layer at init 47, 13,
      23, 38, 50, 33, 55, 54%, after training 47, 6, 16, 24, 31, 26, 27, 36%:
      every layer stays alive, but the network learns slowly (training loss
      2.302, 2.283, 2.214 per epoch, 16.0% validation accuracy after 141 steps;
      the affine one: 93.4%; at init_std 0.75, the previous default, 15.2%).
      With the paper's Glorot conductances (``init_std=None``, an earlier run)
      the same network had 16, 10, 3, 4, 5, 2, 4, 4% active at init, hidden 5-8
      silent after training and chance accuracy (8.1%): a layer whose
      conductances are all near 1 switches off as a whole
      (``docs/cwa-deep-nets.md``). With e_r = -0.4 everywhere (and Glorot, the
      paper's literal settings) hidden 2-8 sit at exactly -0.4 for every input.
      Lesson 20 and ``minigrad/models/cwa_nets.py`` ("Deep CWA networks")
      measure why, and lesson 20 trains CWA at a larger lr for longer.

Run:
    python lessons/19_cwa_self_normalising.py --smoke   # seconds
    python lessons/19_cwa_self_normalising.py           # default, under a minute on one thread
    python lessons/19_cwa_self_normalising.py --full    # more digits and epochs (the paper has no experiment here)
Data: MNIST from ``<data dir>/mnist`` (here the 5,000-digit subset), else the
embedded 5,000-digit sample (said on screen and in metrics.json).
Outputs in outputs/19_cwa_self_normalising/: ranges.png, active_units.png, metrics.json.
"""
import numpy as np

from minigrad import ledger, nn, optim, provenance
from minigrad.backend import to_device, to_numpy
from minigrad.data import cwa_scale_clip, double_inputs, flatten, train_val_split
from minigrad.experiment import (checkpoint_path, figure, mnist_or_sample, output_dir, parse_args, print_table,
                                 save_figure, save_metrics)
from minigrad.models import cwa_mlp
from minigrad.trainer import Trainer

SETTINGS = {"smoke": dict(depth=4, width=32, n_train=300, n_val=100, epochs=1, probe=100),
            "default": dict(depth=8, width=256, n_train=3000, n_val=1000, epochs=3, probe=500),
            "full": dict(depth=8, width=256, n_train=None, n_val=500, epochs=20, probe=500)}
LR = 1e-3                        # Adam (beta1 0.9, beta2 0.99, as the paper)
NETS = {"CWA": dict(kind="cwa"), "CWA, e_r = -0.4 everywhere": dict(kind="cwa", deep_rest_potential=None,
                                                                      init_std=None),
        "Affine, no BN": dict(kind="affine")}
PAPER_ID = "cwa-hodgkin-huxley-networks"


def load(args, cfg, rng):
    (x, y), info = mnist_or_sample("train")
    split = train_val_split(flatten(x), y, cfg["n_val"], rng, n_train=cfg["n_train"])
    used = provenance.data_used("MNIST", n_train=len(split["X_train"]), n_val=len(split["X_val"]), **info)
    return split, used


def layer_stats(model, x):
    """Per hidden layer: z's min, 1st percentile, 99th percentile, max, sd, and the active fraction."""
    rows, h = [], x
    model.eval()
    for layer in model.layers:
        h_in, h = h, layer.forward(h)
        if isinstance(layer, nn.ReLU):
            z = to_numpy(h_in).ravel()
            rows.append({"min": float(z.min()), "p1": float(np.percentile(z, 1)), "p99": float(np.percentile(z, 99)),
                         "max": float(z.max()), "sd": float(z.std()), "active": float((z > 0).mean())})
    model.train()
    return rows


def plot_ranges(out, stats, depth):
    fig, axes = figure(1, 2, figsize=(15, 4.5), sharey=True)
    layers = np.arange(1, depth + 1)
    for ax, when in zip(axes, ("init", "trained")):
        for i, (name, off) in enumerate((("CWA", -0.15), ("Affine, no BN", 0.15))):
            s = stats[name][when]
            lo, hi = np.array([r["min"] for r in s]), np.array([r["max"] for r in s])
            p1, p99 = np.array([r["p1"] for r in s]), np.array([r["p99"] for r in s])
            ax.vlines(layers + off, lo, hi, color=f"C{i}", lw=1, label=f"{name}: min..max")
            ax.vlines(layers + off, p1, p99, color=f"C{i}", lw=5, alpha=0.6, label=f"{name}: 1st..99th percentile")
        ax.axhspan(-1, 1, color="0.85", zorder=0, label="paper (sec. 2.3): CWA bound [-1, 1]")
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.set_xticks(layers, [f"hidden {k}" for k in layers], rotation=45, fontsize=7)
        moment = "at initialisation" if when == "init" else "after training"
        ax.set_title(f"pre-activation z per hidden layer, {moment}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("z (symmetric log scale)")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    save_figure(fig, out, "ranges.png")


def plot_active(out, stats, depth):
    fig, ax = figure(figsize=(7, 4))
    layers = np.arange(1, depth + 1)
    for i, name in enumerate(NETS):
        for when, style in (("init", "--"), ("trained", "-")):
            ax.plot(layers, [r["active"] for r in stats[name][when]], f"C{i}{style}", marker="o",
                    label=f"{name}, {'at init' if when == 'init' else 'trained'}")
    ax.set_xticks(layers, [f"hidden {k}" for k in layers], rotation=45, fontsize=7)
    ax.set_ylabel("fraction of active units (z > 0)"), ax.grid(alpha=0.3), ax.legend(fontsize=7)
    ax.set_title("active units per hidden layer (probe digits)", fontsize=9)
    save_figure(fig, out, "active_units.png")


def main():
    args = parse_args(__doc__.splitlines()[0])
    out = output_dir(__file__, args)
    cfg = SETTINGS[args.mode]
    rng = np.random.default_rng(args.seed)
    clock = provenance.Clock()
    split, used = load(args, cfg, rng)
    cwa_in = {k: double_inputs(cwa_scale_clip(split[k])) for k in ("X_train", "X_val")}
    plain = {k: cwa_scale_clip(split[k]) for k in ("X_train", "X_val")}
    stats, results = {}, {}
    for name, kw in NETS.items():
        X = cwa_in if kw["kind"] == "cwa" else plain
        data = {"X_train": X["X_train"], "y_train": split["y_train"], "X_val": X["X_val"], "y_val": split["y_val"]}
        model = cwa_mlp(X["X_train"].shape[1], (cfg["width"],) * cfg["depth"], rng=args.seed + 1, **kw)
        probe = to_device(X["X_val"][:cfg["probe"]], dtype=np.float32)
        stats[name] = {"init": layer_stats(model, probe)}
        print(f"--- {name}: {cfg['depth']} x {cfg['width']}, Adam lr {LR:g}")
        trainer = Trainer(model, data, optim.Adam(LR, beta1=0.9, beta2=0.99), batch_size=64, epochs=cfg["epochs"],
                          rng=args.seed, progress=args.mode != "smoke",
                          checkpoint=checkpoint_path(out, args, name), resume=args.resume, fresh=args.fresh)
        with clock("train"):
            h = trainer.fit()
        stats[name]["trained"] = layer_stats(model, probe)
        results[name] = {"val_acc_last": 100 * h["val_acc"][-1], "train_loss": h["train_loss"]}

    rows = []
    for name in NETS:
        for when in ("init", "trained"):
            s = stats[name][when]
            rows.append([name, when, " ".join(f"{r['min']:+.3g}..{r['max']:+.3g}" for r in s[:: max(1, len(s) // 4)]),
                         f"{max(max(abs(r['min']), abs(r['max'])) for r in s):.3g}",
                         f"{s[-1]['sd'] / s[0]['sd']:.3g}", " ".join(f"{r['active']:.2f}" for r in s)])
    print_table(["network", "when", "z range (some layers)", "max |z|", "sd last / sd first layer",
                 "active fraction per layer"], rows)
    print("validation accuracy after training: "
          + ", ".join(f"{n} {r['val_acc_last']:.1f}%" for n, r in results.items()))
    max_abs = lambda name: max(max(abs(r["min"]), abs(r["max"])) for w in ("init", "trained")   # noqa: E731
                               for r in stats[name][w])
    drift = lambda name, w: stats[name][w][-1]["sd"] / stats[name][w][0]["sd"]                 # noqa: E731
    cond = ledger.Conditions(data=f"MNIST ({used['source']})", n_train=used["n_train"], n_val=used["n_val"],
                             n_test=0, epochs=cfg["epochs"],
                             differs=[f"{cfg['depth']} x {cfg['width']} (the paper shows no deep-net experiment)"])
    claims = [ledger.Claim(
        id="19.cwa-bounded", paper=PAPER_ID, where="Sections 1 and 2.3",
        statement="A CWA layer's output is bound by the range of the valences: |z| <= 1 in every layer of a "
                  "deep CWA network without batchnorm, at initialisation and after training.",
        unit="largest |z| in any hidden layer", paper_values={"bound": 1.0}, ours={"CWA": max_abs("CWA")},
        rule=ledger.at_most(1.0, "CWA"), conditions=cond,
        note=f"Affine without BN, same depth: largest |z| {max_abs('Affine, no BN'):.3g}; sd of z in the last "
             f"hidden layer / the first: {drift('Affine, no BN', 'init'):.3g} at init, "
             f"{drift('Affine, no BN', 'trained'):.3g} trained (CWA {drift('CWA', 'init'):.3g}, "
             f"{drift('CWA', 'trained'):.3g}).")]
    plot_ranges(out, stats, cfg["depth"])
    plot_active(out, stats, cfg["depth"])
    prov = provenance.collect(args, data=[used], clock=clock)
    save_metrics(out, {"settings": cfg, "lr": LR, "stats": stats, "results": results, "provenance": prov,
                       "claims": ledger.to_json(claims, prov)})
    print_table(["claim", "verdict", "note"], [[c.id, c.verdict, c.note] for c in claims])


if __name__ == "__main__":
    main()
