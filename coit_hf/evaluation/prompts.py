"""Prompt helpers shared by every coit task family: the query sent to the model and the answer read back."""

from __future__ import annotations

from coit_hf.errors import ConfigError
from coit_hf.evaluation.results import PROMPT_FORMATS
from coit_hf.templates import render_alpaca, user_content

# The paper's Alpaca prompt ends in "### Response:"; a model that starts a new block has finished its answer.
STOP_SEQUENCES = ("\n### ",)


def build_prompt(instruction: str, input: str, prompt_format: str) -> str:
    """The query lighteval sends: the paper's Alpaca prompt, or the chat user turn (the model's template wraps it)."""
    if prompt_format == "paper":
        return render_alpaca(instruction, input)
    if prompt_format == "chat":
        return user_content(instruction, input)
    raise ConfigError(f"prompt format must be one of {', '.join(PROMPT_FORMATS)}, got {prompt_format!r}")


def prediction_of(model_response) -> str:
    """The first generated text of a lighteval ModelResponse, stripped."""
    texts = model_response.final_text
    return (texts[0] if texts else "").strip()
