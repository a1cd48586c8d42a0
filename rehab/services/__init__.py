"""Domain rules as plain, typed functions: no Flask imports, unit-tested without an app."""
