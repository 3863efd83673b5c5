"""The client against a running platform (driven by the platform's test suite, which starts
the server and passes FOX_URL, FOX_TOKEN, FOX_OTHER_TOKEN, FOX_PANEL and FOX_EXPERIMENT)."""

import json
import os
import tempfile
from pathlib import Path

from fox_ml import AuthenticationError, Client, NotFoundError, ValidationError

url = os.environ["FOX_URL"]
fox = Client(url, os.environ["FOX_TOKEN"])
experiment = json.loads(Path(os.environ["FOX_EXPERIMENT"]).read_text())

# Upload, streamed; the same bytes again are the same dataset.
ds = fox.upload_dataset(os.environ["FOX_PANEL"], name="panel.csv")
assert ds["row_count"] > 0 and "fwd_ret_15m" in ds["columns"], ds
assert fox.upload_dataset(os.environ["FOX_PANEL"], name="panel.csv")["id"] == ds["id"]
assert [d["id"] for d in fox.list_datasets()] == [ds["id"]]

# A broken experiment: a typed error with the API's code and every problem's path.
try:
    fox.submit(ds["id"], "name: broken\ncv:\n  n_splits: lots\n")
    raise AssertionError("an invalid experiment was accepted")
except ValidationError as e:
    assert e.code == "invalid_request" and e.status == 422, e
    assert any(p["path"] == "cv.n_splits" for p in e.problems), e.problems
    assert e.request_id

# Submit (idempotent), follow the events live, wait.
job = fox.submit(ds["id"], experiment, idempotency_key="python-e2e-1")
assert fox.submit(ds["id"], experiment, idempotency_key="python-e2e-1")["id"] == job["id"]
events = list(fox.events(job["id"]))
kinds = {e["kind"] for e in events}
assert {"state", "stage"} <= kinds, kinds
assert events[-1]["kind"] == "state" and events[-1]["data"]["state"] == "succeeded", events[-1]
ids = [e["id"] for e in events]
assert ids == sorted(ids) and len(set(ids)) == len(ids), "events in order, once each"
done = fox.wait(job["id"], timeout=300)
assert done["state"] == "succeeded"

# Results: summary as JSON and TOON, every artifact checked against its SHA-256.
summary = fox.summary(job["id"])
assert summary["ranking"], summary
toon = fox.summary(job["id"], format="toon")
assert isinstance(toon, str) and "ranking" in toon
with tempfile.TemporaryDirectory() as d:
    files = fox.download_artifacts(job["id"], d)
    names = {f.relative_to(Path(d).resolve()).as_posix() for f in files}
    assert "manifest.json" in names, names
    assert len(files) == len(fox.artifacts(job["id"]))
assert any(j["id"] == job["id"] for j in fox.list_jobs(state="succeeded"))
assert fox.usage()["jobs_this_month"] >= 1

# Someone else's job is not found; a bad token is not authenticated.
other = Client(url, os.environ["FOX_OTHER_TOKEN"])
try:
    other.job(job["id"])
    raise AssertionError("another account read the job")
except NotFoundError as e:
    assert e.code == "not_found" and e.status == 404
try:
    Client(url, "fox_not_a_token").usage()
    raise AssertionError("a made-up token was accepted")
except AuthenticationError as e:
    assert e.code == "unauthorized" and e.status == 401

print("python client: ok")
