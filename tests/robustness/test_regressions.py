"""Regression tests for server bugs found by the robustness suite.

Grapheme counting (§2.3 rule 5, §2.4b rule 4): keys and ``key_pattern`` are limited to 255
characters "counted as Unicode graphemes" (Elixir's ``String.length/1``, extended grapheme
clusters of UAX #29). The server used to count flags, skin-tone modifiers, Hangul jamo, tag
sequences and prepended marks as several characters, and glued anything after a ZWJ. So a
``key_pattern`` of 128 flags (256 code points) was refused with 400 instead of answered, and a
key like that got the 400 "exceed 255" instead of the check-constraint 500.
"""

from __future__ import annotations

import pytest
import requests

from pytest_sequin.server import EmbeddedSequinServer
from pytest_sequin.server.keys import grapheme_length

FLAG = "\U0001f1eb\U0001f1f7"  # two regional indicators, one grapheme


@pytest.mark.parametrize(
    "text, length",
    [
        (FLAG, 1),
        (FLAG * 2, 2),
        (FLAG + "\U0001f1e9", 2),  # an unpaired regional indicator stands alone
        ("\U0001f44d\U0001f3fd", 1),  # skin-tone modifier
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467", 1),  # ZWJ emoji sequence
        ("a\u200db", 2),  # ZWJ joins emoji only
        ("\u200d\u200da", 2),
        ("\u1100\u1161\u11a8", 1),  # Hangul L V T
        ("\uac00\u11a8", 1),  # Hangul LV T
        ("\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", 1),  # tag sequence
        ("\u0600a", 1),  # prepended concatenation mark
        ("\u0e01\u0e33", 1),  # Thai SARA AM is a spacing mark
        ("\n\u0301", 2),  # nothing attaches to a control character
        ("a\u200e\u0301", 3),  # nor to a format character (GB4)
        ("1\ufe0f\u20e3", 1),  # keycap
        ("e\u0301", 1),
        ("a\r\nb", 3),
        ("caf\u00e9", 4),
    ],
)
def test_grapheme_length_follows_uax29(text: str, length: int) -> None:
    assert grapheme_length(text) == length


@pytest.fixture(scope="module")
def api() -> tuple[requests.Session, str]:
    server = EmbeddedSequinServer().start()
    session = requests.Session()
    session.trust_env = False
    session.headers["Accept"] = "application/json"
    yield session, server.url
    session.close()
    server.stop()


def test_key_pattern_of_128_flags_is_255_graphemes_or_fewer(api) -> None:
    session, url = api
    answer = session.get(f"{url}/api/streams/default/messages", params={"key_pattern": FLAG * 128})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"data": []}
    answer = session.get(f"{url}/api/streams/default/messages", params={"key_pattern": FLAG * 256})
    assert answer.status_code == 400
    assert answer.json() == {"summary": "Invalid key pattern: Key pattern must not exceed 255 characters"}


def test_key_of_128_flags_reaches_the_ascii_check_constraint(api) -> None:
    session, url = api
    body = {"messages": [{"key": FLAG * 128, "data": "x"}]}
    answer = session.post(f"{url}/api/streams/default/messages", json=body)
    assert answer.status_code == 500  # §2.3: passes the 255-grapheme rule, then the DB rejects it
    assert answer.json() == {"errors": {"detail": "Internal Server Error"}}
    body = {"messages": [{"key": FLAG * 256, "data": "x"}]}
    answer = session.post(f"{url}/api/streams/default/messages", json=body)
    assert answer.json() == {"summary": "Invalid key format: Key must not exceed 255 characters"}


# Form bodies (§0: url-encoded bodies are parsed, values are strings). A raw non-Latin-1
# character in a form body (a BOM, "€") made the parameter decoder raise: an undocumented 500
# and an ERROR in the log. Plug decodes such a body and checks it is UTF-8.


def test_form_body_with_raw_utf8_is_decoded(api) -> None:
    session, url = api
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = session.post(f"{url}/api/streams", data="name=\u20acuro".encode(), headers=form)
    assert answer.status_code == 422, answer.text
    assert answer.json()["validation_errors"] == {
        "name": ["must contain only alphanumeric characters or underscores"]
    }
    answer = session.get(f"{url}/api/streams", data=b"\xef\xbb\xbf{}", headers=form)
    assert answer.status_code == 200, answer.text
    answer = session.post(f"{url}/api/streams", data=b"name=\xff", headers=form)
    assert answer.status_code == 400
    assert answer.json() == {"errors": {"detail": "Bad Request"}}
