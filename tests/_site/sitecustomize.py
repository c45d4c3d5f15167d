"""Installs the coit-hf test network guard in Python subprocesses started by tests (see tests/network_guard.py)."""

import os
import sys

if os.environ.get("COIT_HF_NETWORK_GUARD") == "1":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        from network_guard import NetworkGuard
    finally:
        del sys.path[0]
    NetworkGuard(echo=True).install()
