"""coit_hf.data"""
