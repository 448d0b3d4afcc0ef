"""Landing files -> bronze Delta tables, with quarantine and reconciliation."""
