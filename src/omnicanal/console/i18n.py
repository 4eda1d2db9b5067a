"""Every string the console shows, in English and French: one catalogue, one pair per key.

Order statuses are not here: they come from ``omnicanal.orders.wording.describe``, the one
function that says a status to a person. Domain error details stay as the services wrote them.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "fr")

# key: (English, French)
MESSAGES: Mapping[str, tuple[str, str]] = {
    "app.name": ("omnicanal console", "console omnicanal"),
    "nav.skip": ("Skip to content", "Aller au contenu"),
    "nav.label": ("Main menu", "Menu principal"),
    "nav.customers": ("Customers", "Clients"),
    "nav.aisle": ("Endless aisle", "Stock partout"),
    "nav.pickups": ("Click & collect", "Retraits en magasin"),
    "nav.returns": ("Returns desk", "Retours"),
    "nav.dashboard": ("Dashboard", "Tableau de bord"),
    "nav.prices": ("Price audit", "Audit des prix"),
    "nav.routing": ("Routing rules", "Règles d'acheminement"),
    "nav.reviews": ("Review queues", "Files de validation"),
    "nav.pilots": ("Pilot stores", "Magasins pilotes"),
    "lang.switch": ("Français", "English"),
    "auth.sign_in": ("Sign in", "Se connecter"),
    "auth.sign_out": ("Sign out", "Se déconnecter"),
    "auth.email": ("Email", "E-mail"),
    "auth.password": ("Password", "Mot de passe"),
    "auth.failed": (
        "Wrong email or password.",
        "E-mail ou mot de passe incorrect.",
    ),
    "auth.lock_rule": (
        "After {attempts} wrong passwords in a row, an account waits {minutes} minutes.",
        "Après {attempts} mots de passe erronés de suite, un compte attend {minutes} minutes.",
    ),
    "error.forbidden": (
        "You are not allowed to open this page",
        "Vous n'avez pas accès à cette page",
    ),
    "error.csrf": ("This form has expired", "Ce formulaire a expiré"),
    "error.csrf_detail": (
        "Reload the page and send the form again.",
        "Rechargez la page et renvoyez le formulaire.",
    ),
    "error.not_found": ("Not found", "Introuvable"),
    "error.gone": ("No longer available", "N'existe plus"),
    "error.refused": ("This cannot be done", "Action impossible"),
    "error.back": ("Back to the start page", "Retour à l'accueil"),
    # -- common --------------------------------------------------------------------------------
    "common.search": ("Search", "Rechercher"),
    "common.none": ("Nothing to show.", "Rien à afficher."),
    "common.sku": ("SKU", "Référence"),
    "common.title": ("Item", "Article"),
    "common.quantity": ("Quantity", "Quantité"),
    "common.price": ("Price", "Prix"),
    "common.total": ("Total", "Total"),
    "common.status": ("Status", "Statut"),
    "common.channel": ("Channel", "Canal"),
    "common.store": ("Store", "Magasin"),
    "common.date": ("Date", "Date"),
    "common.order": ("Order", "Commande"),
    "common.open": ("Open", "Ouvrir"),
    "common.save": ("Save", "Enregistrer"),
    "common.all": ("All", "Tous"),
    "common.location": ("Location", "Lieu"),
    "common.kind_store": ("store", "magasin"),
    "common.kind_warehouse": ("warehouse", "entrepôt"),
    "common.yes": ("yes", "oui"),
    "common.no": ("no", "non"),
    # -- customers -----------------------------------------------------------------------------
    "customers.title": ("Find a customer", "Trouver un client"),
    "customers.query": (
        "Phone, email, loyalty card or name",
        "Téléphone, e-mail, carte de fidélité ou nom",
    ),
    "customers.results": ("Customers found", "Clients trouvés"),
    "customers.none": (
        "No customer matches. Check the number or ask for another identifier.",
        "Aucun client ne correspond. Vérifiez le numéro ou demandez un autre identifiant.",
    ),
    "customers.name": ("Name", "Nom"),
    "customers.unnamed": ("(no name given)", "(nom non renseigné)"),
    "customers.identifiers": ("Identifiers", "Identifiants"),
    "customers.consents": ("Consents", "Consentements"),
    "customers.consent_granted": ("granted", "accordé"),
    "customers.consent_denied": ("refused", "refusé"),
    "customers.consent_withdrawn": ("withdrawn", "retiré"),
    "customers.consent_lapsed": ("expired", "expiré"),
    "customers.loyalty": ("Loyalty", "Fidélité"),
    "customers.points": ("Points", "Points"),
    "customers.tier": ("Tier", "Palier"),
    "customers.no_loyalty": ("No loyalty account.", "Pas de compte fidélité."),
    "customers.orders": ("Orders, every channel", "Commandes, tous canaux"),
    "customers.returns": ("Returns", "Retours"),
    "customers.timeline": ("Recent activity", "Activité récente"),
    "customers.cart": ("Web cart", "Panier web"),
    "customers.no_cart": ("No open cart.", "Aucun panier en cours."),
    "customers.add_line": ("Add to the cart", "Ajouter au panier"),
    "customers.handoff": (
        "Send the cart to the customer's phone",
        "Envoyer le panier sur le mobile du client",
    ),
    "customers.handoff_code": ("Code for the customer", "Code pour le client"),
    "customers.handoff_done": (
        "The customer opens the cart with code {code}.",
        "Le client ouvre le panier avec le code {code}.",
    ),
    "customers.line_added": ("Added to the customer's cart.", "Ajouté au panier du client."),
    "customers.suggestions": ("Suggestions", "Suggestions"),
    "customers.no_suggestions": ("No suggestion yet.", "Pas encore de suggestion."),
    # -- endless aisle -------------------------------------------------------------------------
    "aisle.title": ("Endless aisle", "Stock partout"),
    "aisle.query": ("SKU or text", "Référence ou texte"),
    "aisle.stock": ("Stock everywhere", "Stock dans tous les lieux"),
    "aisle.available": ("Available", "Disponible"),
    "aisle.on_hand": ("On hand", "En stock"),
    "aisle.here": ("this store", "ce magasin"),
    "aisle.where": ("Kind, city", "Type, ville"),
    "aisle.order": ("Order for the customer", "Commander pour le client"),
    "aisle.method": ("Delivery", "Livraison"),
    "aisle.home": ("Home delivery", "Livraison à domicile"),
    "aisle.pickup": ("Pickup in another store", "Retrait dans un autre magasin"),
    "aisle.pickup_store": ("Pickup store", "Magasin de retrait"),
    "aisle.customer_email": ("Customer email", "E-mail du client"),
    "aisle.customer_phone": ("Customer phone", "Téléphone du client"),
    "aisle.address_name": ("Name on the parcel", "Nom du destinataire"),
    "aisle.address_line1": ("Address", "Adresse"),
    "aisle.postcode": ("Postcode", "Code postal"),
    "aisle.city": ("City", "Ville"),
    "aisle.place": ("Place the order", "Passer la commande"),
    "aisle.placed": ("Order {order} placed.", "Commande {order} passée."),
    # -- orders --------------------------------------------------------------------------------
    "order.title": ("Order {order}", "Commande {order}"),
    "order.lines": ("Lines", "Lignes"),
    "order.groups": ("Fulfilment", "Préparation et livraison"),
    "order.method": ("Method", "Mode"),
    "order.events": ("History", "Historique"),
    # -- click & collect -----------------------------------------------------------------------
    "pickups.title": ("Click & collect at {store}", "Retraits à {store}"),
    "pickups.to_prepare": ("To prepare", "À préparer"),
    "pickups.ready": ("Waiting at the counter", "En attente au comptoir"),
    "pickups.promised": ("Promised by", "Promis pour"),
    "pickups.no_show_at": ("No-show after", "Non retiré après"),
    "pickups.start": ("Start picking", "Commencer la préparation"),
    "pickups.mark_ready": ("Ready for pickup", "Prête à être retirée"),
    "pickups.hand_over": ("Hand over", "Remettre au client"),
    "pickups.code": ("Pickup code the customer shows", "Code de retrait présenté par le client"),
    "pickups.no_show": ("Not collected: release", "Non retirée : remettre en vente"),
    "pickups.no_show_confirm": (
        "Release the items back on sale?",
        "Remettre les articles en vente ?",
    ),
    "pickups.empty": ("Nothing waiting.", "Rien en attente."),
    "pickups.collected": ("Handed over: order {order}.", "Remise effectuée : commande {order}."),
    "pickups.moved": ("Order {order}: {status}.", "Commande {order} : {status}."),
    "pickups.detail": ("Pickup {group}", "Retrait {group}"),
    # -- returns desk --------------------------------------------------------------------------
    "returns.title": ("Returns desk", "Retours"),
    "returns.find": ("Order number", "Numéro de commande"),
    "returns.lines": ("What comes back", "Articles retournés"),
    "returns.reason": ("Reason", "Motif"),
    "returns.condition": ("Condition", "État"),
    "returns.outcome": ("The customer leaves with", "Le client repart avec"),
    "returns.refund": ("A refund", "Un remboursement"),
    "returns.store_credit": ("A credit note", "Un avoir"),
    "returns.exchange": ("An exchange", "Un échange"),
    "returns.exchange_sku": ("Exchange for SKU", "Échanger contre la référence"),
    "returns.exchange_ideas": ("Exchange ideas in this store", "Idées d'échange dans ce magasin"),
    "returns.submit": ("Take the return", "Enregistrer le retour"),
    "returns.done": ("Return {ret}: {status}.", "Retour {ret} : {status}."),
    "returns.detail": ("Return {ret}", "Retour {ret}"),
    "returns.refund_amount": ("Refund", "Remboursement"),
    "returns.credit_note": ("Credit note", "Avoir"),
    "returns.exchange_order": ("Exchange order", "Commande d'échange"),
    "returns.status_completed": ("completed", "terminé"),
    "returns.status_in_review": ("waiting for review", "en attente de validation"),
    "returns.status_rejected": ("refused", "refusé"),
    "returns.reason_too_small": ("too small", "trop petit"),
    "returns.reason_too_large": ("too large", "trop grand"),
    "returns.reason_not_as_described": ("not as described", "non conforme"),
    "returns.reason_damaged": ("damaged", "abîmé"),
    "returns.reason_changed_mind": ("changed mind", "changement d'avis"),
    "returns.reason_wrong_item": ("wrong item", "mauvais article"),
    "returns.reason_other": ("other", "autre"),
    "returns.condition_sellable": ("as new, back on sale", "comme neuf, remis en vente"),
    "returns.condition_damaged": ("damaged", "abîmé"),
    "returns.condition_opened": ("opened, to check", "ouvert, à vérifier"),
    "returns.nothing": (
        "Give a quantity for at least one line.",
        "Indiquez une quantité pour au moins une ligne.",
    ),
    # -- head office ---------------------------------------------------------------------------
    "dashboard.title": ("KPI dashboard", "Tableau de bord des indicateurs"),
    "dashboard.kpi": ("Indicator", "Indicateur"),
    "dashboard.group_by": ("Compare by", "Comparer par"),
    "dashboard.by_channel": ("channel", "canal"),
    "dashboard.by_store": ("store", "magasin"),
    "dashboard.by_day": ("day", "jour"),
    "dashboard.start": ("From", "Du"),
    "dashboard.end": ("To (excluded)", "Au (exclu)"),
    "dashboard.apply": ("Show", "Afficher"),
    "dashboard.value": ("Value", "Valeur"),
    "dashboard.numerator": ("Numerator", "Numérateur"),
    "dashboard.denominator": ("Denominator", "Dénominateur"),
    "dashboard.formula": ("Formula", "Formule"),
    "dashboard.group": ("Group", "Groupe"),
    "dashboard.whole": ("whole period", "toute la période"),
    "dashboard.unavailable": (
        "The indicators are not available yet.",
        "Les indicateurs ne sont pas encore disponibles.",
    ),
    "dashboard.chart": ("{kpi} by {group}", "{kpi} par {group}"),
    "prices.title": ("Price audit", "Audit des prix"),
    "prices.base": ("Base price", "Prix de base"),
    "prices.context_price": ("Price here", "Prix ici"),
    "prices.expected": ("Expected", "Attendu"),
    "prices.justified": ("Justified", "Justifié"),
    "prices.problem": ("Why not", "Pourquoi"),
    "prices.source": ("Source", "Source"),
    "prices.where": ("Where", "Où"),
    "prices.unjustified_only": ("Unjustified only", "Non justifiés seulement"),
    "prices.all_same": (
        "Every price is the same on every channel.",
        "Tous les prix sont identiques sur tous les canaux.",
    ),
    "routing.title": ("Routing rules", "Règles d'acheminement"),
    "routing.version": ("Version {version}", "Version {version}"),
    "routing.saved": (
        "Routing rules saved (version {version}).",
        "Règles enregistrées (version {version}).",
    ),
    "routing.cost_per_km_minor": (
        "Transport cost per km (cents)",
        "Coût de transport par km (centimes)",
    ),
    "routing.handling_warehouse": (
        "Handling cost, warehouse (cents)",
        "Coût de préparation, entrepôt (centimes)",
    ),
    "routing.handling_store": (
        "Handling cost, store (cents)",
        "Coût de préparation, magasin (centimes)",
    ),
    "routing.split_penalty_minor": (
        "Cost of each extra parcel (cents)",
        "Coût de chaque colis en plus (centimes)",
    ),
    "routing.max_distance_km": (
        "Maximum distance (km, empty: none)",
        "Distance maximale (km, vide : aucune)",
    ),
    "routing.allow_split": ("Allow split shipments", "Autoriser les envois fractionnés"),
    "routing.max_groups": ("Most parcels per order", "Nombre maximal de colis par commande"),
    "routing.allow_backorder": ("Allow back-orders", "Autoriser les commandes en attente de stock"),
    "routing.use_optimizer": ("Use the optimiser", "Utiliser l'optimiseur"),
    "routing.no_show_after_hours": (
        "Release uncollected pickups after (hours)",
        "Remettre en vente les retraits non effectués après (heures)",
    ),
    "routing.try_in_store_hours": (
        "Reserve-and-try hold (hours)",
        "Durée de réservation pour essayage (heures)",
    ),
    "reviews.title": ("Review queues", "Files de validation"),
    "reviews.duplicates": ("Probable duplicate customers", "Doublons probables de clients"),
    "reviews.returns": ("Returns waiting for review", "Retours en attente de validation"),
    "reviews.probability": ("Match probability", "Probabilité"),
    "reviews.why": ("Why", "Pourquoi"),
    "reviews.merge": ("Same person: merge", "Même personne : fusionner"),
    "reviews.not_same": ("Not the same person", "Personnes différentes"),
    "reviews.approve": ("Approve", "Accepter"),
    "reviews.reject": ("Reject", "Refuser"),
    "reviews.reject_reason": ("Reason told to the customer", "Motif communiqué au client"),
    "reviews.done": ("Decision recorded.", "Décision enregistrée."),
    "reviews.reasons": ("Review reasons", "Raisons de la validation"),
    "pilots.title": ("Pilot stores and control stores", "Magasins pilotes et magasins témoins"),
    "pilots.feature": ("Feature", "Fonctionnalité"),
    "pilots.pilot_stores": ("Pilot stores", "Magasins pilotes"),
    "pilots.control_stores": ("Control stores", "Magasins témoins"),
    "pilots.compare": ("Compare", "Comparer"),
    "pilots.pilot": ("pilot", "pilote"),
    "pilots.control": ("control", "témoin"),
    "pilots.lift": ("Difference", "Écart"),
    "pilots.none": ("No pilot yet.", "Aucun pilote pour l'instant."),
}


class Translator:
    """``t("key")`` or ``t("key", order="ord_…")``: the catalogue's string in one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"
        self._index = LANGUAGES.index(self.lang)

    def __call__(self, key: str, **values: object) -> str:
        pair = MESSAGES.get(key)
        if pair is None:
            raise KeyError(f"console message {key!r} is missing from console/i18n.py")
        text = pair[self._index]
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in MESSAGES


_TRANSLATORS = {lang: Translator(lang) for lang in LANGUAGES}


def translator(lang: str) -> Translator:
    return _TRANSLATORS.get(lang, _TRANSLATORS["en"])
