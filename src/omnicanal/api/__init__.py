"""HTTP entry points: thin FastAPI routers over the contexts' services."""
