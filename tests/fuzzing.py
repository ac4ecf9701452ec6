"""Hostile payloads, generated: the hypothesis strategies that the fuzz tests
(tests/test_fuzz_handlers.py) and `python -m bench fuzz` both draw from.

Pure random bytes rarely get past a JSON parser, so most of what is drawn here starts
from a well-formed message of the protocol package's own types and perturbs it one
field (sometimes two) at a time: an odd number, an odd string, a wrong type, a field
deleted or added, deep nesting where a value was. Around that: random bytes, valid JSON
of the wrong shape, deep nesting alone, and a valid payload cut short, prefixed with a
BOM, or with a byte flipped.

Python's `json` cannot write everything a hostile peer can (a lone surrogate escape, a
number too large for a float, a NUL inside a token), so a `Raw` value is written into
the JSON text as it is (`dumps`).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

# -- JSON text with tokens Python's json will not write ------------------------------------


@dataclass(frozen=True)
class Raw:
    """A token copied into the JSON text as it is: `NaN`, `1e400`, `"\\ud800"`, `[[[…]]]`."""

    text: str


def _encode(value: Any, ascii: bool) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        items = (
            f"{json.dumps(str(k), ensure_ascii=ascii)}:{_encode(v, ascii)}"
            for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v, ascii) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii)  # a float nan or inf is written NaN, Infinity


def dumps(value: Any, *, ascii: bool = True) -> bytes:
    """`value` as JSON bytes, `Raw` tokens as they are. Without `ascii`, text is raw UTF-8
    and a lone surrogate goes out as the three bytes no UTF-8 decoder takes."""
    return _encode(value, ascii).encode("utf-8", "surrogatepass")


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each `weight` times as likely: `st.one_of` picks evenly, and
    folds a strategy given twice into one, so weights cannot be had by repeating it."""
    picks = [i for i, (weight, _) in enumerate(choices) for _ in range(weight)]
    return st.sampled_from(picks).flatmap(lambda i: choices[i][1])


# -- odd values ----------------------------------------------------------------------------

ODD_NUMBERS: list[Any] = [
    0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30,
    10**10, 10**10 + 1, 10**12 + 1, -(10**10) - 1,
    0.0, -0.0, 0.5, 1.0, 250.0, -1.5, 1e308, -1e308, 5e-324, float("nan"), float("inf"),
    True, False,
    "1", "0", "-1", "250", "2.50", "1e5", "NaN", "0x10", " 1", "١٢٣", "１２３",
]  # fmt: skip
RAW_NUMBERS = [
    Raw(t)
    for t in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "-0", "1E+2", "0.0e0",
              "1e-400", "9" * 400, "-" + "9" * 400, "00", "01", "+1", ".5", "1.", "0x1F")
]  # fmt: skip
ODD_CHARS = (
    "\x00\x01\x07\x08\t\n\r\x1b\x1d\x7f\x85\x9b\u00a0\u00ad\u034f\u061c\u200b\u200d\u200e"
    "\u200f\u2028\u2029\u202a\u202e\u2066\u2069\ufeff\ufff9\ufffd\uffff\U0001f600\U0001f1eb"
    "\U000e0001\U0010ffff\u0301\u0663\uff11\u0130\u00df\ufb01"
)
SURROGATES = "\ud800\udbff\udc00\udfff"
ODD_STRINGS: list[Any] = [
    "", " ", "\x00", "null", "true", "00000001\n", "till-01\n", "A1\n", "A1 ", "\u202eA1",
    "A\u0000", "ä" * 300, "x" * 65, "x" * 201, "x" * 10_000, "\U0001f600" * 1000, "..", "/",
    "#", "+", "$share", "cmd/catalog", "'; DROP TABLE sales; --", "%s%s%n", "{}", "\\", '"',
]  # fmt: skip
RAW_STRINGS = [
    Raw(t)
    for t in ('"\\ud800"', '"\\udfff"', '"a\\ud800b"', '"\\udc00\\ud800"', '"\\u0000"',
              '"\\u202e"', '"\\uffff"', '"\\x41"', '"\t"', '"\n"', '"\\/"', '"unterminated')
]  # fmt: skip


def deep(depth: int, opener: str = "[") -> Raw:
    """`depth` levels of nesting: lists, objects or both."""
    if opener == "[":
        return Raw("[" * depth + "]" * depth)
    if opener == "{":
        return Raw('{"a":' * depth + "1" + "}" * depth)
    return Raw('[{"a":' * (depth // 2) + "1" + "}]" * (depth // 2))


DEPTHS = (64, 500, 1_000, 1_100, 5_000, 100_000)
deep_values = st.builds(deep, st.sampled_from(DEPTHS), st.sampled_from(["[", "{", "[{"]))

odd_numbers = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.sampled_from(RAW_NUMBERS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _long(s: str, n: int) -> str:
    return s * n


odd_text = st.one_of(
    st.sampled_from(ODD_STRINGS),
    st.sampled_from(RAW_STRINGS),
    st.text(alphabet=st.sampled_from(ODD_CHARS + "aA1-é"), max_size=12),
    st.text(alphabet=st.sampled_from(SURROGATES + "ab"), min_size=1, max_size=4),
    # Long strings by repetition: cheap to draw, however long.
    st.builds(_long, st.text(min_size=1, max_size=3), st.sampled_from([65, 201, 1_000, 50_000])),
    st.text(max_size=20),
)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

odd_values = st.one_of(
    odd_numbers,
    odd_text,
    deep_values,
    json_values,
    st.builds(list),  # not st.just([]): a mutation may add to it, and just() shares one
    st.builds(dict),
    st.none(),
)


# -- mutations of a valid message ----------------------------------------------------------

Path = tuple[str | int, ...]


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every place in a JSON document that holds a value (the root excluded)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*prefix, k)
            yield from paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield (*prefix, i)
            yield from paths(v, (*prefix, i))


def _parent(doc: Any, path: Path) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


def twisted(value: Any) -> list[Any]:
    """The same value as a wrong type or an edge of its own: what a careless or hostile
    encoder sends for it (250 as 250.0, "250", true; "A1" as "A1\\n", 1, a list)."""
    if isinstance(value, bool):
        return [int(value), str(value).lower(), None, [value]]
    if isinstance(value, int):
        return [
            float(value), str(value), bool(value), -value, value + 1, value - 1,
            value * 10**10, 2**63, -(2**63) - 1, Raw(f"{value}.0"), Raw(f"{value}e0"), [value],
        ]  # fmt: skip
    if isinstance(value, float):
        whole = int(value) if math.isfinite(value) else 0
        return [whole, str(value), Raw("NaN"), Raw("1e400"), -value]
    if isinstance(value, str):
        # Past a column's width and with a NUL: what SQLite stores and PostgreSQL refuses.
        return [
            "", value + "\n", value + "\u0000", "\u0000", "\u202e" + value, value * 1000,
            (value or "x") * 65, value.upper(), Raw('"' + "\\ud800" + json.dumps(value)[1:]),
            [value], {"value": value}, int(value) if value.isdigit() and len(value) < 30 else 1,
        ]  # fmt: skip
    if isinstance(value, list):
        return [[], value * 50, value[0] if value else None, {"0": value}, [value]]
    if isinstance(value, dict):
        return [{}, [value], list(value), None, {**value, "unknown": 1}]
    return [0, "", [], {}]


def nudged(value: Any) -> st.SearchStrategy[Any]:
    """Another plausible value of the same type: what gets past the schema to the
    handler's own rules (another SKU, a price of 0, a list with an element twice)."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.one_of(st.integers(-3, 10**6), st.sampled_from([0, 1, value]))
    if isinstance(value, float):
        return st.floats(0, 10**6)
    if isinstance(value, str):
        word = st.text(st.characters(categories=["L", "N"], codec="utf-8"), min_size=1, max_size=12)
        return st.one_of(word, st.sampled_from([value, value.upper(), value[:1]]))
    if isinstance(value, list) and value:
        return st.sampled_from([value + value[:1], value[:1], value[::-1]])
    return st.just(value)


@st.composite
def mutated(draw: st.DrawFn, base: Any, keep: Sequence[str] = ()) -> Any:
    """`base` (a valid message as a plain document) with one or two fields perturbed.
    Top-level keys in `keep` are left alone (a corr the answer is tied by)."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.sampled_from([1, 1, 1, 2]))):
        where = [p for p in paths(doc) if not (p and p[0] in keep)]
        action = draw(
            st.sampled_from(["odd", "twist", "twist", "nudge", "nudge", "delete", "add", "deep"])
        )
        if not where or action == "add":
            targets = [p for p in paths(doc) if isinstance(_get(doc, p), dict)]
            target = draw(st.sampled_from([(), *targets]))
            holder = _get(doc, target)
            if isinstance(holder, dict):
                key = draw(st.one_of(st.sampled_from(["schema", "extra", ""]), st.text(max_size=6)))
                holder[key] = copy.deepcopy(draw(odd_values))
            continue
        path = draw(st.sampled_from(where))
        parent = _parent(doc, path)
        if action == "delete":
            del parent[path[-1]]
        elif action == "twist":
            # A copy: a twist may hold the value itself ([value]), and the document is a tree.
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(twisted(parent[path[-1]]))))
        elif action == "nudge":
            parent[path[-1]] = copy.deepcopy(draw(nudged(parent[path[-1]])))
        elif action == "deep":
            parent[path[-1]] = draw(deep_values)
        else:
            parent[path[-1]] = copy.deepcopy(draw(odd_values))
    return doc


def _get(doc: Any, path: Path) -> Any:
    for step in path:
        doc = doc[step]
    return doc


# -- payloads --------------------------------------------------------------------------------


@st.composite
def damaged(draw: st.DrawFn, payload: bytes) -> bytes:
    """A valid payload's bytes damaged on the way: cut short, a byte changed, junk after
    it, a BOM or UTF-16 instead of UTF-8."""
    how = draw(st.sampled_from(["cut", "flip", "tail", "bom", "utf16", "nul"]))
    if how == "cut":
        return payload[: draw(st.integers(0, max(len(payload) - 1, 0)))]
    if how == "flip" and payload:
        i = draw(st.integers(0, len(payload) - 1))
        return payload[:i] + bytes([draw(st.integers(0, 255))]) + payload[i + 1 :]
    if how == "tail":
        return payload + draw(st.sampled_from([b"}", b" ", b"\x00", b",{}", b"\n{}", b"garbage"]))
    if how == "bom":
        return b"\xef\xbb\xbf" + payload
    if how == "utf16":
        return payload.decode("utf-8", "replace").encode("utf-16")
    return payload.replace(b":", b":\x00", 1)


def payloads(*bases: Any, keep: Sequence[str] = ()) -> st.SearchStrategy[bytes]:
    """Hostile payloads for a handler that takes `bases` (valid messages as documents):
    mostly mutations of them, then damaged copies, random bytes, JSON of other shapes
    and deep nesting alone."""
    base = st.sampled_from(bases)
    mutation = st.builds(
        lambda d, a: dumps(d, ascii=a), base.flatmap(lambda b: mutated(b, keep)), st.booleans()
    )
    return weighted(
        (12, mutation),  # these get past the parser to the handler's own checks
        (2, base.map(dumps).flatmap(damaged)),
        (2, st.binary(max_size=300)),
        (1, st.builds(dumps, json_values)),
        (1, st.builds(dumps, deep_values)),
        (1, st.builds(dumps, odd_values)),
    )
