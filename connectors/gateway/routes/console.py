"""The staff console's pages (``/admin``): Jinja2 shells filled by a small vanilla-JS client.

Signing in sets the same signed token the API hands out, in an HttpOnly, SameSite=Strict cookie
(``Secure`` when the gateway's public URL is https). Each page carries the session's CSRF token in a
``<meta>`` tag; ``admin.js`` sends it as ``X-CSRF-Token`` with every change, and the API refuses a
cookie-authenticated change without it (``auth.current_user``). The pages call the JSON API under
``/api/v1/admin`` and build everything with DOM text nodes (``safe-dom.js``), never from HTML strings;
a strict Content-Security-Policy (scripts from this origin only, no inline script) backs that up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Form, Header, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from connectors.gateway.auth import RANK, SESSION_COOKIE, csrf_token, decode_session, issue_token
from connectors.gateway.deps import StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.limits import bounded_body
from connectors.gateway.routes.auth import authenticate
from connectors.gateway.routes.widget import static_file
from connectors.gateway.state import GatewayState
from records.models import StaffUser

router = APIRouter(
    prefix="/admin",
    include_in_schema=False,
    route_class=bounded_body(16 * 1024, "the console posts only its sign-in form"),
)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")

# Which pages exist, in the navigation's order, and the lowest role that sees each.
VIEWS = {
    "dashboard": "viewer",
    "documents": "viewer",
    "edit": "viewer",
    "hit-test": "viewer",
    "questions": "viewer",
    "conversations": "viewer",
    "tickets": "viewer",
    "users": "admin",
    "audit": "admin",
}
_STATIC = {"admin.js": "application/javascript; charset=utf-8", "safe-dom.js": "application/javascript; charset=utf-8"}
_STATIC |= {"admin.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "console": "Knowledge console",
        "sign_in": "Sign in",
        "username": "Username",
        "password": "Password",
        "sign_out": "Sign out",
        "signed_in_as": "Signed in as",
        "dashboard": "Dashboard",
        "documents": "Documents",
        "edit": "Edit",
        "hit-test": "Hit testing",
        "questions": "Questions queue",
        "conversations": "Conversations",
        "tickets": "Handoff tickets",
        "users": "Users",
        "audit": "Audit log",
        "other_language": "中文",
    },
    "zh": {
        "console": "知识库管理台",
        "sign_in": "登录",
        "username": "用户名",
        "password": "密码",
        "sign_out": "退出",
        "signed_in_as": "当前用户",
        "dashboard": "概览",
        "documents": "文档",
        "edit": "编辑",
        "hit-test": "检索测试",
        "questions": "待解答问题",
        "conversations": "对话记录",
        "tickets": "人工工单",
        "users": "用户",
        "audit": "审计日志",
        "other_language": "English",
    },
}


def ui_language(request: Request) -> str:
    """?lang= wins, then the cookie the language switch sets, then the browser's Accept-Language."""
    chosen = request.query_params.get("lang") or request.cookies.get("zta_console_lang") or ""
    if chosen in TEXT:
        return chosen
    return "zh" if request.headers.get("accept-language", "").lower().startswith("zh") else "en"


def _secure(state: GatewayState) -> bool:
    return state.settings.public_url.startswith("https://")


def session_user(request: Request, state: GatewayState) -> tuple[StaffUser, str] | None:
    """The signed-in account and its token, from the session cookie (None when absent or invalid)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or state.records is None:
        return None
    try:
        claims = decode_session(token, state.jwt_secret)
    except jwt.PyJWTError:
        return None
    user = state.records.user(str(claims["sub"]))
    return (user, token) if user is not None and user.active else None


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    lang = ui_language(request)
    response = templates.TemplateResponse(
        request, name, {"lang": lang, "t": TEXT[lang], **context}, status_code=status, headers=SECURITY_HEADERS
    )
    if request.query_params.get("lang") in TEXT:
        response.set_cookie("zta_console_lang", lang, max_age=365 * 86400, samesite="strict", path="/admin")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    return _page(request, "login.html", {"error": ""})


@router.post("/login", response_model=None)
async def login(
    request: Request,
    state: StateDep,
    username: Annotated[str, Form(max_length=80)],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    try:
        user = await authenticate(request, state, username, password)
    except ApiError as exc:
        return _page(request, "login.html", {"error": exc.message, "username": username}, status=exc.status)
    minutes = state.settings.access_token_minutes
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issue_token(user, state.jwt_secret, minutes),
        max_age=minutes * 60,
        httponly=True,
        samesite="strict",
        secure=_secure(state),
        path="/",
    )
    return response


@router.post("/logout", response_model=None)
async def logout(request: Request, state: StateDep, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    signed_in = session_user(request, state)
    if signed_in is not None and csrf != csrf_token(signed_in[1], state.jwt_secret):
        raise ApiError(403, "csrf_failed", "The form is out of date: reload the page and try again.")
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/static/{name}", response_model=None)
async def console_static(name: str, if_none_match: Annotated[str | None, Header()] = None) -> Response:
    if name not in _STATIC:
        raise ApiError(404, "not_found", "No such file.")
    return static_file(name, if_none_match, _STATIC[name])


@router.get("", response_model=None)
@router.get("/{view}", response_model=None)
async def console_page(request: Request, state: StateDep, view: str = "dashboard") -> Response:
    if view not in VIEWS:
        raise ApiError(404, "not_found", f"No console page {view}.")
    signed_in = await _signed_in(request, state)
    if signed_in is None:
        return RedirectResponse("/admin/login", status_code=303)
    user, token = signed_in
    allowed = [v for v, role in VIEWS.items() if RANK[user.role] >= RANK[role]]
    if view not in allowed:
        return _page(request, "console.html", _context(user, token, state, allowed, "forbidden"), status=403)
    return _page(request, "console.html", _context(user, token, state, allowed, view))


async def _signed_in(request: Request, state: GatewayState) -> tuple[StaffUser, str] | None:
    return await asyncio.to_thread(session_user, request, state)


def _context(user: StaffUser, token: str, state: GatewayState, allowed: list[str], view: str) -> dict[str, Any]:
    return {
        "user": user,
        "view": view,
        "nav": [v for v in allowed if v != "edit"],
        "csrf": csrf_token(token, state.jwt_secret),
        # The roles this user's role includes, for the page's script (auth.RANK is the one ranking).
        "held_roles": " ".join(r for r in RANK if RANK[r] <= RANK[user.role]),
    }
