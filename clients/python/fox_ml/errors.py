"""Typed errors carrying the job API's error document (``{"error": {code, message, …}}``)."""

from typing import Any, Dict, Optional


class FoxError(Exception):
    """An error answer of the API: ``code`` is stable, ``message`` is for people."""

    def __init__(
        self,
        code: str,
        message: str,
        status: Optional[int] = None,
        request_id: Optional[str] = None,
        details: Any = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.details = details

    @property
    def problems(self):
        """For ``invalid_request``: every problem with its ``path`` and ``message``."""
        if isinstance(self.details, dict):
            return self.details.get("problems") or []
        return []


class AuthenticationError(FoxError):
    """``unauthorized``: no token, or a revoked or unknown one."""


class LicenseError(FoxError):
    """``forbidden``, ``no_license``, ``license_suspended``, ``license_expired``, ``license_revoked``."""


class NotFoundError(FoxError):
    """``not_found``: no such object in your account."""


class ConflictError(FoxError):
    """``conflict``, ``dataset_in_use``, ``idempotency_conflict``."""


class ValidationError(FoxError):
    """``invalid_request``, ``bad_request``, ``unsupported_media_type``: see :attr:`problems`."""


class QuotaExceededError(FoxError):
    """``quota_exceeded``: the month's jobs are used up (``details`` has the reset date)."""


class DatasetTooLargeError(FoxError):
    """``dataset_too_large`` (and ``payload_too_large``): the license's dataset limit."""


class RateLimitedError(FoxError):
    """``rate_limited``: retry after ``retry_after`` seconds."""

    retry_after: Optional[float] = None


class ServerError(FoxError):
    """``internal``, ``unavailable``, ``timeout``: retry later."""


class JobFailedError(FoxError):
    """Raised by :meth:`Client.wait` when the job failed or was cancelled."""

    def __init__(self, job: Dict[str, Any]) -> None:
        reason = job.get("error") or job.get("state", "")
        super().__init__(f"job_{job.get('state')}", f"job {job.get('id')} {job.get('state')}: {reason}")
        self.job = job


#: The class raised for each error code of the API.
CODES = {
    "unauthorized": AuthenticationError,
    "forbidden": LicenseError,
    "no_license": LicenseError,
    "license_suspended": LicenseError,
    "license_expired": LicenseError,
    "license_revoked": LicenseError,
    "not_found": NotFoundError,
    "method_not_allowed": ValidationError,
    "conflict": ConflictError,
    "dataset_in_use": ConflictError,
    "idempotency_conflict": ConflictError,
    "invalid_request": ValidationError,
    "bad_request": ValidationError,
    "unsupported_media_type": ValidationError,
    "quota_exceeded": QuotaExceededError,
    "dataset_too_large": DatasetTooLargeError,
    "payload_too_large": DatasetTooLargeError,
    "rate_limited": RateLimitedError,
    "timeout": ServerError,
    "unavailable": ServerError,
    "internal": ServerError,
}


def from_response(status: int, body: Any, headers=None) -> FoxError:
    """The typed error for an error answer (any body: a proxy may answer with HTML)."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        cls = ServerError if status >= 500 else FoxError
        return cls("", f"HTTP {status}", status=status)
    code = err.get("code", "")
    cls = CODES.get(code, ServerError if status >= 500 else FoxError)
    e = cls(code, err.get("message", ""), status, err.get("request_id"), err.get("details"))
    if isinstance(e, RateLimitedError) and headers is not None:
        try:
            e.retry_after = float(headers.get("retry-after"))
        except (TypeError, ValueError):
            pass
    return e
