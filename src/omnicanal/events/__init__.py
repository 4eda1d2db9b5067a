"""Events: the transactional outbox, the dispatcher, the feed and webhooks."""
