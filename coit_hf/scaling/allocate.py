"""Budgeted allocation of translation pairs across languages from fitted scaling laws, and the m-model mixture.

Problem: maximise ``Σ_l w_l·f_l(n_l)`` subject to ``Σ_l n_l = B`` and ``lo_l ≤ n_l ≤ hi_l``. With concave
increasing laws this is convex, and the KKT conditions give the water-filling solution
``n_l(λ) = clip((f_l')⁻¹(λ/w_l), lo_l, hi_l)``; ``Σ n_l(λ)`` is non-increasing in the multiplier ``λ``, so a
bisection on ``λ`` finds the exact optimum. The integer allocation starts just below the continuous optimum and
adds single pairs by largest marginal gain, which is exact for separable concave objectives and spends the budget
exactly.
"""

from __future__ import annotations

import heapq
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from coit_hf.errors import ConfigError
from coit_hf.files import write_text
from coit_hf.scaling.laws import FitResult

logger = logging.getLogger(__name__)


@dataclass
class Allocation:
    """The result of :func:`allocate`.

    Attributes:
        counts: translation pairs per language (integers summing exactly to the budget when ``integer=True``).
        continuous: the continuous KKT optimum per language.
        multiplier: the budget constraint's Lagrange multiplier ``λ`` (marginal weighted score per pair).
        status: per language ``"lower"``, ``"upper"`` or ``"interior"`` (which bound binds at the optimum).
        predicted: predicted score per language at ``counts``.
        objective: ``Σ w_l·f_l(counts_l)``.
        kkt_residual: largest violation of the KKT conditions at the continuous optimum (relative to ``λ``).
        budget: the total budget.
    """

    counts: dict[str, float]
    continuous: dict[str, float]
    multiplier: float
    status: dict[str, str]
    predicted: dict[str, float]
    objective: float
    kkt_residual: float
    budget: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        return {
            "budget": self.budget,
            "counts": self.counts,
            "continuous": self.continuous,
            "multiplier": self.multiplier,
            "status": self.status,
            "predicted": self.predicted,
            "objective": self.objective,
            "kkt_residual": self.kkt_residual,
        }


def _bound(value: Mapping[str, float] | float | None, lang: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, Mapping):
        return float(value.get(lang, default))
    return float(value)


def allocate(
    fits: Mapping[str, FitResult],
    budget: float,
    *,
    minimum: Mapping[str, float] | float | None = None,
    maximum: Mapping[str, float] | float | None = None,
    weights: Mapping[str, float] | float | None = None,
    integer: bool = True,
    tol: float = 1e-12,
) -> Allocation:
    """Split ``budget`` translation pairs across the languages of ``fits`` to maximise the weighted predicted score.

    Args:
        fits: fitted law per language (each must be concave increasing or flat/decreasing; the latter get their
            minimum).
        budget: total translation pairs to spend (an integer when ``integer``).
        minimum: per-language (or common) lower bound, default 1 (laws with ``ln(n)`` need ``n ≥ 1``).
        maximum: per-language (or common) upper bound, e.g. the pairs available; default unbounded.
        weights: per-language (or common) weight of the predicted score, default 1.
        integer: round to integers that sum exactly to ``budget``.
        tol: relative tolerance of the multiplier bisection.

    Returns:
        An :class:`Allocation`.

    Raises:
        ConfigError: infeasible bounds or budget, or a non-concave law.
    """
    langs = list(fits)
    if not langs:
        raise ConfigError("no languages to allocate")
    lo = np.array([_bound(minimum, lang, 1.0) for lang in langs])
    hi = np.array([_bound(maximum, lang, math.inf) for lang in langs])
    w = np.array([_bound(weights, lang, 1.0) for lang in langs])
    for i, lang in enumerate(langs):
        if lo[i] < 1:
            raise ConfigError(f"{lang}: minimum must be at least 1 translation pair, got {lo[i]:g}")
        if hi[i] < lo[i]:
            raise ConfigError(f"{lang}: maximum {hi[i]:g} is below the minimum {lo[i]:g}")
        if w[i] < 0:
            raise ConfigError(f"{lang}: weight must be non-negative, got {w[i]:g}")
        fit = fits[lang]
        if not fit.law.is_concave_increasing(fit.theta, fit.similarity):
            logger.warning("%s: fitted %s law is not increasing; it gets its minimum", lang, fit.family)
    if integer:
        if budget != int(budget):
            raise ConfigError(f"integer allocation needs an integer budget, got {budget}")
        lo, hi = np.ceil(lo), np.floor(hi)
        if np.any(hi < lo):
            raise ConfigError("after rounding the bounds to integers some maximum is below its minimum")
    if budget < lo.sum() - 1e-9:
        raise ConfigError(f"budget {budget:g} is below the sum of the minimums {lo.sum():g}")
    if budget > hi.sum() + 1e-9:
        raise ConfigError(f"budget {budget:g} exceeds the sum of the maximums {hi.sum():g} (the data available)")

    def increasing(i: int) -> bool:
        fit = fits[langs[i]]
        return w[i] > 0 and fit.law.is_concave_increasing(fit.theta, fit.similarity)

    def n_of(lam: float) -> np.ndarray:
        out = lo.copy()
        for i, lang in enumerate(langs):
            if increasing(i):
                fit = fits[lang]
                out[i] = min(max(fit.law.inverse_derivative(lam / w[i], fit.theta, fit.similarity), lo[i]), hi[i])
        return out

    def marginal(i: int, n: float) -> float:
        fit = fits[langs[i]]
        return float(w[i] * fit.derivative(n)) if math.isfinite(n) else 0.0

    # Bracket λ: at λ_hi every language sits at its minimum, at λ_lo at its maximum (or beyond the budget).
    active = [i for i in range(len(langs)) if increasing(i)]
    lam_hi = max((marginal(i, lo[i]) for i in active), default=1.0) * 2.0 + 1e-300
    lam_lo = lam_hi
    while n_of(lam_lo).sum() < budget and lam_lo > 1e-300:
        lam_lo /= 16.0
    for _ in range(400):
        mid = math.sqrt(lam_lo * lam_hi)
        if n_of(mid).sum() > budget:
            lam_lo = mid
        else:
            lam_hi = mid
        if lam_hi / lam_lo - 1.0 < tol:
            break
    lam = math.sqrt(lam_lo * lam_hi)
    cont = n_of(lam)
    cont = _spend_rest(cont, lo, hi, budget, [marginal(i, cont[i]) for i in range(len(langs))])

    status, kkt = {}, 0.0
    for i, lang in enumerate(langs):
        g = marginal(i, cont[i]) if increasing(i) else min(marginal(i, cont[i]), 0.0)
        if cont[i] <= lo[i] * (1 + 1e-9):
            status[lang] = "lower"
            kkt = max(kkt, max(g - lam, 0.0) / lam)  # at the minimum the marginal may not exceed λ
        elif cont[i] >= hi[i] * (1 - 1e-9):
            status[lang] = "upper"
            kkt = max(kkt, max(lam - g, 0.0) / lam)  # at the maximum the marginal may not fall below λ
        else:
            status[lang] = "interior"
            kkt = max(kkt, abs(g - lam) / lam)

    counts = _integer_allocation(fits, langs, w, lo, hi, cont, int(budget)) if integer else cont
    predicted = {lang: float(fits[lang].predict(counts[i])) for i, lang in enumerate(langs)}
    objective = float(sum(w[i] * predicted[lang] for i, lang in enumerate(langs)))
    cast = int if integer else float
    return Allocation(
        counts={lang: cast(counts[i]) for i, lang in enumerate(langs)},
        continuous={lang: float(cont[i]) for i, lang in enumerate(langs)},
        multiplier=lam,
        status=status,
        predicted=predicted,
        objective=objective,
        kkt_residual=kkt,
        budget=float(budget),
    )


def _spend_rest(cont: np.ndarray, lo: np.ndarray, hi: np.ndarray, budget: float, marg: list[float]) -> np.ndarray:
    """Put the (tiny) bisection residual, or a flat remainder, where there is room, highest marginal first."""
    cont = cont.copy()
    rest = budget - cont.sum()
    order = sorted(range(len(cont)), key=lambda i: -marg[i])
    for i in order if rest > 0 else reversed(order):
        if abs(rest) <= 0:
            break
        room = (hi[i] - cont[i]) if rest > 0 else (lo[i] - cont[i])
        step = min(rest, room) if rest > 0 else max(rest, room)
        cont[i] += step
        rest -= step
    return cont


def _integer_allocation(fits, langs, w, lo, hi, cont, budget: int) -> np.ndarray:
    """Exact integer optimum of the separable concave problem: greedy by marginal gain from below ``cont``."""
    counts = np.maximum(lo, np.floor(cont) - 1.0)
    rest = budget - int(counts.sum())
    if rest < 0:  # cannot happen with floor ≤ cont, kept as a guard
        raise ConfigError("internal error: rounding overshot the budget")

    def gain(i: int, n: float) -> float:
        f = fits[langs[i]]
        return float(w[i] * (f.predict(n + 1.0) - f.predict(n)))

    heap = [(-gain(i, counts[i]), i) for i in range(len(langs)) if counts[i] + 1 <= hi[i]]
    heapq.heapify(heap)
    while rest > 0:
        if not heap:
            raise ConfigError("budget exceeds the sum of the maximums")
        _, i = heapq.heappop(heap)
        counts[i] += 1
        rest -= 1
        if counts[i] + 1 <= hi[i]:
            heapq.heappush(heap, (-gain(i, counts[i]), i))
    return counts


def corpus_for(lang: str, corpora: Mapping[str, str] | None, template: str | None) -> str:
    """The corpus folder / Hub id of ``lang``: an explicit mapping entry, else ``template.format(lang=lang)``."""
    if corpora and lang in corpora:
        return corpora[lang]
    if template:
        return template.format(lang=lang)
    raise ConfigError(f"no corpus for language {lang!r}: pass --corpus {lang}=PATH or --corpus-template")


def translation_subset(lang: str, direction: str = "en-x") -> str:
    """Mixture subset name of the English↔``lang`` translation rows (the corpus builder's ``translation_SRC-TGT`` subset names)."""
    if direction == "en-x":
        return f"translation_en-{lang}"
    if direction == "x-en":
        return f"translation_{lang}-en"
    raise ConfigError(f"direction must be 'en-x' or 'x-en', got {direction!r}")


def mixture_dict(
    counts: Mapping[str, int],
    *,
    corpora: Mapping[str, str] | None = None,
    corpus_template: str | None = None,
    include_general: bool = True,
    direction: str = "en-x",
    seed: int = 42,
    split: str = "train",
) -> dict[str, Any]:
    """Build a mixture (the YAML shape ``coit-hf data mixture`` reads) with ``counts[lang]`` translation pairs per language.

    With ``include_general`` the Alpaca data of every language (``alpaca_<lang>``) and English Alpaca
    (``alpaca_en``, once, from the first language's corpus) are added, as in the paper's m-model.
    """
    datasets: list[dict[str, Any]] = []
    for lang, n in counts.items():
        path = corpus_for(lang, corpora, corpus_template)
        entry: dict[str, Any] = {
            "path": path,
            "name": "translation",
            "split": split,
            "subset": translation_subset(lang, direction),
            "num_rows": int(n),
        }
        datasets.append(entry)
    if include_general:
        langs = list(counts)
        for i, lang in enumerate(langs):
            path = corpus_for(lang, corpora, corpus_template)
            if i == 0:
                datasets.append({"path": path, "name": "general", "split": split, "subset": "alpaca_en"})
            if lang != "en":
                datasets.append({"path": path, "name": "general", "split": split, "subset": f"alpaca_{lang}"})
    return {"seed": seed, "datasets": datasets, "test_split_size": None}


def write_yaml(data: Mapping[str, Any], path: str | os.PathLike, header: str = "") -> Path:
    """Write ``data`` as YAML to ``path`` atomically (temp file + rename), with ``header`` as leading comments."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"# {line}\n" for line in header.splitlines()) + yaml.safe_dump(
        dict(data), sort_keys=False, allow_unicode=True
    )
    return write_text(path, text)


def write_mixture(allocation: Allocation, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Write the m-model mixture YAML of ``allocation`` (see :func:`mixture_dict` for ``kwargs``)."""
    data = mixture_dict(allocation.counts, **kwargs)
    header = (
        f"m-model mixture from `coit-hf scaling allocate`: budget {allocation.budget:g} translation pairs\n"
        + ", ".join(f"{k}={v} ({allocation.status[k]})" for k, v in allocation.counts.items())
        + f"\npredicted objective {allocation.objective:.3f}; multiplier {allocation.multiplier:.4g}"
    )
    return write_yaml(data, path, header)
