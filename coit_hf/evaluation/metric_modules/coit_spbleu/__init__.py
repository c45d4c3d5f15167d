"""Folder of the `evaluate` module coit_spbleu (see coit_spbleu.py)."""
