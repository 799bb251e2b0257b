"""Backtest engine: window arithmetic, refit schedules, metrics, report; LTSF protocol.

Most tests drive a fake last-value forecaster with the estimator's duck-typed surface, so they
check the engine and not training speed. The end-to-end tests at the bottom use a tiny real
TSMambaForecaster.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from tsmamba.backtest import backtest, backtest_ltsf, data_fingerprint, plan_backtest, read_forecasts
from tsmamba.datasets import synthetic_ett
from tsmamba.errors import ConfigError, DataValidationError, TrainingError, TSMambaError

# short ramps are shorter than one daily season: MASE falls back to lag 1 and seasonal naive to
# the last value at early origins, each with a warning
pytestmark = [
    pytest.mark.filterwarnings("ignore:training series of length:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:seasonal_naive forecasts the last value:RuntimeWarning"),
]

FIT_LOG: list[tuple[pd.Timestamp, pd.Timestamp]] = []  # first and last timestamp of every fit
CALL_LOG: list[dict] = []  # every forecast_origins call


class LastValueForecaster(BaseEstimator):
    """Fake forecaster: repeats the value at the origin plus ``bias``; records fits and calls."""

    def __init__(self, context_length: int = 4, horizon: int = 3, bias: float = 0.0):
        self.context_length = context_length
        self.horizon = horizon
        self.bias = bias

    def fit(self, df: pd.DataFrame, **kwargs) -> LastValueForecaster:
        FIT_LOG.append((df.index[0], df.index[-1]))
        self.columns_ = list(df.columns)
        self.fit_kwargs_ = kwargs
        return self

    def forecast_origins(self, df, origins, *, context="window", batch_size=256):
        values = df.to_numpy(dtype=float)
        origins = np.asarray(origins)
        CALL_LOG.append({"rows": len(values), "origins": origins.tolist(), "context": context})
        return np.repeat(values[origins][:, None, :], self.horizon, axis=1) + self.bias


@pytest.fixture(autouse=True)
def _clear_logs():
    FIT_LOG.clear()
    CALL_LOG.clear()


def ramp(n_rows: int = 40, n_channels: int = 2, freq: str = "h") -> pd.DataFrame:
    """Channel c at row t holds (c + 1) * (t + 1): forecasts are easy to check by hand."""
    index = pd.date_range("2021-01-01", periods=n_rows, freq=freq, name="date")
    t = np.arange(1, n_rows + 1, dtype=float)[:, None]
    columns = [f"c{c}" for c in range(n_channels)]
    return pd.DataFrame(t * np.arange(1, n_channels + 1), index=index, columns=columns)


def fitted_rows(frame: pd.DataFrame) -> list[tuple[int, int]]:
    """FIT_LOG as row ranges [start, end) of ``frame``."""
    pos = {ts: i for i, ts in enumerate(frame.index)}
    return [(pos[first], pos[last] + 1) for first, last in FIT_LOG]


# ------------------------------------------------------------------------------------------
# the plan: origins, targets, training ranges


def test_expanding_plan_matches_hand_built_windows():
    plan = plan_backtest(20, 3, context_length=4, start=9, stride=2, refit=True)
    assert plan.origins.tolist() == [9, 11, 13, 15]  # 16 = 20 - 1 - 3 is the last usable origin
    assert plan.targets().tolist() == [[10, 11, 12], [12, 13, 14], [14, 15, 16], [16, 17, 18]]
    assert [b.train for b in plan.blocks] == [(0, 10), (0, 12), (0, 14), (0, 16)]
    assert [(b.first, b.stop) for b in plan.blocks] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert plan.n_fits == 4


def test_last_origin_target_reaches_last_row_and_no_further():
    plan = plan_backtest(20, 3, context_length=4, start=10, stride=1)
    assert plan.origins[-1] == 16 and plan.targets()[-1, -1] == 19
    assert plan.origins.tolist() == list(range(10, 17))


def test_sliding_plan_keeps_train_length_rows():
    plan = plan_backtest(30, 2, context_length=3, start=9, stride=3, window="sliding", train_length=8,
                         refit=True)
    assert plan.origins.tolist() == [9, 12, 15, 18, 21, 24, 27]
    assert [b.train for b in plan.blocks] == [(2, 10), (5, 13), (8, 16), (11, 19), (14, 22), (17, 25),
                                              (20, 28)]
    assert all(e - s == 8 for s, e in (b.train for b in plan.blocks))


def test_sliding_default_train_length_is_rows_up_to_first_origin():
    plan = plan_backtest(30, 2, context_length=3, start=9, stride=5, window="sliding", refit=True)
    assert plan.train_length == 10
    assert [b.train for b in plan.blocks] == [(0, 10), (5, 15), (10, 20), (15, 25)]


@pytest.mark.parametrize(
    ("refit", "fit_at", "blocks"),
    [
        (False, [9], [(0, 6)]),
        (True, [9, 11, 13, 15, 17, 19], [(i, i + 1) for i in range(6)]),
        (2, [9, 13, 17], [(0, 2), (2, 4), (4, 6)]),
        (4, [9, 17], [(0, 4), (4, 6)]),
        (6, [9], [(0, 6)]),
    ],
)
def test_refit_schedules(refit, fit_at, blocks):
    plan = plan_backtest(24, 3, context_length=4, start=9, stride=2, refit=refit)  # last origin 20
    assert plan.origins.tolist() == [9, 11, 13, 15, 17, 19]
    assert [b.train[1] - 1 for b in plan.blocks] == fit_at  # each fit ends at its first origin
    assert [(b.first, b.stop) for b in plan.blocks] == blocks


def test_start_forms():
    index = pd.date_range("2021-01-01", periods=50, freq="h")
    common = dict(context_length=4, index=index)
    assert plan_backtest(50, 5, start=0.5, **common).origins[0] == 24  # 25 rows observed
    assert plan_backtest(50, 5, start=-10, **common).origins.tolist() == [40, 41, 42, 43, 44]
    assert plan_backtest(50, 5, start="2021-01-01 20:00", **common).origins[0] == 20
    assert plan_backtest(50, 5, start=pd.Timestamp("2021-01-01 20:30"), **common).origins[0] == 20
    assert plan_backtest(50, 5, **common).origins[0] == 34  # default: 70 % observed
    # n_windows alone: the windows end at the last row, on the stride grid
    assert plan_backtest(50, 5, n_windows=3, stride=4, **common).origins.tolist() == [36, 40, 44]
    assert plan_backtest(50, 5, start=10, n_windows=3, stride=4, **common).origins.tolist() == [10, 14, 18]
    # more than fit: as many as fit, from the earliest origin a fit can train at (it had been the
    # row-0 end of the grid, refused with advice to move a start never given)
    many = plan_backtest(400, 6, context_length=24, n_windows=1000, stride=7).origins
    assert many[0] == 29 and many[-1] == 393 and len(many) == 53  # 30 rows: one training window
    # the earliest origin off the grid that ends at the last row: the grid wins (helper-144: with
    # 364 = 7 x 52 above, starting at the earliest one had passed; it left the last rows out)
    odd = plan_backtest(100, 5, context_length=10, n_windows=20, stride=7).origins
    assert odd[-1] == 94 and odd[0] == 17 and len(odd) == 12  # 14 is the earliest a fit allows
    unfitted = plan_backtest(400, 6, context_length=24, n_windows=1000, fit=False).origins
    assert unfitted[0] == 23  # a context to forecast from
    assert plan_backtest(400, 6, context_length=24, n_windows=1000, window="sliding", train_length=100,
                         ).origins[0] == 99


@pytest.mark.parametrize("start", ["", " ", "NaT", pd.NaT, np.datetime64("NaT")])
def test_a_start_that_names_no_time_is_refused_as_such(start):
    """pandas reads "" and "NaT" as NaT, no time at all: the start had become the last row, refused
    as "no forecast origin: the first origin row 49 ... start earlier", about a row never given."""
    index = pd.date_range("2021-01-01", periods=50, freq="h")
    with pytest.raises(ConfigError, match=r"start .* is not a row number, fraction or timestamp"):
        plan_backtest(50, 5, context_length=4, start=start, index=index)


@pytest.mark.parametrize(
    ("n_rows", "start", "observed"), [(700, 0.7, 490), (100, 0.29, 29), (5800, 0.7, 4060)]
)
def test_fraction_start_observes_exactly_that_share_of_the_rows(n_rows, start, observed):
    """0.7 * 700 is 489.99999999999994 in floats: the first origin observed 489 rows, not 490."""
    assert plan_backtest(n_rows, 1, context_length=1, start=start).origins[0] + 1 == observed
    assert plan_backtest(n_rows, 1, context_length=1, start=np.float32(start)).origins[0] + 1 == observed


def test_prefitted_plan_has_one_block_without_training():
    plan = plan_backtest(20, 3, context_length=4, start=3, fit=False)
    assert plan.n_fits == 0 and plan.blocks[0].train is None
    assert plan.origins[0] == 3  # the first with context_length rows of history


def test_a_sliding_window_without_a_fit_is_refused():
    """A prefitted forecaster, not refitted, had taken window='sliding' and train_length=10 and
    recorded them in the report while nothing was fitted on a sliding window (the linear
    baseline and MASE's scale on every row up to the first origin)."""
    match = r"window='sliding' sets the training rows of the backtest's fits.*pass refit=True"
    with pytest.raises(ConfigError, match=match):
        plan_backtest(40, 3, context_length=4, start=20, window="sliding", train_length=10, fit=False)
    est = LastValueForecaster().fit(ramp(40).iloc[:20])
    with pytest.raises(ConfigError, match=match):
        backtest(est, ramp(40), start=20, window="sliding")
    assert backtest(est, ramp(40), start=20, window="sliding", refit=True).config["n_fits"] == 17


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(start=17), DataValidationError, "no forecast origin"),
        (dict(start=2, fit=False), DataValidationError, "context_length=4"),
        (dict(start=2, context="full"), DataValidationError, "one training window needs"),
        (dict(start=5), DataValidationError, "context_length \\+ horizon = 4 \\+ 3 = 7"),
        (dict(start=9, window="sliding", train_length=12), DataValidationError, "do not fit before"),
        (dict(start=9, window="sliding", train_length=5), ConfigError, "shorter than one training"),
        (dict(start=9, train_length=5), ConfigError, "applies to window='sliding'"),
        (dict(start=9, refit=0), ConfigError, "refit must be"),
        (dict(start=9, refit=-2), ConfigError, "refit must be"),
        (dict(start=9, refit="yes"), ConfigError, "refit must be"),
        (dict(start=9, window="rolling"), ConfigError, "window must be"),
        (dict(start=9, context="all"), ConfigError, "context must be"),
        (dict(start=9, stride=0), ConfigError, "stride must be"),
        (dict(start=9, n_windows=0), ConfigError, "n_windows must be"),
        (dict(start=1.5), ConfigError, "fraction"),
        (dict(start=25), ConfigError, "outside"),
        (dict(start="not a date", index=pd.date_range("2021", periods=20, freq="h")), ConfigError,
         "not a row number"),
    ],
)
def test_plan_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        plan_backtest(20, 3, context_length=4, **kwargs)


def test_plan_errors_advise_a_start_row_only_when_the_data_reaches_it():
    with pytest.raises(DataValidationError, match="need context_length=10: start at row 9 or later, or use"):
        plan_backtest(20, 3, context_length=10, start=2, fit=False)
    with pytest.raises(DataValidationError, match="need context_length=30: the 20 rows are too few to start"):
        plan_backtest(20, 3, context_length=30, start=2, fit=False)  # row 29 is past the last origin
    with pytest.raises(DataValidationError, match="= 33: the 20 rows are too few to start late enough"):
        plan_backtest(20, 3, context_length=30, start=2, context="full")
    # a start it advised then failed the training check: it now advises one that passes both
    with pytest.raises(DataValidationError, match="need context_length=4: start at row 6 or later") as err:
        plan_backtest(60, 3, context_length=4, start=0)
    assert "context='full'" not in str(err.value)  # a fit needs those rows to train on anyway
    with pytest.raises(DataValidationError, match=r"start at row 3 or later, .*, or context='full'"):
        plan_backtest(60, 3, context_length=4, start=0, fit=False)  # a fitted forecaster can
    plan_backtest(60, 3, context_length=4, start=6)
    with pytest.raises(DataValidationError, match="need context_length=16: start at row 19 or later"):
        plan_backtest(100, 4, context_length=16, start=5, window="sliding")  # it advised row 15
    plan_backtest(100, 4, context_length=16, start=19, window="sliding")
    # the fits train with the forecaster's longer horizon: their windows need it (the clone's fit
    # failed after the plan had passed)
    with pytest.raises(DataValidationError, match=r"16 \+ 8 = 24: start at row 23 or later"):
        plan_backtest(40, 2, context_length=16, start=19, fit_horizon=8)


def test_timestamp_start_across_time_zones():
    berlin = pd.date_range("2016-10-29", periods=60, freq="h", tz="Europe/Berlin")
    common = dict(context_length=4, index=berlin)
    # naive: read in the index's zone; aware: converted to it (10:00 UTC is 12:00 in Berlin)
    assert berlin[plan_backtest(60, 5, start="2016-10-29 12:00", **common).origins[0]].hour == 12
    assert plan_backtest(60, 5, start="2016-10-29 10:00+00:00", **common).origins[0] == 12
    # the second 02:00 of the autumn change, given with its offset; without it, it is ambiguous
    assert plan_backtest(60, 5, start="2016-10-30 02:00+01:00", **common).origins[0] == 27
    with pytest.raises(ConfigError, match=r"daylight saving skips or repeats.*UTC offset"):
        plan_backtest(60, 5, start="2016-10-30 02:00", **common)
    naive = pd.date_range("2020-01-01", periods=60, freq="h")
    with pytest.raises(ConfigError, match="has a time zone, but the index has none"):
        plan_backtest(60, 5, context_length=4, start="2020-01-02 00:00+00:00", index=naive)


def test_plan_horizon_must_be_positive():
    with pytest.raises(ConfigError, match="horizon must be a positive integer"):
        plan_backtest(20, 0, context_length=4)
    with pytest.raises(DataValidationError, match="too short"):
        plan_backtest(3, 3, context_length=1)


# ------------------------------------------------------------------------------------------
# the engine with the fake forecaster


def test_backtest_fits_on_training_rows_and_forecasts_without_future_rows():
    frame = ramp(40)
    result = backtest(LastValueForecaster(), frame, start=11, stride=3, refit=2, window="sliding",
                      train_length=10)
    origins = [11, 14, 17, 20, 23, 26, 29, 32, 35]
    assert result.n_windows == len(origins)
    assert fitted_rows(frame) == [(2, 12), (8, 18), (14, 24), (20, 30), (26, 36)]
    # each forecast saw the rows up to its own origin only
    assert [c["origins"] for c in CALL_LOG] == [[o] for o in origins]
    assert [c["rows"] for c in CALL_LOG] == [o + 1 for o in origins]
    assert result.config["n_fits"] == 5
    assert result.config["train_ranges"] == [[2, 12], [8, 18], [14, 24], [20, 30], [26, 36]]
    # MASE divides by the seasonal naive error over the first fit's training rows, the rows
    # mase_scale_rows names (helper-148: every row before them had passed every test)
    from tsmamba.metrics import mase, mase_scale

    wave = ramp(200).assign(c0=np.sin(np.arange(200) / 3.0) + np.arange(200) / 50.0)
    result = backtest(LastValueForecaster(), wave, start=120, stride=5, window="sliding", train_length=60)
    a, b = result.config["mase_scale_rows"]
    assert [a, b] == result.config["train_ranges"][0] == [61, 121]
    assert result.config["mase_lag"] == 24  # 60 rows hold seasonal pairs (season 24)
    scale = mase_scale(wave.to_numpy()[a:b], 24)
    expected = mase(result.arrays["y"], result.arrays["yhat"], scale)
    assert result.scores[result.model_name]["overall"]["mase"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("refit", "n_fits"), [(False, 1), (True, 9), (2, 5), (3, 3), (100, 1)])
def test_backtest_counts_fits(refit, n_fits):
    backtest(LastValueForecaster(), ramp(40), start=11, stride=3, refit=refit, baselines=False)
    assert len(FIT_LOG) == n_fits


def test_prefitted_forecaster_is_used_as_is_and_never_modified():
    frame = ramp(40)
    est = LastValueForecaster(bias=1.0).fit(frame.iloc[:20])
    FIT_LOG.clear()
    result = backtest(est, frame, start=20)
    assert FIT_LOG == [] and result.config["prefitted"] and result.config["n_fits"] == 0
    assert result.forecaster is est
    # an unfitted forecaster is cloned before fitting: the object passed stays unfitted
    fresh = LastValueForecaster()
    result = backtest(fresh, frame, start=20)
    assert not hasattr(fresh, "columns_") and result.forecaster is not fresh
    # refit=True refits clones even of a fitted forecaster
    backtest(est, frame, start=30, refit=True)
    assert len(FIT_LOG) == 1 + 7


class RememberingForecaster(LastValueForecaster):
    """Keeps its training series as TSMambaForecaster does (``index_``, ``values_``)."""

    def fit(self, df: pd.DataFrame, **kwargs) -> RememberingForecaster:
        super().fit(df, **kwargs)
        self.index_, self.values_ = df.index, df.to_numpy(dtype=float)
        return self


def test_a_prefitted_forecaster_scored_on_rows_it_was_trained_on_warns():
    """Its scores there are in-sample (helper-158: not a word); training rows before the first
    target, or another series' values at the same times, are no such thing."""
    frame = ramp(40)
    est = RememberingForecaster().fit(frame.iloc[:30])  # rows 0..29
    with pytest.warns(UserWarning, match=re.escape(
            "the fitted forecaster was trained on these data up to 2021-01-02 05:00:00, after the first "
            "origin 2021-01-01 20:00:00: 9 of 17 windows score forecasts of rows it was trained on "
            "(in-sample scores); pass an unfitted forecaster (or refit=True), or start after "
            "2021-01-02 05:00:00")):
        backtest(est, frame, start=20, baselines=False)  # origins 20..36: 20..28 forecast seen rows
    for data, start in ((frame, 29), (frame + 0.5, 20)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            backtest(est, data, start=start, baselines=False)
        assert not [w for w in caught if "trained on these data" in str(w.message)]
    with warnings.catch_warnings(record=True) as caught:  # refit: clones train before each origin
        warnings.simplefilter("always")
        backtest(est, frame, start=20, refit=True, baselines=False)
    assert not [w for w in caught if "trained on these data" in str(w.message)]


def test_backtest_passes_fit_kwargs_and_context():
    result = backtest(LastValueForecaster(), ramp(40), start=20, context="full",
                      fit_kwargs={"val_df": None})
    assert result.forecaster.fit_kwargs_ == {"val_df": None}
    assert {c["context"] for c in CALL_LOG} == {"full"}


@pytest.mark.parametrize(("option", "value"), [("linear_max_windows", 0), ("batch_size", 0),
                                               ("batch_size", 2.0)])
def test_counts_used_after_the_fits_are_checked_before_them(option, value):
    """linear_max_windows=0 had failed once the first fit was done (as 'max_windows'), and
    batch_size=0 reached the forecaster after its training (a fake one took it)."""
    match = rf"{option} must be a positive integer, got {value!r}"
    with pytest.raises(ConfigError, match=match):
        backtest(LastValueForecaster(), ramp(60), start=30, **{option: value})
    assert FIT_LOG == []
    with pytest.raises(ConfigError, match=match):  # before the data is read
        backtest_ltsf(LastValueForecaster(), "no-such-data", **{option: value})


def test_validation_rows_after_the_training_rows_are_refused():
    """fit_kwargs={"val_df": ...} had passed rows after the first origin, the scored targets, to
    the fit's early stopping (and the same rows to every refit), without a word."""
    frame = ramp(40)
    with pytest.raises(ConfigError, match=r"fit_kwargs holds val_df: rows after a fit's training rows"):
        backtest(LastValueForecaster(), frame, start=20, fit_kwargs={"val_df": frame.iloc[21:30]})
    assert FIT_LOG == []  # refused before any fit


def test_a_csv_path_is_read_and_scored_as_its_frame(tmp_path):
    """The rolling protocol takes a CSV path (str or Path) as the LTSF one does; it had read
    ``.attrs`` of the path itself."""
    frame = ramp(40)
    frame.to_csv(tmp_path / "ramp.csv")
    from_frame = backtest(LastValueForecaster(), frame, start=20, stride=3)
    for source in (str(tmp_path / "ramp.csv"), tmp_path / "ramp.csv"):
        result = backtest(LastValueForecaster(), source, start=20, stride=3)
        pd.testing.assert_frame_equal(result.forecasts, from_frame.forecasts)
        assert result.scores == from_frame.scores


def test_forecasts_frame_is_tidy_and_aligned():
    frame = ramp(30, n_channels=2)
    result = backtest(LastValueForecaster(horizon=3), frame, start=19, stride=4)
    fc = result.forecasts
    assert list(fc.columns[:6]) == ["origin", "timestamp", "channel", "step", "y", "yhat"]
    assert {"yhat_last_value", "yhat_seasonal_naive", "yhat_linear"} <= set(fc.columns)
    assert len(fc) == result.n_windows * 3 * 2
    assert (fc["timestamp"] - fc["origin"] == pd.to_timedelta(fc["step"], unit="h")).all()
    lookup = frame.stack()
    expected_y = [lookup[(ts, ch)] for ts, ch in zip(fc["timestamp"], fc["channel"], strict=True)]
    np.testing.assert_array_equal(fc["y"], expected_y)
    origin_value = [lookup[(ts, ch)] for ts, ch in zip(fc["origin"], fc["channel"], strict=True)]
    np.testing.assert_array_equal(fc["yhat"], origin_value)
    np.testing.assert_array_equal(fc["yhat_last_value"], origin_value)


def test_metrics_match_hand_computed_values():
    # channel c is (c+1)(t+1): a last-value forecast misses step h by (c+1) h; MAPE is relative
    frame = ramp(30, n_channels=2)
    horizon = 3
    result = backtest(LastValueForecaster(horizon=horizon), frame, start=19, stride=1)
    origins = np.arange(19, 27)
    steps = np.arange(1, horizon + 1)
    err = np.array([[[(c + 1) * h for c in range(2)] for h in steps] for _ in origins], dtype=float)
    y = np.array([[[(c + 1) * (o + h + 1) for c in range(2)] for h in steps] for o in origins], dtype=float)
    overall = result.scores["tsmamba"]["overall"]
    assert overall["mse"] == pytest.approx(np.mean(err**2))
    assert overall["mae"] == pytest.approx(np.mean(err))
    assert overall["rmse"] == pytest.approx(math.sqrt(np.mean(err**2)))
    assert overall["mape"] == pytest.approx(100 * np.mean(err / y))
    assert overall["smape"] == pytest.approx(100 * np.mean(2 * err / (2 * y - err)))
    # MASE: seasonal period of hourly data is 24; the training rows 0..19 are shorter, so the
    # scale falls back to the lag-1 difference: c + 1 per step
    assert result.config["season"] == 24
    assert overall["mase"] == pytest.approx(np.mean(err / np.array([1.0, 2.0])))
    per_step = result.scores["tsmamba"]["per_step"]
    assert [s["mae"] for s in per_step] == pytest.approx([1.5 * h for h in steps])
    per_channel = result.scores["tsmamba"]["per_channel"]
    assert per_channel["c1"]["mae"] == pytest.approx(2 * per_channel["c0"]["mae"])
    # the fake is the last-value baseline: identical scores, zero improvement
    assert result.scores["last_value"]["overall"] == pytest.approx(overall)
    assert result.summary["improvement_pct"]["last_value"]["mae"] == pytest.approx(0.0)
    # a linear model fitted on a ramp forecasts it nearly exactly
    assert result.scores["linear"]["overall"]["mae"] < 0.05 * overall["mae"]
    assert result.summary["improvement_pct"]["linear"]["mae"] < -1000


def test_seasonal_naive_uses_the_true_season_or_the_last_value():
    frame = ramp(60, n_channels=1)  # hourly: season 24; row t holds t + 1
    with pytest.warns(RuntimeWarning, match="last value at the 12 origin"):
        result = backtest(LastValueForecaster(horizon=3), frame, start=11)
    origins = np.arange(11, 57)
    lag24 = np.array([[o - 24 + 1 + h + 1 for h in range(3)] for o in origins], dtype=float)
    last = np.array([[o + 1] * 3 for o in origins], dtype=float)
    expected = np.where((origins >= 23)[:, None], lag24, last)
    np.testing.assert_array_equal(result.arrays["yhat_seasonal_naive"][:, :, 0], expected)
    assert result.config["season"] == 24 and result.config["seasonal_naive_last_value_origins"] == 12
    # with a full season before the first origin nothing falls back
    late = backtest(LastValueForecaster(horizon=3), frame, start=23)
    assert late.config["seasonal_naive_last_value_origins"] == 0


def test_prefitted_forecaster_with_early_start_skips_the_linear_baseline(tmp_path):
    frame = ramp(60)
    est = LastValueForecaster(context_length=4, horizon=12).fit(frame.iloc[:5])
    with pytest.warns(RuntimeWarning, match="linear baseline not scored.*start at row 12 or later"):
        result = backtest(est, frame, start=8)
    assert set(result.scores) == {"tsmamba", "last_value", "seasonal_naive"}
    assert result.config["baselines"] == ["last_value", "seasonal_naive"]
    assert "horizon + 1 = 13" in result.config["baselines_skipped"]["linear"]
    assert "yhat_linear" not in result.forecasts.columns and "linear" not in result.summary["improvement_pct"]
    assert list(result.table().index) == ["tsmamba", "last_value", "seasonal_naive"]
    written = result.save_report(tmp_path)
    assert "forecast.png" in written
    report = json.loads(written["metrics.json"].read_text())
    assert set(report["baselines"]) == {"last_value", "seasonal_naive"}
    # from row 12 on, the rows up to the first origin hold one training window: linear is scored
    assert "linear" in backtest(est, frame, start=12).scores


def test_metrics_frame_and_improvement_sign():
    frame = pd.DataFrame(synthetic_ett(400, n_channels=3, seed=1)).set_index("date")
    worse = backtest(LastValueForecaster(horizon=6, bias=5.0), frame, start=300, stride=6)
    m = worse.metrics
    assert set(m["model"]) == {"tsmamba", "last_value", "seasonal_naive", "linear"}
    assert set(m["scope"]) == {"overall", "channel", "step"}
    overall = m[(m.scope == "overall") & (m.model == "tsmamba")].set_index("metric")["value"]
    assert overall["mae"] == pytest.approx(worse.scores["tsmamba"]["overall"]["mae"])
    assert len(m[(m.scope == "step") & (m.model == "linear") & (m.metric == "mse")]) == 6
    # a constant bias of 5 is worse than the last value: negative improvement
    assert worse.summary["improvement_pct"]["last_value"]["mae"] < 0
    table = worse.table()
    assert list(table.index) == ["tsmamba", "last_value", "seasonal_naive", "linear"]
    assert table.loc["last_value", "mae_gain_%"] < 0


def test_horizon_shorter_than_forecaster_scores_first_steps():
    frame = ramp(40)
    result = backtest(LastValueForecaster(horizon=5), frame, horizon=2, start=20)
    assert result.summary["horizon"] == 2 and result.forecasts["step"].max() == 2
    assert result.n_windows == 40 - 1 - 2 - 20 + 1
    fitted = LastValueForecaster(horizon=2).fit(frame.iloc[:20])
    with pytest.raises(ConfigError, match="exceeds the fitted forecaster's horizon"):
        backtest(fitted, frame, horizon=4, start=20)
    # an unfitted one is cloned with the longer horizon
    result = backtest(LastValueForecaster(horizon=2), frame, horizon=4, start=20)
    assert result.forecaster.horizon == 4


def test_wrong_forecast_shape_is_reported():
    class Broken(LastValueForecaster):
        def forecast_origins(self, df, origins, **kw):
            return np.zeros((len(origins), 1, 2))

    with pytest.raises(ConfigError, match="returned forecasts of shape"):
        backtest(Broken(), ramp(40), start=20)


def test_non_finite_forecasts_are_an_error_not_left_out_of_the_scores():
    class Diverged(LastValueForecaster):
        def forecast_origins(self, df, origins, **kw):
            out = super().forecast_origins(df, origins, **kw)
            out[np.isin(origins, [24, 25, 26]), 1, 0] = np.nan
            out[np.isin(origins, [22]), 0, 1] = np.inf
            return out

    with pytest.raises(TrainingError, match=r"for 4 of 7 .*first at origin row 22 \(2021-01-01 22:00"):
        backtest(Diverged(), ramp(30), start=20)



def test_a_forecaster_cannot_read_its_own_targets():
    """Each block used to get the series up to its last origin in one call: a forecaster that
    reads the rows after each origin scored MSE 0 on every origin of a block but the last."""

    class Peeking(LastValueForecaster):
        def forecast_origins(self, df, origins, **kw):  # the rows after the origin, where given
            values = df.to_numpy(dtype=float)
            return np.stack([
                np.concatenate([values[o + 1 : o + 1 + self.horizon],
                                np.repeat(values[o : o + 1], self.horizon, axis=0)])[: self.horizon]
                for o in origins
            ])

    result = backtest(Peeking(), ramp(40), start=20, refit=3)
    np.testing.assert_array_equal(result.arrays["yhat"], result.arrays["yhat_last_value"])


def test_only_tsmamba_forecast_origins_gets_a_block_in_one_call():
    from tsmamba.backtest import _batches_causally
    from tsmamba.estimator import TSMambaForecaster

    class Plain(TSMambaForecaster):
        pass

    class Rewritten(TSMambaForecaster):
        def forecast_origins(self, *args, **kwargs):
            return super().forecast_origins(*args, **kwargs)

    assert _batches_causally(TSMambaForecaster()) and _batches_causally(Plain())
    assert not _batches_causally(Rewritten()) and not _batches_causally(LastValueForecaster())

def test_backtest_validates_the_data():
    frame = ramp(40)
    frame.iloc[5, 0] = np.nan
    with pytest.raises(DataValidationError, match="NaN"):
        backtest(LastValueForecaster(), frame, start=20)
    with pytest.raises(TSMambaError):
        backtest(LastValueForecaster(), ramp(40), start=20, columns=["nope"])


def test_report_files(tmp_path):
    frame = pd.DataFrame(synthetic_ett(300, n_channels=2, seed=3)).set_index("date")
    result = backtest(LastValueForecaster(horizon=4), frame, start=200, stride=5, data_name="synthetic")
    written = result.save_report(tmp_path / "report")
    names = {"metrics.json", "metrics.csv", "forecasts.csv", "forecast.png", "error_by_step.png",
             "error_over_time.png"}
    assert set(written) == names and all((tmp_path / "report" / n).stat().st_size > 0 for n in names)
    report = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert report["n_windows"] == result.n_windows == 20
    assert report["config"]["protocol"] == "rolling" and report["data"]["source"] == "synthetic"
    assert report["data"]["fingerprint"] == data_fingerprint(frame.to_numpy(), frame.index)
    assert report["data"]["fingerprint"]["first"] == "2016-07-01 00:00:00"
    assert set(report["baselines"]) == {"last_value", "seasonal_naive", "linear"}
    assert report["scores"]["overall"]["mse"] == pytest.approx(result.scores["tsmamba"]["overall"]["mse"])
    assert {"tsmamba", "torch", "python"} <= set(report["versions"])
    assert {"fit_s", "forecast_s", "total_s"} <= set(report["timings"])
    assert report["forecasts_csv"]["complete"] is True
    csv = read_forecasts(tmp_path / "report" / "forecasts.csv")
    assert len(csv) == len(result.forecasts)
    np.testing.assert_array_equal(csv["yhat"], result.forecasts["yhat"])
    import matplotlib.image

    for png in ("forecast.png", "error_by_step.png", "error_over_time.png"):
        assert matplotlib.image.imread(tmp_path / "report" / png).ndim == 3


def test_forecast_sample_keeps_first_and_last_origin(tmp_path):
    result = backtest(LastValueForecaster(horizon=4), ramp(200), start=50, baselines=False)
    sample, note = result.forecast_sample(max_rows=100)
    origins = sorted(sample["origin"].unique())
    assert len(sample) <= 100 and note["complete"] is False and note["origins"] == len(origins) == 12
    assert origins[0] == result.forecasts["origin"].min() and origins[-1] == result.forecasts["origin"].max()
    result.save_report(tmp_path, plots=False, max_forecast_rows=100)
    assert json.loads((tmp_path / "metrics.json").read_text())["forecasts_csv"]["origins_total"] == 146
    result.to_csv(tmp_path / "all.csv")
    assert len(pd.read_csv(tmp_path / "all.csv")) == 146 * 4 * 2
    sample, note = result.forecast_sample(max_rows=0)  # scores only: none (it kept one origin)
    assert len(sample) == 0 and note["origins"] == 0
    sample, note = result.forecast_sample(max_rows=5)  # under one origin's 8 rows: that origin,
    assert len(sample) == 8 and note["origins"] == 1  # so a report has a forecast to show


def test_a_model_named_like_a_baseline_or_without_forecast_origins_is_refused():
    """'linear' as the model's name: the baseline's forecasts replaced the model's, silently."""
    for name in ("linear", "last_value", "seasonal_naive"):
        with pytest.raises(ConfigError, match=f"model_name '{name}' is the name of a baseline"):
            backtest(LastValueForecaster(horizon=3), ramp(60), start=30, model_name=name)
    for name in (None, "", {"a": 1}):  # None had raised KeyError: 'None' after the work
        with pytest.raises(ConfigError, match="model_name must be a non-empty string"):
            backtest(LastValueForecaster(horizon=3), ramp(60), start=30, model_name=name)

    class FitPredictOnly:
        horizon, context_length = 3, 4

        def fit(self, df):
            raise AssertionError("fitted before being refused")

    with pytest.raises(ConfigError, match=r"has no forecast_origins\(df, origins, ...\)"):
        backtest(FitPredictOnly(), ramp(60), start=30)


@pytest.mark.parametrize("metrics", [("mse",), ("mase",)])
def test_a_report_plots_a_metric_that_was_computed(tmp_path, metrics):
    """metrics=('mse',): the figures asked for MAE and no report was written at all."""
    result = backtest(LastValueForecaster(horizon=3), ramp(60), start=30, metrics=metrics,
                      refit=np.True_)  # numpy's True, as from an array of settings
    written = result.save_report(tmp_path / "r")
    assert {"error_by_step.png", "error_over_time.png", "forecast.png"} <= set(written)


def test_forecasts_csv_holds_the_scored_values_and_sub_second_times(tmp_path):
    """forecasts.csv used to round values to 6 significant digits (a meter at 2.5 million lost
    its errors: the MSE recomputed from the file was 50 % off) and cut times to whole seconds (a
    250 ms series wrote 4 origins under one time)."""
    index = pd.date_range("2021-01-01", periods=60, freq="250ms", name="date")
    level = 2_500_000 + np.random.default_rng(0).normal(0, 3, 60).cumsum()
    result = backtest(LastValueForecaster(bias=1.0), pd.DataFrame({"meter": level}, index=index),
                      start=30, baselines=False)
    result.save_report(tmp_path, plots=False)
    csv = read_forecasts(tmp_path / "forecasts.csv")  # pandas 2's read_csv may be 1 ulp off
    np.testing.assert_array_equal(csv[["y", "yhat"]], result.forecasts[["y", "yhat"]])
    mse = ((csv["y"] - csv["yhat"]) ** 2).mean()
    assert mse == pytest.approx(result.scores["tsmamba"]["overall"]["mse"], rel=1e-12)
    assert csv["origin"].nunique() == result.n_windows == 27
    for column in ("origin", "timestamp"):
        np.testing.assert_array_equal(csv[column].dt.as_unit("ns"), result.forecasts[column].dt.as_unit("ns"))
    assert csv["origin"].iloc[0] == pd.Timestamp("2021-01-01 00:00:07.500")


def test_forecasts_csv_keeps_utc_offsets_across_dst(tmp_path):
    # Berlin clocks go back at 2016-10-30 03:00 CEST: 02:00 happens twice, an hour apart
    index = pd.date_range("2016-10-29 12:00", periods=40, freq="h", tz="Europe/Berlin", name="date")
    frame = pd.DataFrame({"a": np.arange(40.0)}, index=index)
    result = backtest(LastValueForecaster(horizon=2), frame, start=8, baselines=False)
    result.save_report(tmp_path, plots=False)
    csv = pd.read_csv(tmp_path / "forecasts.csv")
    assert csv["origin"].nunique() == result.forecasts["origin"].nunique() == result.n_windows
    assert {"2016-10-30 02:00:00+02:00", "2016-10-30 02:00:00+01:00"} <= set(csv["origin"])
    for column in ("origin", "timestamp"):
        back = pd.to_datetime(csv[column], utc=True)
        expected = result.forecasts[column].dt.tz_convert("UTC").dt.as_unit(back.dt.unit)
        pd.testing.assert_series_equal(back, expected, check_names=False)
    # naive timestamps are written as before, without an offset
    naive = backtest(LastValueForecaster(horizon=2), ramp(30), start=20, baselines=False)
    naive.to_csv(tmp_path / "naive.csv")
    assert pd.read_csv(tmp_path / "naive.csv")["origin"].iloc[0] == "2021-01-01 20:00:00"


def test_ltsf_protocol_rejects_rolling_options():
    with pytest.raises(ConfigError, match="drop start, stride, refit"):
        backtest(LastValueForecaster(), "ETTh1", protocol="ltsf", start=10, stride=2, refit=True)
    with pytest.raises(ConfigError, match="protocol must be"):
        backtest(LastValueForecaster(), ramp(40), protocol="holdout")


def test_fingerprint_changes_with_values_and_shape():
    a = np.arange(12.0).reshape(6, 2)
    assert data_fingerprint(a) == data_fingerprint(a.copy())
    assert data_fingerprint(a)["sha256"] != data_fingerprint(a.reshape(4, 3))["sha256"]
    b = a.copy()
    b[3, 1] += 1e-9
    assert data_fingerprint(a)["sha256"] != data_fingerprint(b)["sha256"]


# ------------------------------------------------------------------------------------------
# end to end with the real estimator (tiny)


TINY = dict(d_model=16, n_layers=1, d_state=8, max_epochs=1, batch_size=64, progress=False,
            trainer_kwargs={"limit_train_batches": 5, "limit_val_batches": 2,
                            "enable_model_summary": False})


@pytest.fixture(scope="module")
def etth1_slice(benchmark_file):
    from tsmamba.datasets import read_dataset_file

    return read_dataset_file(benchmark_file("ETTh1")).iloc[:700]


def test_backtest_checks_the_context_before_fitting():
    class NoFull(LastValueForecaster):
        def check_context(self, context):
            if context == "full":
                raise ConfigError("no full context")

    with pytest.raises(ConfigError, match="no full context"):
        backtest(NoFull(), ramp(40), start=20, context="full")
    assert FIT_LOG == []
    assert backtest(NoFull(), ramp(40), start=20, baselines=False).n_windows == 17


def test_full_context_with_revin_is_rejected():
    """norm="revin" normalises with statistics of the whole input: over the full history they
    include each forecast's own target rows, so the backtest must refuse before fitting."""
    from tsmamba.estimator import TSMambaForecaster

    class Counted(TSMambaForecaster):
        fits = 0

        def fit(self, *args, **kwargs):
            Counted.fits += 1
            return super().fit(*args, **kwargs)

    frame = pd.DataFrame(synthetic_ett(200, n_channels=2, seed=0)).set_index("date")
    est = Counted(context_length=24, horizon=6, norm="revin", **TINY)
    with pytest.raises(ConfigError, match="revin"):
        backtest(est, frame, start=100, context="full", baselines=False)
    assert Counted.fits == 0
    fitted = est.fit(frame.iloc[:100])  # a fitted forecaster set to another norm afterwards:
    fitted.set_params(norm="causal")
    with pytest.raises(ConfigError, match="revin"):  # used as it is, its network is revin's
        backtest(fitted, frame, start=100, context="full", baselines=False)
    refits = backtest(fitted, frame, start=100, n_windows=2, refit=True, context="full", baselines=False)
    assert refits.config["n_fits"] == 2  # refitted, the clones normalise causally
    causal = Counted(context_length=24, horizon=6, norm="causal", **TINY).fit(frame.iloc[:100])
    causal.set_params(norm="revin")  # refitted, the clones would normalise by the whole input
    Counted.fits = 0
    with pytest.raises(ConfigError, match="revin"):
        backtest(causal, frame, start=100, refit=True, context="full", baselines=False)
    assert Counted.fits == 0


def test_refits_with_a_checkpoint_dir_each_checkpoint_and_resume_their_own_fit(tmp_path):
    """The refits of a forecaster with a checkpoint_dir had shared its last.ckpt: each replaced the
    one before it (warning that it did, and advising resume=True), and with fit_kwargs resume=True
    the second refit refused the first's checkpoint, a fit on other rows, after the first fit's
    work. Each refit writes its own folder rows-a-b; a backtest run again with resume=True resumes
    every fit from its own checkpoint and forecasts as the first run and as one without checkpoints."""
    from tsmamba.estimator import TSMambaForecaster

    frame = synthetic_ett(300, n_channels=2, seed=0).set_index("date")
    params = dict(context_length=16, horizon=4, d_model=8, n_layers=1, d_state=4, headdim=4, max_epochs=1,
                  batch_size=32, random_state=0, progress=False)
    run = dict(start=200, stride=20, n_windows=4, refit=2, baselines=False)
    plain = backtest(TSMambaForecaster(**params), frame, **run)
    ck = tmp_path / "ck"
    est = TSMambaForecaster(**params, checkpoint_dir=str(ck))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "holds an earlier fit's checkpoint"
        first = backtest(est, frame, **run, fit_kwargs={"resume": True})
    assert first.config["train_ranges"] == [[0, 201], [0, 241]]
    assert sorted(p.name for p in ck.iterdir()) == ["rows-0-201", "rows-0-241"]
    assert all((ck / name / "last.ckpt").is_file() for name in ("rows-0-201", "rows-0-241"))
    assert est.checkpoint_dir == str(ck)  # the caller's forecaster is not changed
    assert first.forecaster.checkpoint_dir == str(ck / "rows-0-241")
    again = backtest(est, frame, **run, fit_kwargs={"resume": True})  # each fit resumed as finished
    np.testing.assert_array_equal(first.arrays["yhat"], plain.arrays["yhat"])
    np.testing.assert_array_equal(again.arrays["yhat"], first.arrays["yhat"])
    assert again.forecaster.history_["seconds_per_epoch"] is None  # it resumed a finished fit
    once = backtest(est, frame, start=200, stride=20, n_windows=4, baselines=False)  # one fit: the folder
    assert (ck / "last.ckpt").is_file() and once.forecaster.checkpoint_dir == str(ck)


def test_full_context_backtest_equals_per_origin_predict(etth1_slice):
    from tsmamba.estimator import TSMambaForecaster

    est = TSMambaForecaster(context_length=48, horizon=12, **TINY)
    result = backtest(est, etth1_slice, start=500, stride=37, context="full", baselines=False)
    fitted = result.forecaster
    origins = [500 + 37 * i for i in range(result.n_windows)]
    # float32 network: one pass over the history and a pass per origin chunk the SSD differently;
    # measured 3.5e-6 at most on forecasts up to 43 in size (a few float32 ulps there, 2026-12-02)
    close = {"rtol": 1e-5, "atol": 1e-5}
    for i, origin in enumerate(origins):
        one = fitted.predict(etth1_slice.iloc[: origin + 1], context="full").to_numpy()
        np.testing.assert_allclose(result.arrays["yhat"][i], one, **close)
    # and the window forecasts equal per-origin predict over the last context_length rows
    windows = fitted.forecast_origins(etth1_slice, origins[:2], context="window")
    for i, origin in enumerate(origins[:2]):
        one = fitted.predict(etth1_slice.iloc[origin - 47 : origin + 1], context="window").to_numpy()
        np.testing.assert_allclose(windows[i], one, **close)


def test_ltsf_protocol_scores_every_etth1_test_window(benchmark_file):
    from tsmamba.estimator import TSMambaForecaster

    path = benchmark_file("ETTh1")
    est = TSMambaForecaster(channel_mode="mix", **TINY)
    result = backtest(est, path, protocol="ltsf")  # = backtest_ltsf(est, path, 96, 96)
    assert result.n_windows == 2785 == result.config["window_counts"]["test"]
    assert result.arrays["yhat"].shape == (2785, 96, 7)
    assert result.config["borders"]["test"] == [11520 - 96, 14400]
    assert result.config["mase_scale_rows"] == result.config["borders"]["train"] == [0, 8640]
    last_val_row = pd.Timestamp("2016-07-01") + pd.Timedelta(hours=11519)  # first origin
    assert result.config["first_origin"] == str(last_val_row) == "2017-10-23 23:00:00"
    # scores are on the scaled data: recompute MSE/MAE from the arrays
    y, yhat = result.arrays["y"], result.arrays["yhat"]
    assert result.scores["tsmamba"]["overall"]["mse"] == pytest.approx(np.mean((y - yhat) ** 2))
    assert result.scores["tsmamba"]["overall"]["mae"] == pytest.approx(np.mean(np.abs(y - yhat)))
    assert abs(float(np.mean(y))) < 1.5  # scaled units, not the raw tens
    assert set(result.scores) == {"tsmamba", "last_value", "seasonal_naive", "linear"}
    assert result.config["training"]["epochs"] == 1
    # the caller's estimator is not fitted by the protocol (a clone is)
    assert not hasattr(est, "network_")
    # the clone trained on the train split alone, the validation split kept for early stopping
    # (helper-144: fitting on train + val with an own split had passed every test)
    fitted = result.forecaster
    assert fitted.history_["train_windows"] == 8640 - 96 - 96 + 1
    # its series: train then val (what it saw; predict() forecasts after it), never the test split
    assert len(fitted.index_) == 8640 + 2880 and str(fitted.index_[-1]) == "2017-10-23 23:00:00"
    # MASE divides by the train split's seasonal naive error (not the test split's, say)
    from tsmamba.data import prepare_ltsf
    from tsmamba.metrics import mase, mase_scale

    values = prepare_ltsf(path, 96, 96).values.astype(np.float64)
    scale = mase_scale(values[:8640], 24)
    assert result.scores["tsmamba"]["overall"]["mase"] == pytest.approx(mase(y, yhat, scale), rel=1e-12)


def test_ltsf_cycle_phases_follow_the_fit_index_on_irregular_weather(benchmark_file):
    """Weather's published timestamps repeat once and skip nine, so the protocol fits on a regular
    grid; forecasts from the grid's calendar reproduce the backtest's own, and the published index
    is refused as irregular (read as a calendar, its cycle phase ran 8 steps off after May 2020)."""
    from tsmamba.backtest import backtest_ltsf
    from tsmamba.data import prepare_ltsf

    path = benchmark_file("Weather")
    prepared = prepare_ltsf(path, 24, 12)
    grid = prepared.fit_index
    assert len(grid) == len(prepared.index) and grid[0] == prepared.index[0] and grid.freq == "10min"
    # the data's own calendar features come from the same grid (they read the published stamps)
    from tsmamba.data import time_features

    np.testing.assert_array_equal(prepared.time_marks(), time_features(grid, freq="10min"))
    assert not np.array_equal(prepared.time_marks(), time_features(prepared.index, freq="10min"))
    assert prepare_ltsf(benchmark_file("ETTh1"), 24, 12).fit_index.equals(
        prepare_ltsf(benchmark_file("ETTh1"), 24, 12).index)
    params = dict(TINY, context_length=24, horizon=12, channel_mode="mix", norm="none", cycle_length=144,
                  train_stride=512, max_epochs=1)
    result = backtest_ltsf(params, path, 24, 12, baselines=False, max_forecast_rows=0)
    assert result.config["regularised_index"]
    first = prepared.borders["test"][0] + 23  # the first test origin
    origins = np.arange(first, first + 5)
    values = prepared.values.astype(np.float64)
    own = result.arrays["yhat"][:5]
    from_grid = result.forecaster.forecast_origins(values, origins, index=grid)
    np.testing.assert_allclose(from_grid, own, rtol=1e-4, atol=1e-4)
    with pytest.raises(DataValidationError, match="1 duplicate timestamp: 2020-05-12 06:00:00"):
        result.forecaster.forecast_origins(values, origins, index=prepared.index)


def test_ltsf_bounded_forecast_frame_keeps_every_score(benchmark_file):
    """max_forecast_rows thins only the tidy frame (evenly spaced origins); scores use every window."""
    from tsmamba.backtest import backtest_ltsf

    result = backtest_ltsf(dict(channel_mode="mix", **TINY), benchmark_file("ETTh1"), 96, 96,
                           baselines=False, max_forecast_rows=10 * 96 * 7)
    assert result.n_windows == 2785 and result.arrays["yhat"].shape == (2785, 96, 7)
    origins = result.forecasts["origin"].unique()
    assert len(origins) == 10 and len(result.forecasts) == 10 * 96 * 7
    assert str(origins[0]) == result.config["first_origin"]
    assert str(origins[-1]) == result.config["last_origin"]
    assert result.config["forecast_origins_kept"] == [10, 2785]
    _, note = result.forecast_sample(None)
    assert note["origins_total"] == 2785 and not note["complete"]
    y, yhat = result.arrays["y"], result.arrays["yhat"]
    assert result.scores["tsmamba"]["overall"]["mse"] == pytest.approx(np.mean((y - yhat) ** 2))


def test_a_report_never_mixes_runs(tmp_path):
    result = backtest(LastValueForecaster(horizon=4), ramp(200), start=50)
    first = result.save_report(tmp_path)
    assert {"forecasts.csv", "forecast.png", "error_by_step.png"} <= set(first)
    (tmp_path / "notes.txt").write_text("mine")
    second = result.save_report(tmp_path, forecasts=False, plots=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*second, "notes.txt"])
    assert sorted(second) == ["metrics.csv", "metrics.json"]


def test_a_report_that_fails_to_write_leaves_the_previous_one(tmp_path, monkeypatch):
    """A full disk halfway used to leave a cut forecasts.csv beside the old metrics.json."""
    before = backtest(LastValueForecaster(horizon=4), ramp(200), start=50)
    before.save_report(tmp_path, plots=False)
    saved = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    after = backtest(LastValueForecaster(horizon=6), ramp(200), start=50)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(after, "to_json", full_disk)  # metrics.json, after forecasts.csv
    with pytest.raises(OSError, match="No space left") as info:
        after.save_report(tmp_path, plots=False)
    assert info.value.filename == str(tmp_path)  # write() errors name no file: the CLI said only that
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == saved  # no staging folder left


def test_a_new_report_folder_is_removed_when_its_write_is_stopped(tmp_path, monkeypatch):
    """A Ctrl-C while the report was written left the empty --out folder (helper-137): the
    folders the write made go again, while empty; a folder that was there stays."""
    result = backtest(LastValueForecaster(horizon=4), ramp(200), start=50)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(result, "to_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        result.save_report(tmp_path / "new" / "report", plots=False)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "there").mkdir()
    with pytest.raises(KeyboardInterrupt):
        result.save_report(tmp_path / "there", plots=False)
    assert [p.name for p in tmp_path.iterdir()] == ["there"] and not any((tmp_path / "there").iterdir())


@pytest.mark.parametrize("renames_done", [0, 1, 2])
def test_a_report_killed_between_renames_holds_no_index(tmp_path, monkeypatch, renames_done):
    """A kill between the per-file renames left the new forecasts.csv beside the old metrics.json:
    now metrics.json goes first and comes back last, so a folder holding it holds one run."""
    before = backtest(LastValueForecaster(horizon=4), ramp(200), start=50)
    before.save_report(tmp_path, plots=False)
    after = backtest(LastValueForecaster(horizon=6), ramp(200), start=50)
    real_replace, done = os.replace, []

    def killed_after_some(src, dst):
        if len(done) == renames_done:
            raise KeyboardInterrupt  # as a kill: nothing after this line runs
        done.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr("tsmamba.backtest.os.replace", killed_after_some)
    with pytest.raises(KeyboardInterrupt):
        after.save_report(tmp_path, plots=False)
    assert not (tmp_path / "metrics.json").exists() and "metrics.json" not in done
    monkeypatch.setattr("tsmamba.backtest.os.replace", real_replace)
    after.save_report(tmp_path, plots=False)  # the next run completes the folder
    assert json.loads((tmp_path / "metrics.json").read_text())["config"]["horizon"] == 6


@pytest.mark.parametrize("when", ["unlinking the old index", "unlinking a stale figure", "after 1 rename",
                                  "after 2 renames"])
def test_ctrl_c_while_the_report_moves_in_finishes_moving_it_in(tmp_path, monkeypatch, when):
    """A Ctrl-C (or the CLI's SIGTERM) there had left the earlier report without its metrics.json
    and the new one half moved in (or not at all); the moves take milliseconds, so they are
    finished first."""
    backtest(LastValueForecaster(horizon=4), ramp(200), start=50).save_report(tmp_path)  # with figures
    after = backtest(LastValueForecaster(horizon=6), ramp(200), start=50)
    real_replace, real_unlink, done, interrupted = os.replace, Path.unlink, [], []

    def interrupt_once(event: str) -> None:
        if event == when and not interrupted:
            interrupted.append(event)
            raise KeyboardInterrupt

    def replace(src, dst):
        real_replace(src, dst)
        done.append(Path(dst).name)
        interrupt_once(f"after {len(done)} rename{'s' if len(done) > 1 else ''}")

    def unlink(path, missing_ok=False):
        real_unlink(path, missing_ok=missing_ok)
        old_index = path.name == "metrics.json"
        interrupt_once("unlinking the old index" if old_index else "unlinking a stale figure")

    monkeypatch.setattr("tsmamba.backtest.os.replace", replace)
    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(KeyboardInterrupt):
        after.save_report(tmp_path, plots=False)
    assert interrupted == [when]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forecasts.csv", "metrics.csv", "metrics.json"]
    assert done[-1] == "metrics.json" and len(done) == 3
    assert json.loads((tmp_path / "metrics.json").read_text())["config"]["horizon"] == 6
    assert pd.read_csv(tmp_path / "forecasts.csv")["step"].max() == 6


def test_a_constant_column_is_named_once_not_at_every_forecast(tmp_path):
    """The data layer warned again each time a fit or a forecast re-read the validated frame."""
    import warnings

    from tsmamba.data import read_series

    frame = ramp(200).assign(c1=1.0)
    frame.reset_index().to_csv(tmp_path / "const.csv", index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read = read_series(tmp_path / "const.csv")
        backtest(LastValueForecaster(horizon=4), read, start=50, stride=10, refit=2)
    named = [w for w in caught if "column 'c1' is constant" in str(w.message)]
    assert len(named) == 1 and str(named[0].message).startswith("const.csv:")
    with pytest.warns(UserWarning, match="column 'c0' is constant"):  # one the user never saw
        backtest(LastValueForecaster(horizon=4), read.assign(c0=3.0), start=50, stride=10)


def test_the_linear_baseline_forecasts_a_constant_channel_within_its_own_size():
    """Scaled by 1, a channel of 1e-6 had come back from the ridge map as values near ±2e-3."""
    frame = ramp(200).assign(tiny=1e-6)
    frame["c0"] = np.sin(np.arange(200) / 3.0)
    with pytest.warns(UserWarning, match="'tiny' is constant"):
        result = backtest(LastValueForecaster(horizon=4), frame, start=100, stride=10)
    tiny = result.forecasts[result.forecasts["channel"] == "tiny"]["yhat_linear"].to_numpy()
    assert np.abs(tiny - 1e-6).max() < 5e-8, tiny  # the pooled ridge map's intercept: a few percent


def test_no_metric_or_a_text_is_refused_before_any_fit():
    """metrics=() ran the whole backtest, then save_report failed with an IndexError."""
    class Unfittable(LastValueForecaster):
        def fit(self, df):
            raise AssertionError("fitted before being refused")

    for bad, match in (((), "metrics is empty"), ("mse", "got the text 'mse'; pass \\['mse'\\]")):
        with pytest.raises(ConfigError, match=match):
            backtest(Unfittable(horizon=3), ramp(60), start=30, metrics=bad)
        with pytest.raises(ConfigError, match=match):
            backtest_ltsf(None, synthetic_ett(400), 24, 12, metrics=bad)


def test_ltsf_takes_the_data_prepared_once_and_refuses_it_prepared_for_other_windows():
    """The CLI validated the file with prepare_ltsf, then backtest_ltsf read and scaled it again
    (helper: a prepared LTSFData refused as data passed)."""
    from tsmamba.data import prepare_ltsf

    frame = synthetic_ett(400, n_channels=2, seed=4)
    frame.attrs["source"] = "ett.csv"
    params = dict(TINY, random_state=0)
    prepared = prepare_ltsf(frame, 24, 12)
    once = backtest_ltsf(params, prepared, 24, 12, baselines=False, max_forecast_rows=0)
    again = backtest_ltsf(params, frame, 24, 12, baselines=False, max_forecast_rows=0)
    assert once.scores == again.scores and once.data == again.data
    np.testing.assert_array_equal(once.arrays["yhat"], again.arrays["yhat"])
    assert once.data["source"] == "ett.csv"
    for context, horizon, kind, what in ((48, 12, None, "context_length=48, horizon=12"),
                                         (24, 6, None, "context_length=24, horizon=6"),
                                         (24, 12, "ETTh", "context_length=24, horizon=12 (ETTh borders)")):
        with pytest.raises(ConfigError, match=re.escape(
                "the prepared ett.csv was split for context_length=24, horizon=12 (custom borders), "
                f"not {what}; prepare it for these, or pass the file or name")):
            backtest_ltsf(params, prepared, context, horizon, kind=kind)


def test_read_forecasts_gives_back_the_channel_names_and_times(tmp_path):
    """pd.read_csv read channels 'NA', 'None' and '' as NaN (merged into one) and '01' as 1."""
    names = ["NA", "None", "01", "", "nan"]
    frame = pd.DataFrame(np.arange(120.0).reshape(24, 5), columns=names,
                         index=pd.date_range("2024-10-26 20:00", periods=24, freq="h", tz="Europe/Paris",
                                             name="date"))
    result = backtest(LastValueForecaster(horizon=3), frame, start=6, baselines=False)  # across DST
    result.save_report(tmp_path, plots=False)
    plain = pd.read_csv(tmp_path / "forecasts.csv")
    assert plain["channel"].nunique() < len(names)  # what the helper is for
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas 3 deprecates float_precision: a warning at every read
        back = read_forecasts(tmp_path / "forecasts.csv")
    assert list(dict.fromkeys(back["channel"])) == names
    pd.testing.assert_series_equal(back["yhat"], result.forecasts["yhat"].reset_index(drop=True))
    assert str(back["origin"].dt.tz) == "UTC"  # two UTC offsets: read in UTC, as they say
    for column in ("origin", "timestamp"):
        assert (back[column] == result.forecasts[column].reset_index(drop=True)).all()  # the same instants
    with pytest.raises(TSMambaError, match="forecasts file not found"):
        read_forecasts(tmp_path / "nope.csv")


def test_staging_folders_of_killed_reports_are_named(tmp_path):
    """A report killed while writing leaves its hidden staging folder, which no run removed."""
    result = backtest(LastValueForecaster(horizon=3), ramp(60), start=30, baselines=False)
    (tmp_path / ".report.ab12cd_9").mkdir()
    (tmp_path / ".report.other").mkdir()  # not a name mkdtemp gives: someone else's
    with pytest.warns(UserWarning, match=r"holds \['.report.ab12cd_9'\], staging folders of report writes"):
        result.save_report(tmp_path, plots=False)


@pytest.mark.parametrize(("horizon", "season"), [(4, 24), (30, 7), (5, 1)])
def test_backtest_seasonal_naive_reads_the_rows_seasonal_naive_would(horizon, season):
    """Read straight from the series: the (N, season, C) contexts took 11 GB at 10^5 origins of
    10 channels of minute data; the forecasts are the same, to the bit."""
    import warnings

    from tsmamba.backtest import _naive_contexts, _naive_forecasts
    from tsmamba.baselines import seasonal_naive

    values = np.random.default_rng(0).normal(size=(200, 3))
    origins = np.arange(season - 1, 200 - horizon)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every origin has a full season
        got, fallback = _naive_forecasts(values, origins, horizon, season)
    expected = seasonal_naive(_naive_contexts(values, origins, season), horizon, season)
    assert fallback == 0 and np.array_equal(got["seasonal_naive"], expected)


def test_linear_baseline_forecasts_origins_in_pieces_as_at_once(monkeypatch):
    """A piece of origins at a time (the scaled contexts of 10^5 origins of 21 channels had taken
    4.7 GB beside the 1.6 GB of forecasts): the same forecasts, to the bit."""
    import tsmamba.backtest as bt
    from tsmamba.data import StandardScaler

    values = np.random.default_rng(0).normal(size=(300, 3)).cumsum(axis=0)
    origins = np.arange(150, 290)
    contexts = bt._naive_contexts(values, origins, 24)
    monkeypatch.setattr(bt, "LINEAR_PIECE", 16)  # 140 origins: 8 full pieces and a partial one
    got = bt._linear_forecasts(values, (0, 150), contexts, 10, 24, None, seed=0)
    scaler = StandardScaler().fit(values[:150], warn_constant=False)
    model = bt._fit_linear(scaler.transform(values[:150]), 24, 10, None, 0)
    expected = scaler.inverse_transform(model.predict(scaler.transform(contexts)))
    assert np.array_equal(got, expected)


def test_rolling_bounded_forecast_frame_keeps_every_score(tmp_path):
    """max_forecast_rows bounds the rolling backtest's tidy frame too (it grew by about 200 bytes
    per origin x step x channel: a 3.8 GB peak at 8,000 origins of 21 channels, H = 96); the scores,
    arrays and report are those of every origin."""
    frame = ramp(300, n_channels=3)
    full = backtest(LastValueForecaster(horizon=4), frame, start=50)
    bounded = backtest(LastValueForecaster(horizon=4), frame, start=50, max_forecast_rows=10 * 4 * 3)
    assert full.n_windows == bounded.n_windows == 246
    assert full.config["forecast_origins_kept"] == [246, 246]
    assert bounded.config["forecast_origins_kept"] == [10, 246]
    origins = bounded.forecasts["origin"].unique()
    assert len(origins) == 10 and len(bounded.forecasts) == 10 * 4 * 3
    assert [str(origins[0]), str(origins[-1])] == [full.config["first_origin"], full.config["last_origin"]]
    kept = full.forecasts[full.forecasts["origin"].isin(origins)].reset_index(drop=True)
    pd.testing.assert_frame_equal(bounded.forecasts.reset_index(drop=True), kept)
    assert bounded.scores == full.scores
    for name, arr in full.arrays.items():
        np.testing.assert_array_equal(bounded.arrays[name], arr)
    bounded.save_report(tmp_path, plots=False)
    note = json.loads((tmp_path / "metrics.json").read_text())["forecasts_csv"]
    assert note == {"rows": 120, "origins": 10, "origins_total": 246, "complete": False}
    # scores only: the default report (plots=True) draws what the scores can show, not a ConfigError
    scores_only = backtest(LastValueForecaster(horizon=4), frame, start=50, max_forecast_rows=0)
    assert scores_only.forecasts.empty and scores_only.scores == full.scores
    with pytest.warns(UserWarning, match=r"kept no forecasts \(max_forecast_rows=0\), so only error_by_step"):
        written = scores_only.save_report(tmp_path / "scores_only")
    assert sorted(written) == ["error_by_step.png", "forecasts.csv", "metrics.csv", "metrics.json"]
    note = json.loads((tmp_path / "scores_only" / "metrics.json").read_text())["forecasts_csv"]
    assert note == {"rows": 0, "origins": 0, "origins_total": 246, "complete": False}
    FIT_LOG.clear()
    for bad in ("1000", -1, 2.5):  # refused before any fit, not once every origin is forecast
        with pytest.raises(ConfigError, match="max_forecast_rows must be an integer >= 0"):
            backtest(LastValueForecaster(horizon=4), frame, start=50, max_forecast_rows=bad)
    assert FIT_LOG == []


def test_values_made_from_later_rows_are_named_and_every_repair_is_recorded():
    """A series that starts late, imputed with ffill, had its leading values copied backwards from
    its first real one: windows before it were scored against the future without a word, and
    the report did not say the data had been repaired."""
    from tsmamba.data import read_series

    raw = ramp(60)
    raw.iloc[:45, 1] = np.nan  # c1 opens at row 45
    late = read_series(raw, impute="ffill")
    with pytest.warns(UserWarning, match=r"values of 'c1' \(45\) were made from later rows \(impute='ffill' "
                                         r"fills a series' leading values backwards; .*\): the forecasts "
                                         r"of 15 of the 27 windows read them, .*see the future"):
        result = backtest(LastValueForecaster(horizon=3), late, start=30, baselines=False)
    # origins 30..44 read rows 0..44 ahead of row 45
    assert result.config["repairs"] == {"impute": "ffill", "imputed_values": 45,
                                        "from_later_rows": {"c1": 45}, "from_later_windows": 15}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*later rows")  # zeros read none: recorded, not warned of
        zeroed = backtest(LastValueForecaster(horizon=3), read_series(raw, impute="zero"), start=30,
                          baselines=False, columns=["c0", "c1"])
        assert zeroed.config["repairs"] == {"impute": "zero", "imputed_values": 45}
        assert backtest(LastValueForecaster(horizon=3), raw.iloc[:, :1], start=30,
                        baselines=False).config["repairs"] is None
        # windows after the repaired rows (or made from rows before every origin) see no future:
        # recorded, not warned of (it had warned whatever the windows, and --start could not help)
        after = backtest(LastValueForecaster(horizon=3), late, start=50, baselines=False)
        assert after.config["repairs"] == {"impute": "ffill", "imputed_values": 45}
        assert backtest(LastValueForecaster(horizon=3), late.iloc[46:], start=10,
                        baselines=False).config["repairs"]["impute"] == "ffill"  # attrs kept by a slice


def test_frames_with_values_made_from_later_rows_join_and_still_warn_of_them():
    """attrs['repairs']['from_later_spans'] held numpy arrays: pd.concat compares the frames' attrs,
    and an array's == has no single truth value, so two frames read with values made from later rows
    (or a frame cut in two and put back together) could not be joined (ValueError). Plain lists join,
    and the backtest of the joined frame still warns of the values it holds."""
    from tsmamba.data import read_series

    raw = ramp(60)
    raw.iloc[:45, 1] = np.nan  # c1 opens at row 45, filled backwards from it
    late = read_series(raw, impute="ffill")
    joined = pd.concat([late.iloc[:30], late.iloc[30:]])
    assert joined.attrs["repairs"] == late.attrs["repairs"]
    (run,) = late.attrs["repairs"]["from_later_spans"]["c1"]
    assert [type(v) for v in run] == [int] * 4 and pd.Timestamp(run[2]) == raw.index[45]
    pd.concat([late, read_series(raw, impute="ffill")])  # two frames read alike
    with pytest.warns(UserWarning, match=r"values of 'c1' \(45\) were made from later rows"):
        result = backtest(LastValueForecaster(horizon=3), joined, start=30, baselines=False)
    assert result.config["repairs"]["from_later_rows"] == {"c1": 45}


def test_the_ltsf_protocol_records_repairs_and_names_those_its_test_windows_read():
    from tsmamba.data import read_series

    raw = ramp(400)
    raw.iloc[330:336, 1] = np.nan  # inside the last 20%: the test split
    with pytest.warns(UserWarning, match=r"values of 'c1' \(6\) were made from later rows \(.*'interpolate'"):
        result = backtest_ltsf(dict(TINY, max_epochs=1), read_series(raw, impute="interpolate"), 8, 3,
                               baselines=False, max_forecast_rows=0)
    assert result.config["repairs"] == {"impute": "interpolate", "imputed_values": 6,  # origins 330..335
                                        "from_later_rows": {"c1": 6}, "from_later_windows": 6}
    # ETT files run on past the protocol's test split (row 14400 of ETTh): a repair after it is
    # in no scored window, so it is recorded, not warned of (helper-131: the file's last row had
    # been taken as the last target)
    long = ramp(14_500)
    long.iloc[14_450, 1] = np.nan
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*later rows")
        after = backtest_ltsf(dict(TINY, max_epochs=1), read_series(long, impute="interpolate"), 8, 3,
                              kind="ETTh", baselines=False, max_forecast_rows=0)
    assert after.config["repairs"] == {"impute": "interpolate", "imputed_values": 1}
    assert after.n_windows == 2880 - 3 + 1  # test rows 11520..14399, contexts from 8 rows before


def _stores_read(n_days: int = 100, b_opens: int = 40, b_closed: tuple[int, ...] = (50, 51, 70, 71, 72),
                 **read) -> pd.DataFrame:
    """Long form, daily: store a every day, with an empty value on day 80; store b opens on day
    ``b_opens`` and has no row on the days ``b_closed``; read with fill='zero', impute='zero'."""
    from tsmamba.data import read_series

    days = pd.date_range("2021-01-01", periods=n_days, freq="D")
    t = np.arange(n_days, dtype=float)
    a = pd.DataFrame({"store": "a", "day": days, "sales": 10 + np.sin(t / 3)})
    a.loc[80, "sales"] = np.nan
    keep = [d for d in range(b_opens, n_days) if d not in b_closed]
    b = pd.DataFrame({"store": "b", "day": days[keep], "sales": 50 + 4 * np.cos(t[keep] / 4)})
    kw = dict(id_col="store", time_col="day", value_col="sales", fill="zero", impute="zero") | read
    return read_series(pd.concat([a, b], ignore_index=True), **kw)


def _observed_rows(n_days: int, b_opens: int, b_closed: tuple[int, ...]) -> np.ndarray:
    """(T, 2): the cells of :func:`_stores_read` that the file gives a value, worked out by hand."""
    observed = np.ones((n_days, 2), dtype=bool)
    observed[80, 0] = False
    observed[:b_opens, 1] = False
    observed[list(b_closed), 1] = False
    return observed


def test_cells_read_series_made_up_are_scored_by_no_metric_for_model_and_baselines_alike(tmp_path):
    """A store not yet open (and closed days) zero-filled by fill=, and an empty value imputed: the
    backtest had scored every model against those zeros, never observed, and scaled MASE by their
    jumps. Now each model and baseline is scored on the observed cells alone, exactly as if the
    made-up ones were missing, MASE's scale leaves them out too, and the report counts them."""
    from tsmamba.metrics import mase_scale, score

    closed = (50, 51, 70, 71, 72)
    df = _stores_read(b_closed=closed)
    observed = _observed_rows(100, 40, closed)
    result = backtest(LastValueForecaster(horizon=4), df, start=60, baselines=True)
    targets = np.arange(60, 96)[:, None] + np.arange(1, 5)  # (36, 4) target rows
    y = result.arrays["y"]
    seen = observed[targets]  # (36, 4, 2)
    values = df.to_numpy()
    scale = mase_scale(np.where(observed, values, np.nan)[:61], 7)  # training rows 0..60, weekly lag
    assert np.isfinite(scale).all()
    assert sorted(result.scores) == ["last_value", "linear", "seasonal_naive", "tsmamba"]
    for name, scores in result.scores.items():  # the same cells for every model: a fair comparison
        column = "yhat" if name == "tsmamba" else f"yhat_{name}"
        expected = score(np.where(seen, y, np.nan), result.arrays[column], scale=scale, channels=["a", "b"])
        assert json.dumps(scores) == json.dumps(expected), name  # the very floats
    assert result.config["unscored"] == {
        "why": "filled or imputed by read_series (attrs['repairs']): never observed, so never scored",
        "target_cells": 4 + 3 * 4, "of": 36 * 4 * 2, "per_channel": {"a": 4, "b": 12},
        "windows_without_target": 0, "mase_scale_cells": 40 + 2, "mase_unscaled": []}
    assert result.report()["config"]["unscored"]["target_cells"] == 16  # in metrics.json
    np.testing.assert_array_equal(result.arrays["observed"], seen)
    assert result.history.attrs["repairs"] == df.attrs["repairs"]  # for forecast.png's made-up history
    path = result.to_csv(tmp_path / "forecasts.csv")
    back = read_forecasts(path)
    assert back["observed"].dtype == bool and (~back["observed"]).sum() == 16
    mine = back[back["observed"]]  # the scores, recomputed from the file's scored rows
    assert np.isclose(np.abs(mine["y"] - mine["yhat"]).mean(), result.scores["tsmamba"]["overall"]["mae"],
                      rtol=1e-12, atol=0)


def test_scores_of_data_read_without_repairs_stay_bit_identical():
    """Frames without repairs score through the same arithmetic as before the mask existed: these
    are the scores (model and the two naive baselines; the linear one's ridge solve may differ in
    the last place across BLAS builds) recorded before it, as a digest of their exact floats."""
    import hashlib

    index = pd.date_range("2021-01-01", periods=120, freq="h", name="date")
    t = np.arange(120.0)
    rng = np.random.default_rng(7)
    values = np.column_stack([np.sin(t / 4) + 0.1 * rng.standard_normal(120),
                              5 + np.cos(t / 7) + 0.2 * rng.standard_normal(120)])
    frame = pd.DataFrame(values, index=index, columns=["a", "b"])
    result = backtest(LastValueForecaster(horizon=4, bias=0.25), frame, start=60, stride=3, baselines=True)
    scores = {k: v for k, v in result.scores.items() if k != "linear"}
    digest = hashlib.sha256(json.dumps(scores, sort_keys=True).encode()).hexdigest()
    assert digest == "05c2f76fd9471320d2eabdf4917b4d95bc60d9f59b9e26c464e6f9e337eae314"
    assert scores["tsmamba"]["overall"]["mse"] == 0.25875582321488394
    assert result.config["unscored"] is None  # nothing repaired, nothing left out
    assert "observed" not in result.forecasts.columns and "observed" not in result.arrays


def test_windows_and_channels_without_an_observed_target_score_nothing_without_a_crash():
    """A window whose targets were all filled, a channel never observed in the scored rows, and
    every target made up: the first scores nothing (counted) while the pooled scores average the
    rest; the second's per-channel scores are NaN (warned of) and the overall ones are the other
    channel's; the last warns and scores NaN everywhere, with no crash."""
    from tsmamba.data import read_series

    gap = ramp(80).drop(ramp(80).index[60:66])  # six hours missing, every channel
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no channel or window is all made up: no warning
        result = backtest(LastValueForecaster(horizon=3), read_series(gap, fill="zero"), start=50,
                          baselines=False)
    assert result.config["unscored"]["windows_without_target"] == 4  # origins 59..62: targets in the gap
    assert result.config["unscored"]["target_cells"] == 6 * 3 * 2
    assert all(math.isfinite(v) for v in result.scores["tsmamba"]["overall"].values())
    assert all(math.isfinite(step["mae"]) for step in result.scores["tsmamba"]["per_step"])

    late = _stores_read(b_opens=97, b_closed=())  # b opens after the last target of these windows
    with pytest.warns(UserWarning, match=r"every target cell of channel\(s\) \['b'\] was filled or imputed"):
        result = backtest(LastValueForecaster(horizon=4), late, start=60, n_windows=5, baselines=False)
    per_channel = result.scores["tsmamba"]["per_channel"]
    assert all(math.isnan(v) for v in per_channel["b"].values())
    for metric in ("mse", "mae", "smape"):
        assert result.scores["tsmamba"]["overall"][metric] == per_channel["a"][metric]

    blank = ramp(80)
    blank.iloc[50:60] = np.nan  # both channels, imputed
    with pytest.warns(UserWarning, match=r"every target cell of the 3 windows was filled or imputed"):
        result = backtest(LastValueForecaster(horizon=3), read_series(blank, impute="zero"), start=49,
                          n_windows=3, baselines=True)
    assert all(math.isnan(v) for scores in result.scores.values() for v in scores["overall"].values())
    assert result.config["unscored"]["windows_without_target"] == 3
    assert all(v is None for gains in result.summary["improvement_pct"].values() for v in gains.values())


def test_the_ltsf_protocol_leaves_out_the_cells_of_a_repaired_frame():
    """backtest_ltsf of a frame read with impute=: its made-up test cells are scored by no model,
    and its made-up train cells are left out of the MASE scale; a frame without repairs (as every
    published benchmark file is) has nothing left out."""
    from tsmamba.data import prepare_ltsf, read_series
    from tsmamba.metrics import mase_scale, score

    raw = ramp(400)
    raw.iloc[330:336, 1] = np.nan  # in the test split's targets
    raw.iloc[100:104, 0] = np.nan  # in the train split (rows 0..279)
    frame = read_series(raw, impute="zero")
    result = backtest_ltsf(dict(TINY, max_epochs=1), frame, 8, 3, baselines=True, max_forecast_rows=0)
    observed = ~np.isnan(raw.to_numpy())
    (train_s, train_e), (test_s, test_e) = result.config["borders"]["train"], result.config["borders"]["test"]
    assert (train_s, train_e, test_e) == (0, 280, 400) and test_s <= 330 - 8
    origins = np.arange(test_s + 8 - 1, test_e - 3)
    seen = observed[origins[:, None] + np.arange(1, 4)]
    prepared = prepare_ltsf(frame, 8, 3)
    scale = mase_scale(np.where(observed, prepared.values.astype(np.float64), np.nan)[:train_e], 24)
    y = result.arrays["y"]
    for name, scores in result.scores.items():
        column = "yhat" if name == "tsmamba" else f"yhat_{name}"
        expected = score(np.where(seen, y, np.nan), result.arrays[column], scale=scale, channels=["c0", "c1"])
        assert json.dumps(scores) == json.dumps(expected), name
    unscored = result.config["unscored"]
    assert (unscored["target_cells"], unscored["per_channel"], unscored["mase_scale_cells"]) == (
        18, {"c1": 18}, 4)
    plain = backtest_ltsf(dict(TINY, max_epochs=1), read_series(ramp(400)), 8, 3, baselines=False,
                          max_forecast_rows=0)
    assert plain.config["unscored"] is None and "observed" not in plain.arrays


def test_a_prefitted_model_is_scored_on_its_own_channels_whatever_the_datas_order():
    """helper-126: a model fitted on channels (c, b, a) and backtested on long-form data (pivoted
    to the ids sorted: a, b, c) had c's forecasts scored against a's values (MAE 9 for a level
    gap of 10), because forecast_origins answers in the model's order. The data is now read as
    predict reads it (the fitted channels, in their order), and forecasts are matched by name."""
    from tsmamba.data import read_series
    from tsmamba.estimator import TSMambaForecaster

    t = pd.date_range("2021-01-01", periods=80, freq="h")
    long = pd.concat([pd.DataFrame({"unique_id": i, "ds": t, "y": level + np.sin(np.arange(80) / 3)})
                      for i, level in (("b", 0.0), ("a", 10.0), ("c", 20.0))])
    wide = read_series(long)[["c", "b", "a"]]
    model = TSMambaForecaster(context_length=8, horizon=4, d_model=8, n_layers=1, d_state=4, headdim=4,
                              max_epochs=1, progress=False, random_state=0).fit(wide.iloc[:50])
    expected = model.forecast_origins(wide, [55, 56, 57])  # (3, 4, 3) in the model's order c, b, a
    for data, columns, order in ((long, None, ["c", "b", "a"]), (long, ["a", "b", "c"], ["a", "b", "c"]),
                                 (wide[["b", "a", "c"]], ["b", "a", "c"], ["b", "a", "c"])):
        result = backtest(model, data, start=55, n_windows=3, baselines=False, columns=columns)
        assert result.data["channels"] == order
        picked = [["c", "b", "a"].index(c) for c in order]
        np.testing.assert_array_equal(result.arrays["yhat"], expected[..., picked])
        np.testing.assert_array_equal(result.arrays["y"][:, 0], wide[order].to_numpy()[56:59])
        mae = result.metrics.query("scope == 'channel' and metric == 'mae'")["value"]
        assert mae.max() < 3  # each channel against its own forecasts (a swap had scored ~9-11)


def test_a_reports_figures_draw_the_origins_its_csv_holds(tmp_path, monkeypatch):
    """helper-132: save_report thinned forecasts.csv to max_forecast_rows, but the figures drew
    every origin (forecast.png had a panel for an origin the CSV lacked); a negative limit wrote
    an empty CSV without a word; a folder named like a report file made the move fail after the
    previous report's metrics.json was gone."""
    import tsmamba.plotting

    result = backtest(LastValueForecaster(horizon=3), ramp(60), start=30, stride=3, baselines=False)
    drawn = []
    real = tsmamba.plotting.save_report_plots
    monkeypatch.setattr(tsmamba.plotting, "save_report_plots",
                        lambda forecasts, *a, **k: (drawn.append(forecasts), real(forecasts, *a, **k))[1])
    result.save_report(tmp_path / "r", max_forecast_rows=20)
    written = read_forecasts(tmp_path / "r" / "forecasts.csv")
    assert 1 < written["origin"].nunique() < len(result.forecasts["origin"].unique())
    assert sorted(drawn[-1]["origin"].unique()) == sorted(written["origin"].unique())
    result.save_report(tmp_path / "all", forecasts=False)  # no CSV: every origin drawn
    assert drawn[-1]["origin"].nunique() == result.forecasts["origin"].nunique()
    with pytest.raises(ConfigError, match="max_forecast_rows must be"):
        result.save_report(tmp_path / "neg", max_forecast_rows=-5)
    (tmp_path / "r" / "metrics.csv").unlink()
    (tmp_path / "r" / "metrics.csv").mkdir()
    before = (tmp_path / "r" / "metrics.json").read_bytes()
    with pytest.raises(ConfigError, match=r"holds folder\(s\) named like report files \(\['metrics.csv'\]\)"):
        result.save_report(tmp_path / "r")
    assert (tmp_path / "r" / "metrics.json").read_bytes() == before  # the previous report's index stays


def test_ltsf_forecasts_a_zone_aware_cycle_at_the_wall_clock_hours_across_dst(wall_clock_cycle):
    """A New York series that is its wall-clock cycle and nothing else, its test split across
    the clocks going forward (2022-03-13): every test window is forecast exactly. Counted on by
    one from each window's end, the cycle's phases were an hour off after the change (MSE 0.0137)."""
    index = pd.date_range("2021-09-01", periods=5000, freq="h", tz="America/New_York", name="date")
    params = dict(d_model=8, n_layers=1, d_state=4, headdim=8, max_epochs=1, batch_size=64, progress=False,
                  random_state=0, norm="none", cycle_length=24, input_skip=True, linear_init=True,
                  learning_rate=1e-9)
    result = backtest_ltsf(params, wall_clock_cycle(index).reset_index(), context_length=24, horizon=12,
                           baselines=False)
    assert result.arrays["y"].shape == (1000 - 12 + 1, 12, 2)  # the last 20 %: from 2022-02-13
    np.testing.assert_allclose(result.arrays["yhat"], result.arrays["y"], atol=1e-4)


def test_ltsf_forecasts_and_figures_say_their_values_are_scaled(tmp_path, monkeypatch):
    """An LTSF backtest's values are train-split z-scores: metrics.json said so, but forecasts.csv
    and the figures' axes read as the data's own units. The forecasts carry a units column (a
    plain pd.read_csv reads it back) and the figures are told; a rolling report has neither."""
    from tsmamba import plotting
    from tsmamba.backtest import LTSF_UNITS

    told = []
    real = plotting.plot_error_by_step
    monkeypatch.setattr(plotting, "plot_error_by_step",
                        lambda *a, **k: (told.append(k.get("units")), real(*a, **k))[1])
    result = backtest_ltsf(dict(TINY, random_state=0), synthetic_ett(400, n_channels=2, seed=4), 24, 12,
                           max_forecast_rows=3 * 12 * 2)
    assert result.units == LTSF_UNITS == "scaled: train-split z-score"
    result.save_report(tmp_path / "ltsf")
    csv = pd.read_csv(tmp_path / "ltsf" / "forecasts.csv")
    assert list(csv.columns) == ["origin", "timestamp", "channel", "step", "y", "yhat", "yhat_last_value",
                                 "yhat_seasonal_naive", "yhat_linear", "units"]
    assert set(csv["units"]) == {LTSF_UNITS} and len(csv) == 3 * 12 * 2
    back = read_forecasts(tmp_path / "ltsf" / "forecasts.csv")
    np.testing.assert_array_equal(back["yhat"], result.forecasts["yhat"])
    assert list(back["units"].unique()) == [LTSF_UNITS]
    assert told == [LTSF_UNITS]
    scores_only = dataclasses.replace(result, forecasts=result.forecasts.iloc[:0])  # error_by_step alone
    with pytest.warns(UserWarning, match="kept no forecasts"):
        scores_only.plot(tmp_path / "scores_only")
    assert told[-1] == LTSF_UNITS
    rolling = backtest(LastValueForecaster(horizon=4), ramp(60), start=30, stride=5)
    assert rolling.units is None and "units" not in rolling.forecasts.columns
    rolling.save_report(tmp_path / "rolling")
    assert "units" not in pd.read_csv(tmp_path / "rolling" / "forecasts.csv").columns
    assert told[-1] is None


def test_a_forecasts_file_of_exactly_max_forecast_rows_is_complete(tmp_path):
    """metrics.json calls the forecasts file complete when its rows equal the limit."""
    result = backtest(LastValueForecaster(), ramp(), start=20)
    result.save_report(tmp_path, plots=False, max_forecast_rows=len(result.forecasts))
    assert json.loads((tmp_path / "metrics.json").read_text())["forecasts_csv"]["complete"] is True
    result.save_report(tmp_path / "cut", plots=False, max_forecast_rows=len(result.forecasts) - 1)
    assert json.loads((tmp_path / "cut" / "metrics.json").read_text())["forecasts_csv"]["complete"] is False


def test_report_records_windows_per_second_the_fingerprints_ends_and_the_windows_asked_for():
    """timings.windows_per_s is windows over forecast seconds (it had been inverted); the data
    fingerprint names the first and last timestamps; config.n_windows is what was asked (None)."""
    import time

    class Slow(LastValueForecaster):
        def forecast_origins(self, df, origins, **kwargs):
            time.sleep(0.01)
            return super().forecast_origins(df, origins, **kwargs)

    result = backtest(Slow(), ramp(), start=20)
    assert result.timings["windows_per_s"] == pytest.approx(result.n_windows / result.timings["forecast_s"])
    assert result.timings["windows_per_s"] < 1000  # 17 windows, 10 ms each
    fingerprint = result.report()["data"]["fingerprint"]
    assert (fingerprint["first"], fingerprint["last"]) == ("2021-01-01 00:00:00", "2021-01-02 15:00:00")
    assert result.config["n_windows"] is None


def test_report_figures_plot_mae_and_metrics_csv_keeps_eight_digits(monkeypatch, tmp_path):
    """save_report draws its error figures in MAE (not the first metric, MSE), and metrics.csv
    carries the metrics to 8 significant digits."""
    from tsmamba import plotting

    seen = []
    monkeypatch.setattr(plotting, "plot_error_by_step",
                        lambda m, path, metric="mae", **kwargs: seen.append(metric) or path)
    monkeypatch.setattr(plotting, "plot_forecasts", lambda *args, **kwargs: args[1])
    monkeypatch.setattr(plotting, "plot_error_over_time",
                        lambda f, path, metric="mae", **kwargs: seen.append(metric) or path)
    result = backtest(LastValueForecaster(bias=0.123456789), ramp(), start=20)
    result.save_report(tmp_path)
    assert seen == ["mae", "mae"]
    written = pd.read_csv(tmp_path / "metrics.csv")
    np.testing.assert_allclose(written["value"], result.metrics["value"], rtol=1e-7)


def test_repr_shows_mse_and_mae_each_under_its_name():
    result = backtest(LastValueForecaster(bias=0.5), ramp(), start=20)
    overall = result.scores["tsmamba"]["overall"]
    assert overall["mse"] != overall["mae"]
    assert f"mse={overall['mse']:.4g}, mae={overall['mae']:.4g}" in repr(result)


# --- pinned by mutation round 8 (backtest, metrics, plotting) ---


def test_start_fractions_and_timestamps_at_the_edges_of_the_series():
    """A fraction under one row observes row 0 (not row -1, the last row); 0.0 is no fraction of
    rows observed (an int 0 is row 0); a time before the first timestamp is refused by name."""
    index = pd.date_range("2021-01-01", periods=50, freq="h")
    assert plan_backtest(50, 5, context_length=1, start=0.01, fit=False, context="full").origins[0] == 0
    with pytest.raises(ConfigError, match=r"must lie in \(0, 1\), got 0.0; pass an int for a row number"):
        plan_backtest(50, 5, context_length=1, start=0.0)
    with pytest.raises(ConfigError, match="start 2020-12-31 00:00:00 lies before the first timestamp 2021"):
        plan_backtest(50, 5, context_length=4, start="2020-12-31", index=index)


def test_plan_advises_the_last_origin_itself_and_takes_refit_none_as_one_fit():
    with pytest.raises(DataValidationError, match="need context_length=17: start at row 16 or later, or use"):
        plan_backtest(20, 3, context_length=17, start=2, fit=False)  # row 16 is the last origin
    assert plan_backtest(20, 3, context_length=17, start=16, fit=False).origins.tolist() == [16]
    assert plan_backtest(20, 3, context_length=4, start=9, refit=None).n_fits == 1  # None: fit once


def test_the_linear_baseline_needs_more_training_rows_than_the_horizon():
    frame = ramp(60)
    est = LastValueForecaster(context_length=4, horizon=12).fit(frame.iloc[:5])
    with pytest.warns(RuntimeWarning, match=r"leaves 12 rows to fit it on, .* horizon \+ 1 = 13"):
        result = backtest(est, frame, start=11)
    assert "linear" not in result.scores


def test_a_prefitted_forecaster_of_other_channels_is_refused_by_name():
    frame = ramp(40)
    est = LastValueForecaster().fit(frame.iloc[:20])
    est.columns_ = ["c1", "zz"]
    with pytest.raises(ConfigError, match=r"the channels \['c1', 'zz'\], and the data's are \['c0', 'c1'\]"):
        backtest(est, frame, start=20, columns=["c0", "c1"], baselines=False)


@pytest.mark.filterwarnings("ignore:training series is constant:RuntimeWarning")
def test_values_made_from_later_rows_are_named_exactly_when_a_window_reads_them_as_inputs():
    """Filled backwards from the first origin's own row: nothing after it is seen. Interpolated at
    the last origin from the row after it: that window's context sees the future. Interpolated in
    a target only, the value is scored by no metric (made up), so it flatters nothing: it had been
    warned of as well, with every window whose target held it counted."""
    from tsmamba.data import read_series

    raw = ramp(60)
    raw.iloc[:45, 1] = np.nan
    late = read_series(raw, impute="ffill")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*later rows")
        backtest(LastValueForecaster(horizon=3), late, start=45, baselines=False)
    with pytest.warns(UserWarning, match=r"values of 'c1' \(45\) were made from later rows .*: the forecasts "
                                         r"of 1 of the 13 windows read them"):
        result = backtest(LastValueForecaster(horizon=3), late, start=44, baselines=False)
    assert result.config["repairs"]["from_later_windows"] == 1
    # origins 30..34, targets up to row 37: a value interpolated at row 34 is in the last context,
    # at rows 35..37 only in targets (a value at row 37 had been warned of)
    for row, warned in ((33, True), (34, True), (35, False), (37, False)):
        gap = ramp(60)
        gap.iloc[row, 0] = np.nan
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = backtest(LastValueForecaster(horizon=3), read_series(gap, impute="interpolate"),
                              start=30, n_windows=5, baselines=False)
        assert any("later rows" in str(w.message) for w in caught) == warned, row
        assert result.config["repairs"].get("from_later_windows") == (1 if warned else None), row
        held = min(34, row - 1) - max(30, row - 3) + 1  # the windows whose target holds it
        assert result.config["unscored"]["target_cells"] == held, row  # made up: scored by no metric
    chained = ramp(60).drop(ramp(60).index[[40, 41]])  # inserted rows drawn past a NaN row to row 43
    chained.iloc[40, 1] = np.nan  # row 42's c1, then copied forward: the window at 42 holds row 43
    with pytest.warns(UserWarning, match=r"values of 'c1' \(3\) were made from later rows"):
        backtest(LastValueForecaster(horizon=2), read_series(chained, fill="interpolate", impute="ffill"),
                 start=42, baselines=False)
    # origins 40, 43, 46, ...: those at 40 and 43 read rows 0..43 ahead of row 45, made from it; the
    # window at 46 holds row 44 too, but made from row 45, not after its origin
    with pytest.warns(UserWarning, match=r"values of 'c1' \(44\) .*the forecasts of 2 of the 5 windows"):
        result = backtest(LastValueForecaster(horizon=3), late, start=40, stride=3, n_windows=5,
                          baselines=False)
    assert result.config["repairs"]["from_later_rows"] == {"c1": 44}


def test_ltsf_protocol_rejects_a_window_or_context_option():
    with pytest.raises(ConfigError, match=r"has fixed splits and windows; drop window, context$"):
        backtest(LastValueForecaster(), "ETTh1", protocol="ltsf", window="sliding", context="full")


def test_ltsf_protocol_refuses_what_it_would_drop_and_a_forecaster_without_windows():
    """progress= and data_name= had been dropped without a word; a dict of parameters (which
    backtest_ltsf takes) or None had failed with an AttributeError."""
    with pytest.raises(ConfigError, match=r"drop data_name, progress$"):
        backtest(LastValueForecaster(), "ETTh1", protocol="ltsf", progress=True, data_name="mine")
    for forecaster in (None, {"d_model": 8}):
        with pytest.raises(ConfigError, match=r"has none; pass an estimator, or call backtest_ltsf\(params"):
            backtest(forecaster, "ETTh1", protocol="ltsf")


def test_a_report_path_that_is_a_file_is_refused(tmp_path):
    result = backtest(LastValueForecaster(horizon=3), ramp(60), start=30, baselines=False)
    (tmp_path / "report").write_text("mine")
    with pytest.raises(ConfigError, match=r"report folder .*report exists and is not a folder"):
        result.save_report(tmp_path / "report", plots=False)
    assert (tmp_path / "report").read_text() == "mine"


def test_save_report_keeps_every_forecast_up_to_250000_rows_by_default(tmp_path):
    result = backtest(LastValueForecaster(horizon=4), ramp(2000, n_channels=20), baselines=False)
    assert len(result.forecasts) == 597 * 4 * 20 > 25_000
    result.save_report(tmp_path, plots=False)
    note = json.loads((tmp_path / "metrics.json").read_text())["forecasts_csv"]
    assert note == {"rows": 47_760, "origins": 597, "origins_total": 597, "complete": True}


def test_no_forecast_time_gives_no_throughput():
    from tsmamba.backtest import _timings

    assert _timings(1.0, 0.0, 0.0, 0.0, 1.0, 5)["windows_per_s"] is None
    assert _timings(1.0, 2.0, 0.0, 0.0, 3.0, 5)["windows_per_s"] == 2.5


def test_config_records_the_options_as_given_and_mase_names_a_constant_channel():
    frame = ramp(60).assign(c1=3.0)
    mase_warning = r"constant at lag 24 .* for channel\(s\) \['c1'\]; MASE is NaN"
    with pytest.warns(RuntimeWarning, match=mase_warning), pytest.warns(UserWarning, match="c1' is constant"):
        result = backtest(LastValueForecaster(horizon=3), frame, window="sliding", context="full",
                          baselines=False)
    config = result.config
    assert (config["start"], config["window"], config["context"]) == (None, "sliding", "full")
    given = backtest(LastValueForecaster(horizon=3), ramp(60), start=30, baselines=False)
    assert given.config["start"] == "30"


def test_switches_take_true_or_false_not_any_value(tmp_path):
    """baselines="no" had scored the baselines and forecasts="no" written forecasts.csv (any
    truthy value switched them on, None off)."""
    for bad in ({"baselines": "no"}, {"baselines": None}, {"progress": "false"}):
        with pytest.raises(ConfigError, match=rf"{next(iter(bad))} must be True or False"):
            backtest(LastValueForecaster(horizon=3), ramp(60), start=30, **bad)
    with pytest.raises(ConfigError, match=r"baselines must be True or False, got 'no'"):
        backtest_ltsf(LastValueForecaster(), "ETTh1", baselines="no")
    result = backtest(LastValueForecaster(horizon=3), ramp(60), start=30, baselines=np.False_)
    assert list(result.scores) == ["tsmamba"]
    for bad in ({"forecasts": "no"}, {"plots": 0}):
        with pytest.raises(ConfigError, match=rf"{next(iter(bad))} must be True or False"):
            result.save_report(tmp_path / "report", **bad)
    assert not (tmp_path / "report").exists()


def test_a_backtest_without_mase_says_nothing_about_its_scale():
    """metrics= without MASE: no warning that a constant training channel leaves MASE NaN (it
    had come after every such backtest, about a score it did not compute)."""
    frame = ramp(60).assign(c1=3.0)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = backtest(LastValueForecaster(horizon=3), frame, start=30, metrics=("mse", "mae"))
    assert not [w for w in seen if "MASE" in str(w.message)], [str(w.message) for w in seen]
    assert list(result.scores[result.model_name]["overall"]) == ["mse", "mae"]


def test_the_table_of_scores_leaves_a_metric_not_computed_empty():
    result = backtest(LastValueForecaster(horizon=3), ramp(60), start=30, metrics=("mse", "mae"))
    table = result.table()
    assert list(table.columns) == ["mse", "mae", "rmse", "smape", "mase", "mse_gain_%", "mae_gain_%"]
    assert table[["rmse", "smape", "mase"]].isna().all().all() and table["mae"].notna().all()
    # a name that is no metric is refused, not a column of NaN as if it were not computed
    with pytest.raises(ConfigError, match=r"unknown metric\(s\) \['r2'\]"):
        result.table(("mse", "r2"))


def test_read_forecasts_reads_a_table_without_times(tmp_path):
    """A forecasts table cut to its channels and values reads back with its channel names as text."""
    pd.DataFrame({"channel": ["01", "NA"], "step": [1, 1], "y": [1.0, 2.0], "yhat": [1.5, 2.5]}).to_csv(
        tmp_path / "cut.csv", index=False)
    back = read_forecasts(tmp_path / "cut.csv")
    assert back["channel"].tolist() == ["01", "NA"] and back["yhat"].tolist() == [1.5, 2.5]
