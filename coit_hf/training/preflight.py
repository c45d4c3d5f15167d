"""Pre-flight check: render the first examples with the chat template and count what the loss will see.

It also makes BOS agree between training and evaluation: TRL tokenises the chat template's text without special
tokens, while lighteval encodes evaluation prompts with them, so a LLaMA tokenizer (which adds BOS) needs the template
to emit BOS itself (:func:`align_template_bos`); the report says whether training sequences start with it.

Training with a template that supervises nothing (missing ``{% generation %}``) or that never supervises EOS (the
model never learns to stop) looks healthy in the loss curve; we fail before the first step instead.
"""

from __future__ import annotations

import logging
import re
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
    tokenizer_adds_bos: bool = False  # the tokenizer prepends BOS when it encodes text (as evaluation does)
    leading_bos: int = 0  # BOS tokens at the start of the first training example


# The switch in coit's alpaca template (coit_hf/chat_templates/alpaca.jinja).
_ADD_BOS_SWITCH = re.compile(r"\{%-? set add_bos = (true|false) -?%\}")


def tokenizer_adds_bos(tokenizer: PreTrainedTokenizerBase) -> bool:
    """True when encoding text with special tokens prepends the tokenizer's BOS (LLaMA does; ChatML models do not)."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return False
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    return len(with_special) > len(plain) and with_special[0] == bos


def align_template_bos(tokenizer: PreTrainedTokenizerBase) -> bool | None:
    """Set the ``add_bos`` switch of a coit template on ``tokenizer`` to whether the tokenizer adds BOS.

    Returns the value set, or None when the tokenizer's template has no such switch (left unchanged).
    """
    template = tokenizer.chat_template
    if not isinstance(template, str) or not _ADD_BOS_SWITCH.search(template):
        return None
    adds = tokenizer_adds_bos(tokenizer)
    tokenizer.chat_template = _ADD_BOS_SWITCH.sub(
        "{%- set add_bos = " + ("true" if adds else "false") + " -%}", template, count=1)
    return adds


def leading_bos_count(tokenizer: PreTrainedTokenizerBase, input_ids: list[int]) -> int:
    """How many BOS tokens open ``input_ids``."""
    bos = tokenizer.bos_token_id
    count = 0
    while bos is not None and count < len(input_ids) and input_ids[count] == bos:
        count += 1
    return count


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
            report.leading_bos = leading_bos_count(tokenizer, example.input_ids)
    if not report.examples:
        raise ConfigError("the training set is empty")
    if report.eos_supervised == 0:
        raise ConfigError(
            f"EOS ({tokenizer.eos_token!r}, id {eos}) is not supervised in the first {len(report.examples)} "
            "examples: the model would never learn to stop. Put the end-of-turn token inside {% generation %} or set "
            "`eos_token` to the template's end-of-turn token (or raise max_length if examples are truncated)"
        )
    report.tokenizer_adds_bos = tokenizer_adds_bos(tokenizer)
    if report.leading_bos > 1:
        raise ConfigError(f"training sequences start with {report.leading_bos} BOS tokens ({tokenizer.bos_token!r}): "
                          "the chat template and the data both add it; remove it from the data")
    if report.tokenizer_adds_bos != bool(report.leading_bos):
        logger.warning(
            "pre-flight: training sequences %s BOS (%r) but evaluation prompts encoded by this tokenizer %s it; "
            "use a chat template that emits `bos_token` exactly when the tokenizer adds it (shipped: alpaca)",
            "start with" if report.leading_bos else "do not start with", tokenizer.bos_token,
            "do not start with" if report.leading_bos else "start with")
    logger.info("pre-flight: BOS %r %s; the tokenizer %s it on encode", tokenizer.bos_token,
                "opens training sequences" if report.leading_bos else "does not open training sequences",
                "adds" if report.tokenizer_adds_bos else "does not add")
    logger.info("pre-flight: %d examples, %d tokens, %d supervised (%d EOS)", len(report.examples),
                report.total_tokens, report.supervised_tokens, report.eos_supervised)
    return report
