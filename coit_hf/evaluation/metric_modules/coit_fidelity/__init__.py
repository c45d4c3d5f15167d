"""Folder of the `evaluate` module coit_fidelity (see coit_fidelity.py)."""
