"""The tests' network guard: socket connects, datagrams and DNS lookups may only reach loopback.

Installed per test by the autouse ``network_guard`` fixture (tests/conftest.py), which fails the test on any
attempt, and in every Python subprocess a test starts, through ``tests/_site/sitecustomize.py`` (conftest puts that
folder on ``PYTHONPATH`` and sets ``COIT_HF_NETWORK_GUARD=1``), which reports attempts on stderr. The check runs
before the real call, so a blocked attempt sends nothing.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

ENV_FLAG = "COIT_HF_NETWORK_GUARD"


class NetworkAccessBlocked(ConnectionRefusedError):
    """A connection to a non-loopback address was attempted in a test."""


class NameLookupBlocked(socket.gaierror):
    """A DNS lookup of a non-local host name was attempted in a test."""


def is_loopback(host: object) -> bool:
    """True for ``localhost``, 127.0.0.0/8, ``::1`` and IPv4-mapped loopback."""
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


@dataclass
class NetworkGuard:
    """Patches ``socket`` so that only loopback is reachable; ``violations`` lists what was blocked."""

    echo: bool = False  # also write each blocked attempt to stderr (subprocesses have no test to fail)
    violations: list[str] = field(default_factory=list)
    originals: dict[str, Callable] = field(default_factory=dict)

    def _block(self, what: str, error: Exception) -> None:
        self.violations.append(what)
        if self.echo:
            sys.stderr.write(f"coit-hf test network guard: blocked {what}\n")
        raise error

    def check_address(self, sock: socket.socket, address: object, what: str) -> None:
        """Raise :class:`NetworkAccessBlocked` unless ``address`` is loopback (non-IP families always pass)."""
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return  # AF_UNIX, socketpair and friends never leave the machine
        host = address[0] if isinstance(address, tuple) and address else address
        if not is_loopback(host):
            self._block(f"{what} {address!r}", NetworkAccessBlocked(
                f"tests may only reach 127.0.0.0/8 or ::1: {what} to {address!r} blocked"))

    def install(self, setattr: Callable = setattr) -> NetworkGuard:
        """Patch ``socket.socket.connect/connect_ex/sendto`` and ``socket.getaddrinfo`` (pass
        ``monkeypatch.setattr`` to have pytest undo it)."""
        real = socket.socket
        self.originals = {"connect": real.connect, "connect_ex": real.connect_ex, "sendto": real.sendto,
                          "getaddrinfo": socket.getaddrinfo}
        own_names = {socket.gethostname().lower()}
        guard = self

        def connect(sock, address):
            guard.check_address(sock, address, "connect")
            return guard.originals["connect"](sock, address)

        def connect_ex(sock, address):
            guard.check_address(sock, address, "connect")
            return guard.originals["connect_ex"](sock, address)

        def sendto(sock, data, *args):
            guard.check_address(sock, args[-1], "sendto")
            return guard.originals["sendto"](sock, data, *args)

        def getaddrinfo(host, *args, **kwargs):
            name = host.decode() if isinstance(host, bytes) else host
            if name and not is_loopback(name) and name.lower() not in own_names and not _is_ip_literal(name):
                guard._block(f"getaddrinfo {name!r}", NameLookupBlocked(
                    socket.EAI_NONAME, f"tests may not resolve {name!r} (only loopback is reachable)"))
            return guard.originals["getaddrinfo"](host, *args, **kwargs)

        setattr(real, "connect", connect)
        setattr(real, "connect_ex", connect_ex)
        setattr(real, "sendto", sendto)
        setattr(socket, "getaddrinfo", getaddrinfo)
        return self
