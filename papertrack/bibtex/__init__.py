"""BibTeX out (`export`) and in (`parse` reads a .bib file, `importer` matches and stores it)."""
