"""Settings for everything that reads the knowledge base (search CLI, action server, gateway).

Values come, highest first, from: environment variables, ``.env``, the product's ``config.yml`` at
the repository root, then the defaults below. Field names are the lower-case form of the variables
(``DATA_DIR`` sets ``data_dir``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = REPO_ROOT / "config.yml"


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

    data_dir: Path = Path("./var")
    corpus_dir: Path = REPO_ROOT / "knowledge" / "corpus"
    embedding_model: str = ""
    # Threads (ONNX Runtime intra-op, or torch) for encoding queries in the serving processes
    # (actions, gateway). One is enough for a 20-token query, and on a 2-core machine shared with
    # Rasa a second thread that spins while the other core is busy stalled single encodes by ~400 ms
    # (bench/search.py, measured with torch). 0 = the library's default.
    # Building the index (`make index`) always uses every core.
    embedding_threads: int = 1
    # onnx: the model exported once to DATA_DIR/onnx and run by ONNX Runtime (same vectors, about
    # half the encode time, no torch in the serving processes); torch: sentence-transformers
    # directly. Either way the index stays valid (knowledge/embedding.py).
    embedding_backend: Literal["onnx", "torch"] = "onnx"
    # Where the ONNX export is kept; empty means DATA_DIR/onnx. The benchmarks and end-to-end tests
    # point it at the one `make prepare` wrote, as they do MODELS_DIR for the Rasa model.
    embedding_cache_dir: Path | None = None

    # Ranking: reciprocal rank fusion of dense, BM25 and exact-identifier rankings.
    rrf_k: int = 20
    candidates: int = 100
    weight_dense: float = 1.0
    weight_bm25: float = 1.0
    weight_exact: float = 2.0
    # The dense model is English-only, so its vote counts less for Chinese queries.
    weight_dense_zh: float = 0.2
    # Passages in the other language rank below the query's language unless they are much better.
    other_language_factor: float = 0.5

    # "answered" is true when the best hit clears one of these, per query language (see README;
    # `make eval` prints the calibrated pair for each language).
    min_dense_similarity_en: float = 0.55
    min_lexical_coverage_en: float = 0.75
    min_dense_similarity_zh: float = 0.45
    min_lexical_coverage_zh: float = 0.6
    # ... or when it clears both of these (fairly close AND sharing a fair share of the key words).
    # 1.0 / 1.0 switches the joint test off.
    min_joint_dense_en: float = 1.0
    min_joint_coverage_en: float = 1.0
    min_joint_dense_zh: float = 1.0
    min_joint_coverage_zh: float = 1.0
    # A question and its answer in two languages score this much lower than in one (e5 on the
    # real-source dev half: median best similarity 0.909 same-language, 0.828 cross-language).
    cross_language_dense_offset: float = 0.08
    # ... and never when more than this share of the query's idf weight is in unknown words.
    max_unknown_share_en: float = 1.0
    max_unknown_share_zh: float = 1.0
    max_query_chars: int = 1000
    # Feedback, handoff tickets and preferences (knowledge.store); empty means SQLite in DATA_DIR.
    database_url: str = ""
    max_k: int = 50

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
