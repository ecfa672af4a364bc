"""The rules of xAPI as plain functions: no HTTP, no database."""
