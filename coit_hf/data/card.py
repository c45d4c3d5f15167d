"""Dataset card of a corpus folder: ``configs:`` YAML (so ``load_dataset(folder, config)`` works) plus the text
rendered from ``model_cards/dataset_card.md`` (packaged as ``coit_hf.model_cards``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from coit_hf.files import read_json, write_json, write_text
from coit_hf.languages import get_language
from coit_hf.published import HUB_ID_KEY
from coit_hf.templates import TRANSLATION_INSTRUCTIONS

CARD_TEMPLATE = "dataset_card.md"
REPORT_FILE = "build_report.json"  # written by the build beside the card
PAPER_CITATION = """@article{zhu2023extrapolating,
  title   = {Extrapolating Large Language Models to Non-English by Aligning Languages},
  author  = {Zhu, Wenhao and Lv, Yunzhe and Dong, Qingxiu and Yuan, Fei and Xu, Jingjing and Huang, Shujian and
             Kong, Lingpeng and Chen, Jiajun and Li, Lei},
  journal = {arXiv preprint arXiv:2308.04948},
  year    = {2023}
}"""


def configs_metadata(report: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The ``configs:`` entries of a corpus folder: ``translation``, ``general`` and ``all`` (the files of the other two,
    not a copy); ``translation`` is the default when present.

    With a build ``report`` the entries list the build's own file names, not patterns: ``datasets`` keys its cache
    of a local folder by the declared data files, so a corpus rebuilt in place with new names is never read from
    the previous build's cache. Only splits with rows are declared (``load_dataset`` refuses a declared split
    without data), and a config without rows is left out.
    """
    files = (report or {}).get("files")
    configs = []
    for name in ("translation", "general", "all"):
        data_files = []
        for split in ("train", "validation"):
            if files is None:
                data_files.append({"split": split, "path": f"{name}/{split}-*.parquet"})
                continue
            names = files.get(f"{name}/{split}", [])
            paths = names if name == "all" else [f"{name}/{file}" for file in names]
            if paths:
                data_files.append({"split": split, "path": paths})
        if data_files:
            configs.append({"config_name": name, "data_files": data_files})
    default = next((c for c in configs if c["config_name"] == "translation"), configs[0] if configs else None)
    if default is not None:
        default["default"] = True
    return configs


def _languages(report: dict[str, Any]) -> list[str]:
    codes: list[str] = []
    for source in report["sources"]:
        for code in source["languages"]:
            if code and code not in codes:
                codes.append(code)
    return codes


def render_dataset_card(config: Any, report: dict[str, Any], repo_id: str | None = None) -> DatasetCard:
    """Render the card for a build ``report`` (see :func:`coit_hf.data.build.build_corpus`).

    The loading example names ``repo_id`` (or the Hub id recorded in the report), else the corpus name.
    """
    codes = _languages(report)
    licenses = sorted({s["license"] for s in report["sources"]})
    total = report["totals"]["train"] + report["totals"]["validation"]
    size = ("n<1K" if total < 1_000 else "1K<n<10K" if total < 10_000 else "10K<n<100K" if total < 100_000
            else "100K<n<1M" if total < 1_000_000 else "1M<n<10M")
    card_data = DatasetCardData(
        language=codes, license=licenses[0] if len(licenses) == 1 and licenses[0] != "unknown" else "other",
        pretty_name=report["name"], task_categories=["text-generation", "translation"], size_categories=[size],
        tags=["coit", "cross-lingual-instruction-tuning", "alpaca"], configs=configs_metadata(report),
        coit_name_style=report.get("name_style", "friendly"),  # read back by training and `coit-hf eval`
    )
    template = resources.files("coit_hf.model_cards").joinpath(CARD_TEMPLATE)
    language_rows = []
    for code in codes:
        language = get_language(code)
        language_rows.append({"code": code, "name": language.name, "native_name": language.native_name,
                              "iso639_3": language.iso639_3, "scripts": ", ".join(language.scripts)})
    used = {subset: min(entry["train"], len(TRANSLATION_INSTRUCTIONS)) for subset, entry in report["subsets"].items()
            if subset.startswith("translation_")}
    return DatasetCard.from_template(
        card_data, template_path=str(template), report=report, languages=language_rows,
        load_id=repo_id or report.get(HUB_ID_KEY) or report["name"],
        instructions=list(TRANSLATION_INSTRUCTIONS), instructions_used=used, citation=PAPER_CITATION,
        filter_names=report["filters"],
    )


def write_dataset_card(folder: str | Path, config: Any, report: dict[str, Any], repo_id: str | None = None) -> Path:
    """Write ``README.md`` (the rendered card) into the corpus folder and return its path."""
    return write_text(Path(folder) / "README.md", str(render_dataset_card(config, report, repo_id)) + "\n")


def corpus_name_style(folder: str | Path) -> str | None:
    """The language-name style (``friendly``/``iso``) a local corpus folder's card records; None when unknown."""
    card = Path(folder) / "README.md"
    if not card.is_file():
        return None
    style = DatasetCard.load(card).data.to_dict().get("coit_name_style")
    return style if isinstance(style, str) else None


def set_dataset_repo_id(folder: str | Path, repo_id: str) -> Path:
    """Record the Hub id a built corpus folder is published under (``build_report.json``) and re-render its card
    so that its loading example and the model cards trained on it name that id; returns the card path."""
    report_path = Path(folder) / REPORT_FILE
    report = read_json(report_path, missing="not a corpus folder: build_report.json is missing (run `coit-hf data build`)")
    report[HUB_ID_KEY] = repo_id
    write_json(report_path, report)
    return write_dataset_card(folder, None, report, repo_id)
