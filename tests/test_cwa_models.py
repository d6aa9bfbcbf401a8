"""minigrad.models: the CWA paper's networks (cwa_mlp, cwa_cnn), the residual CWA network
(cwa_resnet18, CWABasicBlock) and nn.GlobalAvgPool2d."""
import numpy as np
import pytest

from minigrad.backend import to_device, to_numpy
from minigrad.gradcheck import check_layer
from minigrad.models import (CIFAR10_CNN, CIFAR10_FCN, MNIST_CNN, MNIST_FCN, CWABasicBlock, cwa_cnn, cwa_mlp,
                             cwa_resnet18)
from minigrad.models.cwa_nets import CWA_INIT_STD
from minigrad.nn import CWA, BatchNorm, Conv2d, ConvCWA, GlobalAvgPool2d, Linear, softmax_cross_entropy
from minigrad.optim import Adam

TOL = 1e-7


def test_global_avg_pool(rng):
    x = rng.standard_normal((3, 4, 5, 6))
    out = to_numpy(GlobalAvgPool2d().forward(to_device(x)))
    np.testing.assert_allclose(out, x.mean(axis=(2, 3)), rtol=1e-12)
    assert check_layer(GlobalAvgPool2d(), x, rng=1)["x"] < TOL
    with pytest.raises(ValueError, match="GlobalAvgPool2d: expected input of shape"):
        GlobalAvgPool2d().forward(to_device(x[0]))


@pytest.mark.parametrize("stride,c_in,c_out", [(1, 3, 3), (2, 3, 4), (1, 2, 5)])
def test_basic_block_gradcheck_and_range(stride, c_in, c_out, rng):
    block = CWABasicBlock(c_in, c_out, stride=stride, rng=1, shortcut="conv")
    assert (block.shortcut is None) == (stride == 1 and c_in == c_out)
    keys = {"body.0.g", "body.2.g"} | ({"shortcut.g"} if block.shortcut is not None else set())
    assert set(block.params) == keys
    errors = check_layer(block, rng.random((2, c_in, 6, 6)), rng=2)
    assert set(errors) == keys | {"x"} and max(errors.values()) < TOL, errors
    big = CWABasicBlock(c_in, c_out, stride=stride, rng=3, shortcut="conv")
    for name, layer in big.named_layers():
        if isinstance(layer, ConvCWA):
            layer.params["g"] = to_device(3.0 * rng.standard_normal(layer.params["g"].shape), dtype=np.float32)
    out = to_numpy(big.forward(to_device(rng.random((4, c_in, 8, 8)), dtype=np.float32)))
    assert out.min() >= 0 and out.max() <= 1 and out.max() > 0.2     # the clipped sum keeps activities in [0, 1]


@pytest.mark.parametrize("stride,c_in,c_out,size", [(2, 3, 5, 6), (2, 2, 4, 7), (1, 2, 3, 5)])
def test_basic_block_pad_shortcut_gradcheck(stride, c_in, c_out, size, rng):
    """He et al.'s option A shortcut: x subsampled by the stride, zero channels added, no parameters."""
    block = CWABasicBlock(c_in, c_out, stride=stride, rng=1, shortcut="pad")
    assert block.shortcut is None and set(block.params) == {"body.0.g", "body.2.g"}
    x = rng.random((2, c_in, size, size))
    errors = check_layer(block, x, rng=2)
    assert max(errors.values()) < TOL, errors
    for layer in (block.body[0], block.body[2]):              # a silent body: the block passes x on, subsampled
        layer.params["g"] = to_device(np.full(layer.params["g"].shape, -2.0))
    out = to_numpy(block.forward(to_device(x)))
    np.testing.assert_allclose(out[:, :c_in], x[:, :, ::stride, ::stride])
    assert not out[:, c_in:].any()
    with pytest.raises(ValueError, match="CWABasicBlock: shortcut 'pad' needs channels >= in_channels"):
        CWABasicBlock(4, 2, shortcut="pad")
    with pytest.raises(ValueError, match="CWABasicBlock: shortcut must be"):
        CWABasicBlock(2, 2, shortcut="avg")


def test_basic_block_matches_torch(rng):
    """The block's forward and gradients against autograd of clip(z2 + ConvCWA_1x1(p), 0, 1)."""
    torch = pytest.importorskip("torch")
    F_ = torch.nn.functional
    block = CWABasicBlock(4, 6, stride=2, rng=5, dtype=np.float64, shortcut="conv")
    x = rng.random((2, 4, 7, 7))
    out = block.forward(to_device(x))
    dout = rng.standard_normal(out.shape)
    dx = block.backward(to_device(dout))

    def conv_cwa(p, g, stride, pad):
        G = torch.clamp(1 + g, min=0.0)
        e = torch.ones(g.shape[1], 1, 1, dtype=g.dtype)
        e[:g.shape[1] // 2] = -1
        return F_.conv2d(p, G * e, stride=stride, padding=pad) / (1 + F_.conv2d(p, G, stride=stride, padding=pad))

    t = {k: torch.tensor(to_numpy(v), requires_grad=True) for k, v in block.params.items()}
    xt = torch.tensor(x, requires_grad=True)
    z2 = conv_cwa(torch.relu(conv_cwa(xt, t["body.0.g"], 2, 1)), t["body.2.g"], 1, 1)
    ref = torch.clamp(z2 + conv_cwa(xt, t["shortcut.g"], 2, 0), 0, 1)
    ref.backward(torch.tensor(dout))
    np.testing.assert_allclose(to_numpy(out), ref.detach().numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(to_numpy(dx), xt.grad.numpy(), rtol=1e-6, atol=1e-10)
    for k in t:
        np.testing.assert_allclose(to_numpy(block.grads[k]), t[k].grad.numpy(), rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("shortcut,n_shortcut_convs", [("pad", 0), ("conv", 3)])
def test_resnet18_topology(shortcut, n_shortcut_convs):
    """Paper section 4.3: a projection to 64 channels, four stages of two blocks (64-128-256-512)."""
    net = cwa_resnet18(in_channels=6, n_classes=10, rng=0, shortcut=shortcut)
    convs = [(name, layer) for name, layer in net.named_layers() if isinstance(layer, ConvCWA)]
    main = [layer for name, layer in convs if "shortcut" not in name]
    assert len(main) == 1 + 8 * 2                              # the stem and two per block: 17 (+ readout = 18)
    assert [layer.out_channels for layer in main[1::4]] == [64, 128, 256, 512]
    assert sum(isinstance(layer, CWABasicBlock) for _, layer in net.named_layers()) == 8
    assert sum("shortcut" in name for name, _ in convs) == n_shortcut_convs
    assert isinstance(net[-1], Linear) and net[-1].params["W"].shape == (512, 10)
    assert not any(isinstance(layer, BatchNorm) for _, layer in net.named_layers())
    n = sum(v.size for v in net.params.values())
    assert 10.5e6 < n < 11.5e6                                  # ResNet-18's ~11 M weights
    assert abs(float(to_numpy(main[5].params["g"]).std()) - CWA_INIT_STD) < 0.01     # the spread default init


def test_resnet_smoke_forward_backward_and_a_step(rng):
    """A small-width residual CWA net runs forward/backward on the CPU; every parameter has a
    finite gradient of the right shape, and one Adam step changes the loss."""
    net = cwa_resnet18(in_channels=2, n_classes=3, widths=(4, 6, 6, 8), rng=0)
    X = to_device(rng.random((6, 2, 16, 16)), dtype=np.float32)
    y = to_device(np.arange(6) % 3)
    loss, dscores = softmax_cross_entropy(net.forward(X), y)
    assert net.backward(dscores).shape == X.shape
    grads = net.grads
    assert set(grads) == set(net.params)
    for k, v in net.params.items():
        assert grads[k].shape == v.shape and np.isfinite(to_numpy(grads[k])).all(), k
    assert float(np.abs(to_numpy(grads["0.g"])).sum()) > 0      # the error reaches the stem
    opt = Adam(lr=1e-2)
    opt.step(net.params, grads)
    loss2, _ = softmax_cross_entropy(net.forward(X), y)
    assert float(to_numpy(loss2)) != float(to_numpy(loss))


def test_resnet18_at_the_papers_size_trains_a_step_on_cifar_shaped_input(rng):
    """The paper's ResNet-18 (64-128-256-512, ~11 M conductances) on two doubled 32 x 32 RGB images:
    forward, backward and an Adam step; the spatial size halves in stages 2-4 (32 -> 16 -> 8 -> 4)."""
    net = cwa_resnet18(in_channels=6, n_classes=10, rng=0)
    X = to_device(rng.random((2, 6, 32, 32)), dtype=np.float32)
    y = to_device(np.array([3, 7]))
    h = X
    sizes = []
    for layer in net.layers:
        h = layer.forward(h)
        if isinstance(layer, CWABasicBlock):
            sizes.append(h.shape[1:])
    assert sizes == [(64, 32, 32)] * 2 + [(128, 16, 16)] * 2 + [(256, 8, 8)] * 2 + [(512, 4, 4)] * 2
    loss, dscores = softmax_cross_entropy(net.forward(X), y)
    assert net.backward(dscores).shape == X.shape
    assert all(np.isfinite(to_numpy(g)).all() for g in net.grads.values())
    Adam(lr=1e-3).step(net.params, net.grads)
    loss2, _ = softmax_cross_entropy(net.forward(X), y)
    assert float(to_numpy(loss2)) < float(to_numpy(loss))


def test_fcn_builders_match_the_paper_sizes():
    mnist = cwa_mlp(2 * 784, MNIST_FCN, rng=0)
    assert [type(layer).__name__ for layer in mnist] == ["CWA", "ReLU", "CWA", "ReLU", "Linear"]
    assert [mnist[i].params["g"].shape for i in (0, 2)] == [(1568, 2000), (2000, 2000)]
    assert mnist[0].rest_potential == -0.4 and mnist[0].n_inhibitory == 784
    assert mnist[2].rest_potential == 0.0          # deeper layers rest at 0: see test_deep_cwa_*
    cifar = cwa_mlp(2 * 3072, CIFAR10_FCN, kind="affine", batchnorm=True, rng=0)
    assert [type(layer).__name__ for layer in cifar] == ["Linear", "BatchNorm", "ReLU"] * 3 + ["Linear"]
    assert [cifar[i].params["W"].shape for i in (0, 3, 6, 9)] == [(6144, 2000), (2000, 1000), (1000, 500),
                                                                  (500, 10)]
    fa = cwa_mlp(10, (6,), feedback="fa", rng=0)
    assert isinstance(fa[0], CWA) and fa[0].feedback == "fa" and "B" in fa[0].buffers
    with pytest.raises(ValueError, match="cwa_mlp: kind must be one of"):
        cwa_mlp(10, (6,), kind="dann")


@pytest.mark.parametrize("channels,image,in_ch,final", [(MNIST_CNN, 28, 2, 2), (CIFAR10_CNN, 32, 6, 1)])
def test_cnn_builders_match_the_paper(channels, image, in_ch, final, rng):
    """4 (MNIST) or 5 (CIFAR-10) 5x5 stride-2 convolutions, no pooling, e_r = 0, an affine readout."""
    for kind, conv in (("cwa", ConvCWA), ("affine", Conv2d)):
        net = cwa_cnn(in_ch, image, channels, kind=kind, rng=0)
        convs = [layer for layer in net if isinstance(layer, conv)]
        assert [layer.params["g" if kind == "cwa" else "W"].shape[0] for layer in convs] == list(channels)
        assert all(layer.stride == 2 and layer.kernel == (5, 5) for layer in convs)
        assert not any("Pool" in type(layer).__name__ for layer in net)
        assert net[-1].params["W"].shape == (channels[-1] * final * final, 10)
        if kind == "cwa":
            assert all(layer.rest_potential == 0.0 for layer in convs)
    scores = cwa_cnn(2, 12, (4, 6), rng=0).forward(to_device(rng.random((3, 2, 12, 12)), dtype=np.float32))
    assert scores.shape == (3, 10)
    with pytest.raises(ValueError, match="cwa_cnn: kind must be one of"):
        cwa_cnn(2, 12, (4, 6), kind="lateral")


def test_silent_block_passes_its_input_and_gradient_unchanged(rng):
    """The residual merge clip(z2 + p, 0, 1): a block whose branch says nothing (z2 = e_r = 0, here
    by closing every conductance of its second layer) is the identity, forward and backward; a
    halved sum would pass p / 2 and dout / 2."""
    block = CWABasicBlock(4, 4, rng=0, dtype=np.float64)
    block.body[2].params["g"] = to_device(np.full((4, 4, 3, 3), -2.0))      # G = 0: z2 = e_r = 0
    x = rng.uniform(0.05, 0.95, (2, 4, 5, 5))
    np.testing.assert_allclose(to_numpy(block.forward(to_device(x))), x, rtol=1e-12)
    dout = rng.standard_normal(x.shape)
    np.testing.assert_allclose(to_numpy(block.backward(to_device(dout))), dout, rtol=1e-12)


# --------------------------------------------------------------------------- deep CWA networks learn
def _mnist_cwa_inputs(n):
    """n digits of the embedded MNIST sample as the CWA networks take them: scaled, clipped, doubled."""
    from minigrad.data import cwa_scale_clip, double_inputs, load_mnist_sample
    images, labels = load_mnist_sample("train")
    pick = np.random.default_rng(0).permutation(len(images))[:n]
    x = double_inputs(cwa_scale_clip(images[pick].reshape(n, -1)))
    return to_device(x, dtype=np.float32), to_device(labels[pick])


def _active_fractions(net, x):
    """Fraction of (example, unit) pairs with activity > 0 after each ReLU, first hidden layer first."""
    fractions, h = [], x
    for layer in net:
        h = layer.forward(h)
        if type(layer).__name__ == "ReLU":
            fractions.append(float(to_numpy((h > 0).mean())))
    return fractions


@pytest.mark.parametrize("hidden", [(200, 200), (120, 80, 60)])
@pytest.mark.parametrize("kind", ["cwa", "lateral"])
def test_deep_cwa_defaults_have_active_units_in_every_layer(hidden, kind):
    """With the builder's defaults every hidden layer has active units at initialisation; built
    literally (e_r = -0.4 in every layer, Glorot conductances) the layers after the first are silent
    for every input."""
    x, _ = _mnist_cwa_inputs(256)
    default = _active_fractions(cwa_mlp(x.shape[1], hidden, kind=kind, rng=0), x)
    assert all(f > 0.05 for f in default), default
    literal = _active_fractions(cwa_mlp(x.shape[1], hidden, kind=kind, rng=0, deep_rest_potential=None,
                                        init_std=None), x)
    assert literal[0] > 0.05 and all(f == 0.0 for f in literal[1:]), literal


def test_lateral_inhibition_near_1_silences_a_layer_at_init():
    """Why cwa_mlp starts LateralCWA's interneuron -> principal conductances at 1e-4: near 1 (the
    layer's own default) the interneurons silence even the first layer."""
    from minigrad.nn import LateralCWA
    x, _ = _mnist_cwa_inputs(256)
    near_1 = LateralCWA(x.shape[1], 200, rng=0).forward(x)
    small = LateralCWA(x.shape[1], 200, rng=0, lateral_conductance=1e-4).forward(x)
    assert float(to_numpy((near_1 > 0).mean())) < 0.01 < 0.05 < float(to_numpy((small > 0).mean()))


def test_deep_cwa_defaults_loss_falls_within_a_few_steps():
    """Ten Adam steps (lr 1e-3, betas of the paper) on one batch lower the loss of a 2-hidden-layer CWA
    network built by the defaults; the literal setting's loss does not move (only the readout bias learns)."""
    x, y = _mnist_cwa_inputs(128)
    drops = {}
    for name, deep in (("default", 0.0), ("literal", None)):
        net = cwa_mlp(x.shape[1], (200, 200), rng=0, deep_rest_potential=deep, init_std=None)
        opt = Adam(lr=1e-3, beta1=0.9, beta2=0.99)
        losses = []
        for _ in range(10):
            loss, dscores = softmax_cross_entropy(net.forward(x), y)
            net.backward(dscores)
            opt.step(net.params, net.grads)
            losses.append(float(to_numpy(loss)))
        drops[name] = losses[0] - losses[-1]
        if name == "default":
            assert all(float(to_numpy(abs(g).sum())) > 0 for k, g in net.grads.items() if k.endswith(".g"))
    assert drops["default"] > 0.1 and drops["literal"] < 0.02, drops


def _train_and_watch(net, x, y, steps, lr=1e-3, batch=64, seed=0):
    """Adam (betas of the paper) on minibatches of (x, y); returns the mean loss of the first and
    last 10 steps and, per hidden layer, the smallest fraction of units active for at least one of
    the first 256 examples, checked every 10 steps."""
    opt, rng, losses = Adam(lr=lr, beta1=0.9, beta2=0.99), np.random.default_rng(seed), []
    alive = None
    for step in range(steps):
        b = to_device(rng.choice(x.shape[0], batch, replace=False))
        loss, dscores = softmax_cross_entropy(net.forward(x[b]), y[b])
        net.backward(dscores)
        opt.step(net.params, net.grads)
        losses.append(float(to_numpy(loss)))
        if step % 10 == 9:
            h, now = x[:256], []
            for layer in net:
                h = layer.forward(h)
                if type(layer).__name__ == "ReLU":
                    now.append(float(to_numpy((h > 0).any(axis=0).mean())))
            alive = now if alive is None else [min(before, n) for before, n in zip(alive, now)]
    return np.mean(losses[:10]), np.mean(losses[-10:]), alive


def _shared_fraction(net, x):
    """Per hidden layer at x: variance over examples of the mean of z over the layer's units, divided by
    the variance of z (1: every unit computes the same thing; ~1/M: independent units)."""
    h, out = x, []
    for m in net:
        z, h = h, m.forward(h)
        if type(m).__name__ == "ReLU":
            zz = to_numpy(z).astype(np.float64)
            out.append(float(zz.mean(axis=1).var() / zz.var()))
    return out


def test_glorot_conductances_make_a_deeper_layers_units_compute_the_same_thing():
    """The cause of deep CWA layers switching off as a whole (docs/cwa-deep-nets.md): with the paper's
    Glorot init (std(g) ~ 0.04, every conductance near 1) nearly all of a deeper layer's variation is
    shared by all its units (measured 0.997 and 0.85 in layers 2 and 3 of a 3 x 500 net, seeds 0-2);
    with the default spread (init_std=1.0) about half of it or less."""
    x, _ = _mnist_cwa_inputs(256)
    for seed in (0, 1):
        glorot = _shared_fraction(cwa_mlp(x.shape[1], (500, 500, 500), rng=seed, init_std=None), x)
        spread = _shared_fraction(cwa_mlp(x.shape[1], (500, 500, 500), rng=seed), x)
        assert glorot[1] > 0.95 and glorot[2] > 0.8, glorot
        assert spread[1] < 0.75 and spread[2] < 0.75 and spread[0] < 0.05, spread


def test_three_cwa_layers_keep_every_layer_alive_and_learn():
    """With the default spread of the initial conductances (init_std=1.0) every layer of a 3 x 500
    CWA network stays alive while its loss falls (60 Adam steps at lr 1e-3, MNIST sample: the loss
    falls by more than 0.2, every layer keeps units active for some input). With the paper's Glorot init the
    same training switched layers 2 and 3 off in 2 of 3 seeds (docs/cwa-deep-nets.md); whether it
    does in a given run depends on the seed and on the order of floating-point sums (BLAS threads),
    so that half is shown by the lesson and the write-up, and its cause tested above."""
    x, y = _mnist_cwa_inputs(1024)
    first, last, alive = _train_and_watch(cwa_mlp(x.shape[1], (500, 500, 500), rng=0), x, y, 60)
    assert min(alive) > 0.5 and first - last > 0.2, (first, last, alive)


def test_cwa_cnn_passes_init_std_to_every_conv_cwa():
    std = [float(to_numpy(m.params["g"]).std()) for m in cwa_cnn(2, 28, (8, 16, 32), rng=0) if type(m) is ConvCWA]
    assert all(abs(s / CWA_INIT_STD - 1) < 0.07 for s in std), std
    glorot = [m for m in cwa_cnn(2, 28, (8, 16, 32), rng=0, init_std=None) if type(m) is ConvCWA]
    for m in glorot:
        F, C, k, _ = m.params["g"].shape
        assert abs(float(to_numpy(m.params["g"]).std()) / np.sqrt(2.0 / ((C + F) * k * k)) - 1) < 0.1


@pytest.mark.parametrize("kind,layer", [("absnorm", "AbsNorm"), ("lateral", "LateralCWA")])
def test_fcn_variants_of_section_4_4(kind, layer, rng):
    net = cwa_mlp(12, (8, 6), kind=kind, rng=0, n_lateral=2)
    assert [type(m).__name__ for m in net] == [layer, "ReLU", layer, "ReLU", "Linear"]
    if kind == "lateral":
        assert net[0].rest_potential == -0.4 and net[2].rest_potential == 0.0
    assert net.forward(to_device(rng.random((3, 12)), dtype=np.float32)).shape == (3, 10)
    with pytest.raises(ValueError, match="supports feedback='bp' only"):
        cwa_mlp(12, (8,), kind=kind, feedback="fa")
