"""Pre-flight check: render the first examples with the chat template and count what the loss will see.

Training with a template that supervises nothing (missing ``{% generation %}``) or that never supervises EOS (the
model never learns to stop) looks healthy in the loss curve; we fail before the first step instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from transformers import PreTrainedTokenizerBase

from coit_hf.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass
class RenderedExample:
    """One example as training sees it."""

    text: str
    input_ids: list[int]
    mask: list[int]  # 1 where the token is supervised

    @property
    def supervised_ids(self) -> list[int]:
        """Token ids that carry loss."""
        return [t for t, m in zip(self.input_ids, self.mask, strict=True) if m]


@dataclass
class PreflightReport:
    """Token counts over the checked examples."""

    examples: list[RenderedExample] = field(default_factory=list)
    total_tokens: int = 0
    supervised_tokens: int = 0
    eos_supervised: int = 0


def render_example(
    tokenizer: PreTrainedTokenizerBase, messages: list[Mapping[str, Any]], *, assistant_only_loss: bool
) -> RenderedExample:
    """Render ``messages`` with the tokenizer's chat template the way TRL tokenises them, with the loss mask."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=assistant_only_loss
    )
    ids = list(out["input_ids"])
    mask = list(out["assistant_masks"]) if assistant_only_loss else [1] * len(ids)
    return RenderedExample(text=text, input_ids=ids, mask=mask)


def run_preflight(
    tokenizer: PreTrainedTokenizerBase,
    rows: Iterable[Mapping[str, Any]],
    *,
    assistant_only_loss: bool,
    num_examples: int = 3,
    max_length: int | None = None,
) -> PreflightReport:
    """Check the first ``num_examples`` rows (each with ``messages``); raise :class:`ConfigError` when unusable.

    Fails when an example has no supervised token, or when EOS is never supervised (within ``max_length``).
    """
    report = PreflightReport()
    eos = tokenizer.eos_token_id
    for index, row in enumerate(rows):
        if index >= num_examples:
            break
        example = render_example(tokenizer, row["messages"], assistant_only_loss=assistant_only_loss)
        ids, mask = example.input_ids, example.mask
        if max_length is not None:
            ids, mask = ids[:max_length], mask[:max_length]
        supervised = [t for t, m in zip(ids, mask, strict=True) if m]
        if not supervised and example.supervised_ids:
            raise ConfigError(
                f"example {index}: the response starts after max_length={max_length} tokens, so nothing is "
                f"supervised; raise max_length (the example has {len(example.input_ids)} tokens)"
            )
        if not supervised:
            raise ConfigError(
                f"example {index}: no token is supervised with this chat template "
                f"(assistant_only_loss={assistant_only_loss}); the template needs {{% generation %}} markers "
                f"around the assistant turn (shipped: `chat_template: alpaca` / `chatml`). Rendered: {example.text!r}"
            )
        report.examples.append(example)
        report.total_tokens += len(ids)
        report.supervised_tokens += len(supervised)
        report.eos_supervised += supervised.count(eos)
        if index == 0:
            logger.info("pre-flight example 0 rendered:\n%s", example.text)
    if not report.examples:
        raise ConfigError("the training set is empty")
    if report.eos_supervised == 0:
        raise ConfigError(
            f"EOS ({tokenizer.eos_token!r}, id {eos}) is not supervised in the first {len(report.examples)} "
            "examples: the model would never learn to stop. Put the end-of-turn token inside {% generation %} or set "
            "`eos_token` to the template's end-of-turn token (or raise max_length if examples are truncated)"
        )
    logger.info("pre-flight: %d examples, %d tokens, %d supervised (%d EOS)", len(report.examples),
                report.total_tokens, report.supervised_tokens, report.eos_supervised)
    return report
