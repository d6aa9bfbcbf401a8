"""Optimizers and learning-rate schedules (minigrad/optim.py), without PyTorch.

Each optimizer is run for three steps and compared after every step with the
update its docstring writes down, evaluated here on the host in float64:

    SGD:       p <- p - lr (g + wd p)
    Momentum:  g' = g + wd p;  v <- mu v - lr g';  p <- p + v
    Adam:      g' = g + wd p;  m <- b1 m + (1 - b1) g';  v <- b2 v + (1 - b2) g'^2
               p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

and on one scalar worked out by hand, so that a mistake shared by the formula
above and the code (say, a sign) still shows.
"""
import numpy as np
import pytest

from minigrad import optim
from minigrad.backend import to_device, to_numpy


# ------------------------------------------------------------ host references
def sgd_reference(p, grads, lr, weight_decay=0.0):
    p, out = p.copy(), []
    for g in grads:
        p = p - lr * (g + weight_decay * p)
        out.append(p.copy())
    return out


def momentum_reference(p, grads, lr, momentum, weight_decay=0.0):
    p, v, out = p.copy(), np.zeros_like(p), []
    for g in grads:
        g = g + weight_decay * p
        v = momentum * v - lr * g
        p = p + v
        out.append(p.copy())
    return out


def adam_reference(p, grads, lr, beta1, beta2, eps, weight_decay=0.0):
    p, m, v, out = p.copy(), np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
        out.append(p.copy())
    return out


def run_steps(opt, p0, grads):
    """Step ``opt`` on one parameter "W" (float64, on the device); the host value after each step."""
    w = to_device(p0.copy(), dtype=np.float64)
    out = []
    for g in grads:
        opt.step({"W": w}, {"W": to_device(g, dtype=np.float64)})
        out.append(to_numpy(w).copy())
    return out


def assert_trajectories_equal(got, want):
    assert len(got) == len(want)
    for step, (a, b) in enumerate(zip(got, want), start=1):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=f"after step {step}")


# ------------------------------------------------------------ against the docstring formulas
@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
def test_sgd_follows_its_formula(weight_decay, rng):
    p0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(3)]
    got = run_steps(optim.SGD(0.1, weight_decay=weight_decay), p0, grads)
    assert_trajectories_equal(got, sgd_reference(p0, grads, 0.1, weight_decay))


@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
@pytest.mark.parametrize("momentum", [0.9, 0.5])
def test_momentum_follows_its_formula(momentum, weight_decay, rng):
    p0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(3)]
    got = run_steps(optim.Momentum(0.1, momentum, weight_decay=weight_decay), p0, grads)
    assert_trajectories_equal(got, momentum_reference(p0, grads, 0.1, momentum, weight_decay))


@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.8, 0.99), (0.5, 0.9375)])
def test_adam_follows_its_formula(betas, weight_decay, rng):
    p0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) * s for s in (1.0, 3.0, 0.2)]
    b1, b2 = betas
    got = run_steps(optim.Adam(0.01, beta1=b1, beta2=b2, eps=1e-8, weight_decay=weight_decay), p0, grads)
    assert_trajectories_equal(got, adam_reference(p0, grads, 0.01, b1, b2, 1e-8, weight_decay))


# Adam's eps must be > 0; one this small is below half an ulp of every sqrt(v^) + 0 in these float64
# examples (all far above 1e-280), so adding it changes no result and the worked numbers stay exact
TINY = 1e-300

# ------------------------------------------------------------ worked by hand on one number
G = [1.0, -0.5, 0.25]                 # the three gradients of the scalar examples, p0 = 2, lr = 0.1


def scalar_run(opt):
    return [float(a[0]) for a in run_steps(opt, np.array([2.0]), [np.array([g]) for g in G])]


def test_sgd_by_hand():
    # no decay: 2 - 0.1 = 1.9;  1.9 + 0.05 = 1.95;  1.95 - 0.025 = 1.925
    assert scalar_run(optim.SGD(0.1)) == pytest.approx([1.9, 1.95, 1.925], rel=1e-14)
    # weight decay 0.5 pulls p towards 0 (adds +wd p to the gradient):
    # g' = 1 + 1 = 2 -> 1.8;  g' = -0.5 + 0.9 = 0.4 -> 1.76;  g' = 0.25 + 0.88 = 1.13 -> 1.647
    assert scalar_run(optim.SGD(0.1, weight_decay=0.5)) == pytest.approx([1.8, 1.76, 1.647], rel=1e-14)


def test_momentum_by_hand():
    # v = -0.1, p = 1.9;  v = -0.09 + 0.05 = -0.04, p = 1.86;  v = -0.036 - 0.025 = -0.061, p = 1.799
    assert scalar_run(optim.Momentum(0.1, 0.9)) == pytest.approx([1.9, 1.86, 1.799], rel=1e-14)
    # weight decay 0.5:  g' = 2, v = -0.2, p = 1.8;  g' = 0.4, v = -0.18 - 0.04 = -0.22, p = 1.58;
    #                    g' = 0.25 + 0.79 = 1.04, v = -0.198 - 0.104 = -0.302, p = 1.278
    assert scalar_run(optim.Momentum(0.1, 0.9, weight_decay=0.5)) == pytest.approx([1.8, 1.58, 1.278],
                                                                                    rel=1e-14)


def test_adam_by_hand():
    """beta1 = 1/2, beta2 = 15/16 (1 - beta2 = 1/16), eps = 0: every number is a short fraction.

    t=1: m = 1/2,  v = 1/16;  m^ = 1,  v^ = 1:  p = 2 - 0.1 = 1.9   (without bias correction: 2 - 0.2)
    t=2: m = 1/4 - 1/4 = 0:  p stays 1.9
    t=3: below.
    """
    opt = optim.Adam(0.1, beta1=0.5, beta2=15 / 16, eps=TINY)
    got = scalar_run(opt)
    assert got[:2] == pytest.approx([1.9, 1.9], rel=1e-14)
    # t=3 written out: m = 0.5 * 0 + 0.5 * 0.25 = 1/8, m^ = (1/8) / (1 - 1/8) = 1/7
    # v1 = 1/16, v2 = 15/256 + 1/64 = 19/256, v3 = (15/16)(19/256) + (1/16)(1/16) = 301/4096
    # v^ = (301/4096) / (1 - (15/16)^3) = (301/4096) / (721/4096) = 301/721 = 43/103
    step3 = 0.1 * (1 / 7) / np.sqrt(43 / 103)
    assert got[2] == pytest.approx(1.9 - step3, rel=1e-14)
    assert opt.state["W"]["t"] == 3


def test_adam_first_step_is_lr_times_the_sign_of_the_gradient(rng):
    """Bias correction makes m^ = g and v^ = g^2 at t = 1, whatever the scale of g and the betas."""
    p0 = rng.standard_normal((3, 4))
    g = rng.standard_normal((3, 4)) * 1e-3
    for b1, b2 in [(0.9, 0.999), (0.5, 0.9), (0.0, 0.0)]:
        w = to_device(p0.copy())
        optim.Adam(0.05, beta1=b1, beta2=b2, eps=TINY).step({"W": w}, {"W": to_device(g)})
        np.testing.assert_allclose(to_numpy(w), p0 - 0.05 * np.sign(g), rtol=1e-12, err_msg=str((b1, b2)))


def test_adam_weight_decay_is_l2_added_to_the_gradient(rng):
    """Not decoupled (AdamW): with g = 0 the first step is lr * sign(wd p), a full lr step."""
    p0 = rng.standard_normal(6)
    w = to_device(p0.copy())
    optim.Adam(0.01, weight_decay=1e-3, eps=TINY).step({"W": w}, {"W": to_device(np.zeros(6))})
    np.testing.assert_allclose(to_numpy(w), p0 - 0.01 * np.sign(p0), rtol=1e-12)


@pytest.mark.parametrize("make", [lambda: optim.SGD(0.1, weight_decay=0.5),
                                  lambda: optim.Momentum(0.1, 0.9, weight_decay=0.5)],
                         ids=["sgd", "momentum"])
def test_weight_decay_alone_shrinks_the_weights(make, rng):
    """With a zero gradient, weight decay is p <- (1 - lr wd) p on the first step (both optimizers)."""
    p0 = rng.standard_normal(5)
    w = to_device(p0.copy())
    make().step({"W": w}, {"W": to_device(np.zeros(5))})
    np.testing.assert_allclose(to_numpy(w), 0.95 * p0, rtol=1e-14)


# ------------------------------------------------------------ the call shape
@pytest.mark.parametrize("make", [lambda: optim.SGD(0.1), lambda: optim.Momentum(0.1),
                                  lambda: optim.Adam(0.1)], ids=["sgd", "momentum", "adam"])
def test_updates_in_place_per_name_and_skips_parameters_without_gradients(make, rng):
    a0, b0, c0 = rng.standard_normal(3), rng.standard_normal(2), rng.standard_normal(4)
    params = {"a": to_device(a0.copy()), "b": to_device(b0.copy()), "c": to_device(c0.copy())}
    arrays = dict(params)
    ga, gb = rng.standard_normal(3), rng.standard_normal(2)
    opt = make()
    opt.step(params, {"a": to_device(ga), "b": to_device(gb)})
    for k in params:
        assert params[k] is arrays[k], f"{k} was replaced, not updated in place"
    np.testing.assert_array_equal(to_numpy(params["c"]), c0)          # no gradient: untouched
    assert "c" not in opt.state
    # each parameter moves as if it were alone: state is kept per name
    for name, p0, g in (("a", a0, ga), ("b", b0, gb)):
        alone = to_device(p0.copy())
        make().step({name: alone}, {name: to_device(g)})
        np.testing.assert_allclose(to_numpy(params[name]), to_numpy(alone), rtol=1e-14)


def test_adam_counts_steps_per_parameter(rng):
    """A parameter first updated at the third call still gets the bias correction of t = 1."""
    opt = optim.Adam(0.1, eps=TINY)
    a = to_device(rng.standard_normal(3))
    b0 = rng.standard_normal(3)
    b = to_device(b0.copy())
    for _ in range(2):
        opt.step({"a": a, "b": b}, {"a": to_device(rng.standard_normal(3))})
    gb = rng.standard_normal(3)
    opt.step({"a": a, "b": b}, {"a": to_device(rng.standard_normal(3)), "b": to_device(gb)})
    assert opt.state["a"]["t"] == 3 and opt.state["b"]["t"] == 1
    np.testing.assert_allclose(to_numpy(b), b0 - 0.1 * np.sign(gb), rtol=1e-12)


def test_a_changed_learning_rate_is_used_by_the_next_step(rng):
    """The schedules set ``opt.lr`` between steps; the next update must use the new value."""
    p0, g = rng.standard_normal(4), rng.standard_normal(4)
    w = to_device(p0.copy())
    opt = optim.Momentum(0.1, 0.5)
    opt.step({"W": w}, {"W": to_device(g)})                 # v = -0.1 g
    opt.lr = 0.01
    opt.step({"W": w}, {"W": to_device(g)})                 # v = -0.05 g - 0.01 g
    np.testing.assert_allclose(to_numpy(w), p0 - 0.1 * g - 0.06 * g, rtol=1e-13)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Momentum, optim.Adam])
@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_non_positive_learning_rate_is_rejected(cls, lr):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: lr must be a finite number > 0, got {lr}"):
        cls(lr=lr)


# ------------------------------------------------------------ schedules
def test_step_lr_default_gamma_and_resume():
    opt = optim.SGD(1.0)
    sched = optim.StepLR(opt, step_size=3)
    lrs = []
    for _ in range(7):
        sched.step(123.0)                                  # the loss is ignored
        lrs.append(opt.lr)
    assert lrs == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.1, 0.01, 0.01], rel=1e-12)
    # resuming after epoch 4: the next cut is still at epoch 6, not 3 epochs after the restart
    opt2 = optim.SGD(0.1)
    resumed = optim.StepLR(opt2, step_size=3)
    resumed.load_state_dict({"epoch": 4})
    assert resumed.state_dict() == {"epoch": 4}
    lrs2 = []
    for _ in range(3):
        resumed.step()
        lrs2.append(opt2.lr)
    assert lrs2 == pytest.approx([0.1, 0.01, 0.01], rel=1e-12)


def test_plateau_improvement_is_relative_to_the_threshold():
    """An epoch improves only when loss < best * (1 - threshold)."""
    opt = optim.SGD(1.0)
    sched = optim.ReduceLROnPlateau(opt, factor=2.0, patience=2, threshold=0.1)
    sched.step(10.0)                        # best 10
    sched.step(9.5)                         # 9.5 >= 9.0: not an improvement (1 bad)
    assert opt.lr == 1.0 and sched.best == 10.0 and sched.bad_epochs == 1
    sched.step(8.9)                         # 8.9 < 9.0: improves, resets the count
    assert sched.best == 8.9 and sched.bad_epochs == 0
    sched.step(8.5)                         # 8.5 >= 8.01: bad 1
    sched.step(8.2)                         # bad 2 -> lr / 2, count reset
    assert opt.lr == 0.5 and sched.bad_epochs == 0
    sched.step(8.1)                         # bad 1: the count restarted, no second cut yet
    assert opt.lr == 0.5
    sched.step(8.1)                         # bad 2 -> lr / 2
    assert opt.lr == 0.25


def test_plateau_stops_at_min_lr_and_resumes_from_its_state():
    opt = optim.SGD(1.0)
    sched = optim.ReduceLROnPlateau(opt, factor=10.0, patience=1, min_lr=0.005)
    sched.step(1.0)
    lrs = []
    for _ in range(4):
        sched.step(1.0)                     # never improves: a cut every epoch
        lrs.append(opt.lr)
    assert lrs == pytest.approx([0.1, 0.01, 0.005, 0.005], rel=1e-12)
    # state: a fresh schedule loaded with it behaves like the original
    a_opt, b_opt = optim.SGD(1.0), optim.SGD(1.0)
    a = optim.ReduceLROnPlateau(a_opt, factor=10.0, patience=3)
    for loss in (5.0, 4.0, 4.5, 4.2):
        a.step(loss)
    state = a.state_dict()
    assert state == {"best": 4.0, "bad_epochs": 2}
    b = optim.ReduceLROnPlateau(b_opt, factor=10.0, patience=3)
    b.load_state_dict(state)
    for sched, o in ((a, a_opt), (b, b_opt)):
        sched.step(4.1)                     # third bad epoch in a row: both cut now
        assert o.lr == pytest.approx(0.1)
