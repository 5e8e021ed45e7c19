"""Settings for everything that reads the knowledge base (search CLI, action server, gateway).

Values come, highest first, from: environment variables, ``.env``, then the product's ``config.yml``
at the repository root, which holds every default (the classes here only declare types and limits:
one place for a default, so the two cannot disagree). Field names are the lower-case form of the
variables (``DATA_DIR`` sets ``data_dir``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = REPO_ROOT / "config.yml"


@cache
def _config() -> dict[str, Any]:
    return yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8")) or {}


def configured(name: str) -> Callable[[], Any]:
    """The default of setting ``name``: its value in config.yml, the one place defaults live."""

    def default() -> Any:
        if name not in _config():
            raise ValueError(f"{CONFIG_FILE.name} has no {name!r}: every setting needs its default there")
        return _config()[name]

    return default


class Thresholds(NamedTuple):
    """The ``answered`` bar: the best hit is close enough, or covers enough of the query's key
    words, or is fairly close and covers a fair share of them; and the query is not mostly made of
    words the knowledge base never uses ("weather", "Lingang", "拖车费")."""

    dense: float
    coverage: float
    joint_dense: float = 1.0
    joint_coverage: float = 1.0
    max_unknown: float = 1.0

    def reason(self, dense: float, coverage: float, unknown: float = 0.0) -> str | None:
        """Why a hit with this similarity and coverage is an answer, or None when it is not.

        ``unknown``: the share of the query's idf weight in words no passage contains.
        """
        if unknown > self.max_unknown:
            return None
        if dense >= self.dense:
            return "the best passage is semantically close to the query"
        if coverage >= self.coverage:
            return "the best passage contains most of the query's key words"
        if dense >= self.joint_dense and coverage >= self.joint_coverage:
            return "the best passage is fairly close to the query and shares its key words"
        return None


class KnowledgeSettings(BaseSettings):
    """Where the knowledge lives and how search ranks and decides."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", yaml_file=CONFIG_FILE)

    data_dir: Path = Field(default_factory=configured("data_dir"))
    corpus_dir: Path = Field(default_factory=configured("corpus_dir"))
    embedding_model: str = Field(default_factory=configured("embedding_model"))
    # Threads (ONNX Runtime intra-op, or torch) for encoding queries in the serving processes
    # (actions, gateway). One is enough for a 20-token query, and on a 2-core machine shared with
    # Rasa a second thread that spins while the other core is busy stalled single encodes by ~400 ms
    # (bench/search.py, measured with torch). 0 = the library's default.
    # Building the index (`make index`) always uses every core.
    embedding_threads: int = Field(default_factory=configured("embedding_threads"))
    # onnx: the model exported once to DATA_DIR/onnx and run by ONNX Runtime (same vectors, about
    # half the encode time, no torch in the serving processes); torch: sentence-transformers
    # directly. Either way the index stays valid (knowledge/embedding.py).
    embedding_backend: Literal["onnx", "torch"] = Field(default_factory=configured("embedding_backend"))
    # Where the ONNX export is kept; empty means DATA_DIR/onnx. The benchmarks and end-to-end tests
    # point it at the one `make prepare` wrote, as they do MODELS_DIR for the Rasa model.
    embedding_cache_dir: Path | None = Field(default_factory=configured("embedding_cache_dir"))

    # Ranking: reciprocal rank fusion of dense, BM25 and exact-identifier rankings.
    rrf_k: int = Field(default_factory=configured("rrf_k"))
    candidates: int = Field(default_factory=configured("candidates"))
    weight_dense: float = Field(default_factory=configured("weight_dense"))
    weight_bm25: float = Field(default_factory=configured("weight_bm25"))
    weight_exact: float = Field(default_factory=configured("weight_exact"))
    # The dense model's vote for Chinese queries (the same as English since e5 reads Chinese).
    weight_dense_zh: float = Field(default_factory=configured("weight_dense_zh"))
    # Passages in the other language rank below the query's language unless they are much better.
    other_language_factor: float = Field(default_factory=configured("other_language_factor"))

    # "answered" is true when the best hit clears one of these, per query language (see README;
    # `make eval` prints the calibrated pair for each language).
    min_dense_similarity_en: float = Field(default_factory=configured("min_dense_similarity_en"))
    min_lexical_coverage_en: float = Field(default_factory=configured("min_lexical_coverage_en"))
    min_dense_similarity_zh: float = Field(default_factory=configured("min_dense_similarity_zh"))
    min_lexical_coverage_zh: float = Field(default_factory=configured("min_lexical_coverage_zh"))
    # ... or when it clears both of these (fairly close AND sharing a fair share of the key words).
    # 1.0 / 1.0 switches the joint test off.
    min_joint_dense_en: float = Field(default_factory=configured("min_joint_dense_en"))
    min_joint_coverage_en: float = Field(default_factory=configured("min_joint_coverage_en"))
    min_joint_dense_zh: float = Field(default_factory=configured("min_joint_dense_zh"))
    min_joint_coverage_zh: float = Field(default_factory=configured("min_joint_coverage_zh"))
    # A question and its answer in two languages score this much lower than in one (e5 on the
    # real-source dev half: median best similarity 0.909 same-language, 0.828 cross-language).
    cross_language_dense_offset: float = Field(default_factory=configured("cross_language_dense_offset"))
    # ... and never when more than this share of the query's idf weight is in unknown words.
    max_unknown_share_en: float = Field(default_factory=configured("max_unknown_share_en"))
    max_unknown_share_zh: float = Field(default_factory=configured("max_unknown_share_zh"))
    max_query_chars: int = Field(default_factory=configured("max_query_chars"))
    # The knowledge store and the records (knowledge.database); empty means SQLite in DATA_DIR.
    database_url: str = Field(default_factory=configured("database_url"))
    max_k: int = Field(default_factory=configured("max_k"))

    @field_validator("data_dir", "corpus_dir", "embedding_cache_dir")
    @classmethod
    def _from_repo_root(cls, path: Path | None) -> Path | None:
        """Relative paths are relative to the repository, wherever a command runs from."""
        return path if path is None or path.is_absolute() else REPO_ROOT / path

    def answer_thresholds(self, lang: str) -> Thresholds:
        """When the best hit for a query in ``lang`` counts as an answer."""
        if lang == "zh":
            return Thresholds(
                self.min_dense_similarity_zh,
                self.min_lexical_coverage_zh,
                self.min_joint_dense_zh,
                self.min_joint_coverage_zh,
                self.max_unknown_share_zh,
            )
        return Thresholds(
            self.min_dense_similarity_en,
            self.min_lexical_coverage_en,
            self.min_joint_dense_en,
            self.min_joint_coverage_en,
            self.max_unknown_share_en,
        )

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def onnx_dir(self) -> Path:
        return self.embedding_cache_dir or self.data_dir / "onnx"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            YamlConfigSettingsSource(settings_cls),
            file_secret_settings,
        )
