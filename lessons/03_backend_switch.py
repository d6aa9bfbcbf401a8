"""Lesson 03: one code base on the CPU (NumPy) and on an NVIDIA GPU (CuPy).

What it shows
    minigrad never says ``numpy`` where it computes. Every layer does
    ``from minigrad.backend import xp`` and calls ``xp.exp``, ``xp.zeros``,
    ``x @ W``; ``minigrad/backend.py`` decides, once, at import, what ``xp`` is,
    from the environment variable ``MINIGRAD_BACKEND``:

        numpy     (default) arrays are NumPy arrays in CPU memory;
        cupy      arrays are CuPy arrays in GPU memory (pip install -e ".[gpu]");
        fakecupy  a CPU stand-in for CuPy used by the tests (minigrad/_fakecupy.py).

    CuPy copies the NumPy API, so the same line runs on either. What does *not*
    carry over is anything that quietly hands a GPU array to NumPy: CuPy
    refuses (``TypeError: Implicit conversion to a NumPy array is not allowed``)
    because it would be a slow device-to-host copy. The stand-in refuses the same
    things on a machine without a GPU, so the whole test suite and every lesson
    can prove they never do it (``MINIGRAD_BACKEND=fakecupy pytest``).

    The lesson (1) writes a new layer that runs on both, divisive normalisation,
    and gradient-checks it on the active backend; (2) shows the classic mistake
    (a ``np.`` call inside a layer) passing silently on NumPy and failing on the
    device backends; (3) trains a small network with the new layer; (4) times the
    workloads of ``benchmarks/bench.py`` on every backend it finds (NumPy always,
    CuPy when a GPU is usable), next to PyTorch on the same device.

How to write a layer that runs on both (the rules ``DivisiveNorm`` follows)
    - Compute with ``xp.`` and array methods only; ``np.`` is for host-side
      things: seeds, dtypes, Python scalars.
    - Draw initial weights on the host from a seeded ``numpy`` Generator and move
      them once with ``self._init_param(name, host_array, dtype)`` (or
      ``backend.to_device``), so a seed gives the same network on every backend.
    - Keep float32: create arrays with the input's dtype (``x.dtype``).
    - Convert to the host only at the edges, explicitly: ``backend.to_float(loss)``
      for logging, ``backend.to_numpy(W)`` for plots and files.
    - Mind the few places where CuPy's API is narrower than NumPy's (the stand-in
      copies them): ``xp.lib.stride_tricks.as_strided`` has no ``writeable``
      argument, and ``xp.random.default_rng(seed)`` has no ``permutation`` or
      ``normal`` (shuffle on the host, use ``standard_normal``).
    - Scatter-adds (several entries adding into one place) use ``xp.add.at``.

    The backend decides *where* the arrays live; a second switch in the same
    module, ``MINIGRAD_KERNELS`` (``fast`` by default, or ``reference``; the
    ``--reference`` flag of every lesson), decides *which code* the layers run:
    the fast kernels or their textbook ``*_reference`` versions (lesson 02
    trains through them). The two switches are independent: the textbook
    kernels are written with ``xp`` too (the tests run them under fakecupy).

What to read
    - ``minigrad/backend.py`` (how ``xp`` is chosen; ``to_device``, ``to_numpy``).
    - ``DivisiveNorm`` and ``HostLeakNorm`` below: they differ in one line.
    - ``minigrad/_fakecupy.py``: how an array can refuse to become a NumPy array.

What to change
    - Run ``MINIGRAD_BACKEND=fakecupy python lessons/03_backend_switch.py --smoke``
      and watch ``HostLeakNorm`` fail; on a GPU machine, run it with ``cupy``.
    - Replace the ``xp.sqrt`` by ``np.sqrt`` in ``DivisiveNorm.forward`` and run
      ``MINIGRAD_BACKEND=fakecupy pytest -q tests/`` (it passes on NumPy!).

Run
    python lessons/03_backend_switch.py            # default: a few minutes on 2 idle CPU cores
    python lessons/03_backend_switch.py --smoke    # seconds (used by the tests)
    python lessons/03_backend_switch.py --full     # more timing repetitions and training epochs
    MINIGRAD_BACKEND=cupy python lessons/03_backend_switch.py   # the same on a GPU
Outputs go to outputs/03_backend_switch/: timings.png, training.png, metrics.json.
The default and full runs time the benchmark's full-size workloads (bench.py's
sizes) with 2 and 7 repetitions after a warm-up; --smoke times its --quick sizes once.
Timings on a shared, busy machine are slow and noisy: read the ratios, not the ms.
"""
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np

from minigrad import backend, nn, optim, provenance
from minigrad.backend import to_numpy, xp
from minigrad.experiment import (checkpoint_path, figure, log_scale, output_dir, parse_args, plot_curves,
                                 print_table, save_figure, save_metrics, synthetic_images)
from minigrad.gradcheck import check_layer
from minigrad.ledger import round_sig
from minigrad.trainer import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = {
    "smoke": dict(n_train=500, epochs=1, workloads=["linear"], reps=1, warmup=0, quick=True),
    "default": dict(n_train=5000, epochs=5, workloads=["linear", "mlp", "cnn", "rnn"], reps=2, warmup=1,
                    quick=False),
    "full": dict(n_train=5000, epochs=15, workloads=["linear", "mlp", "mlp_bn", "cnn", "rnn"], reps=7,
                 warmup=1, quick=False),
}


# ----------------------------------------------------------------------------- (1) a new layer
class DivisiveNorm(nn.Layer):
    """Divisive normalisation with a learned gain: each example's activity is
    divided by its root-mean-square across the D units (a canonical neural
    computation: Carandini & Heeger 2012; the RMS form is RMSNorm's).

    Forward, for x (N, D)::

        s     = sqrt(sigma^2 + mean_j x_j^2)          (N, 1)   pooled activity
        x_hat = x / s                                 (N, D)
        out   = g * x_hat                             (N, D)   g: (D,) learned gain

    Backward, with ds/dx_k = x_k / (D s)::

        dg     = sum_n dout * x_hat                   (D,)
        dx_hat = dout * g                             (N, D)
        dx     = dx_hat / s - x * sum_j(dx_hat_j x_j) / (D s^3)

    Params: ``g`` (D,), initialised to ones. Every array op is ``xp.`` or an
    array method, so it runs on NumPy and CuPy alike.
    """

    def __init__(self, num_features, sigma=1.0, dtype=None):
        super().__init__()
        self.num_features, self.sigma2 = num_features, float(sigma) ** 2
        self._init_param("g", np.ones(num_features), dtype)      # host value, moved once

    def forward(self, x):
        self._check_input(x, 2, f"(N, D) with D={self.num_features}", sizes={1: self.num_features})
        s = xp.sqrt(self.sigma2 + (x * x).mean(axis=1, keepdims=True))   # (N, 1)
        x_hat = x / s
        self.x, self.s, self.x_hat = x, s, x_hat
        return self.params["g"] * x_hat

    def backward(self, dout):
        x, s, D = self.x, self.s, self.num_features
        self.grads["g"] = (dout * self.x_hat).sum(axis=0)
        dx_hat = dout * self.params["g"]
        return dx_hat / s - x * (dx_hat * x).sum(axis=1, keepdims=True) / (D * s ** 3)


class HostLeakNorm(DivisiveNorm):
    """The same layer with the classic mistake: ``np.sqrt`` on a device array.

    On NumPy nothing is wrong; on CuPy (and the stand-in) it raises TypeError.
    """

    def forward(self, x):
        s = np.sqrt(self.sigma2 + (x * x).mean(axis=1, keepdims=True))    # np. instead of xp.
        self.x, self.s, self.x_hat = x, s, x / s
        return self.params["g"] * self.x_hat


# ----------------------------------------------------------------------------- (4) timings
def load_bench():
    """benchmarks/bench.py as a module, or None when it is missing or lacks what we use."""
    path = os.path.join(ROOT, "benchmarks", "bench.py")
    try:
        spec = importlib.util.spec_from_file_location("minigrad_bench", path)
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
        if all(hasattr(bench, f) for f in ("sizes", "time_pair", "limit_threads")):
            return bench
    except Exception as err:                     # report it and time layers ourselves
        print(f"lesson 03: benchmarks/bench.py not usable ({type(err).__name__}: {err})")
    return None


def _sync():
    if backend.NAME == "cupy":
        xp.cuda.Device().synchronize()


def _own_layer_timings(workloads, reps):
    """Fallback when bench.py is unusable: forward+backward of one layer, ms (no PyTorch column)."""
    rng = np.random.default_rng(0)
    layers = {"linear": (nn.Linear(784, 512, rng=0), (128, 784)),
              "conv": (nn.Conv2d(3, 32, 3, padding=1, rng=0), (64, 3, 32, 32)),
              "rnn": (nn.RNN(64, 128, rng=0), (32, 50, 64))}
    out = {}
    for name, (layer, shape) in layers.items():
        x = backend.to_device(rng.standard_normal(shape), dtype=np.float32)
        dout = xp.ones_like(layer.forward(x))
        times = []
        for _ in range(reps + 1):                # the first pass is a warm-up
            t = time.perf_counter()
            layer.forward(x)
            layer.backward(dout)
            _sync()
            times.append(time.perf_counter() - t)
        out[name] = {"minigrad_ms": round_sig(1e3 * float(np.median(times[1:])), 3), "torch_ms": None}
    return out


def time_workloads(workloads, quick, reps, warmup):
    """Median ms per workload on the active backend (and PyTorch on the same device)."""
    bench = load_bench()
    if bench is None:
        return {"source": "lesson's own layer timings (benchmarks/bench.py unusable)",
                "device": backend.describe(), "rows": _own_layer_timings(workloads, reps)}
    bench.limit_threads()
    S = bench.sizes(quick)
    rows = {}
    for kind in workloads:
        try:
            timed = bench.time_pair(kind, S, reps, warmup)   # per-repetition seconds: "mg" minigrad, "t" PyTorch
        except ImportError as err:                          # a workload whose module is not installed
            print(f"lesson 03: workload {kind} not available: {err}")
            continue
        t_mg, t_t = timed["mg"], timed["t"]
        # milliseconds to 3 significant digits: the noise of a shared machine is larger than that
        rows[kind] = {"minigrad_ms": round_sig(1e3 * float(np.median(t_mg)), 3),
                      "torch_ms": round_sig(1e3 * float(np.median(t_t)), 3) if t_t else None}
        print(f"lesson 03: timed {kind} on {backend.NAME}: {rows[kind]}", flush=True)
    return {"source": "benchmarks/bench.py (time_pair, " + ("quick" if quick else "full") + " sizes)",
            "device": backend.describe(), "rows": rows}


def time_on(backend_name, cfg):
    """Run ``time_workloads`` in a fresh interpreter with MINIGRAD_BACKEND=backend_name."""
    code = ("import importlib.util as u, json, sys\n"
            f"s = u.spec_from_file_location('lesson03', {os.path.abspath(__file__)!r})\n"
            "m = u.module_from_spec(s); s.loader.exec_module(m)\n"
            f"r = m.time_workloads({cfg['workloads']!r}, {cfg['quick']!r}, {cfg['reps']!r}, "
            f"{cfg['warmup']!r})\n"
            "print('TIMINGS ' + json.dumps(r))\n")
    env = dict(os.environ, MINIGRAD_BACKEND=backend_name)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
    lines = [s for s in proc.stdout.splitlines() if s.startswith("TIMINGS ")]
    if proc.returncode or not lines:
        print(f"lesson 03: timing on {backend_name} failed:\n{proc.stderr[-2000:]}")
        return None
    return json.loads(lines[-1][len("TIMINGS "):])


def other_backends(mode):
    """Backends to time besides the active one: NumPy, and CuPy when a GPU is usable."""
    if mode == "smoke":
        return []                                  # keep the smoke run to seconds
    found = []
    for name in ("numpy", "cupy"):
        if name == backend.NAME:
            continue
        try:
            backend.load_backend(name)
            found.append(name)
        except (backend.BackendError, ImportError) as err:
            print(f"lesson 03: not timing {name}: {err}")
    return found


# ----------------------------------------------------------------------------- the lesson
def load_data(n_train, rng):
    try:
        from minigrad.data import flatten, load_mnist_sample, normalize
        images, labels = load_mnist_sample("train")
        source = "embedded MNIST sample"
    except Exception as err:                      # no data at all: synthetic digits-sized images
        from minigrad.data import flatten, normalize
        print(f"lesson 03: MNIST sample unavailable ({err}); using synthetic_images instead")
        images, labels = synthetic_images(n_train, (28, 28), 10, rng)
        source = "synthetic images"
    order = rng.permutation(len(images))[:n_train]
    X, y = flatten(normalize(images[order])), labels[order]
    n_val = len(X) // 5
    fallback = source == "synthetic images"
    used = provenance.data_used("synthetic images" if fallback else "MNIST (embedded sample)",
                                "experiment.synthetic_images" if fallback else "minigrad/data/embedded",
                                n_train=len(X) - n_val, n_val=n_val, fallback=fallback,
                                note="the embedded MNIST sample could not be read" if fallback else "")
    return {"X_train": X[n_val:], "y_train": y[n_val:], "X_val": X[:n_val], "y_val": y[:n_val]}, source, used


def main():
    args = parse_args(__doc__.splitlines()[0])
    out = output_dir(__file__, args)
    cfg = SETTINGS[args.mode]
    rng = np.random.default_rng(args.seed)
    metrics = {"backend": backend.NAME, "device": backend.describe(), "settings": cfg}
    print(f"xp is {xp.__name__}; its arrays are {xp.ndarray.__module__}.{xp.ndarray.__name__}")

    # (1) the new layer is exact on this backend (float64 finite differences)
    errors = check_layer(DivisiveNorm(6, sigma=0.5), rng.standard_normal((5, 6)) * 2, rng=rng)
    print_table(["DivisiveNorm gradient check", "relative error"], [[k, v] for k, v in errors.items()])
    assert max(errors.values()) < 1e-7, errors
    metrics["gradcheck"] = errors

    # (2) the host leak: silent on NumPy, a TypeError on a device backend
    x = backend.to_device(rng.standard_normal((4, 6)), dtype=np.float32)
    try:
        HostLeakNorm(6).forward(x)
        leak = "ran silently (NumPy hides the bug; CuPy would raise TypeError)"
    except TypeError as err:
        leak = f"TypeError: {str(err)[:90]}"
    print(f"HostLeakNorm on {backend.NAME}: {leak}")
    metrics["host_leak"] = leak

    # (3) train a small network using the new layer on whatever backend is active
    data, source, used = load_data(cfg["n_train"], rng)
    clock = provenance.Clock()
    model = nn.Sequential(nn.Linear(784, 128, rng=rng), DivisiveNorm(128), nn.ReLU(),
                          nn.Linear(128, 10, rng=rng))
    trainer = Trainer(model, data, optim.Momentum(0.05, momentum=0.9), batch_size=64, epochs=cfg["epochs"],
                      rng=rng, checkpoint=checkpoint_path(out, args, "divisive_norm_mlp"), resume=args.resume)
    with clock("train"):
        history = trainer.fit()
    plot_curves(out, "training.png", {"train": history["train_acc"], "validation": history["val_acc"]},
                ylabel="accuracy", title=f"Lesson 03: MLP with DivisiveNorm on {backend.NAME} ({source})")
    metrics.update(data=source, history=history, gain_mean=float(to_numpy(model.params["1.g"]).mean()))

    # (4) timings: the active backend in this process, the others in fresh ones
    with clock("timings"):
        timings = {backend.NAME: time_workloads(cfg["workloads"], cfg["quick"], cfg["reps"], cfg["warmup"])}
        for name in other_backends(args.mode):
            result = time_on(name, cfg)
            if result is not None:
                timings[name] = result
    metrics["timings"] = timings
    names = list(timings)
    kinds = list(dict.fromkeys(k for t in timings.values() for k in t["rows"]))
    rows = []
    for kind in kinds:
        row = [kind]
        for name in names:
            r = timings[name]["rows"].get(kind, {})
            row += [r.get("minigrad_ms"), r.get("torch_ms")]
        rows.append([("n/a" if v is None else v) for v in row])
    headers = ["workload"]
    for n in names:
        headers += [f"minigrad on {n} (ms)", f"PyTorch on {'GPU' if n == 'cupy' else 'CPU'} (ms)"]
    for name in names:
        print(f"{name}: {timings[name]['device']}; source: {timings[name]['source']}")
    print_table(headers, rows)
    if "cupy" not in timings:
        print("No GPU column: CuPy or a CUDA device is missing here. On a GPU machine run "
              "MINIGRAD_BACKEND=cupy python lessons/03_backend_switch.py")

    fig, ax = figure(figsize=(7, 4))
    width, all_vals = 0.8 / (2 * len(names)), []
    for i, name in enumerate(names):
        for j, side in enumerate(("minigrad_ms", "torch_ms")):
            # a missing timing is left out (nan), not drawn as 0, which a log axis cannot show
            vals = [timings[name]["rows"].get(k, {}).get(side) or np.nan for k in kinds]
            all_vals += vals
            device = "GPU" if name == "cupy" else "CPU"
            label = f"minigrad on {name}" if j == 0 else f"PyTorch on {device}"
            ax.bar(np.arange(len(kinds)) + (2 * i + j) * width, vals, width, label=label)
    ax.set_xticks(np.arange(len(kinds)) + width * (len(names) - 0.5), kinds)
    log_scale(ax, all_vals)
    ax.set_ylabel("median time per workload (ms, log scale)")
    ax.set_title("Lesson 03: the same code on each backend found")
    ax.legend(fontsize=8)
    save_figure(fig, out, "timings.png")
    metrics["provenance"] = provenance.collect(args, data=[used], clock=clock)
    save_metrics(out, metrics)


if __name__ == "__main__":
    main()
