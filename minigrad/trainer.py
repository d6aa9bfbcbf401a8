"""The training loop: epochs, mini-batches, evaluation, checkpoints, update rules.

One epoch visits every training example exactly once, in an order given by a
fresh permutation from the trainer's seeded generator (sampling without
replacement). Per step::

    scores = model.forward(xb)                    (N, ...) -> (N, C)
    loss, dscores = loss_fn(scores, yb)
    model.backward(dscores)                       fills every layer's grads
    rule.before_step(trainer)  for each rule      may change trainer.grads (corrections, clipping)
    optimizer.step(model.params, trainer.grads)   in-place update
    rule.after_step(trainer)   for each rule      may change params (sign constraints, projections)

After each epoch the model is evaluated (eval mode) on the validation data,
the histories grow, the best parameters (by validation accuracy) are kept, the
schedule steps, and a checkpoint is written atomically (temporary file, then
``os.replace``), so an interrupted run resumes from the last finished epoch with
``Trainer(..., checkpoint=path, resume=True)``. A checkpoint holds the model's
parameters and buffers, the optimizer, the schedule, the histories, the best
parameters, the shuffling generator, the random streams of layers that draw
per batch (``Dropout``; on NumPy only: CuPy keeps generator states on the device,
and there they restart from their seeds) and the state of every rule that has
``state_dict()``/``load_state_dict(d)`` (build the rules again the same way
before resuming; the Trainer puts their state back).

Update rules are objects with any of these methods (all optional):

- ``before_step(trainer)``: after backward, before the optimizer; read/modify
  ``trainer.grads`` (a dict name -> array that the optimizer will use);
- ``after_step(trainer)``: after the optimizer; modify ``trainer.model.params``
  in place;
- ``end_epoch(trainer)``: after evaluation; may add entries to
  ``trainer.history`` (e.g. alignment angles) which are saved with it;
- ``state_dict()`` / ``load_state_dict(state)``: what the rule carries from step
  to step (running averages, records, its random stream) as a dict name ->
  array or JSON-able value, saved in checkpoints and restored on resume.
"""
import json
import os
import time

import numpy as np

from .backend import (DEFAULT_DTYPE, describe, generator_state, make_rng, set_generator_state, to_device, to_float,
                      to_numpy)
from .nn.losses import softmax_cross_entropy

try:
    from tqdm.auto import tqdm
except ImportError:  # tqdm is a dependency, but a missing one should not stop training
    tqdm = None


class Trainer:
    """Train ``model`` on in-memory data.

    Args:
        model: a Layer (usually ``Sequential``).
        data: dict with ``X_train``, ``y_train`` and optionally ``X_val``, ``y_val``
            (NumPy or backend arrays; X already normalised, floating). The
            training set is moved to the device once.
        optimizer: an ``minigrad.optim`` optimizer.
        loss_fn: ``(scores, y) -> (loss, dscores)``; default softmax cross-entropy.
        batch_size: mini-batch size (the last batch of an epoch may be smaller).
        epochs: number of epochs to train.
        rng: int seed or Generator for the shuffling.
        rules: list of update rules (see module docstring).
        scheduler: optional object with ``step(epoch_train_loss)``.
        checkpoint: path of the .npz checkpoint written after each epoch, or None.
        resume: if True and ``checkpoint`` exists, continue from it.
        progress: show a progress bar with the live loss.
        eval_batch_size: batch size for evaluation passes.
        accuracy: compute accuracies (set False for regression/autoencoders).
        dtype: the float dtype data is cast to (default: the model's parameter dtype).

    After ``fit()``: ``history`` holds per-epoch ``train_loss``, ``train_acc``,
    ``val_loss``, ``val_acc`` (and whatever rules add), ``loss_steps`` holds the
    loss of every step, ``best_params`` the parameters of the best epoch.
    """

    def __init__(self, model, data, optimizer, loss_fn=softmax_cross_entropy, batch_size=100,
                 epochs=10, rng=0, rules=(), scheduler=None, checkpoint=None, resume=False,
                 progress=True, eval_batch_size=1000, accuracy=True, dtype=None):
        missing = {"X_train", "y_train"} - set(data)
        if missing:
            raise ValueError(f"Trainer: data is missing {sorted(missing)}")
        unknown = set(data) - {"X_train", "y_train", "X_val", "y_val"}
        if unknown:
            raise ValueError(f"Trainer: unknown data keys {sorted(unknown)}; "
                             "expected X_train, y_train, X_val, y_val")
        if batch_size < 1 or epochs < 0:
            raise ValueError(f"Trainer: batch_size must be >= 1 and epochs >= 0, got {batch_size}, {epochs}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.batch_size, self.epochs, self.eval_batch_size = batch_size, epochs, eval_batch_size
        self.rules, self.scheduler = list(rules), scheduler
        for rule in self.rules:
            if hasattr(rule, "attach"):
                rule.attach(self)
        self.checkpoint, self.progress, self.accuracy = checkpoint, progress, accuracy
        self.rng = make_rng(rng)
        params = list(model.params.values())
        self.dtype = dtype or (params[0].dtype if params else DEFAULT_DTYPE)
        self._label_max = None                      # the largest class label, until the first step checks it
        self.X_train, self.y_train = self._to_device(data["X_train"], data["y_train"])
        self.X_val = self.y_val = None
        if "X_val" in data:
            self.X_val, self.y_val = self._to_device(data["X_val"], data["y_val"])
        self.epoch = 0
        self.step_count = 0
        self.history = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": [],
                        "lr": [], "epoch_time": []}
        self.loss_steps = []
        self.best_score = -float("inf")
        self.best_params = None
        self.grads = {}
        if resume and checkpoint and os.path.exists(checkpoint):
            self.load_checkpoint(checkpoint)

    def _to_device(self, X, y):
        if len(X) != len(y):
            raise ValueError(f"Trainer: {len(X)} inputs but {len(y)} targets")
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
        return X.astype(self.dtype, copy=False), (y.astype(self.dtype, copy=False) if y.dtype.kind == "f" else y)

    # ------------------------------------------------------------------ steps
    def train_step(self, xb, yb):
        """One forward/backward/update on a batch; returns the loss (device scalar)."""
        scores = self.model.forward(xb)
        if self._label_max is not None:             # first step: the labels fit the model's scores
            if scores.ndim == 2 and self._label_max >= scores.shape[1]:
                raise ValueError(f"Trainer: the labels go up to {self._label_max} but the model gives "
                                 f"{scores.shape[1]} scores per example (classes 0..{scores.shape[1] - 1})")
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
        for rule in self.rules:
            if hasattr(rule, "before_step"):
                rule.before_step(self)
        self.optimizer.step(self.model.params, self.grads)
        for rule in self.rules:
            if hasattr(rule, "after_step"):
                rule.after_step(self)
        self.step_count += 1
        return loss, scores

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
                correct = correct + (scores.argmax(axis=1) == yb).sum()     # summed on the device
        self.model.train()
        return total_loss / n, (to_float(correct) / n if self.accuracy else float("nan"))

    def fit(self):
        """Train for the remaining epochs; returns ``history``."""
        n = len(self.X_train)
        steps = (n + self.batch_size - 1) // self.batch_size
        if self.progress:
            print(f"minigrad: {describe()}; {n} training examples, {steps} steps per epoch")
        self.model.train()
        if self.checkpoint and (self.epoch == 0 or not os.path.exists(self.checkpoint)):
            self.save_checkpoint(self.checkpoint)     # a good state to fall back on (replaces an older run's)
        while self.epoch < self.epochs:
            start = time.perf_counter()
            order = to_device(self.rng.permutation(n))
            bar = None
            if self.progress and tqdm is not None:
                bar = tqdm(total=steps, desc=f"epoch {self.epoch + 1}/{self.epochs}", leave=False)
            loss_sum, correct = 0.0, 0
            for s in range(steps):
                idx = order[s * self.batch_size:(s + 1) * self.batch_size]
                xb, yb = self.X_train[idx], self.y_train[idx]
                loss, scores = self.train_step(xb, yb)
                loss_value = to_float(loss)
                if not np.isfinite(loss_value):
                    self._stop_on_nan(s)
                self.loss_steps.append(loss_value)
                loss_sum += loss_value * len(idx)
                if self.accuracy:
                    correct = correct + (scores.argmax(axis=1) == yb).sum()  # on the device: no sync
                if bar is not None:
                    bar.update(1)
                    if s % 10 == 0:
                        bar.set_postfix(loss=f"{loss_value:.4f}")
            if bar is not None:
                bar.close()
            self._end_epoch(loss_sum / n, to_float(correct) / n if self.accuracy else float("nan"),
                            time.perf_counter() - start)
        return self.history

    def _end_epoch(self, train_loss, train_acc, seconds):
        h = self.history
        h["train_loss"].append(train_loss)
        h["train_acc"].append(train_acc)
        h["lr"].append(self.optimizer.lr)
        h["epoch_time"].append(seconds)
        if self.X_val is not None:
            val_loss, val_acc = self.evaluate(self.X_val, self.y_val)
        else:
            val_loss, val_acc = float("nan"), float("nan")
        h["val_loss"].append(val_loss)
        h["val_acc"].append(val_acc)
        # the best epoch: highest accuracy, or lowest loss when there is no accuracy,
        # on the validation data (on the training data when there is none)
        loss, acc = (val_loss, val_acc) if self.X_val is not None else (train_loss, train_acc)
        score = acc if self.accuracy else -loss
        if self.best_params is None or score > self.best_score:
            self.best_score = score
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        for rule in self.rules:
            if hasattr(rule, "end_epoch"):
                rule.end_epoch(self)
        if self.scheduler is not None:
            self.scheduler.step(train_loss)
        self.epoch += 1
        if self.progress:
            acc = f" train acc {train_acc:.3f} val acc {val_acc:.3f}" if self.accuracy else ""
            print(f"epoch {self.epoch}/{self.epochs}: train loss {train_loss:.4f}{acc} "
                  f"val loss {val_loss:.4f} ({seconds:.1f}s)")
        if self.checkpoint:
            self.save_checkpoint(self.checkpoint)

    def _stop_on_nan(self, step):
        msg = (f"Trainer: the loss became NaN or inf in epoch {self.epoch + 1}, step {step + 1}; "
               "try a smaller learning rate.")
        if self.checkpoint:
            msg += f" The last good state (after epoch {self.epoch}) is saved in {self.checkpoint}."
        raise FloatingPointError(msg)

    def restore_best(self):
        """Copy the best epoch's parameters back into the model (in place)."""
        if self.best_params is not None:
            for k, v in self.model.params.items():
                v[...] = self.best_params[k]

    # ------------------------------------------------------------ checkpoints
    def state(self):
        """Everything needed to resume, as host arrays and JSON-able values."""
        arrays = {}
        for k, v in self.model.params.items():
            arrays["param/" + k] = to_numpy(v)
        for k, v in self.model.buffers.items():
            arrays["buffer/" + k] = to_numpy(v)
        for k, v in (self.best_params or {}).items():
            arrays["best/" + k] = to_numpy(v)
        opt_state = {}
        for name, s in self.optimizer.state.items():
            if isinstance(s, dict):
                for key, val in s.items():
                    if hasattr(val, "shape"):
                        arrays[f"opt/{name}/{key}"] = to_numpy(val)
                    else:
                        opt_state.setdefault(name, {})[key] = val
            else:
                arrays[f"opt/{name}/"] = to_numpy(s)
        rules = {}
        for i, rule in enumerate(self.rules):
            if hasattr(rule, "state_dict"):
                values = {}
                for key, val in rule.state_dict().items():
                    if hasattr(val, "shape"):
                        arrays[f"rule/{i}/{key}"] = to_numpy(val)
                    else:
                        values[key] = val
                rules[str(i)] = {"type": type(rule).__name__, "values": values}
        streams = {name: generator_state(layer.rng) for name, layer in self.model.named_layers()
                   if hasattr(layer, "rng")}
        meta = {
            "n_train": len(self.X_train), "batch_size": self.batch_size, "rules": rules, "streams": streams,
            "epoch": self.epoch, "step_count": self.step_count, "history": self.history,
            "loss_steps": self.loss_steps, "best_score": self.best_score,
            "lr": self.optimizer.lr, "opt_scalars": opt_state,
            "rng": self.rng.bit_generator.state,
            "scheduler": self.scheduler.state_dict() if hasattr(self.scheduler, "state_dict") else None,
        }
        return arrays, meta

    def save_checkpoint(self, path):
        """Write the state to ``path`` atomically: a temporary file, then a rename."""
        arrays, meta = self.state()
        arrays["meta"] = np.frombuffer(json.dumps(meta, default=float).encode(), dtype=np.uint8)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def load_checkpoint(self, path):
        """Restore model, optimizer, schedule, histories and shuffling state from ``path``."""
        with np.load(path) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            # the epochs may be raised to train on; the data and the batches must be the run's own
            saved = (meta.get("n_train", len(self.X_train)), meta.get("batch_size", self.batch_size))
            if saved != (len(self.X_train), self.batch_size):
                raise ValueError(f"checkpoint {path} was written by a run with {saved[0]} training examples "
                                 f"in batches of {saved[1]}; this Trainer has {len(self.X_train)} in batches of "
                                 f"{self.batch_size}: resume only the run that wrote it")
            params, buffers = self.model.params, self.model.buffers
            for k in params:
                if "param/" + k not in z:
                    raise ValueError(f"checkpoint {path} has no parameter {k!r}: was it saved from another model?")
                saved = z["param/" + k]
                if saved.shape != params[k].shape:
                    raise ValueError(f"checkpoint {path}: parameter {k!r} has shape {saved.shape}, "
                                     f"the model's has {tuple(params[k].shape)}: was it saved from another model?")
                params[k][...] = to_device(saved)
            for k in buffers:
                if "buffer/" + k in z:
                    buffers[k][...] = to_device(z["buffer/" + k])
            self.best_params = {k[5:]: to_device(z[k]) for k in z.files if k.startswith("best/")} or None
            rule_arrays = {k: to_device(z[k]) for k in z.files if k.startswith("rule/")}
            state = {}
            for k in z.files:
                if k.startswith("opt/"):
                    name, key = k[4:].rsplit("/", 1)
                    if key:
                        state.setdefault(name, {})[key] = to_device(z[k])
                    else:
                        state[name] = to_device(z[k])
        for name, scalars in meta["opt_scalars"].items():
            state.setdefault(name, {}).update(scalars)
        self.optimizer.state, self.optimizer.lr = state, meta["lr"]
        self.epoch, self.step_count = meta["epoch"], meta["step_count"]
        self.history, self.loss_steps = meta["history"], meta["loss_steps"]
        self.best_score = meta["best_score"]
        self.rng.bit_generator.state = meta["rng"]
        if meta["scheduler"] is not None and self.scheduler is not None:
            self.scheduler.load_state_dict(meta["scheduler"])
        layers = dict(self.model.named_layers())
        for name, stream in meta.get("streams", {}).items():
            if name in layers:
                set_generator_state(layers[name].rng, stream)
        for i, saved in meta.get("rules", {}).items():
            rule = self.rules[int(i)] if int(i) < len(self.rules) else None
            if rule is None or type(rule).__name__ != saved["type"] or not hasattr(rule, "load_state_dict"):
                raise ValueError(f"checkpoint {path} holds the state of rule {i} ({saved['type']}), but the "
                                 f"Trainer's rule {i} is {type(rule).__name__ if rule is not None else 'missing'}: "
                                 "build the rules as for the run that wrote it")
            values = dict(saved["values"])
            values.update({k[len(f"rule/{i}/"):]: v for k, v in rule_arrays.items() if k.startswith(f"rule/{i}/")})
            rule.load_state_dict(values)
        if self.progress:
            print(f"minigrad: resumed from {path} after epoch {self.epoch}")
