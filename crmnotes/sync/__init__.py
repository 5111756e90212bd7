"""Git adapter: repository set-up, commits, sync and history (GitPython)."""
