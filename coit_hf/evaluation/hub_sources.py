"""Evaluation data from the Hub without loading scripts: pinned Parquet files read by ``hf://`` path.

``datasets`` >= 4 refuses any repo revision that still holds a loading script, also with ``data_files=``, and reading
a script repo's ``refs/convert/parquet`` branch by ``revision=`` merges its configs into one ``default`` config. So
every default here names explicit files (``hf://datasets/<repo>@<commit>/<path>``) read by the generic ``parquet``
builder. Each family keeps an ordered list of candidates; the first that loads is used and recorded (repo,
revision, commit, files with sha256, rows); when all fail, one error names each candidate with its reason.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass

from coit_hf.data.public_sources import hf_url
from coit_hf.errors import InputError
from coit_hf.languages import get_language

logger = logging.getLogger(__name__)


class RowCountError(InputError):
    """A downloaded split has another row count than the benchmark's: a finding about the data, not a fallback."""


@dataclass(frozen=True)
class HubCandidate:
    """One place a benchmark's files live: repo, revision, a repo-relative path per language, and what it holds.

    ``path`` may hold ``{lang}`` (registry code), ``{flores101}`` or ``{flores200}`` (the language's Flores codes).
    ``text_column`` is the sentence column of a per-language Flores file (None for SQuAD-shaped QA rows).
    """

    family: str
    benchmark: str
    repo: str
    revision: str
    path: str
    split: str
    config: str
    text_column: str | None = None
    languages: tuple[str, ...] | None = None  # languages the repo holds (None: any registry language with a code)
    gated: bool = False

    @property
    def label(self) -> str:
        return f"{self.repo}@{self.revision} ({self.benchmark})"

    def fill(self, template: str, lang: str) -> str:
        language = get_language(lang)
        return template.format(lang=lang, flores101=language.flores101_code, flores200=language.flores200_code)

    def file_path(self, lang: str) -> str:
        """Repo-relative path of ``lang``'s file; ConfigError/KeyError when the language has no code here."""
        path = self.fill(self.path, lang)
        if "//" in path or path.startswith("/") or "/." in path:  # an empty Flores code leaves a hole in the path
            raise KeyError(f"language {lang!r} has no code for {self.benchmark}")
        return path


# XQuAD: main holds Parquet since "Convert dataset to Parquet (#3)", which also deleted xquad.py; layout
# xquad.{lang}/validation-00000-of-00001.parquet, 1,190 rows per language
# (https://huggingface.co/datasets/xquad/commit/51adfef1c1287aab1d2d91b5bead9bcfb9c68583, verified).
XQUAD_CANDIDATES = (
    HubCandidate("xquad", "xquad", "google/xquad", "51adfef1c1287aab1d2d91b5bead9bcfb9c68583",
                 "xquad.{lang}/validation-00000-of-00001.parquet", "validation", "xquad.{lang}",
                 languages=("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")),
)
# MLQA: facebook/mlqa holds only mlqa.py on main (head 397ed40), so it is not a candidate. google/xtreme holds
# MLQA.{ctx}.{q}/{test,validation}-00000-of-00001.parquet (commits "Add MLQA.zh.zh data files" 814781d and siblings;
# tree https://huggingface.co/datasets/google/xtreme/tree/5d0e5de8d9e0965c282782cb3a6a349dfe45c55d/MLQA.zh.de,
# verified); whether xtreme.py is gone from main is unverified, hence the explicit hf:// files.
MLQA_CANDIDATES = (
    HubCandidate("mlqa", "mlqa", "google/xtreme", "5d0e5de8d9e0965c282782cb3a6a349dfe45c55d",
                 "MLQA.{lang}.{lang}/test-00000-of-00001.parquet", "test", "MLQA.{lang}.{lang}",
                 languages=("ar", "de", "en", "es", "hi", "vi", "zh")),
)
# Flores-101: gsarti/flores_101 is a script repo; its refs/convert/parquet branch holds <code>/devtest/0000.parquet
# per language (the converter renamed <code>/flores_101-devtest.parquet to that layout:
# https://huggingface.co/datasets/gsarti/flores_101/commit/a644597769e2d43b04f23ccd68532997d8d5bbb6, verified for
# zho_trad; the other codes by analogy). The branch moves when the converter reruns, so the commit read is recorded.
# FLORES+ (gated; layout devtest/<flores200 code>.parquet with column "text": unverified) and Flores-200
# (facebook/flores refs/convert/parquet <flores200 code>/devtest/0000.parquet: unverified) are later benchmark
# versions (some translations revised), labelled so in results and cards.
FLORES_CANDIDATES = (
    HubCandidate("flores101", "flores101", "gsarti/flores_101", "refs/convert/parquet",
                 "{flores101}/devtest/0000.parquet", "devtest", "{flores101}", text_column="sentence"),
    HubCandidate("flores101", "flores_plus", "openlanguagedata/flores_plus", "main",
                 "devtest/{flores200}.parquet", "devtest", "{flores200}", text_column="text", gated=True),
    HubCandidate("flores101", "flores200", "facebook/flores", "refs/convert/parquet",
                 "{flores200}/devtest/0000.parquet", "devtest", "{flores200}", text_column="sentence"),
)
CANDIDATES: dict[str, tuple[HubCandidate, ...]] = {
    "xquad": XQUAD_CANDIDATES, "mlqa": MLQA_CANDIDATES, "flores101": FLORES_CANDIDATES,
}

# Rows per language of each benchmark split, checked after download. XQuAD 1,190 (google/xquad card); Flores
# devtest 1,012 (FLORES+ card, https://huggingface.co/datasets/openlanguagedata/flores_plus); MLQA test: zh 5,137
# (google/xtreme commit 4561811, MLQA.zh.* README), hi 4,918 (commit 42c80479, MLQA.hi.hi); en 11,590, ar 5,335,
# vi 5,495, de 4,517, es 5,253 from the MLQA paper's table (unverified against the Hub README).
EXPECTED_ROWS: dict[str, dict[str, int] | int] = {
    "xquad": 1190,
    "flores101": 1012,
    "mlqa": {"en": 11590, "ar": 5335, "de": 4517, "es": 5253, "hi": 4918, "vi": 5495, "zh": 5137},
}


def expected_rows(family: str, lang: str, overrides: dict[str, int] | None = None) -> int | None:
    """Rows ``lang``'s split of ``family`` must have (None: unknown, not checked); ``overrides`` win per family."""
    if overrides and family in overrides:
        return overrides[family]
    value = EXPECTED_ROWS.get(family)
    return value.get(lang) if isinstance(value, dict) else value


def _hub_token() -> str | None:
    from huggingface_hub import get_token

    return get_token()


def resolve_commit(repo: str, revision: str) -> str:
    """The commit sha ``revision`` (branch, tag, ``refs/convert/parquet`` or sha) points at in dataset ``repo``."""
    import datasets
    from huggingface_hub import HfApi

    return HfApi(endpoint=datasets.config.HF_ENDPOINT).dataset_info(repo, revision=revision).sha


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_hub_file(repo: str, commit: str, path: str, builder: str = "parquet") -> tuple[list[dict], str]:
    """Rows of one Hub file read by the generic ``builder`` over its ``hf://`` path, and the file's sha256."""
    import datasets
    from huggingface_hub import hf_hub_download

    url = hf_url(repo, commit, path)
    dataset = datasets.load_dataset(builder, data_files={"test": url}, split="test")
    # The builder downloaded the file through huggingface_hub's cache: this call is a cache hit that names it.
    local = hf_hub_download(repo, path, repo_type="dataset", revision=commit, endpoint=datasets.config.HF_ENDPOINT)
    return dataset.to_list(), sha256_of(local)


def qa_rows(rows: list[dict], where: str) -> list[dict]:
    """SQuAD-shaped rows ``{id, context, question, answers{text, answer_start}}`` from XQuAD/MLQA Parquet rows."""
    out = []
    for number, row in enumerate(rows, start=1):
        answers = row.get("answers") or {}
        if not isinstance(row.get("context"), str) or not answers.get("text"):
            raise InputError(f"row {number} lacks context or answers.text (columns: {sorted(row)})", path=where)
        out.append({"id": str(row.get("id", number)), "context": row["context"], "question": row["question"],
                    "answers": {"text": list(answers["text"]),
                                "answer_start": [int(x) for x in answers.get("answer_start", [])]}})
    return out


def _sentence_rows(rows: list[dict], column: str, where: str) -> list[dict]:
    if rows and column not in rows[0]:
        raise InputError(f"no column {column!r} (columns: {sorted(rows[0])})", path=where, field=column)
    ordered = sorted(rows, key=lambda r: int(r["id"])) if rows and "id" in rows[0] else rows
    return [{"id": str(r.get("id", i)), "sentence": r[column]} for i, r in enumerate(ordered)]


def fetch_language(candidate: HubCandidate, lang: str, commit: str | None = None,
                   row_overrides: dict[str, int] | None = None) -> tuple[list[dict], dict]:
    """Download ``lang``'s split from ``candidate``; return (rows, provenance).

    QA rows are SQuAD-shaped ``{id, context, question, answers}``; Flores rows are ``{id, sentence}``. Provenance:
    ``{family, benchmark, repo, revision, commit, config, split, rows, files: [{path, sha256}]}``. Raises
    :class:`InputError` for a wrong row count (expected from :data:`EXPECTED_ROWS` or ``row_overrides``).
    """
    if candidate.languages is not None and lang not in candidate.languages:
        raise KeyError(f"{candidate.repo} has no {lang!r} (it has {', '.join(candidate.languages)})")
    if candidate.gated and not _hub_token():
        raise PermissionError("gated dataset: needs a token (HF_TOKEN) of an account that accepted its terms")
    path = candidate.file_path(lang)
    commit = commit or resolve_commit(candidate.repo, candidate.revision)
    raw, sha = read_hub_file(candidate.repo, commit, path)
    where = hf_url(candidate.repo, commit, path)
    rows = _sentence_rows(raw, candidate.text_column, where) if candidate.text_column else qa_rows(raw, where)
    expected = expected_rows(candidate.family, lang, row_overrides)
    if expected is not None and len(rows) != expected:
        raise RowCountError(f"{len(rows)} rows, expected {expected} for {candidate.benchmark} {lang} {candidate.split} "
                         f"(a different file version? override with --expected-rows {candidate.family}=N)", path=where)
    provenance = {
        "family": candidate.family, "benchmark": candidate.benchmark, "repo": candidate.repo,
        "revision": candidate.revision, "commit": commit, "config": candidate.fill(candidate.config, lang),
        "split": candidate.split, "rows": len(rows), "files": [{"path": path, "sha256": sha}], "local": None,
    }
    return rows, provenance


def fetch_first(family: str, langs: tuple[str, ...], row_overrides: dict[str, int] | None = None,
                candidates: tuple[HubCandidate, ...] | None = None) -> dict[str, tuple[list[dict], dict]]:
    """Per language of ``langs``: (rows, provenance) from the first candidate of ``family`` that serves them all.

    All languages come from one candidate (a Flores pair never mixes benchmark versions). When every candidate fails,
    raises :class:`InputError` listing each with its reason and the local-files alternative.
    """
    reasons = []
    for candidate in candidates or CANDIDATES[family]:
        try:
            commit = None if candidate.gated and not _hub_token() else resolve_commit(candidate.repo, candidate.revision)
            out = {lang: fetch_language(candidate, lang, commit, row_overrides) for lang in langs}
        except RowCountError:
            raise
        except InputError as exc:
            reasons.append(f"{candidate.label}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - any failure of one candidate moves on to the next, reason kept
            reasons.append(f"{candidate.label}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            continue
        if candidate is not (candidates or CANDIDATES[family])[0]:
            logger.warning("%s: using %s (earlier candidates failed: %s)", family, candidate.label, "; ".join(reasons))
        return out
    local = {"xquad": "xquad=path/to/xquad/ (SQuAD JSON xquad.{lang}.json)",
             "mlqa": "mlqa=path/to/mlqa/ (SQuAD JSON test-context-{lang}-question-{lang}.json)",
             "flores101": "flores101=path/to/flores101/ (one sentence per line: {flores101_code}.devtest)"}[family]
    raise InputError(f"no {family} source could be loaded for {', '.join(langs)}:\n  - " + "\n  - ".join(reasons)
                     + f"\nUse local files instead: --source '{local}' or --data-dir DIR "
                       "(a folder written by `coit-hf eval prepare`)", path=family)
