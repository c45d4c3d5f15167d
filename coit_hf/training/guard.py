"""Non-finite guard: a run stops at the first NaN/inf loss or gradient norm, and a model with NaN/inf weights is
never saved, carded or pushed.

Trainer hides non-finite losses from its logs (``logging_nan_inf_filter`` replaces them by the running mean) and a
run whose weights became NaN finishes with exit 0; the checks here make such a run an error instead.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from transformers import TrainerCallback

from coit_hf.errors import CoitError


class NonFiniteError(CoitError):
    """Training produced a NaN/inf loss, gradient norm or weight."""


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().item())
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def non_finite_message(what: str, value: float, step: int) -> str:
    """The error text for a non-finite ``what`` (loss, grad_norm, ...) seen at optimizer step ``step``."""
    return (
        f"training stopped: non-finite {what} ({value}) at step {step}; nothing was saved, carded or pushed from "
        "this run. Usual causes: a learning rate too high, fp16 overflow (use bf16), NaN/inf weights in the base "
        "model, or embedding rows added without initialisation"
    )


class NonFiniteGuard(TrainerCallback):
    """Raise :class:`NonFiniteError` at the first non-finite value.

    ``check`` is called by :class:`~coit_hf.training.trainer.CoitSFTTrainer` with every micro-batch loss and every
    gradient norm (values every rank agrees on, so all ranks stop together); ``on_log`` also checks logged losses
    and gradient norms (e.g. evaluation loss).
    """

    # fp16 loss scaling overflows on purpose while it calibrates (the step is skipped): tolerate a run of these
    FP16_OVERFLOW_STEPS = 25

    def __init__(self, *, fp16: bool = False) -> None:
        self.tripped: str | None = None
        self.fp16 = fp16
        self.overflows = 0

    def check(self, what: str, value: Any, step: int) -> None:
        """Raise when ``value`` is NaN or infinite."""
        number = _as_float(value)
        if number is not None and not math.isfinite(number):
            self.tripped = non_finite_message(what, number, step)
            raise NonFiniteError(self.tripped)

    def check_grad_norm(self, value: Any, step: int) -> None:
        """Like :meth:`check`; under fp16 up to ``FP16_OVERFLOW_STEPS`` overflowing steps in a row are allowed."""
        number = _as_float(value)
        if number is None or math.isfinite(number) or not self.fp16:
            self.overflows = 0
            self.check("grad_norm", value, step)
            return
        self.overflows += 1
        if self.overflows > self.FP16_OVERFLOW_STEPS:
            self.check(f"grad_norm ({self.overflows} fp16 overflows in a row)", value, step)

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102 - TrainerCallback hook
        for key in ("loss", "eval_loss") if self.fp16 else ("loss", "grad_norm", "eval_loss"):
            if logs and key in logs:
                self.check(key, logs[key], state.global_step)
        return control


def local_shard(param: torch.Tensor) -> torch.Tensor:
    """The part of a parameter this process holds: ZeRO-3's partition, an FSDP2 DTensor's local shard, or the
    tensor itself."""
    if hasattr(param, "ds_tensor"):
        return param.ds_tensor
    to_local = getattr(param, "to_local", None)
    return to_local() if callable(to_local) else param


def non_finite_parameters(model: torch.nn.Module, limit: int = 5) -> list[str]:
    """Names of (up to ``limit``) parameters with a NaN/inf value in this process's shard."""
    bad = []
    with torch.no_grad():
        for name, param in model.named_parameters():
            shard = local_shard(param)
            if shard.is_meta or shard.numel() == 0:
                continue
            if not bool(torch.isfinite(shard).all()):
                bad.append(name)
                if len(bad) >= limit:
                    break
    return bad


def check_weights_finite(model: torch.nn.Module, accelerator: Any | None = None) -> None:
    """Raise :class:`NonFiniteError` when any process holds a NaN/inf weight (one collective when distributed)."""
    bad = non_finite_parameters(model)
    flag = torch.tensor([float(len(bad))])
    if accelerator is not None and accelerator.num_processes > 1:
        flag = accelerator.reduce(flag.to(accelerator.device), reduction="sum").cpu()
    if float(flag.sum()) > 0:
        names = ", ".join(bad) if bad else "on another process"
        raise NonFiniteError(f"refusing to save: the trained weights hold NaN/inf values ({names}); nothing was "
                             "saved, carded or pushed")
