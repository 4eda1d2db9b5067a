"""Analytics: the KPIs of BRIEF §5 defined once, read models kept by consumers, pilot stores."""
