"""The training loop: epochs, mini-batches, evaluation, update rules.

This file is the loop itself; three parts live beside it, each readable alone:
``checkpoint.py`` (what a checkpoint holds, atomic writes, when resuming is
allowed), ``guards.py`` (NaN/inf data, a NaN loss, an exploding loss) and
``progress.py`` (the per-epoch lines every run prints).

One epoch visits every training example exactly once, in an order given by a
fresh permutation from the trainer's seeded generator (sampling without
replacement). Per step::

    scores = model.forward(xb)                    (N, ...) -> (N, C)
    loss, dscores = loss_fn(scores, yb)
    model.backward(dscores)                       fills every layer's grads
    loss += p.value(params)    for each penalty   terms of the loss that depend on the parameters only
    grads[k] += p.grad(params)[k]                 ... and their gradients (minigrad/penalties.py)
    rule.before_step(trainer)  for each rule      may change trainer.grads (corrections, clipping)
    optimizer.step(model.params, trainer.grads)   in-place update
    rule.after_step(trainer)   for each rule      may change params (sign constraints, projections)

After each epoch the model is evaluated (eval mode) on the validation data,
the histories grow, the best parameters (by validation accuracy) are kept, the
schedule steps, and a checkpoint is written atomically (temporary file, then
``os.replace``), so an interrupted run resumes from the last finished epoch with
``Trainer(..., checkpoint=path, resume=True)``. Resuming refuses, naming what
differs, unless the checkpoint's fingerprint (model structure, optimizer and its
settings, schedule, batch size, data, rules, loss, the source of ``minigrad`` and
of the running lesson) equals this run's; and a Trainer refuses to start over
an unfinished run's checkpoint unless told ``resume=True`` or ``fresh=True``
(never lose a run). A checkpoint holds the model's
parameters and buffers, the optimizer, the schedule, the histories, the best
parameters, the shuffling generator, the random streams of layers that draw
per batch (``Dropout``; on NumPy only: CuPy keeps generator states on the device,
and there they restart from their seeds) and the state of every rule that has
``state_dict()``/``load_state_dict(d)`` (build the rules again the same way
before resuming; the Trainer puts their state back).

Penalties (``minigrad.penalties``: ``L1``, ``L2``, the E/I separation
penalties) are the one way a term that depends on the parameters alone enters
training: ``Trainer(..., penalties=[L1(1e-3, keys=("Wa", "Wl")), ...])``. Each
penalty's ``value`` is added to the step's loss (so ``loss_steps`` and the
``train_loss`` history are the whole objective that is minimised; validation
and test losses stay the data loss alone) and its ``grad`` to ``trainer.grads``
before any rule's ``before_step``, so rules (clipping, corrections) see the
gradient of the whole objective. Their settings enter the resume fingerprint.

Update rules are objects with any of these methods (all optional):

- ``attach(trainer)``: once, when the Trainer is built (model, optimizer, rules
  and schedule set); may raise to refuse a combination the rule cannot handle;
- ``before_step(trainer)``: after backward, before the optimizer; read/modify
  ``trainer.grads`` (a dict name -> array that the optimizer will use);
- ``after_step(trainer)``: after the optimizer; modify ``trainer.model.params``
  in place;
- ``end_epoch(trainer)``: after evaluation; may add entries to
  ``trainer.history`` (e.g. alignment angles) which are saved with it;
- ``state_dict()`` / ``load_state_dict(state)``: what the rule carries from step
  to step (running averages, records, its random stream) as a dict name ->
  array or JSON-able value, saved in checkpoints and restored on resume.

A rule's settings enter the checkpoint's fingerprint when it keeps its
constructor arguments as attributes of the same name (``self.max_norm = max_norm``):
resuming with other settings is then refused. Layers, optimizers and schedules
are fingerprinted the same way.
"""
import numbers
import os
import time


from . import checkpoint as ckpt
from .backend import DEFAULT_DTYPE, describe, make_rng, to_device, to_float, to_numpy
from .guards import LossGuard, check_finite
from .nn.losses import softmax_cross_entropy
from .progress import Progress


def _count(name, value, low):
    """An integer argument >= ``low`` (bools and floats refused), as a Python int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Trainer: {name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < low:
        raise ValueError(f"Trainer: {name} must be >= {low}, got {value}")
    return int(value)


def predicted(scores):
    """The class each example is given: argmax of (N, C) scores; of sequence scores (N, T, C)
    (a readout at every step), the last step's, the one that has read the whole sequence."""
    return (scores[:, -1] if scores.ndim == 3 else scores).argmax(axis=1)


class Trainer:
    """Train ``model`` on in-memory data.

    Args:
        model: a Layer (usually ``Sequential``).
        data: dict with ``X_train``, ``y_train`` and optionally ``X_val``, ``y_val``
            (NumPy or backend arrays; X already normalised, floating, finite). The
            training set is moved to the device once.
        optimizer: an ``minigrad.optim`` optimizer.
        loss_fn: ``(scores, y) -> (loss, dscores)``; default softmax cross-entropy.
        batch_size: mini-batch size (the last batch of an epoch may be smaller).
        epochs: number of epochs to train.
        rng: int seed or Generator for the shuffling.
        rules: list of update rules (see module docstring).
        penalties: list of penalties (``minigrad.penalties``): each one's ``value(params)`` is
            added to the training loss and its ``grad(params)`` to the gradients, every step.
        scheduler: optional object with ``step(epoch_train_loss)``.
        checkpoint: path of the .npz checkpoint written after each epoch, or None.
        resume: if True and ``checkpoint`` exists, continue from it (it must match
            this run, see ``checkpoint.py``); if it does not exist, say so and start afresh.
        fresh: if True, replace an existing checkpoint even when its run is unfinished
            (without ``resume`` or ``fresh``, an unfinished run's checkpoint is refused).
        progress: print one compact line per epoch (and one during long epochs).
        eval_batch_size: batch size for evaluation passes.
        accuracy: compute accuracies (set False for regression/autoencoders); for
            sequence scores (N, T, C) the accuracy of the last step (``predicted``).
        dtype: the float dtype data is cast to (default: the model's parameter dtype).

    After ``fit()``: ``history`` holds per-epoch ``train_loss``, ``train_acc``,
    ``val_loss``, ``val_acc``, ``lr``, ``epoch_time`` (wall time of the whole epoch:
    steps, evaluation and the rules' measurements) and whatever rules add;
    ``loss_steps`` holds the loss of every step, ``best_params`` the parameters of
    the best epoch and ``best_buffers`` its buffers (BatchNorm's running statistics
    belong to the weights they were gathered with).
    """

    def __init__(self, model, data, optimizer, loss_fn=softmax_cross_entropy, batch_size=100,
                 epochs=10, rng=0, rules=(), penalties=(), scheduler=None, checkpoint=None, resume=False, fresh=False,
                 progress=True, eval_batch_size=1000, accuracy=True, dtype=None):
        missing = {"X_train", "y_train"} - set(data)
        if missing:
            raise ValueError(f"Trainer: data is missing {sorted(missing)}")
        unknown = set(data) - {"X_train", "y_train", "X_val", "y_val"}
        if unknown:
            raise ValueError(f"Trainer: unknown data keys {sorted(unknown)}; "
                             "expected X_train, y_train, X_val, y_val")
        if ("X_val" in data) != ("y_val" in data):
            given, absent = ("X_val", "y_val") if "X_val" in data else ("y_val", "X_val")
            raise ValueError(f"Trainer: data has {given} but no {absent}: give both or neither")
        self.batch_size = _count("batch_size", batch_size, 1)
        self.epochs = _count("epochs", epochs, 0)
        self.eval_batch_size = _count("eval_batch_size", eval_batch_size, 1)
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.rules, self.scheduler = list(rules), scheduler
        self.penalties = list(penalties)
        for p in self.penalties:
            if not (hasattr(p, "value") and hasattr(p, "grad")):
                raise TypeError(f"Trainer: a penalty needs value(params) and grad(params), got {p!r}")
            if not p.grad(model.params):           # a misspelt name fails here (KeyError), not silently
                raise ValueError(f"Trainer: the penalty {p!r} reads none of the model's parameters "
                                 f"({sorted(model.params)})")
        for rule in self.rules:
            if hasattr(rule, "attach"):
                rule.attach(self)
        self.checkpoint, self.accuracy = checkpoint, accuracy
        self.progress = Progress(progress)
        self.guard = LossGuard(self)
        self.rng = make_rng(rng)
        params = list(model.params.values())
        self.dtype = dtype or (params[0].dtype if params else DEFAULT_DTYPE)
        self._label_max = None                      # the largest class label, until the first step checks it
        self.X_train, self.y_train = self._to_device(data["X_train"], data["y_train"], "train")
        self.X_val = self.y_val = None
        if "X_val" in data:
            self.X_val, self.y_val = self._to_device(data["X_val"], data["y_val"], "val")
        self.epoch = 0
        self.step_count = 0
        self.history = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": [],
                        "lr": [], "epoch_time": []}
        self.loss_steps = []
        self.best_score = -float("inf")
        self.best_params = None
        self.best_buffers = None
        self.best_epoch = None
        self.grads = {}
        self.fingerprint = ckpt.fingerprint(self)      # what produced this run, before a resume changes anything
        self.ended = None                               # why a resumed run had ended early (its loss became NaN)
        if checkpoint:
            self._open_checkpoint(checkpoint, resume, fresh)

    def _open_checkpoint(self, path, resume, fresh):
        """Resume from ``path``, or make sure starting afresh loses no unfinished run."""
        folder = os.path.dirname(path) or "."
        ckpt.remove_stale_temps(folder)
        if not os.path.exists(path):
            if resume:
                print(f"minigrad: no checkpoint at {path} to resume: starting afresh", flush=True)
            return
        if resume:
            self.load_checkpoint(path)
        elif not fresh:
            try:
                meta = ckpt.read_meta(path)
            except ckpt.CheckpointError:
                print(f"minigrad: replacing the damaged checkpoint {path}", flush=True)
                return
            if ckpt.unfinished(meta):
                of = f" of {meta['epochs']}" if meta.get("epochs") is not None else ""
                raise ckpt.CheckpointError(
                    f"checkpoint {path} holds an unfinished run (epoch {meta['epoch']}{of}): continue it with "
                    f"--resume (Trainer(resume=True)), or start afresh and replace it with --fresh "
                    f"(Trainer(fresh=True))")

    def _to_device(self, X, y, split="test"):
        """Check ``X``, ``y`` of one split (train, val, test) and move them to the device in the Trainer's dtype."""
        if len(X) != len(y):
            raise ValueError(f"Trainer: {len(X)} inputs but {len(y)} targets")
        if len(X) == 0:
            raise ValueError(f"Trainer: the {dict(train='training', val='validation').get(split, split)} set is empty"
                             + (" (leave out X_val and y_val to train without one)" if split == "val" else ""))
        X = to_device(X)
        if X.dtype.kind != "f":
            raise TypeError(f"Trainer: inputs must be floating point (normalise them first), got {X.dtype}")
        y = to_device(y)
        if y.dtype.kind in "iu" and len(y):
            # class labels, checked once: a label out of range fails deep inside the loss
            # (NumPy) or silently picks another class (-1 wraps around; CuPy wraps any)
            low, high = int(to_numpy(y.min())), int(to_numpy(y.max()))
            if low < 0:
                raise ValueError(f"Trainer: class labels must be >= 0, got {low}")
            self._label_max = high if self._label_max is None else max(self._label_max, high)
        X = X.astype(self.dtype, copy=False)
        y = y.astype(self.dtype, copy=False) if y.dtype.kind == "f" else y
        check_finite(X, f"X_{split}")               # after the cast: 1e39 becomes inf in float32
        check_finite(y, f"y_{split}")
        return X, y

    # ------------------------------------------------------------------ steps
    def train_step(self, xb, yb):
        """One forward/backward/update on a batch; returns ``(loss, scores)``: the loss as a
        device scalar and the model's output (N, C) for that batch."""
        scores = self.model.forward(xb)
        if self._label_max is not None:             # first step: the labels fit the model's scores
            if scores.ndim in (2, 3) and self._label_max >= scores.shape[-1]:
                raise ValueError(f"Trainer: the labels go up to {self._label_max} but the model gives "
                                 f"{scores.shape[-1]} scores per example (classes 0..{scores.shape[-1] - 1})")
            self._label_max = None
        loss, dscores = self.loss_fn(scores, yb)
        # Nothing uses the gradient of the input batch: the first layer may skip it
        # (as PyTorch does for inputs without requires_grad). Parameter gradients are unchanged.
        first = self._input_layer()
        if first is not None:
            keep, first.needs_input_grad = first.needs_input_grad, False
        try:
            self.model.backward(dscores)
        finally:
            if first is not None:
                first.needs_input_grad = keep
        self.grads = self.model.grads
        loss = self._add_penalties(loss)
        for rule in self.rules:
            if hasattr(rule, "before_step"):
                rule.before_step(self)
        self.optimizer.step(self.model.params, self.grads)
        for rule in self.rules:
            if hasattr(rule, "after_step"):
                rule.after_step(self)
        self.step_count += 1
        return loss, scores

    def _add_penalties(self, loss):
        """Add every penalty's value to ``loss`` (returned) and its gradient to ``self.grads``."""
        params = self.model.params
        for p in self.penalties:
            loss = loss + p.value(params)
            for name, g in p.grad(params).items():
                self.grads[name] = self.grads[name] + g    # new arrays: the layers' own grads stay data-only
        return loss

    def _input_layer(self):
        """The layer that reads the input batch, if it can skip computing dx (``needs_input_grad``)."""
        first = next(self.model.named_layers(), (None, None))[1]
        return first if hasattr(type(first), "needs_input_grad") else None

    def evaluate(self, X, y):
        """Mean loss and accuracy on (X, y) in eval mode, in batches. Returns host floats."""
        self.model.eval()
        total_loss, correct, n = 0.0, 0, len(X)
        for i in range(0, n, self.eval_batch_size):
            xb, yb = X[i:i + self.eval_batch_size], y[i:i + self.eval_batch_size]
            scores = self.model.forward(xb)
            loss, _ = self.loss_fn(scores, yb)
            total_loss += to_float(loss) * len(xb)
            if self.accuracy:
                correct = correct + (predicted(scores) == yb).sum()       # summed on the device
        self.model.train()
        return total_loss / n, (to_float(correct) / n if self.accuracy else float("nan"))

    def fit(self):
        """Train for the remaining epochs; returns ``history``.

        A run resumed from a checkpoint whose run ended early (its loss became NaN) is not
        trained again: it raises the same ``FloatingPointError`` (start it again with ``fresh``)."""
        if self.ended:
            raise FloatingPointError(f"Trainer: the run of {self.checkpoint} ended early ({self.ended}); "
                                     "it is not trained again (start it afresh with --fresh, Trainer(fresh=True))")
        n = len(self.X_train)
        steps = (n + self.batch_size - 1) // self.batch_size
        if self.epoch < self.epochs:
            self.progress.say(f"minigrad: {describe()}; {n} training examples, {steps} steps per epoch")
        self.model.train()
        if self.checkpoint and (self.epoch == 0 or not os.path.exists(self.checkpoint)):
            self.save_checkpoint(self.checkpoint)     # a good state to fall back on
        try:
            while self.epoch < self.epochs:
                self._epoch(n, steps)
        except FloatingPointError:                    # a guard stopped the run: it ended, it was not interrupted
            if self.checkpoint:
                ckpt.mark_ended(self.checkpoint, "the loss became NaN or inf")
            raise
        return self.history

    def _epoch(self, n, steps):
        start = time.perf_counter()
        self.progress.start_epoch()
        order = to_device(self.rng.permutation(n))
        loss_sum, correct = 0.0, 0
        for s in range(steps):
            idx = order[s * self.batch_size:(s + 1) * self.batch_size]
            xb, yb = self.X_train[idx], self.y_train[idx]
            loss, scores = self.train_step(xb, yb)
            loss_value = to_float(loss)
            self.guard.step(loss_value, s)
            self.loss_steps.append(loss_value)
            loss_sum += loss_value * len(idx)
            if self.accuracy:
                correct = correct + (predicted(scores) == yb).sum()      # on the device: no sync
            self.progress.step(self.epoch + 1, self.epochs, s + 1, steps, loss_value)
        self._end_epoch(loss_sum / n, to_float(correct) / n if self.accuracy else float("nan"), start)

    def _end_epoch(self, train_loss, train_acc, start):
        if self.X_val is not None:
            val_loss, val_acc = self.evaluate(self.X_val, self.y_val)
        else:
            val_loss, val_acc = float("nan"), float("nan")
        self.guard.epoch_end(train_loss, val_loss)
        h = self.history
        h["train_loss"].append(train_loss)
        h["train_acc"].append(train_acc)
        h["lr"].append(self.optimizer.lr)
        h["val_loss"].append(val_loss)
        h["val_acc"].append(val_acc)
        # the best epoch: highest accuracy, or lowest loss when there is no accuracy,
        # on the validation data (on the training data when there is none)
        loss, acc = (val_loss, val_acc) if self.X_val is not None else (train_loss, train_acc)
        score = acc if self.accuracy else -loss
        if self.best_params is None or score > self.best_score:
            self.best_score, self.best_epoch = score, self.epoch + 1
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
            self.best_buffers = {k: v.copy() for k, v in self.model.buffers.items()}
        for rule in self.rules:
            if hasattr(rule, "end_epoch"):
                rule.end_epoch(self)
        if self.scheduler is not None:
            self.scheduler.step(train_loss)
        self.epoch += 1
        seconds = time.perf_counter() - start         # the whole epoch: steps, evaluation, measurements
        h["epoch_time"].append(seconds)
        self.progress.end_epoch(self.epoch, self.epochs, train_loss, train_acc, val_loss, val_acc, seconds,
                                self.accuracy, self.X_val is not None)
        if self.checkpoint:
            self.save_checkpoint(self.checkpoint)

    def restore_best(self):
        """Copy the best epoch's parameters and buffers back into the model (in place).

        The buffers matter for batchnorm: the best epoch's weights evaluated with the last
        epoch's running statistics would be a model that never existed.
        """
        if self.best_params is not None:
            for k, v in self.model.params.items():
                v[...] = self.best_params[k]
            for k, v in self.model.buffers.items():
                v[...] = self.best_buffers[k]

    # ------------------------------------------------------------ checkpoints (see checkpoint.py)
    def state(self):
        """Everything needed to resume, as host arrays and a JSON-able meta dict."""
        return ckpt.trainer_state(self)

    def save_checkpoint(self, path):
        """Write the state to ``path`` atomically: a temporary file, then a rename."""
        ckpt.write(path, *self.state())

    def load_checkpoint(self, path):
        """Restore model, optimizer, schedule, histories and shuffling state from ``path``.

        Refuses (``checkpoint.CheckpointError``, a ValueError) a damaged file or one made
        by another setup, naming what differs."""
        arrays, meta = ckpt.read(path)
        ckpt.check_resumable(path, meta, self.fingerprint)
        ckpt.restore(self, path, arrays, meta)
        self.ended = meta.get("ended")
        done = (f" (ended early: {self.ended}; nothing to train)" if self.ended else
                " (finished: nothing to train)" if meta["epoch"] >= self.epochs else "")
        self.progress.say(f"minigrad: resumed from {path} after epoch {self.epoch}{done}")
