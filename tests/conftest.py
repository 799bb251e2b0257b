"""Shared fixtures. Keep this file small: add a fixture here only when several test files use it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


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
