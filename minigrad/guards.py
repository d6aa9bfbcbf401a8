"""The Trainer's numeric guards: bad data at the door, a NaN loss, a loss that explodes.

- ``check_finite(X, name)``: data holding NaN or inf is refused when the Trainer
  is built, naming the first bad example (``X_train[17]``), so a NaN loss later
  can only come from training itself.
- ``LossGuard``: watches the losses while training.
  ``step(loss)`` stops the run (``FloatingPointError``) when a step's loss is NaN
  or inf, naming epoch and step and the checkpoint that keeps the last good
  state; ``epoch_end(train_loss, val_loss)`` stops it when the validation loss
  is NaN or inf (never recorded silently), and warns (``LossExplodedWarning``)
  once when the training loss grows beyond ``explode_factor`` times its first
  value: training goes on, since a lesson may show a divergence on purpose.
"""
import warnings

import numpy as np

from .backend import to_numpy, xp
from .progress import fmt


class LossExplodedWarning(RuntimeWarning):
    """The training loss grew far beyond its first value (the run goes on)."""


def check_finite(X, name):
    """Raise ValueError naming the first example of ``X`` (N, ...) that holds NaN or inf."""
    if X is None or X.dtype.kind != "f" or len(X) == 0:
        return
    bad = ~xp.isfinite(X.reshape(len(X), -1)).all(axis=1)          # (N,) on the device
    if bool(to_numpy(bad.any())):
        first = int(to_numpy(bad.argmax()))
        count = int(to_numpy(bad.sum()))
        raise ValueError(f"Trainer: bad data: {name}[{first}] holds NaN or inf ({count} of {len(X)} examples "
                         f"do); clean or drop them before training")


class LossGuard:
    """Checks every step's loss and every epoch's losses of one Trainer (see module docstring)."""

    def __init__(self, trainer, explode_factor=1e6):
        self.trainer, self.explode_factor = trainer, explode_factor
        self.warned = False

    def _last_good(self):
        t = self.trainer
        if t.checkpoint:
            return f" The last good state (after epoch {t.epoch}) is saved in {t.checkpoint}."
        return ""

    def step(self, loss_value, step):
        """Stop on a NaN or inf loss in step ``step`` (0-based) of the current epoch."""
        if not np.isfinite(loss_value):
            t = self.trainer
            raise FloatingPointError(f"Trainer: the loss became NaN or inf in epoch {t.epoch + 1}, step {step + 1} "
                                     "(the data is finite: try a smaller learning rate)." + self._last_good())

    def epoch_end(self, train_loss, val_loss):
        """Stop on a NaN/inf validation loss; warn once about an exploding training loss."""
        t = self.trainer
        if not np.isfinite(val_loss) and t.X_val is not None:
            raise FloatingPointError(f"Trainer: the validation loss became {val_loss} in epoch {t.epoch + 1} "
                                     f"(training loss {fmt(train_loss)}); it is not recorded." + self._last_good())
        first = t.loss_steps[0] if t.loss_steps else None
        if (not self.warned and first is not None and np.isfinite(first) and first > 0
                and train_loss > self.explode_factor * first):
            self.warned = True
            warnings.warn(f"Trainer: the training loss exploded in epoch {t.epoch + 1}: {fmt(train_loss)}, "
                          f"{train_loss / first:.0e} times the first step's {fmt(first)} (training goes on)",
                          LossExplodedWarning, stacklevel=4)
