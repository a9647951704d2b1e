"""Data access: every DynamoDB read and write goes through this package (keys in docs/data-model.md)."""
