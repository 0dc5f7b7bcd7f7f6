"""Stories stage: articles grouped into stories (grouping.py) with document similarity (docsim.py)."""
