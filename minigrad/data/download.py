"""Downloading one file safely: resume, retry with backoff, verify, then rename.

The rules, so that a good file is never replaced by a bad one:

1. bytes go to ``NAME.part`` next to the destination;
2. when a transfer breaks, the next attempt asks the server for the rest
   (HTTP ``Range: bytes=<size of .part>-``) after waiting ``backoff * 2**k`` s;
3. when all bytes are there, the sha256 is checked; a mismatch deletes the
   ``.part`` and raises :class:`ChecksumError`;
4. only then ``os.replace(NAME.part, NAME)`` (atomic on one file system).

What is retried and what is not, so that a hopeless download fails fast:

- retried: a transfer that breaks after bytes arrived, a refused or reset
  connection, HTTP 408/425/429/5xx (temporary by definition);
- not retried (:class:`DownloadError` at once, the caller tries the next mirror):
  a host name that does not resolve, a TLS certificate that does not verify,
  any other HTTP error (404, 403, ...), and a server that sends nothing for
  ``timeout`` seconds. The last is a server that accepts connections but
  never answers; retrying it cost 5 x 30 s plus back-off per mirror, 5.5
  minutes for MNIST's two mirrors, and now costs ``timeout`` (20 s) per mirror.

Why this module and not ``pooch``: pooch (the scientific-Python downloader)
does retries, hashes, mirrors and a per-user cache, but it does not resume a
partial file: a broken transfer of CIFAR-10's 163 MB starts again from byte 0,
and users on slow or flaky links rely on resuming. It would also add seven
packages (pooch, requests, urllib3, idna, charset-normalizer, certifi,
platformdirs) to minigrad's four dependencies. This file is short and
standard-library only, so it stays; ``--from PATH`` imports are independent
of it either way.
"""
import hashlib
import http.client
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CHUNK_SIZE = 1 << 16
USER_AGENT = "minigrad-data-scripts/1.0 (Python urllib)"


class DownloadError(RuntimeError):
    """A file could not be downloaded (network error, HTTP error, server keeps cutting the transfer)."""


class ChecksumError(DownloadError):
    """A downloaded or imported file does not have the expected sha256."""


def sha256_file(path):
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _progress_bar(total, initial, name, enabled):
    """A tqdm bar on stderr (tqdm is a minigrad dependency); a no-op object when disabled."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=name, unit="B", unit_scale=True,
                unit_divisor=1024, disable=not enabled, file=sys.stderr, leave=True)


def _hopeless(url, err, timeout):
    """A DownloadError when connection error ``err`` is one that no retry will fix, else None."""
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    if isinstance(reason, TimeoutError):
        return DownloadError(f"{url}: the server sent nothing for {timeout:g} s (it accepts connections "
                             "but does not answer); not retrying it")
    if isinstance(reason, socket.gaierror):
        return DownloadError(f"{url}: cannot resolve the host name ({reason}); check the address "
                             "and this machine's network connection")
    if isinstance(reason, ssl.SSLCertVerificationError):
        return DownloadError(f"{url}: the server's TLS certificate does not verify ({reason.verify_message})")
    return None


def _transfer(url, part, timeout, progress):
    """One attempt: append the rest of ``url`` to ``part``.

    Returns:
        True when the whole file arrived (or the server did not say its size),
        False when the connection ended early.

    Raises:
        OSError / http.client.HTTPException for errors worth retrying;
        DownloadError for errors that a retry will not fix: HTTP 404, 403, ...,
        a host name that does not resolve, a certificate that does not verify,
        a server that sends nothing within ``timeout`` seconds.
    """
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # "range not satisfiable": nothing after offset
            total = (err.headers.get("Content-Range") or "").rpartition("/")[2]
            if total.isdigit() and int(total) == offset:
                return True  # the .part already holds the whole file
            part.unlink()  # .part is longer than the file: start again
            raise ConnectionError(f"server rejected resuming at byte {offset}; restarting") from None
        if err.code in (408, 425, 429) or err.code >= 500:
            raise  # temporary: retry
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
    except OSError as err:  # URLError (no connection), TimeoutError (no response), ...
        hopeless = _hopeless(url, err, timeout)
        if hopeless is not None:
            raise hopeless from None
        raise  # refused, reset, ...: retry

    with response:
        if offset and response.status != 206:
            offset = 0  # the server ignored Range and sends the whole file: start over
        elif offset and not (response.headers.get("Content-Range") or "").startswith(f"bytes {offset}-"):
            part.unlink()
            raise ConnectionError(f"server resumed at the wrong byte ({response.headers.get('Content-Range')}, "
                                  f"asked for {offset}-); restarting")
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        received = 0
        with open(part, "ab" if offset else "wb") as f, \
                _progress_bar(total, offset, part.name[: -len(".part")], progress) as bar:
            while True:
                try:
                    chunk = response.read1(CHUNK_SIZE)  # what has arrived, up to CHUNK_SIZE: counts every byte
                except TimeoutError as err:
                    if received == 0:  # headers, then nothing: as silent as no answer at all
                        raise _hopeless(url, err, timeout) from None
                    raise  # stalled after sending some bytes: retry and resume
                if not chunk:
                    break
                f.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    return total is None or offset + received == total


def download_file(url, dest, sha256=None, *, retries=4, backoff=1.0, timeout=20.0, progress=True):
    """Download ``url`` to ``dest``, resuming and retrying, and verify its sha256.

    Args:
        url: http(s) URL.
        dest: final file path; its folder is created if needed.
        sha256: expected hex digest, or None to skip the check.
        retries: how many times to retry after a failed attempt (so
            ``retries + 1`` attempts in all); each retry resumes from ``dest.part``.
        backoff: seconds before the first retry; doubled each time (max 60 s).
        timeout: socket timeout in seconds for connecting and for each read; a
            server that sends nothing in that time is given up at once.
        progress: show a progress bar on stderr.

    Returns:
        Path of ``dest``. If ``dest`` already exists with the right sha256,
        nothing is downloaded.

    Raises:
        ChecksumError: the complete download has another sha256 (``.part`` deleted,
            ``dest`` untouched).
        DownloadError: every attempt failed, or one failed in a way no retry
            fixes (see the module docstring); the bytes received stay in
            ``dest.part`` and the next call resumes from them.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    if dest.is_file() and (sha256 is None or sha256_file(dest) == sha256.lower()):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)

    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        try:
            if _transfer(url, part, timeout, progress):
                break
            error = "the connection closed before the end of the file"
        except (OSError, http.client.HTTPException) as err:  # URLError, timeouts, resets, IncompleteRead
            error = f"{type(err).__name__}: {err}"
        if attempt == attempts:
            have = part.stat().st_size if part.exists() else 0
            kept = (f" The {have} bytes received so far are kept in {part}; run the command again to resume."
                    if have else "")
            raise DownloadError(f"could not download {url} after {attempts} attempts (last error: {error}).{kept}")
        delay = min(backoff * 2 ** (attempt - 1), 60.0)
        have = part.stat().st_size if part.exists() else 0
        print(f"{dest.name}: {error}; retrying in {delay:g} s (attempt {attempt + 1} of {attempts}, "
              f"resuming at byte {have})", file=sys.stderr)
        time.sleep(delay)

    if sha256 is not None:
        actual = sha256_file(part)
        if actual != sha256.lower():
            size = part.stat().st_size
            part.unlink()
            raise ChecksumError(
                f"{dest.name}: downloaded {size} bytes from {url} but the sha256 is {actual}, "
                f"expected {sha256.lower()}; the download was deleted (a damaged transfer or a "
                "changed file on the server). Run the command again, or use --from with a good copy."
            )
    os.replace(part, dest)
    return dest
