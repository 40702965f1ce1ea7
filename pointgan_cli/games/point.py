"""The study's game: a 1-neuron generator ``y = w x + b`` against a 1-2-1 discriminator; the
real data is the single value ``real_value``, reached at ``w = 0, b = real``."""

from __future__ import annotations

from .base import Game

G_NAMES = ("w", "b")
D_NAMES = ("W1_0", "W1_1", "c1_0", "c1_1", "W2_0", "W2_1", "c2")

POINT = Game(name="pointgan", title="pointgan", g_names=G_NAMES, d_names=D_NAMES,
             judged=("w", "b"), distance_words="|w| + |b - real|", bias_words="bias of b",
             names_itself=False, target_field="real_value", view="line",
             crossing_words="b - real")
