"""Sources → normalised records: every supported format, streaming readers, errors naming file and line."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from coit_hf.data.records import normalize_text, stable_id
from coit_hf.data.sources import (
    SourceSpec,
    collect_system_pairs,
    iter_mo_entries,
    iter_po_entries,
    iter_source,
    system_catalogs,
)
from coit_hf.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures"


def write_mo(path: Path, entries: dict[str, str]) -> Path:
    """A little-endian GNU .mo catalog (header entry first, keys sorted as msgfmt does)."""
    items = sorted({"": "Content-Type: text/plain; charset=UTF-8\n", **entries}.items())
    ids = [k.encode() for k, _ in items]
    strs = [v.encode() for _, v in items]
    n = len(items)
    start = 28 + 16 * n
    offsets, blob = [], b""
    for data in ids + strs:
        offsets.append((len(data), start + len(blob)))
        blob += data + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, n, 28, 28 + 8 * n, 0, 0)
    tables = b"".join(struct.pack("<2I", *o) for o in offsets[:n]) + b"".join(struct.pack("<2I", *o) for o in offsets[n:])
    path.write_bytes(header + tables + blob)
    return path


def test_normalize_text_nfc_and_whitespace():
    decomposed = "Cafe\u0301\u00a0 au\tlait \r\n\r\n\r\n\u200bnext  line "
    assert normalize_text(decomposed) == "Caf\u00e9 au lait\n\nnext line"
    assert normalize_text(None) == ""
    assert stable_id("a", "b") == stable_id("a", "b") != stable_id("ab", "")


def test_parallel_files_and_tsv(tmp_path):
    (tmp_path / "train.en").write_text("Hello  world\nGood morning\n", encoding="utf-8")
    (tmp_path / "train.zh").write_text("你好，世界\n早上好\n", encoding="utf-8")
    pairs = list(iter_source(SourceSpec(type="parallel", paths=[str(tmp_path / "train.en"), str(tmp_path / "train.zh")],
                                        tgt_lang="zh")))
    assert [(p.src, p.tgt, p.line) for p in pairs] == [("Hello world", "你好，世界", 1), ("Good morning", "早上好", 2)]
    assert pairs[0].source == "train.en+train.zh" and pairs[0].src_lang == "en"
    (tmp_path / "pairs.tsv").write_text("id\tHi there\t嗨\n", encoding="utf-8")
    tsv = list(iter_source(SourceSpec(type="tsv", path=str(tmp_path / "pairs.tsv"), tgt_lang="zh",
                                      src_field="1", tgt_field="2")))
    assert (tsv[0].src, tsv[0].tgt) == ("Hi there", "嗨")


def test_jsonl_opus_layout_custom_fields_and_max_rows(tmp_path):
    path = tmp_path / "opus.jsonl"
    rows = [{"translation": {"en": f"Sentence {i}", "ar": f"جملة {i}"}} for i in range(5)]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    pairs = list(iter_source(SourceSpec(type="jsonl", path=str(path), tgt_lang="ar", max_rows=3)))
    assert [(p.src, p.tgt) for p in pairs] == [(f"Sentence {i}", f"جملة {i}") for i in range(3)]
    custom = tmp_path / "custom.jsonl"
    custom.write_text(json.dumps({"a": {"x": "One"}, "b": "Một"}) + "\n", encoding="utf-8")
    (pair,) = iter_source(SourceSpec(type="jsonl", path=str(custom), tgt_lang="vi", src_field="a.x", tgt_field="b"))
    assert (pair.src, pair.tgt) == ("One", "Một")


def test_alpaca_json_array_streams_and_jsonl_fixture(tmp_path):
    rows = [{"instruction": f"Task {i}", "input": "", "output": "x" * 50 + f"\n{i}"} for i in range(300)]
    path = tmp_path / "alpaca_data.json"
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    spec = SourceSpec(type="alpaca", path=str(path), lang="en")
    records = list(iter_source(spec))
    assert len(records) == 300 and records[299].instruction == "Task 299" and records[0].line == 2
    # a chunk size far below the file size exercises the incremental decoder
    from coit_hf.data.sources import iter_json_array

    assert sum(1 for _ in iter_json_array(path, chunk_size=97)) == 300
    fixture = list(iter_source(SourceSpec(type="alpaca", path=str(FIXTURES / "alpaca_zh.jsonl"), lang="zh")))
    assert len(fixture) == 26 and fixture[0].lang == "zh" and fixture[0].source == "alpaca_zh.jsonl"


def test_po_and_mo_catalogs(tmp_path):
    po = tmp_path / "app.po"
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        '#: main.c:1\nmsgid "Open file"\nmsgstr "打开文件"\n\n'
        '#, fuzzy\nmsgid "Close"\nmsgstr "关"\n\n'
        'msgctxt "menu"\nmsgid ""\n"Save "\n"as"\nmsgstr "另存为"\n\n'
        'msgid "One file"\nmsgid_plural "%d files"\nmsgstr[0] "%d 个文件"\n\n'
        'msgid "Untranslated"\nmsgstr ""\n',
        encoding="utf-8",
    )
    assert [(m, s) for _, m, s in iter_po_entries(po)] == [("Open file", "打开文件"), ("Save as", "另存为"),
                                                           ("One file", "%d 个文件")]
    mo = write_mo(tmp_path / "app.mo", {"Open file": "打开文件", "menu\x04Save": "保存", "File\x00Files": "文件\x00文件"})
    assert sorted((m, s) for _, m, s in iter_mo_entries(mo)) == [("File", "文件"), ("Open file", "打开文件"),
                                                                 ("Save", "保存")]
    pairs = list(iter_source(SourceSpec(type="mo", path=str(mo), tgt_lang="zh")))
    assert {p.tgt for p in pairs} == {"文件", "打开文件", "保存"}


def test_system_gettext_catalogs(tmp_path):
    root = tmp_path / "locale"
    for locale, entries in {"zh_CN": {"Quit": "退出"}, "zh_TW": {"Quit": "離開"}, "ar": {"Quit": "خروج"}}.items():
        (root / locale / "LC_MESSAGES").mkdir(parents=True)
        write_mo(root / locale / "LC_MESSAGES" / "app.mo", entries)
    assert [p.parent.parent.name for p in system_catalogs("zh", locale_dir=root)] == ["zh_CN", "zh_TW"]
    pairs = list(collect_system_pairs("zh", locale_dir=root))
    assert [(p.src, p.tgt, p.source) for p in pairs] == [("Quit", "退出", "gettext:zh_CN/app.mo"),
                                                         ("Quit", "離開", "gettext:zh_TW/app.mo")]
    real = system_catalogs("zh")
    if real:  # the machine's own catalogs (git, coreutils, ...) are real English→Chinese UI translations
        first = next(collect_system_pairs("zh"))
        assert first.src and first.tgt and first.src_lang == "en"


def test_tmx(tmp_path):
    tmx = tmp_path / "memory.tmx"
    tmx.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header srclang="en"/><body>\n'
        '<tu><tuv xml:lang="en-US"><seg>Good <b>day</b></seg></tuv><tuv xml:lang="tr-TR"><seg>İyi günler</seg></tuv></tu>\n'
        '<tu><tuv xml:lang="en"><seg>Only English</seg></tuv></tu>\n'
        '<tu><tuv lang="EN"><seg>Thanks</seg></tuv><tuv lang="tr"><seg>Teşekkürler</seg></tuv></tu>\n'
        "</body></tmx>\n",
        encoding="utf-8",
    )
    pairs = list(iter_source(SourceSpec(type="tmx", path=str(tmx), tgt_lang="tr")))
    assert [(p.src, p.tgt, p.line) for p in pairs] == [("Good day", "İyi günler", 1), ("Thanks", "Teşekkürler", 3)]


def test_hf_dataset_source_streaming(tmp_path):
    folder = tmp_path / "opus_like"
    folder.mkdir()
    rows = [{"translation": {"en": f"Line {i}", "el": f"Γραμμή {i}"}} for i in range(4)]
    (folder / "train.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    spec = SourceSpec(type="hf", path=str(folder), tgt_lang="el", split="train", streaming=True)
    pairs = list(iter_source(spec))
    assert [(p.src, p.tgt, p.line) for p in pairs][-1] == ("Line 3", "Γραμμή 3", 4)
    assert pairs[0].source == str(folder)


@pytest.mark.reliability
@pytest.mark.parametrize(
    ("name", "content", "line", "spec_extra"),
    [
        ("broken.jsonl", b'{"en": "a", "zh": "\xe4\xb8\x80"}\n{"en": "b", "zh": "\xe4\xba\x8c"}\n{"en": "c", "zh": \n',
         3, {"type": "jsonl", "tgt_lang": "zh"}),
        ("bytes.jsonl", b'{"en": "a", "zh": "b"}\n{"en": "\xff\xfe", "zh": "c"}\n', 2, {"type": "jsonl", "tgt_lang": "zh"}),
        ("empty.jsonl", b"", None, {"type": "jsonl", "tgt_lang": "zh"}),
        ("missing_field.jsonl", b'{"en": "a"}\n', 1, {"type": "jsonl", "tgt_lang": "zh"}),
    ],
)
def test_bad_inputs_name_file_and_line(tmp_path, name, content, line, spec_extra):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        list(iter_source(SourceSpec(path=str(path), **spec_extra)))
    assert info.value.path == str(path)
    assert info.value.line == line
    assert name in str(info.value)


@pytest.mark.reliability
def test_parallel_files_of_different_lengths(tmp_path):
    (tmp_path / "a.en").write_text("one\ntwo\nthree\n", encoding="utf-8")
    (tmp_path / "a.hi").write_text("एक\nदो\n", encoding="utf-8")
    with pytest.raises(InputError, match="different line counts") as info:
        list(iter_source(SourceSpec(type="parallel", paths=[str(tmp_path / "a.en"), str(tmp_path / "a.hi")],
                                    tgt_lang="hi")))
    assert info.value.line == 3 and info.value.path.endswith("a.en")


@pytest.mark.reliability
def test_unknown_language_code_is_an_input_error():
    with pytest.raises(InputError, match="unknown language code 'xx'"):
        SourceSpec(type="jsonl", path="x.jsonl", tgt_lang="xx")


def test_public_source_specs_for_dataset_scripts(tmp_path):
    from coit_hf.data.public_sources import alpaca_source, news_commentary_source, wikimatrix_source

    nc = news_commentary_source("zh", max_rows=10)
    assert (nc.type, nc.name, nc.src_lang, nc.tgt_lang, nc.streaming) == ("hf", "en-zh", "en", "zh", True)
    assert news_commentary_source("ar").name == "ar-en"  # OPUS configs are alphabetical pairs
    wm = wikimatrix_source("hi")
    assert (wm.name, wm.src_field, wm.tgt_field) == ("en-hi", "english", "non_english")
    local = alpaca_source("zh", str(FIXTURES / "alpaca_zh.jsonl"))
    assert local.type == "alpaca" and len(list(iter_source(local))) == 26
    hub = alpaca_source("vi", "someone/alpaca-vi")
    assert (hub.type, hub.kind, hub.lang, hub.subset) == ("hf", "instruction", "vi", "alpaca_vi")
