"""Readers for the uploads that are not plain text: HTML, PDF and DOCX to Markdown blocks.

``knowledge.uploads`` checks an upload and calls them; every refusal is an ``UploadError``.

Libraries: pypdf (pure Python, no system dependencies, handles broken xref tables) for PDF text;
python-docx for DOCX (it knows paragraph styles, which is how Word marks headings and lists);
the standard library's ``html.parser`` for HTML, so no HTML dependency is added: the converter keeps
only text, so no markup or script from the upload reaches the body.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal

import docx
import pypdf
from docx.table import Table

MAX_PDF_PAGES = 300


# A DOCX is a zip: refuse archives that inflate far beyond the upload cap (zip bombs).
MAX_DOCX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024


_BULLET_LINE = re.compile(r"^\s*[•●▪◦·∙‣*–-]\s+(.*)$")


class UploadError(ValueError):
    """An upload was refused; ``code`` is stable for the gateway, ``message`` is for the editor."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_BlockKind = Literal["heading", "item", "row", "para"]


@dataclass(frozen=True)
class _Block:
    kind: _BlockKind
    text: str


def describe_bytes(content: bytes) -> str:
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


def parse_html(text: str) -> tuple[str, str]:
    parser = _HtmlToMarkdown()
    parser.feed(text)
    parser.close()
    # Escaped markup in the page text ("&lt;script&gt;") unescapes to tags: drop those too.
    blocks = [_Block(b.kind, _strip_markup(b.text)) for b in parser.blocks]
    title = _strip_markup(parser.title or parser.page_title)
    return title, _render_blocks(blocks)


def parse_pdf(content: bytes, warnings: list[str]) -> tuple[str, str]:
    if not content.startswith(b"%PDF-"):
        raise UploadError(
            "unsupported_type", f"The file is named .pdf but is {describe_bytes(content)}; upload the real PDF."
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


_HEADING_STYLE = re.compile(r"^(heading|标题)\s*(\d)$", re.IGNORECASE)


def parse_docx(content: bytes, warnings: list[str]) -> tuple[str, str]:
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
            f"The file is named .docx but is {describe_bytes(content)}; save it as a Word document (.docx).",
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
