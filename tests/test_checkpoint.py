"""write_checkpoint and read_checkpoint: what a save may replace, keeping the previous save when
replacing fails, and metadata that is not a save's.

(Save/load round trips through the estimator and the stream are in test_estimator.py and
test_streaming.py.)"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from tsmamba import checkpoint
from tsmamba.checkpoint import read_checkpoint, write_checkpoint
from tsmamba.errors import CheckpointError


def save(path: Path, value: float) -> Path:
    return write_checkpoint(path, {"format": "tsmamba-test", "value": value},
                            {"weights": {"w": torch.full((3,), value)}, "extra": {"e": torch.arange(2)}})


def saved_value(path: Path) -> float:
    meta, tensors = read_checkpoint(path)
    assert torch.equal(tensors["weights"]["w"], torch.full((3,), meta["value"]))
    return meta["value"]


def test_replaces_a_previous_save_and_an_empty_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    save(empty, 1.0)
    assert saved_value(empty) == 1.0
    save(empty, 2.0)
    assert saved_value(empty) == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no temporary folders left


@pytest.mark.parametrize("kind", ["user folder", "save with a user file added"])
def test_refuses_to_replace_a_folder_that_is_not_a_save(tmp_path, kind):
    target = tmp_path / "models"
    if kind == "user folder":
        target.mkdir()
    else:
        save(target, 1.0)
    (target / "notes.txt").write_text("months of work")
    before = sorted(p.name for p in target.iterdir())
    with pytest.raises(CheckpointError, match=r"models already exists and is not a tsmamba save.*"
                                              r"choose a new path or remove the folder"):
        save(target, 2.0)
    assert sorted(p.name for p in target.iterdir()) == before
    assert (target / "notes.txt").read_text() == "months of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]


def test_failed_overwrite_keeps_the_previous_save(tmp_path, monkeypatch):
    path = save(tmp_path / "model", 1.0)
    real_replace = os.replace
    calls = []

    def replace_failing_second(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # moving the new save into place, after the old one was moved aside
            raise OSError("simulated failure")
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", replace_failing_second)
    with pytest.raises(OSError, match="simulated failure"):
        save(path, 2.0)
    assert len(calls) == 3  # old aside, new in (failed), old back
    monkeypatch.undo()
    assert saved_value(path) == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.skipif(os.name == "nt", reason="directories cannot be fsynced on Windows")
def test_files_and_folders_are_flushed_to_disk(tmp_path, monkeypatch):
    synced = {"files": 0, "dirs": 0}
    real_fsync = os.fsync

    def counting_fsync(fd):
        synced["dirs" if stat.S_ISDIR(os.fstat(fd).st_mode) else "files"] += 1
        return real_fsync(fd)

    monkeypatch.setattr(checkpoint.os, "fsync", counting_fsync)
    save(tmp_path / "model", 1.0)
    assert synced == {"files": 3, "dirs": 2}  # weights.pt, extra.pt, meta.json; the new folder and its parent


def test_read_rejects_metadata_that_is_not_an_object(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "meta.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="not a tsmamba save's metadata"):
        read_checkpoint(tmp_path / "m")
