"""D's shape at one snapshot, as the evidence beside a run's class, in numpy (float64).

``diagnose run`` and the report of a sweep measure every member's discriminator this way
without importing torch; ``shapes`` keeps the torch forms (and the hand-built discriminators)
for the diagnoses that differentiate. The formulas are the same: ``d`` is the packed
discriminator (7,) ``[W1_0, W1_1, c1_0, c1_1, W2_0, W2_1, c2]``, ``g`` the generator (2,)
``[w, b]``; the x grid and the v range are sampled as torch samples them, point for point.
"""

from __future__ import annotations

import numpy as np

X_POINTS = 2048  # cells of the fixed x grid on [-1, 1]
SATURATION_GRAD = 1e-3  # |dD/dv| below this gives the generator (almost) nothing to follow
FLAT_RANGE = 0.05  # a D whose output varies less than this over the window is flat
# The window a flat D is judged on: [real - 3, real + 2], i.e. [-2, 3] for the study's real = 1.
WINDOW_BELOW, WINDOW_ABOVE = 3.0, 2.0


def window(spec) -> tuple[float, float]:
    """The v range a flat D is judged on, around the run's real value."""
    return spec.real_value - WINDOW_BELOW, spec.real_value + WINDOW_ABOVE


def probability(spec) -> bool:
    """Whether D's output is sigmoid(logit) (bce) or the raw logit the other losses use."""
    return spec.loss == "bce"


def x_grid(n: int = X_POINTS) -> np.ndarray:
    """Midpoints of n equal cells of [-1, 1]: a mean over them is E over x ~ U[-1, 1]."""
    return (np.arange(n, dtype=np.float64) + 0.5) * (2.0 / n) - 1.0


def linspace(lo: float, hi: float, n: int) -> np.ndarray:
    """``torch.linspace`` point for point: the first half counted up from ``lo``, the second
    down from ``hi``."""
    step = (hi - lo) / (n - 1)
    i = np.arange(n, dtype=np.float64)
    half = n // 2
    return np.where(np.arange(n) < half, lo + step * i, hi - step * (n - 1 - i))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def logits(d: np.ndarray, v: np.ndarray) -> np.ndarray:
    """D's logit at the values v."""
    h0 = np.tanh(d[0] * v + d[2])
    h1 = np.tanh(d[1] * v + d[3])
    return d[4] * h0 + d[5] * h1 + d[6]


def dlogit_dv(d: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The logit's slope ``sum_j W2_j W1_j (1 - tanh^2(W1_j v + c1_j))``."""
    t0 = np.tanh(d[0] * v + d[2])
    t1 = np.tanh(d[1] * v + d[3])
    return d[4] * d[0] * (1.0 - t0 * t0) + d[5] * d[1] * (1.0 - t1 * t1)


def saturation_fraction(d: np.ndarray, g: np.ndarray, threshold: float = SATURATION_GRAD,
                        n: int = X_POINTS, probability: bool = True) -> float:
    """Fraction of generated samples (by x measure) where ``|dD/dv| < threshold``: the share
    of the generator's output that a step-shaped D no longer pushes anywhere (``probability``
    False: D's output is its logit, as for the non-BCE losses)."""
    v = g[0] * x_grid(n) + g[1]
    if probability:
        p = _sigmoid(logits(d, v))
        slope = p * (1.0 - p) * dlogit_dv(d, v)
    else:
        slope = dlogit_dv(d, v)
    return float((np.abs(slope) < threshold).astype(np.float64).mean())


def d_range(d: np.ndarray, lo: float, hi: float, n: int = 1001,
            probability: bool = True) -> float:
    """``max D - min D`` over [lo, hi]: near zero when weight decay has flattened D."""
    z = logits(d, linspace(lo, hi, n))
    p = _sigmoid(z) if probability else z
    return float(p.max() - p.min())
