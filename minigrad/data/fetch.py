"""Fetching the data sets into the cache directory: the logic behind ``data_scripts/*.py``.

``python data_scripts/mnist.py`` downloads from the canonical URLs below and
verifies sha256 checksums; ``--from PATH`` imports a local copy instead,
checking its structure (IDX headers and counts; archive readable and decodable).

About the checksums (kept honest): the md5 sums are the ones published on
the data sets' own pages (MNIST via torchvision's list, Fashion-MNIST in
Zalando's README, CIFAR-10 on Toronto's page via torchvision). The sha256 sums
are not published by the authors; they are the values that many independent
projects (TensorFlow/Keras, torchvision's prototype datasets, Flux, ...) pin
for these exact files. They could not be re-computed here, because this code
was written on a machine without access to the original URLs. A download
whose sha256 differs is refused.
"""
import argparse
import os
import shutil
import sys
import tarfile
from pathlib import Path

from . import cifar, image_folder
from .datasets import CIFAR10_SOURCES, IDX_FILES, read_idx_split
from .download import DownloadError, download_file, sha256_file
from .paths import data_dir

_IDX_NAMES = [name + ".gz" for pair in IDX_FILES.values() for name in pair]

DATASETS = {
    "mnist": {
        "title": "MNIST",
        "folder": "mnist",
        "script": "mnist.py",
        # the S3 mirror (used by torchvision) first: yann.lecun.com often refuses downloads
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/"],
        "sha256": {
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
        # published md5 (torchvision's MNIST resource list), for reference
        "md5": {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        "counts": {"train": 60000, "test": 10000},
    },
    "fashion-mnist": {
        "title": "Fashion-MNIST",
        "folder": "fashion-mnist",
        "script": "fashion_mnist.py",
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "sha256": {
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
        # published md5 (github.com/zalandoresearch/fashion-mnist README)
        "md5": {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        "counts": {"train": 60000, "test": 10000},
    },
    "cifar10": {
        "title": "CIFAR-10",
        "folder": "cifar10",
        "script": "cifar10.py",
        "mirrors": ["https://www.cs.toronto.edu/~kriz/"],
        "sha256": {"cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"},
        # published md5 (www.cs.toronto.edu/~kriz/cifar.html)
        "md5": {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
        "counts": {"train": 50000, "test": 10000},
    },
}


def _say(message, quiet=False):
    if not quiet:
        print(message, file=sys.stderr)


def download_dataset(name, dest=None, *, retries=4, backoff=1.0, progress=True, mirrors=None):
    """Download every file of data set ``name`` into ``dest``, trying each mirror in turn.

    Args:
        name: "mnist", "fashion-mnist" or "cifar10".
        dest: target folder; default ``<data dir>/<name's folder>``.
        retries, backoff, progress: passed to :func:`download_file`.
        mirrors: base URLs to use instead of the canonical ones (tests use a local server).

    Returns:
        Path of ``dest``.
    """
    spec = DATASETS[name]
    dest = Path(dest) if dest is not None else data_dir() / spec["folder"]
    for file, sha256 in spec["sha256"].items():
        errors = []
        bases = list(mirrors or spec["mirrors"])
        for i, base in enumerate(bases):
            try:
                download_file(base + file, dest / file, sha256, retries=retries, backoff=backoff, progress=progress)
                break
            except DownloadError as err:
                errors.append(str(err))
                if i + 1 < len(bases):
                    _say(f"{file}: {err}\ntrying the next mirror, {bases[i + 1]}", not progress)
        else:
            raise DownloadError(
                f"could not get {file} from any mirror:\n  " + "\n  ".join(errors)
                + f"\nIf you have a copy, import it with `python data_scripts/{spec['script']} --from PATH`."
            )
    return dest


def _copy_file(source, target):
    """Copy a file to ``target`` via ``target.part`` + rename (never a half-written target)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    shutil.copyfile(source, part)
    os.replace(part, target)


def _copy_tree(source, target):
    """Copy a folder to ``target`` via a temporary sibling + rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    shutil.copytree(source, part)
    old = target.with_name(target.name + ".old")
    if target.exists():
        os.replace(target, old)
    os.replace(part, target)
    shutil.rmtree(old, ignore_errors=True)


def _loader_names(name):
    """Every file or folder name the loader of data set ``name`` looks for in its folder."""
    if name == "cifar10":
        return list(CIFAR10_SOURCES)
    return [base + suffix for pair in IDX_FILES.values() for base in pair for suffix in ("", ".gz")]


def _remove_superseded(name, dest, installed, quiet=False):
    """Delete what the loaders would read in ``dest`` other than the ``installed`` paths.

    The loaders prefer ``X.gz`` to ``X`` and the CIFAR-10 batches to an image
    folder, so an older copy left next to a fresh import would win over it.
    Called once at the end of every import and download; removes only the
    names in :func:`_loader_names` (and the decoded cache of an image folder).
    """
    keep = {Path(p).resolve() for p in installed}
    for entry in _loader_names(name):
        path = dest / entry
        if not path.exists() or path.resolve() in keep:
            continue
        if name == "cifar10" and CIFAR10_SOURCES[entry] == "folder":
            image_folder.cache_path(path).unlink(missing_ok=True)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        _say(f"  removed the earlier {entry} from {dest} (the loader would have read it instead)", quiet)


def _checksum_note(path, name, spec):
    expected = spec["sha256"].get(name)
    if expected is None:
        return "not an official file name: structure verified"
    if sha256_file(path) == expected:
        return "sha256 matches the official release"
    return ("sha256 differs from the official release (a recompressed copy or a subset?): "
            "structure verified")


def import_idx_dataset(name, source, dest=None, quiet=False):
    """Import a local copy of MNIST or Fashion-MNIST (a folder with the four IDX files).

    Each file is checked before anything is copied: IDX magic number, header,
    data size, 28x28 uint8 images, one label 0..9 per image. Files may be
    gzipped or not; they are copied under their own names.

    Args:
        name: "mnist" or "fashion-mnist".
        source: folder with ``train-images-idx3-ubyte[.gz]`` and the other three files.
        dest: target folder; default ``<data dir>/<folder>``.

    Returns:
        Path of ``dest``.
    """
    spec = DATASETS[name]
    source = Path(source)
    dest = Path(dest) if dest is not None else data_dir() / spec["folder"]
    if not source.is_dir():
        raise FileNotFoundError(f"--from {source}: expected a folder holding {', '.join(_IDX_NAMES)}")
    checked = []
    for split in ("train", "test"):
        images, _ = read_idx_split(source, split, spec["title"])
        official = spec["counts"][split]
        size_note = "" if len(images) == official else f" (the official {split} split has {official})"
        _say(f"{spec['title']} {split}: {len(images)} images of 28x28{size_note}", quiet)
        for base in IDX_FILES[split]:
            file = source / (base + ".gz") if (source / (base + ".gz")).is_file() else source / base
            checked.append(file)
    if source.resolve() == dest.resolve():
        _say(f"{source} is already the data folder; nothing to copy", quiet)
        return dest
    for file in checked:
        _copy_file(file, dest / file.name)
        _say(f"  {file.name}: {_checksum_note(dest / file.name, file.name, spec)}", quiet)
    _remove_superseded(name, dest, [dest / file.name for file in checked], quiet)
    _say(f"{spec['title']} is in {dest}", quiet)
    return dest


def _install_batches(folder, dest, quiet, keep=False):
    """Check the six batches in ``folder`` and move/copy them to ``dest/cifar-10-batches-py``.

    ``keep=False`` moves ``folder`` (a temporary ``.part`` folder); ``keep=True`` copies it.
    """
    folder = Path(folder)
    for split in ("train", "test"):
        images, _ = cifar.read_cifar10(folder, split)
        _say(f"CIFAR-10 {split}: {len(images)} images of 3x32x32", quiet)
    target = dest / cifar.BATCH_DIR
    if keep:
        _copy_tree(folder, target)
    else:
        if target.exists():
            shutil.rmtree(target)
        os.replace(folder, target)
    _say(f"CIFAR-10 is in {target}", quiet)
    return target



def extract_cifar10_tarball(tarball, dest=None, quiet=False):
    """Extract the official ``cifar-10-python.tar.gz`` to ``dest/cifar-10-batches-py`` (checked first).

    The loader reads the uncompressed batches much faster than the tarball,
    which would have to be decompressed (163 MB) on every load.

    Returns:
        Path of the batch folder.
    """
    dest = Path(dest) if dest is not None else data_dir() / DATASETS["cifar10"]["folder"]
    part = dest / (cifar.BATCH_DIR + ".part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    try:
        with tarfile.open(tarball, "r:*") as tar:
            for member in tar:
                folder, _, name = member.name.lstrip("./").partition("/")
                # only plain files directly inside cifar-10-batches-py/: no path tricks
                if member.isfile() and folder == cifar.BATCH_DIR and name[:1] not in ("", ".") and "/" not in name:
                    with tar.extractfile(member) as src, open(part / name, "wb") as out:
                        shutil.copyfileobj(src, out)
        target = _install_batches(part, dest, quiet)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ValueError(f"{Path(tarball).name}: cannot read the archive ({err})") from None
    finally:
        shutil.rmtree(part, ignore_errors=True)
    # a downloaded tarball lies in dest and is kept (verified; the next run need not fetch it)
    _remove_superseded("cifar10", dest, [target, tarball], quiet)
    return target


def import_cifar10(source, dest=None, quiet=False):
    """Import a local copy of CIFAR-10 into ``dest`` (default ``<data dir>/cifar10``).

    ``source`` may be the official ``cifar-10-python.tar.gz``, its extracted
    ``cifar-10-batches-py`` folder, or an image folder / image-folder archive
    (``train/<class>/*.jpg``, ``test/<class>/*.jpg``, the ten CIFAR-10 class
    names). Every batch or image is read before the copy is put in place; for
    an image folder the decoded arrays are cached right away.

    Returns:
        Path of the imported file or folder.
    """
    spec = DATASETS["cifar10"]
    source = Path(source)
    dest = Path(dest) if dest is not None else data_dir() / spec["folder"]
    if not source.exists():
        raise FileNotFoundError(f"--from {source}: no such file or folder")

    batch_dir = source / cifar.BATCH_DIR if (source / cifar.BATCH_DIR).is_dir() else source
    if source.is_dir() and (batch_dir / "data_batch_1").is_file():
        target = _install_batches(batch_dir, dest, quiet, keep=True)
        _remove_superseded("cifar10", dest, [target], quiet)
        return target
    if source.is_file() and cifar.is_official_archive(source):
        _say(f"  {source.name}: {_checksum_note(source, source.name, spec)}", quiet)
        return extract_cifar10_tarball(source, dest, quiet)

    # an image folder: copy to a temporary name, decode it all (the check), then rename
    if source.is_dir():
        target = dest / "cifar10-images"
        part = target.with_name(target.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        shutil.copytree(source, part)
    else:
        if not tarfile.is_tarfile(source):
            raise ValueError(f"--from {source}: expected the official cifar-10-python.tar.gz, a "
                             "cifar-10-batches-py folder, or an image folder (archive) with train/<class>/*.jpg")
        target = dest / "cifar10-images.tar.gz"
        part = target.with_name(target.name + ".part")
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, part)
    try:
        _say(f"decoding {source.name} to check it ...", quiet)
        decoded = image_folder.decode_image_folder(part)
        if tuple(decoded["classes"]) != cifar.CIFAR10_CLASSES:
            raise ValueError(f"{source.name}: expected the CIFAR-10 class folders "
                             f"{list(cifar.CIFAR10_CLASSES)}, found {decoded['classes']}")
        for split in ("train", "test"):
            if split not in decoded["splits"]:
                raise ValueError(f"{source.name}: expected a {split}/ folder, found {sorted(decoded['splits'])}")
            images, _ = decoded["splits"][split]
            if images.shape[1:] != (3, 32, 32):
                raise ValueError(f"{source.name}: expected 3x32x32 images, found {images.shape[1:]}")
            official = spec["counts"][split]
            note = "" if len(images) == official else f" (the official {split} split has {official})"
            _say(f"CIFAR-10 {split}: {len(images)} images of 3x32x32{note}", quiet)
    except BaseException:
        if part.is_dir():
            shutil.rmtree(part, ignore_errors=True)
        else:
            part.unlink(missing_ok=True)
        raise
    if target.is_dir():
        shutil.rmtree(target)
    os.replace(part, target)
    _remove_superseded("cifar10", dest, [target], quiet)  # first: an older variant may share the cache name
    image_folder.save_cache(target, decoded)
    _say(f"CIFAR-10 is in {target} (decoded arrays cached in {image_folder.cache_path(target).name})", quiet)
    return target


def main(name, argv=None):
    """Command line of ``data_scripts/<name>.py``. Returns the exit status."""
    spec = DATASETS[name]
    default = data_dir() / spec["folder"]
    parser = argparse.ArgumentParser(
        prog=f"python data_scripts/{spec['script']}",
        description=f"Download {spec['title']} from {spec['mirrors'][0]} (sha256-verified) into the "
                    f"minigrad data folder, or import a local copy with --from.",
    )
    parser.add_argument("--from", dest="source", metavar="PATH",
                        help="import this local copy instead of downloading")
    parser.add_argument("--dest", metavar="DIR", default=None,
                        help=f"target folder (default: {default}; set MINIGRAD_DATA to move the data folder)")
    parser.add_argument("--retries", type=int, default=4, help="retries per file after a failed attempt (default 4)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    try:
        if args.source:
            if name == "cifar10":
                import_cifar10(args.source, args.dest, quiet=args.quiet)
            else:
                import_idx_dataset(name, args.source, args.dest, quiet=args.quiet)
        else:
            dest = download_dataset(name, args.dest, retries=args.retries, progress=not args.quiet)
            if name == "cifar10":
                extract_cifar10_tarball(dest / "cifar-10-python.tar.gz", dest, quiet=args.quiet)
            else:
                _remove_superseded(name, dest, [dest / file for file in spec["sha256"]], args.quiet)
                _say(f"{spec['title']} is in {dest}", args.quiet)
    except (DownloadError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
