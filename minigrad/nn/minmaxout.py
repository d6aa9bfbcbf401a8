"""Min-Maxout: maxout units and their mirror image, min units, in one layer.

Maxout (Goodfellow et al. 2013; thesis section 2.4.10): a unit computes k
linear "pieces" of its input and outputs the largest, so it can learn any
convex piecewise-linear function. The thesis (section 5.2) proposes
*Min-Maxout* networks in which some units output the smallest piece instead
("Min units ... output their largest negative weighted input, while Max units
output the largest positive"), so that a layer can also learn concave
functions. A min unit generalises the NegLU (min(0, x) is the min of the two
pieces 0 and x) as a max unit generalises the ReLU.

Forward, for a batch of N rows, M units with k pieces each::

    z[n, m, j] = sum_d x[n, d] W[d, m, j] + b[m, j]         z: (N, M, k)
    out[n, m]  = max_j z[n, m, j]     if unit m is a max unit
               = min_j z[n, m, j]     if unit m is a min unit  (unit_is_min[m])

Both cases are one formula with sigma_m = +1 (max unit) or -1 (min unit):
min_j z = -max_j(-z), so the layer picks the winning piece

    j*[n, m] = argmax_j sigma_m * z[n, m, j]                 (N, M)
    out[n, m] = z[n, m, j*[n, m]]

Backward: out depends on z only through the winning piece, so with the one-hot
selection S[n, m, j] = [j == j*[n, m]]::

    dz = dout[:, :, None] * S                                (N, M, k)
    dW = x.T @ dz  (as (D, M*k), reshaped to (D, M, k))
    db = dz.sum(axis=0)                                      (M, k)
    dx = dz @ W.T  (dz as (N, M*k), W as (D, M*k))           (N, D)

Ties: where several pieces share the extreme value, argmax returns the first
(lowest j), and the whole gradient goes to that piece. This is one valid
subgradient (as MaxPool2d routes a tie to one position); the finite-difference
check is run away from ties, where the gradient is exact.
"""
import numpy as np

from ..backend import make_rng, to_device, xp
from .base import Layer, check_arg


class MinMaxout(Layer):
    """M units, each the max (or, for min units, the min) of k affine pieces of x.

    Args:
        in_features: D.
        out_features: M, the number of units (outputs).
        pieces: k >= 1, affine pieces per unit (k = 1 is a plain Linear layer).
        min_fraction: share f of min units; exactly round(f * M) units, chosen
            at random, are min units (0: plain maxout; 1: all min units).
        rng: numpy Generator or int seed for the weights and the unit types.
        weight_scale: standard deviation of W; default sqrt(1 / D) (for k = 2
            the max of two pieces then has the second moment of one piece).
        dtype: parameter dtype (default the backend's float32).

    Params: ``W`` (D, M, k), ``b`` (M, k). Buffers: ``unit_is_min`` (M,) bool,
    never trained.
    """

    def __init__(self, in_features, out_features, pieces=2, min_fraction=0.0, rng=None,
                 weight_scale=None, dtype=None):
        super().__init__()
        D = check_arg(self, "in_features", in_features, 1, integer=True)
        M = check_arg(self, "out_features", out_features, 1, integer=True)
        k = check_arg(self, "pieces", pieces, 1, integer=True)
        min_fraction = check_arg(self, "min_fraction", min_fraction, 0, 1)
        if weight_scale is not None:
            weight_scale = check_arg(self, "weight_scale", weight_scale, 0)
        rng = make_rng(rng)
        self.in_features, self.out_features, self.pieces, self.min_fraction = D, M, k, min_fraction
        scale = np.sqrt(1.0 / D) if weight_scale is None else weight_scale
        self._init_param("W", scale * rng.standard_normal((D, M, k)), dtype)
        self._init_param("b", np.zeros((M, k)), dtype)
        is_min = np.zeros(M, dtype=bool)
        is_min[rng.permutation(M)[:int(round(min_fraction * M))]] = True
        self.buffers["unit_is_min"] = to_device(is_min)

    @property
    def unit_is_min(self):
        return self.buffers["unit_is_min"]

    def forward(self, x):
        """x: (N, D) -> out: (N, M)."""
        D, M, k = self.in_features, self.out_features, self.pieces
        self._check_input(x, 2, f"(N, D) with D={D}", sizes={1: D})
        self.x = x
        z = (x @ self.params["W"].reshape(D, M * k)).reshape(-1, M, k) + self.params["b"]   # (N, M, k)
        sigma = xp.where(self.unit_is_min, -1, 1).astype(z.dtype)                           # (M,)
        self.winner = xp.argmax(z * sigma[:, None], axis=2)                                 # (N, M) j*
        return xp.take_along_axis(z, self.winner[:, :, None], axis=2)[:, :, 0]

    def backward(self, dout):
        """dout: (N, M) -> dx: (N, D); fills grads W (D, M, k), b (M, k)."""
        D, M, k = self.in_features, self.out_features, self.pieces
        x = self.x
        select = self.winner[:, :, None] == xp.arange(k)                                    # (N, M, k) one-hot
        dz = dout[:, :, None] * select                                                      # (N, M, k)
        dz2 = dz.reshape(-1, M * k)
        self.grads["W"] = (x.T @ dz2).reshape(D, M, k)
        self.grads["b"] = dz.sum(axis=0)
        return dz2 @ self.params["W"].reshape(D, M * k).T

    def __repr__(self):
        return (f"MinMaxout({self.in_features}, {self.out_features}, pieces={self.pieces}, "
                f"min_fraction={self.min_fraction})")
