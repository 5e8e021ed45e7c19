"""Exports of embedding models kept on disk: written once, checked when loaded, replaced when bad.

An export lives in ``DATA_DIR/onnx/<name>-<fingerprint>/``; the fingerprint changes with the model's
files and the exporting libraries' versions, so a changed model is exported again, never served stale.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TypeVar

log = logging.getLogger("knowledge.embedding")
T = TypeVar("T")


def open_export(cache_dir: Path | None, name: str, write: Callable[[Path], None], load: Callable[[Path], T]) -> T:
    """``load`` the export ``cache_dir/name``, written by ``write`` first when it is missing.

    An export is written in a scratch directory and renamed, so other processes see none or a whole
    one; one that fails to load (a truncated file, a failed parity check) is replaced, never served.
    Without a cache directory the export is made for this process only.
    """
    if cache_dir is None:
        with tempfile.TemporaryDirectory() as temporary:
            write(Path(temporary))
            return load(Path(temporary))
    target = cache_dir / name
    if target.exists():
        try:
            return load(target)
        except Exception as exc:
            log.warning("re-exporting the embedding model: %s is unreadable (%s)", target, exc)
            shutil.rmtree(target, ignore_errors=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=cache_dir))
    try:
        write(scratch)
        try:
            scratch.rename(target)
            log.info("exported the embedding model to %s", target)
        except OSError:  # another process finished its export first: use that one
            pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return load(target)


def fingerprint(model_dir: Path) -> str:
    """Changes when the model's files or the exporting libraries do (read without importing them)."""
    versions = "|".join(
        version(p) for p in ("torch", "sentence-transformers", "transformers", "onnxruntime", "tokenizers")
    )
    digest = hashlib.sha256(versions.encode())
    files = [model_dir] if model_dir.is_file() else sorted(p for p in model_dir.rglob("*") if p.is_file())
    for file in files:
        stat = file.stat()
        name = file.name if file == model_dir else file.relative_to(model_dir)
        digest.update(f"{name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"
