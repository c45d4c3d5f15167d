"""The paper's prompt protocol (Zhu et al. 2023): Alpaca wrapper, QA input block, translation instructions.

Every other module reads these constants from here; tests compare against the literal strings.
"""

from __future__ import annotations

from importlib import resources

from coit_hf.errors import ConfigError
from coit_hf.languages import Language, get_language, qa_prompt_parts

ALPACA_WITH_INPUT = "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
ALPACA_NO_INPUT = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:"
QA_INPUT = "{C}: {context}\n{Q}: {question}\n{A}: "

# Our own English paraphrases of "translate from {source_lang} to {target_lang}" (the paper used 33 of its own).
# Index 0 is the test-time instruction and must stay exactly as the paper's.
TRANSLATION_INSTRUCTIONS: tuple[str, ...] = (
    "Translate the following sentences from {source_lang} to {target_lang}.",
    "Translate this text from {source_lang} into {target_lang}.",
    "Please render the following {source_lang} text in {target_lang}.",
    "Convert the passage below from {source_lang} to {target_lang}.",
    "What is the {target_lang} translation of the following {source_lang} text?",
    "Give a {target_lang} translation of the {source_lang} sentences below.",
    "Rewrite the following {source_lang} text in {target_lang}, keeping its meaning.",
    "Provide the {target_lang} version of this {source_lang} passage.",
    "Translate from {source_lang} to {target_lang}:",
    "Express the following {source_lang} sentences in {target_lang}.",
    "I need this {source_lang} text translated into {target_lang}.",
    "Could you translate the text below from {source_lang} into {target_lang}?",
    "Turn the following {source_lang} text into fluent {target_lang}.",
    "Produce a faithful {target_lang} translation of the {source_lang} input.",
    "The text below is written in {source_lang}. Translate it into {target_lang}.",
    "Render this {source_lang} passage into natural {target_lang}.",
    "Translate the given {source_lang} sentence(s) into {target_lang}.",
    "How would you say the following {source_lang} text in {target_lang}?",
    "Write the following {source_lang} text in {target_lang}.",
    "Carry the meaning of this {source_lang} text over into {target_lang}.",
    "Please provide a translation from {source_lang} to {target_lang} of the text below.",
    "Translate the input from {source_lang} into {target_lang}.",
    "Give the {target_lang} equivalent of the following {source_lang} sentences.",
    "Translate this {source_lang} text to {target_lang} accurately.",
    "Put the following {source_lang} passage into {target_lang}.",
    "Your task: translate the {source_lang} text below into {target_lang}.",
    "Translate the {source_lang} sentences that follow into {target_lang}.",
    "Change the language of the following text from {source_lang} to {target_lang}.",
    "Offer a {target_lang} rendering of this {source_lang} text.",
    "Interpret the following {source_lang} text and write it in {target_lang}.",
    "Translate the next passage, which is in {source_lang}, into {target_lang}.",
    "Help me translate this from {source_lang} to {target_lang}.",
    "Translate into {target_lang} the following {source_lang} text.",
)

CHAT_TEMPLATE_NAMES: tuple[str, ...] = ("alpaca", "chatml")
"""Short names of the chat templates shipped in ``coit_hf/chat_templates/`` (both have generation markers)."""


def render_alpaca(instruction: str, input: str = "") -> str:
    """Return the paper's Alpaca prompt (ending in ``### Response:``) for an instruction and optional input."""
    if input:
        return ALPACA_WITH_INPUT.format(instruction=instruction, input=input)
    return ALPACA_NO_INPUT.format(instruction=instruction)


def translation_instruction(
    source: str | Language, target: str | Language, *, index: int = 0, name_style: str = "friendly"
) -> str:
    """Translation instruction ``index`` (taken modulo the paraphrase count) with the two language names filled in.

    Training rows use ``index = row index`` (round-robin); test rows use index 0. ``name_style`` is "friendly"
    ("Greek") or "iso" ("Modern Greek (1453-)").
    """
    src = source if isinstance(source, Language) else get_language(source)
    tgt = target if isinstance(target, Language) else get_language(target)
    template = TRANSLATION_INSTRUCTIONS[index % len(TRANSLATION_INSTRUCTIONS)]
    return template.format(source_lang=src.display_name(name_style), target_lang=tgt.display_name(name_style))


def qa_instruction_and_input(lang: str, context: str, question: str) -> tuple[str, str]:
    """QA instruction and input block in ``lang`` (context and question stripped), per the paper's protocol."""
    instruction, (c_label, q_label, a_label) = qa_prompt_parts(lang)
    block = QA_INPUT.format(C=c_label, context=context.strip(), Q=q_label, question=question.strip(), A=a_label)
    return instruction, block


def user_content(instruction: str, input: str = "") -> str:
    """Plain user-turn text for chat templates other than Alpaca: the instruction, then the input if any."""
    return f"{instruction}\n\n{input}" if input else instruction


def user_message(instruction: str, input: str = "") -> dict[str, str]:
    """A user chat message that every template can read.

    ``content`` holds instruction and input together (what generic templates show); the ``instruction`` and
    ``input`` keys let the ``alpaca`` template rebuild the paper's exact with-input / no-input prompt.
    """
    return {"role": "user", "content": user_content(instruction, input), "instruction": instruction, "input": input}


def assistant_message(output: str) -> dict[str, str]:
    """An assistant chat message with the same keys as :func:`user_message` (Arrow needs one struct type)."""
    return {"role": "assistant", "content": output, "instruction": "", "input": ""}


def chat_template_path(name: str) -> str:
    """Filesystem path of a shipped chat template (``alpaca`` or ``chatml``), usable as TRL's chat_template_path."""
    if name not in CHAT_TEMPLATE_NAMES:
        raise ConfigError(f"unknown chat template {name!r}; shipped: {', '.join(CHAT_TEMPLATE_NAMES)}")
    return str(resources.files("coit_hf.chat_templates").joinpath(f"{name}.jinja"))


def load_chat_template(name: str) -> str:
    """Text of a shipped chat template (``alpaca`` or ``chatml``)."""
    with open(chat_template_path(name), encoding="utf-8") as handle:
        return handle.read()
