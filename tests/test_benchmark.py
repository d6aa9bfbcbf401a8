"""The benchmark script runs end to end (tiny workloads) on the active backend.

Under MINIGRAD_BACKEND=fakecupy (as CI runs it) this also shows the benchmark
makes no implicit device-to-host conversion, as it must to run on a GPU.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_benchmark_quick_run_writes_results(tmp_path):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "bench.py"), "--quick", "--no-memory",
         "--only", "mlp,cnn,rnn,linear,dann,cwa", "--out", str(tmp_path), "--name", "smoke"],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = sorted(tmp_path.glob("smoke*.json"))          # "smoke-fakecupy.json" on other backends
    assert len(found) == 1, found
    with open(found[0]) as f:
        results = json.load(f)
    rows = {r["name"]: r for r in results["rows"]}
    assert set(rows) == {"mlp", "cnn", "rnn", "linear", "dann", "cwa"}
    for name, row in rows.items():
        assert row["status"] == "ok", (name, row)
        assert row["minigrad_ms"] > 0
    # the MLP row also times the plain NumPy loop, interleaved with the two frameworks
    assert rows["mlp"]["plain_numpy_ms"] > 0 and len(rows["mlp"]["plain_numpy_ms_all"]) == results["reps"]
    assert "plain NumPy" in rows["mlp"]["note"]
    assert found[0].with_suffix(".md").exists()


def test_col2im_benchmark_quick_run(tmp_path):
    """benchmarks/col2im.py checks add.at, bincount and GEMM + add.at against the offset loop, then times them."""
    script = os.path.join(ROOT, "benchmarks", "col2im.py")
    proc = subprocess.run([sys.executable, script, "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = sorted(tmp_path.glob("col2im*.json"))
    assert len(found) == 1, found
    with open(found[0]) as f:
        rows = json.load(f)["rows"]
    assert len(rows) == 3
    for row in rows:
        assert row["offsets"] > 0 and row["add_at"] > 0
    assert found[0].with_suffix(".md").exists()


def test_mlp_threads_benchmark_quick_run(tmp_path):
    """benchmarks/mlp_threads.py times every part of the MLP epoch at 2 and 1 BLAS threads
    (NumPy backend); on any other backend it refuses, naming the backend it needs."""
    from minigrad import backend
    script = os.path.join(ROOT, "benchmarks", "mlp_threads.py")
    proc = subprocess.run([sys.executable, script, "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    if backend.NAME != "numpy":
        assert proc.returncode != 0 and "MINIGRAD_BACKEND=numpy" in proc.stderr, proc.stderr[-2000:]
        return
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = sorted(tmp_path.glob("mlp_threads*.json"))
    assert len(found) == 1, found
    with open(found[0]) as f:
        result = json.load(f)
    assert len(result["rounds"]) == 2
    layers = ["0 Linear", "1 ReLU", "2 Linear", "3 ReLU", "4 Linear"]
    expected = {f"{name} {d}" for name in layers for d in ("forward", "backward")}
    expected |= {"loss", "optimizer step", "rest"}
    for r in result["rounds"]:
        for threads in ("1", "2"):
            parts = r["parts" + threads]
            assert set(parts) == expected
            # the timed parts and the rest add up to the epoch; every product takes time
            assert abs(sum(parts.values()) - r[threads]) < 1e-9 and parts["rest"] >= 0
            assert all(parts[f"{n} forward"] > 0 for n in ("0 Linear", "2 Linear", "4 Linear"))
        assert r["speedup"] == r["1"] / r["2"]
    groups = result["groups"]
    assert groups["scaling"]["rounds"] + groups["not_scaling"]["rounds"] == 2
    assert found[0].with_suffix(".md").exists()


def test_side_by_side_scripts_compare_two_trees(tmp_path):
    """benchmarks/layers_side_by_side.py times every layer of two source trees (here the same
    one twice) in one process and writes per-layer medians and ratios."""
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "layers_side_by_side.py"), "--before", ROOT,
         "--after", ROOT, "--reps", "1", "--out", str(tmp_path), "--name", "same"],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(tmp_path / "same.json") as f:
        layers = json.load(f)["layers"]
    assert {"Conv2d 32->64 3x3 on 64x16x16", "RNN (32, 50, 64) -> 128",
            "DANNConv2d 8->16 3x3 on 32x16x16"} <= set(layers)
    for name, r in layers.items():
        assert r["before_ms"] > 0 and r["after_ms"] > 0 and len(r["after_ms_all"]) == 1, name
    assert (tmp_path / "same.md").exists()


def test_conv_cwa_benchmark_quick_run(tmp_path):
    """benchmarks/conv_cwa.py times ConvCWA and Conv2d of the same shapes, with and without dx."""
    script = os.path.join(ROOT, "benchmarks", "conv_cwa.py")
    proc = subprocess.run([sys.executable, script, "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = sorted(tmp_path.glob("conv_cwa*.json"))
    assert len(found) == 1, found
    with open(found[0]) as f:
        rows = json.load(f)["rows"]
    assert len(rows) == 4
    for row in rows:
        assert row["cwa_ms"] > 0 and row["conv_ms"] > 0 and row["nodx_ratio"] > 0
    assert found[0].with_suffix(".md").exists()
