"""``/api/v1/admin/uploads``: files parsed for review, bad files refused with a clear error."""

from __future__ import annotations

import io
import zipfile

import docx
from fastapi.testclient import TestClient

from tests.connectors.gateway.staff_client import client, login

__all__ = ["client"]  # pytest fixtures used by name


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.add_heading("Bonded warehouse checklist", level=1)
    document.add_paragraph("Bring the customs registration and the warehouse contract.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_uploads_are_parsed_for_review_and_bad_files_get_a_clear_error(client: TestClient) -> None:
    editor = login(client, "ed")

    def upload(name: str, content: bytes) -> tuple[int, dict[str, object]]:
        response = client.post("/api/v1/admin/uploads", headers=editor, files={"file": (name, content)})
        return response.status_code, response.json()

    status, parsed = upload("checklist.docx", _docx_bytes())
    assert status == 200, parsed
    assert parsed["kind"] == "docx" and "customs registration" in str(parsed["body"])
    status, parsed = upload("note.md", "# 保税仓\n\n需要海关注册。".encode())
    assert status == 200 and parsed["title"] == "保税仓" and parsed["lang"] == "zh"
    # Nothing was published: an upload is only text to review.
    assert all(d["document"]["title"] != "保税仓" for d in client.get("/api/v1/admin/documents", headers=editor).json())

    broken_zip = io.BytesIO()
    with zipfile.ZipFile(broken_zip, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    for name, content, expected_status, code in [
        ("../../etc/passwd.md", b"# x\n\ny", 422, "bad_filename"),
        ("virus.exe", b"MZ\x90\x00", 415, "unsupported_type"),
        ("report.pdf", b"MZ\x90\x00 not a pdf", 415, "unsupported_type"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj <<", 422, "corrupt_file"),
        ("fake.docx", broken_zip.getvalue(), 415, "unsupported_type"),
        ("big.txt", b"a" * (10 * 1024 * 1024 + 1), 413, "too_large"),
    ]:
        status, body = upload(name, content)
        assert status == expected_status, (name, body)
        error = body["error"]
        assert isinstance(error, dict) and error["code"] == code and error["message"], (name, body)
    assert (
        client.post("/api/v1/admin/uploads", headers=login(client, "vi"), files={"file": ("a.md", b"x")}).status_code
        == 403
    )
