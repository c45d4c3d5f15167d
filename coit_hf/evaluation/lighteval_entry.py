"""Run lighteval's own CLI with two offline fixes applied: ``python -m coit_hf.evaluation.lighteval_entry ...``.

Same arguments as the ``lighteval`` command (e.g. ``accelerate "model_name=PATH,batch_size=8" "coit_xquad:zh|0"
--custom-tasks coit_hf.evaluation.tasks``). lighteval's registry is limited to the ``--custom-tasks`` module
(lighteval 0.13 otherwise imports every built-in task module: one fails with huggingface_hub 2.x, one downloads a
pickle at import), and lighteval's sample cache goes to ``$COIT_HF_CACHE/lighteval`` instead of the model folder.
Plain ``lighteval`` works too where it can start (online, huggingface_hub < 1.0); it then also sees the built-in
tasks. A requested coit task whose data cannot be resolved is reported with the reason (exit 2) instead of
lighteval's "task not found".
"""

from __future__ import annotations

import sys

from coit_hf.evaluation.lighteval_compat import (
    custom_tasks_only,
    lighteval_cli_app,
    sample_cache_outside_model,
)
from coit_hf.evaluation.sources import cache_root

TASKS_MODULE = "coit_hf.evaluation.tasks"


def unavailable_requested(argv: list[str]) -> list[str]:
    """``"task: reason"`` for each coit task named in ``argv`` that the tasks module left out of its table."""
    if TASKS_MODULE not in argv:
        return []
    from coit_hf.evaluation.tasks import unavailable_tasks

    missing = unavailable_tasks()
    wanted = {spec.strip().split("|")[0] for arg in argv for spec in arg.split(",")}
    return [f"{name}: {missing[name]}" for name in sorted(wanted & set(missing))]


def main(argv: list[str] | None = None) -> int:
    """Invoke lighteval's typer app with :func:`custom_tasks_only` and the out-of-model sample cache."""
    argv = list(sys.argv[1:] if argv is None else argv)
    problems = unavailable_requested(argv)
    for problem in problems:
        print(f"coit-hf: task not available: {problem}", file=sys.stderr)
    if problems:
        return 2
    app = lighteval_cli_app()
    with custom_tasks_only(), sample_cache_outside_model(cache_root() / "lighteval"):
        try:
            app(args=argv, prog_name="lighteval", standalone_mode=False)
        except SystemExit as exc:  # typer/click exit codes
            return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
