"""The Textual terminal UI of crmnotes.

Importing this package costs nothing; Textual is imported by ``app`` only,
so ``crm ls`` never pays for the TUI.
"""
