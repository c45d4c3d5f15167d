"""How a recipe is launched (DDP, FSDP, DeepSpeed ZeRO-3, one process) and the combinations that cannot work there.

Every check runs before the model is loaded and says what to change. Written against accelerate 1.15 /
transformers 5.23 (``TrainingArguments.deepspeed_plugin``, the ``ACCELERATE_USE_*`` variables ``accelerate launch``
sets) and TRL 1.16.
"""

from __future__ import annotations

import logging
import os

from trl import ModelConfig

from coit_hf.errors import ConfigError
from coit_hf.training.config import CoitScriptArguments, CoitSFTConfig

logger = logging.getLogger(__name__)


def _env_true(name: str) -> bool:
    return os.environ.get(name, "false").strip().lower() in ("1", "true", "yes")


def sharding(training_args: CoitSFTConfig) -> str | None:
    """``"zero3"``, ``"deepspeed"`` (stage 1/2), ``"fsdp"`` or None (DDP / one process)."""
    plugin = getattr(training_args, "deepspeed_plugin", None)
    if plugin is not None:
        return "zero3" if plugin.zero_stage == 3 else "deepspeed"
    if _env_true("ACCELERATE_USE_FSDP") or training_args.fsdp:
        return "fsdp"
    return None


def launched_world_size() -> int:
    """Processes the launcher started (``WORLD_SIZE``; 1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def check_combination(script_args: CoitScriptArguments, training_args: CoitSFTConfig, model_args: ModelConfig,
                      *, visible_gpus: int | None = None) -> None:
    """Refuse launch/model combinations that fail or silently train badly, before anything is loaded."""
    mode = sharding(training_args)
    quantized = bool(model_args.load_in_4bit or model_args.load_in_8bit)
    if visible_gpus is None:
        import torch  # noqa: PLC0415

        visible_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if visible_gpus > 1 and "WORLD_SIZE" not in os.environ and not training_args.use_cpu:
        raise ConfigError(
            f"{visible_gpus} GPUs are visible but the recipe was started without a launcher (Trainer would fall "
            "back to DataParallel): run it with `accelerate launch --config_file recipes/accelerate_configs/ddp.yaml "
            "recipes/sft_coit.py ...`, or choose one GPU with CUDA_VISIBLE_DEVICES=0"
        )
    if quantized and model_args.load_in_8bit and mode in ("zero3", "fsdp"):
        raise ConfigError(f"8-bit loading cannot be sharded by {mode}: use `load_in_4bit: true` with "
                          "`bnb_4bit_quant_storage: bfloat16`, or the ddp.yaml config")
    if quantized and mode in ("zero3", "fsdp") and not model_args.bnb_4bit_quant_storage:
        raise ConfigError(
            f"QLoRA under {'DeepSpeed ZeRO-3' if mode == 'zero3' else 'FSDP'} needs the 4-bit weights stored in the "
            "training dtype so they can be sharded: add `bnb_4bit_quant_storage: bfloat16` to the recipe "
            "(or launch with recipes/accelerate_configs/ddp.yaml)"
        )
    low_precision = model_args.dtype in ("bfloat16", "float16")
    if not model_args.use_peft and low_precision and mode is None and not quantized:
        raise ConfigError(
            f"full fine-tuning with `dtype: {model_args.dtype}` under DDP/one process keeps no fp32 master weights "
            "(most AdamW updates at small learning rates round away): load in fp32 with `dtype: float32` (keep "
            "`bf16: true` for mixed precision), or launch with recipes/accelerate_configs/zero3.yaml or fsdp2.yaml, "
            "which keep fp32 master weights"
        )
    if model_args.use_peft and script_args.merge_adapter and (launched_world_size() > 1 or mode is not None):
        raise ConfigError(
            f"`merge_adapter: true` cannot run inside a {launched_world_size()}-process/{mode or 'DDP'} launch (the "
            "merge loads the full base model in one process): set `merge_adapter: false` and merge afterwards with "
            "`coit-hf model merge OUTPUT_DIR --out OUTPUT_DIR/merged`"
        )


def apply_global_batch_size(script_args: CoitScriptArguments, training_args: CoitSFTConfig) -> int:
    """With ``global_batch_size`` set, choose ``gradient_accumulation_steps`` so that per-device batch x
    accumulation x processes equals it (a warning shows the arithmetic when the recipe's value changes).

    Returns the global batch size training will use.
    """
    world = max(training_args.world_size, 1)
    per_step = training_args.per_device_train_batch_size * world
    target = script_args.global_batch_size
    if target is None:
        return per_step * training_args.gradient_accumulation_steps
    if target % per_step:
        raise ConfigError(
            f"global_batch_size {target} is not a multiple of per_device_train_batch_size x processes = "
            f"{training_args.per_device_train_batch_size} x {world} = {per_step}: change per_device_train_batch_size"
        )
    steps = target // per_step
    if steps != training_args.gradient_accumulation_steps:
        logger.warning(
            "global batch: %d per device x %d accumulation x %d processes = %d, not %d: using "
            "gradient_accumulation_steps=%d (%d x %d x %d = %d)", training_args.per_device_train_batch_size,
            training_args.gradient_accumulation_steps, world,
            per_step * training_args.gradient_accumulation_steps, target, steps,
            training_args.per_device_train_batch_size, steps, world, target)
        training_args.gradient_accumulation_steps = steps
    return target


def force_reentrant_checkpointing(training_args: CoitSFTConfig, model_args: ModelConfig) -> None:
    """LoRA under ZeRO-3 needs reentrant activation checkpointing. TRL 1.16 sets it on the deprecated
    ``gradient_checkpointing_kwargs`` alias only (a new dict), while Trainer reads ``activation_checkpointing_kwargs``:
    set it on the field Trainer reads and keep both names one dict."""
    if not (model_args.use_peft and sharding(training_args) == "zero3" and training_args.activation_checkpointing):
        return
    kwargs = dict(training_args.activation_checkpointing_kwargs or {})
    kwargs["use_reentrant"] = True
    training_args.activation_checkpointing_kwargs = kwargs
    training_args.gradient_checkpointing_kwargs = kwargs


def quantized_device_map(training_args: CoitSFTConfig) -> dict[str, int] | None:
    """The ``device_map`` for k-bit loading: one whole model per process under DDP; none under ZeRO-3/FSDP
    (transformers refuses a device_map with ZeRO-3; the sharding places the weights)."""
    if sharding(training_args) in ("zero3", "fsdp"):
        return None
    from accelerate import PartialState  # noqa: PLC0415

    return {"": PartialState().local_process_index}
