"""Trustworthy runs (issue 14) and lessons as exercises (issue 13): a resume matches or refuses,
no run is lost, files are written whole, bad arguments and bad data are refused when the Trainer
is built, a diverging loss is reported, progress is one compact line per epoch, --tag variants."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from minigrad import checkpoint as ckpt
from minigrad import experiment, nn, optim
from minigrad.backend import to_numpy
from minigrad.checkpoint import CheckpointError
from minigrad.guards import LossExplodedWarning
from minigrad.progress import fmt
from minigrad.trainer import Trainer

from test_trainer import blobs, mlp


@pytest.fixture(autouse=True)
def _keep_excepthook(monkeypatch):
    """parse_args installs a hook printing refusals in one line; keep it out of the test process."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)


def run(tmp_path, model=None, opt=None, epochs=1, **kw):
    kw.setdefault("checkpoint", str(tmp_path / "ck.npz"))
    t = Trainer(model or mlp(), kw.pop("data", None) or blobs(), opt or optim.SGD(0.1), epochs=epochs,
                batch_size=kw.pop("batch_size", 50), progress=kw.pop("progress", False), **kw)
    t.fit()
    return t


def refusal(tmp_path, **kw):
    """The message of the CheckpointError that resuming ``ck.npz`` with these settings raises."""
    with pytest.raises(CheckpointError) as e:
        Trainer(kw.pop("model", None) or mlp(), kw.pop("data", None) or blobs(), kw.pop("opt", None) or optim.SGD(0.1),
                batch_size=50, progress=False, checkpoint=str(tmp_path / "ck.npz"), resume=True, **kw)
    return str(e.value)


# ---------------------------------------------------------------- resume must match, or refuse
def test_resume_with_another_lr_names_both(tmp_path):
    run(tmp_path, opt=optim.Momentum(0.1))
    msg = refusal(tmp_path, opt=optim.Momentum(0.001))
    assert "checkpoint made with lr=0.1, this run asks lr=0.001" in msg
    assert "--fresh" in msg and "delete" in msg          # says how to start afresh


def test_resume_with_the_other_kernels_is_refused(tmp_path, monkeypatch):
    """A run trained through the fast kernels is not continued through the textbook ones (--reference)."""
    from minigrad import backend
    monkeypatch.setattr(backend, "_KERNELS", backend.kernels())
    run(tmp_path)
    backend.set_kernels("reference")
    assert "kernels" in refusal(tmp_path) and "'fast'" in refusal(tmp_path)


def test_resume_with_another_optimizer_names_both(tmp_path):
    run(tmp_path, opt=optim.Momentum(0.1))
    assert "checkpoint made with optimizer Momentum, this run asks Adam" in refusal(tmp_path, opt=optim.Adam(0.1))
    assert "momentum=0.9, this run asks momentum=0.5" in refusal(tmp_path, opt=optim.Momentum(0.1, momentum=0.5))


def test_resume_with_another_feedback_mode_or_depth_is_refused(tmp_path):
    run(tmp_path, model=nn.Sequential(nn.Linear(10, 3, rng=0, feedback="bp")))
    msg = refusal(tmp_path, model=nn.Sequential(nn.Linear(10, 3, rng=0, feedback="fa")))
    assert "layer 0 was feedback='bp', is 'fa'" in msg
    msg = refusal(tmp_path, model=mlp())                 # a 2-layer model on a 1-layer checkpoint
    assert "the model was [0:Linear], is [0:Linear, 1:ReLU, 2:Linear]" in msg


def test_a_checkpoint_without_fingerprint_is_refused(tmp_path):
    t = run(tmp_path)
    arrays, meta = t.state()
    del meta["fingerprint"]                              # as an older minigrad wrote them
    ckpt.write(str(tmp_path / "ck.npz"), arrays, meta)
    assert "records no fingerprint" in refusal(tmp_path)
    run(tmp_path, model=nn.Linear(10, 3, rng=0), checkpoint=str(tmp_path / "one.npz"))
    with pytest.raises(CheckpointError, match=r"layer \(the model\) was out_features=3, is 4"):
        Trainer(nn.Linear(10, 4, rng=0), blobs(), optim.SGD(0.1), batch_size=50, progress=False,
                checkpoint=str(tmp_path / "one.npz"), resume=True)


def test_resume_with_other_rule_settings_or_schedule_is_refused(tmp_path):
    class Clip:
        def __init__(self, max_norm):
            self.max_norm = max_norm

    run(tmp_path, rules=[Clip(1.0)])
    assert "rule 0 was max_norm=1.0, is 2.0" in refusal(tmp_path, rules=[Clip(2.0)])
    os.remove(tmp_path / "ck.npz")
    opt = optim.SGD(0.1)
    run(tmp_path, opt=opt, scheduler=optim.StepLR(opt, step_size=2))
    opt = optim.SGD(0.1)
    msg = refusal(tmp_path, opt=opt, scheduler=optim.StepLR(opt, step_size=3))
    assert "checkpoint made with step_size=2, this run asks step_size=3" in msg
    opt = optim.SGD(0.1)
    assert "checkpoint made with scheduler StepLR, this run asks None" in refusal(tmp_path, opt=opt)


def test_resume_after_the_code_changed_is_refused(tmp_path, monkeypatch):
    run(tmp_path)
    real = ckpt.code_fingerprint()
    monkeypatch.setattr(ckpt, "code_fingerprint", lambda: {**real, "minigrad code": "sha edited"})
    msg = refusal(tmp_path)
    assert ("minigrad's code changed since this checkpoint: finished runs would be reported from the old code"
            in msg)
    monkeypatch.setattr(ckpt, "code_fingerprint", lambda: {**real, "lesson file": "04_x.py sha edited"})
    assert "the lesson file changed since this checkpoint" in refusal(tmp_path)


def test_code_fingerprint_follows_the_source(tmp_path, monkeypatch):
    script = tmp_path / "lesson.py"
    script.write_text("print(1)\n")
    monkeypatch.setattr(sys.modules["__main__"], "__file__", str(script), raising=False)
    before = ckpt.code_fingerprint()["lesson file"]
    script.write_text("print(2)\n")
    ckpt._sha_of_files.cache_clear()
    assert ckpt.code_fingerprint()["lesson file"] != before
    assert ckpt.code_fingerprint()["minigrad code"].startswith("sha ")


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbled", "pickled"])
def test_a_damaged_checkpoint_is_one_line_naming_the_file(tmp_path, damage):
    run(tmp_path)
    path = tmp_path / "ck.npz"
    data = path.read_bytes()
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbled":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, len(data), dtype=np.uint8).tobytes())
    else:                                            # an object array: must not be unpickled
        np.savez(path, meta=np.array([{"epoch": 1}], dtype=object))
    msg = refusal(tmp_path)
    assert str(path) in msg and "damaged" in msg and "\n" not in msg
    assert "pickle" not in msg.lower()


# ---------------------------------------------------------------- never lose a run
class Interrupt:
    """A rule that stops the run like Ctrl-C at the end of epoch ``at``."""

    def __init__(self, at):
        self._at = at                            # not a setting the fingerprint sees: resume with another

    def end_epoch(self, trainer):
        if trainer.epoch + 1 == self._at:
            raise KeyboardInterrupt


def test_an_unfinished_run_is_never_overwritten(tmp_path):
    ck = tmp_path / "ck.npz"
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, epochs=4, rules=[Interrupt(at=3)])     # checkpoint after epoch 2 of 4
    kept = ck.read_bytes()
    with pytest.raises(CheckpointError, match=r"unfinished run \(epoch 2 of 4\).*--resume.*--fresh"):
        Trainer(mlp(), blobs(), optim.SGD(0.1), epochs=4, batch_size=50, progress=False, checkpoint=str(ck))
    assert ck.read_bytes() == kept
    t = Trainer(mlp(), blobs(), optim.SGD(0.1), epochs=4, batch_size=50, progress=False, checkpoint=str(ck),
                resume=True, rules=[Interrupt(at=0)])
    assert t.epoch == 2
    t.fit()
    fresh = Trainer(mlp(), blobs(), optim.SGD(0.1), epochs=1, batch_size=50, progress=False, checkpoint=str(ck),
                    fresh=True)
    fresh.fit()
    assert ckpt.read_meta(str(ck))["epoch"] == 1


def test_a_finished_or_diverged_run_may_be_replaced(tmp_path):
    ck = str(tmp_path / "ck.npz")
    run(tmp_path, epochs=1)
    run(tmp_path, epochs=2)                                  # the first run was finished
    t = Trainer(mlp(), blobs(), optim.SGD(1e30), epochs=3, batch_size=50, progress=False, checkpoint=ck)
    with pytest.warns(RuntimeWarning), pytest.raises(FloatingPointError):
        t.fit()
    assert ckpt.read_meta(ck)["ended"]
    run(tmp_path, epochs=1)                                  # the diverged run ended: no refusal


def test_resume_without_a_checkpoint_says_it_starts_afresh(tmp_path, capsys):
    t = Trainer(mlp(), blobs(), optim.SGD(0.1), progress=False, checkpoint=str(tmp_path / "none.npz"), resume=True)
    assert t.epoch == 0
    assert f"no checkpoint at {tmp_path / 'none.npz'} to resume: starting afresh" in capsys.readouterr().out


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    t = run(tmp_path)
    ck = tmp_path / "ck.npz"
    kept = ck.read_bytes()

    def disk_full(f, **arrays):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space"):
        t.save_checkpoint(str(ck))
    assert os.listdir(tmp_path) == ["ck.npz"] and ck.read_bytes() == kept
    monkeypatch.undo()
    fig, ax = experiment.figure()
    monkeypatch.setattr(experiment, "atomic_write", lambda path, write: ckpt.atomic_write(path, disk_full))
    with pytest.raises(OSError):
        experiment.save_figure(fig, str(tmp_path), "a.png")
    with pytest.raises(OSError):
        experiment.save_metrics(str(tmp_path), {"a": 1})
    assert os.listdir(tmp_path) == ["ck.npz"]


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporary_files_of_dead_processes_are_removed(tmp_path):
    dead = _dead_pid()
    ck_dir = tmp_path / "checkpoints" / "smoke_seed0"
    ck_dir.mkdir(parents=True)
    stale = [ck_dir / f"bp.npz.tmp-{dead}", tmp_path / f"metrics.json.tmp-{dead}", tmp_path / f"a.png.tmp-{dead}.png"]
    alive = tmp_path / f"metrics.json.tmp-{os.getpid()}"       # a running process's file stays
    for p in stale + [alive]:
        p.write_bytes(b"x")
    Trainer(mlp(), blobs(), optim.SGD(0.1), progress=False, checkpoint=str(ck_dir / "bp.npz"))
    assert not stale[0].exists() and stale[1].exists()
    args = experiment.parse_args("x", ["--smoke", "--out", str(tmp_path.parent)])
    experiment.output_dir(str(tmp_path.parent / (tmp_path.name + ".py")), args)
    assert not any(p.exists() for p in stale) and alive.exists()


# ---------------------------------------------------------------- the Trainer refuses bad arguments when built
@pytest.mark.parametrize("change, error, match", [
    (dict(data="no y_val"), ValueError, "has X_val but no y_val"),
    (dict(data="no X_val"), ValueError, "has y_val but no X_val"),
    (dict(data="empty train"), ValueError, "the training set is empty"),
    (dict(data="empty val"), ValueError, "the validation set is empty"),
    (dict(batch_size=32.0), TypeError, "batch_size must be an integer, got 32.0"),
    (dict(batch_size=True), TypeError, "batch_size must be an integer"),
    (dict(epochs=2.5), TypeError, "epochs must be an integer, got 2.5"),
    (dict(epochs=-1), ValueError, "epochs must be >= 0"),
    (dict(eval_batch_size=0), ValueError, "eval_batch_size must be >= 1, got 0"),
])
def test_bad_trainer_arguments_are_refused_when_built(change, error, match):
    d = blobs()
    data = {"no y_val": {k: v for k, v in d.items() if k != "y_val"},
            "no X_val": {k: v for k, v in d.items() if k != "X_val"},
            "empty train": {**d, "X_train": d["X_train"][:0], "y_train": d["y_train"][:0]},
            "empty val": {**d, "X_val": d["X_val"][:0], "y_val": d["y_val"][:0]}}.get(change.pop("data", None), d)
    with pytest.raises(error, match=match):
        Trainer(mlp(), data, optim.SGD(0.1), progress=False, **change)
    assert Trainer(mlp(), blobs(), optim.SGD(0.1), batch_size=np.int64(8), epochs=np.int32(1), progress=False)


@pytest.mark.parametrize("split, value", [("X_train", np.nan), ("X_val", np.inf), ("X_train", 1e39)])
def test_nan_or_inf_data_names_the_first_bad_example(split, value):
    d = {k: v.astype(np.float64) if k.startswith("X") else v for k, v in blobs().items()}
    d[split][17, 3] = value                     # 1e39 is finite in float64 but inf in the model's float32
    d[split][40, 0] = value
    with pytest.raises(ValueError, match=rf"bad data: {split}\[17\] holds NaN or inf \(2 of"):
        Trainer(mlp(), d, optim.SGD(0.1), progress=False)
    target = np.zeros((450, 3), np.float32)
    target[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"y_train\[5\]"):
        Trainer(mlp(), {"X_train": blobs()["X_train"], "y_train": target}, optim.SGD(0.1), loss_fn=nn.mse_loss)


def test_a_nan_validation_loss_is_never_recorded(tmp_path):
    class NaNInEval(nn.Layer):
        def forward(self, x):
            return x if self.training else x * np.float32("nan")

        def backward(self, dout):
            return dout

    model = nn.Sequential(nn.Linear(10, 3, rng=0), NaNInEval())
    t = Trainer(model, blobs(), optim.SGD(0.1), epochs=2, progress=False, checkpoint=str(tmp_path / "ck.npz"))
    with pytest.raises(FloatingPointError, match=r"validation loss became nan in epoch 1.*ck.npz"):
        t.fit()
    assert t.history["val_loss"] == [] and t.history["train_loss"] == []


def test_an_exploding_loss_warns_with_its_epoch_and_training_goes_on():
    calls = []

    def growing_loss(scores, y):
        loss, dscores = nn.softmax_cross_entropy(scores, y)
        calls.append(1)
        return loss * (1e8 if len(calls) > 9 else 1.0), dscores      # epoch 2 on: 1e8 times the first value

    t = Trainer(mlp(), blobs(), optim.SGD(0.01), loss_fn=growing_loss, batch_size=50, epochs=3, progress=False)
    with pytest.warns(LossExplodedWarning,
                      match=r"exploded in epoch 2: \d\.\d+e\+07, \de\+07 times the first step's") as w:
        t.fit()
    assert len(t.history["train_loss"]) == 3 and len(w) == 1


# ---------------------------------------------------------------- progress, wall time, compact numbers
def test_progress_is_one_compact_line_per_epoch(capsys):
    assert fmt(1.23456789e23) == "1.235e+23" and fmt(0.51234) == "0.5123" and fmt(float("nan")) == "nan"
    Trainer(mlp(), blobs(), optim.SGD(0.1), batch_size=50, epochs=2).fit()
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert "\r" not in out.out + out.err and len(lines) == 3              # a header and one line per epoch
    assert lines[1].startswith("epoch 1/2  train loss ") and " val loss " in lines[1] and len(lines[1]) < 100


def test_long_epochs_are_not_silent(capsys):
    t = Trainer(mlp(), blobs(), optim.SGD(0.1), batch_size=50, epochs=1)
    t.progress.every = 0.0                       # every step counts as "long": a line per step
    t.fit()
    steps = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  epoch 1/1  step")]
    assert len(steps) == 9 and steps[-1].startswith("  epoch 1/1  step 9/9  loss ")


def test_epoch_time_includes_evaluation_and_measurements():
    class SlowEval(nn.Layer):
        def forward(self, x):
            if not self.training:
                time.sleep(0.05)
            return x

        def backward(self, dout):
            return dout

    class SlowMeasure:
        def end_epoch(self, trainer):
            time.sleep(0.1)

    t = Trainer(nn.Sequential(nn.Linear(10, 3, rng=0), SlowEval()), blobs(), optim.SGD(0.1), epochs=2,
                eval_batch_size=50, rules=[SlowMeasure()], progress=False)
    t.fit()                                      # 3 validation batches * 0.05 s + 0.1 s per epoch
    assert all(s >= 0.25 for s in t.history["epoch_time"])


def test_checkpoints_keep_the_best_params_only_when_they_are_not_the_last(tmp_path):
    t = run(tmp_path, epochs=2)
    with np.load(tmp_path / "ck.npz") as z:
        has_best = any(k.startswith("best/") for k in z.files)
    assert has_best == (t.best_epoch != 2)
    resumed = Trainer(mlp(seed=9), blobs(), optim.SGD(0.1), batch_size=50, epochs=2, progress=False,
                      checkpoint=str(tmp_path / "ck.npz"), resume=True)
    for k, v in t.best_params.items():
        np.testing.assert_array_equal(to_numpy(resumed.best_params[k]), to_numpy(v))
    t.best_epoch = 1                             # pretend epoch 1 was best: the copy must be written
    t.save_checkpoint(str(tmp_path / "ck2.npz"))
    with np.load(tmp_path / "ck2.npz") as z:
        assert any(k.startswith("best/") for k in z.files)


def test_checkpoints_keep_the_best_epochs_batchnorm_statistics(tmp_path):
    """A resumed run restores the best epoch's running statistics with its parameters."""
    def bn_net():
        return nn.Sequential(nn.Linear(10, 16, rng=0), nn.BatchNorm(16, momentum=0.5), nn.ReLU(),
                             nn.Linear(16, 3, rng=1))
    t = run(tmp_path, model=bn_net(), opt=optim.SGD(3.0), epochs=4, batch_size=10)
    assert t.best_epoch < 4                      # a noisy run: the best epoch is not the last
    with np.load(tmp_path / "ck.npz") as z:
        assert "bestbuf/1.running_mean" in z.files
    resumed = Trainer(bn_net(), blobs(), optim.SGD(3.0), batch_size=10, epochs=4, progress=False,
                      checkpoint=str(tmp_path / "ck.npz"), resume=True)
    for k, v in t.best_buffers.items():
        np.testing.assert_array_equal(to_numpy(resumed.best_buffers[k]), to_numpy(v))
    resumed.restore_best()
    assert resumed.evaluate(resumed.X_val, resumed.y_val)[1] == t.history["val_acc"][t.best_epoch - 1]


def test_fixed_feedback_matrices_are_checked_not_stored(tmp_path):
    def fa(seed):
        return nn.Sequential(nn.Linear(10, 16, rng=seed, feedback="fa"), nn.BatchNorm(16), nn.ReLU(),
                             nn.Linear(16, 3, rng=seed + 1, feedback="fa"))

    run(tmp_path, model=fa(0), epochs=2)
    with np.load(tmp_path / "ck.npz") as z:
        saved = {k for k in z.files if k.startswith("buffer/")}
    assert saved == {"buffer/1.running_mean", "buffer/1.running_var"}      # changed while training: kept
    msg = refusal(tmp_path, model=fa(5))
    assert "layer 0's buffer B was built as" in msg and "another seed" in msg
    resumed = Trainer(fa(0), blobs(), optim.SGD(0.1), batch_size=50, epochs=2, progress=False,
                      checkpoint=str(tmp_path / "ck.npz"), resume=True)
    assert resumed.epoch == 2


# ---------------------------------------------------------------- lesson command lines and folders
@pytest.mark.parametrize("argv, words", [
    (["--seed", "-1"], "--seed: must be an integer >= 0, got -1"),
    (["--tag", "a/b"], "--tag: use letters"),
    (["--resume", "--fresh"], "not allowed with argument"),
])
def test_bad_lesson_arguments_are_one_line(argv, words, capsys):
    with pytest.raises(SystemExit):
        experiment.parse_args("x", argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert words in err[-1] and "Traceback" not in "\n".join(err)


def test_a_lessons_own_options_pick_named_parts_in_their_own_order(capsys):
    parts = ("original", "l2", "mixed")

    def options(p):
        p.add_argument("--parts", type=experiment.names_from(parts), default=list(parts))
    args = experiment.parse_args("x", ["--smoke", "--parts", "mixed, l2"], options=options)
    assert args.parts == ["l2", "mixed"] and args.mode == "smoke"
    assert experiment.parse_args("x", [], options=options).parts == list(parts)
    with pytest.raises(SystemExit):
        experiment.parse_args("x", ["--parts", "l3"], options=options)
    assert "--parts: choose from original, l2, mixed (comma-separated), got 'l3'" in capsys.readouterr().err


def test_out_pointing_at_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(SystemExit):
        experiment.parse_args("x", ["--out", str(f)])
    assert f"--out {f} is a file" in capsys.readouterr().err


def test_each_lesson_writes_its_own_folder_under_out(tmp_path):
    args = experiment.parse_args("x", ["--smoke", "--out", str(tmp_path)])
    a = experiment.output_dir("lessons/04_fa_vs_bp_mlp.py", args)
    b = experiment.output_dir("lessons/09_fa_autoencoder.py", args)
    assert a == str(tmp_path / "04_fa_vs_bp_mlp") and b == str(tmp_path / "09_fa_autoencoder")
    assert experiment.checkpoint_path(a, args, "bp") != experiment.checkpoint_path(b, args, "bp")


def test_tag_writes_beside_the_default_and_marks_every_title(tmp_path):
    args = experiment.parse_args("x", ["--smoke", "--out", str(tmp_path), "--tag", "B-times-10"])
    out = experiment.output_dir("lessons/04_fa_vs_bp_mlp.py", args)
    assert out == str(tmp_path / "04_fa_vs_bp_mlp-B-times-10")
    fig, axes = experiment.figure(1, 2)
    axes[0].set_title("accuracy")
    experiment.save_figure(fig, out, "a.png")
    assert axes[0].get_title() == "accuracy [B-times-10]"
    fig, ax = experiment.figure()
    fig.suptitle("FA vs BP")
    experiment.save_figure(fig, out, "b.png")
    assert fig._suptitle.get_text() == "FA vs BP [B-times-10]"
    experiment.save_metrics(out, {"a": 1})
    with open(os.path.join(out, "metrics.json")) as f:
        assert json.load(f) == {"tag": "B-times-10", "a": 1}
    plain = experiment.output_dir("lessons/04_fa_vs_bp_mlp.py", experiment.parse_args("x", ["--out", str(tmp_path)]))
    fig, ax = experiment.figure()
    ax.set_title("accuracy")
    experiment.save_figure(fig, plain, "a.png")
    assert ax.get_title() == "accuracy"


def test_fresh_replaces_a_lesson_runs_checkpoint(tmp_path, capsys):
    args = experiment.parse_args("x", ["--smoke", "--out", str(tmp_path)])
    out = experiment.output_dir("lessons/01_first_network.py", args)
    path = experiment.checkpoint_path(out, args, "mlp")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, epochs=3, checkpoint=path, rules=[Interrupt(at=2)])
    with pytest.raises(CheckpointError, match="--fresh"):
        Trainer(mlp(), blobs(), optim.SGD(0.1), progress=False, checkpoint=path)
    args = experiment.parse_args("x", ["--smoke", "--out", str(tmp_path), "--fresh"])
    assert experiment.checkpoint_path(out, args, "mlp") == path and not os.path.exists(path)
    assert "--fresh: removed the checkpoint" in capsys.readouterr().out


def test_a_refused_run_prints_one_message_without_traceback(tmp_path):
    code = ("import sys; from minigrad import experiment; from minigrad.checkpoint import CheckpointError\n"
            "experiment.parse_args('x', [])\n"
            "raise CheckpointError('checkpoint c.npz holds an unfinished run: use --resume or --fresh')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(__file__))))
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: checkpoint c.npz holds an unfinished run: use --resume or --fresh"


def test_mean_sd_formats_per_seed_numbers_for_tables():
    """One seed: the value; several: mean +- sample sd; a run without a number (None) shows as nan."""
    assert experiment.mean_sd([10.672]) == "10.67"
    assert experiment.mean_sd([1.0, 2.0, 3.0]) == "2.00 +- 1.00"
    assert experiment.mean_sd([33.2, 35.8], 1) == "34.5 +- 1.8"
    assert experiment.mean_sd([1.0, None]) == "nan +- nan"
