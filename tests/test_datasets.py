"""tsmamba.datasets: registry, lookup, checksums, offline downloads, synthetic data."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import os
import re
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsmamba import datasets
from tsmamba.data import read_series
from tsmamba.datasets import (
    REGISTRY,
    download,
    find_dataset,
    get_spec,
    list_datasets,
    load_dataset,
    sha256_file,
    synthetic_ett,
    verify_file,
)
from tsmamba.errors import ChecksumError, ConfigError, DataNotFoundError, DataValidationError


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No benchmark folder and an empty repo datasets/ folder: nothing can be found."""
    empty_env, repo_dir = tmp_path / "env", tmp_path / "repo_datasets"
    empty_env.mkdir()
    repo_dir.mkdir()
    monkeypatch.setenv(datasets.DATA_ENV, str(empty_env))
    monkeypatch.setattr(datasets, "download_dir", lambda: repo_dir)
    return repo_dir


def csv_bytes(n_rows: int = 50) -> bytes:
    frame = synthetic_ett(n_rows=n_rows)
    return frame.to_csv(index=False).encode("utf-8")


def fake_spec(
    monkeypatch, url: str, sha256: str | None = None, name: str = "ETTh2", n_rows: int | None = None
):
    """Point a registry entry at a local URL (and the size of the file there) for a test."""
    spec = dataclasses.replace(REGISTRY[name], url=url, sha256=sha256, n_rows=n_rows or REGISTRY[name].n_rows)
    monkeypatch.setitem(REGISTRY, name, spec)
    return spec


# ---------------------------------------------------------------------------------------------
# registry


def test_registry_covers_the_benchmarks():
    assert set(REGISTRY) >= {"ETTh1", "ETTh2", "ETTm1", "ETTm2", "Weather", "Electricity",
                             "Traffic"}  # fmt: skip
    for spec in REGISTRY.values():
        assert spec.kind in ("ETTh", "ETTm", "custom") and spec.target == "OT"
        assert spec.url and spec.url.startswith("https://")
    assert REGISTRY["ETTh1"].sha256.startswith("f18de3ad")
    assert REGISTRY["ETTm1"].filenames[0] == "ETTm1.csv.gz"
    assert REGISTRY["Weather"].filenames[0] == "weather.csv.gz"


@pytest.mark.parametrize(
    "query", ["ETTh1", "etth1", " ETTH1 ", "ETTh1.csv", "etth1.csv.gz", "/data/x/ETTh1.csv"]
)
def test_get_spec_by_name_file_or_path(query):
    assert get_spec(query).name == "ETTh1"


def test_get_spec_unknown():
    assert get_spec("walmart", missing_ok=True) is None
    with pytest.raises(DataNotFoundError, match=r"unknown data set 'walmart'.*ETTh1"):
        get_spec("walmart")


# ---------------------------------------------------------------------------------------------
# finding and verifying


def test_find_dataset_search_order(isolated, tmp_path, monkeypatch):
    assert find_dataset("ETTh1") is None
    (isolated / "ETTh1.csv").write_bytes(b"x")
    assert find_dataset("ETTh1") == isolated / "ETTh1.csv"
    env_dir = tmp_path / "env"
    (env_dir / "ETT-small").mkdir()
    (env_dir / "ETT-small" / "ETTh1.csv").write_bytes(b"y")  # one level down
    assert find_dataset("ETTh1") == env_dir / "ETT-small" / "ETTh1.csv"
    explicit = tmp_path / "explicit"
    explicit.mkdir()
    (explicit / "ETTh1.csv.gz").write_bytes(b"z")
    assert find_dataset("etth1", data_dir=explicit) == explicit / "ETTh1.csv.gz"


def test_a_subfolder_this_user_may_not_read_is_passed_over(isolated, tmp_path, monkeypatch):
    """A lost+found of root's in the data folder: Path.is_file() raised PermissionError for a probe
    inside it, and find_dataset, list_datasets and `tsmamba datasets` failed (helper-177). The
    refusal is simulated, as root may read any folder."""
    env_dir = tmp_path / "env"
    (env_dir / "lost+found").mkdir()
    (env_dir / "ETTh1.csv").write_bytes(b"x")
    is_file = Path.is_file

    def refused(path):
        if path.parent.name == "lost+found":
            raise PermissionError(13, "Permission denied", str(path))
        return is_file(path)

    monkeypatch.setattr(Path, "is_file", refused)
    assert find_dataset("ETTh2") is None and find_dataset("ETTh1") == env_dir / "ETTh1.csv"


def test_a_file_put_by_hand_is_checked_against_the_published_shape(isolated):
    """Only a download was checked for the published rows x channels: a synthetic or truncated file
    without a digest (Electricity, ETTh2 without its .sha256) was taken as the benchmark."""
    synthetic_ett(n_rows=2000, n_channels=7).to_csv(isolated / "electricity.csv", index=False)
    with pytest.raises(ChecksumError, match=r"electricity\.csv has 2000 rows x 7 channels, the published "
                       r"Electricity file 26304 x 321: it is another file or a truncated copy"):
        load_dataset("Electricity", download=False)
    assert load_dataset("Electricity", download=False, verify=False).shape == (2000, 7)


def test_default_data_root_is_next_to_the_repo(monkeypatch):
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    repo = Path(datasets.__file__).resolve().parents[1]
    assert datasets.source_checkout() == repo
    assert datasets.data_root() == repo.parent / "shared" / "datasets"
    assert datasets.download_dir() == repo / "datasets"


def test_an_installed_package_keeps_its_data_in_the_user_cache(monkeypatch, tmp_path):
    """Installed from a wheel, the data folders were site-packages/datasets (a download made it
    a stray top-level 'datasets' package, left by pip uninstall) and lib/python3.11/shared."""
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    monkeypatch.setattr(datasets, "source_checkout", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert datasets.download_dir() == tmp_path / "cache" / "tsmamba" / "datasets"
    assert datasets.data_root() == datasets.download_dir()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets.download_dir() == tmp_path / "home" / ".cache" / "tsmamba" / "datasets"


def test_list_datasets(isolated):
    (isolated / "weather.csv.gz").write_bytes(b"x")
    rows = {row["name"]: row for row in list_datasets()}
    assert set(rows) == set(REGISTRY)
    assert rows["Weather"]["path"] == str(isolated / "weather.csv.gz")
    assert rows["ETTh1"]["path"] is None and rows["ETTh1"]["file"] == "ETTh1.csv"


def test_list_datasets_names_each_file_s_digest_without_reading_it(isolated, tmp_path, monkeypatch):
    """The listing says what a file is checked against, the registry's digest or the one recorded
    at its download, and stays fast: no file is hashed; a malformed record is left to --verify."""
    env = tmp_path / "env"
    (env / "ETTh1.csv").write_bytes(b"x")
    (isolated / "ETTh2.csv").write_bytes(b"y")
    datasets._write_sidecar(isolated / "ETTh2.csv", hashlib.sha256(b"y").hexdigest())
    (isolated / "traffic.csv").write_bytes(b"z")
    (isolated / "ETTm2.csv").write_bytes(b"w")
    (isolated / "ETTm2.csv.sha256").write_text("")

    def hashed(path):
        raise AssertionError(f"{path} was hashed")

    monkeypatch.setattr(datasets, "sha256_file", hashed)
    rows = {row["name"]: row for row in list_datasets()}
    digests = {name: (row["sha256"], row["verified"], row["problem"]) for name, row in rows.items()}
    assert digests == {"ETTh1": ("registry", None, None), "ETTh2": ("recorded", None, None),
                       "ETTm1": (None, None, None), "ETTm2": ("recorded", None, None),
                       "Weather": (None, None, None), "Electricity": (None, None, None),
                       "Traffic": (None, None, None)}  # fmt: skip


def test_list_datasets_verify_hashes_each_file_against_its_digest(isolated, tmp_path):
    """verify=True: verified, a mismatch with what to do, or nothing to check against. A record
    states what the file should be and is never trusted instead of reading the file: one changed
    since its download, at the same size and with its old mtime, fails."""
    env = tmp_path / "env"
    (env / "ETTh1.csv").write_bytes(csv_bytes(30))  # not the published file
    good, changed = isolated / "ETTh2.csv", isolated / "ETTm2.csv"
    for path in (good, changed):
        path.write_bytes(b"date,a\n2020-01-01,1\n")
        datasets._write_sidecar(path, sha256_file(path))
    before = changed.stat()
    changed.write_bytes(b"date,a\n2020-01-01,2\n")
    os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert changed.stat().st_size == before.st_size and changed.stat().st_mtime_ns == before.st_mtime_ns
    (isolated / "traffic.csv").write_bytes(b"z")
    (isolated / "ETTm1.csv.gz").write_bytes(b"v")
    (isolated / "ETTm1.csv.gz.sha256").write_text("f18de3ad\n")  # truncated, never mind the registry's
    rows = {row["name"]: row for row in list_datasets(verify=True)}
    assert {n: (r["sha256"], r["verified"]) for n, r in rows.items() if r["path"]} == {
        "ETTh1": ("registry", False), "ETTh2": ("recorded", True), "ETTm2": ("recorded", False),
        "ETTm1": ("registry", False), "Traffic": (None, None)}  # fmt: skip
    assert rows["ETTh1"]["problem"].startswith(f"{env / 'ETTh1.csv'}: sha256 ")
    assert f"does not match {REGISTRY['ETTh1'].sha256} recorded in the registry" in rows["ETTh1"]["problem"]
    assert "Delete it and download it again" in rows["ETTh1"]["problem"]
    assert f"recorded in {changed}.sha256" in rows["ETTm2"]["problem"]
    assert rows["ETTm1"]["problem"] == (  # a registry file is checked against the registry only
        f"{isolated / 'ETTm1.csv.gz'}: sha256 {hashlib.sha256(b'v').hexdigest()} does not match "
        f"{REGISTRY['ETTm1'].sha256} recorded in the registry; the file is corrupt, truncated or a "
        "different version. Delete it and download it again (or replace it with the published file)")
    assert rows["ETTh2"]["problem"] is None and rows["Traffic"]["problem"] is None
    (isolated / "ETTm2.csv.sha256").write_text("")
    problem = {r["name"]: r["problem"] for r in list_datasets(verify=True)}["ETTm2"]
    assert problem.startswith(f"{isolated / 'ETTm2.csv.sha256'} is empty or malformed"), problem


def test_list_datasets_verify_goes_on_past_a_file_it_cannot_read(isolated, monkeypatch):
    """A file that cannot be read (permissions) is named with what to check, and the others are
    still checked: it had ended the listing."""
    for name in ("ETTh2.csv", "ETTm2.csv"):
        path = isolated / name
        path.write_bytes(b"date,a\n2020-01-01,1\n")
        datasets._write_sidecar(path, sha256_file(path))
    hashed = datasets.sha256_file

    def refused(path):
        if Path(path).name == "ETTh2.csv":
            raise PermissionError(13, "Permission denied", str(path))
        return hashed(path)

    monkeypatch.setattr(datasets, "sha256_file", refused)
    rows = {row["name"]: row for row in list_datasets(verify=True)}
    assert (rows["ETTh2"]["verified"], rows["ETTm2"]["verified"]) == (None, True)
    assert rows["ETTh2"]["problem"] == (f"{isolated / 'ETTh2.csv'} could not be read to check its sha256 "
                                        "(Permission denied); check its permissions and those of its folder")


def test_verify_file_catches_a_changed_file(tmp_path):
    path = tmp_path / "ETTh1.csv"
    path.write_bytes(csv_bytes(30))
    with pytest.raises(ChecksumError, match=r"does not match f18de3ad.*registry"):
        verify_file(path)
    own = tmp_path / "mine.csv"
    own.write_bytes(b"abc")
    assert verify_file(own) is None  # nothing to check against
    (tmp_path / "mine.csv.sha256").write_text(hashlib.sha256(b"abc").hexdigest() + "  mine.csv")
    assert verify_file(own) == hashlib.sha256(b"abc").hexdigest()
    own.write_bytes(b"abd")
    with pytest.raises(ChecksumError, match=r"mine\.csv\.sha256"):
        verify_file(own)


@pytest.mark.parametrize(("name", "plain"), [("ETTm1", "ETTm1.csv"), ("Weather", "weather.csv")])
def test_the_other_form_is_checked_against_its_published_digest(isolated, name, plain):
    """The registry's digest of a plain ETTm1.csv or weather.csv only recognised a copy: an
    altered one was accepted, as was the digest of its own bytes written beside it."""
    published = dict(REGISTRY[name].other_sha256)[plain]
    path = isolated / plain
    path.write_bytes(csv_bytes(30))
    with pytest.raises(ChecksumError, match=rf"{plain}: sha256 .* does not match {published} recorded in "
                                            "the registry"):
        verify_file(path)
    datasets._write_sidecar(path, sha256_file(path))  # as a download of the altered file recorded it
    with pytest.raises(ChecksumError, match=published):
        verify_file(path)
    with pytest.raises(ChecksumError, match=published):
        load_dataset(name, download=False)


def test_a_file_named_but_for_case_is_checked_against_the_registry_digest(benchmark_file, tmp_path):
    """get_spec takes Weather.csv.gz for Weather, but the digest was looked up by the exact name:
    the published bytes under that name were read strictly (its published repeated timestamp an
    error) and an altered ETTH1.CSV was not checked at all."""
    published = benchmark_file("Weather")
    renamed = tmp_path / "Weather.csv.gz"
    renamed.write_bytes(published.read_bytes())
    assert verify_file(renamed) == REGISTRY["Weather"].sha256
    assert datasets.read_dataset_file(renamed).shape == (52696, 21)
    altered = tmp_path / "ETTH1.CSV"
    altered.write_bytes(csv_bytes(30))
    with pytest.raises(ChecksumError, match="recorded in the registry"):
        verify_file(altered)


@pytest.mark.parametrize("recorded", ["", "f18de3ad\n"], ids=["empty", "truncated"])
def test_unreadable_checksum_file_is_a_checksum_error(tmp_path, recorded):
    path = tmp_path / "ETTh2.csv"
    path.write_bytes(csv_bytes(30))
    (tmp_path / "ETTh2.csv.sha256").write_text(recorded)
    with pytest.raises(ChecksumError, match=r"ETTh2\.csv\.sha256 is empty or malformed.*delete it"):
        verify_file(path)


def test_checksum_file_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "ETTh2.csv"
    path.write_bytes(csv_bytes(30))

    def crash(fd: int) -> None:
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(datasets.os, "fsync", crash)
        with pytest.raises(OSError, match="disk full"):
            datasets._write_sidecar(path, sha256_file(path))
    assert [p.name for p in tmp_path.iterdir()] == ["ETTh2.csv"]  # no partial file left
    datasets._write_sidecar(path, sha256_file(path))
    assert verify_file(path) == sha256_file(path)


def irregular_csv(path: Path, level: float = 0.0) -> Path:
    """A small 10-minute series with a repeated timestamp, written (gzipped by suffix) to ``path``."""
    index = list(pd.date_range("2021-01-01", periods=40, freq="10min"))
    index[20] = index[19]
    frame = pd.DataFrame({"date": index, "OT": level + np.sin(np.arange(40.0))})
    frame.to_csv(path, index=False)
    return path


def test_only_the_published_file_keeps_irregular_timestamps(tmp_path, monkeypatch):
    # Weather's published file keeps its repeated stamp; any other file of that name is checked
    published = irregular_csv(tmp_path / "weather.csv.gz")
    monkeypatch.setitem(REGISTRY, "Weather", dataclasses.replace(REGISTRY["Weather"],
                                                                 sha256=sha256_file(published)))
    kept = datasets.read_dataset_file(published)
    assert len(kept) == 40 and "1 duplicate timestamp" in kept.attrs["irregular"][0]
    (tmp_path / "user").mkdir()
    mine = irregular_csv(tmp_path / "user" / "weather.csv.gz", level=1.0)  # same name, other bytes
    with pytest.raises(DataValidationError, match="1 duplicate timestamp"):
        datasets.read_dataset_file(mine)
    # a download is known by the digest recorded beside it
    downloaded = irregular_csv(tmp_path / "weather.csv")
    with pytest.raises(DataValidationError, match="1 duplicate timestamp"):
        datasets.read_dataset_file(downloaded)
    datasets._write_sidecar(downloaded, sha256_file(downloaded))
    assert "irregular" in datasets.read_dataset_file(downloaded).attrs


def test_load_dataset_rejects_a_corrupt_copy(isolated):
    (isolated / "ETTh1.csv").write_bytes(csv_bytes(30))
    with pytest.raises(ChecksumError):
        load_dataset("ETTh1", download=False)
    assert len(load_dataset("ETTh1", download=False, verify=False)) == 30


def test_offline_without_a_file_says_where_to_put_it(isolated, tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("ETTm2", download=False)
    msg = str(err.value)
    assert "ETTm2.csv or ETTm2.csv.gz" in msg
    assert str(tmp_path / "env") in msg and str(isolated) in msg
    assert "TSMAMBA_DATA" in msg


def test_failed_download_says_where_to_put_the_file(isolated, tmp_path, monkeypatch):
    fake_spec(monkeypatch, (tmp_path / "missing" / "ETTh2.csv").as_uri())
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("ETTh2")
    msg = str(err.value)
    assert "cannot download file://" in msg and "TSMAMBA_DATA" in msg
    assert list(isolated.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# downloads (offline: file:// and a local HTTP server)


def test_download_file_url_with_checksum(tmp_path):
    source = tmp_path / "src" / "ETTh2.csv"
    source.parent.mkdir()
    source.write_bytes(csv_bytes())
    digest = sha256_file(source)
    dest = tmp_path / "out" / "ETTh2.csv"
    assert download(source.as_uri(), dest, sha256=digest) == dest
    assert dest.read_bytes() == source.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["ETTh2.csv"]  # no temp file left
    # a digest as read from a .sha256 file (its newline, upper case) is the digest; one that is
    # none is refused before the transfer, not blamed on the file after it (helper-138)
    dest.unlink()
    assert download(source.as_uri(), dest, sha256=digest.upper() + "\n") == dest
    for bad in ("xyz", digest[:-1], 42):
        with pytest.raises(ConfigError, match="sha256 must be 64 hexadecimal digits"):
            download(source.as_uri(), tmp_path / "never" / "ETTh2.csv", sha256=bad)
    assert not (tmp_path / "never").exists()


def test_download_into_a_symlink_replaces_the_file_it_names(tmp_path):
    source = tmp_path / "src.csv"
    source.write_bytes(csv_bytes())
    shared = tmp_path / "shared" / "ETTh2.csv"
    shared.parent.mkdir()
    shared.write_bytes(b"old")
    link = tmp_path / "data" / "ETTh2.csv"
    link.parent.mkdir()
    link.symlink_to(shared)
    assert download(source.as_uri(), link) == link
    assert link.is_symlink() and shared.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in shared.parent.iterdir()) == ["ETTh2.csv"]  # no temp file left


def test_checksum_mismatch_leaves_no_file(tmp_path):
    source = tmp_path / "src.csv"
    source.write_bytes(csv_bytes())
    dest_dir = tmp_path / "out"
    with pytest.raises(ChecksumError, match="expected 0000"):
        download(source.as_uri(), dest_dir / "ETTh2.csv", sha256="0" * 64)
    assert not dest_dir.exists()  # no file, nor the folder made for it


def test_mismatch_keeps_an_existing_file(tmp_path):
    source = tmp_path / "src.csv"
    source.write_bytes(b"new")
    dest = tmp_path / "ETTh2.csv"
    dest.write_bytes(b"old")
    with pytest.raises(ChecksumError):
        download(source.as_uri(), dest, sha256="0" * 64)
    assert dest.read_bytes() == b"old"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def http_root(tmp_path):
    """A local HTTP server on 127.0.0.1 serving a folder; yields (folder, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_download_over_http(http_root, tmp_path):
    root, base = http_root
    payload = csv_bytes(200)
    (root / "ETTh2.csv").write_bytes(payload)
    dest = tmp_path / "got" / "ETTh2.csv"
    download(f"{base}/ETTh2.csv", dest, sha256=hashlib.sha256(payload).hexdigest())
    assert dest.read_bytes() == payload
    with pytest.raises(ChecksumError):
        download(f"{base}/ETTh2.csv", tmp_path / "bad" / "ETTh2.csv", sha256="f" * 64)
    assert not (tmp_path / "bad").exists()  # nor the folder made for it
    with pytest.raises(DataNotFoundError, match="404"):
        download(f"{base}/nothing.csv", tmp_path / "none" / "x.csv")
    assert not (tmp_path / "none").exists()


class CutShort(http.server.BaseHTTPRequestHandler):
    """Announces 1000 bytes, sends 100 and closes: urllib's read() then just ends."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"x" * 100)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("name", ["Weather", "ETTm1"])
def test_the_published_gz_decompressed_is_the_published_file(name, benchmark_file, tmp_path, monkeypatch):
    # a plain weather.csv had no digest to match, so it was read strictly and its published
    # repeated timestamp was an error whose advice (drop the row) would shift the LTSF splits
    published = benchmark_file(name)
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    plain = tmp_path / published.name.removesuffix(".gz")
    plain.write_bytes(gzip.decompress(published.read_bytes()))
    assert datasets.find_dataset(name) == plain
    spec = REGISTRY[name]
    assert load_dataset(name, download=False).shape == (spec.n_rows, spec.n_channels)
    plain.write_bytes(plain.read_bytes().replace(b"\n", b"\r\n"))  # the same rows, other bytes
    published_digest = dict(spec.other_sha256)[plain.name]  # it had only recognised a copy
    with pytest.raises(ChecksumError, match=rf"{plain.name}: sha256 .* does not match {published_digest} "
                                            "recorded in the registry"):
        load_dataset(name, download=False)
    if not spec.strict:  # unchecked, not the published bytes: read strictly, its repeated timestamp refused
        with pytest.raises(DataValidationError, match="duplicate timestamp"):
            load_dataset(name, download=False, verify=False)


def test_a_download_cut_short_is_an_error_and_leaves_no_file(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CutShort)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(DataNotFoundError, match="ended after 100 of 1000 bytes"):
            download(f"http://127.0.0.1:{server.server_address[1]}/x.csv", tmp_path / "x.csv")
        (tmp_path / "kept").mkdir()
        with pytest.raises(DataNotFoundError, match="ended after 100 of 1000 bytes"):  # folders it made go
            download(f"http://127.0.0.1:{server.server_address[1]}/x.csv", tmp_path / "kept/a/b/x.csv")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert list(tmp_path.iterdir()) == [tmp_path / "kept"] and list((tmp_path / "kept").iterdir()) == []


class NoLength(http.server.BaseHTTPRequestHandler):
    """Sends a CSV without Content-Length, cut inside its last value, and closes."""

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(csv_bytes(100).rstrip(b"\n")[:-3])  # '20.12' read as '20'

    def log_message(self, *args):
        pass


class Encoded(http.server.BaseHTTPRequestHandler):
    """Sends a gzip-encoded body with its length: not checked against the decoded bytes."""

    def do_GET(self):
        body = gzip.compress(b"date,OT\n2024-01-01,1.0")  # no final newline
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_an_encoded_download_with_a_length_is_not_refused_as_cut_short(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Encoded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/x.csv"
    text = b"date,OT\n2024-01-01,1.0"
    try:  # the length counts the gzip bytes sent; the file holds what they decode to
        download(url, tmp_path / "x.csv", sha256=hashlib.sha256(text).hexdigest())
        # a .gz file's bytes are the file whether or not they are sent as an encoding
        download(url, tmp_path / "x.csv.gz")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    # urllib does not decode: the gzip bytes had been kept as x.csv, a file no CSV reader reads
    assert (tmp_path / "x.csv").read_bytes() == text
    assert gzip.decompress((tmp_path / "x.csv.gz").read_bytes()) == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv", "x.csv.gz"]


def test_a_download_without_a_length_cut_mid_line_is_an_error(isolated, monkeypatch):
    """It was kept, read as 100 rows with a wrong last value, and its digest recorded as trusted."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoLength)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        fake_spec(monkeypatch, f"http://127.0.0.1:{server.server_address[1]}/ETTh2.csv", n_rows=100)
        with pytest.raises(DataNotFoundError, match=r"ended mid-line after .* no length to check"):
            load_dataset("ETTh2")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert list(isolated.iterdir()) == []


def test_a_page_downloaded_for_the_data_set_is_not_kept(isolated, http_root, monkeypatch):
    """An HTML page served with status 200 stayed as ETTh2.csv and failed every later load."""
    root, base = http_root
    (root / "ETTh2.csv").write_bytes(b"<html><body>rate limited</body></html>\n")
    fake_spec(monkeypatch, f"{base}/ETTh2.csv", n_rows=100)
    with pytest.raises(ChecksumError, match=rf"the download of ETTh2 from {base}/ETTh2.csv is not the data "
                                            r"set's CSV \(ETTh2.csv: the file has a header \(<html>.*\) but "
                                            r"no data rows\); nothing was kept. Check the URL, or put ETTh2"):
        load_dataset("ETTh2")  # it had said only that the (removed) file had no data rows
    assert list(isolated.iterdir()) == []
    with pytest.raises(ChecksumError):  # nor the folders made for it
        load_dataset("ETTh2", data_dir=isolated / "new" / "deeper")
    assert list(isolated.iterdir()) == []


def test_load_dataset_downloads_and_records_a_checksum(isolated, http_root, monkeypatch):
    root, base = http_root
    (root / "ETTh2.csv").write_bytes(csv_bytes(99))
    fake_spec(monkeypatch, f"{base}/ETTh2.csv", n_rows=100)  # no registry digest: trust on first download
    with pytest.raises(ChecksumError, match="has 99 rows x 7 channels, the published file 100 x 7"):
        load_dataset("ETTh2")  # not the published size: no file, no digest recorded for it
    assert list(isolated.iterdir()) == []
    (root / "ETTh2.csv").write_bytes(csv_bytes(100))
    df = load_dataset("ETTh2")
    assert len(df) == 100 and list(df.columns)[-1] == "OT"
    path = isolated / "ETTh2.csv"
    assert path.is_file()
    recorded = (isolated / "ETTh2.csv.sha256").read_text().split()[0]
    assert recorded == sha256_file(path)
    assert sorted(p.name for p in isolated.iterdir()) == ["ETTh2.csv", "ETTh2.csv.sha256"]
    path.write_bytes(csv_bytes(99))  # a later change is caught
    with pytest.raises(ChecksumError):
        load_dataset("ETTh2")


def test_load_dataset_download_checks_the_registry_digest(isolated, tmp_path, monkeypatch):
    source = tmp_path / "ETTh2.csv"
    source.write_bytes(csv_bytes())
    fake_spec(monkeypatch, source.as_uri(), sha256="1" * 64)
    with pytest.raises(ChecksumError):
        load_dataset("ETTh2")
    assert list(isolated.iterdir()) == []


def test_a_download_that_fails_the_registry_digest_says_what_to_do(isolated, tmp_path, monkeypatch):
    """It had ended "The source may have changed or the transfer was corrupted", with no word of
    trying again or of where to put the published file instead (a failed transfer says both)."""
    source = tmp_path / "ETTh2.csv"
    source.write_bytes(csv_bytes())
    fake_spec(monkeypatch, source.as_uri(), sha256="1" * 64)
    with pytest.raises(ChecksumError) as err:
        load_dataset("ETTh2")
    msg = str(err.value)
    assert f"has sha256 {sha256_file(source)}, expected {'1' * 64}" in msg
    assert "try again" in msg.lower()
    assert "ETTh2.csv or ETTh2.csv.gz" in msg and str(tmp_path / "env") in msg and str(isolated) in msg
    assert "export TSMAMBA_DATA=" in msg
    assert list(isolated.iterdir()) == []
    with pytest.raises(ChecksumError, match="Try again"):  # download() alone says so too
        download(source.as_uri(), tmp_path / "out" / "ETTh2.csv", sha256="1" * 64)


# ---------------------------------------------------------------------------------------------
# synthetic data


def test_synthetic_ett_shape_names_and_determinism():
    frame = synthetic_ett()
    assert frame.shape == (2000, 8)
    assert list(frame.columns) == ["date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert frame["date"].iloc[0] == pd.Timestamp("2016-07-01")
    pd.testing.assert_frame_equal(frame, synthetic_ett())
    assert not synthetic_ett(seed=1)["OT"].equals(frame["OT"])
    other = synthetic_ett(n_rows=300, n_channels=3, freq="15min", start="2020-01-01")
    assert list(other.columns) == ["date", "c0", "c1", "c2"]
    assert read_series(other).index.freqstr == "15min"


def test_synthetic_ett_has_daily_cycles_and_coupled_channels():
    frame = read_series(synthetic_ett(n_rows=24 * 7 * 8))
    values = frame.to_numpy()
    detrended = values - pd.DataFrame(values).rolling(24 * 7, center=True, min_periods=1).mean()
    x = detrended.to_numpy()[:, 0]
    x = x - x.mean()
    lag_day = np.corrcoef(x[:-24], x[24:])[0, 1]
    lag_half = np.corrcoef(x[:-12], x[12:])[0, 1]
    assert lag_day > 0.5 and lag_day > lag_half
    corr = np.corrcoef(values.T)
    off_diagonal = np.abs(corr[~np.eye(7, dtype=bool)])
    assert off_diagonal.mean() > 0.2
    assert np.isfinite(values).all()


def test_synthetic_ett_bad_arguments():
    for bad in (0, None, 2.5):
        with pytest.raises(ConfigError, match="n_rows must be a positive integer"):
            synthetic_ett(n_rows=bad)
    with pytest.raises(ConfigError):
        synthetic_ett(freq="fortnightly")
    for n in (1, 2):  # shorter than OT's 3-step lag: a numpy broadcast error before
        assert synthetic_ett(n_rows=n).shape == (n, 8)
    for seed in (None, -1, "abc"):  # None had given other data on every call; -1 numpy's ValueError
        with pytest.raises(ConfigError, match=r"seed must be an integer in \[0, 2\*\*32\)"):
            synthetic_ett(seed=seed)


# ---------------------------------------------------------------------------------------------
# the real files


@pytest.mark.parametrize(
    ("name", "rows", "channels"), [("ETTh1", 17420, 7), ("ETTm1", 69680, 7), ("Weather", 52696, 21)]
)
def test_real_files_load_verified(name, rows, channels, benchmark_file):
    path = benchmark_file(name)
    assert verify_file(path) == REGISTRY[name].sha256  # the registry digest matches the copy
    df = load_dataset(name, download=False)
    assert df.shape == (rows, channels)
    assert df.columns[-1] == "OT"
    assert df.attrs["freq"] == REGISTRY[name].freq


def test_a_download_whose_temporary_file_cannot_be_made_leaves_no_folders(tmp_path):
    source = tmp_path / "src.csv"
    source.write_bytes(csv_bytes())
    with pytest.raises(DataNotFoundError, match="cannot download"):  # the .part name is too long
        download(source.as_uri(), tmp_path / "out" / "a" / ("x" * 250 + ".csv"))
    assert not (tmp_path / "out").exists()


def test_a_download_into_a_place_that_cannot_hold_it_is_a_data_error(tmp_path):
    source = tmp_path / "x.csv"
    source.write_bytes(csv_bytes(10))
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(DataNotFoundError, match=r"cannot download .* into .*file"):  # FileExistsError
        download(source.as_uri(), tmp_path / "file" / "x.csv")


def test_a_download_stopped_while_it_is_checked_leaves_no_file_to_trust(isolated, http_root, monkeypatch):
    """The download had been moved into place before it was read and its size checked: a run
    stopped in between (Ctrl-C, a kill) left a truncated file that every later run loaded."""
    root, base = http_root
    (root / "ETTh2.csv").write_bytes(csv_bytes(50))  # cut short, but at a line end
    fake_spec(monkeypatch, f"{base}/ETTh2.csv", n_rows=100)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(datasets, "read_dataset_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_dataset("ETTh2")
    assert list(isolated.iterdir()) == []  # neither the file nor its temporary copy


def test_a_first_download_reads_as_the_file_it_is(isolated, http_root, monkeypatch):
    """Checked before it took its place, the frame and its warnings had named the temporary file."""
    root, base = http_root
    frame = synthetic_ett(n_rows=100)
    frame["HUFL"] = 1.0
    (root / "ETTh2.csv").write_bytes(frame.to_csv(index=False).encode())
    fake_spec(monkeypatch, f"{base}/ETTh2.csv", n_rows=100)
    with pytest.warns(UserWarning) as caught:
        df = load_dataset("ETTh2")
    assert df.attrs["source"] == "ETTh2.csv"
    texts = [str(w.message) for w in caught]
    assert any(t.startswith("ETTh2.csv: column 'HUFL' is constant") for t in texts), texts
    assert not any(".part" in t for t in texts), texts


def _served_with_two_parts(isolated, http_root, monkeypatch):
    """ETTh2.csv served over HTTP, and two part files of earlier downloads beside its target."""
    root, base = http_root
    (root / "ETTh2.csv").write_bytes(csv_bytes(100))
    fake_spec(monkeypatch, f"{base}/ETTh2.csv", n_rows=100)
    parts = isolated / ".ETTh2.csv.0badf00d.part.csv", isolated / ".ETTh2.csv.1234abcd.part.csv"
    for part in parts:
        part.write_bytes(b"date,a\n")
    return parts


def test_temporary_files_of_killed_downloads_are_removed_once_stale(isolated, http_root, monkeypatch):
    """Without flock: a kill (no clean-up runs) left .part files beside the data, one per
    interrupted run; they go once an hour old."""
    monkeypatch.setattr(datasets, "fcntl", None)
    old, fresh = _served_with_two_parts(isolated, http_root, monkeypatch)
    os.utime(old, (time.time() - 7200, time.time() - 7200))  # untouched for two hours
    load_dataset("ETTh2")
    assert sorted(p.name for p in isolated.iterdir()) == [fresh.name, "ETTh2.csv", "ETTh2.csv.sha256"]


def test_a_killed_download_s_part_goes_once_another_succeeds(isolated, http_root, monkeypatch):
    """A part left by a SIGKILL a minute earlier stayed for good once the retry succeeded (only
    hour-old parts went, at the start of a download). Downloads in progress lock theirs."""
    fcntl = pytest.importorskip("fcntl")
    _, base = http_root
    killed, running = _served_with_two_parts(isolated, http_root, monkeypatch)
    with open(running, "rb") as held:  # another download, still writing
        fcntl.flock(held, fcntl.LOCK_EX)
        load_dataset("ETTh2")
        assert sorted(p.name for p in isolated.iterdir()) == [running.name, "ETTh2.csv", "ETTh2.csv.sha256"]
        assert not killed.exists()
    download(f"{base}/ETTh2.csv", isolated / "ETTh2.csv")  # killed too: the next download clears it
    assert sorted(p.name for p in isolated.iterdir()) == ["ETTh2.csv", "ETTh2.csv.sha256"]


def test_partial_downloads_finds_what_killed_downloads_left_in_every_data_folder(isolated, tmp_path):
    """A killed download's part stayed for good when the file was never downloaded again (found
    elsewhere, or not wanted): only a download of the same file removed it. partial_downloads
    finds those of any registry file in the folders searched, and removes them by the same rule:
    a part a download holds locked is left; another program's temporary file is not touched."""
    fcntl = pytest.importorskip("fcntl")
    env = tmp_path / "env"
    killed = isolated / ".ETTh2.csv.0badf00d.part.csv"
    killed.write_bytes(b"date,a\n" * 100)
    other = env / ".traffic.csv.1234abcd.part.csv"  # into $TSMAMBA_DATA, with load_dataset's data_dir
    other.write_bytes(b"date,b\n")
    running = isolated / ".ETTm1.csv.5678abcd.part.csv"
    running.write_bytes(b"date")
    foreign = isolated / ".notes.txt.0badf00d.part"
    foreign.write_bytes(b"kept")
    expected = [{"path": str(other), "bytes": 7, "state": "abandoned"},
                {"path": str(killed), "bytes": 700, "state": "abandoned"},
                {"path": str(running), "bytes": 4, "state": "in progress"}]
    with open(running, "rb") as held:  # a download still writing
        fcntl.flock(held, fcntl.LOCK_EX)
        assert datasets.partial_downloads() == expected
        assert killed.exists() and other.exists()  # only listed
        removed = datasets.partial_downloads(remove=True)
    assert removed == [{**e, "state": e["state"].replace("abandoned", "removed")} for e in expected]
    assert not killed.exists() and not other.exists() and running.exists() and foreign.exists()
    assert datasets.partial_downloads(remove=True) == [{"path": str(running), "bytes": 4, "state": "removed"}]
    mine = tmp_path / "mine"
    mine.mkdir()
    part = mine / ".ETTh1.csv.abcdef12.part.csv"
    part.write_bytes(b"")
    assert datasets.partial_downloads() == []  # a data_dir is searched only when given
    assert [p["path"] for p in datasets.partial_downloads(mine)] == [str(part)]


def test_partial_downloads_remove_only_files_named_as_downloads_name_them(isolated):
    """The glob .ETTh1.csv.*.part* also matched a user's hidden files beside the data (a backup
    .ETTh1.csv.bak.part, notes .ETTh1.csv.old.participants.txt), which nothing locks: the listing
    command deleted them as abandoned downloads. Only the names downloads give their temporary
    files go (.<file>.<8 hex>.part<suffixes>, and the .part of versions that used mkstemp)."""
    ours = [isolated / ".ETTh1.csv.0badf00d.part.csv", isolated / ".ETTh1.csv.k3_x9zq1.part"]
    users = [isolated / n for n in (".ETTh1.csv.bak.part", ".ETTh1.csv.my-notes.partial",
                                    ".ETTh1.csv.old.participants.txt", ".ETTh1.csv.0badf00d.part.csv.bak",
                                    ".ETTh1.csv.0badf00d.part.txt")]
    for path in ours + users:
        path.write_bytes(b"x")
    removed = datasets.partial_downloads(remove=True)
    assert sorted(p["path"] for p in removed) == sorted(str(p) for p in ours)
    assert all(not p.exists() for p in ours) and all(p.exists() for p in users)


def test_without_flock_partial_downloads_go_by_age(isolated, monkeypatch):
    monkeypatch.setattr(datasets, "fcntl", None)
    old, fresh = isolated / ".ETTh2.csv.0badf00d.part.csv", isolated / ".ETTh2.csv.1234abcd.part.csv"
    for part in (old, fresh):
        part.write_bytes(b"date,a\n")
    os.utime(old, (time.time() - 7200, time.time() - 7200))  # untouched for two hours
    assert [p["state"] for p in datasets.partial_downloads(remove=True)] == ["removed", "in progress"]
    assert not old.exists() and fresh.exists()


def _killed_record_write(data: Path) -> Path:
    """The temporary file a download killed while writing ``data``'s .sha256 record leaves, named
    as atomic_write_bytes names it."""
    fd, tmp = datasets.temp_beside(datasets._sidecar(data))
    os.close(fd)
    return tmp


def test_a_killed_record_write_s_temporary_file_goes_once_no_download_of_its_file_runs(isolated):
    """A download killed while writing its .sha256 record left .ETTh2.csv.sha256.<8 hex>.tmp for
    good: the sweeps looked for .part files only. A download writes its record while it holds its
    part locked, so the record's goes once no part of that file is held; a user's files of like
    names stay."""
    fcntl = pytest.importorskip("fcntl")
    killed, running = (_killed_record_write(isolated / name) for name in ("ETTh2.csv", "traffic.csv"))
    part = isolated / ".traffic.csv.1234abcd.part.csv"
    part.write_bytes(b"date")
    users = [isolated / n for n in (".ETTh2.csv.sha256.backup01.tmp", ".ETTh2.csv.sha256.0badf00d.tmp.bak",
                                    ".ETTh2.csv.sha256.0BADF00D.tmp", ".ETTh2.csv.0badf00d.tmp")]
    for path in users:
        path.write_bytes(b"x")
    with open(part, "rb") as held:  # traffic.csv's download, writing its record now
        fcntl.flock(held, fcntl.LOCK_EX)
        assert datasets.partial_downloads(remove=True) == [
            {"path": str(killed), "bytes": 0, "state": "removed"},
            {"path": str(part), "bytes": 4, "state": "in progress"},
        ]
    assert not killed.exists() and running.exists() and all(p.exists() for p in users)
    assert [p["path"] for p in datasets.partial_downloads(remove=True)] == [str(part), str(running)]
    assert not running.exists() and all(p.exists() for p in users)


def test_a_download_removes_the_record_temporary_file_a_killed_one_left(tmp_path):
    source, dest = tmp_path / "src.csv", tmp_path / "out" / "x.csv"
    source.write_bytes(csv_bytes(20))
    dest.parent.mkdir()
    _killed_record_write(dest)
    download(source.as_uri(), dest, record=True)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["x.csv", "x.csv.sha256"]


def test_a_checksum_record_without_its_file_is_listed_and_never_removed(isolated):
    """A download killed between writing ETTh2.csv.sha256 and putting ETTh2.csv in place left the
    record alone, which nothing reported, and a file put there later is checked against it.
    partial_downloads lists it ("orphan record") but never removes it (sha256sum writes such files
    too); nor lists it while a download of the file holds its part, nor beside its file."""
    fcntl = pytest.importorskip("fcntl")
    for name in ("ETTh1.csv", "ETTh2.csv"):
        datasets._write_sidecar(isolated / name, "0" * 64)
    (isolated / "ETTh1.csv").write_bytes(b"x")
    orphan = isolated / "ETTh2.csv.sha256"
    expected = [{"path": str(orphan), "bytes": orphan.stat().st_size, "state": "orphan record"}]
    assert datasets.partial_downloads(remove=True) == expected
    assert datasets.partial_downloads(remove=True) == expected and orphan.exists()
    part = isolated / ".ETTh2.csv.1234abcd.part.csv"
    part.write_bytes(b"date")
    with open(part, "rb") as held:  # the download that wrote it, about to put its file in place
        fcntl.flock(held, fcntl.LOCK_EX)
        assert datasets.partial_downloads() == [{"path": str(part), "bytes": 4, "state": "in progress"}]


def test_a_download_holds_its_part_locked_until_it_is_in_place(tmp_path):
    """Through the check too: another download's clean-up must not take it for a killed run's."""
    fcntl = pytest.importorskip("fcntl")
    source = tmp_path / "src.csv"
    source.write_bytes(csv_bytes(20))
    seen = []

    def check(part: Path) -> None:
        with open(part, "rb") as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        seen.append(part.name)

    download(source.as_uri(), tmp_path / "out" / "x.csv", check=check)
    assert len(seen) == 1 and seen[0].endswith(".part.csv")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["x.csv"]


def test_a_part_removed_before_it_was_locked_is_made_again(tmp_path, monkeypatch):
    """Another download's clean-up may remove a part between its creation and its lock: the
    bytes went into a removed file and the rename failed with a bare FileNotFoundError."""
    pytest.importorskip("fcntl")
    source = tmp_path / "src.csv"
    source.write_bytes(csv_bytes(20))
    real = datasets.temp_beside
    made = []

    def removed_at_once(*args, **kwargs):
        fd, tmp = real(*args, **kwargs)
        made.append(tmp)
        if len(made) == 1:
            tmp.unlink()
        return fd, tmp

    monkeypatch.setattr(datasets, "temp_beside", removed_at_once)
    download(source.as_uri(), tmp_path / "out" / "x.csv")
    assert len(made) == 2 and (tmp_path / "out" / "x.csv").read_bytes() == source.read_bytes()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["x.csv"]


@pytest.mark.parametrize("failing", ["write", "fsync"])
def test_a_failed_write_is_told_from_a_broken_download(tmp_path, monkeypatch, failing):
    """A full disk read 'download ... broke off (OSError(28, ...)); try again' (a failed write),
    or escaped as a bare OSError (a failed flush to disk)."""
    import errno

    source = tmp_path / "src.csv"
    source.write_bytes(csv_bytes(20))

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    if failing == "fsync":
        monkeypatch.setattr(datasets.os, "fsync", full)
    else:
        real_fdopen = os.fdopen

        class Full:  # the opened file, whose writes fail
            def __init__(self, handle):
                self.handle = handle

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.handle.close()

            def write(self, data):
                full()

        def fdopen(fd, *args, **kwargs):
            return Full(real_fdopen(fd, *args, **kwargs))

        monkeypatch.setattr(datasets.os, "fdopen", fdopen)
    with pytest.raises(DataNotFoundError, match=rf"cannot write the download of .* into {tmp_path / 'out'} "
                                                r"\(No space left on device\); free space there"):
        download(source.as_uri(), tmp_path / "out" / "x.csv")
    assert not (tmp_path / "out").exists()


def test_a_download_of_the_other_form_is_checked_against_its_published_digest(isolated, http_root,
                                                                              monkeypatch):
    """ETTm1 downloads as ETTm1.csv, whose published digest the registry knows: a changed file
    had been kept, and its own digest recorded as the one to trust."""
    root, base = http_root
    (root / "ETTm1.csv").write_bytes(csv_bytes(100))
    spec = fake_spec(monkeypatch, f"{base}/ETTm1.csv", name="ETTm1", n_rows=100)
    published = dict(spec.other_sha256)["ETTm1.csv"]
    with pytest.raises(ChecksumError, match=f"expected {published}; nothing was written"):
        load_dataset("ETTm1")
    assert list(isolated.iterdir()) == []
    served = sha256_file(root / "ETTm1.csv")  # the registry's digest is that of the served file
    monkeypatch.setitem(REGISTRY, "ETTm1", dataclasses.replace(spec, other_sha256=(("ETTm1.csv", served),)))
    assert load_dataset("ETTm1").shape == (100, 7)
    assert [p.name for p in isolated.iterdir()] == ["ETTm1.csv"]  # no .sha256: the registry has it


def test_prepare_ltsf_takes_a_path_for_a_path(tmp_path, monkeypatch):
    """'/no/such/folder/ETTh1.csv' loaded the registry's ETTh1 (matched by its file name)
    instead of saying the file is not there. Bare names still go to the registry."""
    from tsmamba.data import prepare_ltsf

    asked = []

    def registry(name, **kwargs):
        asked.append(name)
        raise DataNotFoundError("looked up in the registry")

    monkeypatch.setattr(datasets, "load_dataset", registry)
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "no" / "such" / "ETTh1.csv"
    for source in (str(missing), missing, "no/ETTh1.csv"):
        with pytest.raises(DataNotFoundError, match=rf"data file {source} not found\. Check the path; a "
                                                    r"registry data set is given by its bare name \(ETTh1,"):
            prepare_ltsf(source, 96, 96)
    (tmp_path / "ETTm1.csv").mkdir()
    with pytest.raises(DataNotFoundError, match=r"data file \./ETTm1\.csv is a folder, not a file"):
        prepare_ltsf("./ETTm1.csv", 96, 96)
    assert asked == []
    for name in ("ETTh1", "etth1.csv"):
        with pytest.raises(DataNotFoundError, match="looked up in the registry"):
            prepare_ltsf(name, 96, 96)
    assert asked == ["ETTh1", "ETTh1"]


def test_a_download_records_its_digest_before_it_takes_its_place(isolated, http_root, monkeypatch):
    """The file was moved in, then hashed again for its .sha256: a Ctrl-C in between left a
    file with no record, trusted unchecked by every later run."""
    root, base = http_root
    payload = csv_bytes(100)
    (root / "ETTh2.csv").write_bytes(payload)
    fake_spec(monkeypatch, f"{base}/ETTh2.csv", n_rows=100)
    real_replace = os.replace
    recorded_first, stop = [], [True]

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == "ETTh2.csv":
            recorded_first.append(_sidecar_of(dst).is_file())
            if stop.pop():  # a Ctrl-C as the file is moved in: no record is left without it
                raise KeyboardInterrupt
        return real_replace(src, dst, *args, **kwargs)

    def hashed_again(path):
        raise AssertionError(f"{path} was hashed again after its download")

    monkeypatch.setattr(datasets.os, "replace", replace)
    monkeypatch.setattr(datasets, "sha256_file", hashed_again)  # the digest of the transfer is used
    with pytest.raises(KeyboardInterrupt):
        load_dataset("ETTh2", data_dir=isolated / "new")
    assert list(isolated.iterdir()) == []  # nor the folder made for it
    stop.append(False)
    assert load_dataset("ETTh2").shape == (100, 7)
    assert recorded_first == [True, True]
    recorded = (isolated / "ETTh2.csv.sha256").read_text()
    assert recorded == f"{hashlib.sha256(payload).hexdigest()}  ETTh2.csv\n"


def _sidecar_of(path) -> Path:
    return Path(path).with_name(Path(path).name + ".sha256")


@pytest.mark.parametrize("kind", ["file", "missing"])
def test_tsmamba_data_that_is_not_a_folder_is_an_error_before_any_download(isolated, http_root, tmp_path,
                                                                            monkeypatch, kind):
    """It was ignored without a word, and the file downloaded into the download folder."""
    root, base = http_root
    (root / "ETTh2.csv").write_bytes(csv_bytes(100))
    fake_spec(monkeypatch, f"{base}/ETTh2.csv", n_rows=100)
    env = tmp_path / "data.csv"
    if kind == "file":
        env.write_text("not a folder")
    monkeypatch.setenv(datasets.DATA_ENV, str(env))
    what = "a file" if kind == "file" else "no such folder"
    with pytest.raises(DataNotFoundError, match=rf"^\$TSMAMBA_DATA = {env} is not a folder \({what}\); point "
                                                r"it at the folder that holds the data files \(export "
                                                r"TSMAMBA_DATA=/path/to/datasets\), or unset it$"):
        load_dataset("ETTh2")
    assert list(isolated.iterdir()) == []
    (isolated / "ETTh2.csv").write_bytes(csv_bytes(100))  # a file found elsewhere is still used
    assert load_dataset("ETTh2", verify=False).shape == (100, 7)


class MergedLength(http.server.BaseHTTPRequestHandler):
    """Sends a CSV with 'N, N' for its length, as a proxy merging two headers does."""

    body = csv_bytes(100)

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", f"{len(self.body)}, {len(self.body)}")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


class EncodedCutShort(Encoded):
    """A gzip-encoded body that stops halfway through the length it announced."""

    def do_GET(self):
        body = gzip.compress(csv_bytes(100))
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])


@pytest.fixture
def serve():
    """``serve(Handler)`` -> base URL of a local HTTP server with that handler."""
    servers = []

    def start(handler):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_length_that_does_not_parse_counts_as_none(serve, tmp_path):
    """int('N, N') escaped as a ValueError traceback."""
    base = serve(MergedLength)
    download(f"{base}/x.csv", tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_bytes() == MergedLength.body


@pytest.mark.parametrize("name", ["x.csv.gz", "x.csv"])
def test_an_encoded_download_cut_short_is_an_error(serve, tmp_path, name):
    """The length was not checked when the body was encoded, though urllib does not decode it:
    half a transfer was kept."""
    base = serve(EncodedCutShort)
    with pytest.raises(DataNotFoundError, match=r"ended after \d+ of \d+ bytes; nothing was written"):
        download(f"{base}/{name}", tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_where_the_download_goes_is_named_before_the_transfer(tmp_path):
    """It was found by the rename after the transfer, as a bare IsADirectoryError naming the
    temporary file."""
    source = tmp_path / "src.csv"
    source.write_bytes(csv_bytes(20))
    folder = tmp_path / "out" / "x.csv"
    folder.mkdir(parents=True)
    (tmp_path / "link.csv").symlink_to(folder)
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"cannot download {source.as_uri()} to {folder}: it is a folder; move the folder away or "
            "download to another file name")):
        download(source.as_uri(), folder)
    link = tmp_path / "link.csv"
    with pytest.raises(DataNotFoundError, match=re.escape(f"to {link} (a link to {folder}): it is a folder")):
        download(source.as_uri(), link)
    assert [p.name for p in folder.parent.iterdir()] == ["x.csv"] and not any(folder.iterdir())


def test_an_upper_case_recorded_digest_is_accepted(tmp_path):
    """A .sha256 sidecar written in upper-case hex checks the file like a lower-case one
    (helper: `fields[0].lower()` -> `fields[0]` passed)."""
    own = tmp_path / "mine.csv"
    own.write_bytes(b"abc")
    digest = hashlib.sha256(b"abc").hexdigest()
    (tmp_path / "mine.csv.sha256").write_text(digest.upper() + "  mine.csv\n")
    assert verify_file(own) == digest


def test_a_subfolder_is_searched_in_name_order(tmp_path):
    """With the file in two subfolders, the first by name is found, whatever the listing order
    (helper: `sorted(...)` -> `sorted(..., reverse=True)` passed)."""
    for sub in ("b_copy", "a_main", "c_old"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "ETTh2.csv").write_bytes(sub.encode())
    assert find_dataset("ETTh2", data_dir=tmp_path) == tmp_path / "a_main" / "ETTh2.csv"


def test_a_folder_named_twice_is_listed_once_in_the_advice(isolated, tmp_path):
    """data_dir equal to $TSMAMBA_DATA: the not-found message names each folder once
    (helper: `if d not in unique` -> `if True` passed)."""
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("ETTm2", data_dir=tmp_path / "env", download=False)
    msg = str(err.value)
    assert msg.count(f"  - {tmp_path / 'env'}\n") == 1 and msg.count(f"  - {isolated}") == 1


def test_list_datasets_names_the_file_a_download_is_saved_as():
    """'download' is the URL's file name, which can differ from the first accepted form
    (helper: `spec.download_name` -> `spec.filenames[0]` passed)."""
    rows = {row["name"]: row for row in datasets.list_datasets()}
    assert rows["ETTm1"]["file"] == "ETTm1.csv.gz" and rows["ETTm1"]["download"] == "ETTm1.csv"
    assert rows["Weather"]["file"] == "weather.csv.gz" and rows["Weather"]["download"] == "weather.csv"


def test_synthetic_ett_of_one_row_or_under_a_day_is_finite():
    """A single row (no time span) gives finite values, not a 0/0 trend
    (helper: `days / max(days[-1], 1.0)` -> `days / days[-1]` passed)."""
    for n_rows in (1, 2, 5):
        values = synthetic_ett(n_rows=n_rows).drop(columns="date").to_numpy()
        assert values.shape == (n_rows, 7) and np.isfinite(values).all()


def test_a_sidecar_digest_longer_than_sha256_is_malformed(tmp_path):
    """A 128-digit (sha512) or 65-digit record is refused as malformed, not blamed on the file
    (helper: `len(digest) != 64` -> `len(digest) < 64` passed)."""
    own = tmp_path / "mine.csv"
    own.write_bytes(b"abc")
    for recorded in (hashlib.sha512(b"abc").hexdigest(), hashlib.sha256(b"abc").hexdigest() + "0"):
        (tmp_path / "mine.csv.sha256").write_text(recorded + "  mine.csv\n")
        with pytest.raises(ChecksumError, match=r"mine\.csv\.sha256 is empty or malformed"):
            verify_file(own)
