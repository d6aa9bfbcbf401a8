"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a tiny header followed by raw array data::

    bytes 0-1   0x00 0x00                  (magic: always zero)
    byte  2     type code                  (0x08 = unsigned byte, see _IDX_TYPES)
    byte  3     number of dimensions d
    4*d bytes   the size of each dimension, big-endian uint32
    the data    prod(sizes) items, big-endian, row-major (C order)

MNIST images are ``(N, 28, 28)`` unsigned bytes (``idx3``), labels are ``(N,)``
unsigned bytes (``idx1``). The official files are gzipped; these functions
read both forms and recognise gzip by its content, not by the file name.
"""
import gzip
import os
import zlib
from pathlib import Path

import numpy as np

# type code -> big-endian NumPy dtype
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path):
    """Return the decompressed bytes of ``path`` (gzip detected by content).

    A gzip stream that ends early (a truncated download) is not an exception
    here: the bytes decoded so far are returned together with a note, so that
    the caller can say how much data was expected and how much was found.

    Returns:
        (data: bytes, note: str) where note is "" or explains a truncation.
    """
    raw = Path(path).read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw, ""
    decoder = zlib.decompressobj(wbits=31)  # 31: expect a gzip header
    try:
        data = decoder.decompress(raw) + decoder.flush()
    except zlib.error as err:
        raise ValueError(f"{Path(path).name}: corrupt gzip data ({err})") from None
    if not decoder.eof:
        return data, " (the gzip stream ends early: the file is truncated)"
    return data, ""


def read_idx(path):
    """Read an IDX file (gzipped or not) into a NumPy array.

    Args:
        path: file name, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        np.ndarray with the shape stored in the header, in native byte order;
        MNIST images come back as uint8 ``(N, 28, 28)``, labels as uint8 ``(N,)``.

    Raises:
        ValueError: naming the file, when the header is not IDX or when the
            data is shorter or longer than the header says (truncated file).
    """
    path = Path(path)
    name = path.name
    data, note = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{name}: expected an IDX header of at least 4 bytes, found {len(data)} bytes{note}")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(
            f"{name}: not an IDX file: expected magic bytes 00 00 <type 08..0e> <ndim>, "
            f"found {data[:4].hex(' ')}{note}"
        )
    dtype = _IDX_TYPES[data[2]]
    ndim = data[3]
    header_size = 4 + 4 * ndim
    if ndim == 0 or len(data) < header_size:
        raise ValueError(
            f"{name}: expected a {header_size}-byte IDX header for {ndim} dimensions, "
            f"found {len(data)} bytes{note}"
        )
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header_size
    if found != expected:
        raise ValueError(
            f"{name}: expected {expected} bytes of data after the {header_size}-byte header "
            f"(shape {shape}, {dtype.itemsize} byte(s) per item), found {found}{note}"
        )
    if note:  # sizes add up but the gzip trailer is missing: still a damaged file
        raise ValueError(f"{name}: corrupt file{note}")
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file (gzipped when ``compress`` or the name ends in .gz).

    Args:
        path: destination file name.
        array: np.ndarray of uint8, int8, int16, int32, float32 or float64,
            at least 1-D, e.g. uint8 images ``(N, 28, 28)`` or labels ``(N,)``.
        compress: True/False to force gzip on/off; None decides by the ``.gz`` suffix.

    The file is written to ``path + '.tmp'`` and renamed, so a reader never sees
    half a file.
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in _IDX_TYPES.items()}
    if array.dtype not in codes:
        raise TypeError(f"write_idx: array dtype must be one of {sorted(str(d) for d in codes)}, got {array.dtype}")
    if array.ndim == 0:
        raise ValueError("write_idx: expected an array with at least one dimension, got a scalar")
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(array).astype(array.dtype.newbyteorder(">"), copy=False).tobytes()
    tmp = path.with_name(path.name + ".tmp")
    if compress:
        # mtime=0 makes the output reproducible byte for byte
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            f.write(header)
            f.write(body)
    else:
        tmp.write_bytes(header + body)
    os.replace(tmp, path)
