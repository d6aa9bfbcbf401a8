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
