"""Where the MLP epoch's time goes at 2 and at 1 BLAS thread, part by part.

On the 2-vCPU machine these benchmarks were written on, the 2-thread epoch of
``bench.py``'s ``mlp`` workload is bimodal: some epochs run about 1.5x faster than
at 1 thread, others no faster at all (benchmarks/README.md, "Third pass"). This
script measures that, so the explanation there can be checked on any machine.

Each round times, in a rotating order, one epoch of the ``mlp`` workload through
``minigrad.Trainer`` at 2 BLAS threads, one at 1 thread, and (if PyTorch is
installed) one PyTorch epoch at 2 threads. Inside the minigrad epochs every layer's
``forward`` and ``backward``, the loss and the optimizer step are timed: this one
model's bound methods are wrapped by timers, the layers themselves are unchanged.
"rest" is the epoch minus those parts: the batch gather, the loss read-back and the
Trainer's bookkeeping.

A round whose 2-thread epoch is at least ``SCALES`` times faster than its 1-thread
epoch counts as "scaling", the others as "not scaling"; each part is reported as its
median over each group, so one sees which parts lose the second core's help.

    python benchmarks/mlp_threads.py                 # 12 rounds, ~30 s; writes results/mlp_threads.{json,md}
    python benchmarks/mlp_threads.py --quick         # tiny epochs, 2 rounds, to a temporary folder

NumPy backend only: it is about the CPU's BLAS threads.
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bench  # noqa: E402
from minigrad import backend, optim  # noqa: E402
from minigrad.trainer import Trainer  # noqa: E402

# 2-thread epoch at least this many times faster than the 1-thread one: a "scaling" round.
# The two groups seen here: 0.9-1.2x and 1.4-1.6x.
SCALES = 1.3


def timed_trainer(S):
    """A Trainer on the ``mlp`` workload whose parts add their wall time to ``parts``."""
    X, y = bench.make_data("mlp", S)
    model = bench.minigrad_model("mlp", S)
    trainer = Trainer(model, {"X_train": X, "y_train": y}, optim.SGD(lr=0.01),
                      batch_size=bench.batch_size("mlp", S), epochs=0, rng=0, progress=False)
    parts = {}

    def timer(fn, name):
        parts[name] = 0.0

        def wrapped(*args):
            t = time.perf_counter()
            out = fn(*args)
            parts[name] += time.perf_counter() - t
            return out
        return wrapped

    for i, layer in enumerate(model.layers):
        label = f"{i} {type(layer).__name__}"
        layer.forward = timer(layer.forward, f"{label} forward")
        layer.backward = timer(layer.backward, f"{label} backward")
    trainer.loss_fn = timer(trainer.loss_fn, "loss")
    trainer.optimizer.step = timer(trainer.optimizer.step, "optimizer step")

    def run():
        """One epoch; returns (epoch seconds, {part: seconds})."""
        for name in parts:
            parts[name] = 0.0
        trainer.epochs += 1
        t = time.perf_counter()
        trainer.fit()
        total = time.perf_counter() - t
        return total, dict(parts, rest=total - sum(parts.values()))
    return run


def measure(S, rounds):
    mg = timed_trainer(S)
    sides = {"2": lambda: mg(), "1": lambda: mg()}
    limits = {"2": 2, "1": 1}
    if bench.torch is not None:
        bench.torch.set_num_threads(2)
        torch_epoch = bench.torch_epoch("mlp", S)
        sides["torch"] = torch_epoch
    for side, fn in sides.items():                      # warm-up
        with bench.threadpool_limits(limits.get(side, 2), user_api="blas"):
            fn()
    out = []
    names = list(sides)
    for r in range(rounds):
        row = {}
        k = r % len(names)
        for side in names[k:] + names[:k]:
            with bench.threadpool_limits(limits.get(side, 2), user_api="blas"):
                if side == "torch":
                    t = time.perf_counter()
                    sides[side]()
                    row["torch"] = time.perf_counter() - t
                else:
                    row[side], row[f"parts{side}"] = sides[side]()
        row["speedup"] = row["1"] / row["2"]
        out.append(row)
        print(f"round {r + 1}/{rounds}: 2 threads {1e3 * row['2']:.0f} ms, 1 thread {1e3 * row['1']:.0f} ms "
              f"({row['speedup']:.2f}x)" + (f", PyTorch {1e3 * row['torch']:.0f} ms" if "torch" in row else ""),
              flush=True)
    return out


def med(values):
    values = list(values)
    return 1e3 * statistics.median(values) if values else None


def summarise(rounds):
    scaling = [r for r in rounds if r["speedup"] >= SCALES]
    flat = [r for r in rounds if r["speedup"] < SCALES]
    parts = []
    for name in rounds[0]["parts1"]:
        parts.append({"part": name, "t1_ms": med(r["parts1"][name] for r in rounds),
                      "t2_scaling_ms": med(r["parts2"][name] for r in scaling),
                      "t2_not_scaling_ms": med(r["parts2"][name] for r in flat)})
    groups = {}
    for label, group in (("all", rounds), ("scaling", scaling), ("not_scaling", flat)):
        g = {"rounds": len(group), "t2_ms": med(r["2"] for r in group), "t1_ms": med(r["1"] for r in group)}
        if group and "torch" in group[0]:
            g["torch_ms"] = med(r["torch"] for r in group)
            g["ratio_2threads_to_torch"] = statistics.median(r["2"] / r["torch"] for r in group)
        groups[label] = g
    return parts, groups


def fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def markdown(result):
    g = result["groups"]
    lines = [f"# MLP epoch by part, 2 vs 1 BLAS thread ({result['date']})", "",
             f"- {result['machine']['cpu']}, {result['machine']['backend']}; "
             + "; ".join(f"{b['internal_api']} {b['version']} kernel {b['architecture']}"
                         for b in result["machine"]["blas"]),
             f"- {len(result['rounds'])} rounds; a round is 'scaling' when its 2-thread epoch is at least "
             f"{SCALES}x faster than its 1-thread epoch: {g['scaling']['rounds']} scaling, "
             f"{g['not_scaling']['rounds']} not", ""]
    lines += ["| rounds | n | 2 threads ms | 1 thread ms | PyTorch ms | minigrad (2 threads) / PyTorch |",
              "|---|---|---|---|---|---|"]
    for label in ("all", "scaling", "not_scaling"):
        x = g[label]
        lines.append(f"| {label.replace('_', ' ')} | {x['rounds']} | {fmt(x['t2_ms'])} | {fmt(x['t1_ms'])} | "
                     f"{fmt(x.get('torch_ms'))} | {fmt(x.get('ratio_2threads_to_torch'), '.2f')} |")
    lines += ["", "Medians per epoch, ms (speed-up over 1 thread in brackets):", "",
              "| part | 1 thread | 2 threads, scaling rounds | 2 threads, rounds not scaling |", "|---|---|---|---|"]
    for p in result["parts"]:
        def cell(v):
            return "-" if v is None else f"{v:.1f} ({p['t1_ms'] / v:.2f}x)"
        lines.append(f"| {p['part']} | {p['t1_ms']:.1f} | {cell(p['t2_scaling_ms'])} | "
                     f"{cell(p['t2_not_scaling_ms'])} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny epochs, 2 rounds, to a temporary folder")
    ap.add_argument("--rounds", type=int, default=None, help="rounds (default 12)")
    ap.add_argument("--out", default=None, help="results directory (default benchmarks/results; "
                    "with --quick a temporary directory)")
    args = ap.parse_args()
    if backend.NAME != "numpy":
        sys.exit(f"mlp_threads.py: this benchmark compares the CPU's BLAS threads; it needs "
                 f"MINIGRAD_BACKEND=numpy, not {backend.NAME!r}")
    if bench.threadpool_limits is None:
        sys.exit("mlp_threads.py: needs threadpoolctl to set the BLAS threads (pip install threadpoolctl)")
    rounds = args.rounds or (2 if args.quick else 12)
    data = measure(bench.sizes(args.quick), rounds)
    parts, groups = summarise(data)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": bench.machine_info(), "scales": SCALES,
              "rounds": data, "parts": parts, "groups": groups}
    bench.save_results(args.out, args.quick, "mlp_threads" + ("-quick" if args.quick else ""), result,
                       markdown(result))


if __name__ == "__main__":
    main()
