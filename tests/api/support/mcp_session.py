"""A real MCP client session (the Python `mcp` SDK, streamable HTTP) against the platform's
/mcp, driven by tests/api/mcp.rs, which passes FOX_MCP_URL, FOX_TOKEN, FOX_OTHER_TOKEN,
FOX_DATASET, FOX_OTHER_DATASET and FOX_EXPERIMENT (YAML). Prints `mcp: ok` at the end."""

import asyncio
import os
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

URL = os.environ["FOX_MCP_URL"]
DATASET = os.environ["FOX_DATASET"]
OTHER_DATASET = os.environ["FOX_OTHER_DATASET"]
EXPERIMENT = os.environ["FOX_EXPERIMENT"]


def text(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def session(token, body):
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        async with streamable_http_client(URL, http_client=http) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                return await body(s)


async def owner(s):
    tools = {t.name: t for t in (await s.list_tools()).tools}
    expected = {"list_datasets", "experiment_template", "validate_experiment", "submit_experiment",
                "job_status", "list_jobs", "job_summary"}
    assert set(tools) == expected, sorted(tools)
    assert "dataset_id" in tools["submit_experiment"].input_schema["properties"]

    r = await s.call_tool("list_datasets", {})
    assert not r.is_error and DATASET in text(r) and OTHER_DATASET not in text(r), text(r)

    r = await s.call_tool("experiment_template", {"name": "quick"})
    assert not r.is_error and "targets:" in text(r), text(r)
    r = await s.call_tool("experiment_template", {"name": "nope"})
    assert r.is_error and "quick, full, canary" in text(r), text(r)

    # Validation names the bad field; nothing is queued by it.
    r = await s.call_tool("validate_experiment", {"dataset_id": DATASET,
                                                  "experiment": "name: x\ncv:\n  n_splits: lots\n"})
    assert r.is_error and "invalid_request" in text(r) and "cv.n_splits" in text(r), text(r)
    r = await s.call_tool("validate_experiment", {"dataset_id": DATASET, "experiment": EXPERIMENT})
    assert not r.is_error and "valid: true" in text(r), text(r)
    r = await s.call_tool("list_jobs", {})
    assert not r.is_error and "jobs" in text(r) and "queued" not in text(r), text(r)

    # Another account's dataset, and a malformed id: refused in words.
    r = await s.call_tool("validate_experiment", {"dataset_id": OTHER_DATASET, "experiment": EXPERIMENT})
    assert r.is_error and text(r).startswith("not_found"), text(r)
    r = await s.call_tool("job_status", {"job_id": "../../etc/passwd"})
    assert r.is_error and "job_id must be an id" in text(r), text(r)

    # The same submission 30 times at once with one key: one job.
    calls = [s.call_tool("submit_experiment", {"dataset_id": DATASET, "experiment": EXPERIMENT,
                                               "idempotency_key": "mcp-1"}) for _ in range(30)]
    results = await asyncio.gather(*calls)
    assert not any(r.is_error for r in results), [text(r) for r in results if r.is_error][:1]
    ids = {line.split(":", 1)[1].strip() for r in results for line in text(r).splitlines()
           if line.startswith("id:")}
    assert len(ids) == 1, ids
    job = ids.pop()

    # Status until it ends, then the summary in TOON.
    for _ in range(600):
        r = await s.call_tool("job_status", {"job_id": job})
        assert not r.is_error, text(r)
        if "state: succeeded" in text(r):
            break
        assert "state: failed" not in text(r) and "state: cancelled" not in text(r), text(r)
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the job did not finish: " + text(r))
    r = await s.call_tool("job_summary", {"job_id": job})
    assert not r.is_error and "ranking" in text(r), text(r)
    assert not text(r).lstrip().startswith("{"), "the summary comes as TOON, not JSON"
    return job


async def other(job):
    async def body(s):
        for tool in ("job_status", "job_summary"):
            r = await s.call_tool(tool, {"job_id": job})
            assert r.is_error and text(r).startswith("not_found"), (tool, text(r))
    return body


async def main():
    job = await session(os.environ["FOX_TOKEN"], owner)
    await session(os.environ["FOX_OTHER_TOKEN"], await other(job))
    print(f"submitted {job}")
    print("mcp: ok")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except BaseExceptionGroup as eg:  # anyio task groups wrap failures
        for e in eg.exceptions:
            print(repr(e), file=sys.stderr)
        raise
