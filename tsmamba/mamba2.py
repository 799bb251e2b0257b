"""The Mamba-2 block (Dao & Gu, ICML 2024), its inference cache, and a residual stack of blocks.

One block: input projection to (z, x, B, C, dt) -> causal depthwise conv1d + SiLU on (x, B, C)
-> SSD scan (:mod:`tsmamba.ssd`) -> skip ``D * x`` -> gated RMSNorm with z -> output projection.

The cache summarises everything a block has seen: the last ``d_conv`` conv inputs and the SSM
state. ``forward(u, cache)`` continues the sequence the cache summarises, exactly, and
``step(u_t, cache)`` advances it by one position in O(1). Caches are never modified in place:
every call returns a new one, so a caller can keep or drop an old state at will.
"""

from __future__ import annotations

import functools
import math
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from tsmamba.errors import ConfigError, check_bool, plain_fields
from tsmamba.ssd import ssd_chunked, ssd_step

__all__ = ["InferenceCache", "Mamba2", "Mamba2Config", "Mamba2Stack", "RMSNorm", "ResidualBlock"]


@dataclass
class Mamba2Config:
    d_model: int  # D: width of the residual stream
    n_layers: int = 2  # number of residual Mamba-2 blocks in a stack
    d_state: int = 64  # N: state size per head
    d_conv: int = 4  # W: width of the causal depthwise convolution
    expand: int = 2  # E: d_inner = E * D
    headdim: int = 32  # P: channels per head
    ngroups: int = 1  # G: groups sharing B and C
    chunk_size: int = 64  # T: SSD chunk length (does not change the output)
    dt_min: float = 0.001  # range of the initial step sizes (log-uniform)
    dt_max: float = 0.1
    dt_init_floor: float = 1e-4
    A_init_range: tuple[float, float] = (1.0, 16.0)  # A = -U[lo, hi]
    bias: bool = False  # biases of the in/out projections
    conv_bias: bool = True
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        plain_fields(self)
        for name in ("d_model", "n_layers", "d_state", "d_conv", "expand", "headdim", "ngroups",
                     "chunk_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"Mamba2Config.{name} must be a positive integer, got {value!r}")
        if self.d_inner % self.headdim:
            raise ConfigError(
                f"d_inner = expand * d_model = {self.d_inner} is not a multiple of headdim "
                f"({self.headdim}); pick headdim dividing {self.d_inner} (e.g. "
                f"{math.gcd(self.d_inner, self.headdim)}) or change d_model/expand"
            )
        if self.nheads % self.ngroups:
            raise ConfigError(
                f"nheads = d_inner / headdim = {self.nheads} is not a multiple of ngroups "
                f"({self.ngroups}); use ngroups dividing {self.nheads}"
            )
        def finite(*values: object) -> bool:
            return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                       for v in values)

        if not (finite(self.dt_min, self.dt_max) and 0 < self.dt_min <= self.dt_max <= 1e38):
            raise ConfigError(f"need finite 0 < dt_min <= dt_max <= 1e38 (the initial dt_bias is float32), "
                              f"got {self.dt_min}, {self.dt_max}")
        try:
            lo, hi = self.A_init_range
        except (TypeError, ValueError):  # None, three values: had failed unpacking at build
            lo = hi = None
        if not (finite(lo, hi) and 0 < lo <= hi):
            raise ConfigError(f"A_init_range must be (lo, hi) with finite 0 < lo <= hi, "
                              f"got {self.A_init_range!r}")
        check_bool(self.bias, "Mamba2Config.bias")  # the text "no" had switched biases on
        check_bool(self.conv_bias, "Mamba2Config.conv_bias")
        for name in ("dt_init_floor", "norm_eps"):
            value = getattr(self, name)
            if not (finite(value) and value > 0):
                raise ConfigError(f"Mamba2Config.{name} must be a finite number > 0, got {value!r}")

    @property
    def d_inner(self) -> int:  # E*D
        return self.expand * self.d_model

    @property
    def nheads(self) -> int:  # H = E*D / P
        return self.d_inner // self.headdim

    @property
    def conv_dim(self) -> int:  # channels through the conv: x, B and C
        return self.d_inner + 2 * self.ngroups * self.d_state

    @property
    def d_in_proj(self) -> int:  # the input projection's outputs: z, xBC, dt
        return 2 * self.d_inner + 2 * self.ngroups * self.d_state + self.nheads


@dataclass
class InferenceCache:
    """What one block remembers of the past: conv inputs and SSM state."""

    conv_state: Tensor  # (batch, d_inner + 2 * ngroups * d_state, d_conv): the last d_conv conv inputs
    ssm_state: Tensor  # (batch, nheads, headdim, d_state)

    @staticmethod
    def shapes(batch_size: int, config: Mamba2Config) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The shapes of a cache of ``batch_size`` rows: conv_state's and ssm_state's."""
        return ((batch_size, config.conv_dim, config.d_conv),
                (batch_size, config.nheads, config.headdim, config.d_state))

    @staticmethod
    def alloc(
        batch_size: int,
        config: Mamba2Config,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> InferenceCache:
        """The empty cache: the state before any input (zeros)."""
        dtype = dtype or torch.get_default_dtype()
        conv, ssm = InferenceCache.shapes(batch_size, config)
        return InferenceCache(torch.zeros(conv, device=device, dtype=dtype),
                              torch.zeros(ssm, device=device, dtype=dtype))


class RMSNorm(nn.Module):
    """Root-mean-square norm; with ``z``, the gated form ``rmsnorm(x * silu(z))``."""

    def __init__(self, d: int, eps: float = 1e-5, device: torch.device | str | None = None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d, device=device))

    def forward(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        """x (..., d), z (..., d) or None -> (..., d)."""
        if z is not None:
            x = x * F.silu(z)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


# the parameters AdamW leaves undecayed, by name (an attribute on the Parameter is lost when a
# network is deep-copied), read by MambaForecaster.param_groups (tsmamba.model)
NO_WEIGHT_DECAY = frozenset({"dt_bias", "A_log", "D"})


class Mamba2(nn.Module):
    """One Mamba-2 mixer. ``forward(u, cache=None) -> (y, cache)``; ``step(u_t, cache)``."""

    def __init__(self, config: Mamba2Config, device: torch.device | str | None = None):
        super().__init__()
        cfg = self.config = config
        factory = {"device": device}
        d_in_proj = cfg.d_in_proj  # z, xBC, dt
        self.in_proj = nn.Linear(cfg.d_model, d_in_proj, bias=cfg.bias, **factory)
        self.conv1d = nn.Conv1d(cfg.conv_dim, cfg.conv_dim, cfg.d_conv, groups=cfg.conv_dim,
                                bias=cfg.conv_bias, **factory)

        # dt ~ log-uniform[dt_min, dt_max], stored through the inverse of softplus.
        dt = torch.exp(torch.rand(cfg.nheads, **factory)
                       * (math.log(cfg.dt_max) - math.log(cfg.dt_min)) + math.log(cfg.dt_min))
        dt = dt.clamp(min=cfg.dt_init_floor)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        # A = -exp(A_log), A_log = log U[lo, hi]; float32 or wider (a float64 default gives float64),
        # kept so under any autocast.
        wide = torch.promote_types(torch.get_default_dtype(), torch.float32)
        A = torch.empty(cfg.nheads, dtype=wide, **factory).uniform_(*cfg.A_init_range)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(cfg.nheads, **factory))
        self.norm = RMSNorm(cfg.d_inner, eps=cfg.norm_eps, **factory)
        self.out_proj = nn.Linear(cfg.d_inner, cfg.d_model, bias=cfg.bias, **factory)

    def _A(self) -> Tensor:
        """A = -exp(A_log), (H,), never below float32 precision (float64 stays float64)."""
        A_log = self.A_log if self.A_log.dtype.itemsize >= 4 else self.A_log.float()
        return -torch.exp(A_log)

    def _split(self, zxbcdt: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        cfg = self.config
        return torch.split(zxbcdt, [cfg.d_inner, cfg.conv_dim, cfg.nheads], dim=-1)

    def forward(self, u: Tensor, cache: InferenceCache | None = None) -> tuple[Tensor, InferenceCache]:
        """u: (b, l, D) -> y: (b, l, D) and the cache after the last position.

        With ``cache``, the block continues the sequence the cache summarises.
        """
        cfg = self.config
        b = u.shape[0]
        z, xBC, dt = self._split(self.in_proj(u))  # (b, l, E*D), (b, l, conv_dim), (b, l, H)

        # Causal depthwise conv over the previous d_conv - 1 inputs (zeros for a fresh sequence),
        # run channels-last: time-major in and out, as in_proj gives and the scan takes. As conv1d
        # on the time-innermost transpose, its backward and SiLU's ran on strided copies: conv and
        # SiLU forward + backward took 74 ms of a 297 ms block at 224 series x 96 steps on one CPU
        # thread, now 33 ms (bench_block.py; the same maths, the sums round in another order).
        if cache is None:
            history = xBC.new_zeros(b, cfg.d_conv, cfg.conv_dim)
        else:
            history = cache.conv_state.to(xBC.dtype).transpose(1, 2)  # (b, W, conv_dim)
        conv_in = torch.cat([history[:, 1:], xBC], dim=1)  # (b, W - 1 + l, conv_dim)
        conv_state = conv_in[:, -cfg.d_conv:].transpose(1, 2)  # (b, conv_dim, W): l >= 1 new inputs
        xBC = F.conv2d(conv_in.transpose(1, 2)[:, :, None],  # (b, conv_dim, 1, W - 1 + l), NHWC strides
                       self.conv1d.weight[:, :, None], self.conv1d.bias, groups=cfg.conv_dim)
        xBC = F.silu(xBC[:, :, 0].transpose(1, 2))  # (b, l, conv_dim), time-major
        x, B, C = torch.split(xBC, [cfg.d_inner, cfg.ngroups * cfg.d_state,
                                    cfg.ngroups * cfg.d_state], dim=-1)
        x = rearrange(x, "b l (h p) -> b l h p", p=cfg.headdim)  # (b, l, H, P)
        B = rearrange(B, "b l (g n) -> b l g n", g=cfg.ngroups)  # (b, l, G, N)
        C = rearrange(C, "b l (g n) -> b l g n", g=cfg.ngroups)  # (b, l, G, N)

        A = self._A()  # (H,)
        dt = F.softplus(dt + self.dt_bias)  # (b, l, H)
        y, ssm_state = ssd_chunked(
            x * dt[..., None],
            A * dt,  # float32 or wider under any autocast: the scan sums these log decays
            B,
            C,
            cfg.chunk_size,
            initial_states=None if cache is None else cache.ssm_state.to(x.dtype),
        )  # (b, l, H, P), (b, H, P, N)
        y = y + x * self.D[:, None]  # (b, l, H, P)
        y = self.norm(rearrange(y, "b l h p -> b l (h p)"), z)  # (b, l, E*D)
        return self.out_proj(y), InferenceCache(conv_state.contiguous(), ssm_state)

    def step(self, u_t: Tensor, cache: InferenceCache) -> tuple[Tensor, InferenceCache]:
        """One position: u_t (b, 1, D) -> y_t (b, 1, D) and the advanced cache (O(1))."""
        cfg = self.config
        if u_t.ndim != 3 or u_t.shape[1] != 1:
            raise ConfigError(f"step takes u_t of shape (batch, 1, d_model), got {tuple(u_t.shape)}")
        z, xBC, dt = self._split(self.in_proj(u_t.squeeze(1)))  # (b, E*D), (b, conv_dim), (b, H)

        history = cache.conv_state[:, :, 1:].to(xBC.dtype)  # as forward casts it
        conv_state = torch.cat([history, xBC[:, :, None]], dim=-1)  # (b, conv_dim, W)
        xBC = (conv_state * self.conv1d.weight.squeeze(1)).sum(-1)  # (b, conv_dim)
        if self.conv1d.bias is not None:
            xBC = xBC + self.conv1d.bias
        xBC = F.silu(xBC)
        x, B, C = torch.split(xBC, [cfg.d_inner, cfg.ngroups * cfg.d_state,
                                    cfg.ngroups * cfg.d_state], dim=-1)
        x = x.view(-1, cfg.nheads, cfg.headdim)  # (b, H, P)
        B = B.view(-1, cfg.ngroups, cfg.d_state)  # (b, G, N)
        C = C.view(-1, cfg.ngroups, cfg.d_state)  # (b, G, N)

        A = self._A()  # (H,)
        dt = F.softplus(dt + self.dt_bias)  # (b, H)
        xdt, dA = x * dt[..., None], A * dt  # (b, H, P); (b, H): float32 or wider, as forward's
        # The update in float32 or wider with autocast off, as ssd_chunked runs forward's scan: in a
        # bf16 x's dtype every decay exp(dA) above 1 - 2**-9 had rounded to 1 (a state that never
        # decays) and the others to steps of 2**-8. y and the state handed on are back in x * dt's
        # dtype, as forward returns them (a bf16 state still rounds between steps). float32 and
        # float64: no casts, the same numbers.
        # (Entering torch.autocast costs ~10 us on CPU, 2% of a step: only when one is on.)
        wide = functools.reduce(torch.promote_types, (xdt.dtype, dA.dtype, B.dtype), torch.float32)
        device = u_t.device.type
        with torch.autocast(device, enabled=False) if torch.is_autocast_enabled(device) else nullcontext():
            y, ssm_state = ssd_step(xdt.to(wide), dA.to(wide), B.to(wide), C.to(wide),
                                    cache.ssm_state.to(x.dtype).to(wide))  # (b, H, P), (b, H, P, N)
        y, ssm_state = y.to(xdt.dtype), ssm_state.to(xdt.dtype)
        y = y + x * self.D[:, None]  # (b, H, P)
        y = self.norm(y.reshape(-1, cfg.d_inner), z)  # (b, E*D)
        return self.out_proj(y)[:, None], InferenceCache(conv_state, ssm_state)


class ResidualBlock(nn.Module):
    """Pre-norm residual block: ``u + Mamba2(RMSNorm(u))``."""

    def __init__(self, config: Mamba2Config, device: torch.device | str | None = None):
        super().__init__()
        self.norm = RMSNorm(config.d_model, eps=config.norm_eps, device=device)
        self.mixer = Mamba2(config, device=device)

    def forward(self, u: Tensor, cache: InferenceCache | None = None) -> tuple[Tensor, InferenceCache]:
        """u (b, l, D) -> (b, l, D) and the cache after the last position."""
        y, cache = self.mixer(self.norm(u), cache)
        return u + y, cache

    def step(self, u_t: Tensor, cache: InferenceCache) -> tuple[Tensor, InferenceCache]:
        """u_t (b, 1, D) -> (b, 1, D) and the advanced cache."""
        y, cache = self.mixer.step(self.norm(u_t), cache)
        return u_t + y, cache


class Mamba2Stack(nn.Module):
    """``config.n_layers`` residual blocks and a final RMSNorm; one cache per block."""

    def __init__(self, config: Mamba2Config, device: torch.device | str | None = None):
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList(ResidualBlock(config, device=device)
                                    for _ in range(config.n_layers))
        self.norm_f = RMSNorm(config.d_model, eps=config.norm_eps, device=device)

    def alloc_caches(
        self, batch_size: int, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> list[InferenceCache]:
        """Empty caches, on the stack's device and in its dtype unless given."""
        weight = self.norm_f.weight
        device, dtype = device or weight.device, dtype or weight.dtype
        return [InferenceCache.alloc(batch_size, self.config, device, dtype)
                for _ in range(self.config.n_layers)]

    def forward(
        self, u: Tensor, caches: list[InferenceCache] | None = None
    ) -> tuple[Tensor, list[InferenceCache]]:
        """u: (b, l, D) -> (b, l, D) normalised outputs and the caches after the last position."""
        new_caches = []
        for i, layer in enumerate(self.layers):
            u, cache = layer(u, None if caches is None else caches[i])
            new_caches.append(cache)
        return self.norm_f(u), new_caches

    def step(
        self, u_t: Tensor, caches: list[InferenceCache]
    ) -> tuple[Tensor, list[InferenceCache]]:
        """u_t: (b, 1, D) -> (b, 1, D) and the advanced caches."""
        new_caches = []
        for layer, cache in zip(self.layers, caches, strict=True):
            u_t, cache = layer.step(u_t, cache)
            new_caches.append(cache)
        return self.norm_f(u_t), new_caches
