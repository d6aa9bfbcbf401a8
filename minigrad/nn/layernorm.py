"""Layer normalisation for (N, D) features (Ba, Kiros & Hinton 2016).

Where batchnorm normalises each *feature* over the examples of a batch,
layer normalisation normalises each *example* over its D features (Ba et al.
2016, section 3, equation 4, with H = D summed units)::

    mu_n    = (1/D) sum_j x_nj                       mean of example n's features
    var_n   = (1/D) sum_j (x_nj - mu_n)^2            biased variance of example n
    x_hat_n = (x_n - mu_n) / sqrt(var_n + eps)       eps = 1e-5 (inside the root, as PyTorch)
    out_n   = gamma * x_hat_n + beta                 gain and bias per feature, affine=True only

The statistics belong to one example, so there are no running statistics: a
batch of one example trains normally, and training and evaluation compute the
same function (``train()``/``eval()`` change nothing).

Backward for one example (drop the index n; s = sqrt(var + eps); sums over
the D features j). With dx_hat = dout * gamma (or dout when affine=False),
the chain rule through x_hat_i = (x_i - mu) / s, where mu and var depend on
every x_j::

    dvar  = sum_j dx_hat_j (x_j - mu) * (-1/2) s^-3
          = -(1 / (2 s^2)) sum_j dx_hat_j x_hat_j
    dmu   = -sum_j dx_hat_j / s + dvar * (-2/D) sum_j (x_j - mu)
          = -sum_j dx_hat_j / s                          (the second sum is 0)
    dx_i  = dx_hat_i / s + dvar * 2 (x_i - mu) / D + dmu / D

and, putting (x_i - mu) = s x_hat_i,

    dx_i  = (1/s) [ dx_hat_i - mean_j(dx_hat_j) - x_hat_i mean_j(dx_hat_j x_hat_j) ]

The same formula as batchnorm's with the roles of the axes swapped: here
the means run over the features of an example, there over the examples of a
feature. The parameter gradients sum over the batch::

    dgamma = sum_n dout_n * x_hat_n        dbeta = sum_n dout_n        (D,)
"""
import numpy as np

from ..backend import xp
from .base import Layer, check_arg


class LayerNorm(Layer):
    """Layer normalisation over the features of each example of (N, D) inputs.

    Args:
        num_features: D.
        affine: learn a gain gamma (init 1) and bias beta (init 0) per feature;
            False means no parameters at all (``params`` is empty).
        eps: added to each example's variance, 1e-5.
        dtype: dtype of the parameters (default float32).

    Params: ``gamma`` (D,), ``beta`` (D,) when affine. No buffers.
    """

    def __init__(self, num_features, affine=True, eps=1e-5, dtype=None):
        super().__init__()
        self.num_features = check_arg(self, "num_features", num_features, 1, integer=True)
        self.eps = check_arg(self, "eps", eps, 0, low_open=True)
        self.affine = affine
        if affine:
            self._init_param("gamma", np.ones(self.num_features), dtype)
            self._init_param("beta", np.zeros(self.num_features), dtype)

    def forward(self, x):
        """x: (N, D) -> out: (N, D)."""
        self._check_input(x, 2, f"(N, D) with D={self.num_features}", sizes={1: self.num_features})
        mu = x.mean(axis=1, keepdims=True)                       # (N, 1)  mu_n
        xm = x - mu                                              # (N, D)  x_n - mu_n
        var = (xm * xm).mean(axis=1, keepdims=True)              # (N, 1)  var_n, biased
        s = xp.sqrt(var + self.eps)                              # (N, 1)  sqrt(var_n + eps)
        x_hat = xm / s                                           # (N, D)  Ba et al. eq. 4
        self.cache = dict(x_hat=x_hat, s=s)
        if not self.affine:
            return x_hat
        return x_hat * self.params["gamma"] + self.params["beta"]   # gamma * x_hat + beta

    def backward(self, dout):
        """dout: (N, D) -> dx: (N, D); fills grads gamma, beta (D,) when affine."""
        x_hat, s = self.cache["x_hat"], self.cache["s"]
        if self.affine:
            self.grads["gamma"] = (dout * x_hat).sum(axis=0)     # (D,)
            self.grads["beta"] = dout.sum(axis=0)                # (D,)
            dx_hat = dout * self.params["gamma"]                 # (N, D)
        else:
            dx_hat = dout
        mean_dx_hat = dx_hat.mean(axis=1, keepdims=True)                   # (N, 1)  mean_j dx_hat_j
        mean_dx_hat_x_hat = (dx_hat * x_hat).mean(axis=1, keepdims=True)   # (N, 1)  mean_j dx_hat_j x_hat_j
        return (dx_hat - mean_dx_hat - x_hat * mean_dx_hat_x_hat) / s      # (N, D)
