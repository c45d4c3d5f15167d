"""`coit-hf eval`, `coit-hf report` and `coit-hf compare` sub-commands."""

from __future__ import annotations

import argparse
import json
import math

from coit_hf.errors import ConfigError
from coit_hf.files import parse_key_values


def _metadata_value(text: str) -> object:
    """A ``--metadata`` value: JSON when it parses (numbers/booleans stay typed: translation_pairs=1000 -> 1000),
    else the text."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{text} is not a finite number")
    return value


def _metadata(items: list[str]) -> dict:
    return parse_key_values(items, "--metadata", form="key=value", convert=_metadata_value, strip=False,
                            allow_empty_value=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `eval`, `report` and `compare`."""
    from coit_hf.evaluation.metrics import QA_RULES
    from coit_hf.evaluation.results import GENERATION_PROFILES, NAME_STYLES, PROMPT_FORMATS
    from coit_hf.evaluation.sources import FAMILIES

    p = subparsers.add_parser(
        "eval", help="Evaluate a model on coit XQuAD/MLQA/Flores-101/MI-Eval tasks with lighteval (offline-safe).",
        description="Runs coit tasks through lighteval's Pipeline without importing lighteval's built-in task "
        "modules; writes OUTPUT_DIR/coit_results.json plus lighteval's results/details. "
        "`coit-hf eval prepare --tasks ... --output DIR` downloads the tasks' data once (pinned Hub files, row counts "
        "checked, manifest.json with revisions and sha256); `coit-hf eval --data-dir DIR` then runs offline.",
    )
    p.add_argument("action", nargs="?", choices=("prepare",),
                   help="prepare: download and check the data of --tasks into --output (no model needed).")
    p.add_argument("--model", help="Local model folder or Hub id (or the served name with --backend endpoint).")
    p.add_argument("--output", default=None, help="eval prepare: folder to write the data and manifest.json into.")
    p.add_argument("--expected-rows", action="append", default=[], metavar="FAMILY=N",
                   help="eval prepare: rows each language must have, replacing the benchmark's known count.")
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
    p.add_argument("--generation", choices=GENERATION_PROFILES, default=None,
                   help="paper: greedy, up to 512 new tokens, no stop string (the paper's protocol; default with "
                   "--prompt-format paper); fast: QA 64 / translation 256 new tokens, stop at a new '### ' block "
                   "(default with --prompt-format chat).")
    p.add_argument("--name-style", choices=NAME_STYLES, default="friendly",
                   help="Language names in translation prompts: friendly ('Greek') or iso ('Modern Greek (1453-)'); "
                   "match the corpus the model was trained on.")
    p.add_argument("--qa-rules", choices=QA_RULES, default=None,
                   help="EM/F1 rules for all QA tasks (default: each benchmark's official script: MLQA -> mlqa_v1, "
                   "XQuAD -> squad_v1.1).")
    p.add_argument("--metadata", nargs="*", default=[], metavar="KEY=VALUE",
                   help="Recorded in the results, e.g. translation_pairs=1000 lang=zh label=x-zh.")
    p.add_argument("--source", action="append", default=[], metavar="FAMILY=PATH_OR_ID[?config=..&split=..&revision=..]",
                   help=f"Override a data source ({', '.join(FAMILIES)}); '{{lang}}' is filled per language.")
    p.add_argument("--data-dir", default=None,
                   help="Folder written by `coit-hf eval prepare` (offline), or one with xquad/ (SQuAD JSON), mlqa/ and "
                   "flores101/ (one sentence per line per language).")
    p.add_argument("--languages-file", action="append", default=[], help="Extra language registry YAML/JSON.")
    p.add_argument("--batch-size", type=int, default=None, help="Generation batch size (default: lighteval's).")
    p.add_argument("--device", default="cpu", help="Device for the accelerate backend (cpu, cuda, ...).")
    p.add_argument("--dtype", default=None, help="Model dtype (e.g. bfloat16).")
    p.add_argument("--base-url", default=None, help="Endpoint backend: server URL, e.g. http://localhost:8000/v1.")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="Maximum generated tokens (default: the --generation profile's budget).")
    p.add_argument("--no-details", action="store_true", help="Do not save lighteval's per-sample details.")
    p.set_defaults(func=run_eval)

    r = subparsers.add_parser("report", help="Tables (JSON/Markdown/PNG), averages and relative gain over results.")
    r.add_argument("results", nargs="+", help="coit_results.json files or eval output folders.")
    r.add_argument("--baseline", default=None, help="Results to compute the relative gain against.")
    r.add_argument("--output-dir", default="report", help="Where report.json, report.md and report.png go.")
    r.add_argument("--compare", action="append", default=[], metavar="COMPARE_DIR",
                   help="Add a `coit-hf compare` result (folder or compare.json): win rates and gate rates per language.")
    r.set_defaults(func=run_report)

    from coit_hf.evaluation.compare.cli import register as register_compare

    register_compare(subparsers)


def _row_count(text: str) -> int:
    if not text.isdigit():
        raise ConfigError("expected a whole number of rows, e.g. mlqa=5137")
    return int(text)


def _expected_rows(items: list[str]) -> dict[str, int]:
    return parse_key_values(items, "--expected-rows", form="FAMILY=N (e.g. mlqa=5137)", convert=_row_count)


def run_prepare(args: argparse.Namespace, sources: dict) -> int:
    """Handle `coit-hf eval prepare`."""
    from coit_hf.evaluation.prepare import prepare

    if not args.output:
        raise ConfigError("eval prepare needs --output DIR (the folder `coit-hf eval --data-dir DIR` reads)")
    manifest = prepare(args.tasks.split(","), args.output, sources, _expected_rows(args.expected_rows))
    for name, entry in sorted(manifest["files"].items()):
        where = f"{entry.get('repo')}@{(entry.get('commit') or entry.get('revision') or '')[:12]}"
        print(f"{name}: {entry['rows']} rows, {entry.get('benchmark')} from {where}")
    print(f"manifest: {args.output}/manifest.json  (then: coit-hf eval --data-dir {args.output} ...)")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Handle `coit-hf eval` and `coit-hf eval prepare`."""
    from coit_hf.evaluation.runner import EvalSettings, run_evaluation
    from coit_hf.evaluation.sources import data_dir_sources, parse_source, sources_from_env
    from coit_hf.languages import load_language_file

    for path in args.languages_file:
        load_language_file(path)
    # Sources: $COIT_HF_EVAL_SOURCES (read here, once), then --data-dir, then --source.
    sources = sources_from_env()
    sources.update(data_dir_sources(args.data_dir) if args.data_dir else {})
    sources.update(dict(parse_source(s) for s in args.source))
    if args.action == "prepare":
        return run_prepare(args, sources)
    if not args.model:
        raise ConfigError("coit-hf eval needs --model (a local model folder or Hub id)")
    settings = EvalSettings(
        model=args.model, tasks=args.tasks.split(","), output_dir=args.output_dir, max_samples=args.max_samples,
        backend=args.backend, prompt_format=args.prompt_format, metadata=_metadata(args.metadata), sources=sources,
        batch_size=args.batch_size, device=args.device, dtype=args.dtype, base_url=args.base_url,
        save_details=not args.no_details, generation_size=args.max_new_tokens,
        bootstrap_iters=args.bootstrap_iters, generation=args.generation, name_style=args.name_style,
        qa_rules=args.qa_rules,
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
