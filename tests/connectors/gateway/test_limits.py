"""Body limits on the staff routes: oversized requests refused as they arrive."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from tests.connectors.gateway.staff_client import NEW_DOC, client, login

__all__ = ["client"]  # pytest fixtures used by name


def test_oversized_staff_requests_are_refused_as_they_arrive(client: TestClient) -> None:
    editor = login(client, "ed")
    # The largest valid document (100,000 Chinese characters, each a 6-byte JSON escape) still fits.
    largest = {**NEW_DOC, "body": "海" * 100_000}
    assert client.post("/api/v1/admin/documents", headers=editor, json=largest).status_code == 201

    def refused(response: Any, says: str) -> None:
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["code"] == "too_large" and says in error["message"], error

    huge = {**NEW_DOC, "body": "x" * (3 * 1024 * 1024)}
    refused(client.post("/api/v1/admin/documents", headers=editor, json=huge), "100,000 characters")

    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to refuse it by
        yield b'{"title": "Night pickup", "body": "'
        for _ in range(300):
            yield b"x" * 10_000
        yield b'"}'

    refused(client.post("/api/v1/admin/documents", headers=editor, content=chunks()), "100,000 characters")
    sign_in = {"username": "ed", "password": "p" * 20_000}
    refused(client.post("/api/v1/auth/token", data=sign_in), "user name and a password")
    upload = {"file": ("big.txt", b"a" * (12 * 1024 * 1024))}
    refused(client.post("/api/v1/admin/uploads", headers=editor, files=upload), "at most 10 MB")
    refused(client.post("/admin/login", data=sign_in), "sign-in form")
    # Nothing half-read was saved: the port topic holds only the one valid document.
    listed = client.get("/api/v1/admin/documents", headers=editor, params={"topic": "port"}).json()
    assert [d["doc_id"] for d in listed] == ["night-time-container-pickup-at-meishan-terminal.en"]
