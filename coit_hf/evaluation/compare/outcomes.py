"""Outcome rules of a pairwise comparison (gate, per-order judge scores, both orders combined) and the tally
with Wilson score intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

OUTCOMES = ("win", "tie", "loss")
COMBINATION_RULE = (
    "A wins if it wins in both orders, or wins in one and ties in the other; loses likewise; otherwise (win + loss, "
    "tie + tie) tie. An unreadable judge reply counts as a tie for its order. An answer failing the language gate "
    "loses without judging (both failing: tie)."
)


def order_outcome(scores: tuple[float, float] | None, a_first: bool) -> str | None:
    """A's outcome in one order from the judge's (Assistant 1, Assistant 2) scores; None when unreadable."""
    if scores is None:
        return None
    a, b = scores if a_first else (scores[1], scores[0])
    return "win" if a > b else "loss" if a < b else "tie"


def combine_orders(a_first: str | None, b_first: str | None) -> str:
    """A's final outcome from its outcomes with A shown first and with B shown first (see :data:`COMBINATION_RULE`)."""
    x, y = a_first or "tie", b_first or "tie"
    if x == y:
        return x
    if "tie" in (x, y):
        return x if y == "tie" else y
    return "tie"


def gate_outcome(a_passes: bool, b_passes: bool) -> str | None:
    """A's outcome decided by the language gate, or None when both answers pass (the judge decides)."""
    if a_passes and b_passes:
        return None
    if a_passes:
        return "win"
    if b_passes:
        return "loss"
    return "tie"


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion ``k / n`` in percent; (0, 100) when ``n == 0``."""
    if n == 0:
        return 0.0, 100.0
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return 100.0 * max(0.0, centre - half), 100.0 * min(1.0, centre + half)


def tally(records: Sequence[dict[str, Any]], confidence: float = 0.95) -> dict[str, Any]:
    """Win/tie/loss of A with Wilson intervals (percent) and gate rates, for the records given (one language or all)."""
    n = len(records)
    counts = {o: sum(1 for r in records if r["outcome"] == o) for o in OUTCOMES}
    out: dict[str, Any] = {"n": n, **counts}
    for outcome in OUTCOMES:
        out[f"{outcome}_rate"] = 100.0 * counts[outcome] / n if n else None
        out[f"{outcome}_ci"] = list(wilson_interval(counts[outcome], n, confidence))
    out["gate_rate_a"] = 100.0 * sum(not r["gate_a"] for r in records) / n if n else None
    out["gate_rate_b"] = 100.0 * sum(not r["gate_b"] for r in records) / n if n else None
    out["judged"] = sum(r["decided_by"] == "judge" for r in records)
    out["unreadable_replies"] = sum(r.get("unreadable", 0) for r in records)
    return out


def build_comparison(records: Sequence[dict[str, Any]], *, run_a: dict, run_b: dict, judge: dict, gate: dict,
                     confidence: float = 0.95, notes: Sequence[str] = ()) -> dict[str, Any]:
    """The comparison report: runs, judge, gate, rule, per-language tallies and the overall tally."""
    langs = sorted({r["lang"] for r in records})
    return {
        "a": run_a, "b": run_b, "judge": judge, "gate": gate, "combination": COMBINATION_RULE,
        "confidence": confidence,
        "languages": {lang: tally([r for r in records if r["lang"] == lang], confidence) for lang in langs},
        "overall": tally(records, confidence),
        "notes": list(notes),
    }
