"""Report plots: files written, PNGs readable, figures labelled and closed."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import matplotlib.dates as mdates
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from tsmamba.errors import ConfigError
from tsmamba.metrics import metrics_frame
from tsmamba.plotting import (
    error_by_step_figure,
    error_over_time_figure,
    forecast_figure,
    plot_error_by_step,
    plot_error_over_time,
    plot_forecasts,
    save_report_plots,
)

HORIZON = 6
CHANNELS = ("HUFL", "OT")


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    index = pd.date_range("2022-03-01", periods=300, freq="h")
    t = np.arange(len(index))
    data = {
        "HUFL": 5 + np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=len(t)),
        "OT": 20 + 0.01 * t + 0.1 * rng.normal(size=len(t)),
    }
    return pd.DataFrame(data, index=index)


@pytest.fixture(scope="module")
def forecasts(history: pd.DataFrame) -> pd.DataFrame:
    """Eight origins, two channels; 'linear' is the best baseline by construction."""
    rng = np.random.default_rng(1)
    rows = []
    for origin_pos in range(100, 260, 20):
        origin = history.index[origin_pos]
        for chan in CHANNELS:
            last = history[chan].iloc[origin_pos]
            for step in range(1, HORIZON + 1):
                y = history[chan].iloc[origin_pos + step]
                rows.append(
                    {
                        "origin": origin,
                        "timestamp": history.index[origin_pos + step],
                        "channel": chan,
                        "step": step,
                        "y": y,
                        "yhat": y + 0.05 * rng.normal(),
                        "yhat_last_value": last,
                        "yhat_seasonal_naive": y + 0.5 * rng.normal(),
                        "yhat_linear": y + 0.1 * rng.normal(),
                    }
                )
    return pd.DataFrame(rows)


def _arrays(frame: pd.DataFrame, column: str) -> np.ndarray:
    """(N, H, C) array of ``column`` from the tidy frame."""
    wide = frame.pivot_table(index=["origin", "step"], columns="channel", values=column)
    n_origins = frame["origin"].nunique()
    return wide[list(CHANNELS)].to_numpy().reshape(n_origins, HORIZON, len(CHANNELS))


@pytest.fixture(scope="module")
def metrics_df(forecasts: pd.DataFrame) -> pd.DataFrame:
    y = _arrays(forecasts, "y")
    frames = [metrics_frame(y, _arrays(forecasts, "yhat"), model="tsmamba", channels=CHANNELS)]
    for name in ("last_value", "seasonal_naive", "linear"):
        yhat = _arrays(forecasts, f"yhat_{name}")
        frames.append(metrics_frame(y, yhat, model=name, channels=CHANNELS))
    return pd.concat(frames, ignore_index=True)


def _legend_labels(fig: plt.Figure) -> list[str]:
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    for ax in fig.axes:
        if ax.get_legend() is not None:
            labels += [t.get_text() for t in ax.get_legend().get_texts()]
    return labels


def _assert_png(path: Path) -> None:
    assert path.exists() and path.stat().st_size > 0
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300


def test_plotting_leaves_the_backend_and_pyplot_alone(
    forecasts: pd.DataFrame, metrics_df: pd.DataFrame, history: pd.DataFrame, tmp_path: Path
) -> None:
    """Importing tsmamba.plotting used to switch the caller's backend to Agg (a notebook lost its
    inline figures); figures are built without pyplot, so none is registered with it either."""
    pd.to_pickle((forecasts, metrics_df, history), tmp_path / "frames.pkl")
    code = (
        "import json, sys, matplotlib\n"
        "matplotlib.use('svg')\n"
        "import pandas as pd\n"
        "from tsmamba import plotting\n"
        "forecasts, metrics_df, history = pd.read_pickle(sys.argv[1])\n"
        "plotting.save_report_plots(forecasts, metrics_df, sys.argv[2], history=history)\n"
        "plotting.forecast_figure(forecasts)\n"
        "print(json.dumps([matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules]))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "frames.pkl"), str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["svg", False]
    _assert_png(tmp_path / "r" / "forecast.png")


def test_forecast_figure_panels_labels_legend(
    forecasts: pd.DataFrame, history: pd.DataFrame
) -> None:
    fig = forecast_figure(forecasts, history=history, model_name="tsmamba")
    try:
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert len(axes) == 6  # 2 channels x 3 evenly spaced origins
        for ax in axes:
            assert ax.get_xlabel() == "time"
            assert ax.get_ylabel() in CHANNELS
            title = ax.get_title()
            assert any(chan in title for chan in CHANNELS) and "origin 2022-03-" in title
            assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
            assert isinstance(ax.xaxis.get_major_locator(), mdates.AutoDateLocator)
        labels = _legend_labels(fig)
        for expected in ("history", "actual", "tsmamba", "forecast origin"):
            assert expected in labels
        assert "linear (best baseline)" in labels
        # Per panel: history, actual, model, best baseline (and the origin line).
        line_labels = [line.get_label() for line in axes[0].get_lines()]
        assert line_labels[:4] == ["history", "actual", "tsmamba", "linear (best baseline)"]
        history_line = axes[0].get_lines()[0]
        assert len(history_line.get_xdata()) == 3 * HORIZON
        for ax in axes:  # history up to each panel's origin, not past it (helper-147)
            lines = {line.get_label(): line for line in ax.get_lines()}
            last_seen = pd.Timestamp(lines["history"].get_xdata()[-1])
            first_forecast = pd.Timestamp(lines["tsmamba"].get_xdata()[0])
            assert first_forecast - last_seen == pd.Timedelta(hours=1)  # the origin, one step before
    finally:
        plt.close(fig)


def test_forecast_figure_selection(forecasts: pd.DataFrame) -> None:
    origin = forecasts["origin"].iloc[0]
    fig = forecast_figure(forecasts, origins=[origin], channels=["OT"], max_panels=4)
    try:
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert len(axes) == 1
        assert axes[0].get_title().startswith("OT")
        assert "history" not in _legend_labels(fig)  # no history frame given
    finally:
        plt.close(fig)
    fig = forecast_figure(forecasts, max_panels=1)
    try:
        assert len([ax for ax in fig.axes if ax.get_visible()]) == 1
    finally:
        plt.close(fig)


def test_forecast_figure_without_baselines(forecasts: pd.DataFrame) -> None:
    plain = forecasts[["origin", "timestamp", "channel", "step", "y", "yhat"]]
    fig = forecast_figure(plain, max_panels=2)
    try:
        assert not any("baseline" in label for label in _legend_labels(fig))
    finally:
        plt.close(fig)


def test_plot_forecasts_writes_png_and_closes(
    forecasts: pd.DataFrame, history: pd.DataFrame, tmp_path: Path
) -> None:
    open_before = plt.get_fignums()
    path = plot_forecasts(forecasts, tmp_path / "sub" / "forecast.png", history=history)
    assert path == tmp_path / "sub" / "forecast.png"
    _assert_png(path)
    assert plt.get_fignums() == open_before


def test_error_by_step_figure(metrics_df: pd.DataFrame) -> None:
    fig = error_by_step_figure(metrics_df, metric="mae")
    try:
        ax = fig.axes[0]
        assert ax.get_xlabel() == "forecast step (horizon)"
        assert ax.get_ylabel() == "MAE"
        assert "MAE" in ax.get_title()
        lines = ax.get_lines()
        assert len(lines) == 4
        assert lines[0].get_label() == "tsmamba" and lines[0].get_linestyle() == "-"
        assert all(line.get_linestyle() == "--" for line in lines[1:])
        np.testing.assert_array_equal(lines[0].get_xdata(), np.arange(1, HORIZON + 1))
        expected = metrics_df.query("model == 'tsmamba' and scope == 'step' and metric == 'mae'")
        np.testing.assert_allclose(lines[0].get_ydata(), expected["value"])
        assert "linear (baseline)" in _legend_labels(fig)
    finally:
        plt.close(fig)
    # per-channel rows of each step, as a caller's own frame may hold, are ignored (helper-147)
    steps = metrics_df[metrics_df["scope"] == "step"]
    per_channel = pd.concat([steps.assign(channel=c, value=steps["value"] * (i + 2)) for i, c in
                             enumerate(CHANNELS)])
    fig = error_by_step_figure(pd.concat([metrics_df, per_channel], ignore_index=True), metric="mae")
    try:
        np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), expected["value"])
    finally:
        plt.close(fig)


def test_a_metric_with_no_finite_value_says_so_in_the_figure(metrics_df: pd.DataFrame) -> None:
    """MASE of constant series is NaN at every step: an empty figure with a full legend had been
    written without a word (helper-178)."""
    undefined = metrics_df.assign(value=np.where(metrics_df["model"] == "linear", 1.0, np.nan))
    fig = error_by_step_figure(undefined, metric="mae")
    try:
        labels = _legend_labels(fig)
        assert "tsmamba (no finite MAE)" in labels and "linear (baseline)" in labels
        assert "last_value (baseline, no finite MAE)" in labels
        assert not [t for t in fig.axes[0].texts if "at any step" in t.get_text()]  # linear has a line
    finally:
        plt.close(fig)
    fig = error_by_step_figure(metrics_df.assign(value=np.nan), metric="mae")
    try:
        assert [t.get_text() for t in fig.axes[0].texts] == ["no finite MAE at any step (e.g. MASE of "
                                                             "constant series)"]
    finally:
        plt.close(fig)


def test_error_over_time_of_a_sample_says_of_how_many_origins(forecasts: pd.DataFrame) -> None:
    """A report keeps evenly spaced origins past max_forecast_rows: its title had said "10 origins",
    and the legend's mean read as the score (helper-178)."""
    n = forecasts["origin"].nunique()
    fig = error_over_time_figure(forecasts, model_name="tsmamba", origins_total=10 * n)
    try:
        assert f"({n} of {10 * n} origins, evenly spaced; means over these," in fig.axes[0].get_title()
    finally:
        plt.close(fig)
    fig = error_over_time_figure(forecasts, model_name="tsmamba", origins_total=n)  # every origin
    try:
        assert f"({n} origins, all steps" in fig.axes[0].get_title()
    finally:
        plt.close(fig)
    # a count below the origins drawn had been taken as all of them, text failed in a comparison
    with pytest.raises(ConfigError, match=rf"origins_total={n - 1} is fewer than the {n} origins"):
        error_over_time_figure(forecasts, model_name="tsmamba", origins_total=n - 1)
    with pytest.raises(ConfigError, match=r"origins_total must be a positive integer, got '80'"):
        error_over_time_figure(forecasts, model_name="tsmamba", origins_total="80")


def test_figures_say_the_units_of_scaled_values(
    forecasts: pd.DataFrame, metrics_df: pd.DataFrame, history: pd.DataFrame
) -> None:
    """An LTSF backtest's values are train-split z-scores: the value axes had named only the
    channel or the metric, as if in the data's own units. Given units= or a forecasts table with
    a units column (an LTSF report's forecasts.csv read back), every figure says them."""
    units = "scaled: train-split z-score"
    scaled = forecasts.assign(units=units)
    for fig in (forecast_figure(scaled, history=history), forecast_figure(forecasts, units=units)):
        try:
            axes = [ax for ax in fig.axes if ax.get_visible()]
            assert {ax.get_ylabel() for ax in axes} == {f"{c}\n({units})" for c in CHANNELS}
            assert fig.get_suptitle() == "model forecasts vs actuals (horizon 6; scaled: train-split z-score)"
        finally:
            plt.close(fig)
    for fig, label in ((error_over_time_figure(scaled, metric="rmse"), "RMSE per origin"),
                       (error_by_step_figure(metrics_df, metric="mae", units=units), "MAE")):
        try:
            assert fig.axes[0].get_ylabel() == f"{label}\n(scaled: train-split z-score)"
        finally:
            plt.close(fig)
    mixed = pd.concat([scaled, forecasts])  # some rows in the data's own units: no one label fits
    for fig in (forecast_figure(forecasts), forecast_figure(mixed)):  # the data's own units: no note
        try:
            assert fig.get_suptitle() == "model forecasts vs actuals (horizon 6)"
        finally:
            plt.close(fig)


def test_plot_error_by_step_writes_png(metrics_df: pd.DataFrame, tmp_path: Path) -> None:
    step_rows = metrics_df[metrics_df["scope"] == "step"]
    _assert_png(plot_error_by_step(step_rows, tmp_path / "by_step.png", metric="smape"))


def test_error_over_time_figure(forecasts: pd.DataFrame) -> None:
    fig = error_over_time_figure(forecasts, metric="rmse", model_name="tsmamba")
    try:
        ax = fig.axes[0]
        assert ax.get_xlabel() == "forecast origin"
        assert ax.get_ylabel() == "RMSE per origin"
        assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
        lines = ax.get_lines()
        assert len(lines) == 4
        assert len(lines[0].get_xdata()) == forecasts["origin"].nunique()
        # First origin, model: RMSE pooled over its 2 channels x 6 steps.
        first = forecasts[forecasts["origin"] == forecasts["origin"].min()]
        expected = np.sqrt(np.mean((first["y"] - first["yhat"]) ** 2))
        assert lines[0].get_ydata()[0] == pytest.approx(expected)
        labels = _legend_labels(fig)
        assert labels[0].startswith("tsmamba, mean ")
        assert any(label.startswith("last_value (baseline)") for label in labels)
    finally:
        plt.close(fig)


def test_plot_error_over_time_writes_png(forecasts: pd.DataFrame, tmp_path: Path) -> None:
    _assert_png(plot_error_over_time(forecasts, tmp_path / "over_time.png"))


def test_save_report_plots(
    forecasts: pd.DataFrame, metrics_df: pd.DataFrame, history: pd.DataFrame, tmp_path: Path
) -> None:
    open_before = plt.get_fignums()
    paths = save_report_plots(forecasts, metrics_df, tmp_path / "report", history=history)
    assert [p.name for p in paths] == ["forecast.png", "error_by_step.png", "error_over_time.png"]
    for path in paths:
        _assert_png(path)
    assert plt.get_fignums() == open_before


def test_a_report_converts_the_forecasts_once_and_leaves_the_callers_frame_be(
    forecasts: pd.DataFrame, metrics_df: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each figure had copied and converted the whole table again (2.3 s each at 8 million rows)."""
    import tsmamba.plotting as plotting

    as_text = forecasts.assign(origin=forecasts["origin"].astype(str),
                               timestamp=forecasts["timestamp"].astype(str))
    before = as_text.copy()
    calls = []
    real = plotting.forecast_times
    monkeypatch.setattr(plotting, "forecast_times", lambda col, name: calls.append(name) or real(col, name))
    save_report_plots(as_text, metrics_df, tmp_path / "report")
    assert calls == ["origin", "timestamp"]  # one conversion, shared by the three figures
    pd.testing.assert_frame_equal(as_text, before)  # the caller's text columns stay text


def test_errors_name_the_problem(
    forecasts: pd.DataFrame, metrics_df: pd.DataFrame, tmp_path: Path
) -> None:
    empty = forecasts.iloc[:0]
    with pytest.raises(ConfigError, match="empty"):
        plot_forecasts(empty, tmp_path / "a.png")
    with pytest.raises(ConfigError, match="empty"):
        plot_error_over_time(empty, tmp_path / "a.png")
    with pytest.raises(ConfigError, match="empty"):
        plot_error_by_step(metrics_df.iloc[:0], tmp_path / "a.png")
    with pytest.raises(ConfigError, match=r"lacks column\(s\) \['yhat'\]"):
        plot_forecasts(forecasts.drop(columns="yhat"), tmp_path / "a.png")
    with pytest.raises(ConfigError, match=r"lacks column\(s\) \['value'\]"):
        plot_error_by_step(metrics_df.drop(columns="value"), tmp_path / "a.png")
    with pytest.raises(ConfigError, match=r"a\.csv: a figure is saved as one of \[.*'png'.*\]; end the path"):
        plot_error_by_step(metrics_df, tmp_path / "a.csv")  # matplotlib's ValueError before
    with pytest.raises(ConfigError, match="path must be a file path, got None"):
        plot_error_by_step(metrics_df, None)
    saved = plot_error_by_step(metrics_df.query("step > 0"), tmp_path / "no_ending")
    assert saved == tmp_path / "no_ending.png" and saved.exists()  # it had returned a path not written
    saved = plot_error_by_step(metrics_df.query("step > 0"), tmp_path / "run.")
    assert saved == tmp_path / "run.png" and saved.exists()  # it had written run..png
    (tmp_path / "folder").mkdir()
    with pytest.raises(ConfigError, match=r"folder is a folder; give the path of the figure to write"):
        plot_error_by_step(metrics_df, tmp_path / "folder")  # it had written folder.png beside it
    (tmp_path / "notes").write_text("")
    with pytest.raises(ConfigError, match="notes is a file, not a folder; choose another path"):
        plot_error_by_step(metrics_df, tmp_path / "notes" / "a.png")  # FileExistsError from mkdir
    before = {p.name for p in tmp_path.iterdir()}
    plot_error_by_step(metrics_df.query("step > 0"), tmp_path / "run.png")  # rewritten in place
    assert {p.name for p in tmp_path.iterdir()} == before  # no temporary file left
    with pytest.raises(ConfigError, match="no per-step rows"):
        plot_error_by_step(metrics_df, tmp_path / "a.png", metric="mase")
    with pytest.raises(ConfigError, match="per origin"):
        plot_error_over_time(forecasts, tmp_path / "a.png", metric="mase")
    with pytest.raises(ConfigError, match="not in forecasts"):
        plot_forecasts(forecasts, tmp_path / "a.png", channels=["nope"])
    with pytest.raises(ConfigError, match="not in forecasts"):
        plot_forecasts(forecasts, tmp_path / "a.png", origins=["1999-01-01"])
    with pytest.raises(ConfigError, match="max_panels"):
        plot_forecasts(forecasts, tmp_path / "a.png", max_panels=0)
    with pytest.raises(ConfigError, match="empty"):
        save_report_plots(forecasts, metrics_df.iloc[:0], tmp_path / "r")
    assert not (tmp_path / "a.png").exists()
    assert not (tmp_path / "r").exists()  # frames are checked before anything is written


def test_reports_crossing_a_dst_change_plot_from_their_csv(tmp_path: Path) -> None:
    """forecasts.csv of a zone with DST holds two UTC offsets: read back, it used to fail to parse
    (pandas refuses mixed offsets); a naive history beside aware forecasts failed untyped."""
    index = pd.date_range("2024-10-26 20:00", periods=24, freq="h", tz="Europe/Paris")  # clocks go back
    history = pd.DataFrame({"OT": np.arange(24.0)}, index=index)
    rows = [
        {"origin": index[o], "timestamp": index[o + s], "channel": "OT", "step": s,
         "y": float(o + s), "yhat": o + s + 0.5, "yhat_last_value": float(o)}
        for o in (4, 10) for s in range(1, HORIZON + 1)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "forecasts.csv", index=False)
    csv = pd.read_csv(tmp_path / "forecasts.csv")
    assert csv["timestamp"].str[-6:].nunique() == 2  # +02:00 and +01:00
    plot_forecasts(csv, tmp_path / "f.png", history=history)
    plot_error_over_time(csv, tmp_path / "e.png")
    _assert_png(tmp_path / "f.png")
    _assert_png(tmp_path / "e.png")
    with pytest.raises(ConfigError, match="history's timestamps are without a time zone but the forecasts'"):
        forecast_figure(csv, history=history.tz_localize(None))


def _one_channel(origins: pd.DatetimeIndex, horizon: int, channel: str = "OT", step: str = "h"
                 ) -> pd.DataFrame:
    rows = [
        {"origin": o, "timestamp": o + s * pd.Timedelta(1, step), "channel": channel, "step": s,
         "y": float(s), "yhat": s + 0.5, "yhat_last_value": 0.0}
        for o in origins for s in range(1, horizon + 1)
    ]
    return pd.DataFrame(rows)


def _draw(fig: plt.Figure) -> None:
    import io

    fig.savefig(io.BytesIO(), format="png")  # lays out every text (math included)


def test_names_are_literal_text_in_every_figure() -> None:
    """'$' in a name was read as mathtext ('a$_$b' failed the report after the whole backtest;
    'cost $5 to $10' was drawn as italic 'cost 5to10'); a model named '_mine' had no legend entry
    (matplotlib skips labels starting with '_'); a long name ran over the next panels."""
    origins = pd.date_range("2024-01-01", periods=3, freq="D")
    for channel in ("a$_$b", "cost $5 to $10", "x" * 150):
        frame = _one_channel(origins, 4, channel)
        fig = forecast_figure(frame, model_name="_mine")
        _draw(fig)
        title = fig.axes[0].get_title()
        shown = title.split("… — origin")[0] if "…" in title else title.split(" — origin")[0]
        assert len(shown) >= min(8, len(channel)) and channel.replace("$", r"\$").startswith(shown), title
        assert len(fig.axes[0].get_ylabel()) <= 60
        assert " _mine" in _legend_labels(fig)
        fig = error_over_time_figure(frame, model_name="_mine")
        _draw(fig)
        assert any(label.startswith(" _mine, mean") for label in _legend_labels(fig))
    y = np.arange(12.0).reshape(3, 4, 1)
    frame = pd.concat([metrics_frame(y, y + 1, model="$_mine$", channels=["a"]),
                       metrics_frame(y, y + 2, model="last_value", channels=["a"])])
    fig = error_by_step_figure(frame)
    _draw(fig)
    assert r"\$_mine\$" in _legend_labels(fig)


def test_long_names_stay_inside_their_panel_and_the_figure() -> None:
    """A 60-character name had run into the next panels' titles, down the side past the figure's
    edges as a y label, and (as a model name) past the figure in the title and the legend; wide
    letters (m) overflowed where narrow ones (x) fitted."""
    origins = pd.date_range("2024-01-01", periods=2, freq="D", tz="Europe/Berlin")
    frame = pd.concat([_one_channel(origins, 4, name) for name in ("a", "m" * 100, "b")])
    for fig in (forecast_figure(frame, model_name="W" * 60),
                forecast_figure(frame[frame["channel"] == "m" * 100], model_name="W" * 60)):
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer, page = canvas.get_renderer(), fig.bbox
        shown = [ax for ax in fig.axes if ax.get_visible()]
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
        assert any(t.get_text().endswith(" forecasts vs actuals (horizon 4)") for t in texts)  # suptitle
        boxes = [t.get_window_extent(renderer) for t in texts]
        for box in [*boxes, fig.legends[0].get_window_extent(renderer)]:
            assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1, box
        titles = [ax.title.get_window_extent(renderer) for ax in shown]
        for left, right in itertools.pairwise(titles):
            assert left.y0 != right.y0 or left.x1 <= right.x0, (left, right)  # one row: side by side
        for ax in shown:
            panel = ax.get_window_extent(renderer)
            assert ax.yaxis.label.get_window_extent(renderer).height <= panel.height + 1


def test_origins_are_told_apart_to_the_second_and_by_utc_offset() -> None:
    """Per-second origins were all titled '00:02'; the two 02:00 hours of a DST change alike."""
    seconds = pd.DatetimeIndex(["2020-01-01 00:02:19", "2020-01-01 00:02:31"])
    fig = forecast_figure(_one_channel(seconds, 2, step="s"))
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == [
        "OT — origin 2020-01-01 00:02:19", "OT — origin 2020-01-01 00:02:31"]
    berlin = pd.date_range("2020-10-25 00:00", periods=4, freq="h", tz="Europe/Berlin")[2:]
    fig = forecast_figure(_one_channel(berlin, 2))
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == [
        "OT — origin 2020-10-25 02:00 +02:00", "OT — origin 2020-10-25 02:00 +01:00"]


def test_one_step_and_one_origin_figures_are_readable() -> None:
    """At horizon 1 the best baseline (and the actual, without history) was a line of one point,
    invisible; the step axis was ticked 0.945 ... 1.065; one origin sat on a five-year date axis
    under the title '1 origins'."""
    origin = pd.DatetimeIndex(["2020-01-09 06:00"])
    frame = _one_channel(origin, 1)
    fig = forecast_figure(frame)
    ax = fig.axes[0]
    assert all(line.get_marker() == "o" for line in ax.get_lines()[:3])  # actual, model, baseline
    y = np.ones((1, 1, 1))
    fig = error_by_step_figure(metrics_frame(y, y + 1, model="m", channels=["OT"]))
    assert list(fig.axes[0].get_xticks()) == [1]
    fig = error_over_time_figure(frame)
    left, right = mdates.num2date(fig.axes[0].get_xlim())
    assert right - left <= pd.Timedelta(hours=2)
    assert "(1 origin," in fig.axes[0].get_title()


def test_date_axes_read_in_the_data_zone() -> None:
    """A Paris origin titled 10:00 +01:00 sat at 09:00 on an axis drawn in UTC."""
    origins = pd.date_range("2021-11-04 10:00", periods=2, freq="D", tz="Europe/Paris")
    frame = _one_channel(origins, 3)
    for fig in (forecast_figure(frame), error_over_time_figure(frame)):
        ax = fig.axes[0]
        assert str(ax.xaxis.get_major_locator().tz) == "Europe/Paris"
        when = mdates.num2date(mdates.date2num(origins[0]), tz=ax.xaxis.get_major_locator().tz)
        assert when.hour == 10  # the axis reads the origin as the title does
    assert forecast_figure(frame).axes[0].get_title() == "OT — origin 2021-11-04 10:00 +01:00"


def test_more_channels_than_panels_show_the_first_and_the_last() -> None:
    """ETTh1's seven channels in six panels showed the first six: OT, the target, never."""
    names = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    frame = pd.concat([_one_channel(pd.DatetimeIndex(["2020-01-01"]), 2, name) for name in names])
    titles = [ax.get_title().split(" — ")[0] for ax in forecast_figure(frame).axes if ax.get_visible()]
    assert len(titles) == 6 and titles[0] == "HUFL" and titles[-1] == "OT"


def test_helper_132s_figure_defects(forecasts: pd.DataFrame, metrics_df: pd.DataFrame) -> None:
    """Two models in one error-by-step figure had one colour; origins asked for were cut to the
    first max_panels panels without a word; a datetime origin raised TypeError; a model named
    like a baseline had its line replaced by the baseline's."""
    import datetime

    second = metrics_df[metrics_df["model"] == "tsmamba"].assign(model="tsmamba_big")
    fig = error_by_step_figure(pd.concat([metrics_df, second]), metric="mae")
    try:
        colors = {line.get_label(): line.get_color() for line in fig.axes[0].get_lines()}
        assert colors["tsmamba"] != colors["tsmamba_big"] and len(set(colors.values())) == 5
    finally:
        plt.close(fig)
    origins = sorted(forecasts["origin"].unique())
    fig = forecast_figure(forecasts, origins=[origins[0], origins[4]], max_panels=2)
    try:  # each origin asked for, with fewer channels each
        titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
        assert len(titles) == 2 and len({title.split(" — origin ")[1] for title in titles}) == 2, titles
    finally:
        plt.close(fig)
    with pytest.raises(ConfigError, match=r"3 origin\(s\) x 2 channel\(s\) make 6 panels, more than "
                                          r"max_panels=4"):
        forecast_figure(forecasts, origins=origins[:3], channels=list(CHANNELS), max_panels=4)
    for scalar in (origins[2].to_pydatetime(), np.datetime64(origins[2]), datetime.datetime.fromisoformat(
            str(origins[2]))):
        fig = forecast_figure(forecasts, origins=scalar, channels=["OT"])
        try:
            assert len([ax for ax in fig.axes if ax.get_visible()]) == 1
        finally:
            plt.close(fig)
    with pytest.raises(ConfigError, match="model_name 'linear' is the name of a baseline"):
        error_over_time_figure(forecasts, model_name="linear")


def test_forecast_panels_spread_from_the_first_origin_to_the_last(forecasts: pd.DataFrame) -> None:
    """Without origins, the panels show origins evenly spread over the backtest, first and last
    included (helper-150: the first few origins passed)."""
    fig = forecast_figure(forecasts, max_panels=4)
    try:
        titles = " ".join(ax.get_title() for ax in fig.axes if ax.get_visible())
        first, last = forecasts["origin"].min(), forecasts["origin"].max()
        assert f"origin {first:%Y-%m-%d %H:%M}" in titles and f"origin {last:%Y-%m-%d}" in titles
    finally:
        plt.close(fig)


def test_the_best_baseline_line_draws_the_baselines_forecast(forecasts: pd.DataFrame) -> None:
    fig = forecast_figure(forecasts, max_panels=1)
    try:
        ax = fig.axes[0]
        lines = {line.get_label(): line for line in ax.get_lines()}
        (best,) = [label for label in lines if label.endswith(" (best baseline)")]
        name = best.removesuffix(" (best baseline)")
        chan = ax.get_ylabel()
        panel = forecasts[(forecasts["origin"] == forecasts["origin"].min()) & (forecasts["channel"] == chan)]
        np.testing.assert_allclose(lines[best].get_ydata(), panel.sort_values("step")[f"yhat_{name}"])
    finally:
        plt.close(fig)


def test_error_over_time_legend_gives_the_mean_over_origins(forecasts: pd.DataFrame) -> None:
    fig = error_over_time_figure(forecasts, metric="mae")
    try:
        per_origin = (forecasts["y"] - forecasts["yhat"]).abs().groupby(forecasts["origin"]).mean()
        assert per_origin.mean() != pytest.approx(per_origin.median(), rel=1e-2)
        assert _legend_labels(fig)[0] == f"model, mean {per_origin.mean():.3g}"
    finally:
        plt.close(fig)


def test_report_plots_follow_the_reports_metric_and_name_several_models_model(
    forecasts: pd.DataFrame, metrics_df: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """save_report_plots(metric="mse") draws error over time in MSE; with two models in the
    metrics, the figures say "model", not the first one's name."""
    from tsmamba import plotting

    titles, names = [], []
    over_time, panels = plotting.error_over_time_figure, plotting.forecast_figure

    def spy_over_time(frame, **kwargs):
        fig = over_time(frame, **kwargs)
        titles.append(fig.axes[0].get_title())
        return fig

    def spy_panels(frame, **kwargs):
        names.append(kwargs["model_name"])
        return panels(frame, **kwargs)

    monkeypatch.setattr(plotting, "error_over_time_figure", spy_over_time)
    monkeypatch.setattr(plotting, "forecast_figure", spy_panels)
    save_report_plots(forecasts, metrics_df, tmp_path / "one", metric="mse")
    assert titles[-1].startswith("MSE per forecast origin")
    two = pd.concat([metrics_df[metrics_df["model"] == "tsmamba"].assign(model="a1"),
                     metrics_df[metrics_df["model"] == "tsmamba"].assign(model="a2")], ignore_index=True)
    save_report_plots(forecasts, two, tmp_path / "two")
    assert names == ["tsmamba", "model"]


# --- pinned by mutation round 8 (backtest, metrics, plotting) ---


def test_baselines_follow_the_report_order_whatever_the_column_order(forecasts: pd.DataFrame) -> None:
    shuffled = forecasts[["origin", "timestamp", "channel", "step", "y", "yhat", "yhat_linear",
                          "yhat_seasonal_naive", "yhat_last_value"]]
    fig = error_over_time_figure(shuffled, model_name="tsmamba")
    names = [label.split(",")[0] for label in _legend_labels(fig)]
    assert names == ["tsmamba", "last_value (baseline)", "seasonal_naive (baseline)", "linear (baseline)"]


def test_percentage_metrics_are_labelled_in_percent(
    metrics_df: pd.DataFrame, forecasts: pd.DataFrame
) -> None:
    ax = error_by_step_figure(metrics_df, metric="smape").axes[0]
    assert (ax.get_ylabel(), ax.get_title()) == ("sMAPE (%)", "sMAPE (%) by forecast step")
    ax = error_over_time_figure(forecasts, metric="mape").axes[0]
    assert ax.get_ylabel() == "MAPE (%) per origin"


def test_error_over_time_in_smape_and_mape_divides_by_the_actuals(
    forecasts: pd.DataFrame, metrics_df: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = forecasts[forecasts["origin"] == forecasts["origin"].min()]
    err = (first["y"] - first["yhat"]).abs()
    for metric, expected in (("smape", 200 * np.mean(err / (first["y"].abs() + first["yhat"].abs()))),
                             ("mape", 100 * np.mean(err / first["y"].abs()))):
        fig = error_over_time_figure(forecasts, metric=metric, model_name="tsmamba")
        assert fig.axes[0].get_lines()[0].get_ydata()[0] == pytest.approx(expected, rel=1e-12)
    from tsmamba import plotting

    metrics = []
    real = plotting.error_over_time_figure
    monkeypatch.setattr(plotting, "error_over_time_figure",
                        lambda frame, **kw: metrics.append(kw["metric"]) or real(frame, **kw))
    save_report_plots(forecasts, metrics_df, tmp_path, metric="smape")
    assert metrics == ["smape"]  # a report in sMAPE draws sMAPE over time, not MAE


def test_the_best_baseline_is_the_one_with_the_lowest_mae_and_is_drawn_dashed() -> None:
    """One large miss (MSE 2.25, MAE 0.75) against steady small ones (MSE 1, MAE 1): MAE picks it."""
    frame = _one_channel(pd.DatetimeIndex(["2024-01-01"]), 4)
    frame["yhat_linear"] = frame["y"] + [0.0, 0.0, 0.0, 3.0]
    frame["yhat_last_value"] = frame["y"] + 1.0
    ax = forecast_figure(frame).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert "linear (best baseline)" in lines and lines["linear (best baseline)"].get_linestyle() == "--"


def test_panel_titles_show_a_midnight_origin_as_its_date_and_sub_second_origins_to_their_digits() -> None:
    def titles(origins: pd.DatetimeIndex, step: str) -> list[str]:
        fig = forecast_figure(_one_channel(origins, 2, step=step))
        return [ax.get_title() for ax in fig.axes if ax.get_visible()]

    days = pd.DatetimeIndex(["2020-01-01", "2020-01-02"])
    assert titles(days, "D") == ["OT — origin 2020-01-01", "OT — origin 2020-01-02"]
    fine = pd.DatetimeIndex(["2020-01-01 00:00:00.250", "2020-01-01 00:00:00.000250"])
    assert titles(fine, "us") == ["OT — origin 2020-01-01 00:00:00.000250",
                                  "OT — origin 2020-01-01 00:00:00.250"]


def test_figures_are_saved_at_120_dpi(metrics_df: pd.DataFrame, tmp_path: Path) -> None:
    path = plot_error_by_step(metrics_df, tmp_path / "by_step.png")
    assert mpimg.imread(path).shape[:2] == (504, 900)  # 4.2 x 7.5 inches


def test_forecast_panels_draw_each_forecast_in_step_order(forecasts: pd.DataFrame) -> None:
    """A table in another row order (the last step first) had its lines drawn backwards."""
    ax = forecast_figure(forecasts.iloc[::-1], channels=["OT"], max_panels=1).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    panel = forecasts[(forecasts["origin"] == forecasts["origin"].min()) & (forecasts["channel"] == "OT")]
    np.testing.assert_array_equal(lines["model"].get_ydata(), panel.sort_values("step")["yhat"])


def test_ten_steps_are_each_a_tick_and_no_history_steps_draws_no_history(history: pd.DataFrame) -> None:
    y = np.ones((1, 10, 1))
    fig = error_by_step_figure(metrics_frame(y, y + 1, model="m", channels=["OT"]))
    assert list(fig.axes[0].get_xticks()) == list(range(1, 11))
    frame = _one_channel(history.index[[100]], 3)
    labels = [line.get_label() for line in forecast_figure(frame, history=history).axes[0].get_lines()]
    assert "history" in labels
    labels = [line.get_label() for line in forecast_figure(frame, history=history, history_steps=0).axes[0]
              .get_lines()]
    assert "history" not in labels


def test_history_steps_is_a_count(history: pd.DataFrame) -> None:
    """-5 had drawn every row of the history up to the origin but the first five (pandas' tail);
    2.5 failed inside pandas."""
    frame = _one_channel(history.index[[100]], 3)
    for bad in (-5, 2.5, True):
        with pytest.raises(ConfigError, match=r"history_steps must be an integer >= 0"):
            forecast_figure(frame, history=history, history_steps=bad)


def test_error_over_time_leaves_out_the_rows_the_scores_leave_out(forecasts: pd.DataFrame) -> None:
    """A backtest's forecasts mark with observed=False the actuals that were filled or imputed when
    the data was read; the error per origin had been drawn from them as if they were observed (and
    so did the choice of the best baseline in forecast.png). An origin with no observed actual is a
    gap in the line."""
    marked = forecasts.copy()
    origins = sorted(marked["origin"].unique())
    made_up = ((marked["channel"] == "OT") & (marked["step"] > 2)) | (marked["origin"] == origins[3])
    marked["observed"] = ~made_up
    marked.loc[~marked["observed"], "y"] = 1e6  # a made-up actual that would dwarf every error
    fig = error_over_time_figure(marked, metric="mae", model_name="tsmamba")
    drawn = fig.axes[0].lines[0].get_ydata()
    kept = marked[marked["observed"]]
    expected = (kept["y"] - kept["yhat"]).abs().groupby(kept["origin"]).mean().reindex(origins)
    np.testing.assert_allclose(drawn, expected.to_numpy(), rtol=1e-12)
    assert np.isnan(drawn[3]) and np.isfinite(np.delete(drawn, 3)).all()
    as_text = marked.assign(observed=marked["observed"].map({True: "True", False: "False"}))  # pd.read_csv's
    np.testing.assert_allclose(error_over_time_figure(as_text, metric="mae").axes[0].lines[0].get_ydata(),
                               drawn, rtol=1e-12)


def test_forecast_figure_draws_made_up_actuals_apart_from_observed_ones(
    history: pd.DataFrame, forecasts: pd.DataFrame
) -> None:
    """Actuals a backtest marks observed=False (filled or imputed when the data was read, scored by
    no metric) had been drawn as points of the actual line, as if observed: they are hollow markers
    on a dotted line, with their own legend entry, and the actual line breaks there."""
    origin = sorted(forecasts["origin"].unique())[2]
    marked = forecasts.copy()
    made_up = (marked["origin"] == origin) & (marked["channel"] == "OT") & marked["step"].isin([2, 3, 6])
    marked["observed"] = ~made_up
    fig = forecast_figure(marked, history=history, origins=[origin], channels=["HUFL", "OT"])
    hufl, ot = fig.axes[:2]
    y = marked.loc[(marked["origin"] == origin) & (marked["channel"] == "OT")].sort_values("step")["y"]
    joined = np.r_[history.loc[origin, "OT"], y.to_numpy()]  # the line starts at the origin's value
    (actual,) = [line for line in ot.lines if line.get_label() == "actual"]
    (drawn_apart,) = [line for line in ot.lines if line.get_label() == "filled/imputed (not scored)"]
    made = np.array([False, False, True, True, False, False, True])  # steps 2, 3 and 6, after the origin's
    np.testing.assert_array_equal(np.asarray(actual.get_ydata(), float), np.where(made, np.nan, joined))
    assert actual.get_linestyle() == "-" and actual.get_markevery() == [0, 1, 4, 5]  # observed: all marked
    assert drawn_apart.get_markevery() == [2, 3, 6] and drawn_apart.get_linestyle() == ":"
    assert drawn_apart.get_marker() == "o" and drawn_apart.get_markerfacecolor() == "none"
    near = np.array([False, True, True, True, True, True, True])  # dotted to and from each made-up one
    np.testing.assert_array_equal(np.asarray(drawn_apart.get_ydata(), float), np.where(near, joined, np.nan))
    assert "filled/imputed (not scored)" in _legend_labels(fig)
    # a panel with every actual observed, and a figure of forecasts without the column: as before
    assert [line.get_label() for line in hufl.lines].count("actual") == 1
    assert all(line.get_label() != "filled/imputed (not scored)" for line in hufl.lines)
    plain = forecast_figure(forecasts, history=history, origins=[origin], channels=["HUFL", "OT"])
    assert "filled/imputed (not scored)" not in _legend_labels(plain)
    assert not np.isnan(np.asarray(plain.axes[1].lines[1].get_ydata(), float)).any()
    # read back from forecasts.csv (True/False as text)
    as_text = marked.assign(observed=marked["observed"].map({True: "True", False: "False"}))
    again = forecast_figure(as_text, history=history, origins=[origin], channels=["OT"])
    assert [line.get_markevery() for line in again.axes[0].lines
            if line.get_label() == "filled/imputed (not scored)"] == [[2, 3, 6]]
    # more steps than are marked (horizon > 48): of the observed, only one between made-up ones is,
    # as no segment shows it
    long = _one_channel(pd.DatetimeIndex([pd.Timestamp("2024-01-01")]), 60)
    long["observed"] = ~long["step"].between(10, 30) | (long["step"] == 21)
    (actual,) = [line for line in forecast_figure(long).axes[0].lines if line.get_label() == "actual"]
    assert actual.get_markevery() == [20]  # step 21, no history joined


def test_forecast_figure_draws_made_up_history_apart_from_observed_history(
    history: pd.DataFrame, forecasts: pd.DataFrame
) -> None:
    """History values read_series made up (its attrs["repairs"], which a backtest's history keeps)
    had been drawn as points of the solid history line: they are hollow markers on a dotted line,
    as made-up actuals are, and the actual line joined to a made-up last value is dotted there."""
    from tsmamba.data import read_series

    origin = sorted(forecasts["origin"].unique())[2]
    at = history.index.get_loc(origin)
    raw = history.copy()
    raw.iloc[[at - 11, at - 9, at], raw.columns.get_loc("OT")] = np.nan
    read = read_series(raw, impute="interpolate")  # its attrs["repairs"] name the three cells
    fig = forecast_figure(forecasts, history=read, origins=[origin], channels=["HUFL", "OT"])
    hufl, ot = fig.axes[:2]
    past = read["OT"].iloc[at - 3 * HORIZON + 1 : at + 1].to_numpy()  # the 18 values drawn
    made = np.zeros(len(past), bool)
    made[[6, 8, 17]] = True
    (line,) = [line for line in ot.lines if line.get_label() == "history"]
    np.testing.assert_array_equal(np.asarray(line.get_ydata(), float), np.where(made, np.nan, past))
    assert line.get_color() == "0.55" and line.get_markevery() == [7]  # observed between two made up
    rings = [line for line in ot.lines if line.get_label() == "filled/imputed (not scored)"]
    assert [line.get_markevery() for line in rings] == [[6, 8, 17], [0]]  # history's, then the actuals'
    assert all(line.get_linestyle() == ":" and line.get_markerfacecolor() == "none" for line in rings)
    (actual,) = [line for line in ot.lines if line.get_label() == "actual"]
    assert np.isnan(actual.get_ydata()[0]) and not np.isnan(actual.get_ydata()[1:]).any()
    # a channel with nothing made up: one solid history line, as before
    assert [line.get_label() for line in hufl.lines].count("history") == 1
    assert all(line.get_label() != "filled/imputed (not scored)" for line in hufl.lines)
