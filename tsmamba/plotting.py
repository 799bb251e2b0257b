"""Report figures for backtests: forecasts against actuals, and errors by step and over time.

Input is the backtest's tidy forecasts frame, one row per (origin, channel, step):

=============  ==============================================================
``origin``     last observed time before the forecast (Timestamp)
``timestamp``  the time the forecast is for (Timestamp)
``channel``    channel name (str)
``step``       horizon step, 1..H
``y``          actual value (NaN where not yet observed)
``yhat``       model forecast
``yhat_<b>``   forecast of baseline ``<b>`` (e.g. ``yhat_last_value``), optional
``observed``   False where ``y`` was filled or imputed when the data was read, optional
               (a backtest writes it when some scored actual was): the errors drawn
               leave those rows out, as the scores do, and the forecasts figure draws
               those actuals apart (hollow markers on a dotted line)
``units``      the units of the values when not the data's own, optional (an LTSF
               backtest's: ``"scaled: train-split z-score"``)
=============  ==============================================================

The figures say such units (their ``units=`` argument, else the ``units`` column's) on their
value axes and the forecasts' title; values in the data's own units have no note.

The ``*_figure`` functions return a :class:`~matplotlib.figure.Figure` that pyplot does not
manage (nothing to close: it is freed with its last reference; a notebook shows it inline); the
``plot_*`` functions save one (PNG, or the format the path ends with: ``.pdf``, ``.svg``, ...),
replacing a file there whole, never leaving half a figure, and return the path. Names too long
for their place (a panel's title, an axis, the legend) are cut with "…" to fit. Building and
saving figures touches no global state: neither the backend (importing this module does not
switch it), nor pyplot's figures, nor the styles.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator

from tsmamba import metrics as _metrics
from tsmamba.baselines import BASELINES, COLUMN_PREFIX
from tsmamba.checkpoint import atomic_write_bytes, check_parents
from tsmamba.data import forecast_times, repaired_cells
from tsmamba.errors import CheckpointError, ConfigError, nonnegative_int, positive_int

__all__ = [
    "FORECAST_COLUMNS",
    "error_by_step_figure",
    "error_over_time_figure",
    "forecast_figure",
    "plot_error_by_step",
    "plot_error_over_time",
    "plot_forecasts",
    "save_report_plots",
]

#: Columns every forecasts frame must have.
FORECAST_COLUMNS: tuple[str, ...] = ("origin", "timestamp", "channel", "step", "y", "yhat")
_DPI = 120

_METRIC_LABELS = {
    "mse": "MSE",
    "mae": "MAE",
    "rmse": "RMSE",
    "mape": "MAPE (%)",
    "smape": "sMAPE (%)",
    "mase": "MASE",
}
_POINTWISE: dict[str, Callable[..., Any]] = {
    "mse": _metrics.mse,
    "mae": _metrics.mae,
    "rmse": _metrics.rmse,
    "mape": _metrics.mape,
    "smape": _metrics.smape,
}
_BASELINE_COLORS = {"last_value": "C1", "seasonal_naive": "C2", "linear": "C3"}
_MODEL_COLOR = "C0"


# --------------------------------------------------------------------------- helpers


def _require(frame: Any, columns: Iterable[str], what: str) -> pd.DataFrame:
    """Check ``frame`` is a non-empty DataFrame with ``columns``; raise ConfigError otherwise."""
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    if frame.empty:
        raise ConfigError(f"{what} is empty; nothing to plot")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{what} lacks column(s) {missing}; it has {[str(c) for c in frame.columns]}"
        )
    return frame


def _baseline_names(forecasts: pd.DataFrame) -> list[str]:
    """Baselines present as ``yhat_<name>`` columns, known ones first in report order."""
    found = [
        str(c)[len(COLUMN_PREFIX) :]
        for c in forecasts.columns
        if str(c).startswith(COLUMN_PREFIX)
    ]
    known = [b for b in BASELINES if b in found]
    return known + [b for b in found if b not in known]


def _color(name: str, is_model: bool, others: list[str]) -> str:
    if is_model:
        return _MODEL_COLOR
    if name in _BASELINE_COLORS:
        return _BASELINE_COLORS[name]
    if name not in others:
        others.append(name)
    return f"C{(4 + others.index(name)) % 10}"


def _metric_label(metric: str) -> str:
    return _METRIC_LABELS.get(metric, metric.upper())


def _units(forecasts: pd.DataFrame | None, units: str | None) -> str | None:
    """The units the values are in when they are not the data's own: ``units`` when given, else
    the one value of the forecasts' ``units`` column on every row (an LTSF report's forecasts.csv
    read back), else None (rows in several units, or some in the data's own, have no one label)."""
    if units is not None or forecasts is None or "units" not in forecasts.columns:
        return units
    found = forecasts["units"].unique()
    return str(found[0]) if len(found) == 1 and not pd.isna(found[0]) else None


def _with_units(label: str, units: str | None, inches: float, size: float | str = "medium") -> str:
    """A value axis' label with the ``units`` the values are in on a second line (both cut to
    ``inches`` at font ``size``); ``label`` is literal figure text already."""
    return label if units is None else f"{label}\n{_text(f'({units})', inches, size=size)}"


def _date_axis(ax: Axes, tz: Any = None) -> None:
    """Concise date ticks, read in ``tz`` (the data's zone; matplotlib's default shows UTC, which
    put a Paris origin titled 10:00 +01:00 at 09:00 on its axis)."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7, tz=tz)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=tz))


def _legend_columns(fig: Figure, labels: Sequence[str]) -> int:
    """Most legend columns whose estimated width fits across the figure.

    Entries fill the columns in order, the first ``n % ncols`` columns holding one more (as
    matplotlib lays them out); a column is as wide as its longest entry: handle and padding
    (about 0.9 in) plus its text.
    """
    widths = [0.9 + _inches(label) for label in labels]
    available = 0.95 * fig.get_figwidth()
    for ncols in range(len(widths), 1, -1):
        base, n_large = divmod(len(widths), ncols)
        sizes = [base + 1] * n_large + [base] * (ncols - n_large)
        starts = np.cumsum([0, *sizes])
        total = sum(max(widths[a:b]) for a, b in pairwise(starts))
        if total <= available:
            return ncols
    return 1


def _outside_legend(fig: Figure, handles: Sequence[Any], labels: Sequence[str]) -> None:
    """Legend below the axes, outside the data area, wrapped to the figure width (an entry
    wider than the figure is cut to it)."""
    labels = [_text(label.replace(r"\$", "$"), fig.get_figwidth() - 1.2) for label in labels]
    fig.legend(
        list(handles),
        list(labels),
        loc="outside lower center",
        ncols=_legend_columns(fig, labels),
        frameon=False,
    )


_TEXT_LIMIT = 60  # characters of a name shown in a title, axis label or legend entry


def _inches(text: str, size: float | str = "medium") -> float:
    """About how wide ``text`` is drawn at font ``size`` (points, or 'medium', 'large', ...): the
    sum of its characters' widths, 2% more for kerning (laying out the whole text took 0.9 ms
    a call, and cutting a name to fit a dozen of them)."""
    return 1.02 * sum(_char_inches(ch, size, rcParams["font.size"], str(rcParams["font.family"]))
                      for ch in text)


@functools.lru_cache(maxsize=4096)
def _char_inches(ch: str, size: float | str, base: float, family: str) -> float:
    """One character's width at ``size``, for the default font ``base`` points of ``family``."""
    width, _, _ = RendererAgg(1, 1, 72).get_text_width_height_descent(
        ch, FontProperties(size=size), ismath=False)
    return width / 72


def _text(name: Any, inches: float | None = None, *, size: float | str = "medium", beside: str = "") -> str:
    """A name as literal figure text: ``$`` escaped (matplotlib reads ``$...$`` as math, and a
    name like ``a$_$b`` failed the whole report), long names cut to ``_TEXT_LIMIT`` characters
    and, given ``inches``, to what fits there at font ``size`` followed by ``beside``."""
    text = str(name)
    if len(text) > _TEXT_LIMIT:
        text = text[: _TEXT_LIMIT - 1] + "…"
    if inches is not None and _inches(text + beside, size) > inches:
        fits, wide = 1, len(text)  # the longest cut that fits (at least one character is kept)
        while wide - fits > 1:
            middle = (fits + wide) // 2
            if _inches(text[:middle] + "…" + beside, size) <= inches:
                fits = middle
            else:
                wide = middle
        text = text[:fits] + "…"
    if text.startswith("_"):  # matplotlib leaves labels starting with "_" out of legends
        text = " " + text
    return text.replace("$", r"\$")


def _format_time(ts: pd.Timestamp) -> str:
    """A panel's origin: the date, the minutes, or the seconds (and fraction) the data needs,
    with the UTC offset of a zone-aware time (the hour that repeats when clocks go back)."""
    if ts == ts.normalize():
        text = f"{ts:%Y-%m-%d}"
    elif ts.microsecond or ts.nanosecond:
        digits = f"{ts.microsecond:06d}{ts.nanosecond:03d}"
        shown = -(-len(digits.rstrip("0")) // 3) * 3  # milli-, micro- or nanoseconds
        text = f"{ts:%Y-%m-%d %H:%M:%S}.{digits[:shown]}"
    elif ts.second:
        text = f"{ts:%Y-%m-%d %H:%M:%S}"
    else:
        text = f"{ts:%Y-%m-%d %H:%M}"
    if ts.tz is not None:
        offset = f"{ts:%z}"
        text += f" {offset[:3]}:{offset[3:]}" if offset else ""
    return text


def _prepared(forecasts: Any) -> pd.DataFrame:
    """The forecasts table with parsed times and text channels: the frame itself when it has
    them (a report's figures share the one it converts: a copy of all columns for each figure
    took 2.3 s at 8 million rows), else a converted copy (the caller's frame is left as it was)."""
    df = _require(forecasts, FORECAST_COLUMNS, "forecasts")
    channel = df["channel"]
    categorical = isinstance(channel.dtype, pd.CategoricalDtype)  # as a backtest's table holds them
    if (
        pd.api.types.is_datetime64_any_dtype(df["origin"].dtype)
        and pd.api.types.is_datetime64_any_dtype(df["timestamp"].dtype)
        and pd.api.types.infer_dtype(channel.cat.categories if categorical else channel) == "string"
        and not channel.isna().any()
    ):
        return df
    df = df.copy()
    df["origin"] = forecast_times(df["origin"], "origin")
    df["timestamp"] = forecast_times(df["timestamp"], "timestamp")
    df["channel"] = channel.astype(str)
    return df


def _zone_words(zone: Any) -> str:
    return "without a time zone" if zone is None else f"in {zone}"


def _history_on(history: pd.DataFrame, times: pd.Series) -> pd.DataFrame:
    """``history`` with its index in the zone of the forecast ``times`` (ConfigError when one
    has a zone and the other has none)."""
    zone = times.dt.tz
    if (history.index.tz is None) != (zone is None):
        raise ConfigError(
            f"history's timestamps are {_zone_words(history.index.tz)} but the forecasts' are "
            f"{_zone_words(zone)}; give both a zone, or neither"
        )
    return history if zone is None else history.tz_convert(zone)


def _scored_rows(df: pd.DataFrame) -> np.ndarray | None:
    """The rows the scores count (a backtest's ``observed`` column: False where the actual was
    filled or imputed when the data was read); None, all of them, without that column."""
    if "observed" not in df.columns:
        return None
    column = df["observed"]
    if column.dtype != bool:  # a CSV read back with pd.read_csv: True/False, maybe as text
        column = column.astype(str).str.strip().str.lower().map({"true": True, "false": False})
        if column.isna().any():
            raise ConfigError("the forecasts' observed column holds values other than True and False")
    return column.to_numpy(bool)


def _best_baseline(df: pd.DataFrame, baselines: Sequence[str]) -> str | None:
    """Baseline with the lowest MAE over the scored rows (None if there is none)."""
    best, best_err = None, np.inf
    scored = _scored_rows(df)
    for name in baselines:
        err = _metrics.mae(df["y"].to_numpy(float), df[COLUMN_PREFIX + name].to_numpy(float), mask=scored)
        if np.isfinite(err) and err < best_err:
            best, best_err = name, err
    return best


def _evenly(items: Sequence[Any], count: int) -> list[Any]:
    if count >= len(items):
        return list(items)
    idx = np.unique(np.linspace(0, len(items) - 1, count).round().astype(int))
    return [items[i] for i in idx]


def _select_panels(
    df: pd.DataFrame, origins: Any, channels: Any, max_panels: int
) -> list[tuple[pd.Timestamp, str]]:
    all_channels = list(pd.unique(df["channel"]))  # in order of appearance
    all_origins = sorted(df["origin"].unique())
    if channels is None:
        # evenly spread, the first and the last included: the LTSF files put their target last
        # (ETTh1's OT was never shown with the first six of seven channels)
        chans = _evenly(all_channels, max_panels)
    else:
        chans = [str(c) for c in ([channels] if isinstance(channels, str) else channels)]
        missing = [c for c in chans if c not in all_channels]
        if missing:
            raise ConfigError(f"channel(s) {missing} not in forecasts; it has {all_channels}")
    if origins is None:
        picked = _evenly(all_origins, max(1, max_panels // max(1, len(chans))))
    else:
        as_list = [origins] if pd.api.types.is_scalar(origins) else list(origins)  # a datetime too
        picked = list(pd.to_datetime(as_list))
        known = set(pd.to_datetime(all_origins))
        missing_o = [str(o) for o in picked if o not in known]
        if missing_o:
            raise ConfigError(f"origin(s) {missing_o} not in forecasts")
    if origins is not None and channels is None:  # the origins asked for, each with fewer channels
        chans = _evenly(all_channels, max(1, max_panels // max(1, len(picked))))
    panels = [(pd.Timestamp(o), c) for o in picked for c in chans]
    if not panels:
        raise ConfigError("no (origin, channel) panel selected; check origins and channels")
    if len(panels) > max_panels and (origins is not None or channels is not None):
        # the panels asked for had been cut to the first max_panels, dropping origins silently
        raise ConfigError(
            f"{len(picked)} origin(s) x {len(chans)} channel(s) make {len(panels)} panels, more than "
            f"max_panels={max_panels}; ask for fewer, or raise max_panels"
        )
    return panels[:max_panels]


def _save(fig: Figure, path: str | Path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"path must be a file path, got {path!r:.80}")
    out = Path(path)
    if out.is_dir():  # 'reports/' had been saved beside it, as reports.png
        raise ConfigError(f"{out} is a folder; give the path of the figure to write, e.g. "
                          f"{out / 'figure.png'}")
    if not out.suffix:  # as matplotlib writes it (it had returned 'plot'); 'run.' had become 'run..png'
        out = out.with_name(out.name.rstrip(".") + ".png")
    kinds = fig.canvas.get_supported_filetypes()
    kind = out.suffix.lower().lstrip(".")
    if kind not in kinds:  # '.csv': matplotlib's ValueError
        raise ConfigError(f"{out}: a figure is saved as one of {sorted(kinds)}; end the path with one")
    try:
        check_parents(out)
    except CheckpointError as exc:  # a file where a folder should be: FileExistsError from mkdir
        raise ConfigError(str(exc)) from None
    image = io.BytesIO()
    fig.savefig(image, format=kind, dpi=_DPI)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, image.getvalue())  # a report rewritten in place is never half a figure
    return out


# --------------------------------------------------------------------------- forecasts


def forecast_figure(
    forecasts: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    origins: Any = None,
    channels: Any = None,
    max_panels: int = 6,
    model_name: str = "model",
    history_steps: int | None = None,
    units: str | None = None,
) -> Figure:
    """Grid of (origin, channel) panels: history, actuals, model and best baseline forecasts.

    ``history`` is a wide frame (DatetimeIndex, one column per channel); each panel shows its
    last ``history_steps`` values up to the origin (default three horizons). By default all
    channels (at most ``max_panels``, evenly spaced with the first and last: the LTSF files'
    target is their last column) at evenly spaced origins fill up to ``max_panels`` panels.
    The best baseline (lowest MAE over the whole frame) is drawn dashed. ``units``: those of
    the values when not the data's own (default: the forecasts' ``units`` column), on the
    value axes and in the title. Actuals the forecasts' ``observed`` column marks False (filled
    or imputed when the data was read, scored by no metric) are hollow markers on a dotted line
    ("filled/imputed (not scored)"), not points of the actual line; so are the history values its
    ``attrs["repairs"]`` (read_series' record, which a backtest's history keeps) says were made up.
    """
    df = _prepared(forecasts)
    units = _units(df, units)
    if isinstance(max_panels, bool) or not isinstance(max_panels, int) or max_panels < 1:
        raise ConfigError(f"max_panels must be a positive integer, got {max_panels!r}")
    if history is not None:
        if not isinstance(history, pd.DataFrame) or not isinstance(history.index, pd.DatetimeIndex):
            raise ConfigError("history must be a wide DataFrame with a DatetimeIndex")
        history = _history_on(history, df["timestamp"])
        cells = repaired_cells(history.attrs.get("repairs"), history.index, [str(c) for c in history.columns])
        made_up_history = pd.DataFrame(False if cells is None else cells, history.index, history.columns)
    panels = _select_panels(df, origins, channels, max_panels)
    horizon = int(df["step"].max())
    # -5 had drawn all of the history but its first 5 rows (pandas' tail), 2.5 failed in pandas
    n_hist = 3 * horizon if history_steps is None else nonnegative_int(history_steps, "history_steps")
    best = _best_baseline(df, _baseline_names(df))
    scored = _scored_rows(df)

    n_chans = len({c for _, c in panels})
    if n_chans in (2, 3):
        ncols = n_chans
    else:
        ncols = min(len(panels), 2 if n_chans == 1 else 3)
    nrows = -(-len(panels) // ncols)
    width = max(5.0 * ncols, 8.0)  # room for the legend under a single panel
    fig = Figure(figsize=(width, 3.3 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    marker = "o" if horizon <= 48 else None
    lone = "o" if horizon == 1 else None  # a line of one point shows only with a marker
    # Channel names are compared as strings, so integer history columns also match.
    history_columns = {} if history is None else {str(c): c for c in history.columns}
    handles: dict[str, Any] = {}
    for ax, (origin, chan) in zip(axes.flat, panels, strict=False):
        rows = ((df["origin"] == origin) & (df["channel"] == chan)).to_numpy()
        order = np.argsort(df["step"].to_numpy()[rows], kind="stable")
        sub = df[rows].iloc[order]
        act_x, act_y = list(sub["timestamp"]), list(sub["y"].astype(float))
        made = np.zeros(len(sub), bool) if scored is None else ~scored[rows][order]  # never observed
        if chan in history_columns:
            before = history.index <= origin
            past = history[history_columns[chan]][before].tail(n_hist)
            past_made = made_up_history[history_columns[chan]][before].tail(n_hist).to_numpy()
            if len(past):
                if past_made.any():
                    _with_made_up(ax, list(past.index), past.to_numpy(float), past_made, every=False,
                                  color="0.55", lw=1.2, label="history")
                else:
                    ax.plot(past.index, past.to_numpy(float), color="0.55", lw=1.2, label="history")
                # Join the actuals to the history's last value so the line runs on.
                act_x = [past.index[-1], *act_x]
                act_y = [float(past.iloc[-1]), *act_y]
                made = np.r_[past_made[-1], made]
        if made.any():
            _with_made_up(ax, act_x, np.asarray(act_y), made, every=marker is not None)
        else:
            single = lone if len(act_x) == 1 else None
            ax.plot(act_x, act_y, color="black", lw=1.4, marker=single, ms=3, label="actual")
        ax.plot(sub["timestamp"], sub["yhat"], color=_MODEL_COLOR, lw=1.8, marker=marker, ms=3,
                label=_text(model_name))
        if best is not None:
            ax.plot(
                sub["timestamp"],
                sub[COLUMN_PREFIX + best],
                color=_color(best, False, []),
                lw=1.4,
                ls="--",
                marker=lone,
                ms=3,
                label=f"{_text(best)} (best baseline)",
            )
        ax.axvline(origin, color="0.3", ls=":", lw=1.0, label="forecast origin")
        # cut to the panel: a 60-character name had run into the next panel's title, and down
        # the side past the figure's edges
        when = f" — origin {_format_time(origin)}"
        ax.set_title(_text(chan, width / ncols - 0.8, size=10, beside=when) + when, fontsize=10)
        ax.set_xlabel("time")
        # of a panel 3.3 in high, less its title, ticks and legend; with units, two lines in a smaller font
        small = "medium" if units is None else "small"
        ax.set_ylabel(_with_units(_text(chan, 1.8, size=small), units, 1.8, small), fontsize=small)
        ax.grid(alpha=0.3)
        _date_axis(ax, df["timestamp"].dt.tz)
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    about = f" forecasts vs actuals (horizon {horizon}{'' if units is None else f'; {_text(units)}'})"
    fig.suptitle(_text(model_name, width - 0.3, size="large", beside=about) + about)
    _outside_legend(fig, list(handles.values()), list(handles.keys()))
    return fig


MADE_UP_LABEL = "filled/imputed (not scored)"


def _with_made_up(
    ax: Axes, x: list[Any], y: np.ndarray, made: np.ndarray, *, every: bool, color: str = "black",
    lw: float = 1.4, label: str = "actual",
) -> None:
    """The values ``y`` at ``x`` (the actuals, or the history) with those ``made`` up (filled or
    imputed when the data was read, scored by no metric) drawn apart: the observed ones as the
    usual line (``color``, ``lw``, ``label``), broken where a made-up one is (each observed point
    marked when ``every``, else only those with no observed neighbour, which no segment shows), and
    the made-up ones as hollow markers on a dotted line that joins them to their neighbours."""
    observed = ~made
    alone = observed & ~np.r_[False, observed[:-1]] & ~np.r_[observed[1:], False]
    shown = np.flatnonzero(observed if every else alone)
    ax.plot(x, np.where(observed, y, np.nan), color=color, lw=lw, marker="o" if len(shown) else None,
            ms=3, markevery=[int(i) for i in shown] if len(shown) else None, label=label)
    near = made | np.r_[False, made[:-1]] | np.r_[made[1:], False]  # the segments to and from them
    ax.plot(x, np.where(near, y, np.nan), color="black", lw=1.0, ls=":", marker="o", ms=4.5,
            mfc="none", mec="black", mew=1.0, markevery=[int(i) for i in np.flatnonzero(made)],
            label=MADE_UP_LABEL, zorder=2.6)  # over the forecasts drawn later: the rings stay in sight


def plot_forecasts(
    forecasts: pd.DataFrame,
    path: str | Path,
    *,
    history: pd.DataFrame | None = None,
    origins: Any = None,
    channels: Any = None,
    max_panels: int = 6,
    model_name: str = "model",
    units: str | None = None,
) -> Path:
    """Save :func:`forecast_figure` as a PNG at ``path`` and return the path."""
    fig = forecast_figure(
        forecasts,
        history=history,
        origins=origins,
        channels=channels,
        max_panels=max_panels,
        model_name=model_name,
        units=units,
    )
    return _save(fig, path)


# --------------------------------------------------------------------------- error by step


def error_by_step_figure(
    metrics_by_step: pd.DataFrame, *, metric: str = "mae", units: str | None = None
) -> Figure:
    """Error against horizon step for the model(s) and each baseline.

    Input: tidy rows with columns model, step, metric, value (the :func:`tsmamba.metrics.
    metrics_frame` output; rows of other scopes and per-channel rows are ignored). ``units``:
    those of the scored values when not the data's own, on the value axis.
    """
    df = _require(metrics_by_step, ("model", "step", "metric", "value"), "metrics_by_step")
    if "scope" in df.columns:
        df = df[df["scope"] == "step"]
    if "channel" in df.columns and (df["channel"] == "all").any():
        df = df[df["channel"] == "all"]
    df = df[df["step"] > 0]
    available = sorted(df["metric"].astype(str).unique())
    if metric not in available:
        raise ConfigError(f"metric {metric!r} has no per-step rows; available: {available}")
    table = df[df["metric"] == metric].pivot_table(
        index="step", columns="model", values="value", aggfunc="mean", dropna=False
    )
    table = table.sort_index()
    models = [m for m in table.columns if m not in BASELINES]
    baselines = [m for m in BASELINES if m in table.columns]
    others: list[str] = []
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.subplots()
    marker = "o" if len(table) <= 48 else None
    label = _metric_label(metric)
    for name in models + baselines:
        is_model = name in models
        notes = ([] if is_model else ["baseline"]) + ([] if table[name].notna().any() else
                                                      [f"no finite {label}"])  # a line of no points
        # the first model in the model's colour, others (a joined metrics frame) in their own
        ax.plot(
            table.index,
            table[name],
            color=_color(str(name), bool(models) and name == models[0], others),
            lw=2.0 if is_model else 1.4,
            ls="-" if is_model else "--",
            marker=marker,
            ms=3,
            label=_text(name) + (f" ({', '.join(notes)})" if notes else ""),
        )
    if not table.notna().any().any():  # an empty figure had been written without a word
        ax.text(0.5, 0.5, f"no finite {label} at any step (e.g. MASE of constant series)",
                ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("forecast step (horizon)")
    ax.set_ylabel(_with_units(label, units, 3.0))
    ax.set_title(f"{label} by forecast step")
    if len(table) <= 10:  # every step a tick (one step had ticks at 0.945 ... 1.065)
        ax.set_xticks([int(step) for step in table.index])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    _outside_legend(fig, *ax.get_legend_handles_labels())
    return fig


def plot_error_by_step(
    metrics_by_step: pd.DataFrame, path: str | Path, metric: str = "mae", *, units: str | None = None
) -> Path:
    """Save :func:`error_by_step_figure` as a PNG at ``path`` and return the path."""
    return _save(error_by_step_figure(metrics_by_step, metric=metric, units=units), path)


# --------------------------------------------------------------------------- error over time


def _per_origin_error(df: pd.DataFrame, column: str, metric: str) -> pd.Series:
    """``metric`` of each origin's scored rows (NaN for an origin with none: a gap in the line)."""
    fn = _POINTWISE[metric]
    y = df["y"].to_numpy(float)
    yhat = df[column].to_numpy(float)
    scored = _scored_rows(df)
    groups = df.groupby("origin", sort=True).indices
    values = {origin: fn(y[idx], yhat[idx], mask=None if scored is None else scored[idx])
              for origin, idx in groups.items()}
    return pd.Series(values, dtype=float).sort_index()


def error_over_time_figure(
    forecasts: pd.DataFrame, *, metric: str = "mae", model_name: str = "model",
    origins_total: int | None = None, units: str | None = None,
) -> Figure:
    """Error per forecast origin (pooled over steps and channels) for model and baselines.
    ``origins_total``: how many origins the backtest scored, when ``forecasts`` hold a sample of
    them (the title says so, and that the legend's means are those of the origins drawn).
    ``units``: those of the values when not the data's own (default: the forecasts' ``units``
    column), on the value axis."""
    if metric not in _POINTWISE:
        raise ConfigError(
            f"metric {metric!r} cannot be computed per origin; choose from {list(_POINTWISE)}"
        )
    df = _prepared(forecasts)
    units = _units(df, units)
    baselines = _baseline_names(df)
    if model_name in baselines:  # its line had been replaced by the baseline's, in the model's colour
        raise ConfigError(f"model_name {model_name!r} is the name of a baseline in the forecasts; "
                          "give the model another name")
    series = {model_name: _per_origin_error(df, "yhat", metric)}
    for name in baselines:
        series[name] = _per_origin_error(df, COLUMN_PREFIX + name, metric)
    n_origins = len(series[model_name])
    # "80" had failed comparing text with a count; fewer than the origins drawn was taken as all
    origins_total = positive_int(origins_total, "origins_total", allow_none=True)
    if origins_total is not None and origins_total < n_origins:
        raise ConfigError(f"origins_total={origins_total} is fewer than the {n_origins} origins the "
                          "forecasts hold; give the count of origins the backtest scored, or None")
    marker = "o" if n_origins <= 60 else None
    others: list[str] = []
    fig = Figure(figsize=(9.0, 4.2), layout="constrained")
    ax = fig.subplots()
    for name, values in series.items():
        is_model = name == model_name
        mean = float(np.nanmean(values.to_numpy())) if values.notna().any() else float("nan")
        kind = "" if is_model else " (baseline)"
        ax.plot(
            values.index,
            values.to_numpy(),
            color=_color(name, is_model, others),
            lw=1.8 if is_model else 1.2,
            ls="-" if is_model else "--",
            marker=marker,
            ms=3,
            label=f"{_text(name)}{kind}, mean {mean:.3g}",
        )
    label = _metric_label(metric)
    ax.set_xlabel("forecast origin")
    ax.set_ylabel(_with_units(f"{label} per origin", units, 3.0))
    noun = "origin" if n_origins == 1 else "origins"
    if origins_total is not None and origins_total > n_origins:  # a sample: its mean is not the score
        noun = f"of {origins_total} origins, evenly spaced; means over these"
    ax.set_title(f"{label} per forecast origin ({n_origins} {noun}, all steps and channels)")
    _date_axis(ax, df["origin"].dt.tz)
    if n_origins == 1:  # matplotlib's default span around one date is years wide
        origin = series[model_name].index[0]
        reach = max(df["timestamp"].max() - origin, pd.Timedelta(minutes=1))
        ax.set_xlim(origin - reach, origin + reach)
    ax.grid(alpha=0.3)
    _outside_legend(fig, *ax.get_legend_handles_labels())
    return fig


def plot_error_over_time(
    forecasts: pd.DataFrame,
    path: str | Path,
    metric: str = "mae",
    *,
    model_name: str = "model",
    origins_total: int | None = None,
    units: str | None = None,
) -> Path:
    """Save :func:`error_over_time_figure` as a PNG at ``path`` and return the path."""
    return _save(error_over_time_figure(forecasts, metric=metric, model_name=model_name,
                                        origins_total=origins_total, units=units), path)


# --------------------------------------------------------------------------- report


def save_report_plots(
    forecasts: pd.DataFrame,
    metrics_df: pd.DataFrame,
    out_dir: str | Path,
    *,
    history: pd.DataFrame | None = None,
    metric: str = "mae",
    model_name: str | None = None,
    origins_total: int | None = None,
    units: str | None = None,
) -> list[Path]:
    """Write forecast.png, error_by_step.png and error_over_time.png into ``out_dir``.

    ``metrics_df`` is the (concatenated) :func:`tsmamba.metrics.metrics_frame` output. The
    model's name defaults to the one non-baseline model in ``metrics_df`` (else ``"model"``).
    ``origins_total``: the origins scored, when ``forecasts`` hold a sample of them. ``units``:
    those of the values and scores when not the data's own (default: the forecasts' ``units``
    column), said on every figure. Both frames are checked before anything is written.
    """
    forecasts = _prepared(forecasts)  # checked, and converted once for the figures
    units = _units(forecasts, units)
    _require(metrics_df, ("model", "step", "metric", "value"), "metrics_df")
    if model_name is None:
        models = [m for m in dict.fromkeys(metrics_df["model"]) if m not in BASELINES]
        model_name = str(models[0]) if len(models) == 1 else "model"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        plot_forecasts(forecasts, out / "forecast.png", history=history, model_name=model_name, units=units),
        plot_error_by_step(metrics_df, out / "error_by_step.png", metric=metric, units=units),
        plot_error_over_time(  # from the forecasts: MAE when ``metric`` is not per element (MASE)
            forecasts, out / "error_over_time.png", metric=metric if metric in _POINTWISE else "mae",
            model_name=model_name, origins_total=origins_total, units=units,
        ),
    ]
