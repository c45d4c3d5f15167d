"""The evaluation context: everything a coit task config depends on besides its name, passed down explicitly.

``coit-hf eval`` builds one from its options; the module lighteval's ``--custom-tasks`` imports builds one from the
environment with :meth:`EvalContext.from_environment`, the only place the ``COIT_HF_*`` evaluation variables are
read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from coit_hf.errors import ConfigError
from coit_hf.evaluation.prompts import STOP_SEQUENCES
from coit_hf.evaluation.results import GENERATION_PROFILES, NAME_STYLES, PROMPT_FORMATS, default_generation
from coit_hf.evaluation.sources import DEFAULT_SOURCES, DataSource, sources_from_env

PROMPT_FORMAT_ENV = "COIT_HF_PROMPT_FORMAT"
GENERATION_ENV = "COIT_HF_GENERATION"
NAME_STYLE_ENV = "COIT_HF_NAME_STYLE"
QA_GENERATION_SIZE = 64  # the fast profile's budgets
MT_GENERATION_SIZE = 256


@dataclass(frozen=True)
class GenerationProfile:
    """Generation budgets (max new tokens) per task kind and the stop strings; decoding is always greedy."""

    qa_tokens: int
    translation_tokens: int
    open_tokens: int  # open-ended instructions (MI-Eval)
    stop_sequences: tuple[str, ...]


# paper: the paper's inference generated greedily up to 512 new tokens with no stop string and kept the continuation
# after the prompt (stripped); the substring score depends on it. fast: shorter budgets, stop at a new "### " block.
PROFILES = {
    "paper": GenerationProfile(qa_tokens=512, translation_tokens=512, open_tokens=512, stop_sequences=()),
    "fast": GenerationProfile(qa_tokens=QA_GENERATION_SIZE, translation_tokens=MT_GENERATION_SIZE, open_tokens=256,
                              stop_sequences=STOP_SEQUENCES),
}


def generation_profile(name: str) -> GenerationProfile:
    """The :class:`GenerationProfile` called ``name`` ("paper" or "fast"); :class:`ConfigError` otherwise."""
    if name not in GENERATION_PROFILES:
        raise ConfigError(f"generation profile must be one of {', '.join(GENERATION_PROFILES)}, got {name!r}")
    return PROFILES[name]


def check_name_style(name_style: str) -> str:
    """``name_style`` when it is one of :data:`NAME_STYLES`, else :class:`ConfigError`."""
    if name_style not in NAME_STYLES:
        raise ConfigError(f"language name style must be one of {', '.join(NAME_STYLES)}, got {name_style!r}")
    return name_style


@dataclass(frozen=True)
class EvalContext:
    """Data sources, prompt format, generation profile, language-name style and languages of an evaluation.

    ``sources`` are overrides over :data:`DEFAULT_SOURCES` (the context holds the merged map); ``generation`` None
    means the paper's profile with the paper's prompt, else fast; ``languages`` None means every language of the
    registry; ``with_spbleu`` None means "when its SentencePiece model is on disk".
    """

    sources: Mapping[str, DataSource] = field(default_factory=dict)
    prompt_format: str = "paper"
    generation: str | None = None
    name_style: str = "friendly"
    languages: tuple[str, ...] | None = None
    qa_rules: str | None = None
    generation_size: int | None = None  # overrides the profile's maximum new tokens
    with_spbleu: bool | None = None

    def __post_init__(self) -> None:
        if self.prompt_format not in PROMPT_FORMATS:
            raise ConfigError(f"prompt format must be one of {', '.join(PROMPT_FORMATS)}, got {self.prompt_format!r}")
        object.__setattr__(self, "generation", self.generation or default_generation(self.prompt_format))
        generation_profile(self.generation)
        check_name_style(self.name_style)
        object.__setattr__(self, "sources", {**DEFAULT_SOURCES, **self.sources})
        if self.languages is not None:
            object.__setattr__(self, "languages", tuple(self.languages))

    @property
    def profile(self) -> GenerationProfile:
        """The generation profile's budgets and stop strings."""
        return PROFILES[self.generation]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> EvalContext:
        """The context named by ``$COIT_HF_EVAL_SOURCES``, ``$COIT_HF_PROMPT_FORMAT`` ("paper" or "chat"),
        ``$COIT_HF_GENERATION`` ("paper" or "fast") and ``$COIT_HF_NAME_STYLE`` ("friendly" or "iso")."""
        env = os.environ if environ is None else environ
        return cls(sources=sources_from_env(env), prompt_format=env.get(PROMPT_FORMAT_ENV) or "paper",
                   generation=env.get(GENERATION_ENV) or None, name_style=env.get(NAME_STYLE_ENV) or "friendly")
