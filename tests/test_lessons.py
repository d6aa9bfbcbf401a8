"""Every numbered lesson runs end to end in its --smoke mode and writes its metrics,
and keeps per-run checkpoints that ``--resume`` reads back to the same metrics.

Smoke runs need no downloaded data: lessons fall back to the embedded MNIST
sample or to small synthetic data when a data set is not installed.
"""
import glob
import json
import os
import subprocess
import sys

import pytest

from minigrad import ledger

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSONS = sorted(glob.glob(os.path.join(ROOT, "lessons", "[0-9][0-9]_*.py")))


def test_lessons_exist():
    names = [os.path.basename(p) for p in LESSONS]
    assert "01_first_network.py" in names and "02_gradient_check.py" in names


@pytest.mark.parametrize("path", LESSONS, ids=[os.path.basename(p)[:-3] for p in LESSONS])
def test_lesson_smoke_run(path, tmp_path):
    env = dict(os.environ, MINIGRAD_OUTPUTS=str(tmp_path), MPLBACKEND="Agg",
               # keep smoke runs from reading a user's downloaded data: they must work without it
               MINIGRAD_DATA=str(tmp_path / "no-data"))
    proc = subprocess.run([sys.executable, path, "--smoke"], env=env, capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, \
        f"{os.path.basename(path)} --smoke failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    name = os.path.basename(path)[:-3]
    metrics = os.path.join(tmp_path, name, "metrics.json")
    assert os.path.exists(metrics), f"{name} wrote no metrics.json"
    with open(metrics) as f:
        written = json.load(f)
    assert written, "metrics.json is empty"
    # every lesson records how its numbers were made, and each paper lesson its claims
    assert "provenance" in written, f"{name}: metrics.json has no provenance block (minigrad.provenance.collect)"
    assert written["provenance"]["mode"] == "smoke" and written["provenance"]["data"], written["provenance"]
    if name[:2] not in ("01", "02", "03"):
        assert written.get("claims"), f"{name}: a paper lesson records its claims (minigrad.ledger)"
    if "claims" in written:
        ledger.check_claims(written["claims"])
    if name == "03_backend_switch":          # it times the benchmark's workloads on each backend
        with open(metrics) as f:
            timings = json.load(f)["timings"]
        rows = timings[os.environ.get("MINIGRAD_BACKEND", "numpy")]["rows"]
        assert rows and all(r["minigrad_ms"] > 0 for r in rows.values()), timings
    assert glob.glob(os.path.join(tmp_path, name, "*.png")), f"{name} wrote no plot"
    checkpoints = sorted(glob.glob(os.path.join(tmp_path, name, "checkpoints", "smoke_seed0", "*.npz")))
    if name == "02_gradient_check":          # the one lesson that keeps no checkpoints (its trainings take seconds)
        assert not checkpoints
        return
    assert checkpoints, f"{name} kept no per-run checkpoint"
    # --resume reads finished runs back from their checkpoints: same metrics, nothing retrained
    stamps = [os.stat(p).st_mtime_ns for p in checkpoints]
    with open(metrics) as f:
        first = json.load(f)
    proc = subprocess.run([sys.executable, path, "--smoke", "--resume"], env=env, capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, f"{name} --smoke --resume failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    with open(metrics) as f:
        again = json.load(f)
    for m in (first, again):                 # timings, dates and wall times are measured afresh on every run
        m.pop("timings", None)
        m.pop("provenance", None)
        for claim in m.get("claims", []):
            claim["conditions"].pop("wall_time_s", None)
    assert json.dumps(again, sort_keys=True) == json.dumps(first, sort_keys=True)
    assert [os.stat(p).st_mtime_ns for p in checkpoints] == stamps
