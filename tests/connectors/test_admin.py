"""The staff API: sign-in, roles on every route, versioned edits that reach search at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.gateway.auth import hasher
from connectors.gateway.main import create_app
from connectors.settings import GatewaySettings
from knowledge.index_files import save_snapshot
from records.store import Records

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(tmp_path: Path, small_snapshot: Any, embedder: Any) -> Iterator[TestClient]:
    settings = GatewaySettings(
        data_dir=tmp_path, rasa_port=9, action_server_port=9, admin_username="root", admin_password=PASSWORD
    )
    save_snapshot(small_snapshot, settings.index_dir)
    app = create_app(settings)
    with TestClient(app) as test_client:
        state = app.state.gateway
        for _ in range(600):  # the index loads in the background
            if state.retriever is not None:
                break
            time.sleep(0.05)
        state.retriever.embedder = embedder  # reuse the session's model instead of a second copy
        store: Records = state.records
        store.create_user("ed", hasher.hash(PASSWORD), "editor")
        store.create_user("vi", hasher.hash(PASSWORD), "viewer")
        yield test_client


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


NEW_DOC = {
    "title": "Night-time container pickup at Meishan terminal",
    "body": "Trucks can collect containers at the Meishan terminal between 22:00 and 06:00 with a booked slot.\n\n## How to book\n\nBook the slot in the terminal's app a day before.",
    "lang": "en",
    "topic": "port",
    "source_url": "https://example.org/meishan-night-pickup",
    "source_date": "2026-11-20",
}


def test_the_first_admin_comes_from_the_settings_and_tokens_carry_the_role(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", data={"username": "root", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer" and response.json()["role"] == "admin"


def test_wrong_passwords_are_refused_then_rate_limited(client: TestClient) -> None:
    for _ in range(5):
        wrong = client.post("/api/v1/auth/token", data={"username": "ed", "password": "guess"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"
    limited = client.post("/api/v1/auth/token", data={"username": "ed", "password": PASSWORD})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60"


# The lowest role each staff route lets through. Reads are for viewers, changes for editors, unless
# listed here. A new route falls under that default, so it cannot be forgotten: the walk below checks it.
LOWEST_ROLE = {
    ("post", "/api/v1/admin/hit-test"): "viewer",
    ("get", "/api/v1/admin/users"): "admin",
    ("post", "/api/v1/admin/users"): "admin",
    ("patch", "/api/v1/admin/users/{username}"): "admin",
    ("get", "/api/v1/admin/audit"): "admin",
}
EXAMPLE_PATH_VALUES = {"{doc_id}": "customs-9610.en", "{ticket_id}": "1", "{username}": "vi", "{sender_id}": "web:x"}


def test_every_admin_route_needs_a_token_and_the_right_role(client: TestClient) -> None:
    below = {"editor": login(client, "vi"), "admin": login(client, "ed")}
    schema = client.get("/openapi.json").json()
    checked = 0
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/admin"):
            continue
        concrete = path
        for name, value in EXAMPLE_PATH_VALUES.items():
            concrete = concrete.replace(name, value)
        for method in operations:
            needed = LOWEST_ROLE.get((method, path), "viewer" if method == "get" else "editor")
            anonymous = client.request(method, concrete, params={"version": 1}, json=NEW_DOC)
            assert anonymous.status_code == 401, (method, path)
            bad_token = client.request(method, concrete, headers={"Authorization": "Bearer x.y.z"}, json=NEW_DOC)
            assert bad_token.status_code == 401, (method, path)
            if needed in below:
                too_low = client.request(method, concrete, headers=below[needed], params={"version": 1}, json=NEW_DOC)
                assert too_low.status_code == 403, (method, path, too_low.text)
                assert too_low.json()["error"]["code"] == "forbidden"
            checked += 1
    assert checked >= 20


def test_a_new_document_is_searchable_at_once_and_retiring_it_hides_it(client: TestClient) -> None:
    editor = login(client, "ed")
    created = client.post("/api/v1/admin/documents", headers=editor, json=NEW_DOC)
    assert created.status_code == 201, created.text
    doc_id = created.json()["doc_id"]
    assert doc_id == "night-time-container-pickup-at-meishan-terminal.en"
    started = time.monotonic()
    hits = client.get("/api/v1/search", params={"q": "Meishan night container pickup", "k": 3}).json()["hits"]
    assert hits and hits[0]["doc_id"] == doc_id
    assert time.monotonic() - started < 2
    retired = client.delete(f"/api/v1/admin/documents/{doc_id}", headers=editor)
    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    hits = client.get("/api/v1/search", params={"q": "Meishan night container pickup", "k": 3}).json()["hits"]
    assert all(h["doc_id"] != doc_id for h in hits)
    # Retired, not destroyed: rollback to version 1 brings it back.
    restored = client.post(f"/api/v1/admin/documents/{doc_id}/rollback", headers=editor, params={"version": 1})
    assert restored.status_code == 200 and restored.json()["status"] == "published"
    hits = client.get("/api/v1/search", params={"q": "Meishan night container pickup", "k": 3}).json()["hits"]
    assert hits[0]["doc_id"] == doc_id


def test_edits_are_versioned_and_a_stale_save_is_refused(client: TestClient) -> None:
    editor = login(client, "ed")
    doc_id = client.post("/api/v1/admin/documents", headers=editor, json=NEW_DOC).json()["doc_id"]
    first = client.put(
        f"/api/v1/admin/documents/{doc_id}",
        headers=editor,
        json={**NEW_DOC, "body": NEW_DOC["body"].replace("22:00", "23:00"), "version": 1},
    )
    assert first.status_code == 200 and first.json()["version"] == 2
    stale = client.put(f"/api/v1/admin/documents/{doc_id}", headers=editor, json={**NEW_DOC, "version": 1})
    assert stale.status_code == 409 and "someone else" in stale.json()["error"]["message"]
    versions = client.get(f"/api/v1/admin/documents/{doc_id}/versions", headers=login(client, "vi")).json()
    assert [(v["version"], v["action"], v["author"]) for v in versions] == [(1, "create", "ed"), (2, "update", "ed")]
    assert "23:00" in client.get(f"/api/v1/admin/documents/{doc_id}", headers=editor).json()["document"]["body"]


def test_an_edit_without_its_version_is_refused_and_overwrites_nothing(client: TestClient) -> None:
    editor = login(client, "ed")
    doc_id = client.post("/api/v1/admin/documents", headers=editor, json=NEW_DOC).json()["doc_id"]
    blind = {**NEW_DOC, "body": NEW_DOC["body"].replace("22:00", "20:00")}
    refused = client.put(f"/api/v1/admin/documents/{doc_id}", headers=editor, json=blind)
    assert refused.status_code == 422 and "version" in refused.json()["error"]["message"]
    current = client.get(f"/api/v1/admin/documents/{doc_id}", headers=editor).json()
    assert current["version"] == 1 and "22:00" in current["document"]["body"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"title": "x"}, "invalid_request"),
        ({"lang": "fr"}, "invalid_request"),
        ({"source_url": "javascript:alert(1)"}, "invalid_request"),
        ({"source_url": "ftp://example.org/x"}, "invalid_request"),
        ({"valid_from": "2027-01-01", "valid_until": "2026-01-01"}, "invalid_document"),
        ({"body": ""}, "invalid_request"),
        ({"unknown": 1}, "invalid_request"),
    ],
)
def test_bad_documents_get_a_clear_422(client: TestClient, change: dict[str, Any], code: str) -> None:
    response = client.post("/api/v1/admin/documents", headers=login(client, "ed"), json={**NEW_DOC, **change})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


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


def test_the_corpus_documents_are_listed_for_viewers(client: TestClient) -> None:
    editor = login(client, "ed")
    client.post("/api/v1/admin/documents", headers=editor, json=NEW_DOC)
    listed = client.get("/api/v1/admin/documents", headers=login(client, "vi"), params={"topic": "port"}).json()
    assert [d["doc_id"] for d in listed] == ["night-time-container-pickup-at-meishan-terminal.en"]
    assert client.get("/api/v1/admin/documents/../../etc", headers=editor).status_code in (404, 422)


def test_a_crash_during_the_index_update_keeps_the_old_index_serving_and_loses_no_edit(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], model_cache: Path
) -> None:
    import knowledge.index_files as index_files
    import knowledge.search as search_module
    from knowledge.__main__ import main as knowledge_cli

    editor = login(client, "ed")
    doc_id = client.post("/api/v1/admin/documents", headers=editor, json=NEW_DOC).json()["doc_id"]
    settings = client.app.state.gateway.settings  # type: ignore[attr-defined]
    generation = index_files.current_generation(settings.index_dir)

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full (injected)")

    monkeypatch.setattr(search_module, "save_snapshot", crash)
    edited = {**NEW_DOC, "body": NEW_DOC["body"].replace("22:00 and 06:00", "21:00 and 05:00"), "version": 1}
    response = client.put(f"/api/v1/admin/documents/{doc_id}", headers=editor, json=edited)
    assert response.status_code == 503 and response.json()["error"]["code"] == "index_update_failed"
    assert "saved" in response.json()["error"]["message"]
    # The previous index keeps serving the old text, and nothing half-written became current.
    hits = client.get("/api/v1/search", params={"q": "Meishan night container pickup", "k": 1}).json()["hits"]
    assert hits[0]["doc_id"] == doc_id and "22:00" in hits[0]["text"]
    assert index_files.current_generation(settings.index_dir) == generation
    # The edit is in the store; the sync a restart runs brings the index into agreement with it.
    assert "21:00" in client.get(f"/api/v1/admin/documents/{doc_id}", headers=editor).json()["document"]["body"]
    monkeypatch.undo()
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("EMBEDDING_CACHE_DIR", str(model_cache))  # the session's export, as the stack shares one
    monkeypatch.setenv("CORPUS_DIR", str(settings.data_dir / "no-corpus"))  # this store holds only the test's edit
    (settings.data_dir / "no-corpus").mkdir()
    assert knowledge_cli(["sync"]) == 0
    assert "re-indexed 1 changed documents" in capsys.readouterr().out
    restarted = search_module.HybridRetriever.open(settings, embedder=client.app.state.gateway.retriever.embedder)  # type: ignore[attr-defined]
    [hit] = restarted.search("Meishan night container pickup", k=1).hits
    assert hit.passage.doc_id == doc_id and "21:00" in hit.passage.text
