"""Generated from the OpenAPI schema by sdk/tools/generate.py."""
