"""The Lightning module's training extras: the moving average of the weights (ema_decay)."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader, TensorDataset

from tsmamba.errors import ConfigError
from tsmamba.model import ForecasterConfig, MambaForecaster
from tsmamba.training import ForecastingModule


def tiny_module(**kw) -> ForecastingModule:
    torch.manual_seed(0)
    config = ForecasterConfig(
        n_channels=2, horizon=3, context_length=8, d_model=8, n_layers=1, d_state=4, headdim=4, chunk_size=4
    )
    return ForecastingModule(MambaForecaster(config), warmup_fraction=0.0, **kw)


def weights(module: L.LightningModule) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.network.parameters()]


def test_ema_is_the_moving_average_that_validation_sees_and_training_ends_on():
    seen: dict[str, list] = {"steps": [], "val": [], "epoch_start": []}

    class Record(Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            seen["steps"].append(weights(module))  # raw weights after each optimizer step

        def on_validation_batch_start(self, trainer, module, batch, batch_idx, dataloader_idx=0):
            if batch_idx == 0:
                seen["val"].append(weights(module))

        def on_train_epoch_start(self, trainer, module):
            seen["epoch_start"].append(weights(module))

    torch.manual_seed(1)
    train = DataLoader(TensorDataset(torch.randn(16, 8, 2), torch.randn(16, 3, 2)), batch_size=4)
    val = DataLoader(TensorDataset(torch.randn(8, 8, 2), torch.randn(8, 3, 2)), batch_size=4)
    module = tiny_module(ema_decay=0.9)
    trainer = L.Trainer(
        max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, callbacks=[Record()],
    )
    trainer.fit(module, train, val)

    expected, averages = None, []
    for n, raw in enumerate(seen["steps"], start=1):  # n = optimizer steps taken
        if expected is None:
            expected = [w.clone() for w in raw]
        else:
            weight = 1.0 - min(0.9, (1 + n) / (10 + n))
            expected = [e + weight * (w - e) for e, w in zip(expected, raw, strict=True)]
        averages.append(expected)
    assert len(seen["steps"]) == 8
    for got, want in zip(seen["val"], (averages[3], averages[7]), strict=True):  # after each epoch
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    # training resumed from the raw weights, not the average
    torch.testing.assert_close(seen["epoch_start"][1], seen["steps"][3], atol=0, rtol=0)
    assert not torch.equal(seen["steps"][3][0], averages[3][0])
    torch.testing.assert_close(weights(module), averages[7], atol=1e-6, rtol=0)


def test_ema_decay_is_checked():
    with pytest.raises(ConfigError, match="ema_decay"):
        tiny_module(ema_decay=1.0)
