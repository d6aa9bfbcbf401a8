"""Small, explicit preprocessing steps.

The loaders return raw uint8 pixels; turning them into network inputs is
done in plain sight with these functions::

    x_train, y_train = load_cifar10(split="train")     # uint8 (50000, 3, 32, 32)
    x_test, y_test = load_cifar10(split="test")
    x_train, x_test = standardize(x_train, x_test)     # float32, per-channel mean 0, std 1
    x_train = flatten(x_train)                          # (50000, 3072) for an MLP
"""
import numpy as np


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
