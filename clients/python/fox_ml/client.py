"""The job API client (httpx): datasets, jobs, live events, summaries, artifacts."""

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union
from urllib.parse import quote

import httpx

from .errors import FoxError, JobFailedError, from_response

#: Every operation of the API this client calls, as (method, path template). The test suite
#: checks each against the committed OpenAPI document, so a renamed route fails the build.
OPERATIONS = {
    "upload_dataset": ("POST", "/api/v1/datasets"),
    "list_datasets": ("GET", "/api/v1/datasets"),
    "get_dataset": ("GET", "/api/v1/datasets/{id}"),
    "delete_dataset": ("DELETE", "/api/v1/datasets/{id}"),
    "submit": ("POST", "/api/v1/jobs"),
    "list_jobs": ("GET", "/api/v1/jobs"),
    "get_job": ("GET", "/api/v1/jobs/{id}"),
    "delete_job": ("DELETE", "/api/v1/jobs/{id}"),
    "cancel": ("POST", "/api/v1/jobs/{id}/cancel"),
    "retry": ("POST", "/api/v1/jobs/{id}/retry"),
    "events": ("GET", "/api/v1/jobs/{id}/events"),
    "summary": ("GET", "/api/v1/jobs/{id}/summary"),
    "list_artifacts": ("GET", "/api/v1/jobs/{id}/artifacts"),
    "download_artifact": ("GET", "/api/v1/jobs/{id}/artifacts/{path}"),
    "usage": ("GET", "/api/v1/usage"),
}

#: Job states after which nothing changes (the API's JobState values).
TERMINAL = ("succeeded", "failed", "cancelled")

_CHUNK = 1 << 20


def _path(op: str, **params: str) -> str:
    method, template = OPERATIONS[op]
    for k, v in params.items():
        safe = "/" if k == "path" else ""
        template = template.replace("{" + k + "}", quote(str(v), safe=safe))
    return template


class Client:
    """A client of one platform with one API token (``fox_…``, from the dashboard)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = 60.0,
        transport: Optional[httpx.BaseTransport] = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": "fox-ml-python/0.1.0",
            },
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _check(self, res: httpx.Response) -> httpx.Response:
        if res.status_code >= 400:
            try:
                body = res.json()
            except ValueError:
                body = None
            raise from_response(res.status_code, body, res.headers)
        return res

    def _call(self, op: str, path_params: Optional[Dict[str, str]] = None, **kw: Any) -> Any:
        """Calls an operation; ``kw`` goes to httpx (``params`` is the query)."""
        method = OPERATIONS[op][0]
        res = self._check(self._http.request(method, _path(op, **(path_params or {})), **kw))
        if res.status_code == 204 or not res.content:
            return None
        return res.json()

    # -- datasets ---------------------------------------------------------------------------

    def upload_dataset(self, path: Union[str, os.PathLike], name: Optional[str] = None) -> Dict[str, Any]:
        """Streams a CSV or Parquet file; uploading the same bytes again returns the dataset
        you already have."""
        path = Path(path)
        name = name or path.name
        kind = "application/vnd.apache.parquet" if path.suffix.lower() in (".parquet", ".pq") else "text/csv"

        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as f:
                while True:
                    b = f.read(_CHUNK)
                    if not b:
                        return
                    yield b

        return self._call(
            "upload_dataset",
            params={"name": name},
            content=chunks(),
            headers={"Content-Type": kind, "Content-Length": str(path.stat().st_size)},
            # The server reads as long as the upload takes.
            timeout=httpx.Timeout(self._http.timeout.connect, read=None, write=None),
        )

    def list_datasets(self) -> List[Dict[str, Any]]:
        return self._call("list_datasets")["datasets"]

    def get_dataset(self, dataset_id: str) -> Dict[str, Any]:
        return self._call("get_dataset", {"id": dataset_id})

    def delete_dataset(self, dataset_id: str) -> None:
        self._call("delete_dataset", {"id": dataset_id})

    # -- jobs -------------------------------------------------------------------------------

    def submit(
        self,
        dataset_id: str,
        experiment: Union[str, Dict[str, Any]],
        baseline_job_id: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Queues a job: ``experiment`` is the engine's config as YAML text or a dict. With
        ``idempotency_key`` a retried call returns the same job."""
        body: Dict[str, Any] = {"dataset_id": dataset_id, "experiment": experiment}
        if baseline_job_id:
            body["baseline_job_id"] = baseline_job_id
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._call("submit", json=body, headers=headers)

    def job(self, job_id: str) -> Dict[str, Any]:
        return self._call("get_job", {"id": job_id})

    def list_jobs(self, state: Optional[str] = None, limit: int = 50) -> Iterator[Dict[str, Any]]:
        """Every job of the account, newest first (pages followed as you iterate)."""
        cursor = None
        while True:
            q: Dict[str, Any] = {"limit": limit}
            if state:
                q["state"] = state
            if cursor:
                q["cursor"] = cursor
            page = self._call("list_jobs", params=q)
            yield from page["jobs"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def cancel(self, job_id: str) -> Dict[str, Any]:
        return self._call("cancel", {"id": job_id})

    def retry(self, job_id: str) -> Dict[str, Any]:
        return self._call("retry", {"id": job_id})

    def delete_job(self, job_id: str) -> None:
        self._call("delete_job", {"id": job_id})

    def usage(self) -> Dict[str, Any]:
        return self._call("usage")

    def events(self, job_id: str, after: int = 0) -> Iterator[Dict[str, Any]]:
        """The job's events (``state``, ``stage``, ``progress``, ``log``) as they happen, over
        Server-Sent Events; ends after the job's final state. Reconnects with
        ``Last-Event-ID`` when the connection drops."""
        last = after
        while True:
            headers = {"Accept": "text/event-stream"}
            if last:
                headers["Last-Event-ID"] = str(last)
            ended = False
            try:
                with self._http.stream(
                    "GET",
                    _path("events", id=job_id),
                    headers=headers,
                    timeout=httpx.Timeout(self._http.timeout.connect, read=None),
                ) as res:
                    if res.status_code >= 400:
                        res.read()
                        self._check(res)
                    for event in _sse(res.iter_lines()):
                        last = max(last, int(event.get("id", last)))
                        yield event
                        if event.get("kind") == "state" and event.get("data", {}).get("state") in TERMINAL:
                            ended = True
                            return
            except (httpx.RemoteProtocolError, httpx.ReadError):
                pass
            if ended:
                return
            # The stream ended without a final state: ask whether the job is over.
            if self.job(job_id)["state"] in TERMINAL:
                return
            time.sleep(1.0)

    def wait(self, job_id: str, timeout: Optional[float] = None, raise_on_failure: bool = True) -> Dict[str, Any]:
        """Blocks until the job ends; returns it. Raises :class:`JobFailedError` when it failed
        or was cancelled (unless ``raise_on_failure`` is false), ``TimeoutError`` after
        ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["state"] in TERMINAL:
                if raise_on_failure and job["state"] != "succeeded":
                    raise JobFailedError(job)
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['state']} after {timeout} s")
            time.sleep(1.0)

    def summary(self, job_id: str, format: str = "json") -> Union[Dict[str, Any], str]:
        """The run's summary: a dict, or TOON text with ``format="toon"``."""
        res = self._check(self._http.get(_path("summary", id=job_id), params={"format": format}))
        return res.text if format == "toon" else res.json()

    def artifacts(self, job_id: str) -> List[Dict[str, Any]]:
        """The run directory's files, each with ``path``, ``size`` and ``sha256``."""
        return self._call("list_artifacts", {"id": job_id})["artifacts"]

    def download_artifact(self, job_id: str, path: str, dest: Union[str, os.PathLike], sha256: Optional[str] = None) -> Path:
        """Streams one artifact to ``dest``; checks its SHA-256 when given (or listed)."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        tmp = dest.with_name(dest.name + ".part")
        with self._http.stream("GET", _path("download_artifact", id=job_id, path=path)) as res:
            if res.status_code >= 400:
                res.read()
                self._check(res)
            with open(tmp, "wb") as f:
                for chunk in res.iter_bytes(_CHUNK):
                    h.update(chunk)
                    f.write(chunk)
        if sha256 and h.hexdigest() != sha256:
            tmp.unlink()
            raise FoxError("checksum_mismatch", f"{path}: SHA-256 {h.hexdigest()} != {sha256}")
        tmp.replace(dest)
        return dest

    def download_artifacts(self, job_id: str, dest_dir: Union[str, os.PathLike]) -> List[Path]:
        """The whole run directory into ``dest_dir``, every file checked against its SHA-256."""
        root = Path(dest_dir).resolve()
        out = []
        for a in self.artifacts(job_id):
            target = (root / a["path"]).resolve()
            if root not in target.parents:
                raise FoxError("invalid_path", f"artifact path {a['path']!r} leaves the run directory")
            out.append(self.download_artifact(job_id, a["path"], target, a["sha256"]))
        return out


def _sse(lines: Iterator[str]) -> Iterator[Dict[str, Any]]:
    """Parses ``text/event-stream`` lines into the API's event objects."""
    data: List[str] = []
    for line in lines:
        if line == "":
            if data:
                try:
                    yield json.loads("\n".join(data))
                except ValueError:
                    pass
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        # `event:`, `id:` and comments (keep-alives) are carried in the JSON too, or ignored.
