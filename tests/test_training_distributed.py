"""The recipe under DeepSpeed ZeRO-3 (accelerate launch, CPU), the FSDP2 save config, the non-finite guard, the
launch refusals, the global batch arithmetic, LoRA + ZeRO-3 checkpointing and `coit-hf model merge`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from coit_hf.cli import main as coit_main
from coit_hf.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "recipes" / "sft_coit.py"
FIXTURES = ROOT / "tests" / "fixtures"
CONFIGS = ROOT / "recipes" / "accelerate_configs"
ENV = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def corpus(udhr_zh_corpus: Path) -> Path:
    return udhr_zh_corpus


def padless_copy(model: Path, out: Path) -> Path:
    """The tiny model with no pad token at all (LLaMA-1 style): the recipe must add one and resize embeddings."""
    out.mkdir()
    for item in model.iterdir():
        out.joinpath(item.name).write_bytes(item.read_bytes())
    config = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.pop("pad_token", None)
    (out / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    tok = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    for added in tok["added_tokens"]:
        if added["content"] == "<pad>":
            added["content"] = "<unused0>"
    tok["model"]["vocab"]["<unused0>"] = tok["model"]["vocab"].pop("<pad>")
    (out / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    for name in ("config.json", "generation_config.json"):
        data = json.loads((out / name).read_text(encoding="utf-8"))
        data.pop("pad_token_id", None)
        (out / name).write_text(json.dumps(data), encoding="utf-8")
    return out


def cpu_launch_config(name: str, tmp: Path, processes: int) -> Path:
    """A shipped accelerate config edited for CPU: N processes, no mixed precision."""
    config = yaml.safe_load((CONFIGS / name).read_text(encoding="utf-8"))
    config.update(num_processes=processes, use_cpu=True, mixed_precision="no")
    path = tmp / f"cpu-{name}"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def tiny_recipe(model: Path, corpus: Path, out: Path, tmp: Path, extra: str = "") -> Path:
    text = (ROOT / "recipes" / "demo" / "tiny.yaml").read_text(encoding="utf-8")
    text = text.replace("model_name_or_path: data/tiny-llama", f"model_name_or_path: {model}")
    text = text.replace("dataset_name: data/coit-zh", f"dataset_name: {corpus}").replace("max_steps: 8", "max_steps: 3")
    text = text.replace("output_dir: data/x-tiny-zh", f"output_dir: {out}")
    path = tmp / "recipe.yaml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def finite_weights(folder: Path) -> dict[str, tuple[int, ...]]:
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(folder / "model.safetensors"))
    bad = [name for name, value in weights.items() if not bool(torch.isfinite(value).all())]
    assert not bad, f"non-finite saved weights: {bad}"
    return {name: tuple(value.shape) for name, value in weights.items()}


def run_zero3(tiny_model_dir: Path, corpus: Path, tmp_path: Path, processes: int) -> tuple[str, Path]:
    pytest.importorskip("deepspeed")
    model = padless_copy(tiny_model_dir, tmp_path / "padless")
    out = tmp_path / "out"
    launch = cpu_launch_config("zero3.yaml", tmp_path, processes)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(launch), str(SCRIPT),
           "--config", str(tiny_recipe(model, corpus, out, tmp_path)), "--use_cpu", "true"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT, env={**os.environ, **ENV})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert f"world size {processes} (DistributedType.DEEPSPEED)" in log
    return log, out


def assert_trained_finitely(log: str, out: Path, tiny_model_dir: Path) -> None:
    losses = [float(x) for x in re.findall(r"'loss': '([^']+)'", log)]
    norms = [float(x) for x in re.findall(r"'grad_norm': '([^']+)'", log)]
    assert len(losses) == 3 and all(0 < x < 100 for x in losses), losses
    assert norms and all(0 < x < 1e4 for x in norms), norms
    shapes = finite_weights(out)
    vocab = json.loads((tiny_model_dir / "config.json").read_text())["vocab_size"]
    assert shapes["model.embed_tokens.weight"][0] == vocab + 1  # the pad row was added, mean-initialised
    assert (out / "README.md").is_file()


@pytest.mark.slow
def test_zero3_one_process_pad_less_tokenizer_trains_finite(tiny_model_dir, corpus, tmp_path):
    log, out = run_zero3(tiny_model_dir, corpus, tmp_path, 1)
    assert_trained_finitely(log, out, tiny_model_dir)


@pytest.mark.slow
def test_zero3_two_processes_pad_less_tokenizer_trains_finite(tiny_model_dir, corpus, tmp_path):
    log, out = run_zero3(tiny_model_dir, corpus, tmp_path, 2)
    assert_trained_finitely(log, out, tiny_model_dir)


def test_mean_initialised_rows_on_a_partition_sized_embedding(tiny_model_dir):
    """Sizes come from the module, not ``weight.shape`` (0 under ZeRO-3's partitioning)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from coit_hf.training.modeling import add_tokens_mean_initialised, embedding_rows

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    emb = model.get_input_embeddings()
    before = emb.weight.detach().clone()
    emb.weight.ds_shape = before.shape  # what DeepSpeed records; num_embeddings must win over weight.shape anyway
    assert embedding_rows(emb) == before.shape[0]
    assert add_tokens_mean_initialised(model, tokenizer, ["<|x|>", "<|y|>"]) == 2
    after = model.get_input_embeddings().weight
    assert torch.isfinite(after).all() and after.shape[0] == before.shape[0] + 2
    assert torch.allclose(after[-1], before.mean(dim=0), atol=1e-6)
    assert torch.equal(after[: before.shape[0]], before)


def test_adding_tokens_to_nan_embeddings_is_an_error(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from coit_hf.training.modeling import add_tokens_mean_initialised

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    with torch.no_grad():
        model.get_input_embeddings().weight[3, 0] = float("nan")
    with pytest.raises(ConfigError, match="not finite"):
        add_tokens_mean_initialised(model, AutoTokenizer.from_pretrained(str(tiny_model_dir)), ["<|x|>"])


# ------------------------------------------------------------------------------------------------ FSDP2
def test_fsdp2_config_saves_a_full_state_dict():
    """accelerate on CPU runs an FSDP config as MULTI_CPU (no sharding), so the save path is checked on the config:
    Trainer.save_model writes weights only when the plugin's state dict type is FULL_STATE_DICT."""
    from accelerate.utils import FullyShardedDataParallelPlugin

    fsdp = yaml.safe_load((CONFIGS / "fsdp2.yaml").read_text(encoding="utf-8"))["fsdp_config"]
    plugin = FullyShardedDataParallelPlugin(fsdp_version=fsdp["fsdp_version"],
                                            state_dict_type=fsdp["fsdp_state_dict_type"])
    assert "FULL_STATE_DICT" in str(plugin.state_dict_type)


def test_output_without_weights_is_refused_before_card_and_push(tmp_path):
    from coit_hf.training.trainer import missing_weights_problem

    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    problem = missing_weights_problem(str(tmp_path), adapter=False)
    assert problem and "FULL_STATE_DICT" in problem and "zero3_save_16bit_model" in problem
    (tmp_path / "adapter_model.safetensors").write_bytes(b"x")
    assert missing_weights_problem(str(tmp_path), adapter=True) is None
    assert missing_weights_problem(str(tmp_path), adapter=False)
    (tmp_path / "model.safetensors").write_bytes(b"x")
    assert missing_weights_problem(str(tmp_path), adapter=False) is None


# ------------------------------------------------------------------------------------------------ guard
@pytest.mark.slow
def test_guard_stops_at_an_injected_nan_and_nothing_is_saved(tiny_model_dir, corpus, tmp_path):
    """A NaN in one weight of the base model: the first loss is NaN; the run fails (exit 2) with the guard's
    message, and output_dir holds no weights and no card."""
    import torch
    from safetensors.torch import load_file, save_file

    model = tmp_path / "nan-model"
    model.mkdir()
    for item in tiny_model_dir.iterdir():
        model.joinpath(item.name).write_bytes(item.read_bytes())
    weights = load_file(str(model / "model.safetensors"))
    name = next(k for k in weights if "layers.0.mlp.down_proj" in k)
    weights[name][0, 0] = float("nan")
    save_file(weights, str(model / "model.safetensors"), metadata={"format": "pt"})
    out = tmp_path / "out"
    recipe = tiny_recipe(model, corpus, out, tmp_path)
    proc = subprocess.run([sys.executable, str(SCRIPT), "--config", str(recipe)], capture_output=True, text=True,
                          timeout=900, cwd=ROOT, env={**os.environ, **ENV})
    assert proc.returncode == 2, proc.stderr[-4000:]
    assert "non-finite loss (nan) at step 1" in proc.stderr and "Traceback" not in proc.stderr
    assert not (out / "model.safetensors").exists() and not (out / "README.md").exists()
    assert torch.isnan(weights[name]).any()


def test_guard_checks_grad_norm_and_logged_values():
    from transformers import TrainerControl, TrainerState

    from coit_hf.training.guard import NonFiniteError, NonFiniteGuard

    guard = NonFiniteGuard()
    guard.check("grad_norm", 3.5, 1)
    with pytest.raises(NonFiniteError, match="non-finite grad_norm \\(inf\\) at step 4"):
        guard.check("grad_norm", float("inf"), 4)
    state = TrainerState()
    state.global_step = 7
    with pytest.raises(NonFiniteError, match="eval_loss"):
        guard.on_log(None, state, TrainerControl(), logs={"loss": 1.0, "eval_loss": float("nan")})


def test_guard_tolerates_fp16_loss_scale_overflows_for_a_while():
    from coit_hf.training.guard import NonFiniteError, NonFiniteGuard

    guard = NonFiniteGuard(fp16=True)
    for step in range(NonFiniteGuard.FP16_OVERFLOW_STEPS):
        guard.check_grad_norm(float("inf"), step + 1)  # skipped steps while the loss scale calibrates
    guard.check_grad_norm(2.0, 26)
    for step in range(NonFiniteGuard.FP16_OVERFLOW_STEPS):
        guard.check_grad_norm(float("inf"), step + 27)
    with pytest.raises(NonFiniteError, match="26 fp16 overflows in a row"):
        guard.check_grad_norm(float("nan"), 60)
    with pytest.raises(NonFiniteError, match="loss"):
        guard.check("loss", float("nan"), 61)  # a NaN loss is never tolerated


def test_final_save_refuses_non_finite_weights(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    from coit_hf.training.guard import NonFiniteError, check_weights_finite

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    check_weights_finite(model)
    with torch.no_grad():
        model.model.norm.weight[1] = float("inf")
    with pytest.raises(NonFiniteError, match="model.norm.weight"):
        check_weights_finite(model)


# ------------------------------------------------------------------------------------------------ refusals
def _args(**overrides):
    script = SimpleNamespace(merge_adapter=False, global_batch_size=None)
    training = SimpleNamespace(deepspeed_plugin=None, fsdp=None, use_cpu=False, world_size=1,
                               per_device_train_batch_size=4, gradient_accumulation_steps=4,
                               activation_checkpointing=True, activation_checkpointing_kwargs=None,
                               gradient_checkpointing_kwargs=None)
    model = SimpleNamespace(load_in_4bit=False, load_in_8bit=False, bnb_4bit_quant_storage=None, use_peft=True,
                            dtype="bfloat16")
    for key, value in overrides.items():
        target = next(ns for ns in (script, training, model) if hasattr(ns, key))
        setattr(target, key, value)
    return script, training, model


ZERO3 = SimpleNamespace(zero_stage=3)
REFUSALS = {
    "qlora-zero3-without-quant-storage": (dict(load_in_4bit=True, deepspeed_plugin=ZERO3), 0,
                                          "bnb_4bit_quant_storage: bfloat16"),
    "qlora-fsdp-without-quant-storage": (dict(load_in_4bit=True, fsdp="full_shard"), 0, "bnb_4bit_quant_storage"),
    "8bit-under-zero3": (dict(load_in_8bit=True, deepspeed_plugin=ZERO3), 0, "load_in_4bit"),
    "several-gpus-without-launcher": ({}, 4, "accelerate launch"),
    "full-bf16-ddp-without-master-weights": (dict(use_peft=False), 0, "fp32 master weights"),
    "full-fp16-ddp-without-master-weights": (dict(use_peft=False, dtype="float16"), 0, "dtype: float32"),
    "merge-inside-zero3": (dict(merge_adapter=True, deepspeed_plugin=ZERO3), 0, "coit-hf model merge"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_combination_that_cannot_work_is_refused_with_the_fix(case, monkeypatch):
    from coit_hf.training.launch import check_combination

    overrides, gpus, fix = REFUSALS[case]
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    with pytest.raises(ConfigError) as info:
        check_combination(*_args(**overrides), visible_gpus=gpus)
    assert fix in str(info.value)


@pytest.mark.parametrize("overrides", [
    dict(load_in_4bit=True, bnb_4bit_quant_storage="bfloat16", deepspeed_plugin=ZERO3),  # QLoRA + ZeRO-3 done right
    dict(use_peft=False, deepspeed_plugin=ZERO3),  # full bf16 FT under ZeRO-3 keeps fp32 master weights
    dict(use_peft=False, dtype="float32"),
    dict(merge_adapter=True),  # one process: merging in place is fine
])
def test_working_combinations_pass(overrides, monkeypatch):
    from coit_hf.training.launch import check_combination

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    check_combination(*_args(**overrides), visible_gpus=1)


def test_global_batch_size_keeps_128_on_16_processes(caplog):
    from coit_hf.training.launch import apply_global_batch_size

    script, training, _ = _args(global_batch_size=128, world_size=16)
    assert apply_global_batch_size(script, training) == 128
    assert training.gradient_accumulation_steps == 2  # 4 x 2 x 16
    assert "4 per device x 4 accumulation x 16 processes = 256, not 128" in caplog.text
    script, training, _ = _args(global_batch_size=128, world_size=3)
    with pytest.raises(ConfigError, match="4 x 3 = 12"):
        apply_global_batch_size(script, training)


@pytest.mark.parametrize("recipe, launch", [
    ("x-model/zh.yaml", "zero3.yaml"), ("x-model/zh.yaml", "multi_node.yaml"), ("x-model/zh-lora.yaml", "ddp.yaml"),
    ("x-model/zh-qlora.yaml", "ddp.yaml"), ("x-model/zh-qlora.yaml", "zero3.yaml"), ("m-model/m-model.yaml", "zero3.yaml"),
    ("m-model/m-model-lora.yaml", "ddp.yaml"), ("m-model/m-model.yaml", "multi_node.yaml"),
])
def test_shipped_recipes_reach_a_global_batch_of_128(recipe, launch):
    from coit_hf.training.launch import apply_global_batch_size

    values = yaml.safe_load((ROOT / "recipes" / recipe).read_text(encoding="utf-8"))
    processes = yaml.safe_load((CONFIGS / launch).read_text(encoding="utf-8"))["num_processes"]
    script = SimpleNamespace(global_batch_size=values.get("global_batch_size"))
    training = SimpleNamespace(world_size=processes, per_device_train_batch_size=values["per_device_train_batch_size"],
                               gradient_accumulation_steps=values.get("gradient_accumulation_steps", 1))
    assert apply_global_batch_size(script, training) == 128


def test_lora_under_zero3_gets_reentrant_checkpointing_on_the_field_trainer_reads():
    from coit_hf.training.launch import force_reentrant_checkpointing

    _, training, model = _args(deepspeed_plugin=ZERO3, activation_checkpointing_kwargs={"every_n_layers": 1})
    force_reentrant_checkpointing(training, model)
    assert training.activation_checkpointing_kwargs == {"every_n_layers": 1, "use_reentrant": True}
    assert training.gradient_checkpointing_kwargs is training.activation_checkpointing_kwargs
    _, training, model = _args()  # DDP: untouched
    force_reentrant_checkpointing(training, model)
    assert training.activation_checkpointing_kwargs is None


# ------------------------------------------------------------------------------------------------ merge
@pytest.fixture
def adapter_dir(tiny_model_dir, tmp_path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    out = tmp_path / "adapter"
    peft_model.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(out)
    return out


def test_model_merge_cli_writes_a_full_model_equal_to_base_plus_adapter(adapter_dir, tiny_model_dir, tmp_path,
                                                                        capsys):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "merged"
    assert coit_main(["model", "merge", str(adapter_dir), "--out", str(out), "--dtype", "float32"]) == 0
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert not (out / "adapter_config.json").exists()
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    batch = tokenizer("三原色是什么？", return_tensors="pt")
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    with torch.no_grad():
        expected = PeftModel.from_pretrained(base, str(adapter_dir)).eval()(**batch).logits
        merged = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()(**batch).logits
    assert torch.allclose(expected, merged, atol=1e-5)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".merged")]  # no temporary folder left


@pytest.mark.parametrize("case", ["not-an-adapter", "out-is-a-file", "out-not-empty", "missing-base"])
def test_model_merge_bad_input_exits_2(case, adapter_dir, tiny_model_dir, tmp_path, capsys):
    folder, out, extra = adapter_dir, tmp_path / "merged", []
    if case == "not-an-adapter":
        folder = tiny_model_dir
    elif case == "out-is-a-file":
        out.write_text("x", encoding="utf-8")
    elif case == "out-not-empty":
        out.mkdir()
        (out / "notes.txt").write_text("keep", encoding="utf-8")
    else:
        extra = ["--base-model", str(tmp_path / "gone")]
    assert coit_main(["model", "merge", str(folder), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()
    fragment = {"not-an-adapter": "adapter_config.json", "out-is-a-file": "is a file",
                "out-not-empty": "--overwrite", "missing-base": "--base-model"}[case]
    assert fragment in err, err
    if case == "out-not-empty":
        assert (out / "notes.txt").read_text(encoding="utf-8") == "keep"
