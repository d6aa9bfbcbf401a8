"""The hot layers of two versions of minigrad, timed in one process, turn by turn.

``side_by_side.py`` compares whole ``bench.py`` runs, minutes apart; on a loaded
machine their load differs. This script imports the ``minigrad`` of both source
trees into one process (under two module names) and times a forward + backward
of each layer alternately, version A then B then A ..., so both see the same load
to within a fraction of a second. Fast kernels (the default) only.

Run from the repository root::

    python benchmarks/layers_side_by_side.py --before /tmp/before --after . --reps 15 --name issue13-layers

Results go to benchmarks/results/<name>.json and .md: per layer the median time of
each version (ms) and the median of the per-turn after / before ratios.
"""
import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def load(tree, alias):
    """Import tree/minigrad as the package ``alias`` (its imports inside are relative)."""
    spec = importlib.util.spec_from_file_location(alias, os.path.join(tree, "minigrad", "__init__.py"),
                                                  submodule_search_locations=[os.path.join(tree, "minigrad")])
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return importlib.import_module(alias + ".nn"), importlib.import_module(alias + ".backend")


def cases(nn, backend, rng):
    """name -> (layer, input, upstream gradient, forward keyword arguments), float32, the bench sizes."""
    f32 = np.float32
    x_img = rng.random((64, 32, 16, 16), dtype=f32)
    out = {
        "Linear 128x784->512": (nn.Linear(784, 512, rng=0), rng.random((128, 784), dtype=f32), (128, 512)),
        "Linear FA 128x784->512": (nn.Linear(784, 512, rng=0, feedback="fa"), rng.random((128, 784), dtype=f32),
                                   (128, 512)),
        "BatchNorm 128x512": (nn.BatchNorm(512, affine=False), rng.standard_normal((128, 512)).astype(f32),
                              (128, 512)),
        "Conv2d 32->64 3x3 on 64x16x16": (nn.Conv2d(32, 64, 3, padding=1, rng=0), x_img, (64, 64, 16, 16)),
        "MaxPool2d 2 on 64x32x16x16": (nn.MaxPool2d(2), x_img, (64, 32, 8, 8)),
        "RNN (32, 50, 64) -> 128": (nn.RNN(64, 128, rng=0), rng.standard_normal((32, 50, 64)).astype(f32),
                                    (32, 50, 128)),
        "DANN 128x784->512 (51 inh.)": (nn.DANN(784, 512, 51, rng=0), rng.random((128, 784), dtype=f32),
                                        (128, 512)),
        "DANNConv2d 8->16 3x3 on 32x16x16": (nn.DANNConv2d(8, 16, 2, 3, padding=1, rng=0),
                                             rng.random((32, 8, 16, 16), dtype=f32), (32, 16, 16, 16)),
    }
    dev = backend.to_device
    return {k: (layer, dev(x), dev(rng.standard_normal(shape).astype(f32))) for k, (layer, x, shape) in out.items()}


def step_ms(layer, x, dout):
    t = time.perf_counter()
    layer.forward(x)
    layer.backward(dout)
    return (time.perf_counter() - t) * 1e3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--before-label", default="before")
    ap.add_argument("--after-label", default="after")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--name", default="layers-side-by-side")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    versions = {"before": cases(*load(args.before, "minigrad_before"), np.random.default_rng(0)),
                "after": cases(*load(args.after, "minigrad_after"), np.random.default_rng(0))}
    t0 = time.time()
    results = {}
    for name in versions["before"]:
        times = {"before": [], "after": []}
        for side in ("before", "after"):                       # one warm-up each
            step_ms(*versions[side][name])
        for rep in range(args.reps):
            order = ("before", "after") if rep % 2 == 0 else ("after", "before")
            for side in order:
                times[side].append(step_ms(*versions[side][name]))
        ratios = [a / b for a, b in zip(times["after"], times["before"])]
        results[name] = {"before_ms": statistics.median(times["before"]),
                         "after_ms": statistics.median(times["after"]),
                         "after_over_before_median": statistics.median(ratios),
                         "before_ms_all": times["before"], "after_ms_all": times["after"]}
        print(f"{name}: before {results[name]['before_ms']:.2f} ms, after {results[name]['after_ms']:.2f} ms, "
              f"ratio {results[name]['after_over_before_median']:.2f}", flush=True)
    meta = {"name": args.name, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "before": args.before_label, "after": args.after_label, "reps": args.reps,
            "wall_s": time.time() - t0, "note": args.note,
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default")}
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, args.name)
    with open(base + ".json", "w") as f:
        json.dump({"meta": meta, "layers": results}, f, indent=1)
    lines = [f"# {args.name}", "",
             f"{meta['date']}; before = {args.before_label}, after = {args.after_label}; forward + backward of "
             f"each layer, fast kernels, float32, {args.reps} turns per version alternating in one process "
             f"(OPENBLAS_NUM_THREADS={meta['blas_threads']}), after one warm-up each.", "", args.note, "",
             "| layer | before ms (median) | after ms (median) | after / before (median of turns) |",
             "|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['before_ms']:.2f} | {r['after_ms']:.2f} | {r['after_over_before_median']:.2f} |")
    with open(base + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print(open(base + ".md").read())


if __name__ == "__main__":
    main()
