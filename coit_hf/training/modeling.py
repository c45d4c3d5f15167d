"""Model and tokenizer for SFT: chat template, pad token (mean-initialised row), EOS consistency."""

from __future__ import annotations

import contextlib
import logging
import os
import re

import torch
from tokenizers import AddedToken
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from trl import ModelConfig, get_quantization_config

from coit_hf.errors import ConfigError, InputError
from coit_hf.training.config import CoitSFTConfig

logger = logging.getLogger(__name__)

DEFAULT_PAD_TOKEN = "<pad>"
_SPECIAL_LITERAL = re.compile(r"<\|[A-Za-z0-9_]+\|>")


def load_tokenizer(model_args: ModelConfig, training_args: CoitSFTConfig) -> PreTrainedTokenizerBase:
    """The base model's tokenizer (right padding, as causal-LM training expects)."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            model_args.model_name_or_path,
            revision=model_args.model_revision,
            trust_remote_code=training_args.trust_remote_code,
        )
    except (OSError, ValueError) as exc:
        raise loading_error(model_args.model_name_or_path, exc) from exc
    tokenizer.padding_side = "right"
    return tokenizer


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "tekken.json")
_TOKENIZER_SUFFIXES = (".model", ".tiktoken")  # SentencePiece (spiece.model, sentencepiece.bpe.model), tiktoken
_WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json", ".bin", ".bin.index.json", ".pt", ".pth", ".ckpt")


def check_model_folder(path: str) -> None:
    """A local model folder needs ``config.json``, tokenizer files and weights; say which are missing (transformers
    would fail on the first one with a message about tokenizer backends or configs)."""
    if not os.path.isdir(path):
        if os.path.exists(path):
            raise InputError("model_name_or_path is a file; it must be a model folder or a Hub id", path=path,
                             field="model_name_or_path")
        return
    names = sorted(os.listdir(path))
    missing = []
    if "config.json" not in names:
        missing.append("config.json")
    if not any(name in _TOKENIZER_FILES or name.endswith(_TOKENIZER_SUFFIXES) for name in names):
        missing.append(f"a tokenizer ({' or '.join(_TOKENIZER_FILES[:3])})")
    if not any(name.endswith(_WEIGHT_SUFFIXES) for name in names):
        missing.append("weights (model.safetensors)")
    if missing:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "") if names else "nothing"
        raise InputError(f"not a complete model folder: missing {', '.join(missing)} (it holds: {shown}); save "
                         "one with `save_pretrained` or `coit-hf model import-gguf`", path=path,
                         field="model_name_or_path")


def _from_pretrained_options() -> set[str]:
    """Keyword options ``PreTrainedModel.from_pretrained`` takes: its parameters and the keys it pops from
    ``**kwargs`` (read from the installed transformers, so a new option is known without a code change)."""
    import inspect  # noqa: PLC0415

    from transformers import PreTrainedModel  # noqa: PLC0415

    method = PreTrainedModel.from_pretrained
    names = set(inspect.signature(method).parameters) - {"cls", "args", "kwargs", "model_args"}
    names |= set(re.findall(r'kwargs\.pop\(\s*"([A-Za-z_]+)"', inspect.getsource(method)))
    return names


def check_init_kwargs(model_args: ModelConfig, training_args: CoitSFTConfig) -> None:
    """Every ``model_init_kwargs`` key is a ``from_pretrained`` option or an attribute of the model's config (the
    two things transformers accepts); otherwise a misspelt key fails deep inside the model's constructor."""
    kwargs = training_args.model_init_kwargs or {}
    if not kwargs:
        return
    import difflib  # noqa: PLC0415

    from transformers import AutoConfig  # noqa: PLC0415

    try:
        config = AutoConfig.from_pretrained(model_args.model_name_or_path, revision=model_args.model_revision,
                                            trust_remote_code=training_args.trust_remote_code)
        attributes = set(config.to_dict()) | set(dir(config))
    except (OSError, ValueError):
        attributes = set()  # the model itself fails to load below, with its own message
    known = _from_pretrained_options() | attributes
    for key in kwargs:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"model_init_kwargs: unknown key {key!r}{hint}: not a from_pretrained option nor an "
                              f"attribute of the model's config")


def load_model(model_args: ModelConfig, training_args: CoitSFTConfig) -> PreTrainedModel:
    """The base causal LM with the recipe's dtype, attention implementation and (QLoRA) quantization."""
    if not model_args.model_name_or_path:
        raise ConfigError("a recipe needs `model_name_or_path`")
    dtype = model_args.dtype if model_args.dtype in ("auto", None) else getattr(torch, model_args.dtype)
    kwargs = dict(
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
        attn_implementation=model_args.attn_implementation,
        dtype=dtype,
    )
    kwargs["use_safetensors"] = True  # no pickled weights unless the recipe opts in (model_init_kwargs)
    quantization_config = get_quantization_config(model_args)
    if quantization_config is not None:
        from coit_hf.training.launch import quantized_device_map  # noqa: PLC0415

        # k-bit weights are placed at load time: one whole model per process under DDP, by the sharding otherwise
        kwargs["quantization_config"] = quantization_config
        device_map = quantized_device_map(training_args)
        if device_map is not None:
            kwargs["device_map"] = device_map
    kwargs.update(training_args.model_init_kwargs or {})
    try:
        model = AutoModelForCausalLM.from_pretrained(model_args.model_name_or_path, **kwargs)
    except (OSError, ValueError) as exc:
        raise loading_error(model_args.model_name_or_path, exc, safetensors_only=kwargs["use_safetensors"]) from exc
    if getattr(model, "hf_quantizer", None) is not None and quantization_config is None:
        raise ConfigError(
            f"{model_args.model_name_or_path} loads as a quantized model ({type(model.hf_quantizer).__name__}); "
            "import it first with `coit-hf model import-gguf FILE --out DIR` and train from DIR"
        )
    return model


def loading_error(path: str, exc: Exception, *, safetensors_only: bool = False) -> Exception:
    """A clear error for a model/tokenizer that cannot be loaded: missing, pickled weights only, or custom code."""
    text = str(exc)
    if "trust_remote_code" in text or "custom code" in text:
        return ConfigError(f"{path} contains custom model code; it runs only with `trust_remote_code: true` in the "
                           "recipe — set it only for code you have read and trust")
    if safetensors_only and os.path.isdir(path) and any(p.endswith((".bin", ".pt", ".pth", ".ckpt"))
                                                        for p in os.listdir(path)):
        return ConfigError(f"{path} has no safetensors weights, only pickled ones (loading a pickle can run code); "
                           "convert them to safetensors, or opt in with `model_init_kwargs: {use_safetensors: false}`")
    if isinstance(exc, OSError) and not os.path.exists(path):
        return InputError(f"model not found: no such folder, and not a model on the Hub ({text.splitlines()[0]})",
                          path=path, field="model_name_or_path")
    if isinstance(exc, OSError):
        return InputError(f"cannot load the model: {text.splitlines()[0]}", path=path, field="model_name_or_path")
    # e.g. transformers' "DeepSpeed Zero-3 is not compatible with passing a `device_map`" (model_init_kwargs)
    return ConfigError(f"cannot load {path}: {' '.join(text.split())[:500]}")


def embedding_rows(module: torch.nn.Module) -> int:
    """Rows of an embedding or LM head, also when ZeRO-3 has partitioned its weight (``weight.shape`` reads 0 there;
    ``num_embeddings`` / ``out_features`` and DeepSpeed's ``ds_shape`` keep the full size)."""
    for name in ("num_embeddings", "out_features"):
        if isinstance(getattr(module, name, None), int):
            return getattr(module, name)
    weight = module.weight
    return int((getattr(weight, "ds_shape", None) or weight.shape)[0])


@contextlib.contextmanager
def gathered_for_write(params: list[torch.nn.Parameter]):
    """Full parameters for an in-place write: under ZeRO-3 they are gathered and rank 0's values are kept
    (``deepspeed.zero.GatheredParameters(..., modifier_rank=0)``); elsewhere a no-op."""
    if any(hasattr(p, "ds_id") for p in params):
        import deepspeed  # noqa: PLC0415 - present whenever parameters carry ZeRO-3 attributes

        with deepspeed.zero.GatheredParameters(params, modifier_rank=0):
            yield
    else:
        yield


def add_tokens_mean_initialised(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                                tokens: list[str], *, as_pad: bool = False) -> int:
    """Add special tokens and give every new embedding row (input and output) the mean of the old rows.

    This is the Alpaca/paper recipe (``smart_tokenizer_and_embedding_resize``). Works with weights partitioned by
    DeepSpeed ZeRO-3 (sizes from the module, rows written on the gathered weight) and with FSDP's meta-device
    copies on ranks > 0 (rank 0's rows are broadcast). The new rows are checked finite. Returns the number of new
    tokens.
    """
    old = embedding_rows(model.get_input_embeddings())
    if as_pad:
        added = tokenizer.add_special_tokens({"pad_token": tokens[0]})
    else:
        added = tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in tokens],
                                     special_tokens=True)
    if len(tokenizer) <= old:
        return added  # the tokens already had rows (embedding larger than the vocabulary)
    if old == 0:
        raise ConfigError("the model's input embedding has no rows; cannot add tokens")
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    modules = [m for m in (model.get_input_embeddings(), model.get_output_embeddings()) if m is not None]
    weights = list({id(m.weight): m.weight for m in modules}.values())  # tied embeddings: one tensor
    with torch.no_grad(), gathered_for_write(weights):
        for weight in weights:
            if weight.is_meta:
                continue  # FSDP's low-memory loading: rank 0 holds the values and broadcasts them
            weight[old:] = weight[:old].float().mean(dim=0, keepdim=True).to(weight.dtype)
            if not bool(torch.isfinite(weight[old:]).all()):
                raise ConfigError(
                    f"the mean of the {old} existing embedding rows is not finite: the base model's embeddings hold "
                    "NaN/inf values; check the model folder"
                )
    return added


def apply_chat_template(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, template: str) -> list[str]:
    """Install a chat template (Jinja text) on the tokenizer; add the ``<|...|>`` tokens it uses when missing.

    With a ChatML-style template the end-of-turn token becomes EOS (generation must stop there). Returns the tokens
    that were added.
    """
    tokenizer.chat_template = template
    vocab = tokenizer.get_vocab()
    literals = list(dict.fromkeys(_SPECIAL_LITERAL.findall(template)))
    missing = [tok for tok in literals if tok not in vocab]
    if missing:
        add_tokens_mean_initialised(model, tokenizer, missing)
        logger.info("added chat-template tokens %s (mean-initialised embeddings)", missing)
    if "<|im_end|>" in literals and "eos_token" not in template:
        tokenizer.eos_token = "<|im_end|>"
    return missing


def read_template_source(path: str) -> str:
    """Chat template text from a ``.jinja`` file or from a tokenizer (folder or Hub id)."""
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    source = AutoTokenizer.from_pretrained(path)
    if not source.chat_template:
        raise ConfigError(f"chat_template_path {path!r} has no chat template")
    return source.chat_template


def check_template_syntax(template: str, source: str) -> None:
    """Compile a chat template the way transformers does; a Jinja syntax error names the file and line."""
    import jinja2  # noqa: PLC0415
    from transformers.utils.chat_template_utils import _compile_jinja_template  # noqa: PLC0415

    try:
        _compile_jinja_template(template)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"chat template has a Jinja syntax error: {exc.message}", path=source,
                         line=exc.lineno, field="chat_template") from None


def ensure_pad_token(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                     pad_token: str = DEFAULT_PAD_TOKEN) -> bool:
    """Add a pad token (mean-initialised embedding) when the tokenizer has none; True when one was added."""
    if tokenizer.pad_token is not None:
        return False
    add_tokens_mean_initialised(model, tokenizer, [pad_token], as_pad=True)
    logger.info("added pad token %r (mean-initialised embedding)", pad_token)
    return True


def sync_special_tokens(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Make model config and generation config agree with the tokenizer on EOS, pad and BOS ids."""
    text_config = model.config.get_text_config()
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ConfigError("the tokenizer has no EOS token: set `eos_token` in the recipe")
    text_config.eos_token_id = eos
    text_config.pad_token_id = tokenizer.pad_token_id
    if tokenizer.bos_token_id is not None:
        text_config.bos_token_id = tokenizer.bos_token_id
    gen = model.generation_config
    if gen is not None:
        ids = gen.eos_token_id
        ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
        gen.eos_token_id = eos if not ids or ids == [eos] else [eos, *[i for i in ids if i != eos]]
        gen.pad_token_id = tokenizer.pad_token_id
        if tokenizer.bos_token_id is not None:
            gen.bos_token_id = tokenizer.bos_token_id


def prepare_model_and_tokenizer(
    model_args: ModelConfig, training_args: CoitSFTConfig
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, list[int]]:
    """Load model and tokenizer, install the chat template, add a pad token, make EOS consistent.

    Returns the model, the tokenizer and the ids of tokens the chat template added (they must be trainable
    under LoRA, see :func:`make_added_tokens_trainable`).

    The template from ``training_args.chat_template_path`` is applied here (not by TRL) so the pre-flight check
    sees exactly what training sees; ``chat_template_path`` is then cleared so TRL does not apply it again.
    """
    check_model_folder(model_args.model_name_or_path)
    check_init_kwargs(model_args, training_args)
    template = None
    if training_args.chat_template_path is not None:
        template = read_template_source(training_args.chat_template_path)
        check_template_syntax(template, training_args.chat_template_path)
    tokenizer = load_tokenizer(model_args, training_args)
    model = load_model(model_args, training_args)
    if training_args.eos_token is not None:
        if training_args.eos_token not in tokenizer.get_vocab():
            raise ConfigError(f"eos_token {training_args.eos_token!r} is not in the tokenizer's vocabulary")
        tokenizer.eos_token = training_args.eos_token
    added: list[str] = []
    if template is not None:
        added = apply_chat_template(model, tokenizer, template)
        training_args.chat_template_path = None
    if not tokenizer.chat_template:
        raise ConfigError(
            f"{model_args.model_name_or_path} has no chat template: set `chat_template: alpaca` (the paper's prompt) "
            "or `chat_template: chatml` in the recipe"
        )
    ensure_pad_token(model, tokenizer)
    sync_special_tokens(model, tokenizer)
    training_args.eos_token = None  # applied above; TRL would otherwise prepend it to the generation config again
    return model, tokenizer, tokenizer.convert_tokens_to_ids(added)


def make_added_tokens_trainable(peft_config, model: PreTrainedModel, token_ids: list[int]):
    """With LoRA, new template tokens (e.g. ChatML's end of turn = EOS) would keep their initial embeddings and the
    model could never learn to emit them: train the input and output embeddings fully (``modules_to_save``).

    PEFT's lighter ``trainable_token_indices`` would train only those rows, but TRL 1.16's fused LM-head loss reads
    ``lm_head.weight``/``.bias`` directly and fails on PEFT's token wrapper. Returns the updated config.
    """
    if peft_config is None or not token_ids:
        return peft_config
    names = [model.get_input_embeddings(), model.get_output_embeddings()]
    modules = [name for name, module in model.named_modules() if any(module is m for m in names if m is not None)]
    leaf = [m.rsplit(".", 1)[-1] for m in modules]
    peft_config.modules_to_save = list(dict.fromkeys([*(peft_config.modules_to_save or []), *leaf]))
    if model.config.get_text_config().tie_word_embeddings and hasattr(peft_config, "ensure_weight_tying"):
        peft_config.ensure_weight_tying = True  # keep input and output rows one tensor, as in the base model
    logger.warning("the chat template added tokens %s: training %s fully alongside the LoRA adapters", token_ids,
                   ", ".join(leaf))
    return peft_config
