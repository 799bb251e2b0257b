"""``experiments/level_shift.py``: the per-channel, per-validation-half breakdown of the cyc and
cyc+rev ridge maps, their per-channel weights, and the long-run level inputs (ablations round 48)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

L, H, W = 8, 4, 4
EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture(scope="module")
def level_shift(experiment_script):
    with pytest.MonkeyPatch.context() as patch:  # the script imports linear_cycle and ltsf beside it
        patch.syspath_prepend(str(EXPERIMENTS))
        yield experiment_script("level_shift")


@pytest.fixture(scope="module")
def series(ridge_series):
    """conftest's three-channel series with a W-step cycle, borders for a lookback of L."""
    return ridge_series


def test_ewma_is_the_causal_weighted_mean_whose_weights_halve_every_halflife(level_shift):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 2))
    halflife = 5.0
    a = 1 - 0.5 ** (1 / halflife)
    out = level_shift.ewma(x, halflife)
    for t in (0, 1, 17, 49):  # written out: x_0 keeps (1 - a)^t, x_s (s >= 1) a (1 - a)^(t - s)
        weights = np.array([(1 - a) ** t] + [a * (1 - a) ** (t - s) for s in range(1, t + 1)])
        np.testing.assert_allclose(out[t], weights @ x[: t + 1], rtol=1e-12)
        if t >= 5:
            assert weights[t - 5] == pytest.approx(weights[t] / 2)  # five rows back: half the weight
    changed = x.copy()
    changed[20:] += 100.0
    np.testing.assert_array_equal(level_shift.ewma(changed, halflife)[:20], out[:20])  # only the past


def test_split_errors_are_each_channels_mse_on_each_validation_half_and_test(level_shift):
    rng = np.random.default_rng(2)
    val_f, val_y = rng.standard_normal((2, 9, H, 3))
    test_f, test_y = rng.standard_normal((2, 5, H, 3))
    errors = level_shift.split_channel_errors({"val": (val_f, val_y), "test": (test_f, test_y)})
    assert errors.shape == (3, 3)
    for c in range(3):  # 9 windows: the first half is the first 4, the second the last 5
        assert errors[0, c] == pytest.approx(np.mean((val_f[:4, :, c] - val_y[:4, :, c]) ** 2))
        assert errors[1, c] == pytest.approx(np.mean((val_f[4:, :, c] - val_y[4:, :, c]) ** 2))
        assert errors[2, c] == pytest.approx(np.mean((test_f[:, :, c] - test_y[:, :, c]) ** 2))


def test_per_channel_weights_follow_each_channels_better_map(level_shift, experiment_script):
    """Map 0 is near the targets on channel 0, map 1 on channel 1: each channel's weights go to its
    own better map; the test forecast uses them; validation is ltsf.py's cross-fit, channel by channel."""
    ltsf = experiment_script("ltsf")
    rng = np.random.default_rng(3)
    y_val, y_test = rng.standard_normal((40, H, 2)), rng.standard_normal((20, H, 2))

    def near(y, good):  # small errors on channel `good`, large on the other
        noise = rng.standard_normal(y.shape)
        noise[:, :, good] *= 0.1
        return y + noise

    val = [near(y_val, 0), near(y_val, 1)]
    test = [near(y_test, 0), near(y_test, 1)]
    crossed, tested, weights = level_shift.per_channel_weighted(val, y_val, test, y_test, H)
    assert weights.shape == (2, 2)
    assert weights[0, 0] > 0.9 and weights[1, 1] > 0.9
    np.testing.assert_allclose(weights.sum(1), 1.0)
    for c in range(2):
        np.testing.assert_allclose(tested[:, :, c],
                                   weights[c, 0] * test[0][:, :, c] + weights[c, 1] * test[1][:, :, c])
        expected, _ = ltsf.cross_fitted_forecast([f[:, :, c : c + 1] for f in val], y_val[:, :, c : c + 1], H)
        np.testing.assert_allclose(crossed[:, :, c : c + 1], expected)


def test_level_map_without_levels_is_the_cyc_map_and_levels_change_it(level_shift, experiment_script, series):
    linear_cycle = experiment_script("linear_cycle")
    values, phase, borders = series
    plain = level_shift.level_map_scores(values, phase, borders, L, H, [])
    assert plain == pytest.approx(linear_cycle.score(values, phase, borders, L, H, "cyc"), rel=1e-12)
    with_level = level_shift.level_map_scores(values, phase, borders, L, H, [20.0])
    assert with_level["val"] != pytest.approx(plain["val"], rel=1e-6)


@pytest.fixture
def run_main(level_shift, series, monkeypatch, capsys):
    """``run_main(*options)``: the script's main on conftest's series (as data set "X", columns a, b,
    c; one horizon), its printed lines."""
    values, phase, borders = series
    data = SimpleNamespace(values=values, borders=borders, fit_index=None, freq=None, columns=["a", "b", "c"])
    monkeypatch.setattr(level_shift, "prepare_ltsf", lambda name, lookback, horizon: data)
    monkeypatch.setattr(level_shift, "row_phases", lambda data, cycle, calendar: phase)
    monkeypatch.setattr(level_shift, "HORIZONS", (H,))

    def run(*options: str) -> list[str]:
        monkeypatch.setattr("sys.argv", ["level_shift.py", "--data", "X", "--lookback", str(L), "--cycle",
                                         str(W), *options])
        level_shift.main()
        return capsys.readouterr().out.splitlines()

    return run


def test_main_prints_the_breakdown_the_weights_and_the_level_rows(level_shift, series, run_main, capsys):
    values, phase, borders = series
    out = run_main("--halflives", "20", "50")
    cyc = level_shift.forecasts(values, phase, borders, L, H, "cyc")
    rev = level_shift.forecasts(values, phase, borders, L, H, "cyc+rev")
    diff = level_shift.split_channel_errors(rev) - level_shift.split_channel_errors(cyc)
    rows = {line.split()[0]: line.split()[1:] for line in out
            if line.startswith("    ") and len(line.split()) == 4}  # the rev - cyc rows by channel
    assert [float(v) for v in rows["b"]] == pytest.approx(diff[:, 1], abs=6e-5)
    levels = [line.split()[0] for line in out if " val " in line and "|" in line and line.startswith("    ")]
    assert levels == ["none", "20", "50", "20,"]  # none, each half-life, then both together
    plain = level_shift.level_map_scores(values, phase, borders, L, H, [])
    assert f"avg {plain['val']:.6f}" in out[-4]

    with pytest.raises(SystemExit):
        run_main("--halflives", "0")
    assert "a half-life is a number of rows > 0" in capsys.readouterr().err


def test_linear_cycle_forecasts_of_the_training_windows_are_the_fitted_maps(level_shift, experiment_script,
                                                                            series):
    """``forecasts(splits=("train", ...))``: the ridge map's forecasts of the very windows it was fitted on
    (the cyc map is ``cyc_designs``' train design times its ridge solution); val is as before."""
    linear_cycle = experiment_script("linear_cycle")
    values, phase, borders = series
    both = linear_cycle.forecasts(values, phase, borders, L, H, "cyc", splits=("train", "val"))
    assert set(both) == {"train", "val"}
    alone = linear_cycle.forecasts(values, phase, borders, L, H, "cyc")
    np.testing.assert_array_equal(both["val"][0], alone["val"][0])
    _, A, B = next(level_shift.cyc_designs(values, phase, borders, L, H))
    W = np.linalg.solve(A.T @ A + np.eye(A.shape[1]), A.T @ B)
    cycle = linear_cycle.training_cycle(values, phase, borders)
    _, yi = linear_cycle.windows(values, *borders["train"], L, H)
    free = (A @ W).reshape(len(yi), values.shape[1], H).transpose(0, 2, 1)  # rows window-major, (n, H, C)
    np.testing.assert_allclose(both["train"][0], free + cycle[phase[yi]], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(both["train"][1], values[yi])


def test_robust_fit_reweights_windows_by_their_residual_and_is_the_ridge_map_when_none_exceeds_delta(
        level_shift, experiment_script, series):
    values, phase, borders = series
    plain = level_shift.level_map_scores(values, phase, borders, L, H, [])
    loose = level_shift.robust_map_scores(values, phase, borders, L, H, delta=1e6)
    assert loose["downweighted"] == 0.0
    assert loose["val"] == pytest.approx(plain["val"], rel=1e-12)
    assert loose["test"] == pytest.approx(plain["test"], rel=1e-12)
    n_val = len(experiment_script("linear_cycle").windows(values, *borders["val"], L, H)[0])
    first, second = loose["val_halves"]  # the first n // 2 windows, then the rest
    half = n_val // 2
    assert first * half + second * (n_val - half) == pytest.approx(loose["val"] * n_val, rel=1e-12)

    # written another way: each fit a least-squares problem whose rows are scaled by sqrt(weight),
    # the ridge penalty as extra rows; the weights delta / r from the fit before
    delta, iterations = 0.4, 3
    designs = {split: (A, B) for split, A, B in level_shift.cyc_designs(values, phase, borders, L, H)}
    A, B = designs["train"]
    weights = np.ones(len(A))
    for _ in range(iterations):
        root = np.sqrt(weights)[:, None]
        stacked_A = np.vstack([A * root, np.eye(A.shape[1])])
        stacked_B = np.vstack([B * root, np.zeros((A.shape[1], H))])
        W = np.linalg.lstsq(stacked_A, stacked_B, rcond=None)[0]
        weights = np.minimum(1.0, delta / np.sqrt(np.mean((A @ W - B) ** 2, axis=1)))
    robust = level_shift.robust_map_scores(values, phase, borders, L, H, delta, iterations)
    assert 0 < robust["downweighted"] < 1
    assert robust["downweighted"] == pytest.approx(np.mean(weights < 1))
    for split in ("val", "test"):
        A_s, B_s = designs[split]
        assert robust[split] == pytest.approx(np.mean((A_s @ W - B_s) ** 2), rel=1e-9)
    assert robust["val"] != pytest.approx(plain["val"], rel=1e-6)


def test_main_prints_the_weights_fitted_on_training_windows_and_the_robust_rows(level_shift, series, run_main,
                                                                                 capsys):
    values, phase, borders = series
    out = run_main("--train-weights", "--robust", "1e6", "0.4")
    maps = [level_shift.forecasts(values, phase, borders, L, H, variant, splits=("train", "val", "test"))
            for variant in ("cyc", "cyc+rev")]
    fitted = level_shift.per_channel_simplex([m["train"][0] for m in maps], maps[0]["train"][1])
    mixed = level_shift.channel_weighted([m["val"][0] for m in maps], fitted)
    line = next(i for i, text in enumerate(out) if "fitted on the training windows" in text)
    assert f"avg {np.mean((mixed - maps[0]['val'][1]) ** 2):.6f} | test" in out[line]
    rev_weights = out[line + 1].split(":", 1)[1].split()
    assert [float(v) for v in rev_weights[1::2]] == pytest.approx(fitted[:, 1], abs=5e-3)
    robust = [text for text in out if text.startswith("    delta ")]
    plain = level_shift.level_map_scores(values, phase, borders, L, H, [])
    assert len(robust) == 2 and f"avg {plain['val']:.6f}" in robust[0] and "downweighted 0.000" in robust[0]

    with pytest.raises(SystemExit):
        run_main("--robust", "0")
    assert "a robust fit's delta is a residual > 0" in capsys.readouterr().err
