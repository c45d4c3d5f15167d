"""Repos on the loopback Hub laid out like the real ones the defaults name (same ids, same pinned commit ids, same
file paths and script files), filled with the real XQuAD / UDHR text of ``../shared/benchmarks``.

Each ``seed_*`` function cites the Hub page whose layout it copies. Row counts are the real ones where the check
depends on them (XQuAD 1,190; Flores devtest 1,012 and dev 997; MLQA zh test 5,137): UDHR segments and XQuAD rows are
cycled with fresh ids to reach them. Idempotent: a repo already seeded in this server session is left as it is.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hub_server import HubServer

from coit_hf.data.public_sources import BACTRIAN_X_REVISION, OPUS100_REVISION
from coit_hf.evaluation.hub_sources import EXPECTED_ROWS, MLQA_CANDIDATES, XQUAD_CANDIDATES
from coit_hf.evaluation.sources import read_squad_json
from coit_hf.languages import get_language

SCRIPT = b"import datasets\n\n\nclass Builder(datasets.GeneratorBasedBuilder):\n    pass\n"


def parquet_bytes(rows: list[dict]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def _cycle(rows: list[dict], count: int) -> list[dict]:
    return [{**rows[i % len(rows)], "id": f"{rows[i % len(rows)].get('id', i)}-{i // len(rows)}"}
            for i in range(count)]


def udhr_rows(benchmarks: Path) -> list[dict]:
    return [json.loads(line) for line in (benchmarks / "udhr" / "udhr_7way.jsonl").read_text().splitlines() if line]


def _seeded(server: HubServer, repo_id: str, branch: str = "main") -> bool:
    repo = server.repos.get(("dataset", repo_id))
    return repo is not None and branch in repo.branches


def seed_xquad(server: HubServer, benchmarks: Path, langs=("en", "zh", "hi")) -> None:
    """google/xquad: Parquet on main, xquad.{lang}/validation-00000-of-00001.parquet, no script
    (https://huggingface.co/datasets/xquad/commit/51adfef1c1287aab1d2d91b5bead9bcfb9c68583)."""
    candidate = XQUAD_CANDIDATES[0]
    if _seeded(server, candidate.repo):
        return
    files = {candidate.file_path(lang): parquet_bytes(read_squad_json(benchmarks / "xquad" / f"xquad.{lang}.json"))
             for lang in langs}
    files["README.md"] = b"---\npretty_name: XQuAD\n---\n# XQuAD\n"
    server.seed_repo("dataset", candidate.repo, files, commit=candidate.revision, title="Convert dataset to Parquet (#3)")


def seed_xtreme(server: HubServer, benchmarks: Path, langs=("zh",)) -> None:
    """google/xtreme: xtreme.py on main (kept: whether it is gone is unverified) plus Parquet folders
    MLQA.{l}.{l}/{test,validation}-00000-of-00001.parquet
    (https://huggingface.co/datasets/google/xtreme/tree/5d0e5de8d9e0965c282782cb3a6a349dfe45c55d/MLQA.zh.de)."""
    candidate = MLQA_CANDIDATES[0]
    if _seeded(server, candidate.repo):
        return
    files: dict[str, bytes] = {"xtreme.py": SCRIPT, "README.md": b"---\npretty_name: XTREME\n---\n# xtreme\n"}
    for lang in langs:
        rows = [{"id": r["id"], "title": "", **{k: r[k] for k in ("context", "question", "answers")}}
                for r in read_squad_json(benchmarks / "xquad" / f"xquad.{lang}.json")]
        files[candidate.file_path(lang)] = parquet_bytes(_cycle(rows, EXPECTED_ROWS["mlqa"][lang]))
        files[candidate.file_path(lang).replace("test-", "validation-")] = parquet_bytes(rows[:50])
    server.seed_repo("dataset", candidate.repo, files, commit=candidate.revision, title="Add MLQA.zh.zh data files")


def seed_facebook_mlqa(server: HubServer) -> None:
    """facebook/mlqa: only the loading script on main (mlqa.py, README.md, .gitattributes; head 397ed40,
    https://huggingface.co/datasets/facebook/mlqa/tree/main)."""
    if not _seeded(server, "facebook/mlqa"):
        server.seed_repo("dataset", "facebook/mlqa", {"mlqa.py": SCRIPT, "README.md": b"# MLQA\n"}, title="script")


def seed_flores_101(server: HubServer, benchmarks: Path, langs=("en", "zh", "el")) -> None:
    """gsarti/flores_101: flores_101.py on main; branch refs/convert/parquet with <code>/{dev,devtest}/0000.parquet
    (https://huggingface.co/datasets/gsarti/flores_101/commit/a644597769e2d43b04f23ccd68532997d8d5bbb6)."""
    if _seeded(server, "gsarti/flores_101", "refs/convert/parquet"):
        return
    server.seed_repo("dataset", "gsarti/flores_101", {"flores_101.py": SCRIPT, "README.md": b"# Flores-101\n"})
    udhr = udhr_rows(benchmarks)
    files = {}
    for lang in langs:
        code = get_language(lang).flores101_code
        for split, count in (("devtest", 1012), ("dev", 997)):
            rows = [{"id": i + 1, "URL": "", "domain": "udhr", "topic": "", "has_image": 0, "has_hyperlink": 0,
                     "sentence": udhr[i % len(udhr)][lang]} for i in range(count)]
            files[f"{code}/{split}/0000.parquet"] = parquet_bytes(rows)
    server.seed_repo("dataset", "gsarti/flores_101", files, branch="refs/convert/parquet", title="Update parquet files")


def seed_opus100(server: HubServer, benchmarks: Path, langs=("ar", "el", "hi", "tr", "vi", "zh")) -> None:
    """Helsinki-NLP/opus-100: Parquet on main, <pair>/{train,validation,test}-00000-of-00001.parquet, translation{..}
    (https://huggingface.co/datasets/Helsinki-NLP/opus-100/tree/805090dc28bf78897da9641cdf08b61287580df9/en-he)."""
    if _seeded(server, "Helsinki-NLP/opus-100"):
        return
    udhr = udhr_rows(benchmarks)
    files = {}
    for lang in langs:
        pair = "-".join(sorted(("en", lang)))
        rows = [{"translation": {"en": r["en"], lang: r[lang]}} for r in udhr]
        for split, part in (("train", rows[:60]), ("validation", rows[60:70]), ("test", rows[70:])):
            files[f"{pair}/{split}-00000-of-00001.parquet"] = parquet_bytes(part)
    server.seed_repo("dataset", "Helsinki-NLP/opus-100", files, commit=OPUS100_REVISION, title="Update dataset card (#6)")


def seed_bactrian_x(server: HubServer, benchmarks: Path, langs=("ar", "hi", "tr", "vi", "zh", "en")) -> None:
    """MBZUAI/Bactrian-X: Bactrian-X.py on main plus data/{lang}.json.gz (no el)
    (https://huggingface.co/datasets/MBZUAI/Bactrian-X/commit/3698480a001cb3f62c61c314d4acb181eb31e983). The files'
    inner format (JSON array vs lines) is unverified; the json builder reads both, a JSON array is used here."""
    if _seeded(server, "MBZUAI/Bactrian-X"):
        return
    udhr = udhr_rows(benchmarks)
    files = {"Bactrian-X.py": SCRIPT, "README.md": b"---\nlicense: cc-by-nc-4.0\n---\n# Bactrian-X\n"}
    for lang in langs:
        rows = [{"instruction": r[lang], "input": "", "id": f"{lang}-{i}", "output": udhr[(i + 1) % len(udhr)][lang]}
                for i, r in enumerate(udhr[:30])]
        files[f"data/{lang}.json.gz"] = gzip.compress(json.dumps(rows, ensure_ascii=False).encode())
    server.seed_repo("dataset", "MBZUAI/Bactrian-X", files, commit=BACTRIAN_X_REVISION, title="move files to data/")


def seed_parquet_repos(server: HubServer, benchmarks: Path, langs=("ar", "el", "hi", "tr", "vi", "zh")) -> None:
    """sentence-transformers/parallel-sentences-wikimatrix: en-<x>/{train,dev}-00000-of-00001.parquet, columns
    english/non_english, README configs
    (https://huggingface.co/datasets/sentence-transformers/parallel-sentences-wikimatrix/tree/main/en-el); and
    tatsu-lab/alpaca: data/train-*.parquet (layout not re-checked against its tree page: unverified)."""
    udhr = udhr_rows(benchmarks)
    if not _seeded(server, "sentence-transformers/parallel-sentences-wikimatrix"):
        files, configs = {}, []
        for lang in langs:
            files[f"en-{lang}/train-00000-of-00001.parquet"] = parquet_bytes(
                [{"english": r["en"], "non_english": r[lang]} for r in udhr[:40]])
            configs.append(f"- config_name: en-{lang}\n  data_files:\n  - split: train\n    path: en-{lang}/train-*\n")
        files["README.md"] = ("---\nconfigs:\n" + "".join(configs) + "---\n# WikiMatrix\n").encode()
        server.seed_repo("dataset", "sentence-transformers/parallel-sentences-wikimatrix", files)
    if not _seeded(server, "tatsu-lab/alpaca"):
        rows = [{"instruction": r["en"], "input": "", "output": udhr[(i + 1) % len(udhr)]["en"], "text": ""}
                for i, r in enumerate(udhr[:30])]
        server.seed_repo("dataset", "tatsu-lab/alpaca", {"data/train-00000-of-00001.parquet": parquet_bytes(rows)})


def seed_all(server: HubServer, benchmarks: Path) -> None:
    """Every real-layout repo above."""
    seed_xquad(server, benchmarks)
    seed_xtreme(server, benchmarks)
    seed_facebook_mlqa(server)
    seed_flores_101(server, benchmarks)
    seed_opus100(server, benchmarks)
    seed_bactrian_x(server, benchmarks)
    seed_parquet_repos(server, benchmarks)
