"""Text that every layer shares: TeX in titles and names (`latex`), person names (`names`)."""
