"""Git adapter: repository set-up, commits, sync and history (the git command, through gitcmd)."""
