"""TSMambaForecaster: the sklearn contract, persistence, determinism, resume, guards, DDP."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback, GradientAccumulationScheduler
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import tsmamba
from tsmamba import estimator as estimator_module
from tsmamba import training
from tsmamba.checkpoint import held_alone, read_meta
from tsmamba.data import future_index
from tsmamba.datasets import synthetic_ett
from tsmamba.errors import (
    CheckpointError,
    ConfigError,
    DataValidationError,
    OutOfMemoryError,
    TrainingError,
    TSMambaError,
)
from tsmamba.estimator import TSMambaForecaster
from tsmamba.model import MambaForecaster

TINY = dict(
    context_length=24,
    horizon=12,
    d_model=16,
    n_layers=1,
    d_state=8,
    headdim=8,
    max_epochs=2,
    batch_size=32,
    progress=False,
    random_state=0,
)


@pytest.fixture(scope="module")
def series() -> pd.DataFrame:
    return synthetic_ett(n_rows=400, n_channels=3, seed=1).set_index("date")


@pytest.fixture(scope="module")
def fitted(series) -> TSMambaForecaster:
    return TSMambaForecaster(**TINY).fit(series)


def test_fit_returns_self_and_sets_fitted_attributes(series):
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1})
    assert est.fit(series) is est
    assert est.columns_ == list(series.columns) and est.n_features_in_ == 3
    assert est.freq_ == "h" and est.history_["epochs"] == 1
    assert not hasattr(TSMambaForecaster(), "network_")  # constructor stores parameters only


def test_predict_frame_shape_index_and_units(fitted, series):
    out = fitted.predict()
    assert out.shape == (12, 3) and list(out.columns) == list(series.columns)
    expected_index = pd.date_range(series.index[-1], periods=13, freq="h")[1:]
    assert out.index.equals(expected_index)
    assert np.isfinite(out.to_numpy()).all()
    # in original units: near the series' level, not near zero-mean scaled units
    assert abs(out.to_numpy().mean() - series.to_numpy().mean()) < 3 * series.to_numpy().std()


def test_predict_on_new_frame_window_and_full(fitted, series):
    part = series.iloc[:300]
    window = fitted.predict(part)
    assert window.index[0] == series.index[300]
    torch.testing.assert_close(
        torch.tensor(window.to_numpy()), torch.tensor(fitted.predict(part.iloc[-24:]).to_numpy())
    )
    full = fitted.predict(part, context="full")
    assert full.shape == (12, 3) and not np.allclose(full.to_numpy(), window.to_numpy())


def test_forecast_origins_matches_predict(fitted, series):
    origins = [30, 100, 250]
    both = {c: fitted.forecast_origins(series, origins, context=c) for c in ("window", "full")}
    for c, arr in both.items():
        for k, o in enumerate(origins):
            np.testing.assert_allclose(
                arr[k], fitted.predict(series.iloc[: o + 1], context=c).to_numpy(), rtol=1e-5, atol=1e-5
            )


def test_full_history_in_segments_equals_one_pass(fitted, series, monkeypatch):
    """Full-history forecasts run in segments with the state carried == one pass over all rows."""
    from tsmamba import model

    origins = [399, 5, 40, 41, 250, 6, 123]  # unsorted, on and across segment edges
    one_pass = fitted.forecast_origins(series, origins, context="full")
    monkeypatch.setattr(model, "FULL_SEGMENT", 41)
    segmented = fitted.forecast_origins(series, origins, context="full")
    np.testing.assert_allclose(segmented, one_pass, rtol=1e-5, atol=1e-5)

    # many series x d_model bound the segment too (862 series had taken 1.7 GB in 2048-row ones)
    monkeypatch.setattr(model, "FULL_SEGMENT", 2048)
    monkeypatch.setattr(model, "FORECAST_ELEMENTS", 3 * 16 * 30)  # 3 series x d_model 16: 30 rows
    lengths = []
    hook = fitted.network_.register_forward_pre_hook(lambda module, args: lengths.append(args[0].shape[1]))
    try:
        budgeted = fitted.forecast_origins(series, origins, context="full")
    finally:
        hook.remove()
    assert max(lengths) == 30 and sum(lengths) == 400  # every row up to the last origin, once
    np.testing.assert_allclose(budgeted, one_pass, rtol=1e-5, atol=1e-5)


def test_forecasts_are_unscaled_piece_by_piece_into_one_array(fitted, series, monkeypatch):
    """forecast_origins fills one (n, H, C) float64 array a piece at a time (40,000 origins x 96 x
    21 had peaked at 2.5 GB for 0.6 GB of forecasts); pieces that do not divide n change nothing."""
    from tsmamba import estimator

    origins = np.arange(23, 60)
    whole = {context: fitted.forecast_origins(series, origins, context=context)
             for context in ("window", "full")}
    monkeypatch.setattr(estimator, "UNSCALE_ROWS", 5)
    for context, expected in whole.items():
        pieces = fitted.forecast_origins(series, origins, context=context)
        assert pieces.dtype == np.float64 and pieces.shape == (37, fitted.horizon, 3)
        np.testing.assert_array_equal(pieces, expected)
    assert fitted.forecast_origins(series, np.arange(0)).shape == (0, fitted.horizon, 3)
    # the float64 arrays allocated at once (numpy's, which tracemalloc sees) stay near the result's
    # size: taking all of it back to original units at once had held two more copies
    import tracemalloc

    values = np.tile(series.to_numpy(), (10, 1))  # 4,000 rows
    origins = np.arange(30, 4000)
    monkeypatch.setattr(estimator, "UNSCALE_ROWS", 256)
    for context in ("window", "full"):
        tracemalloc.start()
        try:
            out = fitted.forecast_origins(values, origins, context=context)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1.4 * out.nbytes, (context, peak / out.nbytes)


def test_validation_during_a_fit_takes_the_networks_windows_per_pass(series, monkeypatch):
    """The validation batches (no gradients) are the network's own windows per pass, not the
    training batch_size; the loss is still the mean over every validation window."""
    from tsmamba import model

    monkeypatch.setattr(model, "FORECAST_FAST_ELEMENTS", 5 * 3 * 24 * 16)  # 5 windows: 3 x 24 x 16 each
    seen: list[int] = []
    original = model.MambaForecaster.forward

    def forward(self, x, *args, **kwargs):
        if not torch.is_grad_enabled():
            seen.append(x.shape[0])
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(model.MambaForecaster, "forward", forward)
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1, "batch_size": 7}, patience=None).fit(series)
    n_val = 40 - TINY["horizon"] + 1  # the windows whose targets lie in the last 40 rows
    n_train = 360 - TINY["context_length"] - TINY["horizon"] + 1  # in the first 360 rows
    # the validation, then the end-of-epoch finiteness check of the last training batch
    assert seen == [5] * (n_val // 5) + [n_val % 5, n_train % 7]
    expected = _scaled_window_mse(est, series, range(len(series) - 40 - 1, len(series) - TINY["horizon"]))
    assert est.history_["best_val_loss"] == pytest.approx(expected, rel=1e-5)
    seen.clear()  # a trainer on a GPU validates at the training batch, as before (not measured there)
    monkeypatch.setattr("tsmamba.estimator.trains_on_cpu", lambda trainer: False)
    TSMambaForecaster(**{**TINY, "max_epochs": 1, "batch_size": 7}, patience=None).fit(series)
    assert seen == [7] * (n_val // 7) + [n_val % 7, n_train % 7]


def test_window_forecasts_keep_to_the_memory_budget(fitted, series, monkeypatch):
    """Without a batch_size, window forecasts run in passes of the network's own choice (all 37
    windows at once for the tiny network), fewer when FORECAST_ELEMENTS (windows x channels x
    length x d_model) binds; the forecasts are those of one window per pass."""
    from tsmamba import model

    origins = np.arange(23, 60)
    one_each = fitted.forecast_origins(series, origins, batch_size=1)
    contexts = fitted._scaled(series.to_numpy(np.float64))[None].numpy()[:, :24]  # (1, 24, C)
    seen: list[int] = []
    hook = fitted.network_.register_forward_pre_hook(lambda _, args: seen.append(args[0].shape[0]))
    try:
        by_default = fitted.forecast_origins(series, origins)
        assert seen == [37]  # 3 x 24 x 16 activations a window: 227 would stay near the fast size
        seen.clear()
        per_window = 3 * 24 * 16  # channels x context_length x d_model
        monkeypatch.setattr(model, "FORECAST_ELEMENTS", 4 * per_window + per_window // 2)
        bounded = fitted.forecast_origins(series, origins)
        scaled = fitted.forecast_scaled_windows(contexts)
        assert seen == [4] * 9 + [1] + [1]
    finally:
        hook.remove()
    # float32 passes of 1, 4 or 32 windows block their matmuls differently, so the forecasts differ
    # in their last bits (~1e-7 of the activations), amplified through the layers and the scaler's
    # spread (the third channel's values are ~18, where one float32 step is 1.9e-6): 1e-5 as below
    np.testing.assert_allclose(by_default, one_each, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bounded, one_each, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fitted.scaler_.inverse_transform(scaled[0]), one_each[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_window_forecasts_reject_a_batch_size_that_is_not_a_positive_integer(fitted, series, batch_size):
    message = r"batch_size \(windows per forward pass\) must be a positive integer"
    with pytest.raises(ConfigError, match=message):
        fitted.forecast_origins(series, np.arange(23, 30), batch_size=batch_size)
    contexts = np.zeros((2, fitted.context_length, series.shape[1]), dtype=np.float32)
    with pytest.raises(ConfigError, match="pass None"):
        fitted.forecast_scaled_windows(contexts, batch_size=batch_size)


def test_sklearn_contract(fitted, series, tmp_path):
    est = TSMambaForecaster(**TINY)
    params = est.get_params()
    assert params["d_model"] == 16 and params["trainer_kwargs"] is None
    twin = clone(est)
    assert twin.get_params() == params and not hasattr(twin, "network_")
    twin.set_params(d_model=32)
    assert twin.d_model == 32
    for use in (lambda f: f.predict(), lambda f: f.save(tmp_path / "m"), lambda f: f.stream()):
        with pytest.raises(NotFittedError, match="not fitted yet; call fit") as info:  # sklearn's
            use(TSMambaForecaster())
        assert isinstance(info.value, TSMambaError)  # and ours: `except TSMambaError` catches it
        assert isinstance(info.value, tsmamba.NotFittedError)  # exported at the top, lazily
    with pytest.raises(DataValidationError, match="missing"):
        fitted.predict(series.drop(columns=[series.columns[0]]))
    with pytest.raises(DataValidationError, match="unexpected"):
        fitted.predict(series.assign(extra=1.0))


def test_set_params_names_what_is_no_parameter_with_a_config_error():
    """sklearn's set_params raised a bare ValueError for a typo, and AttributeError ('NoneType'
    object has no attribute 'set_params') for trainer_kwargs__max_steps, the grid-search spelling
    of a nested parameter: neither is a TSMambaError that `except TSMambaError` catches."""
    est = TSMambaForecaster(**TINY)
    with pytest.raises(ConfigError, match=r"has no parameter 'd_modle' \(did you mean d_model\?\); its "
                       r"parameters are \['batch_size', "):
        est.set_params(d_modle=32)
    with pytest.raises(ConfigError, match=re.escape(
            "'trainer_kwargs__max_steps': trainer_kwargs is a value, not an estimator with parameters of "
            "its own; set it whole, as set_params(trainer_kwargs={**(est.trainer_kwargs or {}), "
            "'max_steps': ...})")):
        est.set_params(trainer_kwargs__max_steps=3)
    with pytest.raises(ValueError, match=r"'horizon__x': horizon is a value"):  # sklearn's type, too
        est.set_params(d_model=32, horizon__x=1)
    assert est.get_params() == TSMambaForecaster(**TINY).get_params()  # nothing set by a refused call
    assert est.set_params(d_model=32, trainer_kwargs={"max_steps": 3}) is est
    assert est.d_model == 32 and est.trainer_kwargs == {"max_steps": 3}


def test_save_load_round_trip(fitted, series, tmp_path):
    path = fitted.save(tmp_path / "model")
    loaded = TSMambaForecaster.load(path)
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict())
    pd.testing.assert_frame_equal(
        loaded.predict(series, context="full"), fitted.predict(series, context="full")
    )
    assert loaded.get_params() == fitted.get_params()
    assert loaded.history_ == fitted.history_ and loaded.history_["epochs"] >= 1  # helper-148
    assert sorted(p.name for p in Path(path).iterdir()) == ["meta.json", "series.pt", "weights.pt"]
    # saving again replaces the directory atomically
    fitted.save(path)
    assert not [p for p in Path(tmp_path).iterdir() if p.name.startswith(".")]


def test_save_keeps_the_callers_extra_json_in_the_meta_and_load_ignores_it(fitted, tmp_path):
    path = fitted.save(tmp_path / "model", extra={"read": {"sep": ";"}, "note": np.float64(1.5)})
    assert read_meta(path)["extra"] == {"read": {"sep": ";"}, "note": 1.5}
    pd.testing.assert_frame_equal(TSMambaForecaster.load(path).predict(), fitted.predict())
    assert "extra" not in read_meta(fitted.save(tmp_path / "plain"))
    for bad, why in ((object(), "<object object at 0x[0-9a-f]+> is not a JSON value"),
                     (float("nan"), "Out of range float values are not JSON compliant")):
        with pytest.raises(ConfigError, match=re.escape(
                "save(extra=...) takes a mapping of JSON values (no NaN or inf): ") + why):
            fitted.save(tmp_path / "bad", extra={"x": bad})
    with pytest.raises(ConfigError, match=r"the key 1 \(int\) in extra\['read'\] is not a string"):
        fitted.save(tmp_path / "bad", extra={"read": {1: ";"}})  # JSON would load it back as "1"
    assert not (tmp_path / "bad").exists()


def test_cycle_and_input_skip_fit_predict_save_and_load(series, tmp_path):
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}, cycle_length=24, input_skip=True).fit(series)
    assert est.network_.config.n_marks == 1 and est.network_.config.skip_width == 1
    window, full = est.predict(), est.predict(context="full")
    assert window.shape == (12, 3) and np.isfinite(full.to_numpy()).all()
    assert est.network_.cycle.shape == (24, 3)
    loaded = TSMambaForecaster.load(est.save(tmp_path / "cyc"))
    pd.testing.assert_frame_equal(loaded.predict(series, context="full"), full)
    pd.testing.assert_frame_equal(loaded.predict(), window)
    # window forecasts at an origin equal the model run on the scaled window with its phases
    origin = 300
    rows = slice(origin - 23, origin + 1)
    x = torch.as_tensor(est.scaler_.transform(series.to_numpy()[rows]), dtype=torch.float32)
    phase = torch.as_tensor(np.asarray(series.index.hour[rows]), dtype=torch.float32)
    with torch.no_grad():
        scaled = est.network_(x[None], phase[None, :, None])[0].double().numpy()
    got = est.forecast_origins(series, [origin])[0]
    np.testing.assert_allclose(got, est.scaler_.inverse_transform(scaled), rtol=1e-6, atol=1e-6)
    with pytest.raises(ConfigError, match="pass the timestamps"):
        est.forecast_origins(series.to_numpy(), [origin])


def test_a_yearly_cycle_on_monthly_data_streams_exactly(tmp_path):
    """cycle_length=12 on month starts is the month of the year (monthly data had been refused a
    cycle: 'steps by the calendar'); in float64 a stream equals predict(context='full'), to 1e-10,
    across a save and load."""
    months = pd.date_range("1990-01-01", periods=240, freq="MS")
    values = np.stack([10 + 3 * np.sin(2 * np.pi * months.month / 12), np.arange(240) / 24.0], 1)
    data = pd.DataFrame(values + np.random.default_rng(0).normal(0, 0.2, (240, 2)), index=months,
                        columns=["sales", "trend"])
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1, "horizon": 6}, cycle_length=12).fit(data.iloc[:200])
    assert est.network_.cycle.shape == (12, 2)
    est = TSMambaForecaster.load(est.save(tmp_path / "monthly"))
    est.network_.double()
    stream = est.stream(data.iloc[:200])
    for t in range(200, 214):
        out = stream.update(data.iloc[t])
    expected = est.predict(data.iloc[:214], context="full")
    np.testing.assert_allclose(out.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-10)
    assert list(out.index) == list(pd.date_range("2007-11-01", periods=6, freq="MS"))


def test_a_yearly_cycle_starts_at_the_month_means(monkeypatch):
    """The learned cycle starts at each month's mean of the scaled training rows."""
    from tsmamba.model import MambaForecaster

    captured = {}
    original = MambaForecaster.init_cycle

    def record(self, x, phase):
        original(self, x, phase)
        captured["cycle"] = self.cycle.detach().clone()

    monkeypatch.setattr(MambaForecaster, "init_cycle", record)
    months = pd.date_range("1990-01-01", periods=120, freq="MS")
    data = pd.DataFrame({"sales": 10 + 3 * np.sin(2 * np.pi * months.month / 12) + np.arange(120) / 50},
                        index=months)
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1, "horizon": 6}, cycle_length=12).fit(data)
    n_train = 120 - round(0.1 * 120)
    scaled = est.scaler_.transform(data.to_numpy()[:n_train])
    expected = np.stack([scaled[months[:n_train].month == m].mean(0) for m in range(1, 13)])
    np.testing.assert_allclose(captured["cycle"].numpy(), expected, rtol=1e-5, atol=1e-6)


class HeadAtTrainStart(Callback):
    """Records the head's (and the cross-channel or per-channel skip's) weight and bias into
    ``seen`` when training starts."""

    def __init__(self, seen: dict):
        self.seen = seen

    def on_train_start(self, trainer, module):
        network = module.network
        for prefix, layer in (("", network.head), ("cross_", getattr(network, "cross_skip", None)),
                              ("channel_", getattr(network, "channel_skip", None))):
            if layer is not None:
                self.seen[prefix + "weight"] = layer.weight.detach().double().clone()
                self.seen[prefix + "bias"] = layer.bias.detach().double().clone()


def cycle_free_training_windows(est, series: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The fitted estimator's training windows (default 10% validation), scaled, minus the
    per-hour means of the training rows: contexts (n, L, C) and targets (n, H, C)."""
    L_, H = est.context_length, est.horizon
    n_train = len(series) - round(0.1 * len(series))
    scaled = est.scaler_.transform(series.to_numpy()[:n_train])
    hours = np.asarray(series.index.hour[:n_train])
    cycle = np.stack([scaled[hours == h].mean(0) for h in range(24)])
    residual = scaled - cycle[hours]  # (T, C)
    starts = np.arange(n_train - L_ - H + 1)
    return residual[starts[:, None] + np.arange(L_)], residual[starts[:, None] + L_ + np.arange(H)]


def test_linear_init_starts_training_at_the_ridge_map(series):
    """With linear_init the network enters training as the ridge map of its training windows
    (cycle-free inputs -> cycle-free targets, per channel): the head's skip weights and bias are
    that map, its hidden-state weights zero."""
    seen = {}
    at_start = HeadAtTrainStart(seen)
    L_, H = TINY["context_length"], TINY["horizon"]
    est = TSMambaForecaster(
        **{**TINY, "max_epochs": 1}, norm="none", cycle_length=24, input_skip=True, linear_init=True,
        head_dim=2, trainer_kwargs={"callbacks": [at_start]},
    ).fit(series)
    x, y = cycle_free_training_windows(est, series)  # (n, L, C), (n, H, C)
    x, y = x.transpose(0, 2, 1).reshape(-1, L_), y.transpose(0, 2, 1).reshape(-1, H)  # (n*C, L), (n*C, H)
    A = np.hstack([x, np.ones((len(x), 1))])
    solution = np.linalg.solve(A.T @ A + np.diag([1.0] * L_ + [0.0]), A.T @ y)  # (L + 1, H)
    weight = seen["weight"].view(H, L_, 3).numpy()  # (H, K, d + 1): hidden features, then the skip
    np.testing.assert_array_equal(weight[:, :, :2], 0.0)
    np.testing.assert_allclose(weight[:, :, 2], solution[:-1].T, atol=1e-5)
    np.testing.assert_allclose(seen["bias"].numpy(), solution[-1], atol=1e-5)
    # the start is validated too: training that only hurts leaves the ridge map in place
    class Sabotage(Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            with torch.no_grad():
                for p in module.network.parameters():
                    p.add_(torch.randn_like(p))

    spoiled = TSMambaForecaster(**{**est.get_params(), "trainer_kwargs": {"callbacks": [Sabotage()]}})
    spoiled.fit(series)
    assert spoiled.history_["best_epoch"] == -1 and spoiled.history_["best_step"] == 0
    start, *trained = spoiled.history_["val_losses"]  # the start's validation, then each epoch's
    assert (start["epoch"], start["step"], start["loss"]) == (-1, 0, spoiled.history_["best_val_loss"])
    assert trained and all(v["loss"] is None or v["loss"] > start["loss"] for v in trained)
    torch.testing.assert_close(spoiled.network_.head.weight.double(), seen["weight"], atol=0, rtol=0)
    with pytest.raises(ConfigError, match="set input_skip=True"):
        TSMambaForecaster(**TINY, linear_init=True).fit(series)


def test_the_linear_starts_validation_skips_the_mamba_path_to_the_same_loss(series, monkeypatch):
    """The start's validation runs inside linear_path_only (the head reads no hidden state yet):
    its loss, and so the whole fit, is the one the full network gives, bit for bit."""
    params = dict(**{**TINY, "max_epochs": 1}, norm="none", cycle_length=24, input_skip=True,
                  linear_init=True, head_dim=2)
    skipped = TSMambaForecaster(**params).fit(series)
    monkeypatch.setattr(MambaForecaster, "linear_path_only", lambda self: contextlib.nullcontext())
    full = TSMambaForecaster(**params).fit(series)
    start = skipped.history_["val_losses"][0]
    assert start["epoch"] == -1 and start["loss"] is not None
    assert skipped.history_["val_losses"] == full.history_["val_losses"]
    for a, b in zip(skipped.network_.parameters(), full.network_.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("params", [
    {"val_stride": 1},
    {"val_stride": 3, "channel_mode": "mix"},
    {"input_skip": True, "linear_init": True, "cycle_length": 24, "norm": "none"},
])
def test_keep_val_forecasts_gives_the_best_validations_forecasts(series, params):
    """fit(keep_val_forecasts=True) keeps the forecasts the best validation made, in original
    units, after every validation window's origin: on a CPU, to the bit what forecast_origins
    makes of the same origins with the weights the fit ended on."""
    train, val = series.iloc[:300], series.iloc[300:]
    est = TSMambaForecaster(**{**TINY, "max_epochs": 2}, **params)
    est.fit(train, val_df=val, keep_val_forecasts=True)
    H, stride = TINY["horizon"], params.get("val_stride", 1)
    windows = (len(val) - H) // stride + 1  # contexts from df's last rows, targets in val_df
    # the first window's context is df's last context_length rows: its origin is df's last row
    np.testing.assert_array_equal(est.val_origins_, len(train) - 1 + np.arange(windows) * stride)
    assert est.val_forecasts_.shape == (windows, H, series.shape[1])
    assert est.val_forecasts_.dtype == np.float64
    again = est.forecast_origins(est.values_, est.val_origins_, index=est.index_)
    assert np.array_equal(est.val_forecasts_, again)
    plain = TSMambaForecaster(**est.get_params()).fit(train, val_df=val)  # not asked for: none kept
    assert not hasattr(plain, "val_forecasts_") and not hasattr(plain, "val_origins_")
    assert plain.history_["val_losses"] == est.history_["val_losses"]  # keeping them changes no step
    est.fit(train)  # a refit (validating on df's last rows) that does not ask drops the old ones
    assert not hasattr(est, "val_forecasts_")
    with pytest.raises(ConfigError, match="keep_val_forecasts"):
        est.fit(train, keep_val_forecasts="yes")


def test_kept_val_forecasts_join_the_validation_batches_in_order(series, monkeypatch):
    """Validation in passes of 5 windows (the last one shorter): fit joins the kept batches in
    order into val_forecasts_, each at its windows' rows (tests/test_training.py checks that the
    batches are kept as they are, not joined at every better validation)."""
    import tsmamba.model

    C = series.shape[1]
    five = 5 * C * TINY["context_length"] * TINY["d_model"]  # windows x series rows x steps x width
    monkeypatch.setattr(tsmamba.model, "FORECAST_FAST_ELEMENTS", five)
    train, val = series.iloc[:300], series.iloc[300:]
    est = TSMambaForecaster(**{**TINY, "max_epochs": 2}).fit(train, val_df=val, keep_val_forecasts=True)
    assert est.network_.windows_per_pass(TINY["context_length"]) == 5
    assert len(est.val_origins_) == len(val) - TINY["horizon"] + 1 > 5 and len(est.val_origins_) % 5
    again = est.forecast_origins(est.values_, est.val_origins_, index=est.index_)  # also 5 a pass
    np.testing.assert_array_equal(est.val_forecasts_, again)


@pytest.mark.parametrize("mode", ["mix", "cross"])
def test_linear_init_ridge_sets_the_penalty_of_the_all_channel_ridge_map(series, mode):
    """In mix mode, and in independent mode with the cross-channel skip, the start is one ridge
    map from all channels' last K inputs to all channels' forecasts, with the penalty
    ``linear_init_ridge`` on its weights (not the bias)."""
    seen = {}
    at_start = HeadAtTrainStart(seen)
    L_, H, C, penalty = TINY["context_length"], TINY["horizon"], series.shape[1], 50.0
    kind = {"channel_mode": "mix"} if mode == "mix" else {"cross_channel_skip": True}
    est = TSMambaForecaster(
        **{**TINY, "max_epochs": 1}, **kind, norm="none", cycle_length=24, input_skip=True,
        linear_init=True, linear_init_ridge=penalty, head_dim=2,
        trainer_kwargs={"callbacks": [at_start]},
    ).fit(series)
    x, y = cycle_free_training_windows(est, series)  # (n, L, C), (n, H, C)
    x, y = x.reshape(len(x), L_ * C), y.reshape(len(y), H * C)  # (n, L*C), (n, H*C)
    A = np.hstack([x, np.ones((len(x), 1))])
    solution = np.linalg.solve(A.T @ A + np.diag([penalty] * (L_ * C) + [0.0]), A.T @ y)  # (L*C + 1, H*C)
    if mode == "mix":
        weight = seen["weight"].view(H * C, L_, 2 + C).numpy()  # (H*C, K, d + C): hidden features, skip
        np.testing.assert_array_equal(weight[:, :, :2], 0.0)
        np.testing.assert_allclose(weight[:, :, 2:], solution[:-1].T.reshape(H * C, L_, C), atol=1e-5)
        np.testing.assert_allclose(seen["bias"].numpy(), solution[-1], atol=1e-5)
    else:  # the per-channel head starts at zero; the cross map (H*C, C*K), channel-major, is the ridge map
        np.testing.assert_array_equal(seen["weight"].numpy(), 0.0)
        np.testing.assert_array_equal(seen["bias"].numpy(), 0.0)
        weight = seen["cross_weight"].view(H * C, C, L_).permute(0, 2, 1).numpy()  # (H*C, K, C)
        np.testing.assert_allclose(weight, solution[:-1].T.reshape(H * C, L_, C), atol=1e-5)
        np.testing.assert_allclose(seen["cross_bias"].numpy(), solution[-1], atol=1e-5)
    # a penalty of 1 (the default) is a different map: the setting reaches the fit
    default = np.linalg.solve(A.T @ A + np.diag([1.0] * (L_ * C) + [0.0]), A.T @ y)
    assert np.abs(default - solution).max() > 1e-3
    for bad in (0.0, -1.0, float("nan"), True):
        with pytest.raises(ConfigError, match="linear_init_ridge"):
            TSMambaForecaster(**TINY, input_skip=True, linear_init=True, linear_init_ridge=bad).fit(series)


def test_linear_init_own_weighs_each_channels_ridge_map_in_the_channel_skip_start(series):
    """With channel_skip the shared head starts at the ridge map shared by all channels and the
    per-channel map at ``linear_init_own`` x (the channel's own ridge map - the shared one)."""
    seen = {}
    L_, H, C, own = TINY["context_length"], TINY["horizon"], series.shape[1], 0.3
    est = TSMambaForecaster(
        **{**TINY, "max_epochs": 1}, norm="none", cycle_length=24, input_skip=True, channel_skip=True,
        linear_init=True, linear_init_own=own, head_dim=2,
        trainer_kwargs={"callbacks": [HeadAtTrainStart(seen)]},
    ).fit(series)
    x, y = cycle_free_training_windows(est, series)  # (n, L, C), (n, H, C)

    def ridge(xs, ys):  # (m, L), (m, H) -> (L + 1, H)
        A = np.hstack([xs, np.ones((len(xs), 1))])
        return np.linalg.solve(A.T @ A + np.diag([1.0] * L_ + [0.0]), A.T @ ys)

    shared = ridge(x.transpose(0, 2, 1).reshape(-1, L_), y.transpose(0, 2, 1).reshape(-1, H))
    np.testing.assert_allclose(seen["weight"].view(H, L_, 3).numpy()[:, :, 2], shared[:-1].T, atol=1e-5)
    for c in range(C):
        apart = own * (ridge(x[:, :, c], y[:, :, c]) - shared)  # (L + 1, H)
        np.testing.assert_allclose(seen["channel_weight"].view(C, H, L_)[c].numpy(), apart[:-1].T, atol=1e-5)
        np.testing.assert_allclose(seen["channel_bias"].view(C, H)[c].numpy(), apart[-1], atol=1e-5)
    assert np.abs(seen["channel_weight"].numpy()).max() > 1e-3


def test_channel_skip_lr_ratio_zero_keeps_the_per_channel_map_at_its_start_while_the_rest_trains(series):
    """0 freezes channel_skip (its start, linear_init_own x each channel's own ridge map) while the
    head trains; the default trains it."""
    seen, after = {}, []

    class AfterEachEpoch(Callback):
        def on_train_epoch_end(self, trainer, module):
            net = module.network
            after.append(tuple(p.detach().double().clone() for p in (net.channel_skip.weight,
                                                                     net.channel_skip.bias, net.head.weight)))

    params = dict(**{**TINY, "max_epochs": 2, "patience": None}, norm="none", input_skip=True,
                  channel_skip=True, linear_init=True, linear_init_own=0.5, head_dim=2)
    TSMambaForecaster(**params, channel_skip_lr_ratio=0.0,
                      trainer_kwargs={"callbacks": [HeadAtTrainStart(seen), AfterEachEpoch()]}).fit(series)
    assert len(after) == 2 and np.abs(seen["channel_weight"].numpy()).max() > 1e-3
    for weight, bias, head in after:
        torch.testing.assert_close(weight, seen["channel_weight"], atol=0, rtol=0)
        torch.testing.assert_close(bias, seen["channel_bias"], atol=0, rtol=0)
        assert (head - seen["weight"]).abs().max() > 1e-4  # the shared head trained
    seen.clear(), after.clear()  # the default (None: 1) trains the per-channel map too
    callbacks = [HeadAtTrainStart(seen), AfterEachEpoch()]
    TSMambaForecaster(**params, trainer_kwargs={"callbacks": callbacks}).fit(series)
    assert (after[-1][0] - seen["channel_weight"]).abs().max() > 1e-4


def test_freeze_linear_path_keeps_the_ridge_start_while_the_mamba_path_trains(series, tmp_path):
    """The head's input-skip columns and bias end where the ridge start put them; its hidden-state
    columns train. Refused without linear_init; a resume must keep it."""
    seen, after = {}, []

    class AfterEachEpoch(Callback):
        def on_train_epoch_end(self, trainer, module):
            after.append((module.network.head.weight.detach().double().clone(),
                          module.network.head.bias.detach().double().clone()))

    params = dict(**{**TINY, "max_epochs": 2, "patience": None}, norm="none", input_skip=True,
                  linear_init=True, head_dim=2, freeze_linear_path=True)
    callbacks = [HeadAtTrainStart(seen), AfterEachEpoch()]
    TSMambaForecaster(**params, trainer_kwargs={"callbacks": callbacks}).fit(series)
    H, L_ = TINY["horizon"], TINY["context_length"]
    start = seen["weight"].view(H, L_, 3)  # (H, K, d + 1): hidden features, then the skip
    assert len(after) == 2 and start[..., 2].abs().max() > 1e-3
    for weight, bias in after:
        torch.testing.assert_close(weight.view(H, L_, 3)[..., 2], start[..., 2], atol=0, rtol=0)
        torch.testing.assert_close(bias, seen["bias"], atol=0, rtol=0)
        assert (weight.view(H, L_, 3)[..., :2] - start[..., :2]).abs().max() > 1e-4
    with pytest.raises(ConfigError, match="set linear_init=True"):
        TSMambaForecaster(**{**params, "linear_init": False}).fit(series)
    with pytest.raises(ConfigError, match="freeze_linear_path must be True or False"):
        TSMambaForecaster(**{**params, "freeze_linear_path": 1}).fit(series)
    with pytest.raises(ConfigError, match="freeze_linear_path holds channel_skip too"):
        TSMambaForecaster(**params, channel_skip=True, channel_skip_lr_ratio=0.5).fit(series)
    ck = dict(**{**params, "max_epochs": 1}, checkpoint_dir=str(tmp_path / "ck"))
    TSMambaForecaster(**ck).fit(series)
    with pytest.raises(CheckpointError, match=r"fitted with freeze_linear_path True \(now False\)"):
        TSMambaForecaster(**{**ck, "freeze_linear_path": False, "max_epochs": 2}).fit(series, resume=True)
    assert TSMambaForecaster(**{**ck, "max_epochs": 2}).fit(series, resume=True).history_["epochs"] == 2


def test_a_resume_with_another_channel_skip_lr_ratio_is_refused(series, tmp_path):
    params = dict(**{**TINY, "max_epochs": 1}, input_skip=True, channel_skip=True, channel_skip_lr_ratio=0.5,
                  checkpoint_dir=str(tmp_path / "ck"))
    TSMambaForecaster(**params).fit(series)
    other = TSMambaForecaster(**{**params, "channel_skip_lr_ratio": 0.1, "max_epochs": 2})
    with pytest.raises(CheckpointError, match=r"with channel_skip_lr_ratio 0\.5 \(now 0\.1\); a resume"):
        other.fit(series, resume=True)
    assert TSMambaForecaster(**{**params, "max_epochs": 2}).fit(series, resume=True).history_["epochs"] == 2
    # a checkpoint from before channel_skip had groups of its own: Lightning's ValueError had surfaced
    last = torch.load(tmp_path / "ck" / "last.ckpt", weights_only=True)
    groups = last["optimizer_states"][0]["param_groups"]
    groups[1]["params"] += [p for g in groups[2:] for p in g["params"]]
    del groups[2:]
    torch.save(last, tmp_path / "ck" / "last.ckpt")
    with pytest.raises(CheckpointError, match=r"holds an optimizer with 2 parameter groups, and this network "
                                              r"trains with 4 \(a checkpoint of an earlier tsmamba\)"):
        TSMambaForecaster(**{**params, "max_epochs": 3}).fit(series, resume=True)


def test_a_fit_at_channel_skip_lr_ratio_zero_resumes_from_either_optimizer_layout(series, tmp_path):
    """Ratio 0 leaves channel_skip out of the optimizer; a checkpoint from before, with its two
    groups at learning rate 0, resumes too, to the same weights. Either is refused at another ratio."""
    params = dict(**{**TINY, "max_epochs": 1}, input_skip=True, channel_skip=True, channel_skip_lr_ratio=0.0,
                  checkpoint_dir=str(tmp_path / "ck"))
    TSMambaForecaster(**params).fit(series)
    last = tmp_path / "ck" / "last.ckpt"
    new = torch.load(last, weights_only=True)
    groups = new["optimizer_states"][0]["param_groups"]
    assert [g.get("name") for g in groups] == [None, None]
    refused = r"trained with channel_skip_lr_ratio 0 \(now 0\.5\); a resume"
    with pytest.raises(CheckpointError, match=refused):
        TSMambaForecaster(**{**params, "channel_skip_lr_ratio": 0.5}).fit(series, resume=True)
    resumed = TSMambaForecaster(**{**params, "max_epochs": 2}).fit(series, resume=True).network_
    old = copy.deepcopy(new)  # as tsmamba wrote it before: channel_skip's weight and bias in groups at lr 0
    optimizer, schedule = old["optimizer_states"][0], old["lr_schedulers"][0]
    n = sum(len(g["params"]) for g in groups)
    for i, (name, decay) in enumerate([("weight", groups[0]["weight_decay"]), ("bias", 0.0)]):
        optimizer["param_groups"].append({**groups[1], "params": [n + i], "weight_decay": decay,
                                          "name": "channel_skip", "lr": 0.0, "initial_lr": 0.0})
        shape = new["state_dict"][f"network.channel_skip.{name}"].shape
        optimizer["state"][n + i] = {"step": optimizer["state"][0]["step"].clone(),
                                     "exp_avg": torch.ones(shape), "exp_avg_sq": torch.ones(shape)}
    for key, value in (("base_lrs", 0.0), ("_last_lr", 0.0), ("lr_lambdas", None)):
        schedule[key] += [value, value]
    torch.save(old, last)
    with pytest.raises(CheckpointError, match=refused):
        TSMambaForecaster(**{**params, "channel_skip_lr_ratio": 0.5}).fit(series, resume=True)
    again = TSMambaForecaster(**{**params, "max_epochs": 2}).fit(series, resume=True).network_
    for a, b in zip(again.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


BOTH = "set linear_init=True and channel_skip=True"


@pytest.mark.parametrize("params, message", [
    (dict(input_skip=True, linear_init=True, linear_init_own=0.5), BOTH),
    (dict(input_skip=True, channel_skip=True, linear_init_own=0.5), BOTH),
    (dict(input_skip=True, channel_skip=True, linear_init=True, linear_init_own=1.5),
     r"linear_init_own must be a number in \[0, 1\], got 1.5"),
    (dict(channel_skip=True), "input_skip=True"),
    (dict(input_skip=True, channel_skip_lr_ratio=0.5), "set channel_skip=True with it, or leave it at None"),
    (dict(input_skip=True, channel_skip=True, channel_skip_lr_ratio=1.5),
     r"channel_skip_lr_ratio must be a number in \[0, 1\], got 1.5"),
])
def test_channel_skip_settings_are_checked_before_training(series, params, message):
    with pytest.raises(ConfigError, match=message):
        TSMambaForecaster(**TINY, **params).fit(series)


def test_random_train_sampling_trains_on_a_fresh_share_of_all_windows(series):
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}, train_stride=4, train_sampling="random").fit(series)
    n_train = len(series) - round(0.1 * len(series))
    n_windows = n_train - TINY["context_length"] - TINY["horizon"] + 1
    assert est.history_["train_windows"] == n_windows
    assert est.history_["windows_per_epoch"] == -(-n_windows // 4)
    with pytest.raises(ConfigError, match="train_sampling"):
        TSMambaForecaster(**TINY, train_sampling="every").fit(series)


def test_micro_batches_accumulated_to_a_step_train_as_the_whole_batch(series):
    """batch_size b / k with trainer_kwargs accumulate_grad_batches=k holds a k-th of the
    activations and takes the same steps as batch_size b: the window order does not depend on the
    batch size, so k micro-batches are the b windows of one batch, and their mean losses summed / k
    are its mean loss. Equal to float32 rounding when the epoch's windows fill whole batches (a
    partial last batch is weighed by k, not by its windows: micro_batch_size weighs it right)."""
    fits = []
    for batch_size, accumulate in ((8, 1), (2, 4), (2, 1)):
        est = TSMambaForecaster(**TINY | {"batch_size": batch_size}, train_sampling="random", train_stride=21,
                                trainer_kwargs={"accumulate_grad_batches": accumulate}).fit(series)
        assert est.history_["windows_per_epoch"] == 16  # two whole batches of 8 an epoch
        fits.append(est.network_.state_dict())
    whole, micro, small = fits
    for name, weight in whole.items():
        torch.testing.assert_close(micro[name], weight, atol=1e-6, rtol=1e-5)
    # not because training moved nothing: steps on the micro-batches alone end elsewhere
    assert max(float((small[name] - weight).abs().max()) for name, weight in whole.items()) > 1e-3


def test_micro_batch_size_trains_as_whole_batches_the_partial_last_one_too(series):
    """16 windows an epoch in batches of 6: steps of 6, 6 and 4 windows. In passes of 3 the last
    step is passes of 3 and 1, in passes of 2 two passes of 2; each pass's loss weighed by its share
    of the step's windows, every step's gradient is its batch's, so the weights end where whole
    batches take them (float64, to 1e-12). The recipe without the weights (batch_size 3 and
    accumulate_grad_batches 2) weighs the last step's passes 1/2 each and ends elsewhere."""
    wide = {"train_sampling": "random", "train_stride": 21, "trainer_kwargs": {"precision": "64-true"}}

    def fit(**kw):
        params = TINY | {"batch_size": 6} | wide | kw
        est = TSMambaForecaster(**params).fit(series)
        assert est.history_["windows_per_epoch"] == 16
        return est.network_.state_dict()

    whole = fit()
    for micro in (3, 2):
        passes = fit(micro_batch_size=micro)
        for name, weight in whole.items():
            torch.testing.assert_close(passes[name], weight, atol=1e-12, rtol=1e-10)
    unweighted = fit(batch_size=3, trainer_kwargs={"precision": "64-true", "accumulate_grad_batches": 2})
    assert max(float((unweighted[name] - weight).abs().max()) for name, weight in whole.items()) > 1e-6


@pytest.mark.parametrize(("micro", "trainer_kwargs", "message"), [
    (5, None, "a divisor of batch_size (8) (e.g. 4)"),
    (0, None, "a divisor of batch_size (8)"),
    (16, None, "a divisor of batch_size (8)"),
    (2.0, None, "a divisor of batch_size (8)"),
    (2, {"accumulate_grad_batches": 2}, "leave accumulate_grad_batches out of trainer_kwargs"),
    (2, {"limit_train_batches": 3}, "leave limit_train_batches out of trainer_kwargs"),
    # Lightning's own refusal named accumulate_grad_batches, which the user had not set
    (2, {"callbacks": GradientAccumulationScheduler({1: 2})},
     "micro_batch_size=2 sets Lightning's accumulate_grad_batches (4 passes a step) for every epoch, "
     "which the GradientAccumulationScheduler in trainer_kwargs callbacks would set too"),
])
def test_micro_batch_size_refused_before_any_data_work(series, micro, trainer_kwargs, message):
    est = TSMambaForecaster(**TINY | {"batch_size": 8}, micro_batch_size=micro, trainer_kwargs=trainer_kwargs)
    with pytest.raises(ConfigError, match=re.escape(message)):
        est.fit(series)


def test_cycle_starts_at_the_per_phase_means(series, monkeypatch):
    seen = {}
    original = TSMambaForecaster.marks_for

    def spy(self, index):
        marks = original(self, index)
        seen["phase"] = marks[:, -1]
        return marks

    monkeypatch.setattr(TSMambaForecaster, "marks_for", spy)
    from tsmamba.model import MambaForecaster

    captured = {}
    init = MambaForecaster.init_cycle

    def record(self, x, phase):
        init(self, x, phase)
        captured["cycle"] = self.cycle.detach().clone()
        captured["rows"] = len(x)

    monkeypatch.setattr(MambaForecaster, "init_cycle", record)
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}, cycle_length=24).fit(series)
    n_train = len(series) - round(0.1 * len(series))
    assert captured["rows"] == n_train  # training rows only, never the validation rows
    scaled = est.scaler_.transform(series.to_numpy()[:n_train])
    hours = series.index.hour[:n_train]
    expected = np.stack([scaled[hours == h].mean(0) for h in range(24)])
    np.testing.assert_allclose(captured["cycle"].numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(seen["phase"].numpy()[:n_train], hours)


def test_load_rejects_truncated_corrupt_and_mismatched(fitted, tmp_path, unsigned_meta):
    path = fitted.save(tmp_path / "m")
    weights = path / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        TSMambaForecaster.load(path)

    path = fitted.save(tmp_path / "m1")  # one flipped byte in a tensor's data still loads in torch:
    weights = path / "weights.pt"  # only the recorded sha256 tells
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"weights.pt is truncated or corrupt \(sha256 mismatch"):
        TSMambaForecaster.load(path)

    path = fitted.save(tmp_path / "m2")
    meta = unsigned_meta(path)
    meta["network_config"]["d_model"] = 32
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"d_model|shape"):
        TSMambaForecaster.load(path)

    # meta.json covers itself: an edited value (scaling here) had loaded and forecast 10 units off
    path = fitted.save(tmp_path / "m4")
    meta = json.loads((path / "meta.json").read_text())
    meta["scaler"]["mean"][0] += 10
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"meta.json is damaged or was edited \(sha256 mismatch"):
        TSMambaForecaster.load(path)

    with pytest.raises(CheckpointError, match=r"nowhere does not exist; check the path"):
        TSMambaForecaster.load(tmp_path / "nowhere")
    (tmp_path / "m3").mkdir()
    with pytest.raises(CheckpointError, match=r"meta\.json is missing"):
        TSMambaForecaster.load(tmp_path / "m3")


def test_same_random_state_same_predictions(series):
    a = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(series).predict()
    b = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(series).predict()
    pd.testing.assert_frame_equal(a, b, check_exact=True)  # to the bit, not within rtol 1e-5


def test_pickle_and_deepcopy_give_a_forecaster_that_forecasts_the_same(fitted, series):
    """As users copy every sklearn estimator (joblib.dump pickles it): nothing unpicklable
    (a lock, a trainer) may be kept on it, fitted or not."""
    import pickle

    unfitted = pickle.loads(pickle.dumps(TSMambaForecaster(**TINY)))
    assert unfitted.get_params() == TSMambaForecaster(**TINY).get_params()
    assert not hasattr(unfitted, "network_")
    for twin in (pickle.loads(pickle.dumps(fitted)), copy.deepcopy(fitted)):
        assert twin.network_ is not fitted.network_
        pd.testing.assert_frame_equal(twin.predict(), fitted.predict(), check_exact=True)
        pd.testing.assert_frame_equal(twin.predict(series, context="full"),
                                      fitted.predict(series, context="full"), check_exact=True)


class _Interrupt(Exception):
    pass


class _KillAtEpochStart(training.Callback):
    """Simulates a crash at the start of an epoch (after the previous epoch's checkpoint)."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise _Interrupt


@pytest.mark.parametrize(("ema_decay", "precision"), [(None, None), (0.9, None), (0.9, "64-true")])
def test_resume_after_kill_equals_uninterrupted(series, tmp_path, ema_decay, precision):
    """To the bit; a "64-true" resume had loaded its float64 weights through the float32 module."""
    params = {**TINY, "max_epochs": 3, "patience": None, "ema_decay": ema_decay}
    wide = {"precision": precision} if precision else {}
    whole = TSMambaForecaster(**params, checkpoint_dir=str(tmp_path / "a"), trainer_kwargs=wide).fit(series)

    ckpt = tmp_path / "b"
    killed = TSMambaForecaster(
        **params, checkpoint_dir=str(ckpt), trainer_kwargs={"callbacks": [_KillAtEpochStart(2)], **wide}
    )
    with pytest.raises(_Interrupt):
        killed.fit(series)
    assert (ckpt / "last.ckpt").exists()
    resumed = TSMambaForecaster(**params, checkpoint_dir=str(ckpt), trainer_kwargs=wide)
    resumed.fit(series, resume=True)
    for (name, a), b in zip(
        whole.network_.state_dict().items(), resumed.network_.state_dict().values(), strict=True
    ):
        assert a.dtype == b.dtype and torch.equal(a, b), name
    history = resumed.history_  # one epoch ran in this call: per epoch was its time over all three
    assert history["val_losses"] == whole.history_["val_losses"]  # the two before the kill: checkpointed
    assert [v["epoch"] for v in history["val_losses"]] == [0, 1, 2]
    assert history["epochs"] == 3 and history["seconds_per_epoch"] == history["train_seconds"]


def test_a_resume_of_a_step_limited_fit_warns_that_it_does_not_continue_exactly(series, tmp_path):
    """With max_steps, Lightning restarts the loaded run mid-epoch: each later epoch took the next
    one's window order and max_epochs=3 trained two (helper-174); the resume says so."""
    params = {**TINY, "max_epochs": 3, "patience": None, "checkpoint_dir": str(tmp_path)}
    steps = {"max_steps": 1000}
    with pytest.raises(_Interrupt):
        TSMambaForecaster(**params, trainer_kwargs={**steps, "callbacks": [_KillAtEpochStart(1)]}).fit(series)
    with pytest.warns(UserWarning, match=r"resuming with max_steps=1000 does not continue as the run would "
                      r"have: .*limit the run by max_epochs alone"):
        TSMambaForecaster(**params, trainer_kwargs=steps).fit(series, resume=True)
    with warnings.catch_warnings():  # limited by max_epochs alone: exact, no warning
        warnings.filterwarnings("error", message="resuming with max_steps")
        TSMambaForecaster(**params).fit(series, resume=True)


def test_an_unseeded_resume_keeps_the_window_order_it_drew(series, tmp_path):
    """random_state=None draws the order of the training windows; its resume drew another, so the
    resumed epochs trained on other batches than the uninterrupted fit's."""
    params = {**TINY, "max_epochs": 3, "patience": None, "random_state": None, "train_stride": 2,
              "train_sampling": "random"}
    torch.manual_seed(7)  # the draws an unseeded fit makes: its initial weights and window order
    whole = TSMambaForecaster(**params, checkpoint_dir=str(tmp_path / "a")).fit(series)
    ckpt = tmp_path / "b"
    killed = TSMambaForecaster(**params, checkpoint_dir=str(ckpt),
                               trainer_kwargs={"callbacks": [_KillAtEpochStart(2)]})
    torch.manual_seed(7)
    with pytest.raises(_Interrupt):
        killed.fit(series)
    torch.manual_seed(8)  # a new process: another order drawn, the saved one must win
    resumed = TSMambaForecaster(**params, checkpoint_dir=str(ckpt)).fit(series, resume=True)
    for (name, a), b in zip(
        whole.network_.state_dict().items(), resumed.network_.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    state = torch.load(ckpt / "last.ckpt", weights_only=True)
    state["TimeSeriesDataModule"] = {"seed": -3}
    torch.save(state, ckpt / "last.ckpt")
    with pytest.raises(CheckpointError, match=re.escape(
            f"{ckpt / 'last.ckpt'} holds a damaged window order (seed must be an integer in [0, 2**32), got "
            "-3); delete it to start afresh, or use another checkpoint_dir")):
        TSMambaForecaster(**params, checkpoint_dir=str(ckpt)).fit(series, resume=True)


def test_a_full_disk_at_an_epochs_checkpoint_is_a_checkpoint_error_leaving_nothing_behind(series, tmp_path,
                                                                                           monkeypatch):
    """A failed last.ckpt write raised Lightning's OSError, which named its own temp file in /tmp,
    and left the partial temporary file in checkpoint_dir (a new name every run)."""
    import errno

    params = {**TINY, "max_epochs": 2, "patience": None}
    ckpt = tmp_path / "ck"
    first = TSMambaForecaster(**params, checkpoint_dir=str(ckpt)).fit(series)
    kept = (ckpt / "last.ckpt").read_bytes()

    def full_disk(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    second = TSMambaForecaster(**params, checkpoint_dir=str(ckpt))
    last = re.escape(str(ckpt / "last.ckpt"))
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(ckpt))}: the epoch's last.ckpt could not be "
                       rf"written \(\[Errno 28\] No space left on device: '{last}'\); the previous one is "
                       r"kept\. Free space on the disk the error names"):
        second.fit(series)
    assert sorted(p.name for p in ckpt.iterdir()) == ["last.ckpt"]
    assert (ckpt / "last.ckpt").read_bytes() == kept
    assert not hasattr(second, "network_") and hasattr(first, "network_")


def test_a_partial_last_ckpt_of_a_killed_fit_is_named_by_the_next_fit(series, tmp_path):
    """A fit killed while writing last.ckpt leaves its .last.ckpt.<random>.tmp (checkpoint-sized,
    under a name no later fit reuses; .last.ckpt.<pid>.tmp before); the next fit in the folder names it."""
    ckpt = tmp_path / "ck"
    ckpt.mkdir()
    (ckpt / ".last.ckpt.4194305.tmp").write_bytes(b"partial")  # an earlier tsmamba's
    (ckpt / ".last.ckpt.0badcafe.tmp").write_bytes(b"partial")
    (ckpt / ".last.ckpt.notes.tmp").write_bytes(b"someone else's")
    with pytest.warns(UserWarning, match=re.escape(f"{ckpt} holds ['.last.ckpt.0badcafe.tmp', "
                                                   "'.last.ckpt.4194305.tmp'], partial checkpoint files of "
                                                   "fits that were killed")):
        TSMambaForecaster(**{**TINY, "max_epochs": 1}, checkpoint_dir=str(ckpt)).fit(series)
    assert sorted(p.name for p in ckpt.iterdir()) == [".last.ckpt.0badcafe.tmp", ".last.ckpt.4194305.tmp",
                                                      ".last.ckpt.notes.tmp", "last.ckpt"]


def test_resume_with_early_stopping_stops_where_the_uninterrupted_run_stops(tmp_path):
    # last.ckpt must hold early stopping's verdict on its own epoch: written before it (as a plain
    # callback), it held the previous epoch's, and this resumed fit trained 6 epochs instead of 4
    data = synthetic_ett(n_rows=300, n_channels=2).set_index("date")
    params = dict(context_length=24, horizon=8, d_model=8, n_layers=1, max_epochs=8, patience=1,
                  learning_rate=0.05, random_state=2, progress=False)
    whole = TSMambaForecaster(**params, checkpoint_dir=str(tmp_path / "a")).fit(data)
    assert whole.history_["epochs"] < params["max_epochs"]  # it stopped early
    ckpt = tmp_path / "b"
    kill = _KillAtEpochStart(whole.history_["epochs"] - 1)
    killed = TSMambaForecaster(**params, checkpoint_dir=str(ckpt), trainer_kwargs={"callbacks": [kill]})
    with pytest.raises(_Interrupt):
        killed.fit(data)
    resumed = TSMambaForecaster(**params, checkpoint_dir=str(ckpt)).fit(data, resume=True)
    assert resumed.history_["epochs"] == whole.history_["epochs"]
    pd.testing.assert_frame_equal(resumed.predict(), whole.predict())
    # the last checkpoint of a fit that early stopping ended (killed before fit returned, or a
    # job that always resumes run again): Lightning restored the counters, not the stop, and
    # this resume trained 6 epochs instead of 4
    again = TSMambaForecaster(**params, checkpoint_dir=str(tmp_path / "a")).fit(data, resume=True)
    assert (again.history_["epochs"], again.history_["best_epoch"]) == (
        whole.history_["epochs"], whole.history_["best_epoch"])
    assert again.history_["seconds_per_epoch"] is None  # it ended at once
    pd.testing.assert_frame_equal(again.predict(), whole.predict())


def test_a_resume_stops_early_by_its_own_patience(tmp_path):
    """Lightning restored the checkpoint's patience: a resume given patience=10 stopped where the
    fit with patience=1 had (after 4 epochs of 8) (helper-135)."""
    data = synthetic_ett(n_rows=300, n_channels=2).set_index("date")
    params = dict(context_length=24, horizon=8, d_model=8, n_layers=1, max_epochs=8, learning_rate=0.05,
                  random_state=2, progress=False)
    patient = TSMambaForecaster(**params, patience=10).fit(data)
    impatient = TSMambaForecaster(**params, patience=1, checkpoint_dir=str(tmp_path / "a")).fit(data)
    stopped = impatient.history_["epochs"]
    assert stopped < patient.history_["epochs"]
    # out of patience, it trains on under a larger one, as if it had had that one all along
    resumed = TSMambaForecaster(**params, patience=10, checkpoint_dir=str(tmp_path / "a"))
    resumed.fit(data, resume=True)
    assert resumed.history_["epochs"] == patient.history_["epochs"]
    pd.testing.assert_frame_equal(resumed.predict(), patient.predict())
    # a patient fit killed where its count of validations without improvement reaches 1 ends at
    # once under patience=1, where the impatient fit ended
    kill = {"callbacks": [_KillAtEpochStart(stopped)]}
    with pytest.raises(_Interrupt):
        TSMambaForecaster(**params, patience=10, checkpoint_dir=str(tmp_path / "b"), trainer_kwargs=kill
                          ).fit(data)
    ended = TSMambaForecaster(**params, patience=1, checkpoint_dir=str(tmp_path / "b")).fit(data, resume=True)
    assert ended.history_["epochs"] == stopped
    pd.testing.assert_frame_equal(ended.predict(), impatient.predict())


def test_a_fit_holds_its_checkpoint_dir(series, tmp_path):
    """Two fits writing one checkpoint_dir at once replaced each other's last.ckpt every epoch, and
    a resume then took the other fit's (helper-135): the second is refused before it trains."""
    ckpt = tmp_path / "ck"
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}, checkpoint_dir=str(ckpt))
    with held_alone(ckpt / "last.ckpt"):  # as another process's fit holds it
        with pytest.raises(CheckpointError, match=r"last.ckpt is in use by another process \(pid \d+\) "
                                                  r"that saves there; wait for it to end, or choose another"):
            est.fit(series)
    assert not hasattr(est, "network_") and not (ckpt / "last.ckpt").exists()
    est.fit(series)
    assert sorted(p.name for p in ckpt.iterdir()) == ["last.ckpt"]  # the lock file goes with the fit


class _StopAtEpochEnd(training.Callback):
    """Stops a fit as Lightning's max_time does: should_stop at an epoch's end."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            trainer.should_stop = True


def test_a_users_early_stopping_that_stopped_a_fit_does_not_stop_the_next(series, tmp_path):
    """Its verdict is applied only when a fit resumes: reused in a new fit, it had stopped it at once."""
    from lightning.pytorch.callbacks import EarlyStopping

    stopper = EarlyStopping("val_loss", patience=1, mode="min")
    params = {**TINY, "max_epochs": 8, "patience": None, "learning_rate": 0.05,
              "trainer_kwargs": {"callbacks": [stopper]}}
    first = TSMambaForecaster(**params, checkpoint_dir=str(tmp_path / "a")).fit(series)
    assert first.history_["epochs"] < 8  # it stopped
    again = TSMambaForecaster(**params, checkpoint_dir=str(tmp_path / "b")).fit(series)
    assert again.history_["epochs"] >= 1


def test_a_fit_stopped_by_time_resumes_to_train_on(series, tmp_path):
    """Only early stopping's verdict is applied again on a resume: a time slot's stop is not."""
    params = {**TINY, "max_epochs": 3, "patience": None}
    whole = TSMambaForecaster(**params).fit(series)
    ckpt = str(tmp_path / "ck")
    stop = {"callbacks": [_StopAtEpochEnd(0)]}
    slot = TSMambaForecaster(**params, checkpoint_dir=ckpt, trainer_kwargs=stop)
    assert slot.fit(series).history_["epochs"] == 1
    resumed = TSMambaForecaster(**params, checkpoint_dir=ckpt).fit(series, resume=True)
    assert resumed.history_["epochs"] == 3
    pd.testing.assert_frame_equal(resumed.predict(), whole.predict())


def test_resuming_a_finished_fit_without_validation_ends_on_the_average(series, tmp_path):
    # Lightning skips on_train_end when the checkpoint already ran every epoch
    params = {**TINY, "max_epochs": 2, "ema_decay": 0.9, "val_fraction": 0.0,
              "checkpoint_dir": str(tmp_path)}
    done = TSMambaForecaster(**params).fit(series)
    again = TSMambaForecaster(**params).fit(series, resume=True)
    pd.testing.assert_frame_equal(again.predict(), done.predict())
    # no epoch ran: not the load time over the two epochs of the first fit (helper-135)
    assert again.history_["seconds_per_epoch"] is None and done.history_["seconds_per_epoch"] > 0


def test_non_finite_loss_stops_with_a_clear_error(series, monkeypatch, tmp_path):
    calls = {"n": 0}
    real = training.forecast_loss

    def poisoned(kind, pred, target, frequency_weight=0.0):
        calls["n"] += 1
        loss = real(kind, pred, target, frequency_weight)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(training, "forecast_loss", poisoned)
    est = TSMambaForecaster(**TINY, checkpoint_dir=str(tmp_path / "ck"))
    with pytest.raises(TrainingError, match=r"epoch 0, step 2"):
        est.fit(series)
    assert not hasattr(est, "history_")
    assert not (tmp_path / "ck" / "last.ckpt").exists()  # no NaN weights written



def test_a_fit_out_of_memory_says_what_to_lower_and_leaves_the_estimator_as_it_was(series, monkeypatch):
    """A real failed allocation in a training step (torch's allocator refuses 1 PiB) had come out
    as a RuntimeError from deep in the SSD; the estimator can fit again once the memory is back."""
    real = training.forecast_loss

    def greedy(kind, pred, target, frequency_weight=0.0):
        torch.empty(2**50, dtype=torch.uint8)
        return real(kind, pred, target, frequency_weight)

    est = TSMambaForecaster(**TINY)
    monkeypatch.setattr(training, "forecast_loss", greedy)
    with pytest.raises(OutOfMemoryError, match=r"^fit ran out of memory \(it asked for 1,048,576.0 GiB "
                       r"more\): set micro_batch_size=16 \(the same steps in passes of fewer windows\), or "
                       r"lower batch_size \(32\), context_length \(24\), d_model \(16\), "
                       r"n_layers \(1\) or chunk_size \(32\), or fit fewer channels at a time$") as caught:
        est.fit(series)
    assert isinstance(caught.value, (TSMambaError, MemoryError))
    assert not hasattr(est, "network_")
    monkeypatch.setattr(training, "forecast_loss", real)
    assert est.fit(series).predict().shape == (TINY["horizon"], 3)


def test_batched_forecasts_out_of_memory_say_what_to_lower(fitted, series, monkeypatch):
    def greedy(*args, **kwargs):
        return torch.empty(2**50, dtype=torch.uint8)

    monkeypatch.setattr(fitted.network_, "forward", greedy)
    origins = list(range(30, 60))
    with pytest.raises(OutOfMemoryError, match=r"^forecast_origins ran out of memory \(it asked for .*\): "
                       r"pass a smaller batch_size \(None keeps a pass near 1 GB\), or forecast fewer"):
        fitted.forecast_origins(series, origins, batch_size=64)
    with pytest.raises(OutOfMemoryError, match=r"\): forecast fewer origins \(windows\) at a time$"):
        fitted.forecast_origins(series, origins)
    with pytest.raises(OutOfMemoryError, match=r"^forecast_scaled_windows ran out of memory"):
        fitted.forecast_scaled_windows(np.zeros((4, TINY["context_length"], 3)))


class _SigtermAtBatch(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx == 1:
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_sigterm_during_a_fit_exits_143_not_0(series):
    """Lightning answers a SIGTERM while it trains with a SystemExit with no code: a script killed
    mid-fit had exited with status 0, as if it had succeeded."""
    est = TSMambaForecaster(**{**TINY, "max_epochs": 5}, trainer_kwargs={"callbacks": [_SigtermAtBatch()]})
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # what a script has: Lightning handles it
    with pytest.raises(SystemExit) as caught:
        est.fit(series)
    assert caught.value.code == 143 and not hasattr(est, "network_")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back


def test_a_diverged_validation_loss_stops_with_a_clear_error(series, tmp_path):
    """One step at a huge learning rate leaves finite but enormous weights whose validation loss
    is NaN: early stopping (on by default) had ended the fit quietly, and it forecast NaN."""
    est = TSMambaForecaster(**{**TINY, "max_epochs": 3, "batch_size": 512, "learning_rate": 1e20},
                            checkpoint_dir=str(tmp_path / "ck"))
    assert est.patience is not None  # early stopping on
    with pytest.raises(TrainingError, match=r"non-finite validation loss \(nan\) at epoch 0, after step 1"):
        est.fit(series)
    assert not hasattr(est, "history_")
    assert not (tmp_path / "ck" / "last.ckpt").exists()


def test_a_fit_that_diverges_at_its_last_step_is_a_training_error(series, tmp_path):
    """Without validation nothing checked what an epoch's last step made (each training loss is
    checked before its step): one step at a huge learning rate returned a fitted estimator, wrote
    its checkpoint, and predict then blamed the data ("the network's float32 could not carry the
    inputs through")."""
    ck = tmp_path / "ck"
    sane = TSMambaForecaster(**{**TINY, "val_fraction": 0, "max_epochs": 1}, checkpoint_dir=str(ck))
    sane.fit(series)
    saved = (ck / "last.ckpt").read_bytes()
    est = TSMambaForecaster(**{**TINY, "val_fraction": 0, "learning_rate": 1e3, "gradient_clip_val": 0},
                            checkpoint_dir=str(ck), trainer_kwargs={"max_steps": 1})
    with pytest.raises(TrainingError, match=r"training diverged at the end of epoch 0: after step 1, which "
                       r"no training loss checked, its forecasts of the training windows are not finite; "
                       r"weights were not saved\. Lower learning_rate"):
        est.fit(series)
    assert not hasattr(est, "network_")
    assert (ck / "last.ckpt").read_bytes() == saved  # the previous fit's checkpoint, not these weights
    assert np.isfinite(sane.predict().to_numpy()).all()


def test_a_float64_fit_trains_on_the_float64_values():
    """The windows were float32 whatever the precision: a 1e-3 signal on a 1e5 level (scale=False,
    the LTSF route) reached the float64 network as one constant value."""
    index = pd.date_range("2020-01-01", periods=300, freq="h", name="date")
    frame = pd.DataFrame({"y": 1e5 + 1e-3 * np.sin(np.arange(300) / 3)}, index=index)
    seen = []

    class Batches(Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            seen.append(batch[0].detach().clone())

    est = TSMambaForecaster(**{**TINY, "max_epochs": 1, "train_stride": 1, "linear_init": False},
                            trainer_kwargs={"precision": "64-true", "callbacks": [Batches()]})
    est.fit(frame, scale=False)
    contexts = torch.cat(seen)  # (windows, L, 1), shuffled
    assert contexts.dtype == torch.float64
    values = torch.tensor(frame["y"].to_numpy())
    windows = values.unfold(0, TINY["context_length"], 1)[:, :, None]  # every context, exactly
    assert all((windows == c).all(dim=(1, 2)).any() for c in contexts[:20])

def test_an_unscaled_fit_without_normalisation_warns_of_columns_far_from_unit_scale():
    """fit(scale=False) with norm='none' on values near 2e6 trained a network that forecast about
    0.7 for them, silently; it now warns, naming the column and the ways out. Unit-scale values (the
    LTSF route), scale=True and norm='causal' are not warned about."""
    index = pd.date_range("2020-01-01", periods=300, freq="h", name="date")
    wave = np.sin(np.arange(300) / 3)
    frame = pd.DataFrame({"big": 2e6 + 1e5 * wave, "unit": wave}, index=index)
    params = {**TINY, "max_epochs": 1, "norm": "none"}
    with pytest.warns(UserWarning) as caught:
        TSMambaForecaster(**params).fit(frame, scale=False)
    unscaled = [w for w in caught if "scale=False" in str(w.message)]
    assert len(unscaled) == 1 and unscaled[0].filename == __file__
    assert str(unscaled[0].message) == (
        "fit(scale=False) with norm='none' trains on the values as given, and the root mean square of "
        "'big' (2e+06) exceeds 1000: the network, which starts near unit scale, will forecast them "
        "poorly; pass scale=True, norm='causal', or scale the data first")
    for change, fit_kwargs in (({}, {"scale": True}), ({"norm": "causal"}, {"scale": False}),
                               ({}, {"scale": False})):
        data = frame[["unit"]] if change == {} and not fit_kwargs["scale"] else frame
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            TSMambaForecaster(**{**params, **change}).fit(data, **fit_kwargs)
        assert not [w for w in seen if "scale=False" in str(w.message)]


def test_real_data_smoke_fit_beats_last_value(benchmark_file):
    """A short fit on a slice of ETTh1 beats the naive last-value forecast on held-out windows."""
    from tsmamba.data import read_series

    df = read_series(benchmark_file("ETTh1"))
    train, held = df.iloc[:3000], df.iloc[:3600]
    est = TSMambaForecaster(
        context_length=96,
        horizon=24,
        d_model=32,
        n_layers=1,
        d_state=16,
        max_epochs=2,
        batch_size=64,
        learning_rate=3e-3,
        progress=False,
        train_stride=2,
        random_state=0,
    ).fit(train)
    origins = np.arange(3000, 3600 - 24, 12)
    pred = est.forecast_origins(held, origins)
    values = held.to_numpy()
    truth = np.stack([values[o + 1 : o + 25] for o in origins])
    naive = np.repeat(values[origins][:, None], 24, axis=1)
    scale = est.scaler_.scale_
    mse_model = (((pred - truth) / scale) ** 2).mean()
    mse_naive = (((naive - truth) / scale) ** 2).mean()
    assert mse_model < mse_naive, (mse_model, mse_naive)


def test_readme_use_example_on_an_etth1_slice(benchmark_file, tmp_path):
    """README's "Use" example, run as written but on 1,000 rows of ETTh1 (not 12,000) with a small
    network and one epoch, so that it takes seconds: every claim its comments make holds.

    The stream's update equals predict(context="full") over the same rows to 1e-4 of the forecast's
    scale: the network is float32, and the step recurrence and the chunked scan add the same terms
    in different orders over the 1,301 rows (docs/streaming.md states this bound). Here they differ
    by about 2e-7 of the scale, and moving one input value of the last row by 0.1 moves the forecast
    by 4e-4 of it, so the bound tells a stream that misread the row from one that did not."""
    from tsmamba.datasets import load_dataset

    benchmark_file("ETTh1")  # skips, naming the folders searched, without the file
    df = load_dataset("ETTh1", download=False)  # DatetimeIndex, 7 numeric channels
    assert isinstance(df.index, pd.DatetimeIndex) and df.shape[1] == 7
    assert all(pd.api.types.is_float_dtype(t) for t in df.dtypes)

    small = dict(d_model=16, n_layers=1, d_state=8, headdim=8, train_stride=2, progress=False,
                 random_state=0)
    f = TSMambaForecaster(context_length=96, horizon=96, max_epochs=1, **small).fit(df.iloc[:1000])
    ahead = f.predict()  # the 96 steps after the training data
    assert ahead.index.equals(df.index[1000:1096]) and list(ahead.columns) == list(df.columns)
    full = f.predict(df.iloc[:1300], context="full")  # the whole history through the recurrent state
    assert full.index.equals(df.index[1300:1396])
    window = f.predict(df.iloc[:1300])  # the last 96 rows only: the full history is another forecast
    assert not np.allclose(full.to_numpy(), window.to_numpy())

    f.save(tmp_path / "model")
    f = TSMambaForecaster.load(tmp_path / "model")
    assert f.predict().equals(ahead) and f.predict(df.iloc[:1300], context="full").equals(full)

    stream = f.stream(history=df.iloc[:1300])  # online: O(1) per observation
    got = stream.update(df.iloc[1300])  # == f.predict(df.iloc[:1301], context="full")
    expected = f.predict(df.iloc[:1301], context="full")
    assert got.index.equals(expected.index) and list(got.columns) == list(expected.columns)
    scale = np.abs(expected.to_numpy()).max()
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-4 * scale)


def test_ddp_fit_on_two_cpu_processes(tmp_path):
    """trainer_kwargs choose the strategy: DDP over 2 CPU processes trains a model that loads and predicts."""
    script = tmp_path / "ddp_fit.py"
    out = tmp_path / "model"
    script.write_text(
        textwrap.dedent(f"""
        import os
        from tsmamba.datasets import synthetic_ett
        from tsmamba.estimator import TSMambaForecaster
        df = synthetic_ett(n_rows=300, n_channels=2, seed=0).set_index("date")
        est = TSMambaForecaster(context_length=24, horizon=6, d_model=16, n_layers=1, d_state=8, headdim=8,
                                max_epochs=1, batch_size=16, progress=False,
                                trainer_kwargs={{"accelerator": "cpu", "devices": 2, "strategy": "ddp"}})
        est.fit(df)
        if int(os.environ.get("LOCAL_RANK", 0)) == 0:
            est.save({str(out)!r})
    """)
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = TSMambaForecaster.load(out)
    assert loaded.predict().shape == (6, 2)


def test_a_ddp_fit_judges_every_validation_on_the_windows_of_all_processes(tmp_path):
    """Each process validates its share of the batches; val_loss was logged unsynced, so each
    process's early stopping and best weights judged its own share: the processes stopped when one
    share got worse and ended on different weights (seed 1: rank 0's best epoch 2, rank 1's 1).
    The epoch's train_loss, logged unsynced too (Lightning warned at every fit), was each process's
    mean over its own share of the batches: it is the mean over every process's windows."""
    script = tmp_path / "ddp_val.py"
    script.write_text(
        textwrap.dedent(f"""
        import json, os, warnings
        import lightning as L
        import tsmamba.model
        from tsmamba.datasets import synthetic_ett
        from tsmamba.estimator import TSMambaForecaster
        tsmamba.model.FORECAST_FAST_ELEMENTS = 1 << 11  # validation in batches of 4 windows, not one

        class Losses(L.Callback):  # this process's training losses and windows, and the epoch's loss
            steps, epoch = [], {{}}  # one fit
            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
                self.steps.append([float(outputs["loss"]), len(batch[0])])
            def on_train_epoch_end(self, trainer, module):
                for key in ("train_loss", "train_loss_epoch"):
                    self.epoch[key] = float(trainer.callback_metrics[key])

        # 192 training windows, 96 a process: Lightning's sync averages the processes' window counts as
        # int64, floored, which inflates the losses when the total is odd (pytorch-lightning issue
        # 21838; its fix, PR 21839, is not in Lightning 2.6.6)
        df = synthetic_ett(n_rows=301, n_channels=2, seed=0).set_index("date")
        est = TSMambaForecaster(context_length=16, horizon=4, d_model=8, n_layers=1, d_state=4, headdim=4,
                                chunk_size=8, max_epochs=1, batch_size=16, val_fraction=0.3,
                                progress=False, trainer_kwargs={{"accelerator": "cpu", "devices": 2,
                                                                "strategy": "ddp", "callbacks": [Losses()]}})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est.fit(df)
        rank = os.environ.get("LOCAL_RANK", "0")
        with open(os.path.join({str(tmp_path)!r}, "rank" + rank + ".json"), "w") as fh:
            json.dump({{"val": [v["loss"] for v in est.history_["val_losses"]], "steps": Losses.steps,
                       "epoch": Losses.epoch, "sync": [str(w.message) for w in caught
                                                      if "sync_dist" in str(w.message)]}}, fh)
    """)
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert len(ranks[0]["val"]) == 1 and ranks[0]["val"] == ranks[1]["val"]
    assert ranks[0]["sync"] == ranks[1]["sync"] == []  # Lightning's advice to sync train_loss
    def by_window(steps: list) -> float:  # steps: (loss, windows) of each batch
        losses, windows = np.array(steps).T
        return float(np.average(losses, weights=windows))

    mean = by_window(ranks[0]["steps"] + ranks[1]["steps"])
    assert not np.isclose(by_window(ranks[0]["steps"]), mean, rtol=1e-3)  # the shares' means differ
    assert ranks[0]["epoch"] == ranks[1]["epoch"]  # the epoch's, in the logger and for a monitor alike:
    assert ranks[0]["epoch"]["train_loss_epoch"] == ranks[0]["epoch"]["train_loss"]
    assert np.isclose(ranks[0]["epoch"]["train_loss"], mean, rtol=1e-6)  # over every process's windows


def test_a_failed_fit_leaves_the_estimator_as_it_was(series):
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(series)
    before = est.predict()
    est.set_params(channel_mode="independant")  # fails after the data is read and scaled
    with pytest.raises(ConfigError, match="channel_mode"):
        est.fit(series.iloc[:300])
    with pytest.raises(ConfigError, match="parameters changed since fit are not valid"):
        est.predict()  # the typo is still set
    est.set_params(channel_mode="independent")
    pd.testing.assert_frame_equal(est.predict(), before)
    assert len(est.values_) == len(series)

    first = TSMambaForecaster(**{**TINY, "channel_mode": "independant"})
    with pytest.raises(ConfigError, match="channel_mode"):
        first.fit(series)
    assert not [name for name in vars(first) if name.endswith("_")]
    with pytest.raises(NotFittedError):
        first.predict()


def _draws() -> tuple:
    return torch.rand(3), np.random.rand(3), random.random()


def _seed_globals() -> None:
    torch.manual_seed(123)
    np.random.seed(5)
    random.seed(7)


@pytest.mark.parametrize("flag", [True, False])
def test_a_fit_leaves_torch_deterministic_mode_as_it_found_it(series, flag):
    before = torch.are_deterministic_algorithms_enabled()
    try:
        torch.use_deterministic_algorithms(flag)
        TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(series.iloc[:200])
        assert torch.are_deterministic_algorithms_enabled() is flag
    finally:
        torch.use_deterministic_algorithms(before)


def test_a_seeded_fit_leaves_the_global_random_generators_as_it_found_them(series):
    env = os.environ.get("PL_GLOBAL_SEED")
    _seed_globals()
    expected = _draws()
    for frame in (series, series.iloc[:300].assign(x0=np.nan)):  # a fit that works, one that raises
        _seed_globals()
        with contextlib.suppress(DataValidationError):
            TSMambaForecaster(**{**TINY, "max_epochs": 1, "dropout": 0.1}).fit(frame)
        got = _draws()
        assert torch.equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        assert got[2] == expected[2]
    assert os.environ.get("PL_GLOBAL_SEED") == env

    # unseeded: the fit draws from (and advances) the global generators, so two fits differ,
    # in their window order and random subsets too
    unseeded = {**TINY, "max_epochs": 1, "random_state": None}
    a = TSMambaForecaster(**unseeded).fit(series.iloc[:200]).predict()
    b = TSMambaForecaster(**unseeded).fit(series.iloc[:200]).predict()
    assert not a.equals(b)
    seeds = []
    real = estimator_module.TimeSeriesDataModule

    def recording(*args, **kwargs):
        seeds.append(kwargs["seed"])
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(estimator_module, "TimeSeriesDataModule", recording)
        for _ in range(2):
            TSMambaForecaster(**unseeded, train_stride=4, train_sampling="random").fit(series.iloc[:200])
    assert seeds[0] != seeds[1]


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "0"])
def test_random_state_must_be_a_seed_numpy_takes(series, seed):
    with pytest.raises(ConfigError, match="random_state must be an integer in"):
        TSMambaForecaster(**{**TINY, "random_state": seed}).fit(series)


def test_parameters_changed_after_fit_are_refused_until_refit(series, tmp_path, unsigned_meta):
    """The network keeps the fitted shape: a changed horizon made predict crash, a changed
    context_length forecast silently from fewer rows, and save wrote params the weights lack."""
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(series)
    before, fitted_params = est.predict(), est.get_params()
    for name, value, shown in [("horizon", 6, "horizon 12 -> 6"),
                               ("context_length", 12, "context_length 24 -> 12"),
                               ("time_features", True, "time_features False -> True")]:
        est.set_params(**{name: value})
        for call in (est.predict, est.stream, lambda: est.save(tmp_path / "m")):
            with pytest.raises(ConfigError, match=f"parameters changed since fit: {shown}"):
                call()
        est.set_params(**fitted_params)
    est.set_params(learning_rate=0.5, chunk_size=4, dropout=0.3)  # training-only settings may change
    pd.testing.assert_frame_equal(est.predict(), before)
    path = est.save(tmp_path / "m")
    meta = unsigned_meta(path)
    # a save whose parameters disagree with its network (an older version saved after set_params):
    # the weights have the network's shape, so it loads with the network's parameters
    meta["params"].update(horizon=6, context_length=12, time_features=True)
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="saved parameters disagree with the saved network"):
        loaded = TSMambaForecaster.load(path)
    assert (loaded.horizon, loaded.context_length, loaded.time_features) == (12, 24, False)
    assert loaded.head_window is None  # still following context_length, as it was fitted
    pd.testing.assert_frame_equal(loaded.predict(), before)
    meta["params"].update(horizon=12, context_length=24, time_features=False, dropout=1.5)
    (path / "meta.json").write_text(json.dumps(meta))  # not valid as saved: the network's dropout
    with pytest.warns(UserWarning, match=r"'dropout': 0.0\} in the network"):
        assert TSMambaForecaster.load(path).dropout == 0.0


def test_every_network_setting_is_accounted_for_on_load():
    from dataclasses import fields

    from tsmamba import estimator
    from tsmamba.model import ForecasterConfig

    named = {*estimator._SHAPING, *estimator._NOT_IN_FORECASTS, "n_channels", "n_time_features", "norm_eps"}
    assert {f.name for f in fields(ForecasterConfig)} == named


def test_read_errors_say_where_the_cleaning_options_are(series):
    """fit/predict/backtest take no impute=/fill=/sort=: the hint names read_series instead."""
    holed = series.copy()
    holed.iloc[5, 0] = np.nan
    est = TSMambaForecaster(**TINY)
    with pytest.raises(DataValidationError, match=r"Pass impute=.*fit reads the data as it is: .*"
                                                  r"tsmamba.data.read_series's, so read it"):
        est.fit(holed)
    from tsmamba.backtest import backtest

    with pytest.raises(DataValidationError, match="pass the frame to backtest"):
        backtest(est, holed.iloc[::-1])  # unsorted: sort=True is read_series's
    # a long form under other names: id_col= and the rest are read_series's too (predict takes none)
    long = series.iloc[:60].rename_axis("when").reset_index().melt(id_vars="when", var_name="store")
    with pytest.raises(DataValidationError, match=r"Pass id_col='store', ds_col='when', value_col='value' .*"
                                                  r"fit reads the data as it is: those options are"):
        est.fit(long, time_col="when")
    with pytest.raises(DataValidationError, match=r"columns differ") as info:
        est.fit(series).predict(series.rename(columns={series.columns[0]: "renamed"}))
    assert "read_series" not in str(info.value)  # no hint where no option helps



def test_a_delimiter_hint_says_the_separator_is_read_series_option(series, tmp_path):
    """A tab-separated file given to fit: the advice "pass sep='\\t'" names read_series as the reader
    that takes it (fit takes no sep=)."""
    series.to_csv(tmp_path / "tabs.tsv", sep="\t")
    with pytest.raises(DataValidationError, match=r"pass sep='\\t'.*fit reads the data as it is: those "
                                                  r"options are tsmamba.data.read_series's"):
        TSMambaForecaster(**TINY).fit(tmp_path / "tabs.tsv")



def test_a_frame_fit_accepts_with_its_times_in_the_index_and_a_date_column_can_be_forecast(fitted, series):
    """fit reads the 'date' column holding the index's own times as the time; predict had called
    it an unexpected channel (and forecast_origins and stream with it)."""
    both = series.reset_index().set_index("date", drop=False)
    expected = fitted.predict(series)
    for frame in (both, both.rename_axis(None)):
        pd.testing.assert_frame_equal(fitted.predict(frame), expected)
        np.testing.assert_array_equal(fitted.forecast_origins(frame, [len(series) - 1]),
                                      fitted.forecast_origins(series, [len(series) - 1]))
        pd.testing.assert_frame_equal(fitted.stream(history=frame).forecast(),
                                      fitted.stream(history=series).forecast())
    with pytest.raises(DataValidationError, match=r"unexpected \['extra'\]"):
        fitted.predict(both.assign(extra=1.0))  # a column that is no time is still an extra one


def test_a_frame_indexed_by_its_own_time_column_kept_fits_and_forecasts(series):
    """set_index('time', drop=False) of a model's own time column: fit refused the 'time' column as
    a non-numeric channel and predict as an unexpected one ('date' alone had been read so)."""
    named = series.rename_axis("time").reset_index()
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(named, time_col="time")
    kept = named.set_index("time", drop=False)
    pd.testing.assert_frame_equal(est.predict(kept), est.predict(named))
    pd.testing.assert_frame_equal(est.stream(history=kept).forecast(), est.stream(history=named).forecast())
    refit = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(kept)
    pd.testing.assert_frame_equal(refit.predict(), est.predict())

def test_the_no_validation_warning_states_the_rule(series):
    est = TSMambaForecaster(**{**TINY, "context_length": 8, "horizon": 24, "val_fraction": 0.1,
                               "max_epochs": 1})
    rule = r"val_fraction=0.1 of 200 rows holds 20 validation rows and leaves 180 for training; validation " \
           r"needs >= horizon=24"
    with pytest.warns(UserWarning, match=rule) as seen:
        est.fit(series.iloc[:200])
    warned = [w for w in seen if "val_fraction" in str(w.message)]
    assert warned[0].filename == __file__  # the line that called fit (it had named estimator.py)
    # too few rows to train at all: that error alone, not the warning first (helper-167)
    short = TSMambaForecaster(**{**TINY, "context_length": 8, "horizon": 200, "max_epochs": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would raise here instead of the error
        with pytest.raises(DataValidationError, match=r"too short for training windows of context_length=8 "
                           r"\+ horizon=200: need >= 208 rows, got 200"):
            short.fit(series.iloc[:200])


def test_ctrl_c_during_training_is_an_interrupt_and_ctrl_c_works_again(fitted, series):
    """Lightning turns a KeyboardInterrupt into exit(1) and then ignores SIGINT."""
    import signal

    class CtrlC(Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            raise KeyboardInterrupt

    handler = signal.getsignal(signal.SIGINT)
    before = fitted.predict()
    fitted.set_params(trainer_kwargs={"callbacks": [CtrlC()]})
    try:
        with pytest.raises(KeyboardInterrupt):
            fitted.fit(series)
    finally:
        fitted.set_params(trainer_kwargs=None)
    assert signal.getsignal(signal.SIGINT) is handler
    pd.testing.assert_frame_equal(fitted.predict(), before)  # the fit it interrupted left no trace


def test_prediction_frames_and_val_df_must_match_the_training_rows(fitted, series, tmp_path):
    daily = series.iloc[:60].set_axis(pd.date_range("2020-01-01", periods=60, freq="D", name="date"))
    with pytest.raises(DataValidationError, match=r"^the frame has rows every 'D'.*fitted on rows every 'h'"):
        fitted.predict(daily)
    daily.to_csv(tmp_path / "daily.csv")
    with pytest.raises(DataValidationError, match=r"^daily.csv has rows every 'D'"):  # was "the frame"
        fitted.predict(tmp_path / "daily.csv")
    est = TSMambaForecaster(**TINY)
    with pytest.raises(DataValidationError, match=r"val_df must continue df.*should be 2016-07-13 12:00"):
        est.fit(series.iloc[:300], val_df=series.iloc[310:])  # a gap of ten rows
    with pytest.raises(DataValidationError, match="val_df must continue df"):
        est.fit(series.iloc[:300], val_df=series.iloc[250:])  # overlaps the training rows
    with pytest.raises(DataValidationError, match="df's are in no time zone, val_df's in UTC"):
        est.fit(series.iloc[:300], val_df=series.iloc[300:].tz_localize("UTC"))
    with pytest.raises(DataValidationError, match=r"val_df has 5 rows, but a validation window needs "
                                                  r"horizon=12 target rows after df"):
        est.fit(series.iloc[:300], val_df=series.iloc[300:305])  # had counted df's rows as 'val split'
    half_hourly = series.iloc[300:].set_axis(pd.date_range(series.index[300], periods=100, freq="30min",
                                                           name="date"))
    with pytest.raises(DataValidationError, match=r"val_df has rows every '30min' but df every 'h'"):
        est.fit(series.iloc[:300], val_df=half_hourly)  # helper-147: unchecked, it had passed every test
    assert not hasattr(est, "network_")
    # a val_df of exactly horizon rows is one validation window, reading context_length rows of df
    # (helper-147: starting the val split a row late dropped it and refused this val_df)
    est.fit(series.iloc[:300], val_df=series.iloc[300:312])
    assert est.history_["best_val_loss"] is not None


def test_val_dfs_read_errors_name_val_df(series, tmp_path):
    """read_series calls every frame "frame": a NaN in val_df was reported as "frame: ... (row 5)",
    as one in df would be, and its missing channel as a "requested column" the caller had not
    requested (df's channels, which val_df is read for)."""
    est = TSMambaForecaster(**TINY)
    train, val = series.iloc[:300], series.iloc[300:]
    with pytest.raises(DataValidationError, match=r"^val_df: df's channels not found: 'c0'; available "
                                                  r"columns: 'c1', 'c2'"):
        est.fit(train, val_df=val.drop(columns="c0"))
    gap = val.copy()
    gap.iloc[5, 1] = np.nan
    with pytest.raises(DataValidationError, match=r"^val_df: non-finite values: column 'c1': 1 NaN, first at "
                                                  r"2016-07-13 17:00:00 \(row 5\)"):
        est.fit(train, val_df=gap)
    with pytest.raises(DataValidationError, match=r"^val_df: expected a DataFrame or the path of a CSV file, "
                                                  r"got list"):
        est.fit(train, val_df=[1.0])
    val.drop(columns="c0").to_csv(tmp_path / "val.csv")
    with pytest.raises(DataValidationError, match=r"^val.csv: df's channels not found: 'c0'"):
        est.fit(train, val_df=tmp_path / "val.csv")
    assert not hasattr(est, "network_")


def test_forecast_origins_checks_the_index_and_takes_no_windows(fitted, series):
    values = series.to_numpy()
    with pytest.raises(DataValidationError, match="index has 399 timestamps for 400 rows"):
        fitted.forecast_origins(values, [300], index=series.index[1:])
    assert fitted.forecast_scaled_windows(np.zeros((0, 24, 3))).shape == (0, 12, 3)
    for bad in (np.arange(8.0), np.zeros((2, 24, 2)), None, "abc"):  # IndexError, torch's TypeError
        with pytest.raises(DataValidationError, match="contexts"):
            fitted.forecast_scaled_windows(bad)
    # helper-133: windows of another length gave other forecasts without a word; no origin of a
    # series shorter than a window raised torch's RuntimeError
    for length in (5, 40):
        with pytest.raises(DataValidationError, match=rf"windows of context_length=24 rows, .* got {length}"):
            fitted.forecast_scaled_windows(np.zeros((2, length, 3)))
    assert fitted.forecast_origins(series.iloc[:10], []).shape == (0, 12, 3)
    with pytest.raises(DataValidationError, match=r"future_phases must be \(N, horizon\) = \(2, 12\), got"):
        fitted.forecast_scaled_windows(np.zeros((2, 24, 3)), future_phases=np.zeros((2, 11)))


def test_full_history_forecasts_need_a_recurrent_norm(series):
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1, "norm": "revin"})
    with pytest.raises(ConfigError, match="revin"):
        est.check_context("full")  # before fitting: callers such as backtest ask first
    est.fit(series)
    assert est.predict(context="window").shape == (12, 3)
    with pytest.raises(ConfigError, match="revin"):
        est.predict(context="full")
    est.set_params(norm="causal")  # the fitted network still normalises by the whole input
    with pytest.raises(ConfigError, match="revin"):
        est.predict(context="full")


def test_a_save_from_a_newer_tsmamba_that_does_not_load_asks_for_the_upgrade(fitted, tmp_path, unsigned_meta):
    """A setting this version does not know, in a save a later release wrote: saving again here
    cannot help, so the message names both versions and the upgrade; an older save keeps its advice."""
    path = fitted.save(tmp_path / "m")
    meta = unsigned_meta(path)
    meta["params"]["patch_stride"] = 4  # a parameter this version lacks
    for saved, advice in (("99.0.1", f"it was saved by tsmamba 99.0.1, and this is {tsmamba.__version__}: "
                                     "upgrade tsmamba to load it"),
                          ("0.0.9", "save the model again with this version")):
        (path / "meta.json").write_text(json.dumps({**meta, "tsmamba_version": saved}))
        with pytest.raises(CheckpointError, match=r"saved configuration is not valid here \(Type") as info:
            TSMambaForecaster.load(path)
        assert str(info.value).endswith(f"); {advice}")
    (path / "meta.json").write_text(json.dumps({**{k: v for k, v in meta.items() if k != "scaler"},
                                                "tsmamba_version": "99.0"}))
    with pytest.raises(CheckpointError, match=r"lacks \['scaler'\]; it was saved by tsmamba 99.0, "):
        TSMambaForecaster.load(path)


def test_load_rejects_a_save_whose_parts_are_missing_or_disagree(fitted, series, tmp_path, unsigned_meta):
    path = fitted.save(tmp_path / "m")
    meta = unsigned_meta(path)
    (path / "meta.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "columns"}))
    with pytest.raises(CheckpointError, match=r"lacks \['columns'\]"):
        TSMambaForecaster.load(path)
    (path / "meta.json").write_text(json.dumps({**meta, "columns": None}))
    with pytest.raises(CheckpointError, match="columns must be a list of names"):
        TSMambaForecaster.load(path)
    meta["scaler"].update(mean=meta["scaler"]["mean"][:2], scale=meta["scaler"]["scale"][:2])
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="saved parts disagree"):
        TSMambaForecaster.load(path)
    # a zone name that does not load (saves before zone_name kept dateutil zones like this)
    path = fitted.save(tmp_path / "m")
    meta = unsigned_meta(path)
    (path / "meta.json").write_text(json.dumps({**meta, "tz": "tzfile('/x/Europe/Paris')"}))
    with pytest.raises(CheckpointError, match=r"saved time zone .* does not load"):
        TSMambaForecaster.load(path)
    for key, value in (("freq", "bogus"), ("freq", "2h"), ("index_unit", "bogus")):
        (path / "meta.json").write_text(json.dumps({**meta, key: value}))
        with pytest.raises(CheckpointError, match=r"saved time index does not load"):
            TSMambaForecaster.load(path)
    # a calendar model saved without its frequency: an AttributeError from the calendar's set-up
    calendar = TSMambaForecaster(**{**TINY, "max_epochs": 1, "time_features": True}).fit(series)
    path = calendar.save(tmp_path / "cal")
    (path / "meta.json").write_text(json.dumps({**unsigned_meta(path), "freq": None}))
    with pytest.raises(CheckpointError, match=r"saved parameters are not valid \(AttributeError"):
        TSMambaForecaster.load(path)


def test_save_keeps_numpy_parameters(series, tmp_path):
    est = TSMambaForecaster(**{**TINY, "max_epochs": np.int64(1), "horizon": np.int64(6),
                               "cycle_length": np.int64(24), "input_skip": np.bool_(True),
                               "trainer_kwargs": {"limit_val_batches": np.int64(2)}}).fit(series)
    loaded = TSMambaForecaster.load(est.save(tmp_path / "m"))
    assert (loaded.horizon, loaded.cycle_length, loaded.input_skip) == (6, 24, True)
    assert loaded.trainer_kwargs == {"limit_val_batches": 2}
    with pytest.raises(ConfigError, match="patience must be a positive integer"):
        TSMambaForecaster(**{**TINY, "patience": 2.5, "val_fraction": 0.0}).fit(series)
    for falsy in ("", 0.0, []):  # had switched early stopping off as "no patience"
        with pytest.raises(ConfigError, match="patience must be a positive integer"):
            TSMambaForecaster(**{**TINY, "patience": falsy}).fit(series)
    # numpy numbers as a grid search gives them: Lightning had refused np.float32 clipping, and
    # frequency_loss np.float32(0.5) had been "not in [0, 1]"
    numpy_floats = TSMambaForecaster(**{**TINY, "max_epochs": 1, "gradient_clip_val": np.float32(0.5),
                                        "frequency_loss": np.float32(0.5), "patience": np.int64(0)})
    assert numpy_floats.fit(series).history_["epochs"] == 1
    unclipped = TSMambaForecaster(**{**TINY, "max_epochs": 1, "gradient_clip_val": float("inf")}).fit(series)
    assert TSMambaForecaster.load(unclipped.save(tmp_path / "u")).gradient_clip_val == float("inf")
    pd.testing.assert_frame_equal(loaded.predict(), est.predict())


@pytest.mark.parametrize("bad, message", [
    ({"loss": "MSE"}, "loss must be one of"), ({"headdim": 3}, "is not a multiple of headdim"),
    ({"learning_rate": 0}, "learning_rate must be a number > 0"),
    ({"frequency_loss": 2}, r"frequency_loss must be in \[0, 1\]"),
    ({"train_sampling": "rand"}, "train_sampling must be one of"), ({"dropout": 1.0}, "dropout must be"),
])
def test_settings_are_checked_before_the_data_is_read(tmp_path, bad, message):
    """The network's, the loss' and the optimizer's settings had been checked only after the data
    was read and validated (and the ridge of linear_init solved): a missing file is not reached."""
    with pytest.raises(ConfigError, match=message):
        TSMambaForecaster(**{**TINY, **bad}).fit(tmp_path / "not-read.csv")


def test_resume_without_a_checkpoint_dir_is_refused_before_the_data_is_read(fitted, tmp_path):
    """It was refused only once the data was read, scaled and the network built (a missing file
    was reported instead), and a fitted estimator kept its fit."""
    before = fitted.predict()
    with pytest.raises(ConfigError, match=r"^resume=True needs checkpoint_dir \(where last.ckpt is written"):
        fitted.fit(tmp_path / "not-read.csv", resume=True)
    pd.testing.assert_frame_equal(fitted.predict(), before, check_exact=True)


def test_a_fit_without_validation_ignores_validation_limits_in_trainer_kwargs(series):
    # limit_val_batches asked Lightning for a validation loader the fit does not have
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}, val_fraction=0.0,
                            trainer_kwargs={"limit_train_batches": 1, "limit_val_batches": 1}).fit(series)
    assert est.history_["epochs"] == 1 and np.isfinite(est.predict().to_numpy()).all()


def test_max_steps_that_end_a_fit_before_its_first_validation_train_those_steps(series):
    """The estimator's early stopping judged the epoch's end, where a fit that trainer_kwargs
    max_steps ended mid-epoch had no val_loss: a ConfigError quoting Lightning's advice to monitor
    train_loss in "your EarlyStopping", which the user never passed."""
    stopped = TSMambaForecaster(**TINY, trainer_kwargs={"max_steps": 3}).fit(series)
    assert stopped.history_["best_epoch"] is None  # no validation ran: no best weights to restore
    plain = TSMambaForecaster(**{**TINY, "patience": None}, trainer_kwargs={"max_steps": 3}).fit(series)
    for a, b in zip(stopped.network_.parameters(), plain.network_.parameters(), strict=True):
        assert torch.equal(a, b)  # the same three steps
    initial = TSMambaForecaster(**TINY, trainer_kwargs={"max_steps": 1}).fit(series)
    assert not all(torch.equal(a, b) for a, b in zip(stopped.network_.parameters(),
                                                     initial.network_.parameters(), strict=True))


def test_long_form_frames_forecast_as_they_fit(series):
    long = series.iloc[:200].rename_axis("ds").reset_index().melt(id_vars="ds", var_name="unique_id",
                                                                 value_name="y")
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(long)
    assert est.columns_ == list(series.columns)
    pd.testing.assert_frame_equal(est.predict(long), est.predict(series.iloc[:200]), check_names=False)
    stream = est.stream(history=long)
    full = est.predict(series.iloc[:200], context="full").to_numpy()
    np.testing.assert_allclose(stream.forecast().to_numpy(), full, rtol=1e-5, atol=1e-5)  # float32 rounding
    with pytest.raises(DataValidationError, match="x9"):  # a series the model does not know
        est.predict(long.replace({"unique_id": {series.columns[0]: "x9"}}))
    # the times as an index named ds: fit read it, predict had called it a wide frame of columns
    # unique_id and y
    indexed = long.set_index("ds")
    pd.testing.assert_frame_equal(est.predict(indexed), est.predict(long))
    np.testing.assert_allclose(est.stream(history=indexed).forecast().to_numpy(),
                               stream.forecast().to_numpy())
    # under other column names predict says how to read it, as fit does (helper-126: it said
    # "the frame's columns differ ...: missing [the ids], unexpected ['store', 'sales']")
    renamed = long.rename(columns={"unique_id": "store", "ds": "timestamp", "y": "sales"})
    with pytest.raises(DataValidationError, match=r"is this long form, one row per series and time\? "
                       r"Pass id_col='store', ds_col='timestamp', value_col='sales'"):
        est.predict(renamed, time_col="timestamp")
    with pytest.raises(DataValidationError, match=r"time column 'date' not found; the columns are "
                       r"\['timestamp', 'store', 'sales'\]\. Pass time_col="):
        est.predict(renamed)


def test_a_zone_model_forecasts_from_its_own_csv_across_dst(series, tmp_path):
    # to_csv writes local times with their offsets, +01:00 then +02:00 after 28 March 2021
    berlin = series.set_axis(pd.date_range("2021-03-20", periods=len(series), freq="h", tz="Europe/Berlin"))
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(berlin)
    path = tmp_path / "berlin.csv"
    berlin.rename_axis("date").to_csv(path)
    pd.testing.assert_frame_equal(est.predict(path), est.predict(berlin))


def test_a_naive_model_asks_for_times_without_offsets_not_for_a_zone_it_refuses(fitted, series, tmp_path):
    """Local times with their UTC offsets (+01:00, then +02:00 across DST) given to a model fitted on
    naive times: the advice had been to pass tz= (to read_series first), whose zone-aware frame the
    model then refused ("give them without a time zone"); predict and stream take no tz=."""
    path = tmp_path / "berlin.csv"
    series.set_axis(pd.date_range("2021-03-20", periods=len(series), freq="h", tz="Europe/Berlin")
                    ).rename_axis("date").to_csv(path)
    for source in (path, pd.read_csv(path)):
        for call in (fitted.predict, fitted.stream):
            with pytest.raises(DataValidationError, match="mixes time zones") as caught:
                call(source)
            message = str(caught.value)
            assert "tz=" not in message, message
            assert "fitted on timestamps without a time zone" in message, message
            assert "without UTC offsets" in message, message


def test_forecast_origins_checks_arrays_and_their_index_as_predict_checks_a_frame(series):
    tokyo = series.tz_localize("Asia/Tokyo")
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}, time_features=True, cycle_length=24).fit(tokyo)
    values, origins = tokyo.to_numpy(), [100, 200]
    expected = est.forecast_origins(tokyo, origins)
    # the same instants in UTC: read on the fitted calendar (the UTC clock moved forecasts by 1.28)
    np.testing.assert_array_equal(est.forecast_origins(values, origins, index=tokyo.index.tz_convert("UTC")),
                                  expected)
    bad_indexes = {"without a time zone": tokyo.index.tz_localize(None),
                   "rows every '2h'": pd.date_range(tokyo.index[0], periods=len(tokyo), freq="2h"),
                   "not in increasing order": tokyo.index[::-1]}
    for match, index in bad_indexes.items():
        with pytest.raises(DataValidationError, match=match):
            est.forecast_origins(values, origins, index=index)
    holes = values.copy()
    holes[190, 1] = np.nan
    with pytest.raises(DataValidationError, match="NaN or inf"):
        est.forecast_origins(holes, [200])
    for bad in ([30.7], ["30"], [True], [[30, 40]], 30):  # truncated, parsed or a shape error before
        with pytest.raises(DataValidationError, match="origins must be a list of row positions"):
            est.forecast_origins(tokyo, bad)


def test_min_lr_ratio_sets_where_the_learning_rate_schedule_ends(series, monkeypatch):
    """The estimator hands min_lr_ratio to the schedule: after the last step the learning rate is
    min_lr_ratio x learning_rate (1: constant after the warm-up; 0.05, the default, decays)."""
    from tsmamba.training import ForecastingModule

    schedules = []
    configure = ForecastingModule.configure_optimizers

    def kept(module):
        setup = configure(module)
        schedules.append(setup["lr_scheduler"]["scheduler"])
        return setup

    monkeypatch.setattr(ForecastingModule, "configure_optimizers", kept)
    for ratio in (1.0, 0.05):
        TSMambaForecaster(**{**TINY, "patience": None}, learning_rate=0.01, min_lr_ratio=ratio).fit(series)
        assert schedules[-1].last_epoch > 10  # every step of the two epochs ran
        assert schedules[-1].get_last_lr()[0] == pytest.approx(0.01 * ratio, rel=1e-9)


# the learning rates of each optimizer step of a plain fit of the series (11 batches an epoch, two
# epochs) and of one accumulating 2 batches a step (6 steps an epoch, the last on one batch), as
# they were before GradientAccumulationScheduler's steps were counted: to the bit, as results rest
# on them (the floor, 0.05 x 0.01, comes one step after the last)
PLAIN_LRS = [
    0.01, 0.01, 0.00994694642456936, 0.009788970827484169, 0.009529602122536491, 0.009174634178000976,
    0.008731996391191675, 0.008211576558828985, 0.007625, 0.006985369865740378, 0.006306974436292493,
    0.005604967944535516, 0.004895032055464484, 0.004193025563707506, 0.0035146301342596233,
    0.002875000000000001, 0.002288423441171016, 0.0017680036088083256, 0.0013253658219990253,
    0.0009703978774635095, 0.0007110291725158313, 0.0005530535754306395,
]
ACCUMULATED_LRS = [
    0.01, 0.009838147674873074, 0.009363620667976085, 0.0086087572106361, 0.007625, 0.006479390464236974,
    0.00525, 0.004020609535763026, 0.002875000000000001, 0.0018912427893638996, 0.0011363793320239163,
    0.0006618523251269261,
]


def test_a_gradient_accumulation_scheduler_lays_the_schedule_over_the_steps_it_takes(series):
    """The schedule had been laid over estimated_stepping_batches, which reads a
    GradientAccumulationScheduler's fit as accumulating 1 (it sets its factor as each epoch
    starts): {0: 2} laid 22 steps over 12, {1: 4} 22 over 14, and the cosine stopped short of its
    floor (0.0049 and 0.0035 of 0.01, not 0.0005). Now each epoch counts ceil(batches / its factor):
    {0: 2} trains as accumulate_grad_batches=2 to the bit, {1: 4} as a plain fit cut to its 14 steps;
    fits without a scheduler keep their learning rates to the bit."""

    class Rates(Callback):
        def __init__(self):
            self.lrs = []

        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            self.lrs.append(optimizer.param_groups[0]["lr"])

        def on_train_end(self, trainer, pl_module):  # after the last step: the floor
            self.lrs.append(trainer.lr_scheduler_configs[0].scheduler.get_last_lr()[0])

    def fit(*callbacks, **kwargs):
        rates = Rates()
        est = TSMambaForecaster(**{**TINY, "d_model": 8, "patience": None}, learning_rate=0.01,
                                trainer_kwargs={"callbacks": [*callbacks, rates], **kwargs}).fit(series)
        return rates.lrs, est.network_.state_dict()

    floor = [0.01 * 0.05]
    assert fit()[0] == PLAIN_LRS + floor
    accumulated, weights = fit(accumulate_grad_batches=2)
    assert accumulated == ACCUMULATED_LRS + floor
    scheduled, scheduled_weights = fit(GradientAccumulationScheduler({0: 2}))
    assert scheduled == ACCUMULATED_LRS + floor
    for name, weight in weights.items():
        assert torch.equal(scheduled_weights[name], weight), name
    later, _ = fit(GradientAccumulationScheduler({1: 4}))
    assert len(later) == 11 + 3 + 1 and later[-1] == pytest.approx(floor[0], rel=1e-12)
    assert later == fit(max_steps=14)[0]


def test_parameters_that_would_train_nothing_or_read_as_true_are_refused(series):
    with pytest.raises(ConfigError, match=r"head_window \(50\) must be at most context_length \(24\)"):
        TSMambaForecaster(**TINY, head_window=50).fit(series)
    with pytest.raises(ConfigError, match=r"embed_window \(25\) must be at most context_length \(24\)"):
        TSMambaForecaster(**TINY, embed_window=25).fit(series)
    with pytest.raises(ConfigError, match="embed_window must be a positive integer"):
        TSMambaForecaster(**TINY, embed_window=0).fit(series)
    for name in ("input_skip", "time_features"):  # "no" is truthy: it switched them on
        with pytest.raises(ConfigError, match=f"{name} must be True or False"):
            TSMambaForecaster(**TINY, **{name: "no"}).fit(series)
    with pytest.raises(ConfigError, match="val_fraction must be a number"):
        TSMambaForecaster(**TINY, val_fraction="0.1").fit(series)
    for name, value in [("warmup_fraction", "0.1"), ("warmup_fraction", None), ("ema_decay", "0.9"),
                        ("min_lr_ratio", 1.5), ("min_lr_ratio", "0.1"),
                        ("gradient_clip_val", "1"), ("gradient_clip_val", float("nan")),
                        ("gradient_clip_val", -1)]:  # TypeErrors in training; -1 switched clipping off
        with pytest.raises(ConfigError, match=f"{name} must be a number"):
            TSMambaForecaster(**TINY, **{name: value}).fit(series)
    with pytest.raises(ConfigError, match="checkpoint_dir must be a folder path or None, got 123"):
        TSMambaForecaster(**TINY, checkpoint_dir=123).fit(series)
    with pytest.raises(ConfigError, match="progress must be True or False"):
        TSMambaForecaster(**{**TINY, "progress": "no"}).fit(series)  # showed the bar
    for name in ("scale", "resume"):
        with pytest.raises(ConfigError, match=f"fit's {name} must be True or False, got 'no'"):
            TSMambaForecaster(**TINY).fit(series, **{name: "no"})  # "no" scaled, or resumed
    with pytest.raises(ConfigError, match=r"trainer_kwargs .* are not valid for lightning\.Trainer"):
        TSMambaForecaster(**TINY, trainer_kwargs={"accelerator": "tpu"}).fit(series)
    with pytest.raises(ConfigError, match="norm_span is the span of norm='causal' and has no effect"):
        TSMambaForecaster(**TINY, norm="revin", norm_span=12).fit(series)  # it was ignored


def test_norm_span_of_context_length_is_no_change_since_fit(series):
    """None means a span of context_length: naming that span was refused as a changed network."""
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(series)
    before = est.predict()
    est.set_params(norm_span=TINY["context_length"])
    pd.testing.assert_frame_equal(est.predict(), before)
    est.set_params(norm_span=12)
    with pytest.raises(ConfigError, match="parameters changed since fit: norm_span 24 -> 12"):
        est.predict()


def test_save_keeps_path_parameters_and_names_those_it_cannot_keep(series, tmp_path):
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}, checkpoint_dir=tmp_path / "ck",
                            trainer_kwargs={"callbacks": [Callback()]}).fit(series)
    with pytest.warns(UserWarning, match=r"\['trainer_kwargs'\] are not saved"):
        path = est.save(tmp_path / "m")
    loaded = TSMambaForecaster.load(path)
    assert loaded.checkpoint_dir == str(tmp_path / "ck") and loaded.trainer_kwargs is None


def test_resume_rejects_a_last_checkpoint_of_another_model(series, tmp_path):
    ckpt = tmp_path / "ck"
    params = {**TINY, "max_epochs": 1, "dropout": np.float64(0.1), "chunk_size": 16,  # as a grid gives
              "learning_rate": np.float64(1e-3), "weight_decay": np.float64(0.01), "patience": np.int64(2)}
    TSMambaForecaster(**params, checkpoint_dir=str(ckpt)).fit(series)
    same = TSMambaForecaster(**{**params, "chunk_size": 8}, checkpoint_dir=str(ckpt))  # speed only
    assert same.fit(series, resume=True).history_["epochs"] == 1
    one_channel = TSMambaForecaster(**params, checkpoint_dir=str(ckpt))  # same weight shapes
    differ = r"another fit's checkpoint \(its \['columns', 'data', 'network.n_"
    with pytest.raises(CheckpointError, match=differ):
        one_channel.fit(series[["c0"]], resume=True)
    with pytest.raises(CheckpointError, match=r"the checkpoint of a fit on other data"):
        same.fit(series.iloc[::-1].set_axis(series.index), resume=True)  # took the other fit's weights
    with pytest.raises(CheckpointError, match=r"the checkpoint of a fit on other data"):
        same.fit(series, resume=True, scale=False)
    other = TSMambaForecaster(**{**params, "d_model": 8}, checkpoint_dir=str(ckpt))
    with pytest.raises(CheckpointError, match=r"its \['network.d_model'\] differ.*delete it"):
        other.fit(series, resume=True)
    wide = TSMambaForecaster(**params, checkpoint_dir=str(ckpt), trainer_kwargs={"precision": "64-true"})
    with pytest.raises(CheckpointError, match=r"a fit in float32, and this fit runs in float64 \(trainer"):
        wide.fit(series, resume=True)  # it said "other data": the digest is of the values in float64
    # Lightning restores the checkpoint's optimizer and schedule: new values had been ignored silently
    faster = TSMambaForecaster(**{**params, "learning_rate": 0.1, "weight_decay": 0.5},
                               checkpoint_dir=str(ckpt))
    with pytest.raises(CheckpointError, match=r"trained with learning_rate 0\.001 \(now 0\.1\), weight_decay "
                                              r"0\.01 \(now 0\.5\); a resume goes on with the checkpoint's"):
        faster.fit(series, resume=True)
    last = torch.load(ckpt / "last.ckpt", weights_only=True)
    del last["identity"]["training"]["val_stride"]  # recorded before val_stride: every window validated
    del last["identity"]["training"]["freeze_linear_path"]  # and before it: every weight trained
    torch.save(last, ckpt / "last.ckpt")
    assert same.fit(series, resume=True).history_["epochs"] == 1
    with pytest.raises(CheckpointError, match=r"was fitted with val_stride 1 \(now 2\); a resume continues"):
        TSMambaForecaster(**{**params, "val_stride": 2}, checkpoint_dir=str(ckpt)).fit(series, resume=True)
    last["identity"]["network"]["chunk_size"] = 16  # as recorded earlier: chunk_size is not compared
    del last["identity"]["data"], last["identity"]["dtype"]  # as recorded before: resumes as it did
    del last["identity"]["training"], last["identity"]["schedule"]  # recorded from 2026-12-04 on, and
    # later: an older checkpoint resumes
    torch.save(last, ckpt / "last.ckpt")
    assert same.fit(series, resume=True).history_["epochs"] == 1
    del last["identity"]  # as written before checkpoints named their fit: the weights still tell
    torch.save(last, ckpt / "last.ckpt")
    with pytest.raises(CheckpointError, match=r"last\.ckpt: weights do not match.*delete it"):
        other.fit(series, resume=True)
    (ckpt / "last.ckpt").write_bytes(b"truncated")
    with pytest.raises(CheckpointError, match=r"last\.ckpt cannot be read as tensors \(its bytes are not a "
                       r"torch tensor file\); delete it to start afresh"):
        TSMambaForecaster(**TINY, checkpoint_dir=str(ckpt)).fit(series, resume=True)
    torch.save({**last, "hook": Path.touch}, ckpt / "last.ckpt")  # a file that would run code unpickled
    with pytest.raises(CheckpointError, match=r"last\.ckpt holds objects other than tensors, which loading "
                       r"refuses .*; delete it to start afresh, or use another checkpoint_dir$") as info:
        TSMambaForecaster(**TINY, checkpoint_dir=str(ckpt)).fit(series, resume=True)
    assert "weights_only set to False" not in str(info.value) and "trust" not in str(info.value)


def test_val_windows_counts_none_when_no_validation_ran(series):
    """history_["val_windows"] is the windows scored: 0 when validation is switched off or never
    comes round (it had been the validation split's size, beside best_val_loss None)."""
    params = {**TINY, "max_epochs": 1}
    for kwargs in ({"limit_val_batches": 0}, {"check_val_every_n_epoch": 2}):
        history = TSMambaForecaster(**params, trainer_kwargs=kwargs).fit(series).history_
        assert (history["val_windows"], history["best_val_loss"], history["val_losses"]) == (0, None, [])
    scored = TSMambaForecaster(**params, trainer_kwargs={"limit_val_batches": 1}).fit(series).history_
    assert scored["val_windows"] > 0 and scored["best_val_loss"] is not None


def test_val_stride_validates_every_kth_window_and_trains_the_same(series, monkeypatch):
    """val_stride k: early stopping compares each epoch's loss on every k-th validation window
    (recorded in history_), and the training itself is unchanged."""
    modules = []

    class Spy(estimator_module.TimeSeriesDataModule):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            modules.append(self)

    monkeypatch.setattr(estimator_module, "TimeSeriesDataModule", Spy)
    params = {**TINY, "max_epochs": 2, "patience": None}
    every, thinned = (TSMambaForecaster(**params, val_stride=k).fit(series) for k in (1, 4))
    n_val = len(modules[0].dataset("val"))
    assert every.history_["val_windows"] == n_val > 4
    assert thinned.history_["val_windows"] == len(modules[1].dataset("val")) == -(-n_val // 4)
    steps = [(v["epoch"], v["step"]) for v in every.history_["val_losses"]]
    assert steps == [(v["epoch"], v["step"]) for v in thinned.history_["val_losses"]]
    assert every.history_["val_losses"] != thinned.history_["val_losses"]  # other windows scored
    assert every.history_["best_epoch"] == thinned.history_["best_epoch"] == 1  # the last: the same weights
    weights = zip(every.network_.state_dict().values(), thinned.network_.state_dict().values(), strict=True)
    for a, b in weights:
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # the recorded loss is the kept network's MSE over windows 0, 4, 8, ... of the validation split
    val = modules[1].dataset("val")
    batches = [val.get_batch(range(i, min(i + 16, len(val)))) for i in range(0, len(val), 16)]
    with torch.no_grad():
        pred = torch.cat([training.forecast_batch(thinned.network_, batch) for batch in batches])
    target = torch.cat([batch[1] for batch in batches])
    assert float(((pred - target) ** 2).mean()) == pytest.approx(thinned.history_["best_val_loss"], rel=1e-5)
    with pytest.raises(ConfigError, match=r"val_stride must be a positive integer, got 0"):
        TSMambaForecaster(**TINY, val_stride=0).fit(series)


def test_resume_refuses_other_windows_or_another_loss(series, tmp_path):
    """A resume had taken a new random_state, batch_size, train_stride or train_sampling (other
    windows from then on than the run it continued) and a new loss, whose validation losses were
    then compared with the best one in the old loss's units (a new val_stride: on other windows).
    Settings that only say when to stop may change."""
    ckpt = tmp_path / "ck"
    params = {**TINY, "max_epochs": 1, "patience": 2, "random_state": np.int64(3), "batch_size": 16,
              "train_stride": 2, "frequency_loss": np.float64(0.0)}
    TSMambaForecaster(**params, checkpoint_dir=str(ckpt)).fit(series)
    for change, shown in [({"random_state": 4}, "random_state 3 (now 4)"),
                          ({"batch_size": 8}, "batch_size 16 (now 8)"),
                          ({"train_stride": 1, "train_sampling": "random"},
                           "train_sampling 'strided' (now 'random'), train_stride 2 (now 1)"),
                          ({"val_stride": 3}, "val_stride 1 (now 3)"),
                          ({"loss": "mae"}, "loss 'mse' (now 'mae')"),
                          ({"frequency_loss": 0.5}, "frequency_loss 0.0 (now 0.5)")]:
        other = TSMambaForecaster(**{**params, **change}, checkpoint_dir=str(ckpt))
        with pytest.raises(CheckpointError, match=rf"was fitted with {re.escape(shown)}; a resume continues "
                                                  r"that run .* or fit without resume=True to start"):
            other.fit(series, resume=True)
    longer = TSMambaForecaster(**{**params, "max_epochs": 2, "patience": 3, "warmup_fraction": 0.1,
                                  "gradient_clip_val": 0.5}, checkpoint_dir=str(ckpt))
    with pytest.warns(UserWarning, match=r"fitted with max_epochs 1 \(now 2\), warmup_fraction 0\.05 \(now "
                                         r"0\.1\): the learning-rate schedule"):
        assert longer.fit(series, resume=True).history_["epochs"] == 2


def test_resume_refuses_other_steps_and_warns_of_another_schedule(series, tmp_path):
    """A resume had taken another accumulate_grad_batches, limit_train_batches, limit_val_batches
    or number of processes silently: other optimizer steps (or validation windows) than the run it
    continued, and a learning-rate schedule laid out over another number of steps. Refused, naming
    the saved and the new value; with the same settings the resume is the uninterrupted run. The
    schedule's own settings (max_epochs, ...) may change, with a warning: the rate jumps there."""
    ckpt = tmp_path / "ck"
    params = {**TINY, "max_epochs": 2, "patience": None, "checkpoint_dir": str(ckpt)}
    steps = {"accumulate_grad_batches": 2}
    whole = TSMambaForecaster(**{**params, "checkpoint_dir": str(tmp_path / "a")}, trainer_kwargs=steps)
    whole.fit(series)
    with pytest.raises(_Interrupt):
        TSMambaForecaster(**params, trainer_kwargs={**steps, "callbacks": [_KillAtEpochStart(1)]}).fit(series)
    last = ckpt / "last.ckpt"
    kept = last.read_bytes()

    def refused(shown: str) -> str:
        return (rf"^{re.escape(str(last))} was fitted with {re.escape(shown)}; a resume continues that run "
                r"\(the same windows in the same optimizer steps each epoch, .*\), so give the values it was "
                r"fitted with, or fit without resume=True to start over with the new ones \(it replaces "
                r"last\.ckpt\), or use another checkpoint_dir$")

    for kwargs, shown in [({}, "accumulate_grad_batches 2 (now 1)"),
                          ({**steps, "limit_train_batches": 0.5}, "limit_train_batches None (now 0.5)"),
                          # the int 1 is one batch an epoch, the float 1.0 (the default) all of them
                          ({**steps, "limit_train_batches": 1}, "limit_train_batches None (now 1)"),
                          ({**steps, "limit_val_batches": 0}, "limit_val_batches None (now 0)")]:
        with pytest.raises(CheckpointError, match=refused(shown)):
            TSMambaForecaster(**params, trainer_kwargs=kwargs).fit(series, resume=True)
    state = torch.load(last, weights_only=True)
    state["identity"]["training"]["world_size"] = 2  # as a fit on two devices records it
    torch.save(state, last)
    with pytest.raises(CheckpointError, match=refused("world_size 2 (now 1)")):
        TSMambaForecaster(**params, trainer_kwargs=steps).fit(series, resume=True)
    assert last.read_bytes() != kept
    last.write_bytes(kept)

    with warnings.catch_warnings():  # the same settings: no warning, and the uninterrupted run's weights
        warnings.filterwarnings("error", message=".*the learning-rate schedule")
        resumed = TSMambaForecaster(**params, trainer_kwargs=steps).fit(series, resume=True)
    assert resumed.history_["epochs"] == 2
    for (name, a), b in zip(
        whole.network_.state_dict().items(), resumed.network_.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    longer = TSMambaForecaster(**{**params, "max_epochs": 3}, trainer_kwargs=steps)
    with pytest.warns(UserWarning, match=rf"^{re.escape(str(last))} was fitted with max_epochs 2 \(now 3\): "
                      r"the learning-rate schedule .* laid out anew .* the learning rate jumps there, .* To "
                      r"continue that run exactly, resume with the values it was fitted with") as seen:
        assert longer.fit(series, resume=True).history_["epochs"] == 3
    assert [w.filename for w in seen if "schedule" in str(w.message)] == [__file__]  # the line calling fit
    # a checkpoint of an earlier tsmamba recorded none of these: its resume is not refused for them
    state = torch.load(last, weights_only=True)
    for key in ("accumulate_grad_batches", "limit_train_batches", "limit_val_batches", "world_size"):
        del state["identity"]["training"][key]
    del state["identity"]["schedule"]
    torch.save(state, last)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*the learning-rate schedule")
        again = TSMambaForecaster(**{**params, "max_epochs": 3}).fit(series, resume=True)
    assert again.history_["epochs"] == 3


def test_resume_refuses_another_precision_or_accumulation_schedule(series, tmp_path):
    """A resume had silently taken another Lightning precision of float32 data ("32-true" to
    "bf16-mixed", "bf16-true" to "32-true"): other arithmetic in every step, and validation losses
    compared with a best one computed in the old; and another GradientAccumulationScheduler (other
    steps each epoch), where the accumulate_grad_batches record saw trainer_kwargs' 1. The same
    ones otherwise spelled resume."""
    params = {**TINY, "max_epochs": 1, "patience": None}

    def scheduled(schedule: dict[int, int], **kwargs) -> dict:
        return {"callbacks": [GradientAccumulationScheduler(schedule)], **kwargs}

    def fit(folder: str, kwargs: dict, resume: bool = True) -> TSMambaForecaster:
        est = TSMambaForecaster(**params, checkpoint_dir=str(tmp_path / folder), trainer_kwargs=kwargs)
        return est.fit(series, resume=resume)

    fit("a", scheduled({1: 2}), resume=False)
    for kwargs, shown in [({}, "accumulate_grad_batches {'0': 1, '1': 2} (now 1)"),
                          (scheduled({1: 3}), "accumulate_grad_batches {'0': 1, '1': 2} "
                                              "(now {'0': 1, '1': 3})"),
                          (scheduled({1: 2}, precision="bf16-mixed"),
                           "precision '32-true' (now 'bf16-mixed')")]:
        with pytest.raises(CheckpointError, match=rf"was fitted with {re.escape(shown)}; a resume continues"):
            fit("a", kwargs)
    # the same schedule and precision, otherwise spelled (32 is Lightning's "32-true")
    assert fit("a", scheduled({0: 1, 1: 2, 3: 2}, precision=32)).history_["epochs"] == 1

    fit("b", {"precision": "bf16-true", "accumulate_grad_batches": 2}, resume=False)
    with pytest.raises(CheckpointError, match=r"with precision 'bf16-true' \(now '32-true'\); a resume"):
        fit("b", {"accumulate_grad_batches": 2})
    assert fit("b", scheduled({0: 2}, precision="bf16-true")).history_["epochs"] == 1


def test_a_resume_that_validates_at_other_points_warns(series, tmp_path):
    """val_check_interval and check_val_every_n_epoch decide which weights the fit ends on and when
    early stopping ends it (and, with dropout, the weights trained: a validation draws from torch's
    generator); a resume had taken new ones silently. They may change, with a warning naming them."""
    params = {**TINY, "max_epochs": 1, "patience": 2, "checkpoint_dir": str(tmp_path)}
    TSMambaForecaster(**params).fit(series)
    last = tmp_path / "last.ckpt"

    def resumed(**kwargs) -> TSMambaForecaster:
        return TSMambaForecaster(**params, trainer_kwargs=kwargs).fit(series, resume=True)

    for kwargs, shown in [({"check_val_every_n_epoch": 2}, "check_val_every_n_epoch 1 (now 2)"),
                          ({"val_check_interval": 0.5}, "val_check_interval None (now 0.5)"),
                          # the int 1 validates after every batch, the float 1.0 (the default) once an epoch
                          ({"val_check_interval": 1}, "val_check_interval None (now 1)"),
                          ({"val_check_interval": "00:00:01:30"}, "val_check_interval None (now '90 s')")]:
        with pytest.warns(UserWarning, match=rf"^{re.escape(str(last))} was fitted with {re.escape(shown)}: "
                          r"from the checkpoint on, validation runs at the new points; .* To continue that "
                          r"run exactly, resume with the values it was fitted with") as seen:
            resumed(**kwargs)
        assert [w.filename for w in seen if "validation runs" in str(w.message)] == [__file__]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*validation runs at the new points")
        resumed(val_check_interval=1.0, check_val_every_n_epoch=1)  # the same points, otherwise spelled
        state = torch.load(last, weights_only=True)  # an earlier tsmamba's checkpoint recorded none
        del state["identity"]["validation"]
        torch.save(state, last)
        resumed(check_val_every_n_epoch=2)


@pytest.fixture
def float64_default():
    before = torch.get_default_dtype()
    yield
    torch.set_default_dtype(before)


def test_the_network_dtype_follows_the_fit_not_torchs_default_dtype(series, fitted, tmp_path,
                                                                   float64_default):
    """Under a float64 default the network was built in float64 and fit crashed on the float32
    windows, and a load cast saved weights into it; a "64-true" fit loaded back as float32."""
    path = fitted.save(tmp_path / "m")
    torch.set_default_dtype(torch.float64)
    again = TSMambaForecaster(**TINY).fit(series)
    assert next(again.network_.parameters()).dtype == torch.float32
    pd.testing.assert_frame_equal(again.predict(), fitted.predict(), check_exact=True)
    loaded = TSMambaForecaster.load(path)
    assert next(loaded.network_.parameters()).dtype == torch.float32
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict(), check_exact=True)
    torch.set_default_dtype(torch.float32)
    wide = TSMambaForecaster(**{**TINY, "max_epochs": 1}, trainer_kwargs={"precision": "64-true"}).fit(series)
    reloaded = TSMambaForecaster.load(wide.save(tmp_path / "m64"))
    assert next(reloaded.network_.parameters()).dtype == torch.float64
    pd.testing.assert_frame_equal(reloaded.predict(), wide.predict(), check_exact=True)
    narrow = TSMambaForecaster(**{**TINY, "max_epochs": 1}, trainer_kwargs={"precision": "bf16-true"})
    narrow.fit(series)
    reloaded = TSMambaForecaster.load(narrow.save(tmp_path / "bf16"))
    for model in (narrow, reloaded):  # bf16 weights: a stream could not read its forecast out
        assert next(model.network_.parameters()).dtype == torch.float32
        model.stream(series.iloc[:100]).update(series.iloc[100])


def test_predict_refuses_values_the_network_cannot_carry(fitted, series):
    """A finite 1e39 became inf in the float32 network: a NaN forecast and no error."""
    frame = series.copy()
    frame.iloc[-1, 1] = 1e39
    with pytest.raises(DataValidationError, match=r"values in \['c1'\] reach .* more than the network"):
        fitted.predict(frame)


def test_a_channel_called_date_beside_a_named_index_fits_and_forecasts(series):
    """As the CLI reads --time-col ts: the fit read the frame again by 'date' and refused it."""
    frame = series.rename_axis("ts").assign(date=np.sin(np.arange(len(series)) / 5))
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(frame)
    assert est.columns_ == [*series.columns, "date"]
    assert list(est.predict(frame).columns) == est.columns_


def test_a_time_column_labelled_by_a_number_is_read_again_by_its_name_as_text(series):
    """read_csv(header=None) labels the columns 0, 1, ...: a fit with time_col=0 read the time,
    but the model's time column is named "0" (as channels are), and predict on the same frame
    said "time column '0' not found; the columns are ['0', ...] (did you mean '0'?)", or with
    time_col=0 called column '0' unexpected. A time_col that is no column's label had raised
    AttributeError ('int' object has no attribute 'strip'), a list TypeError (unhashable)."""
    raw = series.reset_index().set_axis(range(series.shape[1] + 1), axis=1)
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(raw, time_col=0)
    assert est.columns_ == ["1", "2", "3"] and est.index_.name == "0"
    expected = est.predict()
    for time_col in (None, 0, "0"):
        pd.testing.assert_frame_equal(est.predict(raw, time_col=time_col), expected)
    np.testing.assert_array_equal(est.forecast_origins(raw, [len(raw) - 1], time_col=0)[0], expected)
    with pytest.raises(DataValidationError, match=r"time column 9 not found; the columns are \['0', '1'"):
        est.fit(raw, time_col=9)
    with pytest.raises(ConfigError, match=r"time_col must be the name of one column, got \['date'\]"):
        est.fit(series.reset_index(), time_col=["date"])


def test_a_constant_channel_is_named_once_by_fit(series):
    """The reader and the scaler both named it; the linear baseline's scaler a third time."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(series.assign(flat=2.0))
    named = [str(w.message) for w in caught if "'flat'" in str(w.message)]
    assert len(named) == 1 and "constant over the fitted rows" in named[0]


def test_the_scaler_is_fitted_on_the_training_rows_only(series):
    """The validation rows a fit holds out stay out of its scaler (helper-144: a scaler fitted
    on every row had passed every test), so a level shift there cannot leak into training."""
    shifted = series.copy()
    shifted.iloc[300:] += 100.0  # the last quarter: the validation rows at val_fraction=0.25
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1, "val_fraction": 0.25}).fit(shifted)
    np.testing.assert_allclose(est.scaler_.mean_, series.iloc[:300].mean().to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(est.scaler_.scale_, series.iloc[:300].std(ddof=0).to_numpy(), rtol=1e-12)


def test_a_constant_channel_is_forecast_within_its_own_size(series):
    """Scale 1 had forecast a channel of 1e-6 as values up to ±2e-3, and the linear baseline
    alike: the network's near-0 output for it came back in absolute units. Scaled by its size,
    the error is a small share of it, whatever its units."""
    for level in (1e-6, 3.0, -2e9):
        with pytest.warns(UserWarning, match="'flat'"):
            est = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(series.assign(flat=level))
        forecast = est.predict()["flat"].to_numpy()
        assert np.abs(forecast - level).max() < 0.01 * abs(level), (level, forecast)


def test_common_trainer_kwargs_work_or_are_refused_with_a_config_error(series, tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    params = {**TINY, "max_epochs": 1}
    refused = [({"max_epochs": -1}, "needs a finite number of training steps"),  # OverflowError
               ({"precision": "16-true"}, "runs the whole network in float16"),  # NaN, blamed on data
               ({"val_check_interval": 100}, r"val_check_interval=100\) do not work for this fit")]
    for kwargs, match in refused:
        with pytest.raises(ConfigError, match=match):
            TSMambaForecaster(**params, trainer_kwargs=kwargs).fit(series)
    no_validation = TSMambaForecaster(**params, trainer_kwargs={"limit_val_batches": 0}).fit(series)
    assert no_validation.history_["best_epoch"] is None  # early stopping raised: no val_loss
    TSMambaForecaster(**params, trainer_kwargs={"callbacks": Callback()}).fit(series)  # one, not a list
    saver = ModelCheckpoint(dirpath=tmp_path / "mc", monitor="val_loss")  # was refused: checkpointing off
    TSMambaForecaster(**params, trainer_kwargs={"callbacks": [saver]}).fit(series)
    assert Path(saver.best_model_path).exists()
    before = torch.are_deterministic_algorithms_enabled(), os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    TSMambaForecaster(**params, trainer_kwargs={"deterministic": True}).fit(series)
    assert (torch.are_deterministic_algorithms_enabled(), os.environ.get("CUBLAS_WORKSPACE_CONFIG")) == before


@pytest.mark.parametrize(("given", "before"), [({"deterministic": True}, True), ({"benchmark": True}, False)])
def test_a_fit_leaves_cudnns_benchmark_as_it_found_it(series, given, before, monkeypatch):
    """Lightning sets torch.backends.cudnn.benchmark for the process: off under deterministic=True
    (a user's own benchmark=True was gone after the fit), on under benchmark=True (and left on)."""
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", before)
    TSMambaForecaster(**{**TINY, "max_epochs": 1}, trainer_kwargs=given).fit(series.iloc[:200])
    assert torch.backends.cudnn.benchmark is before


def test_frames_given_back_as_they_were_fitted(series, tmp_path):
    """A time column named at fit, a CSV path, or long form with ids the model never saw."""
    wide = series.rename_axis("time").reset_index()
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(wide, time_col="time")
    expected = est.predict(series)
    pd.testing.assert_frame_equal(est.predict(wide), expected, check_names=False)  # 'time' was "unexpected"
    np.testing.assert_array_equal(est.forecast_origins(wide, [len(wide) - 1])[0], expected.to_numpy())
    wide.to_csv(tmp_path / "w.csv", index=False)
    origins = est.forecast_origins(tmp_path / "w.csv", [len(wide) - 1])  # a path was read as an array
    np.testing.assert_allclose(origins[0], expected.to_numpy(), rtol=1e-6)
    long = series.reset_index().melt(id_vars="date", var_name="unique_id", value_name="y")
    long = long.rename(columns={"date": "ds"})
    fitted = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(long)
    pd.testing.assert_frame_equal(fitted.predict(long), fitted.predict(series), check_names=False)
    extra = pd.concat([long, long[long.unique_id == "c0"].assign(unique_id="c9")])
    with pytest.raises(DataValidationError, match=r"unexpected ids \['c9'\]"):  # dropped silently
        fitted.predict(extra)
    extra.to_csv(tmp_path / "extra.csv", index=False)
    with pytest.raises(DataValidationError, match=r"extra\.csv: series .* unexpected ids \['c9'\]"):
        fitted.predict(tmp_path / "extra.csv")  # a file's were dropped silently


def test_long_form_without_some_fitted_series_names_them_as_the_models(series, tmp_path):
    """predict on long form holding some of the fitted series (one store of three) names the
    others as missing, as a wide frame's missing columns are; it had said 'requested series not
    found', though the caller requested none."""
    long = series[["c0", "c1"]].reset_index().melt(id_vars="date", var_name="unique_id", value_name="y")
    long = long.rename(columns={"date": "ds"})
    fitted = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(long)
    some = long[long.unique_id == "c1"]
    with pytest.raises(DataValidationError, match=r"differ from those the model was fitted on: missing ids "
                                                  r"\['c0'\]; pass the series \['c0', 'c1'\]"):
        fitted.predict(some)
    with pytest.raises(DataValidationError, match=r"missing ids \['c0'\], unexpected ids \['c9'\]"):
        fitted.predict(some.assign(unique_id="c9").pipe(lambda f: pd.concat([f, some])))
    some.to_csv(tmp_path / "some.csv", index=False)
    with pytest.raises(DataValidationError) as caught:
        fitted.predict(tmp_path / "some.csv")
    assert "series the model was fitted on not found: 'c0'" in str(caught.value)
    assert "requested" not in str(caught.value)


def test_forecast_origins_takes_the_time_column_predict_takes(fitted, series, tmp_path):
    """A frame or file whose time column is neither the fitted one nor 'date': its error had said
    to pass time_col=, which forecast_origins did not take."""
    named = series.rename_axis("timestamp").reset_index()
    named.to_csv(tmp_path / "named.csv", index=False)
    expected = fitted.forecast_origins(series, [300, 399])
    for data in (named, tmp_path / "named.csv"):
        out = fitted.forecast_origins(data, [300, 399], time_col="timestamp")
        np.testing.assert_allclose(out, expected, rtol=1e-6)
        np.testing.assert_allclose(out[-1], fitted.predict(data, time_col="timestamp").to_numpy(), rtol=1e-6)

def test_fits_in_two_threads_equal_the_same_fits_in_turn(series):
    """Two seeded fits at once in two threads seeded, and restored, each other's global state:
    neither forecast equalled its sequential fit, and the caller's default dtype and generator
    were not given back."""
    import threading

    frame = series.iloc[:300]
    settings = dict(TINY, max_epochs=1, dropout=0.1, train_sampling="random", train_stride=2)
    alone = [TSMambaForecaster(**dict(settings, random_state=s)).fit(frame).predict(frame) for s in (1, 2)]
    torch.manual_seed(123)
    expected_draw = torch.rand(3)
    torch.manual_seed(123)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        fitted = [TSMambaForecaster(**dict(settings, random_state=s)) for s in (1, 2)]
        threads = [threading.Thread(target=est.fit, args=(frame,)) for est in fitted]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert torch.get_default_dtype() == torch.float64
    finally:
        torch.set_default_dtype(default)
    torch.testing.assert_close(torch.rand(3), expected_draw, rtol=0, atol=0)  # the caller's generator
    for est, forecast in zip(fitted, alone, strict=True):
        pd.testing.assert_frame_equal(est.predict(frame), forecast)


def test_a_fit_inside_inference_mode_trains_as_outside(series):
    """Inside torch.inference_mode fit failed with torch's 'element 0 of tensors does not require
    grad'; under no_grad it worked."""
    frame = series.iloc[:300]
    settings = dict(TINY, max_epochs=1)
    expected = TSMambaForecaster(**settings).fit(frame).predict(frame)
    for mode in (torch.inference_mode, torch.no_grad):
        with mode():
            forecast = TSMambaForecaster(**settings).fit(frame).predict(frame)
        pd.testing.assert_frame_equal(forecast, expected)


def test_progress_false_fits_without_lightnings_notes(series, capsys, caplog):
    """progress=False still printed Lightning's 'GPU available: ...' and tip lines at every fit."""
    import logging

    frame = series.iloc[:200]
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = rank_zero.level
    with caplog.at_level(logging.INFO):
        TSMambaForecaster(**dict(TINY, max_epochs=1, progress=False)).fit(frame)
        quiet = capsys.readouterr().out + capsys.readouterr().err + caplog.text
        assert "GPU available" not in quiet
        caplog.clear()
        TSMambaForecaster(**dict(TINY, max_epochs=1, progress=True)).fit(frame)
        assert "GPU available" in capsys.readouterr().err + capsys.readouterr().out + caplog.text
    assert rank_zero.level == level


def test_load_neither_waits_for_a_fit_in_another_thread_nor_draws_random_numbers(fitted, tmp_path):
    """load built its network under the fits' lock (it waited for a whole fit in another thread,
    and hung when a fit's callback joined a thread that loaded) and drew from the generators."""
    import threading

    from tsmamba.training import PROCESS_STATE_LOCK

    path = fitted.save(tmp_path / "m")
    holding, release, done = threading.Event(), threading.Event(), threading.Event()

    def a_fit_in_another_thread() -> None:
        with PROCESS_STATE_LOCK:
            holding.set()
            release.wait(30)
        done.set()

    thread = threading.Thread(target=a_fit_in_another_thread)
    thread.start()
    holding.wait(30)
    torch.manual_seed(5)
    expected_draw = torch.rand(2)
    torch.manual_seed(5)
    try:
        loaded = TSMambaForecaster.load(path)
        assert not done.is_set()  # it returned while the lock was held
    finally:
        release.set()
        thread.join()
    torch.testing.assert_close(torch.rand(2), expected_draw, rtol=0, atol=0)
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict())


class _PauseAtEpoch(training.Callback):
    """Holds a fit at the start of an epoch until released."""

    def __init__(self, epoch: int):
        import threading

        self.epoch, self.reached, self.release = epoch, threading.Event(), threading.Event()

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            self.reached.set()
            self.release.wait(60)


def test_a_refit_in_another_thread_publishes_its_state_whole(series):
    """Mid-refit, predict() and stream() in another thread saw the new scaler beside the old
    series, and a stream took the network still training; now they see the old fit until the new
    one is complete."""
    import threading

    model = TSMambaForecaster(**TINY).fit(series.iloc[:200])
    old_forecast, old_network = model.predict(), model.network_
    pause = _PauseAtEpoch(1)
    model.set_params(max_epochs=2, trainer_kwargs={"callbacks": [pause]})
    refit = threading.Thread(target=model.fit, args=(series * 100,))
    refit.start()
    try:
        assert pause.reached.wait(60)  # training the new network
        assert model.network_ is old_network and model.values_.shape[0] == 200
        pd.testing.assert_frame_equal(model.predict(), old_forecast)
        assert model.stream(series.iloc[:50]).network is old_network
        model.note = "set during the fit"  # the caller's own attribute, and a parameter
        model.set_params(learning_rate=0.002)
    finally:
        pause.release.set()
        refit.join()
    assert model.note == "set during the fit" and model.learning_rate == 0.002
    assert model.network_ is not old_network and len(model.values_) == len(series)
    assert model.predict().index[0] > old_forecast.index[-1]


def test_a_call_running_when_a_refit_ends_uses_one_fit_throughout(series, monkeypatch):
    """predict() reads the series first and the scaler and network later: a refit ending in
    between gave the old series through the new scaler and network. A call reads a snapshot."""
    model = TSMambaForecaster(**TINY).fit(series.iloc[:200])
    expected = model.predict()
    refit = clone(model).fit(series * 100)
    scaled = TSMambaForecaster._scaled

    def refit_ends_now(self, values):  # as if the other thread's fit published here
        model.__dict__ = {**model.__dict__, **{k: v for k, v in vars(refit).items() if k.endswith("_")}}
        return scaled(self, values)

    monkeypatch.setattr(TSMambaForecaster, "_scaled", refit_ends_now)
    pd.testing.assert_frame_equal(model.predict(), expected)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(model.predict(), refit.predict())


class _Logged(TSMambaForecaster):
    def _fit(self, *args, **kwargs):
        super()._fit(*args, **kwargs)
        self.fit_log, self._cache = ["fitted"], {"n": len(self.values_)}


def test_saves_warnings_name_the_callers_line(fitted, tmp_path):
    """save() reads a snapshot of the estimator; as a wrapper that had made its warnings name
    tsmamba's own line, not the caller's."""
    model = clone(fitted).set_params(trainer_kwargs={"callbacks": [Callback()]})
    model.__dict__.update({k: v for k, v in vars(fitted).items() if k.endswith("_")})
    with pytest.warns(UserWarning, match="save\\(\\) keeps JSON parameters only") as caught:
        model.save(tmp_path / "m")
    assert caught[0].filename == __file__


def test_a_subclass_keeps_what_its_fit_sets(series):
    """fit published only the attributes ending in '_' of its working copy: a subclass's own were lost."""
    model = _Logged(**TINY).fit(series.iloc[:200])
    assert model.fit_log == ["fitted"] and model._cache == {"n": 200}
    assert clone(model).get_params() == model.get_params()


def test_fit_takes_sklearns_y_none_and_refuses_a_second_series(series):
    """A Pipeline calls fit(X, y=None): fit had no y (TypeError). A second frame there would be
    validation data given the wrong way, so anything but None is refused."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    frame = series.iloc[:200]
    pipeline = make_pipeline(FunctionTransformer(lambda df: df * 1.0), TSMambaForecaster(**TINY)).fit(frame)
    direct = TSMambaForecaster(**TINY).fit(frame, None)
    pd.testing.assert_frame_equal(pipeline.predict(frame), direct.predict(frame))
    with pytest.raises(ConfigError, match=r"fit takes no target: the series is its own, so y must be None "
                       r"\(got DataFrame\); pass validation rows as val_df="):
        TSMambaForecaster(**TINY).fit(frame, series.iloc[200:])


def test_an_empty_id_in_long_form_input_is_named_as_empty():
    """predict called an empty id an 'unexpected id' ['nan'], without its row; the text id "NA"
    that pd.read_csv reads as missing is the usual way to get one."""
    ds = pd.date_range("2024-01-01", periods=80, freq="h")
    long = pd.concat([pd.DataFrame({"unique_id": i, "ds": ds, "y": np.sin(np.arange(80) / 4) + k})
                      for k, i in enumerate(("NA", "b"))], ignore_index=True)
    model = TSMambaForecaster(**dict(TINY, context_length=24, horizon=6)).fit(long)
    assert model.columns_ == ["NA", "b"]
    as_read = long.assign(unique_id=long["unique_id"].replace("NA", np.nan))
    for call in (model.predict, model.stream, lambda df: model.forecast_origins(df, [30])):
        with pytest.raises(DataValidationError, match=r"id column 'unique_id' is empty at row 0, row 1, .*; "
                           r"pd.read_csv reads an id written NA, N/A or null as missing"):
            call(as_read)
    with pytest.raises(DataValidationError, match=r"id column 'unique_id' is empty at row 0, row 1"):
        model.predict(long.assign(unique_id=long["unique_id"].replace("NA", " ")))  # spaces only


def test_predict_on_too_few_rows_says_what_predict_needs(fitted, series):
    """The message spoke of origins and of starting later, which predict has not."""
    with pytest.raises(DataValidationError, match=r"^predict reads the last 24 rows \(the model's "
                       r"context_length\), and the data has 10; give at least 24 rows, or use "
                       r"context='full'$"):
        fitted.predict(series.iloc[:10])
    assert fitted.predict(series.iloc[:10], context="full").shape == (12, 3)


def test_a_quiet_fit_prints_no_torch_note_about_lightnings_pytree(tmp_path):
    """torch warned about Lightning's LeafSpec at every fit, which progress=False is to keep quiet;
    in a process that shows every warning (-W always), where it would print."""
    script = textwrap.dedent("""
        import numpy as np, pandas as pd
        from tsmamba import TSMambaForecaster
        frame = pd.DataFrame({"a": np.sin(np.arange(200) / 4)},
                             index=pd.date_range("2024-01-01", periods=200, freq="h"))
        TSMambaForecaster(24, 6, d_model=8, n_layers=1, max_epochs=1, progress=False).fit(frame)
        print("fitted")
    """)
    run = subprocess.run([sys.executable, "-W", "always", "-c", script], capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=tmp_path, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "fitted", run.stderr
    assert "LeafSpec" not in run.stderr, run.stderr


def test_no_fit_warns_of_what_no_caller_can_change(tmp_path):
    """On a machine with 4 cores or more every fit warned (twice) that the train and val loaders
    "do not have many workers", and a fit with progress on warned of Lightning's LeafSpec: the
    estimator takes no num_workers (its loaders gather each batch from memory at once), and the
    LeafSpec is Lightning's own; in a process that shows every warning (-W always)."""
    script = textwrap.dedent("""
        import os
        os.sched_getaffinity = lambda pid: set(range(8))  # a machine with 8 cores
        os.cpu_count = lambda: 8
        import numpy as np, pandas as pd
        from tsmamba import TSMambaForecaster
        frame = pd.DataFrame({"a": np.sin(np.arange(200) / 4)},
                             index=pd.date_range("2024-01-01", periods=200, freq="h"))
        TSMambaForecaster(24, 6, d_model=8, n_layers=1, max_epochs=1, progress=True).fit(frame)
        print("fitted")
    """)
    run = subprocess.run([sys.executable, "-W", "always", "-c", script], capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=tmp_path, timeout=300)
    assert run.returncode == 0 and run.stdout.strip().endswith("fitted"), run.stderr
    assert "many workers" not in run.stderr and "LeafSpec" not in run.stderr, run.stderr


def test_fits_and_forecasts_leave_the_warning_filters_and_logs_of_other_threads_alone(series, caplog):
    """A quiet fit (and a predict) swapped the process's warning filters for its own with
    warnings.catch_warnings and put them back when it ended: a filter another thread set
    meanwhile was dropped (19 of 40 while a thread predicted in a loop), and the Lightning log
    levels it set for its notes applied to every thread."""
    import logging
    import threading
    import warnings

    real = warnings.catch_warnings

    def guarded(*args, **kwargs):  # tsmamba's own code must not swap the filters
        caller = Path(sys._getframe(1).f_code.co_filename)
        assert caller.parent.name != "tsmamba", f"warnings.catch_warnings in {caller.name}"
        return real(*args, **kwargs)

    in_fit, filter_set = threading.Event(), threading.Event()

    class Pause(Callback):  # holds the fit until the main thread has set its filter and logged
        def on_train_epoch_start(self, trainer, pl_module):
            in_fit.set()
            assert filter_set.wait(30)

    frame = series.iloc[:200].copy()
    frame["flat"] = 1.0  # a constant column: read_series' warning that predict leaves unsaid
    estimator = TSMambaForecaster(**dict(TINY, max_epochs=1, progress=False,
                                         trainer_kwargs={"callbacks": [Pause()]}))
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    with real():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.MonkeyPatch.context() as patch, caplog.at_level(logging.INFO):
            patch.setattr(warnings, "catch_warnings", guarded)
            errors: list[BaseException] = []
            fit = threading.Thread(target=lambda: _record(errors, estimator.fit, frame))
            fit.start()
            assert in_fit.wait(60)
            warnings.filterwarnings("error", message="set by another thread")
            rank_zero.info("a note of another thread")
            filter_set.set()
            fit.join(120)
            assert not errors, errors
            assert "a note of another thread" in caplog.text  # only the fit's own notes are left out
            estimator.predict()
            estimator.predict(frame, context="full")
            next_time = frame.index[-1] + pd.tseries.frequencies.to_offset(estimator.freq_)
            estimator.stream(history=frame).update(pd.Series(0.5, index=frame.columns, name=next_time))
        with pytest.raises(UserWarning, match="set by another thread"):
            warnings.warn("set by another thread", UserWarning, stacklevel=1)


def _record(errors: list[BaseException], call, *args) -> None:
    try:
        call(*args)
    except BaseException as exc:  # reported by the test's thread
        errors.append(exc)


def test_forecasts_that_are_not_finite_are_an_error_naming_the_cause(series, monkeypatch):
    """A channel 0 in training (scale 1) that later swings between ±1.7e19, under the 1.8e19 the
    input check allows: the causal norm's squared deviations had overflowed float32 and predict had
    returned NaN or -inf without a word (a backtest blamed the training). Its moments are now summed
    in float64, so such inputs are forecast, at their own size. Forecasts that still come out not
    finite (simulated here) are blamed on the inputs when the weights are finite, naming the
    largest channel, and on the fit when they are not."""
    data = series.copy()
    data["ct"] = 0.0
    est = TSMambaForecaster(**{**TINY, "max_epochs": 1}).fit(data.iloc[:300])
    data.iloc[330:, 3] = 1.7e19 * (-1.0) ** np.arange(70)
    for context in ("window", "full"):
        forecast = est.predict(data, context=context)
        assert np.isfinite(forecast.to_numpy()).all() and forecast["ct"].abs().max() > 1e18
    real = est.network_.forecast_at

    def overflowing(*args, **kwargs):  # as a float32 network that cannot carry them would
        for rows, piece in real(*args, **kwargs):
            yield rows, piece.index_fill(2, torch.tensor([3]), float("-inf"))

    monkeypatch.setattr(est.network_, "forecast_at", overflowing)
    for context in ("window", "full"):
        with pytest.raises(DataValidationError, match=r"1 of 1 forecasts \(the first after row 399\) are "
                           r"not finite: the network's float32 could not carry the inputs through, whose "
                           r"largest values once scaled are 1.7e\+19 .* in \['ct'\]; check them"):
            est.predict(data, context=context)
    monkeypatch.undo()
    broken = copy.deepcopy(est)
    with torch.no_grad():
        next(broken.network_.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingError, match=r"not finite: the network's weights are not \(a diverged fit"):
        broken.predict()


def test_a_zone_aware_cycle_is_forecast_at_the_wall_clock_hours_across_dst(new_york_cycle_model,
                                                                          wall_clock_cycle):
    """The forecast steps of a zone-aware series take their own wall-clock phases: across the
    clocks going back (1:00 twice) and forward (no 2:00) the forecast of a pure wall-clock cycle
    is that cycle. The phases had been counted on by one from the last input step, an hour off
    after the change (an error up to 5 here, in the peak hour's channel)."""
    est = new_york_cycle_model
    for start in ("2021-11-05", "2022-03-11"):  # back, then forward: a season after the fit
        index = pd.date_range(start, periods=72, freq="h", tz="America/New_York", name="date")
        frame = wall_clock_cycle(index)
        origins = np.arange(30, 60)  # forecasts over the change of the third night
        for context in ("window", "full"):
            got = est.forecast_origins(frame, origins, context=context)  # (n, H, C)
            truth = np.stack([wall_clock_cycle(future_index(index[: o + 1], est.horizon)).to_numpy()
                              for o in origins])
            np.testing.assert_allclose(got, truth, atol=2e-4)
        expected = wall_clock_cycle(future_index(index[:50], 12))
        pd.testing.assert_frame_equal(est.predict(frame.iloc[:50]), expected, atol=2e-4, check_freq=False)


def test_best_step_counts_the_optimizer_steps_before_the_best_validation(series):
    """history_['best_step'] is the optimizer steps taken up to the best epoch's validation:
    (best_epoch + 1) x batches per epoch (helper: global_step - 1 passed)."""
    est = TSMambaForecaster(**{**TINY, "max_epochs": 2}, patience=None).fit(series)
    history = est.history_
    batches = -(-history["windows_per_epoch"] // TINY["batch_size"])
    assert history["best_epoch"] in (0, 1)
    assert history["best_step"] == (history["best_epoch"] + 1) * batches
    # every validation is recorded: each epoch's, its step, and the best one among them
    assert [(v["epoch"], v["step"]) for v in history["val_losses"]] == [(0, batches), (1, 2 * batches)]
    best = min(history["val_losses"], key=lambda v: v["loss"])
    assert (best["epoch"], best["loss"]) == (history["best_epoch"], history["best_val_loss"])


def test_head_window_may_be_the_whole_context(series):
    """head_window == context_length reads every hidden state of the window: allowed (helper:
    window > context_length -> >= passed)."""
    est = TSMambaForecaster(**TINY, head_window=TINY["context_length"]).fit(series)
    assert est.network_.config.head_window == TINY["context_length"]


def test_ema_decay_zero_is_off(series):
    """ema_decay=0 means no average, as None does (helper: the check 0 <= v < 1 -> 0 < v < 1 passed)."""
    off = TSMambaForecaster(**TINY, ema_decay=None).fit(series)
    zero = TSMambaForecaster(**TINY, ema_decay=0).fit(series)
    pd.testing.assert_frame_equal(zero.predict(), off.predict())


def test_val_fraction_one_is_refused_before_the_data(series):
    """val_fraction=1 would leave no training rows: a ConfigError naming it (helper: the check
    0 <= v < 1 -> 0 <= v <= 1 passed)."""
    with pytest.raises(ConfigError, match=r"val_fraction must be a number in \[0, 1\)"):
        TSMambaForecaster(**TINY, val_fraction=1.0).fit(series)


def test_a_minimum_beyond_max_epochs_is_refused_before_the_data(series):
    """trainer_kwargs min_epochs=5 with max_epochs=2 trained 2 epochs and said nothing."""
    est = TSMambaForecaster(**{**TINY, "max_epochs": 2}, trainer_kwargs={"min_epochs": 5})
    with pytest.raises(ConfigError, match=r"min_epochs=5 is more than the estimator's max_epochs=2"):
        est.fit("no such file.csv")  # refused before the file is looked for
    assert TSMambaForecaster(**{**TINY, "max_epochs": 2}, trainer_kwargs={"min_epochs": 2}).fit(
        series).history_["epochs"] == 2


def test_the_validation_rows_are_the_rounded_share_and_the_scaler_sees_only_the_rest(series):
    """val_fraction x rows is rounded (39.96 -> 40 of 400), and the scaler is fitted on the training
    rows before them (helper: round -> int passed)."""
    est = TSMambaForecaster(**TINY, val_fraction=0.0999).fit(series)  # 39.96 -> 40 of 400 rows
    np.testing.assert_allclose(est.scaler_.mean_, series.iloc[:360].mean().to_numpy(), rtol=1e-12)


def test_a_held_out_share_of_exactly_horizon_rows_is_validated_on(series, recwarn):
    """val_fraction x rows == horizon is enough for one validation window: the fit validates and
    stops early on it, without the 'training without validation' warning (helper: n_val >= H ->
    n_val > H passed)."""
    est = TSMambaForecaster(**TINY, val_fraction=0.03).fit(series)  # 12 rows of 400, horizon 12
    assert est.history_["best_val_loss"] is not None and est.history_["best_epoch"] == 0
    assert not [w for w in recwarn if "without validation" in str(w.message)]


def _scaled_window_mse(est, values: pd.DataFrame, origins) -> float:
    forecasts = est.forecast_origins(values, list(origins))  # (n, H, C), original units
    targets = np.stack([values.to_numpy()[o + 1 : o + 1 + est.horizon] for o in origins])
    scale = est.scaler_.scale_
    return float(np.mean(((forecasts - targets) / scale) ** 2))


def test_the_validation_loss_is_over_the_windows_after_the_training_rows(series):
    """best_val_loss is the MSE (scaled) of the windows whose targets lie in the held-out rows: their
    contexts start context_length rows before them, no earlier (helper: the validation border
    moved back by horizon rows passed)."""
    est = TSMambaForecaster(**TINY, patience=None).fit(series)  # 40 validation rows of 400
    H, n = TINY["horizon"], len(series)
    expected = _scaled_window_mse(est, series, range(n - 40 - 1, n - H))
    assert est.history_["best_val_loss"] == pytest.approx(expected, rel=1e-5)  # float32 sums


def test_the_validation_loss_of_a_val_df_is_over_its_windows(series):
    """With val_df, the validation windows are those whose targets lie in it, their contexts the last
    rows of df (helper: the border moved one row earlier passed)."""
    train, val = series.iloc[:260], series.iloc[260:]
    est = TSMambaForecaster(**TINY, patience=None).fit(train, val_df=val)
    H, n = TINY["horizon"], len(train)
    expected = _scaled_window_mse(est, series, range(n - 1, len(series) - H))
    assert est.history_["best_val_loss"] == pytest.approx(expected, rel=1e-5)
    # the forecast starts after val_df's rows, which were given too (it had started inside them)
    assert est.predict().equals(est.predict(series))
    assert est.predict().index[0] == series.index[-1] + pd.Timedelta("1h")
    assert est.predict(context="full").equals(est.predict(series, context="full"))


def test_an_origin_past_the_last_row_is_refused_by_name(fitted, series):
    """Origin len(data) has no row: a DataValidationError naming the range (helper: max() >= T ->
    max() > T passed)."""
    n = len(series)
    message = rf"origins must be row positions in \[0, {n}\), got {n}..{n}"
    with pytest.raises(DataValidationError, match=message):
        fitted.forecast_origins(series, [n])
    assert fitted.forecast_origins(series, [n - 1]).shape == (1, TINY["horizon"], series.shape[1])


def test_a_window_forecast_needs_a_whole_context_before_its_origin(fitted, series):
    """Origin context_length - 2 has one row too few for a window: refused, origin context_length - 1
    is the first one (helper: min() < L - 1 -> min() < L - 2 passed)."""
    L_ = TINY["context_length"]
    with pytest.raises(DataValidationError, match=rf"origin row {L_ - 2} has only {L_ - 1}"):
        fitted.forecast_origins(series, [L_ - 2])
    assert fitted.forecast_origins(series, [L_ - 1]).shape == (1, TINY["horizon"], series.shape[1])


def test_a_val_df_shorter_than_the_horizon_is_refused_by_name(series):
    """val_df of horizon - 1 rows holds no validation window: refused, naming the rows it needs
    (helper: len < H -> len < H - 1 passed)."""
    H = TINY["horizon"]
    with pytest.raises(DataValidationError, match=rf"val_df has {H - 1} rows, but a validation window needs"):
        TSMambaForecaster(**TINY).fit(series.iloc[:250], val_df=series.iloc[250 : 250 + H - 1])


def test_a_channel_given_as_the_time_column_is_named_so(fitted, series):
    """time_col= naming one of the model's channels had been refused as "columns differ ...:
    missing [], unexpected ['date']", naming no column as missing and not the mistake (helper-222)."""
    frame = series.reset_index()
    channel = series.columns[0]
    with pytest.raises(DataValidationError, match=re.escape(
            f"time_col {channel!r} is one of the channels the model was fitted on, not the time column; "
            "pass time_col= with the name of the time column (the frame's other columns: ['date'])")):
        fitted.predict(frame, time_col=channel)
    pd.testing.assert_frame_equal(fitted.predict(frame, time_col="date"), fitted.predict(series))


def test_predict_asks_for_a_model_channels_values_not_for_columns(fitted, series):
    """predict reads the model's channels and takes no columns=: a channel of text or of no value
    is the model's to be given, where read_series advises leaving it out (helper-158)."""
    name = series.columns[1]
    text = series.astype({name: object})
    text.iloc[3, 1] = "bad"
    with pytest.raises(DataValidationError, match=re.escape(
            f"non-numeric columns: column '{name}' (1 of 400 values not numbers, e.g. row 3: 'bad'). "
            "The model reads these columns: clean these values")):
        fitted.predict(text)
    empty = series.assign(**{name: np.nan})
    with pytest.raises(DataValidationError, match=re.escape(
            f"Column ['{name}'] holds no value in any row: the model needs values there. predict reads")):
        fitted.predict(empty)
    with pytest.raises(DataValidationError, match=r"Pass columns=\[\.\.\.\] with the numeric channels"):
        TSMambaForecaster(**TINY).fit(text)  # fit chooses its channels


# --- pinned by mutation round 9 (this session's changes) ---


def test_only_a_later_release_than_this_one_is_a_newer_save():
    """The same version, a local build of it (0.1.0+g1a2b) or an earlier one keep 'save again'; a
    later patch release (the third number) is newer."""
    major, minor, patch = (int(p) for p in re.findall(r"\d+", tsmamba.__version__.split("+")[0])[:3])
    for same_or_older in (tsmamba.__version__, f"{major}.{minor}.{patch}+5",
                          f"{major}.{minor}.{patch}+g1a2b.d7"):
        assert estimator_module._newer_save({"tsmamba_version": same_or_older}) is None, same_or_older
    later = f"{major}.{minor}.{patch + 1}"
    assert estimator_module._newer_save({"tsmamba_version": later}) == (
        f"it was saved by tsmamba {later}, and this is {tsmamba.__version__}: upgrade tsmamba to load it")


def test_saved_parameters_a_newer_tsmamba_wrote_ask_for_the_upgrade(series, tmp_path, unsigned_meta):
    calendar = TSMambaForecaster(**{**TINY, "max_epochs": 1, "time_features": True}).fit(series)
    path = calendar.save(tmp_path / "cal")
    meta = {**unsigned_meta(path), "freq": None, "tsmamba_version": "99.0"}
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"saved parameters are not valid \(AttributeError") as info:
        TSMambaForecaster.load(path)
    assert str(info.value).endswith(f"); it was saved by tsmamba 99.0, and this is {tsmamba.__version__}: "
                                    "upgrade tsmamba to load it")


def test_a_long_form_looking_frame_with_a_text_model_channel_asks_for_its_values(fitted, series):
    """Repeated times and an extra column (read to say why), and a model channel holding text: the
    advice is the model's need for its values, not to leave the channel out with columns=."""
    frame = series.iloc[:60].rename_axis("date").reset_index()
    first = fitted.columns_[0]
    frame[first] = frame[first].astype(object)
    frame.loc[3, first] = "n/a?"
    frame["note"] = "x"
    frame.loc[5, "date"] = frame.loc[4, "date"]
    with pytest.raises(DataValidationError) as info:
        fitted.predict(frame)
    assert "The model reads these columns: clean these values" in str(info.value)
    assert "columns=[" not in str(info.value)


def test_resume_refuses_a_number_of_validation_batches_of_other_sizes(series, tmp_path, monkeypatch):
    """limit_val_batches=n validates n batches, and on an accelerator a batch is micro_batch_size's
    pass (a CPU's, sized by the network, on a CPU): a resume with another micro_batch_size, or on
    another device, validated other windows than the best loss it compares with, unsaid."""
    monkeypatch.setattr(estimator_module, "trains_on_cpu", lambda trainer: False)  # as on a GPU
    params = {**TINY, "max_epochs": 1, "patience": None, "checkpoint_dir": str(tmp_path / "ck"),
              "trainer_kwargs": {"limit_val_batches": 1}}
    fitted = TSMambaForecaster(**params, micro_batch_size=8).fit(series, keep_val_forecasts=True)
    assert len(fitted.val_forecasts_) == 8
    with pytest.raises(CheckpointError, match=r"fitted with val_batch_size 8 \(now 16\)"):
        TSMambaForecaster(**{**params, "max_epochs": 2}, micro_batch_size=16).fit(series, resume=True)
    # a fraction of the batches is the same windows in batches of any size: micro_batch_size may change
    fraction = {**params, "checkpoint_dir": str(tmp_path / "f"), "trainer_kwargs": {"limit_val_batches": 0.5}}
    TSMambaForecaster(**fraction, micro_batch_size=8).fit(series)
    resumed = TSMambaForecaster(**{**fraction, "max_epochs": 2}, micro_batch_size=16).fit(series, resume=True)
    assert resumed.history_["epochs"] == 2
