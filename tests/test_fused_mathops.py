"""The fused kernel's float32 exp: within 2 ulp of float64's over the sigmoids' whole range,
clamped to [-87, 88] (a normal number at both ends), NaN kept."""

from __future__ import annotations

import numpy as np
from numba import njit

from pointgan_cli.engine.fused.mathops import exp32, sig32


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
