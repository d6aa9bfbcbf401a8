"""The training loop: true epochs, learning, reproducibility, checkpoints, rules, NaN stop."""
import os

import numpy as np
import pytest

from minigrad import nn, optim
from minigrad.backend import to_device, to_numpy
from minigrad.trainer import Trainer


def blobs(n=600, d=10, classes=3, seed=0):
    r = np.random.default_rng(seed)
    centers = r.standard_normal((classes, d)) * 2
    y = r.integers(classes, size=n)
    X = (centers[y] + r.standard_normal((n, d))).astype(np.float32)
    return {"X_train": X[: n * 3 // 4], "y_train": y[: n * 3 // 4], "X_val": X[n * 3 // 4:], "y_val": y[n * 3 // 4:]}


def mlp(seed=0, d=10):
    return nn.Sequential(nn.Linear(d, 32, rng=seed), nn.ReLU(), nn.Linear(32, 3, rng=seed + 1))


def test_loss_falls_and_accuracy_rises():
    t = Trainer(mlp(), blobs(), optim.SGD(0.1), batch_size=32, epochs=5, progress=False)
    h = t.fit()
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0]
    assert h["val_acc"][-1] > 0.9


def test_sequence_scores_are_scored_by_their_last_step():
    """A readout at every step (N, T, C): the loss covers all steps, accuracy reads the last one."""
    r = np.random.default_rng(0)
    X = r.standard_normal((120, 4, 3)).astype(np.float32)
    y = (X[:, :, 0].sum(axis=1) > 0).astype(np.int64)         # known only once the whole sequence is read
    data = {"X_train": X[:90], "y_train": y[:90], "X_val": X[90:], "y_val": y[90:]}
    model = nn.Sequential(nn.RNN(3, 8, rng=0), nn.TemporalLinear(8, 2, rng=1))
    t = Trainer(model, data, optim.Momentum(0.05), loss_fn=nn.sequence_cross_entropy, batch_size=30, epochs=3,
                progress=False)
    h = t.fit()
    scores = to_numpy(model.eval().forward(to_device(data["X_val"])))  # (30, 4, 2)
    last_step_acc = float((scores[:, -1].argmax(axis=1) == data["y_val"]).mean())
    mean_step_acc = float((scores.argmax(axis=2) == data["y_val"][:, None]).mean())
    assert h["val_acc"][-1] == pytest.approx(last_step_acc)
    assert last_step_acc != pytest.approx(mean_step_acc)     # so the test tells the two apart


def test_epoch_visits_every_example_once():
    data = blobs(n=100)
    seen = []

    class Spy(nn.Layer):
        def forward(self, x):
            seen.append(to_numpy(x[:, 0]).copy())
            return x

        def backward(self, dout):
            return dout

    model = nn.Sequential(Spy(), nn.Linear(10, 3, rng=0))
    t = Trainer(model, {"X_train": data["X_train"], "y_train": data["y_train"]}, optim.SGD(0.01),
                batch_size=7, epochs=1, progress=False)
    t.fit()
    visited = np.sort(np.concatenate(seen))   # no validation data, so no evaluation forward
    np.testing.assert_array_equal(visited, np.sort(data["X_train"][:, 0]))


def test_same_seed_same_run():
    runs = [Trainer(mlp(), blobs(), optim.Momentum(0.05), batch_size=16, epochs=2, rng=5, progress=False).fit()
            for _ in range(2)]
    assert runs[0]["train_loss"] == runs[1]["train_loss"]


def test_resume_from_checkpoint_equals_uninterrupted_run(tmp_path):
    ck = str(tmp_path / "ck.npz")
    full = Trainer(mlp(), blobs(), optim.Adam(1e-2), batch_size=16, epochs=4, rng=3, progress=False)
    full.fit()
    first = Trainer(mlp(), blobs(), optim.Adam(1e-2), batch_size=16, epochs=2, rng=3, progress=False,
                    checkpoint=ck)
    first.fit()
    assert os.path.exists(ck) and not [p for p in os.listdir(tmp_path) if ".tmp" in p]
    model = mlp(seed=100)          # different initial weights: everything must come from the checkpoint
    second = Trainer(model, blobs(), optim.Adam(1e-2), batch_size=16, epochs=4, rng=999, progress=False,
                     checkpoint=ck, resume=True)
    assert second.epoch == 2
    second.fit()
    np.testing.assert_allclose(second.history["train_loss"], full.history["train_loss"], rtol=1e-6)
    for k, v in full.model.params.items():
        np.testing.assert_allclose(to_numpy(model.params[k]), to_numpy(v), rtol=1e-5, atol=1e-7)


def _interrupted_and_uninterrupted(tmp_path, build, epochs=4, stop=2, **kw):
    """Run ``build()`` -> (model, rules, trainer kwargs) for ``epochs`` in one go, and again
    stopped after ``stop`` epochs and resumed from the checkpoint with freshly built objects."""
    ck = str(tmp_path / "ck.npz")
    model, rules, extra = build()
    full = Trainer(model, blobs(), optim.SGD(0.05), batch_size=32, epochs=epochs, rng=3, progress=False,
                   rules=rules, **extra)
    full.fit()
    model, rules, extra = build()
    Trainer(model, blobs(), optim.SGD(0.05), batch_size=32, epochs=stop, rng=3, progress=False, rules=rules,
            checkpoint=ck, **extra).fit()
    model, rules, extra = build()
    resumed = Trainer(model, blobs(), optim.SGD(0.05), batch_size=32, epochs=epochs, rng=3, progress=False,
                      rules=rules, checkpoint=ck, resume=True, **extra)
    resumed.fit()
    for k, v in full.model.params.items():
        np.testing.assert_allclose(to_numpy(resumed.model.params[k]), to_numpy(v), rtol=1e-5, atol=1e-6)
    assert len(resumed.history["train_loss"]) == epochs
    np.testing.assert_allclose(resumed.history["train_loss"], full.history["train_loss"], rtol=1e-5)
    return full, resumed


def test_resume_restores_rule_state(tmp_path):
    """SignConstraint (fixed signs, per-step zero fractions) and AlignmentMonitor (per-step angles)."""
    from minigrad.constraints import SignConstraint
    from minigrad.feedback import AlignmentMonitor

    def build():
        model = nn.Sequential(nn.Linear(10, 32, rng=0, feedback="fa"), nn.ReLU(),
                              nn.Linear(32, 3, rng=1, feedback="fa"))
        data = blobs()
        monitor = AlignmentMonitor(data["X_train"][:64], data["y_train"][:64], every_steps=5)
        return model, [SignConstraint(model, track_steps=True), monitor], {}

    full, resumed = _interrupted_and_uninterrupted(tmp_path, build)
    sign_full, sign_res = full.rules[0], resumed.rules[0]
    assert len(sign_res.steps_zero) == len(sign_full.steps_zero) == full.step_count
    np.testing.assert_allclose(sign_res.steps_zero, sign_full.steps_zero, atol=1e-12)
    assert [s for s, _ in resumed.rules[1].steps] == [s for s, _ in full.rules[1].steps]
    assert resumed.history["zero_fraction"] == pytest.approx(full.history["zero_fraction"])


def test_resume_restores_random_streams(tmp_path):
    """Dropout masks and FisherCorrection's sampled labels continue where they stopped."""
    from minigrad import backend
    from minigrad.dale import FisherCorrection
    from minigrad.nn.dann import DANN
    if backend.NAME != "numpy":
        pytest.skip(f"{backend.NAME} keeps generator states on the device; they restart from their seeds")

    def build():
        model = nn.Sequential(DANN(10, 16, 3, rng=0), nn.ReLU(), nn.Dropout(0.2, rng=4), DANN(16, 3, 1, rng=1))
        fisher = FisherCorrection(model, measure_every=3, rng=2)
        return model, [fisher], {"loss_fn": fisher.loss_fn}

    full, resumed = _interrupted_and_uninterrupted(tmp_path, build)
    f_full, f_res = full.rules[0], resumed.rules[0]
    assert [r[:2] for r in f_res.records] == [r[:2] for r in f_full.records]
    np.testing.assert_allclose([r[2:] for r in f_res.records], [r[2:] for r in f_full.records], rtol=1e-4)
    for name, F in f_full.F.items():
        np.testing.assert_allclose(to_numpy(f_res.F[name]), to_numpy(F), rtol=1e-4, atol=1e-8)


def test_resume_with_other_data_or_batches_is_a_clear_error(tmp_path):
    ck = str(tmp_path / "ck.npz")
    Trainer(mlp(), blobs(), optim.SGD(0.1), batch_size=50, epochs=1, progress=False, checkpoint=ck).fit()
    with pytest.raises(ValueError, match=r"checkpoint made with batch_size=50, this run asks batch_size=32"):
        Trainer(mlp(), blobs(), optim.SGD(0.1), batch_size=32, progress=False, checkpoint=ck, resume=True)
    with pytest.raises(ValueError, match=r"the data X_train was \(450, 10\) float32 .*, is \(300, 10\) float32"):
        Trainer(mlp(), blobs(n=400), optim.SGD(0.1), batch_size=50, progress=False, checkpoint=ck, resume=True)
    shuffled = blobs(seed=1)                        # same shapes, other examples: the sample hash differs
    with pytest.raises(ValueError, match=r"the data X_train was \(450, 10\) float32 sha \w+, is \(450, 10\)"):
        Trainer(mlp(), shuffled, optim.SGD(0.1), batch_size=50, progress=False, checkpoint=ck, resume=True)
    resumed = Trainer(mlp(), blobs(), optim.SGD(0.1), batch_size=50, epochs=3, progress=False, checkpoint=ck,
                      resume=True)                  # more epochs than the run had: it trains on
    assert resumed.epoch == 1 and len(resumed.fit()["train_loss"]) == 3


def test_resume_with_other_rules_is_a_clear_error(tmp_path):
    from minigrad.constraints import SignConstraint
    ck = str(tmp_path / "ck.npz")
    model = mlp()
    Trainer(model, blobs(), optim.SGD(0.1), epochs=1, progress=False, checkpoint=ck,
            rules=[SignConstraint(model)]).fit()
    with pytest.raises(ValueError, match=r"the update rules were \[SignConstraint\], are \[\]"):
        Trainer(mlp(), blobs(), optim.SGD(0.1), progress=False, checkpoint=ck, resume=True)


def test_checkpoint_from_other_model_is_a_clear_error(tmp_path):
    ck = str(tmp_path / "ck.npz")
    Trainer(mlp(), blobs(), optim.SGD(0.1), epochs=1, progress=False, checkpoint=ck).fit()
    other = nn.Sequential(nn.Linear(10, 3, rng=0))
    with pytest.raises(ValueError, match=r"the model was \[0:Linear, 1:ReLU, 2:Linear\], "
                                         r"is \[0:Linear, 1:ReLU, 2.0:Linear\]"):
        Trainer(nn.Sequential(nn.Linear(10, 8, rng=0), nn.ReLU(), other), blobs(), optim.SGD(0.1),
                progress=False, checkpoint=ck, resume=True)
    with pytest.raises(ValueError, match=r"layer 0 was W=\(10, 32\) float32, is \(10, 8\) float32"):
        Trainer(nn.Sequential(nn.Linear(10, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=0)), blobs(), optim.SGD(0.1),
                progress=False, checkpoint=ck, resume=True)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_loss_stops_with_epoch_and_step_and_keeps_last_good_checkpoint(tmp_path):
    ck = str(tmp_path / "ck.npz")
    t = Trainer(mlp(), blobs(), optim.SGD(0.1), batch_size=50, epochs=3, progress=False, checkpoint=ck)
    t.fit()
    good = {k: to_numpy(v).copy() for k, v in t.model.params.items()}
    t.epochs = 5
    t.optimizer.lr = 1e30                       # diverges within a few steps
    with pytest.raises(FloatingPointError, match=r"epoch 4, step \d+.*ck.npz"):
        t.fit()
    with np.load(ck) as z:
        for k, v in good.items():
            np.testing.assert_array_equal(z["param/" + k], v)


def test_resuming_a_run_that_ended_on_a_nan_loss_does_not_train_it_again(tmp_path):
    ck = tmp_path / "ck.npz"
    t = Trainer(mlp(), blobs(), optim.SGD(1e30), batch_size=50, epochs=3, progress=False, checkpoint=str(ck))
    with pytest.warns(RuntimeWarning), pytest.raises(FloatingPointError):
        t.fit()
    kept = ck.read_bytes()
    again = Trainer(mlp(), blobs(), optim.SGD(1e30), batch_size=50, epochs=3, progress=False, checkpoint=str(ck),
                    resume=True)
    with pytest.raises(FloatingPointError, match="ended early.*not trained again"):
        again.fit()
    assert ck.read_bytes() == kept and again.step_count == 0


def test_rules_run_in_order_around_the_step():
    calls = []

    class Rule:
        def before_step(self, trainer):
            calls.append("before")
            trainer.grads = {k: 0 * v for k, v in trainer.grads.items()}   # freeze the model

        def after_step(self, trainer):
            calls.append("after")

        def end_epoch(self, trainer):
            trainer.history.setdefault("custom", []).append(len(calls))

    model = mlp()
    w0 = to_numpy(model.params["0.W"]).copy()
    t = Trainer(model, blobs(), optim.SGD(0.5), batch_size=100, epochs=2, rules=[Rule()], progress=False)
    t.fit()
    assert calls[:4] == ["before", "after", "before", "after"]
    assert t.history["custom"] == [10, 20]
    np.testing.assert_array_equal(to_numpy(model.params["0.W"]), w0)


def test_best_params_and_restore():
    t = Trainer(mlp(), blobs(), optim.SGD(0.1), epochs=3, progress=False)
    t.fit()
    t.restore_best()
    _, acc = t.evaluate(t.X_val, t.y_val)
    assert acc == max(t.history["val_acc"])


def test_restore_best_puts_back_the_best_epochs_batchnorm_statistics():
    """The best epoch's weights come back with the running statistics gathered with them (the last
    epoch's statistics under the best epoch's weights would be a model that never existed): the
    restored model's buffers are those recorded at the end of the best epoch, and evaluating it
    gives exactly that epoch's validation accuracy. A noisy run, so the best epoch is not the last."""
    class Record:
        def __init__(self):
            self.buffers = []

        def end_epoch(self, trainer):
            self.buffers.append({k: to_numpy(v).copy() for k, v in trainer.model.buffers.items()})

    rec = Record()
    model = nn.Sequential(nn.Linear(10, 16, rng=0), nn.BatchNorm(16, momentum=0.5), nn.ReLU(),
                          nn.Linear(16, 3, rng=1))
    t = Trainer(model, blobs(), optim.SGD(3.0), batch_size=10, epochs=4, rules=[rec], progress=False)
    t.fit()
    assert t.best_epoch < 4, t.history["val_acc"]
    best = rec.buffers[t.best_epoch - 1]
    assert not np.allclose(best["1.running_mean"], rec.buffers[-1]["1.running_mean"])
    t.restore_best()
    for k, v in model.buffers.items():
        np.testing.assert_array_equal(to_numpy(v), best[k])
    _, acc = t.evaluate(t.X_val, t.y_val)
    assert acc == t.history["val_acc"][t.best_epoch - 1]


def test_bad_data_is_a_clear_error():
    d = blobs()
    with pytest.raises(ValueError, match="X_tst"):
        Trainer(mlp(), {**d, "X_tst": d["X_val"]}, optim.SGD(0.1))
    with pytest.raises(TypeError, match="normalise"):
        Trainer(mlp(), {"X_train": (d["X_train"] * 10).astype(np.uint8), "y_train": d["y_train"]}, optim.SGD(0.1))
    with pytest.raises(ValueError, match="450 inputs but 10 targets"):
        Trainer(mlp(), {"X_train": d["X_train"], "y_train": d["y_train"][:10]}, optim.SGD(0.1))


def test_schedules():
    opt = optim.SGD(1.0)
    s = optim.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        s.step()
        lrs.append(opt.lr)
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt = optim.SGD(1.0)
    p = optim.ReduceLROnPlateau(opt, factor=10, patience=2)
    for loss in [1.0, 0.9, 0.95, 0.91, 0.92, 0.5, 0.6, 0.7]:
        p.step(loss)
    # no improvement after 0.9 for 2 epochs -> 0.1; after 0.5 for 2 epochs -> 0.01
    assert opt.lr == pytest.approx(0.01)
    with pytest.raises(ValueError, match="factor"):
        optim.ReduceLROnPlateau(opt, factor=0.5)


def test_best_params_follow_the_training_loss_without_validation_or_accuracy():
    d = blobs()
    target = np.random.default_rng(0).standard_normal((len(d["X_train"]), 3)).astype(np.float32)
    model = nn.Sequential(nn.Linear(10, 3, rng=0))
    t = Trainer(model, {"X_train": d["X_train"], "y_train": target}, optim.SGD(0.05), loss_fn=nn.mse_loss,
                accuracy=False, batch_size=50, epochs=4, progress=False)
    h = t.fit()
    best = int(np.argmin(h["train_loss"]))
    assert best > 0 and t.best_score == -h["train_loss"][best]
