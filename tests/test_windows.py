"""tsmamba.windows: window indexing (incl. property tests), views, and the DataModule."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tsmamba.data import ltsf_borders, prepare_ltsf
from tsmamba.datasets import synthetic_ett
from tsmamba.errors import CheckpointError, ConfigError, DataValidationError
from tsmamba.windows import TimeSeriesDataModule, WindowBatches, WindowDataset


def ramp(n_rows: int, n_channels: int = 3) -> torch.Tensor:
    """Row t, channel c holds t * 100 + c: every value names its row."""
    rows = torch.arange(n_rows, dtype=torch.float64)[:, None] * 100
    return rows + torch.arange(n_channels, dtype=torch.float64)[None, :]


def same_storage(view: torch.Tensor, base: torch.Tensor) -> bool:
    return view.untyped_storage().data_ptr() == base.untyped_storage().data_ptr()


# ---------------------------------------------------------------------------------------------
# WindowDataset


def test_windows_hold_the_rows_they_claim():
    values = ramp(20)
    ds = WindowDataset(values, 5, 3, start=2, end=18, stride=2)
    assert len(ds) == (18 - 2 - 5 - 3) // 2 + 1 == 5
    context, target = ds[1]
    assert context.shape == (5, 3) and target.shape == (3, 3)
    torch.testing.assert_close(context, values[4:9])
    torch.testing.assert_close(target, values[9:12])
    assert ds.window_start(-1) == 2 + 4 * 2
    torch.testing.assert_close(ds[-1][1], values[15:18])


def test_windows_are_views_not_copies():
    values = ramp(50)
    ds = WindowDataset(values, 10, 5)
    context, target = ds[7]
    assert same_storage(context, values) and same_storage(target, values)
    assert context.is_contiguous() and target.is_contiguous()
    assert same_storage(ds.windows, values) and ds.windows.shape == (36, 15, 3)
    values[7, 0] = -1.0  # a view sees the change
    assert ds[7][0][0, 0] == -1.0


def test_marks_come_with_the_context():
    values, marks = ramp(30), ramp(30, 2).float() * -1
    ds = WindowDataset(values, 6, 4, marks=marks, stride=3)
    context, target, context_marks = ds[2]
    torch.testing.assert_close(context_marks, marks[6:12])
    assert same_storage(context_marks, marks)
    assert context.shape == (6, 3) and target.shape == (4, 3)


def test_target_marks_come_with_the_target():
    """A cycle whose phases do not step by one (DST) reads the target rows' own phases."""
    values, marks = ramp(30), ramp(30, 2).float() * -1
    ds = WindowDataset(values, 6, 4, marks=marks, stride=3, start=1, target_marks=True)
    _, target, context_marks, target_marks = ds[2]
    torch.testing.assert_close(context_marks, marks[7:13])
    torch.testing.assert_close(target_marks, marks[13:17])
    assert same_storage(target_marks, marks) and target.shape == (4, 3)
    batch = ds[[2, 0, len(ds) - 1]]  # numpy views; bfloat16 has none and stacks the torch views
    half = WindowDataset(values.to(torch.bfloat16), 6, 4, marks=marks, stride=3, start=1, target_marks=True)
    for batched in (batch, half[[2, 0, len(ds) - 1]]):
        torch.testing.assert_close(batched[3], torch.stack([marks[13:17], marks[7:11], marks[25:29]]))
    dm = TimeSeriesDataModule(values, {"train": (0, 30)}, 6, 4, marks=marks, target_marks=True, batch_size=5)
    assert [part.shape[1] for part in next(iter(dm.train_dataloader()))] == [6, 4, 6, 4]
    with pytest.raises(ConfigError, match="target_marks=True gives the target rows' marks: pass marks"):
        WindowDataset(values, 6, 4, target_marks=True)


def test_batches_equal_stacked_items():
    values, marks = ramp(40), ramp(40, 2)
    ds = WindowDataset(values, 8, 4, marks=marks, start=3, stride=2)
    idx = [0, 5, 2, len(ds) - 1, -2]
    batch = ds[idx]
    for part, items in zip(batch, zip(*(ds[i] for i in idx), strict=True), strict=True):
        torch.testing.assert_close(part, torch.stack(items))
        assert part.is_contiguous()


def test_batches_without_numpy_fall_back_to_stacking():
    values = ramp(40).to(torch.bfloat16)  # numpy has no bfloat16
    ds = WindowDataset(values, 6, 3, stride=2)
    batch = ds[[3, 1]]
    assert batch[0].dtype == torch.bfloat16
    torch.testing.assert_close(batch[0][0], values[6:12])
    grad = ramp(40).requires_grad_()
    ds = WindowDataset(grad, 6, 3)
    torch.testing.assert_close(ds[[4]][1][0], grad[10:13])


def test_pickled_dataset_does_not_materialise_windows():
    values = ramp(2000, 8).float()
    ds = WindowDataset(values, 200, 50)
    ds[[0, 1]]  # builds the strided numpy views
    size = len(pickle.dumps(ds))
    assert size < 1.2 * values.numel() * 4  # the series once, not its (N, L, C) windows
    clone = pickle.loads(pickle.dumps(ds))
    torch.testing.assert_close(clone[[5]][0][0], values[5:205])


def test_numpy_values_are_shared_not_copied():
    values = np.arange(60, dtype=np.float32).reshape(20, 3)
    ds = WindowDataset(values, 4, 2)
    assert ds.values.data_ptr() == values.ctypes.data
    np.testing.assert_array_equal(ds[3][0].numpy(), values[3:7])


def test_too_short_for_one_window():
    with pytest.raises(DataValidationError) as err:
        WindowDataset(ramp(100), 96, 24, start=10, end=100)
    msg = str(err.value)
    assert "too short" in msg and "need >= 120 rows" in msg and "got 90" in msg


def test_exactly_one_window():
    ds = WindowDataset(ramp(12), 8, 4, stride=5)
    assert len(ds) == 1
    with pytest.raises(IndexError):
        ds[1]


def test_bad_arguments():
    with pytest.raises(ConfigError):
        WindowDataset(ramp(10), 0, 2)
    with pytest.raises(ConfigError):
        WindowDataset(ramp(10), 2, 2, stride=0)
    with pytest.raises(ConfigError):
        WindowDataset(ramp(10), 2, 2, start=5, end=3)
    with pytest.raises(DataValidationError, match="2-D"):
        WindowDataset(torch.zeros(10), 2, 2)
    with pytest.raises(DataValidationError, match="marks has 9 rows"):
        WindowDataset(ramp(10), 2, 2, marks=torch.zeros(9, 4))


def test_window_indices_must_be_integers():
    """A boolean mask of 7 had read as window 1 seven times, 1.9 as window 1, and -8 of 7 windows
    had been reported as window -1."""
    ds = WindowDataset(ramp(10), 2, 2)  # 7 windows
    for index in (np.ones(7, dtype=bool), torch.tensor([False, True])):
        with pytest.raises(IndexError, match=r"got booleans \(a mask: pass its positions"):
            ds[index]
    for index in ([1.9], torch.tensor(1.9)):
        with pytest.raises(IndexError, match=r"window indices must be integers, got torch\.float"):
            ds[index]
    for index in (True, 1.9, np.float64(1.0)):
        with pytest.raises(IndexError, match=re.escape(f"a window index is an integer, got {index!r}")):
            ds[index]
    with pytest.raises(IndexError, match="window -8 out of range for 7 windows"):
        ds[-8]
    assert torch.equal(ds[torch.tensor(2)][0], ds[2][0]) and torch.equal(ds[np.int64(-1)][0], ds[6][0])
    assert ds[[]][0].shape == (0, 2, ds.values.shape[1])
    assert torch.equal(ds[np.array([1, -1])][1], torch.stack([ds[1][1], ds[6][1]]))


def test_a_stride_beyond_the_rows_takes_one_window():
    ds = WindowDataset(ramp(10), 2, 2, stride=10**30)  # torch's unfold had overflowed
    assert len(ds) == 1 and torch.equal(ds[0][0], ramp(10)[:2])
    assert torch.equal(ds.get_batch([0])[0][0], ramp(10)[:2])  # numpy's strides, as training reads it
    with_marks = WindowDataset(ramp(10), 2, 2, stride=10**30, marks=torch.zeros(10, 3))
    assert with_marks[0][2].shape == (2, 3)


def test_module_and_sampler_arguments_are_checked():
    """Borders 50.9 had become 50, "0" and False had been rows, shuffle='no' had shuffled, and a
    negative item count failed in len()."""
    values = ramp(100)
    for borders, message in (({"train": (0, 50.9)}, r"borders\['train'\] end must be an integer >= 0"),
                             ({"train": ("0", 50)}, r"borders\['train'\] start must be an integer >= 0"),
                             ({"train": (0, None)}, r"borders\['train'\] end must be an integer >= 0"),
                             ({"train": (0, 50, 1)}, r"borders\['train'\] must be \(start, end\) rows")):
        with pytest.raises(ConfigError, match=message):
            TimeSeriesDataModule(values, borders, 4, 2)
    for kw, message in (({"seed": None}, r"seed must be an integer in \[0, 2\*\*32\)"),
                        ({"seed": 2**32}, r"seed must be an integer in \[0, 2\*\*32\)"),
                        ({"shuffle": "no"}, "shuffle must be True or False")):
        with pytest.raises(ConfigError, match=message):
            TimeSeriesDataModule(values, {"train": (0, 50)}, 4, 2, **kw)
        with pytest.raises(ConfigError, match=message):
            WindowBatches(10, 2, **{"shuffle": True, **kw})
    for n_items in (-5, 2.7):
        with pytest.raises(ConfigError, match="n_items must be an integer >= 0"):
            WindowBatches(n_items, 2, shuffle=False)
    module = TimeSeriesDataModule(values, {"train": (np.int64(0), np.int64(50))}, 4, 2, seed=np.uint32(7))
    assert module.borders == {"train": (0, 50)} and module.seed == 7


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    n_rows=st.integers(2, 120),
    context=st.integers(1, 40),
    horizon=st.integers(1, 30),
    stride=st.integers(1, 9),
    start_frac=st.floats(0, 1),
    end_frac=st.floats(0, 1),
    with_marks=st.booleans(),
    data=st.data(),
)
def test_window_indexing_property(
    n_rows, context, horizon, stride, start_frac, end_frac, with_marks, data
):
    values = ramp(n_rows, 2)
    marks = ramp(n_rows, 1) + 0.5 if with_marks else None
    start = int(start_frac * n_rows)
    end = start + int(end_frac * (n_rows - start))
    span = context + horizon
    if end - start < span:
        with pytest.raises(DataValidationError, match="too short"):
            WindowDataset(values, context, horizon, start=start, end=end, stride=stride)
        return
    ds = WindowDataset(values, context, horizon, start=start, end=end, stride=stride, marks=marks)
    expected_len = (end - start - span) // stride + 1
    assert len(ds) == expected_len
    # the last window ends inside [start, end) and one more stride would not fit
    last = start + (expected_len - 1) * stride
    assert last + span <= end < last + span + stride
    i = data.draw(st.integers(0, expected_len - 1))
    s = start + i * stride
    item = ds[i]
    # row t holds t * 100 + channel: the values name exactly the rows a window covers
    assert item[0][:, 0].tolist() == [100.0 * t for t in range(s, s + context)]
    assert item[1][:, 0].tolist() == [100.0 * t for t in range(s + context, s + span)]
    if with_marks:
        assert item[2][:, 0].tolist() == [100.0 * t + 0.5 for t in range(s, s + context)]
    batch = ds[[i, 0]]
    torch.testing.assert_close(batch[0][0], item[0])
    torch.testing.assert_close(batch[1][0], item[1])


# ---------------------------------------------------------------------------------------------
# TimeSeriesDataModule


def make_module(n_rows=1000, **kw):
    values = np.random.default_rng(0).normal(size=(n_rows, 4)).astype(np.float32)
    borders = ltsf_borders(n_rows, 48, "custom")
    return values, borders, TimeSeriesDataModule(values, borders, 48, 24, **kw)


def count_windows(loader) -> int:
    return sum(batch[0].shape[0] for batch in loader)


def test_val_and_test_keep_every_window_in_order():
    _, borders, dm = make_module(batch_size=64)
    for split, loader in (("val", dm.val_dataloader()), ("test", dm.test_dataloader())):
        start, end = borders[split]
        expected = end - start - 72 + 1
        assert expected % 64 != 0  # there is a last partial batch to keep
        assert count_windows(loader) == expected
        first = next(iter(loader))[0]
        torch.testing.assert_close(first, dm.dataset(split)[list(range(64))][0])


def test_val_and_test_take_eval_batch_size_windows_a_batch():
    """Training batches keep batch_size; val and test take eval_batch_size (their default:
    batch_size), every window still scored once, in order."""
    _, borders, dm = make_module(batch_size=16, eval_batch_size=40)
    assert [len(b[0]) for b in dm.train_dataloader()][:3] == [16, 16, 16]
    for split, loader in (("val", dm.val_dataloader()), ("test", dm.test_dataloader())):
        start, end = borders[split]
        n = end - start - 72 + 1
        assert [len(b[0]) for b in loader] == [40] * (n // 40) + [n % 40]
        torch.testing.assert_close(torch.cat([b[1] for b in loader]), dm.dataset(split)[list(range(n))][1])
    assert make_module(batch_size=16)[2].eval_batch_size == 16
    with pytest.raises(ConfigError, match="eval_batch_size must be a positive integer, got 0"):
        make_module(eval_batch_size=0)


def test_train_shuffle_is_seeded():
    def first_batch(seed):
        return next(iter(make_module(batch_size=16, seed=seed)[2].train_dataloader()))[1]

    torch.testing.assert_close(first_batch(3), first_batch(3))
    assert not torch.equal(first_batch(3), first_batch(4))
    _, _, dm = make_module(batch_size=16)
    loader = dm.train_dataloader()
    epoch1 = torch.cat([b[0][:, 0, 0] for b in loader])
    epoch2 = torch.cat([b[0][:, 0, 0] for b in loader])
    assert len(epoch1) == len(dm.dataset("train"))
    assert not torch.equal(epoch1, epoch2)  # a new order each epoch, from the one generator
    torch.testing.assert_close(epoch1.sort().values, epoch2.sort().values)


def test_shuffle_order_depends_only_on_seed_and_epoch():
    _, _, dm = make_module(batch_size=16, seed=7)
    loader = dm.train_dataloader()
    passes = [torch.cat([b[0][:, 0, 0] for b in loader]) for _ in range(3)]
    resumed = make_module(batch_size=16, seed=7)[2].train_dataloader()
    resumed.sampler.set_epoch(2)  # what Lightning does when it resumes at epoch 2
    torch.testing.assert_close(torch.cat([b[0][:, 0, 0] for b in resumed]), passes[2])
    batches = WindowBatches(10, 4, shuffle=False)
    assert list(batches) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(batches) == 3


def test_unshuffled_train_and_stride():
    values, borders, dm = make_module(batch_size=10, shuffle=False, train_stride=4)
    batch = next(iter(dm.train_dataloader()))
    torch.testing.assert_close(batch[0][1], torch.from_numpy(values[4:52]))
    train_rows = borders["train"][1]
    assert len(dm.dataset("train")) == (train_rows - 72) // 4 + 1
    # the stride thins training only: validation and test score every window (helper-144)
    for split in ("val", "test"):
        start, end = borders[split]
        assert len(dm.dataset(split)) == end - start - 72 + 1, split


def test_val_stride_thins_validation_only_the_same_windows_every_epoch():
    """val_stride k: the validation loader scores windows 0, k, 2k, ... of the val split, the same
    ones each pass; training and the test loader keep theirs."""
    values, borders, dm = make_module(batch_size=8, eval_batch_size=5, val_stride=3, train_sampling="random",
                                      train_stride=2)
    start, end = borders["val"]
    n_val = end - start - 72 + 1
    assert len(dm.dataset("val")) == (n_val - 1) // 3 + 1
    passes = [torch.cat([b[0] for b in dm.val_dataloader()]) for _ in range(2)]
    torch.testing.assert_close(passes[0], passes[1])
    every = make_module(batch_size=8, eval_batch_size=5)[2]
    all_val = torch.cat([b[0] for b in every.val_dataloader()])
    torch.testing.assert_close(passes[0], all_val[::3])
    torch.testing.assert_close(passes[0][1], torch.from_numpy(values[start + 3:start + 51]))
    assert count_windows(dm.test_dataloader()) == count_windows(every.test_dataloader())
    assert dm.train_windows_per_epoch == -(-every.train_windows_per_epoch // 2)  # its training: as set
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="val_stride"):
            make_module(val_stride=bad)


def test_random_sampling_draws_a_fresh_share_of_all_windows_each_epoch():
    """train_sampling="random": each epoch a different random 1/k of all the windows (every
    window start can appear, unlike stride k), deterministic per (seed, epoch)."""
    values, borders, dm = make_module(batch_size=16, train_stride=4, train_sampling="random", seed=3)
    n_all = borders["train"][1] - 72 + 1
    assert len(dm.dataset("train")) == n_all and dm.train_windows_per_epoch == -(-n_all // 4)
    loader = dm.train_dataloader()
    starts = []
    for _ in range(3):
        first_values = torch.cat([b[0][:, 0, 0] for b in loader])
        assert len(first_values) == dm.train_windows_per_epoch
        rows = [int(np.flatnonzero(values[:, 0] == v)[0]) for v in first_values.double().numpy()]
        assert len(set(rows)) == len(rows)  # no window twice in an epoch
        starts.append(set(rows))
    assert starts[0] != starts[1] and {r % 4 for r in starts[0]} == {0, 1, 2, 3}
    again = make_module(batch_size=16, train_stride=4, train_sampling="random", seed=3)[2]
    again_rows = torch.cat([b[0][:, 0, 0] for b in again.train_dataloader()])
    assert {int(np.flatnonzero(values[:, 0] == v)[0]) for v in again_rows.double().numpy()} == starts[0]
    strided = make_module(batch_size=16, train_stride=4)[2]
    assert strided.train_windows_per_epoch == len(strided.dataset("train")) == (n_all - 1) // 4 + 1
    with pytest.raises(ConfigError, match="train_sampling"):
        make_module(train_sampling="sometimes")
    with pytest.raises(ConfigError, match="shuffle=True"):
        WindowBatches(10, 4, shuffle=False, per_epoch=5)
    # unshuffled, it trained on every window while reporting 1/k of them
    with pytest.raises(ConfigError, match="needs shuffle=True"):
        make_module(train_stride=4, train_sampling="random", shuffle=False)
    with pytest.raises(ConfigError, match=r"^test split: need 0 <= start"):  # which split is wrong
        TimeSeriesDataModule(values, {"train": (0, 200), "test": (150, 10_000)}, 24, 12)


def test_marks_and_dtype():
    values = np.random.default_rng(0).normal(size=(400, 2))  # float64 in
    marks = np.zeros((400, 5), dtype=np.float32)
    dm = TimeSeriesDataModule(values, {"train": (0, 300), "test": (250, 400)}, 24, 12, marks=marks)
    context, target, context_marks = next(iter(dm.test_dataloader()))
    assert context.dtype == torch.float32 and context.shape == (32, 24, 2)
    assert target.shape == (32, 12, 2) and context_marks.shape == (32, 24, 5)
    with pytest.raises(ConfigError, match="no 'val' split"):
        dm.val_dataloader()


def test_module_rejects_short_split_and_unknown_names():
    values = np.zeros((200, 2), dtype=np.float32)
    with pytest.raises(DataValidationError, match=r"^val split: series too short"):
        TimeSeriesDataModule(values, {"train": (0, 150), "val": (140, 200)}, 48, 24)
    with pytest.raises(ConfigError, match="unknown splits"):
        TimeSeriesDataModule(values, {"training": (0, 150)}, 48, 24)


def test_module_with_worker_processes():
    _, borders, dm = make_module(n_rows=600, batch_size=50, num_workers=1)
    start, end = borders["test"]
    assert count_windows(dm.test_dataloader()) == end - start - 72 + 1


@pytest.mark.filterwarnings("ignore:.*LeafSpec.*")  # emitted inside lightning itself
def test_lightning_trainer_runs_the_module():
    import lightning

    class Tiny(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(48, 24)
            self.first_contexts = []
            self.seen = 0

        def forward(self, context):
            return self.head(context.transpose(1, 2)).transpose(1, 2)

        def training_step(self, batch, batch_idx):
            context, target = batch
            if batch_idx == 0:
                self.first_contexts.append(context.clone())
            return torch.nn.functional.mse_loss(self(context), target)

        def test_step(self, batch, _):
            self.seen += batch[0].shape[0]

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    _, borders, dm = make_module(batch_size=64)
    trainer = lightning.Trainer(
        max_epochs=2,
        limit_train_batches=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model = Tiny()
    loader = dm.train_dataloader()
    next(iter(loader))  # a pass outside Lightning moves the sampler on to epoch 1 ...
    trainer.fit(model, train_dataloaders=loader)  # ... and Lightning sets it back to 0
    # Lightning set the sampler's epoch: each epoch's order is the one for that epoch number
    batches = WindowBatches(len(dm.dataset("train")), 64, shuffle=True, seed=0)
    for epoch, seen in enumerate(model.first_contexts):
        torch.testing.assert_close(seen, dm.dataset("train")[batches.order(epoch)[:64]][0])
    trainer.test(model, dataloaders=dm.test_dataloader(), verbose=False)
    start, end = borders["test"]
    assert model.seen == end - start - 72 + 1


# ---------------------------------------------------------------------------------------------
# the real ETTh1 protocol


@pytest.mark.parametrize(("horizon", "expected"), [(96, 2785), (192, 2689), (336, 2545), (720, 2161)])
def test_etth1_test_window_counts(horizon, expected, benchmark_file):
    data = prepare_ltsf(benchmark_file("ETTh1"), 96, horizon)
    assert data.window_counts()["test"] == expected
    dm = TimeSeriesDataModule.from_ltsf(data, batch_size=32, use_marks=True)
    assert len(dm.dataset("test")) == expected
    assert count_windows(dm.test_dataloader()) == expected  # no last batch dropped
    start = data.borders["test"][0]
    last_target = dm.dataset("test")[-1][1]
    torch.testing.assert_close(last_target, torch.from_numpy(data.values[14400 - horizon : 14400]))
    assert start == 11520 - 96


def test_a_batch_index_one_below_minus_len_is_out_of_range():
    """-len-1 in a batch must not wrap round to the last window
    (helper: `idx.min() < -self._len` -> `< -self._len - 1` passed)."""
    ds = WindowDataset(ramp(10), 2, 2)  # 7 windows
    with pytest.raises(IndexError, match="out of range for 7 windows"):
        ds[[-8]]
    with pytest.raises(IndexError, match="out of range for 7 windows"):
        ds.get_batch([0, 7])
    assert torch.equal(ds[[-7]][0][0], ds[0][0])


def test_per_epoch_beyond_the_items_takes_each_item_once():
    """per_epoch > n_items: all the items, no empty batches, and len() counts the real batches
    (helper: `self.per_epoch = min(self.n_items, per_epoch)` -> `= per_epoch` passed)."""
    batches = WindowBatches(10, 3, shuffle=True, seed=1, per_epoch=25)
    assert batches.per_epoch == 10 and len(batches) == 4
    epoch = list(batches)
    assert len(epoch) == 4 and all(epoch)
    assert sorted(i for batch in epoch for i in batch) == list(range(10))


def test_worker_processes_persist_across_epochs_and_none_without_workers():
    """num_workers > 0 keeps its workers between epochs (not a fresh spawn per epoch)
    (helper: `persistent_workers=self.num_workers > 0` -> `False` passed)."""
    values = ramp(200)
    borders = {"train": (0, 100), "val": (80, 150), "test": (130, 200)}
    with_workers = TimeSeriesDataModule(values, borders, 8, 4, num_workers=2)
    for loader in (with_workers.train_dataloader(), with_workers.val_dataloader(),
                   with_workers.test_dataloader()):
        assert loader.persistent_workers and loader.num_workers == 2
    assert not TimeSeriesDataModule(values, borders, 8, 4).train_dataloader().persistent_workers


def test_random_sampling_of_half_the_windows_needs_shuffle_but_all_of_them_does_not():
    """train_stride=2 with 'random' and shuffle=False is refused; stride 1 (every window) is fine
    (helper: `self.train_stride > 1` -> `> 2` passed)."""
    values, borders = ramp(200), {"train": (0, 120)}
    with pytest.raises(ConfigError, match="needs shuffle=True"):
        TimeSeriesDataModule(values, borders, 8, 4, train_stride=2, train_sampling="random", shuffle=False)
    dm = TimeSeriesDataModule(values, borders, 8, 4, train_sampling="random", shuffle=False)
    assert dm.train_windows_per_epoch == len(dm.dataset("train")) == 120 - 12 + 1


def test_a_reversed_numpy_series_is_windowed_not_refused():
    """Numpy values with negative strides (a reversed view) are copied to a contiguous array
    (helper: `torch.from_numpy(np.ascontiguousarray(values))` -> `torch.from_numpy(values)` passed)."""
    forward = ramp(12).numpy()
    ds = WindowDataset(forward[::-1], 3, 2)
    torch.testing.assert_close(ds[0][0], torch.from_numpy(forward[::-1].copy())[:3])
    dm = TimeSeriesDataModule(forward[::-1], {"train": (0, 12)}, 3, 2, shuffle=False)
    assert len(dm.dataset("train")) == 8


def test_two_dimensional_batch_indices_are_refused():
    """A nested index list is an IndexError, not a (2, 2, L, C) batch
    (helper: `idx.ndim != 1` -> `idx.ndim > 2` passed)."""
    ds = WindowDataset(ramp(10), 2, 2)
    with pytest.raises(IndexError, match=r"batch indices must be 1-D, got shape \(2, 2\)"):
        ds[[[0, 1], [2, 3]]]


def test_from_ltsf_with_use_marks_gives_batches_with_calendar_marks():
    """use_marks=True passes the data's time marks into every batch
    (helper: `marks = data.time_marks() if use_marks else None` -> `marks = None` passed)."""
    data = prepare_ltsf(synthetic_ett(n_rows=800), 24, 12, kind="custom")
    batch = next(iter(TimeSeriesDataModule.from_ltsf(data, use_marks=True, batch_size=4).test_dataloader()))
    marks = data.time_marks()
    start = data.borders["test"][0]
    assert len(batch) == 3 and batch[2].shape == (4, 24, marks.shape[1])
    torch.testing.assert_close(batch[2][0], torch.from_numpy(marks[start : start + 24]))
    assert len(next(iter(TimeSeriesDataModule.from_ltsf(data, batch_size=4).test_dataloader()))) == 2


def test_the_window_order_seed_goes_into_checkpoints_and_comes_back():
    values = np.zeros((60, 2))
    saved = TimeSeriesDataModule(values, {"train": (0, 60)}, 4, 2, seed=123).state_dict()
    assert saved == {"seed": 123}
    resumed = TimeSeriesDataModule(values, {"train": (0, 60)}, 4, 2, seed=9)
    resumed.load_state_dict(saved)
    assert resumed.seed == 123 and resumed.train_dataloader().sampler.seed == 123
    for damaged in ({"seed": -1}, {"seed": "7"}, {}):
        with pytest.raises(CheckpointError, match=r"the checkpoint's window order is damaged .*; delete the "
                           r"checkpoint to start afresh"):
            resumed.load_state_dict(damaged)


def test_nan_and_inf_in_the_windows_rows_are_named_at_construction():
    """A NaN had been found only at the first non-finite loss, as a TrainingError."""
    values = torch.arange(40.0).reshape(20, 2)
    values[5, 1] = float("nan")
    with pytest.raises(DataValidationError, match=re.escape(
            "values has 1 NaN or ±inf value in rows [0, 20), the first nan at row 5, channel 1; ")):
        WindowDataset(values, 3, 2)
    assert len(WindowDataset(values, 3, 2, start=6)) == 10  # rows no window reads
    huge = torch.full((20, 2), 3e38)  # finite, though their sum is not
    assert len(WindowDataset(huge, 3, 2)) == 16
    values[5, 1], values[14, 0] = 1.0, -float("inf")
    with pytest.raises(DataValidationError, match=re.escape(
            "val split: values has 1 NaN or ±inf value in rows [10, 20), the first -inf at row 14, "
            "channel 0")):
        TimeSeriesDataModule(values.numpy(), {"train": (0, 10), "val": (10, 20)}, 3, 2)
    marks = np.zeros((20, 3))
    marks[2, 2] = np.nan
    with pytest.raises(DataValidationError, match=r"train split: marks has .* at row 2, column 2"):
        TimeSeriesDataModule(values.numpy(), {"train": (0, 10)}, 3, 2, marks=marks)
