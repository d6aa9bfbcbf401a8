"""Batch normalisation for (N, D) features and (N, C, H, W) images.

Training-mode forward, per feature (Ioffe & Szegedy 2015; Khandwala & Bedi,
section 2.3, equations 1 and 2)::

    mu    = mean_i x_i                       batch mean
    var   = mean_i (x_i - mu)^2              biased batch variance
    x_hat = (x - mu) / sqrt(var + eps)       eps = 1e-5                    (K&B eq. 1)
    out   = gamma * x_hat + beta             only when affine=True         (K&B eq. 2)

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

In these three standard modes a batch's variance is measured about its own
mean, ``var = mean_i (x_i - mu)^2``, before it is averaged into the running
variance (as in Ioffe & Szegedy and every common library). So a batch of one
example adds a variance of 0: at batch size 1 the running variance decays
towards 0 and the normalisation divides by about sqrt(eps).

Two variants measure a batch's variance about the previous running mean
instead, ``var = mean_i (x_i - c)^2`` with ``c = run_mu``:

- ``"running_prevmean"``: as ``"running"``, with that variance;
- ``"running_inclusive_prevmean"``: as ``"running_inclusive"``, with that variance.

Then a single example's squared distance from the running mean enters the
running variance, the running variance tracks the data's spread, and batch
size 1 trains. The paper reports running statistics failing at every batch
size; lesson 06 shows both definitions side by side.

Write ``c`` for the centre of the batch variance: ``c = mu`` in the standard
modes, ``c = run_mu`` in the ``_prevmean`` variants.

All five are one formula. Write the statistics that normalise the batch as
    m = (1 - w) * run_mu + w * mu,      v = (1 - w) * run_var + w * var
with w = 1 (batch), w = 0 (running, running_prevmean) or w = 1 - momentum
(running_inclusive, running_inclusive_prevmean).
Backward, by the chain rule through x_hat = (x - m) / sqrt(v + eps), with
mu and var depending on x as above (s = sqrt(v + eps))::

    dx_hat = dout * gamma
    dv     = sum_i dx_hat_i (x_i - m) * (-1/2) s^-3
    dm     = -sum_i dx_hat_i / s
    dx_i   = dx_hat_i / s + w * dm / N + w * dv * 2 (x_i - c) / N

(where c = mu it also depends on x, but sum_i (x_i - mu) = 0 cancels that
term). With w = 1 and m = c = mu this is the textbook batchnorm gradient; with
w = 0 the statistics are constants and dx = dx_hat / s.

Kernels: ``batchnorm_reference`` and ``batchnorm_backward_reference`` (end of
this file) are these formulas term by term, the textbook code;
``MINIGRAD_KERNELS=reference`` (or ``--reference``) makes ``BatchNorm`` and
``BatchNorm2d`` train through them. The default fast kernels
(``_normalize``, ``_normalize_backward``) compute the same in fewer passes.
"""
import numpy as np

from ..backend import DEFAULT_DTYPE, kernels, to_device, xp
from .base import Layer, check_arg

STATS_MODES = ("batch", "running", "running_inclusive", "running_prevmean", "running_inclusive_prevmean")


def stats_weight(stats, momentum):
    """w, the weight of the batch's own statistics in those that normalise it (module docstring)."""
    return 1.0 if stats == "batch" else 1.0 - momentum if stats.startswith("running_inclusive") else 0.0


def variance_centre_is_running_mean(stats):
    """True for the ``_prevmean`` variants: the batch variance is taken about the previous running mean."""
    return stats.endswith("_prevmean")


class BatchNorm(Layer):
    """Batchnorm over the batch axis of (N, D) inputs.

    Args:
        num_features: D.
        affine: learn gamma (init 1) and beta (init 0); False means no
            parameters at all (``params`` is empty).
        momentum: running-statistics momentum (ours: 0.9 keeps 90% of the old value).
        eps: added to the variance, 1e-5.
        stats: "batch", "running", "running_inclusive" (standard), or the variants
            "running_prevmean", "running_inclusive_prevmean" whose batch variance is
            taken about the previous running mean (see module docstring).
        dtype: dtype of the parameters and running statistics (default float32).

    Params: ``gamma`` (D,), ``beta`` (D,) when affine. Buffers: ``running_mean``,
    ``running_var`` (D,), initialised to 0 and 1.
    """

    def __init__(self, num_features, affine=True, momentum=0.9, eps=1e-5, stats="batch", dtype=None):
        super().__init__()
        if stats not in STATS_MODES:
            raise ValueError(f"{type(self).__name__}: stats must be one of {STATS_MODES}, got {stats!r}")
        num_features = check_arg(self, "num_features", num_features, 1, integer=True)
        momentum = check_arg(self, "momentum", momentum, 0, 1)
        eps = check_arg(self, "eps", eps, 0, low_open=True)
        self.num_features, self.affine = num_features, affine
        self.momentum, self.eps, self.stats = momentum, eps, stats
        if affine:
            self._init_param("gamma", np.ones(num_features), dtype)
            self._init_param("beta", np.zeros(num_features), dtype)
        dt = self.params["gamma"].dtype if affine else (dtype or DEFAULT_DTYPE)
        self.buffers["running_mean"] = to_device(np.zeros(num_features), dtype=dt)
        self.buffers["running_var"] = to_device(np.ones(num_features), dtype=dt)

    def _check(self, x):
        self._check_input(x, 2, f"(N, D) with D={self.num_features}", sizes={1: self.num_features})

    def forward(self, x):
        """x: (N, D) -> out: (N, D)."""
        self._check(x)
        return self._normalize(x)

    def backward(self, dout):
        """dout: (N, D) -> dx: (N, D); fills grads gamma, beta (D,) when affine."""
        return self._normalize_backward(dout)

    # -- shared by BatchNorm2d, which feeds (N*H*W, C) rows through these ----
    def _normalize(self, x):
        """The module docstring's formulas in fewer passes over (N, D) arrays.

        ``batchnorm_reference`` below is the same computation written term by term
        (and runs instead under the reference kernels); tests/test_speed_paths.py
        checks that both agree in every mode.
        """
        run_mu, run_var = self.buffers["running_mean"], self.buffers["running_var"]
        mom = self.momentum
        if kernels() == "reference":
            out, self.cache, new_mean, new_var = batchnorm_reference(
                x, run_mu, run_var, self.params.get("gamma"), self.params.get("beta"), mom, self.eps,
                self.stats, self.training)
            self.buffers["running_mean"], self.buffers["running_var"] = new_mean, new_var
            self.cache["reference"] = True
            return out
        if not self.training:
            m, v, w, c = run_mu, run_var, 0.0, run_mu
            xm = x - m                                               # (N, D)
        else:
            n = x.shape[0]
            if n == 0:               # the mean of no rows is NaN, and it would stay in the running statistics
                raise ValueError(f"{type(self).__name__}: a training batch needs at least one example to "
                                 "compute batch statistics, got an empty batch")
            mu = x.mean(axis=0)                                      # (D,)
            c = run_mu if variance_centre_is_running_mean(self.stats) else mu   # centre of the variance
            xc = x - c                                               # (N, D)
            var = xp.einsum("nd,nd->d", xc, xc) / n                  # mean_i (x_i - c)^2, no (N, D) temporary
            w = stats_weight(self.stats, mom)
            m = (1 - w) * run_mu + w * mu
            v = (1 - w) * run_var + w * var
            # fold the batch into the running statistics (after m, v were formed)
            self.buffers["running_mean"] = mom * run_mu + (1 - mom) * mu
            self.buffers["running_var"] = mom * run_var + (1 - mom) * var
            xm = xc if self.stats == "batch" else x - m              # batch mode: m = c = mu
        s = xp.sqrt(v + self.eps)                                    # (D,)
        x_hat = xm
        x_hat /= s                                                   # (x - m) / s, K&B eq. 1, in place of x - m
        self.cache = dict(x_hat=x_hat, s=s, w=w, m_minus_c=m - c)
        if self.affine:
            out = x_hat * self.params["gamma"]                       # gamma x_hat + beta, K&B eq. 2
            out += self.params["beta"]
            return out
        return x_hat                                                 # parameter-free: eq. 1 alone

    def _normalize_backward(self, dout):
        """The docstring's backward with x_i - m = s x_hat_i and x_i - c = s x_hat_i + (m - c):

            dv   = sum_i dx_hat_i x_hat_i * (-1/2) / s^2
            dm   = -sum_i dx_hat_i / s
            dx_i = dx_hat_i / s + x_hat_i * (2 w dv s / N) + (w / N) (dm + 2 dv (m - c))

        so dx is dx_hat and x_hat scaled per feature, plus a per-feature constant.
        """
        c = self.cache
        if c.get("reference"):                        # the forward ran the reference kernels
            dx, dgamma, dbeta = batchnorm_backward_reference(dout, c, self.params.get("gamma"))
            if self.affine:
                self.grads["gamma"], self.grads["beta"] = dgamma, dbeta
            return dx
        x_hat, s, w = c["x_hat"], c["s"], c["w"]
        if self.affine:
            self.grads["gamma"] = xp.einsum("nd,nd->d", dout, x_hat)
            self.grads["beta"] = dout.sum(axis=0)
            dx_hat = dout * self.params["gamma"]
        else:
            dx_hat = dout
        dx = dx_hat / s
        if w:                         # the batch's own statistics took part
            n = dout.shape[0]
            dv = xp.einsum("nd,nd->d", dx_hat, x_hat) * (-0.5) / s ** 2
            dm = -dx_hat.sum(axis=0) / s
            dx += x_hat * ((2 * w / n) * dv * s)
            dx += (w / n) * (dm + 2 * dv * c["m_minus_c"])
        return dx


def batchnorm_reference(x, running_mean, running_var, gamma=None, beta=None, momentum=0.9,
                        eps=1e-5, stats="batch", training=True):
    """The module docstring's forward term by term (the textbook version).

    x: (N, D); running_mean, running_var, gamma, beta: (D,) (gamma=None: no affine).
    Returns out (N, D), the cache ``batchnorm_backward_reference`` reads (dict of
    x, x_hat, m, c, s, w), and the new running mean and variance (D,).
    """
    if not training:
        m, v, w, c = running_mean, running_var, 0.0, running_mean      # eval: running statistics only
        new_mean, new_var = running_mean, running_var
    else:
        mu = x.mean(axis=0)                                            # batch mean
        c = running_mean if stats.endswith("_prevmean") else mu        # centre of the variance
        var = ((x - c) ** 2).mean(axis=0)                              # batch variance about c
        w = {"batch": 1.0, "running": 0.0, "running_prevmean": 0.0,    # weight of the batch's own statistics
             "running_inclusive": 1.0 - momentum, "running_inclusive_prevmean": 1.0 - momentum}[stats]
        m = (1 - w) * running_mean + w * mu                            # statistics that normalise
        v = (1 - w) * running_var + w * var
        new_mean = momentum * running_mean + (1 - momentum) * mu
        new_var = momentum * running_var + (1 - momentum) * var
    s = xp.sqrt(v + eps)
    x_hat = (x - m) / s                                                # K&B eq. 1
    out = x_hat if gamma is None else gamma * x_hat + beta             # K&B eq. 2
    return out, dict(x=x, x_hat=x_hat, m=m, c=c, s=s, w=w), new_mean, new_var


def batchnorm_backward_reference(dout, cache, gamma=None):
    """The module docstring's backward term by term: dout (N, D) -> dx (N, D), dgamma, dbeta
    (D,) or None without gamma."""
    x, x_hat, m, c, s, w = (cache[k] for k in ("x", "x_hat", "m", "c", "s", "w"))
    dgamma = dbeta = None
    if gamma is not None:
        dgamma, dbeta = (dout * x_hat).sum(axis=0), dout.sum(axis=0)
        dx_hat = dout * gamma
    else:
        dx_hat = dout
    dx = dx_hat / s
    if w:                                                              # the batch's own statistics took part
        n = dout.shape[0]
        dv = (dx_hat * (x - m)).sum(axis=0) * (-0.5) / s ** 3
        dm = -dx_hat.sum(axis=0) / s
        dx = dx + (w / n) * (dm + 2 * dv * (x - c))
    return dx, dgamma, dbeta


class BatchNorm2d(BatchNorm):
    """Spatial batchnorm: statistics per channel over (N, H, W).

    Input and output (N, C, H, W); gamma, beta, running statistics (C,).
    Implemented by viewing the images as N*H*W rows of C features and reusing
    ``BatchNorm``'s formulas.
    """

    def _check(self, x):
        self._check_input(x, 4, f"(N, C, H, W) with C={self.num_features}", sizes={1: self.num_features})

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
