"""Folder of the `evaluate` module coit_substring (see coit_substring.py)."""
