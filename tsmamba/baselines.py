"""Baseline forecasters evaluated on the same windows as the model.

All baselines take context windows ``X`` of shape ``(N, L, C)`` (N windows, L context steps,
C channels) and return forecasts of shape ``(N, H, C)``, so every report can state how much the
model improves on forecasts that cost nothing to make.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.linear_model import Ridge

from tsmamba.errors import ConfigError, DataValidationError, check_seed, positive_int

__all__ = [
    "BASELINES",
    "LinearBaseline",
    "last_value",
    "seasonal_naive",
]

#: Names of the baselines, in report order (``"linear"`` needs training windows).
BASELINES: tuple[str, ...] = ("last_value", "seasonal_naive", "linear")
#: A baseline's forecasts in a tidy forecasts table: column ``yhat_<name>`` beside the model's ``yhat``.
COLUMN_PREFIX = "yhat_"


def _windows(X: Any, name: str = "X") -> np.ndarray:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 3:
        raise ConfigError(f"{name} must have shape (N, L, C), got {arr.shape}")
    if arr.shape[1] < 1:
        raise ConfigError(f"{name} has no context steps (shape {arr.shape})")
    return arr


def last_value(X: Any, horizon: int) -> np.ndarray:
    """Repeat the last observed value of each window and channel: (N, L, C) -> (N, H, C)."""
    x = _windows(X)
    horizon = positive_int(horizon, "horizon")
    return np.repeat(x[:, -1:, :], horizon, axis=1)


def seasonal_naive(X: Any, horizon: int, season: int) -> np.ndarray:
    """Repeat the last ``season`` values of each window: (N, L, C) -> (N, H, C).

    Step h (0-based) gets ``X[:, L - season + h % season]``. With ``season > L`` there is no full
    season to repeat, so it falls back to :func:`last_value` with a warning.
    """
    x = _windows(X)
    horizon = positive_int(horizon, "horizon")
    season = positive_int(season, "season")
    n_context = x.shape[1]
    if season > n_context:
        warnings.warn(
            f"season {season} is longer than the context ({n_context} steps); "
            "seasonal_naive falls back to last_value",
            RuntimeWarning,
            stacklevel=2,
        )
        return last_value(x, horizon)
    idx = n_context - season + np.arange(horizon) % season
    return x[:, idx, :]


class LinearBaseline:
    """Channel-independent linear map from the last L values to the next H (ridge regression).

    One weight matrix ``(H, L)`` plus intercept ``(H,)`` is shared by all channels: every
    (window, channel) pair is one training row. Training windows beyond ``max_windows`` are
    subsampled with a fixed ``seed``, then (window, channel) rows beyond ``max_rows``, so that
    memory does not grow with the channel count (None keeps all of them). The row cap leaves the
    ETT sets and Weather as the window cap had them (at most 10,000 windows x 21 channels).
    """

    def __init__(
        self,
        context_length: int,
        horizon: int,
        alpha: float = 1e-3,
        *,
        max_windows: int | None = 10_000,
        max_rows: int | None = 250_000,
        seed: int = 0,
    ) -> None:
        self.context_length = positive_int(context_length, "context_length")
        self.horizon = positive_int(horizon, "horizon")
        try:
            alpha_value = float(alpha)
        except (TypeError, ValueError):
            alpha_value = float("nan")
        if not np.isfinite(alpha_value) or alpha_value < 0:
            raise ConfigError(f"alpha must be a finite number >= 0, got {alpha!r}")
        self.alpha = alpha_value
        self.max_windows = positive_int(max_windows, "max_windows", allow_none=True)
        self.max_rows = positive_int(max_rows, "max_rows", allow_none=True)
        self.seed = check_seed(seed)  # a bad one had failed in fit, with numpy's TypeError
        self._model: Ridge | None = None

    @property
    def coef_(self) -> np.ndarray:
        """Fitted weights ``(H, L)``; row h maps the context (oldest first) to step h+1."""
        return self._fitted().coef_

    @property
    def intercept_(self) -> np.ndarray:
        """Fitted intercepts ``(H,)``."""
        return np.atleast_1d(self._fitted().intercept_)

    def _fitted(self) -> Ridge:
        if self._model is None:
            raise ConfigError("LinearBaseline is not fitted; call fit(X, Y) first")
        return self._model

    def _context(self, X: Any, name: str) -> np.ndarray:
        x = _windows(X, name)
        if x.shape[1] < self.context_length:
            raise ConfigError(
                f"{name} has {x.shape[1]} context steps, the baseline needs "
                f"context_length={self.context_length}"
            )
        return x[:, -self.context_length :, :]

    def fit(self, X: Any, Y: Any) -> LinearBaseline:
        """Fit on training contexts ``X`` (N, L, C) and targets ``Y`` (N, H, C)."""
        x = self._context(X, "X")
        y = np.asarray(Y, dtype=np.float64)
        if y.ndim != 3 or y.shape[1] != self.horizon:
            raise ConfigError(f"Y must have shape (N, {self.horizon}, C), got {y.shape}")
        if y.shape[0] != x.shape[0] or y.shape[2] != x.shape[2]:
            raise ConfigError(f"X {x.shape} and Y {y.shape} disagree on windows or channels")
        rows_x, rows_y = self._training_rows(x, y)
        finite = np.isfinite(rows_x).all(axis=1) & np.isfinite(rows_y).all(axis=1)
        if not finite.any():
            raise DataValidationError("no training window without NaN/inf; cannot fit baseline")
        if not finite.all():
            rows_x, rows_y = rows_x[finite], rows_y[finite]
        # The rows are private copies, so Ridge may centre them in place.
        model = Ridge(alpha=self.alpha, fit_intercept=True, copy_X=False)
        model.fit(rows_x, rows_y)
        self._model = model
        return self

    def _training_rows(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, L, C), (N, H, C) -> private (k, L), (k, H) copies: one row per kept (window, channel)
        pair, window-major. Gathered from the (possibly strided) inputs without copying them
        whole: 10,000 windows of 900 channels had taken 12 GB."""
        n, _, c = x.shape
        rng = np.random.default_rng(self.seed)
        windows = np.arange(n)
        if self.max_windows is not None and n > self.max_windows:
            windows = np.sort(rng.choice(n, size=self.max_windows, replace=False))
        if self.max_rows is not None and len(windows) * c > self.max_rows:
            # sampled among the finite pairs: rows with NaN had used up the cap (fit drops them)
            finite = np.empty((len(windows), c), dtype=bool)
            piece = max(1, 2**20 // ((x.shape[1] + y.shape[1]) * c))  # windows per 8 MB, not a copy of all
            for i in range(0, len(windows), piece):
                kept = windows[i : i + piece]
                finite[i : i + piece] = np.isfinite(x[kept]).all(axis=1) & np.isfinite(y[kept]).all(axis=1)
            candidates = np.flatnonzero(finite.ravel())
            if len(candidates) > self.max_rows:
                candidates = np.sort(rng.choice(candidates, size=self.max_rows, replace=False))
            rows, channels = windows[candidates // c], candidates % c
        else:
            rows, channels = np.repeat(windows, c), np.tile(np.arange(c), len(windows))
        return x[rows, :, channels], y[rows, :, channels]  # advanced indices apart: (k, L), (k, H)

    def predict(self, X: Any) -> np.ndarray:
        """Forecast ``(N, H, C)`` from contexts ``(N, L', C)`` with ``L' >= context_length``."""
        model = self._fitted()
        x = self._context(X, "X")
        n_windows, _, n_channels = x.shape
        rows = x.transpose(0, 2, 1).reshape(-1, self.context_length)
        pred = rows @ model.coef_.T + self.intercept_
        return pred.reshape(n_windows, n_channels, self.horizon).transpose(0, 2, 1)
