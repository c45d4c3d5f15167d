"""coit_hf.evaluation"""
