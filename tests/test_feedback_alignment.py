"""Feedback alignment, its measurements, parameter-free batchnorm modes, sign constraints, Mixed-ReLU
and the sparse autoencoder (Khandwala & Bedi, sections 2.2-2.8).

An FA layer's backward is not the gradient of its forward pass, so its ``dx``
is checked against finite differences of the *surrogate* that defines it (the
same layer with the forward weights replaced by the feedback matrices), and its
weight gradients against the usual local ones.
"""
import copy

import numpy as np
import pytest

from minigrad.backend import make_rng, to_device, to_numpy, xp
from minigrad.constraints import SignConstraint
from minigrad.feedback import AlignmentMonitor, angle_between, feedback_layers, measure_alignment
from minigrad.gradcheck import check_layer, numeric_grad, rel_error
from minigrad.models import ActivitySparsity, AutoencoderLoss, dann_mlp, sparse_autoencoder
from minigrad.nn import (CWA, DANN, RNN, BatchNorm, BatchNorm2d, Conv2d, ConvCWA, DANNConv2d, DANNRNN, Dropout,
                         Flatten, Linear, MixedReLU, ReLU, Sequential, TemporalLinear)
from minigrad.nn.base import Layer
from minigrad.optim import SGD
from minigrad.trainer import Trainer

TOL = 1e-7


def surrogate_dx_error(fa_layer, surrogate, x, rng=0):
    """Relative error between the FA layer's dx and the finite-difference gradient
    of sum(surrogate(x) * G), for the same random upstream gradient G."""
    fa_layer.astype(np.float64)
    surrogate.astype(np.float64)
    x = to_device(x, dtype=np.float64)
    out = fa_layer.forward(x)
    G = to_device(np.random.default_rng(rng).standard_normal(out.shape))
    dx = fa_layer.backward(G)
    num = numeric_grad(lambda: float(to_numpy((surrogate.forward(x) * G).sum())), x)
    return rel_error(dx, num)


def with_weights_from_feedback(layer, pairs):
    """A BP copy of ``layer`` whose forward weights are its feedback matrices."""
    twin = copy.deepcopy(layer)
    twin.feedback = "bp"
    for w, b in pairs.items():
        twin.params[w] = layer.buffers[b].copy()
    return twin


# ------------------------------------------------ one feedback mechanism
FA_LAYERS = {
    "Linear": lambda fb: Linear(5, 4, rng=3, feedback=fb),
    "Conv2d": lambda fb: Conv2d(2, 3, 3, rng=3, feedback=fb),
    "RNN": lambda fb: RNN(3, 4, rng=3, feedback=fb),
    "DANN": lambda fb: DANN(5, 4, 2, rng=3, feedback=fb),
    "DANNConv2d": lambda fb: DANNConv2d(2, 3, 2, 3, rng=3, feedback=fb),
    "DANNRNN": lambda fb: DANNRNN(3, 6, rng=3, feedback=fb),
    "CWA": lambda fb: CWA(5, 4, rng=3, feedback=fb),
    "ConvCWA": lambda fb: ConvCWA(2, 3, 3, rng=3, feedback=fb),
}


@pytest.mark.parametrize("name", sorted(FA_LAYERS))
def test_every_fa_layer_uses_its_class_declaration(name):
    """Buffers are exactly the declared ``feedback_of`` names, shaped like their weights; W is the
    same with and without FA; ``dx_weight`` picks W or B; a bad mode names the layer."""
    bp, fa = FA_LAYERS[name]("bp"), FA_LAYERS[name]("fa")
    decl = type(fa).feedback_of
    assert decl and set(fa.buffers) == set(decl.values()) and not bp.buffers
    for w, b in decl.items():
        assert fa.buffers[b].size == fa.params[w].size and fa.buffers[b].dtype == fa.params[w].dtype
        assert fa.dx_weight(w) is fa.buffers[b]
        # backprop: the matrix the weight acts as (the weight itself; CWA's conductances h(g))
        if type(bp).forward_weight is Layer.forward_weight:
            assert bp.dx_weight(w) is bp.params[w]
        else:
            assert np.array_equal(to_numpy(bp.dx_weight(w)), to_numpy(bp.forward_weight(w)))
            assert not np.array_equal(to_numpy(bp.forward_weight(w)), to_numpy(bp.params[w]))
    for k in bp.params:
        assert np.array_equal(to_numpy(bp.params[k]), to_numpy(fa.params[k])), k
    with pytest.raises(ValueError, match=f"{name}: feedback must be one of"):
        FA_LAYERS[name]("random")


def test_a_new_layer_gets_feedback_alignment_from_one_declaration(rng):
    """The recipe of Linear's docstring on a layer the library does not know: one class
    attribute, one ``_init_feedback`` call, one ``dx_weight`` in backward; the alignment
    measurements then cover it with no registration anywhere else."""
    class Bilinear(Layer):                       # out = x @ W (no bias)
        feedback_of = {"W": "Bfeed"}

        def __init__(self, d, m, rng, feedback="bp"):
            super().__init__()
            rng = make_rng(rng)
            self._init_param("W", rng.standard_normal((d, m)) / np.sqrt(d), None)
            self._init_feedback(feedback, rng, lambda fb_rng: {"W": fb_rng.standard_normal((d, m)) / np.sqrt(d)})

        def forward(self, x):
            self.x = x
            return x @ self.params["W"]

        def backward(self, dout):
            self.grads["W"] = self.x.T @ dout
            return dout @ self.dx_weight("W").T

    layer = Bilinear(6, 5, rng=0, feedback="fa")
    assert np.array_equal(to_numpy(layer.params["W"]), to_numpy(Bilinear(6, 5, rng=0).params["W"]))
    model = Sequential(Linear(4, 6, rng=1), ReLU(), layer, ReLU(), Linear(5, 3, rng=2))
    m = measure_alignment(model, rng.standard_normal((8, 4)), np.arange(8) % 3)
    assert {"grad_angle/2.W", "weight_angle/2.W"} == set(m)
    layer.buffers["Bfeed"] = layer.params["W"].copy()       # feedback equal to the weights: angle 0
    assert measure_alignment(model, rng.standard_normal((8, 4)), np.arange(8) % 3)["weight_angle/2.W"] < 1e-3


# ---------------------------------------------------------------- FA layers
def test_linear_fa_weight_grads_exact_and_dx_is_surrogate_gradient(rng):
    layer = Linear(6, 4, rng=1, feedback="fa")
    x = rng.standard_normal((5, 6))
    errs = check_layer(layer, x)
    assert errs["W"] < TOL and errs["b"] < TOL
    assert errs["x"] > 1e-2            # dx is not the true gradient: it uses B
    twin = with_weights_from_feedback(layer, {"W": "B"})
    assert surrogate_dx_error(layer, twin, x) < TOL


def test_conv_fa_weight_grads_exact_and_dx_is_transposed_conv_with_B(rng):
    layer = Conv2d(2, 3, 3, stride=1, padding=1, rng=2, feedback="fa")
    x = rng.standard_normal((2, 2, 5, 5))
    errs = check_layer(layer, x)
    assert errs["W"] < TOL and errs["b"] < TOL
    assert errs["x"] > 1e-2
    twin = with_weights_from_feedback(layer, {"W": "B"})
    assert surrogate_dx_error(layer, twin, x) < TOL


def test_fa_feedback_has_weight_shape_and_scale():
    lin = Linear(300, 200, rng=0, feedback="fa")
    conv = Conv2d(3, 8, 5, rng=0, feedback="fa")
    assert lin.buffers["B"].shape == lin.params["W"].shape
    assert conv.buffers["B"].shape == conv.params["W"].shape
    assert "B" not in lin.params
    ratio = to_numpy(lin.buffers["B"]).std() / to_numpy(lin.params["W"]).std()
    assert 0.95 < ratio < 1.05
    # W is the same with and without FA (B comes from its own stream)
    assert np.array_equal(to_numpy(Linear(300, 200, rng=0).params["W"]), to_numpy(lin.params["W"]))


def _rnn_surrogate(layer, x, G, u_of):
    """The linearised recurrence FA differentiates: perturbations of the pre-activations
    u_t travel forward through Bh, scaled by the derivatives f'(a_t) of the real run.

        s_t = f'(a_t) * (u_t + s_{t-1} @ Bh),   S = sum_t G_t . s_t

    ``u_of()`` returns u (N, T, H); S is linear in u, and FA's gradients are exactly
    dS/dx with u = x @ Bx, dS/dWx with u = x @ Wx, dS/dWh with u = h_{t-1} @ Wh, dS/db with u = b.
    """
    h = to_numpy(layer.h)
    df = 1 - h * h
    Bh = to_numpy(layer.buffers["Bh"])
    u = u_of()
    s = np.zeros(h.shape[::2])
    total = 0.0
    for t in range(h.shape[1]):
        s = df[:, t] * (u[:, t] + s @ Bh)
        total += float((G[:, t] * s).sum())
    return total


def test_rnn_fa_gradients_match_the_linearised_feedback_surrogate(rng):
    N, T, D, H = 3, 4, 2, 3
    layer = RNN(D, H, rng=3, feedback="fa").astype(np.float64)
    x = rng.standard_normal((N, T, D))
    G = rng.standard_normal((N, T, H))
    layer.forward(to_device(x))
    dx = to_numpy(layer.backward(to_device(G)))
    grads = {k: to_numpy(v) for k, v in layer.grads.items()}
    h = to_numpy(layer.h)
    h_prev = np.concatenate([np.zeros((N, 1, H)), h[:, :-1]], axis=1)
    Bx = to_numpy(layer.buffers["Bx"])
    xs, Wx, Wh, b = x.copy(), rng.standard_normal((D, H)), rng.standard_normal((H, H)), rng.standard_normal(H)
    checks = {
        "x": (dx, xs, lambda: xs @ Bx),
        "Wx": (grads["Wx"], Wx, lambda: x @ Wx),
        "Wh": (grads["Wh"], Wh, lambda: h_prev @ Wh),
        "b": (grads["b"], b, lambda: np.broadcast_to(b, (N, T, H))),
    }
    for name, (analytic, var, u_of) in checks.items():
        num = numeric_grad(lambda: _rnn_surrogate(layer, x, G, u_of), var)
        assert rel_error(analytic, num) < TOL, name


def test_rnn_fa_with_feedback_equal_to_weights_is_backprop(rng):
    layer = RNN(3, 4, rng=4, feedback="fa").astype(np.float64)
    layer.buffers["Bx"] = layer.params["Wx"].copy()
    layer.buffers["Bh"] = layer.params["Wh"].copy()
    errs = check_layer(layer, rng.standard_normal((2, 5, 3)))
    assert max(errs.values()) < TOL


def test_temporal_linear_fa_dx_uses_B(rng):
    layer = TemporalLinear(4, 3, rng=5, feedback="fa")
    x = rng.standard_normal((2, 3, 4))
    errs = check_layer(layer, x)
    assert set(errs) == {"x", "W", "b"}
    assert errs["W"] < TOL and errs["b"] < TOL          # the weight gradients are the true ones
    assert errs["x"] > 1e-2                              # dx is not: it uses B
    twin = copy.deepcopy(layer)
    twin.inner.feedback = "bp"
    twin.inner.params["W"] = layer.inner.buffers["B"].copy()
    assert surrogate_dx_error(layer, twin, x) < TOL


def _tiny_data(rng, n=60, d=8, classes=3):
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    return {"X_train": X, "y_train": y.astype(np.int64), "X_val": X[:20], "y_val": y[:20].astype(np.int64)}


def _mlp(feedback="fa", batchnorm=False, d=8, h=16, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    layers = [Linear(d, h, rng=rng, feedback=feedback)]
    if batchnorm:
        layers.append(BatchNorm(h, affine=False))
    layers += [ReLU(), Linear(h, h, rng=rng, feedback=feedback), ReLU(), Linear(h, classes, rng=rng, feedback=feedback)]
    return Sequential(*layers)


def test_feedback_is_never_updated_by_training(rng):
    model = _mlp()
    before = {k: to_numpy(v).copy() for k, v in model.buffers.items()}
    w_before = to_numpy(model.params["0.W"]).copy()
    Trainer(model, _tiny_data(rng), SGD(lr=0.1), batch_size=10, epochs=2, progress=False).fit()
    assert set(before) == {"0.B", "2.B", "4.B"}
    for k, v in model.buffers.items():
        assert np.array_equal(to_numpy(v), before[k]), k
    assert not np.allclose(to_numpy(model.params["0.W"]), w_before)


# -------------------------------------------------------- alignment metrics
def test_angle_between_known_angles():
    assert angle_between(xp.asarray([1.0, 0.0]), xp.asarray([1.0, 1.0])) == pytest.approx(45.0)
    assert angle_between(xp.asarray([[1.0, 2.0]]), xp.asarray([[-2.0, 1.0]])) == pytest.approx(90.0)
    assert angle_between(xp.asarray([1.0, 2.0]), xp.asarray([-3.0, -6.0])) == pytest.approx(180.0)
    assert np.isnan(angle_between(xp.zeros(3), xp.ones(3)))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(3, 2\)"):   # same size, different shape
        angle_between(xp.ones((2, 3)), xp.ones((3, 2)))


def test_alignment_zero_when_feedback_equals_weights_and_180_when_negated(rng):
    data = _tiny_data(rng)
    model = _mlp()
    for i in (0, 2, 4):
        model[i].buffers["B"] = model[i].params["W"].copy()
    m = measure_alignment(model, data["X_train"], data["y_train"])
    assert set(m) == {f"{kind}/{i}.W" for kind in ("grad_angle", "weight_angle") for i in (0, 2, 4)}
    for v in m.values():
        assert v == pytest.approx(0.0, abs=1e-2)
    # negate only the top feedback: the error reaching layer 2 flips sign, so does its update
    model[4].buffers["B"] = -model[4].params["W"]
    model[2].buffers["B"] = -model[2].params["W"]
    m = measure_alignment(model, data["X_train"], data["y_train"])
    assert m["weight_angle/4.W"] == pytest.approx(180.0, abs=1e-2)
    assert m["grad_angle/4.W"] == pytest.approx(0.0, abs=1e-2)        # top update uses no feedback
    assert m["grad_angle/2.W"] == pytest.approx(180.0, abs=1e-2)      # one flipped matrix above
    assert m["grad_angle/0.W"] == pytest.approx(0.0, abs=1e-2)        # two flips cancel


def test_alignment_monitor_adds_history_and_leaves_state_alone(rng):
    data = _tiny_data(rng)
    model = _mlp(batchnorm=True)
    monitor = AlignmentMonitor(data["X_train"][:30], data["y_train"][:30], every_steps=3)
    start = monitor.initial(model)
    assert all(0 <= v <= 180 for v in start.values())
    run_mean = to_numpy(model[1].buffers["running_mean"]).copy()
    monitor.measure(model)
    assert np.array_equal(to_numpy(model[1].buffers["running_mean"]), run_mean)
    assert [layer.feedback for _, layer in feedback_layers(model)] == ["fa"] * 3
    hist = Trainer(model, data, SGD(lr=0.05), batch_size=10, epochs=2, rules=[monitor], progress=False).fit()
    for key in ("grad_angle/0.W", "grad_angle/3.W", "weight_angle/5.W"):
        assert len(hist[key]) == 2
    # 2 epochs x 6 steps: measured after steps 3, 6, 9 and 12 (counted from 1, the trainer's count
    # after the step), each with every angle the epoch-end measurement records
    assert [step for step, _ in monitor.steps] == [3, 6, 9, 12]
    for _, angles in monitor.steps:
        assert set(angles) == set(start)
    # steps 6 and 12 end the epochs: nothing changes the weights between them and the epoch-end measurement
    by_step = dict(monitor.steps)
    for epoch, step in enumerate((6, 12)):
        assert by_step[step] == pytest.approx({k: hist[k][epoch] for k in start}, rel=1e-12), step
    assert hist["grad_angle/5.W"][-1] == pytest.approx(0.0, abs=1e-3)


def test_alignment_leaves_dropout_streams_where_they_were(rng):
    """The probe's dropout masks come from their own stream: after measuring, the
    next training mask is the one an unmeasured twin model draws."""
    def model():
        return Sequential(Linear(6, 8, rng=0, feedback="fa"), Dropout(0.5, rng=3),
                          Linear(8, 3, rng=1, feedback="fa"))
    measured, twin = model(), model()
    X, y = rng.standard_normal((10, 6)).astype(np.float32), rng.integers(0, 3, 10)
    first = measure_alignment(measured, X, y)
    assert measure_alignment(measured, X, y) == first         # the same probe masks each time
    x = to_device(X)
    np.testing.assert_array_equal(to_numpy(measured.forward(x)), to_numpy(twin.forward(x)))


def test_alignment_needs_an_fa_layer(rng):
    with pytest.raises(ValueError, match="feedback='fa'"):
        measure_alignment(_mlp(feedback="bp"), rng.standard_normal((4, 8)), np.zeros(4, np.int64))


def test_alignment_for_rnn_and_conv(rng):
    conv = Sequential(Conv2d(1, 2, 3, padding=1, rng=0, feedback="fa"), ReLU(), Flatten(),
                      Linear(2 * 16, 3, rng=1, feedback="fa"))
    m = measure_alignment(conv, rng.standard_normal((4, 1, 4, 4)), np.array([0, 1, 2, 0]))
    assert {"grad_angle/0.W", "weight_angle/0.W", "grad_angle/3.W"} <= set(m)
    from minigrad.nn import LastStep
    rnn = Sequential(RNN(2, 5, rng=0, feedback="fa"), LastStep(), Linear(5, 3, rng=1, feedback="fa"))
    m = measure_alignment(rnn, rng.standard_normal((4, 6, 2)), np.array([0, 1, 2, 0]))
    assert {"grad_angle/0.Wx", "grad_angle/0.Wh", "weight_angle/0.Wh", "grad_angle/2.W"} <= set(m)
    assert 0 < m["grad_angle/0.Wh"] < 180


def test_alignment_monitor_covers_dann_feedback_alignment(rng):
    data = _tiny_data(rng)
    data = {k: np.abs(v) if k.startswith("X") else v for k, v in data.items()}   # DANN inputs are >= 0
    model = dann_mlp(8, 16, 2, depth=1, classes=3, rng=0, feedback="fa")
    monitor = AlignmentMonitor(data["X_train"][:30], data["y_train"][:30])
    hist = Trainer(model, data, SGD(lr=0.05), batch_size=10, epochs=2, rules=[monitor], progress=False).fit()
    for layer in (0, 2):
        for w in ("Wee", "Wie"):
            for kind in ("grad_angle", "weight_angle"):
                v = hist[f"{kind}/{layer}.{w}"]
                assert len(v) == 2 and all(0 <= a <= 180 for a in v), (kind, layer, w)
    assert hist["grad_angle/2.Wee"][-1] == pytest.approx(0.0, abs=1e-3)   # top update uses no feedback


def test_dann_conv_and_rnn_weight_angles_compare_like_with_like(rng):
    conv = Sequential(DANNConv2d(1, 3, 1, 3, padding=1, rng=0, feedback="fa"), ReLU(), Flatten(),
                      Linear(3 * 16, 3, rng=1))
    for w, b in (("Wee", "Bee"), ("Wie", "Bie")):        # flat (F, d) feedback equal to the filters
        conv[0].buffers[b] = conv[0].params[w].reshape(conv[0].buffers[b].shape).copy()
    m = measure_alignment(conv, np.abs(rng.standard_normal((4, 1, 4, 4))), np.array([0, 1, 2, 0]))
    assert m["weight_angle/0.Wee"] == pytest.approx(0.0, abs=1e-2)
    assert m["weight_angle/0.Wie"] == pytest.approx(0.0, abs=1e-2)
    from minigrad.nn import LastStep
    rnn = Sequential(DANNRNN(2, 5, rng=0, feedback="fa"), LastStep(), Linear(5, 3, rng=1))
    m = measure_alignment(rnn, np.abs(rng.standard_normal((4, 6, 2))), np.array([0, 1, 2, 0]))
    assert {f"{k}/0.{w}" for k in ("grad_angle", "weight_angle")
            for w in ("Wee", "Wie", "Uee", "Uie")} == set(m)


def test_alignment_rejects_an_fa_layer_without_known_feedback(rng):
    model = _mlp()
    model[2].buffers["B_renamed"] = model[2].buffers.pop("B")
    with pytest.raises(ValueError, match="Linear '2.'.*no \\(weight, feedback buffer\\) pair"):
        measure_alignment(model, rng.standard_normal((4, 8)), np.zeros(4, np.int64))


# ------------------------------------------------ batchnorm without gamma/beta
@pytest.mark.parametrize("stats,sizes", [("batch", (2, 3, 17, 100)),
                                         ("running", (1, 2, 17, 100)),
                                         ("running_inclusive", (1, 2, 17, 100)),
                                         ("running_prevmean", (1, 2, 17, 100)),
                                         ("running_inclusive_prevmean", (1, 2, 17, 100))])
def test_parameter_free_batchnorm_gradients_for_batch_sizes(stats, sizes):
    rng = np.random.default_rng(0)
    for n in sizes:
        bn = BatchNorm(3, affine=False, stats=stats, momentum=0.7)
        assert bn.params == {}
        bn.buffers["running_mean"] = to_device(rng.standard_normal(3), dtype=np.float32)
        bn.buffers["running_var"] = to_device(rng.uniform(0.5, 2, 3), dtype=np.float32)
        # with N=2 and no gamma the outputs are +-sqrt(var / (var + eps)): the true
        # gradient is of order eps / var, so keep var small enough for it to be measurable
        spread = 0.01 if n == 2 and stats == "batch" else 3
        errs = check_layer(bn, 2 + spread * rng.standard_normal((n, 3)))
        assert errs["x"] < TOL, (stats, n, errs)


@pytest.mark.parametrize("stats", ["running", "running_inclusive", "running_prevmean",
                                   "running_inclusive_prevmean"])
def test_running_modes_normalise_with_the_documented_statistics(stats, rng):
    x = to_device(3 + 2 * rng.standard_normal((4, 5)))
    mom = 0.6
    bn = BatchNorm(5, affine=False, stats=stats, momentum=mom).astype(np.float64)
    rm, rv = rng.standard_normal(5), rng.uniform(0.5, 2, 5)
    bn.buffers["running_mean"], bn.buffers["running_var"] = to_device(rm), to_device(rv)
    out = to_numpy(bn.forward(x))
    xn = to_numpy(x)
    # standard modes: the batch's variance about its own mean; _prevmean: about the previous running mean
    centre = rm if stats.endswith("_prevmean") else xn.mean(0)
    new_rv = mom * rv + (1 - mom) * ((xn - centre) ** 2).mean(0)
    new_rm = mom * rm + (1 - mom) * xn.mean(0)
    if stats.startswith("running_inclusive"):
        rm, rv = new_rm, new_rv                   # this batch is folded in before it is normalised
    np.testing.assert_allclose(out, (xn - rm) / np.sqrt(rv + 1e-5), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(bn.buffers["running_var"]), new_rv, rtol=1e-10)
    np.testing.assert_allclose(to_numpy(bn.buffers["running_mean"]), new_rm, rtol=1e-10)


@pytest.mark.parametrize("stats", ["running_prevmean", "running_inclusive_prevmean"])
def test_prevmean_variants_track_the_data_variance_with_batch_size_one(stats, rng):
    """Variance about the previous running mean: with one example per batch it does not decay to 0."""
    bn = BatchNorm(2, affine=False, stats=stats, momentum=0.9).astype(np.float64)
    for _ in range(400):
        out = bn.forward(to_device(5 + 3 * rng.standard_normal((1, 2))))
    assert np.all(np.isfinite(to_numpy(out)))
    np.testing.assert_allclose(to_numpy(bn.buffers["running_mean"]), 5, atol=1.5)
    np.testing.assert_allclose(to_numpy(bn.buffers["running_var"]), 9, rtol=0.5)


@pytest.mark.parametrize("stats", ["running", "running_inclusive"])
def test_standard_running_variance_decays_to_zero_with_batch_size_one(stats, rng):
    """The standard statistic: a single example has variance 0 about its own mean, so the running
    variance decays geometrically (0.9^400 of its start) and the outputs grow to ~1/sqrt(eps) scale."""
    bn = BatchNorm(2, affine=False, stats=stats, momentum=0.9).astype(np.float64)
    for _ in range(400):
        out = bn.forward(to_device(5 + 3 * rng.standard_normal((1, 2))))
    np.testing.assert_allclose(to_numpy(bn.buffers["running_var"]), 0.9 ** 400, rtol=1e-6)
    assert np.abs(to_numpy(out)).max() > 10


def test_batch_statistics_of_a_single_example_give_zero_output_and_gradient(rng):
    bn = BatchNorm(3, affine=False)
    out = bn.forward(to_device(rng.standard_normal((1, 3))))
    assert not np.any(to_numpy(out))
    assert not np.any(to_numpy(bn.backward(to_device(rng.standard_normal((1, 3))))))


@pytest.mark.parametrize("stats", ["running_inclusive", "running_inclusive_prevmean"])
def test_parameter_free_batchnorm2d_running_inclusive_gradient(stats, rng):
    bn = BatchNorm2d(2, affine=False, stats=stats, momentum=0.5)
    errs = check_layer(bn, rng.standard_normal((1, 2, 3, 3)))
    assert errs["x"] < TOL


# ----------------------------------------------------------- sign constraints
class _CountWrongSigns:
    """Trainer rule run just before a SignConstraint: after each optimizer step, counts by
    hand the constrained weights the update pushed across zero (those the constraint cuts)."""

    def __init__(self):
        self.rule, self.counts = None, []

    def after_step(self, trainer):
        params = trainer.model.params
        self.counts.append(sum(int((to_numpy(params[k]) * to_numpy(self.rule.signs[k]) < 0).sum())
                               for k in self.rule.names))


def _constrained_run(rng, mode, enabled=True, epochs=3, lr=0.5, counter=None):
    data = _tiny_data(rng)
    model = _mlp(feedback="fa", seed=1)
    w0 = {k: to_numpy(v).copy() for k, v in model.params.items()}
    rule = SignConstraint(model, mode=mode, rng=2, enabled=enabled, track_steps=True)
    w_init = {k: to_numpy(v).copy() for k, v in model.params.items()}
    rules = [rule]
    if counter is not None:
        counter.rule = rule
        rules = [counter, rule]
    hist = Trainer(model, data, SGD(lr=lr), batch_size=10, epochs=epochs, rules=rules, progress=False).fit()
    return model, rule, hist, w0, w_init


def test_synapse_signs_never_flip_and_flips_become_zeros(rng):
    counter = _CountWrongSigns()
    model, rule, hist, w0, w_init = _constrained_run(rng, "synapse", counter=counter)
    for k in rule.names:
        assert np.array_equal(w0[k], w_init[k])            # synapse mode keeps the init
        w = to_numpy(model.params[k])
        assert np.all(w * np.sign(w0[k]) >= 0), k
    assert rule.check()
    assert len(hist["zero_fraction"]) == 3 and hist["zero_fraction"][-1] > 0
    assert hist["zero_fraction"][-1] == pytest.approx(
        sum(int((to_numpy(model.params[k]) == 0).sum()) for k in rule.names) / rule.total)
    # clipped_fraction: weights cut per step as a share of all constrained weights, averaged
    # over the epoch's 6 steps (60 examples, batches of 10), from the hand count above
    steps = 6
    assert len(counter.counts) == 3 * steps and sum(counter.counts) > 0
    expected = [sum(counter.counts[e * steps:(e + 1) * steps]) / rule.total / steps for e in range(3)]
    assert hist["clipped_fraction"] == pytest.approx(expected, rel=1e-12)
    assert "0.b" not in rule.names


def test_neuron_signs_are_shared_by_each_row(rng):
    model, rule, hist, _, w_init = _constrained_run(rng, "neuron")
    for k in rule.names:
        s = to_numpy(rule.signs[k])
        assert s.shape == (w_init[k].shape[0], 1)
        assert set(np.unique(s)) <= {-1.0, 1.0}
        assert np.all(w_init[k] * s >= 0)                  # init made to obey the rule
        assert np.all(to_numpy(model.params[k]) * s >= 0)
    assert hist["zero_fraction"][-1] > 0


def test_zeroed_weights_may_regrow_in_their_allowed_direction():
    lin = Linear(1, 2, rng=0)
    model = Sequential(lin)
    lin.params["W"][...] = to_device(np.array([[0.5, -0.5]]), dtype=np.float32)
    rule = SignConstraint(model, mode="synapse")

    class T:
        pass
    t = T()
    t.model = model
    lin.params["W"] -= to_device(np.array([[1.0, -1.0]]), dtype=np.float32)   # both try to flip
    rule.after_step(t)
    assert np.array_equal(to_numpy(lin.params["W"]), [[0.0, 0.0]])
    lin.params["W"] += to_device(np.array([[0.3, -0.3]]), dtype=np.float32)   # allowed direction
    rule.after_step(t)
    np.testing.assert_allclose(to_numpy(lin.params["W"]), [[0.3, -0.3]])


def test_disabled_constraint_lets_signs_flip_and_counts_them(rng):
    model, rule, hist, w0, _ = _constrained_run(rng, "synapse", enabled=False)
    flipped = sum(int((to_numpy(model.params[k]) * np.sign(w0[k]) < 0).sum()) for k in rule.names)
    assert flipped > 0
    assert hist["zero_fraction"][-1] == pytest.approx(flipped / rule.total)
    assert "clipped_fraction" not in hist                 # nothing is cut


def test_clipped_fraction_is_the_per_step_share_averaged_over_the_epoch():
    """Four constrained weights, steps made by hand: 2, 1 and 0 cut in epoch 1, 4 in epoch 2."""
    lin = Linear(1, 4, rng=0)
    model = Sequential(lin)
    lin.params["W"][...] = to_device(np.array([[0.5, -0.5, 0.2, -0.2]]), dtype=np.float32)
    rule = SignConstraint(model, mode="synapse")
    assert rule.names == ["0.W"] and rule.total == 4

    class T:
        pass
    t = T()
    t.model, t.history = model, {}

    def step(delta):
        lin.params["W"] += to_device(np.array([delta]), dtype=np.float32)
        rule.after_step(t)

    step([-1.0, 1.0, 0.0, 0.0])             # the first two flip: cut to 0      -> 2 cut
    step([0.0, 0.0, -0.5, 0.0])             # the third flips; zeros stay zeros -> 1 cut
    step([0.1, -0.1, 0.1, 0.1])             # allowed directions only           -> 0 cut
    np.testing.assert_allclose(to_numpy(lin.params["W"]), [[0.1, -0.1, 0.1, -0.1]], rtol=1e-6)
    rule.end_epoch(t)
    step([-1.0, 1.0, -1.0, 1.0])            # every weight flips                -> 4 cut
    rule.end_epoch(t)
    # epoch 1: (2 + 1 + 0) / 4 weights / 3 steps; epoch 2 starts its own count: 4 / 4 / 1
    assert t.history["clipped_fraction"] == pytest.approx([0.25, 1.0], rel=1e-12)
    assert t.history["zero_fraction"] == pytest.approx([0.0, 1.0], rel=1e-12)


def test_disabled_neuron_constraint_starts_like_the_enabled_one_and_never_cuts():
    on, off = _mlp(feedback="fa", seed=1), _mlp(feedback="fa", seed=1)
    rule_on = SignConstraint(on, mode="neuron", rng=2)
    rule_off = SignConstraint(off, mode="neuron", rng=2, enabled=False)
    for k in rule_off.names:                               # same start: init flipped either way
        np.testing.assert_array_equal(to_numpy(off.params[k]), to_numpy(on.params[k]))
    assert rule_on.check() and rule_off.check()
    assert rule_off.zero_fraction() == 0.0

    class T:
        pass
    t = T()
    t.model = off
    for k in rule_off.names:                               # an update that flips every sign
        off.params[k][...] = -off.params[k]
    before = {k: to_numpy(off.params[k]).copy() for k in rule_off.names}
    rule_off.after_step(t)
    for k in rule_off.names:                               # the disabled rule changes nothing
        np.testing.assert_array_equal(to_numpy(off.params[k]), before[k])
    nonzero = sum(int((before[k] != 0).sum()) for k in rule_off.names)
    assert rule_off.zero_fraction() == pytest.approx(nonzero / rule_off.total)


def test_sign_constraint_conv_neuron_axis_and_bad_mode():
    model = Sequential(Conv2d(3, 4, 3, rng=0))
    rule = SignConstraint(model, mode="neuron", rng=0)
    assert rule.signs["0.W"].shape == (1, 3, 1, 1)
    with pytest.raises(ValueError, match="mode"):
        SignConstraint(model, mode="row")


# --------------------------------------------------------------- Mixed-ReLU
def test_mixed_relu_forward_and_gradient(rng):
    layer = MixedReLU(6, negative_fraction=0.5, rng=3)
    s = to_numpy(layer.sign)
    assert set(np.unique(s)) == {-1.0, 1.0}
    x = rng.standard_normal((5, 6))
    out = to_numpy(layer.forward(to_device(x, dtype=np.float32)))
    expected = np.where(s > 0, np.maximum(x, 0), np.minimum(x, 0))
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    errs = check_layer(MixedReLU(6, rng=3), x + 0.1 * np.sign(x))   # away from the kink
    assert errs["x"] < TOL


def test_mixed_relu_images_and_options(rng):
    layer = MixedReLU(3, negative_fraction=1.0, rng=0)
    assert np.all(to_numpy(layer.sign) == -1)
    x = to_device(rng.standard_normal((2, 3, 4, 4)), dtype=np.float32)
    np.testing.assert_allclose(to_numpy(layer.forward(x)), np.minimum(to_numpy(x), 0))
    assert check_layer(MixedReLU(3, rng=1), rng.standard_normal((2, 3, 2, 2)) + 0.05)["x"] < TOL
    assert np.all(to_numpy(MixedReLU(50, negative_fraction=0.0).sign) == 1)
    with pytest.raises(ValueError, match="negative_fraction"):
        MixedReLU(4, negative_fraction=1.5)
    with pytest.raises(ValueError, match=r"MixedReLU: expected input of shape \(N, D\) with D=3 "
                                         r"or \(N, C, H, W\) with C=3, got \(2, 5\)"):
        layer.forward(to_device(np.zeros((2, 5), np.float32)))
    with pytest.raises(ValueError, match=r"MixedReLU: expected input of shape \(N, C, H, W\) with C=3, "
                                         r"got \(2, 4, 4, 4\)"):
        layer.forward(to_device(np.zeros((2, 4, 4, 4), np.float32)))


# ------------------------------------------------------- sparse autoencoder
@pytest.mark.parametrize("kind", ["kl", "l1"])
def test_activity_sparsity_gradient_includes_penalty(rng, kind):
    layer = ActivitySparsity(weight=0.7, target=0.1, kind=kind)
    x = to_device(rng.uniform(0.05, 0.95, (4, 3)))
    G = to_device(rng.standard_normal((4, 3)))
    layer.forward(x)
    dx = layer.backward(G)

    def f():
        out = layer.forward(x)
        return float(to_numpy((out * G).sum() + layer.penalty))
    assert rel_error(dx, numeric_grad(f, x)) < TOL


@pytest.mark.parametrize("kind", ["kl", "l1"])
def test_autoencoder_loss_gradient(rng, kind):
    model = sparse_autoencoder(6, hidden=(4, 3), kind=kind, rng=0).astype(np.float64)
    loss_fn = AutoencoderLoss(model)
    x = to_device(rng.uniform(0, 1, (5, 6)))
    rec = model.forward(x)
    _, drec = loss_fn(rec, x)
    assert rel_error(drec, numeric_grad(lambda: float(to_numpy(loss_fn(rec, x)[0])), rec)) < TOL
    # whole-model gradient (BP) matches finite differences of the full loss, penalties included,
    # for every weight and bias: the penalties of layers 2 and 5 reach 0.* and 3.* only through backward
    model.backward(drec)
    grads = {k: v.copy() for k, v in model.grads.items()}
    assert set(grads) == {f"{i}.{p}" for i in (0, 3, 6) for p in ("W", "b")}

    def full():
        return float(to_numpy(loss_fn(model.forward(x), x)[0]))
    errors = {k: rel_error(grads[k], numeric_grad(full, p)) for k, p in model.params.items()}
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("feedback", ["bp", "fa"])
def test_autoencoder_loss_falls(rng, feedback):
    X = (rng.uniform(0, 1, (80, 16)) > 0.6).astype(np.float32)
    model = sparse_autoencoder(16, hidden=(12, 8), feedback=feedback, sparsity=0.1, rng=0)
    tr = Trainer(model, {"X_train": X, "y_train": X}, SGD(lr=0.5), loss_fn=AutoencoderLoss(model),
                 batch_size=10, epochs=8, accuracy=False, progress=False)
    hist = tr.fit()
    assert hist["train_loss"][-1] < 0.8 * hist["train_loss"][0]
    if feedback == "fa":
        assert {"0.B", "3.B", "6.B"} == set(model.buffers)
