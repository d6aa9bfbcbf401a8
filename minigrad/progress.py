"""How every training run shows its progress: one compact line per epoch, and a short
line during an epoch whenever ``every`` seconds passed without output.

    minigrad: backend numpy 2.4 on CPU; 1000 training examples, 10 steps per epoch
      epoch 3/20  step 120/500  loss 1.234  (10s)
    epoch 3/20  train loss 1.201 acc 0.563  val loss 1.312 acc 0.521  (24.1s)

Numbers print in four significant digits (``fmt``): a diverging loss reads
``3.2e+22``, not as 23 digits. ``Trainer(progress=False)`` turns it all off.
"""
import time


def fmt(x):
    """A number in compact form: 4 significant digits, exponent when large or small."""
    try:
        return f"{float(x):.4g}"
    except (TypeError, ValueError):
        return str(x)


class Progress:
    """The per-epoch lines of one Trainer (silent when ``enabled`` is False)."""

    def __init__(self, enabled=True, every=10.0):
        self.enabled, self.every = enabled, every
        self.last = time.perf_counter()

    def say(self, text):
        if self.enabled:
            print(text, flush=True)
            self.last = time.perf_counter()

    def start_epoch(self):
        self.epoch_start = self.last = time.perf_counter()

    def step(self, epoch, epochs, step, steps, loss_value):
        """Called after every step: prints only when ``every`` seconds went by silently."""
        now = time.perf_counter()
        if self.enabled and now - self.last >= self.every:
            self.say(f"  epoch {epoch}/{epochs}  step {step}/{steps}  loss {fmt(loss_value)}  "
                     f"({now - self.epoch_start:.0f}s)")

    def end_epoch(self, epoch, epochs, train_loss, train_acc, val_loss, val_acc, seconds, accuracy, validation):
        text = f"epoch {epoch}/{epochs}  train loss {fmt(train_loss)}"
        if accuracy:
            text += f" acc {train_acc:.3f}"
        if validation:
            text += f"  val loss {fmt(val_loss)}" + (f" acc {val_acc:.3f}" if accuracy else "")
        self.say(text + f"  ({seconds:.1f}s)")
