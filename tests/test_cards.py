"""Model card: rendered from model_cards/model_card.md with ModelCard.from_template; base model never None."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from coit_hf.errors import InputError
from coit_hf.hub.cards import CardAttachment, CardInfo, load_eval_results, parse_attachments, write_model_card
from coit_hf.training.gguf_import import IMPORT_METADATA_FILE
from coit_hf.training.trainer import resolve_base_model_id

RESULTS = {
    "model": "org/x-tiny-zh", "prompt_format": "paper", "max_samples": 50,
    "metadata": {"translation_pairs": 1000, "lang": "zh"}, "versions": {"lighteval": "0.13.0"},
    "generation": {"profile": "paper"}, "name_style": "friendly", "qa_rules": {"coit_xquad:zh": "squad_v1.1"},
    "fidelity_method": "script+lid.176.ftz",
    "tasks": {"coit_xquad:zh": {"substring": 41.5, "exact_match": 30.25, "f1": 44.0, "fidelity": 97.0, "n": 50},
              "coit_flores101:en-zh": {"chrf++": 20.5, "bleu": 8.75, "fidelity": 99.0, "n": 50}},
    "notes": ["spBLEU fell back to a script-aware BLEU because the flores101 SentencePiece model is offline."],
}


def _info(**kw) -> CardInfo:
    base = dict(model_name="x-tiny-zh", base_model="org/tiny-llama", languages=["zh"],
                datasets=[{"path": "org/coit-zh", "name": "all", "subset": "alpaca_en", "rows": 23},
                          {"path": "org/coit-zh", "name": "all", "subset": "translation_en-zh", "rows": 27}],
                hyperparameters={"learning_rate": 2e-5, "num_train_epochs": 3, "global_batch_size": 128},
                prompt_format="`alpaca` chat template")
    return CardInfo(**{**base, **kw})


def test_card_has_metadata_data_hyperparameters_eval_and_citation(tmp_path: Path):
    results = tmp_path / "eval" / "coit_results.json"
    results.parent.mkdir()
    results.write_text(json.dumps(RESULTS), encoding="utf-8")
    plot = tmp_path / "fit.png"
    plot.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    info = _info(eval_results=load_eval_results(results.parent), attachments=[CardAttachment("Scaling fit", str(plot))])
    path = write_model_card(info, tmp_path / "model")
    card = ModelCard.load(path)
    assert card.data.base_model == "org/tiny-llama" and card.data.language == ["zh"]
    assert card.data.datasets == ["org/coit-zh"] and "coit" in card.data.tags
    assert card.data.library_name == "transformers"
    text = card.text
    assert "| org/coit-zh | all | translation_en-zh | 27 |" in text and "Total training rows: **50**" in text
    assert "| learning_rate | 2e-05 |" in text and "| global_batch_size | 128 |" in text
    assert "| coit_xquad:zh | 41.50 | 30.25 | 44.00 | 97.00 |" in text.replace("|  |", "| |")
    assert "spBLEU fell back" in text and "prompt format `paper`" in text
    assert "generation `paper`" in text and "EM/F1 rules `squad_v1.1`" in text and "`script+lid.176.ftz`" in text
    assert "![Scaling fit](images/fit.png)" in text and (tmp_path / "model" / "images" / "fit.png").is_file()
    assert "zhu2023extrapolating" in text and "Intended use and limitations" in text
    assert "- transformers: " in text and "- trl: " in text
    assert "None" not in text.split("## Citation")[0].replace("| None |", "")


def test_adapter_card_and_no_eval():
    card = ModelCard(str(_render(_info(is_adapter=True))))
    assert card.data.library_name == "peft" and "a LoRA adapter for" in card.text
    assert "No evaluation results" in card.text


def _render(info):
    from coit_hf.hub.cards import render_model_card

    return render_model_card(info)


def test_base_model_is_never_none(tmp_path: Path):
    with pytest.raises(InputError, match="base model"):
        _render(_info(base_model="None"))
    assert resolve_base_model_id("org/model") == ("org/model", None)
    assert resolve_base_model_id(str(tmp_path), "org/override")[0] == "org/override"
    local = tmp_path / "my-base"
    local.mkdir()
    assert resolve_base_model_id(str(local)) == ("my-base", "local folder")
    (local / IMPORT_METADATA_FILE).write_text(json.dumps({"gguf_file": "m.Q4.gguf", "base_model": "org/orig"}))
    assert resolve_base_model_id(str(local))[0] == "org/orig"
    (local / IMPORT_METADATA_FILE).write_text(json.dumps({"gguf_file": "m.Q4.gguf", "base_model": None}))
    assert resolve_base_model_id(str(local))[0] == "m.Q4"


def test_bad_inputs_name_the_problem(tmp_path: Path):
    with pytest.raises(InputError, match="TITLE=PATH"):
        parse_attachments(["just-a-path.png"])
    image = tmp_path / "a.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert parse_attachments([f"Alignment = {image}"]) == [CardAttachment("Alignment", str(image))]
    with pytest.raises(InputError, match="attachment not found"):
        parse_attachments(["Alignment=missing.png"])  # checked before training, not after it
    with pytest.raises(InputError, match="attachment not found"):
        write_model_card(_info(attachments=[CardAttachment("x", str(tmp_path / "missing.png"))]), tmp_path / "m")
    bad = tmp_path / "coit_results.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="coit_results.json"):
        load_eval_results(bad)


def test_update_model_card_adds_eval_results_and_images_to_a_written_card(tmp_path):
    """Later stages (eval, alignment, scaling) re-render the card from the state the training script saved."""
    import json

    from coit_hf.hub.cards import (
        CardAttachment,
        CardInfo,
        read_card_info,
        update_model_card,
        write_model_card,
    )

    folder = tmp_path / "x-zh"
    info = CardInfo(model_name="x-zh", base_model="org/base", languages=["en", "zh"],
                    datasets=[{"path": "org/coit-zh", "name": "all", "subset": "alpaca_zh", "rows": 7}],
                    hyperparameters={"learning_rate": 2e-5})
    write_model_card(info, folder)
    assert read_card_info(folder).datasets[0]["rows"] == 7
    results = tmp_path / "eval" / "coit_results.json"
    results.parent.mkdir()
    results.write_text(json.dumps({"model": "x-zh", "prompt_format": "paper", "max_samples": None, "metadata": {},
                                   "versions": {}, "notes": [],
                                   "tasks": {"coit_xquad:zh": {"substring": 41.5, "exact_match": 30.0, "f1": 44.25,
                                                               "fidelity": 90.0, "n": 10}}}), encoding="utf-8")
    image = tmp_path / "align.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    update_model_card(folder, eval_results=results.parent, attachments=[CardAttachment("Alignment", str(image))])
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "44.25" in card and "coit_xquad:zh" in card
    assert "images/align.png" in card and (folder / "images" / "align.png").is_file()
    assert "learning_rate" in card and "alpaca_zh" in card  # what the training script wrote is kept
    update_model_card(folder, attachments=[CardAttachment("Alignment", str(image))])
    assert (folder / "README.md").read_text(encoding="utf-8").count("images/align.png") == 1
