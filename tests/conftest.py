"""Shared pytest fixtures for coit-hf.

- Offline, isolated by default: before any test module imports huggingface_hub / datasets / transformers, the
  session gets its own HF_HOME and datasets cache in a temp folder, ``HF_HUB_OFFLINE=1`` and no token. Those
  libraries read these variables once, at import time (``huggingface_hub.constants``, ``datasets.config``), so they
  are set in ``pytest_configure`` and the ``hub`` fixture patches the imported constants as well as the environment.
- ``network_guard`` (autouse): a socket connect / sendto / name lookup for anything but loopback raises at once,
  before any packet leaves, and fails the test even when the code under test swallowed the error. Python
  subprocesses started by tests get the same guard (reported on their stderr) via ``tests/_site/sitecustomize.py``.
- ``tiny_model_dir`` (session): a tiny Llama + byte-level BPE tokenizer built by ``coit_hf.tiny_model`` from the real
  multilingual text in ``../shared/benchmarks`` (or ``tests/fixtures`` when that is absent).
- ``hub_server`` (session) / ``hub`` (function): the loopback Hub of ``tests/hub_server.py``; ``hub`` gives each
  test its own user (namespace) and token, with the environment set in this process and in ``hub.env`` for
  subprocesses.
- ``shared_benchmarks``: ``../shared/benchmarks`` or a skip that says why.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:  # tests/ holds the harness modules (hub_server, network_guard)
    sys.path.insert(0, str(TESTS_DIR))

from hub_server import HubServer  # noqa: E402
from network_guard import ENV_FLAG, NetworkGuard  # noqa: E402

pytest_plugins = ("pytester",)

REPO_ROOT = TESTS_DIR.parent
FIXTURES = TESTS_DIR / "fixtures"
SHARED_BENCHMARKS = Path(os.environ.get("COIT_HF_SHARED_BENCHMARKS", REPO_ROOT.parent / "shared" / "benchmarks"))

_session_home: Path | None = None
_saved_env: dict[str, str | None] = {}


def _set_env(values: dict[str, str | None]) -> None:
    for key, value in values.items():
        _saved_env.setdefault(key, os.environ.get(key))
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def pytest_configure(config: pytest.Config) -> None:
    """Isolate caches and go offline for the whole session (subprocesses inherit it)."""
    global _session_home
    _session_home = Path(tempfile.mkdtemp(prefix="coit-tests-"))
    _set_env({
        "HF_HOME": str(_session_home / "hf_home"),
        "HF_HUB_CACHE": None,
        "HUGGINGFACE_HUB_CACHE": None,
        "HF_DATASETS_CACHE": str(_session_home / "hf_datasets"),
        "HF_XET_CACHE": str(_session_home / "hf_xet"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": None,
        "HF_DATASETS_OFFLINE": None,
        "HF_ENDPOINT": None,
        "HF_TOKEN": None,
        "HUGGING_FACE_HUB_TOKEN": None,
        "HF_TOKEN_PATH": None,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "DO_NOT_TRACK": "1",
        "HF_UPDATE_DOWNLOAD_COUNTS": "0",
        "HF_EVALUATE_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(_session_home / "matplotlib"),
        # Python subprocesses of tests get the network guard too (tests/_site/sitecustomize.py).
        ENV_FLAG: "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS_DIR / "_site"), os.environ.get("PYTHONPATH")])),
    })
    already = [name for name in ("huggingface_hub", "datasets", "transformers") if name in sys.modules]
    if already:  # their import-time settings would point at the user's caches
        raise pytest.UsageError(f"{already} imported before tests/conftest.py could isolate the HF caches")


def pytest_unconfigure(config: pytest.Config) -> None:
    for key, value in _saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if _session_home is not None:
        shutil.rmtree(_session_home, ignore_errors=True)


# --------------------------------------------------------------------------------------------- network guard
@pytest.fixture(scope="session")
def udhr_zh_corpus(tmp_path_factory) -> Path:
    """A small en→zh CoIT corpus built once per session (UDHR pairs + the zh Alpaca fixture, 1 validation row);
    tests only read it."""
    from coit_hf.cli import main

    out = tmp_path_factory.mktemp("udhr-zh-corpus") / "coit-zh"
    assert main(["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--validation-size", "1",
                 "--pairs", str(FIXTURES / "udhr_sample_7way.jsonl"), "--alpaca",
                 f"zh={FIXTURES / 'alpaca_zh.jsonl'}"]) == 0
    return out


@pytest.fixture(autouse=True)
def torch_grad_mode_restored():
    """Tests that import lighteval's model modules directly (lighteval calls ``torch.set_grad_enabled(False)`` at
    import) must not leave later tests of the same process without gradients."""
    yield
    if "torch" in sys.modules:
        sys.modules["torch"].set_grad_enabled(True)


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> NetworkGuard:
    """Block every socket connect/sendto and DNS lookup that is not loopback; fail the test if one was tried,
    even when the code under test swallowed the error (a test of the guard itself may clear ``violations``)."""
    guard = NetworkGuard().install(monkeypatch.setattr)
    yield guard
    if guard.violations:
        pytest.fail("test tried to reach the network: " + "; ".join(guard.violations), pytrace=False)


# --------------------------------------------------------------------------------------------- data and models
@pytest.fixture(scope="session")
def shared_benchmarks() -> Path:
    """``../shared/benchmarks`` (XQuAD, UDHR); skips the test when this checkout has no ``../shared``."""
    if not (SHARED_BENCHMARKS / "udhr").is_dir():
        pytest.skip(f"real benchmark data not found at {SHARED_BENCHMARKS} (set COIT_HF_SHARED_BENCHMARKS)")
    return SHARED_BENCHMARKS


@pytest.fixture(scope="session")
def tiny_model_texts() -> list[str]:
    """The texts ``tiny_model_dir`` was trained on: UDHR (7 languages) + XQuAD contexts, or the fixture fallback."""
    from coit_hf.tiny_model import collect_texts

    if (SHARED_BENCHMARKS / "udhr").is_dir():
        return collect_texts([SHARED_BENCHMARKS / "udhr", SHARED_BENCHMARKS / "xquad"], max_contexts_per_file=20)
    return collect_texts([FIXTURES / "udhr_sample_7way.jsonl"])


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_texts: list[str]) -> Path:
    """A saved tiny Llama causal LM (< 2M parameters) with its multilingual tokenizer and ChatML template."""
    from coit_hf.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama", tiny_model_texts)


# --------------------------------------------------------------------------------------------- loopback Hub
@pytest.fixture(scope="session")
def hub_server() -> HubServer:
    """The session's loopback Hub server (``tests/hub_server.py``), started once; use ``hub`` in tests."""
    server = HubServer(root=tempfile.mkdtemp(prefix="hub-", dir=_session_home)).start()
    yield server
    server.stop()


@dataclass
class Hub:
    """A test's view of the loopback Hub: its endpoint, its user's token and namespace, env for subprocesses."""

    server: HubServer
    endpoint: str
    token: str
    namespace: str
    env: dict[str, str]

    def repo_id(self, name: str) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{name}"


_user_numbers = itertools.count(1)


@pytest.fixture
def hub(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch):
    """Point huggingface_hub / datasets / transformers at the loopback Hub for this test (online, fake token).

    Each test gets a fresh user ``hub.namespace`` with its own token, so repo ids never collide across tests.
    ``hub.server.unhandled`` (requests no route knew) and ``hub.server.rules`` (fault hooks) start empty.
    """
    import datasets.config
    import huggingface_hub.constants as hf_constants
    from huggingface_hub import hf_api

    namespace = f"user{next(_user_numbers)}"
    token = hub_server.add_user(namespace)
    endpoint = hub_server.url
    overrides = {"HF_ENDPOINT": endpoint, "HF_TOKEN": token, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1"}
    for key, value in overrides.items():
        monkeypatch.setenv(key, value)
    # Values the libraries computed from the environment at import time.
    monkeypatch.setattr(hf_constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(hf_constants, "HF_URL_HOSTS", hf_constants.HF_URL_HOSTS | {"127.0.0.1"})
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", True)
    # The module-level functions (huggingface_hub.upload_file, create_repo, ...) are methods of an HfApi built at
    # import time, so they captured the default endpoint.
    monkeypatch.setattr(hf_api.api, "endpoint", endpoint)
    # transformers >= 5.24 keeps one lazily made HfApi (transformers.utils.hub.hf_api()) with the endpoint of the
    # first call: drop it so this test's calls make one for the loopback Hub (restored afterwards).
    if "transformers.utils.hub" in sys.modules and hasattr(sys.modules["transformers.utils.hub"], "_hf_api"):
        monkeypatch.setattr(sys.modules["transformers.utils.hub"], "_hf_api", None)
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", endpoint)
    monkeypatch.setattr(datasets.config, "HUB_DATASETS_URL", endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", False)
    # datasets asks "datasets-server.<endpoint host>" for a Parquet export and pings S3 to count downloads: both
    # leave loopback (a subprocess just sees the lookup fail and falls back to the repo files).
    monkeypatch.setattr(datasets.config, "USE_PARQUET_EXPORT", False)
    monkeypatch.setattr(datasets.config, "HF_UPDATE_DOWNLOAD_COUNTS", False)
    if "evaluate.config" in sys.modules:  # evaluate stays offline (HF_EVALUATE_OFFLINE=1) but points here too
        evaluate_config = sys.modules["evaluate.config"]
        monkeypatch.setattr(evaluate_config, "HF_ENDPOINT", endpoint)
        monkeypatch.setattr(evaluate_config, "HF_LIST_ENDPOINT", endpoint + "/api/spaces?filter={type}")
        monkeypatch.setattr(evaluate_config, "HUB_EVALUATE_URL", endpoint + "/spaces/{path}/resolve/{revision}/{name}")
    hub_server.unhandled.clear()
    hub_server.rules.clear()
    yield Hub(hub_server, endpoint, token, namespace, {**os.environ, **overrides})
    hub_server.rules.clear()
