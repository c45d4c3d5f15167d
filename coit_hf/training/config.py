"""Recipe dataclasses: TRL's script/SFT configs extended with the CoIT fields, parsed by TRL's own ``TrlParser``.

A recipe is a YAML file of these fields (``--config recipe.yaml``); command-line flags override it; a key that
belongs to none of the dataclasses fails the parse (TRL's ``fail_with_unknown_args``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
    argv = list(args) if args is not None else sys.argv[1:]
    check_recipe_keys(parser, argv)
    try:
        script_args, training_args, model_args = parser.parse_args_and_config(args=args)
    except ValueError as exc:  # TRL reports unknown YAML keys and bad mappings as ValueError
        raise ConfigError(str(exc)) from exc
    resolve_chat_template(script_args, training_args)
    recipe = argv[argv.index("--config") + 1] if "--config" in argv[:-1] else None
    check_languages(script_args, recipe)
    check_push_settings(training_args, recipe)
    return script_args, training_args, model_args


def check_languages(script_args: CoitScriptArguments, recipe: str | None) -> None:
    """Every code in ``languages`` must be in the language registry (it names the model card's languages)."""
    from coit_hf.data.validate import line_of  # noqa: PLC0415
    from coit_hf.languages import get_language  # noqa: PLC0415

    for code in script_args.languages or []:
        try:
            get_language(code)
        except ConfigError as exc:
            raise InputError(str(exc), path=recipe, line=line_of(recipe, "languages"), field="languages") from None


def check_push_settings(training_args: SFTConfig, recipe: str | None) -> None:
    """With ``push_to_hub``: a valid ``hub_model_id`` and a token, checked before any training. A ``hub_token``
    given in the recipe or on the command line moves to ``HF_TOKEN`` so it is never pickled into
    ``training_args.bin`` (saved in the output folder, every checkpoint, and pushed with the model)."""
    from coit_hf.data.validate import line_of  # noqa: PLC0415

    if training_args.hub_token:
        os.environ["HF_TOKEN"] = training_args.hub_token
        training_args.hub_token = None
    if not training_args.push_to_hub:
        return
    from huggingface_hub.utils import HFValidationError, validate_repo_id  # noqa: PLC0415

    from coit_hf.hub.retry import require_token  # noqa: PLC0415

    if training_args.hub_model_id:
        try:
            validate_repo_id(training_args.hub_model_id)
        except HFValidationError as exc:
            raise InputError(f"bad repo id {training_args.hub_model_id!r}: {exc}", path=recipe,
                             line=line_of(recipe, "hub_model_id"), field="hub_model_id") from None
    require_token(None, what=f"push_to_hub (to {training_args.hub_model_id or 'the output folder name'})")


def check_recipe_keys(parser: TrlParser, args: list[str]) -> None:
    """Fail on recipe keys no dataclass knows, naming the file (before TRL's own parse, whose dataclass checks,
    e.g. bf16 on a CPU machine, would otherwise speak first)."""
    if "--config" not in args or args.index("--config") + 1 >= len(args):
        return
    from coit_hf.data.validate import line_of, read_yaml  # noqa: PLC0415 - YAML errors with file and line

    path = args[args.index("--config") + 1]
    try:
        config = read_yaml(Path(path), "recipe")
    except OSError as exc:
        raise InputError(f"cannot read recipe: {exc}", path=path) from None
    if not isinstance(config, dict):
        raise InputError("a recipe is a YAML mapping of field: value", path=path)
    actions = {action.dest: action for action in parser._actions}
    known = set(actions) | {"env"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise InputError(
            f"unknown recipe key(s) {unknown}: not a field of CoitScriptArguments, SFTConfig or ModelConfig "
            "(see `recipes/sft_coit.py --help`; transformers 5 replaced warmup_ratio by a float warmup_steps)",
            path=path, line=line_of(path, unknown[0]), field=unknown[0],
        )
    for key, value in config.items():
        problem = _value_problem(actions[key], value) if key in actions else None
        if problem:
            raise InputError(problem, path=path, line=line_of(path, key), field=key)


def _value_problem(action, value) -> str | None:
    """Why a recipe value cannot be converted by its argparse action (numbers and choices), or None."""
    if value is None:
        return None
    items = value if isinstance(value, list) and action.nargs in ("+", "*") else [value]
    for item in items:
        if action.type in (int, float):
            ok = not isinstance(item, bool) and isinstance(item, int | float | str)
            if ok:
                try:
                    action.type(item)
                except (TypeError, ValueError):
                    ok = False
            if not ok:
                return f"must be {'an integer' if action.type is int else 'a number'}, got {item!r}"
        if action.choices:
            names = {str(getattr(c, "value", c)) for c in action.choices}
            if str(getattr(item, "value", item)) not in names:
                return f"must be one of {sorted(names)}, got {item!r}"
    return None


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
