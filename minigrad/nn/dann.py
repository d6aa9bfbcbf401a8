"""Dale's ANN (DANN) dense layer and the column-constrained (ColumnEi) baseline.

Cornford et al., "Learning to live with Dale's principle: ANNs with separate
excitatory and inhibitory units", ICLR 2021 (``shared/papers/dann-dales-principle.txt``).

Dale's principle: a neuron is either excitatory or inhibitory; all its
outgoing synapses have one sign. A DANN layer keeps every weight non-negative
and gets inhibition from a small population of *feedforward inhibitory*
interneurons that read the same input as the excitatory units (paper
section 2.1, figure 1). Orientation follows the paper: rows are output units.

Forward, equation 1, for a batch x (N, d) of non-negative inputs::

    zE    = x Wee^T                      (N, ne)  excitatory drive
    zI    = x Wie^T                      (N, ni)  inhibitory units (linear: hI = zI)
    s     = zI Wei^T                     (N, ne)  subtractive inhibition  (Wei hI)
    gamma = (zI * exp(alpha)) Wei^T + eps (N, ne) divisive inhibition     Wei (e^alpha . hI)
    u     = zE - s                       (N, ne)  centred excitation
    z     = g * u / gamma + b            (N, ne)

eps = 1e-8 (as in the authors' code) keeps gamma > 0 when the projection has
driven a whole inhibitory pathway to zero. Hidden layers put a ReLU after
``z``; the output layer (one inhibitory unit) feeds ``z`` to the softmax.

Backward (appendix E.2 gives the same derivatives element by element), given
dz (N, ne), in the reverse order of the forward lines (r = u / gamma)::

    db     = sum_n dz,   dg = sum_n dz * r,   dr = dz * g
    du     = dr / gamma
    dgamma = -dr * u / gamma^2 = -du * r
    dzE    = du,   ds = -du
    dWei   = ds^T zI + dgamma^T (zI * e^alpha)    (ne, ni)  Wei is used twice
    dzIe   = dgamma Wei                            (N, ni)   gradient of zI * e^alpha
    dalpha = sum_n dzIe * zI * e^alpha
    dzI    = ds Wei + dzIe * e^alpha
    dWee   = dzE^T x,   dWie = dzI^T x
    dx     = dzE Wee + dzI Wie

The part from x to r is one "E/I block" (``dann_block_forward`` /
``dann_block_backward``), shared with the convolutional layer (applied to
image patches) and the recurrent one (one block for the input, one for the
recurrence).

Initialisation (section 3, appendices C.2, D.1, algorithm 1), with
lambda_E = sqrt(d (2 pi - 1)) / sqrt(2 pi)::

    Wee ~ Exp(lambda_E)            mean = std = 1 / lambda_E
    ni > 1:  Wie ~ Exp(lambda_E),  Wei = 1 / ni
    ni = 1:  Wie = mean of the rows of Wee,  Wei = 1
    alpha = log(sqrt(2 pi - 1) / sqrt(d)),  g = 1,  b = 0

so that, for rectified-normal inputs, subtractive inhibition cancels the mean
of zE and divisive inhibition divides by its standard deviation: z starts
centred with the input's variance (like layer normalisation, appendix D).

Feedback alignment (beyond the paper): with ``feedback="fa"`` the two
products that carry error to the layer below, ``dzE Wee`` and ``dzI Wie``,
use fixed random non-negative matrices ``Bee`` (ne, d) and ``Bie`` (ni, d)
drawn once by the same rule as Wee and Wie (so feedback, too, obeys Dale's
principle). Everything inside the layer (Wei, alpha, g, b, Wee, Wie
gradients) stays exact; ``dx = dzE Bee + dzI Bie``.

Per-example gradients (for the Fisher correction of ``minigrad/dale.py``):
every weight gradient above is a sum over the batch of per-example outer
products, e.g. dWee = sum_n dzE[n]^T x[n]; ``DANN.per_example_sq_grads``,
right after ``DANN.backward``, gives sum_n (per-example gradient)^2 for every
parameter from the same intermediate gradients.

Kernels: this file has one version of each pass (``dann_block_forward``,
``dann_block_backward``), the textbook code under both ``MINIGRAD_KERNELS``
settings.

The update rules that make DANNs learn well (gradient corrections, projection
to non-negative weights) are *not* here: they are rule objects in
``minigrad/dale.py``, applied by the Trainer. Layers only describe their
excitatory/inhibitory blocks in ``dale_groups`` for those rules.
"""
import numpy as np

from ..backend import make_rng, xp
from .base import Layer, check_arg

EPS = 1e-8            # added to gamma (authors' code) so a zero inhibitory pathway cannot divide by 0


def dann_init(ne, ni, d, rng):
    """Host-side initial values of one DANN block (algorithm 1), float64 NumPy arrays.

    Args:
        ne, ni: numbers of excitatory and inhibitory output units.
        d: fan-in (input features; k*k*C for a convolution).
        rng: numpy Generator.
    Returns:
        dict Wee (ne, d), Wie (ni, d), Wei (ne, ni), alpha (ni,), g (ne,), b (ne,).
    """
    if ne < 1 or ni < 1 or d < 1:
        raise ValueError(f"DANN: need at least one excitatory unit, one inhibitory unit and one "
                         f"input, got ne={ne}, ni={ni}, d={d}")
    lam = np.sqrt(d * (2 * np.pi - 1)) / np.sqrt(2 * np.pi)     # lambda_E (appendix D.1)
    Wee = rng.exponential(1 / lam, size=(ne, d))                 # numpy's scale = 1 / rate
    if ni == 1:
        Wie = Wee.mean(axis=0, keepdims=True)                    # exact balance with one unit
        Wei = np.ones((ne, 1))
    else:
        Wie = rng.exponential(1 / lam, size=(ni, d))
        Wei = np.full((ne, ni), 1.0 / ni)
    alpha = np.full(ni, np.log(np.sqrt(2 * np.pi - 1) / np.sqrt(d)))
    return {"Wee": Wee, "Wie": Wie, "Wei": Wei, "alpha": alpha, "g": np.ones(ne), "b": np.zeros(ne)}


def dann_feedback_init(ne, ni, d, rng):
    """Fixed non-negative feedback matrices Bee (ne, d), Bie (ni, d) for feedback alignment,
    drawn like Wee and Wie (algorithm 1) from ``rng``."""
    init = dann_init(ne, ni, d, rng)
    return init["Wee"], init["Wie"]


def dann_block_forward(x, Wee, Wie, Wei, alpha):
    """The inhibition-normalised drive r of one E/I block (equation 1 without g and b).

    Args:
        x: (R, d) non-negative rows (a batch, a batch x positions, one time step).
        Wee (ne, d), Wie (ni, d), Wei (ne, ni), alpha (ni,).
    Returns:
        r: (R, ne) = (zE - Wei hI) / gamma, and the cache ``dann_block_backward`` needs.
    """
    zE = x @ Wee.T                                   # eq. 1: zE = Wee h^{l-1}
    zI = x @ Wie.T                                   # eq. 1: hI = zI = Wie h^{l-1} (linear units)
    e_alpha = xp.exp(alpha)                          # (ni,)
    zIe = zI * e_alpha                               # e^alpha . hI
    s = zI @ Wei.T                                   # subtractive inhibition  Wei hI
    gamma = zIe @ Wei.T + EPS                        # divisive inhibition     Wei (e^alpha . hI)
    u = zE - s
    r = u / gamma
    return r, dict(x=x, zI=zI, zIe=zIe, e_alpha=e_alpha, u=u, gamma=gamma, r=r)


def dann_block_backward(dr, cache, Wei, Fe=None, Fi=None):
    """Exact gradient of ``dann_block_forward`` (appendix E.2), given dr (R, ne).

    Args:
        dr: (R, ne) gradient of r; cache: from ``dann_block_forward``; Wei (ne, ni).
        Fe (ne, d), Fi (ni, d): the matrices that carry the error to x, Wee and Wie
            for backprop or the fixed feedback Bee and Bie for FA (the layer's
            ``dx_weight``); None: dx is not computed.
    Returns:
        grads: dict Wee (ne, d), Wie (ni, d), Wei (ne, ni), alpha (ni,);
        dx: (R, d) or None. The cache gains the intermediate gradients dzE (R, ne),
        dzI (R, ni), ds, dgamma, dzIe (for per-example statistics and for the
        convolution, which carries dzE, dzI back to the image itself).
    """
    x, zI, zIe, u, gamma, r = (cache[k] for k in ("x", "zI", "zIe", "u", "gamma", "r"))
    du = dr / gamma                                  # r = u / gamma
    dgamma = -du * r                                 # d(u/gamma)/dgamma = -u/gamma^2
    dzE, ds = du, -du                                # u = zE - s
    dzIe = dgamma @ Wei                              # (R, ni): gamma = zIe Wei^T
    dzI = ds @ Wei + dzIe * cache["e_alpha"]         # zI feeds s and zIe
    grads = {
        "Wee": dzE.T @ x,
        "Wie": dzI.T @ x,
        "Wei": ds.T @ zI + dgamma.T @ zIe,           # Wei is used twice: in s and in gamma
        "alpha": (dzIe * zIe).sum(axis=0),           # d(zI e^alpha)/dalpha = zI e^alpha
    }
    cache.update(dzE=dzE, dzI=dzI, ds=ds, dgamma=dgamma, dzIe=dzIe)
    if Fe is None:
        return grads, None
    return grads, dzE @ Fe + dzI @ Fi                # dx = dzE Wee + dzI Wie (Bee, Bie for FA)


class DANN(Layer):
    """Dale's ANN dense layer: non-negative weights, feedforward inhibition (equation 1).

    Args:
        in_features: d, the number of (non-negative, excitatory) inputs.
        n_excitatory: ne, the output units (only excitatory units project onward).
        n_inhibitory: ni, the inhibitory interneurons of this layer (1 at the output).
        rng: numpy Generator or int seed for the initial weights (and B).
        feedback: "bp" or "fa" (fixed non-negative Bee, Bie in the backward pass).
        dtype: parameter dtype (default float32).

    Params: ``Wee`` (ne, d), ``Wie`` (ni, d), ``Wei`` (ne, ni), ``alpha`` (ni,),
    ``g`` (ne,), ``b`` (ne,). Buffers: ``Bee`` (ne, d), ``Bie`` (ni, d) when
    feedback="fa". Input x (N, d), output z (N, ne).
    ``needs_input_grad`` (default True): set False to skip dx, ``backward`` then
    returns None (``Trainer`` does so for the first layer while it trains).
    """
    needs_input_grad = True
    feedback_of = {"Wee": "Bee", "Wie": "Bie"}

    def __init__(self, in_features, n_excitatory, n_inhibitory, rng=None, feedback="bp", dtype=None):
        super().__init__()
        rng = make_rng(rng)
        self.in_features, self.ne, self.ni = (check_arg(self, name, v, 1, integer=True) for name, v in (
            ("in_features", in_features), ("n_excitatory", n_excitatory), ("n_inhibitory", n_inhibitory)))
        for name, value in dann_init(self.ne, self.ni, self.in_features, rng).items():
            self._init_param(name, value, dtype)
        self._init_feedback(feedback, rng, lambda fb_rng: dict(
            zip(("Wee", "Wie"), dann_feedback_init(self.ne, self.ni, self.in_features, fb_rng))))
        # the excitatory/inhibitory block, for the rules in minigrad/dale.py
        self.dale_groups = [dict(ne=self.ne, ni=self.ni, d=self.in_features, Wee="Wee", Wie="Wie",
                                 Wei="Wei", alpha="alpha", g="g")]

    def forward(self, x):
        """x: (N, d) non-negative -> z: (N, ne)."""
        self._check_input(x, 2, f"(N, d) with d={self.in_features}", sizes={1: self.in_features})
        p = self.params
        r, self.cache = dann_block_forward(x, p["Wee"], p["Wie"], p["Wei"], p["alpha"])
        return p["g"] * r + p["b"]                   # eq. 1: z = g/gamma . (zE - Wei hI) + b

    def backward(self, dz):
        """dz: (N, ne) -> dx: (N, d) (None when ``needs_input_grad`` is False); fills grads
        of every parameter."""
        p, r = self.params, self.cache["r"]
        self.grads["b"] = dz.sum(axis=0)
        self.grads["g"] = (dz * r).sum(axis=0)
        dr = dz * p["g"]
        F = (self.dx_weight("Wee"), self.dx_weight("Wie")) if self.needs_input_grad else (None, None)
        grads, dx = dann_block_backward(dr, self.cache, p["Wei"], *F)
        self.grads.update(grads)
        self.cache["dz"] = dz                        # for per_example_sq_grads
        return dx

    def per_example_sq_grads(self):
        """Sum over the batch of the *squared per-example* gradients, from the last
        forward and backward pass (what the Fisher correction of ``minigrad/dale.py`` needs).

        The per-example form of ``backward``: for example n, dWee_n = dzE[n]^T x[n],
        so sum_n (dWee_n)^2 = (dzE^2)^T (x^2) is one matrix product (likewise Wie);
        Wei is used twice (s and gamma), so its per-example gradient
        ds[n]^T zI[n] + dgamma[n]^T zIe[n] squares into three products; dalpha_n =
        dzIe[n] * zIe[n], dg_n = dz[n] * r[n], db_n = dz[n].

        Returns:
            dict parameter name -> array of the parameter's shape.
        """
        c = self.cache
        x2 = c["x"] * c["x"]                                       # (N, d)
        zI, zIe, ds, dgamma = c["zI"], c["zIe"], c["ds"], c["dgamma"]
        dalpha_n = c["dzIe"] * zIe                                 # (N, ni) per-example dalpha
        dg_n = c["dz"] * c["r"]                                    # (N, ne) per-example dg
        return {
            "Wee": (c["dzE"] * c["dzE"]).T @ x2,
            "Wie": (c["dzI"] * c["dzI"]).T @ x2,
            "Wei": (ds * ds).T @ (zI * zI) + 2 * (ds * dgamma).T @ (zI * zIe) + (dgamma * dgamma).T @ (zIe * zIe),
            "alpha": (dalpha_n * dalpha_n).sum(axis=0),
            "g": (dg_n * dg_n).sum(axis=0),
            "b": (c["dz"] * c["dz"]).sum(axis=0),
        }

    def effective_weight(self):
        """The affine part of the layer, Wee - Wei Wie (ne, d): z = g (W_eff x) / gamma + b."""
        return self.params["Wee"] - self.params["Wei"] @ self.params["Wie"]


def columnei_init(d, n_inhibitory_in, out_features, rng, input_mean=None):
    """Host-side initial W (M, d) and b (M,) of a ColumnEi layer (appendix C.1).

    Weights are exponential draws; with ne_in excitatory and ni_in inhibitory
    inputs, E[w+] = 1 / sqrt((2 pi - 1)/(2 pi) (ne_in + ne_in^2 / ni_in)) and
    E[w-] = E[w+] ne_in / ni_in centre the output and keep its variance for
    rectified-normal inputs (eqs. 22-24). A layer with only excitatory inputs
    (the first) drops the ni_in term and centres with its bias,
    b = -ne_in E[w+] E[x] (eq. 25), where ``input_mean`` is E[x] (default
    1/sqrt(2 pi), a rectified standard normal; pass the data's mean pixel for
    the first layer).
    """
    ni = int(n_inhibitory_in)
    ne = d - ni
    if ne < 1 or ni < 0:
        raise ValueError(f"ColumnEi: need 0 <= n_inhibitory_in < in_features, got {ni} of {d}")
    c = (2 * np.pi - 1) / (2 * np.pi)
    mean_e = 1 / np.sqrt(c * (ne + (ne ** 2 / ni if ni else 0.0)))
    W = np.empty((out_features, d))
    W[:, :ne] = rng.exponential(mean_e, size=(out_features, ne))
    b = np.zeros(out_features)
    if ni:
        W[:, ne:] = -rng.exponential(mean_e * ne / ni, size=(out_features, ni))
    else:
        Ex = 1 / np.sqrt(2 * np.pi) if input_mean is None else input_mean
        b[:] = -ne * mean_e * Ex
    return W, b


class ColumnEi(Layer):
    """Column-constrained E/I layer (Song et al. 2016; paper section 5.1, appendix C.1).

    ``z = x W^T + b`` where the columns of W that read excitatory inputs (the
    first ``in_features - n_inhibitory_in``) are >= 0 and those that read
    inhibitory inputs (the last ``n_inhibitory_in``) are <= 0. The signs are
    kept by ``minigrad.dale.DaleProjection`` after every step.

    Args:
        in_features: d = ne_in + ni_in.
        out_features: M (e.g. 550 = 500 E + 50 I in the paper's hidden layers).
        n_inhibitory_in: ni_in, inhibitory inputs (0 for the first layer).
        rng: numpy Generator or int seed.
        input_mean: E[x] used to centre a layer with only excitatory inputs.
        dtype: parameter dtype (default float32).

    Params: ``W`` (M, d), ``b`` (M,). Input x (N, d), output (N, M).
    ``needs_input_grad`` (default True): set False to skip dx, ``backward`` then
    returns None (``Trainer`` does so for the first layer while it trains).
    """
    needs_input_grad = True

    def __init__(self, in_features, out_features, n_inhibitory_in=0, rng=None, input_mean=None,
                 dtype=None):
        super().__init__()
        rng = make_rng(rng)
        self.in_features = check_arg(self, "in_features", in_features, 1, integer=True)
        self.out_features = check_arg(self, "out_features", out_features, 1, integer=True)
        self.n_inhibitory_in = check_arg(self, "n_inhibitory_in", n_inhibitory_in, 0, self.in_features - 1,
                                         integer=True)
        if input_mean is not None:
            input_mean = check_arg(self, "input_mean", input_mean)
        self.n_excitatory_in = self.in_features - self.n_inhibitory_in
        W, b = columnei_init(self.in_features, self.n_inhibitory_in, self.out_features, rng, input_mean)
        self._init_param("W", W, dtype)
        self._init_param("b", b, dtype)

    def forward(self, x):
        """x: (N, d) -> z: (N, M)."""
        self._check_input(x, 2, f"(N, d) with d={self.in_features}", sizes={1: self.in_features})
        self.x = x
        return x @ self.params["W"].T + self.params["b"]

    def backward(self, dz):
        """dz: (N, M) -> dx: (N, d); fills grads W (M, d), b (M,)."""
        self.grads["W"] = dz.T @ self.x
        self.grads["b"] = dz.sum(axis=0)
        if not self.needs_input_grad:
            return None
        return dz @ self.params["W"]
