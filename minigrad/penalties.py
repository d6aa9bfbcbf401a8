"""Penalties: terms added to the loss that depend on the parameters only.

Every penalty is a small named object with two methods::

    p = SatAbsSeparation(exc="1.We", inh="1.Wi", beta=1e-2)
    p.keys                      # the parameter names it reads: ("1.We", "1.Wi")
    p.value(model.params)       # 0-d array of the active backend: the term added to the loss
    p.grad(model.params)        # dict name -> array (same shape as the parameter): its gradient

``value`` never syncs to the host (it returns a 0-d backend array, like the
losses); ``grad`` returns fresh arrays only for the names the penalty reads, to
be added to the layers' gradients before the optimizer step. The Trainer is the
one place that applies them (``Trainer(..., penalties=[L1(1e-3, keys=("Wa", "We",
"Wi", "W")), SatExpSeparation("0.We", "0.Wi", beta)])``), every step::

    loss = data_loss + sum(p.value(params) for p in penalties)     # the loss it reports
    for p in penalties:
        for name, g in p.grad(params).items():
            grads[name] = grads[name] + g                          # before the rules' before_step

A penalty's constructor arguments, kept as attributes of the same name, enter
the resume fingerprint (resuming with another beta is refused).

Here: the L1 and L2 weight penalties (the engine's ``nn.l1_penalty`` /
``nn.l2_penalty`` as objects) and the four excitatory/inhibitory weight
separation penalties of the laterally connected CNN paper ("Incorporating
visual cortical lateral connection properties into CNN", section 3.2,
equations 7-11; ``shared/papers/lateral-connections-cnn.txt``).

The paper's equations 7-11 did not survive text extraction; the forms below are
derived from its prose, quoted in each class. Notation: W_E and W_I are the
lateral weights of the excitatory and inhibitory paths (any shape), E[W] the
mean over all of their entries (n_E and n_I of them), beta > 0 the strength.
All four are *minimised* with the loss, so each is minus a measure of separation:

=========== =================================================  ==============
name        penalty                                             paper
=========== =================================================  ==============
ABS         -beta |E[W_E] - E[W_I]|                              eq. 7
SAT-ABS     -beta |tanh(E[W_E]) - tanh(E[W_I])|                  eq. 8
EXP-SAT     -beta (tanh(E[W_E]) - tanh(E[W_I]))                  eq. 9
SAT-EXP     -beta (E[tanh(W_E)] - E[tanh(W_I)])                  eq. 10
L1          lam sum_k sum |W_k|,  lam = 1e-3 in the paper        eq. 4, 11
=========== =================================================  ==============

The whole loss is then (eq. 11) CE(y, y_hat) + lam sum |W| + P, P one of the four.
"""
from .backend import xp
from .nn.losses import l1_penalty, l2_penalty


class Penalty:
    """Protocol: ``keys`` (names read), ``value(params)`` -> 0-d array, ``grad(params)`` -> dict."""
    name = "penalty"
    keys = ()

    def value(self, params):
        raise NotImplementedError

    def grad(self, params):
        raise NotImplementedError

    def _get(self, params, key):
        if key not in params:
            raise KeyError(f"{self.name}: no parameter named {key!r}; the model has {sorted(params)}")
        return params[key]

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


# ----------------------------------------------------------------- weight penalties
class L1(Penalty):
    """L1 weight penalty ``lam * sum |W|`` over the named weights (paper eq. 4 and 11, lam = 1e-3).

    "For all experiments, we used L1 regularization on the weights ... (lambda = 1e-3
    across all experiments)" (section 3.3). Its gradient is lam * sign(W), with sign(0) = 0.

    Args:
        lam: strength (default the paper's 1e-3).
        keys: a parameter is penalised when its name after the last "." is in ``keys``
            (as ``nn.l1_penalty``), e.g. ("Wa", "Wl") for a lateral block's two kernels.
    Reads: every parameter whose short name is in ``keys``.
    """
    name = "L1"

    def __init__(self, lam=1e-3, keys=("W",)):
        self.lam, self.keys = float(lam), tuple(keys)

    def value(self, params):
        return xp.asarray(l1_penalty(params, self.lam, self.keys)[0])

    def grad(self, params):
        return l1_penalty(params, self.lam, self.keys)[1]


class L2(Penalty):
    """L2 weight penalty (weight decay) ``0.5 * lam * sum W^2`` over the named weights.

    Args and reads: as ``L1``; gradient lam * W.
    """
    name = "L2"

    def __init__(self, lam, keys=("W",)):
        self.lam, self.keys = float(lam), tuple(keys)

    def value(self, params):
        return xp.asarray(l2_penalty(params, self.lam, self.keys)[0])

    def grad(self, params):
        return l2_penalty(params, self.lam, self.keys)[1]


# ----------------------------------------------------------------- E/I separation penalties
class _Separation(Penalty):
    """Shared constructor: ``exc`` and ``inh`` are the full names of the two lateral weights in
    ``params`` (e.g. "1.We" and "1.Wi" in a Sequential); ``beta`` > 0 the strength.

    Reads: exactly ``(exc, inh)``.
    """

    def __init__(self, exc, inh, beta):
        if exc == inh:
            raise ValueError(f"{self.name}: exc and inh must name two different parameters, got {exc!r} twice")
        if not beta >= 0:
            raise ValueError(f"{self.name}: beta must be >= 0, got {beta}")
        self.exc, self.inh, self.beta = exc, inh, float(beta)
        self.keys = (exc, inh)

    def _pair(self, params):
        return self._get(params, self.exc), self._get(params, self.inh)


class AbsSeparation(_Separation):
    """ABS (paper eq. 7):  P = -beta |E[W_E] - E[W_I]|.

    "we start by calculating the mean of W_E and W_I. We then compute the absolute
    difference between these two values and subsequently negate it." Either path may end
    up positive ("We can simply relabel EXC and INH"). With d = E[W_E] - E[W_I]::

        dP/dW_E = -beta sign(d) / n_E        (every entry of W_E)
        dP/dW_I = +beta sign(d) / n_I

    At d = 0 sign(0) = 0 (the centre of the subgradient). Unbounded: minimising it drives the
    means apart without limit, the problem the paper's next three forms fix.
    """
    name = "ABS"

    def value(self, params):
        We, Wi = self._pair(params)
        return -self.beta * xp.abs(We.mean() - Wi.mean())

    def grad(self, params):
        We, Wi = self._pair(params)
        s = xp.sign(We.mean() - Wi.mean())
        return {self.exc: xp.ones_like(We) * (-self.beta * s / We.size),
                self.inh: xp.ones_like(Wi) * (self.beta * s / Wi.size)}


class SatAbsSeparation(_Separation):
    """SAT-ABS (paper eq. 8):  P = -beta |tanh(E[W_E]) - tanh(E[W_I])|.

    "we introduce a saturation mechanism using the tanh function. Again, the label EXC/INH
    can be interchanged". We saturate each mean before the difference (rather than
    tanh|d|): the paper's eq. 9 is described as this equation with the absolute value
    dropped and "each weight [establishing] separation independently", which is
    -beta (tanh E[W_E] - tanh E[W_I]), so eq. 8 is that inside |.|. With
    d = tanh(m_E) - tanh(m_I), m = E[W]::

        dP/dW_E = -beta sign(d) (1 - tanh^2 m_E) / n_E
        dP/dW_I = +beta sign(d) (1 - tanh^2 m_I) / n_I           (sign(0) = 0)

    Bounded below by -2 beta: the push fades as the means grow.
    """
    name = "SAT-ABS"

    def value(self, params):
        We, Wi = self._pair(params)
        return -self.beta * xp.abs(xp.tanh(We.mean()) - xp.tanh(Wi.mean()))

    def grad(self, params):
        We, Wi = self._pair(params)
        tE, tI = xp.tanh(We.mean()), xp.tanh(Wi.mean())
        s = xp.sign(tE - tI)
        return {self.exc: xp.ones_like(We) * (-self.beta * s * (1 - tE * tE) / We.size),
                self.inh: xp.ones_like(Wi) * (self.beta * s * (1 - tI * tI) / Wi.size)}


class ExpSatSeparation(_Separation):
    """EXP-SAT (paper eq. 9):  P = -beta (tanh(E[W_E]) + tanh(-E[W_I])) = -beta (tanh E[W_E] - tanh E[W_I]).

    "we dropped the absolute value function in our penalty term ... our redesigned penalty
    term allows each weight to establish weight separation independently. ... the weight
    labels (EXC/INH) cannot be interchanged since we apply negation to W_I". Expectation
    first, then saturation (EXP, SAT)::

        dP/dW_E = -beta (1 - tanh^2 E[W_E]) / n_E,   dP/dW_I = +beta (1 - tanh^2 E[W_I]) / n_I

    W_E is pushed up and W_I down, each on its own; bounded below by -2 beta.
    """
    name = "EXP-SAT"

    def value(self, params):
        We, Wi = self._pair(params)
        return -self.beta * (xp.tanh(We.mean()) - xp.tanh(Wi.mean()))

    def grad(self, params):
        We, Wi = self._pair(params)
        tE, tI = xp.tanh(We.mean()), xp.tanh(Wi.mean())
        return {self.exc: xp.ones_like(We) * (-self.beta * (1 - tE * tE) / We.size),
                self.inh: xp.ones_like(Wi) * (self.beta * (1 - tI * tI) / Wi.size)}


class SatExpSeparation(_Separation):
    """SAT-EXP (paper eq. 10):  P = -beta (E[tanh(W_E)] - E[tanh(W_I)]).

    "we switched the order of applying the expected value operator and the tanh function
    because their sequence may impact weights during training": tanh on each weight, then
    the mean. Each weight gets its own saturating push::

        dP/dW_E = -beta (1 - tanh^2 W_E) / n_E,   dP/dW_I = +beta (1 - tanh^2 W_I) / n_I   (elementwise)
    """
    name = "SAT-EXP"

    def value(self, params):
        We, Wi = self._pair(params)
        return -self.beta * (xp.tanh(We).mean() - xp.tanh(Wi).mean())

    def grad(self, params):
        We, Wi = self._pair(params)
        tE, tI = xp.tanh(We), xp.tanh(Wi)
        return {self.exc: -self.beta * (1 - tE * tE) / We.size,
                self.inh: self.beta * (1 - tI * tI) / Wi.size}


SEPARATION_PENALTIES = {cls.name: cls for cls in (AbsSeparation, SatAbsSeparation, ExpSatSeparation,
                                                   SatExpSeparation)}


def separation_penalty(kind, exc, inh, beta):
    """The separation penalty named ``kind`` ("ABS", "SAT-ABS", "EXP-SAT" or "SAT-EXP", paper
    table 2), reading the parameters named ``exc`` and ``inh``, with strength ``beta``."""
    if kind not in SEPARATION_PENALTIES:
        raise ValueError(f"separation_penalty: unknown kind {kind!r}; valid kinds are: "
                         + ", ".join(SEPARATION_PENALTIES))
    return SEPARATION_PENALTIES[kind](exc, inh, beta)
