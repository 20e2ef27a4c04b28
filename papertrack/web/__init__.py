"""The Datasette site: the plugin's hooks (`plugin`, the entry point), the `.bib` renderer,
the tag facet, metadata.json (`metadata`) and `papertrack serve` (`serve`)."""
