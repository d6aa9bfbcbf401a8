"""At initialisation, per CWA layer of cwa_mlp: the size of z and how much of it all units share.

For a batch of probe images, per hidden layer: sd of z (before the ReLU), the fraction of active
(unit, example) pairs, and the "shared fraction": the variance over examples of the mean of z over
the layer's units, divided by the total variance of z. Near 1, every unit computes the same thing
(the layer is on or off as a whole for each input); near 1/M, the units are independent.
For ``docs/cwa-deep-nets.md``; forward passes only.

    OPENBLAS_NUM_THREADS=1 python scripts/cwa_init_diagnostic.py --dataset mnist --hidden 2000 2000
"""
import argparse
import json

import numpy as np

from minigrad import nn
from minigrad.backend import to_device, to_numpy
from minigrad.models import cwa_mlp

from cwa_deep_probe import load


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="mnist", choices=("mnist", "cifar10"))
    p.add_argument("--hidden", type=int, nargs="+", default=[2000, 2000])
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--init-std", nargs="+", default=["glorot", "0.5"])
    a = p.parse_args()
    x, _, _, _ = load(a.dataset, a.n, 0, np.random.default_rng(0))
    x = to_device(x)
    for std in a.init_std:
        net = cwa_mlp(x.shape[1], tuple(a.hidden), rng=1, init_std=None if std == "glorot" else float(std))
        h, rows = x, []
        for m in net:
            z, h = h, m.forward(h)
            if isinstance(m, nn.ReLU):
                zz = to_numpy(z).astype(np.float64)
                rows.append({"z_sd": float(zz.std()), "active": float((zz > 0).mean()),
                             "shared": float(zz.mean(axis=1).var() / zz.var())})
        print(json.dumps({"dataset": a.dataset, "hidden": a.hidden, "init_std": std,
                          "layers": [{k: float(f"{v:.3g}") for k, v in r.items()} for r in rows]}), flush=True)


if __name__ == "__main__":
    main()
