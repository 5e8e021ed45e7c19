"""``/api/v1/admin/documents``: versioned edits that reach search at once, stale saves refused, diffs, and a crash during an index update."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.connectors.gateway.staff_client import NEW_DOC, client, login

__all__ = ["client"]  # pytest fixtures used by name


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


def test_versions_have_a_diff(client: TestClient) -> None:
    editor = login(client, "ed")
    doc_id = client.post("/api/v1/admin/documents", headers=editor, json=NEW_DOC).json()["doc_id"]
    client.put(
        f"/api/v1/admin/documents/{doc_id}",
        headers=editor,
        json={**NEW_DOC, "body": NEW_DOC["body"].replace("22:00", "23:00"), "version": 1},
    )
    diff = client.get(f"/api/v1/admin/documents/{doc_id}/diff", headers=editor, params={"from": 1, "to": 2}).json()
    removed = [line for line in diff["lines"] if line.startswith("-") and "22:00" in line]
    added = [line for line in diff["lines"] if line.startswith("+") and "23:00" in line]
    assert removed and added
    assert (
        client.get(f"/api/v1/admin/documents/{doc_id}/diff", headers=editor, params={"from": 1, "to": 9}).status_code
        == 404
    )
