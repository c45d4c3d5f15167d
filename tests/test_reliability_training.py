"""Bad inputs to a training recipe (`recipes/sft_coit.py`) and to evaluation / report: each fails before any
training with a CoitError naming the file, line or field (the script turns it into exit 2 without a traceback),
and leaves no output behind."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from coit_hf.cli import main as coit_main
from coit_hf.errors import CoitError

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "recipes" / "sft_coit.py"
FIXTURES = ROOT / "tests" / "fixtures"
ENV = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def sft_main():
    return runpy.run_path(str(SCRIPT), run_name="coit_sft_tests")["main"]


@pytest.fixture(scope="module")
def corpus(udhr_zh_corpus: Path) -> Path:
    return udhr_zh_corpus


def base_recipe(model: Path, corpus: Path) -> str:
    text = (ROOT / "recipes" / "demo" / "tiny.yaml").read_text(encoding="utf-8")
    text = text.replace("model_name_or_path: data/tiny-llama", f"model_name_or_path: {model}")
    text = text.replace("dataset_name: data/coit-zh", f"dataset_name: {corpus}").replace("max_steps: 8", "max_steps: 1")
    assert str(model) in text and str(corpus) in text
    return text


def _sub(old: str, new: str):
    def edit(text: str, tmp: Path) -> str:
        assert old in text, old
        return text.replace(old, new)
    return edit


def _append(extra: str):
    return lambda text, tmp: text + extra


def _nogen_template(text: str, tmp: Path) -> str:
    (tmp / "nogen.jinja").write_text("{% for m in messages %}{{ m['content'] }}\n{% endfor %}", encoding="utf-8")
    return text.replace("chat_template: alpaca", f"chat_template: {tmp / 'nogen.jinja'}")


def _mixture_bad_key(text: str, tmp: Path) -> str:
    corpus = text.split("dataset_name: ")[1].splitlines()[0]
    (tmp / "mix.yaml").write_text(f"datasets:\n  - {{path: {corpus}, name: translation, splt: train}}\n",
                                  encoding="utf-8")
    return text + f"mixture_file: {tmp / 'mix.yaml'}\n"


def _broken_results(text: str, tmp: Path) -> str:
    (tmp / "results.json").write_text('{"model": "x",\n "tasks": {', encoding="utf-8")
    return text + f"eval_results: {tmp / 'results.json'}\n"


def _jinja_syntax_error(text: str, tmp: Path) -> str:
    (tmp / "broken.jinja").write_text("{% for m in messages %}\n{{ m['content'] }\n{% endfor %}", encoding="utf-8")
    return text.replace("chat_template: alpaca", f"chat_template: {tmp / 'broken.jinja'}")


def _config_only_model(text: str, tmp: Path) -> str:
    model = text.split("model_name_or_path: ")[1].splitlines()[0]
    (tmp / "cfg-only").mkdir()
    (tmp / "cfg-only" / "config.json").write_bytes(Path(model, "config.json").read_bytes())
    return text.replace(f"model_name_or_path: {model}", f"model_name_or_path: {tmp / 'cfg-only'}")


def _weightless_model(text: str, tmp: Path) -> str:
    model = Path(text.split("model_name_or_path: ")[1].splitlines()[0])
    (tmp / "no-weights").mkdir()
    for item in model.iterdir():
        if not item.name.endswith(".safetensors"):
            (tmp / "no-weights" / item.name).write_bytes(item.read_bytes())
    return text.replace(f"model_name_or_path: {model}", f"model_name_or_path: {tmp / 'no-weights'}")


def _empty_validation_corpus(text: str, tmp: Path) -> str:
    corpus = tmp / "corpus-noval"
    assert coit_main(["data", "build", "--output", str(corpus), "--no-progress", "--tgt-lang", "zh",
                      "--validation-size", "0", "--pairs", str(FIXTURES / "udhr_sample_7way.jsonl")]) == 0
    old = text.split("dataset_name: ")[1].splitlines()[0]
    return text.replace(f"dataset_name: {old}", f"dataset_name: {corpus}") + (
        "eval_strategy: steps\neval_steps: 1\ndataset_test_split: validation\n")


# Values only TRL/torch would check (mid-run, or never): each is refused at parse time, naming the field.
# name -> (field, recipe line replacing or appended, fragment of the message)
BAD_VALUES = {
    "nan-learning-rate": ("learning_rate", ("learning_rate: 1.0e-3", "learning_rate: .nan"), "finite"),
    "inf-learning-rate": ("learning_rate", ("learning_rate: 1.0e-3", "learning_rate: .inf"), "finite"),
    "negative-learning-rate": ("learning_rate", ("learning_rate: 1.0e-3", "learning_rate: -1.0e-3"), "> 0"),
    "zero-learning-rate": ("learning_rate", ("learning_rate: 1.0e-3", "learning_rate: 0.0"), "> 0"),
    "zero-batch-size": ("per_device_train_batch_size",
                        ("per_device_train_batch_size: 4", "per_device_train_batch_size: 0"), ">= 1"),
    "negative-eval-batch-size": ("per_device_eval_batch_size", None, ">= 1"),
    "zero-accumulation": ("gradient_accumulation_steps",
                          ("gradient_accumulation_steps: 1", "gradient_accumulation_steps: 0"), ">= 1"),
    "zero-max-steps": ("max_steps", ("max_steps: 1", "max_steps: 0"), "zero training steps"),
    "negative-epochs": ("num_train_epochs", ("max_steps: 1", "max_steps: -1\nnum_train_epochs: -3"),
                        "zero training steps"),
    "zero-epochs": ("num_train_epochs", ("max_steps: 1", "num_train_epochs: 0"), "zero training steps"),
    "negative-warmup": ("warmup_steps", ("warmup_steps: 0.03", "warmup_steps: -0.1"), ">= 0"),
    "nan-weight-decay": ("weight_decay", ("weight_decay: 0.0", "weight_decay: .nan"), "finite"),
    "beta-one": ("adam_beta2", None, "< 1"),
    "zero-max-length": ("max_length", ("max_length: 256", "max_length: 0"), ">= 1"),
    "zero-logging-steps": ("logging_steps", ("logging_steps: 1", "logging_steps: 0"), "> 0"),
    "negative-seed": ("seed", ("seed: 42", "seed: -1"), ">= 0"),
    "negative-preflight": ("preflight_examples", None, ">= 0"),
    "zero-max-train-samples": ("max_train_samples", None, ">= 1"),
    "zero-global-batch": ("global_batch_size", None, ">= 1"),
    "lora-rank-zero": ("lora_r", None, ">= 1"),
    "lora-dropout-one": ("lora_dropout", None, "< 1"),
}
_APPENDED = {"per_device_eval_batch_size": -2, "adam_beta2": 1.0, "preflight_examples": -1, "max_train_samples": 0,
             "global_batch_size": 0, "lora_r": 0, "lora_dropout": 1.0}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_out_of_range_recipe_value_fails_before_any_output(tmp_path, sft_main, tiny_model_dir, corpus, case):
    field, change, fragment = BAD_VALUES[case]
    text = base_recipe(tiny_model_dir, corpus)
    if change is None:
        text += f"{field}: {_APPENDED[field]}\n"
    else:
        assert change[0] in text, change
        text = text.replace(change[0], change[1])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(CoitError) as info:
        sft_main(["--config", str(recipe), "--output_dir", str(out)])
    message = str(info.value)
    assert f"field '{field}'" in message and "recipe.yaml, line " in message and fragment in message, message
    assert not out.exists()  # not even an empty output_dir


@pytest.mark.parametrize("flags, field", [
    (["--learning_rate", "nan"], "learning_rate"),
    (["--gradient_accumulation_steps", "0"], "gradient_accumulation_steps"),
    (["--num_train_epochs", "-3", "--max_steps", "-1"], "num_train_epochs"),
])
def test_bad_value_from_the_command_line_names_the_field(tmp_path, sft_main, tiny_model_dir, corpus, flags, field):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(base_recipe(tiny_model_dir, corpus), encoding="utf-8")
    with pytest.raises(CoitError, match=f"field '{field}'"):
        sft_main(["--config", str(recipe), "--output_dir", str(tmp_path / "out"), *flags])
    assert not (tmp_path / "out").exists()


def test_unknown_dtype_on_the_command_line_exits_2_naming_the_choices(tmp_path, tiny_model_dir, corpus):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(base_recipe(tiny_model_dir, corpus), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--config", str(recipe), "--output_dir", str(tmp_path / "o"),
                           "--dtype", "floaty16"], capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, **ENV})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "floaty16" in proc.stderr and "bfloat16" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_output_dir_that_is_a_file_blames_the_output_dir_not_the_model(tmp_path, sft_main, tiny_model_dir, corpus):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(base_recipe(tiny_model_dir, corpus), encoding="utf-8")
    target = tmp_path / "taken"
    target.write_text("notes\n", encoding="utf-8")
    with pytest.raises(CoitError) as info:
        sft_main(["--config", str(recipe), "--output_dir", str(target)])
    assert "field 'output_dir'" in str(info.value) and "is a file" in str(info.value)
    assert "model" not in str(info.value).split("field 'output_dir'")[1]
    assert target.read_text(encoding="utf-8") == "notes\n"


# name -> (edit of the recipe text, fragments the error message must hold)
RECIPES = {
    "unknown-key": (_append("learning_rat: 0.1\n"), ["recipe.yaml, line ", "field 'learning_rat'"]),
    "wrong-value-type": (_sub("learning_rate: 1.0e-3", "learning_rate: fast"),
                         ["recipe.yaml, line ", "field 'learning_rate'", "fast"]),
    "yaml-syntax-error": (_append("lora_target_modules: [q_proj\n"), ["recipe.yaml, line ", "YAML"]),
    "template-without-generation-markers": (_nogen_template, ["{% generation %}"]),
    "examples-longer-than-max-length": (_sub("max_length: 256", "max_length: 16"), ["max_length=16"]),
    "missing-split": (_append("dataset_train_split: nope\n"), ["no split 'nope'"]),
    "unknown-language": (_sub("languages: [zh]", "languages: [xx]"), ["field 'languages'", "'xx'"]),
    "missing-model": (_sub("model_name_or_path: /", "model_name_or_path: /nonexistent/"), ["/nonexistent/"]),
    "missing-dataset": (_sub("dataset_name: /", "dataset_name: /nonexistent/"), ["/nonexistent/"]),
    "missing-dataset-config": (_sub("dataset_config: all", "dataset_config: nope"), ["nope"]),
    "unknown-chat-template": (_sub("chat_template: alpaca", "chat_template: alpacca"), ["'alpacca'"]),
    "bad-hub-model-id": (_sub("push_to_hub: false", "push_to_hub: true\nhub_model_id: 'bad id//x'"),
                         ["field 'hub_model_id'", "bad id//x"]),
    "mixture-file-unknown-key": (_mixture_bad_key, ["mix.yaml, line 2, field 'datasets[0].splt'"]),
    "broken-eval-results-for-card": (_broken_results, ["results.json, line 2"]),
    "bad-card-attachment": (_append("card_attachments: [nofile.png]\n"), ["field 'card_attachments'"]),
    "jinja-syntax-error": (_jinja_syntax_error, ["broken.jinja, line ", "Jinja syntax error"]),
    "model-folder-with-only-config": (_config_only_model, ["cfg-only", "missing a tokenizer", "weights"]),
    "model-folder-without-weights": (_weightless_model, ["no-weights", "missing weights"]),
    "misspelt-model-init-kwarg": (_append("model_init_kwargs: {use_safetensor: true}\n"),
                                  ["'use_safetensor'", "did you mean 'use_safetensors'"]),
    "misspelt-config-override": (_append("model_init_kwargs: {rms_norm_epsilon: 1.0e-5}\n"), ["'rms_norm_epsilon'"]),
    "model-init-kwargs-bad-dtype": (_append("model_init_kwargs: {dtype: floaty16}\n"), ["floaty16"]),
    "empty-validation-split-with-eval": (_empty_validation_corpus, ["'validation'", "--validation-size"]),
    "full-bf16-without-master-weights": (_sub("dtype: float32", "dtype: bfloat16"),
                                         ["fp32 master weights", "dtype: float32"]),
}


@pytest.mark.parametrize("case", sorted(RECIPES))
def test_bad_recipe_fails_cleanly_before_training(tmp_path, sft_main, tiny_model_dir, corpus, case, monkeypatch):
    edit, fragments = RECIPES[case]
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_reliability_tests")  # push cases fail on their own input
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(edit(base_recipe(tiny_model_dir, corpus), tmp_path), encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(CoitError) as info:
        sft_main(["--config", str(recipe), "--output_dir", str(out)])
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert not (out / "model.safetensors").exists() and not list(out.glob("checkpoint-*"))


def test_push_without_a_token_fails_before_training(tmp_path, sft_main, tiny_model_dir, corpus, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))  # no stored login
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(base_recipe(tiny_model_dir, corpus).replace("push_to_hub: false",
                                                                  "push_to_hub: true\nhub_model_id: me/x-zh"))
    with pytest.raises(CoitError, match="token"):
        sft_main(["--config", str(recipe), "--output_dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_recipe_errors_exit_2_without_traceback(tmp_path, tiny_model_dir, corpus):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_bytes(base_recipe(tiny_model_dir, corpus).encode() + b"# caf\xe9 (Latin-1)\n")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--config", str(recipe), "--output_dir", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env={**os.environ, **ENV})
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "recipe.yaml, line " in proc.stderr and "UTF-8" in proc.stderr


def test_training_reads_a_corpus_rebuilt_in_place_and_one_without_validation_rows(tmp_path):
    """`datasets` keys its cache of a local folder by name and config: training must still read the current build."""
    from coit_hf.training.config import CoitScriptArguments
    from coit_hf.training.data import load_training_data

    folder = tmp_path / "coit-zh"

    def build(*extra: str) -> tuple[int, int]:
        import pyarrow.parquet as pq

        assert coit_main(["data", "build", "--output", str(folder), "--no-progress", "--tgt-lang", "zh",
                          "--pairs", str(FIXTURES / "udhr_sample_7way.jsonl"), "--overwrite", *extra]) == 0
        data, _ = load_training_data(CoitScriptArguments(dataset_name=str(folder), dataset_config="all"))
        # `all` declares the files of the two other configs (no copy of them)
        on_disk = sum(pq.ParquetFile(f).metadata.num_rows for config in ("translation", "general")
                      for f in (folder / config).glob("train*.parquet"))
        return len(data["train"]), on_disk

    first, first_on_disk = build("--validation-size", "1", "--alpaca", f"zh={FIXTURES / 'alpaca_zh.jsonl'}")
    second, second_on_disk = build("--validation-size", "0")  # fewer rows, no validation rows
    assert (first, second) == (first_on_disk, second_on_disk) and second < first


# ------------------------------------------------------------------------------------------------ evaluation
EVAL = {
    "unknown-task": (["--tasks", "coit_squad:zh"], ["unknown coit task 'coit_squad:zh'"]),
    "unknown-task-language": (["--tasks", "coit_xquad:xx", "--data-dir", "DATA"], ["task 'coit_xquad:xx'", "unknown language code 'xx'"]),
    "missing-model": (["--model", "/nonexistent/model"], ["/nonexistent/model"]),
    "missing-data-dir": (["--data-dir", "/nonexistent/data"], ["/nonexistent/data"]),
    "malformed-source": (["--source", "xquad"], ["bad source 'xquad'"]),
    "zero-max-samples": (["--max-samples", "0"], ["--max-samples must be >= 1"]),
    "metadata-without-value": (["--metadata", "novalue"], ["--metadata expects key=value"]),
}


@pytest.mark.parametrize("case", sorted(EVAL))
def test_bad_eval_input_fails_cleanly(tmp_path, capsys, tiny_model_dir, case):
    data = tmp_path / "data" / "xquad"
    data.mkdir(parents=True)
    squad = {"data": [{"title": "t", "paragraphs": [{"context": "北京是中国的首都。", "qas": [
        {"id": "q1", "question": "中国的首都是哪里？", "answers": [{"text": "北京", "answer_start": 0}]}]}]}]}
    (data / "xquad.zh.json").write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    args, fragments = EVAL[case]
    args = [a.replace("DATA", str(tmp_path / "data")) for a in args]
    base = {"--model": str(tiny_model_dir), "--tasks": "coit_xquad:zh", "--data-dir": str(tmp_path / "data"),
            "--max-samples": "1"}
    for flag in list(base):
        if flag in args:
            del base[flag]
    out = tmp_path / "out"
    code = coit_main(["eval", *[x for kv in base.items() for x in kv], *args, "--output-dir", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert not (out / "coit_results.json").exists()


REPORTS = {
    "score-not-a-number": ('{"model": "x", "prompt_format": "paper",\n "tasks": {"coit_xquad:zh": {"f1": "high"}}}',
                           ["field 'tasks.coit_xquad:zh.f1'"]),
    "truncated-json": ('{"model": "x",\n "tasks": {', ["r.json, line 2", "not valid JSON"]),
    "missing-key": ('{"model": "x", "tasks": {}}', ["field 'prompt_format'"]),
}


@pytest.mark.parametrize("case", sorted(REPORTS))
def test_bad_results_file_fails_cleanly(tmp_path, capsys, case):
    text, fragments = REPORTS[case]
    (tmp_path / "r.json").write_text(text, encoding="utf-8")
    assert coit_main(["report", str(tmp_path / "r.json"), "--output-dir", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert not (tmp_path / "rep").exists() or not any((tmp_path / "rep").iterdir())


# ------------------------------------------------------------------------------------------------ cards, results
def _card_info(**extra):
    from coit_hf.hub.cards import CardInfo

    fields = dict(model_name="x-tiny-zh", base_model="tiny-llama", languages=["zh"], datasets=[],
                  hyperparameters={"learning_rate": 2e-5}, is_adapter=False, prompt_format="alpaca")
    return CardInfo(**{**fields, **extra})


def test_card_attachment_that_does_not_exist(tmp_path):
    from coit_hf.hub.cards import CardAttachment, write_model_card

    with pytest.raises(CoitError, match="card attachment not found") as info:
        write_model_card(_card_info(attachments=[CardAttachment("Fit", str(tmp_path / "fit.png"))]), tmp_path / "m")
    assert "fit.png" in str(info.value)
    assert not (tmp_path / "m" / "README.md").exists()


def _enospc(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_writing_a_model_card_keeps_the_old_one(tmp_path, monkeypatch):
    from coit_hf.hub.cards import write_model_card

    folder = tmp_path / "model"
    write_model_card(_card_info(), folder)
    before = (folder / "README.md").read_bytes()
    real_write_text = Path.write_text

    def write_text(self, data, *args, **kwargs):  # half the card reaches the disk, then it is full
        real_write_text(self, data[: len(data) // 2], *args, **kwargs)
        _enospc()

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(CoitError, match="No space left on device"):
        write_model_card(_card_info(languages=["zh", "en"]), folder)
    assert (folder / "README.md").read_bytes() == before
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_full_disk_writing_results_leaves_no_partial_file(tmp_path, monkeypatch):
    from coit_hf.evaluation import runner

    real_dump = json.dump

    def dump(obj, handle, *args, **kwargs):
        handle.write('{"model": ')  # a partial JSON reaches the disk, then it is full
        _enospc()

    monkeypatch.setattr(json, "dump", dump)
    with pytest.raises(CoitError, match="No space left on device"):
        runner.write_results({"model": "x", "prompt_format": "paper", "tasks": {}}, tmp_path / "eval")
    monkeypatch.setattr(json, "dump", real_dump)
    assert list((tmp_path / "eval").iterdir()) == []


def test_output_dir_inside_a_file_names_the_file(tmp_path, sft_main, tiny_model_dir, corpus):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(base_recipe(tiny_model_dir, corpus), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(CoitError) as info:
        sft_main(["--config", str(recipe), "--output_dir", str(tmp_path / "notes.txt" / "run")])
    assert "field 'output_dir'" in str(info.value) and "notes.txt' is a file" in str(info.value)
