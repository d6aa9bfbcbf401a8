"""Elementwise nonlinearities and dropout. Every array keeps the shape of the input.

Each backward multiplies the upstream gradient by the local derivative f'(x),
written in terms of what the forward pass kept.
"""
from ..backend import device_rng, make_rng, xp
from .base import Layer, check_arg


class ReLU(Layer):
    """out = max(x, 0);  dx = dout * [x > 0]."""

    def forward(self, x):
        """x: any shape, floating -> out: the same shape."""
        self._check_input(x, None, "(N, ...)")
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


def sigmoid(x):
    """Numerically stable logistic function: never evaluates exp of a large positive number.

    For x >= 0:  1 / (1 + exp(-x));  for x < 0:  exp(x) / (1 + exp(x)).
    Both branches are the same function; each only exponentiates -|x| <= 0.
    """
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Layer):
    """out = 1 / (1 + exp(-x));  dx = dout * out * (1 - out)."""

    def forward(self, x):
        """x: any shape, floating -> out: the same shape."""
        self._check_input(x, None, "(N, ...)")
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class Tanh(Layer):
    """out = tanh(x);  dx = dout * (1 - out**2)."""

    def forward(self, x):
        """x: any shape, floating -> out: the same shape."""
        self._check_input(x, None, "(N, ...)")
        self.out = xp.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1 - self.out * self.out)


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability p and scale the rest by 1/(1-p).

    In eval mode it is the identity, so no rescaling is needed at test time.

    Args:
        p: drop probability, 0 <= p < 1.
        rng: numpy Generator or int seed; masks are drawn on the device from a
            generator seeded by it (never from global state).
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        self.p = check_arg(self, "p", p, 0, 1, high_open=True)
        self.rng = device_rng(make_rng(rng))

    def forward(self, x):
        """x: any shape, floating -> out: the same shape."""
        self._check_input(x, None, "(N, ...)")
        if not self.training or self.p == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self.mask = keep / x.dtype.type(1 - self.p)
        return x * self.mask

    def backward(self, dout):
        return dout if self.mask is None else dout * self.mask
