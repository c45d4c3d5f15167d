"""Scaling-law fitting: parameter recovery within noise-derived tolerances, family selection, intervals, I/O."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coit_hf.errors import InputError
from coit_hf.scaling import observations
from coit_hf.scaling.laws import (
    FitResult,
    fit_law,
    fit_similarity_law,
    get_family,
    joint_criterion,
    select_family,
)

SIGMA = 0.5
SIZES = np.repeat(np.geomspace(100, 200_000, 10), 3)  # 10 data sizes, 3 seeds each

CASES = {
    "log": ({"a": 3.0, "b": 4.0}, None),
    "power": ({"a": 90.0, "b": 0.35, "c": 58.0}, None),
    "simlog": ({"a": 5.0, "b": 2.0}, 0.6),
}


def _expected_stderr(family: str, theta: list[float], similarity: float | None) -> np.ndarray:
    """Standard errors implied by the noise level at the true parameters: σ·sqrt(diag((JᵀJ)⁻¹))."""
    jac = get_family(family).param_gradient(SIZES, theta, similarity)
    return SIGMA * np.sqrt(np.diag(np.linalg.inv(jac.T @ jac)))


def _data(family: str, seed: int) -> tuple[np.ndarray, list[float], float | None]:
    params, sim = CASES[family]
    law = get_family(family)
    theta = [params[k] for k in law.param_names]
    y = law.value(SIZES, theta, sim) + np.random.default_rng(seed).normal(0, SIGMA, SIZES.shape)
    return y, theta, sim


@pytest.mark.parametrize("family", list(CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_recovers_parameters_within_noise_tolerance(family, seed):
    y, theta, sim = _data(family, seed)
    fit = fit_law(SIZES, y, family, lang="xx", similarity=sim)
    expected = _expected_stderr(family, theta, sim)
    got = np.array(fit.theta)
    # 4 standard errors implied by the noise: a failure rate of ~6e-5 per parameter for a correct fitter.
    assert np.all(np.abs(got - np.array(theta)) <= 4 * expected), (got, theta, expected)
    reported = np.array([fit.stderr[k] for k in get_family(family).param_names])
    assert np.all((reported > 0.5 * expected) & (reported < 2.0 * expected))
    assert abs(fit.sigma - SIGMA) < 0.35 * SIGMA
    assert fit.r2 > 0.9 and fit.dof == len(SIZES) - len(theta)


@pytest.mark.parametrize("family", ["log", "power"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_selection_picks_generating_family(family, seed):
    y, _, _ = _data(family, seed)
    best, fits = select_family(SIZES, y, ("log", "power"), criterion="aicc", lang="xx")
    assert set(fits) == {"log", "power"}
    assert best.family == family, {k: f.aicc for k, f in fits.items()}


def _joint_data(seed: int, proportional: bool):
    rng = np.random.default_rng(seed)
    sims = {"zh": 0.4, "ar": 0.7, "vi": 1.0}
    intercepts = {"zh": 1.0, "ar": 3.0, "vi": 6.0}
    slopes = {"zh": 4.0, "ar": 1.0, "vi": 6.5}  # not proportional to the similarity
    data = {}
    for lang, s in sims.items():
        slope = 5.0 * s if proportional else slopes[lang]
        y = slope * np.log(SIZES) + intercepts[lang] + rng.normal(0, SIGMA, SIZES.shape)
        data[lang] = (SIZES, y)
    return data, sims


@pytest.mark.parametrize("seed", [0, 1])
def test_joint_similarity_law_selected_when_slopes_scale_with_similarity(seed):
    data, sims = _joint_data(seed, proportional=True)
    joint = fit_similarity_law(data, sims)
    independent = {lang: fit_law(n, y, "log", lang=lang) for lang, (n, y) in data.items()}
    assert joint_criterion(joint, "bic") < joint_criterion(independent, "bic")
    a = joint["zh"].params["a"]
    assert abs(a - 5.0) < 4 * joint["zh"].stderr["a"]
    assert all(f.params["a"] == a and f.joint for f in joint.values())
    assert abs(joint["vi"].params["b"] - 6.0) < 4 * joint["vi"].stderr["b"]


def test_independent_logs_win_when_slopes_do_not_scale_with_similarity():
    data, sims = _joint_data(0, proportional=False)
    joint = fit_similarity_law(data, sims)
    independent = {lang: fit_law(n, y, "log", lang=lang) for lang, (n, y) in data.items()}
    assert joint_criterion(independent, "bic") < joint_criterion(joint, "bic")


def test_prediction_interval_coverage_and_confidence_band():
    y, theta, _ = _data("power", 5)
    fit = fit_law(SIZES, y, "power")
    grid = np.geomspace(100, 200_000, 40)
    lo, hi = fit.interval(grid, level=0.95, kind="prediction")
    clo, chi = fit.interval(grid, level=0.95, kind="confidence")
    assert np.all(hi - lo > chi - clo) and np.all(chi > clo)
    truth = get_family("power").value(grid, theta)
    assert np.all((clo - 3 * SIGMA < truth) & (truth < chi + 3 * SIGMA))
    rng = np.random.default_rng(123)
    draws = truth + rng.normal(0, SIGMA, (500, grid.size))
    coverage = np.mean((draws >= lo) & (draws <= hi))
    assert 0.9 < coverage < 0.99


def test_bootstrap_intervals_cover_truth_and_match_covariance():
    y, theta, _ = _data("log", 7)
    fit = fit_law(SIZES, y, "log", n_bootstrap=200, seed=3)
    for name, true in zip(("a", "b"), theta, strict=True):
        low, _, high = fit.bootstrap[name]
        assert low < true < high
        ratio = (high - low) / (2 * 1.96 * fit.stderr[name])
        assert 0.6 < ratio < 1.6


def test_fit_result_roundtrip_and_errors(tmp_path):
    y, _, _ = _data("power", 0)
    fit = fit_law(SIZES, y, "power", lang="zh", metric="spbleu")
    path = tmp_path / "fits.json"
    path.write_text(json.dumps({"fits": {"zh": fit.to_dict()}}))
    again = observations.read_fits(path)["zh"]
    assert again.params == fit.params and again.family == "power" and again.metric == "spbleu"
    np.testing.assert_allclose(again.predict([1e3, 1e4]), fit.predict([1e3, 1e4]))
    with pytest.raises(InputError, match="family"):
        FitResult.from_dict({"lang": "zh", "params": {}}, path=path)
    with pytest.raises(InputError, match="positive"):
        fit_law([0, 10, 100], [1, 2, 3], "log")
    with pytest.raises(InputError, match="distinct"):
        fit_law([10, 10, 10, 10], [1, 2, 3, 4], "power")


def test_read_table_csv_json_and_bad_row(tmp_path):
    csv_path = tmp_path / "runs.csv"
    csv_path.write_text("lang,translation_pairs,score\nzh,1000,10.5\nzh,10000,15\nar,5000,8\n")
    obs = observations.read_table(csv_path)
    assert [(o.lang, o.n, o.score) for o in obs] == [("zh", 1000, 10.5), ("zh", 10000, 15.0), ("ar", 5000, 8.0)]
    grouped = observations.group_by_language(obs)
    assert grouped["zh"] == ([1000.0, 10000.0], [10.5, 15.0])
    json_path = tmp_path / "runs.json"
    json_path.write_text(json.dumps({"runs": [{"lang": "vi", "n": 100, "spbleu": 3.0}]}))
    (o,) = observations.read_table(json_path)
    assert (o.lang, o.n, o.score, o.metric) == ("vi", 100, 3.0, "spbleu")
    bad = tmp_path / "bad.csv"
    bad.write_text("lang,translation_pairs,score\nzh,1000,10\nzh,lots,11\n")
    with pytest.raises(InputError) as err:
        observations.read_table(bad)
    assert err.value.line == 3 and err.value.field == "translation_pairs"
