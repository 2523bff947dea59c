"""Safe XML loading and the XML Schema value types an MPD uses.

``load_mpd_root`` turns text into an :mod:`xml.etree.ElementTree` element after
checking that the document carries no DOCTYPE (so no entity declarations, hence
no entity-expansion bombs and no external entities); the tree builder itself
rejects documents that are not namespace-well-formed. ``parse_duration`` is a
strict ``xs:duration`` parser; ``parse_datetime`` reads ``xs:dateTime`` into
POSIX seconds.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit
from xml.parsers import expat

from .errors import ManifestSyntaxError, ManifestValueError

MPD_NAMESPACE = "urn:mpeg:dash:schema:mpd:2011"

#: Bytes of MPD text accepted at most (a 2-hour ladder with explicit S elements is ~3 MB).
MAX_MPD_BYTES = 64 * 1024 * 1024

#: Days per year / month used to turn ``PnYnM`` into seconds (as dash.js and shaka do).
_YEAR_S = 365 * 86400
_MONTH_S = 30 * 86400


class _Forbidden(Exception):
    pass


def _reject_doctype(*_args: object) -> None:
    raise _Forbidden("DOCTYPE declarations are not allowed in an MPD")


def _reject_entity(*_args: object) -> None:
    raise _Forbidden("ENTITY declarations are not allowed in an MPD")


_PROLOG_S = re.compile(r"(?:<\?.*?\?>|<!--.*?-->|[ \t\r\n]+)*", re.S)
_PROLOG_B = re.compile(rb"(?:<\?.*?\?>|<!--.*?-->|[ \t\r\n]+)*", re.S)


def _prolog_is_safe(data: str | bytes) -> bool:
    """True when the prolog (XML declaration, comments, PIs) is followed by an element,
    i.e. there is no DOCTYPE. False means "not sure": run the full expat check."""
    if isinstance(data, str):
        m = _PROLOG_S.match(data)
        rest_s = data[m.end() : m.end() + 2] if m else ""
        return len(rest_s) == 2 and rest_s[0] == "<" and rest_s[1] not in "!?"
    if not data.startswith(b"<"):  # UTF-16/32 or garbage: let expat decide
        return False
    mb = _PROLOG_B.match(data)
    rest_b = data[mb.end() : mb.end() + 2] if mb else b""
    return len(rest_b) == 2 and rest_b[:1] == b"<" and rest_b[1:] not in (b"!", b"?")


def _reason(exc: ET.ParseError) -> str:
    return str(exc).split(":", 1)[0]


def _expat_check(data: str | bytes, url: str | None) -> None:
    """Full expat pass rejecting DOCTYPE/ENTITY declarations and malformed XML."""
    checker = expat.ParserCreate(namespace_separator=" ")
    checker.StartDoctypeDeclHandler = _reject_doctype
    checker.EntityDeclHandler = _reject_entity
    checker.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        checker.Parse(data, True)
    except _Forbidden as exc:
        raise ManifestSyntaxError(
            str(exc), where=f"line {checker.CurrentLineNumber}", url=url
        ) from None
    except expat.ExpatError as exc:
        raise ManifestSyntaxError(
            f"not well-formed XML: {expat.ErrorString(exc.code)}",
            where=f"line {exc.lineno}, column {exc.offset}",
            url=url,
        ) from None
    except (ValueError, UnicodeError, LookupError) as exc:  # LookupError: unknown encoding
        raise ManifestSyntaxError(
            f"not decodable XML: {exc}", where=_decode_where(data, exc), url=url
        ) from None


def _decode_where(data: str | bytes, exc: Exception) -> str:
    """Where decoding failed: the line of the bad byte, else the XML declaration."""
    if isinstance(exc, UnicodeDecodeError) and isinstance(data, bytes):
        line = data[: exc.start].count(b"\n") + 1
        return f"line {line}"
    return "line 1"  # the encoding named in the XML declaration


def load_mpd_root(text: str | bytes, url: str | None) -> ET.Element:
    """Return the root ``MPD`` element of ``text`` or raise :class:`ManifestSyntaxError`."""
    if isinstance(text, str):
        data: str | bytes = text.lstrip("\ufeff \t\r\n")
    elif isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        data = data.lstrip(b" \t\r\n")
    else:
        raise ManifestSyntaxError(
            f"MPD text must be str or bytes, not {type(text).__name__}", url=url
        )
    if not data:
        raise ManifestSyntaxError("empty MPD", where="line 1", url=url)
    if len(data) > MAX_MPD_BYTES:
        raise ManifestSyntaxError(
            f"MPD larger than {MAX_MPD_BYTES} bytes", where=f"byte {MAX_MPD_BYTES}", url=url
        )
    # 1. no DOCTYPE (hence no ENTITY declarations, no entity bombs, no external
    #    entities). A DOCTYPE can only sit in the prolog, so scanning the prolog is
    #    enough when the text is ASCII-compatible; otherwise expat checks it all.
    if not _prolog_is_safe(data):
        _expat_check(data, url)
    # 2. the tree (C parser, namespace-aware: undeclared prefixes are errors).
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, col = exc.position
        raise ManifestSyntaxError(
            f"not well-formed XML: {_reason(exc)}", where=f"line {line}, column {col}", url=url
        ) from None
    except (ValueError, UnicodeError, LookupError) as exc:  # LookupError: unknown encoding
        raise ManifestSyntaxError(
            f"not decodable XML: {exc}", where=_decode_where(data, exc), url=url
        ) from None
    ns, local = split_tag(root.tag)
    if local != "MPD":
        raise ManifestSyntaxError(f"root element is <{local}>, not <MPD>", where="line 1", url=url)
    if ns is not None and not ns.lower().startswith("urn:mpeg:dash:schema:mpd"):
        raise ManifestSyntaxError(f"MPD element in foreign namespace {ns!r}", where="MPD", url=url)
    return root


def split_tag(tag: object) -> tuple[str | None, str]:
    """``"{ns}Local"`` -> ``(ns, "Local")``; ``"Local"`` -> ``(None, "Local")``."""
    if not isinstance(tag, str):  # comments / processing instructions
        return None, ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def local_attr(el: ET.Element, local: str) -> str | None:
    """The value of the attribute named ``local`` in any namespace (``cenc:default_KID``...)."""
    v = el.get(local)
    if v is not None:
        return v
    suffix = "}" + local
    for k, val in el.attrib.items():
        if k.endswith(suffix):
            return val
    return None


def resolve_url(base: str, ref: str, *, where: str, url: str | None) -> str:
    """``ref`` resolved against ``base``; a malformed URL raises ManifestValueError."""
    try:
        return urljoin(base, ref)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"
        raise ManifestValueError(f"invalid URL {ref!r}: {exc}", where=where, url=url) from None


def has_scheme(ref: str) -> bool:
    try:
        return bool(urlsplit(ref).scheme)
    except ValueError:
        return False


# ----------------------------------------------------------------------------- xs:duration

_DURATION = re.compile(
    r"(?P<sign>-)?P"
    r"(?:(?P<Y>\d+)Y)?(?:(?P<M>\d+)M)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d*)?|\.\d+)S)?)?"
)


def parse_duration(
    value: str, *, where: str, url: str | None, allow_negative: bool = False
) -> float:
    """Seconds of an ISO 8601 / ``xs:duration`` value such as ``PT1H2M3.5S`` or ``P0Y0M0DT0H0M16S``.

    Strict: at least one component, ``T`` only when a time component follows,
    a fraction only on seconds, no weeks, no negative value unless allowed.
    Years count 365 days and months 30 days.
    """
    s = value.strip()
    m = _DURATION.fullmatch(s)
    if (
        m is None
        or s.endswith("T")
        or all(m.group(g) is None for g in ("Y", "M", "D", "h", "m", "s"))
    ):
        raise ManifestValueError(f"invalid xs:duration {value!r}", where=where, url=url)
    total = (
        int(m.group("Y") or 0) * _YEAR_S
        + int(m.group("M") or 0) * _MONTH_S
        + int(m.group("D") or 0) * 86400
        + int(m.group("h") or 0) * 3600
        + int(m.group("m") or 0) * 60
        + float(m.group("s") or 0)
    )
    if not math.isfinite(total):
        raise ManifestValueError(f"xs:duration {value!r} is out of range", where=where, url=url)
    if m.group("sign"):
        if not allow_negative:
            raise ManifestValueError(f"negative duration {value!r}", where=where, url=url)
        total = -total
    return float(total)


def format_duration(seconds: float) -> str:
    """``xs:duration`` for a non-negative number of seconds: ``PT1H2M3.5S``."""
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"cannot write duration {seconds!r}")
    ms_total = round(seconds * 1000)
    h, rem = divmod(ms_total, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s = rem / 1000
    out = "PT"
    if h:
        out += f"{h}H"
    if m:
        out += f"{m}M"
    if s or out == "PT":
        out += f"{s:.3f}".rstrip("0").rstrip(".") + "S"
    return out


# ----------------------------------------------------------------------------- xs:dateTime


def parse_datetime(value: str, *, where: str, url: str | None) -> float:
    """POSIX seconds of an ``xs:dateTime``; no time zone means UTC."""
    s = value.strip()
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ManifestValueError(f"invalid xs:dateTime {value!r}", where=where, url=url) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


# ----------------------------------------------------------------------------- numbers


_DIGITS = re.compile(r"[0-9]+")
_INT = re.compile(r"[+-]?[0-9]+")


def parse_uint(value: str, *, where: str, url: str | None) -> int:
    s = value.strip()
    if not _DIGITS.fullmatch(s):
        raise ManifestValueError(
            f"expected a non-negative integer, got {value!r}", where=where, url=url
        )
    return int(s)


def parse_int(value: str, *, where: str, url: str | None) -> int:
    s = value.strip()
    if not _INT.fullmatch(s):
        raise ManifestValueError(f"expected an integer, got {value!r}", where=where, url=url)
    return int(s)


def parse_offset(value: str, *, where: str, url: str | None) -> float:
    """A non-negative xs:double such as @availabilityTimeOffset; ``INF`` is ``math.inf``."""
    v = value.strip()
    if v == "INF":
        return math.inf
    try:
        x = float(v)
    except ValueError:
        x = math.nan
    if not math.isfinite(x) or x < 0:
        raise ManifestValueError(f"{v!r} is not a non-negative number or INF", where=where, url=url)
    return x


def parse_bool(value: str, *, where: str, url: str | None) -> bool:
    s = value.strip()
    if s in ("true", "1"):
        return True
    if s in ("false", "0"):
        return False
    raise ManifestValueError(f"expected a boolean, got {value!r}", where=where, url=url)


def parse_frame_rate(value: str, *, where: str, url: str | None) -> float:
    """``"25"``, ``"30000/1001"`` -> frames per second."""
    s = value.strip()
    num, sep, den = s.partition("/")
    try:
        n = float(num) if not sep else int(num)
        d = int(den) if sep else 1
        fps = n / d
    except (ValueError, ZeroDivisionError):
        raise ManifestValueError(f"invalid frameRate {value!r}", where=where, url=url) from None
    if not math.isfinite(fps) or fps <= 0:
        raise ManifestValueError(f"invalid frameRate {value!r}", where=where, url=url)
    return fps


def parse_range(value: str, *, where: str, url: str | None) -> tuple[int, int]:
    """``"first-last"`` (inclusive byte positions) -> ``(offset, length)``."""
    first, sep, last = value.strip().partition("-")
    first, last = first.strip(), last.strip()
    if (
        not sep
        or not _DIGITS.fullmatch(first)
        or not _DIGITS.fullmatch(last)
        or int(last) < int(first)
    ):
        raise ManifestValueError(f"invalid byte range {value!r}", where=where, url=url)
    return int(first), int(last) - int(first) + 1


def strip_namespace(root: ET.Element) -> None:
    """Rename every element of the MPD's own namespace to its local name, in place,
    so the rest of the parser can use plain ``find("Period")``."""
    ns, _ = split_tag(root.tag)
    if ns is None:
        return
    prefix = "{" + ns + "}"
    n = len(prefix)
    for el in root.iter():
        tag = el.tag
        if isinstance(tag, str) and tag.startswith(prefix):
            el.tag = tag[n:]


XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
RESOLVE_TO_ZERO = "urn:mpeg:dash:resolve-to-zero:2013"


def remote_children(parent: ET.Element, name: str) -> tuple[list[ET.Element], int]:
    """The ``name`` children of ``parent`` that stay in the MPD, and how many of them
    are remote elements this parser cannot dereference (it does no I/O).

    ISO/IEC 23009-1 5.5 (remote elements): an element whose ``xlink:href`` is
    ``urn:mpeg:dash:resolve-to-zero:2013`` is removed from the MPD.  Any other
    ``xlink:href`` would replace the element by the remote one; the in-MPD element is
    kept as written and counted, so the caller can tell that the MPD is incomplete.
    """
    kept: list[ET.Element] = []
    unresolved = 0
    for el in parent.findall(name):
        href = el.get(XLINK_HREF)
        if href is None:
            kept.append(el)
        elif href.strip() == RESOLVE_TO_ZERO:
            continue
        else:
            unresolved += 1
            kept.append(el)
    return kept, unresolved
