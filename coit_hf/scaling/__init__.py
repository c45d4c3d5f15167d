"""coit_hf.scaling"""
