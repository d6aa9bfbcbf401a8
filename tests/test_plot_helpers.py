"""The small plotting and data helpers of minigrad.experiment that lessons use for their figures
and provenance: readable layer names, log axes that survive 0, whole-epoch ticks, and the
data a CIFAR-10 lesson records."""
import argparse

import numpy as np

from minigrad import experiment, nn
from minigrad.experiment import cifar10_subset, epoch_ticks, figure, layer_names, log_scale, mnist_or_sample
from minigrad.models import mlp


def test_layer_names_say_what_the_layers_are():
    assert layer_names(mlp(12, 8, depth=3, classes=4, rng=0, feedback="fa", flatten=True)) == \
        {"1.W": "hidden 1", "3.W": "hidden 2", "5.W": "hidden 3", "7.W": "output"}
    conv = nn.Sequential(nn.Conv2d(3, 4, 3, rng=0, feedback="fa"), nn.ReLU(), nn.Conv2d(4, 4, 3, rng=0),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 10, rng=0, feedback="fa"))
    assert layer_names(conv) == {"0.W": "conv 1", "2.W": "conv 2", "4.W": "output"}


def test_log_scale_does_not_break_at_zero():
    fig, ax = figure()
    log_scale(ax, [0.0, 1e-3, 0.5])                   # a 0% error: symlog, linear below the smallest positive
    assert ax.get_yscale() == "symlog"
    log_scale(ax, [1e-3, 0.5], axis="x")
    assert ax.get_xscale() == "log"


def test_epoch_ticks_are_whole_numbers():
    for n in (1, 2, 7, 60):
        fig, ax = figure()
        ax.plot(np.arange(1, n + 1), np.ones(n))
        epoch_ticks(ax)
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), (n, ticks)


def test_plot_accuracy_draws_every_seed_and_their_mean_over_the_epochs_each_reached(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(experiment, "save_figure", lambda fig, out, name: saved.append(fig))
    runs = {"one seed": {"history": {"train_acc": [0.1, 0.2], "val_acc": [0.1, 0.3]}},
            "two seeds": {"histories": [{"train_acc": [0.2, 0.4, 0.6], "val_acc": [0.2, 0.4, 0.5]},
                                        {"train_acc": [0.4], "val_acc": [0.3]}]}}       # the second stopped early
    experiment.plot_accuracy(str(tmp_path), runs, lambda name: "C0-", "title")
    val = saved[0].axes[1]
    lines = {line.get_label(): line.get_ydata() for line in val.get_lines()}
    assert list(lines["one seed"]) == [0.1, 0.3]
    assert np.allclose(lines["two seeds (mean of 2 seeds)"], [0.25, 0.4, 0.5])   # epochs 2-3: the first seed only
    assert len(val.get_lines()) == 1 + 2 + 1                  # one seed; two thin seeds and their mean


def test_cifar10_subset_records_its_fallback_and_keeps_test_images_of_the_same_classes(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))           # no CIFAR-10 here: the synthetic stand-in
    used = []
    data, (X_test, y_test) = cifar10_subset(argparse.Namespace(mode="smoke"), 200, 50, np.random.default_rng(0),
                                            n_test=100, used=used)
    assert used == [{"name": "synthetic images", "source": "experiment.synthetic_images", "n_train": 200,
                     "n_val": 50, "n_test": 100, "fallback": True,
                     "note": "CIFAR-10 not installed: python data_scripts/cifar10.py"}]
    # the test images come from the training images' class templates: a nearest-class-mean
    # classifier fitted on the training images classifies them as well as the validation images
    X, y = data["X_train"].reshape(200, -1), data["y_train"]
    means = np.stack([X[y == c].mean(axis=0) for c in range(10)])
    def accuracy(Z, labels):
        return np.mean(np.argmin(((Z.reshape(len(Z), -1)[:, None] - means) ** 2).sum(-1), axis=1) == labels)
    assert accuracy(X_test, y_test) > 0.9 and accuracy(data["X_val"], data["y_val"]) > 0.9


def test_cifar10_subset_draws_its_test_subset_from_every_class(monkeypatch):
    """The image folder's test split is sorted by class: its first 2,000 images are two classes only."""
    import minigrad.data
    def sorted_split(split="train", root=None):
        n = 1000 if split == "train" else 500
        y = np.repeat(np.arange(10), n // 10)
        return np.random.default_rng(1).integers(0, 255, (n, 3, 32, 32)).astype(np.uint8), y
    monkeypatch.setattr(minigrad.data, "load_cifar10", sorted_split)
    _, (X_a, y_a) = cifar10_subset(argparse.Namespace(mode="default"), 100, 50, np.random.default_rng(0), n_test=100)
    _, (X_b, y_b) = cifar10_subset(argparse.Namespace(mode="default"), 100, 50, np.random.default_rng(7), n_test=100)
    assert len(y_a) == 100 and set(y_a.tolist()) == set(range(10))
    assert np.array_equal(y_a, y_b)                      # the same test subset whatever the run's seed


def test_mnist_or_sample_falls_back_to_the_embedded_sample_and_says_so(tmp_path, monkeypatch, capsys):
    from minigrad.data import load_mnist_sample
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))           # no MNIST here
    ((xtr, ytr), (xte, yte)), info = mnist_or_sample("both")
    for got, want in zip((xtr, ytr, xte, yte), (*load_mnist_sample("train"), *load_mnist_sample("test"))):
        np.testing.assert_array_equal(got, want)
    assert info["fallback"] is True and "embedded" in info["source"]
    assert info["note"] and info["note"] in capsys.readouterr().out
    (x, y), info = mnist_or_sample("train")
    assert x.shape == (5000, 28, 28) and info["fallback"] is True
