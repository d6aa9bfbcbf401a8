"""The papers' preprocessing steps in minigrad/data/transforms.py, on inputs with known answers:
CWA's scale-and-clip and input doubling, grayscale, and the hand-written bilinear resize."""
import numpy as np
import pytest

from minigrad import nn
from minigrad.backend import to_device, to_numpy
from minigrad.data import (LUMINANCE_WEIGHTS, cwa_scale_clip, double_inputs, flatten, grayscale, normalize,
                           resize_bilinear)


# ----------------------------------------------------------------- CWA inputs
def test_cwa_scale_clip_known_values():
    x = np.array([0.0, 0.1, 0.3 / 1.3, 0.5, 1.0])
    y = cwa_scale_clip(x)
    np.testing.assert_allclose(y, [0.0, 0.0, 0.0, -0.3 + 1.3 * 0.5, 1.0], atol=1e-7)
    assert y.dtype == np.float32 and y.min() >= 0 and y.max() == 1
    # uint8 pixels are divided by 255 first: black -> 0, white -> 1, 191 -> -0.3 + 1.3 * 191 / 255
    u = np.array([[0, 58, 191, 255]], dtype=np.uint8)   # 58 / 255 < 0.3 / 1.3: clipped
    np.testing.assert_allclose(cwa_scale_clip(u), [[0, 0, -0.3 + 1.3 * 191 / 255, 1]], atol=1e-6)
    np.testing.assert_allclose(cwa_scale_clip(u), cwa_scale_clip(normalize(u)), atol=1e-7)
    np.testing.assert_allclose(cwa_scale_clip(x, low=0.0), x, atol=1e-7)      # low=0: identity on [0, 1]


def test_cwa_scale_clip_sparsifies():
    """A share of about 0.3/1.3 = 23% of uniformly spread pixels becomes exactly 0."""
    x = np.linspace(0, 1, 10001)
    assert (cwa_scale_clip(x) == 0).mean() == pytest.approx(0.3 / 1.3, abs=1e-3)


def test_cwa_scale_clip_refuses_non_pixels():
    with pytest.raises(ValueError, match=r"cwa_scale_clip: expected float pixels in \[0, 1\].*-1"):
        cwa_scale_clip(np.array([-1.0, 0.5]))
    with pytest.raises(TypeError, match="cwa_scale_clip: .*int64"):
        cwa_scale_clip(np.array([1, 2]))
    with pytest.raises(ValueError, match="low must be < 1"):
        cwa_scale_clip(np.zeros(3), low=1.0)


def test_double_inputs_dense_and_conv(rng):
    x = rng.random((4, 5)).astype(np.float32)
    d = double_inputs(x)
    assert d.shape == (4, 10) and d.dtype == np.float32
    np.testing.assert_array_equal(d[:, :5], x)
    np.testing.assert_array_equal(d[:, 5:], x)
    im = rng.random((2, 3, 4, 4))
    di = double_inputs(im)
    assert di.shape == (2, 6, 4, 4)
    np.testing.assert_array_equal(di[:, :3], im)
    np.testing.assert_array_equal(di[:, 3:], im)
    dev = double_inputs(to_device(x))                       # device arrays stay on the device
    assert type(dev) is type(to_device(x))
    np.testing.assert_array_equal(to_numpy(dev), d)
    with pytest.raises(ValueError, match=r"double_inputs: .*got \(2, 3, 4\)"):
        double_inputs(np.zeros((2, 3, 4)))


def test_doubled_inputs_feed_cwa_as_inhibitory_then_excitatory(rng):
    """With the doubled input and CWA's default split (first D of 2D inhibitory), a pixel's two
    copies reach a CWA neuron through equal conductances and cancel: the output is e_r."""
    x = flatten(cwa_scale_clip(rng.integers(0, 256, size=(3, 2, 2), dtype=np.uint8)))
    layer = nn.CWA(8, 5, rng=0, init_std=0.0)               # all conductances exactly 1
    z = to_numpy(layer.forward(to_device(double_inputs(x))))
    np.testing.assert_allclose(z, layer.rest_potential / (1 + 2 * x.sum(1, keepdims=True)) * np.ones((1, 5)),
                               rtol=1e-5)


# ----------------------------------------------------------------- grayscale
def test_grayscale_known_values():
    rgb = np.zeros((4, 3, 1, 1))
    rgb[0, 0] = rgb[1, 1] = rgb[2, 2] = 1.0                 # pure red, green, blue
    rgb[3] = 0.6                                            # gray stays gray
    g = grayscale(rgb)
    assert g.shape == (4, 1, 1, 1) and g.dtype == np.float64
    np.testing.assert_allclose(g.ravel(), list(LUMINANCE_WEIGHTS) + [0.6], rtol=1e-12)
    u = np.array([[[[255]], [[255]], [[0]]]], dtype=np.uint8)   # yellow: 0.886 * 255 = 225.93 -> 226
    assert grayscale(u).dtype == np.uint8 and grayscale(u).item() == 226
    one = np.ones((2, 1, 3, 3), dtype=np.uint8)
    np.testing.assert_array_equal(grayscale(one), one)
    with pytest.raises(ValueError, match=r"grayscale: expected 3 \(RGB\) or 1 channels, got shape \(2, 4, 3, 3\)"):
        grayscale(np.zeros((2, 4, 3, 3)))


# ----------------------------------------------------------------- bilinear resize
def test_resize_identity_size_is_exact(rng):
    x = rng.random((3, 2, 7, 5))
    np.testing.assert_array_equal(resize_bilinear(x, (7, 5)), x)
    u = rng.integers(0, 256, size=(2, 9, 9), dtype=np.uint8)
    np.testing.assert_array_equal(resize_bilinear(u, 9), u)


@pytest.mark.parametrize("size", [48, (10, 3), (5, 20)])
def test_resize_constant_stays_constant(size):
    x = np.full((2, 3, 28, 28), 0.37)
    y = resize_bilinear(x, size)
    shape = (size, size) if np.isscalar(size) else size
    assert y.shape == (2, 3) + tuple(shape)
    np.testing.assert_allclose(y, 0.37, rtol=1e-14)


def test_resize_linear_ramp_stays_linear():
    """f(r, c) = 2 + 0.5 r - 0.25 c sampled on a 28x32 grid; after resizing to 48x48, every output
    pixel whose centre maps inside the input grid holds f at that mapped position (bilinear
    interpolation is exact for functions linear in r and c), and the borders repeat the edge."""
    H, W, h, w = 28, 32, 48, 48
    r, c = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    x = (2 + 0.5 * r - 0.25 * c)[None]
    y = resize_bilinear(x, (h, w))[0]
    rs = (np.arange(h) + 0.5) * H / h - 0.5                 # output centres on the input grid
    cs = (np.arange(w) + 0.5) * W / w - 0.5
    expected = 2 + 0.5 * np.clip(rs, 0, H - 1)[:, None] - 0.25 * np.clip(cs, 0, W - 1)[None, :]
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
    inside = (rs >= 0) & (rs <= H - 1)
    assert inside.sum() > 40                                # most rows are interior
    rows = y[inside]
    np.testing.assert_allclose(np.diff(rows, 2, axis=0)[:, 0], 0, atol=1e-12)   # linear in r


def test_resize_halving_averages_pixel_pairs():
    """Shrinking by exactly 2 puts each output centre between two input centres: the mean of each 2x2 block."""
    x = np.arange(16.0).reshape(1, 4, 4)
    expected = x.reshape(1, 2, 2, 2, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(resize_bilinear(x, 2), expected, rtol=1e-14)


def test_resize_matches_torch_interpolate(rng):
    torch = pytest.importorskip("torch")
    x = rng.random((2, 3, 28, 32))
    for size in [(48, 48), (13, 17), (28, 64)]:
        ref = torch.nn.functional.interpolate(torch.tensor(x), size=size, mode="bilinear", align_corners=False)
        np.testing.assert_allclose(resize_bilinear(x, size), ref.numpy(), rtol=1e-12, atol=1e-12)


def test_resize_uint8_and_errors(rng):
    u = rng.integers(0, 256, size=(5, 1, 28, 28), dtype=np.uint8)
    y = resize_bilinear(u, 48)
    assert y.dtype == np.uint8 and y.shape == (5, 1, 48, 48)
    f = resize_bilinear(u.astype(np.float64), 48)
    assert np.abs(y.astype(np.float64) - f).max() <= 0.5    # rounded to the nearest integer
    with pytest.raises(ValueError, match="resize_bilinear: size must be a positive int"):
        resize_bilinear(u, 0)
    with pytest.raises(ValueError, match=r"resize_bilinear: expected images of shape \(N, H, W\)"):
        resize_bilinear(np.zeros((4, 784)), 48)
