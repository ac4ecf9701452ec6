# ruff: noqa: F811 - the database fixtures are imported from test_collector_ingest
"""The web-shop API keeps its limits: bodies over 16 KiB are refused before they are read
(a real `collector api` process takes 50 MB without a key and stays small), points are
whole JSON numbers only, a NaN is a 422 not a 500, and no earn passes MAX_POINTS."""

from __future__ import annotations

import http.client
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collector.loyalty.ledger import Ledger
from collector.webshop import MAX_BODY, add_channel, create_app
from protocol.limits import MAX_MINOR, MAX_POINTS
from tests.api_process import collector_api
from tests.test_collector_ingest import database_url, engine  # noqa: F401 - fixtures

URL = "/v1/accounts/00000001"


def test_points_are_whole_numbers_in_range_and_bad_numbers_are_422(engine: Engine) -> None:
    api = TestClient(create_app(engine, Ledger(engine)))
    auth = {"Authorization": f"Bearer {add_channel(engine, 'webshop')}"}
    for n, points in enumerate(["2", True, 1.0, 0, -1, MAX_POINTS + 1, None, [1]]):
        r = api.post(
            URL + "/earn", json={"points": points}, headers=auth | {"Idempotency-Key": f"p{n}"}
        )
        assert r.status_code == 422, (points, r.status_code, r.text)
    for text in ('{"points": NaN}', '{"points": Infinity}', '{"points": 1e400}'):
        r = api.post(
            URL + "/redeem",
            content=text,
            headers=auth | {"Idempotency-Key": "n1", "Content-Type": "application/json"},
        )
        assert r.status_code == 422, (text, r.status_code, r.text)
        assert "NaN" not in r.text and "Infinity" not in r.text
    # a huge amount: over the largest amount, or more points than one request may move
    huge = {"amount": MAX_MINOR + 1, "currency": "EUR"}
    r = api.post(URL + "/earn", json=huge, headers=auth | {"Idempotency-Key": "h1"})
    assert r.status_code == 422, r.text
    r = api.post(
        URL + "/earn", json={"points": 5, "extra": 1}, headers=auth | {"Idempotency-Key": "x"}
    )
    assert r.status_code == 422, r.text
    ok = api.post(URL + "/earn", json={"points": 5}, headers=auth | {"Idempotency-Key": "ok"})
    assert ok.status_code == 200 and ok.json()["balance"] == 5, ok.text


def test_a_body_over_the_limit_is_413_before_the_key_or_the_body_is_read(
    engine: Engine,
) -> None:
    api = TestClient(create_app(engine, Ledger(engine)))
    auth = {"Authorization": f"Bearer {add_channel(engine, 'webshop')}"}
    big = b'{"points": 1, "order": "' + b"x" * MAX_BODY + b'"}'
    for headers in ({}, auth | {"Idempotency-Key": "b1"}):
        r = api.post(URL + "/earn", content=big, headers=headers)
        assert r.status_code == 413, r.text
        assert f"over {MAX_BODY} bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: counted as it comes
        for _ in range(4):
            yield b" " * (MAX_BODY // 2)

    r = api.post(URL + "/earn", content=chunks(), headers=auth | {"Idempotency-Key": "b2"})
    assert r.status_code == 413, r.text
    r = api.post(URL + "/earn", json={"points": 1}, headers=auth | {"Idempotency-Key": "b3"})
    assert r.status_code == 200, r.text


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_collector_api_takes_50_mb_without_a_key_and_stays_small(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    with collector_api(database_url, tmp_path) as api:
        proc, port = api.proc, api.port
        before = _rss_mb(proc.pid)
        statuses = []
        for chunked in (False, True):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            size = 50 * 1024 * 1024
            headers = {"Content-Type": "application/json"}
            if chunked:
                headers["Transfer-Encoding"] = "chunked"
            else:
                headers["Content-Length"] = str(size)
            conn.putrequest("POST", URL + "/earn")
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            block = b"x" * (1024 * 1024)
            try:
                for _ in range(50):
                    conn.send(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                if chunked:
                    conn.send(b"0\r\n\r\n")
            except OSError:
                pass  # the server answered and closed: what we want
            statuses.append(conn.getresponse().status)
            conn.close()
        grown = _rss_mb(proc.pid) - before
        assert statuses == [413, 413], statuses
        assert grown < 50, f"RSS grew by {grown:.1f} MB"
        assert proc.poll() is None, api.log.read_text()
