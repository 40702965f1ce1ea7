"""The fused kernel's float32 exp: within 2 ulp of float64's over the sigmoids' whole range,
clamped to [-87, 88] (a normal number at both ends), NaN kept."""

from __future__ import annotations

import numpy as np
from numba import njit

from pointgan_cli.engine.fused.mathops import INSIDE, exp32, sig32, sig32_inside


@njit(cache=False)
def _exp_all(x, out, sig):
    for i in range(x.shape[0]):
        out[i] = exp32(x[i])
        sig[i] = sig32(x[i])


def test_exp_is_within_two_ulp_clamped_and_keeps_nan():
    x = np.concatenate([np.linspace(-87.0, 88.0, 400_001, dtype=np.float32),
                        np.array([-200.0, 200.0, np.nan], np.float32)])
    out, sig = np.empty_like(x), np.empty_like(x)
    _exp_all(x, out, sig)
    ref = np.exp(np.clip(x[:-1], -87.0, 88.0).astype(np.float64))
    ulp = np.abs(out[:-1].astype(np.float64) - ref) / np.spacing(ref.astype(np.float32))
    assert ulp.max() <= 2.0, ulp.max()
    assert np.all(out[:-1] >= np.finfo(np.float32).tiny)  # never subnormal, never zero
    assert np.isnan(out[-1]) and np.isnan(sig[-1])
    assert np.all((sig[:-1] >= 0.0) & (sig[:-1] <= 1.0))


@njit(cache=False)
def _sig_both(x, fast, plain):
    for i in range(x.shape[0]):
        fast[i] = sig32(x[i])
    for i in range(x.shape[0]):
        plain[i] = np.float32(1.0) / (np.float32(1.0) + exp32(-x[i]))


def test_sigmoid_is_one_over_one_plus_exp32_of_minus_x_bit_for_bit():
    """sig32 clamps with max/min after negating (for its machine code): the same bits as
    1 / (1 + exp32(-x)) everywhere, past both clamps, at the infinities, NaN kept."""
    rng = np.random.default_rng(0)
    x = np.concatenate([(rng.standard_normal(200_000) * 40.0).astype(np.float32),
                        np.linspace(-90.0, 90.0, 20_001, dtype=np.float32),
                        np.array([np.inf, -np.inf, 0.0, -0.0, 87.0, -87.0, 88.0, -88.0,
                                  np.nextafter(np.float32(88.0), np.float32(99.0)),
                                  np.nextafter(np.float32(-87.0), np.float32(-99.0))],
                                 np.float32)])
    fast, plain = np.empty_like(x), np.empty_like(x)
    _sig_both(x, fast, plain)
    assert np.array_equal(fast.view(np.int32), plain.view(np.int32))
    nan_in = np.array([np.nan], np.float32)
    f1, p1 = np.empty(1, np.float32), np.empty(1, np.float32)
    _sig_both(nan_in, f1, p1)
    assert np.isnan(f1[0]) and np.isnan(p1[0])


@njit(cache=False)
def _sig_inside_both(x, clamped, inside):
    for i in range(x.shape[0]):
        clamped[i] = sig32(x[i])
    for i in range(x.shape[0]):
        inside[i] = sig32_inside(x[i])


def test_the_sigmoid_without_its_clamp_has_its_bits_inside_the_bound_and_not_past_it():
    """``sig32_inside`` drops the clamp where callers have bounded |x| below ``INSIDE``: every
    float32 from -INSIDE to INSIDE in steps of 2^-12 (and at the bound) gives ``sig32``'s bits;
    past the clamp it would not (why the callers check)."""
    x = np.concatenate([np.arange(-INSIDE, INSIDE, 2.0 ** -12, dtype=np.float32),
                        np.array([np.nextafter(INSIDE, np.float32(0.0)), -0.0, np.nan],
                                 np.float32)])
    clamped, inside = np.empty_like(x), np.empty_like(x)
    _sig_inside_both(x, clamped, inside)
    assert np.array_equal(clamped[:-1].view(np.int32), inside[:-1].view(np.int32))
    assert np.isnan(inside[-1])
    far = np.array([-120.0, 120.0], np.float32)
    c2, i2 = np.empty_like(far), np.empty_like(far)
    _sig_inside_both(far, c2, i2)
    assert not np.array_equal(c2.view(np.int32), i2.view(np.int32))
