"""papertrack: harvest model-compression papers from arXiv and venues into SQLite."""

__version__ = "0.1.0"
