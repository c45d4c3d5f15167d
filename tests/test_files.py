"""coit_hf.files, the package's one I/O module: whole-or-nothing writes under real faults (a file-size limit set
with setrlimit makes the kernel refuse the write, and a writer SIGKILLed mid-file), the readers' file/line/field
errors, KEY=VALUE parsing, and a scan that no other module writes files through its own temp-and-rename code."""

from __future__ import annotations

import ast
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from coit_hf import files
from coit_hf.errors import ConfigError, InputError

PACKAGE = Path(files.__file__).parent
OLD = "old content\n"


def _run_limited(code: str, limit: int) -> subprocess.CompletedProcess:
    """Run ``code`` in a child whose files may not grow past ``limit`` bytes: the kernel answers a longer write with
    EFBIG, as it answers ENOSPC on a full disk (SIGXFSZ ignored so the write fails instead of killing the child)."""
    prelude = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


WRITERS = {
    "text": "files.write_text(target, 'x' * 100_000)",
    "json": "files.write_json(target, {'rows': ['x' * 100] * 1000})",
    "jsonl": "files.write_jsonl(target, [{'text': 'x' * 100}] * 1000)",
    "parquet": "files.write_parquet(target, [{'text': 'x' * 100, 'n': i} for i in range(5000)])",
    "png": ("import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt\n"
            "fig, ax = plt.subplots(figsize=(8, 8)); ax.imshow(__import__('numpy').random.rand(300, 300))\n"
            "files.write_png(target, fig)"),
}


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_a_write_the_kernel_refuses_keeps_the_old_file_and_leaves_no_temp(tmp_path, kind):
    target = tmp_path / f"out.{kind}"
    target.write_text(OLD, encoding="utf-8")
    proc = _run_limited(f"""
        from pathlib import Path
        from coit_hf import files
        target = Path({str(target)!r})
        try:
            exec({WRITERS[kind]!r})
        except OSError as exc:
            print("errno", exc.errno)
    """, limit=4096)
    assert proc.returncode == 0, proc.stderr
    assert "errno 27" in proc.stdout  # EFBIG: the write itself failed half-way
    assert target.read_text(encoding="utf-8") == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_each_writer_writes_whole_with_normal_permissions(tmp_path, kind):
    target = tmp_path / "sub" / f"out.{kind}"
    proc = _run_limited(f"""
        import os
        os.umask(0o027)
        from pathlib import Path
        from coit_hf import files
        target = Path({str(target)!r})
        exec({WRITERS[kind]!r})
    """, limit=1 << 30)
    assert proc.returncode == 0, proc.stderr
    assert target.stat().st_mode & 0o777 == 0o640  # 0666 less the umask, not mkstemp's 0600
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    if kind == "json":
        assert json.loads(target.read_text(encoding="utf-8")) == {"rows": ["x" * 100] * 1000}
    if kind == "jsonl":
        assert [row for _, row in files.iter_jsonl(target)] == [{"text": "x" * 100}] * 1000
    if kind == "parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(target).num_rows == 5000
    if kind == "png":
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_writer_killed_mid_file_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "big.jsonl"
    target.write_text(OLD, encoding="utf-8")
    code = textwrap.dedent(f"""
        import time
        from coit_hf import files

        def rows():
            for i in range(10**9):
                if i == 1000:
                    print("writing", flush=True)
                if i > 1000:
                    time.sleep(0.001)
                yield {{"i": i, "text": "x" * 200}}

        files.write_jsonl({str(target)!r}, rows())
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + 30
    while not any(p.name.startswith(".big.jsonl.") and p.stat().st_size > 0 for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert target.read_text(encoding="utf-8") == OLD  # the half-written temp was never renamed onto it


def test_replacing_folder_keeps_the_old_folder_when_the_block_fails(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(RuntimeError), files.replacing_folder(out) as tmp:
        (tmp / "weights.bin").write_bytes(b"x" * 10)
        raise RuntimeError("save_pretrained failed")
    assert [p.name for p in out.iterdir()] == ["config.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with files.replacing_folder(out) as tmp:
        (tmp / "weights.bin").write_bytes(b"y")
    assert [p.name for p in out.iterdir()] == ["weights.bin"]
    assert out.stat().st_mode & 0o777 == 0o777 & ~files.current_umask()


def test_read_json_names_file_line_and_duplicate_key(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{\n  "a": 1,\n  "a": 2\n}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.json, field 'a': key 'a' is given twice"):
        files.read_json(path)
    path.write_text('{\n  "a": 1,\n  "b": \n}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.json, line 4: not valid JSON"):
        files.read_json(path)
    with pytest.raises(InputError, match="no such results"):
        files.read_json(tmp_path / "missing.json", missing="no such results")


def test_read_yaml_names_both_lines_of_a_duplicate_key(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: a\nlr: 1\nmodel: b\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"r\.yaml, line 3, field 'model': key 'model' is given twice \(lines 1 and 3\)"):
        files.read_yaml(path, "recipe")
    path.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(InputError, match=r"line 2: not valid UTF-8"):
        files.read_yaml(path, "recipe")
    assert files.line_of(path, "b") == 2 and files.line_of(path, "c") is None


def test_iter_jsonl_numbers_lines_and_names_the_broken_one(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('\ufeff{"a": 1}\n\n{"a": 2}\n[3]\n', encoding="utf-8")
    rows = files.iter_jsonl(path)
    assert next(rows) == (1, {"a": 1}) and next(rows) == (3, {"a": 2})
    with pytest.raises(InputError, match=r"rows\.jsonl, line 4: each JSONL line must be a JSON object"):
        next(rows)
    path.write_text('{"a": 1}\n{"a": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2: broken JSON line"):
        list(files.iter_jsonl(path))
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="file is empty"):
        list(files.iter_jsonl(path))


def test_parse_key_values():
    assert files.parse_key_values(["zh = 1.5", "ar=2"], "--weight", convert=float) == {"zh": 1.5, "ar": 2.0}
    assert files.parse_key_values(None, "--weight") == {}
    with pytest.raises(ConfigError, match=r"--weight expects LANG=VALUE, got 'zh'"):
        files.parse_key_values(["zh"], "--weight", form="LANG=VALUE")
    with pytest.raises(ConfigError, match=r"--weight: 'zh' is given twice"):
        files.parse_key_values(["zh=1", "zh=2"], "--weight")
    with pytest.raises(ConfigError, match=r"--weight 'zh=x': bad value 'x'"):
        files.parse_key_values(["zh=x"], "--weight", convert=float)
    with pytest.raises(ConfigError, match=r"expects KEY=VALUE, got '=1'"):
        files.split_key_value("=1", "--metadata")
    assert files.split_key_value("note=", "--metadata", allow_empty_value=True) == ("note", "")
    assert files.split_key_value("url=a=b", "--x") == ("url", "a=b")


def _calls(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                names.add(f"{func.value.id}.{func.attr}")
            elif isinstance(func, ast.Attribute):
                names.add(f"*.{func.attr}")
    return names


# Writers that cannot go through a temp-and-rename helper, with the reason: the corpus folder swap (a folder
# renamed over a folder, with recovery of a build killed mid-swap) and datatrove stages that stream Parquet parts
# across calls and rename them when the stage closes.
OWN_RENAMES = {"data/output.py", "data/steps.py"}


def test_no_module_but_files_writes_through_its_own_temp_and_rename():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = str(path.relative_to(PACKAGE))
        if name == "files.py" or name in OWN_RENAMES:
            continue
        calls = _calls(ast.parse(path.read_text(encoding="utf-8")))
        bad = calls & {"os.replace", "os.rename", "tempfile.mkstemp", "tempfile.mkdtemp", "tempfile.NamedTemporaryFile",
                       "*.rename"}
        if bad:
            offenders[name] = sorted(bad)
    assert offenders == {}


def test_no_module_but_files_parses_jsonl_or_key_values_by_hand():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = str(path.relative_to(PACKAGE))
        text = path.read_text(encoding="utf-8")
        if name != "files.py" and ("json.loads(line)" in text or '.split("=", 1)' in text):
            offenders.append(name)
    assert offenders == []
