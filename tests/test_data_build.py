"""Corpus builds: UDHR + Alpaca fixtures → folder → loopback Hub; Thai by configuration; decontamination; bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import yaml

from coit_hf.cli import main
from coit_hf.data.build import BuildConfig, build_corpus
from coit_hf.data.records import normalize_text
from coit_hf.templates import TRANSLATION_INSTRUCTIONS, translation_instruction

FIXTURES = Path(__file__).parent / "fixtures"


def _alpaca_expected(name: str) -> set[tuple[str, str, str]]:
    """Unique, non-empty (instruction, input, output) rows of an Alpaca fixture, computed independently."""
    rows = set()
    for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        triple = tuple(normalize_text(row[k]) for k in ("instruction", "input", "output"))
        if triple[0] and triple[2]:
            rows.add(triple)
    return rows


def _write_config(tmp_path: Path, udhr: Path, **extra) -> Path:
    config = {
        "name": "coit-zh", "validation_size": 5,
        "sources": [
            {"type": "jsonl", "path": str(udhr), "src_lang": "en", "tgt_lang": "zh", "license": "MIT",
             "display_name": "udhr"},
            {"type": "alpaca", "path": str(FIXTURES / "alpaca_en.jsonl"), "lang": "en", "license": "CC-BY-4.0"},
            {"type": "alpaca", "path": str(FIXTURES / "alpaca_zh.jsonl"), "lang": "zh", "license": "CC-BY-4.0"},
        ],
        **extra,
    }
    path = tmp_path / "build.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _rows(dataset_dict) -> dict[str, list[dict]]:
    return {split: list(dataset_dict[split]) for split in ("train", "validation")}


def _check_udhr_corpus(loaded: dict[str, dict[str, list[dict]]], udhr: Path) -> None:
    pairs = set()
    for line in udhr.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        pairs.add((normalize_text(row["en"]), normalize_text(row["zh"])))
    translation = loaded["translation"]
    got = [(r["input"], r["output"]) for split in ("train", "validation") for r in translation[split]]
    assert sorted(got) == sorted(pairs)  # exactly the UDHR pairs, each once
    assert len(translation["validation"]) == 5
    for row in translation["validation"]:
        assert row["instruction"] == "Translate the following sentences from English to Chinese."
    train_instructions = [r["instruction"] for r in translation["train"]]
    assert train_instructions[:3] == [translation_instruction("en", "zh", index=i) for i in range(3)]
    assert len(set(train_instructions)) == min(len(train_instructions), len(TRANSLATION_INSTRUCTIONS))
    for row in translation["train"]:
        assert (row["lang"], row["task"], row["subset"], row["source"]) == ("zh", "translation", "translation_en-zh", "udhr")
        assert row["messages"][0]["role"] == "user" and row["messages"][0]["input"] == row["input"]
        assert row["messages"][1] == {"role": "assistant", "content": row["output"], "instruction": "", "input": ""}
    general = loaded["general"]
    expected = {("alpaca_en", *t) for t in _alpaca_expected("alpaca_en.jsonl")} | {
        ("alpaca_zh", *t) for t in _alpaca_expected("alpaca_zh.jsonl")}
    got_general = [(r["subset"], r["instruction"], r["input"], r["output"]) for s in ("train", "validation")
                   for r in general[s]]
    assert sorted(got_general) == sorted(expected)
    assert sum(r["subset"] == "alpaca_zh" for r in general["validation"]) == 5
    everything = loaded["all"]
    for split in ("train", "validation"):
        assert sorted(r["id"] for r in everything[split]) == sorted(
            r["id"] for r in translation[split] + general[split])


def test_build_udhr_and_alpaca_local_folder(tmp_path, shared_benchmarks):
    udhr = shared_benchmarks / "udhr" / "udhr_7way.jsonl"
    out = tmp_path / "coit-zh"
    report = build_corpus(BuildConfig.from_yaml(_write_config(tmp_path, udhr)), out, progress=False)
    loaded = {c: _rows(datasets.load_dataset(str(out), c)) for c in ("translation", "general", "all")}
    _check_udhr_corpus(loaded, udhr)
    assert report["subsets"]["alpaca_en"]["empty"] == 1 and report["subsets"]["alpaca_en"]["duplicate"] == 1
    assert report["subsets"]["alpaca_zh"]["empty"] == 1 and report["subsets"]["alpaca_zh"]["duplicate"] == 1
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "| translation_en-zh | 80 |" in card and "| alpaca_zh | 26 | 1 |" in card
    assert "arXiv:2308.04948" in card and "| udhr | jsonl | translation | en→zh | MIT |" in card
    assert json.loads((out / "build_report.json").read_text())["totals"]["kept"] == 80 + 24 + 24
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_build_push_and_load_from_loopback_hub(tmp_path, shared_benchmarks, hub):
    udhr = shared_benchmarks / "udhr" / "udhr_7way.jsonl"
    out = tmp_path / "coit-zh"
    assert main(["data", "build", "--config", str(_write_config(tmp_path, udhr)), "--output", str(out),
                 "--no-progress"]) == 0
    repo = hub.repo_id("coit-zh")
    assert main(["data", "push", str(out), "--repo", repo, "--commit-message", "CoIT zh corpus"]) == 0
    # a fresh process, as a user would: only the Hub id
    script = (
        "import json, datasets\n"
        f"out = {{c: {{s: list(d) for s, d in datasets.load_dataset({repo!r}, c).items()}} "
        "for c in ('translation', 'general', 'all')}\n"
        "print(json.dumps(out, ensure_ascii=False))\n"
    )
    env = {**hub.env, "HF_DATASETS_CACHE": str(tmp_path / "ds-cache")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    _check_udhr_corpus(loaded, udhr)
    from huggingface_hub import HfApi

    card = HfApi().hf_hub_download(repo, "README.md", repo_type="dataset")
    assert "| translation_en-zh | 80 |" in Path(card).read_text(encoding="utf-8")


THAI = [("Hello, how are you?", "สวัสดี คุณสบายดีไหม"), ("I like to eat rice.", "ฉันชอบกินข้าว"),
        ("The weather is nice today.", "วันนี้อากาศดี"), ("Where is the train station?", "สถานีรถไฟอยู่ที่ไหน"),
        ("Thank you very much.", "ขอบคุณมาก"), ("My house is near the river.", "บ้านของฉันอยู่ใกล้แม่น้ำ"),
        ("Good night.", "Bonne nuit."), ("OK", "OK")]


def test_thai_added_by_configuration_only(tmp_path):
    (tmp_path / "train.en").write_text("\n".join(en for en, _ in THAI) + "\n", encoding="utf-8")
    (tmp_path / "train.th").write_text("\n".join(th for _, th in THAI) + "\n", encoding="utf-8")
    config = tmp_path / "thai.yaml"
    config.write_text(yaml.safe_dump({
        "name": "coit-th", "validation_size": 1, "languages_files": [str(FIXTURES / "languages_th.yaml")],
        "sources": [{"type": "parallel", "paths": ["train.en", "train.th"], "tgt_lang": "th"}],
    }), encoding="utf-8")
    out = tmp_path / "coit-th"
    assert main(["data", "build", "--config", str(config), "--output", str(out), "--no-progress"]) == 0
    train = list(datasets.load_dataset(str(out), "translation", split="train"))
    validation = list(datasets.load_dataset(str(out), "translation", split="validation"))
    assert len(train) + len(validation) == 6 and len(validation) == 1
    assert validation[0]["instruction"] == "Translate the following sentences from English to Thai."
    assert {r["subset"] for r in train} == {"translation_en-th"} and {r["lang"] for r in train} == {"th"}
    report = json.loads((out / "build_report.json").read_text())
    assert report["subsets"]["translation_en-th"]["wrong_script"] == 1  # "Bonne nuit." is not Thai script
    assert report["subsets"]["translation_en-th"]["copy"] == 1
    assert "| th | Thai | ไทย | tha | Thai |" in (out / "README.md").read_text(encoding="utf-8")


def test_decontamination_removes_and_reports_xquad_copy(tmp_path, shared_benchmarks):
    xquad_zh = shared_benchmarks / "xquad" / "xquad.zh.json"
    context = json.loads(xquad_zh.read_text(encoding="utf-8"))["data"][0]["paragraphs"][0]["context"]
    leaked = context.split("。")[0] + "。"
    english = "This sentence was copied from the evaluation set. "
    english = (english * (len(leaked.encode()) // len(english) // 2 + 1)).strip()  # a plausible length ratio
    rows = [{"en": "The weather is nice today and we will go to the park.", "zh": "今天天气很好，我们要去公园散步。"},
            {"en": english, "zh": leaked},
            {"en": "I read a book about the history of the city yesterday.", "zh": "我昨天读了一本关于这座城市历史的书。"}]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "coit"
    code = main(["data", "build", "--output", str(out), "--tgt-lang", "zh", "--pairs", str(pairs),
                 "--decontaminate", str(xquad_zh), "--validation-size", "0", "--no-progress"])
    assert code == 0
    kept = list(datasets.load_dataset(str(out), "translation", split="train"))
    assert [r["output"] for r in kept] == [rows[0]["zh"], rows[2]["zh"]]
    report = json.loads((out / "build_report.json").read_text())
    assert report["totals"]["contaminated"] == 1
    (removed,) = report["contaminated_rows"]
    assert removed["line"] == 2 and removed["eval_file"] == "xquad.zh.json" and removed["ngram"] in leaked.replace(" ", "")
    assert "xquad.zh.json were removed (1 rows" in (out / "README.md").read_text(encoding="utf-8")


def test_decontaminator_word_ngrams_and_short_questions():
    from coit_hf.data.decontam import DecontamConfig, Decontaminator

    index = Decontaminator(DecontamConfig(word_ngram=5, min_word_tokens=4))
    index.add_texts(["The quick brown fox jumps over the lazy dog near the river.", "Who wrote the book?",
                     "Too short"], "eval.txt")
    assert index.find("Yesterday THE quick, brown fox jumps over everything.").ngram == "the quick brown fox jumps"
    assert index.find("Tell me who wrote the book, please.").eval_file == "eval.txt"
    assert index.find("A fox jumped over a dog.") is None
    assert index.find("too short") is None


@pytest.mark.reliability
@pytest.mark.parametrize("case", ["lines", "jsonl", "language", "empty", "bytes"])
def test_cli_bad_inputs_exit_nonzero_and_leave_no_folder(tmp_path, capsys, case):
    args: list[str]
    if case == "lines":
        (tmp_path / "a.en").write_text("one\ntwo\n", encoding="utf-8")
        (tmp_path / "a.zh").write_text("一\n", encoding="utf-8")
        args, where = ["--tgt-lang", "zh", "--parallel", str(tmp_path / "a.en"), str(tmp_path / "a.zh")], "a.en, line 2"
    elif case == "jsonl":
        (tmp_path / "b.jsonl").write_text('{"en": "one", "zh": "一"}\n{"en": "two", "zh": \n', encoding="utf-8")
        args, where = ["--tgt-lang", "zh", "--pairs", str(tmp_path / "b.jsonl")], "b.jsonl, line 2"
    elif case == "language":
        config = tmp_path / "c.yaml"
        config.write_text("sources:\n  - type: alpaca\n    path: x.jsonl\n    lang: xx\n", encoding="utf-8")
        args, where = ["--config", str(config)], "c.yaml, line 4"
    elif case == "empty":
        (tmp_path / "d.jsonl").write_bytes(b"")
        args, where = ["--alpaca", f"en={tmp_path / 'd.jsonl'}"], "d.jsonl: file is empty"
    else:
        (tmp_path / "e.zh").write_bytes("一\n".encode() + b"\xc3\x28\n")
        (tmp_path / "e.en").write_text("one\ntwo\n", encoding="utf-8")
        args, where = ["--tgt-lang", "zh", "--parallel", str(tmp_path / "e.en"), str(tmp_path / "e.zh")], "e.zh, line 2"
    out = tmp_path / "out"
    code = main(["data", "build", "--output", str(out), "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert where in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
