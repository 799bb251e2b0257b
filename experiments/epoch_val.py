"""Validation loss after every epoch of one LTSF run, optionally with the linear skip frozen.

    .venv/bin/python experiments/epoch_val.py --config experiments/configs/X.json --horizon 96
    .venv/bin/python experiments/epoch_val.py --config ... --horizon 96 --freeze cross_skip --set max_epochs=5

``experiments/ltsf.py`` keeps only the best epoch; this prints the whole trajectory (with
``linear_init``, a first line "start": the linear start, validated before training) and the test
MSE of the kept network, to see
whether training moves away from a linear start and whether the Mamba path adds anything when the
linear map it sits beside is held fixed (``--freeze cross_skip`` or ``--freeze head``). A probe:
nothing is written.
"""

from __future__ import annotations

import argparse
import time

from lightning.pytorch.callbacks import Callback
from ltsf import load_run  # experiments/ltsf.py: the same config files and overrides

from tsmamba.backtest import backtest_ltsf
from tsmamba.errors import ConfigError, run_script


class EpochLog(Callback):
    """Prints each validation loss; freezes the named submodule of the network at the start."""

    def __init__(self, freeze: str | None):
        self.freeze, self.t0 = freeze, time.perf_counter()

    def on_train_start(self, trainer, module):
        if self.freeze:
            parts = dict(module.network.named_children())
            if self.freeze not in parts:
                raise ConfigError(f"--freeze {self.freeze}: this network has no such submodule; "
                                  f"it has {sorted(parts)}")
            for p in parts[self.freeze].parameters():
                p.requires_grad_(False)  # AdamW skips parameters without gradients (and their decay)

    def on_validation_epoch_end(self, trainer, module):
        loss = float(trainer.callback_metrics["val_loss"])
        seconds = time.perf_counter() - self.t0
        when = "start" if trainer.state.fn == "validate" else f"epoch {trainer.current_epoch}"
        print(f"{seconds:.0f}s {when} val_loss {loss:.4f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--horizon", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--freeze", default=None, help="network submodule kept at its start (e.g. cross_skip)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override parameters (JSON)")
    args = ap.parse_args()
    config, params = load_run(args.config, args.set)
    params.update(progress=False, random_state=args.seed,
                  trainer_kwargs={"callbacks": [EpochLog(args.freeze)]})
    result = backtest_ltsf(params, config["data"], int(config["context_length"]), args.horizon,
                           baselines=False, max_forecast_rows=0)
    training = result.config["training"]
    test_mse = result.scores["tsmamba"]["overall"]["mse"]
    best = training.get("best_epoch")
    kept = "the start (no epoch improved on it)" if best == -1 else f"epoch {best}"
    print(f"kept {kept}: test MSE {test_mse:.4f}")


if __name__ == "__main__":
    raise SystemExit(run_script(main))  # a missing data set: one line, not a traceback
