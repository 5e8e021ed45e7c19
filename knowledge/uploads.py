"""Staff uploads: turn an uploaded file into Markdown text an editor reviews before publishing.

The knowledge console accepts Markdown, plain text, HTML, PDF and DOCX. ``parse_upload`` checks the
upload (size, a filename that is only ever used for its extension, bytes that really are what the
extension claims) and converts it to the Markdown shape the corpus uses: ``## Heading`` sections
(``knowledge.passages`` cuts passages on them), paragraphs separated by blank lines, ``- item`` lists.
Every refusal is an ``UploadError`` with a stable ``code`` for the gateway and a sentence an editor
can act on; library exceptions never escape.

Error codes: ``too_large``, ``empty_file``, ``bad_filename``, ``unsupported_type``, ``bad_encoding``,
``corrupt_file`` and ``encrypted`` (a PDF that needs a password to open; a PDF that is encrypted only
to restrict printing or copying opens with the empty password and is read, with a warning).

The readers for HTML, PDF and DOCX, and the libraries they use, are in ``knowledge.upload_formats``;
this module checks the upload, reads text and Markdown, and cleans what the readers return.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from knowledge.language import detect_language
from knowledge.upload_formats import UploadError, describe_bytes, parse_docx, parse_html, parse_pdf

__all__ = ["ALLOWED_EXTENSIONS", "MAX_UPLOAD_BYTES", "ParsedUpload", "UploadError", "parse_upload"]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
ALLOWED_EXTENSIONS = (".md", ".txt", ".html", ".htm", ".pdf", ".docx")

MAX_FILENAME_CHARS = 200
MAX_TITLE_CHARS = 200

_KIND_BY_EXTENSION = {
    ".md": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
# Bidirectional overrides can disguise an extension ("report\u202efdp.exe"); refuse them with control chars.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class ParsedUpload:
    """The text of an upload, ready for an editor to review."""

    filename: str
    kind: str
    title: str
    body: str
    lang: str
    warnings: list[str] = field(default_factory=list)


def parse_upload(filename: str, content: bytes) -> ParsedUpload:
    """Check an upload and convert it to Markdown; raise ``UploadError`` if it cannot be used."""
    name = _check_filename(filename)
    extension = _extension(name)
    _check_size(content)
    kind = _KIND_BY_EXTENSION[extension]
    warnings: list[str] = []
    if kind == "pdf":
        title, body = parse_pdf(content, warnings)
    elif kind == "docx":
        title, body = parse_docx(content, warnings)
    else:
        text = _decode_text(content, warnings)
        if kind == "markdown":
            title, body = _parse_markdown(text, warnings)
        elif kind == "html":
            title, body = parse_html(text)
        else:
            title, body = _first_line(text), text
    body = _normalise_text(body)
    if not body:
        raise UploadError("empty_file", f"“{name}” contains no text to publish.")
    title = _clean_title(title) or _clean_title(_first_line(body)) or _stem(name)
    return ParsedUpload(
        filename=name,
        kind=kind,
        title=title,
        body=body,
        lang=detect_language(f"{title}\n{body}") or "en",
        warnings=warnings,
    )


# --- checks ----------------------------------------------------------------------------------------


def _check_filename(filename: str) -> str:
    """Return the display name; the name is never used as a path, only checked and shown."""
    name = unicodedata.normalize("NFC", filename).strip()
    if not name:
        raise UploadError("bad_filename", "The file has no name; give it a name ending in one of " + _allowed() + ".")
    if len(name) > MAX_FILENAME_CHARS:
        raise UploadError("bad_filename", f"The file name is longer than {MAX_FILENAME_CHARS} characters; shorten it.")
    if "/" in name or "\\" in name or ".." in name:
        raise UploadError(
            "bad_filename", "The file name must not contain '/', '\\' or '..'; rename the file and upload it again."
        )
    if any(unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS for char in name):
        raise UploadError("bad_filename", "The file name contains control characters; rename the file.")
    return name


def _extension(name: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    extension = f".{suffix.lower()}" if dot else ""
    if extension not in ALLOWED_EXTENSIONS:
        shown = f"“{extension}” files" if extension else "Files without an extension"
        raise UploadError("unsupported_type", f"{shown} cannot be uploaded; the allowed types are {_allowed()}.")
    if not stem.strip():
        raise UploadError("bad_filename", f"“{name}” has an extension but no name; rename the file.")
    return extension


def _check_size(content: bytes) -> None:
    if not content:
        raise UploadError("empty_file", "The file is empty (0 bytes); check you chose the right file.")
    if len(content) > MAX_UPLOAD_BYTES:
        raise UploadError(
            "too_large",
            f"The file is {len(content) / 1024 / 1024:.1f} MB; uploads are limited to "
            f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB. Split it or remove images.",
        )


def _allowed() -> str:
    return ", ".join(ALLOWED_EXTENSIONS)


def _stem(name: str) -> str:
    return name.rpartition(".")[0].strip()


# --- text files ------------------------------------------------------------------------------------


def _decode_text(content: bytes, warnings: list[str]) -> str:
    """Decode UTF-8 (BOM allowed), falling back to GB18030 for Chinese files saved by Windows tools."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UploadError("bad_encoding", "The file is saved as UTF-16; save it as UTF-8 and upload it again.")
    if b"\x00" in content:
        raise UploadError(
            "unsupported_type",
            f"The file is not a text file (it looks like {describe_bytes(content)}); upload "
            f"the original document in one of {_allowed()}.",
        )
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = content.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    if not text or not _looks_like_chinese_text(text):
        raise UploadError(
            "bad_encoding",
            "The file is not UTF-8 text (nor GB18030 Chinese text); save it as UTF-8 and upload it again.",
        )
    warnings.append("the file is not UTF-8; it was read as GB18030 (Chinese) — check the characters look right")
    return text


def _looks_like_chinese_text(text: str) -> bool:
    """GB18030 decodes most byte soup; accept it only if it yields ASCII, Han and CJK punctuation."""
    plausible = sum(
        1
        for char in text
        if char.isascii()
        or "\u4e00" <= char <= "\u9fff"
        or "\u3400" <= char <= "\u4dbf"
        or "\u3000" <= char <= "\u303f"
        or "\uff00" <= char <= "\uffef"
        or "\u2000" <= char <= "\u206f"
    )
    return plausible >= 0.95 * len(text)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


# --- Markdown --------------------------------------------------------------------------------------


def _parse_markdown(text: str, warnings: list[str]) -> tuple[str, str]:
    """Strip front matter; the first ``# `` heading is the title, later ``# `` headings become ``## ``."""
    text = _strip_front_matter(text.replace("\r\n", "\n").replace("\r", "\n"), warnings)
    lines = text.split("\n")
    title = ""
    out: list[str] = []
    for line, in_code in _with_fence_state(lines):
        match = None if in_code else re.match(r"^#\s+(.+?)\s*#*\s*$", line)
        if match and not title:
            title = match.group(1)
        elif match:
            out.append(f"## {match.group(1)}")
        else:
            out.append(line)
    return title or _first_line(text), "\n".join(out)


def _strip_front_matter(text: str, warnings: list[str]) -> str:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return text
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            warnings.append("front matter removed (the publishing form sets the document fields)")
            return "\n".join(lines[index + 1 :])
    return text


def _with_fence_state(lines: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """Yield each line with whether it is inside a fenced code block (so ``# comment`` stays code)."""
    fence = ""
    for line in lines:
        stripped = line.lstrip()
        marker = stripped[:3]
        if marker in ("```", "~~~") and (not fence or marker == fence):
            fence = "" if fence else marker
            yield line, True
        else:
            yield line, bool(fence)


# --- HTML ------------------------------------------------------------------------------------------


# --- PDF -------------------------------------------------------------------------------------------


# --- DOCX ------------------------------------------------------------------------------------------


# --- output ----------------------------------------------------------------------------------------


def _normalise_text(text: str) -> str:
    """NFC, Unix newlines, no control characters or trailing spaces, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_CHARS.sub("", text.replace("\ufeff", ""))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def _clean_title(title: str) -> str:
    title = re.sub(r"\s+", " ", unicodedata.normalize("NFC", title)).strip().lstrip("#").strip()
    if len(title) > MAX_TITLE_CHARS:
        title = title[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return title
