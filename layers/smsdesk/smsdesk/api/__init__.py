"""The management API (Powertools HTTP API resolver with pydantic validation and OpenAPI)."""
