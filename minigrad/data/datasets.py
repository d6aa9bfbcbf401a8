"""The top-level loaders: ``load_mnist``, ``load_fashion_mnist``, ``load_cifar10``, ``load_mnist_sample``.

Every loader returns ``(images, labels)``: uint8 pixels exactly as stored in
the data set, and int64 labels. Scaling to floats is a separate, visible step
(see :mod:`minigrad.data.transforms`).

Where the files are looked for: ``root`` when given, else the data set's folder
in the cache directory (``$MINIGRAD_DATA``, default ``~/.minigrad/data``):
``mnist/``, ``fashion-mnist/``, ``cifar10/``. The scripts in ``data_scripts/``
put the files there.
"""
from pathlib import Path

import numpy as np

from . import cifar, image_folder
from .cifar import CIFAR10_CLASSES
from .idx import read_idx
from .paths import data_dir

EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"

SPLITS = ("train", "test")
# split -> (images file, labels file), without the optional ".gz"
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# the cifar10/ folder can hold any one of these (searched in this order)
# name -> kind: "official" (pickled batches) or "folder" (image folder)
CIFAR10_SOURCES = {"cifar-10-batches-py": "official", "cifar-10-python.tar.gz": "official",
                   "cifar10-images": "folder", "cifar10-images.tar.gz": "folder"}


def _check_split(split, function):
    if split not in SPLITS:
        raise ValueError(f"{function}: split must be 'train' or 'test', got {split!r}")


def _fetch_hint(script, root, default_root):
    command = f"python data_scripts/{script}"
    if Path(root) != default_root:
        command += f" --dest {root}"
    return (f"Fetch it with `{command}` (run in the minigrad source folder), or import a local "
            f"copy with `{command} --from PATH`.")


def _find_idx(root, base):
    for name in (base + ".gz", base):
        if (root / name).is_file():
            return root / name
    return None


def read_idx_split(root, split, name="MNIST", script="mnist.py", default_root=None):
    """Read and check one split of an MNIST-style data set (four IDX files in ``root``).

    Args:
        root: folder with ``train-images-idx3-ubyte[.gz]`` etc.
        split: "train" or "test" ("test" reads the ``t10k-*`` files).
        name, script, default_root: for error messages.

    Returns:
        images: uint8 (N, 28, 28); labels: int64 (N,), values 0..9.
    """
    root = Path(root)
    files = [_find_idx(root, base) for base in IDX_FILES[split]]
    if None in files:
        missing = [base + "[.gz]" for base, f in zip(IDX_FILES[split], files) if f is None]
        hint = _fetch_hint(script, root, default_root) if default_root is not None else ""
        raise FileNotFoundError(f"{name} {split} split not found: {root} has no {' or '.join(missing)}. {hint}".strip())
    images, labels = read_idx(files[0]), read_idx(files[1])
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{files[0].name}: expected uint8 images of shape (N, 28, 28), "
                         f"found {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{files[1].name}: expected uint8 labels of shape (N,), found {labels.dtype} {labels.shape}")
    if len(labels) != len(images):
        raise ValueError(f"{files[1].name}: expected {len(images)} labels, one per image "
                         f"in {files[0].name}, found {len(labels)}")
    if len(labels) and labels.max() > 9:
        raise ValueError(f"{files[1].name}: expected labels 0..9, found {labels.max()}")
    return images, labels.astype(np.int64)


def load_mnist(root=None, split="train"):
    """MNIST handwritten digits (official: 60,000 train / 10,000 test).

    Args:
        root: folder holding the four IDX files (gzipped or not); default
            ``<data dir>/mnist``, filled by ``python data_scripts/mnist.py``.
        split: "train" or "test".

    Returns:
        images: uint8 (N, 28, 28), 0 = background, 255 = ink.
        labels: int64 (N,), the digit 0..9.

    Raises:
        FileNotFoundError: with the command that fetches the files.
    """
    _check_split(split, "load_mnist")
    default = data_dir() / "mnist"
    return read_idx_split(default if root is None else root, split, "MNIST", "mnist.py", default)


def load_fashion_mnist(root=None, split="train"):
    """Fashion-MNIST clothing images (60,000 train / 10,000 test), a harder drop-in for MNIST.

    Args:
        root: folder holding the four IDX files; default ``<data dir>/fashion-mnist``,
            filled by ``python data_scripts/fashion_mnist.py``.
        split: "train" or "test".

    Returns:
        images: uint8 (N, 28, 28); labels: int64 (N,), index into FASHION_MNIST_CLASSES.
    """
    _check_split(split, "load_fashion_mnist")
    default = data_dir() / "fashion-mnist"
    return read_idx_split(default if root is None else root, split, "Fashion-MNIST", "fashion_mnist.py", default)


def load_mnist_sample(split="train"):
    """A small real MNIST sample shipped inside minigrad: no download needed.

    "train" is 5,000 training digits, 500 per class, **sorted by class**
    (shuffle before mini-batch training); "test" is the first 2,000 digits of
    the official test set (about 200 per class, in their official order).
    See ``minigrad/data/embedded/README.md`` for the provenance.

    Returns:
        images: uint8 (N, 28, 28); labels: int64 (N,).
    """
    _check_split(split, "load_mnist_sample")
    return read_idx_split(EMBEDDED_DIR, split, "embedded MNIST sample")


def _find_cifar10_source(root):
    """The CIFAR-10 source inside ``root`` (or ``root`` itself), and its kind: "official" or "folder"."""
    root = Path(root)
    if root.is_file():
        return root, ("official" if cifar.is_official_archive(root) else "folder")
    if (root / "data_batch_1").is_file():
        return root, "official"
    if (root / "train").is_dir():
        return root, "folder"
    for name, kind in CIFAR10_SOURCES.items():
        if (root / name).exists():
            return root / name, kind
    return None, None


def load_cifar10(root=None, split="train"):
    """CIFAR-10: 32x32 colour images of 10 classes (50,000 train / 10,000 test).

    Reads, from ``root`` (default ``<data dir>/cifar10``), the first of:
    the official ``cifar-10-batches-py/`` folder or ``cifar-10-python.tar.gz``,
    or an image folder ``cifar10-images/`` or ``cifar10-images.tar.gz``
    (``train/<class>/*.jpg``; decoded once, then cached as ``.npz``).
    ``root`` may also name one of these directly.

    Args:
        root: folder or file as above; default ``<data dir>/cifar10``, filled by
            ``python data_scripts/cifar10.py``.
        split: "train" or "test".

    Returns:
        images: uint8 (N, 3, 32, 32), channel-first (RGB).
        labels: int64 (N,), index into CIFAR10_CLASSES.
    """
    _check_split(split, "load_cifar10")
    default = data_dir() / "cifar10"
    root = Path(default if root is None else root)
    source, kind = _find_cifar10_source(root)
    if source is None:
        raise FileNotFoundError(
            f"CIFAR-10 not found: {root} has none of {', '.join(CIFAR10_SOURCES)}. "
            + _fetch_hint("cifar10.py", root, default)
        )
    if kind == "official":
        return cifar.read_cifar10(source, split)
    images, labels = image_folder.load_image_folder(source, split)
    classes = tuple(image_folder.image_folder_classes(source))
    if classes != CIFAR10_CLASSES:
        raise ValueError(f"{source.name}: expected the CIFAR-10 class folders {list(CIFAR10_CLASSES)}, "
                         f"found {list(classes)}")
    if images.shape[1:] != (3, 32, 32):
        raise ValueError(f"{source.name}: expected CIFAR-10 images of shape (3, 32, 32), found {images.shape[1:]}")
    return images, labels
