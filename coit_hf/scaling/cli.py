"""`coit-hf scaling fit|allocate|sweep`: fit scaling laws, allocate a data budget, write sweep variants."""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import Any

from coit_hf.errors import ConfigError, InputError
from coit_hf.files import parse_key_values, require_output_dir, require_output_file

logger = logging.getLogger(__name__)


def parse_size(text: str) -> int:
    """Parse a pair count such as ``5000``, ``5k``, ``1.5M`` or ``1e5``."""
    raw = text.strip().lower().replace("_", "")
    mult = 1
    if raw.endswith("k"):
        raw, mult = raw[:-1], 1000
    elif raw.endswith("m"):
        raw, mult = raw[:-1], 1_000_000
    try:
        value = float(raw) * mult
    except ValueError:
        raise ConfigError(f"not a size: {text!r} (use e.g. 5000, 5k, 1.5M)") from None
    if not math.isfinite(value) or value <= 0 or value != int(value):
        raise ConfigError(f"size must be a positive whole number, got {text!r}")
    return int(value)


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConfigError("expected a finite number")
    return value


def _size_option(text: str, option: str) -> int:
    try:
        return parse_size(text)
    except ConfigError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def _key_values(items: list[str] | None, name: str, cast=_finite) -> dict[str, Any]:
    """Parse repeated ``lang=value`` options."""
    return parse_key_values(items, f"--{name}", form="LANG=VALUE", convert=cast)


def _only_fitted(option: str, values: dict[str, Any] | float | None, fitted: Any, path: str) -> None:
    """Per-language values for languages without a fit are an error (they would be ignored silently)."""
    unknown = sorted(set(values) - set(fitted)) if isinstance(values, dict) else []
    if unknown:
        raise InputError(f"--{option} names {', '.join(unknown)}, which have no fit (fitted: {', '.join(fitted)})",
                         path=path, field="fits")


def _bound_option(items: list[str] | None, name: str) -> dict[str, float] | float | None:
    """``--min 1000`` (every language) or ``--min zh=1000 --min ar=500``."""
    if not items:
        return None
    if len(items) == 1 and "=" not in items[0]:
        return float(_size_option(items[0], f"--{name}"))
    return {k: float(v) for k, v in _key_values(items, name, parse_size).items()}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``scaling`` with its ``fit``, ``allocate`` and ``sweep`` sub-commands."""
    parser = subparsers.add_parser(
        "scaling",
        help="Fit scaling laws of translation quality, allocate a data budget across languages, write sweeps.",
        description="Scaling laws of translation quality in the number of translation pairs (log, saturating power "
        "and similarity-scaled log laws), budgeted allocation for the m-model, and data-size sweeps.",
    )
    sub = parser.add_subparsers(dest="scaling_command", metavar="SUBCOMMAND")

    fit = sub.add_parser("fit", help="Fit per-language laws to runs (CSV/JSON tables or `coit-hf eval` folders).")
    fit.add_argument("inputs", nargs="+", help="CSV/JSON run tables, coit_results.json files or folders holding them.")
    fit.add_argument("--output-dir", required=True, help="Writes fits.json and plots/scaling_<lang>.png here.")
    fit.add_argument("--family", default="auto", choices=["auto", "log", "power", "simlog"],
                     help="Law family; 'auto' fits the candidates and keeps the best by --criterion.")
    fit.add_argument("--families", default="log,power", help="Candidates for --family auto (comma-separated).")
    fit.add_argument("--criterion", default="aicc", choices=["aicc", "aic", "bic"], help="Model-choice criterion.")
    fit.add_argument("--similarity", help="JSON with similarity terms ({lang: s}) or a `coit-hf align` output; "
                     "enables the similarity-scaled law (joint fit over languages).")
    fit.add_argument("--similarity-layer", default="best", help="Layer of the alignment file: index, middle, best.")
    fit.add_argument("--similarity-measure", default="gap", choices=["gap", "pair_cosine"])
    fit.add_argument("--pivot", default="en", help="Pivot language of the alignment similarity (default en).")
    fit.add_argument("--task", default="coit_flores101:en-{lang}", help="Task of the result files to read.")
    fit.add_argument("--metric", default="spbleu,bleu", help="Metric(s) to read, first present wins.")
    fit.add_argument("--bootstrap", type=int, default=200, help="Residual-bootstrap replicates (0 = off).")
    fit.add_argument("--seed", type=int, default=0, help="Bootstrap seed.")
    fit.add_argument("--no-plots", action="store_true", help="Skip the PNG plots.")
    fit.set_defaults(func=run_fit)

    alloc = sub.add_parser("allocate", help="Split a translation-pair budget across languages; write the mixture.")
    alloc.add_argument("fits", help="fits.json from `coit-hf scaling fit`.")
    alloc.add_argument("--budget", required=True, help="Total translation pairs (e.g. 200k).")
    alloc.add_argument("--output", required=True, help="m-model mixture YAML to write (allocation JSON beside it).")
    alloc.add_argument("--langs", help="Only these languages (comma-separated; default all fitted).")
    alloc.add_argument("--min", action="append", dest="minimum", metavar="[LANG=]N", help="Lower bound(s).")
    alloc.add_argument("--max", action="append", dest="maximum", metavar="[LANG=]N",
                       help="Upper bound(s), e.g. the pairs available per language.")
    alloc.add_argument("--weight", action="append", metavar="LANG=W", help="Weight of a language's score.")
    alloc.add_argument("--corpus", action="append", metavar="LANG=PATH", help="Corpus folder or Hub id per language.")
    alloc.add_argument("--corpus-template", help="Corpus for every language, e.g. 'org/coit-{lang}'.")
    alloc.add_argument("--direction", default="en-x", choices=["en-x", "x-en"], help="Translation subset direction.")
    alloc.add_argument("--no-general", action="store_true", help="Do not add the Alpaca (general) subsets.")
    alloc.add_argument("--seed", type=int, default=42, help="Mixture seed.")
    alloc.set_defaults(func=run_allocate)

    sweep = sub.add_parser("sweep", help="Write mixture (and recipe) variants for a list of data sizes of one language.")
    sweep.add_argument("--lang", required=True, help="Language code.")
    sweep.add_argument("--sizes", required=True, help="Comma-separated pair counts, e.g. 1k,5k,20k,100k.")
    sweep.add_argument("--corpus", required=True, help="Corpus folder or Hub id of the language.")
    sweep.add_argument("--output-dir", required=True, help="Writes mixtures/, recipes/ and sweep.json here.")
    sweep.add_argument("--recipe", help="Base training recipe YAML; each variant sets mixture_file and output_dir.")
    sweep.add_argument("--direction", default="en-x", choices=["en-x", "x-en"])
    sweep.add_argument("--no-general", action="store_true", help="Translation data only (no Alpaca subsets).")
    sweep.add_argument("--seed", type=int, default=42, help="Mixture seed.")
    sweep.set_defaults(func=run_sweep)

    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run_fit(args: argparse.Namespace) -> int:
    """Fit laws to runs; write fits.json and plots; print a summary."""
    from coit_hf.scaling.laws import fit_law, fit_similarity_law, joint_criterion, select_family
    from coit_hf.scaling.observations import group_by_language, read_observations, read_similarity, write_json

    metrics = [m.strip() for m in args.metric.split(",") if m.strip()]
    if not metrics:
        raise ConfigError("--metric names no metric")
    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap must be >= 0 (0 = off), got {args.bootstrap}")
    if args.family == "auto" and not [f for f in args.families.split(",") if f.strip() and f.strip() != "simlog"]:
        raise ConfigError(f"--families names no law family (got {args.families!r}); e.g. log,power")
    layer = _layer(args.similarity_layer)
    require_output_dir(args.output_dir)
    observations = read_observations(args.inputs, task=args.task, metrics=metrics)
    if not observations:
        raise InputError("no runs found in the inputs")
    grouped = group_by_language(observations)
    metric = next((o.metric for o in observations if o.metric), None)
    similarity = (
        read_similarity(args.similarity, pivot=args.pivot, layer=layer,
                           measure=args.similarity_measure)
        if args.similarity else None
    )
    if args.family == "simlog" and similarity is None:
        raise ConfigError("--family simlog needs --similarity")
    candidates: dict[str, dict[str, Any]] = {}
    selected = {}
    skipped: dict[str, str] = {}
    for lang, (sizes, scores) in grouped.items():
        kwargs = {"lang": lang, "metric": metric, "n_bootstrap": args.bootstrap, "seed": args.seed}
        try:
            if args.family == "auto":
                families = [f.strip() for f in args.families.split(",") if f.strip() and f.strip() != "simlog"]
                best, fits = select_family(sizes, scores, families, criterion=args.criterion, **kwargs)
            elif args.family == "simlog":
                continue
            else:
                best = fit_law(sizes, scores, args.family, **kwargs)
                fits = {args.family: best}
        except InputError as exc:  # one language with too few runs should not block the others
            logger.warning("%s: not fitted: %s", lang, exc)
            skipped[lang] = str(exc)
            continue
        selected[lang] = best
        candidates[lang] = {fam: f.to_dict() for fam, f in fits.items()}
    if not selected and args.family != "simlog":
        raise InputError(f"no language could be fitted: {skipped}")
    choice: dict[str, Any] = {"per_language": args.family}
    if similarity is not None and args.family in ("auto", "simlog"):
        joint = fit_similarity_law({k: v for k, v in grouped.items() if k not in skipped or args.family == "simlog"},
                                   similarity, metric=metric)
        for lang, f in joint.items():
            candidates.setdefault(lang, {})["simlog"] = f.to_dict()
        if args.family == "simlog":
            selected = dict(joint)
        else:
            indep = joint_criterion(selected, args.criterion)
            joint_value = joint_criterion(joint, args.criterion)
            choice.update({"independent": indep, "joint_simlog": joint_value})
            if joint_value < indep:
                selected = dict(joint)
    out_dir = Path(args.output_dir)
    plots: dict[str, str] = {}
    if not args.no_plots:
        from coit_hf.scaling.plots import plot_fit

        for lang, fit in selected.items():
            sizes, scores = grouped[lang]
            plots[lang] = str(plot_fit(fit, sizes, scores, out_dir / "plots" / f"scaling_{lang}.png"))
    payload = {
        "metric": metric,
        "criterion": args.criterion,
        "choice": choice,
        "fits": {lang: f.to_dict() for lang, f in selected.items()},
        "candidates": candidates,
        "skipped": skipped,
        "observations": {lang: {"n": s, "score": y} for lang, (s, y) in grouped.items()},
        "plots": plots,
    }
    path = write_json(payload, out_dir / "fits.json")
    print(f"{'lang':<6}{'family':<8}{'params':<44}{'R²':>7}{'RMSE':>8}{args.criterion.upper():>9}")
    for lang, f in selected.items():
        params = ", ".join(f"{k}={v:.4g}±{f.stderr.get(k, float('nan')):.2g}" for k, v in f.params.items())
        print(f"{lang:<6}{f.family:<8}{params:<44}{f.r2:>7.3f}{f.rmse:>8.3f}{f.criterion(args.criterion):>9.2f}")
    print(f"wrote {path}")
    return 0


def _layer(text: str) -> str | int:
    if text.strip().lstrip("-").isdigit():
        return int(text)
    if text.strip() in ("best", "middle"):
        return text.strip()
    raise ConfigError(f"--similarity-layer must be a layer index, 'middle' or 'best', got {text!r}")


def run_allocate(args: argparse.Namespace) -> int:
    """Allocate the budget; write the mixture YAML and the allocation JSON."""
    from coit_hf.scaling.allocate import allocate, write_mixture
    from coit_hf.scaling.observations import read_fits, write_json

    budget = _size_option(args.budget, "--budget")
    if args.seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {args.seed}")
    require_output_file(args.output, "--output")
    fits = read_fits(args.fits)
    minimum, maximum = _bound_option(args.minimum, "min"), _bound_option(args.maximum, "max")
    weights = _key_values(args.weight, "weight") or None
    for option, values in (("min", minimum), ("max", maximum), ("weight", weights)):
        _only_fitted(option, values, fits, args.fits)
    if args.langs:
        wanted = [x.strip() for x in args.langs.split(",") if x.strip()]
        missing = [x for x in wanted if x not in fits]
        if missing:
            raise InputError(f"no fit for {', '.join(missing)}", path=args.fits, field="fits")
        fits = {lang: fits[lang] for lang in wanted}
    corpora = _key_values(args.corpus, "corpus", str) or None
    if not args.corpus_template:
        missing = [lang for lang in fits if not corpora or lang not in corpora]
        if missing:
            raise ConfigError(f"no corpus for {', '.join(missing)}: pass --corpus LANG=PATH or --corpus-template")
    result = allocate(fits, budget, minimum=minimum, maximum=maximum, weights=weights)
    out = write_mixture(
        result,
        args.output,
        corpora=corpora,
        corpus_template=args.corpus_template,
        include_general=not args.no_general,
        direction=args.direction,
        seed=args.seed,
    )
    report_path = Path(args.output).with_suffix(".allocation.json")
    write_json(result.to_dict(), report_path)
    print(f"{'lang':<6}{'pairs':>10}{'bound':>10}{'predicted':>11}")
    for lang, n in result.counts.items():
        print(f"{lang:<6}{n:>10}{result.status[lang]:>10}{result.predicted[lang]:>11.2f}")
    print(f"total {sum(result.counts.values())} of budget {budget}; multiplier {result.multiplier:.4g}")
    print(f"wrote {out} and {report_path}")
    return 0


def sweep_variants(
    lang: str,
    sizes: list[int],
    corpus: str,
    output_dir: str | Path,
    *,
    recipe: str | Path | None = None,
    include_general: bool = True,
    direction: str = "en-x",
    seed: int = 42,
) -> dict[str, Any]:
    """Write one x-model mixture (and recipe variant, when ``recipe`` is given) per size; return the manifest.

    Each run entry says which ``--metadata`` to pass to ``coit-hf eval`` so that ``scaling fit`` can read the
    results back (its ``coit_results.json`` metadata: ``translation_pairs`` and ``lang``).
    """
    from coit_hf.files import read_yaml
    from coit_hf.scaling.allocate import mixture_dict, write_yaml
    from coit_hf.scaling.observations import write_json

    out_dir = Path(output_dir)
    base: dict[str, Any] | None = None
    if recipe is not None:
        base = read_yaml(Path(recipe), "recipe")
        if not isinstance(base, dict):
            raise InputError("recipe must be a YAML mapping", path=recipe)
    if len(set(sizes)) != len(sizes):
        raise ConfigError("--sizes has duplicates")
    runs = []
    for n in sorted(sizes):
        tag = f"{lang}-n{n}"
        mixture = mixture_dict({lang: n}, corpora={lang: corpus}, include_general=include_general,
                               direction=direction, seed=seed)
        mix_path = write_yaml(mixture, out_dir / "mixtures" / f"{tag}.yaml",
                              f"x-model sweep: {lang} with {n} translation pairs (coit-hf scaling sweep)")
        run: dict[str, Any] = {
            "lang": lang,
            "translation_pairs": n,
            "mixture": str(mix_path),
            "eval_metadata": [f"translation_pairs={n}", f"lang={lang}"],
        }
        if base is not None:
            variant = dict(base)
            variant["mixture_file"] = str(mix_path)
            # `mixture_file` takes precedence over `dataset_name`; drop a competing shorthand mixture.
            for key in ("dataset_mixture", "mixture"):
                variant.pop(key, None)
            base_out = str(base.get("output_dir") or f"outputs/coit-{lang}")
            variant["output_dir"] = f"{base_out.rstrip('/')}-n{n}"
            if base.get("run_name"):
                variant["run_name"] = f"{base['run_name']}-n{n}"
            if base.get("hub_model_id"):
                variant["hub_model_id"] = f"{base['hub_model_id']}-n{n}"
            rec_path = write_yaml(variant, out_dir / "recipes" / f"{tag}.yaml",
                                  f"variant of {recipe} for the {lang} data-size sweep ({n} translation pairs)")
            run["recipe"] = str(rec_path)
            run["output_dir"] = variant["output_dir"]
        runs.append(run)
    manifest = {"lang": lang, "corpus": corpus, "sizes": sorted(sizes), "runs": runs}
    write_json(manifest, out_dir / "sweep.json")
    return manifest


def run_sweep(args: argparse.Namespace) -> int:
    """Write the sweep variants and print how to run and evaluate them."""
    from coit_hf.languages import get_language

    sizes = [_size_option(s, "--sizes") for s in args.sizes.split(",") if s.strip()]
    if not sizes:
        raise ConfigError("--sizes is empty")
    if args.seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {args.seed}")
    get_language(args.lang)  # an unknown code fails here, listing the known ones
    require_output_dir(args.output_dir)
    manifest = sweep_variants(
        args.lang, sizes, args.corpus, args.output_dir, recipe=args.recipe,
        include_general=not args.no_general, direction=args.direction, seed=args.seed,
    )
    for run in manifest["runs"]:
        meta = " ".join(f"--metadata {m}" for m in run["eval_metadata"])
        target = run.get("recipe") or run["mixture"]
        print(f"{run['translation_pairs']:>10}  {target}  (evaluate with: coit-hf eval ... {meta})")
    print(f"wrote {Path(args.output_dir) / 'sweep.json'}")
    return 0
