"""The benchmark scripts in ``experiments/benchmarks/`` run end to end at tiny sizes and print their
tables. Their figures are not checked here (timings belong in the scripts' output, not in tests);
what is checked is that a script a reader is told to run still runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "experiments" / "benchmarks"

TINY_RUNS = {
    "bench_block": ["--series", "2", "--lengths", "8", "--d-model", "8", "--repeats", "1"],
    "bench_ssd": ["--lengths", "32", "--batch", "1", "--nheads", "2", "--headdim", "4", "--d-state", "4",
                  "--repeats", "1", "--threads", "1"],
    "bench_streaming": ["--histories", "100", "--repeats", "1", "--batches", "1", "2", "--threads", "1",
                        "--params", '{"d_model": 8, "n_layers": 1}'],
    "bench_backtest": ["--d-model", "8", "--n-layers", "1", "--loop-origins", "2", "--threads", "1",
                       "--repeat", "1"],
    "bench_loaders": ["--datasets", "ETTh1", "--contexts", "96", "--horizon", "24"],
    "bench_forecast_batch": ["--windows", "4", "--passes", "1,3", "--repeat", "1",
                             "--only", "ETTh1 per-channel L=96 H=96"],
    "bench_stream_precision": ["--steps", "3", "--history", "100"],
    "bench_stream_marks": ["--repeats", "3", "--threads", "1"],
}
NEEDS_DATA = {"bench_backtest": "ETTh1", "bench_loaders": "ETTh1"}
# a line of each script's table: its first cell, then a number
TABLE_ROW = {
    "bench_block": r"^\s+8\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d$",
    "bench_ssd": r"^\s+32\s+fwd\+bwd\s+\d",
    "bench_streaming": r"^\s+100\s+2\s+\d",
    "bench_backtest": r"^\| full: one recurrent pass \| 2785 \| \d",
    "bench_loaders": r"^\| ETTh1\s+\|\s+96 \| windows-batched\s+\|\s+\d",
    # its own choice: 6 windows per pass of 7 x 96 x 64 activations each
    "bench_forecast_batch": r"^\| ETTh1 per-channel L=96 H=96 \| [\d,]+ \| 43,008 \| 6 \| \d+ \| - \| [13]: ",
    "bench_stream_precision": r"^stream after 3 steps: \d\.\de[-+]\d+ of the forecast's scale$",
    "bench_stream_marks": r"^update_array of one series: \d+\.\d{3} ms, median of 3$",
}


@pytest.mark.parametrize("name", sorted(TINY_RUNS))
def test_benchmark_runs_at_a_tiny_size_and_prints_its_table(name, benchmark_file):
    if name in NEEDS_DATA:
        benchmark_file(NEEDS_DATA[name])  # skips, saying why, when the data is absent
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(BENCHMARKS / f"{name}.py"), *TINY_RUNS[name]],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(TABLE_ROW[name], done.stdout, re.MULTILINE), done.stdout[-2000:]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the malloc thresholds are glibc's")
def test_bench_ssd_says_which_malloc_settings_it_timed(monkeypatch):
    """The scan is timed with freed large blocks kept in the heap, as training runs (under glibc's
    thresholds L = 720 had timed page faults: 670 ms against 282 in
    results/bench_ssd_forecaster_shapes.txt), and the header says which."""
    monkeypatch.delenv("TSMAMBA_MALLOC", raising=False)
    header = {}
    for malloc in ("keep", "default"):
        done = subprocess.run([sys.executable, str(BENCHMARKS / "bench_ssd.py"), *TINY_RUNS["bench_ssd"],
                               "--malloc", malloc], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert done.returncode == 0, done.stderr[-2000:]
        header[malloc] = re.search(r"^# malloc: (.*)$", done.stdout, re.MULTILINE)[1]
    assert header == {"keep": "large blocks kept in the heap", "default": "glibc defaults"}


@pytest.mark.parametrize(("script", "args", "message"), [
    ("benchmarks/bench_block.py", ["--lengths", "0"], "--repeats and --threads must be at least 1"),
    ("benchmarks/bench_ssd.py", ["--repeats", "0"], "--repeats and --threads must be at least 1"),
    ("benchmarks/bench_backtest.py", ["--loop-origins", "0"], "--horizon and --threads must be at least 1"),
    ("benchmarks/bench_forecast_batch.py", ["--passes", "8,0"], "--passes must be at least 1"),
    ("benchmarks/bench_forecast_batch.py", ["--passes", "8;16"], "separated by commas, got '8;16'"),
    ("benchmarks/bench_stream_precision.py", ["--steps", "0"], "--history must be at least 1"),
    ("benchmarks/bench_stream_marks.py", ["--repeats", "0"], "--repeats and --threads must be at least 1"),
    ("linear_cycle.py", ["--data", "ETTh1", "--cycle", "24", "--train-stride", "0"],
     "--train-stride and --cycle must be at least 1"),
    ("linear_cycle.py", ["--data", "ETTh1", "--cycle", "24", "--lookback", "0"], "lookbacks, --train-stride"),
    ("linear_cycle.py", ["--data", "ETTh1", "--cycle", "24", "--mix", "--alpha", "-1"],
     "ridge penalties >= 0"),
    ("linear_cycle.py", ["--data", "ETTh1", "--cycle", "24", "--own", "1.5"],
     "--own takes weights in [0, 1]"),
    ("linear_cycle.py", ["--data", "ETTh1", "--cycle", "24", "--members", "own:96:2"],
     "weight a is in [0, 1]"),
    ("level_shift.py", ["--data", "ETTh1", "--lookback", "0", "--cycle", "24"],
     "--lookback and --cycle must be at least 1"),
    ("level_shift.py", ["--data", "ETTh1", "--lookback", "96", "--cycle", "24", "--halflives", "-5"],
     "a half-life is a number of rows > 0"),
])
def test_a_size_below_one_is_a_usage_error(script, args, message):
    """They had ended in tracebacks after the work (an empty median), or run as another setting
    (--lookback 0 as 96, a stride of 0 as 1, a negative ridge penalty) (helper-141)."""
    done = subprocess.run([sys.executable, str(BENCHMARKS.parent / script), *args], capture_output=True,
                          text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_closed_form_script_names_a_missing_data_set_in_one_line():
    """``level_shift.py`` had ended with status 0 after printing the error (it called ``run_script``
    without raising its status)."""
    done = subprocess.run([sys.executable, str(BENCHMARKS.parent / "level_shift.py"), "--data", "NoSuchData",
                           "--lookback", "96", "--cycle", "24"], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "'NoSuchData' is neither a file nor a registered data set" in lines[0]


def test_bench_block_times_two_layouts_of_the_same_conv():
    """bench_block's two conv + SiLU variants compute the same thing (float64, to rounding)."""
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location("bench_block", BENCHMARKS / "bench_block.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    torch.manual_seed(0)
    xBC = torch.randn(3, 11, 6, dtype=torch.float64)
    weight, bias = torch.randn(6, 1, 4, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    torch.testing.assert_close(bench.conv_channels_last(xBC, weight, bias),
                               bench.conv_time_innermost(xBC, weight, bias), rtol=1e-12, atol=1e-12)
