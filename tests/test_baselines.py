"""Baselines on hand-built sequences."""

from __future__ import annotations

import numpy as np
import pytest

from tsmamba.baselines import (
    LinearBaseline,
    last_value,
    seasonal_naive,
)
from tsmamba.errors import ConfigError, DataValidationError


def _ramp(n_windows: int = 2, length: int = 6, channels: int = 2) -> np.ndarray:
    """Window n, step t, channel c holds 100 n + 10 c + t."""
    n, t, c = np.meshgrid(
        np.arange(n_windows), np.arange(length), np.arange(channels), indexing="ij"
    )
    return (100 * n + 10 * c + t).astype(float)


def test_last_value_repeats_last_observation() -> None:
    X = _ramp()
    out = last_value(X, 3)
    assert out.shape == (2, 3, 2)
    np.testing.assert_array_equal(out[0, :, 0], [5, 5, 5])
    np.testing.assert_array_equal(out[1, :, 1], [115, 115, 115])


def test_seasonal_naive_by_hand() -> None:
    X = _ramp(length=6)  # window 0, channel 0: 0 1 2 3 4 5
    out = seasonal_naive(X, 5, 3)  # repeats the last season 3 4 5
    np.testing.assert_array_equal(out[0, :, 0], [3, 4, 5, 3, 4])
    np.testing.assert_array_equal(out[1, :, 1], [113, 114, 115, 113, 114])
    np.testing.assert_array_equal(seasonal_naive(X, 4, 1), last_value(X, 4))


def test_seasonal_naive_exact_on_periodic_series() -> None:
    period, context, horizon = 24, 96, 60
    t = np.arange(2000)
    series = np.stack([np.sin(2 * np.pi * t / period), (t % period) ** 2], axis=1)
    starts = np.arange(0, 2000 - context - horizon, 37)
    X = np.stack([series[s : s + context] for s in starts])
    Y = np.stack([series[s + context : s + context + horizon] for s in starts])
    np.testing.assert_allclose(seasonal_naive(X, horizon, period), Y, atol=1e-12)
    assert np.abs(last_value(X, horizon) - Y).max() > 0.5


def test_seasonal_naive_longer_than_context_falls_back() -> None:
    X = _ramp(length=4)
    with pytest.warns(RuntimeWarning, match="falls back to last_value"):
        out = seasonal_naive(X, 3, 24)
    np.testing.assert_array_equal(out, last_value(X, 3))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((2, 4)), 3), r"\(N, L, C\)"),
        ((np.zeros((2, 4, 1)), 0), "horizon"),
        ((np.zeros((2, 0, 1)), 2), "no context"),
    ],
)
def test_last_value_rejects_bad_input(args: tuple, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        last_value(*args)


def test_seasonal_naive_rejects_bad_season() -> None:
    with pytest.raises(ConfigError, match="season"):
        seasonal_naive(_ramp(), 2, 0)


def _linear_data(
    rng: np.random.Generator, n: int, context: int, horizon: int, channels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Contexts and targets related by one exact affine map shared by all channels."""
    W = rng.normal(scale=0.3, size=(horizon, context))
    b = rng.normal(size=horizon)
    X = rng.normal(size=(n, context, channels))
    Y = np.einsum("hl,nlc->nhc", W, X) + b[None, :, None]
    return X, Y, W, b


def test_linear_baseline_recovers_exact_linear_map() -> None:
    rng = np.random.default_rng(0)
    X, Y, W, b = _linear_data(rng, n=300, context=12, horizon=5, channels=3)
    model = LinearBaseline(12, 5).fit(X, Y)
    np.testing.assert_allclose(model.coef_, W, atol=1e-4)
    np.testing.assert_allclose(model.intercept_, b, atol=1e-4)
    X_new, Y_new, _, _ = _linear_data(np.random.default_rng(0), 40, 12, 5, 3)
    pred = model.predict(X_new)
    assert pred.shape == (40, 5, 3)
    np.testing.assert_allclose(pred, Y_new, atol=1e-3)


def test_linear_baseline_recovers_ar_recursion() -> None:
    # x_t = 1.2 x_{t-1} - 0.5 x_{t-2} + noise: the best 3-step forecast is linear in the context.
    rng = np.random.default_rng(1)
    n_time = 4000
    x = np.zeros(n_time)
    for t in range(2, n_time):
        x[t] = 1.2 * x[t - 1] - 0.5 * x[t - 2] + rng.normal()
    context, horizon = 8, 3
    starts = np.arange(n_time - context - horizon)
    X = np.stack([x[s : s + context] for s in starts])[:, :, None]
    Y = np.stack([x[s + context : s + context + horizon] for s in starts])[:, :, None]
    coef = LinearBaseline(context, horizon).fit(X, Y).coef_
    # One-step weights: 1.2 on the last value, -0.5 on the one before, ~0 elsewhere.
    np.testing.assert_allclose(coef[0, -2:], [-0.5, 1.2], atol=0.05)
    np.testing.assert_allclose(coef[0, :-2], 0.0, atol=0.05)
    # Two-step weights follow from the recursion: x_{t+1} = 1.2 (1.2 a - 0.5 b) - 0.5 a.
    np.testing.assert_allclose(coef[1, -2:], [-0.6, 0.94], atol=0.06)


def test_linear_baseline_subsampling_is_deterministic() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 10, 2))
    Y = rng.normal(size=(200, 4, 2))
    a = LinearBaseline(10, 4, max_windows=50, seed=7).fit(X, Y).coef_
    b = LinearBaseline(10, 4, max_windows=50, seed=7).fit(X, Y).coef_
    c = LinearBaseline(10, 4, max_windows=50, seed=8).fit(X, Y).coef_
    full = LinearBaseline(10, 4, max_windows=None).fit(X, Y).coef_
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert not np.allclose(a, full)


def test_linear_baseline_caps_its_rows_not_only_its_windows() -> None:
    """max_rows caps the (window, channel) rows after max_windows, gathered from the strided
    windows without copying them whole: memory no longer grows with the channel count (10,000
    windows of 900 channels had taken 12 GB). Under the caps every pair is used, in the order
    a plain reshape gives them, so the fit equals ridge on all rows."""
    import tracemalloc

    from numpy.lib.stride_tricks import sliding_window_view
    from sklearn.linear_model import Ridge

    values = np.random.default_rng(4).normal(size=(3000, 200))  # (T, C)
    windows = sliding_window_view(values, 10 + 4, axis=0).transpose(0, 2, 1)  # (N, 14, C) view
    X, Y = windows[:, :10], windows[:, 10:]
    tracemalloc.start()
    capped = LinearBaseline(10, 4, max_windows=2000, max_rows=5000, seed=3)
    rows_x, rows_y = capped._training_rows(X, Y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rows_x.shape == (5000, 10) and rows_y.shape == (5000, 4)
    assert peak < 20e6  # pieces of 8 MB (finiteness) and the rows, not the 2000 x 200 x 14 windows (45 MB)
    where = {v: (t, c) for (t, c), v in np.ndenumerate(values)}  # random values: each is unique
    pairs = {where[x[0]] for x in rows_x}
    assert len(pairs) == 5000 and len({t for t, _ in pairs}) <= 2000  # distinct pairs of 2000 windows
    for x, y in zip(rows_x, rows_y, strict=True):  # each row's context and target from one pair
        t, c = where[x[0]]
        np.testing.assert_array_equal(np.concatenate([x, y]), values[t : t + 14, c])
    model = capped.fit(X, Y)
    direct = Ridge(alpha=1e-3).fit(rows_x, rows_y)
    np.testing.assert_allclose(model.coef_, direct.coef_, rtol=1e-10, atol=1e-12)

    small = LinearBaseline(10, 4, max_windows=None, max_rows=None).fit(X[:300, :, :5], Y[:300, :, :5])
    flat_x = X[:300, :, :5].transpose(0, 2, 1).reshape(-1, 10)
    flat_y = Y[:300, :, :5].transpose(0, 2, 1).reshape(-1, 4)
    np.testing.assert_array_equal(small.coef_, Ridge(alpha=1e-3).fit(flat_x, flat_y).coef_)
    with pytest.raises(ConfigError, match="max_rows"):
        LinearBaseline(10, 4, max_rows=0)

    # the cap is drawn from the finite rows: rows with NaN (dropped by fit) had used it up
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(50, 8, 4)), rng.normal(size=(50, 2, 4))
    x[:, :, 1:] = np.nan  # 50 finite rows, all in channel 0
    rows_x, _ = LinearBaseline(8, 2, max_rows=40)._training_rows(x, y)
    assert rows_x.shape == (40, 8) and np.isfinite(rows_x).all()
    assert LinearBaseline(8, 2, max_rows=4).fit(x, y).coef_.shape == (2, 8)  # "no training window" before


def test_linear_baseline_uses_last_context_steps_and_drops_nan_rows() -> None:
    rng = np.random.default_rng(3)
    X, Y, W, _ = _linear_data(rng, n=200, context=6, horizon=2, channels=2)
    padded = np.concatenate([rng.normal(size=(200, 4, 2)), X], axis=1)  # 10 steps, last 6 matter
    padded[0, -1, 0] = np.nan
    model = LinearBaseline(6, 2).fit(padded, Y)
    np.testing.assert_allclose(model.coef_, W, atol=1e-4)
    np.testing.assert_allclose(model.predict(padded[1:]), Y[1:], atol=1e-3)
    with pytest.raises(DataValidationError):
        LinearBaseline(6, 2).fit(np.full((3, 6, 1), np.nan), np.zeros((3, 2, 1)))


def test_linear_baseline_leaves_inputs_unchanged() -> None:
    rng = np.random.default_rng(6)
    X = rng.normal(size=(30, 5, 1))  # one channel: the rows could be a view of X
    Y = rng.normal(size=(30, 2, 1))
    X_before, Y_before = X.copy(), Y.copy()
    LinearBaseline(5, 2).fit(X, Y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(Y, Y_before)


def test_linear_baseline_rejects_bad_use() -> None:
    with pytest.raises(ConfigError, match="not fitted"):
        LinearBaseline(4, 2).predict(np.zeros((1, 4, 1)))
    with pytest.raises(ConfigError, match="context_length"):
        LinearBaseline(8, 2).fit(np.zeros((5, 4, 1)), np.zeros((5, 2, 1)))
    with pytest.raises(ConfigError, match="Y must have shape"):
        LinearBaseline(4, 2).fit(np.zeros((5, 4, 1)), np.zeros((5, 3, 1)))
    with pytest.raises(ConfigError, match="disagree"):
        LinearBaseline(4, 2).fit(np.zeros((5, 4, 1)), np.zeros((6, 2, 1)))
    with pytest.raises(ConfigError, match="alpha"):
        LinearBaseline(4, 2, alpha=-1.0)
    with pytest.raises(ConfigError, match="horizon"):
        LinearBaseline(4, 0)


def test_linear_baseline_fits_ettH1_sized_windows() -> None:
    """ETTh1-sized training windows (8000 x 96 x 7) go through; speed is a benchmark's
    business, not a unit test's."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(8000, 96, 7)).astype(np.float32)
    Y = rng.normal(size=(8000, 96, 7)).astype(np.float32)
    model = LinearBaseline(96, 96).fit(X, Y)
    forecast = model.predict(X[:10])
    assert forecast.shape == (10, 96, 7) and np.isfinite(forecast).all()


def test_a_bad_seed_is_refused_when_the_baseline_is_made():
    """It had been kept, and failed in fit with numpy's TypeError (helper-138)."""
    for seed in ("abc", -1, 2.5, None):
        with pytest.raises(ConfigError, match="seed must be an integer"):
            LinearBaseline(10, 4, seed=seed)


def test_linear_baseline_takes_alpha_zero_as_ordinary_least_squares():
    """alpha=0 is least squares, not an error (helper-150: refusing 0 passed)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4, 2))
    baseline = LinearBaseline(4, 2, alpha=0).fit(X, 2.0 * X[:, -2:])
    assert baseline.alpha == 0.0
    np.testing.assert_allclose(baseline.predict(X[:3]), 2.0 * X[:3, -2:], atol=1e-8)


def test_capped_training_rows_come_from_the_sampled_windows():
    """With both caps, the rows kept are rows of the randomly sampled windows, not of the first
    windows (helper-150: indexing the sample positions, not the windows, passed)."""
    x = np.arange(40.0)[:, None, None] * np.ones((1, 4, 3))  # window i holds i everywhere
    rows_x, _ = LinearBaseline(4, 2, max_windows=10, max_rows=12, seed=0)._training_rows(x, x[:, :2])
    sampled = np.random.default_rng(0).choice(40, size=10, replace=False)
    assert len(rows_x) == 12 and set(rows_x[:, 0].astype(int)) <= set(sampled.tolist())
    assert rows_x[:, 0].max() > 10  # not the first windows only


def test_rows_with_a_missing_target_are_left_out_of_the_fit():
    """A NaN in a target drops its row; the map is fitted on the others (it had raised in sklearn)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4, 2))
    Y = 2.0 * X[:, -2:, :]
    Y[3, 1, 0] = np.nan
    baseline = LinearBaseline(4, 2).fit(X, Y)
    np.testing.assert_allclose(baseline.predict(X[4:5]), 2.0 * X[4:5, -2:], atol=1e-2)
