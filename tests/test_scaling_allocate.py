"""Budgeted allocation: exact (KKT) solution equals the brute-force grid optimum and spends the budget exactly."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from coit_hf.errors import ConfigError
from coit_hf.scaling.allocate import allocate, mixture_dict
from coit_hf.scaling.laws import FitResult


def _fit(lang: str, family: str, params: dict[str, float], similarity: float | None = None) -> FitResult:
    k = len(params)
    return FitResult(lang=lang, family=family, params=params, stderr={}, cov=np.eye(k).tolist(), n_obs=10,
                     r2=1.0, rmse=0.0, sigma=0.0, aic=0.0, aicc=0.0, bic=0.0, dof=10 - k, similarity=similarity)


MIXED = {
    "zh": _fit("zh", "log", {"a": 4.0, "b": 1.0}),
    "ar": _fit("ar", "power", {"a": 40.0, "b": 0.6, "c": 30.0}),
    "vi": _fit("vi", "simlog", {"a": 6.0, "b": 0.0}, similarity=0.5),
}


def _brute_force(fits, budget, lo, hi, weights=None):
    """Best integer allocation by enumeration of every grid point with sum == budget."""
    langs = list(fits)
    weights = weights or {}
    best, best_alloc = -math.inf, None
    ranges = [range(int(lo[lang]), int(min(hi[lang], budget)) + 1) for lang in langs[:-1]]
    for head in itertools.product(*ranges):
        last = budget - sum(head)
        if not lo[langs[-1]] <= last <= hi[langs[-1]]:
            continue
        alloc = dict(zip(langs, [*head, last], strict=True))
        value = sum(weights.get(lang, 1.0) * float(fits[lang].predict(n)) for lang, n in alloc.items())
        if value > best:
            best, best_alloc = value, alloc
    return best, best_alloc


@pytest.mark.parametrize(
    ("budget", "lo", "hi", "weights"),
    [
        (150, {"zh": 1, "ar": 1, "vi": 1}, {"zh": 1000, "ar": 1000, "vi": 1000}, None),  # no bound binds
        (150, {"zh": 1, "ar": 1, "vi": 60}, {"zh": 1000, "ar": 1000, "vi": 1000}, None),  # a minimum binds
        (150, {"zh": 1, "ar": 1, "vi": 1}, {"zh": 30, "ar": 1000, "vi": 1000}, None),  # a maximum binds
        (120, {"zh": 5, "ar": 5, "vi": 5}, {"zh": 40, "ar": 20, "vi": 200}, {"zh": 2.0, "ar": 0.5}),  # both + weights
        (90, {"zh": 1, "ar": 1, "vi": 1}, {"zh": 90, "ar": 90, "vi": 90}, {"vi": 0.0}),  # weight 0 -> minimum
    ],
)
def test_integer_allocation_equals_brute_force(budget, lo, hi, weights):
    result = allocate(MIXED, budget, minimum=lo, maximum=hi, weights=weights)
    assert sum(result.counts.values()) == budget
    assert all(lo[k] <= v <= hi[k] for k, v in result.counts.items())
    best, best_alloc = _brute_force(MIXED, budget, lo, hi, weights)
    assert result.objective == pytest.approx(best, abs=1e-9), (result.counts, best_alloc)
    # Continuous optimum is at least as good as any grid point and lies within one grid step of the grid optimum.
    cont_value = sum((weights or {}).get(k, 1.0) * float(MIXED[k].predict(v)) for k, v in result.continuous.items())
    assert cont_value >= best - 1e-9
    assert sum(result.continuous.values()) == pytest.approx(budget, abs=1e-6)
    for lang in MIXED:
        assert abs(result.continuous[lang] - best_alloc[lang]) <= 1.0 + 1e-6
    assert result.kkt_residual < 1e-6


def test_status_reports_binding_bounds():
    result = allocate(MIXED, 150, minimum={"vi": 80}, maximum={"zh": 30})
    assert result.status == {"zh": "upper", "ar": "interior", "vi": "lower"}
    assert result.counts["zh"] == 30 and result.counts["vi"] == 80


def test_large_budget_matches_coarse_grid():
    fits = {
        "zh": _fit("zh", "power", {"a": 120.0, "b": 0.3, "c": 60.0}),
        "ar": _fit("ar", "power", {"a": 60.0, "b": 0.5, "c": 40.0}),
        "hi": _fit("hi", "log", {"a": 2.5, "b": 0.0}),
    }
    budget, step = 300_000, 1000
    result = allocate(fits, budget, minimum=1000, maximum={"ar": 50_000})
    assert sum(result.counts.values()) == budget and result.counts["ar"] <= 50_000
    grid = {k: range(1000, budget + 1, step) for k in fits}
    best, best_alloc = -math.inf, None
    for zh in grid["zh"]:
        for ar in range(1000, 50_001, step):
            hi_n = budget - zh - ar
            if hi_n < 1000:
                continue
            value = float(fits["zh"].predict(zh) + fits["ar"].predict(ar) + fits["hi"].predict(hi_n))
            if value > best:
                best, best_alloc = value, {"zh": zh, "ar": ar, "hi": hi_n}
    assert result.objective >= best - 1e-9
    for lang in fits:
        assert abs(result.counts[lang] - best_alloc[lang]) <= step


def test_infeasible_budgets_raise():
    with pytest.raises(ConfigError, match="below the sum of the minimums"):
        allocate(MIXED, 10, minimum=5)
    with pytest.raises(ConfigError, match="exceeds the sum of the maximums"):
        allocate(MIXED, 100, maximum=10)
    with pytest.raises(ConfigError, match="integer budget"):
        allocate(MIXED, 100.5)


def test_mixture_dict_layout():
    data = mixture_dict({"zh": 10, "ar": 5}, corpus_template="org/coit-{lang}")
    subsets = [(d["path"], d["subset"], d.get("num_rows")) for d in data["datasets"]]
    assert subsets == [
        ("org/coit-zh", "translation_en-zh", 10),
        ("org/coit-ar", "translation_en-ar", 5),
        ("org/coit-zh", "alpaca_en", None),
        ("org/coit-zh", "alpaca_zh", None),
        ("org/coit-ar", "alpaca_ar", None),
    ]
    with pytest.raises(ConfigError, match="no corpus"):
        mixture_dict({"zh": 1})
