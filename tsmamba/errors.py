"""The exceptions tsmamba raises on purpose.

Every error a user can cause derives from :class:`TSMambaError`, so callers (and the CLI) can
catch one type, print its message, and exit cleanly. Messages name what is wrong (column, row,
timestamp, parameter) and what to do about it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
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


class OutOfMemoryError(TSMambaError, MemoryError):
    """Work that needs more memory than the machine (or its GPU) has; the message says what to
    lower. ``step``: the work that ran out ("fit", "forecast_origins", ...); ``asked``: how much
    more it asked for, as the message says it (" (it asked for 11.2 GiB more)"), or ""."""

    def __init__(self, message: str, step: str = "", asked: str = "") -> None:
        super().__init__(message)
        self.step, self.asked = step, asked


# what torch's allocators say: "DefaultCPUAllocator: can't allocate memory: you tried to allocate
# 12030197760 bytes", "CUDA out of memory. Tried to allocate 20.00 GiB"; numpy's "Unable to
# allocate 11.2 GiB for an array ..."
_ALLOCATED = re.compile(r"allocate (\d+) bytes|allocate ([\d.]+ [KMGTP]i?B)", re.IGNORECASE)


def plural(count: int, noun: str) -> str:
    """'1 window', '2 windows': a count in a message."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed allocation: a MemoryError (numpy's too), torch's
    OutOfMemoryError (a RuntimeError) or its CPU allocator's RuntimeError."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text.lower()
    )


@contextlib.contextmanager
def memory_errors(what: str, hint: str) -> Iterator[None]:
    """A failed allocation inside as an OutOfMemoryError: "``what`` ran out of memory (it asked
    for N GiB more): ``hint``". The failed work's frames are cleared, so the tensors they held
    are freed while the caller handles the error (and retries smaller)."""
    try:
        yield
    except (MemoryError, RuntimeError) as exc:
        if isinstance(exc, TSMambaError) or not is_out_of_memory(exc):
            raise
        found = _ALLOCATED.search(str(exc))
        asked = None if found is None else f"{int(found[1]) / 2**30:,.1f} GiB" if found[1] else found[2]
        size = "" if asked is None else f" (it asked for {asked} more)"
        traceback.clear_frames(exc.__traceback__)
        raise OutOfMemoryError(f"{what} ran out of memory{size}: {hint}", what, size) from exc


def run_script(main: Callable[[], int | None]) -> int:
    """Run an experiment's or benchmark's ``main`` as the CLI runs a command: a TSMambaError (data
    not found, a bad setting) is one line on stderr and exit status 2, not a traceback (set
    TSMAMBA_DEBUG=1 for it). Use as ``raise SystemExit(run_script(main))``."""
    try:
        return int(main() or 0)
    except TSMambaError as exc:
        if os.environ.get("TSMAMBA_DEBUG"):
            raise
        print(f"{os.path.basename(sys.argv[0])}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


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
