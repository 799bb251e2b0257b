"""Training with Lightning: the LightningModule (no architecture here) and its callbacks.

``ForecastingModule`` wraps a :class:`tsmamba.model.MambaForecaster`: loss (MSE, MAE or Huber,
optionally mixed with a frequency-domain term over the horizon), AdamW without weight decay on
norms, biases, dt, A and D, a linear warm-up then cosine decay per step, guards on the losses
and on what each epoch's last step made, and optionally an exponential moving average of the
weights (``ema_decay``) that validation reads and training ends on. Its checkpoints also carry
the global random states, so a resumed fit draws the same dropout masks as an uninterrupted one.
``make_trainer`` builds the ``lightning.Trainer`` with gradient clipping, early stopping on the
validation loss with the best weights restored in memory, and the user's ``trainer_kwargs``
passed through.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import errno
import inspect
import logging
import math
import os
import random
import re
import threading
import traceback
import warnings
from collections.abc import Iterator, Sequence
from numbers import Integral, Real
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    GradientAccumulationScheduler,
    ModelCheckpoint,
    ProgressBar,
)
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason
from lightning.pytorch.plugins.io import CheckpointIO, TorchCheckpointIO
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.warnings import PossibleUserWarning
from torch import Tensor

from tsmamba.checkpoint import replacing, write_errors_name
from tsmamba.errors import (
    CheckpointError,
    ConfigError,
    TrainingError,
    TSMambaError,
    check_bool,
    check_number,
    positive_int,
)
from tsmamba.model import MambaForecaster

__all__ = [
    "LOSSES", "CheckpointBeside", "ForecastingModule", "LastCheckpoint", "RestoreBestWeights",
    "check_trained_network", "check_trainer_kwargs", "check_training_length", "forecast_batch",
    "make_trainer", "seeded", "validated_windows",
]

LOSSES = ("mse", "mae", "huber")


def forecast_loss(kind: str, pred: Tensor, target: Tensor, frequency_weight: float = 0.0) -> Tensor:
    """Loss of forecasts ``pred`` against ``target``, both (b, H, C).

    ``frequency_weight`` a mixes in the frequency-domain error over the horizon (FreDF, Wang et
    al., ICLR 2025: the H steps of a target are autocorrelated, their Fourier coefficients much
    less): (1 - a) * loss + a * mean |rFFT_H(pred - target)|, the FFT orthonormal so that the
    term is on the scale of the errors themselves, whatever H.
    """
    if kind == "mse":
        loss = F.mse_loss(pred, target)
    elif kind == "mae":
        loss = F.l1_loss(pred, target)
    elif kind == "huber":
        loss = F.huber_loss(pred, target, delta=1.0)
    else:
        raise ConfigError(f"loss must be one of {LOSSES}, got {kind!r}")
    if frequency_weight == 0.0:
        return loss
    error = pred - target
    if error.dtype in (torch.bfloat16, torch.float16):  # no FFT in bf16 (CPU, cuFFT): precision="bf16-true"
        error = error.float()
    spectrum = torch.fft.rfft(error, dim=1, norm="ortho")  # (b, H//2+1, C) complex
    return (1.0 - frequency_weight) * loss + frequency_weight * spectrum.abs().mean()


def _rng_states() -> dict[str, Any]:
    """The global random states (torch CPU, CUDA once it is in use, Apple's MPS where present,
    numpy, ``random``) as tensors and plain Python values, so that a checkpoint holding them loads
    with ``weights_only=True``. (Reading CUDA's states would start CUDA; before it starts they are
    only the seed's.)"""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        # dropout on an MPS device draws from its own generator: a resume had drawn new masks there
        "mps": torch.mps.get_rng_state() if torch.backends.mps.is_available() else None,
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": random.getstate(),
    }


def _set_rng_states(states: dict[str, Any]) -> None:
    """Restore what :func:`_rng_states` returned (CUDA states only for the devices present)."""
    torch.set_rng_state(states["torch"])
    if torch.cuda.is_available():
        for device, state in enumerate(states["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(state, device)
    if states.get("mps") is not None and torch.backends.mps.is_available():  # saved since 2026-12-05
        torch.mps.set_rng_state(states["mps"])
    np_state = states["numpy"]
    np.random.set_state(("MT19937", np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["gauss"]))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))


_SEED_ENV = ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")  # what lightning.seed_everything also sets


PROCESS_STATE_LOCK = threading.RLock()
"""Held while a fit changes process-wide torch state (the global generators it seeds, the
default dtype, deterministic mode) and until it gives them back: fits in several threads of one
process run one at a time instead of seeding, and restoring, each other's state (two threaded
fits with fixed seeds gave other forecasts than the same fits in turn). Use processes to fit in
parallel."""
if hasattr(os, "register_at_fork") and hasattr(PROCESS_STATE_LOCK, "_at_fork_reinit"):
    # a child forked while another thread fits would inherit the lock held by a thread it lacks
    os.register_at_fork(after_in_child=PROCESS_STATE_LOCK._at_fork_reinit)


_QUIET_FIT = threading.local()  # .on: this thread runs a fit with progress=False


class _NotesOfQuietFits(logging.Filter):
    """Drops Lightning's notes below WARNING logged by a thread that runs a quiet fit; other
    threads' records, and the loggers' levels, are left as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not getattr(_QUIET_FIT, "on", False)


_NOTES_FILTER = _NotesOfQuietFits()
for _name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
              "lightning.fabric.utilities.distributed", "lightning.pytorch.accelerators.cuda"):
    logging.getLogger(_name).addFilter(_NOTES_FILTER)


def unactionable_warnings_off() -> None:
    """Put first in the process's warning filters (and leave there: ``warnings.catch_warnings``
    would swap every thread's filters, and putting them back dropped those other threads set
    meanwhile) filters that ignore two warnings every fit gave and no caller can act on: torch's
    FutureWarning about Lightning's own use of ``LeafSpec`` (torch 2.13, Lightning 2.6), and
    Lightning's PossibleUserWarning that the train and val loaders "do not have many workers" (on
    a machine with 4 cores or more), which the estimator's window loaders, gathering each batch
    from the series in memory at once, do not take. The same filter again replaces it."""
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                            category=FutureWarning)
    warnings.filterwarnings("ignore", message=r"The '(train|val)_dataloader' does not have many workers",
                            category=PossibleUserWarning)


@contextlib.contextmanager
def lightning_notes_off(off: bool = True) -> Iterator[None]:
    """Lightning's notes ("GPU available: ...", "TPU available: ...", tips, the distributed
    set-up) left out while this thread runs a fit with ``progress=False``. Workers a strategy
    spawns (ddp_spawn) print their own. Every fit, quiet or not, also ignores the warnings of
    :func:`unactionable_warnings_off`."""
    unactionable_warnings_off()
    if not off:
        yield
        return
    before = getattr(_QUIET_FIT, "on", False)
    _QUIET_FIT.on = True
    try:
        yield
    finally:
        _QUIET_FIT.on = before


@contextlib.contextmanager
def process_settings_kept() -> Iterator[None]:
    """Give torch's deterministic-algorithms mode, ``CUBLAS_WORKSPACE_CONFIG`` and
    ``torch.backends.cudnn.benchmark`` back as they were: ``trainer_kwargs={"deterministic": True}``
    switched the first two on for the whole process, and cuDNN's benchmark off (``"benchmark":
    True`` left it on)."""
    mode = (torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled())
    cublas = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    benchmark = torch.backends.cudnn.benchmark
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(mode[0], warn_only=mode[1])
        torch.backends.cudnn.benchmark = benchmark
        if cublas is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = cublas


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run a fit seeded with ``seed`` (torch, numpy, ``random``, dataloader workers) and give the
    caller's global random states back afterwards, also when the fit raises: a fit with a fixed
    seed neither depends on nor moves the user's generators (CUDA's only when CUDA was already in
    use). ``None``: the fit draws from the global generators as they are, and leaves them
    advanced."""
    if seed is None:
        yield
        return
    states, env = _rng_states(), {name: os.environ.get(name) for name in _SEED_ENV}
    L.seed_everything(seed, workers=True, verbose=False)
    try:
        yield
    finally:
        _set_rng_states(states)
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_FLOAT32_MAX = float(torch.finfo(torch.float32).max)  # the optimizer steps in float32
_BETAS = (0.9, 0.95)  # AdamW's; its first step is learning_rate / (1 - beta1) = 10 x learning_rate


class ForecastingModule(L.LightningModule):
    """Lightning training of a forecasting network on (context, target[, marks]) batches."""

    def __init__(
        self,
        network: MambaForecaster,
        *,
        loss: str = "mse",
        frequency_loss: float = 0.0,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.05,
        channel_skip_lr_ratio: float = 1.0,
        freeze_linear_path: bool = False,
        ema_decay: float | None = None,
        identity: dict[str, Any] | None = None,
        step_windows: tuple[int, int] | None = None,
        keep_val_forecasts: bool = False,
    ):
        """``freeze_linear_path``: train the Mamba path only, the linear path held at its values
        (``MambaForecaster.freeze_linear_path``). ``identity``: what the fit is of (e.g. the network
        configuration and the channels), written into every checkpoint so that a resume can refuse
        another fit's checkpoint. ``step_windows`` = (windows a step, windows an epoch) when each
        step accumulates micro-batches (the trainer's ``accumulate_grad_batches``): each one's loss
        is then weighed by its share of its step's windows, so that a step's gradient is that of
        the mean loss over its windows, the epoch's partial last step included (Lightning alone
        weighs every micro-batch 1 / accumulate_grad_batches). ``keep_val_forecasts``: each
        validation's forecasts (B, H, C) are kept in ``val_forecasts``, batch by batch in the
        loader's order, until the next validation starts (:class:`RestoreBestWeights` keeps the
        best one's)."""
        super().__init__()
        check_number(ema_decay, "ema_decay", lambda v: 0 < v < 1, "in (0, 1) or None", allow_none=True)
        check_objective(loss, frequency_loss, learning_rate, weight_decay)
        check_number(warmup_fraction, "warmup_fraction", lambda v: 0 <= v < 1, "a number in [0, 1)")
        check_number(min_lr_ratio, "min_lr_ratio", lambda v: 0 <= v <= 1, "a number in [0, 1]")
        check_number(channel_skip_lr_ratio, "channel_skip_lr_ratio", lambda v: 0 <= v <= 1,
                     "a number in [0, 1]")
        check_bool(freeze_linear_path, "freeze_linear_path")
        if freeze_linear_path:
            network.freeze_linear_path()
        self.network = network
        self.loss_kind = loss
        self.frequency_loss = float(frequency_loss)
        # plain Python numbers: they reach the optimizer's state in checkpoints, which must load
        # with weights_only=True (a numpy scalar from a parameter grid would not)
        self.learning_rate = float(learning_rate)
        self.weight_decay = float(weight_decay)
        self.warmup_fraction = warmup_fraction
        self.min_lr_ratio = float(min_lr_ratio)  # the learning rate's floor, a share of the peak
        self.channel_skip_lr_ratio = float(channel_skip_lr_ratio)  # its learning rate's share (0: frozen)
        self._held: list[torch.nn.Parameter] = []  # what a fit holds (:meth:`hold_channel_skip`)
        self.ema_decay = ema_decay
        self.identity = identity
        if step_windows is not None:
            positive_int(step_windows[0], "step_windows[0] (windows a step)")
            positive_int(step_windows[1], "step_windows[1] (windows an epoch)")
        self.step_windows = step_windows
        self.first_epoch = 0  # the epoch this run of fit started at
        self.first_step: int | None = None  # and its step; None: it did not start (all epochs had run)
        self._ema: list[Tensor] | None = None  # moving average of the parameters (ema_decay)
        self._ema_swapped = False
        self._ema_applied = False  # the fit ended on the averaged weights
        self._last_batch: list[Tensor] | None = None  # the epoch's last training batch
        self.keep_val_forecasts = check_bool(keep_val_forecasts, "keep_val_forecasts")
        self.val_forecasts: list[Tensor] = []  # the last validation's, on the CPU (keep_val_forecasts)

    def forward(
        self, context: Tensor, marks: Tensor | None = None, future_phase: Tensor | None = None
    ) -> Tensor:
        return self.network(context, marks, future_phase=future_phase)

    def hold_channel_skip(self) -> None:
        """With ``channel_skip_lr_ratio`` 0, channel_skip's weights stop requiring gradients for the
        fit, as ``freeze_linear_path`` holds them: :meth:`MambaForecaster.param_groups` then leaves
        them out of the optimizer, and no gradient of theirs is computed or counts in the norm that
        ``gradient_clip_val`` clips. :meth:`release_channel_skip` gives them back."""
        if self.channel_skip_lr_ratio or not self.network.config.channel_skip or self._held:
            return
        self._held = [p for p in self.network.channel_skip.parameters() if p.requires_grad]
        for p in self._held:
            p.requires_grad_(False)

    def release_channel_skip(self) -> None:
        """Undo :meth:`hold_channel_skip`: the network is left as the fit found it."""
        for p in self._held:
            p.requires_grad_(True)
        self._held = []

    def configure_callbacks(self) -> list[Callback]:
        # one a trainer: another (a fit after trainer.validate) would replace it, with a note
        held = any(isinstance(c, _HoldForTheFit) for c in self.trainer.callbacks)
        return [] if held else [_HoldForTheFit()]

    def _loss(self, batch: list[Tensor]) -> Tensor:
        pred = forecast_batch(self.network, batch)
        return forecast_loss(self.loss_kind, pred, batch[1], self.frequency_loss)

    def training_step(self, batch: list[Tensor], batch_idx: int) -> Tensor:
        loss = self._loss(batch)
        if not torch.isfinite(loss):
            raise TrainingError(
                f"non-finite training loss ({loss.item()}) at epoch {self.current_epoch}, "
                f"step {self.global_step} (batch {batch_idx}); weights were not saved. "
                "Check the data for extreme values, or lower learning_rate"
            )
        # the names one log(on_step=True, on_epoch=True) gave, logged apart: the epoch's is averaged
        # over the processes of a distributed fit (each trains its share of the batches), each step's
        # is the process's own (sync_dist on it would wait on a barrier and an all-reduce every step).
        # train_loss, for a monitor, is the epoch's only (during an epoch it had been each step's)
        n = batch[0].shape[0]
        self.log("train_loss_step", loss, prog_bar=True, on_step=True, on_epoch=False)
        epoch = dict(on_step=False, on_epoch=True, batch_size=n, sync_dist=True)
        self.log("train_loss_epoch", loss, prog_bar=True, **epoch)
        self.log("train_loss", loss, logger=False, **epoch)
        self._last_batch = batch
        return loss * self._share_of_step(n, batch_idx)

    def _share_of_step(self, windows: int, batch_idx: int) -> float:
        """k x this micro-batch's windows / its step's windows (1 on whole steps of k micro-batches of
        equal size): Lightning divides each micro-batch's loss by k, the share should be by windows."""
        k = self.trainer.accumulate_grad_batches
        if self.step_windows is None or k == 1:
            return 1.0
        per_step, per_epoch = self.step_windows
        in_step = min(per_step, per_epoch - (batch_idx // k) * per_step)  # the last step may fall short
        return k * windows / in_step

    def on_train_epoch_end(self) -> None:
        # before the epoch's checkpoint (a Checkpoint's hook runs after this one) and before the
        # fit returns: each loss is checked before its step, so the epoch's last step is checked here
        if self._last_batch is not None:
            check_trained_network(self.network, self._last_batch, self.current_epoch, self.global_step)
            self._last_batch = None

    # ---- exponential moving average of the weights (ema_decay) ------------------------------
    def _after_optimizer_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        """The optimizer's step post-hook (:meth:`configure_optimizers`): where an override of
        ``optimizer_step`` had updated the average, for which a GradientAccumulationScheduler warned
        at every fit that the override runs once a step, not once a batch, as it is meant to."""
        self._update_ema()

    def _update_ema(self) -> None:
        """After each optimizer step (not each batch: ``accumulate_grad_batches`` takes several):
        ema <- ema + (1 - decay) * (weights - ema).

        The decay ramps up as min(decay, (1 + n) / (10 + n)) over the first steps n, so the
        average is not dominated by the initial weights.
        """
        if not self.ema_decay:
            return
        params = [p.detach() for p in self.network.parameters()]
        if self._ema is None:
            self._ema = [_averaged(p) for p in params]
            return
        if self._ema[0].device != params[0].device:  # loaded from a checkpoint on the CPU: the
            # network moved to the GPU after Lightning had restored them
            self._ema = [avg.to(p.device) for avg, p in zip(self._ema, params, strict=True)]
        n = self.global_step + 1  # optimizer steps taken (global_step counts this one only after)
        weight = 1.0 - min(self.ema_decay, (1 + n) / (10 + n))
        for avg, p in zip(self._ema, params, strict=True):
            avg.lerp_(p.to(avg.dtype), weight)

    def _swap_ema(self) -> None:
        """Exchange the network's weights and the averaged ones (in place: the optimizer's
        parameters stay the same tensors)."""
        for avg, p in zip(self._ema, self.network.parameters(), strict=True):
            current = p.detach().clone()
            p.data.copy_(avg)
            avg.copy_(current)
        self._ema_swapped = not self._ema_swapped

    def on_validation_epoch_start(self) -> None:
        self.val_forecasts = []
        # validation (and the callbacks that read it: best weights, early stopping) sees the average
        if self._ema is not None and not self._ema_swapped:
            self._swap_ema()

    def on_validation_end(self) -> None:
        if self._ema_swapped:  # back to the raw weights to continue training
            self._swap_ema()

    def on_train_start(self) -> None:
        self.first_epoch = self.trainer.current_epoch  # > 0 when resumed from a checkpoint
        self.first_step = self.trainer.global_step

    def on_train_end(self) -> None:
        self.end_on_ema()

    def end_on_ema(self) -> None:
        """Put the averaged weights in place, once: training ends on them. Lightning skips
        ``on_train_end`` when a resumed checkpoint had already run every epoch, so the caller
        calls this after the fit too."""
        if self._ema is not None and not self._ema_applied:
            for avg, p in zip(self._ema, self.network.parameters(), strict=True):
                p.data.copy_(avg)
            self._ema_applied = True

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self._ema is not None:
            checkpoint["ema_weights"] = [avg.clone() for avg in self._ema]
            if self._ema_swapped:  # saved during validation (a ModelCheckpoint's at validation end):
                # its state_dict holds the averages, which validation scored, and ema_weights the
                # weights training goes on from; a resume swaps them back (it had trained on from
                # the averages, and averaged into the raw weights)
                checkpoint["ema_in_state_dict"] = True
        checkpoint["rng_states"] = _rng_states()
        if self.identity is not None:
            checkpoint["identity"] = self.identity

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if checkpoint.get("ema_in_state_dict") and "ema_weights" in checkpoint:  # before Lightning
            # loads the state_dict: the weights training goes on from into it, the averages back
            state = checkpoint["state_dict"]
            keys = [f"network.{name}" for name, _ in self.network.named_parameters()]
            averages = [state[key] for key in keys]
            for key, raw in zip(keys, checkpoint["ema_weights"], strict=True):
                state[key] = raw.to(state[key].dtype)
            checkpoint["ema_weights"] = averages
            checkpoint["ema_in_state_dict"] = False
        if "ema_weights" in checkpoint and self.ema_decay is not None:  # EMA may be off now
            self._ema = [_averaged(avg) for avg in checkpoint["ema_weights"]]
        if "rng_states" in checkpoint:  # absent in checkpoints written before it was saved
            _set_rng_states(checkpoint["rng_states"])
        if not any(g.get("name") == "channel_skip" for g in self.network.param_groups(self.weight_decay)):
            _without_channel_skip_groups(checkpoint)  # held in this fit (before its optimizer state loads)

    def validation_step(self, batch: list[Tensor], batch_idx: int) -> None:
        pred = forecast_batch(self.network, batch)
        loss = forecast_loss(self.loss_kind, pred, batch[1], self.frequency_loss)
        if self.keep_val_forecasts:
            self.val_forecasts.append(pred.detach().cpu())
        if not torch.isfinite(loss):  # early stopping had ended such a fit quietly, forecasting NaN
            raise TrainingError(
                f"non-finite validation loss ({loss.item()}) at epoch {self.current_epoch}, after "
                f"step {self.global_step}: the weights diverged; weights were not saved. Lower "
                "learning_rate, or check the data for extreme values"
            )
        # summed over the processes of a distributed fit (each validates its share of the batches):
        # early stopping and the best weights of each process had judged its own share, so the
        # processes stopped on one's verdict and ended on different weights
        self.log("val_loss", loss, prog_bar=True, on_epoch=True, batch_size=batch[0].shape[0], sync_dist=True)

    def test_step(self, batch: list[Tensor], batch_idx: int) -> None:
        context, target = batch[0], batch[1]
        pred = forecast_batch(self.network, batch)
        n = context.shape[0]
        self.log("test_mse", F.mse_loss(pred, target), batch_size=n)
        self.log("test_mae", F.l1_loss(pred, target), batch_size=n)

    def configure_optimizers(self) -> dict[str, Any]:
        groups = self.network.param_groups(self.weight_decay, self.learning_rate * self.channel_skip_lr_ratio)
        optimizer = torch.optim.AdamW(groups, lr=self.learning_rate, betas=_BETAS)
        if self.ema_decay:  # right after each step, inside Lightning's optimizer_step (global_step not
            optimizer.register_step_post_hook(self._after_optimizer_step)  # counting it yet)
        estimated = optimizer_steps(self.trainer)
        if not math.isfinite(estimated):  # max_epochs=-1 and no max_steps: OverflowError in int()
            raise ConfigError(
                "the learning-rate schedule needs a finite number of training steps, but "
                "trainer_kwargs set max_epochs=-1 without max_steps; use the estimator's max_epochs "
                "(early stopping still ends training sooner) or give max_steps"
            )
        total = max(1, int(estimated))
        warmup = int(self.warmup_fraction * total)
        floor = self.min_lr_ratio

        def lr_factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def _without_channel_skip_groups(checkpoint: dict[str, Any]) -> None:
    """Take channel_skip's optimizer groups (the last ones), their Adam state and the schedule's
    entries for them out of ``checkpoint``: an earlier tsmamba kept them at channel_skip_lr_ratio 0
    (at learning rate 0), and a fit that holds channel_skip has none."""
    if not checkpoint.get("optimizer_states"):
        return
    optimizer = checkpoint["optimizer_states"][0]  # the module's one optimizer, and its one schedule
    groups = optimizer["param_groups"]
    n = sum(g.get("name") != "channel_skip" for g in groups)
    for group in groups[n:]:
        for i in group["params"]:
            optimizer["state"].pop(i, None)
    del groups[n:]
    for schedule in checkpoint.get("lr_schedulers") or []:  # a learning rate a group
        for key in ("base_lrs", "_last_lr", "lr_lambdas"):
            if key in schedule:
                del schedule[key][n:]


class _HoldForTheFit(Callback):
    """Holds channel_skip for a fit (:meth:`ForecastingModule.hold_channel_skip`), from its setup,
    before the optimizer is built, and releases it at the fit's end, also when the fit raises
    (Lightning then skips the teardown hooks)."""

    def setup(self, trainer: L.Trainer, pl_module: ForecastingModule, stage: str) -> None:
        if stage == "fit":
            pl_module.hold_channel_skip()

    def teardown(self, trainer: L.Trainer, pl_module: ForecastingModule, stage: str) -> None:
        if stage == "fit":
            pl_module.release_channel_skip()

    def on_exception(self, trainer: L.Trainer, pl_module: ForecastingModule, exc: BaseException) -> None:
        pl_module.release_channel_skip()


class RestoreBestWeights(Callback):
    """Keep the weights of the best validation in memory; restore them when fitting ends.

    Every validation counts: each epoch's (or each ``val_check_interval``'s), and one run by
    ``trainer.validate`` before ``fit`` (the starting weights; ``best_epoch`` -1).

    Its state (best score and weights, and ``val_losses``: every validation's epoch, optimizer
    step and loss, in order) travels in Lightning checkpoints, so a resumed run restores the same
    best weights and reports the same record an uninterrupted one would. ``best_forecasts``: the
    best validation's forecasts, batch by batch (pieces (b, H, C) in order: not joined, which had
    held a second copy while the next validation's arrived), when the module keeps them
    (``keep_val_forecasts``) and that validation ran in this process (they do not travel in
    checkpoints: None after a resume whose best validation came before it).
    """

    def __init__(self, monitor: str = "val_loss"):
        self.monitor = monitor
        self.best_score: float | None = None
        self.best_epoch: int | None = None  # -1: the weights training started from
        self.best_step: int | None = None  # optimizer steps taken before the best validation
        self.best_state: dict[str, Tensor] | None = None
        self.val_losses: list[dict[str, Any]] = []  # {"epoch", "step", "loss" (None: not finite)}
        self.best_forecasts: list[Tensor] | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pieces, pl_module.val_forecasts = getattr(pl_module, "val_forecasts", []), []  # let go of them
        if trainer.sanity_checking:
            return
        score = trainer.callback_metrics.get(self.monitor)
        if score is None:
            return
        before_fit = trainer.state.fn != TrainerFn.FITTING  # a trainer.validate() before training
        epoch, step = (-1, 0) if before_fit else (trainer.current_epoch, trainer.global_step)
        finite = bool(torch.isfinite(score))
        self.val_losses.append({"epoch": epoch, "step": step, "loss": float(score) if finite else None})
        if not finite:
            return
        if self.best_score is None or float(score) < self.best_score:
            self.best_score = float(score)
            self.best_epoch, self.best_step = epoch, step
            self.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in
                                             pl_module.state_dict().items()})
            self.best_forecasts = pieces or None

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.best_state is not None:
            pl_module.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "best_step": self.best_step,
            "best_state": self.best_state,
            "val_losses": self.val_losses,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = state_dict["best_score"]
        self.best_epoch = state_dict["best_epoch"]
        self.best_step = state_dict.get("best_step")
        self.best_state = state_dict["best_state"]
        self.val_losses = list(state_dict.get("val_losses", []))  # none in checkpoints before it


_LAST_TEMP = re.compile(r"\.last\.ckpt\.[0-9a-f]+\.tmp")  # as CheckpointBeside names them (.<pid>. before)


class CheckpointBeside(TorchCheckpointIO):
    """Lightning's ``TorchCheckpointIO``, but a checkpoint on a local path is torch.saved straight
    into a new file beside it (``.<name>.<random>.tmp``), fsynced and moved into place, the file
    removed when the save fails or is interrupted: the path holds the old checkpoint or the whole
    new one. Lightning's saves into memory first and writes that copy through a file in the temp
    folder (``TMPDIR``, fsspec's transaction), so a checkpoint was held in memory twice, a full
    temp folder failed the save, and a fit killed meanwhile left a checkpoint-sized file there that
    nothing named. Other URLs (``s3://...``), and ``storage_options``, are Lightning's to handle."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        fs, local = url_to_fs(str(path))
        if storage_options is not None or not isinstance(fs, LocalFileSystem):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        # the link itself is replaced, as Lightning's save does: a save_last="link" last.ckpt names
        # a top-k checkpoint, which a save through the link would overwrite
        with write_errors_name(local), replacing(local, follow_symlinks=False) as fh:
            writes = _WholeWrites(fh)
            try:
                torch.save(checkpoint, writes)
            except RuntimeError:  # torch's for a write's OSError ("unexpected pos"): the OSError
                if writes.error is None:  # (a full disk), which LastCheckpoint explains
                    raise
                raise writes.error from None


class _WholeWrites:
    """A file's ``write`` that writes all it is given or raises OSError, and keeps that error:
    torch.save turns a write's OSError (a full disk, "File too large") into a RuntimeError
    ("unexpected pos 704 vs 598") that named neither the disk nor the file."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(view):
                written = self._fh.write(view[done:])
                if not written:  # nothing written and no error: the system's write would not say why
                    raise OSError(errno.EIO, "the checkpoint file took no more bytes")
                done += written
        except OSError as exc:
            self.error = exc
            raise
        return done

    def flush(self) -> None:
        self._fh.flush()


class CloseProgressBars(Callback):
    """Close the progress bars when training raises or is interrupted: Lightning leaves them
    open, so the caller's next line ("tsmamba: interrupted", an error) went onto the bar's line,
    and the bar was drawn again below it at exit."""

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exc: BaseException) -> None:
        progress = trainer.progress_bar_callback
        for name in ("_val_progress_bar", "_train_progress_bar"):  # Lightning's tqdm bars
            bar = getattr(progress, name, None)
            if bar is not None and hasattr(bar, "close"):
                with contextlib.suppress(Exception):  # a bar already closed, another bar's kind
                    bar.close()


class LastCheckpoint(Checkpoint):
    """Write ``dirpath/last.ckpt`` after every training epoch (after its validation), atomically.

    The trainer's CheckpointIO writes it: :class:`CheckpointBeside` (``make_trainer``'s) writes a
    new file beside it and moves it into place, so a crash while saving leaves the previous epoch's
    checkpoint intact; a CheckpointIO plugin of the user's writes it as that one writes. A
    :class:`Checkpoint` runs its epoch-end hook after every other callback's, so the file holds
    early stopping's verdict on the epoch (as a plain callback it held the previous epoch's, and a
    resumed fit trained past the stop). When a
    fit resumes, the verdict is applied again: Lightning restores early stopping's record but not
    the stop itself, so a resume from the last checkpoint of a fit that early stopping had ended
    trained on. Only early stopping's verdict: a fit that ``max_time`` (or another callback)
    stopped resumes to train on, as such slots are meant to.

    ``early_stopping``: the estimator's own, whose patience is this fit's: Lightning restores the
    checkpoint's, so a resume given another patience ran with the old one. A fit that ran out of
    patience trains on under a larger one, until its count of validations without improvement
    reaches it; one whose count already reaches a smaller one ends.
    """

    def __init__(self, dirpath: str | os.PathLike, early_stopping: EarlyStopping | None = None):
        self.dirpath = os.fspath(dirpath)
        self.early_stopping = early_stopping
        self.patience = None if early_stopping is None else early_stopping.patience

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.ckpt_path is None:  # a new fit: a user's EarlyStopping may still hold a last verdict
            return
        ours = self.early_stopping
        if ours is not None:  # restored from the checkpoint: this fit's patience, and its verdict
            ours.patience = self.patience
            by_patience = (EarlyStoppingReason.NOT_STOPPED, EarlyStoppingReason.PATIENCE_EXHAUSTED)
            if ours.stopping_reason in by_patience:
                ours.stopping_reason = by_patience[ours.wait_count >= ours.patience]
        if any(isinstance(c, EarlyStopping) and c.stopping_reason != EarlyStoppingReason.NOT_STOPPED
               for c in trainer.callbacks):  # restored from the checkpoint: the fit had ended
            trainer.should_stop = True

    @property
    def path(self) -> str:
        return os.path.join(self.dirpath, "last.ckpt")

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        try:
            # the full state, optimizer included (left unset, Lightning logged a line every epoch)
            trainer.save_checkpoint(self.path, weights_only=False)
        except OSError as exc:  # a full disk
            io = trainer.strategy.checkpoint_io
            kept = ("there is none yet" if not os.path.exists(self.path) else "the previous one is kept"
                    if isinstance(io, CheckpointBeside) else f"it is as your {type(io).__name__} left it")
            raise CheckpointError(
                f"{self.dirpath}: the epoch's last.ckpt could not be written ({exc}); {kept}. Free "
                "space on the disk the error names, or choose another checkpoint_dir"
            ) from exc


def _partial_saves(callback: Checkpoint) -> tuple[str, re.Pattern[str]] | None:
    """The folder a checkpoint callback saves into and the names :class:`CheckpointBeside` gives
    its saves' temporary files there (``.<name>.<8 hex>.tmp``); None for another kind of callback."""
    if isinstance(callback, LastCheckpoint):
        return callback.dirpath, _LAST_TEMP
    if isinstance(callback, ModelCheckpoint) and callback.dirpath is not None:
        return callback.dirpath, re.compile(rf"\..+{re.escape(callback.FILE_EXTENSION)}\.[0-9a-f]{{8}}\.tmp")
    return None


class NamePartialSaves(Callback):
    """When training starts, warn of the partial files that fits killed while saving a checkpoint
    left in the folders this fit's checkpoints go to (:class:`LastCheckpoint`'s, and those of a
    ``ModelCheckpoint`` in ``trainer_kwargs``): a failed save removes its own, a killed one
    cannot, and each is checkpoint-sized under a name no later save reuses. They are named, not
    removed: nothing shows that no other fit is writing one now."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        found: dict[str, tuple[str, set[str]]] = {}  # one warning per folder, however many callbacks
        for callback in trainer.checkpoint_callbacks:
            where = _partial_saves(callback)
            if where is None:
                continue
            folder, names = where
            with contextlib.suppress(OSError), os.scandir(folder) as entries:  # no folder yet (or a URL)
                # files only: a save's temporary file is one (a folder or link so named is someone else's)
                left = {e.name for e in entries
                        if names.fullmatch(e.name) and e.is_file(follow_symlinks=False)}
                found.setdefault(os.path.realpath(folder), (folder, set()))[1].update(left)
        for folder, leftovers in found.values():
            if leftovers:
                warnings.warn(
                    f"{folder} holds {sorted(leftovers)}, partial checkpoint files of fits that were "
                    "killed while saving (or are saving now); delete them once no fit writes there",
                    UserWarning,
                    stacklevel=2,
                )


def make_trainer(
    *,
    max_epochs: int,
    patience: int | None,
    has_validation: bool,
    gradient_clip_val: float | None = 1.0,
    progress: bool = True,
    checkpoint_dir: str | os.PathLike | None = None,
    trainer_kwargs: dict[str, Any] | None = None,
) -> tuple[L.Trainer, RestoreBestWeights | None]:
    """A Trainer with early stopping and best-weight restoring (when there is validation data).

    ``checkpoint_dir``: also write ``last.ckpt`` after every epoch, so an interrupted fit can resume.
    Checkpoints are saved by :class:`CheckpointBeside` where Lightning's ``TorchCheckpointIO`` would
    save them, unless ``trainer_kwargs`` give a CheckpointIO (in ``plugins`` or a ``strategy``).
    ``trainer_kwargs`` override anything here (accelerator, devices, precision, strategy, ...)
    but validation limits without validation data, and ``enable_checkpointing=False`` with a
    ``checkpoint_dir`` (or ``precision="16-true"``) is a ConfigError; its ``callbacks`` are added
    to ours (a ``Checkpoint`` among them switches checkpointing on); ``limit_val_batches=0``
    means no validation, so no early stopping or best-weight restoring.
    """
    check_trainer_kwargs(trainer_kwargs)
    check_training_length(max_epochs, trainer_kwargs)
    gradient_clip_val = check_gradient_clip(gradient_clip_val)  # a float: Lightning refuses np.float32
    kwargs = dict(trainer_kwargs or {})
    if checkpoint_dir is not None and not kwargs.get("enable_checkpointing", True):
        raise ConfigError(
            "trainer_kwargs enable_checkpointing=False contradicts checkpoint_dir, which writes "
            "last.ckpt there after every epoch; drop one of them"
        )
    if str(kwargs.get("precision")) == "16-true":
        raise ConfigError(
            "trainer_kwargs precision='16-true' runs the whole network in float16, where the "
            "causal norm's and the optimizer's small constants round to 0 (a NaN loss at the first "
            "step); use 'bf16-mixed' ('16-mixed' on a GPU) or '64-true'"
        )
    if kwargs.get("limit_val_batches", 1) == 0:  # validation switched off: nothing to stop or restore on
        has_validation = False
    extra_callbacks = _callback_list(kwargs.pop("callbacks", None))
    if any(isinstance(c, Checkpoint) for c in extra_callbacks):  # e.g. a ModelCheckpoint of the user's
        kwargs.setdefault("enable_checkpointing", True)
    bars = [type(c).__name__ for c in extra_callbacks if isinstance(c, ProgressBar)]
    if bars and not progress and "enable_progress_bar" not in kwargs:  # Lightning's refusal named
        raise ConfigError(  # enable_progress_bar=False, which the caller had not set
            f"trainer_kwargs callbacks hold a {bars[0]}, a progress bar, but progress=False trains "
            "without one; set progress=True to show yours, or drop it"
        )
    callbacks: list[Callback] = []
    restore = None
    ours = None
    if has_validation:
        restore = RestoreBestWeights("val_loss")
        callbacks.append(restore)
        patience = check_patience(patience)
        if patience is not None:
            # judged when a validation ends, not at the epoch's end: a fit that max_steps ended
            # before its first validation had failed there for want of a val_loss to judge
            ours = EarlyStopping("val_loss", patience=patience, mode="min", check_on_train_epoch_end=False)
            if any(isinstance(c, EarlyStopping) and c.state_key == ours.state_key for c in extra_callbacks):
                raise ConfigError(  # Lightning: "more than one stateful callback of type EarlyStopping"
                    f"trainer_kwargs callbacks hold an EarlyStopping on val_loss (mode min), but the "
                    f"estimator stops early on it itself (patience={patience}); set patience=None to "
                    "use yours, or drop it"
                )
            callbacks.append(ours)
    if checkpoint_dir is not None:
        checkpoint_dir = os.path.expanduser(checkpoint_dir)  # as save() and the data readers read ~
        try:
            os.makedirs(checkpoint_dir, exist_ok=True)
        except OSError as exc:  # a file there, a file above it, a dangling link, no permission
            raise ConfigError(
                f"checkpoint_dir {os.fspath(checkpoint_dir)!r} cannot be a folder for last.ckpt "
                f"({exc.strerror}); give a folder that exists or can be made"
            ) from None
        callbacks.append(LastCheckpoint(checkpoint_dir, ours))
    callbacks.append(NamePartialSaves())  # of a ModelCheckpoint of the user's, or Lightning's default one
    if progress:
        callbacks.append(CloseProgressBars())
    settings: dict[str, Any] = {
        "max_epochs": positive_int(max_epochs, "max_epochs"),
        "accelerator": "auto",
        "devices": 1,
        "gradient_clip_val": gradient_clip_val,
        "enable_progress_bar": progress,
        "enable_model_summary": False,
        "enable_checkpointing": checkpoint_dir is not None,  # LastCheckpoint's, and no other
        "logger": False,
        "num_sanity_val_steps": 0,
    }
    settings.update(kwargs)
    if not has_validation:  # whatever trainer_kwargs say of validation, there is none to run
        settings["limit_val_batches"] = 0
    settings["callbacks"] = callbacks + extra_callbacks
    try:
        trainer = L.Trainer(**settings)
    except (TypeError, ValueError, ImportError, RuntimeError, MisconfigurationException) as exc:  # "tpu"
        if not trainer_kwargs:
            raise
        raise ConfigError(
            f"trainer_kwargs ({_shown(trainer_kwargs)}) are not valid for lightning.Trainer: {exc}"
        ) from None
    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO and not _checkpoint_io_given(kwargs):
        trainer.strategy.checkpoint_io = CheckpointBeside()  # not XLA's, nor a strategy's or a user's own
    on_mps = type(trainer.accelerator).__name__ == "MPSAccelerator"
    if on_mps and str(settings.get("precision")) in ("64", "64-true"):
        raise ConfigError(  # torch's TypeError when the float64 network moved to the device
            "trainer_kwargs precision='64-true' cannot run on Apple's MPS (no float64 there), which "
            "Lightning picks on a Mac for accelerator 'auto' or 'gpu': add accelerator='cpu', or "
            "train in float32 (no precision) or 'bf16-mixed'"
        )
    return trainer, restore


def validated_windows(restore: RestoreBestWeights | None, trainer: L.Trainer, windows: int,
                      batch_size: int) -> int:
    """The windows each validation of a fit scored, of the ``windows`` of the validation split in
    batches of ``batch_size``: the first ones ``limit_val_batches`` leaves (Lightning's rule), and
    0 when no validation ran (none recorded in ``restore``: ``limit_val_batches=0``, or
    ``check_val_every_n_epoch`` past ``max_epochs``)."""
    if restore is None or not restore.val_losses:
        return 0
    batches, limit = -(-windows // batch_size), trainer.limit_val_batches
    kept = min(batches, limit) if isinstance(limit, int) else int(batches * limit)
    return min(windows, kept * batch_size)


def trains_on_cpu(trainer: L.Trainer) -> bool:
    """Whether ``trainer`` runs on the CPU (where validation batches are best sized like
    forecasts, :meth:`~tsmamba.model.MambaForecaster.windows_per_pass`)."""
    return isinstance(trainer.accelerator, CPUAccelerator)


@contextlib.contextmanager
def trainer_errors(trainer_kwargs: dict[str, Any] | None) -> Iterator[None]:
    """Lightning's own complaints while it runs (``val_check_interval`` above the batches per
    epoch, ``limit_val_batches`` leaving no batch, ...) as
    ConfigErrors naming ``trainer_kwargs``, when there are any; errors raised elsewhere pass."""
    try:
        yield
    except (ValueError, RuntimeError, MisconfigurationException) as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        raised_by_lightning = bool(frames) and f"{os.sep}lightning{os.sep}" in frames[-1].filename
        if not trainer_kwargs or isinstance(exc, TSMambaError) or not raised_by_lightning:
            raise
        given = _shown(trainer_kwargs)
        raise ConfigError(f"trainer_kwargs ({given}) do not work for this fit: {exc}") from exc


def forecast_batch(network: MambaForecaster, batch: Sequence[Tensor]) -> Tensor:
    """The network's forecasts (B, H, C) of a window batch: context (B, L, C), target (B, H, C)
    [, context marks (B, L, F) [, target marks (B, H, F)]]. The target marks give the cycle
    phases of the forecast steps (a zone-aware series whose phases skip or repeat at a DST change)."""
    marks = batch[2] if len(batch) > 2 else None
    future_phase = network.phase_of(batch[3]) if len(batch) > 3 else None
    return network(batch[0], marks, future_phase=future_phase)


@torch.no_grad()
def check_trained_network(network: MambaForecaster, batch: Sequence[Tensor], epoch: int, steps: int) -> None:
    """Raise TrainingError unless ``network``'s weights and its forecasts of ``batch`` (training
    windows: context (B, L, C), target[, marks]) are finite. Each training loss is checked before
    its step, so this checks what the last of ``steps`` steps made: a fit without validation that
    diverged there had returned, and its forecasts then overflowed (blamed on the data). The
    forecasts are made in eval mode: dropout would draw from the random generators training uses."""
    if all(torch.isfinite(p).all() for p in network.parameters()):
        training = network.training
        network.eval()
        try:
            finite = bool(torch.isfinite(forecast_batch(network, batch)).all())
        finally:
            network.train(training)
        if finite:
            return
        what = "its forecasts of the training windows are not finite"
    else:
        what = "its weights are not finite"
    raise TrainingError(
        f"training diverged at the end of epoch {epoch}: after step {steps}, which no training loss "
        f"checked, {what}; weights were not saved. Lower learning_rate, or clip gradients "
        "(gradient_clip_val)"
    )


def _averaged(weights: Tensor) -> Tensor:
    """A copy of ``weights`` to average into, float32 at least: in bf16 or float16 ("bf16-true")
    the small steps (1 - decay) x (weights - average) rounded away (an 8% drift from the float32
    average over 200 steps at decay 0.999)."""
    return weights.detach().to(dtype=torch.promote_types(weights.dtype, torch.float32), copy=True)


def _shown(trainer_kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in trainer_kwargs.items())


def check_objective(loss: Any, frequency_loss: Any, learning_rate: Any, weight_decay: Any) -> None:
    """ConfigError unless the loss and the optimizer's rates are ones a fit can take."""
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {LOSSES}, got {loss!r}")
    check_number(frequency_loss, "frequency_loss", lambda v: 0 <= v <= 1,  # np.float32 had been refused
                 "in [0, 1] (the weight of the frequency-domain term)")
    rates = (("learning_rate", learning_rate, True, _FLOAT32_MAX * (1 - _BETAS[0])),
             ("weight_decay", weight_decay, False, _FLOAT32_MAX))
    for name, value, positive, bound in rates:
        number = isinstance(value, Real) and not isinstance(value, bool)
        if not number or not (0 < value if positive else 0 <= value) or value >= bound:
            raise ConfigError(  # 1e300 (and a learning rate of 1e38) overflowed in the float32
                # optimizer step, with a traceback
                f"{name} must be a number {'>' if positive else '>='} 0 and below "
                f"{bound:.1e} (the optimizer steps in float32), got {value!r}"
            )


def check_patience(value: Any) -> int | None:
    """``patience`` as a positive int, or None for no early stopping (None or 0); "" and 0.0 had
    switched it off as falsy."""
    if value is None or (isinstance(value, Integral) and not isinstance(value, bool) and value == 0):
        return None
    return positive_int(value, "patience", hint="or 0 / None for no early stopping")


def check_gradient_clip(value: Any) -> float | None:
    """``gradient_clip_val`` as Lightning takes it: None or a number >= 0 (0: no clipping); a
    negative one switched clipping off silently, NaN and text failed inside Lightning."""
    return check_number(value, "gradient_clip_val", lambda v: v >= 0,
                        "a number >= 0 (0 or None: no clipping)", allow_none=True)


def accumulation_scheduler(callbacks: Any) -> GradientAccumulationScheduler | None:
    """The GradientAccumulationScheduler among ``callbacks`` (trainer_kwargs' or a trainer's) whose
    word is final: each sets ``accumulate_grad_batches`` at every epoch's start, the last one last."""
    schedulers = [c for c in _callback_list(callbacks) if isinstance(c, GradientAccumulationScheduler)]
    return schedulers[-1] if schedulers else None


def optimizer_steps(trainer: L.Trainer) -> float:
    """The optimizer steps of the fit (the learning-rate schedule's length): Lightning's
    ``estimated_stepping_batches``, but under a GradientAccumulationScheduler, which that reads as
    accumulating 1 (the schedule sets it only as each epoch starts), ceil(batches / that epoch's
    accumulation) an epoch: Lightning steps on an epoch's last batch, whatever its window holds."""
    estimated = trainer.estimated_stepping_batches  # loads the training data if not yet loaded
    scheduler = accumulation_scheduler(trainer.callbacks)
    if scheduler is None or trainer.max_epochs == -1 or not math.isfinite(trainer.num_training_batches):
        return estimated  # max_steps (or inf) where there are no epochs to count
    batches = trainer.num_training_batches
    steps = sum(math.ceil(batches / scheduler.get_accumulate_grad_batches(epoch))
                for epoch in range(trainer.max_epochs))
    return steps if trainer.max_steps == -1 else min(steps, trainer.max_steps)


def _callback_list(callbacks: Any) -> list[Callback]:
    """``trainer_kwargs["callbacks"]`` as a list: None, one Callback or a list or tuple of them.
    Anything else (what a config file can hold: text, numbers, tables) is a ConfigError."""
    if callbacks is None:
        return []
    listed = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    if not all(isinstance(c, Callback) for c in listed):
        raise ConfigError(
            f"trainer_kwargs callbacks must be a lightning Callback or a list of them, got "
            f"{callbacks!r}; pass them in Python (a config file cannot hold one)"
        )
    return listed


def _checkpoint_io_given(kwargs: dict[str, Any]) -> bool:
    """Whether trainer_kwargs give a CheckpointIO: in ``plugins`` (one plugin or a list of them) or
    in a ``strategy`` instance (Lightning refuses one in both)."""
    plugins = kwargs.get("plugins")
    listed = plugins if isinstance(plugins, (list, tuple)) else [plugins]
    strategy_io = getattr(kwargs.get("strategy"), "_checkpoint_io", None)  # what Lightning reads there
    return any(isinstance(p, CheckpointIO) for p in [*listed, strategy_io])


def _is_zero(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and value == 0


def check_training_length(max_epochs: int, trainer_kwargs: dict[str, Any] | None) -> None:
    """ConfigError when trainer_kwargs' ``min_epochs`` (``min_steps``) exceed the epochs (steps)
    the fit may run: Lightning stops at the maximum and the minimum was ignored silently; and when
    they set ``max_epochs=None`` without ``max_steps``: Lightning then trains up to 1000 epochs,
    and the learning-rate schedule was laid out over all of them (its warm-up alone 50 epochs)."""
    kwargs = trainer_kwargs or {}
    if "max_epochs" in kwargs and kwargs["max_epochs"] is None and kwargs.get("max_steps", -1) in (-1, None):
        raise ConfigError(
            "trainer_kwargs max_epochs=None lets Lightning train up to 1000 epochs, and the learning-rate "
            "schedule would be laid out over them; set the estimator's max_epochs instead (early stopping "
            "still ends training sooner), or give max_steps"
        )
    limits = [("min_epochs", "max_epochs", kwargs.get("max_epochs", max_epochs)),
              ("min_steps", "max_steps", kwargs.get("max_steps"))]
    for low, high, most in limits:
        least = kwargs.get(low)
        numbers = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (least, most))
        if numbers and most != -1 and least > most:
            where = "trainer_kwargs" if high in kwargs else "the estimator's"
            raise ConfigError(
                f"trainer_kwargs {low}={least} is more than {where} {high}={most}, where training "
                f"stops; raise {high} or lower {low}"
            )


def check_trainer_kwargs(trainer_kwargs: dict[str, Any] | None) -> None:
    """ConfigError unless ``trainer_kwargs`` is a dict of ``lightning.Trainer`` argument names."""
    if trainer_kwargs is None:
        return
    if not isinstance(trainer_kwargs, dict):
        raise ConfigError(
            f"trainer_kwargs must be a dict of lightning.Trainer arguments, got {trainer_kwargs!r}"
        )
    known = set(inspect.signature(L.Trainer.__init__).parameters) - {"self"}
    unknown = sorted(str(k) for k in trainer_kwargs if k not in known)
    if unknown:
        close = {k: difflib.get_close_matches(k, known, n=1) for k in unknown}
        hints = [f"{k} (did you mean {c[0]}?)" if c else k for k, c in close.items()]
        raise ConfigError(f"trainer_kwargs has arguments lightning.Trainer does not take: {', '.join(hints)}")
    _callback_list(trainer_kwargs.get("callbacks"))  # at the start of a fit, not after the data work
    if "gradient_clip_val" in trainer_kwargs:  # a negative one switches clipping off silently here too
        try:
            check_gradient_clip(trainer_kwargs["gradient_clip_val"])
        except ConfigError as exc:
            raise ConfigError(f"trainer_kwargs {exc}") from None
    no_training = [f"{key}={trainer_kwargs[key]!r}"
                   for key in ("max_epochs", "max_steps", "limit_train_batches")
                   if key in trainer_kwargs and _is_zero(trainer_kwargs[key])]
    if no_training:  # the fit had returned the untrained network, and predict forecast from it
        raise ConfigError(
            f"trainer_kwargs {', '.join(no_training)} would train no step; give at least one epoch, "
            "step or batch (max_epochs=-1 with max_steps=N trains N steps)"
        )
    if trainer_kwargs.get("overfit_batches"):  # Lightning swaps the window sampler: unbatched windows
        raise ConfigError(
            "trainer_kwargs overfit_batches is not supported: the window loader yields whole batches, "
            "which Lightning's overfitting mode unbatches; use limit_train_batches (and train_stride)"
        )
