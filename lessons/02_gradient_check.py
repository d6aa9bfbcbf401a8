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

What to read
    - ``minigrad/gradcheck.py``: ``numeric_grad`` is a dozen lines.
    - The ``Broken*`` classes below: each changes one line of a real backward.

What to change
    - Break a layer yourself (for example drop the ``1 - h*h`` factor in
      ``minigrad/nn/rnn.py``) and run this lesson again.
    - See why the upstream gradient G must be random: set it to all ones in
      ``check_layer`` (``minigrad/gradcheck.py``). Batchnorm's true input and gamma
      gradients are then exactly zero, so the check compares zeros with rounding
      noise and can no longer tell the correct layer from the broken one.

Run
    python lessons/02_gradient_check.py [--smoke | --full]
Outputs: outputs/02_gradient_check/errors.png and metrics.json.
"""
import numpy as np

from minigrad import nn
from minigrad.experiment import figure, output_dir, parse_args, print_table, save_figure, save_metrics
from minigrad.gradcheck import check_layer


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
            metrics[name] = {"kind": kind, "errors": errors, "worst": worst}
            verdict = "ok" if worst < 1e-7 else "WRONG"
            rows.append([name, kind, ", ".join(f"{k} {v:.1e}" for k, v in errors.items()), verdict])
    print_table(["layer", "backward", "relative error per input/parameter", "check"], rows)

    fig, ax = figure(figsize=(7, 4))
    names = list(metrics)
    worst = [metrics[k]["worst"] for k in names]
    colors = ["tab:green" if metrics[k]["kind"] == "correct" else "tab:red" for k in names]
    ax.barh(names, worst, color=colors)
    ax.set_xscale("log")
    ax.axvline(1e-7, color="k", ls="--", label="threshold 1e-7")
    ax.set_xlabel("worst relative error (log scale)")
    ax.legend()
    ax.set_title("Lesson 02: correct backward passes vs classic bugs")
    save_figure(fig, out, "errors.png")
    save_metrics(out, metrics)
    assert all(v["worst"] < 1e-7 for v in metrics.values() if v["kind"] == "correct")
    assert all(v["worst"] > 1e-4 for v in metrics.values() if v["kind"] == "broken")


if __name__ == "__main__":
    main()
