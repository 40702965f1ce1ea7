"""The Dirac-GAN of Mescheder, Geiger and Nowozin (2018): G outputs the constant theta, D is
``D(x) = psi x``, the real data is a Dirac at 0 and the equilibrium is ``(theta, psi) =
(0, 0)``. Judged as pointgan's (w, b) with target 0, so its distance ``|theta| + |psi|`` is
the L1 form of ``|w| + |b - real|`` and one tolerance reads alike in both games. (Its trainer,
initial draws and expected field are torch: ``engine.dirac``.)"""

from __future__ import annotations

from .base import Game

G_NAMES = ("theta",)
D_NAMES = ("psi",)
SEED_INIT_RANGE = 2.0  # --init seed: theta, psi uniform in [-2, 2)

DIRAC = Game(name="dirac", title="Dirac-GAN", g_names=G_NAMES, d_names=D_NAMES,
             judged=("theta", "psi"), distance_words="|theta| + |psi|", bias_words="psi",
             names_itself=True, target_field=None, view="phase",
             crossing_words="psi")


def distance(theta: float, psi: float) -> float:
    """Distance to the equilibrium (0, 0): ``|theta| + |psi|``."""
    return DIRAC.distance(theta, psi, 0.0)
