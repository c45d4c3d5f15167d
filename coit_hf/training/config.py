"""Recipe dataclasses: TRL's script/SFT configs extended with the CoIT fields, parsed by TRL's own ``TrlParser``.

A recipe is a YAML file of these fields (``--config recipe.yaml``); command-line flags override it; a key that
belongs to none of the dataclasses fails the parse (TRL's ``fail_with_unknown_args``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml
from trl import ModelConfig, ScriptArguments, SFTConfig, TrlParser

from coit_hf.errors import ConfigError, InputError
from coit_hf.templates import CHAT_TEMPLATE_NAMES, chat_template_path


@dataclass
class CoitScriptArguments(ScriptArguments):
    """TRL's ``ScriptArguments`` (``dataset_name``, ``dataset_config``, splits) plus CoIT data, template and card fields."""

    mixture: str | None = field(
        default=None,
        metadata={
            "help": "Mixture shorthand resolved against `dataset_name` (a corpus folder or Hub id), e.g. "
            "`translation_en-zh[:100000]+alpaca_en+alpaca_zh`. Needs `coit_hf.data.mixture`."
        },
    )
    mixture_file: str | None = field(
        default=None,
        metadata={"help": "Mixture YAML file (seed, datasets: path/name/split/subset/num_rows/fraction), as written "
                  "by `coit-hf scaling allocate`. Takes precedence over `dataset_name` and `mixture`."},
    )
    messages_column: str = field(
        default="messages",
        metadata={"help": "Conversational column of the corpus (contract 1: `messages`); other columns are dropped."},
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Keep only the first N training rows (demos, smoke tests)."}
    )
    chat_template: str | None = field(
        default=None,
        metadata={
            "help": f"Short name of a shipped chat template ({', '.join(CHAT_TEMPLATE_NAMES)}); sets "
            "`chat_template_path`. `alpaca` is the paper's exact prompt. Unset: `chat_template_path` or the "
            "tokenizer's own template."
        },
    )
    preflight_examples: int = field(
        default=3,
        metadata={"help": "Render and check this many training examples before training (0 disables the check)."},
    )
    languages: list[str] | None = field(
        default=None, metadata={"help": "Language codes the model is tuned for (model card metadata), e.g. `zh`."}
    )
    base_model_id: str | None = field(
        default=None,
        metadata={"help": "Hub id shown as `base_model` on the card. Default: the model id, the id a local folder "
                  "was imported from (coit_hf_import.json), or the folder's name."},
    )
    eval_results: str | None = field(
        default=None, metadata={"help": "coit_results.json (or its folder) from `coit-hf eval`, shown on the card."}
    )
    card_attachments: list[str] | None = field(
        default=None,
        metadata={"help": "Images for the card as `TITLE=PATH` (copied next to the card), e.g. a scaling fit plot."},
    )
    merge_adapter: bool = field(
        default=False,
        metadata={"help": "With LoRA: also save the merged full model to `<output_dir>/merged` and push that instead "
                  "of the adapter."},
    )


@dataclass
class CoitSFTConfig(SFTConfig):
    """TRL's ``SFTConfig`` unchanged in meaning; a separate class so CoIT defaults can be added in one place.

    Note TRL's defaults: ``gradient_checkpointing=True`` and ``bf16=True`` even on CPU; ``warmup_steps`` takes a
    float ratio (transformers 5 dropped ``warmup_ratio``). CPU recipes set ``bf16: false`` explicitly.
    """


def make_parser() -> TrlParser:
    """The recipe parser: ``(CoitScriptArguments, CoitSFTConfig, ModelConfig)``."""
    return TrlParser((CoitScriptArguments, CoitSFTConfig, ModelConfig))


def parse_recipe(
    args: Sequence[str] | None = None,
) -> tuple[CoitScriptArguments, CoitSFTConfig, ModelConfig]:
    """Parse ``--config recipe.yaml`` plus CLI overrides; unknown keys fail; resolve the chat template short name."""
    parser = make_parser()
    check_recipe_keys(parser, list(args) if args is not None else sys.argv[1:])
    try:
        script_args, training_args, model_args = parser.parse_args_and_config(args=args)
    except ValueError as exc:  # TRL reports unknown YAML keys and bad mappings as ValueError
        raise ConfigError(str(exc)) from exc
    resolve_chat_template(script_args, training_args)
    return script_args, training_args, model_args


def check_recipe_keys(parser: TrlParser, args: list[str]) -> None:
    """Fail on recipe keys no dataclass knows, naming the file (before TRL's own parse, whose dataclass checks,
    e.g. bf16 on a CPU machine, would otherwise speak first)."""
    if "--config" not in args or args.index("--config") + 1 >= len(args):
        return
    path = args[args.index("--config") + 1]
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except OSError as exc:
        raise InputError(f"cannot read recipe: {exc}", path=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"cannot parse YAML: {exc}", path=path, line=mark.line + 1 if mark else None) from None
    if not isinstance(config, dict):
        raise InputError("a recipe is a YAML mapping of field: value", path=path)
    known = {action.dest for action in parser._actions} | {"env"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise InputError(
            f"unknown recipe key(s) {unknown}: not a field of CoitScriptArguments, SFTConfig or ModelConfig "
            "(see `recipes/sft_coit.py --help`; transformers 5 replaced warmup_ratio by a float warmup_steps)",
            path=path, field=unknown[0],
        )


def resolve_chat_template(script_args: CoitScriptArguments, training_args: SFTConfig) -> None:
    """Set ``training_args.chat_template_path`` from ``chat_template`` (a shipped short name or a file path)."""
    name = script_args.chat_template
    if name is None:
        return
    if training_args.chat_template_path is not None:
        raise ConfigError("set either `chat_template` or `chat_template_path`, not both")
    if name in CHAT_TEMPLATE_NAMES:
        training_args.chat_template_path = chat_template_path(name)
    elif os.path.exists(name):
        training_args.chat_template_path = name
    else:
        raise ConfigError(
            f"chat_template {name!r} is neither a shipped template ({', '.join(CHAT_TEMPLATE_NAMES)}) nor a file"
        )
