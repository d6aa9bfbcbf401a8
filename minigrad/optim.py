"""Optimizers and learning-rate schedules.

Every optimizer has one call shape::

    opt.step(params, grads)

where ``params`` and ``grads`` are dicts name -> array with the same keys
(``model.params`` and ``model.grads``). Parameters are updated **in place**, so
the layers see the new values; per-parameter state (velocities, moments) is
kept in ``opt.state[name]``. ``opt.lr`` may be changed between steps (that is
what the schedules do); every value it is given, then or at construction, must
be a finite number > 0 (a ``ValueError`` names the optimizer otherwise). The
other hyperparameters are checked when the optimizer is built: momentum and
Adam's betas in [0, 1), eps > 0, weight_decay >= 0.

Schedules are called once per epoch::

    sched.step(epoch_loss)      # ReduceLROnPlateau reads the loss; StepLR ignores it
"""
from .backend import xp
from .nn.base import check_arg


class Optimizer:
    def __init__(self, lr, weight_decay=0.0):
        self.lr = lr
        self.weight_decay = check_arg(self, "weight_decay", weight_decay, 0)
        self.state = {}

    @property
    def lr(self):
        """The learning rate; setting it (a schedule, a lesson) checks it is a finite number > 0."""
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = check_arg(self, "lr", value, 0, low_open=True)

    def step(self, params, grads):
        for name, p in params.items():
            if name in grads:
                self.update(name, p, grads[name])

    def update(self, name, p, g):
        raise NotImplementedError


class SGD(Optimizer):
    """p <- p - lr * (g + weight_decay * p)."""

    def __init__(self, lr=1e-2, weight_decay=0.0):
        super().__init__(lr, weight_decay)

    def update(self, name, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        p -= self.lr * g


class Momentum(Optimizer):
    """Heavy-ball momentum:  v <- mu * v - lr * g;  p <- p + v."""

    def __init__(self, lr=1e-2, momentum=0.9, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum = check_arg(self, "momentum", momentum, 0, 1, high_open=True)

    def update(self, name, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        v = self.state.get(name)
        if v is None:
            v = self.state[name] = xp.zeros_like(p)
        v *= self.momentum
        v -= self.lr * g
        p += v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction; weight_decay is L2 added to g::

        m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
        p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.beta1 = check_arg(self, "beta1", beta1, 0, 1, high_open=True)
        self.beta2 = check_arg(self, "beta2", beta2, 0, 1, high_open=True)
        self.eps = check_arg(self, "eps", eps, 0, low_open=True)

    def update(self, name, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        s = self.state.get(name)
        if s is None:
            s = self.state[name] = {"m": xp.zeros_like(p), "v": xp.zeros_like(p), "t": 0}
        s["t"] += 1
        b1, b2 = self.beta1, self.beta2
        s["m"] *= b1
        s["m"] += (1 - b1) * g
        s["v"] *= b2
        s["v"] += (1 - b2) * (g * g)
        m_hat = s["m"] / (1 - b1 ** s["t"])
        v_hat = s["v"] / (1 - b2 ** s["t"])
        p -= self.lr * m_hat / (xp.sqrt(v_hat) + self.eps)


def check_optimizer(schedule, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(schedule).__name__}: expected a minigrad.optim optimizer as its first argument, "
                        f"got {type(optimizer).__name__}")


class StepLR:
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Args:
        optimizer: a ``minigrad.optim`` optimizer.
        step_size: epochs between two changes, an integer >= 1.
        gamma: the factor, a finite number > 0 (< 1 decays).
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        check_optimizer(self, optimizer)
        self.optimizer = optimizer
        self.step_size = check_arg(self, "step_size", step_size, 1, integer=True)
        self.gamma = check_arg(self, "gamma", gamma, 0, low_open=True)
        self.epoch = 0

    def step(self, loss=None):
        self.epoch += 1
        if self.epoch % self.step_size == 0:
            self.optimizer.lr *= self.gamma

    def state_dict(self):
        return {"epoch": self.epoch}

    def load_state_dict(self, d):
        self.epoch = d["epoch"]


class ReduceLROnPlateau:
    """Divide the learning rate by ``factor`` after ``patience`` epochs without
    improvement of the (training) loss passed to ``step``.

    An epoch improves when loss < best * (1 - threshold).

    Args:
        optimizer: a ``minigrad.optim`` optimizer.
        factor: the lr is divided by it, a finite number > 1.
        patience: epochs without improvement before a division, an integer >= 0.
        threshold: relative improvement that counts, in [0, 1).
        min_lr: the lr is never divided below it, >= 0.
    """

    def __init__(self, optimizer, factor=10.0, patience=3, threshold=1e-4, min_lr=0.0):
        check_optimizer(self, optimizer)
        self.optimizer = optimizer
        self.factor = check_arg(self, "factor (the lr is divided by it)", factor, 1, low_open=True)
        self.patience = check_arg(self, "patience", patience, 0, integer=True)
        self.threshold = check_arg(self, "threshold", threshold, 0, 1, high_open=True)
        self.min_lr = check_arg(self, "min_lr", min_lr, 0)
        self.best, self.bad_epochs = float("inf"), 0

    def step(self, loss):
        loss = float(loss)
        if loss < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = loss, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            self.optimizer.lr = max(self.optimizer.lr / self.factor, self.min_lr)
            self.bad_epochs = 0

    def state_dict(self):
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, d):
        self.best, self.bad_epochs = d["best"], d["bad_epochs"]
