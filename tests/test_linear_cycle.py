"""The closed-form checks of ``experiments/linear_cycle.py`` that choices in docs/results.md rest
on: the per-channel maps mixed with each channel's own (``--own``, ``own:L:a`` members)."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

L, H, W = 8, 4, 4


@pytest.fixture(scope="module")
def linear_cycle(experiment_script):
    return experiment_script("linear_cycle")


@pytest.fixture(scope="module")
def series(ridge_series):
    """conftest's three-channel series with a W-step cycle, borders for a lookback of L."""
    return ridge_series


def serve(linear_cycle, series, monkeypatch) -> SimpleNamespace:
    """Make the script's main read ``series`` (whatever data name it is given) at one horizon, H;
    the data it reads."""
    values, phase, borders = series
    data = SimpleNamespace(values=values, borders=borders, index=None, freq=None)  # what main reads
    monkeypatch.setattr(linear_cycle, "prepare_ltsf", lambda name, lookback, horizon: data)
    monkeypatch.setattr(linear_cycle, "cycle_phase", lambda index, freq, cycle: phase)
    monkeypatch.setattr(linear_cycle, "HORIZONS", (H,))
    return data


def member_rows(linear_cycle, monkeypatch, capsys, *members: str) -> tuple[str, list[list[str]]]:
    """Run the script's main on ``--members`` (6 decimals): its header line and its rows, split."""
    monkeypatch.setattr("sys.argv", ["linear_cycle.py", "--data", "X", "--cycle", str(W), "--digits", "6",
                                     "--members", *members])
    linear_cycle.main()
    out = capsys.readouterr().out.splitlines()
    return out[0], [line.split() for line in out[1:]]


def own_ridge(values, phase, borders, channels, ridge=1.0):
    """An independent fit: one ridge map (penalty ``ridge`` on the weights, none on the bias) from the
    cycle-free last L values to the cycle-free next H, over the rows of ``channels``; its
    forecasts of channel ``channels[0]``'s validation windows (n, H)."""
    train = slice(*borders["train"])
    cycle = np.stack([values[train][phase[train] == p].mean(0) for p in range(W)])  # (W, C)
    free = values - cycle[phase]

    def rows(split, c):
        start, end = borders[split]
        origins = range(start + L - 1, end - H)
        X = np.array([np.append(free[o - L + 1 : o + 1, c], 1.0) for o in origins])
        return X, np.array([free[o + 1 : o + H + 1, c] for o in origins]), np.array(
            [cycle[phase[o + 1 : o + H + 1], c] for o in origins])

    X = np.vstack([rows("train", c)[0] for c in channels])
    Y = np.vstack([rows("train", c)[1] for c in channels])
    weights = np.linalg.solve(X.T @ X + np.diag([ridge] * L + [0.0]), X.T @ Y)
    Xv, _, back = rows("val", channels[0])
    return Xv @ weights + back


def test_own_maps_mix_the_shared_and_each_channels_ridge_map(linear_cycle, series):
    values, phase, borders = series
    out = linear_cycle.forecasts_own(values, phase, borders, L, H, [0.0, 0.4, 1.0])
    for c in range(3):
        shared = own_ridge(values, phase, borders, [c, *(k for k in range(3) if k != c)])
        own = own_ridge(values, phase, borders, [c])
        np.testing.assert_allclose(out[0.0]["val"][0][..., c], shared, atol=1e-10, rtol=0)
        np.testing.assert_allclose(out[1.0]["val"][0][..., c], own, atol=1e-10, rtol=0)
        np.testing.assert_allclose(out[0.4]["val"][0][..., c], 0.6 * shared + 0.4 * own, atol=1e-10, rtol=0)
    f, y = out[1.0]["test"]
    assert f.shape == y.shape == (400 - 320 - H + 1, H, 3)
    scores = linear_cycle.score_own(values, phase, borders, L, H, [1.0])
    assert scores[1.0]["test"] == pytest.approx(float(np.mean((f - y) ** 2)), abs=1e-12)
    # the shared map is not the channels' own here: the weight reaches the forecast
    assert np.abs(out[1.0]["val"][0] - out[0.0]["val"][0]).max() > 1e-3


def test_own_maps_take_the_ridge_penalty_given(linear_cycle, series):
    """``own:L:a:alpha``: both maps, shared and own, at penalty alpha (the network's
    ``linear_init_ridge`` with ``channel_skip``)."""
    values, phase, borders = series
    out = linear_cycle.forecasts_own(values, phase, borders, L, H, [0.4], ridge=300.0)[0.4]["val"][0]
    for c in range(3):
        shared = own_ridge(values, phase, borders, [c, *(k for k in range(3) if k != c)], ridge=300.0)
        own = own_ridge(values, phase, borders, [c], ridge=300.0)
        np.testing.assert_allclose(out[..., c], 0.6 * shared + 0.4 * own, atol=1e-10, rtol=0)
    default = linear_cycle.forecasts_own(values, phase, borders, L, H, [0.4])[0.4]["val"][0]
    assert np.abs(out - default).max() > 1e-3  # the penalty reaches the maps
    assert linear_cycle.parse_member("own:96:0.75:300") == ("own", 96, 0.75, 300.0)
    assert linear_cycle.parse_member("own:96:0.75") == ("own", 96, 0.75, 1.0)


def test_own_rows_print_the_decimals_asked_for(linear_cycle, series, monkeypatch, capsys):
    """``--digits`` widens the ``--own`` rows (to tell weights apart whose validation differs in the
    fifth decimal); the default stays 4."""
    values, phase, borders = series
    data = serve(linear_cycle, series, monkeypatch)
    expected = linear_cycle.score_own(values, phase, borders, L, H, [0.5])[0.5]

    def own_row(argv):
        monkeypatch.setattr("sys.argv", ["linear_cycle.py", "--data", "X", "--lookback", str(L),
                                         "--cycle", str(W), "--own", "0.5", *argv])
        linear_cycle.main()
        return capsys.readouterr().out.splitlines()[-1].split()

    six = own_row(["--digits", "6"])
    assert six[3] == f"{expected['val']:.6f}" and six[-1] == f"{expected['test']:.6f}"
    four = own_row([])
    assert four[3] == f"{expected['val']:.4f}" and four[-1] == f"{expected['test']:.4f}"
    # the header names the clock the phases came from, as the other modes' headers do
    data.fit_index = None
    monkeypatch.setattr("sys.argv", ["linear_cycle.py", "--data", "X", "--lookback", str(L),
                                     "--cycle", str(W), "--own", "0.5", "--calendar", "grid"])
    linear_cycle.main()
    assert "(grid clock), per-channel cyc maps" in capsys.readouterr().out.splitlines()[0]
    monkeypatch.setattr("sys.argv", ["linear_cycle.py", "--data", "X", "--cycle", str(W), "--digits", "6"])
    with pytest.raises(SystemExit):  # nothing for it to widen: an error, not a silent no-op
        linear_cycle.main()
    assert "--digits widens the --own and --members rows" in capsys.readouterr().err


def test_member_rows_score_the_mean_forecast_to_the_decimals_asked_for(linear_cycle, series, monkeypatch,
                                                                        capsys):
    """``--members``: each map's row and the row of the mean of their forecasts, window by window;
    ``--digits`` widens them (two pairs whose validation differed in the fifth decimal had read
    0.4530 and 0.4531)."""
    values, phase, borders = series
    serve(linear_cycle, series, monkeypatch)
    maps = linear_cycle.forecasts_own(values, phase, borders, L, H, [0.5, 1.0])
    expected = {split: float(np.mean(((maps[0.5][split][0] + maps[1.0][split][0]) / 2
                                      - maps[0.5][split][1]) ** 2)) for split in ("val", "test")}

    def rows(argv):
        monkeypatch.setattr("sys.argv", ["linear_cycle.py", "--data", "X", "--cycle", str(W),
                                         "--members", f"own:{L}:0.5", f"own:{L}:1", *argv])
        linear_cycle.main()
        return [line.split() for line in capsys.readouterr().out.splitlines()[1:]]

    six = rows(["--digits", "6"])
    assert [row[0] for row in six] == ["own", "own", "mean"]
    mean = six[-1]
    assert mean[2] == f"{expected['val']:.6f}" and mean[-1] == f"{expected['test']:.6f}"
    own_alone = float(np.mean((maps[1.0]["val"][0] - maps[1.0]["val"][1]) ** 2))
    assert six[1][4] == f"{own_alone:.6f}"  # the second member's own row
    assert rows([])[-1][2] == f"{expected['val']:.4f}"


def test_chanrev_members_are_the_cyc_rev_variant(linear_cycle, series, monkeypatch, capsys):
    """``chanrev:L`` scores the per-channel "cyc+rev" map (instance normalisation after the cycle)
    beside the "cyc" map of ``chan:L``, and the mean of the two forecasts."""
    values, phase, borders = series
    serve(linear_cycle, series, monkeypatch)
    assert linear_cycle.parse_member("chanrev:336") == ("chanrev", 336, 1.0, 1.0)
    with pytest.raises(argparse.ArgumentTypeError, match="chanrev:L"):
        linear_cycle.parse_member("chanrev:336:5")
    cyc = linear_cycle.forecasts(values, phase, borders, L, H, "cyc")["val"]
    rev = linear_cycle.forecasts(values, phase, borders, L, H, "cyc+rev")["val"]
    assert np.abs(cyc[0] - rev[0]).max() > 1e-3  # two different maps
    header, rows = member_rows(linear_cycle, monkeypatch, capsys, f"chan:{L}", f"chanrev:{L}")
    assert f"members L={L}, rev L={L}:" in header
    assert rows[1][:2] == ["rev", f"L={L}"]
    assert rows[1][3] == f"{np.mean((rev[0] - rev[1]) ** 2):.6f}"
    assert rows[2][2] == f"{np.mean(((cyc[0] + rev[0]) / 2 - cyc[1]) ** 2):.6f}"


def test_alpha_reaches_the_per_channel_rows(linear_cycle, series, monkeypatch, capsys):
    """``--alpha`` without ``--mix`` scores the per-channel variants at each penalty (it used to be
    read and ignored); without it the rows are the penalty-1 rows, labelled as before."""
    values, phase, borders = series
    serve(linear_cycle, series, monkeypatch)

    def rows(argv):
        monkeypatch.setattr("sys.argv", ["linear_cycle.py", "--data", "X", "--lookback", str(L),
                                         "--cycle", str(W), *argv])
        linear_cycle.main()
        return capsys.readouterr().out.splitlines()[1:]

    default = rows([])
    assert [r.split()[0] for r in default] == list(linear_cycle.VARIANTS)
    penalised = rows(["--alpha", "1", "50"])
    assert len(penalised) == 2 * len(linear_cycle.VARIANTS)
    assert [r.split()[:3] for r in penalised[:2]] == [["plain", "alpha", "1"], ["plain", "alpha", "50"]]
    assert penalised[0].split()[3:] == default[0].split()[1:]  # penalty 1 is the default
    heavy = linear_cycle.score(values, phase, borders, L, H, "cyc", 50.0)
    cyc50 = next(r.split() for r in penalised if r.startswith("  cyc alpha 50 "))
    assert cyc50[4] == f"{heavy['val']:.4f}" and cyc50[-1] == f"{heavy['test']:.4f}"
    assert heavy["val"] != linear_cycle.score(values, phase, borders, L, H, "cyc", 1.0)["val"]
    monkeypatch.setattr("sys.argv", ["linear_cycle.py", "--data", "X", "--cycle", str(W),
                                     "--own", "0.5", "--alpha", "10"])
    with pytest.raises(SystemExit):  # the own maps' penalty is fixed: refused, not ignored
        linear_cycle.main()
    assert "no --mix, --alpha" in capsys.readouterr().err


def test_member_weights_score_as_ltsf_weighs_the_members(linear_cycle, experiment_script, series, monkeypatch,
                                                         capsys):
    """``--member-weights validation``: the weighted rows are ltsf.py's simplex weights, fitted on the
    validation windows, scored in sample and cross-fitted; test uses the weights of all of validation."""
    ltsf = experiment_script("ltsf")
    values, phase, borders = series
    serve(linear_cycle, series, monkeypatch)
    monkeypatch.syspath_prepend(str(Path(ltsf.__file__).parent))  # where the script finds ltsf
    own = linear_cycle.forecasts_own(values, phase, borders, L, H, [0.0])[0.0]
    mixed = linear_cycle.forecasts_mixed(values, phase, borders, L, H, 10.0)
    flat = {split: [own[split][0].reshape(len(own[split][0]), -1), mixed[split][0]]  # each (n, H*C)
            for split in ("val", "test")}
    y_val, y_test = mixed["val"][1], mixed["test"][1]
    w = ltsf.simplex_weights(ltsf.error_gram(flat["val"], y_val))
    assert 0 < w[0] < 1  # both maps weigh: the check below is not of one member alone
    in_sample = np.mean((w[0] * flat["val"][0] + w[1] * flat["val"][1] - y_val) ** 2)
    test = np.mean((w[0] * flat["test"][0] + w[1] * flat["test"][1] - y_test) ** 2)
    crossed, _ = ltsf.cross_fitted_forecast(flat["val"], y_val, H)
    cross_fit = np.mean((crossed - y_val) ** 2)
    mean = np.mean(((flat["val"][0] + flat["val"][1]) / 2 - y_val) ** 2)
    assert in_sample < mean  # fitted on these windows, the weights cannot score worse than 1/2 each
    assert abs(cross_fit - in_sample) > 1e-6  # so the rows below tell the two apart

    monkeypatch.setattr("sys.argv", ["linear_cycle.py", "--data", "X", "--cycle", str(W), "--members",
                                     f"own:{L}:0", f"mix:{L}:10", "--digits", "8",
                                     "--member-weights", "validation"])
    linear_cycle.main()
    lines = capsys.readouterr().out.splitlines()
    rows = {line[:20].strip(): line.split() for line in lines[1:]}
    assert rows["mean"][2] == f"{mean:.8f}"
    for label, val in (("weighted in-sample", in_sample), ("weighted cross-fit", cross_fit)):
        assert rows[label][3] == f"{val:.8f}" and rows[label][-1] == f"{test:.8f}"
    assert lines[-1].startswith(f"  weights at H={H}: {w[0]:.3f} {w[1]:.3f}")


def test_member_weights_need_members(linear_cycle, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["linear_cycle.py", "--data", "X", "--cycle", str(W), "--member-weights",
                                     "validation"])
    with pytest.raises(SystemExit):
        linear_cycle.main()
    assert "--member-weights weighs the maps of --members" in capsys.readouterr().err


def period_ridge(values, phase, borders, split, rev=False, alpha=1.0):
    """An independent fit of the phase-shared map: one sample per window, channel and phase j of the
    W-step period (the window's values j, j + W, ... -> its forecast steps j, j + W, ...), cycle-free
    (and, with ``rev``, minus the window's mean), penalty alpha on every weight and the bias; its
    forecasts of ``split``'s windows (n, H, C)."""
    train = slice(*borders["train"])
    cycle = np.stack([values[train][phase[train] == p].mean(0) for p in range(W)])  # (W, C)
    free = values - cycle[phase]

    def samples(part):
        start, end = borders[part]
        X, Y, where = [], [], []
        for i, o in enumerate(range(start + L - 1, end - H)):
            for c in range(values.shape[1]):
                level = free[o - L + 1 : o + 1, c].mean() if rev else 0.0
                for j in range(W):
                    X.append(np.append(free[o - L + 1 + j : o + 1 : W, c] - level, 1.0))
                    Y.append(free[o + 1 + j : o + H + 1 : W, c] - level)
                    where.append((i, c, j, level))
        return np.array(X), np.array(Y), where

    X, Y, _ = samples("train")
    weights = np.linalg.solve(X.T @ X + alpha * np.eye(X.shape[1]), X.T @ Y)  # (L/W + 1, H/W)
    Xs, _, where = samples(split)
    start = borders[split][0]
    out = np.zeros((where[-1][0] + 1, H, values.shape[1]))
    for (i, c, j, level), f in zip(where, Xs @ weights, strict=True):
        o = start + L - 1 + i
        out[i, j::W, c] = f + level + cycle[phase[o + 1 + j : o + H + 1 : W], c]
    return out


@pytest.mark.parametrize("variant", ["cyc", "cyc+rev"])
def test_period_maps_share_one_map_across_the_cycles_phases(linear_cycle, series, variant):
    """``forecasts(period=W)``: SparseTSF's constraint on the shared map, each phase's every-W-th
    inputs to its every-W-th forecasts, against a fit written sample by sample."""
    values, phase, borders = series
    out = linear_cycle.forecasts(values, phase, borders, L, H, variant, alpha=3.0, period=W)
    for split in ("val", "test"):
        want = period_ridge(values, phase, borders, split, rev=variant == "cyc+rev", alpha=3.0)
        np.testing.assert_allclose(out[split][0], want, atol=1e-10, rtol=0)
    full = linear_cycle.forecasts(values, phase, borders, L, H, variant, alpha=3.0)["val"][0]
    assert np.abs(full - out["val"][0]).max() > 1e-3  # a constraint: not the full map's forecasts
    with pytest.raises(SystemExit, match="divide the lookback"):
        linear_cycle.forecasts(values, phase, borders, L, H, variant, period=3)


def test_period_members_score_the_phase_shared_maps(linear_cycle, series, monkeypatch, capsys):
    """``period:L`` / ``periodrev:L`` members: the cyc / cyc+rev maps shared by the --cycle's phases."""
    values, phase, borders = series
    serve(linear_cycle, series, monkeypatch)
    assert linear_cycle.parse_member("periodrev:336") == ("periodrev", 336, 1.0, 1.0)
    with pytest.raises(argparse.ArgumentTypeError, match="period:L"):
        linear_cycle.parse_member("period:336:5")
    header, rows = member_rows(linear_cycle, monkeypatch, capsys, f"period:{L}", f"periodrev:{L}")
    assert f"members period L={L}, rev period L={L}:" in header
    y = period_ridge(values, phase, borders, "test")  # the forecasts; the targets below
    targets = linear_cycle.forecasts(values, phase, borders, L, H, "cyc", period=W)["test"][1]
    assert rows[0][:2] == ["period", f"L={L}"]
    assert rows[0][-1] == f"{np.mean((y - targets) ** 2):.6f}"
    rev = period_ridge(values, phase, borders, "test", rev=True)
    assert rows[1][:3] == ["rev", "period", f"L={L}"]
    assert rows[1][-1] == f"{np.mean((rev - targets) ** 2):.6f}"
