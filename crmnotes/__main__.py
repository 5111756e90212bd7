"""``python -m crmnotes``: the same as the ``crm`` command."""

from crmnotes.cli import main

if __name__ == "__main__":
    main(prog_name="crm")  # "crm" in usage lines, and _CRM_COMPLETE for shell completion
