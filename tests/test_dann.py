"""Dale's ANNs: exact gradients, algorithm-1 initialisation, the update rules of minigrad/dale.py."""
import numpy as np
import pytest

from minigrad import optim
from minigrad.backend import to_device, to_numpy, xp
from minigrad.dale import (CosineLRScaling, DaleProjection, DANNCorrections, FisherCorrection, GradNormClip,
                           correction_factors, dann_per_example_sq_grads, project)
from minigrad.models import columnei_mlp, dann_mlp
from minigrad.gradcheck import check_layer, numeric_grad, rel_error
from minigrad.nn import ColumnEi, DANN, DANNConv2d, DANNRNN, DataParallel, Linear, ReLU, Sequential
from minigrad.nn.dann import EPS
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


# ------------------------------------------- feedback alignment, exactly
# FA replaces the two products that carry error below a block, dzE Wee + dzI Wie, by
# dzE Bee + dzI Bie. So FA's dx is the exact gradient of a *surrogate* network in which
# a change of the block's input (x - x0, away from the current point x0) reaches zE and
# zI through Bee and Bie instead of Wee and Wie; everything else is equation 1 unchanged.
# The helpers below recompute equation 1 on the host, independently of dann_block_forward.
def _host(layer, store="params"):
    """Host float64 copies of a layer's parameters (or buffers)."""
    return {k: to_numpy(v).astype(np.float64).copy() for k, v in getattr(layer, store).items()}


def _ei_block(zE, zI, Wei, alpha):
    """Equation 1 after the input products: r = (zE - zI Wei^T) / ((zI e^alpha) Wei^T + eps).
    zE (..., ne), zI (..., ni), Wei (ne, ni), alpha (ni,) -> r (..., ne)."""
    return (zE - zI @ Wei.T) / ((zI * np.exp(alpha)) @ Wei.T + EPS)


@pytest.mark.parametrize("ni", [1, 3])
def test_dann_fa_dx_is_the_gradient_of_the_feedback_surrogate(rng, ni):
    """DANN feedback="fa": dx equals d/dx of  sum(G * z~)  with
    zE = x0 Wee^T + (x - x0) Bee^T,  zI = x0 Wie^T + (x - x0) Bie^T  (rest of eq. 1 unchanged),
    at x = x0, to 1e-7; it is not the true gradient; every parameter gradient is backprop's."""
    N, d, ne = 5, 7, 4
    fa = DANN(d, ne, ni, rng=1, feedback="fa").astype(np.float64)
    bp = DANN(d, ne, ni, rng=1).astype(np.float64)                 # same forward weights
    x0 = nonneg(rng, N, d)                                           # (N, d), the current point
    G = rng.standard_normal((N, ne))                                 # (N, ne) upstream gradient
    dx = {}
    for name, layer in (("fa", fa), ("bp", bp)):
        layer.forward(to_device(x0))
        dx[name] = to_numpy(layer.backward(to_device(G)))            # (N, d)
    p, B = _host(fa), _host(fa, "buffers")                           # Bee (ne, d), Bie (ni, d)
    x = x0.copy()                                                    # perturbed by numeric_grad

    def surrogate():
        zE = x0 @ p["Wee"].T + (x - x0) @ B["Bee"].T                 # (N, ne)
        zI = x0 @ p["Wie"].T + (x - x0) @ B["Bie"].T                 # (N, ni)
        z = p["g"] * _ei_block(zE, zI, p["Wei"], p["alpha"]) + p["b"]
        return float((z * G).sum())

    assert rel_error(dx["fa"], numeric_grad(surrogate, x)) < TOL
    assert rel_error(dx["fa"], dx["bp"]) > 1e-2                      # FA's dx is not the gradient
    assert set(fa.grads) == set(bp.params)
    for k in bp.params:
        np.testing.assert_allclose(to_numpy(fa.grads[k]), to_numpy(bp.grads[k]), rtol=1e-12, atol=0, err_msg=k)


def _patch_rows(x, HH, WW, stride, pad):
    """im2col written out on the host: x (N, C, H, W) -> (N, Ho, Wo, C*HH*WW), each row one
    receptive field flattened in (C, HH, WW) order, the order of Wee.reshape(Fe, -1)."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    N, C, H, W = x.shape
    Ho, Wo = (H - HH) // stride + 1, (W - WW) // stride + 1
    rows = np.empty((N, Ho, Wo, C * HH * WW))
    for i in range(Ho):
        for j in range(Wo):
            rows[:, i, j] = x[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW].reshape(N, -1)
    return rows


@pytest.mark.parametrize("stride,padding,ni", [(1, 1, 2), (2, 0, 1)])
def test_dann_conv_fa_matches_the_feedback_surrogate(rng, stride, padding, ni):
    """DANNConv2d feedback="fa": every parameter gradient passes the gradient check (1e-7);
    dx equals the gradient of the surrogate in which, on every patch row, a change of the
    input reaches zE and zI through the flat filters Bee (Fe, d), Bie (Fi, d), to 1e-7."""
    C, Fe, k = 3, 4, 3
    x0 = nonneg(rng, 2, C, 6, 6)                                     # (N, C, H, W)
    layer = DANNConv2d(C, Fe, ni, k, stride=stride, padding=padding, rng=1, feedback="fa")
    errors = check_layer(layer, x0)                                  # casts the layer to float64
    assert max(v for name, v in errors.items() if name != "x") < TOL, errors
    assert errors["x"] > 1e-2, errors                                # dx is not the gradient
    G = rng.standard_normal(to_numpy(layer.forward(to_device(x0))).shape)   # (N, Fe, Ho, Wo)
    dx = to_numpy(layer.backward(to_device(G)))                      # (N, C, H, W)
    p, B = _host(layer), _host(layer, "buffers")
    Wee, Wie = p["Wee"].reshape(Fe, -1), p["Wie"].reshape(ni, -1)    # (Fe, d), (Fi, d), d = C*k*k
    rows0 = _patch_rows(x0, k, k, stride, padding)                   # (N, Ho, Wo, d)
    x = x0.copy()

    def surrogate():
        drows = _patch_rows(x - x0, k, k, stride, padding)           # patches are linear in x
        zE = rows0 @ Wee.T + drows @ B["Bee"].T                      # (N, Ho, Wo, Fe)
        zI = rows0 @ Wie.T + drows @ B["Bie"].T                      # (N, Ho, Wo, Fi)
        z = p["g"] * _ei_block(zE, zI, p["Wei"], p["alpha"]) + p["b"]
        return float((z * G.transpose(0, 2, 3, 1)).sum())

    assert rel_error(dx, numeric_grad(surrogate, x)) < TOL


def _dann_rnn_shadow(P, B, x, xs, h0, h0s, h, G):
    """S = sum_t G_t . h~_t for the DANNRNN recurrence linearised for FA (host, float64).

    The real run (x, h0 and its states h, all constants) fixes the point. The shadow states
    h~ follow it, but a difference h~_{t-1} - h_{t-1} (or xs - x) enters a block only
    through its feedback matrices::

        zE_t = h_{t-1} Wee^T + (h~_{t-1} - h_{t-1}) Bee^T,  zI_t = h_{t-1} Wie^T + (h~_{t-1} - h_{t-1}) Bie^T
        zE^x = x Uee^T + (xs - x) Bue^T,                     zI^x = x Uie^T + (xs - x) Bui^T
        h~_t = ReLU(g r(zE_t, zI_t) + gx q(zE^x_t, zI^x_t) + b)

    At xs = x, h0s = h0 the shadow is the real run; its gradient there with respect to xs,
    h0s and every parameter in P is what FA back-propagates: exact inside each block, B in
    place of Wee, Wie (recurrence) and Uee, Uie (input).
    Shapes: x, xs (N, T, D); h0, h0s (N, H); h, G (N, T, H).
    """
    dx = xs - x
    q = _ei_block(x @ P["Uee"].T + dx @ B["Bue"].T, x @ P["Uie"].T + dx @ B["Bui"].T,
                  P["Uei"], P["alpha_x"])                            # (N, T, H) input block
    prev, prev_s, total = h0, h0s, 0.0
    for t in range(x.shape[1]):
        dh = prev_s - prev                                           # (N, H)
        r = _ei_block(prev @ P["Wee"].T + dh @ B["Bee"].T, prev @ P["Wie"].T + dh @ B["Bie"].T,
                      P["Wei"], P["alpha"])                          # (N, H) recurrent block
        prev_s = np.maximum(P["g"] * r + P["gx"] * q[:, t] + P["b"], 0)
        prev = h[:, t]
        total += float((G[:, t] * prev_s).sum())
    return total


def test_dann_rnn_fa_gradients_match_the_linearised_feedback_surrogate(rng):
    """DANNRNN feedback="fa": dx, dh0 and all 11 parameter gradients equal, to 1e-7, the
    finite-difference gradients of the shadow recurrence above, which routes errors through
    Bee, Bie between steps and Bue, Bui into the input."""
    N, T, D, H = 2, 4, 4, 5
    layer = DANNRNN(D, H, n_inhibitory=2, n_inhibitory_input=3, rng=1, feedback="fa").astype(np.float64)
    x, h0 = nonneg(rng, N, T, D), nonneg(rng, N, H)                  # non-zero h0: no 0/eps first step
    G = rng.standard_normal((N, T, H))
    layer.forward(to_device(x), h0=to_device(h0))
    analytic = {"x": to_numpy(layer.backward(to_device(G)))}
    analytic["h0"] = to_numpy(layer.dh0)
    analytic.update({k: to_numpy(v) for k, v in layer.grads.items()})
    h = to_numpy(layer.h).copy()                                     # (N, T, H) real states
    P, B = _host(layer), _host(layer, "buffers")
    assert set(B) == {"Bee", "Bie", "Bue", "Bui"} and len(P) == 11
    xs, h0s = x.copy(), h0.copy()
    variables = {"x": xs, "h0": h0s, **P}
    for name, var in variables.items():
        num = numeric_grad(lambda: _dann_rnn_shadow(P, B, x, xs, h0, h0s, h, G), var)
        assert rel_error(analytic[name], num) < TOL, name


def test_dann_rnn_fa_with_feedback_equal_to_weights_is_backprop(rng):
    """With Bee, Bie, Bue, Bui set to Wee, Wie, Uee, Uie, FA is backprop: the whole layer
    (x, h0 and every parameter) passes the gradient check."""
    layer = DANNRNN(4, 5, n_inhibitory=2, n_inhibitory_input=3, rng=1, feedback="fa").astype(np.float64)
    for b, w in (("Bee", "Wee"), ("Bie", "Wie"), ("Bue", "Uee"), ("Bui", "Uie")):
        layer.buffers[b] = layer.params[w].copy()
    errors = check_layer(layer, nonneg(rng, 2, 4, 4), forward_kwargs={"h0": nonneg(rng, 2, 5)},
                         extra_inputs={"h0": "dh0"})
    assert len(errors) == 13 and max(errors.values()) < TOL, errors


def test_dann_rnn_fa_dx_differs_from_backprop_through_each_feedback(rng):
    """FA's dx is not backprop's, and each pair of feedback matrices matters on its own:
    with only the input feedback (Bue, Bui) set to the weights, the recurrent feedback still
    changes dx, and with only the recurrent feedback (Bee, Bie) set to the weights, the
    input feedback still does."""
    x, h0 = nonneg(rng, 2, 4, 3), nonneg(rng, 2, 5)                  # (N, T, D), (N, H)
    G = to_device(rng.standard_normal((2, 4, 5)))                    # (N, T, H)

    def dx_of(layer):
        layer.astype(np.float64).forward(to_device(x), h0=to_device(h0))
        return to_numpy(layer.backward(G))

    bp = dx_of(DANNRNN(3, 5, n_inhibitory=2, rng=1))

    def fa_dx(*as_weights):
        layer = DANNRNN(3, 5, n_inhibitory=2, rng=1, feedback="fa").astype(np.float64)
        for b, w in as_weights:
            layer.buffers[b] = layer.params[w].copy()
        return dx_of(layer)

    assert rel_error(fa_dx(), bp) > 1e-2
    assert rel_error(fa_dx(("Bue", "Uee"), ("Bui", "Uie")), bp) > 1e-2       # recurrent B only
    assert rel_error(fa_dx(("Bee", "Wee"), ("Bie", "Wie")), bp) > 1e-2       # input B only
    both = fa_dx(("Bee", "Wee"), ("Bie", "Wie"), ("Bue", "Uee"), ("Bui", "Uie"))
    np.testing.assert_allclose(both, bp, rtol=1e-12, atol=1e-15)


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


def test_fisher_correction_arithmetic_by_hand(rng):
    """Two steps of FisherCorrection recomputed from its docstring (algorithm 4), float64:
    F = sum_n (dL_n/dtheta)^2 / (lambda N) for the sampled labels, F_t = k F + (1 - k) F_{t-1},
    F^-1 = 1 / (F_t + damping * mean over the layer of F_t), divided by ||F^-1 over Wee||,
    Delta = F^-1 * (true-label gradient) replaces the DANN gradients (ColumnEi keeps its own);
    the records hold cos(Delta, gradient) and cos(Delta, gradient after algorithm 3)."""
    N, classes, lam, k, damping = 6, 3, 0.01, 0.3, 0.1
    model = Sequential(DANN(6, 5, 3, rng=0), ReLU(), DANN(5, 4, 1, rng=1), ColumnEi(4, classes, 1, rng=2))
    model.astype(np.float64)
    fisher = FisherCorrection(model, fisher_lr=lam, momentum=k, damping=damping, measure_every=1)
    sampled = {}
    fisher.sample_labels = lambda scores: to_device(sampled["y"])    # fixed "sampled" labels
    # algorithm 3's factors by hand: Wie 1/sqrt(ne), Wei 1/d, alpha 1/(d sqrt(ne)); (ne, d) per layer
    shape = {"0": (5, 6), "2": (4, 5)}
    heuristic = {pre: {"Wie": 1 / np.sqrt(ne), "Wei": 1 / d, "alpha": 1 / (d * np.sqrt(ne))}
                 for pre, (ne, d) in shape.items()}
    F_prev = {}
    for step in range(2):
        x = nonneg(rng, N, 6)                                        # (N, 6)
        y = rng.integers(classes, size=N)                            # true labels
        sampled["y"] = (y + rng.integers(1, classes, size=N)) % classes   # never the true label
        scores = model.forward(to_device(x))                         # (N, classes)
        _, dscores = fisher.loss_fn(scores, to_device(y))
        model.backward(dscores)
        trainer = _FakeTrainer(model)
        trainer.step_count = step
        plain = {name: to_numpy(g).copy() for name, g in trainer.grads.items()}
        fisher.before_step(trainer)
        after = {name: to_numpy(g) for name, g in trainer.grads.items()}
        # the sampled-label backward, by hand: dscores = (softmax - onehot(y sampled)) / N
        s = to_numpy(scores)
        prob = np.exp(s - s.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        model.forward(to_device(x))
        model.backward(to_device((prob - np.eye(classes)[sampled["y"]]) / N))
        for pre in shape:
            sq = {name: to_numpy(v) for name, v in dann_per_example_sq_grads(model[int(pre)]).items()}
            # the backward's rows carry 1/N, so sum_n (dL_n)^2 = N^2 * sq
            F = {name: N ** 2 * v / (lam * N) for name, v in sq.items()}
            if step:
                F = {name: k * v + (1 - k) * F_prev[pre][name] for name, v in F.items()}
            F_prev[pre] = F
            mean_F = sum(v.sum() for v in F.values()) / sum(v.size for v in F.values())
            finv = {name: 1 / (v + damping * mean_F) for name, v in F.items()}
            wee_norm = np.sqrt((finv["Wee"] ** 2).sum())
            delta = {name: finv[name] / wee_norm * plain[f"{pre}.{name}"] for name in F}
            for name in F:                  # atol: some F entries (hidden alpha) are ~1e-15 of the rest
                np.testing.assert_allclose(to_numpy(fisher.F[f"{pre}.{name}"]), F[name], rtol=1e-10,
                                           atol=1e-12 * mean_F, err_msg=name)
                np.testing.assert_allclose(after[f"{pre}.{name}"], delta[name], rtol=1e-10, err_msg=name)
            d_vec = np.concatenate([delta[name].ravel() for name in F])
            g_vec = np.concatenate([plain[f"{pre}.{name}"].ravel() for name in F])
            c_vec = np.concatenate([(plain[f"{pre}.{name}"] * heuristic[pre].get(name, 1.0)).ravel() for name in F])
            cos = [d_vec @ v / (np.linalg.norm(d_vec) * np.linalg.norm(v)) for v in (g_vec, c_vec)]
            record = [r for r in fisher.records if r[:2] == (step, pre)]
            assert len(record) == 1 and record[0][2:] == pytest.approx(cos, rel=1e-9)
        for name in ("3.W", "3.b"):                                  # not a dense DANN layer: untouched
            np.testing.assert_array_equal(after[name], plain[name])
    assert len(fisher.records) == 4


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
    with pytest.raises(ValueError, match="max_tries must be >= 0, got -1"):
        CosineLRScaling(Sequential(DANN(3, 2, 1)), max_tries=-1)
    with pytest.raises(ValueError, match="no dense DANN"):
        FisherCorrection(Sequential(ColumnEi(3, 2)))


# ------------------------------------------- combinations the rules refuse
def _trainer(model, optimizer=None, rules=(), **kwargs):
    data = {"X_train": np.ones((4, 4), np.float32), "y_train": np.zeros(4, np.int64)}
    return Trainer(model, data, optimizer or optim.SGD(0.1), rules=rules, progress=False, **kwargs)


@pytest.mark.parametrize("optimizer", [optim.Momentum(0.1), optim.Adam(1e-3), optim.SGD(0.1, weight_decay=1e-4)])
def test_cosine_lr_scaling_refuses_an_optimizer_other_than_plain_sgd(optimizer):
    model = dann_mlp(4, 6, 2, depth=1, classes=3, rng=0)
    with pytest.raises(TypeError, match=f"CosineLRScaling: needs plain SGD .*got {type(optimizer).__name__}"):
        _trainer(model, optimizer, rules=[CosineLRScaling(model)])
    _trainer(model, optim.SGD(0.1), rules=[CosineLRScaling(model)])          # plain SGD is accepted


def test_fisher_with_apply_refuses_dann_corrections():
    model = dann_mlp(4, 6, 2, depth=1, classes=3, rng=0)
    fisher = FisherCorrection(model)
    with pytest.raises(ValueError, match="FisherCorrection: apply=True together with an enabled DANNCorrections"):
        _trainer(model, loss_fn=fisher.loss_fn, rules=[fisher, DANNCorrections(model)])
    # measuring alongside the heuristic, or the heuristic switched off, is fine
    measure = FisherCorrection(model, apply=False)
    _trainer(model, loss_fn=measure.loss_fn, rules=[measure, DANNCorrections(model)])
    _trainer(model, loss_fn=fisher.loss_fn, rules=[fisher, DANNCorrections(model, enabled=False)])


def test_fisher_refuses_feedback_alignment():
    with pytest.raises(ValueError, match=r"FisherCorrection: layer\(s\) \['0', '2'\] are trained with feedback"):
        FisherCorrection(dann_mlp(4, 6, 2, depth=1, classes=3, rng=0, feedback="fa"))
    # an FA layer anywhere changes the DANN layers' gradients too
    with pytest.raises(ValueError, match=r"layer\(s\) \['2'\] are trained with feedback alignment"):
        FisherCorrection(Sequential(DANN(4, 6, 2, rng=0), ReLU(), Linear(6, 3, rng=0, feedback="fa")))


def test_fisher_refuses_data_parallel_when_built_and_in_the_trainer():
    model = dann_mlp(4, 6, 2, depth=1, classes=3, rng=0)
    with pytest.raises(TypeError, match="FisherCorrection: per-example gradients .*DataParallel"):
        FisherCorrection(DataParallel(model))
    fisher = FisherCorrection(model)                   # built on the model, trained wrapped
    with pytest.raises(TypeError, match="FisherCorrection: per-example gradients .*DataParallel"):
        _trainer(DataParallel(model), loss_fn=fisher.loss_fn, rules=[fisher])


def test_fisher_refuses_a_rule_before_it_and_another_loss():
    model = dann_mlp(4, 6, 2, depth=1, classes=3, rng=0)
    fisher = FisherCorrection(model, apply=False)
    with pytest.raises(ValueError, match=r"FisherCorrection: must be the first .*\['GradNormClip'\]"):
        _trainer(model, loss_fn=fisher.loss_fn, rules=[GradNormClip(model, 1.0), fisher])
    with pytest.raises(ValueError, match="FisherCorrection: pass loss_fn=rule.loss_fn"):
        _trainer(model, rules=[fisher])
    # after_step-only rules may come first; a disabled rule needs no special loss
    _trainer(model, loss_fn=fisher.loss_fn, rules=[DaleProjection(model), fisher])
    _trainer(model, rules=[FisherCorrection(model, enabled=False)])


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
