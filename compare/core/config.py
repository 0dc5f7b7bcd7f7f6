"""Settings in one place: dataclass defaults, overridden by a TOML file, then environment, then flags.

No other module reads the environment. Each stage receives only its own small frozen config.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


@dataclass(frozen=True)
class MinHashConfig:
    """Near-duplicate detection. LSH at 0.8 finds only 67% of pairs near 0.85 (shared/STACK-NOTES.md),
    so candidates are taken low (0.3, to catch partial reprints) and every one is verified exactly."""

    num_perm: int = 128  # MinHash permutations
    shingle_size: int = 5  # words per shingle
    lsh_threshold: float = 0.3  # whole-article candidates; every candidate is verified on exact shingles
    # A copy: Jaccard >= min_jaccard, or containment >= min_containment with >= min_shared_shingles shared,
    # or min_coverage of one article's words in passages shared with the other.
    min_jaccard: float = 0.5
    min_containment: float = 0.6  # share of the smaller article's shingles inside the larger one
    min_shared_shingles: int = 40  # containment counts only with at least this many shared shingles
    template_min_articles: int = 5  # a shingle in this many articles of one outlet is its page template, masked
    seed: int = 1  # MinHash permutation seed
    # Candidates only between articles published at most this many days apart (undated ones pair
    # with any that shares a whole-article band key or two passage keys); 0 = whole corpus. Reprints
    # follow the original within days.
    window_days: float = 14.0
    # Passage-level candidates: windows of this many shingles (half overlapping), banded MinHash
    # (bands x rows permutations); 0 turns them off. A copied passage matches a window at Jaccard >= 0.6,
    # found with probability 1-(1-0.6**3)**20 = 0.99 per window pair.
    passage_shingles: int = 40
    passage_bands: int = 20  # 20 bands x 3 rows
    passage_rows: int = 3  # rows (permutations) per band
    max_bucket: int = 50  # a band bucket with more articles yields a chain of pairs, not all pairs
    min_span_words: int = 40  # partial reuse: at least one shared passage this long
    # Also a copy: this share of one article's words lies in passages shared with the other.
    min_coverage: float = 0.5


@dataclass(frozen=True)
class EmbedConfig:
    """`model` is BUNDLED_MODEL, any sentence-transformers model name, or a local path (e.g. one
    written by `compare finetune`). `backend` is "auto" (onnxruntime fp32 on CPU, torch on GPU),
    "torch", "onnx" or "onnx-int8"; benchmarks/claims.py measures all three. "hash" is no model: a
    deterministic hashing embedder of the model's dimension, for timing the other stages at scale
    (benchmarks/scale.py)."""

    model: str = BUNDLED_MODEL  # or a sentence-transformers name already in the local HF cache, or a path
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", "mps" or "auto"
    batch_size: int = 64  # texts per model call
    backend: str = "auto"  # onnxruntime fp32 on CPU, torch on GPU; or "torch", "onnx", "onnx-int8", "hash" (no model: timing only)
    # Where ONNX exports are kept: one per model per machine, shared by every data home ("" = the
    # user cache: $XDG_CACHE_HOME/compare, else ~/.cache/compare). An export costs ~17 s and 109 MB.
    model_cache: str = ""
    # The backend for article vectors (title+lede texts, for story grouping only; claims keep
    # `backend`). "auto" is "onnx-int8" when `backend` is "auto" and `device` is "cpu", else `backend`.
    # benchmarks/stories.py --article-backends onnx,onnx-int8: story ARI 0.9944 for both on BASIL,
    # 0.5286 (int8) vs 0.5029 (fp32) on PAC dev, 1.38x less CPU per article.
    article_backend: str = "auto"


@dataclass(frozen=True)
class AlignConfig:
    """Claims of two outlets are aligned by a learned same-fact head (criterion "learned", below), or
    when they are mutual nearest neighbours above min_similarity (criterion "cosine"); with criterion
    "margin" their ratio margin over `margin_k` neighbours must also reach min_margin.
    Stories up to `exact_max` claims per outlet are searched exactly, larger ones with IVF (or HNSW)."""

    # MRPC mining mode (benchmarks/claims.py, fit on 40% of train, scored on 60%): mutual NN + cosine
    # floor F1 0.781, + ratio margin (k=2, >= 1.08) 0.789, plain best-match threshold 0.761. A floor
    # of 0.58 fitted MRPC equally well but chained unrelated claims of the demo story into one group.
    min_similarity: float = 0.62  # cosine floor for mutual nearest neighbours across outlets
    mutual: bool = True  # both claims must be each other's nearest neighbour
    criterion: str = "learned"  # "learned" (the same-fact head), "margin" or "cosine" (mutual NN + floor only)
    min_margin: float = 1.08  # with criterion "margin": the ratio margin a pair must reach
    margin_k: int = 2  # ratio margin: cosine / mean cosine of both claims' k nearest neighbours
    exact_max: int = 50_000  # claims per outlet searched exactly; approximate above
    ann: str = "ivf"  # above exact_max: "ivf" (recall@10 1.000 at 1M vectors) or "hnsw" (0.93)
    # A cross-encoder folder written by `compare finetune --cross-encoder` ("" = cosine/margin only).
    # FAISS proposes each claim's rerank_k nearest claims per outlet above rerank_floor; the
    # cross-encoder scores them; mutual best pairs at rerank_threshold (0 = the threshold fitted with
    # the model, in its compare-calibration.json) are aligned.
    reranker: str = ""
    rerank_k: int = 3  # nearest claims per outlet the reranker scores
    rerank_floor: float = 0.4  # the reranker scores only pairs above this cosine
    rerank_threshold: float = 0.0  # decision cut on its score (0 = the one fitted with the model)
    # The embedding model for claims ("" = the [embed] model): alignment and the cosine `similarity`
    # reports carry. A model fine-tuned on STS (`compare finetune OUT --sts sts-train.csv --epochs 3`)
    # ranks claim pairs better (STS news 0.723 -> 0.814) but lowers document similarity (SemEval 0.855
    # -> 0.69), so story grouping keeps [embed] model. Another model's cosines need the thresholds
    # here (min_similarity, min_margin, near_similarity) refitted: benchmarks/claims.py.
    claim_model: str = ""
    # An outlet whose closest sentence to a claim group reaches this cosine is listed as "similar
    # wording", not as leaving the claim out (report/story.py).
    near_similarity: float = 0.6
    # criterion "learned" (the default; compare.align.samefact): FAISS proposes each claim's fact_k nearest
    # claims per other outlet above fact_floor (k=8 keeps 344 of the 366 same-fact pairs of the gold
    # events); a learned head over cosine, rank, lexical, story-IDF, name, number, quote-overlap and
    # position features decides each pair. Leave-one-event-out on the 8 gold events
    # (benchmarks/train_samefact.py): alignment F1 0.536 (P 0.627, R 0.468) against 0.42 for the best
    # single cosine cut over pairs, and 0.31 for "margin" in benchmarks/divergence.py. `head` is a
    # JSON head (samefact.save_head; "" = the one shipped in the package); align_probability /
    # near_probability override its cuts (0 = its own: 0.9 to align, 0.6 to count an outlet as
    # mentioning a fact; near 0.5 / 0.7 gave omission wrong rate 0.19 / 0.25, key recall 0.56 / 0.72).
    head: str = ""
    fact_k: int = 8
    fact_floor: float = 0.2
    align_probability: float = 0.0
    near_probability: float = 0.0
    # "one-per-outlet": a group takes a second claim of an outlet only through a pair at fact_strong
    # (leave-one-event-out: plain connected components, "all", chained groups: precision 0.16 at
    # recall 0.58; never a second claim: F1 0.46; fact_strong 0.99: 0.536; 0.97: 0.51).
    fact_grouping: str = "one-per-outlet"
    fact_strong: float = 0.99


@dataclass(frozen=True)
class StoryConfig:
    """Articles published within window_days join a story by document similarity.

    method "average": average-linkage clusters of the mean of title+lede embedding cosine and
    full-text TF-IDF cosine, cut at min_similarity; a pair of articles of different outlets that are
    each other's nearest neighbour above mutual_floor is joined first. On BASIL (benchmarks/stories.py)
    ARI is 0.994 for cuts from 0.25 to 0.35; 0.35 keeps PAC's undated opinion pairs apart best.
    method "components": the first version, connected components of embedding cosine >= min_similarity
    (0.55 suits it); chains unrelated articles on large corpora.
    """

    min_similarity: float = 0.35  # cut on mean(title+lede embedding cosine, full-text TF-IDF cosine)
    window_days: float = 3.0  # only articles published this close can share a story (undated ones pair with any)
    neighbours: int = 20  # candidate pairs: each article's nearest articles by embedding
    method: str = "average"  # or "components" (the first version: chains on large corpora)
    mutual_floor: float = 0.25  # two outlets' mutual best matches above this are joined first
    max_block: int = 3000  # articles clustered exactly at once; larger candidate blocks fall back to components
    # An undated article is taken as published at most this many days before it was ingested (its
    # crawl by `compare fetch`), so it is compared only with articles near that span: linear like
    # dated ones instead of against every article (~N^1.4). 0 = undated articles pair with any.
    # Not for archives ingested in bulk: their ingest date is the import, not the crawl.
    undated_days: float = 0.0


@dataclass(frozen=True)
class IndexConfig:
    """Snapshots kept after a build (the current one always is); `compare index prune --keep` overrides."""

    keep_snapshots: int = 2  # snapshots kept after a build (compare index build/prune --keep N)
    # The build embeds the claims of stories covered by at least this many outlets and stores their
    # vectors in the snapshot, so a report reads them and loads no model (0 = off: claims are
    # embedded on first report). Single-outlet stories have nothing to compare.
    precompute_claims_min_outlets: int = 2
    # Where the per-article, per-time-bucket (story linkage) and per-story (facts) work of a build
    # runs (compare.core.distributed): "local" in this process, or "ray" as Ray tasks. ray_address ""
    # starts a local Ray runtime, "auto" joins the cluster of this machine (`ray start`),
    # "ray://host:10001" a remote one. Results are the same either way.
    engine: str = "local"
    ray_address: str = ""  # "" = start a local Ray runtime, "auto" = join this machine's cluster, or ray://HOST:10001


@dataclass(frozen=True)
class ReportConfig:
    """What a story report lists as a divergence.

    min_confidence: divergences whose confidence (the detector's, times the same-fact probability of
    the claims compared) is below this are not reported. Detectors give 0.5 to their weakest kind
    still worth a reader's time (an actor swap) and 0.3 to word choices. On the 8 divergence-gold
    events (benchmarks/divergence.py) both reported divergences under 0.5 were wrong.
    """

    min_confidence: float = 0.5


@dataclass(frozen=True)
class Settings:
    home: Path
    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    stories: StoryConfig = field(default_factory=StoryConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    @property
    def claim_embed(self) -> EmbedConfig:
        """The embedding settings for claims: [embed] with `align.claim_model` as the model when set."""
        return replace(self.embed, model=self.align.claim_model) if self.align.claim_model else self.embed

    @property
    def article_embed(self) -> EmbedConfig:
        """The embedding settings for article vectors: [embed] with `article_backend` as the backend.

        Vectors of another backend are named apart (compare.embed.embedder), so a snapshot or the
        embedding cache never mixes fp32 and int8 vectors.
        """
        return replace(self.embed, backend=article_backend(self.embed))


def article_backend(config: EmbedConfig) -> str:
    """The backend article vectors are made with (EmbedConfig.article_backend resolved)."""
    if config.article_backend != "auto":
        return config.article_backend
    return "onnx-int8" if config.backend == "auto" and config.device == "cpu" else config.backend


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the file and key."""


def default_home() -> Path:
    """`indexes/` of the checkout when running from one, else the user's data directory."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").exists() and (checkout / "indexes").is_dir():
        return checkout / "indexes"
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "compare"


_SECTIONS: dict[str, type] = {
    "minhash": MinHashConfig,
    "embed": EmbedConfig,
    "align": AlignConfig,
    "stories": StoryConfig,
    "index": IndexConfig,
    "report": ReportConfig,
}

# Top-level keys of compare.toml that compare.fetch.sources reads ([[sources]] and [fetch]).
_READ_ELSEWHERE = ("sources", "fetch")

# Environment variables and the (section, key) they set.
_ENVIRONMENT: dict[str, tuple[str, str]] = {
    "COMPARE_MODEL": ("embed", "model"),
    "COMPARE_DEVICE": ("embed", "device"),
    "COMPARE_BATCH_SIZE": ("embed", "batch_size"),
    "COMPARE_MODEL_CACHE": ("embed", "model_cache"),
    "COMPARE_RERANKER": ("align", "reranker"),
    "COMPARE_CLAIM_MODEL": ("align", "claim_model"),
}


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _coerce(value: Any, target: Any, where: str) -> Any:
    """Convert a TOML or environment value to the default's type; lossy or unknown values are errors."""
    kind = type(target)
    problem = ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in _TRUE + _FALSE:
            return str(value).strip().lower() in _TRUE
        raise problem
    try:
        if kind is int:
            if isinstance(value, float) and not value.is_integer() or isinstance(value, bool):
                raise problem
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        return kind(value)
    except (TypeError, ValueError) as error:
        raise problem from error


def apply_values(section_config: Any, values: Mapping[str, Any], where: str) -> Any:
    """`section_config` with `values` set, each checked against the field's type; errors name `where`
    (the file and section, or the option). Other TOML sections (compare.fetch.sources) use it too."""
    known = {f.name for f in fields(section_config)}
    updates = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(sorted(known))})")
        updates[key] = _coerce(value, getattr(section_config, key), f"{where}.{key}")
    return replace(section_config, **updates)


def load_settings(
    home: Path | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build settings: defaults < TOML (`config_file`, else `<home>/compare.toml`) < environment < overrides.

    `overrides` is {"section": {"key": value}} from command-line flags; None values are ignored.
    """
    environ = os.environ if environ is None else environ
    resolved_home = Path(home or environ.get("COMPARE_HOME") or default_home()).expanduser()
    sections: dict[str, Any] = {name: cls() for name, cls in _SECTIONS.items()}

    toml_path = config_file or environ.get("COMPARE_CONFIG") or resolved_home / "compare.toml"
    toml_path = Path(toml_path)
    if config_file is not None and not toml_path.exists():
        raise ConfigError(f"{toml_path}: config file not found")
    if toml_path.exists():
        try:
            document = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{toml_path}: {error}") from error
        for name, values in document.items():
            if name in _READ_ELSEWHERE:
                continue
            if name not in sections or not isinstance(values, dict):
                raise ConfigError(f"{toml_path}: unknown section [{name}] (known: {', '.join(_SECTIONS)})")
            sections[name] = apply_values(sections[name], values, f"{toml_path} [{name}]")

    for variable, (section, key) in _ENVIRONMENT.items():
        if environ.get(variable):
            sections[section] = apply_values(sections[section], {key: environ[variable]}, variable)

    for section, values in (overrides or {}).items():
        present = {key: value for key, value in values.items() if value is not None}
        sections[section] = apply_values(sections[section], present, f"--{section} options")

    return Settings(home=resolved_home, **sections)


def default_model_cache(environ: Mapping[str, str] | None = None) -> Path:
    """Where model exports go when [embed] model_cache is "": $XDG_CACHE_HOME/compare, else
    ~/.cache/compare (compare.embed.embedder asks here, so the environment is still read in this module only)."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "compare"
