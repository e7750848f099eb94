"""retentioneering 5.2.4's e-commerce clickstream as a cjresearch study (for tests).

``retentioneering/datasets/ecom.csv.gz`` (Apache-2.0; 31,106 events of 600 users in 3,605
sessions), fetched from the wheel with ``pip download`` (:func:`helpers.wheels.wheel_member`:
skipped, with the reason, only when the package index cannot be reached), mapped to stages
as a researcher would, through the build's own steps.
"""

from __future__ import annotations

import functools
import hashlib
import io
from typing import Any

import pandas as pd

from cjresearch.analysis.settings import Settings
from cjresearch.artifacts import compute
from cjresearch.data.study import study_from_dict
from cjresearch.data.tables import validate_tables
from helpers.wheels import wheel_member

__all__ = ["STAGES", "ecom", "ecom_study"]

REQUIREMENT = "retentioneering==5.2.4"
MEMBER = "retentioneering/datasets/ecom.csv.gz"
SHA256 = "110716838facbec8143c6c9af74500eb0252197da212fd75aa4c47bf3b692090"

#: The stages a researcher would map the events to; everything else is browsing.
STAGES = {
    "cart": ("add_to_cart", "cart"),
    "checkout": ("shipping_details", "checkout_bug", "payment_details", "payment_error"),
    "purchase": ("purchase",),
}


@functools.cache
def ecom() -> pd.DataFrame:
    """The raw log (checked against its SHA-256)."""
    raw = wheel_member(REQUIREMENT, MEMBER)
    assert hashlib.sha256(raw).hexdigest() == SHA256
    return pd.read_csv(io.BytesIO(raw), compression="gzip")


@functools.cache
def ecom_study() -> tuple[Any, Any, Settings]:
    """The validated tables, their emotion step and the settings (sessions by session_id)."""
    log = ecom()
    stage = {event: s for s, events in STAGES.items() for event in events}
    events = pd.DataFrame(
        {
            "customer_id": log["user_id"],
            "timestamp": log["timestamp"],
            "touchpoint": log["event"],
            "stage": log["event"].map(stage).fillna("browse"),
            "channel": log["platform"],
            "session_id": log["session_id"],
        }
    )
    users = pd.unique(log["user_id"])
    customers = pd.DataFrame({"customer_id": users, "churned": False})  # no churn in the log
    study = study_from_dict(
        {
            "study": {"name": "ecom", "stages": ["browse", *STAGES]},
            "data": {"customers": "customers.csv", "events": "events.csv"},
        },
        path="study.toml",
    )
    tables = validate_tables(study, {"customers": customers, "events": events})
    settings = Settings.from_study(study)
    return tables, compute.emotion(tables, settings, agreement=False), settings
