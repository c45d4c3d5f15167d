"""Bounded retries for Hub calls, and clean failures when they run out.

huggingface_hub already retries some single requests (pre-upload, LFS batch and PUT) but not repo creation or the
commit itself, and a dropped connection mid-commit surfaces as a raw ``httpx2`` error. :func:`call_with_retries`
wraps a whole Hub operation: it retries transient failures — HTTP 408/429/500/502/503/504 and dropped or reset
connections — with exponential backoff, waits as long as a ``Retry-After`` header asks (capped), gives up after
``max_attempts`` and then raises :class:`~coit_hf.errors.CoitError` with a message that names the operation and
the repo but never a token. A commit is all-or-nothing on the Hub, so retrying one never leaves half a repo, and
re-uploading unchanged files is skipped by the client.

Environment: ``COIT_HF_HUB_RETRIES`` (attempts, default 5) and ``COIT_HF_HUB_RETRY_DELAY`` (first backoff in
seconds, default 2) override :class:`RetryPolicy` defaults.
"""

from __future__ import annotations

import email.utils
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from coit_hf.errors import CoitError

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUS_CODES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses worth retrying: timeouts, rate limits and server-side failures."""

TOKEN_ENV_VARS: tuple[str, ...] = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
_TOKEN_PATTERN = re.compile(r"\bhf_[A-Za-z0-9]{16,}")  # user access tokens: hf_ + 34 letters/digits


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    Attributes:
        max_attempts: total tries, the first included (1 = no retry).
        base_delay: wait before the first retry in seconds; doubled after each further failure.
        max_delay: cap on the exponential backoff.
        max_retry_after: cap on a server's ``Retry-After`` (a longer ask fails at once rather than hang).
    """

    max_attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 60.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must be >= 0")

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """Defaults, overridden by ``COIT_HF_HUB_RETRIES`` / ``COIT_HF_HUB_RETRY_DELAY``."""
        kwargs: dict[str, Any] = {}
        for name, key, kind in (("COIT_HF_HUB_RETRIES", "max_attempts", int),
                                ("COIT_HF_HUB_RETRY_DELAY", "base_delay", float)):
            value = os.environ.get(name)
            if value:
                try:
                    kwargs[key] = kind(value)
                except ValueError:
                    raise CoitError(f"environment variable {name} must be a number, got {value!r}") from None
        return cls(**kwargs)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff before retry number ``attempt`` (1-based)."""
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1))


def status_of(exc: BaseException) -> int | None:
    """HTTP status of a failed Hub call (``HfHubHTTPError`` or any error carrying a ``response``), else None."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``Retry-After``: delay-seconds or an HTTP date), else None."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _transport_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        import httpx2

        errors.append(httpx2.TransportError)
    except ImportError:  # pragma: no cover - huggingface_hub < 2 used httpx / requests
        pass
    try:
        import httpx

        errors.append(httpx.TransportError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def is_transient(exc: BaseException) -> bool:
    """True for failures a retry may cure: 408/429/5xx answers, dropped, reset or timed-out connections."""
    status = status_of(exc)
    if status is not None:
        return status in RETRY_STATUS_CODES
    return isinstance(exc, _transport_errors())


def redact(text: str) -> str:
    """``text`` with Hugging Face tokens (from the environment, or anything shaped ``hf_...``) masked."""
    for name in TOKEN_ENV_VARS:
        token = os.environ.get(name)
        if token and len(token) >= 4:
            text = text.replace(token, "***")
    return _TOKEN_PATTERN.sub("hf_***", text)


def describe(exc: BaseException) -> str:
    """One-line, token-free description of a Hub failure (status and the server's message when known)."""
    status = status_of(exc)
    server = getattr(exc, "server_message", None)
    if status is not None:
        text = f"HTTP {status}" + (f": {server.strip()}" if server and server.strip() else "")
    else:
        text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return redact(text)


def _hint(status: int | None) -> str:
    if status == 401:
        return " (is your token valid? set HF_TOKEN or run `hf auth login`)"
    if status == 403:
        return " (the token has no write access to this repo)"
    if status == 404:
        return " (repo or revision not found)"
    return ""


def call_with_retries(func: Callable[..., T], *args: Any, what: str, policy: RetryPolicy | None = None,
                      sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> T:
    """Call ``func(*args, **kwargs)``, retrying transient Hub failures; returns its result.

    Args:
        func: the Hub operation (``HfApi.create_repo``, ``HfApi.upload_folder``...); it must be safe to repeat.
        what: what it does, for log and error messages (e.g. ``"upload to org/coit-zh"``); never put a token here.
        policy: attempts and delays (default :meth:`RetryPolicy.from_env`).
        sleep: the wait function (tests pass a recorder).

    Raises:
        CoitError: a non-transient failure (at once) or the last transient one (after ``max_attempts``), with a
            token-free message; the original exception is chained as ``__cause__``.
    """
    policy = policy or RetryPolicy.from_env()
    attempt = 0
    while True:
        attempt += 1
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - classified below; anything unexpected is re-raised unchanged
            transient = is_transient(exc)
            status = status_of(exc)
            if status is None and not transient:
                raise
            if not transient:
                raise CoitError(f"{what} failed: {describe(exc)}{_hint(status)}") from exc
            if attempt >= policy.max_attempts:
                raise CoitError(f"{what} failed after {attempt} attempt(s): {describe(exc)}") from exc
            delay = policy.backoff(attempt)
            asked = retry_after(exc)
            if asked is not None:
                if asked > policy.max_retry_after:
                    raise CoitError(f"{what} failed: the Hub asks to retry after {asked:.0f}s "
                                    f"(more than {policy.max_retry_after:.0f}s): {describe(exc)}") from exc
                delay = asked
            logger.warning("%s failed (%s); retry %d/%d in %.1fs", what, describe(exc), attempt,
                           policy.max_attempts - 1, delay)
            sleep(delay)


def require_token(token: str | None = None, *, what: str) -> None:
    """Fail with a clear message before any upload when no Hugging Face token is available."""
    if token:
        return
    from huggingface_hub import get_token

    if not get_token():
        raise CoitError(f"{what} needs a Hugging Face token with write access: set HF_TOKEN or run `hf auth login`")
