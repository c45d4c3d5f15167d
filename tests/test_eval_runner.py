"""The offline runner: real XQuAD/UDHR data through lighteval's Pipeline with the tiny model; oracle scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coit_hf.errors import ConfigError
from coit_hf.evaluation import lighteval_compat, runner, sources
from coit_hf.evaluation.results import load_results


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "coit_cache"))
    monkeypatch.delenv(sources.SOURCES_ENV, raising=False)


def _real_sources(shared_benchmarks: Path) -> dict:
    return dict([sources.parse_source(f"xquad={shared_benchmarks / 'xquad'}"),
                 sources.parse_source(f"flores101={shared_benchmarks / 'udhr' / 'udhr_7way.jsonl'}")])


def _tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.slow
def test_real_data_run_with_tiny_model_offline(tiny_model_dir, shared_benchmarks, tmp_path):
    before = _tree(tiny_model_dir)
    settings = runner.EvalSettings(
        model=str(tiny_model_dir),
        tasks=["coit_xquad:zh|0", "coit_xquad:hi", "coit_flores101:en-zh", "coit_flores101:zh-en"],
        max_samples=3, output_dir=str(tmp_path / "out"), sources=_real_sources(shared_benchmarks),
        metadata={"translation_pairs": 1000, "lang": "zh"}, generation="fast",
    )
    import torch

    torch.set_grad_enabled(True)
    results = runner.run_evaluation(settings)
    assert torch.is_grad_enabled()  # lighteval switches grad off at import: a later training step needs it back
    on_disk = load_results(tmp_path / "out")
    assert on_disk == json.loads(json.dumps(results))
    assert set(on_disk["tasks"]) == {"coit_xquad:zh", "coit_xquad:hi", "coit_flores101:en-zh", "coit_flores101:zh-en"}
    for name in ("coit_xquad:zh", "coit_xquad:hi"):
        scores = on_disk["tasks"][name]
        assert set(scores) == {"substring", "exact_match", "f1", "fidelity", "n"} and scores["n"] == 3
        assert all(0.0 <= scores[k] <= 100.0 for k in ("substring", "exact_match", "f1", "fidelity"))
    mt = on_disk["tasks"]["coit_flores101:en-zh"]
    assert {"chrf++", "bleu", "fidelity"} <= set(mt) and mt["n"] == 3
    assert on_disk["prompt_format"] == "paper" and on_disk["max_samples"] == 3
    assert on_disk["metadata"] == {"translation_pairs": 1000, "lang": "zh"}
    assert on_disk["versions"]["lighteval"] == "0.13.0"
    assert on_disk["generation"]["profile"] == "fast" and on_disk["name_style"] == "friendly"
    assert on_disk["generation"]["max_new_tokens"]["coit_xquad:zh"] == 64
    assert on_disk["qa_rules"] == {"coit_xquad:zh": "squad_v1.1", "coit_xquad:hi": "squad_v1.1"}
    assert on_disk["fidelity_method"] == "script+lid.176.ftz"
    assert any("spBLEU" in n for n in on_disk["notes"]) == ("spbleu" not in mt)
    # lighteval's per-sample details are kept, the model folder is untouched, no built-in task module was imported
    assert list((tmp_path / "out" / "details").rglob("*coit_xquad:zh*.parquet"))
    assert _tree(tiny_model_dir) == before
    assert (tmp_path / "out" / ".lighteval_cache").is_dir()
    assert not [m for m in sys.modules if m.startswith("lighteval.tasks.tasks.")]


@pytest.mark.slow
def test_paper_generation_profile_with_tiny_model(tiny_model_dir, shared_benchmarks, tmp_path):
    """The paper's protocol end to end on two samples: 512-token budget, no stop string, continuation stripped."""
    settings = runner.EvalSettings(
        model=str(tiny_model_dir), tasks=["coit_flores101:en-zh"], max_samples=2, output_dir=str(tmp_path / "out"),
        sources=_real_sources(shared_benchmarks), batch_size=2,
    )
    assert settings.generation == "paper"  # the default with the paper's prompt format
    results = runner.run_evaluation(settings)
    assert results["generation"] == {"profile": "paper", "greedy": True,
                                     "max_new_tokens": {"coit_flores101:en-zh": 512},
                                     "stop_sequences": {"coit_flores101:en-zh": []}}
    assert results["tasks"]["coit_flores101:en-zh"]["n"] == 2
    import pandas as pd

    details = pd.read_parquet(next((tmp_path / "out" / "details").rglob("*coit_flores101*.parquet")))
    for _, row in details.iterrows():
        text = row["model_response"]["text"][0]
        assert "### Response:" not in text  # only the continuation, never the prompt


def test_name_style_warning_reads_the_model_card_state(tmp_path, caplog):
    model = tmp_path / "model"
    model.mkdir()
    (model / runner.MODEL_CARD_STATE).write_text(json.dumps({"datasets": [{"path": "c", "name_style": "iso"}]}))
    settings = runner.EvalSettings(model=str(model), tasks=["coit_flores101:en-el"])
    note = runner.name_style_note(settings, ["coit_flores101:en-el"])
    assert note is not None and "iso" in note and "--name-style iso" in note
    assert runner.name_style_note(settings, ["coit_xquad:el"]) is None  # QA prompts name no language
    iso = runner.EvalSettings(model=str(model), tasks=["coit_flores101:en-el"], name_style="iso")
    assert runner.name_style_note(iso, ["coit_flores101:en-el"]) is None
    assert runner.trained_name_styles(str(tmp_path / "elsewhere")) == set()
    with pytest.raises(ConfigError, match="name style"):
        runner.EvalSettings(model="m", tasks=["coit_xquad:zh"], name_style="native")
    with pytest.raises(ConfigError, match="generation"):
        runner.EvalSettings(model="m", tasks=["coit_xquad:zh"], generation="slow")


class _Oracle:
    """Factory of a lighteval model that answers every request with its gold (or a fixed text)."""

    @staticmethod
    def make(cache_dir: Path, answer: str | None = None):
        from lighteval.models.dummy.dummy_model import DummyModel, DummyModelConfig
        from lighteval.models.model_output import ModelResponse

        class OracleModel(DummyModel):
            def greedy_until(self, docs):
                return [ModelResponse(text=[answer if answer is not None else doc.get_golds()[0]]) for doc in docs]

        return OracleModel(DummyModelConfig(model_name="oracle", cache_dir=str(cache_dir)))


@pytest.mark.slow
def test_oracle_scores_100_through_the_pipeline(shared_benchmarks, tmp_path):
    settings = runner.EvalSettings(
        model="oracle", tasks=["coit_xquad:zh", "coit_xquad:ar", "coit_flores101:en-zh"], max_samples=20,
        output_dir=str(tmp_path / "out"), sources=_real_sources(shared_benchmarks), save_details=False,
    )
    results = runner.run_evaluation(settings, model=_Oracle.make(tmp_path / "cache"))
    for lang in ("zh", "ar"):
        qa = results["tasks"][f"coit_xquad:{lang}"]
        assert (qa["substring"], qa["exact_match"], qa["f1"]) == (100.0, 100.0, 100.0)
        assert qa["fidelity"] > 50.0  # golds that are numbers or Latin names are not "in" the script
    mt = results["tasks"]["coit_flores101:en-zh"]
    assert mt["chrf++"] == pytest.approx(100.0) and mt["bleu"] == pytest.approx(100.0)
    wrong = runner.run_evaluation(settings, model=_Oracle.make(tmp_path / "cache2", answer="no idea"))
    assert wrong["tasks"]["coit_xquad:zh"]["exact_match"] == 0.0 and wrong["tasks"]["coit_xquad:zh"]["fidelity"] == 0.0


def test_settings_and_task_names_are_checked():
    assert runner.normalize_task_names("coit_xquad:zh|0, coit_xquad:zh,coit_mlqa:hi") == ["coit_xquad:zh", "coit_mlqa:hi"]
    with pytest.raises(ConfigError, match="zero-shot"):
        runner.normalize_task_names("coit_xquad:zh|5")
    with pytest.raises(ConfigError):
        runner.EvalSettings(model="m", tasks=["coit_xquad:zh"], backend="vllm")
    with pytest.raises(ConfigError):
        runner.EvalSettings(model="m", tasks=[])


def test_endpoint_backend_builds_an_openai_compatible_litellm_config():
    settings = runner.EvalSettings(model="my-served-model", tasks=["coit_xquad:zh"], backend="endpoint",
                                   base_url="http://localhost:8000/v1")
    config = runner.build_model_config(settings)
    assert type(config).__name__ == "LiteLLMModelConfig"
    assert (config.model_name, config.provider, config.base_url) == ("openai/my-served-model", "openai",
                                                                     "http://localhost:8000/v1")
    assert config.generation_parameters.temperature == 0.0
    with pytest.raises(ConfigError, match="base-url"):
        runner.build_model_config(runner.EvalSettings(model="m", tasks=["coit_xquad:zh"], backend="endpoint"))


def test_transformers_config_is_greedy_and_chat_template_follows_prompt_format(tiny_model_dir):
    paper = runner.build_model_config(runner.EvalSettings(model=str(tiny_model_dir), tasks=["coit_xquad:zh"]))
    chat = runner.build_model_config(runner.EvalSettings(model=str(tiny_model_dir), tasks=["coit_xquad:zh"],
                                                         prompt_format="chat"))
    assert paper.override_chat_template is False and chat.override_chat_template is True
    assert paper.generation_parameters.temperature == 0.0


def test_sample_cache_shim_keeps_model_folder_clean(tmp_path):
    from lighteval.models.transformers import transformers_model as tm
    from lighteval.models.transformers.transformers_model import TransformersModelConfig

    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    config = TransformersModelConfig(model_name=str(model_dir))
    with lighteval_compat.sample_cache_outside_model(tmp_path / "cache"):
        cache = tm.SampleCache(config)
    assert tm.SampleCache.__name__ == "SampleCache"  # restored
    assert Path(cache.cache_dir).is_relative_to(tmp_path / "cache") and "my-model" in str(cache.cache_dir)
    assert list(model_dir.iterdir()) == []
    assert cache.model_config is config


@pytest.mark.slow
def test_cli_eval_in_a_fresh_process_with_thai_by_configuration(tiny_model_dir, tmp_path):
    fixtures = Path(__file__).parent / "fixtures"
    env = {**os.environ, "COIT_HF_LANGUAGES": str(fixtures / "languages_th.yaml"), sources.CACHE_ENV: str(tmp_path / "c")}
    out = subprocess.run(
        [sys.executable, "-m", "coit_hf.cli", "eval", "--model", str(tiny_model_dir), "--tasks", "coit_xquad:th",
         "--source", f"xquad={fixtures / 'xquad_th.json'}", "--max-samples", "2", "--output-dir", str(tmp_path / "o"),
         "--metadata", "lang=th", "label=tiny"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    results = load_results(tmp_path / "o")
    assert results["tasks"]["coit_xquad:th"]["n"] == 2 and results["metadata"] == {"lang": "th", "label": "tiny"}
    assert "coit_xquad:th" in out.stdout


@pytest.mark.slow
def test_lighteval_cli_with_custom_tasks_module_offline(tiny_model_dir, shared_benchmarks, tmp_path):
    """lighteval's own `accelerate` command + `--custom-tasks coit_hf.evaluation.tasks`, via the offline entry."""
    before = _tree(tiny_model_dir)
    env = {**os.environ, sources.CACHE_ENV: str(tmp_path / "c"),
           sources.SOURCES_ENV: f"xquad={shared_benchmarks / 'xquad'}"}
    out = subprocess.run(
        [sys.executable, "-m", "coit_hf.evaluation.lighteval_entry", "accelerate",
         f"model_name={tiny_model_dir},batch_size=4,device=cpu,override_chat_template=false", "coit_xquad:hi|0",
         "--custom-tasks", "coit_hf.evaluation.tasks", "--max-samples", "2", "--output-dir", str(tmp_path / "o")],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    [results_file] = (tmp_path / "o" / "results").rglob("results_*.json")
    scores = json.loads(results_file.read_text())["results"]["coit_xquad:hi|0"]
    assert {"substring", "exact_match", "f1", "fidelity"} <= set(scores)
    assert _tree(tiny_model_dir) == before and (tmp_path / "c" / "lighteval").is_dir()


def test_custom_tasks_only_registry_skips_builtins(shared_benchmarks, monkeypatch):
    from lighteval.tasks.registry import Registry

    from coit_hf.evaluation import tasks
    from coit_hf.evaluation.lighteval_compat import custom_tasks_only

    # Hub-default tasks enter TASKS_TABLE only once downloaded (import never downloads): use the local XQuAD files
    monkeypatch.setattr(tasks, "TASKS_TABLE", tasks.build_tasks_table(["coit_xquad:zh"], sources=_real_sources(shared_benchmarks)))
    with custom_tasks_only():
        registry = Registry(tasks="coit_xquad:zh|0", custom_tasks="coit_hf.evaluation.tasks")
    assert list(registry.task_to_configs) == ["coit_xquad:zh"]
    assert all(name.startswith("coit_") for name in registry._task_registry)
    assert not [m for m in sys.modules if m.startswith("lighteval.tasks.tasks.")]
    assert isinstance(Registry.__dict__["load_all_task_configs"], staticmethod)


def test_lighteval_outside_the_supported_range_is_refused(monkeypatch):
    import importlib.metadata

    lighteval_compat.require_supported_lighteval.cache_clear()
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.14.1" if name == "lighteval" else "1.0")
    try:
        with pytest.raises(ConfigError, match=r"lighteval 0.14.1 is not supported.*0.13 <= lighteval < 0.14"):
            lighteval_compat.require_supported_lighteval()
    finally:
        lighteval_compat.require_supported_lighteval.cache_clear()
    monkeypatch.undo()
    assert lighteval_compat.require_supported_lighteval().startswith("0.13")


def test_only_the_adapter_names_lighteval_internals():
    import re

    package = Path(lighteval_compat.__file__).parents[1]
    internals = re.compile(r"\b(_extract_configs|create_custom_tasks_module|load_all_task_configs|_task_registry|"
                           r"_init_tasks_and_requests|SampleCache|evaluate_answer_batch|general_config_logger|"
                           r"lighteval\.tasks\.registry|lighteval\.utils\.cache_management|llm_as_judge)\b")
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if p.name != "lighteval_compat.py" and internals.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
