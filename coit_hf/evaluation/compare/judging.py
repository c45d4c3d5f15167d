"""Deciding every pair (gate first, then the judge in both orders) and comparing two runs end to end."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from tqdm.auto import tqdm

from coit_hf.errors import ConfigError
from coit_hf.evaluation.compare.gate import LanguageGate
from coit_hf.evaluation.compare.loading import Pair, load_generations, pair_generations, run_info
from coit_hf.evaluation.compare.outcomes import build_comparison, combine_orders, gate_outcome, order_outcome
from coit_hf.evaluation.judge import judge_messages, parse_scores

JUDGE_CHUNK = 16


def judge_pairs(pairs: Sequence[Pair], judge, gate: LanguageGate, *, progress: bool = True) -> list[dict[str, Any]]:
    """Decide every pair: the gate first, then the judge in both orders for pairs whose answers both pass.

    ``judge`` is a :class:`coit_hf.evaluation.judge.Judge` (anything with ``complete(prompts) -> replies``). Returns
    one record per pair: task, lang, id, answer_a, answer_b, gate_a, gate_b, decided_by ("gate"|"judge"),
    replies, scores, per-order outcomes, outcome (A's: win/tie/loss).
    """
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


def compare_runs(a: str | os.PathLike[str], b: str | os.PathLike[str], judge, *, gate: LanguageGate | None = None,
                 tasks: Iterable[str] | None = None, confidence: float = 0.95, label_a: str | None = None,
                 label_b: str | None = None, progress: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Compare the coit_mieval generations of runs ``a`` and ``b`` with ``judge``; return (report, item records)."""
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    gate = gate or LanguageGate()
    pairs, notes = pair_generations(load_generations(a), load_generations(b), tasks)
    records = judge_pairs(pairs, judge, gate, progress=progress)
    run_a, run_b = run_info(a, label_a), run_info(b, label_b)
    formats = (run_a.get("prompt_format"), run_b.get("prompt_format"))
    if None not in formats and formats[0] != formats[1]:
        notes.append(f"the runs used different prompt formats (A: {formats[0]}, B: {formats[1]})")
    report = build_comparison(records, run_a=run_a, run_b=run_b,
                              judge=judge.describe(), gate=gate.describe(), confidence=confidence, notes=notes)
    return report, records
