"""Losses and weight penalties. Each returns ``(loss, gradient)``.

``loss`` is a 0-d array of the backend (convert with ``backend.to_float`` for
logging); the gradient has the shape of the input it is taken against.
"""
from ..backend import xp


def softmax_cross_entropy(scores, y):
    """Mean softmax cross-entropy over the batch.

    Args:
        scores: (N, C) class scores (logits).
        y: (N,) integer labels in [0, C).
    Returns:
        loss: 0-d array, -(1/N) sum_i log softmax(scores_i)[y_i].
        dscores: (N, C), (softmax(scores) - onehot(y)) / N.

    Stable: scores are shifted by their row maximum before exponentiating
    (softmax is unchanged by a shift), and the log-probability is computed as
    shifted - log(sum(exp(shifted))) rather than log(softmax).
    """
    if scores.ndim != 2:
        raise ValueError(f"softmax_cross_entropy: expected scores of shape (N, C), got {tuple(scores.shape)}")
    if y.shape != (scores.shape[0],):
        raise ValueError(f"softmax_cross_entropy: expected labels of shape ({scores.shape[0]},), got {tuple(y.shape)}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"softmax_cross_entropy: labels must be integers, got dtype {y.dtype}")
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_z = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_z                                 # (N, C)
    rows = xp.arange(n)
    loss = -log_probs[rows, y].sum() / n
    dscores = xp.exp(log_probs)                                 # softmax
    dscores[rows, y] -= 1
    dscores /= n
    return loss, dscores


def sequence_cross_entropy(scores, y):
    """Softmax cross-entropy at every time step, averaged over steps and batch.

    For an RNN with a readout at every step, y(t) = softmax(U h(t)) (Khandwala &
    Bedi, section 2.5), each step t has its own target.

    Args:
        scores: (N, T, C) class scores of every step.
        y: (N, T) integer targets of every step, or (N,): the same target at
            every step (a sequence label, e.g. the digit a row-by-row MNIST
            sequence shows).
    Returns:
        loss: 0-d array, -(1/(N T)) sum_{i,t} log softmax(scores_it)[y_it].
        dscores: (N, T, C), (softmax(scores_it) - onehot(y_it)) / (N T).

    It is ``softmax_cross_entropy`` over the N*T rows (the mean over steps, so
    a learning rate means the same as with one readout; CS231n's
    temporal_softmax_loss sums over steps, which is T times larger).
    """
    if scores.ndim != 3:
        raise ValueError(f"sequence_cross_entropy: expected scores of shape (N, T, C), got {tuple(scores.shape)}")
    N, T, C = scores.shape
    if y.shape == (N,):
        y = xp.broadcast_to(y[:, None], (N, T))
    if y.shape != (N, T):
        raise ValueError(f"sequence_cross_entropy: expected targets of shape ({N}, {T}) or ({N},), "
                         f"got {tuple(y.shape)}")
    loss, drows = softmax_cross_entropy(scores.reshape(N * T, C), y.reshape(N * T))
    return loss, drows.reshape(N, T, C)


def mse_loss(pred, target):
    """Mean squared error, averaged over every element.

    Args:
        pred, target: arrays of the same shape S.
    Returns:
        loss = mean((pred - target)**2);  dpred (S) = 2 (pred - target) / size.
    """
    if pred.shape != target.shape:
        raise ValueError(f"mse_loss: pred has shape {tuple(pred.shape)} but target has {tuple(target.shape)}")
    diff = pred - target
    return (diff * diff).mean(), diff * (2.0 / diff.size)


def l2_penalty(params, reg, keys=("W",)):
    """Weight decay term  0.5 * reg * sum ||W||^2  over the named weights.

    The formula only: training adds it through ``minigrad.penalties.L2`` given to the
    Trainer (``Trainer(..., penalties=[L2(reg)])``), the one way a parameter penalty
    enters the loss and the gradients. (The optimizers' ``weight_decay`` is a different
    thing: a decay of every parameter inside the update, not a term of the reported loss.)

    Args:
        params: dict name -> array (e.g. ``model.params``).
        reg: strength.
        keys: a parameter is penalised when its name (after the last ".") is in keys.
    Returns:
        (loss, grads) where grads maps each penalised name to reg * W.
    """
    loss, grads = 0.0, {}
    for name, w in params.items():
        if name.rsplit(".", 1)[-1] in keys:
            loss = loss + 0.5 * reg * (w * w).sum()
            grads[name] = reg * w
    return loss, grads


def l1_penalty(params, reg, keys=("W",)):
    """Sparsity term  reg * sum |W|;  its (sub)gradient is reg * sign(W).

    The formula only: training adds it through ``minigrad.penalties.L1`` given to the Trainer.
    """
    loss, grads = 0.0, {}
    for name, w in params.items():
        if name.rsplit(".", 1)[-1] in keys:
            loss = loss + reg * xp.abs(w).sum()
            grads[name] = reg * xp.sign(w)
    return loss, grads
