"""Hold a validation set out of the training data (never select on the test set).

Every lesson chooses its epoch (the Trainer keeps the parameters of the epoch
with the best validation accuracy) and compares settings on data carved out
of the *training* split; the test split is read once, at the end, by the
chosen model::

    data = train_val_split(X, y, n_val=500, rng=seed)    # Trainer data: X_train, y_train, X_val, y_val
    trainer = Trainer(model, data, ...); trainer.fit()
    trainer.restore_best()                                # the epoch chosen on validation
    test_loss, test_acc = trainer.evaluate(to_device(X_test), to_device(y_test))
"""
import numpy as np


def train_val_split(X, y, n_val, rng=0):
    """Shuffle a training set once and hold out ``n_val`` examples for validation.

    Args:
        X: (N, ...) inputs; y: (N, ...) targets (labels, or the inputs themselves
            for an autoencoder). Host (NumPy) arrays.
        n_val: how many examples to hold out: an int in [1, N - 1], or a float
            in (0, 1) for that fraction of N (rounded, at least 1).
        rng: seed or ``numpy.random.Generator`` for the shuffle.

    Returns:
        dict with ``X_train``, ``y_train`` (N - n_val examples) and ``X_val``,
        ``y_val`` (n_val examples), ready to pass to ``Trainer``. The two parts
        never share an example.
    """
    n = len(X)
    if len(y) != n:
        raise ValueError(f"train_val_split: {n} inputs but {len(y)} targets")
    if isinstance(n_val, float) and not isinstance(n_val, bool):
        if not 0 < n_val < 1:
            raise ValueError(f"train_val_split: a fraction n_val must be in (0, 1), got {n_val}")
        n_val = max(1, int(round(n_val * n)))
    if isinstance(n_val, bool) or not isinstance(n_val, (int, np.integer)) or not 1 <= n_val < n:
        raise ValueError(f"train_val_split: n_val must be an int in [1, {n - 1}] or a fraction in (0, 1) "
                         f"to leave training examples out of {n}, got {n_val!r}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    order = rng.permutation(n)
    val, train = order[:n_val], order[n_val:]
    return {"X_train": X[train], "y_train": y[train], "X_val": X[val], "y_val": y[val]}
