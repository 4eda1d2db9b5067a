"""A demo retailer: French stores and warehouses, a fashion and sports catalogue, stock."""
