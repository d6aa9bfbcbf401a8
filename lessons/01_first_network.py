"""Lesson 01: a two-layer network learns handwritten digits with backprop.

What it shows
    A 784-256-10 ReLU network, trained with mini-batch SGD with momentum on the
    real MNIST digits that ship inside minigrad (4,500 of the 5,000 training
    digits; 500 held out to pick the best epoch; no download), reaches about 91%
    accuracy on 2,000 held-out test digits in about 15 seconds on a laptop CPU
    (training accuracy reaches nearly 100%: with so few digits the network
    overfits). The lesson saves the loss of every step, the accuracy per epoch,
    and the 784 incoming weights of some hidden units drawn as 28x28 images:
    noisy (each unit saw only 4,500 digits), but many show the strokes and
    blobs that the first layer learned to detect.

What to read
    - ``build_model`` below: the whole network is five lines.
    - ``minigrad/nn/linear.py``: the affine layer; its ``backward`` is three lines,
      each next to the equation it implements.
    - ``minigrad/trainer.py``: ``train_step`` is forward, loss, backward, update.

What to change (exercises; each default run takes about 15 s; results measured, seed 0)
    - ``weight_decay=1e-3`` -> ``0.0`` in ``SETTINGS["default"]``. Expect 100%
      training accuracy and a test accuracy within a point or two of the
      default's (measured 92.7% vs 91.2%): with this little data and this small
      a decay, the difference is seed noise, not regularisation.
    - In ``main``, ``optim.Momentum(cfg["lr"], momentum=0.9, weight_decay=...)`` ->
      ``optim.Adam(1e-3, weight_decay=cfg["weight_decay"])``. Expect about the
      same test accuracy (measured 92.0%), with a slightly higher loss in the
      first epochs (0.76 vs 0.70 in epoch 1).
    - In ``build_model``, add ``nn.BatchNorm(hidden),`` after the first
      ``nn.Linear``. Expect the training loss to fall faster (epoch 1: 0.50 vs
      0.70) but no better test accuracy (measured 90.7%).
    Give a variant its own folder (``--out``) so the default's figures are kept.

Run
    python lessons/01_first_network.py            # default: ~15 seconds on 2 CPU cores
    python lessons/01_first_network.py --smoke    # seconds (used by the tests)
    python lessons/01_first_network.py --full     # longer training, wider layer
Outputs go to outputs/01_first_network/: loss.png, accuracy.png, weights.png, metrics.json.
"""
import numpy as np

from minigrad import nn, optim, provenance
from minigrad.backend import to_numpy
from minigrad.data import flatten, load_mnist_sample, normalize, train_val_split
from minigrad.experiment import (checkpoint_path, figure, output_dir, parse_args, plot_curves, print_table,
                                 save_figure, save_metrics, test_on_best)
from minigrad.trainer import Trainer

SETTINGS = {
    "smoke": dict(n_train=500, hidden=64, epochs=1, lr=0.05, weight_decay=1e-3, batch=50),
    "default": dict(n_train=5000, hidden=256, epochs=15, lr=0.05, weight_decay=1e-3, batch=64),
    "full": dict(n_train=5000, hidden=512, epochs=40, lr=0.05, weight_decay=1e-3, batch=64),
}


def build_model(hidden, rng):
    """784 pixels -> ``hidden`` ReLU units -> 10 class scores."""
    return nn.Sequential(
        nn.Linear(784, hidden, rng=rng),
        nn.ReLU(),
        nn.Linear(hidden, 10, rng=rng),
    )


def main():
    args = parse_args(__doc__.splitlines()[0])
    out = output_dir(__file__, args)
    cfg = SETTINGS[args.mode]
    rng = np.random.default_rng(args.seed)

    # Data: uint8 images (N, 28, 28) -> floats in [0, 1] -> rows of 784 pixels.
    images, labels = load_mnist_sample("train")
    test_images, test_labels = load_mnist_sample("test")
    # hold out 10% of the training digits for choosing the best epoch; the test digits are
    # read once, at the end, by the chosen model
    n_val = cfg["n_train"] // 10
    data = train_val_split(flatten(normalize(images)), labels, n_val, rng, n_train=cfg["n_train"] - n_val)
    X_test, y_test = flatten(normalize(test_images)), test_labels

    used = provenance.data_used("MNIST (embedded sample)", "minigrad/data/embedded (5,000 training, 2,000 test digits)",
                                n_train=len(data["X_train"]), n_val=len(data["X_val"]), n_test=len(X_test))
    clock = provenance.Clock()
    model = build_model(cfg["hidden"], rng)
    optimizer = optim.Momentum(cfg["lr"], momentum=0.9, weight_decay=cfg["weight_decay"])
    trainer = Trainer(model, data, optimizer, batch_size=cfg["batch"], epochs=cfg["epochs"], rng=rng,
                      checkpoint=checkpoint_path(out, args, "mlp"), resume=args.resume)
    with clock("train"):
        history = trainer.fit()
    with clock("eval"):
        _, test_acc = test_on_best(trainer, X_test, y_test)     # the epoch with the best validation accuracy

    plot_curves(out, "loss.png", {"training loss (each step)": trainer.loss_steps}, xlabel="step",
                ylabel="softmax cross-entropy", title="Lesson 01: training loss", logy=True)
    plot_curves(out, "accuracy.png", {"train": history["train_acc"], "validation": history["val_acc"]},
                ylabel="accuracy", title="Lesson 01: accuracy per epoch")
    W = to_numpy(model.params["0.W"])                     # (784, hidden): column j = unit j's weights
    fig, axes = figure(4, 8, figsize=(8, 4.4))
    for j, ax in enumerate(axes.flat):
        w = W[:, j].reshape(28, 28)
        lim = np.abs(w).max()
        ax.imshow(w, cmap="RdBu_r", vmin=-lim, vmax=lim)       # white = 0
        ax.axis("off")
    fig.suptitle("first-layer weights of 32 hidden units (red +, blue -)")
    save_figure(fig, out, "weights.png")

    # accuracies rounded to 4 decimals (0.9115, not 0.9115000000000001)
    metrics = {"settings": cfg, "test_accuracy": round(test_acc, 4),
               "best_val_accuracy": round(max(history["val_acc"]), 4),
               "best_epoch": int(np.argmax(history["val_acc"])) + 1, "history": history,
               "provenance": provenance.collect(args, data=[used], clock=clock)}
    save_metrics(out, metrics)
    print_table(["setting", "train digits", "epochs", "final train acc", "best val acc", "test acc"],
                [[args.mode, len(data["X_train"]), cfg["epochs"], history["train_acc"][-1],
                  max(history["val_acc"]), test_acc]])


if __name__ == "__main__":
    main()
