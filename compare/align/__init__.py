"""Alignment stage: claims of different outlets matched into facts (alignment.py) with the same-fact head (samefact.py, samefact_head.json)."""
