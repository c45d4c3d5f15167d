"""coit_hf.analysis"""
