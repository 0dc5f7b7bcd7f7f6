"""Stories stage: articles grouped into stories by similarity within the time window, or by wire copy (grouping.py)."""
