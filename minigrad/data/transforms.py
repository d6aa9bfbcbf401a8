"""Small, explicit preprocessing steps.

The loaders return raw uint8 pixels; turning them into network inputs is
done in plain sight with these functions::

    x_train, y_train = load_cifar10(split="train")     # uint8 (50000, 3, 32, 32)
    x_test, y_test = load_cifar10(split="test")
    x_train, x_test = standardize(x_train, x_test)     # float32, per-channel mean 0, std 1
    x_train = flatten(x_train)                          # (50000, 3072) for an MLP

Papers' recipes, each a named step:

- CWA networks (``cwa_scale_clip``, ``double_inputs``): pixels scaled to [-0.3, 1] and
  clipped to [0, 1], each input given an inhibitory and an excitatory copy::

      x = double_inputs(flatten(cwa_scale_clip(x_uint8)))   # (N, 2D) float32 in [0, 1]

- laterally connected CNNs (``grayscale``, ``resize_bilinear``)::

      x = normalize(resize_bilinear(grayscale(x_uint8), 48))  # (N, 1, 48, 48) float32
"""
import numpy as np

from ..backend import xp


def _check_images(images, name):
    if not isinstance(images, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy array of images, got {type(images).__name__}")
    if images.ndim not in (3, 4):
        raise ValueError(
            f"{name}: expected images of shape (N, H, W) or (N, C, H, W), got shape {images.shape}"
            + (" (call this before flatten)" if images.ndim == 2 else "")
        )


def normalize(images):
    """Scale uint8 pixels 0..255 to float32 values in [0, 1].

    Args:
        images: uint8 array of any shape, e.g. (N, 28, 28) or (N, 3, 32, 32).

    Returns:
        float32 array of the same shape, ``images / 255``.
    """
    if not isinstance(images, np.ndarray):
        raise TypeError(f"normalize: expected a NumPy uint8 array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise TypeError(
            f"normalize: expected uint8 pixels in 0..255, got dtype {images.dtype} "
            "(already normalized? then skip this step)"
        )
    return images.astype(np.float32) / np.float32(255.0)


def channel_mean_std(images):
    """Per-channel mean and standard deviation of a batch of images.

    Args:
        images: (N, C, H, W) or (N, H, W) array (uint8 or float).

    Returns:
        (mean, std), float32 arrays of shape (C,) for (N, C, H, W) input and
        shape () for single-channel (N, H, W) input.
    """
    _check_images(images, "channel_mean_std")
    x = images if images.ndim == 4 else images[:, None]  # (N, C, H, W) view
    n_channels = x.shape[1]
    total = np.zeros(n_channels)
    total_sq = np.zeros(n_channels)
    # float64 sums over chunks of images: exact enough and never a float64 copy of the whole set
    for start in range(0, len(x), 1000):
        chunk = x[start:start + 1000].astype(np.float64)
        total += chunk.sum(axis=(0, 2, 3))
        total_sq += np.square(chunk).sum(axis=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    if count == 0:
        raise ValueError(f"channel_mean_std: expected at least one pixel, got shape {images.shape}")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    if images.ndim == 3:
        mean, std = mean[0], std[0]
    return mean.astype(np.float32), std.astype(np.float32)


def standardize(train, *others, eps=1e-7):
    """Shift and scale images to per-channel mean 0 and std 1, using statistics of ``train`` only.

    The test set must be transformed with the *training* statistics, so pass
    every split in one call::

        x_train, x_val, x_test = standardize(x_train, x_val, x_test)
        (x_train,) = standardize(x_train)

    Args:
        train: (N, C, H, W) or (N, H, W) uint8 or float images; the mean/std come from here.
        *others: more arrays with the same channel layout, e.g. the test set.
        eps: added to the std to avoid dividing by zero for constant channels.

    Returns:
        tuple of float32 arrays, one per argument, in the same order.
        The statistics are available from :func:`channel_mean_std`.
    """
    mean, std = channel_mean_std(train)
    if train.ndim == 4:
        mean, std = mean.reshape(1, -1, 1, 1), std.reshape(1, -1, 1, 1)
    out = []
    for i, images in enumerate((train,) + others):
        _check_images(images, f"standardize (argument {i})")
        if images.ndim != train.ndim or (train.ndim == 4 and images.shape[1] != train.shape[1]):
            raise ValueError(
                f"standardize (argument {i}): expected the channel layout of train {train.shape[1:]}, "
                f"got shape {images.shape[1:]}"
            )
        x = images.astype(np.float32)  # one new array, updated in place
        x -= mean
        x /= std + np.float32(eps)
        out.append(x)
    return tuple(out)


def flatten(images):
    """Flatten each image into a vector: (N, ...) -> (N, prod(...)).

    Args:
        images: (N, H, W) or (N, C, H, W) array of any dtype.

    Returns:
        (N, D) array, a view when ``images`` is contiguous (no copy).
    """
    if not isinstance(images, np.ndarray) or images.ndim < 1:
        raise TypeError(f"flatten: expected a NumPy array of shape (N, ...), got {type(images).__name__}")
    return images.reshape(images.shape[0], -1)


# --------------------------------------------------------------------------- CWA inputs
# "Learning high-dimensional perceptual tasks with Hodgkin-Huxley networks", section 4.1-4.2
# (shared/papers/cwa-hodgkin-huxley-networks.txt).
def _as_unit_floats(images, name):
    """uint8 0..255 -> float32 / 255; float arrays in [0, 1] -> float32. Anything else is refused."""
    if not isinstance(images, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy array of pixels, got {type(images).__name__}")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0)
    if images.dtype.kind != "f":
        raise TypeError(f"{name}: expected uint8 pixels or floats in [0, 1], got dtype {images.dtype}")
    if images.size and not (images.min() >= 0 and images.max() <= 1):
        raise ValueError(f"{name}: expected float pixels in [0, 1], got values in "
                         f"[{images.min():.4g}, {images.max():.4g}] (standardized? use raw pixels)")
    return images.astype(np.float32)


def cwa_scale_clip(images, low=-0.3):
    """Scale pixels linearly to [low, 1], then clip to [0, 1]: the CWA paper's preprocessing.

    "For CWA, the color channel values were scaled to lie between [-0.3, 1] and then
    clipped to [0, 1]. Much like in Equation 4, this clipping was done to promote
    sparsity" (section 4.1). A pixel v in [0, 1] becomes ``max(low + (1 - low) v, 0)``:
    every pixel darker than -low / (1 - low) (0.23 for the default) becomes exactly
    0, an inactive input, and white stays 1. CWA needs inputs in [0, 1] (no
    whitening: ``nn.CWA`` refuses negative inputs).

    Args:
        images: uint8 pixels 0..255 (divided by 255 first) or floats in [0, 1], any shape.
        low: the value black is mapped to before clipping (paper: -0.3); must be < 1.
    Returns:
        float32 array of the same shape, values in [0, 1].
    """
    if not low < 1:
        raise ValueError(f"cwa_scale_clip: low must be < 1, got {low}")
    x = _as_unit_floats(images, "cwa_scale_clip")
    # low + (1 - low) x, written so that white (x = 1) gives exactly 1 in float32
    return np.clip(x + np.float32(low) * (1 - x), 0, 1)


def double_inputs(x):
    """Give every input an inhibitory and an excitatory copy (CWA paper, section 4.2).

    "The neurons in the input layer were doubled, with one excitatory copy and one
    inhibitory" (fully connected nets) and "the input channels were doubled from three
    to six, with two channels for each color, one excitatory and one inhibitory"
    (conv nets). The inhibitory copy comes first, matching the layers' default valence
    split (the first half of the inputs, ``n_inhibitory = D // 2``, is inhibitory)::

        (N, D)        -> (N, 2D)          [x, x] along features: x[:, j] and x[:, D + j]
        (N, C, H, W)  -> (N, 2C, H, W)    [x, x] along channels: channel c and C + c

    Works on host (NumPy) and device (backend) arrays alike; the result lives where x does.

    Args:
        x: (N, D) or (N, C, H, W) array.
    Returns:
        array of the same dtype, the feature/channel axis doubled.
    """
    if not hasattr(x, "ndim") or x.ndim not in (2, 4):
        shape = getattr(x, "shape", type(x).__name__)
        raise ValueError(f"double_inputs: expected (N, D) features or (N, C, H, W) images, got {shape}")
    if isinstance(x, np.ndarray):
        return np.concatenate([x, x], axis=1)
    return xp.concatenate([x, x], axis=1)


# --------------------------------------------------------------------------- grayscale, resizing
# "Incorporating visual cortical lateral connection properties into CNN", section 3.3
# (shared/papers/lateral-connections-cnn.txt): "images were gray-scaled, resized to 48x48".
LUMINANCE_WEIGHTS = (0.299, 0.587, 0.114)
"""Luma weights of R, G, B (ITU-R BT.601, the weights of the usual RGB -> "L" conversion)."""


def _round_back(x, dtype):
    """float result -> the input's dtype: uint8 rounded and clipped to 0..255, floats kept as they are."""
    if dtype == np.uint8:
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return x.astype(dtype, copy=False)


def grayscale(images):
    """Colour images to one luminance channel: Y = 0.299 R + 0.587 G + 0.114 B (``LUMINANCE_WEIGHTS``).

    The weights (ITU-R BT.601) follow the eye's sensitivity: green counts most, blue least;
    they sum to 1, so a gray pixel (R = G = B = v) stays v.

    Args:
        images: (N, 3, H, W) RGB images, uint8 or float; (N, 1, H, W) and (N, H, W) are
            already gray and come back unchanged (a copy).
    Returns:
        (N, 1, H, W) (or (N, H, W) for (N, H, W) input), same dtype: uint8 rounded to the
        nearest integer, floats kept.
    """
    _check_images(images, "grayscale")
    if images.ndim == 3 or images.shape[1] == 1:
        return images.copy()
    if images.shape[1] != 3:
        raise ValueError(f"grayscale: expected 3 (RGB) or 1 channels, got shape {images.shape}")
    out = np.empty((images.shape[0], 1) + images.shape[2:], dtype=images.dtype)
    for start in range(0, len(images), 1000):     # float64 per chunk, not for the whole set
        chunk = images[start:start + 1000].astype(np.float64)
        y = sum(w * chunk[:, c] for c, w in enumerate(LUMINANCE_WEIGHTS))
        out[start:start + 1000, 0] = _round_back(y, images.dtype)
    return out


def _bilinear_taps(n_in, n_out):
    """For each output pixel along one axis: the two input pixels it reads and their weights.

    Pixel centres are aligned (the "half-pixel" convention): output pixel i sits at
    input coordinate ``(i + 0.5) * n_in / n_out - 0.5``, clamped to [0, n_in - 1] so that
    the border pixels repeat beyond the edge.

    Returns:
        i0, i1: int arrays (n_out,), the left and right neighbours (i1 = i0 + 1 inside);
        w1: float64 (n_out,), the weight of i1 (that of i0 is 1 - w1).
    """
    src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    src = np.clip(src, 0, n_in - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


def resize_bilinear(images, size):
    """Resize images by bilinear interpolation, written out in NumPy (no image library).

    Separable: interpolate linearly along H, then along W. Each output pixel centre is
    mapped to the input grid with centres aligned (``_bilinear_taps``), so a resize to
    the same size returns the image unchanged, a constant image stays constant and a
    linear ramp stays the same linear ramp away from the borders (where the edge
    pixels are repeated). No antialiasing: meant for enlarging (the lateral-connection
    paper resizes 28x28 and 32x32 images to 48x48); shrinking by more than 2x skips pixels.

    Args:
        images: (N, H, W) or (N, C, H, W), uint8 or float.
        size: int (square output) or (h, w).
    Returns:
        (N, h, w) or (N, C, h, w), same dtype (uint8 rounded to the nearest integer).
    """
    _check_images(images, "resize_bilinear")
    h, w = (size, size) if np.isscalar(size) else tuple(size)
    if int(h) != h or int(w) != w or h < 1 or w < 1:
        raise ValueError(f"resize_bilinear: size must be a positive int or (h, w), got {size!r}")
    H, W = images.shape[-2:]
    r0, r1, wr = _bilinear_taps(H, int(h))         # rows
    c0, c1, wc = _bilinear_taps(W, int(w))         # columns
    out = np.empty(images.shape[:-2] + (int(h), int(w)), dtype=images.dtype)
    for start in range(0, len(images), 1000):      # float64 per chunk of images
        x = images[start:start + 1000].astype(np.float64)
        x = x[..., r0, :] * (1 - wr)[:, None] + x[..., r1, :] * wr[:, None]     # along H
        x = x[..., c0] * (1 - wc) + x[..., c1] * wc                             # along W
        out[start:start + 1000] = _round_back(x, images.dtype)
    return out
