"""Masking values, not markup: XML and JSON files keep their structure when a secret is masked.

A secret masked as a raw substring of a file also hits the file's syntax when it happens to be
part of it: a tag or attribute name (`testsuites`), a JSON key, an entity (`&quot;`). Here only
what is data is masked, and the file stays as parseable as it was:

* XML: character data, CDATA sections, comments and attribute values; never tag or attribute
  names, processing instructions or declarations. A value is decoded (the five entities and
  character references), masked, and written back escaped only when it changed.
* JSON (and JSON Lines): string values; a key only when it is data, not schema, i.e. when it is
  not an identifier (`projectName` stays whatever secret it contains; `"Bearer x y"` as a key
  is masked). A string is decoded, masked and written back with json.dumps when it changed.

Both are scanners over the bytes, not parsers building a tree: any depth, any size, and a file
that is not well-formed is masked as far as its tokens go, never refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

Mask = Callable[[bytes], bytes]

# A tag may hold '>' inside a quoted attribute value.
_MARKUP = re.compile(
    rb"<!--(?P<comment>.*?)-->"
    rb"|<!\[CDATA\[(?P<cdata>.*?)\]\]>"
    rb"|<\?.*?\?>"
    rb"|<![^>]*>"
    rb"|(?P<tag><[^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*>)",
    re.DOTALL,
)
_ATTRIBUTE = re.compile(rb"(=\s*)(?:\"([^\"]*)\"|'([^']*)')")
_REFERENCE = re.compile(rb"&(#[0-9]+|#x[0-9a-fA-F]+|lt|gt|amp|quot|apos);")
_NAMED = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"', b"apos": "'"}


def mask_xml(data: bytes, mask: Mask) -> bytes:
    out: list[bytes] = []
    position = 0
    for match in _MARKUP.finditer(data):
        out.append(_xml_text(data[position : match.start()], mask, quote=None))
        if match["comment"] is not None:
            out.append(b"<!--" + mask(match["comment"]) + b"-->")
        elif match["cdata"] is not None:
            out.append(b"<![CDATA[" + mask(match["cdata"]) + b"]]>")
        elif match["tag"] is not None:
            out.append(_ATTRIBUTE.sub(lambda m: _attribute(m, mask), match["tag"]))
        else:
            out.append(match.group())
        position = match.end()
    out.append(_xml_text(data[position:], mask, quote=None))
    return b"".join(out)


def _attribute(match: re.Match[bytes], mask: Mask) -> bytes:
    double = match[2] is not None
    value = match[2] if double else match[3]
    quote = b'"' if double else b"'"
    return match[1] + quote + _xml_text(value, mask, quote=quote) + quote


def _xml_text(raw: bytes, mask: Mask, *, quote: bytes | None) -> bytes:
    if not raw:
        return raw
    decoded = _REFERENCE.sub(_decode_reference, raw)
    masked = mask(decoded)
    if masked == decoded:
        return raw  # untouched, byte for byte
    escaped = masked.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")
    if quote is not None:
        escaped = escaped.replace(quote, b"&quot;" if quote == b'"' else b"&apos;")
        for char, ref in ((b"\t", b"&#9;"), (b"\n", b"&#10;"), (b"\r", b"&#13;")):
            escaped = escaped.replace(char, ref)  # an attribute keeps its whitespace
    return escaped


def _decode_reference(match: re.Match[bytes]) -> bytes:
    name = match[1]
    if name in _NAMED:
        return _NAMED[name].encode()
    try:
        code = int(name[2:], 16) if name[:2] == b"#x" else int(name[1:])
        return chr(code).encode("utf-8", "surrogatepass")
    except (ValueError, OverflowError):
        return match.group()


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_KEY_AFTER = re.compile(rb"\s*:")
_IDENTIFIER = re.compile(rb'"[A-Za-z_$][A-Za-z0-9_$]*"')


def mask_json(data: bytes, mask: Mask) -> bytes:
    def replace(match: re.Match[bytes]) -> bytes:
        token = match.group()
        if _KEY_AFTER.match(data, match.end()) and _IDENTIFIER.fullmatch(token):
            return token  # a key that is schema, not data
        try:
            value = json.loads(token)
        except ValueError:
            return mask(token)
        encoded = value.encode("utf-8", "surrogatepass")
        masked = mask(encoded)
        if masked == encoded:
            return token
        text = masked.decode("utf-8", "surrogatepass")
        return json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")

    return _STRING.sub(replace, data)
