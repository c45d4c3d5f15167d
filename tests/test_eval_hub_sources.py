"""Evaluation data from real-layout Hub repos (tests/hub_fixtures.py): pinned hf:// files, candidates, `eval prepare`,
the manifest, offline `eval --data-dir`, and the script-only repo error."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hub_fixtures import seed_all

from coit_hf.errors import ConfigError, InputError
from coit_hf.evaluation import hub_sources, sources, tasks
from coit_hf.evaluation.prepare import prepare


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "coit_cache"))
    monkeypatch.delenv(sources.SOURCES_ENV, raising=False)


@pytest.fixture
def real_hub(hub, shared_benchmarks):
    seed_all(hub.server, shared_benchmarks)
    return hub


def test_prepare_writes_checked_files_and_manifest(real_hub, tmp_path, shared_benchmarks):
    out = tmp_path / "evaldata"
    manifest = prepare(["coit_xquad:zh", "coit_mlqa:zh|0", "coit_flores101:en-zh"], out, progress=False)
    files = manifest["files"]
    assert set(files) == {"xquad/zh.parquet", "mlqa/zh.parquet", "flores101/en.parquet", "flores101/zh.parquet"}
    xquad = files["xquad/zh.parquet"]
    assert (xquad["repo"], xquad["commit"], xquad["rows"]) == ("google/xquad", hub_sources.XQUAD_CANDIDATES[0].revision, 1190)
    assert xquad["files"][0]["path"] == "xquad.zh/validation-00000-of-00001.parquet"
    mlqa = files["mlqa/zh.parquet"]
    assert (mlqa["repo"], mlqa["config"], mlqa["rows"], mlqa["split"]) == ("google/xtreme", "MLQA.zh.zh", 5137, "test")
    flores = files["flores101/zh.parquet"]
    assert (flores["repo"], flores["revision"], flores["benchmark"], flores["rows"]) == (
        "gsarti/flores_101", "refs/convert/parquet", "flores101", 1012)
    branch_head = real_hub.server.repos[("dataset", "gsarti/flores_101")].branches["refs/convert/parquet"]
    assert flores["commit"] == branch_head  # the branch is resolved to the commit actually read
    blob = real_hub.server.repos[("dataset", "gsarti/flores_101")].commits[branch_head].files["zho_simpl/devtest/0000.parquet"]
    assert flores["files"] == [{"path": "zho_simpl/devtest/0000.parquet", "sha256": blob.sha256}]
    assert json.loads((out / "manifest.json").read_text())["files"] == files
    assert all(not os.path.isabs(f["path"]) for e in files.values() for f in e["files"])
    # the prepared folder is what --data-dir reads: same rows, provenance from the manifest
    config = tasks.build_task_config("coit_flores101:en-zh", sources=sources.data_dir_sources(out))
    provenance = sources.read_provenance(config.hf_repo)
    assert provenance["commit"] == branch_head and provenance["config"] == "eng,zho_simpl"
    import datasets

    rows = datasets.load_dataset(config.hf_repo, "default")["test"]
    udhr = [json.loads(x) for x in (shared_benchmarks / "udhr" / "udhr_7way.jsonl").read_text().splitlines()]
    assert len(rows) == 1012 and rows[3]["sentence_zho_simpl"] == udhr[3]["zh"]


def test_row_count_check_uses_the_real_count(real_hub, tmp_path):
    with pytest.raises(InputError, match="1190 rows, expected 1000"):
        prepare(["coit_xquad:en"], tmp_path / "out", row_overrides={"xquad": 1000}, progress=False)
    assert not (tmp_path / "out").exists()  # nothing written when a check fails


def test_all_candidates_failing_names_each_with_reason(real_hub, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hub_sources, "_hub_token", lambda: None)
    with pytest.raises(InputError) as caught:
        hub_sources.fetch_first("flores101", ("en", "tr"))  # the fixture branch holds no Turkish file
    message = str(caught.value)
    assert "gsarti/flores_101@refs/convert/parquet (flores101)" in message and "tur/devtest/0000.parquet" in message
    assert "openlanguagedata/flores_plus@main (flores_plus): PermissionError: gated" in message
    assert "facebook/flores@refs/convert/parquet (flores200)" in message
    assert "--source 'flores101=" in message and "--data-dir" in message


def test_fallback_candidate_is_recorded_as_another_benchmark(real_hub, tmp_path, shared_benchmarks):
    from hub_fixtures import parquet_bytes, udhr_rows

    udhr = udhr_rows(shared_benchmarks)
    files = {f"{code}/devtest/0000.parquet": parquet_bytes([{"id": i + 1, "sentence": udhr[i % 80][lang]}
                                                            for i in range(1012)])
             for lang, code in (("en", "eng_Latn"), ("tr", "tur_Latn"))}
    real_hub.server.seed_repo("dataset", "facebook/flores", {"flores.py": b"# script\n"})
    real_hub.server.seed_repo("dataset", "facebook/flores", files, branch="refs/convert/parquet")
    folder = sources.materialize("flores101", sources.DEFAULT_SOURCES["flores101"], ("en", "tr")).path
    provenance = sources.read_provenance(folder)
    assert (provenance["benchmark"], provenance["repo"], provenance["config"]) == (
        "flores200", "facebook/flores", "eng_Latn,tur_Latn")
    from coit_hf.evaluation.runner import benchmark_version_notes

    assert benchmark_version_notes({"coit_flores101:en-tr": provenance}) == [
        "coit_flores101:en-tr: data from facebook/flores is benchmark 'flores200', not 'flores101'"]


def test_script_only_repo_is_a_clear_error_and_writes_nothing(real_hub, tmp_path):
    out = tmp_path / "evaldata"
    cmd = [sys.executable, "-m", "coit_hf.cli", "eval", "prepare", "--tasks", "coit_mlqa:zh", "--output", str(out),
           "--source", "mlqa=facebook/mlqa?config=mlqa.zh.zh&split=test"]
    env = {**real_hub.env, sources.CACHE_ENV: str(tmp_path / "cache")}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "facebook/mlqa holds a loading script (mlqa.py)" in done.stderr
    assert "hf://datasets/" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_hf_path_source_reads_the_convert_branch(real_hub):
    url = "hf://datasets/gsarti/flores_101@refs%2Fconvert%2Fparquet/{lang}/devtest/0000.parquet"
    family, source = sources.parse_source(f"xquad={url}")  # any hf:// Parquet path is read by the generic builder
    folder = sources.materialize("flores101", sources.DataSource(url.replace("{lang}", "zho_simpl")), ("zh",)).path
    import datasets

    rows = datasets.load_dataset(folder, "default")["test"]
    assert len(rows) == 1012 and "sentence" in rows.column_names
    assert family == "xquad" and source.path == url


def test_module_tasks_table_never_downloads(real_hub, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("download attempted at import time")

    monkeypatch.setattr(hub_sources, "fetch_first", boom)
    with pytest.raises(ConfigError, match="eval prepare"):
        tasks.build_task_config("coit_xquad:zh", download=False)
    assert all(c.name.startswith("coit_") for c in tasks._module_tasks_table())


@pytest.mark.slow
def test_prepare_then_offline_eval_records_revisions(real_hub, tiny_model_dir, tmp_path):
    """`coit-hf eval prepare` against the real-layout Hub, then `coit-hf eval --data-dir` with the Hub unreachable."""
    data = tmp_path / "evaldata"
    task_list = "coit_xquad:zh,coit_mlqa:zh,coit_flores101:en-zh"
    env = {**real_hub.env, sources.CACHE_ENV: str(tmp_path / "cache1")}
    done = subprocess.run([sys.executable, "-m", "coit_hf.cli", "eval", "prepare", "--tasks", task_list,
                           "--output", str(data)], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mlqa/zh.parquet: 5137 rows, mlqa from google/xtreme@5d0e5de8d9e0" in done.stdout
    offline = {k: v for k, v in os.environ.items() if k not in ("HF_ENDPOINT", "HF_TOKEN")}
    offline |= {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", sources.CACHE_ENV: str(tmp_path / "cache2")}
    done = subprocess.run([sys.executable, "-m", "coit_hf.cli", "eval", "--model", str(tiny_model_dir), "--tasks",
                           task_list, "--data-dir", str(data), "--max-samples", "2", "--max-new-tokens", "4",
                           "--output-dir", str(tmp_path / "out"), "--no-details"],
                          env=offline, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "coit_results.json").read_text())
    assert set(results["tasks"]) == set(task_list.split(","))
    found = results["data_sources"]
    assert found["coit_xquad:zh"]["revision"] == found["coit_xquad:zh"]["commit"] == \
        hub_sources.XQUAD_CANDIDATES[0].revision
    assert (found["coit_mlqa:zh"]["repo"], found["coit_mlqa:zh"]["rows"]) == ("google/xtreme", 5137)
    flores = found["coit_flores101:en-zh"]
    assert (flores["benchmark"], flores["revision"], flores["local"]) == (
        "flores101", "refs/convert/parquet", "flores101/en.parquet,flores101/zh.parquet")
    assert len(flores["commit"]) == 40 and len(flores["files"]) == 2
    assert str(tmp_path) not in json.dumps(found)  # no absolute paths
