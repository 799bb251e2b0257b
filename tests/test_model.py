"""The forecasting network: shapes, channel modes, normalisations, recurrent == forward."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from tsmamba.errors import ConfigError, DataValidationError
from tsmamba.mamba2 import Mamba2Config
from tsmamba.model import (
    ForecasterConfig,
    ForecastState,
    MambaForecaster,
    _moments_to_stats,
    causal_moments,
    count_parameters,
)


def tiny(**kw) -> MambaForecaster:
    base = dict(
        n_channels=3, horizon=5, context_length=12, d_model=16, n_layers=2, d_state=4, headdim=8, chunk_size=5
    )
    base.update(kw)
    torch.manual_seed(0)
    return MambaForecaster(ForecasterConfig(**base))


def stepped(net: MambaForecaster, x: torch.Tensor) -> torch.Tensor:
    """The forecast after feeding (B, L, C) ``x`` to ``net.step`` one row at a time from a fresh state."""
    state = net.init_state(x.shape[0])
    for t in range(x.shape[1]):
        forecast, state = net.step(x[:, t], state)
    return forecast


@pytest.mark.parametrize("mode", ["independent", "mix"])
@pytest.mark.parametrize("norm", ["causal", "revin", "none"])
def test_shapes(mode, norm):
    net = tiny(channel_mode=mode, norm=norm)
    out = net(torch.randn(4, 12, 3))
    assert out.shape == (4, 5, 3) and torch.isfinite(out).all()
    assert net(torch.randn(4, 12, 3), all_positions=True).shape == (4, 12, 5, 3)


@pytest.mark.parametrize("mode", ["independent", "mix"])
@pytest.mark.parametrize("norm", ["causal", "none"])
@pytest.mark.parametrize("n_marks", [0, 2])
@pytest.mark.parametrize("head_window, head_dim", [(1, None), (4, None), (4, 3)])
def test_step_equals_forward_float64(mode, norm, n_marks, head_window, head_dim):
    net = tiny(channel_mode=mode, norm=norm, n_time_features=n_marks, head_window=head_window,
               head_dim=head_dim).double()
    x = torch.randn(2, 17, 3, dtype=torch.float64)
    marks = torch.rand(2, 17, n_marks, dtype=torch.float64) - 0.5 if n_marks else None
    expected = net(x, marks)
    state = net.init_state(2)
    for t in range(17):
        forecast, state = net.step(x[:, t], state, None if marks is None else marks[:, t])
    torch.testing.assert_close(forecast, expected, atol=1e-10, rtol=0)
    assert state.steps == 17
    _, carried = net(x[:, :9], None if marks is None else marks[:, :9], return_state=True)
    assert carried.steps == 9  # forward counts its steps as step does (helper-144: off by one passed)
    _, carried = net(x[:, 9:], None if marks is None else marks[:, 9:], state=carried, return_state=True)
    assert carried.steps == 17


def phases(b: int, l: int, W: int, start: int = 0) -> torch.Tensor:
    """Consecutive cycle phases (b, l, 1) as float marks, series i starting at phase start + i."""
    return ((torch.arange(l)[None] + start + torch.arange(b)[:, None]) % W)[..., None].double()


@pytest.mark.parametrize("mode", ["independent", "mix"])
@pytest.mark.parametrize("n_time", [0, 2])
@pytest.mark.parametrize("cycle_length, input_skip", [(7, False), (None, True), (7, True)])
def test_step_equals_forward_with_cycle_and_input_skip(mode, n_time, cycle_length, input_skip):
    net = tiny(channel_mode=mode, n_time_features=n_time, head_window=4, head_dim=3,
               cycle_length=cycle_length, input_skip=input_skip).double()
    if cycle_length:
        with torch.no_grad():
            net.cycle.normal_()  # a non-trivial cycle (it starts at zero)
    x = torch.randn(2, 17, 3, dtype=torch.float64)
    parts = [torch.rand(2, 17, n_time, dtype=torch.float64) - 0.5] if n_time else []
    if cycle_length:
        parts.append(phases(2, 17, cycle_length, start=3))
    marks = torch.cat(parts, dim=-1) if parts else None
    expected = net(x, marks)
    state = net.init_state(2)
    for t in range(17):
        forecast, state = net.step(x[:, t], state, None if marks is None else marks[:, t])
    torch.testing.assert_close(forecast, expected, atol=1e-10, rtol=0)
    every = net(x, marks, all_positions=True)
    _, head = net(x[:, :9], None if marks is None else marks[:, :9], return_state=True)
    rest = net(x[:, 9:], None if marks is None else marks[:, 9:], state=head, all_positions=True)
    torch.testing.assert_close(rest, every[:, 9:], atol=1e-10, rtol=0)
    torch.testing.assert_close(every[:, -1], expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize("mode", ["independent", "mix"])
@pytest.mark.parametrize("norm", ["causal", "none"])
@pytest.mark.parametrize("extras", [dict(), dict(n_time_features=2, cycle_length=7, input_skip=True)])
def test_embed_window_steps_continues_and_forecasts_every_position_as_forward(mode, norm, extras):
    """A causal patch embedding (embed_window S = 4): the state carries the last S - 1 inputs, so
    stepping, continuing a carried state (split before and after S - 1 steps) and the
    all-positions pass give forward's forecast in float64."""
    net = tiny(channel_mode=mode, norm=norm, embed_window=4, head_window=4, head_dim=3, **extras).double()
    cycle = extras.get("cycle_length")
    if cycle:
        with torch.no_grad():
            net.cycle.normal_()
    x = torch.randn(2, 17, 3, dtype=torch.float64)
    parts = [torch.rand(2, 17, 2, dtype=torch.float64) - 0.5] if extras else []
    if cycle:
        parts.append(phases(2, 17, cycle, start=1))
    marks = torch.cat(parts, dim=-1) if parts else None

    def part(t: slice):
        return None if marks is None else marks[:, t]

    expected = net(x, marks)
    state = net.init_state(2)
    rows, width = (2 * 3, 1) if mode == "independent" else (2, 3)
    assert state.inputs.shape == (rows, 3, width)  # the last S - 1 = 3 inputs of each sequence
    for t in range(17):
        forecast, state = net.step(x[:, t], state, None if marks is None else marks[:, t])
    torch.testing.assert_close(forecast, expected, atol=1e-10, rtol=0)
    every = net(x, marks, all_positions=True)
    torch.testing.assert_close(every[:, -1], expected, atol=1e-10, rtol=0)
    for split in (2, 9):  # fewer steps than the window's S - 1, and more
        _, head = net(x[:, :split], part(slice(None, split)), return_state=True)
        rest = net(x[:, split:], part(slice(split, None)), state=head, all_positions=True)
        torch.testing.assert_close(rest, every[:, split:], atol=1e-10, rtol=0)
    again = ForecastState.from_tensors(state.tensors(), state.steps)  # saved and loaded
    x_t = torch.randn(2, 3, dtype=torch.float64)
    m_t = None if marks is None else marks[:, -1] + (1 if cycle else 0)
    torch.testing.assert_close(net.step(x_t, again, m_t)[0], net.step(x_t, state, m_t)[0], atol=0, rtol=0)
    one = state.select(slice(1, 2), 3, mode)
    m_1 = None if m_t is None else m_t[1:2]
    torch.testing.assert_close(net.step(x_t[1:2], one, m_1)[0], net.step(x_t, state, m_t)[0][1:2],
                               atol=1e-12, rtol=0)


def test_embed_window_tokens_embed_each_steps_input_and_the_ones_before_it():
    """Token t is the embedding of the normalised inputs t - S + 1 .. t, oldest first, zeros
    before the start: checked against the tokens written out with the embedding's weights."""
    net = tiny(embed_window=3, norm="none").double()
    assert net.embed.in_features == 3
    x = torch.randn(1, 6, 3, dtype=torch.float64)
    tokens, series, carried = net._tokens(x, None, None)  # (3, 6, D): channel c is row c
    torch.testing.assert_close(carried, series[:, -2:], atol=0, rtol=0)
    padded = torch.cat([torch.zeros(3, 2, dtype=torch.float64), x[0].T], dim=1)  # (C, 2 + 6)
    for t in range(6):
        patch = padded[:, t : t + 3]  # (C, 3): inputs t-2, t-1, t
        written_out = patch @ net.embed.weight.T + net.embed.bias  # (C, D)
        torch.testing.assert_close(tokens[:, t], written_out, atol=1e-12, rtol=0)
    with pytest.raises(ConfigError, match="embed_window"):
        tiny(embed_window=0)


@pytest.mark.parametrize("skip", ["cross_channel_skip", "channel_skip"])
@pytest.mark.parametrize("norm", ["causal", "none"])
@pytest.mark.parametrize("head_window", [1, 4])
def test_extra_linear_skips_step_and_carried_state_equal_forward(skip, norm, head_window):
    """The all-channel and the per-channel linear paths read each channel's row of the head
    buffer: stepping, continuing a carried state and the all-positions convolution give
    forward's forecast."""
    net = tiny(norm=norm, head_window=head_window, head_dim=3, cycle_length=7, input_skip=True,
               **{skip: True}).double()
    with torch.no_grad():
        net.cycle.normal_()
        if skip == "channel_skip":  # it starts at zero
            net.channel_skip.weight.normal_()
            net.channel_skip.bias.normal_()
    x = torch.randn(2, 17, 3, dtype=torch.float64)
    marks = phases(2, 17, 7, start=2)
    expected = net(x, marks)
    state = net.init_state(2)
    for t in range(17):
        forecast, state = net.step(x[:, t], state, marks[:, t])
    torch.testing.assert_close(forecast, expected, atol=1e-10, rtol=0)
    every = net(x, marks, all_positions=True)
    _, head = net(x[:, :9], marks[:, :9], return_state=True)
    rest = net(x[:, 9:], marks[:, 9:], state=head, all_positions=True)
    torch.testing.assert_close(rest, every[:, 9:], atol=1e-10, rtol=0)
    for t in (0, 5, 16):  # position t of all positions == the forecast after x[:, :t+1]
        torch.testing.assert_close(every[:, t], net(x[:, : t + 1], marks[:, : t + 1]), atol=1e-10, rtol=0)
    # through the linear path alone, one channel's history moves every channel's forecast (all
    # channels' map) or its own only (each channel's own map)
    with torch.no_grad():
        net.head.weight.zero_()
        bumped = x.clone()
        bumped[:, -1, 0] += 1.0
        change = (net(bumped, marks) - net(x, marks)).abs().amax(dim=(0, 1))  # (C,)
    if skip == "cross_channel_skip":
        assert (change > 1e-6).all()
    else:
        assert change[0] > 1e-6 and not change[1:].any()


def test_channel_skip_is_each_channels_own_linear_map():
    """channel c's extra output is its own K weights and bias applied to its last K inputs; a
    channel's map does not move another channel's forecast."""
    K, H = 4, 5
    net = tiny(norm="none", input_skip=True, head_window=K, channel_skip=True).double()
    with torch.no_grad():
        net.channel_skip.weight.normal_()
        net.channel_skip.bias.normal_()
        x = torch.randn(2, 12, 3, dtype=torch.float64)
        with_skip = net(x)
        weight = net.channel_skip.weight.view(3, H, K).clone()
        bias = net.channel_skip.bias.view(3, H).clone()
        net.channel_skip.weight.zero_()
        net.channel_skip.bias.zero_()
        without = net(x)
    expected = torch.einsum("bkc,chk->bhc", x[:, -K:], weight) + bias.T  # (b, H, C)
    torch.testing.assert_close(with_skip - without, expected, atol=1e-10, rtol=0)
    assert net.channel_skip.weight.shape == (3 * H, 1, K)
    groups = {id(g["params"][0]): g for g in net.param_groups(0.01) if g.get("name") == "channel_skip"}
    weight_group, bias_group = groups[id(net.channel_skip.weight)], groups[id(net.channel_skip.bias)]
    assert weight_group["weight_decay"] == 0.01  # decays toward the shared map
    assert bias_group["weight_decay"] == 0.0 and "lr" not in weight_group  # the optimizer's rate
    assert net.param_groups(0.01, channel_skip_lr=1e-4)[-1]["lr"] == 1e-4


def test_channel_skip_needs_the_independent_input_skip_and_no_cross_channel_skip():
    with pytest.raises(ConfigError, match="input_skip=True"):
        tiny(channel_skip=True)
    with pytest.raises(ConfigError, match="mix"):
        tiny(channel_mode="mix", input_skip=True, channel_skip=True)
    with pytest.raises(ConfigError, match="choose one"):
        tiny(input_skip=True, channel_skip=True, cross_channel_skip=True)
    with pytest.raises(ConfigError, match="channel_skip must be True or False"):
        tiny(input_skip=True, channel_skip="no")


def test_cross_channel_skip_needs_the_independent_input_skip():
    assert tiny(input_skip=True, cross_channel_skip=True, head_window=6).cross_skip.in_features == 6 * 3
    with pytest.raises(ConfigError, match="already reads every channel"):
        tiny(channel_mode="mix", input_skip=True, cross_channel_skip=True)
    with pytest.raises(ConfigError, match="input_skip=True"):
        tiny(cross_channel_skip=True)


def test_cycle_is_removed_from_the_input_and_added_to_the_forecast():
    """With the head zeroed the forecast is exactly the cycle at the next H phases; and a
    series that is pure cycle reaches the backbone as zeros (shifting it by the cycle changes
    nothing else)."""
    net = tiny(cycle_length=4, norm="none", horizon=6).double()
    with torch.no_grad():
        net.cycle.copy_(torch.arange(12, dtype=torch.float64).view(4, 3))
        net.head.weight.zero_()
        net.head.bias.zero_()
    marks = phases(1, 10, 4, start=1)  # last phase (1 + 9) % 4 = 2
    out = net(torch.randn(1, 10, 3, dtype=torch.float64), marks)
    ahead = (2 + torch.arange(1, 7)) % 4
    torch.testing.assert_close(out[0], net.cycle[ahead], atol=0, rtol=0)

    twin = tiny(cycle_length=4, norm="none", horizon=6).double()
    plain = tiny(norm="none", horizon=6).double()
    with torch.no_grad():
        twin.cycle.normal_()
    x = torch.randn(2, 10, 3, dtype=torch.float64)
    marks = phases(2, 10, 4)
    cyc = twin.cycle[marks[..., 0].long()]
    future = twin.cycle[(marks[:, -1, 0].long()[:, None] + torch.arange(1, 7)) % 4]
    torch.testing.assert_close(twin(x + cyc, marks), plain(x) + future, atol=1e-10, rtol=0)


def dst_phases(b: int, n: int, at: int, W: int) -> torch.Tensor:
    """Phases (b, n) of series whose wall clock goes back a step (a phase repeats) at step at + i."""
    rows = [torch.cat([torch.arange(at + i), torch.arange(at + i - 1, n - 1)]) for i in range(b)]
    return torch.stack(rows) % W


@pytest.mark.parametrize("mode", ["independent", "mix"])
@pytest.mark.parametrize("norm", ["causal", "none"])
def test_future_phase_gives_the_cycle_of_each_forecast_step(mode, norm):
    """Across a DST change the phases after the input do not step by one: ``future_phase`` names
    them, for the last position, for every position (read on from the marks), and for ``step``."""
    W, H, l = 7, 5, 12
    net = tiny(channel_mode=mode, norm=norm, cycle_length=W, horizon=H, input_skip=True, head_window=3,
               head_dim=2).double()
    with torch.no_grad():
        net.cycle.normal_()
    x = torch.randn(2, l, 3, dtype=torch.float64)
    track = dst_phases(2, l + H, l + 1, W)  # (b, l + H): the change after the input's end
    marks = track[:, :l, None].double()
    ahead = track[:, l:]  # (b, H)
    counted = (track[:, l - 1 : l] + torch.arange(1, H + 1)) % W
    torch.testing.assert_close(net(x, marks, future_phase=counted), net(x, marks), atol=0, rtol=0)
    moved = net(x, marks, future_phase=ahead) - net(x, marks)
    torch.testing.assert_close(moved, net.cycle[ahead] - net.cycle[counted], atol=1e-12, rtol=0)
    assert moved.abs().amax() > 0.1  # the change falls in the horizon of both rows

    every = net(x, marks, future_phase=ahead, all_positions=True)  # (b, l, H, C)
    for t in range(l):  # position t's forecast steps: the phases of rows t + 1 .. t + H
        alone = net(x[:, : t + 1], marks[:, : t + 1], future_phase=track[:, t + 1 : t + 1 + H])
        torch.testing.assert_close(every[:, t], alone, atol=1e-10, rtol=0)
    if norm == "causal":
        state = net.init_state(2)
        for t in range(l):
            stepped, state = net.step(x[:, t], state, marks[:, t], future_phase=track[:, t + 1 : t + 1 + H])
            torch.testing.assert_close(stepped, every[:, t], atol=1e-10, rtol=0)
    # a change inside the input: without future_phase, positions whose H steps are all in the
    # input still read them from the marks (they had been counted on by one: helper-134)
    inside = dst_phases(2, l + H, 4, W)
    known = net(x, inside[:, :l, None].double(), future_phase=inside[:, l:], all_positions=True)
    counted_after = net(x, inside[:, :l, None].double(), all_positions=True)
    torch.testing.assert_close(counted_after[:, : l - H], known[:, : l - H], atol=0, rtol=0)

    with pytest.raises(ConfigError, match=r"future_phase must be \(batch, horizon\) = \(2, 5\), got \(2, 4"):
        net(x, marks, future_phase=ahead[:, :4])
    with pytest.raises(ConfigError, match=r"future_phase .* this one has none"):
        tiny()(torch.randn(2, 12, 3), future_phase=ahead)


@pytest.mark.parametrize("mode", ["independent", "mix"])
@pytest.mark.parametrize("segment", [2048, 7])
def test_forecast_at_gives_forward_over_each_origins_history(mode, segment, monkeypatch):
    """forecast_at (one series, a piece at a time) gives at each origin what forward gives over
    its window (window forecasts) or over every row up to it (full history, in segments of 7 rows
    or one), float64 to 1e-10: unsorted and repeated origins, a DST change in the phases, passes
    of 3 windows; each origin is forecast once."""
    from tsmamba import model

    monkeypatch.setattr(model, "FULL_SEGMENT", segment)
    W, H, T, L = 7, 5, 40, 12
    net = tiny(channel_mode=mode, cycle_length=W, input_skip=True, head_window=3).double()
    with torch.no_grad():
        net.cycle.normal_()
    x = torch.randn(T, 3, dtype=torch.float64)
    track = dst_phases(1, T + H, 22, W)[0]  # (T + H,): row 22 repeats the phase of row 21
    marks = track[:T, None].double()
    origins = torch.tensor([30, 11, 39, 11, 20, 13])  # 20: the change after a 7-row segment
    for full in (False, True):
        got = torch.full((len(origins), H, 3), float("nan"), dtype=torch.float64)
        passes = []
        for rows, piece in net.forecast_at(x, origins, marks, track, full_history=full, batch_size=3):
            assert torch.isnan(got[rows]).all()
            got[rows] = piece
            passes.append(len(rows))
        for k, o in enumerate(origins.tolist()):
            first = 0 if full else o - L + 1
            expected = net(x[None, first : o + 1], marks[None, first : o + 1],
                           future_phase=track[None, o + 1 : o + 1 + H])[0]
            torch.testing.assert_close(got[k], expected, atol=1e-10, rtol=0)
        if not full:
            assert passes == [3, 3]
    # without phases: the marks' own, then by one (segments of 7 and of 2048 had differed by 1.85)
    counted = torch.cat([track[:T], track[T - 1] + torch.arange(1, H + 1)])
    for full in (False, True):
        default, given = (torch.cat([piece for _, piece in net.forecast_at(x, origins, marks, phases,
                                                                             full_history=full)])
                          for phases in (None, counted))
        torch.testing.assert_close(default, given, atol=0, rtol=0)
    assert list(net.forecast_at(x, origins[:0], marks, track)) == []
    assert list(net.forecast_at(x, origins[:0], marks, track, full_history=True)) == []
    short = r"origins must be rows in \[11, 40\) of x .* reads the 12 rows up to its origin\), got 10..30"
    with pytest.raises(DataValidationError, match=short):  # origin 10 had read the series' last window
        next(net.forecast_at(x, torch.tensor([30, 10]), marks, track))
    with pytest.raises(DataValidationError, match=r"rows in \[0, 40\) of x \(40 rows\), got 0..40"):
        next(net.forecast_at(x, torch.tensor([0, 40]), marks, track, full_history=True))
    with pytest.raises(ConfigError, match=r"norm='revin' .* has no recurrent form"):
        next(tiny(norm="revin").forecast_at(torch.randn(T, 3), origins, full_history=True))


def test_init_cycle_takes_the_per_phase_means():
    net = tiny(cycle_length=3)
    x = torch.tensor([[1.0, 0, 0], [2, 0, 0], [4, 1, 0], [3, 0, 0], [6, 0, 0], [8, 1, 0], [5, 0, 0]])
    phase = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    net.init_cycle(x, phase)
    torch.testing.assert_close(net.cycle.data, torch.tensor([[3.0, 0, 0], [4, 0, 0], [6, 1, 0]]))
    with pytest.raises(ConfigError, match="no cycle"):
        tiny().init_cycle(x, phase)


def test_a_history_of_no_step_is_refused():
    """It had failed in the convolution (torch's RuntimeError), or deep in the scan (helper-140)."""
    for norm in ("none", "revin", "causal"):
        with pytest.raises(ConfigError, match=r"expected input \(batch, length >= 1, 3 channels\), got"):
            tiny(norm=norm)(torch.zeros(1, 0, 3))


def test_cycle_and_skip_validate_their_inputs():
    net = tiny(cycle_length=5, n_time_features=2)
    assert net.config.n_marks == 3
    with pytest.raises(ConfigError, match="3 columns"):
        net(torch.randn(2, 12, 3), torch.rand(2, 12, 2))
    with pytest.raises(ConfigError, match="3 columns"):
        net(torch.randn(2, 12, 3))
    with pytest.raises(ConfigError, match="cycle_length"):
        tiny(cycle_length=0)
    skip = tiny(head_window=6, head_dim=2, input_skip=True)
    assert skip.head.in_features == 6 * (2 + 1) and skip.init_state(2).hidden.shape == (2 * 3, 5, 3)
    mixed = tiny(head_window=6, head_dim=2, input_skip=True, channel_mode="mix")
    assert mixed.head.in_features == 6 * (2 + 3)


def ridge_reference(features: torch.Tensor, targets: torch.Tensor, ridge: float) -> torch.Tensor:
    """Least squares with an intercept: rows (n, k), targets (n, m) -> fitted values (n, m)."""
    A = torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype)], 1)
    penalty = torch.diag(torch.tensor([ridge] * features.shape[1] + [0.0], dtype=features.dtype))
    return A @ torch.linalg.solve(A.T @ A + penalty, A.T @ targets)


@pytest.mark.parametrize("mode", ["independent", "mix", "cross"])
def test_init_linear_path_makes_the_network_the_ridge_map(mode):
    """After init_linear_path the forecast is the ridge map of the last K cycle-free inputs
    (per channel, weights shared, or all channels together in mix mode and with the cross-channel
    skip) plus the future cycle."""
    K, H, W = 6, 5, 4
    kind = {"channel_mode": "mix"} if mode == "mix" else {"cross_channel_skip": mode == "cross"}
    net = tiny(**kind, norm="none", cycle_length=W, input_skip=True, head_window=K, head_dim=2)
    net = net.double()
    with torch.no_grad():
        net.cycle.normal_()
    n = 40
    x, y = torch.randn(n, 12, 3, dtype=torch.float64), torch.randn(n, H, 3, dtype=torch.float64)
    marks = phases(n, 12, W)
    net.init_linear_path([(x[:25], y[:25], marks[:25]), (x[25:], y[25:], marks[25:])], ridge=0.5)

    phase = marks[..., 0].long()
    future = net.cycle[(phase[:, -1:] + torch.arange(1, H + 1)) % W].detach()  # (n, H, C)
    xr = (x - net.cycle[phase].detach())[:, -K:]  # (n, K, C)
    yr = y - future
    if mode == "independent":
        per_channel = xr.permute(0, 2, 1).reshape(n * 3, K), yr.permute(0, 2, 1).reshape(n * 3, H)
        fitted = ridge_reference(*per_channel, 0.5)
        fitted = fitted.reshape(n, 3, H).permute(0, 2, 1)
    else:
        fitted = ridge_reference(xr.reshape(n, K * 3), yr.reshape(n, H * 3), 0.5).reshape(n, H, 3)
    if mode == "cross":  # the per-channel head starts at zero: the backbone has no say yet
        assert not net.head.weight.any() and not net.head.bias.any()
    with torch.no_grad():
        torch.testing.assert_close(net(x, marks), fitted + future, atol=1e-10, rtol=0)


@pytest.mark.parametrize("own", [0.0, 0.3, 1.0])
def test_init_linear_path_with_channel_skip_mixes_the_shared_and_each_channels_ridge_map(own):
    """With channel_skip the start is (1 - own) x the ridge map shared by all channels + own x
    each channel's own ridge map, both fitted independently here (float64, 1e-10)."""
    K, H, W = 6, 5, 4
    net = tiny(norm="none", cycle_length=W, input_skip=True, head_window=K, head_dim=2,
               channel_skip=True).double()
    with torch.no_grad():
        net.cycle.normal_()
    n = 40
    x, y = torch.randn(n, 12, 3, dtype=torch.float64), torch.randn(n, H, 3, dtype=torch.float64)
    y[..., 1] = 2.0 * x[:, -H:, 1].flip(1) + 0.5  # a channel unlike the others
    marks = phases(n, 12, W)
    net.init_linear_path([(x[:25], y[:25], marks[:25]), (x[25:], y[25:], marks[25:])], ridge=0.5, own=own)

    phase = marks[..., 0].long()
    future = net.cycle[(phase[:, -1:] + torch.arange(1, H + 1)) % W].detach()  # (n, H, C)
    xr = (x - net.cycle[phase].detach())[:, -K:]  # (n, K, C)
    yr = y - future
    rows = xr.permute(0, 2, 1).reshape(n * 3, K), yr.permute(0, 2, 1).reshape(n * 3, H)
    shared = ridge_reference(*rows, 0.5).reshape(n, 3, H).permute(0, 2, 1)  # (n, H, C)
    each = torch.stack([ridge_reference(xr[..., c], yr[..., c], 0.5) for c in range(3)], dim=-1)
    with torch.no_grad():
        expected = (1 - own) * shared + own * each + future
        torch.testing.assert_close(net(x, marks), expected, atol=1e-10, rtol=0)
    assert (net.channel_skip.weight.abs().amax() > 1e-3) == (own > 0)
    with pytest.raises(ConfigError, match=r"own .* must be in \[0, 1\], got 1.5"):
        net.init_linear_path([(x, y, marks)], own=1.5)


def test_init_linear_path_on_windows_shorter_than_the_head_reads_them_as_the_head_does():
    """Positions before a short window's start are zeros at the front, in the fit as in the
    forecast (helper-144: zeros put after the inputs in the fit alone had passed every test)."""
    net = tiny(norm="none", input_skip=True, head_window=8).double()
    n, l = 30, 5
    x, y = torch.randn(n, l, 3, dtype=torch.float64), torch.randn(n, 5, 3, dtype=torch.float64)
    net.init_linear_path([(x, y, None)], ridge=0.5)
    rows = x.permute(0, 2, 1).reshape(n * 3, l), y.permute(0, 2, 1).reshape(n * 3, 5)
    fitted = ridge_reference(*rows, 0.5).reshape(n, 3, 5).permute(0, 2, 1)  # zero columns: weight 0
    with torch.no_grad():
        torch.testing.assert_close(net(x), fitted, atol=1e-10, rtol=0)


@pytest.mark.parametrize("norm", ["causal", "none"])
def test_init_linear_path_zeroes_the_mamba_path(norm):
    """The hidden-state weights of the head start at zero: the forecast does not depend on the
    backbone until training moves them; without input_skip there is no linear path to set."""
    net = tiny(norm=norm, input_skip=True, head_window=4).double()
    x, y = torch.randn(30, 12, 3, dtype=torch.float64), torch.randn(30, 5, 3, dtype=torch.float64)
    net.init_linear_path([(x, y, None)])
    with torch.no_grad():
        before = net(x[:4])
        for p in net.backbone.parameters():
            p.add_(torch.randn_like(p))
        torch.testing.assert_close(net(x[:4]), before, atol=1e-10, rtol=0)
    with pytest.raises(ConfigError, match="input_skip=True"):
        tiny().init_linear_path([(x, y, None)])
    with pytest.raises(ConfigError, match="no training windows"):
        tiny(input_skip=True).init_linear_path([])


@pytest.mark.parametrize("mode, skips", [("independent", {}), ("independent", {"channel_skip": True}),
                                         ("independent", {"cross_channel_skip": True}), ("mix", {})])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_linear_path_only_skips_the_backbone_to_the_same_forecasts(mode, skips, dtype):
    """At a linear start, forecasts inside linear_path_only are the network's own, bit for bit
    (each product of a zero weight and a finite hidden state was 0), without running the stack."""
    net = tiny(channel_mode=mode, input_skip=True, head_window=6, head_dim=2, cycle_length=4, **skips)
    net = net.to(dtype)
    x, y = torch.randn(30, 12, 3, dtype=dtype), torch.randn(30, 5, 3, dtype=dtype)
    marks = phases(30, 12, 4)
    net.init_linear_path([(x, y, marks)])
    with torch.no_grad():
        before = net(x, marks)
        calls = []
        hook = net.backbone.register_forward_hook(lambda *args: calls.append(1))
        with net.linear_path_only():
            assert torch.equal(net(x, marks), before)
            assert not calls  # the stack did not run
            _, state = net(x, marks, return_state=True)  # a carried state needs the stack
            carried = net(x[:, -1:], marks[:, -1:], state)
            assert len(calls) == 2
        hook.remove()
        assert torch.equal(carried, net(x[:, -1:], marks[:, -1:], state))
        assert not net.reads_backbone()
        net.head.weight.view(-1, 6, net.config.head_width)[0, 0, 0] = 1e-3  # reads a hidden state
        assert net.reads_backbone()
        with pytest.raises(ConfigError, match="weighs the hidden states"), net.linear_path_only():
            pass
    x.requires_grad_(True)
    net.head.weight.view(-1, 6, net.config.head_width)[0, 0, 0].data.zero_()
    with net.linear_path_only():  # with gradients (training) the stack runs: its weights need them
        net(x, marks).sum().backward()
    assert net.backbone.layers[0].mixer.in_proj.weight.grad is not None

@pytest.mark.parametrize("mode", ["independent", "mix"])
@pytest.mark.parametrize("head_window, head_dim", [(1, None), (6, None), (6, 2)])
def test_forward_continues_a_state(mode, head_window, head_dim):
    net = tiny(channel_mode=mode, head_window=head_window, head_dim=head_dim).double()
    x = torch.randn(2, 30, 3, dtype=torch.float64)
    full = net(x, all_positions=True)
    _, state = net(x[:, :11], return_state=True)
    rest = net(x[:, 11:], state=state, all_positions=True)
    torch.testing.assert_close(rest, full[:, 11:], atol=1e-10, rtol=0)


@pytest.mark.parametrize("head_window", [3, 40])
def test_all_positions_equal_prefix_forecasts(head_window):
    """Position t of the all-positions forecast == the forecast after x[:, :t+1] (windowed head
    as a convolution vs the flattened last states, zero-padded before the start)."""
    net = tiny(head_window=head_window).double()
    x = torch.randn(2, 15, 3, dtype=torch.float64)
    every = net(x, all_positions=True)
    for t in (0, 2, 9, 14):
        torch.testing.assert_close(every[:, t], net(x[:, : t + 1]), atol=1e-10, rtol=0)


def test_head_dim_shrinks_the_head_and_the_carried_state():
    wide, narrow = tiny(head_window=6), tiny(head_window=6, head_dim=2)
    assert narrow.head.in_features == 6 * 2 and wide.head.in_features == 6 * 16
    assert narrow.init_state(2).hidden.shape == (2 * 3, 5, 2)
    assert narrow(torch.randn(4, 12, 3)).shape == (4, 5, 3)
    with pytest.raises(ConfigError, match="head_dim"):
        tiny(head_dim=0)


def test_state_round_trips_through_tensors_and_select():
    net = tiny(head_window=3).double()
    x = torch.randn(3, 9, 3, dtype=torch.float64)
    _, state = net(x, return_state=True)
    again = ForecastState.from_tensors(state.tensors(), state.steps)
    x_t = torch.randn(3, 3, dtype=torch.float64)
    torch.testing.assert_close(net.step(x_t, again)[0], net.step(x_t, state)[0])
    one = state.select(slice(1, 2), 3, "independent")
    torch.testing.assert_close(net.step(x_t[1:2], one)[0], net.step(x_t, state)[0][1:2])


def test_causal_moments_match_explicit_weighted_statistics():
    """The scan (chunked SSD, 150 rows in three 64-row chunks) equals the
    explicit weighted statistics and its one-step twin ``_step_moments`` in float64 to 1e-10."""
    from tsmamba.model import _step_moments

    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 150, 3, dtype=torch.float64, generator=gen)  # three 64-row chunks
    span = 9
    lam = 1 - 2 / (span + 1)
    sums, last = causal_moments(x, span)
    tight = {"rtol": 1e-10, "atol": 1e-10}
    for t in (25, 149):
        w = (1 - lam) * lam ** torch.arange(t, -1, -1, dtype=torch.float64)  # weights of rows 0..t
        mean = (w[:, None] * x[:, : t + 1]).sum(1) / w.sum()
        torch.testing.assert_close(sums[:, t, :, 0] / sums[:, t, :, 2], mean, **tight)
        var = (w[:, None] * (x[:, : t + 1] - mean[:, None]) ** 2).sum(1) / w.sum()
        torch.testing.assert_close(sums[:, t, :, 1] / sums[:, t, :, 2], var, **tight)  # squared deviations
    torch.testing.assert_close(last, sums[:, -1], rtol=0, atol=0)
    moments = torch.zeros(2, 3, 3, dtype=torch.float64)
    for t in range(x.shape[1]):  # the recurrence, one row at a time
        moments = _step_moments(x[:, t], moments, span)
        torch.testing.assert_close(moments, sums[:, t], **tight)
    # continuing from the state equals one pass
    head, tail = causal_moments(x[:, :17], span)[1], causal_moments(x[:, 17:], span, initial=None)
    torch.testing.assert_close(causal_moments(x[:, 17:], span, initial=head)[0], sums[:, 17:], **tight)
    assert not torch.allclose(tail[0], sums[:, 17:])


def test_causal_norm_statistics_keep_float32_accuracy_at_a_high_level():
    """The std of a series at level 1000 with spread 1 (or 1.7 with spread 0.003): float32 keeps
    ~7 digits of the running sums, and the deviation form loses none of them to cancellation
    (the sum of x^2 less the squared mean was off by up to 45% here). The tolerance, 1e-4
    relative, is ~1000 float32 epsilons: the error of the running mean (level x eps) relative
    to the spread."""
    gen = torch.Generator().manual_seed(0)
    for level, spread in ((1000.0, 1.0), (1.7, 0.003)):
        x = level + spread * torch.randn(2, 300, 3, generator=gen, dtype=torch.float64)
        _, std64 = _moments_to_stats(causal_moments(x, 96)[0], 0.0)
        _, std32 = _moments_to_stats(causal_moments(x.float(), 96)[0], 0.0)
        rel = (std32.double() - std64).abs() / std64
        assert rel[:, 20:].max() < 1e-4, (level, rel[:, 20:].max())


def test_a_float32_network_steps_the_causal_norm_in_float64_at_any_span():
    """helper-125: stepped in float32, 1 - lam (2e-6 at span 10**6) was rounded by 1% and a
    weight increment below half a float32 spacing was lost (never forgetting at 10**8), so after
    40,000 steps a stream's forecasts were off by 1e-2 of their size. The state carries the
    moments in float64 (3 numbers per channel), whatever the network's type, and the step is
    then the float64 recurrence: 1e-10 of the float64 scan after 20,000 steps."""
    from tsmamba.model import _step_moments

    net = tiny(norm="causal")  # float32
    state = net.init_state(1)
    assert state.moments.dtype == torch.float64 and state.to(torch.float32).moments.dtype == torch.float64
    assert state.caches[0].ssm_state.dtype == torch.float32
    _, after = net(torch.randn(1, 5, 3), return_state=True)
    assert after.moments.dtype == torch.float64  # from a forward pass too
    gen = torch.Generator().manual_seed(3)
    x = (3.0 + torch.randn(1, 20_000, 3, generator=gen)).float()  # what a float32 stream is fed
    for span in (10**6, 10**8):
        moments = state.moments
        for t in range(x.shape[1]):
            moments = _step_moments(x[:, t], moments, span)
        _, exact = causal_moments(x.double(), span)
        torch.testing.assert_close(moments, exact, rtol=1e-10, atol=0)


def test_a_short_span_causal_norm_forecasts_raw_values_of_1e15_as_its_step_does():
    """norm_span 2 decays the statistics by 1/3 a step; the chunked scan of the squared deviations
    (~1e30 here) scaled them by up to exp(34.6) inside a 64-step chunk and overflowed float32, so
    forward forecast NaN where step (and float64) gave finite forecasts. Tolerance: float32 keeps
    ~1e-7 of each running sum, and the network's ~dozen operations a step add their own; 1e-5 of
    the forecasts' scale (seen: ~4e-7)."""
    net = tiny(norm="causal", norm_span=2).eval()
    gen = torch.Generator().manual_seed(4)
    x = 1e15 * (1.0 + torch.randn(2, 64, 3, generator=gen))
    with torch.no_grad():
        forecast, by_step = net(x), stepped(net, x)
    assert torch.isfinite(forecast).all()
    torch.testing.assert_close(forecast, by_step, atol=1e-5 * by_step.abs().max().item(), rtol=0)


def test_a_float32_forward_sums_the_causal_norm_in_float64_over_a_long_history():
    """The forward pass summed the causal norm's moments in the network's float32: a decay near 1
    (span 10**6) rounds to float32 at each 64-step chunk boundary with an error of up to 2.5e-4 of
    its distance from 1, so the forecast after 30,000 rows was 8.7e-6 of its scale off the float64
    network's and growing with the history (1.5e-5 at 200,000 rows), while step keeps them in
    float64. Summed in float64 too, what is left is the float32 network's own rounding (seen: 7.6e-8),
    allowed 1e-6 of the forecasts' scale."""
    net = tiny(norm="causal", norm_span=10**6, n_channels=2, chunk_size=32).eval()
    net64 = copy.deepcopy(net).double()
    gen = torch.Generator().manual_seed(5)
    x = 100.0 + torch.randn(1, 30_000, 2, generator=gen, dtype=torch.float64).cumsum(1) / 6
    with torch.no_grad():
        forecast, exact = net(x.float()), net64(x)
    torch.testing.assert_close(forecast.double(), exact, atol=1e-6 * exact.abs().max().item(), rtol=0)


def test_causal_norm_is_shift_and_scale_equivariant():
    """Forecasts move with the input's level and scale (the point of normalising)."""
    net = tiny(norm="causal").double()
    x = torch.randn(2, 20, 3, dtype=torch.float64)
    base = net(x)
    torch.testing.assert_close(net(3.0 * x + 7.0), 3.0 * base + 7.0, atol=1e-4, rtol=1e-4)


def test_revin_is_the_network_on_each_window_standardised_by_its_own_population_moments():
    """RevIN (Kim et al., ICLR 2022): the window's mean and population standard deviation (with
    norm_eps under the root), forecast by the unnormalised network, mapped back. helper-144: the
    sample variance in its place had passed every test (the affine check above holds for both)."""
    revin = tiny(norm="revin").double()
    plain = tiny(norm="none").double()
    plain.load_state_dict(revin.state_dict())
    x = 5.0 + 3.0 * torch.randn(2, 12, 3, dtype=torch.float64)
    mean = x.mean(1, keepdim=True)  # (b, 1, C)
    std = torch.sqrt(((x - mean) ** 2).mean(1, keepdim=True) + revin.config.norm_eps)
    torch.testing.assert_close(revin(x), plain((x - mean) / std) * std + mean, rtol=1e-12, atol=1e-12)


def test_revin_has_no_recurrent_form():
    net = tiny(norm="revin")
    with pytest.raises(ConfigError, match="revin"):
        net.init_state(1)


def test_bad_config_and_inputs():
    with pytest.raises(ConfigError, match="channel_mode"):
        ForecasterConfig(n_channels=2, horizon=3, channel_mode="both")
    with pytest.raises(ConfigError, match="horizon"):
        ForecasterConfig(n_channels=2, horizon=0)
    with pytest.raises(ConfigError, match="headdim"):
        ForecasterConfig(n_channels=2, horizon=3, d_model=10, headdim=16)
    for value in (1.5, "2", True):  # 1.5 failed in nn.Linear, True was one feature
        with pytest.raises(ConfigError, match="n_time_features must be an integer >= 0"):
            ForecasterConfig(n_channels=2, horizon=3, n_time_features=value)
    for value in (-1.0, float("nan")):  # non-finite forecasts
        with pytest.raises(ConfigError, match="norm_eps must be a finite number > 0"):
            ForecasterConfig(n_channels=2, horizon=3, norm_eps=value)
    net = tiny()
    with pytest.raises(ConfigError, match="3 channels"):
        net(torch.randn(2, 12, 4))
    with pytest.raises(ConfigError, match="time features"):
        tiny(n_time_features=2)(torch.randn(2, 12, 3))


def test_a_non_finite_input_is_named_not_spread_to_earlier_forecasts():
    """helper-129: a NaN at step 40 made every forecast NaN, those after steps 0-39 included (the
    chunked scans multiply masked zeros by it); forward and step now name it."""
    net = tiny()
    x = torch.randn(2, 60, 3)
    x[1, 40, 2] = float("nan")
    with pytest.raises(DataValidationError, match=r"input holds nan at \(batch row, step, channel\) "
                       r"\(1, 40, 2\); give finite values"):
        net(x, all_positions=True)
    with pytest.raises(DataValidationError, match=r"input holds inf at \(batch row, channel\) \(0, 1\)"):
        net.step(torch.tensor([[0.0, float("inf"), 1.0]]), net.init_state(1))
    assert torch.isfinite(net(x[:, :40], all_positions=True)).all()


def test_non_finite_marks_and_future_phases_are_named_not_forecast_from():
    """A NaN time feature made every forecast NaN; a NaN phase was cast to int64's minimum and read
    the cycle at a wrong phase, finite and wrong (helper-175). forward, step and future_phase."""
    net = tiny(n_time_features=1, cycle_length=4)
    x = torch.randn(1, 8, 3)
    marks = torch.zeros(1, 8, 2)
    marks[0, :, 1] = torch.arange(8.0)
    assert torch.isfinite(net(x, marks)).all()
    for column, value in ((0, float("nan")), (1, float("nan")), (1, float("inf"))):
        bad = marks.clone()
        bad[0, 3, column] = value
        with pytest.raises(DataValidationError, match=rf"^the marks \(time features, cycle phase\) holds "
                           rf"{value} at \(batch row, step, column\) \(0, 3, {column}\)"):
            net(x, bad)
        with pytest.raises(DataValidationError, match="the marks"):
            net.step(x[:, 0], net.init_state(1), bad[:, 3])
    ahead = torch.arange(8.0, 8.0 + net.config.horizon)[None].clone()
    ahead[0, 1] = float("nan")
    with pytest.raises(DataValidationError, match=r"^future_phase holds nan at \(batch row, step\) \(0, 1\)"):
        net(x, marks, future_phase=ahead)


def test_an_input_of_another_float_type_than_the_weights_is_a_config_error():
    """torch had raised an untyped RuntimeError from a matmul deep in the stack (helper-175)."""
    net = tiny()
    with pytest.raises(ConfigError, match=r"weights are torch.float32, its input torch.float64: cast one"):
        net(torch.randn(1, 12, 3, dtype=torch.float64))
    with pytest.raises(ConfigError, match=r"weights are torch.float64, its input torch.float32"):
        net.double().step(torch.randn(1, 3), net.init_state(1))


def test_no_weight_decay_groups():
    net = tiny()
    decay, no_decay = net.param_groups(0.1)
    names = {id(p): n for n, p in net.named_parameters()}
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    assert any(n.endswith("A_log") for n in no_decay_names)
    assert any(n.endswith("dt_bias") for n in no_decay_names)
    assert any(n.endswith(".D") for n in no_decay_names)
    assert any("norm" in n for n in no_decay_names)
    assert all(p.ndim >= 2 for p in decay["params"])
    assert no_decay["weight_decay"] == 0.0
    # the learned cycle (W, C) too, also in a deep copy (helper-129: its exemption was an attribute
    # on the Parameter, which deepcopy drops)
    for net in (tiny(cycle_length=3), copy.deepcopy(tiny(cycle_length=3))):
        decay, no_decay = net.param_groups(0.1)
        assert any(p is net.cycle for p in no_decay["params"])
        assert not any(p is net.cycle for p in decay["params"])


def test_numpy_scalars_in_a_configuration_become_python_numbers():
    # a parameter grid (np.arange, np.linspace) gives numpy scalars; checks and saves want plain values
    config = ForecasterConfig(n_channels=np.int64(2), horizon=np.int64(3), d_state=np.int64(8),
                              dropout=np.float64(0.1))
    assert type(config.n_channels) is int and type(config.dropout) is float
    assert type(config.mamba_config().d_state) is int
    assert Mamba2Config(d_model=16, headdim=8, A_init_range=np.array([1.0, 16.0])).d_model == 16
    with pytest.raises(ConfigError, match="norm_span must be a positive integer"):
        ForecasterConfig(n_channels=2, horizon=3, norm_span=float("inf"))


def test_step_casts_a_state_of_another_dtype_as_forward_does():
    torch.manual_seed(0)
    net = tiny().eval()
    x = torch.randn(2, 7, 3)
    state = net.init_state(2, dtype=torch.float64)  # float64 moments raised in a matmul
    with torch.no_grad():
        full, _ = net(x, state=state, return_state=True)
        for t in range(7):
            forecast, state = net.step(x[:, t], state)
    assert forecast.dtype == torch.float32
    torch.testing.assert_close(forecast, full, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("channel_mode", ["independent", "mix"])
def test_scatter_puts_selected_series_back(channel_mode):
    """ForecastState.scatter is select's inverse: stepping two of three series and scattering
    them back equals stepping all three and keeping the third's old state (every carried
    tensor: caches, moments, the head's and the embedding's buffers)."""
    torch.manual_seed(3)
    net = tiny(head_window=3, embed_window=3, channel_mode=channel_mode).double()
    x = torch.randn(3, 9, 3, dtype=torch.float64)
    _, state = net(x, return_state=True)
    x_t = torch.randn(3, 3, dtype=torch.float64)
    rows = torch.tensor([0, 2])
    _, stepped = net.step(x_t[rows], state.select(rows, 3, channel_mode))
    merged = state.scatter(rows, stepped, 3, channel_mode)
    _, all_stepped = net.step(x_t, state)
    third = torch.tensor([1])
    for k in merged.tensors():
        expected = all_stepped.select(rows, 3, channel_mode).tensors()[k]
        got = merged.select(rows, 3, channel_mode).tensors()[k]
        torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
        kept = merged.select(third, 3, channel_mode).tensors()[k]
        torch.testing.assert_close(kept, state.select(third, 3, channel_mode).tensors()[k], atol=0, rtol=0)
    assert state.scatter(torch.arange(3), all_stepped, 3, channel_mode).moments is all_stepped.moments
    # in place: the same result, written into the state's own tensors (warming a stream up)
    state = state.select(torch.arange(3), 3, channel_mode)  # copies: own tensors, not autograd's views
    before = state.moments.clone()
    with torch.no_grad():
        inplace = state.scatter(rows, stepped, 3, channel_mode, in_place=True)
    assert inplace.moments is state.moments and not torch.equal(state.moments, before)
    for k, t in merged.tensors().items():
        torch.testing.assert_close(inplace.tensors()[k], t, atol=0, rtol=0)


@pytest.mark.parametrize("settings", [
    dict(), dict(channel_mode="mix", input_skip=True), dict(head_dim=4, n_layers=3, expand=4),
    dict(cross_channel_skip=True, input_skip=True, head_window=12, cycle_length=24, n_time_features=3),
    dict(channel_mode="mix", embed_window=96, d_state=4),  # the embedding is the largest tensor
])
def test_the_weight_floor_is_a_floor_of_the_weights_built(settings):
    """check_memory refuses a network by weight_floor() before building it: it must never count
    more than the network holds (or a network that fits would be refused)."""
    config = ForecasterConfig(n_channels=5, horizon=24, context_length=96, d_model=32, **settings)
    built = count_parameters(MambaForecaster(config))
    assert 0.9 * built <= config.weight_floor() <= built  # the big matrices are nearly all of it


def test_a_network_too_big_for_the_machine_is_refused_before_it_is_built():
    """n_layers=10**12 had swapped the machine to a halt building layers (helper-111's CLI fuzz)."""
    huge = ForecasterConfig(n_channels=1, horizon=2, context_length=8, d_model=64, n_layers=10**12)
    with pytest.raises(ConfigError, match=r"the network would hold at least 27,776,000,000,001,088 weights: "
                                          r".* GiB to train in float32, more than this machine's"):
        huge.check_memory()
    ForecasterConfig(n_channels=1, horizon=2, context_length=8).check_memory()  # a small one passes
    for big in (dict(d_conv=10**23), dict(cycle_length=10**23), dict(d_state=10**23),  # all counted
                dict(embed_window=10**23)):
        with pytest.raises(ConfigError, match="the network would hold at least"):
            ForecasterConfig(n_channels=1, horizon=2, context_length=8, **big).check_memory()
    with pytest.raises(ConfigError, match=r"the causal norm.s span must be at most 10\*\*12 steps, got "
                                          "norm_span"):  # a NaN loss
        ForecasterConfig(n_channels=1, horizon=2, context_length=8, norm_span=10**23)
    # helper-140: the span's default, context_length, had no limit (NaN forecasts), and sizes past
    # float range raised OverflowError in check_memory
    with pytest.raises(ConfigError, match=r"got context_length 100000000000000000 \(norm_span's default\): "
                                          ".* pass a smaller norm_span"):
        ForecasterConfig(n_channels=1, horizon=2, context_length=10**17)
    ForecasterConfig(n_channels=1, horizon=2, context_length=10**17, norm_span=96)  # a span of its own
    ForecasterConfig(n_channels=1, horizon=2, context_length=10**17, norm="none")  # no span
    for big in (dict(d_model=10**200), dict(n_layers=10**400), dict(horizon=10**400)):
        with pytest.raises(ConfigError, match=r"at least about 2\*\*\d+ weights: about 2\*\*\d+ GiB"):
            ForecasterConfig(**{"n_channels": 1, "horizon": 1, "context_length": 8, **big}).check_memory()


# --- pinned by mutation round 7 ---


@pytest.mark.parametrize(("field", "value", "message"), [
    ("dropout", 1.0, "dropout must be a number in [0, 1), got 1.0"),
    ("input_skip", "no", "input_skip must be True or False, got 'no'"),
    ("cross_channel_skip", 1, "cross_channel_skip must be True or False, got 1"),
    ("cycle_length", True, "cycle_length must be a positive integer or None, got True"),
    ("n_time_features", -1, "n_time_features must be an integer >= 0, got -1"),
    ("norm_eps", 0.0, "norm_eps must be a finite number > 0, got 0.0"),
    ("norm_eps", True, "norm_eps must be a finite number > 0, got True"),
    ("head_window", 0, "head_window must be a positive integer, got 0"),
])
def test_a_config_refuses_a_field_it_cannot_mean(field, value, message):
    with pytest.raises(ConfigError) as info:
        ForecasterConfig(n_channels=2, horizon=3, **{field: value})
    assert str(info.value).startswith(message)


def test_the_causal_norms_span_may_be_ten_to_the_twelve():
    assert ForecasterConfig(n_channels=1, horizon=2, norm_span=10**12).span == 10**12


def test_a_refused_network_is_sized_at_sixteen_bytes_a_weight():
    """Weights, gradients and AdamW's two moments, float32 each; past 2**900 bytes in powers of two
    (2**1069 bytes as a float had raised OverflowError)."""
    huge = ForecasterConfig(n_channels=1, horizon=2, context_length=8, d_model=64, n_layers=10**12)
    with pytest.raises(ConfigError, match=r"at least 27,776,000,000,001,088 weights: 413,894,653.3 GiB to "):
        huge.check_memory()
    past_floats = ForecasterConfig(n_channels=1, horizon=2, context_length=8, d_model=64, n_layers=2**1050)
    with pytest.raises(ConfigError, match=r"at least about 2\*\*1065 weights: about 2\*\*1039 GiB to train"):
        past_floats.check_memory()


def test_a_state_keeps_its_step_count_through_tensors_clone_and_scatter():
    net = tiny(head_window=3).double()
    _, state = net(torch.randn(3, 9, 3, dtype=torch.float64), return_state=True)
    assert ForecastState.from_tensors(state.tensors(), 9).steps == 9 and state.clone().steps == 9
    rows = torch.tensor([0, 2])
    _, stepped = net.step(torch.randn(2, 3, dtype=torch.float64), state.select(rows, 3, "independent"))
    assert stepped.steps == 10
    assert state.scatter(rows, stepped, 3, "independent").steps == 10  # the series furthest on
    assert stepped.scatter(torch.tensor([1]), state.select(torch.tensor([0]), 3, "independent"),
                           3, "independent").steps == 10


@pytest.mark.parametrize("channel_mode", ["independent", "mix"])
def test_scatter_of_every_series_in_another_order_puts_each_in_its_row(channel_mode):
    net = tiny(head_window=3, channel_mode=channel_mode).double()
    _, state = net(torch.randn(3, 9, 3, dtype=torch.float64), return_state=True)
    order = torch.tensor([2, 0, 1])
    back = state.scatter(order, state.select(order, 3, channel_mode), 3, channel_mode)
    for name, tensor in state.tensors().items():
        torch.testing.assert_close(back.tensors()[name], tensor, atol=0, rtol=0)


def test_the_causal_norms_mean_at_a_long_span_is_the_running_mean_from_the_first_step():
    """At norm_span 10**8 the first steps weigh ~2e-8 each (the weights are then all but equal):
    the mean s / w must not clamp that weight (a floor of 1e-6 had moved every early mean)."""
    x = 5.0 + torch.randn(2, 20, 3, dtype=torch.float64)
    mean, _ = _moments_to_stats(causal_moments(x, 10**8)[0], 1e-5)
    running = x.cumsum(1) / torch.arange(1, 21, dtype=torch.float64)[:, None]
    torch.testing.assert_close(mean, running, atol=1e-6, rtol=0)


def test_a_causal_norm_span_of_one_normalises_each_step_by_itself():
    """lam = 0: no memory; the scan's decay is exp(-inf) = 0, and stepping agrees."""
    x = torch.randn(2, 15, 3, dtype=torch.float64)
    mean, std = _moments_to_stats(causal_moments(x, 1)[0], 0.0)
    torch.testing.assert_close(mean, x, atol=1e-12, rtol=0)
    assert std.abs().max() < 1e-6
    net = tiny(norm_span=1).double()
    torch.testing.assert_close(stepped(net, x), net(x), atol=1e-10, rtol=0)


def test_step_equals_forward_with_a_norm_span_of_its_own():
    net = tiny(norm_span=40).double()
    x = torch.randn(2, 17, 3, dtype=torch.float64)
    torch.testing.assert_close(stepped(net, x), net(x), atol=1e-10, rtol=0)


def test_power_sums_of_old_stream_saves_give_no_negative_deviation():
    """(s, sum of x^2, w) -> (s, q, w): a constant series' rounding (sum of x^2 a hair below
    s^2 / w) is a zero deviation, not a negative one; the type is kept."""
    from tsmamba.model import moments_from_power_sums

    old = torch.tensor([[[2.0, 3.999, 1.0], [2.0, 5.0, 1.0]]], dtype=torch.float32)
    new = moments_from_power_sums(old)
    assert new.dtype == torch.float32
    torch.testing.assert_close(new, torch.tensor([[[2.0, 0.0, 1.0], [2.0, 1.0, 1.0]]]), atol=1e-6, rtol=0)


def test_init_cycle_leaves_a_phase_the_series_never_visits_at_zero():
    net = tiny(cycle_length=3)
    x = torch.tensor([[1.0, 2, 3], [5, 6, 7], [3, 4, 5], [7, 8, 9]])
    net.init_cycle(x, torch.tensor([0, 1, 0, 1]))  # phase 2, the last, never seen
    torch.testing.assert_close(net.cycle.data, torch.tensor([[2.0, 3, 4], [6, 7, 8], [0, 0, 0]]))


def test_phases_in_marks_and_future_phase_are_rounded_not_truncated():
    """A phase that arrives as 2.9999999 (float arithmetic on the calendar) is phase 3."""
    W, H = 7, 5
    net = tiny(cycle_length=W, horizon=H).double()
    with torch.no_grad():
        net.cycle.normal_()
    x = torch.randn(2, 12, 3, dtype=torch.float64)
    marks = phases(2, 12, W, start=1)
    ahead = (marks[:, -1:, 0] + torch.arange(3, H + 3)) % W  # not by one from the last phase
    exact = net(x, marks, future_phase=ahead)
    torch.testing.assert_close(net(x, marks - 1e-7, future_phase=ahead - 1e-7), exact, atol=0, rtol=0)


def test_a_revin_network_refuses_a_carried_state():
    net = tiny(norm="revin")
    x = torch.randn(2, 12, 3)
    _, state = net(x, return_state=True)
    with pytest.raises(ConfigError, match="norm='revin' has no recurrent form; carry state with"):
        net(x, state=state)


def test_step_and_a_carried_state_equal_forward_with_a_head_window_of_two():
    net = tiny(head_window=2).double()
    x = torch.randn(2, 13, 3, dtype=torch.float64)
    torch.testing.assert_close(stepped(net, x), net(x), atol=1e-10, rtol=0)
    _, head = net(x[:, :6], return_state=True)
    rest = net(x[:, 6:], state=head, all_positions=True)
    torch.testing.assert_close(rest, net(x, all_positions=True)[:, 6:], atol=1e-10, rtol=0)


def test_dropout_draws_in_training_mode_only():
    net = tiny(dropout=0.5).double()
    x = torch.randn(2, 12, 3, dtype=torch.float64)
    net.train()
    assert not torch.equal(net(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))


def test_input_of_the_wrong_shape_is_named_by_its_shape():
    net = tiny(cycle_length=5, n_time_features=2)
    with pytest.raises(ConfigError) as info:
        net(torch.randn(12, 3))  # one series without its batch axis
    assert str(info.value) == "expected input (batch, length >= 1, 3 channels), got (12, 3)"
    with pytest.raises(ConfigError) as info:
        net.step(torch.randn(2, 4), net.init_state(2))
    assert str(info.value) == "step takes x_t of shape (batch, 3), got (2, 4)"
    for marks, got in ((torch.rand(2, 12, 2), "2 columns"), (None, "none")):
        with pytest.raises(ConfigError) as info:
            net(torch.randn(2, 12, 3), marks)
        assert str(info.value) == (
            f"this network takes marks with 3 columns (2 time features + the cycle phase), got {got}")


def test_the_first_non_finite_input_is_the_one_named():
    x = torch.randn(2, 10, 3)
    x[0, 5, 1], x[1, 2, 0] = float("inf"), float("nan")
    with pytest.raises(DataValidationError, match=r"holds inf at \(batch row, step, channel\) \(0, 5, 1\)"):
        tiny()(x)


def test_windows_per_pass_keeps_the_elements_of_a_pass_under_the_cap(monkeypatch):
    """windows x max(series rows (C when channels run independently) x length x d_model, H x C)
    stays under FORECAST_ELEMENTS, at least one window; batch_size is checked."""
    from tsmamba import model

    monkeypatch.setattr(model, "FORECAST_FAST_ELEMENTS", 10**9)  # only the cap binds
    monkeypatch.setattr(model, "FORECAST_ELEMENTS", 3 * 12 * 16 * 5)
    assert tiny().windows_per_pass(12) == 5  # 3 channels x 12 steps x d_model 16 a window
    assert tiny(channel_mode="mix").windows_per_pass(12) == 15
    assert tiny(channel_mode="mix", horizon=160).windows_per_pass(12) == 6  # its 160 x 3 forecast
    assert tiny(horizon=160).windows_per_pass(12) == 5
    assert tiny().windows_per_pass(10**6) == 1
    assert tiny().windows_per_pass(12, batch_size=7) == 7
    with pytest.raises(ConfigError, match=r"batch_size \(windows per forward pass\) must be a positive "
                                          "integer, got 0; pass None to let the forecaster choose"):
        next(tiny().forecast_windows(torch.randn(4, 12, 3), batch_size=0))


def test_windows_per_pass_keeps_activations_near_the_fast_size_and_spreads_the_weights(monkeypatch):
    """Below the cap: FORECAST_FAST_ELEMENTS // (series rows x length x d_model) windows, or more
    where the network has over WEIGHTS_PER_ROW weights per series row of such a pass."""
    from tsmamba import model

    few_weights = count_parameters(tiny(channel_mode="mix"))  # spread: one row per pass suffices
    monkeypatch.setattr(model, "WEIGHTS_PER_ROW", few_weights)
    monkeypatch.setattr(model, "FORECAST_FAST_ELEMENTS", 3 * 12 * 16 * 5)
    assert tiny().windows_per_pass(12) == 5  # 3 series rows x 12 steps x d_model 16 a window
    assert tiny(channel_mode="mix").windows_per_pass(12) == 15  # 1 series row
    assert tiny().windows_per_pass(24) == 2
    assert tiny().windows_per_pass(100) == 1  # never fewer than one
    net = tiny(channel_mode="mix", horizon=160)  # a head of 160 x 3 outputs: many more weights
    many = count_parameters(net)
    assert many > 7 * few_weights
    monkeypatch.setattr(model, "WEIGHTS_PER_ROW", -(-many // 40))  # about 40 rows to spread them
    assert net.windows_per_pass(12) == 40
    assert net.windows_per_pass(120) == 40  # 1 by the fast size alone
    monkeypatch.setattr(model, "FORECAST_ELEMENTS", 160 * 3 * 25)  # the cap still binds
    assert net.windows_per_pass(12) == 25


def test_windows_per_pass_off_the_cpu_is_the_accelerator_batch_under_the_cap(monkeypatch):
    """The measured rules are a CPU's: on another device (here "meta", as a GPU would be) a pass
    takes ACCELERATOR_BATCH windows, fewer where the cap binds."""
    from tsmamba import model

    on_cpu, elsewhere = tiny(), tiny().to("meta")
    assert on_cpu.windows_per_pass(12) == model.FORECAST_FAST_ELEMENTS // (3 * 12 * 16)  # 455
    assert elsewhere.windows_per_pass(12) == model.ACCELERATOR_BATCH == 32
    monkeypatch.setattr(model, "FORECAST_ELEMENTS", 3 * 12 * 16 * 5)
    assert elsewhere.windows_per_pass(12) == 5


@pytest.mark.parametrize("mode, horizon, per_row", [
    ("independent", 5, 3 * 16),  # 3 series rows x d_model 16
    ("mix", 8, 8 * 3),  # each row's H x C forecast, over its one series row x d_model 16
])
def test_full_history_forecasts_run_in_segments_under_the_cap(monkeypatch, mode, horizon, per_row):
    """Segments of FORECAST_ELEMENTS // max(series rows x d_model, H x C) rows, the last holding
    the last origin, none after it; an origin that starts a segment is forecast."""
    from tsmamba import model

    monkeypatch.setattr(model, "FORECAST_ELEMENTS", per_row * 7)  # 7 rows
    net = tiny(channel_mode=mode, horizon=horizon).double()
    lengths = []
    net.register_forward_pre_hook(lambda module, args: lengths.append(args[0].shape[1]))
    x = torch.randn(40, 3, dtype=torch.float64)
    origins = torch.tensor([14, 3])
    got = dict.fromkeys(range(len(origins)))
    for rows, piece in net.forecast_at(x, origins, full_history=True):
        for k, forecast in zip(rows.tolist(), piece, strict=True):
            got[k] = forecast
    assert lengths == [7, 7, 7]
    for k, o in enumerate(origins.tolist()):
        torch.testing.assert_close(got[k], net(x[None, : o + 1])[0], atol=1e-10, rtol=0)


def test_init_linear_path_reads_the_target_steps_phases_when_given():
    """A batch's fourth item, the marks of its H target steps, gives the cycle removed from the
    target where the phases do not step by one (a DST change): the fit is then the ridge map to
    the target less that cycle."""
    K, H, W, n = 6, 5, 4, 40
    net = tiny(norm="none", cycle_length=W, input_skip=True, head_window=K, head_dim=2, horizon=H).double()
    with torch.no_grad():
        net.cycle.normal_()
    x, y = torch.randn(n, 12, 3, dtype=torch.float64), torch.randn(n, H, 3, dtype=torch.float64)
    marks = phases(n, 12, W)
    ahead = (marks[:, -1:, 0].long() + torch.tensor([1, 1, 2, 3, 4])) % W  # the clock went back a step
    net.init_linear_path([(x, y, marks, ahead[..., None].double())], ridge=0.5)
    future = net.cycle[ahead].detach()  # (n, H, C)
    xr = (x - net.cycle[marks[..., 0].long()].detach())[:, -K:]
    per_channel = xr.permute(0, 2, 1).reshape(n * 3, K), (y - future).permute(0, 2, 1).reshape(n * 3, H)
    fitted = ridge_reference(*per_channel, 0.5).reshape(n, 3, H).permute(0, 2, 1)
    with torch.no_grad():
        torch.testing.assert_close(net(x, marks, future_phase=ahead), fitted + future, atol=1e-10, rtol=0)


def test_a_state_with_float32_moments_steps_them_in_float64():
    """A state whose moments came in float32 (a save from an MPS machine) is cast to float64
    even when its caches already have the network's type."""
    net = tiny()
    state = net.init_state(2)
    narrow = ForecastState(state.caches, state.moments.float(), 0, state.hidden)
    assert narrow.to(torch.float32).moments.dtype == torch.float64
    assert net.step(torch.randn(2, 3), narrow)[1].moments.dtype == torch.float64


def test_a_returned_state_holds_no_view_of_the_passs_buffers():
    """The last of the moving sums and the head's last K - 1 of l hidden states are copies of
    their own size: a view kept the whole pass's buffer alive in a stream and its saves."""
    net = tiny(head_window=3)
    _, state = net(torch.randn(2, 200, 3), return_state=True)
    for name, tensor in state.tensors().items():
        assert tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size(), name


@pytest.mark.parametrize("mode", ["independent", "mix"])
def test_a_state_of_other_series_or_another_network_is_refused(mode):
    """step had broadcast the observation of one series over a state of three (three forecasts,
    no error), and failed in torch the other way round; forward with a state of three series for
    an input of two had failed in torch (RuntimeError in a view); a state of another network too.
    init_state(-1) had failed in torch.zeros."""
    net = tiny(channel_mode=mode, head_window=3, embed_window=2).double()
    x = torch.randn(3, 8, 3, dtype=torch.float64)
    _, state = net(x, return_state=True)
    with pytest.raises(ConfigError, match=r"^the state \(of 3 series\) is not one of this network for the "
                                          r"input's 1 series: its moments is \(3, 3, 3\) where \(1, 3, 3\)"):
        net.step(x[:1, -1], state)
    with pytest.raises(ConfigError, match=r"the state \(of 1 series\) .* input's 3 series: its moments"):
        net.step(x[:, -1], state.select(slice(0, 1), 3, mode))
    with pytest.raises(ConfigError, match=r"the state \(of 3 series\) .* input's 2 series: its moments"):
        net(x[:2], state=state)
    other = tiny(channel_mode=mode, head_window=5, embed_window=2).double()
    with pytest.raises(ConfigError, match=r"3 series: its hidden is \(\d+, 2, 16\) where \(\d+, 4, 16\)"):
        other(x, state=state)
    with pytest.raises(ConfigError, match=r"input's 3 series: its inputs is \(\d+, 1, \d\) where none"):
        tiny(channel_mode=mode, head_window=3).double().step(x[:, -1], state)
    with pytest.raises(ConfigError, match=r"^batch_size must be an integer >= 0, got -1"):
        net.init_state(-1)
    # what fits is accepted: a state without the head's buffer (it reads zeros), and a fresh one
    bare = ForecastState(state.caches, state.moments, state.steps, None, state.inputs)
    assert net.step(x[:, -1], bare)[0].shape == (3, 5, 3)
    assert net.init_state(0).moments.shape == (0, 3, 3)
    torch.testing.assert_close(net(x, state=net.init_state(3)), net(x), atol=0, rtol=0)


@pytest.mark.parametrize("mode", ["independent", "mix"])
def test_marks_must_hold_a_row_for_each_step_of_each_series(mode):
    """The marks of one series with a batch of three had been broadcast over the batch (every
    series read series 0's cycle phases, and in channel-independent mode its time features, no
    error), by forward, step and init_linear_path; marks of another length failed in torch."""
    W = 4
    net = tiny(channel_mode=mode, cycle_length=W, input_skip=True).double()
    x = torch.randn(3, 12, 3, dtype=torch.float64)
    marks = phases(3, 12, W)
    with pytest.raises(ConfigError, match=r"^marks must be \(batch, length, n_marks\) = \(3, 12, 1\), a row "
                                          r"for each step of each series of the input, got \(1, 12, 1\)"):
        net(x, marks[:1])
    with pytest.raises(ConfigError, match=r"marks must be .* = \(3, 12, 1\), .* got \(3, 10, 1\)"):
        net(x, marks[:, :10])
    with pytest.raises(ConfigError, match=r"^marks_t must be \(batch, n_marks\) = \(3, 1\), .* got \(1, 1\)"):
        net.step(x[:, 0], net.init_state(3), marks[:1, 0])
    y = torch.randn(3, 5, 3, dtype=torch.float64)
    with pytest.raises(ConfigError, match=r"marks must be .* got \(1, 12, 1\)"):
        net.init_linear_path([(x, y, marks[:1])])
    with pytest.raises(ConfigError, match=r"^this network takes marks with 1 columns"):  # columns: as before
        net(x, torch.cat([marks, marks], -1))
    assert net(x, marks).shape == (3, 5, 3)
