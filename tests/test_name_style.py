"""Language-name style travels from the corpus card to the model's card state, where `coit-hf eval` reads it."""

from __future__ import annotations

import json

import yaml

from coit_hf.data.build import BuildConfig, build_corpus
from coit_hf.data.card import corpus_name_style
from coit_hf.evaluation import runner
from coit_hf.training.config import CoitScriptArguments
from coit_hf.training.data import load_training_data


def test_iso_corpus_card_records_its_style_and_training_summary_keeps_it(tmp_path, shared_benchmarks):
    config = {"name": "coit-el", "validation_size": 2, "name_style": "iso",
              "sources": [{"type": "jsonl", "path": str(shared_benchmarks / "udhr" / "udhr_7way.jsonl"),
                           "src_lang": "en", "tgt_lang": "el", "license": "MIT", "display_name": "udhr"}]}
    path = tmp_path / "build.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "coit-el"
    build_corpus(BuildConfig.from_yaml(path), out, progress=False)
    assert corpus_name_style(out) == "iso"
    assert corpus_name_style(tmp_path) is None  # no card here
    _, summary = load_training_data(CoitScriptArguments(dataset_name=str(out), dataset_config="translation"))
    assert {entry["name_style"] for entry in summary} == {"iso"}
    # The model folder's card state carries the summary; evaluation with friendly names warns.
    model = tmp_path / "model"
    model.mkdir()
    (model / runner.MODEL_CARD_STATE).write_text(json.dumps({"datasets": summary}), encoding="utf-8")
    settings = runner.EvalSettings(model=str(model), tasks=["coit_flores101:en-el"])
    assert "--name-style iso" in runner.name_style_note(settings, ["coit_flores101:en-el"])
