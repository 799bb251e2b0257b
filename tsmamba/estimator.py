"""``TSMambaForecaster``: the sklearn-style estimator users fit and predict with.

It glues the pieces together and holds no math of its own: the data layer validates and scales,
the network (:mod:`tsmamba.model`) forecasts, Lightning (:mod:`tsmamba.training`) trains, and
:mod:`tsmamba.checkpoint` saves.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import functools
import json
import math
import os
import re
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from pandas.tseries.frequencies import to_offset
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from tsmamba import __version__
from tsmamba.checkpoint import (
    FORECASTER_FORMAT,
    extra_meta,
    held_alone,
    json_plain,
    read_checkpoint,
    sha256_bytes,
    unloadable,
    write_checkpoint,
    zone_name,
)
from tsmamba.data import (
    StandardScaler,
    check_length,
    check_model_times,
    check_scaled_range,
    cycle_phase,
    cycle_phases_ahead,
    default_time_col,
    empty_ids,
    future_index,
    index_freq,
    infer_freq,
    is_long_form,
    read_strict,
    same_freq,
    steps_by_one,
    time_feature_count,
    time_features,
)
from tsmamba.errors import (
    CheckpointError,
    ConfigError,
    DataValidationError,
    TrainingError,
    TSMambaError,
    check_bool,
    check_context_norm,
    check_number,
    check_seed,
    memory_errors,
)
from tsmamba.model import ForecasterConfig, MambaForecaster, count_parameters
from tsmamba.runtime import release_freed_memory
from tsmamba.training import (
    PROCESS_STATE_LOCK,
    ForecastingModule,
    accumulation_scheduler,
    check_gradient_clip,
    check_objective,
    check_patience,
    check_trainer_kwargs,
    check_training_length,
    lightning_notes_off,
    make_trainer,
    process_settings_kept,
    seeded,
    trainer_errors,
    trains_on_cpu,
    validated_windows,
)
from tsmamba.windows import TRAIN_SAMPLINGS, TimeSeriesDataModule

if TYPE_CHECKING:
    import lightning

    from tsmamba.streaming import Stream

__all__ = ["NotFittedError", "TSMambaForecaster"]


class NotFittedError(TSMambaError, SklearnNotFittedError):
    """A forecaster used before ``fit``: a TSMambaError, and sklearn's NotFittedError as sklearn
    tools expect (defined here, not in :mod:`tsmamba.errors`, which stays free of sklearn's
    second-long import for the CLI)."""

FORMAT = FORECASTER_FORMAT
CONTEXTS = ("window", "full")
UNSCALE_ROWS = 4096  # forecasts taken back to original units at a time (float64 temporaries)


def _snapshot(est: TSMambaForecaster) -> TSMambaForecaster:
    """The estimator with its attributes as they are now: a fit publishes its state in one swap
    of them, so a call working on a snapshot sees one fit while a refit in another thread ends."""
    snapshot = object.__new__(type(est))
    snapshot.__dict__ = dict(est.__dict__)  # one read of the attributes
    return snapshot


def _largest_divisor_below(n: int) -> int | None:
    """n's largest divisor below n (n / its smallest prime factor), None for n = 1."""
    return next((n // p for p in range(2, n + 1) if n % p == 0), None)


def _one_fit(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``method`` on a :func:`_snapshot` of the estimator."""

    @functools.wraps(method)
    def on_snapshot(self: TSMambaForecaster, *args: Any, **kwargs: Any) -> Any:
        return method(_snapshot(self), *args, **kwargs)

    return on_snapshot


class TSMambaForecaster(BaseEstimator):
    """Mamba-2 forecaster with an sklearn interface.

    Parameters mirror :class:`tsmamba.model.ForecasterConfig` (architecture) and the training
    loop (epochs, batch size, learning rate, early stopping patience, ...). ``trainer_kwargs``
    go to ``lightning.Trainer`` unchanged (accelerator, devices, precision, strategy, callbacks,
    loggers); ``checkpoint_dir`` makes training write ``last.ckpt`` every epoch so that
    ``fit(..., resume=True)`` continues an interrupted run. ``micro_batch_size`` m (a divisor of
    ``batch_size``) runs each step's ``batch_size`` windows in passes of m, their gradients
    accumulated, each pass's loss weighed by its share of the step's windows: the same training
    as whole batches (to rounding), holding about m / batch_size of a step's activations.

    Fitted attributes end in ``_``: ``network_``, ``scaler_``, ``columns_``, ``freq_``,
    ``index_``, ``values_`` (the training series), ``n_features_in_``, ``feature_names_in_``,
    ``history_`` (training record: epochs, ``best_epoch``, ``best_step``, ``best_val_loss``,
    ``val_losses`` with every validation's epoch, step and loss, timings, parameters); after
    ``fit(..., keep_val_forecasts=True)`` also ``val_origins_`` and ``val_forecasts_`` (see ``fit``).
    """

    def __init__(
        self,
        context_length: int = 96,
        horizon: int = 96,
        *,
        d_model: int = 64,
        embed_window: int = 1,
        n_layers: int = 2,
        d_state: int = 16,
        expand: int = 2,
        headdim: int = 16,
        d_conv: int = 4,
        chunk_size: int = 32,
        channel_mode: str = "independent",
        norm: str = "causal",
        norm_span: int | None = None,
        time_features: bool = False,
        dropout: float = 0.0,
        head_window: int | None = None,
        head_dim: int | None = None,
        cycle_length: int | None = None,
        input_skip: bool = False,
        cross_channel_skip: bool = False,
        channel_skip: bool = False,
        linear_init: bool = False,
        linear_init_ridge: float = 1.0,
        linear_init_own: float | None = None,
        loss: str = "mse",
        frequency_loss: float = 0.0,
        max_epochs: int = 10,
        batch_size: int = 32,
        micro_batch_size: int | None = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.05,
        channel_skip_lr_ratio: float | None = None,
        freeze_linear_path: bool = False,
        ema_decay: float | None = None,
        patience: int | None = 3,
        val_fraction: float = 0.1,
        gradient_clip_val: float | None = 1.0,
        train_stride: int = 1,
        train_sampling: str = "strided",
        val_stride: int = 1,
        random_state: int | None = 0,
        progress: bool = True,
        checkpoint_dir: str | None = None,
        trainer_kwargs: dict[str, Any] | None = None,
    ):
        self.context_length = context_length
        self.horizon = horizon
        self.d_model = d_model
        self.embed_window = embed_window
        self.n_layers = n_layers
        self.d_state = d_state
        self.expand = expand
        self.headdim = headdim
        self.d_conv = d_conv
        self.chunk_size = chunk_size
        self.channel_mode = channel_mode
        self.norm = norm
        self.norm_span = norm_span
        self.time_features = time_features
        self.dropout = dropout
        self.head_window = head_window
        self.head_dim = head_dim
        self.cycle_length = cycle_length
        self.input_skip = input_skip
        self.cross_channel_skip = cross_channel_skip
        self.channel_skip = channel_skip
        self.linear_init = linear_init
        self.linear_init_ridge = linear_init_ridge
        self.linear_init_own = linear_init_own
        self.loss = loss
        self.frequency_loss = frequency_loss
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.micro_batch_size = micro_batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.warmup_fraction = warmup_fraction
        self.min_lr_ratio = min_lr_ratio
        self.channel_skip_lr_ratio = channel_skip_lr_ratio
        self.freeze_linear_path = freeze_linear_path
        self.ema_decay = ema_decay
        self.patience = patience
        self.val_fraction = val_fraction
        self.gradient_clip_val = gradient_clip_val
        self.train_stride = train_stride
        self.train_sampling = train_sampling
        self.val_stride = val_stride
        self.random_state = random_state
        self.progress = progress
        self.checkpoint_dir = checkpoint_dir
        self.trainer_kwargs = trainer_kwargs

    # ---- configuration ---------------------------------------------------------------------
    def network_config(self, n_channels: int, n_time_features: int = 0) -> ForecasterConfig:
        return ForecasterConfig(
            n_channels=n_channels,
            horizon=self.horizon,
            context_length=self.context_length,
            d_model=self.d_model,
            embed_window=self.embed_window,
            n_layers=self.n_layers,
            d_state=self.d_state,
            expand=self.expand,
            headdim=self.headdim,
            d_conv=self.d_conv,
            chunk_size=self.chunk_size,
            channel_mode=self.channel_mode,
            norm=self.norm,
            norm_span=self.norm_span,
            n_time_features=n_time_features,
            dropout=self.dropout,
            head_window=self.head_window,
            head_dim=self.head_dim,
            cycle_length=self.cycle_length,
            input_skip=self.input_skip,
            cross_channel_skip=self.cross_channel_skip,
            channel_skip=self.channel_skip,
        )

    def set_params(self, **params: Any) -> TSMambaForecaster:
        """scikit-learn's ``set_params``, with a ConfigError (a ValueError, as sklearn raises) for
        a name that is no parameter, suggesting the closest one, and for ``name__key``: no
        parameter holds an estimator whose parameters it could set (``trainer_kwargs__max_steps``
        had failed with AttributeError: 'NoneType' object has no attribute 'set_params')."""
        valid = self.get_params(deep=False)
        for key in params:
            name, nested, sub = key.partition("__")
            if name not in valid:
                close = difflib.get_close_matches(name, valid, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ConfigError(
                    f"{type(self).__name__} has no parameter {name!r}{hint}; its parameters are "
                    f"{sorted(valid)}"
                )
            if nested:
                whole = f"{{**(est.{name} or {{}}), {sub!r}: ...}}" if name == "trainer_kwargs" else "..."
                raise ConfigError(
                    f"{key!r}: {name} is a value, not an estimator with parameters of its own; set it "
                    f"whole, as set_params({name}={whole})"
                )
        return super().set_params(**params)

    def check_fitted(self) -> None:
        """Raise NotFittedError before a fit, and ConfigError when parameters that shape the
        fitted network (``horizon``, ``context_length``, ``time_features``, ...) were changed
        since (``set_params``): the network still has the fitted ones, so fit again or set
        them back."""
        if not hasattr(self, "network_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(df) first, or load a "
                f"saved one with {type(self).__name__}.load(path)"
            )
        try:
            changed = self._changed_since_fit()
        except ConfigError as exc:
            raise ConfigError(f"parameters changed since fit are not valid ({exc}); fit again") from None
        if changed:
            if "n_time_features" in changed:  # the network's count follows the time_features switch
                was, now = changed.pop("n_time_features")
                changed["time_features"] = (was > 0, now > 0)
            shown = ", ".join(f"{name} {was!r} -> {now!r}" for name, (was, now) in changed.items())
            raise ConfigError(
                f"parameters changed since fit: {shown}; the fitted network has the old ones, so "
                "fit again (or set them back) before forecasting or saving"
            )

    def _changed_since_fit(self) -> dict[str, tuple[Any, Any]]:
        """{network setting: (the fitted network's, what the parameters give now)} where they
        differ, ignoring those that do not change forecasts; ConfigError for invalid parameters."""
        fitted_config = self.network_.config
        n_time_features = time_feature_count(self.freq_) if self.time_features else 0
        now_config = self.network_config(fitted_config.n_channels, n_time_features)
        fitted, now = asdict(fitted_config), asdict(now_config)
        for settings, config in ((fitted, fitted_config), (now, now_config)):
            if config.norm == "causal":  # None means context_length: compare the span in effect
                settings["norm_span"] = config.span
        return {name: (value, now[name]) for name, value in fitted.items()
                if name not in _NOT_IN_FORECASTS and now[name] != value}

    def _check_params(self) -> None:
        check_trainer_kwargs(self.trainer_kwargs)
        check_seed(self.random_state, "random_state", allow_none=True)
        for name in ("context_length", "horizon", "max_epochs", "batch_size", "train_stride", "val_stride"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        check_training_length(self.max_epochs, self.trainer_kwargs)
        self._check_micro_batches()
        for name, what in (("head_window", "hidden states for the head"),
                           ("embed_window", "inputs for a step's embedding")):
            window = getattr(self, name)  # its type is ForecasterConfig's to check
            whole = isinstance(window, (int, np.integer)) and not isinstance(window, bool)
            if whole and window > self.context_length:  # weights beyond a training window never train
                raise ConfigError(
                    f"{name} ({window}) must be at most context_length ({self.context_length}): a "
                    f"training window holds no more {what} to read"
                )
        # before any data is read (the module and the trainer check their own the same way)
        check_number(self.val_fraction, "val_fraction", lambda v: 0 <= v < 1, "a number in [0, 1)")
        check_number(self.warmup_fraction, "warmup_fraction", lambda v: 0 <= v < 1, "a number in [0, 1)")
        check_number(self.min_lr_ratio, "min_lr_ratio", lambda v: 0 <= v <= 1, "a number in [0, 1]")
        check_number(self.ema_decay, "ema_decay", lambda v: 0 <= v < 1, "a number in [0, 1) (0 or None: off)",
                     allow_none=True)
        check_gradient_clip(self.gradient_clip_val)
        if self.checkpoint_dir is not None and not isinstance(self.checkpoint_dir, (str, os.PathLike)):
            raise ConfigError(f"checkpoint_dir must be a folder path or None, got {self.checkpoint_dir!r}")
        for name in ("input_skip", "cross_channel_skip", "channel_skip", "time_features", "linear_init",
                     "freeze_linear_path", "progress"):
            check_bool(getattr(self, name), name)  # "no" is truthy: it switched them on
        check_patience(self.patience)
        # before any data is read, the settings the network and the training module check again
        self.network_config(n_channels=1).check_memory()
        check_objective(self.loss, self.frequency_loss, self.learning_rate, self.weight_decay)
        if self.train_sampling not in TRAIN_SAMPLINGS:
            raise ConfigError(f"train_sampling must be one of {TRAIN_SAMPLINGS}, got {self.train_sampling!r}")
        if self.norm_span is not None and self.norm != "causal":  # it would be ignored
            raise ConfigError(
                f"norm_span is the span of norm='causal' and has no effect with norm={self.norm!r}; "
                "leave norm_span at None or use norm='causal'"
            )
        if self.linear_init and not self.input_skip:
            raise ConfigError(
                "linear_init starts the input skip at the ridge map; set input_skip=True with it"
            )
        ridge = self.linear_init_ridge
        if isinstance(ridge, bool) or not isinstance(ridge, (int, float, np.number)) or not (
            np.isfinite(ridge) and ridge > 0
        ):
            raise ConfigError(
                f"linear_init_ridge is the ridge map's penalty and must be a positive number, got {ridge!r}"
            )
        if self.linear_init_own is not None:
            if not (self.linear_init and self.channel_skip):
                raise ConfigError(
                    "linear_init_own weighs each channel's own ridge map in the start of channel_skip; "
                    "set linear_init=True and channel_skip=True with it, or leave it at None"
                )
            check_number(self.linear_init_own, "linear_init_own", lambda v: 0 <= v <= 1, "a number in [0, 1]")
        if self.channel_skip_lr_ratio is not None:
            if not self.channel_skip:
                raise ConfigError(
                    "channel_skip_lr_ratio scales the learning rate of channel_skip's weights; set "
                    "channel_skip=True with it, or leave it at None"
                )
            check_number(self.channel_skip_lr_ratio, "channel_skip_lr_ratio", lambda v: 0 <= v <= 1,
                         "a number in [0, 1]")
        if self.freeze_linear_path and not self.linear_init:
            raise ConfigError(
                "freeze_linear_path holds the linear path at its ridge start while the Mamba path trains; "
                "set linear_init=True (and input_skip=True) with it"
            )
        if self.freeze_linear_path and self.channel_skip_lr_ratio not in (None, 0):
            raise ConfigError(
                "freeze_linear_path holds channel_skip too, so channel_skip_lr_ratio would not apply; "
                "leave it at None (or 0) with freeze_linear_path=True"
            )

    def _check_micro_batches(self) -> None:
        m = self.micro_batch_size
        if m is None:
            return
        if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or not 1 <= m <= self.batch_size \
                or self.batch_size % m:
            raise ConfigError(
                f"micro_batch_size is the windows of each forward and backward pass, a divisor of "
                f"batch_size ({self.batch_size}) (e.g. {_largest_divisor_below(self.batch_size) or 1}), "
                f"or None; got {m!r}"
            )
        clash = sorted({"accumulate_grad_batches", "limit_train_batches"} & set(self.trainer_kwargs or {}))
        if clash:  # it sets the first, and weighs micro-batches by the epoch's windows, which the second cuts
            raise ConfigError(
                f"micro_batch_size accumulates batch_size // micro_batch_size passes a step itself; "
                f"leave {' and '.join(clash)} out of trainer_kwargs with it"
            )
        if accumulation_scheduler((self.trainer_kwargs or {}).get("callbacks")) is not None:
            passes = self.batch_size // m  # Lightning's refusal names accumulate_grad_batches, not this
            raise ConfigError(
                f"micro_batch_size={m} sets Lightning's accumulate_grad_batches ({passes} passes a step) "
                "for every epoch, which the GradientAccumulationScheduler in trainer_kwargs callbacks "
                f"would set too; drop one, or for both give batch_size={m} without micro_batch_size "
                f"and multiply the scheduler's factors by {passes}"
            )

    # ---- data ------------------------------------------------------------------------------
    def _read(
        self, df: Any, time_col: str | None, columns: Sequence[str] | None,
        freq: str | None = None, tz: Any = None, warn_constant: bool = True,
    ) -> pd.DataFrame:
        return read_strict(df, caller="fit", time_col=default_time_col(df, time_col), columns=columns,
                           freq=freq, tz=tz, warn_constant=warn_constant)

    def _frame_for_prediction(
        self, df: Any, time_col: str | None = None, caller: str = "predict", fill: str | None = None,
        time_keys: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Validate a frame to forecast from: the fitted channels, in the fitted order
        (``caller`` names the method in messages; ``fill``: read_series' fill= of missing rows,
        which a stream's gaps= policy asks for). Without ``time_col``, the time column is the
        first of ``time_keys`` present (default: the fitted time column's name, then "date")."""
        if isinstance(df, pd.DataFrame) and is_long_form(df):  # fitted ids are selected when pivoted
            # an empty id is no unexpected one: read_strict names its rows
            ids = pd.Series(pd.unique(df["unique_id"]))
            empty = empty_ids(ids)
            given = set(ids[~empty].astype(str))
            extra = sorted(given - set(self.columns_))
            # had been "requested series not found"; with an empty id, read_strict names its rows
            missing = [] if empty.any() else [c for c in self.columns_ if c not in given]
            if extra or missing:  # extra ones dropped silently, where a wide frame's extra column is an error
                raise DataValidationError(self._unexpected_ids("the frame's", extra, missing))
        keys = (self.index_.name, "date") if time_keys is None else time_keys  # the fitted time column's
        keys = [k for k in keys if isinstance(k, str)]
        if isinstance(df, (str, os.PathLike)) and time_col is None:
            try:  # a file is read by the first time column it has
                header = set(pd.read_csv(os.path.expanduser(df), nrows=0).columns)
            except (OSError, ValueError):  # unreadable or not a CSV here: read_strict says why
                header = set()
            time_col = next((k for k in keys if k in header), None)
        elif isinstance(df, pd.DataFrame) and not is_long_form(df):
            present = [str(c) for c in df.columns]
            if time_col is None and not isinstance(df.index, pd.DatetimeIndex):
                time_col = next((k for k in keys if k in present), None)
            time_col = default_time_col(df, time_col)  # as fit reads it: the index's own times
            differ = self._columns_differ(present, time_col)
            if time_col in df.columns:
                unreadable = bool(df[time_col].duplicated().any())
            else:
                unreadable = df.index.has_duplicates or not isinstance(df.index, pd.DatetimeIndex)
            if differ and unreadable:
                # long form under other names (store, timestamp, sales): reading it says so and
                # names the id_col=, ds_col=, value_col= to pass, as fit does (or the time_col=
                # it lacks; a wide frame's repeated time, with its rows)
                read_strict(df, caller=caller, time_col=time_col, columns=self.columns_, fitted_channels=True)
            if differ:
                raise DataValidationError(differ)
        zone = self.index_.tz  # aware times are read as the same instants on the fitted calendar
        # (naive local times that repeat the hour the zone's clocks go back are said to be so there)
        frame = read_strict(df, caller=caller, time_col=default_time_col(df, time_col), columns=self.columns_,
                            fitted_channels=True, freq=self.freq_, tz=zone, fill=fill)
        if isinstance(df, (str, os.PathLike)) and frame.attrs.get("ids_left_out"):  # as a frame's are
            raise DataValidationError(self._unexpected_ids(f"{Path(df).name}:", frame.attrs["ids_left_out"]))
        source = Path(df).name if isinstance(df, (str, os.PathLike)) else None
        check_model_times(frame, zone, self.freq_, source)
        return frame

    def _unexpected_ids(self, whose: str, extra: Sequence[str], missing: Sequence[str] = ()) -> str:
        """Why a long-form input with the series ``extra`` besides the fitted ones, or without the
        fitted series ``missing``, is refused."""
        parts = [f"{what} ids {list(ids[:10])}{' ...' if len(ids) > 10 else ''}"
                 for what, ids in (("missing", missing), ("unexpected", extra)) if ids]
        return (f"{whose} series differ from those the model was fitted on: {', '.join(parts)}; "
                f"pass the series {self.columns_}")

    def _columns_differ(self, present: Sequence[str], time_col: Any) -> str | None:
        """Why a wide frame's columns ``present`` (its ``time_col`` aside) are not the fitted
        channels, or None when they are."""
        missing = [c for c in self.columns_ if c not in present]  # in a "date" column too
        extra = [c for c in present if c not in self.columns_ and c != str(time_col)]  # as text, as present
        if not missing and not extra:
            return None
        if str(time_col) in self.columns_:  # had said "missing [], unexpected ['date']"
            return (f"time_col {time_col!r} is one of the channels the model was fitted on, not the time "
                    f"column; pass time_col= with the name of the time column (the frame's other columns: "
                    f"{extra})")
        return (f"the frame's columns differ from those the model was fitted on: "
                f"missing {missing}, unexpected {extra}; pass the columns {self.columns_}")

    def _scaled(self, values: np.ndarray) -> torch.Tensor:
        scaled = self.scaler_.transform(values)
        check_scaled_range(scaled, self.columns_, torch.finfo(self._dtype()).max)
        return torch.as_tensor(scaled, dtype=self._dtype())

    def marks_for(self, index: pd.DatetimeIndex | None) -> torch.Tensor | None:
        """The network's per-step calendar inputs for ``index``: (T, n_marks), or None if it takes none.

        Time features (``time_features=True``), then the cycle phase (``cycle_length``).
        """
        if not (self.time_features or self.cycle_length):
            return None
        if index is None:
            raise ConfigError(
                "this model reads the calendar (time_features or cycle_length); pass the timestamps "
                "of the rows (index=...) or a DataFrame"
            )
        columns = []
        if self.time_features:
            columns.append(time_features(index, freq=self.freq_))
        if self.cycle_length:
            columns.append(cycle_phase(index, self.freq_, self.cycle_length)[:, None])
        return torch.as_tensor(np.concatenate(columns, axis=1), dtype=self._dtype())

    def phases_ahead(self, times: pd.DatetimeIndex) -> torch.Tensor | None:
        """Cycle phases (n, H) of the ``horizon`` steps after each of ``times``, for the network's
        ``future_phase``; None where it counts them itself (no cycle, or each phase the one before
        plus one: all but the DST changes of a zone-aware sub-daily series)."""
        if not self.cycle_length:
            return None
        phases = cycle_phases_ahead(times, self.freq_, self.cycle_length, self.horizon)
        return None if phases is None else torch.as_tensor(phases)

    def phase_track(self, index: pd.DatetimeIndex | None) -> torch.Tensor | None:
        """Cycle phases (T + H,) of the rows of ``index`` and of the ``horizon`` steps after it,
        when some do not step by one (a DST change); None otherwise. The forecast after row t
        reads its steps' phases from ``track[t + 1 : t + 1 + H]``."""
        if not self.cycle_length or index is None or not len(index):
            return None
        W = self.cycle_length
        rows = cycle_phase(index, self.freq_, W)  # (T,)
        after = self.phases_ahead(index[-1:])
        if after is None and steps_by_one(rows, W):
            return None
        after = (rows[-1] + np.arange(1, self.horizon + 1)) % W if after is None else after[0].numpy()
        return torch.as_tensor(np.concatenate([rows, after]))

    def _dtype(self) -> torch.dtype:
        return self.network_.head.weight.dtype

    # ---- fitting ---------------------------------------------------------------------------
    def fit(
        self,
        df: Any,
        y: None = None,
        *,
        time_col: str | None = None,
        columns: Sequence[str] | None = None,
        val_df: Any = None,
        scale: bool = True,
        resume: bool = False,
        keep_val_forecasts: bool = False,
    ) -> TSMambaForecaster:
        """Train on a series.

        Args:
            df: wide DataFrame (DatetimeIndex, or a time column ``time_col``, default "date"),
                or a CSV path; numeric channels (``columns`` selects them).
            y: None (scikit-learn's place for a target, which a Pipeline passes): the series is
                its own target.
            val_df: validation series for early stopping, the rows right after ``df``;
                default: the last ``val_fraction`` of ``df`` (its windows start
                ``context_length`` rows earlier).
            scale: fit a StandardScaler on the training rows (False: data already scaled).
            resume: continue from ``checkpoint_dir/last.ckpt`` when it exists: CheckpointError
                when a setting that shapes the run differs from the checkpoint's (batch_size,
                trainer_kwargs accumulate_grad_batches or precision, ...), a warning when one the
                learning-rate schedule is laid out from (max_epochs, ...) or one of when validation
                runs (check_val_every_n_epoch, ...) does; see docs/usage.md.
            keep_val_forecasts: keep the forecasts that validation made with the weights the fit
                ends on (the best validation's), in original units: ``val_forecasts_`` (n, H, C)
                after the origins ``val_origins_`` (n,), row positions in ``df`` followed by
                ``val_df``; on a CPU at the default precision, the numbers ``forecast_origins``
                gives for them, without forecasting them again. Both None when there were none
                (no validation, its best validation came before a resume, or it ran in several
                processes). With
                ``limit_val_batches`` in ``trainer_kwargs``: the first windows, those validation
                forecast. Not saved with the estimator.

        A fit that raises leaves the estimator as it was before (fitted or not). With a
        ``random_state`` the fit is seeded by it and leaves the global random generators of
        torch, numpy and ``random`` as it found them.
        """
        if y is not None:  # fit(train, val) would have trained without its validation series
            raise ConfigError(
                f"fit takes no target: the series is its own, so y must be None (got {type(y).__name__}); "
                "pass validation rows as val_df="
            )
        self._check_params()
        check_bool(scale, "fit's scale")
        check_bool(resume, "fit's resume")
        check_bool(keep_val_forecasts, "fit's keep_val_forecasts")
        if resume and self.checkpoint_dir is None:  # before the data is read, the network built
            raise ConfigError("resume=True needs checkpoint_dir (where last.ckpt is written)")
        seed = None if self.random_state is None else int(self.random_state)
        sigint = signal.getsignal(signal.SIGINT)
        # the fit builds its state on a copy and publishes it whole at the end: predict() or
        # stream() in another thread meanwhile saw the new scaler beside the old series and a
        # network still training; and a fit that raises leaves this estimator as it was. So a
        # callback in trainer_kwargs reads the fit's state from its LightningModule, not from here
        work = copy.copy(self)
        stale = _fitted_state(work).keys()  # the previous fit's, which this one replaces
        for name in stale:
            delattr(work, name)
        start = dict(vars(work))
        try:
            # gradients on whatever the caller's mode (inside torch.inference_mode the fit failed)
            with PROCESS_STATE_LOCK, seeded(seed), process_settings_kept(), \
                    lightning_notes_off(not self.progress), torch.inference_mode(False), \
                    torch.enable_grad(), memory_errors("fit", self._smaller_fit()):
                work._fit(df, time_col, columns, val_df, scale, resume, keep_val_forecasts)
        except BaseException as exc:
            if (isinstance(exc, SystemExit) and exc.code == 1
                    and isinstance(exc.__context__, KeyboardInterrupt)):
                # Lightning answers Ctrl-C with exit(1) and ignores Ctrl-C from then on: give
                # the caller the interrupt, and Ctrl-C back
                if threading.current_thread() is threading.main_thread() and sigint is not None:
                    signal.signal(signal.SIGINT, sigint)
                raise KeyboardInterrupt from None
            if type(exc).__name__ == "SIGTERMException" and exc.code is None:
                # Lightning's answer to a SIGTERM while it trains: a SystemExit with no code, so a
                # script killed mid-fit exited with status 0, as if it had succeeded. 143 is what a
                # shell reports for a process SIGTERM ended (128 + 15)
                raise SystemExit(128 + signal.SIGTERM) from exc
            raise
        # one swap of the attribute dict (see _snapshot): the attributes as they are now (the
        # parameters, and anything set meanwhile), less the previous fit's, plus what this fit
        # made or changed (fitted attributes, a subclass's own)
        params = self.get_params(deep=False).keys()
        made = {k: v for k, v in vars(work).items()
                if k not in params and (k not in start or start[k] is not v)}
        gone = start.keys() - vars(work).keys()
        self.__dict__ = {**{k: v for k, v in vars(self).items() if k not in stale and k not in gone}, **made}
        return self

    def _smaller_fit(self) -> str:
        """What to lower when a fit runs out of memory: a step holds batch_size x context_length
        x d_model x expand activations per layer (per channel when independent), and the SSD's
        chunk_size x chunk_size blocks: a pass of micro_batch_size windows, when it is set."""
        b, micro = self.batch_size, _largest_divisor_below(self.batch_size)
        if self.micro_batch_size is not None:
            passes = f"lower micro_batch_size ({self.micro_batch_size}), batch_size"
        elif micro is None:
            passes = "lower batch_size"
        else:
            passes = (f"set micro_batch_size={micro} (the same steps in passes of fewer windows), "
                      "or lower batch_size")
        return (f"{passes} ({b}), context_length ({self.context_length}), d_model "
                f"({self.d_model}), n_layers ({self.n_layers}) or chunk_size ({self.chunk_size}), or fit "
                "fewer channels at a time")

    def _run_settings(self, trainer: lightning.Trainer, val_batch_size: int) -> dict[str, Any]:
        """The settings a resume must keep: those that decide which windows each epoch draws
        (with a random_state of None the order's drawn seed is in the checkpoint: the datamodule's
        state) and how many of them each optimizer step takes (batch_size, trainer_kwargs'
        accumulate_grad_batches or a GradientAccumulationScheduler's schedule, the processes of
        ``trainer``: its world_size) and each epoch trains (limit_train_batches), which windows and
        loss validation compares (limit_val_batches, and when that is a number of batches, the
        windows of each: the passes' on an accelerator, micro_batch_size's included, and a CPU's
        own: ``val_batch_size``), the arithmetic of the steps and validation losses (Lightning's
        precision), and which weights train. max_epochs, patience, warmup_fraction, min_lr_ratio,
        ema_decay, gradient_clip_val and when validation runs may change; the first ones lay the
        learning-rate schedule out anew (:meth:`_schedule_settings`), the last is
        :func:`_validation_settings`."""
        return {"random_state": self.random_state, "batch_size": self.batch_size,
                "train_stride": self.train_stride, "train_sampling": self.train_sampling,
                "val_stride": self.val_stride, "loss": self.loss,
                "frequency_loss": float(self.frequency_loss),
                "freeze_linear_path": bool(self.freeze_linear_path),
                # the user's (micro_batch_size's passes are a memory setting, and exclude it)
                "accumulate_grad_batches": _accumulation(
                    trainer, (self.trainer_kwargs or {}).get("accumulate_grad_batches", 1)),
                "limit_train_batches": _batch_limit(trainer.limit_train_batches),
                "limit_val_batches": _batch_limit(trainer.limit_val_batches),  # 0: no validation
                # a number of validation batches is of this many windows each (a fraction is not)
                "val_batch_size": val_batch_size if isinstance(trainer.limit_val_batches, int)
                and trainer.limit_val_batches > 0 else None,
                "world_size": trainer.world_size,
                # "32-true", "bf16-mixed", ... as Lightning names it (32 and "32" are "32-true")
                "precision": str(trainer.precision)}

    def _schedule_settings(self, trainer: lightning.Trainer) -> dict[str, Any]:
        """The settings the learning-rate schedule is laid out from (besides the steps an epoch
        takes, which :meth:`_run_settings` keeps): a resume may change them, with a warning, as
        Lightning's restored schedule takes the new layout from the checkpoint's step on."""
        return {"max_epochs": trainer.max_epochs, "max_steps": trainer.max_steps,
                "warmup_fraction": float(self.warmup_fraction), "min_lr_ratio": float(self.min_lr_ratio)}

    def _fit(
        self, df: Any, time_col: str | None, columns: Sequence[str] | None, val_df: Any,
        scale: bool, resume: bool, keep_val_forecasts: bool = False,
    ) -> None:
        frame = self._read(df, time_col, columns, warn_constant=not scale)  # else the scaler names them
        values = frame.to_numpy(dtype=np.float64)
        n, L_, H = len(frame), self.context_length, self.horizon
        index = frame.index

        freq = index_freq(frame.index) or infer_freq(frame.index)
        if val_df is not None:
            try:
                val_frame = self._read(val_df, time_col, list(frame.columns), freq, index.tz)
            except DataValidationError as exc:
                raise DataValidationError(_as_val_df(str(exc), val_df)) from None
            _check_continues(index, val_frame.index, freq)
            if len(val_frame) < H:  # its windows' contexts come from df's last rows; targets from it
                raise DataValidationError(
                    f"val_df has {len(val_frame)} rows, but a validation window needs horizon={H} "
                    f"target rows after df (its context comes from df's last {L_} rows); give at least "
                    f"{H} rows, or leave out val_df to hold out val_fraction of df"
                )
            train_end = n
            all_values = np.concatenate([values, val_frame.to_numpy(np.float64)])
            all_index = index.append(val_frame.index)
            borders = {"train": (0, n), "val": (max(0, n - L_), len(all_values))}
        else:
            n_val = round(self.val_fraction * n)
            train_end = n - n_val
            if n_val >= H and train_end >= L_ + H:
                borders = {"train": (0, train_end), "val": (train_end - L_, n)}
            else:
                # too few rows for any training window: that error alone, without the warning below
                check_length(n, L_ + H, f"training windows of context_length={L_} + horizon={H}")
                if self.val_fraction > 0:
                    change = "raise" if n_val < H else "lower"  # too few rows for which side
                    warnings.warn(
                        f"val_fraction={self.val_fraction} of {n} rows holds {n_val} validation rows "
                        f"and leaves {train_end} for training; validation needs >= horizon={H} rows "
                        f"and training >= context_length + horizon = {L_ + H}: training without "
                        f"validation or early stopping ({change} val_fraction, give more rows, or pass "
                        "val_df=)",
                        UserWarning,
                        stacklevel=3,  # the caller of fit, which calls _fit
                    )
                train_end = n
                borders = {"train": (0, n)}
            all_values, all_index = values, index
        check_length(train_end, L_ + H, f"training windows of context_length={L_} + horizon={H}")

        self.scaler_ = (
            StandardScaler().fit(values[:train_end], columns=list(frame.columns))
            if scale
            else StandardScaler.identity(values.shape[1])
        )
        if not scale and self.norm == "none":
            _warn_unscaled(values[:train_end], frame.columns)
        self.columns_ = [str(c) for c in frame.columns]
        self.feature_names_in_ = np.asarray(self.columns_, dtype=object)
        self.n_features_in_ = len(self.columns_)
        self.freq_ = freq
        n_time_features = time_feature_count(self.freq_) if self.time_features else 0

        wide = str((self.trainer_kwargs or {}).get("precision")) in ("64", "64-true")
        # built wide for a float64 fit: a resumed one loaded its weights through float32 otherwise
        config = self.network_config(len(self.columns_), n_time_features)
        config.check_memory()  # with the channels of the data ('mix' mode's head grows with them)
        network = _new_network(config, torch.float64 if wide else torch.float32)
        self.network_ = network
        scaled = self._scaled(all_values)
        marks = self.marks_for(all_index)
        if self.cycle_length:  # start the cycle at the training rows' per-phase means
            network.init_cycle(scaled[:train_end], marks[:train_end, -1])
        datamodule = TimeSeriesDataModule(
            scaled,
            borders,
            L_,
            H,
            batch_size=self.micro_batch_size or self.batch_size,  # windows a pass
            marks=marks,
            # the target steps' phases where they do not step by one (DST changes), as forecasts read them
            target_marks=bool(self.cycle_length)
            and not steps_by_one(marks[:, -1].long().numpy(), self.cycle_length),
            train_stride=self.train_stride,
            train_sampling=self.train_sampling,
            val_stride=self.val_stride,  # early stopping on every k-th validation window
            # the window order (and a "random" subset): unseeded, from the global generator
            seed=self.random_state if self.random_state is not None else int(torch.randint(2**31, ())),
            dtype=torch.float64 if wide else torch.float32,  # a float64 fit on the values, not on
        )  # their float32 rounding (which wiped out a 1e-3 signal on a 1e5 level with scale=False)
        if self.linear_init:  # start as the ridge map of the training windows (skip path)
            train = datamodule.dataset("train")
            step = 1024
            network.init_linear_path(
                (train.get_batch(range(i, min(i + step, len(train)))) for i in range(0, len(train), step)),
                ridge=float(self.linear_init_ridge),
                own=0.5 if self.linear_init_own is None else float(self.linear_init_own),
            )
        trainer_kwargs = self.trainer_kwargs
        if self.micro_batch_size is not None:  # a step: batch_size windows in passes of micro_batch_size
            passes = self.batch_size // self.micro_batch_size
            trainer_kwargs = {**(trainer_kwargs or {}), "accumulate_grad_batches": passes}
        trainer, restore = make_trainer(
            max_epochs=self.max_epochs,
            patience=self.patience,
            has_validation="val" in borders,
            gradient_clip_val=self.gradient_clip_val,
            progress=self.progress,
            checkpoint_dir=self.checkpoint_dir,
            trainer_kwargs=trainer_kwargs,
        )
        if trains_on_cpu(trainer):  # validation has no gradients: batches sized as forecasts' passes
            datamodule.eval_batch_size = network.windows_per_pass(L_)
        module = ForecastingModule(
            network,
            loss=self.loss,
            frequency_loss=self.frequency_loss,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            warmup_fraction=self.warmup_fraction,
            min_lr_ratio=self.min_lr_ratio,
            channel_skip_lr_ratio=1.0 if self.channel_skip_lr_ratio is None else self.channel_skip_lr_ratio,
            freeze_linear_path=self.freeze_linear_path,
            ema_decay=self.ema_decay or None,  # 0 or None: off
            step_windows=None if self.micro_batch_size is None
            else (self.batch_size, datamodule.train_windows_per_epoch),
            identity=_fit_identity(network.config, self.columns_, _data_digest(scaled, all_index, borders),
                                   str(scaled.dtype).removeprefix("torch."),
                                   self._run_settings(trainer, datamodule.eval_batch_size),
                                   self._schedule_settings(trainer), _validation_settings(trainer)),
            keep_val_forecasts=keep_val_forecasts,
        )
        last = None if self.checkpoint_dir is None else Path(self.checkpoint_dir).expanduser() / "last.ckpt"
        # one fit at a time in a checkpoint_dir: two had replaced each other's last.ckpt every epoch
        with contextlib.nullcontext() if last is None else held_alone(last):
            ckpt_path = None
            if last is not None and not resume and last.exists():  # replaced at the first epoch's end, unsaid
                warnings.warn(
                    f"{last} holds an earlier fit's checkpoint, which this fit replaces after its first "
                    "epoch; pass resume=True to continue that fit instead (or another checkpoint_dir "
                    "to keep both)",
                    UserWarning,
                    stacklevel=3,
                )
            if resume and last.exists():
                _check_resumable(last, module)
                ckpt_path = str(last)
                if trainer.max_steps not in (None, -1):
                    warnings.warn(  # Lightning resumes a step-limited run as one restarted mid-epoch
                        f"resuming with max_steps={trainer.max_steps} does not continue as the run would "
                        "have: Lightning's restart of a step-limited fit gives each later epoch the "
                        "next one's window order, and where max_epochs ends the run it trains one epoch "
                        "fewer; to resume exactly, limit the run by max_epochs alone",
                        UserWarning,
                        stacklevel=3,
                    )
            t0 = time.perf_counter()
            with trainer_errors(self.trainer_kwargs):
                if self.linear_init and restore is not None and ckpt_path is None:
                    # the linear start is a model too: it competes for the best validation loss
                    # (its forecasts read no hidden state: the Mamba path is skipped, same losses)
                    with network.linear_path_only():
                        trainer.validate(module, datamodule=datamodule, verbose=False)
                trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
            elapsed = time.perf_counter() - t0
        release_freed_memory()  # the training's peak, kept in the heap (keep_large_allocations)
        if restore is None or restore.best_state is None:  # else the best (averaged) weights are in
            module.end_on_ema()

        # float32 after any mixed or narrow precision ("bf16-true" left bf16 weights a stream
        # cannot read out), float64 after "64-true"
        self.network_ = module.network.to("cpu", torch.float64 if wide else torch.float32).eval()
        self.index_ = all_index  # the series forecast from: df, and val_df after it
        self.values_ = all_values
        if keep_val_forecasts:
            kept = None if restore is None or restore.best_state is None else restore.best_forecasts
            if trainer.world_size > 1:  # each process validated a share of the windows
                kept = None
            self.val_origins_ = self.val_forecasts_ = None
            if kept is not None:
                restore.best_forecasts = None  # each piece is let go of once converted
                n = sum(len(piece) for piece in kept)
                val = datamodule.dataset("val")  # window i: context rows from start + i * stride
                # in order, the first n of them (fewer with limit_val_batches)
                self.val_origins_ = val.start + np.arange(n) * val.stride + L_ - 1  # (n,)
                self.val_forecasts_ = np.empty((n, *kept[0].shape[1:]))  # (n, H, C)
                first = 0
                while kept:
                    piece = kept.pop(0)  # (b, H, C)
                    into = self.val_forecasts_[first : first + len(piece)]  # a view
                    for rows, unscaled in self._unscaled(piece):
                        into[rows] = unscaled
                    first += len(piece)
        epochs_run = trainer.current_epoch
        self.history_ = {
            "epochs": int(epochs_run),
            "best_epoch": None if restore is None else restore.best_epoch,
            "best_step": None if restore is None else restore.best_step,
            "best_val_loss": None if restore is None else restore.best_score,
            # every validation: {"epoch" (-1: the start, with linear_init), "step", "loss"}
            "val_losses": [] if restore is None else list(restore.val_losses),
            "train_seconds": elapsed,  # of this call (a resumed fit: since the resume)
            # None when no step ran (a resume of a finished fit), not the load time over its epochs
            "seconds_per_epoch": elapsed / max(1, epochs_run - module.first_epoch)
            if module.first_step is not None and trainer.global_step > module.first_step else None,
            "n_parameters": count_parameters(self.network_),
            "train_windows": len(datamodule.dataset("train")),
            "windows_per_epoch": datamodule.train_windows_per_epoch,
            # scored by each validation (0: none ran)
            "val_windows": validated_windows(restore, trainer, len(datamodule.dataset("val")),
                                             datamodule.eval_batch_size) if "val" in borders else 0,
        }

    # ---- forecasting -----------------------------------------------------------------------
    def check_context(self, context: str) -> None:
        """Raise ConfigError unless this forecaster can forecast with ``context`` (fitted or not)."""
        if context not in CONTEXTS:
            raise ConfigError(f"context must be one of {CONTEXTS}, got {context!r}")
        check_context_norm(context, self.network_.config.norm if hasattr(self, "network_") else self.norm)

    @_one_fit
    @torch.no_grad()
    def predict(
        self, df: Any = None, *, context: str = "window", time_col: str | None = None
    ) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the end of ``df`` (default: the series ``fit``
        was given, ending with its ``val_df`` when there was one).

        ``context="window"``: from the last ``context_length`` rows (zero initial state), as in
        training. ``context="full"``: the whole of ``df`` through the recurrent state.
        Returns a DataFrame indexed by the future timestamps, one column per fitted channel, in
        the original units.
        """
        self.check_fitted()
        self.check_context(context)
        if df is None:
            values, index = self.values_, self.index_
        else:
            frame = self._frame_for_prediction(df, time_col)
            values, index = frame.to_numpy(np.float64), frame.index
        if context == "window" and len(values) < self.context_length:  # not worded for origins
            raise DataValidationError(
                f"predict reads the last {self.context_length} rows (the model's context_length), and "
                f"the data has {len(values)}; give at least {self.context_length} rows, or use "
                "context='full'"
            )
        forecast = self._forecast_values(values, index, [len(values) - 1], context)[0]
        future = future_index(index, self.horizon, self.freq_)
        return pd.DataFrame(forecast, index=future, columns=self.columns_)

    @_one_fit
    @torch.no_grad()
    def forecast_origins(
        self,
        data: Any,
        origins: Sequence[int],
        *,
        context: str = "window",
        batch_size: int | None = None,
        index: pd.DatetimeIndex | None = None,
        time_col: str | None = None,
    ) -> np.ndarray:
        """Forecasts after each origin (the positional index of the last observed row; of the
        pivoted series, for long-form data).

        ``data``: a frame or CSV path (validated like ``predict``'s, its time column found as
        predict finds it or named by ``time_col``; ``index`` is not used) or an array (T, C) in
        original units with ``index`` for time features. ``"window"`` batches
        the windows ending at the origins; ``"full"`` makes one recurrent pass over the rows and
        reads the forecast at each origin.
        ``batch_size``: windows per forward pass (None: the network's choice, the fastest
        measured that keeps a pass within about 1 GB). Returns (n_origins, H, C) in original units.
        """
        self.check_fitted()
        self.check_context(context)
        if isinstance(data, (pd.DataFrame, str, os.PathLike)):  # a path was read as an array of one
            frame = self._frame_for_prediction(data, time_col, caller="forecast_origins")
            values, index = frame.to_numpy(np.float64), frame.index
        else:
            values = np.asarray(data, dtype=np.float64)
            C = len(self.columns_)
            if values.ndim != 2 or values.shape[1] != C:
                raise DataValidationError(f"values must be (rows, {C} channels), got shape {values.shape}")
            if index is not None:  # checked as predict checks a frame: zone, frequency, order, NaN
                if len(index) != len(values):
                    raise DataValidationError(
                        f"index has {len(index)} timestamps for {len(values)} rows; pass one per row"
                    )
                frame = pd.DataFrame(values, index=pd.DatetimeIndex(index), columns=self.columns_)
                frame = self._frame_for_prediction(frame, caller="forecast_origins")
                values, index = frame.to_numpy(np.float64), frame.index
            elif not np.isfinite(values).all():
                row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
                raise DataValidationError(f"values hold NaN or inf (first at row {row}); impute them first")
        with memory_errors("forecast_origins", self._smaller_forecast(batch_size)):
            return self._forecast_values(values, index, origins, context, batch_size)

    def _smaller_forecast(self, batch_size: int | None) -> str:
        """What to lower when batched forecasts run out of memory: the windows per pass, then the
        forecasts held at once (n_origins x horizon x channels)."""
        given = "" if batch_size is None else "pass a smaller batch_size (None keeps a pass near 1 GB), or "
        return f"{given}forecast fewer origins (windows) at a time"

    def _forecast_values(
        self,
        values: np.ndarray,
        index: pd.DatetimeIndex | None,
        origins: Sequence[int],
        context: str,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """forecast_origins on checked values (T, C) in original units -> (n_origins, H, C)."""
        given = np.asarray(origins)
        integers = given.dtype != bool and np.issubdtype(given.dtype, np.integer)
        if given.ndim != 1 or (given.size and not integers):
            raise DataValidationError(
                f"origins must be a list of row positions (integers), got {origins!r:.80}"
            )
        origins = given.astype(np.int64)
        T, L_ = len(values), self.context_length
        if origins.size and (origins.min() < 0 or origins.max() >= T):
            raise DataValidationError(
                f"origins must be row positions in [0, {T}), got {origins.min()}..{origins.max()}"
            )
        if not origins.size:  # (a series shorter than context_length had failed in unfold)
            return np.zeros((0, self.horizon, len(self.columns_)))
        if context == "window" and origins.min() < L_ - 1:
            raise DataValidationError(
                f"window forecasts need context_length={L_} rows up to each origin; origin row "
                f"{origins.min()} has only {origins.min() + 1}. Give more rows (or start later), or use "
                "context='full'"
            )
        x = self._scaled(values)  # (T, C)
        # the result is filled piece by piece in original units: no list of parts, no concatenated
        # copy, no float64 copy of all of it (40,000 origins x 96 x 21: a 2.5 GB peak for 0.6 GB)
        out = np.empty((len(origins), self.horizon, x.shape[1]))  # (n, H, C)
        pieces = self.network_.forecast_at(x, torch.as_tensor(origins), self.marks_for(index),
                                           self.phase_track(index), full_history=context == "full",
                                           batch_size=batch_size)
        for rows, piece in pieces:  # positions (b,), forecasts (b, H, C) scaled
            for part, unscaled in self._unscaled(piece):
                out[rows[part].numpy()] = unscaled
        if not np.isfinite(out).all():  # had come back as -inf, silently (predict) or blamed on training
            self._explain_overflow(out, x, origins)
        return out

    def _unscaled(self, forecasts: torch.Tensor) -> Iterator[tuple[slice, np.ndarray]]:
        """Scaled forecasts (n, H, C) -> (rows, those rows in original units, float64), UNSCALE_ROWS
        rows at a time (float64 temporaries of all of them had doubled a large forecast's peak)."""
        for i in range(0, len(forecasts), UNSCALE_ROWS):
            rows = slice(i, i + UNSCALE_ROWS)
            yield rows, self.scaler_.inverse_transform(forecasts[rows].double().numpy())

    def _explain_overflow(self, out: np.ndarray, x: torch.Tensor, origins: np.ndarray) -> None:
        """Raise for forecasts (n, H, C) that are not finite: weights that are not (a diverged fit),
        else inputs x (T, C, scaled) too large for the network's float type to carry through."""
        bad = ~np.isfinite(out).all(axis=(1, 2))
        first = int(origins[np.argmax(bad)])
        where = f"{int(bad.sum())} of {len(out)} forecasts (the first after row {first})"
        if not all(torch.isfinite(p).all() for p in self.network_.parameters()):
            raise TrainingError(f"{where} are not finite: the network's weights are not (a diverged fit: "
                                "refit with a lower learning_rate)")
        peak = x.abs().amax(dim=0).double().numpy()  # (C,)
        largest = [c for c, v in zip(self.columns_, peak, strict=True) if v >= peak.max() / 1e3]
        raise DataValidationError(
            f"{where} are not finite: the network's {str(self._dtype()).replace('torch.', '')} could not "
            f"carry the inputs through, whose largest values once scaled are {peak.max():.3g} standard "
            f"deviations of the training rows, in {largest}; "
            "check them (a unit mix-up or a sentinel value?)"
        )

    @_one_fit
    @torch.no_grad()
    def forecast_scaled_windows(
        self, contexts: Any, marks: Any = None, batch_size: int | None = None,
        future_phases: Any = None,
    ) -> np.ndarray:
        """Windows already in the scaler's units: contexts (N, L, C) -> forecasts (N, H, C), same
        units; ``batch_size`` windows per forward pass (None: the network's choice, the fastest
        measured that keeps a pass within about 1 GB). ``future_phases`` (N, H): the cycle phases
        of the forecast steps where they do not step by one (see :meth:`phase_track`)."""
        self.check_fitted()
        arrays = [np.asarray(contexts)] + [np.asarray(a) for a in (marks, future_phases) if a is not None]
        if any(a.dtype.kind not in "iuf" for a in arrays):  # text, None, a dict: torch's own error
            raise DataValidationError("contexts (and marks, future_phases) must be arrays of numbers")
        x = torch.as_tensor(arrays[0], dtype=self._dtype())  # float32 windows are not copied to float64
        m = None if marks is None else torch.as_tensor(arrays[1], dtype=self._dtype())
        ahead = None if future_phases is None else torch.as_tensor(arrays[-1])
        C, L_ = self.n_features_in_, self.context_length
        if x.ndim != 3 or x.shape[2] != C or (m is not None and (m.ndim != 3 or m.shape[:2] != x.shape[:2])):
            raise DataValidationError(  # a 1-D array had raised an IndexError
                f"contexts must be (N, L, {C}) windows and marks (N, L, marks), got {tuple(x.shape)}"
                + ("" if m is None else f" and {tuple(m.shape)}")
            )
        if ahead is not None and tuple(ahead.shape) != (len(x), self.horizon):
            raise DataValidationError(f"future_phases must be (N, horizon) = ({len(x)}, {self.horizon}), "
                                      f"got {tuple(ahead.shape)}")
        if x.shape[1] != L_:  # the network reads any length: another window forecast otherwise
            raise DataValidationError(
                f"contexts must be windows of context_length={L_} rows, as the model was trained on, "
                f"got {x.shape[1]}; for longer histories use forecast_origins(..., context='full')"
            )
        out = np.empty((len(x), self.horizon, C))  # (N, H, C)
        with memory_errors("forecast_scaled_windows", self._smaller_forecast(batch_size)):
            for i, piece in self.network_.forecast_windows(x, m, ahead, batch_size=batch_size):
                out[i : i + len(piece)] = piece.double().numpy()
        return out

    @_one_fit
    def stream(self, history: Any = None, **kwargs: Any) -> Stream:
        """An online forecaster that advances the recurrent state one observation at a time."""
        from tsmamba.streaming import Stream

        return Stream(self, history=history, **kwargs)

    # ---- persistence -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, extra: Mapping[str, Any] | None = None) -> Path:
        """Write the fitted model to a directory (tensors + JSON), atomically.

        ``extra``: a JSON mapping of the caller's own (string keys, lists not tuples), kept in the
        save's ``meta.json`` under ``"extra"`` (``tsmamba.checkpoint.read_meta(path)["extra"]``) and
        ignored by :meth:`load`; ``tsmamba fit`` records there how it read the training CSV."""
        self = _snapshot(self)  # one fit throughout; not a wrapper, whose frame would shift warnings
        self.check_fitted()
        extra = None if extra is None else extra_meta(extra)
        params, dropped = {}, []
        for key, value in self.get_params().items():
            try:  # as JSON, numpy scalars as Python numbers (a grid gives them), paths as text
                params[key] = _as_json(os.fspath(value) if isinstance(value, os.PathLike) else value,
                                       allow_nan=True)  # e.g. gradient_clip_val=inf
            except (TypeError, ValueError):
                dropped.append(key)
        if dropped:
            warnings.warn(
                f"save() keeps JSON parameters only; {dropped} are not saved and load as their "
                "defaults (set them again after load() if you refit)",
                UserWarning,
                stacklevel=2,
            )
        try:
            zone = zone_name(self.index_)
        except ValueError as exc:
            raise CheckpointError(
                f"cannot save the fitted series' time zone: {exc}; fit on data in a named zone "
                "(e.g. df.tz_convert('Europe/Paris')) to save the model"
            ) from None
        meta = {
            "format": FORMAT,
            "tsmamba_version": __version__,
            "params": params,
            "network_config": self.network_.config.to_dict(),
            "columns": self.columns_,
            "freq": self.freq_,
            "scaler": self.scaler_.to_dict(),
            "history": self.history_,
            "tz": zone,
            "index_name": self.index_.name,
            "index_unit": self.index_.unit,
        }
        if extra is not None:
            meta["extra"] = extra
        tensors = {
            "weights": self.network_.state_dict(),
            "series": {
                "values": torch.tensor(np.asarray(self.values_, dtype=np.float64)),
                "index_ns": torch.tensor(self.index_.as_unit("ns").asi8),
            },
        }
        return write_checkpoint(path, meta, tensors)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TSMambaForecaster:
        """Load a model written by :meth:`save` (tensors through ``torch.load(weights_only=True)``)."""
        meta, tensors = read_checkpoint(path, FORMAT)
        needed = {"params", "network_config", "columns", "freq", "scaler"}
        missing = sorted(needed - set(meta)) + [f"{f}.pt" for f in ("weights", "series") if f not in tensors]
        newer = _newer_save(meta)  # what a save this version cannot read needs instead
        if missing:
            raise CheckpointError(f"{path}: the save lacks {missing}; {newer or 'save the model again'}")
        try:
            est = cls(**meta["params"])
            config = ForecasterConfig(**meta["network_config"])
            scaler = StandardScaler.from_dict(meta["scaler"])
            values, index_ns = tensors["series"]["values"], tensors["series"]["index_ns"]
            columns = meta["columns"]
            if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
                raise TypeError(f"columns must be a list of names, got {columns!r}")
            sizes = {"columns": len(columns), "network channels": config.n_channels,
                     "scaler channels": len(scaler.mean_), "series channels": values.shape[-1]}
        except (TypeError, KeyError, ValueError, IndexError, AttributeError, ConfigError) as exc:
            raise CheckpointError(
                f"{path}: saved configuration is not valid here ({type(exc).__name__}: {exc}); "
                f"{newer or 'save the model again with this version'}"
            ) from None
        if len(set(sizes.values())) != 1 or values.ndim != 2 or len(values) != len(index_ns):
            raise CheckpointError(
                f"{path}: the saved parts disagree ({sizes}, {len(values)} rows for "
                f"{len(index_ns)} timestamps); save the model again"
            )
        weights = tensors["weights"]
        wide = isinstance(weights, dict) and any(torch.is_tensor(w) and w.dtype == torch.float64
                                                 for w in weights.values())
        # float64 stays so (a "64-true" fit); bf16 and other narrow saves load as float32, as before
        network = _new_network(config, torch.float64 if wide else torch.float32, initialise=False)
        network.load_state_dict(_checked_weights(network.state_dict(), weights, path))
        est.network_ = network.eval()
        est.columns_ = list(columns)
        est.feature_names_in_ = np.asarray(est.columns_, dtype=object)
        est.n_features_in_ = len(est.columns_)
        est.freq_ = meta["freq"]
        est.scaler_ = scaler
        est.history_ = meta.get("history", {})
        est.values_ = values.numpy()
        index = pd.to_datetime(index_ns.numpy(), unit="ns")
        if meta.get("tz"):
            try:
                index = index.tz_localize("UTC").tz_convert(meta["tz"])
            except (KeyError, TypeError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
                raise CheckpointError(
                    f"{path}: the saved time zone {meta['tz']!r} does not load ({exc!r}); "
                    "refit and save the model again"
                ) from None
        try:
            index = index.as_unit(meta.get("index_unit", "ns"))
            est.index_ = pd.DatetimeIndex(index, freq=est.freq_ or None, name=meta.get("index_name"))
        except (TypeError, ValueError) as exc:
            raise CheckpointError(
                f"{path}: the saved time index does not load with its frequency {meta['freq']!r} and "
                f"unit {meta.get('index_unit')!r} ({exc}); refit and save the model again"
            ) from None
        try:
            shaped = _take_network_settings(est, config)
        except (ConfigError, TypeError, ValueError, AttributeError, KeyError) as exc:  # "freq": null
            raise CheckpointError(
                f"{path}: the saved parameters are not valid ({type(exc).__name__}: {exc}); "
                f"{newer or 'save the model again'}"
            ) from None
        if shaped:  # saved after set_params: the weights have the network's shape, so it wins
            warnings.warn(
                f"{path}: the saved parameters disagree with the saved network ({shaped} in the "
                "network); loaded with the network's",
                UserWarning,
                stacklevel=2,
            )
            est.set_params(**shaped)
        return est

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "network_")


_NOT_IN_FORECASTS = ("chunk_size", "dropout")  # network settings that may change after a fit
_SHAPING = (  # estimator parameters that are network settings of the same name
    "horizon", "context_length", "d_model", "n_layers", "d_state", "expand", "headdim", "d_conv",
    "channel_mode", "norm", "norm_span", "head_window", "head_dim", "cycle_length", "input_skip",
    "cross_channel_skip", "channel_skip", "embed_window",
)


def _take_network_settings(est: TSMambaForecaster, config: ForecasterConfig) -> dict[str, Any]:
    """Set ``est``'s parameters that disagree with its loaded network to the network's, and
    return them: first all but ``head_window`` and ``norm_span`` (whose None follows
    ``context_length``), then those if they still differ. ConfigError if they stay invalid."""
    before, shaped = est.get_params(), {}
    for names in (set(_SHAPING) - {"head_window", "norm_span"}, set(_SHAPING)):
        try:
            changed = est._changed_since_fit()
        except ConfigError:  # not valid as saved: take every network setting from the network
            every = (*_SHAPING, *_NOT_IN_FORECASTS, "n_time_features")
            changed = {name: (getattr(config, name), None) for name in every}
            names = {*names, *_NOT_IN_FORECASTS}
        update = {name: was for name, (was, _) in changed.items() if name in names}
        if "n_time_features" in changed:
            update["time_features"] = changed["n_time_features"][0] > 0
        est.set_params(**update)
        shaped.update(update)
    est.check_fitted()
    return {name: value for name, value in shaped.items() if before[name] != value}


def _new_network(
    config: ForecasterConfig, dtype: torch.dtype = torch.float32, *, initialise: bool = True
) -> MambaForecaster:
    """A network in ``dtype`` whatever torch's default dtype: a float64 default built a float64
    network that the float32 training windows could not feed, and loaded float32 weights into it.

    ``initialise=False`` (a load, whose weights replace every parameter) builds it on the meta
    device and only then allocates it: no draw from the global generators and no change of the
    default dtype, so a load needs no lock and waits for no fit running in another thread."""
    if not initialise:
        with torch.device("meta"):
            network = MambaForecaster(config)
        return network.to_empty(device="cpu").to(dtype)
    with PROCESS_STATE_LOCK:  # the default dtype is process-wide
        default = torch.get_default_dtype()
        torch.set_default_dtype(torch.float32)
        try:
            network = MambaForecaster(config)
        finally:
            torch.set_default_dtype(default)
    return network.to(dtype)


UNSCALED_RMS = 1e3
"""With ``scale=False`` and ``norm="none"`` the network sees the values as given: a training
column whose root mean square exceeds this is warned about (its weights start near unit scale)."""


def _warn_unscaled(train: np.ndarray, columns: Sequence[Any]) -> None:
    """A UserWarning naming the training columns (n, C) far from unit scale (``UNSCALED_RMS``)."""
    rms = np.sqrt(np.mean(np.square(train), axis=0))
    large = [(str(c), r) for c, r in zip(columns, rms, strict=True) if r > UNSCALED_RMS]
    if large:
        named = ", ".join(f"{c!r} ({r:.3g})" for c, r in large[:5]) + (" ..." if len(large) > 5 else "")
        warnings.warn(
            f"fit(scale=False) with norm='none' trains on the values as given, and the root mean "
            f"square of {named} exceeds {UNSCALED_RMS:g}: the network, which starts near unit scale, "
            "will forecast them poorly; pass scale=True, norm='causal', or scale the data first",
            UserWarning,
            stacklevel=4,  # the caller of fit (fit -> _fit -> here)
        )


def _as_json(value: Any, allow_nan: bool = False) -> Any:
    """``value`` through JSON, numpy scalars as Python numbers; TypeError if it is no JSON value
    (ValueError for inf or NaN, unless ``allow_nan``)."""
    return json.loads(json.dumps(value, default=json_plain, allow_nan=allow_nan))


def _newer_save(meta: Mapping[str, Any]) -> str | None:
    """The advice for a save written by a newer tsmamba than this one (None otherwise): its
    settings may be ones this version does not know, so saving again here cannot help."""
    saved = meta.get("tsmamba_version")

    def release(text: Any) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", str(text).split("+")[0])[:3])

    if not isinstance(saved, str) or release(saved) <= release(__version__):
        return None
    return f"it was saved by tsmamba {saved}, and this is {__version__}: upgrade tsmamba to load it"


def _checked_weights(expected: dict, weights: Any, path: Any, fix: str = "save the model again") -> dict:
    """``weights`` if it has exactly the names and shapes of the state dict ``expected``;
    otherwise a CheckpointError naming the differences and ``fix``."""
    if not isinstance(weights, dict):
        raise CheckpointError(f"{path}: holds no weights; {fix}")
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    shapes = [
        f"{k}: saved {tuple(weights[k].shape)} vs config {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and getattr(weights[k], "shape", None) != v.shape
    ]
    if missing or unexpected or shapes:
        raise CheckpointError(
            f"{path}: weights do not match the configuration (missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}, shape differences {shapes[:5]}); {fix}"
        )
    return weights


def _check_resumable(last: Path, module: ForecastingModule) -> None:
    """Raise CheckpointError unless ``last`` (a Lightning checkpoint) is of this fit: the same
    network configuration and channels (``module.identity``), the same run settings, and weights
    of the same shapes. Warn when the settings of its learning-rate schedule changed."""
    fix = "delete it to start afresh, or use another checkpoint_dir"
    try:
        checkpoint = torch.load(last, weights_only=True, map_location="cpu")
    except OSError as exc:
        raise CheckpointError(f"{last} cannot be read to resume from ({exc.strerror}); {fix}") from None
    except Exception as exc:  # torch raises several types for unreadable files; its advice to load
        # with weights_only=False (which runs the file's code) is not passed on
        with open(last, "rb") as fh:
            raise CheckpointError(unloadable(last, fh.read(2), exc, fix)) from exc
    saved = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{last} holds no Lightning checkpoint's weights to resume from; {fix}")
    identity, own = checkpoint.get("identity"), module.identity
    rescheduled = validated = None  # the schedule's (validation's) settings that changed, as named
    if identity is not None and own is not None:
        try:
            if _as_json(identity) != identity or not isinstance(identity.get("network"), dict):
                raise TypeError("not a record of plain values")
            recorded, now = _flat(identity), _flat(own)
            if any(k.startswith("training.") for k in recorded):  # val_stride came on 2026-12-06:
                recorded.setdefault("training.val_stride", 1)  # the fits before it validated every window
                recorded.setdefault("training.freeze_linear_path", False)  # came later that day: trained all
            differ = sorted((k for k in {*recorded, *now} if recorded.get(k) != now.get(k)), key=str)
        except Exception as exc:  # not a record this code wrote (a list, tensors inside, ...)
            raise CheckpointError(f"{last} holds a damaged record of its fit; {fix}") from exc
        earlier = {"network.chunk_size"} | ({"data", "dtype"} - set(recorded))  # as earlier versions record
        # settings recorded from some day on (training from 2026-12-04, schedule and validation
        # later): an earlier checkpoint cannot tell them
        earlier |= {k for k in now if k.startswith(("training.", "schedule.", "validation."))
                    and k not in recorded}
        differ = [k for k in differ if k not in earlier]
        moved = [k for k in differ if k.startswith("schedule.")]
        revalidated = [k for k in differ if k.startswith("validation.")]
        differ = [k for k in differ if k not in moved and k not in revalidated]
        if "dtype" in differ:  # the data's digest is of the values in that type: it differs too
            raise CheckpointError(
                f"{last} is the checkpoint of a fit in {recorded['dtype']}, and this fit runs in "
                f"{now['dtype']} (trainer_kwargs precision); resume with the precision it was "
                f"fitted with, or {fix}"
            )
        if differ == ["data"]:
            raise CheckpointError(
                f"{last} is the checkpoint of a fit on other data (other values, timestamps, scaling "
                f"or validation rows); {fix}"
            )
        settings = [k for k in differ if k.startswith("training.")]
        if settings and settings == differ:
            raise CheckpointError(
                f"{last} was fitted with {_changes(settings, recorded, now)}; a resume continues that run "
                "(the same windows in the same optimizer steps each epoch, and validation losses "
                "comparable with its best one), so give the values it was fitted with, or fit without "
                "resume=True to start over with the new ones (it replaces last.ckpt), or use another "
                "checkpoint_dir"
            )
        if differ:
            raise CheckpointError(f"{last} is another fit's checkpoint (its {differ} differ); {fix}")
        rescheduled = _changes(moved, recorded, now) if moved else None
        validated = _changes(revalidated, recorded, now) if revalidated else None
    order = checkpoint.get(TimeSeriesDataModule.__qualname__)  # the window order's seed (from 2026-12-05)
    if order is not None:
        try:
            check_seed(order["seed"])
        except (ConfigError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{last} holds a damaged window order ({exc}); {fix}") from exc
    _checked_resumed_optimizer(checkpoint, module, last, fix)
    _checked_weights(module.state_dict(), saved, last, fix)
    if rescheduled:  # Lightning restores the schedule's step, and its rate comes from this fit's layout
        warnings.warn(
            f"{last} was fitted with {rescheduled}: the learning-rate schedule (a warm-up, then a "
            "cosine decay over the run's steps) is laid out anew from the new values, and the resume "
            "goes on along the new layout from the checkpoint's step; where they change its length "
            "(max_steps does where it ends the run before max_epochs would) or its shape, the learning "
            f"rate jumps there, and {_NOT_EXACT}",
            UserWarning,
            stacklevel=4,  # the caller of fit (fit, _fit, here)
        )
    if validated:  # the weights the fit ends on are the best of all its validations, old and new
        warnings.warn(
            f"{last} was fitted with {validated}: from the checkpoint on, validation runs at the new "
            "points; the fit ends on the best weights of the old validations and the new ones, and "
            "early stopping counts the validations without improvement across both (patience is a "
            "number of validations, so it spans other epochs now); each validation also draws a seed "
            "from torch's generator, which dropout draws from, so with dropout other weights train "
            f"too, and {_NOT_EXACT}",
            UserWarning,
            stacklevel=4,
        )


_NOT_EXACT = ("the run is neither the interrupted one nor one fitted with the new values from the start. "
              "To continue that run exactly, resume with the values it was fitted with (or fit without "
              "resume=True to start over with the new ones)")


def _changes(keys: Sequence[str], recorded: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """``batch_size 16 (now 8), ...`` for the flat record keys ``keys`` (``training.batch_size``)."""
    return ", ".join(f"{k.split('.', 1)[-1]} {recorded.get(k)!r} (now {now.get(k)!r})" for k in keys)


def _checked_resumed_optimizer(checkpoint: dict, module: ForecastingModule, last: Path, fix: str) -> None:
    """CheckpointError when learning_rate, weight_decay or channel_skip_lr_ratio differ from the
    checkpoint's: Lightning restores its optimizer and schedule, whose values would silently win
    over the new ones."""
    try:
        groups = checkpoint["optimizer_states"][0]["param_groups"]
        saved = {"learning_rate": float(groups[0].get("initial_lr", groups[0]["lr"])),
                 "weight_decay": float(groups[0]["weight_decay"])}  # the first group is decayed
        sizes = [len(g["params"]) for g in groups]
    except (KeyError, IndexError, TypeError, ValueError):  # no optimizer state: nothing restored
        return
    layout = module.network.param_groups(module.weight_decay)  # channel_skip's own groups last, if it trains
    trained = [len(g["params"]) for g in layout]
    held = [len(g["params"]) for g in layout if g.get("name") != "channel_skip"]  # at channel_skip_lr_ratio 0
    now = {"learning_rate": float(module.learning_rate), "weight_decay": float(module.weight_decay)}
    if held != trained and sizes == held:  # ratio 0 leaves them out (from 2026-12-07; before: at lr 0)
        saved["channel_skip_lr_ratio"] = 0.0
        now["channel_skip_lr_ratio"] = float(module.channel_skip_lr_ratio)
    elif sizes != trained:  # channel_skip's own groups came on 2026-12-04: earlier checkpoints lack them
        expected = held if module.channel_skip_lr_ratio == 0 else trained
        what = (f"{len(groups)} parameter groups, and this network trains with {len(expected)}"
                if len(groups) != len(expected)
                else f"parameter groups of {sizes} parameters, and this network trains groups of {expected}")
        raise CheckpointError(
            f"{last} holds an optimizer with {what} (a checkpoint of an earlier tsmamba); it cannot be "
            f"resumed, so {fix}"
        )
    own = [g for g in groups if isinstance(g, dict) and g.get("name") == "channel_skip"]
    if own and saved["learning_rate"] > 0:  # the per-channel map's share of it
        own_lr = float(own[0].get("initial_lr", own[0]["lr"]))
        saved["channel_skip_lr_ratio"] = own_lr / saved["learning_rate"]
        now["channel_skip_lr_ratio"] = float(module.channel_skip_lr_ratio)
    differ = [f"{k} {saved[k]:g} (now {now[k]:g})" for k in now if not math.isclose(saved[k], now[k])]
    if differ:
        raise CheckpointError(
            f"{last} trained with {', '.join(differ)}; a resume goes on with the checkpoint's "
            f"optimizer, so give the values it was fitted with, or {fix}"
        )


def _fit_identity(config: ForecasterConfig, columns: list[str], data: str, dtype: str,
                  training: dict[str, Any], schedule: dict[str, Any],
                  validation: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: the network configuration (less the speed-only
    ``chunk_size``), the channels, the data's digest, the float type it trains in and the
    ``training`` settings that decide the windows drawn, the steps and the loss; and the
    ``schedule`` and ``validation`` settings, which may change with a warning. As plain JSON
    values (numpy scalars in the parameters would not load with ``weights_only=True``)."""
    network = {k: v for k, v in config.to_dict().items() if k != "chunk_size"}
    return _as_json({"network": network, "columns": columns, "data": data, "dtype": dtype,
                     "training": training, "schedule": schedule, "validation": validation})


def _accumulation(trainer: lightning.Trainer, given: Any) -> Any:
    """The batches a step accumulates, as a resume compares them: ``given`` (trainer_kwargs'
    accumulate_grad_batches), or where a GradientAccumulationScheduler among the trainer's
    callbacks sets them at each epoch's start (the last one's word is final), its schedule:
    {"first epoch": batches} at each change, one number when they never change."""
    scheduler = accumulation_scheduler(trainer.callbacks)
    if scheduler is None:
        return given
    scheduling = scheduler.scheduling  # Lightning adds {0: 1} where the user's starts later
    changes: dict[str, int] = {}
    factor = None
    for epoch in sorted(scheduling):
        if scheduling[epoch] != factor:
            factor = changes[str(epoch)] = scheduling[epoch]
    return changes["0"] if len(changes) == 1 else changes


def _validation_settings(trainer: lightning.Trainer) -> dict[str, Any]:
    """When validation runs (trainer_kwargs' val_check_interval, None: once an epoch, and
    check_val_every_n_epoch), none without validation: a resume may change them, with a warning,
    as they decide which weights the fit ends on and when it stops early, not the steps."""
    if trainer.limit_val_batches == 0:
        return {}
    seconds = getattr(trainer, "_val_check_time_interval", None)  # a time-based one, as Lightning reads it
    interval = f"{seconds:g} s" if seconds is not None else _batch_limit(trainer.val_check_interval)
    return {"val_check_interval": interval, "check_val_every_n_epoch": trainer.check_val_every_n_epoch}


def _batch_limit(limit: Any) -> Any:
    """A trainer's ``limit_*_batches`` (or ``val_check_interval``) as a resume compares it: None
    for all the batches (the float 1.0, which Lightning tells from the int 1, one batch, by its
    type alone, where a comparison of the recorded values saw them equal)."""
    return None if limit == 1 and not isinstance(limit, int) else limit


def _data_digest(scaled: np.ndarray, index: pd.DatetimeIndex, borders: dict[str, tuple[int, int]]) -> str:
    """sha256 of what a fit trains on: the scaled values, their timestamps and the split borders
    (a resume on other data with the same channels took the other fit's weights)."""
    parts = (np.ascontiguousarray(scaled, dtype=np.float64).tobytes(), index.asi8.tobytes(),
             repr((str(index.tz), sorted(borders.items()))).encode())
    return sha256_bytes(b"".join(parts))


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """{"network": {"d_model": 8}, "columns": [...]} -> {"network.d_model": 8, "columns": [...]}."""
    if not isinstance(record, dict):
        raise TypeError(f"a fit's record is a dict, got {type(record).__name__}")
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def _fitted_state(est: BaseEstimator) -> dict[str, Any]:
    """The fitted attributes (names ending in ``_``) of an estimator."""
    return {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")}


def _as_val_df(message: str, val_df: Any) -> str:
    """A read error of ``val_df`` named so: read_series calls a frame "frame", as it called df's
    (a NaN at "frame: ... (row 5)" was in either), and the channels of df that it reads val_df
    for "requested columns". A file is named by its name already."""
    message = message.replace("requested columns not found: ", "df's channels not found: ", 1)
    if isinstance(val_df, (str, os.PathLike)):
        return message
    return f"val_df: {message.removeprefix('frame: ')}"


def _check_continues(index: pd.DatetimeIndex, val_index: pd.DatetimeIndex, freq: str | None) -> None:
    """Raise DataValidationError unless ``val_index`` starts one step after ``index`` at ``freq``."""
    if not freq:
        return
    val_freq = index_freq(val_index)
    if not same_freq(val_freq, freq):
        raise DataValidationError(
            f"val_df has rows every {val_freq!r} but df every {freq!r}; give both the same frequency"
        )
    if (index.tz is None) != (val_index.tz is None):
        zones = f"df's are in {index.tz or 'no time zone'}, val_df's in {val_index.tz or 'no time zone'}"
        raise DataValidationError(f"val_df must continue df, but {zones}; give both the same zone")
    expected = index[-1] + to_offset(freq)
    if val_index[0] != expected:
        raise DataValidationError(
            f"val_df must continue df: its first timestamp is {val_index[0]}, but df ends at "
            f"{index[-1]}, so it should be {expected}; pass the rows right after df's last"
        )
