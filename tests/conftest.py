"""Shared fixtures. Keep this file small: add a fixture here only when several test files use it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tsmamba.checkpoint import META_DIGEST


@pytest.fixture(scope="session")
def benchmark_file() -> Callable[[str], Path]:
    """``benchmark_file("ETTh1")`` -> path of that registry data set's file, or skip the test.

    Files are found as :func:`tsmamba.datasets.find_dataset` finds them: ``$TSMAMBA_DATA``
    (default ``../shared/datasets``) or the repository's ``datasets/`` folder.
    """
    from tsmamba import datasets

    def get(name: str) -> Path:
        path = datasets.find_dataset(name)
        if path is None:
            spec = datasets.get_spec(name)
            pytest.skip(
                f"benchmark file {spec.filenames[0]} not found in {datasets.data_root()} or "
                f"{datasets.download_dir()}; set ${datasets.DATA_ENV} to its folder"
            )
        return path

    return get


@pytest.fixture(scope="session")
def dateutil_zones() -> None:
    """Skip the test unless pandas converts times to a dateutil zone read from this machine's tz
    database (pandas 2.2 with python-dateutil 4 fails inside pandas, in get_dst_info; pandas 3
    works)."""
    import dateutil
    import dateutil.tz
    import pandas as pd

    utc = pd.date_range("2024-03-25", periods=2, freq="h", tz="UTC")
    try:
        utc.tz_convert(dateutil.tz.gettz("Europe/Paris")).tz_localize(None)
    except AttributeError as exc:
        pytest.skip(f"pandas {pd.__version__} with python-dateutil {dateutil.__version__} cannot "
                    f"convert times to dateutil zones ({exc})")


@pytest.fixture(scope="session")
def unsigned_meta() -> Callable[[Path], dict]:
    """The meta.json of a save, without its own digest, as saves were written before they had one:
    edited by hand and written back, it reaches the load checks behind the digest check."""

    def read(folder: Path) -> dict:
        meta = json.loads((Path(folder) / "meta.json").read_text())
        meta.pop(META_DIGEST, None)
        return meta

    return read
