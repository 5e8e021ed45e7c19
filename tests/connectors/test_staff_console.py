"""The staff routes behind the console (dashboard, hit testing, uploads, questions queue, tickets,
conversations, accounts, audit) and the console's cookie sign-in with CSRF protection."""

from __future__ import annotations

import io
import json
import sqlite3
import time
import zipfile
from pathlib import Path

import docx
from fastapi.testclient import TestClient

from connectors.gateway.auth import SESSION_COOKIE
from records.store import Records
from tests.connectors.test_admin import NEW_DOC, PASSWORD, client, login

__all__ = ["client"]  # the fixture, shared with test_admin


def store_of(client: TestClient) -> Records:
    store: Records = client.app.state.gateway.records  # type: ignore[attr-defined]
    return store


def test_the_dashboard_counts_questions_answers_feedback_and_open_tickets(client: TestClient) -> None:
    store = store_of(client)
    for i, answered in enumerate([True, True, False]):
        store.log_question(
            sender_id=f"web:{i}", lang="en", question=f"q{i}", answered=answered, doc_ids=[], top_score=None
        )
    store.record_feedback(sender_id="web:0", lang="en", rating="good", question="q0", doc_ids=["a.en"])
    store.record_feedback(sender_id="web:1", lang="en", rating="bad", question="q1", doc_ids=["a.en"])
    store.open_ticket(sender_id="web:2", channel="web", lang="en", question="q2", transcript=[])
    stats = client.get("/api/v1/admin/stats", headers=login(client, "vi")).json()
    assert stats == {
        "questions_today": 3,
        "questions_week": 3,
        "answered_share_week": 2 / 3,
        "thumbs_up_week": 1,
        "thumbs_down_week": 1,
        "open_tickets": 1,
    }
    disliked = client.get("/api/v1/admin/feedback", headers=login(client, "vi"), params={"rating": "bad"}).json()
    assert [(f["question"], f["doc_ids"]) for f in disliked] == [("q1", ["a.en"])]


def test_hit_testing_shows_ranked_passages_with_their_evidence_and_the_bots_answer(client: TestClient) -> None:
    response = client.post(
        "/api/v1/admin/hit-test", headers=login(client, "vi"), json={"question": "which customs code is 9610"}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["lang"] == "en" and result["hits"]
    top = result["hits"][0]
    assert top["rank"] == 1 and "9610" in top["text"]
    assert top["exact_match"] and "exact" in top["found_by"] and top["ranks"]["exact"] >= 1
    # The bot's answer leads with the sentence that answers, from one of the ranked documents.
    cited = result["answer"]["citations"][0]
    assert result["answered"] and cited["doc_id"] in [h["doc_id"] for h in result["hits"]]
    assert cited["title"] in result["answer"]["text"] and "9610" in result["answer"]["text"]
    refused = client.post("/api/v1/admin/hit-test", headers=login(client, "vi"), json={"question": "   "})
    assert refused.status_code == 422 and refused.json()["error"]["message"]


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


def test_the_questions_queue_groups_similar_gaps_biggest_first(client: TestClient) -> None:
    store = store_of(client)
    for text in [
        "how do I get a halal certificate for food exports",
        "halal certificate for exporting food?",
        "where to apply for a halal certification for food",
        "can I bring my dog on the Yiwu train",
    ]:
        store.log_question(sender_id="web:a", lang="en", question=text, answered=False, doc_ids=[], top_score=None)
    store.log_question(sender_id="web:a", lang="en", question="what is 9610", answered=True, doc_ids=[], top_score=1)
    row = store.record_feedback(
        sender_id="web:b", lang="en", rating="bad", question="RCEP origin rules", doc_ids=["rcep.en"]
    )
    store.add_feedback_comment(row.id, "the answer was out of date")
    groups = client.get("/api/v1/admin/questions", headers=login(client, "vi")).json()
    assert groups[0]["count"] == 3 and "halal" in groups[0]["question"]
    texts = [q["text"] for g in groups for q in g["questions"]]
    assert "what is 9610" not in texts  # answered questions are not gaps
    disliked = next(g for g in groups if g["question"] == "RCEP origin rules")
    assert disliked["doc_ids"] == ["rcep.en"] and disliked["questions"][0]["comment"] == "the answer was out of date"
    assert len(groups) == 3


def test_tickets_are_claimed_answered_and_closed_and_the_widget_gets_the_reply(client: TestClient) -> None:
    store = store_of(client)
    ticket = store.open_ticket(
        sender_id="web:abcdefghijklmnopqrstuvwx", channel="web", lang="en", question="call me", transcript=[]
    )
    editor = login(client, "ed")
    listed = client.get("/api/v1/admin/tickets", headers=login(client, "vi"), params={"status": "open"}).json()
    assert [t["id"] for t in listed] == [ticket.id]
    reply = client.post(
        f"/api/v1/admin/tickets/{ticket.id}/reply", headers=editor, json={"text": "We will call at 3 pm."}
    )
    assert reply.status_code == 200 and reply.json()["outcome"] == "queued"
    updates = client.get("/api/v1/chat/updates", params={"session_id": "abcdefghijklmnopqrstuvwx"}).json()
    assert [m["text"] for m in updates["messages"]] == ["We will call at 3 pm."]
    closed = client.post(f"/api/v1/admin/tickets/{ticket.id}/status", headers=editor, json={"status": "closed"})
    assert closed.json()["status"] == "closed"
    assert client.post("/api/v1/admin/tickets/999/status", headers=editor, json={"status": "closed"}).status_code == 404
    bad = client.post(f"/api/v1/admin/tickets/{ticket.id}/status", headers=editor, json={"status": "done"})
    assert bad.status_code == 422


def _rasa_tracker(path: Path) -> None:
    """A tracker database with the columns of Rasa 3.6's SQL tracker store (``events`` table)."""
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), type_name VARCHAR(255), "
            "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"
        )
        now = time.time()
        rows = [
            ("web:one", "user", now - 5, json.dumps({"event": "user", "text": "how do I ship by train"})),
            ("web:one", "bot", now - 4, json.dumps({"event": "bot", "text": "**Yiwu–Europe** railway …"})),
            ("tg:42", "user", now - 3, json.dumps({"event": "user", "text": "hello"})),
        ]
        connection.executemany("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)", rows)


def test_conversations_are_listed_searchable_and_readable(client: TestClient) -> None:
    settings = client.app.state.gateway.settings  # type: ignore[attr-defined]
    viewer = login(client, "vi")
    assert client.get("/api/v1/admin/conversations", headers=viewer).json() == []  # Rasa has stored nothing yet
    _rasa_tracker(Path(settings.tracker_url.removeprefix("sqlite:///")))
    everything = client.get("/api/v1/admin/conversations", headers=viewer).json()
    assert [c["sender_id"] for c in everything] == ["tg:42", "web:one"]
    found = client.get("/api/v1/admin/conversations", headers=viewer, params={"q": "train"}).json()
    assert [c["sender_id"] for c in found] == ["web:one"] and found[0]["preview"] == "how do I ship by train"
    turns = client.get("/api/v1/admin/conversations/web:one", headers=viewer).json()
    assert [(t["who"], t["text"][:6]) for t in turns] == [("user", "how do"), ("bot", "**Yiwu")]
    assert client.get("/api/v1/admin/conversations/web:none", headers=viewer).status_code == 404


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


def test_admins_manage_accounts_but_never_remove_the_last_admin(client: TestClient) -> None:
    admin = login(client, "root")
    created = client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={"username": "li.wei", "password": "a long password!", "role": "viewer"},
    )
    assert created.status_code == 201 and created.json()["role"] == "viewer"
    assert (
        client.post(
            "/api/v1/admin/users",
            headers=admin,
            json={"username": "li.wei", "password": "a long password!", "role": "viewer"},
        ).status_code
        == 409
    )
    promoted = client.patch("/api/v1/admin/users/li.wei", headers=admin, json={"role": "editor"})
    assert promoted.json()["role"] == "editor"
    login(client, "li.wei", "a long password!")
    client.patch("/api/v1/admin/users/li.wei", headers=admin, json={"active": False})
    assert (
        client.post("/api/v1/auth/token", data={"username": "li.wei", "password": "a long password!"}).status_code
        == 401
    )
    last = client.patch("/api/v1/admin/users/root", headers=admin, json={"role": "viewer"})
    assert last.status_code == 409 and "last active admin" in last.json()["error"]["message"]
    short = client.post(
        "/api/v1/admin/users", headers=admin, json={"username": "x1y", "password": "short", "role": "viewer"}
    )
    assert short.status_code == 422


def test_the_audit_log_records_who_did_what(client: TestClient) -> None:
    editor = login(client, "ed")
    doc_id = client.post("/api/v1/admin/documents", headers=editor, json=NEW_DOC).json()["doc_id"]
    client.delete(f"/api/v1/admin/documents/{doc_id}", headers=editor)
    client.post("/api/v1/auth/token", data={"username": "ed", "password": "wrong password"})
    events = client.get("/api/v1/admin/audit", headers=login(client, "root")).json()
    seen = [(e["actor"], e["action"], e["target"]) for e in events]
    assert ("ed", "document_create", doc_id) in seen and ("ed", "document_retire", doc_id) in seen
    assert ("ed", "login", "testclient") in seen and ("ed", "login_failed", "testclient") in seen


# --- the console's pages ------------------------------------------------------------------------


def test_console_pages_need_a_signed_in_session(client: TestClient) -> None:
    for path in ("/admin", "/admin/documents", "/admin/users"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/admin/login"
    page = client.get("/admin/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "登录" in client.get("/admin/login", params={"lang": "zh"}).text


def test_signing_in_sets_an_httponly_strict_cookie_and_changes_need_the_csrf_token(client: TestClient) -> None:
    wrong = client.post("/admin/login", data={"username": "ed", "password": "nope"}, follow_redirects=False)
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    signed_in = client.post("/admin/login", data={"username": "ed", "password": PASSWORD}, follow_redirects=False)
    assert signed_in.status_code == 303
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith(SESSION_COOKIE) and "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/admin/documents")
    assert page.status_code == 200 and 'data-view="documents"' in page.text
    csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    # Reads work with the cookie alone; a change without the page's CSRF token is refused.
    assert client.get("/api/v1/admin/documents").status_code == 200
    forged = client.post("/api/v1/admin/documents", json=NEW_DOC)
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
    wrong_token = client.post("/api/v1/admin/documents", json=NEW_DOC, headers={"X-CSRF-Token": "0" * 64})
    assert wrong_token.status_code == 403
    made = client.post("/api/v1/admin/documents", json=NEW_DOC, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    # An editor sees no admin pages.
    assert client.get("/admin/users").status_code == 403
    out = client.post("/admin/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_console_scripts_are_served_and_never_build_html_from_strings(client: TestClient) -> None:
    for name in ("admin.js", "safe-dom.js"):
        source = client.get(f"/admin/static/{name}")
        assert source.status_code == 200 and source.headers["content-type"].startswith("application/javascript")
        assert "innerHTML" not in source.text and "insertAdjacentHTML" not in source.text and "eval(" not in source.text
    assert client.get("/admin/static/../main.py").status_code == 404
    # The widget carries the same safe DOM helpers, inlined when it is served.
    assert "function markdown(text)" in client.get("/widget.js").text
