"""DataParallel: the batch split over threads gives exactly the unsplit network's results."""
import numpy as np
import pytest

from minigrad import backend, nn, optim
from minigrad.backend import to_device, to_numpy
from minigrad.trainer import Trainer


def small_cnn():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, rng=1), nn.MaxPool2d(2), nn.ReLU(),
                         nn.Conv2d(4, 5, 3, padding=1, rng=2), nn.ReLU(), nn.Flatten(),
                         nn.Linear(5 * 4 * 4, 3, rng=3))


@pytest.mark.parametrize("threads", [2, 3])
def test_outputs_and_gradients_equal_the_unsplit_network(threads, rng):
    x = to_device(rng.standard_normal((7, 3, 8, 8)))
    G = to_device(rng.standard_normal((7, 3)))
    ref = small_cnn().astype(np.float64)
    par = nn.DataParallel(small_cnn().astype(np.float64), threads=threads)
    out_ref, out_par = ref.forward(x), par.forward(x)
    dx_ref, dx_par = ref.backward(G), par.backward(G)
    np.testing.assert_allclose(to_numpy(out_par), to_numpy(out_ref), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_numpy(dx_par), to_numpy(dx_ref), rtol=1e-10, atol=1e-12)
    assert set(par.grads) == set(ref.grads)
    for k, g in ref.grads.items():
        np.testing.assert_allclose(to_numpy(par.grads[k]), to_numpy(g), rtol=1e-10, atol=1e-12, err_msg=k)
    # calling backward again overwrites, it does not accumulate
    par.backward(G)
    for k, g in ref.grads.items():
        np.testing.assert_allclose(to_numpy(par.grads[k]), to_numpy(g), rtol=1e-10, atol=1e-12, err_msg=k)


def test_replicas_share_the_parameters():
    model = small_cnn()
    par = nn.DataParallel(model, threads=2)
    assert par.params.keys() == model.params.keys()
    for (_, own), (_, rep) in zip(model.named_layers(), par.replicas[1].named_layers()):
        for k in own.params:
            assert rep.params[k] is own.params[k]


def test_training_through_the_trainer_lowers_the_loss_and_updates_every_replica(rng):
    X = rng.standard_normal((96, 3, 8, 8)).astype(np.float32)
    y = (X[:, 0].mean(axis=(1, 2)) > 0).astype(np.int64) + (X[:, 1].mean(axis=(1, 2)) > 0)
    par = nn.DataParallel(small_cnn(), threads=2)
    trainer = Trainer(par, {"X_train": X, "y_train": y}, optim.SGD(lr=0.05), batch_size=16,
                      epochs=8, rng=0, progress=False)
    trainer.fit()
    losses = trainer.history["train_loss"]
    assert losses[-1] < 0.7 * losses[0], losses
    xb = to_device(X[:16])
    np.testing.assert_array_equal(to_numpy(par.replicas[1].forward(xb)), to_numpy(par.model.forward(xb)))


@pytest.mark.parametrize("layer", [nn.BatchNorm(4), nn.Dropout(0.5, rng=0)])
def test_layers_that_mix_the_batch_are_refused(layer):
    model = nn.Sequential(nn.Linear(3, 4, rng=0), layer, nn.Linear(4, 2, rng=1))
    with pytest.raises(TypeError, match=r"DataParallel: layer '1' \(" + type(layer).__name__):
        nn.DataParallel(model)


def test_bad_thread_count_is_refused():
    with pytest.raises(ValueError, match="threads must be at least 1, got 0"):
        nn.DataParallel(small_cnn(), threads=0)


@pytest.mark.skipif(backend.NAME != "numpy", reason="BLAS threads exist on the CPU backend only")
def test_blas_threads_are_restored_after_each_call(rng):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    controller = threadpoolctl.ThreadpoolController()
    before = [lib.num_threads for lib in controller.select(user_api="blas").lib_controllers]
    par = nn.DataParallel(small_cnn(), threads=2)
    out = par.forward(to_device(rng.standard_normal((4, 3, 8, 8)).astype(np.float32)))
    par.backward(out)
    after = [lib.num_threads for lib in threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers]
    assert after == before


def small_rnn(feedback="bp"):
    return nn.Sequential(nn.RNN(3, 5, rng=0, feedback=feedback), nn.TemporalLinear(5, 2, rng=1, feedback=feedback))


@pytest.mark.parametrize("feedback", ["bp", "fa"])
def test_rnn_with_a_wrapped_readout_trains_as_the_unsplit_network(feedback, rng):
    """TemporalLinear keeps its Linear in .inner: the replicas must share that Linear's
    parameters too, or they train on stale weights after the first step. dh0 has every row."""
    ref = small_rnn(feedback).astype(np.float64)
    par = nn.DataParallel(small_rnn(feedback).astype(np.float64), threads=2)
    assert par.replicas[1].layers[1].inner.params["W"] is par.model.layers[1].inner.params["W"]
    for step in range(3):
        x = to_device(rng.standard_normal((6, 4, 3)))
        G = to_device(rng.standard_normal((6, 4, 2)))
        np.testing.assert_allclose(to_numpy(par.forward(x)), to_numpy(ref.forward(x)), rtol=1e-12, atol=1e-12)
        dx_ref, dx_par = ref.backward(G), par.backward(G)
        np.testing.assert_allclose(to_numpy(dx_par), to_numpy(dx_ref), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(to_numpy(par.model.layers[0].dh0), to_numpy(ref.layers[0].dh0),
                                   rtol=1e-10, atol=1e-12)
        for k, g in ref.grads.items():
            np.testing.assert_allclose(to_numpy(par.grads[k]), to_numpy(g), rtol=1e-10, atol=1e-12,
                                       err_msg=f"step {step}, {k}")
        optim.SGD(lr=0.1).step(ref.params, ref.grads)
        optim.SGD(lr=0.1).step(par.params, par.grads)


def test_alignment_angles_through_the_wrapper_equal_the_unsplit_network(rng):
    """measure_alignment switches the model's FA layers to backprop for one pass; the
    replicas must follow, or their blocks' 'true' gradients are FA ones."""
    from minigrad.feedback import measure_alignment

    def fa_mlp():
        return nn.Sequential(nn.Linear(6, 8, rng=0, feedback="fa"), nn.ReLU(),
                             nn.Linear(8, 3, rng=1, feedback="fa")).astype(np.float64)
    X, y = rng.standard_normal((10, 6)), rng.integers(0, 3, 10)
    want = measure_alignment(fa_mlp(), X, y)
    got = measure_alignment(nn.DataParallel(fa_mlp(), threads=2), X, y)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=1e-9), k


def test_fisher_correction_refuses_the_wrapper():
    """Its per-example gradients come from the layers' caches, which hold one block each."""
    from minigrad.dale import FisherCorrection
    from minigrad.nn.dann import DANN
    with pytest.raises(TypeError, match="FisherCorrection: .*DataParallel"):
        FisherCorrection(nn.DataParallel(nn.Sequential(DANN(6, 8, 2, rng=0), nn.ReLU(), DANN(8, 3, 1, rng=1))))
