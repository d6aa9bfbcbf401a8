"""Negative rectifiers: NegLU, its smooth version, and a rectifier whose sign is learned.

Thesis "Negative rectifiers" (shared/papers/negative-rectifiers-thesis.txt),
chapter 4. Every array keeps the shape of the input.

NegLU (section 4.2, the negative-linear rectification function)::

    eta(x) = min(0, x)
    d eta / dx = [x < 0]                     (0 at x = 0, like ReLU's 0 there)

Smooth NegLU (section 4.2, "a smooth approximation")::

    N(x) = -ln(1 + exp(-x))                  = -softplus(-x)
    dN/dx = 1 / (exp(x) + 1)                 = sigmoid(-x)

The thesis calls the derivative "the inverse of the logistic sigmoid"; it is
the sigmoid mirrored about x = 0, sigmoid(-x) = 1 - sigmoid(x) (not the
inverse function). Written as it stands, exp(-x) overflows for x << 0
(x = -1e4 in float32 or float64). The forward pass uses instead::

    -ln(1 + exp(-x)) = min(0, x) - ln(1 + exp(-|x|))

(for x >= 0 the two sides are equal as written; for x < 0 factor exp(-x) out
of the logarithm: ln(1 + exp(-x)) = -x + ln(exp(x) + 1) = -x + ln(1 + exp(-|x|))).
Only exp(-|x|) <= 1 is ever evaluated, so nothing overflows; the backward uses
``sigmoid`` from activations.py, which is stable the same way.

Learned-sign rectifier (section 5.2 proposes activations whose "degree and
sign" are learned like weights, "ConvAct" networks; this is its simplest
form): each unit i (each channel for (N, C, H, W) maps) has a trainable
logit s_i and mixes a ReLU with a NegLU::

    a_i = sigmoid(s_i)                                       in (0, 1)
    y   = a_i * max(0, x) + (1 - a_i) * min(0, x)
        = min(0, x) + a_i * |x|                              (max(0,x) - min(0,x) = |x|)

a_i -> 1 is a ReLU, a_i -> 0 a NegLU, a_i = 1/2 the line x / 2. The slope is
a_i for x > 0 and 1 - a_i for x < 0. Backward::

    dx   = dout * (a * [x > 0] + (1 - a) * [x < 0])
    ds_i = sum over the batch (and positions) of dout * |x| * a_i * (1 - a_i)

(da/ds = a (1 - a) for the logistic sigmoid.)
"""
import numpy as np

from ..backend import xp
from .activations import sigmoid
from .base import Layer, check_arg


class NegLU(Layer):
    """Negative-linear rectifier: out = min(0, x);  dx = dout * [x < 0]."""

    def forward(self, x):
        """x: any shape, floating -> out: the same shape."""
        self._check_input(x, None, "(N, ...)")
        self.mask = x < 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class SmoothNegLU(Layer):
    """Smooth negative rectifier: out = -ln(1 + exp(-x));  dx = dout / (exp(x) + 1).

    Stable for any finite x (see the module docstring): out = min(0, x) - ln(1 + exp(-|x|)).
    """

    def forward(self, x):
        """x: any shape, floating -> out: the same shape."""
        self._check_input(x, None, "(N, ...)")
        self.x = x
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, dout):
        return dout * sigmoid(-self.x)          # 1 / (exp(x) + 1), never exp of a large number


class LearnedSignReLU(Layer):
    """Per-unit learned mix of ReLU and NegLU: y = min(0, x) + sigmoid(s) * |x|.

    Args:
        num_features: D (or C for (N, C, H, W) maps; the mix is per channel).
        init_logit: initial s for every unit (default 3.0: a = sigmoid(3) ~ 0.95,
            close to a ReLU); a scalar or an array of shape (D,).
        dtype: parameter dtype (default the backend's float32).

    Params: ``s`` (D,), the logits of the ReLU share a = sigmoid(s). No bias,
    no weight: it is an activation, used after a Linear or Conv2d.
    """

    def __init__(self, num_features, init_logit=3.0, dtype=None):
        super().__init__()
        self.num_features = check_arg(self, "num_features", num_features, 1, integer=True)
        if not np.all(np.isfinite(np.asarray(init_logit, dtype=np.float64))):
            raise ValueError(f"LearnedSignReLU: init_logit must be finite, got {init_logit!r}")
        self._init_param("s", np.broadcast_to(np.asarray(init_logit, dtype=np.float64), (num_features,)).copy(),
                         dtype)

    def _per_unit(self, v, ndim):
        """(D,) -> broadcastable against x: (1, D) or (1, C, 1, 1)."""
        return v.reshape(1, -1, 1, 1) if ndim == 4 else v.reshape(1, -1)

    def forward(self, x):
        """x: (N, D) or (N, C, H, W) with D (or C) = num_features -> y of the same shape."""
        D = self.num_features
        if getattr(x, "ndim", None) == 4:
            self._check_input(x, 4, f"(N, C, H, W) with C={D}", sizes={1: D})
        else:
            self._check_input(x, 2, f"(N, D) with D={D} or (N, C, H, W) with C={D}", sizes={1: D})
        self.x = x
        self.a = sigmoid(self.params["s"])                     # (D,) ReLU share of each unit
        a = self._per_unit(self.a, x.ndim)
        return xp.minimum(x, 0) + a * xp.abs(x)

    def backward(self, dout):
        """dout: same shape as x -> dx; fills grads s (D,)."""
        x, a = self.x, self.a
        a_b = self._per_unit(a, x.ndim)
        sum_axes = (0, 2, 3) if x.ndim == 4 else (0,)
        self.grads["s"] = (dout * xp.abs(x)).sum(axis=sum_axes) * a * (1 - a)
        return dout * (a_b * (x > 0) + (1 - a_b) * (x < 0))

    @property
    def relu_share(self):
        """a = sigmoid(s), (D,): 1 is a ReLU unit, 0 a NegLU unit."""
        return sigmoid(self.params["s"])

    def __repr__(self):
        return f"LearnedSignReLU({self.num_features})"
