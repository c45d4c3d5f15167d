"""Folder of the `evaluate` module coit_squad (see coit_squad.py)."""
