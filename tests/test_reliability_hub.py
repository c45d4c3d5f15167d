"""Hub faults on `coit-hf data push`: connection resets, 500/503, 429 with Retry-After and a failing commit,
injected with the loopback Hub's fault rules. A push either succeeds after bounded retries (with exactly the local
files in one commit) or fails with a clean message and leaves the repo without a partial commit; the token never
appears in any output."""

from __future__ import annotations

import io
import json
import logging
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from hub_server import Request, Response, error, json_response

from coit_hf.cli import main
from coit_hf.errors import CoitError
from coit_hf.hub.retry import RetryPolicy, call_with_retries, is_transient, redact, retry_after

pytestmark = pytest.mark.reliability

Rule = Callable[[Request], Response | None]


# ------------------------------------------------------------------------------------------------ fault helpers
def _handler() -> BaseHTTPRequestHandler:
    frame = sys._getframe(1)
    while frame is not None and not isinstance(frame.f_locals.get("self"), BaseHTTPRequestHandler):
        frame = frame.f_back
    assert frame is not None, "fault rules run inside the hub server's request handler"
    return frame.f_locals["self"]


def reset_connection() -> Response:
    """Drop the client's connection with a TCP reset (SO_LINGER 0); the returned response is never sent."""
    handler = _handler()
    handler.close_connection = True
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.rfile.close()
    handler.connection.close()
    handler.wfile = io.BytesIO()  # the server's reply goes nowhere
    return Response(200)


class Fault:
    """A rule that answers the first ``times`` requests matching ``match`` with ``action(request)``."""

    def __init__(self, match: Callable[[Request], bool], action: Callable[[Request], Response], times: int = 1):
        self.match, self.action, self.times, self.hits = match, action, times, 0

    def __call__(self, request: Request) -> Response | None:
        if self.hits < self.times and self.match(request):
            self.hits += 1
            return self.action(request)
        return None


def is_commit(request: Request) -> bool:
    return request.method == "POST" and len(request.parts) >= 2 and request.parts[-2] == "commit"


def is_create(request: Request) -> bool:
    return request.parts == ["api", "repos", "create"]


def is_preupload(request: Request) -> bool:
    return request.method == "POST" and len(request.parts) >= 2 and request.parts[-2] == "preupload"


def is_lfs_put(request: Request) -> bool:
    return request.method == "PUT" and request.parts[:1] == ["_lfs"]


def status(code: int, **headers: str) -> Callable[[Request], Response]:
    def answer(request: Request) -> Response:
        response = error(code, f"injected {code}")
        response.headers.update(headers)
        return response
    return answer


def apply_then_reset(hub) -> Callable[[Request], Response]:
    """Let the server process the request (e.g. apply a commit), then drop the connection: the answer is lost."""
    def action(request: Request) -> Response:
        saved = list(hub.server.rules)
        hub.server.rules.clear()
        try:
            hub.server.handle(request)
        finally:
            hub.server.rules[:] = saved
        return reset_connection()
    return action


# ------------------------------------------------------------------------------------------------ fixtures
_corpus_numbers = iter(range(1, 10_000))


@pytest.fixture
def corpus(tmp_path_factory) -> Path:
    """A small corpus with content of its own (the test Hub stores blobs by hash across tests: new bytes make
    every push upload its LFS files for real)."""
    root = tmp_path_factory.mktemp("corpus")
    pairs = root / "pairs.jsonl"
    salt = next(_corpus_numbers)
    rows = [{"en": f"Sentence number {i} of corpus {salt} is about the river.", "zh": f"第{salt}号语料的第{i}句话是关于河流的。"}
            for i in range(40)]
    pairs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = root / "coit-zh"
    assert main(["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--validation-size",
                 "2", "--pairs", str(pairs)]) == 0
    return out


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setenv("COIT_HF_HUB_RETRY_DELAY", "0.05")
    monkeypatch.setenv("COIT_HF_HUB_RETRIES", "4")


def _preupload_with_lfs_sha256(server) -> Callable:
    original = server.preupload

    def preupload(request: Request, repo, rev: str) -> Response:
        answer = json.loads(original(request, repo, rev).body)
        commit = repo.resolve(rev)
        for item in answer["files"]:
            entry = commit.files.get(item["path"]) if commit else None
            if entry is not None and entry.lfs:
                item["oid"] = entry.sha256
        return json_response(answer)
    return preupload


def _local_files(corpus: Path) -> set[str]:
    return {"README.md", "build_report.json"} | {str(p.relative_to(corpus)) for p in corpus.glob("*/*.parquet")}


def _repo(hub, name: str):
    return hub.server.repos.get(("dataset", hub.repo_id(name)))


def _data_commits(repo) -> list:
    """Commits after the initial one, oldest first."""
    chain, oid = [], repo.branches["main"]
    while oid is not None:
        chain.append(repo.commits[oid])
        oid = repo.commits[oid].parent
    return [c for c in reversed(chain) if c.title != "initial commit"]


def _assert_pushed_whole(hub, name: str, corpus: Path) -> None:
    repo = _repo(hub, name)
    commits = _data_commits(repo)
    assert len(commits) == 1, [c.title for c in commits]  # one commit with everything, no partial or duplicate
    assert set(commits[0].files) - {".gitattributes"} == _local_files(corpus)
    for path in _local_files(corpus):
        blob = hub.server._blob_path(commits[0].files[path].sha256).read_bytes()
        assert blob == (corpus / path).read_bytes(), path


def _push(hub, corpus: Path, name: str) -> int:
    return main(["data", "push", str(corpus), "--repo", hub.repo_id(name)])


# ------------------------------------------------------------------------------------------------ recoveries
@pytest.mark.parametrize("fault", ["reset-on-commit", "503-on-create", "500-on-commit", "reset-on-preupload",
                                   "500-on-lfs-upload", "commit-applied-answer-lost"])
def test_push_recovers_from_transient_faults(hub, corpus, fast_retries, capsys, monkeypatch, fault):
    # The real Hub answers pre-upload with the sha256 of an existing LFS file (what the client compares to skip
    # unchanged files); the test Hub sends the pointer's git id, so a repeated commit would not be seen as a no-op.
    monkeypatch.setattr(hub.server, "preupload", _preupload_with_lfs_sha256(hub.server))
    rule = {
        "reset-on-commit": lambda: Fault(is_commit, lambda r: reset_connection(), times=2),
        "503-on-create": lambda: Fault(is_create, status(503), times=2),
        "500-on-commit": lambda: Fault(is_commit, status(500)),
        "reset-on-preupload": lambda: Fault(is_preupload, lambda r: reset_connection()),
        "500-on-lfs-upload": lambda: Fault(is_lfs_put, status(500)),
        "commit-applied-answer-lost": lambda: Fault(is_commit, apply_then_reset(hub)),
    }[fault]()
    hub.server.rules.append(rule)
    code = _push(hub, corpus, "coit")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert rule.hits == rule.times  # the fault really happened
    _assert_pushed_whole(hub, "coit", corpus)
    assert hub.token not in captured.out + captured.err


def test_push_waits_as_long_as_retry_after_asks(hub, corpus, fast_retries, caplog):
    rule = Fault(is_commit, status(429, **{"Retry-After": "1"}))
    hub.server.rules.append(rule)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="coit_hf.hub.retry"):
        assert _push(hub, corpus, "coit") == 0
    assert time.monotonic() - started >= 1.0  # not the 0.05 s backoff
    assert rule.hits == 1
    assert any("HTTP 429" in r.getMessage() and "in 1.0s" in r.getMessage() for r in caplog.records)
    _assert_pushed_whole(hub, "coit", corpus)


# ------------------------------------------------------------------------------------------------ clean failures
@pytest.mark.parametrize("fault", ["commit-always-503", "commit-rejected-422", "commit-always-reset",
                                   "retry-after-too-long"])
def test_push_that_cannot_succeed_fails_cleanly_without_partial_commit(hub, corpus, fast_retries, capsys, fault):
    rule = {
        "commit-always-503": Fault(is_commit, status(503), times=99),
        "commit-rejected-422": Fault(is_commit, status(422), times=99),
        "commit-always-reset": Fault(is_commit, lambda r: reset_connection(), times=99),
        "retry-after-too-long": Fault(is_commit, status(429, **{"Retry-After": "86400"}), times=99),
    }[fault]
    hub.server.rules.append(rule)
    code = _push(hub, corpus, "coit")
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().splitlines()[-1].startswith("coit-hf data: error: ")
    assert "Traceback" not in captured.err
    assert hub.repo_id("coit") in captured.err
    # bounded: 4 attempts for transient faults, 1 for a rejection or an unreasonable Retry-After
    assert rule.hits == (4 if fault in ("commit-always-503", "commit-always-reset") else 1)
    repo = _repo(hub, "coit")
    assert _data_commits(repo) == []  # nothing of the corpus is on the Hub
    assert set(repo.commits[repo.branches["main"]].files) == {".gitattributes"}
    assert hub.token not in captured.out + captured.err


def test_wrong_token_fails_cleanly_and_does_not_echo_it(hub, corpus, capsys, monkeypatch):
    wrong = "hf_" + "x" * 30
    monkeypatch.setenv("HF_TOKEN", wrong)
    assert _push(hub, corpus, "coit") == 2
    err = capsys.readouterr().err
    assert "401" in err and "HF_TOKEN" in err and "Traceback" not in err
    assert wrong not in err and _repo(hub, "coit") is None


# ------------------------------------------------------------------------------------------------ retry unit
class _FakeResponse:
    def __init__(self, status_code: int, headers: dict[str, str] | None = None):
        self.status_code, self.headers = status_code, headers or {}


class _FakeHTTPError(Exception):
    def __init__(self, status_code: int, headers: dict[str, str] | None = None):
        super().__init__(f"HTTP {status_code}")
        self.response = _FakeResponse(status_code, headers)


def test_retry_policy_is_bounded_exponential_and_honours_retry_after():
    waits: list[float] = []
    calls = []

    def flaky():
        calls.append(1)
        raise _FakeHTTPError(503)

    with pytest.raises(CoitError, match="failed after 4 attempt"):
        call_with_retries(flaky, what="x", policy=RetryPolicy(max_attempts=4, base_delay=1, max_delay=3),
                          sleep=waits.append)
    assert len(calls) == 4 and waits == [1, 2, 3]
    answers = iter([_FakeHTTPError(429, {"Retry-After": "7"}), ConnectionResetError(104, "reset"), "ok"])

    def sometimes():
        answer = next(answers)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    waits.clear()
    assert call_with_retries(sometimes, what="x", policy=RetryPolicy(base_delay=0.5), sleep=waits.append) == "ok"
    assert waits == [7.0, 1.0]
    assert retry_after(_FakeHTTPError(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert not is_transient(_FakeHTTPError(404)) and is_transient(_FakeHTTPError(502))
    with pytest.raises(ValueError):  # not a Hub failure: passes through untouched, at once
        call_with_retries(lambda: int("x"), what="x", sleep=waits.append)


def test_redact_masks_tokens(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "plain-secret-value")
    text = redact("token plain-secret-value and hf_abcdefghijklmnop and Bearer hf_QWERTYUIOPASDF123")
    assert "plain-secret-value" not in text and "hf_abcdefghijklmnop" not in text and "QWERTY" not in text
    assert redact("in hf_raise_for_status") == "in hf_raise_for_status"  # code names are not tokens


# ------------------------------------------------------------------------------------------------ model pushes
@pytest.fixture
def model_folder(tmp_path, tiny_model_dir) -> Path:
    """A trained-model folder as sft_coit leaves it: weights, tokenizer, card, and checkpoints that stay local."""
    import shutil

    folder = tmp_path / "x-tiny-zh"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "README.md").write_text(f"---\nlicense: apache-2.0\n---\n# x-tiny-zh {tmp_path.name}\n", encoding="utf-8")
    (folder / "checkpoint-1").mkdir()
    (folder / "checkpoint-1" / "optimizer.pt").write_bytes(b"\0" * 64)
    return folder


def _model_repo(hub, name: str):
    return hub.server.repos.get(("model", hub.repo_id(name)))


def _model_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("fault", ["reset-on-create", "503-on-commit", "429-on-commit"])
def test_model_push_recovers_from_transient_faults(hub, model_folder, fast_retries, monkeypatch, fault):
    from coit_hf.hub.push import push_folder

    monkeypatch.setattr(hub.server, "preupload", _preupload_with_lfs_sha256(hub.server))
    rule = {
        "reset-on-create": Fault(is_create, lambda r: reset_connection()),
        "503-on-commit": Fault(is_commit, status(503), times=2),
        "429-on-commit": Fault(is_commit, status(429, **{"Retry-After": "0"})),
    }[fault]
    hub.server.rules.append(rule)
    push_folder(model_folder, hub.repo_id("x-tiny-zh"))
    assert rule.hits == rule.times
    repo = _model_repo(hub, "x-tiny-zh")
    commits = _data_commits(repo)
    assert len(commits) == 1 and set(commits[0].files) - {".gitattributes"} == _model_files(model_folder)
    blob = hub.server._blob_path(commits[0].files["model.safetensors"].sha256).read_bytes()
    assert blob == (model_folder / "model.safetensors").read_bytes()


def test_model_push_that_keeps_failing_leaves_no_partial_commit(hub, model_folder, fast_retries):
    from coit_hf.hub.push import push_folder

    rule = Fault(is_commit, status(500), times=99)
    hub.server.rules.append(rule)
    with pytest.raises(CoitError, match="after 4 attempt") as info:
        push_folder(model_folder, hub.repo_id("x-tiny-zh"))
    assert rule.hits == 4 and hub.token not in str(info.value)
    repo = _model_repo(hub, "x-tiny-zh")
    assert _data_commits(repo) == [] and set(repo.commits[repo.branches["main"]].files) == {".gitattributes"}


def test_model_push_without_a_token_or_with_a_bad_repo_id(hub, model_folder, monkeypatch, tmp_path):
    from coit_hf.errors import InputError
    from coit_hf.hub.push import push_folder

    with pytest.raises(InputError, match="bad repo id"):
        push_folder(model_folder, "not a//repo")
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "no-login"))
    before = len(hub.server.log)
    with pytest.raises(CoitError, match="token"):
        push_folder(model_folder, hub.repo_id("x-tiny-zh"))
    assert hub.server.log[before:] == [] and _model_repo(hub, "x-tiny-zh") is None


@pytest.mark.slow
def test_training_run_pushes_through_hub_faults(hub, tmp_path, tiny_model_dir):
    """`recipes/sft_coit.py` with push_to_hub: a dropped repo creation and a 503 on the final commit are retried."""
    root = Path(__file__).resolve().parents[1]
    corpus = tmp_path / "coit-zh"
    assert main(["data", "build", "--output", str(corpus), "--no-progress", "--tgt-lang", "zh", "--validation-size",
                 "1", "--pairs", str(root / "tests" / "fixtures" / "udhr_sample_7way.jsonl")]) == 0
    create = Fault(is_create, lambda r: reset_connection())
    commit = Fault(is_commit, status(503))
    hub.server.rules.extend([create, commit])
    repo = hub.repo_id("x-tiny-zh")
    env = {**hub.env, "OMP_NUM_THREADS": "1", "COIT_HF_HUB_RETRY_DELAY": "0.05"}
    proc = subprocess.run([sys.executable, str(root / "recipes" / "sft_coit.py"), "--config",
                           str(root / "recipes" / "demo" / "tiny.yaml"), "--model_name_or_path", str(tiny_model_dir),
                           "--dataset_name", str(corpus), "--dataset_config", "translation", "--output_dir",
                           str(tmp_path / "run"), "--max_steps", "2", "--per_device_train_batch_size", "2",
                           "--push_to_hub", "true", "--hub_model_id", repo],
                          capture_output=True, text=True, env=env, timeout=600, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert create.hits == 1 and commit.hits == 1
    model_repo = hub.server.repos[("model", repo)]
    files = set(model_repo.commits[model_repo.branches["main"]].files)
    assert {"model.safetensors", "config.json", "README.md", "tokenizer.json"} <= files
    assert not any(f.startswith("checkpoint-") for f in files)
    assert hub.token not in proc.stdout + proc.stderr
