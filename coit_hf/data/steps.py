"""The corpus build as datatrove pipeline steps (one step per stage; a stage runs as ``tasks`` datatrove tasks).

1. :class:`ReadFilterStep` (one task per unit of the plan): read the unit's records (our pair/instruction readers:
   line-aligned files, TSV, JSONL/JSON, TMX, .po/.mo, Hub datasets — datatrove's readers yield web documents, not
   aligned pairs, so they do not fit), normalise, run the per-record quality filters of
   :mod:`coit_hf.data.quality` (every filter there except the de-duplication ones, so a filter added there
   appears here), check decontamination, and write candidate rows and dedup signatures to the work folder.
2. :class:`DedupStep` (one task per signature bucket): exact and near-duplicate decisions across all tasks.
3. :class:`SelectValidationStep` (only for a validation *row count*): each task's smallest validation hashes.
4. :class:`RenderWriteStep` (one task per unit): drop removed rows, split train/validation, render the chat rows and
   write the Parquet files of the configs ``translation`` and ``general``.

Per-subset counts go into datatrove's stats (``<subset>/<counter>`` labels); the build report sums them.
"""

from __future__ import annotations

import heapq
import os
import pickle
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.pipeline.base import PipelineStep

from coit_hf.data import dedup
from coit_hf.data.plan import LINE_INDEXED_TYPES, POSITION_BITS, BuildPlan, is_line_splittable, load_plan
from coit_hf.data.quality import QualityFilter, contamination_texts, dedup_keys
from coit_hf.data.records import ParallelPair, stable_id
from coit_hf.data.render import (
    CORPUS_SCHEMA,
    instruction_subset,
    orient,
    pair_id,
    record_id,
    translation_subset,
)
from coit_hf.data.sources import is_json_array, iter_source
from coit_hf.errors import CoitError
from coit_hf.files import read_json, write_json
from coit_hf.templates import (
    TRANSLATION_INSTRUCTIONS,
    assistant_message,
    translation_instruction,
    user_message,
)

CANDIDATE_SCHEMA = pa.schema([
    ("pos", pa.int64()), ("seq", pa.int64()), ("subset", pa.string()), ("id", pa.string()), ("task", pa.string()),
    ("src_lang", pa.string()), ("lang", pa.string()), ("instruction", pa.string()), ("input", pa.string()),
    ("output", pa.string()), ("source", pa.string()), ("line", pa.int64()), ("valhash", pa.uint64()),
    ("eval_file", pa.string()), ("ngram", pa.string()),
])
"""Rows that passed the per-record filters, as the reading stage leaves them for the writing stage."""

STAT_SEP = "/"


def _write_json(path: Path, data: Any) -> None:
    write_json(path, data, indent=None)


class CorpusStep(PipelineStep):
    """Base of the build's steps: holds only the work folder; the plan is loaded from there in each task."""

    type = "coit-hf"

    def __init__(self, work: str):
        super().__init__()
        self.work = work

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        plan = load_plan(self.work)
        try:
            with self.track_time(unit="task"):
                self.process(plan, rank)
        except CoitError as exc:  # remembered for executors that do not raise a task's error (Ray resubmits it)
            _write_json(plan.path("errors", f"{rank:05d}.json"), {"message": str(exc), "type": type(exc).__name__})
            raise
        return data

    def process(self, plan: BuildPlan, rank: int) -> None:
        raise NotImplementedError

    def count(self, counts: Counter[str]) -> None:
        for label, value in counts.items():
            self.stat_update(label, value=value)


def _decontaminator(plan: BuildPlan):
    if not plan.decontamination_file:
        return None
    with open(plan.decontamination_file, "rb") as handle:
        return pickle.load(handle)


class ReadFilterStep(CorpusStep):
    """Stage 1: read one unit, filter each record, write candidates and dedup signatures."""

    name = "read + filter"

    def process(self, plan: BuildPlan, rank: int) -> None:
        config = plan.config
        unit = plan.units[rank]
        spec = plan.sources[unit.source]
        quality = QualityFilter(replace(config.quality, dedup=False, near_dedup=False))
        decontaminator = _decontaminator(plan)
        records = iter_source(spec, unit.start, unit.stop) if is_line_splittable(spec) else iter_source(spec)
        line_indexed = spec.type in LINE_INDEXED_TYPES or (spec.type == "alpaca" and not is_json_array(spec))
        source_name = spec.provenance if spec.type != "gettext" else "gettext"
        counts: Counter[str] = Counter()
        near, exact, positions, bad = [], [], [], []
        columns: dict[str, list[Any]] = {name: [] for name in CANDIDATE_SCHEMA.names}
        target = plan.path("candidates", f"{rank:05d}.parquet")
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        writer = pq.ParquetWriter(part, CANDIDATE_SCHEMA, compression="zstd")
        subsets_seen: set[str] = set()

        def flush() -> None:
            if columns["pos"]:
                writer.write_table(pa.Table.from_pydict(columns, schema=CANDIDATE_SCHEMA))
                for values in columns.values():
                    values.clear()

        try:
            for ordinal, record in enumerate(records):
                seq = record.line - 1 if line_indexed and record.line else ordinal
                position = (unit.source << POSITION_BITS) | seq
                counts["records_read"] += 1
                if isinstance(record, ParallelPair):
                    oriented = orient(record, config.direction)
                    rows = [(translation_subset(p.src_lang, p.tgt_lang), pair_id(p), "translation", p.src_lang,
                             p.tgt_lang, "", p.src, p.tgt) for p in oriented]
                else:
                    subset = instruction_subset(record, spec.subset)
                    rows = [(subset, record_id(record, subset), "general", "", record.lang, record.instruction,
                             record.input, record.output)]
                for row in rows:
                    counts[row[0] + STAT_SEP + "read"] += 1
                    subsets_seen.add(row[0])
                reason = quality.check(record)
                if reason is not None:
                    for row in rows:
                        counts[row[0] + STAT_SEP + reason] += 1
                    continue
                match = None
                if decontaminator is not None:
                    for text in contamination_texts(record):
                        match = decontaminator.find(text)
                        if match is not None:
                            break
                exact_key, near_key = dedup_keys(record)
                near.append(near_key)
                exact.append(exact_key)
                positions.append(position)
                bad.append(match is not None)
                for subset, row_id, task, src_lang, lang, instruction, input_text, output in rows:
                    columns["pos"].append(position)
                    columns["seq"].append(seq)
                    columns["subset"].append(subset)
                    columns["id"].append(row_id)
                    columns["task"].append(task)
                    columns["src_lang"].append(src_lang)
                    columns["lang"].append(lang)
                    columns["instruction"].append(instruction)
                    columns["input"].append(input_text)
                    columns["output"].append(output)
                    columns["source"].append(record.source)
                    columns["line"].append(record.line)
                    columns["valhash"].append(int(stable_id(str(config.seed), row_id), 16))
                    columns["eval_file"].append(match.eval_file if match else None)
                    columns["ngram"].append(match.ngram if match else None)
                if len(columns["pos"]) >= config.batch_size:
                    flush()
            flush()
        finally:
            writer.close()
        os.replace(part, target)
        dedup.write_signatures(plan.path("signatures", f"{rank:05d}.npz"), near, exact, positions, bad,
                               plan.buckets)
        for subset in subsets_seen:
            counts[subset + STAT_SEP + "source:" + source_name] += 1
        self.count(counts)


class DedupStep(CorpusStep):
    """Stage 2: exact and near-duplicate decisions of one signature bucket, across every reading task."""

    name = "dedup"

    def process(self, plan: BuildPlan, rank: int) -> None:
        files = [plan.path("signatures", f"{task:05d}.npz") for task in range(plan.tasks)]
        seen = dedup.dedup_bucket(files, rank, plan.path("decisions", f"{rank:05d}.npz"),
                                  dedup=plan.config.quality.dedup, near_dedup=plan.config.quality.near_dedup)
        self.stat_update("signatures", value=seen)


def _iter_candidates(plan: BuildPlan, rank: int):
    """(column dict, decision codes) per batch of one task's candidate rows."""
    files = [plan.path("decisions", f"{bucket:05d}.npz") for bucket in range(plan.buckets)]
    removed_pos, removed_code = dedup.removed_of_task(files, rank)
    parquet = pq.ParquetFile(plan.path("candidates", f"{rank:05d}.parquet"))
    for batch in parquet.iter_batches(batch_size=max(1, plan.config.batch_size)):
        columns = batch.to_pydict()
        codes = dedup.lookup(removed_pos, removed_code, batch.column("pos").to_numpy())
        yield columns, codes


class SelectValidationStep(CorpusStep):
    """Stage 3 (validation row count only): per subset, this task's ``size`` kept rows with the smallest hashes."""

    name = "select validation"

    def process(self, plan: BuildPlan, rank: int) -> None:
        size = int(plan.config.validation_size)
        heaps: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for columns, codes in _iter_candidates(plan, rank):
            for i, code in enumerate(codes.tolist()):
                if code:
                    continue
                entry = (-columns["valhash"][i], -columns["pos"][i], columns["id"][i])
                heap = heaps[columns["subset"][i]]
                if len(heap) < size:
                    heapq.heappush(heap, entry)
                elif entry > heap[0]:
                    heapq.heapreplace(heap, entry)
        _write_json(plan.path("validation", f"{rank:05d}.json"),
                    {subset: [[-h, -p, row_id] for h, p, row_id in heap] for subset, heap in heaps.items()})


def validation_ids(plan: BuildPlan) -> dict[str, set[str]]:
    """Row ids of the validation split per subset (count mode): the ``size`` smallest hashes over all tasks."""
    size = int(plan.config.validation_size)
    merged: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for task in range(plan.tasks):
        data = read_json(plan.path("validation", f"{task:05d}.json"))
        for subset, entries in data.items():
            merged[subset].extend((h, p, row_id) for h, p, row_id in entries)
    return {subset: {row_id for _, _, row_id in heapq.nsmallest(size, entries)}
            for subset, entries in merged.items()}


def output_name(plan: BuildPlan, split: str, rank: int, part: int) -> str:
    """Parquet file name of one task's rows; the build tag changes with the build, so no cache mistakes it for the
    previous build's file."""
    return f"{split}-{plan.tag}-{rank:05d}-{part:04d}.parquet"


class _ConfigWriter:
    """Writes one task's rows of one config/split, a new file every ``shard_rows`` rows (row groups of a batch)."""

    def __init__(self, plan: BuildPlan, config: str, split: str, rank: int):
        self.plan, self.config, self.split, self.rank = plan, config, split, rank
        self.folder = plan.path("out", config)
        self.rows: list[dict[str, Any]] = []
        self.writer: pq.ParquetWriter | None = None
        self.parts: list[Path] = []
        self.in_file = 0

    def write(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.plan.config.batch_size:
            self.flush()

    def flush(self) -> None:
        while self.rows:
            if self.writer is None or self.in_file >= self.plan.config.shard_rows:
                self._open()
            assert self.writer is not None
            room = self.plan.config.shard_rows - self.in_file
            chunk, self.rows = self.rows[:room], self.rows[room:]
            self.writer.write_table(pa.Table.from_pylist(chunk, schema=CORPUS_SCHEMA))
            self.in_file += len(chunk)

    def _open(self) -> None:
        self._close_file()
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / output_name(self.plan, self.split, self.rank, len(self.parts))
        self.parts.append(final)
        self.writer = pq.ParquetWriter(final.with_name(final.name + ".part"), CORPUS_SCHEMA, compression="zstd")
        self.in_file = 0

    def _close_file(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def close(self) -> None:
        self.flush()
        self._close_file()
        for final in self.parts:
            os.replace(final.with_name(final.name + ".part"), final)


class RenderWriteStep(CorpusStep):
    """Stage 4: apply the dedup decisions, split, render and write one task's Parquet files."""

    name = "render + write"

    def process(self, plan: BuildPlan, rank: int) -> None:
        config = plan.config
        threshold = None if plan.count_validation else float(config.validation_size)
        chosen = validation_ids(plan) if plan.count_validation else {}
        writers = {(c, s): _ConfigWriter(plan, c, s, rank) for c in ("translation", "general")
                   for s in ("train", "validation")}
        instructions: dict[tuple[str, str, int], str] = {}
        counts: Counter[str] = Counter()
        contaminated: list[dict[str, Any]] = []
        for columns, codes in _iter_candidates(plan, rank):
            for i, code in enumerate(codes.tolist()):
                subset = columns["subset"][i]
                if code:
                    reason = dedup.REASONS[code]
                    counts[subset + STAT_SEP + reason] += 1
                    if reason == "contaminated" and len(contaminated) < config.max_reported:
                        contaminated.append({
                            "id": columns["id"][i], "subset": subset, "source": columns["source"][i],
                            "line": columns["line"][i], "eval_file": columns["eval_file"][i],
                            "ngram": columns["ngram"][i], "pos": columns["pos"][i],
                        })
                    continue
                counts[subset + STAT_SEP + "kept"] += 1
                row_id = columns["id"][i]
                if threshold is not None:
                    split = "validation" if threshold and columns["valhash"][i] / 2**64 < threshold else "train"
                else:
                    split = "validation" if row_id in chosen.get(subset, ()) else "train"
                counts[subset + STAT_SEP + split] += 1
                task = columns["task"][i]
                if task == "translation":
                    # the paper's round-robin: paraphrase = the source line's index mod the paraphrase count
                    # (blank and filtered lines counted); validation rows always get the first one
                    index = columns["seq"][i] if split == "train" else 0
                    key = (columns["src_lang"][i], columns["lang"][i], index % len(TRANSLATION_INSTRUCTIONS))
                    instruction = instructions.get(key)
                    if instruction is None:
                        instruction = translation_instruction(key[0], key[1], index=index,
                                                              name_style=config.name_style)
                        instructions[key] = instruction
                else:
                    instruction = columns["instruction"][i]
                input_text, output = columns["input"][i], columns["output"][i]
                writers[(task, split)].write({
                    "id": row_id, "instruction": instruction, "input": input_text, "output": output,
                    "lang": columns["lang"][i], "task": task, "source": columns["source"][i], "subset": subset,
                    "messages": [user_message(instruction, input_text), assistant_message(output)],
                })
        for writer in writers.values():
            writer.close()
        _write_json(plan.path("contaminated", f"{rank:05d}.json"), contaminated)
        self.count(counts)
