"""Penalties (minigrad/penalties.py): gradients against finite differences of ``value``, the
values against the formulas written out by hand, and what minimising each one does to W_E, W_I."""
import numpy as np
import pytest

from minigrad import nn
from minigrad.backend import to_device, to_float, to_numpy
from minigrad.gradcheck import numeric_grad, rel_error
from minigrad.penalties import (L1, L2, AbsSeparation, ExpSatSeparation, SatAbsSeparation, SatExpSeparation,
                                separation_penalty)

TOL = 1e-7
SEPARATIONS = [AbsSeparation, SatAbsSeparation, ExpSatSeparation, SatExpSeparation]


def params_ei(rng, shift=0.0):
    """Lateral weights of two paths as in a Sequential (4 x 4 x 3 x 3 kernels), plus an unrelated bias."""
    return {"1.We": to_device(0.3 * rng.standard_normal((4, 4, 3, 3)) + shift),
            "1.Wi": to_device(0.3 * rng.standard_normal((4, 4, 3, 3)) - shift),
            "1.b": to_device(rng.standard_normal(4))}


def check_penalty(p, params):
    """Relative error of p.grad against centred finite differences of p.value, per name read."""
    grads = p.grad(params)
    assert set(grads) <= set(params)
    errors = {}
    for name, g in grads.items():
        assert g.shape == params[name].shape, name
        errors[name] = rel_error(g, numeric_grad(lambda: to_float(p.value(params)), params[name]))
    return errors


@pytest.mark.parametrize("cls", SEPARATIONS)
@pytest.mark.parametrize("shift", [0.2, -0.15])
def test_separation_gradients_match_finite_differences(rng, cls, shift):
    params = params_ei(rng, shift)
    p = cls("1.We", "1.Wi", beta=0.7)
    errors = check_penalty(p, params)
    assert set(errors) == {"1.We", "1.Wi"}
    assert max(errors.values()) < TOL, errors


def test_separation_values_match_the_formulas(rng):
    params = params_ei(rng, 0.1)
    We, Wi = to_numpy(params["1.We"]), to_numpy(params["1.Wi"])
    mE, mI, b = We.mean(), Wi.mean(), 0.5
    expected = {"ABS": -b * abs(mE - mI),
                "SAT-ABS": -b * abs(np.tanh(mE) - np.tanh(mI)),
                "EXP-SAT": -b * (np.tanh(mE) + np.tanh(-mI)),
                "SAT-EXP": -b * (np.tanh(We).mean() - np.tanh(Wi).mean())}
    for kind, value in expected.items():
        got = to_float(separation_penalty(kind, "1.We", "1.Wi", b).value(params))
        assert got == pytest.approx(value, rel=1e-12), kind


@pytest.mark.parametrize("cls", SEPARATIONS)
def test_minimising_separates_the_paths(rng, cls):
    """Gradient descent on the penalty alone from weights near 0 (as at initialisation): the two
    means move apart, W_E up and W_I down (for ABS/SAT-ABS, the path that starts higher goes up)."""
    params = {"We": to_device(0.01 * rng.standard_normal((3, 3, 5, 5)) + 0.001),
              "Wi": to_device(0.01 * rng.standard_normal((3, 3, 5, 5)) - 0.001)}
    p = cls("We", "Wi", beta=1.0)
    v0 = to_float(p.value(params))
    for _ in range(200):
        for name, g in p.grad(params).items():
            params[name] -= 50.0 * g
    mE, mI = to_float(params["We"].mean()), to_float(params["Wi"].mean())
    assert mE > 0.2 and mI < -0.2, (mE, mI)
    assert to_float(p.value(params)) < v0


def test_saturating_penalties_are_bounded_and_abs_is_not(rng):
    far = {"We": to_device(np.full((2, 3), 50.0)), "Wi": to_device(np.full((2, 3), -50.0))}
    for cls in (SatAbsSeparation, ExpSatSeparation, SatExpSeparation):
        p = cls("We", "Wi", beta=2.0)
        assert to_float(p.value(far)) == pytest.approx(-4.0)     # -2 beta: the floor
        assert max(np.abs(to_numpy(g)).max() for g in p.grad(far).values()) < 1e-12   # no push left
    assert to_float(AbsSeparation("We", "Wi", beta=2.0).value(far)) == pytest.approx(-200.0)


def test_abs_penalties_at_equal_means_use_sign_zero():
    same = {"We": to_device(np.full((2, 2), 0.3)), "Wi": to_device(np.full((2, 2), 0.3))}
    for cls in (AbsSeparation, SatAbsSeparation):
        grads = cls("We", "Wi", beta=1.0).grad(same)
        assert all((to_numpy(g) == 0).all() for g in grads.values())


def test_only_named_parameters_are_read(rng):
    params = params_ei(rng)
    p = SatExpSeparation("1.We", "1.Wi", beta=1.0)
    assert p.keys == ("1.We", "1.Wi")
    assert set(p.grad(params)) == {"1.We", "1.Wi"}
    with pytest.raises(KeyError, match="SAT-EXP: no parameter named '2.We'"):
        SatExpSeparation("2.We", "1.Wi", beta=1.0).value(params)
    with pytest.raises(ValueError, match="ABS: exc and inh"):
        AbsSeparation("1.We", "1.We", beta=1.0)
    with pytest.raises(ValueError, match="EXP-SAT: beta"):
        ExpSatSeparation("We", "Wi", beta=-1.0)
    with pytest.raises(ValueError, match="unknown kind 'SAT'; valid kinds are: ABS, SAT-ABS, EXP-SAT, SAT-EXP"):
        separation_penalty("SAT", "We", "Wi", 1.0)


@pytest.mark.parametrize("cls,kwargs", [(L1, {}), (L2, {"lam": 0.3})])
def test_weight_penalties(rng, cls, kwargs):
    params = {"0.Wa": to_device(rng.standard_normal((3, 1, 2, 2))),
              "0.Wl": to_device(rng.standard_normal((3, 3, 2, 2))),
              "0.ba": to_device(rng.standard_normal(3))}
    p = cls(keys=("Wa", "Wl"), **kwargs)
    errors = check_penalty(p, params)
    assert set(errors) == {"0.Wa", "0.Wl"}                   # the bias is not a weight
    assert max(errors.values()) < TOL, errors
    lam = kwargs.get("lam", 1e-3)                            # L1's default: the paper's lambda
    w = np.concatenate([to_numpy(params[k]).ravel() for k in ("0.Wa", "0.Wl")])
    expected = lam * np.abs(w).sum() if cls is L1 else 0.5 * lam * (w * w).sum()
    assert to_float(p.value(params)) == pytest.approx(expected, rel=1e-12)
    # the same numbers as the functions in nn.losses they wrap
    fn = nn.l1_penalty if cls is L1 else nn.l2_penalty
    assert to_float(fn(params, lam, ("Wa", "Wl"))[0]) == pytest.approx(to_float(p.value(params)))


def test_float32_stays_float32(rng):
    params = {k: v.astype(np.float32) for k, v in params_ei(rng).items()}
    for cls in SEPARATIONS:
        p = cls("1.We", "1.Wi", beta=0.1)
        assert p.value(params).dtype == np.float32
        assert all(g.dtype == np.float32 for g in p.grad(params).values())


# ------------------------------------------------------------ the Trainer adds penalties to loss and gradients
def _tiny_lcei(seed=0):
    from minigrad.models import lcei_cnn
    return lcei_cnn(channels=3, kernel_size=3, image_size=6, n_classes=3, rng=seed, dtype=np.float64)


def _tiny_images(n=8, seed=0):
    r = np.random.default_rng(seed)
    return {"X_train": r.standard_normal((n, 1, 6, 6)), "y_train": r.integers(3, size=n)}


def _pens():
    return [L1(1e-2, keys=("Wa", "We", "Wi", "W")), SatExpSeparation("0.We", "0.Wi", beta=0.5)]


class _Grabber:
    """A rule that records the gradients the optimizer is about to use (before_step)."""
    def before_step(self, trainer):
        self.grads = {k: np.array(to_numpy(v), copy=True) for k, v in trainer.grads.items()}


def test_trainer_step_adds_penalty_value_and_gradient():
    from minigrad import optim
    from minigrad.nn.losses import softmax_cross_entropy
    from minigrad.trainer import Trainer
    data = _tiny_images()
    ref = _tiny_lcei()
    X, y = to_device(data["X_train"]), to_device(data["y_train"])
    # by hand: data loss and gradient of the unchanged model, plus each penalty's value and gradient
    scores = ref.forward(X)
    data_loss, dscores = softmax_cross_entropy(scores, y)
    ref.backward(dscores)
    want = {k: np.array(to_numpy(v), copy=True) for k, v in ref.grads.items()}
    want_loss = float(to_numpy(data_loss))
    for p in _pens():
        want_loss += float(to_numpy(p.value(ref.params)))
        for k, g in p.grad(ref.params).items():
            want[k] = want[k] + to_numpy(g)
    grab = _Grabber()
    t = Trainer(_tiny_lcei(), data, optim.SGD(1e-3), batch_size=len(X), epochs=1, rng=0, rules=[grab],
                penalties=_pens(), progress=False)
    loss, _ = t.train_step(t.X_train, t.y_train)
    assert float(to_numpy(loss)) == pytest.approx(want_loss, rel=1e-12)
    assert float(to_numpy(loss)) != pytest.approx(float(to_numpy(data_loss)), rel=1e-6)   # the penalty counts
    for k in want:
        np.testing.assert_allclose(grab.grads[k], want[k], rtol=1e-12, atol=1e-15, err_msg=k)
    # the layers' own gradients stay the data loss's
    np.testing.assert_allclose(to_numpy(t.model.grads["0.We"]), to_numpy(ref.grads["0.We"]), rtol=1e-12)


def test_trainer_gradient_is_the_gradient_of_the_reported_loss():
    """Finite differences of the loss the Trainer reports (data loss + penalties) match the gradients
    handed to the optimizer, for every parameter of a small LCEI-CNN (float64)."""
    from minigrad import optim
    from minigrad.trainer import Trainer
    data = _tiny_images(seed=1)
    grab = _Grabber()
    t = Trainer(_tiny_lcei(seed=2), data, optim.SGD(1e-3), batch_size=8, epochs=1, rng=0, rules=[grab],
                penalties=[L2(0.3, keys=("Wa", "W")), AbsSeparation("0.We", "0.Wi", beta=0.7),
                           SatAbsSeparation("0.We", "0.Wi", beta=0.2)], progress=False)
    params = t.model.params
    saved = {k: v.copy() for k, v in params.items()}

    def total_loss():
        from minigrad.nn.losses import softmax_cross_entropy
        loss, _ = softmax_cross_entropy(t.model.forward(t.X_train), t.y_train)
        return float(to_numpy(loss)) + sum(float(to_numpy(p.value(params))) for p in t.penalties)

    f0 = total_loss()
    t.optimizer.lr = 1e-300                   # the step records the gradients and barely moves anything
    loss, _ = t.train_step(t.X_train, t.y_train)
    assert float(to_numpy(loss)) == pytest.approx(f0, rel=1e-12)
    for k, v in params.items():
        v[...] = saved[k]
    r = np.random.default_rng(3)
    for k, v in params.items():
        flat = v.reshape(-1)
        for i in r.choice(flat.size, size=min(5, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + 1e-6
            up = total_loss()
            flat[i] = old - 1e-6
            down = total_loss()
            flat[i] = old
            num = (up - down) / 2e-6
            assert abs(num - grab.grads[k].reshape(-1)[i]) <= 1e-6 * max(1.0, abs(num)), (k, i, num)


def test_trainer_refuses_a_penalty_reading_nothing_and_fingerprints_penalties(tmp_path):
    from minigrad import optim
    from minigrad.checkpoint import CheckpointError
    from minigrad.trainer import Trainer
    data = _tiny_images()
    with pytest.raises(ValueError, match="reads none"):
        Trainer(_tiny_lcei(), data, optim.SGD(0.1), penalties=[L1(1e-3, keys=("nothing",))], progress=False)
    with pytest.raises(KeyError, match="0.Wx"):
        Trainer(_tiny_lcei(), data, optim.SGD(0.1), penalties=[AbsSeparation("0.We", "0.Wx", 1.0)],
                progress=False)
    ck = str(tmp_path / "ck.npz")
    Trainer(_tiny_lcei(), data, optim.SGD(0.1), epochs=1, penalties=[SatExpSeparation("0.We", "0.Wi", 0.5)],
            checkpoint=ck, progress=False).fit()
    for other in ([SatExpSeparation("0.We", "0.Wi", 0.1)], [ExpSatSeparation("0.We", "0.Wi", 0.5)], []):
        with pytest.raises(CheckpointError, match="penalt"):
            Trainer(_tiny_lcei(), data, optim.SGD(0.1), epochs=2, penalties=other, checkpoint=ck, resume=True,
                    progress=False)
