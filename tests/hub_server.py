"""A loopback Hugging Face Hub for tests: the unmodified huggingface_hub / datasets / transformers clients talk to it
through ``HF_ENDPOINT`` (with ``HF_HUB_DISABLE_XET=1``), from this process or from subprocesses.

Test infrastructure only (no product code imports it). Standard library only: a ``ThreadingHTTPServer`` on
127.0.0.1 with an ephemeral port. File contents live on disk, content-addressed by sha256; each repository keeps a
real commit history (every commit is a new revision over a full path -> blob map) and branches, in memory.

Protocol served (what the clients call; see ``HubServer.unhandled`` for anything else they ask for):
whoami-v2, repos create/delete (409 + url when it exists), validate-yaml, repo info (``/revision/{rev}``),
preupload (``lfs`` for data/weight/binary/large files, ``regular`` for small text), NDJSON commit (file, lfsFile,
deletedFile, deletedFolder; copies arrive as these), LFS batch + PUT upload (sha256 checked), tree (recursive,
expand), paths-info, resolve (HEAD/GET with X-Repo-Commit, ETag, X-Linked-Etag/X-Linked-Size, Range), refs, branch
create/delete, tag create, commits, settings (visibility).

Auth: ``add_user(name)`` returns a token; a request carrying an unknown token gets 401, private repos are visible to
their namespace's user only, writes need that user. Tokens are never logged.

Fault injection: ``HubServer.rules`` is a list of callables ``rule(request) -> Response | None`` consulted before
routing; the first non-None response is sent as is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

logger = logging.getLogger("tests.hub_server")

TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
LFS_SUFFIXES = (".parquet", ".safetensors", ".bin", ".pt", ".pth", ".arrow", ".gguf", ".h5", ".onnx", ".msgpack",
                ".npy", ".npz", ".pkl", ".zip", ".gz", ".tar", ".model", ".png", ".jpg")
LFS_MIN_SIZE = 10 * 1024 * 1024
GITATTRIBUTES = b"".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n".encode() for s in LFS_SUFFIXES)


def card_metadata_errors(content: str) -> list[str]:
    """The Hub's card-metadata rules this server enforces: YAML front matter that parses to a mapping, ``datasets``
    a list of ids, and ``model-index`` in the shape of the Hub's spec (huggingface/hub-docs, modelcard.md: name,
    results with task.type, dataset.type/name, metrics with type/value, source with a url)."""
    if not content.startswith("---\n") or "\n---" not in content[4:]:
        return []
    try:
        meta = yaml.safe_load(content[4:content.index("\n---", 4)]) or {}
    except yaml.YAMLError as exc:
        return [f"invalid YAML: {exc}"]
    if not isinstance(meta, dict):
        return ["metadata must be a mapping"]
    errors = []
    datasets = meta.get("datasets")
    if datasets is not None and not (isinstance(datasets, list) and all(isinstance(d, str) for d in datasets)):
        errors.append('"datasets" must be a list of strings')
    index = meta.get("model-index")
    if index is None:
        return errors
    if not isinstance(index, list):
        return [*errors, '"model-index" must be an array']
    for i, model in enumerate(index):
        if not isinstance(model, dict) or not isinstance(model.get("name"), str) or not isinstance(model.get("results"), list):
            errors.append(f'"model-index[{i}]" needs "name" and "results"')
            continue
        for j, result in enumerate(model["results"]):
            where = f"model-index[{i}].results[{j}]"
            if not isinstance((result.get("task") or {}).get("type"), str):
                errors.append(f'"{where}.task.type" is required')
            dataset = result.get("dataset") or {}
            if not isinstance(dataset.get("type"), str) or not isinstance(dataset.get("name"), str):
                errors.append(f'"{where}.dataset" needs "type" and "name"')
            metrics = result.get("metrics")
            if not isinstance(metrics, list) or not metrics:
                errors.append(f'"{where}.metrics" must be a non-empty array')
            for k, metric in enumerate(metrics or []):
                if not isinstance(metric.get("type"), str) or "value" not in metric:
                    errors.append(f'"{where}.metrics[{k}]" needs "type" and "value"')
            if "source" in result and not isinstance((result["source"] or {}).get("url"), str):
                errors.append(f'"{where}.source.url" is required')
    return errors


def git_blob_oid(data: bytes) -> str:
    """Git's blob id (sha1 over a ``blob <size>\\0`` header and the bytes), what the Hub reports for regular files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


@dataclass(frozen=True)
class Entry:
    sha256: str
    size: int
    oid: str  # git blob id; for LFS files the id of the pointer file
    lfs: bool


@dataclass
class Commit:
    oid: str
    parent: str | None
    files: dict[str, Entry]
    title: str
    message: str
    author: str
    date: str


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    created: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, rev: str) -> Commit | None:
        """The commit a branch, tag or commit id (full or >= 7-char prefix) points at."""
        for refs in (self.branches, self.tags):
            if rev.removeprefix("refs/heads/").removeprefix("refs/tags/") in refs:
                return self.commits[refs[rev.removeprefix("refs/heads/").removeprefix("refs/tags/")]]
        if rev in self.commits:
            return self.commits[rev]
        if re.fullmatch(r"[0-9a-f]{7,39}", rev):
            found = [c for oid, c in self.commits.items() if oid.startswith(rev)]
            return found[0] if len(found) == 1 else None
        return None


@dataclass
class Request:
    method: str
    parts: list[str]  # URL path segments, each percent-decoded (so "refs%2Fpr%2F1" stays one segment)
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    user: str | None

    def json(self) -> dict:
        return json.loads(self.body or b"{}")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: object, status: int = 200, **headers: str) -> Response:
    return Response(status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers})


def error(status: int, message: str, code: str | None = None) -> Response:
    headers = {"X-Error-Message": message} | ({"X-Error-Code": code} if code else {})
    return json_response({"error": message}, status, **headers)


class HubServer:
    """The loopback Hub. ``start()`` serves in a daemon thread; ``url`` is the endpoint for ``HF_ENDPOINT``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="coit-hub-"))
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.tokens: dict[str, str] = {}
        self.rules: list[Callable[[Request], Response | None]] = []
        self.unhandled: list[str] = []  # "METHOD /path" of requests no route matched (404), to spot protocol gaps
        self.log: list[tuple[str, str, int]] = []  # (method, path, status) of every request; no headers, no tokens
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> HubServer:
        """Bind 127.0.0.1 on an ephemeral port and serve in a daemon thread."""
        hub = self

        class Handler(_Handler):
            server_hub = hub

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True).start()
        logger.info("loopback hub serving at %s (storage %s)", self.url, self.root)
        return self

    def stop(self) -> None:
        """Stop serving and remove the storage directory when this server created it."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add_user(self, name: str) -> str:
        """Register a user and return a fresh token for it."""
        token = "hf_test_" + secrets.token_hex(12)
        with self._lock:
            self.tokens[token] = name
        return token

    # ---------------------------------------------------------------- storage
    def _blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256

    def _put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self._blob_path(sha)
        if not path.exists():
            tmp = path.with_suffix(f".tmp{threading.get_ident()}")
            tmp.write_bytes(data)
            tmp.replace(path)
        return sha

    def _commit(self, repo: Repo, branch: str, files: dict[str, Entry], title: str, message: str, author: str,
                oid: str | None = None) -> str:
        parent = repo.branches.get(branch)
        seed = json.dumps([parent, title, time.time_ns(), sorted((p, e.sha256) for p, e in files.items())])
        oid = oid or hashlib.sha1(seed.encode()).hexdigest()
        repo.commits[oid] = Commit(oid, parent, files, title, message, author, _now())
        repo.branches[branch] = oid
        return oid

    def _entry(self, data: bytes, lfs: bool) -> Entry:
        sha = self._put_blob(data)
        if lfs:
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(data)}\n".encode()
            return Entry(sha, len(data), git_blob_oid(pointer), True)
        return Entry(sha, len(data), git_blob_oid(data), False)

    def seed_repo(self, repo_type: str, repo_id: str, files: dict[str, bytes], *, branch: str = "main",
                  commit: str | None = None, title: str = "seed") -> str:
        """Server-side commit of ``files`` to ``branch`` of ``repo_id`` (created, public, when missing), optionally
        with a given commit id (to copy a real repo's pinned revision); any namespace, no user needed. A branch that
        does not exist yet (e.g. ``refs/convert/parquet``) starts empty. Returns the commit id."""
        with self._lock:
            repo = self.repos.get((repo_type, repo_id))
            if repo is None:
                repo = Repo(repo_type, repo_id, False, _now())
                self.repos[(repo_type, repo_id)] = repo
            base = dict(repo.commits[repo.branches[branch]].files) if branch in repo.branches else \
                {".gitattributes": self._entry(GITATTRIBUTES, False)}
            for path, data in files.items():
                base[path] = self._entry(data, path.endswith(LFS_SUFFIXES) or len(data) >= LFS_MIN_SIZE)
            return self._commit(repo, branch, base, title, "", "seed", oid=commit)

    # ---------------------------------------------------------------- dispatch
    def handle(self, req: Request) -> Response:
        """Answer one request: fault rules first, then the route table."""
        for rule in list(self.rules):
            answer = rule(req)
            if answer is not None:
                return answer
        if req.headers.get("authorization", "").startswith("Bearer ") and req.user is None:
            return error(401, "Invalid credentials in Authorization header")
        p, m = req.parts, req.method
        with self._lock:
            if p == ["api", "whoami-v2"] and m == "GET":
                return self.whoami(req)
            if p == ["api", "repos", "create"] and m == "POST":
                return self.create_repo(req)
            if p == ["api", "repos", "delete"] and m == "DELETE":
                return self.delete_repo(req)
            if p == ["api", "agent-harnesses"] and m == "GET":  # huggingface_hub's user-agent registry
                return json_response({"standardEnvVars": [], "harnesses": {}})
            if p == ["api", "validate-yaml"] and m == "POST":
                problems = card_metadata_errors(req.json().get("content", ""))
                return error(400, "; ".join(problems)) if problems else json_response({"errors": [], "warnings": []})
            if len(p) >= 4 and p[0] == "api" and p[1] in TYPES:
                return self.api_repo(req, TYPES[p[1]], f"{p[2]}/{p[3]}", p[4:])
            if len(p) == 2 and p[0] == "_lfs" and m == "PUT":
                return self.lfs_put(req, p[1])
            repo_type, rest = ("dataset", p[1:]) if p[:1] == ["datasets"] else ("space", p[1:]) \
                if p[:1] == ["spaces"] else ("model", p)
            if len(rest) == 6 and rest[1].endswith(".git") and rest[2:] == ["info", "lfs", "objects", "batch"]:
                return self.lfs_batch(req, repo_type, f"{rest[0]}/{rest[1][:-4]}")
            if len(rest) >= 5 and rest[2] == "resolve" and m in ("GET", "HEAD"):
                return self.resolve(req, repo_type, f"{rest[0]}/{rest[1]}", rest[3], "/".join(rest[4:]))
        self.unhandled.append(f"{m} /{'/'.join(p)}")
        return error(404, f"no route for {m} /{'/'.join(p)}")

    def _repo(self, req: Request, repo_type: str, repo_id: str, write: bool = False) -> Repo | Response:
        repo = self.repos.get((repo_type, repo_id))
        owner = repo_id.split("/")[0]
        if repo is None:
            return error(404, f"Repository {repo_id} not found", "RepoNotFound")
        if repo.private and req.user != owner:
            return error(401, f"Repository {repo_id} not found", "RepoNotFound")
        if write and req.user != owner:
            return error(403 if req.user else 401, f"You have no write access to {repo_id}")
        return repo

    def _commit_at(self, repo: Repo, rev: str) -> Commit | Response:
        commit = repo.resolve(rev)
        return commit if commit is not None else error(404, f"Invalid rev id: {rev}", "RevisionNotFound")

    # ---------------------------------------------------------------- account and repos
    def whoami(self, req: Request) -> Response:
        if req.user is None:
            return error(401, "Invalid credentials in Authorization header")
        return json_response({"type": "user", "name": req.user, "fullname": req.user, "orgs": [],
                              "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}}})

    def create_repo(self, req: Request) -> Response:
        body = req.json()
        repo_type = body.get("type") or "model"
        repo_id = f"{body.get('organization') or req.user}/{body['name']}"
        url = f"{self.url}/{PREFIX[repo_type]}{repo_id}"
        if req.user is None or repo_id.split("/")[0] != req.user:
            return error(401 if req.user is None else 403, f"You cannot create {repo_id}")
        if (repo_type, repo_id) in self.repos:
            return json_response({"error": "You already created this repo", "url": url}, 409)
        private = body.get("private") or body.get("visibility") == "private"
        repo = Repo(repo_type, repo_id, bool(private), _now())
        self._commit(repo, "main", {".gitattributes": self._entry(GITATTRIBUTES, False)}, "initial commit", "",
                     req.user)
        self.repos[(repo_type, repo_id)] = repo
        return json_response({"url": url, "name": repo_id, "id": repo_id})

    def delete_repo(self, req: Request) -> Response:
        body = req.json()
        repo_type = body.get("type") or "model"
        repo_id = f"{body.get('organization') or req.user}/{body['name']}"
        repo = self._repo(req, repo_type, repo_id, write=True)
        if isinstance(repo, Response):
            return repo
        del self.repos[(repo_type, repo_id)]
        return json_response({})

    # ---------------------------------------------------------------- /api/{type}s/{ns}/{name}/...
    def api_repo(self, req: Request, repo_type: str, repo_id: str, rest: list[str]) -> Response:
        m = req.method
        write = m != "GET" and rest[:1] != ["paths-info"]
        repo = self._repo(req, repo_type, repo_id, write=write)
        if isinstance(repo, Response):
            return repo
        if not rest and m == "GET":
            return self.repo_info(repo, "main")
        if len(rest) == 2 and rest[0] == "revision" and m == "GET":
            return self.repo_info(repo, rest[1])
        if len(rest) == 2 and rest[0] == "preupload" and m == "POST":
            return self.preupload(req, repo, rest[1])
        if len(rest) == 2 and rest[0] == "commit" and m == "POST":
            return self.commit(req, repo, rest[1])
        if len(rest) >= 2 and rest[0] == "tree" and m == "GET":
            return self.tree(req, repo, rest[1], "/".join(rest[2:]))
        if len(rest) == 2 and rest[0] == "paths-info" and m == "POST":
            return self.paths_info(req, repo, rest[1])
        if rest == ["refs"] and m == "GET":
            branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": oid} for b, oid in repo.branches.items()]
            tags = [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": oid} for t, oid in repo.tags.items()]
            return json_response({"branches": branches, "tags": tags, "converts": []})
        if len(rest) == 2 and rest[0] == "tag" and m == "POST":
            return self.tag(req, repo, rest[1])
        if rest == ["settings"] and m == "PUT":
            body = req.json()
            if "private" in body or "visibility" in body:
                repo.private = bool(body.get("private")) or body.get("visibility") == "private"
            return json_response({})
        if len(rest) == 2 and rest[0] == "branch" and m in ("POST", "DELETE"):
            return self.branch(req, repo, rest[1])
        if len(rest) == 2 and rest[0] == "commits" and m == "GET":
            return self.commits(repo, rest[1])
        self.unhandled.append(f"{m} /api/{repo_type}s/{repo_id}/{'/'.join(rest)}")
        return error(404, "no such endpoint")

    def repo_info(self, repo: Repo, rev: str) -> Response:
        commit = self._commit_at(repo, rev)
        if isinstance(commit, Response):
            return commit
        siblings = []
        for path, e in sorted(commit.files.items()):
            sibling = {"rfilename": path, "size": e.size, "blobId": e.oid}
            if e.lfs:
                sibling["lfs"] = {"size": e.size, "sha256": e.sha256, "pointerSize": 134}
            siblings.append(sibling)
        card = {}
        if "README.md" in commit.files:
            text = self._blob_path(commit.files["README.md"].sha256).read_text(encoding="utf-8")
            if text.startswith("---\n") and "\n---" in text[4:]:
                card = yaml.safe_load(text[4:text.index("\n---", 4)]) or {}
        return json_response({
            "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24], "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0], "sha": commit.oid, "private": repo.private, "gated": False,
            "disabled": False, "downloads": 0, "likes": 0, "tags": [], "createdAt": repo.created,
            "lastModified": commit.date, "cardData": card, "siblings": siblings,
        })

    def preupload(self, req: Request, repo: Repo, rev: str) -> Response:
        commit = repo.resolve(rev)
        answers = []
        for f in req.json().get("files", []):
            sample = base64.b64decode(f.get("sample", ""))
            binary = b"\0" in sample
            lfs = f["path"].endswith(LFS_SUFFIXES) or f["size"] >= LFS_MIN_SIZE or binary
            existing = commit.files.get(f["path"]) if commit else None
            answers.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                            "oid": existing.oid if existing else None})
        return json_response({"files": answers, "commitOid": commit.oid if commit else None})

    def commit(self, req: Request, repo: Repo, branch: str) -> Response:
        if req.query.get("create_pr"):
            return error(400, "pull requests are not supported by the test hub")
        if branch not in repo.branches:
            return error(404, f"Invalid rev id: {branch}", "RevisionNotFound")
        files = dict(repo.commits[repo.branches[branch]].files)
        title, message = "", ""
        for line in req.body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                title, message = value.get("summary", ""), value.get("description", "")
                if value.get("parentCommit") and value["parentCommit"] != repo.branches[branch]:
                    return error(412, "A commit has happened since. Please refresh and try again.")
            elif key == "file":
                data = base64.b64decode(value["content"]) if value.get("encoding") == "base64" else \
                    value["content"].encode()
                files[value["path"]] = self._entry(data, False)
            elif key == "lfsFile":
                blob = self._blob_path(value["oid"])  # a copy (CommitOperationCopy) sends no size
                if not blob.exists() or blob.stat().st_size != value.get("size", blob.stat().st_size):
                    return error(422, f"LFS object {value['oid']} for {value['path']} was not uploaded")
                size = blob.stat().st_size
                pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{value['oid']}\nsize {size}\n"
                files[value["path"]] = Entry(value["oid"], size, git_blob_oid(pointer.encode()), True)
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    return error(404, f"File {value['path']} not found", "EntryNotFound")
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                files = {p: e for p, e in files.items() if not p.startswith(prefix)}
            else:
                return error(400, f"unsupported commit operation {key!r}")
        oid = self._commit(repo, branch, files, title, message, req.user or "")
        return json_response({"success": True, "commitOid": oid, "hookOutput": "",
                              "commitUrl": f"{self.url}/{PREFIX[repo.repo_type]}{repo.repo_id}/commit/{oid}"})

    def _last_commit(self, repo: Repo, commit: Commit, paths: list[str]) -> dict:
        """The newest commit (walking back from ``commit``) that changed any of ``paths``."""
        def state(c: Commit) -> list:
            return [(p, e) for p, e in sorted(c.files.items()) if any(p == q or p.startswith(q + "/") for q in paths)]
        current, here = commit, state(commit)
        while current.parent is not None and state(repo.commits[current.parent]) == here:
            current = repo.commits[current.parent]
        return {"id": current.oid, "title": current.title, "date": current.date}

    def _tree_items(self, repo: Repo, commit: Commit, path: str, recursive: bool, expand: bool) -> list | None:
        """Tree entries under ``path`` (None when ``path`` names nothing): files and directories, git-style ids."""
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        under = {p: e for p, e in commit.files.items() if p.startswith(prefix)}
        if prefix and not under:
            return None
        items, dirs = [], set()
        for p, e in sorted(under.items()):
            rel = p[len(prefix):].split("/")
            for depth in range(1, len(rel) if recursive else min(len(rel), 2)):
                dirs.add(prefix + "/".join(rel[:depth]))
            if recursive or len(rel) == 1:
                items.append(self._file_item(repo, commit, p, e, expand))
        for d in sorted(dirs):
            items.append(self._dir_item(repo, commit, d, expand))
        return items

    def _file_item(self, repo: Repo, commit: Commit, path: str, e: Entry, expand: bool) -> dict:
        item = {"type": "file", "oid": e.oid, "size": e.size, "path": path}
        if e.lfs:
            item["lfs"] = {"oid": e.sha256, "size": e.size, "pointerSize": 134}
        if expand:
            item["lastCommit"] = self._last_commit(repo, commit, [path])
        return item

    def _dir_item(self, repo: Repo, commit: Commit, path: str, expand: bool) -> dict:
        content = sorted((p, e.oid) for p, e in commit.files.items() if p.startswith(path + "/"))
        item = {"type": "directory", "oid": hashlib.sha1(json.dumps(content).encode()).hexdigest(), "path": path}
        if expand:
            item["lastCommit"] = self._last_commit(repo, commit, [path])
        return item

    def tree(self, req: Request, repo: Repo, rev: str, path: str) -> Response:
        commit = self._commit_at(repo, rev)
        if isinstance(commit, Response):
            return commit
        flag = lambda name: req.query.get(name, ["false"])[0].lower() in ("1", "true")  # noqa: E731
        items = self._tree_items(repo, commit, path, flag("recursive"), flag("expand"))
        if items is None:
            return error(404, f"{path} does not exist on {rev}", "EntryNotFound")
        return json_response(items)

    def paths_info(self, req: Request, repo: Repo, rev: str) -> Response:
        commit = self._commit_at(repo, rev)
        if isinstance(commit, Response):
            return commit
        form = parse_qs(req.body.decode()) if req.body else {}
        expand = form.get("expand", ["false"])[0].lower() in ("1", "true")
        items = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in commit.files:
                items.append(self._file_item(repo, commit, path, commit.files[path], expand))
            elif path and any(p.startswith(path + "/") for p in commit.files):
                items.append(self._dir_item(repo, commit, path, expand))
        return json_response(items)

    def branch(self, req: Request, repo: Repo, name: str) -> Response:
        if req.method == "DELETE":
            if repo.branches.pop(name, None) is None:
                return error(404, f"Invalid rev id: {name}", "RevisionNotFound")
            return json_response({})
        if name in repo.branches:
            return error(409, f"Reference refs/heads/{name} already exists")
        start = self._commit_at(repo, req.json().get("startingPoint") or "main")
        if isinstance(start, Response):
            return start
        repo.branches[name] = start.oid
        return json_response({})

    def tag(self, req: Request, repo: Repo, rev: str) -> Response:
        name = req.json()["tag"]
        if name in repo.tags:
            return error(409, f"Tag {name} already exists")
        commit = self._commit_at(repo, rev)
        if isinstance(commit, Response):
            return commit
        repo.tags[name] = commit.oid
        return json_response({})

    def commits(self, repo: Repo, rev: str) -> Response:
        commit, out = self._commit_at(repo, rev), []
        if isinstance(commit, Response):
            return commit
        while commit is not None:
            out.append({"id": commit.oid, "title": commit.title, "message": commit.message, "date": commit.date,
                        "authors": [{"user": commit.author}]})
            commit = repo.commits.get(commit.parent) if commit.parent else None
        return json_response(out)

    # ---------------------------------------------------------------- LFS
    def lfs_batch(self, req: Request, repo_type: str, repo_id: str) -> Response:
        repo = self._repo(req, repo_type, repo_id, write=True)
        if isinstance(repo, Response):
            return repo
        objects = []
        for obj in req.json().get("objects", []):
            answer = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            blob = self._blob_path(obj["oid"])
            if not (blob.exists() and blob.stat().st_size == obj["size"]):
                answer["actions"] = {"upload": {"href": f"{self.url}/_lfs/{obj['oid']}", "expires_in": 3600}}
            objects.append(answer)
        return json_response({"transfer": "basic", "objects": objects}, **{"Content-Type": "application/vnd.git-lfs+json"})

    def lfs_put(self, req: Request, oid: str) -> Response:
        if hashlib.sha256(req.body).hexdigest() != oid:
            return error(400, f"uploaded bytes do not match sha256 {oid}")
        self._put_blob(req.body)
        return Response(200)

    # ---------------------------------------------------------------- resolve
    def resolve(self, req: Request, repo_type: str, repo_id: str, rev: str, path: str) -> Response:
        repo = self._repo(req, repo_type, repo_id)
        if isinstance(repo, Response):
            return repo
        commit = self._commit_at(repo, rev)
        if isinstance(commit, Response):
            return commit
        entry = commit.files.get(path)
        if entry is None:
            answer = error(404, f"{path} does not exist on {rev}", "EntryNotFound")
            answer.headers["X-Repo-Commit"] = commit.oid
            return answer
        headers = {"X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream",
                   "ETag": f'"{entry.sha256 if entry.lfs else entry.oid}"'}
        if entry.lfs:
            headers |= {"X-Linked-Etag": f'"{entry.sha256}"', "X-Linked-Size": str(entry.size)}
        data = self._blob_path(entry.sha256).read_bytes()
        status, ranged = 200, re.fullmatch(r"bytes=(\d*)-(\d*)", req.headers.get("range", ""))
        if ranged and entry.size:
            start_s, end_s = ranged.groups()
            start = int(start_s) if start_s else max(0, entry.size - int(end_s))
            end = min(int(end_s), entry.size - 1) if start_s and end_s else entry.size - 1
            if start >= entry.size:
                return Response(416, b"", {"Content-Range": f"bytes */{entry.size}"})
            data, status = data[start:end + 1], 206
            headers["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
        return Response(status, data, headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_hub: HubServer

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
                if size == 0:
                    return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self) -> None:
        hub = self.server_hub
        url = urlsplit(self.path)
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        req = Request(self.command, [unquote(s) for s in url.path.strip("/").split("/")],
                      parse_qs(url.query), {k.lower(): v for k, v in self.headers.items()}, self._read_body(),
                      hub.tokens.get(token) if token else None)
        try:
            answer = hub.handle(req)
        except Exception as exc:  # a server bug must reach the test as a 500, not a hung connection
            logger.exception("hub server error on %s %s", self.command, url.path)
            answer = error(500, f"test hub error: {type(exc).__name__}: {exc}")
        hub.log.append((self.command, url.path, answer.status))
        self.send_response(answer.status)
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:  # request line only: never headers (tokens)
        logger.debug("%s " + format, self.address_string(), *args)
