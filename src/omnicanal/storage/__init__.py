"""Storage: engine, declarative base, unit of work, migrations."""
