"""CMCD (CTA-5004) encoding: units, rounding, quoting, ordering, query and header modes."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from telemetry.cmcd import (
    HEADER_OF_KEY,
    CmcdData,
    CmcdError,
    add_to_url,
    encode_pairs,
    encode_payload,
    to_headers,
    to_query,
)
from telemetry.events import TelemetryError

FULL = CmcdData(
    bitrate_bps=3_200_000,
    buffer_length_s=21.34,
    buffer_starvation=True,
    content_id="faec5fc2-ac30-11ea-bb37-0242ac130002",
    object_duration_s=4.004,
    measured_throughput_bps=25_432_000,
    next_object_request="../300kbps/segment35.m4v",
    object_type="v",
    session_id="6e2fb550-c457-11e9-bb97-0800200c9a66",
    stream_type="v",
    startup=True,
    top_bitrate_bps=6_000_000,
)


def test_full_payload_sorted_and_typed() -> None:
    assert encode_payload(FULL) == (
        'bl=21300,br=3200,bs,cid="faec5fc2-ac30-11ea-bb37-0242ac130002",d=4004,'
        'mtp=25400,nor="../300kbps/segment35.m4v",ot=v,'
        'sid="6e2fb550-c457-11e9-bb97-0800200c9a66",st=v,su,tb=6000'
    )


def test_keys_are_alphabetical() -> None:
    keys = [p.split("=")[0] for p in encode_payload(FULL).split(",")]
    assert keys == sorted(keys)


def test_empty_data_sends_nothing() -> None:
    assert encode_payload(CmcdData()) == ""
    assert to_query(CmcdData()) == ""
    assert to_headers(CmcdData()) == {}
    assert add_to_url("http://e/x.m4s", CmcdData()) == "http://e/x.m4s"


@pytest.mark.parametrize(
    ("seconds", "wire"),
    [(0.0, "0"), (0.049, "0"), (0.051, "100"), (1.26, "1300"), (21.34, "21300")],
)
def test_buffer_length_rounds_to_100_ms(seconds: float, wire: str) -> None:
    assert encode_pairs(CmcdData(buffer_length_s=seconds))["bl"] == wire


@pytest.mark.parametrize(
    ("bps", "wire"), [(49_000, "0"), (51_000, "100"), (1_234_567, "1200"), (25_450_001, "25500")]
)
def test_measured_throughput_rounds_to_100_kbps(bps: float, wire: str) -> None:
    assert encode_pairs(CmcdData(measured_throughput_bps=bps))["mtp"] == wire


def test_bitrates_are_integer_kbps() -> None:
    pairs = encode_pairs(CmcdData(bitrate_bps=1_499_600, top_bitrate_bps=400))
    assert pairs["br"] == "1500"
    assert pairs["tb"] == "0"


def test_duration_is_integer_ms() -> None:
    assert encode_pairs(CmcdData(object_duration_s=2.0))["d"] == "2000"


def test_booleans_are_bare_keys_or_absent() -> None:
    assert encode_payload(CmcdData(buffer_starvation=True, startup=True)) == "bs,su"
    assert encode_payload(CmcdData(buffer_starvation=False, startup=False)) == ""


def test_strings_are_quoted_and_escaped() -> None:
    assert encode_pairs(CmcdData(content_id='a"b\\c'))["cid"] == '"a\\"b\\\\c"'


def test_tokens_are_not_quoted() -> None:
    assert encode_payload(CmcdData(object_type="av", stream_type="l")) == "ot=av,st=l"


def test_version_one_is_omitted_other_versions_sent() -> None:
    assert "v" not in encode_pairs(CmcdData(version=1))
    assert encode_payload(CmcdData(version=2)) == "v=2"


def test_query_mode_is_url_encoded() -> None:
    q = to_query(CmcdData(bitrate_bps=3_200_000, buffer_starvation=True, session_id="x y"))
    assert q.startswith("CMCD=")
    assert "," not in q and "=" not in q[5:] and '"' not in q and " " not in q
    assert unquote(q[5:]) == 'br=3200,bs,sid="x y"'


def test_add_to_url_keeps_existing_query() -> None:
    url = add_to_url("http://e/seg.m4s?token=abc", CmcdData(bitrate_bps=1_000_000))
    parts = urlsplit(url)
    assert parse_qs(parts.query) == {"token": ["abc"], "CMCD": ["br=1000"]}
    url2 = add_to_url("http://e/seg.m4s", CmcdData(bitrate_bps=1_000_000))
    assert url2 == "http://e/seg.m4s?CMCD=br%3D1000"


def test_header_mode_splits_per_spec() -> None:
    headers = to_headers(FULL)
    assert headers == {
        "CMCD-Object": "br=3200,d=4004,ot=v,tb=6000",
        "CMCD-Request": 'bl=21300,mtp=25400,nor="../300kbps/segment35.m4v",su',
        "CMCD-Session": (
            'cid="faec5fc2-ac30-11ea-bb37-0242ac130002",'
            'sid="6e2fb550-c457-11e9-bb97-0800200c9a66",st=v'
        ),
        "CMCD-Status": "bs",
    }


def test_header_mode_leaves_out_empty_headers() -> None:
    assert to_headers(CmcdData(session_id="s")) == {"CMCD-Session": 'sid="s"'}


def test_every_emitted_key_has_a_header() -> None:
    assert set(encode_pairs(FULL)) | {"v"} <= set(HEADER_OF_KEY)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"object_type": "x"}, "object_type"),
        ({"stream_type": "vod"}, "stream_type"),
        ({"bitrate_bps": -1}, "bitrate_bps"),
        ({"buffer_length_s": float("nan")}, "buffer_length_s"),
        ({"session_id": "x" * 65}, "at most 64"),
        ({"version": 0}, "version"),
    ],
)
def test_invalid_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(CmcdError, match=message):
        CmcdData(**kwargs)  # type: ignore[arg-type]
    assert issubclass(CmcdError, TelemetryError)
