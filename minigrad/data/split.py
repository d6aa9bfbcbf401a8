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


def train_val_split(X, y, n_val, rng=0, n_train=None):
    """Draw a training set and a validation set, disjoint, from one training split.

    One permutation of the N examples; its first ``n_train`` train, the next
    ``n_val`` validate (the rest, if any, are left out).

    Args:
        X: (N, ...) inputs; y: (N, ...) targets (labels, or the inputs themselves
            for an autoencoder). Host (NumPy) arrays.
        n_val: how many examples to hold out: an int >= 1, or a float in (0, 1)
            for that fraction of the examples drawn (rounded, at least 1).
        rng: seed or ``numpy.random.Generator`` for the permutation.
        n_train: how many to train on (None: all that are not held out).

    Returns:
        dict with ``X_train``, ``y_train``, ``X_val``, ``y_val``, ready to pass
        to ``Trainer``. The two parts never share an example.
    """
    n = len(X)
    if len(y) != n:
        raise ValueError(f"train_val_split: {n} inputs but {len(y)} targets")
    if isinstance(n_val, float):
        if not 0 < n_val < 1:
            raise ValueError(f"train_val_split: a fraction n_val must be in (0, 1), got {n_val}")
        n_val = max(1, int(round(n_val * (n if n_train is None else n_train / (1 - n_val)))))
    if isinstance(n_val, bool) or not isinstance(n_val, (int, np.integer)) or n_val < 1:
        raise ValueError(f"train_val_split: n_val must be an int >= 1 or a fraction in (0, 1), got {n_val!r}")
    n_train = n - n_val if n_train is None else n_train
    if isinstance(n_train, bool) or not isinstance(n_train, (int, np.integer)) or n_train < 1 \
            or n_train + n_val > n:
        raise ValueError(f"train_val_split: cannot draw {n_train} training and {n_val} validation examples "
                         f"from {n}: each part needs at least 1, and they must not overlap")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    order = rng.permutation(n)[: n_train + n_val]
    train, val = order[:n_train], order[n_train:]
    return {"X_train": X[train], "y_train": y[train], "X_val": X[val], "y_val": y[val]}
