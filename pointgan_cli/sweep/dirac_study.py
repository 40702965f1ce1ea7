"""`--study dirac`: every training method of Mescheder, Geiger and Nowozin (2018) on the
Dirac-GAN, with simultaneous and alternating updates, from the paper's start (1, 1), beside the
verdict the paper states for it; and the stabilisers the paper does not treat, beside what the
linearisation at the equilibrium predicts (our derivation, labelled as such).

Settings as the authors' Dirac-GAN code draws the figures: plain gradient descent with step
h = 0.1 for both players; R1/R2 and consensus gamma = 0.3; instance noise sigma = 1 (1,024
draws per step, the code averages 1,000); WGAN-GP weight 0.5 (gamma = 1 on the paper's
gamma/2 scale; centred at 1 here, at 0.3 in that code). The budget, 4,000 steps (time 400),
is long enough for the slowest convergent method here (extragradient, whose contraction per
step is only 1 - h^2 f'(0)^2 / 2) to get inside the tolerance; it was fixed from these rates,
not from which runs converge.
"""

from __future__ import annotations

from typing import Any

#: Every member of the study (on top of the defaults; lr and update per row).
BASE: dict[str, Any] = {
    "game": "dirac", "init": "1,1", "optimizer": "sgd", "lr_g": 0.1, "lr_d": 0.1,
    "steps": 4000, "snapshot_every": 5, "checkpoint_every": 4000, "loss": "bce",
    "g_loss": "minimax",
}
UPDATES = ("simultaneous", "alternating")
CONVERGES, DOES_NOT = "converges", "does not converge"

PAPER = "Mescheder et al. 2018"
LINEAR = "linearisation (not in the paper)"

#: (method, overrides, updates, expected verdict, where the expectation comes from, why)
METHODS: list[tuple[str, dict[str, Any], tuple[str, ...], str, str, str]] = [
    ("GAN", {}, UPDATES, DOES_NOT, PAPER,
     "eigenvalues +-f'(0)i: simultaneous GD spirals out, alternating GD circles"),
    ("NS-GAN", {"g_loss": "non-saturating"}, UPDATES, DOES_NOT, PAPER,
     "same Jacobian at the equilibrium as the GAN (+-f'(0)i)"),
    ("WGAN", {"loss": "wgan"}, UPDATES, DOES_NOT, PAPER,
     "WGAN with finite D steps is not convergent (eigenvalues +-i)"),
    ("WGAN-GP", {"loss": "wgan", "gp_weight": 0.5}, UPDATES, DOES_NOT, PAPER,
     "WGAN-GP with finite D steps is not convergent"),
    ("instance noise", {"instance_noise": 1.0, "batch_size": 1024}, UPDATES, CONVERGES, PAPER,
     "eigenvalues f''(0) s^2 +- sqrt(f''(0)^2 s^4 - f'(0)^2): real parts < 0"),
    ("R1", {"r1": 0.3}, UPDATES, CONVERGES, PAPER,
     "eigenvalues -g/2 +- sqrt(g^2/4 - f'(0)^2): real parts < 0"),
    ("R2", {"r2": 0.3}, UPDATES, CONVERGES, PAPER,
     "eigenvalues -g/2 +- sqrt(g^2/4 - f'(0)^2): real parts < 0"),
    ("consensus", {"consensus": 0.3}, UPDATES, CONVERGES, PAPER,
     "eigenvalues -g f'(0)^2 +- f'(0)i: real parts < 0"),
    ("extragradient", {}, ("extragradient",), CONVERGES, LINEAR,
     "operator eigenvalues 1 - h^2 f'(0)^2 +- h f'(0)i, modulus < 1"),
    ("optimistic", {}, ("optimistic",), CONVERGES, LINEAR,
     "optimistic GD contracts the +-f'(0)i rotation for small h"),
    ("LeCam", {"lecam": 0.3}, UPDATES, DOES_NOT, LINEAR,
     "adds nothing to the Jacobian at the equilibrium: +-f'(0)i remain"),
]

SHORT = {"simultaneous": "sim", "alternating": "alt", "extragradient": "EG",
         "optimistic": "OG"}


def label(method: str, update: str) -> str:
    return method if update in ("extragradient", "optimistic") else f"{method} {SHORT[update]}"


def variants() -> list[tuple[str, dict[str, Any]]]:
    """(group label, overrides) for every row of the study, in the figure's order."""
    return [(label(m, u), ov) for m, u, ov in rows()]


def rows() -> list[tuple[str, str, dict[str, Any]]]:
    """(method, update, overrides) for every row of the study, in the figure's order."""
    return [(m, u, {**BASE, **ov, "update": u}) for m, ov, updates, *_ in METHODS
            for u in updates]


def expectation(group: str) -> dict[str, str] | None:
    """What the paper (or the linearisation) says about a study group; None for others."""
    for m, _ov, updates, verdict, source, why in METHODS:
        for u in updates:
            if group == label(m, u):
                return {"expected": verdict, "source": source, "why": why}
    return None
