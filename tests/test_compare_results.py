"""``experiments/compare_results.py``: a rerun's result against the committed one, score by score."""

from __future__ import annotations

import json
import math

import pytest


@pytest.fixture(scope="module")
def cr(experiment_script):
    return experiment_script("compare_results")


def record(**changes) -> dict:
    """A small result record as ltsf.py writes one (an ensemble of two)."""
    base = {
        "name": "cfg", "horizon": 96, "seed": 0, "mse": 0.37, "mae": 0.39, "val": {"mse": 0.63, "mae": 0.5},
        "full_history": {"mse": 0.371}, "best_epoch": 1,
        "members": [{"seed": 0, "test_window_mse": 0.38, "best_epoch": 1, "seconds_per_epoch": 90.0},
                    {"seed": 1, "test_window_mse": 0.39, "best_epoch": 2, "train_seconds": 270.0}],
        "params": {"d_model": 64, "linear_init": True},
        "wall_seconds": 900.0, "peak_rss_mb": 1255.3, "git_commit": "b747d368", "cpu": None,
        "date": "2026-12-06", "command": "python experiments/ltsf.py --config c.json --horizon 96 --seed 0",
        "val_losses": [{"epoch": 0, "step": 123, "loss": 1.2}],
        "test_by_channel": {"OT": {"forecast_s": 4.2}},
    }
    return {**base, **changes}


def test_scores_are_the_numbers_outside_timings_memory_and_run_settings(cr):
    got = dict(cr.scores(record()))
    assert got["mse"] == 0.37 and got["val.mse"] == 0.63 and got["members[1].test_window_mse"] == 0.39
    assert got["val_losses[0].loss"] == 1.2 and got["params.d_model"] == 64.0
    assert "params.linear_init" not in got  # a setting's True is not a score
    for timing in ("wall_seconds", "peak_rss_mb", "members[0].seconds_per_epoch", "members[1].train_seconds",
                   "test_by_channel.OT.forecast_s"):
        assert timing not in got


def test_a_rerun_that_only_ran_elsewhere_and_slower_is_equal(cr):
    rerun = record(wall_seconds=1500.0, peak_rss_mb=2000.0, git_commit="9761c28", date="2026-12-07",
                   cpu="Intel(R) Xeon(R) Processor, AVX512", command="python experiments/ltsf.py --jobs 5")
    c = cr.compare(record(), rerun)
    assert c["differ"] == {} and c["missing"] == [] and c["new"] == [] and c["largest"] == 0.0
    lines = cr.report("cfg_H96_s0.json", record(), rerun, c)
    assert "  all 18 scores in both equal, bit for bit" in lines
    assert "  rerun:     9761c28, Intel(R) Xeon(R) Processor, AVX512, 2026-12-07" in lines
    assert "  committed: b747d36, CPU not recorded, 2026-12-06" in lines


def test_differences_missing_and_new_scores_are_told_apart(cr):
    committed = record()
    rerun = record(mse=0.37 + 1.1e-5, full_history={"mse": 0.371, "channel_mse": {"OT": 0.1}})
    rerun["members"] = [dict(committed["members"][0], best_epoch=2), committed["members"][1]]
    del rerun["val"]["mae"]
    c = cr.compare(committed, rerun)
    assert c["differ"] == {"mse": (0.37, 0.37 + 1.1e-5), "members[0].best_epoch": (1.0, 2.0)}
    assert c["missing"] == ["val.mae"] and c["new"] == ["full_history.channel_mse.OT"]
    assert c["largest"] == pytest.approx(0.5)  # the best epoch: 1 against 2
    lines = cr.report("cfg_H96_s0.json", committed, rerun, c)
    assert any(line.startswith("  test MSE") and line.endswith("+1.1e-05") for line in lines)
    assert "  best epochs differ: [1, 2] -> [2, 2]" in lines
    assert "  1 committed scores missing from the rerun: val.mae" in lines


def test_relative_difference_of_nans(cr):
    assert cr.relative_difference(math.nan, math.nan) == 0.0
    assert cr.relative_difference(math.nan, 1.0) == math.inf
    assert cr.relative_difference(2.0, 1.0) == 0.5


def test_folders_of_reruns_against_the_committed_folder(cr, tmp_path, monkeypatch, capsys):
    def run(*args: str) -> int:
        monkeypatch.setattr("sys.argv", ["compare_results.py", *args])
        return cr.main()

    committed, reruns = tmp_path / "committed", tmp_path / "reruns"
    committed.mkdir()
    reruns.mkdir()
    (committed / "a_H96_s0.json").write_text(json.dumps(record()))
    (committed / "b_H96_s0.json").write_text(json.dumps(record()))
    (reruns / "a_H96_s0.json").write_text(json.dumps(record(wall_seconds=1.0)))
    (reruns / "b_H96_s0.json").write_text(json.dumps(record(mae=0.4)))
    (reruns / "efficiency.json").write_text("{}")  # not a run: left out
    (reruns / "log_H96.txt").write_text("a log")  # not JSON: left out of a folder
    assert run(str(reruns), "--against", str(committed)) == 0  # reports only
    out = capsys.readouterr().out
    assert out.count("bit for bit") == 1 and "1 of 18 scores differ" in out and "efficiency" not in out
    assert run(str(reruns / "a_H96_s0.json"), "--against", str(committed), "--exact") == 0
    assert run(str(reruns), "--against", str(committed), "--exact") == 1
    (committed / "b_H96_s0.json").unlink()
    assert run(str(reruns), "--against", str(committed), "--exact") == 1
    assert f"b_H96_s0.json: no committed result of that name in {committed}" in capsys.readouterr().out


def test_a_missing_or_unreadable_file_stops_with_one_line(cr, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.argv", ["compare_results.py", str(tmp_path / "nowhere.json")])
    with pytest.raises(SystemExit, match=r"nowhere\.json: no such result file or folder"):
        cr.main()
    monkeypatch.setattr("sys.argv", ["compare_results.py", str(tmp_path)])
    with pytest.raises(SystemExit, match="no result files in"):
        cr.main()
    (tmp_path / "x.json").write_text("[1, 2]")
    monkeypatch.setattr("sys.argv", ["compare_results.py", str(tmp_path / "x.json"), "--against",
                                     str(tmp_path)])
    with pytest.raises(SystemExit, match=r"x\.json: not a result record"):
        cr.main()
