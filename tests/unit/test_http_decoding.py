"""Content decoding of upstream bodies (http/decoding.py): gzip, and deflate both as the standard says
(zlib-wrapped) and as some servers send it (bare), whatever the reads' sizes."""

from __future__ import annotations

import gzip
import zlib

import pytest

from babelgate.http.decoding import DeflateDecoder, decoder_for, is_zlib_header

PAYLOAD = b'{"choices":[{"message":{"content":"' + b"Paris and Berlin. " * 300 + b'"}}]}'


def bare(data: bytes, level: int = -1) -> bytes:
    compressor = zlib.compressobj(level, wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def decode_in_reads(coding: bytes, body: bytes, size: int) -> bytes:
    decoder = decoder_for(coding)
    assert decoder is not None
    out = [decoder.decompress(body[i : i + size]) for i in range(0, len(body), size)]
    return b"".join(out) + decoder.flush()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1 << 16])
@pytest.mark.parametrize(
    ("coding", "compress"),
    [(b"gzip", gzip.compress), (b"x-gzip", gzip.compress), (b"deflate", zlib.compress), (b"deflate", bare)],
)
def test_bodies_decode_whatever_the_read_sizes(coding: bytes, compress: object, size: int) -> None:
    assert callable(compress)
    assert decode_in_reads(coding, compress(PAYLOAD), size) == PAYLOAD


@pytest.mark.parametrize("level", range(10))
def test_the_zlib_header_check_tells_the_two_deflates_apart(level: int) -> None:
    assert is_zlib_header(zlib.compress(PAYLOAD, level))
    assert not is_zlib_header(bare(PAYLOAD, level))
    assert not is_zlib_header(bare(b"", level))


def test_codings_never_asked_for_have_no_decoder() -> None:
    assert decoder_for(b"br") is None
    assert decoder_for(b"identity") is None


def test_garbage_under_deflate_is_a_zlib_error() -> None:
    decoder = DeflateDecoder()
    with pytest.raises(zlib.error):
        decoder.decompress(b"\x78\x9c" + b"\xff" * 40)  # a zlib header, then no valid block


def test_a_body_cut_after_one_byte_decodes_to_nothing() -> None:
    decoder = DeflateDecoder()
    assert decoder.decompress(b"\x78") == b""
    assert decoder.flush() == b""
