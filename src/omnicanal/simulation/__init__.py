"""A simulated omnichannel retailer: customers, devices, carts, orders, pickups, returns."""
