"""AbsNorm: an affine layer divided by its absolute-value weighted input (CWA ablation).

Paper: "Learning high-dimensional perceptual tasks with Hodgkin-Huxley
networks", ICLR 2020 submission, section 4.4
(``shared/papers/cwa-hodgkin-huxley-networks.txt``).

The idea. CWA (``cwa.py``, equation 3) gives every *presynaptic neuron* a
valence e_j = +-1 and every synapse a non-negative conductance G_ij. Section 4.4
moves the valence onto the *synapse*: W_ij = G_ij e_ij, so |W_ij| = G_ij, and
equation 3 becomes (the paper's AbsNorm equation, unnumbered)::

    z_i = sum_j W_ij p_j / sum_j |W_ij| p_j

"equation 2 [the affine map] with divisive norming based on the absolute value
of the weights". Like CWA's resting conductance, a fixed G_r > 0 is added to
the denominator so that it stays away from 0 (the paper's formula has none; an
input with no activity would give 0 / 0)::

    z = (p @ W) / (G_r + p @ |W|)                       (N, M)

For p >= 0, |p @ W| <= p @ |W| < G_r + p @ |W|, so z in (-1, 1) ("As with CWA,
it forces z_i in [-1, 1], so that applying a ReLU afterwards results in
p_i in [0, 1]"). The ablation tests whether CWA's split of *neurons* into
excitatory and inhibitory matters: AbsNorm keeps the divisive averaging but lets
each synapse choose its sign (the paper: about 2% lower test accuracy on
CIFAR-10, table 2).

Forward, line by line (shapes: x (N, D), W (D, M))::

    A   = |W|                    (D, M)  conductances G_ij = |W_ij|
    num = x @ W                  (N, M)  sum_j W_ij p_j
    den = G_r + x @ A            (N, M)  G_r + sum_j |W_ij| p_j
    z   = num / den              (N, M)

Backward, given dz (N, M), the lines in reverse::

    dnum = dz / den                         z = num / den
    dden = -dz * num / den^2 = -dnum * z
    dA   = x^T @ dden,    dx  = dden @ A^T    den = G_r + x @ A
    dW   = x^T @ dnum,    dx += dnum @ W^T    num = x @ W
    dW  += dA * sign(W)                        A = |W|

The sign convention at W_ij = 0: d|w|/dw is taken as sign(0) = 0, the middle
of the subgradient [-1, 1] of |w| at 0, which is also what a centred finite
difference gives there ((|h| - |-h|) / 2h = 0). A weight that is exactly 0
then gets only the numerator's gradient ``x^T @ dnum`` and leaves 0 at the
next step, so learning is not stuck there.
"""
import numpy as np

from ..backend import make_rng, xp
from .base import Layer
from .cwa import check_activities


class AbsNorm(Layer):
    """Dense AbsNorm layer: signed weights, normalised by their absolute values (section 4.4).

    Args:
        in_features: D, the number of presynaptic neurons.
        out_features: M, the number of AbsNorm neurons.
        rest_conductance: G_r > 0, the fixed term that keeps the denominator >= G_r.
        rng: numpy Generator or int seed for the initial W.
        dtype: parameter dtype (default the backend's float32).
        init_std: standard deviation of the initial W; default Glorot normal sqrt(2 / (D + M)).
        check_input_range: if True (default), ``forward`` refuses inputs below 0 (the
            bound z in [-1, 1] needs p >= 0), naming the smallest value seen.

    Params: ``W`` (D, M), signed weights.
    Shapes: forward x (N, D) -> z (N, M), z in (-1, 1) for x >= 0.
    ``needs_input_grad`` (default True): set False to skip dx; ``backward`` then returns None.
    """
    needs_input_grad = True

    def __init__(self, in_features, out_features, rest_conductance=1.0, rng=None, dtype=None,
                 init_std=None, check_input_range=True):
        super().__init__()
        if not rest_conductance > 0:
            raise ValueError(f"AbsNorm: rest_conductance must be > 0, got {rest_conductance}")
        rng = make_rng(rng)
        self.in_features, self.out_features = in_features, out_features
        self.rest_conductance = float(rest_conductance)
        self.check_input_range = bool(check_input_range)
        std = np.sqrt(2.0 / (in_features + out_features)) if init_std is None else init_std
        self._init_param("W", std * rng.standard_normal((in_features, out_features)), dtype)

    def forward(self, x):
        """x: (N, D) activities in [0, 1] -> z: (N, M) in (-1, 1)."""
        D = self.in_features
        self._check_input(x, 2, f"(N, D) with D={D}", sizes={1: D})
        if self.check_input_range:
            check_activities(self, x)
        W = self.params["W"]
        A = xp.abs(W)                            # (D, M)  G_ij = |W_ij|, sec. 4.4
        num = x @ W                              # (N, M)  sum_j W_ij p_j
        den = self.rest_conductance + x @ A      # (N, M)  G_r + sum_j |W_ij| p_j
        z = num / den                            # (N, M)  AbsNorm, sec. 4.4
        self.x, self.A, self.den, self.z = x, A, den, z
        return z

    def backward(self, dz):
        """dz: (N, M) -> dx: (N, D); fills grads W (D, M)."""
        x, A, den, z, W = self.x, self.A, self.den, self.z, self.params["W"]
        dnum = dz / den                          # z = num / den
        dden = -dnum * z                         # d(num/den)/dden = -num/den^2 = -z/den
        dA = x.T @ dden                          # den = G_r + x @ A
        # num = x @ W, and A = |W| with d|w|/dw = sign(w) (sign(0) = 0, see the module docstring)
        self.grads["W"] = x.T @ dnum + dA * xp.sign(W)
        if not self.needs_input_grad:
            return None
        return dnum @ W.T + dden @ A.T           # (N, D)  through num and through den
