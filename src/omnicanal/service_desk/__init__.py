"""Customer service: tickets linked to the customer profile, satisfaction (CSAT), priority by
customer value."""
