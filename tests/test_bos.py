"""BOS agrees between training and evaluation for a LLaMA-like tokenizer (one that adds BOS when encoding).

Golden reference: the paper's preprocessing (Stanford Alpaca's train.py, which the paper's code follows) tokenises
prompt + output + EOS with special tokens (so with BOS) and masks the prompt's tokens (the prompt tokenised alone, BOS
included) in the labels.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer

from coit_hf.errors import ConfigError
from coit_hf.templates import (
    ALPACA_NO_INPUT,
    ALPACA_WITH_INPUT,
    assistant_message,
    load_chat_template,
    user_message,
)
from coit_hf.training.config import CoitSFTConfig
from coit_hf.training.preflight import (
    align_template_bos,
    leading_bos_count,
    run_preflight,
    tokenizer_adds_bos,
)
from coit_hf.training.trainer import CoitSFTTrainer

EXAMPLES = (
    ("Translate the following sentences from English to Chinese.",
     "All human beings are born free and equal in dignity and rights.", "人人生而自由，在尊严和权利上一律平等。"),
    ("三原色是什么？", "", "三原色是红色、蓝色和黄色。"),
)


@pytest.fixture(scope="module")
def llama_like_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with its tokenizer switched to LLaMA's behaviour: BOS prepended on encode (post-processor
    ``<s> $A``, as LlamaTokenizerFast builds it from ``add_bos_token=True``), the alpaca template installed."""
    out = tmp_path_factory.mktemp("llama_like")
    for item in tiny_model_dir.iterdir():
        if item.is_file():
            shutil.copy(item, out / item.name)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, add_bos_token=True)
    tokenizer.chat_template = load_chat_template("alpaca")
    assert align_template_bos(tokenizer) is True
    tokenizer.save_pretrained(out)
    return out


def _messages(instruction: str, input: str, output: str) -> list[dict]:
    return [user_message(instruction, input), assistant_message(output)]


def _paper_preprocessing(tokenizer, instruction: str, input: str, output: str) -> tuple[list[int], list[int]]:
    prompt = (ALPACA_WITH_INPUT if input else ALPACA_NO_INPUT).format(instruction=instruction, input=input)
    full = tokenizer(prompt + output + tokenizer.eos_token)["input_ids"]
    prompt_len = len(tokenizer(prompt)["input_ids"])
    return full, [-100] * prompt_len + full[prompt_len:]


def test_alignment_follows_the_tokenizer(tiny_model_dir: Path):
    plain = AutoTokenizer.from_pretrained(tiny_model_dir)  # ChatML-style: BOS defined but never added
    plain.chat_template = load_chat_template("alpaca")
    assert tokenizer_adds_bos(plain) is False
    assert align_template_bos(plain) is False
    rendered = plain.apply_chat_template(_messages(*EXAMPLES[0]), tokenize=False)
    assert not rendered.startswith(plain.bos_token)
    plain.chat_template = load_chat_template("chatml")
    assert align_template_bos(plain) is None  # other templates are left alone


def test_training_ids_and_labels_equal_the_papers_preprocessing(llama_like_dir: Path, tmp_path: Path):
    tokenizer = AutoTokenizer.from_pretrained(llama_like_dir)
    assert tokenizer_adds_bos(tokenizer)
    model = AutoModelForCausalLM.from_pretrained(llama_like_dir)
    data = Dataset.from_list([{"messages": _messages(*example)} for example in EXAMPLES])
    args = CoitSFTConfig(output_dir=str(tmp_path), assistant_only_loss=True, bf16=False,
                         activation_checkpointing=False, max_length=512, report_to="none")
    trainer = CoitSFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    for row, example in zip(trainer.train_dataset, EXAMPLES, strict=True):
        input_ids, labels = _paper_preprocessing(tokenizer, *example)
        assert row["input_ids"] == input_ids
        assert leading_bos_count(tokenizer, row["input_ids"]) == 1
        assert row["labels"] == labels
    report = run_preflight(tokenizer, [{"messages": _messages(*EXAMPLES[0])}], assistant_only_loss=True)
    assert report.tokenizer_adds_bos and report.leading_bos == 1


def test_bos_is_never_doubled(llama_like_dir: Path):
    tokenizer = AutoTokenizer.from_pretrained(llama_like_dir)
    ids = tokenizer.apply_chat_template(_messages(*EXAMPLES[1]), tokenize=True, return_dict=True)["input_ids"]
    assert ids.count(tokenizer.bos_token_id) == 1
    # Aligning twice keeps one BOS; a template that adds BOS on top of the switch is caught before training.
    assert align_template_bos(tokenizer) is True
    assert tokenizer.chat_template.count("set add_bos = true") == 1
    tokenizer.chat_template = "{{ bos_token }}" + tokenizer.chat_template
    with pytest.raises(ConfigError, match="2 BOS"):
        run_preflight(tokenizer, [{"messages": _messages(*EXAMPLES[0])}], assistant_only_loss=True)


@pytest.mark.parametrize("prompt_format", ["paper", "chat"])
def test_evaluation_prompts_start_with_exactly_one_bos(llama_like_dir: Path, prompt_format: str):
    from lighteval.models.transformers.transformers_model import TransformersModel
    from lighteval.tasks.prompt_manager import PromptManager

    from coit_hf.evaluation.runner import EvalSettings, build_model_config
    from coit_hf.evaluation.tasks import qa_prompt

    settings = EvalSettings(model=str(llama_like_dir), tasks=["coit_xquad:zh"], prompt_format=prompt_format)
    model = TransformersModel(build_model_config(settings))
    line = {"context": "北京是中国的首都。", "question": "中国的首都是哪里？", "answers": {"text": ["北京"]}}
    doc = qa_prompt(line, lang="zh", prompt_format=prompt_format)
    context = PromptManager(use_chat_template=prompt_format == "chat", tokenizer=model.tokenizer).prepare_prompt(doc)
    # What lighteval's greedy generation encodes (TransformersModel._padded_greedy_until).
    ids = model.tokenizer([context], add_special_tokens=model.add_special_tokens)["input_ids"][0]
    assert leading_bos_count(model.tokenizer, ids) == 1
    assert ids.count(model.tokenizer.bos_token_id) == 1
