"""Money as integer minor units with an ISO 4217 currency. Never float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from omnicanal.shared.errors import InvalidInput

# ISO 4217 minor-unit exponents for the currencies a European retailer meets; default 2.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "BHD": 3, "KWD": 3, "TND": 3}
_KNOWN = frozenset(
    {"EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN"}
    | {"CAD", "AUD", "JPY", "KRW", "ISK", "CLP", "BHD", "KWD", "TND", "MAD"}
)


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def check_currency(currency: str, *, field: str = "currency") -> str:
    code = currency.strip().upper()
    if code not in _KNOWN:
        raise InvalidInput(
            f"Unknown currency {currency!r}; use an ISO 4217 code such as EUR.", field=field
        )
    return code


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str, *, field: str = "amount") -> Money:
        code = check_currency(currency)
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            raise InvalidInput(f"{amount!r} is not a decimal amount.", field=field) from None
        if not value.is_finite():
            raise InvalidInput(f"{amount!r} is not a finite amount.", field=field)
        exp = exponent(code)
        quantum = Decimal(1).scaleb(-exp)
        if value != value.quantize(quantum, rounding=ROUND_HALF_EVEN):
            raise InvalidInput(f"{amount} has more than {exp} decimals for {code}.", field=field)
        return cls(int(value.scaleb(exp)), code)

    @property
    def amount(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def __str__(self) -> str:
        return f"{self.amount:.{exponent(self.currency)}f} {self.currency}"

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.minor * quantity, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidInput(f"Cannot combine {self.currency} and {other.currency} amounts.")
