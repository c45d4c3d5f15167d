"""Scaling laws of translation quality in the number of translation pairs: families, fitting, selection, prediction.

Three concave families (``n`` = translation pairs, score on a 0-100 scale):

* ``log``    — ``a·ln(n) + b``
* ``power``  — ``c − a·n^(−b)`` (saturating at ``c``)
* ``simlog`` — ``a·s·ln(n) + b``: a log law whose slope is scaled by a language-similarity term ``s`` (given, or
  measured with :mod:`coit_hf.analysis.alignment`). Fitted jointly over languages (:func:`fit_similarity_law`) the
  slope ``a`` is shared and only the intercepts are per language, so a language with few runs borrows strength
  from the others; fitted on one language it is the log law with the slope expressed per unit of similarity.

Fits use :func:`scipy.optimize.curve_fit`; parameter uncertainty comes from the covariance (and optionally a
residual bootstrap), goodness of fit from R², RMSE, AIC/AICc/BIC, and predictions carry confidence or prediction
intervals from the delta method.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, stats

from coit_hf.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

CRITERIA = ("aicc", "aic", "bic")


class LawFamily:
    """A concave score law ``f(n; θ)``; subclasses give the value, gradients and initial guesses."""

    name: str = ""
    formula: str = ""
    param_names: tuple[str, ...] = ()
    needs_similarity: bool = False

    def value(self, n: np.ndarray, params: Sequence[float], similarity: float | None = None) -> np.ndarray:
        """Predicted score at ``n``."""
        raise NotImplementedError

    def derivative(self, n: np.ndarray, params: Sequence[float], similarity: float | None = None) -> np.ndarray:
        """d score / d n at ``n``."""
        raise NotImplementedError

    def inverse_derivative(self, slope: float, params: Sequence[float], similarity: float | None = None) -> float:
        """The ``n`` where the derivative equals ``slope`` (> 0); ``0.0`` when the law never rises that fast."""
        raise NotImplementedError

    def param_gradient(self, n: np.ndarray, params: Sequence[float], similarity: float | None = None) -> np.ndarray:
        """Jacobian of the value with respect to the parameters, shape ``(len(n), len(params))``."""
        raise NotImplementedError

    def initial_guess(self, n: np.ndarray, y: np.ndarray, similarity: float | None = None) -> list[float]:
        """A starting point for the optimiser."""
        raise NotImplementedError

    def bounds(self) -> tuple[list[float], list[float]]:
        """Lower and upper parameter bounds for curve_fit."""
        return [-np.inf] * len(self.param_names), [np.inf] * len(self.param_names)

    def is_concave_increasing(self, params: Sequence[float], similarity: float | None = None) -> bool:
        """Whether the law is increasing and concave for n > 0 (the allocation is then a convex problem)."""
        raise NotImplementedError

    def _sim(self, similarity: float | None) -> float:
        if not self.needs_similarity:
            return 1.0
        if similarity is None or not math.isfinite(similarity) or similarity <= 0:
            raise ConfigError(f"the {self.name} law needs a positive similarity term, got {similarity!r}")
        return float(similarity)


class LogLaw(LawFamily):
    """``a·ln(n) + b``."""

    name = "log"
    formula = "a*ln(n) + b"
    param_names = ("a", "b")

    def value(self, n, params, similarity=None):
        a, b = params
        return a * self._sim(similarity) * np.log(np.asarray(n, dtype=float)) + b

    def derivative(self, n, params, similarity=None):
        return params[0] * self._sim(similarity) / np.asarray(n, dtype=float)

    def inverse_derivative(self, slope, params, similarity=None):
        rate = params[0] * self._sim(similarity)
        return rate / slope if rate > 0 else 0.0

    def param_gradient(self, n, params, similarity=None):
        ln = np.log(np.asarray(n, dtype=float))
        return np.column_stack([ln * self._sim(similarity), np.ones_like(ln)])

    def initial_guess(self, n, y, similarity=None):
        slope, intercept = np.polyfit(np.log(n), y, 1)
        return [slope / self._sim(similarity), intercept]

    def is_concave_increasing(self, params, similarity=None):
        return params[0] * self._sim(similarity) > 0


class SimilarityLogLaw(LogLaw):
    """``a·s·ln(n) + b`` with a language-similarity term ``s`` (given or measured)."""

    name = "simlog"
    formula = "a*s*ln(n) + b"
    needs_similarity = True


class PowerLaw(LawFamily):
    """``c − a·n^(−b)``: saturating at ``c``; increasing and concave for ``a, b > 0``."""

    name = "power"
    formula = "c - a*n^(-b)"
    param_names = ("a", "b", "c")

    def value(self, n, params, similarity=None):
        a, b, c = params
        return c - a * np.power(np.asarray(n, dtype=float), -b)

    def derivative(self, n, params, similarity=None):
        a, b, _ = params
        return a * b * np.power(np.asarray(n, dtype=float), -b - 1.0)

    def inverse_derivative(self, slope, params, similarity=None):
        a, b, _ = params
        if a * b <= 0:
            return 0.0
        return float((a * b / slope) ** (1.0 / (b + 1.0)))

    def param_gradient(self, n, params, similarity=None):
        a, b, _ = params
        n = np.asarray(n, dtype=float)
        p = np.power(n, -b)
        return np.column_stack([-p, a * p * np.log(n), np.ones_like(n)])

    def initial_guess(self, n, y, similarity=None):
        # For a fixed exponent the law is linear in (c, a): scan exponents and keep the best least-squares fit.
        best: tuple[float, list[float]] | None = None
        for b in np.geomspace(1e-3, 3.0, 80):
            x = np.power(n, -b)
            design = np.column_stack([np.ones_like(x), -x])
            (c, a), *_ = np.linalg.lstsq(design, y, rcond=None)
            if a <= 0:
                continue
            sse = float(np.sum((c - a * x - y) ** 2))
            if best is None or sse < best[0]:
                best = (sse, [float(a), float(b), float(c)])
        if best is None:
            return [1.0, 0.5, float(np.max(y))]
        return best[1]

    def bounds(self):
        return [0.0, 1e-6, -np.inf], [np.inf, 10.0, np.inf]

    def is_concave_increasing(self, params, similarity=None):
        return params[0] > 0 and params[1] > 0


FAMILIES: dict[str, LawFamily] = {f.name: f for f in (LogLaw(), PowerLaw(), SimilarityLogLaw())}



def _stat(value: Any) -> float:
    """A fit statistic read back from JSON: null (how a NaN or infinite value is written) becomes NaN."""
    return float("nan") if value is None else float(value)

def get_family(name: str) -> LawFamily:
    """Return the law family called ``name`` (``log``, ``power`` or ``simlog``)."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"unknown scaling-law family {name!r}; choose from {', '.join(FAMILIES)}") from None


@dataclass
class FitResult:
    """A fitted law for one language: parameters with uncertainty, goodness of fit, and prediction helpers."""

    lang: str
    family: str
    params: dict[str, float]
    stderr: dict[str, float]
    cov: list[list[float]]
    n_obs: int
    r2: float
    rmse: float
    sigma: float
    aic: float
    aicc: float
    bic: float
    dof: int
    similarity: float | None = None
    metric: str | None = None
    n_range: tuple[float, float] | None = None
    bootstrap: dict[str, list[float]] | None = None
    joint: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def law(self) -> LawFamily:
        """The law family object."""
        return get_family(self.family)

    @property
    def theta(self) -> list[float]:
        """Parameters in the family's order."""
        return [self.params[k] for k in self.law.param_names]

    def predict(self, n: float | np.ndarray) -> np.ndarray:
        """Predicted score at ``n``."""
        return self.law.value(np.asarray(n, dtype=float), self.theta, self.similarity)

    def derivative(self, n: float | np.ndarray) -> np.ndarray:
        """Marginal score per translation pair at ``n``."""
        return self.law.derivative(np.asarray(n, dtype=float), self.theta, self.similarity)

    def interval(
        self, n: float | np.ndarray, level: float = 0.95, kind: str = "prediction"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lower/upper bounds at ``n``: ``kind="confidence"`` for the mean curve, ``"prediction"`` for a new run.

        Delta method with the parameter covariance and Student-t quantiles (``dof`` residual degrees of freedom);
        NaN when the fit has no residual degrees of freedom.
        """
        n = np.atleast_1d(np.asarray(n, dtype=float))
        mean = self.predict(n)
        if self.dof <= 0:
            nan = np.full_like(mean, np.nan)
            return nan, nan
        grad = self.law.param_gradient(n, self.theta, self.similarity)
        cov = np.asarray(self.cov, dtype=float)
        var = np.einsum("ij,jk,ik->i", grad, cov, grad)
        if kind == "prediction":
            var = var + self.sigma**2
        elif kind != "confidence":
            raise ConfigError(f"interval kind must be 'prediction' or 'confidence', got {kind!r}")
        half = stats.t.ppf(0.5 + level / 2.0, self.dof) * np.sqrt(np.maximum(var, 0.0))
        return mean - half, mean + half

    def criterion(self, name: str) -> float:
        """The information criterion ``name`` (aic, aicc or bic)."""
        if name not in CRITERIA:
            raise ConfigError(f"unknown criterion {name!r}; choose from {', '.join(CRITERIA)}")
        return float(getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the format of ``scaling fit`` output and ``scaling allocate`` input)."""
        out = {
            "lang": self.lang,
            "family": self.family,
            "formula": self.law.formula,
            "params": self.params,
            "stderr": self.stderr,
            "cov": self.cov,
            "n_obs": self.n_obs,
            "r2": self.r2,
            "rmse": self.rmse,
            "sigma": self.sigma,
            "aic": self.aic,
            "aicc": self.aicc,
            "bic": self.bic,
            "dof": self.dof,
            "similarity": self.similarity,
            "metric": self.metric,
            "n_range": list(self.n_range) if self.n_range else None,
            "bootstrap": self.bootstrap,
            "joint": self.joint,
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: object | None = None) -> FitResult:
        """Inverse of :meth:`to_dict`; errors name the missing field."""
        try:
            family = get_family(str(data["family"]))
            params = {k: float(data["params"][k]) for k in family.param_names}
            n_params = len(family.param_names)
            cov = data.get("cov") or [[0.0] * n_params for _ in range(n_params)]
            return cls(
                lang=str(data["lang"]),
                family=family.name,
                params=params,
                stderr={k: _stat(v) for k, v in (data.get("stderr") or {}).items()},
                cov=[[float(x) for x in row] for row in cov],
                n_obs=int(data.get("n_obs", 0)),
                r2=_stat(data.get("r2")),
                rmse=_stat(data.get("rmse")),
                sigma=float(data.get("sigma", 0.0)),
                aic=_stat(data.get("aic")),
                aicc=_stat(data.get("aicc")),
                bic=_stat(data.get("bic")),
                dof=int(data.get("dof", 0)),
                similarity=None if data.get("similarity") is None else float(data["similarity"]),
                metric=data.get("metric"),
                n_range=tuple(data["n_range"]) if data.get("n_range") else None,
                bootstrap=data.get("bootstrap"),
                joint=bool(data.get("joint", False)),
            )
        except KeyError as exc:
            raise InputError("fit entry lacks a required field", path=path, field=str(exc.args[0])) from None
        except (TypeError, ValueError) as exc:
            raise InputError(f"bad fit entry: {exc}", path=path) from None


def information_criteria(rss: float, n_obs: int, k: int) -> tuple[float, float, float]:
    """Gaussian-likelihood AIC, AICc and BIC of a least-squares fit with ``k`` parameters."""
    rss = max(rss, 1e-300)
    base = n_obs * math.log(rss / n_obs)
    aic = base + 2 * k
    aicc = aic + (2 * k * (k + 1) / (n_obs - k - 1) if n_obs - k - 1 > 0 else math.inf)
    bic = base + k * math.log(n_obs)
    return aic, aicc, bic


def _validate(n: Sequence[float], y: Sequence[float], lang: str) -> tuple[np.ndarray, np.ndarray]:
    n_arr = np.asarray(n, dtype=float)
    y_arr = np.asarray(y, dtype=float)
    if n_arr.shape != y_arr.shape or n_arr.ndim != 1:
        raise InputError(f"{lang}: sizes and scores must be 1-D sequences of the same length")
    if not np.all(np.isfinite(n_arr)) or np.any(n_arr <= 0):
        raise InputError(f"{lang}: translation-pair counts must be positive numbers", field="translation_pairs")
    if not np.all(np.isfinite(y_arr)):
        raise InputError(f"{lang}: scores must be finite numbers", field="score")
    return n_arr, y_arr


def _curve_fit(func, n, y, p0, bounds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optimize.OptimizeWarning)
        p0 = np.clip(np.asarray(p0, dtype=float), np.asarray(bounds[0]) + 1e-12, np.asarray(bounds[1]) - 1e-12)
        popt, pcov = optimize.curve_fit(func, n, y, p0=p0, bounds=bounds, maxfev=20000)
    return popt, pcov


def fit_law(
    n: Sequence[float],
    y: Sequence[float],
    family: str = "log",
    *,
    lang: str = "",
    similarity: float | None = None,
    metric: str | None = None,
    n_bootstrap: int = 0,
    seed: int = 0,
) -> FitResult:
    """Fit one law family to one language's observations (sizes ``n``, scores ``y``).

    Args:
        n: translation-pair counts (> 0); repeated sizes are fine.
        y: scores at those sizes.
        family: ``log``, ``power`` or ``simlog`` (the latter needs ``similarity``).
        lang: language code, carried into the result.
        similarity: the similarity term of ``simlog``.
        metric: name of the score, carried into the result.
        n_bootstrap: residual-bootstrap replicates for percentile intervals (0 = covariance only).
        seed: bootstrap seed.

    Returns:
        A :class:`FitResult`.
    """
    law = get_family(family)
    n_arr, y_arr = _validate(n, y, lang)
    k = len(law.param_names)
    if len(n_arr) < k:
        raise InputError(f"{lang}: the {family} law has {k} parameters but only {len(n_arr)} observations")
    if len(np.unique(n_arr)) < k:
        raise InputError(f"{lang}: the {family} law needs at least {k} distinct data sizes")
    sim = law._sim(similarity) if law.needs_similarity else None

    def func(x, *theta):
        return law.value(x, theta, sim)

    popt, pcov = _curve_fit(func, n_arr, y_arr, law.initial_guess(n_arr, y_arr, sim), law.bounds())
    resid = y_arr - func(n_arr, *popt)
    rss = float(resid @ resid)
    n_obs = len(y_arr)
    dof = n_obs - k
    sigma = math.sqrt(rss / dof) if dof > 0 else 0.0
    # curve_fit's covariance is scaled by rss/dof; recompute from the Jacobian so it is defined at the bounds too.
    jac = law.param_gradient(n_arr, popt, sim)
    try:
        cov = np.linalg.pinv(jac.T @ jac) * sigma**2 if dof > 0 else np.full((k, k), np.inf)
    except np.linalg.LinAlgError:
        cov = pcov
    tss = float(np.sum((y_arr - y_arr.mean()) ** 2))
    r2 = 1.0 - rss / tss if tss > 0 else float("nan")
    aic, aicc, bic = information_criteria(rss, n_obs, k)
    stderr = {name: float(math.sqrt(max(cov[i, i], 0.0))) for i, name in enumerate(law.param_names)}
    result = FitResult(
        lang=lang,
        family=law.name,
        params={name: float(v) for name, v in zip(law.param_names, popt, strict=True)},
        stderr=stderr,
        cov=np.asarray(cov, dtype=float).tolist(),
        n_obs=n_obs,
        r2=r2,
        rmse=math.sqrt(rss / n_obs),
        sigma=sigma,
        aic=aic,
        aicc=aicc,
        bic=bic,
        dof=dof,
        similarity=sim,
        metric=metric,
        n_range=(float(n_arr.min()), float(n_arr.max())),
    )
    if n_bootstrap > 0 and dof > 0:
        result.bootstrap = _bootstrap(law, func, n_arr, y_arr, popt, resid, n_bootstrap, seed)
    return result


def _bootstrap(law, func, n_arr, y_arr, popt, resid, n_bootstrap, seed) -> dict[str, list[float]]:
    """Residual bootstrap: refit on ``fitted + resampled residuals``; 2.5/50/97.5 percentiles per parameter."""
    rng = np.random.default_rng(seed)
    fitted = func(n_arr, *popt)
    # Rescale residuals for leverage-free inflation (n/(n-k)) so intervals are not too narrow.
    scale = math.sqrt(len(y_arr) / max(len(y_arr) - len(popt), 1))
    draws = []
    for _ in range(n_bootstrap):
        y_star = fitted + scale * rng.choice(resid, size=len(resid), replace=True)
        try:
            p_star, _ = _curve_fit(func, n_arr, y_star, popt, law.bounds())
        except (RuntimeError, ValueError):
            continue
        draws.append(p_star)
    if not draws:
        return {}
    arr = np.asarray(draws)
    return {
        name: [float(x) for x in np.percentile(arr[:, i], [2.5, 50.0, 97.5])]
        for i, name in enumerate(law.param_names)
    }


def select_family(
    n: Sequence[float],
    y: Sequence[float],
    families: Sequence[str] = ("log", "power"),
    *,
    criterion: str = "aicc",
    **kwargs: Any,
) -> tuple[FitResult, dict[str, FitResult]]:
    """Fit every family in ``families`` and return ``(best, all_fits)``, best = lowest ``criterion``.

    Families that cannot be fitted (too few points, optimiser failure) are skipped with a log message; ties keep
    the earlier family, so list simpler families first.
    """
    if criterion not in CRITERIA:
        raise ConfigError(f"unknown criterion {criterion!r}; choose from {', '.join(CRITERIA)}")
    fits: dict[str, FitResult] = {}
    for fam in families:
        try:
            fits[fam] = fit_law(n, y, fam, **kwargs)
        except (InputError, RuntimeError, ValueError) as exc:
            logger.info("%s: %s law not fitted: %s", kwargs.get("lang", ""), fam, exc)
    if not fits:
        raise InputError(f"{kwargs.get('lang', '')}: no law family could be fitted to {len(list(n))} observations")
    # A fit without residual degrees of freedom interpolates the points: it cannot be judged, so it is not chosen
    # while another family can be. AICc is infinite without spare observations; fall back to AIC then.
    judged = [f for f in fits.values() if f.dof > 0] or list(fits.values())
    finite = [f for f in judged if math.isfinite(f.criterion(criterion))]
    best = min(finite, key=lambda f: f.criterion(criterion)) if finite else min(judged, key=lambda f: f.aic)
    return best, fits


def fit_similarity_law(
    data: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    similarity: Mapping[str, float],
    *,
    metric: str | None = None,
) -> dict[str, FitResult]:
    """Joint fit of the similarity-scaled log law over languages: ``score_l = a·s_l·ln(n) + b_l``.

    The slope per unit of similarity ``a`` is shared; intercepts ``b_l`` are per language. The model is linear in
    its parameters, so the least-squares solution and covariance are exact. Each returned per-language
    :class:`FitResult` (family ``simlog``, ``joint=True``) carries the shared ``a``, its own ``b``, the 2×2 block of
    the joint covariance, and the joint AIC/AICc/BIC (identical across languages; compare with the summed
    per-language criteria of independent fits, see :func:`joint_criterion`).
    """
    langs = list(data)
    if not langs:
        raise InputError("no languages to fit")
    missing = [lang for lang in langs if lang not in similarity]
    if missing:
        raise InputError(f"no similarity term for {', '.join(missing)}", field="similarity")
    rows, ys, owner = [], [], []
    for j, lang in enumerate(langs):
        n_arr, y_arr = _validate(*data[lang], lang)
        s = get_family("simlog")._sim(similarity[lang])
        for ni, yi in zip(n_arr, y_arr, strict=True):
            row = np.zeros(1 + len(langs))
            row[0] = s * math.log(ni)
            row[1 + j] = 1.0
            rows.append(row)
            ys.append(yi)
            owner.append(j)
    design = np.asarray(rows)
    y_all = np.asarray(ys)
    k = design.shape[1]
    n_obs = len(y_all)
    if n_obs <= k or np.linalg.matrix_rank(design) < k:
        raise InputError("the joint similarity law needs more observations (and at least two sizes somewhere)")
    theta, *_ = np.linalg.lstsq(design, y_all, rcond=None)
    resid = y_all - design @ theta
    rss = float(resid @ resid)
    dof = n_obs - k
    sigma = math.sqrt(rss / dof)
    cov = np.linalg.inv(design.T @ design) * sigma**2
    aic, aicc, bic = information_criteria(rss, n_obs, k)
    owner_arr = np.asarray(owner)
    out: dict[str, FitResult] = {}
    for j, lang in enumerate(langs):
        mask = owner_arr == j
        y_l = y_all[mask]
        rss_l = float(resid[mask] @ resid[mask])
        tss_l = float(np.sum((y_l - y_l.mean()) ** 2))
        idx = [0, 1 + j]
        block = cov[np.ix_(idx, idx)]
        n_l = np.asarray(data[lang][0], dtype=float)
        out[lang] = FitResult(
            lang=lang,
            family="simlog",
            params={"a": float(theta[0]), "b": float(theta[1 + j])},
            stderr={"a": float(math.sqrt(block[0, 0])), "b": float(math.sqrt(block[1, 1]))},
            cov=block.tolist(),
            n_obs=int(mask.sum()),
            r2=1.0 - rss_l / tss_l if tss_l > 0 else float("nan"),
            rmse=math.sqrt(rss_l / mask.sum()),
            sigma=sigma,
            aic=aic,
            aicc=aicc,
            bic=bic,
            dof=dof,
            similarity=float(similarity[lang]),
            metric=metric,
            n_range=(float(n_l.min()), float(n_l.max())),
            joint=True,
            extra={"joint_languages": langs, "joint_n_obs": n_obs, "joint_k": k},
        )
    return out


def joint_criterion(fits: Mapping[str, FitResult], criterion: str = "bic") -> float:
    """A criterion for a set of per-language fits, comparable between independent and joint fits.

    Independent fits: computed from the pooled RSS with the summed parameter count; a joint fit (all entries
    ``joint=True``) is its own criterion.
    """
    values = list(fits.values())
    if values and all(f.joint for f in values):
        return values[0].criterion(criterion)
    rss = sum(f.rmse**2 * f.n_obs for f in values)
    n_obs = sum(f.n_obs for f in values)
    k = sum(len(f.law.param_names) for f in values)
    aic, aicc, bic = information_criteria(rss, n_obs, k)
    return {"aic": aic, "aicc": aicc, "bic": bic}[criterion]
