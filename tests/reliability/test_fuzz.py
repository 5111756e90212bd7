"""Fuzz of the front-matter and follow-up parser: parse -> write -> parse is
stable and loses nothing (the long run: tests/long/faults.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import fuzz


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzz.documents(), fuzz.FOLLOWUPS, fuzz.KEYS, fuzz.VALUES)
def test_parse_write_parse_loses_nothing(data: bytes, extra, key: str, value) -> None:
    assert fuzz.round_trip(data, extra, key, value) == 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_arbitrary_bytes_parse_or_are_refused_cleanly(data: bytes) -> None:
    from crmnotes import note
    from crmnotes.errors import FileFormatError

    try:
        doc = note.parse(b"---\n" + data)
    except FileFormatError:
        return
    assert doc.encode() == b"---\n" + data
