"""Mixed-ReLU: a rectifier whose units are either excitatory or inhibitory.

Khandwala & Bedi, section 2.8. Each unit i gets a mandated sign s_i at
initialisation (+1 excitatory, -1 inhibitory) and may only emit signals of
that sign (their unnumbered equation after eq. 3)::

    out_i = max(x_i, 0)    if s_i = +1
    out_i = min(x_i, 0)    if s_i = -1

Both cases are one formula: the unit passes its input where the input has the
unit's sign and outputs 0 elsewhere::

    mask = [s * x > 0]          (N, D) or (N, C, H, W), 1 where the sign is allowed
    out  = x * mask

Backward: the derivative of x * mask with respect to x is the mask itself
(0 or 1; at x = 0 we take 0, like ReLU)::

    dx = dout * mask

For (N, C, H, W) inputs the sign is per channel: every position of a channel
belongs to the same feature map, so it shares the channel's sign.
"""
import numpy as np

from ..backend import DEFAULT_DTYPE, make_rng, to_device
from .base import Layer, check_arg


class MixedReLU(Layer):
    """Rectifier with a fixed sign per unit (excitatory +1 / inhibitory -1).

    Args:
        num_features: D (or C for images).
        negative_fraction: expected share of inhibitory units; each unit is
            inhibitory with this probability (0 gives a plain ReLU).
        rng: numpy Generator or int seed for the signs.
        dtype: dtype of ``sign`` (default float32; ``astype`` casts it).

    Buffers: ``sign`` (D,) of +1/-1, never trained. Also available as
    ``layer.sign``.
    """

    def __init__(self, num_features, negative_fraction=0.5, rng=None, dtype=None):
        super().__init__()
        num_features = check_arg(self, "num_features", num_features, 1, integer=True)
        negative_fraction = check_arg(self, "negative_fraction", negative_fraction, 0, 1)
        rng = make_rng(rng)
        self.num_features, self.negative_fraction = num_features, negative_fraction
        inhibitory = rng.random(num_features) < negative_fraction
        self.buffers["sign"] = to_device(np.where(inhibitory, -1.0, 1.0), dtype=dtype or DEFAULT_DTYPE)

    @property
    def sign(self):
        return self.buffers["sign"]

    def forward(self, x):
        """x: (N, D) or (N, C, H, W) with D (or C) = num_features -> out of the same shape."""
        D = self.num_features
        if getattr(x, "ndim", None) == 4:
            self._check_input(x, 4, f"(N, C, H, W) with C={D}", sizes={1: D})
            s = self.sign.reshape(1, D, 1, 1)
        else:
            self._check_input(x, 2, f"(N, D) with D={D} or (N, C, H, W) with C={D}", sizes={1: D})
            s = self.sign
        self.mask = (s * x) > 0                 # True where x has the unit's allowed sign
        return x * self.mask

    def backward(self, dout):
        """dout: same shape as x -> dx = dout * mask."""
        return dout * self.mask

    def __repr__(self):
        return f"MixedReLU({self.num_features}, negative_fraction={self.negative_fraction})"
