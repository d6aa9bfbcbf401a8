"""CIFAR-10 in its official "python version" format.

``cifar-10-python.tar.gz`` holds a folder ``cifar-10-batches-py/`` with five
training batches ``data_batch_1`` .. ``data_batch_5`` and one ``test_batch``.
Each batch is a pickled dict (written by Python 2) with

    b"data"    uint8 array (10000, 3072): each row is one 32x32 image, the
               1024 red values first, then green, then blue (row-major)
    b"labels"  list of 10000 ints in 0..9 (see CIFAR10_CLASSES)

so ``data.reshape(-1, 3, 32, 32)`` gives channel-first images directly.
"""
import pickle
import tarfile
from pathlib import Path

import numpy as np

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
BATCH_DIR = "cifar-10-batches-py"

# numpy's own unpickling helper (the function np.ndarray.__reduce__ names)
_RECONSTRUCT = np.zeros(1).__reduce__()[0]


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that builds only what a CIFAR batch contains.

    Unpickling can run arbitrary code; this one refuses any global other than
    the few NumPy array builders, so a tampered batch file cannot execute code.
    """

    def __init__(self, file):
        super().__init__(file, encoding="bytes")  # Python 2 str -> bytes keys, as in the official docs

    def find_class(self, module, name):
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _RECONSTRUCT
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if (module, name) in (("_codecs", "encode"), ("codecs", "encode")):  # bytes in protocol-2 pickles
            import codecs
            return codecs.encode
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}; a CIFAR-10 batch holds only NumPy arrays, lists and bytes"
        )


def read_batch(file, source):
    """Read one pickled CIFAR-10 batch.

    Args:
        file: binary file object positioned at the batch.
        source: name used in error messages, e.g. "cifar-10-python.tar.gz: data_batch_1".

    Returns:
        images: uint8 (N, 3, 32, 32); labels: int64 (N,).
    """
    try:
        batch = _BatchUnpickler(file).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise ValueError(f"{source}: not a readable CIFAR-10 batch ({err})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{source}: expected a dict with keys b'data' and b'labels', found {keys}")
    data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{source}: expected b'data' as uint8 of shape (N, 3072), found {found}")
    if labels.shape != (len(data),) or (len(labels) and (labels.min() < 0 or labels.max() > 9)):
        raise ValueError(f"{source}: expected {len(data)} labels in 0..9, found shape {labels.shape}"
                         + (f", values {labels.min()}..{labels.max()}" if labels.size else ""))
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _stack(parts):
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return images, labels


def is_official_archive(path):
    """True when ``path`` is a tar archive whose first entry is ``cifar-10-batches-py``."""
    try:
        with tarfile.open(path, "r:*") as tar:
            first = tar.next()
    except (tarfile.TarError, EOFError, OSError):
        return False
    return first is not None and first.name.strip("./").split("/")[0] == BATCH_DIR


def read_cifar10(path, split="train"):
    """Read a split of CIFAR-10 from the official tarball or its extracted batch folder.

    Args:
        path: ``cifar-10-python.tar.gz``, or the ``cifar-10-batches-py`` folder.
        split: "train" (50,000 images) or "test" (10,000 images).

    Returns:
        images: uint8 (N, 3, 32, 32); labels: int64 (N,).
    """
    path = Path(path)
    wanted = BATCHES[split]
    if path.is_dir():
        parts = []
        for name in wanted:
            file = path / name
            if not file.exists():
                raise FileNotFoundError(f"{path}: missing CIFAR-10 batch {name}; expected "
                                        f"{', '.join(BATCHES['train'] + BATCHES['test'])}")
            with open(file, "rb") as f:
                parts.append(read_batch(f, f"{path.name}/{name}"))
        return _stack(parts)

    found = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:  # one sequential pass over the compressed stream
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and name in wanted:
                    found[name] = read_batch(tar.extractfile(member), f"{path.name}: {member.name}")
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ValueError(f"{path.name}: cannot read the archive ({err}); expected the official "
                         "cifar-10-python.tar.gz") from None
    missing = [name for name in wanted if name not in found]
    if missing:
        raise ValueError(f"{path.name}: expected CIFAR-10 batches {wanted} in {BATCH_DIR}/, missing {missing}")
    return _stack([found[name] for name in wanted])
