"""Encryption of a packaged title: CENC (``cenc``, AES-CTR) CMAF for DASH and HLS,
or HLS full-segment AES-128.

Keys: one random 16-byte key and KID per title (``per_track``: one per track,
video and audio), generated on first use and kept only in the server's key
store (:class:`drm.KeyStore`, mode 0600, refused inside the content
directory). Re-packaging a title reuses its keys.

``cenc``: each finished clear rendition is remuxed (stream copy) through FFmpeg
with the muxer's ``encryption_scheme=cenc-aes-ctr``, ``encryption_key`` and
``encryption_kid`` options: video through the fragmented MP4 muxer (one
fragment per keyframe = per segment), audio through the DASH muxer (its
``format_options`` pass them to the MP4 sub-muxer; template-number mode cuts at
the same absolute times as the clear encode). Segment boundaries and decode
times are checked against the clear rendition. Manifests:

- DASH: per AdaptationSet ``ContentProtection`` mp4protection ``value="cenc"``
  with ``cenc:default_KID``, and ClearKey
  (``urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e``) with ``dashif:Laurl`` =
  the licence URL;
- HLS: ``EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="<licence URL>",
  KEYFORMAT="org.w3.clearkey",KEYFORMATVERSIONS="1"`` (see docs/drm.md).

``aes-128``: every media segment file is encrypted whole with AES-128-CBC and
PKCS7 under a random per-segment IV; the init segments stay clear (EXT-X-MAP
precedes the key tag). HLS only: ``EXT-X-KEY:METHOD=AES-128,URI="<licence
URL>/key/<kid>",IV=0x...``; no MPD is written.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import av

from drm import ContentKey, KeyStore, encrypt_segment
from manifest import ContentProtection, KeyInfo, Presentation
from manifest.dash_writer import write_mpd
from manifest.hls_writer import write_hls

from ..errors import PackagerError
from . import fmp4
from .catalog import Catalog
from .encode import EncodedRendition, SegmentFile, segment_name
from .manifests import build_presentation

__all__ = ["SCHEMES", "EncryptOptions", "Encryption", "default_licence_url"]

SCHEMES = ("cenc", "aes-128")
CLEARKEY_SCHEME = "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"
MP4PROTECTION_SCHEME = "urn:mpeg:dash:mp4protection:2011"
_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+cmaf+skip_trailer"


def default_licence_url(title: str) -> str:
    """The licence URL of ``abrkit serve`` with its default port base."""
    return f"http://127.0.0.1:8100/licence/{title}"


@dataclass(frozen=True)
class EncryptOptions:
    """What ``abrkit package --encrypt`` asks for. ``licence_url`` may contain
    ``{title}``; default :func:`default_licence_url`."""

    scheme: str  # "cenc" | "aes-128"
    key_store: Path
    licence_url: str | None = None
    per_track: bool = False

    def resolve(self, title: str, content_dir: Path) -> Encryption:
        if self.scheme not in SCHEMES:
            raise PackagerError(f"unknown scheme {self.scheme!r} (one of {', '.join(SCHEMES)})",
                                where="--encrypt")
        from drm import KeyStoreError

        try:
            store = KeyStore(self.key_store, forbid_under=content_dir)
            tracks = ("video", "audio") if self.per_track else (None,)
            keys = {t: store.get_or_create(title, track=t, scheme=self.scheme) for t in tracks}
        except KeyStoreError as exc:
            raise PackagerError(str(exc), where="--key-store") from None
        url = (self.licence_url or default_licence_url(title)).replace("{title}", title)
        if not url.startswith(("http://", "https://")):
            raise PackagerError(f"licence URL {url!r} is not an absolute http(s) URL",
                                where="--licence-url")
        return Encryption(self.scheme, keys, url.rstrip("/"))


@dataclass(frozen=True)
class Encryption:
    """Resolved encryption of one title: scheme, keys by track (None: title-wide)."""

    scheme: str
    keys: dict[str | None, ContentKey]
    licence_url: str

    def __repr__(self) -> str:
        return f"Encryption({self.scheme!r}, kids={[k.kid_hex for k in self.keys.values()]})"

    @property
    def fingerprint(self) -> dict[str, object]:
        """Goes into the renditions' settings hash (KIDs only, never keys)."""
        return {"scheme": self.scheme, "licence_url": self.licence_url,
                "kids": sorted(f"{t}:{k.kid_hex}" for t, k in self.keys.items())}

    def key_for(self, kind: str) -> ContentKey:
        return self.keys.get(kind) or self.keys[None]

    def key_uri(self, key: ContentKey) -> str:
        return f"{self.licence_url}/key/{key.kid_hex}"

    # ----- encrypting renditions ---------------------------------------
    def apply(self, res: EncodedRendition, directory: Path, segment_duration: float
              ) -> EncodedRendition:
        """Encrypt the finished clear rendition ``res`` in ``directory`` in place
        (``segment_duration``: the title's full segment, seconds)."""
        key = self.key_for(res.kind)
        if self.scheme == "aes-128":
            return _aes128_rendition(res, directory, key)
        return _cenc_rendition(res, directory, key, segment_duration)

    # ----- manifests -----------------------------------------------------
    def render_manifests(self, c: Catalog) -> dict[str, str]:
        """Like :func:`server.packager.manifests.render_manifests`, with protection."""
        hls = self._protect_hls(build_presentation(c, hls=True), c)
        files = dict(write_hls(hls))
        if c.hls != "master.m3u8" and "master.m3u8" in files:
            files[c.hls] = files.pop("master.m3u8")
        if self.scheme == "cenc":
            files[c.dash] = write_mpd(self._protect_dash(build_presentation(c)))
        return files

    def _protect_dash(self, p: Presentation) -> Presentation:
        periods = []
        for per in p.periods:
            tracks = []
            for t in per.tracks:
                key = self.key_for(t.type)
                prot = (
                    ContentProtection(MP4PROTECTION_SCHEME, "mp4protection", "cenc",
                                      default_kid=key.kid_hex),
                    ContentProtection(CLEARKEY_SCHEME, "clearkey", "ClearKey1.0",
                                      licence_url=self.licence_url),
                )
                tracks.append(replace(t, protection=prot))
            periods.append(replace(per, tracks=tuple(tracks)))
        return replace(p, periods=tuple(periods))

    def _protect_hls(self, p: Presentation, c: Catalog) -> Presentation:
        for t in p.tracks():
            key = self.key_for(t.type)
            for r in t.renditions:
                idx = r.segments
                if idx is None:
                    continue
                segs = []
                for s in idx.segments:
                    if self.scheme == "cenc":
                        info = KeyInfo("SAMPLE-AES-CTR", uri=self.licence_url,
                                       keyformat="org.w3.clearkey", keyformat_versions="1",
                                       kid=key.kid_hex)
                    else:
                        info = KeyInfo("AES-128", uri=self.key_uri(key),
                                       iv="0x" + _iv_of(c, r.id, s.number).hex(),
                                       kid=key.kid_hex)
                    segs.append(replace(s, key=info))
                p = p.with_segments(r.id, replace(idx, segments=tuple(segs)))
        return p


def _iv_of(c: Catalog, rendition_id: str, number: int) -> bytes:
    entry = next(e for e in (*c.ladder, *((c.audio,) if c.audio else ())) if e.id == rendition_id)
    path = c.directory / entry.path / f".iv-{number:05d}"
    try:
        return path.read_bytes()
    except OSError:
        raise PackagerError("the IV of an AES-128 segment is missing; re-package the title",
                            where=str(path)) from None


def _aes128_rendition(res: EncodedRendition, directory: Path, key: ContentKey) -> EncodedRendition:
    segs = []
    for s in res.segments:
        iv = secrets.token_bytes(16)
        path = directory / s.name
        data = encrypt_segment(path.read_bytes(), key.key, iv)
        path.write_bytes(data)
        (directory / f".iv-{s.number:05d}").write_bytes(iv)  # hidden: never served
        segs.append(replace(s, size=len(data)))
    return replace(res, segments=tuple(segs))


def _concat(res: EncodedRendition, directory: Path) -> bytes:
    return (directory / "init.mp4").read_bytes() + b"".join(
        (directory / s.name).read_bytes() for s in res.segments)


def _muxer_options(key: ContentKey) -> dict[str, str]:
    return {"encryption_scheme": "cenc-aes-ctr", "encryption_key": key.key.hex(),
            "encryption_kid": key.kid.hex()}


def _remux(src_bytes: bytes, out: av.container.OutputContainer, kind: str) -> None:
    with av.open(io.BytesIO(src_bytes), "r", format="mp4") as src:
        ist = src.streams.video[0] if kind == "video" else src.streams.audio[0]
        ost = out.add_stream_from_template(ist)
        for packet in src.demux(ist):
            if packet.dts is None:
                continue
            packet.stream = ost
            out.mux(packet)


def _cenc_rendition(res: EncodedRendition, directory: Path, key: ContentKey,
                    segment_duration: float) -> EncodedRendition:
    clear = _concat(res, directory)
    try:
        if res.kind == "video":
            buf = io.BytesIO()
            with av.open(buf, "w", format="mp4",
                         options={"movflags": _MOVFLAGS, **_muxer_options(key)}) as out:
                _remux(clear, out, "video")
            init, frags = fmp4.split_fragmented(buf.getvalue())
        else:
            work = directory / ".cenc"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
            fo = ":".join(f"{k}={v}" for k, v in _muxer_options(key).items())
            with av.open(str(work / "x.mpd"), "w", format="dash", options={
                "seg_duration": f"{segment_duration:.6f}", "use_template": "1", "use_timeline": "0",
                "single_file": "0", "hls_playlist": "0", "init_seg_name": "init.mp4",
                "media_seg_name": "seg-$Number%05d$.m4s", "format_options": fo,
            }) as out:
                _remux(clear, out, "audio")
            init = (work / "init.mp4").read_bytes()
            names = sorted(n for n in os.listdir(work) if n.endswith(".m4s"))
            frags = [(work / n).read_bytes() for n in names]
            shutil.rmtree(work, ignore_errors=True)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise PackagerError(f"CENC encryption failed: {type(exc).__name__}",
                            where=f"{res.kind}/{res.id}") from None
    if len(frags) != len(res.segments):
        raise PackagerError(f"CENC remux gave {len(frags)} segments, not {len(res.segments)}",
                            where=f"{res.kind}/{res.id}")
    ts = fmp4.timescale(init)
    segs: list[SegmentFile] = []
    for s, frag in zip(res.segments, frags, strict=True):
        info = fmp4.parse_fragment(frag, init)
        moved = abs(info.decode_time / ts - s.start) + abs(info.duration / ts - s.duration)
        if moved > 1e-6:
            raise PackagerError(f"CENC remux moved segment {s.number}",
                                where=f"{res.kind}/{res.id}")
        (directory / segment_name(s.number)).write_bytes(frag)
        segs.append(replace(s, size=len(frag)))
    (directory / "init.mp4").write_bytes(init)
    return replace(res, init_size=len(init), segments=tuple(segs))
