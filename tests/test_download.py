"""Tests of the download path (against a local HTTP server) and of the data scripts' --from import.

The server is http.server on 127.0.0.1 in a thread; it serves files from a
temporary folder, honours ``Range: bytes=N-``, and can be told to cut the
connection at a byte offset to simulate a broken transfer. No network needed.
"""
import hashlib
import http.server
import io
import pickle
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from minigrad import data
from minigrad.data import fetch
from minigrad.data.download import ChecksumError, DownloadError, download_file
from minigrad.data.idx import write_idx

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET with optional Range; HTTP/1.0, so each connection closes after its response."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        file = srv.root / self.path.lstrip("/")
        if not file.is_file():
            self.send_error(404)
            return
        body = file.read_bytes()
        size, start = len(body), 0
        wanted = self.headers.get("Range")
        if wanted and not srv.ignore_range:
            start = int(wanted.split("=")[1].split("-")[0])
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        body = body[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.cut_at is not None and srv.cuts_left != 0:
            srv.cuts_left -= 1
            body = body[: max(0, srv.cut_at - start)]  # then the connection closes: a broken transfer
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path):
    """A local file server: ``server.root`` (folder served), ``server.url`` (base URL),
    ``server.requests`` (path, Range) log, ``cut_at``/``cuts_left`` (-1 = always) and ``ignore_range``."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.root = tmp_path / "served"
    srv.root.mkdir()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.requests, srv.cut_at, srv.cuts_left, srv.ignore_range = [], None, 0, False
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    home = tmp_path / "data-home"
    monkeypatch.setenv("MINIGRAD_DATA", str(home))
    return home


def serve(server, name, size=100_000, seed=0):
    payload = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    (server.root / name).write_bytes(payload)
    return payload, hashlib.sha256(payload).hexdigest()


def get(server, name, dest, sha256, **kwargs):
    options = dict(retries=3, backoff=0, timeout=5, progress=False)
    options.update(kwargs)
    return download_file(server.url + name, dest, sha256, **options)


# ---------------------------------------------------------------- download_file

def test_download_success(server, tmp_path, capsys):
    payload, digest = serve(server, "f.bin")
    dest = tmp_path / "out" / "f.bin"
    assert get(server, "f.bin", dest, digest, progress=True) == dest
    assert dest.read_bytes() == payload
    assert not (tmp_path / "out" / "f.bin.part").exists()
    assert "f.bin" in capsys.readouterr().err  # the progress bar names the file
    # already there and verified: no second request
    get(server, "f.bin", dest, digest)
    assert len(server.requests) == 1


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    serve(server, "f.bin")
    dest = tmp_path / "f.bin"
    with pytest.raises(ChecksumError,
                       match=r"f.bin: downloaded 100000 bytes .* sha256 is [0-9a-f]{64}, expected 0{64}"):
        get(server, "f.bin", dest, "0" * 64)
    assert not dest.exists() and not (tmp_path / "f.bin.part").exists()


def test_interrupted_transfer_resumes(server, tmp_path, capsys):
    payload, digest = serve(server, "f.bin")
    server.cut_at, server.cuts_left = 30_000, 1  # the first response breaks after 30,000 bytes
    dest = tmp_path / "f.bin"
    get(server, "f.bin", dest, digest)
    assert dest.read_bytes() == payload
    assert server.requests == [("/f.bin", None), ("/f.bin", "bytes=30000-")]  # resumed, not restarted
    assert "resuming at byte 30000" in capsys.readouterr().err


def test_resumes_from_part_left_by_an_earlier_run(server, tmp_path):
    payload, digest = serve(server, "f.bin")
    (tmp_path / "f.bin.part").write_bytes(payload[:12_345])
    get(server, "f.bin", tmp_path / "f.bin", digest)
    assert (tmp_path / "f.bin").read_bytes() == payload
    assert server.requests == [("/f.bin", "bytes=12345-")]


def test_transfer_that_never_completes(server, tmp_path):
    serve(server, "f.bin")
    server.cut_at, server.cuts_left = 40_000, -1  # every response breaks at byte 40,000
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError, match=r"after 4 attempts .*closed before the end.* 40000 bytes .*f.bin.part"):
        get(server, "f.bin", dest, None)
    assert not dest.exists()
    assert (tmp_path / "f.bin.part").stat().st_size == 40_000  # kept for the next run to resume
    assert len(server.requests) == 4


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    payload, digest = serve(server, "f.bin")
    server.ignore_range = True
    (tmp_path / "f.bin.part").write_bytes(b"x" * 500)
    get(server, "f.bin", tmp_path / "f.bin", digest)
    assert (tmp_path / "f.bin").read_bytes() == payload


def test_part_longer_than_file_is_discarded(server, tmp_path):
    payload, digest = serve(server, "f.bin", size=1000)
    (tmp_path / "f.bin.part").write_bytes(b"x" * 5000)  # 416 from the server
    get(server, "f.bin", tmp_path / "f.bin", digest)
    assert (tmp_path / "f.bin").read_bytes() == payload


def test_complete_part_is_verified_without_download(server, tmp_path):
    payload, digest = serve(server, "f.bin", size=1000)
    (tmp_path / "f.bin.part").write_bytes(payload)  # 416 with the matching size: already complete
    get(server, "f.bin", tmp_path / "f.bin", digest)
    assert (tmp_path / "f.bin").read_bytes() == payload


def test_http_404_is_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match=r"missing.bin: HTTP 404"):
        get(server, "missing.bin", tmp_path / "missing.bin", None)
    assert len(server.requests) == 1


def test_unreachable_server(tmp_path):
    # a port nobody listens on: connection refused on each attempt
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match=r"after 2 attempts"):
        download_file(f"http://127.0.0.1:{port}/x", tmp_path / "x", retries=1, backoff=0, progress=False)
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- servers that never answer, hosts that do not exist

class _RawServer:
    """A TCP server on 127.0.0.1 that answers connection i with ``replies[i]`` (bytes, or a
    function of the request's Range header giving bytes), then keeps the connection open
    without sending anything more: a server that stalls. It stops by itself after
    ``lifetime`` seconds or when ``stop()`` is called; ``connections`` counts accepted ones."""

    def __init__(self, replies, lifetime=15.0):
        self.replies, self.connections, self.ranges = list(replies), 0, []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/f.bin"
        self._stop, self._open = threading.Event(), []
        self._deadline = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by stop()
                break
            self._open.append(conn)
            try:
                self._answer(conn)
            except OSError:  # the client went away, or stop() closed the connection
                pass
        self.stop()

    def _answer(self, conn):
        conn.settimeout(2.0)
        request = b""
        while b"\r\n\r\n" not in request:
            data = conn.recv(4096)
            if not data:
                break
            request += data
        wanted = [line.split(b":", 1)[1].strip().decode() for line in request.split(b"\r\n")
                  if line.lower().startswith(b"range:")]
        self.ranges.append(wanted[0] if wanted else None)
        reply = self.replies[min(self.connections, len(self.replies) - 1)]
        self.connections += 1
        conn.sendall(reply(self.ranges[-1]) if callable(reply) else reply)

    def stop(self):
        self._stop.set()
        for conn in self._open:
            conn.close()
        self._sock.close()


@pytest.fixture
def raw_server():
    servers = []

    def start(*replies):
        servers.append(_RawServer(replies))
        return servers[-1]

    yield start
    for srv in servers:
        srv.stop()


HEADERS_ONLY = b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n"


@pytest.mark.parametrize("reply", [b"", HEADERS_ONLY], ids=["accepts-then-silent", "headers-then-silent"])
def test_server_that_never_answers_is_not_retried(raw_server, tmp_path, reply):
    srv = raw_server(reply)
    with pytest.raises(DownloadError, match=r"f.bin: the server sent nothing for 0.5 s"):
        download_file(srv.url, tmp_path / "f.bin", retries=4, backoff=0, timeout=0.5, progress=False)
    assert srv.connections == 1, "a server that sends nothing is given up at once, not tried 5 times"


def test_transfer_that_stalls_after_some_bytes_is_resumed(raw_server, tmp_path):
    payload = bytes(range(256)) * 4

    def rest(wanted):
        start = int(wanted.split("=")[1].rstrip("-"))
        return (f"HTTP/1.0 206 Partial Content\r\nContent-Range: bytes {start}-{len(payload) - 1}/{len(payload)}"
                f"\r\nContent-Length: {len(payload) - start}\r\n\r\n").encode() + payload[start:]

    srv = raw_server(b"HTTP/1.0 200 OK\r\nContent-Length: 1024\r\n\r\n" + payload[:300], rest)
    dest = download_file(srv.url, tmp_path / "f.bin", retries=2, backoff=0, timeout=0.5, progress=False)
    assert dest.read_bytes() == payload
    assert srv.ranges == [None, "bytes=300-"]  # the stall was retried and resumed


@pytest.fixture
def no_network(monkeypatch):
    """urlopen raising ``error`` for every URL (no request leaves this machine); records each
    call's URL and timeout, and the back-off sleeps instead of sleeping."""
    log = {"urls": [], "timeouts": [], "sleeps": []}

    def install(error):
        def urlopen(request, timeout=None):
            log["urls"].append(request.full_url)
            log["timeouts"].append(timeout)
            raise error

        monkeypatch.setattr(urllib.request, "urlopen", urlopen)
        monkeypatch.setattr(time, "sleep", log["sleeps"].append)
        return log

    return install


def test_host_name_that_does_not_resolve_is_not_retried(no_network, capsys):
    log = no_network(urllib.error.URLError(socket.gaierror(-2, "Name or service not known")))
    assert fetch.main("mnist", ["--quiet"]) == 1
    mirrors = fetch.DATASETS["mnist"]["mirrors"]
    assert log["urls"] == [base + "train-images-idx3-ubyte.gz" for base in mirrors], "one try per mirror"
    assert log["sleeps"] == []
    err = capsys.readouterr().err
    for base in mirrors:
        assert base + "train-images-idx3-ubyte.gz: cannot resolve the host name" in err   # names the URL
    assert "python data_scripts/mnist.py --from PATH" in err                             # and the way around it


@pytest.mark.parametrize("error", [TimeoutError("timed out"), urllib.error.URLError(TimeoutError("timed out"))],
                         ids=["no-response", "no-connection"])
def test_silent_servers_cost_about_a_minute_at_most(no_network, capsys, error):
    """The worst case of the real data scripts (default settings, every mirror): the seconds spent
    waiting for answers plus backing off. It was 2 mirrors x (5 tries x 30 s + 15 s) = 330 s."""
    log = no_network(error)
    assert fetch.main("mnist", []) == 1
    worst_case = sum(log["timeouts"]) + sum(log["sleeps"])
    assert worst_case <= 60, f"{len(log['urls'])} tries, {log['timeouts']} s timeouts, {log['sleeps']} s sleeps"
    err = capsys.readouterr().err
    assert "ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz: the server sent nothing" in err
    assert "--from PATH" in err


def test_http_404_from_the_script_names_url_and_from(server, fake_mnist_spec, monkeypatch, capsys):
    monkeypatch.setitem(fake_mnist_spec, "mirrors", [server.url + "gone/"])
    assert fetch.main("mnist", ["--quiet"]) == 1
    err = capsys.readouterr().err
    assert server.url + "gone/train-images-idx3-ubyte.gz: HTTP 404" in err
    assert "python data_scripts/mnist.py --from PATH" in err
    assert len(server.requests) == 1


# ---------------------------------------------------------------- whole data sets

def make_idx_files(folder, n_train=30, n_test=20, gz=True):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, n in (("train", n_train), ("test", n_test)):
        images_name, labels_name = data.datasets.IDX_FILES[split]
        write_idx(folder / (images_name + suffix), rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / (labels_name + suffix), (np.arange(n) % 10).astype(np.uint8))


@pytest.fixture
def fake_mnist_spec(monkeypatch, server):
    """Serve synthetic MNIST files and make the "mnist" spec expect their checksums."""
    make_idx_files(server.root / "mnist")
    spec = dict(fetch.DATASETS["mnist"])
    spec["sha256"] = {name: hashlib.sha256((server.root / "mnist" / name).read_bytes()).hexdigest()
                      for name in spec["sha256"]}
    monkeypatch.setitem(fetch.DATASETS, "mnist", spec)
    return spec


def test_download_dataset_tries_next_mirror(server, fake_mnist_spec, data_home):
    dest = fetch.download_dataset("mnist", retries=0, backoff=0, progress=False,
                                  mirrors=[server.url + "nothing-here/", server.url + "mnist/"])
    assert dest == data_home / "mnist"
    images, labels = data.load_mnist(split="train")
    assert images.shape == (30, 28, 28) and labels.dtype == np.int64


def test_download_dataset_all_mirrors_fail(server, fake_mnist_spec):
    with pytest.raises(DownloadError,
                       match=r"(?s)could not get train-images-idx3-ubyte.gz from any mirror.*--from PATH"):
        fetch.download_dataset("mnist", retries=0, backoff=0, progress=False, mirrors=[server.url + "no/"])


def test_download_dataset_rejects_bad_checksum(server, fake_mnist_spec, monkeypatch, data_home):
    fake_mnist_spec["sha256"]["train-images-idx3-ubyte.gz"] = "f" * 64
    with pytest.raises(DownloadError, match=r"sha256 is .* expected f{64}"):
        fetch.download_dataset("mnist", retries=0, backoff=0, progress=False, mirrors=[server.url + "mnist/"])
    assert not (data_home / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_official_checksums_are_well_formed():
    for name, spec in fetch.DATASETS.items():
        assert set(spec["sha256"]) == set(spec["md5"]), name
        for digest in spec["sha256"].values():
            assert len(digest) == 64 and int(digest, 16) >= 0
        for url in spec["mirrors"]:
            assert url.startswith(("http://", "https://")) and url.endswith("/")


# ---------------------------------------------------------------- --from imports

@pytest.mark.parametrize("gz", [True, False])
def test_import_idx_folder(tmp_path, data_home, gz, capsys):
    make_idx_files(tmp_path / "copy", gz=gz)
    assert fetch.main("fashion-mnist", ["--from", str(tmp_path / "copy")]) == 0
    images, labels = data.load_fashion_mnist(split="test")
    assert images.shape == (20, 28, 28)
    err = capsys.readouterr().err
    assert "Fashion-MNIST train: 30 images of 28x28 (the official train split has 60000)" in err


@pytest.mark.parametrize("old_gz,new_gz", [(True, False), (False, True), (True, True)])
def test_reimport_replaces_what_the_loader_reads(tmp_path, data_home, old_gz, new_gz, capsys):
    """An earlier download (.gz) or import must not win over a fresh --from import."""
    make_idx_files(data_home / "mnist", n_train=30, gz=old_gz)        # what an earlier run left
    make_idx_files(tmp_path / "copy", n_train=40, n_test=10, gz=new_gz)
    assert fetch.main("mnist", ["--from", str(tmp_path / "copy")]) == 0
    assert data.load_mnist(split="train")[0].shape == (40, 28, 28)
    assert data.load_mnist(split="test")[0].shape == (10, 28, 28)
    names = sorted(f.name for f in (data_home / "mnist").iterdir())
    assert names == sorted(f.name for f in (tmp_path / "copy").iterdir()), "older copies are removed"
    if old_gz != new_gz:
        assert "removed the earlier train-images-idx3-ubyte" in capsys.readouterr().err


def test_import_rejects_truncated_file(tmp_path, data_home, capsys):
    make_idx_files(tmp_path / "copy")
    bad = tmp_path / "copy" / "t10k-images-idx3-ubyte.gz"
    raw = bad.read_bytes()
    bad.write_bytes(raw[: len(raw) // 3])
    assert fetch.main("mnist", ["--from", str(tmp_path / "copy"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "t10k-images-idx3-ubyte.gz: expected 15680 bytes of data after the 16-byte header" in err
    assert not (data_home / "mnist").exists()  # nothing imported


def test_import_missing_file(tmp_path, capsys):
    make_idx_files(tmp_path / "copy")
    (tmp_path / "copy" / "train-labels-idx1-ubyte.gz").unlink()
    assert fetch.main("mnist", ["--from", str(tmp_path / "copy")]) == 1
    assert "has no train-labels-idx1-ubyte[.gz]" in capsys.readouterr().err


def _cifar_image_archive(tmp_path, classes=data.CIFAR10_CLASSES):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in classes:
            (tmp_path / "imgs" / split / cls).mkdir(parents=True)
            for i in range(2):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / "imgs" / split / cls / f"{i:04d}.jpg")
    archive = tmp_path / "cifar10-images.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for child in sorted((tmp_path / "imgs").iterdir()):
            tar.add(child, arcname=child.name)
    return archive


def test_import_cifar10_image_archive(tmp_path, data_home):
    archive = _cifar_image_archive(tmp_path)
    assert fetch.main("cifar10", ["--from", str(archive), "--quiet"]) == 0
    assert (data_home / "cifar10" / "cifar10-images.tar.gz").is_file()
    assert (data_home / "cifar10" / "cifar10-images.decoded.npz").is_file()  # decoded once, at import
    images, labels = data.load_cifar10(split="test")
    assert images.shape == (20, 3, 32, 32) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), [2] * 10)


def test_import_cifar10_wrong_classes(tmp_path, data_home, capsys):
    archive = _cifar_image_archive(tmp_path, classes=("cat", "dog"))
    assert fetch.main("cifar10", ["--from", str(archive)]) == 1
    assert "expected the CIFAR-10 class folders" in capsys.readouterr().err
    assert list((data_home / "cifar10").iterdir()) == []  # the .part was removed


def test_cifar10_reimport_replaces_what_the_loader_reads(tmp_path, data_home):
    """Batches from an earlier import must not win over a freshly imported image archive, nor the reverse."""
    _official_cifar_tarball(tmp_path / "cifar-10-python.tar.gz")              # 3 images per batch
    archive = _cifar_image_archive(tmp_path)                                   # 20 test images
    assert fetch.main("cifar10", ["--from", str(tmp_path / "cifar-10-python.tar.gz"), "--quiet"]) == 0
    assert data.load_cifar10(split="test")[0].shape == (3, 3, 32, 32)
    assert fetch.main("cifar10", ["--from", str(archive), "--quiet"]) == 0
    assert data.load_cifar10(split="test")[0].shape == (20, 3, 32, 32)
    assert sorted(f.name for f in (data_home / "cifar10").iterdir()) == [
        "cifar10-images.decoded.npz", "cifar10-images.tar.gz"]
    assert fetch.main("cifar10", ["--from", str(tmp_path / "cifar-10-python.tar.gz"), "--quiet"]) == 0
    assert data.load_cifar10(split="test")[0].shape == (3, 3, 32, 32)
    assert sorted(f.name for f in (data_home / "cifar10").iterdir()) == ["cifar-10-batches-py"]


def test_cifar10_image_folder_replacing_its_archive_keeps_its_own_cache(tmp_path, data_home):
    """cifar10-images/ and cifar10-images.tar.gz share one cache name: removing the old one
    must not delete the cache just written for the new one."""
    archive = _cifar_image_archive(tmp_path)
    assert fetch.main("cifar10", ["--from", str(archive), "--quiet"]) == 0
    assert fetch.main("cifar10", ["--from", str(tmp_path / "imgs"), "--quiet"]) == 0
    assert sorted(f.name for f in (data_home / "cifar10").iterdir()) == [
        "cifar10-images", "cifar10-images.decoded.npz"]
    assert data.load_cifar10(split="train")[0].shape == (20, 3, 32, 32)


def _official_cifar_tarball(path):
    """A small tarball laid out like cifar-10-python.tar.gz: six batches of 3 images."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {b"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8), b"labels": [0, 5, 9]}
            raw = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def test_import_cifar10_official_tarball(tmp_path, data_home):
    _official_cifar_tarball(tmp_path / "cifar-10-python.tar.gz")
    assert fetch.main("cifar10", ["--from", str(tmp_path / "cifar-10-python.tar.gz"), "--quiet"]) == 0
    assert (data_home / "cifar10" / "cifar-10-batches-py" / "test_batch").is_file()  # extracted
    assert not (data_home / "cifar10" / "cifar-10-batches-py.part").exists()
    assert data.load_cifar10(split="train")[0].shape == (15, 3, 32, 32)
    # the extracted folder imports too, and is copied, not moved
    source = data_home / "cifar10" / "cifar-10-batches-py"
    assert fetch.main("cifar10", ["--from", str(source), "--dest", str(tmp_path / "other"), "--quiet"]) == 0
    assert source.is_dir() and (tmp_path / "other" / "cifar-10-batches-py" / "data_batch_5").is_file()


def test_cifar10_script_downloads_and_extracts(server, tmp_path, data_home, monkeypatch):
    _official_cifar_tarball(server.root / "cifar-10-python.tar.gz")
    spec = dict(fetch.DATASETS["cifar10"], mirrors=[server.url])
    spec["sha256"] = {"cifar-10-python.tar.gz": hashlib.sha256(
        (server.root / "cifar-10-python.tar.gz").read_bytes()).hexdigest()}
    monkeypatch.setitem(fetch.DATASETS, "cifar10", spec)
    assert fetch.main("cifar10", ["--quiet", "--retries", "0"]) == 0
    assert (data_home / "cifar10" / "cifar-10-python.tar.gz").is_file()
    images, labels = data.load_cifar10(split="test")  # read from the extracted batches
    assert images.shape == (3, 3, 32, 32) and labels.tolist() == [0, 5, 9]


def test_import_cifar10_not_an_archive(tmp_path, capsys):
    (tmp_path / "x.tar.gz").write_bytes(b"hello")
    assert fetch.main("cifar10", ["--from", str(tmp_path / "x.tar.gz")]) == 1
    assert "expected the official cifar-10-python.tar.gz" in capsys.readouterr().err


def test_script_runs_from_checkout(tmp_path):
    make_idx_files(tmp_path / "copy")
    result = subprocess.run([sys.executable, "data_scripts/mnist.py", "--from", str(tmp_path / "copy"),
                             "--dest", str(tmp_path / "dest")], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "MNIST is in" in result.stderr
    assert data.load_mnist(tmp_path / "dest", "train")[0].shape == (30, 28, 28)


@pytest.mark.skipif(not (SHARED / "mnist-subset").is_dir(),
                    reason="needs the developers' offline MNIST subset (../shared/datasets)")
def test_import_shared_mnist_subset(data_home):
    assert fetch.main("mnist", ["--from", str(SHARED / "mnist-subset"), "--quiet"]) == 0
    images, labels = data.load_mnist(split="train")
    assert images.shape == (5000, 28, 28)
    test_images, test_labels = data.load_mnist(split="test")
    assert test_images.shape == (10000, 28, 28)
    np.testing.assert_array_equal(np.bincount(test_labels),
                                  [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])


FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION_DEBIAN.is_dir(), reason="Debian package dataset-fashion-mnist is not installed")
def test_import_debian_fashion_mnist(data_home):
    assert fetch.main("fashion-mnist", ["--from", str(FASHION_DEBIAN), "--quiet"]) == 0
    images, labels = data.load_fashion_mnist(split="train")
    assert images.shape == (60000, 28, 28)
    np.testing.assert_array_equal(np.bincount(labels), [6000] * 10)

