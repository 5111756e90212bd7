"""Import and export: spreadsheets in (CSV in any common encoding, XLSX),
CSV / XLSX / JSON / vCard / iCalendar out.

The domain core, no CLI code: ``importer.import_file`` and the
``exporter`` functions are what ``crm import`` / ``crm export`` and the TUI call.
"""
