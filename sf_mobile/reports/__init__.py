"""sf-bench reports: the versioned JSON result (schema.py) and the forms rendered from it."""
