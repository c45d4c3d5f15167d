"""Safety defaults: no dataset loading scripts are ever run (local folder or Hub repo, through corpus building,
mixtures and training data); models load from safetensors only unless the user opts in to pickled weights;
custom model code (``trust_remote_code``) stays off unless set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coit_hf.cli import main

pytestmark = pytest.mark.reliability

SCRIPT = """import datasets
from pathlib import Path
Path({marker!r}).write_text("the dataset script ran")


class Evil(datasets.GeneratorBasedBuilder):
    def _info(self):
        return datasets.DatasetInfo(features=datasets.Features({{"en": datasets.Value("string"),
                                                                 "zh": datasets.Value("string")}}))

    def _split_generators(self, dl_manager):
        return [datasets.SplitGenerator(name="train")]

    def _generate_examples(self):
        yield 0, {{"en": "Hello there, friend.", "zh": "你好，朋友。"}}
"""


def _script_dataset(folder: Path, marker: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{folder.name}.py").write_text(SCRIPT.format(marker=str(marker)), encoding="utf-8")
    return folder


def test_build_from_a_dataset_with_a_loading_script_refuses_and_never_runs_it(tmp_path, capsys):
    marker = tmp_path / "ran.txt"
    folder = _script_dataset(tmp_path / "evil", marker)
    config = tmp_path / "build.yaml"
    config.write_text(f"sources:\n  - {{type: hf, path: {folder}, tgt_lang: zh}}\n", encoding="utf-8")
    assert main(["data", "build", "--config", str(config), "--output", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "evil" in err and "scripts are no longer supported" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_mixture_from_a_hub_repo_with_a_loading_script_refuses_and_never_runs_it(tmp_path, capsys, hub):
    from huggingface_hub import HfApi

    marker = tmp_path / "ran.txt"
    folder = _script_dataset(tmp_path / "evil", marker)
    repo = hub.repo_id("evil")
    HfApi().create_repo(repo, repo_type="dataset")
    HfApi().upload_folder(repo_id=repo, repo_type="dataset", folder_path=str(folder))
    spec = tmp_path / "mix.yaml"
    spec.write_text(f"datasets:\n  - {{path: {repo}, split: train}}\n", encoding="utf-8")
    assert main(["data", "mixture", str(spec)]) == 2
    err = capsys.readouterr().err
    assert repo in err and "scripts are no longer supported" in err
    assert not marker.exists()


def test_training_data_from_a_script_folder_refuses_and_never_runs_it(tmp_path):
    from coit_hf.errors import CoitError
    from coit_hf.training.config import CoitScriptArguments
    from coit_hf.training.data import load_training_data

    marker = tmp_path / "ran.txt"
    folder = _script_dataset(tmp_path / "evil", marker)
    with pytest.raises((CoitError, RuntimeError), match="scripts are no longer supported"):
        load_training_data(CoitScriptArguments(dataset_name=str(folder)))
    assert not marker.exists()


def test_recipe_defaults_keep_remote_code_off():
    from coit_hf.training.config import CoitSFTConfig

    assert CoitSFTConfig(output_dir="x", bf16=False).trust_remote_code is False
    for recipe in sorted((Path(__file__).resolve().parents[1] / "recipes").rglob("*.yaml")):
        text = recipe.read_text(encoding="utf-8")
        assert "trust_remote_code: true" not in text.lower(), recipe
        assert "use_safetensors: false" not in text.lower(), recipe


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _pickled_model(tiny_model_dir: Path, folder: Path) -> Path:
    """The tiny model with its weights as a pickled ``pytorch_model.bin`` only."""
    import shutil

    import torch
    from safetensors.torch import load_file

    folder.mkdir()
    for path in tiny_model_dir.iterdir():
        if path.name != "model.safetensors":
            shutil.copy(path, folder / path.name)
    torch.save(load_file(str(tiny_model_dir / "model.safetensors")), folder / "pytorch_model.bin")
    return folder


def _args(model: Path, **training):
    from trl import ModelConfig

    from coit_hf.training.config import CoitSFTConfig

    return ModelConfig(model_name_or_path=str(model), dtype="float32"), CoitSFTConfig(
        output_dir=str(model.parent / "out"), bf16=False, report_to="none", **training)


def test_training_refuses_pickled_weights_unless_opted_in(tmp_path, tiny_model_dir):
    from coit_hf.errors import CoitError
    from coit_hf.training.modeling import load_model

    folder = _pickled_model(tiny_model_dir, tmp_path / "pickled")
    with pytest.raises(CoitError, match="safetensors") as info:
        load_model(*_args(folder))
    assert "use_safetensors: false" in str(info.value) and str(folder) in str(info.value)
    model = load_model(*_args(folder, model_init_kwargs={"use_safetensors": False}))  # the explicit opt-in
    assert model.num_parameters() > 0


def test_evaluation_loads_safetensors_only_and_no_remote_code(tiny_model_dir):
    from coit_hf.evaluation.runner import EvalSettings, build_model_config

    config = build_model_config(EvalSettings(model=str(tiny_model_dir), tasks=["coit_xquad:zh"]))
    assert config.trust_remote_code is False
    assert config.model_loading_kwargs.get("use_safetensors") is True


REMOTE_CODE = """from pathlib import Path
Path({marker!r}).write_text("remote code ran")
from transformers import LlamaConfig


class EvilConfig(LlamaConfig):
    model_type = "evil"
"""


def test_model_with_custom_code_is_refused_without_trust_remote_code(tmp_path, tiny_model_dir):
    import shutil

    from coit_hf.errors import CoitError
    from coit_hf.training.modeling import load_model, load_tokenizer

    marker = tmp_path / "ran.txt"
    folder = tmp_path / "custom"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "configuration_evil.py").write_text(REMOTE_CODE.format(marker=str(marker)), encoding="utf-8")
    config = _json(folder / "config.json")
    config.update(model_type="evil", auto_map={"AutoConfig": "configuration_evil.EvilConfig",
                                               "AutoModelForCausalLM": "configuration_evil.EvilConfig"})
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    load_tokenizer(*_args(folder))  # a plain tokenizer.json needs no custom code: loads, and runs none
    with pytest.raises(CoitError, match="trust_remote_code") as info:
        load_model(*_args(folder))
    assert str(folder) in str(info.value)
    assert not marker.exists()
