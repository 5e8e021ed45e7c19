"""The widget: its script served with caching headers and never building HTML from strings, the demo page, staff replies fetched once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.connectors.gateway.chat_client import client, settings

__all__ = ["client", "settings"]  # pytest fixtures used by name


def test_widget_js_is_served_with_caching_headers(client: TestClient) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert "max-age" in response.headers["cache-control"] and response.headers.get("etag")
    assert "attachShadow" in response.text
    again = client.get("/widget.js", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304


def test_widget_js_never_builds_html_from_strings(client: TestClient) -> None:
    source = client.get("/widget.js").text
    for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert risky not in source


def test_the_demo_page_embeds_the_widget_with_one_tag(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/widget.js"' in page.text


def test_staff_replies_reach_the_widget_once(client: TestClient) -> None:
    store = client.app.state.gateway.records  # type: ignore[attr-defined]
    session = "widget-session-0000000001"
    ticket = store.open_ticket(sender_id=f"web:{session}", channel="web", lang="en", question="q", transcript=[])
    store.add_staff_message(ticket_id=ticket.id, text="Hello, this is Li from the trade office.")
    first = client.get("/api/v1/chat/updates", params={"session_id": session})
    assert first.status_code == 200
    assert [m["text"] for m in first.json()["messages"]] == ["Hello, this is Li from the trade office."]
    assert client.get("/api/v1/chat/updates", params={"session_id": session}).json()["messages"] == []


def test_updates_need_a_well_formed_session_id(client: TestClient) -> None:
    response = client.get("/api/v1/chat/updates", params={"session_id": "../../etc"})
    assert response.status_code == 422 and response.json()["error"]["code"]
