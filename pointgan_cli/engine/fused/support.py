"""Which runs the fused engine trains, and the one line that says which fall back to torch.

Why a list: the fused kernel covers the study's options and most of the literature's; a spec it
does not cover (named in ``FALLBACKS``) still trains, on the torch engine, and the user is told
once. Tests hold this list to what the kernel actually refuses.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...games import DIRAC

if TYPE_CHECKING:
    from ...spec import RunSpec

#: What the fused engine does not run (spec field, value), and how the user would say it.
FALLBACKS: dict[tuple[str, str], str] = {
    ("game", DIRAC.name): f"--game {DIRAC.name}",
    ("consensus", "on"): "--consensus",
    ("device", "cuda"): "--device cuda with --instance-noise, --r1, --r2, --gp-weight, --lecam "
                        "or --update extragradient",
}


def fallback_reason(spec: RunSpec) -> str | None:
    """The first option of ``spec`` the fused engine does not run (its flag), or None."""
    if spec.engine != "fused":
        return None
    if spec.game == DIRAC.name:
        return FALLBACKS[("game", DIRAC.name)]
    if spec.consensus > 0:
        return FALLBACKS[("consensus", "on")]
    if spec.device != "cpu":
        from .cuda_support import cuda_fused

        if not cuda_fused(spec):
            return FALLBACKS[("device", "cuda")]
    return None


def uses_fused(spec: RunSpec) -> bool:
    """Whether ``spec`` trains on the fused engine."""
    return spec.engine == "fused" and fallback_reason(spec) is None


def fallback_line(specs: Iterable[RunSpec]) -> str | None:
    """One line naming what falls back to the torch engine (None: nothing does)."""
    counts: dict[str, int] = {}
    total = 0
    for s in specs:
        why = fallback_reason(s)
        if why is not None:
            counts[why] = counts.get(why, 0) + 1
            total += 1
    if not counts:
        return None
    what = ", ".join(f"{k} ({n})" if total > 1 else k for k, n in counts.items())
    return (f"note: the fused engine does not run {what}; "
            f"{'that run trains' if total == 1 else f'those {total} runs train'} on the torch "
            "engine")


def announce(specs: Iterable[RunSpec]) -> None:
    """Print ``fallback_line`` on stderr, if any."""
    line = fallback_line(specs)
    if line is not None:
        print(line, file=sys.stderr, flush=True)
