"""Optimizers and learning-rate schedules.

Every optimizer has one call shape::

    opt.step(params, grads)

where ``params`` and ``grads`` are dicts name -> array with the same keys
(``model.params`` and ``model.grads``). Parameters are updated **in place**, so
the layers see the new values; per-parameter state (velocities, moments) is
kept in ``opt.state[name]``. ``opt.lr`` may be changed between steps (that is
what the schedules do).

Schedules are called once per epoch::

    sched.step(epoch_loss)      # ReduceLROnPlateau reads the loss; StepLR ignores it
"""
from .backend import xp


class Optimizer:
    def __init__(self, lr):
        if lr <= 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr}")
        self.lr = lr
        self.state = {}

    def step(self, params, grads):
        for name, p in params.items():
            if name in grads:
                self.update(name, p, grads[name])

    def update(self, name, p, g):
        raise NotImplementedError


class SGD(Optimizer):
    """p <- p - lr * (g + weight_decay * p)."""

    def __init__(self, lr=1e-2, weight_decay=0.0):
        super().__init__(lr)
        self.weight_decay = weight_decay

    def update(self, name, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        p -= self.lr * g


class Momentum(Optimizer):
    """Heavy-ball momentum:  v <- mu * v - lr * g;  p <- p + v."""

    def __init__(self, lr=1e-2, momentum=0.9, weight_decay=0.0):
        super().__init__(lr)
        self.momentum, self.weight_decay = momentum, weight_decay

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
        super().__init__(lr)
        self.beta1, self.beta2, self.eps, self.weight_decay = beta1, beta2, eps, weight_decay

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


class StepLR:
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
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
    """

    def __init__(self, optimizer, factor=10.0, patience=3, threshold=1e-4, min_lr=0.0):
        if factor <= 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be > 1 (the lr is divided by it), got {factor}")
        self.optimizer, self.factor, self.patience = optimizer, factor, patience
        self.threshold, self.min_lr = threshold, min_lr
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
