"""MEXC error answers (fact sheet sections 2 and 4): ``{"code", "msg"}`` bodies, HTTP 400 unless noted."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def api_key_required() -> ApiError:
    return ApiError(400, "api key required")


def bad_key_format() -> ApiError:
    return ApiError(700001, "API-key format invalid.")


def bad_signature() -> ApiError:
    return ApiError(700002, "Signature for this request is not valid.")


def stale_timestamp() -> ApiError:
    return ApiError(700003, "Timestamp for this request is outside of the recvWindow.")


def missing_signature() -> ApiError:
    return ApiError(700004, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")


def missing_order_ref() -> ApiError:
    return ApiError(700004, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")


def recv_window_too_big() -> ApiError:
    return ApiError(700005, "recvWindow must less than 60000")


def no_permission() -> ApiError:
    return ApiError(700007, "No permission to access the endpoint.")


def unknown_key() -> ApiError:
    return ApiError(10072, "Api key info invalid")


def invalid_symbol() -> ApiError:
    return ApiError(-1121, "Invalid symbol.")


def symbol_not_api() -> ApiError:
    return ApiError(10007, "symbol not support api")


def param_error(detail: str) -> ApiError:
    return ApiError(33333, f"Parameter error: {detail}")


def param_missing(name: str) -> ApiError:
    return ApiError(44444, f"param cannot be null: {name}")


def unknown_order_cancel() -> ApiError:
    return ApiError(-2011, "Unknown order sent.")


def unknown_order_query() -> ApiError:
    return ApiError(-2013, "Order does not exist.")


def too_many_requests() -> ApiError:
    return ApiError(429, "Too Many Requests", status=429)


def banned() -> ApiError:
    return ApiError(418, "IP banned for repeatedly exceeding the rate limit", status=418)
