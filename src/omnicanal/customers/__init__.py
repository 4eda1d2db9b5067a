"""One customer everywhere: profiles, identity graph, consents, personal data."""
