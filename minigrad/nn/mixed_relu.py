"""Mixed-ReLU (MixLU): a rectifier whose units are either excitatory or inhibitory.

Khandwala & Bedi, section 2.8; also the "MixLU" (mixed linear units) layer of
the negative-rectifiers thesis (chapter 4, section 4.4: its "multi-type layer"
in which a share of the ReLUs are NegLUs, min(0, x); see nn/neglu.py). Each
unit i gets a mandated sign s_i at initialisation (+1 excitatory, -1
inhibitory) and may only emit signals of that sign (Khandwala & Bedi's
unnumbered equation after eq. 3)::

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
belongs to the same feature map, so it shares the channel's sign. A LeNet's
"fully connected" stage written as convolutions (conv 4x4x500 on a 4x4 map,
then conv 1x1x10, thesis section 4.4.3) gives (N, 500, 1, 1) maps, where one
channel is one unit. With ``num_features=(C, H, W)`` every position of a map
is a unit of its own (sign (C, H, W)): a share of 0.25% of a 32-channel stage
is then 0.25% of its 32*H*W units, where per channel it would round to none.

How many units are inhibitory: by default each unit independently with
probability ``negative_fraction`` (Khandwala & Bedi); with ``exact=True``
exactly round(negative_fraction * D) units, chosen at random, as the thesis's
"a certain percentage of the units" (for 1% of 500 units: exactly 5, where
independent draws would give anything from 0 to about 12).
"""
import numpy as np

from ..backend import DEFAULT_DTYPE, make_rng, to_device
from .base import Layer, check_arg


class MixedReLU(Layer):
    """Rectifier with a fixed sign per unit (excitatory +1 / inhibitory -1).

    Args:
        num_features: D (or C for images: one sign per channel), or a tuple
            (C, H, W) for one sign per position of an (N, C, H, W) map.
        negative_fraction: share of inhibitory (NegLU) units; each unit is
            inhibitory with this probability (0 gives a plain ReLU).
        exact: if True, exactly round(negative_fraction * num_features) units
            are inhibitory (chosen at random) instead of each one by chance.
        rng: numpy Generator or int seed for the signs.
        dtype: dtype of ``sign`` (default float32; ``astype`` casts it).

    Buffers: ``sign`` (D,) (or (C, H, W)) of +1/-1, never trained. Also available as
    ``layer.sign``; ``negative_count`` is the number of inhibitory units.
    """

    def __init__(self, num_features, negative_fraction=0.5, rng=None, dtype=None, exact=False):
        super().__init__()
        if isinstance(num_features, (tuple, list)):
            num_features = tuple(check_arg(self, "num_features", n, 1, integer=True) for n in num_features)
        else:
            num_features = check_arg(self, "num_features", num_features, 1, integer=True)
        negative_fraction = check_arg(self, "negative_fraction", negative_fraction, 0, 1)
        rng = make_rng(rng)
        self.num_features, self.negative_fraction, self.exact = num_features, negative_fraction, exact
        shape = tuple(num_features) if isinstance(num_features, (tuple, list)) else (num_features,)
        n = int(np.prod(shape))
        if exact:
            inhibitory = np.zeros(n, dtype=bool)
            inhibitory[rng.permutation(n)[:int(round(negative_fraction * n))]] = True
        else:
            inhibitory = rng.random(n) < negative_fraction
        inhibitory = inhibitory.reshape(shape)
        self.buffers["sign"] = to_device(np.where(inhibitory, -1.0, 1.0), dtype=dtype or DEFAULT_DTYPE)

    @property
    def sign(self):
        return self.buffers["sign"]

    @property
    def negative_count(self):
        """How many units are inhibitory (NegLUs), a host int."""
        return int((self.sign < 0).sum())

    def forward(self, x):
        """x: (N, D) or (N, C, H, W) with D (or C, or (C, H, W)) = num_features -> out of the same shape."""
        D = self.num_features
        if self.sign.ndim == 3:
            C, H, W = self.sign.shape
            self._check_input(x, 4, f"(N, C, H, W) with (C, H, W)=({C}, {H}, {W})", sizes={1: C, 2: H, 3: W})
            s = self.sign[None]
        elif getattr(x, "ndim", None) == 4:
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
        exact = ", exact=True" if self.exact else ""
        return f"MixedReLU({self.num_features}, negative_fraction={self.negative_fraction}{exact})"
