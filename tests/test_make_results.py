"""The choice rule of ``experiments/make_results.py``: lowest average validation MSE, over the
seeds run at every horizon, and never an ETTh1 option with fewer than three seeds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "make_results.py"


@pytest.fixture(scope="module")
def make_results(experiment_script):
    return experiment_script("make_results")


def runs(seeds: list[int], test: float, val: float) -> dict:
    """One option's runs: the same (test, val) for every horizon and seed."""
    return {h: [(s, test, val) for s in seeds] for h in (96, 192, 336, 720)}


def test_summary_keeps_only_seeds_run_at_every_horizon(make_results):
    by_h = runs([0, 1, 2], 0.4, 1.0)
    by_h[720] = [(0, 0.5, 1.2), (1, 0.7, 1.4)]  # seed 2 missing at H = 720
    summary = make_results.summarise(by_h)
    assert summary["n"] == 2
    assert summary["test"] == pytest.approx((0.4 * 3 + 0.6) / 4)
    assert summary["val"] == pytest.approx((1.0 * 3 + 1.3) / 4)


def test_choice_takes_the_lowest_validation_among_options_with_enough_seeds(make_results):
    scored = {
        "three seeds": make_results.summarise(runs([0, 1, 2], 0.42, 0.93)),
        "one seed, lower val": make_results.summarise(runs([0], 0.41, 0.92)),
        "three seeds, higher val, lower test": make_results.summarise(runs([0, 1, 2], 0.40, 0.95)),
    }
    assert make_results.choose(scored, 1)[0] == "one seed, lower val"
    pick, why = make_results.choose(scored, 3)
    assert pick == "three seeds"
    assert why == "lowest average validation MSE"
    assert make_results.choose({"one seed": scored["one seed, lower val"]}, 3)[0] is None


def test_validation_averages_the_seeds_test_averages_or_is_missing(make_results):
    by_h = runs([0, 1], 0.41, 1.0)
    by_h[96] = [(0, 0.41, None), (1, 0.41, 1.0)]  # seed 0 has no validation score at H = 96
    summary = make_results.summarise(by_h)
    assert summary["n"] == 2 and summary["val"] is None  # not seed 1's alone beside both seeds' test
    scored = {"partial": summary, "complete": make_results.summarise(runs([0], 0.45, 1.1))}
    assert make_results.choose(scored, 1)[0] == "complete"


def test_a_figure_next_to_its_target_gets_the_digits_that_show_its_side(make_results):
    assert make_results.digits_against(0.4321, 0.430) == 3
    assert make_results.digits_against(0.3702, 0.370) == 4  # 0.370 at three digits
    assert make_results.digits_against(0.430046, 0.430) == 5  # 0.4300 at four: +0.00005 shows
    assert make_results.digits_against(0.43, 0.430) == 3  # equal: "0.430, yes" says it all
    assert make_results.digits_against(0.43 + 1e-9, 0.430) == 6  # stops at the most it prints
    assert make_results.digits_against(0.4300001, None) == 3


def test_a_margin_keeps_two_significant_digits_and_counts_and_spans_are_shown(make_results):
    """A pass by 0.000061 had read "yes" with no margin; at the figure's digits it would be 0.0001."""
    assert make_results.margin(0.429939, 0.430, 4) == "0.000061"
    assert make_results.margin(0.4136, 0.405, 3) == "0.0086"
    assert make_results.margin(0.343, 0.345, 3) == "0.0020"
    assert make_results.margin(0.43, 0.43, 3) == "0.000"
    assert make_results.fmt([0.702], count=True) == "0.702 (n=1)"  # beside a test MSE over 2 runs
    assert make_results.fmt([0.702]) == "0.702"
    assert make_results.fmt([1.0, 2.0]) == "1.500 ± 0.707 (n=2)"  # sample std, n - 1
    assert make_results.span([3, 6, 5]) == "3-6" and make_results.span([3, 3]) == "3"


def test_members_show_their_lookbacks_only_where_they_differ(make_results):
    assert make_results.lookback({"context_length": 720, "lookbacks": [96, 720]}) == "96+720"
    assert make_results.lookback({"context_length": 96, "lookbacks": [96, 96]}) == "96"  # other params
    assert make_results.lookback({"context_length": 336}) == "336"


def test_a_tie_within_float_noise_goes_to_the_window_forecast(make_results):
    full, window = "`m`, full history", "`m`, window L=96"
    scored = {full: make_results.summarise(runs([0], 0.24, 0.4810576504)),
              window: make_results.summarise(runs([0], 0.24, 0.4810576508))}
    pick, why = make_results.choose(scored, 1)
    assert pick == window and "tied within" in why
    scored[full] = make_results.summarise(runs([0], 0.24, 0.4800))  # a real difference decides
    assert make_results.choose(scored, 1) == (full, "lowest average validation MSE")


def test_every_seed_has_its_command(make_results):
    """The table listed only the first seed's command; a run made under a default that changed
    since also shows the command that reruns it, beside that run's own command only."""
    base = "python experiments/ltsf.py --config c.json --horizon 96"
    runs_ = [{"seed": 0, "command": f"{base} --seed 0", "rerun_note": "pinned",
              "rerun_command": f"{base} --seed 0 --set chunk_size=16 --out elsewhere"},
             {"seed": 1, "command": f"{base} --seed 1"},
             {"seed": 2, "command": f"{base} --seed 2 --set dropout=0.1 --out x"}]
    assert make_results.commands(runs_) == (
        f"`{base} --seed 0` [pinned: `{base} --seed 0 --set chunk_size=16 --out elsewhere`]; "
        f"seed 1: `--seed 1`; seed 2: `{base} --seed 2 --set dropout=0.1 --out x`")
    committed = (SCRIPT.parents[1] / "docs" / "results.md").read_text()
    assert committed.count("--set chunk_size=16 --out experiments/reruns`]") == 10


def test_a_half_written_result_is_named(make_results, tmp_path, monkeypatch):
    (tmp_path / "etth1_track1_H96_s0.json").write_text('{"name": "etth1_track1", "mse": 0.4')
    monkeypatch.setattr(make_results, "RESULTS", tmp_path)
    with pytest.raises(SystemExit, match=r"etth1_track1_H96_s0\.json is not a result file"):
        make_results.load()


def test_the_committed_results_page_is_what_the_committed_results_give(make_results, tmp_path, monkeypatch):
    """docs/results.md is generated, never edited: a stale or hand-edited page fails here."""
    monkeypatch.setattr("sys.argv", ["make_results.py", "--out", str(tmp_path / "results.md")])
    make_results.main()
    committed = SCRIPT.parents[1] / "docs" / "results.md"
    assert (tmp_path / "results.md").read_text() == committed.read_text(), (
        "docs/results.md differs from what experiments/make_results.py writes: run it and commit the page"
    )


def test_the_summary_gives_each_track_its_choice_margin_and_best_anchor(make_results):
    """The page opens with one row per data set and track: the chosen option, its verdict against
    the target, and the first published anchor whole (a comma inside it had cut it short)."""
    chosen = make_results.summarise(runs([0, 1, 2], 0.4136, 0.924))
    tracks = [
        {"data": "ETTh1", "track": 2, "complete": {"`a`, window L=336": chosen}, "pick": "`a`, window L=336",
         "why": "lowest average validation MSE", "min_seeds": 3, "target": 0.405,
         "anchors": ("0.411 (TimeMixer, searched)", "0.413 (PatchTST/64, L=512)")},
        {"data": "ETTm1", "track": 1, "complete": {}, "pick": None, "why": "no option is complete",
         "min_seeds": 1, "target": 0.37, "anchors": ("0.378 (Bi-Mamba+)",)},
    ]
    lines = make_results.summary_lines(tracks)
    assert lines[0] == "## Summary"
    row = next(line for line in lines if line.startswith("| ETTh1 |"))
    assert "| `a`, window L=336 | **0.414 ± 0.000 (n=3)** |" in row
    assert "| 0.405 | no, +0.0086 | 0.411 (TimeMixer, searched) |" in row
    row = next(line for line in lines if line.startswith("| ETTm1 |"))
    assert row == "| ETTm1 | 1 | none: no option is complete | | | 0.370 | — | 0.378 (Bi-Mamba+) |"


def test_a_pass_inside_the_seed_std_says_so(make_results):
    by_h = runs([0, 1, 2], 0.42988, 0.9)
    by_h[96] = [(0, 0.42888, 0.9), (1, 0.42988, 0.9), (2, 0.43088, 0.9)]  # a seed std of 0.00025
    v = make_results.summarise(by_h)
    assert make_results.met_text(v, 0.430) == "yes, by 0.00012 (inside the seed std)"
    assert make_results.met_text(v, 0.4) == "no, +0.030"
    assert make_results.met_text(v, None) == "—"


def test_an_unwritable_out_stops_with_one_line(make_results, tmp_path, monkeypatch):
    """A missing folder or a folder as --out had ended in a FileNotFoundError/IsADirectoryError traceback."""
    for out in (tmp_path / "missing" / "results.md", tmp_path):
        monkeypatch.setattr("sys.argv", ["make_results.py", "--out", str(out)])
        with pytest.raises(SystemExit, match=rf"--out {re.escape(str(out))}: cannot write the page"):
            make_results.main()


def test_efficiency_refuses_a_folder_as_out_before_measuring(tmp_path):
    """``--out DIR`` had measured every lookback and then failed writing, with a traceback."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(SCRIPT.parent / "efficiency.py"), "--out", str(tmp_path),
                           "--lookbacks", "8", "--batches", "1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-1000:]
    assert f"--out {tmp_path} is a folder; give the result file's path, e.g. {tmp_path / 'efficiency.json'}" \
        in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_each_baseline_row_is_that_of_runs_scored_at_its_lookback(make_results):
    """The linear baseline maps the last L values to the next H, so a row of the baselines table is
    only true of runs that scored them at its L. Ensembles whose L = 96 member scored them (the
    Weather track-2 runs of 2026-12-06) had been tabled under their longest lookback, 336 and 720,
    with the L = 96 figures."""
    committed = (SCRIPT.parents[1] / "docs" / "results.md").read_text()
    table = committed.split("Baselines scored in the same runs")[1].split("\n## ")[0]
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (\d+) \| ([\d.]+) \|", table, flags=re.MULTILINE)
    assert rows
    scored = {}
    for r in make_results.load():
        lookback = r.get("baselines_context_length", r["context_length"])
        linear = f"{r['baselines']['linear']['mse']:.3f}"
        scored.setdefault((r["data"], lookback, r["horizon"]), set()).add(linear)
    for data, lookback, horizon, linear in rows:
        assert linear in scored.get((data, int(lookback), int(horizon)), set()), (data, lookback, horizon)
    assert make_results.baselines_lookback({"context_length": 720, "baselines_context_length": 96}) == 96
    assert make_results.baselines_lookback({"context_length": 336}) == 336


def test_an_efficiency_table_says_where_and_when_it_was_measured(make_results):
    """Seconds differ between the CPU models the development VM has run on (2026-12-07: an Intel
    Xeon where earlier runs had an AMD EPYC), so a table of them names its CPU, date and commit."""
    record = {"cpu": "Intel(R) Xeon(R) Processor, AVX512", "machine": "x86_64, 2 threads, torch 2.13.0+cpu",
              "date": "2026-12-07", "git_commit": "9761c28c0ffee"}
    assert make_results.measured_on(record) == (
        " Measured on Intel(R) Xeon(R) Processor, AVX512 (x86_64, 2 threads, torch 2.13.0+cpu), "
        "2026-12-07, at 9761c28.")
    assert make_results.measured_on({**record, "git_commit": "9761c28c0ffee+changes"}).endswith(
        "at 9761c28 with uncommitted changes.")
    assert make_results.measured_on({**record, "git_commit": None}).endswith("at an unknown commit.")
    assert make_results.measured_on({"command": "python experiments/efficiency.py"}) == ""  # older records
