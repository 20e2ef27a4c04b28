"""The ranking recipe: feature sizes and weights, as chosen on validation months of real
2024 arXiv listings (bench/rank_bench.py measures it). Plain constants, no numpy: a stored
model is checked against `SETTINGS` without loading scikit-learn (a model fitted with other
settings is refitted).
"""

from __future__ import annotations

N_TEXT = 1 << 20  # columns of the text block and of the title block
N_META = 1 << 16  # columns of the metadata block (a few hundred distinct tokens: collisions are rare)
TITLE_WEIGHT = 1.0
META_WEIGHT = 0.5
MIN_DF, MAX_DF = 2, 0.5
TOKEN = r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b"  # arxiv-sanity's: a word starts with a letter
SETTINGS = {
    "version": 1,
    "n_text": N_TEXT,
    "n_meta": N_META,
    "title_weight": TITLE_WEIGHT,
    "meta_weight": META_WEIGHT,
    "min_df": MIN_DF,
    "max_df": MAX_DF,
    "ngrams": [1, 2],
}
CHUNK = 20_000  # papers read, hashed and weighted at a time
