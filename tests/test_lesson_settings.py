"""The paper settings the FA and DANN lessons promise (issue 19), read from the lessons themselves.

Lessons are scripts (their names start with a digit), so they are imported from their files;
importing one defines its settings and helpers and runs nothing.
"""
import importlib.util
import os

import numpy as np

from minigrad import nn
from minigrad.backend import to_numpy
from minigrad.models import mlp

LESSONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lessons")


def lesson(filename):
    spec = importlib.util.spec_from_file_location(filename[:-3].replace("-", "_"), os.path.join(LESSONS, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lesson05_small_gaussian_init_rescales_weights_and_feedback_alike():
    l05 = lesson("05_fa_depth_batchnorm.py")
    he = mlp(3072, 512, 3, 10, rng=1, feedback="fa", flatten=True)
    small = l05.small_gaussian_init(mlp(3072, 512, 3, 10, rng=1, feedback="fa", flatten=True))
    linears = [(a, b) for (_, a), (_, b) in zip(he.named_layers(), small.named_layers()) if isinstance(a, nn.Linear)]
    assert len(linears) == 4
    for a, b in linears:
        W, Bfb = to_numpy(b.params["W"]), to_numpy(b.buffers["B"])
        assert abs(W.std() - l05.SMALL_STD) < 0.05 * l05.SMALL_STD          # CS231n's weight_scale, not He's
        assert abs(Bfb.std() - l05.SMALL_STD) < 0.05 * l05.SMALL_STD
        factor = l05.SMALL_STD / np.sqrt(2.0 / a.in_features)
        np.testing.assert_allclose(W, to_numpy(a.params["W"]) * factor, rtol=1e-5)   # same draws, rescaled
        np.testing.assert_allclose(Bfb, to_numpy(a.buffers["B"]) * factor, rtol=1e-5)
        assert not to_numpy(b.params["b"]).any()
    assert {"He", "small"} == set(l05.INITS)
    assert len(l05.SETTINGS["default"]["sweep_lrs"]) >= 3 and len(l05.SETTINGS["full"]["sweep_lrs"]) >= 5


def test_lesson10_runs_the_l2_setting_with_controls_and_several_seeds():
    l10 = lesson("10_fixed_sign_weights.py")
    for mode in ("default", "full"):
        l2 = l10.SETTINGS[mode]["l2"]
        assert (l2["lr"], l2["weight_decay"]) == (2e-2, 5e-3) and l2["seeds"] >= 2 and "fa" in l2["feedbacks"]
        assert l10.SETTINGS[mode]["original"]["weight_decay"] == 0.0
    assert l10.SETTINGS["full"]["l2"]["epochs"] == 300
    labels = [(label, mode, enabled) for label, mode, enabled in l10.VARIANTS]
    # an unconstrained control for each granularity: the per-neuron one starts from the per-neuron init
    assert ("unconstrained", "synapse", False) in labels and ("fixed sign per synapse", "synapse", True) in labels
    assert any(m == "neuron" and not e for _, m, e in labels) and any(m == "neuron" and e for _, m, e in labels)


def test_lesson10_summary_measures_the_drop_after_the_best_epoch():
    l10 = lesson("10_fixed_sign_weights.py")
    val = [0.1, 0.3, 0.5, 0.4] + [0.2] * 6                  # learns, then un-learns
    r = l10.summary({"val_acc": val, "train_acc": [0.5] * 10, "zero_fraction": [0.0, 0.01] + [0.05] * 8})
    assert r["best_epoch"] == 3 and abs(r["best_val_acc"] - 50) < 1e-9
    assert abs(r["late_val_acc"] - 20) < 1e-9 and abs(r["drop"] - 30) < 1e-9
    assert abs(r["final_zero"] - r["zero_at_best"]) < 1e-9


def test_lesson11_full_is_the_paper_protocol():
    l11 = lesson("11_dann_mlp.py")
    full = l11.SETTINGS["full"]
    assert full["seeds"] == 6 and full["epochs"] == {"mnist": 50, "fashion_mnist": 50} and full["batch"] == 32
    assert full["n_train"] == {"mnist": None, "fashion_mnist": None}          # all installed data
    assert "far from converged" in l11.BUDGET_NOTE and "--full" in l11.BUDGET_NOTE


def test_lesson12_runs_the_authors_setting_beside_ours():
    l12 = lesson("12_dann_fisher.py")
    for mode in ("default", "full"):
        runs = l12.SETTINGS[mode]["runs"]
        assert (runs["authors"]["n_inhib"], runs["authors"]["batch"]) == (1, 250)
        assert (runs["ours"]["n_inhib"], runs["ours"]["batch"]) == (50, 32)
