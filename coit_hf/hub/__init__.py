"""coit_hf.hub"""
