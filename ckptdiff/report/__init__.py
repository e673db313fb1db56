"""Report data types and their renderers; every renderer returns a string."""
