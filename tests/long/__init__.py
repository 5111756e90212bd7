"""Long-running checks, run as scripts (not collected by pytest)."""
