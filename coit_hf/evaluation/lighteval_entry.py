"""Run lighteval's own CLI with two offline fixes applied: ``python -m coit_hf.evaluation.lighteval_entry ...``.

Same arguments as the ``lighteval`` command (e.g. ``accelerate "model_name=PATH,batch_size=8" "coit_xquad:zh|0"
--custom-tasks coit_hf.evaluation.tasks``). lighteval's registry is limited to the ``--custom-tasks`` module
(lighteval 0.13 otherwise imports every built-in task module: one fails with huggingface_hub 2.x, one downloads a
pickle at import), and lighteval's sample cache goes to ``$COIT_HF_CACHE/lighteval`` instead of the model folder.
Plain ``lighteval`` works too where it can start (online, huggingface_hub < 1.0); it then also sees the built-in
tasks.
"""

from __future__ import annotations

import sys

from coit_hf.evaluation.lighteval_compat import custom_tasks_only, sample_cache_outside_model
from coit_hf.evaluation.sources import cache_root


def main(argv: list[str] | None = None) -> int:
    """Invoke lighteval's typer app with :func:`custom_tasks_only` and the out-of-model sample cache."""
    from lighteval.__main__ import app

    with custom_tasks_only(), sample_cache_outside_model(cache_root() / "lighteval"):
        try:
            app(args=list(sys.argv[1:] if argv is None else argv), prog_name="lighteval", standalone_mode=False)
        except SystemExit as exc:  # typer/click exit codes
            return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
