"""Exactness of the SSD scan: chunked (fast and reference) == recurrence == an independent loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsmamba.errors import ConfigError
from tsmamba.ssd import _safe_chunk_size, segsum, ssd_chunked, ssd_chunked_ref, ssd_recurrent

CHUNK = 8


def make_inputs(b, l, h, p, g, n, dtype=torch.float64, seed=0, init=False, grad=False):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(b, l, h, p, generator=gen, dtype=dtype)
    A = -torch.rand(b, l, h, generator=gen, dtype=dtype) * 0.8  # dt * A <= 0
    B = torch.randn(b, l, g, n, generator=gen, dtype=dtype)
    C = torch.randn(b, l, g, n, generator=gen, dtype=dtype)
    s0 = torch.randn(b, h, p, n, generator=gen, dtype=dtype) if init else None
    tensors = [x, A, B, C] + ([s0] if init else [])
    for t in tensors:
        t.requires_grad_(grad)
    return x, A, B, C, s0


def independent_loop(x, A, B, C, s0):
    """The recurrence in plain numpy loops, element by element of the state."""
    x, A, B, C = (t.detach().numpy() for t in (x, A, B, C))
    b, l, h, p = x.shape
    g, n = B.shape[2:]
    y = np.zeros_like(x)
    final = np.zeros((b, h, p, n))
    for bi in range(b):
        for hi in range(h):
            gi = hi // (h // g)
            state = np.zeros((p, n)) if s0 is None else s0[bi, hi].detach().numpy().copy()
            for t in range(l):
                state = np.exp(A[bi, t, hi]) * state + np.outer(x[bi, t, hi], B[bi, t, gi])
                y[bi, t, hi] = state @ C[bi, t, gi]
            final[bi, hi] = state
    return torch.from_numpy(y), torch.from_numpy(final)


LENGTHS = [1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5]


@pytest.mark.parametrize("seqlen", LENGTHS)
@pytest.mark.parametrize("ngroups", [1, 2])
@pytest.mark.parametrize("with_init", [False, True])
def test_chunked_equals_recurrence_float64(seqlen, ngroups, with_init):
    x, A, B, C, s0 = make_inputs(2, seqlen, 4, 3, ngroups, 5, init=with_init, seed=seqlen)
    y_ref, s_ref = independent_loop(x, A, B, C, s0)
    for fn in (
        lambda: ssd_chunked(x, A, B, C, CHUNK, s0),
        lambda: ssd_chunked_ref(x, A, B, C, CHUNK, s0),
        lambda: ssd_recurrent(x, A, B, C, s0),
    ):
        y, s = fn()
        torch.testing.assert_close(y, y_ref, atol=1e-10, rtol=0)
        torch.testing.assert_close(s, s_ref, atol=1e-10, rtol=0)


@pytest.mark.parametrize("seqlen", LENGTHS)
@pytest.mark.parametrize("ngroups", [1, 2])
def test_gradients_agree_float64(seqlen, ngroups):
    """The hand-written backward of ssd_chunked == autograd through the reference and the loop."""
    inputs = make_inputs(2, seqlen, 4, 3, ngroups, 5, init=True, grad=True, seed=100 + seqlen)
    gen = torch.Generator().manual_seed(7)
    gy = torch.randn(2, seqlen, 4, 3, generator=gen, dtype=torch.float64)
    gs = torch.randn(2, 4, 3, 5, generator=gen, dtype=torch.float64)
    grads = []
    for fn in (
        lambda x, A, B, C, s0: ssd_chunked(x, A, B, C, CHUNK, s0),
        lambda x, A, B, C, s0: ssd_chunked_ref(x, A, B, C, CHUNK, s0),
        ssd_recurrent,
    ):
        y, s = fn(*inputs)
        torch.autograd.backward([y, s], [gy, gs])
        grads.append([t.grad.clone() for t in inputs])
        for t in inputs:
            t.grad = None
    for other in grads[1:]:
        for g_fast, g_other in zip(grads[0], other, strict=True):
            torch.testing.assert_close(g_fast, g_other, atol=1e-10, rtol=0)


def test_gradcheck_fast_backward():
    inputs = make_inputs(1, 7, 2, 2, 1, 3, init=True, grad=True, seed=3)
    assert torch.autograd.gradcheck(lambda x, A, B, C, s0: ssd_chunked(x, A, B, C, 3, s0), inputs)


def test_float32_within_rounding_tolerance():
    """float32 chunked vs the float64 loop.

    Each output sums O(seqlen) products of O(1) terms, and the decays come from cumulative sums of
    at most ``chunk`` log-decays; float32 rounding (eps 1.2e-7) then bounds the error near
    eps * seqlen * max|y| in the worst case and eps * sqrt(seqlen) * max|y| typically. We allow
    2e-6 * max|y| * sqrt(seqlen), several times the typical bound and well below any modelling
    effect.
    """
    seqlen = 200
    x, A, B, C, s0 = make_inputs(2, seqlen, 4, 8, 1, 16, init=True, seed=11)
    y64, s64 = independent_loop(x, A, B, C, s0)
    x32, A32, B32, C32, s32_0 = (t.float() for t in (x, A, B, C, s0))
    y32, s32 = ssd_chunked(x32, A32, B32, C32, 64, s32_0)
    scale_y, scale_s = y64.abs().max().item(), s64.abs().max().item()
    tol = 2e-6 * seqlen**0.5
    assert (y32.double() - y64).abs().max().item() <= tol * scale_y
    assert (s32.double() - s64).abs().max().item() <= tol * scale_s


def test_half_precision_inputs_are_scanned_in_float32():
    """bfloat16 inputs: the scan runs in float32, so its error is the output's bf16 rounding.

    The reference is the float64 loop on the same bf16-rounded inputs. bf16 keeps 8 bits of
    mantissa (relative rounding 2^-8 = 3.9e-3), so rounding y to bf16 alone costs up to 3.9e-3 of
    max|y|; 1e-2 allows that plus float32 noise. A scan in bf16 itself was off by ~1e-1 here: the
    in-chunk cumulative log decays (|a| up to ~60) lose ~0.25 to bf16 rounding before exp.
    """
    x, A, B, C, _ = make_inputs(2, 64, 4, 8, 1, 16, seed=5)
    A = A * 5.0  # dt * A in [-4, 0]
    xb, Ab, Bb, Cb = (t.bfloat16() for t in (x, A, B, C))
    y64, s64 = independent_loop(*(t.double() for t in (xb, Ab, Bb, Cb)), None)
    y, s = ssd_chunked(xb, Ab, Bb, Cb, 32)
    assert y.dtype == s.dtype == torch.bfloat16
    assert (y.double() - y64).abs().max() <= 1e-2 * y64.abs().max()
    assert (s.double() - s64).abs().max() <= 1e-2 * s64.abs().max()


def test_backward_under_bf16_autocast_matches_float32():
    """Under autocast (Lightning's precision="bf16-mixed") the matmuls of the inputs' projections
    run in bf16 and hand the scan mixed dtypes; the scan's own forward and backward run in float32.
    The gradients of the float32 inputs then equal a float32 run's up to the bf16 rounding of B and
    C (3.9e-3 relative each), allowed 2e-2 of the largest gradient."""
    torch.manual_seed(0)
    x, A, B, C, _ = make_inputs(2, 20, 2, 4, 1, 8, dtype=torch.float32, seed=6)
    proj = torch.randn(8, 8)

    def grads(autocast: bool):
        leaves = [t.clone().requires_grad_() for t in (x, A, B, C)]
        xi, Ai, Bi, Ci = leaves
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            Bp, Cp = Bi @ proj, Ci @ proj  # bf16 under autocast, as the block's projections are
            y, _ = ssd_chunked(xi, Ai, Bp, Cp, 8)
        y.float().square().mean().backward()
        return [t.grad for t in leaves]

    for mixed, full in zip(grads(True), grads(False), strict=True):
        assert torch.isfinite(mixed).all()
        assert (mixed - full).abs().max() <= 2e-2 * full.abs().max()


def test_a_reset_decay_of_minus_inf_equals_the_recurrence():
    x, A, B, C, s0 = make_inputs(1, 10, 2, 2, 1, 3, init=True, seed=8)
    A[:, 4] = -float("inf")  # decay 0: the state restarts at step 4
    y_ref, s_ref = ssd_recurrent(x, A, B, C, s0)
    assert torch.isfinite(y_ref).all()
    for scan in (ssd_chunked, ssd_chunked_ref):
        y, s = scan(x, A, B, C, 4, s0)
        torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(s, s_ref, rtol=1e-12, atol=1e-12)


def test_second_derivatives_are_an_error_not_a_wrong_number():
    x, A, B, C, _ = make_inputs(1, 6, 2, 2, 1, 3, seed=9)
    A.requires_grad_()
    y, _ = ssd_chunked(x, A, B, C, 4)
    (g,) = torch.autograd.grad((y**2).sum(), A, create_graph=True)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(g.sum(), A)
    # the reference twin, differentiated by autograd, gives them: it equals the recurrence
    second = []
    for scan in (lambda A: ssd_chunked_ref(x, A, B, C, 4), lambda A: ssd_recurrent(x, A, B, C)):
        (g,) = torch.autograd.grad((scan(A)[0] ** 2).sum(), A, create_graph=True)
        second.append(torch.autograd.grad(g.sum(), A)[0])
    torch.testing.assert_close(second[0], second[1], rtol=1e-10, atol=1e-10)


def test_chunk_size_does_not_change_output():
    x, A, B, C, s0 = make_inputs(2, 37, 4, 3, 2, 5, init=True, seed=5)
    y1, s1 = ssd_chunked(x, A, B, C, 4, s0)
    for chunk in (1, 5, 16, 37, 100):
        y2, s2 = ssd_chunked(x, A, B, C, chunk, s0)
        torch.testing.assert_close(y1, y2, atol=1e-10, rtol=0)
        torch.testing.assert_close(s1, s2, atol=1e-10, rtol=0)


def test_split_sequence_continues_from_state():
    """Scanning [0, k) then [k, l) from the carried state equals one scan over [0, l)."""
    x, A, B, C, _ = make_inputs(2, 30, 4, 3, 1, 5, seed=9)
    y, s = ssd_chunked(x, A, B, C, 8)
    y1, s1 = ssd_chunked(x[:, :13], A[:, :13], B[:, :13], C[:, :13], 8)
    y2, s2 = ssd_chunked(x[:, 13:], A[:, 13:], B[:, 13:], C[:, 13:], 8, initial_states=s1)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y, atol=1e-10, rtol=0)
    torch.testing.assert_close(s2, s, atol=1e-10, rtol=0)


def strong_decay_inputs(dtype, low, high, seqlen=29, seed=21):
    """Inputs whose per-step log decays reach far beyond what one chunk's factors can hold."""
    x, A, B, C, s0 = make_inputs(2, seqlen, 4, 3, 2, 5, dtype=dtype, init=True, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    strong = -(low + (high - low) * torch.rand(2, seqlen, 4, generator=gen, dtype=dtype))
    A = torch.where(torch.rand(2, seqlen, 4, generator=gen, dtype=dtype) < 0.5, strong, A.detach())
    return x, A, B, C, s0


def test_safe_chunk_size_keeps_mild_decays_and_shrinks_strong_ones():
    _, A, *_ = make_inputs(2, 40, 4, 3, 1, 5)  # |A| <= 0.8: half-range <= 0.4 * 63, float64
    assert _safe_chunk_size(A, 64) == 64
    _, A, *_ = strong_decay_inputs(torch.float64, 100.0, 300.0)
    T = _safe_chunk_size(A, 8)
    assert 1 <= T < 8


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_strong_decays_stay_exact_and_finite(dtype):
    """Decays far past exp's range (|dt*A| up to 300 a step) shrink the chunks instead of overflowing."""
    inputs = [t.detach().requires_grad_() for t in strong_decay_inputs(torch.float64, 100.0, 300.0)]
    y_ref, s_ref = independent_loop(*inputs)
    gen = torch.Generator().manual_seed(3)
    gy = torch.randn(*y_ref.shape, generator=gen, dtype=torch.float64)
    gs = torch.randn(*s_ref.shape, generator=gen, dtype=torch.float64)
    y, s = ssd_recurrent(*inputs)
    torch.autograd.backward([y, s], [gy, gs])
    grads_ref = [t.grad.clone() for t in inputs]
    cast = [t.detach().to(dtype).requires_grad_() for t in inputs]
    y, s = ssd_chunked(*cast[:4], 8, cast[4])
    torch.autograd.backward([y, s], [gy.to(dtype), gs.to(dtype)])
    atol = 1e-10 if dtype == torch.float64 else 1e-4  # float32: O(1) terms, eps * sqrt(l) * 10
    torch.testing.assert_close(y.double(), y_ref, atol=atol * y_ref.abs().max().item(), rtol=0)
    torch.testing.assert_close(s.double(), s_ref, atol=atol * s_ref.abs().max().item(), rtol=0)
    for t, g_ref in zip(cast, grads_ref, strict=True):
        assert torch.isfinite(t.grad).all()
        torch.testing.assert_close(t.grad.double(), g_ref, atol=atol * g_ref.abs().max().item(), rtol=0)


def test_a_nan_in_one_series_keeps_the_guard_for_the_others():
    """NaN > limit is False: one NaN decay switched the chunk shrinking off for the whole batch,
    and another series' strong decays overflowed."""
    x, A, B, C, _ = make_inputs(2, 32, 1, 2, 1, 4, dtype=torch.float32)
    A = A.detach().clone()
    A[1, 5:9] = -100.0
    A[0, 3, 0] = float("nan")
    y, s = ssd_chunked(x, A, B, C, 32)
    y_ref, s_ref = ssd_recurrent(x.double(), A.double(), B.double(), C.double())
    torch.testing.assert_close(y[1].double(), y_ref[1], atol=1e-4 * y_ref[1].abs().max().item(), rtol=0)
    torch.testing.assert_close(s[1].double(), s_ref[1], atol=1e-4 * s_ref[1].abs().max().item(), rtol=0)


def test_an_empty_batch_gives_empty_outputs():
    x, A, B, C, s0 = make_inputs(2, 9, 2, 3, 1, 4, init=True)
    y, s = ssd_chunked(x[:0], A[:0], B[:0], C[:0], CHUNK, s0[:0])
    assert y.shape == (0, 9, 2, 3) and s.shape == (0, 2, 3, 4)


def test_segsum_matches_definition():
    a = torch.randn(3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    out = segsum(a)
    for i in range(6):
        for j in range(6):
            expected = a[:, j + 1 : i + 1].sum(-1) if j <= i else torch.full((3,), -torch.inf)
            torch.testing.assert_close(out[:, i, j], expected.to(out.dtype))


def test_shape_errors_are_clear():
    x, A, B, C, _ = make_inputs(1, 4, 3, 2, 2, 5)
    with pytest.raises(ConfigError, match="multiple of ngroups"):
        ssd_chunked(x, A, B, C, 4)
    x, A, B, C, _ = make_inputs(1, 4, 4, 2, 1, 5)
    with pytest.raises(ConfigError, match="A must be"):
        ssd_chunked(x, A[:, :3], B, C, 4)
    with pytest.raises(ConfigError, match="initial_states"):
        ssd_chunked(x, A, B, C, 4, initial_states=torch.zeros(1, 4, 2, 4, dtype=x.dtype))
    with pytest.raises(ConfigError, match="chunk_size"):
        ssd_chunked(x, A, B, C, 0)


def test_non_contiguous_inputs():
    """Strided views (as slices of a projection give) are accepted and give the same result."""
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, 20, 6, dtype=torch.float64, generator=gen).permute(0, 2, 3, 1)  # (2, 20, 6, 3)
    A = -torch.rand(2, 6, 20, dtype=torch.float64, generator=gen).transpose(1, 2)  # (2, 20, 6)
    B = torch.randn(2, 20, 2, 8, dtype=torch.float64, generator=gen)[..., ::2]  # (2, 20, 2, 4)
    C = torch.randn(2, 4, 20, 2, dtype=torch.float64, generator=gen).permute(0, 2, 3, 1)
    assert not any(t.is_contiguous() for t in (x, A, B, C))
    y, s = ssd_chunked(x, A, B, C, 8)
    y_ref, s_ref = independent_loop(x, A, B, C, None)
    torch.testing.assert_close(y, y_ref, atol=1e-10, rtol=0)
    torch.testing.assert_close(s, s_ref, atol=1e-10, rtol=0)


def test_large_inputs_under_strong_decays_stay_finite_in_float32():
    """The fast path scales x by exp(m - a), up to exp(half-range) of a chunk: at a half-range of
    ~60 (under float32's factor limit of 62) inputs of 1e12 overflowed to NaN, where the
    recurrence's outputs are ~1e13. The chunk length now shrinks for large inputs too.

    Tolerance: the decays' exponents round at eps * |cumsum| <= 1.2e-7 * 128 (32 steps of -4) =
    1.5e-5 relative, the worst case for any term; 2e-5 of max|y| (seen: ~2e-7)."""
    x, _, B, C, _ = make_inputs(2, 64, 2, 4, 1, 8, seed=12)
    A = -3.8 - 0.2 * torch.rand(2, 64, 2, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    x = x * 1e12
    y_ref, s_ref = independent_loop(x, A, B, C, None)
    y, s = ssd_chunked(x.float(), A.float(), B.float(), C.float(), 32)
    torch.testing.assert_close(y.double(), y_ref, atol=2e-5 * y_ref.abs().max().item(), rtol=0)
    torch.testing.assert_close(s.double(), s_ref, atol=2e-5 * s_ref.abs().max().item(), rtol=0)


def test_large_output_gradients_under_strong_decays_stay_finite_in_float32():
    """The backward's intra-chunk terms of dy exceed the true ones by up to exp(half-range) too,
    and the forward's chunk length is chosen before dy exists: dy of 1e12 at a half-range of ~60
    gave NaN and inf gradients where the recurrence's are ~4e13. The backward now scales dy
    down by a power of two (it is linear in dy) and the gradients back.

    Tolerance: as the forward's, the decays' exponents round at up to 1.5e-5 relative, and the
    log-decay gradient sums T such terms of both signs (seen: up to 2e-5 of its max over inputs
    from 1 to 1e12); 5e-5 of each gradient's max."""
    x, _, B, C, _ = make_inputs(2, 64, 2, 4, 1, 8, seed=14)
    gen = torch.Generator().manual_seed(15)
    A = -3.8 - 0.2 * torch.rand(2, 64, 2, generator=gen, dtype=torch.float64)
    gy = 1e12 * torch.randn(2, 64, 2, 4, generator=gen, dtype=torch.float64)
    ref = [t.clone().requires_grad_() for t in (x, A, B, C)]
    ssd_recurrent(*ref)[0].backward(gy)
    fast = [t.float().requires_grad_() for t in (x, A, B, C)]
    ssd_chunked(*fast, 32)[0].backward(gy.float())
    for t, r in zip(fast, ref, strict=True):
        torch.testing.assert_close(t.grad.double(), r.grad, atol=5e-5 * r.grad.abs().max().item(), rtol=0)


@pytest.mark.parametrize("chunk_size", [2.5, 4.0, "4", None, True])
def test_a_chunk_size_that_is_no_positive_integer_is_a_config_error(chunk_size):
    """2.5 and 4.0 had failed in torch's pad or reshape, "4" and None in a comparison (TypeError
    each), and True had been a chunk of one step; Mamba2Config refuses them all as well."""
    x, A, B, C, _ = make_inputs(1, 9, 2, 2, 1, 3)
    for scan in (ssd_chunked, ssd_chunked_ref):
        with pytest.raises(ConfigError, match=rf"^chunk_size must be a positive integer, got {chunk_size!r}"):
            scan(x, A, B, C, chunk_size)
    y, _ = ssd_chunked(x, A, B, C, np.int64(4))  # numpy's integers are integers
    torch.testing.assert_close(y, ssd_recurrent(x, A, B, C)[0], atol=1e-10, rtol=0)


@pytest.mark.parametrize("final", [0.0, 1e-30])
def test_tiny_output_gradients_under_strong_decays_keep_float32_accuracy(final):
    """The backward's intra-chunk terms of dy fall to exp(-half-range) of it as well: dy of 1e-30
    at a half-range of ~60 fell below float32's smallest normal number (1.2e-38) and every term
    was lost (the gradients were 30 times their size off), where the recurrence's are ~1e-30 and
    exact to float32. The backward now scales dy (and the final state's cotangent) up by a power
    of two. Tolerance: as for large dy, 5e-5 of each gradient's max."""
    x, _, B, C, s0 = make_inputs(2, 64, 2, 4, 1, 8, init=True, seed=16)
    gen = torch.Generator().manual_seed(17)
    A = -3.8 - 0.2 * torch.rand(2, 64, 2, generator=gen, dtype=torch.float64)
    gy = 1e-30 * torch.randn(2, 64, 2, 4, generator=gen, dtype=torch.float64)
    gs = final * torch.randn(2, 2, 4, 8, generator=gen, dtype=torch.float64)
    ref = [t.clone().requires_grad_() for t in (x, A, B, C, s0)]
    torch.autograd.backward(ssd_recurrent(*ref), [gy, gs])
    fast = [t.float().requires_grad_() for t in (x, A, B, C, s0)]
    torch.autograd.backward(ssd_chunked(*fast[:4], 32, fast[4]), [gy.float(), gs.float()])
    for t, r in zip(fast, ref, strict=True):
        torch.testing.assert_close(t.grad.double(), r.grad, atol=5e-5 * r.grad.abs().max().item(), rtol=0)


def test_tiny_inputs_under_strong_decays_keep_float32_accuracy():
    """The fast path scales x by exp(m - a), down to exp(-half-range) of it: x of 1e-20 at a
    half-range of ~60 fell below float32's normal numbers there and the outputs were 66% off,
    where the recurrence's are exact to float32. ssd_chunked now scales x and the initial state
    up by a power of two, and the outputs back; the gradients of unit cotangents stay exact too.
    Tolerance: as for large inputs, 2e-5 of each output's max (5e-5 of each gradient's)."""
    x, _, B, C, s0 = make_inputs(2, 64, 2, 4, 1, 8, init=True, seed=18)
    gen = torch.Generator().manual_seed(19)
    A = -3.8 - 0.2 * torch.rand(2, 64, 2, generator=gen, dtype=torch.float64)
    x, s0 = 1e-20 * x, 1e-20 * s0
    gy, gs = torch.randn(2, 64, 2, 4, generator=gen, dtype=torch.float64), torch.randn_like(s0)
    ref = [t.clone().requires_grad_() for t in (x, A, B, C, s0)]
    y_ref, s_ref = ssd_recurrent(*ref)
    torch.autograd.backward([y_ref, s_ref], [gy, gs])
    fast = [t.float().requires_grad_() for t in (x, A, B, C, s0)]
    y, s = ssd_chunked(*fast[:4], 32, fast[4])
    torch.autograd.backward([y, s], [gy.float(), gs.float()])
    torch.testing.assert_close(y.double(), y_ref, atol=2e-5 * y_ref.abs().max().item(), rtol=0)
    torch.testing.assert_close(s.double(), s_ref, atol=2e-5 * s_ref.abs().max().item(), rtol=0)
    for t, r in zip(fast, ref, strict=True):
        torch.testing.assert_close(t.grad.double(), r.grad, atol=5e-5 * r.grad.abs().max().item(), rtol=0)
