"""``_object_name`` computes where PostgreSQL's makeObjectName loop ends; check it against the loop."""

from __future__ import annotations

import pytest

from pytest_sequin.server.relations import NAMEDATALEN, _object_name


def _reference(table: str, columns: str | None, label: str) -> str:
    overhead = len(label) + 1 + (len(columns) + 1 if columns else 0)
    name1, name2 = table, columns or ""
    while len(name1) + len(name2) > NAMEDATALEN - overhead:
        if len(name1) > len(name2):
            name1 = name1[:-1]
        else:
            name2 = name2[:-1]
    return f"{name1}_{name2}_{label}" if columns else f"{name1}_{label}"


@pytest.mark.parametrize("label", ["idx", "pkey", "idx12"])
def test_same_names_as_the_loop(label):
    for table_length in range(0, 90):
        table = "".join(chr(97 + i % 26) for i in range(table_length))
        for columns in [None, *("".join(chr(65 + i % 26) for i in range(n)) for n in range(0, 40))]:
            assert _object_name(table, columns, label) == _reference(table, columns, label)
