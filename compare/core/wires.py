"""Wire agencies in one place: how each is credited in article text (ingest's wire-credit detection),
which acronyms open a dateline ("BAGHDAD (AP) —", text's claim splitting), and how an outlet that is
the wire itself is named (dedup prefers it as the source of a cluster).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WireAgency:
    name: str  # the canonical credit ("AP", "Reuters")
    credit: str | None  # regex of its credit in text (acronyms case-sensitive); None: not detected as a credit
    dateline: tuple[str, ...]  # acronyms written in a dateline's parentheses
    outlet: str | None  # lower-case regex of an outlet name that is this wire; None: not matched


WIRE_AGENCIES: tuple[WireAgency, ...] = (
    WireAgency("AP", r"(?i:the\s+associated\s+press|associated\s+press)|AP", ("AP",), r"associated press|ap"),
    WireAgency("Reuters", r"(?i:thomson\s+reuters|reuters)", ("Reuters",), r"reuters"),
    WireAgency("AFP", r"(?i:agence\s+france[-\s]presse)|AFP", ("AFP",), r"afp|agence france[- ]presse"),
    WireAgency("JNS", r"(?i:jewish\s+news\s+syndicate|jns\.org)|JNS", ("JNS",), r"jns"),
    WireAgency("TPS", r"(?i:tazpit\s+press\s+service|tazpit\s+news\s+agency)|TPS", ("TPS",), r"tps"),
    WireAgency("dpa", r"(?i:deutsche\s+presse-agentur)|dpa|DPA", ("dpa", "DPA"), r"dpa"),
    WireAgency("Xinhua", r"(?i:xinhua\s+news\s+agency|xinhua)", ("Xinhua",), r"xinhua"),
    WireAgency("UPI", r"(?i:united\s+press\s+international)|UPI", ("UPI",), r"upi"),
    WireAgency("ANI", r"(?i:asian\s+news\s+international)|ANI", ("ANI",), None),
    WireAgency("Bloomberg", r"(?i:bloomberg\s+news|bloomberg)", ("Bloomberg",), r"bloomberg"),
    WireAgency("Anadolu", None, ("AA",), r"anadolu"),
    WireAgency("WAFA", None, ("WAFA",), None),
    WireAgency("SPA", None, ("SPA",), None),
    WireAgency("KUNA", None, ("KUNA",), None),
    WireAgency("IRNA", None, ("IRNA",), None),
    WireAgency("Tasnim", None, ("Tasnim",), None),
)

# Canonical name -> how its credit is written (the agencies ingest detects as credits).
CREDIT_SPELLINGS: dict[str, str] = {agency.name: agency.credit for agency in WIRE_AGENCIES if agency.credit}
# "AP|Reuters|...": the acronyms a dateline may carry in parentheses.
DATELINE_ACRONYMS: str = "|".join(acronym for agency in WIRE_AGENCIES for acronym in agency.dateline)
# An outlet whose name is a wire agency ("The Associated Press", "Reuters").
WIRE_OUTLET_PATTERN: str = r"(?i)^(?:the )?(?:" + "|".join(agency.outlet for agency in WIRE_AGENCIES if agency.outlet) + r")\b"
