"""Uploads: a .md, .txt, .html, .pdf or .docx parsed into a document form for an editor to review."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, UploadFile

from connectors.gateway.deps import Editor, StateDep, get_records
from connectors.gateway.errors import ApiError
from connectors.gateway.limits import bounded_body
from knowledge.uploads import MAX_UPLOAD_BYTES, ParsedUpload, UploadError, parse_upload

# An upload of MAX_UPLOAD_BYTES with its multipart envelope fits; a bigger one is refused as it arrives,
# before it is spooled to disk.
router = APIRouter(
    prefix="/api/v1/admin",
    tags=["uploads"],
    route_class=bounded_body(
        MAX_UPLOAD_BYTES + 64 * 1024, f"an upload is at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
    ),
)


@router.post("/uploads", response_model=ParsedUpload)
async def upload(file: UploadFile, state: StateDep, user: Editor) -> ParsedUpload:
    """Parse an uploaded file to Markdown for review; nothing is published until the editor saves it."""
    content = await file.read(MAX_UPLOAD_BYTES + 1)
    try:
        parsed = await asyncio.to_thread(parse_upload, file.filename or "", content)
    except UploadError as exc:
        status = 413 if exc.code == "too_large" else 415 if exc.code == "unsupported_type" else 422
        raise ApiError(status, exc.code, exc.message) from exc
    await asyncio.to_thread(get_records(state).audit, user.username, "upload", parsed.filename, kind=parsed.kind)
    return parsed
