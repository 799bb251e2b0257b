"""tsmamba.data: reading, validation (one test per error case), scaling, splits, time features."""

from __future__ import annotations

import codecs
import gzip
import json
import os
import re
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import tsmamba.data as data_module
from tsmamba.data import (
    LTSFData,
    PhasesAheadTable,
    StandardScaler,
    check_length,
    check_scaled_range,
    cycle_phase,
    cycle_phases_ahead,
    default_time_col,
    future_index,
    in_ns_range,
    infer_freq,
    ltsf_borders,
    outside_ns_range,
    parse_time,
    prepare_ltsf,
    read_panel,
    read_series,
    split_borders,
    steps_by_one,
    time_feature_count,
    time_features,
    validate_frame,
)
from tsmamba.errors import ConfigError, DataNotFoundError, DataValidationError

# ---------------------------------------------------------------------------------------------
# small hand-made data


def hourly_frame(n: int = 48, channels: int = 2, start: str = "2021-01-01") -> pd.DataFrame:
    index = pd.date_range(start, periods=n, freq="h")
    data = {f"x{j}": np.sin(np.arange(n) / (3.0 + j)) + j for j in range(channels)}
    return pd.DataFrame({"date": index.strftime("%Y-%m-%d %H:%M:%S"), **data})


def write_csv(tmp_path: Path, frame: pd.DataFrame, name: str = "data.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def write_text(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# reading


def test_read_csv_gives_validated_wide_frame(tmp_path):
    path = write_csv(tmp_path, hourly_frame(48, 3))
    df = read_series(path)
    assert isinstance(df.index, pd.DatetimeIndex)
    assert df.index.name == "date"
    assert df.index.freqstr == "h"
    assert df.attrs["freq"] == "h"
    assert list(df.columns) == ["x0", "x1", "x2"]
    assert all(dt == np.float64 for dt in df.dtypes)
    assert len(df) == 48


def test_read_gzip_and_integer_columns(tmp_path):
    frame = hourly_frame(10, 1)
    frame["count"] = np.arange(10)  # int64 in the file
    path = tmp_path / "data.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        frame.to_csv(fh, index=False)
    df = read_series(path)
    assert df["count"].dtype == np.float64
    assert df["count"].tolist() == list(map(float, range(10)))


def test_read_frame_with_time_column_or_datetime_index():
    frame = hourly_frame(24, 2)
    by_column = read_series(frame)
    indexed = frame.set_index(pd.DatetimeIndex(pd.to_datetime(frame["date"]))).drop(
        columns="date"
    )
    by_index = read_series(indexed)
    pd.testing.assert_frame_equal(by_column, by_index, check_names=False)
    checked = validate_frame(indexed)
    assert checked.index.freqstr == "h"
    assert "date" in frame.columns  # the input is left alone


def test_a_datetime_index_beside_a_different_date_column_is_an_error_not_a_guess():
    frame = hourly_frame(24, 2)
    times = pd.DatetimeIndex(pd.to_datetime(frame["date"]))
    both = frame.set_index(times)  # the 'date' column stays: the same times, read as before
    pd.testing.assert_frame_equal(read_series(both), read_series(frame), check_names=False)
    paris = both.tz_localize("Europe/Paris")
    paris["date"] = paris.index.astype(str)  # written with offsets: the same instants
    assert read_series(paris).index.equals(paris.index)
    both["date"] = np.arange(24.0)  # a numeric channel that happens to be called 'date'
    with pytest.raises(DataValidationError, match=r"DatetimeIndex and a column 'date'.*Rename"):
        read_series(both)
    renamed = read_series(both.rename(columns={"date": "day"}))
    assert renamed.index.equals(times) and list(renamed.columns) == ["day", "x0", "x1"]


def test_a_named_datetime_index_is_the_time_beside_a_channel_called_date():
    """read_series names the index after the file's time column ('ts'); a fit or backtest of
    that frame read it again by the default 'date' and refused its 'date' channel."""
    frame = hourly_frame(24, 1)
    frame["date"], frame.index = np.arange(24.0), pd.DatetimeIndex(pd.to_datetime(frame["date"]), name="ts")
    assert default_time_col(frame, None) == "ts" and default_time_col(frame, "date") == "date"
    assert default_time_col(frame.rename_axis(None), None) == "date"  # unnamed: still ambiguous
    times = frame.assign(date=frame.index)  # a 'date' column of times: read_series decides
    assert default_time_col(times, None) == "date" and read_series(times).index.equals(frame.index)
    other = times.assign(date=frame.index + pd.Timedelta("1h"))
    with pytest.raises(DataValidationError, match="which is the time"):
        read_series(other, time_col=default_time_col(other, None))
    read = read_series(frame, time_col=default_time_col(frame, None))
    assert list(read.columns) == ["date", "x0"] and read.index.name == "ts"



def test_a_datetime_index_set_from_its_column_keeping_it_is_the_time_by_its_name():
    """df.set_index('ts', drop=False): the default time column was 'date' but for the index's own
    name, so the 'ts' column beside it was read as a channel of times, refused as non-numeric
    (set_index('date', drop=False) alone was read)."""
    frame = hourly_frame(24, 2).rename(columns={"date": "ts"})
    kept = frame.set_index(pd.DatetimeIndex(pd.to_datetime(frame["ts"]), name="ts"))
    assert default_time_col(kept, None) == "ts"
    read = read_series(kept, time_col=default_time_col(kept, None))
    pd.testing.assert_frame_equal(read, read_series(frame, time_col="ts"))
    with pytest.raises(DataValidationError, match="which is the time"):  # not its times: asked, not guessed
        read_series(shifted := kept.assign(ts=kept.index + pd.Timedelta("1h")),
                    time_col=default_time_col(shifted, None))
    numeric = kept.assign(ts=np.arange(24.0))  # a channel that happens to share the index's name
    assert default_time_col(numeric, None) == "date"

def test_columns_selects_and_orders_channels(tmp_path):
    path = write_csv(tmp_path, hourly_frame(24, 3))
    df = read_series(path, columns=["x2", "x0"])
    assert list(df.columns) == ["x2", "x0"]


@pytest.mark.parametrize("name", ["blank.csv", "blank.csv.gz"])
def test_line_numbers_count_the_blank_lines_read_csv_skips(tmp_path, name):
    def write(text: str) -> Path:
        path = tmp_path / name
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
        return path

    text = "\ndate,x\n2021-01-01 00:00,1\n\n  \n2021-01-01 01:00,2\r\n2021-01-01 02:00,oops\n\n"
    with pytest.raises(DataValidationError, match=r"row 2 \(line 7\): 'oops'"):
        read_series(write(text))
    with pytest.raises(DataValidationError, match=r"1 missing timestamp .* at row 3 \(line 9\)"):
        read_series(write(text.replace("oops", "3") + ",4\n"))
    # a quoted field spanning lines: the line each record starts on (it had counted rows from
    # the header, naming line 3 here)
    path = write_csv(tmp_path, pd.DataFrame({"date": ["2021-01-01", "x"], "note": ["a\nb", "c"]}))
    with pytest.raises(DataValidationError, match=r"row 1 \(line 4\): 'x'"):
        read_series(path)
    # quotes spanning lines in the header and a row, a delimiter inside them, a blank line
    quoted = write('date;"note\n(kWh)";y\n2021-01-01 00:00;"a;\nb";1\n\n2021-01-01 01:00;"c";x\n')
    with pytest.raises(DataValidationError, match=r"row 1 \(line 6\): 'x'"):
        read_series(quoted, sep=";", columns=["y"])


def test_a_header_that_repeats_a_name_is_an_error_not_a_renamed_channel(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("date,load,load\n2021-01-01 00:00,1,2\n2021-01-01 01:00,3,4\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"column names repeat in the header: \['load'\]"):
        read_series(path)  # read_csv alone names them load and load.1
    path.write_text("date,load,load.1\n2021-01-01 00:00,1,2\n2021-01-01 01:00,3,4\n", encoding="utf-8")
    assert list(read_series(path).columns) == ["load", "load.1"]  # names of its own


@pytest.mark.parametrize("sep", [";", "\t"])
def test_another_delimiter_is_named(tmp_path, sep):
    path = tmp_path / "semi.csv"
    path.write_text(f"date{sep}kwh\n2021-01-01 00:00{sep}1\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=re.escape(f"seems to use {sep!r} as its delimiter")):
        read_series(path)
    for blank in ("", "\n"):  # a blank line before the header: the header is no data line
        path.write_text(f"{blank}date{sep}kwh{sep}kw\n2021-01-01 00:00{sep}1,5{sep}2,25\n", encoding="utf-8")
        with pytest.raises(DataValidationError,  # the decimal commas split the row: named too
                           match=re.escape(f"{sep!r} as its delimiter and ',' as its decimal mark")):
            read_series(path)
    path.write_text(f'date{sep}note{sep}kwh\n2021-01-01 00:00{sep}"on, off"{sep}1.5\n', encoding="utf-8")
    with pytest.raises(DataValidationError, match=re.escape(  # a quoted comma is text, not 1,5
            f"seems to use {sep!r} as its delimiter; pass sep={sep!r}")):
        read_series(path)
    path.write_text(f"load (kW{sep} avg)\n1\n2\n", encoding="utf-8")  # one column, named with it
    with pytest.raises(DataValidationError, match="time column 'date' not found"):
        read_series(path)


@pytest.mark.parametrize(("note", "sep", "advice"), [
    ("sep=,", ",", ""), ("\ufeffsep=;", ";", ""), ("sep=;", ",", ", and pass sep=';'"),
    ("sep=\t", ",", ", and pass sep='\\t'")])
def test_a_spreadsheet_delimiter_note_before_the_header_is_named(tmp_path, note, sep, advice):
    """Excel's first line 'sep=;' had been read as the header: 'time column 'date' not found; the
    columns are ['sep=', 'Unnamed: 1']' even with the sep= that the line names."""
    mark = note[-1]
    path = write_text(tmp_path, f"{note}\ndate{mark}a\n2021-01-01{mark}1\n2021-01-02{mark}2\n")
    with pytest.raises(DataValidationError, match=re.escape(
            f"data.csv: the first line is {'sep=' + mark!r}, a spreadsheet's note of its delimiter, not the "
            f"header: delete that line, so that the header comes first{advice}")):
        read_series(path, sep=sep)
    path.write_text(path.read_text(encoding="utf-8").split("\n", 1)[1], encoding="utf-8")
    assert read_series(path, sep=mark)["a"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(("notes", "shown"), [
    ("# exported by X\nstation: 12\n\n", "the lines above it ('# exported by X', 'station: 12') are notes"),
    ("# exported by X\n", "the line above it ('# exported by X') is a note"),
    ("Exported by X,2021\n", "the line above it ('Exported by X,2021') is a note")])
def test_notes_above_the_header_are_named(tmp_path, notes, shown):
    """Lines an export writes before the header had been told 'Decimal commas (12,5) or a trailing
    comma on the data lines?' or 'cannot be parsed as CSV (Expected 1 fields in line 3, saw 3)'."""
    table = "date,a,b\n2021-01-01,1,2\n2021-01-02,3,4\n2021-01-03,5,6\n"
    path = write_text(tmp_path, notes + table)
    line = notes.count("\n") + 1
    with pytest.raises(DataValidationError, match=re.escape(
            f"data.csv: the header is on line {line}, not line 1: {shown}, not the table; delete ")):
        read_series(path)
    with pytest.raises(DataValidationError, match=re.escape(f"pd.read_csv(path, skiprows={line - 1})")):
        read_series(path)
    assert read_series(pd.read_csv(path, skiprows=line - 1)).equals(read_series(write_text(tmp_path, table)))
    header, data = table.split("\n", 1)
    path.write_text(header + "\n" + data.replace("\n", ",\n"), encoding="utf-8")  # a trailing comma
    with pytest.raises(DataValidationError, match=r"a trailing comma on the data lines\?"):
        read_series(path)


@pytest.mark.parametrize("name", ["DATE", "Date", " date", "date "])
def test_a_time_column_named_but_for_case_or_spaces_is_suggested(tmp_path, name):
    """It had been refused with the column list alone; it is not read silently either."""
    path = write_text(tmp_path, f"{name},a\n2021-01-01,1\n2021-01-02,2\n2021-01-03,3\n")
    with pytest.raises(DataValidationError, match=re.escape(
            f"the columns are [{name!r}, 'a'] (did you mean {name!r}? names are matched exactly, in case and "
            "spaces). Pass time_col=")):
        read_series(path)
    assert read_series(path, time_col=name)["a"].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(DataValidationError, match=r"the columns are \['Time', 'a'\]\. Pass time_col="):
        read_series(pd.read_csv(path).rename(columns={name: "Time"}))  # another name: no guess


def test_spaces_around_a_time_are_read_alike_before_and_after_it(tmp_path):
    """' 2021-01-02' had been read and '2021-01-02 ' refused as 'cannot be parsed as dates'."""
    times = ["2021-01-01", " 2021-01-02", "2021-01-03 ", "\t2021-01-04  "]
    frame = pd.DataFrame({"date": times, "a": [1.0, 2.0, 3.0, 4.0]})
    expected = pd.date_range("2021-01-01", periods=4, freq="D", name="date")
    assert read_series(frame).index.equals(expected)
    assert read_series(write_csv(tmp_path, frame)).index.equals(expected)
    dated = frame.assign(date=[" 01/01/2021", "02/01/2021 ", "03/01/2021", "04/01/2021 "])
    assert read_series(dated, date_format="%d/%m/%Y").index.equals(expected)
    with pytest.raises(DataValidationError, match=r"row 3: 'x  '\. Fix these values"):  # shown as written
        read_series(frame.assign(date=[*times[:3], "x  "]))


def test_times_that_parse_as_written_are_not_stripped(monkeypatch, tmp_path):
    """Stripping every time value (for '2021-01-02 ') had cost a pass over every row, 8 ms of an
    ETTm1 frame's 30 ms read, where the times parse as written: it is done only for values that fail."""
    frame = pd.DataFrame({"date": ["2021-01-01", "2021-01-02", "2021-01-03"], "a": [1.0, 2.0, 3.0]})

    def refused(series):
        raise AssertionError("stripped")

    monkeypatch.setattr(data_module, "_stripped", refused)
    expected = pd.date_range("2021-01-01", periods=3, freq="D", name="date")
    assert read_series(frame).index.equals(expected)
    assert read_series(write_csv(tmp_path, frame)).index.equals(expected)
    with pytest.raises(AssertionError, match=r"stripped"):  # a value that fails: looked into
        read_series(frame.assign(date=["2021-01-01", "2021-01-02", "2021-01-03 "]))


def test_sep_and_decimal_read_a_semicolon_file_as_its_comma_twin(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=30, freq="h").astype(str),
                          "kwh": rng.normal(size=30), "kw": np.arange(30)})  # integers: no decimal mark
    twin = read_series(write_csv(tmp_path, frame))
    european = tmp_path / "eu.csv"
    frame.to_csv(european, sep=";", decimal=",", index=False)
    assert read_series(european, sep=";", decimal=",").equals(twin)
    tabbed = tmp_path / "tab.tsv"
    frame.to_csv(tabbed, sep="\t", index=False)
    assert read_series(tabbed, sep="\t").equals(twin)
    long = frame.melt(id_vars="date", var_name="unique_id", value_name="y").rename(columns={"date": "ds"})
    long.to_csv(tmp_path / "long.csv", sep=";", decimal=",", index=False)
    panel = read_panel(tmp_path / "long.csv", sep=";", decimal=",")
    assert np.array_equal(panel["kwh"]["y"].to_numpy(), twin["kwh"].to_numpy())
    # without the marks: the delimiter and decimal commas named, also when only some lines have one
    # (the integer rows parse as two fields, the others as more: read_csv's error before any frame)
    with pytest.raises(DataValidationError, match=re.escape(
            "eu.csv: the header 'date;kwh;kw' has no comma but ';': the file seems to use ';' as its "
            "delimiter and ',' as its decimal mark; pass sep=';' and decimal=','")):
        read_series(european)
    with pytest.raises(DataValidationError, match=re.escape(
            "they use ',' as the decimal mark: pass decimal=','")):
        read_series(european, sep=";")
    with pytest.raises(DataValidationError, match=re.escape(  # the comma cannot be both marks
            "the header 'date,kwh,kw' has no semicolon but ',': the file seems to use ',' as its "
            "delimiter; pass sep=',' and decimal='.'")):
        read_series(write_csv(tmp_path, frame), sep=";", decimal=",")
    dotted = tmp_path / "dotted.csv"
    frame.to_csv(dotted, sep=";", index=False)
    with pytest.raises(DataValidationError, match=re.escape(
            "column 'kwh' (30 of 30 values not numbers with the decimal mark ',', e.g. row 0 (line 2): "
            f"'{frame['kwh'][0]}'")) as err:
        read_series(dotted, sep=";", decimal=",")
    assert "they use '.' as the decimal mark: write them with ',', or drop decimal=','" in str(err.value)


def test_numbers_in_the_other_notation_are_named_with_a_fix_that_reads_them(tmp_path):
    """Decimal commas in a comma-separated file or a frame had been told to pass decimal=',' (refused
    beside sep=',', ignored for a frame); a decimal=',' file's good 1,5 values had been named as the
    bad ones and told to pass the decimal=',' given, its 1.5 left unnamed; and 1.234 there (1234
    with '.' grouping thousands) told to drop decimal=',', which reads it as 1.234."""
    quoted = write_text(tmp_path, 'date,a\n2021-01-01,"1,5"\n2021-01-02,"2,5"\n2021-01-03,3\n')
    with pytest.raises(DataValidationError, match=re.escape(
            "'2,5'; they use ',' as the decimal mark: a comma-separated file cannot read it as one (its "
            "delimiter and decimal mark must differ): write them with '.', or save the file with ';' "
            "between fields and pass sep=';' and decimal=','")):
        read_series(quoted)
    frame = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=3), "a": ["1,5", "2,5", "3"]})
    with pytest.raises(DataValidationError, match=re.escape(
            "convert them first: df['a'].str.replace(',', '.').astype(float)")):
        read_series(frame)
    assert read_series(frame.assign(a=frame["a"].str.replace(",", ".").astype(float)))["a"].tolist() == [
        1.5, 2.5, 3.0]
    mixed = write_text(tmp_path, "date;a\n2021-01-01;1,5\n2021-01-02;2.5\n2021-01-03;3,5\n")
    with pytest.raises(DataValidationError, match=re.escape(
            "column 'a' (1 of 3 values not numbers with the decimal mark ',', e.g. row 1 (line 3): '2.5'; "
            "they use '.' as the decimal mark: write them with ',', or drop decimal=','")):
        read_series(mixed, sep=";", decimal=",")
    grouped = write_text(tmp_path, "date;a\n2021-01-01;1.234\n2021-01-02;5.678\n2021-01-03;12.345\n")
    with pytest.raises(DataValidationError, match=re.escape(
            "they use '.' to group thousands or as the decimal mark: if it groups thousands (1.234 for "
            "1234), write them without it; if it is the decimal mark (1.234 for 1,234), write them")):
        read_series(grouped, sep=";", decimal=",")
    with pytest.raises(DataValidationError, match=re.escape("'1.234,5'; they use '.' to group thousands: "
                                                            "write them without it")):
        read_series(write_text(tmp_path, "date;a\n2021-01-01;1.234,5\n2021-01-02;2\n"), sep=";", decimal=",")
    panel = write_text(tmp_path, "unique_id;ds;y\na;2021-01-01;1,5\na;2021-01-02;2,5\n"
                       "b;2021-01-01;1,5\nb;2021-01-02;n/a?\n")
    with pytest.raises(DataValidationError, match=re.escape(  # series a's 1,5 had been named, not b's row
            "[unique_id=b]: non-numeric columns: column 'y' (1 of 2 values not numbers with the decimal mark "
            "',', e.g. row 3 (line 5): 'n/a?')")):
        read_panel(panel, sep=";", decimal=",")


def test_a_year_dot_month_time_column_is_a_time_with_decimal_commas(tmp_path):
    path = write_text(tmp_path, "month;kwh\n2021.01;1,5\n2021.02;2,5\n2021.03;3\n")
    read = read_series(path, time_col="month", date_format="%Y.%m", sep=";", decimal=",")
    assert read["kwh"].tolist() == [1.5, 2.5, 3.0] and read.index.freqstr == "MS"


@pytest.mark.parametrize(
    ("marks", "message"),
    [({"sep": ";;"}, "sep must be one character, such as ',' or ';' or '\\t' or '|'; got ';;'"),
     ({"sep": '"'}, "sep must be one character"),
     ({"decimal": ""}, "decimal must be one character, such as '.' or ','; got ''"),
     ({"decimal": "1"}, "decimal must be one character"),
     ({"sep": ",", "decimal": ","}, "sep and decimal are both ','; a field delimiter and a decimal mark must "
                                    "differ (';' with ',' decimals, or ',' with '.')")],
)
def test_a_sep_or_decimal_that_cannot_be_one_is_a_config_error(tmp_path, marks, message):
    path = write_csv(tmp_path, pd.DataFrame({"date": ["2021-01-01"], "v": [1.0]}))
    with pytest.raises(ConfigError, match=re.escape(message)):
        read_series(path, **marks)


@pytest.mark.parametrize(
    ("name", "members", "start", "what"),
    [("book.xlsx", ["[Content_Types].xml", "xl/workbook.xml"], None, "an Excel workbook (.xlsx)"),
     ("book.ods", ["mimetype", "content.xml"], None, "an OpenDocument spreadsheet (.ods)"),
     ("book.xls", None, bytes.fromhex("D0CF11E0A1B11AE1"), "an Excel 97-2003 workbook (.xls)"),
     ("table.parquet", None, b"PAR1", "a Parquet file"),
     ("table.csv", None, b"ARROW1\x00\x00", "an Arrow/Feather file")],  # by what it holds, not its name
)
def test_a_workbook_or_binary_table_is_named_not_read_as_text(tmp_path, name, members, start, what):
    """They had been read as CSV text: 'not valid utf-8 text' or 'cannot be parsed as CSV'."""
    path = tmp_path / name
    if members is not None:
        with zipfile.ZipFile(path, "w") as archive:
            for member in members:
                archive.writestr(member, "<x/>")
    else:
        path.write_bytes(start + bytes(range(256)) * 4)
    message = f"{name}: the file is {what}, not CSV text; export it as a CSV file"
    with pytest.raises(DataValidationError, match=re.escape(message)) as raised:
        read_series(path)
    loader = "pd.read_excel" if "spreadsheet" in what or "workbook" in what else None
    assert ("File > Save As > CSV UTF-8" in str(raised.value)) == (loader is not None)
    assert str(raised.value).endswith("and pass the DataFrame")


@pytest.mark.parametrize("module, kind, ending", [("gzip", "gzip", ".gz"), ("bz2", "bzip2", ".bz2"),
                                                  ("lzma", "xz", ".xz")])
def test_a_compressed_file_named_without_its_ending_says_so(tmp_path, module, kind, ending):
    """pandas decompresses by the name's ending: a gzip file named data.csv had been "not valid utf-8
    text", and the encoding given then ("e.g. --encoding cp1252") was advised again."""
    import importlib

    compress = importlib.import_module(module).compress
    text = b"date,v\n2021-01-01,1\n2021-01-02,2\n2021-01-03,3\n"
    (tmp_path / "data.csv").write_bytes(compress(text))
    with pytest.raises(DataValidationError, match=re.escape(
            f"data.csv: the file is {kind}-compressed, but its name does not end in {ending}, by which it is "
            f"decompressed; rename it data.csv{ending}, or decompress it")):
        read_series(tmp_path / "data.csv")
    (tmp_path / f"data.csv{ending}").write_bytes(compress(text))
    assert read_series(tmp_path / f"data.csv{ending}")["v"].tolist() == [1.0, 2.0, 3.0]


def test_a_zip_archive_of_one_csv_is_still_read(tmp_path):
    frame = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=5, freq="D").astype(str),
                          "v": range(5)})
    with zipfile.ZipFile(tmp_path / "data.zip", "w") as archive:
        archive.writestr("data.csv", frame.to_csv(index=False))
    assert read_series(tmp_path / "data.zip")["v"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_custom_time_column_and_date_format(tmp_path):
    index = pd.date_range("2021-03-01", periods=10, freq="D")
    frame = pd.DataFrame({"when": index.strftime("%d/%m/%Y"), "v": np.arange(10.0)})
    path = write_csv(tmp_path, frame)
    df = read_series(path, time_col="when", date_format="%d/%m/%Y")
    assert df.index.name == "when"
    assert df.index[0] == pd.Timestamp("2021-03-01")
    assert df.index.freqstr == "D"
    # without date_format these are not guessed (pandas alone reads 01/03/2021 as 3 January)
    with pytest.raises(DataValidationError, match=r"10 of 10 values .* ISO 8601 .* pass date_format="):
        read_series(path, time_col="when")
    months = pd.DataFrame({"when": [f"{d:02d}/01/2024" for d in range(1, 13)], "v": np.arange(12.0)})
    with pytest.raises(DataValidationError, match="cannot be parsed as dates"):  # was a monthly series
        read_series(months, time_col="when")


def test_a_date_format_that_is_no_strptime_format_is_named_as_the_fault(tmp_path):
    """A bad code in date_format had been answered with 'pass date_format= with the strptime
    format', as if none had been given."""
    frame = pd.DataFrame({"when": ["01/03/2021", "02/03/2021"], "v": [1.0, 2.0]})
    with pytest.raises(DataValidationError, match=re.escape(
            "cannot parse time column 'when' ('Q' is a bad directive in format '%d/%m/%Q'); is date_format "
            "'%d/%m/%Q' a strptime format (e.g. '%d/%m/%Y %H:%M')?")):
        read_series(frame, time_col="when", date_format="%d/%m/%Q")


def test_parse_time_reads_text_in_a_date_format_and_iso_without_one():
    assert parse_time("31/01/2024 13:00", "%d/%m/%Y %H:%M") == pd.Timestamp("2024-01-31 13:00")
    assert parse_time(" 01/02/2024 ", "%d/%m/%Y") == pd.Timestamp("2024-02-01")  # spaces around a field
    assert parse_time("2024-02-01", None) == pd.Timestamp("2024-02-01")
    assert parse_time(pd.Timestamp("2024-02-01"), "%d/%m/%Y") == pd.Timestamp("2024-02-01")  # not text
    with pytest.raises(ValueError):
        parse_time("2024-02-01", "%d/%m/%Y")  # ISO text in another format is not guessed
    with pytest.raises(ValueError):
        parse_time("01/02/2024")  # nor is a day-first time without its format


def test_long_form_is_pivoted_to_wide(tmp_path):
    index = pd.date_range("2021-01-01", periods=6, freq="h")
    long = pd.concat(
        [
            pd.DataFrame({"unique_id": "b", "ds": index, "y": np.arange(6.0) * 10}),
            pd.DataFrame({"unique_id": "a", "ds": index, "y": np.arange(6.0)}),
        ]
    )
    df = read_series(write_csv(tmp_path, long))
    assert list(df.columns) == ["a", "b"]
    assert df.index.name == "ds"
    assert df.index.freqstr == "h"
    np.testing.assert_allclose(df["b"].to_numpy(), np.arange(6.0) * 10)
    with pytest.warns(UserWarning, match=r"the column\(s\) \['promo'\] are not read .*read_panel"):
        assert read_series(long.assign(promo=1.0)).equals(df)


def test_long_form_under_other_names_read_as_wide_says_how_to_read_it(tmp_path):
    """Repeating times beside one text column: the file is long form under other names. It had been
    refused as wide ("non-numeric columns: 'store'"), without a word of id_col=/value_col=."""
    index = pd.date_range("2021-01-01", periods=6, freq="h")
    long = pd.concat([pd.DataFrame({"store": s, "when": index, "sales": np.arange(6.0) * k})
                      for s, k in (("n", 1), ("s", 10))])
    path = write_csv(tmp_path, long)
    with pytest.raises(DataValidationError, match=re.escape(
            "data.csv: the times in 'when' repeat, and column 'store' tells 2 series apart, each once per "
            "time: is this long form, one row per series and time? Pass id_col='store', ds_col='when', "
            "value_col='sales' to read one channel per series id; a wide table has one row per time")):
        read_series(path, time_col="when")
    with pytest.raises(DataValidationError, match=re.escape("value_col= (one of ['sales', 'promo'])")):
        read_series(long.assign(promo=1.0), time_col="when")
    wide = read_series(path, id_col="store", ds_col="when", value_col="sales")
    assert list(wide.columns) == ["n", "s"] and wide.index.name == "when"
    np.testing.assert_allclose(wide["s"].to_numpy(), np.arange(6.0) * 10)
    # with columns= naming channels of the file, the repeated times are the error (then their order)
    repeats = r"^data\.csv: 6 duplicate timestamps: 2021-01-01 00:00:00 at row 0 \(line 2\) and row 6 "
    with pytest.raises(DataValidationError, match=repeats + r"\(line 8\), .*not in increasing order"):
        read_series(path, time_col="when", columns=["sales"])
    # columns= naming series ids (a fitted model's channels, as predict passes them) had been
    # "requested columns not found: 'n', 's'; available columns: 'store', 'sales'"
    ids_asked = r"column 'store' tells 2 series apart, .* value_col='sales' to read one channel per series id"
    with pytest.raises(DataValidationError, match=ids_asked):
        read_series(path, time_col="when", columns=["n", "s"])
    # ids that are whole numbers: it had said "sort the rows", then "drop the duplicates"
    numbered = long.assign(store=long["store"].map({"n": 7, "s": 9}))
    with pytest.raises(DataValidationError, match=r"column 'store' tells 2 series apart.* one row per time$"):
        read_series(numbered, time_col="when")
    # a frame with its times as an index named like them reads as long form, as ds_col= names it
    framed = read_series(long.set_index("when"), id_col="store", ds_col="when", value_col="sales")
    pd.testing.assert_frame_equal(framed, wide, check_freq=False)
    with pytest.raises(DataValidationError, match=r"Pass id_col='store', ds_col='when'"):
        read_series(long.set_index("when"), time_col="when")
    # naming the id or value column says long form (time_col= had been asked for), and a time_col=
    # other than 'date' names its time column (it had been ignored there)
    with pytest.raises(DataValidationError, match="long-form data needs the columns 'store', 'ds' and 'sal"):
        read_series(path, id_col="store", value_col="sales")
    pd.testing.assert_frame_equal(read_series(path, id_col="store", time_col="when", value_col="sales"), wide)
    # series with different spans (8 rows over 6 times, under 1.5 a time): a text id column still
    # tells them apart (it had been "non-numeric columns: 'store'"); a number column would not
    partial = long[(long["store"] == "n") | (long["when"] < index[2])]
    with pytest.raises(DataValidationError, match="column 'store' tells 2 series apart"):
        read_series(partial, time_col="when")
    with pytest.raises(DataValidationError, match=r"^frame: 2 duplicate timestamps: .*not in increasing"):
        read_series(partial.assign(store=partial["store"].map({"n": 7, "s": 9})), time_col="when")


def test_a_wide_table_with_a_repeated_time_is_not_taken_for_long_form():
    """One repeated date in a wide file with a notes column had been read as long form by 'notes',
    and following the hint failed on the empty notes (or made one-row series of distinct ones)."""
    days = pd.date_range("2023-01-01", periods=30, freq="D")
    days = days.insert(10, days[10])  # one row twice
    notes = pd.Series([None] * 31, dtype=object)
    notes[[5, 20]] = ["holiday", "stocktake"]
    for text in (notes, pd.Series([f"note {i}" for i in range(31)]), np.arange(31) % 7):  # sparse,
        frame = pd.DataFrame({"date": days, "sales": np.arange(31.0), "notes": text})  # distinct, numbers
        with pytest.raises(DataValidationError) as raised:
            read_series(frame)
        assert "long form" not in str(raised.value), raised.value
    frame = pd.DataFrame({"date": days, "sales": np.arange(31.0)})
    with pytest.raises(DataValidationError, match="duplicate"):
        read_series(frame)
    # one hour written twice at a DST change beside a day/night column (helper-112): no panel
    hours = pd.date_range("2021-10-30 03:00", periods=48, freq="h")
    hours = hours.insert(23, hours[23])
    shifts = pd.DataFrame({"date": hours, "load": np.arange(49.0),
                           "shift": np.where(hours.hour < 12, "day", "night")})
    shifts.loc[24, "shift"] = "day" if shifts.loc[23, "shift"] == "night" else "night"
    with pytest.raises(DataValidationError, match="non-numeric columns: column 'shift'"):
        read_series(shifts)
    # a wide file whose channels are named unique_id and y, read by its time_col (helper-112)
    uid = pd.DataFrame({"timestamp": pd.date_range("2021", periods=48, freq="h"),
                        "unique_id": np.arange(48) / 2, "y": np.arange(48.0), "x": 1.0 + np.arange(48)})
    assert read_series(uid, time_col="timestamp", columns=["y", "x"]).shape == (48, 2)


def test_long_form_duplicate_pairs_are_listed():
    index = pd.date_range("2021-01-01", periods=4, freq="h")
    long = pd.DataFrame({"unique_id": ["a"] * 5, "ds": [*index, index[1]], "y": np.arange(5.0)})
    with pytest.raises(DataValidationError, match=r"repeat an \(unique_id, ds\) pair.*a @"):
        read_series(long)


def test_long_form_with_different_spans_points_to_read_panel():
    a = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2021", periods=6, freq="h")})
    b = pd.DataFrame({"unique_id": "b", "ds": pd.date_range("2021", periods=4, freq="h")})
    long = pd.concat([a, b]).assign(y=1.0)
    long["y"] = np.arange(len(long), dtype=float)
    with pytest.raises(DataValidationError, match=r"column 'b': 2 NaN.*read_panel"):
        read_series(long)


def _stores(skip_b: list[int], *, b_from: int = 0, n: int = 8) -> pd.DataFrame:
    """Two stores over n days: store b has no row on the days in skip_b nor before day b_from."""
    ds = pd.date_range("2024-01-01", periods=n, freq="D")
    a = pd.DataFrame({"store": "a", "day": ds, "sales": np.arange(n) + 10.0})
    keep = [d for d in range(b_from, n) if d not in skip_b]
    b = pd.DataFrame({"store": "b", "day": ds[keep], "sales": np.asarray(keep) * 2.0})
    return pd.concat([a, b], ignore_index=True)


@pytest.mark.parametrize(("fill", "day3"), [("zero", 0.0), ("ffill", 4.0), ("interpolate", 6.0)])
def test_long_form_fill_fills_a_day_one_series_has_no_row_for(tmp_path, fill, day3):
    """A day store b lacks while store a has it was a NaN after the pivot, not a missing row: fill=
    did nothing, and the read advised impute=."""
    path = write_csv(tmp_path, _stores([3]))
    with pytest.raises(DataValidationError, match=r"column 'b': 1 NaN, first at 2024-01-04"):
        read_series(path, id_col="store", time_col="day", value_col="sales")
    df = read_series(path, id_col="store", time_col="day", value_col="sales", fill=fill)
    assert df["b"].tolist() == [0.0, 2.0, 4.0, day3, 8.0, 10.0, 12.0, 14.0]
    assert df["a"].tolist() == list(np.arange(8) + 10.0)
    assert df.attrs["repairs"]["filled_values"] == 1 and df.attrs["repairs"]["fill"] == fill
    assert ("from_later_rows" in df.attrs["repairs"]) == (fill == "interpolate")


def test_long_form_fill_with_a_day_no_series_has_fills_each_series_on_its_own():
    long = _stores([3, 5])
    long = long[long["day"] != pd.Timestamp("2024-01-06")]  # day 5: no store has it; day 3: b lacks it
    df = read_series(long, id_col="store", time_col="day", value_col="sales", fill="ffill")
    assert df["b"].tolist() == [0.0, 2.0, 4.0, 4.0, 8.0, 8.0, 12.0, 14.0]
    assert df["a"].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0, 14.0, 16.0, 17.0]
    day = [int(t) for t in df.index.as_unit("ns").asi8]
    assert df.attrs["repairs"] == {"fill": "ffill", "filled_rows": 1, "filled_values": 3,
                                   "repaired_spans": {"a": [[day[5], day[5], 1]],
                                                      "b": [[day[3], day[3], 1], [day[5], day[5], 1]]}}


def test_long_form_fill_before_a_series_first_row_zero_fills_and_ffill_cannot():
    """A store not yet open: no row means nothing sold (zero); ffill and interpolate have no value
    before its first row, and those cells stay missing for impute=."""
    long = _stores([], b_from=3)
    kw = dict(id_col="store", time_col="day", value_col="sales")
    assert read_series(long, fill="zero", **kw)["b"].tolist()[:4] == [0.0, 0.0, 0.0, 6.0]
    for fill in ("ffill", "interpolate"):
        with pytest.raises(DataValidationError, match=r"column 'b': 3 NaN, first at 2024-01-01 .*impute="):
            read_series(long, fill=fill, **kw)
    df = read_series(long, fill="ffill", impute="zero", **kw)
    assert df["b"].tolist()[:4] == [0.0, 0.0, 0.0, 6.0]
    day = [int(t) for t in df.index.as_unit("ns").asi8]
    assert df.attrs["repairs"] == {"fill": "ffill", "filled_rows": 0, "filled_values": 0, "impute": "zero",
                                   "imputed_values": 3, "repaired_spans": {"b": [[day[0], day[2], 3]]}}


def test_long_form_no_row_hint_names_the_fill_or_impute_that_fills_it():
    """The hint on a NaN where a long-form series has no row had named impute= only, where fill= fills
    such cells too: without fill= it names the three fills and what each fills; after a fill= that
    left some (before the series' first value, and after its last for 'interpolate') it says so and
    names impute= and fill='zero'. Each piece of advice, followed, reads the data."""
    long = _stores([6], b_from=2, n=8)
    long = long[~((long["store"] == "b") & (long["day"] == pd.Timestamp("2024-01-08")))]  # b: days 2-5
    kw = dict(id_col="store", time_col="day", value_col="sales")
    tail = (", or keep only the span they share; read_panel keeps series with different spans apart for "
            "your own use)")
    advice = {
        None: "(a NaN where a series has no row at that time: a model reads its series on one grid, so give "
              "fill= (fill='zero' fills every such cell, where no row means nothing happened, e.g. a store "
              "closed that day; fill='ffill' those after the series' first value, fill='interpolate' those "
              "between two of its values) or impute=" + tail,
        "ffill": "(a NaN where a series has no row at a time before its first value, which fill='ffill' "
                 "cannot fill: a model reads its series on one grid, so give impute= as well (impute='ffill' "
                 "fills them backwards from that first value), fill='zero' if no row means nothing happened "
                 "(a store not yet open)" + tail,
        "interpolate": "(a NaN where a series has no row at a time before its first value or after its "
                       "last, which fill='interpolate' cannot fill: a model reads its series on one grid, "
                       "so give impute= as well (impute='interpolate' holds the nearest value), "
                       "fill='zero' if no row means nothing happened (a store not yet open, or "
                       "closed)" + tail,
    }
    for fill, nan in ((None, 4), ("ffill", 2), ("interpolate", 4)):
        with pytest.raises(DataValidationError) as err:
            read_series(long, fill=fill, **kw)
        assert str(err.value).startswith(f"frame: non-finite values: column 'b': {nan} NaN, first at "
                                         "2024-01-01 00:00:00 (no row for this series at that time)")
        assert str(err.value).endswith(advice[fill]), str(err.value)
    with pytest.warns(UserWarning, match="fill='zero' set 2 cells to 0"):  # after b's last row (day 5)
        assert read_series(long, fill="zero", **kw)["b"].tolist() == [0.0, 0.0, 4.0, 6.0, 8.0, 10.0, 0.0, 0.0]
    assert read_series(long, fill="ffill", impute="ffill", **kw)["b"].tolist() == [4.0, 4.0, 4.0, 6.0, 8.0,
                                                                                   10.0, 10.0, 10.0]
    assert read_series(long, fill="interpolate", impute="interpolate", **kw)["b"].tolist()[-3:] == [10.0] * 3
    repairs = read_series(long, impute="zero", **kw).attrs["repairs"]
    assert repairs["imputed_values"] == 4 and repairs["impute"] == "zero"
    day = pd.Timedelta("1D").value
    start = pd.Timestamp("2024-01-01").value
    assert repairs["repaired_spans"] == {"b": [[start, start + day, 2],  # days 0-1 and 6-7
                                               [start + 6 * day, start + 7 * day, 2]]}


def test_long_form_zero_fill_after_a_series_last_row_warns_and_keeps_the_zeros(tmp_path):
    """fill='zero' sets a series' cells after its last row to 0, as documented, but a store closed for
    good then sold nothing ever after: that had been done silently. One warning now names each such
    series, how many cells, after which time and row, and what to do instead; the values are those
    zeros still. A gap inside a series and the cells before its first row are no warning."""
    long = _stores([3])
    long = long[~((long["store"] == "b") & (long["day"] >= pd.Timestamp("2024-01-07")))]  # b closes
    path = write_csv(tmp_path, long)
    kw = dict(id_col="store", time_col="day", value_col="sales")
    with pytest.warns(UserWarning) as record:
        df = read_series(path, fill="zero", **kw)
    assert [str(w.message) for w in record] == [
        "data.csv: fill='zero' set 2 cells to 0 after the last row of their series, through 2024-01-08 "
        "00:00:00: series 'b': 2 cells after its last row at 2024-01-06 00:00:00 (row 12 (line 14)). If a "
        "series ended there (a store closed for good) rather than had nothing at those times, the zeros "
        "are made up and a model learns and forecasts from them: trim the data to end where the series "
        "ends, leave the series out (columns=[...] listing the others), or fill those cells another way "
        "(fill='ffill' carries its last value on; fill='interpolate' leaves them to impute=)"]
    assert record[0].filename == __file__  # the caller's line
    assert df["b"].tolist() == [0.0, 2.0, 4.0, 0.0, 8.0, 10.0, 0.0, 0.0]  # the values as before
    day, start = pd.Timedelta("1D").value, pd.Timestamp("2024-01-01").value
    assert df.attrs["repairs"] == {"fill": "zero", "filled_rows": 0, "filled_values": 3,  # each cell made up:
                                   "repaired_spans": {"b": [[start + 3 * day, start + 3 * day, 1],  # day 3,
                                                            [start + 6 * day, start + 7 * day, 2]]}}  # 6-7
    assert pd.read_csv(path).iloc[12].tolist() == ["b", "2024-01-06", 10.0]  # the row named
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a gap inside b, or b opening late: zeros, no warning
        assert read_series(_stores([3]), fill="zero", **kw)["b"].tolist()[3] == 0.0
        assert read_series(_stores([], b_from=3), fill="zero", **kw)["b"].tolist()[:3] == [0.0] * 3
        assert read_series(long, fill="ffill", **kw)["b"].tolist()[-2:] == [10.0, 10.0]
    shut = pd.concat([long] + [_stores([], n=8).query("store == 'b'").assign(store=f"s{k}").iloc[: 7 - k]
                               for k in range(6)])  # seven series end early: five named, then a count
    with pytest.warns(UserWarning, match=r"set 23 cells to 0 .*: series 'b': 2 cells .*, series 's3': "
                                         r"4 cells after its last row at 2024-01-04 00:00:00 \(row 34\), "
                                         r"\.\.\. \(7 in all\)\. If a series"):
        read_series(shut, fill="zero", **kw)


def test_long_form_fill_leaves_a_row_with_an_empty_value_to_impute():
    long = _stores([3])
    long.loc[(long["store"] == "b") & (long["day"] == "2024-01-06"), "sales"] = np.nan  # a row, no value
    kw = dict(id_col="store", time_col="day", value_col="sales")
    with pytest.raises(DataValidationError, match=r"column 'b': 1 NaN, first at 2024-01-06 .*\(row 12\)"):
        read_series(long, fill="zero", **kw)
    df = read_series(long, fill="zero", impute="ffill", **kw)
    assert df["b"].tolist() == [0.0, 2.0, 4.0, 0.0, 8.0, 8.0, 12.0, 14.0]


def test_read_panel_names_the_series_and_row_of_a_text_value(tmp_path):
    """One text value made the file's y column text for every series: read_panel blamed the first
    (clean) series, without a row."""
    ds = pd.date_range("2024-01-01", periods=50, freq="h")
    long = pd.concat([pd.DataFrame({"unique_id": i, "ds": ds, "y": np.arange(50.0)}) for i in "ab"],
                     ignore_index=True).astype({"y": object})
    long.loc[62, "y"] = "oops"
    path = write_csv(tmp_path, long)
    with pytest.raises(DataValidationError, match=r"data.csv \[unique_id=b\]: non-numeric columns: column "
                       r"'y' \(1 of 50 values not numbers, e.g. row 62 \(line 64\): 'oops'\)"):
        read_panel(path)
    with pytest.raises(DataValidationError, match=r"frame \[unique_id=b\]: .* row 62: 'oops'"):
        read_panel(long)  # a frame of the same rows, as pd.read_csv gives it
    numbers_as_text = long.assign(y=long["y"].astype(str).replace("oops", "1.0"))
    with pytest.raises(DataValidationError, match=r"\[unique_id=a\]: .*convert it with pd.to_numeric first"):
        read_panel(numbers_as_text)  # all text in a frame: refused as read_series refuses it
    long.loc[62, "y"] = np.nan  # and read_series' options apply to each series
    panel = read_panel(write_csv(tmp_path, long, "gap.csv"), impute="interpolate")
    assert panel["b"]["y"].iloc[12] == 12.0 and panel["a"]["y"].tolist() == list(np.arange(50.0))
    with pytest.raises(TypeError, match="unexpected keyword argument 'time_col'"):  # ds_col names it here
        read_panel(path, time_col="ds")


def test_long_form_ids_that_differ_only_as_text_are_refused():
    """read_panel kept one of 1 and "1" (the other's rows lost); read_series spliced them together."""
    index = pd.date_range("2021-01-01", periods=3, freq="h")
    long = pd.DataFrame({"unique_id": [1, 1, 1, "1", "1", "1"], "ds": [*index, *index], "y": np.arange(6.0)})
    for read in (read_series, read_panel):
        with pytest.raises(DataValidationError, match=r"different ids with the same text: 1, '1'; ids are"):
            read(long)
    assert list(read_series(long.assign(unique_id=["1"] * 3 + ["2"] * 3)).columns) == ["1", "2"]
    # 1.0 beside them hid the clash from a count of distinct values (1 == 1.0)
    index6 = pd.date_range("2021-01-01", periods=6, freq="h")
    mixed = pd.DataFrame({"unique_id": [1.0] * 6 + [1] * 3 + ["1"] * 3, "ds": [*index6, *index6],
                          "y": np.arange(12.0)})
    with pytest.raises(DataValidationError, match=r"same text: 1, '1'"):
        read_series(mixed)


def test_long_form_selection_leaves_the_other_series_unread():
    """A bad value or time in a series left out blocked the read of the ones selected."""
    index = pd.date_range("2021-01-01", periods=3, freq="h")
    long = pd.DataFrame({"unique_id": ["a"] * 3 + ["b"] * 3, "ds": [*index, *index.astype(str)[:2], "oops"],
                         "y": [1.0, 2.0, 3.0, 4.0, "x", 6.0]})
    assert read_series(long, columns=["a"])["a"].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(DataValidationError, match=r"time column 'ds' cannot be parsed.*row 5: 'oops'"):
        read_series(long, columns=["b"])  # named by its row in the whole frame


def test_long_form_selection_of_a_file_reads_the_selected_values_as_numbers(tmp_path):
    path = tmp_path / "long.csv"  # the text of series b makes the whole column text to pandas
    path.write_text("unique_id,ds,y\na,2021-01-01 00:00,1\na,2021-01-01 01:00,2\n"
                    "b,2021-01-01 00:00,oops\nb,2021-01-01 01:00,3\n")
    assert read_series(path, columns=["a"])["a"].tolist() == [1.0, 2.0]
    with pytest.raises(DataValidationError, match=r"row 2 \(line 4\): 'oops'"):
        read_series(path, columns=["b"])


def test_long_form_selection_takes_the_times_of_the_selected_series_only():
    """A series left out added its timestamps as missing values of the selected ones."""
    a = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2021", periods=5, freq="h"), "y": 1.0})
    b = pd.DataFrame({"unique_id": "b", "ds": pd.date_range("2021", periods=6, freq="h"), "y": 2.0})
    long = pd.concat([a, b, a.assign(unique_id="c")])
    assert read_series(long, columns=["a"]).shape == (5, 1)
    assert list(read_series(long, columns=["c", "a"]).columns) == ["c", "a"]
    # the ids left out are recorded (the command line's predict names them in a warning)
    assert read_series(long, columns=["c", "a"]).attrs["ids_left_out"] == ["b"]
    assert "ids_left_out" not in read_series(long, impute="ffill").attrs  # every series read
    with pytest.raises(DataValidationError, match=r"requested series not found: 'zz'; the ids in "
                                                  r"'unique_id' are 'a', 'b', 'c'"):
        read_series(long, columns=["a", "zz"])
    with pytest.raises(DataValidationError, match=r"not found: 'z0', 'z1', 'z2', 'z3', 'z4', \.\.\. \(198 in "
                                                  r"all\); the ids"):  # not a 2,681-character line
        read_series(long, columns=["a", *(f"z{i}" for i in range(198))])
    twice = pd.concat([long, a.iloc[[1]]]).reset_index(drop=True)  # rows 1 and 16 repeat a pair
    with pytest.raises(DataValidationError, match=r"a @ 2021-01-01 01:00:00 \(row 1\), a @ .*\(row 16\)"):
        read_series(twice, columns=["a"])


def test_read_panel_keeps_series_apart():
    hourly = pd.DataFrame(
        {"unique_id": "h", "ds": pd.date_range("2021", periods=5, freq="h"), "y": 1.0}
    )
    daily = pd.DataFrame(
        {"unique_id": "d", "ds": pd.date_range("2021", periods=3, freq="D"), "y": 2.0}
    )
    hourly["y"] += np.arange(5)
    daily["y"] += np.arange(3)
    panel = read_panel(pd.concat([hourly, daily]))
    assert sorted(panel) == ["d", "h"]
    assert panel["h"].index.freqstr == "h" and len(panel["h"]) == 5
    assert panel["d"].index.freqstr == "D" and len(panel["d"]) == 3
    assert list(panel["d"].columns) == ["y"]
    # its times as the index named ds, as read_series takes them (helper-126: "missing ['ds']")
    indexed = read_panel(pd.concat([hourly, daily]).set_index("ds"))
    assert sorted(indexed) == ["d", "h"]
    for key in panel:
        pd.testing.assert_frame_equal(indexed[key], panel[key])


LONG_CSV = (  # line 5 (row 3): series B has an empty value; 03:00 is missing for both series
    "unique_id,ds,y\n"
    "A,2020-01-01 00:00,1\nB,2020-01-01 00:00,1\n"
    "A,2020-01-01 01:00,2\nB,2020-01-01 01:00,\n"
    "A,2020-01-01 02:00,3\nB,2020-01-01 02:00,3\n"
    "A,2020-01-01 04:00,4\nB,2020-01-01 04:00,4\n"
)


def test_long_form_errors_name_the_rows_of_the_file(tmp_path):
    path = write_text(tmp_path, LONG_CSV)
    with pytest.raises(DataValidationError, match=r"missing after 2020-01-01 02:00:00 \(row 4 \(line 6\)\)"):
        read_series(path)
    with pytest.raises(DataValidationError, match=r"column 'B': 1 NaN, .* \(row 3 \(line 5\)\)\. Pass"):
        read_series(path, fill="ffill")
    with pytest.raises(DataValidationError) as err:
        read_panel(path, fill="ffill")
    assert str(err.value).startswith("data.csv [unique_id=B]: non-finite values: column 'y': 1 NaN, first "
                                     "at 2020-01-01 01:00:00 (row 3 (line 5))")
    frame = pd.read_csv(path)  # a frame: its row positions
    with pytest.raises(DataValidationError, match=r"unique_id=A\]: 1 timestamp missing.*\(row 4\)"):
        read_panel(frame)
    with pytest.raises(DataValidationError, match=r"no row for this series at that time.*read_panel"):
        read_series(frame.drop(index=1), fill="ffill")  # B has no row at 00:00, none before it to copy
    filled = read_series(frame.drop(index=3), fill="ffill")  # B has no row at 01:00: a missing row
    assert filled["B"].tolist() == [1.0, 1.0, 3.0, 3.0, 4.0]


def test_read_panel_names_the_series_in_errors():
    bad = pd.DataFrame(
        {"unique_id": "z", "ds": pd.date_range("2021", periods=4, freq="h"), "y": np.nan}
    )
    with pytest.raises(DataValidationError, match=r"unique_id=z.*NaN"):
        read_panel(bad)


@pytest.mark.parametrize("reader", [read_panel, read_series])
def test_long_form_row_without_an_id_is_an_error_not_dropped(tmp_path, reader):
    # line 4 (row 2) has no id: read_panel used to drop it, read_series made it a series "nan"
    path = tmp_path / "ids.csv"
    path.write_text(
        "unique_id,ds,y\nA,2020-01-01 00:00,1\nA,2020-01-01 01:00,2\n,2020-01-01 02:00,3\n"
    )
    with pytest.raises(DataValidationError, match=r"'unique_id' is empty at row 2 \(line 4\)"):
        reader(path)


@pytest.mark.parametrize("reader", [read_panel, read_series])
def test_long_form_ids_that_look_like_missing_values_are_kept(tmp_path, reader):
    path = tmp_path / "countries.csv"  # "NA" is Namibia, "nan" a name: ids, not missing values
    rows = [f"{c},2020-01-01 0{h}:00,{h}" for c in ("DE", "NA", "nan") for h in range(3)]
    path.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    read = reader(path)
    assert sorted(read) == ["DE", "NA", "nan"]
    path.write_text(path.read_text() + ",2020-01-01 03:00,4\n")  # row 9 (line 11): no id
    with pytest.raises(DataValidationError, match=r"'unique_id' is empty at row 9 \(line 11\)"):
        reader(path)


@pytest.mark.parametrize("reader", [read_panel, read_series])
def test_long_form_ids_that_look_like_numbers_are_kept_as_written(tmp_path, reader):
    """All-numeric ids were read as numbers: '001' became '1', and '7' and '07' one series."""
    path = tmp_path / "ids.csv"
    rows = [f"{c},2020-01-01 0{h}:00,{h}" for c in ("001", "010", "07", "7", "1e3") for h in range(3)]
    path.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    assert sorted(reader(path)) == ["001", "010", "07", "1e3", "7"]


def test_non_ascii_header_names_are_kept(tmp_path):
    frame = hourly_frame(12, 2).rename(columns={"x0": "SWDR (W/m\ufffd)", "x1": "T (°C)"})
    df = read_series(write_csv(tmp_path, frame))
    assert list(df.columns) == ["SWDR (W/m\ufffd)", "T (°C)"]


# ---------------------------------------------------------------------------------------------
# validation: one test per error case


def test_unparsable_dates_report_rows_and_raw_values(tmp_path):
    frame = hourly_frame(10, 1)
    frame.loc[3, "date"] = "2021-01-01 03:0O:00"
    frame.loc[7, "date"] = "yesterday"
    with pytest.raises(DataValidationError) as err:
        read_series(write_csv(tmp_path, frame))
    msg = str(err.value)
    assert "2 of 10 values of time column 'date'" in msg
    assert "row 3 (line 5): '2021-01-01 03:0O:00'" in msg
    assert "row 7 (line 9): 'yesterday'" in msg
    assert "date_format=" in msg


def test_missing_timestamps_are_rejected():
    frame = hourly_frame(6, 1)
    frame.loc[2, "date"] = None
    with pytest.raises(DataValidationError, match=r"cannot be parsed|missing timestamp"):
        read_series(frame)


def test_mixed_utc_offsets_are_rejected(tmp_path):
    text = "date,v\n2021-01-01 00:00:00+01:00,1\n2021-01-01 01:00:00+01:00,2\n"
    text += "2021-01-01 03:00:00+02:00,3\n"
    with pytest.raises(DataValidationError) as err:
        read_series(write_text(tmp_path, text))
    msg = str(err.value)
    assert "mixes time zones" in msg
    assert "+01:00 first at row 0" in msg and "+02:00 first at row 2" in msg
    assert "Pass tz= with the zone" in msg
    # with a zone they are instants on its calendar: local time across a DST change
    berlin = pd.date_range("2021-03-27 22:00", periods=8, freq="h", tz="Europe/Berlin")
    path = write_csv(tmp_path, pd.DataFrame({"v": np.arange(8.0)}, index=berlin.rename("date")).reset_index())
    assert "+01:00,0.0" in path.read_text() and "+02:00,7.0" in path.read_text()
    read = read_series(path, tz="Europe/Berlin")
    assert read.index.equals(berlin) and read.index.freqstr == "h"
    assert read_series(path, tz="UTC").index.equals(berlin.tz_convert("UTC"))


def test_naive_and_aware_timestamps_are_rejected(tmp_path):
    text = "date,v\n2021-01-01 00:00:00,1\n2021-01-01 01:00:00Z,2\n2021-01-01 02:00:00,3\n"
    with pytest.raises(DataValidationError) as err:
        read_series(write_text(tmp_path, text))
    msg = str(err.value)
    assert "without a time zone" in msg and "row 1 (line 3): '2021-01-01 01:00:00Z'" in msg


def test_zone_detection_looks_at_endings_first_and_agrees_with_the_full_pattern():
    """_zone_aware runs the clock-time-plus-designator pattern only on rows whose last six
    characters can hold a designator; it must flag exactly the rows the pattern alone flags."""
    from tsmamba.data import _TZ_SUFFIX, _zone_aware

    texts = [
        "2021-01-01 00:00:00", "2021-01-01 00:00:00Z", "2021-01-01T00:00:00+01:00",
        "2021-01-01 00:00:00-0500", "2021-01-01 00:00+05", "2021-01-01 00:00:00.123456789Z",
        "2021-01-01 00:00:00.5 +01:00  ", "2021-01-01", "2021-01-01Z", "2021-01-01 +01:00",
        "1:00Z", "2021-01-01 00:00:00z", "2021-01-01 00:00:00 UTC", "", "   ", "Z", "-01",
        "2021-01-01 00:00:00+1", "2021-01-01 00:00:00+01:0", "12:30 -07:00\t",
    ]
    expected = np.array([_TZ_SUFFIX.search(text) is not None for text in texts])
    assert expected.sum() == 8  # both kinds are present
    np.testing.assert_array_equal(_zone_aware(np.array(texts, dtype=object)), expected)


def test_naive_and_aware_datetime_objects_are_rejected():
    frame = pd.DataFrame(
        {
            "date": pd.Series(
                [pd.Timestamp("2021-01-01"), pd.Timestamp("2021-01-01 01:00", tz="UTC")],
                dtype=object,
            ),
            "v": [1.0, 2.0],
        }
    )
    with pytest.raises(DataValidationError, match="without a time zone"):
        read_series(frame)


def test_one_time_zone_is_kept():
    index = pd.date_range("2021-03-27", periods=72, freq="h", tz="Europe/Berlin")  # DST change
    df = read_series(pd.DataFrame({"v": np.arange(72.0)}, index=index))
    assert str(df.index.tz) == "Europe/Berlin"
    assert df.index.freqstr == "h"


def test_unsorted_timestamps_error_unless_sort(tmp_path):
    frame = hourly_frame(8, 1)
    frame = frame.iloc[[0, 1, 2, 4, 3, 5, 6, 7]].reset_index(drop=True)
    path = write_csv(tmp_path, frame)
    with pytest.raises(DataValidationError) as err:
        read_series(path)
    msg = str(err.value)
    assert "not in increasing order" in msg
    assert "row 4 (line 6) at 2021-01-01 03:00:00 follows row 3 (line 5) at 2021-01-01 04:00" in msg
    assert "time goes back at 1 place in all" in msg
    assert "sort=True" in msg
    df = read_series(path, sort=True)
    assert df.index.is_monotonic_increasing and df.index.freqstr == "h"
    np.testing.assert_allclose(df["x0"].to_numpy(), hourly_frame(8, 1)["x0"].to_numpy())


def test_duplicate_timestamps_are_listed(tmp_path):
    frame = hourly_frame(8, 1)
    frame = pd.concat([frame.iloc[:5], frame.iloc[4:]]).reset_index(drop=True)
    with pytest.raises(DataValidationError) as err:
        read_series(write_csv(tmp_path, frame))
    msg = str(err.value)
    assert "1 duplicate timestamp: 2021-01-01 04:00:00 at row 4 (line 6) and row 5" in msg
    assert "aggregate" in msg


def test_a_duplicate_apart_from_its_twin_is_named_before_the_order(tmp_path):
    """A repeated timestamp not next to its twin had been reported as unsorted rows: the user
    sorted them, and only then heard of the duplicate. It is named first, with both rows, and the
    order after it (in one message); read_series and read_panel share the check."""
    frame = hourly_frame(8, 1)
    later = pd.concat([frame, frame.iloc[[2]]], ignore_index=True)  # row 8 repeats row 2's 02:00
    with pytest.raises(DataValidationError) as err:
        read_series(write_csv(tmp_path, later))
    assert str(err.value) == (
        "data.csv: 1 duplicate timestamp: 2021-01-01 02:00:00 at row 2 (line 4) and row 8 (line 10). Drop "
        "or aggregate the duplicate rows (keep one row per timestamp) before loading. The timestamps are "
        "not in increasing order either: row 8 (line 10) at 2021-01-01 02:00:00 follows row 7 (line 9) at "
        "2021-01-01 07:00:00; time goes back at 1 place in all. Sort the data by time, or pass sort=True to "
        "sort it on load")
    earlier = pd.concat([frame.iloc[[5]], frame], ignore_index=True)  # the repeat first
    with pytest.raises(DataValidationError, match=r"^frame: 1 duplicate timestamp: 2021-01-01 05:00:00 at "
                       r"row 0 and row 6\. Drop or aggregate"):
        read_series(earlier)
    # strict=False keeps repeats: the order is the error, and sort=True reads the rows
    with pytest.raises(DataValidationError, match=r"^frame: timestamps are not in increasing order"):
        read_series(later, strict=False)
    with pytest.warns(UserWarning, match=r"1 duplicate timestamp: 2021-01-01 02:00:00 at row 2 and row 8"):
        assert len(read_series(later, strict=False, sort=True)) == 9
    # long form kept apart: the series, the time and both rows of the file, whatever the order
    ds = pd.date_range("2021-01-01", periods=6, freq="h")
    long = pd.concat([pd.DataFrame({"unique_id": i, "ds": ds, "y": np.arange(6.0)}) for i in "ab"])
    for rows, pair in (([*range(12), 7], "row 7 (line 9) and row 12 (line 14)"),
                       ([7, *range(12)], "row 0 (line 2) and row 8 (line 10)")):
        path = write_csv(tmp_path, long.iloc[rows], "panel.csv")
        with pytest.raises(DataValidationError, match=re.escape(
                f"panel.csv [unique_id=b]: 1 duplicate timestamp: 2021-01-01 01:00:00 at {pair}. Drop")):
            read_panel(path)
    panel = read_panel(write_csv(tmp_path, long.iloc[[*range(6, 12), *range(6)]], "sorted.csv"))
    assert sorted(panel) == ["a", "b"]  # series one after the other: each in order, no repeat


def test_duplicates_and_gaps_kept_when_not_strict():
    frame = hourly_frame(10, 1)
    frame = pd.concat([frame.iloc[:5], frame.iloc[4:6], frame.iloc[8:]]).reset_index(drop=True)
    with pytest.warns(UserWarning, match="kept as published"):
        df = read_series(frame, strict=False)
    assert len(df) == len(frame)
    assert df.index.freq is None and df.attrs["freq"] == "h"
    assert len(df.attrs["irregular"]) == 2


def test_gaps_are_counted_and_listed(tmp_path):
    frame = hourly_frame(24, 1).drop(index=[5, 6, 7, 15]).reset_index(drop=True)
    with pytest.raises(DataValidationError) as err:
        read_series(write_csv(tmp_path, frame))
    msg = str(err.value)
    assert "4 timestamps missing from the 'h' grid in 2 gaps" in msg
    assert "3 missing after 2021-01-01 04:00:00 (row 4 (line 6)), from 2021-01-01 05:00:00" in msg
    assert "Pass fill='ffill', fill='interpolate' or fill='zero'" in msg


@pytest.mark.parametrize("fill, expected", [("ffill", [4.0, 4.0]), ("interpolate", [5.0, 6.0]),
                                            ("zero", [0.0, 0.0])])
def test_gaps_filled_on_request(fill, expected):
    frame = hourly_frame(12, 1)
    frame["x0"] = np.arange(1.0, 13.0)
    frame = frame.drop(index=[4, 5]).reset_index(drop=True)
    df = read_series(frame, fill=fill)
    assert len(df) == 12 and df.index.freqstr == "h"
    assert df["x0"].iloc[4:6].tolist() == expected
    assert df["x0"].drop(df.index[4:6]).tolist() == [1.0, 2.0, 3.0, 4.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0]


def test_gap_fill_does_not_touch_nan_values():
    frame = hourly_frame(8, 1)
    frame.loc[1, "x0"] = np.nan
    frame = frame.drop(index=[5]).reset_index(drop=True)
    with pytest.raises(DataValidationError, match="NaN"):
        read_series(frame, fill="ffill")


def seconds(stamps: list[str]) -> pd.DatetimeIndex:
    """Times stored in seconds (pandas 2 parses text only into nanoseconds' years)."""
    return pd.DatetimeIndex(np.array(stamps, dtype="datetime64[s]"))


def test_a_mistyped_year_beyond_nanoseconds_is_named(tmp_path):
    """Year 3016 parses (pandas stores it in microseconds) and had failed later with pandas'
    OutOfBoundsDatetime (a traceback from the CLI); it is a DataValidationError naming the row."""
    text = "date,v\n2016-01-01 00:00,1\n2016-01-01 01:00,2\n3016-01-01 02:00,3\n"
    with pytest.raises(DataValidationError, match=r"data.csv: (time column 'date' has 1 timestamp outside "
                       r"1677-09-21 \.\. 2262-04-11, .*check the year: first 3016-01-01 02:00:00 at row 2 "
                       r"\(line 4\)|1 of 3 values of time column 'date' cannot be parsed as dates: row 2 "
                       r"\(line 4\): '3016-01-01 02:00')"):  # pandas 2 parses no such year
        read_series(write_text(tmp_path, text))
    frame = pd.DataFrame({"v": [1.0, 2.0]}, index=seconds(["1500-01-01", "1500-01-02"]))
    with pytest.raises(DataValidationError, match="has 2 timestamps outside 1677-09-21"):
        read_series(frame)
    checked = [seconds(["1500-01-01", "2016-07-01", "3016-07-01"])]
    if int(pd.__version__.split(".")[0]) >= 3:  # pandas 2 builds no such range (an internal assertion)
        # instants in range whose wall-clock times (which calendar phases count) are not
        near = pd.date_range(end="2262-04-11 23:00", periods=48, freq="h", tz="UTC")
        near = near.tz_convert("Europe/Berlin")
        with pytest.raises(DataValidationError, match=r"has 2 timestamps outside .*: first 2262-04-12 "
                                                      r"00:00:00\+02:00 at row 46"):
            read_series(pd.DataFrame({"v": np.arange(48.0)}, index=near))
        checked += [near, pd.DatetimeIndex(["2262-04-11 23:00-02:00", "2262-04-11 21:00-02:00"], tz="UTC")]
    for times in checked:  # one timestamp (a stream's check): the same verdicts as the index's
        outside = set(outside_ns_range(times))
        assert [not in_ns_range(ts) for ts in times] == [i in outside for i in range(len(times))]


@pytest.mark.parametrize("freq", ["2B", "3B", "4B", "SMS", "SME"])
def test_grids_pandas_does_not_infer_are_found_with_their_gaps(freq, tmp_path):
    """Every k-th business day had been read as days with weekend 'gaps' (whose fill inserted
    weekend rows), half months as no frequency at all (the advice: resample to 14 days)."""
    index = pd.date_range("2021-01-01", periods=60, freq=freq, name="date")
    frame = pd.DataFrame({"date": index, "x": np.arange(1.0, 61.0)})
    assert read_series(write_csv(tmp_path, frame)).attrs["freq"] == freq
    holed = read_series(frame.drop(index=[10, 11, 30]), fill="zero")
    assert holed.index.equals(pd.DatetimeIndex(index, freq=holed.index.freq))
    assert holed["x"].tolist() == [0.0 if i in (10, 11, 30) else i + 1.0 for i in range(60)]


def test_repairs_record_what_was_made_from_later_rows():
    """attrs['repairs'] counts, per column, the values made from a later row, once each: an
    inserted row that interpolation left NaN had been counted by fill= and again by impute=,
    and a trailing one forward-filled from earlier counted as from later."""
    hours = pd.date_range("2021-01-01", periods=200, freq="h")
    frame = pd.DataFrame({"a": np.arange(200.0), "b": np.arange(200.0)}, index=hours)
    leading = frame.assign(b=np.where(np.arange(200) <= 10, np.nan, frame["b"])).drop(hours[5])
    repairs = read_series(leading, fill="interpolate", impute="interpolate").attrs["repairs"]
    assert {k: v for k, v in repairs.items() if k not in ("from_later_spans", "repaired_spans")} == {
        "fill": "interpolate", "filled_rows": 1, "impute": "interpolate", "imputed_values": 11,
        "from_later_rows": {"a": 1, "b": 11}}
    start, last, after, count = repairs["from_later_spans"]["b"][0]
    assert (pd.Timestamp(start), pd.Timestamp(last), pd.Timestamp(after), count) == (
        hours[0], hours[10], hours[11], 11)  # each made from row 11 or before it
    trailing = frame.assign(b=np.where(np.arange(200) >= 150, np.nan, frame["b"])).drop(hours[160])
    repairs = read_series(trailing, fill="interpolate", impute="ffill").attrs["repairs"]
    assert repairs["from_later_rows"] == {"a": 1} and repairs["imputed_values"] == 50
    assert "repairs" not in read_series(frame).attrs


def test_repairs_record_every_filled_and_imputed_cell_so_a_backtest_can_leave_them_out():
    """attrs['repairs'] had counted the cells fill= and impute= made up but not said which, so a
    backtest scored forecasts against them (a store not yet open, zero-filled, as if it had sold
    nothing). repaired_spans names them per column, by time: a slice or a column selection of the
    frame finds its own, and two frames read alike still join (lists of ints, not arrays)."""
    from tsmamba.data import repaired_cells

    long = _stores([5], b_from=3)  # store b opens on day 3 and has no row on day 5
    long.loc[(long["store"] == "a") & (long["day"] == "2024-01-07"), "sales"] = np.nan  # a row, no value
    kw = dict(id_col="store", time_col="day", value_col="sales")
    df = read_series(long, fill="ffill", impute="zero", **kw)
    made = np.zeros((8, 2), dtype=bool)
    made[6, 0] = True  # a's empty value, imputed
    made[[0, 1, 2, 5], 1] = True  # b before its first row (imputed) and on day 5 (filled)
    np.testing.assert_array_equal(repaired_cells(df.attrs["repairs"], df.index, ["a", "b"]), made)
    day = [int(t) for t in df.index.as_unit("ns").asi8]
    assert df.attrs["repairs"]["repaired_spans"] == {"a": [[day[6], day[6], 1]],
                                                     "b": [[day[0], day[2], 3], [day[5], day[5], 1]]}
    part = df.iloc[2:7][["b"]]  # attrs kept: its cells found by time
    np.testing.assert_array_equal(repaired_cells(part.attrs["repairs"], part.index, ["b"]), made[2:7, [1]])
    assert repaired_cells(read_series(long[long["store"] == "a"].fillna(1.0), **kw).attrs.get("repairs"),
                          df.index, ["a"]) is None  # nothing repaired
    again = read_series(long, fill="ffill", impute="zero", **kw)
    assert pd.concat([df, again]).attrs["repairs"] == df.attrs["repairs"]  # arrays had raised ValueError

    hours = pd.date_range("2021-01-01", periods=12, freq="h", tz="Europe/Paris")
    wide = pd.DataFrame({"x": np.arange(12.0), "y": np.arange(12.0)}, index=hours).drop(hours[[4, 5]])
    wide.iloc[8, 1] = np.nan  # hour 10 of y
    read = read_series(wide, fill="interpolate", impute="ffill")
    made = np.zeros((12, 2), dtype=bool)
    made[[4, 5]] = True  # the inserted rows, every column
    made[10, 1] = True
    np.testing.assert_array_equal(repaired_cells(read.attrs["repairs"], read.index, ["x", "y"]), made)
    with pytest.raises(DataValidationError, match=r"records repairs \({'imputed_values': 3}\) without"):
        repaired_cells({"impute": "zero", "imputed_values": 3}, read.index, ["x", "y"])


@pytest.mark.parametrize("impute, made, latest", [("ffill", 3, 43), ("zero", 2, 43), ("interpolate", 3, 43)])
def test_a_repair_made_from_another_repair_keeps_its_latest_source(impute, made, latest):
    """Rows 40 and 41 missing and b NaN at row 42: fill='interpolate' draws the inserted rows from row
    39 to row 43, past the NaN row; ffill copies row 41's value into row 42. All read row 43 (the
    inserted rows had been recorded as made from row 42, and the copy as made from no later row,
    so a backtest from row 42 saw row 43 without a warning; helper-173)."""
    hours = pd.date_range("2021-01-01", periods=80, freq="h", name="date")
    frame = pd.DataFrame({"a": np.arange(80.0), "b": 2 * np.arange(80.0)}, index=hours)
    frame.loc[hours[43], "b"] = 500.0
    holed = frame.drop(hours[[40, 41]])
    holed.loc[hours[42], "b"] = np.nan
    read = read_series(holed, fill="interpolate", impute=impute)
    np.testing.assert_allclose(read["b"].iloc[40:42], [78 + (500 - 78) / 4, 78 + (500 - 78) / 2])
    repairs = read.attrs["repairs"]
    assert repairs["from_later_rows"] == {"a": 2, "b": made}
    (start, last, after, count), = repairs["from_later_spans"]["b"]
    assert (pd.Timestamp(start), pd.Timestamp(last), count) == (hours[40], hours[39 + made], made)
    assert pd.Timestamp(after) == hours[latest]  # the latest row any of them was made from
    (_, _, after_a, _), = repairs["from_later_spans"]["a"]
    assert pd.Timestamp(after_a) == hours[42]  # a has a value at row 42: its inserted rows read that


def test_twice_weekly_rows_are_no_business_days_with_gaps():
    """Monday and Thursday rows: 80 of a 199-row business-day grid had been read as 'B' with 119
    gaps (and fill='zero' inserted them); a grid mostly of gaps is no grid."""
    weeks = pd.date_range("2021-01-04", periods=40, freq="W-MON")
    stamps = weeks.append(weeks + pd.Timedelta(days=3)).sort_values()
    frame = pd.DataFrame({"x": np.arange(80.0)}, index=stamps)
    with pytest.raises(DataValidationError, match="no regular frequency can be inferred"):
        read_series(frame, fill="zero")


def test_no_inferable_frequency(tmp_path):
    stamps = ["2021-01-01 00:00", "2021-01-01 00:07", "2021-01-01 01:00", "2021-01-01 01:31"]
    text = "date,v\n" + "".join(f"{s},{i}\n" for i, s in enumerate(stamps))
    with pytest.raises(DataValidationError, match=r"no regular frequency can be inferred.*"
                       r"Resample the data to a fixed step \(e\.g\. df\.resample\('7min'\)\.mean\(\)\)"):
        read_series(write_text(tmp_path, text))  # the example was 'h' whatever the data
    mid_month = pd.date_range("2010-01-01", periods=30, freq="MS") + pd.Timedelta(days=14)
    text = "date,v\n" + "".join(f"{s.date()},{i}\n" for i, s in enumerate(mid_month))
    with pytest.raises(DataValidationError, match="Stamp each row at its month's start or end and pass"):
        read_series(write_text(tmp_path, text))
    four_weekly = pd.date_range("2010-01-01", periods=30, freq="28D").append(pd.DatetimeIndex(["2012-04-21"]))
    text = "date,v\n" + "".join(f"{s.date()},{i}\n" for i, s in enumerate(four_weekly))
    with pytest.raises(DataValidationError, match=r"df\.resample\('28D'\)"):  # not month advice
        read_series(write_text(tmp_path, text))


def test_nan_and_inf_report_column_count_and_first_timestamp(tmp_path):
    frame = hourly_frame(12, 2)
    frame.loc[[3, 8], "x1"] = np.nan
    frame.loc[5, "x1"] = np.inf
    frame.loc[9, "x0"] = -np.inf
    with pytest.raises(DataValidationError) as err:
        read_series(write_csv(tmp_path, frame))
    msg = str(err.value)
    assert "column 'x1': 2 NaN, 1 ±inf, first at 2021-01-01 03:00:00 (row 3 (line 5))" in msg
    assert "column 'x0': 1 ±inf, first at 2021-01-01 09:00:00" in msg
    assert "impute=" in msg
    frame = hourly_frame(12, 2)
    frame.loc[4, "x0"] = np.inf  # infinity alone, no NaN anywhere
    with pytest.raises(DataValidationError, match=r"column 'x0': 1 ±inf, first at 2021-01-01 04:00:00"):
        read_series(write_csv(tmp_path, frame))


@pytest.mark.parametrize(
    ("how", "expected"),
    [("ffill", [2.0, 2.0, 2.0]), ("interpolate", [2.0, 3.0, 4.0]), ("zero", [2.0, 0.0, 0.0])],
)
def test_impute_on_request(how, expected):
    frame = hourly_frame(6, 1)
    frame["x0"] = [0.0, 1.0, 2.0, np.nan, np.inf, 5.0]
    df = read_series(frame, impute=how)
    assert df["x0"].iloc[2:5].tolist() == expected
    assert np.isfinite(df.to_numpy()).all()


def test_impute_fills_leading_values():
    frame = hourly_frame(4, 1)
    frame["x0"] = [np.nan, 1.0, 2.0, 3.0]
    assert read_series(frame, impute="ffill")["x0"].iloc[0] == 1.0
    assert read_series(frame, impute="interpolate")["x0"].iloc[0] == 1.0


def test_integers_beyond_64_bits_are_named_as_such(tmp_path):
    path = write_text(tmp_path, "date,a,b\n2020-01-01 00:00,99999999999999999999999,2\n"
                                "2020-01-01 01:00,1,3\n2020-01-01 02:00,2,4\n")
    with pytest.raises(DataValidationError) as err:
        read_series(path)
    # pandas 3 reads the value as a Python int, pandas 2.2 as its text (shown quoted)
    assert re.search(r"column 'a' \(1 of 3 values are integers too large for 64 bits, e\.g\. row 0 "
                     r"\(line 2\): '?99999999999999999999999'?\)", str(err.value)), str(err.value)


@pytest.mark.parametrize(
    ("header", "row", "position", "why"),
    [("date,a,", "2020-01-01 0{h}:00,{h},", 3, "a trailing comma?"),
     (",a,date", "{h},{h},2020-01-01 0{h}:00", 1, "an index written by DataFrame.to_csv?")],
)
def test_empty_header_name_is_reported_with_its_position(tmp_path, header, row, position, why):
    path = write_text(tmp_path, header + "\n" + "".join(row.format(h=h) + "\n" for h in range(3)))
    with pytest.raises(DataValidationError) as err:
        read_series(path)
    assert f"the header has an empty column name at position {position} ({why})" in str(err.value)
    assert list(read_series(path, columns=["a"]).columns) == ["a"]  # unused: no error


def test_non_numeric_columns_named_with_samples(tmp_path):
    frame = hourly_frame(6, 2)
    frame["station"] = ["north"] * 6
    frame["x1"] = frame["x1"].astype(object)
    frame.loc[2, "x1"] = "n.a."
    with pytest.raises(DataValidationError) as err:
        read_series(write_csv(tmp_path, frame))
    msg = str(err.value)
    assert "column 'x1' (1 of 6 values not numbers, e.g. row 2 (line 4): 'n.a.')" in msg
    assert "column 'station' (6 of 6 values not numbers, e.g. row 0 (line 2): 'north'" in msg
    assert "columns=[...]" in msg and "numeric here: ['x0']" in msg
    assert list(read_series(write_csv(tmp_path, frame), columns=["x0"]).columns) == ["x0"]
    with pytest.raises(DataValidationError, match=r"'n\.a\.'\)\. Clean these values \(no column here is "
                       r"numeric\)$"):  # it had advised columns= with "numeric here: []"
        read_series(write_csv(tmp_path, frame[["date", "x1"]]))
    assert "group thousands" not in msg
    frame["x1"] = ["10,981.58", "1,000", "2", "3", "4", "5"]
    with pytest.raises(DataValidationError, match=r"'1,000'; they use ',' to group thousands: write them"):
        read_series(write_csv(tmp_path, frame))


def test_constant_column_warns_and_stays_finite(tmp_path):
    frame = hourly_frame(10, 1)
    frame["flat"] = 3.0
    with pytest.warns(UserWarning, match="column 'flat' is constant"):
        df = read_series(write_csv(tmp_path, frame))
    assert df["flat"].tolist() == [3.0] * 10
    with pytest.warns(UserWarning, match="channel 'flat' is constant"):
        scaler = StandardScaler().fit(df.to_numpy(), columns=list(df.columns))
    scaled = scaler.transform(df.to_numpy())
    assert np.isfinite(scaled).all() and (scaled[:, 1] == 0).all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        StandardScaler().fit(np.column_stack([df.to_numpy(), np.zeros(10)]), columns=["x0", "flat", "off"])
    assert [str(w.message) for w in caught] == [
        "StandardScaler: channels 'flat', 'off' are constant over the fitted rows; scaled by their own "
        "size (1 for 0) so they map to 0 instead of NaN"]
    # small units and a counter near 2^53 vary: their own spread, not scale 1 (which had made a
    # picosecond channel's forecast 1e-4 and a counter's inputs hundreds)
    t = np.arange(300)
    varying = np.column_stack([1e-12 * (2 + np.sin(t / 5)), 2.0**53 - 1000 + t, 0.1 + 0 * t])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scaler = StandardScaler().fit(varying, columns=["pico", "counter", "tenth"])
    assert [str(w.message) for w in caught] == [
        "StandardScaler: channel 'tenth' is constant over the fitted rows; scaled by its own size (1 for "
        "0) so it maps to 0 instead of NaN"]  # 0.1 x 300: constant, whatever its mean rounds to
    np.testing.assert_allclose(scaler.scale_[:2], varying[:, :2].std(axis=0), rtol=1e-12)
    assert scaler.scale_[2] == pytest.approx(0.1, rel=1e-15)  # its own size (scale 1 before)


def test_scaler_names_a_value_a_million_spreads_from_the_rest():
    """A 1e30 among values near 1 (a sentinel, a unit mix-up) sets the channel's scale and maps
    every other value to nearly 0; it had passed without a word. Heavy tails, spikes on a mostly
    constant channel and Weather's -9999 sentinels (1e4 spreads) are left alone."""
    rng = np.random.default_rng(0)
    values = np.column_stack([1 + 0.1 * rng.normal(size=2000), rng.standard_cauchy(2000),
                              np.where(np.arange(2000) % 97 == 0, 1e6, 0.0), 1 + rng.normal(size=2000)])
    values[[500, 1500], 0] = [1e30, -3e29]
    values[7, 3] = -9999.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        StandardScaler().fit(values, columns=["sensor", "cauchy", "spikes", "weather"])
    assert [str(w.message).split(":")[1] for w in caught] == [
        " values far from the rest in 'sensor' (a value of 1e+30, over a million typical spreads from its "
        "median)"]
    assert "a sentinel value or a unit mix-up?" in str(caught[0].message)


def test_reader_and_scaler_arguments_are_checked():
    """Found by a fuzz of the public functions: these had passed silently."""
    frame = hourly_frame(10, 2)
    for flag in ("sort", "strict"):
        with pytest.raises(ConfigError, match=f"{flag} must be True or False, got 'no'"):
            read_series(frame, **{flag: "no"})  # sort='no' had sorted
    values = np.arange(20.0).reshape(10, 2)
    for columns in ("ab", ["a"], {"a": 0, "b": 1}):  # 'ab' had named two channels 'a', 'b'
        with pytest.raises(ConfigError, match="columns must name the 2 channels"):
            StandardScaler().fit(values, columns=columns)
    assert StandardScaler().fit(values, columns=(c for c in "yz")).columns == ["y", "z"]  # any iterable
    long = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2021", periods=5, freq="h"), "y": 1.0})
    with pytest.raises(ConfigError, match="sort must be True or False, got 'no'"):
        read_series(long, sort="no")  # the long form had ignored it
    with pytest.raises(DataValidationError, match=r"requested columns not found: 'z0', 'z1', 'z2', 'z3', "
                                                  r"'z4', \.\.\. \(200 in all\); available columns: "):
        read_series(frame, columns=[f"z{i}" for i in range(200)])  # had listed all 200


def test_series_too_short():
    with pytest.raises(DataValidationError, match=r"too short for windows: need >= 10 rows, got 3"):
        check_length(3, 10, "windows")
    check_length(10, 10, "windows")
    with pytest.raises(DataValidationError, match="too short for inferring a frequency"):
        read_series(hourly_frame(1, 1))
    # no rows at all is said as such, not as "too short ... got 0" (helper-167)
    with pytest.raises(DataValidationError, match=r"^the series has no rows \(need >= 10 for windows\)$"):
        check_length(0, 10, "windows")
    check_length(0, 0, "nothing")
    with pytest.raises(DataValidationError, match=r"^frame: the series has no rows \(need >= 2 for infer"):
        read_series(hourly_frame(3, 1).iloc[:0])


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DataValidationError, match=r"empty\.csv: the file is empty"):
        read_series(path)


def test_empty_after_decompression(tmp_path):
    path = tmp_path / "empty.csv.gz"
    with gzip.open(path, "wb"):
        pass
    with pytest.raises(DataValidationError, match="no header and no data"):
        read_series(path)


def test_header_only_file(tmp_path):
    path = write_text(tmp_path, "date,a,b\n")
    with pytest.raises(DataValidationError, match=r"has a header \(date, a, b\) but no data rows"):
        read_series(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"data file not found: .*nope\.csv"):
        read_series(tmp_path / "nope.csv")


def test_directory_instead_of_file(tmp_path):
    (tmp_path / "a.csv").write_text("date,v\n")
    with pytest.raises(DataValidationError, match=r"is a directory.*it holds: a\.csv"):
        read_series(tmp_path)


def test_requested_columns_that_do_not_exist(tmp_path):
    path = write_csv(tmp_path, hourly_frame(6, 2))
    with pytest.raises(DataValidationError) as err:
        read_series(path, columns=["x0", "OT", "HUFL"])
    msg = str(err.value)
    assert "requested columns not found: 'OT', 'HUFL'" in msg
    assert "available columns: 'x0', 'x1'" in msg and "comma" not in msg
    path = write_csv(tmp_path, hourly_frame(6, 2).rename(columns={"x1": "kw, avg"}))
    with pytest.raises(DataValidationError, match=r"\(\['kw, avg'\] hold a comma or spaces around the "):
        read_series(path, columns=["kw", "avg"])  # as --columns 'kw, avg' splits it
    with pytest.raises(DataValidationError) as err:  # a missing name no comma explains
        read_series(path, columns=["x0", "OT"])
    assert "comma" not in str(err.value)
    # series ids of long form too, and names with spaces around them (--columns strips them)
    hours = pd.date_range("2021-01-01", periods=4, freq="h")
    long = pd.concat([pd.DataFrame({"unique_id": i, "ds": hours, "y": 1.0 + np.arange(4)})
                      for i in ("Café, Köln", " B")])
    for asked, near in ((["Café", "Köln"], "'Café, Köln'"), (["B"], "' B'")):
        with pytest.raises(DataValidationError, match=rf"requested series not found: .*\(\[{near}\] hold a "
                           r"comma or spaces around the name\)"):
            read_series(long, columns=asked)


def test_time_column_that_does_not_exist(tmp_path):
    path = write_csv(tmp_path, hourly_frame(6, 1))
    with pytest.raises(DataValidationError, match=r"time column 'ds' not found.*\['date', 'x0'\]"):
        read_series(path, time_col="ds")


def test_numeric_time_column_needs_a_format():
    frame = pd.DataFrame({"date": [20210101, 20210102, 20210103], "v": [1.0, 2.0, 3.0]})
    with pytest.raises(DataValidationError, match="holds numbers"):
        read_series(frame)
    assert read_series(frame, date_format="%Y%m%d").index.freqstr == "D"


@pytest.mark.parametrize(("values", "advice"), [
    ([44197, 44198, 44199], "they look like spreadsheet serial dates (days since 1899-12-30: 44197 is "
     "2021-01-01): save the column formatted as dates, or convert them first: pd.to_datetime(values, "
     "unit='D', origin='1899-12-30')"),
    ([44197.0, 44197.5, 44198.0], "spreadsheet serial dates"),
    ([202101, 202102, 202103], "they read as dates written as digits: pass date_format='%Y%m'"),
    ([2019, 2020, 2021], "pass date_format='%Y'"),
    ([1609459200, 1609462800, 1609466400], "if they are epoch seconds (1609459200 is 2021-01-01 00:00:00), "
     "convert them first: pd.to_datetime(values, unit='s')"),
    ([0, 1, 2], "write them as timestamps (ISO 8601, e.g. 2024-01-31 13:00), or pass date_format= if"),
    ([1, float("inf"), 2], "write them as timestamps"), ([2e30, 3e30, 4e30], "write them as timestamps")])
def test_numbers_in_a_time_column_are_told_how_to_read_what_they_fit(tmp_path, values, advice):
    """Every number had been told to convert with unit='s' (or the example '%Y%m%d'): spreadsheet days
    (44197) and years then read as times on 1970-01-01 a second apart, a series that reads on."""
    path = write_text(tmp_path, "date,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(values)))
    with pytest.raises(DataValidationError, match=re.escape(advice)) as err:
        read_series(path)
    assert ("unit='s'" in str(err.value)) == (values[0] == 1609459200)
    if "date_format='" in advice:
        fmt = advice.split("date_format=")[1].strip("'")
        assert read_series(path, date_format=fmt).index[0] == pd.Timestamp(str(values[0])[:4])
    if "serial" in advice:
        times = pd.to_datetime(pd.Series(values), unit="D", origin="1899-12-30")
        assert times[0] == pd.Timestamp("2021-01-01")


def test_digit_dates_with_an_empty_cell_read_in_their_format(tmp_path):
    """Digits with an empty cell are floats to pandas: 20210101.0 had failed date_format='%Y%m%d' at
    every row but the empty one, which was left unnamed."""
    path = write_text(tmp_path, "date,v\n20210101,1\n,2\n20210103,3\n20210104.5,4\n")
    with pytest.raises(DataValidationError, match=re.escape(
            "1 of 4 values of time column 'date' cannot be parsed as dates: row 3 (line 5): '20210104.5'")):
        read_series(path, date_format="%Y%m%d")
    path = write_text(tmp_path, "date,v\n20210101,1\n,2\n20210103,3\n")
    with pytest.raises(DataValidationError, match=re.escape(
            "time column 'date' has 1 missing timestamp (NaT/empty) at row 1 (line 3)")):
        read_series(path, date_format="%Y%m%d")


def test_latin1_file_needs_its_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("date,T (°C)\n2021-01-01,1\n2021-01-02,2\n".encode("latin-1"))
    with pytest.raises(DataValidationError, match=r"not valid utf-8.*encoding= with the file's encoding "
                       r"\(e\.g\. encoding='latin-1'\)"):
        read_series(path)
    assert list(read_series(path, encoding="latin-1").columns) == ["T (°C)"]
    path.write_bytes(b"date,v\n2021-01-01,\x81\n")  # 0x81 is no cp1252 character: not advised again
    with pytest.raises(DataValidationError, match=r"not valid cp1252 text .*re-save the file as UTF-8, or "
                       r"pass encoding= with the file's own encoding, which is not cp1252$"):
        read_series(path, encoding="cp1252")


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_undecodable_byte_is_located_by_file_line(tmp_path, suffix):
    """pandas counts bytes within the block it decodes: a bad byte on line 301 was 'at byte 4'."""
    import gzip
    import zipfile

    rows = [f"2021-01-01 {h % 24:02d}:00,{h}" for h in range(300)]
    text = ("date,v\n" + "\n".join(rows) + "\n2021-02-01 00:00,1\n").encode()
    text = text.replace(b"2021-02-01", b"2021\xe9-02-01")  # a latin-1 byte on line 302
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(gzip.compress(text) if suffix.endswith(".gz") else text)
    with pytest.raises(DataValidationError, match="invalid continuation byte on line 302, byte 5 of that"):
        read_series(path)

    zipped = tmp_path / "bad.ZIP"  # pandas reads the archive (any case); its lines are not the file's
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("bad.csv", text)
    if suffix == ".csv":  # a plain file whose name holds '.zip' before its ending is located
        plain = tmp_path / "sales.zip.csv"
        plain.write_bytes(text)
        with pytest.raises(DataValidationError, match="on line 302, byte 5 of that"):
            read_series(plain)
    with pytest.raises(DataValidationError, match=r"utf-8 text \(invalid continuation byte\); re-save"):
        read_series(zipped)


def test_complex_values_are_refused_not_cut_to_their_real_part():
    frame = hourly_frame(6, 2)
    frame["c"] = frame["x0"].to_numpy() + 1j
    with pytest.raises(DataValidationError, match=r"column\(s\) \['c'\] hold complex numbers"):
        read_series(frame)
    long = pd.DataFrame({"unique_id": ["a"] * 4, "ds": pd.date_range("2021", periods=4, freq="h"),
                         "y": np.arange(4) + 2j})
    with pytest.raises(DataValidationError, match=r"\['y'\] hold complex numbers"):
        read_series(long)


def test_bad_option_values():
    with pytest.raises(ConfigError, match="fill must be"):
        read_series(hourly_frame(4, 1), fill="bfill")
    with pytest.raises(ConfigError, match="impute must be"):
        read_series(hourly_frame(4, 1), impute="mean")


# ---------------------------------------------------------------------------------------------
# frequency helpers


@pytest.mark.parametrize(
    ("freq", "alias"),
    [("h", "h"), ("15min", "15min"), ("10min", "10min"), ("D", "D"), ("MS", "MS"),
     ("W-SUN", "W-SUN"), ("2h", "2h")],
)  # fmt: skip
def test_infer_freq(freq, alias):
    assert infer_freq(pd.date_range("2021-01-03", periods=30, freq=freq)) == alias


def test_infer_freq_with_gaps_names_the_grid():
    index = pd.date_range("2021-01-01", periods=30, freq="15min").delete([3, 4, 10])
    assert infer_freq(index) == "15min"
    months = pd.date_range("2021-01-01", periods=12, freq="MS").delete([5])
    assert infer_freq(months) == "MS"


def test_infer_freq_errors():
    with pytest.raises(DataValidationError, match="no regular frequency"):
        infer_freq(pd.DatetimeIndex(["2021-01-01", "2021-01-02", "2021-01-05 03:00"]))
    with pytest.raises(DataValidationError, match="too short"):
        infer_freq(pd.DatetimeIndex(["2021-01-01"]))


def test_future_index():
    index = pd.date_range("2021-01-01", periods=5, freq="h")
    future = future_index(index, 3)
    assert list(future) == list(pd.date_range("2021-01-01 05:00", periods=3, freq="h"))
    months = future_index(pd.date_range("2021-01-01", periods=3, freq="MS"), 2)
    assert list(months) == [pd.Timestamp("2021-04-01"), pd.Timestamp("2021-05-01")]
    no_freq = pd.DatetimeIndex(["2021-01-01 00:00", "2021-01-01 00:10", "2021-01-01 00:20"])
    assert future_index(no_freq, 1)[0] == pd.Timestamp("2021-01-01 00:30")
    with pytest.raises(ConfigError):
        future_index(index, 0)


# ---------------------------------------------------------------------------------------------
# scaler


def test_scaler_roundtrip_and_statistics():
    rng = np.random.default_rng(0)
    values = rng.normal([1.0, -5.0, 100.0], [2.0, 0.5, 30.0], size=(500, 3))
    scaler = StandardScaler().fit(values)
    scaled = scaler.transform(values)
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(scaled.std(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(scaled), values, atol=1e-10)
    restored = StandardScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    np.testing.assert_array_equal(restored.mean_, scaler.mean_)
    np.testing.assert_array_equal(restored.scale_, scaler.scale_)
    identity = StandardScaler.identity(3)  # fit(scale=False): the values pass unchanged
    np.testing.assert_array_equal(identity.transform(values), values)
    np.testing.assert_array_equal(identity.inverse_transform(values), values)


def test_scaler_works_on_torch_tensors_and_batches():
    values = np.arange(20.0).reshape(10, 2)
    scaler = StandardScaler().fit(values)
    batch = torch.tensor(values, dtype=torch.float32).reshape(2, 5, 2)
    out = scaler.inverse_transform(scaler.transform(batch))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    torch.testing.assert_close(out, batch)


def test_scaler_errors():
    with pytest.raises(ConfigError, match="not fitted"):
        StandardScaler().transform(np.zeros((2, 2)))
    scaler = StandardScaler().fit(np.arange(6.0).reshape(3, 2))
    with pytest.raises(DataValidationError, match="fitted on 2 channels"):
        scaler.transform(np.zeros((3, 3)))
    with pytest.raises(DataValidationError, match="NaN"):
        StandardScaler().fit(np.array([[1.0], [np.nan]]))


# ---------------------------------------------------------------------------------------------
# splits


def test_ltsf_borders_ett():
    assert ltsf_borders(17420, 96, "ETTh") == {
        "train": (0, 8640),
        "val": (8544, 11520),
        "test": (11424, 14400),
    }
    assert ltsf_borders(69680, 96, "ettm") == {
        "train": (0, 34560),
        "val": (34464, 46080),
        "test": (45984, 57600),
    }
    with pytest.raises(DataValidationError, match="need >= 14400 rows, got 1000"):
        ltsf_borders(1000, 96, "ETTh")
    with pytest.raises(ConfigError):
        ltsf_borders(20000, 96, "monthly")


def test_ltsf_borders_custom():
    n = 52696
    borders = ltsf_borders(n, 96, "custom")
    n_train, n_test = int(0.7 * n), int(0.2 * n)
    assert borders == {
        "train": (0, n_train),
        "val": (n_train - 96, n - n_test),
        "test": (n - n_test - 96, n),
    }


def test_split_borders_fractions_counts_dates():
    assert split_borders(1000, 10) == ltsf_borders(1000, 10, "custom")
    assert split_borders(1000, 10, fractions=(0.6, 0.2, 0.2)) == {
        "train": (0, 600),
        "val": (590, 800),
        "test": (790, 1000),
    }
    assert split_borders(1000, 10, fractions=(0.8, 0.0, 0.2)) == {
        "train": (0, 800),
        "test": (790, 1000),
    }
    assert split_borders(100, 5, counts=(50, 20, 20)) == {
        "train": (0, 50),
        "val": (45, 70),
        "test": (65, 90),
    }
    index = pd.date_range("2021-01-01", periods=100, freq="D")
    by_date = split_borders(100, 5, dates=("2021-03-01", "2021-03-21"), index=index)
    assert by_date == {"train": (0, 59), "val": (54, 79), "test": (74, 100)}
    with pytest.raises(DataValidationError, match="before row 0"):
        split_borders(100, 60, counts=(50, 20, 20))
    with pytest.raises(DataValidationError, match="do not fit"):
        split_borders(100, 5, counts=(50, 40, 20))
    with pytest.raises(ConfigError, match="needs index="):
        split_borders(100, 5, dates=("2021-03-01", "2021-03-21"))


def test_split_borders_dates_follow_the_index_zone():
    aware = pd.date_range("2021-01-01", periods=100, freq="D", tz="Europe/Berlin")
    expected = {"train": (0, 59), "val": (54, 79), "test": (74, 100)}
    assert split_borders(100, 5, dates=("2021-03-01", "2021-03-21"), index=aware) == expected
    utc = ("2021-02-28 23:00+00:00", "2021-03-20 23:00+00:00")  # the same instants
    assert split_borders(100, 5, dates=utc, index=aware) == expected
    naive = aware.tz_localize(None)
    with pytest.raises(ConfigError, match="has a time zone, but the index has none"):
        split_borders(100, 5, dates=utc, index=naive)


# ---------------------------------------------------------------------------------------------
# time features


def test_time_features_hourly_and_sub_hourly():
    hourly = pd.date_range("2020-01-01", periods=24 * 400, freq="h")
    feats = time_features(hourly)
    assert feats.shape == (len(hourly), 4) and feats.dtype == np.float32
    assert feats.min() >= -0.5 and feats.max() <= 0.5
    assert feats[:, 0].min() == -0.5 and feats[:, 0].max() == 0.5  # hour spans the range
    np.testing.assert_allclose(feats[1, 0], 1 / 23 - 0.5, rtol=1e-6)
    minutes = pd.date_range("2020-01-01", periods=500, freq="15min")
    feats = time_features(minutes)
    assert feats.shape == (500, 5)
    assert set(np.round((feats[:, 4] + 0.5) * 59).astype(int)) == {0, 15, 30, 45}
    assert time_feature_count("h") == 4 and time_feature_count("D") == 4
    assert time_feature_count("15min") == 5 and time_feature_count("10min") == 5
    assert time_feature_count("MS") == 4


def test_time_features_without_freq_use_the_median_step():
    index = pd.DatetimeIndex(["2021-01-01 00:00", "2021-01-01 00:10", "2021-01-01 00:10"])
    assert time_features(index).shape == (3, 5)


def test_cycle_phase_is_the_position_in_the_day_from_the_timestamp_alone():
    hourly = pd.date_range("2016-07-01 05:00", periods=30, freq="h")
    np.testing.assert_array_equal(cycle_phase(hourly, "h", 24), hourly.hour)
    np.testing.assert_array_equal(cycle_phase(hourly[7:], "h", 24), hourly[7:].hour)  # no row offset
    quarter = pd.date_range("2016-07-01 23:30", periods=5, freq="15min")
    np.testing.assert_array_equal(cycle_phase(quarter, "15min", 96), [94, 95, 0, 1, 2])
    # irregular stamps fall into the slot they lie in; a time zone counts in wall-clock time
    odd = pd.DatetimeIndex(["2020-01-01 00:10", "2020-01-01 00:19", "2020-01-01 00:20"])
    np.testing.assert_array_equal(cycle_phase(odd, "10min", 144), [1, 1, 2])
    berlin = pd.date_range("2021-03-01 00:00", periods=3, freq="h", tz="Europe/Berlin")
    np.testing.assert_array_equal(cycle_phase(berlin, "h", 24), [0, 1, 2])


@pytest.mark.parametrize("freq, length, expected", [
    ("B", 5, lambda idx: (idx.day_of_week + 2) % 5),  # step 0, 1970-01-01, was a Thursday
    ("W-SUN", 4, None),
    ("MS", 12, lambda idx: idx.month - 1),  # the month of the year
    ("ME", 12, lambda idx: idx.month - 1),
    ("2MS", 6, lambda idx: (idx.month - 1) // 2),
    ("QS-FEB", 4, lambda idx: (idx.month - 2) // 3),
    ("QE", 4, lambda idx: (idx.month - 1) // 3),
    ("YS", 4, lambda idx: (idx.year - 1970) % 4),
])
def test_cycle_phase_counts_calendar_steps(freq, length, expected):
    """Business days, weeks, months, quarters, years: each step on the grid moves the phase by
    one, and the phase comes from the timestamp alone (it had been refused: 'leave cycle_length
    unset' for monthly data with a yearly cycle)."""
    index = pd.date_range("1999-11-15", periods=60, freq=freq, tz="Europe/Paris")
    phase = cycle_phase(index, freq, length)
    np.testing.assert_array_equal(np.diff(phase) % length, 1)
    np.testing.assert_array_equal(cycle_phase(index[7:], freq, length), phase[7:])  # no row offset
    if expected is not None:
        np.testing.assert_array_equal(phase, np.asarray(expected(index)) % length)


@pytest.mark.parametrize("freq, W, start", [
    ("h", 24, "2021-11-06 18:00"),  # New York's clocks go back: 1:00 twice
    ("h", 24, "2021-03-13 18:00"),  # and forward: no 2:00
    ("30min", 48, "2021-11-06 22:00"),
    ("h", 168, "2021-11-06 18:00"),  # a weekly cycle of hours
])
def test_cycle_phases_ahead_are_the_wall_clock_phases_of_the_forecast_timestamps(freq, W, start):
    index = pd.date_range(start, periods=20, freq=freq, tz="America/New_York")
    H = 16
    ahead = cycle_phases_ahead(index, freq, W, H)
    expected = [cycle_phase(future_index(index[i : i + 1], H, freq), freq, W) for i in range(len(index))]
    np.testing.assert_array_equal(ahead, np.stack(expected))
    counted = (cycle_phase(index, freq, W)[:, None] + np.arange(1, H + 1)) % W
    assert (ahead != counted).any()  # the change is in reach: the counted phases are off after it
    assert not steps_by_one(cycle_phase(index, freq, W), W)
    assert steps_by_one(cycle_phase(index.tz_convert("UTC"), freq, W), W)


def test_cycle_phases_ahead_are_none_where_each_steps_by_one():
    """Naive, UTC and fixed-offset times, days and months count by one: the network does that."""
    naive = pd.date_range("2021-11-06", periods=30, freq="h")
    assert cycle_phases_ahead(naive, "h", 24, 12) is None
    assert cycle_phases_ahead(naive.tz_localize("UTC"), "h", 24, 12) is None
    assert cycle_phases_ahead(naive.tz_localize("Etc/GMT+5"), "h", 24, 12) is None
    new_york = pd.date_range("2021-11-06", periods=2, freq="h", tz="America/New_York")
    assert cycle_phases_ahead(new_york, "h", 24, 12) is None  # the change is a day ahead
    days = pd.date_range("2021-10-25", periods=30, freq="D", tz="America/New_York")
    assert cycle_phases_ahead(days, "D", 7, 14) is None
    months = pd.date_range("2021-01-01", periods=30, freq="MS", tz="America/New_York")
    assert cycle_phases_ahead(months, "MS", 12, 6) is None
    assert steps_by_one(np.array([22, 23, 0, 1]), 24) and steps_by_one(np.zeros(5, int), 1)


def test_cycle_phase_rejects_what_has_no_cycle():
    index = pd.date_range("2021-01-01", periods=3, freq="D")
    for freq, kind in (("bh", "BusinessHour"), ("C", "CustomBusinessDay"), ("SMS", "SemiMonthBegin")):
        with pytest.raises(ConfigError, match=rf"frequency '{freq}' is {kind}; leave cycle_length unset$"):
            cycle_phase(index, freq, 12)
    with pytest.raises(ConfigError, match="regular sampling step, but the series has no regular frequency"):
        cycle_phase(index, None, 12)
    with pytest.raises(ConfigError, match="cycle_length"):
        cycle_phase(pd.date_range("2021-01-01", periods=3, freq="h"), "h", 0)
    with pytest.raises(DataValidationError, match="DatetimeIndex"):
        cycle_phase(pd.RangeIndex(3), "h", 24)


# ---------------------------------------------------------------------------------------------
# LTSF pipeline


def test_prepare_ltsf_on_a_frame():
    from tsmamba.datasets import synthetic_ett

    frame = synthetic_ett(n_rows=1000)
    data = prepare_ltsf(frame, 48, 24, name="synthetic")
    assert isinstance(data, LTSFData)
    assert data.kind == "custom" and data.freq == "h" and data.values.dtype == np.float32
    assert data.borders == ltsf_borders(1000, 48, "custom")
    train = data.values[: data.borders["train"][1]]
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-5)
    assert data.window_counts() == {
        k: e - s - 72 + 1 for k, (s, e) in data.borders.items()
    }
    for stride in (-1, 0, 1.5, None):  # -1 had counted {'train': -119, ...}, 1.5 float counts
        with pytest.raises(ConfigError, match="stride must be a positive integer"):
            data.window_counts(stride)
    assert data.time_marks().shape == (1000, 4)


def test_prepare_ltsf_rejects_too_short_splits():
    from tsmamba.datasets import synthetic_ett

    with pytest.raises(DataValidationError, match=r"too short for the val split"):
        prepare_ltsf(synthetic_ett(n_rows=200), 48, 24)


def test_prepare_ltsf_checks_a_user_file_named_like_a_benchmark(tmp_path):
    # only the published Weather file (by its sha256) keeps its repeated and missing stamps
    frame = hourly_frame(400, 2)
    frame.loc[50, "date"] = frame.loc[49, "date"]
    with pytest.raises(DataValidationError, match=r"weather\.csv: 1 duplicate timestamp"):
        prepare_ltsf(write_csv(tmp_path, frame, "weather.csv"), 16, 8)


def test_prepare_ltsf_unknown_source():
    with pytest.raises(DataNotFoundError, match="neither a file nor a registered data set"):
        prepare_ltsf("no-such-data", 96, 96)


# ---------------------------------------------------------------------------------------------
# the real benchmark files


EXPECTED = {
    # name: rows, first and last column, kind, train/val/test rows at L=96
    "ETTh1": (17420, "HUFL", "OT", "ETTh", (8640, 2976, 2976)),
    "ETTm1": (69680, "HUFL", "OT", "ETTm", (34560, 11616, 11616)),
    "Weather": (52696, "p (mbar)", "OT", "custom", (36887, 5366, 10635)),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_real_file_protocol(name, benchmark_file):
    path = benchmark_file(name)
    rows, first, last, kind, split_rows = EXPECTED[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the published files load without a warning
        data = prepare_ltsf(path, 96, 96)
    assert data.n_rows == rows and data.kind == kind
    assert data.columns[0] == first and data.columns[-1] == last
    sizes = tuple(e - s for s, e in data.borders.values())
    assert sizes == split_rows
    # the scaler saw the train rows only
    raw = pd.read_csv(path).drop(columns="date").to_numpy()
    train_end = data.borders["train"][1]
    np.testing.assert_allclose(data.scaler.mean_, raw[:train_end].mean(axis=0), rtol=1e-10)
    assert not np.allclose(data.scaler.mean_, raw.mean(axis=0))
    np.testing.assert_allclose(data.values[:train_end].mean(axis=0), 0.0, atol=1e-4)
    assert data.window_counts() == {k: n - 192 + 1 for k, n in zip(data.borders, sizes, strict=True)}


def test_weather_header_keeps_replacement_characters(benchmark_file):
    from tsmamba.datasets import load_dataset

    benchmark_file("Weather")  # skips without the file
    df = load_dataset("Weather", download=False)
    assert len(df.columns) == 21
    assert "SWDR (W/m\ufffd)" in df.columns
    assert "PAR (\ufffdmol/m\ufffd/s)" in df.columns
    assert df.attrs["freq"] == "10min" and len(df.attrs["irregular"]) == 2
    with pytest.raises(DataValidationError, match="duplicate timestamp: 2020-05-12 06:00:00"):
        read_series(benchmark_file("Weather"))  # strict by default


@pytest.mark.parametrize(
    ("freq", "dates"),
    [
        ("B", ["2024-03-20", "2024-03-21", "2024-03-22"]),  # Wed-Fri: inferred alone as "D"
        ("MS", ["2028-11-01", "2028-12-01"]),  # inferred alone as "30D"
        ("W-SUN", ["2025-02-16", "2025-02-23"]),  # inferred alone as "7D"
        ("h", ["2024-01-03 12:00"]),  # one row: nothing to infer from
    ],
)
def test_a_known_frequency_reads_few_rows_on_its_grid(freq, dates):
    index = pd.DatetimeIndex(dates, name="date")
    frame = pd.DataFrame({"x": np.arange(len(dates), dtype=float)}, index=index)
    read = read_series(frame, freq=freq)
    assert read.attrs["freq"] == freq and read.index.freqstr == freq


def test_business_days_with_holidays_missing_are_read_on_the_business_day_grid():
    """pandas gives up when a holiday is missing; the daily grid then called every weekend a gap
    (123 missing rows to fill for 3 holidays)."""
    days = pd.bdate_range("2020-01-01", periods=300, name="date")
    holidays = pd.to_datetime(["2020-07-03", "2020-12-25", "2021-01-01"])
    frame = pd.DataFrame({"x": np.arange(300.0)}, index=days)[~days.isin(holidays)]
    assert infer_freq(frame.index) == "B"
    with pytest.raises(DataValidationError, match=r"3 timestamps missing from the 'B' grid in 3 gaps"):
        read_series(frame)
    filled = read_series(frame, fill="ffill")
    assert filled.attrs["freq"] == "B" and len(filled) == 300
    short = frame.iloc[:3]  # Wed-Fri: no weekend skipped, so nothing says business days
    assert infer_freq(short.index) == "D"


def test_rows_off_a_known_frequency_are_inferred_as_usual():
    weekend = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.DatetimeIndex(["2024-03-23", "2024-03-25"]))
    assert read_series(weekend, freq="B").attrs["freq"] == "2D"  # a Saturday is no business day
    for bad in ("0h", "-1h", "bogus"):
        with pytest.raises(ConfigError, match=f"freq must be a pandas frequency alias.*{bad!r}"):
            read_series(weekend, freq=bad)


def test_read_series_names_what_it_takes_and_repeated_column_names():
    series = pd.Series([1.0, 2.0], index=pd.date_range("2024", periods=2, freq="h"))
    with pytest.raises(DataValidationError, match=r"got Series \(one series: pass series.to_frame\(\)\)"):
        read_series(series)
    with pytest.raises(DataValidationError, match="got ndarray"):
        read_series(np.zeros((3, 2)))
    index = pd.date_range("2024", periods=3, freq="h", name="date")
    twice = pd.DataFrame(np.zeros((3, 2)), index=index, columns=["a", "a"])
    with pytest.raises(DataValidationError, match=r"column names repeat: \['a'\]; give"):
        read_series(twice)
    as_text = pd.DataFrame(np.zeros((3, 2)), index=index, columns=[1, "1"])
    with pytest.raises(DataValidationError, match=r"repeat: \['1'\] \(as text: 1 and the text 1"):
        read_series(as_text)


def test_a_scaler_refuses_values_whose_spread_overflows():
    """1e200 in the training rows: 'overflow encountered in square', then an infinite scale and
    a model forecasting -inf, saved without an error."""
    values = np.column_stack([np.arange(10.0), np.r_[np.zeros(8), 1e200, -1e200]])
    with pytest.raises(DataValidationError, match=r"channel 'OT' holds values so large \(up to 1e\+200\)"):
        StandardScaler().fit(values, columns=["x", "OT"])


def test_sizes_and_zones_are_config_errors_not_raw_python_errors():
    """future_index(idx, None) raised a TypeError, "x" a ValueError and True passed as 1; a zone
    name nobody knows raised ZoneInfoNotFoundError from deep in pandas."""
    from tsmamba.datasets import synthetic_ett
    from tsmamba.windows import TimeSeriesDataModule, WindowDataset

    index = pd.date_range("2024-01-01", periods=4, freq="h")
    for bad in (None, "x", True, 0, 2.0):
        with pytest.raises(ConfigError, match="horizon must be a positive integer"):
            future_index(index, bad)
    frame = synthetic_ett(n_rows=400)
    for bad in (None, True, 24.0):
        with pytest.raises(ConfigError, match="horizon must be a positive integer"):
            prepare_ltsf(frame, 24, bad)
        with pytest.raises(ConfigError, match="context_length must be a positive integer"):
            prepare_ltsf(frame, bad, 24)
    with pytest.raises(ConfigError, match="counts= must be three integers"):
        split_borders(100, 0, counts=(60, True, 20))
    values = np.zeros((50, 2), dtype=np.float32)
    with pytest.raises(ConfigError, match="start must be an integer >= 0"):
        WindowDataset(values, 4, 2, start="0")
    with pytest.raises(ConfigError, match="num_workers must be an integer >= 0"):
        TimeSeriesDataModule(values, {"train": (0, 50)}, 4, 2, num_workers=None)
    for zone in ("Not/AZone", ""):  # "" raised IndexError from inside pandas
        with pytest.raises(ConfigError, match=rf"tz '{zone}' is not a time zone name"):
            read_series(frame.reset_index(), tz=zone)


def test_local_days_written_in_utc_are_sent_to_tz_not_to_resampling():
    """Berlin days stored in UTC step 23 or 25 hours at a clock change; the error advised
    resampling, which moves every day onto the previous one."""
    days = pd.date_range("2021-02-01", periods=120, freq="D", tz="Europe/Berlin", name="date")
    frame = pd.DataFrame({"a": np.arange(120.0)}, index=days.tz_convert("UTC"))
    with pytest.raises(DataValidationError, match=r"local days written in UTC.*read_series\(df, "
                                                  r"tz='Europe/Berlin'\)\), not by resampling"):
        read_series(frame)
    assert read_series(frame, tz="Europe/Berlin").index.equals(days)
    naive = pd.DataFrame({"a": [1.0, 2, 3, 4]},  # no zone: the usual resampling advice only
                         index=pd.DatetimeIndex(["2021-01-01", "2021-01-02", "2021-01-02 23:00",
                                                 "2021-01-04"], name="date"))
    with pytest.raises(DataValidationError, match="Resample the data") as err:
        read_series(naive)
    assert "UTC" not in str(err.value)


# ---- files as spreadsheets and archivers write them ------------------------------------------


def test_naive_times_repeating_the_hour_a_zones_clocks_go_back_are_named_so():
    """Read for a zone (tz=, as a zone-aware model reads), naive local times repeat the hour the
    clocks go back: the advice is to write their offsets, not to drop a real hour (helper-169). A
    repeat at another hour, or read with no zone or one without that change, is a duplicate row."""
    local = pd.date_range("2021-10-30 20:00", periods=12, freq="h", tz="Europe/Berlin").tz_localize(None)
    frame = pd.DataFrame({"a": np.arange(12.0)}, index=local.rename("date"))
    with pytest.raises(DataValidationError, match=r"^frame: 1 duplicate timestamp: 2021-10-31 02:00:00 at "
                       r"row 6 and row 7; the timestamps are without a time zone, and that is the hour "
                       r"Europe/Berlin repeats when its clocks go back\. Write them with their UTC offsets"):
        read_series(frame, tz="Europe/Berlin")
    for tz in (None, "UTC", "Asia/Tokyo"):
        with pytest.raises(DataValidationError, match=r"Drop or aggregate the duplicate rows"):
            read_series(frame, tz=tz)
    other = frame.set_axis(local.insert(3, local[3]).delete(7).rename("date"))  # 23:00 twice, one 02:00
    with pytest.raises(DataValidationError, match=r"2021-10-30 23:00:00 .*Drop or aggregate"):
        read_series(other, tz="Europe/Berlin")


def test_naive_sub_hourly_times_across_a_zones_clock_changes_are_named_so():
    """Half-hourly local times read for a zone go 02:00, 02:30, 02:00 when the clocks go back: named
    as that, not as unsorted rows to sort, which would mix the two hours (helper-172); the hour skipped
    when they go forward is no gap to fill, even with fill= (a fill had made up times that never
    were, and the CLI had then refused the --tz it was given). Without a zone: unsorted, and a gap."""
    def local(start: str, periods: int, freq: str, zone: str) -> pd.DataFrame:
        wall = pd.date_range(start, periods=periods, freq=freq, tz=zone).tz_localize(None)
        return pd.DataFrame({"load": np.arange(float(periods))}, index=wall.rename("date"))

    autumn = local("2021-10-30", 100, "30min", "Europe/Berlin")
    with pytest.raises(DataValidationError, match=re.escape(
            "frame: timestamps are not in increasing order: row 54 at 2021-10-31 02:00:00 follows row 53 at "
            "2021-10-31 02:30:00; the timestamps are without a time zone, and the clock goes back within the "
            "hour Europe/Berlin repeats when its clocks go back. Write them with their UTC offsets "
            "(02:00+02:00, then 02:00+01:00) or in UTC; sorting them would mix the two hours")):
        read_series(autumn, tz="Europe/Berlin")
    with pytest.raises(DataValidationError, match=r"2 duplicate timestamps: .*those are hours Europe/Berlin "
                       r"repeats when its clocks go back"):
        read_series(autumn, tz="Europe/Berlin", sort=True)
    with pytest.raises(DataValidationError, match=r"time goes back at 1 place in all\. Sort the data"):
        read_series(autumn)
    new_york = local("2021-11-06 12:00", 40, "30min", "America/New_York")
    with pytest.raises(DataValidationError, match=re.escape("(01:00-04:00, then 01:00-05:00)")):
        read_series(new_york, tz="America/New_York")

    spring = local("2021-03-27", 400, "15min", "Europe/Berlin")
    for fill in (None, "interpolate"):
        with pytest.raises(DataValidationError, match=re.escape(
                "frame: 4 timestamps missing from the '15min' grid in 1 gap: 4 missing after 2021-03-28 "
                "01:45:00 (row 103), from 2021-03-28 02:00:00; the timestamps are without a time zone, and "
                "those times are in the hour Europe/Berlin skips when its clocks go forward. Write them with "
                "their UTC offsets (01:45+01:00, then 03:00+02:00) or in UTC; nothing is missing there")):
            read_series(spring, tz="Europe/Berlin", fill=fill)
    assert len(read_series(spring, fill="interpolate")) == 404  # no zone: a gap like any other
    longer = spring.drop(index=pd.Timestamp("2021-03-28 03:00"))  # a row missing beside the skipped hour
    with pytest.raises(DataValidationError, match=r"5 timestamps missing .*\. Pass fill="):
        read_series(longer, tz="Europe/Berlin")


def test_data_lines_with_more_fields_than_the_header_are_refused(tmp_path):
    """pandas makes the extra leading fields row labels, silently: unquoted decimal commas
    (10,3 -> 3) gave the fractional digits as the values, and a trailing comma on the data lines
    gave a misleading 'holds numbers, not dates'."""
    rows = "".join(f"{10 + h},{(3 + 4 * h) % 10},2021-01-01 {h:02d}:00\n" for h in range(6))
    with pytest.raises(DataValidationError, match=r"data.csv: the data lines have 1 more field\(s\) than "
                       r"the header's 2 names \(row 0 \(line 2\) starts with '10' before them\)\. Decimal "
                       r"commas \(12,5\) or a trailing comma"):
        read_series(write_text(tmp_path, "load,date\n" + rows))
    trailing = "".join(f"2021-01-01 {h:02d}:00,{h}.5,{2 * h},\n" for h in range(6))
    with pytest.raises(DataValidationError, match=r"1 more field\(s\) than the header's 3 names"):
        read_series(write_text(tmp_path, "date,a,b\n" + trailing, "trailing.csv"))


def test_data_lines_with_fewer_fields_than_the_header_are_refused(tmp_path):
    """pandas fills a short line's last fields with NaN, silently: a line that lost a field had
    read as a missing value, with the advice to impute it (helper-167). An empty field is still a
    missing value, and a quoted field may hold the delimiter or span lines."""
    good = "".join(f"2021-01-01 {h:02d}:00,{h}.5,{2 * h}\n" for h in range(6))
    path = write_text(tmp_path, "date,a,b\n" + good + "2021-01-01 06:00,7\n" + good.replace("01-01", "01-02"))
    with pytest.raises(DataValidationError, match=r"^data.csv: 1 data line has fewer fields than the "
                       r"header's 3 names \(row 6 \(line 8\): 2 fields\); a field was lost, .* Complete "
                       r"or delete that line \(a missing value is an empty field: ',,'\)$"):
        read_series(path)
    two = write_text(tmp_path, "date;a;b\n" + good.replace(",", ";")[:-1].rsplit("\n", 1)[0]
                     + "\n2021-01-01 05:00;1\n\n2021-01-01 06:00\n", "two.csv")
    with pytest.raises(DataValidationError, match=r"2 data lines have fewer fields .* \(row 5 \(line 7\): 2 "
                       r"fields, row 6 \(line 9\): 1 fields\); .* those lines \(.*';;'\)$"):
        read_series(two, sep=";")
    # an empty last field is a missing value, named as one; quotes keep a delimiter or a line break
    for header in ("date,a,b", 'date,a,"b\nnote, the unit"'):
        empty = write_text(tmp_path, f"{header}\n" + good + "2021-01-01 06:00,7,\n", "empty.csv")
        with pytest.raises(DataValidationError, match=r"NaN") as err:
            read_series(empty)
        assert "fewer fields" not in str(err.value) and "row 6 (line" in str(err.value)
    # a blank line of spaces before it (read_csv skips it) changes nothing
    spaced = write_text(tmp_path, "date,a,b\n" + good + "   \n2021-01-01 06:00,7\n", "spaced.csv")
    with pytest.raises(DataValidationError, match=r"\(row 6 \(line 9\): 2 fields\)"):
        read_series(spaced)


@pytest.mark.parametrize("reader", [read_panel, read_series])
def test_long_form_lines_with_fewer_fields_than_the_header_are_refused(tmp_path, reader):
    """A long-form line that lost its value had been read as a NaN, with the advice to impute it; a
    notes column some lines leave out is refused only where it is read."""
    rows = "".join(f"{u},2021-01-0{d},{d}\n" for u in "ab" for d in range(1, 5))
    path = write_text(tmp_path, "unique_id,ds,y\n" + rows.replace("a,2021-01-03,3", "a,2021-01-03"))
    with pytest.raises(DataValidationError, match=re.escape(
            "data.csv: 1 data line has fewer fields than the header's 3 names (row 2 (line 4): 2 fields)")):
        reader(path)
    notes = write_text(tmp_path, "unique_id,ds,y,notes\n" + rows.replace(",1\n", ",1,new\n"), "notes.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # long form reads y alone, and says so
        assert read_series(notes).shape == (4, 2)
    assert read_panel(notes, columns=["y"])["a"].shape == (4, 1)


def test_short_lines_are_refused_only_where_they_lack_a_column_the_read_uses(tmp_path):
    """A trailing comma in the header alone is the empty-name error, which columns= avoids; a
    last column that some lines leave out (notes) is refused only when it is read (helper-168:
    both had been refused as lines that lost a field)."""
    good = "".join(f"2021-01-01 {h:02d}:00,{h}.5,{2 * h}\n" for h in range(6))
    trailing = write_text(tmp_path, "date,a,b,\n" + good, "trailing.csv")
    with pytest.raises(DataValidationError, match=r"empty column name at position 4 \(a trailing comma\?\)"):
        read_series(trailing)
    assert read_series(trailing, columns=["a", "b"]).shape == (6, 2)
    notes = write_text(tmp_path, "date,a,b,notes\n" + good.replace(",0\n", ",0,7\n"), "notes.csv")
    assert read_series(notes, columns=["a", "b"]).shape == (6, 2)
    with pytest.raises(DataValidationError, match=r"5 data lines have fewer fields than the header.s 4"):
        read_series(notes)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_read_once(tmp_path):
    """The field counts are not read from a pipe a second time (that open had waited forever for
    a writer that was done); its missing value is then named as one."""
    import threading

    fifo = tmp_path / "series.csv"
    os.mkfifo(fifo)
    text = "date,a\n" + "".join(f"2021-01-01 {h:02d}:00,{'' if h == 3 else h}\n" for h in range(6))
    writer = threading.Thread(target=fifo.write_text, args=(text,), daemon=True)
    writer.start()
    with pytest.raises(DataValidationError, match=r"1 NaN"):
        read_series(fifo)
    writer.join(timeout=10)


def test_archives_pandas_cannot_open_are_data_errors_naming_the_file(tmp_path):
    import zipfile

    text = "date,a\n" + "".join(f"2021-01-01 {h:02d}:00,{h}.5\n" for h in range(6))
    with zipfile.ZipFile(tmp_path / "mac.zip", "w") as archive:  # what macOS's Compress makes
        archive.writestr("load.csv", text)
        archive.writestr("__MACOSX/._load.csv", b"\x00\x05\x16\x07")
    zipfile.ZipFile(tmp_path / "empty.zip", "w").close()
    with zipfile.ZipFile(tmp_path / "folder.zip", "w") as archive:  # what zip -r makes
        archive.writestr("data/", b"")
        archive.writestr("data/load.csv", text)
    for name, raw in (("bad.zip", b"not a zip"), ("plain.csv.xz", text.encode()),
                      ("plain.csv.bz2", text.encode())):
        (tmp_path / name).write_bytes(raw)
    with pytest.raises(DataValidationError, match=r"mac.zip: the zip archive holds 'load.csv', "
                       r"'__MACOSX/._load.csv'; a data archive holds one CSV file and nothing else"):
        read_series(tmp_path / "mac.zip")
    with pytest.raises(DataValidationError, match=r"empty\.zip: the zip archive holds nothing"):
        read_series(tmp_path / "empty.zip")
    with pytest.raises(DataValidationError,
                       match=r"folder\.zip: the zip archive holds 'data/', 'data/load\.csv'; a data archive "
                       r"holds one CSV file and nothing else, not even its folder \(zip -j"):
        read_series(tmp_path / "folder.zip")
    assert read_series(write_text(tmp_path, text), encoding=None)["a"].iloc[-1] == 5.5  # pandas' default
    for name, why in (("bad.zip", "File is not a zip file"), ("plain.csv.xz", "Input format not supported"),
                      ("plain.csv.bz2", "Invalid data stream")):
        with pytest.raises(DataValidationError, match=rf"{re.escape(name)}: the compressed file is corrupt, "
                           rf"truncated or not compressed as its name says \({why}"):
            read_series(tmp_path / name)


def test_encoding_advice_fits_the_file(tmp_path):
    text = "date,a\n" + "".join(f"2021-01-01 {h:02d}:00,{h}.5\n" for h in range(6))
    with pytest.raises(ConfigError, match="encoding 'utf8x' is not a text encoding Python knows"):
        read_series(write_text(tmp_path, text), encoding="utf8x")  # was a raw LookupError
    utf16 = tmp_path / "unicode.csv"
    utf16.write_bytes(text.encode("utf-16"))  # Excel's "Unicode Text": latin-1 garbled its header
    with pytest.raises(DataValidationError, match=r"the file is UTF-16 text \(it starts with a UTF-16 "
                       r"byte-order mark\); re-save the file as UTF-8, or pass encoding='utf-16'"):
        read_series(utf16)
    assert read_series(utf16, encoding="utf-16")["a"].tolist() == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]


@pytest.mark.parametrize("scale, unit", [(1, "s"), (1000, "ms"), (10**6, "us"), (10**9, "ns")])
def test_epoch_numbers_get_the_unit_their_size_says(tmp_path, scale, unit):
    """The advice said unit='s' for every size: epoch milliseconds read so are the year 52971."""
    text = "date,a\n" + "".join(f"{(1609459200 + 3600 * h) * scale},{h}\n" for h in range(6))
    with pytest.raises(DataValidationError, match=rf"pd\.to_datetime\(values, unit='{unit}'\)"):
        read_series(write_text(tmp_path, text))
    assert pd.to_datetime(1609459200 * scale, unit=unit) == pd.Timestamp("2021-01-01")


def test_an_empty_column_is_named_as_empty(tmp_path):
    text = "date,a,notes,b\n" + "".join(f"2021-01-01 {h:02d}:00,{h}.5,,{h if h != 2 else ''}\n"
                                         for h in range(6))
    with pytest.raises(DataValidationError) as err:
        read_series(write_text(tmp_path, text))
    assert str(err.value).endswith("or clean the data. Column ['notes'] holds no value in any row: "
                                   "leave them out with columns=[...] listing the channels to use")
    assert "column 'b': 1 NaN" in str(err.value)


def test_read_panel_reads_each_series_times_as_read_series_reads_them(tmp_path):
    """The times are parsed once for the whole file; where that fails, each series is parsed alone:
    a bad time names its series and line, and series in different UTC offsets each keep theirs."""
    rows = ["unique_id,ds,y"]
    rows += [f"A,2024-03-31 0{h}:00:00+01:00,{h}" for h in range(4)]
    rows += [f"B,2024-03-31 0{h}:00:00+02:00,{h}" for h in range(4)]
    path = write_text(tmp_path, "\n".join(rows) + "\n")
    panel = read_panel(path)
    for key in "AB":
        own = [rows[0], *(r for r in rows if r[0] == key)]
        alone = write_text(tmp_path, "\n".join(own) + "\n", "one.csv")
        pd.testing.assert_frame_equal(panel[key], read_panel(alone)[key])
    assert str(panel["A"].index.tz) == "UTC+01:00" and str(panel["B"].index.tz) == "UTC+02:00"
    in_berlin = read_panel(path, tz="Europe/Berlin")
    assert all(str(frame.index.tz) == "Europe/Berlin" for frame in in_berlin.values())
    rows[7] = "B,2024-03-31 02:61:00+02:00,2"
    with pytest.raises(DataValidationError, match=r"^data.csv \[unique_id=B\]: 1 of 4 values of time "
                       r"column 'ds' cannot be parsed as dates: row 6 \(line 8\): "
                       r"'2024-03-31 02:61:00\+02:00'"):
        read_panel(write_text(tmp_path, "\n".join(rows) + "\n"))


# ---------------------------------------------------------------------------------------------
# helper-136's review of the data layer


def test_validate_frame_takes_the_options_its_messages_name():
    """Its errors said "pass tz=" / "date_format=", which it did not take (a TypeError)."""
    berlin = pd.date_range("2021-03-27", periods=4, freq="D", tz="Europe/Berlin")
    local = pd.DataFrame({"date": [t.isoformat() for t in berlin], "a": [1.0, 2, 3, 4]})
    with pytest.raises(DataValidationError, match=r"mixes time zones .* Pass tz= with the zone"):
        validate_frame(local, time_col="date")
    assert validate_frame(local, time_col="date", tz="Europe/Berlin").index.equals(berlin.rename("date"))
    dotted = pd.DataFrame({"date": ["01.02.2021", "02.02.2021", "03.02.2021"], "a": [1.0, 2, 3]})
    read = validate_frame(dotted, time_col="date", date_format="%d.%m.%Y", freq="D")
    assert list(read.index) == list(pd.date_range("2021-02-01", periods=3, freq="D"))


def test_fill_beside_repeated_timestamps_is_refused_not_skipped(tmp_path):
    """strict=False keeps repeated rows, so no grid can be filled: the gap had stayed, unrepaired
    and unmentioned (repairs None)."""
    path = tmp_path / "sf.csv"
    path.write_text("date,a\n2021-01-01 00:00,1\n2021-01-01 01:00,2\n2021-01-01 01:00,3\n"
                    "2021-01-01 04:00,4\n2021-01-01 05:00,5\n")
    with pytest.raises(DataValidationError, match=r"2 timestamps missing .*, and fill='zero' cannot fill "
                                                  r"them while timestamps repeat \(1 duplicate timestamp"):
        read_series(path, strict=False, fill="zero")
    with pytest.warns(UserWarning, match="kept as published"):
        assert len(read_series(path, strict=False)) == 5


def test_integers_float64_would_round_are_refused(tmp_path):
    """A counter beyond 2**53 had been rounded: distinct values equal, an int64 column 'constant'."""
    path = tmp_path / "bytes.csv"
    path.write_text("date,bytes\n2021-01-01,9007199254740993\n2021-01-02,9007199254740992\n"
                    "2021-01-03,9007199254740995\n")
    with pytest.raises(DataValidationError, match=r"column 'bytes' holds integers that float64 values cannot "
                       r"hold exactly \(beyond 2\*\*53\), 2 of them \(row 0 \(line 2\): 9007199254740993, "
                       r"row 2 \(line 4\): 9007199254740995\).*Subtract an offset"):
        read_series(path)
    days = pd.date_range("2021-01-01", periods=4, freq="D")
    for ints in (np.array([2**62 + 1, 2**62 + 3, 5, 7]), np.array([2**64 - 1, 1, 2, 3], dtype=np.uint64)):
        with pytest.raises(DataValidationError, match=r"column 'c' holds integers .* [12] of them"):
            read_series(pd.DataFrame({"c": ints}, index=days))
    exact = pd.array([2**53 + 2, None, -(2**63), 4], dtype="Int64")  # float64 holds these
    read = read_series(pd.DataFrame({"c": exact}, index=days), impute="ffill")
    assert read["c"].tolist() == [2.0**53 + 2, 2.0**53 + 2, -(2.0**63), 4.0]


def test_a_boolean_column_with_an_empty_cell_is_a_missing_value(tmp_path):
    """pandas keeps True/False with a gap as objects: reported as "non-numeric, convert it with
    pd.to_numeric", naming no row. Now 1/0 and a missing value, named and imputed as others."""
    path = tmp_path / "b.csv"
    path.write_text("date,open,b\n2021-01-01,True,1\n2021-01-02,,2\n2021-01-03,False,3\n")
    with pytest.raises(DataValidationError, match=r"column 'open': 1 NaN, first at 2021-01-02 00:00:00 "
                                                  r"\(row 1 \(line 3\)\)\. Pass impute="):
        read_series(path)
    assert read_series(path, impute="ffill")["open"].tolist() == [1.0, 1.0, 0.0]


def test_split_borders_refuses_dates_out_of_order_and_shares_that_are_not_numbers():
    index = pd.date_range("2021-01-01", periods=1000, freq="h")
    with pytest.raises(ConfigError, match=r"dates= must be in time order .* but 2021-01-20 00:00:00 is "
                                          "before 2021-02-01 00:00:00"):
        split_borders(1000, 24, dates=("2021-02-01", "2021-01-20"), index=index)
    for shares in ((0.7, float("nan"), 0.2), (0.7, float("inf"), 0.0), (0.7, "0.1", 0.2)):
        with pytest.raises(ConfigError, match="fractions= must be three shares >= 0"):
            split_borders(1000, 24, fractions=shares)


def test_prepare_ltsf_takes_the_weather_frame_load_dataset_gives(benchmark_file):
    """Read as published (a repeated and missing timestamps), it was refused as a frame while
    the same data set by name was read."""
    from tsmamba.datasets import load_dataset

    path = benchmark_file("Weather")
    frame = load_dataset("Weather", data_dir=path.parent)
    by_name, by_frame = prepare_ltsf("Weather", 96, 96, data_dir=path.parent), prepare_ltsf(frame, 96, 96)
    np.testing.assert_array_equal(by_frame.values, by_name.values)
    assert by_frame.borders == by_name.borders
    assert len(by_frame.meta["irregular"]) == len(by_name.meta["irregular"]) == 2  # (no file lines named)
    assert by_frame.index.equals(by_name.index) and by_frame.freq == by_name.freq == "10min"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need os.mkfifo (POSIX)")
def test_a_pipe_is_read_not_refused_as_an_empty_file(tmp_path):
    """A pipe's size is 0: `--data <(zcat data.csv.gz)` had been refused as "the file is empty
    (0 bytes)" (helper-137)."""
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    text = "date,a\n2021-01-01,1\n2021-01-02,2\n2021-01-03,3\n"
    writer = threading.Thread(target=fifo.write_text, args=(text,), daemon=True)  # blocks until read
    writer.start()
    assert read_series(fifo)["a"].tolist() == [1.0, 2.0, 3.0]
    writer.join(timeout=10)


def test_the_phases_ahead_table_gives_what_the_zone_conversion_gives():
    """A stream's step reads its forecast steps' phases from a table of its grid (helper-143: the
    zone conversion had doubled a small model's step): the same phases across both DST changes,
    for series at different times, after the table is rebuilt, and off the table's grid."""
    index = pd.date_range("2021-03-10", "2021-11-20", freq="h", tz="America/New_York")
    table = PhasesAheadTable("h", 24, 12, block=50)  # rebuilt every 50 steps or so
    changes = 0
    for i in range(0, len(index) - 3, 7):
        times = index[[i, i + 1, i + 3]]  # three series, one step apart
        expected = cycle_phases_ahead(times, "h", 24, 12)
        got = table(times)
        assert (got is None) == (expected is None), times
        if got is not None:
            np.testing.assert_array_equal(got, expected)
            changes += 1
    assert changes >= 2  # near both changes
    assert table(index[:1].tz_convert("UTC")) is None  # another zone: rebuilt, and UTC steps by one
    half = index[[4000]] + pd.Timedelta(minutes=30)  # off the table's grid: computed directly
    assert table(index[[4000]].append(half)) is None
    assert PhasesAheadTable("h", 24, 12)(index.tz_localize(None)[:3]) is None
    assert PhasesAheadTable("D", 7, 12)(pd.date_range("2021-03-10", periods=9, freq="D", tz="UTC")) is None


def test_a_boolean_column_with_pandas_na_reads_as_one_with_a_gap():
    """pd.NA in True/False objects had raised float()'s TypeError (helper-143)."""
    days = pd.date_range("2021-01-01", periods=4, freq="D")
    frame = pd.DataFrame({"a": np.array([True, pd.NA, False, True], dtype=object)}, index=days)
    assert validate_frame(frame, impute="ffill")["a"].tolist() == [1.0, 1.0, 0.0, 1.0]


def test_split_borders_takes_shares_of_any_number_type():
    """A tensor's or Decimal shares had been refused by the check that refused NaN (helper-143)."""
    from decimal import Decimal

    expected = split_borders(100, 10, fractions=(0.7, 0.1, 0.2))
    assert split_borders(100, 10, fractions=torch.tensor([0.7, 0.1, 0.2], dtype=torch.float64)) == expected
    assert split_borders(100, 10, fractions=[Decimal("0.7"), Decimal("0.1"), Decimal("0.2")]) == expected
    with pytest.raises(ConfigError, match="fractions= must be three shares >= 0"):
        split_borders(100, 10, fractions=(True, 0.1, 0.2))


def test_trailing_rows_with_every_field_empty_are_read_as_blank_lines(tmp_path):
    """A spreadsheet's export ends in lines of bare commas; they had been 'missing timestamps'."""
    text = hourly_frame(6, 2).to_csv(index=False)
    df = read_series(write_text(tmp_path, text + ",,\n,,\n"))
    assert len(df) == 6 and df.index[-1] == pd.Timestamp("2021-01-01 05:00")
    broken = text.replace(text.splitlines()[3], text.splitlines()[3].rsplit(",", 1)[0] + ",")  # row 2
    with pytest.raises(DataValidationError, match=r"row 2 \(line 4\)"):  # lines still counted right
        read_series(write_text(tmp_path, broken + ",,\n"))
    with pytest.raises(DataValidationError, match=r"has a header .* but no data rows"):
        read_series(write_text(tmp_path, "date,x0,x1\n,,\n,,\n"))
    inside = text.replace(text.splitlines()[3], ",,").replace(text.splitlines()[5], ",,")
    with pytest.raises(DataValidationError, match=re.escape(  # inside: an error naming them as empty
            "2 data rows are empty in every field (a spreadsheet's blank row, written ',,') at row 2 "
            "(line 4), row 4 (line 6); delete those lines (blank rows at the end of the file are skipped)")):
        read_series(write_text(tmp_path, inside))
    with pytest.raises(DataValidationError, match=r"1 data row is empty in every field \(a spreadsheet's "
                       r"blank row, written '\\t\\t'\) at row 2 \(line 4\); delete that line"):
        read_series(write_text(tmp_path, text.replace(text.splitlines()[3], ",,").replace(",", "\t")),
                    sep="\t")


def test_trailing_rows_without_values_are_named_and_imputing_them_warns(tmp_path):
    """Future dates with no value yet: the advice to impute them had moved the forecast's origin
    onto made-up rows without a word."""
    frame = hourly_frame(8, 2)
    frame.iloc[5:, 1:] = np.nan
    path = write_csv(tmp_path, frame)
    with pytest.raises(DataValidationError, match=r"The last 3 rows \(from 2021-01-01 05:00:00, row 5 "
                       r"\(line 7\)\) have no value in any column: if they are dates still to come, "
                       r"delete them"):
        read_series(path)
    with pytest.warns(UserWarning, match=r"the last 3 rows \(from 2021-01-01 05:00:00\) had no value in any "
                      r"column and were imputed \(ffill\): a forecast from these data starts after "
                      r"made-up rows"):
        read_series(path, impute="ffill")
    frame.iloc[5:, 1] = 1.0  # one channel has values: not blank rows, no such words
    with pytest.raises(DataValidationError) as caught:
        read_series(write_csv(tmp_path, frame))
    assert "no value in any column" not in str(caught.value)


def test_a_forward_fill_from_an_earlier_row_is_not_made_from_a_later_one():
    """Only leading gaps, which ffill fills backwards, read a later row (helper-147: marking
    every filled value 'from a later row' had passed, and a backtest warned of look-ahead)."""
    hours = pd.date_range("2024-01-01", periods=6, freq="h")
    inside = pd.DataFrame({"a": [1, 2, np.nan, 4, 5, 6.0]}, index=hours)
    assert "from_later_rows" not in read_series(inside, impute="ffill").attrs["repairs"]
    leading = pd.DataFrame({"a": [np.nan, 2, np.nan, 4, 5, 6.0]}, index=hours)
    assert read_series(leading, impute="ffill").attrs["repairs"]["from_later_rows"] == {"a": 1}


# ---------------------------------------------------------------------------------------------
# reading: encodings, delimiters, long form


def test_a_big_endian_utf16_file_is_named_as_utf16(tmp_path):
    """A UTF-16 BE file says it is UTF-16 text, not "not valid utf-8"
    (helper-149: dropping BOM_UTF16_BE from the BOM check passed)."""
    path = tmp_path / "be.csv"
    path.write_bytes(codecs.BOM_UTF16_BE + "date,x\n2024-01-01,1\n2024-01-02,2\n".encode("utf-16-be"))
    with pytest.raises(DataValidationError, match="the file is UTF-16 text"):
        read_series(path)


def test_a_pipe_delimited_file_is_named(tmp_path):
    """A '|'-separated header is reported as using '|' (helper-149: dropping '|' passed)."""
    path = tmp_path / "pipe.csv"
    path.write_text("date|x\n2024-01-01|1\n2024-01-02|2\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"has no comma but '\|'"):
        read_series(path)


def test_value_col_alone_reads_long_form_with_the_default_id_column():
    """value_col= without id_col= still reads long form into one channel per id
    (helper-149: checking only id_col passed)."""
    df = pd.DataFrame(
        {
            "unique_id": ["a", "b"] * 3,
            "day": pd.date_range("2024-01-01", periods=3).repeat(2),
            "sales": range(6),
        }
    )
    out = read_series(df, time_col="day", value_col="sales")
    assert list(out.columns) == ["a", "b"]
    assert out["a"].tolist() == [0.0, 2.0, 4.0]
    assert out["b"].tolist() == [1.0, 3.0, 5.0]


def test_six_rows_of_two_series_are_taken_for_long_form():
    """Six rows of two stores over three dates point to id_col='store'
    (helper-149: needing 8 rows before suspecting long form passed)."""
    df = pd.DataFrame(
        {
            "store": ["a", "b"] * 3,
            "date": pd.date_range("2024-01-01", periods=3).repeat(2),
            "units": [1.0, 2, 3, 4, 5, 6],
        }
    )
    with pytest.raises(DataValidationError, match="id_col='store'"):
        read_series(df)


def test_a_text_column_with_all_values_different_is_not_taken_for_an_id():
    """A repeated hour beside a text column of all-different values is a non-numeric column,
    not long form (helper-149: allowing as many ids as rows passed)."""
    times = pd.to_datetime(
        ["2024-10-27 00:00", "2024-10-27 01:00", "2024-10-27 02:00", "2024-10-27 02:00", "2024-10-27 03:00"]
    )
    df = pd.DataFrame({"date": times, "load": [1.0, 2, 3, 4, 5], "note": ["a", "b", "c", "d", "e"]})
    with pytest.raises(DataValidationError, match="non-numeric columns: column 'note'") as info:
        read_series(df)
    assert "id_col=" not in str(info.value)


def test_a_text_id_column_is_suggested_before_an_integer_one():
    """When a text and an integer column both tell series apart, the text one is suggested
    (helper-149: taking the last candidate passed)."""
    df = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=3).repeat(2),
            "store": ["a", "b"] * 3,
            "code": [1, 2] * 3,
            "units": [1.0, 2, 3, 4, 5, 6],
        }
    )
    with pytest.raises(DataValidationError, match="id_col='store'"):
        read_series(df)


def test_a_long_form_id_of_blanks_is_empty():
    """An id of only spaces counts as empty and its rows are named
    (helper-149: comparing without strip() passed)."""
    df = pd.DataFrame(
        {
            "unique_id": ["a", "a", "  ", "  "],
            "ds": pd.to_datetime(["2024-01-01", "2024-01-02"] * 2),
            "y": [1.0, 2, 3, 4],
        }
    )
    with pytest.raises(DataValidationError, match="'unique_id' is empty at row 2, row 3"):
        read_series(df)


def test_an_unnamed_datetime_index_takes_the_time_col_name():
    """An unnamed DatetimeIndex is named after time_col= (helper-149: always "date" passed)."""
    df = pd.DataFrame({"x": [1.0, 2, 3]}, index=pd.date_range("2024-01-01", periods=3))
    assert read_series(df, time_col="ts").index.name == "ts"


# ---------------------------------------------------------------------------------------------
# reading: times and values


def test_a_naive_timestamp_after_aware_ones_is_the_one_named():
    """The first naive row is named among aware ones (helper-149: argmax instead of argmin passed)."""
    df = pd.DataFrame(
        {"date": ["2024-01-01 00:00+01:00", "2024-01-01 01:00+01:00", "2024-01-01 02:00"], "x": [1.0, 2, 3]}
    )
    with pytest.raises(DataValidationError, match=r"without a time zone \(row 2: '2024-01-01 02:00'\)"):
        read_series(df)


def test_an_object_column_with_an_unsigned_64_bit_integer_says_object_values():
    """-1 beside 2**63+5 fits neither int64 nor uint64 and is reported as object values
    (helper-149: a 2**63 upper bound passed)."""
    df = pd.DataFrame(
        {"date": pd.date_range("2024-01-01", periods=3), "x": pd.Series([-1, 2**63 + 5, 3], dtype=object)}
    )
    with pytest.raises(DataValidationError, match="column 'x' \\(held as object values"):
        read_series(df)


@pytest.mark.parametrize(("values", "kwargs", "word"), [
    (["1\u00a0234,5", "12\u00a0345"], {"sep": ";", "decimal": ","}, "a no-break space"),
    (["1\u202f234,5", "2\u202f345"], {"sep": ";", "decimal": ","}, "a narrow no-break space"),
    (["1'234.5", "2'345"], {}, "an apostrophe"), (["1 234.5", "2 345"], {}, "a space")])
def test_thousands_grouped_by_a_space_or_an_apostrophe_are_named(tmp_path, values, kwargs, word):
    """Spreadsheets save numbers as shown: 1 234,5 in France, 1'234.5 in Switzerland (named only by
    their values before)."""
    sep = kwargs.get("sep", ",")
    rows = "".join(f"2021-01-0{i + 1}{sep}{v}\n" for i, v in enumerate(values))
    path = write_text(tmp_path, f"date{sep}a\n" + rows)
    with pytest.raises(DataValidationError, match=re.escape(f"; they use {word} to group thousands: write "
                                                            "them without it)")):
        read_series(path, **kwargs)


def test_three_digit_thousands_groups_are_named():
    """Values like 123,456 are named as thousands grouping (helper-149: 1-2 leading digits passed)."""
    df = pd.DataFrame(
        {"date": pd.date_range("2024-01-01", periods=3), "x": ["123,456", "234,567", "345,678"]}
    )
    with pytest.raises(DataValidationError, match="use ',' to group thousands"):
        read_series(df)


def test_four_too_large_integers_list_three_and_an_ellipsis():
    """Four integers beyond 2**53 list the first three then ", ..." (helper-149: "> 4" passed)."""
    big = 2**53 + 1
    df = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=4), "x": [big, big + 2, big + 4, big + 6]})
    with pytest.raises(DataValidationError, match=r"4 of them \(.*row 2: 9007199254740997, \.\.\.\)"):
        read_series(df)


def test_unsorted_times_count_every_place_time_goes_back():
    """Two backward steps say "2 places in all" (helper-149: always 1 place passed)."""
    times = pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-04", "2024-01-03"])
    with pytest.raises(DataValidationError, match="time goes back at 2 places in all"):
        read_series(pd.DataFrame({"date": times, "x": [1.0, 2, 3, 4]}))


def test_sorting_keeps_the_file_order_of_rows_with_equal_times():
    """sort=True keeps rows with the same time in file order (helper-149: quicksort passed)."""
    rng = np.random.default_rng(0)
    times = pd.date_range("2024-01-01", periods=200, freq="h").repeat(2)[rng.permutation(400)]
    with pytest.warns(UserWarning, match="200 duplicate timestamps"):
        out = read_series(pd.DataFrame({"date": times, "x": np.arange(400.0)}), sort=True, strict=False)
    rows = out["x"].to_numpy()
    assert len(rows) == 400
    assert (rows[0::2] < rows[1::2]).all()


# ---------------------------------------------------------------------------------------------
# frequency inference


@pytest.mark.parametrize(
    ("index", "alias"),
    [
        # unsorted rows (helper-149: not sorting the unique times passed)
        (pd.DatetimeIndex(["2024-01-03", "2024-01-01", "2024-01-02", "2024-01-05"]), "D"),
        # one-unit steps are named without a count (helper-149: "1h" passed)
        (pd.DatetimeIndex([f"2024-01-01 {h:02d}:00" for h in (0, 1, 3, 4, 6, 7)]), "h"),
        # three rows are enough (helper-149: needing 4 passed)
        (pd.DatetimeIndex(["2024-01-01", "2024-02-01", "2024-03-01"]), "MS"),
        # a weekly grid keeps its anchor day (helper-149: dropping the anchored alias passed)
        (pd.date_range("2024-01-07", periods=8, freq="W-SUN").delete(5), "W-SUN"),
        # a gap-free stretch at the end is searched (helper-149: len(diffs) - 3 passed)
        (pd.date_range("2024-01-07", periods=6, freq="W-SUN").delete(1), "W-SUN"),
        # a month missing near the start (helper-149: max(len(times), 1) passed)
        (pd.date_range("2020-01-01", periods=30, freq="MS").delete([1]), "MS"),
    ],
    ids=["unsorted", "hourly-gaps", "three-months", "weekly-gap", "weekly-gap-early", "monthly-gap-early"],
)
def test_infer_freq_of_short_unsorted_or_gappy_grids(index, alias):
    """infer_freq names the grid of short, unsorted or gappy indexes."""
    assert infer_freq(index) == alias


def test_mid_month_rows_are_told_to_use_the_month_start_or_end():
    """Rows on the 15th of each month, with 30- and 31-day steps, are told to use month start or end
    (helper-149: counting only 31-day steps as monthly passed)."""
    index = pd.DatetimeIndex([f"2024-{m:02d}-15" for m in range(4, 13)])
    with pytest.raises(DataValidationError, match="month's start or end"):
        infer_freq(index)


@pytest.mark.parametrize(("start", "freq", "alias", "kept"), [
    ("2020-01-01", "MS", "MS", [0, 1, 3, 4]), ("2020-01-31", "ME", "ME", [0, 1, 3, 4]),
    ("2020-01-01", "MS", "MS", [0, 2, 3, 5, 6, 8]), ("2020-04-01", "QS", "QS-JAN", [0, 1, 3, 4]),
    ("2020-03-31", "QE", "QE-DEC", [0, 2, 3]), ("2019-07-01", "YS-JUL", "YS-JUL", [0, 1, 3])])
def test_calendar_rows_without_a_gap_free_stretch_are_read_on_their_grid(tmp_path, start, freq, alias, kept):
    """Monthly, quarterly and yearly rows with a gap and no 4 rows in a row: month starts had been
    told to 'stamp each row at its month's start or end', month ends to resample to 29 days."""
    full = pd.date_range(start, periods=max(kept) + 1, freq=freq)
    text = "date,v\n" + "".join(f"{full[i].date()},{i}\n" for i in kept)
    read = read_series(write_text(tmp_path, text), fill="zero")
    assert read.attrs["freq"] == alias and read.index.equals(full)
    assert read["v"].tolist() == [float(i) if i in kept else 0.0 for i in range(len(full))]
    with pytest.raises(DataValidationError, match=f"missing from the '{alias}' grid"):
        read_series(write_text(tmp_path, text))
    sparse = pd.DatetimeIndex(["2020-01-01", "2020-07-01", "2021-03-01"])  # month starts, mostly gaps
    with pytest.raises(DataValidationError, match="no regular frequency"):
        infer_freq(sparse)


# ---------------------------------------------------------------------------------------------
# scaler


def test_a_negative_constant_channel_scales_by_its_magnitude():
    """A constant -5 channel gets scale 5, survives to_dict/from_dict and inverts +1 to 0
    (helper-149: using mean instead of abs(mean) passed)."""
    with pytest.warns(UserWarning, match="channel 0 is constant"):
        scaler = StandardScaler().fit(np.array([[-5.0, 1.0], [-5.0, 2.0], [-5.0, 3.0]]))
    assert scaler.scale_[0] == 5.0
    restored = StandardScaler.from_dict(scaler.to_dict())
    assert restored.scale_[0] == 5.0
    np.testing.assert_allclose(scaler.inverse_transform(np.array([[1.0, 0.0]])), [[0.0, 2.0]])


def test_scaler_warns_of_a_value_far_below_the_rest():
    """A -1e30 among 0..99 warns "far from the rest" (helper-149: looking only above the median passed)."""
    values = np.arange(100.0)[:, None]
    values[50, 0] = -1e30
    with pytest.warns(UserWarning, match="far from the rest in 'load' \\(a value of -1e\\+30"):
        StandardScaler().fit(values, columns=["load"])


def test_scaler_dict_with_a_zero_scale_is_refused():
    """scale 0 is refused on load (helper-149: accepting scale >= 0 passed)."""
    with pytest.raises(ConfigError, match="positive 'scale'"):
        StandardScaler.from_dict({"mean": [0.0], "scale": [0.0]})


def test_scaled_values_just_past_the_float32_bound_are_refused():
    """1e20 exceeds sqrt(float32 max) and is refused (helper-149: a 10x looser bound passed)."""
    with pytest.raises(DataValidationError, match=r"values in \['x'\] reach 1e\+20"):
        check_scaled_range(np.array([[1e20]]), ["x"], float(np.finfo(np.float32).max))


# ---------------------------------------------------------------------------------------------
# splits, time features, LTSFData


def test_split_fractions_slightly_over_one_are_refused():
    """Fractions summing to 1.0005 are refused (helper-149: a 1e-3 tolerance passed)."""
    with pytest.raises(ConfigError, match=r"sum to 1\.0005 > 1"):
        split_borders(1000, 0, fractions=(0.7, 0.1, 0.2005))


def test_a_context_one_row_before_the_start_is_refused():
    """A context reaching one row before row 0 is refused (helper-149: "first < -1" passed)."""
    with pytest.raises(DataValidationError, match="context_length 71 reaches before row 0"):
        split_borders(100, 71, counts=(70, 10, 20))


def test_split_dates_with_an_offset_are_converted_to_the_index_zone():
    """A UTC date is converted to the index's zone, not relabelled (helper-149: tz_localize passed)."""
    index = pd.date_range("2024-01-01", periods=48, freq="h", tz="Europe/Berlin")
    borders = split_borders(48, 0, dates=("2024-01-01T12:00+00:00", "2024-01-02T00:00+00:00"), index=index)
    assert borders["train"] == (0, 13)
    assert borders["val"] == (13, 25)
    assert borders["test"] == (25, 48)


def test_time_features_ignore_zero_steps_of_repeated_times():
    """Repeated hours still give hourly features (4 columns) (helper-149: counting zero steps passed)."""
    index = pd.DatetimeIndex(pd.date_range("2024-01-01", periods=4, freq="h").repeat(3))
    assert time_features(index).shape == (12, 4)


def test_fit_index_of_data_with_a_repeated_time_is_a_regular_grid():
    """LTSFData with a repeated time builds its fit index on the grid
    (helper-149: checking only meta["irregular"] passed)."""
    index = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 01:00", "2024-01-01 02:00"])
    data = LTSFData(
        values=np.zeros((4, 1), np.float32),
        index=index,
        columns=["x"],
        borders={},
        scaler=StandardScaler.identity(1),
        freq="h",
        name="x",
    )
    assert list(data.fit_index) == list(pd.date_range("2024-01-01", periods=4, freq="h"))


def test_times_where_channels_are_expected_are_named_as_times():
    """A PeriodIndex, the time column listed in columns=, a column of times among the channels:
    each named as what it is (helper-158: 'time column not found', 'not found', 'pd.to_numeric')."""
    frame = hourly_frame(24, 2).astype({"date": "datetime64[ns]"}).set_index("date")
    months = frame.set_axis(pd.period_range("2000-01", periods=24, freq="M"))
    with pytest.raises(DataValidationError, match=re.escape(
            "frame: the frame's index is a PeriodIndex (periods of 'M'), not timestamps; pass "
            "df.to_timestamp(), which stamps each period by its start")):
        read_series(months)
    assert read_series(months.to_timestamp()).attrs["freq"] == "MS"
    with pytest.raises(DataValidationError, match=re.escape(
            "requested columns not found: 'date'; available columns: 'x0', 'x1'; 'date' is the time "
            "column, not a channel: leave it out of the columns")):
        read_series(frame.reset_index(), columns=["date", "x1"])
    with pytest.raises(DataValidationError, match=re.escape(
            "column 'seen' (times, held as datetime64[ns] values: not a channel)")):
        read_series(frame.assign(seen=frame.index.as_unit("ns")))


def test_an_index_of_text_times_named_as_the_time_column_is_read_as_it(tmp_path):
    """pd.read_csv(path, index_col="date") without parse_dates: an index of text named 'date' is
    the time column (it had been "time column 'date' not found", and time_col='date' said the same)."""
    path = tmp_path / "hourly.csv"
    hourly_frame(30, 2).to_csv(path, index=False)
    from_file = read_series(path)
    text_index = pd.read_csv(path, index_col="date")
    assert not isinstance(text_index.index, pd.DatetimeIndex)
    for read in (read_series(text_index), read_series(text_index, time_col="date")):
        pd.testing.assert_frame_equal(read, from_file)
    garbled = text_index.rename(index={text_index.index[3]: "not a time"})
    with pytest.raises(DataValidationError, match=r"1 of 30 values of time column 'date' cannot be parsed "
                                                  r"as dates: row 3: 'not a time'"):
        read_series(garbled)
    with pytest.raises(DataValidationError, match="time column 'when' not found"):
        read_series(text_index, time_col="when")  # another name: the index is not taken for it


# --- pinned by mutation round 9 (this session's changes) ---


def test_two_rows_on_the_grid_of_freq_are_a_gap_up_to_ten_thousand_steps_apart():
    """10,000 steps apart: a gap on freq's grid, filled."""
    start = pd.Timestamp("2024-01-01")
    index = pd.DatetimeIndex([start, start + pd.Timedelta(hours=10_000)], name="date")
    read = read_series(pd.DataFrame({"a": [1.0, 2.0]}, index=index), freq="h", fill="ffill")
    assert len(read) == 10_001 and read.index[-1] == index[-1] and read.index.freqstr == "h"


@pytest.mark.parametrize("freq, end, steps", [("h", "2025-02-20 17:00", 10_001), ("D", "2054-01-01", 10_958)])
def test_two_rows_further_apart_on_the_grid_of_freq_are_named_not_read_as_a_step(tmp_path, freq, end, steps):
    """One step more is no gap to fill (a mistyped year): an error naming both rows and lines, where
    the two rows' distance had been inferred as the series' step (a '10001h' or '10958D' series)."""
    path = tmp_path / "two.csv"
    path.write_text(f"date,a\n2024-01-01 00:00,1\n{end},2\n")
    with pytest.raises(DataValidationError, match=re.escape(
            f"two.csv: 2024-01-01 00:00:00 at row 0 (line 2) and {pd.Timestamp(end)} at row 1 (line 3) lie "
            f"{steps:,} steps of '{freq}' apart: {steps - 1:,} timestamps missing between them, more than "
            "the 10,000 a gap may hold. Check these timestamps (a mistyped year or month?), or supply the "
            "rows between them")):
        read_series(path, freq=freq, fill="ffill")
    assert read_series(path).attrs["freq"] == f"{steps}{freq}"  # without freq: two rows are their own step


def test_rows_on_one_grid_but_for_one_gap_too_long_name_that_gap():
    """Three hourly rows and one three years on: the gap is named (with freq= or without), where the
    error had said the steps vary and advised resampling to 'h', which would make 26,302 rows."""
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]}, index=pd.DatetimeIndex(
        ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:00", "2027-01-01 02:00"], name="date"))
    for freq in ("h", None):
        with pytest.raises(DataValidationError, match=re.escape(
                "frame: 2024-01-01 02:00:00 at row 2 and 2027-01-01 02:00:00 at row 3 lie 26,304 steps "
                "of 'h' apart: 26,303 timestamps missing between them")):
            read_series(frame, freq=freq, fill="ffill")


def test_a_long_series_keeps_a_long_gap_as_a_gap():
    """A gap over 10,000 steps is refused only where it makes the grid mostly gaps: 300 hourly rows
    and one 20,000 hours on lie on a grid of 20,300 (under 10,000 + 50 per row) and are filled."""
    index = pd.date_range("2024-01-01", periods=300, freq="h", name="date")
    index = index.append(pd.DatetimeIndex([index[-1] + pd.Timedelta(hours=20_000)], name="date"))
    read = read_series(pd.DataFrame({"a": np.arange(301.0)}, index=index), fill="ffill")
    assert len(read) == 20_300 and read.index.freqstr == "h" and read["a"].iloc[-2] == 299.0


def test_two_rows_of_which_the_second_is_off_a_monthly_grid_are_not_read_onto_it():
    """freq='MS' and a second row on the 15th: no month-start grid ending before it (which would
    drop the row and invent 2024-02-01 and 2024-03-01); the rows are read as given."""
    frame = pd.DataFrame({"a": [1.0, 2.0]}, index=pd.DatetimeIndex(["2024-01-01", "2024-03-15"], name="date"))
    read = read_series(frame, freq="MS", fill="ffill")
    assert list(read.index) == list(frame.index) and read["a"].tolist() == [1.0, 2.0]


def test_three_hourly_rows_with_a_gap_are_filled_on_the_grid_of_freq():
    """Only two rows take freq's grid between them; three with a gap are filled from the first to the last."""
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]},
                         index=pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 05:00"],
                                                name="date"))
    read = read_series(frame, freq="h", fill="ffill")
    assert read["a"].tolist() == [1.0, 2.0, 2.0, 2.0, 2.0, 3.0] and read.index.freqstr == "h"


def test_digits_around_a_comma_inside_quotes_are_no_decimal_comma(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text('date;a;label\n2024-01-01 00:00;1.5;"lot 3,4"\n2024-01-01 01:00;2.5;x\n')
    with pytest.raises(DataValidationError) as info:
        read_series(path)
    assert str(info.value).endswith("the file seems to use ';' as its delimiter; pass sep=';'")
    path.write_text("date;a;label\n2024-01-01 00:00;1.5;x,y\n2024-01-01 01:00;2.5;x\n")  # no digits about it
    with pytest.raises(DataValidationError) as info:
        read_series(path)
    assert str(info.value).endswith("the file seems to use ';' as its delimiter; pass sep=';'")


def test_a_comma_separated_file_read_with_sep_semicolon_is_told_sep_comma_only(tmp_path):
    """Its commas between digits are its delimiter: no decimal=',' to pass with sep=','."""
    path = tmp_path / "comma.csv"
    path.write_text("date,a,b\n2024-01-01 00:00,1.5,2\n2024-01-01 01:00,2.5,3\n")
    with pytest.raises(DataValidationError) as info:
        read_series(path, sep=";")
    assert str(info.value).endswith("the file seems to use ',' as its delimiter; pass sep=','")


@pytest.mark.parametrize("kind, times", [
    ("timedelta64[ns]", lambda index: index - index[0]),
    ("period[h]", lambda index: index.to_period("h")),
    ("datetime64[ns, UTC]", lambda index: index.tz_localize("UTC")),
])
def test_durations_periods_and_aware_times_among_the_channels_are_named_as_times(kind, times):
    frame = hourly_frame(24, 2).astype({"date": "datetime64[ns]"}).set_index("date")
    with pytest.raises(DataValidationError, match=re.escape(
            f"column 'seen' (times, held as {kind} values: not a channel)")):
        read_series(frame.assign(seen=times(frame.index)))


def test_the_advice_to_drop_a_channel_with_no_value_to_impute_from_is_the_models_need_for_fitted_channels():
    frame = hourly_frame(24, 2).astype({"date": "datetime64[ns]"}).set_index("date").assign(x1=np.nan)
    with pytest.raises(DataValidationError) as info:
        read_series(frame, impute="ffill")
    message = str(info.value)
    assert message.endswith(". Drop them with columns=[...]")
    from tsmamba.data import for_fitted_channels

    assert for_fitted_channels(message) == (
        message.removesuffix(". Drop them with columns=[...]") + ". The model needs values there")


def test_split_borders_dates_refuse_numbers():
    """Row numbers given as dates= had been read as nanoseconds after 1970 and raised pandas' bare
    ValueError 'Cannot losslessly convert units'."""
    index = pd.date_range("2021-01-01", periods=100, freq="D")
    with pytest.raises(ConfigError, match="60 is a number, not a time"):
        split_borders(100, 5, dates=(60, 80), index=index)
