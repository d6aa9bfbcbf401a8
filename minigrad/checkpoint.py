"""Checkpoints of a training run: what is saved, how it is written, and when resuming is allowed.

Read this file on its own; the training loop (``trainer.py``) only calls
``write``, ``read``, ``trainer_state``, ``restore`` and ``check_resumable``.

A checkpoint is one ``.npz`` file (loaded with ``allow_pickle=False``) holding

- arrays: ``param/<name>``, ``buffer/<name>`` (left out while a buffer is as
  built, e.g. a fixed feedback matrix: the fingerprint holds its hash, and the
  resumed model must have built the same), ``best/<name>`` and ``bestbuf/<name>`` (the best
  epoch's parameters and changed buffers; left out while the best epoch is the last one),
  ``opt/<name>/<key>`` (optimizer state), ``rule/<i>/<key>`` (rule state);
- ``meta``: JSON with the epoch, histories, generators, schedule, the run's
  target number of epochs, whether it ended early (the loss became NaN), and
  the **fingerprint** of what produced it.

The fingerprint (``fingerprint(trainer)``) is a flat dict, e.g.
``{"layer 0": "Linear", "layer 0.feedback": "bp", "optimizer.lr": 0.1,
"batch_size": 32, "data.X_train": "(450, 10) float32 sha 3f2a...",
"minigrad code": "sha ...", ...}``. Resuming compares it with the running
Trainer's and refuses, naming every difference, when they differ: the numbers
a resumed run reports must come from the code and the settings on disk.

Every file is written atomically (``atomic_write``: a temporary file
``<path>.tmp-<pid>``, then ``os.replace``); a write that fails removes its
temporary file, and ``remove_stale_temps`` removes those that killed processes
left behind.
"""
import functools
import hashlib
import inspect
import json
import os
import re
import sys
import zipfile

import numpy as np

from .backend import generator_state, kernels, set_generator_state, to_device, to_numpy


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: damaged, from another setup, or an unfinished run in the way."""


# ------------------------------------------------------------------ atomic files
def atomic_write(path, write, suffix=""):
    """Call ``write(f)`` on a binary file that becomes ``path`` only once complete.

    The data goes to ``<path>.tmp-<pid><suffix>`` first, then replaces ``path``
    in one rename; if anything fails (disk full, an exception in ``write``) the
    temporary file is removed and the error is raised. Returns ``path``.
    """
    tmp = f"{path}.tmp-{os.getpid()}{suffix}"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


_TMP = re.compile(r"\.tmp-(\d+)(\.[A-Za-z0-9]+)?$")


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True               # exists (another user's) or cannot tell: leave its file alone
    return True


def remove_stale_temps(folder, recursive=False):
    """Remove ``*.tmp-<pid>`` files under ``folder`` whose process is gone; returns their paths."""
    removed = []
    if not os.path.isdir(folder):
        return removed
    walk = os.walk(folder) if recursive else [(folder, None, os.listdir(folder))]
    for root, _, names in walk:
        for name in names:
            m = _TMP.search(name)
            if m and not _alive(int(m.group(1))):
                path = os.path.join(root, name)
                try:
                    os.remove(path)
                    removed.append(path)
                except OSError:
                    pass
    return removed


# ------------------------------------------------------------------ reading and writing
def write(path, arrays, meta):
    """Write host arrays and a JSON-able ``meta`` dict to ``path`` atomically."""
    arrays = dict(arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta, default=float).encode(), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def read(path):
    """Return ``(arrays, meta)`` of the checkpoint at ``path``.

    Raises ``CheckpointError`` in one line naming the file when it is empty,
    truncated or garbled (nothing is ever unpickled).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(bytes(arrays.pop("meta")).decode())
        if not isinstance(meta, dict) or "epoch" not in meta:
            raise ValueError("no run state")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        reason = "it is empty" if os.path.exists(path) and os.path.getsize(path) == 0 else type(e).__name__
        raise CheckpointError(f"checkpoint {path} is damaged ({reason}): delete it, or start the run afresh "
                              "(--fresh on a lesson's command line, Trainer(fresh=True))") from None
    return arrays, meta


def read_meta(path):
    """The ``meta`` dict of a checkpoint (see ``read``)."""
    return read(path)[1]


def unfinished(meta):
    """True when the checkpoint's run stopped before its last epoch (and did not end on a NaN loss)."""
    if meta.get("ended"):
        return False
    return meta.get("epochs") is None or meta["epoch"] < meta["epochs"]


def mark_ended(path, reason):
    """Record in the checkpoint at ``path`` that its run ended early (e.g. the loss became NaN).

    Such a run is over, not interrupted: a new run may replace it without ``--resume``.
    """
    if path and os.path.exists(path):
        arrays, meta = read(path)
        if meta.get("ended") != reason:
            meta["ended"] = reason
            write(path, arrays, meta)


# ------------------------------------------------------------------ fingerprint
@functools.lru_cache(maxsize=None)
def _sha_of_files(paths):
    h = hashlib.sha256()
    for p in paths:
        h.update(os.path.basename(p).encode())
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def code_fingerprint():
    """Hashes of the ``minigrad`` package's source and of the running script (a lesson), if it is a file."""
    package = os.path.dirname(os.path.abspath(__file__))
    files = sorted(os.path.join(root, n) for root, dirs, names in os.walk(package) for n in names
                   if n.endswith(".py") and "__pycache__" not in root)
    out = {"minigrad code": "sha " + _sha_of_files(tuple(files))}
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    if script and os.path.isfile(script):
        out["lesson file"] = f"{os.path.basename(script)} sha {_sha_of_files((os.path.abspath(script),))}"
    return out


def _simple(v):
    """A JSON-able description of a setting, or None when it is not a plain value (arrays, models, streams)."""
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return v.item()
    if isinstance(v, (tuple, list)) and all(isinstance(x, (bool, int, float, str)) for x in v):
        return list(v)
    if callable(v) and hasattr(v, "__qualname__"):
        return v.__qualname__
    return None


def settings(obj):
    """The constructor arguments of ``obj`` that it keeps under the same name as plain values."""
    out = {}
    try:
        names = list(inspect.signature(type(obj).__init__).parameters)[1:]
    except (TypeError, ValueError):
        names = []
    for name in names:
        if name in ("rng", "dtype", "model", "optimizer") or not hasattr(obj, name):
            continue
        v = _simple(getattr(obj, name))
        if v is not None:
            out[name] = v
    return out


def _sha(a):
    return "sha " + hashlib.sha256(np.ascontiguousarray(to_numpy(a)).tobytes()).hexdigest()[:16]


def _data_fingerprint(X):
    """Shape, dtype and a hash of up to 64 evenly spaced examples (host copy of a few rows only)."""
    step = max(1, len(X) // 64)
    sample = np.ascontiguousarray(to_numpy(X[::step][:64]))
    return f"{tuple(X.shape)} {sample.dtype} sha {hashlib.sha256(sample.tobytes()).hexdigest()[:16]}"


def fingerprint(trainer):
    """What produced a run: model structure, optimizer, schedule, batches, data, rules, loss, code."""
    fp = {}
    layers = list(trainer.model.named_layers())
    fp["model"] = ", ".join(f"{name}:{type(layer).__name__}" for name, layer in layers)
    for name, layer in layers:
        key = f"layer {name or '(the model)'}"
        fp[key] = type(layer).__name__
        for k, v in layer.params.items():
            fp[f"{key}.{k}"] = f"{tuple(v.shape)} {v.dtype}"
        for k, v in layer.buffers.items():          # as built: fixed feedback matrices, initial statistics
            fp[f"{key}.buffer {k}"] = f"{tuple(v.shape)} {v.dtype} {_sha(v)}"
        for k, v in settings(layer).items():
            fp[f"{key}.{k}"] = v
        if getattr(layer, "feedback", None) is not None:
            fp[f"{key}.feedback"] = str(layer.feedback)
    fp["optimizer"] = type(trainer.optimizer).__name__
    fp["optimizer.lr"] = _simple(trainer.optimizer.lr)
    for k, v in settings(trainer.optimizer).items():
        fp[f"optimizer.{k}"] = v
    fp["scheduler"] = type(trainer.scheduler).__name__ if trainer.scheduler is not None else None
    for k, v in settings(trainer.scheduler).items() if trainer.scheduler is not None else ():
        fp[f"scheduler.{k}"] = v
    fp["batch_size"] = trainer.batch_size
    fp["loss"] = _simple(trainer.loss_fn)
    fp["dtype"] = str(np.dtype(trainer.dtype))
    fp["kernels"] = kernels()                         # fast or textbook (--reference): other code trained
    for name in ("X_train", "y_train", "X_val", "y_val"):
        a = getattr(trainer, name)
        fp[f"data.{name}"] = _data_fingerprint(a) if a is not None else None
    fp["rules"] = ", ".join(type(r).__name__ for r in trainer.rules)
    for i, rule in enumerate(trainer.rules):
        fp[f"rule {i}"] = type(rule).__name__
        for k, v in settings(rule).items():
            fp[f"rule {i}.{k}"] = v
    fp["penalties"] = ", ".join(type(p).__name__ for p in trainer.penalties)
    for i, pen in enumerate(trainer.penalties):
        fp[f"penalty {i}"] = type(pen).__name__
        for k, v in settings(pen).items():
            fp[f"penalty {i}.{k}"] = v
    fp.update(code_fingerprint())
    return fp


def _v(v):
    """A setting as the user wrote it: strings quoted, shapes ("(10, 32) float32") and numbers plain."""
    return repr(v) if isinstance(v, str) and not v.startswith("(") else str(v)


def _say(key, old, new):
    """One sentence naming a difference between the checkpoint's setup (old) and this run's (new)."""
    if key == "minigrad code":
        return "minigrad's code changed since this checkpoint: finished runs would be reported from the old code"
    if key == "lesson file":
        return (f"the lesson file changed since this checkpoint ({old} -> {new}): "
                "its results would be reported from the old code")
    group, _, attr = key.partition(".")
    if attr.startswith("buffer "):
        return (f"{group}'s buffer {attr[7:]} was built as {old}, is {new} (a fixed matrix drawn from "
                "another seed?)")
    if group.startswith(("layer ", "rule ", "penalty ")):
        if not attr:
            return f"{group} was {old}, is {new}"
        return f"{group} was {attr}={_v(old)}, is {_v(new)}"
    if key in ("optimizer", "scheduler"):
        return f"checkpoint made with {key} {old}, this run asks {new}"
    if key == "model":
        return f"the model was [{old}], is [{new}]"
    if key == "rules":
        return f"the update rules were [{old}], are [{new}]"
    if key == "penalties":
        return f"the penalties were [{old}], are [{new}]"
    if group == "data":
        return f"the data {attr} was {old}, is {new}"
    return f"checkpoint made with {attr or key}={_v(old)}, this run asks {attr or key}={_v(new)}"


def differences(saved, now):
    """Sentences naming what differs between two fingerprints (details of a changed layer list or
    optimizer type are left out: the list or the type is named instead)."""
    def same(a, b):                      # a NaN setting equals itself
        return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)

    keys = list(now) + [k for k in saved if k not in now]
    diff = [k for k in keys if not same(saved.get(k), now.get(k))]
    skip = set()
    if "model" in diff:
        skip.add("layer ")
    if "optimizer" in diff:
        skip.add("optimizer.")
    if "scheduler" in diff:
        skip.add("scheduler.")
    if "rules" in diff:
        skip.add("rule ")
    if "penalties" in diff:
        skip.add("penalty ")
    return [_say(k, saved.get(k), now.get(k)) for k in diff if not any(k.startswith(s) for s in skip)]


AFRESH = "start afresh with --fresh on a lesson's command line (Trainer(fresh=True)), or delete {path}"


def check_resumable(path, meta, fp):
    """Refuse (CheckpointError) to resume from ``path`` unless its fingerprint equals ``fp``."""
    saved = meta.get("fingerprint")
    if saved is None:
        raise CheckpointError(f"checkpoint {path} records no fingerprint of the setup that made it (an older "
                              f"minigrad wrote it), so it cannot be checked against this run: "
                              + AFRESH.format(path=path))
    diffs = differences(saved, fp)
    if diffs:
        lines = "\n".join(f"  - {d}" for d in diffs)
        raise CheckpointError(f"checkpoint {path} was made by another setup than this run's:\n{lines}\n"
                              f"Resume only with the code and settings that made it, or "
                              + AFRESH.format(path=path) + ".")


# ------------------------------------------------------------------ the trainer's state
def _built_buffers(trainer):
    """Buffer name -> its fingerprint when the Trainer was built. A buffer unchanged since then
    (a fixed feedback matrix) is not saved: the fingerprint check makes sure a resumed model has it."""
    out = {}
    for name, layer in trainer.model.named_layers():
        for k in layer.buffers:
            full = f"{name}.{k}" if name else k
            out[full] = trainer.fingerprint.get(f"layer {name or '(the model)'}.buffer {k}")
    return out


def trainer_state(trainer):
    """Everything needed to resume ``trainer``, as host arrays and a JSON-able meta dict."""
    t = trainer
    arrays = {}
    for k, v in t.model.params.items():
        arrays["param/" + k] = to_numpy(v)
    built = _built_buffers(t)
    for k, v in t.model.buffers.items():
        host = to_numpy(v)
        if built.get(k) != f"{tuple(v.shape)} {v.dtype} {_sha(host)}":
            arrays["buffer/" + k] = host          # changed since built (running statistics): saved
    best_is_last = t.best_epoch == t.epoch
    if not best_is_last:
        for k, v in (t.best_params or {}).items():
            arrays["best/" + k] = to_numpy(v)
        for k, v in (t.best_buffers or {}).items():
            host = to_numpy(v)
            if built.get(k) != f"{tuple(v.shape)} {v.dtype} {_sha(host)}":
                arrays["bestbuf/" + k] = host     # the best epoch's running statistics
    opt_state = {}
    for name, s in t.optimizer.state.items():
        if isinstance(s, dict):
            for key, val in s.items():
                if hasattr(val, "shape"):
                    arrays[f"opt/{name}/{key}"] = to_numpy(val)
                else:
                    opt_state.setdefault(name, {})[key] = val
        else:
            arrays[f"opt/{name}/"] = to_numpy(s)
    rules = {}
    for i, rule in enumerate(t.rules):
        if hasattr(rule, "state_dict"):
            values = {}
            for key, val in rule.state_dict().items():
                if hasattr(val, "shape"):
                    arrays[f"rule/{i}/{key}"] = to_numpy(val)
                else:
                    values[key] = val
            rules[str(i)] = {"type": type(rule).__name__, "values": values}
    streams = {name: generator_state(layer.rng) for name, layer in t.model.named_layers() if hasattr(layer, "rng")}
    meta = {
        "fingerprint": t.fingerprint, "epochs": t.epochs, "ended": None,
        "rules": rules, "streams": streams,
        "epoch": t.epoch, "step_count": t.step_count, "history": t.history,
        "loss_steps": t.loss_steps, "best_score": t.best_score, "best_epoch": t.best_epoch,
        "best_is_last": best_is_last and t.best_params is not None,
        "lr": t.optimizer.lr, "opt_scalars": opt_state,
        "rng": t.rng.bit_generator.state,
        "scheduler": t.scheduler.state_dict() if hasattr(t.scheduler, "state_dict") else None,
    }
    return arrays, meta


def restore(trainer, path, arrays, meta):
    """Put a checkpoint's state (from ``read``) back into ``trainer`` (after ``check_resumable``)."""
    t = trainer
    params, buffers = t.model.params, t.model.buffers
    for k in params:                       # the fingerprint matched; this only guards hand-made files
        saved = arrays.get("param/" + k)
        if saved is None or saved.shape != params[k].shape:
            raise CheckpointError(f"checkpoint {path} has no parameter {k!r} of shape {tuple(params[k].shape)}")
        params[k][...] = to_device(saved)
    as_built = {k: v.copy() for k, v in buffers.items()}
    for k in buffers:
        if "buffer/" + k in arrays:
            buffers[k][...] = to_device(arrays["buffer/" + k])
    if meta.get("best_is_last"):
        t.best_params = {k: v.copy() for k, v in params.items()}
        t.best_buffers = {k: v.copy() for k, v in buffers.items()}
    else:
        t.best_params = {k[5:]: to_device(v) for k, v in arrays.items() if k.startswith("best/")} or None
        t.best_buffers = None if t.best_params is None else {
            k: to_device(arrays["bestbuf/" + k]) if "bestbuf/" + k in arrays else as_built[k] for k in buffers}
    state = {}
    for k, v in arrays.items():
        if k.startswith("opt/"):
            name, key = k[4:].rsplit("/", 1)
            if key:
                state.setdefault(name, {})[key] = to_device(v)
            else:
                state[name] = to_device(v)
    for name, scalars in meta["opt_scalars"].items():
        state.setdefault(name, {}).update(scalars)
    t.optimizer.state, t.optimizer.lr = state, meta["lr"]
    t.epoch, t.step_count = meta["epoch"], meta["step_count"]
    t.history, t.loss_steps = meta["history"], meta["loss_steps"]
    t.best_score, t.best_epoch = meta["best_score"], meta.get("best_epoch")
    t.rng.bit_generator.state = meta["rng"]
    if meta["scheduler"] is not None and t.scheduler is not None:
        t.scheduler.load_state_dict(meta["scheduler"])
    layers = dict(t.model.named_layers())
    for name, stream in meta.get("streams", {}).items():
        if name in layers:
            set_generator_state(layers[name].rng, stream)
    for i, saved in meta.get("rules", {}).items():
        rule = t.rules[int(i)] if int(i) < len(t.rules) else None
        if rule is None or type(rule).__name__ != saved["type"] or not hasattr(rule, "load_state_dict"):
            raise CheckpointError(f"checkpoint {path} holds the state of rule {i} ({saved['type']}), but the "
                                  f"Trainer's rule {i} is {type(rule).__name__ if rule is not None else 'missing'}: "
                                  "build the rules as for the run that wrote it")
        values = dict(saved["values"])
        prefix = f"rule/{i}/"
        values.update({k[len(prefix):]: to_device(v) for k, v in arrays.items() if k.startswith(prefix)})
        rule.load_state_dict(values)
