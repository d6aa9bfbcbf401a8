"""Conductance-weighted averaging (CWA): a dense layer built like a neuron's membrane.

Paper: "Learning high-dimensional perceptual tasks with Hodgkin-Huxley
networks", ICLR 2020 submission (``shared/papers/cwa-hodgkin-huxley-networks.txt``).

The idea (section 2). In the steady state of the Hodgkin-Huxley model, a
neuron's voltage is the average of the reversal ("zero-current") potentials
E_j of its open ion channels, each weighted by its conductance (equation 1).
CWA keeps that, scaled so that potentials lie in [-1, 1] (equation 3)::

    z_i = ( G_r e_r + sum_j h(g_ij) p_j e_j ) / ( G_r + sum_j h(g_ij) p_j )

- p_j in [0, 1]: activity (opening probability) of presynaptic neuron j, the input;
- g_ij: the trained, real-valued parameter; h(g) = max(1 + g, 0) turns it into
  a non-negative conductance G_ij (section 4.3, "Initialization"). This
  positive reparametrisation is how the paper keeps conductances >= 0, so no
  projection rule is needed at update time; its gradient is exact (1 where
  1 + g > 0, else 0: a conductance pushed to 0 stays there, as in the paper);
- e_j: the fixed valence of neuron j, -1 (inhibitory) or +1 (excitatory)
  (section 2.3: only two types are used);
- G_r = 1, e_r = -0.4: the resting ("leak") conductance and its potential, a
  bias node that is always on (p_r = 1) and never trained (section 4.3,
  "Bias Term"; e_r = -0.4 for fully connected nets, 0 for conv nets).

The output is a weighted average of the e's, so it always lies between the
smallest and the largest of them: z in [-1, 1] (section 2.3: "self-normalizing").
Networks put a ReLU after it (equation 4: p_i = max(z_i, 0) in [0, 1]) and a
final affine layer with softmax for classification (section 4.3).

Because each input neuron is either inhibitory or excitatory, the sum splits
into positive and negative evidence (equation 5). With the inputs ordered as
in the paper's code, inhibitory first (``x = [x_I, x_E]``, ``G = [G_I; G_E]``)::

    inh = x_I @ G_I                      (N, M)  conductance opened by inhibitory inputs
    exc = x_E @ G_E                      (N, M)  ... by excitatory inputs
    num = G_r e_r + exc - inh            (N, M)  sum of conductance * potential
    den = G_r + exc + inh                (N, M)  total conductance, N_i(p) + G_r (eq. 5)
    z   = num / den

which costs the same multiply-adds as one ``x @ W`` of a Linear layer (the
paper's code does two full products, ``(x * e) @ G`` and ``x @ G``). ``den``
is floored at 1e-6 as in the paper's code; for inputs p >= 0 it is >= G_r = 1,
so the floor never acts.

Backward, given dz (N, M), in the reverse order of the forward lines::

    dnum = dz / den                       z = num / den
    dden = -dz * num / den^2 = -dnum * z  (0 where the 1e-6 floor acted)
    dexc = dnum + dden                    exc enters num with +1 and den with +1
    dinh = -dnum + dden                   inh enters num with -1 and den with +1
    dG_I = x_I^T @ dinh,  dx_I = dinh @ G_I^T
    dG_E = x_E^T @ dexc,  dx_E = dexc @ G_E^T
    dg   = dG * [1 + g > 0]               h(g) = max(1 + g, 0)

Inputs must be activities in [0, 1] (the paper scales images to [-0.3, 1],
clips them to [0, 1] and feeds every pixel twice, once as an inhibitory and
once as an excitatory neuron: ``minigrad.data.cwa_scale_clip`` and
``minigrad.data.double_inputs``, with the default ``n_inhibitory = D // 2``).
A negative input breaks the bound: it can make ``den`` tiny or negative and z
huge (around 1e7 where den meets the 1e-6 floor). ``forward`` therefore refuses
inputs below 0 (``check_activities``: one ``min`` over the batch, cheap next to
the products); ``check_input_range=False`` skips it for speed.

Feedback alignment (beyond the paper, which asks for a way to fit CWA
without backprop, section 5): with ``feedback="fa"`` the conductance matrix's
role in dx, ``dx_I = dinh @ G_I^T`` and ``dx_E = dexc @ G_E^T``, is taken by a
fixed random non-negative matrix B (D, M), drawn once uniformly in [0, 2)
(``cwa_feedback_init``): non-negative like G, with the conductances' mean 1 at
initialisation, but random at order 1, so it carries no information about G.
Everything inside the layer (dnum, dden, the gradient of g) stays exact;
``dx_I = dinh @ B_I^T``, ``dx_E = dexc @ B_E^T``. The mechanism is the engine's
one (``Layer.feedback_of``, ``_init_feedback``, ``dx_weight``): the declared
weight is ``g``, and ``forward_weight("g")`` is G = h(g), the matrix B stands in for.

Kernels: one version of each pass (``forward``/``backward`` below), the
textbook code under both ``MINIGRAD_KERNELS`` settings.

The variants of section 4.4 live next door: ``absnorm.py`` (AbsNorm, signed
weights normalised by their absolute values) and ``cwa_lateral.py`` (CWA with
lateral inhibitory interneurons, unrolled over a few time steps).
"""
import numpy as np

from ..backend import make_rng, to_device, to_float, xp
from .base import Layer, check_arg

EPS = 1e-6      # floor of the total conductance, as in the paper's code (supplement 6.1)


def conductance(g):
    """h(g) = max(1 + g, 0): real-valued parameters -> non-negative conductances (section 4.3)."""
    return xp.maximum(1 + g, 0)


def cwa_feedback_init(shape, rng):
    """Fixed random non-negative feedback B for a CWA layer's dx: uniform in [0, 2), the
    mean (1) of the conductances at initialisation, random at order 1. Host float64 array."""
    return rng.uniform(0.0, 2.0, size=shape)


def check_activities(layer, x):
    """Raise ValueError unless every entry of x is >= 0 (activities p in [0, 1], section 2.3).

    One ``min`` over the batch; its single value is brought to the host (an explicit
    one-element sync, as ``float()`` is in CuPy). Values above 1 are allowed: the
    output bound z in [-1, 1] only needs p >= 0.

    Args:
        layer: the calling layer (its class name goes into the message).
        x: (N, ...) the layer's input.
    """
    if x.size == 0:
        return
    smallest = to_float(x.min())
    if not smallest >= 0:                       # also catches NaN
        raise ValueError(
            f"{type(layer).__name__}: inputs must be activities in [0, 1] (paper section 2.3), "
            f"got a smallest value of {smallest:.4g}; scale and clip them first "
            "(minigrad.data.cwa_scale_clip), or pass check_input_range=False to skip this check")


class ConductanceLayer(Layer):
    """What ``CWA`` and ``ConvCWA`` (conv_cwa.py) share: parameters g, conductances G = h(g), input valences e.

    Each subclass sets ``n_inhibitory`` and ``valence_axis``, the axis of g that runs
    over the inputs (D of the dense (D, M), C of the convolutional (F, C, HH, WW)),
    and writes its own forward and backward.
    """
    feedback_of = {"g": "B"}                 # B stands in for G = h(g) in dx (forward_weight)
    valence_axis = 0

    @property
    def valences(self):
        """e (D,) or (C,): -1 for the inhibitory inputs (the first ``n_inhibitory``), +1 for the others."""
        e = np.ones(self.params["g"].shape[self.valence_axis])
        e[:self.n_inhibitory] = -1.0
        return to_device(e, dtype=self.params["g"].dtype)

    def conductances(self):
        """G = h(g) = max(1 + g, 0), the shape of g: the non-negative synaptic conductances (sec. 4.3)."""
        return conductance(self.params["g"])

    def forward_weight(self, name):
        """G = h(g) for "g": what the feedback B stands in for (see ``Layer.forward_weight``)."""
        return self.conductances() if name == "g" else self.params[name]


class CWA(ConductanceLayer):
    """Dense conductance-weighted averaging layer (paper equations 3 and 5).

    Args:
        in_features: D, the number of presynaptic neurons.
        out_features: M, the number of CWA neurons.
        rng: numpy Generator or int seed for the initial g.
        dtype: parameter dtype (default the backend's float32).
        n_inhibitory: how many of the D inputs are inhibitory (valence -1); they
            are the first ones, the rest are excitatory (+1). Default D // 2,
            as in the paper's code.
        rest_conductance: G_r, the fixed resting conductance (paper: 1). Must be > 0.
        rest_potential: e_r, its fixed potential in [-1, 1] (paper: -0.4 for
            fully connected networks, 0 for convolutional ones).
        init_std: standard deviation of the initial g; default Glorot normal,
            sqrt(2 / (D + M)), so that the conductances start close to 1.
        check_input_range: if True (default), ``forward`` raises ValueError, naming
            the smallest value seen, when an input is below 0. The check costs one
            ``min`` and a one-element host sync per call; False skips it.
        feedback: "bp", or "fa": dx uses a fixed random non-negative B (D, M) in
            place of the conductances G (``cwa_feedback_init``); the gradient of g stays exact.

    Params: ``g`` (D, M), conductances G = max(1 + g, 0). Buffers: ``B`` (D, M) when feedback="fa".
    Shapes: forward x (N, D) -> z (N, M), z in [-1, 1] for x >= 0.
    ``needs_input_grad`` (default True): set False to skip dx, ``backward`` then
    returns None (``Trainer`` does so for the first layer while it trains).
    """
    needs_input_grad = True
    valence_axis = 0                         # g (D, M): one valence per input D

    def __init__(self, in_features, out_features, rng=None, dtype=None, n_inhibitory=None,
                 rest_conductance=1.0, rest_potential=-0.4, init_std=None, check_input_range=True,
                 feedback="bp"):
        super().__init__()
        in_features = check_arg(self, "in_features", in_features, 1, integer=True)
        out_features = check_arg(self, "out_features", out_features, 1, integer=True)
        if n_inhibitory is None:
            n_inhibitory = in_features // 2
        n_inhibitory = check_arg(self, "n_inhibitory", n_inhibitory, 0, in_features, integer=True)
        rest_conductance = check_arg(self, "rest_conductance", rest_conductance, 0, low_open=True)
        rest_potential = check_arg(self, "rest_potential", rest_potential, -1, 1)
        if init_std is not None:
            init_std = check_arg(self, "init_std", init_std, 0)
        rng = make_rng(rng)
        self.in_features, self.out_features = in_features, out_features
        self.n_inhibitory = int(n_inhibitory)
        self.check_input_range = bool(check_input_range)
        # Python floats: mixing them with float32 arrays keeps float32.
        self.rest_conductance, self.rest_potential = float(rest_conductance), float(rest_potential)
        std = np.sqrt(2.0 / (in_features + out_features)) if init_std is None else init_std
        self._init_param("g", std * rng.standard_normal((in_features, out_features)), dtype)
        self._init_feedback(feedback, rng, lambda fb_rng: {"g": cwa_feedback_init((in_features, out_features),
                                                                                fb_rng)})

    def forward(self, x):
        """x: (N, D) activities in [0, 1] -> z: (N, M) in [-1, 1]."""
        D = self.in_features
        self._check_input(x, 2, f"(N, D) with D={D}", sizes={1: D})
        if self.check_input_range:
            check_activities(self, x)            # p_j in [0, 1], sec. 2.3: else z leaves [-1, 1]
        ni, Gr, er = self.n_inhibitory, self.rest_conductance, self.rest_potential
        G = self.conductances()                  # (D, M)  G_ij = h(g_ij) = (1 + g_ij)_+, sec. 4.3
        x_I, x_E = x[:, :ni], x[:, ni:]          # (N, ni), (N, D-ni)  inputs with e_j = -1, +1
        inh = x_I @ G[:ni]                       # (N, M)  sum_{j negative} p_j h(g_ij), eq. 5
        exc = x_E @ G[ni:]                       # (N, M)  sum_{j positive} p_j h(g_ij), eq. 5
        num = Gr * er + exc - inh                # (N, M)  G_r e_r + sum_j h(g_ij) p_j e_j, eq. 3
        den = xp.maximum(Gr + exc + inh, EPS)    # (N, M)  G_r + N_i(p), floored as in sec. 6.1
        z = num / den                            # (N, M)  eq. 3 / eq. 5
        self.x, self.G, self.den, self.z = x, G, den, z
        return z

    def backward(self, dz):
        """dz: (N, M) -> dx: (N, D); fills grads g (D, M)."""
        x, G, den, z, ni = self.x, self.G, self.den, self.z, self.n_inhibitory
        x_I, x_E = x[:, :ni], x[:, ni:]
        dnum = dz / den                          # z = num / den
        dden = xp.where(den > EPS, -dnum * z, 0)  # d(num/den)/dden = -num/den^2 = -z/den
        dexc = dnum + dden                       # exc: +1 in num, +1 in den
        dinh = dden - dnum                       # inh: -1 in num, +1 in den
        dG = xp.empty_like(G)
        dG[:ni] = x_I.T @ dinh                   # inh = x_I @ G_I
        dG[ni:] = x_E.T @ dexc                   # exc = x_E @ G_E
        self.grads["g"] = xp.where(G > 0, dG, 0)  # G = max(1 + g, 0): slope 1 above 0, else 0
        if not self.needs_input_grad:
            return None
        back = self.dx_weight("g")               # G = h(g) for backprop, the fixed B for FA
        return xp.concatenate([dinh @ back[:ni].T, dexc @ back[ni:].T], axis=1)   # (N, D)
