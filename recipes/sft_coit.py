"""Supervised fine-tuning of an x-model / m-model (CoIT, Zhu et al. 2023) with TRL's SFTTrainer.

    accelerate launch --config_file recipes/accelerate_configs/ddp.yaml recipes/sft_coit.py \
        --config recipes/x-model/zh.yaml --model_name_or_path <base> --output_dir data/x-zh

    torchrun --nproc_per_node 2 recipes/sft_coit.py --config recipes/demo/tiny.yaml   # CPU, gloo

Every field of the YAML is a field of CoitScriptArguments, CoitSFTConfig or TRL's ModelConfig (``--help``);
command-line flags override the YAML; an unknown key fails. The story: parse, load data, load model and tokenizer,
pre-flight check, train, save, card, push. Combinations that cannot work (QLoRA under ZeRO-3/FSDP
without quant storage, several GPUs without a launcher, bf16 full fine-tuning without fp32 master weights) are
refused before loading; a NaN/inf loss or gradient norm stops the run with nothing saved.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

import transformers
from transformers.trainer_utils import set_seed
from trl import ModelConfig

from coit_hf.errors import CoitError
from coit_hf.hub.push import push_folder
from coit_hf.training.config import CoitScriptArguments, CoitSFTConfig, parse_recipe
from coit_hf.training.data import load_training_data
from coit_hf.training.launch import apply_global_batch_size, check_combination, force_reentrant_checkpointing
from coit_hf.training.merge import merge_adapter_folder
from coit_hf.training.modeling import prepare_model_and_tokenizer
from coit_hf.training.preflight import align_template_bos, run_preflight
from coit_hf.training.trainer import (
    build_card_info,
    build_trainer,
    check_saved_model,
    check_world_size,
    last_checkpoint,
    prompt_format_name,
)

logger = logging.getLogger("coit_hf.sft")


def main(argv: list[str] | None = None) -> int:
    """Run one recipe; returns the exit code. A run that fails leaves no output_dir it created empty."""
    script_args, training_args, model_args = parse_recipe(argv)
    output_dir = Path(training_args.output_dir)
    existed = output_dir.exists()
    try:
        return run(script_args, training_args, model_args)
    except BaseException:
        if not existed:
            with contextlib.suppress(OSError):
                output_dir.rmdir()  # only when empty: checkpoints of a failed run stay for resuming
        raise


def run(script_args: CoitScriptArguments, training_args: CoitSFTConfig, model_args: ModelConfig) -> int:
    """The recipe's story after parsing: launch checks, data, model, train, save, card, push."""
    logging.basicConfig(level=training_args.get_process_log_level(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    transformers.utils.logging.set_verbosity(training_args.get_process_log_level())
    check_world_size(training_args)
    # Launch/model combinations that cannot work are refused before anything is loaded
    check_combination(script_args, training_args, model_args)
    apply_global_batch_size(script_args, training_args)
    force_reentrant_checkpointing(training_args, model_args)
    set_seed(training_args.seed)
    template_source = training_args.chat_template_path

    # Data: a corpus folder / Hub id, or a mixture (contracts 1 and 2)
    dataset, data_summary = load_training_data(script_args, with_eval=training_args.eval_strategy != "no")

    # Model and tokenizer: chat template, pad token (mean-initialised), EOS consistency
    model, tokenizer, added_token_ids = prepare_model_and_tokenizer(model_args, training_args)
    align_template_bos(tokenizer)  # BOS in training exactly when the tokenizer adds it to evaluation prompts
    if script_args.preflight_examples > 0:
        run_preflight(tokenizer, dataset[script_args.dataset_train_split],
                      assistant_only_loss=training_args.assistant_only_loss,
                      num_examples=script_args.preflight_examples, max_length=training_args.max_length)

    card_info = build_card_info(script_args, training_args, model_args, data_summary,
                                prompt_format=prompt_format_name(script_args, template_source))
    trainer = build_trainer(model, tokenizer, dataset, script_args, training_args, model_args, card_info,
                            added_token_ids)
    trainer.accelerator.print(f"coit-hf: world size {trainer.accelerator.num_processes} "
                              f"({trainer.accelerator.distributed_type})")

    # Train (resume_from_checkpoint: a checkpoint folder, or true/last for the newest in output_dir)
    resume = training_args.resume_from_checkpoint
    if isinstance(resume, str) and resume.lower() in ("true", "last"):
        resume = last_checkpoint(training_args.output_dir)
    trainer.train(resume_from_checkpoint=resume)

    # Save model/adapter + tokenizer + chat template (refused when a weight is NaN/inf), check the folder holds
    # weights, then card and push: nothing is carded or pushed from a run that saved no weights.
    adapter = bool(model_args.use_peft)
    merge = adapter and script_args.merge_adapter  # one process only (refused before loading otherwise)
    push = training_args.push_to_hub
    trainer.args.push_to_hub = False
    trainer.save_model(training_args.output_dir)
    check_saved_model(trainer, training_args.output_dir, adapter=adapter)
    trainer.create_model_card()
    if training_args.eval_strategy != "no":
        trainer.log_metrics("eval", trainer.evaluate())
    if merge and trainer.is_world_process_zero():
        merged = merge_adapter_folder(training_args.output_dir, f"{training_args.output_dir}/merged",
                                      overwrite=True)
        if push:
            push_folder(merged, training_args.hub_model_id or Path(training_args.output_dir).name,
                        private=training_args.hub_private_repo, revision=training_args.hub_revision,
                        token=training_args.hub_token)
    elif adapter and trainer.is_world_process_zero():
        trainer.accelerator.print(f"coit-hf: adapter saved; merge it with `coit-hf model merge "
                                  f"{training_args.output_dir} --out {training_args.output_dir}/merged`")
    if push and not merge:
        trainer.args.push_to_hub = True
        trainer.push_to_hub(revision=training_args.hub_revision)  # saves again, writes our card, one commit
    trainer.accelerator.wait_for_everyone()
    trainer.end()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CoitError as exc:
        print(f"sft_coit: error: {exc}", file=sys.stderr)
        sys.exit(2)
