"""Typed exchange errors. Each carries the raw code/msg for logs and a sentence a user understands."""

from __future__ import annotations


class ExchangeError(Exception):
    """Base of everything an exchange adapter raises. `str(err)` is the user-facing message."""

    default_message = "The exchange rejected the request"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: int | None = None,
        raw_message: str = "",
        http_status: int | None = None,
        symbol: str | None = None,
    ) -> None:
        self.code = code
        self.raw_message = raw_message
        self.http_status = http_status
        self.symbol = symbol
        super().__init__(message or self._describe())

    def _describe(self) -> str:
        detail = f" ({self.raw_message})" if self.raw_message else ""
        return f"{self.default_message}{detail}"


class AuthenticationError(ExchangeError):
    default_message = "MEXC refused the API credentials"


class InvalidSignature(AuthenticationError):
    default_message = "MEXC rejected the request signature: check the API secret"


class TimestampOutOfWindow(AuthenticationError):
    default_message = "The request timestamp was outside MEXC's receive window: the clock is out of sync"


class ApiKeyInvalid(AuthenticationError):
    default_message = "MEXC does not recognise this API key"


class PermissionDenied(AuthenticationError):
    default_message = "This API key lacks the permission (or IP whitelist entry) for the request"


class OrderRejected(ExchangeError):
    """The exchange refused an order for a business reason; nothing was placed."""

    default_message = "MEXC rejected the order"


class SymbolNotApiTradable(OrderRejected):
    def _describe(self) -> str:
        return f"MEXC does not allow API trading of {self.symbol or 'this symbol'}"


class MarketOrdersDisabled(OrderRejected):
    def _describe(self) -> str:
        return f"MEXC does not accept API market orders on {self.symbol or 'this symbol'}: use a limit order"


class TradingSuspended(OrderRejected):
    def _describe(self) -> str:
        return f"Trading of {self.symbol or 'this symbol'} is suspended on MEXC"


class BelowMinimum(OrderRejected):
    def _describe(self) -> str:
        return f"The order is below MEXC's minimum for {self.symbol or 'this symbol'} ({self.raw_message})"


class AboveMaximum(OrderRejected):
    def _describe(self) -> str:
        return f"The order is above MEXC's maximum for {self.symbol or 'this symbol'}"


class InvalidAmount(OrderRejected):
    default_message = "The order amount has too many decimals or is not positive"


class InsufficientBalance(OrderRejected):
    default_message = "Not enough balance on MEXC for this order"


class PriceOutOfRange(OrderRejected):
    def _describe(self) -> str:
        return f"The price is too far from the market price of {self.symbol or 'this symbol'}"


class TooManyOpenOrders(OrderRejected):
    default_message = "MEXC's limit on open orders was reached"


class UnknownOrder(ExchangeError):
    default_message = "MEXC has no such order (it may be filled, cancelled or never placed)"


class InvalidSymbol(ExchangeError):
    def _describe(self) -> str:
        return f"MEXC does not list the symbol {self.symbol or ''}".rstrip()


class InvalidParameter(ExchangeError):
    default_message = "MEXC rejected a request parameter"


class RateLimited(ExchangeError):
    default_message = "Too many requests to MEXC: slowing down"

    def __init__(self, message: str | None = None, *, retry_after: float = 1.0, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class IpBanned(RateLimited):
    default_message = "MEXC has temporarily banned this IP for exceeding rate limits"


class ExchangeUnavailable(ExchangeError):
    default_message = "MEXC is unavailable right now"


class OutcomeUnknown(ExchangeUnavailable):
    """An order was sent and we could not learn whether it exists. Reconcile by client order id."""

    def __init__(self, message: str | None = None, *, client_order_id: str = "", **kw: object) -> None:
        self.client_order_id = client_order_id
        super().__init__(message, **kw)  # type: ignore[arg-type]

    def _describe(self) -> str:
        return (
            f"MEXC did not confirm order {self.client_order_id}: it may or may not have been placed; "
            "it will be checked again"
        )


_BY_CODE: dict[int, type[ExchangeError]] = {
    602: InvalidSignature,
    700002: InvalidSignature,
    700003: TimestampOutOfWindow,
    10073: TimestampOutOfWindow,
    400: ApiKeyInvalid,
    700001: ApiKeyInvalid,
    10072: ApiKeyInvalid,
    401: PermissionDenied,
    403: PermissionDenied,
    700006: PermissionDenied,
    700007: PermissionDenied,
    30020: PermissionDenied,
    70011: PermissionDenied,
    10007: SymbolNotApiTradable,
    30018: MarketOrdersDisabled,
    30019: MarketOrdersDisabled,
    30051: MarketOrdersDisabled,
    30041: MarketOrdersDisabled,
    30000: TradingSuspended,
    30001: TradingSuspended,
    30016: TradingSuspended,
    30028: TradingSuspended,
    30002: BelowMinimum,
    30003: AboveMaximum,
    30029: TooManyOpenOrders,
    10095: InvalidAmount,
    10096: InvalidAmount,
    10097: InvalidAmount,
    10102: InvalidAmount,
    30004: InsufficientBalance,
    30005: InsufficientBalance,
    10101: InsufficientBalance,
    30087: PriceOutOfRange,
    -2011: UnknownOrder,
    -2013: UnknownOrder,
    30026: UnknownOrder,
    -1121: InvalidSymbol,
    30014: InvalidSymbol,
    30021: InvalidSymbol,
    730001: InvalidSymbol,
    -1128: InvalidParameter,
    33333: InvalidParameter,
    44444: InvalidParameter,
    700005: InvalidParameter,
    700008: InvalidParameter,
    700013: InvalidParameter,
    730002: InvalidParameter,
    429: RateLimited,
    500: ExchangeUnavailable,
    503: ExchangeUnavailable,
    504: ExchangeUnavailable,
}


def error_for(
    code: int | None, raw_message: str, *, http_status: int | None = None, symbol: str | None = None
) -> ExchangeError:
    """Map a MEXC `{code, msg}` body to its typed error."""
    cls: type[ExchangeError] = _BY_CODE.get(code, ExchangeError) if code is not None else ExchangeError
    # 700004 means two things on MEXC: a missing signature, or neither orderId nor origClientOrderId.
    if code == 700004:
        cls = InvalidSignature if "signature" in raw_message.lower() else InvalidParameter
    return cls(code=code, raw_message=raw_message, http_status=http_status, symbol=symbol)
