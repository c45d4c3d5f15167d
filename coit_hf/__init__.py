"""coit-hf: cross-lingual instruction tuning (CoIT) on the Hugging Face stack.

Implements "Extrapolating Large Language Models to Non-English by Aligning Languages" (Zhu et al., 2023)
as a TRL / datasets / lighteval plugin.
"""

__version__ = "0.1.0"
