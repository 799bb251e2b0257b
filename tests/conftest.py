"""Shared fixtures. Keep this file small: add a fixture here only when several test files use it."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from tsmamba.checkpoint import META_DIGEST


@pytest.fixture(scope="session")
def experiment_script() -> Callable[[str], ModuleType]:
    """``experiment_script("ltsf")`` -> ``experiments/ltsf.py`` loaded as a module (the scripts
    are not a package)."""

    def load(name: str) -> ModuleType:
        path = Path(__file__).resolve().parents[1] / "experiments" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def ridge_series() -> tuple[np.ndarray, np.ndarray, dict]:
    """The closed-form experiments' series: three channels with a 4-step cycle (one noisy sine, one
    random walk, one white noise; 400 rows, seed 0), each row's phase, and LTSF-style borders for a
    lookback of 8 (train 250 rows, validation and test each starting 8 rows early)."""
    rng = np.random.default_rng(0)
    t = np.arange(400)
    values = np.stack([np.sin(2 * np.pi * t / 4) + 0.3 * rng.standard_normal(400),
                       np.cumsum(0.2 * rng.standard_normal(400)),
                       rng.standard_normal(400)], axis=1)
    borders = {"train": (0, 250), "val": (250 - 8, 320), "test": (320 - 8, 400)}
    return values, t % 4, borders


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


def _wall_clock_cycle(index: pd.DatetimeIndex) -> pd.DataFrame:
    """Two channels that are exactly a function of each row's wall-clock hour: a daily cycle
    that follows the local clock through DST changes (as a household's load does)."""
    hour = index.hour.to_numpy() + index.minute.to_numpy() / 60
    return pd.DataFrame({"load": 3 * np.sin(2 * np.pi * hour / 24) + np.cos(4 * np.pi * hour / 24),
                         "peak": 5.0 * (index.hour.to_numpy() == 8)}, index=index)


@pytest.fixture(scope="session")
def wall_clock_cycle() -> Callable[[pd.DatetimeIndex], pd.DataFrame]:
    """``wall_clock_cycle(index)`` -> (T, 2) frame, each value a function of its wall-clock hour."""
    return _wall_clock_cycle


@pytest.fixture(scope="session")
def new_york_cycle_model():
    """A cycle model fitted on an hourly New York series that is its wall-clock cycle and nothing
    else, through the clocks going back (2021-11-07): its cycle is the per-hour means, its
    linear start and (near-zero learning rate) training keep the rest at zero. Its forecasts
    are that cycle at the forecast steps' own wall-clock hours, wherever the clocks change."""
    from tsmamba.estimator import TSMambaForecaster

    index = pd.date_range("2021-10-20", periods=720, freq="h", tz="America/New_York", name="date")
    return TSMambaForecaster(
        context_length=24, horizon=12, d_model=8, n_layers=1, d_state=4, headdim=8, max_epochs=1,
        batch_size=64, progress=False, random_state=0, norm="none", cycle_length=24, input_skip=True,
        linear_init=True, learning_rate=1e-9,
    ).fit(_wall_clock_cycle(index))
