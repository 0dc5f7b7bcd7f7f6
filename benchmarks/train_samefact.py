"""Train the same-fact head (compare/align/samefact.py) from the gold events, and measure it leave-one-event-out.

    python benchmarks/train_samefact.py --gold ../shared/datasets/divergence-gold \\
        --basil ../shared/datasets/basil --json samefact-cv.json --write compare/align/samefact_head.json

Every event's three articles are split into claims and embedded as reports do (claims_frame, the
configured claim model). Candidate pairs are those alignment proposes (FAISS top-`fact_k` per other
outlet); a pair is labelled the same fact when one gold fact has mentions matching both claims (the
gold README's quote rule, benchmarks/divergence.py). Leave-one-event-out: the head is trained on the
other events and the held-out event's coverage rows (aligned_facts, as the report builds them) are
scored; pooled and mean figures are printed for a grid of align / near cuts. With --write the head is
trained on all events and saved with the chosen cuts (--align-cut, --near-cut).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from divergence import EventScore, GoldEvent, ReportClaim, ReportRow, basil_record, gold_files, load_gold, mean_figures, quote_matches, score_event  # noqa: E402

from compare.core.config import AlignConfig, load_settings  # noqa: E402
from compare.text.normalize import normalize_text  # noqa: E402
from compare.align.samefact import SameFactHead, save_head, train_head  # noqa: E402
from compare.text.claims import claims_frame  # noqa: E402


@dataclass
class EventData:
    gold: GoldEvent
    claims: pl.DataFrame
    vectors: np.ndarray
    pairs: list[tuple[int, int]]
    features: np.ndarray
    labels: np.ndarray


def event_claims(gold: GoldEvent, basil: Path, *, fact_units: bool = False) -> pl.DataFrame:
    """The event's claims as a report splits them; article id and outlet are the gold outlet key."""
    rows = [{"id": key, "outlet": key, "text": normalize_text(str(basil_record(basil, gold.articles[key])["text"]))} for key in sorted(gold.articles)]
    order = {key: i for i, key in enumerate(sorted(gold.articles))}
    return claims_frame(pl.DataFrame(rows), fact_units=fact_units).with_columns(pl.col("article_id").replace_strict(order, return_dtype=pl.Int32).alias("article_order"))


def pair_labels(gold: GoldEvent, claims: pl.DataFrame, pairs: list[tuple[int, int]]) -> np.ndarray:
    """1 when one gold fact has mentions matching both claims of the pair (each from its outlet)."""
    texts, outlets = claims["text"].to_list(), claims["outlet"].to_list()
    facts_of: list[set[str]] = [set() for _ in texts]
    for fact in gold.facts:
        for mention in fact.mentions:
            for n, (text, outlet) in enumerate(zip(texts, outlets, strict=True)):
                if outlet == mention.outlet and quote_matches(mention.quote, text):
                    facts_of[n].add(fact.id)
    return np.array([bool(facts_of[a] & facts_of[b]) for a, b in pairs], dtype=np.int8)


def load_events(gold_dir: Path, basil: Path, config: AlignConfig, embedder: object, *, fact_units: bool = False) -> list[EventData]:
    from compare.align.alignment import fact_pair_features

    events = []
    for path in gold_files(gold_dir):
        gold = load_gold(path)
        claims = event_claims(gold, basil, fact_units=fact_units)
        vectors = embedder.encode(claims["text"].to_list())  # type: ignore[attr-defined]
        pairs, features = fact_pair_features(claims, vectors, config)
        events.append(EventData(gold, claims, vectors, pairs, features, pair_labels(gold, claims, pairs)))
    return events


def event_rows(event: EventData, config: AlignConfig, head: SameFactHead) -> list[ReportRow]:
    from compare.report.story import aligned_facts

    outlets = tuple(sorted(set(event.claims["outlet"].to_list())))
    rows, _ = aligned_facts(event.claims, event.vectors, config, outlets, head=head)
    return [ReportRow(tuple(ReportClaim(c.claim_id, c.outlet, c.text) for c in row.claims), row.missing) for row in rows]


def cross_validate(events: list[EventData], config: AlignConfig, cuts: list[tuple[float, float]], c: float, clip: float = 0.0) -> dict[tuple[float, float], list[EventScore]]:
    """Per (align cut, near cut): the held-out score of every event, head trained on the others."""
    results: dict[tuple[float, float], list[EventScore]] = {cut: [] for cut in cuts}
    for held_out, event in enumerate(events):
        train = [e for n, e in enumerate(events) if n != held_out]
        head = train_head(np.vstack([e.features for e in train]), np.concatenate([e.labels for e in train]), align_threshold=0.5, near_threshold=0.3, c=c, clip=clip)
        for align_cut, near_cut in cuts:
            scored = replace(head, align_threshold=align_cut, near_threshold=near_cut)
            results[(align_cut, near_cut)].append(score_event(event.gold, event_rows(event, config, scored), []))
    return results


def pooled(scores: list[EventScore]) -> dict:
    total = EventScore()
    for score in scores:
        total.add(score)
    return total.figures()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--basil", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--write", type=Path, help="train on all events and write the head JSON here")
    parser.add_argument("--align-cuts", default="0.5,0.6,0.7,0.8,0.85,0.9")
    parser.add_argument("--near-cuts", default="0.2,0.3,0.4,0.5")
    parser.add_argument("--align-cut", type=float, default=0.8)
    parser.add_argument("--near-cut", type=float, default=0.3)
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the logistic regression")
    parser.add_argument("--clip", type=float, default=0.0, help="standardised features clipped at +-CLIP (0 = off)")
    parser.add_argument("--fact-floor", type=float, default=None, help="override [align] fact_floor (FAISS proposal cosine floor)")
    parser.add_argument("--grouping", default=None)
    parser.add_argument("--fact-units", action="store_true", help="split claims with text.split_fact_units (experiment)")
    args = parser.parse_args(argv)

    from compare.embed.embedder import make_embedder

    settings = load_settings(Path("/nonexistent-home"), environ={})
    config = replace(settings.align, criterion="learned", **({"fact_grouping": args.grouping} if args.grouping else {}),
                     **({"fact_floor": args.fact_floor} if args.fact_floor is not None else {}))
    events = load_events(args.gold, args.basil, config, make_embedder(settings.claim_embed), fact_units=args.fact_units)
    print(f"{len(events)} events, {sum(len(e.pairs) for e in events)} candidate pairs, {sum(int(e.labels.sum()) for e in events)} same-fact")
    cuts = [(float(a), float(n)) for a in args.align_cuts.split(",") for n in args.near_cuts.split(",") if float(n) <= float(a)]
    results = cross_validate(events, config, cuts, args.c, args.clip)
    summary = {}
    print(f"{'align':>5} {'near':>5} | {'P':>6} {'R':>6} {'F1':>6} {'wrong':>6} {'key':>6} | mean F1 wrong key")
    for cut, scores in results.items():
        figures, mean = pooled(scores), mean_figures([s.figures() for s in scores])
        summary[f"{cut[0]}/{cut[1]}"] = {"pooled": figures, "mean": mean}
        a, o = figures["alignment"], figures["omission"]
        print(f"{cut[0]:>5} {cut[1]:>5} | {a['precision']} {a['recall']} {a['f1']} {o['wrong_rate']} {o['key_recall']} | "
              f"{mean['alignment']['f1']} {mean['omission']['wrong_rate']} {mean['omission']['key_recall']}")
    if args.json:
        args.json.write_text(json.dumps({"config": {"c": args.c, "clip": args.clip, "fact_k": config.fact_k, "fact_floor": config.fact_floor, "grouping": config.fact_grouping}, "cv": summary}, indent=1) + "\n", encoding="utf-8")
    if args.write:
        head = train_head(np.vstack([e.features for e in events]), np.concatenate([e.labels for e in events]),
                          align_threshold=args.align_cut, near_threshold=args.near_cut, c=args.c, clip=args.clip,
                          trained_on=f"{len(events)} divergence-gold events, {sum(len(e.pairs) for e in events)} candidate pairs")
        save_head(head, args.write)
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
