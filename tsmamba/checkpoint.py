"""Saving and loading: atomic writes, tensors through ``torch.load(weights_only=True)``, JSON.

A saved object is a directory holding ``meta.json`` (configuration, names, statistics, library
version, and the sha256 of every tensor file) and one or more ``*.pt`` tensor files. The directory
is written beside its destination under a temporary name, fsynced, and moved into place. An existing
save there is exchanged with it in one step where the system can (Linux's ``renameat2`` with
``RENAME_EXCHANGE``), so the path always holds one whole save; elsewhere it is moved aside first and
put back if the move fails (a process killed in the instant between those two renames leaves the old
save beside the path as ``.<name>.<random>.old``). Only a previous save or an empty folder is ever
replaced; any other folder is left alone. A read that another save's move overtook (the files of two
saves, or of one being removed) is read again rather than called damaged.

torch is imported only by the functions that handle tensors, so :func:`check_replaceable` and
:func:`read_meta` are cheap to call before a long job (the command line checks paths with them).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import io
import json
import os
import pickle
import re
import secrets
import shutil
import stat
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from tsmamba.errors import CheckpointError, ConfigError

if TYPE_CHECKING:
    import pandas as pd
    import torch

__all__ = [
    "atomic_write_bytes", "check_parents", "check_replaceable", "held_alone", "read_checkpoint",
    "read_meta", "sha256_bytes", "write_checkpoint", "zone_name",
]

META = "meta.json"
FORECASTER_FORMAT = "tsmamba-forecaster"  # meta.json "format" of TSMambaForecaster.save
STREAM_FORMAT = "tsmamba-stream"  # ... of Stream.save
META_DIGEST = "meta_sha256"  # meta.json's digest of the rest of itself
READ_TRIES = 5  # reads of a save that other saves keep replacing meanwhile, before giving up


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zone_name(times: pd.DatetimeIndex) -> str | None:
    """The name a save keeps for the time zone of ``times`` (None when tz-naive).

    It is a name pandas loads back as the same zone: a fixed offset as ``UTC`` or ``UTC+hh:mm``
    whatever it is called (``timezone(+01:00, "CET")`` is not the zone CET, which has DST), a
    dateutil zone read from the tz database as ``dateutil/<key>``, any other zone by its own name
    (``Europe/Paris``) when that loads with the same wall clock at every one of ``times``.
    Raises ValueError for a zone with no such name, and for the machine's local zone
    (``dateutil.tz.tzlocal()``), which would load as the local zone of the loading machine.
    """
    from dateutil import tz as dateutil_tz

    zone = times.tz
    if zone is None:
        return None
    if isinstance(zone, dateutil_tz.tzlocal):
        raise ValueError(
            f"the time zone {zone!r} is this machine's local zone, which has no portable name"
        )
    offset = zone.utcoffset(None)  # a timedelta only for fixed-offset zones
    if offset is not None:
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        candidates = ["UTC" if minutes == 0 else
                      f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"]
    else:
        candidates = [str(zone)]
        filename = getattr(zone, "_filename", None)  # a dateutil tzfile: where it was read from
        if isinstance(filename, str):  # a path into the tz database, or the bare key
            candidates.append("dateutil/" + filename.rsplit("zoneinfo/", 1)[-1])
    wall = times.tz_localize(None)
    for name in candidates:
        try:
            back = times.tz_convert(name)
        except (KeyError, TypeError, ValueError):  # ZoneInfoNotFoundError is a KeyError
            continue
        if back.tz_localize(None).equals(wall):
            return name
    raise ValueError(f"the time zone {zone!r} has no name that loads back as the same zone")


def temp_beside(path: Path, suffix: str = ".tmp", *, folder: bool = False) -> tuple[int | None, Path]:
    """A new file (open for writing: its descriptor) or folder (descriptor None) named
    ``.<name>.<random><suffix>`` beside ``path``, with the mode a plain open() or mkdir() gives
    (0666 / 0777 less the umask), where mkstemp and mkdtemp give 0600 / 0700, which the file or
    folder would keep once moved into place."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}{suffix}"
        try:
            if folder:
                os.mkdir(tmp, 0o777)
                return None, tmp
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:  # named by the path the user gave, not by a name they never saw
            raise type(exc)(exc.errno, exc.strerror, os.fspath(path)) from None
    raise FileExistsError(f"no free temporary name beside {path}")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, fsync, replace).

    A symlink keeps pointing where it did (the file it names is replaced, keeping its mode); a
    device, pipe or descriptor (``/dev/stdout``, ``/proc/self/fd/N``) is appended to, since it
    cannot be replaced (``tsmamba predict --out /dev/stdout >> log`` keeps the log's lines).
    """
    path = Path(path)
    with write_errors_name(path):
        _atomic_write(path, data)


@contextlib.contextmanager
def write_errors_name(path: str | os.PathLike) -> Iterator[None]:
    """OSErrors raised inside that name no file (``write()``'s: "No space left on device", "File
    too large") name ``path``, the file or folder being written, for the user to act on."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or not exc.errno:
            raise
        raise type(exc)(exc.errno, exc.strerror, os.fspath(path)) from exc


def appended_to(path: str | os.PathLike) -> bool:
    """Whether :func:`atomic_write_bytes` appends to ``path`` (a device, pipe or descriptor, which
    cannot be replaced) rather than replacing it."""
    try:
        st = os.stat(path)  # through symlinks
    except OSError:
        st = None
    # /dev/stdout -> the shell's descriptor, even when that is a regular file (`>> log`); a
    # regular file elsewhere under /dev (/dev/shm) is replaced like any other
    special = str(path).startswith(("/proc/", "/dev/fd/", "/dev/std"))
    return special or (st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode))


def _atomic_write(path: Path, data: bytes) -> None:
    if appended_to(path):
        with open(path, "ab") as fh:  # a device, pipe or descriptor cannot be replaced; append:
            # /dev/stdout reopens the shell's file, whose earlier lines must stay
            fh.write(data)
        return
    with replacing(path) as fh:
        fh.write(data)


@contextlib.contextmanager
def replacing(path: str | os.PathLike, *, follow_symlinks: bool = True) -> Iterator[BinaryIO]:
    """A new file beside ``path`` (:func:`temp_beside`), open for writing, that is fsynced and moved
    onto ``path`` when the block ends, and removed when it raises (Ctrl-C included): ``path`` holds
    the old file or the whole new one, never part of one, and nothing is written anywhere else. A
    symlink keeps pointing where it did (the file it names is replaced, keeping its mode); with
    ``follow_symlinks=False`` the link itself is replaced by the new file, as ``os.replace`` does
    (Lightning's ``save_last="link"`` points last.ckpt at a top-k checkpoint, which must stay)."""
    try:
        st = os.stat(path, follow_symlinks=follow_symlinks)
    except OSError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):  # the link goes: the new file gets open()'s mode
        st = None
    # a followed symlink keeps pointing at the file it names
    path = Path(os.path.realpath(path)) if follow_symlinks else Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path)
    try:
        if st is not None:  # a replaced file keeps its mode (a private 0600 output stays private)
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def _write_synced(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to a new file (with permissions ``mode``, else open()'s) and flush it to disk."""
    with open(path, "wb") as fh:
        if mode is not None:
            os.fchmod(fh.fileno(), mode)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _modes_of(folder: Path) -> tuple[int, dict[str, int]] | None:
    """The permissions of ``folder`` and of the files in it (None when it does not exist): what a
    save replacing it keeps."""
    try:
        with os.scandir(folder) as entries:
            files = {e.name: stat.S_IMODE(e.stat().st_mode) for e in entries if e.is_file()}
        return stat.S_IMODE(os.stat(folder).st_mode), files
    except OSError:
        return None


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file's data, or a directory's entries (renames, new files), to disk where the
    platform allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems do not support it
        pass
    finally:
        os.close(fd)


def _previous_save(path: Path, hash_files: bool = True, verified: Mapping[str, Any] | None = None
                   ) -> tuple[dict[str, Any] | None, list[str]]:
    """The metadata of the save directory ``path`` holds: ``{}`` when it is empty, None when it
    holds anything but a save written by :func:`write_checkpoint` (read once: what may be
    replaced, and which kind it is), or one whose tensor files are not those its ``meta.json``
    records (unless ``hash_files`` is False: they were just checked through another path to the
    same folder, or its ``meta.json`` is still ``verified``, a save whose files were just read and
    checked against it); and the files beside such a save that it did not write."""
    names = {entry.name for entry in path.iterdir()}
    if not names:
        return {}, []
    try:
        meta = read_meta(path)
    except (CheckpointError, OSError):  # no meta.json, not one of ours, or unreadable
        return None, []
    files = meta.get("files")
    # written by write_checkpoint: another tool's meta.json may list its folder's files too
    if not str(meta.get("format", "")).startswith("tsmamba-") or not isinstance(files, dict):
        return None, []
    others = sorted(names - {META, *files})
    hash_files = hash_files and (verified is None or meta != verified)  # another save since: hashed
    return (None if others or (hash_files and not _files_intact(path, files)) else meta), others


def _files_intact(path: Path, files: Mapping[str, Any]) -> bool:
    """Whether each of a save's tensor files is in ``path`` with the sha256 its ``meta.json``
    records (a save with a damaged ``weights.pt`` had been replaced without a word)."""
    for name, digest in files.items():
        try:
            with open(path / name, "rb") as fh:
                if hashlib.file_digest(fh, "sha256").hexdigest() != digest:
                    return False
        except OSError:  # missing, a folder in its place, unreadable
            return False
    return True


def check_parents(path: str | os.PathLike) -> Path:
    """``path`` unless the nearest of its parents that exists is a file (``notes.txt/model``),
    where nothing can be written, or a ``..`` follows a folder that does not exist: then
    :class:`CheckpointError` naming it. (``missing/../model`` is no path to the system, but
    ``os.path.realpath``, which saves write through, reads it as ``model``: a save had replaced
    the folder ``model`` without the check of what it held.) ``~`` is the home folder, as the
    data readers read it (a save to ``~/m`` had made a folder named ``~``)."""
    path = Path(path).expanduser()
    parts = path.parts
    for i in (i for i, part in enumerate(parts) if part == ".." and i):
        if not Path(*parts[:i]).exists():
            raise CheckpointError(
                f"{path}: {Path(*parts[:i])} does not exist, so the '..' after it leads nowhere; "
                "give the path without it"
            )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise CheckpointError(f"{path}: {parent} is a file, not a folder; choose another path")
            break
    return path


def check_replaceable(path: str | os.PathLike, kind: str | None = None, *,
                      verified: Mapping[str, Any] | None = None) -> Path:
    """``path`` if :func:`write_checkpoint` may write a save of format ``kind`` there (nothing
    there, an empty folder or a previous save of that format); else :class:`CheckpointError`,
    the one :func:`write_checkpoint` raises. ``verified``: the metadata :func:`read_checkpoint`
    just returned for ``path`` (it checked every tensor file's sha256 against it): while the
    folder's ``meta.json`` is still that, the files are not hashed a second time; any other
    metadata there (another save since) has its files hashed, as without it."""
    return _check_replaceable(path, kind, verified=verified)


def _check_replaceable(path: str | os.PathLike, kind: str | None, hash_files: bool = True,
                       verified: Mapping[str, Any] | None = None) -> Path:
    """:func:`check_replaceable`; ``hash_files=False`` leaves out the hashing of a previous save's
    tensor files, for a folder whose files were just hashed through another path to it."""
    path = check_parents(path)
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"{path} exists and is not a directory; choose another path")
    previous, others = _previous_save(path, hash_files, verified) if path.is_dir() else ({}, [])
    if others:  # a report written beside a model (backtest --out) had made it "not a save, or damaged"
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise CheckpointError(
            f"{path} holds a tsmamba save and other files beside it ({shown}); saving replaces the "
            "whole folder, so it would delete them: move them out, or choose a new path"
        )
    if previous is None:
        raise CheckpointError(
            f"{path} already exists and is not a tsmamba save, or is a damaged one (saving replaces "
            "the whole folder); choose a new path or remove the folder first"
        )
    held = previous.get("format")  # a stream saved into a model's folder deleted the model
    if kind is not None and previous and held != kind:
        raise CheckpointError(
            f"{path} holds a {held} save, and a {kind} save would replace it; choose another path"
        )
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        # the save beside it took its place, and the old one, whose files cannot be removed from
        # a read-only folder, stayed beside it as .<name>.<random>.old, read-only, with no error
        raise CheckpointError(
            f"{path} is read-only (this user may not change what it holds), so it is not replaced; "
            "make it writable (chmod u+w) to save over it, or choose another path"
        )
    return path


@contextlib.contextmanager
def held_alone(path: str | os.PathLike) -> Iterator[None]:
    """Hold the save at ``path`` for this process while the block runs: a second process asking
    for it meanwhile gets :class:`CheckpointError` at once (two runs resuming one saved stream
    would each save over the other's steps, and the last save would silently win).

    The lock is ``fcntl.flock`` on a regular file ``.<name>.lock`` beside the folder (the folder
    itself is replaced by every save), never followed through a symlink, and removed when the
    block ends; the system releases it when a process dies, so a killed run never leaves the
    save locked. The folder's missing parents are created for the lock, and removed again when
    they are still empty at the end (a run that failed before saving leaves no folder).
    Platforms without ``fcntl`` (Windows) take no lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    real = Path(os.path.realpath(check_parents(path)))  # a symlink to the folder shares its lock
    lock = real.parent / f".{real.name}.lock"
    made: list[Path] = []
    try:
        fd = _locked(lock, path, made, fcntl)
    except BaseException:
        remove_empty_folders(made)
        raise
    try:
        if _writable(fd):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)  # while still held: a process that opened it before sees it gone
        os.close(fd)
        remove_empty_folders(made)


def _locked(lock: Path, path: Any, made: list[Path], fcntl: Any) -> int:
    """A descriptor of ``lock`` holding its flock (creating the file, and the missing folders
    above it, which go into ``made``); CheckpointError when another process holds it or the
    file cannot serve as a lock."""
    unusable = f"{path}: its lock file {lock} cannot be used ({{}}); remove it if no run is using {path}"
    # no symlink followed; a FIFO planted there opens without waiting for a writer, then is refused
    flags = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        try:
            made.extend(_make_parents(lock))
        except OSError as exc:
            raise CheckpointError(f"{path}: the folder {lock.parent} cannot be made ({exc.strerror or exc})"
                                  ) from None
        try:
            fd = os.open(lock, flags | os.O_CREAT | os.O_RDWR, 0o666)
        except FileNotFoundError:  # a folder above it removed meanwhile: make it again
            continue
        except PermissionError as exc:  # another user's lock, left by a killed run: reading locks it
            try:
                fd = os.open(lock, flags | os.O_RDONLY)
            except FileNotFoundError:  # none there to remove: the folder is what refuses it
                raise CheckpointError(
                    f"{path}: no lock file can be made in {lock.parent} ({exc.strerror or exc}): this "
                    "user may not write there; make the folder writable, or choose another"
                ) from None
            except OSError:
                raise CheckpointError(unusable.format(exc.strerror or exc)) from None
        except OSError as exc:  # a symlink (ELOOP), a folder
            raise CheckpointError(unusable.format(exc.strerror or exc)) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device named like it
                raise CheckpointError(unusable.format("not a regular file"))
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise CheckpointError(
                f"{path} is in use by another process (pid {holder or 'unknown'}) that saves "
                "there; wait for it to end, or choose another folder"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:  # the holder before may have removed the file between our open and flock
            same = os.path.samestat(os.fstat(fd), os.stat(lock, follow_symlinks=False))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    raise CheckpointError(unusable.format("it kept being removed"))


def _make_parents(file: Path) -> list[Path]:
    """Create the missing folders above ``file``; the ones created, innermost first."""
    missing = missing_folders(file.parent)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
    return missing


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, innermost first: what a write
    into it creates, for :func:`remove_empty_folders` to take away again if the write fails."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove ``folders`` (innermost first) while they are empty: one something else wrote into
    stays, with the folders above it."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (a save went in), or already gone
            break


def _writable(fd: int) -> bool:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY


def compact(t: torch.Tensor) -> torch.Tensor:
    """``t`` contiguous, in storage of its own size: a view keeps its base's whole storage alive,
    and ``torch.save`` writes all of it (the last row of a (4000, 64) buffer took 1 MB)."""
    t = t.contiguous()
    return t if t.untyped_storage().nbytes() == t.numel() * t.element_size() else t.clone()


def _tensor_bytes(tensors: Mapping[str, torch.Tensor]) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({k: compact(v.detach().cpu()) for k, v in tensors.items()}, buf)
    return buf.getvalue()


def write_checkpoint(
    path: str | os.PathLike, meta: Mapping[str, Any], tensors: Mapping[str, Mapping[str, torch.Tensor]]
) -> Path:
    """Write a checkpoint directory atomically: ``path`` never holds a half-written save.

    ``tensors`` maps a file stem (e.g. ``"weights"``) to a name -> tensor mapping. An existing
    ``path`` is replaced only if it is an empty folder or a previous save (its ``meta.json`` lists
    every other file in it); anything else raises :class:`CheckpointError` and is left untouched.
    A previous save is exchanged with the new one in one step (Linux); elsewhere it is moved aside,
    then the new one moved in (put back if that fails), and only a process killed between those
    two renames leaves the previous save beside ``path`` instead.
    A symlinked ``path`` keeps pointing where it did: the save it names is the one replaced.
    """
    try:
        given = check_replaceable(path, meta.get("format"))
        resolved = os.path.realpath(given)  # what is replaced: checked too where a link leads elsewhere,
        same = resolved == os.path.abspath(given)  # but its files not hashed again: the check of the
        # link read them through it (a save through a link to a 100 MB save had hashed them twice)
        real = Path(resolved) if same else _check_replaceable(resolved, meta.get("format"), hash_files=False)
        return _write_checkpoint(given, real, meta, tensors)
    except OSError as exc:  # permissions, a full disk, a name too long: say which save failed
        raise CheckpointError(f"{path}: the save could not be written ({exc}); nothing changed") from exc


def _write_checkpoint(
    given: Path, path: Path, meta: Mapping[str, Any], tensors: Mapping[str, Mapping[str, torch.Tensor]]
) -> Path:
    ours = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{8}}\.(tmp|old)")  # as temp_beside names them
    leftovers = sorted(p.name for p in path.parent.glob(f".{glob.escape(path.name)}.*")
                       if ours.fullmatch(p.name))
    if leftovers:  # each a save-sized copy that no later save removes
        warnings.warn(
            f"{path.parent} holds {leftovers}, temporary folders of saves of {path.name} that were "
            "killed (or are running now); delete them once no save is running",
            UserWarning,
            stacklevel=4,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    # a replaced save (or empty folder) keeps its permissions, and each file its own (a new one
    # the folder's, less execute): a private 0700 save of the training series had become 0755
    previous = _modes_of(path)
    folder_mode, file_modes = previous if previous is not None else (None, {})

    def mode(name: str) -> int | None:
        return file_modes.get(name, None if folder_mode is None else folder_mode & 0o666)

    tmp = old = None
    try:  # from the temporary folder's making to the previous save's removal, a Ctrl-C included
        _, tmp = temp_beside(path, folder=True)
        digests = {}
        for stem, group in tensors.items():
            data = _tensor_bytes(group)
            _write_synced(tmp / f"{stem}.pt", data, mode(f"{stem}.pt"))
            digests[f"{stem}.pt"] = sha256_bytes(data)
        full_meta = json.loads(json.dumps({**meta, "files": digests}, default=str))  # as read back
        full_meta[META_DIGEST] = _meta_digest(full_meta)
        _write_synced(tmp / META, json.dumps(full_meta, indent=1, sort_keys=True).encode(), mode(META))
        if folder_mode is not None:
            os.chmod(tmp, folder_mode)
        fsync_path(tmp)
        inside = _is_cwd(path)  # save(".") from inside the previous save
        # exchanged, the previous save is under tmp's name; else it is moved aside, to old (named
        # first, so that an interrupt between the two renames finds it to put back)
        if not (path.exists() and _exchange(tmp, path)):
            if path.exists():
                old = tmp.with_suffix(".old")
                os.replace(path, old)
            os.replace(tmp, path)
        if inside:  # the process follows its folder's name into the new save, or "." (the removed
            os.chdir(path)  # previous save) would read nothing: load(".") said meta.json is missing
        fsync_path(path.parent)
    except BaseException:
        if old is not None and old.exists() and tmp.exists():  # the new save did not go in
            os.replace(old, path)  # the previous one goes back
        raise
    finally:  # the new save's folder that did not go in, or the previous save it replaced
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and path.exists():  # else putting it back failed: it stays beside path
            shutil.rmtree(old, ignore_errors=True)
    return given


def _is_cwd(path: Path) -> bool:
    """Whether ``path`` is the process's working folder."""
    try:
        return os.path.samestat(os.stat(path), os.stat(os.curdir))
    except OSError:
        return False


def _exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one step (Linux's ``renameat2`` with ``RENAME_EXCHANGE``):
    True when done; False, having changed nothing, where the system, its C library or the file
    system cannot (then a save moves the folders with two renames, which say what is wrong)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library without it (glibc before 2.28)
        return False
    at_cwd, exchange = -100, 2  # AT_FDCWD, RENAME_EXCHANGE
    return renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), exchange) == 0


def _no_permission(file: Path) -> str:
    """A save's file this user may not read: its permissions are the fix, not a new save."""
    return (f"{file} cannot be read: permission denied; check the permissions of {file.parent} "
            "and its files (the save itself may be fine)")


def save_again(kind: str | None) -> str:
    """What to do about a damaged save of format ``kind``."""
    if kind == STREAM_FORMAT:  # the state it held is gone: only the history rebuilds it
        return "warm a new stream on the series' history and save that"
    return "save the model again"


def json_plain(value: Any) -> Any:
    """``json.dumps``' ``default=``: numpy numbers and bools as Python ones; TypeError for the rest
    (a ``datetime64``, whose ``item()`` can be a bare count of nanoseconds, included)."""
    import numpy as np

    if isinstance(value, (np.number, np.bool_)):
        return value.item()
    raise TypeError(f"{value!r} is not a JSON value")


def extra_meta(extra: Mapping[str, Any]) -> dict[str, Any]:
    """A save's ``extra=`` mapping as ``meta.json`` keeps it (numpy scalars as Python numbers);
    ConfigError for what JSON cannot hold (NaN and inf included) and for what it would change
    without a word: a key that is not a string (``1`` loads back as ``"1"``) and a tuple (loads
    back as a list), at any depth."""
    if not isinstance(extra, Mapping):
        raise ConfigError(
            f"save(extra=...) takes a mapping (a dict of JSON values), got {type(extra).__name__}"
        )
    _check_json_faithful(extra, "extra", set())
    try:
        return json.loads(json.dumps(dict(extra), default=json_plain, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"save(extra=...) takes a mapping of JSON values (no NaN or inf): {exc}") from None


def _check_json_faithful(value: Any, where: str, within: set[int]) -> None:
    """ConfigError naming the first key that is not a string, or tuple, in ``value`` (at ``where``);
    ``within``: the ids of the containers around it (a cycle is left for ``json.dumps`` to refuse)."""
    if id(value) in within or not isinstance(value, (Mapping, list, tuple)):
        return
    if isinstance(value, tuple):
        raise ConfigError(
            f"save(extra=...): {where} is a tuple, {value!r:.80}, which JSON would load back as a "
            "list; pass a list"
        )
    within.add(id(value))
    items = value.items() if isinstance(value, Mapping) else enumerate(value)
    for key, item in items:
        if isinstance(value, Mapping) and not isinstance(key, str):
            raise ConfigError(
                f"save(extra=...): the key {key!r} ({type(key).__name__}) in {where} is not a string, "
                f"and JSON keeps only string keys (it would load back as a string); use string keys, "
                f"e.g. {str(key)!r}"
            )
        _check_json_faithful(item, f"{where}[{key!r}]", within)
    within.discard(id(value))


def _meta_digest(meta: Mapping[str, Any]) -> str:
    """sha256 of the metadata but its own digest, as canonical JSON: the tensors' digests are
    in it, so this one covers the whole save."""
    rest = {k: v for k, v in meta.items() if k != META_DIGEST}
    return sha256_bytes(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode())


def read_meta(path: str | os.PathLike, expected: str | None = None) -> dict[str, Any]:
    """The ``meta.json`` of a directory written by :func:`write_checkpoint`, without reading the
    tensors; :class:`CheckpointError` when the folder or its metadata is missing or not a save's,
    or (``expected``) when it holds another ``format`` of save."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"{path} does not exist; check the path, or pass the folder written by save()")
    if not path.is_dir():
        raise CheckpointError(
            f"{path} is not a saved tsmamba directory (expected a folder with {META}); "
            "pass the folder written by save()"
        )
    meta_file = path / META
    try:
        meta = json.loads(meta_file.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{meta_file} is missing: {path} is not a complete tsmamba save") from None
    except PermissionError:
        raise CheckpointError(_no_permission(meta_file)) from None
    except (ValueError, RecursionError, OSError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise CheckpointError(
            f"{meta_file} is corrupt or unreadable ({exc!r:.200}); {save_again(expected)}"
        ) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("files", {}), dict):
        raise CheckpointError(f"{meta_file} is not a tsmamba save's metadata; {save_again(expected)}")
    if META_DIGEST in meta and meta[META_DIGEST] != _meta_digest(meta):  # saves before it have none
        raise CheckpointError(
            f"{meta_file} is damaged or was edited (sha256 mismatch with its {META_DIGEST}): its "
            f"settings (scaling, frequency, columns) cannot be trusted; {save_again(expected)}"
        )
    if expected is not None and meta.get("format") != expected:
        raise CheckpointError(f"{path} holds {meta.get('format')!r}, not a {expected} save")
    return meta


def read_checkpoint(
    path: str | os.PathLike, expected: str | None = None
) -> tuple[dict, dict[str, dict[str, torch.Tensor]]]:
    """Read a directory written by :func:`write_checkpoint` (of format ``expected``, when given);
    verify every file's sha256.

    Raises CheckpointError naming the file when something is missing, truncated or corrupt. A
    read that fails because another save replaced the folder meanwhile (its ``meta.json`` and
    the tensor files of two saves) is tried again, up to ``READ_TRIES`` times, and then says so.
    """
    path = Path(path).expanduser()
    for _ in range(READ_TRIES):
        held = _open_folder(path)
        try:
            return _read_checkpoint(path, expected)
        except CheckpointError:
            if held is None or _still_at(path, held):  # the same folder throughout: it is damaged
                raise
        finally:
            if held is not None:
                os.close(held)
    raise CheckpointError(
        f"{path} was replaced by another save while it was read, {READ_TRIES} times in a row: another "
        "process is saving there; load again when it has finished"
    )


def _open_folder(path: Path) -> int | None:
    """A descriptor of the folder ``path`` (None when there is none, or the platform cannot open
    folders): while it is open, the folder keeps its identity, even once replaced and removed."""
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None


def _still_at(path: Path, fd: int) -> bool:
    """Whether the folder open as ``fd`` is still the one at ``path``."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:  # gone (between a save's two renames)
        return False


def _read_checkpoint(path: Path, expected: str | None) -> tuple[dict, dict[str, dict[str, torch.Tensor]]]:
    import torch

    meta = read_meta(path, expected)
    tensors = {}
    for name, digest in meta.get("files", {}).items():
        file = path / name
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            raise CheckpointError(f"{file} is missing from the save; {save_again(expected)}") from None
        except PermissionError:
            raise CheckpointError(_no_permission(file)) from None
        except OSError as exc:  # a folder in its place
            raise CheckpointError(f"{file} cannot be read ({exc}); {save_again(expected)}") from None
        if sha256_bytes(data) != digest:
            raise CheckpointError(
                f"{file} is truncated or corrupt (sha256 mismatch with {META}); {save_again(expected)}"
            )
        try:
            tensors[name.removesuffix(".pt")] = torch.load(io.BytesIO(data), weights_only=True,
                                                           map_location="cpu")
        except Exception as exc:  # torch raises several types for unreadable files
            raise CheckpointError(unloadable(file, data, exc, save_again(expected))) from exc
    return meta, tensors


def unloadable(file: Path, data: bytes, exc: Exception, fix: str) -> str:
    """Why torch.load(weights_only=True) refused ``file`` (its bytes ``data``, or the first two),
    then ``fix``:
    objects other than tensors (an UnpicklingError naming an unsupported global), or bytes that
    are not a tensor file at all; never torch's advice to load with weights_only=False."""
    # torch: "Unsupported global: GLOBAL pathlib.Path.touch", and for the modules it blocks (os,
    # sys) "Trying to load unsupported GLOBAL posix.system whose module posix is blocked"
    if isinstance(exc, pickle.UnpicklingError) and "unsupported global" in str(exc).lower():
        return (
            f"{file} holds objects other than tensors, which loading refuses (tsmamba's files hold "
            f"tensors and plain values only, read with weights_only=True, so no code in a file runs); {fix}"
        )
    if not data:
        reason = "it is empty"
    elif data.startswith(b"PK"):  # torch's zip format, damaged: torch's first sentence says where
        reason = f"a damaged torch file: {str(exc).split('. ')[0]:.160}"
    else:
        reason = "its bytes are not a torch tensor file"
    return f"{file} cannot be read as tensors ({reason}); {fix}"
