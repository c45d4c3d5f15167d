"""The harness keeps tests offline: only loopback is reachable, caches are isolated, HF libraries start offline."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from network_guard import NameLookupBlocked, NetworkAccessBlocked

CONFTEST = Path(__file__).resolve().parent / "conftest.py"


def test_connect_to_a_public_address_is_refused_before_any_packet(network_guard, monkeypatch):
    calls = []
    monkeypatch.setitem(network_guard.originals, "connect", lambda sock, address: calls.append(address))
    start = time.perf_counter()
    for address in (("10.255.255.1", 80), ("93.184.216.34", 443)):
        with pytest.raises(NetworkAccessBlocked):
            socket.create_connection(address, timeout=5)
    assert time.perf_counter() - start < 0.5
    assert calls == []  # the real connect was never reached: nothing was sent
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock, pytest.raises(NetworkAccessBlocked):
        sock.connect_ex(("2001:db8::1", 80, 0, 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(NetworkAccessBlocked):
        sock.sendto(b"x", ("8.8.8.8", 53))
    assert len(network_guard.violations) == 4
    network_guard.violations.clear()  # the attempts above were this test's purpose


def test_name_lookup_of_a_remote_host_is_refused(network_guard):
    with pytest.raises(NameLookupBlocked):
        socket.create_connection(("huggingface.co", 443), timeout=5)
    assert network_guard.violations == ["getaddrinfo 'huggingface.co'"]
    network_guard.violations.clear()


def test_loopback_and_unix_sockets_still_work(tmp_path, network_guard):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        threading.Thread(target=lambda: server.accept()[0].sendall(b"hello"), daemon=True).start()
        with socket.create_connection(("localhost", port), timeout=5) as client:
            assert client.recv(5) == b"hello"
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        left.sendall(b"ok")
        assert right.recv(2) == b"ok"
    assert network_guard.violations == []


def test_a_swallowed_network_error_still_fails_the_test(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_inner=textwrap.dedent("""
        import socket

        def test_swallows():
            try:
                socket.create_connection(("10.255.255.1", 80), timeout=5)
            except OSError:
                pass
    """))
    env_path = os.pathsep.join([str(CONFTEST.parent), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", env_path)  # the copied conftest imports tests/network_guard.py
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*test tried to reach the network: connect ('10.255.255.1', 80)*"])


def test_python_subprocesses_are_guarded_too():
    script = "import socket\ntry:\n    socket.create_connection(('10.255.255.1', 80), timeout=5)\n" \
             "except ConnectionRefusedError as e:\n    print(type(e).__name__)\n"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "NetworkAccessBlocked"
    assert "network guard: blocked connect ('10.255.255.1', 80)" in proc.stderr


def test_hf_libraries_start_offline_with_isolated_caches():
    import datasets.config
    import huggingface_hub.constants as constants
    from huggingface_hub import hf_hub_download

    home = Path(os.environ["HF_HOME"])
    assert Path(constants.HF_HOME) == home and not str(home).startswith(str(Path.home() / ".cache"))
    assert Path(constants.HF_HUB_CACHE).is_relative_to(home)
    assert Path(datasets.config.HF_DATASETS_CACHE) == Path(os.environ["HF_DATASETS_CACHE"])
    assert constants.HF_HUB_OFFLINE and datasets.config.HF_HUB_OFFLINE
    assert os.environ.get("HF_TOKEN") is None
    with pytest.raises(Exception, match="offline|local|cache|internet"):
        hf_hub_download("someone/anything", "config.json")
