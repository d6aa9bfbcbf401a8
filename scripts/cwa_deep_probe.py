"""Probe: does a deep CWA network keep every layer alive while it learns?

A small, one-thread experiment for ``docs/cwa-deep-nets.md``: train ``cwa_mlp`` or ``cwa_cnn``
for a few hundred Adam steps (betas 0.9, 0.99) on a sample of MNIST or CIFAR-10 and record,
every ``--every`` steps, the running training loss and, per hidden layer on a fixed probe batch
of validation images (500; 200 for the CNN), the fraction of active (unit, example) pairs
(p > 0) and the fraction of units (channels, for the CNN) active for at least one probe image
("alive"). A layer is dead when its alive fraction is 0: no unit ever fires, no gradient reaches
it or anything below it. Ends with the validation accuracy.

    OPENBLAS_NUM_THREADS=1 python scripts/cwa_deep_probe.py --hidden 256 256 256 256 --lr 1e-3
    ... --first-spread glorot --init-spread glorot   (the paper's Glorot g: conductances near 1)
    ... --deep-e-r none                              (the paper's e_r = -0.4 in every layer)
    ... --arch cnn --hidden 32 64 128 256            (cwa_cnn)
    ... --arch resnet --dataset cifar10 --hidden 16 32 64 128   (cwa_resnet18 at a quarter of its widths)

Without the spread options the builders' default initialisation is used (init_std = 1.0 now;
0.75, and 0.5 before it, in earlier rows of docs/cwa-deep-nets.md; Glorot before the change this
probe motivated). Prints one JSON line per record and a
summary line; ``--out FILE`` appends the summary.
"""
import argparse
import json
import time

import numpy as np

from minigrad import nn, optim
from minigrad.backend import to_device, to_float, to_numpy
from minigrad.data import cwa_scale_clip, double_inputs, load_cifar10
from minigrad.experiment import mnist_or_sample
from minigrad.models import CWABasicBlock, cwa_cnn, cwa_mlp, cwa_resnet18
from minigrad.nn.losses import softmax_cross_entropy


def load(dataset, n_train, n_val, rng, images=False):
    """Scaled, clipped, doubled inputs: (N, 2D) flat, or (N, 2C, H, W) with images=True."""
    if dataset == "mnist":
        (x, y), _ = mnist_or_sample("train")
        x = x[:, None]                                       # (N, 1, 28, 28)
    else:
        x, y = load_cifar10(split="train")                   # (N, 3, 32, 32)
    idx = rng.permutation(len(x))[:n_train + n_val]
    x = x[idx] if images else x[idx].reshape(len(idx), -1)
    x = double_inputs(cwa_scale_clip(x)).astype(np.float32)
    return x[:n_train], y[idx[:n_train]], x[n_train:], y[idx[n_train:]]


def alive(h):
    """(units,) True where a unit (a channel, for conv layers) is active for some probe example/position."""
    h = h > 0
    return h.any(axis=0) if h.ndim == 2 else h.any(axis=(0, 2, 3))


def hidden(model, x):
    """Activities after every ReLU (and every residual block), for x."""
    acts, h = [], x
    for layer in model.layers:
        h = layer.forward(h)
        if isinstance(layer, (nn.ReLU, CWABasicBlock)):
            acts.append(h)
    return acts


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="mnist", choices=("mnist", "cifar10"))
    p.add_argument("--arch", default="mlp", choices=("mlp", "cnn", "resnet"))
    p.add_argument("--hidden", type=int, nargs="+", default=[500, 500, 500],
                   help="hidden sizes (mlp), channels (cnn) or the four stage widths (resnet)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--every", type=int, default=25)
    p.add_argument("--n-train", type=int, default=3000)
    p.add_argument("--n-val", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deep-e-r", default="0.0", help="e_r of the layers after the first, or 'none' (-0.4)")
    p.add_argument("--init-spread", default=None,
                   help="initial g of the CWA layers after the first: a std (normal), 'glorot' (the layer's "
                        "Glorot std) or 'uniform' (g uniform in [-1, 1]); default: the builder's")
    p.add_argument("--first-spread", default=None, help="the same for the first CWA layer")
    p.add_argument("--n-inh-frac", type=float, default=None,
                   help="fraction of each hidden layer's inputs that are inhibitory (deeper layers only)")
    p.add_argument("--readout-scale", type=float, default=None,
                   help="multiply the readout's initial W by this (0: a zero readout)")
    p.add_argument("--kind", default="cwa")
    p.add_argument("--shortcut", default="pad", choices=("conv", "pad"), help="resnet: the shortcut of a block "
                   "that changes shape (ConvCWA 1x1, or subsample + zero channels)")
    p.add_argument("--batchnorm", action="store_true", help="batchnorm before every hidden ReLU (mlp, cnn)")
    p.add_argument("--tag", default="")
    p.add_argument("--out", default=None)
    a = p.parse_args()

    rng = np.random.default_rng(a.seed)
    xtr, ytr, xva, yva = load(a.dataset, a.n_train, a.n_val, rng, images=a.arch != "mlp")
    deep = None if a.deep_e_r == "none" else float(a.deep_e_r)
    if a.arch == "mlp":
        model = cwa_mlp(xtr.shape[1], tuple(a.hidden), kind=a.kind, rng=a.seed + 1, deep_rest_potential=deep,
                        batchnorm=a.batchnorm)
    elif a.arch == "cnn":
        model = cwa_cnn(xtr.shape[1], xtr.shape[2], tuple(a.hidden), kind=a.kind, rng=a.seed + 1,
                        batchnorm=a.batchnorm)
    else:
        model = cwa_resnet18(xtr.shape[1], 10, widths=tuple(a.hidden), rng=a.seed + 1, shortcut=a.shortcut)
    cwa_layers = [m for _, m in model.named_layers() if isinstance(m, (nn.CWA, nn.ConvCWA))]
    init_rng = np.random.default_rng(a.seed + 2)
    for i, layer in enumerate(cwa_layers):     # redraw g with the asked-for std
        g = layer.params["g"]
        std = a.first_spread if i == 0 else a.init_spread
        if std == "glorot":
            fan = g.shape[0] + g.shape[1] if g.ndim == 2 else (g.shape[0] + g.shape[1]) * g.shape[2] * g.shape[3]
            std = np.sqrt(2.0 / fan)
        if std == "uniform":                   # G = 1 + g uniform in [0, 2]
            g[...] = to_device(init_rng.uniform(-1.0, 1.0, g.shape), dtype=g.dtype)
        elif std is not None:
            g[...] = to_device(float(std) * init_rng.standard_normal(g.shape), dtype=g.dtype)
    if a.n_inh_frac is not None:
        for layer in cwa_layers[1:]:
            layer.n_inhibitory = int(round(a.n_inh_frac * layer.params["g"].shape[layer.valence_axis]))
    if a.readout_scale is not None:
        model.layers[-1].params["W"] *= a.readout_scale
    opt = optim.Adam(lr=a.lr, beta1=0.9, beta2=0.99)
    probe = to_device(xva[:500 if a.arch == "mlp" else 200])
    xtr_d, ytr_d = to_device(xtr), to_device(ytr)
    records, losses, t0 = [], [], time.time()

    def record(step):
        model.eval()
        acts = hidden(model, probe)
        model.train()
        row = {"step": step, "loss": float(np.mean(losses)) if losses else None,
               "active": [round(to_float((h > 0).mean()), 4) for h in acts],
               "alive": [round(to_float(alive(h).mean()), 4) for h in acts]}
        losses.clear()
        records.append(row)
        print(json.dumps(row), flush=True)

    record(0)
    order = rng.permutation(len(xtr))
    pos = 0
    for step in range(1, a.steps + 1):
        if pos + a.batch > len(order):
            order, pos = rng.permutation(len(xtr)), 0
        b = order[pos:pos + a.batch]
        pos += a.batch
        scores = model.forward(xtr_d[b])
        loss, ds = softmax_cross_entropy(scores, ytr_d[b])
        model.backward(ds)
        opt.step(model.params, model.grads)
        losses.append(to_float(loss))
        if step % a.every == 0:
            record(step)
    model.eval()
    va = float(np.mean(np.argmax(to_numpy(model.forward(to_device(xva))), 1) == yva))
    summary = {"tag": a.tag, "dataset": a.dataset, "hidden": a.hidden, "lr": a.lr, "steps": a.steps,
               "deep_e_r": a.deep_e_r, "init_spread": a.init_spread, "n_inh_frac": a.n_inh_frac, "arch": a.arch,
               "kind": a.kind, "batchnorm": a.batchnorm, "batch": a.batch, "shortcut": a.shortcut,
               "first_spread": a.first_spread,
               "readout_scale": a.readout_scale, "seed": a.seed,
               "loss_first": records[1]["loss"], "loss_last": records[-1]["loss"],
               "min_alive": [min(r["alive"][i] for r in records) for i in range(len(records[0]["alive"]))],
               "active_last": records[-1]["active"], "val_acc": round(va, 4), "seconds": round(time.time() - t0, 1)}
    print("SUMMARY", json.dumps(summary), flush=True)
    if a.out:
        with open(a.out, "a") as f:
            f.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
