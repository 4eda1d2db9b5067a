"""Real French places (city centre coordinates) for demo stores, warehouses and relay points."""

from __future__ import annotations

# (code, name, city, postcode, latitude, longitude)
STORES: list[tuple[str, str, str, str, float, float]] = [
    ("PAR-RIVOLI", "Paris Rivoli", "Paris", "75001", 48.8606, 2.3470),
    ("PAR-MONTPARNASSE", "Paris Montparnasse", "Paris", "75015", 48.8421, 2.3219),
    ("PAR-BASTILLE", "Paris Bastille", "Paris", "75011", 48.8532, 2.3691),
    ("PAR-DEFENSE", "La Défense Les Quatre Temps", "Puteaux", "92800", 48.8916, 2.2384),
    ("LYO-PARTDIEU", "Lyon Part-Dieu", "Lyon", "69003", 45.7609, 4.8563),
    ("LYO-BELLECOUR", "Lyon Bellecour", "Lyon", "69002", 45.7578, 4.8320),
    ("MRS-CANEBIERE", "Marseille Canebière", "Marseille", "13001", 43.2976, 5.3811),
    ("TLS-CAPITOLE", "Toulouse Capitole", "Toulouse", "31000", 43.6045, 1.4440),
    ("NCE-MASSENA", "Nice Masséna", "Nice", "06000", 43.6977, 7.2708),
    ("NTE-COMMERCE", "Nantes Commerce", "Nantes", "44000", 47.2130, -1.5596),
    ("SXB-KLEBER", "Strasbourg Kléber", "Strasbourg", "67000", 48.5834, 7.7458),
    ("MPL-COMEDIE", "Montpellier Comédie", "Montpellier", "34000", 43.6085, 3.8800),
    ("BOD-SAINTECATHERINE", "Bordeaux Sainte-Catherine", "Bordeaux", "33000", 44.8397, -0.5736),
    ("LIL-EURALILLE", "Lille Euralille", "Lille", "59777", 50.6372, 3.0750),
    ("RNS-REPUBLIQUE", "Rennes République", "Rennes", "35000", 48.1100, -1.6794),
    ("RMS-ERLON", "Reims Drouet-d'Erlon", "Reims", "51100", 49.2535, 4.0290),
    ("GNB-VICTORHUGO", "Grenoble Victor-Hugo", "Grenoble", "38000", 45.1889, 5.7245),
    ("DIJ-DARCY", "Dijon Darcy", "Dijon", "21000", 47.3225, 5.0340),
    ("ANG-RALLIEMENT", "Angers Ralliement", "Angers", "49100", 47.4712, -0.5518),
    ("CFE-JAUDE", "Clermont-Ferrand Jaude", "Clermont-Ferrand", "63000", 45.7772, 3.0819),
    ("TRS-JEANJAURES", "Tours Jean-Jaurès", "Tours", "37000", 47.3900, 0.6889),
    ("RUN-GROSHORLOGE", "Rouen Gros-Horloge", "Rouen", "76000", 49.4406, 1.0907),
    ("CAE-SAINTPIERRE", "Caen Saint-Pierre", "Caen", "14000", 49.1829, -0.3707),
    ("MTZ-SERPENOISE", "Metz Serpenoise", "Metz", "57000", 49.1156, 6.1727),
]

WAREHOUSES: list[tuple[str, str, str, str, float, float]] = [
    ("WH-SARAN", "Entrepôt Orléans-Saran", "Saran", "45770", 47.9510, 1.8760),
    (
        "WH-FALLAVIER",
        "Entrepôt Saint-Quentin-Fallavier",
        "Saint-Quentin-Fallavier",
        "38070",
        45.6430,
        5.1110,
    ),
]

RELAY_POINTS: list[tuple[str, str, str, str, float, float]] = [
    ("RP-PAR-GARENORD", "Relais Paris Gare du Nord", "Paris", "75010", 48.8809, 2.3553),
    ("RP-LYO-CROIXROUSSE", "Relais Lyon Croix-Rousse", "Lyon", "69004", 45.7743, 4.8290),
    ("RP-BOD-CHARTRONS", "Relais Bordeaux Chartrons", "Bordeaux", "33000", 44.8530, -0.5700),
]
