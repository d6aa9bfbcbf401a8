"""minigrad and PyTorch side by side on the same work, float32, on this machine.

Run from the repository root::

    python benchmarks/bench.py              # full run (a few minutes on 2 cores)
    python benchmarks/bench.py --quick      # every workload tiny: a smoke run in seconds
    python benchmarks/bench.py --only mlp,cnn --reps 9

Workloads (the sizes of issue 5):

- ``mlp``:    784-512-512-10, ReLU, softmax cross-entropy, SGD, batch 128, one epoch of 10,000 samples
              (also timed as a plain NumPy loop, ``plain_mlp_epoch``, a third interleaved side);
- ``mlp_bn``: the same with ``BatchNorm(affine=False)`` after each hidden ``Linear``;
- ``cnn``:    3x32x32 input, conv3x3(32)-ReLU-pool2-conv3x3(64)-ReLU-pool2-dense(10)
              (padding 1), batch 64, one epoch of 2,000 samples; minigrad runs the same
              function as conv-pool-ReLU (max-pooling and ReLU commute), the batch split
              over the threads by ``nn.DataParallel``;
- ``rnn``:    tanh RNN, input 64, hidden 128, 50 steps, batch 32, full BPTT, the last
              step read out by a dense(10) layer; one epoch of 10 batches;
- ``linear``: one ``Linear(784, 512)`` forward + backward on a batch of 128;
- ``dann``:   ``minigrad.nn.dann.DANN(784, 512, 51)`` forward + backward, compared with
              the minigrad ``Linear`` of the same size (if the module is importable);
- ``cwa``:    ``minigrad.nn.CWA(784, 512)`` (conductance-weighted averaging) forward +
              backward, compared with the minigrad ``Linear`` of the same size.

Epoch workloads go through ``minigrad.Trainer.fit`` (what lessons use) and through the
usual PyTorch loop (shuffle, index, forward, loss, backward, ``optimizer.step``,
``loss.item()``, accuracy), both with the same data and batch sizes.

Method (see benchmarks/README.md): 2 threads for both (threadpoolctl for NumPy's BLAS,
``torch.set_num_threads``), warm-up passes, then repetitions that alternate minigrad
and PyTorch (and which of the two goes first) so both see the same machine load.
Reported: medians, the median of the per-repetition ratios minigrad/PyTorch,
GFLOP/s of the matrix products a step needs vs the measured float32 matmul peak,
and the peak memory of one epoch (each side in its own fresh subprocess: peak RSS
above the RSS before the epoch, via Linux's VmHWM reset; plus tracemalloc for minigrad).

Results go to benchmarks/results/<name>.json and .md (written atomically).
Under ``MINIGRAD_BACKEND=cupy`` minigrad runs on the GPU and the PyTorch column uses
torch CUDA when available, otherwise it reads n/a.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from minigrad import backend  # noqa: E402
from minigrad.backend import xp  # noqa: E402

THREADS = 2                 # --threads changes it
# OpenBLAS kernels that use no AVX: an old or forced core type; they are several times slower.
SSE_ONLY_KERNELS = {"katmai", "coppermine", "northwood", "prescott", "banias", "core2", "penryn",
                    "dunnington", "nehalem", "atom", "athlon", "opteron", "opteron_sse3",
                    "barcelona", "bobcat", "nano", "generic"}

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the PyTorch column then reads n/a
    torch = None

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:
    threadpool_info = threadpool_limits = None


# ----------------------------------------------------------------------------- machine
def sync():
    """Wait for the device (CuPy launches asynchronously); no-op on the CPU."""
    if backend.NAME == "cupy":
        xp.cuda.Device().synchronize()


def torch_device():
    if torch is None:
        return None
    if backend.NAME == "cupy":
        return "cuda" if torch.cuda.is_available() else None
    if backend.NAME == "fakecupy":          # a test stand-in: comparing its speed means nothing
        return None
    return "cpu"


def torch_sync(dev):
    if dev == "cuda":
        torch.cuda.synchronize()


def machine_info():
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "backend": backend.describe(), "threads": THREADS,
            "torch": getattr(torch, "__version__", None), "blas": [], "warnings": [],
            "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                               "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
                    if k in os.environ}}
    if threadpool_info is not None:
        for lib in threadpool_info():
            if lib.get("user_api") == "blas":
                info["blas"].append({k: lib.get(k) for k in
                                     ("internal_api", "version", "architecture", "threading_layer",
                                      "filepath")})
                arch = str(lib.get("architecture") or "").lower()
                if arch in SSE_ONLY_KERNELS:
                    info["warnings"].append(
                        f"NumPy's BLAS runs the old SSE-only kernel {lib.get('architecture')!r}: "
                        "matrix products are several times slower than this CPU allows. "
                        "If OPENBLAS_CORETYPE is set, benchmark with it and OPENBLAS_L2_SIZE unset "
                        "in that command alone (see benchmarks/README.md).")
    if "OPENBLAS_CORETYPE" in os.environ:
        info["warnings"].append(
            f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} forces OpenBLAS's kernel; "
            "NumPy may be slower than this CPU allows.")
    if torch is not None:
        cfg = torch.__config__.show()
        info["torch_blas"] = "MKL" if "Math Kernel Library" in cfg else ("OpenBLAS" if "OpenBLAS" in cfg else "?")
        info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return info


def matmul_peak(n, reps):
    """Measured float32 GFLOP/s of an n x n x n product: NumPy (or CuPy) and PyTorch."""
    out = {}
    a = xp.asarray(np.random.default_rng(0).standard_normal((n, n)), dtype=np.float32)
    b = a.copy()
    a @ b
    sync()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        sync()
        ts.append(time.perf_counter() - t)
    out["minigrad_backend"] = 2 * n ** 3 / min(ts) / 1e9
    dev = torch_device()
    if dev is not None:
        ta = torch.randn(n, n, device=dev)
        ta @ ta
        ts = []
        for _ in range(reps):
            torch_sync(dev)
            t = time.perf_counter()
            ta @ ta
            torch_sync(dev)
            ts.append(time.perf_counter() - t)
        out["torch"] = 2 * n ** 3 / min(ts) / 1e9
    out["peak"] = max(out.values())
    return out


# ----------------------------------------------------------------------------- workloads
def sizes(quick):
    if quick:
        return dict(mlp_n=256, mlp_b=128, cnn_n=32, cnn_b=16, cnn_hw=8, rnn_batches=1, rnn_t=5,
                    lin_reps=2)
    return dict(mlp_n=10_000, mlp_b=128, cnn_n=2_000, cnn_b=64, cnn_hw=32, rnn_batches=10, rnn_t=50,
                lin_reps=20)


def gemm(m, k, n):
    return 2 * m * k * n


def mlp_flops(n, bn=False):
    # forward x@W, backward x.T@dy and dy@W.T, except dx of the first layer (neither side needs it)
    layers = [(784, 512), (512, 512), (512, 10)]
    f = sum(3 * gemm(n, a, b) for a, b in layers) - gemm(n, 784, 512)
    return f


def cnn_flops(n, hw):
    h2 = hw // 2
    c1 = gemm(n * hw * hw, 27, 32)
    c2 = gemm(n * h2 * h2, 288, 64)
    d = gemm(n, 64 * (hw // 4) ** 2, 10)
    return 2 * c1 + 3 * c2 + 3 * d


def rnn_flops(n, t):
    return 3 * gemm(n * t, 64, 128) - gemm(n * t, 64, 128) + 3 * gemm(n * t, 128, 128) + 3 * gemm(n, 128, 10)


def make_data(kind, S):
    rng = np.random.default_rng(0)
    if kind.startswith("mlp"):
        X = rng.random((S["mlp_n"], 784), dtype=np.float32)
        y = rng.integers(0, 10, S["mlp_n"])
    elif kind == "cnn":
        X = rng.random((S["cnn_n"], 3, S["cnn_hw"], S["cnn_hw"]), dtype=np.float32)
        y = rng.integers(0, 10, S["cnn_n"])
    else:
        n = 32 * S["rnn_batches"]
        X = rng.standard_normal((n, S["rnn_t"], 64), dtype=np.float32)
        y = rng.integers(0, 10, n)
    return X, y


def minigrad_model(kind, S):
    from minigrad import nn
    if kind == "mlp":
        return nn.Sequential(nn.Linear(784, 512, rng=0), nn.ReLU(), nn.Linear(512, 512, rng=1),
                             nn.ReLU(), nn.Linear(512, 10, rng=2))
    if kind == "mlp_bn":
        return nn.Sequential(nn.Linear(784, 512, rng=0), nn.BatchNorm(512, affine=False), nn.ReLU(),
                             nn.Linear(512, 512, rng=1), nn.BatchNorm(512, affine=False), nn.ReLU(),
                             nn.Linear(512, 10, rng=2))
    if kind == "cnn":
        q = S["cnn_hw"] // 4
        # conv-pool-ReLU computes exactly conv-ReLU-pool (max and ReLU commute; a test in
        # tests/test_speed_paths.py checks output and gradient), with a quarter of the ReLU work
        net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, rng=0), nn.MaxPool2d(2), nn.ReLU(),
                            nn.Conv2d(32, 64, 3, padding=1, rng=1), nn.MaxPool2d(2), nn.ReLU(),
                            nn.Flatten(), nn.Linear(64 * q * q, 10, rng=2))
        # the batch split over the threads, one replica each (nn/parallel.py; exact for
        # this network, tests/test_parallel.py); on the GPU it runs unsplit
        return nn.DataParallel(net, threads=THREADS) if THREADS > 1 else net
    return nn.Sequential(nn.RNN(64, 128, rng=0), nn.LastStep(), nn.Linear(128, 10, rng=1))


def batch_size(kind, S):
    return {"mlp": S["mlp_b"], "mlp_bn": S["mlp_b"], "cnn": S["cnn_b"], "rnn": 32}[kind]


def minigrad_epoch(kind, S):
    """Returns run() -> one training epoch through minigrad.Trainer."""
    from minigrad import optim
    from minigrad.trainer import Trainer
    X, y = make_data(kind, S)
    model = minigrad_model(kind, S)
    trainer = Trainer(model, {"X_train": X, "y_train": y}, optim.SGD(lr=0.01),
                      batch_size=batch_size(kind, S), epochs=0, rng=0, progress=False)

    def run():
        trainer.epochs += 1
        trainer.fit()
        sync()
    return run


class _TorchRNNNet(torch.nn.Module if torch is not None else object):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.RNN(64, 128, nonlinearity="tanh", batch_first=True)
        self.out = torch.nn.Linear(128, 10)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h[:, -1])


def torch_model(kind, S):
    tnn = torch.nn
    if kind == "mlp":
        return tnn.Sequential(tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 512), tnn.ReLU(),
                              tnn.Linear(512, 10))
    if kind == "mlp_bn":
        return tnn.Sequential(tnn.Linear(784, 512), tnn.BatchNorm1d(512, affine=False), tnn.ReLU(),
                              tnn.Linear(512, 512), tnn.BatchNorm1d(512, affine=False), tnn.ReLU(),
                              tnn.Linear(512, 10))
    if kind == "cnn":
        q = S["cnn_hw"] // 4
        return tnn.Sequential(tnn.Conv2d(3, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Flatten(), tnn.Linear(64 * q * q, 10))
    return _TorchRNNNet()


def torch_epoch(kind, S):
    """Returns run() -> one training epoch, the usual PyTorch loop."""
    dev = torch_device()
    X, y = make_data(kind, S)
    X, y = torch.from_numpy(X).to(dev), torch.from_numpy(y).to(dev)
    model = torch_model(kind, S).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    gen = np.random.default_rng(0)
    bs, n = batch_size(kind, S), len(X)

    def run():
        order = torch.from_numpy(gen.permutation(n)).to(dev)
        loss_sum, correct = 0.0, 0
        for s in range(0, n, bs):
            idx = order[s:s + bs]
            xb, yb = X[idx], y[idx]
            scores = model(xb)
            loss = TF.cross_entropy(scores, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += int((scores.argmax(1) == yb).sum().item())
        torch_sync(dev)
    return run


def plain_mlp_epoch(S):
    """Returns run() -> one epoch of the ``mlp`` workload as a plain NumPy (or CuPy) loop.

    No minigrad at all: the few lines a student would write by hand (same data, sizes,
    initialisation scale, loss, SGD and per-step bookkeeping as the two frameworks). It
    shows how much of the MLP's time is NumPy itself and how much minigrad adds.
    """
    X, y = make_data("mlp", S)
    X, y = xp.asarray(X), xp.asarray(y)
    rng = np.random.default_rng(0)
    dims = [(784, 512), (512, 512), (512, 10)]
    Ws = [xp.asarray(rng.standard_normal(d) * np.sqrt(2 / d[0]), dtype=np.float32) for d in dims]
    bs = [xp.zeros(d[1], dtype=np.float32) for d in dims]
    lr, bsz, n = 0.01, S["mlp_b"], len(X)

    def run():
        order = xp.asarray(rng.permutation(n))
        loss_sum, correct = 0.0, 0
        for s in range(0, n, bsz):
            idx = order[s:s + bsz]
            xb, yb = X[idx], y[idx]
            h1 = xp.maximum(xb @ Ws[0] + bs[0], 0)
            h2 = xp.maximum(h1 @ Ws[1] + bs[1], 0)
            scores = h2 @ Ws[2] + bs[2]
            shifted = scores - scores.max(axis=1, keepdims=True)
            p = xp.exp(shifted)
            p /= p.sum(axis=1, keepdims=True)
            rows = xp.arange(len(idx))
            loss_sum += float(-xp.log(p[rows, yb]).mean()) * len(idx)
            correct += int((scores.argmax(axis=1) == yb).sum())
            p[rows, yb] -= 1
            d3 = p / len(idx)
            grads = [None, None, h2.T @ d3]
            d2 = (d3 @ Ws[2].T) * (h2 > 0)
            grads[1] = h1.T @ d2
            d1 = (d2 @ Ws[1].T) * (h1 > 0)
            grads[0] = xb.T @ d1
            for W, b, gW, d in zip(Ws, bs, grads, (d1, d2, d3)):
                W -= lr * gW
                b -= lr * d.sum(axis=0)
        sync()
    return run


def minigrad_layer(kind, S):
    """Returns run() -> lin_reps forward+backward passes of one layer on a batch of 128."""
    from minigrad import nn
    rng = np.random.default_rng(0)
    if kind == "linear":
        layer = nn.Linear(784, 512, rng=0)
    elif kind == "dann":
        from minigrad.nn.dann import DANN
        layer = DANN(784, 512, 51)
    elif kind == "cwa":
        layer = nn.CWA(784, 512, rng=0)    # g (784, 512); inputs 0-391 inhibitory, 392-783 excitatory
    else:
        raise ValueError(f"unknown layer workload {kind!r}")
    # activities in [0, 1): DANN and CWA layers expect non-negative inputs
    x = backend.to_device(rng.random((128, 784), dtype=np.float32))
    dy = backend.to_device(rng.standard_normal((128, 512), dtype=np.float32))

    def run():
        for _ in range(S["lin_reps"]):
            layer.forward(x)
            layer.backward(dy)
        sync()
    return run


def torch_layer(kind, S):
    dev = torch_device()
    layer = torch.nn.Linear(784, 512).to(dev)
    x = torch.rand(128, 784, device=dev, requires_grad=True)
    dy = torch.randn(128, 512, device=dev)

    def run():
        for _ in range(S["lin_reps"]):
            layer.zero_grad(set_to_none=True)
            x.grad = None
            layer(x).backward(dy)
        torch_sync(dev)
    return run


WORKLOADS = ["mlp", "mlp_bn", "cnn", "rnn", "linear", "dann", "cwa"]
EPOCH_WORKLOADS = {"mlp", "mlp_bn", "cnn", "rnn"}


def flops(kind, S):
    if kind.startswith("mlp"):
        return mlp_flops(S["mlp_n"])
    if kind == "cnn":
        return cnn_flops(S["cnn_n"], S["cnn_hw"])
    if kind == "rnn":
        return rnn_flops(32 * S["rnn_batches"], S["rnn_t"])
    if kind == "linear":
        return S["lin_reps"] * 3 * gemm(128, 784, 512)
    return None


def builders(kind, S):
    if kind in EPOCH_WORKLOADS:
        return (lambda: minigrad_epoch(kind, S)), (lambda: torch_epoch(kind, S))
    return (lambda: minigrad_layer(kind, S)), (lambda: torch_layer("linear", S))


# ----------------------------------------------------------------------------- timing
def peak_probe(n, threads=None):
    """GFLOP/s of one n x n x n float32 product with the minigrad backend (best of 2).

    ``threads``: NumPy's BLAS threads for this probe only (default: as set for the run).
    """
    limit = None
    if threads is not None and threadpool_limits is not None and backend.NAME == "numpy":
        limit = threadpool_limits(threads, user_api="blas")
    try:
        a = xp.ones((n, n), dtype=np.float32)
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            a @ a
            sync()
            best = min(best, time.perf_counter() - t)
    finally:
        if limit is not None:
            limit.restore_original_limits()
    return 2 * n ** 3 / best / 1e9


def median_ms(fn, reps):
    """Median wall time of ``fn()`` in ms over ``reps`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def time_pair(kind, S, reps, warmup, probe_n=1024):
    """Interleaved repetitions: minigrad and PyTorch take turns (and which goes first
    alternates); for the ``mlp`` a plain NumPy loop (``plain_mlp_epoch``) takes a turn too.

    Returns a dict of per-repetition lists: times (s) of minigrad ``mg``, PyTorch ``t``
    and the plain NumPy loop ``np`` ([] where a side does not run), ``ratios``
    minigrad/PyTorch, the matmul ``peaks`` probed after each repetition (the machine is
    shared: its speed drifts) and, at more than one thread on NumPy (full runs only),
    ``scaling``: that probe over a 1-thread probe taken right after it (about 2 when the
    second core is free, near 1 when something else holds it).
    """
    build_mg, build_t = builders(kind, S)
    runs = {"mg": build_mg()}
    if torch_device() is not None:
        runs["t"] = build_t()
    if kind == "mlp":
        runs["np"] = plain_mlp_epoch(S)
    for _ in range(warmup):
        for fn in runs.values():
            fn()
    sides = list(runs)
    out = {"mg": [], "t": [], "np": [], "peaks": [], "scaling": []}
    for r in range(reps):
        k = r % len(sides)
        for side in sides[k:] + sides[:k]:          # rotate who goes first
            t = time.perf_counter()
            runs[side]()
            out[side].append(time.perf_counter() - t)
        out["peaks"].append(peak_probe(probe_n))
        # (a 256^3 probe, as in --quick, is too small to scale over two threads)
        if THREADS > 1 and backend.NAME == "numpy" and probe_n >= 1024:
            out["scaling"].append(out["peaks"][-1] / peak_probe(probe_n, threads=1))
    out["ratios"] = [a / b for a, b in zip(out["mg"], out["t"])]
    return out


# ----------------------------------------------------------------------------- memory
def _status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def memory_probe(kind, side, quick):
    """Run in a fresh subprocess: peak memory of one epoch (or layer loop), as JSON on stdout."""
    S = sizes(quick)
    limit_threads()
    build_mg, build_t = builders(kind, S)
    run = build_mg() if side == "minigrad" else build_t()
    out = {}
    if side == "minigrad" and backend.NAME == "cupy":
        pool = xp.get_default_memory_pool()
        before = pool.total_bytes()
        run()
        out["device_pool_mib"] = (pool.total_bytes() - before) / 2**20
        print(json.dumps(out))
        return
    if side == "torch" and torch_device() == "cuda":
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run()
        out["device_pool_mib"] = (torch.cuda.max_memory_allocated() - before) / 2**20
        print(json.dumps(out))
        return
    rss0 = _status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:   # reset VmHWM to the current RSS
            f.write("5")
        hwm_reset = True
    except OSError:
        hwm_reset = False
    run()
    out["rss_peak_mib"] = (_status_kib("VmHWM") - rss0) / 1024 if hwm_reset else None
    if side == "minigrad" and backend.NAME == "numpy":
        tracemalloc.start()
        run()
        out["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(json.dumps(out))


def measure_memory(kind, side, quick):
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-probe", kind, side,
           "--threads", str(THREADS)]
    if quick:
        cmd.append("--quick")
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        return json.loads(res.stdout.strip().splitlines()[-1])
    except Exception as err:  # a failed probe should not lose the timings
        return {"error": f"{type(err).__name__}: {err}"[:200]}


def limit_threads():
    if threadpool_limits is not None:
        limit_threads.ctl = threadpool_limits(THREADS, user_api="blas")   # kept alive
    if torch is not None:
        torch.set_num_threads(THREADS)


# ----------------------------------------------------------------------------- report
def fmt(v, spec=".1f", na="n/a"):
    return na if v is None else format(v, spec)


def write_atomic(path, text):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def save_results(out, quick, name, result, md):
    """Write ``<out>/<name>.json`` and ``.md`` atomically, print the markdown and where it went.

    ``out`` None: benchmarks/results, or with ``quick`` a temporary folder (smoke runs
    leave the repository alone)."""
    if out is None:
        out = os.path.join(tempfile.gettempdir(), "minigrad-bench") if quick else os.path.join(HERE, "results")
    os.makedirs(out, exist_ok=True)
    base = os.path.join(out, name)
    write_atomic(base + ".json", json.dumps(result, indent=2, default=str))
    write_atomic(base + ".md", md)
    print()
    print(md)
    print(f"results written to {base}.json and .md")


def markdown(result):
    m = result["machine"]
    lines = [f"# minigrad vs PyTorch ({result['mode']} run, {result['date']})", "",
             f"- CPU: {m['cpu']} ({m['cpus']} logical CPUs visible), {m['threads']} threads for both",
             f"- {m['backend']}; PyTorch {m['torch']} (BLAS {m.get('torch_blas', 'n/a')}, "
             f"{m.get('torch_cpu_capability', 'n/a')})"]
    for b in m["blas"]:
        lines.append(f"- NumPy BLAS: {b['internal_api']} {b['version']}, kernel {b['architecture']}, "
                     f"{b['threading_layer']}")
    if m["env"]:
        lines.append("- environment: " + ", ".join(f"{k}={v}" for k, v in m["env"].items()))
    pk = result["matmul_peak"]
    lines.append(f"- measured float32 matmul peak ({pk['n']}^3): NumPy {fmt(pk.get('minigrad_backend'))} "
                 f"GFLOP/s, PyTorch {fmt(pk.get('torch'))} GFLOP/s; peak used below = "
                 f"{fmt(pk['peak'])} GFLOP/s")
    for w in m["warnings"]:
        lines.append(f"- **WARNING**: {w}")
    lines += ["", f"Medians of {result['reps']} interleaved repetitions after {result['warmup']} "
              "warm-up pass(es). ratio = median over repetitions of minigrad time / PyTorch time "
              "(< 1: minigrad faster). Memory: peak RSS growth during one epoch, each side in a "
              "fresh process (tracemalloc peak of NumPy allocations in brackets).", "",
              "GFLOP/s counts the matrix products of a step (forward x W, backward x.T dy and "
              "dy W.T, no dx for the first layer); % of peak = median over repetitions of that "
              "repetition's GFLOP/s against the NumPy 1024^3 matmul speed probed right after it "
              "(the 'of' column gives the median probe). At 2 threads the note gives that probe "
              "over a 1-thread probe taken next (median), and in how many repetitions it was "
              f"below {BUSY_SCALING}x: the second core was then busy with work outside this process.", "",
              "| workload | minigrad ms | PyTorch ms | ratio | target | minigrad GFLOP/s | % of peak (GFLOP/s) "
              "| minigrad MiB | PyTorch MiB | mem ratio | note |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        if r.get("status") != "ok":
            lines.append(f"| {r['name']} | not available | | | | | | | | | {r.get('note', '')} |")
            continue
        mem_mg, mem_t = r.get("mem_minigrad") or {}, r.get("mem_torch") or {}
        a = mem_mg.get("rss_peak_mib", mem_mg.get("device_pool_mib"))
        b = mem_t.get("rss_peak_mib", mem_t.get("device_pool_mib"))
        tm = mem_mg.get("tracemalloc_peak_mib")
        a_s = fmt(a) + (f" ({tm:.1f})" if tm is not None else "")
        pct = fmt(r.get('pct_peak'), '.0f') + (f" of {r['peak_during']:.0f}" if r.get('peak_during') else "")
        lines.append(
            f"| {r['name']} | {fmt(r['minigrad_ms'])} | {fmt(r.get('torch_ms'))} | "
            f"{fmt(r.get('ratio'), '.2f')} | {r.get('target', '')} | {fmt(r.get('gflops'))} | "
            f"{pct} | {a_s} | {fmt(b)} | "
            f"{fmt(a / b if a and b else None, '.2f')} | {r.get('note', '')} |")
    return "\n".join(lines) + "\n"


# a 2-thread matmul probe less than this many times the 1-thread one: the second core was busy
BUSY_SCALING = 1.4
TARGETS = {"mlp": "<= 0.85, >= 60% peak", "cnn": "<= 1.25, mem <= 1.5", "rnn": "<= 0.7"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny workloads, 2 repetitions: a smoke run")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions per side (default 11)")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up passes per side (default 1)")
    ap.add_argument("--only", default=None, help="comma-separated workloads: " + ",".join(WORKLOADS))
    ap.add_argument("--threads", type=int, default=2, help="BLAS / PyTorch threads (default 2)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--out", default=None, help="results directory (default benchmarks/results; "
                    "with --quick a temporary directory, so smoke runs leave the repository alone)")
    ap.add_argument("--name", default=None, help="results file name (default: latest or quick)")
    ap.add_argument("--memory-probe", nargs=2, metavar=("WORKLOAD", "SIDE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    global THREADS
    THREADS = args.threads
    if args.memory_probe:
        memory_probe(*args.memory_probe, args.quick)
        return
    only = WORKLOADS if args.only is None else args.only.split(",")
    unknown = set(only) - set(WORKLOADS)
    if unknown:
        ap.error(f"unknown workloads {sorted(unknown)}; choose from {WORKLOADS}")
    reps = args.reps or (2 if args.quick else 11)
    warmup = args.warmup if args.warmup is not None else 1
    limit_threads()
    S = sizes(args.quick)
    info = machine_info()
    print(f"minigrad benchmark: {info['backend']}; PyTorch {info['torch'] or 'not installed'}"
          f" on {torch_device() or 'n/a'}")
    print(f"CPU {info['cpu']}; BLAS " + "; ".join(
        f"{b['internal_api']} {b['version']} kernel {b['architecture']}" for b in info["blas"]))
    for w in info["warnings"]:
        print("WARNING:", w)
    n_peak = 256 if args.quick else 2048
    peak = matmul_peak(n_peak, 3 if args.quick else 7)
    peak["n"] = n_peak
    print(f"float32 matmul peak: {peak}")
    rows = []
    for kind in only:
        row = {"name": kind, "target": TARGETS.get(kind, "")}
        try:
            timed = time_pair(kind, S, reps, warmup, 256 if args.quick else 1024)
        except ImportError as err:
            row.update(status="n/a", note=f"not available ({err})")
            print(f"{kind:8s} not available ({err})")
            rows.append(row)
            continue
        row["status"] = "ok"
        t_mg, t_t, t_np, ratios, peaks = (timed[k] for k in ("mg", "t", "np", "ratios", "peaks"))
        row["minigrad_ms"] = 1e3 * statistics.median(t_mg)
        row["minigrad_ms_all"] = [1e3 * t for t in t_mg]
        if t_t:
            row["torch_ms"] = 1e3 * statistics.median(t_t)
            row["torch_ms_all"] = [1e3 * t for t in t_t]
            row["ratio"] = statistics.median(ratios)
        if t_np:
            row["plain_numpy_ms"] = 1e3 * statistics.median(t_np)
            row["plain_numpy_ms_all"] = [1e3 * t for t in t_np]
            row["minigrad_vs_plain_numpy"] = statistics.median(a / b for a, b in zip(t_mg, t_np))
            row["note"] = (f"plain NumPy loop {row['plain_numpy_ms']:.1f} ms: minigrad / plain NumPy "
                           f"{row['minigrad_vs_plain_numpy']:.2f}")
            if t_t:
                row["plain_numpy_vs_torch"] = statistics.median(a / b for a, b in zip(t_np, t_t))
                row["note"] += f", plain NumPy / PyTorch {row['plain_numpy_vs_torch']:.2f}"
        fl = flops(kind, S)
        if fl:
            row["gflop"] = fl / 1e9
            row["gflops"] = fl / statistics.median(t_mg) / 1e9
            # each repetition against the peak probed right after it (the machine's speed
            # drifts; pairing them as the time ratios are paired), then the median
            row["peak_during"] = statistics.median(peaks)
            row["peak_all"] = peaks
            row["pct_peak"] = statistics.median(100 * fl / t / 1e9 / pk for t, pk in zip(t_mg, peaks))
        if kind in ("dann", "cwa"):
            linear_ms = median_ms(minigrad_layer("linear", S), reps)
            row["note"] = (f"vs minigrad Linear(784, 512): {row['minigrad_ms'] / linear_ms:.2f}x;"
                           " PyTorch column: torch Linear")
        elif kind == "linear":
            row["note"] = f"{S['lin_reps']} fwd+bwd, batch 128"
        if timed["scaling"]:
            # how much of the second core the machine gave: a 2-thread probe at 1-thread speed
            # means something outside this process held that core during the repetition
            busy = sum(x < BUSY_SCALING for x in timed["scaling"])
            row["core_scaling_all"] = timed["scaling"]
            row["core_scaling"] = statistics.median(timed["scaling"])
            row["reps_second_core_busy"] = busy
            row["note"] = ((row.get("note", "") + "; ") if row.get("note") else "") + (
                f"matmul 2/1-thread speed {row['core_scaling']:.2f}x, {busy} of {reps} reps below "
                f"{BUSY_SCALING}x (second core busy)")
        # --quick measures memory for the MLP only: it checks the method, in seconds
        if not args.no_memory and (not args.quick or kind == "mlp"):
            row["mem_minigrad"] = measure_memory(kind, "minigrad", args.quick)
            if torch_device() is not None:
                row["mem_torch"] = measure_memory(kind, "torch", args.quick)
        rows.append(row)
        print(f"{kind:8s} minigrad {row['minigrad_ms']:9.1f} ms  torch {fmt(row.get('torch_ms'), '9.1f')} ms"
              f"  ratio {fmt(row.get('ratio'), '.2f')}  {fmt(row.get('gflops'))} GFLOP/s"
              f" ({fmt(row.get('pct_peak'), '.0f')}% peak)  mem {row.get('mem_minigrad')} vs {row.get('mem_torch')}",
              flush=True)
    result = {"mode": "quick" if args.quick else "full", "date": time.strftime("%Y-%m-%d %H:%M"),
              "machine": info, "matmul_peak": peak, "reps": reps, "warmup": warmup, "sizes": S,
              "rows": rows}
    name = args.name or ("quick" if args.quick else "latest") + ("" if THREADS == 2 else f"-{THREADS}threads")
    if backend.NAME != "numpy":
        name += "-" + backend.NAME
    save_results(args.out, args.quick, name, result, markdown(result))


if __name__ == "__main__":
    main()
