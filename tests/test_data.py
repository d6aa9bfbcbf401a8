"""Tests of minigrad.data: file formats, loaders, the embedded sample, preprocessing.

Everything runs on small synthetic files written to tmp_path; tests that
compare with the offline copies in ../shared/datasets skip when it is absent.
"""
import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from minigrad import data
from minigrad.data import cifar, image_folder
from minigrad.data.idx import read_idx, write_idx

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    """Point MINIGRAD_DATA at an empty temporary folder for every test."""
    home = tmp_path / "data-home"
    monkeypatch.setenv("MINIGRAD_DATA", str(home))
    return home


# ---------------------------------------------------------------- helpers

def make_idx_dataset(folder, n_train=30, n_test=20, gz=True, seed=0):
    """Write a tiny MNIST-style data set (four IDX files); return the arrays."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        image_file, label_file = data.datasets.IDX_FILES[split]
        write_idx(folder / (image_file + suffix), images)
        write_idx(folder / (label_file + suffix), labels)
        arrays[split] = (images, labels)
    return arrays


def cifar_batch_bytes(n, seed):
    """A pickled CIFAR-10 batch like the official ones (bytes keys, list labels, protocol 2)."""
    rng = np.random.default_rng(seed)
    batch = {b"batch_label": b"synthetic", b"labels": [int(v) for v in rng.integers(0, 10, n)],
             b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
             b"filenames": [b"x%d.png" % i for i in range(n)]}
    return pickle.dumps(batch, protocol=2), batch


def make_cifar_tarball(path, n=4):
    """Write a small ``cifar-10-python.tar.gz`` (6 batches of n images); return {batch name: dict}."""
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo("cifar-10-batches-py")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for i, name in enumerate(cifar.BATCHES["train"] + cifar.BATCHES["test"]):
            raw, batches[name] = cifar_batch_bytes(n, seed=i)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return batches


def make_image_folder(root, classes=("cat", "dog", "ant"), per_class=3, size=(6, 5), mode="RGB",
                      splits=("train", "test"), ext="png"):
    """Write split/class/NNN.<ext> images with random pixels; return {(split, class, i): pixels}."""
    from PIL import Image

    rng = np.random.default_rng(1)
    pixels = {}
    channels = 3 if mode == "RGB" else 1
    for split in splits:
        for cls in classes:
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                shape = (size[0], size[1], channels) if channels == 3 else size
                p = rng.integers(0, 256, size=shape, dtype=np.uint8)
                Image.fromarray(p, mode).save(root / split / cls / f"{i:03d}.{ext}")
                pixels[(split, cls, i)] = p
    return pixels


def tar_folder(folder, archive, prefix=""):
    with tarfile.open(archive, "w:gz") as tar:
        for child in sorted(folder.iterdir()):
            tar.add(child, arcname=prefix + child.name)
    return archive


# ---------------------------------------------------------------- IDX

@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_idx_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / f"a{suffix}", array)
    back = read_idx(tmp_path / f"a{suffix}")
    assert back.dtype == array.dtype and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_canonical(tmp_path):
    write_idx(tmp_path / "labels", np.array([3, 1, 4], dtype=np.uint8))
    assert (tmp_path / "labels").read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 3, 1, 4])


def test_idx_short_data_names_file_and_sizes(tmp_path):
    header = bytes([0, 0, 8, 3]) + np.array([100, 28, 28], ">u4").tobytes()
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header + bytes(1200)))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz: expected 78400 bytes of data "
                                         r"after the 16-byte header .* found 1200"):
        read_idx(path)


def test_idx_truncated_gzip_says_so(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    write_idx(path, np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: expected 39200 bytes.*truncated"):
        read_idx(path)


def test_idx_not_idx(tmp_path):
    path = tmp_path / "page.gz"
    path.write_bytes(gzip.compress(b"<html>not found</html>"))
    with pytest.raises(ValueError, match=r"page.gz: not an IDX file.*found 3c 68 74 6d"):
        read_idx(path)


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="write_idx: array dtype"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))


# ---------------------------------------------------------------- MNIST-style loaders

@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_root(tmp_path, gz):
    arrays = make_idx_dataset(tmp_path / "m", gz=gz)
    for split in ("train", "test"):
        images, labels = data.load_mnist(tmp_path / "m", split=split)
        assert images.dtype == np.uint8 and images.shape == arrays[split][0].shape
        assert labels.dtype == np.int64 and labels.shape == (len(images),)
        np.testing.assert_array_equal(images, arrays[split][0])
        np.testing.assert_array_equal(labels, arrays[split][1])


def test_load_fashion_mnist_default_folder(data_home):
    make_idx_dataset(data_home / "fashion-mnist")
    images, labels = data.load_fashion_mnist(split="test")
    assert images.shape == (20, 28, 28) and labels.dtype == np.int64
    assert len(data.FASHION_MNIST_CLASSES) == 10


def test_missing_data_names_the_script(data_home):
    with pytest.raises(FileNotFoundError, match=r"python data_scripts/mnist.py"):
        data.load_mnist()
    with pytest.raises(FileNotFoundError, match=r"python data_scripts/fashion_mnist.py"):
        data.load_fashion_mnist(split="test")
    with pytest.raises(FileNotFoundError, match=r"python data_scripts/cifar10.py"):
        data.load_cifar10()


def test_missing_data_in_custom_root_suggests_dest(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"mnist.py --dest .*elsewhere"):
        data.load_mnist(tmp_path / "elsewhere")


def test_bad_split():
    with pytest.raises(ValueError, match=r"load_mnist: split must be 'train' or 'test', got 'val'"):
        data.load_mnist(split="val")


def test_label_count_mismatch(tmp_path):
    make_idx_dataset(tmp_path / "m")
    write_idx(tmp_path / "m" / "train-labels-idx1-ubyte.gz", np.zeros(7, np.uint8))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz: expected 30 labels.* found 7"):
        data.load_mnist(tmp_path / "m")


def test_wrong_image_shape(tmp_path):
    make_idx_dataset(tmp_path / "m")
    write_idx(tmp_path / "m" / "t10k-images-idx3-ubyte.gz", np.zeros((20, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"expected uint8 images of shape \(N, 28, 28\)"):
        data.load_mnist(tmp_path / "m", split="test")


# ---------------------------------------------------------------- embedded sample

def test_mnist_sample_train():
    images, labels = data.load_mnist_sample("train")
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), [500] * 10)
    assert images.max() == 255 and images.min() == 0
    assert 0.08 < images.mean() / 255 < 0.2  # real digits: mostly background


def test_mnist_sample_test():
    images, labels = data.load_mnist_sample("test")
    assert images.shape == (2000, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 2000 and counts.min() >= 150  # roughly balanced, every digit present
    np.testing.assert_array_equal(counts, [175, 234, 219, 207, 217, 179, 178, 205, 192, 194])


def test_embedded_files_within_size_budget():
    total = sum(f.stat().st_size for f in data.datasets.EMBEDDED_DIR.iterdir())
    assert total < 2_000_000


@pytest.mark.skipif(not (SHARED / "mnist-subset").is_dir(),
                    reason="needs the developers' offline MNIST subset (../shared/datasets)")
def test_embedded_sample_matches_shared_subset():
    train = data.load_mnist(SHARED / "mnist-subset", "train")
    test = data.load_mnist(SHARED / "mnist-subset", "test")
    sample_train, sample_test = data.load_mnist_sample("train"), data.load_mnist_sample("test")
    np.testing.assert_array_equal(sample_train[0], train[0])
    np.testing.assert_array_equal(sample_train[1], train[1])
    np.testing.assert_array_equal(sample_test[0], test[0][:2000])
    np.testing.assert_array_equal(sample_test[1], test[1][:2000])


# ---------------------------------------------------------------- CIFAR-10 (official python format)

def test_load_cifar10_official_tarball(data_home):
    (data_home / "cifar10").mkdir(parents=True)
    batches = make_cifar_tarball(data_home / "cifar10" / "cifar-10-python.tar.gz", n=4)
    images, labels = data.load_cifar10(split="train")
    assert images.shape == (20, 3, 32, 32) and images.dtype == np.uint8
    assert labels.shape == (20,) and labels.dtype == np.int64
    first = batches["data_batch_1"]
    # row layout: 1024 red, 1024 green, 1024 blue values, each 32x32 row-major
    np.testing.assert_array_equal(images[0, 0].ravel(), first[b"data"][0, :1024])
    np.testing.assert_array_equal(images[0, 2, 31], first[b"data"][0, 3072 - 32:])
    np.testing.assert_array_equal(labels[:4], first[b"labels"])
    test_images, test_labels = data.load_cifar10(split="test")
    np.testing.assert_array_equal(test_images.reshape(4, -1), batches["test_batch"][b"data"])


def test_load_cifar10_extracted_folder(tmp_path):
    make_cifar_tarball(tmp_path / "c.tar.gz", n=3)
    with tarfile.open(tmp_path / "c.tar.gz") as tar:
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.10.12
        tar.extractall(tmp_path, **safe)
    from_dir = data.load_cifar10(tmp_path, split="train")  # finds cifar-10-batches-py/ inside
    from_tar = data.load_cifar10(tmp_path / "c.tar.gz", split="train")  # a file is used directly
    assert from_dir[0].shape == (15, 3, 32, 32)
    np.testing.assert_array_equal(from_dir[0], from_tar[0])
    np.testing.assert_array_equal(from_dir[1], from_tar[1])


def test_cifar_batch_refuses_foreign_pickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must not run",))

    path = tmp_path / "cifar-10-batches-py"
    path.mkdir()
    (path / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2))
    with pytest.raises(ValueError, match=r"data_batch_1: not a readable CIFAR-10 batch \(refusing to load .*print"):
        data.load_cifar10(path)


def test_cifar_batch_wrong_shape(tmp_path):
    path = tmp_path / "b"
    path.mkdir()
    bad = {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}
    for name in cifar.BATCHES["test"]:
        (path / name).write_bytes(pickle.dumps(bad, protocol=2))
    (path / "data_batch_1").write_bytes(b"")
    with pytest.raises(ValueError,
                       match=r"test_batch: expected b'data' as uint8 of shape \(N, 3072\), found uint8 \(2, 100\)"):
        cifar.read_cifar10(path, "test")


# ---------------------------------------------------------------- image folders

def test_image_folder_directory(tmp_path):
    pixels = make_image_folder(tmp_path / "f")
    images, labels = data.load_image_folder(tmp_path / "f", "train")
    assert images.shape == (9, 3, 6, 5) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert data.image_folder_classes(tmp_path / "f") == ["ant", "cat", "dog"]
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1, 2, 2, 2])  # alphabetical class index
    # PNG is lossless: pixels come back exactly, channel-first
    np.testing.assert_array_equal(images[3], pixels[("train", "cat", 0)].transpose(2, 0, 1))
    assert (tmp_path / "f.decoded.npz").exists()  # cache next to the source


@pytest.mark.parametrize("prefix", ["", "./", "toplevel/"])
def test_image_folder_tarball_equals_directory(tmp_path, prefix):
    make_image_folder(tmp_path / "f", ext="jpg")
    archive = tar_folder(tmp_path / "f", tmp_path / "f.tar.gz", prefix)
    a = data.load_image_folder(tmp_path / "f", "test", cache=False)
    b = data.load_image_folder(archive, "test")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert (tmp_path / "f.decoded.npz").exists()


def test_image_folder_uses_and_refreshes_cache(tmp_path, monkeypatch):
    make_image_folder(tmp_path / "f")
    archive = tar_folder(tmp_path / "f", tmp_path / "f.tar.gz")
    first = data.load_image_folder(archive, "train")

    def no_decoding(path):
        raise AssertionError("decoded again although the cache is valid")

    monkeypatch.setattr(image_folder, "decode_image_folder", no_decoding)
    second = data.load_image_folder(archive, "train")
    np.testing.assert_array_equal(first[0], second[0])
    monkeypatch.undo()

    # a changed source invalidates the cache
    make_image_folder(tmp_path / "g", classes=("x", "y"), per_class=2)
    tar_folder(tmp_path / "g", archive)
    images, labels = data.load_image_folder(archive, "train")
    assert images.shape[0] == 4 and data.image_folder_classes(archive) == ["x", "y"]


def _truncate(file):
    raw = file.read_bytes()
    file.write_bytes(raw[: len(raw) // 2])


def _empty(file):
    file.write_bytes(b"")


def _garble_pixels(file):
    """Flip bytes inside the stored train images (the zip's index stays intact)."""
    raw = bytearray(file.read_bytes())
    start = raw.index(b"split_train_images.npy") + 200
    raw[start:start + 50] = bytes(255 - b for b in raw[start:start + 50])
    file.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", [_truncate, _empty, _garble_pixels])
def test_image_folder_damaged_cache_is_rebuilt(tmp_path, damage):
    make_image_folder(tmp_path / "f", per_class=4)
    archive = tar_folder(tmp_path / "f", tmp_path / "f.tar.gz")
    first = data.load_image_folder(archive, "train")
    cache = tmp_path / "f.decoded.npz"
    good = cache.read_bytes()
    damage(cache)
    assert cache.read_bytes() != good
    again = data.load_image_folder(archive, "train")       # decoded again instead of an error
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert cache.read_bytes() == good, "the damaged cache should be rewritten"
    damage(cache)
    assert data.image_folder_classes(archive) == ["ant", "cat", "dog"]   # no error either
    np.testing.assert_array_equal(first[0], data.load_image_folder(archive, "train")[0])


def test_image_folder_cache_elsewhere_when_read_only(tmp_path, data_home, monkeypatch):
    make_image_folder(tmp_path / "f")
    monkeypatch.setattr(image_folder.os, "access", lambda path, mode: False)
    data.load_image_folder(tmp_path / "f", "train")
    assert not (tmp_path / "f.decoded.npz").exists()
    assert len(list((data_home / "decoded").glob("f-*.npz"))) == 1


def test_image_folder_grayscale(tmp_path):
    make_image_folder(tmp_path / "f", mode="L", splits=("train",))
    images, _ = data.load_image_folder(tmp_path / "f")
    assert images.shape == (9, 1, 6, 5)


def test_image_folder_errors(tmp_path):
    make_image_folder(tmp_path / "f", splits=("train",))
    with pytest.raises(ValueError, match=r"no split 'test'; found splits \['train'\]"):
        data.load_image_folder(tmp_path / "f", "test")
    (tmp_path / "f" / "train" / "cat" / "009.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"train/cat/009.png: cannot decode image"):
        data.load_image_folder(tmp_path / "f", "train")
    make_image_folder(tmp_path / "g", splits=("train",))
    make_image_folder(tmp_path / "big", classes=("cat",), per_class=1, size=(7, 7), splits=("train",))
    (tmp_path / "big" / "train" / "cat" / "000.png").rename(tmp_path / "g" / "train" / "dog" / "zzz.png")
    with pytest.raises(ValueError, match=r"train/dog/zzz.png: expected 6x5 pixels .* found 7x7"):
        data.load_image_folder(tmp_path / "g", "train")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_image_folder(tmp_path / "nothing")
    (tmp_path / "junk.tar.gz").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"junk.tar.gz: cannot read the archive"):
        data.load_image_folder(tmp_path / "junk.tar.gz")


def test_load_cifar10_from_image_folder(data_home):
    root = data_home / "cifar10"
    make_image_folder(root / "src", classes=data.CIFAR10_CLASSES, per_class=2, size=(32, 32), ext="jpg")
    tar_folder(root / "src", root / "cifar10-images.tar.gz")
    import shutil
    shutil.rmtree(root / "src")
    images, labels = data.load_cifar10(split="train")
    assert images.shape == (20, 3, 32, 32) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 2))


# ---------------------------------------------------------------- transforms

def test_normalize():
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    y = data.normalize(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, [[0, 0.2, 1]])
    with pytest.raises(TypeError, match="normalize: expected uint8 .* got dtype float32"):
        data.normalize(y)


def test_standardize_uses_train_statistics():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (50, 3, 4, 4), dtype=np.uint8)
    test = rng.integers(0, 256, (10, 3, 4, 4), dtype=np.uint8)
    s_train, s_test = data.standardize(train, test)
    assert s_train.dtype == np.float32 and s_test.dtype == np.float32
    np.testing.assert_allclose(s_train.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(s_train.std(axis=(0, 2, 3)), 1, atol=1e-4)
    mean, std = data.channel_mean_std(train)
    assert mean.shape == (3,)
    expected = (test[:, 1].astype(np.float64) - train[:, 1].mean()) / train[:, 1].std()
    np.testing.assert_allclose(s_test[:, 1], expected, rtol=1e-4, atol=1e-4)


def test_standardize_grayscale_and_errors():
    x = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    (s,) = data.standardize(x)
    np.testing.assert_allclose([s.mean(), s.std()], [0, 1], atol=1e-5)
    with pytest.raises(ValueError, match=r"expected images of shape .* got shape \(2, 9\).*before flatten"):
        data.standardize(x.reshape(2, 9))
    with pytest.raises(ValueError, match=r"standardize \(argument 1\): expected the channel layout"):
        data.standardize(np.zeros((2, 3, 4, 4)), np.zeros((2, 1, 4, 4)))


def test_flatten():
    x = np.zeros((5, 3, 4, 4), dtype=np.uint8)
    y = data.flatten(x)
    assert y.shape == (5, 48) and np.shares_memory(x, y)
    assert data.flatten(np.zeros((5, 28, 28))).shape == (5, 784)
