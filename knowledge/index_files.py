"""The search index on disk: generations written atomically, hard-linked base segments, checksums.

See ``knowledge.index`` for the layout of a generation directory and why a save writes only the delta."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.errors import REBUILD_HINT, IndexCorruptError, IndexMissingError
from knowledge.index import Snapshot
from knowledge.language import TOKENIZER_VERSION
from knowledge.passages import Passage
from knowledge.segments import BaseSegment, DeltaSegment, Segment, empty_delta

FORMAT_VERSION = 2


_READABLE_FORMATS = (1, 2)  # format 1 is a base segment without a delta


_KEEP_GENERATIONS = 2


_BASE_FILES = ("vectors.npy", "passages.jsonl")


_DELTA_FILES = ("delta-vectors.npy", "delta-passages.jsonl", "dead.json")


_DATE_FIELDS = ("source_date", "last_reviewed", "valid_from", "valid_until")


_PASSAGE_FIELDS = tuple(Passage.__dataclass_fields__)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _passage_to_json(passage: Passage, tokens: Sequence[str]) -> str:
    record: dict[str, Any] = {name: getattr(passage, name) for name in _PASSAGE_FIELDS}
    for key in _DATE_FIELDS:
        if record[key] is not None:
            record[key] = record[key].isoformat()
    record["zones"], record["tags"] = list(passage.zones), list(passage.tags)
    record["tokens"] = list(tokens)
    return json.dumps(record, ensure_ascii=False)


def _passage_from_json(line: str) -> tuple[Passage, list[str]]:
    record = json.loads(line)
    tokens = record.pop("tokens")
    for key in _DATE_FIELDS:
        if record.get(key):
            record[key] = dt.date.fromisoformat(record[key])
    record["zones"] = tuple(record["zones"])
    record["tags"] = tuple(record["tags"])
    return Passage(**record), tokens


def _write_rows(directory: Path, vectors_name: str, passages_name: str, segment: Segment) -> None:
    np.save(directory / vectors_name, segment.vectors, allow_pickle=False)
    with (directory / passages_name).open("w", encoding="utf-8") as handle:
        for passage, tokens in zip(segment.passages, segment.tokens, strict=True):
            handle.write(_passage_to_json(passage, tokens) + "\n")


def _read_rows(
    directory: Path, vectors_name: str, passages_name: str
) -> tuple[list[Passage], list[list[str]], np.ndarray]:
    vectors = np.load(directory / vectors_name, allow_pickle=False)
    rows = [
        _passage_from_json(line)
        for line in (directory / passages_name).read_text(encoding="utf-8").splitlines()
        if line
    ]
    return [p for p, _ in rows], [t for _, t in rows], vectors


def current_generation(index_dir: Path) -> Path | None:
    """The live generation directory, or None when no index has been saved."""
    pointer = index_dir / "CURRENT"
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return index_dir / name


def _reusable_base(index_dir: Path, base: BaseSegment) -> tuple[Path, dict[str, str]] | None:
    """The current generation's directory and base checksums, when it holds ``base``."""
    generation = current_generation(index_dir)
    if generation is None or not base.base_id:
        return None
    try:
        manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("base_id") != base.base_id:
        return None
    files = manifest.get("files", {})
    if not all(name in files and (generation / name).exists() for name in _BASE_FILES):
        return None
    return generation, {name: files[name] for name in _BASE_FILES}


def save_snapshot(snapshot: Snapshot, index_dir: Path) -> Path:
    """Write ``snapshot`` as a new generation and make it current. Returns its directory.

    When the current generation already holds the snapshot's base segment, its files are
    hard-linked (same bytes, same checksums) and only the delta is written.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gen-", dir=index_dir))
    try:
        checksums: dict[str, str] = {}
        written: list[str] = list(_DELTA_FILES)
        reusable = _reusable_base(index_dir, snapshot.base)
        if reusable is not None:
            previous, checksums = reusable
            for name in _BASE_FILES:
                try:
                    os.link(previous / name, staging / name)
                except OSError:  # a filesystem without hard links: copy
                    shutil.copy2(previous / name, staging / name)
        else:
            _write_rows(staging, *_BASE_FILES, snapshot.base)
            written += _BASE_FILES
        _write_rows(staging, "delta-vectors.npy", "delta-passages.jsonl", snapshot.delta)
        (staging / "dead.json").write_text(json.dumps(sorted(snapshot.dead)), encoding="utf-8")
        checksums.update({name: _sha256(staging / name) for name in written if name not in checksums})
        manifest = {
            "format": FORMAT_VERSION,
            "model": snapshot.model,
            "tokenizer": TOKENIZER_VERSION,
            "dimension": snapshot.dimension,
            "passage_count": len(snapshot),
            "document_count": len(snapshot.doc_ids),
            "base_id": snapshot.base.base_id,
            "base_rows": len(snapshot.base),
            "delta_rows": len(snapshot.delta),
            "dead_rows": len(snapshot.dead),
            "corpus_hash": snapshot.corpus_hash(),
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "files": checksums,
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        for name in [*written, "manifest.json"]:
            with (staging / name).open("rb") as handle:
                os.fsync(handle.fileno())
        previous_generation = current_generation(index_dir)
        number = int(previous_generation.name.split("-")[1]) + 1 if previous_generation is not None else 1
        final = index_dir / f"gen-{number:06d}"
        while final.exists():
            number += 1
            final = index_dir / f"gen-{number:06d}"
        staging.rename(final)
        pointer_tmp = index_dir / f".CURRENT.{os.getpid()}"
        pointer_tmp.write_text(final.name, encoding="utf-8")
        os.replace(pointer_tmp, index_dir / "CURRENT")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune(index_dir, keep=final)
    return final


def _prune(index_dir: Path, keep: Path) -> None:
    generations = sorted(p for p in index_dir.glob("gen-*") if p.is_dir())
    for old in generations[:-_KEEP_GENERATIONS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def read_manifest(index_dir: Path) -> dict[str, Any]:
    generation = current_generation(index_dir)
    if generation is None:
        raise IndexMissingError(f"no search index under {index_dir}: {REBUILD_HINT}")
    try:
        manifest: dict[str, Any] = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"index manifest in {generation} is unreadable ({exc}): {REBUILD_HINT}") from exc
    return manifest


def load_snapshot(index_dir: Path, *, reuse: BaseSegment | None = None) -> Snapshot:
    """Load the current generation, verifying it against its manifest.

    ``reuse`` is a base segment this process already holds: when the generation is built on it,
    only the delta files are read (an edit becomes visible in milliseconds, not seconds).
    """
    manifest = read_manifest(index_dir)
    generation = current_generation(index_dir)
    assert generation is not None
    try:
        if manifest.get("format") not in _READABLE_FORMATS:
            raise IndexCorruptError(f"index format {manifest.get('format')} is not {FORMAT_VERSION}")
        dimension = int(manifest["dimension"])
        base_id = manifest.get("base_id") or manifest["files"]["vectors.npy"]
        keep_base = reuse is not None and reuse.base_id == base_id
        for name, checksum in manifest["files"].items():
            if keep_base and name in _BASE_FILES:
                continue
            if _sha256(generation / name) != checksum:
                raise IndexCorruptError(f"{generation / name} does not match its checksum")
        if keep_base:
            assert reuse is not None
            base = reuse
        else:
            passages, tokens, vectors = _read_rows(generation, *_BASE_FILES)
            if vectors.shape != (len(passages), dimension):
                raise IndexCorruptError("the base passage count or vector shape disagrees with the manifest")
            base = BaseSegment.build(passages, tokens, vectors, dimension=dimension, base_id=base_id)
        delta = empty_delta(dimension)
        dead: frozenset[int] = frozenset()
        if "delta-vectors.npy" in manifest["files"]:
            passages, tokens, vectors = _read_rows(generation, "delta-vectors.npy", "delta-passages.jsonl")
            if vectors.shape != (len(passages), dimension):
                raise IndexCorruptError("the delta passage count or vector shape disagrees with the manifest")
            delta = DeltaSegment.build(passages, tokens, vectors, dimension=dimension)
            dead = frozenset(int(row) for row in json.loads((generation / "dead.json").read_text(encoding="utf-8")))
        snapshot = Snapshot(base, delta, dead, manifest["model"], dimension)
        if len(snapshot) != manifest["passage_count"] or any(not 0 <= row < len(base) for row in dead):
            raise IndexCorruptError("passage count or dead rows disagree with the manifest")
    except IndexCorruptError as exc:
        raise IndexCorruptError(f"{exc}: {REBUILD_HINT}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"index in {generation} is unreadable ({exc}): {REBUILD_HINT}") from exc
    return snapshot
