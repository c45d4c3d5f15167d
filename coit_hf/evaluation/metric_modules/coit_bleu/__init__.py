"""Folder of the `evaluate` module coit_bleu (see coit_bleu.py)."""
