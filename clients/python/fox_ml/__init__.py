"""Python client for the Fox ML Infrastructure job API.

    from fox_ml import Client

    fox = Client("https://fox.example", token="fox_…")
    dataset = fox.upload_dataset("panel.parquet")
    job = fox.submit(dataset["id"], open("experiment.yaml").read())
    for event in fox.events(job["id"]):
        print(event["kind"], event["data"])
    job = fox.wait(job["id"])
    print(fox.summary(job["id"], format="toon"))
    fox.download_artifacts(job["id"], "runs/" + job["id"])

Errors are raised as :class:`FoxError` subclasses carrying the API's stable error ``code``.
"""

from .client import OPERATIONS, Client
from .errors import (
    AuthenticationError,
    ConflictError,
    DatasetTooLargeError,
    FoxError,
    JobFailedError,
    LicenseError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
    ValidationError,
)

__all__ = [
    "OPERATIONS",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "DatasetTooLargeError",
    "FoxError",
    "JobFailedError",
    "LicenseError",
    "NotFoundError",
    "QuotaExceededError",
    "RateLimitedError",
    "ServerError",
    "ValidationError",
]
__version__ = "0.1.0"
