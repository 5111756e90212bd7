"""``python -m crmnotes``: the same as the ``crm`` command."""

from crmnotes.cli import main

if __name__ == "__main__":
    main()
