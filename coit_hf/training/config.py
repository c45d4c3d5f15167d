"""Recipe dataclasses: TRL's script/SFT configs extended with the CoIT fields, parsed by TRL's own ``TrlParser``.

A recipe is a YAML file of these fields (``--config recipe.yaml``); command-line flags override it; a key that
belongs to none of the dataclasses fails the parse (TRL's ``fail_with_unknown_args``).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trl import ModelConfig, ScriptArguments, SFTConfig, TrlParser

from coit_hf.errors import ConfigError, InputError
from coit_hf.files import line_of, read_yaml
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
        metadata={"help": "Conversational column of the corpus (a coit-hf corpus has `messages`); other columns "
                          "are dropped."},
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
                  "of the adapter (one process only; after a multi-process run use `coit-hf model merge`)."},
    )
    global_batch_size: int | None = field(
        default=None,
        metadata={"help": "Keep per_device_train_batch_size x gradient_accumulation_steps x processes at this value "
                  "(the paper: 128) on any launch config by choosing gradient_accumulation_steps; unset: use the "
                  "recipe's gradient_accumulation_steps as given."},
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
    recipe = argv[argv.index("--config") + 1] if "--config" in argv[:-1] else None
    check_ranges(raw_values(parser, argv), recipe)  # before TRL/transformers, whose own checks name no field
    try:
        script_args, training_args, model_args = parser.parse_args_and_config(args=args)
    except ValueError as exc:  # TRL/transformers report unknown keys, bad mappings and some bad values this way
        raise ConfigError(str(exc)) from exc
    check_values(script_args, training_args, model_args, recipe)
    resolve_chat_template(script_args, training_args)
    check_languages(script_args, recipe)
    check_push_settings(training_args, recipe)
    return script_args, training_args, model_args


def check_languages(script_args: CoitScriptArguments, recipe: str | None) -> None:
    """Every code in ``languages`` must be in the language registry (it names the model card's languages)."""
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


# field -> (lowest allowed, whether the lowest is allowed, highest allowed or None, whether None is allowed).
# Values TRL/transformers/torch would reject mid-run (or accept and train nothing) are refused at parse time.
_RANGES: dict[str, tuple[float, bool, float | None, bool]] = {
    "learning_rate": (0.0, False, None, False),
    "per_device_train_batch_size": (1, True, None, False),
    "per_device_eval_batch_size": (1, True, None, False),
    "gradient_accumulation_steps": (1, True, None, False),
    "weight_decay": (0.0, True, None, False),
    "max_grad_norm": (0.0, True, None, True),
    "adam_beta1": (0.0, True, 1.0, False),
    "adam_beta2": (0.0, True, 1.0, False),
    "adam_epsilon": (0.0, False, None, False),
    "warmup_steps": (0.0, True, None, False),
    "max_length": (1, True, None, True),
    "logging_steps": (0.0, False, None, False),
    "save_steps": (0.0, False, None, False),
    "eval_steps": (0.0, False, None, True),
    "save_total_limit": (1, True, None, True),
    "seed": (0, True, None, False),
    "dataloader_num_workers": (0, True, None, False),
    "max_train_samples": (1, True, None, True),
    "preflight_examples": (0, True, None, False),
    "global_batch_size": (1, True, None, True),
    "lora_r": (1, True, None, False),
    "lora_alpha": (0.0, False, None, False),
    "lora_dropout": (0.0, True, 1.0, False),
}


def _range_problem(value: object, low: float, low_ok: bool, high: float | None, none_ok: bool) -> str | None:
    if value is None:
        return None if none_ok else "must be set"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # not numeric here: the dataclass type check reports it
    if not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if value < low or (value == low and not low_ok):
        return f"must be {'>=' if low_ok else '>'} {low}, got {value}"
    if high is not None and value >= high:
        return f"must be < {high}, got {value}"
    return None


def raw_values(parser: TrlParser, argv: list[str]) -> dict[str, object]:
    """The recipe's values as given (YAML, then command-line overrides converted by their argparse types)."""

    values: dict[str, object] = {}
    if "--config" in argv[:-1]:
        config = read_yaml(Path(argv[argv.index("--config") + 1]), "recipe")
        values.update(config if isinstance(config, dict) else {})
    types = {action.dest: action.type for action in parser._actions}
    for index, item in enumerate(argv):
        if not item.startswith("--"):
            continue
        key, eq, value = item[2:].partition("=")
        if not eq:
            following = argv[index + 1] if index + 1 < len(argv) else ""
            value = "" if following.startswith("--") else following  # a bare boolean flag takes no value
        convert = types.get(key)
        try:
            values[key] = convert(value) if convert in (int, float) else value
        except (TypeError, ValueError):
            values[key] = value  # argparse reports it with the expected type
    return values


def check_ranges(values: dict[str, object], recipe: str | None) -> None:
    """Range/NaN checks of the numeric fields in ``values``; an error names the recipe file, line and field."""

    for key, (low, low_ok, high, none_ok) in _RANGES.items():
        if key not in values:
            continue
        problem = _range_problem(values[key], low, low_ok, high, none_ok)
        if problem:
            raise InputError(problem, path=recipe, line=line_of(recipe, key), field=key)


def check_values(script_args: CoitScriptArguments, training_args: SFTConfig, model_args: ModelConfig,
                 recipe: str | None) -> None:
    """Range/NaN checks of every numeric field the recipe sets, zero training steps, ``output_dir`` that is a file
    and misspelt ``model_init_kwargs`` keys; each error names the recipe file, line and field."""

    def fail(key: str, message: str) -> None:
        raise InputError(message, path=recipe, line=line_of(recipe, key), field=key)

    values = {key: getattr(args, key) for args in (script_args, training_args, model_args) for key in _RANGES
              if hasattr(args, key)}
    check_ranges(values, recipe)
    if training_args.max_steps == 0 or (training_args.max_steps < 0 and not training_args.num_train_epochs > 0):
        key = "max_steps" if training_args.max_steps == 0 else "num_train_epochs"
        fail(key, f"zero training steps (max_steps={training_args.max_steps}, num_train_epochs="
                  f"{training_args.num_train_epochs}): set num_train_epochs > 0 or max_steps >= 1")
    if not math.isfinite(training_args.num_train_epochs):
        fail("num_train_epochs", f"must be a finite number, got {training_args.num_train_epochs}")
    output_dir = training_args.output_dir
    if output_dir and os.path.exists(output_dir) and not os.path.isdir(output_dir):
        fail("output_dir", f"output_dir {output_dir!r} is a file, not a folder: choose another output_dir")
    if output_dir:
        parent = Path(output_dir).absolute()
        while not parent.exists():
            parent = parent.parent
        if parent != Path(output_dir).absolute() and not parent.is_dir():
            fail("output_dir", f"output_dir {output_dir!r} cannot be created: {str(parent)!r} is a file")
        if not os.access(parent, os.W_OK | os.X_OK):
            fail("output_dir", f"output_dir {output_dir!r} is not writable (no write permission on {str(parent)!r})")
    check_model_init_kwargs(training_args.model_init_kwargs, recipe)


def check_model_init_kwargs(kwargs: object, recipe: str | None) -> None:
    """Keys of ``model_init_kwargs`` must be ``from_pretrained`` options (config attributes are checked when the
    model's config is read, see :func:`coit_hf.training.modeling.check_init_kwargs_against_config`)."""

    if kwargs is None:
        return
    if not isinstance(kwargs, dict):
        raise InputError(f"model_init_kwargs must be a mapping, got {kwargs!r}", path=recipe,
                         line=line_of(recipe, "model_init_kwargs"), field="model_init_kwargs")
    if "dtype" in kwargs and kwargs["dtype"] not in ("auto", "bfloat16", "float16", "float32", None):
        raise InputError(f"model_init_kwargs.dtype must be one of auto, bfloat16, float16, float32; got "
                         f"{kwargs['dtype']!r}", path=recipe, line=line_of(recipe, "dtype"),
                         field="model_init_kwargs.dtype")
