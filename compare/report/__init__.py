"""Report stage: a story's report assembled (story.py), ranked findings (findings.py), rendering (render.py, templates/), and the CLI's listings (listing.py) and article history (history.py)."""
