"""coit_hf.training"""
