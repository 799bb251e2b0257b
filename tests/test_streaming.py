"""Streaming: O(1) updates equal full recomputation; rejection leaves state untouched; restarts."""

from __future__ import annotations

import copy
import io
import re

import numpy as np
import pandas as pd
import pytest
import torch

from tsmamba.checkpoint import read_checkpoint, read_meta, write_checkpoint
from tsmamba.data import future_index, read_series
from tsmamba.datasets import synthetic_ett
from tsmamba.errors import CheckpointError, ConfigError, DataValidationError, StreamError
from tsmamba.estimator import TSMambaForecaster
from tsmamba.streaming import CSVLineReader, Stream

TINY = dict(
    context_length=24,
    horizon=6,
    d_model=16,
    n_layers=2,
    d_state=8,
    headdim=8,
    max_epochs=1,
    batch_size=32,
    progress=False,
    random_state=0,
)


@pytest.fixture(scope="module")
def series() -> pd.DataFrame:
    return synthetic_ett(n_rows=260, n_channels=3, seed=2).set_index("date")


@pytest.fixture(scope="module")
def model(series) -> TSMambaForecaster:
    return TSMambaForecaster(**TINY).fit(series.iloc[:200])


@pytest.fixture
def model64(model, tmp_path) -> TSMambaForecaster:
    """The fitted model in float64, where the exactness claim is 1e-10."""
    twin = TSMambaForecaster.load(model.save(tmp_path / "model64"))
    twin.network_.double()
    return twin


def snapshot(stream: Stream):
    return (
        {k: v.clone() for k, v in stream._state.tensors().items()},
        stream._forecast.clone(),
        list(stream._last_time),
        stream._last_values.copy(),
        stream.steps,
    )


def assert_same_snapshot(a, b):
    assert a[0].keys() == b[0].keys()
    for k in a[0]:
        assert torch.equal(a[0][k], b[0][k]), k
    assert torch.equal(a[1], b[1]) or (torch.isnan(a[1]).all() and torch.isnan(b[1]).all())
    assert a[2] == b[2] and np.array_equal(a[3], b[3], equal_nan=True) and a[4] == b[4]


def test_updates_equal_full_recomputation_float64(model64, series):
    stream = model64.stream(history=series.iloc[:150])
    for t in range(150, 170):
        fc = stream.update(series.iloc[t])
    fc = stream.update_many(series.iloc[170:181])
    expected = model64.predict(series.iloc[:181], context="full")
    np.testing.assert_allclose(fc.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-10)
    assert fc.index.equals(expected.index) and stream.steps == 181
    for t in range(181, 186):
        arr = stream.update_array(series.iloc[t].to_numpy())
    expected = model64.predict(series.iloc[:186], context="full").to_numpy()
    np.testing.assert_allclose(arr, expected, rtol=0, atol=1e-10)
    fc = stream.update(series.iloc[186])  # the rich path after the lean one (read-only inputs)
    expected = model64.predict(series.iloc[:187], context="full")
    np.testing.assert_allclose(fc.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-10)


def test_updates_equal_full_recomputation_float32(model, series):
    """float32: the step and the chunked pass round differently; values are O(10) in original
    units and each forecast passes ~100 float32 operations, so 1e-4 relative is a safe bound."""
    stream = model.stream(history=series.iloc[:100])
    for t in range(100, 140):
        fc = stream.update(series.iloc[t])
    expected = model.predict(series.iloc[:140], context="full").to_numpy()
    np.testing.assert_allclose(fc.to_numpy(), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_a_stream_set_up_or_updated_under_inference_mode_updates_outside_it(model, series):
    """Tensors made under torch.inference_mode() refuse in-place writes outside it: a stream set up
    there, or one of several series updated there, raised torch's RuntimeError ("Inplace update
    to inference tensor outside InferenceMode") on the next update outside it. It goes on, and
    equals the stream updated without inference mode (the same operations, bit for bit)."""
    plain = model.stream(history={"a": series.iloc[:100], "b": series.iloc[:90]})
    with torch.inference_mode():
        made_inside = model.stream(history={"a": series.iloc[:100], "b": series.iloc[:90]})
    updated_inside = model.stream(history={"a": series.iloc[:100], "b": series.iloc[:90]})
    with torch.inference_mode():
        updated_inside.update({"a": series.iloc[100]})
    for stream in (plain, made_inside):
        stream.update({"a": series.iloc[100]})
    for stream in (plain, made_inside, updated_inside):
        stream.update({"b": series.iloc[90]})
        stream.update({"a": series.iloc[101]})
    expected = plain.forecast(as_array=True)
    for stream in (made_inside, updated_inside):
        np.testing.assert_array_equal(stream.forecast(as_array=True), expected)


def test_an_embedding_window_model_streams_exactly_and_resumes_from_a_save(series, tmp_path):
    """embed_window = 5: the state carries the last 4 inputs, and a stream (updated, saved and
    loaded mid-way) equals full recomputation in float64 to 1e-10."""
    fitted = TSMambaForecaster(**TINY, embed_window=5).fit(series.iloc[:200])
    twin = TSMambaForecaster.load(fitted.save(tmp_path / "embed"))
    assert twin.network_.config.embed_window == 5
    twin.network_.double()
    stream = twin.stream(history=series.iloc[:150])
    for t in range(150, 153):
        stream.update(series.iloc[t])
    assert stream._state.inputs.shape == (3, 4, 1)  # 3 channels run independently, 4 inputs back
    stream = Stream.load(stream.save(tmp_path / "state"), twin)
    for t in range(153, 160):
        fc = stream.update(series.iloc[t])
    expected = twin.predict(series.iloc[:160], context="full")
    np.testing.assert_allclose(fc.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("skip", [
    {}, {"cross_channel_skip": True}, {"channel_skip": True, "linear_init": True, "linear_init_own": 1.0},
])
def test_cycle_and_skip_model_streams_exactly(series, tmp_path, skip):
    """A model with a learned cycle and the input skip (shared over the channels, plus all channels'
    map or each channel's own): the stream feeds each update's phase from its timestamp and still
    equals full recomputation (float64, 1e-10)."""
    fitted = TSMambaForecaster(**TINY, cycle_length=24, input_skip=True, **skip, time_features=True).fit(
        series.iloc[:200])
    if "channel_skip" in skip:
        assert fitted.network_.channel_skip.weight.abs().amax() > 1e-3
    twin = TSMambaForecaster.load(fitted.save(tmp_path / "cyc"))
    twin.network_.double()
    stream = twin.stream(history=series.iloc[:150])
    for t in range(150, 163):
        fc = stream.update(series.iloc[t])
    expected = twin.predict(series.iloc[:163], context="full")
    np.testing.assert_allclose(fc.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-10)
    # the lean path takes each step's calendar from the last timestamp + the frequency
    lean = twin.stream(history=series.iloc[:150])
    for t in range(150, 163):
        arr = lean.update_array(series.iloc[t].to_numpy())
    np.testing.assert_allclose(arr, expected.to_numpy(), rtol=0, atol=1e-10)
    assert lean.last_timestamp == series.index[162]
    # several series at once: each at its own phase
    multi = twin.stream(history={"a": series.iloc[:150], "b": series.iloc[:140]})
    for t in range(5):
        arr = multi.update_array(np.stack([series.iloc[150 + t].to_numpy(), series.iloc[140 + t].to_numpy()]))
    for k, end in ((0, 155), (1, 145)):
        expected = twin.predict(series.iloc[:end], context="full").to_numpy()
        np.testing.assert_allclose(arr[k], expected, rtol=0, atol=1e-10)
    with pytest.raises(StreamError, match="last timestamp"):
        twin.stream().update_array(series.iloc[0].to_numpy())


def test_update_array_refuses_complex_values(model, series):
    """float64 dropped the imaginary part, with only a numpy warning."""
    stream = model.stream(history=series.iloc[:60])
    before = snapshot(stream)
    with pytest.raises(StreamError, match="takes real numbers, got complex"):
        stream.update_array(series.iloc[60].to_numpy() + 5j)
    assert_same_snapshot(before, snapshot(stream))


def test_update_array_refuses_channels_labelled_in_another_order(model64, series):
    """A Series or frame whose labels are the channels in another order had been read by position."""
    stream = model64.stream(history=series.iloc[:60])
    before = snapshot(stream)
    swapped = series.iloc[60][["c2", "c1", "c0"]]
    with pytest.raises(StreamError, match=re.escape("update_array reads values in the fitted order ['c0', "
                                                    "'c1', 'c2'], got them labelled ['c2', 'c1', 'c0']")):
        stream.update_array(swapped)
    with pytest.raises(StreamError, match="got them labelled"):
        stream.update_array(series.iloc[60:61][["c1", "c0", "c2"]])
    assert_same_snapshot(before, snapshot(stream))
    by_name = copy.copy(stream).update(swapped, as_array=True)
    np.testing.assert_array_equal(stream.update_array(series.iloc[60]), by_name)  # labelled in order
    unlabelled = pd.Series(series.iloc[61].to_numpy())  # 0, 1, 2: no channel's name, read in order
    np.testing.assert_array_equal(copy.copy(stream).update_array(unlabelled),
                                  stream.update_array(series.iloc[61].to_numpy()))


def test_forecast_does_not_change_state(model, series):
    stream = model.stream(history=series.iloc[:50])
    before = snapshot(stream)
    pd.testing.assert_frame_equal(stream.forecast(), stream.forecast())
    assert_same_snapshot(before, snapshot(stream))


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"HUFL": 1.0}, "missing"),
        (np.array([1.0, 2.0]), "needs 3 values"),
        ({"c0": 1.0, "c1": "abc", "c2": 3.0}, "not numeric"),
        ({"c0": 1.0, "c1": "1_000", "c2": 3.0}, "not numeric"),  # float() reads it, a CSV reader not
        ({"c0": 1.0, "c1": True, "c2": 3.0}, "not numeric"),
        ({"date": "03.07.2016 13:00", "c0": 1.0, "c1": 2.0, "c2": 3.0}, "cannot be parsed"),  # not ISO
        ({"c0": 1.0, "c1": np.inf, "c2": 3.0}, "infinite"),
        ({"c0": 1.0, "c1": np.nan, "c2": 3.0}, "missing value"),
        ({"c0": 1.0, "c1": 1e39, "c2": 3.0}, r"values in \['c1'\] reach"),  # inf in float32
        ({"date": "2016-07-01 00:00", "c0": 1.0, "c1": 2.0, "c2": 3.0}, "not after"),
        ({"date": "2030-01-01 00:00", "c0": 1.0, "c1": 2.0, "c2": 3.0}, "gap"),
        # a mistyped year past nanoseconds' range had raised OverflowError (and ended tsmamba stream)
        ({"date": "3016-07-03 12:00", "c0": 1.0, "c1": 2.0, "c2": 3.0},  # pandas 2 parses no such year
         r"timestamp (3016-07-03 12:00:00 is outside 1677-09-21 \.\. 2262-04-11, .*; check the year|"
         r"'3016-07-03 12:00' cannot be parsed)"),
        ({"date": "not a date", "c0": 1.0, "c1": 2.0, "c2": 3.0}, "cannot be parsed"),
        ({"date": "", "c0": 1.0, "c1": 2.0, "c2": 3.0}, "cannot be parsed"),
        ({"date": "2016-07-03 12:00+00:00", "c0": 1.0, "c1": 2.0, "c2": 3.0}, "the model's series has none"),
        ({"date": "2016-07-03 11:30", "c0": 1.0, "c1": 2.0, "c2": 3.0}, "off the series' h grid"),
        ({"date": "2016-07-03 13:30", "c0": 1.0, "c1": 2.0, "c2": 3.0}, "off the series' h grid"),
    ],
)
def test_rejected_update_leaves_stream_untouched(model, series, bad, match):
    stream = model.stream(history=series.iloc[:60])
    before = snapshot(stream)
    with pytest.raises(StreamError, match=match):
        stream.update(bad)
    assert_same_snapshot(before, snapshot(stream))
    stream.update(series.iloc[60])  # and it goes on
    assert stream.steps == 61


@pytest.mark.parametrize("fill_steps", [4096, 2])
@pytest.mark.parametrize("kind", ["plain", "calendar"])
def test_missing_and_gap_policies(kind, fill_steps, model64, calendar_model, series, paris, tmp_path,
                                  monkeypatch):
    """In float64, to 1e-10: the filled values and, for a calendar model, the filled rows'
    timestamps are exactly what a full recomputation over the filled history reads, also when
    a gap is fed in pieces (``fill_steps`` 2: the 3-step gap below goes in as 2 + 1)."""
    monkeypatch.setattr("tsmamba.streaming.PIECE_STEPS", fill_steps)
    model = model64
    if kind == "calendar":
        model, series = TSMambaForecaster.load(calendar_model.save(tmp_path / "m")), paris
        model.network_.double()
    stream = model.stream(history=series.iloc[:80], missing="ffill", gaps="ffill")
    row = series.iloc[80].copy()
    row.iloc[1] = np.nan
    stream.update(row)
    assert stream._last_values[0, 1] == series.iloc[79, 1]
    later = series.iloc[84]  # rows 81..83 missing: filled with the last values
    fc = stream.update(later)
    filled = pd.concat([series.iloc[:80], row.fillna(series.iloc[79, 1]).to_frame().T])
    filler = pd.DataFrame([filled.iloc[-1].to_numpy()] * 3, index=series.index[81:84], columns=series.columns)
    history = pd.concat([filled, filler, later.to_frame().T])
    history.index = series.index[:85]
    expected = model.predict(history.astype(float), context="full")
    np.testing.assert_allclose(fc.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-10)
    assert stream.last_timestamp == series.index[84]

    # a restarted stream carries the last values it fills with
    restarted = Stream.load(stream.save(tmp_path / "s"), model)
    holed = series.iloc[85].copy()
    holed.iloc[0] = np.nan
    for s in (stream, restarted):
        s.update(holed)
        out = s.update(series.iloc[88])  # after a gap
    np.testing.assert_array_equal(out.to_numpy(), stream.forecast().to_numpy())
    np.testing.assert_array_equal(restarted._last_values, stream._last_values)


def test_zero_policies_feed_zeros_as_a_zero_filled_history_would(model64, series):
    """missing="zero" and gaps="zero" feed 0 in the data's units (a shop closed: nothing sold);
    in float64 the forecasts equal a full recomputation over read_series(fill="zero")'s rows,
    through update and through update_array's NaN path."""
    stream = model64.stream(history=series.iloc[:80], missing="zero", gaps="zero")
    row = series.iloc[80].copy()
    row.iloc[1] = np.nan
    first = stream.update(row)
    fc = stream.update(series.iloc[84])  # rows 81..83 missing
    zeroed = row.fillna(0.0).to_frame().T
    seen = pd.concat([series.iloc[:80], zeroed, series.iloc[[84]]]).astype(float)
    history = read_series(seen.rename_axis("date").reset_index(), fill="zero")
    assert (history.iloc[81:84] == 0).all().all() and history.iloc[80, 1] == 0
    expected = model64.predict(history, context="full")
    np.testing.assert_allclose(fc.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-10)
    expected_first = model64.predict(history.iloc[:81], context="full")
    np.testing.assert_allclose(first.to_numpy(), expected_first.to_numpy(), rtol=0, atol=1e-10)

    lean = model64.stream(history=series.iloc[:80], missing="zero")
    with_nan = series.iloc[80].to_numpy().copy()
    with_nan[1] = np.nan
    np.testing.assert_allclose(lean.update_array(with_nan), first.to_numpy(), rtol=0, atol=1e-10)

    # a NaN carried forward after a gap of zeros is 0, the last value fed, as read_series reads it
    # with fill="zero" then impute="ffill" (it had been the value from before the gap)
    mixed = model64.stream(history=series.iloc[:80], missing="ffill", gaps="zero")
    after_gap = series.iloc[84].copy()
    after_gap.iloc[1] = np.nan
    fc = mixed.update(after_gap)
    seen = pd.concat([series.iloc[:80], after_gap.to_frame().T]).astype(float)
    history = read_series(seen.rename_axis("date").reset_index(), fill="zero", impute="ffill")
    assert history.iloc[84, 1] == 0
    np.testing.assert_allclose(fc.to_numpy(), model64.predict(history, context="full").to_numpy(),
                               rtol=0, atol=1e-10)


def test_updates_given_as_frames(model, series):
    """A one-row frame (df.tail(1)) for one series, a frame indexed by id for several: each had
    been read as an array ("got shape (1, 3)"; for several, its column names as the rows)."""
    stream, by_series = model.stream(series.iloc[:60]), model.stream(series.iloc[:60])
    pd.testing.assert_frame_equal(stream.update(series.iloc[[60]]), by_series.update(series.iloc[60]))
    assert stream.last_timestamp == series.index[60]
    before = snapshot(stream)
    with pytest.raises(StreamError, match=r"update takes one row, got a frame of 2; feed a series' rows "
                                          r"with update_many\(frame\)"):
        stream.update(series.iloc[61:63])
    assert_same_snapshot(before, snapshot(stream))

    histories = {"a": series.iloc[:60], "b": series.iloc[:50], "c": series.iloc[:40]}
    many, by_dict = model.stream(histories), model.stream(histories)
    frame = pd.DataFrame([series.iloc[50], series.iloc[60]], index=["b", "a"])  # c does not advance
    frame.insert(0, "date", [series.index[50], series.index[60]])
    out, expected = many.update(frame), by_dict.update({"a": series.iloc[60], "b": series.iloc[50]})
    assert list(out) == ["a", "b"]
    for key in ("a", "b"):
        pd.testing.assert_frame_equal(out[key], expected[key])
    before = snapshot(many)
    for bad, match in ((series.iloc[51:53], r"needs their ids as its index, one row each \(e\.g\. "
                                            r"df\.set_index\('unique_id'\)\); its index starts \[Timestamp"),
                       (frame.iloc[[0, 0]], r"one row per series; ids \['b'\] repeat")):
        with pytest.raises(StreamError, match=match):
            many.update(bad)
        assert_same_snapshot(before, snapshot(many))

    # a timestamp in two places, or none it can read, had been resolved silently
    stream_before = snapshot(stream)
    later = series.iloc[[65]]  # 4 steps after the last: a gap if its time is read
    two_times = later.assign(date=series.index[61])
    by_id = later.set_index(pd.Index(["a"], name="unique_id"), append=True)
    for bad, match in ((two_times, r"takes its timestamp from a DatetimeIndex or a 'date' column; this "
                                   r"one has both \(and 'date'\): keep one \(e\.g\. "
                                   r"df\.drop\(columns='date'\)\)"),
                       (by_id, r"this one has a MultiIndex: keep the times \(e\.g\. df\.droplevel"),
                       (later.set_axis(["c0", "c0", "c1"], axis=1), r"update columns repeat: \['c0'\]")):
        with pytest.raises(StreamError, match=match):
            stream.update(bad)
        assert_same_snapshot(stream_before, snapshot(stream))
    repeated = frame.set_axis(["date", "c0", "c0", "c2"], axis=1)
    with pytest.raises(StreamError, match=r"update columns repeat: \['c0'\]"):  # the last had been kept
        many.update(repeated)


def test_save_and_restart(model, series, tmp_path):
    stream = model.stream(history=series.iloc[:90])
    stream.update(series.iloc[90])
    path = stream.save(tmp_path / "stream")
    restarted = Stream.load(path, model)
    for t in range(91, 96):
        a = stream.update(series.iloc[t])
        b = restarted.update(series.iloc[t])
        pd.testing.assert_frame_equal(a, b)
    assert stream.state_bytes() == restarted.state_bytes() < 50_000
    assert stream.steps == restarted.steps == 96

    other = TSMambaForecaster(**{**TINY, "random_state": 1}).fit(series.iloc[:200])
    with pytest.raises(CheckpointError, match="different model"):
        Stream.load(path, other)
    rescaled = TSMambaForecaster(**TINY).fit(series.iloc[:200] * 1000)  # the same weights, to the bit
    with pytest.raises(CheckpointError, match="same weights fitted on other data"):
        Stream.load(path, rescaled)  # it forecast 1000 times larger


def test_a_stream_save_keeps_the_callers_extra_json_and_load_ignores_it(model, series, tmp_path):
    stream = model.stream(history=series.iloc[:90])
    path = stream.save(tmp_path / "stream", extra={"read": {"sep": ";"}, "n": np.int64(3)})
    assert read_meta(path)["extra"] == {"read": {"sep": ";"}, "n": 3}
    resumed = Stream.load(path, model)
    pd.testing.assert_frame_equal(resumed.update(series.iloc[90]), stream.update(series.iloc[90]))
    with pytest.raises(ConfigError, match=re.escape("save(extra=...) takes a mapping of JSON values (no NaN "
                                                    "or inf): Out of range float values")):
        stream.save(tmp_path / "bad", extra={"x": float("inf")})
    with pytest.raises(ConfigError, match=r"extra\['ids'\] is a tuple, \(1, 2\), which JSON would load back"):
        stream.save(tmp_path / "bad", extra={"ids": (1, 2)})
    assert not (tmp_path / "bad").exists()


def test_a_stream_saved_with_sums_of_squares_loads_and_continues(model64, series, tmp_path):
    """Saved streams held the causal norm's sum of x^2 before its squared deviations; such a save
    still loads, and continues as the stream it was (float64: to 1e-10)."""
    stream = model64.stream(history=series.iloc[:90])
    meta, tensors = read_checkpoint(stream.save(tmp_path / "new"), "tsmamba-stream")
    s, q, w = tensors["state"]["moments"].unbind(-1)
    tensors["state"]["moments"] = torch.stack([s, q + s * s / w, w], dim=-1)  # the old layout
    del meta["moments"]
    old = Stream.load(write_checkpoint(tmp_path / "old", meta, tensors), model64)
    for t in range(90, 95):
        a, b = stream.update(series.iloc[t]), old.update(series.iloc[t])
        np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), atol=1e-10, rtol=0)


def test_many_streams_each_with_its_own_state(model64, series):
    histories = {"a": series.iloc[:100], "b": series.iloc[20:140], "c": series.iloc[:60]}
    stream = model64.stream(histories)
    nxt = {"a": series.iloc[100], "b": series.iloc[140], "c": series.iloc[60]}
    out = stream.update(nxt)
    for key, hist in histories.items():
        full = pd.concat([hist, nxt[key].to_frame().T]).astype(float)
        expected = model64.predict(full, context="full")
        np.testing.assert_allclose(out[key].to_numpy(), expected.to_numpy(), atol=1e-10, rtol=0)
    before = stream.forecast()
    only_b = stream.update({"b": series.iloc[141]})  # a subset of the streams
    assert list(only_b) == ["b"]  # the forecasts it advanced; forecast() gives them all
    expected = model64.predict(series.iloc[20:142], context="full")
    np.testing.assert_allclose(only_b["b"].to_numpy(), expected.to_numpy(), atol=1e-10, rtol=0)
    after = stream.forecast()
    pd.testing.assert_frame_equal(after["b"], only_b["b"])
    for key in ("a", "c"):  # their states and forecasts kept, though b's was written in place
        pd.testing.assert_frame_equal(after[key], before[key])
    two = stream.update({"c": series.iloc[61], "a": series.iloc[101]}, as_array=True)
    assert two.shape == (2, 6, series.shape[1])  # in the stream's order of ids: a, then c
    np.testing.assert_allclose(two[0], model64.predict(series.iloc[:102], context="full").to_numpy(),
                               atol=1e-10, rtol=0)
    np.testing.assert_allclose(two[1], model64.predict(series.iloc[:62], context="full").to_numpy(),
                               atol=1e-10, rtol=0)
    assert stream.last_timestamp["a"] == series.index[101]
    assert stream.steps == {"a": 102, "b": 122, "c": 62}  # was the batch's max + 1 for every series




def test_gaps_of_several_series_fill_exactly_and_a_rejection_keeps_every_state(model64, series):
    """Each gapped series' state was scattered back into a copy of all the updated ones (k gapped
    of b: O(k b) copies; 2,000 of 2,000 took 20.7 s); filled in place now, into the update's own
    copy, so a later rejection still leaves the stream as it was."""
    histories = {"a": series.iloc[:100], "b": series.iloc[:90], "c": series.iloc[:80]}
    stream = model64.stream(histories, gaps="ffill")
    before = snapshot(stream)
    too_large = series.iloc[82].copy()
    too_large.iloc[0] = 1e300
    for subset in (["a", "c"], ["a", "b", "c"]):  # some series, and every series (the stream's own state)
        rows = {"a": series.iloc[102], "b": series.iloc[92], "c": too_large}
        with pytest.raises(StreamError):
            stream.update({k: rows[k] for k in subset})  # gaps filled, then the value refused
        assert_same_snapshot(before, snapshot(stream))
    out = stream.update({"a": series.iloc[102], "c": series.iloc[82]})  # 2 missing rows each
    for key, hist, nxt in (("a", histories["a"], 102), ("c", histories["c"], 82)):
        last = hist.iloc[-1].to_numpy()
        filler = pd.DataFrame([last, last], index=series.index[len(hist) : len(hist) + 2],
                              columns=series.columns)
        full = pd.concat([hist, filler, series.iloc[[nxt]]])
        expected = model64.predict(full, context="full")
        np.testing.assert_allclose(out[key].to_numpy(), expected.to_numpy(), atol=1e-10, rtol=0)
    untouched = model64.stream(histories["b"]).forecast()
    np.testing.assert_array_equal(stream.forecast()["b"].to_numpy(), untouched.to_numpy())


def test_inputs_that_are_no_model_or_no_numbers_are_typed_errors(model, series, tmp_path):
    """Found by a fuzz of the public functions: AttributeError and numpy's ValueError had come through."""
    with pytest.raises(ConfigError, match="a stream needs a fitted TSMambaForecaster, got NoneType"):
        Stream(None, series.iloc[:40])
    path = model.stream(series.iloc[:40]).save(tmp_path / "s")
    with pytest.raises(ConfigError, match="a stream needs a fitted TSMambaForecaster, got dict"):
        Stream.load(path, {})
    stream = model.stream(series.iloc[:40])
    for bad in ("abc", {"c0": 1.0}, [None, "x", 2]):
        with pytest.raises(StreamError, match=r"update_array takes numbers, got .*; use update\(\) for rows"):
            stream.update_array(bad)
    assert stream.steps == 40


def test_an_unknown_series_id_is_named_with_a_few_of_the_known_ones(model, series):
    stream = Stream(model, [series.iloc[:40]] * 12, ids=[f"s{i}" for i in range(12)])
    with pytest.raises(StreamError, match=r"unknown series ids \['x'\]; this stream has 12 ids, the first "
                                          r"\['s0', 's1', .*, 's9'\]$"):
        stream.update({"s1": series.iloc[40], "x": series.iloc[40]})

def test_an_empty_update_of_several_series_advances_none(model, series):
    """It had raised IndexError (an empty index tensor is float)."""
    stream = model.stream({"a": series.iloc[:50], "b": series.iloc[:60]})
    before = snapshot(stream)
    assert stream.update({}) == {}
    assert stream.update({}, as_array=True).shape == (0, 6, series.shape[1])
    assert_same_snapshot(before, snapshot(stream))


@pytest.mark.parametrize("channel_mode", ["mix", "independent"])
def test_a_warmed_stream_holds_and_saves_only_its_state(series, channel_mode, tmp_path):
    """The state after a pass viewed that pass's buffers (the last of the (b, l, C, 3) moving
    sums, the head's last K - 1 hidden states): kept alive by the stream and written whole by
    its save, 160 to 400 KB for 3 to 10 KB of state after 4,000 rows."""
    import os

    est = TSMambaForecaster(**{**TINY, "channel_mode": channel_mode, "head_window": 4}).fit(series.iloc[:200])
    long = synthetic_ett(n_rows=4000, n_channels=3, seed=5).set_index("date")
    stream = est.stream(history=long)
    for name, t in stream._state.tensors().items():
        assert t.untyped_storage().nbytes() == t.numel() * t.element_size(), name
    path = stream.save(tmp_path / "s")
    saved = sum(os.path.getsize(p) for p in path.iterdir())
    assert saved < stream.state_bytes() + 16_000  # the state, the forecast and the metadata

def test_revin_models_cannot_stream(series):
    est = TSMambaForecaster(**{**TINY, "norm": "revin"}).fit(series.iloc[:200])
    with pytest.raises(ConfigError, match="revin"):
        est.stream(history=series.iloc[:50])


def test_stream_command_line(model, series, tmp_path):
    """`tsmamba stream`: JSON line per good row, one error line per bad row, and it goes on."""
    import json
    import subprocess
    import sys

    model_dir = model.save(tmp_path / "model")
    history = tmp_path / "history.csv"
    series.iloc[:150].to_csv(history)
    good = [
        f"{ts},{','.join(str(v) for v in row)}"
        for ts, row in zip(series.index[150:153], series.to_numpy()[150:153], strict=True)
    ]
    lines = [
        "date," + ",".join(series.columns),
        good[0],
        "2016-07-01 00:00:00,1,2,3",
        good[1],
        "x,1,2",
        good[2],
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "tsmamba", "stream", "--model", str(model_dir), "--history", str(history)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr  # read to the end, two lines rejected
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(records) == 3
    expected = model.predict(series.iloc[:153], context="full")
    np.testing.assert_allclose(np.array(records[-1]["forecast"]), expected.to_numpy(), rtol=1e-4, atol=1e-3)
    printed = np.array(records[-1]["forecast"])
    assert not np.allclose(printed, printed.round(6), rtol=0, atol=1e-12)  # 6 decimals zeroed 1e-9 values
    assert records[-1]["columns"] == list(series.columns) and records[-1]["index"][0] == str(
        expected.index[0]
    )
    errors = [line for line in proc.stderr.splitlines() if "error: line" in line]
    assert len(errors) == 2 and "not after" in errors[0] and "expected 4 fields" in errors[1]
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def paris(series) -> pd.DataFrame:
    """The series relabelled in Europe/Paris, crossing the 2024-03-31 DST change at row 146."""
    index = pd.date_range("2024-03-25", periods=len(series), freq="h", tz="Europe/Paris", name="date")
    return series.set_axis(index)


@pytest.fixture(scope="module")
def calendar_model(paris) -> TSMambaForecaster:
    return TSMambaForecaster(**TINY, time_features=True, cycle_length=24).fit(paris.iloc[:200])


def test_large_level_streams_like_full_recomputation(model, series, tmp_path):
    """Level 1e5, std ~0.01: the stream scales in float64 before the float32 cast, like predict.
    Same network and scaled inputs as ``model``: only the units change."""
    shifted = TSMambaForecaster.load(model.save(tmp_path / "m"))
    shifted.scaler_.mean_ = 1e5 + 0.01 * shifted.scaler_.mean_
    shifted.scaler_.scale_ = 0.01 * shifted.scaler_.scale_
    data = 1e5 + 0.01 * series
    stream = shifted.stream(history=data.iloc[:100])
    for t in range(100, 120):
        arr = stream.update_array(data.iloc[t].to_numpy())
    expected = shifted.predict(data.iloc[:120], context="full").to_numpy()
    assert (np.abs(arr - expected) / shifted.scaler_.scale_).max() < 1e-3


def test_save_and_load_keep_the_time_zone_across_dst(calendar_model, paris, tmp_path, unsigned_meta):
    stream = calendar_model.stream(history=paris.iloc[:120])
    restarted = Stream.load(stream.save(tmp_path / "s"), calendar_model)
    assert restarted.last_timestamp == stream.last_timestamp
    assert str(restarted.last_timestamp.tz) == "Europe/Paris"
    for t in range(120, 160):  # crosses 2024-03-31 02:00 -> 03:00
        a = stream.update_array(paris.iloc[t].to_numpy())
        b = restarted.update_array(paris.iloc[t].to_numpy())
    np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(stream.forecast(), restarted.forecast())

    # a save in the older format (isoformat strings) still loads, with its UTC offset
    import json

    meta_file = tmp_path / "s" / "meta.json"
    meta = unsigned_meta(tmp_path / "s")
    meta["last_time"] = [paris.index[119].isoformat()]
    meta_file.write_text(json.dumps(meta))
    assert Stream.load(tmp_path / "s", calendar_model).last_timestamp == paris.index[119]


def test_frames_in_another_zone_forecast_on_the_fitted_calendar(calendar_model, paris, tmp_path):
    """The same instants in UTC used to get UTC phases and time features (forecasts 3.97 off)."""
    utc = paris.iloc[:180].tz_convert("UTC")
    for context in ("window", "full"):
        expected = calendar_model.predict(paris.iloc[:180], context=context)
        pd.testing.assert_frame_equal(calendar_model.predict(utc, context=context), expected)
    expected = calendar_model.stream(history=paris.iloc[:180]).forecast()
    pd.testing.assert_frame_equal(calendar_model.stream(history=utc).forecast(), expected)
    with pytest.raises(DataValidationError, match=r"^the frame's timestamps are without a time zone, but the "
                                                  r"model was fitted on timestamps in Europe/Paris"):
        calendar_model.predict(paris.iloc[:100].tz_localize(None))
    path = tmp_path / "naive.csv"  # a file is named as such, not as "the frame" (helper-169)
    paris.iloc[:100].tz_localize(None).rename_axis("date").to_csv(path)
    # and told how to write its times (the frame's "give them in Europe/Paris" named no way to)
    wanted = r"^naive\.csv: the timestamps have no UTC offsets, but the model was fitted on timestamps in "
    with pytest.raises(DataValidationError, match=wanted + r"Europe/Paris; write them with their offsets"):
        calendar_model.predict(str(path))
    # naive local times across the October change repeat an hour: the zone is what they lack, not
    # a duplicate row to drop (helper-169)
    october = pd.date_range("2024-10-25", periods=180, freq="h", tz="Europe/Paris", name="date")
    local = paris.iloc[:180].set_axis(october.tz_localize(None))
    assert local.index.has_duplicates
    for given in (local, path):
        if given is path:
            local.to_csv(path)
        with pytest.raises(DataValidationError, match=r"the timestamps are without a time zone, and that is "
                                                      r"the hour Europe/Paris repeats") as info:
            calendar_model.predict(given if given is local else str(path))
        assert "Drop or aggregate" not in str(info.value)


@pytest.mark.parametrize("as_name", [lambda t: t.to_pydatetime(), lambda t: t.to_datetime64()])
def test_a_series_named_by_a_datetime_is_timestamped(model, series, as_name):
    """A datetime or datetime64 name used to be ignored: five missing rows went unnoticed."""
    stream = model.stream(history=series.iloc[:200])
    row = series.iloc[205]
    with pytest.raises(StreamError, match="gap: 5 step"):
        stream.update(pd.Series(row.to_numpy(), index=row.index, name=as_name(row.name)))


def test_integer_column_names_update_like_the_fitted_text_names(series):
    frame = series.iloc[:80].set_axis(range(3), axis=1)  # columns 0, 1, 2: fitted as "0", "1", "2"
    est = TSMambaForecaster(**TINY).fit(frame.iloc[:60])
    by_row, by_dict = est.stream(history=frame.iloc[:60]), est.stream(history=frame.iloc[:60])
    by_row.update(frame.iloc[60])
    by_dict.update({0: frame.iat[60, 0], 1: frame.iat[60, 1], 2: frame.iat[60, 2]})
    expected = est.predict(frame.iloc[:61], context="full")
    for stream in (by_row, by_dict):
        np.testing.assert_allclose(stream.forecast().to_numpy(), expected.to_numpy(), rtol=1e-4, atol=1e-4)


def test_calendar_updates_without_a_timestamp_take_the_next_step(calendar_model, paris):
    timed = calendar_model.stream(history=paris.iloc[:150])
    untimed = calendar_model.stream(history=paris.iloc[:150])
    for t in range(150, 156):
        timed.update(paris.iloc[t])
        untimed.update(dict(paris.iloc[t]) if t % 2 else paris.iloc[t].to_numpy())  # no time given
    assert untimed.last_timestamp == timed.last_timestamp == paris.index[155]
    pd.testing.assert_frame_equal(untimed.forecast(), timed.forecast())
    fresh = calendar_model.stream()  # no history: no last time to step from
    with pytest.raises(StreamError, match="needs a timestamp until the stream knows its last one"):
        fresh.update(paris.iloc[0].to_numpy())


def test_few_rows_on_a_business_day_grid_are_taken_at_the_fitted_frequency(series):
    """Three business days were read as daily and refused; one row could not be read at all."""
    days = series.set_axis(pd.bdate_range("2024-01-01", periods=len(series), name="date"))
    est = TSMambaForecaster(**TINY).fit(days.iloc[:200])
    stream = est.stream(history=days.iloc[:200])
    stream.update_many(days.iloc[200:203])  # Mon-Wed: alone, these look daily
    stream.update_many(days.iloc[203:204])  # one row
    expected = est.predict(days.iloc[:204], context="full")
    np.testing.assert_allclose(stream.forecast().to_numpy(), expected.to_numpy(), rtol=1e-4, atol=1e-4)
    assert stream.forecast().index.equals(expected.index) and expected.index.freqstr == "B"


def test_daily_frames_in_another_zone_across_dst_are_read_on_the_fitted_calendar(series):
    """In UTC a Paris day across the DST change is 23 hours long: checked in UTC, such a frame
    was refused as irregular."""
    days = series.set_axis(pd.date_range("2020-01-01", periods=len(series), freq="D",
                                         tz="Europe/Paris", name="date"))
    est = TSMambaForecaster(**TINY).fit(days.iloc[:60])  # ends 2020-02-29
    crossing = days.iloc[60:100]  # March 2020, clocks forward on the 29th
    expected = est.predict(crossing, context="full")
    pd.testing.assert_frame_equal(est.predict(crossing.tz_convert("UTC"), context="full"), expected)
    as_column = crossing.tz_convert("UTC").reset_index()  # zone-aware times in a 'date' column
    pd.testing.assert_frame_equal(est.predict(as_column, context="full"), expected)
    as_text = as_column.assign(date=as_column["date"].astype(str))  # '2020-03-01 ...+00:00'
    pd.testing.assert_frame_equal(est.predict(as_text, context="full"), expected)



def test_a_gap_in_a_zone_aware_daily_stream_across_dst_counts_calendar_days(series):
    """A Paris day across the DST change is 23 hours: counted as 24-hour steps, pandas 2's
    calendar days would have made the gap 'off the grid' instead of three missing days."""
    days = series.set_axis(pd.date_range("2020-01-01", periods=len(series), freq="D",
                                         tz="Europe/Paris", name="date"))
    est = TSMambaForecaster(**TINY).fit(days.iloc[:60])
    rejecting = est.stream(history=days.iloc[:87])  # the last day seen: 2020-03-27
    with pytest.raises(StreamError, match=r"gap: 3 step\(s\) missing between 2020-03-27 00:00:00\+01:00 "
                                          r"and 2020-03-31 00:00:00\+02:00"):
        rejecting.update(days.iloc[90])  # 03-28, 03-29 (23 hours) and 03-30 missing
    filling = est.stream(history=days.iloc[:87], gaps="ffill")
    filling.update(days.iloc[90])
    assert filling.steps == 91 and filling.last_timestamp == days.index[90]
    filled = pd.concat([days.iloc[:87], pd.DataFrame([days.iloc[86].to_numpy()] * 3, index=days.index[87:90],
                                                     columns=days.columns), days.iloc[[90]]])
    np.testing.assert_allclose(filling.forecast().to_numpy(), est.predict(filled, context="full").to_numpy(),
                               rtol=1e-4, atol=1e-5)

def test_a_dateutil_zone_saves_and_loads(paris, tmp_path, dateutil_zones):
    """The zone of a dateutil index used to be saved as "tzfile('/usr/share/...')", a name that
    did not load: the model and the stream saved fine and could not be loaded."""
    import dateutil.tz

    frame = paris.tz_convert(dateutil.tz.gettz("Europe/Paris"))
    est = TSMambaForecaster(**TINY, time_features=True, cycle_length=24).fit(frame.iloc[:120])
    loaded = TSMambaForecaster.load(est.save(tmp_path / "m"))
    assert loaded.index_.equals(est.index_)
    pd.testing.assert_frame_equal(loaded.predict(), est.predict())  # the calendar crosses DST

    stream = est.stream(history=frame.iloc[:130])
    restarted = Stream.load(stream.save(tmp_path / "s"), loaded)
    assert restarted.last_timestamp == stream.last_timestamp
    for t in range(130, 160):  # crosses 2024-03-31 02:00 -> 03:00
        a = stream.update_array(frame.iloc[t].to_numpy())
        b = restarted.update_array(frame.iloc[t].to_numpy())
    np.testing.assert_array_equal(a, b)


def test_update_time_zone_must_match_the_series(calendar_model, paris):
    stream = calendar_model.stream(history=paris.iloc[:120])
    before = snapshot(stream)
    naive = paris.iloc[120].rename(paris.index[120].tz_localize(None))
    with pytest.raises(StreamError, match="no time zone but the model's series is in Europe/Paris"):
        stream.update(naive)
    assert_same_snapshot(before, snapshot(stream))
    # the same instant in another zone is read in the series' zone
    in_utc = stream.update(paris.iloc[120].rename(paris.index[120].tz_convert("UTC")))
    expected = calendar_model.stream(history=paris.iloc[:121]).forecast()
    pd.testing.assert_frame_equal(in_utc, expected, rtol=1e-4)
    assert str(stream.last_timestamp.tz) == "Europe/Paris"


def test_a_stream_without_history_reads_its_first_timestamps_in_the_model_zone(calendar_model, paris):
    # the zone was checked only against a series' last time, so a fresh stream took UTC for its
    # calendar (time features, cycle) and forecast on the UTC clock
    stream = calendar_model.stream(None)
    with pytest.raises(StreamError, match="no time zone but the model's series is in Europe/Paris"):
        stream.update(paris.iloc[0].rename(paris.index[0].tz_localize(None)))
    for t in range(40):
        out = stream.update(paris.iloc[t].rename(paris.index[t].tz_convert("UTC")))
    expected = calendar_model.predict(paris.iloc[:40], context="full")
    pd.testing.assert_frame_equal(out, expected, rtol=1e-4, atol=1e-5)  # float32 rounding
    assert out.index.equals(expected.index) and str(stream.last_timestamp.tz) == "Europe/Paris"


def test_update_array_fills_a_nan_for_a_calendar_model(calendar_model, paris):
    """update_array hands a NaN to update's missing="ffill" policy with the derived timestamp."""
    histories = {"a": paris.iloc[:120], "b": paris.iloc[:110]}
    stream = calendar_model.stream(histories, missing="ffill")
    lean = calendar_model.stream(histories)
    rows = np.stack([paris.iloc[120].to_numpy(), paris.iloc[110].to_numpy()])
    rows[0, 1] = np.nan
    out = stream.update_array(rows)
    rows[0, 1] = paris.iloc[119, 1]  # the value the policy carries forward
    np.testing.assert_allclose(out, lean.update_array(rows), rtol=1e-6, atol=1e-6)
    assert stream.last_timestamp == {"a": paris.index[120], "b": paris.index[110]}


def test_update_array_applies_the_missing_policy_to_its_bad_rows_only(model64, series):
    """update_array meets a NaN or ±inf row with update's policy and messages (series, column,
    derived timestamp), leaves the stream untouched when it refuses, and leaves the caller's
    array as it was when it carries a value forward; the filled step equals update's, to 1e-10."""
    histories = {"a": series.iloc[:120], "b": series.iloc[:110], "c": series.iloc[:100]}
    rows = np.stack([series.iloc[120].to_numpy(), series.iloc[110].to_numpy(), series.iloc[100].to_numpy()])
    strict = model64.stream(histories)
    before = snapshot(strict)
    for value, match in ((np.nan, r"series 'b': missing value in \['c1'\] at 2016-07-05 14:00:00; "
                                  r"send a value, or use missing='ffill'"),
                         (-np.inf, r"series 'b': infinite value in \['c1'\] at 2016-07-05 14:00:00")):
        bad = rows.copy()
        bad[1, 1] = value
        with pytest.raises(StreamError, match=match):
            strict.update_array(bad)
        assert_same_snapshot(before, snapshot(strict))

    lenient = model64.stream(histories, missing="ffill")
    reference = model64.stream(histories, missing="ffill")
    gapped = rows.copy()
    gapped[1, 1] = gapped[2] = np.nan
    held = gapped.copy()
    out = lenient.update_array(gapped)
    np.testing.assert_array_equal(gapped, held)
    expected = reference.update({i: pd.Series(gapped[k], index=series.columns)
                                 for k, i in enumerate("abc")}, as_array=True)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(lenient._last_values[2], series.iloc[99].to_numpy())
    assert lenient.steps == {"a": 121, "b": 111, "c": 101}


def test_update_many_reads_strictly_and_says_so(model, series):
    stream = model.stream(history=series.iloc[:60], missing="ffill")
    rows = series.iloc[60:63].copy()
    rows.iloc[1, 0] = np.nan
    with pytest.raises(StreamError, match=r"column 'c0': 1 NaN, first at .*\. update_many takes "
                       r"complete rows: send rows with a missing value through update\(\)"):
        stream.update_many(rows)  # it advised impute=, no option of update_many's
    with pytest.raises(StreamError, match=r"column 'c0': 1 ±inf, first at .*\(row 1\)\. A stream takes "
                       r"finite values only, in update\(\) too$"):  # a StreamError, as update's
        stream.update_many(rows.fillna(np.inf))
    stream.update(rows.iloc[0])  # the policy applies to update
    assert np.isfinite(stream.update(rows.iloc[1]).to_numpy()).all()


def test_series_ids_must_differ(model, series):
    # 1 == True: an update for True went to series 1, and a repeated id could never be reached
    for ids, shown in (([1, True], "1 and True"), (["x", "y", "x"], "'x' and 'x'")):
        with pytest.raises(ConfigError, match=f"series ids must differ, but {shown} are equal"):
            Stream(model, [series.iloc[:50]] * len(ids), ids=ids)
    with pytest.raises(ConfigError, match="not hashable"):
        Stream(model, [series.iloc[:50]], ids=[["a"]])


def test_save_keeps_the_type_of_series_ids(model, series, tmp_path):
    keys = pd.Index([10, 20]).to_numpy()  # numpy.int64, as from a groupby
    stream = model.stream({keys[0]: series.iloc[:100], keys[1]: series.iloc[:110]})
    restarted = Stream.load(stream.save(tmp_path / "np"), model)
    assert restarted.ids == [10, 20] and all(type(i) is int for i in restarted.ids)
    a = stream.update({keys[0]: series.iloc[100]}, as_array=True)
    b = restarted.update({keys[0]: series.iloc[100]}, as_array=True)
    np.testing.assert_array_equal(a, b)

    mixed = Stream(model, [series.iloc[:50]] * 3, ids=["a", 2, 3.5])
    assert [type(i) for i in Stream.load(mixed.save(tmp_path / "mixed"), model).ids] == [str, int, float]

    odd = Stream(model, [series.iloc[:50]], ids=[("a", 1)])
    with pytest.raises(StreamError, match=r"series id \('a', 1\) \(tuple\)"):
        odd.save(tmp_path / "odd")
    assert not (tmp_path / "odd").exists()


def test_a_stream_keeps_its_model_when_the_forecaster_is_fitted_again(series):
    """The stream held the old network but read the refit's scaler: forecasts in other units."""
    est = TSMambaForecaster(**TINY).fit(series.iloc[:200])
    stream = est.stream(series.iloc[:200])
    before = stream.forecast()
    est.fit(series.iloc[:200] * 100 + 1000)
    pd.testing.assert_frame_equal(stream.forecast(), before)
    after = stream.update(series.iloc[200])
    fresh = TSMambaForecaster(**TINY).fit(series.iloc[:200]).stream(series.iloc[:201]).forecast()
    pd.testing.assert_frame_equal(after, fresh)


def test_update_array_refuses_a_value_float32_cannot_carry(model, series):
    """A finite 1e39 became inf in float32 and every later forecast NaN."""
    stream = model.stream(history=series.iloc[:60])
    before = snapshot(stream)
    with pytest.raises(StreamError, match=r"values in \['c0'\] reach"):
        stream.update_array(np.array([1e39, 1.0, 2.0]))
    assert_same_snapshot(before, snapshot(stream))


def test_several_calendar_series_updated_together_equal_their_full_recomputations(calendar_model, paris):
    """One update for series at different times: their marks come from one call, their forecast
    frames from one index per distinct time (each frame keeps its own index object)."""
    model = calendar_model
    model.network_.double()
    try:
        histories = {"a": paris.iloc[:100], "b": paris.iloc[30:150], "c": paris.iloc[:100]}
        stream = model.stream(histories)
        nxt = {"a": paris.iloc[100], "b": paris.iloc[150], "c": paris.iloc[100]}
        out = stream.update(nxt)
        for key, hist in histories.items():
            expected = model.predict(pd.concat([hist, nxt[key].to_frame().T]).astype(float), context="full")
            np.testing.assert_allclose(out[key].to_numpy(), expected.to_numpy(), atol=1e-10, rtol=0)
            assert out[key].index.equals(expected.index)
        out["a"].index.name = "renamed"
        assert out["c"].index.name == expected.index.name  # "a" and "c" share a time, not an index
    finally:
        model.network_.float()


def test_a_damaged_stream_save_is_a_checkpoint_error(model, series, tmp_path, unsigned_meta):
    """Edited or damaged metadata raised KeyError / TypeError, or loaded and failed at update."""
    import json

    path = model.stream(history=series.iloc[:60]).save(tmp_path / "s")
    good = unsigned_meta(path)
    edits = [lambda m: m.pop("model"), lambda m: m.pop("ids"), lambda m: m.update(ids=5),
             lambda m: m.update(ids=[0, 1]), lambda m: m.update(seen="x"), lambda m: m.update(seen=[1, 2, 3]),
             lambda m: m.update(steps="x"), lambda m: m.update(missing="bogus")]
    for edit in edits:
        meta = json.loads(json.dumps(good))
        edit(meta)
        (path / "meta.json").write_text(json.dumps(meta))
        with pytest.raises(CheckpointError) as err:
            Stream.load(path, model)
        assert str(err.value).startswith(str(path))  # named, with what is wrong
    (path / "meta.json").write_text(json.dumps(good))
    assert Stream.load(path, model).steps == 60


def test_a_forecasters_own_error_at_stream_load_is_not_blamed_on_the_save(model, series, tmp_path):
    path = model.stream(history=series.iloc[:60]).save(tmp_path / "s")
    changed = TSMambaForecaster.load(model.save(tmp_path / "m")).set_params(horizon=8)
    with pytest.raises(ConfigError, match="parameters changed since fit"):  # was "save it again"
        Stream.load(path, changed)


# ---- CSV lines (what `tsmamba stream` reads) ---------------------------------------------------


def test_csv_lines_in_model_order_with_missing_words_and_a_byte_order_mark():
    reader = CSVLineReader(["a", "b"])
    first = reader.read("\ufeff2024-01-01 00:00,1.5,NA\n")
    assert first == {"date": "2024-01-01 00:00", "a": "1.5", "b": "nan"}
    assert reader.read("\n") is None and reader.read("  \n") is None  # blank lines are skipped
    assert reader.read("2024-01-01 01:00,,2\n") == {"date": "2024-01-01 01:00", "a": "nan", "b": "2"}
    assert reader.line_number == 4 and reader.header_line is None
    # a line of empty fields is a row (read_csv reads one), not a blank line (helper-130: it had
    # been skipped without a word): the stream rejects its missing time
    assert reader.read(",,\n") == {"date": "", "a": "nan", "b": "nan"}
    with pytest.raises(StreamError, match=r"expected 3 fields \(time, a, b\), got 2"):
        reader.read(" , \n")


def test_csv_lines_as_bytes_are_decoded_one_by_one():
    """A line that is not UTF-8 is one bad row; as the first line (maybe the header) it stops the
    reading, since reading on by position could swap channels (a Latin-1 header 'date,RH,T°C')."""
    reader = CSVLineReader(["a", "b"])
    assert reader.read(b"\xef\xbb\xbf2024-01-01 00:00,1.5,2\r\n") == {"date": "2024-01-01 00:00", "a": "1.5",
                                                                     "b": "2"}
    with pytest.raises(StreamError,
                       match=r"^not utf-8 text \(byte b0 at position 17\); send the lines as utf-8$"):
        reader.read(b"2024-01-01 01:00,\xb0,2\n")
    assert reader.read(b"2024-01-01 02:00,3,4\n") == {"date": "2024-01-01 02:00", "a": "3", "b": "4"}
    first = CSVLineReader(["a", "b"])
    assert first.read(b"\n") is None
    with pytest.raises(DataValidationError,
                       match=r"line 2: not utf-8 text \(byte b0 at position 8\); send the lines as utf-8\. "
                       r"The first line may be a header, so the lines after it cannot be read"):
        first.read(b"date,b,T\xb0C\n")
    latin = CSVLineReader(["T°C"], encoding="latin-1")
    assert latin.read(b"date,T\xb0C\n") is None and latin.header_line == 1


def test_csv_header_maps_channels_by_name_and_lists_the_ignored_ones():
    reader = CSVLineReader(["a", "b"])
    assert reader.read("time,b,extra,a\n") is None
    assert (reader.header_line, reader.ignored) == (1, ["extra"])
    assert reader.read("2024-01-01,2,9,1\n") == {"date": "2024-01-01", "a": "1", "b": "2"}
    # the same header again (files joined with cat) is skipped; one in another order stops the
    # reading, as the lines after it would be read by the first one's order (it had been a bad row)
    assert reader.read("time,b,extra,a\n") is None
    with pytest.raises(DataValidationError, match=re.escape(
            "line 4: a header ('time,a,b,extra') after data lines, in another order than the lines before "
            "it were read in (time, b, extra, a); the lines after it cannot be read. A header goes on the "
            "first line only")):
        reader.read("time,a,b,extra\n")
    # a line that does not name every channel is a bad row, as before (Stream.update refuses its text)
    assert reader.read("time,oops,9,1\n") == {"date": "time", "a": "1", "b": "oops"}


def test_csv_first_line_is_a_header_only_when_it_reads_as_names():
    assert CSVLineReader.is_header(["date", "1", "2"], ["a", "b"])  # a word for the time
    assert CSVLineReader.is_header(["t0", "a", "b"], ["a", "b"])  # names every channel
    assert not CSVLineReader.is_header(["2024-01-01", "1", "2"], ["a", "b"])
    assert not CSVLineReader.is_header(["2024-13-01", "1", "2"], ["a", "b"])  # a mistyped time: a bad row
    assert not CSVLineReader.is_header(["NA", "1", "2"], ["a", "b"])  # a missing-value word is no name


def test_csv_bad_lines_raise_stream_errors_and_change_nothing_but_the_line_count():
    for bad, message in (('2024-01-01,"1,2\n', "not a CSV line"),  # a stray quote
                         ("2024-01-01,1\n", r"expected 3 fields \(time, a, b\), got 2")):
        reader = CSVLineReader(["a", "b"])
        with pytest.raises(StreamError, match=message):
            reader.read(bad)
        # the bad line was the first, read in the model's order: a header after it in that order is
        # skipped, in another it stops the reading (the lines after it had been read as a, b)
        assert reader.read("date,a,b\n") is None
        with pytest.raises(DataValidationError, match=r"line 3: a header .* in another order"):
            reader.read("date,b,a\n")
        assert reader.read("2024-01-01,1,2\n") == {"date": "2024-01-01", "a": "1", "b": "2"}
        assert reader.line_number == 4 and reader.header_line is None


@pytest.mark.parametrize(("header", "message"), [
    ("date,a\n", r"line 1: the header lacks the model's column\(s\) \['b'\]"),
    ("date,a,b,a\n", r"line 1: the header names \['a'\] more than once"),
    ("a,b,date\n", "line 1: the header starts with the channel 'a'; the time must be the first field"),
])
def test_csv_header_that_cannot_be_followed_stops(header, message):
    with pytest.raises(DataValidationError, match=message):
        CSVLineReader(["a", "b"]).read(header)


def test_csv_header_names_match_with_their_spaces_and_errors_show_a_header_that_reads():
    """A model of ids 'A ' and ' B' refused the header 'day,A , B' (names were stripped on one side
    only); its example header was not CSV ('date,001,Café, Köln' splits the name) and named the
    time 'date' whatever the model's; long-form lines were taken for a header without a word."""
    spaced = CSVLineReader(["A ", " B"], time_name="day")
    assert spaced.read("day,A , B\n") is None
    assert spaced.read("2023-05-01,1,2\n") == {"date": "2023-05-01", "A ": "1", " B": "2"}
    loose = CSVLineReader(["a", "b"])  # names told apart without their spaces: matched either way
    assert loose.read("date, b ,a\n") is None and loose.read("2024-01-01,1,2\n")["b"] == "1"
    wide = CSVLineReader([f"c{i}" for i in range(300)])  # the header of 300 channels had been shown whole
    assert wide.example() == "date,c0,c1,c2,c3,c4,... (295 more channels)"
    ids = CSVLineReader(["001", "1", "Café, Köln"], time_name="day")
    assert ids.example() == 'day,001,1,"Café, Köln"'
    assert CSVLineReader(["001", "1", "Café, Köln"]).read(ids.example() + "\n") is None  # it reads
    first = (r"the header starts with the channel '001'; the time must be the first field: send one line "
             r"per time, .*\(long form, a line per series and time, is not read here\), e.g. the header "
             r"day,001,1,\"Café, Köln\"$")
    with pytest.raises(DataValidationError, match=first):
        ids.read("001,2023-05-01,50\n")
    with pytest.raises(DataValidationError,
                       match=r"lacks the model's column\(s\) \['001', '1', 'Café, Köln'\];.*\(long form"):
        CSVLineReader(["001", "1", "Café, Köln"]).read("store,day,units\n")


def test_a_copied_stream_goes_on_apart(model, series):
    """copy.copy(stream) shared the state, forecasts and last rows: updating the copy moved the
    original, which then refused its next row as 'not after the last one'."""
    import copy

    stream = model.stream({"a": series.iloc[:100], "b": series.iloc[:90]})
    twin = copy.copy(stream)
    before = snapshot(stream)
    twin.update({"a": series.iloc[100]})
    twin.update_array(np.stack([series.iloc[101].to_numpy(), series.iloc[91].to_numpy()]))
    assert_same_snapshot(before, snapshot(stream))
    assert twin.network is stream.network and twin.steps == {"a": 102, "b": 91}

    class Logged(Stream):
        pass

    assert type(copy.copy(Logged(model, series.iloc[:50]))) is Logged
    np.testing.assert_array_equal(stream.update({"a": series.iloc[100]}, as_array=True),
                                  copy.copy(model.stream({"a": series.iloc[:100], "b": series.iloc[:90]}))
                                  .update({"a": series.iloc[100]}, as_array=True))


def test_pandas_na_is_a_missing_value_like_none(model64, series):
    """helper-125: a row of a nullable-dtype frame ("Float64", or read_csv with
    dtype_backend="numpy_nullable") holds pd.NA, which update called "not numeric" and
    update_array "not numbers", instead of meeting the missing policy as None and NaN do."""
    row = series.iloc[80].astype("Float64")
    row.iloc[1] = pd.NA
    plain = series.iloc[80].copy()
    plain.iloc[1] = np.nan
    filled = model64.stream(history=series.iloc[:80], missing="ffill").update(plain)
    with_na = model64.stream(history=series.iloc[:80], missing="ffill").update(row)
    np.testing.assert_array_equal(with_na, filled)
    lean = model64.stream(history=series.iloc[:80], missing="ffill")
    as_objects = np.array([plain.iloc[0], pd.NA, plain.iloc[2]], dtype=object)
    np.testing.assert_array_equal(lean.update_array(as_objects), filled.to_numpy())
    strict = model64.stream(history=series.iloc[:80])  # missing="reject"
    before = snapshot(strict)
    with pytest.raises(StreamError, match=r"missing value in \['.*'\] at "):
        strict.update(row)
    assert_same_snapshot(before, snapshot(strict))


def test_a_float32_stream_keeps_its_norm_moments_in_float64_through_a_save(model, series, tmp_path):
    """The moving sums go on in float64 (model.moments_dtype) in a float32 stream, and a save
    keeps them so: a restarted stream continues exactly as the uninterrupted one."""
    stream = model.stream(history=series.iloc[:100])
    assert stream._state.moments.dtype == torch.float64
    assert stream._state.caches[0].ssm_state.dtype == torch.float32
    restarted = Stream.load(stream.save(tmp_path / "s"), model)
    assert restarted._state.moments.dtype == torch.float64
    for s in (stream, restarted):
        for t in range(100, 110):
            out = s.update(series.iloc[t])
    np.testing.assert_array_equal(out.to_numpy(), restarted.forecast().to_numpy())
    assert_same_snapshot(snapshot(stream), snapshot(restarted))


def test_a_zone_aware_cycle_streams_at_the_wall_clock_hours_across_dst(new_york_cycle_model,
                                                                       wall_clock_cycle):
    """Each update's forecast steps take their own wall-clock phases (clocks back, then forward),
    as the full recomputation does: a stream of a pure wall-clock cycle forecasts that cycle."""
    est = new_york_cycle_model
    for start in ("2021-11-05", "2022-03-11"):
        index = pd.date_range(start, periods=72, freq="h", tz="America/New_York", name="date")
        frame = wall_clock_cycle(index)
        full = est.forecast_origins(frame, np.arange(72), context="full")  # (72, H, C)
        by_row, by_array = est.stream(history=frame.iloc[:30]), est.stream(history=frame.iloc[:30])
        np.testing.assert_allclose(by_row.forecast().to_numpy(), full[29], atol=1e-5)  # warmed in one pass
        # warmed up to 19:00 the day before the change: its forecast steps cross it (helper-144:
        # a warm-up that dropped the phases had passed, as the one above ends before the change)
        across = est.stream(history=frame.iloc[:44]).forecast().to_numpy()
        np.testing.assert_allclose(across, full[43], atol=1e-5)
        truth = wall_clock_cycle(future_index(index[:44], est.horizon)).to_numpy()
        np.testing.assert_allclose(across, truth, atol=2e-4)
        for t in range(30, 60):
            stepped = by_row.update(frame.iloc[t]).to_numpy()
            np.testing.assert_allclose(stepped, full[t], atol=1e-5)
            np.testing.assert_array_equal(by_array.update_array(frame.iloc[t].to_numpy()), stepped)
            truth = wall_clock_cycle(future_index(index[: t + 1], est.horizon)).to_numpy()
            np.testing.assert_allclose(stepped, truth, atol=2e-4)


def test_every_update_path_hands_its_last_row_to_the_fill_of_the_next(model64, series):
    """missing="ffill" fills from the last row whichever way it came (helper-147: update_array
    left the row before it, update_many its first row, and no test noticed)."""
    rows = series.iloc[80:84].to_numpy()
    gapped = series.iloc[84].copy()
    gapped.iloc[1] = np.nan
    by_row = model64.stream(history=series.iloc[:80], missing="ffill")
    for t in range(80, 84):
        by_row.update(series.iloc[t])
    expected = by_row.update(gapped).to_numpy()
    by_array = model64.stream(history=series.iloc[:80], missing="ffill")
    for r in rows:
        by_array.update_array(r)
    np.testing.assert_allclose(by_array.update(gapped).to_numpy(), expected, rtol=0, atol=1e-10)
    by_many = model64.stream(history=series.iloc[:80], missing="ffill")
    by_many.update_many(series.iloc[80:84])
    np.testing.assert_allclose(by_many.update(gapped).to_numpy(), expected, rtol=0, atol=1e-10)


def fed_row_by_row_and_at_once(model, history, rows, gaps):
    """Two streams of ``model`` from ``history`` under ``gaps``, fed ``rows`` by update one at a
    time and by one update_many; asserts their forecasts agree (1e-10) and returns both streams."""
    by_row = model.stream(history=history, gaps=gaps)
    for t in range(len(rows)):
        expected = by_row.update(rows.iloc[t])
    by_many = model.stream(history=history, gaps=gaps)
    fc = by_many.update_many(rows)
    np.testing.assert_allclose(fc.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-10)
    assert fc.index.equals(expected.index)
    return by_row, by_many


def test_update_many_fills_gaps_as_update_does_row_by_row(model64, series):
    """gaps='ffill' / 'zero' apply to update_many before and between its rows, as update applies
    them row by row (helper-147: an unchecked gap had been forecast as if the rows were contiguous;
    then update_many refused the gap, while the error advised gaps='ffill' or gaps='zero')."""
    rows = series.iloc[[85, 86, 88, 89]]  # 5 steps missing before them, one between
    for gaps in ("ffill", "zero"):
        by_row, by_many = fed_row_by_row_and_at_once(model64, series.iloc[:80], rows, gaps)
        assert by_many.steps == by_row.steps == 90 and by_many.last_timestamp == by_row.last_timestamp
        np.testing.assert_array_equal(by_many._last_values, by_row._last_values)
        pair = series.iloc[[91, 93]]  # two rows, a step missing between them (they read as 'every 2h')
        by_row.update(pair.iloc[0])
        expected = by_row.update(pair.iloc[1])
        fc = by_many.update_many(pair)
        np.testing.assert_allclose(fc.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-10)


def test_update_many_names_a_gap_and_the_policies_that_fill_it(model, series):
    """Without a gaps policy a gap is named as update names it, and the advice is one update_many
    takes; two rows a step apart are a gap, not 'rows every 2h' (helper-147: 'resample it to h')."""
    stream = model.stream(history=series.iloc[:80])
    held = snapshot(stream)
    t = series.index
    with pytest.raises(StreamError) as exc:
        stream.update_many(series.iloc[85:90])
    assert str(exc.value) == (f"gap: 5 step(s) missing between {t[79]} and {t[85]} (expected {t[80]}); "
                              "send them, or use gaps='ffill' or gaps='zero'")
    with pytest.raises(StreamError) as exc:  # a stream's rejection, as update's (helper-160)
        stream.update_many(series.iloc[[80, 82]])
    assert str(exc.value) == (f"frame: 1 timestamp missing from the 'h' grid in 1 gap: 1 missing after "
                              f"{t[80]} (row 0), from {t[81]}; send them, or use gaps='ffill' or gaps='zero'")
    far = series.iloc[[80, 81]].set_axis([t[80], t[80] + pd.Timedelta(hours=20_000)])  # a mistyped year
    with pytest.raises(StreamError, match=re.escape(  # had read as one row every '20000h', "resample it"
            f"frame: {t[80]} at row 0 and {far.index[1]} at row 1 lie 20,000 steps of 'h' apart: 19,999 "
            "timestamps missing between them, more than the 10,000 a gap may hold")):
        stream.update_many(far)
    assert_same_snapshot(snapshot(stream), held)


def test_update_many_of_no_rows_returns_the_forecast_unchanged(model, series):
    """An empty frame advances nothing, as update({}) does (helper-147: it raised 'series too short
    for inferring a frequency ... got 0')."""
    stream = model.stream(history=series.iloc[:80])
    held = snapshot(stream)
    pd.testing.assert_frame_equal(stream.update_many(series.iloc[80:80]), stream.forecast())
    np.testing.assert_array_equal(stream.update_many(series.iloc[80:80], as_array=True),
                                  stream.forecast(as_array=True))
    assert_same_snapshot(snapshot(stream), held)
    with pytest.raises(StreamError, match="no observation yet"):
        model.stream().update_many(series.iloc[80:80])
    # its columns are still those of rows to come: the wrong ones had passed until a row came
    frame = series.iloc[80:80].reset_index()  # the times in a column, as a CSV holds them
    assert frame.columns[0] == model.index_.name
    pd.testing.assert_frame_equal(stream.update_many(frame), stream.forecast())
    wrong = frame.rename(columns={series.columns[1]: "other"})
    with pytest.raises(StreamError, match=rf"columns differ .* missing \['{series.columns[1]}'\], "
                                          r"unexpected \['other'\]; pass the columns"):
        stream.update_many(wrong)
    with pytest.raises(StreamError, match=rf"missing \['{series.columns[0]}'\]"):
        stream.update_many(series.iloc[80:80, 1:])
    with pytest.raises(StreamError, match=r"differ from the model's: missing \[[^]]*\]$"):
        stream.update({series.columns[0]: 1.0})  # no "unexpected []" (helper-169)
    assert_same_snapshot(snapshot(stream), held)


def test_a_saved_stream_keeps_each_series_count(model, series, tmp_path):
    """Each series' own count of observations comes back from a save (helper-147: without the
    saved counts, a reloaded stream fell back to one count for all)."""
    stream = Stream(model, [series.iloc[:50], series.iloc[:70]], ids=["a", "b"])
    stream.update({"a": series.iloc[50]})
    again = Stream.load(stream.save(tmp_path / "s"), model)
    assert again.steps == stream.steps == {"a": 51, "b": 70}


def test_a_streams_forecast_index_is_named_as_predicts(model, series):
    """The stream's forecast frames name their time index as predict does ('date') (helper: the
    name dropped passed: equals() ignores names)."""
    stream = model.stream(history=series.iloc[:200])
    fc = stream.update(series.iloc[200])
    expected = model.predict(series.iloc[:201], context="full")
    assert fc.index.name == expected.index.name == "date"
    pd.testing.assert_index_equal(fc.index, expected.index)


def test_a_saved_stream_is_refused_by_a_model_whose_scale_differs(model, series, tmp_path):
    """The same weights and means but another scale forecast on another scale: the load says so
    (helper: the scale left out of the fit's fingerprint passed)."""
    path = model.stream(history=series.iloc[:100]).save(tmp_path / "stream")
    rescaled = copy.deepcopy(model)
    rescaled.scaler_.scale_ = 2 * rescaled.scaler_.scale_
    with pytest.raises(CheckpointError, match="same weights fitted on other data"):
        Stream.load(path, rescaled)


def test_update_array_names_the_time_of_a_missing_value(model, series):
    """A NaN in update_array is refused with the timestamp of the step it was for (helper: the
    derived timestamp left out of the message passed)."""
    stream = model.stream(history=series.iloc[:100])
    row = series.iloc[100].to_numpy().copy()
    row[1] = np.nan
    message = rf"missing value in \['{series.columns[1]}'\] at {series.index[100]};"
    with pytest.raises(StreamError, match=message):
        stream.update_array(row)


def test_a_restarted_stream_forecasts_at_the_series_time_unit(model, series, tmp_path):
    """A stream saved and loaded keeps its last timestamp's unit, so its forecast index is
    predict's, dtype included (helper: the unit saved as 'ns' passed)."""
    assert series.index.unit != "ns"
    path = model.stream(history=series.iloc[:100]).save(tmp_path / "stream")
    restarted = Stream.load(path, model)
    assert restarted.last_timestamp.unit == series.index.unit
    fc = restarted.update(series.iloc[100])
    pd.testing.assert_index_equal(fc.index, model.predict(series.iloc[:101], context="full").index)


def test_a_repeated_timestamp_is_named_as_not_after_the_last(model, series):
    """An update at the stream's last time is refused as not after it, not as off the grid
    (helper: ts <= last -> ts < last passed)."""
    stream = model.stream(history=series.iloc[:100])
    with pytest.raises(StreamError, match=rf"timestamp {series.index[99]} is not after the last one"):
        stream.update(series.iloc[99])


# --- pinned by mutation round 7 (streaming) ---


def test_a_clash_of_several_series_ids_names_each_pair(model, series):
    with pytest.raises(ConfigError, match=r"but 'a' and 'a', 'b' and 'b' are equal"):
        Stream(model, [series.iloc[:40]] * 4, ids=["a", "a", "b", "b"])


@pytest.mark.parametrize("other", ["zone", "frequency"])
def test_a_saved_stream_is_refused_by_the_same_weights_fitted_on_another_calendar(model, series, tmp_path,
                                                                                    other):
    """The same values fitted in UTC, or as daily rows: the same weights and scaling, another
    calendar; the saved stream's last times and forecast steps belong to the first."""
    path = model.stream(history=series.iloc[:100]).save(tmp_path / "stream")
    frame = series.iloc[:200]
    if other == "zone":
        frame = frame.tz_localize("UTC")
    else:
        frame = frame.set_axis(pd.date_range("2016-07-01", periods=200, freq="D", name="date"))
    refit = TSMambaForecaster(**TINY).fit(frame)
    assert np.array_equal(refit.scaler_.scale_, model.scaler_.scale_)
    with pytest.raises(CheckpointError, match="same weights fitted on other data"):
        Stream.load(path, refit)


def test_more_histories_than_ids_is_a_config_error(model, series):
    with pytest.raises(ConfigError, match="2 histories but 1 ids"):
        Stream(model, [series.iloc[:50], series.iloc[:60]], ids=["a"])


def test_one_history_with_an_id_is_a_stream_of_that_id(model, series):
    stream = Stream(model, series.iloc[:50], ids=["x"])
    assert stream.ids == ["x"] and stream.steps == {"x": 50}
    out = stream.update({"x": series.iloc[50]})
    assert list(out) == ["x"]
    pd.testing.assert_frame_equal(out["x"], model.stream(series.iloc[:50]).update(series.iloc[50]))


def test_a_stream_without_history_with_ids_holds_those_series(model, series):
    stream = Stream(model, None, ids=["a", "b"])
    out = stream.update({"a": series.iloc[0]})
    assert list(out) == ["a"] and stream.steps == {"a": 1, "b": 0}
    assert stream.last_timestamp == {"a": series.index[0], "b": None}


def test_update_array_of_a_calendar_model_needs_every_series_last_time(calendar_model, paris):
    """One series with a last time and one without: the calendar of the other cannot be read."""
    stream = Stream(calendar_model, None, ids=["a", "b"])
    stream.update({"a": paris.iloc[0]})
    with pytest.raises(StreamError, match="update_array needs each series' last timestamp"):
        stream.update_array(np.stack([paris.iloc[1].to_numpy(), paris.iloc[0].to_numpy()]))
    assert stream.steps == {"a": 1, "b": 0} and stream.last_timestamp == {"a": paris.index[0], "b": None}


def test_update_of_a_calendar_model_needs_a_time_for_each_series_without_one(calendar_model, paris):
    stream = Stream(calendar_model, None, ids=["a", "b"])
    before = snapshot(stream)
    with pytest.raises(StreamError, match="needs a timestamp until the stream knows its last one"):
        stream.update({"a": paris.iloc[0], "b": paris.iloc[0].to_numpy()})
    assert_same_snapshot(before, snapshot(stream))


def test_a_series_named_by_a_text_timestamp_is_timestamped(model, series):
    stream = model.stream(history=series.iloc[:200])
    row = series.iloc[205]
    with pytest.raises(StreamError, match="gap: 5 step"):
        stream.update(pd.Series(row.to_numpy(), index=row.index, name=str(row.name)))


def test_channels_named_like_a_time_key_are_values_not_timestamps(series):
    """A model whose channels are named 'ds' and 'time' reads them as values in an update."""
    named = series.set_axis(["ds", "time", "c2"], axis=1)
    est = TSMambaForecaster(**TINY).fit(named.iloc[:80])
    by_row, by_dict = est.stream(named.iloc[:60]), est.stream(named.iloc[:60])
    expected = by_row.update(named.iloc[60])
    out = by_dict.update({"date": str(named.index[60]), **named.iloc[60].to_dict()})
    pd.testing.assert_frame_equal(out, expected)
    assert by_dict.last_timestamp == named.index[60]


def test_a_numpy_bool_value_is_not_numeric(model, series):
    stream = model.stream(history=series.iloc[:60])
    with pytest.raises(StreamError, match=r"column 'c1': value .*True.* is not numeric"):
        stream.update({"c0": 1.0, "c1": np.True_, "c2": 3.0})


def test_a_missing_value_without_a_gap_is_carried_forward_under_gaps_zero(model64, series):
    """gaps='zero' fills the missing rows of a gap with zeros; a NaN in a row that follows the
    last one is still carried forward from that row (not read as 0)."""
    row = series.iloc[80].copy()
    row.iloc[1] = np.nan
    zero_gaps = model64.stream(history=series.iloc[:80], missing="ffill", gaps="zero")
    plain = model64.stream(history=series.iloc[:80])
    filled = row.fillna(series.iloc[79, 1])
    np.testing.assert_array_equal(zero_gaps.update(row).to_numpy(), plain.update(filled).to_numpy())


def test_a_missing_value_with_nothing_to_carry_forward_is_refused(model, series):
    """missing='ffill' on a stream that has seen no row: no value to carry, so the row is refused
    and the stream stays empty."""
    for update in (lambda s, r: s.update(r), lambda s, r: s.update_array(r)):
        stream = model.stream(None, missing="ffill")
        row = series.iloc[0].to_numpy().copy()
        row[1] = np.nan
        with pytest.raises(StreamError, match=r"missing value in \['c1'\] .* no earlier value to carry"):
            update(stream, row)
        with pytest.raises(StreamError) as raised:  # no time sent, none known: not "at None"
            update(stream, row)
        assert str(raised.value) == "missing value in ['c1'] and no earlier value to carry forward"
        assert stream.steps == 0
        with pytest.raises(StreamError, match="no observation yet"):
            stream.forecast()


def test_a_history_warmed_in_pieces_forecasts_across_dst_as_in_one_pass(new_york_cycle_model,
                                                                        wall_clock_cycle, monkeypatch):
    """A history longer than a piece: the forecast kept is the last piece's, with the wall-clock
    phases of its steps across the clock change (a warm-up ending the day before)."""
    est = new_york_cycle_model
    index = pd.date_range("2021-11-05", periods=72, freq="h", tz="America/New_York", name="date")
    frame = wall_clock_cycle(index)
    whole = est.stream(history=frame.iloc[:44]).forecast().to_numpy()
    monkeypatch.setattr("tsmamba.streaming.PIECE_STEPS", 16)
    pieces = est.stream(history=frame.iloc[:44]).forecast().to_numpy()
    np.testing.assert_allclose(pieces, whole, atol=1e-5)
    truth = wall_clock_cycle(future_index(index[:44], est.horizon)).to_numpy()
    np.testing.assert_allclose(pieces, truth, atol=2e-4)
    by_many = est.stream(history=frame.iloc[:10])
    np.testing.assert_allclose(by_many.update_many(frame.iloc[10:44]).to_numpy(), whole, atol=1e-5)


def test_an_unknown_id_among_exactly_ten_lists_all_ten(model, series):
    stream = Stream(model, [series.iloc[:40]] * 10, ids=[f"s{i}" for i in range(10)])
    listed = ", ".join(f"'s{i}'" for i in range(10))
    with pytest.raises(StreamError, match=rf"unknown series ids \['x'\]; this stream has \[{listed}\]$"):
        stream.update({"x": series.iloc[40]})


def test_every_unknown_id_of_an_update_is_named(model, series):
    stream = Stream(model, [series.iloc[:40]] * 2, ids=["a", "b"])
    with pytest.raises(StreamError, match=r"unknown series ids \['x', 'y'\]; this stream has \['a', 'b'\]$"):
        stream.update({"x": series.iloc[40], "a": series.iloc[40], "y": series.iloc[40]})


def test_an_array_of_fewer_rows_than_series_is_refused(model, series):
    """A (1, C) array for 2 series: it is not one row for each, so nothing advances."""
    stream = model.stream({"a": series.iloc[:50], "b": series.iloc[:50]})
    before = snapshot(stream)
    with pytest.raises(StreamError, match=r"several series: pass \{id: row\} or a \(2, C\) array"):
        stream.update(series.iloc[[50]].to_numpy())
    assert_same_snapshot(before, snapshot(stream))


def test_an_empty_frame_update_of_one_series_is_refused(model, series):
    stream = model.stream(series.iloc[:50])
    before = snapshot(stream)
    with pytest.raises(StreamError, match="update takes one row, got a frame of 0"):
        stream.update(series.iloc[:0])
    assert_same_snapshot(before, snapshot(stream))


def test_an_update_of_every_series_in_another_order_feeds_each_its_own_row(model64, series):
    histories = {"a": series.iloc[:100], "b": series.iloc[20:140]}
    in_order, reversed_order = model64.stream(histories), model64.stream(histories)
    rows = {"a": series.iloc[100], "b": series.iloc[140]}
    expected = in_order.update(rows)
    out = reversed_order.update({"b": rows["b"], "a": rows["a"]})
    assert list(out) == ["a", "b"]
    for key, seen in (("a", series.iloc[:101]), ("b", series.iloc[20:141])):
        pd.testing.assert_frame_equal(out[key], expected[key])
        full = model64.predict(seen, context="full").to_numpy()
        np.testing.assert_allclose(out[key].to_numpy(), full, rtol=0, atol=1e-10)


def test_update_array_of_one_row_for_several_series_is_refused(model, series):
    stream = model.stream({"a": series.iloc[:50], "b": series.iloc[:50]})
    before = snapshot(stream)
    with pytest.raises(StreamError, match=r"update_array takes \(2, 3\) values, got shape \(3,\)$"):
        stream.update_array(series.iloc[50].to_numpy())
    assert_same_snapshot(before, snapshot(stream))


def test_update_many_of_several_series_is_refused(model, series):
    stream = model.stream({"a": series.iloc[:50], "b": series.iloc[:50]})
    before = snapshot(stream)
    with pytest.raises(StreamError, match="update_many takes one series' rows"):
        stream.update_many(series.iloc[50:52])
    assert_same_snapshot(before, snapshot(stream))


def test_the_forecast_of_a_stream_with_a_series_not_yet_fed_gives_the_fed_ones(model, series):
    stream = Stream(model, None, ids=["a", "b"])
    out = stream.update({"a": series.iloc[0]})
    every = stream.forecast()
    assert list(every) == ["a", "b"]
    pd.testing.assert_frame_equal(every["a"], out["a"])


def test_a_stream_without_timestamps_forecasts_steps_one_to_horizon(model, series):
    stream = model.stream(None)
    out = stream.update(series.iloc[0].to_numpy())
    pd.testing.assert_index_equal(out.index, pd.RangeIndex(1, 7, name="step"))
    assert stream.last_timestamp is None


def test_state_bytes_counts_bytes_not_elements(model, model64, series):
    """The same model in float64 carries its float32 caches at 8 bytes an element, not 4."""
    small, wide = model.stream(series.iloc[:50]), model64.stream(series.iloc[:50])
    n32 = sum(t.numel() for t in small._state.tensors().values() if t.dtype == torch.float32)
    assert n32 > 0 and wide.state_bytes() - small.state_bytes() == 4 * n32


def test_a_nan_series_id_is_refused_at_save(model, series, tmp_path):
    stream = Stream(model, [series.iloc[:50]], ids=[float("nan")])
    with pytest.raises(StreamError, match=r"series id nan \(float\) cannot be saved faithfully"):
        stream.save(tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_a_saved_stream_is_refused_by_the_same_model_with_other_channel_names(model, series, tmp_path):
    """The same values under other column names fit the same weights and scaling: the load names
    the channels that differ."""
    path = model.stream(history=series.iloc[:100]).save(tmp_path / "stream")
    renamed = TSMambaForecaster(**TINY).fit(series.iloc[:200].set_axis(["x0", "x1", "x2"], axis=1))
    with pytest.raises(CheckpointError, match=r"channels \['c0', 'c1', 'c2'\] differ from the model's"):
        Stream.load(path, renamed)


def test_a_save_marked_single_with_two_series_is_refused(model, series, tmp_path, unsigned_meta):
    import json

    path = model.stream({"a": series.iloc[:50], "b": series.iloc[:60]}).save(tmp_path / "s")
    meta = unsigned_meta(path)
    meta["single"] = True
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="the saved parts disagree on the number of series"):
        Stream.load(path, model)


def test_a_save_from_before_per_series_counts_loads_with_its_step_count(model, series, tmp_path,
                                                                        unsigned_meta):
    import json

    path = model.stream(history=series.iloc[:60]).save(tmp_path / "s")
    meta = unsigned_meta(path)
    del meta["seen"]
    (path / "meta.json").write_text(json.dumps(meta))
    assert Stream.load(path, model).steps == 60


def test_an_unknown_gaps_policy_is_a_config_error(model, series):
    with pytest.raises(ConfigError, match=r"missing and gaps must be one of .*got 'reject', 'bogus'"):
        model.stream(series.iloc[:50], gaps="bogus")


def test_a_saved_stream_is_refused_by_a_model_whose_weights_moved_slightly(model, series, tmp_path):
    """One weight moved by 1e-6 (a model trained a step further): its forecasts differ, so the
    saved state is not its own."""
    path = model.stream(history=series.iloc[:100]).save(tmp_path / "stream")
    moved = copy.deepcopy(model)
    with torch.no_grad():
        moved.network_.head.weight[0, 0] += 1e-6
    with pytest.raises(CheckpointError, match="was saved with a different model"):
        Stream.load(path, moved)


def test_a_refused_update_of_several_series_names_the_series_at_fault(model, series):
    stream = model.stream({"a": series.iloc[:50], "b": series.iloc[:50]})
    with pytest.raises(StreamError, match=r"^series 'b': gap: 2 step\(s\) missing"):
        stream.update({"a": series.iloc[50], "b": series.iloc[52]})
    with pytest.raises(StreamError, match=r"^series 'b': missing value in \['c0'\]"):
        stream.update({"a": series.iloc[50], "b": series.iloc[50].to_numpy() * [np.nan, 1, 1]})


def test_csv_missing_value_words_are_read_with_spaces_around_them():
    reader = CSVLineReader(["a", "b"])
    assert reader.read("2024-01-01, NA ,2\n") == {"date": "2024-01-01", "a": "nan", "b": "2"}


def test_csv_header_of_numbered_channels_after_a_time_name_with_a_digit():
    """'t0,2,1' names both channels '1' and '2' (its time field is no timestamp): a header."""
    reader = CSVLineReader(["1", "2"])
    assert reader.read("t0,2,1\n") is None and reader.header_line == 1
    assert reader.read("2024-01-01,20,10\n") == {"date": "2024-01-01", "1": "10", "2": "20"}


def test_csv_example_header_of_ten_channels_is_shown_whole():
    channels = [f"c{i}" for i in range(10)]
    assert CSVLineReader(channels).example() == "date," + ",".join(channels)


def test_csv_header_lacking_five_channels_names_the_five_and_no_more():
    with pytest.raises(DataValidationError, match=r"lacks the model's column\(s\) \['c1', 'c2', 'c3', 'c4', "
                                                  r"'c5'\]; name every one of the 6 channels"):
        CSVLineReader([f"c{i}" for i in range(6)]).read("date,c0\n")


def test_csv_line_with_more_fields_than_the_header_is_a_bad_line():
    reader = CSVLineReader(["a", "b"])
    with pytest.raises(StreamError, match=r"expected 3 fields \(time, a, b\), got 4"):
        reader.read("2024-01-01,1,2,3\n")
    assert reader.read("2024-01-01,1,2\n") == {"date": "2024-01-01", "a": "1", "b": "2"}


def test_a_stream_made_directly_keeps_its_model_when_the_forecaster_is_fitted_again(series):
    """Stream(est, ...) as est.stream(...) does: a later fit of est leaves the stream's scaling be."""
    est = TSMambaForecaster(**TINY).fit(series.iloc[:200])
    stream = Stream(est, series.iloc[:200])
    before = stream.forecast()
    est.fit(series.iloc[:200] * 100 + 1000)
    pd.testing.assert_frame_equal(stream.forecast(), before)


def test_csv_line_reader_reads_times_in_a_date_format():
    """--date-format's reader: a time in the format comes back as a Timestamp, one that does not
    match rejects its line only, an empty one is left to Stream.update to name."""
    reader = CSVLineReader(["a", "b"], date_format="%d/%m/%Y %H:%M")
    expected = {"date": pd.Timestamp("2024-01-31 13:00"), "a": "1", "b": "2"}
    assert reader.read("31/01/2024 13:00,1,2\n") == expected
    with pytest.raises(StreamError, match=re.escape(
            "timestamp '2024-01-31 14:00' does not match date_format '%d/%m/%Y %H:%M'")):
        reader.read("2024-01-31 14:00,1,2\n")
    assert reader.read("31/01/2024 15:00,3,NA\n") == {"date": pd.Timestamp("2024-01-31 15:00"), "a": "3",
                                                      "b": "nan"}
    assert reader.read(" ,1,2\n") == {"date": " ", "a": "1", "b": "2"}
    assert CSVLineReader(["a", "b"]).read("31/01/2024 13:00,1,2\n")["date"] == "31/01/2024 13:00"  # as text


def test_a_first_line_whose_time_is_in_the_date_format_is_a_row_not_a_header():
    fields = ["31/01/2024 13:00", "a", "b"]  # it names both channels where the values go
    assert CSVLineReader.is_header(fields, ["a", "b"])  # not a time without the format: a header
    assert not CSVLineReader.is_header(fields, ["a", "b"], "%d/%m/%Y %H:%M")  # a row with text values
    assert CSVLineReader.is_header(["date", "a", "b"], ["a", "b"], "%d/%m/%Y %H:%M")


def test_csv_line_reader_reads_a_european_spreadsheets_lines():
    """sep=';', decimal=',': '1,5' comes back as '1.5' (what Stream.update reads), a value written
    '1.5' rejects its line, a header is split at ';' and examples are written with it."""
    reader = CSVLineReader(["a", "b"], sep=";", decimal=",")
    assert reader.read("date;b;a\n") is None and reader.positions == [2, 1]  # a header, in its order
    expected = {"date": "2024-01-31 13:00", "a": "1.5", "b": "-2.25"}
    assert reader.read("2024-01-31 13:00;-2,25;1,5\n") == expected
    assert reader.read("2024-01-31 14:00;3;NA\n") == {"date": "2024-01-31 14:00", "a": "nan", "b": "3"}
    with pytest.raises(StreamError, match=re.escape(
            "column 'a': value '1.5' is not a number with the decimal mark ','")):
        reader.read("2024-01-31 15:00;2,5;1.5\n")
    assert reader.example() == "date;a;b"
    first = CSVLineReader(["a", "b"], sep=";", decimal=",")  # a mistyped time before decimal commas:
    # a row (which Stream.update refuses), not a header (which would stop the stream)
    assert first.read("2024-13-45 00:00;1,5;2,5\n") == {"date": "2024-13-45 00:00", "a": "1.5", "b": "2.5"}
    assert first.header_line is None
    with pytest.raises(ConfigError, match="sep and decimal are both ','"):
        CSVLineReader(["a"], decimal=",")


def test_csv_lines_of_another_delimiter_say_which_marks_to_pass():
    """A spreadsheet's ';' line with decimal commas, read at ',': the first line was taken for a
    header ('the header lacks the model's column(s) ['a', 'b']'); it is named as read_series names
    such a file, with the sep= and decimal= to pass. A later line that another delimiter splits
    says so in its field count."""
    with pytest.raises(DataValidationError) as exc:
        CSVLineReader(["a", "b"]).read("2016-07-05 04:00:00;1,5;2\n")
    assert str(exc.value) == ("line 1: '2016-07-05 04:00:00;1,5;2' is split into fields by ';', not by ',': "
                              "the input seems to use ';' as its delimiter and ',' as its decimal mark; "
                              "pass sep=';' and decimal=','")
    with pytest.raises(DataValidationError, match=re.escape(
            "line 1: 'date;a;b' is split into fields by ';', not by ',': the input seems to use ';' as its "
            "delimiter; pass sep=';'")):
        CSVLineReader(["a", "b"]).read("date;a;b\n")
    reader = CSVLineReader(["a", "b"])
    assert reader.read("2016-07-05 04:00:00,1.5,2\n") is not None
    with pytest.raises(StreamError) as exc:
        reader.read("2016-07-05 05:00:00;1.5;2\n")
    assert str(exc.value) == ("expected 3 fields (time, a, b), got 1; the line is split into fields by ';', "
                              "not by ',': the input seems to use ';' as its delimiter; pass sep=';'")
    with pytest.raises(DataValidationError, match=re.escape("the header lacks the model's column(s) ['b']")):
        CSVLineReader(["a", "b"]).read("date,a,x;y\n")  # split at ';' it is no line of a and b


# --- pinned by mutation round 9 (this session's changes) ---


def test_update_many_of_no_rows_as_array_returns_an_array(model, series):
    stream = model.stream(history=series.iloc[:80])
    empty = stream.update_many(series.iloc[80:80], as_array=True)
    assert isinstance(empty, np.ndarray) and empty.shape == stream.forecast(as_array=True).shape


def test_an_update_takes_its_time_under_the_fitted_time_columns_name(series):
    """A model fitted on times named 'Datetime' reads an update's 'Datetime' as its timestamp, as
    predict and update_many read that column (it had been refused as an unexpected column)."""
    named = series.rename_axis("Datetime")
    est = TSMambaForecaster(**TINY).fit(named.iloc[:80])
    flat = named.reset_index()  # rows numbered 0, 1, ...: the time is a column
    expected = est.stream(named.iloc[:60]).update(named.iloc[60])
    for row in (flat.iloc[60], flat.iloc[60].to_dict(), flat.iloc[60:61]):
        stream = est.stream(named.iloc[:60])
        pd.testing.assert_frame_equal(stream.update(row), expected)
        assert stream.last_timestamp == named.index[60]
    stream = est.stream(named.iloc[:60])
    with pytest.raises(StreamError, match=re.escape("gap: 2 step(s) missing")):  # read as the time
        stream.update(flat.iloc[62].to_dict())


def test_an_update_with_two_timestamps_is_refused_not_resolved(model, series):
    stream = model.stream(history=series.iloc[:60])
    before = snapshot(stream)
    row, next_time, later = series.iloc[60], str(series.index[60]), str(series.index[61])
    for update, named in (({**row.to_dict(), "date": next_time, "ds": later}, "'date', 'ds'"),
                          (pd.concat([row, pd.Series({"date": later})]).rename(series.index[60]),
                           f"its name '{series.index[60]}', 'date'")):
        with pytest.raises(StreamError, match=re.escape(f"more than one timestamp ({named}); keep one")):
            stream.update(update)
        assert_same_snapshot(before, snapshot(stream))


def test_ids_that_do_not_name_the_histories_are_refused(model, series):
    """One frame with two ids had made a second series that was never warmed; a mapping's keys
    had overridden ids= without a word; a string had been read as one id per letter."""
    with pytest.raises(ConfigError, match="one history frame but 2 ids"):
        Stream(model, series.iloc[:50], ids=["a", "b"])
    with pytest.raises(ConfigError, match=r"names its series by its keys \['a'\]; drop ids= \(got \['x'\]\)"):
        Stream(model, {"a": series.iloc[:50]}, ids=["x"])
    assert Stream(model, {"a": series.iloc[:50]}, ids=["a"]).ids == ["a"]  # the same ids: no harm
    with pytest.raises(ConfigError, match=r"ids is a list of series ids, got 'abc'; for one series pass "
                       r"ids=\['abc'\]"):
        Stream(model, None, ids="abc")


def test_a_history_with_a_missing_value_names_the_stream_and_what_its_policies_cover(model, series):
    history = series.iloc[:60].copy()
    history.iloc[5, 0] = np.nan
    with pytest.raises(DataValidationError) as caught:
        model.stream(history, missing="ffill")
    text = str(caught.value)
    assert "stream reads the data as it is" in text and "pass the frame to stream" in text
    assert "predict" not in text
    assert text.endswith("(missing= and gaps= apply to the updates after the history, not to the history)")
    for histories in ({"north": series.iloc[:60], "south": history}, [series.iloc[:60], history]):
        with pytest.raises(DataValidationError, match=r"^series ('south'|1)'s history: "):  # which of them
            model.stream(histories)


def test_csv_lines_of_a_model_with_a_channel_named_date_keep_their_time(series):
    """A model whose time column is 'ds' and whose first channel is 'date': the reader had put
    the line's time under 'date', where the channel's value overwrote it, so every line was taken
    as the next step whatever its time (a line 5 steps later was accepted, a stale one too)."""
    named = series.set_axis(["date", "c1", "c2"], axis=1).rename_axis("ds")
    est = TSMambaForecaster(**TINY).fit(named.iloc[:80])
    reader = CSVLineReader(est.columns_)
    assert reader.read(f"ds,{','.join(est.columns_)}") is None
    stream = est.stream(named.iloc[:60])
    later = named.iloc[65]
    with pytest.raises(StreamError, match=re.escape("gap: 5 step(s) missing")):
        stream.update(reader.read(f"{later.name},{','.join(map(str, later))}"))
    row = named.iloc[60]
    expected = est.stream(named.iloc[:60]).update(row)
    line = f"{row.name},{','.join(map(str, row))}"
    pd.testing.assert_frame_equal(stream.update(reader.read(line)), expected)
    with pytest.raises(ConfigError, match=r"channels named 'date', 'ds', 'timestamp' and 'time' leave no"):
        CSVLineReader(["date", "ds", "timestamp", "time"])


def test_a_series_with_an_empty_history_frame_starts_empty_beside_the_warmed_ones(model64, series):
    """{id: empty frame} starts a series with no history, as the error for one frame with two
    ids advises (it had raised "the series has no rows (need >= 2 for inferring a frequency)");
    the warmed series forecast as their full recomputations, the empty one from its first row."""
    stream = model64.stream({"a": series.iloc[:100], "b": series.iloc[:0]})
    assert stream.steps == {"a": 100, "b": 0} and stream.last_timestamp["b"] is None
    out = stream.update({"a": series.iloc[100], "b": series.iloc[0]})
    for key, seen in (("a", series.iloc[:101]), ("b", series.iloc[:1])):
        full = model64.predict(seen, context="full").to_numpy()
        np.testing.assert_allclose(out[key].to_numpy(), full, rtol=0, atol=1e-10)
    assert model64.stream(series.iloc[:0].reset_index()).steps == 0  # one series: as history=None
    with pytest.raises(DataValidationError, match=r"^series 'b''s history: the frame's columns differ .* "
                                                  rf"missing \['{series.columns[0]}'\]"):
        model64.stream({"a": series.iloc[:100], "b": series.iloc[:0, 1:]})


@pytest.mark.parametrize("huge", [10**400, -(10**5000)], ids=["1e400", "-1e5000"])
def test_an_integer_beyond_float64_is_a_stream_error(model, series, huge):
    """float() of an int past 1.8e308 raised a bare OverflowError from update and update_array."""
    stream = model.stream(history=series.iloc[:60])
    before = snapshot(stream)
    with pytest.raises(StreamError, match=r"column 'c1': an integer beyond float64's range \(±1.8e308\)"):
        stream.update({"c0": 1.0, "c1": huge, "c2": 3.0})
    with pytest.raises(StreamError, match=r"update_array takes numbers float64 holds, got an integer beyond"):
        stream.update_array(np.array([1.0, huge, 3.0], dtype=object))
    assert_same_snapshot(before, snapshot(stream))


def test_dates_and_booleans_are_not_numbers_in_update_array_either(model, series):
    """update_array read a datetime64 row as its nanoseconds (1.5e18, within float32's scaled
    range, so forecast from), and booleans as 1 and 0, which update refuses; so did update a
    datetime64 value."""
    stream = model.stream(history=series.iloc[:60])
    before = snapshot(stream)
    for values in (np.array(["2016-01-01"] * 3, dtype="datetime64[ns]"), np.array([True, False, True]),
                   np.array([np.datetime64("2016-01-01", "ns"), 2.0, 3.0], dtype=object)):
        with pytest.raises(StreamError, match=r"update_array takes numbers, got "):
            stream.update_array(values)
    with pytest.raises(StreamError, match=r"column 'c0': value np.datetime64\(.*\) is not numeric"):
        stream.update({"c0": np.datetime64("2016-01-01", "ns"), "c1": 2.0, "c2": 3.0})
    assert_same_snapshot(before, snapshot(stream))


def test_several_series_take_one_row_frames_as_one_series_does(model64, series):
    """{id: df.tail(1)}, as update takes df.tail(1) for one series (it had been refused: "an update
    needs 3 values (c0, c1, c2), got shape (1, 3)"); its index, or its time column, is the time."""
    stream = model64.stream({"a": series.iloc[:100], "b": series.iloc[:120]})
    by_series = model64.stream({"a": series.iloc[:100], "b": series.iloc[:120]})
    out = stream.update({"a": series.iloc[[100]], "b": series.iloc[[120]].reset_index()})
    expected = by_series.update({"a": series.iloc[100], "b": series.iloc[120]})
    for key in ("a", "b"):
        pd.testing.assert_frame_equal(out[key], expected[key])
    assert stream.last_timestamp == {"a": series.index[100], "b": series.index[120]}
    with pytest.raises(StreamError, match=r"^series 'b': gap: 2 step\(s\) missing"):  # read as its time
        stream.update({"b": series.iloc[[123]]})


def test_an_unreadable_row_of_several_series_names_its_series(model, series):
    """A row that cannot be read (a value that is no number, a timestamp that is none, other
    columns) had been refused without saying which of the series it was for."""
    stream = model.stream({"a": series.iloc[:50], "b": series.iloc[:50]})
    before = snapshot(stream)
    good = series.iloc[50].to_dict()
    for bad, match in (({**good, "c1": "x"}, "column 'c1': value 'x' is not numeric"),
                       ({**good, "date": "soon"}, "timestamp 'soon' cannot be parsed"),
                       ({"c0": 1.0}, "update columns differ from the model's"),
                       (series.iloc[50:52], "update takes one row, got a frame of 2")):
        with pytest.raises(StreamError, match=rf"^series 'b': {match}"):
            stream.update({"a": series.iloc[50], "b": bad})
        assert_same_snapshot(before, snapshot(stream))


def test_update_array_refuses_rows_labelled_by_ids_in_another_order(model64, series):
    """A frame of several series' rows indexed by their ids in another order than the stream's
    had been read by position: series 'a' took 'b''s row and 'b' took 'a''s, without a word."""
    stream = model64.stream({"a": series.iloc[:100], "b": series.iloc[:120]})
    before = snapshot(stream)
    rows = {"a": series.iloc[100], "b": series.iloc[120]}
    swapped = pd.DataFrame([rows["b"], rows["a"]], index=["b", "a"])
    with pytest.raises(StreamError, match=re.escape("update_array reads rows in the stream's order of ids "
                                                    "['a', 'b'], got them labelled ['b', 'a']")):
        stream.update_array(swapped)
    assert_same_snapshot(before, snapshot(stream))
    by_id = copy.copy(stream).update(rows, as_array=True)
    in_order = swapped.loc[["a", "b"]]  # the stream's order
    np.testing.assert_array_equal(stream.update_array(in_order), by_id)


def test_update_array_refuses_a_row_labelled_with_another_time_than_the_next_step(model, series):
    """update_array feeds the step after the last; a Series named by a later, stale or repeated
    time (df.iloc[t]) or a frame indexed by one had its time ignored and was fed as that step."""
    stream = model.stream(history=series.iloc[:60])
    before = snapshot(stream)
    for row in (series.iloc[63], series.iloc[59], series.iloc[[63]],
                series.iloc[60].rename(str(series.index[62]))):
        with pytest.raises(StreamError, match=re.escape(f"update_array feeds the step after the last, "
                                                        f"{series.index[60]}, but the row is labelled ")):
            stream.update_array(row)
        assert_same_snapshot(before, snapshot(stream))
    np.testing.assert_array_equal(copy.copy(stream).update_array(series.iloc[60]),  # the next step
                                  stream.update_array(series.iloc[60].to_numpy()))


def test_history_and_update_many_frames_take_the_time_columns_an_update_takes(model, series, tmp_path):
    """A one-row frame with a 'timestamp' column updated a stream, but its history or two such
    rows in update_many were refused for want of a 'date' column, with advice to pass a time_col=
    neither takes."""
    named = series.rename_axis("timestamp").reset_index()
    expected = model.stream(history=series.iloc[:150])
    stream = model.stream(history=named.iloc[:150])
    pd.testing.assert_frame_equal(stream.forecast(), expected.forecast())
    pd.testing.assert_frame_equal(stream.update_many(named.iloc[150:153]),
                                  expected.update_many(series.iloc[150:153]))
    pd.testing.assert_frame_equal(stream.update_many(named.iloc[:0]), expected.forecast())
    named.iloc[:150].to_csv(tmp_path / "history.csv", index=False)
    pd.testing.assert_frame_equal(model.stream(history=tmp_path / "history.csv").forecast(),
                                  model.stream(history=series.iloc[:150]).forecast())
    other = series.rename_axis("when").reset_index()
    for call, error in ((lambda: model.stream(history=other.iloc[:150]), DataValidationError),
                        (lambda: stream.update_many(other.iloc[153:155]), StreamError)):
        with pytest.raises(error, match=r"named 'date', 'ds', 'timestamp' or 'time'") as caught:
            call()
        assert "time_col=" not in str(caught.value)  # no option of theirs


def test_several_series_errors_name_the_series_and_advise_what_works(model, series):
    """A frame of two rows for one of several series was told to use update_many (one series
    only); a value too large once scaled named the channel, not the series; update_many given a
    Series was told series.to_frame(), which makes a row a column."""
    history = series.iloc[:100]
    stream = model.stream({"a": history, "b": history})
    with pytest.raises(StreamError, match=r"^series 'a': update takes one row, got a frame of 2; .*one "
                                          r"update each, in time order") as raised:
        stream.update({"a": series.iloc[100:102]})
    assert "update_many" not in str(raised.value)
    row = series.iloc[100]
    with pytest.raises(StreamError, match=r"^series 'b': values in \['c0', 'c1', 'c2'\] reach"):
        stream.update({"a": row, "b": row * 1e40})
    with pytest.raises(StreamError, match=r"^series 'b': values in"):
        stream.update_array(np.stack([row.to_numpy(), row.to_numpy() * 1e40]))
    with pytest.raises(StreamError, match=r"^series 'b': values in"):
        model.stream({"a": history, "b": history * 1e40})
    assert stream.steps == {"a": 100, "b": 100}
    single = model.stream(history)
    with pytest.raises(StreamError, match=r"got a Series of one row; pass it to update\(row\), or as a "
                                          r"frame: update_many\(row.to_frame\(\).T\)"):
        single.update_many(row)
    with pytest.raises(StreamError, match=r"got a Series; pass a frame with the model's channels "
                                          r"\['c0', 'c1', 'c2'\] as its columns"):
        single.update_many(series["c0"].iloc[100:103])
    np.testing.assert_allclose(single.update_many(row.to_frame().T).to_numpy(),
                               model.stream(history).update(row).to_numpy(), rtol=1e-5)  # the advice works


def test_line_reader_refuses_a_header_with_the_time_after_another_field_and_splits_lone_crs():
    """'id,date,c0' had been taken as a header whose time was the id field (every line then
    rejected as 'timestamp 'x' cannot be parsed'); a feed with CR line ends had been one bad line."""
    reader = CSVLineReader(["c0", "c1"])
    with pytest.raises(DataValidationError, match=r"^line 1: the header names the time 'date' in field 2, "
                                                  r"after 'id'; the time must be the first field"):
        reader.read("id,date,c0,c1\n")
    assert CSVLineReader(["c0", "c1"]).read("date,id,c0,c1") is None  # the time first: 'id' ignored
    text = "date,c0,c1\r2024-01-01 00:00,1,2\r\r2024-01-01 01:00,3,4\r\n2024-01-01 02:00,5,6\n"
    for source in (io.StringIO(text, newline=""), io.BytesIO(text.encode())):  # as a file splits at \n
        lines = list(CSVLineReader.lines(source))
        assert len(lines) == 5 and lines[2] in ("\r", b"\r")
        reader = CSVLineReader(["c0", "c1"])
        rows = [reader.read(line) for line in lines]
        assert [r["c1"] for r in rows if r] == ["2", "4", "6"] and reader.line_number == 5


def test_update_array_reads_a_frame_with_a_default_index_by_position(model64, series):
    """pd.DataFrame(array) for a stream of ids [1, 2, 3] had been refused as rows 'labelled [0, 1, 2]'
    in another order than the ids, where it had been read by position, as the array is."""
    stream = model64.stream({k: series.iloc[:100] for k in (1, 2, 3)})
    arr = np.stack([series.iloc[100 + k].to_numpy() for k in range(3)])
    expected = copy.copy(stream).update_array(arr)
    np.testing.assert_array_equal(stream.update_array(pd.DataFrame(arr, columns=series.columns)), expected)


def test_update_array_refuses_rows_indexed_by_ids_0_to_n_in_another_order(model64, series):
    """A frame indexed by the ids [0, 1] of a stream of ids [1, 0] had been taken for a default
    index (its labels equal a RangeIndex's) and read by position, series 1 fed the row labelled 0."""
    stream = model64.stream({k: series.iloc[:100] for k in (1, 0)})
    arr = np.stack([series.iloc[100 + k].to_numpy() for k in range(2)])
    rows = pd.DataFrame(arr, columns=series.columns, index=pd.Index([0, 1], name="id"))
    before = copy.copy(stream)
    with pytest.raises(StreamError, match=r"reads rows in the stream's order of ids \[1, 0\], got them "
                                          r"labelled \[0, 1\]"):
        stream.update_array(rows)
    assert stream.steps == before.steps
    np.testing.assert_array_equal(stream.update_array(rows.loc[[1, 0]]), before.update_array(arr[::-1]))


@pytest.mark.parametrize("when", [1467763200, np.int64(1467763200), 1.5e18])
def test_a_number_under_a_time_key_is_refused_not_read_as_nanoseconds(model, series, when):
    """Seconds since 1970 under "date" had been read as nanoseconds: a stream without history took
    its first row at 1970-01-01 00:00:01.47 and forecast after it; one with a history said that
    time was "not after the last one"."""
    row = {**series.iloc[0].to_dict(), "date": when}
    for stream in (model.stream(), model.stream(history=series.iloc[:200])):
        with pytest.raises(StreamError, match="is a number, not a time"):
            stream.update(row)


def test_a_row_labelled_with_a_period_is_refused_not_fed_as_the_next_step(model, series):
    """A PeriodIndex frame's row (df.iloc[t], df.iloc[[t]]) had had its time ignored: a stale row
    was fed as the next step. read_series refuses a PeriodIndex; so do update and update_array."""
    periods = series.to_period("h")
    stale = 150  # long before the history's end
    for feed, row in (("update", periods.iloc[stale]), ("update", periods.iloc[[stale]]),
                      ("update", {**periods.iloc[200].to_dict(), "date": periods.index[200]}),
                      ("update_array", periods.iloc[stale])):
        stream = model.stream(history=series.iloc[:200])
        before = snapshot(stream)
        with pytest.raises(StreamError, match=r"labelled with a period .*df\.to_timestamp\(\)"):
            getattr(stream, feed)(row)
        assert_same_snapshot(before, snapshot(stream))


def test_update_many_fills_rows_evenly_spaced_by_several_steps_as_update_does(model64, series):
    """Three or more rows every 2 hours on an hourly stream with gaps='ffill' / 'zero' had been
    refused as "rows every '2h'", where update filled the step missing before each (two such rows
    had been fixed alone); so had rows every 3 hours, and such rows in a file."""
    for gaps, step in (("ffill", 2), ("zero", 2), ("ffill", 3)):
        rows = series.iloc[82:100:step]
        by_row, by_many = fed_row_by_row_and_at_once(model64, series.iloc[:80], rows, gaps)
        assert by_many.steps == by_row.steps
    with pytest.raises(StreamError):  # without a policy it stays refused (as rows every '2h')
        model64.stream(history=series.iloc[:80]).update_many(series.iloc[81:90:2])
