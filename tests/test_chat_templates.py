"""Golden test of the `alpaca` template (the paper's exact prompt; loss on response + EOS only), as rendered by the
tokenizer and as TRL's SFTTrainer builds the labels; the pre-flight check; pad token and EOS handling."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
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
from coit_hf.training.modeling import apply_chat_template, ensure_pad_token, sync_special_tokens
from coit_hf.training.preflight import render_example, run_preflight
from coit_hf.training.trainer import CoitSFTTrainer

WITH_INPUT = ("Translate the following sentences from English to Chinese.",
              "All human beings are born free and equal in dignity and rights.",
              "人人生而自由，在尊严和权利上一律平等。")
NO_INPUT = ("三原色是什么？", "", "三原色是红色、蓝色和黄色。")


def _messages(instruction: str, input: str, output: str) -> list[dict]:
    return [user_message(instruction, input), assistant_message(output)]


@pytest.fixture
def alpaca_tokenizer(tiny_model_dir: Path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = load_chat_template("alpaca")
    return tokenizer


@pytest.mark.parametrize("example", [WITH_INPUT, NO_INPUT], ids=["with_input", "no_input"])
def test_alpaca_renders_the_paper_prompt_and_supervises_only_response_and_eos(alpaca_tokenizer, example):
    instruction, input, output = example
    prompt = (ALPACA_WITH_INPUT if input else ALPACA_NO_INPUT).format(instruction=instruction, input=input)
    rendered = render_example(alpaca_tokenizer, _messages(*example), assistant_only_loss=True)
    assert rendered.text == prompt + output + alpaca_tokenizer.eos_token
    # The mask is 0...0 1...1 ending on EOS, and the supervised tokens are exactly the response + EOS.
    first = rendered.mask.index(1)
    assert set(rendered.mask[:first]) == {0} and set(rendered.mask[first:]) == {1}
    assert rendered.input_ids[-1] == alpaca_tokenizer.eos_token_id
    assert alpaca_tokenizer.decode(rendered.supervised_ids) == output + alpaca_tokenizer.eos_token
    assert alpaca_tokenizer.decode(rendered.input_ids[:first]) == prompt
    # Generation prompt at test time is the paper's prompt verbatim.
    assert alpaca_tokenizer.apply_chat_template(_messages(*example)[:1], tokenize=False,
                                                add_generation_prompt=True) == prompt


def test_trl_builds_the_same_labels(tiny_model_dir: Path, alpaca_tokenizer, tmp_path: Path):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    data = Dataset.from_list([{"messages": _messages(*WITH_INPUT)}, {"messages": _messages(*NO_INPUT)}])
    args = CoitSFTConfig(output_dir=str(tmp_path), assistant_only_loss=True, bf16=False,
                         activation_checkpointing=False, max_length=512, report_to="none")
    trainer = CoitSFTTrainer(model=model, args=args, train_dataset=data, processing_class=alpaca_tokenizer)
    for row, example in zip(trainer.train_dataset, (WITH_INPUT, NO_INPUT), strict=True):
        ours = render_example(alpaca_tokenizer, _messages(*example), assistant_only_loss=True)
        assert row["input_ids"] == ours.input_ids
        supervised = [t for t, lab in zip(row["input_ids"], row["labels"], strict=True) if lab != -100]
        assert supervised == ours.supervised_ids
        assert alpaca_tokenizer.decode(supervised) == example[2] + alpaca_tokenizer.eos_token


def test_preflight_counts_and_fails_clearly(alpaca_tokenizer):
    rows = [{"messages": _messages(*WITH_INPUT)}, {"messages": _messages(*NO_INPUT)}]
    report = run_preflight(alpaca_tokenizer, rows, assistant_only_loss=True)
    assert report.eos_supervised == 2 and 0 < report.supervised_tokens < report.total_tokens
    # No generation markers: nothing is supervised.
    alpaca_tokenizer.chat_template = load_chat_template("alpaca").replace("{% generation %}", "").replace(
        "{% endgeneration %}", "")
    with pytest.raises(ConfigError, match="no token is supervised"):
        run_preflight(alpaca_tokenizer, rows, assistant_only_loss=True)
    # Markers that leave EOS outside: the model would never learn to stop.
    alpaca_tokenizer.chat_template = load_chat_template("alpaca").replace(
        "{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}",
        "{% generation %}{{ message['content'] }}{% endgeneration %}{{ eos_token }}")
    with pytest.raises(ConfigError, match="EOS"):
        run_preflight(alpaca_tokenizer, rows, assistant_only_loss=True)
    # Truncation that cuts EOS off, or the whole response, is caught too.
    alpaca_tokenizer.chat_template = load_chat_template("alpaca")
    length = len(render_example(alpaca_tokenizer, rows[0]["messages"], assistant_only_loss=True).input_ids)
    with pytest.raises(ConfigError, match="EOS"):
        run_preflight(alpaca_tokenizer, rows[:1], assistant_only_loss=True, max_length=length - 1)
    with pytest.raises(ConfigError, match="max_length=20"):
        run_preflight(alpaca_tokenizer, rows, assistant_only_loss=True, max_length=20)
    with pytest.raises(ConfigError, match="empty"):
        run_preflight(alpaca_tokenizer, [], assistant_only_loss=True)


def test_pad_token_added_with_mean_embedding_and_eos_kept_consistent(tiny_model_dir: Path):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.config.tie_word_embeddings = False  # check input and output rows separately
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.pad_token = None
    old = model.get_input_embeddings().weight.detach().clone()
    assert ensure_pad_token(model, tokenizer, pad_token="<|pad|>")
    new = model.get_input_embeddings().weight
    assert new.shape[0] == old.shape[0] + 1 == len(tokenizer)
    torch.testing.assert_close(new[tokenizer.pad_token_id], old.mean(dim=0))
    torch.testing.assert_close(new[: old.shape[0]], old)
    assert not ensure_pad_token(model, tokenizer)  # idempotent
    sync_special_tokens(model, tokenizer)
    assert model.config.pad_token_id == tokenizer.pad_token_id == model.generation_config.pad_token_id
    assert model.config.eos_token_id == tokenizer.eos_token_id
    assert tokenizer.eos_token_id in ([model.generation_config.eos_token_id]
                                      if isinstance(model.generation_config.eos_token_id, int)
                                      else model.generation_config.eos_token_id)


def test_template_tokens_are_added_and_chatml_stops_on_im_end(tiny_model_dir: Path):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    before = len(tokenizer)
    template = load_chat_template("chatml").replace("<|im_start|>", "<|turn|>")
    added = apply_chat_template(model, tokenizer, template)
    assert added == ["<|turn|>"] and len(tokenizer) == before + 1
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert tokenizer.eos_token == "<|im_end|>"  # ChatML turns end there; generation must stop there
    ids = tokenizer("<|turn|>user")["input_ids"]
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|turn|>")
    rendered = render_example(tokenizer, _messages(*NO_INPUT), assistant_only_loss=True)
    assert tokenizer.eos_token_id in rendered.supervised_ids


def test_lora_trains_the_rows_of_template_added_tokens(tiny_model_dir: Path, tmp_path: Path):
    from peft import LoraConfig

    from coit_hf.training.modeling import make_added_tokens_trainable

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    template = load_chat_template("chatml").replace("<|im_start|>", "<|turn|>")
    added = tokenizer.convert_tokens_to_ids(apply_chat_template(model, tokenizer, template))
    config = make_added_tokens_trainable(LoraConfig(r=4, target_modules="all-linear"), model, added)
    data = Dataset.from_list([{"messages": _messages(*NO_INPUT)}])
    args = CoitSFTConfig(output_dir=str(tmp_path), assistant_only_loss=True, bf16=False, max_steps=1,
                         activation_checkpointing=False, report_to="none", learning_rate=0.1)
    trainer = CoitSFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                             peft_config=config)
    before = trainer.model.get_input_embeddings()(torch.tensor(added)).detach().clone()
    trainer.train()
    after = trainer.model.get_input_embeddings()(torch.tensor(added)).detach()
    assert not torch.allclose(before, after)  # the new token's row learnt
    out_emb = trainer.model.get_output_embeddings().weight[added].detach()
    torch.testing.assert_close(out_emb, after)  # still tied: the output row is the same learnt row
    assert make_added_tokens_trainable(None, model, added) is None
