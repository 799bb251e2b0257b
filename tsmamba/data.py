"""Reading, validating, scaling and splitting time series.

Everything here works on one *wide* frame: a ``DatetimeIndex`` (with ``.freq`` set) and one
float64 column per channel. :func:`read_series` builds it from a CSV file (plain or compressed)
or a DataFrame, in wide or long form, and rejects anything a model could silently learn garbage
from (bad or unsorted dates, duplicates, gaps, NaN, text columns), with a
:class:`~tsmamba.errors.DataValidationError` that names the column, the rows and the fix.

The LTSF benchmark protocol (fixed borders, train-only scaling) lives in :func:`ltsf_borders`
and :func:`prepare_ltsf`; :func:`split_borders` gives the same kind of splits for other data.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import contextvars
import csv
import functools
import gzip
import itertools
import lzma
import math
import os
import re
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsmamba.errors import (
    ConfigError,
    DataNotFoundError,
    DataValidationError,
    check_bool,
    nonnegative_int,
    plural,
    positive_int,
)

__all__ = [
    "FILL_METHODS",
    "IMPUTE_METHODS",
    "LTSFData",
    "PhasesAheadTable",
    "StandardScaler",
    "check_length",
    "check_model_times",
    "check_scaled_range",
    "cycle_phase",
    "cycle_phases_ahead",
    "empty_ids",
    "future_index",
    "index_freq",
    "infer_freq",
    "is_long_form",
    "ltsf_borders",
    "parse_time",
    "prepare_ltsf",
    "read_as_published",
    "read_panel",
    "read_series",
    "read_strict",
    "repaired_cells",
    "same_freq",
    "split_borders",
    "steps_by_one",
    "time_feature_count",
    "time_features",
    "timestamp_on",
    "validate_frame",
]

FILL_METHODS = ("ffill", "interpolate", "zero")
"""Accepted values of ``fill=`` (how to fill rows missing from the time grid)."""
IMPUTE_METHODS = ("ffill", "interpolate", "zero")
"""Accepted values of ``impute=`` (how to replace NaN and ±inf values)."""

_SHOW = 5  # how many offending rows or timestamps an error message lists

# A clock time followed by a zone designator: "...00:00Z", "...00:00:00+01:00", "...00:00-0500".
_DESIGNATOR = r"Z|[+-]\d{2}(?::?\d{2})?"  # at most 6 characters
_TZ_SUFFIX = re.compile(rf"\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?\s*({_DESIGNATOR})\s*$")
_ZONE_END = re.compile(rf"(?:{_DESIGNATOR})$")  # a designator alone

_UNNAMED = re.compile(r"Unnamed: (\d+)")  # pandas' name for an empty header field
_LTSF_ETTH = (8640, 11520, 14400)  # 12, 16 and 20 months of hourly rows (30-day months)


# --------------------------------------------------------------------------------------------
# where a value came from, for messages


_INSERTED = -1  # the source row of a row inserted by fill=
_ABSENT = -2  # long form: the series has no row at that time


@dataclass(frozen=True)
class _Origin:
    """Names rows in messages: ``row 5 (line 7)`` for a CSV file, ``row 5`` for a frame.

    ``positions`` maps row ``i`` of a part of the source (one series of a long-form file) to
    its row in the whole source, so messages name the file's rows.
    """

    label: str
    first_line: int | None = None  # file line of data row 0 (2 for one header line)
    positions: np.ndarray | None = field(default=None, compare=False)
    # the file line of every data row, read from the file when a message first needs one
    line_numbers: Callable[[], np.ndarray | None] | None = field(default=None, compare=False)
    # the number of fields each data row was written with, read when first needed (None: unknown)
    field_counts: Callable[[], np.ndarray | None] | None = field(default=None, compare=False)
    decimal: str = "."  # the decimal mark a file was read with
    sep: str = ","  # the field delimiter a file was read with

    def prefix(self) -> str:
        return f"{self.label}: "

    def row(self, i: int | None) -> str:
        if i == _ABSENT:
            return "no row for this series at that time"
        if i is None or i < 0:
            return "an inserted row"
        if self.positions is not None:
            i = int(self.positions[i])
        if self.first_line is None:
            return f"row {i}"
        lines = None if self.line_numbers is None else self.line_numbers()
        return f"row {i} (line {i + self.first_line if lines is None else int(lines[i])})"


def _csv_records(
    path: Path, encoding: str, n_rows: int, sep: str = ","
) -> Callable[[], tuple[np.ndarray, np.ndarray] | None]:
    """A cached reader of the ``n_rows`` data rows' records in a CSV file, read as read_csv reads
    them (blank lines skipped, a quoted field may span lines): (the file line, from 1, each row
    starts on (n_rows,), the number of fields each was written with (n_rows,)). Rows had been
    counted from the header, naming lines before the right ones after a quoted line break. None
    when the records do not map one to one onto the rows, or the file is not one to read twice
    (a pipe), an archive this module does not open, or split by more than one character."""

    @functools.cache
    def records() -> tuple[np.ndarray, np.ndarray] | None:
        opener = _line_opener(path)
        if opener is None or len(sep) != 1 or not path.is_file():
            return None
        starts, counts, end = [], [], 0  # the last line read so far
        try:
            with opener(path, "rt", encoding=encoding, newline="") as fh:
                reader = csv.reader(fh, delimiter=sep)
                for record in reader:
                    if len(record) > 1 or (record and record[0].strip()):  # blank lines are skipped
                        starts.append(end + 1)
                        counts.append(len(record))
                    end = reader.line_num
        except (OSError, UnicodeDecodeError, EOFError, ValueError, lzma.LZMAError, csv.Error):
            return None
        if len(starts) != n_rows + 1:  # the first record is the header
            return None
        return np.asarray(starts[1:]), np.asarray(counts[1:])

    return records


def _line_opener(path: Path) -> Callable[..., Any] | None:
    """How to open a CSV file to read its lines as pandas reads them (decompressed), or None for
    an archive (zip, zstd, tar) whose lines this module does not read."""
    name = path.name.lower()  # pandas infers the compression from the name's ending, in any case
    if name.endswith((".zip", ".zst", ".tar", ".tar.gz", ".tar.bz2", ".tar.xz", ".tgz")):
        return None
    return {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(Path(name).suffix, open)


def _starts_utf16(path: Path) -> bool:
    """Whether the (decompressed) file starts with a UTF-16 byte-order mark."""
    opener = _line_opener(path)
    if opener is None:
        return False
    try:
        with opener(path, "rb") as fh:
            return fh.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    except (OSError, EOFError, ValueError, lzma.LZMAError):
        return False


def _delimiter_note(path: Path, encoding: str) -> str | None:
    """The delimiter named by a first line 'sep=;' (which Excel reads and some exports write for
    it), or None: no such line, or a file whose lines this module does not read (a pipe, an archive)."""
    opener = _line_opener(path)
    if opener is None or not path.is_file():
        return None
    try:
        with opener(path, "rt", encoding=encoding, newline="") as fh:
            first = fh.readline(16)
    except (OSError, UnicodeError, EOFError, ValueError, lzma.LZMAError):
        return None
    note = re.fullmatch(r"\ufeff?sep=(.)\r?\n?", first)
    return None if note is None else note[1]


def _lines_above_header(
    path: Path, encoding: str, sep: str, n_records: int = 30
) -> tuple[int, list[str]] | None:
    """(the header's line, the lines above it) when notes an export wrote come before the header
    ('# exported by X', 'station: 12'), else None. The header is the first line that names two
    fields or more, none of them a number, with fewer fields on every line above it and as many
    on every line below it (of the first ``n_records``). None too for a file whose lines this
    module does not read (a pipe, an archive)."""
    opener = _line_opener(path)
    if opener is None or len(sep) != 1 or not path.is_file():
        return None
    records, end = [], 0  # (first line, fields) of each line that is not blank
    try:
        with opener(path, "rt", encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=sep)
            for record in itertools.islice(reader, n_records):
                if len(record) > 1 or (record and record[0].strip()):
                    records.append((end + 1, record))
                end = reader.line_num
    except (OSError, UnicodeDecodeError, EOFError, ValueError, lzma.LZMAError, csv.Error):
        return None
    counts = [len(fields) for _, fields in records]
    for k in range(1, len(records) - 1):
        if counts[k] >= 2 and max(counts[:k]) < counts[k] and set(counts[k + 1:]) == {counts[k]}:
            names = pd.to_numeric(pd.Series(records[k][1], dtype=object).str.strip(), errors="coerce")
            return None if names.notna().any() else (records[k][0], [sep.join(f) for _, f in records[:k]])
    return None


def _header_below(path: Path, encoding: str, sep: str, origin: _Origin) -> DataValidationError | None:
    """The error naming the lines above a header that is not on line 1, else None."""
    found = _lines_above_header(path, encoding, sep)
    if found is None:
        return None
    line, above = found
    shown = _and_more([repr(text if len(text) <= 40 else text[:37] + "...") for text in above[:_SHOW]],
                      len(above))
    one = len(above) == 1
    return DataValidationError(
        f"{origin.prefix()}the header is on line {line}, not line 1: the line{'' if one else 's'} above it "
        f"({shown}) {'is a note' if one else 'are notes'}, not the table; delete {'it' if one else 'them'}, "
        f"so that the header comes first, or load it with pd.read_csv(path, skiprows={line - 1}) and pass "
        "the DataFrame"
    )


def _undecodable_at(path: Path, encoding: str) -> str:
    """Where the first byte ``encoding`` cannot read is: "line N, byte K of that line" (lines
    end at "\\n"), or "" when it cannot tell (an archive; no line fails on its own). The error
    pandas raises counts bytes within the block it was decoding, not the file."""
    opener = _line_opener(path)
    if opener is None:
        return ""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
        with opener(path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    decoder.decode(line)
                except UnicodeDecodeError as exc:
                    return f"line {number}, byte {max(exc.start, 0) + 1} of that line"
    except (OSError, EOFError, ValueError, LookupError, lzma.LZMAError):
        pass
    return ""


def _source_row(rows: np.ndarray, i: int, j: int | None = None) -> int:
    """The source row of data row ``i``. Long form keeps one per value (``rows`` is 2-D): that
    of channel ``j``, or without ``j`` the first row at that time."""
    if rows.ndim == 1:
        return int(rows[i])
    if j is not None:
        return int(rows[i, j])
    present = rows[i][rows[i] >= 0]
    return int(present.min()) if len(present) else int(rows[i].max())


def _fmt_ts(ts: pd.Timestamp) -> str:
    return str(ts)


def _ns(times: pd.DatetimeIndex) -> np.ndarray:
    """Timestamps as int64 nanoseconds (pandas may store s, ms or us)."""
    return times.as_unit("ns").asi8


NS_RANGE_TEXT = ("outside 1677-09-21 .. 2262-04-11, the years nanosecond times hold (tsmamba counts "
                 "steps and phases in them); check the year")


def outside_ns_range(times: pd.DatetimeIndex) -> np.ndarray:
    """Positions of the times that nanoseconds cannot hold, as instants or as wall-clock times
    (calendar phases count those), most likely a mistyped year (3016): pandas stores them in
    coarser units, and they failed later as OutOfBoundsDatetime."""
    if times.unit == "ns" and times.tz is None:
        return np.arange(0)
    lo, hi = pd.Timestamp.min, pd.Timestamp.max
    wall = times.as_unit("us").tz_localize(None) if times.tz is not None else times
    outside = (wall < lo) | (wall > hi)
    if times.tz is not None:
        outside |= (times < lo.tz_localize("UTC")) | (times > hi.tz_localize("UTC"))
    return np.flatnonzero(outside)


_NS_LO, _NS_HI = pd.Timestamp.min, pd.Timestamp.max
_NS_LO_UTC, _NS_HI_UTC = _NS_LO.tz_localize("UTC"), _NS_HI.tz_localize("UTC")


def in_ns_range(ts: pd.Timestamp) -> bool:
    """:func:`outside_ns_range` for one timestamp, a few microseconds, not the 44 of an index of
    one (a stream checks every update)."""
    if ts.tz is None:
        return _NS_LO <= ts <= _NS_HI
    return _NS_LO_UTC <= ts <= _NS_HI_UTC and _NS_LO <= ts.tz_localize(None) <= _NS_HI


def _and_more(items: list[str], total: int) -> str:
    text = ", ".join(items)
    if total > len(items):
        text += f", ... ({total} in all)"
    return text


# --------------------------------------------------------------------------------------------
# public helpers


def check_length(n_rows: int, required: int, what: str) -> None:
    """Raise :class:`DataValidationError` unless ``n_rows >= required`` (saying so plainly when
    there are no rows at all: "too short" had hidden an empty frame)."""
    if n_rows == 0 and required > 0:
        raise DataValidationError(f"the series has no rows (need >= {required} for {what})")
    if n_rows < required:
        raise DataValidationError(
            f"series too short for {what}: need >= {required} rows, got {n_rows}"
        )


def infer_freq(index: pd.DatetimeIndex) -> str:
    """The pandas offset alias of the regular grid the timestamps lie on.

    Gaps are allowed (the alias is that of the grid, for example ``"h"`` for hourly data with a
    missing hour; :func:`validate_frame` reports such gaps). Raises
    :class:`DataValidationError` when no regular step fits, or with fewer than 2 timestamps.
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise DataValidationError(
            f"infer_freq needs a pandas DatetimeIndex, got {type(index).__name__}; "
            "convert with pd.DatetimeIndex(values)"
        )
    if index.hasnans:
        raise DataValidationError("infer_freq: the index holds NaT (missing timestamps)")
    unique = index.unique().sort_values()
    alias, _ = _infer_grid(unique, _Origin("index"))
    return alias


def future_index(
    index: pd.DatetimeIndex, horizon: int, freq: str | None = None
) -> pd.DatetimeIndex:
    """The ``horizon`` timestamps that follow ``index[-1]`` at ``freq`` (default: inferred)."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) == 0:
        raise DataValidationError("future_index needs a non-empty DatetimeIndex")
    horizon = positive_int(horizon, "horizon")
    step = freq or index_freq(index) or infer_freq(index)
    try:
        offset = pd.tseries.frequencies.to_offset(step)
    except ValueError as exc:
        raise ConfigError(f"freq {step!r} is not a pandas offset alias ({exc})") from exc
    out = pd.date_range(start=index[-1], periods=int(horizon) + 1, freq=offset, name=index.name)
    return out[1:]


# --------------------------------------------------------------------------------------------
# frequency inference


def _timedelta_alias(step_ns: int) -> str:
    """``3_600_000_000_000`` -> ``"h"``, ``900 s`` -> ``"15min"``, ``2 days`` -> ``"2D"``."""
    units = (
        ("D", 86_400 * 10**9),
        ("h", 3_600 * 10**9),
        ("min", 60 * 10**9),
        ("s", 10**9),
        ("ms", 10**6),
        ("us", 10**3),
        ("ns", 1),
    )
    for unit, size in units:
        if step_ns % size == 0:
            count = step_ns // size
            return unit if count == 1 else f"{count}{unit}"
    raise AssertionError("unreachable")


# pandas 3.1 warns from infer_freq that pandas 4 will return an offset; infer_freq_str is its
# inference without the warning (pandas 2 and 3.0 have no such warning, and pandas 4 its offset,
# which to_offset takes as well). No warnings.catch_warnings: it swaps the whole process's warning
# filters, and puts them back dropping what other threads set meanwhile (a predict in one thread
# undid the filters another one set)
_infer_freq = getattr(pd.tseries.frequencies, "infer_freq_str", pd.infer_freq)


def _pandas_infer(index: pd.DatetimeIndex) -> str | None:
    """``pd.infer_freq`` as a normalised alias string, or None."""
    if len(index) < 3:
        return None
    try:
        found = _infer_freq(index)
    except (TypeError, ValueError):
        return None
    if found is None:
        return None
    return pd.tseries.frequencies.to_offset(found).freqstr


def _on_grid(times: pd.DatetimeIndex, freq: str) -> bool:
    """Whether ``times`` are consecutive steps of ``freq`` (the first one on its grid)."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except (TypeError, ValueError):
        offset = None
    if offset is None or offset.n <= 0:
        raise ConfigError(f"freq must be a pandas frequency alias such as 'h' or 'B', got {freq!r}")
    return pd.date_range(times[0], periods=len(times), freq=offset).equals(times)


_MAX_GAP = 10_000  # steps one gap may span: a longer one is a mistyped time (a year), not rows to fill


def _long_gap_error(
    times: pd.DatetimeIndex, after: int, steps: int, freq: str, rows: np.ndarray | None, origin: _Origin
) -> DataValidationError:
    """The error for rows ``after`` and ``after + 1`` of ``times``, ``steps`` steps of ``freq`` apart."""

    def named(i: int) -> str:
        return _fmt_ts(times[i]) + (f" at {origin.row(_source_row(rows, i))}" if rows is not None else "")

    return DataValidationError(
        f"{origin.prefix()}{named(after)} and {named(after + 1)} lie {steps:,} steps of {freq!r} apart: "
        f"{steps - 1:,} timestamps missing between them, more than the {_MAX_GAP:,} a gap may hold. "
        "Check these timestamps (a mistyped year or month?), or supply the rows between them"
    )


def _grid_of_two(
    times: pd.DatetimeIndex, freq: str | None, rows: np.ndarray | None, origin: _Origin,
    fill: str | None = None,
) -> pd.DatetimeIndex | None:
    """The grid of ``freq`` (checked by :func:`_on_grid`) from the first of two times to the
    second when both lie on it, else None (also for no freq). Two rows more than ``_MAX_GAP``
    steps apart on it raise :class:`DataValidationError`, naming them. With ``fill`` (the rows'
    missing steps are to be filled), more than two times that all lie on the grid are gaps on it
    too: rows every 2 hours given to fill on an hourly grid had been read as rows every '2h' (a
    stream's update_many with gaps='ffill' refused what update took row by row); None otherwise."""
    if freq is None or len(times) < 2 or (len(times) > 2 and fill is None):
        return None
    offset = pd.tseries.frequencies.to_offset(freq)
    if isinstance(offset, pd.offsets.Tick) and not isinstance(offset, pd.offsets.Day):  # counted first
        deltas = np.diff(_ns(times))
        if (deltas % offset.nanos).any():
            return None
        steps = deltas // offset.nanos
        if steps.max() > _MAX_GAP:
            after = int(np.argmax(steps))
            raise _long_gap_error(times, after, int(steps[after]), freq, rows, origin)
    grid = pd.date_range(times[0], times[-1], freq=offset, name=times.name)  # days, months: few steps
    if len(grid) < 2 or grid[0] != times[0] or grid[-1] != times[-1]:
        return None
    at = grid.get_indexer(times)
    if (at < 0).any():
        return None
    steps = np.diff(at)
    if steps.max() > _MAX_GAP:
        after = int(np.argmax(steps))
        raise _long_gap_error(times, after, int(steps[after]), freq, rows, origin)
    return grid


def _infer_grid(
    times: pd.DatetimeIndex, origin: _Origin, rows: np.ndarray | None = None
) -> tuple[str, pd.DatetimeIndex]:
    """(alias, grid): the regular grid from ``times[0]`` to ``times[-1]`` the times lie on.

    ``times`` must be sorted and unique; ``rows`` (their source rows, optional) name them in
    errors. ``grid`` equals ``times`` when nothing is missing.
    """
    check_length(len(times), 2, "inferring a frequency")
    alias = _pandas_infer(times)
    if alias is not None:
        return alias, times
    stamps = _ns(times)
    steps = np.diff(stamps)
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[np.argmax(counts)])
    grid_size = (stamps[-1] - stamps[0]) // step + 1 if step > 0 else 0
    plausible = 0 < grid_size <= 50 * len(times) + 10_000  # else mostly gaps: no real grid
    if not plausible and step > 0 and np.all((stamps - stamps[0]) % step == 0):
        longest = int(np.argmax(steps))  # on one grid but mostly gaps: name the gap that makes it so
        if steps[longest] // step > _MAX_GAP:
            raise _long_gap_error(times, longest, int(steps[longest] // step), _timedelta_alias(step),
                                  rows, origin)
    day = 86_400 * 10**9
    weekdays_only = times.day_of_week.max() < 5 and stamps[-1] - stamps[0] >= 7 * day
    if weekdays_only and step % day == 0 and step < 7 * day:
        # a week or more of days and never a weekend: business days, or every k-th (a missing
        # holiday made pandas give up, and the daily grid read every weekend as a gap to fill);
        # the sparsest grid that holds every row (every 5th business day is weekly: W-<DAY>)
        for alias in ("4B", "3B", "2B", "B"):
            grid = pd.date_range(times[0], times[-1], freq=alias, name=times.name)
            if len(grid) <= 2 * len(times) and times.isin(grid).all():  # not mostly gaps: Mon and
                return alias, grid  # Thu rows had been read as business days, 119 missing of 199
    if plausible and np.all((stamps - stamps[0]) % step == 0):
        alias = _timedelta_alias(step)
        if len(times) >= 3 and (values % step == 0).all():
            # prefer an anchored alias (e.g. W-SUN) when pandas finds one on a gap-free stretch
            alias = _anchored_alias(times, step) or alias
        grid = pd.date_range(times[0], times[-1], freq=alias, name=times.name)
        if len(grid) >= len(times) and times.isin(grid).all():
            return alias, grid
    # calendar steps (months, quarters, ...) vary in length: let pandas name the step on a
    # short gap-free stretch, then check every timestamp lies on that calendar grid
    for start in range(0, max(len(times) - 3, 0) + 1, max(len(times) // 20, 1)):
        alias = _pandas_infer(times[start : start + 4])
        if alias is None:
            continue
        grid = pd.date_range(times[0], times[-1], freq=alias, name=times.name)
        if len(grid) >= len(times) and times.isin(grid).all():
            return alias, grid
    found = _calendar_grid(times)
    if found is not None:
        return found
    half_month = 13 * day <= step <= 16 * day  # not monthly rows on the 15th: those are no half months
    for alias in ("SMS", "SME") if half_month else ():  # pandas never infers them (the advice was 14D)
        grid = pd.date_range(times[0], times[-1], freq=alias, name=times.name)
        if len(grid) >= len(times) and times.isin(grid).all():
            return alias, grid
    common = ", ".join(
        f"{_timedelta_alias(int(v)) if v > 0 else '0'} ({int(c)}x)"
        for v, c in sorted(zip(values, counts, strict=True), key=lambda vc: -vc[1])[:4]
    )
    monthly = 30 * day <= step <= 31 * day  # mid-month stamps fit no calendar grid (28D: 4-weekly)
    example = f" (e.g. df.resample('{_timedelta_alias(step)}').mean())" if step > 0 else ""
    fix = f"Resample the data to a fixed step{example}"
    if monthly:
        fix = "Stamp each row at its month's start or end"
    hour = 3600 * 10**9
    if step >= day and times.tz is not None and np.isin([step - hour, step + hour], values).any():
        # local days written in UTC (or another fixed offset): clocks changing make a step 23 or
        # 25 hours; resampling would move each day onto the previous or next one
        fix = ("If these are local days written in UTC, a daylight-saving change makes a step 23 "
               "or 25 hours: read them in their own zone with tz= (e.g. "
               "read_series(df, tz='Europe/Berlin')), not by resampling, which moves every day. "
               f"Else resample the data to a fixed step{example}")
    raise DataValidationError(
        f"{origin.prefix()}no regular frequency can be inferred from the timestamps: the steps "
        f"between rows vary (most common: {common}) and do not fit one grid. {fix} and pass the "
        "result."
    )


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _calendar_grid(times: pd.DatetimeIndex) -> tuple[str, pd.DatetimeIndex] | None:
    """(alias, grid) of the coarsest grid of years, quarters or months (by their start or end,
    anchored at ``times[0]``) that holds every row and is not mostly gaps (at most twice the rows),
    named as pandas names it gap-free; else None. pandas names these only from a gap-free stretch
    of 3 or 4 rows, which a short or gappy series lacks: month starts with a month missing had been
    told to stamp each row at its month's start, month ends to resample to 29 days."""
    month = _MONTHS[times[0].month - 1]
    for base in (f"YS-{month}", f"YE-{month}", f"QS-{month}", f"QE-{month}", "MS", "ME"):
        grid = pd.date_range(times[0], times[-1], freq=base, name=times.name)
        if len(grid) <= 2 * len(times) and times.isin(grid).all():
            return _pandas_infer(pd.date_range(times[0], periods=4, freq=base)) or base, grid
    return None


def _anchored_alias(times: pd.DatetimeIndex, step: int) -> str | None:
    # pandas reports weekly data as W-<DAY>; look for a gap-free stretch of 4 to ask pandas
    diffs = np.diff(_ns(times))
    for start in range(min(len(diffs) - 2, 50)):
        if (diffs[start : start + 3] == step).all():
            return _pandas_infer(times[start : start + 4])
    return None


# --------------------------------------------------------------------------------------------
# reading


def check_csv_marks(sep: Any, decimal: Any) -> None:
    """:class:`ConfigError` unless ``sep`` (the field delimiter) and ``decimal`` (the decimal mark)
    are two different single characters that can play those parts."""
    for value, name, bad in ((sep, "sep", '"\r\n'), (decimal, "decimal", '"\r\n-+eE0123456789')):
        if not isinstance(value, str) or len(value) != 1 or value in bad:
            raise ConfigError(
                f"{name} must be one character, such as {' or '.join(map(repr, _MARKS[name]))}; got {value!r}"
            )
    if sep == decimal:
        raise ConfigError(f"sep and decimal are both {sep!r}; a field delimiter and a decimal mark must "
                          "differ (';' with ',' decimals, or ',' with '.')")


FIELD_DELIMITERS = (",", ";", "\t", "|")  # the delimiters a CSV written with another one is checked for
_MARKS = {"sep": FIELD_DELIMITERS, "decimal": (".", ",")}  # examples in check_csv_marks' message
_SEP_WORDS = {",": "comma", ";": "semicolon", "\t": "tab"}  # field delimiters in messages; others quoted


def _read_table(
    path_like: str | os.PathLike, encoding: str, text_cols: Sequence[str] = (), sep: str = ",",
    decimal: str = ".",
) -> tuple[pd.DataFrame, _Origin]:
    """The CSV as a frame, and how to name its rows. ``text_cols`` (series ids) are kept as
    written where pandas would read a missing-value marker: the id "NA" is Namibia. ``sep`` and
    ``decimal``: the field delimiter and the decimal mark."""
    check_csv_marks(sep, decimal)
    path = Path(path_like).expanduser()
    if not path.exists():
        raise DataNotFoundError(
            f"data file not found: {path.absolute()}. Check the path. Benchmark data sets can "
            "be loaded by name with tsmamba.datasets.load_dataset('ETTh1'), which looks in "
            "$TSMAMBA_DATA and the download folder (tsmamba datasets lists both)."
        )
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.is_file())
        listing = _and_more(inside[:_SHOW], len(inside)) if inside else "no files"
        raise DataValidationError(
            f"{path} is a directory, not a data file; pass the path of a CSV file inside it "
            f"(it holds: {listing})"
        )
    encoding = encoding or "utf-8"  # None: pandas' default, as before
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ConfigError(
            f"encoding {encoding!r} is not a text encoding Python knows; pass the file's, e.g. "
            "'utf-8', 'cp1252', 'latin-1' or 'utf-16'"
        ) from None
    origin = _Origin(path.name, first_line=2)
    if path.is_file() and path.stat().st_size == 0:  # a pipe's size is 0 too: read_csv tells
        raise DataValidationError(
            f"{origin.prefix()}the file is empty (0 bytes); it needs a header line "
            "(e.g. date,HUFL,...,OT) and at least one data row"
        )
    start = b""
    if path.is_file():  # a pipe's bytes cannot be read twice
        with open(path, "rb") as fh:
            start = fh.read(8)
    compressed = _compressed_unnamed(path, start)
    if compressed is not None:
        raise DataValidationError(f"{origin.prefix()}{compressed}")
    binary = _binary_format(path, start) if start else None
    if binary is not None:  # read as text, it had been "not valid utf-8 text" or "cannot be parsed"
        what, loader = binary
        how = {"pd.read_excel": " (Excel: File > Save As > CSV UTF-8; LibreOffice: Save As > Text CSV)"}
        raise DataValidationError(
            f"{origin.prefix()}the file is {what}, not CSV text; export it as a CSV file"
            f"{how.get(loader, '')} and pass that, or load it with {loader} and pass the DataFrame"
        )
    mark = _delimiter_note(path, encoding)
    if mark is not None:  # read as the header, it had been "time column 'date' not found" (columns 'sep=')
        raise DataValidationError(
            f"{origin.prefix()}the first line is {'sep=' + mark!r}, a spreadsheet's note of its delimiter, "
            "not the header: delete that line, so that the header comes first"
            + (f", and pass sep={mark!r}" if mark != sep else "")
        )
    try:
        frame = pd.read_csv(path, encoding=encoding, sep=sep, decimal=decimal, low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(
            f"{origin.prefix()}the file holds no header and no data (empty after "
            "decompression or only blank lines)"
        ) from exc
    except UnicodeDecodeError as exc:
        if _starts_utf16(path):  # Excel's "Unicode Text"; latin-1, the usual advice, garbles it
            raise DataValidationError(
                f"{origin.prefix()}the file is UTF-16 text (it starts with a UTF-16 byte-order "
                "mark); re-save the file as UTF-8, or pass encoding='utf-16'"
            ) from exc
        where = _undecodable_at(path, encoding)
        advice = ("pass encoding= with the file's encoding (e.g. encoding='latin-1')"
                  if codecs.lookup(encoding).name == "utf-8"  # another one: suggest no encoding given
                  else f"pass encoding= with the file's own encoding, which is not {encoding}")
        raise DataValidationError(
            f"{origin.prefix()}not valid {encoding} text ({exc.reason}{' on ' + where if where else ''}); "
            f"re-save the file as UTF-8, or {advice}"
        ) from exc
    except pd.errors.ParserError as exc:  # another delimiter, with decimal commas on some lines?
        raise _other_delimiter(path, encoding, sep, decimal, origin) or _header_below(
            path, encoding, sep, origin) or DataValidationError(
            f"{origin.prefix()}cannot be parsed as CSV ({exc}); check the delimiter is "
            f"a {_SEP_WORDS.get(sep, repr(sep))} and every line has the same number of fields"
        ) from exc
    except (gzip.BadGzipFile, zlib.error, EOFError, zipfile.BadZipFile, lzma.LZMAError) as exc:
        raise _not_decompressed(origin, exc) from exc
    except OSError as exc:
        if exc.errno is not None or exc.filename is not None:  # the disk's, not the data's
            raise
        raise _not_decompressed(origin, exc) from exc  # bz2: "Invalid data stream"
    except ValueError as exc:  # pandas reads a zip archive of exactly one file
        if "ZIP file" not in str(exc):
            raise
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()  # folder entries too: pandas counts them
        shown = _and_more([repr(n) for n in members[:_SHOW]], len(members)) if members else "nothing"
        raise DataValidationError(
            f"{origin.prefix()}the zip archive holds {shown}; a data archive holds one CSV file "
            "and nothing else, not even its folder (zip -j makes one without folders; macOS "
            "'Compress' adds __MACOSX/ entries: zip -d FILE.zip '__MACOSX/*' drops them), or "
            "unpack it and pass the CSV"
        ) from exc
    n_read = len(frame)
    empty = frame.isna().all(axis=1).to_numpy()  # (n_read,) every field empty: a spreadsheet's ,,
    if n_read and empty[-1]:  # trailing ones are read as blank lines (they had been missing timestamps)
        frame = frame.iloc[: n_read - _trailing_run(empty)]
    if len(frame) == 0:
        header = ", ".join(map(str, frame.columns[:10]))
        raise DataValidationError(
            f"{origin.prefix()}the file has a header ({header}) but no data rows"
        )
    records = _csv_records(path, encoding, n_read, sep)
    origin = _Origin(path.name, first_line=2, decimal=decimal, sep=sep,
                     line_numbers=lambda: None if (r := records()) is None else r[0],
                     field_counts=lambda: None if (r := records()) is None else r[1])
    names = [str(c) for c in frame.columns]
    if {m.group(1) for c in names if (m := re.fullmatch(r"(.+)\.\d+", c))} & set(names):
        # read_csv renames a repeated name (load, load.1): is it so in the header itself?
        header = pd.read_csv(path, encoding=encoding, sep=sep, header=None, nrows=1, dtype=str).iloc[0]
        repeated = sorted(c for c, k in Counter(header.dropna()).items() if k > 1)
        if repeated:
            raise DataValidationError(
                f"{origin.prefix()}column names repeat in the header: {repeated}; give every "
                "channel its own name"
            )
    if len(frame.columns) == 1:  # one field per line: another delimiter, in the header and the data?
        other = _other_delimiter(path, encoding, sep, decimal, origin)
        if other is not None:
            raise other
    if not frame.index.equals(pd.RangeIndex(len(frame))):
        # more fields on the data lines than names in the header: pandas makes the first ones
        # row labels, silently (unquoted decimal commas, 12,5, read as the values 5)
        extra = frame.index.nlevels
        first = frame.index[0] if extra == 1 else ", ".join(map(str, frame.index[0]))
        raise _header_below(path, encoding, sep, origin) or DataValidationError(
            f"{origin.prefix()}the data lines have {extra} more field(s) than the header's "
            f"{len(frame.columns)} names ({origin.row(0)} starts with {str(first)!r} before them). "
            "Decimal commas (12,5) or a trailing comma on the data lines? Save the file "
            "comma-separated with '.' decimals, or name every field in the header"
        )
    hollow = np.flatnonzero(empty[: len(frame)])  # between data rows: no time, so no row to keep
    if len(hollow):  # it had been "missing timestamps", as if the values were there
        rows = _and_more([origin.row(int(i)) for i in hollow[:_SHOW]], len(hollow))
        raise DataValidationError(
            f"{origin.prefix()}{plural(len(hollow), 'data row')} {'is' if len(hollow) == 1 else 'are'} "
            f"empty in every field (a spreadsheet's blank row, written {sep * (frame.shape[1] - 1)!r}) at "
            f"{rows}; delete {'that line' if len(hollow) == 1 else 'those lines'} (blank rows at the "
            "end of the file are skipped)"
        )
    as_read = [c for c in text_cols if c in frame.columns]
    if as_read:  # ids as written: "NA" stays text, "" an error for an id, and "07" is not "7"
        frame[as_read] = pd.read_csv(path, encoding=encoding, sep=sep, usecols=as_read, dtype=str,
                                     na_filter=False, nrows=len(frame))
    return frame, origin


_BINARY_STARTS = (  # file signatures of tables that are not CSV text: (start, what, how pandas loads it)
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls)", "pd.read_excel"),
    (b"PAR1", "a Parquet file", "pd.read_parquet"),
    (b"ARROW1", "an Arrow/Feather file", "pd.read_feather"),
    (b"\x89HDF", "an HDF5 file", "pd.read_hdf"),
)


_COMPRESSED_STARTS = (  # (start, compression, the ending by which pandas decompresses a file)
    (b"\x1f\x8b", "gzip", ".gz"),
    (b"BZh", "bzip2", ".bz2"),
    (b"\xfd7zXZ\x00", "xz", ".xz"),
    (b"\x28\xb5\x2f\xfd", "zstd", ".zst"),
)


def _compressed_unnamed(path: Path, start: bytes) -> str | None:
    """The advice for a compressed file (its first bytes ``start``) whose name does not end as pandas
    needs to decompress it (it had been read as text: "not valid utf-8 text", then the encoding
    given advised again)."""
    for signature, kind, ending in _COMPRESSED_STARTS:
        if start.startswith(signature) and path.suffix.lower() != ending:
            return (f"the file is {kind}-compressed, but its name does not end in {ending}, by which it "
                    f"is decompressed; rename it {path.name}{ending}, or decompress it")
    return None


def _binary_format(path: Path, start: bytes) -> tuple[str, str] | None:
    """(what, how pandas loads it) for a spreadsheet workbook or a binary table file (its first bytes
    ``start``), else None. A zip archive of one CSV file (read by pandas when named .zip) is not one
    of them."""
    for signature, what, loader in _BINARY_STARTS:
        if start.startswith(signature):
            return what, loader
    if start.startswith(b"PK\x03\x04") and path.suffix.lower() != ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return None
        if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
            return "an Excel workbook (.xlsx)", "pd.read_excel"
        if "content.xml" in names and "mimetype" in names:
            return "an OpenDocument spreadsheet (.ods)", "pd.read_excel"
    return None


def _other_delimiter(
    path: Path, encoding: str, sep: str, decimal: str, origin: _Origin, n_lines: int = 1000
) -> DataValidationError | None:
    """The error to raise when the header and the first data line are split by another delimiter
    than ``sep`` (and commas in the first ``n_lines`` lines look like decimal marks), else None."""
    try:  # the lines as written: fields split by nothing, quotes kept
        lines = pd.read_csv(path, encoding=encoding, header=None, nrows=n_lines, sep="\x1f", dtype=str,
                            quoting=3).iloc[:, 0].astype(str)  # blank lines skipped
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return None
    if len(lines) < 2 or sep in lines.iloc[0]:
        return None
    header = lines.iloc[0]
    other = [d for d in FIELD_DELIMITERS if d != sep and d in header and d in lines.iloc[1]]
    if not other:
        return None
    return DataValidationError(
        f"{origin.prefix()}the header {header.strip()!r} has no {_SEP_WORDS.get(sep, repr(sep))} but "
        f"{other[0]!r}: {delimiter_advice('the file', other[0], lines.iloc[1:], decimal)}"
    )


def delimiter_advice(what: str, other: str, lines: Iterable[str], decimal: str) -> str:
    """'<what> seems to use ';' as its delimiter [and ',' as its decimal mark]; pass sep=';' [and
    decimal=',']': the fix for CSV text whose fields ``other`` splits; decimal commas when a comma
    stands between digits outside quotes in ``lines`` (the data lines), unless ``decimal`` is ','."""
    unquoted = pd.Series(list(lines), dtype=object).str.replace(r'"[^"]*"', "", regex=True)  # "x,y" is text
    commas = other != "," and decimal != "," and bool(unquoted.str.contains(r"\d,\d").any())  # 1,5
    seems, marks = f"{other!r} as its delimiter", f"sep={other!r}"
    if commas:
        seems, marks = seems + " and ',' as its decimal mark", marks + " and decimal=','"
    elif other == decimal:  # comma-separated text read with decimal=',': the comma cannot be both
        marks += " and decimal='.'"
    return f"{what} seems to use {seems}; pass {marks}"


def _not_decompressed(origin: _Origin, exc: BaseException) -> DataValidationError:
    return DataValidationError(
        f"{origin.prefix()}the compressed file is corrupt, truncated or not compressed as its "
        f"name says ({exc}); download or copy it again, or name it by what it holds"
    )


def is_long_form(
    frame: pd.DataFrame, id_col: str = "unique_id", ds_col: str = "ds", value_col: str = "y"
) -> bool:
    """Whether a table is long form: it has the id, time and value columns (the time may be its
    index, named ``ds_col``)."""
    named = {*frame.columns, *([frame.index.name] if frame.index.name == ds_col else [])}
    return {id_col, ds_col, value_col} <= named


def forecast_times(column: pd.Series, name: str) -> pd.Series:
    """A column of times of a forecasts table, parsed if it is text; text with UTC offsets that
    change (a report in a zone with DST, read back from forecasts.csv) becomes UTC, as the
    offsets say. ConfigError naming ``name`` for values that are not times."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return column
    try:
        with warnings.catch_warnings():  # pandas < 3 warns of mixed offsets, which are read in UTC below
            warnings.filterwarnings("ignore", "In a future version of pandas, parsing datetimes with "
                                    "mixed time zones", FutureWarning)
            parsed = pd.to_datetime(column)
        if pd.api.types.is_datetime64_any_dtype(parsed.dtype):
            return parsed
        raise ValueError("mixed UTC offsets")  # pandas < 3 returned them as objects
    except ValueError:
        try:
            return pd.to_datetime(column, utc=True)
        except ValueError:
            raise ConfigError(f"forecasts column {name!r} holds values that are not times") from None


# what localizing a wall time that daylight saving skips or repeats raises: ValueError (pandas 3),
# pytz's InvalidTimeError (pandas 2, whose zones are pytz's)
_DST_ERRORS: tuple[type[Exception], ...] = (TypeError, ValueError)
try:
    import pytz

    _DST_ERRORS += (pytz.exceptions.InvalidTimeError,)
except ImportError:  # pandas 3 needs no pytz
    pass


def check_zone(tz: Any, name: str = "tz") -> Any:
    """``tz`` if it is None or a time zone pandas knows, else :class:`ConfigError` naming ``name``."""
    if tz is None:
        return None
    try:
        pd.Timestamp("2000-01-01", tz=tz)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError):  # "" is an IndexError
        raise ConfigError(
            f"{name} {tz!r} is not a time zone name (e.g. Europe/Berlin, UTC)"
        ) from None
    return tz


def read_series(
    source: str | os.PathLike | pd.DataFrame,
    *,
    time_col: str = "date",
    columns: Sequence[str] | None = None,
    date_format: str | None = None,
    sort: bool = False,
    fill: str | None = None,
    impute: str | None = None,
    long_form: bool | None = None,
    id_col: str | None = None,
    ds_col: str | None = None,
    value_col: str | None = None,
    encoding: str = "utf-8",
    sep: str = ",",
    decimal: str = ".",
    strict: bool = True,
    freq: str | None = None,
    tz: Any = None,
) -> pd.DataFrame:
    """Read a CSV file (``.csv``, ``.csv.gz``, ...) or a DataFrame into a validated wide frame.

    Returns a frame with a ``DatetimeIndex`` named ``time_col`` (``ds_col`` for long form) whose
    ``.freq`` is set, and float64 columns = the channels (default: every column but the time
    column; each must be numeric). Long form (columns ``id_col``, ``ds_col``, ``value_col``,
    by default ``unique_id``, ``ds``, ``y``; a frame's times may be its index named ``ds_col``)
    is pivoted to one column per series id; it is detected by those columns, or said by
    ``long_form=True`` or by giving ``id_col`` or ``value_col``.

    Options (all off by default, so nothing is changed silently):
      ``sort=True``  sort unsorted rows by time;
      ``fill``       ``"ffill"``, ``"interpolate"`` or ``"zero"`` rows missing from the time grid;
      ``impute``     ``"ffill"``, ``"interpolate"`` or ``"zero"`` NaN and ±inf values;
      ``date_format`` strptime format of the time column when it is not ISO 8601;
      ``sep``, ``decimal`` a file's field delimiter and decimal mark (``";"`` and ``","`` for
                     the CSV files many European spreadsheets write);
      ``freq``       the frequency the rows should step at (a fitted model's): rows on its
                     grid with none missing take it, even one row or too few to tell a
                     business day from a day, and two rows on its grid further apart are a gap
                     (two rows show no step of their own; more than 10,000 steps apart, an
                     error naming them), and so are rows on its grid further apart with
                     ``fill`` (filled on its grid, as a stream fills its gaps); otherwise the
                     frequency is inferred as usual;
      ``tz``         the zone zone-aware times are read in (a fitted model's): the same instants,
                     converted before the steps are checked (a Paris day is 23 hours in UTC);
                     text whose UTC offsets differ (local time across DST) needs it.
    ``strict=False`` keeps duplicate timestamps and gaps (with a warning, ``.freq`` unset,
    ``df.attrs["freq"]`` = the step); it exists for published benchmark files whose row
    positions define the protocol. The frequency alias is in ``df.attrs["freq"]`` as well.
    Raises :class:`DataValidationError` (or :class:`DataNotFoundError` for a missing file).
    """
    check_zone(tz)
    check_bool(sort, "sort")  # sort='no' had sorted
    check_bool(strict, "strict")
    if long_form is None and (id_col is not None or value_col is not None):
        long_form = True  # naming the id or the value column says the data is long form
    id_col = "unique_id" if id_col is None else id_col
    if ds_col is None:  # in data said to be long form, a time_col= other than 'date' names its time
        ds_col = time_col if long_form and time_col != "date" else "ds"
    value_col = "y" if value_col is None else value_col
    if isinstance(source, pd.DataFrame):
        frame, origin = source, _Origin("frame")
        if long_form is not False and frame.index.name == ds_col and ds_col not in frame.columns \
                and {id_col, value_col} <= set(frame.columns):
            frame = frame.reset_index()  # long form with its times as the index
    elif isinstance(source, str | os.PathLike):
        frame, origin = _read_table(source, encoding, text_cols=() if long_form is False else (id_col,),
                                    sep=sep, decimal=decimal)
    else:
        hint = " (one series: pass series.to_frame())" if isinstance(source, pd.Series) else ""
        raise DataValidationError(
            f"expected a DataFrame or the path of a CSV file, got {type(source).__name__}{hint}"
        )
    if long_form is None:
        long_form = is_long_form(frame, id_col, ds_col, value_col)
    if long_form:
        wide, rows, left_out = _pivot_long(frame, origin, id_col, ds_col, value_col, date_format, tz, columns)
        out = _validate(
            wide.index, wide, rows, origin, time_name=ds_col, columns=columns, sort=False,
            fill=fill, impute=impute, strict=strict, freq=freq, tz=tz,
        )  # fmt: skip
        if left_out:
            out.attrs["ids_left_out"] = left_out
        return out
    return _read_wide(
        frame, origin, time_col=time_col, columns=columns, date_format=date_format, sort=sort,
        fill=fill, impute=impute, strict=strict, freq=freq, tz=tz,
    )  # fmt: skip


TIME_COL_ADVICE = "Pass time_col= with the name of the time column (or give a DataFrame a DatetimeIndex)"
_READ_OPTIONS = ("sort=True", "fill=", "impute=", "date_format=", "encoding=", "tz=", "id_col=", "sep=",
                 "decimal=")


def default_time_col(source: Any, time_col: str | None) -> str:
    """The time column to read ``source`` by: ``time_col`` when given; else the name of a
    frame's DatetimeIndex when it is named, and names no column or one that is not numeric
    (``set_index("ts", drop=False)``: read_series reads the index, or asks which is the time),
    and no column "date" holds times (read_series names it after the file's time column, so a
    numeric channel called "date" beside it stays a channel); else "date"."""
    if time_col is not None:
        return time_col
    if isinstance(source, pd.DataFrame) and isinstance(source.index, pd.DatetimeIndex):
        name, columns = source.index.name, [str(c) for c in source.columns]

        def numeric(column: str) -> bool:
            return columns.count(column) == 1 and pd.api.types.is_numeric_dtype(
                source.iloc[:, columns.index(column)].dtype)

        if isinstance(name, str) and (name not in columns or (name != "date" and not numeric(name))):
            if "date" not in columns or numeric("date"):  # else read_series asks which is the time
                return name
    return "date"


# the constant columns read_series leaves unnamed in this thread (or task): a set, or None for all
_CONSTANT_UNSAID: contextvars.ContextVar[frozenset[str] | None] = contextvars.ContextVar(
    "tsmamba_constant_unsaid", default=frozenset())


@contextlib.contextmanager
def constant_warnings_off(names: Sequence[str] | None = None) -> Iterator[None]:
    """Within (in this thread): read_series' warnings about constant columns are left out, those
    naming ``names`` only, or all (None), for a caller that names them itself (a scaler) or
    already did. Other threads' warnings and filters are left alone (not warnings.catch_warnings)."""
    token = _CONSTANT_UNSAID.set(None if names is None else frozenset(map(str, names)))
    try:
        yield
    finally:
        _CONSTANT_UNSAID.reset(token)


def read_strict(
    source: Any, *, caller: str, warn_constant: bool = True, fitted_channels: bool = False, **kw: Any
) -> pd.DataFrame:
    """:func:`read_series` for a ``caller`` (``"fit"``) that takes data but none of its cleaning
    options: an error whose fix is one of them says to read the data with read_series first.
    The constant columns read_series warned about (``attrs["constant"]`` of the frame it
    returned, kept by slices) are not named again at every fit and forecast of a backtest;
    ``warn_constant=False`` names none (a caller whose scaler names them). ``fitted_channels``:
    ``columns=`` are a fitted model's, which the caller cannot leave out (see
    :func:`for_fitted_channels`)."""
    try:
        named = source.attrs.get("constant", []) if isinstance(source, pd.DataFrame) else []
        with constant_warnings_off(named if warn_constant else None):
            return read_series(source, **kw)
    except DataValidationError as exc:
        text = for_fitted_channels(str(exc)) if fitted_channels else str(exc)
        if any(option in text for option in _READ_OPTIONS):
            text += (f". {caller} reads the data as it is: those options are tsmamba.data.read_series's, "
                     f"so read it with them first and pass the frame to {caller}")
        if text == str(exc):
            raise
        raise DataValidationError(text) from None


# read_series' advice to choose other channels, which a model's own channels have no use for
_OTHER_CHANNELS = (
    (re.compile(r"Pass columns=\[\.\.\.\] with the numeric channels to use \(numeric here: .*?\]\), "
                r"or clean these values"), "The model reads these columns: clean these values"),
    (re.compile(r"leave them out with columns=\[\.\.\.\] listing the channels to use"),
     "the model needs values there"),
    (re.compile(r"\. Drop them with columns=\[\.\.\.\]"), ". The model needs values there"),
    # long form: the series not found are the model's, which the caller never requested
    (re.compile(r"requested series not found: "), "series the model was fitted on not found: "),
    # a model's read is given its zone (offsets are read as instants there), so mixed offsets are
    # refused only for a model fitted on naive times, which refuses the zone tz= would give too
    (re.compile(r"Pass tz= with the zone to read them in \(e\.g\. tz='Europe/Berlin' for local time "
                r"across a DST change, or tz='UTC'\)"),
     "The model was fitted on timestamps without a time zone: give these without UTC offsets too (the "
     "local times they were recorded in)"),
)


def index_freq(index: pd.Index) -> str | None:
    """The frequency alias a DatetimeIndex carries (``index.freq``), or None when it carries none."""
    return index.freqstr if getattr(index, "freq", None) is not None else None


def same_freq(a: str | None, b: str | None) -> bool:
    """Whether two frequency aliases are the same step ("h" and "60min" are); unknown: True."""
    return not (a and b) or pd.tseries.frequencies.to_offset(a) == pd.tseries.frequencies.to_offset(b)


def check_model_times(
    frame: pd.DataFrame, zone: str | None, freq: str | None, source: str | None = None
) -> None:
    """DataValidationError unless ``frame``'s timestamps are in the time zone a model was fitted in
    (``zone``; None: without one) and step at its frequency ``freq``: the series a fitted model
    forecasts or streams from. ``source``: the file they were read from, named in the message with
    how to write its times; None: a frame, to give them so."""
    index = frame.index
    if (index.tz is None) != (zone is None):
        if source is None:
            given = f"in {index.tz}" if zone is None else "without a time zone"
            fitted = "without a time zone" if zone is None else f"in {zone}"
            raise DataValidationError(f"the frame's timestamps are {given}, but the model was fitted on "
                                      f"timestamps {fitted}; give them {fitted}")
        raise DataValidationError(
            f"{source}: the timestamps have UTC offsets, but the model was fitted on timestamps without a "
            "time zone; write them without their offsets (the local times they were recorded in)"
            if zone is None else
            f"{source}: the timestamps have no UTC offsets, but the model was fitted on timestamps in "
            f"{zone}; write them with their offsets (2024-03-31 03:00:00+02:00), which are read as "
            f"instants in {zone}"
        )
    given = frame.attrs.get("freq") or index_freq(index)
    if not same_freq(given, freq):
        raise DataValidationError(
            f"{source or 'the frame'} has rows every {given!r}, but the model was fitted on rows every "
            f"{freq!r}; resample it to {freq!r} (or fit a model at {given!r})"
        )


def for_fitted_channels(message: str) -> str:
    """A :func:`read_series` message for data read for a fitted model's channels (to forecast or
    stream from): its advice to pass ``columns=`` without a channel becomes the model's need for
    it, since those channels are the model's inputs; its advice to pass ``tz=`` for times in mixed
    UTC offsets (refused only where the model's zone is none) becomes the model's need for times
    without offsets."""
    for pattern, need in _OTHER_CHANNELS:
        message = pattern.sub(need, message)
    return message


def _read_wide(
    frame: pd.DataFrame,
    origin: _Origin,
    *,
    time_col: str,
    columns: Sequence[str] | None = None,
    date_format: str | None = None,
    sort: bool = False,
    fill: str | None = None,
    impute: str | None = None,
    strict: bool = True,
    freq: str | None = None,
    tz: Any = None,
) -> pd.DataFrame:
    """:func:`read_series` of a wide table already read, with messages naming ``origin``'s rows."""
    _refuse_short_rows(frame, origin, time_col, columns)
    times, data, time_name = _split_time(frame, time_col, origin, implicit_index=True)
    times = _parse_times(times, time_name, date_format, origin, tz)
    if strict and (time_name in frame.columns or frame.index.name == time_name):  # what ds_col= names
        _refuse_long_as_wide(times, data, time_name, columns, origin)  # (strict=False keeps repeats)
    return _validate(
        times, data, np.arange(len(frame)), origin, time_name=time_name, columns=columns,
        sort=sort, fill=fill, impute=impute, strict=strict, freq=freq, tz=tz,
    )  # fmt: skip


def _refuse_short_rows(
    frame: pd.DataFrame, origin: _Origin, time_col: str, columns: Sequence[str] | None
) -> None:
    """Refuse the CSV data lines written with fewer fields than the header where they lack a field
    the read uses (the time column's, or a channel's: all of them, or those of ``columns``; not an
    empty header name's, which is its own error): read_csv fills a short line's last fields with
    NaN, silently, so a line that lost a field had read as a missing value, with the advice to
    impute it. Only when a used column holds a missing value is the file read again for its field
    counts."""
    asked = None if columns is None else set(map(str, columns))
    used = [j for j, name in enumerate(map(str, frame.columns))
            if (name == time_col or asked is None or name in asked) and not _UNNAMED.fullmatch(name)]
    if origin.field_counts is None or not used or not frame.iloc[:, used].isna().to_numpy().any():
        return
    counts = origin.field_counts()
    if counts is None:
        return
    short = np.flatnonzero(counts[: len(frame)] <= max(used))  # rows lacking a used column's field
    if not len(short):
        return
    shown = _and_more([f"{origin.row(int(i))}: {counts[i]} fields" for i in short[:_SHOW]], len(short))
    one = len(short) == 1
    raise DataValidationError(
        f"{origin.prefix()}{plural(len(short), 'data line')} {'has' if one else 'have'} fewer fields "
        f"than the header's {len(frame.columns)} names ({shown}); a field was lost, so the values "
        f"may sit in the wrong columns. Complete or delete {'that line' if one else 'those lines'} "
        f"(a missing value is an empty field: {origin.sep * 2!r})"
    )


def _refuse_long_as_wide(
    times: pd.DatetimeIndex, data: pd.DataFrame, time_name: str, columns: Sequence[str] | None,
    origin: _Origin,
) -> None:
    """A table read as wide that is long form under other column names (store, day, units): its
    times repeat, and a column of ids (text or whole numbers, none missing, 2 or more of them, each
    at most once per time and on at most half the rows) tells the series apart; a text column where
    a tenth of the rows or more share their time (a wide file's repeated hour at a DST change, with
    a day/night column, is no panel), a column of whole numbers only where most times repeat (1.5
    rows per time or more: a count column of a wide file with a row written twice differs there
    too); with ``columns=`` (a fitted model's channels),
    only when some of them are its values. Say how to read it so, not "non-numeric column",
    "sort the rows" or "drop the duplicates"."""
    if len(times) < 4 or not times.has_duplicates:
        return
    shared = times.duplicated(keep=False).mean()  # the rows whose time another row has too
    dense = len(times) >= 1.5 * times.nunique()
    asked = None if columns is None else set(map(str, columns)) - set(map(str, data.columns))
    if asked is not None and not asked:
        return
    found = []
    for name in data.columns:
        col = data[name]
        text = pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype)
        whole = pd.api.types.is_integer_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype)
        if not ((text and shared >= 0.1) or (whole and dense)) or col.isna().any() \
                or not 2 <= col.nunique() <= len(col) // 2:
            continue
        if asked is not None and not asked & set(map(str, col.unique())):
            continue
        if pd.DataFrame({"id": col.to_numpy(), "t": times}).duplicated().any():
            continue  # two values of one series at one time: not this column's series
        found.append((not text, str(name)))
    if not found:
        return
    _, id_name = sorted(found, key=lambda f: f[0])[0]  # the first text column, else number
    numeric = [str(c) for c in data.columns
               if str(c) != id_name and pd.api.types.is_numeric_dtype(data[c].dtype)
               and not pd.api.types.is_bool_dtype(data[c].dtype)]
    if not numeric:
        return
    value = f"value_col={numeric[0]!r}" if len(numeric) == 1 else f"value_col= (one of {numeric})"
    raise DataValidationError(
        f"{origin.prefix()}the times in {time_name!r} repeat, and column {id_name!r} tells "
        f"{data[id_name].nunique()} series apart, each once per time: is this long form, one row per "
        f"series and time? Pass id_col={id_name!r}, ds_col={time_name!r}, {value} to read one "
        "channel per series id; a wide table has one row per time"
    )


def validate_frame(
    df: pd.DataFrame,
    *,
    time_col: str | None = None,
    columns: Sequence[str] | None = None,
    sort: bool = False,
    fill: str | None = None,
    impute: str | None = None,
    strict: bool = True,
    date_format: str | None = None,
    freq: str | None = None,
    tz: Any = None,
) -> pd.DataFrame:
    """The checks of :func:`read_series` for a wide DataFrame, with its options.

    The time is ``df[time_col]`` or, with ``time_col=None``, the frame's ``DatetimeIndex``.
    Returns a new validated frame; ``df`` is not modified.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(f"validate_frame needs a DataFrame, got {type(df).__name__}")
    check_zone(tz)
    origin = _Origin("frame")
    times, data, time_name = _split_time(df, time_col, origin, implicit_index=False)
    times = _parse_times(times, time_name, date_format, origin, tz)
    return _validate(
        times, data, np.arange(len(df)), origin, time_name=time_name, columns=columns,
        sort=sort, fill=fill, impute=impute, strict=strict, freq=freq, tz=tz,
    )  # fmt: skip


def read_panel(
    source: str | os.PathLike | pd.DataFrame,
    *,
    id_col: str = "unique_id",
    ds_col: str = "ds",
    value_col: str = "y",
    columns: Sequence[str] | None = None,
    date_format: str | None = None,
    sort: bool = False,
    fill: str | None = None,
    impute: str | None = None,
    encoding: str = "utf-8",
    sep: str = ",",
    decimal: str = ".",
    strict: bool = True,
    freq: str | None = None,
    tz: Any = None,
) -> dict[str, pd.DataFrame]:
    """Long-form data kept as separate series: ``{id: validated wide frame}``.

    Each frame has a ``DatetimeIndex`` named ``ds_col`` and the ``value_col`` column plus any
    other columns of the file (exogenous channels); series may differ in span and frequency.
    The other options are :func:`read_series`'s, applied to each series.
    """
    if isinstance(source, pd.DataFrame):
        frame, origin = source, _Origin("frame")
        if frame.index.name == ds_col and ds_col not in frame.columns:
            frame = frame.reset_index()  # its times as the index, as read_series takes them
    else:
        frame, origin = _read_table(source, encoding, text_cols=(id_col,), sep=sep, decimal=decimal)
    _check_long_columns(frame, origin, id_col, ds_col, value_col)
    _refuse_short_rows(frame, origin, ds_col, None if columns is None else [id_col, *map(str, columns)])
    frame = frame.reset_index(drop=True)
    _series_ids(frame[id_col], id_col, origin)  # no row may lack its id
    # columns that are text only through some series' text values: each series reads its own
    # as numbers where they all are, so the series with the text is the one named, with its row
    mixed = [c for c in frame.columns
             if c not in (id_col, ds_col) and _partly_numbers(frame[c], origin.decimal)]
    with contextlib.suppress(DataValidationError):
        # the times parsed once, not once per series (text times had cost ~1 ms a series); the
        # format is fixed (ISO 8601 or date_format), so each value reads as its series' read
        # would (pandas 3 gives every series the finest resolution one needs: ns for all when
        # one has nanoseconds). Where they fail (a bad time, offsets that differ between
        # series), each series is parsed alone, and the one at fault named with its rows
        frame[ds_col] = _parse_times(frame[ds_col], ds_col, date_format, origin, tz)
    out: dict[str, pd.DataFrame] = {}
    for key, group in frame.drop(columns=[id_col]).groupby(frame[id_col], sort=True):
        # messages name the rows of the whole file (or frame), not those of the group
        sub_origin = _Origin(f"{origin.label} [{id_col}={key}]", origin.first_line, group.index.to_numpy(),
                             origin.line_numbers, decimal=origin.decimal, sep=origin.sep)
        sub = group.reset_index(drop=True)
        for name in mixed:  # a text value: named with its row
            sub[name] = _numbers_if_all(sub[name], origin.decimal)
        out[str(key)] = _read_wide(sub, sub_origin, time_col=ds_col, columns=columns,
                                   date_format=date_format, sort=sort, fill=fill, impute=impute,
                                   strict=strict, freq=freq, tz=tz)
    return out


def _partly_numbers(column: pd.Series, decimal: str = ".") -> bool:
    """A text column some of whose values are not numbers (with the decimal mark ``decimal``)
    while others are."""
    if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        return False
    read = _written_numbers(column, decimal)
    given = column.notna()
    return bool(read[given].isna().any() and read[given].notna().any())


def _written_numbers(column: pd.Series, decimal: str) -> pd.Series:
    """Text values as numbers the way read_csv(decimal=``decimal``) reads them (with ',': 1,5, and
    1.5 is none), NaN where a value is no number."""
    if decimal == ".":
        return pd.to_numeric(column, errors="coerce")
    written = column.astype("string")
    return pd.to_numeric(written.mask(written.str.contains(".", regex=False))
                         .str.replace(decimal, ".", regex=False), errors="coerce")


def _numbers_if_all(column: pd.Series, decimal: str) -> pd.Series:
    """``column`` as numbers (:func:`_written_numbers`) when every value given is one, else as it is."""
    numbers = _written_numbers(column, decimal)
    return numbers if numbers[column.notna()].notna().all() else column


def _check_long_columns(
    frame: pd.DataFrame, origin: _Origin, id_col: str, ds_col: str, value_col: str
) -> None:
    missing = [c for c in (id_col, ds_col, value_col) if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{origin.prefix()}long-form data needs the columns {id_col!r}, {ds_col!r} and "
            f"{value_col!r}; missing {missing}; the columns are {list(map(str, frame.columns))}."
            " Pass id_col=, ds_col=, value_col= to name them"
        )


def empty_ids(col: pd.Series) -> np.ndarray:
    """Which long-form ids are missing or blank, (n,) bool: rows without a series."""
    return col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy()


def _series_ids(col: pd.Series, name: str, origin: _Origin) -> np.ndarray:
    """The series id of each long-form row, as text. An empty id is an error, not a series, and so
    are two different ids with the same text (1 and "1"), which would make one series or one
    would replace the other."""
    empty = empty_ids(col)
    if empty.any():
        bad = np.flatnonzero(empty)
        rows = [origin.row(int(i)) for i in bad[:_SHOW]]
        hint = ("" if origin.first_line is not None else "; pd.read_csv reads an id written NA, "
                "N/A or null as missing: pass the file's path instead, or read it with keep_default_na=False")
        raise DataValidationError(
            f"{origin.prefix()}id column {name!r} is empty at {_and_more(rows, len(bad))}; "
            f"every row needs the id of its series (fill it in or drop those rows){hint}"
        )
    ids = col.astype(str)
    if pd.api.types.infer_dtype(col, skipna=True).startswith("mixed"):  # ids of several types
        kinds = pd.DataFrame({"text": ids, "raw": col.map(repr)}).drop_duplicates()  # 1, 1.0, "1"
        clash = kinds[kinds["text"].duplicated(keep=False)]
        if len(clash):
            shown = [", ".join(group["raw"]) for _, group in clash.groupby("text", sort=True)]
            raise DataValidationError(
                f"{origin.prefix()}id column {name!r} holds different ids with the same text: "
                f"{_and_more(shown[:_SHOW], len(shown))}; ids are matched as text, so make them "
                f"distinct (e.g. all text: df[{name!r}].astype(str), after renaming the clashing ones)"
            )
    return ids.to_numpy()


# --------------------------------------------------------------------------------------------
# parsing


def _split_time(
    frame: pd.DataFrame, time_col: str | None, origin: _Origin, *, implicit_index: bool
) -> tuple[Any, pd.DataFrame, str]:
    """(raw time values, the other columns, name of the time axis). ``time_col`` is matched as
    text, as channels are: the time column ``0`` of ``read_csv(header=None)`` is named ``"0"``
    (the read frame's index, and so the fitted model's), and read again by that name."""
    if time_col is not None:
        if not isinstance(time_col, Hashable):  # a list had raised TypeError: unhashable type
            raise ConfigError(f"time_col must be the name of one column, got {time_col!r}")
        if time_col not in frame.columns:  # a label 0 for "0" (as channels are matched), or "0" for 0
            same = [c for c in frame.columns if str(c) == str(time_col)]
            time_col = same[0] if len(same) == 1 else time_col
    if time_col is not None and time_col in frame.columns:
        column, rest = frame[time_col], frame.drop(columns=[time_col])
        if implicit_index and isinstance(frame.index, pd.DatetimeIndex):
            if _same_times(column, frame.index):  # set_index(..., drop=False): the index keeps the zone
                return frame.index, rest, str(time_col)
            raise DataValidationError(
                f"{origin.prefix()}the frame has a DatetimeIndex and a column {time_col!r} that is "
                "not the same times; which is the time? Rename the column to keep it as a channel "
                f"and read the times from the index, or pass df.reset_index(drop=True) to read "
                f"them from {time_col!r}"
            )
        return column, rest, str(time_col)
    if isinstance(frame.index, pd.DatetimeIndex) and (implicit_index or time_col is None):
        name = frame.index.name if frame.index.name is not None else (time_col or "date")
        return frame.index, frame, str(name)
    if time_col is not None and frame.index.name == time_col and not isinstance(
            frame.index, (pd.DatetimeIndex, pd.PeriodIndex)):  # read_csv(index_col="date"): its text
        return pd.Series(frame.index.to_numpy(), index=frame.index, name=time_col), frame, str(time_col)
    if isinstance(frame.index, pd.PeriodIndex) and (implicit_index or time_col is None):
        raise DataValidationError(  # it had been "time column 'date' not found"
            f"{origin.prefix()}the frame's index is a PeriodIndex (periods of {frame.index.freqstr!r}), "
            "not timestamps; pass df.to_timestamp(), which stamps each period by its start"
        )
    cols = list(map(str, frame.columns))
    if time_col is None:
        raise DataValidationError(
            f"{origin.prefix()}the frame has no DatetimeIndex; pass time_col= naming its time "
            f"column (columns: {cols})"
        )
    near = [c for c in cols if c.strip().casefold() == str(time_col).strip().casefold()]  # 'Date', ' date'
    hint = f" (did you mean {near[0]!r}? names are matched exactly, in case and spaces)" if near else ""
    raise DataValidationError(f"{origin.prefix()}time column {time_col!r} not found; the columns are "
                              f"{cols}{hint}. {TIME_COL_ADVICE}")


def _same_times(column: pd.Series, index: pd.DatetimeIndex) -> bool:
    """Whether a column holds the index's times, as after ``set_index(..., drop=False)``."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        return False
    try:
        parsed = pd.DatetimeIndex(column if pd.api.types.is_datetime64_any_dtype(column.dtype)
                                  else pd.to_datetime(column, format="ISO8601"))
    except (ValueError, TypeError):
        return False
    if (parsed.tz is None) != (index.tz is None):
        return False
    if parsed.tz is not None:  # the same instants, written with an offset or a zone name
        parsed, index = parsed.tz_convert("UTC"), index.tz_convert("UTC")
    return parsed.equals(index)


def _trailing_run(flags: np.ndarray) -> int:
    """How many of the last entries of the boolean ``flags`` (T,) are True (T when all are)."""
    return len(flags) if flags.all() else int(np.argmin(flags[::-1]))


def _trailing_blank_rows(values: np.ndarray) -> int:
    """How many of the last rows of ``values`` (T, C) hold NaN in every column, when some row
    before them holds a value (else 0: a series of nothing has no rows 'still to come')."""
    blank = np.isnan(values).all(axis=1)  # (T,)
    return 0 if blank.all() else _trailing_run(blank)


def _parse_times(
    raw: Any, name: str, date_format: str | None, origin: _Origin, tz: Any = None
) -> pd.DatetimeIndex:
    """Parse the time values; reject unparsable, missing and mixed-zone timestamps. With ``tz``,
    zone-aware values are read as instants in that zone, whatever their UTC offsets."""
    if isinstance(raw, pd.DatetimeIndex):
        times = raw
    else:
        series = pd.Series(raw).reset_index(drop=True)
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            times = pd.DatetimeIndex(series)
        else:
            times = _parse_time_values(series, name, date_format, origin, tz)
    if times.hasnans:
        bad = np.flatnonzero(times.isna())
        rows = [origin.row(int(i)) for i in bad[:_SHOW]]
        raise DataValidationError(
            f"{origin.prefix()}time column {name!r} has {plural(len(bad), 'missing timestamp')} "
            f"(NaT/empty) at {_and_more(rows, len(bad))}; every row needs a timestamp"
        )
    beyond = outside_ns_range(pd.DatetimeIndex(times))
    if len(beyond):
        raise DataValidationError(
            f"{origin.prefix()}time column {name!r} has {plural(len(beyond), 'timestamp')} "
            f"{NS_RANGE_TEXT}: first {times[beyond[0]]} at {origin.row(int(beyond[0]))}"
        )
    return pd.DatetimeIndex(times, name=name)


def _parse_time_values(
    series: pd.Series, name: str, date_format: str | None, origin: _Origin, tz: Any = None,
    written: pd.Series | None = None,
) -> pd.DatetimeIndex:
    """The times of ``series``; ``written``: the values as given, when ``series`` is them stripped."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series):
        if date_format is None and series.notna().any():  # (none: the missing timestamps are named)
            sample = ", ".join(repr(v) for v in series.head(3).tolist())
            raise DataValidationError(
                f"{origin.prefix()}time column {name!r} holds numbers ({sample}), not dates; "
                f"{_numbers_as_times(series)}"
            )
        text = series.astype("string")
        if pd.api.types.is_float_dtype(series.dtype):  # digits with an empty cell: 20210131, not 20210131.0
            whole = ((series == np.round(series)) & (series.abs() < 2.0**63)).to_numpy()
            text[whole] = series[whole].astype(np.int64).astype("string")
        series = text
    instants = _check_zones(series, name, origin) and tz is not None  # offsets may differ (DST)
    try:
        # ISO 8601 unless told otherwise: pandas' own guess reads 01.02.2024 month-first, silently
        parsed = pd.to_datetime(series, format=date_format or "ISO8601", errors="coerce", utc=instants)
        if instants:
            parsed = parsed.dt.tz_convert(tz)
    except (ValueError, TypeError) as exc:
        if "timezone" in str(exc).lower() or "tz-aware" in str(exc).lower():
            raise _mixed_zone_error(series, name, origin) from exc
        fix = (f"is date_format {date_format!r} a strptime format (e.g. '%d/%m/%Y %H:%M')?" if date_format
               else "pass date_format= with the strptime format of the timestamps")
        raise DataValidationError(
            f"{origin.prefix()}cannot parse time column {name!r} ({exc}); {fix}"
        ) from exc
    if not isinstance(parsed.dtype, (np.dtype, pd.DatetimeTZDtype)) or parsed.dtype == object:
        raise _mixed_zone_error(series, name, origin)  # pandas < 3 returns objects here
    bad = np.flatnonzero(parsed.isna().to_numpy() & series.notna().to_numpy())
    if len(bad):
        stripped = _stripped(series) if written is None else series  # only here: a pass over every row
        if written is None and not stripped.equals(series):  # '2021-01-02 ', as pandas reads ' 2021-01-02'
            return _parse_time_values(stripped, name, date_format, origin, tz, written=series)
        shown = [f"{origin.row(int(i))}: {(series if written is None else written).iloc[i]!r}"
                 for i in bad[:_SHOW]]
        hint = (
            f"does the format {date_format!r} match them?"
            if date_format
            else "timestamps are read as ISO 8601 (2024-01-31 13:00); if they are all in one "
            "other format, pass date_format= (e.g. date_format='%d/%m/%Y %H:%M')"
        )
        raise DataValidationError(
            f"{origin.prefix()}{len(bad)} of {len(series)} values of time column {name!r} "
            f"cannot be parsed as dates: {_and_more(shown, len(bad))}. Fix these values; {hint}"
        )
    return pd.DatetimeIndex(parsed)


def _stripped(series: pd.Series) -> pd.Series:
    """``series`` with its text values' surrounding spaces removed (other values as they are)."""
    if not (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)):
        return series
    try:
        stripped = series.str.strip()
    except AttributeError:  # no text at all: datetime objects
        return series
    return series.where(stripped.isna(), stripped)


_DIGIT_DATES = {4: "%Y", 6: "%Y%m", 8: "%Y%m%d", 10: "%Y%m%d%H", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
_EPOCH_UNITS = (("s", 1e11, "seconds"), ("ms", 1e14, "milliseconds"), ("us", 1e17, "microseconds"))


def _numbers_as_times(series: pd.Series) -> str:
    """How to read the numbers of a time column as times, by what they fit: dates written as digits
    (20210131, 202101, 2021: date_format=), spreadsheet serial days (44197 is 2021-01-01), epoch
    seconds (or ms, us, ns by their size) of 1971 to 2200; else none of them is offered. Epoch
    seconds had been advised for all, which read 44197 or 2021 as times on 1 January 1970, a
    second apart: a series that reads on without a word."""
    numbers = np.unique(series.dropna().to_numpy(np.float64))
    lo, hi = float(numbers[0]), float(numbers[-1])
    if lo >= 0 and hi < 1e15 and (numbers == np.round(numbers)).all():
        texts = pd.Series(numbers.astype(np.int64).astype(str))
        widths = texts.str.len().unique()
        fmt = _DIGIT_DATES.get(int(widths[0])) if len(widths) == 1 else None
        if fmt is not None and pd.to_datetime(texts, format=fmt, errors="coerce").notna().all():
            return f"they read as dates written as digits: pass date_format={fmt!r}"
    if 10_000 <= lo and hi < 100_000:  # days of 1927-05-18 .. 2173-10-14
        return ("they look like spreadsheet serial dates (days since 1899-12-30: 44197 is 2021-01-01): "
                "save the column formatted as dates, or convert them first: "
                "pd.to_datetime(values, unit='D', origin='1899-12-30')")
    size = max(abs(lo), abs(hi))
    unit, word = next(((u, w) for u, top, w in _EPOCH_UNITS if size < top), ("ns", "nanoseconds"))
    years = (0, 0)
    if 0 < lo and hi < 7.3e18:  # within 1970 .. 2200 in any unit, which to_datetime holds (not inf)
        years = tuple(t.year for t in pd.to_datetime([lo, hi], unit=unit))
    if years[0] > 1970 and years[1] <= 2200:
        first = series.dropna().head(1).tolist()[0]
        return (f"if they are epoch {word} ({first} is {pd.to_datetime(first, unit=unit)}), convert them "
                f"first: pd.to_datetime(values, unit='{unit}')")
    return ("write them as timestamps (ISO 8601, e.g. 2024-01-31 13:00), or pass date_format= if they "
            "are dates written as digits (e.g. date_format='%Y%m%d')")


def _check_zones(series: pd.Series, name: str, origin: _Origin) -> bool:
    """Reject a mix of naive and zone-aware timestamps (text or datetime objects); whether they
    are all zone-aware."""
    values = series.dropna()
    if len(values) == 0:
        return False
    if pd.api.types.is_string_dtype(values.dtype) and isinstance(values.iloc[0], str):
        aware = _zone_aware(values.astype(str).to_numpy())
    elif values.dtype == object:
        aware = np.array(
            [isinstance(v, datetime) and v.tzinfo is not None for v in values], dtype=bool
        )
        if not any(isinstance(v, datetime) for v in values):
            return False
    else:
        return False
    if aware.any() and not aware.all():
        naive_at = values.index[int(np.argmin(aware))]
        aware_at = values.index[int(np.argmax(aware))]
        raise DataValidationError(
            f"{origin.prefix()}time column {name!r} mixes timestamps without a time zone "
            f"({origin.row(int(naive_at))}: {series[naive_at]!r}) and with one "
            f"({origin.row(int(aware_at))}: {series[aware_at]!r}); "
            f"{int((~aware).sum())} naive, {int(aware.sum())} zone-aware. Write every "
            "timestamp in the same zone (or all without a zone)"
        )
    return bool(aware.all())


def _zone_aware(texts: np.ndarray) -> np.ndarray:
    """Whether each timestamp text ends in a zone designator after a clock time, (n,) bool.

    The full pattern runs only on texts whose last six characters can hold a designator: a
    file's timestamps share few distinct endings, so the rest costs one slice per row."""
    tails = pd.Series([text.rstrip()[-6:] for text in texts], dtype=object)
    codes, endings = pd.factorize(tails)
    maybe = np.array([_ZONE_END.search(ending) is not None for ending in endings], dtype=bool)
    aware = np.zeros(len(texts), dtype=bool)
    rows = np.flatnonzero(maybe[codes])
    aware[rows] = [_TZ_SUFFIX.search(texts[i]) is not None for i in rows]
    return aware


def _mixed_zone_error(series: pd.Series, name: str, origin: _Origin) -> DataValidationError:
    first_seen: dict[str, int] = {}
    for i, value in series.items():
        if isinstance(value, str):
            match = _TZ_SUFFIX.search(value)
            zone = match.group(1) if match else "none"
        else:
            zone = str(getattr(value, "tzinfo", None))
        first_seen.setdefault(zone, int(i))  # type: ignore[arg-type]
    zones = [f"{z} first at {origin.row(i)}" for z, i in list(first_seen.items())[:_SHOW]]
    return DataValidationError(
        f"{origin.prefix()}time column {name!r} mixes time zones / UTC offsets "
        f"({_and_more(zones, len(first_seen))}). Pass tz= with the zone to read them in (e.g. "
        "tz='Europe/Berlin' for local time across a DST change, or tz='UTC')"
    )


def _pivot_long(
    frame: pd.DataFrame,
    origin: _Origin,
    id_col: str,
    ds_col: str,
    value_col: str,
    date_format: str | None,
    tz: Any = None,
    columns: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """(wide frame, ``(T, C)`` source row of each value, ``_ABSENT`` where a series has none, the
    ids of the series left out). With ``columns``, only those series are pivoted: the times of the
    others are not theirs."""
    _check_long_columns(frame, origin, id_col, ds_col, value_col)
    _refuse_short_rows(frame, origin, ds_col, [id_col, value_col])
    left = [str(c) for c in frame.columns if c not in (id_col, ds_col, value_col)]
    if left:
        warnings.warn(
            f"{origin.prefix()}long form reads {value_col!r} of each series; the column(s) {left} "
            "are not read (tsmamba.data.read_panel keeps them as channels of each series)",
            UserWarning, stacklevel=4,
        )
    ids = _series_ids(frame[id_col], id_col, origin)
    rows = np.arange(len(frame))  # of the source: messages and the returned map name them
    parsed, left_out = origin, []
    if columns is not None:  # series left out: neither parsed nor pivoted (their times are not theirs)
        wanted, present = [str(c) for c in columns], set(ids)
        absent = [c for c in wanted if c not in present]  # a set: 5,000 ids had taken 25M comparisons
        if absent:
            shown = sorted(present)[:_SHOW]
            raise DataValidationError(  # 198 missing ids of 200 had made one 2,681-character line
                f"{origin.prefix()}requested series not found: "
                f"{_and_more([repr(i) for i in absent[:_SHOW]], len(absent))}; the ids in {id_col!r} are "
                f"{_and_more([repr(i) for i in shown], len(present))}" + _split_names(absent, present)
            )
        left_out = sorted(present.difference(wanted))
        rows = np.flatnonzero(pd.Index(ids).isin(wanted))  # hashed (np.isin sorts objects: 83 s at 1.5M rows)
        frame, ids = frame.iloc[rows], ids[rows]
        at = rows if origin.positions is None else origin.positions[rows]
        parsed = _Origin(origin.label, origin.first_line, at, origin.line_numbers, decimal=origin.decimal,
                         sep=origin.sep)
    times = _parse_times(frame[ds_col], ds_col, date_format, parsed, tz)
    held = frame[value_col]
    if columns is not None and not pd.api.types.is_numeric_dtype(held):  # text in a series left out
        held = _numbers_if_all(held, origin.decimal)  # (text in a selected series: named below)
    values = _numeric_column(held, value_col, parsed)
    keyed = pd.DataFrame({"id": ids, "ds": times, "y": values, "row": rows})
    dup = keyed.duplicated(["id", "ds"], keep=False).to_numpy()
    if dup.any():
        twice = keyed[dup]
        shown = [f"{i} @ {_fmt_ts(t)} ({origin.row(int(r))})"
                 for i, t, r in zip(twice["id"], twice["ds"], twice["row"], strict=True)][:_SHOW]
        raise DataValidationError(
            f"{origin.prefix()}{len(twice)} rows repeat an ({id_col}, {ds_col}) pair: "
            f"{_and_more(shown, len(twice))}. Keep one row per series and timestamp (drop or "
            "aggregate the duplicates)"
        )
    table = keyed.pivot(index="ds", columns="id", values=["y", "row"])
    wide = table["y"]
    wide.index = pd.DatetimeIndex(wide.index, name=ds_col)
    wide.columns = [str(c) for c in wide.columns]
    return wide, table["row"].fillna(_ABSENT).to_numpy(dtype=np.int64), left_out


def warn_ids_left_out(frame: pd.DataFrame, label: str) -> None:
    """Warn of the long-form series that :func:`read_series` left out of ``frame`` (its
    ``attrs["ids_left_out"]``) when its ``columns=`` were a fitted model's series, not ones the
    caller picked (the command line's predict and stream --history): the file's other series are
    not forecast, which a forecast one column short does not show."""
    left = frame.attrs.get("ids_left_out") or []
    if not left:
        return
    shown = _and_more([repr(i) for i in left[:_SHOW]], len(left))
    fitted = _and_more([repr(str(c)) for c in frame.columns[:_SHOW]], frame.shape[1])
    warnings.warn(
        f"{label}: {plural(len(left), 'series id')} the model was not fitted on "
        f"{'is' if len(left) == 1 else 'are'} left out: {shown}; it forecasts the "
        f"{frame.shape[1]} series it was fitted on ({fitted}). Fit a model on "
        f"{'it' if len(left) == 1 else 'them'} to forecast {'it' if len(left) == 1 else 'them'} too",
        UserWarning, stacklevel=2,
    )


def _split_names(absent: Sequence[str], available: Iterable[str]) -> str:
    """A hint for names not found that are parts of names with a comma, or names without the
    spaces around them (as the command line's --columns A,B splits and strips them)."""
    near = [c for c in available if c != c.strip() and c.strip() in absent]
    near += [c for c in available
             if "," in c and any(a.strip() in [p.strip() for p in c.split(",")] for a in absent)]
    return f" ({near[:_SHOW]} hold a comma or spaces around the name)" if near else ""


def _reject_complex(names: Sequence[str], origin: _Origin) -> None:
    """Complex columns are numeric to pandas, and float64 would drop their imaginary parts."""
    if names:
        raise DataValidationError(
            f"{origin.prefix()}column(s) {list(names)} hold complex numbers; pass real values (e.g. "
            "the real part, the modulus, or the two parts as two columns)"
        )


def _numeric_column(col: pd.Series, name: str, origin: _Origin) -> np.ndarray:
    _reject_complex([name] if pd.api.types.is_complex_dtype(col.dtype) else [], origin)
    if pd.api.types.is_bool_dtype(col.dtype) or _flags_with_gaps(col):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_numeric_dtype(col.dtype):
        return _as_float64(col, name, origin)
    raise DataValidationError(
        f"{origin.prefix()}{_non_numeric_report(name, col, origin)} is not numeric; fix these "
        "values (they must be numbers)"
    )


def _as_float64(col: pd.Series, name: str, origin: _Origin) -> np.ndarray:
    """A numeric column as float64 (missing: NaN); DataValidationError for integers it would
    round (beyond 2**53: a counter of bytes, an id), which had become equal values unnoticed."""
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    if not pd.api.types.is_integer_dtype(col.dtype):
        return values
    present = np.flatnonzero(col.notna().to_numpy())
    unsigned = pd.api.types.is_unsigned_integer_dtype(col.dtype)
    ints = col.iloc[present].to_numpy(dtype=np.uint64 if unsigned else np.int64)
    floats = values[present]
    big = np.flatnonzero(np.abs(floats) >= 2.0**53)  # below it float64 holds every integer
    # back to integers; one rounded up past the type's range becomes 0, which differs from it too
    back = np.where(floats[big] < (2.0**64 if unsigned else 2.0**63), floats[big], 0).astype(ints.dtype)
    lossy = big[back != ints[big]]
    if len(lossy):
        rows = present[lossy]
        shown = ", ".join(f"{origin.row(int(i))}: {col.iloc[i]}" for i in rows[:3])
        raise DataValidationError(
            f"{origin.prefix()}column {name!r} holds integers that float64 values cannot hold "
            f"exactly (beyond 2**53), {len(rows)} of them ({shown}{', ...' if len(rows) > 3 else ''}); "
            "they would be rounded. Subtract an offset (e.g. the first value) or take differences "
            "before loading"
        )
    return values


def _flags_with_gaps(col: pd.Series) -> bool:
    """An object column of True/False values and missing ones (a CSV's boolean column with an
    empty cell)."""
    if col.dtype != object or col.isna().all():
        return False
    return all(isinstance(v, (bool, np.bool_)) for v in col.dropna())


def _beyond_64_bits(value: Any) -> bool:
    """An integer (or, as pandas < 3 keeps them, an integer's text) that no 64-bit type holds."""
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        value = int(value)
    return isinstance(value, int) and not -(2**63) <= value < 2**64


def _non_numeric_report(name: str, col: pd.Series, origin: _Origin) -> str:
    mark = origin.decimal  # numbers as the file writes them: with ',', 1.5 is none
    bad = np.flatnonzero(_written_numbers(col, mark).isna().to_numpy() & col.notna().to_numpy())
    what = "not numbers" if mark == "." else f"not numbers with the decimal mark {mark!r}"
    if not len(bad):  # every value reads as a number: pandas keeps huge integers as objects
        bad = np.array([i for i, v in enumerate(col) if _beyond_64_bits(v)])
        what = "are integers too large for 64 bits"
    if not len(bad):
        kind = col.dtype.kind  # M: datetimes, m: durations; periods are an extension type
        if kind in "Mm" or isinstance(col.dtype, (pd.DatetimeTZDtype, pd.PeriodDtype)):
            return f"column {name!r} (times, held as {col.dtype} values: not a channel)"
        return f"column {name!r} (held as {col.dtype} values; convert it with pd.to_numeric first)"
    shown = [f"{origin.row(int(i))}: {col.iloc[i]!r}" for i in bad[:3]]
    hint = _other_mark_hint(col.iloc[bad[:20]].astype(str).str.strip(), name, origin)
    return f"column {name!r} ({len(bad)} of {len(col)} values {what}, e.g. {', '.join(shown)}{hint})"


_GROUP_WORDS = {" ": "a space", "\u00a0": "a no-break space", "\u202f": "a narrow no-break space",
                "'": "an apostrophe"}  # thousands separators besides ',' and '.', in messages


def _other_mark_hint(text: pd.Series, name: str, origin: _Origin) -> str:
    """'; they use ',' to group thousands: ...' when every value of ``text`` (those that are no
    numbers as ``origin`` reads them) holds the other of ',' and '.' between digits, as a thousands
    separator, a decimal mark, or either (1,234 is 1234 or 1.234: both are named, never one
    guessed, which would read them 1000 times too large or too small), with the fix each needs;
    else ''. A decimal comma is read by decimal=',' in a file not split by commas only. Values
    grouped by a space or an apostrophe (1 234,5) are named as thousands."""
    mark = origin.decimal
    other = "," if mark == "." else "."
    o, m = re.escape(other), re.escape(mark)
    grouped = bool(text.str.fullmatch(rf"[-+]?[1-9]\d{{0,2}}(?:{o}\d{{3}})+(?:{m}\d*)?").all())
    decimals = bool(text.str.fullmatch(rf"[-+]?\d*{o}\d+(?:[eE][-+]?\d+)?").all())
    if not grouped and not decimals:  # 1 234,5 (France), 1'234.5 (Switzerland): thousands alone
        spaced = text.str.fullmatch(rf"[-+]?[1-9]\d{{0,2}}(?:([ \u00a0\u202f'])\d{{3}})+(?:{m}\d*)?")
        group = text.str.extract(r"\d([ \u00a0\u202f'])\d", expand=False)
        if spaced.all() and group.nunique() == 1:
            return f"; they use {_GROUP_WORDS[group.iloc[0]]} to group thousands: write them without it"
        return ""
    ungroup = "write them without it"
    if mark == ",":
        point = "write them with ',', or drop decimal=',' if the file writes every number with '.'"
    elif origin.first_line is None:  # a frame: decimal= is for files
        point = f"convert them first: df[{name!r}].str.replace(',', '.').astype(float)"
    elif origin.sep == ",":
        point = ("a comma-separated file cannot read it as one (its delimiter and decimal mark must "
                 "differ): write them with '.', or save the file with ';' between fields and pass sep=';' "
                 "and decimal=','")
    else:
        point = "pass decimal=','"
    if grouped and decimals:
        return (f"; they use {other!r} to group thousands or as the decimal mark: if it groups thousands "
                f"(1{other}234 for 1234), {ungroup}; if it is the decimal mark (1{other}234 for 1{mark}234), "
                f"{point}")
    return f"; they use {other!r} to group thousands: {ungroup}" if grouped else \
        f"; they use {other!r} as the decimal mark: {point}"


# --------------------------------------------------------------------------------------------
# validation


def _clock_change(naive: pd.DatetimeIndex, tz: Any, *, back: bool) -> bool:
    """Whether every naive time given is one that zone ``tz`` repeats when its clocks go back
    (``back``), or one it skips when they go forward (not ``back``)."""
    if not len(naive):
        return False
    try:
        if back:  # the repeated wall times, and not the skipped ones, become NaT
            local = naive.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
        else:
            local = naive.tz_localize(tz, ambiguous=np.zeros(len(naive), dtype=bool), nonexistent="NaT")
    except (TypeError, ValueError):  # not a zone pandas knows
        return False
    return bool(local.isna().all())


def _both_passes(naive: pd.Timestamp, tz: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """A wall time zone ``tz`` repeats when its clocks go back, at its first pass and its second."""
    return naive.tz_localize(tz, ambiguous=True), naive.tz_localize(tz, ambiguous=False)


def _write_offsets(which: str, before: pd.Timestamp, after: pd.Timestamp) -> str:
    """The advice for naive local times read for a zone across its clock change: ``which`` says
    what the change does there ("that is the hour ... repeats when its clocks go back"), and the
    zone-aware times ``before`` and ``after`` it are the example written with their offsets."""

    def written(t: pd.Timestamp) -> str:  # 02:00+02:00
        minutes = int(t.utcoffset().total_seconds() // 60)
        return f"{t:%H:%M}{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

    return (f"; the timestamps are without a time zone, and {which}. Write them with their UTC offsets "
            f"({written(before)}, then {written(after)}) or in UTC")


def _duplicates_text(
    times: pd.DatetimeIndex, rows: np.ndarray, dup_after: np.ndarray, origin: _Origin
) -> str:
    """The repeats of sorted ``times``, "2 duplicate timestamps: T at row a and row b, ...":
    ``dup_after`` are the positions equal to the next one, ``rows`` the source rows."""
    shown = [f"{_fmt_ts(times[i])} at {origin.row(_source_row(rows, i))} and "
             f"{origin.row(_source_row(rows, i + 1))}" for i in dup_after[:_SHOW]]
    return f"{plural(len(dup_after), 'duplicate timestamp')}: {_and_more(shown, len(dup_after))}"


def _refuse_duplicates(
    times: pd.DatetimeIndex, rows: np.ndarray, origin: _Origin, tz: Any, more: str = ""
) -> None:
    """DataValidationError naming the repeated timestamps of sorted ``times``, if any, with both
    source rows (``rows``) of each; ``more`` is appended (that the rows are unsorted as well). A
    naive time in the hour ``tz`` repeats when its clocks go back is named as that."""
    dup_after = np.flatnonzero(np.diff(_ns(times)) == 0)
    if not len(dup_after):
        return
    text = origin.prefix() + _duplicates_text(times, rows, dup_after, origin)
    if tz is not None and times.tz is None and _clock_change(times[dup_after], tz, back=True):
        raise DataValidationError(  # the advice below, to drop a repeat, would lose a real hour
            text + _write_offsets(
                f"{'that is the hour' if len(dup_after) == 1 else 'those are hours'} {tz} repeats "
                "when its clocks go back", *_both_passes(times[dup_after[0]], tz))
            + "; dropping a row would lose a real hour" + more
        )
    raise DataValidationError(
        f"{text}. Drop or aggregate the duplicate rows (keep one row per timestamp) before loading{more}"
    )


def _validate(
    times: pd.DatetimeIndex,
    data: pd.DataFrame,
    rows: np.ndarray,
    origin: _Origin,
    *,
    time_name: str,
    columns: Sequence[str] | None,
    sort: bool,
    fill: str | None,
    impute: str | None,
    strict: bool,
    freq: str | None = None,
    tz: Any = None,
) -> pd.DataFrame:
    if tz is not None and times.tz is not None and times.tz != tz:
        times = times.tz_convert(tz)  # the same instants, on that zone's calendar
    if fill not in (None, *FILL_METHODS):
        raise ConfigError(f"fill must be None or one of {FILL_METHODS}, got {fill!r}")
    if impute not in (None, *IMPUTE_METHODS):
        raise ConfigError(f"impute must be None or one of {IMPUTE_METHODS}, got {impute!r}")
    names, values = _select_numeric(data, columns, origin, time_name)
    n = len(times)
    if rows.ndim == 2:  # long form: the source rows of the selected channels
        position = {str(c): k for k, c in enumerate(data.columns)}
        rows = rows[:, [position[c] for c in names]]

    # order
    stamps = _ns(times)
    steps = np.diff(stamps)
    if (steps < 0).any():
        order = np.argsort(stamps, kind="stable")
        if not sort:
            back = np.flatnonzero(steps < 0)
            i = int(back[0])
            where = (f"{origin.row(_source_row(rows, i + 1))} at {_fmt_ts(times[i + 1])} follows "
                     f"{origin.row(_source_row(rows, i))} at {_fmt_ts(times[i])}")
            if tz is not None and times.tz is None and _clock_change(times[[i, i + 1]], tz, back=True):
                raise DataValidationError(  # sorting would interleave the two passes of that hour
                    f"{origin.prefix()}timestamps are not in increasing order: {where}" + _write_offsets(
                        f"the clock goes back within the hour {tz} repeats when its clocks go back",
                        *_both_passes(times[i + 1], tz))
                    + "; sorting them would mix the two hours"
                )
            advice = (f"{where}; time goes back at {plural(len(back), 'place')} in all. "
                      "Sort the data by time, or pass sort=True to sort it on load")
            if strict:  # a repeat apart from its twin is named first: sorting would only lead to it
                _refuse_duplicates(times[order], rows[order], origin, tz,
                                   f". The timestamps are not in increasing order either: {advice}")
            raise DataValidationError(f"{origin.prefix()}timestamps are not in increasing order: {advice}")
        times, values, rows = times[order], values[order], rows[order]
        stamps = _ns(times)
        steps = np.diff(stamps)

    notes: list[str] = []
    # duplicates
    dup_after = np.flatnonzero(steps == 0)
    if len(dup_after):
        if strict:
            _refuse_duplicates(times, rows, origin, tz)
        notes.append(_duplicates_text(times, rows, dup_after, origin))

    # frequency and gaps
    unique_times = times if not len(dup_after) else times[np.r_[True, steps != 0]]
    unique_rows = rows if not len(dup_after) else None  # named in errors where times are unique
    if freq is not None and n and _on_grid(unique_times, freq):
        grid = unique_times  # the expected grid, nothing missing
    elif (pair := _grid_of_two(unique_times, freq, unique_rows, origin, fill)) is not None:
        grid = pair  # two rows show no step of their own (nor rows to fill): a gap on freq's grid
    else:
        try:
            check_length(n, 2, "inferring a frequency")
        except DataValidationError as exc:
            raise DataValidationError(f"{origin.prefix()}{exc}") from None
        freq, grid = _infer_grid(unique_times, origin, unique_rows)
    missing = len(grid) - len(unique_times)
    repairs: dict[str, Any] = {}  # what fill= and impute= changed, and how many values read later rows
    # each value's latest source row: past its own, a value was made from a later row (for a backtest)
    source = np.broadcast_to(np.arange(len(values))[:, None], values.shape).copy()
    made = np.zeros(values.shape, dtype=bool)  # the cells fill= or impute= gave a value (not observed)
    if missing:
        text = _gap_report(unique_times, grid, freq, rows if not len(dup_after) else None, origin)
        absent = grid[~pd.DatetimeIndex(grid).isin(unique_times)]
        if tz is not None and times.tz is None and _clock_change(absent, tz, back=False):
            raise DataValidationError(  # filling them would make up wall times that never were
                f"{origin.prefix()}{text}" + _write_offsets(
                    f"{'that time is' if missing == 1 else 'those times are'} in the hour {tz} skips when "
                    "its clocks go forward",
                    *(t.tz_localize(tz) for t in (unique_times[unique_times < absent[0]][-1],
                                                   unique_times[unique_times > absent[-1]][0])))
                + "; nothing is missing there, and a fill would make up times that never were"
            )
        if fill is not None and not len(dup_after):
            times, values, rows, source, made = _filled(times, grid, values, rows, fill, repairs)
        elif strict:
            raise DataValidationError(
                f"{origin.prefix()}{text}. Pass fill='ffill', fill='interpolate' or fill='zero' "
                "to fill the missing rows, or supply the complete series"
            )
        elif fill is not None:  # strict=False keeps the repeated rows, and a grid cannot hold them
            raise DataValidationError(
                f"{origin.prefix()}{text}, and fill={fill!r} cannot fill them while timestamps repeat "
                f"({notes[-1]}); drop or aggregate the duplicate rows first, or leave fill unset to "
                "keep the rows as they are"
            )
        else:
            notes.append(text)
    elif fill is not None and rows.ndim == 2 and (rows == _ABSENT).any():  # long form: a series' missing rows
        times, values, rows, source, made = _filled(times, grid, values, rows, fill, repairs)
    if fill == "zero" and rows.ndim == 2 and "fill" in repairs:
        _warn_zeros_after_last_rows(times, rows, names, origin)

    # NaN / inf
    finite = np.isfinite(values)
    if not finite.all():
        if impute is None:
            raise DataValidationError(
                _nonfinite_report(values, finite, names, times, rows, origin, fill)
            )
        source = _imputed_sources(source, finite, impute)
        trailing = _trailing_blank_rows(values)
        if trailing:
            warnings.warn(
                f"{origin.prefix()}the last {plural(trailing, 'row')} (from {_fmt_ts(times[-trailing])}) "
                f"had no value in any column and {'were' if trailing > 1 else 'was'} imputed ({impute}): "
                "a forecast from these data starts after made-up rows; delete them if they are dates "
                "still to come",
                UserWarning,
                stacklevel=3,
            )
        values = _impute(values, impute, names, origin)
        repairs.update(impute=impute, imputed_values=int((~finite).sum()))
        made |= ~finite
    later = source > np.arange(len(values))[:, None]
    if later.any():  # per column: how many, and the runs of them with the latest row each was made from
        stamps, touched = _ns(pd.DatetimeIndex(times)), np.flatnonzero(later.any(0))
        repairs["from_later_rows"] = {names[j]: int(later[:, j].sum()) for j in touched}
        repairs["from_later_spans"] = {names[j]: _runs(later[:, j], stamps, source[:, j]) for j in touched}
    if made.any():  # every cell a backtest must not score: it was never observed
        stamps = _ns(pd.DatetimeIndex(times))
        repairs["repaired_spans"] = {names[j]: _spans(made[:, j], stamps)
                                     for j in np.flatnonzero(made.any(0))}

    # constant channels
    constant = np.flatnonzero(np.ptp(values, axis=0) == 0) if len(values) > 1 else []
    unsaid = _CONSTANT_UNSAID.get()
    for j in constant:
        if unsaid is not None and names[j] not in unsaid:
            warnings.warn(
                f"{origin.prefix()}column {names[j]!r} is constant (every value is "
                f"{float(values[0, j])!r}); it carries no information and scales to 0",
                UserWarning,
                stacklevel=3,
            )

    regular = not notes
    index = pd.DatetimeIndex(times, name=time_name, freq=freq if regular else None)
    if notes:
        warnings.warn(
            f"{origin.prefix()}kept as published (strict=False), irregular timestamps: "
            + "; ".join(notes),
            UserWarning,
            stacklevel=3,
        )
    out = pd.DataFrame(values, index=index, columns=pd.Index(names, dtype=object), copy=False)
    out.attrs["freq"] = freq
    out.attrs["source"] = origin.label
    out.attrs["constant"] = [names[j] for j in constant]  # named in a warning already
    if repairs:  # a backtest records them, and warns when values were made from later rows
        out.attrs["repairs"] = repairs
    if notes:
        out.attrs["irregular"] = notes
    return out


def read_as_published(source: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """:func:`read_series` with ``strict=False`` and no warning: a benchmark file whose row
    positions define the protocol, its irregularities listed in ``df.attrs["irregular"]``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*kept as published", category=UserWarning)
        return read_series(source, strict=False)


def _select_numeric(
    data: pd.DataFrame, columns: Sequence[str] | None, origin: _Origin, time_name: str | None = None
) -> tuple[list[str], np.ndarray]:
    available = [str(c) for c in data.columns]
    repeated = sorted(c for c, k in Counter(available).items() if k > 1)
    if repeated:
        as_text = len(set(data.columns)) > len(set(available))  # e.g. 1 and "1"
        raise DataValidationError(
            f"{origin.prefix()}column names repeat: {repeated}"
            f"{' (as text: 1 and the text 1 name the same channel)' if as_text else ''}; "
            "give every channel its own name"
        )
    if columns is not None:
        if isinstance(columns, str):
            columns = [columns]
        columns = [str(c) for c in columns]
        absent = [c for c in columns if c not in available]
        if absent:
            # a name with a comma, split into the names asked for (as --columns splits them)
            raise DataValidationError(
                f"{origin.prefix()}requested columns not found: "
                f"{_and_more([repr(c) for c in absent[:_SHOW]], len(absent))}; available columns: "
                f"{_and_more([repr(c) for c in available[:_SHOW * 4]], len(available))}"
                + _split_names(absent, available)
                + (f"; {time_name!r} is the time column, not a channel: leave it out of the columns"
                   if time_name in absent else "")
            )
        if len(set(columns)) != len(columns):
            raise ConfigError(f"columns= lists a column twice: {list(columns)}")
        position = {str(c): i for i, c in enumerate(data.columns)}
        data = data.iloc[:, [position[c] for c in columns]]
    if data.shape[1] == 0:
        raise DataValidationError(
            f"{origin.prefix()}no value columns besides the time column; the data needs at "
            "least one numeric channel"
        )
    if origin.first_line is not None:  # a CSV file: pandas names an empty header field "Unnamed: i"
        empty = [int(m[1]) + 1 for c in data.columns if (m := _UNNAMED.fullmatch(str(c)))]
        if empty:
            why = "an index written by DataFrame.to_csv?" if empty[0] == 1 else "a trailing comma?"
            raise DataValidationError(
                f"{origin.prefix()}the header has an empty column name at position "
                f"{', '.join(map(str, empty))} ({why}); name the column in the header, delete "
                "the empty field, or pass columns=[...] without it"
            )
    _reject_complex([str(c) for c in data.columns if pd.api.types.is_complex_dtype(data[c].dtype)], origin)
    flags = [j for j in range(data.shape[1]) if _flags_with_gaps(data.iloc[:, j])]
    if flags:  # True/False with empty cells, which pandas keeps as objects: 1/0 and missing values
        data = data.copy()  # (named by row below, with the missing-value policy), not "non-numeric"
        for j in flags:
            data.isetitem(j, data.iloc[:, j].to_numpy(dtype=np.float64, na_value=np.nan))  # pd.NA too
    bad = [
        c
        for c in data.columns
        if not (
            pd.api.types.is_numeric_dtype(data[c].dtype) or pd.api.types.is_bool_dtype(data[c])
        )
    ]
    if bad:
        numeric = [str(c) for c in data.columns if c not in bad]
        reports = "; ".join(_non_numeric_report(str(c), data[c], origin) for c in bad)
        advice = (f"Pass columns=[...] with the numeric channels to use (numeric here: {numeric}), or clean "
                  "these values" if numeric else "Clean these values (no column here is numeric)")
        raise DataValidationError(f"{origin.prefix()}non-numeric columns: {reports}. {advice}")
    names = [str(c) for c in data.columns]
    values = np.empty((len(data), len(names)), dtype=np.float64)
    for j in range(len(names)):
        values[:, j] = _as_float64(data.iloc[:, j], names[j], origin)
    return names, values


def _gap_report(
    times: pd.DatetimeIndex,
    grid: pd.DatetimeIndex,
    freq: str,
    rows: np.ndarray | None,
    origin: _Origin,
) -> str:
    # positions in `times` after which grid points are missing
    grid_pos = grid.get_indexer(times)
    jumps = np.diff(grid_pos)
    after = np.flatnonzero(jumps > 1)
    missing = len(grid) - len(times)
    shown = []
    for i in after[:_SHOW]:
        count = int(jumps[i] - 1)
        where = f" ({origin.row(_source_row(rows, i))})" if rows is not None else ""
        first_missing = grid[grid_pos[i] + 1]
        shown.append(f"{count} missing after {_fmt_ts(times[i])}{where}, from {first_missing}")
    return (
        f"{plural(missing, 'timestamp')} missing from the {freq!r} grid in "
        f"{plural(len(after), 'gap')}: "
        f"{_and_more(shown, len(after))}"
    )


def _filled(
    times: pd.DatetimeIndex,
    grid: pd.DatetimeIndex,
    values: np.ndarray,
    rows: np.ndarray,
    fill: str,
    repairs: dict[str, Any],
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_fill_gaps`, recorded in ``repairs``, with each value's latest source row (T, C) and
    the (T, C) cells it had no row for (given a value here, or left NaN for impute=)."""
    times, values, rows, no_row = _fill_gaps(times, grid, values, rows, fill)
    repairs.update(fill=fill, filled_rows=int(no_row.all(axis=1).sum()))  # times no series has a row at
    if rows.ndim == 2:  # long form: the cells of a series with no row, given a value (or not: leading ones)
        repairs["filled_values"] = int((no_row & np.isfinite(values)).sum())
    source = np.broadcast_to(np.arange(len(values))[:, None], values.shape).copy()  # on the grid
    if fill == "interpolate":  # a filled cell reads the next row with a value (past NaN rows)
        made = no_row & np.isfinite(values)
        source[made] = _next_finite(np.isfinite(values) & ~no_row)[made]
    return times, values, rows, source, np.array(no_row, dtype=bool)


def _warn_zeros_after_last_rows(
    times: pd.DatetimeIndex, rows: np.ndarray, names: list[str], origin: _Origin
) -> None:
    """Long form, fill="zero": one warning naming the series whose cells after their last row it
    set to 0 (how many, after which time and row). As documented, and right for a store that sold
    nothing on days with no row; but a series that ended there (a store closed for good) had been
    given made-up zeros silently, which a model learns and forecasts from."""
    present = rows >= 0  # (T, C): the cells a row of the source gave (a filled one's row is < 0)
    after = np.argmax(present[::-1], axis=0)  # per series: the cells after its last row
    ended = np.flatnonzero(present.any(axis=0) & (after > 0))
    if not len(ended):
        return
    shown = []
    for j in ended[:_SHOW]:
        last = len(times) - 1 - int(after[j])
        shown.append(f"series {names[j]!r}: {plural(int(after[j]), 'cell')} after its last row at "
                     f"{_fmt_ts(times[last])} ({origin.row(_source_row(rows, last, j))})")
    warnings.warn(
        f"{origin.prefix()}fill='zero' set {plural(int(after[ended].sum()), 'cell')} to 0 after the last "
        f"row of their series, through {_fmt_ts(times[-1])}: {_and_more(shown, len(ended))}. If a series "
        "ended there (a store closed for good) rather than had nothing at those times, the zeros are "
        "made up and a model learns and forecasts from them: trim the data to end where the series "
        "ends, leave the series out (columns=[...] listing the others), or fill those cells another way "
        "(fill='ffill' carries its last value on; fill='interpolate' leaves them to impute=)",
        UserWarning,
        stacklevel=4,
    )


def _fill_gaps(
    times: pd.DatetimeIndex,
    grid: pd.DatetimeIndex,
    values: np.ndarray,
    rows: np.ndarray,
    fill: str,
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, np.ndarray]:
    """(grid, values, source rows, the (T, C) cells with no row to fill). Wide: the inserted rows;
    long form (``rows`` (T, C)): also a series' cells where the file has no row for it (another
    series has one at that time): fill= fills them as the same series' missing rows. "zero" fills
    every such cell (a store not yet open sold nothing), "ffill" those after the series' first
    value, "interpolate" those between two of its values; the rest stay NaN (impute= or an error).
    A row present with an empty value is a missing value, for impute=, never filled."""
    pos = grid.get_indexer(times)
    inserted = np.ones(len(grid), dtype=bool)
    inserted[pos] = False
    full = np.full((len(grid), values.shape[1]), np.nan)
    full[pos] = values
    new_rows = np.full((len(grid), *rows.shape[1:]), _INSERTED)
    new_rows[pos] = rows
    no_row = new_rows < 0 if rows.ndim == 2 else np.broadcast_to(inserted[:, None], full.shape)
    if fill == "zero":  # no row means nothing happened (a shop closed that day): 0, not a guess
        full[no_row] = 0.0
    else:
        frame = pd.DataFrame(full)
        filled = frame.ffill() if fill == "ffill" else frame.interpolate(limit_area="inside")
        full[no_row] = filled.to_numpy()[no_row]
    return grid, full, new_rows, no_row


def _nonfinite_report(
    values: np.ndarray,
    finite: np.ndarray,
    names: list[str],
    times: pd.DatetimeIndex,
    rows: np.ndarray,
    origin: _Origin,
    fill: str | None = None,
) -> str:
    parts = []
    bad_cols = np.flatnonzero(~finite.all(axis=0))
    for j in bad_cols[:_SHOW]:
        col = values[:, j]
        n_nan = int(np.isnan(col).sum())
        n_inf = int(np.isinf(col).sum())
        first = int(np.argmin(finite[:, j]))
        kinds = ", ".join(
            text for text, k in ((f"{n_nan} NaN", n_nan), (f"{n_inf} ±inf", n_inf)) if k
        )
        parts.append(
            f"column {names[j]!r}: {kinds}, first at {_fmt_ts(times[first])} "
            f"({origin.row(_source_row(rows, first, j))})"
        )
    text = (
        f"{origin.prefix()}non-finite values: {_and_more(parts, len(bad_cols))}. "
        "Pass impute='ffill', impute='interpolate' or impute='zero' to replace them, "
        "or clean the data"
    )
    trailing = _trailing_blank_rows(values)
    if trailing:  # future dates with no value yet: imputing them moves the forecast's origin
        text += (
            f". The last {plural(trailing, 'row')} (from {_fmt_ts(times[-trailing])}, "
            f"{origin.row(_source_row(rows, len(values) - trailing, 0))}) "
            f"{'have' if trailing > 1 else 'has'} no value in any column: if they are dates still to "
            "come, delete them (imputed, they would be made-up rows the forecast starts after)"
        )
    empty = [names[j] for j in bad_cols if np.isnan(values[:, j]).all()]
    if empty:  # a notes column of a spreadsheet: nothing to impute, nothing to clean
        text += (
            f". {'Columns' if len(empty) > 1 else 'Column'} {empty} "
            f"{'hold' if len(empty) > 1 else 'holds'} no value in any row: "
            "leave them out with columns=[...] listing the channels to use"
        )
    if rows.ndim == 2 and (rows[~finite] == _ABSENT).any():  # long form: fill= fills such cells, impute= too
        advice = _ABSENT_ADVICE.get(fill, _ABSENT_ADVICE[None])
        text += (f" ({advice}, or keep only the span they share; read_panel keeps series with different "
                 "spans apart for your own use)")
    return text


# long form: the fill= or impute= that fills a NaN where a series has no row, by the fill= that
# left it (fill="zero" leaves none)
_ABSENT_ADVICE = {
    None: "a NaN where a series has no row at that time: a model reads its series on one grid, so give "
          "fill= (fill='zero' fills every such cell, where no row means nothing happened, e.g. a store "
          "closed that day; fill='ffill' those after the series' first value, fill='interpolate' those "
          "between two of its values) or impute=",
    "ffill": "a NaN where a series has no row at a time before its first value, which fill='ffill' "
             "cannot fill: a model reads its series on one grid, so give impute= as well (impute='ffill' "
             "fills them backwards from that first value), fill='zero' if no row means nothing happened "
             "(a store not yet open)",
    "interpolate": "a NaN where a series has no row at a time before its first value or after its last, "
                   "which fill='interpolate' cannot fill: a model reads its series on one grid, so give "
                   "impute= as well (impute='interpolate' holds the nearest value), fill='zero' if no row "
                   "means nothing happened (a store not yet open, or closed)",
}


def _next_finite(finite: np.ndarray) -> np.ndarray:
    """(T, C) index of the first finite row at or after each row of ``finite`` (T, C); T where none."""
    at = np.where(finite, np.arange(len(finite))[:, None], len(finite))
    return np.flip(np.minimum.accumulate(np.flip(at, 0), axis=0), 0)


def _imputed_sources(source: np.ndarray, finite: np.ndarray, how: str) -> np.ndarray:
    """Each value's latest source row (T, C) once ``impute=how`` has filled the non-finite ones:
    ffill copies the previous value (leading ones the next), interpolate reads the previous and the
    next (leading ones the next, trailing ones the previous), zero reads none; a value made from an
    earlier repair inherits its source (an inserted row interpolated from past a NaN row, copied
    forward into it, had been counted as read from no later row)."""
    if how == "zero":
        return source
    T = len(finite)
    nxt = _next_finite(finite)
    prv = np.maximum.accumulate(np.where(finite, np.arange(T)[:, None], -1), axis=0)
    has_next, has_prev = nxt < T, prv >= 0
    from_next = np.take_along_axis(source, np.minimum(nxt, T - 1), axis=0)
    from_prev = np.take_along_axis(source, np.maximum(prv, 0), axis=0)
    if how == "ffill":
        made = np.where(has_prev, from_prev, from_next)
    else:
        made = np.where(has_prev & has_next, np.maximum(from_prev, from_next),
                        np.where(has_next, from_next, from_prev))
    return np.where(finite, source, made)


def _runs(mask: np.ndarray, stamps: np.ndarray, source: np.ndarray) -> list[list[int]]:
    """Runs of True in a (T,) mask -> ``[[first, last, after, count], ...]``: the first and last time
    (int64 nanoseconds, as ``stamps``) of each, the time of the latest row its values were made from
    (``source`` (T,): each row's) and its length. Lists of ints, not an array, as :func:`_spans`'s:
    two frames whose ``attrs`` hold arrays cannot be joined by ``pd.concat``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # stops: one past the end
    latest = np.maximum.reduceat(np.where(mask, source, -1), starts) if len(starts) else starts
    columns = [stamps[starts], stamps[stops - 1], stamps[latest], stops - starts]
    return [[int(v) for v in run] for run in zip(*columns, strict=True)]


def _spans(mask: np.ndarray, stamps: np.ndarray) -> list[list[int]]:
    """Runs of True in a (T,) mask -> ``[[first, last, count], ...]``: the first and last time (int64
    nanoseconds, as ``stamps``) of each run and its length. Lists of ints, not arrays: frames whose
    ``attrs`` hold arrays cannot be joined (``pd.concat`` compares the attrs, and an array's ``==``
    has no single truth value)."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # stops: one past the end
    return [[int(stamps[a]), int(stamps[b - 1]), int(b - a)] for a, b in zip(starts, stops, strict=True)]


def repaired_cells(repairs: Mapping[str, Any] | None, index: pd.DatetimeIndex,
                   columns: Sequence[str]) -> np.ndarray | None:
    """The (T, C) cells of a frame on ``index`` with ``columns`` that :func:`read_series`' ``fill=``
    or ``impute=`` gave a value (True: made up, never observed), from its ``attrs["repairs"]``
    (``repaired_spans``: per column, runs of such cells as first and last time and count). The runs
    are matched by time, so a slice or a column selection of the frame read keeps them. None when
    ``repairs`` records none (a frame read as it was); :class:`DataValidationError` when it says
    values were repaired but not which (a record without ``repaired_spans``)."""
    if not repairs:
        return None
    spans = repairs.get("repaired_spans")
    if spans is None:
        counts = {key: repairs[key] for key in ("filled_rows", "filled_values", "imputed_values")
                  if repairs.get(key)}
        if not counts:
            return None
        raise DataValidationError(
            f"the data's attrs['repairs'] records repairs ({counts}) without saying which cells they "
            "made up (no 'repaired_spans': written by an older tsmamba, or by hand), so they cannot be "
            "left out of the scores; read the data again with read_series(fill=..., impute=...)"
        )
    stamps = _ns(pd.DatetimeIndex(index))
    out = np.zeros((len(stamps), len(columns)), dtype=bool)
    for j, column in enumerate(columns):
        for first, last, _count in spans.get(str(column), ()):
            out[np.searchsorted(stamps, first, "left") : np.searchsorted(stamps, last, "right"), j] = True
    return out


def _impute(values: np.ndarray, how: str, names: list[str], origin: _Origin) -> np.ndarray:
    values = np.where(np.isfinite(values), values, np.nan)
    empty = [names[j] for j in np.flatnonzero(np.isnan(values).all(axis=0))]
    if empty and how != "zero":
        raise DataValidationError(
            f"{origin.prefix()}columns {empty} have no finite value at all; nothing to "
            f"impute from with impute={how!r}. Drop them with columns=[...]"
        )
    frame = pd.DataFrame(values)
    if how == "ffill":
        frame = frame.ffill().bfill()
    elif how == "interpolate":
        frame = frame.interpolate(method="linear", limit_direction="both")
    else:
        frame = frame.fillna(0.0)
    return frame.to_numpy(dtype=np.float64)


# --------------------------------------------------------------------------------------------
# scaling


OUTLIER_SPREADS = 1e6
"""A fitted value this many median absolute deviations from its channel's median is named."""


class StandardScaler:
    """Per-channel standardisation ``(x - mean_) / scale_`` (numpy, float64).

    Fit on the training rows only. A constant channel gets its own size as ``scale_`` (``|mean_|``,
    1 for a channel of zeros), so it maps to 0, not NaN, and a forecast's error for it is relative
    to its size whatever its units; one ``UserWarning`` names the constant channels.
    ``transform`` / ``inverse_transform`` accept arrays (or torch tensors) of shape ``(..., C)``.
    """

    mean_: np.ndarray
    scale_: np.ndarray

    def __init__(self) -> None:
        self.columns: list[str] | None = None

    def fit(
        self, values: np.ndarray, columns: Sequence[str] | None = None, warn_constant: bool = True
    ) -> StandardScaler:
        """Fit on ``values`` of shape ``(N, C)``; ``columns`` only names channels in warnings
        (``warn_constant=False``: none about constant channels, nor about values far from the
        rest: for a second scaler of rows another fit names them for)."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 2:
            raise DataValidationError(f"StandardScaler.fit needs (N, C) values, got {arr.shape}")
        if columns is not None:  # any iterable of names, one per channel ('abc' had named three of two)
            names = None if isinstance(columns, (str, Mapping)) else list(columns)
            if names is None or len(names) != arr.shape[1]:
                raise ConfigError(
                    f"StandardScaler.fit: columns must name the {arr.shape[1]} channels, got {columns!r:.80}"
                )
            columns = names
        check_length(arr.shape[0], 1, "fitting a scaler")
        if not np.isfinite(arr).all():
            j = int(np.flatnonzero(~np.isfinite(arr).all(axis=0))[0])
            raise DataValidationError(
                f"StandardScaler.fit: channel {self._name(j, columns)} has NaN or ±inf values; "
                "impute them first (read_series(..., impute=...))"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            mean = arr.mean(axis=0)
            std = arr.std(axis=0)
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):  # squares past float64's range
            j = int(np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))[0])
            raise DataValidationError(
                f"StandardScaler.fit: channel {self._name(j, columns)} holds values so large (up to "
                f"{np.abs(arr[:, j]).max():.3g}) that their spread overflows; check them (a unit "
                "mix-up or a sentinel value?)"
            )
        # constant: one value, as the reader judges it (std can be a rounding speck above 0 then);
        # a spread relative to the level called a counter near 2^53 constant, one absolute 1e-12
        # a channel in picoseconds, and their forecasts came back in the wrong units
        tiny = (arr.max(axis=0) == arr.min(axis=0)) | (std == 0)
        if tiny.any() and warn_constant:  # one warning naming them all
            names = ", ".join(self._name(int(j), columns) for j in np.flatnonzero(tiny))
            one = int(tiny.sum()) == 1
            warnings.warn(
                f"StandardScaler: {'channel' if one else 'channels'} {names} "
                f"{'is' if one else 'are'} constant over the fitted rows; scaled by "
                f"{'its' if one else 'their'} own size (1 for 0) so {'it maps' if one else 'they map'} "
                "to 0 instead of NaN",
                UserWarning,
                stacklevel=2,
            )
        if warn_constant:
            self._warn_of_outliers(arr, columns)
        self.mean_ = mean
        # a constant's own size, not 1: a network's near-0 output for it (say 2e-3) had come back
        # as ±2e-3 for a channel of 1e-6 everywhere; scaled by its size the error is relative
        size = np.where(np.abs(mean) > 0, np.abs(mean), 1.0)
        self.scale_ = np.where(tiny, size, std)
        self.columns = None if columns is None else [str(c) for c in columns]
        return self

    def _warn_of_outliers(self, arr: np.ndarray, columns: Sequence[str] | None) -> None:
        """Warn of channels holding values a million times their typical spread from their median
        (a sentinel such as 1e30, a unit mix-up): such a value sets the channel's scale, so every
        other value maps to nearly 0 and the forecasts are noise (a 1e30 in the training rows had
        passed without a word). Median and spread from at most 10,000 evenly spaced rows."""
        sample = arr[:: max(1, len(arr) // 10_000)]  # (n, C)
        median = np.median(sample, axis=0)
        spread = np.median(np.abs(sample - median), axis=0)  # 0 for mostly equal values: not judged
        with np.errstate(over="ignore", invalid="ignore"):
            high, low = arr.max(axis=0), arr.min(axis=0)  # no (N, C) temporary
            extreme = np.where(high - median >= median - low, high, low)
            odd = (spread > 0) & (np.abs(extreme - median) > OUTLIER_SPREADS * spread)
        if odd.any():  # the same text at every refit of a backtest, so that Python names it once
            shown = ", ".join(f"{self._name(int(j), columns)} (a value of {extreme[j]:.3g}, over a million "
                              "typical spreads from its median)" for j in np.flatnonzero(odd))
            warnings.warn(
                f"StandardScaler: values far from the rest in {shown}: a sentinel value or a unit "
                "mix-up? They set the channel's scale, so its other values map to nearly 0; clean them "
                "(impute= after setting them to NaN) if they are not real",
                UserWarning,
                stacklevel=3,
            )

    @staticmethod
    def _name(j: int, columns: Sequence[str] | None) -> str:
        return repr(str(columns[j])) if columns is not None else f"{j}"

    def _check(self, values: Any) -> None:
        if not hasattr(self, "mean_"):
            raise ConfigError("StandardScaler is not fitted; call fit(train_values) first")
        if values.shape[-1] != self.mean_.shape[0]:
            raise DataValidationError(
                f"StandardScaler was fitted on {self.mean_.shape[0]} channels, got values with "
                f"{values.shape[-1]} in the last axis (shape {tuple(values.shape)})"
            )

    def _params(self, values: Any) -> tuple[Any, Any]:
        if isinstance(values, np.ndarray) or not hasattr(values, "new_tensor"):
            return self.mean_, self.scale_
        return values.new_tensor(self.mean_), values.new_tensor(self.scale_)  # torch

    def transform(self, values: Any) -> Any:
        """``(..., C)`` raw values -> scaled values (same type; numpy input gives float64)."""
        values = values if hasattr(values, "new_tensor") else np.asarray(values, np.float64)
        self._check(values)
        mean, scale = self._params(values)
        return (values - mean) / scale

    def inverse_transform(self, values: Any) -> Any:
        """``(..., C)`` scaled values -> original units."""
        values = values if hasattr(values, "new_tensor") else np.asarray(values, np.float64)
        self._check(values)
        mean, scale = self._params(values)
        return values * scale + mean

    def to_dict(self) -> dict:
        """JSON-ready parameters."""
        if not hasattr(self, "mean_"):
            raise ConfigError("StandardScaler is not fitted; nothing to save")
        return {
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "columns": self.columns,
        }

    @classmethod
    def identity(cls, n_channels: int) -> StandardScaler:
        """A fitted scaler that changes nothing (mean 0, scale 1): data given already scaled."""
        return cls.from_dict({"mean": [0.0] * n_channels, "scale": [1.0] * n_channels})

    @classmethod
    def from_dict(cls, d: dict) -> StandardScaler:
        """Inverse of :meth:`to_dict`."""
        try:
            mean = np.asarray(d["mean"], dtype=np.float64)
            scale = np.asarray(d["scale"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not a StandardScaler dict ({exc!r})") from exc
        if mean.shape != scale.shape or mean.ndim != 1 or not (scale > 0).all():
            raise ConfigError("StandardScaler dict needs 1-D 'mean' and positive 'scale'")
        scaler = cls()
        scaler.mean_, scaler.scale_ = mean, scale
        scaler.columns = d.get("columns")
        return scaler

    def __repr__(self) -> str:
        fitted = f"{self.mean_.shape[0]} channels" if hasattr(self, "mean_") else "not fitted"
        return f"StandardScaler({fitted})"


def check_scaled_range(
    scaled: np.ndarray, columns: Sequence[str], float_max: float, error: type[Exception] = DataValidationError
) -> None:
    """Raise ``error`` when a scaled value is too large for a network whose float type tops out at
    ``float_max``: beyond ``sqrt(float_max)`` (1.8e19 in float32) the causal norm's squared
    deviations overflow, and a finite 1e39 became inf in float32, forecasting NaN from then on."""
    bound = math.sqrt(float_max)
    magnitude = np.abs(scaled)
    if not (magnitude > bound).any():
        return
    bad = [str(columns[j]) for j in np.flatnonzero((magnitude > bound).reshape(-1, len(columns)).any(0))]
    raise error(
        f"values in {bad} reach {magnitude.max():.3g} once scaled as in training (standard "
        "deviations of the training rows from their mean, or as given with scale=False): more than "
        f"the network's float type carries ({bound:.2g}); check them (a unit mix-up or a sentinel value?)"
    )


# --------------------------------------------------------------------------------------------
# splits


def _check_context(context_length: int) -> None:
    nonnegative_int(context_length, "context_length")


def ltsf_borders(n_rows: int, context_length: int, kind: str) -> dict[str, tuple[int, int]]:
    """Row ranges ``[start, end)`` of the standard LTSF splits (Informer/Autoformer protocol).

    ``kind="ETTh"``: train (0, 8640), val (8640-L, 11520), test (11520-L, 14400); rows after
    14400 are unused. ``"ETTm"``: the same times 4. ``"custom"``: train = first int(0.7 N)
    rows, test = last int(0.2 N), val = the rest; val and test start L rows early so their
    first window's context reaches back into the previous split.
    """
    _check_context(context_length)
    key = str(kind).lower()
    if key in ("etth", "ettm"):
        scale = 1 if key == "etth" else 4
        train_end, val_end, test_end = (b * scale for b in _LTSF_ETTH)
        check_length(n_rows, test_end, f"the {kind} LTSF borders (pass kind='custom' otherwise)")
        if context_length > train_end:
            raise ConfigError(
                f"context_length {context_length} exceeds the train split's {train_end} rows; "
                "choose a shorter context_length"
            )
        return {
            "train": (0, train_end),
            "val": (train_end - context_length, val_end),
            "test": (val_end - context_length, test_end),
        }
    if key == "custom":
        return split_borders(n_rows, context_length, fractions=(0.7, 0.1, 0.2))
    raise ConfigError(f"kind must be 'ETTh', 'ETTm' or 'custom', got {kind!r}")


def parse_time(value: Any, date_format: str | None = None) -> pd.Timestamp:
    """One timestamp: text in ISO 8601 (as :func:`read_series` reads a column without
    ``date_format``: ``01.02.2024`` is refused, not guessed), text in ``date_format`` (a strptime
    format) when given, or a datetime-like value. Raises ValueError or TypeError, also for a
    number: pandas reads 1467763200 as that many nanoseconds after 1970 (a stream's first update
    timed so had been taken at 1970-01-01 00:00:01.47), where read_series refuses a time column of
    numbers."""
    if isinstance(value, (int, float, np.number, np.bool_)) and not pd.isna(value):  # NaN: NaT, no time
        raise TypeError(f"{value!r} is a number, not a time: write it as a timestamp (ISO 8601 text, "
                        "or e.g. pd.Timestamp(value, unit='s') for seconds since 1970)")
    if isinstance(value, str) and date_format is not None:
        return pd.to_datetime(value.strip(), format=date_format)
    if isinstance(value, str) and not _PLAIN_ISO.fullmatch(value.strip()):
        return pd.to_datetime(value, format="ISO8601")  # ~100x slower than the common form below
    return pd.Timestamp(value)


# the common ISO 8601 form (2024-01-31 13:00:00+01:00), which pd.Timestamp reads as it is meant
_PLAIN_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:\s*(?:Z|[+-]\d{2}:?\d{2}))?"
)


def timestamp_on(index: pd.DatetimeIndex, value: Any, what: str) -> pd.Timestamp:
    """``value`` as a timestamp comparable with ``index`` (``what`` names it in messages): a naive
    time is read in the index's zone, an aware one converted to it. :class:`ConfigError` for text
    that is not a time, an aware time on a naive index, or a wall time that DST skips or repeats."""
    try:
        ts = parse_time(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} {value!r} is not an ISO 8601 timestamp ({exc})") from None
    if index.tz is None:
        if ts.tz is not None:
            raise ConfigError(
                f"{what} {value!r} has a time zone, but the index has none; pass a naive "
                "timestamp in the index's own clock"
            )
        return ts
    if ts.tz is not None:
        return ts.tz_convert(index.tz)
    try:
        return ts.tz_localize(index.tz)
    except _DST_ERRORS:  # a wall time DST skips or repeats
        raise ConfigError(
            f"{what} {value!r} is a wall time that daylight saving skips or repeats in the "
            f"index's zone {index.tz}; pass it with its UTC offset (e.g. ending in +01:00)"
        ) from None


def split_borders(
    n_rows: int,
    context_length: int,
    *,
    fractions: Sequence[float] | None = (0.7, 0.1, 0.2),
    counts: Sequence[int] | None = None,
    dates: Sequence[Any] | None = None,
    index: pd.DatetimeIndex | None = None,
) -> dict[str, tuple[int, int]]:
    """Chronological train/val/test row ranges for any series; val and test start L rows early.

    Give one of:
      ``fractions=(train, val, test)``: shares of ``n_rows``; when they sum to 1 the train and
        test sizes are ``int(share * n_rows)`` and val gets the remainder (the LTSF rule);
      ``counts=(train, val, test)``: row counts, consecutive from row 0;
      ``dates=(train_end, val_end[, test_end])`` with ``index``: a split ends before the first
        timestamp >= its end date; test runs to the last row without ``test_end``. On a
        zone-aware index naive dates are read in its zone; a naive index needs naive dates.
    A split of size 0 (e.g. ``fractions=(0.8, 0, 0.2)``) is left out of the result.
    """
    _check_context(context_length)
    given = sum(x is not None for x in (counts, dates))
    if given > 1:
        raise ConfigError("pass only one of fractions=, counts=, dates=")
    if dates is not None:
        if index is None or len(index) != n_rows:
            raise ConfigError("dates= needs index= (the DatetimeIndex of the n_rows rows)")
        if len(dates) not in (2, 3):
            raise ConfigError("dates= must be (train_end, val_end) or (train_end, val_end, end)")
        stamps = [timestamp_on(index, d, "dates=") for d in dates]
        backwards = [(a, b) for a, b in itertools.pairwise(stamps) if b < a]
        if backwards:
            raise ConfigError(f"dates= must be in time order (train_end, val_end[, end]), but "
                              f"{backwards[0][1]} is before {backwards[0][0]}")
        ends = [int(index.searchsorted(t, side="left")) for t in stamps]
        if len(ends) == 2:
            ends.append(n_rows)
        sizes = [ends[0], ends[1] - ends[0], ends[2] - ends[1]]
    elif counts is not None:
        if len(counts) != 3 or any(
            isinstance(c, bool) or not isinstance(c, Integral) or c < 0 for c in counts
        ):
            raise ConfigError(f"counts= must be three integers >= 0, got {counts!r}")
        sizes = [int(c) for c in counts]
    else:
        try:  # numbers of any kind (a tensor's, Decimals); not bools, text or NaN (which had
            shares = [None if isinstance(f, (bool, np.bool_, str)) else float(f) for f in fractions]
        except (TypeError, ValueError):  # passed "< 0" and failed in int())
            shares = [None]
        if len(shares) != 3 or not all(f is not None and math.isfinite(f) and f >= 0 for f in shares):
            raise ConfigError(f"fractions= must be three shares >= 0, got {fractions!r}")
        fractions = shares
        total = float(sum(fractions))
        if total > 1 + 1e-9:
            raise ConfigError(f"fractions= sum to {total} > 1")
        n_train = int(fractions[0] * n_rows)
        n_test = int(fractions[2] * n_rows)
        if math.isclose(total, 1.0, abs_tol=1e-9):
            n_val = n_rows - n_train - n_test if fractions[1] > 0 else 0
            n_test = n_rows - n_train - n_val if fractions[1] == 0 else n_test
        else:
            n_val = int(fractions[1] * n_rows)
        sizes = [n_train, n_val, n_test]
    if sum(sizes) > n_rows or min(sizes) < 0:
        raise DataValidationError(
            f"splits of {sizes} rows (train, val, test) do not fit in {n_rows} rows"
        )
    if sizes[0] <= 0:
        raise DataValidationError(f"the train split is empty (sizes {sizes} of {n_rows} rows)")
    out: dict[str, tuple[int, int]] = {}
    start = 0
    for name, size in zip(("train", "val", "test"), sizes, strict=True):
        end = start + size
        if size > 0:
            first = start if name == "train" else start - context_length
            if first < 0:
                raise DataValidationError(
                    f"context_length {context_length} reaches before row 0 at the start of the "
                    f"{name} split (row {start}); use a shorter context or a larger train split"
                )
            out[name] = (first, end)
        start = end
    return out


# --------------------------------------------------------------------------------------------
# time features


def _step_ns(freq: str) -> int | None:
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError as exc:
        raise ConfigError(f"freq {freq!r} is not a pandas offset alias ({exc})") from exc
    try:
        return int(offset.nanos)
    except ValueError:
        return None  # calendar offsets (months, weeks anchored to a day) have no fixed length


def time_feature_count(freq: str) -> int:
    """How many columns :func:`time_features` gives for data at ``freq`` (4, or 5 sub-hourly)."""
    step = _step_ns(freq)
    return 5 if step is not None and step < 3_600 * 10**9 else 4


def time_features(index: pd.DatetimeIndex, freq: str | None = None) -> np.ndarray:
    """Calendar features of each timestamp, ``(T, F)`` float32, each in ``[-0.5, 0.5]``.

    Columns: hour of day, day of week, day of month, day of year, and minute of hour when the
    data is sub-hourly (``freq`` given, else ``index.freq``, else the median step).
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise DataValidationError(f"time_features needs a DatetimeIndex, got {type(index)}")
    if freq is None and index.freq is not None:
        freq = index.freqstr
    if freq is not None:
        sub_hourly = time_feature_count(freq) == 5
    else:
        steps = np.diff(_ns(index))
        steps = steps[steps > 0]
        sub_hourly = bool(len(steps)) and float(np.median(steps)) < 3_600 * 10**9
    cols = [
        index.hour.to_numpy() / 23.0,
        index.day_of_week.to_numpy() / 6.0,
        (index.day.to_numpy() - 1) / 30.0,
        (index.day_of_year.to_numpy() - 1) / 365.0,
    ]
    if sub_hourly:
        cols.append(index.minute.to_numpy() / 59.0)
    return (np.stack(cols, axis=1) - 0.5).astype(np.float32)


def cycle_phase(index: pd.DatetimeIndex, freq: str, cycle_length: int) -> np.ndarray:
    """Position of each timestamp in a cycle of ``cycle_length`` steps of ``freq``, ``(T,)`` int64.

    Counted in whole steps from the Unix epoch (wall-clock time of the index), so the phase is a
    property of the timestamp alone: hourly data with ``cycle_length=24`` gets the hour of day,
    15-minute data with 96 the quarter-hour of day, whatever row a series starts at. A stream,
    a backtest and the fit all agree without storing a reference time. Calendar steps count
    the same way: business days (``'B'``, 5: the weekday), weeks (``'W-SUN'``), months
    (``'MS'``/``'ME'``, 12: the month of the year), quarters (4) and years.
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise DataValidationError(f"cycle_phase needs a DatetimeIndex, got {type(index)}")
    if isinstance(cycle_length, bool) or not isinstance(cycle_length, (int, np.integer)) or cycle_length < 1:
        raise ConfigError(f"cycle_length must be a positive integer, got {cycle_length!r}")
    if not freq:
        raise ConfigError("a cycle needs a regular sampling step, but the series has no regular "
                          "frequency; resample it to one or leave cycle_length unset")
    wall = index.tz_localize(None) if index.tz is not None else index
    step = _step_ns(freq)
    steps = np.floor_divide(_ns(wall), step) if step else _calendar_steps(wall, freq)
    return steps % int(cycle_length)


def cycle_phases_ahead(
    times: pd.DatetimeIndex, freq: str, cycle_length: int, horizon: int
) -> np.ndarray | None:
    """Cycle phases ``(n, H)`` of the ``horizon`` steps after each of ``times`` on the grid of
    ``freq``, or None where every one is the phase before it plus one (the network counts those).

    Phases are wall-clock (:func:`cycle_phase`), so in a zone-aware sub-daily series they do not
    step by one across a DST change: New York's hourly phases run 0, 1, 1, 2 on the night the
    clocks go back and 0, 1, 3 when they go forward. Naive and fixed-offset series, days and
    calendar steps always step by one.
    """
    if times.tz is None or not len(times):
        return None
    step = _step_ns(freq)
    if step is None or isinstance(pd.tseries.frequencies.to_offset(freq), pd.offsets.Day):
        return None
    ahead = np.arange(1, int(horizon) + 1)
    instants = _ns(times)[:, None] + step * ahead  # (n, H) UTC nanoseconds, as date_range steps
    future = pd.to_datetime(instants.ravel(), unit="ns", utc=True).tz_convert(times.tz)
    phases = cycle_phase(future, freq, cycle_length).reshape(instants.shape)
    return _unless_counted(phases, cycle_phase(times, freq, cycle_length), cycle_length)


def _unless_counted(phases: np.ndarray, now: np.ndarray, cycle_length: int) -> np.ndarray | None:
    """``phases`` (n, H) of the steps after times whose phases are ``now`` (n,), or None where each
    is the one before plus one, as the network counts them itself."""
    counted = (now[:, None] + np.arange(1, phases.shape[1] + 1)) % int(cycle_length)
    return None if np.array_equal(phases, counted) else phases


class PhasesAheadTable:
    """:func:`cycle_phases_ahead` for times on one grid, read from a table of the grid's phases
    that is converted to the zone ``block`` steps at a time: a stream's step costs a lookup, not
    a zone conversion of its H forecast timestamps (0.2 ms a step, doubling a small model's).
    Exact: the table holds the same wall-clock phases; times off its grid are computed directly."""

    def __init__(self, freq: str, cycle_length: int, horizon: int, block: int = 4096) -> None:
        self.freq, self.cycle_length, self.horizon, self.block = freq, int(cycle_length), int(horizon), block
        offset = pd.tseries.frequencies.to_offset(freq)
        self.step = None if isinstance(offset, pd.offsets.Day) else _step_ns(freq)
        self._start: int | None = None  # the table's first instant (UTC nanoseconds)
        self._tz: Any = None
        self._table = np.zeros(0, dtype=np.int64)  # phases of start + k * step

    def __call__(self, times: pd.DatetimeIndex) -> np.ndarray | None:
        if times.tz is None or not len(times) or self.step is None:
            return None  # calendar steps and naive times: each phase the one before plus one
        ns, H, step = _ns(times), self.horizon, self.step
        if not self._covers(ns, times.tz):
            start = int(ns.min())
            if ((ns - start) % step).any():  # series off one another's grid: no shared table
                return cycle_phases_ahead(times, self.freq, self.cycle_length, H)
            rows = int(ns.max() - start) // step + H + self.block
            if start + step * rows >= pd.Timestamp.max.value:  # the table would pass 2262
                return cycle_phases_ahead(times, self.freq, self.cycle_length, H)
            grid = pd.to_datetime(start + step * np.arange(rows), unit="ns", utc=True).tz_convert(times.tz)
            self._start, self._tz = start, times.tz
            self._table = cycle_phase(grid, self.freq, self.cycle_length)
        k = (ns - self._start) // step  # (n,) each time's row
        phases = self._table[k[:, None] + np.arange(1, H + 1)]  # (n, H)
        return _unless_counted(phases, self._table[k], self.cycle_length)

    def _covers(self, ns: np.ndarray, tz: Any) -> bool:
        if self._start is None or tz != self._tz:
            return False
        offset = ns - self._start
        return bool((offset >= 0).all() and not (offset % self.step).any()
                    and offset.max() // self.step + self.horizon < len(self._table))


def steps_by_one(phases: np.ndarray, cycle_length: int) -> bool:
    """Whether consecutive ``phases`` ``(T,)`` (of one regular series) each advance by one."""
    return bool(np.all((np.diff(phases) - 1) % int(cycle_length) == 0))


def _calendar_steps(wall: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Steps of a calendar frequency from the Unix epoch, ``(T,)`` int64: consecutive timestamps
    on its grid differ by exactly 1 (``'2MS'``: months // 2)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    months = (wall.year.to_numpy(np.int64) - 1970) * 12 + wall.month.to_numpy(np.int64) - 1
    if type(offset) is pd.offsets.BusinessDay and not offset.offset:
        days = wall.to_numpy().astype("datetime64[D]")
        units = np.busday_count(np.datetime64("1970-01-01"), days).astype(np.int64)
    elif isinstance(offset, pd.offsets.Week) and offset.weekday is not None:
        units = np.floor_divide(_ns(wall.normalize()), 7 * 86_400 * 10**9)  # one weekday: 7 days apart
    elif isinstance(offset, (pd.offsets.MonthBegin, pd.offsets.MonthEnd, pd.offsets.BusinessMonthBegin,
                             pd.offsets.BusinessMonthEnd)):
        units = months
    elif isinstance(offset, (pd.offsets.QuarterBegin, pd.offsets.QuarterEnd, pd.offsets.BQuarterBegin,
                             pd.offsets.BQuarterEnd)):
        units = np.floor_divide(months, 3)  # any anchor: quarter months are 3 apart
    elif isinstance(offset, (pd.offsets.YearBegin, pd.offsets.YearEnd, pd.offsets.BYearBegin,
                             pd.offsets.BYearEnd)):
        units = wall.year.to_numpy(np.int64) - 1970
    else:  # business hours, custom holidays, half months: no count of steps from the timestamp alone
        raise ConfigError(
            f"a cycle needs steps that can be counted from each timestamp (a fixed step, business "
            f"days, weeks, months, quarters or years), but the series' frequency {freq!r} is "
            f"{type(offset).__name__}; leave cycle_length unset"
        )
    return np.floor_divide(units, offset.n)


# --------------------------------------------------------------------------------------------
# the LTSF pipeline


@dataclass
class LTSFData:
    """A benchmark series ready for windowing.

    ``values`` ``(T, C)`` float32, scaled by ``scaler`` (fitted on the train rows only);
    ``index`` the ``T`` raw timestamps; ``borders`` row ranges of the splits.
    """

    values: np.ndarray
    index: pd.DatetimeIndex
    columns: list[str]
    borders: dict[str, tuple[int, int]]
    scaler: StandardScaler
    freq: str
    name: str
    kind: str = "custom"
    context_length: int = 0
    horizon: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.values.shape[1])

    @property
    def fit_index(self) -> pd.DatetimeIndex:
        """The time index the protocol fits and forecasts with: ``index``, or for files with a
        repeated or missing timestamp (Weather) a regular grid of the same length and start.

        Rows are the protocol's unit and the estimator needs a regular index. Every calendar
        input for the rows (time features, the cycle phase) must come from this index, or the
        phases drift from those the network was trained on after the first irregularity.
        """
        index = self.index
        if self.meta.get("irregular") or not index.is_unique:
            return pd.date_range(index[0], periods=len(index), freq=self.freq, name=index.name)
        return index

    def time_marks(self) -> np.ndarray:
        """``(T, F)`` float32 calendar features of ``fit_index`` (see :func:`time_features`)."""
        return time_features(self.fit_index, freq=self.freq)

    def window_counts(self, stride: int = 1) -> dict[str, int]:
        """Number of (context, target) windows per split at this context length and horizon."""
        stride = positive_int(stride, "stride")  # -1 had counted -119 windows
        span = self.context_length + self.horizon
        return {k: (e - s - span) // stride + 1 for k, (s, e) in self.borders.items()}


def _names_a_path(source: str | os.PathLike) -> bool:
    """Whether ``source`` is a path (a Path, or text with a folder separator), not a bare name."""
    if not isinstance(source, str):
        return True
    return any(sep and sep in source for sep in (os.sep, os.altsep))


def prepare_ltsf(
    source: str | os.PathLike | pd.DataFrame,
    context_length: int,
    horizon: int,
    *,
    kind: str | None = None,
    name: str | None = None,
    data_dir: str | os.PathLike | None = None,
) -> LTSFData:
    """Load, split and scale a series by the LTSF protocol.

    ``source`` is a registry name (``"ETTh1"``, see :mod:`tsmamba.datasets`), a file path or a
    DataFrame; a path (a ``Path``, or text with a ``/``) must name a file. ``kind`` (``"ETTh"``,
    ``"ETTm"``, ``"custom"``) defaults to the registry's entry for the name or file name, else
    ``"custom"``. Every split must hold at least ``context_length + horizon`` rows.
    """
    from tsmamba import datasets as registry  # the registry imports this module

    horizon = positive_int(horizon, "horizon")
    context_length = positive_int(context_length, "context_length")
    spec = None
    if isinstance(source, pd.DataFrame):
        label = name or str(source.attrs.get("source") or "frame")  # a file read_series read
        # a published file read as published (load_dataset("Weather")): its rows as they are
        frame = read_as_published(source) if source.attrs.get("irregular") else read_series(source)
    else:
        spec = registry.get_spec(source, missing_ok=True)
        path = Path(source).expanduser()
        if path.is_file():
            frame = registry.read_dataset_file(path, spec) if spec else read_series(path)
        elif _names_a_path(source):  # '/data/ETTh1.csv' had loaded the registry's ETTh1 instead
            what = "is a folder, not a file" if path.is_dir() else "not found"
            raise DataNotFoundError(
                f"data file {os.fspath(source)} {what}. Check the path; a registry data set is given by "
                f"its bare name ({', '.join(registry.REGISTRY)}), looked up in ${registry.DATA_ENV} "
                "and the download folder"
            )
        elif spec is not None:
            frame = registry.load_dataset(spec.name, data_dir=data_dir)
        else:
            raise DataNotFoundError(
                f"{source!r} is neither a file nor a registered data set "
                f"({', '.join(registry.REGISTRY)}); pass a path to a CSV file or a DataFrame"
            )
        label = name or (spec.name if spec else path.name)
    kind = kind or (spec.kind if spec else "custom")
    n_rows = len(frame)
    borders = ltsf_borders(n_rows, context_length, kind)
    for split, (start, end) in borders.items():
        check_length(
            end - start,
            context_length + horizon,
            f"the {split} split of {label} ({kind} borders {start}..{end}) at "
            f"context_length={context_length}, horizon={horizon}",
        )
    raw = frame.to_numpy(dtype=np.float64)
    train_start, train_end = borders["train"]
    scaler = StandardScaler().fit(raw[train_start:train_end], columns=list(frame.columns))
    values = scaler.transform(raw).astype(np.float32)
    return LTSFData(
        values=values,
        index=frame.index,
        columns=[str(c) for c in frame.columns],
        borders=borders,
        scaler=scaler,
        freq=str(frame.attrs.get("freq") or infer_freq(frame.index)),
        name=label,
        kind=kind,
        context_length=int(context_length),
        horizon=int(horizon),
        meta={
            "irregular": frame.attrs.get("irregular", []),
            # where it came from (a frame: the file read_series read it from, if any) and what
            # read_series' fill= and impute= changed in it, for reports
            "source": source.attrs.get("source") if isinstance(source, pd.DataFrame) else os.fspath(source),
            "repairs": source.attrs.get("repairs") if isinstance(source, pd.DataFrame) else None,
        },
    )
