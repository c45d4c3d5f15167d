"""Trainer assembly: TRL's ``SFTTrainer`` whose model card is ours, and the helpers the recipe script calls."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from datasets import DatasetDict
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from trl import ModelConfig, SFTTrainer, get_peft_config

from coit_hf.errors import ConfigError
from coit_hf.files import normal_permissions
from coit_hf.hub.cards import (
    CardInfo,
    hyperparameters_from_args,
    load_eval_results,
    parse_attachments,
    write_model_card,
)
from coit_hf.hub.retry import call_with_retries
from coit_hf.training.config import CoitScriptArguments, CoitSFTConfig
from coit_hf.training.gguf_import import read_import_metadata
from coit_hf.training.guard import NonFiniteGuard, check_weights_finite
from coit_hf.training.modeling import make_added_tokens_trainable

logger = logging.getLogger(__name__)


class CoitSFTTrainer(SFTTrainer):
    """``SFTTrainer`` that writes the CoIT card after TRL's own (which ``push_to_hub`` regenerates) and stops at the
    first non-finite loss or gradient norm (:class:`~coit_hf.training.guard.NonFiniteGuard`)."""

    def __init__(self, *args: Any, card_info: CardInfo | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.card_info = card_info
        self.nonfinite_guard = NonFiniteGuard(fp16=bool(self.args.fp16))
        self.add_callback(self.nonfinite_guard)

    def training_step(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """One micro-batch; a NaN/inf loss on any process stops every process."""
        loss = super().training_step(*args, **kwargs)
        seen = loss.detach().float().reshape(1)
        if self.accelerator.num_processes > 1:
            seen = self.accelerator.reduce(seen, reduction="sum")  # NaN/inf anywhere -> everywhere
        self.nonfinite_guard.check("loss", seen, self.state.global_step + 1)
        return loss

    # Trainer._get_grad_norm (transformers 5.23) returns the global norm before the optimizer step on every rank.
    def _get_grad_norm(self, model: Any, grad_norm: Any = None) -> Any:
        norm = super()._get_grad_norm(model, grad_norm=grad_norm)
        self.nonfinite_guard.check_grad_norm(norm, self.state.global_step + 1)
        return norm

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Trainer's save, refused when any weight is NaN/inf (checked on every process's shard)."""
        check_weights_finite(self.model, self.accelerator)
        super().save_model(output_dir, _internal_call=_internal_call)
        folder = output_dir or self.args.output_dir
        if self.is_world_process_zero() and folder and os.path.isdir(folder):
            normal_permissions(folder, recursive=True)  # safetensors writes weights 0600 whatever the umask

    def init_hf_repo(self, token: str | None = None, private: bool | None = None) -> None:
        """Trainer's repo creation, retried on transient Hub failures (see :mod:`coit_hf.hub.retry`)."""
        call_with_retries(super().init_hf_repo, token, private,
                          what=f"creating model repo {self.args.hub_model_id or Path(self.args.output_dir).name}")

    def push_to_hub(self, *args: Any, **kwargs: Any) -> Any:
        """Trainer's final push (save, card, one commit), retried on transient Hub failures."""
        return call_with_retries(super().push_to_hub, *args, what=f"pushing to {self.hub_model_id}", **kwargs)

    def create_model_card(self, model_name: str | None = None, dataset_name: str | None = None,
                          tags: str | list[str] | None = None) -> None:
        """TRL's card first (keeps its behaviour for other callers), then ours over README.md."""
        super().create_model_card(model_name=model_name, dataset_name=dataset_name, tags=tags)
        if self.card_info is not None and self.is_world_process_zero():
            write_model_card(self.card_info, self.args.output_dir)


def resolve_base_model_id(model_name_or_path: str, override: str | None = None) -> tuple[str, str | None]:
    """The card's ``base_model`` and a note: the override, a Hub id, the id a local folder was imported from, or
    the folder's name (never empty, never "None")."""
    if override:
        return override, None
    path = Path(model_name_or_path)
    if not path.is_dir():
        return model_name_or_path, None
    meta = read_import_metadata(path) or {}
    if meta.get("base_model"):
        return str(meta["base_model"]), f"de-quantised from {meta.get('gguf_file')}"
    if meta.get("gguf_file"):
        return Path(meta["gguf_file"]).stem, "imported from a GGUF file"
    return path.resolve().name, "local folder"


def build_card_info(
    script_args: CoitScriptArguments,
    training_args: CoitSFTConfig,
    model_args: ModelConfig,
    data_summary: list[dict],
    *,
    prompt_format: str,
) -> CardInfo:
    """Collect the card's fields from the parsed recipe and the loaded data."""
    base, note = resolve_base_model_id(model_args.model_name_or_path, script_args.base_model_id)
    name = (training_args.hub_model_id or "").split("/")[-1] or Path(training_args.output_dir).name
    hyper = hyperparameters_from_args(training_args, world_size=training_args.world_size)
    if model_args.use_peft:
        hyper.update(lora_r=model_args.lora_r, lora_alpha=model_args.lora_alpha, lora_dropout=model_args.lora_dropout,
                     lora_target_modules=model_args.lora_target_modules)
        if model_args.load_in_4bit or model_args.load_in_8bit:
            hyper["quantization"] = "4-bit (QLoRA)" if model_args.load_in_4bit else "8-bit"
    return CardInfo(
        model_name=name,
        base_model=base,
        base_model_note=note,
        languages=list(script_args.languages or []),
        datasets=data_summary,
        hyperparameters=hyper,
        is_adapter=bool(model_args.use_peft),
        prompt_format=prompt_format,
        eval_results=load_eval_results(script_args.eval_results) if script_args.eval_results else None,
        attachments=parse_attachments(script_args.card_attachments),
        repo_id=training_args.hub_model_id or None,
    )


def prompt_format_name(script_args: CoitScriptArguments, chat_template_path: str | None) -> str:
    """How prompts are rendered, for the card."""
    if script_args.chat_template:
        return f"`{script_args.chat_template}` chat template" + (
            " (the paper's Alpaca prompt)" if script_args.chat_template == "alpaca" else "")
    if chat_template_path:
        return f"chat template from `{os.path.basename(chat_template_path)}`"
    return "the base tokenizer's chat template"


def build_trainer(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    dataset: DatasetDict,
    script_args: CoitScriptArguments,
    training_args: CoitSFTConfig,
    model_args: ModelConfig,
    card_info: CardInfo | None,
    added_token_ids: list[int] | None = None,
) -> CoitSFTTrainer:
    """The ``CoitSFTTrainer`` for a recipe (LoRA/QLoRA from ``model_args``; eval split when evaluation is on).

    ``added_token_ids``: tokens the chat template added, trained alongside the LoRA adapters.
    """
    eval_dataset = None
    if training_args.eval_strategy != "no":
        eval_dataset = dataset.get(script_args.dataset_test_split)
        if eval_dataset is None:
            logger.warning("eval_strategy=%s but no %r split: evaluation skipped", training_args.eval_strategy,
                           script_args.dataset_test_split)
            training_args.eval_strategy = "no"
    return CoitSFTTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset[script_args.dataset_train_split],
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=make_added_tokens_trainable(get_peft_config(model_args), model, added_token_ids or []),
        card_info=card_info,
    )


def last_checkpoint(output_dir: str) -> str | None:
    """The newest complete ``checkpoint-N`` folder in ``output_dir`` (for ``resume_from_checkpoint: true``), or None.

    Trainer writes a checkpoint's files one after another, ``trainer_state.json`` last; a run killed while saving
    leaves a folder without it (or with a truncated one). Such folders are skipped, with a warning.
    """
    import json  # noqa: PLC0415

    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR  # noqa: PLC0415

    if not os.path.isdir(output_dir):
        return None
    found = []
    for name in os.listdir(output_dir):
        step = name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-")
        if step.isdigit() and os.path.isdir(os.path.join(output_dir, name)):
            found.append((int(step), os.path.join(output_dir, name)))
    for step, folder in sorted(found, reverse=True):
        try:
            with open(os.path.join(folder, "trainer_state.json"), encoding="utf-8") as handle:
                if json.load(handle).get("global_step") == step:
                    return folder
        except (OSError, ValueError):
            pass
        logger.warning("skipping %s: incomplete (the run stopped while saving it)", folder)
    return None


def check_world_size(training_args: CoitSFTConfig) -> None:
    """Fail when a launcher started several ranks but accelerate sees one (each rank would train alone and all
    would write the same output_dir): on a machine without GPUs, torchrun needs ``use_cpu: true``."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and training_args.world_size == 1:
        raise ConfigError(
            f"launched with WORLD_SIZE={launched} but training sees 1 process "
            f"({training_args.distributed_state.distributed_type}); on CPU pass `--use_cpu true` (gloo)"
        )


_MODEL_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
_ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def missing_weights_problem(folder: str, *, adapter: bool) -> str | None:
    """Why ``folder`` (a finished run's output_dir) holds no loadable weights, or None when it does."""
    names = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    wanted = _ADAPTER_WEIGHTS if adapter else _MODEL_WEIGHTS
    if names & set(wanted):
        return None
    return (
        f"training finished but {folder} holds no {'adapter' if adapter else 'model'} weights ({' or '.join(wanted[:2])}), "
        "so no card was written and nothing was pushed. Under FSDP set `fsdp_state_dict_type: FULL_STATE_DICT` "
        "(recipes/accelerate_configs/fsdp2.yaml); under DeepSpeed ZeRO-3 set `zero3_save_16bit_model: true`"
    )


def check_saved_model(trainer: CoitSFTTrainer, folder: str, *, adapter: bool) -> None:
    """Raise on every process when the main process finds no weights in ``folder`` (checked before card/push)."""
    from accelerate.utils import broadcast_object_list  # noqa: PLC0415

    problem = [missing_weights_problem(folder, adapter=adapter) if trainer.args.should_save else None]
    if trainer.accelerator.num_processes > 1:
        broadcast_object_list(problem, from_process=0)
    if problem[0]:
        raise ConfigError(problem[0])
