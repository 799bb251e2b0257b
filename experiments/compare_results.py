"""Does a rerun reproduce a committed result? Compare result files score by score.

    .venv/bin/python experiments/compare_results.py /tmp/rr_out [--against experiments/results] [--exact]

Each argument is a result file written by ``experiments/ltsf.py`` or a folder of them (every
``*.json`` in it but ``efficiency*.json``); each is compared with the file of the same name in
``--against``. For each pair it prints the commit, CPU and date of both (results record the CPU
from the fiftieth ablation round on: last bits differ between CPU models, so a result reproduces
bit for bit only on the kind of CPU that made it), the test, validation and full-history MSE of
both and their difference, whether the members kept the same best epochs, and how many of the
recorded scores (every number outside the timings, memory and run settings) differ, with the
largest relative difference. ``--exact``: exit 1 when any pair differs in a score, or lacks one
the committed file has (a check for scripts); otherwise it only reports.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterator
from pathlib import Path

from tsmamba.errors import run_script

# what a rerun may change without changing what it computed: time, memory, where and how it ran
NOT_SCORES = {"seconds_per_epoch", "seconds_per_batch", "epoch_seconds_extrapolated", "train_seconds",
              "wall_seconds", "forecast_s", "peak_rss_mb", "jobs", "date", "git_commit", "cpu", "machine",
              "command", "tsmamba_version"}
RESULTS = Path(__file__).resolve().parent / "results"


def scores(record: object, path: str = "") -> Iterator[tuple[str, float]]:
    """Every number of a result record (path, value), depth first, leaving out ``NOT_SCORES``."""
    if isinstance(record, dict):
        for key, value in record.items():
            if key not in NOT_SCORES:
                yield from scores(value, f"{path}.{key}" if path else key)
    elif isinstance(record, list):
        for i, value in enumerate(record):
            yield from scores(value, f"{path}[{i}]")
    elif isinstance(record, (int, float)) and not isinstance(record, bool):
        yield path, float(record)


def relative_difference(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|); 0 for equal numbers (two NaNs included), inf where one is NaN."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


def compare(committed: dict, rerun: dict) -> dict:
    """What differs between two records of one run: the differing score paths (with their values),
    the committed scores the rerun lacks (``missing``), those only the rerun has (``new``: records
    gained fields over time, e.g. each channel's MSE), and the largest relative difference."""
    a, b = dict(scores(committed)), dict(scores(rerun))
    differ = {k: (a[k], b[k]) for k in a.keys() & b.keys() if relative_difference(a[k], b[k]) > 0}
    return {"n": len(a.keys() & b.keys()), "differ": differ, "missing": sorted(a.keys() - b.keys()),
            "new": sorted(b.keys() - a.keys()),
            "largest": max((relative_difference(*v) for v in differ.values()), default=0.0)}


def best_epochs(record: dict) -> list:
    """Each member's best epoch (the run's own for a single network)."""
    return [m.get("best_epoch") for m in record.get("members", [record])]


def where(record: dict) -> str:
    commit = (record.get("git_commit") or "commit not recorded")
    return f"{commit[:7]}{'+changes' if commit.endswith('+changes') else ''}, " \
           f"{record.get('cpu') or 'CPU not recorded'}, {record.get('date') or 'no date'}"


def report(name: str, committed: dict, rerun: dict, c: dict) -> list[str]:
    """The lines printed for one pair; ``c`` their :func:`compare`."""
    lines = [f"{name}:", f"  committed: {where(committed)}", f"  rerun:     {where(rerun)}"]
    pairs = [("test MSE", committed.get("mse"), rerun.get("mse")),
             ("val MSE", committed.get("val", {}).get("mse"), rerun.get("val", {}).get("mse")),
             ("full-history MSE", committed.get("full_history", {}).get("mse"),
              rerun.get("full_history", {}).get("mse"))]
    for label, x, y in pairs:
        if x is not None and y is not None:
            lines.append(f"  {label:<17} {x!r:<22} {y!r:<22} {y - x:+.3g}")
    same_epochs = best_epochs(committed) == best_epochs(rerun)
    lines.append(f"  best epochs {'the same' if same_epochs else 'differ'}: {best_epochs(committed)}"
                 + ("" if same_epochs else f" -> {best_epochs(rerun)}"))
    if c["differ"]:
        lines.append(f"  {len(c['differ'])} of {c['n']} scores differ, by up to {c['largest']:.2g} relative")
    else:
        lines.append(f"  all {c['n']} scores in both equal, bit for bit")
    if c["missing"]:
        lines.append(f"  {len(c['missing'])} committed scores missing from the rerun: "
                     f"{', '.join(c['missing'][:4])}{', ...' if len(c['missing']) > 4 else ''}")
    if c["new"]:
        lines.append(f"  {len(c['new'])} scores only the rerun records (fields added since)")
    return lines


def rerun_files(paths: list[str]) -> list[Path]:
    """The result files named, or found in the folders named (efficiency records left out)."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.glob("*.json") if not f.name.startswith("efficiency"))
        elif p.is_file():
            files.append(p)
        else:
            raise SystemExit(f"{p}: no such result file or folder")
    if not files:
        raise SystemExit(f"no result files in {', '.join(paths)}")
    return files


def read(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{path}: not a readable result file ({exc})") from None
    if not isinstance(record, dict):
        raise SystemExit(f"{path}: not a result record (a JSON object)")
    return record


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reruns", nargs="+", help="result files, or folders of them")
    ap.add_argument("--against", default=str(RESULTS), help="the committed results' folder")
    ap.add_argument("--exact", action="store_true", help="exit 1 when any score of any pair differs")
    args = ap.parse_args()
    against = Path(args.against)
    differing = 0
    for path in rerun_files(args.reruns):
        committed_path = against / path.name
        if not committed_path.is_file():
            print(f"{path.name}: no committed result of that name in {against}")
            differing += 1
            continue
        committed, rerun = read(committed_path), read(path)
        c = compare(committed, rerun)
        print("\n".join(report(path.name, committed, rerun, c)))
        differing += bool(c["differ"] or c["missing"])
    return 1 if args.exact and differing else 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
