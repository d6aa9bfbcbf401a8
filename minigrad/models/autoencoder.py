"""A sparse autoencoder with two hidden layers, trainable by backprop or feedback alignment.

Khandwala & Bedi, section 2.6. The network reconstructs its own input::

    h1    = sigmoid(x @ W1 + b1)          x: (N, D) pixels in [0, 1], h1: (N, H1)
    h2    = sigmoid(h1 @ W2 + b2)         h2: (N, H2)
    x_rec = sigmoid(h2 @ W3 + b3)         x_rec: (N, D)

and is trained on the loss

    L = (1 / 2N) sum_n ||x_rec_n - x_n||^2  +  beta * sum_{hidden layers} sum_j KL(rho || rho_hat_j)

where rho_hat_j = (1/N) sum_n h_nj is the mean activity of hidden unit j on the
batch and KL(rho || r) = rho log(rho / r) + (1 - rho) log((1 - rho) / (1 - r))
is smallest (0) when the unit is active a fraction rho of the time: a "sparse"
code (Ng's sparse autoencoder notes). ``kind="l1"`` uses
beta * (1/N) sum_n sum_j |h_nj| instead.

The model is a plain ``Sequential``; the sparsity term lives in
``ActivitySparsity`` layers placed after each hidden nonlinearity. They are the
identity in the forward pass (and remember the penalty); in the backward pass
they add the penalty's gradient to the gradient flowing through them, so the
penalty reaches lower layers through the same (BP or FA) feedback path as the
reconstruction error. ``AutoencoderLoss(model)`` is the Trainer loss: the
reconstruction term plus the penalties the forward pass just recorded.
"""
import numpy as np

from ..backend import make_rng, xp
from ..nn.activations import Sigmoid
from ..nn.base import Layer, Sequential, check_arg
from ..nn.linear import Linear

KINDS = ("kl", "l1")


class ActivitySparsity(Layer):
    """Identity layer that adds a sparsity penalty on the activity passing through it.

    Args:
        weight: beta, the penalty's strength.
        target: rho, the desired mean activity (``kind="kl"``; activity must lie in (0, 1)).
        kind: "kl" (KL divergence of mean activity from rho) or "l1" (mean absolute activity).

    After ``forward(x)`` (x: (N, H)), ``penalty`` holds the penalty (0-d array).
    ``backward(dout)`` returns ``dout + d penalty / dx``.
    """

    def __init__(self, weight=3.0, target=0.05, kind="kl"):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"ActivitySparsity: kind must be one of {KINDS}, got {kind!r}")
        weight = check_arg(self, "weight", weight, 0)
        target = check_arg(self, "target", target, 0, 1, low_open=True, high_open=True)
        self.weight, self.target, self.kind = weight, target, kind

    def forward(self, x):
        """x: (N, H) hidden activity -> x unchanged; sets ``self.penalty``."""
        self._check_input(x, 2, "(N, H)")
        self.x = x
        beta, rho = self.weight, self.target
        if beta == 0:                     # off: no log of a saturated mean activity (0 * inf = NaN)
            self.penalty = xp.zeros((), dtype=x.dtype)
        elif self.kind == "kl":
            self.rho_hat = x.mean(axis=0)                           # (H,) mean activity
            r = self.rho_hat
            kl = rho * xp.log(rho / r) + (1 - rho) * xp.log((1 - rho) / (1 - r))
            self.penalty = beta * kl.sum()
        else:
            self.penalty = beta * xp.abs(x).sum() / x.shape[0]
        return x

    def backward(self, dout):
        """dout: (N, H) -> dout + dpenalty/dx, (N, H)."""
        beta, rho, n = self.weight, self.target, self.x.shape[0]
        if beta == 0:
            return dout
        if self.kind == "kl":
            r = self.rho_hat
            # d KL / d r = -rho / r + (1 - rho) / (1 - r);  d r / d x_nj = 1 / N
            dr = beta * (-rho / r + (1 - rho) / (1 - r))            # (H,)
            return dout + dr / n
        return dout + (beta / n) * xp.sign(self.x)


class AutoencoderLoss:
    """Trainer loss for an autoencoder: reconstruction error plus the sparsity penalties.

    ``loss(x_rec, x)`` returns ``(L, dL/dx_rec)`` with
    L = (1/2N) sum ||x_rec - x||^2 + sum of ``penalty`` of every
    ``ActivitySparsity`` layer of ``model`` (from the forward pass just run).
    ``reconstruction`` keeps the last reconstruction term alone.
    """

    def __init__(self, model):
        self.sparsity = [layer for _, layer in model.named_layers() if isinstance(layer, ActivitySparsity)]

    def __call__(self, x_rec, x):
        if x_rec.shape != x.shape:
            raise ValueError(f"AutoencoderLoss: reconstruction has shape {tuple(x_rec.shape)}, "
                             f"input {tuple(x.shape)}")
        n = x.shape[0]
        diff = x_rec - x
        self.reconstruction = (diff * diff).sum() / (2 * n)
        loss = self.reconstruction
        for layer in self.sparsity:
            loss = loss + layer.penalty
        return loss, diff / n


def sparse_autoencoder(input_dim, hidden=(196, 64), feedback="bp", sparsity=3.0, target=0.05,
                       kind="kl", rng=None, dtype=None):
    """Build the two-hidden-layer sparse autoencoder as a ``Sequential``.

    Args:
        input_dim: D (e.g. 784 for 28x28 digits).
        hidden: (H1, H2).
        feedback: "bp" or "fa" for every Linear layer.
        sparsity: beta (0 turns the penalty off).
        target: rho.
        kind: "kl" or "l1".
        rng: seed or Generator for the weights (and feedback matrices).

    Layers: 0 Linear(D, H1), 1 Sigmoid, 2 ActivitySparsity, 3 Linear(H1, H2),
    4 Sigmoid, 5 ActivitySparsity, 6 Linear(H2, D), 7 Sigmoid. The first
    layer's filters are the columns of ``model[0].params["W"]`` (D, H1).
    Train with ``Trainer(..., loss_fn=AutoencoderLoss(model), accuracy=False)``
    and targets equal to the inputs.
    """
    rng = make_rng(rng)
    h1, h2 = hidden

    def lin(d, m):
        # sigmoid units: Xavier-style scale 1/sqrt(fan_in)
        return Linear(d, m, rng=rng, weight_scale=1 / np.sqrt(d), feedback=feedback, dtype=dtype)

    return Sequential(
        lin(input_dim, h1), Sigmoid(), ActivitySparsity(sparsity, target, kind),
        lin(h1, h2), Sigmoid(), ActivitySparsity(sparsity, target, kind),
        lin(h2, input_dim), Sigmoid(),
    )
