"""The forecasting network: history (b, L, C) -> forecast (b, H, C). No pandas here.

    x -> remove the cycle -> normalise -> linear embedding of each step [and the S - 1 before it]
      -> Mamba-2 residual stack
      -> final norm -> head on the last K hidden states (flattened) -> (b, H, C)
      -> undo the normalisation -> add the cycle back

Cycle (``cycle_length`` W): a learned per-channel profile over W steps (e.g. 24 for the hour of
day in hourly data), indexed by each step's phase, is subtracted from the input and added to the
forecast, so the network forecasts the residual (residual cycle forecasting; Lin et al.,
"CycleNet", NeurIPS 2024). The phase of each step comes in as the last column of ``marks``.
It starts from the per-phase means of the training series (:meth:`MambaForecaster.init_cycle`).

Embedding window (``embed_window`` S): each step's token is a linear map of its normalised input
and the S - 1 before it (a causal patch, one per step; zeros before the start of the series), so
the blocks' gates and step sizes read a local shape rather than one value. The recurrent state
carries the last S - 1 inputs.

Input skip (``input_skip``): the head also reads the normalised input of each of its K positions,
so a direct linear map from the last K inputs to the forecast sits beside the Mamba path.
With ``cross_channel_skip`` (channel-independent mode) a second linear map reads the last K
inputs of *all* C channels for each channel's forecast: the Mamba path stays per channel (shared
weights) while the linear path mixes channels, as an all-channel linear forecaster does. Each
channel's row of the head buffer already holds that channel's last K inputs, so the recurrent
form stays O(1) per step. With ``channel_skip`` (channel-independent mode) each channel instead
gets a linear map of its own from its last K inputs, added to the shared head's forecast: the
shared map and the Mamba path stay common to all channels, the per-channel map holds what sets
each channel apart (DLinear's "individual" linear layers; Zeng et al., AAAI 2023).
``freeze_linear_path`` holds that linear path (the head's input-skip weights and bias, the cycle,
the cross-channel and per-channel maps) at its values, so training fits only the Mamba path, to
what the linear path leaves.

Channel modes: ``"mix"`` embeds the C channels of a step together (one token per step);
``"independent"`` runs each channel as its own sequence through shared weights (the C channels
are folded into the batch).

Normalisation (``norm``):
  ``"causal"``  each step is normalised by the running mean and variance of the series up to that
                step, kept as exponential moving averages (a recurrence, so a stream can update it
                in O(1)); the forecast is mapped back with the statistics at the last step.
  ``"revin"``   mean and std of the whole input window (reversible instance normalisation; Kim et
                al., ICLR 2022). It has no recurrent form: window forecasts only.
  ``"none"``    inputs as given (already standardised by the data layer).

Besides ``forward``, the network has a recurrent interface: ``init_state``, ``step`` and
``forward(x, state)`` that continue a carried state; they give exactly the forecast ``forward``
gives over the same history.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsmamba.checkpoint import compact
from tsmamba.errors import ConfigError, DataValidationError, nonnegative_int, plain_fields, positive_int
from tsmamba.mamba2 import NO_WEIGHT_DECAY, InferenceCache, Mamba2Config, Mamba2Stack
from tsmamba.ssd import ssd_chunked

__all__ = [
    "ForecastState", "ForecasterConfig", "MambaForecaster", "causal_moments", "count_parameters",
    "moments_dtype",
]

CHANNEL_MODES = ("independent", "mix")
_NO_WEIGHT_DECAY = NO_WEIGHT_DECAY | {"cycle"}  # by name: the learned cycle is (W, C), not 1-D
NORMS = ("causal", "revin", "none")


@dataclass
class ForecasterConfig:
    n_channels: int  # C: channels of the series
    horizon: int  # H: steps forecast
    context_length: int = 96  # L: training window length (the network takes any length)
    d_model: int = 64  # D: model width
    embed_window: int = 1  # S: each step's token embeds its normalised input and the S - 1 before it
    n_layers: int = 2  # residual Mamba-2 blocks
    d_state: int = 16  # N: SSM state per head
    expand: int = 2  # E: inner width = E * D
    headdim: int = 16  # P: channels per head
    d_conv: int = 4  # causal conv width
    chunk_size: int = 32  # T: SSD chunk length (speed only; 32-48 is fastest on CPU for these widths)
    channel_mode: str = "independent"  # "independent" | "mix"
    norm: str = "causal"  # "causal" | "revin" | "none"
    norm_span: int | None = None  # span of the causal moving statistics (default: context_length)
    n_time_features: int = 0  # F: time features appended to each step's input
    dropout: float = 0.0  # before the head
    head_window: int | None = None  # K: the head reads the last K hidden states (None: context_length)
    head_dim: int | None = None  # d: each hidden state is projected to d features for the head (None: D)
    cycle_length: int | None = None  # W: steps of the learned cycle removed from the input (None: off)
    input_skip: bool = False  # the head also reads the normalised inputs of its K positions
    cross_channel_skip: bool = False  # independent mode: a linear map from all C channels' last K inputs
    channel_skip: bool = False  # independent mode: each channel's own linear map from its last K inputs
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        plain_fields(self)
        for name in ("n_channels", "horizon", "context_length", "d_model", "n_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.channel_mode not in CHANNEL_MODES:
            raise ConfigError(f"channel_mode must be one of {CHANNEL_MODES}, got {self.channel_mode!r}")
        if self.norm not in NORMS:
            raise ConfigError(f"norm must be one of {NORMS}, got {self.norm!r}")
        positive_int(self.norm_span, "norm_span", allow_none=True)
        if self.norm == "causal" and self.span > 10**12:  # 10**23 had trained to a NaN loss
            given = (f"norm_span {self.norm_span}" if self.norm_span is not None
                     else f"context_length {self.context_length} (norm_span's default)")
            raise ConfigError(
                f"the causal norm's span must be at most 10**12 steps, got {given}: its statistics' "
                "decay 1 - 2 / (span + 1) rounds to 1 beyond that, and they lose all weight; pass a "
                "smaller norm_span"
            )
        number = isinstance(self.dropout, (int, float)) and not isinstance(self.dropout, bool)
        if not number or not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        if self.head_window is None:
            self.head_window = self.context_length
        positive_int(self.head_window, "head_window")
        positive_int(self.head_dim, "head_dim", allow_none=True)
        positive_int(self.embed_window, "embed_window")
        for name in ("input_skip", "cross_channel_skip", "channel_skip"):  # "no" is truthy: it switched on
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False, got {getattr(self, name)!r}")
        W = self.cycle_length
        if W is not None and (not isinstance(W, int) or isinstance(W, bool) or W < 1):
            raise ConfigError(f"cycle_length must be a positive integer or None, got {self.cycle_length!r}")
        F_ = self.n_time_features
        if not isinstance(F_, int) or isinstance(F_, bool) or F_ < 0:
            raise ConfigError(f"n_time_features must be an integer >= 0, got {F_!r}")
        eps = self.norm_eps
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
            raise ConfigError(f"norm_eps must be a finite number > 0, got {eps!r}")
        if self.cross_channel_skip and not (self.input_skip and self.channel_mode == "independent"):
            raise ConfigError(
                "cross_channel_skip adds an all-channel linear path to channel_mode='independent' with "
                "input_skip=True (in 'mix' mode the skip already reads every channel); "
                f"got channel_mode={self.channel_mode!r}, input_skip={self.input_skip}"
            )
        if self.channel_skip and not (self.input_skip and self.channel_mode == "independent"):
            raise ConfigError(
                "channel_skip gives each channel its own linear map beside the shared one of "
                "channel_mode='independent' with input_skip=True (in 'mix' mode the skip already maps "
                f"each channel on its own); got channel_mode={self.channel_mode!r}, "
                f"input_skip={self.input_skip}"
            )
        if self.channel_skip and self.cross_channel_skip:
            raise ConfigError(
                "channel_skip and cross_channel_skip are two kinds of linear path beside the shared "
                "head (each channel's own inputs, or all channels' inputs); choose one"
            )
        self.mamba_config()  # validates the block geometry

    @property
    def series_width(self) -> int:
        """Values per step of each sequence the network runs: 1 (independent) or C (mix)."""
        return 1 if self.channel_mode == "independent" else self.n_channels

    @property
    def series_rows(self) -> int:
        """Sequences the network runs per series: C (independent) or 1 (mix)."""
        return self.n_channels // self.series_width

    @property
    def skip_width(self) -> int:
        """Normalised inputs per position the head reads beside the hidden state (input_skip)."""
        return self.series_width if self.input_skip else 0

    @property
    def head_width(self) -> int:
        """Features per position that the head reads (and the state carries): d (or D) + skip."""
        return (self.head_dim or self.d_model) + self.skip_width

    def weight_floor(self) -> int:
        """At least how many weights the network holds, from its largest tensors (the embedding,
        the blocks' projections and convolutions, the head, the cross-channel skip and the cycle),
        computed without building it."""
        m = self.mamba_config()
        embed = (self.embed_window * self.series_width + self.n_time_features) * self.d_model
        per_layer = self.d_model * m.d_in_proj + m.d_inner * self.d_model + m.conv_dim * m.d_conv
        outputs = self.horizon * self.series_width
        C, K = self.n_channels, self.head_window
        skip = K * C * self.horizon * C if self.cross_channel_skip else 0
        skip += C * self.horizon * K if self.channel_skip else 0
        cycle = (self.cycle_length or 0) * C
        return embed + self.n_layers * per_layer + K * self.head_width * outputs + skip + cycle

    def check_memory(self) -> None:
        """ConfigError for a network that cannot train in this machine's memory: its weights, their
        gradients and AdamW's two moments in float32 (n_layers=10**12 had swapped the machine to a
        halt building layers)."""
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):  # no sysconf (Windows): nothing to compare with
            return
        weights = self.weight_floor()
        need = 4 * 4 * weights
        if need > memory:
            huge = need >= 2**900  # as a float, the quotient past 1e308 had raised OverflowError
            count = f"about 2**{weights.bit_length()}" if huge else f"{weights:,}"
            gib = f"about 2**{need.bit_length() - 30}" if huge else f"{need / 2**30:,.1f}"
            raise ConfigError(
                f"the network would hold at least {count} weights: {gib} GiB "
                f"to train in float32, more than this machine's {memory / 2**30:,.1f} GiB of memory; "
                "lower d_model, n_layers, expand, d_state, d_conv, embed_window, head_window, head_dim, "
                "cycle_length or horizon"
            )

    @property
    def n_marks(self) -> int:
        """Columns of ``marks``: F time features, then the cycle phase when cycle_length is set."""
        return self.n_time_features + (1 if self.cycle_length else 0)

    @property
    def span(self) -> int:
        return self.norm_span or self.context_length

    def mamba_config(self) -> Mamba2Config:
        return Mamba2Config(
            d_model=self.d_model,
            n_layers=self.n_layers,
            d_state=self.d_state,
            d_conv=self.d_conv,
            expand=self.expand,
            headdim=self.headdim,
            chunk_size=self.chunk_size,
        )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ForecastState:
    """Everything the network carries between steps for a batch of series."""

    caches: list[InferenceCache]  # one per block; batch b (mix) or b * C (independent)
    moments: Tensor  # (b, C, 3): the causal norm's moving sum, squared deviations, weight (float64)
    steps: int = 0  # observations consumed
    hidden: Tensor | None = None  # (b', K-1, d): the previous K-1 head features (head_window K)
    inputs: Tensor | None = None  # (b', S-1, s): the previous S-1 normalised inputs (embed_window S)

    def tensors(self) -> dict[str, Tensor]:
        """Flat name -> tensor mapping (for saving)."""
        out = {"moments": self.moments}
        if self.hidden is not None:
            out["hidden"] = self.hidden
        if self.inputs is not None:
            out["inputs"] = self.inputs
        for i, c in enumerate(self.caches):
            out[f"conv_state.{i}"] = c.conv_state
            out[f"ssm_state.{i}"] = c.ssm_state
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, Tensor], steps: int) -> ForecastState:
        n_layers = sum(1 for k in tensors if k.startswith("ssm_state."))
        caches = [
            InferenceCache(tensors[f"conv_state.{i}"], tensors[f"ssm_state.{i}"]) for i in range(n_layers)
        ]
        return cls(caches, tensors["moments"], steps, tensors.get("hidden"), tensors.get("inputs"))

    def clone(self) -> ForecastState:
        """A copy that shares no tensor with this state."""
        return ForecastState.from_tensors({k: t.clone() for k, t in self.tensors().items()}, self.steps)

    def to(self, dtype: torch.dtype) -> ForecastState:
        """This state's caches and head features in ``dtype``, its moments in
        :func:`moments_dtype` (itself when they already are)."""
        moments = self.moments.to(moments_dtype(self.moments.device))
        if moments is self.moments and all(c.ssm_state.dtype == dtype for c in self.caches):
            return self
        caches = [InferenceCache(c.conv_state.to(dtype), c.ssm_state.to(dtype)) for c in self.caches]
        hidden = None if self.hidden is None else self.hidden.to(dtype)
        inputs = None if self.inputs is None else self.inputs.to(dtype)
        return ForecastState(caches, moments, self.steps, hidden, inputs)

    def _cache_rows(self, index: Tensor | slice, n_channels: int, channel_mode: str) -> Tensor | slice:
        """Rows of the caches (hidden, inputs) of series ``index``: a series is one row when mixed,
        ``n_channels`` rows when channels run independently."""
        if channel_mode != "independent":
            return index
        b = self.moments.shape[0]
        return torch.arange(b * n_channels, device=self.moments.device).view(b, n_channels)[index].reshape(-1)

    def select(self, index: Tensor | slice, n_channels: int, channel_mode: str) -> ForecastState:
        """The state of a subset of the batch (index over series)."""
        rows = self._cache_rows(index, n_channels, channel_mode)
        caches = [InferenceCache(c.conv_state[rows], c.ssm_state[rows]) for c in self.caches]
        hidden = None if self.hidden is None else self.hidden[rows]
        inputs = None if self.inputs is None else self.inputs[rows]
        return ForecastState(caches, self.moments[index], self.steps, hidden, inputs)

    def scatter(
        self, index: Tensor, new: ForecastState, n_channels: int, channel_mode: str, *, in_place: bool = False
    ) -> ForecastState:
        """A copy with series ``index`` (B,) replaced by ``new`` (B series): :meth:`select`'s inverse.
        ``in_place`` writes into this state's tensors instead of copies of them (for a state no one
        else holds: a copy of all B series per call made warming B series one by one O(B^2))."""
        steps = max(self.steps, new.steps)
        if len(index) == self.moments.shape[0] and torch.equal(
            index, torch.arange(len(index), device=index.device)  # on the GPU with a GPU state
        ):
            # every series: no copy
            return ForecastState(new.caches, new.moments, steps, new.hidden, new.inputs)
        rows = self._cache_rows(index, n_channels, channel_mode)
        own = (lambda t: t) if in_place else torch.clone
        caches = []
        for old, upd in zip(self.caches, new.caches, strict=True):
            conv, ssm = own(old.conv_state), own(old.ssm_state)
            conv[rows], ssm[rows] = upd.conv_state.to(conv.dtype), upd.ssm_state.to(ssm.dtype)
            caches.append(InferenceCache(conv, ssm))
        moments = own(self.moments)
        moments[index] = new.moments.to(moments.dtype)
        hidden, inputs = (None if mine is None else own(mine) for mine in (self.hidden, self.inputs))
        for buffer, upd in ((hidden, new.hidden), (inputs, new.inputs)):
            if buffer is not None:
                buffer[rows] = upd.to(buffer.dtype)
        return ForecastState(caches, moments, steps, hidden, inputs)


# Forecasting a series without gradients (memory and speed, not results). Window forecasts: as
# many windows per forward pass as keep its activations (windows x series rows x window length x
# d_model; C series rows when channels run independently, 1 when mixed) near FORECAST_FAST_ELEMENTS,
# which ran fastest per window (a pass that big stays in a core's cache), but at least one series
# row per WEIGHTS_PER_ROW weights of the network, which a pass reads whole (a mixed network with a
# long horizon holds tens of millions in its head and wants a hundred windows or more per pass);
# measured with experiments/benchmarks/bench_forecast_batch.py on the 2-core development machine
# (4 MiB of L2 per core; 1 thread, 2026-12-07, results/bench_forecast_batch_1thread.txt): ETTh1's
# per-channel network at L = 96 made 254 windows/s at 6 per pass and 243 at the earlier fixed 32,
# Weather's mixed one at H = 720 591 at 322 and 412 at 32, but ETTh1's at L = 336 58 at 1 and 66 at
# 32; docs/backtesting.md. Never more than keep windows x max(activations, the window's H x C forecast) within
# FORECAST_ELEMENTS: the no-grad forward peaks near 120 bytes per such element (the L = 720
# ETTm1 network: ~38 MB per window), so ~1 GB per pass. Full-history forecasts: FULL_SEGMENT rows
# per recurrent pass, fewer when rows x max(series rows x d_model, H x C) would pass
# FORECAST_ELEMENTS (Traffic's 862 series had taken 1.7 GB at d_model 8 in 2048-row segments).
FORECAST_FAST_ELEMENTS = 1 << 18
WEIGHTS_PER_ROW = 1 << 17
ACCELERATOR_BATCH = 32  # windows per pass on a GPU: the earlier fixed number (the rules above are a CPU's)
FORECAST_ELEMENTS = 1 << 23
FULL_SEGMENT = 2048

_MIN_WEIGHT = 1e-12  # a fresh state has no weight: its mean reads 0, and it adds no deviation


def moments_dtype(device: torch.device) -> torch.dtype:
    """The type a state carries the causal norm's moving sums in: float64 (float32 on Apple's
    MPS, which has none). A float32 step could not follow a long span: 1 - lam (2e-6 at
    ``norm_span`` 10**6) rounds to a float32 near 1 with a 1% error, and an increment of the
    weight below half its float32 spacing is lost, so after 40,000 steps a float32 stream's
    forecasts were 8.7e-5 of their scale off (6.7e-8 with float64 moments). The forward pass sums
    them in this type too: in float32 its chunk decays near 1 rounded, and a float32 network's
    forecast after 200,200 rows at span 10**6 was 4.4e-6 off (7.6e-7 in float64). Default model;
    ``experiments/benchmarks/results/bench_stream_precision.txt``."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64


def causal_moments(x: Tensor, span: int, initial: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Running exponentially weighted statistics of x along time, as linear recurrences.

    With lam = 1 - 2 / (span + 1), per series and channel::

        s_t = lam s_{t-1} + (1 - lam) x_t                         weighted sum
        w_t = lam w_{t-1} + (1 - lam)                             total weight
        q_t = lam q_{t-1} + (1 - lam) (lam w_{t-1} / w_t) (x_t - s_{t-1} / w_{t-1})^2

    q is the weighted sum of squared deviations from the running mean (the weighted form of
    Welford's update), so mean = s / w and var = q / w with no cancellation: the sum of x^2 less
    the squared mean lost every digit in float32 when the level dwarfs the spread. Both passes
    are scalar SSMs run by the chunked SSD scan (linear memory, exact recurrences).

    x: (b, l, C); initial: (b, C, 3) or None -> all sums (b, l, C, 3) = (s, q, w) and the last.
    """
    b, l, C = x.shape
    lam = 1.0 - 2.0 / (span + 1)
    log_lam = math.log(lam) if lam > 0 else -math.inf
    start = x.new_zeros(b, C, 3) if initial is None else initial.to(x.dtype)
    ones = torch.ones(b, l, 1, 1, dtype=x.dtype, device=x.device)  # B = C = 1

    def scan(inputs: Tensor, init: Tensor) -> Tensor:  # (b, l, k), (b, k) -> (b, l, k)
        k = inputs.shape[-1]
        A = torch.full((b, l, k), log_lam, dtype=x.dtype, device=x.device)
        out, _ = ssd_chunked(inputs[..., None], A, ones, ones, chunk_size=64,
                             initial_states=init.reshape(b, k, 1, 1))
        return out.reshape(b, l, k)

    sw = scan((1.0 - lam) * torch.cat([x, torch.ones_like(x)], dim=-1),
              torch.cat([start[..., 0], start[..., 2]], dim=-1))  # (b, l, 2C)
    s, w = sw[..., :C], sw[..., C:]  # (b, l, C) each
    s_prev = torch.cat([start[:, None, :, 0], s[:, :-1]], dim=1)  # (b, l, C)
    w_prev = torch.cat([start[:, None, :, 2], w[:, :-1]], dim=1)  # (b, l, C)
    deviation = x - s_prev / w_prev.clamp_min(_MIN_WEIGHT)  # from the mean before step t
    q = scan((1.0 - lam) * lam * w_prev / w * deviation * deviation, start[..., 1])  # (b, l, C)
    sums = torch.stack([s, q, w], dim=-1)  # (b, l, C, 3)
    return sums, sums[:, -1]


def _step_moments(x_t: Tensor, moments: Tensor, span: int) -> Tensor:
    """One step of :func:`causal_moments`: x_t (b, C), moments (b, C, 3) -> the next (b, C, 3),
    computed in the moments' type (see :func:`moments_dtype`)."""
    lam = 1.0 - 2.0 / (span + 1)
    x_t = x_t.to(moments.dtype)
    s, q, w = moments.unbind(-1)  # (b, C) each
    w_t = lam * w + (1.0 - lam)
    deviation = x_t - s / w.clamp_min(_MIN_WEIGHT)
    q_t = lam * q + (1.0 - lam) * lam * w / w_t * deviation * deviation
    return torch.stack([lam * s + (1.0 - lam) * x_t, q_t, w_t], dim=-1)


def moments_from_power_sums(moments: Tensor) -> Tensor:
    """(s, sum of x^2, w) moments, as saved streams held them before the deviation form, -> (s, q, w)."""
    s, s2, w = moments.double().unbind(-1)
    q = (s2 - s * s / w.clamp_min(_MIN_WEIGHT)).clamp_min(0.0)
    return torch.stack([s, q, w], dim=-1).to(moments.dtype)


def _moments_to_stats(sums: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """(..., 3) moments (s, q, w) -> mean and std (...)."""
    weight = sums[..., 2].clamp_min(_MIN_WEIGHT)
    mean = sums[..., 0] / weight
    var = (sums[..., 1] / weight).clamp_min(0.0)
    return mean, torch.sqrt(var + eps)


class MambaForecaster(nn.Module):
    """History (b, L, C) [+ time features (b, L, F)] -> forecast (b, H, C)."""

    def __init__(self, config: ForecasterConfig):
        super().__init__()
        self.config = cfg = config
        self.embed = nn.Linear(cfg.embed_window * cfg.series_width + cfg.n_time_features, cfg.d_model)
        self.backbone = Mamba2Stack(cfg.mamba_config())
        self.dropout = nn.Dropout(cfg.dropout)
        head_out = cfg.horizon * (1 if cfg.channel_mode == "independent" else cfg.n_channels)
        # per-position projection D -> d (shared), then one linear map of the last K positions
        self.head_proj = nn.Linear(cfg.d_model, cfg.head_dim) if cfg.head_dim else nn.Identity()
        self.head = nn.Linear(cfg.head_window * cfg.head_width, head_out)
        if cfg.cross_channel_skip:  # the last K inputs of all C channels -> H*C outputs (H-major)
            self.cross_skip = nn.Linear(cfg.head_window * cfg.n_channels, cfg.horizon * cfg.n_channels)
        if cfg.channel_skip:  # channel c's last K inputs -> its H outputs: weight (C*H, 1, K), zero at first
            C, H, K = cfg.n_channels, cfg.horizon, cfg.head_window
            self.channel_skip = nn.Conv1d(C, C * H, K, groups=C)
            nn.init.zeros_(self.channel_skip.weight)
            nn.init.zeros_(self.channel_skip.bias)
        if cfg.cycle_length:
            self.cycle = nn.Parameter(torch.zeros(cfg.cycle_length, cfg.n_channels))  # (W, C)
        self.linear_path_frozen = False
        self._backbone_unread = False  # inside linear_path_only: no-grad forecasts skip the backbone

    # ---- the linear path, held --------------------------------------------------------------
    def freeze_linear_path(self) -> None:
        """Hold the linear path at its present values while the rest trains (needs input_skip).

        The head's bias, the cycle, ``cross_skip`` and ``channel_skip`` stop requiring gradients;
        the head's weight keeps training on its hidden-state columns only (a hook zeroes the
        gradient of its input-skip columns, and Adam then leaves them where they are), and
        :meth:`param_groups` takes it out of weight decay, which would shrink the held columns.
        """
        cfg = self.config
        if not cfg.input_skip:
            raise ConfigError(
                "freeze_linear_path holds the input skip's map; build the network with input_skip=True"
            )
        if self.linear_path_frozen:
            return
        for name, p in self.named_parameters():
            if name in ("head.bias", "cycle") or name.startswith(("cross_skip.", "channel_skip.")):
                p.requires_grad_(False)
        K, width = cfg.head_window, cfg.head_width
        trains = torch.zeros(K, width, dtype=self.head.weight.dtype, device=self.head.weight.device)
        trains[:, : width - cfg.skip_width] = 1  # per position: [hidden (d) | inputs (s)]
        trains = trains.reshape(1, K * width)
        # on the gradient's device and type: Lightning moves the network after this (to a GPU)
        self.head.weight.register_hook(lambda grad: grad * trains.to(device=grad.device, dtype=grad.dtype))
        self.linear_path_frozen = True

    def reads_backbone(self) -> bool:
        """Whether any forecast depends on the Mamba path: False when the head weighs no hidden
        state (its weights on them all zero, as :meth:`init_linear_path` leaves them)."""
        K, width, s = self.config.head_window, self.config.head_width, self.config.skip_width
        return bool(self.head.weight.view(-1, K, width)[:, :, : width - s].any())

    @contextlib.contextmanager
    def linear_path_only(self) -> Iterator[None]:
        """Within: forecasts made without gradients (and without a carried state) skip the
        Mamba-2 stack, whose outputs the head weighs by zero, and give the same forecasts for a
        fraction of the time (a linear start's validation). A stack that overflowed would have
        made them NaN; these stay the linear path's. Raises ConfigError when the head reads the
        hidden states. Training inside it runs the stack as usual (it needs the gradients)."""
        if self.reads_backbone():
            raise ConfigError("linear_path_only: the head weighs the hidden states, so the forecasts "
                              "depend on the Mamba path; use it only at a linear start (init_linear_path)")
        self._backbone_unread = True
        try:
            yield
        finally:
            self._backbone_unread = False

    # ---- cycle -------------------------------------------------------------------------------
    @torch.no_grad()
    def init_cycle(self, x: Tensor, phase: Tensor) -> None:
        """Set the cycle to the per-phase means of a series: x (T, C), phase (T,) integers in [0, W).

        Phases the series never visits keep 0.
        """
        W = self.config.cycle_length
        if not W:
            raise ConfigError("this network has no cycle (cycle_length is None)")
        phase = phase.long()
        sums = torch.zeros(W, x.shape[1], dtype=torch.float64).index_add_(0, phase, x.double())
        counts = torch.bincount(phase, minlength=W).clamp_min(1).double()
        self.cycle.copy_(sums / counts[:, None])

    # ---- linear start ----------------------------------------------------------------------
    @torch.no_grad()
    def init_linear_path(
        self, windows: Iterable[tuple[Tensor, Tensor, Tensor | None]], ridge: float = 1.0,
        own: float = 0.5,
    ) -> None:
        """Start the head as the ridge map from the skip inputs to the forecast (needs input_skip).

        ``windows`` yields training batches (context (b, L, C), target (b, H, C), marks or None).
        The skip weights and the head bias are set to the least-squares map, penalty ``ridge``
        on the weights (not the bias), from the last K normalised, cycle-free inputs to the target
        in the same frame; the weights on the hidden states are zeroed. The network then starts
        as that linear forecaster, and training adds what the Mamba path finds beside it.
        With ``cross_channel_skip`` the map reads all channels' inputs and is set in
        ``cross_skip``; the per-channel head then starts at zero. With ``channel_skip`` the
        network starts as (1 - ``own``) x the map shared by all channels + ``own`` x each
        channel's own ridge map (same penalty): the shared head holds the first, ``channel_skip``
        the difference.
        """
        cfg = self.config
        if not cfg.input_skip:
            raise ConfigError(
                "init_linear_path sets the input skip's weights; build the network with input_skip=True"
            )
        K, s = cfg.head_window, cfg.skip_width
        target = self.cross_skip if cfg.cross_channel_skip else self.head  # the linear map being set
        n_in = K * (cfg.n_channels if cfg.cross_channel_skip else s) + 1
        if cfg.channel_skip and not 0.0 <= own <= 1.0:
            raise ConfigError(f"own weighs each channel's own ridge map against the shared one and "
                              f"must be in [0, 1], got {own!r}")
        C = cfg.n_channels
        n_sums = C if cfg.channel_skip else 1  # X^T X and X^T Z per channel, summed for the shared map
        gram = torch.zeros(n_sums, n_in, n_in, dtype=torch.float64)  # X^T X
        cross = torch.zeros(n_sums, n_in, target.out_features, dtype=torch.float64)  # X^T Z
        seen = 0
        for batch in windows:
            x, y, marks = batch[0], batch[1], batch[2] if len(batch) > 2 else None
            self._check_input(x)
            self._check_mark_rows(marks, tuple(x.shape[:2]), "marks", "(batch, length, n_marks)")
            _, phase = self._split_marks(marks)
            if phase is not None:
                future = self.phase_of(batch[3]) if len(batch) > 3 else None
                x = x - self._cycle_at(phase)
                y = y - self._future_cycle(phase, future)[:, 0]  # (b, H, C)
            xn, mean, std, _ = self._normalise(x.double(), None)  # (b, l, C)
            z = (y.double() - mean[:, -1:]) / std[:, -1:]  # (b, H, C) target in the head's frame
            series = self._series(xn)[:, -K:]  # (b', min(l, K), s)
            if series.shape[1] < K:  # positions before the start read zeros, as in _head
                series = F.pad(series, (0, 0, K - series.shape[1], 0))
            if cfg.cross_channel_skip:  # one row per series: all channels' K inputs, channel-major
                series = series.reshape(z.shape[0], cfg.n_channels * K)  # (b, C*K)
            if cfg.channel_mode == "independent" and not cfg.cross_channel_skip:
                z = z.permute(0, 2, 1).reshape(-1, cfg.horizon)  # (b*C, H)
            else:
                z = z.reshape(z.shape[0], -1)  # (b, H*C)
            X = torch.cat([series.reshape(series.shape[0], -1), series.new_ones(series.shape[0], 1)], 1)
            if cfg.channel_skip:  # rows b-major: channel c's rows are c, c + C, ...
                X, z = X.view(-1, C, n_in).transpose(0, 1), z.view(-1, C, z.shape[-1]).transpose(0, 1)
            gram += X.transpose(-1, -2) @ X  # (n_sums, n_in, n_in)
            cross += X.transpose(-1, -2) @ z
            seen += X.shape[-2]
        if seen == 0:
            raise ConfigError("init_linear_path got no training windows")
        penalty = torch.diag(torch.full((n_in,), float(ridge), dtype=torch.float64))
        penalty[-1, -1] = 0.0  # no penalty on the bias
        solution = torch.linalg.solve(gram.sum(0) + penalty, cross.sum(0))  # (n_in, out)
        if cfg.channel_skip:  # own x (each channel's map - the shared one), (C, n_in, H)
            apart = own * (torch.linalg.solve(gram + penalty, cross) - solution)
            self.channel_skip.weight.copy_(apart[:, :-1].transpose(1, 2).reshape(-1, 1, K))  # (C*H, 1, K)
            self.channel_skip.bias.copy_(apart[:, -1].reshape(-1))
        if cfg.cross_channel_skip:
            self.cross_skip.weight.copy_(solution[:-1].T)  # (H*C, C*K)
            self.cross_skip.bias.copy_(solution[-1])
            self.head.weight.zero_()
            self.head.bias.zero_()
            return
        weight = self.head.weight.view(-1, K, cfg.head_width)  # (out, K, d + s)
        weight[:, :, : cfg.head_width - s] = 0.0
        weight[:, :, cfg.head_width - s :] = solution[:-1].T.reshape(-1, K, s).to(weight.dtype)
        self.head.bias.copy_(solution[-1])

    def _split_marks(self, marks: Tensor | None) -> tuple[Tensor | None, Tensor | None]:
        """marks (b, l, F[+1]) -> time features (b, l, F) or None, phase (b, l) long or None."""
        cfg = self.config
        if cfg.n_marks and (marks is None or marks.shape[-1] != cfg.n_marks):
            got = "none" if marks is None else f"{marks.shape[-1]} columns"
            raise ConfigError(
                f"this network takes marks with {cfg.n_marks} columns ({cfg.n_time_features} time "
                f"features{' + the cycle phase' if cfg.cycle_length else ''}), got {got}"
            )
        if marks is not None and marks.is_floating_point():
            _check_finite(marks, "(batch row, step, column)", "the marks (time features, cycle phase)")
        if not cfg.cycle_length:
            return marks, None
        features = marks[..., : cfg.n_time_features] if cfg.n_time_features else None
        return features, marks[..., -1].round().long()

    def _check_mark_rows(self, marks: Tensor | None, rows: tuple[int, ...], name: str, axes: str) -> None:
        """ConfigError unless marks the network reads have the shape ``rows`` + (n_marks,): one row
        for each step of each series of the input, whose (b, l) or (b,) is ``rows``; their columns
        are :meth:`_split_marks`' to check. The marks of one series had been broadcast over a batch
        of series (every series read series 0's cycle phases, and in channel-independent mode its
        time features), and marks of another length had failed in torch."""
        if self.config.n_marks and marks is not None and tuple(marks.shape[:-1]) != rows:
            raise ConfigError(f"{name} must be {axes} = {(*rows, self.config.n_marks)}, a row for each step "
                              f"of each series of the input, got {tuple(marks.shape)}")

    def phase_of(self, marks: Tensor) -> Tensor:
        """The cycle phases (b, l) long in marks (b, l, n_marks) (their last column)."""
        phase = self._split_marks(marks)[1]
        if phase is None:
            raise ConfigError("this network has no cycle (cycle_length is not set), so marks hold no phase")
        return phase

    def _cycle_at(self, phase: Tensor) -> Tensor:
        """phase (...) integers -> cycle values (..., C)."""
        return self.cycle[phase % self.config.cycle_length]

    def _future_cycle(self, phase: Tensor, future: Tensor | None, all_positions: bool = False) -> Tensor:
        """Cycle of the H steps after the last input step, or after each (``all_positions``: the
        phases of the input steps after it, then ``future``): (b, 1 or l, H, C). ``phase`` (b, l)
        of the input steps; ``future`` (b, H) of the H steps after them, or None: each the one
        before plus one."""
        H = self.config.horizon
        if future is None:
            future = phase[:, -1:] + torch.arange(1, H + 1, device=phase.device)  # (b, H)
        elif future.shape != (phase.shape[0], H):
            raise ConfigError(f"future_phase must be (batch, horizon) = ({phase.shape[0]}, {H}), "
                              f"got {tuple(future.shape)}")
        future = future.round().long()
        if not all_positions:
            return self._cycle_at(future[:, None])  # (b, 1, H, C)
        track = torch.cat([phase[:, 1:], future], dim=1)  # (b, l - 1 + H) phases after the first step
        return self._cycle_at(track.unfold(1, H, 1))  # (b, l, H, C)

    def _check_future_phase(self, future_phase: Tensor | None) -> None:
        if future_phase is not None and not self.config.cycle_length:
            raise ConfigError("future_phase is the phases of the forecast steps, for a network with a "
                              "cycle; this one has none (cycle_length is not set)")
        if future_phase is not None and future_phase.is_floating_point():
            _check_finite(future_phase, "(batch row, step)", "future_phase")

    # ---- normalisation -------------------------------------------------------------------
    def _normalise(
        self, x: Tensor, state: ForecastState | None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """x (b, l, C) -> normalised x, per-step mean and std (b, l, C), last moving sums."""
        cfg = self.config
        if cfg.norm == "causal":  # the sums in the moments' type (float64), as step keeps them
            wide = torch.promote_types(x.dtype, moments_dtype(x.device))
            sums, last = causal_moments(x.to(wide), cfg.span, None if state is None else state.moments)
            mean, std = (t.to(x.dtype) for t in _moments_to_stats(sums, cfg.norm_eps))  # (b, l, C)
            return (x - mean) / std, mean, std, last
        if cfg.norm == "revin":
            if state is not None:
                raise ConfigError("norm='revin' has no recurrent form; carry state with norm='causal'")
            mean = x.mean(1, keepdim=True)
            std = torch.sqrt(x.var(1, keepdim=True, unbiased=False) + cfg.norm_eps)
            return (x - mean) / std, mean.expand_as(x), std.expand_as(x), None
        ones = torch.ones_like(x)
        return x, torch.zeros_like(x), ones, None

    # ---- tokens in, forecast out ----------------------------------------------------------
    def _series(self, xn: Tensor) -> Tensor:
        """Normalised x (b, l, C) -> the sequences the network runs: (b*C, l, 1) or (b, l, C) (mix)."""
        if self.config.channel_mode == "independent":
            b, l, C = xn.shape
            return xn.transpose(1, 2).reshape(b * C, l, 1)
        return xn

    def _tokens(
        self, xn: Tensor, features: Tensor | None, state: ForecastState | None
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """Normalised x (b, l, C) [+ time features (b, l, F)] -> tokens (b', l, D), the
        normalised inputs in the same layout (b', l, s), s = 1 or C, and the last S - 1 of them
        to carry (b', S-1, s) (None when S = 1); b' = b*C (independent) or b. With S =
        embed_window > 1 each token reads its step's inputs and the S - 1 before (the carried
        ones from ``state``, else zeros): a 1-D convolution with kernel S over the inputs."""
        cfg = self.config
        series = u = self._series(xn)  # (b', l, s)
        S, carried = cfg.embed_window, None
        if S > 1:
            past = None if state is None else state.inputs
            if past is None:
                past = series.new_zeros(series.shape[0], S - 1, series.shape[2])
            u = torch.cat([past.to(series.dtype), series], dim=1)  # (b', S-1+l, s)
            carried = u[:, -(S - 1) :]
            u = u.unfold(1, S, 1).transpose(2, 3)  # (b', l, S, s), oldest step first
            u = u.reshape(series.shape[0], series.shape[1], S * series.shape[2])  # (b', l, S*s)
        if cfg.n_time_features:
            if cfg.channel_mode == "independent":
                b, l, C = xn.shape
                features = features[:, None].expand(b, C, l, features.shape[-1]).reshape(b * C, l, -1)
            u = torch.cat([u, features.to(u.dtype)], dim=-1)  # (b', l, S*s + F)
        return self.embed(u), series, carried  # (b', l, D), (b', l, s), (b', S-1, s)

    def _head(
        self, h: Tensor, series: Tensor, state: ForecastState | None, all_positions: bool
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Final hidden states h (b', l, D) -> head outputs (b', k, H or H*C), k = l or 1.

        The head reads the last K = head_window hidden states of each position, each projected
        to d = head_dim features (when set) and joined by that step's normalised inputs
        ``series`` (b', l, s) when input_skip is on, flattened (zeros before the start of the
        sequence, or the carried ones from ``state``); over all positions that is a 1-D
        convolution with kernel K. Also returns the new carried buffer (b', K-1, d + s) and,
        with cross_channel_skip, the all-channel linear map's outputs (b, k, H*C) (else None).
        """
        K, width = self.config.head_window, self.config.head_width
        h = self.head_proj(h)  # (b', l, d)
        if self.config.input_skip:
            h = torch.cat([h, series.to(h.dtype)], dim=-1)  # (b', l, d + s)
        new_hidden = None
        if K > 1:
            past = state.hidden if state is not None and state.hidden is not None else None
            if past is None:
                past = h.new_zeros(h.shape[0], K - 1, width)
            h = torch.cat([past.to(h.dtype), h], dim=1)  # (b', K-1+l, d + s)
            new_hidden = h[:, -(K - 1) :]
        h = self.dropout(h)
        cross = self._cross_skip(h[..., -1], all_positions) if self.config.cross_channel_skip else None
        if not all_positions:
            out = self.head(h[:, -K:].reshape(h.shape[0], 1, K * width))  # (b', 1, out)
        elif K == 1:
            out = self.head(h)  # (b', l, out)
        else:
            weight = self.head.weight.view(-1, K, width).permute(0, 2, 1)  # (out, d + s, K)
            out = F.conv1d(h.transpose(1, 2), weight, self.head.bias).transpose(1, 2)  # (b', l, out)
        if self.config.channel_skip:
            out = out + self._channel_skip(h[..., -1], all_positions)  # (b', k, H)
        return out, new_hidden, cross

    def _cross_skip(self, u: Tensor, all_positions: bool) -> Tensor:
        """Each channel's inputs u (b*C, K-1+l), the carried K-1 first -> the all-channel linear
        map's outputs (b, k, H*C), k = l or 1 (a 1-D convolution with kernel K over all positions)."""
        C, K = self.config.n_channels, self.config.head_window
        u = u.reshape(-1, C, u.shape[-1])  # (b, C, K-1+l)
        if not all_positions:
            return self.cross_skip(u[:, :, -K:].reshape(u.shape[0], 1, C * K))  # (b, 1, H*C)
        weight = self.cross_skip.weight.view(-1, C, K)  # (H*C, C, K)
        return F.conv1d(u, weight, self.cross_skip.bias).transpose(1, 2)  # (b, l, H*C)

    def _channel_skip(self, u: Tensor, all_positions: bool) -> Tensor:
        """Each channel's inputs u (b*C, K-1+l), the carried K-1 first -> its own linear map's
        outputs (b*C, k, H), k = l or 1 (a grouped 1-D convolution with kernel K, one group a channel)."""
        C, K, H = self.config.n_channels, self.config.head_window, self.config.horizon
        u = u.reshape(-1, C, u.shape[-1])  # (b, C, K-1+l)
        out = self.channel_skip(u if all_positions else u[:, :, -K:])  # (b, C*H, k)
        b, _, k = out.shape
        return out.view(b, C, H, k).permute(0, 1, 3, 2).reshape(b * C, k, H)  # (b*C, k, H)

    def _denormalise(self, out: Tensor, mean: Tensor, std: Tensor, cross: Tensor | None = None) -> Tensor:
        """Head outputs (b', k, ...) [+ cross-channel skip (b, k, H*C)] and stats (b, k, C)
        -> forecasts (b, k, H, C), original scale."""
        cfg = self.config
        b, k, C = mean.shape
        if cfg.channel_mode == "independent":
            out = out.reshape(b, C, k, cfg.horizon).permute(0, 2, 3, 1)  # (b, k, H, C)
        else:
            out = out.reshape(b, k, cfg.horizon, C)  # (b, k, H, C)
        if cross is not None:
            out = out + cross.reshape(b, k, cfg.horizon, C)  # (b, k, H, C)
        return out * std[:, :, None] + mean[:, :, None]

    def _check_input(self, x: Tensor) -> None:
        if x.ndim != 3 or x.shape[-1] != self.config.n_channels or x.shape[1] < 1:
            raise ConfigError(  # a history of no step had failed in the convolution, or in the scan
                f"expected input (batch, length >= 1, {self.config.n_channels} channels), "
                f"got {tuple(x.shape)}"
            )
        self._check_dtype(x)
        _check_finite(x, "(batch row, step, channel)")

    def _check_dtype(self, x: Tensor) -> None:
        """A ConfigError for an input of another floating type than the weights (torch's matmul had
        raised an untyped RuntimeError deep in the stack)."""
        weights = self.head.weight.dtype
        if x.dtype != weights:
            raise ConfigError(f"the network's weights are {weights}, its input {x.dtype}: cast one to the "
                              f"other (x.to({weights}), or network.to({x.dtype}))")

    def forward(
        self,
        x: Tensor,
        marks: Tensor | None = None,
        state: ForecastState | None = None,
        *,
        future_phase: Tensor | None = None,
        all_positions: bool = False,
        return_state: bool = False,
    ) -> Tensor | tuple[Tensor, ForecastState]:
        """Forecast after the history ``x``.

        Args:
            x: (b, l, C) history in the data layer's scale; any l >= 1.
            marks: (b, l, F[+1]) time features of those steps [and their cycle phase, last], when
                the network uses them (``config.n_marks`` columns).
            state: continue from this carried state (the history before ``x``), else a zero state.
            future_phase: (b, H) cycle phases of the H steps after ``x``, where they do not each
                step by one (a DST change in a zone-aware series); None: the last phase + 1..H.
                With ``all_positions`` a position's next H phases are the marks' phases after it,
                then these.
            all_positions: forecast after every position (b, l, H, C) instead of the last (b, H, C).
            return_state: also return the state after the last position.
        """
        self._check_input(x)
        if state is not None:
            self._check_state(state, x.shape[0])
        self._check_future_phase(future_phase)
        self._check_mark_rows(marks, tuple(x.shape[:2]), "marks", "(batch, length, n_marks)")
        features, phase = self._split_marks(marks)
        if phase is not None:
            x = x - self._cycle_at(phase)  # (b, l, C) residual after the cycle
        xn, mean, std, moments = self._normalise(x, state)
        tokens, series, inputs = self._tokens(xn, features, state)
        if self._backbone_unread and state is None and not return_state and not torch.is_grad_enabled():
            # the head's weights on h are zero (linear_path_only): 0 * h is 0 for any finite h
            h = tokens.new_zeros(*tokens.shape[:2], self.config.d_model)  # (b', l, D)
        else:
            h, caches = self.backbone(tokens, None if state is None else state.caches)
        out, hidden, cross = self._head(h, series, state, all_positions)  # (b', k, H or H*C)
        if not all_positions:
            mean, std = mean[:, -1:], std[:, -1:]
        forecast = self._denormalise(out, mean, std, cross)  # (b, k, H, C)
        if phase is not None:
            forecast = forecast + self._future_cycle(phase, future_phase, all_positions)  # (b, k, H, C)
        if not all_positions:
            forecast = forecast[:, 0]
        if not return_state:
            return forecast
        if moments is None:  # only the causal norm carries statistics
            moments = x.new_zeros(x.shape[0], x.shape[2], 3)
        moments = moments.to(moments_dtype(moments.device))
        steps = (0 if state is None else state.steps) + x.shape[1]
        # a state of its own: one viewing the pass's buffers (the last of the (b, l, C, 3) moving
        # sums, the head's last K - 1 of l hidden states) kept them alive in a stream and its saves
        caches = [InferenceCache(compact(c.conv_state), compact(c.ssm_state)) for c in caches]
        hidden, inputs = (None if t is None else compact(t) for t in (hidden, inputs))
        return forecast, ForecastState(caches, compact(moments), steps, hidden, inputs)

    # ---- recurrent interface ---------------------------------------------------------------
    def _check_recurrent(self) -> None:
        if self.config.norm == "revin":
            raise ConfigError(
                "norm='revin' normalises by the whole window and has no recurrent form; "
                "train with norm='causal' (or 'none') for streaming and full-history forecasts"
            )

    def init_state(
        self, batch_size: int, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> ForecastState:
        """The state before any observation (zeros), for ``batch_size`` series."""
        self._check_recurrent()
        shapes = self._state_shapes(nonnegative_int(batch_size, "batch_size"))  # -1 had failed in torch
        dtype = dtype or self.head.weight.dtype
        device = device or self.head.weight.device
        types = {"moments": moments_dtype(device)}  # the rest in the network's type
        zeros = {name: torch.zeros(shape, device=device, dtype=types.get(name, dtype))
                 for name, shape in shapes.items()}
        return ForecastState.from_tensors(zeros, 0)

    def _state_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        """The shape of each tensor of a state of ``batch_size`` series, by its name in
        :meth:`ForecastState.tensors`: moments (b, C, 3); hidden (b', K-1, d + s) when K > 1;
        inputs (b', S-1, s) when S > 1; per block conv_state.i (b', conv_dim, d_conv) and
        ssm_state.i (b', nheads, headdim, d_state); b' = b*C (independent) or b (mix)."""
        cfg = self.config
        rows = batch_size * cfg.series_rows
        shapes = {"moments": (batch_size, cfg.n_channels, 3)}
        if cfg.head_window > 1:
            shapes["hidden"] = (rows, cfg.head_window - 1, cfg.head_width)
        if cfg.embed_window > 1:
            shapes["inputs"] = (rows, cfg.embed_window - 1, cfg.series_width)
        conv, ssm = InferenceCache.shapes(rows, self.backbone.config)
        for i in range(cfg.n_layers):
            shapes[f"conv_state.{i}"], shapes[f"ssm_state.{i}"] = conv, ssm
        return shapes

    def _check_state(self, state: ForecastState, batch_size: int) -> None:
        """ConfigError unless ``state`` is a state of this network for ``batch_size`` series: step
        had broadcast the observation of one series over the state of a batch (a forecast for each,
        no error), a state of another head_window had been read as it came, and other sizes failed
        in torch. A state without the head's or the embedding's buffer reads zeros there, as
        :meth:`_head` and :meth:`_tokens` do."""
        expected = self._state_shapes(batch_size)
        got = {name: tuple(t.shape) for name, t in state.tensors().items()}
        for name in ("hidden", "inputs"):
            if name not in got and name in expected:
                got[name] = expected[name]
        if got == expected:
            return
        name = next(n for n in [*expected, *got] if got.get(n) != expected.get(n))
        raise ConfigError(
            f"the state (of {state.moments.shape[0]} series) is not one of this network for the input's "
            f"{batch_size} series: its {name} is {got.get(name, 'missing')} where "
            f"{expected.get(name, 'none')} was expected; continue each series from the state returned "
            "for it (ForecastState.select takes some of a batch's)"
        )

    def step(
        self, x_t: Tensor, state: ForecastState, marks_t: Tensor | None = None,
        future_phase: Tensor | None = None,
    ) -> tuple[Tensor, ForecastState]:
        """One observation per series: x_t (b, C) [+ marks_t (b, n_marks)] -> forecast (b, H, C), new state.

        O(1) in the length of the history; the input state is not modified. ``future_phase``
        (b, H): the cycle phases of the forecast steps, as in :meth:`forward`.
        """
        self._check_recurrent()
        cfg = self.config
        if x_t.ndim != 2 or x_t.shape[1] != cfg.n_channels:
            raise ConfigError(f"step takes x_t of shape (batch, {cfg.n_channels}), got {tuple(x_t.shape)}")
        self._check_dtype(x_t)
        _check_finite(x_t, "(batch row, channel)")
        self._check_state(state, x_t.shape[0])
        self._check_future_phase(future_phase)
        state = state.to(x_t.dtype)  # as forward casts it (a float64 cache raised in a matmul)
        self._check_mark_rows(marks_t, (x_t.shape[0],), "marks_t", "(batch, n_marks)")
        features, phase = self._split_marks(None if marks_t is None else marks_t[:, None])
        if phase is not None:
            x_t = x_t - self._cycle_at(phase[:, 0])  # (b, C)
        if cfg.norm == "causal":
            moments = _step_moments(x_t, state.moments, cfg.span)  # (b, C, 3), float64
            mean, std = (t.to(x_t.dtype) for t in _moments_to_stats(moments, cfg.norm_eps))  # (b, C)
        else:
            moments = state.moments
            mean, std = torch.zeros_like(x_t), torch.ones_like(x_t)
        xn = ((x_t - mean) / std)[:, None]  # (b, 1, C)
        u, series, inputs = self._tokens(xn, features, state)  # (b', 1, D), (b', 1, s), (b', S-1, s)
        h, caches = self.backbone.step(u, state.caches)  # (b', 1, D)
        out, hidden, cross = self._head(h, series, state, all_positions=False)  # (b', 1, out)
        forecast = self._denormalise(out, mean[:, None], std[:, None], cross)[:, 0]  # (b, H, C)
        if phase is not None:
            forecast = forecast + self._future_cycle(phase, future_phase)[:, 0]  # (b, H, C)
        return forecast, ForecastState(caches, moments, state.steps + 1, hidden, inputs)

    # ---- forecasting a series (no gradients) -----------------------------------------------
    def windows_per_pass(self, length: int, batch_size: int | None = None) -> int:
        """Windows of ``length`` steps per forward pass: ``batch_size`` when given, else the
        fastest measured on a CPU (see FORECAST_FAST_ELEMENTS; ACCELERATOR_BATCH on another
        device), at least one and at most what keeps a pass within FORECAST_ELEMENTS."""
        if batch_size is not None:
            hint = "pass None to let the forecaster choose"
            return positive_int(batch_size, "batch_size (windows per forward pass)", hint=hint)
        cfg, length = self.config, max(length, 1)
        cap = FORECAST_ELEMENTS // self._pass_elements(length)
        if self.head.weight.device.type != "cpu":
            return max(1, min(ACCELERATOR_BATCH, cap))
        fast = FORECAST_FAST_ELEMENTS // (cfg.series_rows * length * cfg.d_model)
        spread = -(-count_parameters(self) // (WEIGHTS_PER_ROW * cfg.series_rows))  # ceil
        return max(1, min(cap, max(fast, spread)))

    def _pass_elements(self, steps: int) -> int:
        """Elements one forecast from ``steps`` rows of one series holds in a no-grad pass, the
        larger of its activations (series rows x steps x d_model: C series rows when channels run
        independently, 1 when mixed) and its H x C forecast. A window is its length in steps; in
        a full-history pass every row is forecast, so a row is 1 step."""
        cfg = self.config
        return max(cfg.series_rows * steps * cfg.d_model, cfg.horizon * cfg.n_channels)

    @torch.no_grad()
    def forecast_windows(
        self, windows: Tensor, marks: Tensor | None = None, future_phase: Tensor | None = None, *,
        batch_size: int | None = None, take: Tensor | None = None,
    ) -> Iterator[tuple[int, Tensor]]:
        """Windows (N, l, C) [marks (N, l, n_marks), future_phase (N, H)] -> pieces (first, (b, H, C)):
        the forecasts after windows ``first .. first + b - 1``, ``batch_size`` windows per forward
        pass (None: :meth:`windows_per_pass`). ``take`` (n,): forecast only ``windows[take]``,
        gathered a pass at a time (``windows`` may be an unfolded view of one series), and
        ``future_phase`` is then (n, H), one row per taken window."""
        b = self.windows_per_pass(windows.shape[1], batch_size)
        for i in range(0, len(windows) if take is None else len(take), b):
            rows = slice(i, i + b) if take is None else take[i : i + b]
            ahead = None if future_phase is None else future_phase[i : i + b]
            yield i, self(windows[rows], None if marks is None else marks[rows], future_phase=ahead)

    @torch.no_grad()
    def forecast_at(
        self, x: Tensor, origins: Tensor, marks: Tensor | None = None, phases: Tensor | None = None, *,
        full_history: bool = False, batch_size: int | None = None,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Forecasts after rows ``origins`` (n,) of one series x (T, C), a piece at a time:
        pieces (positions (b,) in ``origins``, forecasts (b, H, C)).

        Window forecasts (``full_history=False``) read the ``context_length`` rows up to each
        origin (every origin >= context_length - 1), ``batch_size`` windows per pass (see
        :meth:`forecast_windows`). Full-history forecasts read every row up to each origin: one
        recurrent pass, run in segments with the state carried (what one pass gives, as ``forward``
        continues a state), so memory holds one segment's activations and forecasts, not
        T x H x C; a segment holding no origin only advances the state.
        ``marks`` (T, n_marks); ``phases`` (T + H,): the cycle phases of the rows and of the H
        steps after them, where they do not step by one (a DST change); None: the marks' phases,
        then by one after the last row (a full-history forecast had read the marks' later phases
        inside a segment but counted by one at its end, so it hung on where the segments fell).
        """
        if full_history:
            self._check_recurrent()
        H, L_ = self.config.horizon, self.config.context_length
        if phases is None and marks is not None and self.config.cycle_length:
            own = self.phase_of(marks[None])[0]  # (T,) long
            phases = torch.cat([own, own[-1] + torch.arange(1, H + 1, device=own.device)])  # (T + H,)
        first = 0 if full_history else L_ - 1
        if len(origins) and (origins.min() < first or origins.max() >= len(x)):
            raise DataValidationError(  # a negative window start had read the series' end
                f"origins must be rows in [{first}, {len(x)}) of x ({len(x)} rows"
                + ("" if full_history else f"; a window forecast reads the {L_} rows up to its origin")
                + f"), got {int(origins.min())}..{int(origins.max())}"
            )
        if not full_history:
            windows = x.unfold(0, L_, 1).transpose(1, 2)  # (T-L+1, L, C) view
            mwin = None if marks is None else marks.unfold(0, L_, 1).transpose(1, 2)
            ahead = None if phases is None else phases.unfold(0, H, 1)[origins + 1]  # (n, H)
            starts = origins - (L_ - 1)  # (n,) the first row of each origin's window
            for i, piece in self.forecast_windows(windows, mwin, ahead, batch_size=batch_size, take=starts):
                yield torch.arange(i, i + len(piece)), piece
            return
        # each row adds its activations and its H x C forecasts (every position is forecast)
        segment = max(1, min(FULL_SEGMENT, FORECAST_ELEMENTS // self._pass_elements(1)))
        state = None
        for start in range(0, int(origins.max()) + 1 if len(origins) else 0, segment):
            end = start + segment
            inside = torch.nonzero((origins >= start) & (origins < end))[:, 0]  # (b,) positions
            last = min(end, len(x))  # the phases of the H steps after the segment
            ahead = None if phases is None else phases[None, last : last + H]
            every, state = self(x[None, start:end], None if marks is None else marks[None, start:end],
                                state=state, future_phase=ahead, all_positions=bool(len(inside)),
                                return_state=True)  # (1, l, H, C)
            if len(inside):
                yield inside, every[0, origins[inside] - start]

    def param_groups(self, weight_decay: float, channel_skip_lr: float | None = None) -> list[dict]:
        """AdamW groups: no weight decay on norms, biases, dt_bias, A_log, D and the cycle.

        With ``channel_skip``, its weight (decayed) and bias (not) come last, in two groups named
        ``"channel_skip"`` with learning rate ``channel_skip_lr`` (None: the optimizer's). Parameters
        that do not require gradients are left out; with the linear path frozen
        (:meth:`freeze_linear_path`) the head's weight is not decayed either.
        """
        decay, no_decay, own = [], [], []
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            if name.startswith("channel_skip."):
                own.append({"params": [p], "weight_decay": weight_decay if name.endswith(".weight") else 0.0,
                            "name": "channel_skip"})
            elif (p.ndim < 2 or name.rsplit(".", 1)[-1] in _NO_WEIGHT_DECAY or name.endswith(".bias")
                  or (self.linear_path_frozen and name == "head.weight")):
                no_decay.append(p)
            else:
                decay.append(p)
        if channel_skip_lr is not None:
            for group in own:
                group["lr"] = channel_skip_lr
        return [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
            *own,
        ]


def _check_finite(x: Tensor, axes: str, what: str = "the network's input") -> None:
    """DataValidationError naming the first non-finite value of ``x``: the recurrence carries a
    NaN into every later step, and the chunked scan into the earlier ones of its chunk too (a
    masked 0 times NaN is NaN), so forecasts before it would have been NaN as well. Marks too: a
    NaN time feature made every forecast NaN, and a NaN phase read the cycle at a wrong phase."""
    if bool(torch.isfinite(x).all()):
        return
    where = tuple(int(i) for i in (~torch.isfinite(x)).nonzero()[0])
    raise DataValidationError(
        f"{what} holds {x[where].item()} at {axes} {where}; give finite values "
        "(tsmamba.data.read_series names them in data, and fills or replaces them on request)"
    )


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
