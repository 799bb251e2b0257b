"""The exceptions tsmamba raises on purpose.

Every error a user can cause derives from :class:`TSMambaError`, so callers (and the CLI) can
catch one type, print its message, and exit cleanly. Messages name what is wrong (column, row,
timestamp, parameter) and what to do about it.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np


class TSMambaError(Exception):
    """Base class of every error tsmamba raises deliberately."""


class ConfigError(TSMambaError, ValueError):
    """An invalid parameter or combination of parameters."""


class DataValidationError(TSMambaError, ValueError):
    """Input data that cannot be used as given (bad dates, gaps, NaN, wrong columns, too short)."""


class DataNotFoundError(TSMambaError, FileNotFoundError):
    """A data file that is missing and cannot be fetched."""


class ChecksumError(TSMambaError):
    """A downloaded or stored file whose sha256 does not match the registry."""


class CheckpointError(TSMambaError):
    """A saved model or stream state that is truncated, corrupt or does not match."""


class TrainingError(TSMambaError, RuntimeError):
    """Training that cannot go on (for example a non-finite loss)."""


class StreamError(TSMambaError, ValueError):
    """An observation a stream rejects; the stream's state is left unchanged."""


def plain_fields(config: Any) -> None:
    """Turn a dataclass's numpy scalar fields (``np.int64(8)``, as a parameter grid gives them)
    into Python numbers, so that checks and saved configurations see plain values."""
    for name in getattr(config, "__dataclass_fields__", {}):
        value = getattr(config, name)
        if isinstance(value, np.generic):  # a numpy scalar, not an array
            setattr(config, name, value.item())


def positive_int(value: Any, name: str, *, allow_none: bool = False, hint: str = "") -> int | None:
    """``value`` as an ``int`` if it is a positive integer (``None`` passes when ``allow_none``),
    else :class:`ConfigError` naming ``name``, with ``hint`` (what to do) appended."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}" + (f"; {hint}" if hint else ""))
    return int(value)


def nonnegative_int(value: Any, name: str) -> int:
    """``value`` as an ``int`` if it is an integer >= 0 (not a bool), else :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a ``bool`` if it is True or False (numpy's too), else :class:`ConfigError`
    naming ``name``: "no" and 0.0 are truthy or falsy, not a switch (sort='no' had sorted)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_seed(seed: Any, name: str = "seed", *, allow_none: bool = False) -> int | None:
    """``seed`` as an ``int`` in [0, 2**32), the seeds numpy and torch both take (a window order's
    is 32 bits: 2**32 would repeat 0); None passes when ``allow_none`` (unseeded)."""
    if seed is None and allow_none:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, Integral) or not 0 <= seed < 2**32:
        unseeded = " or None (unseeded)" if allow_none else ""
        raise ConfigError(f"{name} must be an integer in [0, 2**32){unseeded}, got {seed!r}")
    return int(seed)


def check_number(
    value: Any, name: str, test: Any, allowed: str, *, allow_none: bool = False
) -> float | None:
    """``value`` as a float if it is a real number (not a bool) passing ``test`` (NaN fails any
    comparison), None if it is None and ``allow_none``; else ConfigError "{name} must be {allowed}"
    (a text "0.1" had failed deep in training with a TypeError)."""
    if value is None and allow_none:
        return None
    number = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
    if not number or not test(value):
        raise ConfigError(f"{name} must be {allowed}, got {value!r}")
    return float(value)


def check_context_norm(context: str, norm: str) -> None:
    """ConfigError for full-history forecasts of a ``norm="revin"`` network, which has no
    recurrent form (torch-free, so the command line checks it before importing torch)."""
    if context == "full" and norm == "revin":
        raise ConfigError(
            "context='full' reads the whole history through the recurrent state, and "
            "norm='revin' (statistics of the whole input) has none; use context='window', "
            "or fit with norm='causal' or 'none'"
        )
