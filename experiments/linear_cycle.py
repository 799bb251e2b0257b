"""Does a daily cycle help? A closed-form check with linear forecasters, in seconds.

    .venv/bin/python experiments/linear_cycle.py --data ETTh1 --lookback 96 --cycle 24

For each horizon, one ridge map from the last L (scaled) values of a channel to its next H values,
shared by all channels and fitted on every training window, is scored on every validation and
test window (LTSF protocol, stride 1), in four variants:

    plain      the inputs as they are
    rev        minus each window's mean, added back to the forecast (instance normalisation)
    cyc        minus a per-channel cycle (the training rows' mean at each phase of the cycle,
               ``tsmamba.data.cycle_phase``), added back at the forecast steps' phases
    cyc+rev    both

The ridge penalty is 1 unless ``--alpha`` gives others (each variant is then scored at each):

    .venv/bin/python experiments/linear_cycle.py --data ETTh1 --lookback 720 --cycle 24 --alpha 1 10000

It guided the choice of the network's ``cycle_length`` and ``norm`` (docs/results.md); the
network learns its cycle, this script only estimates it. Phases here come from the published
timestamps; on Weather, whose timestamps repeat once and skip nine, the protocol gives the network
a regular grid instead (``LTSFData.fit_index``), so the network's linear start there
scores a little differently from the "cyc" rows of this script. ``--calendar grid`` takes the
phases from that grid, as the network does (the same on ETTh1 and ETTm1, whose stamps are regular).

With ``--mix`` the map instead reads all channels' last L values at once (L x C features) and
forecasts all channels' next H values (the network's ``channel_mode="mix"`` start), for the plain
and cyc variants, at each ridge penalty given by ``--alpha``:

    .venv/bin/python experiments/linear_cycle.py --data Weather --cycle 144 --mix --alpha 100 1000 3000

With ``--lookbacks`` it scores the per-channel cyc map at each lookback given and the mean of their
forecasts (the linear counterpart of a ``"members"`` config of ``experiments/ltsf.py``):

    .venv/bin/python experiments/linear_cycle.py --data ETTm1 --cycle 96 --lookbacks 96 336

``--members`` mixes the kinds (``own:L:a`` is the ``--own`` map below, ``chanrev:L`` the per-channel
"cyc+rev" map), e.g. the per-channel and the all-channel map at one lookback:

    .venv/bin/python experiments/linear_cycle.py --data Weather --cycle 144 --members chan:96 mix:96:3000

``period:L`` and ``periodrev:L`` are the per-channel cyc and cyc+rev maps shared by the cycle's
phases as well (SparseTSF's constraint; the cycle divides L and every horizon), e.g.

    .venv/bin/python experiments/linear_cycle.py --data ETTh1 --cycle 24 --members chan:336 period:336

and ``--member-weights validation`` scores them also weighted as a config with ``"member_weights":
"validation"`` weighs its networks (fitted on validation; the figure it is chosen on is cross-fitted).

With ``--own`` it scores per-channel cyc maps that are (1 - a) x the map shared by all channels +
a x each channel's own ridge map, at each weight a given (the start of a network with
``channel_skip`` and ``linear_init_own`` a; a = 0 is the shared "cyc" map, but for the penalty on the
bias, which these maps, like the network, leave out; 1 is each channel's own):

    .venv/bin/python experiments/linear_cycle.py --data ETTm1 --cycle 96 --own 0 0.25 0.5 1
"""

from __future__ import annotations

import argparse

import numpy as np

from tsmamba.data import cycle_phase, prepare_ltsf
from tsmamba.errors import run_script

HORIZONS = (96, 192, 336, 720)
VARIANTS = ("plain", "rev", "cyc", "cyc+rev")
SHARED_MEMBERS = {"chan": "cyc", "chanrev": "cyc+rev"}  # --members kinds of the shared map -> variant
PERIOD_MEMBERS = {"period": "cyc", "periodrev": "cyc+rev"}  # the same, shared by the cycle's phases too


def windows(values: np.ndarray, start: int, end: int, lookback: int, horizon: int):
    """Row indices of every (context, target) window inside rows [start, end): (n, L), (n, H)."""
    origins = np.arange(start + lookback - 1, end - horizon)
    return origins[:, None] + np.arange(1 - lookback, 1), origins[:, None] + np.arange(1, horizon + 1)


def training_cycle(values: np.ndarray, phase: np.ndarray, borders) -> np.ndarray:
    """Per-phase means of the training rows, (W, C)."""
    train_s, train_e = borders["train"]
    rows, phases = values[train_s:train_e], phase[train_s:train_e]
    return np.stack([rows[phases == p].mean(0) for p in range(int(phase.max()) + 1)])


def score(
    values, phase, borders, lookback: int, horizon: int, variant: str, alpha: float = 1.0,
    train_stride: int = 1, sampling: str = "strided",
) -> dict:
    """Validation and test MSE of one ridge variant at one horizon."""
    return {split: float(np.mean((f - y) ** 2)) for split, (f, y) in forecasts(
        values, phase, borders, lookback, horizon, variant, alpha, train_stride, sampling).items()}


def forecasts(
    values, phase, borders, lookback: int, horizon: int, variant: str, alpha: float = 1.0,
    train_stride: int = 1, sampling: str = "strided", period: int | None = None,
    splits: tuple[str, ...] = ("val", "test"),
) -> dict:
    """One ridge variant's forecasts and targets at one horizon: split -> ((n, H, C), (n, H, C)),
    for each split of ``splits`` ("train" gives the fitted map's forecasts of its own windows).

    ``train_stride`` k > 1 fits on 1 in k training windows, as the network's ``train_stride`` /
    ``train_sampling`` thin them: every k-th window ("strided") or a random 1/k ("random", seed 0).

    ``period`` w (dividing L and H): the map is shared by the w phases of the period too, as in
    SparseTSF (Lin et al., ICML 2024): each phase's L / w inputs (every w-th value of the window)
    give that phase's H / w forecasts, by one (L / w + 1, H / w) map for all channels and phases.
    """
    if period is not None and (lookback % period or horizon % period):
        raise SystemExit(f"a period-shared map needs the period ({period}) to divide the lookback "
                         f"({lookback}) and the horizon ({horizon})")
    w = period or 1
    cycle = training_cycle(values, phase, borders)  # (W, C)
    use_cycle, use_rev = "cyc" in variant, "rev" in variant

    def prepared(split):
        xi, yi = windows(values, *borders[split], lookback, horizon)
        if split == "train" and train_stride > 1:
            n_keep = -(-len(xi) // train_stride)
            rng = np.random.default_rng(0)
            keep = (
                np.arange(0, len(xi), train_stride)
                if sampling == "strided"
                else np.sort(rng.choice(len(xi), n_keep, replace=False))
            )
            xi, yi = xi[keep], yi[keep]
        x, y = values[xi], values[yi]  # (n, L, C), (n, H, C)
        offset_x = cycle[phase[xi]] if use_cycle else 0.0
        offset_y = cycle[phase[yi]] if use_cycle else 0.0
        xr = x - offset_x
        level = xr.mean(1, keepdims=True) if use_rev else np.zeros((len(x), 1, x.shape[2]))
        return x, y, xr - level, offset_y + level

    def rows(a):  # (n, T, C) -> (n*C*w, T/w): every channel (and phase) a sample, weights shared
        a = a.transpose(0, 2, 1).reshape(a.shape[0], a.shape[2], -1, w)  # (n, C, T/w, w)
        return a.swapaxes(2, 3).reshape(-1, a.shape[2])  # row (i, c, j): values j, j + w, ... of (i, c)

    def unrows(f, n):  # (n*C*w, H/w) -> (n, H, C), the inverse of rows
        f = f.reshape(n, values.shape[1], w, -1).swapaxes(2, 3)  # (n, C, H/w, w)
        return f.reshape(n, values.shape[1], -1).transpose(0, 2, 1)

    _, y, xr, back = prepared("train")
    A = np.hstack([rows(xr), np.ones((xr.shape[0] * xr.shape[2] * w, 1))])
    B = rows(y - back)
    W = np.linalg.solve(A.T @ A + alpha * np.eye(A.shape[1]), A.T @ B)
    out = {}
    for split in splits:
        _, y, xr, back = prepared(split)
        A = np.hstack([rows(xr), np.ones((xr.shape[0] * xr.shape[2] * w, 1))])
        out[split] = (unrows(A @ W, len(y)) + back, y)
    return out


def fit_mixed(values, phase, borders, lookback: int, horizon: int, use_cycle: bool, alphas,
              chunk: int = 2048):
    """Fit the all-channel ridge map at each penalty in ``alphas``.

    Returns ``(weights, chunks)``: penalty -> (L*C + 1, H*C) weights, and ``chunks(split)``, which
    yields a split's windows ``chunk`` at a time as (design (n, L*C + 1), targets (n, H*C), cycle
    at the targets (n, H*C)). Normal equations are accumulated over chunks, so memory stays at a
    few chunks of (chunk, H * C) whatever the horizon.
    """
    cycle = training_cycle(values, phase, borders)  # (W, C)
    if not use_cycle:
        cycle = np.zeros_like(cycle)

    def chunks(split):
        xi, yi = windows(values, *borders[split], lookback, horizon)
        for i in range(0, len(xi), chunk):
            x, y = xi[i : i + chunk], yi[i : i + chunk]
            xr = (values[x] - cycle[phase[x]]).reshape(len(x), -1)  # (n, L*C)
            A = np.hstack([xr, np.ones((len(x), 1))])
            yield A, values[y].reshape(len(y), -1), cycle[phase[y]].reshape(len(y), -1)  # (n, H*C)

    gram, cross = 0.0, 0.0
    for A, y, back in chunks("train"):
        gram = gram + A.T @ A
        cross = cross + A.T @ (y - back)
    weights = {}
    for alpha in alphas:
        penalty = np.full(gram.shape[0], float(alpha))
        penalty[-1] = 0.0  # no penalty on the bias
        weights[alpha] = np.linalg.solve(gram + np.diag(penalty), cross)
    return weights, chunks


def score_mixed(values, phase, borders, lookback: int, horizon: int, use_cycle: bool, alphas) -> dict:
    """Validation and test MSE of the all-channel ridge map at each penalty in ``alphas``."""
    weights, chunks = fit_mixed(values, phase, borders, lookback, horizon, use_cycle, alphas)
    out = {}
    for alpha, W in weights.items():
        out[alpha] = {}
        for split in ("val", "test"):
            sq, n = 0.0, 0
            for A, y, back in chunks(split):
                sq += float(np.sum((A @ W + back - y) ** 2))
                n += y.size
            out[alpha][split] = sq / n
    return out


def forecasts_mixed(values, phase, borders, lookback: int, horizon: int, alpha: float) -> dict:
    """The all-channel cyc map's forecasts and targets at one horizon: split -> ((n, H*C), (n, H*C))."""
    weights, chunks = fit_mixed(values, phase, borders, lookback, horizon, True, [alpha])
    out = {}
    for split in ("val", "test"):
        parts = [(A @ weights[alpha] + back, y) for A, y, back in chunks(split)]
        out[split] = (np.concatenate([f for f, _ in parts]), np.concatenate([y for _, y in parts]))
    return out


def forecasts_own(values, phase, borders, lookback: int, horizon: int, owns, ridge: float = 1.0) -> dict:
    """Forecasts of the per-channel cyc maps (1 - a) x shared + a x the channel's own, for each a
    in ``owns`` (penalty ``ridge`` on the weights of both maps, none on the bias, as the network's
    start with ``linear_init_ridge``; 1 is its default): a -> split -> (forecasts (n, H, C), targets
    (n, H, C))."""
    cycle = training_cycle(values, phase, borders)  # (W, C)
    C = values.shape[1]

    def design(split, c):  # channel c's windows: (n, L + 1) cycle-free inputs and a 1, (n, H) targets
        xi, yi = windows(values, *borders[split], lookback, horizon)
        x, back = values[xi, c] - cycle[phase[xi], c], cycle[phase[yi], c]
        return np.hstack([x, np.ones((len(x), 1))]), values[yi, c], back

    penalty = ridge * np.eye(lookback + 1)
    penalty[-1, -1] = 0.0  # no penalty on the bias
    sums = [(A.T @ A, A.T @ (y - back)) for A, y, back in (design("train", c) for c in range(C))]
    grams, crosses = [g for g, _ in sums], [x for _, x in sums]
    shared = np.linalg.solve(sum(grams) + penalty, sum(crosses))  # (L + 1, H)
    own = [np.linalg.solve(g + penalty, x) for g, x in zip(grams, crosses, strict=True)]
    out = {a: {} for a in owns}
    for split in ("val", "test"):
        parts = [design(split, c) for c in range(C)]
        y = np.stack([t for _, t, _ in parts], axis=-1)  # (n, H, C)
        for a in owns:
            f = [A @ ((1 - a) * shared + a * own[c]) + back for c, (A, _, back) in enumerate(parts)]
            out[a][split] = (np.stack(f, axis=-1), y)
    return out


def score_own(values, phase, borders, lookback: int, horizon: int, owns) -> dict:
    """Validation and test MSE of :func:`forecasts_own`'s maps: a -> split -> MSE."""
    return {a: {split: float(np.mean((f - y) ** 2)) for split, (f, y) in by_split.items()}
            for a, by_split in forecasts_own(values, phase, borders, lookback, horizon, owns).items()}


def parse_member(text: str) -> tuple[str, int, float, float]:
    """``"chan:L"`` (the per-channel cyc map), ``"chanrev:L"`` (its cyc+rev variant),
    ``"period:L"`` / ``"periodrev:L"`` (the same maps shared by the cycle's phases, SparseTSF's
    constraint: ``forecasts(period=cycle)``), ``"mix:L:alpha"`` (the all-channel one) or
    ``"own:L:a"`` (the per-channel maps (1 - a) x shared + a x each channel's own; ``"own:L:a:alpha"``
    with ridge penalty alpha, 1 unless given) -> (kind, L, alpha or a, the own maps' penalty)."""
    kind, *rest = text.split(":")
    try:
        if (kind in SHARED_MEMBERS or kind in PERIOD_MEMBERS) and len(rest) == 1:
            return kind, int(rest[0]), 1.0, 1.0
        if kind == "mix" and len(rest) == 2:
            return kind, int(rest[0]), float(rest[1]), 1.0
        if kind == "own" and len(rest) in (2, 3):
            return kind, int(rest[0]), float(rest[1]), float(rest[2]) if len(rest) == 3 else 1.0
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"member {text!r}: write chan:L, chanrev:L, period:L, periodrev:L, mix:L:alpha, own:L:a or "
        "own:L:a:alpha, e.g. chan:96 period:336 mix:96:3000 own:720:0.75 own:720:0.75:100")


def row_phases(data, cycle: int, calendar: str = "published") -> np.ndarray:
    """Each row's cycle phase (T,), from the published timestamps or the protocol's grid."""
    return cycle_phase(data.index if calendar == "published" else data.fit_index, data.freq, cycle)


def member_ensemble(data_name: str, members, cycle: int, train_stride: int = 1,
                    sampling: str = "strided", calendar: str = "published", digits: int = 4,
                    weigh: bool = False) -> None:
    """Print each member map's MSE and that of the mean of their forecasts.

    A member is ``(kind, L, alpha, ridge)`` as :func:`parse_member` reads it. Under the LTSF split the
    validation and test targets are the same rows whatever the lookback (each split's first window
    ends where the split starts), so the forecasts average window by window, as
    ``experiments/ltsf.py`` averages the networks of a ``"members"`` config. ``train_stride`` and
    ``sampling`` thin the per-channel maps' training windows; the all-channel maps use every one.
    ``digits``: decimals of the rows.

    ``weigh``: also score the members weighted as ``experiments/ltsf.py`` weighs them with
    ``"member_weights": "validation"`` (its own functions): on the simplex, fitted on the validation
    windows; the test row uses those weights, the validation rows are in sample and cross-fitted
    (the figure such a config is chosen on). Each horizon's weights are printed after the rows.
    """
    def member_label(kind: str, L: int, alpha: float, ridge: float) -> str:
        if kind in SHARED_MEMBERS or kind in PERIOD_MEMBERS:
            return f"{'rev ' * kind.endswith('rev')}{'period ' * (kind in PERIOD_MEMBERS)}L={L}"
        return f"{kind} L={L} a={alpha:g}" + f" r={ridge:g}" * (ridge != 1)

    labels = [member_label(*member) for member in members]
    if len(set(labels)) < len(labels):
        raise SystemExit(f"members {labels}: each member once (the same map twice scores as one)")
    print(f"{data_name}, cyc maps, cycle {cycle} ({calendar} clock), members {', '.join(labels)}: "
          f"MSE at H = {HORIZONS}, average")
    weighted = ["weighted in-sample", "weighted cross-fit"] if weigh else []
    rows = {label: {"val": [], "test": []} for label in [*labels, "mean", *weighted]}
    weights = []  # per horizon: (weights on all of validation, [first half's, second half's])
    prepared = {}  # lookback -> (values, phase, borders), read once for every horizon
    for _, L, _, _ in members:
        if L not in prepared:
            data = prepare_ltsf(data_name, L, max(HORIZONS))
            phase = row_phases(data, cycle, calendar)
            prepared[L] = (data.values.astype(np.float64), phase, data.borders)
    for h in HORIZONS:
        sums, targets, kept = {}, {}, {"val": [], "test": []}  # kept: each member's, with weigh
        for label, (kind, L, alpha, ridge) in zip(labels, members, strict=True):
            values, phase, borders = prepared[L]
            if kind in SHARED_MEMBERS or kind in PERIOD_MEMBERS:
                period = cycle if kind in PERIOD_MEMBERS else None
                member = forecasts(values, phase, borders, L, h, {**SHARED_MEMBERS, **PERIOD_MEMBERS}[kind],
                                   train_stride=train_stride, sampling=sampling, period=period)
                member = {split: (f.reshape(len(f), -1), y.reshape(len(y), -1))  # as (n, H*C)
                          for split, (f, y) in member.items()}
            elif kind == "own":
                by_split = forecasts_own(values, phase, borders, L, h, [alpha], ridge)[alpha]
                member = {split: (f.reshape(len(f), -1), y.reshape(len(y), -1))  # as (n, H*C)
                          for split, (f, y) in by_split.items()}
            else:
                member = forecasts_mixed(values, phase, borders, L, h, alpha)
            for split, (f, y) in member.items():
                if split in targets and not np.array_equal(targets[split], y):
                    raise SystemExit(f"{label} forecasts other {split} targets than {labels[0]}")
                targets[split] = y
                sums[split] = sums.get(split, 0.0) + f
                rows[label][split].append(float(np.mean((f - y) ** 2)))
                if weigh:
                    kept[split].append(f)
            del member
        for split, y in targets.items():
            rows["mean"][split].append(float(np.mean((sums[split] / len(members) - y) ** 2)))
        if weigh:
            # experiments/ltsf.py, beside this script (on the path when it runs); imported only here,
            # as it loads the library and torch
            from ltsf import cross_fitted_forecast, error_gram, simplex_weights, weighted_forecast

            y_val, y_test = targets["val"], targets["test"]
            w = simplex_weights(error_gram(kept["val"], y_val))
            test = float(np.mean((weighted_forecast(kept["test"], w) - y_test) ** 2))
            crossed, halves = cross_fitted_forecast(kept["val"], y_val, h)
            for label, forecast in zip(weighted, (weighted_forecast(kept["val"], w), crossed), strict=True):
                rows[label]["val"].append(float(np.mean((forecast - y_val) ** 2)))
                rows[label]["test"].append(test)
            weights.append((w, halves))
            del kept, crossed
    width = max(18, *map(len, rows))
    for label, r in rows.items():
        val, test = (" ".join(f"{v:.{digits}f}" for v in r[split]) for split in ("val", "test"))
        print(f"  {label:{width}s} val {val}  avg {np.mean(r['val']):.{digits}f}"
              f" | test {test}  avg {np.mean(r['test']):.{digits}f}")
    for h, (w, halves) in zip(HORIZONS if weigh else (), weights, strict=True):
        print(f"  weights at H={h}: " + " ".join(f"{v:.3f}" for v in w) + "  (first half / second half: "
              + " / ".join(" ".join(f"{v:.3f}" for v in half) for half in halves) + ")")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="ETTh1, ETTm1 or Weather")
    ap.add_argument("--lookback", type=int, help="the map's lookback (default 96)")
    ap.add_argument("--cycle", type=int, required=True, help="cycle length in steps (24 hourly, 96, 144)")
    ap.add_argument("--train-stride", type=int, default=1, help="fit on 1 in k training windows")
    ap.add_argument("--sampling", choices=("strided", "random"), default="strided",
                    help="with --train-stride: every k-th window or a random 1/k of them")
    ap.add_argument("--mix", action="store_true", help="one map over all channels' inputs (plain, cyc)")
    ap.add_argument("--alpha", type=float, nargs="+",
                    help="ridge penalties of the per-channel or (with --mix) all-channel map (default 1)")
    ap.add_argument("--lookbacks", type=int, nargs="+", metavar="L",
                    help="score the per-channel cyc map at each lookback and the mean of their forecasts")
    ap.add_argument("--own", type=float, nargs="+", metavar="A",
                    help="score per-channel cyc maps (1 - A) x shared + A x each channel's own")
    ap.add_argument("--digits", type=int, choices=range(2, 11), metavar="N",
                    help="decimals of the --own or --members rows (default 4), to tell close maps apart")
    ap.add_argument("--calendar", choices=("published", "grid"), default="published",
                    help="cycle phases from the published timestamps or the protocol's regular grid")
    ap.add_argument("--members", type=parse_member, nargs="+", metavar="SPEC",
                    help="score cyc maps chan:L (per channel), chanrev:L (its cyc+rev variant), "
                         "period:L and periodrev:L (the two shared by the cycle's phases too), "
                         "mix:L:alpha (all channels) and "
                         "own:L:a[:alpha] (per channel, a share of each channel's own) and the mean of "
                         "their forecasts")
    ap.add_argument("--member-weights", choices=("equal", "validation"), default="equal",
                    help="with --members: also score them weighted on validation, as experiments/ltsf.py's "
                         '"member_weights": "validation" does (in sample and cross-fitted)')
    args = ap.parse_args()
    lookbacks = [1 if args.lookback is None else args.lookback, *(args.lookbacks or []),
                 *(m[1] for m in args.members or [])]
    alphas = [*(args.alpha or []), *(m[2] for m in args.members or []), *(m[3] for m in args.members or [])]
    if args.own is not None and (args.mix or args.lookbacks or args.members or args.train_stride > 1
                                 or args.alpha is not None or not all(0 <= a <= 1 for a in args.own)):
        ap.error("--own takes weights in [0, 1], and no --mix, --alpha, --lookbacks, --members or "
                 "--train-stride")
    if args.digits is not None and args.own is None and args.members is None:
        ap.error("--digits widens the --own and --members rows; give it with one of them")
    if any(kind == "own" and m > 1 for kind, _, m, _ in args.members or []):
        ap.error("an own:L:a member's weight a is in [0, 1]")
    if min(lookbacks) < 1 or args.train_stride < 1 or args.cycle < 1 or any(not a >= 0 for a in alphas):
        ap.error("lookbacks, --train-stride and --cycle must be at least 1, and ridge penalties >= 0 "
                 "(0 had read as the default 96, a stride below 1 as 1)")
    if args.member_weights == "validation" and not (args.members or args.lookbacks):
        ap.error("--member-weights weighs the maps of --members (or --lookbacks); give one of them")
    if args.lookbacks and args.members:
        ap.error("give --lookbacks or --members, not both")
    if (args.members or args.lookbacks) and (args.mix or args.alpha is not None or args.lookback is not None):
        ap.error("--members and --lookbacks name each map's lookback (and penalty: mix:L:alpha); "
                 "leave out --mix, --alpha and --lookback")
    args.lookback = 96 if args.lookback is None else args.lookback
    explicit_alpha = args.alpha
    args.alpha = [1.0] if args.alpha is None else args.alpha
    digits = 4 if args.digits is None else args.digits  # of the --own and --members rows
    if args.lookbacks or args.members:
        members = args.members or [("chan", L, 1.0, 1.0) for L in args.lookbacks]
        member_ensemble(args.data, members, args.cycle, args.train_stride, args.sampling, args.calendar,
                        digits, weigh=args.member_weights == "validation")
        return
    if args.own is not None:
        data = prepare_ltsf(args.data, args.lookback, max(HORIZONS))
        phase = row_phases(data, args.cycle, args.calendar)
        values = data.values.astype(np.float64)
        scores = [score_own(values, phase, data.borders, args.lookback, h, args.own) for h in HORIZONS]
        print(f"{args.data}, L={args.lookback}, cycle {args.cycle} ({args.calendar} clock), per-channel cyc "
              f"maps, (1 - a) x shared + a x each channel's own: MSE at H = {HORIZONS}, average")
        for a in args.own:
            val, test = [s[a]["val"] for s in scores], [s[a]["test"] for s in scores]
            row = [" ".join(f"{v:.{digits}f}" for v in x) + f"  avg {np.mean(x):.{digits}f}"
                   for x in (val, test)]
            print(f"  own a={a:<5g} val {row[0]} | test {row[1]}")
        return
    if args.mix and args.train_stride > 1:
        ap.error("--mix fits on every training window; leave out --train-stride")
    data = prepare_ltsf(args.data, args.lookback, max(HORIZONS))
    values = data.values.astype(np.float64)
    phase = row_phases(data, args.cycle, args.calendar)
    thinning = ""
    if args.train_stride > 1:
        thinning = f", 1 in {args.train_stride} training windows ({args.sampling})"
    if args.mix:
        print(f"{args.data}, L={args.lookback}, cycle {args.cycle} ({args.calendar} clock), all channels "
              "in one map: "
              f"MSE at H = {HORIZONS}, average")
        for variant in ("plain", "cyc"):
            scores = [
                score_mixed(values, phase, data.borders, args.lookback, h, variant == "cyc", args.alpha)
                for h in HORIZONS
            ]
            for alpha in args.alpha:
                val = [s[alpha]["val"] for s in scores]
                test = [s[alpha]["test"] for s in scores]
                print(f"  {variant:5s} alpha {alpha:<6g} val " + " ".join(f"{v:.4f}" for v in val)
                      + f"  avg {np.mean(val):.4f} | test " + " ".join(f"{v:.4f}" for v in test)
                      + f"  avg {np.mean(test):.4f}")
        return
    penalties = "" if explicit_alpha is None else f", ridge penalties {[f'{a:g}' for a in args.alpha]}"
    print(f"{args.data}, L={args.lookback}, cycle {args.cycle}{thinning}{penalties}: MSE at H = {HORIZONS}, "
          "average")
    for variant in VARIANTS:
        for alpha in args.alpha:
            scores = [
                score(values, phase, data.borders, args.lookback, h, variant, alpha,
                      train_stride=args.train_stride, sampling=args.sampling)
                for h in HORIZONS
            ]
            val = [s["val"] for s in scores]
            test = [s["test"] for s in scores]
            label = variant if explicit_alpha is None else f"{variant} alpha {alpha:g}"
            print(f"  {label:8s} val " + " ".join(f"{v:.4f}" for v in val) + f"  avg {np.mean(val):.4f}"
                  f" | test " + " ".join(f"{v:.4f}" for v in test) + f"  avg {np.mean(test):.4f}")


if __name__ == "__main__":
    raise SystemExit(run_script(main))  # a missing data set: one line, not a traceback
