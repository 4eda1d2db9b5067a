"""Authentication: API keys with a channel, scopes and (for store associates) one store."""
