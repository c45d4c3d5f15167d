"""datatrove executors for the corpus build: local processes, a Slurm cluster or a Ray cluster.

A stage's tasks that completed are recorded in its logging folder (``completions/``), so running the same build
again skips them (datatrove's ``skip_completed``).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datatrove.executor import LocalPipelineExecutor
from datatrove.executor.base import PipelineExecutor

from coit_hf.errors import ConfigError

EXECUTORS = ("local", "slurm", "ray")
SMALL_BUILD_ROWS = 50_000


@dataclass
class ExecutorOptions:
    """Where the build's tasks run.

    Attributes:
        kind: ``local`` (processes on this machine), ``slurm`` (job arrays via ``sbatch``) or ``ray`` (a Ray
            cluster: ``ray_address``, or a local instance when None).
        workers: tasks run at the same time (local: processes; Ray: concurrent tasks; Slurm: array jobs at once);
            None = this machine's cores (local) or no limit (cluster).
        slurm_partition / slurm_time / slurm_cpus_per_task / slurm_mem_per_cpu_gb: the sbatch resources per task.
        slurm_env_command: shell line that activates the environment on the nodes (default: this interpreter's
            virtual environment).
        slurm_sbatch_args: extra ``#SBATCH --key=value`` lines.
        ray_address: address of a running Ray cluster (``ray.init(address=...)``).
        ray_cpus_per_task: CPUs Ray reserves per task.
    """

    kind: str = "local"
    workers: int | None = None
    slurm_partition: str | None = None
    slurm_time: str = "24:00:00"
    slurm_cpus_per_task: int = 1
    slurm_mem_per_cpu_gb: int = 2
    slurm_env_command: str | None = None
    slurm_sbatch_args: dict[str, Any] = field(default_factory=dict)
    ray_address: str | None = None
    ray_cpus_per_task: int = 1

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ConfigError(f"--executor must be one of {', '.join(EXECUTORS)}, got {self.kind!r}")
        if self.workers is not None and (isinstance(self.workers, bool) or self.workers < 1):
            raise ConfigError(f"--workers must be a whole number >= 1, got {self.workers!r}")
        if self.kind == "slurm" and not self.slurm_partition:
            raise ConfigError("--executor slurm needs --slurm-partition")
        for name in ("slurm_cpus_per_task", "slurm_mem_per_cpu_gb", "ray_cpus_per_task"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")

    def local_workers(self, tasks: int, rows: int | None = None) -> int:
        """Local processes for ``tasks`` tasks: ``workers``, else the cores (one for small inputs, below
        :data:`SMALL_BUILD_ROWS` input lines, where starting processes costs more than it saves)."""
        if self.workers is None and rows is not None and rows < SMALL_BUILD_ROWS:
            return 1
        return max(1, min(tasks, self.workers or os.cpu_count() or 1))


class QuietLocalPipelineExecutor(LocalPipelineExecutor):
    """LocalPipelineExecutor whose tasks log to their log files only: a CLI build prints its own one-line errors and
    report, not datatrove's per-task INFO lines (they stay in ``<work>/logs/<stage>/logs/``)."""

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        with contextlib.redirect_stderr(io.StringIO()):
            return super()._run_for_rank(rank, local_rank, node_rank)

    def run(self):
        """One worker: the tasks run in this process, one after the other, without the process pool and manager
        process datatrove starts (seconds of start-up that dominate small builds)."""
        if self.workers != 1 or self.depends:
            if self.start_method == "forkserver":  # workers fork from a server that has imported the build once
                import multiprocess

                multiprocess.get_context("forkserver").set_forkserver_preload(["coit_hf.data.steps"])
            return super().run()
        self._launched = True
        pipeline = self.pipeline
        for rank in self.get_incomplete_ranks(range(self.local_rank_offset, self.local_rank_offset + self.local_tasks)):
            self.pipeline = deepcopy(pipeline)
            self._run_for_rank(rank)
        self.pipeline = pipeline
        return None


@contextlib.contextmanager
def quiet_datatrove():
    """Keep datatrove's console logging out of this process's stderr while a build runs (task logs still go to
    their files)."""
    from loguru import logger

    logger.disable("datatrove")
    try:
        yield
    finally:
        logger.enable("datatrove")


def _slurm_env_command() -> str:
    activate = Path(sys.prefix) / "bin" / "activate"
    return f"source {activate}" if activate.is_file() else ""


def make_executor(options: ExecutorOptions, pipeline: list, *, tasks: int, logging_dir: str, job_name: str,
                  depends: PipelineExecutor | None = None, rows: int | None = None) -> PipelineExecutor:
    """The datatrove executor that runs ``pipeline`` as ``tasks`` tasks (``rows``: input lines, when known)."""
    if options.kind == "local":
        return QuietLocalPipelineExecutor(pipeline, tasks=tasks, workers=options.local_workers(tasks, rows),
                                          logging_dir=logging_dir, skip_completed=True)
    if options.kind == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        return SlurmPipelineExecutor(
            pipeline, tasks=tasks, workers=options.workers or -1, time=options.slurm_time,
            partition=str(options.slurm_partition), cpus_per_task=options.slurm_cpus_per_task,
            mem_per_cpu_gb=options.slurm_mem_per_cpu_gb, job_name=job_name, logging_dir=logging_dir,
            env_command=options.slurm_env_command or _slurm_env_command(), sbatch_args=options.slurm_sbatch_args,
            depends=depends, skip_completed=True, mail_type="NONE",
        )
    from datatrove.executor import RayPipelineExecutor

    return RayPipelineExecutor(pipeline, tasks=tasks, workers=options.workers or -1, logging_dir=logging_dir,
                               cpus_per_task=options.ray_cpus_per_task, mem_per_cpu_gb=0.5, skip_completed=True)


@contextlib.contextmanager
def ray_session(options: ExecutorOptions):
    """Connect to the Ray cluster for the build (or start a local instance), and disconnect after."""
    if options.kind != "ray":
        yield
        return
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'coit-hf[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=options.ray_address, log_to_driver=False, include_dashboard=False)
    try:
        yield
    finally:
        if started:
            ray.shutdown()
