"""Model cards for CoIT models, rendered from ``model_cards/model_card.md`` with ``ModelCard.from_template``."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from coit_hf.errors import CoitError, ConfigError, InputError
from coit_hf.files import read_json, replacing, split_key_value, write_json, write_text
from coit_hf.hub.model_index import build_model_index
from coit_hf.languages import get_language
from coit_hf.published import project_url, public_name

logger = logging.getLogger(__name__)

CARD_TEMPLATE = "model_card.md"
CARD_STATE = "coit_card.json"
"""What a card was rendered from, kept beside README.md so later stages (eval, scaling, alignment) can add to it."""
FRAMEWORKS = ("coit-hf", "transformers", "trl", "peft", "datasets", "accelerate", "torch", "huggingface_hub")
HYPERPARAMETERS = (
    "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
    "lr_scheduler_type", "warmup_steps", "weight_decay", "max_length", "packing", "packing_strategy",
    "assistant_only_loss", "completion_only_loss", "bf16", "fp16", "activation_checkpointing", "seed",
)


@dataclass
class CardAttachment:
    """An image shown on the card (e.g. a scaling-law fit or an alignment plot)."""

    title: str
    path: str


@dataclass
class CardInfo:
    """Everything the card shows; built by the training script, extendable by other stages (attachments)."""

    model_name: str
    base_model: str
    languages: list[str] = field(default_factory=list)
    datasets: list[dict[str, Any]] = field(default_factory=list)  # {path, name, subset, rows}
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    is_adapter: bool = False
    prompt_format: str = "tokenizer chat template"
    eval_results: dict[str, Any] | None = None
    attachments: list[CardAttachment] = field(default_factory=list)
    base_model_note: str | None = None
    license: str | None = None
    tags: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # extra Markdown under Evaluation (e.g. `coit-hf compare`)
    repo_id: str | None = None  # the Hub id the model is (or will be) published under


# First bytes of the image formats the Hub renders in a card (PNG/JPEG/GIF/WebP specs); SVG is text.
IMAGE_SIGNATURES = {".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
                    ".gif": (b"GIF87a", b"GIF89a"), ".webp": (b"RIFF",)}


def framework_versions() -> dict[str, str]:
    """Installed versions of the libraries a training run depends on."""
    versions = {}
    for name in FRAMEWORKS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def hyperparameters_from_args(training_args: Any, world_size: int = 1) -> dict[str, Any]:
    """The card's hyperparameter table from an ``SFTConfig`` (plus the global batch size)."""
    table = {k: getattr(training_args, k) for k in HYPERPARAMETERS if hasattr(training_args, k)}
    table = {k: (v.value if hasattr(v, "value") else v) for k, v in table.items()}
    if hasattr(training_args, "per_device_train_batch_size"):
        table["global_batch_size"] = (
            training_args.per_device_train_batch_size * training_args.gradient_accumulation_steps * world_size
        )
    return table


def load_eval_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``coit_results.json`` (a file or its folder) with the evaluation stage's checked loader."""
    from coit_hf.evaluation.results import load_results  # noqa: PLC0415 - only cards with results need it

    return load_results(path)


def _eval_table(results: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    metrics: list[str] = []
    for scores in results["tasks"].values():
        for key in scores:
            if key != "n" and key not in metrics:
                metrics.append(key)
    metrics.append("n")
    rows = []
    for task, scores in sorted(results["tasks"].items()):
        values = []
        for key in metrics:
            value = scores.get(key)
            if isinstance(value, float) and not math.isfinite(value):
                logger.warning("score %s/%s is %s: shown as n/a in the card", task, key, value)
                values.append("n/a")
                continue
            values.append("" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value))
        rows.append({"task": task, "cells": values})
    return metrics, rows


def _language_names(codes: list[str]) -> str:
    names = []
    for code in codes:
        try:
            names.append(f"{get_language(code).name} ({code})")
        except Exception:  # noqa: BLE001 - an unregistered code is still shown as given
            names.append(code)
    return ", ".join(names) if names else "the training data's languages"


def public_card_info(info: CardInfo) -> CardInfo:
    """``info`` with local folders named as published (Hub id recorded by the folder, else its own name)."""
    datasets = [{**d, "path": public_name(d["path"])} if d.get("path") else dict(d) for d in info.datasets]
    results = info.eval_results
    if results and results.get("model"):
        results = {**results, "model": public_name(results["model"])}
    return CardInfo(**{**info.__dict__, "datasets": datasets, "eval_results": results})


def model_card_source_url(info: CardInfo) -> str | None:
    """Where the card's results come from: the project's URL (package metadata), else the model repo's Hub page."""
    return project_url() or (f"https://huggingface.co/{info.repo_id}" if info.repo_id else None)


def render_model_card(info: CardInfo, template_path: str | os.PathLike[str] | None = None) -> ModelCard:
    """Render the card (YAML metadata with ``model-index`` + body) from the template; ``base_model`` is never empty.

    Local dataset folders and the evaluated model are named by their Hub id or folder name, never their path.
    """
    if not info.base_model or info.base_model == "None":
        raise InputError("the model card needs a base model id", field="base_model")
    info = public_card_info(info)
    template = Path(template_path) if template_path else resources.files("coit_hf.model_cards") / CARD_TEMPLATE
    dataset_ids = list(dict.fromkeys(str(d["path"]) for d in info.datasets if d.get("path")))
    results = info.eval_results or {}
    index = build_model_index(results, source_url=model_card_source_url(info)) if results else None
    card_data = ModelCardData(
        base_model=info.base_model,
        language=info.languages or None,
        datasets=[d for d in dataset_ids if "/" in d] or None,  # Hub ids only (a bare folder name is not one)
        library_name="peft" if info.is_adapter else "transformers",
        license=info.license,
        pipeline_tag="text-generation",
        tags=list(dict.fromkeys(["coit", "cross-lingual", "trl", "sft", *info.tags])),
        model_name=info.model_name,
        eval_results=index.results if index and index.results else None,
    )
    is_hub_id = "/" in info.base_model and not os.path.isabs(info.base_model)
    metrics, eval_rows = ([], [])
    if results:
        metrics, eval_rows = _eval_table(results)
    rows = [d.get("rows") for d in info.datasets]
    total = sum(rows) if rows and all(isinstance(r, int) for r in rows) else None
    return ModelCard.from_template(
        card_data,
        template_path=str(template),
        model_title=info.model_name,
        base_model_id=info.base_model,
        base_model_url=f"https://huggingface.co/{info.base_model}" if is_hub_id else None,
        base_model_note=info.base_model_note,
        project_url=project_url(),
        languages=info.languages,
        language_names=_language_names(info.languages),
        kind="LoRA adapter" if info.is_adapter else "full fine-tuning",
        is_adapter=info.is_adapter,
        prompt_format=info.prompt_format,
        datasets_table=info.datasets,
        total_rows=total,
        hyperparameters=info.hyperparameters,
        eval_table=eval_rows,
        eval_metrics=metrics,
        eval_model=results.get("model"),
        eval_prompt_format=results.get("prompt_format"),
        eval_generation=(results.get("generation") or {}).get("profile"),
        eval_name_style=results.get("name_style"),
        eval_qa_rules=sorted(set((results.get("qa_rules") or {}).values())),
        eval_fidelity=results.get("fidelity_method"),
        eval_max_samples=results.get("max_samples"),
        eval_notes=results.get("notes") or [],
        eval_data=_eval_data_rows(results) if results else [],
        model_index_count=len(index.results) if index else 0,
        model_index_left_out=index.left_out if index else [],
        attachments=info.attachments,
        extra_sections=info.sections,
        framework_versions=framework_versions(),
    )


def _eval_data_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per task of the results' ``data_sources``: the benchmark version and where its data came from
    (``repo@commit`` for Hub data, a relative name for local data), so a reader can reproduce the numbers."""
    rows = []
    for task, source in sorted((results.get("data_sources") or {}).items()):
        if not isinstance(source, dict):
            continue
        if source.get("repo"):
            pin = str(source["commit"])[:12] if source.get("commit") else source.get("revision")
            where = f"{source['repo']}@{pin}" if pin else str(source["repo"])
        else:
            where = f"local: {source.get('local') or 'user files'}"
        rows.append({"task": task, "benchmark": source.get("benchmark") or source.get("family") or "",
                     "data": where, "config": source.get("config") or "", "split": source.get("split") or "",
                     "rows": source.get("rows") if source.get("rows") is not None else ""})
    return rows


def check_image(path: Path) -> None:
    """Raise :class:`InputError` unless ``path`` starts like the image format its extension names."""
    suffix = path.suffix.lower()
    with path.open("rb") as handle:
        head = handle.read(512)
    if suffix == ".svg":
        ok = b"<svg" in head.lower()
    elif suffix in IMAGE_SIGNATURES:
        ok = head.startswith(IMAGE_SIGNATURES[suffix]) and (suffix != ".webp" or head[8:12] == b"WEBP")
    else:
        raise InputError(f"card attachment must be an image ({', '.join([*IMAGE_SIGNATURES, '.svg'])}), "
                         f"got {suffix or 'no extension'}", path=path)
    if not ok:
        raise InputError(f"card attachment is not a {suffix[1:].upper()} image: its first bytes are "
                         f"{_content_kind(head)}, not the {suffix[1:].upper()} signature", path=path)


def _content_kind(head: bytes) -> str:
    """What a file's first bytes look like, for error messages: another image format, text, or binary data."""
    for suffix, signatures in IMAGE_SIGNATURES.items():
        if head.startswith(signatures):
            return f"a {suffix[1:].upper()} image's"
    text = head[:256].decode("utf-8", errors="replace")
    printable = all(c >= " " or c in "\t\n\r" for c in text) and "\ufffd" not in text[:-1]
    return "missing (the file is empty)" if not head else "text" if printable else "binary data"


def write_model_card(info: CardInfo, folder: str | os.PathLike[str]) -> Path:
    """Write ``README.md`` into ``folder`` (copying attachments to ``folder/images``); returns the card path.

    Attachment paths in ``info`` are rewritten to the copied, folder-relative paths.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    attached = []
    for item in info.attachments:
        src = Path(item.path)
        if not src.is_file():
            raise InputError("card attachment not found" if not src.exists() else "card attachment is not a file",
                             path=src)
        check_image(src)
        dest = folder / "images" / src.name
        dest.parent.mkdir(exist_ok=True)
        if src.resolve() != dest.resolve():
            with replacing(dest) as tmp:
                shutil.copyfile(src, tmp)
        attached.append(CardAttachment(item.title, f"images/{src.name}"))
    info = public_card_info(CardInfo(**{**info.__dict__, "attachments": attached}))
    card = render_model_card(info)
    path = folder / "README.md"
    state = dict(info.__dict__, attachments=[a.__dict__ for a in info.attachments])
    try:
        write_text(path, str(card))
        write_json(folder / CARD_STATE, state, default=str, allow_nan=True)
    except OSError as exc:  # e.g. a full disk: no partial file is left, a previous card stays
        raise CoitError(f"cannot write the model card {path}: {exc.strerror or exc}") from exc
    logger.info("wrote model card %s", path)
    return path


def read_card_info(folder: str | os.PathLike[str]) -> CardInfo:
    """The :class:`CardInfo` a folder's card was last written from (``coit_card.json``)."""
    path = Path(folder) / CARD_STATE
    state = read_json(path, missing="no coit-hf card state here: was this folder written by recipes/sft_coit.py?")
    known = set(CardInfo.__dataclass_fields__)
    state = {k: v for k, v in state.items() if k in known}
    state["attachments"] = [CardAttachment(a["title"], str(Path(folder) / a["path"])) for a in state.get("attachments", [])]
    return CardInfo(**state)


def update_model_card(
    folder: str | os.PathLike[str],
    *,
    eval_results: str | os.PathLike[str] | dict[str, Any] | None = None,
    attachments: list[CardAttachment] | None = None,
    comparison: str | os.PathLike[str] | dict[str, Any] | None = None,
    sections: list[str] | None = None,
    repo_id: str | None = None,
) -> Path:
    """Re-render a model folder's card with evaluation results and/or extra images; returns the card path.

    ``eval_results`` is a ``coit_results.json`` (or its folder) or an already loaded mapping. Attachments with the
    title of an existing one replace it. ``comparison`` is a ``coit-hf compare`` output (folder, ``compare.json`` or
    mapping, this model as run A): its win rates and gate rates per language replace any earlier such section.
    ``sections`` are extra Markdown sections; one whose first line equals an existing one's replaces it.
    ``repo_id`` records the Hub id the model is published under (names it in other cards and model-index sources).
    """
    info = read_card_info(folder)
    if repo_id is not None:
        info.repo_id = repo_id
    for section in sections or []:
        heading = section.splitlines()[0] if section else ""
        info.sections = [x for x in info.sections if x.splitlines()[:1] != [heading]] + [section]
    if eval_results is not None:
        info.eval_results = eval_results if isinstance(eval_results, dict) else load_eval_results(eval_results)
    if attachments:
        titles = {a.title for a in attachments}
        info.attachments = [a for a in info.attachments if a.title not in titles] + list(attachments)
    if comparison is not None:
        from coit_hf.evaluation.compare import CARD_HEADING, card_section  # noqa: PLC0415 - later stage

        section = card_section(comparison, heading_level=3)
        info.sections = [x for x in info.sections if not x.lstrip("#").lstrip().startswith(CARD_HEADING)] + [section]
    return write_model_card(info, folder)


def parse_attachments(specs: list[str] | None) -> list[CardAttachment]:
    """``TITLE=PATH`` strings (recipe ``card_attachments``) to attachments; each must be an existing image."""
    out = []
    for spec in specs or []:
        try:
            title, path = split_key_value(spec, "card attachment", form="TITLE=PATH")
        except ConfigError as exc:
            raise InputError(str(exc), field="card_attachments") from None
        image = Path(path)
        if not image.is_file():  # checked before training, not when the card is written after it
            raise InputError("card attachment not found" if not image.exists() else "card attachment is not a file",
                             path=image, field="card_attachments")
        check_image(image)
        out.append(CardAttachment(title, path))
    return out
