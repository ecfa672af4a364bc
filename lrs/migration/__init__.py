"""Moving statements between LRSs: `lrs import-statements` and `lrs export-statements`.

`cli` holds the commands, `input` reads another LRS's export as a stream, `importer` turns its
elements into statements for the shared batch importer, `export` writes this LRS's statements.
"""
