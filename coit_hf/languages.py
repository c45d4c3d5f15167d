"""The language registry: one entry per language, everything else reads language facts from here.

The paper's languages (en ar el hi tr vi zh) are built in. Any other language is added by configuration: a YAML or
JSON file holding a list of entries (the fields of :class:`Language`), loaded with :func:`load_language_file`,
named by ``coit-hf --languages-file`` options, or listed in the ``COIT_HF_LANGUAGES`` environment variable
(paths separated by ``os.pathsep``), which every process — lighteval and ``accelerate launch`` children too —
reads when the registry is first used.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coit_hf.errors import ConfigError, InputError
from coit_hf.files import read_json, read_yaml
from coit_hf.writing_systems import KNOWN_SCRIPTS

logger = logging.getLogger(__name__)

LANGUAGES_ENV = "COIT_HF_LANGUAGES"


@dataclass(frozen=True)
class Language:
    """Facts about one language.

    Attributes:
        code: short code used everywhere in coit-hf (ISO 639-1 where one exists), e.g. "zh".
        name: friendly English name used in translation instructions by default, e.g. "Chinese".
        native_name: the language's own name, e.g. "中文".
        iso639_3: ISO 639-3 code, e.g. "zho".
        iso639_3_name: ISO 639-3 reference name (the paper's instruction form), e.g. "Modern Greek (1453-)".
        scripts: Unicode scripts its letters are written in (see coit_hf.writing_systems), e.g. ("Han",).
        flores101_code: Flores-101 file code, e.g. "zho_simpl".
        flores200_code: Flores-200 / flores_plus code, e.g. "zho_Hans".
        qa_instruction: QA instruction in this language (the paper's QA prompt, see coit_hf.templates).
        qa_labels: (context, question, answer) field labels in this language.
        segmentation: "whitespace" or "char" — how F1 tokenises answers (char for languages without spaces).
        bleu_tokenize: sacreBLEU tokenizer for BLEU on this language as target ("13a", "zh", "char", "intl", ...).
        articles: regular expression of articles removed by MLQA-style answer normalisation ("" = none).
        marker_chars: letters distinctive of this language within its script (helps tell tr/vi from en).
    """

    code: str
    name: str
    native_name: str
    iso639_3: str
    iso639_3_name: str
    scripts: tuple[str, ...]
    flores101_code: str = ""
    flores200_code: str = ""
    qa_instruction: str = ""
    qa_labels: tuple[str, str, str] = ("", "", "")
    segmentation: str = "whitespace"
    bleu_tokenize: str = "13a"
    articles: str = ""
    marker_chars: str = ""

    @property
    def has_qa_prompt(self) -> bool:
        """True when the registry holds this language's own QA instruction and labels."""
        return bool(self.qa_instruction) and all(self.qa_labels)

    def display_name(self, style: str = "friendly") -> str:
        """Name used in translation instructions: ``friendly`` (default) or ``iso`` (ISO 639-3 reference name)."""
        if style == "friendly":
            return self.name
        if style == "iso":
            return self.iso639_3_name
        raise ConfigError(f"language name style must be 'friendly' or 'iso', got {style!r}")


BUILTIN_LANGUAGES: tuple[Language, ...] = (
    Language(
        code="en", name="English", native_name="English", iso639_3="eng", iso639_3_name="English",
        scripts=("Latin",), flores101_code="eng", flores200_code="eng_Latn",
        qa_instruction="Answer the final question with following context",
        qa_labels=("Context", "Question", "Answer"), articles=r"\b(a|an|the)\b",
    ),
    Language(
        code="ar", name="Arabic", native_name="العربية", iso639_3="ara", iso639_3_name="Arabic",
        scripts=("Arabic",), flores101_code="ara", flores200_code="arb_Arab",
        qa_instruction="الرجاء الإجابة على الأسئلة بناءً على الفقرات التالية",
        qa_labels=("فقرة", "سؤال", "إجابة"), articles=r"\sال^|ال",
    ),
    Language(
        code="el", name="Greek", native_name="Ελληνικά", iso639_3="ell", iso639_3_name="Modern Greek (1453-)",
        scripts=("Greek",), flores101_code="ell", flores200_code="ell_Grek",
        qa_instruction="Απαντήστε στις ερωτήσεις με βάση τις παρακάτω παραγράφους",
        qa_labels=("παράγραφος", "ερώτηση", "Απάντηση"),
        articles=r"\b(ο|η|το|οι|τα|του|της|των|τον|την|τους|τις|ένας|μια|μία|ένα|ενός|μιας)\b",
    ),
    Language(
        code="hi", name="Hindi", native_name="हिन्दी", iso639_3="hin", iso639_3_name="Hindi",
        scripts=("Devanagari",), flores101_code="hin", flores200_code="hin_Deva",
        qa_instruction="कृपया निम्नलिखित पैराग्राफ के अनुसार प्रश्नों के उत्तर दें",
        qa_labels=("अनुच्छेद", "सवाल", "उत्तर"),
    ),
    Language(
        code="tr", name="Turkish", native_name="Türkçe", iso639_3="tur", iso639_3_name="Turkish",
        scripts=("Latin",), flores101_code="tur", flores200_code="tur_Latn",
        qa_instruction="Lütfen soruları aşağıdaki paragraflara göre cevaplayınız",
        qa_labels=("paragraf", "soru", "Cevap"), marker_chars="çğıİöşüÇĞÖŞÜ",
    ),
    Language(
        code="vi", name="Vietnamese", native_name="Tiếng Việt", iso639_3="vie", iso639_3_name="Vietnamese",
        scripts=("Latin",), flores101_code="vie", flores200_code="vie_Latn",
        qa_instruction="Hãy trả lời các câu hỏi theo đoạn văn sau",
        qa_labels=("đoạn văn", "câu hỏi", "Trả lời"), articles=r"\b(của|là|cái|chiếc|những)\b",
        marker_chars="ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹĂÂĐÊÔƠƯ",
    ),
    Language(
        code="zh", name="Chinese", native_name="中文", iso639_3="zho", iso639_3_name="Chinese",
        scripts=("Han",), flores101_code="zho_simpl", flores200_code="zho_Hans",
        qa_instruction="请根据以下段落，回答问题", qa_labels=("段落", "问题", "答案"),
        segmentation="char", bleu_tokenize="zh",
    ),
)

PAPER_LANGUAGES: tuple[str, ...] = ("ar", "el", "hi", "tr", "vi", "zh")
"""Non-English languages of the paper's x-models (x-LLaMA)."""

_FIELDS = {f.name for f in dataclasses.fields(Language)}
_REQUIRED = {f.name for f in dataclasses.fields(Language) if f.default is dataclasses.MISSING}


class LanguageRegistry:
    """Mutable mapping code -> :class:`Language`, seeded with the built-in languages."""

    def __init__(self, languages: tuple[Language, ...] = BUILTIN_LANGUAGES):
        self._languages: dict[str, Language] = {lang.code: lang for lang in languages}
        self._loaded_paths: set[str] = set()
        self._env_seen: str | None = None  # the $COIT_HF_LANGUAGES value last loaded (lookups are per row)

    def __contains__(self, code: object) -> bool:
        return code in self._languages

    def codes(self) -> list[str]:
        """All registered codes, built-ins first, in registration order."""
        return list(self._languages)

    def get(self, code: str) -> Language:
        """Return the entry for ``code`` or raise :class:`ConfigError` listing the known codes."""
        try:
            return self._languages[code]
        except KeyError:
            known = ", ".join(self._languages)
            raise ConfigError(
                f"unknown language code {code!r}; known: {known}. Add it with a languages file "
                f"(--languages-file or ${LANGUAGES_ENV})."
            ) from None

    def add(self, language: Language, *, replace: bool = False) -> None:
        """Register ``language``; refuses to silently replace an existing code unless ``replace``."""
        if language.code in self._languages and not replace and self._languages[language.code] != language:
            raise ConfigError(f"language {language.code!r} is already registered; pass replace=True to override")
        self._languages[language.code] = language

    def load_file(self, path: str | os.PathLike[str], *, replace: bool = True) -> list[Language]:
        """Load a YAML/JSON languages file (a list of entries, or ``{languages: [...]}``) into the registry."""
        path = Path(path)
        key = str(path.resolve())
        languages = parse_language_file(path)
        for language in languages:
            self.add(language, replace=replace)
        self._loaded_paths.add(key)
        return languages

    def load_env(self) -> None:
        """Load every file named in ``$COIT_HF_LANGUAGES`` not loaded yet (a no-op while the variable is unchanged)."""
        value = os.environ.get(LANGUAGES_ENV, "")
        if value == self._env_seen:
            return
        for item in filter(None, value.split(os.pathsep)):
            if str(Path(item).resolve()) not in self._loaded_paths:
                self.load_file(item)
        self._env_seen = value


def parse_language_file(path: Path) -> list[Language]:
    """Parse a languages file into :class:`Language` entries, with errors naming the file, entry and field."""
    path = Path(path)
    data: Any = (read_json(path, missing="languages file not found") if path.suffix == ".json"
                 else read_yaml(path, "languages file"))
    if isinstance(data, dict):
        data = data.get("languages", [data] if "code" in data else None)
    if not isinstance(data, list) or not data:
        raise InputError("expected a non-empty list of language entries (or a mapping with 'languages:')", path=path)
    languages = []
    for index, entry in enumerate(data, start=1):
        where = f"entry {index}"
        if not isinstance(entry, dict):
            raise InputError(f"{where} must be a mapping of language fields", path=path)
        unknown = set(entry) - _FIELDS
        if unknown:
            raise InputError(
                f"{where} has unknown field(s) {sorted(unknown)}; allowed: {sorted(_FIELDS)}",
                path=path, field=sorted(unknown)[0],
            )
        missing = _REQUIRED - set(entry)
        if missing:
            raise InputError(f"{where} lacks required field(s) {sorted(missing)}", path=path, field=sorted(missing)[0])
        values = dict(entry)
        scripts = values["scripts"]
        values["scripts"] = tuple([scripts] if isinstance(scripts, str) else scripts)
        bad_scripts = [s for s in values["scripts"] if s not in KNOWN_SCRIPTS]
        if bad_scripts:
            raise InputError(
                f"{where} names unknown script(s) {bad_scripts}; known: {sorted(KNOWN_SCRIPTS)}",
                path=path, field="scripts",
            )
        if "qa_labels" in values:
            labels = values["qa_labels"]
            if not (isinstance(labels, list | tuple) and len(labels) == 3):
                raise InputError(f"{where}: qa_labels must be [context, question, answer]", path=path, field="qa_labels")
            values["qa_labels"] = tuple(str(x) for x in labels)
        if values.get("segmentation", "whitespace") not in ("whitespace", "char"):
            raise InputError(f"{where}: segmentation must be 'whitespace' or 'char'", path=path, field="segmentation")
        for name in _FIELDS - {"scripts", "qa_labels"}:
            if name in values and not isinstance(values[name], str):
                raise InputError(f"{where}: {name} must be a string", path=path, field=name)
        try:  # used at evaluation time: a broken pattern must fail here, naming the file, not mid-evaluation
            re.compile(values.get("articles", ""))
        except re.error as exc:
            raise InputError(f"{where}: articles is not a valid regular expression ({exc})", path=path,
                             field="articles") from None
        languages.append(Language(**values))
    return languages


REGISTRY = LanguageRegistry()


def get_language(code: str) -> Language:
    """Return the registered language ``code`` (loading ``$COIT_HF_LANGUAGES`` files first)."""
    REGISTRY.load_env()
    return REGISTRY.get(code)


def language_codes() -> list[str]:
    """All registered language codes (built-ins and configured ones)."""
    REGISTRY.load_env()
    return REGISTRY.codes()


def load_language_file(path: str | os.PathLike[str]) -> list[Language]:
    """Add the languages of a YAML/JSON file to the process-wide registry and return them."""
    return REGISTRY.load_file(path)


def qa_prompt_parts(code: str) -> tuple[str, tuple[str, str, str]]:
    """QA instruction and (context, question, answer) labels for ``code``; English with a warning if it has none."""
    language = get_language(code)
    if language.has_qa_prompt:
        return language.qa_instruction, language.qa_labels
    logger.warning("language %r has no QA instruction/labels in the registry; using the English ones", code)
    english = get_language("en")
    return english.qa_instruction, english.qa_labels
