"""Reading the path of a client's URI the way the most lenient server would.

A transfer policy entry may allow only a path prefix (``http://archive/demo/``). The server at
the other end decides what a path means, and servers differ: some decode ``%2e`` once, some
twice (``%252e``); Tomcat-style servers drop ``;parameters`` from a segment, so ``..;`` is
``..``; IIS reads ``\\`` as ``/`` and drops trailing dots and spaces; proxies merge ``//``.
Each of these has been used to leave an allowed prefix. So the path is matched only after
decoding until nothing changes, and a path that any of these readings could move out of its
prefix is not matched by a prefix at all (:func:`decoded_path` says why).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["decoded_path"]

# Each round of decoding shortens an encoded path; a path still changing after this many is
# encoded on purpose to outlast a checker that stops earlier.
_MAX_DECODINGS = 4
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def decoded_path(raw: str) -> tuple[str, str]:
    """``raw`` (a URI's path, still percent-encoded) decoded until stable, and what makes it
    unsafe to match against a path prefix ("" when nothing does).

    Unsafe: more than :data:`_MAX_DECODINGS` levels of encoding; an encoded ``/``; a ``\\``;
    a control character; a segment made only of dots and spaces once its ``;parameters`` are
    dropped (``.``, ``..``, ``..;x``, ``. .``); an empty segment inside the path (``//``, ``/;x/``).
    A trailing ``/`` is fine. The reason reads after "path '...' ".
    """
    decoded = raw or "/"
    for _ in range(_MAX_DECODINGS):
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    else:
        if unquote(decoded) != decoded:
            return decoded, f"is percent-encoded more than {_MAX_DECODINGS} times"
    if "\\" in decoded:
        return decoded, "has a backslash, which some servers read as '/'"
    if decoded.count("/") != (raw or "/").count("/"):
        return decoded, "has an encoded '/'"
    if _CONTROL.search(decoded):
        return decoded, "has an encoded control character"
    segments = decoded.split("/")[1:]
    for index, segment in enumerate(segments):
        if segment == "" and index == len(segments) - 1:
            continue  # the trailing "/" of a folder
        core = segment.split(";", 1)[0]
        if core.strip(". ") == "":
            if core:
                return decoded, "has '.' or '..' segments (after decoding)"
            return decoded, "has an empty segment ('//' or '/;')"
    return decoded, ""
