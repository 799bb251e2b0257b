"""Online forecasting: each new observation advances the recurrent state in O(1).

A :class:`Stream` holds, for one or many series, the network's carried state (every block's conv
history and SSM state, and the causal normaliser's moving sums), the last timestamp and the last
values. ``update`` feeds one observation per series through ``MambaForecaster.step``; the forecast
it returns equals ``forecaster.predict(all_rows_seen, context="full")`` because the step is the
same recurrence the full forward pass computes in chunks.

Every observation is validated before any state changes; a rejected update raises
:class:`tsmamba.errors.StreamError` and leaves the stream exactly as it was.

Policies:
  ``missing``  a NaN value in an update: ``"reject"`` (default), ``"ffill"`` (use that channel's
               last value; rejected when the channel has no value yet) or ``"zero"`` (use 0, in the
               data's own units: a count or sales series with nothing recorded). ±inf is always
               rejected.
  ``gaps``     a timestamp more than one step after the last: ``"reject"`` (default), ``"ffill"``
               (feed the last values at each missing step first, then the new row) or ``"zero"``
               (feed zeros at each missing step: a shop closed on those days); in update_many's
               rows too.
"""

from __future__ import annotations

import codecs
import copy
import csv
import datetime
import io
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tsmamba.checkpoint import (
    STREAM_FORMAT,
    extra_meta,
    read_checkpoint,
    save_again,
    sha256_bytes,
    write_checkpoint,
    zone_name,
)
from tsmamba.data import (
    FIELD_DELIMITERS,
    NS_RANGE_TEXT,
    TIME_COL_ADVICE,
    PhasesAheadTable,
    check_csv_marks,
    check_scaled_range,
    delimiter_advice,
    future_index,
    in_ns_range,
    parse_time,
)
from tsmamba.errors import CheckpointError, ConfigError, DataValidationError, StreamError
from tsmamba.model import ForecastState, moments_from_power_sums

__all__ = ["CSVLineReader", "Stream"]

FORMAT = STREAM_FORMAT
POLICIES = ("reject", "ffill", "zero")
_TIME_KEYS = ("date", "ds", "timestamp", "time")  # an update's timestamp (or the fitted time column's)
PIECE_STEPS = 4096  # rows per forward pass of a history, update_many or gap: the state makes them exact


def _check_fitted(forecaster: Any) -> None:
    """ConfigError unless ``forecaster`` is a fitted TSMambaForecaster (None had raised an
    AttributeError)."""
    if not callable(getattr(forecaster, "check_fitted", None)):
        raise ConfigError(f"a stream needs a fitted TSMambaForecaster, got {type(forecaster).__name__}")
    forecaster.check_fitted()


def _check_unique(ids: Sequence[Any]) -> None:
    """ConfigError when two series ids are equal (``1``, ``1.0`` and ``True`` are): an update
    addressed to one would go to whichever comes first."""
    seen: dict[Any, Any] = {}
    clashes = []
    for i in ids:
        try:
            if i in seen:
                clashes.append((seen[i], i))
            else:
                seen[i] = i
        except TypeError:
            raise ConfigError(f"series id {i!r} is not hashable; use str or int ids") from None
    if clashes:
        shown = ", ".join(f"{a!r} and {b!r}" for a, b in clashes[:5])
        raise ConfigError(f"series ids must differ, but {shown} are equal; give every series its own id")


def _fit_fingerprint(forecaster: Any) -> str:
    """What else a saved stream depends on: the scaler and the calendar (frequency and zone); a
    refit on data 1000 times larger had the same weights and forecast 1000 times larger."""
    scaler = forecaster.scaler_
    parts = (scaler.mean_.tobytes(), scaler.scale_.tobytes(),
             repr((forecaster.freq_, str(forecaster.index_.tz))).encode())
    return sha256_bytes(b"|".join(parts))


def _weights_fingerprint(forecaster: Any) -> str:
    digest = [
        f"{k}:{tuple(v.shape)}:{float(v.double().sum()):.12e}"
        for k, v in forecaster.network_.state_dict().items()
    ]
    return sha256_bytes("|".join(digest).encode())


class Stream:
    """Online forecasts for ``B`` series sharing one fitted :class:`TSMambaForecaster`.

    Create it with ``forecaster.stream(history)`` where ``history`` is one frame (one series),
    a mapping ``{id: frame}`` or a list of frames (several series), or None (start empty).
    The stream keeps the model as it was when the stream was made: a later ``fit`` of the
    forecaster does not change it (make a new stream for the new model).
    """

    def __init__(
        self,
        forecaster: Any,
        history: Any = None,
        *,
        ids: Sequence[Any] | None = None,
        missing: str = "reject",
        gaps: str = "reject",
    ):
        _check_fitted(forecaster)  # fitted, and with the parameters it was fitted with
        if missing not in POLICIES or gaps not in POLICIES:
            raise ConfigError(f"missing and gaps must be one of {POLICIES}, got {missing!r}, {gaps!r}")
        forecaster.network_._check_recurrent()
        # the model as it is now: refitting forecaster (or set_params) later leaves this stream be,
        # where it had mixed this network with the refit's scaler and calendar
        self.forecaster = copy.copy(forecaster)
        self.network = forecaster.network_
        self.columns = list(forecaster.columns_)
        # the keys an update's timestamp may come under: the fitted time column's name (as predict
        # reads it) and the usual ones, none of them a channel; found once, not at every row
        fitted = forecaster.index_.name
        named = [fitted] if isinstance(fitted, str) and fitted not in _TIME_KEYS else []
        self._time_keys = [key for key in (*named, *_TIME_KEYS) if key not in self.columns]
        self.horizon = int(forecaster.horizon)
        self.freq = forecaster.freq_
        self.offset = pd.tseries.frequencies.to_offset(self.freq) if self.freq else None
        self.missing, self.gaps = missing, gaps
        self._dtype = self.network.head.weight.dtype
        self._phase_table: PhasesAheadTable | None = None  # a cache of phases: copies may share it
        self._loaded_meta: dict[str, Any] | None = None  # load's: the metadata its files were checked against

        frames, self.ids = self._history_frames(history, ids)
        _check_unique(self.ids)
        self._position = {i: b for b, i in enumerate(self.ids)}  # id -> row: a lookup, not a scan of B
        B = len(self.ids)
        self.single = not isinstance(history, (Mapping, list, tuple)) and ids is None
        self._state = self.network.init_state(B, dtype=self._dtype)
        self._forecast = torch.full((B, self.horizon, len(self.columns)), float("nan"), dtype=self._dtype)
        self._last_time: list[pd.Timestamp | None] = [None] * B
        self._last_values = np.full((B, len(self.columns)), np.nan)
        self._seen = np.zeros(B, dtype=np.int64)  # observations each series has consumed
        for b, frame in enumerate(frames):
            if frame is not None and len(frame):
                self._warm(b, frame)

    def __copy__(self) -> Stream:
        """A stream that goes on apart from this one: its own state, forecasts and last rows (a
        plain shallow copy shared them, so updating one moved the other); the model is shared,
        as a stream never changes it."""
        twin = object.__new__(type(self))
        vars(twin).update(vars(self))
        twin._state = self._state.clone()
        twin._forecast = self._forecast.clone()
        twin._last_time = list(self._last_time)
        twin._last_values = self._last_values.copy()
        twin._seen = self._seen.copy()
        twin._position = dict(self._position)
        twin.ids = list(self.ids)
        return twin

    # ---- set-up ----------------------------------------------------------------------------
    def _read_frame(self, frame: Any, caller: str, fill: str | None = None) -> pd.DataFrame:
        """A history or update_many frame (or file) read as predict reads one, its time column
        under a name an update's timestamp may have (they had to be "date" or the fitted one's)."""
        try:
            return self.forecaster._frame_for_prediction(frame, caller=caller, fill=fill,
                                                         time_keys=self._time_keys)
        except DataValidationError as exc:  # predict's time_col= is no option of a stream's
            if TIME_COL_ADVICE not in str(exc):
                raise
            names = [repr(key) for key in self._time_keys]  # none where channels have every such name
            named = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
            where = f"a DatetimeIndex or a column named {named}" if named else "a DatetimeIndex"
            text = str(exc).replace(TIME_COL_ADVICE, f"A stream reads the times from {where}")
            raise DataValidationError(text) from None

    def _history_frames(self, history: Any, ids: Sequence[Any] | None) -> tuple[list, list]:
        if isinstance(ids, (str, bytes)) or (ids is not None and not isinstance(ids, Iterable)):
            raise ConfigError(f"ids is a list of series ids, got {ids!r}; for one series pass ids=[{ids!r}]")
        ids = None if ids is None else list(ids)

        def read(frame: Any, key: Any = None) -> pd.DataFrame | None:  # read as predict reads a frame
            whose = "" if key is None else f"series {key!r}'s history: "  # which of 500 it was
            if isinstance(frame, pd.DataFrame) and not len(frame):  # no history: {id: empty frame}
                differ = self._empty_frame_differs(frame)  # (it had been "no rows" from the reader)
                if differ:
                    raise DataValidationError(f"{whose}{differ}")
                return None
            try:
                return self._read_frame(frame, "stream")
            except DataValidationError as exc:
                policies = (" (missing= and gaps= apply to the updates after the history, not to the "
                            "history)" if "read_series's" in str(exc) else "")
                if not whose and not policies:
                    raise
                raise DataValidationError(f"{whose}{exc}{policies}") from None

        if history is None:
            ids = [0] if ids is None else ids
            return [None] * len(ids), ids
        if isinstance(history, Mapping):
            keys = list(history)
            if ids is not None and ids != keys:  # they had been ignored
                raise ConfigError(f"a mapping of histories names its series by its keys {keys[:10]}; "
                                  f"drop ids= (got {ids[:10]}), or key the histories by those ids")
            return [read(history[k], k) for k in keys], keys
        given = list(history) if isinstance(history, (list, tuple)) else [history]
        keys = ids if ids is not None else list(range(len(given)))
        if len(keys) != len(given):  # one frame with two ids had made a second, empty series
            what = f"{len(given)} histories" if isinstance(history, (list, tuple)) else "one history frame"
            raise ConfigError(f"{what} but {len(keys)} ids; give one id per history (start a series "
                              "with no history as {id: empty frame} or with history=None)")
        several = isinstance(history, (list, tuple)) or ids is not None
        return [read(h, k if several else None) for h, k in zip(given, keys, strict=True)], keys

    @torch.no_grad()
    def _warm(self, b: int, frame: pd.DataFrame) -> None:
        """Run series b's history through the network from its current state (in pieces)."""
        values = frame.to_numpy(np.float64)
        sub = self._state.select(slice(b, b + 1), len(self.columns), self.network.config.channel_mode)
        forecast, new = self._advance(b, len(values), values.__getitem__, frame.index.__getitem__, sub)
        self._commit(torch.tensor([b]), new, forecast)
        self._seen[b] += len(frame)
        self._last_time[b] = frame.index[-1]
        self._last_values[b] = values[-1]

    def _scale_in(self, values: np.ndarray, series: Sequence[int]) -> torch.Tensor:
        """(n, C) raw values of the series at positions ``series`` (one per row) -> scaled, in the
        network's dtype; scaled in float64 first, as ``predict`` does (a float32 cast before
        subtracting the mean loses a large level's digits). A value too large once scaled raises
        StreamError naming its series (the state is intact)."""
        scaled = self.forecaster.scaler_.transform(values)
        top = torch.finfo(self._dtype).max
        try:
            check_scaled_range(scaled, self.columns, top, StreamError)
        except StreamError:
            if self.single:
                raise
            for b, row in zip(series, scaled, strict=True):  # which of the series (rare: a loop)
                try:
                    check_scaled_range(row, self.columns, top, StreamError)
                except StreamError as exc:
                    raise StreamError(f"{self._who(b)}{exc}") from None
            raise
        return torch.from_numpy(scaled).to(self._dtype)

    def _marks(self, index: pd.DatetimeIndex) -> torch.Tensor | None:
        marks = self.forecaster.marks_for(index)  # the fit's calendar inputs (time features, cycle)
        return None if marks is None else marks.to(self._dtype)

    def _phases_ahead(self, times: pd.DatetimeIndex) -> torch.Tensor | None:
        """The cycle phases (n, H) of the steps after each of ``times`` where they do not step by
        one (a DST change), else None: see ``TSMambaForecaster.phases_ahead``; read from a table
        of the stream's grid, which a step does not convert to the zone again."""
        if not self.network.config.cycle_length:
            return None
        if self._phase_table is None:
            f = self.forecaster
            self._phase_table = PhasesAheadTable(f.freq_, f.cycle_length, f.horizon)
        phases = self._phase_table(times)
        return None if phases is None else torch.as_tensor(phases)

    def _next_calendar(
        self, next_time: list[pd.Timestamp | None]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Calendar inputs (B, n_marks) of each series' next step on its frequency grid, and the
        cycle phases (B, H) of the steps after it where they do not step by one (else None)."""
        if self.offset is None or any(t is None for t in next_time):
            raise StreamError(
                "this model reads the calendar (time features or a cycle), so update_array needs "
                "each series' last timestamp and a regular frequency: warm the stream with a "
                "timestamped history, or call update() with timestamped rows"
            )
        times = pd.DatetimeIndex(next_time)
        return self._marks(times), self._phases_ahead(times)

    def _commit(self, rows: torch.Tensor, new: ForecastState, forecast: torch.Tensor) -> None:
        """Write the new state and forecast of series ``rows`` into the stream's own tensors,
        which nothing outside the stream holds. Called once the step has succeeded, so a rejected
        update leaves the state as it was; in place, so that advancing a few of B series costs
        O(few), not a copy of every state (3 GB and 1.8 s at 10,000 series of the default model)."""
        mode, C = self.network.config.channel_mode, len(self.columns)
        if not torch.is_inference_mode_enabled() and self._holds_inference_tensors():
            # made under torch.inference_mode() (set up or updated there), they refuse in-place
            # writes outside it: torch's RuntimeError on the next update. Copies outside it do not.
            self._state, self._forecast = self._state.clone(), self._forecast.clone()
        self._state = self._state.scatter(rows, new, C, mode, in_place=True)
        self._forecast[rows] = forecast.to(self._dtype)

    def _holds_inference_tensors(self) -> bool:
        return self._forecast.is_inference() or any(t.is_inference() for t in self._state.tensors().values())

    # ---- validation (before any state change) ----------------------------------------------
    def _who(self, b: int) -> str:
        """The prefix naming series b in an error ("series 'north': "; none for a single series)."""
        return "" if self.single else f"series {self.ids[b]!r}: "

    def _parse_row(self, row: Any) -> tuple[np.ndarray, pd.Timestamp | None]:
        """One observation -> (C,) float values and an optional timestamp."""
        ts = None
        if isinstance(row, pd.DataFrame):  # df.tail(1), also as {id: df.tail(1)} (it had been an array)
            row = self._one_row(row)
        if isinstance(row, pd.Series):  # keys as text, like the fitted columns (0 -> "0")
            data = {str(k): v for k, v in row.items()}
            if isinstance(row.name, (str, datetime.date, np.datetime64, pd.Period)):  # not a row number
                ts = row.name
        elif isinstance(row, Mapping):
            data = {str(k): v for k, v in row.items()}
        else:
            arr = np.asarray(row)
            if arr.ndim != 1 or arr.shape[0] != len(self.columns):
                raise StreamError(
                    f"an update needs {len(self.columns)} values ({', '.join(self.columns)}), "
                    f"got shape {arr.shape}"
                )
            data = dict(zip(self.columns, arr.tolist(), strict=True))
        if len(data) != len(row):  # a repeated key (or 0 and "0") had kept one of its values
            keys = pd.Index([str(k) for k in row.keys()])
            raise StreamError(f"update columns repeat: {keys[keys.duplicated()].unique().tolist()}")
        keys = [key for key in self._time_keys if key in data]
        if len(keys) + (ts is not None) > 1:  # one of them had won without a word
            given = ([f"its name {str(ts)!r}"] if ts is not None else []) + [repr(k) for k in keys]
            raise StreamError(f"an update holds more than one timestamp ({', '.join(given)}); keep one")
        if keys:
            ts = data.pop(keys[0])
        missing = [c for c in self.columns if c not in data]
        extra = [str(k) for k in data if k not in self.columns]
        if missing or extra:
            why = [f"{what} {names}" for what, names in (("missing", missing), ("unexpected", extra))
                   if names]  # an empty list had been printed: "unexpected []"
            raise StreamError(f"update columns differ from the model's: {', '.join(why)}")
        values = np.empty(len(self.columns))
        for j, c in enumerate(self.columns):
            v = data[c]
            try:
                if _not_a_number(v) or (isinstance(v, str) and "_" in v):
                    raise ValueError  # float() reads "1_000" as 1000; a CSV reader does not
                # None and pandas' NA (a nullable column's row) are missing values, met by the policy
                values[j] = np.nan if v is None or v is pd.NA else float(v)
            except (TypeError, ValueError):
                raise StreamError(f"column {c!r}: value {v!r} is not numeric") from None
            except OverflowError:  # an int past 1.8e308 (its repr may be too long to print)
                raise StreamError(f"column {c!r}: {_BEYOND_FLOAT64}") from None
        if isinstance(ts, pd.Period):  # a PeriodIndex frame's row: its time had been ignored
            raise StreamError(_period_advice(ts))
        if ts is not None:
            raw = ts
            try:
                ts = parse_time(ts)
            except TypeError as exc:  # a number (it had been read as nanoseconds after 1970), a list
                raise StreamError(f"timestamp {raw!r} cannot be parsed: {exc}") from None
            except ValueError:
                ts = pd.NaT
            if ts is pd.NaT:  # pandas reads "" and "NaT" as NaT without raising
                raise StreamError(f"timestamp {raw!r} cannot be parsed")
            if not in_ns_range(ts):  # a mistyped year had raised OverflowError
                raise StreamError(f"timestamp {ts} is {NS_RANGE_TEXT}")
        return values, ts

    def _resolve(
        self,
        b: int,
        values: np.ndarray,
        ts: pd.Timestamp | None,
        last_values: np.ndarray,
        last_time: pd.Timestamp | None,
    ) -> tuple[np.ndarray, pd.Timestamp | None, int]:
        """Apply the policies: -> (values to feed, timestamp, number of gap steps to fill first)."""
        who = self._who(b)
        gap_steps = 0
        if ts is None and last_time is not None and self.offset is not None:
            ts = last_time + self.offset  # no timestamp: the next step on the series' grid
        elif ts is not None:
            ts = self._in_model_zone(ts, who)
        if ts is not None and last_time is not None:
            if ts <= last_time:
                raise StreamError(f"{who}timestamp {ts} is not after the last one ({last_time})")
            if self.offset is not None:
                expected = last_time + self.offset
                if ts != expected:
                    steps = self._steps_between(expected, ts)
                    if steps is None:
                        raise StreamError(
                            f"{who}timestamp {ts} is off the series' {self.freq} grid after {last_time}"
                        )
                    if self.gaps == "reject":
                        raise StreamError(
                            f"{who}gap: {steps} step(s) missing between {last_time} and {ts} "
                            f"(expected {expected}); send them, or use gaps='ffill' or gaps='zero'"
                        )
                    if self.gaps == "ffill" and np.isnan(last_values).any():
                        raise StreamError(f"{who}gap before {ts} and no earlier values to fill it with")
                    gap_steps = steps
        # after a gap filled with zeros, the last values are those zeros (as read_series(fill="zero")
        # then impute="ffill" read them); they had been the values from before the gap
        before = np.zeros_like(last_values) if gap_steps and self.gaps == "zero" else last_values
        return self._filled(who, values, ts, before), ts, gap_steps

    def _filled(
        self, who: str, values: np.ndarray, ts: pd.Timestamp | None, last_values: np.ndarray
    ) -> np.ndarray:
        """The missing-value policy on one row of (C,) values: ±inf is refused, NaN refused,
        carried forward from ``last_values`` or read as 0."""
        at = "" if ts is None else f" at {ts}"  # a row without a time on a stream without one
        if np.isinf(values).any():
            bad = [self.columns[j] for j in np.flatnonzero(np.isinf(values))]
            raise StreamError(f"{who}infinite value in {bad}{at}; send a finite value")
        if np.isnan(values).any():
            bad = [self.columns[j] for j in np.flatnonzero(np.isnan(values))]
            if self.missing == "reject":
                raise StreamError(
                    f"{who}missing value in {bad}{at}; send a value, or use missing='ffill' "
                    "or missing='zero'"
                )
            values = np.where(np.isnan(values), 0.0 if self.missing == "zero" else last_values, values)
            if np.isnan(values).any():
                raise StreamError(
                    f"{who}missing value in {bad}{at} and no earlier value to carry forward"
                )
        return values

    def _steps_between(self, start: pd.Timestamp, end: pd.Timestamp) -> int | None:
        """Steps of the series' grid from ``start`` to ``end`` (both on it), else None. Counted,
        not listed, for a fixed step: a mistyped year had built a range of the whole gap to reject."""
        if isinstance(self.offset, pd.offsets.Tick) and not isinstance(self.offset, pd.offsets.Day):
            delta, step = end.as_unit("ns").value - start.as_unit("ns").value, self.offset.nanos  # ints:
            # a Timedelta of nanoseconds overflows past 292 years
            return delta // step if delta >= 0 and delta % step == 0 else None
        # calendar steps (days: 23 or 25 hours across a DST change, as pandas 2 steps them too;
        # months): few of them in any gap
        on_grid = pd.date_range(start, end, freq=self.offset)
        return len(on_grid) - 1 if len(on_grid) and on_grid[-1] == end else None

    def _advance(
        self, b: int, n: int, values_at: Any, times_at: Any, state: ForecastState
    ) -> tuple[torch.Tensor, ForecastState]:
        """Feed ``n`` rows of series b through the network from ``state``, ``PIECE_STEPS`` at a time:
        ``values_at(piece)`` gives their raw (rows, C) values and ``times_at(piece)`` their
        timestamps for a slice of the rows. The carried state makes the pieces one pass (the same
        forecast), so memory holds one piece, whatever the length of a history or a gap."""
        forecast = None
        for start in range(0, n, PIECE_STEPS):
            piece = slice(start, min(start + PIECE_STEPS, n))
            times = times_at(piece)
            marks = self._marks(times)
            ahead = self._phases_ahead(times[-1:]) if piece.stop == n else None  # of the forecast kept
            x = self._scale_in(values_at(piece), [b] * (piece.stop - piece.start))
            forecast, state = self.network(x[None], None if marks is None else marks[None], state=state,
                                           future_phase=ahead, return_state=True)
        return forecast, state

    def _fill_gap(self, b: int, steps: int, state: ForecastState) -> ForecastState:
        """Series b's state (``state``, its own) after the ``steps`` missing steps that follow its
        last timestamp, fed as the ``gaps`` policy says: its last values, or zeros."""
        last = np.zeros(len(self.columns)) if self.gaps == "zero" else self._last_values[b]
        first = self._last_time[b] + self.offset
        _, state = self._advance(  # a long gap (a mistyped year) costs time, not memory
            b, steps,
            lambda piece: np.repeat(last[None], piece.stop - piece.start, 0),
            lambda piece: pd.date_range(first + piece.start * self.offset, periods=piece.stop - piece.start,
                                        freq=self.offset),
            state,
        )
        return state

    def _in_model_zone(self, ts: pd.Timestamp, who: str) -> pd.Timestamp:
        """``ts`` on the model's calendar: an aware time converted to the zone the model was
        fitted in, a naive one only for a naive model (checked before a series' first row too)."""
        zone = self.forecaster.index_.tz
        if ts.tz is None and zone is not None:
            raise StreamError(
                f"{who}timestamp {ts} has no time zone but the model's series is in {zone}; "
                f"send it with its UTC offset (e.g. {pd.Timestamp('2024-01-15 12:00', tz=zone).isoformat()})"
            )
        if ts.tz is not None and zone is None:
            raise StreamError(
                f"{who}timestamp {ts} has a time zone ({ts.tz}) but the model's series has none; "
                "send timestamps without a UTC offset"
            )
        return ts if zone is None else ts.tz_convert(zone)  # the same instant, in the model's zone

    # ---- updates ---------------------------------------------------------------------------
    def _normalise_updates(self, rows: Any) -> dict[int, Any]:
        if self.single:
            return {0: rows}
        if isinstance(rows, pd.DataFrame):
            rows = self._frame_updates(rows)
        if isinstance(rows, Mapping):
            unknown = [k for k in rows if k not in self._position]
            if unknown:
                shown = f"{self.ids}"
                if len(self.ids) > 10:  # not ten thousand of them in one message
                    shown = f"{len(self.ids)} ids, the first {self.ids[:10]}"
                raise StreamError(f"unknown series ids {unknown[:10]}; this stream has {shown}")
            return {self._position[k]: v for k, v in rows.items()}
        arr = np.asarray(rows, dtype=object)
        if arr.ndim == 2 and arr.shape[0] == len(self.ids):
            return dict(enumerate(list(rows)))
        raise StreamError(f"updates for several series: pass {{id: row}} or a ({len(self.ids)}, C) array")

    def _one_row(self, frame: pd.DataFrame) -> pd.Series:
        """A frame of one series' update (``df.tail(1)``) -> its row, named by its timestamp."""
        if len(frame) != 1:  # update_many takes one series' rows: a stream of one series only
            how = ("update_many(frame), or one at a time" if self.single else  # for several series:
                   "one update each, in time order (update({id: frame.iloc[[i]]}) for each row i)")
            raise StreamError(f"update takes one row, got a frame of {len(frame)}; feed a series' rows "
                              f"with {how}")
        timed = [k for k in self._time_keys if k in frame.columns]
        both = isinstance(frame.index, pd.DatetimeIndex) and timed
        if isinstance(frame.index, pd.MultiIndex) or both:
            raise StreamError(  # the index had been ignored, or overridden by the column
                "a frame of one update takes its timestamp from a DatetimeIndex or a 'date' column; "
                + (f"this one has both (and {timed[0]!r}): keep one "
                   f"(e.g. df.drop(columns={timed[0]!r}))" if both
                   else "this one has a MultiIndex: keep the times (e.g. df.droplevel('unique_id'))")
            )
        return frame.iloc[0]  # named by its index label: a timestamp, or a row number (none)

    def _frame_updates(self, frame: pd.DataFrame) -> dict:
        """A frame of updates for several series, one row per series indexed by their ids, as
        ``{id: row}`` (its array had been read as columns)."""
        if not all(k in self._position for k in frame.index):
            raise StreamError(
                "a frame of updates for several series needs their ids as its index, one row each "
                f"(e.g. df.set_index('unique_id')); its index starts {frame.index[:3].tolist()}, the "
                f"stream's ids {self.ids[:3]}"
            )
        if frame.index.has_duplicates:
            twice = frame.index[frame.index.duplicated()].unique().tolist()
            raise StreamError(f"a frame of updates holds one row per series; ids {twice[:10]} repeat")
        names = pd.Index([str(c) for c in frame.columns])
        if names.has_duplicates:  # the dict of each row had kept the last
            raise StreamError(f"update columns repeat: {names[names.duplicated()].unique().tolist()}")
        return {k: dict(zip(map(str, frame.columns), values, strict=True))
                for k, values in zip(frame.index, frame.itertuples(index=False, name=None), strict=True)}

    @torch.no_grad()
    def update(self, row: Any, *, as_array: bool = False) -> pd.DataFrame | np.ndarray | dict:
        """Feed one new observation (per series) and return the forecast made after it.

        ``row``: a Series (name = timestamp), a one-row DataFrame (index = timestamp), a dict
        (optionally with its timestamp under the fitted time column's name or "date", "ds",
        "timestamp", "time"; one timestamp only), or a 1-D array; for several series, ``{id: row}``
        or a DataFrame indexed by id (one row each) for any of them, or a (B, C) array for all B. Returns an
        ``horizon x channels`` DataFrame indexed by the future timestamps, or with ``as_array`` the
        raw (H, C) array; for several series, the forecasts of the series this call advanced, in
        the stream's order of ids: ``{id: DataFrame}``, or a (b, H, C) array. :meth:`forecast`
        gives every series' forecast.
        """
        updates = self._normalise_updates(row)
        if not updates:  # {} for several series: nothing advances (an empty batch of arrivals)
            return self._forecasts([], as_array)
        plan = []  # validated before any state change
        for b, r in updates.items():
            try:
                values, ts = self._parse_row(r)
            except StreamError as exc:  # which of 10,000 series it was (parse errors had not said)
                raise StreamError(f"{self._who(b)}{exc}") from None
            values, ts, gap_steps = self._resolve(b, values, ts, self._last_values[b], self._last_time[b])
            plan.append((b, values, ts, gap_steps))

        rows = torch.tensor([p[0] for p in plan])
        mode, C = self.network.config.channel_mode, len(self.columns)
        every = len(plan) == len(self.ids) and torch.equal(rows, torch.arange(len(plan)))
        state = self._state if every else self._state.select(rows, C, mode)  # (a copy of all: 6%)
        max_gap = max(p[3] for p in plan)
        if max_gap:  # fill gaps one series at a time (rare path), into a private copy (a later
            state = state.clone() if every else state  # rejection must leave the stream's own be)
            for k, (b, _, _, gap_steps) in enumerate(plan):
                if gap_steps:
                    sub = self._fill_gap(b, gap_steps, state.select(torch.tensor([k]), C, mode))
                    state = state.scatter(torch.tensor([k]), sub, C, mode, in_place=True)  # O(1) each
        x = self._scale_in(np.stack([p[1] for p in plan]), rows.tolist())  # (b, C)
        marks_t = ahead = None
        if self.network.config.n_marks:
            if any(p[2] is None for p in plan):
                raise StreamError(
                    "this model reads the calendar (time features or a cycle): an update needs a "
                    "timestamp until the stream knows its last one (give it a history or a time)"
                )
            times = pd.DatetimeIndex([p[2] for p in plan])
            marks_t, ahead = self._marks(times), self._phases_ahead(times)  # one call, not one per series
        forecast, new = self.network.step(x, state, marks_t, ahead)
        self._commit(rows, new, forecast)
        for b, values, ts, gap_steps in plan:
            self._seen[b] += 1 + gap_steps
            self._last_values[b] = values
            if ts is not None:
                self._last_time[b] = ts
        return self._forecasts(sorted(updates), as_array)  # of the advanced series: O(b), not O(B)

    @torch.no_grad()
    def update_array(self, values: Any) -> np.ndarray:
        """The lean path: one observation for every series as numbers, forecast as an array.

        ``values``: (C,) for one series or (B, C) for all B series, in original units, the rows
        following each series' last observation on its frequency grid. Returns (H, C) or
        (B, H, C). Non-finite values meet :meth:`update`'s ``missing`` policy; no pandas work,
        except for a calendar model (time features or a cycle), whose next step's
        marks come from each series' last timestamp plus the frequency.
        """
        C, B = len(self.columns), len(self.ids)
        labels = (values.index if isinstance(values, pd.Series)
                  else values.columns if isinstance(values, pd.DataFrame) else None)
        if labels is not None:  # names in another order had been read by position, channels swapped
            labels = [str(k) for k in labels]
            if set(labels) & set(self.columns) and labels != self.columns:
                raise StreamError(f"update_array reads values in the fitted order {self.columns[:10]}, got "
                                  f"them labelled {labels[:10]}; pass them in that order, or use update() "
                                  "to match them by name")
        positional = (isinstance(values, pd.DataFrame) and isinstance(values.index, pd.RangeIndex)
                      and values.index.equals(pd.RangeIndex(len(values))))  # pd.DataFrame(array)'s, not
        # an index of the ids 0 .. n-1 (its labels equal a RangeIndex's), which names the rows' series
        if isinstance(values, pd.DataFrame) and not self.single and not positional:  # rows by id, swapped
            rows = values.index.tolist()  # (a default RangeIndex names no ids: read by position)
            if rows != self.ids and not set(rows).isdisjoint(self._position):
                raise StreamError(f"update_array reads rows in the stream's order of ids {self.ids[:10]}, "
                                  f"got them labelled {rows[:10]}; pass them in that order "
                                  "(df.loc[stream.ids]), or use update() to match them by id")
        if self.single:
            self._check_labelled_time(values)
        arr = np.asarray(values)
        if np.iscomplexobj(arr):  # float64 would drop the imaginary parts, with only a warning
            raise StreamError("update_array takes real numbers, got complex values; pass the real values")
        try:
            if arr.dtype.kind in "bMm":  # read as 1 and 0, or as nanoseconds (a date as 1.5e18)
                raise ValueError
            if arr.dtype == object:  # pandas' NA (from a nullable column) is a missing value, as None is
                flat = [np.nan if v is pd.NA else v for v in arr.ravel()]
                if any(map(_not_a_number, flat)):
                    raise ValueError
                arr = np.array(flat, dtype=object).reshape(arr.shape)
            arr = arr.astype(np.float64, copy=False)
        except (TypeError, ValueError):  # text or objects: numpy's own error had come through
            raise StreamError(f"update_array takes numbers, got {arr.dtype} values {values!r:.80}; use "
                              "update() for rows with names or timestamps") from None
        except OverflowError:  # an int past 1.8e308 (its repr may be too long to print)
            raise StreamError(f"update_array takes numbers float64 holds, got {_BEYOND_FLOAT64}") from None
        if arr.shape not in ((C,), (B, C)) or (arr.ndim == 1 and B != 1):
            raise StreamError(
                f"update_array takes ({B}, {C}) values"
                + (f" or ({C},)" if B == 1 else "")
                + f", got shape {arr.shape}"
            )
        arr = arr.reshape(B, C)
        next_time = self._last_time
        if self.offset is not None:
            next_time = [None if t is None else t + self.offset for t in self._last_time]
        bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
        if len(bad):  # update's missing-value policy on those rows, at their derived timestamps
            arr = arr.copy()  # not the caller's array
            for b in bad:
                ts = next_time[b] if self.offset is not None else None
                arr[b] = self._filled(self._who(b), arr[b], ts, self._last_values[b])
        marks_t = ahead = None
        if self.network.config.n_marks:
            marks_t, ahead = self._next_calendar(next_time)
        forecast, self._state = self.network.step(self._scale_in(arr, range(B)), self._state, marks_t, ahead)
        self._forecast = forecast.to(self._dtype)
        self._last_values = arr.copy()  # arr may be a read-only view of the caller's data
        self._seen += 1
        self._last_time = next_time
        out = self.forecaster.scaler_.inverse_transform(forecast.double().numpy())
        return out[0] if self.single else out

    def _check_labelled_time(self, values: Any) -> None:
        """StreamError when one series' row for update_array (a Series named by a time, a frame of
        one row indexed by one) is labelled with another time than the step it feeds, the last
        one's next (the label had been ignored: a later or stale row was fed as that step)."""
        label = values.name if isinstance(values, pd.Series) else None
        if isinstance(values, pd.DataFrame) and len(values) == 1:
            label = values.index[0]  # a timestamp, or a row number (no time)
        if isinstance(label, pd.Period):  # ignored as no time, as update had ignored it
            raise StreamError(f"update_array: {_period_advice(label)}")
        last = self._last_time[0]
        if not isinstance(label, (str, datetime.date, np.datetime64)) or last is None or self.offset is None:
            return
        try:
            ts = parse_time(label)
        except (TypeError, ValueError):  # a name, not a time
            return
        expected = last + self.offset
        if ts is not pd.NaT and self._in_model_zone(ts, "") != expected:
            raise StreamError(f"update_array feeds the step after the last, {expected}, but the row is "
                              f"labelled {ts}; use update() for a row at its own time (a gap)")

    @torch.no_grad()
    def update_many(self, rows: pd.DataFrame, *, as_array: bool = False) -> pd.DataFrame | np.ndarray:
        """Feed several observations of one series (a frame) from the state, in pieces of PIECE_STEPS rows.

        The stream's ``gaps`` policy applies to the steps missing before the first row and between
        rows, as :meth:`update` applies it row by row (the same forecast). The values are read
        strictly, as ``predict`` reads a frame: a missing value is an error whatever the stream's
        ``missing`` policy, which applies to :meth:`update`. A frame with no rows advances nothing
        and returns the current forecast (as ``update({})`` returns ``{}``)."""
        if not self.single:
            raise StreamError(
                "update_many takes one series' rows; for several series call it per id via "
                "stream.update({id: row}) or warm each with its own history"
            )
        if isinstance(rows, pd.Series):  # read_series' advice, series.to_frame(), makes a row a column
            raise StreamError(self._series_advice(rows))
        if isinstance(rows, pd.DataFrame) and not len(rows):  # an empty batch of arrivals
            differ = self._empty_frame_differs(rows)
            if differ:
                raise StreamError(differ)
            return self.forecast(as_array=as_array)
        try:  # gaps between the rows are filled by read_series as gaps= says (its fill=), or named
            frame = self._read_frame(rows, "update_many", fill=None if self.gaps == "reject" else self.gaps)
        except DataValidationError as exc:  # rows a stream rejects: a StreamError, as update raises
            text = str(exc)
            if "impute=" in text:  # the reader's advice (impute=, fill=) is no option of update_many's
                head = text.split(". Pass impute=")[0]
                text = head + (". update_many takes complete rows: send rows with a missing value through "
                               "update(), whose missing= policy applies" if " NaN" in head else
                               ". A stream takes finite values only, in update() too")
            elif ". Pass fill=" in text:  # the steps missing between rows, named as update names a gap
                text = f"{text.split('. Pass fill=')[0]}; send them, or use gaps='ffill' or gaps='zero'"
            raise StreamError(text) from None
        first_values, _ = self._parse_row(frame.iloc[0])
        # the first row is checked against the stream's last observation, the rest by read_series
        last_time, last_values = self._last_time[0], self._last_values[0]
        _, _, gap_steps = self._resolve(0, first_values, frame.index[0], last_values, last_time)
        state = self._fill_gap(0, gap_steps, self._state) if gap_steps else self._state
        values = frame.to_numpy(np.float64)
        forecast, new = self._advance(0, len(values), values.__getitem__, frame.index.__getitem__, state)
        self._commit(torch.tensor([0]), new, forecast)
        self._seen[0] += gap_steps + len(frame)
        self._last_time[0], self._last_values[0] = frame.index[-1], values[-1]
        return self.forecast(as_array=as_array)

    def _series_advice(self, series: pd.Series) -> str:
        """What to pass update_many instead of ``series``: one row's values (labelled by channel)
        go to update(); one channel's column (labelled by time) is a frame for a model of that
        channel alone."""
        got = "update_many takes a frame of rows (times x channels), got a Series"
        labels = {str(k) for k in series.index}
        if labels & {*self.columns, *self._time_keys}:
            return f"{got} of one row; pass it to update(row), or as a frame: update_many(row.to_frame().T)"
        if len(self.columns) == 1:
            return f"{got}; pass series.to_frame({self.columns[0]!r}), its values as the channel's column"
        return f"{got}; pass a frame with the model's channels {self.columns[:10]} as its columns"

    def _empty_frame_differs(self, frame: pd.DataFrame) -> str | None:
        """Why the columns of a frame of no rows are not those of rows to come (the model's
        channels and a time column), or None when they are."""
        present = [str(c) for c in frame.columns]
        time_col = next((key for key in self._time_keys if key in present), None)  # as rows' is found
        return self.forecaster._columns_differ(present, time_col)

    def forecast(self, *, as_array: bool = False) -> pd.DataFrame | np.ndarray | dict:
        """The current forecast of every series (no state change): an ``horizon x channels``
        DataFrame, ``{id: DataFrame}`` for several series, or with ``as_array`` the raw (H, C) /
        (B, H, C) array."""
        if np.isnan(self._forecast.numpy()).all():
            raise StreamError("no observation yet: give a history or call update first")
        return self._forecasts(range(len(self.ids)), as_array)

    def _forecasts(self, rows: Sequence[int], as_array: bool) -> pd.DataFrame | np.ndarray | dict:
        """The current forecasts of series ``rows`` (positions), in original units."""
        rows = list(rows)
        arr = self.forecaster.scaler_.inverse_transform(self._forecast[rows].double().numpy())
        if as_array:
            return arr[0] if self.single else arr
        indexes: dict[pd.Timestamp | None, pd.Index] = {}  # series at one time share their index
        frames = {}
        for k, b in enumerate(rows):
            last = self._last_time[b]
            if last not in indexes:
                indexes[last] = self._future(last)
            own_index = indexes[last].copy()  # renaming one frame's index leaves the others be
            frames[self.ids[b]] = pd.DataFrame(arr[k], index=own_index, columns=self.columns)
        return frames[self.ids[0]] if self.single else frames

    def _future(self, last_time: pd.Timestamp | None) -> pd.Index:
        """The forecast's index after ``last_time``: its timestamps, or steps 1..H without one."""
        if last_time is None or self.offset is None:
            return pd.RangeIndex(1, self.horizon + 1, name="step")
        times = pd.DatetimeIndex([last_time], name=self.forecaster.index_.name)  # as predict names it
        return future_index(times, self.horizon, self.freq)

    @property
    def steps(self) -> int | dict:
        """Observations consumed (gap fills included); ``{id: count}`` for several series."""
        counts = [int(n) for n in self._seen]
        return counts[0] if self.single else dict(zip(self.ids, counts, strict=True))

    @property
    def last_timestamp(self) -> pd.Timestamp | dict | None:
        return self._last_time[0] if self.single else dict(zip(self.ids, self._last_time, strict=True))

    # ---- persistence -----------------------------------------------------------------------
    def state_bytes(self) -> int:
        """Bytes of carried state (all series)."""
        return sum(t.numel() * t.element_size() for t in self._state.tensors().values())

    def save(self, path: str | os.PathLike, *, extra: Mapping[str, Any] | None = None) -> Path:
        """Persist the stream's state atomically (tensors + JSON).

        Series ids must be str, int, bool or finite float (numpy scalars are stored as their Python
        value); last timestamps are stored as ns since the epoch plus the zone's name. ``extra``: a
        JSON mapping of the caller's own (string keys, lists not tuples), kept in ``meta.json``
        under ``"extra"`` and ignored by :meth:`load` (``tsmamba stream --state`` records how it
        read its stdin lines there).
        """
        extra = None if extra is None else extra_meta(extra)  # checked before the work
        ids = [i.item() if isinstance(i, np.generic) else i for i in self.ids]
        for i in ids:
            if type(i) not in (str, int, float, bool) or (isinstance(i, float) and not np.isfinite(i)):
                raise StreamError(
                    f"series id {i!r} ({type(i).__name__}) cannot be saved faithfully; "
                    "use str, int, bool or finite float ids"
                )
        meta = {
            "format": FORMAT,
            "ids": ids,
            "single": self.single,
            "columns": self.columns,
            "steps": self._state.steps,
            "seen": [int(n) for n in self._seen],
            "last_time": [self._time_to_json(b, t) for b, t in enumerate(self._last_time)],
            "missing": self.missing,
            "gaps": self.gaps,
            "model": _weights_fingerprint(self.forecaster),
            "fit": _fit_fingerprint(self.forecaster),
            "moments": "deviations",  # the causal norm's (sum, squared deviations, weight)
        }
        if extra is not None:
            meta["extra"] = extra
        tensors = {
            "state": self._state.tensors(),
            "stream": {"forecast": self._forecast, "last_values": torch.as_tensor(self._last_values)},
        }
        return write_checkpoint(path, meta, tensors)

    @classmethod
    def load(cls, path: str | os.PathLike, forecaster: Any) -> Stream:
        """Resume a saved stream with the forecaster it was made with."""
        meta, tensors = read_checkpoint(path, FORMAT)
        _check_fitted(forecaster)  # the forecaster's own errors are not the save's
        try:
            stream = cls._from_save(path, meta, tensors, forecaster)
            # the metadata its files were checked against: check_replaceable(verified=) need not
            # hash them again (tsmamba stream --state, right after loading)
            stream._loaded_meta = meta
            return stream
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:  # edited or damaged
            raise CheckpointError(
                f"{path}: the saved stream is not valid ({type(exc).__name__}: {exc}); "
                f"{save_again(FORMAT)}"
            ) from None

    @classmethod
    def _from_save(cls, path: Any, meta: dict, tensors: dict, forecaster: Any) -> Stream:
        if meta["model"] != _weights_fingerprint(forecaster):
            raise CheckpointError(f"{path} was saved with a different model; load it with that model")
        fitted = _fit_fingerprint(forecaster)
        if meta.get("fit", fitted) != fitted:  # (saves before it have no "fit": not checked)
            raise CheckpointError(
                f"{path} was saved with a model of the same weights fitted on other data (its scaling "
                "or calendar differ); load it with the model it was saved with"
            )
        if meta["columns"] != list(forecaster.columns_):
            raise CheckpointError(
                f"{path}: channels {meta['columns']} differ from the model's {forecaster.columns_}"
            )
        stream = cls(forecaster, None, ids=meta["ids"], missing=meta["missing"], gaps=meta["gaps"])
        stream.single = bool(meta["single"])
        dtype = stream._dtype
        state = dict(tensors["state"])
        if meta.get("moments") != "deviations" and "moments" in state:  # saved with sums of x^2
            state["moments"] = moments_from_power_sums(state["moments"])
        try:  # the caches in the network's type, the moments in float64 (as saved since 2026-12-03)
            stream._state = ForecastState.from_tensors(state, int(meta["steps"])).to(dtype)
        except KeyError as exc:
            raise CheckpointError(f"{path}: state tensor {exc} is missing") from None
        stream._forecast = tensors["stream"]["forecast"].to(dtype)
        stream._last_values = tensors["stream"]["last_values"].numpy().copy()
        seen = meta.get("seen", [meta["steps"]] * len(stream.ids))  # (saves before per-series counts)
        stream._seen = np.asarray(seen, dtype=np.int64)
        try:
            stream._last_time = [_time_from_json(t) for t in meta["last_time"]]
        except (KeyError, TypeError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise CheckpointError(f"{path}: a saved last timestamp cannot be read ({exc!r})") from None
        B = len(stream.ids)
        sizes = {"ids": B, "states": stream._state.moments.shape[0], "forecasts": len(stream._forecast),
                 "last values": len(stream._last_values), "counts": len(stream._seen),
                 "last times": len(stream._last_time)}
        if len(set(sizes.values())) != 1 or (stream.single and B != 1):
            raise CheckpointError(f"{path}: the saved parts disagree on the number of series ({sizes})")
        return stream

    def _time_to_json(self, b: int, ts: pd.Timestamp | None) -> dict | None:
        """Series b's last timestamp as {"ns", "tz", "unit"}; rejects a zone with no loadable name."""
        if ts is None:
            return None
        try:
            zone = zone_name(pd.DatetimeIndex([ts]))
        except ValueError as exc:
            raise StreamError(
                f"{self._who(b)}cannot save the last timestamp {ts}: {exc}; convert the series to a "
                "named zone first (e.g. index.tz_convert('Europe/Paris'))"
            ) from None
        return {"ns": int(ts.value), "tz": zone, "unit": ts.unit}


_BEYOND_FLOAT64 = "an integer beyond float64's range (±1.8e308)"


def _period_advice(period: pd.Period) -> str:
    """Why a row labelled with a period (a PeriodIndex frame's) is refused, as read_series refuses
    a PeriodIndex: which instant of the period is meant is the caller's to say."""
    return (f"the row is labelled with a period ({period}), not a timestamp; pass rows stamped by "
            "time, e.g. df.to_timestamp() for a PeriodIndex frame (each period by its start)")


def _not_a_number(value: Any) -> bool:
    """A value float() reads that is no number: True (1.0), a datetime64 (its nanoseconds)."""
    return isinstance(value, (bool, np.bool_, np.datetime64, np.timedelta64))


def _time_from_json(saved: dict | str | None) -> pd.Timestamp | None:
    """Rebuild a timestamp saved by ``Stream._time_to_json`` (or an isoformat string, the older
    format, which keeps only the UTC offset)."""
    if saved is None or isinstance(saved, str):
        return None if saved is None else pd.Timestamp(saved)
    ts = pd.Timestamp(saved["ns"], unit="ns")
    if saved["tz"] is not None:
        ts = ts.tz_localize("UTC").tz_convert(saved["tz"])
    return ts.as_unit(saved["unit"])


_LONE_CR, _LONE_CR_BYTES = re.compile(r"(?<=\r)(?!\n)"), re.compile(rb"(?<=\r)(?!\n)")  # where CR ends a line

# what reads as a missing value, not a name (pandas' default NA strings, lower case)
MISSING_WORDS = ("", "na", "n/a", "#n/a", "#na", "<na>", "nan", "-nan", "nat", "none", "null")


class CSVLineReader:
    """Observations for :meth:`Stream.update` from CSV text, one physical line each.

    A line holds the time, then one value per channel, in ``columns`` order unless the first
    non-empty line is a header (:meth:`is_header`): then it names every channel once, in any order
    (other names are ignored and listed in ``ignored``). Each line is one observation: a quoted
    field cannot span lines. A byte-order mark before the first line is ignored.

    ``read(line)`` returns ``{time_key: time, channel: value, ...}`` with missing-value words
    (``NA``, empty, ...) as ``"nan"``, or None for a blank or header line; ``time_key`` is
    ``"date"``, or the first of ``"ds"``, ``"timestamp"``, ``"time"`` that names no channel
    (:class:`ConfigError` when all four do). A bad line (a stray quote, the wrong number of
    fields) raises :class:`StreamError` and changes nothing but the line count: the lines after
    it are read as they would have been (so a header after a bad first line is a bad row, as a
    header anywhere but first is); a header that lacks a channel, names one twice, starts with
    one or names the time after another field raises :class:`DataValidationError`, since the lines
    after it could not be read.

    A line may also come as bytes (``sys.stdin.buffer``): it is decoded on its own with
    ``encoding``, so a byte that is not that encoding rejects its line only, unless it is the
    first non-empty line, which may be the header (:class:`DataValidationError`).

    Header names match the channels exactly, or with the spaces around them left out when that
    tells no two channels apart (``A ,B`` names ``A`` and ``B``, and `` B`` a channel `` B``).
    ``time_name`` is the time's name in the example header that errors show. With
    ``date_format`` (a strptime format, as :func:`~tsmamba.data.read_series` takes) the time is
    read in that format and returned as a Timestamp (a time that does not match it rejects its
    line); without it the time is returned as text, which :meth:`Stream.update` reads as ISO 8601.
    ``sep`` and ``decimal`` are the field delimiter and the decimal mark (``";"`` and ``","``: a
    value ``1,5`` is returned as ``"1.5"``, and one written ``1.5`` rejects its line).
    """

    def __init__(
        self, columns: Sequence[str], encoding: str = "utf-8", time_name: str = "date",
        date_format: str | None = None, sep: str = ",", decimal: str = ".",
    ) -> None:
        check_csv_marks(sep, decimal)
        self.columns = list(columns)
        # the key an observation holds its time under: "date" had been overwritten by a channel so named
        self.time_key = next((key for key in _TIME_KEYS if key not in self.columns), None)
        if self.time_key is None:
            named = f"{', '.join(map(repr, _TIME_KEYS[:-1]))} and {_TIME_KEYS[-1]!r}"
            raise ConfigError(f"channels named {named} leave no key for a line's time in an update; "
                              "rename one of them")
        self.time_name = str(time_name)
        self.date_format = date_format
        self.sep, self.decimal = sep, decimal
        self.encoding = codecs.lookup(encoding).name  # a LookupError for an unknown one, up front
        self.names = list(columns)  # the value fields' names, header order once there is one
        self.positions = list(range(1, len(self.columns) + 1))  # the field of each model channel
        self.ignored: list[str] = []  # header names that are no model channel
        self.header_line: int | None = None  # the header's line number, if there is one
        self.line_number = 0  # of the line last read
        self._first_data_line: int | None = None

    @staticmethod
    def lines(source: Iterable[str | bytes]) -> Iterator[str | bytes]:
        """The physical lines of ``source`` (a file's, text or bytes, split at \\n), split at a
        CR alone as well: a feed whose lines end in CR (old Mac, Excel's "CSV (Macintosh)") had
        been one line, rejected as not CSV. A lone CR ends its line when read (a live feed: it
        is read when a \\n or the input's end comes)."""
        for chunk in source:
            lone_cr = _LONE_CR_BYTES if isinstance(chunk, bytes) else _LONE_CR
            yield from (line for line in lone_cr.split(chunk) if line)

    def read(self, line: str | bytes) -> dict[str, Any] | None:
        """One line -> an observation, or None for a blank or header line (see the class)."""
        self.line_number += 1
        if isinstance(line, bytes):
            try:
                line = line.decode(self.encoding)
            except UnicodeDecodeError as exc:
                what = (f"not {self.encoding} text (byte {exc.object[exc.start:exc.end].hex(' ')} at "
                        f"position {exc.start}); send the lines as {self.encoding}")
                if self._first_data_line is None:  # it may be the header: reading on by position
                    raise DataValidationError(  # could feed one channel's values to another
                        f"line {self.line_number}: {what}. The first line may be a header, so "
                        "the lines after it cannot be read"
                    ) from None
                raise StreamError(what) from None
        if self.line_number == 1:
            line = line.removeprefix("\ufeff")  # a byte-order mark is not part of the first field
        try:  # a stray quote rejects its own line, not every line after it
            fields = next(csv.reader([line], strict=True, delimiter=self.sep), [])
        except csv.Error as exc:
            self._first_data_line = self._first_data_line or self.line_number  # no header after it
            raise StreamError(f"not a CSV line ({exc})") from None
        if len(fields) <= 1 and not "".join(fields).strip():  # blank (",,," is a row of empty fields)
            return None
        self._first_data_line = self._first_data_line or self.line_number
        if self.line_number == self._first_data_line and self.is_header(fields, self.columns,
                                                                         self.date_format, self.decimal):
            self._use_header(fields)
            return None
        if self._names_every_channel(fields):  # a header after data lines (files joined with cat?)
            if [f.strip() for f in fields[1:]] == [n.strip() for n in self.names]:
                return None  # the order the lines are read in: the same header again
            raise DataValidationError(  # reading on by position could feed one channel's values to another
                f"line {self.line_number}: a header ({self.sep.join(fields)!r}) after data lines, in another "
                f"order than the lines before it were read in (time, {', '.join(self.names)}); the lines "
                "after it cannot be read. A header goes on the first line only"
            )
        if len(fields) != len(self.names) + 1:
            hint = self._delimiter_hint(fields)
            raise StreamError(
                f"expected {len(self.names) + 1} fields (time, {', '.join(self.names)}), got {len(fields)}"
                + (f"; the line is {hint}" if hint else "")
            )
        values = {c: "nan" if fields[i].strip().lower() in MISSING_WORDS else self._number(c, fields[i])
                  for c, i in zip(self.columns, self.positions, strict=True)}  # as read_csv
        time: Any = fields[0]
        if self.date_format is not None and time.strip():  # an empty time: Stream.update names it
            try:
                time = parse_time(time, self.date_format)
            except (TypeError, ValueError):
                raise StreamError(
                    f"timestamp {time!r} does not match date_format {self.date_format!r}"
                ) from None
        return {self.time_key: time, **values}

    def _number(self, column: str, text: str) -> str:
        """A value field with its decimal mark as '.', the form :meth:`Stream.update` reads."""
        if self.decimal == ".":
            return text
        if "." in text:  # 1.5 where 1,5 is written: read_csv(decimal=",") does not take it either
            raise StreamError(f"column {column!r}: value {text!r} is not a number with the decimal mark "
                              f"{self.decimal!r}")
        return text.replace(self.decimal, ".")

    @staticmethod
    def is_header(
        fields: Sequence[str], columns: Sequence[str], date_format: str | None = None, decimal: str = "."
    ) -> bool:
        """Whether a first line names the fields: its time field is no timestamp (ISO 8601, or in
        ``date_format``), and it is a name (no digit: 'date'), or it names every model channel, or a
        value field is text (not a number with the decimal mark ``decimal``, NA or empty). A
        mistyped timestamp followed by numbers is a bad data row instead."""
        time, values = fields[0].strip(), [f.strip() for f in fields[1:]]
        names = {c.strip() for c in columns}
        if any(ch.isdigit() for ch in time):  # a time has digits ('now' and 'May' parse, but name columns)
            try:
                if parse_time(time, date_format) is not pd.NaT:
                    return False
            except (TypeError, ValueError):
                pass
        texts = any(_is_text(v.replace(decimal, ".")) for v in values)
        return _is_name(time) or names <= set(values) or texts

    def _names_every_channel(self, fields: Sequence[str]) -> bool:
        """Whether a line is a header by any reading: a name for the time and every model channel
        among its fields (a bad data row, a word where a value goes, is not)."""
        names = {c.strip() for c in self.columns}
        return _is_name(fields[0].strip()) and names <= {f.strip() for f in fields[1:]}

    def example(self) -> str:
        """A header line this reader takes: the time, then the channels, quoted where CSV needs it
        (its start and count for more than 10 channels)."""
        text = io.StringIO()
        shown = self.columns if len(self.columns) <= 10 else self.columns[:5]
        csv.writer(text, delimiter=self.sep, lineterminator="").writerow([self.time_name, *shown])
        more = len(self.columns) - len(shown)
        return text.getvalue() + (f",... ({more} more channels)" if more else "")

    def _delimiter_hint(self, fields: Sequence[str]) -> str | None:
        """'split into fields by ';', not by ',': ...; pass sep=';' ...' when another delimiter
        than ``sep`` splits the line (``fields``, split at ``sep``) into a time and a value per
        channel, or into a header naming every channel; else None."""
        line = self.sep.join(fields)  # as written, but for quotes
        names = {c.strip() for c in self.columns}
        for other in FIELD_DELIMITERS:
            parts = [f.strip() for f in line.split(other)]
            if other == self.sep or len(parts) < len(self.columns) + 1:
                continue
            if names <= set(parts[1:]) or not self.is_header(parts, self.columns, self.date_format, ","):
                return (f"split into fields by {other!r}, not by {self.sep!r}: "
                        f"{delimiter_advice('the input', other, [line], self.decimal)}")
        return None

    def _use_header(self, fields: Sequence[str]) -> None:
        # the spaces around a name are left out unless they tell two channels apart
        key = (lambda name: name) if len({c.strip() for c in self.columns}) < len(self.columns) else str.strip
        names = [key(f) for f in fields[1:]]
        where = f"line {self.line_number}"
        wide = (f"send one line per time, the time and then one value per channel (long form, a line per "
                f"series and time, is not read here), e.g. the header {self.example()}")
        if key(fields[0]) in map(key, self.columns):  # the time is read from the first field, by position
            raise DataValidationError(
                f"{where}: the header starts with the channel {fields[0].strip()!r}; the time must be the "
                f"first field: {wide}"
            )
        absent = [c for c in self.columns if key(c) not in names]
        times = {key(n) for n in (self.time_name, *_TIME_KEYS)} - set(map(key, self.columns))
        later = next((k for k, n in enumerate(names, 2) if n in times), None)
        if later and key(fields[0]) not in times and not absent:  # 'id,date,...': every line's time
            raise DataValidationError(  # had been read from the id field and rejected
                f"{where}: the header names the time {fields[later - 1].strip()!r} in field {later}, after "
                f"{fields[0].strip()!r}; the time must be the first field (move it there, or drop the "
                f"fields before it): {wide}"
            )
        hint = self._delimiter_hint(fields) if absent else None
        if hint:  # '2024-01-31 13:00;1,5;2' read at commas: a time '...;1' and a name '5;2'
            raise DataValidationError(f"{where}: {self.sep.join(fields)!r} is {hint}")
        if absent:
            raise DataValidationError(
                f"{where}: the header lacks the model's column(s) {absent[:5]}"
                f"{f' and {len(absent) - 5} more' if len(absent) > 5 else ''}; name every one of "
                f"the {len(self.columns)} channels (in any order), or leave the header out and send the "
                f"values in the model's order; {wide}"
            )
        twice = [c for c in self.columns if names.count(key(c)) > 1]
        if twice:
            raise DataValidationError(f"{where}: the header names {twice} more than once")
        self.names, self.header_line = [f.strip() for f in fields[1:]], self.line_number
        self.positions = [1 + names.index(key(c)) for c in self.columns]
        self.ignored = [f.strip() for f, n in zip(fields[1:], names, strict=True)
                        if n not in map(key, self.columns)]


def _is_name(field: str) -> bool:
    """Whether a time field is a name ('date'): text without a digit, which no time is."""
    return _is_text(field) and not any(ch.isdigit() for ch in field)


def _is_text(value: str) -> bool:
    """A field that is neither a number nor a missing-value word."""
    if value.lower() in MISSING_WORDS:
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False
