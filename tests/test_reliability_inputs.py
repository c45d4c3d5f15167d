"""Reliability of the stages after the corpus build: bad inputs to `coit-hf data mixture|push`, `eval`, `report`,
`scaling`, `align` and `languages` fail before any work with exit 2 and one line naming the file/option/field, no
traceback, and nothing written. Cases are grouped by class: keys given twice, numbers out of range (0, negative,
NaN, infinite), degenerate inputs (same source and target, one sentence, repeated slices, bounds for languages
without a fit, NaN scores), a folder where a file is expected and the reverse; plus output permissions."""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from coit_hf.cli import main

pytestmark = pytest.mark.reliability

FIXTURES = Path(__file__).parent / "fixtures"
PAIRS = [("The weather is nice today.", "今天天气很好。"), ("I like reading books.", "我喜欢读书。"),
         ("Where is the station?", "车站在哪里？"), ("Thank you very much.", "非常感谢。")]
HUB_MODEL = "org/some-model"  # never loaded: every case below fails before a model is read


def _write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def _folder(path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    pairs = _write(root / "p.jsonl", "".join(json.dumps({"en": en, "zh": zh}, ensure_ascii=False) + "\n"
                                               for en, zh in PAIRS))
    out = root / "coit-zh"
    assert main(["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--validation-size",
                 "1", "--pairs", pairs, "--alpaca", f"en={FIXTURES / 'alpaca_en.jsonl'}"]) == 0
    return out


@pytest.fixture(scope="module")
def fits(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fits")
    rows = "".join(f"{lang},{n},{a * math.log(n) - b:.3f}\n" for lang, a, b in (("zh", 2.0, 9.0), ("ar", 1.5, 7.0))
                   for n in (1000, 5000, 20000, 100000))
    runs = _write(root / "runs.csv", "lang,translation_pairs,score\n" + rows)
    assert main(["scaling", "fit", runs, "--output-dir", str(root / "fit"), "--no-plots", "--bootstrap", "0"]) == 0
    return root / "fit" / "fits.json"


def _results(scores: str, task: str = "coit_xquad:zh") -> str:
    """A results file's text with ``scores`` (JSON text, so NaN/Infinity can be written as Python's json does)."""
    return '{"model": "m", "prompt_format": "paper", "tasks": {"' + task + '": ' + scores + "}}"


# Each case writes its inputs under the folder it is given and returns (argv, fragments the message must hold).
Case = Callable[[Path, dict[str, Path]], tuple[list[str], list[str]]]

MIX = "  - {path: CORPUS, name: translation, subset: translation_en-zh}\n"


def _mixture(t: Path, text: str, c: dict[str, Path], *extra: str) -> list[str]:
    return ["data", "mixture", _write(t / "mix.yaml", text.replace("CORPUS", str(c["corpus"]))), *extra]


CASES: dict[str, Case] = {
    # ---- a key given twice: an error naming both lines, in every kind of YAML file
    "dup-key-mixture": lambda t, c: (_mixture(t, "seed: 1\nseed: 2\ndatasets:\n" + MIX, c),
                                     ["mix.yaml, line 2, field 'seed'", "given twice (lines 1 and 2)"]),
    "dup-key-mixture-flow-mapping": lambda t, c: (
        _mixture(t, "datasets:\n  - {path: CORPUS, name: translation, name: general}\n", c),
        ["mix.yaml, line 2, field 'name'", "given twice on line 2"]),
    "dup-key-nested-in-list": lambda t, c: (
        _mixture(t, "datasets:\n  - path: CORPUS\n    num_rows: 1\n    name: translation\n    num_rows: 2\n", c),
        ["mix.yaml, line 5, field 'num_rows'", "lines 3 and 5"]),
    "dup-key-build-config": lambda t, c: (
        ["data", "build", "-o", str(t / "out"), "--config",
         _write(t / "b.yaml", "name: a\ndirection: en-x\ndirection: x-en\nsources: []\n")],
        ["b.yaml, line 3, field 'direction'", "lines 2 and 3"]),
    "dup-key-languages-yaml": lambda t, c: (
        ["languages", "--languages-file", _write(t / "l.yaml", "code: th\nname: Thai\ncode: tt\n")],
        ["l.yaml, line 3, field 'code'", "given twice"]),
    "dup-key-languages-json": lambda t, c: (
        ["languages", "--languages-file", _write(t / "l.json", '{"code": "th", "code": "tt"}')],
        ["l.json, field 'code'", "given twice"]),
    "dup-key-sweep-recipe": lambda t, c: (
        ["scaling", "sweep", "--lang", "zh", "--sizes", "1k", "--corpus", "c", "--output-dir", str(t / "out"),
         "--recipe", _write(t / "r.yaml", "learning_rate: 1.0e-5\nlearning_rate: 2.0e-5\n")],
        ["r.yaml, line 2, field 'learning_rate'"]),
    "dup-key-results-json": lambda t, c: (
        ["report", _write(t / "r.json", '{"model": "m", "model": "n", "prompt_format": "paper", "tasks": {}}'),
         "--output-dir", str(t / "out")], ["r.json, field 'model'", "given twice"]),
    # ---- an empty config file is named; a folder given where a file is expected is said as such
    "empty-build-config": lambda t, c: (["data", "build", "-o", str(t / "out"), "--config", _write(t / "b.yaml", "")],
                                        ["b.yaml: the build config is empty"]),
    "gguf-import-folder": lambda t, c: (["model", "import-gguf", _folder(t / "models"), "--out", str(t / "out")],
                                        ["models: is a folder, expected a .gguf file"]),
    # ---- mixtures: numbers, repeated slices, and nothing written before the mixture loads
    "mixture-write-yaml-bad-corpus": lambda t, c: (
        ["data", "mixture", "translation_en-zh", "--corpus", str(t / "missing"), "--write-yaml", str(t / "o.yaml")],
        ["missing: cannot load translation/train"]),
    "mixture-write-yaml-bad-subset": lambda t, c: (
        ["data", "mixture", "translation_en-ar", "--corpus", str(c["corpus"]), "--write-yaml", str(t / "o.yaml")],
        ["no rows with subset 'translation_en-ar'"]),
    "mixture-write-yaml-parent-is-file": lambda t, c: (
        ["data", "mixture", "translation_en-zh", "--corpus", str(c["corpus"]), "--write-yaml",
         _write(t / "f", "x") + "/o.yaml"], ["--write-yaml has a file as parent"]),
    "mixture-repeated-slice": lambda t, c: (_mixture(t, "datasets:\n" + MIX + MIX, c),
                                            ["line 3, field 'datasets[1]'", "repeats the subset 'translation_en-zh'"]),
    "mixture-overlapping-whole-config": lambda t, c: (
        _mixture(t, "datasets:\n" + MIX + "  - {path: CORPUS, name: translation}\n", c),
        ["field 'datasets[1]'", "repeats the rows of datasets[0]"]),
    "mixture-shorthand-repeats-with-other-size": lambda t, c: (
        ["data", "mixture", "translation_en-zh[:2]+translation_en-zh[:3]", "--corpus", str(c["corpus"])],
        ["datasets[1] repeats the subset 'translation_en-zh'"]),
    "mixture-num-rows-zero": lambda t, c: (_mixture(t, "datasets:\n" + MIX.replace("}", ", num_rows: 0}"), c),
                                           ["line 2, field 'datasets[0].num_rows'", ">= 1"]),
    "mixture-shorthand-zero-rows": lambda t, c: (
        ["data", "mixture", "translation_en-zh[:0]", "--corpus", str(c["corpus"])], ["num_rows", ">= 1"]),
    "mixture-fraction-inf": lambda t, c: (_mixture(t, "datasets:\n" + MIX.replace("}", ", fraction: .inf}"), c),
                                          ["field 'datasets[0].fraction'", "finite"]),
    "mixture-fraction-zero": lambda t, c: (_mixture(t, "datasets:\n" + MIX.replace("}", ", fraction: 0}"), c),
                                           ["field 'datasets[0].fraction'", "> 0"]),
    "mixture-fraction-not-on-all": lambda t, c: (
        _mixture(t, "datasets:\n" + MIX.replace("}", ", fraction: 0.5}")
                 + "  - {path: CORPUS, name: general, subset: alpaca_en}\n", c),
        ["field 'datasets[1].fraction'", "either all datasets"]),
    "mixture-test-split-nan": lambda t, c: (_mixture(t, "test_split_size: .nan\ndatasets:\n" + MIX, c),
                                            ["line 1, field 'test_split_size'", "got nan"]),
    "mixture-test-split-one": lambda t, c: (_mixture(t, "test_split_size: 1.0\ndatasets:\n" + MIX, c),
                                            ["field 'test_split_size'", "fraction in (0, 1)"]),
    "mixture-test-split-all-rows": lambda t, c: (_mixture(t, "test_split_size: 500\ndatasets:\n" + MIX, c),
                                                 ["test_split_size 500 does not fit the mixture's"]),
    "mixture-seed-negative": lambda t, c: (_mixture(t, "seed: -1\ndatasets:\n" + MIX, c),
                                           ["line 1, field 'seed'", "from 0"]),
    "mixture-seed-flag-negative": lambda t, c: (
        ["data", "mixture", "translation_en-zh", "--corpus", str(c["corpus"]), "--seed", "-5"], ["seed", "got -5"]),
    "mixture-empty-list": lambda t, c: (_mixture(t, "datasets: []\n", c, "--write-yaml", str(t / "o.yaml")),
                                        ["mix.yaml, line 1, field 'datasets'", "lists no datasets"]),
    "mixture-empty-file": lambda t, c: (_mixture(t, "", c), ["mix.yaml, field 'datasets'", "the file is empty"]),
    "push-a-file": lambda t, c: (["data", "push", _write(t / "f", "x"), "--repo", "org/x"],
                                 ["is a file, expected a corpus folder"]),
    # ---- eval: task names, languages and options, before any model or data is loaded
    "eval-tasks-blank": lambda t, c: (["eval", "--model", HUB_MODEL, "--tasks", " , ", "--output-dir", str(t / "o")],
                                      ["--tasks names no task"]),
    "eval-same-source-and-target": lambda t, c: (
        ["eval", "--model", HUB_MODEL, "--tasks", "coit_flores101:en-en", "--output-dir", str(t / "o")],
        ["'coit_flores101:en-en'", "source and target language are the same"]),
    "eval-unknown-qa-language": lambda t, c: (
        ["eval", "--model", HUB_MODEL, "--tasks", "coit_xquad:zh,coit_mlqa:xx", "--output-dir", str(t / "o")],
        ["task 'coit_mlqa:xx'", "unknown language code 'xx'"]),
    "eval-unknown-flores-target": lambda t, c: (
        ["eval", "--model", HUB_MODEL, "--tasks", "coit_flores101:en-qq", "--output-dir", str(t / "o")],
        ["unknown language code 'qq'"]),
    "eval-flores-without-direction": lambda t, c: (
        ["eval", "--model", HUB_MODEL, "--tasks", "coit_flores101:zh", "--output-dir", str(t / "o")],
        ["name a direction"]),
    "eval-batch-size-zero": lambda t, c: (
        ["eval", "--model", HUB_MODEL, "--tasks", "coit_xquad:zh", "--batch-size", "0", "--output-dir", str(t / "o")],
        ["--batch-size must be a whole number >= 1"]),
    "eval-bootstrap-negative": lambda t, c: (
        ["eval", "--model", HUB_MODEL, "--tasks", "coit_xquad:zh", "--bootstrap-iters", "-1",
         "--output-dir", str(t / "o")], ["--bootstrap-iters", ">= 0"]),
    "eval-bad-dtype": lambda t, c: (
        ["eval", "--model", HUB_MODEL, "--tasks", "coit_xquad:zh", "--dtype", "floaty16", "--output-dir", str(t / "o")],
        ["--dtype 'floaty16' is not a dtype"]),
    "eval-model-folder-missing": lambda t, c: (
        ["eval", "--model", str(t / "no-model"), "--tasks", "coit_xquad:zh", "--output-dir", str(t / "o")],
        ["no-model: --model: model folder not found"]),
    "eval-model-is-a-file": lambda t, c: (
        ["eval", "--model", _write(t / "m.bin", "x"), "--tasks", "coit_xquad:zh", "--output-dir", str(t / "o")],
        ["m.bin: --model is a file"]),
    "eval-output-dir-is-a-file": lambda t, c: (
        ["eval", "--model", HUB_MODEL, "--tasks", "coit_xquad:zh", "--output-dir", _write(t / "o", "x")],
        ["--output-dir is a file"]),
    "eval-metadata-nan": lambda t, c: (
        ["eval", "--model", HUB_MODEL, "--tasks", "coit_xquad:zh", "--metadata", "translation_pairs=NaN",
         "--output-dir", str(t / "o")], ["--metadata 'translation_pairs=NaN'", "not a finite number"]),
    "eval-languages-file-is-a-folder": lambda t, c: (
        ["eval", "--model", HUB_MODEL, "--tasks", "coit_xquad:zh", "--languages-file", _folder(t / "langs"),
         "--output-dir", str(t / "o")], ["langs: languages file is a directory"]),
    # ---- report: non-finite and non-numeric scores, names that are not coit tasks, an output folder that is a file
    "report-nan-score": lambda t, c: (["report", _write(t / "r.json", _results('{"substring": NaN}')),
                                       "--output-dir", str(t / "o")],
                                      ["r.json, field 'tasks.coit_xquad:zh.substring'", "is nan"]),
    "report-infinite-score": lambda t, c: (["report", _write(t / "r.json", _results('{"f1": Infinity}')),
                                            "--output-dir", str(t / "o")], ["field 'tasks.coit_xquad:zh.f1'", "inf"]),
    "report-nan-in-baseline": lambda t, c: (
        ["report", _write(t / "a.json", _results('{"substring": 10}')), "--baseline",
         _write(t / "b.json", _results('{"substring": -Infinity}')), "--output-dir", str(t / "o")],
        ["b.json, field 'tasks.coit_xquad:zh.substring'"]),
    "report-boolean-score": lambda t, c: (["report", _write(t / "r.json", _results('{"substring": true}')),
                                           "--output-dir", str(t / "o")], ["is not a number"]),
    "report-task-not-coit": lambda t, c: (
        ["report", _write(t / "r.json", _results('{"substring": 3}', task="nonsense")), "--output-dir", str(t / "o")],
        ["field 'tasks.nonsense'", "not a coit task"]),
    "report-output-dir-is-a-file": lambda t, c: (
        ["report", _write(t / "r.json", _results('{"substring": 3}')), "--output-dir", _write(t / "o", "x")],
        ["--output-dir is a file"]),
    **{f"compare-{name}": lambda t, c, option=option, value=value, fragment=fragment: (
        ["compare", "--a", str(t / "a"), "--b", str(t / "b"), "--judge", "echo", option, value,
         "--output-dir", str(t / "o")], [fragment])
       for name, option, value, fragment in (
           ("confidence-one", "--confidence", "1", "--confidence must be between 0 and 1"),
           ("confidence-nan", "--confidence", "nan", "--confidence must be between 0 and 1"),
           ("lid-threshold-above-one", "--lid-threshold", "1.5", "--lid-threshold must be a probability"),
           ("judge-batch-size-zero", "--judge-batch-size", "0", "--judge-batch-size must be >= 1"),
           ("judge-max-tokens-negative", "--judge-max-tokens", "-1", "--judge-max-tokens must be >= 1"))},
    # ---- scaling: budgets and sizes, bounds for languages without a fit, fits with NaN, paths
    **{f"allocate-budget-{name}": lambda t, c, value=value: (
        ["scaling", "allocate", str(c["fits"]), "--budget", value, "--output", str(t / "m.yaml"),
         "--corpus-template", "org/c-{lang}"], ["--budget: ", repr(value)])
       for name, value in (("zero", "0"), ("negative", "-5"), ("nan", "nan"), ("inf", "inf"), ("fraction", "2.5"),
                           ("empty", ""))},
    "allocate-bound-for-language-without-fit": lambda t, c: (
        ["scaling", "allocate", str(c["fits"]), "--budget", "10k", "--min", "zh=1k", "--max", "el=2k",
         "--output", str(t / "m.yaml"), "--corpus-template", "org/c-{lang}"],
        ["fits.json, field 'fits'", "--max names el, which have no fit"]),
    "allocate-weight-for-language-without-fit": lambda t, c: (
        ["scaling", "allocate", str(c["fits"]), "--budget", "10k", "--weight", "xx=2", "--output", str(t / "m.yaml"),
         "--corpus-template", "org/c-{lang}"], ["--weight names xx"]),
    "allocate-weight-nan": lambda t, c: (
        ["scaling", "allocate", str(c["fits"]), "--budget", "10k", "--weight", "zh=nan", "--output", str(t / "m.yaml"),
         "--corpus-template", "org/c-{lang}"], ["--weight 'zh=nan'", "finite"]),
    "allocate-min-nan": lambda t, c: (
        ["scaling", "allocate", str(c["fits"]), "--budget", "10k", "--min", "nan", "--output", str(t / "m.yaml"),
         "--corpus-template", "org/c-{lang}"], ["--min: "]),
    "allocate-fit-with-nan-parameter": lambda t, c: (
        ["scaling", "allocate", _write(t / "fits.json", json.dumps(_nan_fit(c["fits"]))), "--budget", "10k",
         "--output", str(t / "m.yaml"), "--corpus-template", "org/c-{lang}"],
        ["fits.json, field 'fits.zh.params.a'", "is nan"]),
    "allocate-output-is-a-folder": lambda t, c: (
        ["scaling", "allocate", str(c["fits"]), "--budget", "10k", "--output", _folder(t / "m.yaml"),
         "--corpus-template", "org/c-{lang}"], ["--output is a folder"]),
    "sweep-unknown-language": lambda t, c: (
        ["scaling", "sweep", "--lang", "xx", "--sizes", "1k", "--corpus", "c", "--output-dir", str(t / "o")],
        ["unknown language code 'xx'"]),
    "sweep-size-nan": lambda t, c: (
        ["scaling", "sweep", "--lang", "zh", "--sizes", "1k,nan", "--corpus", "c", "--output-dir", str(t / "o")],
        ["--sizes: ", "'nan'"]),
    "fit-bootstrap-negative": lambda t, c: (
        ["scaling", "fit", str(c["fits"].parent.parent / "runs.csv"), "--bootstrap", "-3", "--output-dir",
         str(t / "o")], ["--bootstrap must be >= 0"]),
    "fit-families-blank": lambda t, c: (
        ["scaling", "fit", str(c["fits"].parent.parent / "runs.csv"), "--families", " , ", "--output-dir",
         str(t / "o")], ["--families names no law family"]),
    "fit-similarity-layer-unknown": lambda t, c: (
        ["scaling", "fit", str(c["fits"].parent.parent / "runs.csv"), "--similarity-layer", "top", "--output-dir",
         str(t / "o")], ["--similarity-layer must be"]),
    "fit-infinite-score": lambda t, c: (
        ["scaling", "fit", _write(t / "r.csv", "lang,translation_pairs,score\nzh,1000,inf\n"), "--output-dir",
         str(t / "o")], ["r.csv, line 2, field 'score'", "not a finite number"]),
    "fit-output-dir-is-a-file": lambda t, c: (
        ["scaling", "fit", str(c["fits"].parent.parent / "runs.csv"), "--output-dir", _write(t / "o", "x")],
        ["--output-dir is a file"]),
    # ---- align: fewer than two sentences, numbers, folders where files are expected
    "align-one-sentence-jsonl": lambda t, c: (
        ["align", "--model", HUB_MODEL, "--jsonl", _write(t / "p.jsonl", '{"en": "Hello.", "zh": "你好。"}\n'),
         "--output-dir", str(t / "o")], ["p.jsonl: 1 parallel sentence(s)", "at least 2"]),
    "align-one-sentence-files": lambda t, c: (
        ["align", "--model", HUB_MODEL, "--files", f"en={_write(t / 'a.en', 'Hello.')}",
         "--files", f"zh={_write(t / 'a.zh', '你好。')}", "--output-dir", str(t / "o")], ["1 parallel sentence(s)"]),
    **{f"align-{name}": lambda t, c, option=option, value=value, fragment=fragment: (
        ["align", "--model", HUB_MODEL, "--jsonl", str(FIXTURES / "udhr_sample_7way.jsonl"), "--langs", "en,zh",
         option, value, "--output-dir", str(t / "o")], [fragment])
       for name, option, value, fragment in (
           ("max-sentences-one", "--max-sentences", "1", "--max-sentences must be >= 2"),
           ("max-sentences-negative", "--max-sentences", "-3", "--max-sentences must be >= 2"),
           ("batch-size-zero", "--batch-size", "0", "--batch-size must be >= 1"),
           ("max-length-zero", "--max-length", "0", "--max-length must be >= 1"),
           ("seed-negative", "--seed", "-1", "--seed must be >= 0"),
           ("bad-dtype", "--dtype", "floaty16", "--dtype 'floaty16' is not a dtype"))},
    "align-jsonl-is-a-folder": lambda t, c: (
        ["align", "--model", HUB_MODEL, "--jsonl", _folder(t / "in"), "--output-dir", str(t / "o")],
        ["in: is a folder, expected a JSONL file"]),
    "align-file-is-a-folder": lambda t, c: (
        ["align", "--model", HUB_MODEL, "--files", f"en={_folder(t / 'en')}", "--files", f"zh={_folder(t / 'zh')}",
         "--output-dir", str(t / "o")], ["is a folder, expected a text file"]),
    "align-output-dir-is-a-file": lambda t, c: (
        ["align", "--model", HUB_MODEL, "--jsonl", str(FIXTURES / "udhr_sample_7way.jsonl"),
         "--output-dir", _write(t / "o", "x")], ["--output-dir is a file"]),
    "align-model-folder-missing": lambda t, c: (
        ["align", "--model", str(t / "no-model"), "--jsonl", str(FIXTURES / "udhr_sample_7way.jsonl"),
         "--langs", "en,zh", "--output-dir", str(t / "o")], ["no-model: --model: model folder not found"]),
    "languages-file-is-a-folder": lambda t, c: (["languages", "--languages-file", _folder(t / "langs")],
                                                ["languages file is a directory"]),
}


def _nan_fit(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["fits"]["zh"]["params"]["a"] = float("nan")
    return data


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, corpus, fits, case):
    inputs = tmp_path / "in"
    inputs.mkdir()
    argv, fragments = CASES[case](inputs, {"corpus": corpus, "fits": fits})
    before = _files(tmp_path)
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    lines = captured.err.strip().splitlines()  # progress bars of datasets may come before the message
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1 and errors[0] == lines[-1] and errors[0].startswith("coit-hf "), captured.err
    assert "Traceback" not in captured.err + captured.out
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    assert _files(tmp_path) == before, sorted(map(str, _files(tmp_path) - before))


def test_recipe_key_given_twice_is_an_error_naming_both_lines(tmp_path):
    from trl import ModelConfig, SFTConfig, TrlParser

    from coit_hf.errors import InputError
    from coit_hf.training.config import CoitScriptArguments, check_recipe_keys

    recipe = _write(tmp_path / "r.yaml", "learning_rate: 1.0e-5\nnum_train_epochs: 1\nlearning_rate: 2.0e-5\n")
    parser = TrlParser((CoitScriptArguments, SFTConfig, ModelConfig))
    with pytest.raises(InputError, match=r"r\.yaml, line 3, field 'learning_rate': .*lines 1 and 3"):
        check_recipe_keys(parser, ["--config", recipe])


def test_yaml_merge_keys_may_still_override(tmp_path):
    from coit_hf.files import read_yaml

    path = tmp_path / "m.yaml"
    path.write_text("base: &b {seed: 1, shuffle: false}\nrun:\n  <<: *b\n  seed: 2\n", encoding="utf-8")
    assert read_yaml(path, "file")["run"] == {"seed": 2, "shuffle": False}


def test_package_reads_user_yaml_only_through_read_yaml():
    package = Path(__file__).parent.parent / "coit_hf"
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if p.name != "files.py" and ("yaml.safe_load(" in (text := p.read_text(encoding="utf-8"))
                                                 or "yaml.load(" in text)]
    assert offenders == []


def test_nan_scores_are_written_as_null_with_a_note(tmp_path):
    from coit_hf.evaluation.results import load_results
    from coit_hf.evaluation.runner import EvalSettings, collect_results, write_results

    settings = EvalSettings(model=HUB_MODEL, tasks=["coit_flores101:en-zh"], output_dir=str(tmp_path / "o"))
    notes: list[str] = []
    results = collect_results({"results": {"coit_flores101:en-zh|0": {"chrf++": float("nan"), "bleu": 0.5}}},
                              settings, notes)
    assert results["tasks"]["coit_flores101:en-zh"]["chrf++"] is None
    assert any("chrf++ was nan" in note for note in results["notes"])
    path = write_results(results, tmp_path / "o")
    assert "NaN" not in path.read_text(encoding="utf-8")
    assert load_results(path)["tasks"]["coit_flores101:en-zh"]["bleu"] == 0.5


def test_results_with_nan_are_never_written(tmp_path):
    from coit_hf.errors import CoitError
    from coit_hf.evaluation.runner import write_results

    with pytest.raises(CoitError, match="cannot write"):
        write_results({"model": "m", "prompt_format": "paper", "tasks": {"coit_xquad:zh": {"f1": float("nan")}}},
                      tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_fits_are_strict_json_and_read_back(tmp_path, fits):
    from coit_hf.scaling.observations import read_fits, write_json

    data = json.loads(fits.read_text(encoding="utf-8"))
    data["fits"]["zh"]["aicc"] = float("inf")
    data["fits"]["zh"]["stderr"] = {k: float("nan") for k in data["fits"]["zh"]["params"]}
    path = write_json(data, tmp_path / "fits.json")
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    again = read_fits(path)["zh"]
    assert math.isnan(again.aicc) and all(math.isnan(v) for v in again.stderr.values())


def test_repeated_sentences_are_warned_about(caplog):
    from coit_hf.analysis.alignment import _check_parallel

    caplog.set_level("WARNING")
    parallel = {"en": ["Hi.", "Hi.", "Bye."], "zh": ["你好。", "嗨。", "再见。"]}
    assert _check_parallel(parallel, "p") == parallel
    assert "1 repeated en sentence(s)" in caplog.text


# ------------------------------------------------------------------------------------------------ permissions
def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o027
    os.umask(old)


def test_outputs_written_through_temp_files_follow_the_umask(tmp_path, capsys, umask_027, fits):
    results = _write(tmp_path / "r" / "coit_results.json", _results('{"substring": 40.0}'))
    assert main(["report", results, "--output-dir", str(tmp_path / "report")]) == 0
    assert main(["scaling", "allocate", str(fits), "--budget", "10k", "--output", str(tmp_path / "mix" / "m.yaml"),
                 "--corpus-template", "org/c-{lang}"]) == 0
    capsys.readouterr()
    written = [*(tmp_path / "report").iterdir(), *(tmp_path / "mix").iterdir()]
    assert {p.name for p in written} >= {"report.json", "report.md", "report.png", "m.yaml", "m.allocation.json"}
    assert {p.name: _mode(p) for p in written} == {p.name: 0o640 for p in written}


def test_normal_permissions_of_a_temp_folder(tmp_path, umask_027):
    import tempfile

    from coit_hf.files import normal_permissions

    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    fd, name = tempfile.mkstemp(dir=folder)
    os.close(fd)
    script = folder / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o700)
    normal_permissions(folder, recursive=True)
    assert (_mode(folder), _mode(Path(name)), _mode(script)) == (0o750, 0o640, 0o750)


def test_tiny_model_folder_is_readable_by_the_group(tmp_path, umask_027):
    from coit_hf.tiny_model import build_tiny_model, collect_texts

    out = build_tiny_model(tmp_path / "tiny", collect_texts([FIXTURES / "udhr_sample_7way.jsonl"]), vocab_size=300,
                           num_layers=1)
    assert _mode(out) == 0o750
    assert {p.name: _mode(p) for p in out.iterdir()} == {p.name: 0o640 for p in out.iterdir()}


# ------------------------------------------------------------------------------------------------ CLI process
def test_cli_process_prints_one_line_for_a_bad_budget(tmp_path, fits):
    run = subprocess.run([sys.executable, "-m", "coit_hf.cli", "scaling", "allocate", str(fits), "--budget", "0",
                          "--output", str(tmp_path / "m.yaml"), "--corpus-template", "org/c-{lang}"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "coit-hf scaling: error: --budget: size must be a positive whole number, got '0'"]
    assert list(tmp_path.iterdir()) == []
