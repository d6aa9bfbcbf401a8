"""Dale's ANNs: exact gradients, algorithm-1 initialisation, the update rules of minigrad/dale.py."""
import numpy as np
import pytest

from minigrad import optim
from minigrad.backend import to_device, to_numpy, xp
from minigrad.dale import (CosineLRScaling, DaleProjection, DANNCorrections, FisherCorrection, GradNormClip,
                           correction_factors, columnei_mlp, dann_mlp, dann_per_example_sq_grads, project)
from minigrad.gradcheck import check_layer
from minigrad.nn import ColumnEi, DANN, DANNConv2d, DANNRNN, ReLU, Sequential
from minigrad.trainer import Trainer

TOL = 1e-7


def nonneg(rng, *shape):
    return np.abs(rng.standard_normal(shape)) + 0.05


# --------------------------------------------------------------- gradients
@pytest.mark.parametrize("ni", [1, 3])
def test_dann_gradcheck(rng, ni):
    errors = check_layer(DANN(7, 4, ni, rng=1), nonneg(rng, 5, 7))
    assert set(errors) == {"x", "Wee", "Wie", "Wei", "alpha", "g", "b"}
    assert max(errors.values()) < TOL, errors


def test_columnei_gradcheck(rng):
    errors = check_layer(ColumnEi(7, 5, n_inhibitory_in=2, rng=1), nonneg(rng, 4, 7))
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("stride,padding,ni", [(1, 1, 2), (2, 0, 1)])
def test_dann_conv_gradcheck(rng, stride, padding, ni):
    layer = DANNConv2d(3, 4, ni, 3, stride=stride, padding=padding, rng=1)
    errors = check_layer(layer, nonneg(rng, 2, 3, 6, 6))
    assert len(errors) == 7 and max(errors.values()) < TOL, errors


def test_dann_rnn_gradcheck_with_h0(rng):
    layer = DANNRNN(3, 5, n_inhibitory=2, n_inhibitory_input=1, rng=1)
    errors = check_layer(layer, nonneg(rng, 2, 4, 3), forward_kwargs={"h0": nonneg(rng, 2, 5)},
                         extra_inputs={"h0": "dh0"})
    assert len(errors) == 13 and max(errors.values()) < TOL, errors


def test_dann_fa_parameter_grads_exact_and_dx_uses_B(rng):
    x = nonneg(rng, 5, 7)
    fa, bp = DANN(7, 4, 3, rng=1, feedback="fa"), DANN(7, 4, 3, rng=1)
    for name in bp.params:                                   # same forward weights with and without FA
        np.testing.assert_array_equal(to_numpy(fa.params[name]), to_numpy(bp.params[name]))
    assert (to_numpy(fa.buffers["Bee"]) >= 0).all() and (to_numpy(fa.buffers["Bie"]) >= 0).all()
    errors = check_layer(fa, x)
    assert max(v for k, v in errors.items() if k != "x") < TOL
    assert errors["x"] > 1e-2                                 # dx is *not* the gradient
    # with B set to the forward weights, FA is backprop
    fa.buffers["Bee"], fa.buffers["Bie"] = fa.params["Wee"].copy(), fa.params["Wie"].copy()
    bp.astype(np.float64)
    G = to_device(rng.standard_normal((5, 4)))
    fa.forward(to_device(x)), bp.forward(to_device(x))
    np.testing.assert_allclose(to_numpy(fa.backward(G)), to_numpy(bp.backward(G)), rtol=1e-12)


def test_fa_buffers_for_conv_and_rnn():
    assert set(DANNConv2d(2, 4, 1, 3, rng=0, feedback="fa").buffers) == {"Bee", "Bie"}
    assert set(DANNRNN(2, 5, rng=0, feedback="fa").buffers) == {"Bee", "Bie", "Bue", "Bui"}


# ----------------------------------------------------------- initialisation
def test_algorithm1_values():
    d, ne, ni = 400, 300, 30
    layer = DANN(d, ne, ni, rng=0)
    p = {k: to_numpy(v) for k, v in layer.params.items()}
    lam = np.sqrt(d * (2 * np.pi - 1)) / np.sqrt(2 * np.pi)
    assert abs(p["Wee"].mean() * lam - 1) < 0.02 and abs(p["Wie"].mean() * lam - 1) < 0.05
    assert (p["Wee"] >= 0).all() and np.allclose(p["Wei"], 1 / ni)
    assert np.allclose(p["alpha"], np.log(np.sqrt(2 * np.pi - 1) / np.sqrt(d)), atol=1e-6)
    assert np.allclose(p["g"], 1) and np.allclose(p["b"], 0)
    one = DANN(d, 10, 1, rng=0)
    assert np.allclose(to_numpy(one.params["Wie"])[0], to_numpy(one.params["Wee"]).mean(axis=0), atol=1e-6)
    assert np.allclose(to_numpy(one.params["Wei"]), 1)
    assert layer.params["Wee"].dtype == np.float32


@pytest.mark.parametrize("d,ne,ni", [(784, 500, 50), (500, 10, 1)])
def test_init_balances_excitation_and_inhibition(d, ne, ni):
    """For rectified-normal inputs x = max(0, N(0, 1)), subtractive inhibition removes
    the mean of zE (z centred) and divisive inhibition divides by its standard
    deviation, so z has a variance of order 1 whatever d is. Removing the shared
    mean leaves Var(z) = E[x^2] / (E[x^2] + Var(x)) = pi / (2 pi - 1) ~ 0.59 of the
    pre-activation variance (appendix D: the proportionality constant is derived for zE)."""
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((2000, d)), 0).astype(np.float32)
    z = to_numpy(DANN(d, ne, ni, rng=2).forward(to_device(x)))
    assert abs(z.mean()) < 0.05 * z.std()
    assert abs(z.var() / (np.pi / (2 * np.pi - 1)) - 1) < 0.2, z.var()


def test_init_keeps_scale_through_depth():
    rng = np.random.default_rng(1)
    model = dann_mlp(784, 300, 30, depth=3, rng=3)
    h = to_device(np.maximum(rng.standard_normal((1000, 784)), 0).astype(np.float32))
    variances = []
    for layer in model.layers[:-1]:
        h = layer.forward(h)
        if isinstance(layer, DANN):
            variances.append(float(to_numpy(h).var()))
    assert all(0.3 < v < 1.2 for v in variances), variances


@pytest.mark.parametrize("ni_in", [0, 50])
def test_columnei_init_centred_and_variance_preserving(ni_in):
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((2000, 550)), 0).astype(np.float32)
    layer = ColumnEi(550, 400, n_inhibitory_in=ni_in, rng=1)
    W = to_numpy(layer.params["W"])
    assert (W[:, :550 - ni_in] >= 0).all() and (W[:, 550 - ni_in:] <= 0).all()
    z = to_numpy(layer.forward(to_device(x)))
    assert abs(z.mean()) < 0.15 and 0.75 < z.var() < 1.3, (z.mean(), z.var())


# ------------------------------------------------------------------- rules
class _FakeTrainer:
    def __init__(self, model, lr=0.1):
        self.model, self.grads, self.step_count = model, dict(model.grads), 0
        self.optimizer = optim.SGD(lr)
        self.history = {}


def _model_with_grads(rng, ni=3):
    model = Sequential(DANN(6, 5, ni, rng=0), ReLU(), DANN(5, 3, 1, rng=1), ColumnEi(3, 4, 1, rng=2))
    x = to_device(nonneg(rng, 8, 6).astype(np.float32))
    out = model.forward(x)
    model.backward(to_device(rng.standard_normal(out.shape).astype(np.float32)))
    return model


def test_corrections_scale_exactly_the_inhibitory_gradients(rng):
    model = _model_with_grads(rng)
    trainer = _FakeTrainer(model)
    before = {k: to_numpy(v).copy() for k, v in trainer.grads.items()}
    DANNCorrections(model).before_step(trainer)
    expect = {"0.Wie": 1 / np.sqrt(5), "0.Wei": 1 / 6, "0.alpha": 1 / (6 * np.sqrt(5)),
              "2.Wie": 1 / np.sqrt(3), "2.Wei": 1 / 5, "2.alpha": 1 / (5 * np.sqrt(3))}
    assert correction_factors(model) == pytest.approx(expect)
    for k, g in trainer.grads.items():
        np.testing.assert_allclose(to_numpy(g), before[k] * expect.get(k, 1.0), rtol=1e-6)
        assert g.dtype == np.float32
    off = _FakeTrainer(model)
    DANNCorrections(model, enabled=False).before_step(off)
    for k, g in off.grads.items():
        np.testing.assert_array_equal(to_numpy(g), before[k])


def test_projection_restores_signs(rng):
    model = _model_with_grads(rng)
    trainer = _FakeTrainer(model, lr=100.0)                   # a huge step pushes weights across 0
    trainer.optimizer.step(model.params, trainer.grads)
    p = model.params
    assert any((to_numpy(p[k]) < 0).any() for k in ("0.Wee", "0.Wie", "0.Wei", "0.g"))
    DaleProjection(model).after_step(trainer)
    for k in ("0.Wee", "0.Wie", "0.Wei", "0.g", "2.Wee", "2.Wie", "2.Wei", "2.g"):
        assert (to_numpy(p[k]) >= 0).all(), k
    W = to_numpy(p["3.W"])
    assert (W[:, :2] >= 0).all() and (W[:, 2:] <= 0).all()
    assert model.layers[0].params["Wee"] is p["0.Wee"]        # updated in place, in the layer


def test_grad_norm_clip(rng):
    model = _model_with_grads(rng)
    trainer = _FakeTrainer(model)
    GradNormClip(model, max_norm=1e-3).before_step(trainer)
    for i, layer in ((0, model.layers[0]), (2, model.layers[2]), (3, model.layers[3])):
        norm = np.sqrt(sum((to_numpy(trainer.grads[f"{i}.{k}"]) ** 2).sum() for k in layer.params))
        assert norm == pytest.approx(1e-3, rel=1e-3)
    small = _FakeTrainer(model)
    before = {k: to_numpy(v).copy() for k, v in small.grads.items()}
    GradNormClip(model, max_norm=1e6).before_step(small)
    for k, g in small.grads.items():
        np.testing.assert_allclose(to_numpy(g), before[k], rtol=1e-6)
    with pytest.raises(ValueError, match="max_norm"):
        GradNormClip(model, max_norm=0)


def test_cosine_lr_scaling_meets_the_constraint(rng):
    model = _model_with_grads(rng)
    trainer = _FakeTrainer(model, lr=50.0)
    rule = CosineLRScaling(model, min_cosine=0.999, xi=0.5, max_tries=30)
    before = {k: to_numpy(v).copy() for k, v in trainer.grads.items()}
    rule.before_step(trainer)
    for prefix, layer, names in rule.targets:
        scale = rule._scales[prefix][-1]
        assert scale < 1                                      # lr 50 clips a lot
        new = [to_numpy(model.params[n]) - 50.0 * to_numpy(trainer.grads[n]) for n in names]
        clipped = [to_numpy(project(to_device(v), layer)) for v in new]
        cos = sum((a * b).sum() for a, b in zip(new, clipped)) / np.sqrt(
            sum((a * a).sum() for a in new) * sum((b * b).sum() for b in clipped))
        assert cos >= 0.999 - 1e-6
        for n in names:
            np.testing.assert_allclose(to_numpy(trainer.grads[n]), before[n] * scale, rtol=1e-6)
    tiny = _FakeTrainer(model, lr=1e-9)
    rule.before_step(tiny)
    assert all(v[-1] == 1.0 for v in rule._scales.values())
    # a constraint no step meets: the smallest factor tried, xi^max_tries, not one below it
    never = CosineLRScaling(model, min_cosine=1.5, xi=0.5, max_tries=3)
    never.before_step(_FakeTrainer(model, lr=50.0))
    assert all(v[-1] == 0.5 ** 3 for v in never._scales.values())


def test_per_example_fisher_matches_a_loop(rng):
    layer = DANN(6, 5, 2, rng=0).astype(np.float64)
    x = to_device(nonneg(rng, 4, 6))
    dz = to_device(rng.standard_normal((4, 5)))
    layer.forward(x)
    layer.backward(dz)
    fast = {k: to_numpy(v) for k, v in dann_per_example_sq_grads(layer).items()}
    slow = {k: 0 for k in fast}
    for n in range(4):
        layer.forward(x[n:n + 1])
        layer.backward(dz[n:n + 1])
        for k in slow:
            slow[k] = slow[k] + to_numpy(layer.grads[k]) ** 2
    for k in fast:
        np.testing.assert_allclose(fast[k], slow[k], rtol=1e-9, err_msg=k)


def _tiny_data(rng, n=256):
    """Three classes, each a fixed non-negative template plus noise (learnable in a few epochs)."""
    templates = rng.random((3, 20))
    y = rng.integers(3, size=n)
    X = (0.5 * templates[y] + 0.5 * rng.random((n, 20))).astype(np.float32)
    return {"X_train": X, "y_train": y}


def test_dann_with_rules_learns(rng):
    data = _tiny_data(rng)
    model = dann_mlp(20, 32, 4, depth=2, classes=3, rng=0)
    rules = [DANNCorrections(model), GradNormClip(model, 10.0), CosineLRScaling(model, 0.99), DaleProjection(model)]
    trainer = Trainer(model, data, optim.SGD(0.1), batch_size=32, epochs=6, rng=0, rules=rules, progress=False)
    h = trainer.fit()
    assert h["train_loss"][-1] < 0.6 * h["train_loss"][0]
    assert "lr_scale/0" in h
    for k in ("0.Wee", "0.Wie", "0.Wei", "0.g"):
        assert (to_numpy(model.params[k]) >= 0).all()


def test_columnei_mlp_learns(rng):
    data = _tiny_data(rng)
    model = columnei_mlp(20, 24, 4, depth=2, classes=3, rng=0, input_mean=0.5)
    trainer = Trainer(model, data, optim.SGD(0.05), batch_size=32, epochs=6, rng=0,
                      rules=[DaleProjection(model)], progress=False)
    h = trainer.fit()
    assert h["train_loss"][-1] < 0.8 * h["train_loss"][0]


def test_fisher_correction_trains_and_measures(rng):
    data = _tiny_data(rng)
    model = dann_mlp(20, 32, 4, depth=2, classes=3, rng=0)
    fisher = FisherCorrection(model, measure_every=1, rng=0)
    trainer = Trainer(model, data, optim.SGD(0.5), loss_fn=fisher.loss_fn, batch_size=32, epochs=6, rng=0,
                      rules=[fisher, DaleProjection(model)], progress=False)
    h = trainer.fit()
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert len(fisher.records) == 6 * 8 * 3                   # every step, 3 DANN layers
    cos = np.array([r[2:] for r in fisher.records])
    assert np.all(np.abs(cos) <= 1 + 1e-9)
    assert "fisher_cos_corrected/0" in h and "fisher_cos_uncorrected/4" in h


def test_disabled_fisher_correction_changes_and_measures_nothing(rng):
    model = _model_with_grads(rng)
    trainer = _FakeTrainer(model)
    before = {k: to_numpy(v).copy() for k, v in trainer.grads.items()}
    fisher = FisherCorrection(model, measure_every=1, enabled=False)
    fisher.before_step(trainer)                  # no RuntimeError: it never needs the scores
    fisher.end_epoch(trainer)
    for k, g in trainer.grads.items():
        np.testing.assert_array_equal(to_numpy(g), before[k])
    assert fisher.records == [] and trainer.history == {}


def test_fisher_sampled_labels_follow_softmax():
    model = dann_mlp(4, 8, 2, depth=1, classes=3, rng=0)
    fisher = FisherCorrection(model, rng=0)
    scores = to_device(np.tile(np.log([[0.7, 0.2, 0.1]]), (20000, 1)).astype(np.float32))
    counts = np.bincount(to_numpy(fisher.sample_labels(scores)), minlength=3) / 20000
    np.testing.assert_allclose(counts, [0.7, 0.2, 0.1], atol=0.015)


# ------------------------------------------------------------------ errors
def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="DANN: expected input of shape"):
        DANN(7, 4, 2, rng=0).forward(xp.ones((3, 6), dtype=np.float32))
    with pytest.raises(ValueError, match="inhibitory"):
        DANN(7, 4, 0, rng=0)
    with pytest.raises(ValueError, match="feedback"):
        DANN(7, 4, 2, feedback="dfa")
    with pytest.raises(ValueError, match="ColumnEi"):
        ColumnEi(5, 3, n_inhibitory_in=5)
    with pytest.raises(ValueError, match="DANNConv2d: expected input"):
        DANNConv2d(3, 4, 1, 3, rng=0).forward(xp.ones((1, 2, 5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="h0"):
        DANNRNN(3, 5, rng=0).forward(xp.ones((2, 4, 3), dtype=np.float32), h0=xp.zeros((2, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="xi"):
        CosineLRScaling(Sequential(DANN(3, 2, 1)), xi=1.5)
    with pytest.raises(ValueError, match="no dense DANN"):
        FisherCorrection(Sequential(ColumnEi(3, 2)))


def test_float32_end_to_end(rng):
    for layer, x in ((DANN(6, 5, 2, rng=0), nonneg(rng, 3, 6)),
                     (DANNConv2d(2, 3, 1, 3, padding=1, rng=0), nonneg(rng, 2, 2, 5, 5)),
                     (DANNRNN(3, 4, rng=0), nonneg(rng, 2, 3, 3)),
                     (ColumnEi(6, 4, 2, rng=0), nonneg(rng, 3, 6))):
        x = to_device(x.astype(np.float32))
        out = layer.forward(x)
        dx = layer.backward(xp.ones_like(out))
        assert out.dtype == np.float32 and dx.dtype == np.float32
        assert all(g.dtype == np.float32 for g in layer.grads.values())
