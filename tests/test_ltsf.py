"""The run plan of ``experiments/ltsf.py``: which networks a committed result trains, with which
lookback, parameters and seed (``member_plan``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from tsmamba.baselines import BASELINES

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture(scope="module")
def ltsf(experiment_script):
    return experiment_script("ltsf")


def test_one_network_by_default_with_the_run_seed(ltsf):
    params = {"d_model": 64}
    assert ltsf.member_plan({"context_length": 96}, params, seed=4) == [(96, params, 4)]


def test_ensemble_members_of_different_run_seeds_never_share_a_seed(ltsf):
    config = {"context_length": 336, "ensemble": 3}
    plans = {seed: ltsf.member_plan(config, {"d_model": 8}, seed) for seed in (0, 1, 2)}
    seeds = {seed: [s for _, _, s in plan] for seed, plan in plans.items()}
    assert seeds == {0: [0, 1, 2], 1: [3, 4, 5], 2: [6, 7, 8]}
    assert all(lookback == 336 for plan in plans.values() for lookback, _, _ in plan)


def test_members_lay_their_own_parameters_over_the_shared_ones_except_overridden(ltsf):
    config = {
        "context_length": 720,
        "members": [
            {"context_length": 96, "params": {"head_window": 96, "train_stride": 8}},
            {"context_length": 720, "params": {"head_window": 720, "train_stride": 64}},
        ],
    }
    shared = {"d_model": 64, "train_stride": 2}
    plan = ltsf.member_plan(config, shared, seed=1)
    assert [(lookback, seed) for lookback, _, seed in plan] == [(96, 2), (720, 3)]
    assert plan[0][1] == {"d_model": 64, "head_window": 96, "train_stride": 8}
    assert plan[1][1] == {"d_model": 64, "head_window": 720, "train_stride": 64}
    # a value set on the command line (--set train_stride=5) wins over the member's own
    overridden = ltsf.member_plan(config, {**shared, "train_stride": 5}, seed=1, overridden={"train_stride"})
    assert [p["train_stride"] for _, p, _ in overridden] == [5, 5]
    assert [p["head_window"] for _, p, _ in overridden] == [96, 720]


def test_a_config_cannot_have_both_seed_and_lookback_members(ltsf):
    config = {"context_length": 96, "ensemble": 2, "members": [{"context_length": 96}]}
    with pytest.raises(SystemExit, match="either 'ensemble'"):
        ltsf.member_plan(config, {}, seed=0)


def test_a_run_with_set_overrides_is_not_written_among_the_configs_own_results():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(EXPERIMENTS / "ltsf.py"), "--config",
                           str(EXPERIMENTS / "configs" / "etth1_track1.json"), "--horizon", "96",
                           "--set", "max_epochs=1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "write it elsewhere with --out DIR" in done.stderr


@pytest.mark.parametrize(("items", "message"), [
    (["max_epochs"], "write KEY=VALUE with a JSON value"),
    (["max_epochs=three"], """--set 'max_epochs=three': 'three' is not a JSON value; quote text as JSON"""),
    (["=3"], "write KEY=VALUE"),
])
def test_a_mistyped_set_stops_with_one_line_naming_it(ltsf, items, message):
    """They had been a bare ValueError ('not enough values to unpack') or a JSONDecodeError naming
    no key."""
    with pytest.raises(SystemExit, match=message.replace("(", r"\(")):
        ltsf.parse_overrides(items)
    assert ltsf.parse_overrides(["max_epochs=3", 'channel_mode="mix"', "x=null"]) == {
        "max_epochs": 3, "channel_mode": "mix", "x": None}


def test_a_bad_config_file_stops_with_one_line(ltsf, tmp_path):
    with pytest.raises(SystemExit, match=r"nope\.json: No such file"):
        ltsf.read_config(str(tmp_path / "nope.json"))
    (tmp_path / "cut.json").write_text('{"name": "x", "para')
    with pytest.raises(SystemExit, match=r"cut\.json is not a JSON config"):
        ltsf.read_config(str(tmp_path / "cut.json"))
    (tmp_path / "bare.json").write_text('{"name": "x", "params": {}}')
    with pytest.raises(SystemExit, match=r"lacks \['data', 'track'\]"):
        ltsf.read_config(str(tmp_path / "bare.json"))


def test_the_output_folder_is_made_and_checked_before_any_training(ltsf, tmp_path):
    """A file as --out had failed after the run's training and scoring, losing it."""
    assert ltsf.output_folder(str(tmp_path / "a" / "b")).is_dir()
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit, match="cannot hold results"):
        ltsf.output_folder(str(tmp_path / "file"))
    path = tmp_path / "a" / "r.json"
    ltsf.write_json(path, {"mse": 0.5})
    assert path.read_text() == '{\n "mse": 0.5\n}\n'
    assert sorted(p.name for p in path.parent.iterdir()) == ["b", "r.json"]  # no temporary file left


@pytest.mark.parametrize(("change", "message"), [
    ({"ensemble": 0}, "ensemble must be a positive integer, got 0"),
    ({"ensemble": "three"}, "ensemble must be a positive integer, got 'three'"),
    ({"context_length": "abc"}, "context_length must be a positive integer, got 'abc'"),
    ({"threads": 0}, "threads must be a positive integer, got 0"),
    ({"members": []}, "members must be a non-empty list of objects"),
    ({"members": [{"params": {}}]}, "members' context_length must be a positive integer, got None"),
    ({"members": [{"context_length": 96, "params": []}]}, "a member's params must be an object"),
    ({"name": "../elsewhere"}, "name must be a plain file name"),
    ({"params": {"context_length": 336}}, "params set context_length, which the run sets itself; use the "
                                          "config's top-level context_length"),
    ({"params": {"random_state": 7}}, "params set random_state, which the run sets itself; use --seed"),
    ({"member_weights": "best"}, "member_weights must be one of ['equal', 'validation'], got 'best'"),
    ({"member_weights": "validation"}, "member_weights 'validation' weighs the forecasts of several"),
])
def test_a_malformed_config_stops_with_one_line(ltsf, tmp_path, change, message):
    """They had raised raw tracebacks (max() of no members, int('three'), a KeyError) or, for keys
    the run sets itself, been ignored without a word (helper-141)."""
    import json

    config = {**json.loads((EXPERIMENTS / "configs" / "etth1_track1.json").read_text()), **change}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    with pytest.raises(SystemExit, match=re.escape(message)):
        ltsf.read_config(str(path))


def test_set_refuses_what_the_run_sets_itself(ltsf):
    """--set context_length=336 had run at the config's 96, and recorded the --set in its command."""
    for key, use in (("context_length", "top-level context_length"), ("horizon", "--horizon"),
                     ("random_state", "--seed"), ("progress", "runs are quiet")):
        expected = rf"--set set {key}, which the run sets itself; use .*{re.escape(use)}"
        with pytest.raises(SystemExit, match=expected):
            ltsf.load_run(str(EXPERIMENTS / "configs" / "etth1_track1.json"), [f"{key}=1"])


def run_tiny(benchmark_file, tmp_path: Path, jobs: int = 1, **config_keys) -> dict:
    """Run ltsf.py on an ensemble of two tiny networks over ETTh1's first 1200 hours (custom
    borders: 840 / 120 / 240 rows) at H = 12, seed 1 -> its result record."""
    import json
    import subprocess
    import sys

    data = tmp_path / "etth1_head.csv"
    if not data.exists():
        lines = benchmark_file("ETTh1").read_text().splitlines()[:1201]  # its first 1200 hours
        data.write_text("\n".join(lines) + "\n")
    config = {"name": "tiny_ens", "data": str(data), "track": 1, "context_length": 24, "threads": 1,
              "ensemble": 2,
              "params": {"d_model": 8, "n_layers": 1, "d_state": 8, "headdim": 8, "max_epochs": 1,
                         "batch_size": 64,
                         "trainer_kwargs": {"limit_train_batches": 3, "limit_val_batches": 2,
                                            "enable_model_summary": False}},
              **config_keys}
    config = {key: value for key, value in config.items() if value is not None}  # None: left out
    out = tmp_path / f"{len(list(tmp_path.glob('run*')))}run"
    out.mkdir()
    path = out / "tiny_ens.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([sys.executable, str(EXPERIMENTS / "ltsf.py"), "--config", str(path),
                           "--horizon", "12", "--seed", "1", "--out", str(out), "--jobs", str(jobs)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((out / "tiny_ens_H12_s1.json").read_text())


def result_scores(record: dict) -> dict:
    """What a rerun of a result must reproduce bit for bit (all but timings and the command)."""
    kept = ("seed", "best_epoch", "val_losses")
    members = [{k: v for k, v in m.items() if k.endswith("_mse") or k in kept} for m in record["members"]]
    return {"mse": record["mse"], "mae": record["mae"], "val": record["val"]["mse"],
            "full": record["full_history"]["mse"], "full_val": record["full_history"]["val"]["mse"],
            "baselines": record["baselines"], "params": record["params"], "members": members}


@pytest.fixture(scope="module")
def tiny_mean(benchmark_file, tmp_path_factory) -> dict:
    """The tiny two-network ensemble's result, its forecasts averaged, in one process."""
    return run_tiny(benchmark_file, tmp_path_factory.mktemp("tiny"))


def test_jobs_train_the_members_side_by_side_to_the_same_result_bit_for_bit(benchmark_file, tmp_path,
                                                                          tiny_mean):
    """``--jobs 2`` trains an ensemble's members in processes of their own, and records what one
    process records: every score to the last bit (a member depends only on its seed, and the mean
    adds the forecasts in the members' order)."""
    side_by_side = run_tiny(benchmark_file, tmp_path, jobs=2)
    assert result_scores(side_by_side) == result_scores(tiny_mean)
    assert [m["seed"] for m in tiny_mean["members"]] == [2, 3]
    assert side_by_side["jobs"] == 2 and "jobs" not in tiny_mean
    assert tiny_mean["mse"] != tiny_mean["members"][0]["test_window_mse"]  # the mean, not a member
    assert set(tiny_mean["baselines"]) == set(BASELINES)  # scored once, by the first member
    assert "member_weights" not in tiny_mean and "equal_weights" not in tiny_mean


class _LastValues:
    """A forecaster for backtest_ltsf that repeats each window's last value: the baselines of a run
    at a lookback, without training a network."""

    def __init__(self, context_length: int = 24, horizon: int = 12):
        self.context_length, self.horizon = context_length, horizon

    def get_params(self, deep: bool = True) -> dict:
        return {"context_length": self.context_length, "horizon": self.horizon}

    def set_params(self, **params):
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def fit(self, df, **kwargs):
        return self

    def forecast_scaled_windows(self, contexts, marks=None, batch_size=None, **kwargs):
        return np.repeat(np.asarray(contexts)[:, -1:], self.horizon, axis=1).astype(np.float64)


def test_members_of_different_lookbacks_score_the_baselines_at_the_runs_lookback(benchmark_file, tmp_path):
    """The record's context_length is its longest lookback, and docs/results.md tables its baselines
    under it: the linear baseline (the last L values mapped to the next H) must be scored there. An
    ensemble of L = 12 and L = 24 had recorded the L = 12 member's linear baseline as the run's."""
    from tsmamba.backtest import backtest_ltsf

    record = run_tiny(benchmark_file, tmp_path, ensemble=None,
                      members=[{"context_length": 12}, {"context_length": 24}])
    data = tmp_path / "etth1_head.csv"
    at = {L: backtest_ltsf(_LastValues(L, 12), str(data), L, 12, metrics=("mse", "mae")).scores
          for L in (12, 24)}
    assert at[12]["linear"]["overall"]["mse"] != at[24]["linear"]["overall"]["mse"]  # the lookback matters
    for name in BASELINES:
        assert record["baselines"][name] == {m: at[24][name]["overall"][m] for m in ("mse", "mae")}
    assert record["context_length"] == record["baselines_context_length"] == 24


def test_error_scores_break_the_mse_down_by_channel_and_by_half(ltsf):
    """Each channel's MSE over all windows and over the first n // 2 windows and the rest: the
    mean of the channels' is the pooled MSE, each whole the mean of its (unequal) halves by size."""
    rng = np.random.default_rng(0)
    y, yhat = rng.standard_normal((2, 9, 5, 3))
    yhat[:, :, 2] += 3.0  # one channel much worse
    scores = ltsf.error_scores(yhat, y, 0.5, ["a", "b", "c"])
    errors = ((yhat - y) ** 2).mean(1)  # (n, C)
    assert list(scores["channel_mse"]) == ["a", "b", "c"]
    assert list(scores["channel_mse"].values()) == pytest.approx(errors.mean(0), rel=1e-12)
    assert np.mean(list(scores["channel_mse"].values())) == pytest.approx(scores["mse"], rel=1e-12)
    first, second = scores["half_channel_mse"]
    assert list(first.values()) == pytest.approx(errors[:4].mean(0), rel=1e-12)
    assert list(second.values()) == pytest.approx(errors[4:].mean(0), rel=1e-12)
    for name in "abc":  # the whole is its halves weighed by their 4 and 5 windows
        weighed = (4 * first[name] + 5 * second[name]) / 9
        assert scores["channel_mse"][name] == pytest.approx(weighed, rel=1e-12)
    assert scores["channel_mse"]["c"] > 1.5 * scores["channel_mse"]["a"]
    one = ltsf.error_scores(yhat[:1], y[:1], 0.5, ["a", "b", "c"])  # one window has no halves
    assert one["half_channel_mse"] == [] and one["channel_mse"]["a"] == pytest.approx(errors[0, 0])


def test_results_record_each_channels_scores_of_the_mean_forecast(tiny_mean):
    """The ensemble's val, full-history and test scores carry each ETTh1 channel's MSE, whose
    channel mean is the split's MSE (the mean forecast's, not a member's)."""
    names = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    for scores, mse in ((tiny_mean["val"], tiny_mean["val"]["mse"]),
                        (tiny_mean["full_history"], tiny_mean["full_history"]["mse"]),
                        (tiny_mean["test_by_channel"], tiny_mean["mse"])):
        assert list(scores["channel_mse"]) == names
        assert np.mean(list(scores["channel_mse"].values())) == pytest.approx(mse, rel=1e-9)
        assert [list(half) for half in scores["half_channel_mse"]] == [names, names]


def test_members_weighed_on_validation_record_the_mean_and_a_cross_fitted_validation(benchmark_file, tmp_path,
                                                                                     tiny_mean):
    """``"member_weights": "validation"`` trains the same networks (their mean is recorded beside,
    to the bit the mean's own run records) and reports the forecasts weighted to validate best. In
    sample, that is never worse than the mean on validation (the simplex holds it), so the
    validation figure that chooses configurations is the cross-fitted one."""
    weighed = run_tiny(benchmark_file, tmp_path, jobs=2, member_weights="validation")  # memory-mapped path
    mean = weighed["equal_weights"]
    assert (mean["mse"], mean["mae"], mean["val_mse"], mean["full_mse"], mean["full_val_mse"]) == (
        tiny_mean["mse"], tiny_mean["mae"], tiny_mean["val"]["mse"], tiny_mean["full_history"]["mse"],
        tiny_mean["full_history"]["val"]["mse"])
    assert result_scores(weighed)["members"] == result_scores(tiny_mean)["members"]
    in_sample = weighed["val_in_sample"]
    assert in_sample["mse"] <= mean["val_mse"] * (1 + 1e-12)
    assert in_sample["full_mse"] <= mean["full_val_mse"] * (1 + 1e-12)
    assert weighed["val"]["mse"] != in_sample["mse"]  # the recorded validation is cross-fitted
    for context in ("window", "full"):
        for w in (weighed["member_weights"][context], *weighed["member_weights_halves"][context]):
            assert len(w) == 2 and min(w) >= 0 and sum(w) == pytest.approx(1, abs=1e-12)
    assert weighed["mse"] != mean["mse"]  # the weighted forecast is the headline


def test_cross_fitted_weights_never_see_the_targets_of_the_windows_they_weigh(ltsf):
    """Each half of the validation windows is weighted by the other half's weights, fitted without
    the windows whose targets overlap its own: the targets of the windows within H - 1 of the
    middle change nothing, those further out do."""
    rng = np.random.default_rng(2)
    n, horizon = 60, 5
    y = rng.normal(size=(n, horizon, 2))
    forecasts = [y + rng.normal(scale=s, size=y.shape) for s in (0.5, 1.0, 2.0)]
    out, (first, second) = ltsf.cross_fitted_forecast(forecasts, y, horizon)
    m = n // 2
    assert first.tolist() == ltsf.simplex_weights(ltsf.error_gram([f[m + horizon - 1:] for f in forecasts],
                                                                  y[m + horizon - 1:])).tolist()
    np.testing.assert_array_equal(out[:m], ltsf.weighted_forecast([f[:m] for f in forecasts], first))
    np.testing.assert_array_equal(out[m:], ltsf.weighted_forecast([f[m:] for f in forecasts], second))
    near = y.copy()
    near[m - horizon + 1 : m + horizon - 1] += 10.0  # the windows neither half is fitted on
    np.testing.assert_array_equal(ltsf.cross_fitted_forecast(forecasts, near, horizon)[0], out)
    far = y.copy()
    far[-1] += 10.0
    assert not np.array_equal(ltsf.cross_fitted_forecast(forecasts, far, horizon)[0][:m], out[:m])
    with pytest.raises(SystemExit, match="too few to cross-fit member weights at H = 40"):
        ltsf.cross_fitted_forecast([f[:, :1] for f in forecasts], y[:, :1], 40)


def test_simplex_weights_of_two_members_are_the_closed_form_clipped(ltsf):
    """Two members of squared errors A, B and cross term C: w1 = (B - C) / (A + B - 2C), kept
    within [0, 1] (a member that helps nothing gets weight 0)."""
    A, B, C = 4.0, 9.0, 1.0
    w = ltsf.simplex_weights(np.array([[A, C], [C, B]]))
    assert w == pytest.approx([(B - C) / (A + B - 2 * C), (A - C) / (A + B - 2 * C)], abs=1e-15)
    assert ltsf.simplex_weights(np.array([[1.0, 1.5], [1.5, 4.0]])).tolist() == [1.0, 0.0]  # w1 = 1.25
    assert ltsf.simplex_weights(np.array([[2.0, 2.0], [2.0, 2.0]])) == pytest.approx([0.5, 0.5])  # a tie


def test_simplex_weights_find_the_minimum_over_the_simplex(ltsf):
    """Against a fine grid of the 3-simplex, for errors where the best weights lie inside, on an
    edge and at a corner: no grid point does better."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=500)
    cases = [rng.normal(size=(3, 500)),  # independent errors: all three weighed
             np.stack([base, -0.8 * base + 0.3 * rng.normal(size=500), 1.5 * base + rng.normal(size=500)]),
             np.stack([0.5 * base, base, 2 * base + 0.1 * rng.normal(size=500)])]  # the first alone
    steps = np.linspace(0, 1, 201)
    grid = np.array([(a, b, 1 - a - b) for a in steps for b in steps if a + b <= 1 + 1e-12])
    for errors in cases:
        gram = errors @ errors.T
        w = ltsf.simplex_weights(gram)
        assert min(w) >= 0 and w.sum() == pytest.approx(1, abs=1e-12)
        grid_losses = np.einsum("gi,ij,gj->g", grid, gram, grid)
        assert w @ gram @ w <= grid_losses.min() * (1 + 1e-12)
    assert ltsf.simplex_weights(cases[1] @ cases[1].T)[2] == 0  # on the edge of the first two
    assert ltsf.simplex_weights(cases[2] @ cases[2].T).tolist() == [1.0, 0.0, 0.0]


def test_error_gram_in_pieces_is_the_whole_product(ltsf):
    rng = np.random.default_rng(1)
    y = rng.normal(size=(37, 5, 3))
    forecasts = [y + rng.normal(size=y.shape) for _ in range(3)]
    errors = np.stack([(f - y).ravel() for f in forecasts])
    np.testing.assert_allclose(ltsf.error_gram(forecasts, y, rows=8), errors @ errors.T, rtol=1e-13)
    w = np.array([0.2, 0.0, 0.8])
    expected = 0.2 * forecasts[0] + 0.8 * forecasts[2]
    np.testing.assert_array_equal(ltsf.weighted_forecast(forecasts, w), expected)


def test_the_recorded_commit_is_that_of_the_library_that_runs(ltsf, tmp_path):
    """git_commit reads the checkout that holds the imported tsmamba (a copy of the repository had
    recorded its own commit while running the editable install's library), and a copy of the
    script that runs another checkout's library says so before any work."""
    import shutil
    import subprocess
    import sys

    import tsmamba

    assert ltsf.LIBRARY == Path(tsmamba.__file__).resolve().parents[1]
    assert ltsf.git_commit(tmp_path) is None  # not a git checkout
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ltsf.LIBRARY, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("the library is not in a git checkout")
    assert ltsf.git_commit().removesuffix("+changes") == head.stdout.strip()
    copy = tmp_path / "copy" / "experiments"
    copy.mkdir(parents=True)
    shutil.copy(EXPERIMENTS / "ltsf.py", copy / "ltsf.py")
    done = subprocess.run([sys.executable, str(copy / "ltsf.py"), "--config", str(tmp_path / "none.json"),
                           "--horizon", "96"], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode != 0
    assert done.stderr.startswith(f"note: this script is in {copy.parent} but runs the tsmamba of "
                                  f"{ltsf.LIBRARY}, whose commit is recorded; PYTHONPATH={copy.parent} runs")


class _Kept:
    """A fitted forecaster's stand-in: validation forecasts kept after origins 23..25 of its rows."""

    def __init__(self):
        self.val_origins_ = np.array([23, 24, 25])
        self.val_forecasts_ = np.full((3, 2, 1), 7.0)
        self.asked = []

    def forecast_origins(self, values, origins, context, index):
        self.asked.append((list(origins), context))
        return np.zeros((len(origins), 2, 1))


def test_split_forecasts_take_the_validation_windows_forecasts_the_fit_kept(ltsf):
    """The validation windows' forecasts from the window are the fit's own where they cover the
    same origins (rows counted from the train split's first); anything else is forecast."""
    from types import SimpleNamespace

    values = np.arange(40.0)[:, None]  # (T, 1)
    est = _Kept()
    result = SimpleNamespace(forecaster=est, config={"borders": {"train": [10, 30], "val": [10, 38],
                                                                 "test": [12, 40]}})
    yhat, y, _ = ltsf.split_forecasts(result, values, None, 24, 2, "val", "window")
    assert (yhat == 7.0).all() and est.asked == []  # val windows' origins 33..35 = kept 23..25 + 10
    np.testing.assert_array_equal(y[:, :, 0], [[34, 35], [35, 36], [36, 37]])
    yhat, _, _ = ltsf.split_forecasts(result, values, None, 24, 2, "val", "full")
    assert (yhat == 0.0).all() and est.asked == [([33, 34, 35], "full")]
    yhat, _, _ = ltsf.split_forecasts(result, values, None, 24, 2, "test", "window")
    assert (yhat == 0.0).all() and est.asked[-1] == ([35, 36, 37], "window")
    est.val_origins_ = np.array([23, 24])  # fewer than the split's (limit_val_batches): forecast all
    est.val_forecasts_ = est.val_forecasts_[:2]
    yhat, _, _ = ltsf.split_forecasts(result, values, None, 24, 2, "val", "window")
    assert (yhat == 0.0).all() and est.asked[-1] == ([33, 34, 35], "window")


def test_results_name_the_cpu_and_its_kernels(ltsf, tiny_mean):
    """Each result names the CPU and the vector instructions torch's kernels used (last-bit
    differences between machines come from there), beside the git commit."""
    import torch

    cpu = ltsf.cpu_description()
    assert cpu.endswith(f", {torch.backends.cpu.get_cpu_capability()}") and len(cpu) > 2 + len(
        torch.backends.cpu.get_cpu_capability())
    assert tiny_mean["cpu"] == cpu
    assert tiny_mean["machine"].endswith(f"torch {torch.__version__}")


@pytest.mark.parametrize(("change", "message"), [
    ({"ensembel": 3}, "--config {path} has an unknown key 'ensembel'; did you mean 'ensemble'?"),
    ({"member_weight": "validation"}, "unknown key 'member_weight'; did you mean 'member_weights'?"),
    ({"members": [{"context_length": 96, "param": {}}]},
     "--config {path}: a member has an unknown key 'param'; did you mean 'params'?"),
])
def test_a_misspelt_config_key_stops_with_one_line_naming_it(ltsf, tmp_path, change, message):
    """A misspelt key had been ignored without a word: "ensembel": 3 trained and recorded one
    network as the config's result."""
    import json

    config = {**json.loads((EXPERIMENTS / "configs" / "etth1_track1.json").read_text()), **change}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    with pytest.raises(SystemExit, match=re.escape(message.format(path=path))):
        ltsf.read_config(str(path))


def test_every_committed_config_reads(ltsf):
    for path in sorted((EXPERIMENTS / "configs").glob("*.json")):
        ltsf.read_config(str(path))


def test_a_horizon_outside_the_protocol_is_not_written_among_the_results():
    """--horizon 100 had trained and written experiments/results/<name>_H100_s0.json, which
    make_results.py leaves off the page without a word."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(EXPERIMENTS / "ltsf.py"), "--config",
                           str(EXPERIMENTS / "configs" / "etth1_track1.json"), "--horizon", "100"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--horizon 100 is not one of the LTSF protocol's 96, 192, 336, 720" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_changed_result_or_page_is_no_change_of_the_code(ltsf, tmp_path):
    """A run that rewrote a committed result file (efficiency.py writes one per configuration) had
    marked every later run of the session "+changes", as if the library had been edited."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "experiments" / "results").mkdir(parents=True)
    files = {"experiments/results/a.json": "{}", "docs/results.md": "x", "tsmamba/ssd.py": "x = 1",
             "experiments/configs/c.json": "{}"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "start")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / "experiments/results/a.json").write_text('{"mse": 1}')
    (tmp_path / "docs/results.md").write_text("y")
    (tmp_path / "experiments/results/new.json").write_text("{}")  # untracked
    assert ltsf.git_commit(tmp_path) == head
    for name in ("tsmamba/ssd.py", "experiments/configs/c.json"):
        (tmp_path / name).write_text(files[name] + " ")
        assert ltsf.git_commit(tmp_path) == head + "+changes", name
        (tmp_path / name).write_text(files[name])
