"""Evaluation throughput: the paper's generation loop vs the coit-hf runner, XQuAD-zh + Flores-style en→zh.

Both sides greedy-decode the same prompts (the paper's Alpaca prompt, QA labels in Chinese, translation instruction
#0) with the same model on the same machine, each in a fresh interpreter with the same torch thread count:

* baseline: our re-implementation of the paper's inference loop — prompts in dataset order (no length sorting),
  batches of 8, left padding, ``generate(max_new_tokens=512)`` (only EOS stops a sequence; the batch runs until every
  sequence has stopped), then the prompt is removed from the decoded sequence by its string length.
* coit-hf: ``coit_hf.evaluation.runner.run_evaluation`` with the ``fast`` generation profile (lighteval pipeline:
  length-sorted batches, per-task budgets of 64 new tokens for QA / 256 for translation, the ``"\\n### "`` stop
  sequence, metrics and results file). The ``paper`` profile (``coit-hf eval`` default: 512 new tokens, no stop
  string) is the baseline's protocol; it is not what this benchmark times.

Predictions are compared sample by sample. ``identical_share``: ours equals the paper loop's output once the
runner's own rules are applied to it (new tokens cut to the runner's budget — the task's generation size, capped so
that prompt + answer fit the model's maximum length, as lighteval does — then cut at EOS / ``"\\n### "``,
stripped); this isolates the loop (batching, padding, sorting) from the protocol settings. Also reported: the share
where ours is a prefix of the paper loop's full 512-token prediction, and the share of prompts whose string-length
stripping was exact.

Data: by default the XQuAD slice and the UDHR file shipped in ``coit_hf/resources``; ``--data-dir`` takes a folder
with ``xquad/xquad.zh.json`` and ``udhr/udhr_7way.jsonl`` (e.g. ``../shared/benchmarks``).

Usage::

    python benchmarks/eval_throughput.py                               # tiny model, shipped data (29 + 80 samples)
    python benchmarks/eval_throughput.py --data-dir ../shared/benchmarks --max-samples 200
    python benchmarks/eval_throughput.py --quick                        # 8 + 8 samples, 256 new tokens (smoke run)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, emit_result, peak_rss_mb, run_worker  # noqa: E402

SCRIPT = Path(__file__).resolve()
RESOURCES = REPO_ROOT / "coit_hf" / "resources"
LANG, SRC, TGT = "zh", "en", "zh"
QA_TASK, MT_TASK = f"coit_xquad:{LANG}", f"coit_flores101:{SRC}-{TGT}"
PAPER_BATCH = 8
PAPER_NEW_TOKENS = 512


# ------------------------------------------------------------------------------------------------------- data
def prepare_data(data_dir: Path | None, workdir: Path, max_samples: int | None) -> dict[str, Path]:
    """Copy the evaluation files into ``workdir`` (the first ``max_samples`` samples of each task)."""
    if data_dir is None:
        qa_file, mt_file = RESOURCES / "xquad_slice" / f"xquad.{LANG}.json", RESOURCES / "udhr_7way.jsonl"
    else:
        qa_file, mt_file = data_dir / "xquad" / f"xquad.{LANG}.json", data_dir / "udhr" / "udhr_7way.jsonl"
    for path in (qa_file, mt_file):
        if not path.is_file():
            raise SystemExit(f"eval_throughput: data file not found: {path}")
    out = workdir / "data"
    (out / "xquad").mkdir(parents=True, exist_ok=True)
    squad = json.loads(qa_file.read_text(encoding="utf-8"))
    if max_samples:
        kept, left = [], max_samples
        for article in squad["data"]:
            paragraphs = []
            for paragraph in article["paragraphs"]:
                if left <= 0:
                    break
                qas = paragraph["qas"][:left]
                left -= len(qas)
                paragraphs.append({**paragraph, "qas": qas})
            if paragraphs:
                kept.append({**article, "paragraphs": paragraphs})
        squad = {**squad, "data": kept}
    qa_out = out / "xquad" / f"xquad.{LANG}.json"
    qa_out.write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    lines = [line for line in mt_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    mt_out = out / "udhr_7way.jsonl"
    mt_out.write_text("\n".join(lines[:max_samples] if max_samples else lines) + "\n", encoding="utf-8")
    return {"qa": qa_out, "mt": mt_out}


def paper_prompts(qa_file: Path, mt_file: Path) -> list[dict[str, str]]:
    """Prompts in dataset order: XQuAD questions, then the translation segments (paper protocol strings)."""
    from coit_hf.templates import qa_instruction_and_input, render_alpaca, translation_instruction

    prompts = []
    squad = json.loads(qa_file.read_text(encoding="utf-8"))
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                instruction, block = qa_instruction_and_input(LANG, paragraph["context"], qa["question"])
                prompts.append({"task": QA_TASK, "prompt": render_alpaca(instruction, block)})
    instruction = translation_instruction(SRC, TGT, index=0)
    for line in mt_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            prompts.append({"task": MT_TASK, "prompt": render_alpaca(instruction, json.loads(line)[SRC].strip())})
    return prompts


# -------------------------------------------------------------------------------------------------- baseline
def run_paper_loop(args: argparse.Namespace) -> dict[str, Any]:
    """The paper's loop: batches of 8 in dataset order, left padding, 512 new tokens, strip the prompt by length."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = Path(args.data)
    prompts = paper_prompts(data / "xquad" / f"xquad.{LANG}.json", data / "udhr_7way.jsonl")
    started, cpu = time.perf_counter(), time.process_time()
    tokenizer = AutoTokenizer.from_pretrained(args.model, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=getattr(torch, args.dtype)).eval()
    outputs = []
    for start in range(0, len(prompts), PAPER_BATCH):
        batch = prompts[start:start + PAPER_BATCH]
        texts = [p["prompt"] for p in batch]
        enc = tokenizer(texts, return_tensors="pt", padding=True)
        with torch.no_grad():
            generated = model.generate(**enc, max_new_tokens=args.new_tokens, do_sample=False, num_beams=1,
                                       pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        decoded = tokenizer.batch_decode(generated, skip_special_tokens=True)
        width = enc["input_ids"].shape[1]
        for item, text, row, prompt_len in zip(batch, decoded, generated, enc["attention_mask"].sum(1).tolist(),
                                               strict=True):
            outputs.append({**item, "prediction": text[len(item["prompt"]):].strip(),
                            "prompt_strip_exact": text.startswith(item["prompt"]),
                            "new_ids": row[width:].tolist(), "prompt_tokens": int(prompt_len)})
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "outputs": outputs,
            "generated_tokens": sum(len(o["new_ids"]) for o in outputs)}


# ---------------------------------------------------------------------------------------------------- coit-hf
def run_coit_runner(args: argparse.Namespace) -> dict[str, Any]:
    """``run_evaluation`` on both tasks; predictions read back from lighteval's details files."""
    # library imports happen before the clock starts, as the baseline's transformers import does
    import lighteval.models.transformers.transformers_model  # noqa: F401
    import lighteval.pipeline  # noqa: F401
    import pandas as pd

    import coit_hf.evaluation.tasks  # noqa: F401
    from coit_hf.evaluation.runner import EvalSettings, run_evaluation
    from coit_hf.evaluation.sources import DataSource

    if args.worker == "coit_hf_no_bootstrap":
        _disable_bootstrap()
    data = Path(args.data)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    sources = {"xquad": DataSource(str(data / "xquad")), "flores101": DataSource(str(data / "udhr_7way.jsonl"))}
    settings = EvalSettings(model=args.model, tasks=[QA_TASK, MT_TASK], output_dir=str(out), sources=sources,
                            device="cpu" if not _cuda() else "cuda", dtype=args.dtype, save_details=True,
                            generation="fast")  # the budgets and stop string this benchmark compares against
    started, cpu, child = time.perf_counter(), time.process_time(), _children_cpu()
    results = run_evaluation(settings)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    cpu += _children_cpu() - child  # lighteval may load data in worker processes
    predictions: dict[str, str] = {}
    budgets: dict[str, int] = {}
    for path in sorted(out.rglob("details_*.parquet")):
        frame = pd.read_parquet(path)
        for _, row in frame.iterrows():
            doc, response = row["doc"], row["model_response"]
            text = response["text"]
            predictions[doc["query"]] = (list(text)[0] if len(text) else "").strip()
            budgets[doc["query"]] = int(doc.get("generation_size") or 0)
    return {"seconds": seconds, "cpu_seconds": cpu, "predictions": predictions, "budgets": budgets,
            "tasks": results.get("tasks", {}), "notes": results.get("notes", [])}


def _disable_bootstrap() -> None:
    """Diagnostic only: lighteval's default 1000-resample bootstrap of corpus-metric stderr, which the coit
    results file drops anyway, switched off (``PipelineParameters(bootstrap_iters=0)``)."""
    import dataclasses

    import lighteval.pipeline as pipeline

    original = pipeline.PipelineParameters

    @dataclasses.dataclass
    class NoBootstrap(original):  # type: ignore[misc, valid-type]
        bootstrap_iters: int = 0

    pipeline.PipelineParameters = NoBootstrap


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def worker(args: argparse.Namespace) -> None:
    """One side in this fresh process; prints its JSON line."""
    import torch
    import transformers

    transformers.utils.logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run_paper_loop(args) if args.worker == "baseline" else run_coit_runner(args)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["threads"] = torch.get_num_threads()
    print(json.dumps({"side": args.worker, **result}, ensure_ascii=False))


# ------------------------------------------------------------------------------------------------- comparing
def compare(baseline: dict[str, Any], ours: dict[str, Any], model: str, max_length: int | None,
            budgets: dict[str, int]) -> dict[str, Any]:
    """Sample-by-sample comparison of the two sides' predictions (see the module docstring)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    stops = [tokenizer.eos_token or "", "\n### "]
    identical = prefix = exact_strip = missing = 0
    examples = []
    for item in baseline["outputs"]:
        prompt = item["prompt"]
        if prompt not in ours["predictions"]:
            missing += 1
            continue
        mine = ours["predictions"][prompt]
        budget = budgets[item["task"]]
        if max_length:
            budget = max(1, min(budget, max_length - item["prompt_tokens"]))
        text = tokenizer.decode(item["new_ids"][:budget], skip_special_tokens=True)
        for stop in stops:
            if stop:
                text = text.split(stop)[0]
        same = text.strip() == mine
        identical += same
        prefix += item["prediction"].startswith(mine)
        exact_strip += item["prompt_strip_exact"]
        if not same and len(examples) < 3:
            examples.append({"task": item["task"], "prompt_tokens": item["prompt_tokens"], "ours": mine[:80],
                             "paper_loop_cut": text.strip()[:80]})
    total = len(baseline["outputs"])
    return {"identical_share": round(identical / max(1, total - missing), 4),
            "prefix_of_full_share": round(prefix / max(1, total - missing), 4),
            "prompt_strip_exact_share": round(exact_strip / max(1, total), 4),
            "missing_in_coit": missing, "mismatch_examples": examples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder (default: build the tiny test model)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with xquad/xquad.zh.json and udhr/udhr_7way.jsonl (default: coit_hf/resources)")
    parser.add_argument("--max-samples", type=int, default=None, help="first N samples of each task")
    parser.add_argument("--new-tokens", type=int, default=PAPER_NEW_TOKENS, help="paper loop's max_new_tokens")
    parser.add_argument("--dtype", default="float32", help="model dtype on both sides (float32, bfloat16)")
    parser.add_argument("--quick", action="store_true", help="8 samples per task, 256 new tokens (smoke run)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads on both sides (default: 1 on CPU, so that CPU time measures the work)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default=None,
                        help="headline rate per process-CPU second (default on CPU) or per wall second (GPU)")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: temporary, removed)")
    parser.add_argument("--also-without-bootstrap", action="store_true",
                        help="diagnostic: also time the runner with lighteval's stderr bootstrap switched off")
    parser.add_argument("--worker", choices=("baseline", "coit_hf", "coit_hf_no_bootstrap"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.max_samples, args.new_tokens = args.max_samples or 8, 256  # 256 = the runner's largest budget

    root = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="coit-eval-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    env = {"HF_DATASETS_CACHE": str(root / "hf-datasets-cache"), "COIT_HF_CACHE": str(root / "coit-cache"),
           "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    shutil.rmtree(root / "hf-datasets-cache", ignore_errors=True)
    shutil.rmtree(root / "coit-cache", ignore_errors=True)
    try:
        model_dir = args.model
        if model_dir is None:
            from coit_hf.tiny_model import build_tiny_model, collect_texts

            model_dir = str(build_tiny_model(root / "tiny-model", collect_texts([RESOURCES]), overwrite=True))
        data = prepare_data(Path(args.data_dir) if args.data_dir else None, root, args.max_samples)
        import torch

        on_gpu = torch.cuda.is_available()
        clock = args.clock or ("wall" if on_gpu else "cpu")
        threads = args.threads or (None if on_gpu else 1)
        common = ["--model", model_dir, "--data", str(data["qa"].parent.parent), "--new-tokens", str(args.new_tokens),
                  "--dtype", args.dtype]
        if threads:
            common += ["--threads", str(threads)]
            env["OMP_NUM_THREADS"] = str(threads)
        sides = {}
        for side in ("baseline", "coit_hf", *(["coit_hf_no_bootstrap"] if args.also_without_bootstrap else [])):
            sides[side] = run_worker(SCRIPT, ["--worker", side, *common, "--out", str(root / "coit-out")], env=env)
            key = "cpu_seconds" if clock == "cpu" else "seconds"
            print(f"[eval_throughput] {side:<8} {sides[side][key]:8.1f} s ({clock})  "
                  f"peak RSS {sides[side]['peak_rss_mb']:,.0f} MiB", flush=True)
        from transformers import AutoConfig

        from coit_hf.evaluation.context import MT_GENERATION_SIZE, QA_GENERATION_SIZE

        max_length = getattr(AutoConfig.from_pretrained(model_dir), "max_position_embeddings", None)
        budgets = {QA_TASK: QA_GENERATION_SIZE, MT_TASK: MT_GENERATION_SIZE}
        comparison = compare(sides["baseline"], sides["coit_hf"], model_dir, max_length, budgets)
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    base, ours = sides["baseline"], sides["coit_hf"]
    samples = len(base["outputs"])
    key = "cpu_seconds" if clock == "cpu" else "seconds"
    emit_result(
        "eval_throughput", round(samples / base[key], 3), round(samples / ours[key], 3), "samples/s",
        clock=f"{clock} ({'process CPU time' if clock == 'cpu' else 'wall time'}, model load + generation"
              " (+ lighteval pipeline and metrics for coit-hf))",
        samples=samples, tasks=[QA_TASK, MT_TASK], **comparison,
        details={
            "baseline": {"seconds": round(base["seconds"], 2), "cpu_seconds": round(base["cpu_seconds"], 2),
                         "generated_tokens": base["generated_tokens"], "peak_rss_mb": base["peak_rss_mb"],
                         "batch": PAPER_BATCH, "max_new_tokens": args.new_tokens, "threads": base["threads"]},
            "coit_hf": {"seconds": round(ours["seconds"], 2), "cpu_seconds": round(ours["cpu_seconds"], 2),
                        "cpu_includes": "the runner process and its worker processes (lighteval's bootstrap pool)",
                        "peak_rss_mb": ours["peak_rss_mb"], "scores": ours["tasks"], "notes": ours["notes"],
                        "budgets": budgets, "threads": ours["threads"]},
        },
        ratio_wall=round(base["seconds"] / ours["seconds"], 3),
        **({"diagnostic_without_bootstrap": {
            "coit_hf": round(samples / sides["coit_hf_no_bootstrap"][key], 3),
            "ratio": round(base[key] / sides["coit_hf_no_bootstrap"][key], 3),
            "seconds": round(sides["coit_hf_no_bootstrap"]["seconds"], 2),
            "cpu_seconds": round(sides["coit_hf_no_bootstrap"]["cpu_seconds"], 2)}}
           if "coit_hf_no_bootstrap" in sides else {}),
        model=args.model or "tiny (coit_hf.tiny_model, built from coit_hf/resources)",
        data=args.data_dir or "coit_hf/resources (XQuAD slice, UDHR)", max_samples=args.max_samples,
        goal={"ratio": 3, "identical_share": 1.0},
    )


if __name__ == "__main__":
    main()
