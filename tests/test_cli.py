"""The ``tsmamba`` command line, through the real console script (subprocesses).

Error paths must print exactly one line, ``tsmamba: error: ...``, exit with status 2 and show
no traceback; they return before torch and Lightning are imported, so each takes about a second.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsmamba import checkpoint, cli
from tsmamba.checkpoint import read_meta

SCRIPT = Path(sys.executable).with_name("tsmamba")
BASE_CMD = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "tsmamba"]

TINY_TOML = """\
# a tiny model: CLI tests check plumbing, not accuracy
[model]
d_model = 16
n_layers = 1
d_state = 8
max_epochs = 1
batch_size = 64

[model.trainer_kwargs]
limit_train_batches = 3
limit_val_batches = 2
"""


def tsmamba(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*BASE_CMD, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=full_env)


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tsmamba: error: "), lines[0]
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory, benchmark_file) -> Path:
    """The first 700 rows of ETTh1."""
    path = tmp_path_factory.mktemp("data") / "etth1_small.csv"
    with open(benchmark_file("ETTh1"), encoding="utf-8") as src:
        path.write_text("".join(next(src) for _ in range(701)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.toml"
    path.write_text(TINY_TOML, encoding="utf-8")
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD_ROWS = "date,a,b\n" + "".join(f"2021-01-01 {h:02d}:00:00,{h},{2 * h}\n" for h in range(20))


def fake_model(folder: Path, fmt: str = "tsmamba-forecaster") -> Path:
    """A folder whose meta.json (channels OT, HUFL) passes the CLI's early check; no weights."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").write_text(json.dumps({"format": fmt, "columns": ["OT", "HUFL"], "files": {}}))
    return folder


# ------------------------------------------------------------------------------------------
# every error path: one line, exit status 2


@pytest.mark.parametrize(
    ("make_args", "fragments"),
    [
        (lambda p: ["backtest", "--data", p / "missing" / "x.csv"], ["data file not found"]),
        (lambda p: ["backtest", "--data", p], ["is a directory"]),
        (lambda p: ["backtest", "--data", write(p, "empty.csv", "")], ["empty"]),
        (lambda p: ["backtest", "--data", write(p, "dates.csv", GOOD_ROWS.replace("01 05:00", "01 5 pm"))],
         ["cannot be parsed as dates", "line 7"]),
        (lambda p: ["backtest", "--data", write(p, "nan.csv", GOOD_ROWS.replace(",7,14", ",nan,14"))],
         ["NaN"]),
        (lambda p: ["fit", "--data", write(p, "text.csv", GOOD_ROWS.replace(",3,6", ",three,6")),
                    "--out", p / "m"], ["non-numeric columns", "column 'a'", "'three'"]),
        (lambda p: ["backtest", "--data", "ETTh1", "--horizon", "0"], ["--horizon", "positive integer"]),
        (lambda p: ["backtest", "--data", write(p, "ok.csv", GOOD_ROWS), "--context", "5000",
                    "--horizon", "4"], ["window forecasts need --context 5000"]),
        (lambda p: ["fit", "--data", write(p, "ok.csv", GOOD_ROWS), "--context", "48", "--horizon", "4",
                    "--out", p / "m"], ["too short", "need >= 52 rows, got 20"]),
        (lambda p: ["backtest", "--data", "NoSuchSet"], ["unknown data set 'NoSuchSet'", "ETTh1"]),
        (lambda p: ["backtest", "--data", "NoSuchSet", "--protocol", "ltsf"], ["unknown data set"]),
        (lambda p: ["backtest", "--data", "ETTh1", "--refit", "sometimes"], ["--refit"]),
        (lambda p: ["backtest", "--data", "ETTh1", "--channel-mode", "both"], ["--channel-mode"]),
        (lambda p: ["backtest", "--data", "ETTh1", "--frequency-loss", "1.5"],
         ["--frequency-loss", "<= 1.0", "'1.5'"]),
        (lambda p: ["fit", "--data", "ETTh1", "--learning-rate", "-1", "--out", p / "m"],
         ["argument --learning-rate: expected a number > 0.0, got '-1'"]),
        (lambda p: ["fit", "--data", "ETTh1", "--dropout", "1", "--out", p / "m"],
         ["argument --dropout: expected a number >= 0.0 and < 1.0, got '1'"]),
        (lambda p: ["backtest", "--data", "ETTh1", "--config", write(p, "bad.toml", "d_model = [")],
         ["not valid TOML"]),
        (lambda p: ["backtest", "--data", "ETTh1", "--config", write(p, "unk.toml", "d_modle = 3")],
         ["unknown setting 'd_modle'"]),
        (lambda p: ["backtest", "--data", "ETTh1", "--config", write(p, "neg.json", '{"horizon": -3}')],
         ["setting 'horizon'", "positive integer"]),
        (lambda p: ["backtest", "--data", "ETTh1", "--out", write(p, "file.txt", "x")], ["not a folder"]),
        (lambda p: ["predict", "--model", p / "nowhere"], ["--model", "nowhere does not exist", "fit --out"]),
        (lambda p: ["predict", "--model", write(p, "model.txt", "x")], ["model.txt is not a folder"]),
        (lambda p: ["fit", "--data", "ETTh1"], ["needs --out"]),
        (lambda p: ["bogus"], ["invalid choice"]),
        (lambda p: ["predict", "--model", fake_model(p / "m"), "--device", "cuda"],
         ["unrecognized arguments: --device cuda", "(see: tsmamba predict --help)"]),
        (lambda p: ["stream", "--model", fake_model(p / "m"), "--seed", "3"],
         ["unrecognized arguments: --seed 3", "(see: tsmamba stream --help)"]),
    ],
    ids=["bad-path", "directory", "empty-file", "bad-dates", "nan", "non-numeric", "horizon-0",
         "context-too-long", "fit-too-short", "unknown-name", "unknown-name-ltsf", "bad-refit",
         "bad-choice", "bad-weight", "negative-rate", "dropout-1", "bad-toml", "unknown-setting",
         "bad-config-value", "out-is-file",
         "model-missing", "model-is-file", "fit-no-out", "unknown-command", "predict-device", "stream-seed"],
)
def test_error_paths_print_one_line_and_exit_2(tmp_path, make_args, fragments):
    assert_one_line_error(tsmamba(*make_args(tmp_path), timeout=120), *fragments)


def test_corrupt_model_meta(tmp_path, capsys):
    # in-process (the console script's path is tested with damaged weights in test_fit_then_predict)
    model = tmp_path / "model"
    model.mkdir()
    (model / "meta.json").write_text("{ this is not json", encoding="utf-8")
    assert cli.main(["predict", "--model", str(model)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tsmamba: error: ") and "meta.json is corrupt" in err and "\n" not in err


def test_folders_are_checked_before_torch_is_imported(tmp_path):
    # a wrong --model, --history or --out, or options the model refuses together, cost no
    # torch/Lightning import (nor training): each command below fails in a fresh process that
    # never imports torch
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("months of work")
    write(tmp_path, "only_ot.csv", "date,OT\n2021-01-01 00:00:00,1\n2021-01-01 01:00:00,2\n")
    write(tmp_path, "good.csv", GOOD_ROWS)
    model = fake_model(tmp_path / "model")
    fake_model(tmp_path / "stream_state", fmt="tsmamba-stream")
    (tmp_path / "data_folder").mkdir()
    cases = [
        (["fit", "--data", "ETTh1", "--out", "keep"], "keep already exists and is not a tsmamba save"),
        (["fit", "--data", "ETTh1", "--out", "keep/notes.txt/m"], "keep/notes.txt is a file, not a folder"),
        (["backtest", "--data", "ETTh1", "--out", "keep/notes.txt/r"], "keep/notes.txt is a file, not a"),
        (["backtest", "--data", "ETTh1", "--out", "/proc/tsmamba_report"],  # found after the backtest
         "--out /proc/tsmamba_report cannot be written (/proc: No such file or directory); choose another"),
        (["predict", "--model", "model", "--out", "keep/notes.txt/f.csv"], "keep/notes.txt is a file"),
        (["predict", "--model", "model", "--out", "keep"], "--out keep is a folder; give the path of"),
        (["predict", "--model", "model", "--out", "/sys/forecast.csv"],  # found after the forecast
         "--out /sys/forecast.csv cannot be written (/sys: "),
        (["predict", "--model", "model", "--time-col", "t"], "--time-col names the time column of --data"),
        (["predict", "--model", "data_folder"], "data_folder/meta.json is missing"),
        (["predict", "--model", "stream_state"], "holds 'tsmamba-stream', not a tsmamba-forecaster save"),
        (["predict", "--model", "model", "--data", "only_ot.csv"], "columns not found: 'HUFL'"),
        (["backtest", "--data", "good.csv", "--context", "4", "--horizon", "2", "--context-mode", "full",
          "--norm", "revin", "--out", "report"],  # was refused only after importing Lightning
         "tsmamba: error: --context-mode full reads the whole history through the recurrent state, and "
         "--norm revin (statistics of the whole input) has none; use --context-mode window, or fit with "
         "--norm causal or none"),  # (its first half had kept the library's context='full', norm='revin')
        (["stream", "--model", "model", "--history", "nothere.csv", "--threads", "1"],  # not torch first
         f"--history file not found: {tmp_path / 'nothere.csv'}; check the path"),
    ]
    code = ("import json, sys\nfrom tsmamba import cli\n"
            "codes = [cli.main(args) for args in json.loads(sys.argv[1])]\n"
            "imported = 'torch' in sys.modules\nimport os\n"
            "def inside(run):  # a command that loads torch: --threads holds for it\n"
            "    import torch\n"
            "    print(torch.get_num_threads(), file=sys.stderr)\n"
            "cli.COMMANDS['datasets'].func = inside\n"
            "codes.append(cli.main(['datasets', '--threads', '1']))\n"
            "print(json.dumps([codes, imported, os.environ['OMP_NUM_THREADS']]))")
    proc = subprocess.run([sys.executable, "-c", code, json.dumps([args for args, _ in cases])],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "OMP_NUM_THREADS": "2"})
    codes, torch_imported, variable = json.loads(proc.stdout)
    *lines, threads = proc.stderr.splitlines()
    assert threads == "1" and variable == "2"  # and the caller's environment is its own again
    assert codes == [2] * len(cases) + [0] and len(lines) == len(cases), proc.stderr
    for line, (_, fragment) in zip(lines, cases, strict=True):
        assert line.startswith("tsmamba: error: ") and fragment in line, line
    assert "--data" not in lines[-1]  # stream has no --data
    assert not torch_imported
    assert [p.name for p in keep.iterdir()] == ["notes.txt"]
    assert (keep / "notes.txt").read_text() == "months of work"
    assert model.exists()
    assert not (tmp_path / "report").exists()  # a failed backtest leaves no --out folder behind


@pytest.mark.parametrize(
    ("text", "args", "hint"),
    [
        (GOOD_ROWS.replace(",7,14", ",nan,14"), [], "NaN, first at 2021-01-01 07:00:00 (row 7 (line 9)). "
         "Pass --impute ffill, --impute interpolate or --impute zero to replace them, or clean the data"),
        (GOOD_ROWS.replace("03:00:00,3,6\n2021-01-01 04:00:00,4,8", "04:00:00,4,8\n2021-01-01 03:00:00,3,6"),
         [], "Sort the file's rows by time first"),
        (GOOD_ROWS.replace("2021-01-01 05:00:00,5,10\n", ""), [], "Pass --fill ffill, --fill interpolate or "
         "--fill zero to fill the missing rows, or add them to the file"),
        (GOOD_ROWS.replace("date,", "day,"), [], "Pass --time-col NAME with the name of the time column"),
        (GOOD_ROWS.replace("date,", "day,").replace("2021-01-01 ", "").replace(":00:00", ""),
         ["--time-col", "day"], "write them as timestamps (ISO 8601, e.g. 2024-01-31 13:00), or pass "
         "--date-format if they are dates written as digits (e.g. --date-format '%Y%m%d')"),
        ("date,a\n" + "".join(f"{44197 + d},{d}\n" for d in range(20)), [], "they look like spreadsheet "
         "serial dates (days since 1899-12-30: 44197 is 2021-01-01): save the column formatted as dates, or "
         "write them in the file as ISO 8601 (e.g. 2021-01-31 14:00) first"),
        ("date,a\n" + "".join(f"{2001 + d}01,{d}\n" for d in range(20)), [],
         "they read as dates written as digits: pass --date-format '%Y%m'"),
        (GOOD_ROWS.replace("2021-01-01 ", "01/01/2021 "), [], "timestamps are read as ISO 8601 (2024-01-31 "
         "13:00); if they are all in one other format, pass --date-format (e.g. --date-format "
         "'%d/%m/%Y %H:%M')"),
        (GOOD_ROWS.replace("2021-01-01 ", "01/01/2021 "), ["--date-format", "%m-%d-%Y %H:%M:%S"],
         "Fix these values; does --date-format '%m-%d-%Y %H:%M:%S' match them?"),
        (GOOD_ROWS.replace(",", ";").replace(";7;14", ";7,5;14"), [], "the header 'date;a;b' has no comma "
         "but ';': the file seems to use ';' as its delimiter and ',' as its decimal mark; pass --sep ';' "
         "and --decimal ','"),
        (GOOD_ROWS.replace(",", ";").replace(";7;14", ";7,5;14"), ["--sep", ";"],
         "they use ',' as the decimal mark: pass --decimal ','"),
        (GOOD_ROWS.replace(",", ";").replace(";7;14", ";7.5;14"), ["--sep", ";", "--decimal", ","],
         "they use '.' as the decimal mark: write them with ',', or drop --decimal ','"),
        (GOOD_ROWS, ["--sep", "tab"], "the header 'date,a,b' has no tab but ',': the file seems to use ',' "
         "as its delimiter; pass --sep ','"),
    ],
    ids=["nan", "unsorted", "gap", "time-col", "numbers-as-dates", "serial-days", "digit-months", "day-first",
         "format-mismatch",
         "semicolons", "decimal-commas", "dotted-decimals", "not-tabs"],
)
def test_data_hints_name_what_the_command_line_can_do(tmp_path, capsys, text, args, hint):
    path = write(tmp_path, "data.csv", text)
    assert cli.main(["fit", "--data", str(path), *args, "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tsmamba: error: data.csv: ") and "\n" not in err, err
    assert hint in err, err
    for python_only in ("impute=", "sort=", "fill=", "date_format=", "time_col=", "pd.", "sep=", "decimal="):
        assert python_only not in err, err


def test_fill_and_impute_read_the_file_as_read_series_does(tmp_path, capsys, monkeypatch):
    """A sales file with the shop closed on Sundays (no rows) and one empty value: the CLI had no
    way to read it but to edit the file. --fill/--impute are read_series' fill=/impute=, for fit,
    predict (with --data) and a stream's --history."""
    from tsmamba.data import read_series
    from tsmamba.estimator import TSMambaForecaster

    days = pd.date_range("2021-01-01", periods=120, freq="D")
    sales = pd.DataFrame({"date": days, "sold": np.arange(120) % 5.0, "visits": np.arange(120.0)})
    sales = sales[days.day_of_week != 6].reset_index(drop=True)
    sales.loc[10, "visits"] = np.nan
    path = tmp_path / "sales.csv"
    sales.to_csv(path, index=False)
    model = tmp_path / "m"
    tiny = ["--context", "14", "--horizon", "7", "--d-model", "8", "--n-layers", "1", "--d-state", "4",
            "--headdim", "4", "--max-epochs", "1", "--quiet", "--threads", "1"]
    assert cli.main(["fit", "--data", str(path), "--fill", "zero", "--impute", "interpolate", *tiny,
                     "--out", str(model)]) == 0
    read = read_series(path, fill="zero", impute="interpolate")
    assert (read.loc[read.index.day_of_week == 6] == 0).all().all() and read.loc["2021-01-12", "visits"] == 11
    out = tmp_path / "f.csv"
    assert cli.main(["predict", "--model", str(model), "--data", str(path), "--fill", "zero", "--impute",
                     "interpolate", "--out", str(out)]) == 0
    expected = TSMambaForecaster.load(model).predict(read)
    np.testing.assert_allclose(pd.read_csv(out, index_col=0).to_numpy(), expected.to_numpy(),
                               rtol=1e-15, atol=0)  # pandas 2's CSV parser can be one ulp off
    assert cli.main(["predict", "--model", str(model), "--fill", "zero"]) == 2
    assert "--fill fills the gaps of --data; give --data too" in capsys.readouterr().err
    following = read.index[-1] + pd.Timedelta(days=1)
    status, lines, err = stream_lines(capsys, monkeypatch, model, path, f"{following},3,120\n", "--fill",
                                      "zero", "--impute", "interpolate")
    row = pd.DataFrame({"sold": [3.0], "visits": [120.0]}, index=[following])
    expected = TSMambaForecaster.load(model).stream(read).update(row)
    assert status == 0 and err == "" and len(lines) == 1, err
    np.testing.assert_array_equal(np.array(lines[0]["forecast"]), expected.to_numpy())


def test_fit_names_a_constant_column_once(tmp_path, capsys):
    """As data.md says: through the fit's scaler, not again through the reader of --data."""
    hours = pd.date_range("2021-01-01", periods=200, freq="h")
    path = tmp_path / "c.csv"
    pd.DataFrame({"date": hours, "x": np.sin(np.arange(200) / 4), "const": 5.0}).to_csv(path, index=False)
    assert cli.main(["fit", "--data", str(path), "--context", "24", "--horizon", "4", "--max-epochs", "1",
                     "--d-model", "8", "--n-layers", "1", "--threads", "1", "--quiet",
                     "--out", str(tmp_path / "m")]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "'const'" in line]
    assert warned == ["tsmamba: warning: StandardScaler: channel 'const' is constant over the fitted rows; "
                      "scaled by its own size (1 for 0) so it maps to 0 instead of NaN"], warned


def test_long_form_hints_name_the_flags(tmp_path, capsys):
    """Long-form messages had told CLI users to give impute=, use read_panel or columns=[...]."""
    hours = pd.date_range("2021-01-01", periods=60, freq="h")
    a = pd.DataFrame({"unique_id": "a", "ds": hours, "y": np.arange(60.0), "promo": 0})
    b = a.iloc[10:].assign(unique_id="b")  # opens 10 hours later
    path = tmp_path / "long.csv"
    pd.concat([a, b]).to_csv(path, index=False)
    assert cli.main(["fit", "--data", str(path), "--context", "8", "--horizon", "2", "--out",
                     str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert ("the column(s) ['promo'] are not read (the command line reads one value per series and time)"
            in err)
    assert err.strip().splitlines()[-1].endswith(  # fill= fills such cells too: named with the flags
        "so give --fill (--fill zero fills every such cell, where no row means nothing happened, e.g. a "
        "store closed that day; --fill ffill those after the series' first value, --fill interpolate those "
        "between two of its values) or --impute, or keep only the span they share in the file)"), err
    for python_only in ("impute=", "read_panel", "columns=["):
        assert python_only not in err, err


def test_the_zeros_after_a_long_form_series_last_row_are_named_with_the_flags(tmp_path):
    """read_series' warning of fill='zero' setting a series' cells after its last row to 0, in the
    command line's words (--fill, --columns, --impute), as the CLI prints it."""
    from tsmamba.data import read_series

    hours = pd.date_range("2021-01-01", periods=6, freq="h")
    long = pd.concat([pd.DataFrame({"unique_id": "a", "ds": hours, "y": np.arange(6.0)}),
                      pd.DataFrame({"unique_id": "b", "ds": hours[:4], "y": np.arange(4.0)})])  # b closes
    with pytest.warns(UserWarning) as record:
        read_series(long, fill="zero")
    text = cli._cli_wording(str(record[0].message))
    assert text.startswith("frame: --fill zero set 2 cells to 0 after the last row of their series"), text
    assert ("leave the series out (--columns listing the others), or fill those cells another way (--fill "
            "ffill carries its last value on; --fill interpolate leaves them to --impute)") in text, text
    for python_only in ("fill=", "impute=", "columns=["):
        assert python_only not in text, text


def test_the_long_form_no_row_hint_after_a_fill_names_the_flags():
    """After --fill ffill or interpolate, the cells they cannot fill are named with --impute and --fill
    zero (they had been told impute=)."""
    from tsmamba.data import read_series
    from tsmamba.errors import DataValidationError

    hours = pd.date_range("2021-01-01", periods=6, freq="h")
    long = pd.concat([pd.DataFrame({"unique_id": "a", "ds": hours, "y": np.arange(6.0)}),
                      pd.DataFrame({"unique_id": "b", "ds": hours[2:4], "y": [1.0, 2.0]})])
    for fill, cli_advice in (
        ("ffill", "which --fill ffill cannot fill: a model reads its series on one grid, so give --impute as "
                  "well (--impute ffill fills them backwards from that first value), --fill zero if no row "
                  "means nothing happened (a store not yet open), or keep only the span they share in the "
                  "file)"),
        ("interpolate", "which --fill interpolate cannot fill: a model reads its series on one grid, so give "
                        "--impute as well (--impute interpolate holds the nearest value), --fill zero if no "
                        "row means nothing happened (a store not yet open, or closed), or keep only the span "
                        "they share in the file)"),
    ):
        with pytest.raises(DataValidationError) as err:
            read_series(long, fill=fill)
        text = cli._cli_wording(str(err.value))
        assert text.endswith(cli_advice), text
        for python_only in ("fill=", "impute=", "read_panel"):
            assert python_only not in text, text


def test_long_form_with_other_column_names_is_read_with_id_and_value_col_flags(tmp_path, capsys):
    """A long-form file whose columns are not unique_id/ds/y had no CLI spelling: --time-col named the
    wide time column only, and the file was refused as wide form. Now --id-col/--value-col (with
    --time-col) read it, in fit, predict --data and backtest, and a config file can name them."""
    hours = pd.date_range("2021-01-01", periods=80, freq="h")
    long = pd.concat([pd.DataFrame({"store": s, "timestamp": hours, "sales": np.sin(np.arange(80) / k)})
                      for s, k in (("north", 3), ("south", 5))])
    path = tmp_path / "sales.csv"
    long.to_csv(path, index=False)
    tiny = ["--context", "8", "--horizon", "2", "--d-model", "8", "--n-layers", "1", "--max-epochs", "1",
            "--threads", "1", "--quiet"]
    assert cli.main(["fit", "--data", str(path), *tiny, "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"tsmamba: error: {path.name}: time column 'date' not found; the columns are ['store', 'timestamp', "
        "'sales']. Pass --time-col NAME with the name of the time column")
    assert cli.main(["fit", "--data", str(path), "--time-col", "timestamp", *tiny,
                     "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"tsmamba: error: {path.name}: the times in 'timestamp' repeat, and column 'store' tells 2 series "
        "apart, each once per time: is this long form, one row per series and time? Pass --id-col store "
        "--time-col timestamp --value-col sales to read one channel per series id; a wide table has one row "
        "per time")
    layout = ["--time-col", "timestamp", "--id-col", "store", "--value-col", "sales"]
    assert cli.main(["fit", "--data", str(path), *layout, *tiny, "--out", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(tmp_path / "m"), "--data", str(path), *layout]) == 0
    forecast = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(forecast.columns) == ["timestamp", "north", "south"] and len(forecast) == 2
    assert forecast["timestamp"].iloc[0] == "2021-01-04 08:00:00"
    # the model's time column is the default, as Python's predict reads a file ('date' had been
    # asked for): in long form with the id and value flags, and in a wide file of the same series
    assert cli.main(["predict", "--model", str(tmp_path / "m"), "--data", str(path), "--id-col", "store",
                     "--value-col", "sales"]) == 0
    assert pd.read_csv(io.StringIO(capsys.readouterr().out)).equals(forecast)
    wide = long.pivot(index="timestamp", columns="store", values="sales").reset_index()
    wide.to_csv(tmp_path / "wide.csv", index=False)
    assert cli.main(["predict", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "wide.csv")]) == 0
    assert pd.read_csv(io.StringIO(capsys.readouterr().out)).equals(forecast)
    config = write(tmp_path, "layout.toml", 'ds_col = "timestamp"\nid_col = "store"\nvalue_col = "sales"\n')
    assert cli.main(["backtest", "--data", str(path), "--config", str(config), *tiny, "--n-windows", "2",
                     "--no-baselines", "--out", str(tmp_path / "r")]) == 0
    scored = pd.read_csv(tmp_path / "r" / "forecasts.csv")
    assert set(scored["channel"]) == {"north", "south"}, scored.columns
    # --protocol ltsf reads it with the same flags (helper-126: it refused them, while the error
    # reading the file without them said to pass them)
    assert cli.main(["backtest", "--protocol", "ltsf", "--data", str(path), *layout, *tiny, "--no-baselines",
                     "--out", str(tmp_path / "ltsf")]) == 0
    report = json.loads((tmp_path / "ltsf" / "metrics.json").read_text())
    assert report["data"]["channels"] == ["north", "south"] and report["data"]["source"] == str(path)
    assert report["data"]["name"] == str(path) and report["data"]["n_rows"] == 80
    # only --id-col: the file is long form, and what is missing is named with the flags
    assert cli.main(["fit", "--data", str(path), "--id-col", "store", *tiny,
                     "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"tsmamba: error: {path.name}: long-form data needs the columns 'store', 'ds' and 'y'; missing "
        "['ds', 'y']; the columns are ['store', 'timestamp', 'sales']. Pass --id-col, --time-col and "
        "--value-col to name them")


@pytest.mark.parametrize("argv, refusal", [
    (["fit", "--data", "ETTh1", "--id-col", "store"], "--id-col is for a CSV file given by its path"),
    (["predict", "--model", "m", "--value-col", "sales"], "--value-col names the value column of --data"),
    # how --data is written: without --data they had been ignored (the forecast is written as always)
    (["predict", "--model", "m", "--sep", ";"], "--sep splits the fields of --data; give --data too (or "
     "drop it): the forecast is written with ISO 8601 times, ',' between fields and '.' decimals"),
    (["predict", "--model", "m", "--decimal", ","], "--decimal reads the decimal mark of --data; give"),
    (["predict", "--model", "m", "--date-format", "%d/%m/%Y"],
     "--date-format reads the timestamps of --data"),
    (["predict", "--model", "m", "--encoding", "cp1252"], "--encoding decodes --data; give --data too (or "
     "drop it)"),
    (["backtest", "--protocol", "ltsf", "--data", "ETTh1", "--value-col", "y"],
     "--data ETTh1 is a registry data set, read as published; drop --value-col"),
    (["backtest", "--protocol", "ltsf", "--data", "ETTh1", "--columns", "OT"],
     "--protocol ltsf uses every channel and row of the benchmark file as published; drop --columns"),
])
def test_long_form_flags_are_refused_where_they_would_be_ignored(tmp_path, capsys, argv, refusal):
    assert cli.main([*argv, "--out", str(tmp_path / "out")] if argv[0] != "predict" else argv) == 2
    assert refusal in capsys.readouterr().err


def test_backtest_names_values_made_from_later_rows_and_records_the_repairs(tmp_path, capsys):
    """--impute ffill copies a late series' first value backwards: the warning names the flags, and
    metrics.json records what --fill/--impute changed (it had recorded neither)."""
    hours = pd.date_range("2021-01-01", periods=120, freq="h")
    frame = pd.DataFrame({"date": hours, "a": np.sin(np.arange(120) / 3), "b": np.cos(np.arange(120) / 5)})
    frame.loc[:79, "b"] = np.nan  # b opens at row 80
    path = tmp_path / "late.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "report"
    assert cli.main(["backtest", "--data", str(path), "--impute", "ffill", "--context", "8", "--horizon", "2",
                     "--start", "60", "--stride", "10", "--d-model", "8", "--n-layers", "1", "--max-epochs",
                     "1", "--no-baselines", "--threads", "1", "--quiet", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    # origins 60, 70, ..., 110: those at 60 and 70 read b's rows 0..70 ahead of row 80, made from it
    assert ("late.csv: values of 'b' (71) were made from later rows (--impute ffill fills a series' leading "
            "values backwards; --impute interpolate and --fill interpolate read the next value): the "
            "forecasts of 2 of the 6 windows read them" in err), err
    assert "or start the backtest after them (--start)" in err and "impute='" not in err, err
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert config["repairs"] == {"impute": "ffill", "imputed_values": 80, "from_later_rows": {"b": 71},
                                 "from_later_windows": 2}


def test_backtest_says_how_many_target_cells_it_left_out_as_filled(tmp_path, capsys):
    """A long-form file whose store b opens late, read with --fill zero: the zeros before its first
    row are no sales anyone observed, so no score counts them (nor MASE's scale, which says why b
    has none), and the table, --json and metrics.json say how many target cells were left out."""
    days = pd.date_range("2021-01-01", periods=120, freq="D")
    a = pd.DataFrame({"day": days, "store": "a", "sales": 10 + np.sin(np.arange(120) / 3)})
    b = pd.DataFrame({"day": days[95:], "store": "b", "sales": 50 + np.cos(np.arange(95, 120) / 4)})
    path = tmp_path / "stores.csv"
    pd.concat([a, b]).to_csv(path, index=False)
    argv = ["backtest", "--data", str(path), "--time-col", "day", "--id-col", "store", "--value-col", "sales",
            "--fill", "zero", "--context", "8", "--horizon", "2", "--start", "89", "--stride", "5",
            "--d-model", "8", "--n-layers", "1", "--max-epochs", "1", "--threads", "1", "--quiet"]
    # origins 89, 94, ..., 114: b's targets on days 90, 91 (origin 89) and 95.. (observed) -> 2 cells
    assert cli.main([*argv, "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert "scores leave out 2 of 24 target cells (b 2): filled or imputed when the data was read" in out, out
    # b has no observed value in the training rows: not the 'constant over the training rows' it had said
    assert "MASE leaves out ['b']: their training rows hold no pair of observed values" in out, out
    assert "constant over the training rows" not in out, out
    config = json.loads((tmp_path / "report" / "metrics.json").read_text())["config"]
    assert (config["unscored"]["target_cells"], config["unscored"]["per_channel"]) == (2, {"b": 2})
    assert cli.main([*argv, "--no-baselines", "--json", "--out", str(tmp_path / "again")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["config"]["unscored"]["target_cells"] == 2


def test_ltsf_reads_and_scales_the_file_once(tmp_path, monkeypatch):
    """It was prepared twice: once to validate it before Lightning loads, once by the backtest."""
    import tsmamba.backtest
    import tsmamba.data

    rows = "date,a,b\n" + "".join(f"{pd.Timestamp('2021-01-01') + pd.Timedelta(hours=h)},{h % 24},{h % 7}\n"
                                  for h in range(200))
    path = write(tmp_path, "data.csv", rows)
    calls = []

    def counted(*args, **kwargs):
        calls.append(args[0])
        return prepare(*args, **kwargs)

    prepare = tsmamba.data.prepare_ltsf
    monkeypatch.setattr(tsmamba.data, "prepare_ltsf", counted)
    monkeypatch.setattr(tsmamba.backtest, "prepare_ltsf", counted)
    assert cli.main(["backtest", "--protocol", "ltsf", "--data", str(path), *TINY_MODEL, "--no-baselines",
                     "--quiet", "--out", str(tmp_path / "r")]) == 0
    assert calls == [str(path)]
    report = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert report["data"]["source"] == str(path) and report["data"]["n_rows"] == 200


def test_ltsf_data_hints_do_not_name_the_flags_it_refuses(tmp_path, capsys):
    """--protocol ltsf refuses --fill and --impute (rows as published), so its hints name the file."""
    for text, hint in ((GOOD_ROWS.replace("2021-01-01 05:00:00,5,10\n", ""), "Add the missing rows to the "
                        "file first (--protocol ltsf reads its rows as written)"),
                       (GOOD_ROWS.replace(",7,14", ",nan,14"), "Fill them in the file first (--protocol ltsf "
                        "reads its rows as written)")):
        path = write(tmp_path, "data.csv", text)
        assert cli.main(["backtest", "--protocol", "ltsf", "--data", str(path), "--context", "2", "--horizon",
                         "1", "--out", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("tsmamba: error: data.csv: ") and err.endswith(hint), err
        assert "--fill" not in err and "--impute" not in err, err
        # the same when --time-col says how to read it
        path.write_text(text.replace("date,", "when,", 1))
        assert cli.main(["backtest", "--protocol", "ltsf", "--data", str(path), "--time-col", "when",
                         "--context", "2", "--horizon", "1", "--out", str(tmp_path / "r")]) == 2
        assert capsys.readouterr().err.strip().endswith(hint)


def test_a_sigterm_during_training_exits_143_not_0(tmp_path, capsys, monkeypatch, small_csv, tiny_config):
    # Lightning turns SIGTERM into SIGTERMException, a SystemExit with code None: status 0
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from tsmamba.estimator import TSMambaForecaster

    def terminated(self, *args, **kwargs):
        raise SIGTERMException

    monkeypatch.setattr(TSMambaForecaster, "fit", terminated)
    out = tmp_path / "m"
    assert cli.main(["fit", "--data", str(small_csv), "--context", "48", "--horizon", "4", "--config",
                     str(tiny_config), "--out", str(out), "--quiet"]) == 143
    assert capsys.readouterr().err == "tsmamba: terminated\n" and not out.exists()


def test_running_out_of_memory_is_one_line_naming_the_flags_to_lower(tmp_path, capsys, monkeypatch, small_csv,
                                                                     tiny_config):
    import torch

    from tsmamba import training

    def greedy(*args, **kwargs):
        torch.empty(2**50, dtype=torch.uint8)  # refused by torch's allocator: more than any machine has

    monkeypatch.setattr(training, "forecast_loss", greedy)
    out = tmp_path / "m"
    assert cli.main(["fit", "--data", str(small_csv), "--context", "48", "--horizon", "4", "--config",
                     str(tiny_config), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tsmamba: error: fit ran out of memory (it asked for 1,048,576.0 GiB more): set "
                          "--micro-batch-size ") and "or lower --batch-size (" in err, err
    assert "--context (48)" in err and err.count("\n") == 1, err
    assert not out.exists()


def test_a_failed_allocation_outside_a_fit_is_one_line_too(tmp_path, capsys, monkeypatch, small_csv):
    from tsmamba import data

    def greedy(*args, **kwargs):
        np.empty(2**50, dtype=np.uint8)

    monkeypatch.setattr(data, "read_series", greedy)
    assert cli.main(["fit", "--data", str(small_csv), "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err == ("tsmamba: error: 'tsmamba fit' ran out of memory (it asked for 1.00 "
                                       "PiB more): give it fewer rows or channels, or a smaller model\n")


@pytest.fixture
def sigterm_guard() -> Iterator[Callable[..., None]]:
    """SIGTERM raises AssertionError in the test (a command that no longer handled it would
    otherwise end the whole test run); yields the handler, which the command must put back."""
    import signal

    def reached_the_test(signum, frame):
        raise AssertionError("the SIGTERM reached the test: the command did not handle it")

    previous = signal.signal(signal.SIGTERM, reached_the_test)
    try:
        yield reached_the_test
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_sigterm_while_the_report_is_written_exits_143_and_leaves_no_staging(tmp_path, capsys, monkeypatch,
                                                                              small_csv, tiny_config,
                                                                              sigterm_guard):
    """Outside Lightning's training loop a SIGTERM had killed the command at once: no message,
    and the report's staging folder (11 MB) left behind."""
    import signal

    from tsmamba import backtest

    def killed(path):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(backtest, "fsync_path", killed)  # the first: a staged file, before any rename
    out = tmp_path / "r"
    status = cli.main(["backtest", "--data", str(small_csv), "--context", "48", "--horizon", "12", "--start",
                       "600", "--stride", "20", "--config", str(tiny_config), "--quiet", "--out", str(out)])
    assert (status, capsys.readouterr().err) == (143, "tsmamba: terminated\n")
    assert not out.exists()  # no staging folder, no half report, and not the folder made for it
    assert signal.getsignal(signal.SIGTERM) is sigterm_guard


def test_a_sigterm_while_the_model_is_saved_leaves_no_temporary_folder(tmp_path, capsys, monkeypatch,
                                                                       small_csv, tiny_config, sigterm_guard):
    import signal

    from tsmamba import checkpoint

    real, calls = checkpoint._write_synced, []

    def killed_at_the_second_file(path, data, mode=None):
        calls.append(path)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        real(path, data, mode)

    monkeypatch.setattr(checkpoint, "_write_synced", killed_at_the_second_file)
    status = cli.main(["fit", "--data", str(small_csv), "--context", "48", "--horizon", "4", "--config",
                       str(tiny_config), "--out", str(tmp_path / "m"), "--quiet"])
    assert (status, capsys.readouterr().err) == (143, "tsmamba: terminated\n")
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []  # the save's .m.*.tmp is gone


def test_fit_refuses_an_out_it_cannot_write_before_training(tmp_path, capsys, monkeypatch, small_csv):
    """A read-only parent had been found only when the trained model was saved."""
    import tempfile

    try:  # /sys refuses new files, even to root (chmod does not stop root)
        with tempfile.TemporaryFile(dir="/sys"):
            pytest.skip("/sys takes files here: no folder to test an unwritable --out with")
    except OSError:
        pass
    from tsmamba.estimator import TSMambaForecaster

    monkeypatch.setattr(TSMambaForecaster, "fit", lambda *a, **k: pytest.fail("trained before the check"))
    assert cli.main(["fit", "--data", str(small_csv), "--out", "/sys/tsmamba_model"]) == 2
    assert re.fullmatch(r"tsmamba: error: --out /sys/tsmamba_model cannot be written \(/sys: .+\); choose "
                        r"another folder\n", capsys.readouterr().err)
    (tmp_path / "link").symlink_to("/sys/tsmamba_model")  # the save follows it: /sys is checked
    assert cli.main(["fit", "--data", str(small_csv), "--out", str(tmp_path / "link")]) == 2
    assert re.fullmatch(r"tsmamba: error: --out .*/link cannot be written \(/sys: .+\); choose another "
                        r"folder\n", capsys.readouterr().err)


def test_a_sigterm_its_parent_ignores_stays_ignored():
    """`trap '' TERM` before starting tsmamba: the command had made SIGTERM stop it."""
    import signal

    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with cli._terminated_as_exception():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_running_out_of_memory_while_forecasting_names_no_python_argument(tmp_path, capsys, monkeypatch,
                                                                          small_csv, tiny_config):
    """forecast_origins' hint (batch_size) names an argument no flag sets: the command says what to
    give it instead."""
    import torch

    from tsmamba.estimator import TSMambaForecaster

    def greedy(*args, **kwargs):
        torch.empty(2**50, dtype=torch.uint8)

    monkeypatch.setattr(TSMambaForecaster, "_forecast_values", greedy)
    status = cli.main(["backtest", "--data", str(small_csv), "--context", "48", "--horizon", "12", "--start",
                       "600", "--stride", "20", "--config", str(tiny_config), "--quiet", "--out",
                       str(tmp_path / "r")])
    said = ("tsmamba: error: 'tsmamba backtest' ran out of memory (it asked for 1,048,576.0 GiB more): give "
            "it fewer rows or channels, or a smaller model\n")
    assert (status, capsys.readouterr().err) == (2, said)


def test_warnings_name_flags_not_python_arguments(tmp_path, capsys, small_csv, tiny_config):
    # 700 rows: a tenth (70) is too few validation rows for horizon 96
    assert cli.main(["fit", "--data", str(small_csv), "--context", "48", "--horizon", "96", "--config",
                     str(tiny_config), "--out", str(tmp_path / "m"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "tsmamba: warning: --val-fraction 0.1 of 700 rows holds 70 validation rows" in err, err
    assert "(raise --val-fraction or give more rows)" in err and "val_df=" not in err, err


def test_out_paths_expand_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.pathname("~/reports/x") == tmp_path / "reports" / "x"  # a literal '~' folder before


def test_a_closed_stdout_ends_quietly(monkeypatch, capsys):
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert cli.main(["datasets"]) == 0  # like `tsmamba datasets | head -1`
    assert capsys.readouterr().err == ""


def test_a_stdout_closed_from_the_start_is_one_error_line_before_the_work(monkeypatch, capsys):
    """`tsmamba predict ... >&-`: Python has no sys.stdout, where the results go; an
    AttributeError's traceback had come out (after the work), with status 1."""
    monkeypatch.setattr(sys, "stdout", None)
    assert cli.main(["datasets"]) == 2
    assert capsys.readouterr().err == (
        "tsmamba: error: standard output is closed, and 'tsmamba datasets' prints its results there; "
        "redirect it to a file, or to /dev/null to discard them\n")


def test_a_stderr_closed_from_the_start_keeps_messages_out_of_stdout(monkeypatch, capsys, small_csv,
                                                                     tiny_config, tmp_path):
    """`tsmamba fit ... 2>&-`: the notes, warnings and progress bars go nowhere. The notes had
    been printed on stdout, among the results, and the progress bar failed the fit with an
    AttributeError (status 1, its traceback lost with stderr)."""
    monkeypatch.setattr(sys, "stderr", None)
    assert cli.main(["datasets", "--json"]) == 0  # its 'searched:' line is for stderr
    assert isinstance(json.loads(capsys.readouterr().out), list)
    model = tmp_path / "m"
    assert cli.main(["fit", "--data", str(small_csv), "--columns", "OT", "--context", "24", "--horizon", "4",
                     "--config", str(tiny_config), "--out", str(model)]) == 0  # with progress bars
    assert capsys.readouterr().out.splitlines()[1:] == [f"model saved to {model}/"]


def test_a_full_standard_output_is_named(monkeypatch, capsys):
    class FullDisk(io.StringIO):  # `tsmamba datasets > /dev/full`
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stdout", FullDisk())
    assert cli.main(["datasets"]) == 2  # it had said 'No space left on device', not where
    assert capsys.readouterr().err == "tsmamba: error: No space left on device: standard output\n"


def test_a_closed_stderr_silences_the_messages_and_the_work_goes_on(monkeypatch, capsys, small_csv,
                                                                    tiny_config, tmp_path):
    """`tsmamba fit ... 2>&1 | head -1`: once stderr's reader has gone, the notes and progress bars
    go nowhere and the fit goes on to save the model. The next write there had raised
    BrokenPipeError, ending the fit with status 1 (and its error line, for stderr, with it)."""
    class ReadOnce(io.StringIO):  # its reader takes the first line, then goes away
        def write(self, text: str) -> int:
            if "\n" in self.getvalue():
                raise BrokenPipeError(32, "Broken pipe")
            return super().write(text)

    stderr = ReadOnce()
    monkeypatch.setattr(sys, "stderr", stderr)
    model = tmp_path / "m"
    assert cli.main(["fit", "--data", str(small_csv), "--columns", "OT", "--context", "24", "--horizon", "4",
                     "--config", str(tiny_config), "--out", str(model)]) == 0  # with progress bars
    assert stderr.getvalue() == "training on etth1_small.csv: 700 rows x 1 channel\n"
    assert capsys.readouterr().out.splitlines()[1:] == [f"model saved to {model}/"]
    assert read_meta(model)["columns"] == ["OT"]


def test_a_broken_pipe_elsewhere_is_an_error(monkeypatch, capsys):
    from tsmamba import datasets

    def worker_died(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(datasets, "list_datasets", worker_died)  # not stdout's pipe
    assert cli.main(["datasets"]) == 2
    assert capsys.readouterr().err == "tsmamba: error: Broken pipe\n"


def test_library_output_goes_to_stderr_and_stdout_holds_the_results(monkeypatch, capsys):
    from tsmamba import datasets

    real = datasets.list_datasets

    def chatty(*args, **kwargs):
        print("a library note")  # like a progress bar: `tsmamba ... > results.txt` kept them
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets, "list_datasets", chatty)
    assert cli.main(["datasets"]) == 0
    out, err = capsys.readouterr()
    assert err == "a library note\n" and "a library note" not in out and out.startswith("name")


def test_threads_hold_for_the_command_and_are_given_back(monkeypatch, capsys):
    """With torch loaded, --threads set torch's count and left it so for the caller."""
    import torch

    seen = []
    monkeypatch.setattr(cli.COMMANDS["datasets"], "func", lambda run: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    assert cli.main(["datasets", "--threads", str(wanted)]) == 0
    assert seen == [wanted] and torch.get_num_threads() == before


def test_model_options_show_the_estimators_defaults(capsys):
    """--help shows TSMambaForecaster's defaults, read from its source (no torch import): they must
    be the signature's."""
    import inspect

    from tsmamba.estimator import TSMambaForecaster

    signature = {name: p.default for name, p in inspect.signature(TSMambaForecaster).parameters.items()}
    defaults = cli._model_defaults()
    assert defaults == signature
    with pytest.raises(SystemExit):
        cli.main(["fit", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for text in ("--d-model N model width (default 64)", "--loss {mse,mae,huber} training loss (default mse)",
                 "(default false)", "(default: the context length)", "reads (default: d_model)"):
        assert text in shown, text
    with pytest.raises(SystemExit):  # the demo's own settings, not the estimator's defaults
        cli.main(["demo", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for name, value in cli.DEMO_SETTINGS.items():
        if name not in ("context", "horizon"):
            flag = f"--{name.replace('_', '-')}"
            written = str(value).lower() if isinstance(value, bool) else str(value)
            assert re.search(rf"{flag} (?:(?! --[a-z]).)*?\(default {re.escape(written)}\)", shown), flag
    assert "(default: d_model)" not in shown and "(default 64)" not in shown


def test_cli_wording_keys_are_library_messages():
    # a library sentence reworded without its _CLI_WORDING key would show Python advice again;
    # the parser joins implicitly concatenated literals, and a key lies in one literal of an f-string
    literals = set()
    for path in Path(cli.__file__).parent.rglob("*.py"):
        if path.name != "cli.py":
            nodes = ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            literals |= {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    dead = [key for key, _ in cli._CLI_WORDING if not any(key in text for text in literals)]
    assert dead == []


def test_predict_and_stream_name_the_models_settings_not_flags_they_lack(tmp_path, capsys, small_csv,
                                                                           tiny_config):
    """helper-145: a short file given to predict said 'reads the last --context 24 rows', a flag
    value predict refuses (its --context is window or full)."""
    model = tmp_path / "m"
    assert cli.main(["fit", "--data", str(small_csv), "--config", str(tiny_config), "--out", str(model)]) == 0
    short = tmp_path / "short.csv"
    pd.read_csv(small_csv).head(5).to_csv(short, index=False)
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(model), "--data", str(short)]) == 2
    err = capsys.readouterr().err.strip()
    assert "(the model's context_length)" in err and "--context-mode full" in err, err
    assert "--context 2" not in err and "--context 1" not in err, err
    assert cli._cli_wording("need context_length=8 rows", model_flags=False) == "need context_length=8 rows"


def test_parameter_names_left_in_messages_become_the_flags_that_set_them():
    """helper-111's fuzz: '--seed -1' said 'random_state must be ...', '--headdim 3' to 'change
    d_model/expand', a short file 'predict reads the last context_length=8 rows'."""
    for library, flags in (
        ("random_state must be an integer in [0, 2**32) or None (unseeded), got -1",
         "--seed must be an integer in [0, 2**32), got -1"),
        ("not a multiple of headdim (16); pick headdim dividing 24 (e.g. 8) or change d_model/expand",
         "not a multiple of --headdim (16); pick --headdim dividing 24 (e.g. 8) or change --d-model or "
         "--expand"),
        ("window forecasts need context_length=8 rows", "window forecasts need --context 8 rows"),
        ("train_length=5 is shorter than one training window (context_length + horizon = 8 + 2 = 10 rows)",
         "--train-length 5 is shorter than one training window (--context + horizon = 8 + 2 = 10 rows)"),
        ("train_length applies to window='sliding' (an expanding window keeps every row): pass "
         "window='sliding', or drop train_length",  # helper-124: had stayed in Python's words
         "--train-length applies to --window sliding (an expanding window keeps every row): add --window "
         "sliding, or drop --train-length"),
        # left alone: paths and file names, channel names, quoted names, prose words, and a settings
        # file's keys (helper-112: 'd_model.csv' had become '--d-model.csv', channels listed
        # '(time, context_length, head_dim)' flags)
        ("/data/d_model/x.csv: 'head_window' and the forecast horizon", "/data/d_model/x.csv: 'head_window' "
         "and the forecast horizon"),
        ("d_model.csv: time column 'date' not found", "d_model.csv: time column 'date' not found"),
        ("n_layers/meta.json is missing: n_layers is not a complete tsmamba save",
         "n_layers/meta.json is missing: n_layers is not a complete tsmamba save"),
        ("line 1: expected 3 fields (time, context_length, head_dim), got 2",
         "line 1: expected 3 fields (time, context_length, head_dim), got 2"),
        ("--config c.toml sets 'd_model' twice (d_model and [model] d_model); keep one",
         "--config c.toml sets 'd_model' twice (d_model and [model] d_model); keep one"),
    ):
        assert cli._cli_wording(library) == flags


def test_the_no_frequency_advice_is_reworded_for_the_command_line():
    library = ("x.csv: no regular frequency can be inferred from the timestamps: ... do not fit one grid. "
               "Resample the data to a fixed step (e.g. df.resample('7min').mean()) and pass the result.")
    assert cli._cli_wording(library).endswith("grid. Resample the data to a fixed step in the file first.")


def test_notes_above_the_header_are_told_to_be_deleted(tmp_path, capsys):
    """The command line reads no DataFrame: its advice is to delete the notes, not pd.read_csv."""
    path = tmp_path / "export.csv"
    path.write_text("# exported by X\ndate,a\n2021-01-01,1\n2021-01-02,2\n", encoding="utf-8")
    assert cli.main(["fit", "--data", str(path), "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "tsmamba: error: export.csv: the header is on line 2, not line 1: the line above it ('# exported by "
        "X') is a note, not the table; delete it, so that the header comes first")


def test_debug_shows_the_traceback(tmp_path):
    proc = tsmamba("backtest", "--data", tmp_path / "missing.csv", "--debug")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and "DataNotFoundError" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("tsmamba: error: data file not found")


def test_no_command_is_a_usage_error():
    proc = tsmamba()
    assert proc.returncode == 2 and "choose a command" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1  # one line, like every usage error (was the help too)


def test_an_option_before_the_command_says_where_options_go(capsys):
    assert cli.main(["--threads", "1", "fit"]) == 2  # it said: invalid choice: '1'
    err = capsys.readouterr().err
    assert err.startswith("tsmamba: error: options go after the command (tsmamba COMMAND --threads ...)"), err


def test_help_of_every_command_has_examples():
    for name in cli.COMMANDS:
        proc = tsmamba(name, "--help")
        assert proc.returncode == 0, proc.stderr
        assert "examples:" in proc.stdout and f"tsmamba {name}" in proc.stdout
    top = subprocess.run([sys.executable, "-m", "tsmamba", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert top.returncode == 0 and all(name in top.stdout for name in cli.COMMANDS)


def test_python_m_tsmamba_cli_knows_every_command():
    proc = subprocess.run([sys.executable, "-m", "tsmamba.cli", "stream", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: tsmamba stream")


@pytest.mark.parametrize("command", ["fit", "backtest"])
def test_published_weather_is_refused_before_training(tmp_path, capsys, monkeypatch, benchmark_file,
                                                       command):
    # its timestamps repeat and skip: only the LTSF protocol (rows by position) can use it
    benchmark_file("Weather")
    monkeypatch.setitem(sys.modules, "tsmamba.estimator", None)  # importing it would fail
    status = cli.main([command, "--data", "Weather", "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in err, err
    assert err.startswith("tsmamba: error: Weather: the published timestamps repeat or skip (1 duplicate")
    assert "supported only by 'tsmamba backtest --protocol ltsf'" in err


def test_datasets_lists_where_files_are(tmp_path):
    (tmp_path / "ETTh1.csv").write_text(GOOD_ROWS, encoding="utf-8")
    proc = tsmamba("datasets", "--json", "--threads", "1", env={"TSMAMBA_DATA": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    entries = {e["name"]: e for e in json.loads(proc.stdout)}
    assert entries["ETTh1"]["path"] == str(tmp_path / "ETTh1.csv")
    assert {"ETTh1", "ETTm1", "Weather"} <= set(entries)
    text = tsmamba("datasets", env={"TSMAMBA_DATA": str(tmp_path)}).stdout
    assert str(tmp_path / "ETTh1.csv") in text and "searched:" in text
    (tmp_path / "mine").mkdir()
    text = tsmamba("datasets", "--data-dir", tmp_path / "mine", env={"TSMAMBA_DATA": str(tmp_path)}).stdout
    assert f"searched: --data-dir {tmp_path / 'mine'}, then $TSMAMBA_DATA = {tmp_path}, then" in text


def test_datasets_says_when_tsmamba_data_is_unset(monkeypatch, capsys):
    monkeypatch.delenv("TSMAMBA_DATA", raising=False)
    assert cli.main(["datasets"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("searched: ") and "($TSMAMBA_DATA unset)" in last and "$TSMAMBA_DATA =" not in last
    from tsmamba import datasets  # installed from a wheel: one folder, named once (it was twice)

    monkeypatch.setattr(datasets, "source_checkout", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", "/tmp/no-such-cache")
    assert cli.main(["datasets"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "searched: /tmp/no-such-cache/tsmamba/datasets ($TSMAMBA_DATA unset)"


@pytest.mark.parametrize("kind", ["file", "missing"])
def test_datasets_says_when_tsmamba_data_is_not_a_folder(monkeypatch, capsys, tmp_path, kind):
    """A file or a missing folder had been listed as searched, and was not."""
    env = tmp_path / "datasets"
    if kind == "file":
        env.write_text("not a folder")
    monkeypatch.setenv("TSMAMBA_DATA", str(env))
    assert cli.main(["datasets"]) == 2
    captured = capsys.readouterr()
    what = "a file" if kind == "file" else "no such folder"
    assert captured.err == (f"tsmamba: error: $TSMAMBA_DATA = {env} is not a folder ({what}); point it at "
                            "the folder that holds the data files (export TSMAMBA_DATA=/path/to/datasets), "
                            "or unset it\n")
    assert captured.out == ""


def test_demo_refuses_a_corrupt_etth1_as_backtest_does(monkeypatch, capsys, tmp_path):
    """The demo passed the file's path on, read without its checksum: a corrupt ETTh1.csv was
    trained and scored on, where 'backtest --data etth1 --protocol ltsf' refused it."""
    import tsmamba.backtest
    from tsmamba import datasets

    (tmp_path / "ETTh1.csv").write_text(GOOD_ROWS, encoding="utf-8")
    monkeypatch.setenv("TSMAMBA_DATA", str(tmp_path))
    monkeypatch.setattr(datasets, "download_dir", lambda: tmp_path / "downloads")

    def backtest_ltsf(*args, **kwargs):
        raise AssertionError("the demo ran on the corrupt file")

    monkeypatch.setattr(tsmamba.backtest, "backtest_ltsf", backtest_ltsf)
    assert cli.main(["demo", "--out", str(tmp_path / "demo"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tsmamba: error: {tmp_path / 'ETTh1.csv'}: sha256 ") and err.count("\n") == 1, err
    assert f"does not match {datasets.REGISTRY['ETTh1'].sha256} recorded in the registry" in err
    assert not (tmp_path / "demo").exists()


def test_seed_and_device_belong_to_the_commands_that_train():
    parser = cli.build_parser()
    for name in ("fit", "backtest", "demo"):
        args = parser.parse_args([name, "--seed", "3", "--device", "cpu"])
        assert args.seed == 3 and args.device == "cpu"
    for name in ("predict", "stream", "datasets"):  # they would ignore them
        assert "--device" not in parser.subcommands[name].format_help()


def test_the_early_model_check_knows_the_save_format(tmp_path):
    from tsmamba.estimator import FORMAT

    (tmp_path / "meta.json").write_text(json.dumps({"format": FORMAT, "columns": ["a"], "files": {}}))
    assert cli.model_columns(tmp_path) == ["a"]  # the estimator's own format passes the early check


# ------------------------------------------------------------------------------------------
# settings: one table, config file below flags


def test_model_options_are_estimator_parameters():
    from tsmamba.estimator import TSMambaForecaster

    params = TSMambaForecaster().get_params()
    assert {p.name for p in cli.MODEL_PARAMS} <= set(params)


def test_config_file_below_flags(tmp_path):
    config = write(tmp_path, "c.toml", '[model]\nd_model = 8\nmax_epochs = 3\nhorizon = 12\n'
                   '[model.trainer_kwargs]\nlimit_train_batches = 2\n')
    parser = cli.build_parser()
    args = parser.parse_args(["backtest", "--data", "x.csv", "--config", str(config), "--max-epochs", "2",
                              "--seed", "7"])
    opts, given = cli._resolve(cli.COMMANDS["backtest"], args)
    assert {"d_model", "max_epochs", "seed", "config", "data"} <= given and "stride" not in given
    run = cli.Run("backtest", opts, sys.stdout, sys.stderr, given)
    params = run.model_params()
    assert params["d_model"] == 8 and params["max_epochs"] == 2 and params["horizon"] == 12
    assert params["context_length"] == 96 and params["random_state"] == 7
    assert params["trainer_kwargs"] == {"limit_train_batches": 2, "accelerator": "cpu"}
    assert opts["stride"] == 1 and opts["protocol"] == "rolling"  # command defaults
    json_config = write(tmp_path, "c.json", json.dumps({"refit": 5, "window": "sliding"}))
    args = parser.parse_args(["backtest", "--config", str(json_config)])
    opts, _ = cli._resolve(cli.COMMANDS["backtest"], args)
    assert opts["refit"] == 5 and opts["window"] == "sliding"


@pytest.mark.parametrize("argv, error", [
    # Path('') is the current folder: a backtest had written its report there
    (["backtest", "--data", "ETTh1", "--out", ""], "argument --out: expected a path, got an empty one"),
    (["fit", "--data", "x.csv", "--time-col", " ", "--out", "m"],  # it had read as 'date'
     "argument --time-col: expected a value, got an empty one"),
    (["predict", "--model", "m", "--data", ""],  # it had forecast from the training series
     "argument --data: expected a value, got an empty one"),
    (["fit", "--data", "x.csv", "--threads", "99999999999999999999999", "--out", "m"],  # overflowed in torch
     "argument --threads: expected at most 1024 threads"),
])
def test_empty_and_absurd_option_values_are_usage_errors(argv, error, capsys):
    with pytest.raises(SystemExit) as exited:  # argparse's usage error
        cli.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tsmamba: error: {error}") and err.count("\n") == 1, err


def test_a_data_dir_that_is_no_folder_is_an_error(tmp_path, capsys):
    (tmp_path / "f.csv").write_text("date,a\n")
    for given in (tmp_path / "missing", tmp_path / "f.csv"):  # they had been listed as searched
        assert cli.main(["datasets", "--data-dir", str(given)]) == 2
        assert f"--data-dir {given} is not a folder" in capsys.readouterr().err


def test_a_switch_a_config_file_turns_on_is_turned_off_by_its_no_flag(tmp_path):
    """quiet = true (or json, all_forecasts, no_baselines) in a shared config file could not be
    undone for one run: the flags could only switch them on."""
    config = write(tmp_path, "c.toml",
                   "quiet = true\njson = true\nall_forecasts = true\nno_baselines = true\n")
    parser = cli.build_parser()
    resolve = lambda *flags: cli._resolve(cli.COMMANDS["backtest"], parser.parse_args(  # noqa: E731
        ["backtest", "--data", "x.csv", "--config", str(config), *flags]))[0]
    from_file = resolve()
    assert (from_file["quiet"], from_file["json"], from_file["all_forecasts"], from_file["baselines"]) == (
        True, True, True, False)
    undone = resolve("--no-quiet", "--no-json", "--no-all-forecasts", "--baselines")
    assert (undone["quiet"], undone["json"], undone["all_forecasts"], undone["baselines"]) == (
        False, False, False, True)
    assert resolve("--no-baselines", "-q")["baselines"] is False


@pytest.mark.parametrize(
    ("setting", "expected"),
    [('seed = "abc"', "expected an integer, got 'abc'"), ("seed = 1.9", "expected an integer, got 1.9"),
     # strict for every option, as the docs say (these were converted, or failed later unnamed)
     ('seed = "8"', "expected an integer, got '8'"), ('refit = "yes"', "expected true, false or an integer"),
     ("start = true", "expected a row number, a fraction or a time, got True"),
     ("columns = []", "expected a list of column names"), ("columns = [1]", "expected a list of column"),
     ("time_col = 5", "expected a string, got 5"), ("tz = 3", "expected a string, got 3"),
     ("d_model = 2.0", "expected an integer, got 2.0"), ("out = 5", "expected a path"),
     # switches take true or false: the text "false" used to switch them on
     ('quiet = "false"', "expected true or false, got 'false'"),
     ('baselines = "no"', "expected true or false, got 'no'"),
     # a file's values have their own types (a flag's text is converted): these were accepted
     ('d_model = "8"', "expected an integer, got '8'"), ("d_model = 0", "expected a positive integer"),
     ("learning_rate = true", "expected a number, got True"), ("input_skip = 1", "expected true or false"),
     # trainer_kwargs the command sets from its own settings: the file's copy beat the flags
     ("trainer_kwargs = {max_epochs = 2}", "'max_epochs' is set by the command's own setting"),
     ('trainer_kwargs = {accelerator = "gpu"}', "'accelerator' is set by the command's own setting")],
)
def test_config_values_are_converted_strictly(tmp_path, capsys, setting, expected):
    config = write(tmp_path, "c.toml", setting + "\n")
    status = cli.main(["backtest", "--data", "ETTh1", "--config", str(config), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    key = setting.split(" =")[0]
    assert status == 2 and "\n" not in err and "Traceback" not in err
    assert err.startswith(f"tsmamba: error: --config {config}: setting '{key}': {expected}"), err


@pytest.mark.parametrize(("setting", "start"), [
    ("start = 2017-06-01", "2017-06-01"),  # TOML dates and times are values of their own
    ("start = 2017-06-01T06:00:00", "2017-06-01T06:00:00"),
    ("start = 2017-06-01 06:00:00+02:00", "2017-06-01T06:00:00+02:00"),
])
def test_a_config_file_start_may_be_a_toml_date_or_time(tmp_path, setting, start):
    """A TOML start written as a date (start = 2017-06-01, not a quoted string) had been refused as
    "expected a row number, a fraction or a time, got datetime.date(2017, 6, 1)"."""
    config = write(tmp_path, "c.toml", setting + "\n")
    args = cli.build_parser().parse_args(["backtest", "--data", "x.csv", "--config", str(config)])
    opts, _ = cli._resolve(cli.COMMANDS["backtest"], args)
    assert opts["start"] == start
    assert pd.Timestamp(opts["start"]) == pd.Timestamp(start)


def test_a_toml_time_of_day_is_no_start(tmp_path, capsys):
    config = write(tmp_path, "c.toml", "start = 06:00:00\n")
    status = cli.main(["backtest", "--data", "ETTh1", "--config", str(config), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in err
    assert "setting 'start': expected a row number, a fraction or a time" in err, err


def test_config_files_name_a_mistyped_key_and_refuse_a_key_set_twice(tmp_path, capsys):
    def error(name: str, text: str) -> str:
        config = write(tmp_path, name, text)
        out = str(tmp_path / "m")
        assert cli.main(["fit", "--data", "ETTh1", "--config", str(config), "--out", out]) == 2
        return capsys.readouterr().err.strip()

    typo = error("a.toml", "d_modle = 8\n")
    assert "unknown setting 'd_modle' for 'tsmamba fit'; did you mean 'd_model'?" in typo
    # hints that pointed elsewhere: stride -> train_stride, random_stat -> d_state
    stride = error("s.toml", "stride = 3\n")
    assert "'stride' is a setting of 'tsmamba backtest', not of 'tsmamba fit'" in stride
    assert "did you mean 'random_state'?" in error("r.toml", "random_stat = 1\n")
    assert "'debug' is a command-line flag only (--debug)" in error("d0.toml", "debug = true\n")
    no_baselines = error("nb0.toml", "no_baselines = true\n")
    assert "'no_baselines' is a setting of 'tsmamba backtest', not of" in no_baselines
    twice = error("tk.toml", "trainer_kwargs = {}\ntrainer-kwargs = {}\n")
    assert "(trainer_kwargs and trainer-kwargs)" in twice
    config = write(tmp_path, "nb.toml", "no_baseline = true\n")  # it pointed at 'baselines': the opposite
    with pytest.raises(cli.ConfigError, match="did you mean 'no_baselines'"):
        cli._resolve(cli.COMMANDS["backtest"], cli.build_parser().parse_args(
            ["backtest", "--data", "ETTh1", "--config", str(config)]))
    assert "[[model]] is a list of tables; write [model] (one pair of brackets)" in error(
        "aot.toml", "[[model]]\nd_model = 8\n")  # it had been "'model' is a setting of 'tsmamba predict'"
    listed = error("aot.json", '{"model": [{"d_model": 8}]}')
    assert "'model' is a list of objects; give it one object" in listed
    twice = error("b.toml", "d_model = 8\n[model]\nd_model = 16\n")
    assert "sets 'd_model' twice (d_model and [model] d_model)" in twice
    assert "the key 'd_model' is given twice" in error("c.json", '{"d_model": 8, "d_model": 16}')
    # a YAML file had been "not valid TOML: Expected '=' after a key"; JSON under another name, too
    assert "m.yaml: YAML files are not read; write the settings as TOML (a .toml file) or JSON" in error(
        "m.yaml", "d_model: 8\n")
    assert "unknown setting 'd_modle'" in error("m.cfg.txt", '{"d_modle": 8}')  # read as JSON
    assert "is not valid TOML" in error("j.toml", '{"d_model": 8}')  # .toml stays TOML
    # predict and stream take no --config: their options are not called settings of a file
    ctx = write(tmp_path, "ctx.toml", "context = 48\n")
    assert cli.main(["demo", "--config", str(ctx), "--out", str(tmp_path / "demo")]) == 2
    assert ("'context' is a setting of 'tsmamba backtest' and 'tsmamba fit', not of 'tsmamba demo'"
            in capsys.readouterr().err)
    assert ("'model' is a command-line option of 'tsmamba predict' and 'tsmamba stream', not a setting of "
            "'tsmamba fit'; drop it") in error("mod.toml", 'model = "m"\n')
    alias = error("e.json", '{"seed": 3, "random_state": 5}')  # the last one won, silently
    assert "'seed' and 'random_state' set the same setting; keep one" in alias
    assert "set the same setting" in error("f.toml", "context = 16\n[model]\ncontext_length = 8\n")
    config = write(tmp_path, "d.toml", "no_baselines = true\n")  # the --no-baselines flag's name
    opts, _ = cli._resolve(cli.COMMANDS["backtest"], cli.build_parser().parse_args(
        ["backtest", "--data", "ETTh1", "--config", str(config)]))
    assert opts["baselines"] is False
    for text in ("baselines = true\nno_baselines = true\n", "no_baselines = true\nbaselines = true\n"):
        config = write(tmp_path, "g.toml", text)  # the later one won, whichever it was
        with pytest.raises(cli.ConfigError, match="set the same setting; keep one"):
            cli._resolve(cli.COMMANDS["backtest"], cli.build_parser().parse_args(
                ["backtest", "--data", "ETTh1", "--config", str(config)]))
    # a dashed trainer-kwargs is the setting, not a table of settings (its max_epochs became the model's)
    config = write(tmp_path, "h.json", '{"trainer-kwargs": {"limit_val_batches": 0.5}}')
    opts, _ = cli._resolve(cli.COMMANDS["fit"], cli.build_parser().parse_args(
        ["fit", "--data", "ETTh1", "--config", str(config)]))
    assert opts["trainer_kwargs"] == {"limit_val_batches": 0.5}


def test_a_json_null_switches_off_the_settings_that_are_off_by_default(tmp_path):
    """The demo's cycle and compact head could not be switched off ("expected an integer")."""
    import inspect

    from tsmamba.estimator import TSMambaForecaster

    defaults = inspect.signature(TSMambaForecaster).parameters
    off = {p.name for p in cli.MODEL_PARAMS if defaults[p.name].default is None}
    assert set(cli.NULLABLE_PARAMS) == off | {"patience"}
    config = write(tmp_path, "off.json", '{"cycle_length": null, "head_dim": null}')
    opts, _ = cli._resolve(cli.COMMANDS["demo"], cli.build_parser().parse_args(
        ["demo", "--config", str(config)]))
    assert opts["cycle_length"] is None and opts["head_dim"] is None  # the demo's defaults do not apply
    config = write(tmp_path, "bad.json", '{"d_model": null}')
    with pytest.raises(cli.ConfigError, match="setting 'd_model': expected an integer"):
        cli._resolve(cli.COMMANDS["demo"], cli.build_parser().parse_args(["demo", "--config", str(config)]))


def test_docs_cli_lists_every_model_flag():
    """docs/cli.md had lacked --embed-window and --min-lr-ratio, added to the table after it."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    missing = [p.name for p in cli.MODEL_PARAMS if f"`--{p.name.replace('_', '-')}" not in text]
    assert not missing


def test_docs_cli_names_every_setting_a_json_null_applies_to():
    """docs/cli.md's list of the settings null may be given for had stopped at ema_decay."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    sentence = " ".join(text.split("In JSON, `null`", 1)[1].split("without its daily cycle", 1)[0].split())
    assert not [name for name in cli.NULLABLE_PARAMS if f"`{name}`" not in sentence]


def test_seed_flag_is_a_whole_number():
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args(["backtest", "--seed", "1.9"])
    assert stop.value.code == 2


def test_demo_help_lists_the_demo_settings(capsys):
    """They differ from the estimator's defaults (norm none, 3 epochs, a daily cycle, ...)."""
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    epilog = capsys.readouterr().out.split("the demo's settings:")[1].split("examples:")[0]
    flags = " ".join(line.strip() for line in epilog.splitlines()[2:]).replace(",", "").split()
    args = cli.build_parser().parse_args(["demo", *flags])  # each flag listed is one the demo takes
    for key, value in cli.DEMO_SETTINGS.items():
        if key in ("context", "horizon"):  # fixed: the demo has no flag for them
            assert f"{key} {value}" in epilog
        else:
            assert getattr(args, key) == value, key


def test_demo_help_leaves_out_the_option_it_refuses(capsys):
    """--val-fraction is refused by the demo (the LTSF protocol has its own validation split):
    its help does not list it as one of its options."""
    helps = {}
    for name in ("demo", "fit"):
        with pytest.raises(SystemExit):
            cli.main([name, "--help"])
        helps[name] = capsys.readouterr().out
    assert "--val-fraction" not in helps["demo"] and "--val-fraction X" in helps["fit"]
    assert "--max-epochs" in helps["demo"]


def test_rolling_only_options_say_so_in_help():
    backtest = cli.COMMANDS["backtest"].options
    helps = {opt.dest: opt.kwargs["help"] for opt in backtest}
    assert all(helps[key].endswith("; --protocol rolling only") for key in cli._ROLLING_ONLY)
    assert sum("--protocol rolling only" in text for text in helps.values()) == len(cli._ROLLING_ONLY)


def test_ltsf_protocol_rejects_the_rolling_options(tmp_path, capsys):
    base = ["backtest", "--data", "ETTh1", "--protocol", "ltsf", "--out", str(tmp_path / "r")]
    assert cli.main([*base, "--stride", "24", "--context-mode", "full"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tsmamba: error: --protocol ltsf has fixed splits and windows; drop --stride, "
                          "--context-mode"), err
    config = write(tmp_path, "rolling.toml", "[backtest]\nn_windows = 5\nrefit = true\n")
    assert cli.main([*base, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "drop --n-windows, --refit" in err
    fit = ["fit", "--data", "ETTh1", "--time-col", "nonexistent", "--out", str(tmp_path / "m")]
    assert cli.main(fit) == 2  # it had been ignored for a registry name
    assert "--time-col is for a CSV file given by its path; the registry's ETTh1" in capsys.readouterr().err
    assert cli.main([*fit[:-4], "--fill", "zero", "--impute", "ffill", *fit[-2:]]) == 2
    assert ("--fill and --impute are for a CSV file given by its path; the registry's ETTh1 is read by its "
            "own layout (time column 'date', no rows or values missing): drop --fill and --impute"
            in capsys.readouterr().err)
    assert cli.main([*base, "--fill", "ffill", "--columns", "OT"]) == 2  # rows by position
    assert capsys.readouterr().err.strip().endswith("--protocol ltsf uses every channel and row of the "
                                                    "benchmark file as published; drop --columns/--fill")
    # recorded in the report and not used (--tz even when no zone had that name)
    config = write(tmp_path, "split.toml", "val_fraction = 0.5\n")
    assert cli.main([*base, "--tz", "NotAZone", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "reads the file's timestamps as written; drop --val-fraction, --tz (from the" in err, err
    assert cli.main(["demo", "--val-fraction", "0.5", "--out", str(tmp_path / "d")]) == 2
    assert "'tsmamba demo' (the LTSF protocol) validates on the protocol's own" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------
# end to end


def test_backtest_end_to_end_writes_the_report(tmp_path, small_csv, tiny_config):
    out = tmp_path / "report"
    proc = tsmamba("backtest", "--data", small_csv, "--context", "48", "--horizon", "12", "--start", "500",
                   "--stride", "7", "--config", tiny_config, "--json", "--out", out)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # stdout holds the JSON and nothing else, even with progress bars
    assert "Epoch 0" in proc.stderr  # Lightning's bar went to stderr
    assert result["n_windows"] == len(range(500, 700 - 12, 7)) == 27
    assert result["config"]["model_params"]["d_model"] == 16
    assert set(result["scores"]) == {"tsmamba", "last_value", "seasonal_naive", "linear"}
    assert set(result["improvement_pct"]) == {"last_value", "seasonal_naive", "linear"}  # helper-147
    assert result["report_dir"] == str(out)
    files = {"metrics.json", "metrics.csv", "forecasts.csv", "forecast.png", "error_by_step.png",
             "error_over_time.png"}
    assert files <= {p.name for p in out.iterdir()}
    report = json.loads((out / "metrics.json").read_text())
    assert report["n_windows"] == 27 and report["data"]["fingerprint"]["shape"] == [700, 7]
    assert len(pd.read_csv(out / "forecasts.csv")) == 27 * 12 * 7
    import matplotlib.image

    for png in ("forecast.png", "error_by_step.png", "error_over_time.png"):
        image = matplotlib.image.imread(out / png)
        assert image.ndim == 3 and image.shape[0] > 100



def test_backtest_prints_a_summary_table(tmp_path, small_csv, tiny_config, capsys):
    # in-process: the same code path as the console script without another Lightning import
    status = cli.main(["backtest", "--data", str(small_csv), "--context", "48", "--horizon", "12",
                       "--start", "600", "--stride", "20", "--config", str(tiny_config), "--quiet",
                       "--out", str(tmp_path / "r2")])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "small.csv - rolling origins, context 48, horizon 12: 5 windows, 1 fit," in captured.out
    assert "linear (baseline)" in captured.out and f"report: {tmp_path / 'r2'}/" in captured.out
    assert captured.err.strip() == ""  # --quiet: no notes, no progress, no library logs



def record_forecast_row_caps(monkeypatch) -> list:
    """The max_forecast_rows of every BacktestResult.save_report call from now on (it still saves)."""
    from tsmamba.backtest import BacktestResult

    kept = []
    real_save = BacktestResult.save_report

    def save_report(self, out, **kw):
        kept.append(kw["max_forecast_rows"])
        return real_save(self, out, **kw)

    monkeypatch.setattr(BacktestResult, "save_report", save_report)
    return kept


def test_backtest_flags_reach_the_backtest_and_its_table(tmp_path, small_csv, tiny_config, capsys,
                                                          monkeypatch):
    """--refit, --window sliding --train-length, --context-mode, --all-forecasts reach the run,
    and the table's gain columns are the report's (helper-148: dropping any one of them, or
    swapping the two gains, had passed every test)."""
    kept = record_forecast_row_caps(monkeypatch)
    out = tmp_path / "r"
    status = cli.main(["backtest", "--data", str(small_csv), "--context", "48", "--horizon", "12",
                       "--start", "600", "--stride", "20", "--refit", "2", "--window", "sliding",
                       "--train-length", "500", "--context-mode", "full", "--all-forecasts",
                       "--config", str(tiny_config), "--quiet", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0 and kept == [None]
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert config["n_fits"] == 3 and config["context"] == "full"
    assert config["train_ranges"] == [[101, 601], [141, 641], [181, 681]]  # 500 rows before each fit
    gains = json.loads((out / "metrics.json").read_text())["improvement_pct"]["last_value"]
    row = next(line for line in printed.splitlines() if line.startswith("last_value (baseline)")).split()
    assert row[-2:] == [f"{gains['mse']:+.1f}%", f"{gains['mae']:+.1f}%"]  # MSE gain, then MAE gain


def test_rolling_backtest_keeps_the_report_limit_of_forecasts_in_memory(tmp_path, small_csv, tiny_config,
                                                                        monkeypatch):
    """The CLI's report limit bounds the rolling backtest's forecasts frame, as it does LTSF's:
    the frame of every origin had been built and kept (a 3.8 GB peak at 8,000 origins of 21
    channels, H = 96)."""
    monkeypatch.setattr(cli, "_forecast_rows", lambda run: None if run.get("all_forecasts") else 3 * 12 * 7)
    for flags, kept in (([], [3, 5]), (["--all-forecasts"], [5, 5])):
        out = tmp_path / f"r{len(flags)}"
        status = cli.main(["backtest", "--data", str(small_csv), "--context", "48", "--horizon", "12",
                           "--start", "600", "--stride", "20", "--config", str(tiny_config), "--quiet",
                           "--json", *flags, "--out", str(out)])
        assert status == 0
        report = json.loads((out / "metrics.json").read_text())
        assert report["config"]["forecast_origins_kept"] == kept and report["n_windows"] == 5
        assert report["forecasts_csv"]["origins"] == kept[0]

def test_summary_table_prints_far_from_one_values_and_says_which_channels_mase_leaves_out():
    """A 1e12-scale MSE printed as a 20-digit integer, a 1e-9-scale one as 0.0000; a channel
    without a MASE scale dropped out of the overall MASE without a word."""
    from types import SimpleNamespace

    channel = {"a": {"mase": 0.5}, "flat": {"mase": float("nan")}}
    scores = {"tsmamba": {"overall": {"mse": 2.41e19, "mae": 1.5e-9, "rmse": 1.0, "smape": 3.0,
                                      "mase": 0.5}, "per_channel": channel}}
    result = SimpleNamespace(model_name="tsmamba", scores=scores, summary={"improvement_pct": {}})
    table = cli.summary_table(result)
    assert "2.4100e+19" in table and "1.5000e-09" in table and "1.0000" in table
    assert "MASE leaves out ['flat']: constant over the training rows" in table
    assert "gain" not in table  # no baselines (--no-baselines): no empty gain columns
    scores["linear"] = {"overall": dict(scores["tsmamba"]["overall"]), "per_channel": channel}
    result.summary["improvement_pct"]["linear"] = {"mse": -8.4e70, "mae": 12.34}
    table = cli.summary_table(result)
    assert "-8.4e+70%" in table and "+12.3%" in table and "gain: how much lower" in table
    channel["a"]["mase"] = float("nan")  # no channel has a MASE scale
    assert "MASE is missing: every channel is constant" in cli.summary_table(result)
    # training rows shorter than a season: MASE differences at lag 1, and the note says so
    result.config = {"season": 24, "mase_lag": 1}
    note = "constant over the training rows at lag 1, the difference MASE scales by"
    assert note in cli.summary_table(result)



def test_summary_table_does_not_call_a_channel_without_observed_targets_constant():
    """b is observed through its training rows and imputed over every target: its per-channel
    scores are all NaN, MASE's too, and the table had said MASE left b out as "constant over the
    training rows", which b is not (its MASE scale is a number; it has nothing to score)."""
    from types import SimpleNamespace

    nan = float("nan")
    channel = {"a": {"mae": 1.0, "mase": 0.5}, "b": dict.fromkeys(("mse", "mae", "mase"), nan)}
    scores = {"tsmamba": {"overall": {"mse": 1.0, "mae": 1.0, "rmse": 1.0, "smape": 3.0, "mase": 0.5},
                          "per_channel": channel}}
    unscored = {"target_cells": 84, "of": 168, "per_channel": {"b": 84}, "windows_without_target": 0,
                "mase_scale_cells": 0, "mase_unscaled": []}
    result = SimpleNamespace(model_name="tsmamba", scores=scores, summary={"improvement_pct": {}},
                             config={"season": 24, "mase_lag": 24, "unscored": unscored})
    table = cli.summary_table(result)
    assert "constant" not in table and "MASE leaves out" not in table, table
    assert "scores leave out 84 of 168 target cells (b 84)" in table, table
    channel["a"]["mase"] = nan  # a is constant in its training rows: it, and only it, is named
    table = cli.summary_table(result)
    assert "MASE leaves out ['a']: constant over the training rows at lag 24" in table, table

def test_fit_then_predict(tmp_path, small_csv, tiny_config, capsys):
    model = tmp_path / "model"
    status = cli.main(["fit", "--data", str(small_csv), "--context", "48", "--horizon", "12",
                       "--config", str(tiny_config), "--out", str(model), "--quiet"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert f"model saved to {model}/" in captured.out
    # a fresh process loads the saved model and forecasts
    out = tmp_path / "forecast.csv"
    proc = tsmamba("predict", "--model", model, "--data", small_csv, "--context", "full", "--out", out)
    assert proc.returncode == 0, proc.stderr
    forecast = pd.read_csv(out, parse_dates=["date"])
    assert len(forecast) == 12 and list(forecast.columns) == ["date", "HUFL", "HULL", "MUFL", "MULL",
                                                              "LUFL", "LULL", "OT"]
    assert forecast["date"].iloc[0] == pd.Timestamp("2016-07-01") + pd.Timedelta(hours=700)
    assert np.isfinite(forecast.iloc[:, 1:].to_numpy()).all()
    # the forecast --context full asks for, not the window one (helper-148: ignoring the flag passed)
    from tsmamba.data import read_series
    from tsmamba.estimator import TSMambaForecaster

    fitted, series = TSMambaForecaster.load(model), read_series(small_csv)
    np.testing.assert_allclose(forecast.iloc[:, 1:].to_numpy(), fitted.predict(series, context="full"),
                               rtol=1e-6, atol=1e-9)
    assert not np.allclose(forecast.iloc[:, 1:].to_numpy(), fitted.predict(series, context="window"))
    # the model folder, damaged: one clear line
    (model / "weights.pt").write_bytes(b"truncated")
    assert_one_line_error(tsmamba("predict", "--model", model), "weights.pt", "corrupt")


@pytest.fixture(scope="module")
def ot_hufl_model(tmp_path_factory, small_csv, tiny_config) -> Path:
    """A model fitted on small_csv's OT and HUFL, in that order (the file has HUFL first)."""
    model = tmp_path_factory.mktemp("models") / "ot_hufl"
    status = cli.main(["fit", "--data", str(small_csv), "--columns", "OT,HUFL", "--context", "48",
                       "--horizon", "4", "--config", str(tiny_config), "--out", str(model), "--quiet"])
    assert status == 0
    return model


def test_predict_reads_the_model_columns_from_data(tmp_path, capsys, small_csv, ot_hufl_model):
    # --data holds all seven ETTh1 channels; the model uses two
    assert cli.main(["predict", "--model", str(ot_hufl_model), "--data", str(small_csv)]) == 0
    from_data = capsys.readouterr().out
    assert from_data.splitlines()[0] == "date,OT,HUFL"
    assert cli.main(["predict", "--model", str(ot_hufl_model)]) == 0  # the training series: the same file
    assert capsys.readouterr().out == from_data


def test_predict_out_dev_stdout_keeps_stdout_for_the_forecast(tmp_path, capsys, ot_hufl_model):
    """`predict --out /dev/stdout > f.csv`: the file holds the forecast CSV alone. The line saying
    where it was written had gone to stdout too, into the CSV after its rows (a pipe), or over its
    first bytes (a file the shell opened with '>', which Python's stdout writes from its start)."""
    assert cli.main(["predict", "--model", str(ot_hufl_model)]) == 0
    expected = capsys.readouterr().out
    with open(tmp_path / "f.csv", "w") as stdout:
        proc = subprocess.run([*BASE_CMD, "predict", "--model", str(ot_hufl_model), "--out", "/dev/stdout"],
                              stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "f.csv").read_text() == expected
    assert proc.stderr == "4 steps x 2 channels written to /dev/stdout\n"


def test_tz_reads_local_times_across_dst_and_predict_defaults_to_the_model_zone(tmp_path, capsys, small_csv,
                                                                                tiny_config):
    # local Berlin time as pandas writes it: +01:00, then +02:00 from 28 March 2021 03:00
    frame = pd.read_csv(small_csv, usecols=["date", "OT", "HUFL"])
    frame["date"] = pd.date_range("2021-03-10", periods=len(frame), freq="h", tz="Europe/Berlin")
    path = tmp_path / "berlin.csv"
    frame.to_csv(path, index=False)
    fit = ["fit", "--data", str(path), "--context", "48", "--horizon", "4", "--config", str(tiny_config),
           "--out", str(tmp_path / "m"), "--quiet"]
    assert cli.main(fit) == 2
    assert "Pass --tz with the zone to read them in" in capsys.readouterr().err
    assert cli.main([*fit, "--tz", "Mars/Olympus"]) == 2
    assert "--tz 'Mars/Olympus' is not a time zone name" in capsys.readouterr().err
    naive = [*fit[:2], str(small_csv), *fit[3:]]
    assert cli.main([*naive, "--tz", "Europe/Berlin"]) == 2  # it did nothing to times without offsets
    assert "--tz Europe/Berlin reads timestamps written with UTC offsets, but" in capsys.readouterr().err
    assert cli.main([*fit, "--tz", "Europe/Berlin"]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(tmp_path / "m"), "--data", str(path)]) == 0  # the model's zone
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out), index_col="date")
    assert printed.index[0] == "2021-04-08 05:00:00+02:00"  # 700 hours after 10 March 00:00+01:00
    from tsmamba.data import read_series
    from tsmamba.estimator import TSMambaForecaster

    expected = TSMambaForecaster.load(tmp_path / "m").predict(read_series(path, tz="Europe/Berlin"))
    np.testing.assert_array_equal(printed.to_numpy(), expected.to_numpy())  # full precision


def test_predict_and_stream_name_the_file_whose_zone_or_step_is_not_the_models(tmp_path, capsys, monkeypatch,
                                                                             small_csv, ot_hufl_model):
    """A --data or --history file at another step, or with(out) UTC offsets against the model's
    zone: the error had called the file 'the frame' (the estimator's word, after torch loaded),
    said to 'give them in Europe/Berlin', and for mixed offsets to pass --tz, which predict and
    stream refuse as an unrecognized argument."""
    frame = pd.read_csv(small_csv, usecols=["date", "OT", "HUFL"])
    frame.iloc[::2].to_csv(two_hourly := tmp_path / "two_hourly.csv", index=False)
    berlin = frame.assign(date=pd.date_range("2021-03-10", periods=len(frame), freq="h", tz="Europe/Berlin"))
    berlin.to_csv(local := tmp_path / "local.csv", index=False)
    berlin.assign(date=berlin["date"].dt.tz_convert("UTC")).to_csv(utc := tmp_path / "utc.csv", index=False)
    expected = {
        two_hourly: "two_hourly.csv has rows every '2h', but the model was fitted on rows every 'h'",
        local: "local.csv: time column 'date' mixes time zones / UTC offsets",
        utc: "utc.csv: the timestamps have UTC offsets, but the model was fitted on timestamps without a "
             "time zone; write them without their offsets",
    }
    for path, start in expected.items():
        assert cli.main(["predict", "--model", str(ot_hufl_model), "--data", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        status, lines, stream_err = stream_lines(capsys, monkeypatch, ot_hufl_model, path, "")
        assert status == 2 and lines == [] and stream_err == err, (err, stream_err)
        assert err.startswith(f"tsmamba: error: {start}"), err
        assert "frame" not in err and "--tz" not in err, err
    # a model fitted in Berlin, given times without offsets
    model = tmp_path / "berlin_model"
    assert cli.main(["fit", "--data", str(local), "--tz", "Europe/Berlin", "--context", "48", "--horizon",
                     "4", "--n-layers", "1", "--d-model", "8", "--d-state", "4", "--headdim", "4",
                     "--max-epochs", "1", "--out", str(model), "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(model), "--data", str(small_csv)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tsmamba: error: etth1_small.csv: the timestamps have no UTC offsets, but the "
                          "model was fitted on timestamps in Europe/Berlin; write them with their "
                          "offsets"), err


def stream_lines(capsys, monkeypatch, model: Path, history: Path, stdin: str, *flags: str,
                 ) -> tuple[int, list, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = cli.main(["stream", "--model", str(model), "--history", str(history), "--quiet", *flags])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err.strip()


@pytest.fixture
def stream_input(tmp_path, small_csv) -> tuple[Path, pd.DataFrame]:
    """(a history file: the first 690 rows, all seven channels; the last 10 rows)."""
    frame = pd.read_csv(small_csv)
    history = tmp_path / "history.csv"
    frame.iloc[:690].to_csv(history, index=False)
    return history, frame.iloc[690:]


def test_stream_state_resumes_where_the_last_run_stopped(tmp_path, capsys, monkeypatch, ot_hufl_model,
                                                          stream_input):
    """--state saves the stream when the input ends; the next run resumes from it without reading
    --history, and forecasts as one uninterrupted stream does."""
    history, new = stream_input
    lines = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False).splitlines(keepends=True)
    state = tmp_path / "state"
    status, whole, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "".join(lines))
    assert status == 0 and len(whole) == 10 and err == ""
    status, first, _ = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "".join(lines[:4]),
                                    "--state", str(state))
    assert status == 0 and first == whole[:4] and (state / "meta.json").exists()
    history.unlink()  # not read again: the state holds what it gave
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(lines[4:])))
    assert cli.main(["stream", "--model", str(ot_hufl_model), "--history", str(history), "--state",
                     str(state)]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line) for line in captured.out.splitlines()] == whole[4:]
    assert captured.err.splitlines() == [f"resuming the stream saved in {state} (last observation "
                                         f"{new['date'].iloc[3]}); --history is not read"]


def test_stream_state_refuses_history_flags_it_would_not_apply(tmp_path, capsys, monkeypatch, ot_hufl_model,
                                                               stream_input):
    """A resumed --state does not read --history: --fill, --impute, --time-col other than those its
    history was read with had been ignored without a word; the same command line still resumes."""
    history, new = stream_input
    lines = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False).splitlines(keepends=True)
    state = tmp_path / "state"
    status, first, _ = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "".join(lines[:4]),
                                    "--state", str(state), "--fill", "zero")
    assert status == 0 and len(first) == 4
    status, out, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "".join(lines[4:]),
                                    "--state", str(state), "--fill", "ffill", "--impute", "zero")
    assert status == 2 and out == []
    assert err == (f"tsmamba: error: --state {state} resumes a saved stream and does not read --history, so "
                   "--fill ffill --impute zero would not apply (its history was read with --fill zero); "
                   "drop them, or give another --state to warm a new stream"), err
    status, out, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "".join(lines[4:]),
                                    "--state", str(state), "--fill", "zero")  # the same command line
    assert status == 0 and len(out) == 6 and err == ""
    from tsmamba.checkpoint import STREAM_FORMAT, read_checkpoint, write_checkpoint

    meta, tensors = read_checkpoint(state, STREAM_FORMAT)  # as saved before the record existed:
    del meta["extra"]["history"]
    write_checkpoint(state, meta, tensors)
    status, out, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "",
                                    "--state", str(state), "--fill", "ffill")  # its restarts go on
    assert (status, out, err) == (0, [], "")


def test_stream_state_is_saved_when_a_sigterm_stops_the_stream(tmp_path, capsys, monkeypatch, ot_hufl_model,
                                                                stream_input, sigterm_guard):
    import signal

    from tsmamba.streaming import CSVLineReader

    history, new = stream_input
    lines = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False).splitlines(keepends=True)
    status, whole, _ = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "".join(lines))
    real_read, calls = CSVLineReader.read, []

    def terminated_at_the_sixth_line(self, line):
        calls.append(line)
        if len(calls) == 6:
            os.kill(os.getpid(), signal.SIGTERM)  # while reading: the five lines before are used
        return real_read(self, line)

    monkeypatch.setattr(CSVLineReader, "read", terminated_at_the_sixth_line)
    state = tmp_path / "state"
    status, first, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "".join(lines),
                                      "--state", str(state))
    assert (status, err) == (143, "tsmamba: terminated") and first == whole[:5]
    monkeypatch.setattr(CSVLineReader, "read", real_read)
    status, rest, _ = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "".join(lines[5:]),
                                   "--state", str(state))
    assert status == 0 and rest == whole[5:]


def test_a_resumed_stream_takes_the_command_lines_policies(tmp_path, capsys, monkeypatch, ot_hufl_model,
                                                          stream_input):
    """--missing and --gaps of the resuming command apply, not those the state was saved with
    (helper-147: keeping the saved ones had passed every test)."""
    history, new = stream_input
    rows = new[["date", "OT", "HUFL"]].astype(str).to_numpy().tolist()
    state = tmp_path / "state"
    status, _, _ = stream_lines(capsys, monkeypatch, ot_hufl_model, history,
                                ",".join(rows[0]) + "\n", "--state", str(state))  # saved with reject
    assert status == 0
    hole = f"{rows[1][0]},,{rows[1][2]}\n"  # OT missing
    status, out, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, hole, "--state", str(state),
                                    "--missing", "ffill")
    assert status == 0 and len(out) == 1, err
    status, out, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history,
                                    f"{rows[2][0]},,{rows[2][2]}\n", "--state", str(state))
    assert status == 3 and out == [] and "missing value in ['OT']" in err, err  # the default: reject


def test_ctrl_c_exits_130(tmp_path, capsys, monkeypatch, small_csv, tiny_config):
    """A shell reads 128 + SIGINT (helper-147: any status had passed)."""
    from tsmamba.estimator import TSMambaForecaster

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(TSMambaForecaster, "fit", interrupted)
    out = tmp_path / "m"
    assert cli.main(["fit", "--data", str(small_csv), "--config", str(tiny_config), "--out", str(out),
                     "--quiet"]) == 130
    assert capsys.readouterr().err == "tsmamba: interrupted\n" and not out.exists()


def test_stream_state_saves_every_n_lines_and_is_checked_before_the_work(tmp_path, capsys, monkeypatch,
                                                                         ot_hufl_model, stream_input):
    from tsmamba.streaming import Stream

    history, new = stream_input
    lines = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False)
    saves = []
    real_save = Stream.save

    def counted(self, path, **kwargs):
        saves.append(self.last_timestamp)
        return real_save(self, path, **kwargs)

    monkeypatch.setattr(Stream, "save", counted)
    status, _, _ = stream_lines(capsys, monkeypatch, ot_hufl_model, history, lines, "--state",
                                str(tmp_path / "s"), "--save-every", "4")
    assert status == 0 and saves == [pd.Timestamp(new["date"].iloc[i]) for i in (3, 7, 9)]  # and at the end
    refusals = [
        (["--save-every", "4"], "--save-every N saves the stream to --state DIR; give --state too"),
        (["--state", str(ot_hufl_model)], "holds a tsmamba-forecaster save, and a tsmamba-stream save would "
                                          "replace it; choose another path"),
    ]
    for flags, message in refusals:
        status, _, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, lines, *flags)
        assert status == 2 and message in err, err
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    assert cli.main(["stream", "--model", str(ot_hufl_model), "--state", str(tmp_path / "new")]) == 2
    needs = "tsmamba: error: 'tsmamba stream' needs --model MODEL_DIR and --history CSV"
    assert capsys.readouterr().err == f"{needs} (--state {tmp_path / 'new'} holds no saved stream yet)\n"


def test_stream_state_is_used_by_one_run_at_a_time(tmp_path, capsys, monkeypatch, ot_hufl_model,
                                                     stream_input):
    """A second run on the same --state is refused while the first holds it (each would have
    saved over the other's lines); the folder is free again once the first ends."""
    from tsmamba.checkpoint import held_alone

    history, new = stream_input
    lines = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False)
    state = tmp_path / "state"
    with held_alone(state):  # as a running 'tsmamba stream --state' holds it
        status, out, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, lines, "--state",
                                        str(state))
    assert (status, out) == (2, []) and not state.exists()
    assert err == (f"tsmamba: error: --state {state} is in use by another process (pid {os.getpid()}) "
                   "that saves there; wait for it to end, or choose another folder")
    status, out, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, lines, "--state", str(state))
    assert (status, len(out), err) == (0, 10, "") and (state / "meta.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".state")) == []  # no lock left
    for flags in (["--history", str(tmp_path / "nothere.csv")], ["--model", str(tmp_path / "nomodel")]):
        status, _, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, lines, *flags, "--state",
                                      str(tmp_path / "typo" / "deep" / "state"))
        assert status == 2 and not (tmp_path / "typo").exists(), err  # the folders made for the lock go


def test_stream_state_refusals_name_the_flag_and_the_fix(tmp_path, capsys, monkeypatch, ot_hufl_model,
                                                         stream_input):
    from tsmamba.estimator import TSMambaForecaster

    history, new = stream_input
    lines = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False)
    frame = pd.read_csv(history, index_col="date", parse_dates=True)[["OT", "HUFL"]]
    several = TSMambaForecaster.load(ot_hufl_model).stream(history={"a": frame, "b": frame.iloc[:-5]})
    several.save(tmp_path / "two")  # the library's stream of two series: stdin gives one
    status, out, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, lines, "--state",
                                    str(tmp_path / "two"))
    assert (status, out) == (2, [])
    assert err == (f"tsmamba: error: --state {tmp_path / 'two'} holds a stream of 2 series, saved by the "
                   "Python API; 'tsmamba stream' reads one series from stdin: resume it with Stream.load and "
                   "update it with a mapping of series, or choose another folder")
    status, _, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, lines, "--state",
                                  "/sys/tsmamba_state")
    assert status == 2
    assert err.startswith("tsmamba: error: --state /sys/tsmamba_state cannot be written (/sys: ")
    state = tmp_path / "state"
    assert stream_lines(capsys, monkeypatch, ot_hufl_model, history, lines, "--state", str(state))[0] == 0
    (state / "state.pt").write_bytes((state / "state.pt").read_bytes()[:-1])  # truncated
    status, out, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, lines, "--state", str(state))
    assert (status, out) == (2, [])
    assert err == (f"tsmamba: error: {state / 'state.pt'} is truncated or corrupt (sha256 mismatch with "
                   "meta.json); remove the --state folder and run again with --history to warm a new stream")


def test_a_resumed_stream_state_is_hashed_once_at_start_up(tmp_path, capsys, monkeypatch, ot_hufl_model,
                                                          stream_input):
    """Stream.load checks every state file's sha256; the check of what the --state folder holds,
    right after it, had hashed the same files again (60 ms of a 220 ms start-up for a 1000-series
    state of 45 MB). Now only the save at the end hashes the previous save's files (it may have
    changed meanwhile); a damaged state is still refused at start-up, and so is a file beside it."""
    import hashlib

    history, new = stream_input
    lines = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False).splitlines(keepends=True)
    state = tmp_path / "state"
    assert stream_lines(capsys, monkeypatch, ot_hufl_model, history, "".join(lines[:4]), "--state",
                        str(state))[0] == 0
    real, hashed = hashlib.file_digest, []

    def counted(fh, digest):
        hashed.append(Path(fh.name).name)
        return real(fh, digest)

    monkeypatch.setattr(hashlib, "file_digest", counted)
    status, out, _ = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "".join(lines[4:]), "--state",
                                  str(state))
    assert status == 0 and len(out) == 6
    assert sorted(hashed) == ["state.pt", "stream.pt"]  # by the save at the end, once each
    (state / "notes.txt").write_text("mine")
    status, _, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "", "--state", str(state))
    assert status == 2 and "holds a tsmamba save and other files beside it (notes.txt)" in err, err
    (state / "notes.txt").unlink()
    (state / "stream.pt").write_bytes((state / "stream.pt").read_bytes()[:-1])
    status, _, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "", "--state", str(state))
    assert status == 2 and f"{state / 'stream.pt'} is truncated or corrupt" in err, err


def test_date_format_reads_day_first_files_as_their_iso_twins(tmp_path, capsys, monkeypatch, small_csv,
                                                              tiny_config, ot_hufl_model, stream_input):
    """--date-format: fit, predict, backtest and stream (history and stdin lines) read a file of
    day-first times (31/01/2021 13:00) as they read the same file written in ISO 8601; without
    it the file is refused, naming the flag."""
    day_first = "%d/%m/%Y %H:%M"

    def as_day_first(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(date=pd.to_datetime(frame["date"]).dt.strftime(day_first))

    small_df = write(tmp_path, "small_df.csv", as_day_first(pd.read_csv(small_csv)).to_csv(index=False))
    model = tmp_path / "m"
    assert cli.main(["fit", "--data", str(small_df), "--date-format", day_first, "--columns", "OT,HUFL",
                     "--context", "48", "--horizon", "4", "--config", str(tiny_config), "--out", str(model),
                     "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(ot_hufl_model)]) == 0
    expected = capsys.readouterr().out
    assert cli.main(["predict", "--model", str(model), "--data", str(small_df), "--date-format",
                     day_first]) == 0
    assert capsys.readouterr().out == expected  # the same model, forecasting from the same rows
    assert cli.main(["predict", "--model", str(model), "--data", str(small_df), "--quiet"]) == 0
    assert capsys.readouterr().out == expected  # read as fit read its file: the format is the model's
    assert cli.main(["predict", "--model", str(ot_hufl_model), "--data", str(small_df)]) == 2
    assert "pass --date-format (e.g. --date-format '%d/%m/%Y %H:%M')" in capsys.readouterr().err

    history, new = stream_input
    iso_lines = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False)
    history_df = write(tmp_path, "history_df.csv", as_day_first(pd.read_csv(history)).to_csv(index=False))
    day_first_lines = as_day_first(new[["date", "OT", "HUFL"]]).to_csv(index=False, header=False)
    status, whole, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, iso_lines)
    assert status == 0 and err == "" and len(whole) == 10
    # the first line is a row, not a header: its time parses in the format
    assert stream_lines(capsys, monkeypatch, ot_hufl_model, history_df, day_first_lines, "--date-format",
                        day_first) == (0, whole, "")
    mixed = day_first_lines.splitlines(keepends=True)
    mixed[3] = iso_lines.splitlines(keepends=True)[3]  # an ISO time among day-first ones: its line only
    status, got, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history_df, "".join(mixed),
                                    "--date-format", day_first, "--gaps", "ffill")
    assert status == 3 and len(got) == 9, err
    assert err == f"tsmamba: error: line 4: timestamp {new['date'].iloc[3]!r} does not match --date-format " \
                  f"'{day_first}'"

    scores = []
    for data, flags in ((small_csv, []), (small_df, ["--date-format", day_first])):
        assert cli.main(["backtest", "--data", str(data), *flags, "--columns", "OT", "--context", "48",
                         "--horizon", "4", "--n-windows", "2", "--config", str(tiny_config), "--out",
                         str(tmp_path / f"report_{len(flags)}"), "--quiet", "--json"]) == 0
        scores.append(json.loads(capsys.readouterr().out)["scores"])
    assert scores[0] == scores[1]


def test_sep_and_decimal_read_a_semicolon_file_as_its_comma_twin(tmp_path, capsys, monkeypatch, small_csv,
                                                                 tiny_config, ot_hufl_model, stream_input):
    """--sep ';' --decimal ',': the CSV many European spreadsheets save (1,5 for 1.5) reads as the
    same file written with commas and '.' decimals, for fit, predict and stream (history and lines);
    a tab-separated file with --sep tab too."""
    european = {"sep": ";", "decimal": ","}
    small_eu = tmp_path / "small_eu.csv"
    pd.read_csv(small_csv).to_csv(small_eu, index=False, **european)
    assert ";" in small_eu.read_text().splitlines()[1] and "," in small_eu.read_text().splitlines()[1]
    model = tmp_path / "m"
    assert cli.main(["fit", "--data", str(small_eu), "--sep", ";", "--decimal", ",", "--columns", "OT,HUFL",
                     "--context", "48", "--horizon", "4", "--config", str(tiny_config), "--out", str(model),
                     "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(ot_hufl_model)]) == 0
    expected = capsys.readouterr().out
    assert cli.main(["predict", "--model", str(model), "--data", str(small_eu), "--sep", ";", "--decimal",
                     ","]) == 0
    assert capsys.readouterr().out == expected  # written with ',' and '.' whatever the input's marks
    tabbed = tmp_path / "small.tsv"
    pd.read_csv(small_csv).to_csv(tabbed, index=False, sep="\t")
    assert cli.main(["predict", "--model", str(model), "--data", str(tabbed), "--sep", "tab"]) == 0
    assert capsys.readouterr().out == expected

    history, new = stream_input
    history_eu = tmp_path / "history_eu.csv"
    pd.read_csv(history).to_csv(history_eu, index=False, **european)
    status, whole, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history,
                                      new[["date", "OT", "HUFL"]].to_csv(index=False, header=False))
    assert status == 0 and err == "" and len(whole) == 10
    lines = new[["date", "HUFL", "OT"]].to_csv(index=False, **european)  # with a header, in another order
    assert stream_lines(capsys, monkeypatch, ot_hufl_model, history_eu, lines, "--sep", ";", "--decimal",
                        ",") == (0, whole, "")


def fit_and_predict_without_the_flags(capsys, csv: Path, model: Path, tiny_config: Path) -> tuple[Path, str]:
    """Fit OT and HUFL of ``csv`` (written with ';' and ',') with --sep ';' --decimal ',', then
    check that predict --data reads it the same without them, saying so; (model, forecast CSV)."""
    assert cli.main(["fit", "--data", str(csv), "--sep", ";", "--decimal", ",", "--columns", "OT,HUFL",
                     "--context", "48", "--horizon", "4", "--config", str(tiny_config), "--out", str(model),
                     "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(model), "--data", str(csv), "--sep", ";", "--decimal",
                     ","]) == 0
    expected = capsys.readouterr().out
    assert cli.main(["predict", "--model", str(model), "--data", str(csv)]) == 0
    out, err = capsys.readouterr()
    assert out == expected
    assert err.strip() == (f"reading {csv.name} with --sep ';' --decimal ',', as 'tsmamba fit' read the "
                           "model's training file")
    return model, expected


def test_predict_and_stream_read_files_and_lines_as_fit_read_the_training_file(
        tmp_path, capsys, monkeypatch, small_csv, tiny_config, stream_input):
    """fit records how it read its CSV (--sep ';' --decimal ','); predict --data, stream --history
    and stream's stdin lines (also resumed from --state) read the same way without the flags,
    saying so; a file written the default way still reads, and one that fits neither names the
    flags that came from the model."""
    european = {"sep": ";", "decimal": ","}
    small_eu = tmp_path / "small_eu.csv"
    pd.read_csv(small_csv).to_csv(small_eu, index=False, **european)
    model, expected = fit_and_predict_without_the_flags(capsys, small_eu, tmp_path / "m", tiny_config)
    assert read_meta(model)["extra"] == {"read": {"sep": ";", "decimal": ","}}
    assert cli.main(["predict", "--model", str(model), "--data", str(small_csv), "--quiet"]) == 0
    assert capsys.readouterr().out == expected  # written with ',' and '.': read as it is
    assert cli.main(["predict", "--model", str(model), "--data", str(small_csv)]) == 0
    assert capsys.readouterr().err.strip() == ("etth1_small.csv is not written like the model's training "
                                               "file (--sep ';' --decimal ','): read as it is")
    piped = tmp_path / "piped.csv"
    pd.read_csv(small_csv).to_csv(piped, index=False, sep="|")
    assert cli.main(["predict", "--model", str(model), "--data", str(piped)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tsmamba: error: ") and len(err.splitlines()) == 1, err
    assert err == (
        "tsmamba: error: piped.csv: the header 'date|HUFL|HULL|MUFL|MULL|LUFL|LULL|OT' has no semicolon but "
        "'|': the file seems to use '|' as its delimiter; pass --sep '|' (read with --sep ';' --decimal ',', "
        "as 'tsmamba fit' read the model's training file); read without them: piped.csv: the header "
        "'date|HUFL|HULL|MUFL|MULL|LUFL|LULL|OT' has no comma but '|': the file seems to use '|' as its "
        "delimiter; pass --sep '|'")
    assert cli.main(["predict", "--model", str(model), "--data", str(piped), "--sep", "|",
                     "--decimal", "."]) == 0
    assert capsys.readouterr().out == expected  # flags given win over the recorded ones
    holed = tmp_path / "holed.csv"
    pd.read_csv(small_csv).drop(index=300).to_csv(holed, index=False, **european)  # a row missing
    assert cli.main(["predict", "--model", str(model), "--data", str(holed)]) == 2
    err = capsys.readouterr().err.strip()  # the file's own problem first, then the defaults' read
    assert err.startswith("tsmamba: error: holed.csv: 1 timestamp missing from the 'h' grid in 1 gap"), err
    assert ("or add them to the file (read with --sep ';' --decimal ',', as 'tsmamba fit' read the model's "
            "training file); read without them: holed.csv: the header 'date;HUFL;") in err
    assert cli.main(["predict", "--model", str(model), "--data", str(small_csv), "--sep", ","]) == 0
    out, err = capsys.readouterr()
    assert out == expected and err == ""  # --sep and --decimal go together: ',' carries no ',' decimal

    history, new = stream_input
    history_eu = tmp_path / "history_eu.csv"
    pd.read_csv(history).to_csv(history_eu, index=False, **european)
    lines = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False, **european)
    status, whole, err = stream_lines(capsys, monkeypatch, model, history_eu, lines, "--sep", ";",
                                      "--decimal", ",")
    assert status == 0 and err == "" and len(whole) == 10
    assert stream_lines(capsys, monkeypatch, model, history_eu, lines) == (0, whole, "")
    state = tmp_path / "state"
    first, rest = lines.splitlines(keepends=True)[:4], lines.splitlines(keepends=True)[4:]
    assert stream_lines(capsys, monkeypatch, model, history_eu, "".join(first), "--state",
                        str(state)) == (0, whole[:4], "")
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(rest)))
    assert cli.main(["stream", "--model", str(model), "--state", str(state)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line) for line in out.splitlines()] == whole[4:]
    assert f"reading stdin with --sep ';' --decimal ',', as the stream saved in {state} read its lines" in err
    assert read_meta(state)["extra"] == {"read": {"sep": ";", "decimal": ","}, "history": {}}
    # a history written the default way is read as it is, and so are the lines, also once resumed
    plain_lines = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False).splitlines(keepends=True)
    state_plain = tmp_path / "state_plain"
    assert stream_lines(capsys, monkeypatch, model, history, "".join(plain_lines[:4]), "--state",
                        str(state_plain)) == (0, whole[:4], "")
    assert read_meta(state_plain)["extra"] == {"read": {}, "history": {}}
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(plain_lines[4:])))
    assert cli.main(["stream", "--model", str(model), "--state", str(state_plain), "--quiet"]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == whole[4:]
    # a stream saved before streams recorded how they read: resumed as the model's file was read
    meta_file = state / "meta.json"
    meta = json.loads(meta_file.read_text())
    del meta["extra"]
    meta[checkpoint.META_DIGEST] = checkpoint._meta_digest(meta)
    meta_file.write_text(json.dumps(meta))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert cli.main(["stream", "--model", str(model), "--state", str(state)]) == 0
    assert ("reading stdin with --sep ';' --decimal ',', as 'tsmamba fit' read the model's training "
            "file") in capsys.readouterr().err


def test_a_file_named_like_a_registry_file_is_read_as_fit_read_it(tmp_path, capsys, small_csv, tiny_config):
    """A CSV of one's own named ETTh1.csv, written with ';' and ',': fit reads it with --sep and
    --decimal, and predict reads that same file as fit did without them (its name had made it be
    read as the published file, refused for its ';' with the flags to give)."""
    own = tmp_path / "ETTh1.csv"
    pd.read_csv(small_csv).to_csv(own, index=False, sep=";", decimal=",")
    model, expected = fit_and_predict_without_the_flags(capsys, own, tmp_path / "m", tiny_config)
    published = tmp_path / "published" / "ETTh1.csv"  # written as published: read so, saying nothing
    published.parent.mkdir()
    published.write_bytes(small_csv.read_bytes())
    assert cli.main(["predict", "--model", str(model), "--data", str(published)]) == 0
    assert capsys.readouterr() == (expected, "")


def test_a_long_form_file_with_a_date_column_is_read_as_fit_read_it(tmp_path, capsys, small_csv, tiny_config):
    """fit --time-col date --id-col store --value-col sales: predict reads that file as fit did
    with no flags (the recorded --id-col and --value-col, and the model's time column 'date'; long
    form's default time column is ds, and the file had been refused for having none)."""
    long_csv = tmp_path / "sales.csv"
    frame = pd.read_csv(small_csv)[["date", "OT", "HUFL"]]
    frame.melt(id_vars="date", var_name="store", value_name="sales").to_csv(long_csv, index=False)
    model = tmp_path / "m"
    assert cli.main(["fit", "--data", str(long_csv), "--time-col", "date", "--id-col", "store", "--value-col",
                     "sales", "--context", "48", "--horizon", "4", "--config", str(tiny_config), "--out",
                     str(model), "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(model), "--data", str(long_csv), "--time-col", "date",
                     "--id-col", "store", "--value-col", "sales"]) == 0
    expected = capsys.readouterr().out
    assert cli.main(["predict", "--model", str(model), "--data", str(long_csv)]) == 0
    out, err = capsys.readouterr()
    assert out == expected
    assert err.strip() == ("reading sales.csv with --id-col store --value-col sales, as 'tsmamba fit' read "
                           "the model's training file")
    wide = tmp_path / "wide.csv"
    frame.to_csv(wide, index=False)
    assert cli.main(["predict", "--model", str(model), "--data", str(wide), "--quiet"]) == 0
    assert capsys.readouterr().out == expected  # a wide file is read as it is


def test_predict_names_each_carried_long_form_flag_once(tmp_path, capsys):
    """predict --data without --id-col/--value-col says it reads the file with those 'tsmamba fit'
    was given; its note had named each of them twice (--id-col store --value-col sales --id-col
    store --value-col sales), as both the file's layout and a stream history's read."""
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    long = pd.concat([pd.DataFrame({"store": s, "date": days, "sales": np.sin(np.arange(40) / k)})
                      for s, k in (("01", 3), ("02", 5))])
    path = write(tmp_path, "sales.csv", long.to_csv(index=False))
    assert cli.main(["fit", "--data", str(path), "--time-col", "date", "--id-col", "store", "--value-col",
                     "sales", "--context", "8", "--horizon", "2", "--d-model", "8", "--n-layers", "1",
                     "--max-epochs", "1", "--threads", "1", "--quiet", "--out", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(tmp_path / "m"), "--data", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "date,01,02"
    assert err.strip() == ("reading sales.csv with --id-col store --value-col sales, as 'tsmamba fit' read "
                           "the model's training file")


def test_predict_names_the_long_form_series_it_leaves_out(tmp_path, capsys, monkeypatch):
    """predict --data (and stream --history) of a long-form file reads the series the model was
    fitted on; the file's other ids had been dropped without a word, the forecast a column short
    of the file. They are named in a warning on stderr (--quiet too); the forecast is unchanged."""
    hours = pd.date_range("2021-01-01", periods=80, freq="h")
    long = pd.concat([pd.DataFrame({"unique_id": s, "ds": hours, "y": np.sin(np.arange(80) / k)})
                      for s, k in (("north", 3), ("south", 5))])
    fitted = write(tmp_path, "two.csv", long.to_csv(index=False))
    assert cli.main(["fit", "--data", str(fitted), "--context", "8", "--horizon", "2", "--d-model", "8",
                     "--n-layers", "1", "--max-epochs", "1", "--threads", "1", "--quiet",
                     "--out", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(tmp_path / "m"), "--data", str(fitted)]) == 0
    expected, err = capsys.readouterr()
    assert err == ""  # the fitted series only: nothing left out
    renamed = long["unique_id"].map({"north": "west", "south": "east"})
    extra = pd.concat([long.assign(unique_id=renamed), long])
    more = write(tmp_path, "four.csv", extra.to_csv(index=False))
    assert cli.main(["predict", "--model", str(tmp_path / "m"), "--data", str(more), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out == expected
    assert err.splitlines() == [
        "tsmamba: warning: four.csv: 2 series ids the model was not fitted on are left out: 'east', "
        "'west'; it forecasts the 2 series it was fitted on ('north', 'south'). Fit a model on them to "
        "forecast them too"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    three = write(tmp_path, "three.csv", extra[extra["unique_id"] != "east"].to_csv(index=False))
    assert cli.main(["stream", "--model", str(tmp_path / "m"), "--history", str(three), "--quiet"]) == 0
    assert "three.csv: 1 series id the model was not fitted on is left out: 'west'; it forecasts the 2 " \
           "series" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "fragment"),
    [("--sep", ";;", "argument --sep: expected one character such as ';' or '|' (a tab: --sep tab), got "
                     "';;'"),
     ("--sep", "", "argument --sep: expected one character"),
     ("--decimal", ";", "argument --decimal: expected '.' or ',', got ';'")],
)
def test_a_sep_or_decimal_that_cannot_be_one_is_a_usage_error(tmp_path, flag, value, fragment):
    data = write(tmp_path, "data.csv", GOOD_ROWS)
    proc = tsmamba("fit", "--data", data, flag, value, "--out", tmp_path / "m")
    assert_one_line_error(proc, fragment)


def test_the_same_sep_and_decimal_is_one_line_naming_both_flags(tmp_path, capsys):
    data = write(tmp_path, "data.csv", GOOD_ROWS)
    assert cli.main(["fit", "--data", str(data), "--sep", ",", "--decimal", ",", "--out",
                     str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.strip() == (
        "tsmamba: error: --sep and --decimal are both ','; a field delimiter and a decimal mark must differ "
        "(';' with ',' decimals, or ',' with '.')")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("dd/mm/yyyy", "expected a strptime format written with % codes, e.g. '%d/%m/%Y %H:%M' (%d day, "
                    "%m month, %Y year, %H hour, %M minute), got 'dd/mm/yyyy'"),
     ("%d/%m/%Q", "'%d/%m/%Q' is not a strptime format ('Q' is a bad directive in format '%d/%m/%Q')")],
)
def test_a_date_format_without_codes_or_with_a_bad_one_is_a_usage_error(tmp_path, value, fragment):
    data = write(tmp_path, "data.csv", GOOD_ROWS)
    proc = tsmamba("fit", "--data", data, "--date-format", value, "--out", tmp_path / "m")
    assert_one_line_error(proc, "argument --date-format: " + fragment)
    assert not (tmp_path / "m").exists()


def test_a_workbook_or_a_missing_file_with_an_extension_is_named_as_a_file(tmp_path, capsys, monkeypatch):
    """--data book.xlsx: one line saying to export it as CSV (no Python loader); a missing
    data.parquet is a file not found, not an unknown registry data set."""
    monkeypatch.chdir(tmp_path)
    with zipfile.ZipFile(tmp_path / "book.xlsx", "w") as archive:
        archive.writestr("[Content_Types].xml", "<x/>")
    assert cli.main(["fit", "--data", "book.xlsx", "--out", "m"]) == 2
    assert capsys.readouterr().err.strip() == (
        "tsmamba: error: book.xlsx: the file is an Excel workbook (.xlsx), not CSV text; export it as a CSV "
        "file (Excel: File > Save As > CSV UTF-8; LibreOffice: Save As > Text CSV) and pass that")
    for command in (["fit", "--out", "m"], ["backtest", "--protocol", "ltsf", "--out", "r"]):
        assert cli.main([command[0], "--data", "data.parquet", *command[1:]]) == 2
        err = capsys.readouterr().err
        assert "not found" in err and str(tmp_path / "data.parquet") in err and "unknown data set" not in err


def test_date_format_is_refused_where_the_file_is_read_as_published(tmp_path, capsys):
    assert cli.main(["fit", "--data", "ETTh1", "--date-format", "%Y", "--out", str(tmp_path / "m")]) == 2
    assert ("--date-format is for a CSV file given by its path; the registry's ETTh1 is read by its own "
            "layout") in capsys.readouterr().err
    assert cli.main(["backtest", "--data", "ETTh1", "--protocol", "ltsf", "--date-format", "%Y",
                     "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--data ETTh1 is a registry data set, read as published; drop --date-format" in err


def test_stream_maps_a_header_by_name(capsys, monkeypatch, ot_hufl_model, stream_input):
    history, new = stream_input
    in_model_order = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False)
    other_order = new[["date", "LULL", "HUFL", "OT"]].to_csv(index=False)  # a header; LULL is ignored
    status, expected, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, in_model_order)
    assert status == 0 and err == "" and len(expected) == 10
    assert expected[0]["columns"] == ["OT", "HUFL"]
    status, got, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, other_order)
    assert status == 0 and err == "" and got == expected
    for time_name in ("t0", "now", "May"):  # a digit in it, or a word pandas would read as a date
        named = new[["date", "HUFL", "OT"]].rename(columns={"date": time_name}).to_csv(index=False)
        assert stream_lines(capsys, monkeypatch, ot_hufl_model, history, named) == (0, expected, "")


def test_stream_header_names_numbered_channels(tmp_path, capsys, monkeypatch, small_csv, tiny_config,
                                               stream_input):
    # channels named 0 and 1: the header `date,0,1` holds numbers, yet names every model column
    history, new = stream_input
    numbered = tmp_path / "numbered.csv"
    pd.read_csv(history)[["date", "OT", "HUFL"]].set_axis(["date", "0", "1"], axis=1).to_csv(numbered,
                                                                                             index=False)
    model = tmp_path / "m"
    assert cli.main(["fit", "--data", str(numbered), "--context", "48", "--horizon", "4", "--config",
                     str(tiny_config), "--out", str(model), "--quiet"]) == 0
    capsys.readouterr()
    rows = new[["date", "OT", "HUFL"]].iloc[:3].set_axis(["date", "0", "1"], axis=1)
    status, expected, err = stream_lines(capsys, monkeypatch, model, numbered, rows.to_csv(index=False))
    assert status == 0 and err == "" and len(expected) == 3
    reordered = rows[["date", "1", "0"]].to_csv(index=False)
    assert stream_lines(capsys, monkeypatch, model, numbered, reordered) == (0, expected, "")
    # a first data row whose values look like the channels' names is data: it has a timestamp
    swapped = rows.copy()
    swapped.iloc[0, 1:] = [1, 0]
    status, lines, err = stream_lines(capsys, monkeypatch, model, numbered, swapped.to_csv(index=False,
                                                                                              header=False))
    assert status == 0 and err == "" and len(lines) == 3
    mistyped = swapped.copy()
    mistyped.iloc[0, 0] = "2016-13-45 00:00:00"  # a bad time, not a header: one bad row
    status, lines, err = stream_lines(capsys, monkeypatch, model, numbered, mistyped.to_csv(index=False,
                                                                                               header=False))
    assert status == 3 and len(lines) == 0 and err.startswith("tsmamba: error: line 1: timestamp '2016-13-45")
    status, lines, err = stream_lines(capsys, monkeypatch, model, numbered, "date,1,2\n" + rows.to_csv(
        index=False, header=False))  # a header lacking channel 0
    assert status == 2 and lines == [] and "the header lacks the model's column(s) ['0']" in err


def test_stream_first_row_of_na_is_a_bad_row(capsys, monkeypatch, ot_hufl_model, stream_input):
    history, new = stream_input
    rows = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False)
    first = new["date"].iloc[0]
    stdin = f"{first},NA,NA\n{rows}"
    status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, stdin)
    assert status == 3 and len(lines) == 10  # NA is a missing value, as in a file; 3: a line was rejected
    assert err == (f"tsmamba: error: line 1: missing value in ['OT', 'HUFL'] at {first}; send a "
                   "value, or use --missing ffill or --missing zero"), err
    for missing in ("NA", "N/A", "<NA>"):
        stdin = f"{missing},{missing},{missing}\n{rows}"
        status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, stdin)
        assert status == 3 and len(lines) == 10  # a bad row, not a header
        assert err == f"tsmamba: error: line 1: timestamp '{missing}' cannot be parsed", err
    # with --missing ffill they are filled like an empty field
    stdin = f"{first},NA,null\n" + rows.split("\n", 1)[1]  # in place of the first row
    status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, stdin,
                                      "--missing", "ffill")
    assert status == 0 and len(lines) == 10 and err == "", err
    # with --missing zero they are 0: the forecast of a stream fed zeros there
    status, zeroed, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, stdin,
                                       "--missing", "zero")
    status_0, fed_zeros, _ = stream_lines(capsys, monkeypatch, ot_hufl_model, history,
                                          stdin.replace("NA,null", "0,0", 1))
    assert status == status_0 == 0 and zeroed == fed_zeros and zeroed != lines, err


def test_stream_judges_each_physical_line_on_its_own(capsys, monkeypatch, ot_hufl_model, stream_input):
    history, new = stream_input
    rows = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False).splitlines()
    stray = rows[1].replace(",", ',"', 1)  # an unbalanced quote: it once swallowed every later line
    stdin = "\n".join([rows[0], stray, *rows[2:]]) + "\n"
    status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, stdin, "--gaps", "ffill")
    assert status == 3 and len(lines) == 9, err
    assert err.splitlines()[0] == "tsmamba: error: line 2: not a CSV line (unexpected end of data)", err
    # a byte-order mark before the first timestamp (a header-less feed) is not part of it
    status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, "\ufeff" + "\n".join(rows))
    assert status == 0 and len(lines) == 10 and err == "", err


def test_stream_rejects_a_line_of_bytes_not_in_the_encoding_and_goes_on(capsys, monkeypatch, ot_hufl_model,
                                                                       stream_input):
    """A strict UTF-8 stdin (a UTF-8 locale) raised UnicodeDecodeError on a Latin-1 byte, with a
    traceback, and lost every line of the block read with it: now that line alone is rejected."""
    history, new = stream_input
    rows = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False, lineterminator="\r\n").encode()
    lines = rows.splitlines(keepends=True)
    lines[3] = lines[3].replace(b",", b",\xb0", 1)  # a degree sign written in Latin-1
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"".join(lines)), encoding="utf-8",
                                                      errors="strict"))
    status = cli.main(["stream", "--model", str(ot_hufl_model), "--history", str(history), "--quiet",
                       "--gaps", "ffill"])
    captured = capsys.readouterr()
    assert status == 3 and len(captured.out.splitlines()) == 9, captured.err
    assert captured.err.strip() == "tsmamba: error: line 4: not utf-8 text (byte b0 at position 20); send " \
        "the lines as utf-8"
    last = json.loads(captured.out.splitlines()[-1])
    assert last["timestamp"] == str(pd.Timestamp(new["date"].iloc[-1]))  # CRLF lines are read as well


def test_a_one_row_file_is_a_series_at_the_models_frequency(tmp_path, capsys, monkeypatch, ot_hufl_model,
                                                             stream_input):
    """predict --context full and stream --history read one row as the Python API does, at the
    model's frequency (helper-158: 'need >= 2 rows' from the CLI alone)."""
    from tsmamba.estimator import TSMambaForecaster

    history, new = stream_input
    one = tmp_path / "one.csv"
    pd.read_csv(history).iloc[-1:].to_csv(one, index=False)
    fitted = TSMambaForecaster.load(ot_hufl_model)
    assert cli.main(["predict", "--model", str(ot_hufl_model), "--data", str(one), "--context", "full"]) == 0
    assert capsys.readouterr().out == fitted.predict(str(one), context="full").to_csv()
    rows = new[["date", "OT", "HUFL"]].iloc[:1].to_csv(index=False, header=False)
    status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, one, rows)
    assert status == 0 and len(lines) == 1, err
    after = fitted.stream(str(one)).update(new.set_index("date")[["OT", "HUFL"]].iloc[:1])
    np.testing.assert_allclose(lines[0]["forecast"], after.to_numpy(), rtol=1e-6)


def test_predict_and_stream_ask_for_a_model_channels_values_not_for_columns(tmp_path, capsys, monkeypatch,
                                                                            ot_hufl_model, stream_input):
    """predict and stream have no --columns: a model channel of text or of no value is to be given
    (helper-158: 'Pass --columns ...', which they refused as an unrecognized argument)."""
    history, new = stream_input
    frame = pd.read_csv(history)
    frame["OT"] = frame["OT"].astype(object)
    frame.loc[3, "OT"] = "bad"
    frame.to_csv(text := tmp_path / "text.csv", index=False)
    frame.assign(OT=np.nan).to_csv(empty := tmp_path / "empty.csv", index=False)
    assert cli.main(["predict", "--model", str(ot_hufl_model), "--data", str(text)]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "non-numeric columns: column 'OT' (1 of 690 values not numbers, e.g. row 3 (line 5): 'bad'). "
        "The model reads these columns: clean these values")
    rows = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False)
    status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, empty, rows)
    assert status == 2 and lines == [] and "--columns" not in err
    assert err.endswith("Column ['OT'] holds no value in any row: the model needs values there"), err
    cli.main(["fit", "--data", str(text), "--out", str(tmp_path / "m")])  # fit has --columns
    assert "Pass --columns with the numeric channels to use" in capsys.readouterr().err


def test_stream_lines_with_semicolons_and_decimal_commas_name_the_flags(capsys, monkeypatch, ot_hufl_model,
                                                                     stream_input):
    """Lines a European spreadsheet writes, sent without --sep/--decimal: the first was taken for a
    header ('the header lacks the model's column(s) ['OT', 'HUFL']'); now the flags to pass."""
    history, new = stream_input
    lines = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False, sep=";", decimal=",")
    status, out, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, lines)
    first = lines.splitlines()[0]
    assert status == 2 and out == [] and "," in first
    assert err == (f"tsmamba: error: line 1: {first!r} is split into fields by ';', not by ',': the input "
                   "seems to use ';' as its delimiter and ',' as its decimal mark; pass --sep ';' and "
                   "--decimal ','"), err


def test_stream_header_lacking_a_model_column_stops(capsys, monkeypatch, ot_hufl_model, stream_input):
    history, new = stream_input
    rows = new[["date", "OT", "HUFL"]].to_csv(index=False, header=False)
    status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, f"date,HUFL,LULL\n{rows}")
    assert status == 2 and lines == []
    assert err.startswith("tsmamba: error: line 1: the header lacks the model's column(s) ['OT']"), err
    # a time column whose name holds a digit: still a header (its values are names)
    status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, f"t0,HUFL\n{rows}")
    assert status == 2 and "the header lacks the model's column(s) ['OT']" in err, err
    # the header DataFrame.to_csv writes with an unnamed index: an empty time field
    status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, f",HUFL,LULL\n{rows}")
    assert status == 2 and lines == []  # the rows after it would be read in the model's order
    assert err.startswith("tsmamba: error: line 1: the header lacks the model's column(s) ['OT']"), err
    status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, f"date,OT,HUFL,OT\n{rows}")
    assert status == 2 and lines == []
    assert err == "tsmamba: error: line 1: the header names ['OT'] more than once", err
    status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, f"OT,date,HUFL\n{rows}")
    assert status == 2 and lines == []  # it said the header lacked OT
    assert err == ("tsmamba: error: line 1: the header starts with the channel 'OT'; the time must be "
                   "the first field: send one line per time, the time and then one value per channel (long "
                   "form, a line per series and time, is not read here), e.g. the header date,OT,HUFL"), err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(["--protocol", "ltsf", "--context", "9000", "--horizon", "4"],
      "--context 9000 exceeds the train split's 8640 rows; choose a shorter --context"),
     (["--context", "8", "--horizon", "4", "--window", "sliding", "--train-length", "20000",
       "--start", "100"],
      "start later (--start) or shorten --train-length")],
)
def test_backtest_errors_name_the_flags(tmp_path, capsys, benchmark_file, flags, expected):
    benchmark_file("ETTh1")  # the errors come from reading it: skipped, not failed, without it
    status = cli.main(["backtest", "--data", "ETTh1", *flags, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in err and err.endswith(expected), err


def test_stream_errors_name_the_flags(capsys, monkeypatch, ot_hufl_model, stream_input):
    history, new = stream_input
    rows = new[["date", "OT", "HUFL"]].astype(str).to_numpy()
    stdin = f"{rows[0][0]},,{rows[0][2]}\n{rows[2][0]},{rows[2][1]},{rows[2][2]}\n"  # a NaN, then a gap
    status, lines, err = stream_lines(capsys, monkeypatch, ot_hufl_model, history, stdin)
    assert status == 3 and lines == []  # read to the end, lines rejected
    assert err.splitlines()[0].endswith("send a value, or use --missing ffill or --missing zero"), err
    assert err.splitlines()[1].endswith("send them, or use --gaps ffill or --gaps zero"), err


def test_ltsf_backtest_through_main(tmp_path, capsys, small_csv, tiny_config):
    # the protocol itself (2785 ETTh1 test windows) is tested in test_backtest.py; here the CLI path
    # on a small file with the "custom" 70/10/20 borders: test rows 560..700, starting L rows early;
    # with calendar features, so the test windows carry their time marks
    status = cli.main(["backtest", "--data", str(small_csv), "--protocol", "ltsf", "--context", "48",
                       "--horizon", "12", "--config", str(tiny_config), "--time-features", "true",
                       "--json", "--quiet", "--out", str(tmp_path / "r")])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    result = json.loads(captured.out)
    assert result["n_windows"] == 140 - 12 + 1 and result["config"]["protocol"] == "ltsf"
    assert result["config"]["borders"]["test"] == [560 - 48, 700]
    assert result["config"]["metrics_units"].startswith("scaled")
    report = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert report["forecasts_csv"]["complete"] is True and report["n_windows"] == 129
    assert report["config"]["model_params"]["time_features"] is True
    # the forecasts are in the protocol's scaled units, and their file says so on every row
    assert set(pd.read_csv(tmp_path / "r" / "forecasts.csv")["units"]) == {"scaled: train-split z-score"}


def test_toml_config_falls_back_to_tomli_and_says_what_is_missing(tmp_path, monkeypatch, capsys):
    """Python 3.10 has no tomllib: tomli (a 3.10 dependency) reads the file, and without either a
    TOML config is a one-line error, not a ModuleNotFoundError traceback."""
    import sys
    import types

    parser = cli._toml_module()
    config = write(tmp_path, "c.toml", "d_model = 8\n")
    monkeypatch.setitem(sys.modules, "tomllib", None)  # import tomllib now fails
    monkeypatch.setitem(sys.modules, "tomli", types.SimpleNamespace(loads=parser.loads))
    assert cli._read_config(config) == {"d_model": 8}
    monkeypatch.setitem(sys.modules, "tomli", None)
    out = str(tmp_path / "m")
    assert cli.main(["fit", "--data", "ETTh1", "--config", str(config), "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("tsmamba: error: reading a TOML --config needs Python 3.11 or the 'tomli' package "
                   "(pip install tomli); or write the settings as a .json file"), err
    assert cli._read_config(write(tmp_path, "c.json", '{"d_model": 8}')) == {"d_model": 8}


def test_cli_choices_are_the_library_options():
    """The command line spells out its choices so that --help needs no torch import; they must be
    the library's own, or a new option would be refused (or a removed one accepted) by the CLI."""
    from tsmamba import backtest, estimator, model, training, windows

    choices = {p.name: tuple(p.choices) for p in cli.MODEL_PARAMS if p.choices}
    assert choices == {
        "channel_mode": model.CHANNEL_MODES,
        "norm": model.NORMS,
        "loss": training.LOSSES,
        "train_sampling": windows.TRAIN_SAMPLINGS,
    }
    parser = cli.build_parser()
    commands = {a.dest: a for a in parser._subparsers._group_actions[0].choices["backtest"]._actions}
    assert tuple(commands["window"].choices) == backtest.WINDOWS
    assert tuple(commands["context_mode"].choices) == backtest.CONTEXTS == estimator.CONTEXTS
    predict = parser._subparsers._group_actions[0].choices["predict"]._actions
    assert tuple(next(a for a in predict if a.dest == "context").choices) == estimator.CONTEXTS


def test_local_days_written_in_utc_point_to_tz(tmp_path, capsys):
    days = pd.date_range("2021-02-01", periods=60, freq="D", tz="Europe/Berlin").tz_convert("UTC")
    path = tmp_path / "days.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d %H:%M:%S+00:00"), "a": range(60)}).to_csv(path, index=False)
    assert cli.main(["fit", "--data", str(path), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "read them in their own zone with --tz (e.g. --tz Europe/Berlin)" in err, err
    assert cli.main(["fit", "--data", str(path), "--config", str(write(tmp_path, "c.json", "{}")),
                     "--cycle-length", "7", "--tz", "Europe/Berlin", "--context", "8", "--horizon", "2",
                     "--d-model", "8", "--n-layers", "1", "--max-epochs", "1", "--quiet",
                     "--out", str(tmp_path / "m")]) == 0


def test_a_signal_during_a_held_update_waits_for_its_end():
    """helper-130: the signals were held with pthread_sigmask, in the main thread only, so the
    kernel gave them to another thread (torch's workers) and Python raised KeyboardInterrupt in
    the middle of an update, and a save then held a state that had taken a line its timestamp
    had not. Now the handlers note them, and the first is raised when the block ends."""
    import signal
    import threading
    import time

    started, stop = threading.Event(), threading.Event()
    other = threading.Thread(target=lambda: (started.set(), stop.wait(10)))  # blocks no signal
    other.start()
    started.wait()
    # Python's own Ctrl-C handler, whatever the test runner was started with (a shell's background
    # job ignores SIGINT, and an ignored signal is left ignored: the test had failed there)
    interrupt = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        for signum, raised, wrap in ((signal.SIGINT, KeyboardInterrupt, contextlib.nullcontext),
                                     (signal.SIGTERM, cli._Terminated, cli._terminated_as_exception)):
            inside = []
            with pytest.raises(raised), wrap(), cli._signals_held():
                os.kill(os.getpid(), signum)
                for _ in range(100):
                    time.sleep(0.002)  # where Python would have raised it
                inside.append("whole")
            assert inside == ["whole"]
    finally:
        signal.signal(signal.SIGINT, interrupt)
        stop.set()
        other.join()


def test_stream_with_stdin_closed_is_one_line(monkeypatch, capsys):
    """`tsmamba stream ... <&-` (no stdin at all) printed a TypeError's traceback and exited 1."""
    monkeypatch.setattr(sys, "stdin", None)
    assert cli.main(["stream", "--model", "m", "--history", "h.csv"]) == 2
    assert capsys.readouterr().err == ("tsmamba: error: standard input is closed: stream reads the "
                                       "observations from it; pipe them in (or redirect a file, "
                                       "< lines.csv)\n")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need os.mkfifo (POSIX)")
def test_a_pipe_is_data_for_the_ltsf_protocol_too(tmp_path, capsys, small_csv, tiny_config):
    """`--data <(zcat ...)` was "data file /dev/fd/63 not found" under --protocol ltsf, which
    also read its source twice, as a pipe cannot be (helper-143): it is read once, as a frame."""
    import threading

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(small_csv.read_bytes(),), daemon=True)
    writer.start()
    out = tmp_path / "report"
    status = cli.main(["backtest", "--protocol", "ltsf", "--data", str(fifo), "--context", "24",
                       "--horizon", "8", "--config", str(tiny_config), "--no-baselines", "--quiet",
                       "--out", str(out)])
    writer.join(timeout=10)
    assert status == 0, capsys.readouterr().err
    assert json.loads((out / "metrics.json").read_text())["config"]["horizon"] == 8


def test_the_demo_runs_to_its_report(tmp_path, capsys, monkeypatch):
    """`make demo`'s command end to end (helper-146: only its refusals were tested), on a shorter
    synthetic series than its own 6000 rows to keep the suite quick."""
    from tsmamba import datasets

    real = datasets.synthetic_ett
    monkeypatch.setattr(datasets, "synthetic_ett", lambda n_rows, seed: real(n_rows=2000, seed=seed))
    out = tmp_path / "demo"
    assert cli.main(["demo", "--synthetic", "--max-epochs", "1", "--d-model", "8", "--n-layers", "1",
                     "--threads", "1", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "NOTE: using the synthetic ETT-like series" in printed and "--synthetic was given" in printed
    assert {p.name for p in out.iterdir()} == {"error_by_step.png", "error_over_time.png", "forecast.png",
                                               "forecasts.csv", "metrics.csv", "metrics.json"}
    report = json.loads((out / "metrics.json").read_text())
    assert report["config"]["protocol"] == "ltsf" and report["config"]["horizon"] == 96
    assert set(report["baselines"]) == {"last_value", "seasonal_naive", "linear"}
    assert report["model"] == "tsmamba" and np.isfinite(report["scores"]["overall"]["mse"])


# ---- pins from the fifth hand mutation round (helper-152, cli.py) ---------------------------
TINY_MODEL = ["--context", "8", "--horizon", "4", "--d-model", "8", "--n-layers", "1", "--max-epochs", "1"]


@pytest.fixture(scope="module")
def tiny_series(tmp_path_factory) -> Path:
    """160 hourly rows of two smooth channels, a and b."""
    import numpy as np
    import pandas as pd

    t = np.arange(160)
    path = tmp_path_factory.mktemp("data") / "tiny.csv"
    pd.DataFrame({"date": pd.date_range("2021-01-01", periods=160, freq="h").strftime("%Y-%m-%d %H:%M:%S"),
                  "a": np.sin(t / 4) + t * 0.01, "b": np.cos(t / 5)}).to_csv(path, index=False)
    return path


def resolved_settings(*argv: str) -> dict:
    """The settings ``tsmamba ARGV`` resolves to (flags, --config, defaults), without running it."""
    args = cli.build_parser().parse_args(list(argv))
    return cli._resolve(cli.COMMANDS[args.command], args)[0]


def usage_error(capsys, *argv: str) -> str:
    """The one line argparse prints for a refused flag value (exit status 2)."""
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(list(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


def config_error(tmp_path: Path, capsys, name: str, text: str, command: str = "fit") -> str:
    """The one error line of ``tsmamba COMMAND --config FILE`` (FILE holding ``text``)."""
    config = write(tmp_path, name, text)
    missing = str(tmp_path / "none.csv")  # a config file the mutant accepts fails at once, not after a fit
    assert cli.main([command, "--data", missing, "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tsmamba: error: "), err
    return err.strip()


# ------------------------------------------------------------------------------------------
# flag values at their bounds, and the words each flag takes


def test_threads_take_1024_and_refuse_1025(capsys):
    """`--threads 1025` is a usage error naming the limit; 1024 is taken
    (helper: thread_count's `value > 1024` -> `value > 1025` passed)."""
    assert resolved_settings("datasets", "--threads", "1024")["threads"] == 1024
    err = usage_error(capsys, "datasets", "--threads", "1025")
    assert err.startswith("tsmamba: error: argument --threads: expected at most 1024 threads, got 1025"), err


def test_zero_is_taken_by_the_options_whose_help_says_0_is_off():
    """--patience 0 and --gradient-clip-val 0 (the help: "0: off") and --weight-decay 0 are taken
    (helper: non_negative_int's low 0 -> 1, and _number's `value >= low` -> `value > low` passed)."""
    opts = resolved_settings("fit", "--patience", "0", "--gradient-clip-val", "0", "--weight-decay", "0")
    assert (opts["patience"], opts["gradient_clip_val"], opts["weight_decay"]) == (0, 0.0, 0.0)


def test_a_frequency_loss_weight_of_one_is_taken(capsys):
    """--frequency-loss takes 1 (the help: a weight in [0, 1]) and refuses 1.5
    (helper: weight's `value > 1.0` -> `value >= 1.0` passed)."""
    assert resolved_settings("fit", "--frequency-loss", "1")["frequency_loss"] == 1.0
    assert "expected a number >= 0.0 and <= 1.0, got '1.5'" in usage_error(
        capsys, "fit", "--frequency-loss", "1.5")


@pytest.mark.parametrize(("word", "value"), [("never", False), ("off", False), ("0", False),
                                              ("always", True), ("on", True), ("3", 3)])
def test_refit_takes_its_words(word, value):
    """--refit never / always (words the flag documents as never and every origin) read as false
    and true (helper: dropping "never" or "always" from refit_value's words passed)."""
    refit = resolved_settings("backtest", "--refit", word)["refit"]
    assert (type(refit), refit) == (type(value), value)


def test_columns_listed_with_spaces_after_the_commas_are_the_names():
    """`--columns "OT, HUFL"` selects OT and HUFL, not a column ' HUFL'
    (helper: column_list without .strip() passed)."""
    assert resolved_settings("fit", "--columns", "OT, HUFL ,LULL")["columns"] == ["OT", "HUFL", "LULL"]


@pytest.mark.parametrize(("word", "value"), [("yes", True), ("YES", True), ("no", False), ("off", False)])
def test_true_false_options_take_yes_and_no(word, value):
    """--time-features yes reads as true (helper: dropping "yes" from boolean's words passed)."""
    assert resolved_settings("fit", "--time-features", word)["time_features"] is value


# ------------------------------------------------------------------------------------------
# --config files


def test_a_config_file_holding_a_json_list_says_it_needs_a_table(tmp_path, capsys):
    """A JSON list as the settings file is one line naming the type found
    (helper: dropping ', got {type}' from the message passed)."""
    err = config_error(tmp_path, capsys, "list.json", "[1, 2]")
    assert err.endswith("list.json must hold a table of settings, got list"), err


def test_a_missing_config_file_is_named(tmp_path, capsys):
    """--config naming no file: 'tsmamba: error: --config file not found: PATH'
    (helper: rewording it to '--config not found' passed)."""
    assert cli.main(["fit", "--data", "ETTh1", "--config", str(tmp_path / "nope.toml"),
                     "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err == f"tsmamba: error: --config file not found: {tmp_path / 'nope.toml'}\n"


def test_a_config_file_cannot_set_the_progress_bar_in_trainer_kwargs(tmp_path, capsys):
    """trainer_kwargs.enable_progress_bar would override --quiet: it is refused, naming quiet
    (helper: dropping enable_progress_bar from _CLI_TRAINER_KEYS passed)."""
    err = config_error(tmp_path, capsys, "c.toml", "[model.trainer_kwargs]\nenable_progress_bar = true\n",
                       command="backtest")
    assert err.endswith("setting 'trainer_kwargs': 'enable_progress_bar' is set by the command's own "
                        "setting 'quiet' (in the file or as a flag); set it there"), err


def test_a_config_choice_outside_the_flags_choices_is_refused_early(tmp_path, capsys):
    """loss = "l1" in a --config is refused as the flag would be, naming the choices
    (helper: skipping the choices check for model settings passed)."""
    err = config_error(tmp_path, capsys, "c.toml", 'loss = "l1"\n')
    assert err.endswith("setting 'loss': expected one of ('mse', 'mae', 'huber'), got 'l1'"), err


def test_a_config_value_outside_an_options_choices_is_refused(tmp_path, capsys):
    """window = "rolling" in a backtest's --config is refused naming the choices, as --window is
    (helper: skipping the choices check for command options passed)."""
    err = config_error(tmp_path, capsys, "c.toml", 'window = "rolling"\n', command="backtest")
    assert err.endswith("setting 'window': expected one of ('expanding', 'sliding'), got 'rolling'"), err


def test_a_config_zero_patience_and_clip_are_recorded_as_off(tmp_path, capsys, tiny_series):
    """--patience 0 and --gradient-clip-val 0 ("0: off") reach the model, and its report, as None
    (helper: dropping either 0 -> None in Run.model_params passed)."""
    out = tmp_path / "r"
    assert cli.main(["backtest", "--data", str(tiny_series), *TINY_MODEL, "--start", "140", "--stride", "8",
                     "--patience", "0", "--gradient-clip-val", "0", "--quiet", "--out", str(out)]) == 0
    params = json.loads((out / "metrics.json").read_text())["config"]["model_params"]
    assert (params["patience"], params["gradient_clip_val"]) == (None, None)


# ------------------------------------------------------------------------------------------
# the top-level parser


def test_version_prints_the_version(capsys):
    """`tsmamba --version` prints 'tsmamba VERSION' and exits 0, not "options go after the command"
    (helper: dropping --version from main's list of options before a command passed)."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code in (0, None)
    assert capsys.readouterr().out == f"tsmamba {cli.__version__}\n"


# ------------------------------------------------------------------------------------------
# the summary table


def one_model_result(**overall: float):
    from types import SimpleNamespace

    ones = dict.fromkeys(("mse", "mae", "rmse", "smape", "mase"), 1.0)
    scores = {"tsmamba": {"overall": {**ones, **overall}, "per_channel": {}}}
    return SimpleNamespace(model_name="tsmamba", scores=scores, summary={"improvement_pct": {}})


def test_summary_table_switches_to_exponents_below_one_thousandth():
    """0.0005 prints as 5.0000e-04 (fixed decimals keep one digit of it); 0.001 as 0.0010
    (helper: the bound 1e-3 -> 1e-4 in _fmt passed)."""
    row = cli.summary_table(one_model_result(mse=5e-4, mae=1e-3)).splitlines()[2].split()
    assert row[1:3] == ["5.0000e-04", "0.0010"], row


def test_summary_table_prints_smape_with_two_decimals():
    """sMAPE% has two decimals, the other scores four (helper: smape's 2 digits -> 4 passed)."""
    row = cli.summary_table(one_model_result(smape=12.34567, mase=0.98765)).splitlines()[2].split()
    assert row[4:6] == ["12.35", "0.9877"], row


def test_summary_table_prints_a_small_smape_in_exponent_form_not_as_zero():
    """sMAPE's two decimals printed 0.004 % (a near-perfect baseline's) as 0.00, a score of zero:
    below 0.1 it takes the exponent form, as the four-decimal scores do below 1e-3."""
    row = cli.summary_table(one_model_result(smape=0.004)).splitlines()[2].split()
    assert row[4] == "4.00e-03", row
    row = cli.summary_table(one_model_result(smape=0.1)).splitlines()[2].split()
    assert row[4] == "0.10", row


def test_summary_table_writes_gains_of_a_million_percent_with_an_exponent():
    """A gain of 5,000,000 % prints as +5.0e+06%, one under a million as fixed
    (helper: _gain's bound 1e6 -> 1e7 passed)."""
    assert cli._gain(5e6) == "+5.0e+06%" and cli._gain(999_999.0) == "+999999.0%"


# ------------------------------------------------------------------------------------------
# the demo


def run_demo(tmp_path, capsys, monkeypatch, *flags: str) -> tuple[int, str, str, list]:
    """`tsmamba demo --synthetic` with a tiny model on 1500 synthetic rows: (status, out, err,
    the seeds the synthetic series was made with)."""
    from tsmamba import datasets

    real, seeds = datasets.synthetic_ett, []

    def shorter(n_rows, seed):
        seeds.append(seed)
        return real(n_rows=1500, seed=seed)

    monkeypatch.setattr(datasets, "synthetic_ett", shorter)
    status = cli.main(["demo", "--synthetic", "--max-epochs", "1", "--d-model", "8", "--n-layers", "1",
                       "--quiet", "--out", str(tmp_path / "demo"), *flags])
    out, err = capsys.readouterr()
    return status, out, err, seeds


def test_demo_json_keeps_stdout_for_the_json(tmp_path, capsys, monkeypatch):
    """`tsmamba demo --json`: stdout is one indented JSON document of the scores, config, data and
    report folder; the synthetic-data NOTE goes to stderr (helper: Run.say printing to stdout under
    --json, an extra key, the indent dropped, and the data's source left unset, passed)."""
    status, out, err, _ = run_demo(tmp_path, capsys, monkeypatch, "--json")
    assert status == 0, err
    printed = json.loads(out)
    assert list(printed) == ["model", "n_windows", "scores", "improvement_pct", "config", "data", "timings",
                             "report_dir"]
    assert printed["report_dir"] == str(tmp_path / "demo") and printed["data"]["source"] == "synthetic"
    assert out.startswith('{\n  "model": "tsmamba",\n  "n_windows": ')  # indented, for reading
    assert err.startswith("NOTE: using the synthetic ETT-like series (6000 hourly rows, 7 channels): "
                          "--synthetic was given"), err


# ------------------------------------------------------------------------------------------
# fit, predict and the backtest's report lines


@pytest.fixture(scope="module")
def when_model(tmp_path_factory, tiny_series) -> tuple[Path, str]:
    """(a tiny model fitted on tiny_series with its time column named 'when', what fit printed)."""
    import pandas as pd

    folder = tmp_path_factory.mktemp("when")
    data = folder / "when.csv"
    pd.read_csv(tiny_series).rename(columns={"date": "when"}).to_csv(data, index=False)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = cli.main(["fit", "--data", str(data), "--time-col", "when", *TINY_MODEL, "--quiet",
                           "--out", str(folder / "m")])
    assert status == 0
    return folder / "m", printed.getvalue()


def test_fit_prints_parameters_windows_epochs_and_the_best_validation_loss(when_model):
    """fit's summary line: '... 1 epoch(s) in 0.2 s, best validation loss 0.8367 (epoch 0)'
    (helper: 'epoch(s)' -> 'epochs', and the loss's 4 decimals -> 2, passed)."""
    model, printed = when_model
    lines = printed.splitlines()
    assert re.fullmatch(r"trained \d+ parameters on 133 windows: 1 epoch\(s\) in \d+\.\d s, best validation "
                        r"loss \d+\.\d{4} \(epoch 0\)", lines[0]), lines[0]
    assert lines[1:] == [f"model saved to {model}/"]


def test_predict_out_says_how_many_steps_and_channels_it_wrote(when_model, tmp_path, capsys):
    """`predict --out F` says '4 steps x 2 channels written to F'
    (helper: dropping 'x 2 channels' passed)."""
    out = tmp_path / "f.csv"
    assert cli.main(["predict", "--model", str(when_model[0]), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"4 steps x 2 channels written to {out}\n"
    assert out.read_text().splitlines()[0] == "when,a,b"


def test_predict_out_refuses_to_replace_a_read_only_file(when_model, tmp_path, capsys):
    """`predict --out F` with F read-only (0444) is one error line before the work, and F stays:
    the new file moved onto it, which its mode does not stop, had replaced it."""
    out = tmp_path / "kept.csv"
    out.write_text("kept\n")
    out.chmod(0o444)
    (tmp_path / "link.csv").symlink_to(out)
    for given in (out, tmp_path / "link.csv"):  # a symlink names the file it would replace
        assert cli.main(["predict", "--model", str(when_model[0]), "--out", str(given)]) == 2
        assert capsys.readouterr().err == (f"tsmamba: error: --out {given} is read-only, so it is not "
                                           "replaced; make it writable (chmod u+w) to write over it, or "
                                           "choose another path\n")
    assert out.read_text() == "kept\n" and out.stat().st_mode & 0o777 == 0o444
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.csv", "link.csv"]
    if os.geteuid() == 0:  # another user's read-only file: chmod is not this user's to run
        theirs = tmp_path / "theirs.csv"
        theirs.write_text("kept\n")
        theirs.chmod(0o444)
        os.chown(theirs, os.geteuid() + 4242, -1)
        assert cli.main(["predict", "--model", str(when_model[0]), "--out", str(theirs)]) == 2
        assert capsys.readouterr().err == (f"tsmamba: error: --out {theirs} is read-only, so it is not "
                                           "replaced; it belongs to another user: choose another path\n")


def test_backtest_names_the_report_files_and_keeps_250000_forecast_rows(tmp_path, capsys, monkeypatch,
                                                                       tiny_series):
    """The last line lists the files written; forecasts.csv keeps at most 250,000 rows unless
    --all-forecasts (helper: dropping the file list, and 250_000 -> 25_000, passed)."""
    kept = record_forecast_row_caps(monkeypatch)
    out = tmp_path / "r"
    assert cli.main(["backtest", "--data", str(tiny_series), *TINY_MODEL, "--start", "140", "--stride", "8",
                     "--quiet", "--out", str(out)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == (f"report: {out}/ (error_by_step.png, error_over_time.png, forecast.png, forecasts.csv, "
                    "metrics.csv, metrics.json)")
    assert kept == [250_000]


def test_predict_refuses_impute_without_data(tmp_path, capsys):
    """`predict --impute ffill` without --data would be ignored: it is one error line naming the fix
    (helper: dropping impute from predict's list of --data-only flags passed)."""
    from tests.test_cli import fake_model

    model = fake_model(tmp_path / "m")
    assert cli.main(["predict", "--model", str(model), "--impute", "ffill"]) == 2
    assert capsys.readouterr().err == ("tsmamba: error: --impute replaces the missing values of --data; give "
                                       "--data too (or drop it)\n")


# ------------------------------------------------------------------------------------------
# datasets


def test_datasets_says_which_missing_files_are_downloaded_and_as_what(tmp_path, capsys, monkeypatch):
    """A data set not found reads 'not found (ETTh1.csv; downloaded on first use)', and one fetched
    under another name says so (helper: dropping '; downloaded on first use' passed)."""
    from tsmamba import datasets

    monkeypatch.setenv("TSMAMBA_DATA", str(tmp_path))
    monkeypatch.setattr(datasets, "download_dir", lambda: tmp_path / "downloads")
    assert cli.main(["datasets"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["name"] == "name         kind    freq   rows   channels  sha256  file"
    assert lines["ETTh1"] == ("ETTh1        ETTh    h      17420  7         -       not found (ETTh1.csv; "
                              "downloaded on first use)")
    assert lines["ETTm1"].endswith("not found (ETTm1.csv.gz; downloaded on first use as ETTm1.csv)")


def data_folders(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """($TSMAMBA_DATA, download folder), both empty."""
    from tsmamba import datasets

    env, downloads = tmp_path / "env", tmp_path / "downloads"
    env.mkdir()
    downloads.mkdir()
    monkeypatch.setenv("TSMAMBA_DATA", str(env))
    monkeypatch.setattr(datasets, "download_dir", lambda: downloads)
    return env, downloads


def test_datasets_verify_checks_each_file_s_sha256(tmp_path, capsys, monkeypatch, benchmark_file):
    """The listing says what each file is checked against; --verify reads the files and says
    which match, and a mismatch is named with what to do, and exits with status 2."""
    from tsmamba import datasets

    published = benchmark_file("ETTh1")
    env, downloads = data_folders(tmp_path, monkeypatch)
    (env / "ETTh1.csv").symlink_to(published)
    (downloads / "ETTh2.csv").write_text(GOOD_ROWS, encoding="utf-8")
    datasets._write_sidecar(downloads / "ETTh2.csv", "0" * 64)  # what was downloaded is not this
    (downloads / "traffic.csv").write_text(GOOD_ROWS, encoding="utf-8")
    assert cli.main(["datasets"]) == 0
    lines = {line.split()[0]: line.split()[5] for line in capsys.readouterr().out.splitlines()[:8]}
    assert lines == {"name": "sha256", "ETTh1": "registry", "ETTh2": "recorded", "ETTm1": "-", "ETTm2": "-",
                     "Weather": "-", "Electricity": "-", "Traffic": "no"}  # fmt: skip
    assert cli.main(["datasets", "--verify"]) == 2
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert [line.split()[5] for line in out[1:8]] == ["verified", "MISMATCH", "-", "-", "-", "-", "no"]
    mismatched = downloads / "ETTh2.csv"
    assert out[8] == (f"ETTh2: {mismatched}: sha256 {datasets.sha256_file(mismatched)} "
                      f"does not match {'0' * 64} recorded in {downloads / 'ETTh2.csv.sha256'}; the file is "
                      "corrupt, truncated or a different version. Delete it and download it again (or "
                      "replace it with the published file)")
    assert out[9].startswith("searched: ")
    assert captured.err == (f"tsmamba: error: {downloads / 'ETTh2.csv'} failed the sha256 check (above): "
                            "delete it (it is downloaded again when next used) or point $TSMAMBA_DATA at a "
                            "folder that holds the published file\n")
    (downloads / "ETTh2.csv").unlink()
    assert cli.main(["datasets", "--verify", "--json"]) == 0
    captured = capsys.readouterr()
    entries = {e["name"]: e for e in json.loads(captured.out)}
    assert entries["ETTh1"]["verified"] is True and entries["ETTh1"]["sha256"] == "registry"
    assert entries["Traffic"]["verified"] is None and entries["Traffic"]["sha256"] is None
    assert captured.err.startswith("searched: ")

    def refused(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(datasets, "sha256_file", refused)  # unreadable: named, and status 2
    assert cli.main(["datasets", "--verify"]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1].split()[5] == "unreadable"
    assert captured.err == "tsmamba: error: 1 file could not be read for the sha256 check (above)\n"


def test_datasets_removes_what_killed_downloads_left_and_says_how_much(tmp_path, capsys, monkeypatch):
    """A killed download's hidden part stayed in the data folder for good unless the same file
    was downloaded again; `tsmamba datasets` removes those that no download holds."""
    fcntl = pytest.importorskip("fcntl")
    _, downloads = data_folders(tmp_path, monkeypatch)
    killed = downloads / ".traffic.csv.0badf00d.part.csv"
    killed.write_bytes(b"\0" * (3 << 20))
    held = downloads / ".ETTh2.csv.1234abcd.part.csv"
    held.write_bytes(b"date")
    with open(held, "rb") as running:
        fcntl.flock(running, fcntl.LOCK_EX)
        assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == [f"removed 1 partial file (3.0 MiB) that killed downloads had left: {killed}",
                        "1 partial file (4 bytes) of downloads in progress (or, without flock, stopped less "
                        f"than an hour ago): {held}"]
    assert not killed.exists() and held.exists()
    unlink = Path.unlink

    def refused(path, missing_ok=False):  # a folder this user may not write to (root may)
        if path == held:
            raise PermissionError(13, "Permission denied", str(path))
        unlink(path, missing_ok)

    monkeypatch.setattr(Path, "unlink", refused)
    assert cli.main(["datasets"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"1 partial file (4 bytes) that killed downloads left could not be removed (delete by hand): {held}")
    monkeypatch.setattr(Path, "unlink", unlink)
    assert cli.main(["datasets"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"removed 1 partial file (4 bytes) that killed downloads had left: {held}")
    assert not held.exists()
    assert cli.main(["datasets"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("searched: ")  # nothing left to say


def test_datasets_names_a_checksum_record_left_without_its_file(tmp_path, capsys, monkeypatch):
    """A download killed before putting its file in place left ETTh2.csv.sha256 alone, which the
    listing did not name; a file put there later is checked against it. It is named, and kept."""
    from tsmamba import datasets

    _, downloads = data_folders(tmp_path, monkeypatch)
    datasets._write_sidecar(downloads / "ETTh2.csv", "0" * 64)
    assert cli.main(["datasets"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "1 checksum record with no data file beside it (a download killed before putting the file in "
        "place, or the file deleted), kept: a file put there is checked against it (a download writes a "
        f"new one); delete it unless it holds that file's sha256: {downloads / 'ETTh2.csv.sha256'}")
    assert (downloads / "ETTh2.csv.sha256").exists()


def test_demo_flags_win_over_its_settings_and_seed_seeds_the_synthetic_series(tmp_path, capsys, monkeypatch):
    """`demo --synthetic --seed 5 --d-model 8`: the synthetic series is made with seed 5 and the
    model has d_model 8, not the demo's 32 (helper: the seed ignored for the series, and the demo's
    settings set over the flags, passed); its title names the data (helper: dropping it passed)."""
    status, out, err, seeds = run_demo(tmp_path, capsys, monkeypatch, "--seed", "5")
    assert status == 0, err
    title = out.splitlines()[1]
    assert title.startswith("demo on synthetic - LTSF protocol, context 96, horizon 96: "), title
    assert title.endswith(" test windows, scores on scaled data"), title
    assert seeds == [5]
    params = json.loads((tmp_path / "demo" / "metrics.json").read_text())["config"]["model_params"]
    given = (params["d_model"], params["n_layers"], params["max_epochs"], params["random_state"])
    assert given == (8, 1, 1, 5)
    assert (params["cycle_length"], params["head_dim"]) == (24, 8)  # the demo's own, not given


# ------------------------------------------------------------------------------------------
# stream


@pytest.fixture
def when_history(tmp_path, tiny_series) -> tuple[Path, object]:
    """(the first 150 rows of tiny_series, time column 'when'; the remaining 10 rows)."""
    import pandas as pd

    frame = pd.read_csv(tiny_series).rename(columns={"date": "when"})
    history = tmp_path / "history.csv"
    frame.iloc[:150].to_csv(history, index=False)
    return history, frame.iloc[150:]


def test_stream_lines_and_notes_without_quiet(when_model, when_history, capsys, monkeypatch):
    """Without --quiet, stream notes a header's ignored columns and the count of rejected lines on
    stderr; each JSON line holds the full timestamps (helper: dropping the header note, the
    'N line(s) rejected' note, or cutting the timestamps to the date, passed)."""
    history, new = when_history
    rows = "".join(f"{r.when},{r.b},{r.a},0\n" for r in new.iloc[:2].itertuples())
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"when,b,a,extra\n{rows}bad,1,2,0\n"))
    assert cli.main(["stream", "--model", str(when_model[0]), "--history", str(history)]) == 3
    out, err = capsys.readouterr()
    assert err.splitlines() == ["stdin header: ignoring column(s) ['extra'], which the model does not use",
                                "tsmamba: error: line 4: timestamp 'bad' cannot be parsed",
                                "1 line(s) rejected"]
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["timestamp"] == "2021-01-07 06:00:00" and second["timestamp"] == "2021-01-07 07:00:00"
    assert first["index"] == ["2021-01-07 07:00:00", "2021-01-07 08:00:00", "2021-01-07 09:00:00",
                              "2021-01-07 10:00:00"]
    assert first["columns"] == ["a", "b"] and len(first["forecast"]) == 4


# ------------------------------------------------------------------------------------------
# data


def test_a_registry_column_not_found_lists_the_channels(tmp_path, capsys, benchmark_file):
    """`--data ETTh1 --columns OT,XX` names the missing column and the data set's channels
    (helper: dropping '; the channels are [...]' passed)."""
    benchmark_file("ETTh1")
    assert cli.main(["fit", "--data", "ETTh1", "--columns", "OT,XX", "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err == ("tsmamba: error: ETTh1: column(s) ['XX'] not found; the channels are "
                                       "['HUFL', 'HULL', 'MUFL', 'MULL', 'LUFL', 'LULL', 'OT']\n")


def test_a_config_path_that_runs_through_a_file_names_the_path(tmp_path, capsys):
    """--config notes.txt/c.toml (notes.txt a file): the OS error names the path
    (helper: dropping the file name from _describe's OSError line passed)."""
    notes = write(tmp_path, "notes.txt", "x")
    assert cli.main(["fit", "--data", "ETTh1", "--config", str(notes / "c.toml"),
                     "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err == f"tsmamba: error: Not a directory: {notes / 'c.toml'}\n"


def test_a_config_file_named_like_a_setting_keeps_its_name_in_messages(tmp_path, capsys, monkeypatch):
    """A settings file named head_window=48.toml is named as written, not '--head-window 48.toml'
    (helper: rewording parameter names in --config messages too passed)."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["fit", "--data", "ETTh1", "--config", "head_window=48.toml", "--out", "m"]) == 2
    assert capsys.readouterr().err == "tsmamba: error: --config file not found: head_window=48.toml\n"


def test_datasets_json_lists_every_registry_data_set(capsys):
    """`tsmamba datasets --json` lists the whole registry, in its order
    (helper: leaving out the last entry passed)."""
    from tsmamba import datasets

    assert cli.main(["datasets", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in entries] == list(datasets.REGISTRY)


def test_summary_table_shows_a_missing_score_as_a_dash_and_says_which_way_gains_point():
    """A NaN or absent score prints '-'; under the gains: '(positive: tsmamba better)'
    (helper: _fmt's '-' -> 'nan', and 'tsmamba better' -> 'baseline better', passed)."""
    result = one_model_result(mase=float("nan"))
    del result.scores["tsmamba"]["overall"]["rmse"]
    row = cli.summary_table(result).splitlines()[2].split()
    assert row == ["tsmamba", "1.0000", "1.0000", "-", "1.00", "-"]
    result.scores["linear"] = {"overall": dict(result.scores["tsmamba"]["overall"]), "per_channel": {}}
    result.summary["improvement_pct"]["linear"] = {"mse": 2.0, "mae": -3.0}
    lines = cli.summary_table(result).splitlines()
    assert lines[3].split()[-2:] == ["+2.0%", "-3.0%"]
    assert lines[-1] == ("gain: how much lower the tsmamba error is than the baseline's (positive: tsmamba "
                         "better)")


def test_a_registry_file_not_found_is_one_line_listing_the_folders(tmp_path, capsys, monkeypatch):
    """The library's several-line 'not found' advice is joined with spaces into one line
    (helper: _one_line joining with '; ' passed)."""
    from tsmamba import datasets

    real = datasets.load_dataset
    monkeypatch.setenv("TSMAMBA_DATA", str(tmp_path))
    monkeypatch.setattr(datasets, "download_dir", lambda: tmp_path / "dl")
    monkeypatch.setattr(datasets, "load_dataset", lambda name, **kw: real(name, download=False, **kw))
    assert cli.main(["fit", "--data", "ETTh1", "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err == (
        f"tsmamba: error: ETTh1 not found (downloads are off). Put ETTh1.csv or ETTh1.csv.gz in one of these "
        f"folders: - {tmp_path} - {tmp_path / 'dl'} or point $TSMAMBA_DATA at the folder that holds it "
        "(export TSMAMBA_DATA=/path/to/datasets).\n")


def test_ltsf_backtest_title_says_the_scores_are_on_scaled_data(tmp_path, capsys, tiny_series):
    """The LTSF table's title ends 'N test windows, scores on scaled data'
    (helper: dropping ', scores on scaled data' passed)."""
    assert cli.main(["backtest", "--data", str(tiny_series), "--protocol", "ltsf", *TINY_MODEL, "--quiet",
                     "--no-baselines", "--out", str(tmp_path / "r")]) == 0
    title = capsys.readouterr().out.splitlines()[0]
    assert title == "tiny.csv - LTSF protocol, context 8, horizon 4: 29 test windows, scores on scaled data"


def test_fit_and_backtest_note_the_rows_and_channels_they_train_on(tmp_path, capsys, tiny_series):
    """Without --quiet, stderr notes 'training on tiny.csv: 160 rows x 2 channels' (fit) and
    'backtesting on tiny.csv: 160 rows x 2 channels' (helper: dropping the shape from either note
    passed)."""
    assert cli.main(["fit", "--data", str(tiny_series), *TINY_MODEL, "--out", str(tmp_path / "m")]) == 0
    assert "training on tiny.csv: 160 rows x 2 channels\n" in capsys.readouterr().err
    assert cli.main(["backtest", "--data", str(tiny_series), *TINY_MODEL, "--start", "150", "--stride", "8",
                     "--no-baselines", "--out", str(tmp_path / "r")]) == 0
    assert "backtesting on tiny.csv: 160 rows x 2 channels\n" in capsys.readouterr().err


def test_device_auto_reaches_the_trainer():
    """--device auto is passed on as Lightning's accelerator 'auto' (a GPU when there is one), and
    cpu as 'cpu' (helper: every device but cuda becoming 'cpu' passed)."""
    for device in ("auto", "cpu"):
        opts = resolved_settings("fit", "--device", device, "--d-model", "8")
        params = cli.Run("fit", opts, sys.stdout, sys.stderr).model_params()
        assert params["trainer_kwargs"] == {"accelerator": device} and params["d_model"] == 8


def test_encoding_reads_a_windows_excel_export_in_fit_predict_and_stream(tmp_path, capsys, monkeypatch,
                                                                          tiny_config):
    """A German Excel CSV is cp1252 text: --encoding reads it (and stream's stdin lines); without
    it the error names the flag, where it had said to re-save the file as UTF-8."""
    times = pd.date_range("2021-01-01", periods=120, freq="h")
    frame = pd.DataFrame({"date": times.strftime("%d.%m.%Y %H:%M"), "Wärme": np.sin(np.arange(120) / 5),
                          "Temp (°C)": np.cos(np.arange(120) / 7)})
    frame.to_csv(path := tmp_path / "export.csv", sep=";", decimal=",", index=False, encoding="cp1252")
    marks = ["--sep", ";", "--decimal", ",", "--date-format", "%d.%m.%Y %H:%M"]
    model = tmp_path / "m"
    fit = ["fit", "--data", str(path), *marks, "--context", "24", "--horizon", "4",
           "--config", str(tiny_config), "--out", str(model), "--quiet"]
    assert cli.main(fit) == 2
    assert capsys.readouterr().err.strip().endswith(
        "re-save the file as UTF-8, or pass --encoding with the file's encoding (e.g. --encoding cp1252)")
    assert cli.main([*fit, "--encoding", "cp1252"]) == 0 and "model saved" in capsys.readouterr().out
    predict = ["predict", "--model", str(model), "--data", str(path), *marks, "--encoding", "cp1252"]
    assert cli.main(predict) == 0
    assert capsys.readouterr().out.splitlines()[0] == "date,Wärme,Temp (°C)"
    line = "06.01.2021 00:00;0,5;-0,25\n".encode("cp1252")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("date;Wärme;Temp (°C)\n".encode("cp1252")
                                                                   + line), encoding="utf-8"))
    assert cli.main(["stream", "--model", str(model), "--history", str(path), *marks, "--encoding", "cp1252",
                     "--quiet"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["columns"] == ["Wärme", "Temp (°C)"]
    with pytest.raises(SystemExit) as exit_:
        cli.main([*fit, "--encoding", "klingon"])
    assert exit_.value.code == 2 and ("argument --encoding: expected a text encoding such as utf-8, cp1252 "
                                      "or latin-1, got 'klingon'") in capsys.readouterr().err
    # a model fitted by another time column finds it in a file read with --sep and --encoding
    # (predict had looked for it in the header read as UTF-8 at commas, and read 'date')
    frame.rename(columns={"date": "Zeit"}).to_csv(path, sep=";", decimal=",", index=False, encoding="cp1252")
    assert cli.main([*fit, "--encoding", "cp1252", "--time-col", "Zeit"]) == 0
    capsys.readouterr()
    assert cli.main(predict) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.splitlines()[0] == "Zeit,Wärme,Temp (°C)"


# --- pinned by mutation round 9 (this session's changes) ---


def test_a_utf16_file_is_told_to_pass_encoding_utf16_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text(GOOD_ROWS, encoding="utf-16")
    assert cli.main(["fit", "--data", str(path), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("re-save the file as UTF-8, or pass --encoding utf-16"), err
    assert "encoding=" not in err, err
