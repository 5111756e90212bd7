"""Widgets of the crmnotes TUI."""
