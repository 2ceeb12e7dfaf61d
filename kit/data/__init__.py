"""Data on disk: where it lives, reading tables with the spec's types."""

from kit.data.tables import data_dir, read_table, scan_table

__all__ = ["data_dir", "read_table", "scan_table"]
