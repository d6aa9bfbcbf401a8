"""col2im three ways: accumulate over kernel offsets, ``np.add.at``, ``np.bincount``.

col2im is the adjoint of im2col: every patch-gradient entry is added back to the pixel
it was read from, and a pixel shared by several patches gets the sum. minigrad's
``nn.conv.col2im`` loops over the HH*WW kernel offsets and adds one strided slab per
offset (the fused channels-last backward of ``Conv2d`` does the same, one product per
offset). Issue 5 asks to measure the scatter-add alternatives too:

- ``add.at``:   np.add.at(dx_pad.ravel(), index, dcols.ravel()), with the pixel index of
                every patch entry computed once (as a layer would cache it);
- ``bincount``: np.bincount(index, weights=dcols.ravel(), minlength=dx_pad.size), the
                usual faster NumPy scatter-add (it sums in float64).

The shapes are the benchmark CNN's two convolutions at batch 64 and a strided one.
Each method's result is checked against the offset loop before it is timed.

A second table compares what ``Conv2d.backward`` really does for dx (channels-last,
the product fused with the offset loop, no patch-gradient matrix; timed as its backward
with dx minus its backward without) with the product done first as one GEMM into the
(N*Ho*Wo, HH*WW*C) patch gradients and then scattered by ``add.at``.

    python benchmarks/col2im.py            # writes benchmarks/results/col2im.{json,md}
    python benchmarks/col2im.py --quick    # small shapes, to a temporary folder
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from bench import median_ms, save_results  # noqa: E402
from minigrad.backend import NAME, to_device, to_numpy, xp  # noqa: E402
from minigrad.nn import Conv2d  # noqa: E402
from minigrad.nn.conv import col2im  # noqa: E402


def pixel_index(x_pad_shape, HH, WW, stride):
    """(N*Ho*Wo*C*HH*WW,) flat index into dx_pad of every entry of dcols (im2col's order)."""
    N, C, Hp, Wp = x_pad_shape
    Ho, Wo = (Hp - HH) // stride + 1, (Wp - WW) // stride + 1
    n, i, j, c, u, v = np.ix_(np.arange(N), np.arange(Ho), np.arange(Wo), np.arange(C),
                              np.arange(HH), np.arange(WW))
    flat = ((n * C + c) * Hp + (i * stride + u)) * Wp + (j * stride + v)
    return to_device(flat.ravel())


def pixel_index_channels_last(x_pad_shape, HH, WW, stride):
    """Flat index into a channels-last dx_pad (N, Hp, Wp, C) of every patch-gradient entry,
    rows (n, i, j) and columns in (u, v, c) order, as ``Conv2d`` lays its patches out."""
    N, Hp, Wp, C = x_pad_shape
    Ho, Wo = (Hp - HH) // stride + 1, (Wp - WW) // stride + 1
    n, i, j, u, v, c = np.ix_(np.arange(N), np.arange(Ho), np.arange(Wo), np.arange(HH),
                              np.arange(WW), np.arange(C))
    flat = ((n * Hp + (i * stride + u)) * Wp + (j * stride + v)) * C + c
    return to_device(flat.ravel())


def layer_dx_vs_gemm_add_at(N, C, H, k, s, p, reps, rng):
    """Conv2d's fused dx against one GEMM to the patch gradients plus add.at (ms)."""
    F = 2 * C if C > 3 else 32
    layer = Conv2d(C, F, k, stride=s, padding=p, rng=0)
    x = to_device(rng.standard_normal((N, C, H, H)).astype(np.float32))
    out = layer.forward(x)
    dout = to_device(rng.standard_normal(out.shape).astype(np.float32))
    dout = dout.transpose(0, 2, 3, 1).copy().transpose(0, 3, 1, 2)        # channels-last, as a Conv2d gives it
    want = to_numpy(layer.backward(dout))

    def backward(with_dx):
        layer.needs_input_grad = with_dx
        layer.backward(dout)
    fused = median_ms(lambda: backward(True), reps) - median_ms(lambda: backward(False), reps)
    layer.needs_input_grad = True
    shape = layer.geom["x_pad_shape"]                                       # (N, Hp, Wp, C)
    index = pixel_index_channels_last(shape, k, k, s)
    w_rows = layer.params["W"].transpose(0, 2, 3, 1).reshape(F, -1)         # (F, HH*WW*C)

    def gemm_add_at():
        dcols = dout.transpose(0, 2, 3, 1).reshape(-1, F) @ w_rows         # (N*Ho*Wo, HH*WW*C)
        dx_pad = xp.zeros(shape, dtype=dcols.dtype)
        xp.add.at(dx_pad.reshape(-1), index, dcols.reshape(-1))
        return dx_pad[:, p:shape[1] - p, p:shape[2] - p, :].transpose(0, 3, 1, 2)
    np.testing.assert_allclose(to_numpy(gemm_add_at()), want, rtol=1e-4, atol=1e-4)
    return fused, median_ms(gemm_add_at, reps)


def col2im_add_at(dcols, x_pad_shape, index):
    dx_pad = xp.zeros(x_pad_shape, dtype=dcols.dtype)
    xp.add.at(dx_pad.reshape(-1), index, dcols.reshape(-1))
    return dx_pad


def col2im_bincount(dcols, x_pad_shape, index):
    size = int(np.prod(x_pad_shape))
    return xp.bincount(index, weights=dcols.reshape(-1), minlength=size).astype(dcols.dtype).reshape(x_pad_shape)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, 3 repetitions")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (default 15)")
    ap.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = ap.parse_args()
    reps = args.reps or (3 if args.quick else 15)
    cases = [  # label, N, C, H (= W), kernel, stride, pad
        ("cnn conv1", 64, 3, 32, 3, 1, 1),
        ("cnn conv2", 64, 32, 16, 3, 1, 1),
        ("strided", 64, 32, 16, 3, 2, 0),
    ]
    if args.quick:
        cases = [(label, 4, C, 8, k, s, p) for label, _, C, _, k, s, p in cases]
    rng = np.random.default_rng(0)
    rows = []
    for label, N, C, H, k, s, p in cases:
        name = f"{label}: x {N}x{C}x{H}x{H}, {k}x{k}, stride {s}, pad {p}"
        shape = (N, C, H + 2 * p, H + 2 * p)
        Ho = (shape[2] - k) // s + 1
        dcols = to_device(rng.standard_normal((N * Ho * Ho, C * k * k)).astype(np.float32))
        index = pixel_index(shape, k, k, s)
        want = to_numpy(col2im(dcols, shape, k, k, s))
        row = {"case": name, "dcols": list(dcols.shape)}
        methods = {"offsets": lambda: col2im(dcols, shape, k, k, s),
                   "add_at": lambda: col2im_add_at(dcols, shape, index),
                   "bincount": lambda: col2im_bincount(dcols, shape, index)}
        for method, fn in methods.items():
            try:
                got = to_numpy(fn())
            except (AttributeError, TypeError, NotImplementedError) as err:   # not on this backend
                row[method] = f"n/a ({type(err).__name__})"
                continue
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"{method}, {name}")
            row[method] = median_ms(fn, reps)
        try:
            row["layer_fused_dx"], row["layer_gemm_add_at"] = layer_dx_vs_gemm_add_at(N, C, H, k, s, p, reps, rng)
        except (AttributeError, TypeError, NotImplementedError) as err:
            row["layer_fused_dx"] = row["layer_gemm_add_at"] = f"n/a ({type(err).__name__})"
        rows.append(row)
        print(name, {m: (round(v, 2) if isinstance(v, float) else v) for m, v in row.items()
                     if m != "case" and m != "dcols"}, flush=True)

    def cell(v, base):
        return v if isinstance(v, str) else f"{v:.2f} ms ({v / base:.1f}x)"
    lines = [f"# col2im: offset loop vs np.add.at vs np.bincount ({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"Backend {NAME}, float32, median of {reps} repetitions; in brackets: time / offset loop.", "",
             "| case | dcols | offsets | add.at | bincount |", "|---|---|---|---|---|"]
    for r in rows:
        base = r["offsets"]
        lines.append(f"| {r['case']} | {r['dcols'][0]} x {r['dcols'][1]} | {base:.2f} ms | "
                     f"{cell(r['add_at'], base)} | {cell(r['bincount'], base)} |")
    lines += ["", "With the product (dx of `Conv2d`, channels-last, F = 2C filters, 32 for C = 3): "
              "the layer's fused offset loop (its backward with dx minus without) vs one GEMM to the patch "
              "gradients followed by `add.at`.", "",
              "| case | Conv2d fused dx | GEMM + add.at |", "|---|---|---|"]
    for r in rows:
        base = r["layer_fused_dx"]
        if isinstance(base, str):
            lines.append(f"| {r['case']} | {base} | {r['layer_gemm_add_at']} |")
        else:
            lines.append(f"| {r['case']} | {base:.2f} ms | {cell(r['layer_gemm_add_at'], base)} |")
    md = "\n".join(lines) + "\n"
    name = "col2im" + ("" if NAME == "numpy" else "-" + NAME) + ("-quick" if args.quick else "")
    save_results(args.out, args.quick, name, {"reps": reps, "rows": rows}, md)


if __name__ == "__main__":
    main()
