"""HLS full-segment AES-128 (RFC 8216 section 5.2): AES-128-CBC with PKCS7 padding
over the whole segment; the IV is the EXT-X-KEY ``IV`` attribute, else the
segment's media sequence number as a 128-bit big-endian integer."""

from __future__ import annotations

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import DecryptError

__all__ = ["decrypt_segment", "encrypt_segment", "iv_for", "parse_iv"]


def parse_iv(text: str) -> bytes:
    """``"0x0123..."`` (32 hex digits, prefix optional) -> 16 bytes."""
    t = text.strip()
    if t[:2].lower() == "0x":
        t = t[2:]
    try:
        iv = bytes.fromhex(t)
    except ValueError:
        raise DecryptError(f"IV {text!r} is not hex") from None
    if len(iv) != 16:
        raise DecryptError(f"IV {text!r} is not 16 bytes")
    return iv


def iv_for(iv_attr: str | None, media_sequence: int) -> bytes:
    """The IV of a segment: the tag's ``IV`` when given, else its sequence number."""
    if iv_attr:
        return parse_iv(iv_attr)
    return int(media_sequence).to_bytes(16, "big")


def _check(key: bytes, iv: bytes) -> None:
    if len(key) != 16:
        raise DecryptError("AES-128 key is not 16 bytes")
    if len(iv) != 16:
        raise DecryptError("AES-128 IV is not 16 bytes")


def encrypt_segment(data: bytes, key: bytes, iv: bytes) -> bytes:
    _check(key, iv)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(data) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(plain) + enc.finalize()


def decrypt_segment(data: bytes, key: bytes, iv: bytes, *, segment: str | None = None,
                    kid: str | None = None) -> bytes:
    """The clear segment; :class:`DecryptError` naming ``segment`` when the length or
    the padding is wrong (a wrong key almost always gives bad padding)."""
    _check(key, iv)
    if not data or len(data) % 16:
        raise DecryptError(f"AES-128 data of {len(data)} bytes is not whole blocks",
                           segment=segment, kid=kid)
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = dec.update(data) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(plain) + unpadder.finalize()
    except ValueError:
        raise DecryptError("AES-128 padding is wrong (wrong key or IV)", segment=segment,
                           kid=kid) from None
