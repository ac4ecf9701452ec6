"""The local store: where a completed sale becomes durable and tamper-evident.

`Store` keeps the signed, hash-chained journal, the outbox, print jobs and the catalog
in one SQLite file; `DeviceState` keeps small documents in an atomically written file.
"""

from appliance.store.catalog import CatalogRejected, CatalogStore
from appliance.store.db import SCHEMA_VERSION
from appliance.store.errors import DuplicateSaleError, StoreError, StoreFileError
from appliance.store.journal import Store
from appliance.store.outbox import Outbox, Pending
from appliance.store.print_jobs import HeldReceipt, PrintJob, PrintJobs
from appliance.store.state import DeviceState

__all__ = [
    "SCHEMA_VERSION",
    "CatalogRejected",
    "CatalogStore",
    "DeviceState",
    "DuplicateSaleError",
    "HeldReceipt",
    "Outbox",
    "Pending",
    "PrintJob",
    "PrintJobs",
    "Store",
    "StoreError",
    "StoreFileError",
]
