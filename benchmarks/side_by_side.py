"""Two versions of minigrad on the same benchmark, runs interleaved: is the speed unchanged?

Each version is a source tree (for example the code before a change, unpacked with
``git archive <commit> | tar -x -C /tmp/before``, and the code after it). The script
runs ``benchmarks/bench.py`` of each tree in turn, ``--rounds`` times, alternating
which tree goes first, so both see the same machine load on average. Every bench run
also times PyTorch on the same work, which gives a second, load-corrected view: the
minigrad / PyTorch ratio of each run.

Reported per workload: the median minigrad time of each version (over all its
repetitions of all rounds), after / before of those medians, the median over rounds
of the paired after / before ratio (the two runs of one round are back to back),
and the median minigrad / PyTorch ratio of each version.

Run from the repository root::

    python benchmarks/side_by_side.py --before /tmp/before --after /tmp/after \\
        --rounds 3 --bench-args "--only mlp,cnn --reps 3 --no-memory" --name issue13-side-by-side

Results go to benchmarks/results/<name>.json and .md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_bench(tree, bench_args, out_dir, name):
    """Run tree/benchmarks/bench.py with its own minigrad; returns its JSON result."""
    env = dict(os.environ, PYTHONPATH=tree)
    cmd = [sys.executable, os.path.join(tree, "benchmarks", "bench.py"), *bench_args.split(),
           "--out", out_dir, "--name", name]
    subprocess.run(cmd, env=env, cwd=tree, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out_dir, name + ".json")) as f:
        return json.load(f)


def summarise(runs):
    """runs: list of (round, side, bench JSON) -> dict workload -> summary numbers."""
    out = {}
    names = [r["name"] for r in runs[0][2]["rows"]]
    for w in names:
        per = {"before": [], "after": []}
        ratio_torch = {"before": [], "after": []}
        by_round = {}
        for rnd, side, res in runs:
            row = next(r for r in res["rows"] if r["name"] == w)
            per[side] += row.get("minigrad_ms_all", [row["minigrad_ms"]])
            if row.get("ratio") is not None:
                ratio_torch[side].append(row["ratio"])
            by_round.setdefault(rnd, {})[side] = row["minigrad_ms"]
        paired = [v["after"] / v["before"] for v in by_round.values() if "after" in v and "before" in v]
        med = {s: statistics.median(v) for s, v in per.items()}
        out[w] = {
            "before_ms": med["before"], "after_ms": med["after"],
            "after_over_before": med["after"] / med["before"],
            "paired_after_over_before_median": statistics.median(paired),
            "paired_after_over_before_all": paired,
            "before_vs_torch": statistics.median(ratio_torch["before"]) if ratio_torch["before"] else None,
            "after_vs_torch": statistics.median(ratio_torch["after"]) if ratio_torch["after"] else None,
            "before_ms_all": per["before"], "after_ms_all": per["after"],
        }
    return out


def write(path_base, meta, summary):
    with open(path_base + ".json", "w") as f:
        json.dump({"meta": meta, "workloads": summary}, f, indent=1)
    fmt = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [f"# {meta['name']}", "",
             f"{meta['date']}; before = {meta['before_label']}, after = {meta['after_label']}; "
             f"{meta['rounds']} rounds of `bench.py {meta['bench_args']}` per version, interleaved "
             "(the order alternates every round); total wall time "
             f"{meta['wall_s']:.0f} s.", "",
             meta["note"], "",
             "| workload | before ms (median) | after ms (median) | after / before | paired after / before "
             "(median of rounds) | before / PyTorch | after / PyTorch |",
             "|---|---|---|---|---|---|---|"]
    for w, s in summary.items():
        lines.append(f"| {w} | {s['before_ms']:.1f} | {s['after_ms']:.1f} | {s['after_over_before']:.2f} | "
                     f"{s['paired_after_over_before_median']:.2f} "
                     f"({', '.join(f'{v:.2f}' for v in s['paired_after_over_before_all'])}) | "
                     f"{fmt(s['before_vs_torch'])} | {fmt(s['after_vs_torch'])} |")
    with open(path_base + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="source tree of the code before")
    ap.add_argument("--after", required=True, help="source tree of the code after")
    ap.add_argument("--before-label", default="before")
    ap.add_argument("--after-label", default="after")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bench-args", default="--reps 3 --no-memory")
    ap.add_argument("--name", default="side-by-side")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    t0 = time.time()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            order = ("before", "after") if rnd % 2 == 0 else ("after", "before")
            for side in order:
                tree = args.before if side == "before" else args.after
                runs.append((rnd, side, run_bench(tree, args.bench_args, tmp, f"{side}{rnd}")))
                print(f"round {rnd + 1}/{args.rounds}: {side} done ({time.time() - t0:.0f} s)", flush=True)
    summary = summarise(runs)
    meta = {"name": args.name, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "before_label": args.before_label, "after_label": args.after_label, "rounds": args.rounds,
            "bench_args": args.bench_args, "wall_s": time.time() - t0, "note": args.note,
            "machine": runs[0][2].get("machine")}
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, args.name)
    write(base, meta, summary)
    print(open(base + ".md").read())


if __name__ == "__main__":
    main()
