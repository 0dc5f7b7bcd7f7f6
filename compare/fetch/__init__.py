"""Follow the outlets themselves: `compare fetch` reads their feeds and news sitemaps, fetches new
articles politely into a WARC per run and ingests it; `compare sources` lists and checks them.

Modules: sources (the [[sources]] and [fetch] settings), discover (feeds, sitemaps), client (the
polite HTTP client), state (what earlier runs saw), warc (writing and reading WARC), extract (page ->
ingest record), run (one fetch run), testing (a local news site for tests and benchmarks).
"""
