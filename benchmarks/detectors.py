"""Divergence detectors in isolation, on perfect alignment: each gold fact's mentions as one claim group.

    python benchmarks/detectors.py --gold ../shared/datasets/divergence-gold \\
        --basil ../shared/datasets/basil/articles --json detectors.json

For every fact of the gold (README in the gold folder), the sentence of each outlet's article that
holds a mention's quote becomes one claim of an aligned group; `find_divergences` runs on it. A
reported divergence is right when two of its sides, from different outlets, carry the quotes of two
sides of one gold divergence (a quote is carried when the claim contains it or holds >= 70% of its
words): the gold README's rule. Scored with the parse-based detectors on and off (the run without
the spaCy model is the baseline a user without `compare-news[nlp]` gets), per kind, and at each
confidence cut in --cuts. "strict" figures also require the finding's kind to be the gold
divergence's type (hedge/intensifier count as certainty); the README's rule does not. Since alignment here is perfect, recall is an upper bound for a report.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compare.diverge import ClaimRef, DivergeConfig, Divergence, find_divergences, nlp_note  # noqa: E402

_WORD = re.compile(r"[a-z0-9]+")
# Old kind names map onto the gold's types (hedges and intensifiers are certainty).
_GOLD_TYPE = {"hedge": "certainty", "intensifier": "certainty"}


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def carries(claim_text: str, quote: str) -> bool:
    """The README's rule: the claim contains the quote (or the reverse), or holds >= 70% of its words."""
    normal_claim, normal_quote = " ".join(_words(claim_text)), " ".join(_words(quote))
    if normal_quote in normal_claim or (normal_claim and normal_claim in normal_quote):
        return True
    quote_words = _words(quote)
    claim_words = set(_words(claim_text))
    return bool(quote_words) and sum(word in claim_words for word in quote_words) >= 0.7 * len(quote_words)


def article_sentences(basil: Path, file_name: str) -> list[str]:
    year_dirs = sorted(basil.glob(f"*/{file_name}"))
    if not year_dirs:
        raise SystemExit(f"{file_name}: not under {basil}/<year>/")
    article = json.loads(year_dirs[0].read_text(encoding="utf-8"))
    return [sentence for paragraph in article["body-paragraphs"] for sentence in paragraph]


def sentence_of(sentences: Sequence[str], quote: str) -> int | None:
    exact = [i for i, sentence in enumerate(sentences) if quote in sentence]
    if exact:
        return exact[0]
    loose = [i for i, sentence in enumerate(sentences) if carries(sentence, quote)]
    return loose[0] if loose else None


def event_groups(event: dict, basil: Path) -> tuple[list[tuple[str, list[ClaimRef]]], dict[str, list[str]]]:
    """(fact id, claims) per fact reported by 2+ outlets, and each outlet's sentences."""
    sentences = {outlet: article_sentences(basil, name) for outlet, name in event["articles"].items()}
    groups = []
    for fact in event["facts"]:
        refs: dict[tuple[str, int], ClaimRef] = {}
        for mention in fact["mentions"]:
            outlet = mention["outlet"]
            index = sentence_of(sentences[outlet], mention["quote"])
            if index is None:
                continue
            text = sentences[outlet][index]
            refs[(outlet, index)] = ClaimRef(f"{outlet}:{index}", f"{event['event']}:{outlet}", outlet, 0, len(text), text)
        if len({outlet for outlet, _ in refs}) >= 2:
            groups.append((fact["id"], list(refs.values())))
    return groups, sentences


def is_right(divergence: Divergence, gold: dict) -> bool:
    """Two sides of the finding, from different outlets, carry the quotes of two gold sides."""
    sides = divergence.sides
    for a in range(len(sides)):
        for b in range(len(sides)):
            if a == b:
                continue
            for left in sides[a].claims:
                for right in sides[b].claims:
                    if left.outlet == right.outlet:
                        continue
                    for ga, gold_left in enumerate(gold["sides"]):
                        for gb, gold_right in enumerate(gold["sides"]):
                            if ga == gb or gold_left["outlet"] == gold_right["outlet"]:
                                continue
                            if (left.outlet == gold_left["outlet"] and right.outlet == gold_right["outlet"]
                                    and carries(left.text, gold_left["quote"]) and carries(right.text, gold_right["quote"])):
                                return True
    return False


def reachable(gold: dict, groups: dict[str, list[ClaimRef]]) -> bool:
    """Two gold sides of different outlets have their quotes among the fact group's claims."""
    claims = groups.get(gold["fact"], [])
    hit = {side["outlet"] for side in gold["sides"] if any(c.outlet == side["outlet"] and carries(c.text, side["quote"]) for c in claims)}
    return len(hit) >= 2


def evaluate(events: list[dict], basil: Path, config: DivergeConfig, cuts: Sequence[float]) -> dict:
    found: list[tuple[str, Divergence, dict]] = []  # (event, divergence, event json)
    gold_all: list[tuple[str, dict, bool]] = []
    seconds = 0.0
    claims_seen = 0
    for event in events:
        groups, _ = event_groups(event, basil)
        by_fact = dict(groups)
        for gold in event["divergences"]:
            gold_all.append((event["event"], gold, reachable(gold, by_fact)))
        for fact_id, claims in groups:
            start = time.perf_counter()
            divergences = find_divergences(fact_id, claims, config=config)
            seconds += time.perf_counter() - start
            claims_seen += len(claims)
            found.extend((event["event"], divergence, event) for divergence in divergences)
    result: dict = {"claims": claims_seen, "seconds": round(seconds, 3), "cuts": {}}
    for cut in cuts:
        kept = [(event_id, d, event) for event_id, d, event in found if getattr(d, "confidence", 1.0) >= cut]
        right_per_kind: Counter[str] = Counter()
        total_per_kind: Counter[str] = Counter()
        matched: set[tuple[str, int]] = set()
        strict_matched: set[tuple[str, int]] = set()
        strict_right = 0
        findings = []
        for event_id, divergence, event in kept:
            kind = _GOLD_TYPE.get(divergence.kind, divergence.kind)
            total_per_kind[kind] += 1
            hits = [i for i, gold in enumerate(event["divergences"]) if gold["fact"] == divergence.group_id and is_right(divergence, gold)]
            right_per_kind[kind] += bool(hits)
            matched |= {(event_id, i) for i in hits}
            strict_hits = [i for i in hits if event["divergences"][i]["type"] == kind]
            strict_right += bool(strict_hits)
            strict_matched |= {(event_id, i) for i in strict_hits}
            findings.append({
                "event": event_id, "fact": divergence.group_id, "kind": divergence.kind, "subject": divergence.subject,
                "confidence": round(getattr(divergence, "confidence", 1.0), 3), "right": bool(hits),
                "sides": [{"value": side.value, "outlets": list(side.outlets)} for side in divergence.sides],
            })
        gold_per_type: Counter[str] = Counter(gold["type"] for _, gold, _ in gold_all)
        found_per_type: Counter[str] = Counter()
        strict_per_type: Counter[str] = Counter()
        for event_id, gold, _ in gold_all:
            index = next(i for e in events if e["event"] == event_id for i, g in enumerate(e["divergences"]) if g is gold)
            found_per_type[gold["type"]] += (event_id, index) in matched
            strict_per_type[gold["type"]] += (event_id, index) in strict_matched
        reported, right = len(kept), sum(right_per_kind.values())
        result["cuts"][str(cut)] = {
            "reported": reported, "right": right,
            "precision": round(right / reported, 3) if reported else None,
            "recall": round(len(matched) / len(gold_all), 3) if gold_all else None,
            "strict_precision": round(strict_right / reported, 3) if reported else None,
            "strict_recall": round(len(strict_matched) / len(gold_all), 3) if gold_all else None,
            "gold": len(gold_all), "gold_reachable": sum(ok for _, _, ok in gold_all), "gold_found": len(matched),
            "per_kind": {kind: {"reported": total_per_kind[kind], "right": right_per_kind[kind]} for kind in sorted(total_per_kind)},
            "per_gold_type": {
                kind: {"gold": gold_per_type[kind], "found": found_per_type[kind], "found_same_kind": strict_per_type[kind]}
                for kind in sorted(gold_per_type)
            },
            "findings": findings,
        }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--basil", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--cuts", default="0,0.5,0.6", help="confidence cuts to score at, comma-separated")
    args = parser.parse_args(argv)
    events = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(args.gold.glob("*.json"))]
    cuts = [float(cut) for cut in args.cuts.split(",")]
    runs = {}
    for name, config in (("nlp", DivergeConfig(use_nlp=True)), ("patterns", DivergeConfig(use_nlp=False))):
        runs[name] = evaluate(events, args.basil, config, cuts)
        note = nlp_note() if name == "nlp" else "parse-based detectors off (by option)"
        runs[name]["note"] = note
    print(f"{len(events)} events; perfect alignment (gold facts as groups)")
    print(f"{'run':9} {'cut':>4} {'reported':>8} {'right':>5} {'prec':>6} {'recall':>6} {'sprec':>6} {'srec':>6}  per kind (right/reported)")
    for name, run in runs.items():
        for cut, row in run["cuts"].items():
            kinds = " ".join(f"{k}:{v['right']}/{v['reported']}" for k, v in row["per_kind"].items())
            print(f"{name:9} {cut:>4} {row['reported']:>8} {row['right']:>5} {row['precision']!s:>6} {row['recall']!s:>6} {row['strict_precision']!s:>6} {row['strict_recall']!s:>6}  {kinds}")
        print(f"{'':9} gold found per type (any kind / same kind): " + " ".join(
            f"{k}:{v['found']}|{v['found_same_kind']}/{v['gold']}" for k, v in next(iter(run['cuts'].values()))["per_gold_type"].items()
        ) + f"  (reachable {next(iter(run['cuts'].values()))['gold_reachable']}); {run['seconds']} s on {run['claims']} claims"
        + (f"; note: {run['note']}" if run["note"] else ""))
    if args.json:
        args.json.write_text(json.dumps({"events": len(events), "runs": runs}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
