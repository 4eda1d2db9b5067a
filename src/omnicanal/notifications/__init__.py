"""Notifications: email, SMS and push rendered from the one order state, checked at send time."""
