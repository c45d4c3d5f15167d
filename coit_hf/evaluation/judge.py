"""Pairwise LLM judges for ``coit-hf compare``: prompt, score parsing, and three ways to reach a judge model.

A judge sees one question and two answers ("Assistant 1", "Assistant 2") and writes a score from 1 to 10 for each
on its first line (the Vicuna / MI-Eval pairwise protocol); :func:`parse_scores` reads the pair back from free text.
Backends (chosen by :func:`make_judge` from a ``--judge`` spec):

- ``transformers:PATH_OR_ID`` (or a bare local folder): a local causal LM, greedy ``generate`` with its chat template
  when it has one (for tests and users without an API);
- ``openai:MODEL`` + ``base_url``: any OpenAI-compatible endpoint (a hosted model, ``vllm serve``) through the
  ``openai`` client;
- ``lighteval:BACKEND:MODEL``: lighteval's ``JudgeLM`` (``litellm``, ``openai``, ``tgi``, ``inference-providers``).

API keys come from the environment only (:data:`API_KEY_ENVS`, or the variable named by ``api_key_env``); they are
never accepted as arguments, logged, or written by :meth:`Judge.describe`.
"""

from __future__ import annotations

import logging
import os
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from coit_hf.errors import CoitError, ConfigError
from coit_hf.languages import get_language

logger = logging.getLogger(__name__)

API_KEY_ENVS = ("COIT_HF_JUDGE_API_KEY", "OPENAI_API_KEY")
"""Environment variables read, in order, for an endpoint judge's API key."""
DEFAULT_MAX_TOKENS = 64
SCORE_RANGE = (0.0, 10.0)

JUDGE_SYSTEM = "You are a careful and impartial judge of answers written by AI assistants."
JUDGE_TEMPLATE = """[Question]
{question}

[The Start of Assistant 1's Answer]
{answer_1}
[The End of Assistant 1's Answer]

[The Start of Assistant 2's Answer]
{answer_2}
[The End of Assistant 2's Answer]

[System]
Please compare how well the two AI assistants answered the user question above. The question is written in \
{language}. Judge helpfulness, relevance, accuracy and level of detail. Give each assistant an overall score from 1 \
to 10, where a higher score means a better answer.
On the first line, output only the two scores, for Assistant 1 and Assistant 2, separated by a space. On the \
following lines, explain your judgement briefly. Avoid any position bias: the order in which the answers are shown \
must not influence your scores."""


def judge_messages(question: str, answer_1: str, answer_2: str, lang: str) -> list[dict[str, str]]:
    """Chat messages asking for the scores of two answers (``answer_1`` shown first) to ``question`` in ``lang``."""
    user = JUDGE_TEMPLATE.format(question=question, answer_1=answer_1, answer_2=answer_2,
                                 language=get_language(lang).name)
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


# ------------------------------------------------------------------------------------------------------ parsing
_NUMBER = r"(\d+(?:\.\d+)?)"
_LABELLED = [
    re.compile(rf"(?:assistant|answer|response)[\s_]*{n}\b[\"']?(?:'s)?\s*(?:overall\s+)?(?:score|rating)?\s*"
               rf"(?:is|of|:|=|-)?\s*{_NUMBER}", re.IGNORECASE)
    for n in (1, 2)
]
_OUT_OF = re.compile(r"\s*(?:/\s*10(?:\.0+)?\b|out\s+of\s+10\b)", re.IGNORECASE)
# "Assistant 1 and 2" names the answers; its digits are not scores
_NAMES = re.compile(r"(?:assistant|answer|response)s?[\s_]*\d\b(?:\s*(?:and|&|,)\s*\d\b)?", re.IGNORECASE)


def _in_range(values: list[float]) -> bool:
    return all(SCORE_RANGE[0] <= v <= SCORE_RANGE[1] for v in values)


def parse_scores(text: str | None) -> tuple[float, float] | None:
    """The (Assistant 1, Assistant 2) scores in a judge's reply, or None when it holds no readable pair.

    Tried in order: a JSON-like / prose pair labelled "Assistant 1 ... 8" and "Assistant 2 ... 6"; the first line
    holding two numbers ("8 6", "8, 6", "8/10 6/10"); the first two numbers of the whole reply. Scores must lie in
    0-10 ("/10" and "out of 10" are dropped first, so they are not read as scores).
    """
    if not text or not isinstance(text, str):
        return None
    cleaned = _OUT_OF.sub("", text)
    labelled = [p.search(cleaned) for p in _LABELLED]
    if all(labelled):
        values = [float(m.group(1)) for m in labelled]  # type: ignore[union-attr]
        if _in_range(values):
            return values[0], values[1]
    cleaned = _NAMES.sub(" ", cleaned)
    for line in [*cleaned.splitlines(), cleaned]:
        numbers = [float(x) for x in re.findall(_NUMBER, line)]
        if len(numbers) >= 2:
            pair = numbers[:2]
            return (pair[0], pair[1]) if _in_range(pair) else None
    return None


# ------------------------------------------------------------------------------------------------------ judges
def redact_url(url: str | None) -> str | None:
    """``url`` without user info, query or fragment (they may carry credentials)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def api_key_from_env(names: tuple[str, ...] | None = None) -> str | None:
    """The first non-empty API key among the environment variables ``names`` (default :data:`API_KEY_ENVS`)."""
    for name in names or API_KEY_ENVS:
        value = os.environ.get(name)
        if value:
            return value
    return None


class Judge(ABC):
    """A judge model: turns chat-message prompts into reply texts."""

    kind: str = "judge"

    def __init__(self, model: str, max_tokens: int = DEFAULT_MAX_TOKENS):
        self.model = model
        self.max_tokens = max_tokens
        self.calls = 0  # prompts sent so far (each pair costs two: both orders)

    @abstractmethod
    def _complete(self, prompts: list[list[dict[str, str]]]) -> list[str]:
        """Reply texts of the judge model, one per prompt."""

    def complete(self, prompts: list[list[dict[str, str]]]) -> list[str]:
        """Send ``prompts`` (lists of chat messages) and return one reply text per prompt ("" on empty replies)."""
        if not prompts:
            return []
        replies = self._complete(prompts)
        self.calls += len(prompts)
        if len(replies) != len(prompts):
            raise RuntimeError(f"judge returned {len(replies)} replies for {len(prompts)} prompts")
        return [r if isinstance(r, str) else ("" if r is None else str(r)) for r in replies]

    def describe(self) -> dict[str, Any]:
        """What the report records about the judge (never a key)."""
        return {"kind": self.kind, "model": self.model, "max_tokens": self.max_tokens}


class TransformersJudge(Judge):
    """A local causal LM as judge: chat template when the tokenizer has one, greedy ``generate``, batched."""

    kind = "transformers"

    def __init__(self, model: str, max_tokens: int = DEFAULT_MAX_TOKENS, *, device: str = "cpu",
                 dtype: str | None = None, batch_size: int = 8, trust_remote_code: bool = False):
        super().__init__(model, max_tokens)
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.trust_remote_code = trust_remote_code
        self._model = None
        self._tokenizer = None

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.model, trust_remote_code=self.trust_remote_code)
        tokenizer.padding_side = "left"  # decoder-only batch generation
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        dtype = getattr(torch, self.dtype) if self.dtype else None
        model = AutoModelForCausalLM.from_pretrained(self.model, dtype=dtype, trust_remote_code=self.trust_remote_code,
                                                     use_safetensors=True)  # no pickled weights
        self._model, self._tokenizer = model.to(self.device).eval(), tokenizer

    def render(self, messages: list[dict[str, str]]) -> str:
        """The judge prompt as text: the model's chat template, or system + user + "Scores:" without one."""
        if self._tokenizer is None:
            self._load()
        if getattr(self._tokenizer, "chat_template", None):
            try:
                return self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            except Exception:  # noqa: BLE001 - templates without a system role (Gemma-style) raise; fold it in
                merged = [{"role": "user", "content": "\n\n".join(m["content"] for m in messages)}]
                return self._tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in messages) + "\n\nScores:"

    def _complete(self, prompts: list[list[dict[str, str]]]) -> list[str]:
        import torch

        if self._model is None:
            self._load()
        texts = [self.render(p) for p in prompts]
        replies: list[str] = []
        for start in range(0, len(texts), self.batch_size):
            batch = self._tokenizer(texts[start:start + self.batch_size], return_tensors="pt", padding=True,
                                    add_special_tokens=False).to(self.device)
            with torch.inference_mode():
                out = self._model.generate(**batch, max_new_tokens=self.max_tokens, do_sample=False,
                                           pad_token_id=self._tokenizer.pad_token_id)
            new = out[:, batch["input_ids"].shape[1]:]
            replies += [t.strip() for t in self._tokenizer.batch_decode(new, skip_special_tokens=True)]
        return replies

    def describe(self) -> dict[str, Any]:
        """Kind, model, max_tokens, device."""
        return {**super().describe(), "device": self.device}


class OpenAIJudge(Judge):
    """A judge behind any OpenAI-compatible chat-completions endpoint (temperature 0), via the ``openai`` client."""

    kind = "openai"

    def __init__(self, model: str, base_url: str | None, max_tokens: int = DEFAULT_MAX_TOKENS, *,
                 api_key_env: str | None = None, timeout: float = 120.0, max_retries: int = 2):
        super().__init__(model, max_tokens)
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self._client = None

    def _client_or_new(self):
        if self._client is None:
            from openai import OpenAI

            names = (self.api_key_env,) if self.api_key_env else API_KEY_ENVS
            key = api_key_from_env(names)
            if key is None and not self.base_url:
                raise ConfigError(f"the OpenAI judge needs an API key in ${' or $'.join(names)} (or a --judge-base-url "
                                  "of a server that needs none)")
            # A local `vllm serve` accepts any key; the client insists on a non-empty one.
            self._client = OpenAI(api_key=key or "EMPTY", base_url=self.base_url, timeout=self.timeout,
                                  max_retries=self.max_retries)
        return self._client

    def _complete(self, prompts: list[list[dict[str, str]]]) -> list[str]:
        import openai

        client = self._client_or_new()
        replies = []
        for messages in prompts:
            try:
                response = client.chat.completions.create(model=self.model, messages=messages, temperature=0.0,
                                                          max_tokens=self.max_tokens, n=1)
            except openai.APIStatusError as exc:  # the server answered: name the status, never the key
                raise CoitError(f"judge endpoint {redact_url(self.base_url) or 'api.openai.com'} answered HTTP "
                                f"{exc.status_code} for model {self.model!r}") from None
            except openai.APIConnectionError:
                raise CoitError(f"judge endpoint {redact_url(self.base_url) or 'api.openai.com'} is unreachable "
                                "(is the server running?)") from None
            replies.append(response.choices[0].message.content or "")
        return replies

    def describe(self) -> dict[str, Any]:
        """Kind, model, max_tokens and the endpoint URL without credentials."""
        return {**super().describe(), "base_url": redact_url(self.base_url)}


class LightevalJudge(Judge):
    """lighteval's ``JudgeLM`` with one of its API backends; our prompt goes in unchanged, the raw reply comes back."""

    kind = "lighteval"
    BACKENDS = ("litellm", "openai", "tgi", "inference-providers")

    def __init__(self, backend: str, model: str, url: str | None = None, max_tokens: int = DEFAULT_MAX_TOKENS, *,
                 api_key_env: str | None = None, hf_provider: str | None = None):
        super().__init__(model, max_tokens)
        if backend not in self.BACKENDS:
            raise ConfigError(f"lighteval judge backend must be one of {', '.join(self.BACKENDS)}, got {backend!r} "
                              "(its 'transformers' backend needs CUDA: use --judge transformers:PATH instead)")
        self.backend = backend
        self.url = url
        self.api_key_env = api_key_env
        self.hf_provider = hf_provider
        self._judge = None

    def build(self):
        """The lighteval ``JudgeLM`` (key from the environment; templates pass our messages through)."""
        from coit_hf.evaluation.lighteval_compat import make_judge_lm

        names = (self.api_key_env,) if self.api_key_env else (
            ("HF_TOKEN",) if self.backend == "inference-providers" else API_KEY_ENVS)
        return make_judge_lm(model=self.model, backend=self.backend, url=self.url, api_key=api_key_from_env(names),
                             max_tokens=self.max_tokens, hf_provider=self.hf_provider)

    def _complete(self, prompts: list[list[dict[str, str]]]) -> list[str]:
        from coit_hf.evaluation.lighteval_compat import judge_replies

        if self._judge is None:
            self._judge = self.build()
        return judge_replies(self._judge, prompts)

    def describe(self) -> dict[str, Any]:
        """Kind, backend, model, max_tokens and the URL without credentials."""
        return {**super().describe(), "backend": self.backend, "base_url": redact_url(self.url)}


def make_judge(spec: str, *, base_url: str | None = None, max_tokens: int = DEFAULT_MAX_TOKENS,
               api_key_env: str | None = None, device: str = "cpu", batch_size: int = 8) -> Judge:
    """A judge from a ``--judge`` spec: ``transformers:PATH_OR_ID`` (or a local folder), ``openai:MODEL`` (with
    ``base_url``; the official API when None) or ``lighteval:BACKEND:MODEL``."""
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in ("transformers", "openai", "lighteval"):
        if Path(spec).is_dir():
            return TransformersJudge(spec, max_tokens, device=device, batch_size=batch_size)
        raise ConfigError(f"bad judge {spec!r}: expected transformers:PATH_OR_ID, openai:MODEL (+ --judge-base-url) "
                          "or lighteval:BACKEND:MODEL")
    if not rest:
        raise ConfigError(f"bad judge {spec!r}: the model name is missing")
    if kind == "transformers":
        return TransformersJudge(rest, max_tokens, device=device, batch_size=batch_size)
    if kind == "openai":
        return OpenAIJudge(rest, base_url, max_tokens, api_key_env=api_key_env)
    backend, sep, model = rest.partition(":")
    if not sep or not model:
        raise ConfigError(f"bad judge {spec!r}: expected lighteval:BACKEND:MODEL, e.g. lighteval:litellm:gpt-4o")
    return LightevalJudge(backend, model, base_url, max_tokens, api_key_env=api_key_env)
