"""Metrics against values worked out by hand on tiny arrays, plus edge cases."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tsmamba.errors import ConfigError
from tsmamba.metrics import (
    METRICS,
    mae,
    mape,
    mase,
    mase_scale,
    metrics_frame,
    mse,
    rmse,
    score,
    seasonal_period,
    smape,
    to_jsonable,
)

# Two windows (N=2), two steps (H=2), two channels (C=2); indices are [window, step, channel].
Y = np.array([[[1.0, 2.0], [2.0, 4.0]], [[3.0, 0.0], [4.0, 8.0]]])
YHAT = np.array([[[2.0, 2.0], [2.0, 1.0]], [[1.0, 1.0], [4.0, 4.0]]])
# y - yhat:  w0 s1 (-1, 0)   w0 s2 (0, 3)   w1 s1 (2, -1)   w1 s2 (0, 4)
# |err| = 1, 0, 0, 3, 2, 1, 0, 4  (sum 11);   err^2 = 1, 0, 0, 9, 4, 1, 0, 16  (sum 31)
SCALE = np.array([0.5, 2.0])


def test_mse_mae_rmse_by_hand() -> None:
    assert mae(Y, YHAT) == pytest.approx(11 / 8)
    assert mse(Y, YHAT) == pytest.approx(31 / 8)
    assert rmse(Y, YHAT) == pytest.approx(math.sqrt(31 / 8))
    assert isinstance(mae(Y, YHAT), float)


def test_axis_reductions_by_hand() -> None:
    # channel 0: |err| 1, 0, 2, 0 -> 3/4; channel 1: 0, 3, 1, 4 -> 8/4
    np.testing.assert_allclose(mae(Y, YHAT, axis=(0, 1)), [0.75, 2.0])
    # channel 0: err^2 1, 0, 4, 0 -> 5/4; channel 1: 0, 9, 1, 16 -> 26/4
    np.testing.assert_allclose(mse(Y, YHAT, axis=(0, 1)), [1.25, 6.5])
    # step 1: |err| 1, 0, 2, 1 -> 4/4; step 2: 0, 3, 0, 4 -> 7/4
    np.testing.assert_allclose(mae(Y, YHAT, axis=(0, 2)), [1.0, 1.75])
    # RMSE per step is the root of the pooled MSE: step 1 (1+0+4+1)/4, step 2 (0+9+0+16)/4
    np.testing.assert_allclose(rmse(Y, YHAT, axis=(0, 2)), np.sqrt([1.5, 6.25]))


def test_mape_by_hand_skips_zero_actuals() -> None:
    # |err|/|y| with y = 0 (w1 s1 c1) left out: 1/1, 0/2, 0/2, 3/4, 2/3, 0/4, 4/8
    # = 1 + 0 + 0 + 0.75 + 2/3 + 0 + 0.5 = 35/12 over 7 entries = 5/12 -> 41.67 %
    assert mape(Y, YHAT) == pytest.approx(100 * 5 / 12)


def test_smape_by_hand() -> None:
    # 2|err|/(|y|+|yhat|): 2/3, 0/4, 0/4, 6/5, 4/4, 2/1, 0/8, 8/12
    # sum = 4/3 + 6/5 + 3 = 83/15 over 8 entries = 83/120 -> 69.17 %
    assert smape(Y, YHAT) == pytest.approx(100 * 83 / 120)


def test_smape_stays_within_200_at_the_ends_of_the_float_range() -> None:
    """1e308 against -1e308 had overflowed to inf / inf: a NaN that made the pooled score NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        assert smape([1e308], [-1e308]) == 200.0
        assert smape([1e308, 1.0], [-1e308, 1.0]) == 100.0
        assert smape([1.7e308], [1.6e308]) == pytest.approx(200 * 0.1 / 3.3)
        assert smape([1e308], [-1e307]) == pytest.approx(200.0)
        assert smape([1.0, 2.0], [np.inf, 2.0]) == 100.0  # the limit of a forecast that grows without bound
    assert math.isnan(smape([np.inf], [np.inf]))  # inf - inf: no limit to take


def test_mase_scale_of_values_whose_squares_overflow() -> None:
    """Channels of +-1e200: the spread's squares overflowed (a numpy warning, and an infinite
    spread that called the channel constant, MASE NaN)."""
    x = np.array([[1e200, 1.0], [-1e200, 2.0], [1e200, np.nan], [-1e200, 4.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(mase_scale(x, 1), [2e200, 1.0])


def test_mase_by_hand() -> None:
    # |err| / scale: channel 0 (scale 0.5): 2, 0, 4, 0; channel 1 (scale 2): 0, 1.5, 0.5, 2
    assert mase(Y, YHAT, SCALE) == pytest.approx(10 / 8)
    np.testing.assert_allclose(mase(Y, YHAT, SCALE, axis=(0, 1)), [1.5, 1.0])


def test_mase_scale_by_hand() -> None:
    train = np.array([[1.0, 10.0], [2.0, 11.0], [4.0, 13.0], [7.0, 16.0]])
    # lag 1: channel 0 |1|,|2|,|3| -> 2;  lag 2: |4-1|, |7-2| -> 4
    np.testing.assert_allclose(mase_scale(train, 1), [2.0, 2.0])
    np.testing.assert_allclose(mase_scale(train, 2), [4.0, 4.0])
    np.testing.assert_allclose(mase_scale(train[:, 0], 1), [2.0])


def test_mase_constant_train_series_is_nan_with_warning() -> None:
    train = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    with pytest.warns(RuntimeWarning, match="constant"):
        scale = mase_scale(train, 1)
    assert scale[0] == pytest.approx(1.0)
    assert np.isnan(scale[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NaN scale from mase_scale does not warn twice
        per_channel = mase(Y, YHAT, scale, axis=(0, 1))
        pooled = mase(Y, YHAT, scale)
    assert per_channel[0] == pytest.approx(0.75) and np.isnan(per_channel[1])
    assert pooled == pytest.approx(0.75)  # channels without a scale are left out
    with pytest.warns(RuntimeWarning, match="zero"):
        out = mase(Y, YHAT, [1.0, 0.0], axis=(0, 1))
    assert np.isfinite(out[0]) and np.isnan(out[1])
    # a zero or negative scale is no scale: left out of the pooled mean, not inf or a negative
    # MASE (helper-144: returning the scale as given had passed every test)
    for bad in (0.0, -2.0):
        with pytest.warns(RuntimeWarning, match="zero or negative"):
            assert mase(Y, YHAT, [bad, 2.0]) == pytest.approx(1.0)  # channel 1 alone (by hand above)
        with pytest.warns(RuntimeWarning, match="zero or negative"):
            assert np.isnan(mase(Y, YHAT, [bad, 2.0], axis=(0, 1))[0])
    # periodic up to float rounding at the season: constant too, not a 1e-15 scale
    t = np.arange(24 * 20)
    periodic = np.column_stack([5 + 3 * np.sin(2 * np.pi * t / 24), np.cos(t / 7)])
    with pytest.warns(RuntimeWarning, match=r"lag 24 \(up to float rounding\) for channel\(s\) \['0'\]"):
        scale = mase_scale(periodic, 24)
    assert np.isnan(scale[0]) and scale[1] > 0.1
    with pytest.warns(RuntimeWarning, match=r"for channel\(s\) \['OT'\]; MASE is NaN there, and the overall"):
        mase_scale(periodic, 24, channels=["OT", "HUFL"])  # named, as a backtest passes them


def test_mase_scale_of_a_large_level_that_moves_is_not_constant() -> None:
    """The constant test is relative to the level, but only by float64 rounding: a counter near
    1.7e12 stepping by 1 (exact in float64) was called constant, and its MASE dropped out."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(mase_scale(1.7e12 + np.arange(100.0), 1), [1.0])
    with pytest.warns(RuntimeWarning, match="constant"):
        assert np.isnan(mase_scale(np.full(100, 1.7e12), 1)).all()
    # periodic up to rounding stays constant: on a large level (differences of an ulp of 1.7e12),
    # and for a long computed series, whose rounding drifts past a few ulps (17,420 rows: 3.4e-13)
    t = np.arange(17_420)
    for periodic in (1.7e12 + 3 * np.sin(2 * np.pi * t[:480] / 24), 5 + 3 * np.sin(2 * np.pi * t / 24)):
        with pytest.warns(RuntimeWarning, match="constant at lag 24"):
            assert np.isnan(mase_scale(periodic, 24)).all()


def test_pandas_inputs_with_different_labels_are_refused() -> None:
    """Metrics pair values by position: reversed labels gave mse 2.667 for equal series."""
    y = pd.Series([1.0, 2.0, 3.0], index=[0, 1, 2])
    assert mse(y, pd.Series([3.0, 2.0, 1.0], index=y.index)) == pytest.approx(8 / 3)
    with pytest.raises(ConfigError, match=r"different index labels; metrics pair values by position"):
        mse(y, y.iloc[::-1])
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    with pytest.raises(ConfigError, match="different column labels"):
        mae(frame, frame[["b", "a"]])
    assert mse(frame, frame) == 0.0 and mse(frame, frame.to_numpy()[::-1]) == 1.0  # an array: by position
    paris = pd.Series([1.0, 2.0], index=pd.date_range("2024-03-31", periods=2, freq="h", tz="Europe/Paris"))
    assert mse(paris, paris.tz_convert("UTC")) == 0.0  # the same instants, written in two zones


def test_mase_scale_short_series_and_bad_season() -> None:
    with pytest.warns(RuntimeWarning, match="too short"):
        np.testing.assert_allclose(mase_scale([[1.0], [3.0], [6.0]], 24), [2.5])
    with pytest.warns(RuntimeWarning):
        assert np.isnan(mase_scale([[1.0]], 1)).all()
    with pytest.raises(ConfigError):
        mase_scale([[1.0], [2.0]], 0)
    with pytest.raises(ConfigError, match="season must be a positive integer, got True"):
        mase_scale([[1.0], [2.0], [4.0]], True)  # had been read as 1
    with pytest.raises(ConfigError, match="channels must name the 1 columns"):
        mase_scale([[1.0], [2.0], [4.0]], 1, channels=["a", "b"])
    for eps in (-1.0, float("nan"), float("inf"), None):  # -1 had scored, NaN returned NaN
        with pytest.raises(ConfigError, match="eps must be a finite number >= 0"):
            mape(Y, YHAT, eps=eps)
    with pytest.raises(ConfigError):
        mase(Y, YHAT, [1.0, 2.0, 3.0])


def test_zero_actuals_edge_cases() -> None:
    zeros = np.zeros((1, 3, 1))
    assert np.isnan(mape(zeros, zeros + 1.0))  # nothing left after dropping |y| < eps
    assert smape(zeros, zeros) == 0.0  # 0/0 counts as a perfect forecast
    assert smape(zeros, zeros + 1.0) == pytest.approx(200.0)  # the sMAPE maximum
    assert mape(np.array([1e-12, 2.0]), np.array([5.0, 1.0])) == pytest.approx(50.0)


def test_nan_pairs_are_ignored() -> None:
    y = np.array([1.0, np.nan, 3.0, 4.0])
    yhat = np.array([2.0, 0.0, np.nan, 6.0])
    # usable pairs: (1, 2) and (4, 6): |err| 1 and 2
    assert mae(y, yhat) == pytest.approx(1.5)
    assert mse(y, yhat) == pytest.approx(2.5)
    assert np.isnan(mae([np.nan], [1.0]))
    per_step = mae(np.array([[[np.nan], [1.0]]]), np.array([[[1.0], [1.0]]]), axis=(0, 2))
    assert np.isnan(per_step[0]) and per_step[1] == 0.0


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ConfigError, match="same shape"):
        mae(Y, YHAT[:, :1])


def test_score_structure_and_values() -> None:
    result = score(Y, YHAT, scale=SCALE, channels=["a", "b"])
    assert set(result) == {"overall", "per_channel", "per_step"}
    assert list(result["overall"]) == list(METRICS)
    assert list(result["per_channel"]) == ["a", "b"]
    assert len(result["per_step"]) == 2
    assert result["overall"]["mae"] == pytest.approx(11 / 8)
    assert result["per_channel"]["b"]["mse"] == pytest.approx(6.5)
    assert result["per_step"][1]["mae"] == pytest.approx(1.75)
    assert result["per_channel"]["a"]["mase"] == pytest.approx(1.5)
    for value in result["overall"].values():
        assert type(value) is float


def test_score_equals_each_metric_function_exactly() -> None:
    """score computes each element's terms once and averages them three ways; the functions
    compute them per call: the numbers must not differ in any digit."""
    rng = np.random.default_rng(0)
    y, yhat = rng.normal(size=(30, 5, 3)), rng.normal(size=(30, 5, 3))
    y[2, 1, 0], yhat[4, 0, 2], y[7, 3, 1] = np.nan, np.nan, 0.0
    scale = np.array([0.5, np.nan, 2.0])
    result = score(y, yhat, scale=scale)
    functions = {"mse": mse, "mae": mae, "rmse": rmse, "mape": mape, "smape": smape,
                 "mase": lambda a, b, axis=None: mase(a, b, scale, axis=axis)}
    for name, fn in functions.items():
        assert result["overall"][name] == fn(y, yhat) or np.isnan(fn(y, yhat))
        np.testing.assert_array_equal([result["per_channel"][str(c)][name] for c in range(3)],
                                      fn(y, yhat, axis=(0, 1)))
        np.testing.assert_array_equal([step[name] for step in result["per_step"]], fn(y, yhat, axis=(0, 2)))


def test_score_in_pieces_equals_score_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """score computes the terms a piece of windows at a time (bounded temporaries, whatever N):
    the sums of the pieces give the same means as one pass over all windows, to rounding, and
    a window none of whose pairs count (all NaN) or a channel of NaN scale stays as it was."""
    import tsmamba.metrics as metrics_module

    rng = np.random.default_rng(1)
    y, yhat = rng.normal(size=(23, 4, 3)), rng.normal(size=(23, 4, 3))
    y[2, 1, 0], yhat[4, 0, 2], y[7, 3, 1], y[11] = np.nan, np.nan, 0.0, np.nan
    scale = np.array([0.5, np.nan, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the NaN scale's warning, once per call
        at_once = score(y, yhat, scale=scale)
        shapes: list[tuple[int, ...]] = []
        pair = metrics_module._pair
        monkeypatch.setattr(metrics_module, "_pair",
                            lambda a, b, *mask: (shapes.append(a.shape), pair(a, b, *mask))[1])
        monkeypatch.setattr(metrics_module, "SCORE_PIECE_ELEMENTS", 5 * 4 * 3)  # five windows a piece
        in_pieces = score(y, yhat, scale=scale)
    assert shapes == [(5, 4, 3)] * 4 + [(3, 4, 3)]  # 23 windows: four pieces of five, then three
    for part in ("overall", "per_channel", "per_step"):
        a, b = pd.json_normalize(at_once[part]), pd.json_normalize(in_pieces[part])
        assert list(a.columns) == list(b.columns) and a.notna().equals(b.notna())
        np.testing.assert_allclose(b.to_numpy(float), a.to_numpy(float), rtol=1e-13, atol=0)
    assert np.isnan(in_pieces["per_channel"]["1"]["mase"]) and not np.isnan(in_pieces["overall"]["mase"])


def test_score_without_scale_drops_mase_and_default_channel_names() -> None:
    result = score(Y, YHAT, metrics=("mae", "mase"))
    assert list(result["overall"]) == ["mae"]
    assert list(result["per_channel"]) == ["0", "1"]


def test_score_without_mase_asked_for_neither_checks_nor_warns_about_its_scale() -> None:
    """A zero scale (a constant training channel) had warned that MASE is NaN, and a scale of the
    wrong length had been refused, when metrics= left MASE out."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = score(Y, YHAT, scale=[0.0, 1.0], metrics=("mae",))
        assert list(result["overall"]) == ["mae"]
        assert score(Y, YHAT, scale=[1.0, 2.0, 3.0], metrics=("mse",))["overall"]["mse"] == mse(Y, YHAT)
    with pytest.warns(RuntimeWarning, match=r"MASE scale is zero"):
        score(Y, YHAT, scale=[0.0, 1.0], metrics=("mae", "mase"))


def test_score_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="unknown metric"):
        score(Y, YHAT, metrics=("mae", "r2"))
    with pytest.raises(ConfigError, match="channel names"):
        score(Y, YHAT, channels=["only_one"])
    with pytest.raises(ConfigError, match=r"\(N, H, C\)"):
        score(Y[0], YHAT[0])
    with pytest.raises(ConfigError, match="empty"):
        score(np.zeros((0, 2, 2)), np.zeros((0, 2, 2)))


def test_score_is_json_serialisable_with_nan() -> None:
    zeros = np.zeros((2, 3, 1))
    result = score(zeros, zeros + 1.0, scale=[1.0])
    assert math.isnan(result["overall"]["mape"])
    text = json.dumps(to_jsonable(result), allow_nan=False)
    back = json.loads(text)
    assert back["overall"]["mape"] is None
    assert back["overall"]["mae"] == 1.0
    assert to_jsonable({"a": np.float32(2.5), "b": np.arange(2), 3: (np.inf,)}) == {
        "a": 2.5,
        "b": [0, 1],
        "3": [None],
    }


def test_metrics_frame_is_tidy() -> None:
    frame = metrics_frame(Y, YHAT, model="m", channels=["a", "b"], scale=SCALE)
    assert list(frame.columns) == ["model", "scope", "channel", "step", "metric", "value"]
    n_metrics = len(METRICS)
    assert len(frame) == n_metrics * (1 + 2 + 2)  # overall + 2 channels + 2 steps
    assert (frame["model"] == "m").all()
    assert set(frame["scope"]) == {"overall", "channel", "step"}
    overall = frame[frame["scope"] == "overall"]
    assert (overall["channel"] == "all").all() and (overall["step"] == 0).all()
    steps = frame[(frame["scope"] == "step") & (frame["metric"] == "mae")]
    assert steps["step"].tolist() == [1, 2]
    np.testing.assert_allclose(steps["value"], [1.0, 1.75])
    chan = frame.query("scope == 'channel' and channel == 'a' and metric == 'mse'")
    assert chan["value"].item() == pytest.approx(1.25)
    assert frame["step"].dtype == np.int64


@pytest.mark.parametrize(
    ("freq", "period"),
    [
        ("h", 24),
        ("H", 24),
        ("30min", 48),
        ("15min", 96),
        ("10min", 144),
        ("5min", 288),
        ("min", 1440),
        ("1min", 1440),
        ("T", 1440),
        ("2h", 12),
        ("D", 7),
        ("B", 5),
        ("W", 52),
        ("W-SUN", 52),
        ("2W", 26),
        ("MS", 12),
        ("ME", 12),
        ("M", 12),
        ("3ME", 4),
        ("QE", 4),
        ("Q-DEC", 4),
        ("YE", 1),
        ("A", 1),
        ("5h", 1),  # 24 / 5 is not whole: no seasonal lag lines up
        ("24h", 7),  # whole days are days, whole weeks weeks, however they are written
        ("1440min", 7),
        ("7D", 52),
        ("14D", 26),
        ("bh", 8),  # business hours: the 09:00-17:00 business day
        ("BH", 8),  # pandas 2's alias, refused by pandas 3
        ("4bh", 2),
        ("s", 1),
    ],
)
def test_seasonal_period(freq: str, period: int) -> None:
    assert seasonal_period(freq) == period


def test_seasonal_period_unknown_is_one() -> None:
    with pytest.warns(UserWarning, match="unknown frequency"):
        assert seasonal_period("fortnightly") == 1
    assert seasonal_period(pd.offsets.Hour(3)) == 8


finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, (3, 4, 2), elements=finite),
    arrays(np.float64, (3, 4, 2), elements=finite),
)
def test_metric_properties(y: np.ndarray, yhat: np.ndarray) -> None:
    assert rmse(y, yhat) >= mae(y, yhat) - 1e-9
    assert 0.0 <= smape(y, yhat) <= 200.0 + 1e-9
    assert mae(y, y) == 0.0 and smape(y, y) == 0.0
    result = score(y, yhat, scale=np.ones(2))
    # Pooled MAE equals the mean of the per-step MAEs (every step has the same count).
    steps = [row["mae"] for row in result["per_step"]]
    assert result["overall"]["mae"] == pytest.approx(np.mean(steps), abs=1e-9)
    assert result["overall"]["mase"] == pytest.approx(result["overall"]["mae"], abs=1e-9)


def test_mape_takes_eps_zero_as_documented():
    """eps=0 divides by |y| itself: allowed, as the docstring says (helper-150: refusing 0 passed)."""
    assert mape(np.array([2.0, 4.0]), np.array([1.0, 5.0]), eps=0) == pytest.approx(37.5)
    assert mape(np.array([0.0, 2.0]), np.array([1.0, 1.0]), eps=0) == math.inf


def test_a_one_row_training_series_says_why_its_mase_scale_is_nan():
    """One row has no difference at any lag: the warning says so, not that it falls back to lag 1."""
    with pytest.warns(RuntimeWarning, match=r"has 1 value\(s\)"):
        assert np.isnan(mase_scale(np.array([[1.0]]), 24)).all()


# --- pinned by mutation round 8 (backtest, metrics, plotting) ---


def test_score_counts_small_actuals_in_mape_as_mape_does():
    """score's MAPE leaves out |y| < 1e-8 only, as mape's default eps does: an actual of 1e-4 counts."""
    y = np.array([[[1e-4], [2.0]]])
    yhat = np.array([[[2e-4], [1.0]]])
    # |err| / |y|: 1e-4 / 1e-4 = 1 and 1 / 2 = 0.5: 75 %
    assert score(y, yhat, metrics=("mape",))["overall"]["mape"] == pytest.approx(75.0)
    assert mape(y, yhat) == pytest.approx(75.0)


def test_mase_takes_a_number_as_the_scale_of_one_channel_and_refuses_a_bare_number_as_data():
    y, yhat = np.array([[[1.0], [3.0]]]), np.zeros((1, 2, 1))
    assert mase(y, yhat, 2.0) == pytest.approx(1.0)  # |err| 1 and 3 over scale 2
    with pytest.raises(ConfigError, match=r"mase needs arrays with a channel axis \(the last one\)"):
        mase(1.0, 2.0, 1.0)


def test_mase_reads_a_1d_series_with_one_scale_as_one_channel_as_mase_scale_does():
    """mase_scale takes a (T,) series and gives its (1,) scale; mase refused the pair (helper: a
    1-D y always read as channels passed)."""
    train = np.array([0.0, 2.0, 0.0, 2.0, 1.0])
    scale = mase_scale(train, 1)  # |differences| 2, 2, 2, 1: 7 / 4
    y, yhat = np.array([1.0, 4.0, np.nan]), np.array([0.0, 1.0, 5.0])
    expected = (1 + 3) / 2 / (7 / 4)  # the NaN pair left out
    assert mase(y, yhat, scale) == pytest.approx(expected)
    assert mase(y, yhat, scale, axis=0) == pytest.approx(expected)
    assert mase(y[:, None], yhat[:, None], scale) == pytest.approx(expected)  # the same as (T, 1)
    assert mase(y[:2], yhat[:2], [1.0, 2.0]) == pytest.approx((1 / 1 + 3 / 2) / 2)  # (C,) with C scales
    with pytest.raises(ConfigError, match=r"axis 1 is out of range for a 1-D series"):
        mase(y, yhat, scale, axis=1)


def test_mase_scale_keeps_seasonal_changes_a_millionth_of_the_spread_and_drops_all_zero_channels():
    """The constant test is for float rounding only: a wave drifting by 1e-8 a step (seasonal
    differences 3.4e-7 of its spread) is a real, tiny scale; an all-zero channel is constant."""
    t = np.arange(24 * 20)
    drifting = np.sin(2 * np.pi * t / 24) + 1e-8 * t
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(mase_scale(drifting, 24), [24e-8], rtol=1e-6)
    with pytest.warns(RuntimeWarning, match=r"constant at lag 1 .* for channel\(s\) \['1'\]"):
        scale = mase_scale(np.column_stack([np.arange(5.0), np.zeros(5)]), 1)
    assert scale[0] == 1.0 and np.isnan(scale[1])


@pytest.mark.parametrize(("freq", "period"), [("2QE", 2), ("2B", 1), ("6ME", 2)])
def test_seasonal_period_of_multiples_of_quarters_and_business_days(freq, period):
    """Half-yearly data has two steps a year; two business days do not divide the week."""
    assert seasonal_period(freq) == period


def test_seasonal_period_of_an_offset_with_a_negative_multiple_is_that_of_its_size():
    assert seasonal_period(pd.offsets.MonthEnd(-3)) == seasonal_period(pd.offsets.MonthEnd(3)) == 4


def test_score_refuses_repeated_channel_names():
    """Two channels named alike had been merged into one per-channel entry without a word."""
    with pytest.raises(ConfigError, match=r"channel names must be unique, got \['a', 'a'\]"):
        score(Y, YHAT, channels=["a", "a"])


def test_masked_cells_count_in_no_metric_nor_in_the_mase_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cells read_series filled or imputed were never observed: a backtest passes them as a mask of
    False, and they count in no metric (pooled, per channel, per step, in pieces of windows or at
    once) nor in the MASE scale, exactly as if they were missing; a channel or step left without a
    cell is NaN while the pooled scores average the cells left (they had been scored as actuals)."""
    import tsmamba.metrics as metrics_module

    rng = np.random.default_rng(3)
    y, yhat = rng.normal(size=(9, 4, 3)), rng.normal(size=(9, 4, 3))
    mask = rng.random(size=y.shape) > 0.3
    mask[:, :, 2] = False  # a channel never observed
    mask[:, 3] = False  # a step never observed
    mask[5] = False  # a window never observed
    gone = np.where(mask, y, np.nan)  # the reference: what the mask leaves, as missing values
    train = rng.normal(size=(40, 3))
    train_mask = rng.random(size=train.shape) > 0.2
    train_mask[:, 1] = np.arange(40) % 2 == 0  # no observed pair at lag 1
    with pytest.warns(RuntimeWarning, match=r"channel\(s\) \['1'\] hold no pair of observed values 1 rows"):
        scale = mase_scale(train, 1, mask=train_mask)
    assert np.isnan(scale[1])
    np.testing.assert_array_equal(scale, mase_scale(np.where(train_mask, train, np.nan), 1))
    scale[1] = 0.7  # a usable scale for every channel, so MASE's mask is what is checked
    masked = score(y, yhat, scale=scale, mask=mask)
    same = json.dumps  # the very floats, NaN included (NaN != NaN in a plain ==)
    assert same(masked) == same(score(gone, yhat, scale=scale))
    assert np.isnan(masked["per_channel"]["2"]["mae"]) and np.isnan(masked["per_step"][3]["mse"])
    assert math.isfinite(masked["overall"]["mase"])
    assert masked["overall"] != score(y, yhat, scale=scale)["overall"]
    monkeypatch.setattr(metrics_module, "SCORE_PIECE_ELEMENTS", 2 * 4 * 3)  # two windows a piece
    in_pieces = score(y, yhat, scale=scale, mask=mask)  # the same sums, added in another order
    for part in ("overall", "per_channel", "per_step"):
        a, b = pd.json_normalize(masked[part]), pd.json_normalize(in_pieces[part])
        assert list(a.columns) == list(b.columns) and a.notna().equals(b.notna())
        np.testing.assert_allclose(b.to_numpy(float), a.to_numpy(float), rtol=1e-13, atol=0)
    for fn in (mse, mae, rmse, mape, smape):
        np.testing.assert_array_equal(fn(y, yhat, axis=(0, 1), mask=mask), fn(gone, yhat, axis=(0, 1)))
    assert mase(y, yhat, scale, mask=mask) == mase(gone, yhat, scale)
    assert mae(y, yhat, mask=np.ones(3, dtype=bool)) == mae(y, yhat)  # a mask broadcasts
    with pytest.raises(ConfigError, match=r"mask must be a boolean array"):
        mae(y, yhat, mask=mask.astype(float))
    with pytest.raises(ConfigError, match=r"mask of shape \(2,\) does not match"):
        score(y, yhat, mask=np.ones(2, dtype=bool))
