"""Reliability of the data room: bad inputs to `coit-hf data build|mixture|push` fail with a message naming the
file / line / field, exit 2 without a traceback (unless --debug), and leave nothing half-written; a full disk is
reported cleanly; a byte-order mark is accepted."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import datasets
import pytest

from coit_hf.cli import main

pytestmark = pytest.mark.reliability

FIXTURES = Path(__file__).parent / "fixtures"

PAIRS = [("The weather is nice today.", "今天天气很好。"), ("I like reading books.", "我喜欢读书。"),
         ("Where is the station?", "车站在哪里？"), ("Thank you very much.", "非常感谢。")]


def _pairs_jsonl(path: Path, rows: list[tuple[str, str]] = PAIRS) -> Path:
    path.write_text("".join(json.dumps({"en": en, "zh": zh}, ensure_ascii=False) + "\n" for en, zh in rows),
                    encoding="utf-8")
    return path


def _yaml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _good_source(tmp: Path) -> str:
    return f"  - {{type: jsonl, path: {_pairs_jsonl(tmp / 'good.jsonl')}, tgt_lang: zh}}\n"


# Each case writes its inputs under the given folder and returns (build arguments, fragments the message must hold).
Case = Callable[[Path], tuple[list[str], list[str]]]


def _broken_jsonl(t: Path):
    path = t / "pairs.jsonl"
    path.write_text('{"en": "One.", "zh": "一。"}\n{"en": "Two.", "zh": "二。"}\n{"en": "Three", "zh": \n',
                    encoding="utf-8")
    return ["--tgt-lang", "zh", "--pairs", str(path)], ["pairs.jsonl, line 3", "broken JSON"]


def _latin1(t: Path):
    (t / "a.en").write_text("Coffee.\nA cafe.\n", encoding="utf-8")
    (t / "a.zh").write_bytes("咖啡。\n".encode() + b"caf\xe9\n")
    return ["--tgt-lang", "zh", "--parallel", str(t / "a.en"), str(t / "a.zh")], ["a.zh, line 2", "UTF-8"]


def _lengths(t: Path):
    (t / "b.en").write_text("One.\nTwo.\nThree.\n", encoding="utf-8")
    (t / "b.zh").write_text("一。\n二。\n", encoding="utf-8")
    return ["--tgt-lang", "zh", "--parallel", str(t / "b.en"), str(t / "b.zh")], ["line 3", "different line counts"]


def _empty_file(t: Path):
    (t / "empty.jsonl").write_bytes(b"")
    return ["--alpaca", f"en={t / 'empty.jsonl'}"], ["empty.jsonl", "file is empty"]


def _blank_lines_only(t: Path):
    (t / "blank.jsonl").write_text("\n\n  \n", encoding="utf-8")
    return ["--tgt-lang", "zh", "--pairs", str(t / "blank.jsonl")], ["blank.jsonl", "every row was filtered out"]


def _all_filtered(t: Path):
    rows = [("Hello.", "Hello."), ("", "空"), ("Good.", "Good.")]  # copies and an empty side
    return ["--tgt-lang", "zh", "--pairs", str(_pairs_jsonl(t / "copies.jsonl", rows))], [
        "copies.jsonl", "every row was filtered out", "3 read", "copy 2", "empty 1"]


def _unknown_language_yaml(t: Path):
    config = _yaml(t / "c.yaml", f"sources:\n{_good_source(t)}  - type: alpaca\n    path: x.jsonl\n    lang: xx\n")
    return ["--config", str(config)], ["c.yaml, line 5, field 'lang'", "unknown language code 'xx'"]


def _unknown_language_flag(t: Path):
    return ["--tgt-lang", "qq", "--pairs", str(_pairs_jsonl(t / "p.jsonl"))], ["field 'tgt_lang'", "'qq'"]


def _unknown_key(t: Path):
    config = _yaml(t / "k.yaml", f"name: x\nsourcse:\n{_good_source(t)}")
    return ["--config", str(config)], ["k.yaml, line 2, field 'sourcse'", "unknown key"]


def _mistyped_source_key(t: Path):
    config = _yaml(t / "s.yaml", f"sources:\n  - type: jsonl\n    path: {t / 'p.jsonl'}\n    tgt_lnag: zh\n")
    return ["--config", str(config)], ["s.yaml, line 4, field 'tgt_lnag'", "unknown source key"]


def _mistyped_quality_key(t: Path):
    config = _yaml(t / "q.yaml", f"quality:\n  max_char: 10\nsources:\n{_good_source(t)}")
    return ["--config", str(config)], ["q.yaml, line 2, field 'quality.max_char'"]


def _wrong_type_top(t: Path):
    config = _yaml(t / "v.yaml", f"validation_size: ten\nsources:\n{_good_source(t)}")
    return ["--config", str(config)], ["v.yaml, line 1, field 'validation_size'", "got str 'ten'"]


def _wrong_type_quality(t: Path):
    config = _yaml(t / "w.yaml", f"quality: {{max_chars: lots}}\nsources:\n{_good_source(t)}")
    return ["--config", str(config)], ["w.yaml, line 1, field 'quality.max_chars'", "must be an integer"]


def _wrong_type_source(t: Path):
    config = _yaml(t / "m.yaml", f"sources:\n  - {{type: jsonl, path: {t / 'p.jsonl'}, tgt_lang: zh, max_rows: '5'}}\n")
    return ["--config", str(config)], ["m.yaml, line 2, field 'max_rows'", "got str '5'"]


def _bad_value(t: Path):
    config = _yaml(t / "d.yaml", f"direction: zh-en\nsources:\n{_good_source(t)}")
    return ["--config", str(config)], ["d.yaml, line 1, field 'direction'", "en-x"]


def _yaml_syntax(t: Path):
    config = _yaml(t / "y.yaml", "name: x\nsources:\n  - {type: jsonl, path: [unclosed\n")
    return ["--config", str(config)], ["y.yaml, line ", "cannot parse YAML"]


def _yaml_latin1(t: Path):
    (t / "l.yaml").write_bytes(b"name: caf\xe9\nsources: []\n")
    return ["--config", str(t / "l.yaml")], ["l.yaml, line 1", "UTF-8"]


def _missing_file(t: Path):
    return ["--tgt-lang", "zh", "--pairs", str(t / "nowhere.jsonl")], ["nowhere.jsonl", "file not found"]


def _missing_field(t: Path):
    (t / "alpaca.jsonl").write_text('{"instruction": "Hi", "input": "", "output": "Hello"}\n'
                                    '{"instruction": "Bye", "input": ""}\n', encoding="utf-8")
    return ["--alpaca", f"en={t / 'alpaca.jsonl'}"], ["alpaca.jsonl, line 2, field 'output'"]


def _wrong_type_row(t: Path):
    (t / "alpaca.jsonl").write_text('{"instruction": "Hi", "input": "", "output": ["Hello"]}\n', encoding="utf-8")
    return ["--alpaca", f"en={t / 'alpaca.jsonl'}"], ["alpaca.jsonl, line 1", "expected text, got list"]


def _json_not_closed(t: Path):
    (t / "alpaca.json").write_text('[\n {"instruction": "Hi", "input": "", "output": "Hello"},\n', encoding="utf-8")
    return ["--alpaca", f"en={t / 'alpaca.json'}"], ["alpaca.json, line ", "not closed"]


def _tsv_columns(t: Path):
    (t / "p.tsv").write_text("One.\t一。\nTwo only\n", encoding="utf-8")
    return ["--tgt-lang", "zh", "--pairs", str(t / "p.tsv")], ["p.tsv, line 2", "tab-separated columns"]


def _unknown_source_type(t: Path):
    config = _yaml(t / "u.yaml", "sources:\n  - {type: csv, path: p.csv, tgt_lang: zh}\n")
    return ["--config", str(config)], ["u.yaml, field 'type'", "unknown source type 'csv'"]


def _broken_tmx(t: Path):
    (t / "p.tmx").write_text('<tmx><body>\n<tu><tuv xml:lang="en"><seg>Hi</seg></tuv>\n<tu>\n</body></tmx>\n',
                             encoding="utf-8")
    return ["--tgt-lang", "zh", "--pairs", str(t / "p.tmx")], ["p.tmx, line ", "broken TMX"]


def _broken_po(t: Path):
    (t / "p.po").write_text('msgid "Open"\nmsgstr "打开"\n\nmsgfoo "x"\n', encoding="utf-8")
    return ["--tgt-lang", "zh", "--pairs", str(t / "p.po")], ["p.po, line 4", "unknown PO keyword"]


def _unknown_extension(t: Path):
    (t / "p.txt").write_text("x\n", encoding="utf-8")
    return ["--tgt-lang", "zh", "--pairs", str(t / "p.txt")], ["cannot tell the format of", "p.txt"]


def _missing_decontam_file(t: Path):
    return ["--tgt-lang", "zh", "--pairs", str(_pairs_jsonl(t / "p.jsonl")), "--decontaminate",
            str(t / "xquad.missing.json")], ["xquad.missing.json", "not found"]


def _broken_languages_file(t: Path):
    lang = _yaml(t / "lang.yaml", "- code: qq\n  name: Qq\n")
    return ["--languages-file", str(lang), "--alpaca", f"en={t / 'a.jsonl'}"], ["lang.yaml, field 'iso639_3'",
                                                                                "lacks required field"]


def _bad_articles_regex(t: Path):
    lang = _yaml(t / "lang.yaml", "- {code: qq, name: Qq, native_name: Qq, iso639_3: qqq, iso639_3_name: Qq, "
                                  "scripts: [Latin], articles: '(the|a'}\n")
    return ["--languages-file", str(lang), "--alpaca", f"qq={t / 'a.jsonl'}"], ["lang.yaml, field 'articles'",
                                                                                "not a valid regular expression"]


def _config_missing(t: Path):
    return ["--config", str(t / "nope.yaml")], ["nope.yaml", "build config not found"]


BUILD_CASES: dict[str, Case] = {
    "malformed-jsonl-line": _broken_jsonl, "latin1-bytes": _latin1, "parallel-length-mismatch": _lengths,
    "empty-source": _empty_file, "blank-lines-only": _blank_lines_only, "every-row-filtered": _all_filtered,
    "unknown-language-in-yaml": _unknown_language_yaml, "unknown-language-flag": _unknown_language_flag,
    "unknown-yaml-key": _unknown_key, "mistyped-source-key": _mistyped_source_key,
    "mistyped-quality-key": _mistyped_quality_key, "wrong-type-top-level": _wrong_type_top,
    "wrong-type-quality": _wrong_type_quality, "wrong-type-source": _wrong_type_source, "bad-enum-value": _bad_value,
    "yaml-syntax-error": _yaml_syntax, "latin1-yaml": _yaml_latin1, "missing-source-file": _missing_file,
    "row-lacks-field": _missing_field, "row-field-wrong-type": _wrong_type_row, "json-array-not-closed": _json_not_closed,
    "tsv-too-few-columns": _tsv_columns, "unknown-source-type": _unknown_source_type, "broken-tmx": _broken_tmx,
    "broken-po": _broken_po, "unknown-pairs-extension": _unknown_extension,
    "missing-decontamination-file": _missing_decontam_file, "broken-languages-file": _broken_languages_file,
    "missing-build-config": _config_missing, "bad-articles-regex-in-languages-file": _bad_articles_regex,
}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.name.endswith((".tmp", ".part")))


@pytest.mark.parametrize("case", sorted(BUILD_CASES))
def test_bad_build_input_names_the_place_and_writes_nothing(tmp_path, capsys, case):
    args, fragments = BUILD_CASES[case](tmp_path)
    out = tmp_path / "out"
    code = main(["data", "build", "--output", str(out), "--no-progress", *args])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.err.startswith("coit-hf data: error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    for fragment in fragments:
        assert fragment in captured.err, (fragment, captured.err)
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_output_folder_that_exists_is_kept(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    code = main(["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--pairs",
                 str(_pairs_jsonl(tmp_path / "p.jsonl"))])
    assert code == 2 and "pass --overwrite" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_byte_order_mark_is_accepted_and_dropped(tmp_path, capsys):
    text = "".join(json.dumps({"en": en, "zh": zh}, ensure_ascii=False) + "\n" for en, zh in PAIRS)
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp_path / "bom.en").write_bytes(b"\xef\xbb\xbf" + "".join(en + "\r\n" for en, _ in PAIRS).encode())
    (tmp_path / "bom.zh").write_bytes(b"\xef\xbb\xbf" + "".join(zh + "\r\n" for _, zh in PAIRS).encode())
    config = tmp_path / "bom.yaml"
    config.write_bytes(b"\xef\xbb\xbf" + b"name: bom\nvalidation_size: 0\nsources:\n"
                       b"  - {type: jsonl, path: bom.jsonl, tgt_lang: zh, display_name: a}\n"
                       b"  - {type: parallel, paths: [bom.en, bom.zh], tgt_lang: zh, display_name: b}\n")
    out = tmp_path / "out"
    assert main(["data", "build", "--config", str(config), "--output", str(out), "--no-progress"]) == 0
    rows = list(datasets.load_dataset(str(out), "translation", split="train"))
    assert sorted({(r["input"], r["output"]) for r in rows}) == sorted(set(PAIRS))
    assert not any("\ufeff" in r["input"] + r["output"] + r["instruction"] for r in rows)
    report = json.loads((out / "build_report.json").read_text(encoding="utf-8"))
    assert report["totals"]["duplicate"] == len(PAIRS)  # the two sources hold the same pairs: BOM and CR gone


# ------------------------------------------------------------------------------------------------ full disk
def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["parquet", "card", "report"])
def test_full_disk_during_build_is_reported_and_leaves_nothing(tmp_path, capsys, monkeypatch, where):
    import pyarrow.parquet as pq

    from coit_hf.data import build

    if where == "parquet":
        monkeypatch.setattr(pq.ParquetWriter, "write_table", _enospc)
    elif where == "card":
        monkeypatch.setattr("coit_hf.data.card.write_dataset_card", _enospc)
    else:
        real_dump = json.dump

        def dump(obj, handle, *args, **kwargs):  # the report's temp file: half of it reaches the disk, then it is full
            if build.REPORT_FILE in Path(handle.name).name:
                handle.write('{"totals": ')
                _enospc()
            return real_dump(obj, handle, *args, **kwargs)

        monkeypatch.setattr(json, "dump", dump)
    out = tmp_path / "out"
    code = main(["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--pairs",
                 str(_pairs_jsonl(tmp_path / "p.jsonl"))])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "No space left on device" in err and str(out) in err and "Traceback" not in err
    assert not out.exists() and _leftovers(tmp_path) == []


def test_full_disk_on_rebuild_keeps_the_previous_corpus(tmp_path, capsys, monkeypatch):
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    args = ["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--validation-size", "1",
            "--pairs", str(_pairs_jsonl(tmp_path / "p.jsonl"))]
    assert main(args) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    monkeypatch.setattr(pq.ParquetWriter, "write_table", _enospc)
    assert main([*args, "--overwrite"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert _leftovers(tmp_path) == []


def test_full_disk_writing_a_mixture_file(tmp_path, capsys, monkeypatch):
    out = tmp_path / "corpus"
    assert main(["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--validation-size", "1",
                 "--pairs", str(_pairs_jsonl(tmp_path / "p.jsonl"))]) == 0
    real_write_text = Path.write_text

    def write_text(self, data, *args, **kwargs):  # the disk fills up half-way through the file
        real_write_text(self, data[: len(data) // 2], *args, **kwargs)
        _enospc()

    monkeypatch.setattr(Path, "write_text", write_text)
    target = tmp_path / "mixes" / "mix.yaml"
    code = main(["data", "mixture", "translation_en-zh[:2]", "--corpus", str(out), "--write-yaml", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and "mix.yaml" in err and "Traceback" not in err
    assert list(target.parent.iterdir()) == []


# ------------------------------------------------------------------------------------------------ mixtures
@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    out = root / "coit-zh"
    code = main(["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--validation-size", "1",
                 "--pairs", str(_pairs_jsonl(root / "p.jsonl")), "--alpaca", f"en={FIXTURES / 'alpaca_en.jsonl'}"])
    assert code == 0
    return out


MIXTURES = {
    "unknown-key": ("seed: 1\nsplits: [train]\ndatasets:\n  - {path: CORPUS, name: translation}\n",
                    ["line 2, field 'splits'", "unknown key"]),
    "mistyped-dataset-key": ("datasets:\n  - {path: CORPUS, name: translation, splt: train}\n",
                             ["line 2, field 'datasets[0].splt'"]),
    "wrong-type": ("seed: abc\ndatasets:\n  - {path: CORPUS, name: translation}\n", ["line 1, field 'seed'"]),
    "wrong-type-rows": ("datasets:\n  - {path: CORPUS, name: translation, num_rows: many}\n",
                        ["field 'datasets[0].num_rows'", "got str 'many'"]),
    "missing-split": ("datasets:\n  - {path: CORPUS, name: translation, split: test}\n",
                      ["coit-zh: cannot load translation/test", "Unknown split"]),
    "missing-config": ("datasets:\n  - {path: CORPUS, name: nope}\n", ["coit-zh: cannot load nope/train"]),
    "subset-without-rows": ("datasets:\n  - {path: CORPUS, name: translation, subset: translation_en-ar}\n",
                            ["coit-zh, field 'subset'", "no rows with subset 'translation_en-ar'"]),
    "no-datasets-list": ("seed: 1\n", ["field 'datasets'"]),
}


@pytest.mark.parametrize("case", sorted(MIXTURES))
def test_bad_mixture_names_the_place(tmp_path, capsys, corpus, case):
    text, fragments = MIXTURES[case]
    spec = tmp_path / "mix.yaml"
    spec.write_text(text.replace("CORPUS", str(corpus)), encoding="utf-8")
    code = main(["data", "mixture", str(spec)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def test_bad_mixture_shorthand(capsys, corpus):
    assert main(["data", "mixture", "translation_en-zh[:x]+alpaca_en", "--corpus", str(corpus)]) == 2
    assert "cannot parse mixture item 'translation_en-zh[:x]'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ push
def test_push_with_a_bad_repo_id(capsys, corpus, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_reliability_tests")
    assert main(["data", "push", str(corpus), "--repo", "not a//repo id"]) == 2
    err = capsys.readouterr().err
    assert "field 'repo'" in err and "bad repo id 'not a//repo id'" in err and "Traceback" not in err


def test_push_without_a_token_fails_before_any_request(capsys, corpus, hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setenv("HF_HOME", str(corpus.parent / "no-login-home"))  # no stored login either
    before = len(hub.server.log)
    assert main(["data", "push", str(corpus), "--repo", hub.repo_id("coit")]) == 2
    err = capsys.readouterr().err
    assert "needs a Hugging Face token" in err and "HF_TOKEN" in err and "Traceback" not in err
    assert hub.server.log[before:] == []
    assert ("dataset", hub.repo_id("coit")) not in hub.server.repos


def test_push_of_a_folder_that_is_not_a_corpus(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_reliability_tests")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "README.md").write_text("---\nconfigs:\n---\n", encoding="utf-8")
    assert main(["data", "push", str(tmp_path / "half"), "--repo", "user/coit"]) == 2
    assert "no Parquet files for translation/train" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ CLI process
def test_cli_process_exits_2_without_traceback_and_debug_shows_it(tmp_path):
    args, _ = _broken_jsonl(tmp_path)
    command = [sys.executable, "-m", "coit_hf.cli"]
    plain = subprocess.run([*command, "data", "build", "--output", str(tmp_path / "o"), "--no-progress", *args],
                           capture_output=True, text=True, timeout=300)
    assert plain.returncode == 2
    assert "pairs.jsonl, line 3" in plain.stderr and "Traceback" not in plain.stderr
    debug = subprocess.run([*command, "--debug", "data", "build", "--output", str(tmp_path / "o"), "--no-progress",
                            *args], capture_output=True, text=True, timeout=300)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "InputError" in debug.stderr
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------------------ build output rules
def _build(out: Path, source: Path, *extra: str) -> list[str]:
    return ["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--pairs", str(source), *extra]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _output_is_a_file(t: Path, source: Path) -> tuple[Path, list[str]]:
    out = t / "corpus.txt"
    out.write_text("my notes", encoding="utf-8")
    return out, ["is a file, not a folder"]


def _output_is_the_input(t: Path, source: Path) -> tuple[Path, list[str]]:
    return source, ["is or contains the build's input"]


def _output_holds_the_input(t: Path, source: Path) -> tuple[Path, list[str]]:
    return source.parent, ["is or contains the build's input"]


def _output_is_a_foreign_folder(t: Path, source: Path) -> tuple[Path, list[str]]:
    out = t / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    return out, ["is not a coit-hf corpus"]


def _corpus_with_a_foreign_file(t: Path, source: Path) -> tuple[Path, list[str]]:
    out = t / "built"
    assert main(_build(out, source)) == 0
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    return out, ["holds files a build did not write (notes.txt)"]


def _corpus_holding_the_input(t: Path, source: Path) -> tuple[Path, list[str]]:
    out = t / "built"
    assert main(_build(out, source)) == 0
    moved = out / "translation" / "pairs.parquet"  # an input stored inside the corpus folder
    moved.write_bytes(b"PAR1")
    return out, ["holds files a build did not write"]


OUTPUT_CASES = {
    "output-is-a-file": _output_is_a_file, "output-is-the-input-file": _output_is_the_input,
    "output-holds-the-input": _output_holds_the_input, "output-is-a-foreign-folder": _output_is_a_foreign_folder,
    "corpus-with-a-foreign-file": _corpus_with_a_foreign_file, "corpus-holding-another-file": _corpus_holding_the_input,
}


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("case", sorted(OUTPUT_CASES))
def test_overwrite_never_replaces_what_a_build_did_not_write(tmp_path, capsys, case, overwrite):
    source = _pairs_jsonl((tmp_path / "in").mkdir() or tmp_path / "in" / "p.jsonl")
    out, fragments = OUTPUT_CASES[case](tmp_path, source)
    capsys.readouterr()
    before = _tree(out) if out.is_dir() else out.read_bytes()
    code = main(_build(out, source, *(["--overwrite"] if overwrite else [])))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    if overwrite or case in ("output-is-a-file", "output-is-the-input-file", "output-holds-the-input"):
        for fragment in fragments:
            assert fragment in err, (fragment, err)
    else:
        assert "pass --overwrite" in err or "input" in err, err
    assert (_tree(out) if out.is_dir() else out.read_bytes()) == before
    assert source.is_file()
    assert _leftovers(tmp_path) == [] and _leftovers(source.parent) == []


def test_overwrite_of_a_corpus_replaces_it_whole_and_an_empty_folder_needs_no_flag(tmp_path, capsys):
    out = tmp_path / "corpus"
    out.mkdir()
    assert main(_build(out, _pairs_jsonl(tmp_path / "a.jsonl", PAIRS[:2]), "--validation-size", "0")) == 0
    first = _tree(out)
    assert main(_build(out, _pairs_jsonl(tmp_path / "b.jsonl", PAIRS[2:]), "--validation-size", "0",
                       "--overwrite")) == 0
    second = _tree(out)
    assert not set(first) & set(second) - {".coit-hf-corpus", "README.md", "build_report.json"}
    rows = datasets.load_dataset(str(out), "translation", split="train")  # plain load_dataset, as the card says
    assert sorted(rows["input"]) == sorted(en for en, _ in PAIRS[2:])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl", "corpus"]


def test_a_legacy_corpus_without_marker_can_be_overwritten(tmp_path, capsys):
    out = tmp_path / "corpus"
    source = _pairs_jsonl(tmp_path / "p.jsonl")
    assert main(_build(out, source)) == 0
    (out / ".coit-hf-corpus").unlink()
    assert main(_build(out, source, "--overwrite")) == 0
    assert (out / ".coit-hf-corpus").is_file()


def test_corpus_folders_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        assert main(_build(tmp_path / "corpus", _pairs_jsonl(tmp_path / "p.jsonl"))) == 0
    finally:
        os.umask(old)
    for path in [tmp_path / "corpus", *(tmp_path / "corpus").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))


# ------------------------------------------------------------------------------------------------ validation size
@pytest.mark.parametrize("size", ["inf", "-inf", "nan", "-1", "1.5", "1e400"])
def test_validation_size_that_is_not_a_fraction_or_count(tmp_path, capsys, size):
    out = tmp_path / "out"
    assert main(_build(out, _pairs_jsonl(tmp_path / "p.jsonl"), f"--validation-size={size}")) == 2
    err = capsys.readouterr().err
    assert "validation_size" in err and "Traceback" not in err
    assert not out.exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("text", ["validation_size: .nan", "validation_size: .inf", "validation_size: 2.5",
                                  "validation_size: -0.1", "validation_size: yes"])
def test_validation_size_in_yaml_names_the_line(tmp_path, capsys, text):
    config = _yaml(tmp_path / "c.yaml", f"name: x\n{text}\nsources:\n{_good_source(tmp_path)}")
    assert main(["data", "build", "--config", str(config), "--output", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "c.yaml, line 2" in err and "validation_size" in err, err


@pytest.mark.parametrize("size", ["4", "5", "100"])
def test_validation_count_that_takes_every_row_is_an_error(tmp_path, capsys, size):
    out = tmp_path / "out"
    assert main(_build(out, _pairs_jsonl(tmp_path / "p.jsonl"), "--validation-size", size)) == 2
    err = capsys.readouterr().err
    assert "leaving no training rows" in err and "translation_en-zh" in err
    assert not out.exists() and _leftovers(tmp_path) == []


def test_validation_size_zero_declares_no_empty_split(tmp_path):
    out = tmp_path / "out"
    assert main(_build(out, _pairs_jsonl(tmp_path / "p.jsonl"), "--validation-size", "0")) == 0
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "split: validation" not in card and "config_name: general" not in card
    for config in ("translation", "all"):
        loaded = datasets.load_dataset(str(out), config)
        assert list(loaded) == ["train"] and loaded["train"].num_rows == len(PAIRS)


# ------------------------------------------------------------------------------------------------ degenerate input
def test_same_source_and_target_language(tmp_path, capsys):
    assert main(["data", "build", "--output", str(tmp_path / "o"), "--no-progress", "--src-lang", "en",
                 "--tgt-lang", "en", "--pairs", str(_pairs_jsonl(tmp_path / "p.jsonl"))]) == 2
    assert "src_lang and tgt_lang are both 'en'" in capsys.readouterr().err
    config = _yaml(tmp_path / "c.yaml", f"sources:\n  - {{type: jsonl, path: {tmp_path / 'p.jsonl'}, src_lang: zh, "
                   "tgt_lang: zh}\n")
    assert main(["data", "build", "--config", str(config), "--output", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "c.yaml" in err and "both 'zh'" in err and not (tmp_path / "o").exists()


def test_nul_and_control_bytes_never_reach_the_corpus(tmp_path):
    rows = [("Hello\x00 world, nice day.", "你好\x00世界。"), ("Bell\x07 and tab\there.", "铃\x1b声。")]
    (tmp_path / "n.en").write_bytes("".join(en + "\n" for en, _ in rows).encode())
    (tmp_path / "n.zh").write_bytes("".join(zh + "\n" for _, zh in rows).encode())
    out = tmp_path / "out"
    assert main(["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--validation-size", "0",
                 "--parallel", str(tmp_path / "n.en"), str(tmp_path / "n.zh"),
                 "--pairs", str(_pairs_jsonl(tmp_path / "j.jsonl", rows))]) == 0
    loaded = datasets.load_dataset(str(out), "all", split="train")
    texts = [r["input"] + r["output"] + r["instruction"] for r in loaded]
    assert texts and not any(ch in text for text in texts for ch in "\x00\x07\x1b")
    assert "Hello world, nice day." in loaded["input"]


@pytest.mark.parametrize("body,fragment", [
    ('<tu><tuv><seg>Hello there.</seg></tuv><tuv><seg>你好。</seg></tuv></tu>', "no <tuv> has an xml:lang"),
    ('<tu><tuv xml:lang="fr"><seg>Bonjour.</seg></tuv><tuv xml:lang="de"><seg>Hallo.</seg></tuv></tu>',
     "xml:lang values found are ['de', 'fr']"),
])
def test_tmx_without_the_languages_says_so(tmp_path, capsys, body, fragment):
    tmx = tmp_path / "m.tmx"
    tmx.write_text(f'<?xml version="1.0"?><tmx version="1.4"><header/><body>{body}</body></tmx>', encoding="utf-8")
    assert main(_build(tmp_path / "out", tmx)) == 2
    err = capsys.readouterr().err
    assert "m.tmx" in err and fragment in err and "filtered out" not in err, err


@pytest.mark.parametrize("flag", ["--pairs", "--parallel", "--alpaca", "--decontaminate", "yaml-path",
                                  "yaml-paths"])
def test_a_folder_where_a_file_is_expected(tmp_path, capsys, flag):
    folder = tmp_path / "data.jsonl"
    folder.mkdir()
    good = _pairs_jsonl(tmp_path / "p.jsonl")
    args = {"--pairs": ["--tgt-lang", "zh", "--pairs", str(folder)],
            "--parallel": ["--tgt-lang", "zh", "--parallel", str(good), str(folder)],
            "--alpaca": ["--alpaca", f"en={folder}"],
            "--decontaminate": ["--tgt-lang", "zh", "--pairs", str(good), "--decontaminate", str(folder)]}.get(flag)
    if args is None:
        entry = (f"{{type: jsonl, path: {folder}, tgt_lang: zh}}" if flag == "yaml-path"
                 else f"{{type: parallel, paths: [{good}, {folder}], tgt_lang: zh}}")
        args = ["--config", str(_yaml(tmp_path / "c.yaml", f"sources:\n  - {entry}\n"))]
    assert main(["data", "build", "--output", str(tmp_path / "out"), "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert "data.jsonl: is a directory" in err and "not found" not in err, err
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []
