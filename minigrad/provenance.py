"""How a lesson's numbers were made: the ``"provenance"`` block of its metrics.json.

A number without its conditions cannot be cited. ``collect`` gathers, in one
dict: seed, run mode, the command-line settings, minigrad's version and git
commit, NumPy and Python versions, backend and device, the date, wall time
(training and evaluation), and the data actually used. A lesson calls it once,
just before saving its metrics::

    from minigrad import provenance

    clock = provenance.Clock()
    with clock("train"):
        trainer.fit()
    with clock("eval"):
        test_acc = trainer.evaluate(X_test, y_test)
    data = provenance.data_used("MNIST", source="embedded 5,000-digit sample",
                                n_train=4500, n_val=500, n_test=500, fallback=True,
                                note="full MNIST not installed (python data_scripts/mnist.py)")
    metrics["provenance"] = provenance.collect(args, data=[data], clock=clock)

``collect`` never fails because of its surroundings: outside a git checkout (or
without git) the commit is None. Wall times may also be given as numbers
(``train_s=``, ``eval_s=``) instead of a ``Clock``.
"""
import datetime
import os
import platform
import subprocess
import time
from contextlib import contextmanager

import numpy

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class Clock:
    """Wall time accumulated per phase: ``with clock("train"): ...``; ``clock.seconds`` is a dict."""

    def __init__(self):
        self.seconds = {}

    @contextmanager
    def __call__(self, phase):
        start = time.perf_counter()
        try:
            yield self
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - start


def git_commit(path=_PACKAGE_DIR):
    """``{"commit": sha, "dirty": bool}`` of the checkout holding minigrad, or None.

    None when git is missing, ``path`` is not in a git work tree, or that work tree
    is not minigrad's own (an installed copy inside some other repository).
    ``dirty``: the checkout has uncommitted changes to tracked files.
    """
    def git(*args):
        out = subprocess.run(["git", "-C", path, *args], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else None
    try:
        top = git("rev-parse", "--show-toplevel")
        if top is None or not os.path.isdir(os.path.join(top, "minigrad")) \
                or os.path.realpath(os.path.join(top, "minigrad")) != os.path.realpath(_PACKAGE_DIR):
            return None
        sha = git("rev-parse", "HEAD")
        if sha is None:
            return None
        status = git("status", "--porcelain", "--untracked-files=no")
        return {"commit": sha, "dirty": bool(status)}
    except (OSError, subprocess.SubprocessError):
        return None


def _plain(v):
    """A setting as JSON can hold it: numbers, strings, booleans, None and lists of them; else its str."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return str(v)


def data_used(name, source, n_train=None, n_val=None, n_test=None, fallback=False, note=""):
    """One data set a lesson used: what it is, where it came from, how many examples of each split.

    Args:
        name: the data set ("MNIST", "CIFAR-10", "synthetic images").
        source: where the examples came from ("~/.minigrad/data/mnist", "embedded sample").
        n_train, n_val, n_test: examples actually used (None: split not used).
        fallback: True when a stand-in replaced the data set the lesson asks for.
        note: why (for a fallback: what was missing and how to get it).
    """
    return {"name": name, "source": source, "n_train": n_train, "n_val": n_val, "n_test": n_test,
            "fallback": bool(fallback), "note": note}


def collect(args, data=(), clock=None, train_s=None, eval_s=None, seeds=None):
    """The provenance block of a lesson's metrics.json (a JSON-ready dict).

    Args:
        args: the lesson's parsed arguments (``experiment.parse_args``): ``seed``,
            ``mode`` and every other option are recorded (``settings``).
        data: list of ``data_used(...)`` dicts, one per data set.
        clock: a ``Clock`` whose phases (``train``, ``eval``, ...) become
            ``wall_time_s``; or give ``train_s`` / ``eval_s`` in seconds.
        seeds: every seed the numbers average over (default ``[args.seed]``).
    Returns:
        dict with seed, seeds, mode, settings, minigrad_version, git_commit,
        git_dirty, numpy_version, python_version, backend, device, date (UTC,
        ISO 8601), wall_time_s ({phase: seconds, "total": sum}), data.
    """
    from . import __version__, backend
    settings = {k: _plain(v) for k, v in sorted(vars(args).items())} if args is not None else {}
    wall = dict(clock.seconds) if clock is not None else {}
    if train_s is not None:
        wall["train"] = train_s
    if eval_s is not None:
        wall["eval"] = eval_s
    wall = {k: round(float(v), 2) for k, v in wall.items()}
    if wall:
        wall["total"] = round(sum(wall.values()), 2)
    git = git_commit()
    seed = settings.get("seed")
    data = [data] if isinstance(data, dict) else list(data)
    return {
        "seed": seed,
        "seeds": list(seeds) if seeds is not None else ([seed] if seed is not None else None),
        "mode": settings.get("mode"),
        "settings": settings,
        "minigrad_version": __version__,
        "git_commit": git["commit"] if git else None,
        "git_dirty": git["dirty"] if git else None,
        "numpy_version": numpy.__version__,
        "python_version": platform.python_version(),
        "backend": backend.NAME,
        "device": backend.describe(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": wall,
        "data": data,
    }
