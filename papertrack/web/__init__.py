"""The Datasette site: the plugin's hooks (`plugin`, the entry point), the browse page
(`browse` routes, `browse_view`, `browse_chart`, `browse_feed`), the `.bib` renderer, the
tag facet, metadata.json (`metadata`) and `papertrack serve` (`serve`)."""
