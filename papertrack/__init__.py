"""papertrack: harvest model-compression papers from arXiv and venues into SQLite.

The packages follow the data flow (docs/architecture.md):
sources -> enrich -> store -> ingest -> {bibtex, newsletter, web}; cli on top.
"""

__version__ = "0.1.0"
