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

Libraries: pypdf (pure Python, no system dependencies, handles broken xref tables) for PDF text;
python-docx for DOCX (it knows paragraph styles, which is how Word marks headings and lists);
the standard library's ``html.parser`` for HTML, so no HTML dependency is added: the converter keeps
only text, so no markup or script from the upload reaches the body.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Literal

import docx
import pypdf
from docx.table import Table

from knowledge.language import detect_language

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
ALLOWED_EXTENSIONS = (".md", ".txt", ".html", ".htm", ".pdf", ".docx")

MAX_FILENAME_CHARS = 200
MAX_PDF_PAGES = 300
# A DOCX is a zip: refuse archives that inflate far beyond the upload cap (zip bombs).
MAX_DOCX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
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
_BULLET_LINE = re.compile(r"^\s*[•●▪◦·∙‣*–-]\s+(.*)$")


class UploadError(ValueError):
    """An upload was refused; ``code`` is stable for the gateway, ``message`` is for the editor."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ParsedUpload:
    """The text of an upload, ready for an editor to review."""

    filename: str
    kind: str
    title: str
    body: str
    lang: str
    warnings: list[str] = field(default_factory=list)


_BlockKind = Literal["heading", "item", "row", "para"]


@dataclass(frozen=True)
class _Block:
    kind: _BlockKind
    text: str


def parse_upload(filename: str, content: bytes) -> ParsedUpload:
    """Check an upload and convert it to Markdown; raise ``UploadError`` if it cannot be used."""
    name = _check_filename(filename)
    extension = _extension(name)
    _check_size(content)
    kind = _KIND_BY_EXTENSION[extension]
    warnings: list[str] = []
    if kind == "pdf":
        title, body = _parse_pdf(content, warnings)
    elif kind == "docx":
        title, body = _parse_docx(content, warnings)
    else:
        text = _decode_text(content, warnings)
        if kind == "markdown":
            title, body = _parse_markdown(text, warnings)
        elif kind == "html":
            title, body = _parse_html(text)
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


def _describe_bytes(content: bytes) -> str:
    """Name what the bytes really are, so a refusal tells the editor what they uploaded."""
    signatures = (
        (b"%PDF-", "a PDF"),
        (b"PK\x03\x04", "a zip archive"),
        (b"MZ", "a Windows program"),
        (b"\x7fELF", "a program"),
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"\xd0\xcf\x11\xe0", "an old-format Office file (.doc/.xls) or a password-protected Office file"),
    )
    for magic, description in signatures:
        if content.startswith(magic):
            return description
    return "not that type"


# --- text files ------------------------------------------------------------------------------------


def _decode_text(content: bytes, warnings: list[str]) -> str:
    """Decode UTF-8 (BOM allowed), falling back to GB18030 for Chinese files saved by Windows tools."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UploadError("bad_encoding", "The file is saved as UTF-16; save it as UTF-8 and upload it again.")
    if b"\x00" in content:
        raise UploadError(
            "unsupported_type",
            f"The file is not a text file (it looks like {_describe_bytes(content)}); upload "
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


class _HtmlToMarkdown(HTMLParser):
    """Collect the text of an HTML page as Markdown blocks; markup, scripts and attributes are dropped."""

    SKIP = frozenset({"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas"})
    HEAD_ONLY = frozenset({"title", "meta", "link", "base", "style", "script", "noscript", "template"})
    BREAKS = frozenset(
        {
            "p", "div", "br", "hr", "section", "article", "main", "header", "footer", "nav", "aside",
            "blockquote", "pre", "ul", "ol", "table", "thead", "tbody", "form", "figure", "figcaption",
            "dl", "dt", "dd", "address", "h5", "h6",
        }
    )  # fmt: skip
    SECTION_HEADINGS = frozenset({"h2", "h3", "h4"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[_Block] = []
        self.title = ""
        self.page_title = ""
        self._buffer: list[str] = []
        self._kind: _BlockKind = "para"
        self._skip_depth = 0
        self._in_head = False
        self._in_page_title = False
        self._in_h1 = False
        self._cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self._in_head = True
        elif self._in_head and tag not in self.HEAD_ONLY:
            self._in_head = False
        if tag in self.SKIP:
            self._skip_depth += 1
        elif tag == "title":
            self._in_page_title = True
        elif tag == "h1" or tag in self.SECTION_HEADINGS:
            self._flush()
            self._kind = "heading"
            self._in_h1 = tag == "h1"
        elif tag == "li":
            self._flush()
            self._kind = "item"
        elif tag == "tr":
            self._flush()
            self._kind, self._cells = "row", 0
        elif tag in ("td", "th"):
            if self._cells:
                self._buffer.append(" | ")
            self._cells += 1
        elif tag in self.BREAKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag == "head":
            self._in_head = False
        elif tag == "title":
            self._in_page_title = False
        elif tag == "h1" and self._in_h1 and not self.title:
            self.title = "".join(self._buffer).strip()
            self._buffer, self._kind, self._in_h1 = [], "para", False
        elif tag == "h1" or tag in self.SECTION_HEADINGS or tag in ("li", "tr") or tag in self.BREAKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._in_page_title:
            self.page_title += data
        elif not self._in_head:
            self._buffer.append(re.sub(r"\s+", " ", data))

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self._buffer)).strip(" |")
        if text:
            self.blocks.append(_Block(self._kind, text))
        self._buffer, self._kind, self._in_h1 = [], "para", False


_TAG_LIKE = re.compile(r"</?[A-Za-z!?][^<>]*>")
_SCRIPT_LIKE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def _strip_markup(text: str) -> str:
    return _TAG_LIKE.sub("", _SCRIPT_LIKE.sub("", text))


def _parse_html(text: str) -> tuple[str, str]:
    parser = _HtmlToMarkdown()
    parser.feed(text)
    parser.close()
    # Escaped markup in the page text ("&lt;script&gt;") unescapes to tags: drop those too.
    blocks = [_Block(b.kind, _strip_markup(b.text)) for b in parser.blocks]
    title = _strip_markup(parser.title or parser.page_title)
    return title, _render_blocks(blocks)


# --- PDF -------------------------------------------------------------------------------------------


def _parse_pdf(content: bytes, warnings: list[str]) -> tuple[str, str]:
    if not content.startswith(b"%PDF-"):
        raise UploadError(
            "unsupported_type", f"The file is named .pdf but is {_describe_bytes(content)}; upload the real PDF."
        )
    try:
        reader = pypdf.PdfReader(io.BytesIO(content))
        _open_encrypted(reader, warnings)
        page_count = len(reader.pages)
    except UploadError:
        raise
    except Exception as exc:  # pypdf raises many types (PdfReadError, KeyError, ValueError...) on bad files
        raise _corrupt("PDF") from exc
    texts = [_pdf_page_text(reader, index, warnings) for index in range(min(page_count, MAX_PDF_PAGES))]
    if page_count > MAX_PDF_PAGES:
        warnings.append(f"only the first {MAX_PDF_PAGES} of {page_count} pages were read; split the PDF")
    blank = [index + 1 for index, text in enumerate(texts) if not text.strip()]
    if len(blank) == len(texts):
        raise UploadError(
            "empty_file",
            "No text could be extracted from this PDF; it may be a scanned image. "
            "Upload a text PDF or the original Word document.",
        )
    if blank:
        warnings.append(_blank_pages_warning(blank))
    return _pdf_title(reader), "\n\n".join(_pdf_lines_to_markdown(text) for text in texts if text.strip())


def _open_encrypted(reader: pypdf.PdfReader, warnings: list[str]) -> None:
    if not reader.is_encrypted:
        return
    try:
        opened = reader.decrypt("") != pypdf.PasswordType.NOT_DECRYPTED
    except Exception:  # e.g. AES without the optional cryptography package
        opened = False
    if not opened:
        raise UploadError(
            "encrypted", "This PDF is password-protected; save a copy without the password and upload that."
        )
    warnings.append("the PDF has copy/print restrictions; check the source allows reusing its text")


def _pdf_page_text(reader: pypdf.PdfReader, index: int, warnings: list[str]) -> str:
    try:
        return reader.pages[index].extract_text() or ""
    except Exception:  # one broken page should not lose the rest of the document
        warnings.append(f"page {index + 1} could not be read and was skipped")
        return ""


def _pdf_title(reader: pypdf.PdfReader) -> str:
    try:
        title = (reader.metadata.title if reader.metadata else None) or ""
    except Exception:
        return ""
    title = re.sub(r"^Microsoft (Word|PowerPoint) - ", "", str(title).strip())
    title = re.sub(r"\.(docx?|pptx?)$", "", title, flags=re.IGNORECASE)
    return "" if title.lower() in ("untitled", "title", "document") else title


def _pdf_lines_to_markdown(text: str) -> str:
    lines = []
    for line in text.splitlines():
        bullet = _BULLET_LINE.match(line)
        lines.append(f"- {bullet.group(1)}" if bullet else line.strip())
    return "\n".join(lines)


def _blank_pages_warning(pages: list[int]) -> str:
    if len(pages) == 1:
        return f"page {pages[0]} had no extractable text (scanned image?)"
    shown = ", ".join(str(page) for page in pages[:10])
    more = f" and {len(pages) - 10} more" if len(pages) > 10 else ""
    return f"pages {shown}{more} had no extractable text (scanned images?)"


def _corrupt(what: str) -> UploadError:
    return UploadError(
        "corrupt_file",
        f"The file could not be read as a {what}; it may be damaged or incomplete. "
        f"Open it on your computer, save it again and re-upload.",
    )


# --- DOCX ------------------------------------------------------------------------------------------


_HEADING_STYLE = re.compile(r"^(heading|标题)\s*(\d)$", re.IGNORECASE)


def _parse_docx(content: bytes, warnings: list[str]) -> tuple[str, str]:
    _check_docx_zip(content)
    try:
        document = docx.Document(io.BytesIO(content))
        title, heading1 = "", ""
        blocks: list[_Block] = []
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                blocks.extend(_table_rows(item))
                continue
            text = re.sub(r"\s+", " ", item.text).strip()
            if not text:
                continue
            style = _style_name(item)
            if style == "Title" and not title:
                title = text
            elif style == "Title" or _HEADING_STYLE.match(style):
                heading1 = heading1 or (text if style.lower().endswith("1") else "")
                blocks.append(_Block("heading", text))
            elif style.startswith("List") or _has_numbering(item):
                blocks.append(_Block("item", text))
            else:
                blocks.append(_Block("para", text))
        images = len(document.inline_shapes)
    except Exception as exc:  # python-docx/lxml raise KeyError, XMLSyntaxError, BadZipFile... on bad files
        raise _corrupt("Word document (.docx)") from exc
    if images:
        warnings.append(f"{images} image(s) were ignored; only text is imported")
    return title or heading1, _render_blocks(blocks)


def _check_docx_zip(content: bytes) -> None:
    if not content.startswith(b"PK\x03\x04"):
        raise UploadError(
            "unsupported_type",
            f"The file is named .docx but is {_describe_bytes(content)}; save it as a Word document (.docx).",
        )
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            infos = archive.infolist()
    except Exception as exc:  # BadZipFile, or struct/OSError from a truncated central directory
        raise _corrupt("Word document (.docx)") from exc
    names = {info.filename for info in infos}
    if "word/document.xml" not in names:
        other = (
            "an Excel workbook"
            if "xl/workbook.xml" in names
            else "a PowerPoint file"
            if "ppt/presentation.xml" in names
            else "a zip archive"
        )
        raise UploadError("unsupported_type", f"The file is named .docx but is {other}, not a Word document.")
    if sum(info.file_size for info in infos) > MAX_DOCX_UNCOMPRESSED_BYTES:
        raise UploadError(
            "too_large",
            f"The Word document unpacks to more than {MAX_DOCX_UNCOMPRESSED_BYTES // (1024 * 1024)} MB; "
            "remove large images and upload it again.",
        )


def _style_name(paragraph: object) -> str:
    style = getattr(paragraph, "style", None)
    name = getattr(style, "name", None)
    return name if isinstance(name, str) else ""


def _has_numbering(paragraph: object) -> bool:
    p_pr = getattr(getattr(paragraph, "_p", None), "pPr", None)
    return getattr(p_pr, "numPr", None) is not None


def _table_rows(table: object) -> list[_Block]:
    rows: list[_Block] = []
    for row in getattr(table, "rows", []):
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell repeats once per grid column
                continue
            previous = cell._tc
            cells.append(re.sub(r"\s+", " ", cell.text).strip())
        if any(cells):
            rows.append(_Block("row", " | ".join(cells)))
    return rows


# --- output ----------------------------------------------------------------------------------------


def _render_blocks(blocks: list[_Block]) -> str:
    """Join blocks as Markdown: list items and table rows stay on consecutive lines."""
    parts: list[str] = []
    previous: _BlockKind | None = None
    for block in blocks:
        text = {"heading": f"## {block.text}", "item": f"- {block.text}"}.get(block.kind, block.text)
        if parts:
            parts.append("\n" if block.kind == previous and block.kind in ("item", "row") else "\n\n")
        parts.append(text)
        previous = block.kind
    return "".join(parts)


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
