"""What a Hub user sees in a model card: model-index from the evaluation's data sources (round trip through the Hub
client and the loopback Hub's metadata check), datasets by Hub id, no machine paths, no NaN, images that are images."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from coit_hf.data.card import set_dataset_repo_id
from coit_hf.errors import InputError
from coit_hf.hub.cards import CardAttachment, CardInfo, read_card_info, update_model_card, write_model_card
from coit_hf.hub.model_index import build_model_index
from coit_hf.published import public_name

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
RESULTS = {
    "model": "org/x-tiny-zh", "prompt_format": "paper", "max_samples": None, "metadata": {}, "versions": {},
    "notes": [],
    "tasks": {"coit_xquad:zh": {"substring": 41.5, "exact_match": 30.25, "f1": 44.0, "n": 1190},
              "coit_flores101:en-zh": {"chrf++": 20.5, "bleu": 8.75, "n": 1012},
              "coit_flores101:zh-en": {"chrf++": 30.5, "n": 1012}},
    "data_sources": {
        "coit_xquad:zh": {"family": "xquad", "benchmark": "xquad", "repo": "google/xquad", "revision": "main",
                          "commit": "a" * 40, "config": "xquad.zh", "split": "validation", "rows": 1190,
                          "files": [{"path": "xquad.zh/validation-00000-of-00001.parquet", "sha256": "b" * 64}],
                          "local": None},
        "coit_flores101:en-zh": {"family": "flores101", "benchmark": "flores101", "repo": "gsarti/flores_101",
                                 "revision": "refs/convert/parquet", "commit": None, "config": "all",
                                 "split": "devtest", "rows": 1012, "files": [], "local": None},
        "coit_flores101:zh-en": {"family": "flores101", "benchmark": "flores101", "repo": None, "revision": None,
                                 "commit": None, "config": None, "split": "devtest", "rows": 1012, "files": [],
                                 "local": "flores101_dataset"},
    },
}


def _info(**kw) -> CardInfo:
    base = dict(model_name="x-tiny-zh", base_model="org/tiny-llama", languages=["zh"],
                datasets=[{"path": "org/coit-zh", "name": "all", "subset": "translation_en-zh", "rows": 27}],
                repo_id="org/x-tiny-zh")
    return CardInfo(**{**base, **kw})


def test_model_index_round_trips_through_the_hub_client(tmp_path: Path):
    path = write_model_card(_info(eval_results=RESULTS), tmp_path / "model")
    card = ModelCard.load(path)
    expected = build_model_index(RESULTS, source_url="https://huggingface.co/org/x-tiny-zh").results
    assert card.data.eval_results == expected and len(expected) == 5
    by_metric = {r.metric_name: r for r in card.data.eval_results}
    f1 = by_metric["F1 (SQuAD) (zh)"]
    assert (f1.task_type, f1.dataset_type, f1.dataset_config, f1.dataset_split, f1.dataset_revision,
            f1.metric_value) == ("question-answering", "google/xquad", "xquad.zh", "validation", "a" * 40, 44.0)
    chrf = by_metric["chrF++ (en-zh)"]
    assert (chrf.task_type, chrf.dataset_type, chrf.dataset_revision, chrf.metric_type) == (
        "translation", "gsarti/flores_101", "refs/convert/parquet", "chrf")
    assert {r.source_name for r in card.data.eval_results} == {"coit-hf"}
    # The local source without a Hub id is not given an invented one: it is named in the body instead.
    assert not any("zh-en" in (r.metric_name or "") for r in card.data.eval_results)
    assert "coit_flores101:zh-en (local data without a Hub id)" in card.text
    assert card.data.datasets == ["org/coit-zh"] and card.data.model_name == "x-tiny-zh"
    # The body names each task's data: Hub repo at the commit read (or the revision), else the local files.
    assert "| coit_xquad:zh | xquad | `google/xquad@aaaaaaaaaaaa` | xquad.zh | validation | 1190 |" in card.text
    assert "`gsarti/flores_101@refs/convert/parquet`" in card.text
    assert "| coit_flores101:zh-en | flores101 | `local: flores101_dataset` |" in card.text


def test_results_without_data_sources_give_no_model_index_but_keep_the_table(tmp_path: Path):
    old = {k: v for k, v in RESULTS.items() if k != "data_sources"}
    card = ModelCard.load(write_model_card(_info(eval_results=old), tmp_path / "model"))
    assert card.data.eval_results is None and "model-index" not in card.content.split("---")[1]
    assert "| coit_xquad:zh | 41.50 |" in card.text and "no data source recorded" in card.text


def test_nan_score_is_n_a_in_the_table_and_absent_from_model_index(tmp_path: Path, caplog):
    results = json.loads(json.dumps(RESULTS))
    results["tasks"]["coit_xquad:zh"]["f1"] = math.nan
    with caplog.at_level(logging.WARNING):
        path = write_model_card(_info(eval_results=results), tmp_path / "model")
    text = path.read_text(encoding="utf-8")
    assert "nan" not in text.lower() and "n/a" in text
    assert "coit_xquad:zh/f1" in caplog.text
    metrics = {r.metric_name for r in ModelCard.load(path).data.eval_results}
    assert "F1 (SQuAD) (zh)" not in metrics and "Exact match (SQuAD) (zh)" in metrics


def test_local_folders_are_named_by_their_hub_id_or_name_never_their_path(tmp_path: Path):
    corpus = tmp_path / "corpora" / "coit-zh"
    corpus.mkdir(parents=True)
    (corpus / "build_report.json").write_text(json.dumps({"name": "coit-zh", "sources": [], "subsets": {},
                                                          "totals": {"train": 1, "validation": 0}}))
    unpublished = tmp_path / "corpora" / "scratch-corpus"
    unpublished.mkdir()
    assert public_name(str(corpus)) == "coit-zh" and public_name("org/coit-zh") == "org/coit-zh"
    (corpus / "build_report.json").write_text(json.dumps({"name": "coit-zh", "repo_id": "org/coit-zh"}))
    assert public_name(str(corpus)) == "org/coit-zh"
    results = {**RESULTS, "model": str(tmp_path / "work" / "tuned-merged")}
    info = _info(datasets=[{"path": str(corpus), "name": "translation", "subset": "translation_en-zh", "rows": 5},
                           {"path": str(unpublished), "name": "general", "subset": "alpaca_en", "rows": 3}],
                 eval_results=results)
    folder = write_model_card(info, tmp_path / "model").parent
    for name in ("README.md", "coit_card.json"):
        text = (folder / name).read_text(encoding="utf-8")
        assert str(tmp_path) not in text, name
    card = ModelCard.load(folder / "README.md")
    assert card.data.datasets == ["org/coit-zh"]  # a bare folder name is not a Hub id
    assert "| org/coit-zh | translation |" in card.text and "| scratch-corpus | general |" in card.text
    assert "model `tuned-merged`" in card.text
    assert "https://github.com/)" not in card.text and "](#)" not in card.text


def test_dataset_card_loading_example_names_the_repo_id(tmp_path: Path):
    from coit_hf.data.build import BuildConfig, build_corpus

    source = tmp_path / "alpaca.jsonl"
    source.write_text("".join(json.dumps({"instruction": f"Say {i} things please", "input": "",
                                          "output": f"Here are {i} things for you"}) + "\n" for i in range(12)))
    folder = tmp_path / "coit-en"
    build_corpus(BuildConfig(sources=[{"type": "alpaca", "lang": "en", "path": str(source)}], name="coit-en",
                             validation_size=1), folder)
    set_dataset_repo_id(folder, "org/coit-en")
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert 'load_dataset("org/coit-en", "translation")' in card and 'load_dataset("coit-en"' not in card
    assert json.loads((folder / "build_report.json").read_text())["repo_id"] == "org/coit-en"
    assert public_name(str(folder)) == "org/coit-en"


def test_text_file_attached_as_png_is_refused_with_the_reason(tmp_path: Path):
    fake = tmp_path / "plot.png"
    fake.write_text("this is a text file\n")
    with pytest.raises(InputError, match=r"not a PNG image.*text"):
        write_model_card(_info(attachments=[CardAttachment("Plot", str(fake))]), tmp_path / "model")
    assert not (tmp_path / "model" / "README.md").exists()
    from coit_hf.hub.cards import parse_attachments

    with pytest.raises(InputError, match="not a PNG image"):
        parse_attachments([f"Plot={fake}"])  # a recipe's card_attachments fail before training
    other = tmp_path / "notes.txt"
    other.write_bytes(PNG)
    with pytest.raises(InputError, match="must be an image"):
        write_model_card(_info(attachments=[CardAttachment("Notes", str(other))]), tmp_path / "model")
    with pytest.raises(InputError, match="not a file"):
        write_model_card(_info(attachments=[CardAttachment("Dir", str(tmp_path))]), tmp_path / "model")
    real = tmp_path / "real.png"
    real.write_bytes(PNG)
    assert "images/real.png" in write_model_card(_info(attachments=[CardAttachment("Real", str(real))]),
                                                 tmp_path / "model").read_text(encoding="utf-8")


def test_update_card_adds_eval_results_sections_and_repo_id(tmp_path: Path):
    folder = write_model_card(_info(repo_id=None), tmp_path / "model").parent
    results_dir = tmp_path / "eval"
    results_dir.mkdir()
    (results_dir / "coit_results.json").write_text(json.dumps(RESULTS))
    update_model_card(folder, eval_results=results_dir, sections=["## Extra\n\nfirst\n"], repo_id="org/renamed")
    update_model_card(folder, sections=["## Extra\n\nsecond\n"])
    card = ModelCard.load(folder / "README.md")
    assert card.data.eval_results and card.data.eval_results[0].source_url == "https://huggingface.co/org/renamed"
    assert "second" in card.text and "first" not in card.text
    assert read_card_info(folder).repo_id == "org/renamed"


def test_loopback_hub_accepts_the_card_metadata_and_refuses_a_broken_model_index(tmp_path: Path, hub):
    card = ModelCard.load(write_model_card(_info(eval_results=RESULTS), tmp_path / "model"))
    card.validate()  # POST /api/validate-yaml on the loopback Hub
    from huggingface_hub.utils import get_session

    broken = str(card).replace("    - type: f1\n", "    - name: no type\n", 1)
    answer = get_session().post(f"{hub.endpoint}/api/validate-yaml", json={"repoType": "model", "content": broken})
    assert answer.status_code == 400 and "metrics[" in answer.text


def test_model_card_cli_adds_eval_results_and_alignment_comparison(tmp_path: Path):
    from coit_hf.analysis.compare import compare_alignments, write_comparison
    from coit_hf.cli import main

    folder = write_model_card(_info(repo_id=None), tmp_path / "model").parent
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "coit_results.json").write_text(json.dumps(RESULTS))
    summary = {"mean_gap": [0.0, 0.1], "mean_retrieval": [0.1, 0.5], "best_layer_by_gap": 1}
    result = {"languages": ["en", "zh"], "n_sentences": 8, "chance_retrieval": 0.125, "summary": summary}
    tuned = {**result, "summary": {**summary, "mean_gap": [0.0, 0.3]}}
    write_comparison(compare_alignments({"base": result, "tuned": tuned}), tmp_path / "align")
    assert main(["model", "card", str(folder), "--eval-results", str(tmp_path / "eval"), "--alignment",
                 str(tmp_path / "align"), "--repo-id", "org/x-tiny-zh"]) == 0
    card = ModelCard.load(folder / "README.md")
    assert len(card.data.eval_results) == 5 and card.data.eval_results[0].source_url.endswith("org/x-tiny-zh")
    assert "Layers where tuned gained most in gap over base: 1 (+0.2000)" in card.text
    assert "![Alignment by layer, before and after tuning](images/alignment_compare.png)" in card.text


def test_model_index_dataset_name_says_how_much_of_the_split_was_scored():
    results = json.loads(json.dumps(RESULTS))
    results["tasks"]["coit_xquad:zh"]["n"] = 50  # e.g. --max-samples 50
    names = {r.dataset_name for r in build_model_index(results).results if r.dataset_type == "google/xquad"}
    assert names == {"XQuAD xquad.zh (validation, 50 of 1190 rows)"}
    assert all(r.source_name is None for r in build_model_index(results).results)  # no URL, no source
