"""Run the LTSF benchmark for one data set x horizon x track x seed and record the result.

    .venv/bin/python experiments/ltsf.py --config experiments/configs/etth1_track1.json --horizon 96 --seed 0

The config file (JSON) holds the data set, the track, the lookback and the estimator parameters,
chosen on the validation split only. The run trains on the train split (early stopping on val),
scores every test window (stride 1, none dropped) on the scaled data, and also scores the same
test windows forecast from the full history carried through the recurrent state
(``context="full"``). The result lands in ``experiments/results/<name>_H<h>_s<seed>.json``;
``experiments/make_results.py`` turns the results into ``docs/results.md``. Every split's scores
also carry each channel's MSE, over all its windows and over each half of them (``channel_mse``,
``half_channel_mse``; the test windows' in ``test_by_channel``): where validation and test
disagree, by channel and by time (``experiments/level_shift.py`` does the same in closed form).
A result names what ran it: the command, the library's git commit (``+changes`` when its tracked
files other than results and Markdown differed from it), the machine and torch, and the CPU with
the vector instructions torch's kernels used (``cpu``: results can differ in their last bits
between CPU models, e.g. AVX2 and AVX512, or this VM's AMD EPYC and Intel Xeon, both AVX512).

A config with ``"ensemble": k`` trains k networks that differ only in their seed (seed * k + i
for member i, so the members of different seeds never overlap) and scores the mean of their
forecasts; each member's own scores are recorded beside the ensemble's. A config with
``"members": [{"context_length": L, "params": {...}}, ...]`` does the same with networks that
differ in their lookback (and the parameters given, laid over the shared ``params``): the LTSF
split forecasts the same target rows whatever the lookback, so their forecasts average window by
window. Its ``context_length`` is the longest member's.

A config of several networks with ``"member_weights": "validation"`` scores, instead of their
mean, the weighted sum of their forecasts whose weights (on the simplex: none negative, summing
to one) minimise the MSE on the validation split, chosen in each run, for the window and the
full-history forecasts each on their own (:func:`simplex_weights`); the mean's scores are
recorded beside it (``equal_weights``). Weights fitted on the validation split would score
themselves there, so the validation figure such a run records, on which configurations are
chosen, is cross-fitted (:func:`cross_fitted_forecast`): each half of the validation windows is
weighted by the weights fitted on the other half, less the windows whose targets overlap its own.
The in-sample figure is recorded too (``val_in_sample``). Until the weights are known, each
member's forecasts wait on disk, in a temporary folder (Weather's at H = 720: about 3.5 GB a member).

``--jobs N`` trains up to N members at once, each in a process of its own with the config's
threads. The result is the same to every bit as with ``--jobs 1``: a member's training depends only
on its seed, and the mean adds the forecasts in the members' order. N may exceed the cores: the
kernel shares them, and no core idles while the last member trains alone (memory: N members'
peaks at once). Measured on the 2-core development machine with nothing beside it, seed 0
(ablations, forty-ninth round): ETTh1's track-2 ensemble of three at H = 336 took 8 min 55 s with
``--jobs 3`` (11 min 22 s with ``--jobs 2``), its track-1 ensemble of five at H = 720 10 min 31 s
with ``--jobs 5`` (12 min 25 s with ``--jobs 2``). The channels-last convolution since (round 52)
trained a member 18% faster side by side; those walls were not measured again on a quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import itertools
import json
import multiprocessing
import platform
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

import tsmamba
from tsmamba import __version__
from tsmamba.backtest import backtest_ltsf
from tsmamba.checkpoint import atomic_write_bytes
from tsmamba.errors import run_script
from tsmamba.metrics import score
from tsmamba.runtime import keep_large_allocations

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
# the checkout whose library runs: an editable install imports its own, whichever checkout this
# script is in (a copy of the repository ran the development checkout's tsmamba unless PYTHONPATH
# named the copy, and recorded the copy's commit)
LIBRARY = Path(tsmamba.__file__).resolve().parent.parent
# how a run of several networks combines their forecasts (config key "member_weights")
WEIGHTINGS = {"equal": "their mean", "validation": "the weights on the simplex that validate best"}
# set by the run itself, not by a config's params or --set (they had been ignored silently)
# the keys a config may hold (a misspelt "ensembel": 3 had trained one network without a word)
CONFIG_KEYS = ("name", "data", "track", "context_length", "threads", "params", "ensemble", "members",
               "member_weights")
MEMBER_KEYS = ("context_length", "params")
# the LTSF protocol's horizons: the only ones experiments/make_results.py puts on the results page
HORIZONS = (96, 192, 336, 720)
RUN_KEYS = {"context_length": "the config's top-level context_length (or its members')",
            "horizon": "--horizon", "random_state": "--seed", "progress": "nothing: runs are quiet"}


def split_forecasts(result, values: np.ndarray, index, context_length: int, horizon: int,
                    split: str, context: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Forecasts and targets (n, H, C) for every window of a split (stride 1), forecast from the
    last ``context_length`` rows ("window") or from the whole series through the recurrent state
    ("full"), in scaled units, and the seconds the forecasts took. The validation windows'
    forecasts from the window are the ones the fit's best validation made (``keep_val_forecasts``:
    the same numbers, on a CPU), where it kept them for these origins, not made a second time."""
    est = result.forecaster
    start, end = result.config["borders"][split]
    n = end - start - context_length - horizon + 1
    origins = np.arange(start + context_length - 1, start + context_length - 1 + n)
    t0 = time.perf_counter()
    first = result.config["borders"]["train"][0]  # the fit's row 0
    kept = getattr(est, "val_forecasts_", None) if (split, context) == ("val", "window") else None
    if kept is not None and np.array_equal(est.val_origins_ + first, origins):
        yhat = kept  # the best validation's own forecasts: the same numbers, not made again
    else:
        yhat = est.forecast_origins(values, origins, context=context, index=index)  # (n, H, C)
    seconds = time.perf_counter() - t0
    y = np.lib.stride_tricks.sliding_window_view(values[start + context_length : end], horizon, axis=0)
    return yhat, y.transpose(0, 2, 1), seconds  # y: (n, H, C)


def error_scores(yhat: np.ndarray, y: np.ndarray, seconds: float, channels: list[str] | None = None) -> dict:
    """MSE / MAE of forecasts (n, H, C) against targets (n, H, C), a piece of windows at a time
    (:func:`tsmamba.metrics.score`: Weather's (yhat - y) ** 2 at H = 720 had taken 2.4 GB), and
    each channel's MSE, over all windows and over each half of them (the first n // 2 windows, the
    rest; none for a single window): where validation and test disagree, by channel and by time
    (``experiments/level_shift.py``)."""
    scores = score(y, yhat, metrics=("mse", "mae"), channels=channels)
    half = len(y) // 2
    halves = [score(y[part], yhat[part], metrics=("mse",), channels=channels)["per_channel"]
              for part in (slice(0, half), slice(half, None))] if half else []
    return {
        "mse": scores["overall"]["mse"],
        "mae": scores["overall"]["mae"],
        "windows": len(y),
        "forecast_s": seconds,
        "channel_mse": {name: v["mse"] for name, v in scores["per_channel"].items()},
        "half_channel_mse": [{name: v["mse"] for name, v in part.items()} for part in halves],
    }


def simplex_weights(gram: np.ndarray) -> np.ndarray:
    """The weights w (k,), none negative and summing to one, that minimise ``w @ gram @ w``.

    ``gram`` (k, k) holds the sums of products of the members' errors, ``gram[i, j] = sum((yhat_i -
    y) * (yhat_j - y))``, so ``w @ gram @ w`` is the squared error of ``sum_i w_i yhat_i``. Exact:
    the minimum lies on some support S, where w_S is proportional to ``gram_SS^+ @ 1``; every
    support is tried (k is a handful) and the best feasible one kept, ties to the larger support.
    """
    k = len(gram)
    best_loss, best = np.inf, None
    for size in range(k, 0, -1):
        for support in itertools.combinations(range(k), size):
            rows = list(support)
            direction = np.linalg.pinv(gram[np.ix_(rows, rows)]) @ np.ones(size)  # (size,)
            if direction.sum() <= 0 or (direction < 0).any():
                continue  # not on the simplex: a smaller support holds the minimum
            w = np.zeros(k)
            w[rows] = direction / direction.sum()
            loss = float(w @ gram @ w)
            if loss < best_loss * (1 - 1e-12):
                best_loss, best = loss, w
    return best


def error_gram(forecasts: list[np.ndarray], y: np.ndarray, rows: int = 256) -> np.ndarray:
    """Sums of products of the members' errors (k, k) over forecasts (n, H, C) each against
    targets y (n, H, C), ``rows`` windows at a time (the forecasts may be memory-mapped)."""
    gram = np.zeros((len(forecasts), len(forecasts)))
    for start in range(0, len(y), rows):
        target = np.asarray(y[start : start + rows], np.float64)
        errors = np.stack([np.asarray(f[start : start + rows], np.float64) - target for f in forecasts])
        errors = errors.reshape(len(forecasts), -1)  # (k, rows * H * C)
        gram += errors @ errors.T
    return gram


def weighted_forecast(forecasts: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """``sum_i weights[i] * forecasts[i]`` (n, H, C) in float64, members of weight 0 left out."""
    out = np.zeros(forecasts[0].shape)
    for w, f in zip(weights, forecasts, strict=True):
        if w:
            out += w * np.asarray(f, np.float64)
    return out


def cross_fitted_forecast(forecasts: list[np.ndarray], y: np.ndarray,
                          horizon: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Weighted forecasts (n, H, C) of the members' forecasts (n, H, C) each, every window weighted
    by weights fitted without its targets: windows [0, m) (m = n // 2) by the simplex weights of
    windows [m + H - 1, n), windows [m, n) by those of [0, m - H + 1), so no window fitted on shares
    a target row with one it weighs (window i's targets are rows i .. i + H - 1). -> (forecasts,
    [weights of the first half, of the second])."""
    n = len(y)
    m = n // 2
    out = np.empty(y.shape)
    fold_weights = []
    halves = ((range(0, m), range(m + horizon - 1, n)), (range(m, n), range(0, m - horizon + 1)))
    for scored, fitted in halves:  # (windows weighed, windows their weights are fitted on)
        if len(fitted) == 0:
            raise SystemExit(f"{n} validation windows are too few to cross-fit member weights at "
                             f"H = {horizon} (each half needs more than {horizon - 1} windows beyond "
                             "the other's targets)")
        fit, score = slice(fitted.start, fitted.stop), slice(scored.start, scored.stop)
        w = simplex_weights(error_gram([f[fit] for f in forecasts], y[fit]))
        out[score] = weighted_forecast([f[score] for f in forecasts], w)
        fold_weights.append(w)
    return out, fold_weights


def read_config(path: str) -> dict:
    """A run config (JSON object); a missing or malformed file stops the script with one line."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(f"--config {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise SystemExit(f"--config {path} is not a JSON config: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.get("params"), dict):
        raise SystemExit(f"--config {path} must be a JSON object with a 'params' object")
    unknown_keys(config, CONFIG_KEYS, f"--config {path}")
    missing = [key for key in ("name", "data", "track") if key not in config]
    if missing or ("context_length" not in config and "members" not in config):
        raise SystemExit(f"--config {path} lacks {missing or ['context_length (or members)']}")
    name = config["name"]
    if not isinstance(name, str) or not name or Path(name).name != name or name.startswith("."):
        raise SystemExit(f"--config {path}: name must be a plain file name (no folders), got {name!r}")
    members = config.get("members", [{"context_length": config.get("context_length")}])
    if not (isinstance(members, list) and members and all(isinstance(m, dict) for m in members)):
        raise SystemExit(f"--config {path}: members must be a non-empty list of objects, got {members!r}")
    for member in config.get("members", []):  # a list of objects: checked above
        unknown_keys(member, MEMBER_KEYS, f"--config {path}: a member")
    checked = [("context_length", config.get("context_length")), ("ensemble", config.get("ensemble", 1)),
               ("threads", config.get("threads", 1))]
    checked += [("members' context_length", m.get("context_length")) for m in members]
    for key, value in checked:
        if "members" in config and key == "context_length" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SystemExit(f"--config {path}: {key} must be a positive integer, got {value!r}")
    weighting = config.get("member_weights", "equal")
    if weighting not in WEIGHTINGS:
        raise SystemExit(f"--config {path}: member_weights must be one of {sorted(WEIGHTINGS)}, "
                         f"got {weighting!r}")
    if weighting != "equal" and len(members) == 1 and config.get("ensemble", 1) == 1:
        raise SystemExit(f"--config {path}: member_weights {weighting!r} weighs the forecasts of several "
                         "networks; give 'members' or 'ensemble' (k > 1), or leave member_weights out")
    for params in [config["params"], *(m.get("params", {}) for m in members)]:
        if not isinstance(params, dict):
            raise SystemExit(f"--config {path}: a member's params must be an object, got {params!r}")
        refuse_run_keys(params, f"--config {path}: params")
    return config


def unknown_keys(given: dict, known: tuple[str, ...], where: str) -> None:
    """SystemExit naming a key of ``given`` not in ``known`` (and the known key it is likely a
    misspelling of): it would be ignored, and the run would not be the one the config describes."""
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise SystemExit(f"{where} has an unknown key {key!r}; {hint}a config takes {', '.join(known)}")


def refuse_run_keys(params: dict, where: str) -> None:
    """SystemExit naming a key the run sets itself (see RUN_KEYS)."""
    for key in params:
        if key in RUN_KEYS:
            raise SystemExit(f"{where} set {key}, which the run sets itself; use {RUN_KEYS[key]}")


def parse_overrides(items: list[str]) -> dict:
    """``--set KEY=VALUE`` items -> {key: value}, each value read as JSON."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {item!r}: write KEY=VALUE with a JSON value, e.g. --set max_epochs=3")
        try:
            out[key] = json.loads(value)
        except ValueError:
            raise SystemExit(
                f"--set {item!r}: {value!r} is not a JSON value; quote text as JSON, e.g. "
                f"--set '{key}=\"{value}\"'"
            ) from None
    return out


def load_run(config_path: str, overrides: list[str]) -> tuple[dict, dict]:
    """Read a run config, apply ``KEY=VALUE`` overrides (JSON values) to its estimator parameters,
    and set up this process for it (threads, large allocations kept) -> (config, params)."""
    config = read_config(config_path)
    given = parse_overrides(overrides)
    refuse_run_keys(given, "--set")
    params = {**config["params"], **given}
    torch.set_num_threads(int(config.get("threads", torch.get_num_threads())))
    keep_large_allocations()
    return config, params


def output_folder(out: str) -> Path:
    """``--out``, created (and checked writable) before any training, so no finished run is lost."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise SystemExit(f"--out {path} cannot hold results ({exc.strerror or exc}); choose another folder") \
            from None
    return path


def write_json(path: Path, record: dict) -> None:
    """Write ``record`` atomically: a result file is whole or absent, never half written."""
    atomic_write_bytes(path, (json.dumps(record, indent=1) + "\n").encode("utf-8"))


def member_plan(config: dict, params: dict, seed: int, overridden=()) -> list[tuple[int, dict, int]]:
    """The networks a run trains: (lookback, estimator parameters, seed) for each.

    One network by default; ``"ensemble": k`` networks with seeds seed * k + i; ``"members"``
    one network per member, its parameters laid over the shared ones (except those named in
    ``overridden``, set on the command line), seeds seed * n + i.
    """
    if "members" in config:
        if "ensemble" in config:
            raise SystemExit("a config takes either 'ensemble' (seeds) or 'members' (networks with their own "
                             "lookback or parameters), not both")
        members = config["members"]
        plan = []
        for i, m in enumerate(members):
            own = {key: value for key, value in m.get("params", {}).items() if key not in overridden}
            plan.append((int(m["context_length"]), {**params, **own}, seed * len(members) + i))
        return plan
    k = int(config.get("ensemble", 1))
    seeds = [seed] if k == 1 else [seed * k + i for i in range(k)]
    return [(int(config["context_length"]), params, s) for s in seeds]


PARTS = [("test", "window"), ("test", "full"), ("val", "window"), ("val", "full")]


def train_member(data: str, lookback: int, horizon: int, params: dict, seed: int, take=None,
                 baselines: bool = True) -> dict:
    """Train one network on the LTSF train split and forecast every val and test window, from
    its lookback ("window") and from the full history ("full").

    Each part's forecasts and targets (n, H, C) go to ``take((split, context), yhat, y)`` as soon
    as they are made (Weather's test forecasts at H = 720 take 1.2 GB), and are then let go.
    Returns {"member": its record, "seconds" and "scores" per part, and the backtest's
    "overall" test scores, "baselines" (empty with ``baselines=False``: an ensemble scores them
    once, with :func:`baseline_member`), "model_params" and "training"}.
    """
    from tsmamba.data import prepare_ltsf

    prepared = prepare_ltsf(data, lookback, horizon)
    values = prepared.values.astype(np.float64)
    fit_index = prepared.fit_index  # the calendar the network is trained on (Weather: a grid)
    channels = [str(name) for name in prepared.columns]
    result = backtest_ltsf({**params, "random_state": seed}, data, lookback, horizon,
                           max_forecast_rows=0, baselines=baselines,  # scores only
                           keep_val_forecasts=True)  # the validation windows' forecasts, made once
    result.arrays = {key: result.arrays[key] for key in ("yhat", "y")}  # the baselines' are scored
    run = {"member": {"seed": seed, "context_length": lookback}, "seconds": {}, "scores": {},
           "channels": channels}
    for split, context in PARTS:
        if (split, context) == ("test", "window"):  # the backtest's own forecasts
            yhat, y, s = result.arrays["yhat"], result.arrays["y"], result.timings.get("forecast_s", 0.0)
        else:
            yhat, y, s = split_forecasts(result, values, fit_index, lookback, horizon, split, context)
        own = error_scores(yhat, y, s, channels)
        run["member"][f"{split}_{context}_mse"] = own["mse"]
        run["seconds"][split, context], run["scores"][split, context] = s, own
        if take is not None:
            take((split, context), yhat, y)
        del yhat, y
    training = result.config["training"]
    run["member"].update({key: training.get(key) for key in ("epochs", "best_epoch", "best_step",
                                                             "val_losses", "seconds_per_epoch",
                                                             "train_seconds", "n_parameters")})
    run.update(overall=result.scores["tsmamba"]["overall"], training=training,
               model_params=dict(result.config["model_params"]),
               baselines={name: {"mse": v["overall"]["mse"], "mae": v["overall"]["mae"]}
                          for name, v in result.scores.items() if name != "tsmamba"})
    return run


def _train_member_in_process(threads: int, folder: str, *args, baselines: bool = True) -> dict:
    """:func:`train_member` in a worker process. Its forecasts (and each split's targets) go to
    ``folder`` as .npy files, named in ``run["saved"]``, not through a pipe (ETTm1's at H = 720
    are 1.8 GB a member)."""
    torch.set_num_threads(threads)
    keep_large_allocations()
    seed = args[4]
    saved: dict[tuple[str, str], tuple[str, str]] = {}

    def save(part: tuple[str, str], yhat: np.ndarray, y: np.ndarray) -> None:
        target = Path(folder) / f"y_{seed}_{part[0]}.npy"
        if not target.exists():
            np.save(target, y)
        forecast = Path(folder) / f"yhat_{seed}_{'_'.join(part)}.npy"
        np.save(forecast, yhat)
        saved[part] = (str(forecast), str(target))

    run = train_member(*args, take=save, baselines=baselines)
    run["saved"] = saved
    return run


def baseline_member(plan: list[tuple[int, dict, int]]) -> int:
    """The member of ``plan`` that scores the baselines for the whole run: the first of those with
    the longest lookback, the run's ``context_length``. Last value and seasonal naive are the same
    for every member (the LTSF split forecasts the same target rows whatever the lookback), but the
    linear baseline maps the last L values to the next H: scored by a member of L = 96, it had been
    recorded (and tabled in docs/results.md) as the baseline of a run of L = 720."""
    longest = max(lookback for lookback, _, _ in plan)
    return next(i for i, (lookback, _, _) in enumerate(plan) if lookback == longest)


def member_runs(config: dict, plan: list[tuple[int, dict, int]], horizon: int, jobs: int, take=None):
    """Yield :func:`train_member`'s output for each network of ``plan``, in its order, its
    forecasts given to ``take`` (member by member, part by part in ``PARTS`` order, whatever
    ``jobs``), training up to ``jobs`` networks at once, each in a fresh process, when ``jobs`` > 1.
    Only one member scores the baselines: :func:`baseline_member`'s."""
    scorer = baseline_member(plan)
    if jobs == 1 or len(plan) == 1:
        for i, (lookback, params, seed) in enumerate(plan):
            yield train_member(config["data"], lookback, horizon, params, seed, take, baselines=i == scorer)
        return
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="ltsf-members-") as folder, ProcessPoolExecutor(
        max_workers=min(jobs, len(plan)), mp_context=multiprocessing.get_context("spawn"),
        max_tasks_per_child=1,  # a fresh process per member: its peak memory is its own
    ) as pool:
        futures = [pool.submit(_train_member_in_process, threads, folder, config["data"], lookback, horizon,
                               params, seed, baselines=i == scorer)
                   for i, (lookback, params, seed) in enumerate(plan)]
        for future in futures:
            try:
                run = future.result()
            except BaseException:  # a member failed (or Ctrl-C): start no more of them
                for waiting in futures:
                    waiting.cancel()
                raise
            for part in PARTS:
                yhat_path, y_path = run["saved"][part]
                if take is not None:
                    take(part, np.load(yhat_path, mmap_mode="r"), np.load(y_path, mmap_mode="r"))
                Path(yhat_path).unlink()
            yield run


# what a run writes or a person edits beside it without changing its numbers: a rewritten result
# file had marked the next run of the same session "+changes"
NOT_CODE = (":(exclude)experiments/results", ":(exclude)*.md")


def git_commit(checkout: Path = LIBRARY) -> str | None:
    """The commit of the checkout that holds the library that runs, with ``+changes`` when tracked
    files other than results and Markdown differ from it (None outside git)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=checkout, capture_output=True, text=True, check=True).stdout

    try:
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", *NOT_CODE).strip()
        return git("rev-parse", "HEAD").strip() + ("+changes" if changed else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def machine_description() -> str:
    """The architecture, torch's thread count and version, e.g. "x86_64, 1 threads, torch 2.13.0+cpu"."""
    return f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def cpu_description() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo's; else ``platform.processor()``) and the vector
    instructions torch's CPU kernels use, e.g. "AMD EPYC, AVX512": float results may differ in their
    last bits between kernels (a result that does not reproduce on another machine may come from
    there)."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    model = model or platform.processor() or "unknown CPU"
    return f"{model}, {torch.backends.cpu.get_cpu_capability()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="JSON: name, data, track, context_length, params")
    ap.add_argument("--horizon", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--jobs", type=int, default=1,
                    help="members trained at once, one process each, may exceed the cores "
                         "(the same result; default 1)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="override estimator parameters (JSON values), e.g. --set max_epochs=3")
    args = ap.parse_args()
    if args.jobs < 1:
        ap.error(f"--jobs must be a positive integer, got {args.jobs}")
    if args.set and Path(args.out).resolve() == RESULTS.resolve():
        ap.error("--set changes the config, so its result is not the config's: write it elsewhere "
                 "with --out DIR (experiments/results/ holds the configs' own runs)")

    if args.horizon not in HORIZONS and Path(args.out).resolve() == RESULTS.resolve():
        ap.error(f"--horizon {args.horizon} is not one of the LTSF protocol's "
                 f"{', '.join(map(str, HORIZONS))}, "
                 "the only ones experiments/make_results.py reports: write its result elsewhere with "
                 "--out DIR (experiments/results/ holds the protocol's runs)")

    if LIBRARY != ROOT.parent:
        print(f"note: this script is in {ROOT.parent} but runs the tsmamba of {LIBRARY}, whose commit "
              f"is recorded; PYTHONPATH={ROOT.parent} runs this checkout's", file=sys.stderr)
    config, params = load_run(args.config, args.set)
    out = output_folder(args.out)
    params.update(progress=False)
    overridden = set(parse_overrides(args.set))
    plan = member_plan(config, params, args.seed, overridden)  # [(lookback, params, seed)] per network
    k = len(plan)
    L = max(lookback for lookback, _, _ in plan)

    weighted = config.get("member_weights", "equal") == "validation"
    sums: dict[tuple[str, str], np.ndarray] = {}
    targets: dict[str, np.ndarray] = {}
    kept: dict[tuple[str, str], list[Path]] = {part: [] for part in PARTS}  # member_weights: each's forecasts

    def add(part: tuple[str, str], yhat: np.ndarray, y: np.ndarray) -> None:
        """Add one member's forecasts of a part to the ensemble's sum (members in plan order), and
        keep them on disk when the members are to be weighed."""
        split = part[0]
        if split in targets and not np.array_equal(targets[split], y):
            raise SystemExit(f"members forecast different {split} targets; they cannot be averaged")
        sums[part] = sums.get(part, 0.0) + np.asarray(yhat, np.float64)
        targets.setdefault(split, np.array(y) if isinstance(y, np.memmap) else y)  # a worker's: read in
        if weighted:
            kept[part].append(Path(folder) / f"member{len(kept[part])}_{'_'.join(part)}.npy")
            np.save(kept[part][-1], np.asarray(yhat, np.float64))

    seconds = dict.fromkeys(PARTS, 0.0)
    members = []
    t0 = time.perf_counter()
    keep = tempfile.TemporaryDirectory(prefix="ltsf-weights-") if weighted else contextlib.nullcontext()
    with keep as folder:
        for run in member_runs(config, plan, args.horizon, args.jobs, take=add if k > 1 else None):
            for part in PARTS:
                seconds[part] += run["seconds"][part]
            members.append(run["member"])
            if len(members) == baseline_member(plan) + 1:
                scored = run  # the member that scored the baselines (of the run's lookback L)
            last = run  # the backtest's records of the last member (parameters, training)
        score = last["scores"]  # one network: its own
        if k > 1:
            score = {part: error_scores(sums.pop(part) / k, targets[part[0]], seconds[part], last["channels"])
                     for part in PARTS}
        if weighted:
            equal, score, weights, folds, in_sample = score, {}, {}, {}, {}
            for context in ("window", "full"):
                forecasts = {split: [np.load(f, mmap_mode="r") for f in kept[split, context]]
                             for split in ("val", "test")}
                val_forecasts, y_val = forecasts["val"], targets["val"]
                weights[context] = simplex_weights(error_gram(val_forecasts, y_val))
                yhat = weighted_forecast(forecasts["test"], weights[context])
                score["test", context] = error_scores(yhat, targets["test"], seconds["test", context],
                                                      last["channels"])
                yhat, folds[context] = cross_fitted_forecast(val_forecasts, y_val, args.horizon)
                score["val", context] = error_scores(yhat, y_val, seconds["val", context], last["channels"])
                yhat = weighted_forecast(val_forecasts, weights[context])
                in_sample[context] = error_scores(yhat, y_val, seconds["val", context], last["channels"])
                del forecasts, val_forecasts, yhat  # the memory maps, before their folder goes
    wall = time.perf_counter() - t0
    full = {**score["test", "full"], "val": score["val", "full"]}
    val = score["val", "window"]
    overall = score["test", "window"]
    if k == 1:  # the backtest's scores (the same forecasts, scored by tsmamba.metrics)
        overall = last["overall"]

    training = last["training"]  # of the last member; each member's are in "members"
    n_parameters = sum(m.pop("n_parameters") for m in members)
    record = {
        "name": config["name"],
        "data": config["data"],
        "track": config["track"],
        "context_length": L,
        "horizon": args.horizon,
        "seed": args.seed,
        "mse": overall["mse"],
        "mae": overall["mae"],
        "test_windows": score["test", "window"]["windows"],
        "test_by_channel": {key: score["test", "window"][key] for key in ("channel_mse", "half_channel_mse")},
        "full_history": full,
        "val": val,
        "baselines": scored["baselines"],
        "baselines_context_length": plan[baseline_member(plan)][0],  # the lookback they were scored at
        "params": last["model_params"],
        "n_parameters": n_parameters,
        "epochs": training.get("epochs"),
        "best_epoch": training.get("best_epoch"),
        "best_step": training.get("best_step"),
        "val_losses": training.get("val_losses"),  # every validation (epoch -1: the start)
        "seconds_per_epoch": sum(m["seconds_per_epoch"] for m in members),
        "train_seconds": sum(m["train_seconds"] for m in members),
        "wall_seconds": wall,
        "peak_rss_mb": max(resource.getrusage(who).ru_maxrss  # the largest process's (jobs: each member's)
                           for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024,
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": machine_description(),
        "cpu": cpu_description(),
        "tsmamba_version": __version__,
        "git_commit": git_commit(),
        "date": time.strftime("%Y-%m-%d"),
    }
    if k > 1:
        record.update(ensemble=k, members=members)
    if weighted:  # the headline figures are the weighted forecasts'; the mean's beside them
        record.update(member_weights={context: w.tolist() for context, w in weights.items()},
                      member_weights_halves={context: [w.tolist() for w in ws]
                                             for context, ws in folds.items()},
                      val_in_sample={"mse": in_sample["window"]["mse"], "mae": in_sample["window"]["mae"],
                                     "full_mse": in_sample["full"]["mse"]},
                      equal_weights={"mse": equal["test", "window"]["mse"],
                                     "mae": equal["test", "window"]["mae"],
                                     "val_mse": equal["val", "window"]["mse"],
                                     "full_mse": equal["test", "full"]["mse"],
                                     "full_mae": equal["test", "full"]["mae"],
                                     "full_val_mse": equal["val", "full"]["mse"]})
    if args.jobs > 1:  # up to this many members (processes, each of peak_rss_mb at most) at once
        record.update(jobs=args.jobs)
    if "members" in config:
        record.update(lookbacks=[lookback for lookback, _, _ in plan])
    path = out / f"{config['name']}_H{args.horizon}_s{args.seed}.json"
    if path.exists():  # a committed result is in git; say which file this run replaces
        print(f"replacing {path}", file=sys.stderr)
    write_json(path, record)
    print(json.dumps({k: record[k] for k in ("name", "horizon", "seed", "mse", "mae", "test_windows",
                                             "seconds_per_epoch", "epochs")}))
    print(f"val MSE {val['mse']:.4f}; full-history MSE {full['mse']:.4f} MAE {full['mae']:.4f}; wrote {path}")


if __name__ == "__main__":
    raise SystemExit(run_script(main))  # a missing data set: one line, not a traceback
