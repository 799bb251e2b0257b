"""Backtests: rolling-origin evaluation of a forecaster, and the LTSF benchmark protocol.

Two entry points, one result type:

:func:`backtest`
    Rolling origins over one series. An *origin* is the positional index of the last observed
    row; the forecast for origin ``o`` covers rows ``o+1 .. o+H`` and is scored against them.
    Origins start at ``start`` and advance by ``stride`` rows (at most ``n_windows`` of them);
    origins whose target would run past the last row are not used. The forecaster is fitted on
    rows up to the first origin (``refit=False``), or refitted every ``k`` origins
    (``refit=k``, ``refit=True`` meaning every origin), on an expanding window (all rows so far)
    or a sliding one (the last ``train_length`` rows). The forecaster's ``forecast_origins``
    gets the series cut after each origin, one call per origin, so no forecast can see its own
    target; :class:`~tsmamba.estimator.TSMambaForecaster`, whose forecasts read no row after
    their origin (tested), forecasts all origins between refits in one batched call.

:func:`backtest_ltsf`
    The standard long-term forecasting benchmark (see :func:`tsmamba.data.prepare_ltsf`):
    train on the train split with the validation split for early stopping, scale with the
    train split's statistics, forecast every test window at stride 1 and report MSE and MAE on
    the scaled values, averaged over all channels, steps and windows.

Both score the model and the baselines of :mod:`tsmamba.baselines` (last value, seasonal naive,
a linear model fitted on the same training rows) on the same windows, with every metric of
:mod:`tsmamba.metrics` overall, per channel and per horizon step. Target cells that
:func:`tsmamba.data.read_series` filled or imputed (its ``attrs["repairs"]``) were never observed:
they are inputs like any other value, but no metric of any model counts them, nor the MASE
scale, and ``config["unscored"]`` says how many were left out.
:class:`BacktestResult` holds the tidy forecasts and metrics and writes the report folder
(``metrics.json``, ``metrics.csv``, ``forecasts.csv`` and the figures of
:mod:`tsmamba.plotting`).

The forecaster is duck-typed: ``fit(df, **fit_kwargs)``, ``forecast_origins(df, origins, *,
context, batch_size)`` (``batch_size`` windows per pass, None: its own choice) returning
``(n_origins, H, C)`` in the data's units, ``context_length``, ``horizon`` and sklearn's
``get_params``/``set_params`` (it is copied with :func:`sklearn.base.clone` before every fit,
so the object passed in is never changed).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from tsmamba import __version__
from tsmamba.baselines import BASELINES, COLUMN_PREFIX, LinearBaseline, last_value
from tsmamba.checkpoint import fsync_path, missing_folders, remove_empty_folders, write_errors_name
from tsmamba.data import (
    LTSFData,
    StandardScaler,
    check_length,
    default_time_col,
    forecast_times,
    infer_freq,
    prepare_ltsf,
    read_strict,
    repaired_cells,
    timestamp_on,
)
from tsmamba.errors import (
    ConfigError,
    DataNotFoundError,
    DataValidationError,
    TrainingError,
    check_bool,
    nonnegative_int,
    positive_int,
)
from tsmamba.metrics import (
    METRICS,
    check_metrics,
    mase_lag,
    mase_scale,
    score,
    score_frame,
    seasonal_period,
    to_jsonable,
)

__all__ = [
    "CONTEXTS",
    "LTSF_UNITS",
    "WINDOWS",
    "BacktestPlan",
    "BacktestResult",
    "FitBlock",
    "backtest",
    "backtest_ltsf",
    "data_fingerprint",
    "plan_backtest",
    "read_forecasts",
]

CONTEXTS = ("window", "full")
"""How a forecast reads the history: the last ``context_length`` rows, or every row so far."""
WINDOWS = ("expanding", "sliding")
"""Training windows: all rows up to the origin, or the last ``train_length`` of them."""
REPORT_FILES = (
    "metrics.json", "metrics.csv", "forecasts.csv", "forecast.png", "error_by_step.png",
    "error_over_time.png",
)
"""The files :meth:`BacktestResult.save_report` may write (and the only ones it removes)."""
_STAGING = re.compile(r"\.report\.[a-z0-9_]{8}")  # tempfile.mkdtemp(prefix=".report.") names

LINEAR_PIECE = 4096  # origins the linear baseline forecasts at a time (memory: one piece's contexts)
DEFAULT_START = 0.7
"""Without ``start`` and ``n_windows``, the first 70 % of the rows are history at the first origin."""
LTSF_UNITS = "scaled: train-split z-score"
"""The units of an LTSF backtest's forecasts and scores: each channel less its train-split mean,
over its train-split standard deviation. ``forecasts.csv`` says so in its ``units`` column, the
figures on their value axes; a rolling backtest's are the data's own (no such column)."""



# --------------------------------------------------------------------------------------------
# the plan: origins, targets, training ranges


@dataclass(frozen=True)
class FitBlock:
    """One fit and the origins it forecasts.

    ``train`` is the row range ``[start, end)`` the forecaster is fitted on (``None``: the
    forecaster came fitted and is used as it is); it forecasts ``origins[first:stop]``.
    """

    train: tuple[int, int] | None
    first: int
    stop: int


@dataclass(frozen=True)
class BacktestPlan:
    """Where a rolling backtest forecasts from and what it trains on (row positions only).

    ``origins[i]`` is the last observed row of forecast ``i``; its target rows are
    ``origins[i] + 1 .. origins[i] + horizon``. ``blocks`` lists the fits in order.
    """

    n_rows: int
    horizon: int
    origins: np.ndarray
    blocks: tuple[FitBlock, ...]
    window: str
    train_length: int | None

    @property
    def n_windows(self) -> int:
        return len(self.origins)

    @property
    def n_fits(self) -> int:
        return sum(block.train is not None for block in self.blocks)

    def targets(self) -> np.ndarray:
        """``(n_windows, horizon)`` row positions of every forecast's target."""
        return self.origins[:, None] + 1 + np.arange(self.horizon)[None, :]


def _refit_every(refit: Any) -> int | None:
    """``False`` -> None (fit once), ``True`` -> 1, ``k`` -> k."""
    if refit is None or (isinstance(refit, (bool, np.bool_)) and not refit):
        return None
    if isinstance(refit, (bool, np.bool_)):
        return 1
    if isinstance(refit, (int, np.integer)) and refit >= 1:
        return int(refit)
    raise ConfigError(
        f"refit must be False, True or a positive integer k (refit every k origins), got {refit!r}"
    )


def _resolve_start(start: Any, n_rows: int, index: pd.DatetimeIndex | None) -> int:
    """The first origin's row for ``start``: an int row, a float fraction, or a time (a naive
    time is read in the index's zone, an aware one converted to it; an aware time on a naive
    index is a :class:`ConfigError`)."""
    if isinstance(start, bool):
        raise ConfigError(f"start must be a row number, a fraction or a timestamp, got {start!r}")
    if isinstance(start, (int, np.integer)):
        row = int(start) + (n_rows if start < 0 else 0)
        if not 0 <= row < n_rows:
            raise ConfigError(f"start row {start} is outside the {n_rows} rows")
        return row
    if isinstance(start, (float, np.floating)):
        if not 0.0 < start < 1.0:
            raise ConfigError(
                f"a float start is the fraction of rows observed at the first origin and must lie "
                f"in (0, 1), got {start!r}; pass an int for a row number"
            )
        # exact: 0.7 * 700 is 489.99999999999994 in floats, which would observe 489 rows
        return max(math.floor(Fraction(str(start)) * n_rows) - 1, 0)
    if index is None:
        raise ConfigError("a timestamp start needs the series' DatetimeIndex")
    try:
        named = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"start {start!r} is not a row number, fraction or timestamp") from exc
    if named is pd.NaT:  # "" and "NaT" read as no time: they had become the last row
        raise ConfigError(f"start {start!r} is not a row number, fraction or timestamp")
    when = timestamp_on(index, start, "start")
    row = int(index.searchsorted(when, side="right")) - 1  # last row at or before `when`
    if row < 0:
        raise ConfigError(f"start {when} lies before the first timestamp {index[0]}")
    return row


def _start_from(row: int, last: int, n_rows: int) -> str:
    """The advice to start at ``row`` when an origin can be there (``last`` is the last one)."""
    if row <= last:
        return f"start at row {row} or later, or "
    return f"the {n_rows} rows are too few to start late enough; "


def _row_label(row: int, index: pd.DatetimeIndex | None) -> str:
    return f"row {row}" if index is None else f"row {row} ({index[row]})"


def plan_backtest(
    n_rows: int,
    horizon: int,
    *,
    context_length: int,
    start: Any = None,
    n_windows: int | None = None,
    stride: int = 1,
    window: str = "expanding",
    train_length: int | None = None,
    refit: bool | int = False,
    context: str = "window",
    fit: bool = True,
    index: pd.DatetimeIndex | None = None,
    fit_horizon: int | None = None,
) -> BacktestPlan:
    """The origins, targets and training ranges of a rolling backtest; see :func:`backtest`.

    ``fit=False`` plans for a forecaster that is already fitted and not refitted (one block
    without a training range). ``fit_horizon``: the horizon the fits train with when it is
    longer than the scored ``horizon`` (a forecaster's own); training windows need it. Raises
    :class:`ConfigError` for invalid options and :class:`DataValidationError` when the series is
    too short for them.
    """
    horizon = positive_int(horizon, "horizon")
    context_length = positive_int(context_length, "context_length")
    stride = positive_int(stride, "stride")
    n_windows = positive_int(n_windows, "n_windows", allow_none=True)
    train_length = positive_int(train_length, "train_length", allow_none=True)
    every = _refit_every(refit)
    if window not in WINDOWS:
        raise ConfigError(f"window must be one of {WINDOWS}, got {window!r}")
    if context not in CONTEXTS:
        raise ConfigError(f"context must be one of {CONTEXTS}, got {context!r}")
    if window == "expanding" and train_length is not None:
        raise ConfigError("train_length applies to window='sliding' (an expanding window keeps every "
                          "row): pass window='sliding', or drop train_length")
    if every is not None and not fit:
        raise ConfigError("refit needs a forecaster the backtest may fit (fit=True)")
    if window == "sliding" and not fit:  # it had been recorded in the report, and nothing slid
        raise ConfigError(
            "window='sliding' sets the training rows of the backtest's fits, and a fitted forecaster "
            "with refit=False is used as it is, without a fit: pass refit=True (or k) to refit it on "
            "a sliding window, or drop window and train_length"
        )
    n_rows = int(n_rows)
    check_length(n_rows, horizon + 1, f"a backtest with horizon={horizon}")
    last = n_rows - 1 - horizon  # the last origin whose target ends at the last row
    trained = max(horizon, fit_horizon or 0)  # the horizon the fits train with
    needed = context_length + trained  # rows for one (context, target) training window

    if start is None and n_windows is not None:  # at most n_windows: from the earliest usable origin
        earliest = context_length - 1 if context == "window" else 0
        if fit:
            earliest = max(earliest, needed - 1, (train_length or 0) - 1)
        first = min(max(last - stride * (n_windows - 1), earliest), last)
        first = last - stride * ((last - first) // stride)  # keep `last` on the grid
    else:
        first = _resolve_start(DEFAULT_START if start is None else start, n_rows, index)
    if first > last:
        raise DataValidationError(
            f"no forecast origin: the first origin {_row_label(first, index)} leaves fewer than "
            f"horizon={horizon} rows after it in the {n_rows} rows; start earlier "
            f"(at row {last} or before)"
        )
    origins = np.arange(first, last + 1, stride, dtype=np.int64)
    if n_windows is not None:
        origins = origins[:n_windows]

    if context == "window" and first < context_length - 1:
        earliest = needed - 1 if fit else context_length - 1
        raise DataValidationError(  # (the start it advises passes the training check too)
            f"the first origin {_row_label(first, index)} has {first + 1} rows of history, window "
            f"forecasts need context_length={context_length}: "
            f"{_start_from(earliest, last, n_rows)}use a shorter context_length"
            + ("" if fit else ", or context='full'")  # a fit needs those rows to train on anyway
        )
    if window == "sliding":
        train_length = train_length or first + 1
        if fit and train_length > first + 1:
            raise DataValidationError(
                f"train_length={train_length} rows do not fit before the first origin "
                f"{_row_label(first, index)} ({first + 1} rows); start later or shorten train_length"
            )
        if fit and train_length < needed:
            raise ConfigError(
                f"train_length={train_length} is shorter than one training window "
                f"(context_length + horizon = {context_length} + {trained} = {needed} rows)"
            )
    elif fit and first + 1 < needed:
        raise DataValidationError(
            f"the first origin {_row_label(first, index)} has {first + 1} rows to train on; one "
            f"training window needs context_length + horizon = {context_length} + {trained} = "
            f"{needed}: "
            f"{_start_from(needed - 1, last, n_rows)}shorten context_length or horizon"
        )

    def train_rows(origin: int) -> tuple[int, int]:
        end = int(origin) + 1
        return (0, end) if window == "expanding" else (end - int(train_length), end)

    n = len(origins)
    if not fit:
        blocks = (FitBlock(None, 0, n),)
    else:
        starts = [0] if every is None else list(range(0, n, every))
        stops = [*starts[1:], n]
        blocks = tuple(FitBlock(train_rows(origins[a]), a, b) for a, b in zip(starts, stops, strict=True))
    return BacktestPlan(
        n_rows=n_rows,
        horizon=horizon,
        origins=origins,
        blocks=blocks,
        window=window,
        train_length=train_length if window == "sliding" else None,
    )


# --------------------------------------------------------------------------------------------
# the result


def data_fingerprint(values: np.ndarray, index: pd.DatetimeIndex | None = None) -> dict[str, Any]:
    """sha256 of the values (float64, C order) with their shape and the first/last timestamp."""
    arr = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    digest = hashlib.sha256()
    digest.update(repr(arr.shape).encode())
    digest.update(arr.tobytes())
    out: dict[str, Any] = {"sha256": digest.hexdigest(), "shape": list(arr.shape)}
    if index is not None and len(index):
        out["first"] = str(index[0])
        out["last"] = str(index[-1])
    return out


def _versions() -> dict[str, str]:
    out = {"tsmamba": __version__, "python": platform.python_version()}
    for package in ("torch", "numpy", "pandas", "lightning"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return out


def _improvement(model: float, baseline: float) -> float | None:
    """Percent by which the model's error is below the baseline's (positive: model better)."""
    if not (math.isfinite(model) and math.isfinite(baseline)) or baseline == 0:
        return None
    return 100.0 * (baseline - model) / baseline


@dataclass
class BacktestResult:
    """Forecasts, scores and provenance of one backtest.

    ``forecasts``: tidy frame, one row per (origin, channel, step) with columns ``origin``,
    ``timestamp``, ``channel``, ``step``, ``y``, ``yhat`` and ``yhat_<baseline>``, ``observed``
    when some target was filled or imputed (False: scored by no metric), and for an LTSF
    backtest ``units`` (:data:`LTSF_UNITS`: its values are scaled).
    ``metrics``: tidy frame (model, scope, channel, step, metric, value) for the model and every
    baseline. ``scores``: :func:`tsmamba.metrics.score` output per model name. ``summary``: the
    overall numbers, window count and relative improvements. ``arrays``: ``y``, ``yhat`` and
    ``yhat_<baseline>`` as ``(N, H, C)`` arrays (and ``observed``, booleans, with that column).
    ``forecaster``: the (last) fitted model.
    """

    forecasts: pd.DataFrame
    metrics: pd.DataFrame
    scores: dict[str, dict[str, Any]]
    summary: dict[str, Any]
    config: dict[str, Any]
    timings: dict[str, float]
    data: dict[str, Any]
    history: pd.DataFrame | None = field(default=None, repr=False)
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    forecaster: Any = field(default=None, repr=False)

    @property
    def model_name(self) -> str:
        return str(self.summary["model"])

    @property
    def n_windows(self) -> int:
        return int(self.summary["n_windows"])

    @property
    def units(self) -> str | None:
        """:data:`LTSF_UNITS` for an LTSF backtest, whose values are scaled; None for the data's
        own units (a rolling backtest)."""
        return LTSF_UNITS if self.config.get("protocol") == "ltsf" else None

    def table(self, metrics: Sequence[str] = ("mse", "mae", "rmse", "smape", "mase")) -> pd.DataFrame:
        """Overall scores, one row per model (the model first, then the baselines), plus the
        model's improvement over each baseline in MSE and MAE, in percent (a name not in
        :data:`~tsmamba.metrics.METRICS` is a ConfigError; one not computed, an empty column)."""
        check_metrics(metrics)  # "r2" had been a column of NaN, as if it were not computed
        rows = {}
        for name, result in self.scores.items():
            rows[name] = {m: result["overall"].get(m, float("nan")) for m in metrics}
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "model"
        for metric in ("mse", "mae"):
            improvements = self.summary["improvement_pct"]
            frame[f"{metric}_gain_%"] = [
                float("nan") if name == self.model_name else improvements.get(name, {}).get(metric)
                for name in frame.index
            ]
        return frame

    def report(self, *, forecasts_csv: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The content of ``metrics.json`` (strict JSON: NaN and inf become null).

        ``forecasts_csv`` describes what ``forecasts.csv`` holds (set by :meth:`save_report`).
        """
        model = self.model_name
        return to_jsonable(
            {
                "tsmamba_version": __version__,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "protocol": self.config.get("protocol"),
                "model": model,
                "n_windows": self.n_windows,
                "config": self.config,
                "data": self.data,
                "scores": self.scores[model],
                "baselines": {k: v for k, v in self.scores.items() if k != model},
                "improvement_pct": self.summary["improvement_pct"],
                "timings": self.timings,
                "forecasts_csv": dict(forecasts_csv) if forecasts_csv else None,
                "versions": _versions(),
            }
        )

    def to_json(self, path: str | os.PathLike, *, forecasts_csv: Mapping[str, Any] | None = None) -> Path:
        """Write :meth:`report` to ``path`` (the report's ``metrics.json``)."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.report(forecasts_csv=forecasts_csv), indent=2, allow_nan=False)
        out.write_text(text + "\n", encoding="utf-8")
        return out

    def forecast_sample(self, max_rows: int | None) -> tuple[pd.DataFrame, dict[str, Any]]:
        """The forecasts of evenly spaced origins (first and last included), at most ``max_rows``
        rows (every origin when ``max_rows`` is None or large enough), and a note saying so."""
        frame = self.forecasts
        origins = frame["origin"].unique()
        total = int(self.config.get("forecast_origins_kept", [len(origins)] * 2)[1])
        note = {"rows": len(frame), "origins": len(origins), "origins_total": total,
                "complete": len(origins) == total}
        if max_rows is None or len(frame) <= max_rows:
            return frame, note
        per_origin = max(1, len(frame) // max(1, len(origins)))
        picked = origins[_evenly_spaced(len(origins), _origins_within(max_rows, per_origin))]
        sample = frame[frame["origin"].isin(picked)]
        note.update(rows=len(sample), origins=len(picked), complete=False)
        return sample, note

    def to_csv(
        self, path: str | os.PathLike, *, max_rows: int | None = None, float_format: str | None = None
    ) -> Path:
        """Write the tidy forecasts to ``path`` (the report's ``forecasts.csv``); with
        ``max_rows``, only those of evenly spaced origins (see :meth:`forecast_sample`).
        ``float_format=None`` writes every value exactly (the shortest text that reads back to
        the same float), so scores recomputed from the file equal the result's."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        frame, _ = self.forecast_sample(max_rows)
        _write_forecasts_csv(frame, out, float_format)
        return out

    def plot(self, out_dir: str | os.PathLike, *, max_rows: int | None = None) -> list[Path]:
        """forecast.png, error_by_step.png and error_over_time.png in ``out_dir``; only
        error_by_step.png (drawn from the scores) when no forecasts were kept. ``max_rows``: the
        forecasts drawn are those of :meth:`forecast_sample` (what ``forecasts.csv`` holds)."""
        from tsmamba.plotting import plot_error_by_step, save_report_plots  # matplotlib only here

        computed = list(dict.fromkeys(self.metrics["metric"]))  # MAE, else the first computed one
        metric = "mae" if "mae" in computed else computed[0]
        drawn, note = self.forecast_sample(max_rows)
        if drawn.empty:  # scores only (max_forecast_rows=0): no forecast to draw
            warnings.warn(
                "this backtest kept no forecasts (max_forecast_rows=0), so only error_by_step.png "
                "is drawn; run it with max_forecast_rows > 0 for forecast.png and error_over_time.png",
                UserWarning,
                stacklevel=2,
            )
            out = Path(out_dir)
            out.mkdir(parents=True, exist_ok=True)
            return [plot_error_by_step(self.metrics, out / "error_by_step.png", metric=metric,
                                       units=self.units)]
        return save_report_plots(drawn, self.metrics, out_dir, history=self.history, metric=metric,
                                 model_name=self.model_name, origins_total=note["origins_total"],
                                 units=self.units)

    def save_report(
        self,
        out_dir: str | os.PathLike,
        *,
        forecasts: bool = True,
        plots: bool = True,
        max_forecast_rows: int | None = 250_000,
    ) -> dict[str, Path]:
        """Write the report folder: metrics.json, metrics.csv, forecasts.csv and the figures.

        ``forecasts.csv`` holds every origin unless that is more than ``max_forecast_rows`` rows
        (an LTSF test split is 2785 origins x H x C: 1.9 million rows for ETTh1 at H=96); then
        it holds evenly spaced origins, and ``metrics.json`` says how many under
        ``forecasts_csv``. Scores always use every window. ``None`` writes every row.
        A report file of an earlier run that this one does not write (``forecasts.csv`` or a
        figure, with ``forecasts=False`` or ``plots=False``) is removed, so the folder never
        mixes runs; other files are left alone. The files are written in full elsewhere first;
        ``metrics.json`` is removed before the others move in and moved in last, so a folder
        holding ``metrics.json`` holds one run's complete report even after a kill midway.
        Returns ``{file name: path}`` of what was written.
        """
        forecasts, plots = check_bool(forecasts, "forecasts"), check_bool(plots, "plots")  # "no" wrote them
        if max_forecast_rows is not None:  # -5 had written an empty forecasts.csv without a word
            max_forecast_rows = nonnegative_int(max_forecast_rows, "max_forecast_rows")
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise ConfigError(f"report folder {out} exists and is not a folder")
        in_the_way = [name for name in REPORT_FILES if (out / name).is_dir()]
        if in_the_way:  # found before the previous report's metrics.json is taken out
            raise ConfigError(f"{out} holds folder(s) named like report files ({in_the_way}); move "
                              "them away, or write the report elsewhere")
        made = missing_folders(out)  # removed again, while empty, if the write fails or is stopped
        out.mkdir(parents=True, exist_ok=True)
        leftovers = sorted(p.name for p in out.glob(".report.*") if _STAGING.fullmatch(p.name))
        if leftovers:  # each a partial report (forecasts.csv can be hundreds of MB)
            warnings.warn(
                f"{out} holds {leftovers}, staging folders of report writes that were killed "
                "(or are running now); delete them once no report is being written there",
                UserWarning,
                stacklevel=2,
            )
        # every file is written in a staging folder beside them and moved in only when all are
        # complete: a run that fails (a full disk) leaves the previous report as it was
        try:
            staging = Path(tempfile.mkdtemp(prefix=".report.", dir=out))
            try:
                with write_errors_name(out):  # a full disk names the report folder
                    names = self._write_staged(staging, out, forecasts, plots, max_forecast_rows)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            remove_empty_folders(made)
            raise
        return {name: out / name for name in names}

    def _write_staged(
        self, staging: Path, out: Path, forecasts: bool, plots: bool, max_forecast_rows: int | None
    ) -> list[str]:
        """Write the report files in ``staging``, then move them into ``out``; their names."""
        note = None
        if forecasts:
            sample, note = self.forecast_sample(max_forecast_rows)
            _write_forecasts_csv(sample, staging / "forecasts.csv")
        self.to_json(staging / "metrics.json", forecasts_csv=note)
        self.metrics.to_csv(staging / "metrics.csv", index=False, float_format="%.8g")
        if plots:  # the figures draw the origins forecasts.csv holds (all of them when none is written)
            self.plot(staging, max_rows=max_forecast_rows if forecasts else None)
        names = sorted(p.name for p in staging.iterdir())
        for name in names:
            fsync_path(staging / name)  # on disk before a rename can make it the report's
        # metrics.json, the report's index, leaves first and comes back last: a folder that holds
        # one holds a single run's report, whenever a kill comes
        order = sorted(names, key=lambda name: name == "metrics.json")

        def move_in() -> None:  # from wherever an interrupted call left it
            if (staging / "metrics.json").exists():  # the new index not in yet: the old one goes
                (out / "metrics.json").unlink(missing_ok=True)
            for name in REPORT_FILES:
                if name not in names:
                    (out / name).unlink(missing_ok=True)
            for name in order:
                if (staging / name).exists():
                    os.replace(staging / name, out / name)

        try:
            move_in()
        except BaseException as exc:
            if isinstance(exc, Exception):  # a failed rename: the next run completes the folder
                raise
            # Ctrl-C or SIGTERM in these few milliseconds had left neither report whole (the
            # earlier one's metrics.json gone): finish moving the new one in, then stop
            move_in()
            raise
        fsync_path(out)
        return names

    def __repr__(self) -> str:
        overall = self.scores[self.model_name]["overall"]
        return (
            f"BacktestResult({self.config.get('protocol')}, {self.n_windows} windows, "
            f"horizon {self.summary['horizon']}, mse={overall.get('mse', float('nan')):.4g}, "
            f"mae={overall.get('mae', float('nan')):.4g})"
        )


# --------------------------------------------------------------------------------------------
# shared pieces


def _write_forecasts_csv(frame: pd.DataFrame, path: Path, float_format: str | None = None) -> None:
    """Write tidy forecasts as CSV, times as :func:`_time_text` writes them. Read them back with
    ``pd.to_datetime(column, utc=True)`` when they carry UTC offsets."""
    out = frame.copy(deep=False)
    for column in ("origin", "timestamp"):
        out[column] = _time_text(out[column])
    out.to_csv(path, index=False, float_format=float_format)


# pandas 2's default float parser can be one ulp off; pandas 3's is exact and deprecates the
# option (a Pandas4Warning at every read)
_EXACT_FLOATS = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def read_forecasts(path: str | os.PathLike) -> pd.DataFrame:
    """A report's ``forecasts.csv`` as :meth:`BacktestResult.save_report` wrote it: channel names
    as text (a plain ``pd.read_csv`` reads a channel named ``NA`` or ``None`` as NaN and ``01``
    as the number 1), values as the very floats scored, times as Timestamps (in UTC where their
    offsets change: a zone with DST)."""
    try:
        header = pd.read_csv(path, nrows=0).columns
        numbers = {str(c): ["", "NaN", "nan", "inf", "-inf"] for c in header if c != "channel"}
        frame = pd.read_csv(path, dtype={"channel": str}, keep_default_na=False, na_values=numbers,
                            **_EXACT_FLOATS)
    except FileNotFoundError:
        raise DataNotFoundError(f"forecasts file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise DataValidationError(f"{path} cannot be read as a forecasts table: {exc}") from exc
    for column in ("origin", "timestamp"):
        if column in frame.columns:
            frame[column] = forecast_times(frame[column], column)
    return frame


def _time_text(times: pd.Series) -> np.ndarray:
    """Times as text in one format per column, so that they parse back as one: naive times as
    ``2021-01-01 05:00:00``, with the 3, 6 or 9 fractional digits sub-second times need
    (``05:00:00.250``), zone-aware ones with their UTC offset (``2016-10-30 02:00:00+01:00``),
    so that the two hours named 02:00 on the day clocks go back stay distinct."""
    codes, uniques = pd.factorize(times)  # format each distinct time once
    uniques = pd.DatetimeIndex(uniques)
    wall = uniques.tz_localize(None) if uniques.tz is not None else uniques
    nanos = wall.as_unit("ns").asi8 % 10**9
    digits = next(d for d in (0, 3, 6, 9) if not (nanos % 10 ** (9 - d)).any())
    text = np.asarray(wall.strftime("%Y-%m-%d %H:%M:%S"), dtype=object)
    if digits:
        text += np.array([f".{n // 10 ** (9 - digits):0{digits}d}" for n in nanos], dtype=object)
    if uniques.tz is not None:
        text += np.array(  # the offset that isoformat puts after the wall-clock time: "+01:00"
            [t.isoformat()[len(t.tz_localize(None).isoformat()) :] for t in uniques], dtype=object
        )
    return text[codes]


REPAIR_LOOKAHEAD = (
    "(impute='ffill' fills a series' leading values backwards; impute='interpolate' and "
    "fill='interpolate' read the next value)"
)


def _repairs(
    repairs: Mapping[str, Any] | None, channels: Sequence[str], label: str, index: pd.DatetimeIndex,
    origins: np.ndarray,
) -> dict[str, Any] | None:
    """What read_series' fill= and impute= changed in a frame (its ``attrs["repairs"]``), for the
    report; a warning when the forecast at one of ``origins`` (rows of ``index``) reads a value of
    ``channels`` made from a row after that origin: its context holds it (a refit before it trained
    on it too: every fit ends at an origin, the LTSF protocol's at its first), so the window sees the
    future (a store not yet open, filled backwards from its first day). Made-up target cells are
    scored by no metric (:func:`_unscored`), so a value the windows hold only as a target flatters
    nothing. A run of such values (``from_later_spans``: first, last, after, count) is read ahead of
    its source by the origins at or after its first row and before ``after``, the latest row its
    values were made from; counted: its values up to the last such origin, per channel, in
    ``from_later_rows``, and those origins' windows, of all channels, in ``from_later_windows``.
    Runs no forecast reads ahead of its source are recorded only (in the frame's record)."""
    if not repairs:
        return None
    repairs = dict(repairs)
    spans = repairs.pop("from_later_spans", {})
    repairs.pop("from_later_rows", None)
    repairs.pop("repaired_spans", None)  # the cells: what they leave unscored is config["unscored"]
    stamps = index.as_unit("ns").asi8  # as the runs are
    at = stamps[np.asarray(origins, dtype=np.int64)]  # ascending
    starts, stops = [], []  # per run read ahead of its source: the origins [start, stop) that do
    later = {}
    for c in channels:
        runs = np.asarray(spans.get(c, ()), dtype=np.int64).reshape(-1, 4)  # (k, 4): first, last, after, n
        lo, hi = np.searchsorted(at, runs[:, 0], "left"), np.searchsorted(at, runs[:, 2], "left")
        read = hi > lo  # an origin o with first <= o < after
        if not read.any():
            continue
        lo, hi, runs = lo[read], hi[read], runs[read]
        up_to = np.minimum(runs[:, 1], at[hi - 1])  # the run's values the last such origin reads
        cells = np.searchsorted(stamps, up_to, "right") - np.searchsorted(stamps, runs[:, 0], "left")
        held = cells > 0  # a run before the rows of a slice of the frame: none of its values is read
        if held.any():
            later[c] = int(cells[held].sum())
            starts.append(lo[held])
            stops.append(hi[held])
    if not later:
        return repairs
    edges = np.zeros(len(at) + 1, dtype=np.int64)
    np.add.at(edges, np.concatenate(starts), 1)
    np.add.at(edges, np.concatenate(stops), -1)
    windows = int((np.cumsum(edges)[:-1] > 0).sum())
    repairs["from_later_rows"] = later
    repairs["from_later_windows"] = windows
    shown = ", ".join(f"{c!r} ({n})" for c, n in list(later.items())[:5])
    more = f", ... ({len(later)} channels)" if len(later) > 5 else ""
    warnings.warn(
        f"{label}: values of {shown}{more} were made from later rows {REPAIR_LOOKAHEAD}: the forecasts "
        f"of {windows} of the {len(at)} windows read them, in their context or their fit's training "
        "rows, before the row they were made from, so those windows see the future and their scores "
        "flatter every model (made-up targets are scored by no metric: it is the inputs that leak). "
        "Fill causally (impute='zero', fill='ffill' or fill='zero') or start the backtest after them",
        UserWarning,
        stacklevel=3,
    )
    return repairs


def _unscored(
    repaired: np.ndarray | None, targets: np.ndarray, scale_rows: tuple[int, int], season: int,
    channels: Sequence[str], label: str,
) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, Any] | None]:
    """The cells a backtest scores, from ``repaired`` ((T, C): True where read_series' fill= or
    impute= made the value up, None when the data records no repair): the observed target cells
    ``(N, H, C)`` of the windows whose target rows are ``targets`` (N, H), the observed cells of the
    MASE scale's training rows ``scale_rows`` = [start, end), each None when every cell is observed
    (the scores are then computed exactly as without a mask), and what was left out, for
    ``config["unscored"]``: the target cells (of all of them, and per channel), the windows left with
    no observed target cell (they score nothing), the training cells left out of the MASE scale and
    the channels that leaves with no observed pair at its lag (``season``'s :func:`mase_lag`). Warns
    when a channel, or every channel, has no observed target cell: its scores are NaN."""
    if repaired is None:
        return None, None, None
    observed = ~repaired[targets]  # (N, H, C)
    a, b = scale_rows
    scale_observed = ~repaired[a:b]
    left_out = (~observed).sum(axis=(0, 1))
    lag = mase_lag(b - a, season)
    paired = (scale_observed[lag:] & scale_observed[:-lag]).any(axis=0)  # (C,): has an observed pair
    record = {
        "why": "filled or imputed by read_series (attrs['repairs']): never observed, so never scored",
        "target_cells": int(left_out.sum()),
        "of": int(observed.size),
        "per_channel": {c: int(k) for c, k in zip(channels, left_out, strict=True) if k},
        "windows_without_target": int((~observed.any(axis=(1, 2))).sum()),
        "mase_scale_cells": int((~scale_observed).sum()),
        "mase_unscaled": [c for c, ok in zip(channels, paired, strict=True) if not ok],
    }
    if not observed.any():
        warnings.warn(
            f"{label}: every target cell of the {len(observed)} windows was filled or imputed when the "
            "data was read, so nothing observed is left to score and every score is NaN; start the "
            "backtest where the series have values of their own",
            UserWarning,
            stacklevel=3,
        )
    else:
        per_channel = observed.shape[0] * observed.shape[1]
        empty = [c for c, k in zip(channels, left_out, strict=True) if k == per_channel]
        if empty:
            warnings.warn(
                f"{label}: every target cell of channel(s) {empty[:5]}{' ...' if len(empty) > 5 else ''} "
                "was filled or imputed when the data was read, so their per-channel scores are NaN and "
                "the overall scores are those of the other channels",
                UserWarning,
                stacklevel=3,
            )
    return (None if observed.all() else observed, None if scale_observed.all() else scale_observed,
            record)


def _evenly_spaced(n: int, keep: int | None) -> np.ndarray:
    """Positions of ``keep`` evenly spaced items of ``n`` (first and last included; none for 0);
    all if None."""
    if keep is None or keep >= n:
        return np.arange(n)
    if keep < 1:
        return np.arange(0)
    return np.unique(np.linspace(0, n - 1, keep).round().astype(int))


def _origins_within(max_rows: int | None, per_origin: int) -> int | None:
    """Origins whose forecasts fit in ``max_rows`` rows: none for 0 (scores only), else at least
    one, so that a report always has a forecast to show (Traffic's one origin is 620,640 rows)."""
    if max_rows is None:
        return None
    return 0 if max_rows <= 0 else max(1, int(max_rows) // per_origin)


def _tidy_forecasts(
    index: pd.DatetimeIndex,
    origin_rows: np.ndarray,
    channels: Sequence[str],
    y: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    units: str | None = None,
    observed: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per (origin, channel, step); target row of step h is ``origin + h``. ``units``
    (values not in the data's own units): a last column ``units`` says them on every row.
    ``observed`` ((N, H, C) booleans): a column ``observed``, False for the rows scored by no
    metric (their ``y`` was filled or imputed)."""
    n, horizon, n_channels = y.shape
    target_rows = origin_rows[:, None, None] + np.arange(1, horizon + 1)[None, None, :]  # (N, 1, H)
    target_rows = np.broadcast_to(target_rows, (n, n_channels, horizon))
    frame = {
        "origin": index[np.repeat(origin_rows, n_channels * horizon)],
        "timestamp": index[target_rows.ravel()],
        "channel": pd.Categorical.from_codes(
            np.tile(np.repeat(np.arange(n_channels), horizon), n), categories=list(channels)
        ),
        "step": np.tile(np.arange(1, horizon + 1), n * n_channels),
        "y": y.transpose(0, 2, 1).ravel(),
    }
    for column, values in predictions.items():
        frame[column] = values.transpose(0, 2, 1).ravel()
    if observed is not None:
        frame["observed"] = observed.transpose(0, 2, 1).ravel()
    if units is not None:  # one byte a row in memory; in a CSV read back, a column of text
        frame["units"] = pd.Categorical.from_codes(np.zeros(n * n_channels * horizon, np.int8), [units])
    return pd.DataFrame(frame)


def _linear_forecasts(
    values: np.ndarray,
    train: tuple[int, int],
    contexts: np.ndarray,
    horizon: int,
    context_length: int,
    max_windows: int | None,
    seed: int,
) -> np.ndarray:
    """Fit :class:`LinearBaseline` on the (scaled) windows of ``values[train]``; forecast
    ``contexts`` (N, >=L, C) in original units, ``LINEAR_PIECE`` origins at a time: the scaled
    contexts of them all had been two (N, L, C) copies beside the (N, H, C) forecasts."""
    a, b = train
    scaler = StandardScaler().fit(values[a:b], warn_constant=False)  # the forecaster's fit names them
    model = _fit_linear(scaler.transform(values[a:b]), context_length, horizon, max_windows, seed)
    out = np.empty((len(contexts), horizon, contexts.shape[2]))
    for start in range(0, len(contexts), LINEAR_PIECE):
        piece = scaler.transform(contexts[start : start + LINEAR_PIECE, -context_length:])
        out[start : start + LINEAR_PIECE] = scaler.inverse_transform(model.predict(piece))
    return out


def _fit_linear(
    train: np.ndarray, context_length: int, horizon: int, max_windows: int | None, seed: int
) -> LinearBaseline:
    """:class:`LinearBaseline` fitted on every (context, target) window of ``train`` (T, C)."""
    windows = sliding_window_view(train, context_length + horizon, axis=0)  # (M, C, L + H) view
    x = windows[:, :, :context_length].transpose(0, 2, 1)  # (M, L, C)
    y = windows[:, :, context_length:].transpose(0, 2, 1)  # (M, H, C)
    return LinearBaseline(context_length, horizon, max_windows=max_windows, seed=seed).fit(x, y)


def _forecast_columns(predictions: Mapping[str, np.ndarray], model_name: str) -> dict[str, np.ndarray]:
    """Forecasts by column of the tidy table: the model's ``yhat``, a baseline's ``yhat_<name>``."""
    return {("yhat" if k == model_name else COLUMN_PREFIX + k): v for k, v in predictions.items()}


def _naive_forecasts(
    values: np.ndarray, origin_rows: np.ndarray, horizon: int, season: int
) -> tuple[dict[str, np.ndarray], int]:
    """The last-value and seasonal-naive forecasts ``(N, H, C)`` after each origin, and how many
    origins seasonal naive served with the last value (warned about): those with less than one
    ``season`` of history (never a shorter lag); the others repeat the last season."""
    full = origin_rows + 1 >= season
    last = last_value(_naive_contexts(values, origin_rows, 1), horizon)
    out = last.copy()
    if full.any():  # seasonal_naive's rows, read straight from the series: (N, H, C), where its
        # (N, season, C) contexts took 11 GB for 10^5 origins of 10 channels of minute data
        lag = np.arange(horizon) % season - season + 1  # step h reads row o - season + 1 + h % season
        out[full] = values[origin_rows[full][:, None] + lag[None]]
    n_fallback = int((~full).sum())
    if n_fallback:
        warnings.warn(
            f"seasonal_naive forecasts the last value at the {n_fallback} origin(s) before row "
            f"{season - 1}, which have less than one season ({season} rows) of history",
            RuntimeWarning,
            stacklevel=3,
        )
    return {"last_value": last, "seasonal_naive": out}, n_fallback


def _naive_contexts(values: np.ndarray, origin_rows: np.ndarray, length: int) -> np.ndarray:
    """``(N, length, C)`` views of the rows ``o-length+1 .. o`` for every origin ``o``."""
    windows = sliding_window_view(values, length, axis=0)  # (T-length+1, C, length)
    return windows[origin_rows - (length - 1)].transpose(0, 2, 1)


def _score_all(
    y: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    channels: Sequence[str],
    scale: np.ndarray | None,
    metrics: Sequence[str],
    observed: np.ndarray | None = None,
) -> tuple[dict[str, dict[str, Any]], pd.DataFrame]:
    """Every prediction scored on the same cells: ``observed`` (N, H, C), None for all."""
    scores = {
        name: score(y, yhat, scale=scale, metrics=metrics, channels=channels, mask=observed)
        for name, yhat in predictions.items()
    }
    frame = pd.concat([score_frame(name, result) for name, result in scores.items()], ignore_index=True)
    return scores, frame


def _timings(
    fit_s: float, forecast_s: float, baseline_s: float, metrics_s: float, total: float, n: int
) -> dict[str, float | None]:
    """Seconds spent per stage and the forecasting throughput."""
    return {
        "fit_s": fit_s,
        "forecast_s": forecast_s,
        "baselines_s": baseline_s,
        "metrics_s": metrics_s,
        "total_s": total,
        "windows_per_s": n / forecast_s if forecast_s > 0 else None,
    }


def _summary(
    scores: Mapping[str, dict[str, Any]], model: str, n_windows: int, horizon: int, channels: Sequence[str]
) -> dict[str, Any]:
    model_overall = scores[model]["overall"]
    improvement = {
        name: {m: _improvement(model_overall[m], result["overall"][m]) for m in model_overall}
        for name, result in scores.items()
        if name != model
    }
    return {
        "model": model,
        "n_windows": int(n_windows),
        "horizon": int(horizon),
        "channels": list(channels),
        "overall": {name: dict(result["overall"]) for name, result in scores.items()},
        "improvement_pct": improvement,
    }


def _scored_result(
    y: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    kept: np.ndarray,
    *,
    origins: np.ndarray,
    index: pd.DatetimeIndex,
    channels: list[str],
    scale_values: np.ndarray,
    season: int,
    metrics: Sequence[str],
    model_name: str,
    config: dict[str, Any],
    data: dict[str, Any],
    history: pd.DataFrame,
    forecaster: Any,
    seconds: tuple[float, float, float],
    t_start: float,
    units: str | None = None,
    observed: np.ndarray | None = None,
    scale_observed: np.ndarray | None = None,
) -> BacktestResult:
    """Score every prediction (N, H, C) against ``y`` (MASE scaled by ``scale_values``, the
    training rows) and gather the result: tidy forecasts of the ``kept`` origins (with a ``units``
    column when ``units`` are not the data's own), timings from ``seconds`` = (fit, forecast,
    baselines) and ``t_start``. ``observed`` (N, H, C) and ``scale_observed`` (the shape of
    ``scale_values``): the cells that count, in every prediction's scores and in the MASE scale
    (None: all); with ``observed``, the forecasts get an ``observed`` column and ``arrays`` an
    ``"observed"`` entry."""
    t0 = time.perf_counter()
    # without MASE asked for, its scale (and a warning about a constant channel's) is not wanted
    scale = mase_scale(scale_values, season, channels, mask=scale_observed) if "mase" in metrics else None
    scores, metrics_df = _score_all(y, predictions, channels, scale, metrics, observed)
    metrics_s = time.perf_counter() - t0
    columns_out = _forecast_columns(predictions, model_name)
    kept_columns = {k: v[kept] for k, v in columns_out.items()}
    forecasts = _tidy_forecasts(index, origins[kept], channels, y[kept], kept_columns, units,
                                None if observed is None else observed[kept])
    n, horizon = y.shape[:2]
    return BacktestResult(
        forecasts=forecasts,
        metrics=metrics_df,
        scores=scores,
        summary=_summary(scores, model_name, n, horizon, channels),
        config=config,
        timings=_timings(*seconds, metrics_s, time.perf_counter() - t_start, n),
        data=data,
        history=history,
        arrays={"y": y, **columns_out, **({} if observed is None else {"observed": observed})},
        forecaster=forecaster,
    )


def _before_the_fits(
    max_forecast_rows: Any, batch_size: Any, linear_max_windows: Any
) -> tuple[int | None, int | None, int | None]:
    """The counts a backtest uses after its fits, checked before them (0 windows per pass, or a
    linear baseline of 0 windows, had failed once the training was done)."""
    return (
        None if max_forecast_rows is None else nonnegative_int(max_forecast_rows, "max_forecast_rows"),
        positive_int(batch_size, "batch_size", allow_none=True),
        positive_int(linear_max_windows, "linear_max_windows", allow_none=True),
    )


def _check_model_name(model_name: str) -> None:
    """ConfigError for a name the scores could not tell from a baseline's (the baseline's
    forecasts replaced the model's, silently), or that is no text (None had raised a KeyError)."""
    if not isinstance(model_name, str) or not model_name:
        raise ConfigError(f"model_name must be a non-empty string, got {model_name!r}")
    if model_name in BASELINES:
        raise ConfigError(
            f"model_name {model_name!r} is the name of a baseline; give the model another name"
        )


def _warn_if_trained_on_targets(forecaster: Any, frame: pd.DataFrame, origins: np.ndarray) -> None:
    """Warn when a prefitted forecaster's training series (``index_``, ``values_``) holds rows of
    ``frame`` after the first origin, with the same values: its scores there are in-sample."""
    seen_index, seen_values = getattr(forecaster, "index_", None), getattr(forecaster, "values_", None)
    fitted_columns = [str(c) for c in getattr(forecaster, "columns_", None) or []]
    if not isinstance(seen_index, pd.DatetimeIndex) or seen_values is None or not fitted_columns:
        return
    if (seen_index.tz is None) != (frame.index.tz is None):
        return
    rows = frame.index.get_indexer(seen_index)  # (n_seen,) the frame's row of each training row
    shared = [c for c in frame.columns if str(c) in fitted_columns]
    later = rows > int(origins[0])
    if not later.any() or not shared:
        return
    ours = frame[shared].to_numpy(np.float64)[rows[later]]
    theirs = np.asarray(seen_values, np.float64)[later][:, [fitted_columns.index(str(c)) for c in shared]]
    if ours.shape != theirs.shape or not np.allclose(ours, theirs, equal_nan=True):
        return  # trained on other values at these times: another series
    last = int(rows[later].max())  # the last row of the frame it was trained on
    in_sample = int((origins < last).sum())  # windows whose first target it saw
    warnings.warn(
        f"the fitted forecaster was trained on these data up to {frame.index[last]}, after the first "
        f"origin {frame.index[int(origins[0])]}: {in_sample} of {len(origins)} windows score "
        "forecasts of rows it was trained on (in-sample scores); pass an unfitted forecaster (or "
        f"refit=True), or start after {frame.index[last]}",
        UserWarning,
        stacklevel=3,
    )


def _is_fitted(forecaster: Any) -> bool:
    check = getattr(forecaster, "__sklearn_is_fitted__", None)
    if callable(check):
        return bool(check())
    return any(k.endswith("_") and not k.startswith("__") for k in vars(forecaster))


def _clone(forecaster: Any, **params: Any) -> Any:
    from sklearn.base import clone

    est = clone(forecaster)
    changed = {k: v for k, v in params.items() if v is not None and getattr(est, k, None) != v}
    if changed:
        est.set_params(**changed)
    return est


def _fit_checkpoint_dirs(forecaster: Any, refit: Any) -> Any:
    """With refits, the ``checkpoint_dir`` (a folder path) of a forecaster that has one, else None:
    each refit then writes its ``last.ckpt`` in its own subfolder of it (see :func:`_fit_checkpoint`)."""
    if _refit_every(refit) is None:  # one fit: the forecaster's folder itself, as a fit of its own
        return None
    try:
        folder = forecaster.get_params(deep=False).get("checkpoint_dir")
    except (AttributeError, TypeError):
        return None
    return folder if isinstance(folder, (str, os.PathLike)) else None


def _fit_checkpoint(folder: Any, train: tuple[int, int]) -> str:
    """The checkpoint_dir of the fit on rows ``[a, b)``: ``folder/rows-a-b``. The refits had
    shared ``folder/last.ckpt``: each replaced the one before it, and with ``resume=True`` the
    second refused the first's checkpoint (a fit on other rows) after the first fit's work."""
    a, b = train
    return os.path.join(os.fspath(folder), f"rows-{a}-{b}")  # "~" stays for the estimator to expand


def _params(forecaster: Any) -> dict[str, Any]:
    try:
        params = forecaster.get_params(deep=False)
    except (AttributeError, TypeError):
        return {}
    return {k: v for k, v in params.items() if _is_json_value(v)}


def _is_json_value(value: Any) -> bool:
    try:
        json.dumps(to_jsonable(value), allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


def _check_forecast(
    out: Any, origins: np.ndarray, horizon: int, n_channels: int, index: pd.DatetimeIndex | None
) -> np.ndarray:
    """The first ``horizon`` steps of ``out``, checked by :func:`_forecast_shape` and
    :func:`_check_finite`."""
    return _check_finite(_forecast_shape(out, len(origins), horizon, n_channels), origins, index)


def _forecast_shape(out: Any, n: int, horizon: int, n_channels: int) -> np.ndarray:
    """The first ``horizon`` steps of ``out``, checked to be ``(n, >= horizon, n_channels)``
    (else :class:`ConfigError`)."""
    arr = np.asarray(out, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[0] != n or arr.shape[1] < horizon or arr.shape[2] != n_channels:
        raise ConfigError(
            f"the forecaster returned forecasts of shape {arr.shape}; expected ({n}, >= {horizon}, "
            f"{n_channels}) for {n} origins"
        )
    return arr[:, :horizon]


def _in_channel_order(arr: np.ndarray, forecaster: Any, channels: list[str]) -> np.ndarray:
    """Forecasts (n, H, C) in the forecaster's channel order (its ``columns_``, when it has
    them) -> in ``channels``' order, matched by name (ConfigError when the names differ)."""
    names = getattr(forecaster, "columns_", None)
    if names is None or [str(c) for c in names] == channels:
        return arr
    names = [str(c) for c in names]
    if sorted(names) != sorted(channels):
        raise ConfigError(
            f"the forecaster forecasts the channels {names}, and the data's are {channels}; pass "
            "columns= naming the forecaster's channels"
        )
    return arr[..., [names.index(c) for c in channels]]


def _check_finite(arr: np.ndarray, origins: np.ndarray, index: pd.DatetimeIndex | None) -> np.ndarray:
    """``arr``, checked to be finite (else :class:`TrainingError`: a window left out of the
    scores would flatter the model)."""
    bad = ~np.isfinite(arr).all(axis=(1, 2))
    if bad.any():
        first = int(origins[np.argmax(bad)])
        raise TrainingError(
            f"the forecaster returned NaN or inf for {int(bad.sum())} of {len(arr)} forecast windows, "
            f"the first at origin {_row_label(first, index)}; check that its training converged (a "
            "diverged fit: lower learning_rate) and that its inputs are finite"
        )
    return arr


def _batches_causally(forecaster: Any) -> bool:
    """Whether ``forecaster.forecast_origins`` is :class:`~tsmamba.estimator.TSMambaForecaster`'s,
    whose forecast for each origin reads no row after it (tested), so that a backtest may pass it
    the series up to a block's last origin in one call."""
    module = sys.modules.get("tsmamba.estimator")  # loaded if a TSMambaForecaster exists
    own = getattr(module, "TSMambaForecaster", None)
    return own is not None and getattr(type(forecaster), "forecast_origins", None) is own.forecast_origins


def _progress(iterable: Any, enabled: bool, **kw: Any) -> Any:
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **kw)


# --------------------------------------------------------------------------------------------
# rolling-origin backtest


def backtest(
    forecaster: Any,
    df: Any,
    horizon: int | None = None,
    *,
    start: Any = None,
    n_windows: int | None = None,
    stride: int = 1,
    window: str = "expanding",
    train_length: int | None = None,
    refit: bool | int = False,
    context: str = "window",
    baselines: bool = True,
    progress: bool = False,
    time_col: str | None = None,
    columns: Sequence[str] | None = None,
    fit_kwargs: Mapping[str, Any] | None = None,
    batch_size: int | None = None,
    metrics: Sequence[str] = METRICS,
    model_name: str = "tsmamba",
    linear_max_windows: int | None = 10_000,
    max_forecast_rows: int | None = None,
    data_name: str | None = None,
    protocol: str = "rolling",
) -> BacktestResult:
    """Rolling-origin backtest of ``forecaster`` on the series ``df``.

    ``protocol="ltsf"`` runs :func:`backtest_ltsf` instead (``df`` may then be a registry name;
    the forecaster's ``context_length`` and ``horizon`` unless ``horizon`` is given); the rolling
    options, ``progress`` and ``data_name`` do not apply there and are rejected when set.

    Args:
        forecaster: an estimator with the :class:`~tsmamba.estimator.TSMambaForecaster`
            surface. The object itself is never modified: fits happen on clones.
        df: wide DataFrame (DatetimeIndex, or a time column ``time_col``) or a CSV path; it is
            validated with :func:`tsmamba.data.read_series`.
        horizon: steps scored per origin (default: ``forecaster.horizon``). A shorter horizon
            scores the first steps of the forecasts; a longer one needs a forecaster the
            backtest fits (its clone gets ``horizon`` set).
        start: the first origin, i.e. the last observed row of the first forecast: an int row
            (negative counts from the end), a float fraction of the rows observed (0.7: the
            first 70 % are history), or a timestamp (the last row at or before it). Default:
            0.7, or, when only ``n_windows`` is given, the windows end at the last row.
        n_windows: use at most this many origins.
        stride: rows between consecutive origins.
        window: ``"expanding"`` trains on every row up to the origin; ``"sliding"`` on the last
            ``train_length`` rows (default: the rows up to the first origin); it needs fits, so a
            fitted forecaster takes it only with ``refit``.
        refit: ``False``: one fit on the rows up to the first origin, or none at all when the
            forecaster is already fitted (it is then used as it is: make sure it never saw rows
            after ``start``). ``True``: a fresh fit (``sklearn.base.clone``) at every origin.
            ``k``: a fresh fit at origins 0, k, 2k, ... A forecaster's ``checkpoint_dir`` is
            then each fit's own subfolder ``checkpoint_dir/rows-a-b`` (its training rows
            ``[a, b)``), so that ``fit_kwargs={"resume": True}`` resumes every fit of an
            interrupted backtest from its own checkpoint.
        context: ``"window"`` forecasts from the last ``context_length`` rows; ``"full"``
            carries the recurrent state over every row from the first (one pass per fit).
        baselines: also score last value, seasonal naive and the linear baseline. Seasonal
            naive repeats the last season (``config["season"]`` rows) at origins with that much
            history and the last value at earlier ones (counted in
            ``config["seasonal_naive_last_value_origins"]``, with a warning). The linear baseline
            is fitted on every fit's training rows (for a prefitted forecaster: the rows up to the
            first origin); when they hold no training window (``horizon`` or fewer rows) it is left out
            with a warning and listed in ``config["baselines_skipped"]``.
        fit_kwargs: extra keyword arguments of every ``fit`` call (not ``val_df``: validation
            rows after a fit's training rows are the rows its forecasts are scored on).
        batch_size: windows per forward pass of the forecasts; None: the forecaster's choice
            (a TSMambaForecaster takes the fastest measured for its network, see
            :meth:`tsmamba.model.MambaForecaster.windows_per_pass`).
        linear_max_windows: training windows of the linear baseline (subsampled above this).
        max_forecast_rows: bound on the tidy ``forecasts`` frame (one row per origin, step and
            channel, about 140 bytes each: 8,000 origins of 21 channels at H = 96 peaked at
            3.8 GB, 1.6 GB with 250,000 rows kept), which then holds evenly spaced origins
            (``config["forecast_origins_kept"]`` = ``[kept, total]``); the scores and ``arrays``
            always cover every origin. None keeps every origin, 0 none.

    Raises :class:`ConfigError` for invalid options and :class:`DataValidationError` when the
    series is too short for them (both name the fix).
    """
    # switches, not truthy values: baselines="no" had scored the baselines, None left them out
    baselines, progress = check_bool(baselines, "baselines"), check_bool(progress, "progress")
    if protocol == "ltsf":
        rolling = dict(
            start=start,
            n_windows=n_windows,
            train_length=train_length,
            time_col=time_col,
            columns=columns,
            fit_kwargs=fit_kwargs,
            data_name=data_name,  # the protocol names its data itself (data_name had been dropped)
        )
        given = [k for k, v in rolling.items() if v is not None]
        given += [
            k
            for k, v, d in (
                ("stride", stride, 1),
                ("window", window, "expanding"),
                ("refit", refit, False),
                ("context", context, "window"),
                ("progress", progress, False),  # one fit: no bar of fits (it had been dropped)
            )
            if v != d
        ]
        if given:
            raise ConfigError(f"protocol='ltsf' has fixed splits and windows; drop {', '.join(given)}")
        if not all(hasattr(forecaster, k) for k in ("context_length", "horizon")):  # an AttributeError
            raise ConfigError(
                f"protocol='ltsf' windows the data by the forecaster's context_length and horizon, and "
                f"{type(forecaster).__name__} has none; pass an estimator, or call backtest_ltsf(params, "
                "data, context_length, horizon) with a dict of its parameters"
            )
        return backtest_ltsf(
            forecaster, df, int(forecaster.context_length),
            int(forecaster.horizon) if horizon is None else horizon, baselines=baselines,
            batch_size=batch_size, metrics=metrics, model_name=model_name,
            max_forecast_rows=max_forecast_rows,
            linear_max_windows=linear_max_windows,
        )  # fmt: skip
    if protocol != "rolling":
        raise ConfigError(f"protocol must be 'rolling' or 'ltsf', got {protocol!r}")
    _check_model_name(model_name)
    check_metrics(metrics)
    max_forecast_rows, batch_size, linear_max_windows = _before_the_fits(
        max_forecast_rows, batch_size, linear_max_windows)
    if (fit_kwargs or {}).get("val_df") is not None:  # the rows after a fit's: what its forecasts score
        raise ConfigError(
            "fit_kwargs holds val_df: rows after a fit's training rows are those its forecasts are "
            "scored on, so early stopping on them sees the targets (and every refit got the same "
            "ones); drop it: each fit holds out the forecaster's val_fraction of its own rows"
        )
    if not callable(getattr(forecaster, "forecast_origins", None)):  # before any fit, not after
        raise ConfigError(
            f"the forecaster ({type(forecaster).__name__}) has no forecast_origins(df, origins, ...); "
            "a backtest needs it (see tsmamba.backtest's docstring)"
        )
    prefitted = _is_fitted(forecaster)
    needs_fit = not prefitted or _refit_every(refit) is not None
    # before any fit, ask what will forecast (a fresh clone, or the fitted forecaster itself)
    # whether it can: e.g. context="full" cannot work with norm="revin"
    check = getattr(_clone(forecaster) if needs_fit else forecaster, "check_context", None)
    if callable(check):
        check(context)
    t_start = time.perf_counter()
    if columns is None and not needs_fit and getattr(forecaster, "columns_", None) is not None:
        # as predict reads data: the fitted channels, in the fitted order (long form pivots its
        # ids sorted, and the forecasts come in the model's order: c's had been scored as a's)
        columns = [str(c) for c in forecaster.columns_]
    frame = read_strict(df, caller="backtest", time_col=default_time_col(df, time_col), columns=columns)
    values = frame.to_numpy(dtype=np.float64)
    index = frame.index
    channels = [str(c) for c in frame.columns]
    n_rows, n_channels = values.shape
    freq = str(frame.attrs.get("freq") or infer_freq(index))

    model_horizon = int(forecaster.horizon)
    horizon = model_horizon if horizon is None else positive_int(horizon, "horizon")
    if horizon > model_horizon and not needs_fit:
        raise ConfigError(
            f"horizon={horizon} exceeds the fitted forecaster's horizon={model_horizon}; refit it "
            "(refit=True) or pass an unfitted forecaster so the backtest fits one with this horizon"
        )
    context_length = int(forecaster.context_length)
    plan = plan_backtest(
        n_rows,
        horizon,
        context_length=context_length,
        start=start,
        n_windows=n_windows,
        stride=stride,
        window=window,
        train_length=train_length,
        refit=refit,
        context=context,
        fit=needs_fit,
        index=index,
        fit_horizon=model_horizon,
    )
    origins = plan.origins
    given = df.attrs.get("repairs") if isinstance(df, pd.DataFrame) else None  # a path is read strictly
    label = data_name or frame.attrs.get("source", "the data")
    repairs = _repairs(given, channels, label, index, origins)
    first_train = plan.blocks[0].train or (0, int(origins[0]) + 1)  # later ranges are no shorter
    # the cells fill= and impute= made up are inputs like any other, and scored by no metric
    observed, scale_observed, unscored = _unscored(repaired_cells(given, index, channels), plan.targets(),
                                                   first_train, seasonal_period(freq), channels, label)
    n = plan.n_windows
    if not needs_fit:  # a prefitted forecaster: did it train on the rows it is scored on?
        _warn_if_trained_on_targets(forecaster, frame, origins)
    fit_horizon = max(horizon, model_horizon)
    fit_kwargs = dict(fit_kwargs or {})

    yhat = np.empty((n, horizon, n_channels))
    n_train = first_train[1] - first_train[0]
    skipped: dict[str, str] = {}  # baseline -> why it is not scored
    linear = None
    if baselines:
        if n_train > horizon:
            linear = np.empty((n, horizon, n_channels))
        else:  # only a prefitted forecaster can start this early
            skipped["linear"] = (
                f"the first origin {_row_label(int(origins[0]), index)} leaves {n_train} rows to fit "
                f"it on, and one training window needs at least horizon + 1 = {horizon + 1}; start at "
                f"row {horizon} or later to score it"
            )
            warnings.warn(f"linear baseline not scored: {skipped['linear']}", RuntimeWarning, stacklevel=2)
    season = seasonal_period(freq)
    fit_s = forecast_s = baseline_s = 0.0
    fitted = forecaster
    checkpoints = _fit_checkpoint_dirs(forecaster, refit)
    blocks = _progress(plan.blocks, progress and len(plan.blocks) > 1, desc="backtest fits", unit="fit")
    for block in blocks:
        block_origins = origins[block.first : block.stop]
        if block.train is not None:
            t0 = time.perf_counter()
            own = {} if checkpoints is None else {"checkpoint_dir": _fit_checkpoint(checkpoints, block.train)}
            fitted = _clone(forecaster, horizon=fit_horizon, **own)
            a, b = block.train
            fitted.fit(frame.iloc[a:b], **fit_kwargs)
            fit_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        # one call per origin, with the series cut after it, unless the forecaster is known to
        # read nothing after each origin: then one batched call per block
        calls = [block_origins] if _batches_causally(fitted) else np.split(block_origins, len(block_origins))
        out = []
        for call in calls:
            seen = frame.iloc[: int(call[-1]) + 1]  # nothing after the call's last origin
            forecast = fitted.forecast_origins(seen, call, context=context, batch_size=batch_size)
            out.append(_in_channel_order(_forecast_shape(forecast, len(call), horizon, n_channels),
                                         fitted, channels))
        yhat[block.first : block.stop] = _check_finite(np.concatenate(out), block_origins, index)
        forecast_s += time.perf_counter() - t0
        if linear is not None:
            t0 = time.perf_counter()
            train = block.train or (0, int(origins[0]) + 1)
            lin_context = min(context_length, train[1] - train[0] - horizon, int(origins[0]) + 1)
            contexts = _naive_contexts(values, block_origins, lin_context)
            linear[block.first : block.stop] = _linear_forecasts(
                values, train, contexts, horizon, lin_context, linear_max_windows, seed=0
            )
            baseline_s += time.perf_counter() - t0

    y = values[plan.targets()]  # (N, H, C)
    predictions: dict[str, np.ndarray] = {model_name: yhat}
    naive_fallback = 0
    if baselines:
        t0 = time.perf_counter()
        naive, naive_fallback = _naive_forecasts(values, origins, horizon, season)
        predictions.update(naive)
        if linear is not None:
            predictions["linear"] = linear
        baseline_s += time.perf_counter() - t0

    kept = _evenly_spaced(n, _origins_within(max_forecast_rows, horizon * n_channels))
    source = data_name or (os.fspath(df) if isinstance(df, (str, os.PathLike)) else None)
    config = {
        "protocol": "rolling",
        "model": type(forecaster).__name__,
        "model_params": _params(forecaster),
        "context_length": context_length,
        "horizon": horizon,
        "start": None if start is None else str(start),
        "n_windows": n_windows,
        "stride": int(stride),
        "window": window,
        "train_length": plan.train_length,
        "refit": refit,
        "context": context,
        "prefitted": not needs_fit,
        "n_fits": plan.n_fits,
        "first_origin": str(index[origins[0]]),
        "last_origin": str(index[origins[-1]]),
        "train_ranges": [list(b.train) if b.train else None for b in plan.blocks],
        "season": season,
        "baselines": [b for b in BASELINES if b in predictions],
        "baselines_skipped": skipped,
        "seasonal_naive_last_value_origins": naive_fallback,
        "metrics_units": "original",
        "mase_scale_rows": list(first_train),
        "mase_lag": mase_lag(first_train[1] - first_train[0], season),
        "forecast_origins_kept": [len(kept), int(n)],
        "repairs": repairs,
        "unscored": unscored,
    }
    data = {
        "source": source,
        "freq": freq,
        "channels": channels,
        "n_rows": int(n_rows),
        "fingerprint": data_fingerprint(values, index),
    }
    if given:  # read again strictly, the frame lost the record: forecast.png draws the made-up history apart
        frame.attrs["repairs"] = given
    return _scored_result(
        y, predictions, kept, origins=origins, index=index, channels=channels,
        scale_values=values[first_train[0] : first_train[1]], season=season, metrics=metrics,
        model_name=model_name, config=config, data=data, history=frame, forecaster=fitted,
        seconds=(fit_s, forecast_s, baseline_s), t_start=t_start, observed=observed,
        scale_observed=scale_observed,
    )


# --------------------------------------------------------------------------------------------
# the LTSF benchmark protocol


def _ltsf_forecaster(forecaster: Any, context_length: int, horizon: int) -> Any:
    if forecaster is None or isinstance(forecaster, Mapping):
        from tsmamba.estimator import TSMambaForecaster

        params = dict(forecaster or {})
        params.update(context_length=context_length, horizon=horizon)
        try:
            return TSMambaForecaster(**params)
        except TypeError as exc:
            raise ConfigError(f"invalid forecaster parameters: {exc}") from exc
    return _clone(forecaster, context_length=context_length, horizon=horizon)


def backtest_ltsf(
    forecaster: Any = None,
    data: Any = "ETTh1",
    context_length: int = 96,
    horizon: int = 96,
    *,
    kind: str | None = None,
    data_dir: str | os.PathLike | None = None,
    baselines: bool = True,
    batch_size: int | None = None,
    metrics: Sequence[str] = METRICS,
    model_name: str = "tsmamba",
    linear_max_windows: int | None = 10_000,
    max_forecast_rows: int | None = None,
    keep_val_forecasts: bool = False,
) -> BacktestResult:
    """The LTSF benchmark: train on the train split, score every test window on scaled data.

    Args:
        forecaster: a :class:`~tsmamba.estimator.TSMambaForecaster` (cloned, with
            ``context_length`` and ``horizon`` set), a dict of its parameters, or None for the
            defaults.
        data: a registry name (``"ETTh1"``), a CSV path or a DataFrame (see
            :func:`tsmamba.data.prepare_ltsf`, which also fixes the borders by ``kind``), or
            what :func:`~tsmamba.data.prepare_ltsf` returned for this ``context_length`` and
            ``horizon`` (read and scaled once, by a caller that validated it first).
        batch_size: windows per forward pass of the test forecasts (None: the forecaster's
            choice, as in :func:`backtest`).

    The forecaster is fitted on the scaled train split with the scaled validation split
    (starting ``context_length`` rows early) for early stopping and ``scale=False``; it then
    forecasts all test windows (stride 1, none dropped). Scores, forecasts and baselines are in
    the scaled units, as the protocol reports them. The MASE scale comes from the scaled train
    split; the seasonal naive baseline may read up to one season before the test split.

    ``max_forecast_rows`` bounds the tidy ``forecasts`` frame (one row per origin, channel and
    step: Weather at H=720 would be 150 million rows) to evenly spaced origins; the scores and
    ``arrays`` always cover every window. None keeps every origin. ``keep_val_forecasts`` is
    passed to the forecaster's ``fit``: the fitted ``result.forecaster`` then holds the
    validation windows' forecasts (``val_origins_`` count from the train split's first row).
    """
    _check_model_name(model_name)
    check_bool(keep_val_forecasts, "keep_val_forecasts")
    baselines = check_bool(baselines, "baselines")
    check_metrics(metrics)
    max_forecast_rows, batch_size, linear_max_windows = _before_the_fits(
        max_forecast_rows, batch_size, linear_max_windows)
    t_start = time.perf_counter()
    if isinstance(data, LTSFData):
        asked = (positive_int(context_length, "context_length"), positive_int(horizon, "horizon"))
        if (data.context_length, data.horizon) != asked or kind not in (None, data.kind):
            raise ConfigError(
                f"the prepared {data.name} was split for context_length={data.context_length}, "
                f"horizon={data.horizon} ({data.kind} borders), not context_length={asked[0]}, "
                f"horizon={asked[1]}{'' if kind is None else f' ({kind} borders)'}; prepare it for "
                "these, or pass the file or name")
        prepared = data
    else:
        prepared = prepare_ltsf(data, context_length, horizon, kind=kind, data_dir=data_dir)
    est = _ltsf_forecaster(forecaster, prepared.context_length, prepared.horizon)
    L_, H = prepared.context_length, prepared.horizon
    values = prepared.values.astype(np.float64)
    channels = prepared.columns
    index = prepared.index
    fit_index = prepared.fit_index
    regularised = fit_index is not index
    frame = pd.DataFrame(values, index=fit_index, columns=channels)
    train_s, train_e = prepared.borders["train"]
    _, val_e = prepared.borders["val"]
    test_s, test_e = prepared.borders["test"]

    n = test_e - test_s - L_ - H + 1
    origins = np.arange(test_s + L_ - 1, test_s + L_ - 1 + n)
    source = prepared.meta.get("source")  # a path or name, or the file a frame was read from
    # the test windows' origins: the fit reads rows up to the first (val ends there), so a value it
    # trained on that was made from a later row is read ahead of its source by that origin's window
    repairs = _repairs(prepared.meta.get("repairs"), channels, source or "the data", index, origins)
    observed, scale_observed, unscored = _unscored(  # a published file has no repair: None, None, None
        repaired_cells(prepared.meta.get("repairs"), index, channels),  # before the fit: it may refuse
        origins[:, None] + 1 + np.arange(H)[None, :], (train_s, train_e), seasonal_period(prepared.freq),
        channels, source or "the data")

    t0 = time.perf_counter()
    kept = {"keep_val_forecasts": True} if keep_val_forecasts else {}  # a duck-typed fit may not take it
    est.fit(frame.iloc[train_s:train_e], val_df=frame.iloc[train_e:val_e], scale=False, **kept)
    fit_s = time.perf_counter() - t0

    test_windows = sliding_window_view(values[test_s:test_e], L_ + H, axis=0)  # (n, C, L+H)
    contexts = test_windows[:, :, :L_].transpose(0, 2, 1)
    y = np.ascontiguousarray(test_windows[:, :, L_:].transpose(0, 2, 1))
    marks = None
    mark_rows = est.marks_for(fit_index) if hasattr(est, "marks_for") else None
    if mark_rows is not None:
        mark_rows = mark_rows.numpy()
        marks = sliding_window_view(mark_rows[test_s : test_e - H], L_, axis=0).transpose(0, 2, 1)
        marks = np.ascontiguousarray(marks)  # writable: torch warns on read-only views
    track = est.phase_track(fit_index[:test_e]) if hasattr(est, "phase_track") else None
    ahead = None if track is None else track.unfold(0, H, 1)[origins + 1]  # (n, H): DST changes
    t0 = time.perf_counter()
    out = est.forecast_scaled_windows(np.ascontiguousarray(contexts, dtype=np.float32), marks, batch_size,
                                      **({} if ahead is None else {"future_phases": ahead}))
    yhat = _check_forecast(out, origins, H, len(channels), index)
    forecast_s = time.perf_counter() - t0

    season = seasonal_period(prepared.freq)
    predictions: dict[str, np.ndarray] = {model_name: yhat}
    baseline_s = 0.0
    naive_fallback = 0
    if baselines:
        t0 = time.perf_counter()
        naive, naive_fallback = _naive_forecasts(values, origins, H, season)
        predictions.update(naive)
        model = _fit_linear(values[train_s:train_e], L_, H, linear_max_windows, seed=0)  # scaled already
        predictions["linear"] = model.predict(contexts)
        baseline_s = time.perf_counter() - t0

    kept = _evenly_spaced(n, _origins_within(max_forecast_rows, H * len(channels)))
    shown = slice(max(0, test_s - 3 * H), test_e)
    history = pd.DataFrame(values[shown], index=index[shown], columns=channels)
    history_ = getattr(est, "history_", {}) or {}
    config = {
        "protocol": "ltsf",
        "model": type(est).__name__,
        "model_params": _params(est),
        "context_length": L_,
        "horizon": H,
        "kind": prepared.kind,
        "borders": {k: list(v) for k, v in prepared.borders.items()},
        "window_counts": prepared.window_counts(),
        "stride": 1,
        "first_origin": str(index[origins[0]]),
        "last_origin": str(index[origins[-1]]),
        "season": season,
        "mase_scale_rows": [int(train_s), int(train_e)],  # the train split, as in a rolling report
        "mase_lag": mase_lag(int(train_e - train_s), season),
        "baselines": list(BASELINES) if baselines else [],
        "baselines_skipped": {},
        "seasonal_naive_last_value_origins": naive_fallback,
        "metrics_units": "scaled (StandardScaler fitted on the train split)",
        "regularised_index": regularised,
        "forecast_origins_kept": [len(kept), int(n)],
        "repairs": repairs,
        "unscored": unscored,
        "training": {k: v for k, v in history_.items() if _is_json_value(v)},
    }
    data_info = {
        "source": None if source == "frame" else source,  # "frame": read_series read it from memory
        "name": prepared.name,
        "freq": prepared.freq,
        "channels": channels,
        "n_rows": prepared.n_rows,
        "fingerprint": data_fingerprint(values, index),
        "fingerprint_of": "the scaled values (float32 as prepared, widened to float64)",
        "scaler": prepared.scaler.to_dict(),
    }
    return _scored_result(
        y, predictions, kept, origins=origins, index=index, channels=channels,
        scale_values=values[train_s:train_e], season=season, metrics=metrics, model_name=model_name,
        config=config, data=data_info, history=history, forecaster=est,
        seconds=(fit_s, forecast_s, baseline_s), t_start=t_start, units=LTSF_UNITS,
        observed=observed, scale_observed=scale_observed,
    )
