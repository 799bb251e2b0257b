"""Sliding (context, target) windows over one series, and a Lightning DataModule of them.

No window is ever copied on its own: :class:`WindowDataset` keeps one ``(T, C)`` tensor and
hands out views of it (an ``unfold`` of the rows). A DataLoader that batches item by item stacks
those views into one batch tensor through the default collate; the DataModule's loaders instead
ask the dataset for a whole batch of indices at once and get it in one numpy gather, without the
per-item calls and the collate.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import lightning
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from tsmamba.errors import (
    CheckpointError,
    ConfigError,
    DataValidationError,
    check_bool,
    check_seed,
    nonnegative_int,
    plural,
    positive_int,
)

__all__ = ["TimeSeriesDataModule", "WindowBatches", "WindowDataset"]

SPLITS = ("train", "val", "test")
TRAIN_SAMPLINGS = ("strided", "random")


def _as_tensor(values: Any, what: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """numpy or torch ``(T, K)`` -> tensor, sharing memory where the dtype allows."""
    if isinstance(values, torch.Tensor):
        tensor = values
    elif isinstance(values, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(values))
    else:
        raise DataValidationError(f"{what} must be a torch.Tensor or numpy array, got {values!r}")
    if tensor.ndim != 2:
        raise DataValidationError(
            f"{what} must be 2-D (time, channels), got shape {tuple(tensor.shape)}"
        )
    if dtype is not None and tensor.dtype != dtype:
        tensor = tensor.to(dtype)
    return tensor


def _check_finite(tensor: torch.Tensor, what: str, column: str, start: int, end: int) -> None:
    """DataValidationError naming the first NaN or ±inf in rows ``[start, end)`` of ``tensor``
    (T, K), which training would otherwise meet only as a non-finite loss."""
    rows = tensor[start:end]
    # a NaN or inf makes the sum one: a pass over the rows (a finite sum that overflows is looked into)
    if not rows.is_floating_point() or bool(torch.isfinite(rows.sum())):
        return
    bad = ~torch.isfinite(rows)
    if not bad.any():
        return
    i, j = (int(k) for k in bad.nonzero()[0])
    raise DataValidationError(
        f"{what} has {plural(int(bad.sum()), 'NaN or ±inf value')} in rows [{start}, {end}), the first "
        f"{float(rows[i, j])} at row {start + i}, {column} {j}; windows over them would train on it "
        "(and fail at the first non-finite loss): fill them first (tsmamba.data.read_series with "
        "impute='interpolate' does), or leave those rows out of the split"
    )


class WindowDataset(Dataset):
    """Windows ``i = 0 .. len-1`` over rows ``[start, end)`` of ``values`` ``(T, C)``.

    Window ``i`` starts at ``s = start + i * stride``: context rows ``[s, s + L)``, target rows
    ``[s + L, s + L + H)``; ``len = (end - start - L - H) // stride + 1``.
    ``dataset[i]`` gives ``(context (L, C), target (H, C))``, plus ``context_marks (L, F)`` when
    ``marks`` ``(T, F)`` is given, and ``target_marks (H, F)`` with ``target_marks=True`` (a
    cycle's phases that do not step by one, across a DST change); all are views of ``values`` /
    ``marks``. ``dataset[[i, j, ...]]`` gives the same for a batch: ``(B, L, C)``, ``(B, H, C)``
    (``(B, L, F)``, ``(B, H, F)``), each window copied once into the batch tensor.
    """

    def __init__(
        self,
        values: torch.Tensor,
        context_length: int,
        horizon: int,
        *,
        start: int = 0,
        end: int | None = None,
        stride: int = 1,
        marks: torch.Tensor | None = None,
        target_marks: bool = False,
    ) -> None:
        self.values = _as_tensor(values, "values")
        self.context_length = positive_int(context_length, "context_length")
        self.horizon = positive_int(horizon, "horizon")
        self.stride = positive_int(stride, "stride")
        n_rows = self.values.shape[0]
        start = nonnegative_int(start, "start")
        end = n_rows if end is None else nonnegative_int(end, "end")
        if not start <= end <= n_rows:
            raise ConfigError(
                f"need 0 <= start <= end <= {n_rows} (rows of values), got start={start}, "
                f"end={end}"
            )
        self.start, self.end = int(start), int(end)
        self.marks = None
        if marks is not None:
            self.marks = _as_tensor(marks, "marks")
            if self.marks.shape[0] != n_rows:
                raise DataValidationError(
                    f"marks has {self.marks.shape[0]} rows but values has {n_rows}; "
                    "time features must align with the series row for row"
                )
        self.target_marks = check_bool(target_marks, "target_marks")
        if self.target_marks and self.marks is None:
            raise ConfigError("target_marks=True gives the target rows' marks: pass marks")
        span = self.context_length + self.horizon
        available = self.end - self.start
        if available < span:
            raise DataValidationError(
                f"series too short for windows of context_length={self.context_length} + "
                f"horizon={self.horizon}: need >= {span} rows in [start, end) = "
                f"[{self.start}, {self.end}), got {available}"
            )
        self._len = (available - span) // self.stride + 1
        _check_finite(self.values, "values", "channel", self.start, self.end)
        if self.marks is not None:
            _check_finite(self.marks, "marks", "column", self.start, self.end)
        self._build_views()

    def _build_views(self) -> None:
        # (N, L + H, C) view: unfold gives (N, C, L + H); each window is then contiguous
        span = self.context_length + self.horizon
        rows = self.values[self.start : self.end]
        # a stride beyond the rows takes one window, as the row count does (torch cannot take 10**30)
        self._step = step = min(self.stride, rows.shape[0])
        self._windows = rows.unfold(0, span, step).transpose(1, 2)
        self._contexts = self._windows[:, : self.context_length]
        self._targets = self._windows[:, self.context_length :]
        self._marks = self._target_marks = None
        if self.marks is not None:
            mark_rows = self.marks[self.start : self.end - self.horizon]
            self._marks = mark_rows.unfold(0, self.context_length, step).transpose(1, 2)
        if self.target_marks:
            mark_rows = self.marks[self.start + self.context_length : self.end]
            self._target_marks = mark_rows.unfold(0, self.horizon, step).transpose(1, 2)
        assert self._windows.shape[0] == self._len
        self._np_views: tuple[np.ndarray, ...] | bool | None = None

    def __len__(self) -> int:
        return self._len

    @property
    def windows(self) -> torch.Tensor:
        """All windows as one ``(N, L + H, C)`` view (no copy)."""
        return self._windows

    def window_start(self, i: int) -> int:
        """First context row of window ``i`` in ``values``."""
        return self.start + self._check_index(i) * self.stride

    def _check_index(self, i: int) -> int:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise IndexError(f"a window index is an integer, got {i!r}")
        k = int(i) + self._len if i < 0 else int(i)
        if not 0 <= k < self._len:
            raise IndexError(f"window {int(i)} out of range for {self._len} windows")
        return k

    def __getitem__(self, index: Any) -> tuple[torch.Tensor, ...]:
        if isinstance(index, torch.Tensor) and index.ndim == 0:
            index = _integer_indices(index).item()
        if isinstance(index, (int, float, np.number, np.bool_)):
            i = self._check_index(index)
            return tuple(part[i] for part in self._parts())
        return self.get_batch(index)

    def _parts(self) -> list[torch.Tensor]:
        """The (N, ...) views an item is taken from: contexts, targets[, marks[, target marks]]."""
        marks = [m for m in (self._marks, self._target_marks) if m is not None]
        return [self._contexts, self._targets, *marks]

    def get_batch(self, indices: Sequence[int] | torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Windows ``indices`` stacked: ``(B, L, C)``, ``(B, H, C)`` [, ``(B, L, F)`` [, ``(B, H, F)``]]."""
        idx = _integer_indices(indices)
        if idx.ndim != 1:
            raise IndexError(f"batch indices must be 1-D, got shape {tuple(idx.shape)}")
        if len(idx) and (int(idx.min()) < -self._len or int(idx.max()) >= self._len):
            raise IndexError(f"window index out of range for {self._len} windows")
        idx = torch.where(idx < 0, idx + self._len, idx)
        views = self._numpy_views()
        if views is not None:
            # numpy fancy indexing of a strided view: one serial copy per window, no threads
            picked = idx.numpy()
            return tuple(torch.from_numpy(view[picked]) for view in views)
        rows = idx.tolist()
        return tuple(torch.stack([part[i] for i in rows]) for part in self._parts())

    def _numpy_views(self) -> tuple[np.ndarray, ...] | None:
        """Read-only numpy ``(N, L, C)``/``(N, H, C)``/``(N, L, F)``/``(N, H, F)`` views of CPU data, or None.

        A batch gathered through them is a plain numpy copy: faster than ``torch.stack`` of the
        views, and unlike ``index_select`` it never starts intra-op threads (which stall for
        milliseconds when the cores are busy). Built lazily and never pickled.
        """
        if self._np_views is False:
            return None
        if self._np_views is None:
            try:
                views = [
                    self._strided(self.values, self.start, self.context_length),
                    self._strided(self.values, self.start + self.context_length, self.horizon),
                ]
                if self.marks is not None:
                    views.append(self._strided(self.marks, self.start, self.context_length))
                if self.target_marks:
                    views.append(self._strided(self.marks, self.start + self.context_length, self.horizon))
                self._np_views = tuple(views)
            except (TypeError, RuntimeError):  # GPU, autograd or non-numpy dtypes
                self._np_views = False
                return None
        return self._np_views  # type: ignore[return-value]

    def _strided(self, tensor: torch.Tensor, first_row: int, length: int) -> np.ndarray:
        base = tensor.numpy()[first_row:]
        row_step, col_step = base.strides
        return np.lib.stride_tricks.as_strided(
            base,
            shape=(self._len, length, base.shape[1]),
            strides=(row_step * self._step, row_step, col_step),
            writeable=False,
        )

    def __getstate__(self) -> dict[str, Any]:
        # pickle (e.g. for spawned DataLoader workers) the series once, not its views: torch
        # would serialise each view's storage again, and a strided numpy view as a full copy
        derived = ("_windows", "_contexts", "_targets", "_marks", "_target_marks", "_np_views")
        return {k: v for k, v in self.__dict__.items() if k not in derived}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._build_views()

    def __repr__(self) -> str:
        return (
            f"WindowDataset({self._len} windows, L={self.context_length}, H={self.horizon}, "
            f"rows [{self.start}, {self.end}), stride={self.stride}, "
            f"channels={self.values.shape[1]}, marks={self.marks is not None})"
        )


def _integer_indices(indices: Any) -> torch.Tensor:
    """Window indices as a long tensor; IndexError for booleans (a mask of 7 had read as window 1
    seven times) and fractions (1.9 had read as window 1)."""
    idx = torch.as_tensor(indices)
    if idx.numel() == 0:
        return idx.to(torch.long)  # [] is float32 to torch
    if idx.dtype == torch.bool or idx.is_floating_point() or idx.is_complex():
        what = (f"{idx.dtype} values" if idx.dtype != torch.bool
                else "booleans (a mask: pass its positions, e.g. np.flatnonzero(mask))")
        raise IndexError(f"window indices must be integers, got {what}")
    return idx.to(torch.long)


class WindowBatches(Sampler[list[int]]):
    """Batches of window indices; shuffled ones in an order set by ``(seed, epoch)`` alone.

    ``per_epoch`` (with shuffle): each epoch takes the first ``per_epoch`` windows of its
    permutation, a fresh random subset every epoch.

    Lightning calls :meth:`set_epoch` before every epoch, so a run resumed from a checkpoint
    sees the same order in each epoch as an uninterrupted run. Iterated without Lightning,
    each pass uses the next epoch. The last batch may be partial and is never dropped.
    """

    def __init__(
        self, n_items: int, batch_size: int, *, shuffle: bool, seed: int = 0, per_epoch: int | None = None
    ) -> None:
        self.n_items = nonnegative_int(n_items, "n_items")
        self.batch_size = positive_int(batch_size, "batch_size")
        self.shuffle = check_bool(shuffle, "shuffle")
        self.seed = check_seed(seed)
        self.epoch = 0
        if per_epoch is not None and not shuffle:
            raise ConfigError("per_epoch draws a random subset of windows each epoch; it needs shuffle=True")
        # windows per epoch: all, or a fresh random subset of per_epoch each epoch
        per_epoch = self.n_items if per_epoch is None else positive_int(per_epoch, "per_epoch")
        self.per_epoch = min(self.n_items, per_epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """The window order of one epoch."""
        if not self.shuffle:
            return np.arange(self.n_items)
        rng = np.random.default_rng([self.seed, int(epoch)])
        return rng.permutation(self.n_items)[: self.per_epoch]

    def __iter__(self) -> Iterator[list[int]]:
        order = self.order(self.epoch)
        self.epoch += 1
        for first in range(0, self.per_epoch, self.batch_size):
            yield order[first : first + self.batch_size].tolist()

    def __len__(self) -> int:
        return -(-self.per_epoch // self.batch_size)


def _border(split: str, span: Any) -> tuple[int, int]:
    """A split's ``(start, end)`` rows as ints; ConfigError for anything else (50.9 had become 50)."""
    if not (isinstance(span, (tuple, list)) and len(span) == 2):
        raise ConfigError(f"borders[{split!r}] must be (start, end) rows, got {span!r}")
    start, end = (nonnegative_int(row, f"borders[{split!r}] {which}")
                  for row, which in zip(span, ("start", "end"), strict=True))
    return start, end


class TimeSeriesDataModule(lightning.LightningDataModule):
    """Train/val/test window loaders over one series split by ``borders``.

    ``values`` ``(T, C)`` (numpy or torch; converted once to ``dtype``), ``borders`` maps split
    names (``train``, ``val``, ``test``) to row ranges ``[start, end)`` as from
    :func:`tsmamba.data.ltsf_borders`. The train loader shuffles in an order fixed by ``seed``
    and the epoch number (:class:`WindowBatches`: the same on every run, and after a resume);
    val and test loaders keep order and never drop a last partial batch, so every window is
    scored. Batches are ``[context (B, L, C), target (B, H, C)]``
    plus ``context_marks (B, L, F)`` when ``marks`` is given, and ``target_marks (B, H, F)``
    with ``target_marks=True`` (see :class:`WindowDataset`).

    ``train_stride`` k thins the training windows: ``train_sampling="strided"`` keeps every k-th
    window, the same ones every epoch; ``"random"`` draws a fresh random 1/k of all windows each
    epoch (same cost per epoch), so every window start, and so every phase of a daily cycle, is
    seen across epochs. Strided thinning with k sharing a factor with the cycle never trains on
    some alignments (ETTm1, k = 8: windows ending only every second hour).

    ``val_stride`` k keeps every k-th validation window (the first, then every k-th after it),
    the same ones every epoch, so epochs are still compared on the same windows. Neighbouring
    windows share all but one step of context and of target, so their losses move together and
    a few-fold thinning changes the comparison little while dividing its cost by k. The test
    loader always keeps every window.

    ``eval_batch_size``: windows per batch of the val and test loaders (None: ``batch_size``).
    They run without gradients, whose fastest batch differs from training's (the estimator
    passes its network's :meth:`~tsmamba.model.MambaForecaster.windows_per_pass`).
    """

    def __init__(
        self,
        values: Any,
        borders: Mapping[str, tuple[int, int]],
        context_length: int,
        horizon: int,
        *,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        marks: Any = None,
        target_marks: bool = False,
        train_stride: int = 1,
        train_sampling: str = "strided",
        val_stride: int = 1,
        num_workers: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        dtype: torch.dtype | None = torch.float32,
    ) -> None:
        super().__init__()
        self.values = _as_tensor(values, "values", dtype)
        self.marks = None if marks is None else _as_tensor(marks, "marks", dtype)
        unknown = sorted(set(borders) - set(SPLITS))
        if unknown:
            raise ConfigError(f"borders has unknown splits {unknown}; use {SPLITS}")
        self.borders = {k: _border(k, span) for k, span in borders.items()}
        self.context_length = positive_int(context_length, "context_length")
        self.horizon = positive_int(horizon, "horizon")
        self.batch_size = positive_int(batch_size, "batch_size")
        self.eval_batch_size = (self.batch_size if eval_batch_size is None
                                else positive_int(eval_batch_size, "eval_batch_size"))
        self.train_stride = positive_int(train_stride, "train_stride")
        if train_sampling not in TRAIN_SAMPLINGS:
            raise ConfigError(f"train_sampling must be one of {TRAIN_SAMPLINGS}, got {train_sampling!r}")
        self.train_sampling = train_sampling
        self.val_stride = positive_int(val_stride, "val_stride")
        self.num_workers = nonnegative_int(num_workers, "num_workers")
        self.shuffle = check_bool(shuffle, "shuffle")
        if train_sampling == "random" and self.train_stride > 1 and not self.shuffle:
            raise ConfigError(
                "train_sampling='random' draws a random 1/train_stride of the windows each epoch, "
                "which needs shuffle=True; for a fixed order thin them with train_sampling='strided'"
            )
        self.seed = check_seed(seed)
        self.datasets: dict[str, WindowDataset] = {}
        for split, (start, end) in self.borders.items():
            try:
                self.datasets[split] = WindowDataset(
                    self.values,
                    self.context_length,
                    self.horizon,
                    start=start,
                    end=end,
                    stride=self._stride(split),
                    marks=self.marks,
                    target_marks=target_marks,
                )
            except (DataValidationError, ConfigError) as exc:
                raise type(exc)(f"{split} split: {exc}") from exc

    def _stride(self, split: str) -> int:
        """Every k-th window of ``split`` is kept: train_stride (strided), val_stride, test all."""
        if split == "train":
            return self.train_stride if self.train_sampling == "strided" else 1
        return self.val_stride if split == "val" else 1

    @classmethod
    def from_ltsf(cls, data: Any, *, use_marks: bool = False, **kw: Any) -> TimeSeriesDataModule:
        """From :class:`tsmamba.data.LTSFData` (its values, borders, L and H)."""
        marks = data.time_marks() if use_marks else None
        return cls(
            data.values, data.borders, data.context_length, data.horizon, marks=marks, **kw
        )

    def dataset(self, split: str) -> WindowDataset:
        if split not in self.datasets:
            raise ConfigError(f"no {split!r} split; borders has {sorted(self.datasets)}")
        return self.datasets[split]

    @property
    def train_windows_per_epoch(self) -> int:
        """Training windows in one epoch: all the (strided) windows, or a random 1/train_stride."""
        n = len(self.dataset("train"))
        return -(-n // self.train_stride) if self.train_sampling == "random" else n

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        dataset = self.dataset(split)
        per_epoch = None
        if split == "train" and self.train_sampling == "random" and shuffle:
            per_epoch = self.train_windows_per_epoch
        size = self.batch_size if split == "train" else self.eval_batch_size
        batches = WindowBatches(len(dataset), size, shuffle=shuffle, seed=self.seed, per_epoch=per_epoch)
        # the sampler yields whole batches of indices; the dataset gathers each batch at once
        return DataLoader(
            dataset,
            sampler=batches,
            batch_size=None,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=self.shuffle)

    def state_dict(self) -> dict[str, Any]:
        """Saved in every checkpoint: the seed of the window order, which a resumed fit must keep
        (an unseeded fit draws it, and its resume had drawn another: a new order from there on)."""
        return {"seed": self.seed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Lightning calls it on a resume, before the training loader is made."""
        try:
            self.seed = check_seed(state_dict["seed"])
        except (ConfigError, KeyError, TypeError) as exc:
            raise CheckpointError(
                f"the checkpoint's window order is damaged ({exc}); delete the checkpoint to start afresh"
            ) from exc

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
