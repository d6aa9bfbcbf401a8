"""Lesson 13: DANN beyond dense layers: a convolutional and a recurrent Dale's network.

What it shows
    Cornford et al. 2021, appendix B. (1) Convolution (B.1, eq. 16): apply
    equation 1 to every receptive field, with excitatory and inhibitory
    filters of the same size and stride; the paper's DANN-VGG16 reached the
    same CIFAR-10 test error as a standard VGG16 (21.18% vs 21.08% after 150
    epochs, no augmentation or batchnorm). (2) Recurrence (B.2, eq. 19):
    unroll in time and put feedforward inhibition between time steps and on
    the input; trained with backpropagation through time. The paper gives no
    recurrent numbers ("preliminary"); we compare with a plain RNN on
    row-by-row MNIST (28 steps of 28 pixels, classify after the last row).

    Part 1 here is a small VGG-style net scaled to the CPU:
    conv3x3(32)-ReLU-pool-conv3x3(64)-ReLU-pool-dense(10), the DANN version
    with 4 and 7 inhibitory filters (1 per 8 to 9 excitatory, a little
    sparser than the paper's 10 per 64, about 1 per 6.4) and one inhibitory
    unit at the output. Inputs are raw
    pixels in [0, 1] (DANN inputs must be non-negative: they are excitatory).

What to read
    - ``minigrad/nn/dann_conv.py``: im2col, then the dense E/I block on patch rows.
    - ``minigrad/nn/dann_rnn.py``: two E/I blocks per step, BPTT.

What to change (exercises; expected results are reasoned, not measured)
    - ``N_INHIB = (4, 7)`` -> ``(1, 1)``: one inhibitory filter per conv layer.
      Expect the DANN conv net to still learn (DANN 1i in lesson 11 lost little
      to the full DANN), a point or two behind.
    - In ``train``, drop ``DANNCorrections(model)`` from ``rules``: expect the
      DANN nets to learn more slowly or diverge at these learning rates, as
      "DANN nc" does in lesson 11 (there it needed a 28x smaller rate).

Protocol
    Validation sets are held out of the training images; each run keeps its
    best validation epoch, and the test set is read once, by that model.

Measured (default run, seed 0; test error after 4 epochs. Made before the
validation split, with the test set as validation and all 4,000 / 5,000
examples for training: needs a rerun with the current protocol)
    CIFAR-10, 4,000 images: conv net 55.4% test error (51.8% train), DANN
    conv net 56.1% (47.6% train): within a point of each other, as in the
    paper (21.08% vs 21.18% after 150 epochs of VGG16). Row-by-row MNIST,
    5,000 digits: RNN 29.3% (22.0% train), DANN RNN 40.8% (34.6% train):
    the recurrent DANN learns, but more slowly than the plain RNN at these
    (untuned) learning rates; the paper has no recurrent numbers to compare.
    (Run of 2026-11-24, seed 0; numbers move a little when a code change
    reorders floating-point sums.)

Run
    python lessons/13_dann_conv_rnn.py          # default: ~5 minutes
                                                # (4,000 CIFAR images x 4 epochs; 5,000 MNIST digits x 4 epochs;
                                                #  400 and 500 of them held out for validation)
    python lessons/13_dann_conv_rnn.py --smoke  # seconds; synthetic images if CIFAR-10 is absent
    python lessons/13_dann_conv_rnn.py --full   # 50,000 CIFAR images x 20 epochs, all MNIST digits x 20 epochs (hours)
Learning rates are ours (SGD, momentum 0.9), chosen with a few short trials, not tuned.
Data: CIFAR-10 with ``python data_scripts/cifar10.py`` (or ``--from PATH`` for a local copy);
MNIST falls back to the embedded sample.
Outputs in outputs/13_dann_conv_rnn/: conv.png, rnn.png, metrics.json.
"""
import numpy as np

from minigrad import nn, optim
from minigrad.dale import DaleProjection, DANNCorrections
from minigrad.data import load_cifar10, normalize, train_val_split
from minigrad.experiment import (checkpoint_path, figure, mnist_train_test, output_dir, parse_args,
                                 print_table, save_figure, save_metrics, synthetic_images, test_on_best)
from minigrad.trainer import Trainer

# *_train examples are drawn from the training split, *_val of them held out for validation
SETTINGS = {
    "smoke": dict(cifar_train=200, cifar_val=50, cifar_test=100, cnn_epochs=1, mnist_train=300, mnist_val=50,
                  mnist_test=200, rnn_epochs=1, rnn_hidden=32),
    "default": dict(cifar_train=4000, cifar_val=400, cifar_test=2000, cnn_epochs=4, mnist_train=5000, mnist_val=500,
                    mnist_test=2000, rnn_epochs=4, rnn_hidden=100),
    "full": dict(cifar_train=50000, cifar_val=5000, cifar_test=10000, cnn_epochs=20, mnist_train=None,
                 mnist_val=10000, mnist_test=10000, rnn_epochs=20, rnn_hidden=100),
}
N_INHIB = (4, 7)                  # inhibitory filters of the two DANN conv layers
LR = {"conv": 0.01, "dann_conv": 0.01, "rnn": 0.01, "dann_rnn": 0.01}
PAPER = {"conv": "VGG16 21.08% test error (150 epochs)", "dann_conv": "DANN-VGG16 21.18%",
         "rnn": "-", "dann_rnn": "- (no recurrent results in the paper)"}


def cifar(args, cfg, rng):
    """(Trainer data, (X_test, y_test)): raw pixels in [0, 1], (N, 3, 32, 32); validation held out of training."""
    try:
        (xtr, ytr), (xte, yte) = load_cifar10(split="train"), load_cifar10(split="test")
    except FileNotFoundError:
        if args.mode != "smoke":
            raise
        print("CIFAR-10 is not installed: --smoke runs on synthetic images")
        xtr, ytr = synthetic_images(cfg["cifar_train"], (3, 32, 32), 10, rng)
        xte, yte = synthetic_images(cfg["cifar_test"], (3, 32, 32), 10, rng)
    tr = rng.permutation(len(xtr))[: cfg["cifar_train"]]
    te = rng.permutation(len(xte))[: cfg["cifar_test"]]
    return train_val_split(normalize(xtr[tr]), ytr[tr], cfg["cifar_val"], rng), (normalize(xte[te]), yte[te])


def mnist_rows(cfg, rng):
    """Images as sequences: (N, T=28 rows, D=28 pixels) in [0, 1]; (Trainer data, (X_test, y_test))."""
    xtr, ytr, xte, yte = mnist_train_test(cfg["mnist_train"], cfg["mnist_test"], rng)
    return train_val_split(normalize(xtr), ytr, cfg["mnist_val"], rng), (normalize(xte), yte)


def conv_net(kind, rng):
    if kind == "conv":
        return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 8 * 8, 10, rng=rng))
    return nn.Sequential(nn.DANNConv2d(3, 32, N_INHIB[0], 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                         nn.DANNConv2d(32, 64, N_INHIB[1], 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.DANN(64 * 8 * 8, 10, 1, rng=rng))


def rnn_net(kind, hidden, rng):
    if kind == "rnn":
        return nn.Sequential(nn.RNN(28, hidden, rng=rng), nn.LastStep(), nn.Linear(hidden, 10, rng=rng))
    return nn.Sequential(nn.DANNRNN(28, hidden, max(1, hidden // 10), rng=rng), nn.LastStep(),
                         nn.DANN(hidden, 10, 1, rng=rng))


def train(kind, model, data, test, epochs, batch, args, out):
    """Train; returns the history and the test error (%) of the epoch with the best validation accuracy."""
    rules = [DANNCorrections(model), DaleProjection(model)] if kind.startswith("dann") else []
    trainer = Trainer(model, data, optim.Momentum(LR[kind], momentum=0.9), batch_size=batch, epochs=epochs,
                      rng=args.seed, rules=rules, eval_batch_size=500,
                      checkpoint=checkpoint_path(out, args, kind), resume=args.resume)
    h = trainer.fit()
    _, test_acc = test_on_best(trainer, *test)
    return h, 100 * (1 - test_acc)


def plot(out, name, title, hist):
    fig, ax = figure(figsize=(6.5, 4))
    for i, (kind, h) in enumerate(hist.items()):
        e = np.arange(1, len(h["train_acc"]) + 1)
        ax.plot(e, 100 * (1 - np.array(h["train_acc"])), f"C{i}--", label=f"{kind} train")
        ax.plot(e, 100 * (1 - np.array(h["val_acc"])), f"C{i}-", label=f"{kind} validation")
    ax.set_xlabel("epoch"), ax.set_ylabel("error (%)"), ax.set_title(title), ax.grid(alpha=0.3), ax.legend()
    save_figure(fig, out, name)


def main():
    args = parse_args(__doc__.splitlines()[0])
    out = output_dir(__file__, args)
    cfg = SETTINGS[args.mode]
    rng = np.random.default_rng(args.seed)
    hist, test_error, rows = {"conv": {}, "rnn": {}}, {}, []
    data, test = cifar(args, cfg, rng)
    for kind in ("conv", "dann_conv"):
        print(f"--- CIFAR-10: {kind}")
        hist["conv"][kind], test_error[kind] = train(kind, conv_net(kind, np.random.default_rng(args.seed + 1)),
                                                     data, test, cfg["cnn_epochs"], 64, args, out)
    data, test = mnist_rows(cfg, rng)
    for kind in ("rnn", "dann_rnn"):
        print(f"--- row-by-row MNIST: {kind}")
        hist["rnn"][kind], test_error[kind] = train(
            kind, rnn_net(kind, cfg["rnn_hidden"], np.random.default_rng(args.seed + 1)), data, test,
            cfg["rnn_epochs"], 32, args, out)
    plot(out, "conv.png", "CIFAR-10: conv net vs DANN conv net", hist["conv"])
    plot(out, "rnn.png", "row-by-row MNIST: RNN vs DANN RNN", hist["rnn"])
    results = {}
    for task, hs in hist.items():
        for kind, h in hs.items():
            best = int(np.argmax(h["val_acc"]))
            results[kind] = {"train_error": 100 * (1 - h["train_acc"][-1]),
                             "best_val_error": 100 * (1 - h["val_acc"][best]), "best_epoch": best + 1,
                             "test_error": test_error[kind], "seconds": sum(h["epoch_time"])}
            rows.append([task, kind, LR[kind], len(h["train_acc"]), round(results[kind]["train_error"], 2),
                         f"{results[kind]['best_val_error']:.2f} ({best + 1})", round(test_error[kind], 2),
                         PAPER[kind]])
    save_metrics(out, {"settings": cfg, "lr": LR, "results": results, "paper": PAPER, "history": hist})
    print_table(["task", "model", "lr", "epochs", "train err %", "best val err % (epoch)", "test err % (that epoch)",
                 "paper"], rows)


if __name__ == "__main__":
    main()
