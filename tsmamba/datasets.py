"""The benchmark data sets: a registry, finding and downloading files, and a synthetic stand-in.

Files are looked up (in this order) in an explicit ``data_dir``, in ``$TSMAMBA_DATA`` (default
``../shared/datasets`` next to a source checkout) and in the download folder (:func:`download_dir`:
the repository's ``datasets/``, or the user's cache for an installed package), where downloads
land. A file is checked against the sha256 in the registry when the registry
knows it (for either form of ETTm1 and Weather), or against the ``<file>.sha256`` recorded beside
it at its first download: when it is loaded, or for every file found with
``list_datasets(verify=True)``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import http.client
import os
import re
import stat
import time
import urllib.error
import urllib.request
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsmamba.checkpoint import atomic_write_bytes, missing_folders, remove_empty_folders, temp_beside
from tsmamba.data import read_as_published, read_series
from tsmamba.errors import (
    ChecksumError,
    ConfigError,
    DataNotFoundError,
    TSMambaError,
    check_seed,
    positive_int,
)

try:
    import fcntl
except ImportError:  # Windows: no flock; killed downloads' parts go by age instead
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DATA_ENV",
    "REGISTRY",
    "DatasetSpec",
    "check_data_env",
    "data_root",
    "download",
    "download_dir",
    "find_dataset",
    "get_spec",
    "list_datasets",
    "load_dataset",
    "partial_downloads",
    "read_dataset_file",
    "sha256_file",
    "synthetic_ett",
    "verify_file",
]

DATA_ENV = "TSMAMBA_DATA"
ETT_COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class DatasetSpec:
    """One benchmark data set.

    ``filenames``: accepted file names, the first being the form whose ``sha256`` is recorded
    (``None`` when unknown: such files are verified against the digest written beside them at
    first download). ``url`` is the public source of the file named ``url``'s last part.
    ``strict=False`` marks published files with irregular timestamps that the LTSF protocol
    keeps as they are (rows are addressed by position); ``notes`` says what they are.
    """

    name: str
    filenames: tuple[str, ...]
    url: str | None
    sha256: str | None
    freq: str
    kind: str
    n_rows: int
    n_channels: int
    target: str = "OT"
    strict: bool = True
    notes: str = ""
    # the published digests of other accepted names (the decompressed bytes of a registered
    # .gz), checked like ``sha256``: a file of that name with other bytes is refused
    other_sha256: tuple[tuple[str, str], ...] = ()

    @property
    def download_name(self) -> str | None:
        return self.url.rsplit("/", 1)[-1] if self.url else None

    def expected_sha256(self, filename: str) -> str | None:
        """The registry digest for a file of this name (``sha256`` for the first form, or its
        ``other_sha256`` entry), if the registry has one; names are matched as :func:`get_spec`
        matches them, whatever their case (``Weather.csv.gz`` had been taken for Weather, and
        then neither checked nor recognised as the published file)."""
        name = _normalise(filename)
        if name == _normalise(self.filenames[0]):
            return self.sha256
        return {_normalise(f): digest for f, digest in self.other_sha256}.get(name)


_ETT_URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{}.csv"
_TSLIB_URL = "https://huggingface.co/datasets/thuml/Time-Series-Library/resolve/main/{}"


def _ett(
    name: str, kind: str, sha256: str | None, gz_first: bool = False, csv_sha256: str | None = None
) -> DatasetSpec:
    files = (f"{name}.csv", f"{name}.csv.gz")
    return DatasetSpec(
        name=name,
        filenames=files[::-1] if gz_first else files,
        url=_ETT_URL.format(name),
        sha256=sha256,
        freq="h" if kind == "ETTh" else "15min",
        kind=kind,
        n_rows=17420 if kind == "ETTh" else 69680,
        n_channels=7,
        other_sha256=((f"{name}.csv", csv_sha256),) if csv_sha256 else (),
    )


REGISTRY: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        _ett("ETTh1", "ETTh", "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"),
        _ett("ETTh2", "ETTh", None),
        _ett(
            "ETTm1",
            "ETTm",
            "73c18304514c26a5cddba02e6538513a0e23b2fbb59752535adbf541c9edc672",
            gz_first=True,
            csv_sha256="6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e",
        ),
        _ett("ETTm2", "ETTm", None),
        DatasetSpec(
            name="Weather",
            filenames=("weather.csv.gz", "weather.csv"),
            url=_TSLIB_URL.format("weather/weather.csv"),
            sha256="862e9b447a3933f14b6f2d3d686a35d3adb5a486f97acfa46869be0e4bb682db",
            freq="10min",
            kind="custom",
            n_rows=52696,
            n_channels=21,
            strict=False,
            other_sha256=(
                ("weather.csv", "34ee981d07313e51da2a50bb600072c8ae4a69cb4b0651f4cb93a069d7a2ba63"),
            ),
            notes=(
                "2020-05-12 06:00:00 appears twice and the 9 steps 09:40 to 11:00 of "
                "2020-05-29 are missing; wv, max. PAR and OT hold a few -9999 'no data' codes"
            ),
        ),
        DatasetSpec(
            name="Electricity",
            filenames=("electricity.csv", "electricity.csv.gz"),
            url=_TSLIB_URL.format("electricity/electricity.csv"),
            sha256=None,
            freq="h",
            kind="custom",
            n_rows=26304,
            n_channels=321,
        ),
        DatasetSpec(
            name="Traffic",
            filenames=("traffic.csv", "traffic.csv.gz"),
            url=_TSLIB_URL.format("traffic/traffic.csv"),
            sha256=None,
            freq="h",
            kind="custom",
            n_rows=17544,
            n_channels=862,
        ),
    )
}


def _normalise(text: str) -> str:
    return text.strip().lower()


def get_spec(name_or_filename: str | os.PathLike, *, missing_ok: bool = False) -> DatasetSpec:
    """The registry entry for a name (``"etth1"``), a file name or a path (case-insensitive).

    Unknown names raise :class:`DataNotFoundError`, or give ``None`` with ``missing_ok=True``.
    """
    text = _normalise(os.fspath(name_or_filename))
    base = _normalise(Path(text).name)
    for spec in REGISTRY.values():
        names = {_normalise(spec.name), *(_normalise(f) for f in spec.filenames)}
        if text in names or base in names:
            return spec
    if missing_ok:
        return None  # type: ignore[return-value]
    raise DataNotFoundError(
        f"unknown data set {os.fspath(name_or_filename)!r}; the registry knows "
        f"{', '.join(REGISTRY)}. To use your own file pass its path to tsmamba.data.read_series"
    )


def source_checkout() -> Path | None:
    """The repository this package runs from (``pyproject.toml`` beside ``tsmamba/``: a clone,
    or an editable install), or None when it is installed (in site-packages)."""
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "tsmamba" / "__init__.py").is_file():
        return root
    return None


def download_dir() -> Path:
    """Where downloads land by default: the repository's ``datasets/`` folder in a source
    checkout; for an installed package the user's cache, ``$XDG_CACHE_HOME/tsmamba/datasets``
    (``~/.cache/tsmamba/datasets``), never a folder inside site-packages."""
    checkout = source_checkout()
    if checkout is not None:
        return checkout / "datasets"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "tsmamba" / "datasets"


def check_data_env() -> None:
    """Raise :class:`DataNotFoundError` when ``$TSMAMBA_DATA`` is set to something that is not a
    folder (a typo, a file): it was ignored, and a download went elsewhere."""
    env = os.environ.get(DATA_ENV)
    if not env:
        return
    root = data_root()
    if root.is_dir():
        return
    what = "a file" if root.exists() else "no such folder"
    raise DataNotFoundError(
        f"${DATA_ENV} = {root} is not a folder ({what}); point it at the folder that holds the "
        f"data files (export {DATA_ENV}=/path/to/datasets), or unset it"
    )


def data_root() -> Path:
    """``$TSMAMBA_DATA``; when it is unset, ``../shared/datasets`` next to a source checkout, or
    :func:`download_dir` for an installed package."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(os.path.abspath(Path(env).expanduser()))
    checkout = source_checkout()
    return checkout.parent / "shared" / "datasets" if checkout is not None else download_dir()


def _search_dirs(data_dir: str | os.PathLike | None) -> list[Path]:
    dirs = [Path(data_dir).expanduser()] if data_dir is not None else []
    dirs += [data_root(), download_dir()]
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def _candidates(spec: DatasetSpec, folder: Path) -> Iterator[Path]:
    for fname in spec.filenames:
        yield folder / fname
    # common layouts one level down: ETT-small/ETTh1.csv, weather/weather.csv
    try:
        subs = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    except OSError:  # a folder this user may not list: its files are still tried by name above
        subs = []
    for sub in subs:
        for fname in spec.filenames:
            yield sub / fname


def find_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """Path of the data set's file in ``data_dir``, ``$TSMAMBA_DATA`` or the download folder; or None."""
    spec = get_spec(name)
    for folder in _search_dirs(data_dir):
        for path in _candidates(spec, folder):
            try:
                if path.is_file():
                    return path
            except PermissionError:  # a subfolder of another user's (lost+found): not where it is
                continue
    return None


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _recorded_sha256(path: Path) -> str | None:
    """The digest in ``path``'s ``.sha256`` sidecar (None without one); ChecksumError if unreadable."""
    side = _sidecar(path)
    if not side.is_file():
        return None
    fields = side.read_text(encoding="utf-8", errors="replace").split()
    digest = fields[0].lower() if fields else ""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ChecksumError(
            f"{side} is empty or malformed (it should start with the file's 64-digit hex sha256); "
            f"delete it and {path.name}, then download the file again (load_dataset records a "
            "new checksum)"
        )
    return digest


def _write_sidecar(path: Path, digest: str) -> None:
    """Record ``digest`` beside ``path`` atomically."""
    atomic_write_bytes(_sidecar(path), f"{digest}  {path.name}\n".encode())


def verify_file(path: str | os.PathLike, spec: DatasetSpec | None = None) -> str | None:
    """Check a data file against the registry digest or its ``.sha256`` sidecar.

    Returns the digest checked against (None when there is nothing to check against).
    Raises :class:`ChecksumError` on a mismatch.
    """
    path = Path(path)
    spec = spec or get_spec(path, missing_ok=True)
    expected = spec.expected_sha256(path.name) if spec else None
    source = "the registry"
    if expected is None:
        expected, source = _recorded_sha256(path), str(_sidecar(path))
    if expected is None:
        return None
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(
            f"{path}: sha256 {actual} does not match {expected} recorded in {source}; the file "
            "is corrupt, truncated or a different version. Delete it and download it again "
            "(or replace it with the published file)"
        )
    return expected


_STALE_PART_S = 3600  # without flock: a part untouched this long was left by a killed run


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    check: Callable[[Path], Any] | None = None,
    *,
    record: bool = False,
) -> Path:
    """Fetch ``url`` (http(s) or file://) to ``dest`` atomically; check ``sha256`` if given.

    The bytes go to a temporary file in ``dest``'s folder that replaces ``dest`` only when
    complete and verified, so a failed or mismatched download leaves no file behind. Complete
    means all the bytes the server announced (a length that does not parse counts as none);
    without a length (or a ``sha256``) a ``.csv`` must end with a newline, as one cut short
    mid-line does not. A body sent gzip-encoded is decoded (a ``.gz`` file is kept as sent).
    ``check(path)`` runs on the complete temporary file (named with
    ``dest``'s suffixes) before it replaces ``dest``; what it raises leaves no file behind
    either. ``record=True`` writes ``<dest>.sha256`` with the digest computed as the bytes
    arrived, before the file takes its place: a run stopped in between leaves no file without
    its record. Each download holds a lock (flock) on its temporary file; those of downloads
    killed earlier (by a signal: no clean-up runs) are unlocked and are removed, with their
    records' temporary files, by the next download of the same file (without flock, once an
    hour old), or by ``partial_downloads(remove=True)`` (``tsmamba datasets``) for every
    registry file. A symlinked ``dest`` keeps pointing where it did: the file it names is the
    one replaced.
    Raises :class:`ChecksumError` on a mismatch, :class:`DataNotFoundError` when unreachable or
    when the file cannot be written.
    """
    if sha256 is not None:  # checked before the transfer: a digest read with its newline had
        given = sha256  # failed after it, blamed on the file
        sha256 = sha256.strip().lower() if isinstance(sha256, str) else ""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ConfigError(f"sha256 must be 64 hexadecimal digits, got {given!r}")
    dest = Path(dest)
    target = Path(os.path.realpath(dest))
    if target.is_dir():  # the rename would fail only after the transfer, naming the temporary file
        named = f"{dest} (a link to {target})" if dest.is_symlink() else str(dest)
        raise DataNotFoundError(
            f"cannot download {url} to {named}: it is a folder; move the folder away or download "
            "to another file name"
        )
    made = missing_folders(target.parent)  # removed again if the download fails
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_parts(target)
        fd, tmp, lock = _new_part(target)
    except OSError as exc:  # a read-only folder, a file where the folder should be, a long name
        remove_empty_folders(made)
        raise DataNotFoundError(f"cannot download {url} into {target.parent}: {exc}") from exc
    request = urllib.request.Request(url, headers={"User-Agent": "tsmamba-data/0.1"})
    digest = hashlib.sha256()
    placed = recorded = False
    try:
        with os.fdopen(fd, "wb", buffering=0) as out:  # a write error comes from write(), not close()
            try:
                response = urllib.request.urlopen(request, timeout=60)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise DataNotFoundError(f"cannot download {url}: {exc}") from exc
            received, tail = 0, b""
            with response:
                decoder = _decoder(url, response.headers, target)
                while True:
                    try:
                        raw = response.read(_CHUNK)
                    except (http.client.HTTPException, OSError) as exc:
                        raise DataNotFoundError(f"download of {url} broke off ({exc!r}); try again") from exc
                    received += len(raw)  # the bytes sent, which a Content-Length counts
                    block = raw
                    if decoder is not None:
                        try:
                            block = decoder.decompress(raw) if raw else decoder.flush()
                        except zlib.error as exc:
                            raise DataNotFoundError(f"download of {url} is not the gzip it was sent as "
                                                    f"({exc}); nothing was written to {dest}") from None
                    if block:
                        digest.update(block)
                        try:
                            out.write(block)
                        except OSError as exc:  # no space, a file size limit: not the network's doing
                            raise _unwritable(url, target, exc) from None
                        tail = block[-1:]
                    if not raw:
                        break
                if decoder is not None and not decoder.eof and _announced_length(response.headers) in (
                        None, received):  # a short body is reported below, by its length
                    raise DataNotFoundError(f"download of {url} ended inside its gzip encoding after "
                                            f"{received} bytes; nothing was written to {dest}; try again")
                # the length counts the bytes sent, encoded or not
                announced = _announced_length(response.headers)
                if announced is not None:
                    if received != announced:  # a connection closed early reads as the end
                        raise DataNotFoundError(
                            f"download of {url} ended after {received} of {announced} bytes; "
                            f"nothing was written to {dest}; try again"
                        )
                elif sha256 is None and target.suffix.lower() == ".csv" and tail not in (b"\n", b""):
                    raise DataNotFoundError(  # no length to check: a CSV stopping mid-line was cut
                        f"download of {url} ended mid-line after {received} bytes (the server gave "
                        f"no length to check it against); nothing was written to {dest}; try again"
                    )
            try:
                os.fsync(out.fileno())
            except OSError as exc:
                raise _unwritable(url, target, exc) from None
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256.lower():
            raise ChecksumError(
                f"download of {url} has sha256 {actual}, expected {sha256}; nothing was "
                f"written to {dest}. Try again (the transfer may have been corrupted); if it fails "
                "the same way, the file at the source has changed: get the expected file another way"
            )
        if check is not None:
            check(tmp)
        if record:  # first: a file moved in and stopped before its record was never checked again
            try:
                _write_sidecar(dest, actual)
            except OSError as exc:
                raise _unwritable(url, target, exc) from None
            recorded = True
        os.replace(tmp, target)
        placed, made = True, []
        _remove_abandoned_parts(target)  # a killed run's, left beside the file just placed
    finally:
        tmp.unlink(missing_ok=True)
        if recorded and not placed and not target.exists():  # a record of no file
            _sidecar(dest).unlink(missing_ok=True)
        if lock is not None:
            os.close(lock)
        remove_empty_folders(made)
    return dest


def _decoder(url: str, headers: Any, target: Path) -> Any:
    """A gzip decoder for a body the server sent gzip-encoded (urllib does not decode it: the
    encoded bytes had been kept as the file, unreadable under a ``.csv`` name); None for a body
    sent as it is, or a ``.gz`` file (its bytes are the file's either way). Other encodings are
    refused."""
    encoding = (headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding == "identity" or target.suffix.lower() == ".gz":
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    raise DataNotFoundError(f"the server sent {url} {encoding}-encoded (Content-Encoding: {encoding}), "
                            "which cannot be decoded here; download it from a source that sends the file "
                            "as it is")


def _announced_length(headers: Any) -> int | None:
    """The Content-Length sent, or None when there is none or it is not one number (a proxy's
    merged '123, 123'): unknown, rather than a traceback."""
    text = (headers.get("Content-Length") or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _unwritable(url: str, target: Path, exc: OSError) -> DataNotFoundError:
    return DataNotFoundError(
        f"cannot write the download of {url} into {target.parent} ({exc.strerror or exc}); "
        "free space there or choose another folder"
    )


def _new_part(target: Path) -> tuple[int, Path, int | None]:
    """A new temporary file beside ``target``: its descriptor, path, and a descriptor holding a
    flock on it until closed (None without flock), so that other downloads leave it alone
    through the transfer, the check and the rename."""
    suffix = ".part" + "".join(target.suffixes)  # .csv.gz read as such
    for _ in range(10):
        fd, tmp = temp_beside(target, suffix)
        if fcntl is None:
            return fd, tmp, None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:  # a file system without flock: parts go by age only
                return fd, tmp, None
            # another download's clean-up may have removed it before it was locked
            if os.path.samestat(os.stat(tmp), os.fstat(fd)):
                return fd, tmp, os.dup(fd)  # the lock is the open file's: it outlives fd's close
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
    raise OSError(f"temporary files beside {target} were removed as soon as they were made")


def _remove_abandoned_parts(target: Path) -> None:
    """Remove the temporary files of earlier downloads of ``target`` (their records' too) that no
    download holds."""
    _sweep_download(target.parent, target.name)


def _part_pattern(name: str) -> str:
    """The glob of the temporary files (:func:`_new_part`) of downloads to the file ``name``."""
    return f".{glob.escape(name)}.*.part*"


def _parts_of(folder: Path, name: str) -> list[Path]:
    """The temporary files of downloads to ``folder / name`` exactly as :func:`_new_part` names
    them (``.<name>.<8 hex>.part<suffixes>``; earlier versions' mkstemp ones,
    ``.<name>.<8 of [a-z0-9_]>.part``, too): the glob alone also matched a user's
    ``.ETTh1.csv.old.participants.txt``, which a listing then deleted."""
    suffixes = re.escape("".join(Path(name).suffixes))
    exact = re.compile(rf"\.{re.escape(name)}\.(?:[0-9a-f]{{8}}\.part{suffixes}|[a-z0-9_]{{8}}\.part)")
    return [p for p in folder.glob(_part_pattern(name)) if exact.fullmatch(p.name)]


def _record_temps_of(folder: Path, name: str) -> list[Path]:
    """The temporary files of :func:`_write_sidecar` for ``folder / name`` exactly as
    :func:`temp_beside` names them (``.<name>.sha256.<8 hex>.tmp``): a download killed while
    writing its record leaves one."""
    side = _sidecar(Path(name)).name
    exact = re.compile(rf"\.{re.escape(side)}\.[0-9a-f]{{8}}\.tmp")
    return [p for p in folder.glob(f".{glob.escape(side)}.*.tmp") if exact.fullmatch(p.name)]


def _sweep_download(folder: Path, name: str, *, remove: bool = True) -> list[tuple[Path, int, str]]:
    """:func:`_sweep_parts` of the temporary files of downloads to ``folder / name``, with those of
    its ``.sha256`` record, and that record when no file is beside it ("orphan record": listed,
    never removed, as it may be the user's). A record's temporary file is written only while its
    download holds its part locked, so those are abandoned once every part of the name is; while
    one is held (or cannot be read), they and the record are left out."""
    records = _record_temps_of(folder, name)  # listed first: one made later is a download's the parts show
    data, side = folder / name, _sidecar(folder / name)
    orphan = os.path.isfile(side) and not os.path.lexists(data)
    parts = _parts_of(folder, name)
    found = _sweep_parts(parts, remove=remove)
    if sum(state != "in progress" for _, _, state in found) < len(parts):
        return found
    found += _sweep_parts(records, remove=remove, unheld=lambda fd, idle_s: True)
    if orphan and not os.path.lexists(data):  # not a download that put its file in place meanwhile
        with contextlib.suppress(OSError):  # removed meanwhile
            found.append((side, os.stat(side).st_size, "orphan record"))
    return found


def _sweep_parts(
    parts: Iterable[Path], *, remove: bool = True, unheld: Callable[[int, float], bool] | None = None
) -> list[tuple[Path, int, str]]:
    """(path, bytes, state) of each temporary download file in ``parts``; the abandoned ones are
    removed (``remove``). A download locks its own until it ends, so one that can be locked was
    left by a killed run ("removed", or "abandoned" when it is kept or may not be removed); one
    locked is "in progress". Without flock, those that no one has written to for an hour (a
    download writes continually) are abandoned. ``unheld(fd, idle seconds)`` decides instead of
    that rule."""
    unheld = unheld or _unheld
    now, found = time.time(), []
    for part in parts:
        try:  # not through a link; not waiting on a FIFO
            fd = os.open(part, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError:  # gone meanwhile, a link, not ours to read
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                continue
            state = "abandoned" if unheld(fd, now - info.st_mtime) else "in progress"
            if state == "abandoned" and remove:
                try:  # no writer; one that made it just now finds it gone once locked (_new_part)
                    part.unlink()
                    state = "removed"
                except FileNotFoundError:  # another clean-up's
                    continue
                except OSError:  # not ours to remove (a read-only folder): reported as abandoned
                    pass
            found.append((part, info.st_size, state))
        except OSError:  # gone meanwhile
            pass
        finally:
            os.close(fd)
    return found


def _unheld(fd: int, idle_s: float) -> bool:
    """Whether no download holds the temporary file open as ``fd``: its lock can be taken (and is
    held until ``fd`` closes), or, without flock, no one has written to it for an hour."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a download in progress
            return False
        except OSError:  # no flock on this file system: by age, below
            pass
        else:
            return True
    return idle_s > _STALE_PART_S


def partial_downloads(
    data_dir: str | os.PathLike | None = None, *, remove: bool = False
) -> list[dict[str, Any]]:
    """The temporary files of downloads of registry files in the folders :func:`find_dataset`
    searches (their ``.sha256`` records' too): one dict each, with path, bytes and state: "in
    progress" (a download holds it), "abandoned" (a killed download left it: nothing holds it), or
    "removed" (``remove=True`` removes the abandoned ones, by the rule each download applies to
    those of its own file). A ``<file>.sha256`` with no file beside it (a download killed before
    putting its file in place, or the file deleted) is an "orphan record", never removed: a file
    put there later is checked against it."""
    names = {n for spec in REGISTRY.values() for n in (*spec.filenames, spec.download_name) if n}
    found = [entry for folder in _search_dirs(data_dir) for name in sorted(names)
             for entry in _sweep_download(folder, name, remove=remove)]
    return [{"path": str(p), "bytes": size, "state": state} for p, size, state in sorted(found)]


def _is_published_copy(path: Path, spec: DatasetSpec) -> bool:
    """Whether the file's sha256 is the registry's for that name (either form) or the one
    recorded when it was downloaded."""
    known = {spec.expected_sha256(path.name), _recorded_sha256(path)}
    known.discard(None)
    return bool(known) and sha256_file(path) in known


def read_dataset_file(
    path: str | os.PathLike, spec: DatasetSpec | None = None, *, verified: bool = False
) -> pd.DataFrame:
    """:func:`read_series` with the registry's settings for a benchmark file.

    The published file of a set marked ``strict=False`` (Weather) keeps its rows; its documented
    irregularities are listed in ``df.attrs["irregular"]`` instead of a warning. The file is
    the published one when its sha256 matches the registry's (or the digest recorded at download;
    ``verified=True``: the caller has checked it with :func:`verify_file`). Any other file is
    read strictly, whatever its name.
    """
    path = Path(path)
    spec = spec or get_spec(path, missing_ok=True)
    if spec is None or spec.strict or not (verified or _is_published_copy(path, spec)):
        return read_series(path)
    return read_as_published(path)


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """The data set as a validated wide frame (see :func:`tsmamba.data.read_series`).

    Looks for the file (:func:`find_dataset`), checks its sha256 (``verify``), else downloads
    it from the registry's URL into ``data_dir`` or :func:`download_dir` (a download that is not
    the data set is removed, with the folders made for it). Without a file and without a
    download, raises :class:`DataNotFoundError` saying where to put the file; so does a
    ``$TSMAMBA_DATA`` that is not a folder, before any download.
    """
    spec = get_spec(name)
    path = find_dataset(spec.name, data_dir)
    if path is None:
        check_data_env()  # the file is likely where the variable meant to point
        folders = _search_dirs(data_dir)
        where = "\n".join(f"  - {d}" for d in folders)
        advice = (
            f"Put {' or '.join(spec.filenames)} in one of these folders:\n{where}\n"
            f"or point ${DATA_ENV} at the folder that holds it "
            f"(export {DATA_ENV}=/path/to/datasets)."
        )
        if not download or spec.url is None:
            why = "downloads are off" if not download else "the registry has no URL for it"
            raise DataNotFoundError(f"{spec.name} not found ({why}). {advice}")
        target = Path(data_dir).expanduser() if data_dir is not None else download_dir()
        dest = target / (spec.download_name or spec.filenames[0])
        expected = spec.expected_sha256(dest.name)

        checked = False  # whether a ChecksumError is published()'s (it says what to do) or the digest's

        def published(path: Path) -> None:
            """Read and check the complete download before it takes its place: a file moved in
            first and killed while being read was trusted by every later run."""
            nonlocal checked
            checked = True
            try:
                with warnings.catch_warnings():  # they name the temporary file: the frame is read
                    warnings.simplefilter("ignore")  # again, with them, once the file is in place
                    frame = read_dataset_file(path, spec, verified=True)
            except TSMambaError as exc:  # an HTML page, gzip bytes under a .csv name
                why = str(exc).replace(str(path), dest.name).replace(path.name, dest.name)  # no temp name
                raise ChecksumError(
                    f"the download of {spec.name} from {spec.url} is not the data set's CSV ({why}); "
                    f"nothing was kept. Check the URL, or {advice[0].lower()}{advice[1:]}"
                ) from None
            if frame.shape != (spec.n_rows, spec.n_channels):
                raise ChecksumError(
                    f"the download of {spec.name} from {spec.url} has {frame.shape[0]} rows x "
                    f"{frame.shape[1]} channels, the published file {spec.n_rows} x {spec.n_channels}; "
                    f"nothing was kept. {advice}"
                )

        try:  # without a registry digest, the one computed during the download is recorded
            _download(spec.url, dest, expected, check=published, record=expected is None)
        except DataNotFoundError as exc:
            raise DataNotFoundError(f"{spec.name} not found locally and {exc}. {advice}") from exc
        except ChecksumError as exc:  # the registry's digest: where to put the file had gone unsaid
            if checked:
                raise
            raise ChecksumError(f"{spec.name}: {exc}, and {advice[0].lower()}{advice[1:]}") from exc
        return read_dataset_file(dest, spec, verified=True)  # its source named as the file it is
    verified = verify and verify_file(path, spec) is not None
    frame = read_dataset_file(path, spec, verified=verified)
    published = (spec.n_rows, spec.n_channels)
    if verify and not verified and frame.shape != published:
        raise ChecksumError(  # a download is checked so; a file put here by hand had not been
            f"{path} has {frame.shape[0]} rows x {frame.shape[1]} channels, the published {spec.name} "
            f"file {published[0]} x {published[1]}: it is another file or a truncated copy. Replace it "
            "with the published file (or delete it, and it is downloaded)"
        )
    return frame


_download = download  # load_dataset's `download` flag shadows the function inside it


def list_datasets(data_dir: str | os.PathLike | None = None, *, verify: bool = False) -> list[dict[str, Any]]:
    """One dict per registry entry: name, file, path (where found, or None), download (the name a
    download is saved under, None without a URL), kind, freq, rows, channels, and

    - sha256: what the file found is checked against when it is loaded, "registry" or "recorded"
      (the ``<file>.sha256`` written at its download), or None (nothing, or no file found);
      the file is not read, so a record says only what the file should be, never that it is;
    - verified: with ``verify=True``, whether the file's sha256 matches that digest (the file is
      read: :func:`verify_file`); None without ``verify``, without a file or with nothing to
      check against;
    - problem: for a file that failed, or could not be read to check it (``verified`` None),
      what is wrong and what to do; else None.
    """
    out = []
    for spec in REGISTRY.values():
        found = find_dataset(spec.name, data_dir)
        source = verified = problem = None
        if found is not None:
            if spec.expected_sha256(found.name) is not None:
                source = "registry"
            elif _sidecar(found).is_file():
                source = "recorded"
        if verify and source is not None:
            try:
                verified = verify_file(found, spec) is not None
            except ChecksumError as exc:  # a mismatch, or a malformed record
                verified, problem = False, str(exc)
            except OSError as exc:  # unreadable (permissions): the other files are still checked
                problem = (f"{found} could not be read to check its sha256 ({exc.strerror or exc}); "
                           "check its permissions and those of its folder")
        out.append(
            {
                "name": spec.name,
                "file": spec.filenames[0],
                "path": str(found) if found else None,
                "download": spec.download_name,
                "kind": spec.kind,
                "freq": spec.freq,
                "n_rows": spec.n_rows,
                "n_channels": spec.n_channels,
                "sha256": source,
                "verified": verified,
                "problem": problem,
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# synthetic data


def synthetic_ett(
    n_rows: int = 2000,
    n_channels: int = 7,
    freq: str = "h",
    start: str = "2016-07-01",
    seed: int = 0,
) -> pd.DataFrame:
    """An ETT-like frame: a ``date`` column and ``n_channels`` coupled channels.

    Channels are named like ETT (HUFL ... OT) when there are 7, else ``c0, c1, ...``. Each mixes
    shared daily and weekly cycles, a slow trend and AR(1) noise; the last channel (``OT``)
    follows a lagged, smoothed mix of the others. Deterministic for a given ``seed``.
    """
    seed = check_seed(seed)  # None had given other data on every call
    n_rows = positive_int(n_rows, "n_rows")
    n_channels = positive_int(n_channels, "n_channels")
    try:
        index = pd.date_range(start=start, periods=int(n_rows), freq=freq, name="date")
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"bad start {start!r} or freq {freq!r}: {exc}") from exc
    rng = np.random.default_rng(seed)
    stamps = index.as_unit("ns").asi8
    days = (stamps - stamps[0]) / 86_400e9  # time in days, float
    tau = 2 * np.pi
    base = np.stack(
        [
            np.sin(tau * days),  # daily
            np.cos(tau * days),
            np.sin(tau * days / 7),  # weekly
            np.cos(tau * days / 7),
            days / max(days[-1], 1.0),  # trend over the whole span
        ],
        axis=1,
    )
    n = int(n_rows)
    mixing = rng.normal(0.0, 1.0, size=(base.shape[1], n_channels))
    mixing[4] *= 2.0  # a visible trend
    noise = np.empty((n, n_channels))
    shocks = rng.normal(0.0, 0.3, size=(n, n_channels))
    noise[0] = shocks[0]
    for t in range(1, n):  # AR(1) noise, phi = 0.8
        noise[t] = 0.8 * noise[t - 1] + shocks[t]
    common = rng.normal(0.0, 1.0, size=n).cumsum() * 0.02  # shared slow drift couples channels
    levels = rng.uniform(-5.0, 10.0, size=n_channels)
    values = levels + base @ mixing + noise + common[:, None]
    if n_channels > 1:
        drivers = values[:, :-1].mean(axis=1)
        lagged = np.concatenate([np.full(3, drivers[0]), drivers[:-3]])[:n]  # n may be < 3
        kernel = np.ones(6) / 6
        smooth = np.convolve(np.pad(lagged, (5, 0), mode="edge"), kernel, mode="valid")
        values[:, -1] = 20.0 + 1.5 * smooth + 0.5 * noise[:, -1]
    names = list(ETT_COLUMNS) if n_channels == 7 else [f"c{j}" for j in range(n_channels)]
    frame = pd.DataFrame(values, columns=names)
    frame.insert(0, "date", index)
    return frame
