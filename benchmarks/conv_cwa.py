"""ConvCWA next to Conv2d of the same shape: forward + backward (with dx), float32.

Issue 16 asks for ``nn.ConvCWA`` in the same speed class as ``nn.Conv2d``. Both run the one
convolution machinery of ``minigrad/nn/conv.py``; ConvCWA splits its input channels into the
inhibitory and the excitatory group and runs one convolution per group (the multiply-adds of
one Conv2d in all), plus elementwise work (the division, the clamp of h, the two-sided
backward). The shapes are the layers of the CWA paper's convolutional nets (section 4.2:
5x5 kernels, stride 2, channels doubled at the input, 32-64-128-...; batch 64) and the
3x3 layer of the benchmark CNN.

Method: warm-up, then ``reps`` repetitions in which ConvCWA and Conv2d take turns (the
order alternating), so both see the same machine load; reported are the median times and
the median of the per-repetition ratios ConvCWA / Conv2d, under the active kernels (fast
by default, ``--reference`` for the textbook im2col/col2im). The machine this runs on is
shared with other work and its speed drifts: read ratios, not absolute times, and expect
a few tenths of spread between runs.

    python benchmarks/conv_cwa.py                # writes benchmarks/results/conv_cwa.{json,md}
    python benchmarks/conv_cwa.py --reference    # the textbook kernels (conv_cwa-reference.*)
    python benchmarks/conv_cwa.py --quick        # small shapes, 3 repetitions, to a temporary folder
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from bench import save_results  # noqa: E402
from minigrad import backend  # noqa: E402
from minigrad.backend import NAME, to_device  # noqa: E402
from minigrad.nn import Conv2d, ConvCWA  # noqa: E402

CASES = [  # label, N, C, H (= W), F, kernel, stride, pad
    ("CWA-CNN conv1 (doubled RGB)", 64, 6, 32, 32, 5, 2, 2),
    ("CWA-CNN conv2", 64, 32, 16, 64, 5, 2, 2),
    ("CWA-CNN conv3", 64, 64, 8, 128, 5, 2, 2),
    ("3x3, stride 1", 64, 32, 16, 64, 3, 1, 1),
]


def step(layer, x, dout):
    layer.forward(x)
    layer.backward(dout)


def sync():
    if NAME == "cupy":
        import cupy
        cupy.cuda.Device().synchronize()


def timed(fn):
    t = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, 3 repetitions")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (default 15)")
    ap.add_argument("--reference", action="store_true", help="the textbook kernels (MINIGRAD_KERNELS=reference)")
    ap.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = ap.parse_args()
    if args.reference:
        backend.set_kernels("reference")
    reps = args.reps or (3 if args.quick else 15)
    cases = CASES if not args.quick else [(lb, 4, C, 8, F, k, s, p) for lb, _, C, _, F, k, s, p in CASES]
    rng = np.random.default_rng(0)
    rows = []
    for label, N, C, H, F, k, s, p in cases:
        x = to_device(rng.random((N, C, H, H)), dtype=np.float32)       # activities in [0, 1)
        layers = {"cwa": ConvCWA(C, F, k, stride=s, padding=p, rng=0), "conv": Conv2d(C, F, k, stride=s, padding=p,
                                                                                        rng=0)}
        out = layers["conv"].forward(x)
        dout = to_device(rng.standard_normal(out.shape), dtype=np.float32)
        row = {"case": f"{label}: x {N}x{C}x{H}x{H} -> {F}, {k}x{k}, stride {s}, pad {p}"}
        for mode, with_dx in (("", True), ("nodx_", False)):      # nodx: a first layer while training
            times = {"cwa": [], "conv": []}
            for name, layer in layers.items():                           # warm-up
                layer.needs_input_grad = with_dx
                step(layer, x, dout)
            for r in range(reps):
                order = ("cwa", "conv") if r % 2 == 0 else ("conv", "cwa")
                for name in order:
                    times[name].append(timed(lambda: step(layers[name], x, dout)))
            ratios = [a / b for a, b in zip(times["cwa"], times["conv"])]
            row.update({mode + "cwa_ms": 1e3 * statistics.median(times["cwa"]),
                        mode + "conv_ms": 1e3 * statistics.median(times["conv"]),
                        mode + "ratio": statistics.median(ratios), mode + "ratio_min": min(ratios),
                        mode + "ratio_max": max(ratios), mode + "times_s": times})
        rows.append(row)
        print(f"{row['case']}: ConvCWA {row['cwa_ms']:.2f} ms, Conv2d {row['conv_ms']:.2f} ms, "
              f"ratio {row['ratio']:.2f}; without dx {row['nodx_ratio']:.2f}", flush=True)
    kern = backend.kernels()
    lines = [f"# ConvCWA vs Conv2d, forward + backward ({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"Backend {NAME}, kernels {kern}, float32, {reps} interleaved repetitions; "
             f"BLAS threads as set by the environment (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}). "
             "The machine is shared and noisy: compare the ratios (median of per-repetition ratios, "
             "min-max in brackets), not the absolute times.", "",
             "Without dx: the backward skips the input gradient, as ``Trainer`` has the first layer do.", "",
             "| case | ConvCWA | Conv2d | ratio ConvCWA / Conv2d | without dx: ConvCWA | Conv2d | ratio |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['cwa_ms']:.2f} ms | {r['conv_ms']:.2f} ms | "
                     f"{r['ratio']:.2f} ({r['ratio_min']:.2f}-{r['ratio_max']:.2f}) | "
                     f"{r['nodx_cwa_ms']:.2f} ms | {r['nodx_conv_ms']:.2f} ms | "
                     f"{r['nodx_ratio']:.2f} ({r['nodx_ratio_min']:.2f}-{r['nodx_ratio_max']:.2f}) |")
    md = "\n".join(lines) + "\n"
    name = ("conv_cwa" + ("" if NAME == "numpy" else "-" + NAME) + ("-reference" if args.reference else "")
            + ("-quick" if args.quick else ""))
    save_results(args.out, args.quick, name, {"reps": reps, "kernels": kern, "rows": rows}, md)


if __name__ == "__main__":
    main()
