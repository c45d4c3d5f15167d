"""The loopback Hub server against the unmodified huggingface_hub / datasets / transformers clients."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest


def _rows(prefix: str, n: int) -> list[dict]:
    return [{"id": f"{prefix}-{i}", "instruction": f"instruction {i}", "output": f"{prefix} 输出 {i} ✓",
             "lang": "zh", "score": float(i) / 3} for i in range(n)]


def _http(method: str, url: str, token: str | None = None, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_dataset_push_two_configs_then_load_here_and_in_subprocess(hub):
    from datasets import Dataset, load_dataset

    repo = hub.repo_id("coit-zh")
    translation, general = _rows("tr", 12), _rows("gen", 7)
    Dataset.from_list(translation).push_to_hub(repo, config_name="translation")
    Dataset.from_list(general).push_to_hub(repo, config_name="general")

    loaded = load_dataset(repo, "translation", split="train")
    assert loaded.to_list() == translation

    script = (
        "import json, sys\n"
        "from datasets import load_dataset\n"
        "ds = load_dataset(sys.argv[1], 'general', split='train')\n"
        "print('ROWS=' + json.dumps(ds.to_list(), ensure_ascii=False))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, repo], env=hub.env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("ROWS="))
    assert json.loads(line.removeprefix("ROWS=")) == general
    assert hub.token not in proc.stdout + proc.stderr
    # The subprocess runs under the network guard too: datasets' only off-loopback attempt is its Parquet-export
    # lookup at "datasets-server.<endpoint host>", which it tolerates.
    blocked = [x for x in proc.stderr.splitlines() if "network guard: blocked" in x]
    assert all("datasets-server.127.0.0.1" in x for x in blocked), blocked

    from huggingface_hub import HfApi

    tree = {f.path: f for f in HfApi().list_repo_tree(repo, repo_type="dataset", recursive=True)}
    shards = [p for p in tree if p.endswith(".parquet")]
    assert {p.split("/")[0] for p in shards} == {"translation", "general"}
    assert all(tree[p].lfs is not None for p in shards)  # preupload answered "lfs" for Parquet (the Hub stores Parquet in LFS)
    readme = open(HfApi().hf_hub_download(repo, "README.md", repo_type="dataset"), encoding="utf-8").read()
    assert "config_name: translation" in readme and "config_name: general" in readme
    assert hub.server.unhandled == []


def test_model_and_tokenizer_push_then_from_pretrained_same_logits(hub, tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    repo = hub.repo_id("tiny-llama")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model.push_to_hub(repo)
    tokenizer.push_to_hub(repo)

    remote_model = AutoModelForCausalLM.from_pretrained(repo)
    remote_tokenizer = AutoTokenizer.from_pretrained(repo)
    text = "人人生而自由 All human beings are born free. يولد جميع الناس أحرارًا"
    assert remote_tokenizer(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert remote_tokenizer.chat_template == tokenizer.chat_template
    inputs = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        expected, got = model(**inputs).logits, remote_model(**inputs).logits
    assert torch.equal(expected, got)

    from huggingface_hub import HfApi

    info = HfApi().model_info(repo, files_metadata=True)
    weights = next(s for s in info.siblings if s.rfilename == "model.safetensors")
    assert weights.lfs is not None
    assert weights.lfs.sha256 == hashlib.sha256((tiny_model_dir / "model.safetensors").read_bytes()).hexdigest()
    assert hub.server.unhandled == []


def test_snapshot_download_of_an_older_revision_and_a_branch(hub, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    api = HfApi()
    repo = hub.repo_id("history")
    api.create_repo(repo)
    api.create_repo(repo, exist_ok=True)  # 409 handled as the client expects
    first = api.upload_file(path_or_fileobj=b"version one\n", path_in_repo="notes/v.txt", repo_id=repo)
    api.upload_file(path_or_fileobj=b"\x00binary one", path_in_repo="w.bin", repo_id=repo)
    api.upload_file(path_or_fileobj=b"version two\n", path_in_repo="notes/v.txt", repo_id=repo)
    old = first.oid

    old_dir = snapshot_download(repo, revision=old, local_dir=tmp_path / "old")
    assert (old_dir and (tmp_path / "old" / "notes" / "v.txt").read_bytes() == b"version one\n")
    assert not (tmp_path / "old" / "w.bin").exists()
    snapshot_download(repo, local_dir=tmp_path / "new")
    assert (tmp_path / "new" / "notes" / "v.txt").read_bytes() == b"version two\n"
    assert (tmp_path / "new" / "w.bin").read_bytes() == b"\x00binary one"

    api.create_branch(repo, branch="v1", revision=old)
    assert open(hf_hub_download(repo, "notes/v.txt", revision="v1"), "rb").read() == b"version one\n"
    refs = api.list_repo_refs(repo)
    assert {b.name: b.target_commit for b in refs.branches}["v1"] == old
    commits = api.list_repo_commits(repo)
    assert len(commits) == 4 and commits[-2].commit_id == old  # initial commit + three uploads, newest first
    tree = {f.path: f for f in api.list_repo_tree(repo, recursive=True, expand=True)}
    assert tree["w.bin"].lfs is not None and tree["notes/v.txt"].lfs is None
    assert tree["notes/v.txt"].last_commit.oid == commits[0].commit_id
    assert api.file_exists(repo, "notes/v.txt") and not api.file_exists(repo, "missing.txt")
    assert hub.server.unhandled == []


def test_resolve_headers_and_ranges(hub):
    from huggingface_hub import HfApi

    api = HfApi()
    repo = hub.repo_id("ranges")
    api.create_repo(repo, repo_type="dataset")
    payload = bytes(range(256)) * 4
    info = api.upload_file(path_or_fileobj=payload, path_in_repo="data/x.parquet", repo_id=repo, repo_type="dataset")
    url = f"{hub.endpoint}/datasets/{repo}/resolve/main/data/x.parquet"

    status, headers, body = _http("HEAD", url)
    assert status == 200 and body == b""
    assert headers["X-Repo-Commit"] == info.oid
    assert headers["X-Linked-Etag"].strip('"') == hashlib.sha256(payload).hexdigest()
    assert int(headers["X-Linked-Size"]) == int(headers["Content-Length"]) == len(payload)
    status, headers, body = _http("GET", url, headers={"Range": "bytes=10-19"})
    assert status == 206 and body == payload[10:20] and headers["Content-Range"] == f"bytes 10-19/{len(payload)}"
    status, _, body = _http("GET", url, headers={"Range": "bytes=-5"})
    assert status == 206 and body == payload[-5:]
    status, headers, _ = _http("GET", f"{hub.endpoint}/datasets/{repo}/resolve/main/nope.txt")
    assert status == 404 and headers["X-Error-Code"] == "EntryNotFound"
    # An LFS upload whose bytes do not match the announced sha256 is refused.
    status, _, _ = _http("PUT", f"{hub.endpoint}/_lfs/{'0' * 64}", data=b"not matching")
    assert status == 400


def test_private_repo_needs_the_owners_token(hub, hub_server, caplog):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    caplog.set_level("DEBUG")
    repo = hub.repo_id("secret")
    api = HfApi()
    api.create_repo(repo, private=True)
    api.upload_file(path_or_fileobj=b"hidden", path_in_repo="a.txt", repo_id=repo)
    assert api.model_info(repo).private is True
    assert open(hf_hub_download(repo, "a.txt", force_download=True), "rb").read() == b"hidden"

    with pytest.raises(RepositoryNotFoundError):
        HfApi(token=False).model_info(repo)
    other_token = hub_server.add_user("someone-else")
    with pytest.raises(RepositoryNotFoundError):
        HfApi(token=other_token).model_info(repo)
    with pytest.raises(HfHubHTTPError) as wrong:
        HfApi(token="hf_wrong_token").model_info(repo)
    assert wrong.value.response.status_code == 401
    status, _, _ = _http("GET", f"{hub.endpoint}/api/whoami-v2", token="hf_wrong_token")
    assert status == 401
    assert HfApi().whoami()["name"] == hub.namespace
    # Nobody but the owner writes to the namespace.
    with pytest.raises(HfHubHTTPError):
        HfApi(token=other_token).upload_file(path_or_fileobj=b"x", path_in_repo="b.txt", repo_id=repo)
    # The token never reaches a log.
    assert hub.token not in caplog.text and other_token not in caplog.text
    assert "secret" in caplog.text or hub_server.log  # the server did log requests (paths only)
    assert all(hub.token not in path for _, path, _ in hub_server.log)


def test_fault_rules_are_consulted_first(hub):
    from hub_server import Response, error
    from huggingface_hub import HfApi

    seen = []

    def flaky_whoami(request):
        seen.append(request.parts)
        return error(503, "injected") if request.parts == ["api", "whoami-v2"] and len(seen) == 1 else None

    hub.server.rules.append(flaky_whoami)
    status, _, _ = _http("GET", f"{hub.endpoint}/api/whoami-v2", token=hub.token)
    assert status == 503
    assert HfApi().whoami()["name"] == hub.namespace  # the rule declined: normal routing
    assert isinstance(error(500, "x"), Response) and len(seen) == 2


def test_folder_upload_copy_delete_tag_settings_and_hffs(hub, tmp_path):
    from huggingface_hub import CommitOperationCopy, CommitOperationDelete, DatasetCard, HfApi, HfFileSystem

    api = HfApi()
    repo = hub.repo_id("ops")
    api.create_repo(repo, repo_type="dataset", private=True)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    (tmp_path / "a" / "y.parquet").write_bytes(b"PAR1" * 10)
    (tmp_path / "b.json").write_text("{}")
    api.upload_folder(folder_path=tmp_path, repo_id=repo, repo_type="dataset")
    api.create_commit(repo, [CommitOperationCopy("a/y.parquet", "c/y2.parquet"), CommitOperationCopy("b.json", "c/b.json"),
                             CommitOperationDelete("a/x.txt")], commit_message="copy", repo_type="dataset")
    assert sorted(api.list_repo_files(repo, repo_type="dataset")) == [
        ".gitattributes", "a/y.parquet", "b.json", "c/b.json", "c/y2.parquet"]
    api.upload_folder(folder_path=tmp_path, repo_id=repo, repo_type="dataset", delete_patterns=["c/*"])
    assert sorted(api.list_repo_files(repo, repo_type="dataset")) == [".gitattributes", "a/x.txt", "a/y.parquet", "b.json"]

    fs = HfFileSystem()
    assert fs.glob(f"datasets/{repo}/**/*.parquet") == [f"datasets/{repo}/a/y.parquet"]
    with fs.open(f"datasets/{repo}/a/y.parquet", "rb") as f:
        f.seek(4)
        assert f.read(4) == b"PAR1"

    DatasetCard("---\nlicense: mit\n---\n# Ops\n").push_to_hub(repo, repo_type="dataset")
    api.create_tag(repo, tag="v1", repo_type="dataset")
    api.update_repo_settings(repo, private=False, repo_type="dataset")
    info = HfApi(token=False).dataset_info(repo, revision="v1")
    assert info.private is False and info.card_data["license"] == "mit"
    assert [t.name for t in api.list_repo_refs(repo, repo_type="dataset").tags] == ["v1"]
    api.delete_repo(repo, repo_type="dataset")
    assert not api.repo_exists(repo, repo_type="dataset")
    assert hub.server.unhandled == []
