"""Divergence benchmark: fact alignment, divergences and omissions of the story report on gold events.

    python benchmarks/divergence.py --gold ../shared/datasets/divergence-gold \\
        --basil ../shared/datasets/basil --json divergence.json

Each gold event file (format and scoring rules: the gold folder's README) names three BASIL articles.
They are ingested into a fresh temporary home through the library (as `compare ingest` does), the
index is built (`compare index build`), and the story that holds them is reported (`compare report`).
When story grouping splits the three articles, the story holding most of them is reported and the
rest count as not aligned (the output notes it per event).

Scoring, exactly as the README says. A gold quote matches a report claim when one contains the other
(after normalize_for_matching) or when at least 70% of the quote's words occur in the claim.
- alignment: the report's cross-outlet claim pairs in one coverage row (precision: such a pair is
  right when one gold fact has mentions matching both claims, from those two outlets) against the
  cross-outlet mention pairs of each gold fact (recall: found when one coverage row holds claims
  matching both mentions).
- divergence: a reported divergence is right when two of its sides, from different outlets, carry
  the quotes of two sides of one gold divergence; recall counts gold divergences so found.
- omission wrong rate: over (coverage row, missing outlet O) listings whose row matches a gold fact,
  the share where O reports one of the matched facts (wrong); listings where O is in a matched fact's
  `missing_from` are right; the rest (an unannotated minor gap) count in the denominator only.
- key-omission recall: gold key (fact, outlet) omissions for which some row matching the fact lists
  the outlet as missing.
Pooled figures sum the counts over events; `mean` averages the per-event figures.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compare.text.normalize import normalize_for_matching  # noqa: E402

OUTLET_KEYS = ("fox", "nyt", "hpo")
MATCH_SHARE = 0.7


class DatasetError(ValueError):
    """A gold or BASIL file that cannot be used; the message names the file."""


# ---------------------------------------------------------------- gold


@dataclass(frozen=True)
class Mention:
    outlet: str  # gold outlet key: fox, nyt, hpo
    quote: str


@dataclass(frozen=True)
class Fact:
    id: str
    kind: str
    mentions: tuple[Mention, ...]


@dataclass(frozen=True)
class GoldDivergence:
    type: str
    fact: str
    sides: tuple[Mention, ...]


@dataclass(frozen=True)
class Omission:
    fact: str
    missing_from: tuple[str, ...]
    importance: str


@dataclass(frozen=True)
class GoldEvent:
    event: str
    articles: dict[str, str]  # gold outlet key -> BASIL file name
    facts: tuple[Fact, ...]
    divergences: tuple[GoldDivergence, ...]
    omissions: tuple[Omission, ...]


def load_gold(path: Path) -> GoldEvent:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        facts = tuple(
            Fact(f["id"], f.get("kind", ""), tuple(Mention(m["outlet"], m["quote"]) for m in f["mentions"])) for f in document["facts"]
        )
        divergences = tuple(
            GoldDivergence(d["type"], d["fact"], tuple(Mention(s["outlet"], s["quote"]) for s in d["sides"]))
            for d in document.get("divergences", [])
        )
        omissions = tuple(Omission(o["fact"], tuple(o["missing_from"]), o["importance"]) for o in document.get("omissions", []))
        return GoldEvent(document["event"], dict(document["articles"]), facts, divergences, omissions)
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise DatasetError(f"{path}: not a gold event file ({type(error).__name__}: {error})") from error


def gold_files(directory: Path) -> list[Path]:
    files = sorted(path for path in directory.glob("*.json"))
    if not files:
        raise DatasetError(f"{directory}: no gold event files (*.json)")
    return files


def basil_record(basil: Path, file_name: str) -> dict[str, object]:
    """The BASIL article `file_name` (found under articles/<year>/) as an ingest record.

    Text is the body paragraphs (each a list of sentences joined by spaces) joined with blank lines.
    """
    found = sorted((basil / "articles").glob(f"*/{file_name}"))
    if not found:
        raise DatasetError(f"{basil}/articles: no */{file_name}")
    document = json.loads(found[0].read_text(encoding="utf-8"))
    paragraphs = document.get("body-paragraphs")
    if isinstance(paragraphs, str):
        paragraphs = ast.literal_eval(paragraphs)
    if not paragraphs:
        raise DatasetError(f"{found[0]}: no body-paragraphs")
    text = "\n\n".join(" ".join(sentence.strip() for sentence in paragraph) for paragraph in paragraphs)
    return {
        "outlet": str(document.get("source") or file_name).lower(), "title": document.get("title"), "text": text,
        "published": document.get("date"), "url": document.get("url") or f"basil:{file_name}",
    }


# ---------------------------------------------------------------- matching


def quote_matches(quote: str, claim: str) -> bool:
    """The README's rule: one contains the other, or >= 70% of the quote's words occur in the claim."""
    q, c = normalize_for_matching(quote), normalize_for_matching(claim)
    if not q or not c:
        return False
    if q in c or c in q:
        return True
    quote_words = q.split()
    claim_words = set(c.split())
    return sum(word in claim_words for word in quote_words) >= MATCH_SHARE * len(quote_words)


@dataclass(frozen=True)
class ReportClaim:
    """A report claim as scoring sees it: its id, the gold outlet key of its article, and its text."""

    claim_id: str
    outlet: str
    text: str


@dataclass(frozen=True)
class ReportRow:
    claims: tuple[ReportClaim, ...]
    missing: tuple[str, ...]  # gold outlet keys


@dataclass(frozen=True)
class ReportDivergence:
    sides: tuple[tuple[ReportClaim, ...], ...]


@dataclass
class EventScore:
    """Counts for one event; figures are derived so that events pool by summing counts."""

    aligned_pairs: int = 0
    aligned_right: int = 0
    gold_pairs: int = 0
    gold_pairs_found: int = 0
    divergences: int = 0
    divergences_right: int = 0
    gold_divergences: int = 0
    gold_divergences_found: int = 0
    omissions_scored: int = 0
    omissions_wrong: int = 0
    omissions_right: int = 0
    omissions_listed: int = 0
    key_omissions: int = 0
    key_omissions_found: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, other: EventScore) -> None:
        for name in self.__dataclass_fields__:
            if name != "notes":
                setattr(self, name, getattr(self, name) + getattr(other, name))

    def figures(self) -> dict[str, dict[str, float | None]]:
        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        precision, recall = ratio(self.aligned_right, self.aligned_pairs), ratio(self.gold_pairs_found, self.gold_pairs)
        f1 = round(2 * precision * recall / (precision + recall), 4) if precision and recall else 0.0
        return {
            "alignment": {"precision": precision, "recall": recall, "f1": f1},
            "divergence": {"precision": ratio(self.divergences_right, self.divergences), "recall": ratio(self.gold_divergences_found, self.gold_divergences)},
            "omission": {"wrong_rate": ratio(self.omissions_wrong, self.omissions_scored), "key_recall": ratio(self.key_omissions_found, self.key_omissions)},
        }

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "notes"}


def _matching(quote: str, outlet: str, claims: Iterable[ReportClaim]) -> set[str]:
    return {claim.claim_id for claim in claims if claim.outlet == outlet and quote_matches(quote, claim.text)}


def score_event(gold: GoldEvent, rows: Sequence[ReportRow], divergences: Sequence[ReportDivergence]) -> EventScore:
    """Score one event's report (rows and divergences with gold outlet keys) by the README's rules."""
    score = EventScore()
    claims = {claim.claim_id: claim for row in rows for claim in row.claims}
    # Which claims each gold mention matches, and which facts each claim matches (by outlet).
    mention_claims = {(fact.id, i): _matching(m.quote, m.outlet, claims.values()) for fact in gold.facts for i, m in enumerate(fact.mentions)}
    facts_of_claim: dict[str, set[str]] = {}
    for (fact_id, _), matched in mention_claims.items():
        for claim_id in matched:
            facts_of_claim.setdefault(claim_id, set()).add(fact_id)
    row_of: dict[str, int] = {claim.claim_id: n for n, row in enumerate(rows) for claim in row.claims}

    # Alignment precision: cross-outlet pairs in one row, right when both claims match one fact.
    for row in rows:
        for a, b in itertools.combinations(row.claims, 2):
            if a.outlet == b.outlet:
                continue
            score.aligned_pairs += 1
            score.aligned_right += bool(facts_of_claim.get(a.claim_id, set()) & facts_of_claim.get(b.claim_id, set()))
    # Alignment recall: cross-outlet mention pairs of one fact, found when one row holds matches of both.
    for fact in gold.facts:
        for (i, a), (j, b) in itertools.combinations(enumerate(fact.mentions), 2):
            if a.outlet == b.outlet:
                continue
            score.gold_pairs += 1
            rows_a = {row_of[c] for c in mention_claims[(fact.id, i)]}
            rows_b = {row_of[c] for c in mention_claims[(fact.id, j)]}
            score.gold_pairs_found += bool(rows_a & rows_b)

    # Divergences.
    def carries(side: tuple[ReportClaim, ...], mention: Mention) -> bool:
        return any(claim.outlet == mention.outlet and quote_matches(mention.quote, claim.text) for claim in side)

    def hits(reported: ReportDivergence, wanted: GoldDivergence) -> bool:
        for side_a, side_b in itertools.permutations(reported.sides, 2):
            for gold_a, gold_b in itertools.permutations(wanted.sides, 2):
                if gold_a.outlet != gold_b.outlet and carries(side_a, gold_a) and carries(side_b, gold_b):
                    return True
        return False

    score.divergences = len(divergences)
    score.gold_divergences = len(gold.divergences)
    score.divergences_right = sum(any(hits(d, g) for g in gold.divergences) for d in divergences)
    score.gold_divergences_found = sum(any(hits(d, g) for d in divergences) for g in gold.divergences)

    # Omissions.
    reporters = {fact.id: {m.outlet for m in fact.mentions} for fact in gold.facts}
    missing_from: dict[str, set[str]] = {}
    for omission in gold.omissions:
        missing_from.setdefault(omission.fact, set()).update(omission.missing_from)
    listed: set[tuple[str, str]] = set()
    for row in rows:
        matched = set().union(*(facts_of_claim.get(claim.claim_id, set()) for claim in row.claims)) if row.claims else set()
        for outlet in row.missing:
            score.omissions_listed += 1
            listed.update((fact_id, outlet) for fact_id in matched)
            if not matched:
                continue
            score.omissions_scored += 1
            if any(outlet in reporters.get(fact_id, set()) for fact_id in matched):
                score.omissions_wrong += 1
            elif any(outlet in missing_from.get(fact_id, set()) for fact_id in matched):
                score.omissions_right += 1
    key = {(o.fact, outlet) for o in gold.omissions if o.importance == "key" for outlet in o.missing_from}
    score.key_omissions = len(key)
    score.key_omissions_found = len(key & listed)
    return score


# ---------------------------------------------------------------- running the library


def report_rows(report: object, outlet_key: dict[str, str]) -> tuple[list[ReportRow], list[ReportDivergence]]:
    """A StoryReport's coverage rows and divergences with gold outlet keys (article id -> key)."""
    def claim(ref: object) -> ReportClaim:
        return ReportClaim(ref.claim_id, outlet_key.get(ref.article_id, ref.outlet), ref.text)  # type: ignore[attr-defined]

    key_of_outlet = {}
    for article in report.articles:  # type: ignore[attr-defined]
        key_of_outlet[article.outlet] = outlet_key.get(article.id, article.outlet)
    rows = [
        ReportRow(tuple(claim(ref) for ref in row.claims), tuple(key_of_outlet.get(o, o) for o in row.missing))
        for row in (*report.shared, *report.partial, *report.unique)  # type: ignore[attr-defined]
    ]
    divergences = [ReportDivergence(tuple(tuple(claim(ref) for ref in side.claims) for side in d.sides)) for d in report.divergences]  # type: ignore[attr-defined]
    return rows, divergences


def run_event(gold: GoldEvent, basil: Path, settings_overrides: dict, embedder: object) -> EventScore:
    """Ingest the event's articles into a fresh home, build the index, report their story, score it."""
    import polars as pl

    from compare.core.config import load_settings
    from compare.index import build_index
    from compare.ingest import ingest
    from compare.report.story import build_report
    from compare.core.store import Store

    with tempfile.TemporaryDirectory(prefix="divergence-bench-") as folder:
        home = Path(folder) / "home"
        home.mkdir()
        records = {key: basil_record(basil, gold.articles[key]) for key in gold.articles}
        feed = Path(folder) / "event.jsonl"
        feed.write_text("".join(json.dumps(record) + "\n" for record in records.values()), encoding="utf-8")
        settings = load_settings(home, environ={}, overrides=settings_overrides)
        store = Store(home)
        summary = ingest(store, [feed])
        if summary.rejected:
            raise DatasetError(f"event {gold.event}: {summary.rejected} articles rejected at ingest")
        articles = store.articles()
        url_to_key = {record["url"]: key for key, record in records.items()}
        outlet_key = {row["id"]: url_to_key[row["url"]] for row in articles.iter_rows(named=True) if row["url"] in url_to_key}
        index = build_index(store, settings, embedder=embedder)  # type: ignore[arg-type]
        stories = index.stories.filter(pl.col("article_id").is_in(list(outlet_key)))
        sizes = stories.group_by("story_id").len().sort(["len", "story_id"], descending=[True, False])
        story_id = sizes["story_id"][0]
        report = build_report(articles, index, story_id, settings, embedder=embedder)  # type: ignore[arg-type]
        rows, divergences = report_rows(report, outlet_key)
        score = score_event(gold, rows, divergences)
        if sizes.height > 1:
            left_out = sorted(outlet_key[a] for a in stories.filter(pl.col("story_id") != story_id)["article_id"].to_list())
            score.notes.append(f"articles split over {sizes.height} stories; reported the one with {sizes['len'][0]}, not aligned: {', '.join(left_out)}")
        return score


def _format(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def table(per_event: dict[str, dict], pooled: dict) -> str:
    header = f"{'event':<10} {'align P':>7} {'align R':>7} {'align F1':>8} {'div P':>6} {'div R':>6} {'omit wrong':>10} {'key recall':>10}"
    lines = [header, "-" * len(header)]
    for name, figures in [*per_event.items(), ("pooled", pooled)]:
        a, d, o = figures["alignment"], figures["divergence"], figures["omission"]
        lines.append(
            f"{name[:10]:<10} {_format(a['precision']):>7} {_format(a['recall']):>7} {_format(a['f1']):>8} "
            f"{_format(d['precision']):>6} {_format(d['recall']):>6} {_format(o['wrong_rate']):>10} {_format(o['key_recall']):>10}"
        )
    return "\n".join(lines)


def mean_figures(per_event: Sequence[dict]) -> dict:
    """Unweighted mean of each per-event figure over the events where it is defined."""
    out: dict[str, dict[str, float | None]] = {}
    for section in ("alignment", "divergence", "omission"):
        out[section] = {}
        for name in per_event[0][section]:
            values = [figures[section][name] for figures in per_event if figures[section][name] is not None]
            out[section][name] = round(sum(values) / len(values), 4) if values else None
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", type=Path, required=True, help="folder of gold event files (<triplet-uuid>.json)")
    parser.add_argument("--basil", type=Path, required=True, help="BASIL folder (articles/<year>/<file>.json)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--model", default=None, help="embedding model (default: the configured one, the bundled model)")
    args = parser.parse_args(argv)

    from compare.core.config import load_settings
    from compare.embed.embedder import make_embedder

    overrides = {"embed": {"model": args.model}}
    try:
        golds = [load_gold(path) for path in gold_files(args.gold)]
        settings = load_settings(Path(tempfile.gettempdir()), environ={}, overrides=overrides)
        embedder = make_embedder(settings.claim_embed)
        scores = {gold.event: run_event(gold, args.basil, overrides, embedder) for gold in golds}
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    pooled = EventScore()
    for score in scores.values():
        pooled.add(score)
    per_event = {event: {**score.figures(), "counts": score.counts(), "notes": score.notes} for event, score in scores.items()}
    result = {
        **pooled.figures(),
        "events": len(scores),
        "mean": mean_figures([score.figures() for score in scores.values()]),
        "counts": pooled.counts(),
        "per_event": per_event,
    }
    print(table(per_event, pooled.figures()))
    for event, score in scores.items():
        for note in score.notes:
            print(f"note {event[:8]}: {note}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
