"""What a game is to everything around its trainer: the names of its parameters, the two
numbers the success window judges, its distance to the target, its metrics rows and summary
fields, and the words its verdicts and charts use. Pure Python (no torch): stores, reports,
charts and the CLI choose their wording here instead of asking which game a run played."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .. import verdict

LOSSES = ("g_loss", "d_loss", "d_real", "d_fake")  # a snapshot's losses and D outputs


@dataclass(frozen=True)
class Game:
    """One game. ``judged``: the two parameters the window judges as (w, b) against the
    target ``(0, target(spec))`` with ``verdict``'s rules; ``distance_words`` and
    ``bias_words`` name, in this game's terms, the distance and the mean offset of the second
    one, as verdict reasons and charts print them."""

    name: str  # the spec's ``game``
    title: str  # in prose
    g_names: tuple[str, ...]
    d_names: tuple[str, ...]
    judged: tuple[str, str]
    distance_words: str
    bias_words: str
    names_itself: bool  # summaries say ``"game": name`` (the first game's omit it)
    target_field: str | None  # the spec field holding the target; None: 0
    #: how the report page draws a run of this game (``report/assets/run.js``'s ``VIEWS``):
    #: "line" (G's line and D's curve over the data axis, the losses expected over x) or
    #: "phase" (the parameters over the game's vector field, the losses at that point)
    view: str
    #: what changes sign each time a run circles the target (the second judged parameter
    #: against its target), as verdict reasons and the report's diagnoses say it
    crossing_words: str

    @property
    def params(self) -> tuple[str, ...]:
        """Every parameter as a metrics row and the batch store name it: G's, then D's as
        ``d_<name>`` unless judged."""
        return self.g_names + tuple(n if n in self.judged else f"d_{n}" for n in self.d_names)

    def target(self, spec: Any) -> float:
        """The value the second judged parameter should reach (the first: 0)."""
        return 0.0 if self.target_field is None else float(getattr(spec, self.target_field))

    def distance(self, x: float, y: float, target: float) -> float:
        return verdict.distance(x, y, target)

    def judge(self, steps: Sequence[int], xs: Sequence[float], ys: Sequence[float],
              spec: Any, *, diverged: bool = False,
              diverged_step: int | None = None,
              entered_at: int | None = None) -> dict[str, Any]:
        """``verdict.judge`` of a success window of (step, x, y) in this game's words."""
        return verdict.judge(steps, xs, ys, real=self.target(spec), tolerance=spec.tolerance,
                             total_steps=spec.steps, window=spec.success_window,
                             diverged=diverged, diverged_step=diverged_step,
                             entered_at=entered_at, distance_words=self.distance_words,
                             bias_words=self.bias_words, crossing_words=self.crossing_words)

    def metrics_row(self, step: int, g: Sequence[float], d: Sequence[float],
                    losses: Sequence[float], target: float) -> dict[str, Any]:
        """One snapshot as a metrics row: step, the judged parameters, their distance, the
        losses (``LOSSES``), then the other parameters. Run directories and the batch store
        write this same row."""
        values = [*g, *d]
        (kx, ix), (ky, iy), others = self._row_layout
        x, y = values[ix], values[iy]
        row: dict[str, Any] = {"step": step, kx: x, ky: y, "distance": self.distance(x, y, target)}
        row.update(zip(LOSSES, losses))
        row.update((k, values[i]) for k, i in others)
        return row

    @cached_property
    def _row_layout(self) -> tuple[tuple[str, int], tuple[str, int], tuple[tuple[str, int], ...]]:
        """Where ``metrics_row`` finds each key in ``[*g, *d]``: the two judged parameters,
        then the others in row order (worked out once: a sweep's report builds every
        member's rows)."""
        at = dict(zip(self.g_names, range(len(self.g_names)))) | {
            n if n in self.judged else f"d_{n}": len(self.g_names) + j
            for j, n in enumerate(self.d_names)}
        return ((self.judged[0], at[self.judged[0]]), (self.judged[1], at[self.judged[1]]),
                tuple((k, i) for k, i in at.items() if k not in self.judged))

    def judged_of(self, row: dict[str, Any]) -> tuple[float, float]:
        """The two numbers the success window judges, from a metrics row."""
        return float(row[self.judged[0]]), float(row[self.judged[1]])

    def summary_params(self, g: Sequence[float], d: Sequence[float],
                       target: float) -> dict[str, Any]:
        """A summary's leading fields: the final judged parameters and their distance."""
        row = self.metrics_row(0, g, d, (), target)
        out: dict[str, Any] = {"game": self.name} if self.names_itself else {}
        out.update((k, row[k]) for k in (*self.judged, "distance"))
        return out

    def summary_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """``verdict.summary_fields`` with its parameter names in this game's terms: the
        verdict judges (x, y) as (w, b), so ``bias_b`` is ``bias_<y>`` and the evidence's
        ``time_avg_w``/``time_avg_b`` are ``time_avg_<x>``/``time_avg_<y>``."""
        x, y = self.judged
        if (x, y) == ("w", "b"):
            return fields
        out = {(f"bias_{y}" if k == "bias_b" else k): v for k, v in fields.items()}
        ev = dict(out["verdict"])
        for a, b in (("time_avg_w", f"time_avg_{x}"), ("time_avg_b", f"time_avg_{y}")):
            if a in ev:
                ev[b] = ev.pop(a)
        out["verdict"] = ev
        return out

    @property
    def curves_caption(self) -> str:
        x, y = self.judged
        return f"{x}, {y} and the distance {self.distance_words}"

