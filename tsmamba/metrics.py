"""Forecast error metrics on arrays of windows, horizon steps and channels.

Every element metric takes ``y`` (actuals) and ``yhat`` (forecasts) of the same shape, normally
``(N, H, C)``: N windows (forecast origins), H horizon steps, C channels. Conventions:

* Pairs where ``y`` or ``yhat`` is NaN are left out, and so are those where ``mask`` (a boolean
  array of ``y``'s shape, or one that broadcasts to it) is False: cells never observed, such as
  those :func:`tsmamba.data.read_series` filled or imputed. A mean over nothing is NaN, never an
  error.
* ``rmse`` is the square root of the pooled ``mse`` (not a mean of per-window RMSEs).
* ``mape`` and ``smape`` are in **percent**. ``mape`` leaves out entries with ``|y| < eps``
  (a relative error against a zero actual is undefined); ``smape`` counts ``0/0`` (both actual
  and forecast exactly zero) as a perfect forecast, 0 %. sMAPE lies in [0, 200].
* ``mase`` divides absolute errors by a per-channel ``scale`` (see :func:`mase_scale`); a
  channel whose scale is zero or NaN gets NaN, with a warning, and is left out of pooled means.

Pure numpy; pandas only for :func:`seasonal_period` and :func:`metrics_frame`.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tsmamba.errors import ConfigError, check_number, positive_int

__all__ = [
    "METRICS",
    "check_metrics",
    "mae",
    "mape",
    "mase",
    "mase_lag",
    "mase_scale",
    "metrics_frame",
    "mse",
    "rmse",
    "score",
    "score_frame",
    "seasonal_period",
    "smape",
    "to_jsonable",
]

#: Names accepted by :func:`score` and :func:`metrics_frame`, in report order.
METRICS: tuple[str, ...] = ("mse", "mae", "rmse", "mape", "smape", "mase")

Axis = int | tuple[int, ...] | None


# --------------------------------------------------------------------------- helpers


_ROUNDING = 64 * float(np.finfo(np.float64).eps)  # relative size of float64 rounding noise
_PERIODIC = 1e-9  # seasonal differences this small beside a series' spread are rounding drift


def _check_aligned(y: Any, yhat: Any) -> None:
    """Metrics pair values by position: two pandas objects must have the same labels."""
    frames = (pd.Series, pd.DataFrame)
    if not (isinstance(y, frames) and isinstance(yhat, frames)):
        return
    for axis, what in (("index", "index"), ("columns", "column")):
        a, b = getattr(y, axis, None), getattr(yhat, axis, None)
        if isinstance(a, pd.DatetimeIndex) and isinstance(b, pd.DatetimeIndex) and a.tz and b.tz:
            a, b = a.tz_convert("UTC"), b.tz_convert("UTC")  # the same instants in two zones
        if a is not None and b is not None and not a.equals(b):
            raise ConfigError(
                f"y and yhat have different {what} labels; metrics pair values by position, so "
                f"align them first (e.g. yhat.reindex_like(y)) or pass arrays"
            )


def _check_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """``mask`` as a boolean array of ``shape`` (a view when it broadcasts), None for None."""
    if mask is None:
        return None
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:  # 0/1 floats or NaN-marked values had passed as a mask of anything
        raise ConfigError(f"mask must be a boolean array (True: score that cell), got dtype {arr.dtype}")
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise ConfigError(f"mask of shape {arr.shape} does not match the values' shape {shape}") from None


def _pair(y: Any, yhat: Any, mask: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float arrays of y and yhat plus the mask of usable pairs: not NaN, and True in ``mask``."""
    _check_aligned(y, yhat)
    y_arr = np.asarray(y, dtype=np.float64)
    yhat_arr = np.asarray(yhat, dtype=np.float64)
    if y_arr.shape != yhat_arr.shape:
        raise ConfigError(
            f"y and yhat must have the same shape, got {y_arr.shape} and {yhat_arr.shape}"
        )
    valid = ~(np.isnan(y_arr) | np.isnan(yhat_arr))
    observed = _check_mask(mask, y_arr.shape)
    if observed is not None:
        valid &= observed
    return y_arr, yhat_arr, valid


def _mean_of(total: Any, count: Any) -> Any:
    """total / count, NaN where the count is 0 (masked sums and how many elements each holds)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _masked_mean(values: np.ndarray, valid: np.ndarray, axis: Axis) -> float | np.ndarray:
    """Mean of ``values`` where ``valid``; NaN where nothing is valid. Float if axis is None."""
    out = _mean_of(np.where(valid, values, 0.0).sum(axis=axis), valid.sum(axis=axis))
    if axis is None:
        return float(out)
    return out


# --------------------------------------------------------------------------- element metrics
# Each metric is a mean of per-element terms: ``_<name>_terms`` gives them and where they count,
# so :func:`score` computes them once and averages them over three sets of axes.


def _squared_terms(y: np.ndarray, yhat: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (y - yhat) ** 2, valid


def _absolute_terms(y: np.ndarray, yhat: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.abs(y - yhat), valid


def _percentage_terms(
    y: np.ndarray, yhat: np.ndarray, valid: np.ndarray, eps: float = 1e-8
) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio = np.abs(y - yhat) / np.abs(y)
    return 100.0 * ratio, valid & (np.abs(y) >= eps)


def _symmetric_terms(y: np.ndarray, yhat: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """200 |y - yhat| / (|y| + |yhat|), 0 where both are 0: at most 200 for any pair, 200 where
    one of them is infinite (1e308 against -1e308 had overflowed to inf / inf, a NaN that made
    every mean it was part of NaN)."""
    with np.errstate(over="ignore", invalid="ignore"):
        num = 2.0 * np.abs(y - yhat)
        den = np.abs(y) + np.abs(yhat)
    overflowed = (np.isinf(num) | np.isinf(den)) & np.isfinite(y) & np.isfinite(yhat)
    if overflowed.any():  # the same ratio, |y/2 - yhat/2| / (|y|/4 + |yhat|/4), cannot overflow
        num[overflowed] = np.abs(y[overflowed] / 2 - yhat[overflowed] / 2)
        den[overflowed] = np.abs(y[overflowed]) / 4 + np.abs(yhat[overflowed]) / 4
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    ratio = np.where(np.isinf(y) != np.isinf(yhat), 2.0, ratio)
    return 100.0 * ratio, valid


def _scaled_terms(
    y: np.ndarray, yhat: np.ndarray, valid: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``scale``: (C,) usable scales (NaN where none)."""
    with np.errstate(invalid="ignore"):
        scaled = np.abs(y - yhat) / scale
    return scaled, valid & ~np.isnan(scale)


def mse(y: Any, yhat: Any, *, axis: Axis = None, mask: Any = None) -> float | np.ndarray:
    """Mean squared error over ``axis`` (all axes by default: a float); ``mask``: the cells to
    score (see the module's conventions)."""
    return _masked_mean(*_squared_terms(*_pair(y, yhat, mask)), axis)


def mae(y: Any, yhat: Any, *, axis: Axis = None, mask: Any = None) -> float | np.ndarray:
    """Mean absolute error over ``axis`` (all axes by default: a float)."""
    return _masked_mean(*_absolute_terms(*_pair(y, yhat, mask)), axis)


def rmse(y: Any, yhat: Any, *, axis: Axis = None, mask: Any = None) -> float | np.ndarray:
    """Root of the pooled mean squared error over ``axis``."""
    out = np.sqrt(mse(y, yhat, axis=axis, mask=mask))
    return float(out) if axis is None else out


def mape(y: Any, yhat: Any, *, axis: Axis = None, eps: float = 1e-8, mask: Any = None) -> float | np.ndarray:
    """Mean absolute percentage error, in percent: ``100 * mean(|y - yhat| / |y|)``.

    Entries with ``|y| < eps`` are left out; NaN where no entry is left.
    """
    eps = check_number(eps, "eps", lambda e: 0 <= e < math.inf, "a finite number >= 0")  # -1, NaN had passed
    return _masked_mean(*_percentage_terms(*_pair(y, yhat, mask), eps=eps), axis)


def smape(y: Any, yhat: Any, *, axis: Axis = None, mask: Any = None) -> float | np.ndarray:
    """Symmetric MAPE, in percent: ``100 * mean(2|y - yhat| / (|y| + |yhat|))``, 0/0 taken as 0."""
    return _masked_mean(*_symmetric_terms(*_pair(y, yhat, mask)), axis)


def _usable_scale(scale: Any, n_channels: int) -> np.ndarray:
    """Per-channel scale as floats, NaN where it is zero, negative or missing (warns on zero)."""
    s = np.atleast_1d(np.asarray(scale, dtype=np.float64))
    if s.ndim != 1 or s.shape[0] != n_channels:
        raise ConfigError(
            f"scale must have one value per channel ({n_channels}), got shape {s.shape}"
        )
    bad = ~(s > 0) & ~np.isnan(s)
    if bad.any():
        warnings.warn(
            f"MASE scale is zero or negative for channel(s) {np.flatnonzero(bad).tolist()} "
            "(constant training series?); MASE is NaN there",
            RuntimeWarning,
            stacklevel=3,
        )
    return np.where(s > 0, s, np.nan)


def mase(y: Any, yhat: Any, scale: Any, *, axis: Axis = None, mask: Any = None) -> float | np.ndarray:
    """Mean absolute scaled error: ``|y - yhat| / scale[c]`` averaged over ``axis``.

    ``scale`` has shape ``(C,)`` and is matched with the last axis of ``y``. Channels with a
    zero or NaN scale contribute NaN on their own and are left out of pooled means. A 1-D ``y``
    of T > 1 values with a single scale is one channel's series, as :func:`mase_scale` takes
    it: ``(T,)`` is read as ``(T, 1)`` (``axis`` None, 0 or -1 then give the float).
    """
    y_arr, yhat_arr, valid = _pair(y, yhat, mask)
    if y_arr.ndim == 0:
        raise ConfigError("mase needs arrays with a channel axis (the last one)")
    if y_arr.ndim == 1 and y_arr.shape[0] > 1 and np.size(scale) == 1:  # one channel's series
        if axis not in (None, 0, -1, (0,), (-1,)):
            raise ConfigError(f"axis {axis!r} is out of range for a 1-D series (one channel's T values)")
        y_arr, yhat_arr, valid, axis = y_arr[:, None], yhat_arr[:, None], valid[:, None], None
    s = _usable_scale(scale, y_arr.shape[-1])
    return _masked_mean(*_scaled_terms(y_arr, yhat_arr, valid, s), axis)


def mase_lag(n_rows: int, season: int) -> int:
    """The lag at which :func:`mase_scale` differences ``n_rows`` training rows: ``season``, or 1
    when they hold no more than one season."""
    return season if n_rows > season else 1


def mase_scale(
    train_values: Any, season: int, channels: Sequence[Any] | None = None, *, mask: Any = None
) -> np.ndarray:
    """In-sample mean absolute seasonal difference per channel: ``mean_t |x_t - x_{t-season}|``.

    ``train_values`` has shape ``(T, C)`` (or ``(T,)`` for one channel); returns ``(C,)``.
    NaN differences are skipped, and so are those with a value where ``mask`` (boolean, the
    shape of ``train_values``) is False: a value never observed (filled or imputed) neither
    sets the scale nor takes part in the constant-series check. A zero scale (constant series)
    becomes NaN with a warning naming the channels (by ``channels``, else by position), as does
    a channel that ``mask`` leaves without a single difference.
    If the series is not longer than ``season``, the lag-1 difference is used instead (warning).
    """
    x = np.asarray(train_values, dtype=np.float64)
    observed = _check_mask(mask, x.shape)
    if observed is not None:  # a value never observed is as good as missing here
        x = np.where(observed, x, np.nan)
    if x.ndim == 1:
        x = x[:, None]
        observed = None if observed is None else observed[:, None]
    if x.ndim != 2:
        raise ConfigError(f"train_values must have shape (T, C), got {x.shape}")
    season = positive_int(season, "season")  # True had been read as 1
    if channels is not None and (isinstance(channels, (str, Mapping)) or len(channels) != x.shape[1]):
        raise ConfigError(f"channels must name the {x.shape[1]} columns, got {channels!r:.80}")
    n_time = x.shape[0]
    if n_time < 2:
        warnings.warn(
            f"training series has {n_time} value(s); MASE scale is NaN",
            RuntimeWarning,
            stacklevel=2,
        )
        return np.full(x.shape[1], np.nan)
    if mase_lag(n_time, season) != season:
        warnings.warn(
            f"training series of length {n_time} is too short for season {season}; "
            "using the lag-1 difference for the MASE scale",
            RuntimeWarning,
            stacklevel=2,
        )
        season = 1
    diff = np.abs(x[season:] - x[:-season])
    scale = np.asarray(_masked_mean(diff, ~np.isnan(diff), axis=0), dtype=np.float64)
    if observed is not None:
        unpaired = np.isnan(scale) & ~observed.all(axis=0)  # NaN because values were left out
        if unpaired.any():
            names = _channel_names(channels, x.shape[1])
            warnings.warn(
                f"the training rows of channel(s) {[names[j] for j in np.flatnonzero(unpaired)]} hold no "
                f"pair of observed values {season} rows apart (the others were filled or imputed); "
                "MASE is NaN there, and the overall MASE leaves them out",
                RuntimeWarning,
                stacklevel=2,
            )
    # an all-NaN channel has no magnitude or spread (and a NaN scale); without nanmax's and
    # nanstd's warnings about it, which warnings.catch_warnings would have had to swap the whole
    # process's filters for (dropping what other threads set meanwhile)
    seen = ~np.isnan(x)
    count = seen.sum(axis=0)
    magnitude = np.where(count > 0, np.max(np.abs(x), axis=0, where=seen, initial=0.0), np.nan)
    unit = np.where(magnitude > 0, magnitude, 1.0)  # in units of the magnitude: 1e200 squares overflowed
    with np.errstate(invalid="ignore", divide="ignore"):  # numpy's error state is per thread
        z = x / unit
        mean = np.sum(z, axis=0, where=seen) / count
        spread = np.sqrt(np.sum((z - mean) ** 2, axis=0, where=seen) / count) * unit
    # periodic up to float rounding counts as constant: a 1e-15 scale would blow MASE up to 1e14.
    # Rounding is a few units in the last place of the level (64 ulp: a counter near 1.7e12 that
    # steps by 1 moves), or drift that grows with a computed series' length (sin(2 pi t / 24) at
    # t ~ 17,000 is periodic to 4e-14 of its spread): nothing real varies a billionth of its spread
    zero = scale <= np.maximum(_ROUNDING * np.nan_to_num(magnitude), _PERIODIC * np.nan_to_num(spread))
    if zero.any():
        names = _channel_names(channels, x.shape[1])
        warnings.warn(
            f"training series is constant at lag {season} (up to float rounding) for channel(s) "
            f"{[names[j] for j in np.flatnonzero(zero)]}; MASE is NaN there, and the overall "
            "MASE leaves them out",
            RuntimeWarning,
            stacklevel=2,
        )
        scale = np.where(zero, np.nan, scale)
    return scale


# --------------------------------------------------------------------------- seasonality

_LEGACY_ALIASES = {
    "H": "h",
    "T": "min",
    "S": "s",
    "L": "ms",
    "M": "ME",
    "Q": "QE",
    "Y": "YE",
    "A": "YE",
    "AS": "YS",
    "BM": "BME",
    "BQ": "BQE",
    "BA": "BYE",
    "BY": "BYE",
    "BH": "bh",
    "CBH": "cbh",
}

_SECONDS_PER_DAY = 86_400


def _to_offset(freq: Any) -> pd.offsets.BaseOffset | None:
    if isinstance(freq, pd.offsets.BaseOffset):
        return freq
    try:
        return pd.tseries.frequencies.to_offset(freq)
    except (ValueError, TypeError):
        pass
    match = re.fullmatch(r"\s*(\d*)\s*([A-Za-z]+)(-\w+)?\s*", str(freq))
    if match and match.group(2).upper() in _LEGACY_ALIASES:
        mult, base, anchor = match.group(1), match.group(2).upper(), match.group(3) or ""
        try:
            return pd.tseries.frequencies.to_offset(f"{mult}{_LEGACY_ALIASES[base]}{anchor}")
        except (ValueError, TypeError):
            return None
    return None


def _whole(cycle: int, step: int) -> int:
    """Steps per cycle when ``step`` divides ``cycle`` exactly, else 1 (no exact seasonal lag)."""
    if step <= 0 or cycle % step:
        return 1
    return max(1, cycle // step)


def _by_days(days: int) -> int:
    """A step of whole days: the weekly cycle (``"D"`` 7), or the yearly one for whole weeks."""
    return _whole(52, days // 7) if days % 7 == 0 else _whole(7, days)


def seasonal_period(freq: str | pd.offsets.BaseOffset) -> int:
    """Steps per natural cycle for a pandas offset alias (the seasonal lag for naive/MASE).

    Sub-daily data uses the daily cycle (``"h"`` 24, ``"30min"`` 48, ``"15min"`` 96,
    ``"10min"`` 144, ``"5min"`` 288, ``"min"`` 1440; business hours the business day, ``"bh"``
    8); daily 7, business-daily 5, weekly 52, monthly 12, quarterly 4, yearly 1. A step of whole
    days counts as days, of whole weeks as weeks (``"24h"`` 7, ``"7D"`` 52). A multiple of a unit
    divides the cycle (``"2h"`` -> 12) when it does so exactly; otherwise, for sub-minute steps
    and unknown aliases the result is 1. Legacy aliases (``"H"``, ``"T"``, ``"M"``, ...) are
    accepted.
    """
    offset = _to_offset(freq)
    if offset is None:
        warnings.warn(f"unknown frequency {freq!r}; using seasonal period 1", stacklevel=2)
        return 1
    n = abs(int(getattr(offset, "n", 1))) or 1
    offsets = pd.offsets
    # Day first: it is a Tick in pandas 2 but a calendar offset in pandas 3.
    if isinstance(offset, offsets.Day):
        return _by_days(n)
    if isinstance(offset, offsets.Tick):
        seconds = pd.Timedelta(offset).total_seconds()
        if seconds != int(seconds) or seconds < 60:
            return 1
        if seconds % _SECONDS_PER_DAY == 0:  # "24h", "1440min": days
            return _by_days(int(seconds) // _SECONDS_PER_DAY)
        return _whole(_SECONDS_PER_DAY, int(seconds)) if seconds < _SECONDS_PER_DAY else 1
    if isinstance(offset, (offsets.BusinessHour, offsets.CustomBusinessHour)):
        minutes = sum((e.hour * 60 + e.minute - s.hour * 60 - s.minute) % (24 * 60) or 24 * 60
                      for s, e in zip(offset.start, offset.end, strict=True))
        return _whole(minutes, 60 * n)
    if isinstance(offset, (offsets.BusinessDay, offsets.CustomBusinessDay)):
        return _whole(5, n)
    if isinstance(offset, offsets.Week):
        return _whole(52, n)
    monthly = (
        offsets.MonthEnd,
        offsets.MonthBegin,
        offsets.BusinessMonthEnd,
        offsets.BusinessMonthBegin,
    )
    if isinstance(offset, monthly):
        return _whole(12, n)
    quarterly = (
        offsets.QuarterEnd,
        offsets.QuarterBegin,
        offsets.BQuarterEnd,
        offsets.BQuarterBegin,
    )
    if isinstance(offset, quarterly):
        return _whole(4, n)
    return 1


# --------------------------------------------------------------------------- reports


_TERMS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "mse": _squared_terms, "rmse": _squared_terms, "mae": _absolute_terms,
    "mape": _percentage_terms, "smape": _symmetric_terms, "mase": _scaled_terms,
}


def _check_windows(y: Any, yhat: Any) -> tuple[np.ndarray, np.ndarray]:
    _check_aligned(y, yhat)
    y_arr = np.asarray(y, dtype=np.float64)
    yhat_arr = np.asarray(yhat, dtype=np.float64)
    if y_arr.ndim != 3:
        raise ConfigError(f"y must have shape (N, H, C), got {y_arr.shape}")
    if y_arr.shape != yhat_arr.shape:
        raise ConfigError(
            f"y and yhat must have the same shape, got {y_arr.shape} and {yhat_arr.shape}"
        )
    if y_arr.size == 0:
        raise ConfigError(f"y is empty (shape {y_arr.shape}); nothing to score")
    return y_arr, yhat_arr


def _channel_names(channels: Sequence[Any] | None, n_channels: int) -> list[str]:
    if channels is None:
        return [str(i) for i in range(n_channels)]
    names = [str(c) for c in channels]
    if len(names) != n_channels:
        raise ConfigError(f"got {len(names)} channel names for {n_channels} channels")
    if len(set(names)) != len(names):
        raise ConfigError(f"channel names must be unique, got {names}")
    return names


def check_metrics(metrics: Sequence[str]) -> None:
    """ConfigError unless ``metrics`` is a non-empty sequence of names in :data:`METRICS`."""
    if isinstance(metrics, str):
        raise ConfigError(f"metrics must be a list of names, got the text {metrics!r}; pass [{metrics!r}]")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric(s) {unknown}; choose from {list(METRICS)}")
    if not len(metrics):
        raise ConfigError(f"metrics is empty; name at least one of {list(METRICS)}")


#: Elements (windows x steps x channels) that :func:`score` computes a metric's terms for at once:
#: its temporaries are a few arrays of this many float64 (32 MiB each), whatever the number of
#: windows (Weather's 9,820 test windows at H = 720 had taken 6 GB above the forecasts).
SCORE_PIECE_ELEMENTS = 1 << 22
_SCORE_AXES: tuple[Axis, ...] = (None, (0, 1), (0, 2))  # pooled, per channel, per step


def score(
    y: Any,
    yhat: Any,
    *,
    scale: Any = None,
    metrics: Sequence[str] = METRICS,
    channels: Sequence[Any] | None = None,
    mask: Any = None,
) -> dict[str, Any]:
    """All requested metrics pooled, per channel and per horizon step.

    ``y`` and ``yhat`` have shape ``(N, H, C)``; ``scale`` (C,) enables ``"mase"``, which is
    skipped when ``scale`` is None (and ``scale`` is neither checked nor warned about when
    ``metrics`` leaves MASE out). Channel names default to ``"0", "1", ...``. ``mask``
    (boolean, ``(N, H, C)`` or broadcasting to it): the cells to score; a False cell counts in
    no mean, so a window, channel or step with none left scores NaN there while the pooled
    scores average the cells that are left (None: every cell).

    Returns ``{"overall": {metric: float}, "per_channel": {channel: {metric: float}},
    "per_step": [{metric: float} for step 1..H]}`` with plain Python floats (NaN kept; pass the
    result through :func:`to_jsonable` for strict JSON).
    """
    check_metrics(metrics)
    y_arr, yhat_arr = _check_windows(y, yhat)
    n_windows, n_steps, n_channels = y_arr.shape
    names = _channel_names(channels, n_channels)
    observed = _check_mask(mask, y_arr.shape)
    # a zero scale's warning is about MASE alone: none when it is not asked for
    s = None if scale is None or "mase" not in metrics else _usable_scale(scale, n_channels)
    wanted = [m for m in metrics if m != "mase" or s is not None]
    sums: dict[Any, tuple] = {}  # by terms function (rmse reuses mse's): (totals, counts), three ways
    piece = max(1, SCORE_PIECE_ELEMENTS // (n_steps * n_channels))  # windows at a time
    for start in range(0, n_windows, piece):  # the terms of a piece, not of all windows, at once
        y_part, yhat_part, valid = _pair(y_arr[start : start + piece], yhat_arr[start : start + piece],
                                         None if observed is None else observed[start : start + piece])
        for terms in dict.fromkeys(_TERMS[m] for m in wanted):
            values, ok = terms(y_part, yhat_part, valid, s) if terms is _scaled_terms else terms(
                y_part, yhat_part, valid)
            counted = np.where(ok, values, 0.0)
            totals = [counted.sum(axis=axis) for axis in _SCORE_AXES]
            counts = [ok.sum(axis=axis) for axis in _SCORE_AXES]
            if terms in sums:  # add this piece's to the earlier pieces'
                totals = [a + b for a, b in zip(sums[terms][0], totals, strict=True)]
                counts = [a + b for a, b in zip(sums[terms][1], counts, strict=True)]
            sums[terms] = (totals, counts)
    overall, by_channel, by_step = {}, {}, {}
    for m in wanted:
        totals, counts = sums[_TERMS[m]]
        pooled, channel, step = (_mean_of(t, c) for t, c in zip(totals, counts, strict=True))
        if m == "rmse":
            pooled, channel, step = np.sqrt(pooled), np.sqrt(channel), np.sqrt(step)
        overall[m], by_channel[m], by_step[m] = float(pooled), np.asarray(channel), np.asarray(step)
    per_channel = {
        name: {m: float(v[c]) for m, v in by_channel.items()} for c, name in enumerate(names)
    }
    per_step = [{m: float(v[h]) for m, v in by_step.items()} for h in range(n_steps)]
    return {"overall": overall, "per_channel": per_channel, "per_step": per_step}


def to_jsonable(obj: Any) -> Any:
    """Copy of ``obj`` with numpy scalars/arrays as Python values and NaN/inf as ``None``."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


def metrics_frame(
    y: Any,
    yhat: Any,
    *,
    model: str,
    channels: Sequence[Any] | None,
    scale: Any = None,
    metrics: Sequence[str] = METRICS,
    mask: Any = None,
) -> pd.DataFrame:
    """Tidy table of :func:`score` (``mask``: the cells to score, as there): columns model,
    scope, channel, step, metric, value.

    ``scope`` is ``"overall"`` (channel ``"all"``, step 0), ``"channel"`` (step 0) or
    ``"step"`` (channel ``"all"``, step 1..H). Concatenate frames of several models to compare.
    """
    return score_frame(model, score(y, yhat, scale=scale, metrics=metrics, channels=channels, mask=mask))


def score_frame(model: str, result: Mapping[str, Any]) -> pd.DataFrame:
    """:func:`score` output as tidy rows: model, scope, channel, step, metric, value."""
    rows: list[tuple[str, str, str, int, str, float]] = []
    for metric, value in result["overall"].items():
        rows.append((model, "overall", "all", 0, metric, value))
    for channel, values in result["per_channel"].items():
        for metric, value in values.items():
            rows.append((model, "channel", channel, 0, metric, value))
    for step, values in enumerate(result["per_step"], start=1):
        for metric, value in values.items():
            rows.append((model, "step", "all", step, metric, value))
    frame = pd.DataFrame(rows, columns=["model", "scope", "channel", "step", "metric", "value"])
    return frame.astype({"step": "int64", "value": "float64"})
