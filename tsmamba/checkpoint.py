"""Saving and loading: atomic writes, tensors through ``torch.load(weights_only=True)``, JSON.

A saved object is a directory holding ``meta.json`` (configuration, names, statistics, library
version, and the sha256 of every tensor file) and one or more ``*.pt`` tensor files. The directory
is written beside its destination under a temporary name and moved into place with ``os.replace``,
so a crash leaves either the old directory or the new one, never a half-written one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from tsmamba.errors import CheckpointError

__all__ = ["atomic_write_bytes", "read_checkpoint", "sha256_bytes", "write_checkpoint"]

META = "meta.json"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, fsync, replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _tensor_bytes(tensors: Mapping[str, torch.Tensor]) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, buf)
    return buf.getvalue()


def write_checkpoint(
    path: str | os.PathLike, meta: Mapping[str, Any], tensors: Mapping[str, Mapping[str, torch.Tensor]]
) -> Path:
    """Write a checkpoint directory atomically.

    ``tensors`` maps a file stem (e.g. ``"weights"``) to a name -> tensor mapping.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"{path} exists and is not a directory; choose another path")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        digests = {}
        for stem, group in tensors.items():
            data = _tensor_bytes(group)
            (tmp / f"{stem}.pt").write_bytes(data)
            digests[f"{stem}.pt"] = sha256_bytes(data)
        full_meta = dict(meta)
        full_meta["files"] = digests
        (tmp / META).write_text(json.dumps(full_meta, indent=1, sort_keys=True, default=str))
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict[str, dict[str, torch.Tensor]]]:
    """Read a directory written by :func:`write_checkpoint`; verify every file's sha256.

    Raises CheckpointError naming the file when something is missing, truncated or corrupt.
    """
    path = Path(path)
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
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{meta_file} is corrupt ({exc}); save the model again") from None
    tensors = {}
    for name, digest in meta.get("files", {}).items():
        file = path / name
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            raise CheckpointError(f"{file} is missing from the save; save the model again") from None
        if sha256_bytes(data) != digest:
            raise CheckpointError(
                f"{file} is truncated or corrupt (sha256 mismatch with {META}); save the model again"
            )
        try:
            tensors[name.removesuffix(".pt")] = torch.load(io.BytesIO(data), weights_only=True,
                                                           map_location="cpu")
        except Exception as exc:  # torch raises several types for unreadable files
            raise CheckpointError(f"{file} cannot be read as tensors: {exc}") from None
    return meta, tensors
