"""`coit-hf eval`, `coit-hf report` and `coit-hf compare` sub-commands."""

from __future__ import annotations

import argparse
import json
import math

from coit_hf.errors import ConfigError


def _metadata(items: list[str]) -> dict:
    out: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--metadata expects key=value, got {item!r}")
        try:
            out[key] = json.loads(value)  # numbers/booleans stay typed: translation_pairs=1000 -> 1000
        except json.JSONDecodeError:
            out[key] = value
        if isinstance(out[key], float) and not math.isfinite(out[key]):
            raise ConfigError(f"--metadata {item!r}: {value} is not a finite number")
    return out


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `eval`, `report` and `compare`."""
    from coit_hf.evaluation.results import PROMPT_FORMATS
    from coit_hf.evaluation.sources import FAMILIES

    p = subparsers.add_parser(
        "eval", help="Evaluate a model on coit XQuAD/MLQA/Flores-101/MI-Eval tasks with lighteval (offline-safe).",
        description="Runs coit tasks through lighteval's Pipeline without importing lighteval's built-in task "
        "modules; writes OUTPUT_DIR/coit_results.json plus lighteval's results/details.",
    )
    p.add_argument("--model", required=True, help="Local model folder or Hub id (or the served name with --backend endpoint).")
    p.add_argument("--tasks", required=True,
                   help="Comma-separated tasks, e.g. coit_xquad:zh,coit_mlqa:hi,coit_flores101:en-zh,coit_mieval:ar ('|0' allowed).")
    p.add_argument("--bootstrap-iters", type=int, default=0,
                   help="Bootstrap resamples for the standard errors in lighteval's own results file (0 = skip).")
    p.add_argument("--max-samples", type=int, default=None, help="Evaluate at most N samples per task (partial results).")
    p.add_argument("--output-dir", default="eval_results", help="Where coit_results.json and lighteval's files go.")
    p.add_argument("--backend", choices=("accelerate", "endpoint"), default="accelerate",
                   help="accelerate: transformers in this process; endpoint: an OpenAI-compatible server (vllm serve).")
    p.add_argument("--prompt-format", choices=PROMPT_FORMATS, default="paper",
                   help="paper: Alpaca prompt exactly as in the paper; chat: the model's chat template.")
    p.add_argument("--metadata", nargs="*", default=[], metavar="KEY=VALUE",
                   help="Recorded in the results, e.g. translation_pairs=1000 lang=zh label=x-zh.")
    p.add_argument("--source", action="append", default=[], metavar="FAMILY=PATH_OR_ID[?config=..&split=..&revision=..]",
                   help=f"Override a data source ({', '.join(FAMILIES)}); '{{lang}}' is filled per language.")
    p.add_argument("--data-dir", default=None,
                   help="Folder with xquad/ (SQuAD JSON), mlqa/ and flores101/ (one sentence per line per language).")
    p.add_argument("--languages-file", action="append", default=[], help="Extra language registry YAML/JSON.")
    p.add_argument("--batch-size", type=int, default=None, help="Generation batch size (default: lighteval's).")
    p.add_argument("--device", default="cpu", help="Device for the accelerate backend (cpu, cuda, ...).")
    p.add_argument("--dtype", default=None, help="Model dtype (e.g. bfloat16).")
    p.add_argument("--base-url", default=None, help="Endpoint backend: server URL, e.g. http://localhost:8000/v1.")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="Maximum generated tokens (default: 64 for QA, 256 for translation).")
    p.add_argument("--no-details", action="store_true", help="Do not save lighteval's per-sample details.")
    p.set_defaults(func=run_eval)

    r = subparsers.add_parser("report", help="Tables (JSON/Markdown/PNG), averages and relative gain over results.")
    r.add_argument("results", nargs="+", help="coit_results.json files or eval output folders.")
    r.add_argument("--baseline", default=None, help="Results to compute the relative gain against.")
    r.add_argument("--output-dir", default="report", help="Where report.json, report.md and report.png go.")
    r.add_argument("--compare", action="append", default=[], metavar="COMPARE_DIR",
                   help="Add a `coit-hf compare` result (folder or compare.json): win rates and gate rates per language.")
    r.set_defaults(func=run_report)

    from coit_hf.evaluation.compare import register as register_compare  # `compare` lives with its judge code

    register_compare(subparsers)


def run_eval(args: argparse.Namespace) -> int:
    """Handle `coit-hf eval`."""
    from coit_hf.evaluation.runner import EvalSettings, run_evaluation
    from coit_hf.evaluation.sources import data_dir_sources, parse_source
    from coit_hf.languages import load_language_file

    for path in args.languages_file:
        load_language_file(path)
    sources = data_dir_sources(args.data_dir) if args.data_dir else {}
    sources.update(dict(parse_source(s) for s in args.source))
    settings = EvalSettings(
        model=args.model, tasks=args.tasks.split(","), output_dir=args.output_dir, max_samples=args.max_samples,
        backend=args.backend, prompt_format=args.prompt_format, metadata=_metadata(args.metadata), sources=sources,
        batch_size=args.batch_size, device=args.device, dtype=args.dtype, base_url=args.base_url,
        save_details=not args.no_details, generation_size=args.max_new_tokens,
        bootstrap_iters=args.bootstrap_iters,
    )
    results = run_evaluation(settings)
    for task, scores in results["tasks"].items():
        print(task, " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in scores.items()))
    for note in results["notes"]:
        print("note:", note)
    print(f"results: {args.output_dir}/coit_results.json")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Handle `coit-hf report`."""
    from coit_hf.evaluation.report import build_report, report_markdown, write_report

    report = build_report(args.results, args.baseline, args.compare)
    paths = write_report(report, args.output_dir)
    print(report_markdown(report))
    print("written:", ", ".join(str(p) for p in paths.values()))
    return 0
