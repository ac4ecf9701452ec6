"""The OpenAPI document a real `collector api` serves says what it answers. Every status
each route documents is provoked, and the body it got is checked against the documented
schema (schemathesis's conformance checks); every status answered is documented; the
Idempotency-Key is a required header where the code requires one; docs/webshop-openapi.json
is the served document. Then schemathesis fuzzes each route from the document, a bounded
and deterministic number of examples, with every check it has."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from collector.db import open_database
from collector.webshop import MAX_BODY, add_channel
from tests.api_process import ApiProcess, collector_api
from tests.conftest import ROOT

DOC = ROOT / "docs" / "webshop-openapi.json"
EXAMPLES = 50  # per route and mode
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ONE = "00000001"
BALANCE, EARN, REDEEM = (
    "/v1/accounts/{account}",
    "/v1/accounts/{account}/earn",
    "/v1/accounts/{account}/redeem",
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiProcess, str]]:
    """One `collector api` on SQLite for the module, and a channel's key."""
    tmp = tmp_path_factory.mktemp("api")
    url = f"sqlite:///{tmp}/collector.db"
    engine = open_database(url)
    key = add_channel(engine, "webshop")
    engine.dispose()
    with collector_api(url, tmp) as proc:
        yield proc, key


@pytest.fixture(scope="module")
def served(api: tuple[ApiProcess, str]) -> dict[str, Any]:
    r = httpx.get(api[0].url + "/openapi.json")
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def _asks(key: str) -> list[tuple[str, str, str, int, dict[str, str], Any]]:
    """(method, route, account, the status it must answer, headers, body): each documented
    status of each route, provoked. A body that is bytes goes as it is, else as JSON."""
    auth = {"Authorization": f"Bearer {key}"}
    big = b'{"points": 1, "order": "' + b"x" * MAX_BODY + b'"}'
    # no Content-Length (a list is sent chunked): counted as it comes
    chunked = [b'{"points": 1, "order": "', b"x" * MAX_BODY, b'"}']

    json_type = {"Content-Type": "application/json"}

    def idem(k: str) -> dict[str, str]:
        return {"Idempotency-Key": k}

    return [
        ("GET", BALANCE, ONE, 200, auth, None),
        ("GET", BALANCE, ONE, 200, {"X-API-Key": key}, None),
        ("GET", BALANCE, ONE, 401, {}, None),
        ("GET", BALANCE, ONE, 401, {"Authorization": "Bearer nope"}, None),
        ("GET", BALANCE, ONE, 401, {"Authorization": key}, None),  # not Bearer
        ("GET", BALANCE, ONE, 413, auth, big),
        ("GET", BALANCE, "123", 422, auth, None),
        ("POST", EARN, ONE, 200, auth | idem("e1"), {"points": 50}),
        ("POST", EARN, ONE, 200, auth | idem("e1"), {"points": 50}),  # a replay
        ("POST", EARN, ONE, 200, auth | idem("e2"), {"amount": 1999, "currency": "EUR"}),
        ("POST", EARN, ONE, 400, auth | idem("e3") | json_type, b'{"order": "\xff"}'),
        ("POST", EARN, ONE, 401, idem("e3"), {"points": 1}),
        ("POST", EARN, ONE, 409, auth | idem("e1"), {"points": 51}),
        ("POST", EARN, ONE, 413, idem("e3"), big),  # before the key is looked at
        ("POST", EARN, ONE, 413, auth | idem("e3"), chunked),
        ("POST", EARN, ONE, 422, auth, {"points": 1}),  # no Idempotency-Key
        ("POST", EARN, ONE, 422, auth | idem("a b"), {"points": 1}),
        ("POST", EARN, ONE, 422, auth | idem("e4"), {}),
        ("POST", EARN, ONE, 422, auth | idem("e4"), {"points": 1, "amount": 100}),
        ("POST", EARN, ONE, 422, auth | idem("e4"), {"amount": 1, "currency": "GBP"}),
        ("POST", EARN, ONE, 422, auth | idem("e4"), b'{"points": NaN}'),
        ("POST", EARN, ONE, 422, auth | idem("e4"), b"{not json"),
        ("POST", REDEEM, ONE, 200, auth | idem("r1"), {"points": 10}),
        ("POST", REDEEM, ONE, 400, auth | idem("r2") | json_type, b"\x80"),
        ("POST", REDEEM, ONE, 401, {"X-API-Key": "nope"} | idem("r2"), {"points": 1}),
        ("POST", REDEEM, ONE, 409, auth | idem("r2"), {"points": 10**6}),
        ("POST", REDEEM, ONE, 409, auth | idem("e2"), {"points": 1}),  # an earn's
        ("POST", REDEEM, ONE, 413, auth | idem("r3"), big),
        ("POST", REDEEM, ONE, 422, auth | idem("r3"), {"points": "2"}),
        ("POST", REDEEM, "0000000x", 422, auth | idem("r3"), {"points": 1}),
    ]


def test_every_documented_answer_is_given_with_the_documented_body(
    api: tuple[ApiProcess, str], served: dict[str, Any]
) -> None:
    proc, key = api
    schema = schemathesis.openapi.from_dict(served)
    answered: dict[tuple[str, str], set[str]] = defaultdict(set)
    with httpx.Client(base_url=proc.url, timeout=30) as http:
        for method, route, account, status, headers, body in _asks(key):
            path = route.format(account=account)
            if isinstance(body, dict):
                r = http.request(method, path, headers=headers, json=body)
            else:
                r = http.request(method, path, headers=headers, content=body)
                r.request.read()  # what was sent, for the checks' report
            assert r.status_code == status, (method, path, headers, body, r.status_code, r.text)
            # the body, its content type and headers as the document says for that status;
            # a status it does not document fails here
            case = schema[route][method].Case(path_parameters={"account": account})
            case.validate_response(r, checks=CONFORMANCE)
            answered[route, method.lower()].add(str(status))
    documented = {
        (route, method): set(op["responses"])
        for route, ops in served["paths"].items()
        for method, op in ops.items()
    }
    assert dict(answered) == documented  # each route: every documented status provoked


def test_the_document_requires_the_key_headers_and_is_the_one_in_docs(
    served: dict[str, Any],
) -> None:
    for route, ops in served["paths"].items():
        for method, op in ops.items():
            assert op["security"] == [{"channelKey": []}, {"channelKeyHeader": []}], route
            headers = {p["name"]: p for p in op["parameters"] if p["in"] == "header"}
            if method == "post":
                assert headers["Idempotency-Key"]["required"] is True, route
            else:
                assert "Idempotency-Key" not in headers, route
    # FastAPI's default 422 (which echoes the input) is not what the handler answers
    assert "HTTPValidationError" not in json.dumps(served)
    earn_money = served["components"]["schemas"]["EarnMoney"]["properties"]["currency"]
    assert earn_money["enum"] == ["EUR"]  # the default [loyalty]: only the base currency
    shown = json.loads(DOC.read_text())
    assert shown == served, (
        f"{DOC.relative_to(ROOT)} is not what `collector api` serves: rewrite it from "
        "/openapi.json (docs/webshop.md says how)"
    )


def _whole_floats(value: object) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_whole_floats(v) for v in value.values())
    return isinstance(value, list) and any(_whole_floats(v) for v in value)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_nothing(api: tuple[ApiProcess, str], mode: GenerationMode) -> None:
    """Cases schemathesis makes from the document, valid (`positive`) and not, with every
    check it has: nothing answers 500, or anything undocumented, or a body unlike its
    schema; valid requests are taken (or 401/409), invalid ones refused."""
    proc, key = api
    schema = schemathesis.openapi.from_url(proc.url + "/openapi.json")
    # The channel's key on every case: generated ones would only ever be 401.
    schema.config.generation.update(with_security_parameters=False)
    auth = {"Authorization": f"Bearer {key}"}  # checks then probe without it, and a bad one
    statuses: Counter[int] = Counter()
    for found in schema.get_all_operations():
        operation = found.ok()

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,  # the same cases every run: a find is a bug, never a fluke
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            # JSON Schema calls 1.0 an integer; the API refuses it, as its descriptions say
            assume(mode is GenerationMode.NEGATIVE or not _whole_floats(case.body))
            statuses[case.call_and_validate(headers=auth).status_code] += 1

        fuzz()
    # the cases got through to the ledger (or were all refused), not stuck at the key
    if mode is GenerationMode.POSITIVE:
        assert statuses[200] > 0 and set(statuses) <= {200, 409}, statuses
    else:
        assert set(statuses) <= {400, 422}, statuses
