"""Batch normalisation for (N, D) features and (N, C, H, W) images.

Training-mode forward, per feature (Ioffe & Szegedy 2015)::

    mu    = mean_i x_i                       batch mean
    var   = mean_i (x_i - mu)^2              biased batch variance
    x_hat = (x - mu) / sqrt(var + eps)       eps = 1e-5
    out   = gamma * x_hat + beta             only when affine=True

Running statistics follow  run = momentum * run + (1 - momentum) * batch
(CS231n's convention: momentum 0.9 keeps 90% of the old value; PyTorch's
``momentum`` is 1 minus ours). Eval mode normalises with them.

Which statistics normalise a *training* batch is the ``stats`` option
(Khandwala & Bedi, section 2.3):

- ``"batch"``: the batch's own mu, var (the standard layer; a batch of one
  example normalises to 0, with zero gradient, so nothing is learned from it);
- ``"running"``: the running statistics of previous batches only, then fold
  this batch in; the batch's own values do not enter its normalisation;
- ``"running_inclusive"``: first fold this batch into the running statistics,
  then normalise with the updated values.

In the two running modes a batch's variance is measured about the previous
running mean ``c = run_mu`` rather than about its own mean (``c = mu`` in
batch mode): ``var = mean_i (x_i - c)^2``. Otherwise a batch of one example
would always add a variance of 0, the running variance would decay to 0, and
batch size 1 (which these modes are meant to allow) would blow up.

All three are one formula. Write the statistics that normalise the batch as
    m = (1 - w) * run_mu + w * mu,      v = (1 - w) * run_var + w * var
with w = 1 (batch), w = 0 (running) or w = 1 - momentum (running_inclusive).
Backward, by the chain rule through x_hat = (x - m) / sqrt(v + eps), with
mu and var depending on x as above (s = sqrt(v + eps))::

    dx_hat = dout * gamma
    dv     = sum_i dx_hat_i (x_i - m) * (-1/2) s^-3
    dm     = -sum_i dx_hat_i / s
    dx_i   = dx_hat_i / s + w * dm / N + w * dv * 2 (x_i - c) / N

(in batch mode c = mu also depends on x, but sum_i (x_i - mu) = 0 cancels
that term). With w = 1 and m = c = mu this is the textbook batchnorm gradient.
"""
import numpy as np

from ..backend import to_device, xp
from .base import Layer

STATS_MODES = ("batch", "running", "running_inclusive")


class BatchNorm(Layer):
    """Batchnorm over the batch axis of (N, D) inputs.

    Args:
        num_features: D.
        affine: learn gamma (init 1) and beta (init 0); False means no
            parameters at all (``params`` is empty).
        momentum: running-statistics momentum (ours: 0.9 keeps 90% of the old value).
        eps: added to the variance, 1e-5.
        stats: "batch", "running" or "running_inclusive" (see module docstring).

    Params: ``gamma`` (D,), ``beta`` (D,) when affine. Buffers: ``running_mean``,
    ``running_var`` (D,), initialised to 0 and 1.
    """

    def __init__(self, num_features, affine=True, momentum=0.9, eps=1e-5, stats="batch", dtype=None):
        super().__init__()
        if stats not in STATS_MODES:
            raise ValueError(f"{type(self).__name__}: stats must be one of {STATS_MODES}, got {stats!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1], got {momentum}")
        self.num_features, self.affine = num_features, affine
        self.momentum, self.eps, self.stats = momentum, eps, stats
        if affine:
            self._init_param("gamma", np.ones(num_features), dtype)
            self._init_param("beta", np.zeros(num_features), dtype)
        dt = self.params["gamma"].dtype if affine else (dtype or np.float32)
        self.buffers["running_mean"] = to_device(np.zeros(num_features), dtype=dt)
        self.buffers["running_var"] = to_device(np.ones(num_features), dtype=dt)

    def _check(self, x):
        self._check_input(x, 2, f"(N, D) with D={self.num_features}", axis1=self.num_features)

    def forward(self, x):
        """x: (N, D) -> out: (N, D)."""
        self._check(x)
        return self._normalize(x)

    def backward(self, dout):
        """dout: (N, D) -> dx: (N, D); fills grads gamma, beta (D,) when affine."""
        return self._normalize_backward(dout)

    # -- shared by BatchNorm2d, which feeds (N*H*W, C) rows through these ----
    def _normalize(self, x):
        run_mu, run_var = self.buffers["running_mean"], self.buffers["running_var"]
        mom = self.momentum
        if not self.training:
            m, v, w = run_mu, run_var, 0.0
            c = None
        else:
            mu = x.mean(axis=0)                              # (D,)
            c = mu if self.stats == "batch" else run_mu      # centre of the variance (docstring)
            var = ((x - c) ** 2).mean(axis=0)                # (D,) biased
            w = {"batch": 1.0, "running": 0.0, "running_inclusive": 1.0 - mom}[self.stats]
            m = (1 - w) * run_mu + w * mu
            v = (1 - w) * run_var + w * var
            # fold the batch into the running statistics (after m, v were formed)
            self.buffers["running_mean"] = mom * run_mu + (1 - mom) * mu
            self.buffers["running_var"] = mom * run_var + (1 - mom) * var
        s = xp.sqrt(v + self.eps)
        x_hat = (x - m) / s
        self.cache = dict(x=x, c=c, m=m, s=s, x_hat=x_hat, w=w)
        if self.affine:
            return self.params["gamma"] * x_hat + self.params["beta"]
        return x_hat

    def _normalize_backward(self, dout):
        c = self.cache
        if self.affine:
            self.grads["gamma"] = (dout * c["x_hat"]).sum(axis=0)
            self.grads["beta"] = dout.sum(axis=0)
            dx_hat = dout * self.params["gamma"]
        else:
            dx_hat = dout
        s, w = c["s"], c["w"]
        dx = dx_hat / s
        if w:                         # the batch's own statistics took part
            n = dout.shape[0]
            dv = (dx_hat * (c["x"] - c["m"])).sum(axis=0) * (-0.5) / s ** 3
            dm = -dx_hat.sum(axis=0) / s
            dx += (w / n) * (dm + 2 * dv * (c["x"] - c["c"]))
        return dx


class BatchNorm2d(BatchNorm):
    """Spatial batchnorm: statistics per channel over (N, H, W).

    Input and output (N, C, H, W); gamma, beta, running statistics (C,).
    Implemented by viewing the images as N*H*W rows of C features and reusing
    ``BatchNorm``'s formulas.
    """

    def _check(self, x):
        self._check_input(x, 4, f"(N, C, H, W) with C={self.num_features}", axis1=self.num_features)

    def forward(self, x):
        """x: (N, C, H, W) -> out: (N, C, H, W)."""
        self._check(x)
        N, C, H, W = x.shape
        rows = x.transpose(0, 2, 3, 1).reshape(-1, C)               # (N*H*W, C)
        out = self._normalize(rows)
        return out.reshape(N, H, W, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        """dout: (N, C, H, W) -> dx: (N, C, H, W)."""
        N, C, H, W = dout.shape
        drows = self._normalize_backward(dout.transpose(0, 2, 3, 1).reshape(-1, C))
        return drows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
