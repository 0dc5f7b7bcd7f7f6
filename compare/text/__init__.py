"""Text stage: claim splitting (claims.py) and the one home for text normalisation (normalize.py)."""
