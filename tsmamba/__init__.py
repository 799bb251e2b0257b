"""tsmamba: time-series forecasting with Mamba-2 (structured state-space duality)."""

from tsmamba.errors import (
    CheckpointError,
    ChecksumError,
    ConfigError,
    DataNotFoundError,
    DataValidationError,
    OutOfMemoryError,
    StreamError,
    TrainingError,
    TSMambaError,
)

__version__ = "0.1.0"


def __getattr__(name: str):
    # the estimator pulls in torch and lightning: import it on first use
    if name in ("TSMambaForecaster", "NotFittedError"):
        from tsmamba import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'tsmamba' has no attribute {name!r}")


__all__ = [
    "CheckpointError",
    "ChecksumError",
    "ConfigError",
    "DataNotFoundError",
    "DataValidationError",
    "NotFittedError",
    "OutOfMemoryError",
    "StreamError",
    "TSMambaError",
    "TSMambaForecaster",
    "TrainingError",
    "__version__",
]
