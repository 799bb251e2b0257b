"""Where do validation and test disagree? A closed-form look, channel by channel, at the level shift.

    .venv/bin/python experiments/level_shift.py --data ETTh1 --lookback 336 --cycle 24

On ETTh1 the per-channel ridge map with instance normalisation (``linear_cycle.py``'s "cyc+rev":
the window's mean taken out and added back, so the forecast keeps the window's level) tests below
the map without it (the "cyc" map, the network's linear start), yet validates far above it, so a
choice made on validation never takes it. This script breaks that disagreement down:

1. **by channel and by half of the validation split**: each channel's MSE under both maps (averaged
   over the four horizons) on the first and second half of the validation windows and on the test
   windows, and the difference rev - cyc (negative: keeping the level helps);
2. **per-channel weights**: each channel's own simplex weights on the two maps, fitted on validation
   as ``experiments/ltsf.py``'s ``"member_weights": "validation"`` fits a config's members' weights
   (one pair per channel instead of one for all), scored cross-fitted on validation (the figure a
   config is chosen on) and with the weights of all validation on test;
3. with ``--halflives``: the "cyc" map given, beside the window, each channel's long-run level at the
   forecast origin (an exponentially weighted mean of the whole cycle-free past, every row since the
   series began, at each half-life given in rows): a recurrent state can carry such a level in O(1),
   so a track-2 forecaster could read it.
4. with ``--train-weights``: the same per-channel weights fitted on the training windows instead (the
   maps' forecasts of the windows they were fitted on), so chosen without reading validation;
5. with ``--robust``: the "cyc" map fitted robustly, by iteratively reweighted ridge: a training row
   (one channel's window) whose RMS residual r exceeds delta is weighted delta / r (Huber's weights,
   per window), at each delta given (scaled units). The network's Huber loss, in closed form.

Every map is fitted on every training window (stride 1) with ridge penalty 1 on its weights and
bias; the phases come from the protocol's grid (``linear_cycle.py --calendar grid``).
"""

from __future__ import annotations

import argparse

import numpy as np
from linear_cycle import HORIZONS, forecasts, row_phases, training_cycle, windows
from ltsf import cross_fitted_forecast, error_gram, simplex_weights

from tsmamba.data import prepare_ltsf
from tsmamba.errors import run_script

MAPS = {"cyc": "cyc", "rev": "cyc+rev"}  # label -> linear_cycle.py variant


def channel_errors(forecast: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Each channel's MSE (C,) of forecasts (n, H, C) against targets (n, H, C)."""
    return ((forecast - target) ** 2).mean((0, 1))


def split_channel_errors(by_split: dict) -> np.ndarray:
    """Per-channel MSE (3, C) on the validation windows' first half, their second half (the later
    windows; the first n // 2 are the first half) and the test windows, from ``forecasts``' output."""
    f, y = by_split["val"]
    half = len(y) // 2
    return np.stack([channel_errors(f[:half], y[:half]), channel_errors(f[half:], y[half:]),
                     channel_errors(*by_split["test"])])


def per_channel_simplex(forecasts: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Each channel's simplex weights (C, k) on k forecasts (n, H, C) of targets y (n, H, C)."""
    return np.array([simplex_weights(error_gram([f[:, :, c : c + 1] for f in forecasts], y[:, :, c : c + 1]))
                     for c in range(y.shape[2])])


def channel_weighted(forecasts: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """The forecasts (each (n, H, C)) mixed with each channel's weights (C, k)."""
    return sum(f * weights[:, i] for i, f in enumerate(forecasts))


def per_channel_weighted(val: list[np.ndarray], y_val: np.ndarray, test: list[np.ndarray],
                         y_test: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each channel's simplex weights on the maps' forecasts (lists of (n, H, C)), fitted on its
    validation windows: -> cross-fitted validation forecast (n, H, C), test forecast (n', H, C)
    with the weights of all validation, the weights (C, k)."""
    crossed = np.empty(y_val.shape)
    for c in range(y_val.shape[2]):
        crossed[:, :, c : c + 1], _ = cross_fitted_forecast([f[:, :, c : c + 1] for f in val],
                                                            y_val[:, :, c : c + 1], horizon)
    weights = per_channel_simplex(val, y_val)
    return crossed, channel_weighted(test, weights), weights


def ewma(x: np.ndarray, halflife: float) -> np.ndarray:
    """Causal exponentially weighted mean (T, C) of rows x (T, C): m_0 = x_0, m_t = (1 - a) m_{t-1}
    + a x_t with a = 1 - 2^(-1 / halflife) (a row's weight halves every ``halflife`` rows)."""
    a = 1.0 - 0.5 ** (1.0 / halflife)
    out = np.empty_like(x, dtype=np.float64)
    level = np.asarray(x[0], np.float64).copy()
    for t in range(len(x)):
        level += a * (x[t] - level)
        out[t] = level
    return out


def cyc_designs(values, phase, borders, lookback: int, horizon: int, halflives=()):
    """Yield (split, A, B) for "train", "val", "test": the per-channel "cyc" map's inputs A (n*C, L+k+1)
    (a window's L cycle-free values, the channel's long-run level at its last row per half-life
    (:func:`ewma` of the cycle-free series), and a 1) and targets B (n*C, H), rows window-major."""
    cycle = training_cycle(values, phase, borders)  # (W, C)
    free = values - cycle[phase]  # (T, C)
    levels = [ewma(free, hl) for hl in halflives]  # each (T, C)
    C = values.shape[1]
    for split in ("train", "val", "test"):
        xi, yi = windows(values, *borders[split], lookback, horizon)
        x = np.concatenate([free[xi], *(level[xi[:, -1:]] for level in levels)], axis=1)  # (n, L+k, C)
        A = np.hstack([x.transpose(0, 2, 1).reshape(-1, x.shape[1]), np.ones((len(x) * C, 1))])
        yield split, A, free[yi].transpose(0, 2, 1).reshape(-1, horizon)  # (n*C, H)


def level_map_scores(values, phase, borders, lookback: int, horizon: int, halflives) -> dict:
    """Validation and test MSE of the per-channel "cyc" ridge map (penalty 1) whose inputs are the
    window's L cycle-free values and, per half-life, the channel's long-run level at the window's last
    row. No half-lives: ``linear_cycle.forecasts``' cyc map."""
    weights, out = None, {}
    for split, A, B in cyc_designs(values, phase, borders, lookback, horizon, halflives):
        if weights is None:
            weights = np.linalg.solve(A.T @ A + np.eye(A.shape[1]), A.T @ B)
        else:
            out[split] = float(np.mean((A @ weights - B) ** 2))
    return out


def robust_map_scores(values, phase, borders, lookback: int, horizon: int, delta: float,
                      iterations: int = 6) -> dict:
    """Validation MSE (and on each half of its windows, "val_halves") and test MSE of the per-channel
    "cyc" map fitted by iteratively reweighted ridge (penalty 1): ``iterations`` fits, each weighting a
    training row (one channel's window) by min(1, delta / r), r its RMS residual under the fit before
    (the first fit unweighted). "downweighted": the share of training rows the last fit weighted < 1."""
    out = {}
    for split, A, B in cyc_designs(values, phase, borders, lookback, horizon):
        if split == "train":
            rows = np.ones(len(A))
            for _ in range(iterations):
                weighted = A * rows[:, None]
                weights = np.linalg.solve(A.T @ weighted + np.eye(A.shape[1]), weighted.T @ B)
                residual = np.sqrt(np.mean((A @ weights - B) ** 2, axis=1))
                rows = np.minimum(1.0, delta / np.maximum(residual, 1e-12))
            out["downweighted"] = float(np.mean(rows < 1))
            continue
        errors = ((A @ weights - B) ** 2).reshape(-1, values.shape[1] * horizon)  # a row per window
        out[split] = float(errors.mean())
        if split == "val":
            half = len(errors) // 2
            out["val_halves"] = (float(errors[:half].mean()), float(errors[half:].mean()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="ETTh1, ETTm1 or Weather")
    ap.add_argument("--lookback", type=int, required=True, help="L, the window's length")
    ap.add_argument("--cycle", type=int, required=True, help="the cycle's length in rows (24 on ETTh1)")
    ap.add_argument("--halflives", type=float, nargs="*", default=[],
                    help="score the cyc map with the long-run levels at these half-lives (rows), "
                         "one set per value and all together")
    ap.add_argument("--train-weights", action="store_true",
                    help="also weigh the two maps per channel on the training windows")
    ap.add_argument("--robust", type=float, nargs="*", default=[], metavar="DELTA",
                    help="score the cyc map fitted robustly (windows with RMS residual r > DELTA "
                         "weighted DELTA / r), at each DELTA (scaled units)")
    args = ap.parse_args()
    if any(not delta > 0 for delta in args.robust):
        ap.error("a robust fit's delta is a residual > 0 (scaled units)")
    if args.lookback < 1 or args.cycle < 1:
        ap.error(f"--lookback and --cycle must be at least 1, got {args.lookback} and {args.cycle}")
    if any(not hl > 0 for hl in args.halflives):
        ap.error("a half-life is a number of rows > 0")

    data = prepare_ltsf(args.data, args.lookback, max(HORIZONS))
    values, borders = data.values.astype(np.float64), data.borders
    phase = row_phases(data, args.cycle, "grid")
    channels = list(data.columns)
    errors = {label: [] for label in MAPS}  # label -> per horizon (3, C)
    weighted = {"val": [], "test": []}
    on_train = {"val": [], "test": []}
    weights, train_weights = [], []
    splits = ("train", "val", "test") if args.train_weights else ("val", "test")
    for h in HORIZONS:
        by_map = {label: forecasts(values, phase, borders, args.lookback, h, variant, splits=splits)
                  for label, variant in MAPS.items()}
        for label, by_split in by_map.items():
            errors[label].append(split_channel_errors(by_split))
        y_val, y_test = by_map["cyc"]["val"][1], by_map["cyc"]["test"][1]
        crossed, tested, w = per_channel_weighted([m["val"][0] for m in by_map.values()], y_val,
                                                  [m["test"][0] for m in by_map.values()], y_test, h)
        weighted["val"].append(float(np.mean((crossed - y_val) ** 2)))
        weighted["test"].append(float(np.mean((tested - y_test) ** 2)))
        weights.append(w[:, 1])
        if args.train_weights:  # fitted on the training windows, so validation scores them as they are
            fitted = per_channel_simplex([m["train"][0] for m in by_map.values()], by_map["cyc"]["train"][1])
            for split, y in (("val", y_val), ("test", y_test)):
                mixed = channel_weighted([m[split][0] for m in by_map.values()], fitted)
                on_train[split].append(float(np.mean((mixed - y) ** 2)))
            train_weights.append(fitted[:, 1])
        del by_map

    print(f"{args.data}, per-channel ridge maps at L = {args.lookback}, cycle {args.cycle}: "
          f"MSE averaged over H = {HORIZONS}")
    mean = {label: np.mean(e, axis=0) for label, e in errors.items()}  # (3, C)
    for label, m in mean.items():
        print(f"  {label}: val 1st half {m[0].mean():.4f}, val 2nd half {m[1].mean():.4f}, "
              f"test {m[2].mean():.4f}")
    print("  rev - cyc by channel: val 1st half / val 2nd half / test")
    diff = mean["rev"] - mean["cyc"]
    for c, name in enumerate(channels):
        print(f"    {name:10s} {diff[0, c]:+.4f} {diff[1, c]:+.4f} {diff[2, c]:+.4f}")
    def by_horizon(label: str, figures) -> str:  # "label 0.1234 ... (one per horizon)  avg 0.123456"
        return f"{label} " + " ".join(f"{v:.4f}" for v in figures) + f"  avg {np.mean(figures):.6f}"

    def print_weights(per_horizon) -> None:
        for h, w in zip(HORIZONS, per_horizon, strict=True):
            pairs = zip(channels, w, strict=True)
            print(f"    weight on rev at H={h}: " + " ".join(f"{name} {v:.2f}" for name, v in pairs))

    print("  per-channel weights on (cyc, rev) fitted on validation: "
          f"{by_horizon('val (cross-fitted)', weighted['val'])} | {by_horizon('test', weighted['test'])}")
    print_weights(weights)
    if args.train_weights:
        print("  per-channel weights on (cyc, rev) fitted on the training windows: "
              f"{by_horizon('val', on_train['val'])} | {by_horizon('test', on_train['test'])}")
        print_weights(train_weights)

    if args.robust:
        print("  the cyc map fitted robustly (windows with RMS residual r > delta weighted delta / r):")
        for delta in args.robust:
            scores = [robust_map_scores(values, phase, borders, args.lookback, h, delta) for h in HORIZONS]
            val, test = ([s[split] for s in scores] for split in ("val", "test"))
            halves = np.mean([s["val_halves"] for s in scores], axis=0)
            shares = " ".join(f"{s['downweighted']:.3f}" for s in scores)
            print(f"    delta {delta:<8g} {by_horizon('val', val)} (halves {halves[0]:.4f} "
                  f"{halves[1]:.4f}) | {by_horizon('test', test)} | rows downweighted {shares}", flush=True)

    if args.halflives:
        sets = [[]] + [[hl] for hl in args.halflives] + ([args.halflives] if len(args.halflives) > 1 else [])
        print("  the cyc map with each channel's long-run level(s) as inputs (half-lives in rows):")
        for hls in sets:
            scores = [level_map_scores(values, phase, borders, args.lookback, h, hls) for h in HORIZONS]
            val, test = ([s[split] for s in scores] for split in ("val", "test"))
            label = ", ".join(f"{hl:g}" for hl in hls) or "none"
            print(f"    {label:20s} {by_horizon('val', val)} | {by_horizon('test', test)}", flush=True)


if __name__ == "__main__":
    raise SystemExit(run_script(main))  # a missing data set: one line and status 2, not a traceback
