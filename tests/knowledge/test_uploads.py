"""Staff uploads: real files in, Markdown an editor can review out; bad files refused with a clear code."""

from __future__ import annotations

import io
import zipfile

import docx
import pypdf
import pytest

from knowledge import upload_formats
from knowledge.uploads import MAX_UPLOAD_BYTES, ParsedUpload, UploadError, parse_upload

# --- builders --------------------------------------------------------------------------------------


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF written by hand: one Helvetica text stream per page and a correct xref."""
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        shown = [f"({_pdf_escape(line)}) Tj T*" for line in lines]
        stream = "\n".join(["BT", "/F1 12 Tf", "14 TL", "72 720 Td", *shown, "ET"]).encode() if lines else b""
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    if title:
        objects.append(f"<< /Title ({title}) >>".encode())
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = f" /Info {len(objects)} 0 R" if title else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def encrypt_pdf(content: bytes, user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(content)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def make_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("Cross-border e-commerce export guide", style="Title")
    document.add_paragraph("Customs codes for Zhejiang exporters.")
    document.add_heading("Customs codes", level=1)
    document.add_paragraph("Use 9610 for parcels.", style="List Bullet")
    document.add_paragraph("Use 9810 for overseas warehouses.", style="List Bullet")
    document.add_heading("Deadlines", level=2)
    table = document.add_table(rows=2, cols=2)
    for row, (left, right) in zip(table.rows, [("Code", "Mode"), ("9710", "B2B direct")], strict=True):
        row.cells[0].text, row.cells[1].text = left, right
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def refused(filename: str, content: bytes) -> UploadError:
    with pytest.raises(UploadError) as caught:
        parse_upload(filename, content)
    return caught.value


# --- size and filename -----------------------------------------------------------------------------


def test_an_11_mb_file_is_too_large_and_the_message_states_the_limit() -> None:
    error = refused("big.txt", b"a" * (11 * 1024 * 1024))
    assert error.code == "too_large"
    assert "10 MB" in error.message and "11.0 MB" in error.message


def test_a_file_of_exactly_the_limit_is_accepted() -> None:
    assert parse_upload("big.txt", b"a" * MAX_UPLOAD_BYTES).kind == "text"


def test_empty_content_is_refused() -> None:
    error = refused("notes.md", b"")
    assert error.code == "empty_file"
    assert "empty" in error.message


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd.md", "a/b.md", "a\\b.md", "..md", "notes\x00.md", "tab\there.md", "x" * 198 + ".md", "", ".md"],
)
def test_a_filename_that_could_be_a_path_or_hides_characters_is_refused(filename: str) -> None:
    error = refused(filename, b"# Title\n\nText")
    assert error.code == "bad_filename"
    assert "name" in error.message


def test_a_right_to_left_override_cannot_disguise_the_extension() -> None:
    assert refused("report\u202efdp.md", b"text").code == "bad_filename"


@pytest.mark.parametrize(("filename", "kind"), [("x.MD", "markdown"), ("Notes.Txt", "text"), ("page.HTM", "html")])
def test_the_extension_is_case_insensitive(filename: str, kind: str) -> None:
    parsed = parse_upload(filename, b"Hello there")
    assert parsed.kind == kind
    assert parsed.filename == filename


def test_an_uppercase_pdf_extension_is_read_as_pdf() -> None:
    parsed = parse_upload("report.PDF", make_pdf([["Export rebate rules"]]))
    assert parsed.kind == "pdf"
    assert "Export rebate rules" in parsed.body


@pytest.mark.parametrize("filename", ["tool.exe", "sheet.xlsx", "report.pdf.exe", "README"])
def test_other_extensions_are_refused_and_the_message_names_the_allowed_ones(filename: str) -> None:
    error = refused(filename, b"MZ\x90\x00")
    assert error.code == "unsupported_type"
    assert ".pdf" in error.message and ".docx" in error.message and ".md" in error.message


# --- content must match the extension --------------------------------------------------------------


def test_a_windows_program_renamed_pdf_is_refused() -> None:
    error = refused("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100)
    assert error.code == "unsupported_type"
    assert "Windows program" in error.message


def test_a_pdf_renamed_docx_is_refused() -> None:
    error = refused("guide.docx", make_pdf([["Hello"]]))
    assert error.code == "unsupported_type"
    assert "a PDF" in error.message


def test_a_zip_that_is_not_a_word_document_is_refused() -> None:
    error = refused("guide.docx", make_zip({"readme.txt": "hello"}))
    assert error.code == "unsupported_type"
    assert "not a Word document" in error.message


def test_an_excel_file_renamed_docx_is_named_as_such() -> None:
    error = refused("guide.docx", make_zip({"xl/workbook.xml": "<workbook/>"}))
    assert "Excel" in error.message


def test_binary_content_in_a_text_file_is_refused() -> None:
    error = refused("notes.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert error.code == "unsupported_type"
    assert "PNG image" in error.message


def test_utf16_text_is_refused_with_a_save_as_utf8_hint() -> None:
    error = refused("notes.txt", "出口退税".encode("utf-16"))
    assert error.code == "bad_encoding"
    assert "UTF-8" in error.message


def test_latin1_text_is_refused_as_bad_encoding() -> None:
    error = refused("notes.txt", "Café crème, déjà vu à Genève".encode("latin-1"))
    assert error.code == "bad_encoding"
    assert "save it as UTF-8" in error.message


# --- text and Markdown -----------------------------------------------------------------------------


def test_a_gb18030_chinese_text_file_is_read_with_a_warning() -> None:
    text = "跨境电商出口退税指南\n\n浙江企业可以申请9610模式的出口退税。"
    parsed = parse_upload("指南.txt", text.encode("gb18030"))
    assert parsed.title == "跨境电商出口退税指南"
    assert "9610模式的出口退税" in parsed.body
    assert parsed.lang == "zh"
    assert any("GB18030" in warning for warning in parsed.warnings)


def test_a_utf8_chinese_markdown_file_with_bom_and_front_matter() -> None:
    source = "---\ntitle: 旧标题\ntags: [退税]\n---\n# 海外仓备案\n\n\n\n## 申请条件   \n\n企业需要在海关备案。\n"
    parsed = parse_upload("haiwaicang.md", b"\xef\xbb\xbf" + source.encode("utf-8"))
    assert parsed.title == "海外仓备案"
    assert parsed.body == "## 申请条件\n\n企业需要在海关备案。"
    assert parsed.lang == "zh"
    assert any("front matter removed" in warning for warning in parsed.warnings)


def test_markdown_without_a_heading_uses_the_first_line_and_keeps_code_comments() -> None:
    source = "Notes on ODI filing\n\n```bash\n# not a heading\n```\n\n## Real section\n"
    parsed = parse_upload("odi.md", source.encode())
    assert parsed.title == "Notes on ODI filing"
    assert "# not a heading" in parsed.body
    assert parsed.lang == "en"
    assert parsed.warnings == []


def test_later_top_level_markdown_headings_become_sections() -> None:
    parsed = parse_upload("guide.md", b"# Guide\n\nIntro.\n\n# Fees\n\nNone.")
    assert parsed.title == "Guide"
    assert parsed.body == "Intro.\n\n## Fees\n\nNone."


def test_text_is_normalised_to_nfc() -> None:
    parsed = parse_upload("notes.txt", "Cafe\u0301 list\r\n\r\n\r\n\r\nsecond   ".encode())
    assert parsed.body == "Café list\n\nsecond"


def test_an_upload_with_only_whitespace_is_empty() -> None:
    error = refused("notes.md", b"\n\n   \n")
    assert error.code == "empty_file"
    assert "no text" in error.message


# --- HTML ------------------------------------------------------------------------------------------


XSS_PAGE = """<!doctype html><html><head><title>Page title</title>
<style>body { color: red }</style><script>alert('head')</script></head>
<body><h1>Export &amp; import guide</h1>
<script>alert(1)</script><noscript>Enable JavaScript</noscript>
<p>Apply at the <b>single window</b>.<img src=x onerror="alert(2)"></p>
<h2>Steps</h2><ul><li>Register</li><li>Declare&nbsp;goods</li></ul>
<div>Line one<br>Line two</div>
<p>&lt;script&gt;alert(3)&lt;/script&gt;Escaped markup</p>
<template><p>hidden template</p></template>
<table><tr><th>Code</th><th>Mode</th></tr><tr><td>9610</td><td>Parcels</td></tr></table>
</body></html>"""


def test_html_becomes_markdown_with_headings_lists_and_rows() -> None:
    parsed = parse_upload("guide.html", XSS_PAGE.encode())
    assert parsed.title == "Export & import guide"
    assert parsed.body == (
        "Apply at the single window.\n\n## Steps\n\n- Register\n- Declare goods\n\nLine one\n\nLine two\n\n"
        "Escaped markup\n\nCode | Mode\n9610 | Parcels"
    )


@pytest.mark.parametrize(
    "fragment", ["<", ">", "alert", "onerror", "script", "Enable JavaScript", "color: red", "hidden template"]
)
def test_no_markup_or_script_from_html_survives(fragment: str) -> None:
    parsed = parse_upload("guide.html", XSS_PAGE.encode())
    assert fragment not in parsed.body
    assert fragment not in parsed.title


def test_html_without_h1_uses_the_page_title() -> None:
    parsed = parse_upload("p.htm", b"<html><head><title>Fees &amp; taxes</title></head><body><p>Text</p></body></html>")
    assert parsed.title == "Fees & taxes"
    assert parsed.body == "Text"


# --- PDF -------------------------------------------------------------------------------------------


def test_the_hand_made_pdf_is_readable_by_pypdf() -> None:
    reader = pypdf.PdfReader(io.BytesIO(make_pdf([["Hello world"]])))
    assert "Hello world" in reader.pages[0].extract_text()


def test_a_pdf_gives_its_text_and_metadata_title() -> None:
    content = make_pdf([["Export rebates", "- Apply within 90 days"], ["Second page"]], title="Rebate guide")
    parsed = parse_upload("rebates.pdf", content)
    assert parsed == ParsedUpload(
        filename="rebates.pdf",
        kind="pdf",
        title="Rebate guide",
        body="Export rebates\n- Apply within 90 days\n\nSecond page",
        lang="en",
        warnings=[],
    )


def test_a_pdf_without_metadata_title_uses_its_first_line() -> None:
    assert parse_upload("r.pdf", make_pdf([["Customs filing", "body"]])).title == "Customs filing"


def test_a_blank_pdf_page_is_reported_by_number() -> None:
    parsed = parse_upload("r.pdf", make_pdf([["One"], ["Two"], []]))
    assert parsed.body == "One\n\nTwo"
    assert parsed.warnings == ["page 3 had no extractable text (scanned image?)"]


def test_a_pdf_with_no_text_may_be_a_scan() -> None:
    error = refused("scan.pdf", make_pdf([[], []]))
    assert error.code == "empty_file"
    assert "scanned image" in error.message


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.97])
def test_a_truncated_pdf_is_corrupt(cut: float) -> None:
    content = make_pdf([["Hello world"]])
    error = refused("broken.pdf", content[: int(len(content) * cut)])
    assert error.code == "corrupt_file"
    assert "could not be read as a PDF" in error.message


def test_pdf_garbage_after_the_header_is_corrupt() -> None:
    assert refused("broken.pdf", b"%PDF-1.7\n" + b"garbage " * 50).code == "corrupt_file"


def test_a_password_protected_pdf_is_refused_as_encrypted() -> None:
    error = refused("secret.pdf", encrypt_pdf(make_pdf([["Secret"]]), user_password="pw"))
    assert error.code == "encrypted"
    assert "password" in error.message


def test_a_pdf_with_only_permission_restrictions_is_read_with_a_warning() -> None:
    parsed = parse_upload("notice.pdf", encrypt_pdf(make_pdf([["Public notice"]]), user_password=""))
    assert parsed.body == "Public notice"
    assert any("restrictions" in warning for warning in parsed.warnings)


def test_pages_beyond_the_limit_are_skipped_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_formats, "MAX_PDF_PAGES", 2)
    parsed = parse_upload("long.pdf", make_pdf([["One"], ["Two"], ["Three"]]))
    assert parsed.body == "One\n\nTwo"
    assert parsed.warnings == ["only the first 2 of 3 pages were read; split the PDF"]


# --- DOCX ------------------------------------------------------------------------------------------


def test_a_docx_becomes_sections_lists_and_table_rows() -> None:
    parsed = parse_upload("guide.docx", make_docx())
    assert parsed.kind == "docx"
    assert parsed.title == "Cross-border e-commerce export guide"
    assert parsed.body == (
        "Customs codes for Zhejiang exporters.\n\n## Customs codes\n\n- Use 9610 for parcels.\n"
        "- Use 9810 for overseas warehouses.\n\n## Deadlines\n\nCode | Mode\n9710 | B2B direct"
    )
    assert parsed.lang == "en"


def test_a_docx_without_a_title_uses_its_first_heading_1() -> None:
    document = docx.Document()
    document.add_paragraph("Introductory remark.")
    document.add_heading("海外仓备案流程", level=1)
    document.add_paragraph("企业需要先在海关备案，再申请出口退税。")
    buffer = io.BytesIO()
    document.save(buffer)
    parsed = parse_upload("备案.docx", buffer.getvalue())
    assert parsed.title == "海外仓备案流程"
    assert parsed.body == "Introductory remark.\n\n## 海外仓备案流程\n\n企业需要先在海关备案，再申请出口退税。"
    assert parsed.lang == "zh"


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_truncated_docx_is_corrupt(cut: float) -> None:
    content = make_docx()
    error = refused("guide.docx", content[: int(len(content) * cut)])
    assert error.code == "corrupt_file"
    assert "could not be read as a Word document" in error.message


def test_a_docx_with_broken_xml_is_corrupt() -> None:
    error = refused("guide.docx", make_zip({"[Content_Types].xml": "<Types", "word/document.xml": "<w:document"}))
    assert error.code == "corrupt_file"


def test_an_empty_docx_is_refused() -> None:
    buffer = io.BytesIO()
    docx.Document().save(buffer)
    error = refused("blank.docx", buffer.getvalue())
    assert error.code == "empty_file"
    assert "no text" in error.message


def test_a_docx_that_unpacks_beyond_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_formats, "MAX_DOCX_UNCOMPRESSED_BYTES", 1024)
    error = refused("bomb.docx", make_zip({"word/document.xml": "<w:document/>" + " " * 4096}))
    assert error.code == "too_large"
    assert "unpacks to more than" in error.message
