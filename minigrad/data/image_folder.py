"""Image folders: ``split/class/*.png|jpg``, as a directory or a tar archive.

Layout (a directory, or a ``.tar.gz``/``.tgz``/``.tar`` holding the same tree,
optionally under one top-level folder)::

    train/airplane/0000.jpg
    train/airplane/0001.jpg
    ...
    test/truck/0999.jpg

The label of an image is the alphabetical index of its class folder among
all class folders of all splits. Decoding uses Pillow.

Decoding tens of thousands of small JPEGs takes seconds, so the first load
decodes every split once and caches the arrays in an uncompressed ``.npz``
next to the source (``cifar10-images.tar.gz`` -> ``cifar10-images.decoded.npz``),
or under ``<data dir>/decoded/`` when that folder is read-only. The cache is
written atomically and rebuilt when the source changes (size/mtime differ) or
when the cache itself is damaged (truncated, empty, a bad checksum inside).
"""
import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from .paths import data_dir

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")
_CACHE_VERSION = "1"
# what reading a damaged .npz raises: a truncated or garbled zip (BadZipFile, also on a bad
# CRC-32 inside), an empty file (EOFError), a missing or malformed array (KeyError, ValueError)
_DAMAGED_CACHE = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile)


def _is_image_name(name):
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)


def _iter_files(path):
    """Yield ``(relative_name, bytes)`` for every image file under a directory or in an archive."""
    path = Path(path)
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            rel = file.relative_to(path).as_posix()
            if file.is_file() and _is_image_name(rel):
                yield rel, file.read_bytes()
        return
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:  # sequential: one pass over the compressed stream
                if member.isfile() and _is_image_name(member.name):
                    yield member.name, tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ValueError(f"{path.name}: cannot read the archive ({err}); expected a tar archive "
                         "of split/class/*.png|jpg files, e.g. train/cat/0001.jpg") from None


def _decode(data, where):
    """Decode PNG/JPEG bytes -> uint8 (H, W) for grayscale or (H, W, 3) for colour."""
    from PIL import Image  # Pillow comes with matplotlib

    try:
        # naming the formats skips Pillow's probing of every other format (faster)
        with Image.open(io.BytesIO(data), formats=("JPEG", "PNG")) as image:
            if image.mode not in ("L", "RGB"):
                image = image.convert("L" if image.mode in ("1", "LA") else "RGB")
            return np.asarray(image, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as err:  # Pillow's errors for bad image data
        raise ValueError(f"{where}: cannot decode image ({err})") from None


def decode_image_folder(path):
    """Decode every image of every split of an image folder.

    Args:
        path: directory or tar archive with the ``split/class/file`` layout.

    Returns:
        dict with ``"classes"``: the sorted list of class folder names, and
        ``"splits"``: ``{split: (images, labels)}`` for each split found
        (e.g. "train", "test"), with uint8 images ``(N, C, H, W)``
        (C = 1 if every image is grayscale, else 3) and int64 labels ``(N,)``.
        Images are ordered by class, then file name.

    Raises:
        ValueError: naming the file, for undecodable images or images whose
            size differs from the first one; or when no images are found.
    """
    path = Path(path)
    found = {}  # split -> list of (class, relative name, pixels)
    first = None  # (name, shape) of the first image, for size checks
    for rel, data in _iter_files(path):
        parts = rel.strip("/").split("/")
        if len(parts) < 3:
            continue  # not split/class/file
        split, cls = parts[-3], parts[-2]
        where = f"{path.name}: {rel}"
        pixels = _decode(data, where)
        if first is None:
            first = (rel, pixels.shape[:2])
        elif pixels.shape[:2] != first[1]:
            raise ValueError(f"{where}: expected {first[1][0]}x{first[1][1]} pixels like {first[0]}, "
                             f"found {pixels.shape[0]}x{pixels.shape[1]}; all images must have one size")
        found.setdefault(split, []).append((cls, rel, pixels))
    if not found:
        raise ValueError(f"{path}: no images found; expected split/class/*.png|jpg files, e.g. train/cat/0001.jpg")

    classes = sorted({cls for items in found.values() for cls, _, _ in items})
    index = {cls: i for i, cls in enumerate(classes)}
    colour = any(p.ndim == 3 for items in found.values() for _, _, p in items)
    result = {"classes": classes, "splits": {}}
    for split, items in found.items():
        items.sort(key=lambda item: (item[0], item[1]))
        if colour:  # (H, W) grey -> (H, W, 3), so that all stack
            pixels = [p if p.ndim == 3 else np.repeat(p[:, :, None], 3, axis=2) for _, _, p in items]
            images = np.stack(pixels).transpose(0, 3, 1, 2)  # (N, H, W, 3) -> (N, 3, H, W)
        else:
            images = np.stack([p for _, _, p in items])[:, None]  # (N, 1, H, W)
        labels = np.array([index[cls] for cls, _, _ in items], dtype=np.int64)
        result["splits"][split] = (np.ascontiguousarray(images), labels)
    return result


def _fingerprint(path):
    """A string that changes when the source changes: size and mtime (of every file, for a folder)."""
    path = Path(path)
    if path.is_dir():
        count = size = newest = 0
        for file in path.rglob("*"):
            if file.is_file():
                stat = file.stat()
                count, size, newest = count + 1, size + stat.st_size, max(newest, stat.st_mtime_ns)
        return f"v{_CACHE_VERSION} dir files={count} bytes={size} mtime={newest}"
    stat = path.stat()
    return f"v{_CACHE_VERSION} file bytes={stat.st_size} mtime={stat.st_mtime_ns}"


def cache_path(path):
    """Where the decoded arrays of image folder ``path`` are cached (an ``.npz``)."""
    path = Path(path).resolve()
    stem = path.name
    for suffix in _ARCHIVE_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if os.access(path.parent, os.W_OK):
        return path.parent / f"{stem}.decoded.npz"
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    return data_dir() / "decoded" / f"{stem}-{digest}.npz"


def save_cache(path, decoded):
    """Write ``decoded`` (from :func:`decode_image_folder`) to ``cache_path(path)`` atomically.

    Returns the cache file, or None when it could not be written (the data are
    still usable, only the next load decodes again).
    """
    target = cache_path(path)
    arrays = {"classes": np.array(decoded["classes"], dtype=str),
              "fingerprint": np.array(_fingerprint(path))}
    for split, (images, labels) in decoded["splits"].items():
        arrays[f"split_{split}_images"], arrays[f"split_{split}_labels"] = images, labels
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:  # a file object: np.savez would otherwise append ".npz"
            np.savez(f, **arrays)
        os.replace(tmp, target)
        return target
    except OSError:
        tmp.unlink(missing_ok=True)
        return None


def _read_cache_index(path):
    """Return ``{"file", "classes", "splits"}`` of a valid cache of ``path``, or None."""
    target = cache_path(path)
    if not target.exists():
        return None
    try:
        with np.load(target, allow_pickle=False) as npz:
            if str(npz["fingerprint"]) != _fingerprint(path):
                return None  # the source changed since the cache was written
            splits = [name[len("split_"):-len("_images")] for name in npz.files
                      if name.startswith("split_") and name.endswith("_images")]
            return {"file": target, "classes": [str(c) for c in npz["classes"]], "splits": splits}
    except _DAMAGED_CACHE:
        return None  # unreadable cache: decode again (and overwrite it)


def _check_split(path, splits, split):
    if split not in splits:
        raise ValueError(f"{Path(path).name}: no split {split!r}; found splits {sorted(splits)} "
                         "(the first folder level of an image folder is the split)")


def load_image_folder(path, split="train", cache=True):
    """Load one split of an image folder as uint8 arrays.

    Args:
        path: a directory or a ``.tar.gz``/``.tgz``/``.tar`` archive with
            ``split/class/*.png|jpg`` inside.
        split: the first folder level to read, e.g. "train" or "test".
        cache: reuse/write the decoded ``.npz`` cache (see module docstring).

    Returns:
        images: uint8 ``(N, C, H, W)``, channel-first; C = 3 for colour, 1 for grayscale.
        labels: int64 ``(N,)``, the alphabetical index of the class folder
            (names: :func:`image_folder_classes`).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_image_folder: {path} does not exist; expected a directory or "
                                "a .tar.gz archive of split/class/*.png|jpg files")
    if cache:
        index = _read_cache_index(path)
        if index is not None:
            _check_split(path, index["splits"], split)
            try:
                with np.load(index["file"], allow_pickle=False) as npz:  # reads only this split
                    return npz[f"split_{split}_images"], npz[f"split_{split}_labels"]
            except _DAMAGED_CACHE:
                pass  # the index read but this split's arrays are damaged: decode again below
    decoded = decode_image_folder(path)
    if cache:
        save_cache(path, decoded)
    _check_split(path, decoded["splits"], split)
    return decoded["splits"][split]


def image_folder_classes(path):
    """The class names of an image folder, in label order (label i is ``classes[i]``).

    Args:
        path: the directory or archive given to :func:`load_image_folder`.

    Returns:
        list of str, the sorted class folder names of all splits.
    """
    index = _read_cache_index(path)
    if index is not None:
        return index["classes"]
    decoded = decode_image_folder(path)
    save_cache(path, decoded)
    return decoded["classes"]
