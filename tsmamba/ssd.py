"""The SSD (state-space duality) algorithm of Mamba-2, as pure functions.

The selective state-space recurrence, per batch element and head, with a scalar decay per step::

    h_t = exp(A_t) * h_{t-1} + x_t B_t^T        h: (headdim, d_state)
    y_t = h_t C_t                                y: (headdim,)

``ssd_chunked`` computes it in chunks of ``T`` steps (Dao & Gu, "Transformers are SSMs", ICML 2024,
Sec. 6): a quadratic, attention-like form inside each chunk and the recurrence between chunks.
Every term of the chunked form is a term of the unrolled recurrence, so it is exact (up to float
rounding), not an approximation. ``ssd_recurrent`` is its step-by-step reference twin.

Symbols:  b batch, l seqlen, h nheads, p headdim, g ngroups, n d_state, c chunks, T chunk length.
Head ``h`` reads group ``h // (nheads // ngroups)`` of B and C.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from tsmamba.errors import ConfigError, positive_int

__all__ = ["segsum", "ssd_chunked", "ssd_chunked_ref", "ssd_recurrent", "ssd_step"]

_MIN_LOG_DECAY = -1000.0  # exp(-1000) == 0 in every float type: a reset, without -inf - -inf = NaN
_FACTOR_RANGE = 0.7  # the chunked form's decay factors stay within exp(+-0.7 log(float max))


def _check_inputs(x: Tensor, A: Tensor, B: Tensor, C: Tensor, initial_states: Tensor | None) -> None:
    if x.ndim != 4:
        raise ConfigError(f"x must be (batch, seqlen, nheads, headdim), got shape {tuple(x.shape)}")
    b, l, h, p = x.shape
    if A.shape != (b, l, h):
        raise ConfigError(f"A must be (batch, seqlen, nheads) = {(b, l, h)}, got {tuple(A.shape)}")
    if B.ndim != 4 or B.shape[:2] != (b, l) or B.shape != C.shape:
        raise ConfigError(
            "B and C must both be (batch, seqlen, ngroups, d_state) with the batch and seqlen of x; "
            f"got B {tuple(B.shape)}, C {tuple(C.shape)}, x {tuple(x.shape)}"
        )
    g, n = B.shape[2], B.shape[3]
    if h % g != 0:
        raise ConfigError(f"nheads ({h}) must be a multiple of ngroups ({g})")
    if initial_states is not None and initial_states.shape != (b, h, p, n):
        raise ConfigError(
            f"initial_states must be (batch, nheads, headdim, d_state) = {(b, h, p, n)}, "
            f"got {tuple(initial_states.shape)}"
        )
    if l < 1:
        raise ConfigError("seqlen must be >= 1")


def segsum(a: Tensor) -> Tensor:
    """Stable segment sums: ``out[..., i, j] = a[..., j+1] + ... + a[..., i]`` for ``i >= j``, else -inf.

    Built from a masked cumulative sum (no subtraction of large cumulative sums, so no cancellation).
    a: (..., T) -> (..., T, T). Materialises T x T x ... only once; use it for short axes.
    """
    T = a.size(-1)
    rep = a[..., None, :].expand(*a.shape, T).transpose(-1, -2)  # (..., T, T): rep[i, j] = a[i]
    strict = torch.tril(torch.ones(T, T, dtype=torch.bool, device=a.device), diagonal=-1)
    rep = rep.masked_fill(~strict, 0.0)  # keep a[i] for j < i
    out = torch.cumsum(rep, dim=-2)  # (..., T, T): sum_{k=j+1..i} a[k]
    keep = torch.tril(torch.ones(T, T, dtype=torch.bool, device=a.device))
    return out.masked_fill(~keep, -math.inf)


def ssd_chunked_ref(
    x: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    chunk_size: int,
    initial_states: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Chunked SSD scan, written for clarity and differentiated by autograd.

    The reference twin of :func:`ssd_chunked` (same arguments and returns), which computes the same
    four steps with a hand-written backward pass and fewer intermediate tensors.

    Args:
        x: (b, l, h, p) inputs (already multiplied by dt).
        A: (b, l, h) per-step log decay (dt * A, <= 0).
        B, C: (b, l, g, n) input and output projections of the state.
        chunk_size: largest chunk length; any l >= 1 works (chunks are balanced, the last padded).
        initial_states: (b, h, p, n) state before the first step, or None for zeros.

    Returns:
        y: (b, l, h, p) and the final state (b, h, p, n) after position l - 1.
    """
    _check_inputs(x, A, B, C, initial_states)
    b, l, h, p = x.shape
    g, n = B.shape[2], B.shape[3]
    hg = h // g  # heads per group
    A = A.clamp_min(_MIN_LOG_DECAY)  # a reset (-inf) decays to exactly 0, as in the recurrence

    # Balanced chunks: c chunks of T <= chunk_size steps; the output does not depend on T.
    c, T, pad = _chunk_geometry(l, chunk_size)
    if pad:  # zero input and zero log-decay: padded steps leave the state untouched
        x = F.pad(x, (0, 0, 0, 0, 0, pad))
        A = F.pad(A, (0, 0, 0, pad))
        B = F.pad(B, (0, 0, 0, 0, 0, pad))
        C = F.pad(C, (0, 0, 0, 0, 0, pad))

    xh = x.view(b, c, T, g, hg, p).permute(0, 1, 3, 4, 2, 5)  # (b, c, g, hg, T, p)
    Bc = B.view(b, c, T, g, n).transpose(2, 3)  # (b, c, g, T, n)
    Cc = C.view(b, c, T, g, n).transpose(2, 3)  # (b, c, g, T, n)
    A_cs = torch.cumsum(A.view(b, c, T, g, hg).permute(0, 1, 3, 4, 2), dim=-1)  # (b, c, g, hg, T)

    # 1. Intra-chunk (diagonal blocks): y_i = sum_{j<=i} (C_i . B_j) exp(A_cs_i - A_cs_j) x_j.
    #    The decay matrix comes from a cumulative-sum difference, masked before exp.
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device))
    decay_in = torch.exp(
        (A_cs[..., :, None] - A_cs[..., None, :]).masked_fill(~causal, -math.inf)
    )  # (b, c, g, hg, T, T)
    scores = Cc @ Bc.transpose(-1, -2)  # (b, c, g, T, T), shared by the heads of a group
    y = (scores[:, :, :, None] * decay_in) @ xh  # (b, c, g, hg, T, p)

    # 2. Per-chunk states: the state each chunk produces from a zero start.
    decay_to_end = torch.exp(A_cs[..., -1:] - A_cs)  # (b, c, g, hg, T)
    xw = (xh * decay_to_end[..., None]).transpose(-1, -2)  # (b, c, g, hg, p, T)
    states = xw.reshape(b, c, g, hg * p, T) @ Bc  # (b, c, g, hg*p, n)
    states = states.view(b, c, h, p * n)  # (b, c, h, p*n)

    # 3. Inter-chunk recurrence: the state entering every chunk (and the final state), via the
    #    (c+1) x (c+1) decay matrix between chunk boundaries.
    if initial_states is None:
        init = x.new_zeros(b, 1, h, p * n)
    else:
        init = initial_states.to(x.dtype).reshape(b, 1, h, p * n)
    states = torch.cat([init, states], dim=1).transpose(1, 2)  # (b, h, c+1, p*n)
    chunk_decay = A_cs[..., -1].reshape(b, c, h).transpose(1, 2)  # (b, h, c)
    decay_chunks = torch.exp(segsum(F.pad(chunk_decay, (1, 0))))  # (b, h, c+1, c+1)
    states = decay_chunks @ states  # (b, h, c+1, p*n)
    final_state = states[:, :, -1].reshape(b, h, p, n)  # (b, h, p, n)
    prev = states[:, :, :-1].reshape(b, g, hg, c, p, n).permute(0, 3, 1, 5, 2, 4)  # (b, c, g, n, hg, p)

    # 4. State to output: y_i += exp(A_cs_i) C_i . h_prev.
    y_off = Cc @ prev.reshape(b, c, g, n, hg * p)  # (b, c, g, T, hg*p)
    y_off = y_off.view(b, c, g, T, hg, p).transpose(3, 4)  # (b, c, g, hg, T, p)
    y = y + y_off * torch.exp(A_cs)[..., None]  # (b, c, g, hg, T, p)

    y = y.permute(0, 1, 4, 2, 3, 5).reshape(b, c * T, h, p)  # (b, l+pad, h, p)
    return y[:, :l], final_state


def _chunk_geometry(seqlen: int, chunk_size: int) -> tuple[int, int, int]:
    """Balanced chunks: (c chunks, chunk length T <= chunk_size, padding c*T - seqlen < c).
    A chunk_size of 2.5 or 4.0 had failed in torch's pad or reshape (TypeError), True been 1."""
    chunk_size = positive_int(chunk_size, "chunk_size")
    c = -(-seqlen // chunk_size)
    T = -(-seqlen // c)
    return c, T, c * T - seqlen


def _pad_time(t: Tensor, pad: int) -> Tensor:
    """Zero-pad dim 1 (time) at the end."""
    return F.pad(t, (0, 0) * (t.ndim - 2) + (0, pad)) if pad else t


def _max_half_range(A: Tensor, T: int) -> float:
    """Largest half-range of the cumulative log decay inside any chunk of length T: (a_0 - a_{T-1}) / 2."""
    b, l, h = A.shape
    c, T, pad = _chunk_geometry(l, T)
    inner = _pad_time(A.detach(), pad).reshape(b, c, T, h)[:, :, 1:]  # (b, c, T-1, h)
    if T == 1 or inner.numel() == 0:  # an empty batch has no range (.min() of nothing raised)
        return 0.0
    # a NaN in one series must not hide another's strong decay: NaN > limit is False
    return float(-inner.sum(2).nan_to_num(nan=0.0).min()) / 2


def _log_peak(t: Tensor) -> float:
    """log max |t| over all elements, NaNs left out (they make their own outputs NaN, and must not
    switch the guard off for the others); -inf for zeros or an empty tensor, inf for an inf."""
    if t.numel() == 0:
        return -math.inf
    lo, hi = (float(v) for v in torch.aminmax(t.detach()))  # one pass, no |t| copy
    if math.isnan(lo) or math.isnan(hi):
        peak = float(t.detach().abs().nan_to_num(nan=0.0).amax())
    else:
        peak = max(-lo, hi)
    return math.log(peak) if peak > 0 else -math.inf


def _log_sum_bound(T: int, n: int, log_B: float, log_C: float) -> float:
    """log of a bound on a chunk's sum over its T steps of |C_i . B_j| (d_state n), at least 0: the
    factor by which the intra-chunk sums and the scaled inputs themselves exceed the inputs."""
    return max(0.0, math.log(T * n) + log_B + log_C)


def _lift(log_peak: float, log_partner: float, hr: float, need: float, dtype: torch.dtype) -> int:
    """The power of two (>= 0) by which to scale up the inputs of a linear map of the scan when even
    the largest of them, exp(log_peak), falls below the float type's smallest normal number once
    multiplied by exp(-hr), the smallest intra-chunk factor (0: it does not; nothing changes).

    As far as keeps that product's eps of it normal (terms down to eps of the largest keep their
    digits), with no input (nor its partner, exp(log_partner): the initial state beside x, the
    final state's cotangent beside dy) above 1, the intra-chunk sums, exp(need) before, within
    the float type, and the power of two itself a normal number. Exact: the map is linear and a
    power of two scales a normal number without rounding."""
    info = torch.finfo(dtype)
    if not log_peak - hr < math.log(info.tiny) or math.isinf(log_peak):  # zeros: nothing to lose
        return 0
    digits = math.log(info.tiny / info.eps) - (log_peak - hr)
    room = min(-max(log_peak, log_partner), math.log(info.max) - 1.0 - need, -math.log(info.tiny))
    return math.floor(max(0.0, min(digits, room)) / math.log(2.0))


def _cotangent_shift(dy: Tensor, dfinal: Tensor, a: Tensor, m: Tensor, Bc: Tensor, Cc: Tensor) -> int:
    """The power of two by which the backward scales the cotangents (dy, dfinal) down so that the
    intra-chunk terms of dy, up to |dy| * exp(half-range) * T * d_state * max|B| * max|C|, fit the
    float type (> 0), or up (< 0, :func:`_lift`) when the largest dy's, down to exp(-half-range)
    of it, fall below its normal numbers (dy of 1e-30 at a half-range of ~60 had lost every such
    term in float32, gradients 30 times their size off, where the recurrence's are exact); 0:
    neither. a (b, c, g, T, hg) the cumulative log decays, m (b, c, g, 1, hg) their chunk middles."""
    T, n = a.shape[3], Bc.shape[-1]
    if T == 1 or a.numel() == 0:
        return 0
    hr = float((a[:, :, :, :1] - m).nan_to_num(nan=0.0).amax())  # a_0 - m = half the range
    log_dy = _log_peak(dy)
    need = hr + log_dy + _log_sum_bound(T, n, _log_peak(Bc), _log_peak(Cc))
    excess = need - (math.log(torch.finfo(a.dtype).max) - 1.0)
    if excess > 0 and not math.isinf(excess):  # an inf dy gives inf gradients, as the recurrence does
        return math.ceil(excess / math.log(2.0))
    if not log_dy - hr < math.log(torch.finfo(a.dtype).tiny):  # no lift: dfinal's peak not read
        return 0
    return -_lift(log_dy, _log_peak(dfinal), hr, need, a.dtype)


def _input_shift(A: Tensor, T: int, peaks: tuple[float, float, float], n: int, init: Tensor | None) -> int:
    """The power of two (>= 0, :func:`_lift`) by which ssd_chunked scales (x, initial_states) up,
    and its outputs back down, when the largest x's intra-chunk terms, x * exp(m - a_j) down to
    exp(-half-range) of it at chunk length T, fall below the float type's normal numbers (x of
    1e-20 at a half-range of ~60 had lost every such term in float32, outputs 66% off).
    ``peaks`` and ``n`` as :func:`_safe_chunk_size` takes them."""
    info, (log_x, log_B, log_C) = torch.finfo(A.dtype), peaks
    if T == 1 or log_x == -math.inf or log_x - _FACTOR_RANGE * math.log(info.max) >= math.log(info.tiny):
        return 0  # zeros, or no half-range the chunk length search allows takes x that far down
    hr = _max_half_range(A, T)
    need = hr + log_x + _log_sum_bound(T, n, log_B, log_C)
    return _lift(log_x, -math.inf if init is None else _log_peak(init), hr, need, A.dtype)


_NO_PEAKS = (-math.inf, -math.inf, -math.inf)


def _safe_chunk_size(
    A: Tensor, chunk_size: int, peaks: tuple[float, float, float] = _NO_PEAKS, n: int = 1
) -> int:
    """The largest chunk length <= chunk_size whose decay factors, and the sums they scale, fit the
    float type (halving). ``peaks``: log max|x|, log max|B| and log max|C| (:func:`_log_peak`),
    ``n`` d_state.

    The fast path splits exp(a_i - a_j) into exp(a_i - m) * exp(m - a_j), m the middle of the
    chunk's range; both factors stay within exp(+-hr), hr the half-range. Two conditions:
    hr below ``limit``, a fraction of log(float max) (62 for float32, 496 for float64), so the
    factors fit; and, given x, B and C, hr + log max|x| + log(T * d_state * max|B| * max|C|) below
    log(float max) - 1, so the scaled inputs x * exp(m - a) and their intra-chunk sums fit too (they
    exceed the true terms by up to exp(hr): inputs of 1e12 overflowed float32 at hr = 60, where the
    recurrence's outputs were 1e13). Chunks of one step always fit (they are the recurrence).
    """
    log_max = math.log(torch.finfo(A.dtype).max)
    limit = _FACTOR_RANGE * log_max
    log_x, log_B, log_C = peaks
    T = chunk_size
    while T > 1:
        hr = _max_half_range(A, T)
        if hr <= limit and hr + log_x + _log_sum_bound(T, n, log_B, log_C) <= log_max - 1.0:
            break
        T = -(-T // 2)
    return T


class _SSDChunkedFn(torch.autograd.Function):
    """The chunked scan with a hand-written backward, all in one time-major layout.

    Inside a chunk the decay between steps j <= i factorises, exp(a_i - a_j) =
    exp(a_i - m) * exp(m - a_j) (m the middle of the chunk's cumulative decay), so the intra-chunk
    product is one masked (T x T) @ (T x heads*headdim) matmul shared by all heads of a group:
    no per-head T x T decay matrix, no head-major copies. :func:`_safe_chunk_size` keeps both
    factors inside the float range. Layout: (b, c, g, T, hg*p), a free view of x when g == 1.
    Forward saves the scaled inputs, B, C, the scores, the decays, the chunk-boundary states and
    the output (all linear in seqlen).
    """

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, A: Tensor, B: Tensor, C: Tensor, initial_states: Tensor | None, chunk_size: int,
        lift: int = 0,
    ) -> tuple[Tensor, Tensor]:
        # lift (:func:`_input_shift`): x and the initial state scaled up by 2**lift, exactly (the
        # scan is linear in them), the outputs scaled back; the saved tensors keep the scale
        if lift:
            x = x * 2.0**lift
            initial_states = None if initial_states is None else initial_states * 2.0**lift
        b, l, h, p = x.shape
        g, n = B.shape[2], B.shape[3]
        hg = h // g
        c, T, pad = _chunk_geometry(l, chunk_size)
        x, A, B, C = (_pad_time(t, pad) for t in (x, A, B, C))

        xt = x.reshape(b, c, T, g, hg, p).transpose(2, 3)  # (b, c, g, T, hg, p)
        Bc = B.reshape(b, c, T, g, n).transpose(2, 3).contiguous()  # (b, c, g, T, n)
        Cc = C.reshape(b, c, T, g, n).transpose(2, 3).contiguous()  # (b, c, g, T, n)
        a = torch.cumsum(A.reshape(b, c, T, g, hg), dim=2).transpose(2, 3)  # (b, c, g, T, hg)
        m = 0.5 * (a[:, :, :, :1] + a[:, :, :, -1:])  # (b, c, g, 1, hg): middle of each range
        e_out = torch.exp(a - m)  # (b, c, g, T, hg)
        xs = (xt * torch.exp(m - a)[..., None]).reshape(b, c, g, T, hg * p)  # (b, c, g, T, hg*p)

        # 1. Intra-chunk: y_i = exp(a_i - m) sum_{j<=i} (C_i . B_j) exp(m - a_j) x_j.
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        S = (Cc @ Bc.transpose(-1, -2)).masked_fill_(~causal, 0.0)  # (b, c, g, T, T)
        y = (S @ xs).view(b, c, g, T, hg, p).mul_(e_out[..., None])  # (b, c, g, T, hg, p)

        # 2. Per-chunk states from a zero start: st = B^T (x * exp(a_T - a)).
        xw = xs.view(b, c, g, T, hg, p) * torch.exp(a[:, :, :, -1:] - m)[..., None]  # (b, c, g, T, hg, p)
        st = Bc.transpose(-1, -2) @ xw.view(b, c, g, T, hg * p)  # (b, c, g, n, hg*p)

        # 3. Inter-chunk recurrence over the c chunk boundaries: H_k = exp(a_T,k) H_{k-1} + st_k.
        decay = torch.exp(a[:, :, :, -1]).view(b, c, g, 1, hg, 1)  # (b, c, g, 1, hg, 1)
        if initial_states is None:
            H = x.new_zeros(b, g, n, hg, p)  # (b, g, n, hg, p)
        else:
            H = initial_states.to(x.dtype).view(b, g, hg, p, n).permute(0, 1, 4, 2, 3)
        prev = x.new_empty(b, c, g, n, hg * p)  # state entering each chunk
        for k in range(c):
            prev[:, k] = H.reshape(b, g, n, hg * p)
            H = decay[:, k] * H + st[:, k].view(b, g, n, hg, p)
        final_state = H.permute(0, 1, 3, 4, 2).reshape(b, h, p, n)  # (b, h, p, n)

        # 4. State to output: y_i += exp(a_i) C_i . H_prev.
        y_off = (Cc @ prev).view(b, c, g, T, hg, p)  # (b, c, g, T, hg, p)
        y.addcmul_(y_off, torch.exp(a)[..., None])
        out = y.transpose(2, 3).reshape(b, c * T, h, p)[:, :l]  # (b, l, h, p)

        ctx.save_for_backward(xs, Bc, Cc, S, a, m, prev, y)
        ctx.dims = (b, l, h, p, g, n, c, T, pad)
        ctx.has_init, ctx.lift = initial_states is not None, lift
        if lift:
            out, final_state = out * 2.0**-lift, final_state * 2.0**-lift
        return out, final_state

    @staticmethod
    @torch.autograd.function.once_differentiable  # the saved tensors carry no graph: no 2nd order
    def backward(ctx: Any, dy: Tensor, dfinal: Tensor | None) -> tuple[Tensor | None, ...]:
        xs, Bc, Cc, S, a, m, prev, y = ctx.saved_tensors
        b, l, h, p, g, n, c, T, pad = ctx.dims
        hg = h // g
        # The gradients are linear in (dy, dfinal), and the intra-chunk terms of dy exceed the true
        # ones by up to exp(half-range), as x's do in the forward: a dy too large for that (the
        # forward's chunk length was chosen for x, not for dy) is scaled down by 2**shift, exactly,
        # and the gradients scaled back (dy of 1e12 had given NaN gradients where the recurrence's
        # are 4e13); a dy so small that its terms fall below the float type's normal numbers, down
        # by up to exp(-half-range), is scaled up (shift < 0) instead.
        shift = _cotangent_shift(dy, dfinal, a, m, Bc, Cc)
        if shift:
            dy, dfinal = dy * 2.0**-shift, dfinal * 2.0**-shift
        dyt = _pad_time(dy, pad).reshape(b, c, T, g, hg, p).transpose(2, 3)  # (b, c, g, T, hg, p)

        # Output side of steps 1 and 4: y_i carries the factor exp(a_i), so d/da_i = dy_i . y_i.
        da = (dyt * y).sum(-1)  # (b, c, g, T, hg)

        # 4. State to output.
        dye = (dyt * torch.exp(a)[..., None]).reshape(b, c, g, T, hg * p)  # (b, c, g, T, hg*p)
        dprev = Cc.transpose(-1, -2) @ dye  # (b, c, g, n, hg*p)
        dC = dye @ prev.transpose(-1, -2)  # (b, c, g, T, n)

        # 3. Inter-chunk recurrence, in reverse.
        decay = torch.exp(a[:, :, :, -1])  # (b, c, g, hg)
        G = dfinal.reshape(b, g, hg, p, n).permute(0, 1, 4, 2, 3)  # (b, g, n, hg, p)
        dst = torch.empty_like(prev)  # (b, c, g, n, hg*p)
        ddecay = a.new_empty(b, c, g, hg)
        for k in reversed(range(c)):
            dst[:, k] = G.reshape(b, g, n, hg * p)
            ddecay[:, k] = (G * prev[:, k].view(b, g, n, hg, p)).sum((2, 4)) * decay[:, k]
            G = dprev[:, k].view(b, g, n, hg, p) + decay[:, k].view(b, g, 1, hg, 1) * G
        dinit = G.permute(0, 1, 3, 4, 2).reshape(b, h, p, n) if ctx.has_init else None

        # 2. Per-chunk states: xw = x * exp(a_T - a).
        w_end = torch.exp(a[:, :, :, -1:] - m)[..., None]  # (b, c, g, 1, hg, 1)
        xw = (xs.view(b, c, g, T, hg, p) * w_end).view(b, c, g, T, hg * p)  # (b, c, g, T, hg*p)
        dxw = Bc @ dst  # (b, c, g, T, hg*p)
        dB = xw @ dst.transpose(-1, -2)  # (b, c, g, T, n)
        q = (dxw * xw).view(b, c, g, T, hg, p).sum(-1)  # (b, c, g, T, hg)
        da.sub_(q)
        da[:, :, :, -1] += q.sum(3) + ddecay

        # 1. Intra-chunk, input side: xs = x * exp(m - a); y_diag = exp(a - m) * (S @ xs).
        dz = (dyt * torch.exp(a - m)[..., None]).reshape(b, c, g, T, hg * p)  # (b, c, g, T, hg*p)
        causal = torch.ones(T, T, dtype=torch.bool, device=dy.device).tril()
        dS = (dz @ xs.transpose(-1, -2)).masked_fill_(~causal, 0.0)  # (b, c, g, T, T)
        dxs = S.transpose(-1, -2) @ dz  # (b, c, g, T, hg*p)
        da -= (dxs * xs).view(b, c, g, T, hg, p).sum(-1)
        e_in = torch.exp(m - a)[..., None]  # (b, c, g, T, hg, 1)
        dxt = dxs.view(b, c, g, T, hg, p).mul_(e_in)  # (b, c, g, T, hg, p)
        dxt.addcmul_(dxw.view(b, c, g, T, hg, p), e_in * w_end)  # + step 2: dxw * exp(a_T - a)
        dC += dS @ Bc
        dB += dS.transpose(-1, -2) @ Cc

        # a = cumsum(A) within each chunk: dA is the reverse cumulative sum of da.
        dA = da.flip(3).cumsum(3).flip(3)  # (b, c, g, T, hg)
        dx = dxt.transpose(2, 3).reshape(b, c * T, h, p)[:, :l]
        dA = dA.transpose(2, 3).reshape(b, c * T, h)[:, :l]
        dB = dB.transpose(2, 3).reshape(b, c * T, g, n)[:, :l]
        dC = dC.transpose(2, 3).reshape(b, c * T, g, n)[:, :l]
        if shift:
            dx, dA, dB, dC = (t * 2.0**shift for t in (dx, dA, dB, dC))
            dinit = None if dinit is None else dinit * 2.0**shift
        if ctx.lift:  # dA, dB and dC are bilinear in the (lifted) inputs and the cotangents
            dA, dB, dC = (t * 2.0**-ctx.lift for t in (dA, dB, dC))
        return dx, dA, dB, dC, dinit, None, None


def ssd_chunked(
    x: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    chunk_size: int,
    initial_states: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Chunked SSD scan (fast path, hand-written backward).

    Args:
        x: (b, l, h, p) inputs (already multiplied by dt).
        A: (b, l, h) per-step log decay (dt * A, <= 0).
        B, C: (b, l, g, n) input and output projections of the state; head h reads group
            h // (nheads // ngroups).
        chunk_size: largest chunk length; any l >= 1 works (chunks are balanced, the last padded
            with steps that leave the state untouched). The result does not depend on it.
        initial_states: (b, h, p, n) state before the first step, or None for zeros.

    Returns:
        y: (b, l, h, p) and the final state (b, h, p, n) after position l - 1, in x's dtype.

    The scan runs in float32 or wider (the widest of the inputs' dtypes), with autocast off, so
    bfloat16 / float16 inputs or a mixed-precision autocast keep the decays' cumulative sums
    exact to float32 and the backward pass sees the dtypes the forward used. A log decay of -inf
    (a reset) counts as -1000, whose exp is 0 in every float type. Second derivatives are not
    supported (an error, not a wrong number); use :func:`ssd_chunked_ref` for them.
    """
    _check_inputs(x, A, B, C, initial_states)
    chunk_size = positive_int(chunk_size, "chunk_size")  # before the chunk length search compares it
    inputs = (x, A, B, C) if initial_states is None else (x, A, B, C, initial_states)
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in inputs), torch.float32)
    x, B, C = x.to(dtype), B.to(dtype), C.to(dtype)
    A = A.to(dtype).clamp_min(_MIN_LOG_DECAY)
    init = None if initial_states is None else initial_states.to(dtype)
    with torch.autocast(x.device.type, enabled=False):
        peaks, n = (_log_peak(x), _log_peak(B), _log_peak(C)), B.shape[-1]
        T = _safe_chunk_size(A, chunk_size, peaks, n)
        y, final_state = _SSDChunkedFn.apply(x, A, B, C, init, T, _input_shift(A, T, peaks, n, init))
    return y.to(inputs[0].dtype), final_state.to(inputs[0].dtype)


def ssd_step(
    x_t: Tensor, A_t: Tensor, B_t: Tensor, C_t: Tensor, state: Tensor
) -> tuple[Tensor, Tensor]:
    """One step of the recurrence.

    x_t (b, h, p), A_t (b, h), B_t and C_t (b, g, n), state (b, h, p, n)
    -> y_t (b, h, p), new state (b, h, p, n). The input state is not modified.
    """
    h, g = x_t.shape[1], B_t.shape[1]
    B_h = B_t.repeat_interleave(h // g, dim=1)  # (b, h, n)
    C_h = C_t.repeat_interleave(h // g, dim=1)  # (b, h, n)
    state = torch.exp(A_t)[..., None, None] * state + x_t[..., :, None] * B_h[..., None, :]  # (b, h, p, n)
    y_t = (state @ C_h[..., None]).squeeze(-1)  # (b, h, p)
    return y_t, state


def ssd_recurrent(
    x: Tensor, A: Tensor, B: Tensor, C: Tensor, initial_states: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The step-by-step reference of :func:`ssd_chunked` (same arguments and returns)."""
    _check_inputs(x, A, B, C, initial_states)
    b, l, h, p = x.shape
    n = B.shape[-1]
    state = x.new_zeros(b, h, p, n) if initial_states is None else initial_states.to(x.dtype)
    ys = []
    for t in range(l):
        y_t, state = ssd_step(x[:, t], A[:, t], B[:, t], C[:, t], state)
        ys.append(y_t)
    return torch.stack(ys, dim=1), state
