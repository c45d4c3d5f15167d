"""Every recipe YAML parses with the script's TrlParser; unknown keys fail; CLI flags override the YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from coit_hf.errors import CoitError, ConfigError
from coit_hf.templates import chat_template_path
from coit_hf.training.config import CoitScriptArguments, CoitSFTConfig, parse_recipe

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
RECIPE_FILES = sorted(p for p in RECIPES.rglob("*.yaml") if "accelerate_configs" not in p.parts)
PAPER_LANGS = ("ar", "el", "hi", "tr", "vi", "zh")


def _parse(path: Path, *extra: str):
    # GPU recipes set bf16: true, which TrainingArguments rejects on a CPU-only machine unless use_cpu is set.
    return parse_recipe(["--config", str(path), "--use_cpu", "true", *extra])


def test_recipe_inventory():
    names = {p.relative_to(RECIPES).as_posix() for p in RECIPE_FILES}
    assert {f"x-model/{lang}.yaml" for lang in PAPER_LANGS} <= names
    assert any(n.startswith("m-model/") for n in names) and any(n.startswith("demo/") for n in names)
    assert {"accelerate_configs/" + n for n in ("ddp.yaml", "fsdp2.yaml", "zero3.yaml", "multi_node.yaml")} <= {
        p.relative_to(RECIPES).as_posix() for p in RECIPES.rglob("*.yaml")}


@pytest.mark.parametrize("path", RECIPE_FILES, ids=lambda p: p.relative_to(RECIPES).as_posix())
def test_every_recipe_parses(path: Path):
    script_args, training_args, model_args = _parse(path)
    assert isinstance(script_args, CoitScriptArguments) and isinstance(training_args, CoitSFTConfig)
    assert model_args.model_name_or_path
    assert script_args.dataset_name or script_args.mixture_file or script_args.mixture
    # Every key of the file reached a dataclass field with the file's value (no silent drops).
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    merged = {**vars(model_args), **vars(training_args), **vars(script_args)}
    for key in ("learning_rate", "max_length", "seed", "output_dir"):
        if key in raw:
            assert merged[key] == raw[key]
    if script_args.chat_template:
        assert training_args.chat_template_path == chat_template_path(script_args.chat_template)


@pytest.mark.parametrize("lang", PAPER_LANGS)
def test_x_model_recipes_carry_the_paper_hyperparameters(lang: str):
    script_args, args, model_args = _parse(RECIPES / "x-model" / f"{lang}.yaml")
    assert script_args.languages == [lang] and lang in script_args.dataset_name
    assert not model_args.use_peft
    assert args.learning_rate == 2e-5 and args.num_train_epochs == 3 and args.weight_decay == 0.0
    assert args.lr_scheduler_type.value == "cosine" and args.warmup_steps == 0.03
    assert args.bf16 and args.max_length == 512 and args.assistant_only_loss
    # global batch 128 on the 8 GPUs of the accelerate configs
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps * 8 == 128
    assert script_args.chat_template == "alpaca"


def test_demo_recipes_are_cpu_safe():
    for path in sorted((RECIPES / "demo").glob("*.yaml")):
        _, args, _ = parse_recipe(["--config", str(path)])  # no use_cpu override: must parse on CPU as is
        assert not args.bf16 and not args.activation_checkpointing, path


def test_unknown_key_fails(tmp_path: Path):
    text = (RECIPES / "demo" / "tiny.yaml").read_text(encoding="utf-8") + "\nwarmup_ratio: 0.03\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(CoitError, match="warmup_ratio") as info:
        parse_recipe(["--config", str(bad)])
    assert "bad.yaml" in str(info.value)
    # Also on a GPU recipe (bf16: true) on this CPU machine: the unknown key is what gets reported.
    gpu = tmp_path / "gpu.yaml"
    gpu.write_text((RECIPES / "x-model" / "zh.yaml").read_text(encoding="utf-8") + "\nlora_rank: 8\n")
    with pytest.raises(CoitError, match="lora_rank"):
        parse_recipe(["--config", str(gpu)])


def test_cli_overrides_yaml_and_chat_template_names(tmp_path: Path):
    script_args, args, model_args = parse_recipe(
        ["--config", str(RECIPES / "demo" / "tiny.yaml"), "--learning_rate", "0.5", "--model_name_or_path", "x",
         "--chat_template", "chatml"])
    assert args.learning_rate == 0.5 and model_args.model_name_or_path == "x"
    assert args.chat_template_path == chat_template_path("chatml")
    custom = tmp_path / "mine.jinja"
    custom.write_text("{{ messages }}", encoding="utf-8")
    _, args, _ = parse_recipe(["--config", str(RECIPES / "demo" / "tiny.yaml"), "--chat_template", str(custom)])
    assert args.chat_template_path == str(custom)
    with pytest.raises(ConfigError, match="neither a shipped template"):
        parse_recipe(["--config", str(RECIPES / "demo" / "tiny.yaml"), "--chat_template", "vicuna"])
