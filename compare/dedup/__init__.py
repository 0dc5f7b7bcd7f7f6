"""Wire-copy stage: MinHash/LSH clustering of copies (clusters.py, minhash_kernels.py) and the text-reuse evidence a copy is shown with (evidence.py)."""
