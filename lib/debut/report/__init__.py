"""report: the self-contained HTML report a category manager reads."""
