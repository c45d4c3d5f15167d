"""The corpus build at scale: datatrove tasks give the same rows whatever the number of workers, tasks or executor;
de-duplication across tasks equals one pass in reading order; a failed build resumes; the Slurm job scripts and a
Ray run on a local instance."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from coit_hf.data import steps
from coit_hf.data.build import BuildConfig, build_corpus, work_folder
from coit_hf.data.executors import ExecutorOptions
from coit_hf.data.plan import ordered_sources
from coit_hf.data.quality import FILTERS, QualityFilter
from coit_hf.data.render import orient
from coit_hf.data.sources import iter_source
from coit_hf.errors import CoitError
from coit_hf.templates import translation_instruction

WORDS = "alpha beta gamma delta river mountain city book window garden table music light stone cloud".split()
HANZI = "山水城书窗花园桌音乐光天地人和风雨石云"


def _corpus_inputs(folder: Path, rows: int = 1200, seed: int = 3) -> dict[str, Path]:
    """Parallel files and a JSONL file with exact and near duplicates (also across files), blank lines, copies."""
    rng = random.Random(seed)
    en_lines, zh_lines = [], []
    for i in range(rows):
        kind = rng.random()
        if kind < 0.05:
            en, zh = "", ""
        elif kind < 0.15 and en_lines:  # an exact or near copy of an earlier line
            j = rng.randrange(len(en_lines))
            en, zh = en_lines[j], zh_lines[j]
            if kind < 0.10:
                en = en.upper()
        elif kind < 0.18:
            en = zh = f"copy {i}"
        else:
            en = " ".join(rng.choice(WORDS) for _ in range(6)) + f" {i}."
            zh = "".join(rng.choice(HANZI) for _ in range(8)) + f"{i}。"
        en_lines.append(en)
        zh_lines.append(zh)
    (folder / "p.en").write_text("\n".join(en_lines) + "\n", encoding="utf-8")
    (folder / "p.zh").write_text("\n".join(zh_lines) + "\n", encoding="utf-8")
    with (folder / "q.jsonl").open("w", encoding="utf-8") as handle:
        for i in range(0, rows, 3):  # every third pair again (duplicates across sources and tasks) plus new ones
            handle.write(json.dumps({"en": en_lines[i] or f"fresh sentence {i} here", "zh": zh_lines[i] or f"新{i}"},
                                    ensure_ascii=False) + "\n")
    alpaca = folder / "alpaca.jsonl"
    alpaca.write_text("".join(json.dumps({"instruction": f"Say {w}", "input": "", "output": f"{w} {i % 40}"}) + "\n"
                              for i, w in enumerate(WORDS * 8)), encoding="utf-8")
    return {"en": folder / "p.en", "zh": folder / "p.zh", "jsonl": folder / "q.jsonl", "alpaca": alpaca}


def _config(inputs: dict[str, Path], **extra) -> BuildConfig:
    values = {"name": "scale", "task_lines": 100, "batch_size": 64, "validation_size": 0.1, "dedup_bucket_rows": 300,
              **extra}
    return BuildConfig(sources=[
        {"type": "parallel", "paths": [str(inputs["en"]), str(inputs["zh"])], "tgt_lang": "zh"},
        {"type": "jsonl", "path": str(inputs["jsonl"]), "tgt_lang": "zh"},
        {"type": "alpaca", "path": str(inputs["alpaca"]), "lang": "en"},
    ], **values)


def _rows(folder: Path) -> dict[str, list[dict]]:
    """Every row of every declared config/split, in load order (files in the card's order)."""
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(folder / "README.md").data.to_dict()
    rows = {}
    for config in card["configs"]:
        for entry in config["data_files"]:
            rows[f"{config['config_name']}/{entry['split']}"] = [
                row for path in entry["path"] for row in pq.read_table(folder / path).to_pylist()]
    return rows


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return _corpus_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, inputs) -> tuple[dict, dict]:
    out = tmp_path_factory.mktemp("ref") / "corpus"
    report = build_corpus(_config(inputs), out, progress=False, executor=ExecutorOptions(workers=1))
    return _rows(out), report


def test_many_tasks_and_buckets_were_used(reference):
    _, report = reference
    assert report["tasks"] > 10 and report["dedup_buckets"] > 2


def test_one_and_two_workers_give_identical_datasets(tmp_path, inputs, reference):
    out = tmp_path / "corpus"
    report = build_corpus(_config(inputs), out, progress=False, executor=ExecutorOptions(workers=2))
    assert report["workers"] == 2
    assert _rows(out) == reference[0]
    assert report["subsets"] == reference[1]["subsets"]


def test_rows_do_not_depend_on_the_task_size(tmp_path, inputs, reference):
    out = tmp_path / "corpus"
    report = build_corpus(_config(inputs, task_lines=10_000, dedup_bucket_rows=10_000), out, progress=False,
                          executor=ExecutorOptions(workers=1))
    assert report["tasks"] == 3 and report["dedup_buckets"] == 1
    assert _rows(out) == reference[0]


def test_counts_equal_one_pass_in_reading_order(inputs, reference):
    """The cross-task dedup decisions equal the single-process filter run over the sources in order."""
    config = _config(inputs)
    quality = QualityFilter(config.quality)
    expected: Counter[str] = Counter()
    for spec in ordered_sources(config):
        for record in iter_source(spec):
            subsets = 1 if spec.kind == "instruction" else len(orient(record, config.direction))
            expected[quality.check(record) or "kept"] += subsets
    totals = reference[1]["totals"]
    assert {name: totals[name] for name in (*FILTERS, "kept")} == {name: expected[name] for name in (*FILTERS, "kept")}
    assert totals["duplicate"] > 50 and totals["near_duplicate"] > 10 and totals["copy"] > 10


def test_rows_keep_reading_order_and_paraphrase_is_line_index_mod_33(inputs, reference):
    rows, _ = reference
    en_lines = inputs["en"].read_text(encoding="utf-8").split("\n")
    line_of = {}
    for number, text in enumerate(en_lines):
        line_of.setdefault(text, number)
    train = [r for r in rows["translation/train"] if r["source"] == "p.en+p.zh"]
    indexes = [line_of[r["input"]] for r in train]
    assert indexes == sorted(indexes)  # reading order
    for row, index in zip(train, indexes, strict=True):
        assert row["instruction"] == translation_instruction("en", "zh", index=index)
    assert len({r["instruction"] for r in train}) == 33
    for row in rows["translation/validation"]:
        assert row["instruction"] == translation_instruction("en", "zh", index=0)


def test_all_config_lists_the_files_of_the_other_two(tmp_path, reference):
    rows, report = reference
    assert rows["all/train"] == rows["translation/train"] + rows["general/train"]
    assert report["files"]["all/train"] == [f"translation/{n}" for n in report["files"]["translation/train"]] + [
        f"general/{n}" for n in report["files"]["general/train"]]


def test_validation_row_count_is_global_across_tasks(tmp_path, inputs):
    outs = {}
    for workers in (1, 2):
        out = tmp_path / f"corpus{workers}"
        report = build_corpus(_config(inputs, validation_size=7), out, progress=False,
                              executor=ExecutorOptions(workers=workers))
        assert all(entry["validation"] == 7 for entry in report["subsets"].values())
        outs[workers] = _rows(out)
    assert outs[1] == outs[2]


def test_a_failed_task_resumes_with_the_same_command(tmp_path, inputs, reference, monkeypatch):
    out = tmp_path / "corpus"
    real_process = steps.RenderWriteStep.process

    def crash_on_task_5(self, plan, rank):
        if rank == 5:
            raise RuntimeError("worker lost")
        return real_process(self, plan, rank)

    monkeypatch.setattr(steps.RenderWriteStep, "process", crash_on_task_5)
    with pytest.raises(CoitError, match="run the same command again to resume"):
        build_corpus(_config(inputs), out, progress=False, executor=ExecutorOptions(workers=1))
    assert not out.exists() and work_folder(out).is_dir()
    monkeypatch.setattr(steps.RenderWriteStep, "process", real_process)
    reads = []
    real_read = steps.ReadFilterStep.process
    monkeypatch.setattr(steps.ReadFilterStep, "process", lambda self, plan, rank: reads.append(rank) or
                        real_read(self, plan, rank))
    report = build_corpus(_config(inputs), out, progress=False, executor=ExecutorOptions(workers=1))
    assert reads == []  # the reading tasks had finished: skipped
    assert _rows(out) == reference[0]
    assert report["subsets"] == reference[1]["subsets"]
    assert not work_folder(out).exists()


def test_changed_settings_start_over_instead_of_resuming(tmp_path, inputs, monkeypatch):
    out = tmp_path / "corpus"
    monkeypatch.setattr(steps.DedupStep, "process", lambda self, plan, rank: (_ for _ in ()).throw(RuntimeError()))
    with pytest.raises(CoitError):
        build_corpus(_config(inputs), out, progress=False, executor=ExecutorOptions(workers=1))
    monkeypatch.undo()
    report = build_corpus(_config(inputs, seed=7), out, progress=False, executor=ExecutorOptions(workers=1))
    assert report["seed"] == 7 and not work_folder(out).exists()


def test_slurm_executor_writes_dependent_job_scripts(tmp_path, inputs, monkeypatch):
    import datatrove.executor.slurm as slurm

    scripts: list[tuple[str, tuple[str, ...]]] = []

    def fake_sbatch(contents, job_id_retriever, *args):
        scripts.append((contents, args))
        return str(100 + len(scripts))

    monkeypatch.setattr(slurm, "launch_slurm_job", fake_sbatch)
    out = tmp_path / "corpus"
    options = ExecutorOptions(kind="slurm", slurm_partition="cpu", slurm_time="02:00:00", slurm_cpus_per_task=2,
                              slurm_env_command="source /opt/venv/bin/activate")
    result = build_corpus(_config(inputs), out, progress=False, executor=options)
    assert result["submitted"] and not out.exists()
    jobs = [(contents, args) for contents, args in scripts if "launch_pickled_pipeline" in contents]
    assert len(jobs) == 4  # read, dedup, write, finalize (each followed by datatrove's stats merge job)
    work = work_folder(out)
    for index, (contents, args) in enumerate(jobs):
        assert contents.startswith("#!/bin/bash\n")
        assert "#SBATCH --partition=cpu" in contents and "#SBATCH --time=02:00:00" in contents
        assert "#SBATCH --cpus-per-task=2" in contents and "source /opt/venv/bin/activate" in contents
        assert str(work / "logs") in contents
        if index:  # each stage waits for the previous one to succeed
            assert any(a.startswith("--dependency=afterok:") for a in args), args
    tasks = json.loads((work / "logs" / "read" / "ranks_to_run.json").read_text())
    assert len(tasks) > 10
    assert "#SBATCH --array=0-0" in jobs[-1][0]


@pytest.mark.slow
def test_ray_on_a_local_instance_equals_the_local_run(tmp_path, inputs, reference):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        out = tmp_path / "corpus"
        report = build_corpus(_config(inputs), out, progress=False, executor=ExecutorOptions(kind="ray", workers=2))
    finally:
        ray.shutdown()
    assert report["executor"] == "ray"
    assert _rows(out) == reference[0]


def test_config_fields_are_checked():
    base = {"sources": []}
    for key, value in (("task_lines", 0), ("dedup_bucket_rows", -1), ("batch_size", 1.5)):
        with pytest.raises(Exception, match=key):
            BuildConfig(**base, **{key: value})
    assert replace(BuildConfig(), validation_size=3.0).validation_size == 3


def test_a_second_build_of_the_same_output_leaves_the_running_one_alone(tmp_path, inputs):
    import os
    import socket

    out = tmp_path / "corpus"
    work = work_folder(out)
    work.mkdir()
    (work / "state.json").write_text('{"tag": "other"}', encoding="utf-8")
    (work / "lock").write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}), encoding="utf-8")
    with pytest.raises(CoitError, match=f"another build is writing {out}"):
        build_corpus(_config(inputs), out, progress=False, executor=ExecutorOptions(workers=1))
    assert (work / "state.json").read_text(encoding="utf-8") == '{"tag": "other"}' and not out.exists()
