"""coit lighteval tasks: names, prompts (paper / chat), data sources, and a language added by configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coit_hf.errors import ConfigError, InputError
from coit_hf.evaluation import context, prompts, sources, tasks
from coit_hf.templates import ALPACA_WITH_INPUT

FIXTURES = Path(__file__).parent / "fixtures"
LIGHTEVAL_TASKS_DIR = Path(__import__("lighteval").__file__).parent / "tasks"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "coit_cache"))
    monkeypatch.delenv(sources.SOURCES_ENV, raising=False)


def test_task_families_cover_the_paper():
    names = tasks.task_names(["en", "ar", "el", "hi", "tr", "vi", "zh"])
    assert [n for n in names if n.startswith("coit_xquad:")] == [f"coit_xquad:{c}" for c in tasks.XQUAD_LANGUAGES]
    assert [n for n in names if n.startswith("coit_mlqa:")] == [f"coit_mlqa:{c}" for c in tasks.MLQA_LANGUAGES]
    flores = {n for n in names if n.startswith("coit_flores101:")}
    assert flores == {f"coit_flores101:{a}-{b}" for x in ["ar", "el", "hi", "tr", "vi", "zh"]
                      for a, b in (("en", x), (x, "en"))}
    assert len(names) == 7 + 5 + 12


def test_names_do_not_collide_with_lighteval_builtins():
    # Read the built-in task sources as text: importing them is exactly what fails offline (they download at import).
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in LIGHTEVAL_TASKS_DIR.rglob("*.py"))
    assert "coit_" not in text
    assert all(c.name.startswith("coit_") for c in tasks.TASKS_TABLE)


def test_paper_prompt_is_exact_alpaca_with_target_language_labels(shared_benchmarks):
    row = sources.read_squad_json(shared_benchmarks / "xquad" / "xquad.zh.json")[0]
    doc = tasks.qa_prompt(row, "coit_xquad:zh", lang="zh")
    block = f"段落: {row['context'].strip()}\n问题: {row['question'].strip()}\n答案: "
    assert doc.query == ALPACA_WITH_INPUT.format(instruction="请根据以下段落，回答问题", input=block)
    assert doc.query.endswith("### Response:")
    assert doc.get_golds() == [row["answers"]["text"][0].strip()]


def test_chat_prompt_is_the_user_turn(shared_benchmarks):
    row = json.loads((shared_benchmarks / "udhr" / "udhr_7way.jsonl").read_text().splitlines()[1])
    line = {sources.flores_column("en"): row["en"], sources.flores_column("zh"): row["zh"]}
    paper = tasks.translation_prompt(line, lang_pair := "x", src="en", tgt="zh")
    chat = tasks.translation_prompt(line, lang_pair, src="en", tgt="zh", prompt_format="chat")
    instruction = "Translate the following sentences from English to Chinese."
    assert chat.query == f"{instruction}\n\n{row['en']}"
    assert paper.query.startswith("Below is an instruction") and f"### Input:\n{row['en']}" in paper.query
    assert paper.get_golds() == [row["zh"]]
    with pytest.raises(ConfigError):
        tasks.build_prompt("a", "b", "alpaca-ish")


def test_local_xquad_folder_source_is_materialised(shared_benchmarks):
    family, source = sources.parse_source(f"xquad={shared_benchmarks / 'xquad'}")
    config = tasks.build_task_config("coit_xquad:hi|0", sources={family: source})
    assert config.name == "coit_xquad:hi" and os.path.isdir(config.hf_repo)
    import datasets

    ds = datasets.load_dataset(config.hf_repo, config.hf_subset)[config.evaluation_splits[0]]
    assert len(ds) == 1190 and set(ds.column_names) >= {"context", "question", "answers"}


def test_flores_text_folder_and_jsonl_sources(tmp_path, shared_benchmarks):
    rows = [json.loads(x) for x in (shared_benchmarks / "udhr" / "udhr_7way.jsonl").read_text().splitlines()]
    folder = tmp_path / "flores" / "devtest"
    folder.mkdir(parents=True)
    (folder / "eng.devtest").write_text("\n".join(r["en"] for r in rows) + "\n", encoding="utf-8")
    (folder / "zho_simpl.devtest").write_text("\n".join(r["zh"] for r in rows) + "\n", encoding="utf-8")
    from_text = sources.materialize("flores101", sources.DataSource(str(tmp_path / "flores"), split="devtest"), ("en", "zh"))
    jsonl = shared_benchmarks / "udhr" / "udhr_7way.jsonl"
    from_jsonl = sources.materialize("flores101", sources.DataSource(str(jsonl)), ("en", "zh"))
    import datasets

    a = datasets.load_dataset(from_text.path, "default")["test"]
    b = datasets.load_dataset(from_jsonl.path, "default")["test"]
    assert a["sentence_zho_simpl"] == b["sentence_zho_simpl"] == [r["zh"] for r in rows]
    (folder / "zho_simpl.devtest").write_text("only one line\n", encoding="utf-8")
    with pytest.raises(InputError, match="not aligned"):
        sources.materialize("flores101", sources.DataSource(str(tmp_path / "flores"), split="devtest"), ("en", "zh"))


def test_generation_size_and_source_syntax(shared_benchmarks):
    family, source = sources.parse_source(f"xquad={shared_benchmarks / 'xquad'}")
    config = tasks.build_task_config("coit_xquad:zh", sources={family: source})
    assert config.generation_size == context.PROFILES["paper"].qa_tokens
    assert tasks.build_task_config("coit_xquad:zh", sources={family: source}, generation_size=7).generation_size == 7
    family, src = sources.parse_source("flores101=openlanguagedata/flores_plus?config=default&split=devtest&revision=v2")
    assert (family, src.path, src.config, src.split, src.revision) == (
        "flores101", "openlanguagedata/flores_plus", "default", "devtest", "v2")
    with pytest.raises(ConfigError):
        sources.parse_source("squad=foo")


def test_bad_squad_file_names_file_and_field(tmp_path):
    bad = tmp_path / "xquad.zh.json"
    bad.write_text(json.dumps({"data": [{"paragraphs": [{"context": "c", "qas": [{"question": "q"}]}]}]}))
    with pytest.raises(InputError, match="answers") as info:
        sources.read_squad_json(bad)
    assert str(bad) in str(info.value)


def test_thai_added_by_configuration_gets_its_xquad_task(tmp_path):
    """A registry file + a SQuAD file: a fresh process lists and builds coit_xquad:th with Thai labels."""
    env = {**os.environ,
           "COIT_HF_LANGUAGES": str(FIXTURES / "languages_th.yaml"),
           "COIT_HF_EVAL_SOURCES": f"xquad={FIXTURES / 'xquad_th.json'}",
           sources.CACHE_ENV: str(tmp_path / "cache")}
    code = (
        "import json, datasets\n"
        "from coit_hf.evaluation import tasks\n"
        "cfg = {c.name: c for c in tasks.TASKS_TABLE}\n"
        "t = cfg['coit_xquad:th']\n"
        "row = datasets.load_dataset(t.hf_repo, t.hf_subset)[t.evaluation_splits[0]][0]\n"
        "doc = t.prompt_function(row, t.name)\n"
        "print(json.dumps({'names': sorted(cfg), 'all': tasks.task_names(), 'query': doc.query,"
        " 'gold': doc.get_golds()[0]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "coit_xquad:th" in result["names"] and "coit_flores101:en-th" in result["all"]
    # Hub-default tasks (Flores here) join TASKS_TABLE only once their data was downloaded: import never downloads
    assert "coit_flores101:en-th" not in result["names"]
    assert "coit_xquad:zh" not in result["names"]  # the local file covers Thai only: other XQuAD tasks left out
    assert "ย่อหน้า: กรุงเทพมหานคร" in result["query"] and "คำถาม:" in result["query"]
    assert result["gold"] == "กรุงเทพมหานคร"


def test_data_dir_and_cli_metadata(tmp_path, shared_benchmarks):
    import shutil

    from coit_hf.evaluation.cli import _metadata

    (tmp_path / "data" / "xquad").mkdir(parents=True)
    shutil.copy(shared_benchmarks / "xquad" / "xquad.vi.json", tmp_path / "data" / "xquad")
    found = sources.data_dir_sources(tmp_path / "data")
    assert set(found) == {"xquad"}
    config = tasks.build_task_config("coit_xquad:vi", sources=found)
    assert os.path.isdir(config.hf_repo)
    with pytest.raises(InputError, match="no SQuAD JSON for language 'zh'"):
        tasks.build_task_config("coit_xquad:zh", sources=found)
    assert _metadata(["translation_pairs=1000", "lang=zh", "label=x-zh"]) == {
        "translation_pairs": 1000, "lang": "zh", "label": "x-zh"}
    with pytest.raises(ConfigError):
        _metadata(["novalue"])


def _local_qa_sources(shared_benchmarks, tmp_path, lang: str) -> dict:
    """XQuAD from the official files, and an MLQA-named copy of one of them (same SQuAD JSON shape)."""
    mlqa = tmp_path / "mlqa"
    mlqa.mkdir(exist_ok=True)
    gold = (shared_benchmarks / "xquad" / f"xquad.{lang}.json").read_bytes()
    (mlqa / f"test-context-{lang}-question-{lang}.json").write_bytes(gold)
    return {"xquad": sources.DataSource(str(shared_benchmarks / "xquad")), "mlqa": sources.DataSource(str(mlqa))}


@pytest.mark.parametrize("prompt_format", ["paper", "chat"])
def test_generation_profiles(prompt_format, shared_benchmarks, tmp_path):
    """paper: greedy up to 512 new tokens, no stop string (the paper's inference); fast: 64/256 and a stop string."""
    local = _local_qa_sources(shared_benchmarks, tmp_path, "hi")
    paper = {n: tasks.build_task_config(n, prompt_format, sources=local, generation="paper")
             for n in ("coit_xquad:zh", "coit_mlqa:hi")}
    for config in paper.values():
        assert (config.generation_size, tuple(config.stop_sequence)) == (512, ())
    fast = tasks.build_task_config("coit_xquad:zh", prompt_format, sources=local, generation="fast")
    assert (fast.generation_size, tuple(fast.stop_sequence)) == (context.QA_GENERATION_SIZE, prompts.STOP_SEQUENCES)
    default = tasks.build_task_config("coit_xquad:zh", prompt_format, sources=local)
    assert default.generation_size == (512 if prompt_format == "paper" else context.QA_GENERATION_SIZE)
    with pytest.raises(ConfigError, match="generation profile"):
        tasks.build_task_config("coit_xquad:zh", prompt_format, sources=local, generation="slow")


def test_translation_profiles_and_name_style(shared_benchmarks):
    udhr = sources.DataSource(str(shared_benchmarks / "udhr" / "udhr_7way.jsonl"))
    paper = tasks.build_task_config("coit_flores101:en-el", sources={"flores101": udhr}, generation="paper")
    fast = tasks.build_task_config("coit_flores101:en-el", sources={"flores101": udhr}, generation="fast")
    assert (paper.generation_size, tuple(paper.stop_sequence)) == (512, ())
    assert (fast.generation_size, tuple(fast.stop_sequence)) == (context.MT_GENERATION_SIZE, prompts.STOP_SEQUENCES)
    row = {"sentence_eng": "Hello.", "sentence_ell": "Γεια."}
    friendly = tasks.translation_prompt(row, src="en", tgt="el")
    iso = tasks.translation_prompt(row, src="en", tgt="el", name_style="iso")
    assert "from English to Greek." in friendly.query
    assert "from English to Modern Greek (1453-)." in iso.query
    with pytest.raises(ConfigError, match="name style"):
        tasks.build_task_config("coit_flores101:en-el", sources={"flores101": udhr}, name_style="native")


def test_qa_tasks_use_their_benchmarks_official_rules(shared_benchmarks, tmp_path):
    assert tasks.qa_rules_of("coit_mlqa:zh") == "mlqa_v1"
    assert tasks.qa_rules_of("coit_xquad:zh|0") == "squad_v1.1"
    assert tasks.qa_rules_of("coit_xquad:zh", "mlqa_v1") == "mlqa_v1"
    assert tasks.qa_rules_of("coit_flores101:en-zh") is None
    local = _local_qa_sources(shared_benchmarks, tmp_path, "zh")
    scorer = tasks.build_task_config("coit_xquad:zh", sources=local).metrics[0].sample_level_fn
    assert scorer.rules == "squad_v1.1"
    assert tasks.build_task_config("coit_mlqa:zh", sources=local).metrics[0].sample_level_fn.rules == "mlqa_v1"


def test_unresolvable_tasks_are_listed_with_their_reason(tmp_path, monkeypatch):
    from coit_hf.evaluation import lighteval_entry
    from coit_hf.evaluation.context import EvalContext

    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "cache"))
    ctx = EvalContext(sources={"xquad": sources.DataSource(str(tmp_path / "no_such_folder"))}, languages=("zh",))
    table, unavailable = tasks.available_tasks(ctx, ["coit_xquad:zh", "coit_mieval:zh"])
    assert table == []
    assert "coit_xquad:zh" in unavailable and "coit_mieval:zh" in unavailable
    assert "instruction set" in unavailable["coit_mieval:zh"]
    monkeypatch.setattr(tasks, "unavailable_tasks", lambda: unavailable)
    argv = ["accelerate", "model_name=m", "coit_xquad:zh|0,coit_xquad:th|0", "--custom-tasks", "coit_hf.evaluation.tasks"]
    assert lighteval_entry.unavailable_requested(argv) == [f"coit_xquad:zh: {unavailable['coit_xquad:zh']}"]
    assert lighteval_entry.main(argv) == 2


def test_lighteval_cli_app_leaves_our_loggers_enabled():
    """Importing lighteval's CLI module runs dictConfig(disable_existing_loggers=True): our loggers must survive it."""
    import logging

    from coit_hf.evaluation.lighteval_compat import lighteval_cli_app

    ours = logging.getLogger("coit_hf.evaluation.test_probe")
    app = lighteval_cli_app()
    assert app is not None and not ours.disabled
    assert not logging.getLogger("coit_hf.hub.retry").disabled


def test_context_from_environment_is_the_only_reader_of_the_variables():
    from coit_hf.evaluation.context import EvalContext

    env = {"COIT_HF_PROMPT_FORMAT": "chat", "COIT_HF_NAME_STYLE": "iso",
           "COIT_HF_EVAL_SOURCES": f"xquad={FIXTURES / 'xquad_th.json'}"}
    ctx = EvalContext.from_environment(env)
    assert (ctx.prompt_format, ctx.generation, ctx.name_style) == ("chat", "fast", "iso")
    assert ctx.sources["xquad"].path == str(FIXTURES / "xquad_th.json")
    assert ctx.sources["mlqa"] == sources.DEFAULT_SOURCES["mlqa"]
    with pytest.raises(ConfigError, match="generation profile"):
        EvalContext.from_environment({"COIT_HF_GENERATION": "slow"})
