"""Unit tests of casting.py and params.py: Ecto-like field casts and Plug-like decoding."""

from __future__ import annotations

import pytest

from pytest_sequin.server import casting
from pytest_sequin.server.errors import ApiError
from pytest_sequin.server.params import decode_body, decode_json_body, decode_query, percent_decode


@pytest.mark.parametrize(
    "value, expected",
    [
        (5, 5),
        (-5, -5),
        ("5", 5),
        ("+5", 5),
        ("-0", 0),
        ("", casting.DEFAULT),
        (" \t", casting.DEFAULT),
        (None, None),
        ("9" * 31, int("9" * 31)),
        (2**40, 2**40),
    ],
)
def test_cast_integer_values(value, expected):
    cast = casting.cast_integer(value)
    assert cast.error is None
    assert cast.value == expected if expected is not casting.DEFAULT else cast.value is casting.DEFAULT


@pytest.mark.parametrize(
    "value", [5.0, 5.5, True, False, "5.0", " 5", "5 ", "1e3", "0x1", "9" * 32, [], {}, "x"]
)
def test_cast_integer_invalid(value):
    assert casting.cast_integer(value).error == casting.INVALID


def test_cast_enum():
    allowed = ("pull", "push")
    assert casting.cast_enum("push", allowed).value == "push"
    assert casting.cast_enum(" ", allowed).value is casting.DEFAULT
    assert casting.cast_enum(None, allowed).value is None
    for bad in ("PUSH", "x", 1, True, ["pull"]):
        assert casting.cast_enum(bad, allowed).error == casting.INVALID


def test_cast_string():
    assert casting.cast_string("a").value == "a"
    assert casting.cast_string("  ").value is casting.DEFAULT
    assert casting.cast_string(None).value is None
    assert casting.cast_string(1).error == casting.INVALID


@pytest.mark.parametrize(
    "value, micros",
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:01.5Z", 1_500_000),
        ("1970-01-01T00:00:00.1234567Z", 123_456),
        ("1970-01-01 01:00:00+01:00", 0),
        ("1970-01-01T00:00:00-0130", 5_400_000_000),
        ("1970-01-01T00:00:00", 0),
    ],
)
def test_cast_datetime(value, micros):
    assert casting.cast_datetime_us(value).value == micros


@pytest.mark.parametrize("value", ["x", "2024-02-30T00:00:00Z", "2024-01-01T24:00:00Z", 5, "2024-01-01"])
def test_cast_datetime_invalid(value):
    assert casting.cast_datetime_us(value).error == casting.INVALID


def test_cast_datetime_blank_and_null():
    assert casting.cast_datetime_us("").value is casting.DEFAULT
    assert casting.cast_datetime_us(None).value is None


def test_cast_endpoint_id_accepts_any_string():
    assert casting.cast_endpoint_id("nope").value == "nope"
    assert casting.cast_endpoint_id(5).error == casting.INVALID
    assert casting.cast_endpoint_id("").value is casting.DEFAULT


def test_cast_inline_endpoint():
    ok = casting.cast_inline_endpoint({"base_url": "https://x.example/h", "headers": {"a": "b"}})
    assert ok.value == {"base_url": "https://x.example/h", "name": None, "headers": {"a": "b"}}
    assert casting.cast_inline_endpoint({}).error == {"base_url": [casting.BLANK]}
    assert casting.cast_inline_endpoint({"base_url": "x"}).error == {
        "base_url": ["must be a valid URL with scheme and host"]
    }
    assert casting.cast_inline_endpoint({"base_url": 5}).error == {"base_url": [casting.INVALID]}
    assert casting.cast_inline_endpoint({"base_url": "http://h", "headers": ["a"], "name": 2}).error == {
        "headers": [casting.INVALID],
        "name": [casting.INVALID],
    }
    # An Ecto :map takes any object: header values need not be strings.
    assert casting.cast_inline_endpoint({"base_url": "http://h", "headers": {"a": 1}}).value["headers"] == {
        "a": 1
    }
    assert casting.cast_inline_endpoint("x").error == [casting.INVALID]


def test_out_of_int32():
    assert not casting.out_of_int32(2**31 - 1)
    assert not casting.out_of_int32(-(2**31))
    assert casting.out_of_int32(2**31)
    assert casting.out_of_int32(-(2**31) - 1)
    assert not casting.out_of_int32(None)


# -- params --------------------------------------------------------------------------------------


def test_decode_query():
    assert decode_query("a=1&b=x+y&c=%2F&a=2") == {"a": "2", "b": "x y", "c": "/"}
    assert decode_query("l[]=1&l[]=2&m[k]=v&flag") == {"l": ["1", "2"], "m": {"k": "v"}, "flag": ""}
    assert decode_query("") == {}


def test_percent_decode():
    assert percent_decode("a%2Fb%20c+d") == "a/b c+d"
    assert percent_decode("%C3%A9") == "é"
    for bad in ("%", "%z1", "a%2"):
        with pytest.raises(ApiError) as info:
            percent_decode(bad)
        assert info.value.status == 400


def test_decode_json_body():
    assert decode_json_body(b' {"a": 1} ') == {"a": 1}
    assert decode_json_body(b"") == {}
    assert decode_json_body(b"[1]") == {"_json": [1]}
    assert decode_json_body(b"null") == {"_json": None}
    assert decode_json_body(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}
    # Integers of any size, as Jason reads them (Python's own limit is 4300 digits).
    assert decode_json_body(b'{"a": 1' + b"0" * 5000 + b"}") == {"a": 10**5000}
    for bad in (b"{", b'{"a": NaN}', b"\xff", b'{"a": "\\ud800"}', b'{"a": 1e400}', b'{"a": -1.5E999}'):
        with pytest.raises(ApiError) as info:
            decode_json_body(bad)
        assert (info.value.status, info.value.body) == (400, {"errors": {"detail": "Bad Request"}})
        assert info.value.before_endpoint


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1}',
        ' {"a": [1, 2.5, "x"]} ',
        "\t\n\r[1]\r\n",
        '"s"',
        "7",
        "  ",
        "",
        "{",
        '{"a":1} x',
        '{"a":1}  {',
        "[1,]",
        "\x0b{}",
        "{}\x0c",
        '{"a":NaN}',
        '{"a":1e400}',
        "nul",
        '{"a":"\x01"}',
    ],
)
def test_json_decoding_gives_the_decoders_value_or_error(text):
    """params._decode skips JSONDecoder.decode's frames; it must return and raise exactly what
    the decoder it stands for does (the error text ends up in the log line of the 400)."""
    from pytest_sequin.server import params

    try:
        expected = params._decoder.decode(text)
    except ValueError as exc:
        with pytest.raises(type(exc)) as info:
            params._decode(text)
        assert str(info.value) == str(exc)
    else:
        assert params._decode(text) == expected


def test_a_body_of_only_white_space_is_no_parameters():
    # `not body.strip()`: ASCII white space, including the vertical tab and form feed that JSON
    # itself does not allow.
    for body in (b" ", b"\r\n", b"\t\x0b\x0c "):
        assert decode_json_body(body) == {}
    for body in (b"\x00", b" x "):
        with pytest.raises(ApiError):
            decode_json_body(body)


def test_decode_body_by_content_type():
    assert decode_body(b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}
    assert decode_body(b'{"a": 1}', "application/problem+json") == {"a": 1}
    assert decode_body(b'{"a": 1}', "text/plain") == {}
    assert decode_body(b'{"a": 1}', None) == {}
    assert decode_body(b"a=1&b[]=2", "application/x-www-form-urlencoded") == {"a": "1", "b": ["2"]}
    with pytest.raises(ApiError) as info:
        decode_body(b"x" * 8_000_001, "text/plain")
    assert info.value.status == 413
    assert decode_body(b"[" + b" " * 7_999_998 + b"]", "application/json") == {"_json": []}


def test_blank_means_unicode_white_space_as_elixir_trims_it():
    from pytest_sequin.server.casting import is_blank

    assert is_blank("") and is_blank(" \t\n\u3000\u00a0")
    assert not is_blank("\x1c") and not is_blank("\x1f ")  # Python's strip() would say blank
