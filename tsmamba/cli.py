"""The ``tsmamba`` command line: parse, call the library, print.

Every subcommand is one function registered with :func:`command`; its options are listed in
that registration (shared groups: data, model, common), so adding a subcommand touches nothing
else::

    @command("stream", help="...", epilog="...", options=[*DATA_OPTIONS, Opt("--model", ...)])
    def cmd_stream(run: Run) -> int:
        ...

Options a user does not give are absent from the parsed namespace (``argparse.SUPPRESS``), so
the settings resolve in one place, lowest first: the command's defaults, the ``--config`` file
(TOML or JSON, keys named like the options or the estimator's parameters), the flags.

Errors a user can cause (every :class:`~tsmamba.errors.TSMambaError`, ``OSError`` for paths,
invalid options) print one line, ``tsmamba: error: ...``, on stderr and exit with status 2;
``--debug`` shows the traceback instead. ``tsmamba stream`` exits with status 3 when it read its
input to the end but rejected lines. Heavy imports (torch, Lightning) wait until a command
needs them, so such errors come back in well under a second. A closed standard output (``| head``)
ends a command quietly, with status 0.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime
import difflib
import functools
import importlib.util
import inspect
import json
import logging
import math
import os
import re
import shlex
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tsmamba import __version__
from tsmamba.checkpoint import write_errors_name
from tsmamba.errors import (
    CheckpointError,
    ChecksumError,
    ConfigError,
    DataNotFoundError,
    DataValidationError,
    OutOfMemoryError,
    TSMambaError,
    check_context_norm,
    memory_errors,
    plural,
)
from tsmamba.runtime import keep_large_allocations

__all__ = ["COMMANDS", "MODEL_PARAMS", "Opt", "Param", "Run", "build_parser", "command", "main"]

PROG = "tsmamba"
EXIT_USAGE = 2
EXIT_REJECTED = 3  # tsmamba stream read its input to the end but rejected some lines


# --------------------------------------------------------------------------------------------
# option types (argparse calls them with the flag's text; config values go through them too)


def _integer(text: Any, low: int | None, expected: str) -> int:
    """``text`` as an int: an int, or digits as text; 1.9, 2.0 and true are rejected."""
    value = None
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    elif isinstance(text, str):
        with contextlib.suppress(ValueError):
            value = int(text, 10)
    if value is None or (low is not None and value < low):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def integer(text: Any) -> int:
    return _integer(text, None, "an integer")


def positive_int(text: Any) -> int:
    return _integer(text, 1, "a positive integer")


def non_negative_int(text: Any) -> int:
    return _integer(text, 0, "an integer >= 0")


def thread_count(text: Any) -> int:
    """A positive number of threads, at most 1024 (10**23 had overflowed inside torch, and reached
    OpenMP's environment as an invalid value)."""
    value = positive_int(text)
    if value > 1024:
        raise argparse.ArgumentTypeError(f"expected at most 1024 threads, got {value}")
    return value


def pathname(text: Any) -> Path:
    """A file or folder path (``~`` expanded, as a shell would on the command line); config files
    must give it as a string. An empty one is refused: Path('') is the current folder, where
    '--out ""' had written a report."""
    if not isinstance(text, (str, os.PathLike)):
        raise argparse.ArgumentTypeError(f"expected a path (a string), got {text!r}")
    if not os.fspath(text).strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty one")
    return Path(text).expanduser()


def text(value: Any) -> str:
    """A name or text option's value (--data, --time-col, --tz, ...): a string that is not empty
    ('--time-col ""' had read as the option left out, and '--data ""' as no data given)."""
    if not isinstance(value, str):
        raise argparse.ArgumentTypeError(f"expected a string, got {value!r}")
    if not value.strip():
        raise argparse.ArgumentTypeError("expected a value, got an empty one")
    return value


def _number(text: Any, low: float, low_open: bool, high: float | None = None) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    ok = math.isfinite(value) and (value > low if low_open else value >= low)
    if ok and high is not None:
        ok = value < high
    if not ok:
        bound = f"> {low}" if low_open else f">= {low}"
        if high is not None:
            bound += f" and < {high}"
        raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text!r}")
    return value


def positive_float(text: Any) -> float:
    return _number(text, 0.0, True)


def non_negative_float(text: Any) -> float:
    return _number(text, 0.0, False)


def fraction(text: Any) -> float:
    return _number(text, 0.0, False, 1.0)


def weight(text: Any) -> float:
    """A mixing weight in [0, 1], both ends included."""
    value = _number(text, 0.0, False)
    if value > 1.0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0.0 and <= 1.0, got {text!r}")
    return value


def start_value(text: Any) -> int | float | str:
    """``--start``: an int row, a float fraction, or a timestamp (kept as text; a config file's
    TOML date or date-time as its ISO text, the offset of one that has it included)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return text
    if isinstance(text, datetime.date):  # a datetime.datetime too
        return text.isoformat()
    text = str(text).strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def refit_value(text: Any) -> bool | int:
    """``--refit``: never (false), every origin (true), or every k origins."""
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().lower()
    if lowered in ("false", "no", "0", "never", "off"):
        return False
    if lowered in ("true", "yes", "always", "on"):
        return True
    try:
        return positive_int(lowered)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected false, true or a positive integer k (refit every k origins), got {text!r}"
        ) from None


def column_list(text: Any) -> list[str]:
    if isinstance(text, (list, tuple)):
        return [str(c) for c in text]
    names = [c.strip() for c in str(text).split(",") if c.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated column names")
    return names


def date_format(text: Any) -> str:
    """A strptime format (``%d/%m/%Y %H:%M``): one with no ``%`` code (``dd/mm/yyyy``) or a bad
    one (``%Q``) is refused here, not reported as every timestamp failing to parse."""
    import pandas as pd

    text = str(text)
    if "%" not in text:
        raise argparse.ArgumentTypeError(
            f"expected a strptime format written with % codes, e.g. '%d/%m/%Y %H:%M' (%d day, %m month, "
            f"%Y year, %H hour, %M minute), got {text!r}"
        )
    try:
        pd.to_datetime(pd.Series(["0"]), format=text, errors="coerce")  # checks the codes, parses nothing
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a strptime format ({exc})") from None
    return text


def field_delimiter(text: Any) -> str:
    """One character that separates a CSV file's fields; ``tab`` or ``\\t`` for a tab."""
    text = str(text)
    text = "\t" if text.lower() in ("tab", "\\t") else text
    if len(text) != 1 or text in '"\r\n':
        raise argparse.ArgumentTypeError(
            f"expected one character such as ';' or '|' (a tab: --sep tab), got {text!r}"
        )
    return text


def text_encoding(text: Any) -> str:
    """A text encoding Python knows (utf-8, cp1252, latin-1, utf-16, ...), by its name."""
    import codecs

    try:
        return codecs.lookup(str(text)).name
    except LookupError:
        raise argparse.ArgumentTypeError(
            f"expected a text encoding such as utf-8, cp1252 or latin-1, got {text!r}"
        ) from None


def decimal_mark(text: Any) -> str:
    text = str(text)
    if text not in (".", ","):
        raise argparse.ArgumentTypeError(f"expected '.' or ',', got {text!r}")
    return text


def boolean(text: Any) -> bool:
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


# --------------------------------------------------------------------------------------------
# the estimator's parameters: one table gives the flags, the config keys and their checks


@dataclass(frozen=True)
class Param:
    """A TSMambaForecaster parameter exposed as ``--name-with-dashes``."""

    name: str
    type: Callable[[Any], Any]
    help: str
    choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


MODEL_PARAMS: tuple[Param, ...] = (
    Param("d_model", positive_int, "model width"),
    Param("embed_window", positive_int,
          "each step's token embeds its input and the S - 1 before it (a causal patch; 1: the step alone)"),
    Param("n_layers", positive_int, "number of Mamba-2 blocks"),
    Param("d_state", positive_int, "SSM state size per head"),
    Param("expand", positive_int, "inner width = expand x d_model"),
    Param("headdim", positive_int, "channels per SSM head"),
    Param("d_conv", positive_int, "causal convolution width"),
    Param("chunk_size", positive_int, "SSD chunk length (speed only)"),
    Param("channel_mode", str, "channels as separate sequences, or mixed per step",
          ("independent", "mix")),
    Param("norm", str, "input normalisation", ("causal", "revin", "none")),
    Param("norm_span", positive_int, "span of the causal running statistics"),
    Param("time_features", boolean, "append calendar features (true/false)"),
    Param("dropout", fraction, "dropout before the head"),
    Param("head_window", positive_int, "hidden states the head reads (default: the context length)"),
    Param("head_dim", positive_int, "features per hidden state the head reads (default: d_model)"),
    Param("cycle_length", positive_int,
          "steps of the learned cycle removed from the input (e.g. 24 hourly, 7 daily: the week)"),
    Param("input_skip", boolean, "the head also reads the normalised inputs (linear skip; true/false)"),
    Param("cross_channel_skip", boolean,
          "independent mode: the linear skip reads all channels' inputs (true/false)"),
    Param("channel_skip", boolean,
          "independent mode: each channel also gets a linear map of its own inputs (true/false)"),
    Param("linear_init", boolean, "start the input skip at the training windows' ridge map (true/false)"),
    Param("linear_init_ridge", positive_float, "penalty of that ridge map (on its weights, not the bias)"),
    Param("linear_init_own", weight,
          "with channel_skip: the start's weight on each channel's own ridge map (0 to 1; default 0.5)"),
    Param("loss", str, "training loss", ("mse", "mae", "huber")),
    Param("frequency_loss", weight, "weight of the frequency-domain error mixed into the loss (0: off)"),
    Param("max_epochs", positive_int, "most training epochs"),
    Param("batch_size", positive_int, "training windows per batch"),
    Param("micro_batch_size", positive_int,
          "windows per forward/backward pass, a divisor of batch_size: the same steps in less memory"),
    Param("learning_rate", positive_float, "peak AdamW learning rate"),
    Param("weight_decay", non_negative_float, "AdamW weight decay"),
    Param("warmup_fraction", fraction, "share of steps warming up the learning rate"),
    Param("min_lr_ratio", weight,
          "the learning rate's floor after its cosine decay, as a share of the peak (1: constant)"),
    Param("channel_skip_lr_ratio", weight,
          "with channel_skip: its weights' learning rate, as a share of the rest's (0: frozen; default 1)"),
    Param("freeze_linear_path", boolean,
          "with linear_init: hold the linear path at its ridge start; only the Mamba path trains"),
    Param("ema_decay", fraction, "decay of a moving average of the weights, validated and kept (e.g. 0.99)"),
    Param("patience", non_negative_int,
          "early stopping after this many validations without improvement, one an epoch (0: off)"),
    Param("val_fraction", fraction, "share of the rows held out for early stopping (fit, rolling)"),
    Param("gradient_clip_val", non_negative_float, "gradient norm clip (0: off)"),
    Param("train_stride", positive_int, "use 1 in k training windows per epoch"),
    Param("train_sampling", str, "every k-th window, or a fresh random 1/k per epoch", ("strided", "random")),
    Param("val_stride", positive_int, "early stopping compares epochs on 1 in k validation windows"),
)
_PARAM_BY_NAME = {p.name: p for p in MODEL_PARAMS}


# --------------------------------------------------------------------------------------------
# options and commands


@dataclass(frozen=True)
class Opt:
    """One argparse option: ``Opt("--out", type=pathname, help=...)``; ``default`` goes to the
    command's defaults (so a config file can override it), not to argparse."""

    flags: tuple[str, ...]
    kwargs: dict[str, Any]

    def __init__(self, *flags: str, **kwargs: Any) -> None:
        if not {"type", "action", "choices"} & set(kwargs):  # a name or text: not an empty one
            kwargs["type"] = text
        object.__setattr__(self, "flags", flags)
        object.__setattr__(self, "kwargs", kwargs)

    @property
    def dest(self) -> str:
        if "dest" in self.kwargs:
            return str(self.kwargs["dest"])
        longest = max(self.flags, key=len)
        return longest.lstrip("-").replace("-", "_")


@dataclass
class Command:
    name: str
    func: Callable[[Run], int | None]
    help: str
    epilog: str
    options: tuple[Opt, ...]
    defaults: dict[str, Any] = field(default_factory=dict)
    model: bool = False  # takes the model options and --config
    model_defaults: Mapping[str, Any] = field(default_factory=dict)  # its own, over the estimator's
    unlisted: tuple[str, ...] = ()  # model options --help leaves out: the command refuses them


COMMANDS: dict[str, Command] = {}


def command(
    name: str,
    *,
    help: str,
    epilog: str = "",
    options: Sequence[Opt] = (),
    model: bool = False,
    model_defaults: Mapping[str, Any] | None = None,
    unlisted: Sequence[str] = (),
) -> Callable[[Callable[[Run], int | None]], Callable[[Run], int | None]]:
    """Register ``func(run) -> exit status`` as subcommand ``name``; ``model_defaults``: the model
    settings it uses where the estimator's defaults would not be (shown by --help); ``unlisted``:
    model settings it refuses with its own message, which --help does not list."""

    def register(func: Callable[[Run], int | None]) -> Callable[[Run], int | None]:
        defaults = {o.dest: o.kwargs["default"] for o in options if "default" in o.kwargs}
        COMMANDS[name] = Command(name, func, help, epilog, tuple(options), defaults, model,
                                 dict(model_defaults or {}), tuple(unlisted))
        return func

    return register


COMMON_OPTIONS = (
    Opt("--quiet", "-q", action=argparse.BooleanOptionalAction, default=False,
        help="no progress bars or notes"),
    Opt("--threads", type=thread_count, metavar="N",
        help="CPU threads for torch (default: torch's choice; 1 is much faster on a busy machine)"),
    Opt("--debug", action="store_true", default=False, help="show tracebacks and library logs"),
)
TRAINING_OPTIONS = (
    Opt("--seed", type=integer, help="random seed (the estimator's random_state; default 0)"),
    Opt("--device", choices=("cpu", "cuda", "auto"), default="cpu",
        help="where to train: cpu, cuda or auto (default cpu)"),
)
"""Common to the commands that train (``model=True``); predict and stream run on the CPU."""


def _common_options(cmd: Command) -> tuple[Opt, ...]:
    return (*TRAINING_OPTIONS, *COMMON_OPTIONS) if cmd.model else COMMON_OPTIONS


CONFIG_OPTION = Opt(
    "--config", type=pathname, metavar="FILE",
    help="TOML or JSON (.json) file of settings (keys as the command's long options, e.g. d_model, "
    "max_epochs, or a [model] table); flags given on the command line win",
)
TIME_COL_HELP = "time column of the CSV (default: date; ds in long form)"


def writing_options(of: str = "", encoding_default: str = "utf-8") -> tuple[Opt, Opt, Opt, Opt]:
    """read_series' ``date_format=``, ``sep=``, ``decimal=`` and ``encoding=``: how the CSV (``of``:
    which) is written; ``encoding_default``: what --help says is read without --encoding."""
    return (
        Opt("--date-format", type=date_format, metavar="FORMAT",
            help=f"strptime format of the timestamps{of} when they are not ISO 8601, e.g. "
                 "'%%d/%%m/%%Y %%H:%%M' (default: ISO 8601 only: 01/02/2024 is refused, not guessed)"),
        Opt("--sep", type=field_delimiter, metavar="CHAR",
            help=f"field delimiter{of}: ';', '|' or tab (default ',')"),
        Opt("--decimal", type=decimal_mark, metavar="CHAR",
            help=f"decimal mark{of}: ',' for 1,5 (default '.'; with ',' give --sep too, e.g. ';')"),
        Opt("--encoding", type=text_encoding, metavar="NAME",
            help=f"text encoding{of}, e.g. cp1252 for a CSV Excel saves on Windows "
                 f"(default {encoding_default})"),
    )


# a long-form file (one row per series id and time) is found by its id, time and value columns
LONG_FORM_OPTIONS = (
    Opt("--id-col", metavar="NAME",
        help="long form: the column of series ids (default: unique_id); each id is read as a channel"),
    Opt("--value-col", metavar="NAME", help="long form: the column of values (default: y)"),
)
DATA_OPTIONS = (
    Opt("--data", metavar="PATH|NAME", help="CSV file (.csv, .csv.gz) or a registry name (tsmamba datasets)"),
    Opt("--time-col", metavar="NAME", help=TIME_COL_HELP),
    *writing_options(),
    *LONG_FORM_OPTIONS,
    Opt("--columns", type=column_list, metavar="A,B,...", help="channels to use (default: all)"),
)
TZ_HELP = ("time zone to read timestamps written with UTC offsets in, e.g. Europe/Berlin for local "
           "time across DST (they are instants; this sets the calendar)")
TZ_OPTION = Opt("--tz", metavar="ZONE", help=TZ_HELP)


def repair_options(of: str = "") -> tuple[Opt, Opt]:
    """read_series' ``fill=`` and ``impute=`` for the CSV file read by its path (``of``: which)."""
    return (
        Opt("--fill", choices=("ffill", "interpolate", "zero"),
            help=f"fill rows missing from the time grid{of}: the last values, a straight line, or "
                 "zeros (counts and sales: a closed day sold nothing); default: a missing row is an error"),
        Opt("--impute", choices=("ffill", "interpolate", "zero"),
            help=f"replace empty, NaN and ±inf values{of} the same ways; default: such a value is an error"),
    )


DATA_OPTIONS = (*DATA_OPTIONS, TZ_OPTION, *repair_options())
SHAPE_OPTIONS = (
    Opt("--context", type=positive_int, default=96, metavar="L", help="context length L (default 96)"),
    Opt("--horizon", type=positive_int, default=96, metavar="H", help="forecast horizon H (default 96)"),
)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line: ``tsmamba: error: ...`` and exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subcommands: dict[str, argparse.ArgumentParser] = {}

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see: {self.prog} --help)\n")

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        # argparse reports a subcommand's unknown options from the top parser; report them from
        # the subcommand's, so the hint is 'tsmamba COMMAND --help'
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            target = self.subcommands.get(getattr(parsed, "command", None) or "", self)
            target.error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        model = getattr(action, "model_param", None)  # (Param, the command's own defaults)
        return _with_default(*model) if model else action.help  # read only when help is shown


def build_parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Time-series forecasting with Mamba-2: fit, predict, backtest, benchmark.",
        epilog="Run 'tsmamba COMMAND --help' for a command's options and examples.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for cmd in COMMANDS.values():
        p = sub.add_parser(
            cmd.name,
            help=cmd.help,
            description=inspect.cleandoc(cmd.func.__doc__ or cmd.help),
            epilog=cmd.epilog,
            formatter_class=_HelpFormatter,
            argument_default=argparse.SUPPRESS,
        )
        parser.subcommands[cmd.name] = p
        for opt in cmd.options:
            p.add_argument(*opt.flags, **{k: v for k, v in opt.kwargs.items() if k != "default"})
        if cmd.model:
            group = p.add_argument_group("model and training (TSMambaForecaster parameters)")
            for param in MODEL_PARAMS:
                shown = argparse.SUPPRESS if param.name in cmd.unlisted else param.help
                action = group.add_argument(param.flag, dest=param.name, type=param.type,
                                            choices=param.choices, metavar=_metavar(param), help=shown)
                action.model_param = (param, cmd.model_defaults)  # type: ignore[attr-defined]
            p.add_argument(*CONFIG_OPTION.flags, **CONFIG_OPTION.kwargs)
        common = p.add_argument_group("common")
        for opt in _common_options(cmd):
            kwargs = {k: v for k, v in opt.kwargs.items() if k != "default"}
            if opt.flags[0] == "--quiet" and cmd.model:  # a command that takes --config
                kwargs["help"] += " (--no-quiet: undo quiet = true of a --config file)"
            common.add_argument(*opt.flags, **kwargs)
    return parser


@functools.cache
def _model_defaults() -> dict[str, Any]:
    """TSMambaForecaster's parameter defaults, read from its source, so that --help shows them
    without importing torch (~1.3 s); {} if the source cannot be read."""
    try:
        spec = importlib.util.find_spec("tsmamba.estimator")
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))  # type: ignore[union-attr,arg-type]
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "TSMambaForecaster")
        init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
        a = init.args
        named = list(zip(a.args[len(a.args) - len(a.defaults):], a.defaults, strict=True))
        named += [(arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d is not None]
        return {arg.arg: ast.literal_eval(default) for arg, default in named}
    except (OSError, SyntaxError, ValueError, AttributeError, TypeError, StopIteration):
        return {}


def _with_default(param: Param, own: Mapping[str, Any]) -> str:
    """A model option's help with its default (the command's ``own``, else the estimator's),
    unless that is None or the help tells it already."""
    text = param.help
    if param.name in own:  # the command's value, in place of the estimator's default the help names
        value, text = own[param.name], re.sub(r" \(default: [^)]*\)", "", text)
    else:
        value = _model_defaults().get(param.name)
    if value is None or "default" in text:
        return text
    return f"{text} (default {str(value).lower() if isinstance(value, bool) else value})"


def _metavar(param: Param) -> str | None:
    if param.choices:
        return None
    if param.type in (positive_int, non_negative_int):
        return "N"
    if param.type is boolean:
        return "{true,false}"
    return "X"


# --------------------------------------------------------------------------------------------
# resolving settings


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes()
    except IsADirectoryError:
        raise ConfigError(f"--config {path} is a directory, not a settings file") from None
    except FileNotFoundError:
        raise ConfigError(f"--config file not found: {path}") from None
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml", ".ini", ".cfg"):  # had been "not valid TOML: Expected '='"
        raise ConfigError(f"--config {path}: {suffix[1:].upper()} files are not read; write the settings "
                          "as TOML (a .toml file) or JSON (a .json file)")
    # .json is JSON; any other name is TOML unless its first character opens a JSON object
    is_json = suffix == ".json" or (suffix != ".toml" and text.lstrip()[:1] == b"{")
    parser = None if is_json else _toml_module()  # its own error, not "invalid"
    try:
        if parser is None:
            data = json.loads(text.decode("utf-8"), object_pairs_hook=_unique_keys)
        else:
            data = parser.loads(text.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # tomllib/json errors are ValueErrors
        kind = "JSON" if is_json else "TOML"
        raise ConfigError(f"--config {path} is not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path} must hold a table of settings, got {type(data).__name__}")
    flat: dict[str, Any] = {}
    where: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            # [[model]] had been "'model' is a setting of 'tsmamba predict' and 'tsmamba stream'"
            what = (f"{key!r} is a list of objects; give it one object of settings" if parser is None
                    else f"[[{key}]] is a list of tables; write [{key}] (one pair of brackets) for a "
                    "table of settings")
            raise ConfigError(f"--config {path}: {what}")
        # [model], [backtest] tables; trainer_kwargs (or trainer-kwargs) is a setting's value
        table = isinstance(value, dict) and str(key).replace("-", "_") != "trainer_kwargs"
        for written, item in (value.items() if table else [(key, value)]):
            name = str(written).replace("-", "_")
            place = f"[{key}] {written}" if table else str(written)
            if name in flat:
                raise ConfigError(
                    f"--config {path} sets {name!r} twice ({where[name]} and {place}); keep one"
                )
            flat[name], where[name] = item, place
    return flat


def _toml_module() -> Any:
    """``tomllib`` (Python 3.11+), or ``tomli`` (the same parser, a dependency on 3.10)."""
    try:
        import tomllib
    except ModuleNotFoundError:
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ConfigError(
                "reading a TOML --config needs Python 3.11 or the 'tomli' package "
                "(pip install tomli); or write the settings as a .json file"
            ) from None
    return tomllib


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (TOML refuses it; json.loads keeps the last)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} is given twice")
        out[key] = value
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# what a config file's value must be, by the flag's type: a file says 8, 0.5 and true, not "8",
# true for a number or "yes" for true (a flag's text is converted; a file's value has its type)
_CONFIG_KINDS: dict[Any, tuple[Callable[[Any], bool], str]] = {
    **dict.fromkeys((positive_int, non_negative_int, integer, thread_count), (_is_int, "an integer")),
    **dict.fromkeys((positive_float, non_negative_float, fraction, weight), (_is_number, "a number")),
    boolean: (lambda v: isinstance(v, bool), "true or false"),
    str: (lambda v: isinstance(v, str), "a string"),
    text: (lambda v: isinstance(v, str), "a string"),
    start_value: (lambda v: _is_number(v) or isinstance(v, (str, datetime.date)),  # TOML: start = 2017-06-01
                  "a row number, a fraction or a time"),
    refit_value: (lambda v: isinstance(v, bool) or _is_int(v), "true, false or an integer k"),
    column_list: (lambda v: (isinstance(v, str) and bool(v.strip())) or (
        isinstance(v, list) and bool(v) and all(isinstance(c, str) for c in v)), "a list of column names"),
}


def _config_value(value: Any, convert: Callable[[Any], Any]) -> Any:
    """A config file's value through ``convert``, the flag's type, once its own type is right
    (``_CONFIG_KINDS``)."""
    right, expected = _CONFIG_KINDS.get(convert, (lambda v: True, ""))
    if not right(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}")
    return convert(value)


# trainer_kwargs a command sets itself from its own settings: a file's copy would override them
_CLI_TRAINER_KEYS = {"max_epochs": "max_epochs", "gradient_clip_val": "gradient_clip_val",
                     "accelerator": "device", "enable_progress_bar": "quiet"}


# the library's names of settings whose flags name them otherwise
_CONFIG_ALIASES = {"context_length": "context", "random_state": "seed", "ds_col": "time_col"}
# model settings a --config file may switch off with null: those off by default in the estimator,
# and patience (no early stopping); the demo switches the cycle and the compact head on
NULLABLE_PARAMS = ("norm_span", "head_window", "head_dim", "cycle_length", "ema_decay", "patience",
                   "linear_init_own", "channel_skip_lr_ratio", "micro_batch_size")


def _apply_config(cmd: Command, config: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Check and convert the file's settings with the same types as the flags."""
    by_dest = {o.dest: o for o in (*cmd.options, *_common_options(cmd))}
    out: dict[str, Any] = {}
    named = {}  # setting -> the key that gave it: seed and random_state are one setting
    for raw_key, value in config.items():
        key = _CONFIG_ALIASES.get(raw_key, raw_key)
        setting = "baselines" if key == "no_baselines" and "baselines" in by_dest else key
        if setting in named:  # the last one won, silently
            raise ConfigError(
                f"--config {path}: {named[setting]!r} and {raw_key!r} set the same setting; keep one"
            )
        named[setting] = raw_key
        try:
            if key == "no_baselines" and "baselines" in by_dest:  # the --no-baselines flag's own name
                key, value = "baselines", not _config_value(value, boolean)
            elif key in _PARAM_BY_NAME and cmd.model:
                param = _PARAM_BY_NAME[key]
                off = value is None and key in NULLABLE_PARAMS
                value = None if off else _config_value(value, param.type)
                if param.choices and value not in param.choices:
                    raise argparse.ArgumentTypeError(f"expected one of {param.choices}, got {value!r}")
            elif key == "trainer_kwargs" and cmd.model:
                if not isinstance(value, dict):
                    raise argparse.ArgumentTypeError("expected a table of lightning.Trainer arguments")
                owned = [k for k in value if k in _CLI_TRAINER_KEYS]
                if owned:
                    raise argparse.ArgumentTypeError(
                        f"{owned[0]!r} is set by the command's own setting {_CLI_TRAINER_KEYS[owned[0]]!r} "
                        "(in the file or as a flag); set it there"
                    )
            elif key in by_dest and key not in ("config", "debug"):
                opt = by_dest[key]
                switch = ("store_true", "store_false", argparse.BooleanOptionalAction)
                if opt.kwargs.get("action") in switch and not isinstance(value, bool):
                    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
                if "type" in opt.kwargs:
                    value = _config_value(value, opt.kwargs["type"])
                elif opt.kwargs.get("action") is None:  # a name or text: --time-col, --tz, --data
                    value = _config_value(value, str)
                if "choices" in opt.kwargs and value not in opt.kwargs["choices"]:
                    choices = opt.kwargs["choices"]
                    raise argparse.ArgumentTypeError(f"expected one of {choices}, got {value!r}")
            else:
                raise ConfigError(f"--config {path}: {_unknown_setting(cmd, by_dest, str(raw_key))}")
        except argparse.ArgumentTypeError as exc:
            raise ConfigError(f"--config {path}: setting {raw_key!r}: {exc}") from None
        out[key] = value
    return out


def _unknown_setting(cmd: Command, by_dest: Mapping[str, Opt], key: str) -> str:
    """Why a config file's ``key`` is not a setting of ``cmd``, and what was probably meant: a
    flag-only option, another command's option, or the closest of this command's names (the
    alternative names included, and nothing that would mean the opposite)."""
    if key in ("config", "debug"):
        return f"{key!r} is a command-line flag only (--{key}), not a setting of a file"
    dest = "baselines" if key == "no_baselines" else _CONFIG_ALIASES.get(key, key)
    others = [c for c in COMMANDS.values() if c is not cmd and any(o.dest == dest for o in c.options)]
    with_files = _listed(c for c in others if c.model)  # the commands that take --config
    if with_files:  # 'stride' in a fit's file had been taken for train_stride
        return f"{key!r} is a setting of {with_files}, not of '{PROG} {cmd.name}'; drop it from this file"
    if others:  # predict and stream take no --config: their options are flags only
        return (f"{key!r} is a command-line option of {_listed(others)}, not a setting of "
                f"'{PROG} {cmd.name}'; drop it from this file")
    known = sorted({*by_dest, *(_PARAM_BY_NAME if cmd.model else ())} - {"config", "debug"})
    names = known + [alias for alias, name in _CONFIG_ALIASES.items() if name in known]
    if "baselines" in by_dest:
        names.append("no_baselines")  # 'no_baseline' had been pointed at 'baselines'
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown setting {key!r} for '{PROG} {cmd.name}'; {hint}known: {', '.join(known)}"


def _listed(commands: Iterable[Command]) -> str:
    """``'tsmamba a', 'tsmamba b' and 'tsmamba c'`` (sorted), or '' for none."""
    names = sorted(f"'{PROG} {c.name}'" for c in commands)
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 2 else names)


class _StdoutClosed(Exception):
    """Standard output's reader went away (`tsmamba datasets | head -1`)."""


class _Stdout:
    """Standard output, where a broken pipe raises _StdoutClosed: only that ends a command
    quietly, not a BrokenPipeError from any other pipe (a worker's, a socket's)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            with write_errors_name("standard output"):  # a full disk's error said not where
                return self._stream.write(text)
        except BrokenPipeError:
            raise _StdoutClosed from None

    def flush(self) -> None:
        try:
            with write_errors_name("standard output"):
                self._stream.flush()
        except BrokenPipeError:
            raise _StdoutClosed from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Stderr:
    """Standard error, for messages: once its reader has gone away (`tsmamba fit ... 2>&1 | head
    -1`), what is written there goes nowhere and the command goes on (the next note or progress
    bar had raised BrokenPipeError, which ended a fit with status 1)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._closed = False

    def write(self, text: str) -> int:
        if not self._closed:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._close()
        return len(text)

    def flush(self) -> None:
        if not self._closed:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._close()

    def _close(self) -> None:
        self._closed = True
        _discard(self._stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _discard(stream: TextIO) -> None:
    """Send what ``stream`` still buffers, and all it is given later, to /dev/null, so that
    flushing it (at exit too) does not raise again once its reader has gone."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)


@dataclass
class Run:
    """What a command function gets: the resolved settings, which of them the user gave (flags
    or ``--config``, not defaults), and where to print."""

    command: str
    opts: dict[str, Any]
    stdout: TextIO
    stderr: TextIO
    given: frozenset[str] = frozenset()

    def __getattr__(self, name: str) -> Any:
        try:
            return self.opts[name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, name: str, default: Any = None) -> Any:
        return self.opts.get(name, default)

    @property
    def quiet(self) -> bool:
        return bool(self.opts.get("quiet"))

    def say(self, text: str = "") -> None:
        """Results: stdout (stderr when stdout is reserved for JSON)."""
        print(text, file=self.stderr if self.opts.get("json") else self.stdout)

    def note(self, text: str) -> None:
        """Progress notes: stderr, silenced by --quiet."""
        if not self.quiet:
            print(text, file=self.stderr)

    def model_params(self) -> dict[str, Any]:
        """TSMambaForecaster keyword arguments from the settings."""
        params = {p.name: self.opts[p.name] for p in MODEL_PARAMS if p.name in self.opts}
        if "context" in self.opts:
            params["context_length"] = self.opts["context"]
        if "horizon" in self.opts:
            params["horizon"] = self.opts["horizon"]
        if params.get("patience") == 0:
            params["patience"] = None
        if params.get("gradient_clip_val") == 0:
            params["gradient_clip_val"] = None
        if self.opts.get("seed") is not None:
            params["random_state"] = self.opts["seed"]
        params["progress"] = not self.quiet
        trainer = dict(self.opts.get("trainer_kwargs") or {})
        trainer["accelerator"] = _accelerator(self.opts.get("device", "cpu"))
        params["trainer_kwargs"] = trainer
        return params


def _accelerator(device: str) -> str:
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                "--device cuda: no CUDA device is available here (torch.cuda.is_available() is "
                "False); use --device cpu or --device auto"
            )
        return "cuda"
    return device


def _resolve(cmd: Command, args: argparse.Namespace) -> tuple[dict[str, Any], frozenset[str]]:
    """(settings, the keys the flags or the config file set)."""
    given = {k: v for k, v in vars(args).items() if k != "command"}
    opts = dict(cmd.defaults)
    config: dict[str, Any] = {}
    if given.get("config") is not None:
        config = _apply_config(cmd, _read_config(given["config"]), given["config"])
    opts.update(config)
    opts.update(given)
    return opts, frozenset({*config, *given})


# --------------------------------------------------------------------------------------------
# running


# library messages name Python arguments; on the command line the flags are what to change, and
# where the command line has no such option (sort=), the file is what to fix
_ISO_EXAMPLE = "as ISO 8601 (e.g. 2021-01-31 14:00)"
# read_series' words, which --protocol ltsf rewords its own way (it refuses --fill and --impute)
_FILL_ADVICE = ("Pass fill='ffill', fill='interpolate' or fill='zero' to fill the missing rows, or supply "
                "the complete series")
_IMPUTE_ADVICE = ("Pass impute='ffill', impute='interpolate' or impute='zero' to replace them, or clean "
                  "the data")
_CLI_WORDING = (
    ("train_length applies to window='sliding' (an expanding window keeps every row): pass "
     "window='sliding', or drop train_length", "--train-length applies to --window sliding (an "
     "expanding window keeps every row): add --window sliding, or drop --train-length"),
    ("To use your own file pass its path to tsmamba.data.read_series", "To use your own file pass its path"),
    ("Pass columns=[...] with the numeric", "Pass --columns with the numeric"),
    ("pass columns=[...] without it", "pass --columns without it"),
    ("columns= lists a column twice", "--columns lists a column twice"),
    ("use a shorter context_length", "use a shorter --context"),
    (", or context='full'", ", or --context-mode full"),
    ("context='full' reads the whole history", "--context-mode full reads the whole history"),
    ("norm='revin' (statistics of the whole input)", "--norm revin (statistics of the whole input)"),
    ("use context='window', or fit with norm='causal' or 'none'",
     "use --context-mode window, or fit with --norm causal or none"),
    ("Benchmark data sets can be loaded by name with tsmamba.datasets.load_dataset('ETTh1'), which looks",
     "Benchmark data sets can be given by name (--data ETTh1), which looks"),
    ("pass time_col= naming its time column", "pass --time-col NAME naming its time column"),
    ("warm a new stream on the series' history and save that",  # a damaged --state
     "remove the --state folder and run again with --history to warm a new stream"),
    ("Pass id_col=, ds_col=, value_col= to name them", "Pass --id-col, --time-col and --value-col to name "
     "them"),
    ("Pass time_col= with the name of the time column (or give a DataFrame a DatetimeIndex)",
     "Pass --time-col NAME with the name of the time column"),
    ("pass date_format= with the strptime format of the timestamps",
     "pass --date-format with the strptime format of the timestamps"),
    ("if they are all in one other format, pass date_format= (e.g. date_format='%d/%m/%Y %H:%M')",
     "if they are all in one other format, pass --date-format (e.g. --date-format '%d/%m/%Y %H:%M')"),
    ("does the format ", "does --date-format "),  # a format that was given: is it the right one?
    ("sep and decimal are both", "--sep and --decimal are both"),
    ("is date_format ", "is --date-format "),
    ("does not match date_format ", "does not match --date-format "),
    ("Pass tz= with the zone to read them in (e.g. tz='Europe/Berlin' for local time across a DST change, "
     "or tz='UTC')", "Pass --tz with the zone to read them in (e.g. --tz Europe/Berlin for local time "
     "across a DST change, or --tz UTC)"),
    ("pass encoding= with the file's encoding (e.g. encoding='latin-1')",
     "pass --encoding with the file's encoding (e.g. --encoding cp1252)"),
    ("pass encoding= with the file's own encoding", "pass --encoding with the file's own encoding"),
    ("pass encoding='utf-16'", "pass --encoding utf-16"),
    ("leave them out with columns=[...] listing the channels to use",
     "leave them out with --columns listing the channels to use"),
    # a NaN where a long-form series has no row: the fill= or impute= that fills it
    ("so give fill= (fill='zero' fills every such cell", "so give --fill (--fill zero fills every such cell"),
    ("; fill='ffill' those after the series' first value, fill='interpolate' those between two of its "
     "values) or impute=", "; --fill ffill those after the series' first value, --fill interpolate those "
     "between two of its values) or --impute"),
    ("which fill='ffill' cannot fill", "which --fill ffill cannot fill"),
    ("which fill='interpolate' cannot fill", "which --fill interpolate cannot fill"),
    ("so give impute= as well (impute='ffill' fills them backwards",
     "so give --impute as well (--impute ffill fills them backwards"),
    ("so give impute= as well (impute='interpolate' holds", "so give --impute as well (--impute interpolate "
     "holds"),
    ("fill='zero' if no row means nothing happened", "--fill zero if no row means nothing happened"),
    ("; read_panel keeps series with different spans apart for your own use", " in the file"),
    (". Drop them with columns=[...]", ". Leave them out with --columns listing the others"),
    ("fill='zero' set ", "--fill zero set "),  # the zeros after a long-form series' last row
    ("leave the series out (columns=[...] listing the others)", "leave the series out (--columns listing "
     "the others)"),
    ("(fill='ffill' carries its last value on; fill='interpolate' leaves them to impute=)",
     "(--fill ffill carries its last value on; --fill interpolate leaves them to --impute)"),
    ("(impute='ffill' fills a series' leading values backwards; impute='interpolate' and "
     "fill='interpolate' read the next value)",
     "(--impute ffill fills a series' leading values backwards; --impute interpolate and "
     "--fill interpolate read the next value)"),
    ("Fill causally (impute='zero', fill='ffill' or fill='zero') or start the backtest after them",
     "Fill causally (--impute zero, --fill ffill or --fill zero) or start the backtest after them (--start)"),
    ("(tsmamba.data.read_panel keeps them as channels of each series)",
     "(the command line reads one value per series and time)"),
    ("Sort the data by time, or pass sort=True to sort it on load", "Sort the file's rows by time first"),
    (_FILL_ADVICE, "Pass --fill ffill, --fill interpolate or --fill zero to fill the missing rows, or add "
                   "them to the file"),
    (_IMPUTE_ADVICE, "Pass --impute ffill, --impute interpolate or --impute zero to replace them, or clean "
                     "the data"),
    ("send a value, or use missing='ffill' or missing='zero'",
     "send a value, or use --missing ffill or --missing zero"),
    ("send them, or use gaps='ffill' or gaps='zero'", "send them, or use --gaps ffill or --gaps zero"),
    ("or use context='full'", "or use --context-mode full"),
    ("shorten context_length or horizon", "shorten --context or --horizon"),
    ("start later or shorten train_length", "start later (--start) or shorten --train-length"),
    ("train with norm='causal' (or 'none')", "train with --norm causal (or none)"),
    ("choose a shorter context_length", "choose a shorter --context"),
    (" val_fraction, give more rows, or pass val_df=)", " --val-fraction or give more rows)"),
    ("set input_skip=True with it", "set --input-skip true with it"),
    (" and pass the result.", " in the file first."),  # after "Resample the data ..." / "Stamp each row ..."
    ("with tz= (e.g. read_series(df, tz='Europe/Berlin'))", "with --tz (e.g. --tz Europe/Berlin)"),
    ("(a diverged fit: lower learning_rate)", "(a diverged fit: lower --learning-rate)"),
    ("or change d_model/expand", "or change --d-model or --expand"),
    ("; pick headdim dividing", "; pick --headdim dividing"),
    (" or None (unseeded)", ""),  # a seed the command line cannot leave unset
    ("lower d_model, n_layers, expand, d_state, d_conv, embed_window, head_window, head_dim, cycle_length or "
     "horizon", "lower --d-model, --n-layers, --expand, --d-state, --d-conv, --embed-window, --head-window, "
     "--head-dim, --cycle-length or --horizon"),
    ("or leave cycle_length unset", "or leave --cycle-length unset"),
    ("; leave cycle_length unset", "; leave --cycle-length unset"),
    ("extreme values, or lower learning_rate", "extreme values, or lower --learning-rate"),
    (", or as given with scale=False)", ")"),
    ("hold a comma or spaces around the name)", "hold a comma or spaces around the name, which --columns "
     "splits at and strips: list them in a --config file, columns = [...])"),
)
_CLI_PATTERNS = (
    (re.compile(r"id_col='([^']*)', ds_col='([^']*)', value_col='([^']*)'"),
     r"--id-col \1 --time-col \2 --value-col \3"),
    (re.compile(r"id_col='([^']*)', ds_col='([^']*)', value_col= \(one of (\[[^\]]*\])\)"),
     r"--id-col \1 --time-col \2 --value-col (one of \3)"),
    (re.compile(r" \(e\.g\. df\.resample\('[^']*'\)\.mean\(\)\)"), ""),  # Python examples
    (re.compile(r"\b(sep|decimal|date_format)=('[^']+')"),  # pass sep=';' and decimal=','
     lambda m: f"--{m[1].replace('_', '-')} {m[2]}"),
    (re.compile(r", or load it with pd\.read_\w+(\([^)]*\))? and pass the DataFrame"), ""),
    (re.compile(r"convert them first: pd\.to_datetime\(values, unit='\w+'(, origin='[^']*')?\)"),
     f"write them in the file {_ISO_EXAMPLE} first"),  # numbers in a time column: epoch or serial days
    (re.compile(r"or pass date_format= if they are dates written as digits \(e\.g\. "),
     "or pass --date-format if they are dates written as digits (e.g. "),
)


def _cli_wording(text: str, model_flags: bool = True) -> str:
    """A library message in the command line's words; the model's parameters become their flags
    only where the command has them (``model_flags``): predict and stream read a fitted model,
    so 'context_length=24' there is the model's setting, not '--context 24' (predict's --context
    is window or full)."""
    if not model_flags:  # the data's channels are the model's: none to leave out with --columns
        from tsmamba.data import for_fitted_channels

        text = for_fitted_channels(text)
    for library, flags in _CLI_WORDING:
        text = text.replace(library, flags)
    for pattern, flags in _CLI_PATTERNS:
        text = pattern.sub(flags, text)
    if text.startswith("--config ") or not model_flags:  # a settings file's keys as written in it
        return text
    return _PARAM_NAME.sub(lambda m: _FLAG_OF[m[1]] + (" " if m[2] else ""), text)


# what remains of the estimator's parameter names (in messages such as "window forecasts need
# context_length=8" or "random_state must be ...") as the flags that set them: the names with an
# underscore, and headdim, which prose does not use ("expand" and "horizon" it does), where they
# stand as a setting (a file d_model.csv, or channels listed "(time, context_length, ...)", are names)
_FLAG_OF = {
    **{p.name: p.flag for p in MODEL_PARAMS if "_" in p.name or p.name == "headdim"},
    "context_length": "--context", "random_state": "--seed", "train_length": "--train-length",
}
_PARAM_NAME = re.compile(  # as a setting: "name=8", "name 8", "name (8)", "name must", "name + horizon"
    r"(?<![^\s(])(" + "|".join(sorted(_FLAG_OF, key=len, reverse=True))
    + r")(?:(=)(?=\S)|(?= must\b| \(?\d| \+ ))")


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, TSMambaError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename is not None else ""
        return f"{exc.strerror}{where}"
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def _library_output(debug: bool, stderr: TextIO, model_flags: bool = True) -> Iterator[None]:
    """Quiet third-party logs and warnings (unless --debug); our warnings as one line each;
    what the libraries print (progress bars) goes to stderr, so stdout holds only the results."""
    # Lightning resets its package loggers to INFO when imported (after this runs): quiet the
    # rank-zero loggers its notes go through instead
    names = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
             "lightning.pytorch.trainer.connectors.signal_connector")  # "Received SIGTERM: 15"
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        if not debug:
            for lg in loggers:
                lg.setLevel(logging.WARNING)
            warnings.filterwarnings("ignore", module=r"(lightning|torch|pytorch_lightning)(\.|$)")
            warnings.filterwarnings("ignore", message=r".*does not have many workers.*")

            def show(message, category, filename, lineno, file=None, line=None):
                print(f"{PROG}: warning: {_cli_wording(_one_line(str(message)), model_flags)}", file=stderr)

            warnings.showwarning = show
        try:
            with contextlib.redirect_stdout(stderr):
                yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


class _Terminated(BaseException):
    """A SIGTERM during a command (a BaseException, as KeyboardInterrupt is, so that no ``except
    Exception`` holds it up): raised where the command is, so that its ``finally`` clauses remove
    what it had half written (a staged report, a save's temporary folder)."""


@contextlib.contextmanager
def _terminated_as_exception() -> Iterator[None]:
    """SIGTERM raises _Terminated while the command runs (the main thread only: elsewhere signals
    cannot be handled); the previous handler is put back after. Lightning's own handler, set while
    it trains, calls this one too."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:  # a parent's `trap '' TERM` stands
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        # None: a handler set outside Python, which cannot be put back
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """torch's CPU threads during a command: set at once when torch is loaded (and set back
    after), else through the variables torch reads as it loads, so the checks that run before it
    do not wait for its import (~1.3 s). The variables are restored afterwards, for the caller's
    later child processes; a torch the command loaded keeps ``n`` threads in this process."""
    if not n:
        yield
        return
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)
        return
    before = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(_THREAD_VARIABLES, str(n)))
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_SMALLER = "give it fewer rows or channels, or a smaller model"  # when a command runs out of memory


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tsmamba`` console script and ``python -m tsmamba``."""
    before = sys.stderr  # what libraries write there too (progress bars, logs) is taken through
    # _Stderr; started with stderr closed (`2>&-`, None), it goes nowhere (print(file=None) had
    # written it to stdout, and a progress bar failed)
    sys.stderr = _Stderr(open(os.devnull, "w") if before is None else before)  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        sys.stderr = before


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    if words and words[0].startswith("-") and words[0] not in ("-h", "--help", "--version"):
        print(f"{PROG}: error: options go after the command ({PROG} COMMAND {words[0]} ...); "
              f"the commands: {', '.join(COMMANDS)} (see: {PROG} --help)", file=sys.stderr)
        return EXIT_USAGE
    args = parser.parse_args(argv)
    if args.command is None:
        print(f"{PROG}: error: choose a command: {', '.join(COMMANDS)} (see: {PROG} --help)", file=sys.stderr)
        return EXIT_USAGE
    cmd = COMMANDS[args.command]
    if sys.stdout is None:  # started with stdout closed (`>&-`): the results would be lost
        print(f"{PROG}: error: standard output is closed, and '{PROG} {cmd.name}' prints its results "
              "there; redirect it to a file, or to /dev/null to discard them", file=sys.stderr)
        return EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    stdout, stderr = _Stdout(sys.stdout), sys.stderr
    try:
        opts, given = _resolve(cmd, args)
        run = Run(cmd.name, opts, stdout, stderr, given)
        keep_large_allocations()  # glibc: reuse freed large blocks (see tsmamba.runtime)
        with _terminated_as_exception(), _torch_threads(opts.get("threads")), \
                _library_output(debug, stderr, cmd.model), memory_errors(f"'{PROG} {cmd.name}'", _SMALLER):
            status = cmd.func(run)
        stdout.flush()  # a closed pipe shows here, not at exit
        return int(status or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=stderr)
        return 130
    except _Terminated:
        print(f"{PROG}: terminated", file=stderr)
        return 143  # 128 + SIGTERM, as a shell reports a process the signal ended
    except SystemExit as exc:  # a SIGTERM the estimator's fit saw (Lightning's SIGTERMException)
        if type(exc).__name__ != "SIGTERMException" and exc.code != 143:
            raise
        print(f"{PROG}: terminated", file=stderr)
        return 143
    except _StdoutClosed:
        # the reader went away (`tsmamba datasets | head -3`): stop quietly, as other tools do
        _discard(stdout)
        return 0
    except (TSMambaError, OSError) as exc:
        if debug:
            traceback.print_exc()
        if isinstance(exc, OutOfMemoryError) and exc.step not in ("fit", f"'{PROG} {cmd.name}'"):
            # forecasts' hint names Python arguments (batch_size) that no flag sets
            exc = OutOfMemoryError(f"'{PROG} {cmd.name}' ran out of memory{exc.asked}: {_SMALLER}")
        print(f"{PROG}: error: {_cli_wording(_one_line(_describe(exc)), cmd.model)}", file=stderr)
        return EXIT_USAGE


# --------------------------------------------------------------------------------------------
# data


def _is_path_like(text: str) -> bool:
    """A file's path rather than a registry name (ETTh1): a folder in it, or a file extension."""
    extension = re.fullmatch(r"\.[A-Za-z][A-Za-z0-9]{0,7}", Path(text).suffix)  # .csv, .xlsx, .gz
    return os.sep in text or "/" in text or extension is not None


def load_data(
    run: Run, option: str = "data", columns: Sequence[str] | None = None
) -> tuple[Any, str, str | None]:
    """(validated wide frame, label, path) for ``--data`` (or the data option ``option``, e.g.
    ``history``): a file path or a registry name. ``columns`` (default: ``--columns``) selects
    the channels and their order; a saved model's columns, for predict and stream (a long-form
    file's other series are then left out with a warning naming them)."""
    from tsmamba import datasets
    from tsmamba.data import warn_ids_left_out

    flag = "--" + option.replace("_", "-")
    source = run.get(option)
    if not source:
        raise ConfigError(f"'{PROG} {run.command}' needs {flag} PATH|NAME (a CSV file or a registry name)")
    source = str(source)
    path = Path(source).expanduser()
    fitted = columns is not None  # a model's series: the file's others are not the user's choice
    columns = run.get("columns") if columns is None else columns
    time_col = run.get("time_col")
    layout = {key: run.get(key) for key in _LAYOUT}
    zone = _zone(run.get("tz")) or model_setting(run, "tz")
    if option != "data" and _is_path_like(source) and not path.exists():
        raise DataNotFoundError(f"{flag} file not found: {path.absolute()}; check the path")
    repairs = {"fill": run.get("fill"), "impute": run.get("impute")}
    if path.exists() or _is_path_like(source):
        spec = datasets.get_spec(path, missing_ok=True) if path.is_file() else None
        carried = _saved_layout(run, layout)
        frame = None
        if spec is not None and time_col is None and not any((*layout.values(), *repairs.values())):
            try:
                frame = datasets.read_dataset_file(path, spec)
            except DataValidationError:
                if not carried:
                    raise  # else a file named like a registry's, written as the model's training file
            else:
                frame = _select(_require_regular(run, frame, path.name), columns, path.name)
        if frame is None:
            read = functools.partial(_read_file, run, path, time_col, columns, zone, repairs=repairs)
            try:
                frame = read({**layout, **carried})
            except DataValidationError as exc:
                if not carried:
                    raise
                try:  # a file written as the defaults say, where fit's was not: read as it is
                    frame = read(layout)
                except TSMambaError as without:  # both: which fits the file is the user's to say
                    raise DataValidationError(
                        f"{_one_line(str(exc))} (read with {_flags(carried)}, as '{PROG} fit' read the "
                        f"model's training file); read without them: {_one_line(str(without))}"
                    ) from None
                run.note(f"{path.name} is not written like the model's training file ({_flags(carried)}): "
                         "read as it is")
            else:
                if carried:  # as if given: stream's stdin lines are read the same way
                    run.opts.update(carried)
                    run.note(f"reading {path.name} with {_flags(carried)}, as '{PROG} fit' read the "
                             "model's training file")
        if fitted:
            warn_ids_left_out(frame, path.name)
            _on_the_models_times(run, frame, path.name)
        return _zone_used(run, frame, path.name), path.name, str(path)
    spec = datasets.get_spec(source)  # unknown names raise DataNotFoundError listing the registry
    given = [f"--{name.replace('_', '-')}" for name, value in (("time_col", time_col), *layout.items(),
                                                             *repairs.items()) if value]
    if given:  # they had been ignored
        raise ConfigError(
            f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} for a CSV file given by its "
            f"path; the registry's {spec.name} is read by its own layout (time column 'date', no "
            f"rows or values missing): drop {' and '.join(given)}, or pass the file's path"
        )
    found = datasets.find_dataset(spec.name)
    frame = _require_regular(run, datasets.load_dataset(spec.name), spec.name)
    found = found or datasets.find_dataset(spec.name)
    frame = _zone_used(run, _select(frame, columns, spec.name), spec.name)
    if fitted:
        _on_the_models_times(run, frame, spec.name)
    return frame, spec.name, None if found is None else str(found)


# how a CSV file is written, besides its time column (--time-col): a long form's id and value
# columns, the format of its timestamps, its field delimiter and decimal mark
_LAYOUT = ("id_col", "value_col", "date_format", "sep", "decimal", "encoding")
_LINE_LAYOUT = ("date_format", "sep", "decimal", "encoding")  # those of stream's stdin lines (wide)
_HISTORY_READ = ("time_col", "id_col", "value_col", "fill", "impute")  # stream's, of --history alone


def _zone_used(run: Run, frame: Any, label: str) -> Any:
    """``frame``, unless --tz was given for timestamps it cannot apply to (it was ignored)."""
    if run.get("tz") is not None and frame.index.tz is None:
        raise ConfigError(
            f"--tz {run.tz} reads timestamps written with UTC offsets, but those of {label} have "
            "none; drop --tz to use them as they are, or write them with their offsets "
            "(2024-03-31 03:00:00+02:00)"
        )
    return frame


def _on_the_models_times(run: Run, frame: Any, label: str) -> None:
    """Refuse a model's series (predict --data, stream --history) whose timestamps are not in the
    model's time zone (or have one where the model's have none) or step at another frequency,
    naming the file and how to write its times, before torch is imported (the estimator, which
    checks the same later, is given a frame)."""
    from tsmamba.data import check_model_times

    freq = model_setting(run, "freq")
    check_model_times(frame, model_setting(run, "tz"), freq if isinstance(freq, str) else None, label)


def _zone(name: str | None) -> str | None:
    """``--tz``'s zone name, checked before any data is read."""
    from tsmamba.data import check_zone

    return check_zone(name, "--tz")


def _read_file(run: Run, path: Path, time_col: str | None, columns: Sequence[str] | None, zone: Any,
               layout: Mapping[str, str | None], repairs: Mapping[str, str | None]) -> Any:
    """read_series of the CSV at ``path`` written as ``layout`` says (``_LAYOUT``'s settings)."""
    from tsmamba.data import read_series

    time_col = time_col or _fitted_time(run, path, layout)  # a model's file is read by its time column
    written = {key: value for key, value in layout.items() if value is not None}
    return read_series(path, time_col=time_col or "date", ds_col=time_col, columns=columns,
                       tz=zone, freq=model_setting(run, "freq"),  # one row is a series then
                       **written, **repairs)  # --id-col or --value-col: long form


def _saved_layout(run: Run, layout: Mapping[str, Any]) -> dict[str, str]:
    """How 'tsmamba fit' read the training CSV of the model of ``--model`` (the ``_LAYOUT`` flags it
    was given, recorded in the save), for the settings ``layout`` leaves unset; {} without one."""
    extra = model_setting(run, "extra")
    return _carried(extra.get("read") if isinstance(extra, dict) else None, layout)


def _carried(recorded: Any, layout: Mapping[str, Any]) -> dict[str, str]:
    """The reading settings ``recorded`` in a save (its ``extra["read"]``) that ``layout`` leaves
    unset (--sep and --decimal go together: giving one carries neither); {} for no record."""
    if not isinstance(recorded, dict):
        return {}
    given = {key for key in _LAYOUT if layout.get(key) is not None}
    if given & {"sep", "decimal"}:  # a pair: --sep , with a carried ',' decimal would clash
        given |= {"sep", "decimal"}
    return {key: value for key, value in recorded.items()
            if key in _LAYOUT and isinstance(value, str) and key not in given}


def _flags(settings: Mapping[str, str]) -> str:
    """Settings as the command-line flags that give them: ``--sep ';' --decimal ','``."""
    def shown(value: str) -> str:
        if value == "\t":
            return "tab"
        if "'" in value:
            return shlex.quote(value)
        return value if re.fullmatch(r"[\w-]+", value) else f"'{value}'"  # as the errors write them

    keys = dict.fromkeys((*_LAYOUT, *_HISTORY_READ))  # id_col and value_col are in both: named once
    return " ".join(f"--{key.replace('_', '-')} {shown(settings[key])}" for key in keys if key in settings)


def _fitted_time(run: Run, path: Path, layout: Mapping[str, str | None]) -> str | None:
    """The time column the model of ``--model`` was fitted with, when the CSV at ``path`` (written
    as ``layout`` says) has it (as TSMambaForecaster.predict reads a file); None without a model
    or such a column."""
    fitted = model_setting(run, "index_name")
    long_form = layout.get("id_col") is not None or layout.get("value_col") is not None
    if not isinstance(fitted, str) or (fitted == "date" and not long_form):  # long form's default: ds
        return None
    import pandas as pd

    try:
        header = pd.read_csv(path, nrows=0, sep=layout.get("sep") or ",",  # as --sep/--encoding say
                             encoding=layout.get("encoding") or "utf-8").columns
    except (OSError, ValueError):  # unreadable or not a CSV: read_series says why
        return None
    return fitted if fitted in header else None


def model_setting(run: Run, key: str) -> Any:
    """A setting of the series the model of ``--model`` was fitted on, from its ``meta.json``:
    ``"tz"`` (None if naive), ``"freq"``, ``"index_name"``; None without a model folder."""
    if not run.get("model") or not Path(run.model).is_dir():
        return None
    from tsmamba.checkpoint import FORECASTER_FORMAT, read_meta

    return read_meta(run.model, FORECASTER_FORMAT).get(key)


def model_columns(model_dir: Path) -> list[str]:
    """The channels of the model saved in ``model_dir``, read from its ``meta.json`` before torch
    is imported, so a wrong folder costs no Lightning import (the weights are checked on load)."""
    from tsmamba.checkpoint import FORECASTER_FORMAT, read_meta

    if not Path(model_dir).is_dir():
        what = "is not a folder" if Path(model_dir).exists() else "does not exist"
        raise ConfigError(f"--model {model_dir} {what}; pass the folder written by '{PROG} fit --out'")
    meta = read_meta(model_dir, FORECASTER_FORMAT)
    columns = meta.get("columns")
    if not isinstance(columns, list) or not columns:
        raise CheckpointError(f"{model_dir}: the save lists no columns; save the model again")
    return [str(c) for c in columns]


def _require_regular(run: Run, frame: Any, label: str) -> Any:
    """The frame, unless it is a published file kept with irregular timestamps (Weather): the
    estimator needs a regular series, so say so before torch is imported."""
    irregular = frame.attrs.get("irregular")
    if not irregular:
        return frame
    what = "a rolling backtest" if run.command == "backtest" else f"'{PROG} {run.command}'"
    raise DataValidationError(
        f"{label}: the published timestamps repeat or skip ({'; '.join(irregular)}), so {what} "
        f"cannot use it; it is supported only by '{PROG} backtest --protocol ltsf', which "
        "addresses rows by position. Otherwise write a regular copy (drop the repeated row, fill "
        "the missing steps) and pass its path"
    )


def _select(frame: Any, columns: Sequence[str] | None, label: str) -> Any:
    if not columns:
        return frame
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{label}: column(s) {missing} not found; the channels are {list(map(str, frame.columns))}"
        )
    return frame[list(columns)]


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):  # far from 1, fixed decimals print 20-digit integers or zeros
        # at least two significant digits: sMAPE's 2 decimals had printed 0.004 % as 0.00
        plain = value == 0 or 10.0 ** (1 - digits) <= abs(value) < 1e6
        return f"{value:.{digits}f}" if plain else f"{value:.{digits}e}"
    return str(value)


def summary_table(result: Any) -> str:
    """Model vs baselines: overall scores and the model's improvement over each baseline."""
    metrics = ("mse", "mae", "rmse", "smape", "mase")
    model = result.model_name
    baselines = len(result.scores) > 1  # without them there is no gain to show (--no-baselines)
    header = ["model", "MSE", "MAE", "RMSE", "sMAPE%", "MASE"]
    header += ["MSE gain", "MAE gain"] if baselines else []
    rows = [header]
    for name, scores in result.scores.items():
        overall = scores["overall"]
        row = [name if name == model else f"{name} (baseline)"]
        row += [_fmt(overall.get(m), 2 if m == "smape" else 4) for m in metrics]
        if name == model and baselines:
            row += ["", ""]
        elif name != model:
            gain = result.summary["improvement_pct"][name]
            row += [_gain(gain[m]) for m in ("mse", "mae")]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs).rstrip()

    lines = [line(r) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if baselines:
        lines.append(f"gain: how much lower the {model} error is than the baseline's "
                     f"(positive: {model} better)")
    per_channel = result.scores[model].get("per_channel", {})
    unscored = (getattr(result, "config", None) or {}).get("unscored") or {}
    unpaired = [c for c in unscored.get("mase_unscaled", []) if c in per_channel and "mase" in per_channel[c]]
    # a channel whose every target cell was filled or imputed scores NaN in every metric, MASE too,
    # whatever its scale: it had been called constant over the training rows
    unscaled = [c for c, v in per_channel.items()
                if "mase" in v and not math.isfinite(v["mase"]) and c not in unpaired and _scored_channel(v)]
    if unpaired:  # no observed pair in the training rows: not a constant series
        lines.append(f"MASE leaves out {unpaired}: their training rows hold no pair of observed values at "
                     "the lag MASE scales by (the others were filled or imputed)")
    if unscaled:
        what = ("MASE is missing: every channel is" if len(unscaled) == len(per_channel)
                else f"MASE leaves out {unscaled}:")
        lag = (getattr(result, "config", None) or {}).get("mase_lag")  # reports before it: None
        at = "the seasonal lag" if lag is None else f"lag {lag}, the difference MASE scales by"
        lines.append(f"{what} constant over the training rows at {at}")
    lines += _unscored_lines(unscored)
    return "\n".join(lines)


def _scored_channel(scores: Mapping[str, float]) -> bool:
    """Whether a channel's per-channel ``scores`` counted some target cell: a metric other than
    MASE (whose NaN may be its scale's) is finite, or there is none to tell by."""
    others = [v for m, v in scores.items() if m != "mase"]
    return not others or any(v is not None and math.isfinite(v) for v in others)


def _unscored_lines(unscored: Mapping[str, Any] | None) -> list[str]:
    """What the scores left out as filled or imputed when the data was read (config["unscored"])."""
    if not unscored:
        return []
    lines = []
    if unscored["target_cells"]:
        channels = ", ".join(f"{c} {k}" for c, k in list(unscored["per_channel"].items())[:5])
        more = f", ... ({len(unscored['per_channel'])} channels)" if len(unscored["per_channel"]) > 5 else ""
        empty = unscored["windows_without_target"]
        lines.append(
            f"scores leave out {unscored['target_cells']} of {unscored['of']} target cells "
            f"({channels}{more}): filled or imputed when the data was read, never observed"
            + (f"; {plural(empty, 'window')} had no observed target and score nothing" if empty else "")
        )
    if unscored["mase_scale_cells"]:
        lines.append(f"the MASE scale leaves out {unscored['mase_scale_cells']} filled or imputed "
                     "training cells")
    return lines


def _gain(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:+.1f}%" if abs(value) < 1e6 else f"{value:+.1e}%"  # a 70-digit gain, else


def _compact_json(result: Any, report_dir: Path | None) -> dict[str, Any]:
    from tsmamba.metrics import to_jsonable

    return to_jsonable(
        {
            "model": result.model_name,
            "n_windows": result.n_windows,
            "scores": result.summary["overall"],
            "improvement_pct": result.summary["improvement_pct"],
            "config": result.config,
            "data": result.data,
            "timings": result.timings,
            "report_dir": None if report_dir is None else str(report_dir),
        }
    )


def _print_report(run: Run, result: Any, out: Path, written: Mapping[str, Path], title: str) -> None:
    if run.get("json"):
        print(json.dumps(_compact_json(result, out), indent=2, allow_nan=False), file=run.stdout)
        return
    run.say(title)
    run.say(summary_table(result))
    run.say(f"report: {out}/ ({', '.join(written)})")


# --------------------------------------------------------------------------------------------
# commands


_ROLLING_HELP = "; --protocol rolling only"  # the options --protocol ltsf rejects

BACKTEST_EPILOG = """\
examples:
  # the LTSF benchmark on ETTh1 (found via $TSMAMBA_DATA or datasets/), L=96, H=96
  tsmamba backtest --data ETTh1 --protocol ltsf --context 96 --horizon 96 --out reports/etth1

  # rolling origins over your own file: one fit, an origin every 24 rows over the last 30 %
  tsmamba backtest --data sales.csv --start 0.7 --stride 24 --horizon 24 --context 168 --out reports/sales

  # refit every 10 origins on a sliding window of 2000 rows, settings from a file, JSON out
  tsmamba backtest --data load.csv --refit 10 --window sliding --train-length 2000 \\
      --config model.toml --max-epochs 3 --json --out reports/load
"""


@command(
    "backtest",
    help="evaluate a model against baselines on rolling origins or the LTSF benchmark",
    epilog=BACKTEST_EPILOG,
    model=True,
    options=[
        *DATA_OPTIONS,
        *SHAPE_OPTIONS,
        Opt("--protocol", choices=("rolling", "ltsf"), default="rolling",
            help="rolling origins (default) or the LTSF benchmark (fixed splits, scaled metrics)"),
        Opt("--start", type=start_value, metavar="ROW|FRACTION|TIME",
            help="first origin: row number, fraction of rows observed (0.7), or timestamp (default "
                 "0.7; with only --n-windows given, the windows end at the last row)"
            f"{_ROLLING_HELP}"),
        Opt("--n-windows", type=positive_int, metavar="N", help=f"at most N origins{_ROLLING_HELP}"),
        Opt("--stride", type=positive_int, default=1, metavar="K",
            help=f"rows between origins (default 1){_ROLLING_HELP}"),
        Opt("--window", choices=("expanding", "sliding"), default="expanding",
            help=f"training window (default expanding){_ROLLING_HELP}"),
        Opt("--train-length", type=positive_int, metavar="ROWS",
            help=f"rows of a sliding training window{_ROLLING_HELP}"),
        Opt("--refit", type=refit_value, default=False, metavar="false|true|K",
            help=f"refit never (default), at every origin, or every K origins{_ROLLING_HELP}"),
        Opt("--context-mode", choices=("window", "full"), default="window",
            help=f"forecast from the last L rows (default), or the whole history in one recurrent "
            f"pass{_ROLLING_HELP}"),
        Opt("--baselines", action=argparse.BooleanOptionalAction, default=True,
            help="score the baselines beside the model (default); --no-baselines skips them"),
        Opt("--out", type=pathname, default=Path("reports/backtest"), metavar="DIR",
            help="report folder (default reports/backtest)"),
        Opt("--all-forecasts", action=argparse.BooleanOptionalAction, default=False,
            help="write every forecast row to forecasts.csv (default: at most 250,000 rows)"),
        Opt("--json", action=argparse.BooleanOptionalAction, default=False,
            help="print the scores as JSON on stdout"),
    ],
)
def cmd_backtest(run: Run) -> int:
    """Backtest a TSMambaForecaster against the baselines (last value, seasonal naive, linear)
    and write a report folder: metrics.json, metrics.csv, forecasts.csv and figures."""
    out: Path = run.opts["out"]
    _check_out_dir(out)
    if run.protocol == "ltsf":
        result = _backtest_ltsf(run)
        title = (f"{result.data['name']} - LTSF protocol, context {result.config['context_length']}, "
                 f"horizon {result.config['horizon']}: {result.n_windows} test windows, scores on "
                 "scaled data")
    else:
        result = _backtest_rolling(run)
        title = (f"{result.data['source']} - rolling origins, context {result.config['context_length']}, "
                 f"horizon {result.config['horizon']}: {plural(result.n_windows, 'window')}, "
                 f"{plural(result.config['n_fits'], 'fit')}, scores in the data's units")
    written = _save(run, result, out)
    _print_report(run, result, out, written, title)
    return 0


def _check_out_dir(out: Path) -> None:
    """A report folder that can be written, checked before the work (a read-only or impossible
    --out was found only after the whole backtest): the folder, or the nearest of its parents
    that exists, must take a file. Nothing is created (a failed run leaves no folder)."""
    from tsmamba.checkpoint import check_parents

    if check_parents(out).exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    _check_writable(out, out.absolute())


def _written_beside(path: Path) -> Path:
    """The folder a save to ``path`` is written in (then moved into place): the parent of the
    folder a symlink names, as the save follows it."""
    return Path(os.path.realpath(path)).parent


def _check_writable(out: Path, start: Path, flag: str = "--out") -> None:
    """ConfigError unless ``start``, or the nearest of its parents that exists, takes a new file:
    where --out's files go (a report folder), or where a save or a CSV is written beside --out
    (its parent: fit's --out to a read-only folder had failed after the training). Nothing is
    created."""
    import tempfile

    existing = next(p for p in (start, *start.parents) if p.exists())
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{flag} {out} cannot be written ({existing}: {exc.strerror or exc}); choose another folder"
        ) from None


def _check_not_read_only(out: Path) -> None:
    """ConfigError when the file ``out`` (through a symlink) is read-only: this user may not write
    it, or no one may (``chmod a-w``, which root could). The new file is moved onto it, which its
    mode does not stop, and a forecast kept read-only had been replaced without a word."""
    try:
        mode = os.stat(out).st_mode
    except OSError:  # none there yet
        return
    if not os.access(out, os.W_OK) or not mode & 0o222:
        own = os.stat(out).st_uid == os.geteuid()  # another user's file: chmod is not this user's to run
        fix = "make it writable (chmod u+w) to write over it, or choose another path" if own else (
            "it belongs to another user: choose another path")
        raise ConfigError(f"--out {out} is read-only, so it is not replaced; {fix}")


def _forecast_rows(run: Run) -> int | None:
    """Rows of tidy forecasts a report keeps (evenly spaced origins); None with --all-forecasts."""
    return None if run.get("all_forecasts") else 250_000


def _save(run: Run, result: Any, out: Path) -> dict[str, Path]:
    run.note(f"writing the report to {out}/ ...")
    return result.save_report(out, max_forecast_rows=_forecast_rows(run))


def _backtest_rolling(run: Run) -> Any:
    frame, label, _ = load_data(run)
    from tsmamba.backtest import backtest, plan_backtest

    # check the window arithmetic before importing torch and Lightning
    plan_backtest(
        len(frame), run.horizon, context_length=run.context, start=run.get("start"),
        n_windows=run.get("n_windows"), stride=run.stride, window=run.window,
        train_length=run.get("train_length"), refit=run.refit, context=run.context_mode,
        index=frame.index,
    )  # fmt: skip
    check_context_norm(run.context_mode, run.get("norm"))  # the estimator's rule, before torch
    from tsmamba.estimator import TSMambaForecaster

    forecaster = TSMambaForecaster(**run.model_params())
    run.note(f"backtesting on {label}: {plural(len(frame), 'row')} x {plural(frame.shape[1], 'channel')}")
    return backtest(
        forecaster, frame, run.horizon, start=run.get("start"), n_windows=run.get("n_windows"),
        stride=run.stride, window=run.window, train_length=run.get("train_length"), refit=run.refit,
        context=run.context_mode, baselines=run.baselines, progress=not run.quiet, data_name=label,
        max_forecast_rows=_forecast_rows(run),
    )  # fmt: skip


_ROLLING_ONLY = ("start", "n_windows", "stride", "window", "train_length", "refit", "context_mode")


def _refuse_split_options(run: Run, who: str) -> None:
    """The LTSF protocol's splits are its own and its file is read as written: --val-fraction and
    --tz, given (as flags or in --config), would be recorded in the report but not used."""
    given = [f"--{key.replace('_', '-')}" for key in ("val_fraction", "tz") if key in run.given]
    if given:
        raise ConfigError(
            f"{who} validates on the protocol's own split and reads the file's timestamps as "
            f"written; drop {', '.join(given)} (from the command line or --config)"
        )


_LTSF_WORDING = (
    (_FILL_ADVICE, "Add the missing rows to the file first (--protocol ltsf reads its rows as written)"),
    (_IMPUTE_ADVICE, "Fill them in the file first (--protocol ltsf reads its rows as written)"),
)


def _backtest_ltsf(run: Run) -> Any:
    from tsmamba import datasets
    from tsmamba.backtest import backtest_ltsf
    from tsmamba.data import prepare_ltsf, read_series

    source = run.get("data")
    if not source:
        raise ConfigError(f"'{PROG} backtest' needs --data PATH|NAME (a CSV file or a registry name)")
    as_published = [f"--{key.replace('_', '-')}" for key in ("columns", "fill", "impute") if run.get(key)]
    if as_published:
        raise ConfigError(
            "--protocol ltsf uses every channel and row of the benchmark file as published; drop "
            + "/".join(as_published)
        )
    reading = [f"--{key.replace('_', '-')}" for key in ("time_col", *_LAYOUT) if run.get(key)]
    rolling = [f"--{key.replace('_', '-')}" for key in _ROLLING_ONLY if key in run.given]
    if rolling:
        raise ConfigError(
            f"--protocol ltsf has fixed splits and windows; drop {', '.join(rolling)} (from the "
            "command line or --config): they apply to --protocol rolling only"
        )
    _refuse_split_options(run, "--protocol ltsf")
    path = Path(str(source)).expanduser()
    if path.is_dir():
        raise ConfigError(f"--data {path} is a directory, not a data file; pass a CSV file inside it")
    if not path.exists():
        if _is_path_like(str(source)):
            raise DataNotFoundError(f"data file not found: {path.absolute()}; check the path")
        datasets.get_spec(str(source))  # unknown names: one clear error listing the registry
        if reading:
            raise ConfigError(f"--data {source} is a registry data set, read as published; drop "
                              + "/".join(reading))
    data: Any = str(source)
    kind = None
    try:
        if path.exists() and not path.is_file():  # a pipe (<(zcat ...)): read once, here, as a frame
            data = read_series(path)
            data.attrs["source"] = str(source)
        elif reading:  # how to read the file: its time column, a long form's id and value columns
            data, _, _ = load_data(run)
            data.attrs["source"] = str(source)  # the path as given, for the report and messages
            spec = datasets.get_spec(path, missing_ok=True)
            kind = spec.kind if spec is not None else None  # the published split of a renamed copy
        # validated before Lightning loads, and read and scaled once: the backtest takes it as is
        data = prepare_ltsf(data, run.context, run.horizon, kind=kind)
    except DataValidationError as exc:  # --fill and --impute are refused here: the file is the fix
        text = str(exc)
        for library, fix in _LTSF_WORDING:
            text = text.replace(library, fix)
        raise DataValidationError(text) from exc
    run.note(f"LTSF protocol on {source}: training on the train split, scoring every test window")
    params = run.model_params()
    params.pop("context_length"), params.pop("horizon")
    return backtest_ltsf(params, data, run.context, run.horizon, baselines=run.baselines,
                         max_forecast_rows=_forecast_rows(run))


FIT_EPILOG = """\
examples:
  tsmamba fit --data ETTh1 --context 96 --horizon 24 --max-epochs 5 --out models/etth1
  tsmamba fit --data sales.csv --time-col day --columns units,price --config model.toml --out models/sales
"""


@command(
    "fit",
    help="train a model on a series and save it",
    epilog=FIT_EPILOG,
    model=True,
    options=[
        *DATA_OPTIONS,
        *SHAPE_OPTIONS,
        Opt("--out", type=pathname, metavar="MODEL_DIR", help="folder to save the model to (required)"),
    ],
)
def cmd_fit(run: Run) -> int:
    """Train a TSMambaForecaster on the whole series (the last val_fraction of the rows for early
    stopping) and save it to a folder that 'tsmamba predict --model' reads."""
    from tsmamba.checkpoint import FORECASTER_FORMAT, check_replaceable

    out = run.get("out")
    if out is None:
        raise ConfigError(f"'{PROG} fit' needs --out MODEL_DIR (where to save the model)")
    check_replaceable(out, FORECASTER_FORMAT)  # before the training, not after it
    _check_writable(out, _written_beside(out))
    from tsmamba.data import constant_warnings_off

    with constant_warnings_off():  # the fit's scaler names them (it had been twice)
        frame, label, _ = load_data(run)
    from tsmamba.data import check_length

    check_length(len(frame), run.context + run.horizon,
                 f"training with context {run.context} + horizon {run.horizon}")
    from tsmamba.estimator import TSMambaForecaster

    forecaster = TSMambaForecaster(**run.model_params())
    run.note(f"training on {label}: {plural(len(frame), 'row')} x {plural(frame.shape[1], 'channel')}")
    t0 = time.perf_counter()
    forecaster.fit(frame)
    seconds = time.perf_counter() - t0
    read = {key: run.get(key) for key in _LAYOUT if run.get(key) is not None}  # for predict and stream
    saved = forecaster.save(out, extra={"read": read} if read else None)
    history = forecaster.history_
    best = history.get("best_val_loss")
    run.say(
        f"trained {history.get('n_parameters')} parameters on {history.get('train_windows')} windows: "
        f"{history.get('epochs')} epoch(s) in {seconds:.1f} s"
        + ("" if best is None else f", best validation loss {best:.4f} (epoch {history.get('best_epoch')})")
    )
    run.say(f"model saved to {saved}/")
    return 0


PREDICT_EPILOG = """\
examples:
  # forecast after the series the model was trained on
  tsmamba predict --model models/etth1
  # forecast after new data, reading its whole history through the recurrent state
  tsmamba predict --model models/etth1 --data ETTh1_latest.csv --context full --out forecast.csv

--data needs the model's channels (other columns are left out); the forecast has them in the
model's order. A --data file is read with the --date-format, --sep, --decimal, --encoding,
--id-col and --value-col that 'tsmamba fit' was given, unless given here (a note says so).
"""


@command(
    "predict",
    help="forecast the next horizon steps with a saved model",
    epilog=PREDICT_EPILOG,
    options=[
        Opt("--model", type=pathname, metavar="MODEL_DIR", help="folder written by 'tsmamba fit' (required)"),
        Opt("--data", metavar="PATH|NAME",
            help="series to forecast from, holding the model's channels (default: the series the "
            "model was trained on)"),
        Opt("--time-col", metavar="NAME", help=TIME_COL_HELP),
        *writing_options(" of --data"),
        *LONG_FORM_OPTIONS,
        *repair_options(),
        Opt("--context", "--context-mode", dest="context", choices=("window", "full"), default="window",
            help="window: the last context_length rows (default); full: the whole series"),
        Opt("--out", type=pathname, metavar="CSV", help="write the forecast here (default: print it)"),
    ],
)
def cmd_predict(run: Run) -> int:
    """Forecast the horizon steps after the end of a series with a saved model; prints CSV
    (time column plus one column per channel) or writes it to --out."""
    model_dir = run.get("model")
    if model_dir is None:
        raise ConfigError(f"'{PROG} predict' needs --model MODEL_DIR (a folder written by 'tsmamba fit')")
    for flag, what in (("time_col", "names the time column of"), ("id_col", "names the id column of"),
                       ("value_col", "names the value column of"), ("fill", "fills the gaps of"),
                       ("impute", "replaces the missing values of"),
                       ("date_format", "reads the timestamps of"), ("sep", "splits the fields of"),
                       ("decimal", "reads the decimal mark of"), ("encoding", "decodes")):
        if run.get(flag) is not None and not run.get("data"):  # they had been ignored
            output = ("" if flag not in ("date_format", "sep", "decimal") else ": the forecast is written "
                      "with ISO 8601 times, ',' between fields and '.' decimals")
            raise ConfigError(f"--{flag.replace('_', '-')} {what} --data; give --data too (or drop it)"
                              + output)
    columns = model_columns(model_dir)
    out = run.get("out")
    if out is not None:  # checked before the work, like the other commands' --out
        from tsmamba.checkpoint import appended_to, check_parents

        if check_parents(out).is_dir():
            raise ConfigError(f"--out {out} is a folder; give the path of the CSV file to write")
        if not appended_to(out):  # a file, written beside its path then moved in
            _check_writable(out, _written_beside(out))
            _check_not_read_only(out)
    frame = None
    if run.get("data"):
        frame, _, _ = load_data(run, columns=columns)  # the model's channels, checked before torch
    from tsmamba.estimator import TSMambaForecaster

    forecaster = TSMambaForecaster.load(model_dir)
    forecast = forecaster.predict(frame, context=run.context)
    forecast.index.name = forecast.index.name or "date"
    if out is None:
        run.stdout.write(forecast.to_csv())
        return 0
    from tsmamba.checkpoint import atomic_write_bytes

    atomic_write_bytes(out, forecast.to_csv().encode())
    done = f"{plural(len(forecast), 'step')} x {plural(forecast.shape[1], 'channel')} written to {out}"
    if _is_stdout(out, run.stdout):  # --out /dev/stdout: stdout holds the CSV alone
        print(done, file=run.stderr)
    else:
        run.say(done)
    return 0


def _is_stdout(path: Path, stdout: TextIO) -> bool:
    """Whether ``path`` is the file, pipe or device that ``stdout`` writes to."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(stdout.fileno()))
    except (OSError, ValueError, AttributeError):  # no such file, or a stdout with no descriptor
        return False


@command(
    "datasets",
    help="list the benchmark data sets and where each file was found",
    epilog="examples:\n  tsmamba datasets\n  tsmamba datasets --verify\n"
    "  TSMAMBA_DATA=/data/ltsf tsmamba datasets --json\n",
    options=[
        Opt("--data-dir", type=pathname, metavar="DIR", help="also look in this folder first"),
        Opt("--verify", action=argparse.BooleanOptionalAction, default=False,
            help="read each file found and check its sha256 (status 2 if one does not match)"),
        Opt("--json", action=argparse.BooleanOptionalAction, default=False, help="print JSON"),
    ],
)
def cmd_datasets(run: Run) -> int:
    """List the registry: name, kind of LTSF split, frequency, size, what the file's sha256 is
    checked against (with --verify: whether it matches) and the file found (looked up in
    --data-dir, $TSMAMBA_DATA, then the download folder); remove what killed downloads left."""
    from tsmamba import datasets

    if run.get("data_dir") is not None and not run.data_dir.expanduser().is_dir():  # it had been listed
        raise ConfigError(f"--data-dir {run.data_dir} is not a folder; give the folder that holds the "
                          "data files, or leave it out")
    datasets.check_data_env()  # a file or a missing folder had been listed as searched
    entries = datasets.list_datasets(run.get("data_dir"), verify=run.get("verify"))
    if run.get("json"):
        print(json.dumps(entries, indent=2), file=run.stdout)
    else:
        rows = [["name", "kind", "freq", "rows", "channels", "sha256", "file"]]
        for e in entries:
            fetched = "; downloaded on first use" if e["download"] else ""
            if e["download"] and e["download"] != e["file"]:  # ETTm1.csv.gz is fetched as ETTm1.csv
                fetched += f" as {e['download']}"
            where = e["path"] or f"not found ({e['file']}{fetched})"
            check = {True: "verified", False: "MISMATCH"}.get(
                e["verified"], "unreadable" if e["problem"] else e["sha256"] or "no digest")
            rows.append([e["name"], e["kind"], e["freq"], str(e["n_rows"]), str(e["n_channels"]),
                         check if e["path"] else "-", where])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        for r in rows:
            run.say("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=False)) + "  " + r[-1])
    for e in entries:
        if e["problem"]:
            run.say(f"{e['name']}: {e['problem']}")
    root = (f"${datasets.DATA_ENV} = {datasets.data_root()}" if os.environ.get(datasets.DATA_ENV)
            else f"{datasets.data_root()} (${datasets.DATA_ENV} unset)")
    searched = [root] + ([str(datasets.download_dir())]
                         if datasets.download_dir() != datasets.data_root() else [])
    if run.get("data_dir") is not None:
        searched.insert(0, f"--data-dir {run.data_dir.expanduser()}")
    run.say("searched: " + ", then ".join(searched))
    _say_partial_downloads(run, datasets.partial_downloads(run.get("data_dir"), remove=True))
    failed = [e for e in entries if e["verified"] is False]
    if failed:
        one = len(failed) == 1
        raise ChecksumError(
            f"{failed[0]['path'] if one else plural(len(failed), 'file')} failed the sha256 check (above): "
            f"delete {'it' if one else 'them'} ({'it is' if one else 'they are'} downloaded again when "
            f"next used) or point ${datasets.DATA_ENV} at a folder that holds the published "
            f"file{'' if one else 's'}"
        )
    unread = [e for e in entries if e["problem"]]
    if unread:  # a file that could not be read to check it (above)
        raise ChecksumError(f"{plural(len(unread), 'file')} could not be read for the sha256 check (above)")
    return 0


def _size(n_bytes: int) -> str:
    """'512 bytes', '3.2 KiB', '48.1 MiB', '1.3 GiB'."""
    if n_bytes < 1024:
        return plural(n_bytes, "byte")
    for unit in ("KiB", "MiB", "GiB"):
        n_bytes /= 1024
        if n_bytes < 1024 or unit == "GiB":
            break
    return f"{n_bytes:,.1f} {unit}"


def _say_partial_downloads(run: Run, parts: list[dict[str, Any]]) -> None:
    """What killed downloads left in the data folders (removed), and what is left: downloads in
    progress, abandoned files that may not be removed, and checksum records without their file."""
    for state, what in (("removed", "removed {} that killed downloads had left"),
                        ("abandoned", "{} that killed downloads left could not be removed (delete by hand)"),
                        ("in progress", "{} of downloads in progress (or, without flock, stopped less "
                         "than an hour ago)"),
                        ("orphan record", "{} with no data file beside it (a download killed before "
                         "putting the file in place, or the file deleted), kept: a file put there is "
                         "checked against it (a download writes a new one); delete it unless it holds "
                         "that file's sha256")):
        some = [p for p in parts if p["state"] == state]
        if some:
            size = sum(p["bytes"] for p in some)
            files = (plural(len(some), "checksum record") if state == "orphan record"
                     else f"{plural(len(some), 'partial file')} ({_size(size)})")
            run.say(what.format(files) + ": " + ", ".join(p["path"] for p in some))


DEMO_SETTINGS: dict[str, Any] = {
    "context": 96,
    "horizon": 96,
    "d_model": 32,
    "n_layers": 2,
    "d_state": 16,
    "channel_mode": "independent",
    "norm": "none",
    "head_dim": 8,
    "cycle_length": 24,
    "input_skip": True,
    "max_epochs": 3,
    "patience": 2,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "train_stride": 4,
}
"""The demo's model: small enough to train on ETTh1's train split (every 4th window) and score its
2785 test windows in a few minutes on 2 CPU cores. Channel-independent, with what moved ETTh1
accuracy most (docs/results.md): the windowed head (head_window = context_length) with a compact
projection (head_dim 8), the learned daily cycle (24 hourly steps) and the input skip; no per-window
normalisation (the validation split preferred none)."""


def _as_flags(settings: Mapping[str, Any], width: int = 94) -> str:
    """``{"d_model": 32, ...}`` as indented lines of ``--d-model 32, ...`` for a help text."""
    items = [f"--{key.replace('_', '-')} {str(value).lower() if isinstance(value, bool) else value}"
             for key, value in settings.items()]
    lines = [""]
    for item in items:
        if lines[-1] and len(lines[-1]) + len(item) + 2 > width:
            lines[-1] += ","
            lines.append(item)
        else:
            lines[-1] = f"{lines[-1]}, {item}" if lines[-1] else item
    return "\n".join("  " + line for line in lines)


@command(
    "demo",
    help="run a small LTSF backtest on ETTh1 (or synthetic data offline) and write the report",
    epilog=f"the demo's settings: context {DEMO_SETTINGS['context']} and horizon {DEMO_SETTINGS['horizon']}, "
    "and these, which model options and --config\noverride (in a JSON --config, null switches "
    "cycle_length or head_dim off):\n"
    + _as_flags({k: v for k, v in DEMO_SETTINGS.items() if k not in ("context", "horizon")})
    + "\n\nexamples:\n  tsmamba demo --out reports/demo\n"
    "  tsmamba demo --synthetic --max-epochs 1 --out /tmp/demo\n",
    model=True,
    model_defaults=DEMO_SETTINGS,
    unlisted=("val_fraction",),  # the protocol's own split
    options=[
        Opt("--out", type=pathname, default=Path("reports/demo"), metavar="DIR",
            help="report folder (default reports/demo)"),
        Opt("--synthetic", action=argparse.BooleanOptionalAction, default=False,
            help="use the synthetic ETT-like series even when ETTh1 is available"),
        Opt("--json", action=argparse.BooleanOptionalAction, default=False,
            help="print the scores as JSON on stdout"),
    ],
)
def cmd_demo(run: Run) -> int:
    """The LTSF benchmark on ETTh1 (context 96, horizon 96) with a small model, against the
    baselines. ETTh1 is looked up in $TSMAMBA_DATA, then the download folder, then downloaded; without it
    (offline), a synthetic ETT-like series stands in, and the output says so."""
    from tsmamba import datasets
    from tsmamba.backtest import backtest_ltsf

    _refuse_split_options(run, f"'{PROG} demo' (the LTSF protocol)")
    for key, value in DEMO_SETTINGS.items():
        run.opts.setdefault(key, value)
    out: Path = run.opts["out"]
    _check_out_dir(out)
    source: Any
    if run.get("synthetic"):
        source, label, why = None, "synthetic", "--synthetic was given"
    else:
        try:
            path = datasets.find_dataset("ETTh1")
            if path is None:  # not in $TSMAMBA_DATA or the download folder: try to download it
                run.note("ETTh1 not found locally; trying to download it ...")
                datasets.load_dataset("ETTh1")
                path = datasets.find_dataset("ETTh1")
            else:  # the backtest reads the path unchecked: a corrupt copy is refused, as --data ETTh1 does
                datasets.verify_file(path)
            source, label, why = str(path), "ETTh1", None
        except DataNotFoundError as exc:
            source, label, why = None, "synthetic", f"ETTh1 is not available ({_one_line(str(exc))[:160]})"
    if source is None:
        frame = datasets.synthetic_ett(n_rows=6000, seed=run.get("seed") or 0).set_index("date")
        run.say(f"NOTE: using the synthetic ETT-like series (6000 hourly rows, 7 channels): {why}")
        source, kind = frame, "custom"
    else:
        run.note(f"ETTh1 found at {source}")
        kind = None
    params = run.model_params()
    context, horizon = params.pop("context_length"), params.pop("horizon")
    run.note(
        f"demo: LTSF protocol, context {context}, horizon {horizon}, d_model {params['d_model']}, "
        f"{params['n_layers']} layers, {params['channel_mode']} channels, at most {params['max_epochs']} "
        "epochs (a few minutes on 2 CPU cores; add --threads 1 when the machine is busy)"
    )
    result = backtest_ltsf(params, source, context, horizon, kind=kind, max_forecast_rows=_forecast_rows(run))
    result.data["source"] = label if label == "synthetic" else result.data["source"]
    written = _save(run, result, out)
    title = (f"demo on {label} - LTSF protocol, context {context}, horizon {horizon}: "
             f"{result.n_windows} test windows, scores on scaled data")
    _print_report(run, result, out, written, title)
    return 0


# --------------------------------------------------------------------------------------------
# stream

STREAM_EPILOG = """\
Reads new observations as CSV lines on standard input, the time first, then one value per
channel, and writes one JSON line per forecast on standard output, flushed per line:

  {"timestamp": "...", "index": ["...", ...], "columns": ["HUFL", ...], "forecast": [[...], ...]}

The values are in the model's channel order (the "columns" of each JSON line), unless the first
non-empty line is a header: its time field holds no digit and is a word (such as "date", "now";
not a missing-value word such as "NA"), or it is no timestamp and the line names every model
channel or holds text among its values. A header must name every model channel once, in any
order (other names are ignored) after the time, or the command stops with one error line naming
the problem. Lines may end in LF, CRLF or CR alone. A
mistyped timestamp followed by numbers is a bad row, not a header. Without --date-format, --sep,
--decimal and --encoding, the history and the lines are read as 'tsmamba fit' read the model's
training file (a resumed --state: as its earlier runs read their lines); a note says so.

A bad line (not CSV, e.g. a stray quote; wrong field count; non-numeric or infinite value; a
timestamp not after the last; a gap) prints one error line on standard error and the stream goes
on; the state is unchanged. Each line is one observation (a quoted field cannot span lines); a
byte-order mark before the first line is ignored. The exit status is 0 when every line was used,
3 when the input was read to its end but some lines were rejected, 2 when an error stopped the
command, 130 after Ctrl-C and 143 after SIGTERM. With --state, one run at a time uses the folder
(a second is refused while the first runs), and the stream is saved there when the run ends, as
it may (a killed run, SIGKILL, leaves the last save: --save-every N keeps it recent).

examples:
  tsmamba stream --model model/ --history history.csv < new_rows.csv
  tail -f feed.csv | tsmamba stream --model model/ --history history.csv --missing ffill
  tsmamba stream --model model/ --history history.csv --state state/ < new_rows.csv  # resumable
"""


@command(
    "stream",
    help="online forecasts: one JSON line per new observation read from stdin",
    epilog=STREAM_EPILOG,
    options=[
        Opt("--model", type=pathname, metavar="MODEL_DIR", help="folder written by 'tsmamba fit' (required)"),
        Opt("--history", metavar="CSV|NAME",
            help="series to warm the state on, holding the model's channels (required, unless "
                 "--state holds a saved stream)"),
        Opt("--state", type=pathname, metavar="DIR",
            help="folder of the stream's state: resumed from when it holds one (--history is then "
                 "not read, and --time-col, --fill, --impute must be those it was read with), and "
                 "saved there when the input ends or the command is stopped "
                 "(Ctrl-C, SIGTERM, an error); its parent folder is created when missing"),
        Opt("--save-every", type=positive_int, metavar="N",
            help="also save --state after every N lines used (default: only at the end)"),
        Opt("--time-col", metavar="NAME", help="time column of the history CSV (default: date; ds in "
            "long form)"),
        *writing_options(" of the history CSV and of the lines read from stdin",
                         encoding_default="as 'fit' read the model's file, or as a resumed --state's runs "
                                          "read; else utf-8 for the CSV, the locale's encoding for stdin"),
        *LONG_FORM_OPTIONS,
        *repair_options(" of the history CSV"),
        Opt("--missing", choices=("reject", "ffill", "zero"), default="reject",
            help="a NaN value: reject the row (default), carry the channel's last value forward, "
                 "or read it as 0"),
        Opt("--gaps", choices=("reject", "ffill", "zero"), default="reject",
            help="missing time steps: reject the row (default), fill them with the last values, "
                 "or with zeros"),
    ],
)
def cmd_stream(run: Run) -> int:
    """Warm a stream on --history (or resume the one saved in --state), then forecast after every
    line read from stdin."""
    from tsmamba.checkpoint import STREAM_FORMAT, check_replaceable, held_alone, read_meta

    state_dir = run.get("state")
    if run.get("save_every") is not None and state_dir is None:
        raise ConfigError("--save-every N saves the stream to --state DIR; give --state too (or drop it)")
    if sys.stdin is None:  # started with stdin closed (`<&-`): a TypeError's traceback had come out
        raise ConfigError("standard input is closed: stream reads the observations from it; pipe "
                          "them in (or redirect a file, < lines.csv)")
    with contextlib.ExitStack() as held:
        if state_dir is not None:  # a model's folder, other files or a read-only place: before the work
            _check_writable(state_dir, _written_beside(state_dir), "--state")
            try:  # one run at a time: two resuming one save would each save over the other's lines
                held.enter_context(held_alone(state_dir))
            except CheckpointError as exc:
                raise ConfigError(f"--state {exc}") from None
        saved = False
        if state_dir is not None:  # held: no save of another run half moved in
            try:
                saved = _saved_stream(state_dir)
            except CheckpointError:  # another kind of save, or no save: said as a save there would say it
                check_replaceable(state_dir, STREAM_FORMAT)
                raise
            if not saved:
                check_replaceable(state_dir, STREAM_FORMAT)
        if run.get("model") is None or (run.get("history") is None and not saved):
            where = "" if state_dir is None else f" (--state {state_dir} holds no saved stream yet)"
            raise ConfigError(f"'{PROG} stream' needs --model MODEL_DIR and --history CSV{where}")
        history_read = {key: run.get(key) for key in _HISTORY_READ if run.get(key) is not None}
        if saved:  # the history is not read again: its flags must be those it was read with
            history_read = _resumed_history_read(state_dir, history_read)
        columns = model_columns(run.model)
        history = None
        if not saved:
            history, _, _ = load_data(run, option="history", columns=columns)  # checked before torch
        from tsmamba.estimator import TSMambaForecaster
        from tsmamba.streaming import CSVLineReader, Stream

        forecaster = TSMambaForecaster.load(run.model)
        if saved:  # stdin is read as the runs before read theirs (recorded in the save), else as
            # the model's training file was read, as a --history file would be
            extra = read_meta(state_dir, STREAM_FORMAT).get("extra")
            recorded = extra.get("read") if isinstance(extra, dict) else None
            if isinstance(recorded, dict):
                lines = _carried(recorded, run.opts)
                how = f"as the stream saved in {state_dir} read its lines"
            else:  # saved before streams recorded it
                lines, how = _saved_layout(run, run.opts), f"as '{PROG} fit' read the model's training file"
            lines = {key: value for key, value in lines.items() if key in _LINE_LAYOUT}
            if lines:
                run.opts.update(lines)
                run.note(f"reading stdin with {_flags(lines)}, {how}")
            stream = Stream.load(state_dir, forecaster)  # names a damaged file, and how to start afresh
            # then, what else the folder holds; its files, just read and hashed by the load, are not
            # hashed again while its meta.json is the one they were checked against (the folder is held)
            check_replaceable(state_dir, STREAM_FORMAT, verified=stream._loaded_meta)
            stream.missing, stream.gaps = run.missing, run.gaps  # the command line's policies
            unread = "; --history is not read" if run.get("history") else ""
            run.note(f"resuming the stream saved in {state_dir} (last observation "
                     f"{stream.last_timestamp}){unread}")
        else:
            stream = forecaster.stream(history=history, missing=run.missing, gaps=run.gaps)
        time_name = history.index.name if history is not None else forecaster.index_.name
        reader = CSVLineReader(columns, encoding=run.get("encoding") or getattr(sys.stdin, "encoding", None)
                               or "utf-8",
                               time_name=time_name or "date", date_format=run.get("date_format"),
                               sep=run.get("sep") or ",", decimal=run.get("decimal") or ".")
        read = {key: run.get(key) for key in _LINE_LAYOUT if run.get(key) is not None}  # for a resume
        extra = {"read": read} if history_read is None else {"read": read, "history": history_read}
        with _saved_at_the_end(stream, state_dir, run.get("save_every"), extra) as used:
            return _stream_lines(run, stream, reader, columns, used)


def _resumed_history_read(state_dir: Path, given: dict[str, str]) -> dict[str, str] | None:
    """How the history of the stream saved in ``state_dir`` was read (its --time-col, --fill, ...,
    as recorded; None for a save before the record, which resumes unchecked, as it did); ConfigError
    when ``given`` differs from it,
    since a resumed stream does not read --history and the flags would not apply (they had been
    ignored without a word)."""
    from tsmamba.checkpoint import STREAM_FORMAT, read_meta

    extra = read_meta(state_dir, STREAM_FORMAT).get("extra")
    recorded = extra.get("history") if isinstance(extra, dict) else None
    if not isinstance(recorded, dict):  # saved before streams recorded it: nothing to check against
        return None  # (refusing would stop the restart of a service whose command line has --fill)
    if given and given != {key: value for key, value in recorded.items() if key in given}:
        was = f"with {_flags(recorded)}" if recorded else "without them"
        raise ConfigError(
            f"--state {state_dir} resumes a saved stream and does not read --history, so {_flags(given)} "
            f"would not apply (its history was read {was}); drop {'them' if len(given) > 1 else 'it'}, "
            "or give another --state to warm a new stream"
        )
    return recorded


def _saved_stream(state_dir: Path) -> bool:
    """Whether --state holds a stream to resume (False: nothing there yet, or an empty folder);
    ConfigError when it holds a stream of several series (saved through the library: stdin
    gives one series)."""
    from tsmamba.checkpoint import STREAM_FORMAT, read_meta

    saved = state_dir.is_dir() and any(state_dir.iterdir())
    meta = read_meta(state_dir, STREAM_FORMAT) if saved else {}
    if meta.get("single") is False:
        raise ConfigError(
            f"--state {state_dir} holds a stream of {len(meta.get('ids', []))} series, saved by the "
            f"Python API; '{PROG} stream' reads one series from stdin: resume it with Stream.load "
            "and update it with a mapping of series, or choose another folder"
        )
    return saved


@contextlib.contextmanager
def _saved_at_the_end(stream: Any, state_dir: Path | None, every: int | None,
                      extra: Mapping[str, Any]) -> Iterator[Callable[[], None]]:
    """Yields the function to call after each line a stream used; saves the stream to
    ``state_dir`` (with ``extra``) after every ``every`` such lines, and once more when the command
    ends, however it ends (input read, Ctrl-C, SIGTERM, an error). The signals wait while a line
    is used, so a stop comes between lines, and the state saved is that of the last line used."""
    count = 0

    def used() -> None:
        nonlocal count
        count += 1
        if every and count % every == 0:
            stream.save(state_dir, extra=extra)

    try:
        yield used
    finally:
        if state_dir is not None:
            with _signals_held():  # a second Ctrl-C does not cut the save short
                stream.save(state_dir, extra=extra)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block ends: a stream is never left between two of its
    fields. Their handlers only note them meanwhile, and the first is raised again at the end,
    for the handler before to act on. (Blocking them with pthread_sigmask held them off the main
    thread alone: the kernel gave them to torch's worker threads, and Python raised them in the
    main thread mid-update, leaving a save whose state had taken a line its timestamp had not.)
    Python runs handlers in the main thread only, so elsewhere nothing is held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def note(signum: int, frame: Any) -> None:
        caught.append(signum)

    before = {}
    for held in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(held)
        if handler is not signal.SIG_IGN and handler is not None:  # ignored, or set outside Python
            before[held] = signal.signal(held, note)
    try:
        yield
    finally:
        for held, handler in before.items():
            signal.signal(held, handler)
        if caught:
            signal.raise_signal(caught[0])  # the handler before runs now, between two lines


def _stream_lines(run: Run, stream: Any, reader: Any, columns: list[str], used: Callable[[], None]) -> int:
    """Forecast after every line of stdin: one JSON line each on stdout, a rejected line one error
    line on stderr; the exit status."""
    from tsmamba.errors import StreamError

    rejected = 0

    def reject(exc: TSMambaError) -> None:  # one line on stderr; the stream goes on
        nonlocal rejected
        rejected += 1
        print(f"{PROG}: error: line {reader.line_number}: {_cli_wording(_one_line(str(exc)), False)}",
              file=run.stderr, flush=True)

    # bytes, decoded line by line by the reader: a text stdin decodes a whole block at once, and
    # one byte that is not the locale's encoding raised there, losing the lines read with it
    for line in reader.lines(getattr(sys.stdin, "buffer", sys.stdin)):  # at CR alone too (old Mac)
        try:
            observation = reader.read(line)  # a bad header raises DataValidationError: it stops here
        except StreamError as exc:
            reject(exc)
            continue
        if observation is None:
            if reader.line_number == reader.header_line and reader.ignored:
                run.note(f"stdin header: ignoring column(s) {reader.ignored}, which the model does not use")
            continue
        # the update and a periodic save are whole or not begun; the line out is not held (a
        # reader that stops reading would hold a Ctrl-C off for as long)
        with _signals_held():
            try:
                forecast = stream.update(observation)
            except TSMambaError as exc:
                reject(exc)
                continue
            used()
        record = {
            "timestamp": str(stream.last_timestamp),
            "index": [str(t) for t in forecast.index],
            "columns": columns,
            "forecast": forecast.to_numpy().tolist(),  # full precision: 6 decimals zeroed a 1e-9 channel
        }
        print(json.dumps(record), file=run.stdout, flush=True)
    if rejected:
        run.note(f"{rejected} line(s) rejected")
    return EXIT_REJECTED if rejected else 0


def _entry() -> None:  # pragma: no cover - for `python -m tsmamba.cli`
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    _entry()
