"""write_checkpoint and read_checkpoint: what a save may replace, keeping the previous save when
replacing fails, and metadata that is not a save's.

(Save/load round trips through the estimator and the stream are in test_estimator.py and
test_streaming.py.)"""

from __future__ import annotations

import datetime
import hashlib
import inspect
import io
import json
import os
import re
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import dateutil.tz
import numpy as np
import pandas as pd
import pytest
import torch

from tsmamba import checkpoint
from tsmamba.checkpoint import (
    atomic_write_bytes,
    check_replaceable,
    extra_meta,
    held_alone,
    read_checkpoint,
    read_meta,
    write_checkpoint,
    zone_name,
)
from tsmamba.errors import CheckpointError, ConfigError


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


def test_a_symlink_to_a_save_keeps_pointing_at_it(tmp_path):
    save(tmp_path / "v1", 1.0)
    (tmp_path / "current").symlink_to(tmp_path / "v1")
    assert save(tmp_path / "current", 2.0) == tmp_path / "current"
    assert (tmp_path / "current").is_symlink() and saved_value(tmp_path / "v1") == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "v1"]  # no '.old' left beside


def test_a_save_through_a_symlink_hashes_the_previous_saves_files_once(tmp_path, monkeypatch):
    """The check of the link and the check of the folder it names read the same files: a save
    through a link had hashed the previous save's tensor files twice (100 ms each for a 100 MB
    model). A damaged save behind the link is refused as before, named by the link."""
    save(tmp_path / "v1", 1.0)
    (tmp_path / "current").symlink_to(tmp_path / "v1")
    real, hashed = hashlib.file_digest, []

    def counted(fh, digest):
        hashed.append(Path(fh.name).name)
        return real(fh, digest)

    monkeypatch.setattr(hashlib, "file_digest", counted)
    save(tmp_path / "current", 2.0)
    assert sorted(hashed) == ["extra.pt", "weights.pt"]
    assert saved_value(tmp_path / "v1") == 2.0
    weights = tmp_path / "v1" / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:-10])
    before = {p.name: p.read_bytes() for p in (tmp_path / "v1").iterdir()}
    with pytest.raises(CheckpointError, match=r"current already exists and is not a tsmamba save, or is a d"):
        save(tmp_path / "current", 3.0)
    assert {p.name: p.read_bytes() for p in (tmp_path / "v1").iterdir()} == before


def test_check_replaceable_leaves_unhashed_the_files_of_the_save_just_read(tmp_path, monkeypatch):
    """verified= the metadata read_checkpoint just returned (it hashed every file): while the
    folder's meta.json is still that, the files are not hashed again (tsmamba stream --state had
    hashed its state twice at start-up); another save since, damaged, is refused as without it,
    and so are files beside the save and a save of another kind."""
    path = save(tmp_path / "m", 1.0)
    meta, _ = read_checkpoint(path)
    real, hashed = hashlib.file_digest, []

    def counted(fh, digest):
        hashed.append(Path(fh.name).name)
        return real(fh, digest)

    monkeypatch.setattr(hashlib, "file_digest", counted)
    assert check_replaceable(path, "tsmamba-test", verified=meta) == path and hashed == []
    assert check_replaceable(path, "tsmamba-test") == path and sorted(hashed) == ["extra.pt", "weights.pt"]
    save(path, 2.0)  # another save since the read
    weights = path / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=r"m already exists and is not a tsmamba save, or is a damaged"):
        check_replaceable(path, "tsmamba-test", verified=meta)
    save(tmp_path / "n", 1.0)
    meta, _ = read_checkpoint(tmp_path / "n")
    with pytest.raises(CheckpointError, match=r"holds a tsmamba-test save, and a tsmamba-stream save would"):
        check_replaceable(tmp_path / "n", "tsmamba-stream", verified=meta)
    (tmp_path / "n" / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match=r"and other files beside it \(notes.txt\)"):
        check_replaceable(tmp_path / "n", "tsmamba-test", verified=meta)


@pytest.mark.parametrize("kind", ["user folder", "save with a user file added", "another tool's meta.json"])
def test_refuses_to_replace_a_folder_that_is_not_a_save(tmp_path, kind):
    target = tmp_path / "models"
    if kind == "user folder":
        target.mkdir()
    elif kind == "another tool's meta.json":  # it lists the folder's files, as ours does: deleted
        target.mkdir()
        (target / "meta.json").write_text(json.dumps({"name": "mine", "files": {"notes.txt": "md5:0"}}))
    else:
        save(target, 1.0)
    (target / "notes.txt").write_text("months of work")
    before = sorted(p.name for p in target.iterdir())
    message = (r"models holds a tsmamba save and other files beside it \(notes\.txt\); saving replaces the "
               r"whole folder, so it would delete them: move them out, or choose a new path$"
               if kind == "save with a user file added" else  # it had been "not a save, or damaged"
               r"models already exists and is not a tsmamba save.*choose a new path or remove the folder")
    with pytest.raises(CheckpointError, match=message):
        save(target, 2.0)
    assert sorted(p.name for p in target.iterdir()) == before
    assert (target / "notes.txt").read_text() == "months of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "missing"])
def test_a_save_with_a_damaged_tensor_file_is_not_saved_over(tmp_path, damage):
    """Each tensor file is checked against its digest in meta.json, as meta.json against its own:
    a save whose weights.pt was damaged had been replaced without a word."""
    target = save(tmp_path / "model", 1.0)
    weights = target / "weights.pt"
    data = weights.read_bytes()
    if damage == "missing":
        weights.unlink()
    else:
        weights.write_bytes(data[:-1] + bytes([data[-1] ^ 1]) if damage == "corrupt" else data[:-10])
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    with pytest.raises(CheckpointError, match=r"model already exists and is not a tsmamba save, or is a dam"):
        save(target, 2.0)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before


def test_a_save_from_inside_its_folder_leaves_the_process_in_the_new_save(tmp_path, monkeypatch):
    """save(".") inside the save: the folder swap had left the working folder in the removed
    previous save, where load(".") found no meta.json."""
    save(tmp_path / "model", 1.0)
    monkeypatch.chdir(tmp_path / "model")
    assert save(Path("."), 2.0) == Path(".")
    assert Path.cwd() == tmp_path / "model" and saved_value(Path(".")) == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_check_replaceable_is_the_rule_write_checkpoint_applies(tmp_path):
    (tmp_path / "empty").mkdir()
    previous = save(tmp_path / "previous", 1.0)
    for path in (tmp_path / "new", tmp_path / "empty", previous):
        assert check_replaceable(path) == path
    assert not (tmp_path / "new").exists()  # checking creates nothing
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("months of work")
    (tmp_path / "file").write_text("x")
    for path in (user, tmp_path / "file"):
        with pytest.raises(CheckpointError) as checked:
            check_replaceable(path)
        with pytest.raises(CheckpointError) as written:
            save(path, 2.0)
        assert str(checked.value) == str(written.value)
    assert (user / "notes.txt").read_text() == "months of work"


def test_paths_are_checked_without_importing_torch(tmp_path):
    # the command line checks --out and --model with these before the seconds torch takes to load
    save(tmp_path / "model", 1.0)
    code = ("import sys\nfrom tsmamba.checkpoint import check_replaceable, read_meta\n"
            "check_replaceable(sys.argv[1])\nprint(read_meta(sys.argv[1])['value'], 'torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "model")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1.0", "False"]
    assert read_meta(tmp_path / "model") == read_checkpoint(tmp_path / "model")[0]


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl: Windows takes no lock")
def test_a_held_save_refuses_a_second_holder_until_released_or_its_process_dies(tmp_path):
    state = tmp_path / "deep" / "state"  # the parent is created: the lock lies beside the folder
    lock = tmp_path / "deep" / ".state.lock"
    with held_alone(state):
        assert lock.read_text() == f"{os.getpid()}\n"
        link = tmp_path / "link"
        link.symlink_to(state)  # the same folder by another name: the same lock
        for name in (state, link):
            with pytest.raises(CheckpointError) as refused, held_alone(name):
                pass
            assert str(refused.value) == (f"{name} is in use by another process (pid {os.getpid()}) that "
                                          "saves there; wait for it to end, or choose another folder")
        with held_alone(tmp_path / "deep" / "other"):  # a sibling folder is not held
            pass
    assert not lock.exists()
    with held_alone(state):  # released
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom tsmamba.checkpoint import held_alone\n"
         "with held_alone(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)", str(state)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(CheckpointError, match=f"pid {holder.pid}"), held_alone(state):
            pass
    finally:
        holder.kill()  # SIGKILL: no clean-up ran, and the system released the lock
        holder.wait(timeout=60)
        holder.stdout.close()
    assert lock.exists()
    with held_alone(state):
        pass
    assert not lock.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl: Windows takes no lock")
def test_a_lock_in_a_read_only_folder_names_the_folder_not_a_lock_file_to_remove(tmp_path):
    """A fit with a read-only checkpoint_dir (or a stream saved under a read-only folder) was told
    that its lock file "cannot be used (Permission denied); remove it if no run is using" it,
    where there was no lock file: the folder refused to hold one."""
    folder = tmp_path / "ck"
    folder.mkdir(mode=0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("this user may write into read-only folders (root)")
        with pytest.raises(CheckpointError) as refused, held_alone(folder / "last.ckpt"):
            pass
    finally:
        folder.chmod(0o755)
    assert str(refused.value) == (f"{folder / 'last.ckpt'}: no lock file can be made in {folder} (Permission "
                                  "denied): this user may not write there; make the folder writable, or "
                                  "choose another")
    assert list(folder.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl: Windows takes no lock")
def test_a_lock_file_removed_before_it_was_locked_is_not_held(tmp_path, monkeypatch):
    import fcntl

    lock, real_flock, calls = tmp_path / ".state.lock", fcntl.flock, []

    def removed_first(fd, op):  # the holder before ends between this process's open and flock
        calls.append(op)
        if len(calls) == 1:
            lock.unlink()
        return real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", removed_first)
    with held_alone(tmp_path / "state"):  # a lock on the removed file would hold nothing
        assert len(calls) == 2 and lock.read_text() == f"{os.getpid()}\n"
        monkeypatch.setattr(fcntl, "flock", real_flock)
        with pytest.raises(CheckpointError, match="is in use"), held_alone(tmp_path / "state"):
            pass


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl: Windows takes no lock")
def test_a_lock_file_is_never_followed_or_taken_from_something_else(tmp_path, monkeypatch):
    precious = tmp_path / "precious.txt"
    precious.write_text("months of work")
    lock = tmp_path / ".state.lock"
    lock.symlink_to(precious)  # planted by anyone who may write the folder
    unusable = f"{tmp_path / 'state'}: its lock file {lock} cannot be used"
    with pytest.raises(CheckpointError, match="Too many levels of symbolic links") as refused, \
            held_alone(tmp_path / "state"):
        pass
    assert str(refused.value).startswith(unusable) and precious.read_text() == "months of work"
    assert str(refused.value).endswith(f"; remove it if no run is using {tmp_path / 'state'}")
    lock.unlink()
    os.mkfifo(lock)  # opening it for writing does not block; it is no regular file
    with pytest.raises(CheckpointError, match="not a regular file"), held_alone(tmp_path / "state"):
        pass
    lock.unlink()
    lock.write_text("4242\n")  # left by a killed run of another user, whose file this user may only read
    real_open = os.open

    def another_users(path, flags, *mode):
        if path == lock and flags & os.O_ACCMODE != os.O_RDONLY:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *mode)

    monkeypatch.setattr(os, "open", another_users)
    with held_alone(tmp_path / "state"):  # a read-only descriptor takes the lock all the same
        monkeypatch.setattr(os, "open", real_open)
        with pytest.raises(CheckpointError, match="pid 4242"), held_alone(tmp_path / "state"):
            pass
    monkeypatch.setattr(os, "open", another_users)
    lock.unlink(missing_ok=True)  # (removed at the end here, as the folder is this user's)
    os.mkfifo(lock)  # read-only, a FIFO's open would wait for a writer: it is refused at once
    refusals = []

    def take() -> None:
        with pytest.raises(CheckpointError, match="not a regular file") as refused, \
                held_alone(tmp_path / "state"):
            pass
        refusals.append(refused.value)

    import threading

    taker = threading.Thread(target=take, daemon=True)
    taker.start()
    taker.join(timeout=30)
    if taker.is_alive():  # let it go before failing
        os.close(real_open(lock, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("the lock's open waited on a FIFO")
    assert len(refusals) == 1


def test_a_path_through_a_missing_folder_replaces_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text("months of work")
    # the system finds no 'missing/../work'; os.path.realpath, which the save writes through, reads 'work'
    for call in (lambda: save(Path("missing/../work"), 1.0), lambda: check_replaceable("missing/../work")):
        with pytest.raises(CheckpointError) as refused:
            call()
        assert str(refused.value) == ("missing/../work: missing does not exist, so the '..' after it leads "
                                      "nowhere; give the path without it")
    assert [p.name for p in (tmp_path / "work").iterdir()] == ["notes.txt"]
    assert not (tmp_path / "missing").exists()
    assert saved_value(save(Path("work/../model"), 2.0)) == 2.0  # a '..' after a folder that exists


def test_failed_overwrite_keeps_the_previous_save(tmp_path, monkeypatch):
    """Where the saves cannot be exchanged in one step (not Linux, or a file system that cannot),
    the previous one is moved aside and put back when moving the new one in fails."""
    path = save(tmp_path / "model", 1.0)
    monkeypatch.setattr(checkpoint, "_exchange", lambda a, b: False)
    real_replace = os.replace
    calls = []

    def replace_failing_second(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # moving the new save into place, after the old one was moved aside
            raise OSError("simulated failure")
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", replace_failing_second)
    with pytest.raises(CheckpointError, match=r"the save could not be written \(simulated failure\)"):
        save(path, 2.0)
    assert len(calls) == 3  # old aside, new in (failed), old back
    monkeypatch.undo()
    assert saved_value(path) == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def _exchange_works(tmp_path: Path) -> bool:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    try:
        return checkpoint._exchange(tmp_path / "a", tmp_path / "b")
    finally:
        (tmp_path / "a").rmdir()
        (tmp_path / "b").rmdir()


def test_an_overwrite_leaves_a_whole_save_at_the_path_at_every_step(tmp_path, monkeypatch):
    """Linux exchanges the new save and the previous one in one step: a load at any step of the
    overwrite finds a whole save (between the two renames of the fallback, the path was gone)."""
    if not _exchange_works(tmp_path):
        pytest.skip("no renameat2 RENAME_EXCHANGE here")
    path = save(tmp_path / "model", 1.0)
    seen = []

    def loading_first(step):
        def step_after_a_load(*args):
            seen.append(saved_value(path))  # raises CheckpointError where no whole save is there
            return step(*args)
        return step_after_a_load

    monkeypatch.setattr(checkpoint.os, "replace", loading_first(os.replace))
    monkeypatch.setattr(checkpoint, "_exchange", loading_first(checkpoint._exchange))
    save(path, 2.0)
    assert seen == [1.0]  # one step, with the previous save in place before it
    assert saved_value(path) == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # the previous one removed


@pytest.mark.parametrize("exchange", [True, False], ids=["exchanged", "two renames"])
def test_a_save_interrupted_at_any_line_leaves_one_whole_save_and_nothing_beside_it(tmp_path, monkeypatch,
                                                                                   exchange):
    """Ctrl-C (or the CLI's SIGTERM, raised the same way) before any line of the save: the path
    holds the previous save or the new one, whole, and no temporary folder is left beside it. It
    had left the previous save as .model.<hex>.tmp when it came after the exchange (while the
    folder was flushed or the previous save removed), the new save's folder when it came just
    after that folder was made, and, moving with two renames, no save at the path when it came
    between them. (Not in the clause that removes the folder left over: an interrupt there
    stops its removal, as one during a file's removal would.)"""
    if exchange and not _exchange_works(tmp_path):
        pytest.skip("no renameat2 RENAME_EXCHANGE here")
    if not exchange:
        monkeypatch.setattr(checkpoint, "_exchange", lambda a, b: False)
    body = checkpoint._write_checkpoint.__code__
    source, first = inspect.getsourcelines(checkpoint._write_checkpoint)
    cleanup = first + next(i for i, text in enumerate(source) if text.strip().startswith("finally:"))
    line = 0
    while True:
        line += 1
        folder = tmp_path / str(line)
        path = save(folder / "model", 1.0)
        seen = 0

        def interrupt(frame, event, arg, line=line):
            nonlocal seen
            if frame.f_code is body and event == "line" and frame.f_lineno < cleanup:
                seen += 1
                if seen == line:
                    raise KeyboardInterrupt
            return interrupt

        def tracing(frame, event, arg):
            return interrupt if frame.f_code is body else None

        sys.settrace(tracing)
        try:
            save(path, 2.0)
        except KeyboardInterrupt:
            interrupted = True
        else:
            interrupted = False
        finally:
            sys.settrace(None)
        assert saved_value(path) in (1.0, 2.0), line
        assert sorted(p.name for p in folder.iterdir()) == ["model"], line
        if not interrupted:  # past the last line
            assert saved_value(path) == 2.0
            break
    assert line > 10


def _saving_after_reads(monkeypatch, path: Path, saves: int) -> list[float]:
    """Make each of the first ``saves`` reads of ``path``'s meta.json by a load followed by a save
    of the next value there, as another process's; the values the load read."""
    real_read_meta = checkpoint.read_meta
    reads: list[float] = []
    saving = []

    def racing_read_meta(*args):
        meta = real_read_meta(*args)
        if not saving:  # the save's own look at what it replaces is no load
            reads.append(meta["value"])
            if len(reads) <= saves:
                saving.append(True)
                save(path, meta["value"] + 1)
                saving.clear()
        return meta

    monkeypatch.setattr(checkpoint, "read_meta", racing_read_meta)
    return reads


@pytest.mark.parametrize("exchange", [True, False], ids=["exchanged", "two renames"])
def test_a_load_racing_a_save_reads_the_new_save_not_a_corrupt_one(tmp_path, monkeypatch, exchange):
    """A save replacing the folder after a load read its meta.json (the load then read the new
    save's weights.pt, and called it truncated or corrupt) is read again, whole."""
    if not exchange:
        monkeypatch.setattr(checkpoint, "_exchange", lambda a, b: False)
    path = save(tmp_path / "model", 1.0)
    reads = _saving_after_reads(monkeypatch, path, 1)
    assert saved_value(path) == 2.0
    assert reads == [1.0, 2.0]


def test_a_load_overtaken_by_a_save_at_every_try_says_another_process_is_saving(tmp_path, monkeypatch):
    path = save(tmp_path / "model", 1.0)
    reads = _saving_after_reads(monkeypatch, path, 100)
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    assert str(info.value) == (f"{path} was replaced by another save while it was read, 5 times in a row: "
                               "another process is saving there; load again when it has finished")
    assert reads == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_a_damaged_save_is_read_once_not_again_as_if_a_save_overtook_it(tmp_path, monkeypatch):
    path = save(tmp_path / "model", 1.0)
    (path / "weights.pt").write_bytes((path / "weights.pt").read_bytes()[:-10])
    real_read_meta = checkpoint.read_meta
    reads = []
    monkeypatch.setattr(checkpoint, "read_meta", lambda *args: reads.append(1) or real_read_meta(*args))
    with pytest.raises(CheckpointError, match=r"weights\.pt is truncated or corrupt"):
        read_checkpoint(path)
    assert reads == [1]


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
    for bad in ("1" * 5000, "[" * 200_000):  # int digits limit, nesting: a ValueError, a RecursionError
        (tmp_path / "m" / "meta.json").write_text(bad)
        with pytest.raises(CheckpointError, match=r"meta\.json is corrupt or unreadable"):
            read_checkpoint(tmp_path / "m")
    (tmp_path / "m" / "meta.json").unlink()
    (tmp_path / "m" / "meta.json").mkdir()  # IsADirectoryError
    with pytest.raises(CheckpointError, match=r"meta\.json is corrupt or unreadable"):
        read_checkpoint(tmp_path / "m")
    save(tmp_path / "w", 1.0)
    (tmp_path / "w" / "weights.pt").unlink()
    (tmp_path / "w" / "weights.pt").mkdir()
    with pytest.raises(CheckpointError, match=r"weights\.pt cannot be read"):
        read_checkpoint(tmp_path / "w")


def test_a_save_of_another_kind_is_not_replaced(tmp_path):
    """A stream saved into a model's folder deleted the model without a word."""
    save(tmp_path / "model", 1.0)  # format "tsmamba-test"
    with pytest.raises(CheckpointError, match="holds a tsmamba-test save, and a tsmamba-other save would"):
        write_checkpoint(tmp_path / "model", {"format": "tsmamba-other"}, {"w": {"w": torch.zeros(1)}})
    assert saved_value(tmp_path / "model") == 1.0
    with pytest.raises(CheckpointError, match="holds a tsmamba-test save"):
        check_replaceable(tmp_path / "model", "tsmamba-forecaster")  # what `tsmamba fit --out` asks


def test_a_save_that_cannot_be_written_says_which_and_leftovers_are_named(tmp_path):
    for length in (250, 300):  # the temporary name adds 14 characters; 300 fails at the first look
        with pytest.raises(CheckpointError, match=r"the save could not be written .*File name too long"):
            save(tmp_path / ("m" * length), 1.0)
    save(tmp_path / "m", 1.0)
    (tmp_path / ".m.v2.0badcafe.tmp").mkdir()  # another save's (of "m.v2"): not named
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save(tmp_path / "m", 2.0)
    (tmp_path / ".m.0badcafe.tmp").mkdir()  # as a killed save leaves it
    with pytest.warns(UserWarning, match=r"\['.m.0badcafe.tmp'\], temporary folders of saves of m that"):
        save(tmp_path / "m", 3.0)
    assert saved_value(tmp_path / "m") == 3.0


@pytest.mark.parametrize(
    ("zone", "name"),
    [
        (None, None),
        ("Europe/Paris", "Europe/Paris"),
        (dateutil.tz.gettz("Europe/Paris"), "dateutil/Europe/Paris"),
        (dateutil.tz.tzutc(), "UTC"),
        # a fixed offset named like a zone with DST is saved as the offset, not as that zone
        (datetime.timezone(datetime.timedelta(hours=1), "CET"), "UTC+01:00"),
        (dateutil.tz.tzoffset(None, -5400), "UTC-01:30"),
        (datetime.timezone(datetime.timedelta(hours=5, minutes=45)), "UTC+05:45"),
    ],
)
def test_zone_name_loads_back_with_the_same_wall_clock(zone, name, request):
    if isinstance(zone, dateutil.tz.tzfile):
        request.getfixturevalue("dateutil_zones")
    utc = pd.date_range("2024-03-25", periods=24 * 14, freq="h", tz="UTC")  # crosses a DST change
    times = utc.tz_localize(None) if zone is None else utc.tz_convert(zone)
    assert zone_name(times) == name
    if name is not None:
        back = utc.tz_convert(name)
        assert back.tz_localize(None).equals(times.tz_localize(None))


def test_zone_name_rejects_a_zone_with_no_loadable_name_and_the_local_zone(dateutil_zones):
    utc = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    paris_file = Path(dateutil.tz.gettz("Europe/Paris")._filename)  # where dateutil found it
    in_memory = dateutil.tz.tzfile(io.BytesIO(paris_file.read_bytes()))
    with pytest.raises(ValueError, match="no name that loads back"):  # a zone read from bytes
        zone_name(utc.tz_convert(in_memory))
    with pytest.raises(ValueError, match="local zone"):  # would load as the loader's local zone
        zone_name(utc.tz_convert(dateutil.tz.tzlocal()))


def test_a_save_gets_the_mode_of_a_new_folder(tmp_path):
    """mkdtemp makes the staging folder 0700; the save used to keep that mode."""
    mask = os.umask(0o022)
    try:
        (tmp_path / "plain").mkdir()
        saved = save(tmp_path / "saved", 1.0)
    finally:
        os.umask(mask)
    assert stat.S_IMODE(saved.stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o755


def test_a_replaced_save_keeps_its_permissions(tmp_path):
    """helper-127: a save is built in a new folder and moved in, so a private (0700, files 0600)
    save of the training series became 0755 / 0644 at its next save, and so did an empty 0700
    folder saved into. The folder keeps its mode, each file its own, a new file the folder's."""
    mask = os.umask(0o022)
    try:
        (tmp_path / "private").mkdir(mode=0o700)
        first = save(tmp_path / "private", 1.0)
        assert stat.S_IMODE(first.stat().st_mode) == 0o700
        assert {stat.S_IMODE(f.stat().st_mode) for f in first.iterdir()} == {0o600}
        (first / "meta.json").chmod(0o640)  # one file opened up on purpose stays so
        second = save(first, 2.0)
    finally:
        os.umask(mask)
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in second.iterdir()}
    assert stat.S_IMODE(second.stat().st_mode) == 0o700 and modes.pop("meta.json") == 0o640
    assert set(modes.values()) == {0o600}
    assert saved_value(second) == 2.0


def test_a_read_only_save_is_not_replaced(tmp_path):
    """A save over a read-only (0555) save moved it aside and put the new one in its place, then
    left the old one beside it as .m.<random>.old, whose files cannot be removed from a read-only
    folder (the removal's errors were ignored); the next save named it as a killed save's."""
    saved = save(tmp_path / "m", 1.0)
    saved.chmod(0o555)
    try:
        if os.access(saved, os.W_OK):
            pytest.skip("this user may write into read-only folders (root)")
        for attempt in (lambda: save(saved, 2.0), lambda: check_replaceable(saved, "tsmamba-test")):
            with pytest.raises(CheckpointError, match=r"/m is read-only \(this user may not change what it "
                               r"holds\), so it is not replaced; make it writable \(chmod u\+w\)"):
                attempt()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m"] and saved_value(saved) == 1.0
    finally:
        saved.chmod(0o755)
    assert saved_value(save(saved, 2.0)) == 2.0  # writable again: replaced


def test_a_save_to_a_path_under_home_goes_to_the_home_folder(tmp_path, monkeypatch):
    """helper-127: save('~/m') had made a folder named '~' in the working folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "home").mkdir()
    written = save("~/m", 3.0)
    assert written == tmp_path / "home" / "m" and not (tmp_path / "~").exists()
    assert saved_value("~/m") == 3.0 and read_meta("~/m")["value"] == 3.0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux) to fail a write")
def test_a_failed_write_names_the_file(tmp_path):
    """write() errors carry no file name: the CLI printed a bare 'No space left on device'.
    Written through a link of the test's own: code that replaced instead of appending would
    replace the link, never the device (helper-147's mutant, run as root, had replaced /dev/full)."""
    link = tmp_path / "full"
    link.symlink_to("/dev/full")
    with pytest.raises(OSError, match="No space left on device") as info:
        atomic_write_bytes(link, b"x" * 100_000)
    assert info.value.filename == str(link)


def test_atomic_writes_keep_symlinks_write_into_devices_and_get_a_plain_file_mode(tmp_path):
    """mkstemp made every written file 0600 and the rename replaced a symlink (or, as root,
    /dev/null itself) with a regular file."""
    mask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "f.csv", b"a")
        target = tmp_path / "real.csv"
        target.write_bytes(b"old")
        (tmp_path / "link.csv").symlink_to(target)
        atomic_write_bytes(tmp_path / "link.csv", b"new")
        pipe = tmp_path / "pipe"  # like /dev/stdout: written to, not replaced
        os.mkfifo(pipe)
        reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
        try:
            atomic_write_bytes(pipe, b"through")
            assert os.read(reader, 100) == b"through"
        finally:
            os.close(reader)
    finally:
        os.umask(mask)
    log = tmp_path / "log.txt"  # /dev/stdout of `... >> log.txt`: the shell's descriptor
    log.write_bytes(b"earlier\n")
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        inode = log.stat().st_ino
        atomic_write_bytes(f"/proc/self/fd/{fd}", b"forecast\n")
    finally:
        os.close(fd)
    assert log.read_bytes() == b"earlier\nforecast\n" and log.stat().st_ino == inode
    private = tmp_path / "private.csv"
    private.write_bytes(b"old")
    private.chmod(0o600)
    atomic_write_bytes(private, b"new")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "f.csv").stat().st_mode) == 0o644
    assert (tmp_path / "link.csv").is_symlink() and target.read_bytes() == b"new"
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "f.csv", "link.csv", "log.txt", "pipe", "private.csv", "real.csv"]


@pytest.mark.skipif(not os.access("/dev/shm", os.W_OK), reason="no writable /dev/shm here")
def test_a_regular_file_under_dev_is_replaced_not_appended_to(tmp_path):
    path = Path("/dev/shm") / f"tsmamba-test-{os.getpid()}.csv"
    try:
        atomic_write_bytes(path, b"date,OT\n2024-01-01,1.0\n")
        atomic_write_bytes(path, b"date,OT\n2024-01-02,2.0\n")  # it was appended to
        assert path.read_bytes() == b"date,OT\n2024-01-02,2.0\n"
    finally:
        path.unlink(missing_ok=True)


def test_a_view_is_saved_as_its_own_values_not_its_whole_storage(tmp_path):
    """torch.save writes a view's whole storage: the last row of a (4000, 64) buffer took 1 MB."""
    buffer = torch.randn(4000, 64)
    path = write_checkpoint(tmp_path / "v", {"format": "tsmamba-test"},
                            {"t": {"last": buffer[-1], "column": buffer[:2, 3]}})
    assert sum(p.stat().st_size for p in path.iterdir()) < 8_000
    _, tensors = read_checkpoint(path)
    assert torch.equal(tensors["t"]["last"], buffer[-1])
    assert torch.equal(tensors["t"]["column"], buffer[:2, 3])


def test_write_errors_name_the_path_given_not_a_temporary_name(tmp_path, monkeypatch):
    """A folder that refused the temporary file had been named by it ('.p.csv.a4fac314.tmp')."""
    real_open = os.open

    def refused(path, *args, **kwargs):
        if Path(path).name.startswith(".p.csv."):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(checkpoint.os, "open", refused)
    with pytest.raises(PermissionError) as caught:
        atomic_write_bytes(tmp_path / "p.csv", b"x")
    assert caught.value.filename == str(tmp_path / "p.csv") and caught.value.errno == 13
    with pytest.raises(CheckpointError, match=r"could not be written .*File name too long: '.*/m{250}'\)"):
        save(tmp_path / ("m" * 250), 1.0)  # the temporary name adds the characters too many


def test_an_unreadable_save_says_to_check_permissions_not_to_save_again(tmp_path, monkeypatch):
    save(tmp_path / "m", 1.0)
    real_read_text, real_read_bytes = Path.read_text, Path.read_bytes

    def denied(real):
        def read(self, *args, **kwargs):
            if self.parent == tmp_path / "m":
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *args, **kwargs)
        return read

    monkeypatch.setattr(Path, "read_text", denied(real_read_text))
    with pytest.raises(CheckpointError, match=r"m/meta.json cannot be read: permission denied; check the "
                       r"permissions of .*/m and its files \(the save itself may be fine\)$"):
        read_meta(tmp_path / "m")
    monkeypatch.setattr(Path, "read_text", real_read_text)
    monkeypatch.setattr(Path, "read_bytes", denied(real_read_bytes))
    with pytest.raises(CheckpointError, match=r"m/(weights|extra).pt cannot be read: permission denied"):
        read_checkpoint(tmp_path / "m")


class _Planted:
    """What a tampered save could carry: unpickling it would write a file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


class _PlantedCommand:
    """... or run a shell command: os.system, whose module torch's loader blocks outright."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("planted", [_Planted, _PlantedCommand], ids=["class", "blocked-module"])
def test_a_save_holding_pickled_objects_is_refused_without_running_them(tmp_path, planted):
    """weights_only=True loading: a weights file re-digested to match meta.json but holding an
    object is refused, its code never runs, and the message does not pass on torch's advice to
    load with weights_only=False (helper-127). An object of a module torch blocks (os, sys) had
    been called a damaged torch file, as torch words that refusal otherwise."""
    path = save(tmp_path / "s", 1.0)
    buffer = io.BytesIO()
    torch.save({"w": planted(str(tmp_path / "ran"))}, buffer)
    data = buffer.getvalue()
    (path / "weights.pt").write_bytes(data)
    meta = json.loads((path / "meta.json").read_text())
    meta["files"]["weights.pt"] = checkpoint.sha256_bytes(data)
    meta[checkpoint.META_DIGEST] = checkpoint._meta_digest(meta)
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"weights.pt holds objects other than tensors, which loading "
                       r"refuses .*; save the model again$") as info:
        read_checkpoint(path)
    assert "weights_only set to False" not in str(info.value) and not (tmp_path / "ran").exists()


# --- pinned by mutation round 7 ---


def _rewrite_tensor_file(path: Path, name: str, data: bytes) -> None:
    """Replace the save's tensor file ``name`` by ``data`` with its digests made to match, as a
    file written by something else would be: the checks after the digests see it."""
    (path / name).write_bytes(data)
    meta = json.loads((path / "meta.json").read_text())
    meta["files"][name] = checkpoint.sha256_bytes(data)
    meta[checkpoint.META_DIGEST] = checkpoint._meta_digest(meta)
    (path / "meta.json").write_text(json.dumps(meta))


def _damage(path: Path, kind: str) -> Path:
    """Damage the save at ``path``; the file the error should name."""
    meta_file, weights = path / "meta.json", path / "weights.pt"
    if kind == "corrupt json":
        meta_file.write_text("{")
    elif kind == "not an object":
        meta_file.write_text("[1, 2]")
    elif kind == "edited":
        meta_file.write_text(meta_file.read_text().replace('"value": 1.0', '"value": 2.0'))
    elif kind == "missing tensor file":
        weights.unlink()
    elif kind == "folder in its place":
        weights.unlink()
        weights.mkdir()
    elif kind == "truncated":
        weights.write_bytes(weights.read_bytes()[:-10])
    else:  # "pickled object"
        buffer = io.BytesIO()
        torch.save({"w": _Planted(str(path.parent / "ran"))}, buffer)
        _rewrite_tensor_file(path, "weights.pt", buffer.getvalue())
    return meta_file if kind in ("corrupt json", "not an object", "edited") else weights


@pytest.mark.parametrize("kind", ["corrupt json", "not an object", "edited", "missing tensor file",
                                  "folder in its place", "truncated", "pickled object"])
@pytest.mark.parametrize(("fmt", "advice"), [
    (checkpoint.STREAM_FORMAT, "warm a new stream on the series' history and save that"),
    (checkpoint.FORECASTER_FORMAT, "save the model again"),
])
def test_a_damaged_save_names_its_file_and_the_fix_for_its_kind(tmp_path, kind, fmt, advice):
    """A stream's state cannot be saved again once its save is damaged: only its history rebuilds
    it, and every damage of a stream save says so (a model's says to save it again)."""
    path = write_checkpoint(tmp_path / "s", {"format": fmt, "value": 1.0}, {"weights": {"w": torch.ones(3)}})
    damaged = _damage(path, kind)
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path, fmt)
    assert str(info.value).startswith(str(damaged)) and str(info.value).endswith(advice)


def test_a_save_of_another_format_is_refused_when_read(tmp_path):
    """Reading with ``expected`` (what TSMambaForecaster.load and Stream.load ask for) refuses
    a save of another format by name, before any tensor is read."""
    path = write_checkpoint(tmp_path / "s", {"format": checkpoint.STREAM_FORMAT},
                            {"state": {"w": torch.ones(3)}})
    message = f"{path} holds 'tsmamba-stream', not a tsmamba-forecaster save"
    for read in (read_meta, read_checkpoint):
        with pytest.raises(CheckpointError) as info:
            read(path, checkpoint.FORECASTER_FORMAT)
        assert str(info.value) == message
    assert read_checkpoint(path, checkpoint.STREAM_FORMAT)[0]["format"] == "tsmamba-stream"


def test_the_metadata_digest_is_the_sha256_of_the_rest_as_canonical_json(tmp_path):
    """A save written now must load in later versions: its digest is sha256 over the metadata
    less the digest itself, keys sorted, no spaces, the tensor files' sha256 included (so a
    damaged file digest in meta.json is the metadata's damage, not the tensor file's)."""
    path = save(tmp_path / "m", 1.0)
    meta = json.loads((path / "meta.json").read_text())
    rest = {k: v for k, v in meta.items() if k != "meta_sha256"}
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":")).encode()
    assert meta["meta_sha256"] == hashlib.sha256(canonical).hexdigest()
    assert rest["files"] == {name: hashlib.sha256((path / name).read_bytes()).hexdigest()
                             for name in ("weights.pt", "extra.pt")}
    meta["files"]["weights.pt"] = "0" * 64
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"m/meta.json is damaged or was edited \(sha256 mismatch"):
        read_checkpoint(path)


def test_metadata_values_that_are_not_json_are_saved_as_their_text(tmp_path):
    path = write_checkpoint(tmp_path / "p", {"format": "tsmamba-test", "where": Path("data/ETTh1.csv")},
                            {"w": {"w": torch.zeros(1)}})
    assert read_meta(path)["where"] == str(Path("data/ETTh1.csv"))


def test_metadata_whose_files_are_not_a_mapping_is_not_a_save(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "weights.pt").write_bytes(b"")
    (tmp_path / "m" / "meta.json").write_text(json.dumps({"format": "tsmamba-test", "files": ["weights.pt"]}))
    for read in (read_meta, read_checkpoint):
        with pytest.raises(CheckpointError, match=r"m/meta.json is not a tsmamba save's metadata; save the"):
            read(tmp_path / "m")


def test_a_file_given_as_a_save_is_named_as_no_save_directory(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"weights")
    with pytest.raises(CheckpointError) as info:
        read_meta(tmp_path / "model.pt")
    assert str(info.value) == (f"{tmp_path / 'model.pt'} is not a saved tsmamba directory (expected a "
                               "folder with meta.json); pass the folder written by save()")
    with pytest.raises(CheckpointError) as info:  # it had been "not a saved tsmamba directory" too
        read_meta(tmp_path / "no_such_model")
    assert str(info.value) == (f"{tmp_path / 'no_such_model'} does not exist; check the path, or pass the "
                               "folder written by save()")


def test_unreadable_metadata_keeps_where_the_json_broke(tmp_path):
    path = save(tmp_path / "m", 1.0)
    (path / "meta.json").write_text('{"format": "tsmamba-test",\n "value": }')
    with pytest.raises(CheckpointError, match=r"meta.json is corrupt or unreadable \(JSONDecodeError\("
                       r"'Expecting value: line 2 column 11 \(char 37\)'\)\); save the model again$"):
        read_meta(path)


@pytest.mark.parametrize("damage, reason", [
    (lambda data: data[:-30], "a damaged torch file: PytorchStreamReader failed reading zip archive: "
                              "failed finding central directory"),  # no zip directory
    (lambda data: b"", "it is empty"),
    (lambda data: bytes(range(256)), "its bytes are not a torch tensor file"),  # not "objects"
    (lambda data: b"w,1.5\n", "its bytes are not a torch tensor file"),
])
def test_a_tensor_file_torch_cannot_read_is_named_with_why(tmp_path, damage, reason):
    path = save(tmp_path / "s", 1.0)
    _rewrite_tensor_file(path, "weights.pt", damage((path / "weights.pt").read_bytes()))
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    file = path / "weights.pt"
    assert str(info.value) == f"{file} cannot be read as tensors ({reason}); save the model again"


def test_leftovers_of_a_save_killed_between_its_renames_are_named_too(tmp_path):
    """A save killed after moving the previous one aside leaves it as .<name>.<random>.old."""
    save(tmp_path / "m", 1.0)
    (tmp_path / ".m.0badcafe.old").mkdir()
    with pytest.warns(UserWarning, match=r"\['.m.0badcafe.old'\], temporary folders of saves of m that"):
        save(tmp_path / "m", 2.0)


def test_the_leftover_warning_points_at_the_line_that_asked_for_the_save(tmp_path):
    """stacklevel: the warning names the caller of the function that saves (here ``save``, as
    TSMambaForecaster.save or Stream.save), not tsmamba's own lines."""
    save(tmp_path / "m", 1.0)
    (tmp_path / ".m.0badcafe.tmp").mkdir()
    with pytest.warns(UserWarning, match="temporary folders") as caught:
        line = inspect.currentframe().f_lineno + 1
        save(tmp_path / "m", 2.0)
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)


def test_a_save_that_cannot_be_written_is_named_by_the_path_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError) as info:
        save(Path("m" * 250), 1.0)
    assert str(info.value).startswith("m" * 250 + ": the save could not be written (")
    assert str(info.value).endswith("); nothing changed")


def test_a_dotdot_after_a_file_names_the_file(tmp_path, monkeypatch):
    """'notes.txt/..' leads nowhere because notes.txt is a file, not because it is missing."""
    monkeypatch.chdir(tmp_path)
    Path("notes.txt").write_text("months of work")
    for path in ("notes.txt/../model", "notes.txt/model"):
        with pytest.raises(CheckpointError) as info:
            check_replaceable(path)
        assert str(info.value) == f"{path}: notes.txt is a file, not a folder; choose another path"
    assert Path("notes.txt").read_text() == "months of work"


def test_the_refusal_to_replace_a_folder_names_it_and_both_ways_out(tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text("months of work")
    with pytest.raises(CheckpointError) as info:
        check_replaceable(tmp_path / "work")
    assert str(info.value) == (f"{tmp_path / 'work'} already exists and is not a tsmamba save, or is a "
                               "damaged one (saving replaces the whole folder); choose a new path or remove "
                               "the folder first")


# --- pinned by mutation round 9 (this session's changes) ---


def test_a_one_byte_tensor_file_is_bytes_that_are_no_tensor_file_not_an_empty_one(tmp_path):
    path = save(tmp_path / "s", 1.0)
    _rewrite_tensor_file(path, "weights.pt", b"x")
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    assert str(info.value) == (f"{path / 'weights.pt'} cannot be read as tensors (its bytes are not a torch "
                               "tensor file); save the model again")


def test_extra_is_kept_as_given_or_refused_naming_what_json_would_change():
    """JSON turns a key 1 into "1" and a tuple into a list without a word: save(extra=...)
    refuses them, naming where they are, rather than read back another mapping."""
    given = {"read": {"sep": ";", "columns": ["a", "b"]}, "n": np.int64(3), "note": None}
    assert extra_meta(given) == {"read": {"sep": ";", "columns": ["a", "b"]}, "n": 3, "note": None}
    for extra, message in [
        ({1: 2}, "the key 1 (int) in extra is not a string, and JSON keeps only string keys (it would "
                 "load back as a string); use string keys, e.g. '1'"),
        ({"read": {"columns": [{True: "a"}]}}, "the key True (bool) in extra['read']['columns'][0] is not"),
        ({"shape": (3, 4)}, "extra['shape'] is a tuple, (3, 4), which JSON would load back as a list; "
                            "pass a list"),
    ]:
        with pytest.raises(ConfigError) as info:
            extra_meta(extra)
        assert str(info.value).startswith("save(extra=...): " + message)
    looped: dict = {}
    looped["self"] = looped  # refused by json.dumps, not a RecursionError
    for extra, why in [({"ids": {1, 2}}, "{1, 2} is not a JSON value"),
                       ({"t": np.datetime64("2020-01-01T00:00:00.000000000")}, "is not a JSON value"),
                       (looped, "Circular reference detected")]:
        with pytest.raises(ConfigError, match=re.escape(why)):
            extra_meta(extra)
    with pytest.raises(ConfigError, match=r"takes a mapping \(a dict of JSON values\), got list"):
        extra_meta([("a", 1)])
