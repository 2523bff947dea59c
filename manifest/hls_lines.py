"""Line-level checks of an HLS playlist (RFC 8216), done before ``m3u8`` sees it.

``m3u8`` is lenient: it skips URI lines it does not expect, accepts negative
or repeated media sequence numbers and turns bad numbers into bare
``ValueError``.  :func:`scan` walks the lines once, raises a
:class:`~manifest.errors.ManifestError` that names the line for everything
RFC 8216 calls malformed and that abrkit cannot play around, and records the
few per-segment facts ``m3u8`` does not keep (every EXT-X-KEY in effect,
the line of each segment URI, the EXT-X-KEY methods seen).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .errors import ManifestSyntaxError, ManifestValueError

# quoted-string | enumerated/number; names are [A-Z0-9-] (RFC 8216 4.2)
_ATTR = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("[^"\r\n]*"|[^,]*)\s*(?:,|$)')
_DECIMAL_INTEGER = re.compile(r"[0-9]{1,20}")
_DECIMAL_FLOAT = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_BYTERANGE = re.compile(r"([0-9]{1,20})(?:@([0-9]{1,20}))?")

# A playlist is a master playlist when it has any of these; it must then have
# no EXTINF (RFC 8216 4.1: a playlist with both MUST fail to parse).  Other
# misplaced tags are ignored, as lenient players do.
MASTER_TAGS = ("#EXT-X-STREAM-INF", "#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-MEDIA")
MEDIA_TAGS = ("#EXTINF",)


def tag_name(line: str) -> str:
    """The tag of a stripped ``#EXT`` line: the text before the first ``:``.

    Tags are matched by their whole name (RFC 8216 4.1: a tag a client does not
    recognise is ignored), so ``#EXT-X-STREAM-INFO:...`` is not an EXT-X-STREAM-INF.
    """
    return line.partition(":")[0].rstrip()


def parse_attributes(value: str) -> dict[str, str]:
    """An attribute list as ``{NAME: value}``; quoted values keep no quotes.

    Lenient about blanks around ``,`` and ``=`` (seen in the wild); a later
    duplicate name wins.
    """
    attrs: dict[str, str] = {}
    pos = 0
    n = len(value)
    while pos < n:
        m = _ATTR.match(value, pos)
        if m is None or m.end() == pos:
            # skip one malformed item up to the next comma
            comma = value.find(",", pos)
            if comma < 0:
                break
            pos = comma + 1
            continue
        raw = m.group(2).strip()
        if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
            raw = raw[1:-1]
        attrs[m.group(1).upper()] = raw
        pos = m.end()
    return attrs


@dataclass(slots=True)
class KeyTag:
    method: str
    uri: str | None
    iv: str | None
    keyformat: str | None
    keyformat_versions: str | None


@dataclass(slots=True)
class Scan:
    """What :func:`scan` learnt about a playlist."""

    lines: list[str]
    is_master: bool
    # media playlists: per segment URI, in order
    segment_lines: list[int] = field(default_factory=list)
    segment_keys: list[tuple[KeyTag, ...]] = field(default_factory=list)
    key_methods: set[str] = field(default_factory=set)
    part_count: int = 0  # EXT-X-PART tags
    discontinuity_count: int = 0  # EXT-X-DISCONTINUITY tags
    gap_count: int = 0  # EXT-X-GAP tags
    target_duration: float | None = None
    media_sequence: int | None = None
    # master playlists: line of each EXT-X-STREAM-INF URI
    variant_lines: list[int] = field(default_factory=list)


def decode(text: str | bytes, url: str | None) -> str:
    if isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise ManifestSyntaxError(
                f"playlist is not UTF-8 ({exc.reason} at byte {exc.start})",
                where=_line(line),
                url=url,
            ) from None
    if not isinstance(text, str):
        raise ManifestSyntaxError(
            f"playlist must be str or bytes, not {type(text).__name__}", where="line 1", url=url
        )
    return text.lstrip("\ufeff")


_VAR_REF = re.compile(r"\{\$([A-Za-z0-9_-]+)\}")


def substitute_variables(text: str, url: str | None) -> str:
    """Apply EXT-X-DEFINE (NAME/VALUE and QUERYPARAM; RFC 8216bis 4.4.2.3).

    A reference to a variable that is not defined (IMPORT needs the master
    playlist, which a parser of one playlist does not have) is left as written.
    Line numbers do not change.
    """
    if "#EXT-X-DEFINE:" not in text:
        return text
    from urllib.parse import parse_qs, urlsplit

    variables: dict[str, str] = {}
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#EXT-X-DEFINE:"):
            attrs = parse_attributes(stripped.partition(":")[2])
            if "NAME" in attrs and "VALUE" in attrs:
                variables[attrs["NAME"]] = attrs["VALUE"]
            elif "QUERYPARAM" in attrs and url:
                values = parse_qs(urlsplit(url).query).get(attrs["QUERYPARAM"])
                if values:
                    variables[attrs["QUERYPARAM"]] = values[0]
        elif variables and "{$" in line:
            line = _VAR_REF.sub(lambda m: variables.get(m.group(1), m.group(0)), line)
        out.append(line)
    return "\n".join(out)


def _line(n: int) -> str:
    return f"line {n}"


def _bandwidth(tag: str, value: str, n: int, url: str | None) -> None:
    attrs = parse_attributes(value)
    bw = attrs.get("BANDWIDTH")
    if bw is None:
        raise ManifestValueError(
            f"{tag} without the required BANDWIDTH attribute", where=_line(n), url=url
        )
    if not _DECIMAL_INTEGER.fullmatch(bw.strip()):
        raise ManifestValueError(
            f"{tag} BANDWIDTH={bw!r} is not a decimal integer", where=_line(n), url=url
        )


def scan(text: str, url: str | None) -> Scan:
    """Check the lines of a playlist and collect per-segment facts.

    Raises ManifestSyntaxError/ManifestValueError with the line number.
    """
    lines = text.splitlines()
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first == len(lines):
        raise ManifestSyntaxError("empty playlist", where="line 1", url=url)
    head = lines[first].strip()
    if not head.startswith("#EXTM3U") or (len(head) > 7 and not head[7].isspace()):
        raise ManifestSyntaxError(
            f"first line must be #EXTM3U, found {head[:40]!r}",
            where=_line(first + 1),
            url=url,
        )

    has_master = has_media = None
    # the loop only runs when a master tag may be present (fast for media playlists)
    maybe_master = any(tag in text for tag in MASTER_TAGS)
    for n, raw in enumerate(lines[first + 1 :] if maybe_master else (), first + 2):
        s = raw.strip()
        if not s.startswith("#EXT"):
            continue
        tag = tag_name(s)
        if has_master is None and tag in MASTER_TAGS:
            has_master = n
        elif has_media is None and tag in MEDIA_TAGS:
            has_media = n
        if has_master and has_media:
            break
    if has_master and has_media:
        raise ManifestSyntaxError(
            f"playlist mixes master tags (line {has_master}) and media segment tags",
            where=_line(has_media),
            url=url,
        )
    result = Scan(lines=lines, is_master=bool(has_master))
    if result.is_master:
        _scan_master(lines, first, result, url)
    else:
        _scan_media(lines, first, result, url)
    return result


def _scan_master(lines: list[str], first: int, out: Scan, url: str | None) -> None:
    pending: int | None = None
    for n, raw in enumerate(lines[first + 1 :], first + 2):
        s = raw.strip()
        if not s:
            continue
        if s.startswith("#"):
            tag = tag_name(s)
            if tag == "#EXT-X-STREAM-INF":
                if pending is not None:
                    raise ManifestSyntaxError(
                        f"EXT-X-STREAM-INF at line {pending} is not followed by a URI",
                        where=_line(n),
                        url=url,
                    )
                _bandwidth("EXT-X-STREAM-INF", s.partition(":")[2], n, url)
                pending = n
            elif tag == "#EXT-X-I-FRAME-STREAM-INF":
                value = s.partition(":")[2]
                _bandwidth("EXT-X-I-FRAME-STREAM-INF", value, n, url)
                if "URI" not in parse_attributes(value):
                    raise ManifestValueError(
                        "EXT-X-I-FRAME-STREAM-INF without the required URI attribute",
                        where=_line(n),
                        url=url,
                    )
            continue
        if pending is None:
            continue  # a stray URI line in a master playlist means nothing: ignored
        out.variant_lines.append(n)
        pending = None
    if pending is not None:
        raise ManifestSyntaxError(
            "EXT-X-STREAM-INF is not followed by a URI", where=_line(pending), url=url
        )


def _scan_media(lines: list[str], first: int, out: Scan, url: str | None) -> None:
    extinf: int | None = None
    keys: dict[str, KeyTag] = {}
    current: tuple[KeyTag, ...] = ()
    seq_line: int | None = None
    for n, raw in enumerate(lines[first + 1 :], first + 2):
        s = raw.strip()
        if not s:
            continue
        if not s.startswith("#"):
            if extinf is None:
                raise ManifestSyntaxError(
                    f"segment URI {s[:60]!r} without a preceding #EXTINF", where=_line(n), url=url
                )
            out.segment_lines.append(n)
            out.segment_keys.append(current)
            extinf = None
            continue
        if not s.startswith("#EXT"):
            continue
        tag, _, value = s.partition(":")
        value = value.strip()
        if tag == "#EXTINF":
            duration = value.split(",", 1)[0].strip()
            if not _DECIMAL_FLOAT.fullmatch(duration) or not math.isfinite(float(duration)):
                raise ManifestValueError(
                    f"EXTINF duration {duration[:30]!r} is not a non-negative decimal number",
                    where=_line(n),
                    url=url,
                )
            extinf = n  # a repeated EXTINF before the URI: the later one wins
        elif tag == "#EXT-X-TARGETDURATION":
            # RFC 8216 says decimal-integer; a fraction ("6.0") is tolerated like
            # hls.js does, anything else (NaN, -1, empty) is an error
            if not _DECIMAL_FLOAT.fullmatch(value) or not math.isfinite(float(value)):
                raise ManifestValueError(
                    f"EXT-X-TARGETDURATION {value[:30]!r} is not a decimal integer",
                    where=_line(n),
                    url=url,
                )
            out.target_duration = float(value)
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            if seq_line is not None:
                raise ManifestSyntaxError(
                    f"EXT-X-MEDIA-SEQUENCE repeated (first at line {seq_line})",
                    where=_line(n),
                    url=url,
                )
            if not _DECIMAL_INTEGER.fullmatch(value):
                raise ManifestValueError(
                    f"EXT-X-MEDIA-SEQUENCE {value[:30]!r} is not a decimal integer",
                    where=_line(n),
                    url=url,
                )
            seq_line = n
            out.media_sequence = int(value)
        elif tag == "#EXT-X-BYTERANGE":
            if not _BYTERANGE.fullmatch(value):
                raise ManifestValueError(
                    f"EXT-X-BYTERANGE {value[:30]!r} is not <length>[@<offset>]",
                    where=_line(n),
                    url=url,
                )
        elif tag == "#EXT-X-MAP":
            attrs = parse_attributes(value)
            if not attrs.get("URI"):
                raise ManifestValueError(
                    "EXT-X-MAP without the required URI attribute", where=_line(n), url=url
                )
            br = attrs.get("BYTERANGE")
            if br is not None and not _BYTERANGE.fullmatch(br.strip()):
                raise ManifestValueError(
                    f"EXT-X-MAP BYTERANGE {br[:30]!r} is not <length>[@<offset>]",
                    where=_line(n),
                    url=url,
                )
        elif tag == "#EXT-X-KEY":
            attrs = parse_attributes(value)
            method = attrs.get("METHOD")
            if not method:
                raise ManifestValueError(
                    "EXT-X-KEY without the required METHOD attribute", where=_line(n), url=url
                )
            out.key_methods.add(method)
            if method == "NONE":
                keys = {}
            else:  # a key without URI (a MUST violation) is kept with uri=None
                fmt = attrs.get("KEYFORMAT") or "identity"
                keys = {
                    **keys,
                    fmt: KeyTag(
                        method,
                        attrs.get("URI"),
                        attrs.get("IV"),
                        attrs.get("KEYFORMAT"),
                        attrs.get("KEYFORMATVERSIONS"),
                    ),
                }
            current = tuple(keys.values())
        elif tag == "#EXT-X-PART":
            out.part_count += 1
        elif tag == "#EXT-X-DISCONTINUITY":
            out.discontinuity_count += 1
        elif tag == "#EXT-X-GAP":
            out.gap_count += 1
        elif tag == "#EXT-X-SKIP":
            skipped = parse_attributes(value).get("SKIPPED-SEGMENTS", "")
            if not _DECIMAL_INTEGER.fullmatch(skipped.strip()):
                raise ManifestValueError(
                    f"EXT-X-SKIP SKIPPED-SEGMENTS {skipped[:30]!r} is not a decimal integer",
                    where=_line(n),
                    url=url,
                )
    if out.target_duration is None:
        raise ManifestValueError(
            "media playlist without the required EXT-X-TARGETDURATION",
            where=f"lines 1-{len(lines)}",
            url=url,
        )
