"""The console pages: a signed-in session, an HttpOnly strict cookie, CSRF on changes, scripts that never build HTML from strings."""

from __future__ import annotations

from fastapi.testclient import TestClient

from connectors.gateway.auth import SESSION_COOKIE
from tests.connectors.gateway.staff_client import NEW_DOC, PASSWORD, client

__all__ = ["client"]  # pytest fixtures used by name


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
