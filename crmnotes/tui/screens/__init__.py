"""Screens of the crmnotes TUI: main table, detail, forms, due list, help."""
