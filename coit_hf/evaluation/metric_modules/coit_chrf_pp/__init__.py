"""Folder of the `evaluate` module coit_chrf_pp (see coit_chrf_pp.py)."""
