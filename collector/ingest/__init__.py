"""The ingest: what the units send (sales, status, telemetry, events) becomes rows.

`batches` turns a batch of MQTT messages into one verified, idempotent transaction
(dead letters for what it refuses, acks to publish after the commit), `bulk` writes the
sales the fast way, and `worker` runs it all in a process beside the MQTT loop.
"""
