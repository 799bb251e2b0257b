"""tsmamba: time-series forecasting with Mamba-2 (structured state-space duality)."""

from tsmamba.errors import (
    CheckpointError,
    ChecksumError,
    ConfigError,
    DataNotFoundError,
    DataValidationError,
    StreamError,
    TrainingError,
    TSMambaError,
)

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "ChecksumError",
    "ConfigError",
    "DataNotFoundError",
    "DataValidationError",
    "StreamError",
    "TSMambaError",
    "TrainingError",
    "__version__",
]
