"""Faults a test can queue for the HTTP side: 5xx (before or after the work is done), delays, 429s."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

SERVER_ERRORS = {
    500: "Internal error",
    502: "Bad Gateway",
    503: "service not available",
    504: "Gateway Time-out",
}


@dataclass
class Fault:
    path: str
    method: str | None
    remaining: int
    status: int = 0
    # True: the request is processed (an order is placed) and the client still gets the 5xx.
    after_processing: bool = False
    delay: float = 0.0
    rate_limited: bool = False
    # Answer -2013 "Order does not exist." (the order may well exist).
    unknown_order: bool = False
    # After answering, move this symbol's market to this price (the book moves under the caller).
    move_to: tuple[str, Decimal] | None = None
    # Only requests about this symbol (None: any).
    symbol: str | None = None

    def matches(self, method: str, path: str, symbol: str | None = None) -> bool:
        if self.symbol is not None and symbol != self.symbol:
            return False
        if self.unknown_order:
            return path == self.path and self.method in (None, method)
        return path.startswith(self.path) and self.method in (None, method)


@dataclass
class Faults:
    queued: list[Fault] = field(default_factory=list)

    def add(self, fault: Fault) -> None:
        self.queued.append(fault)

    def take(self, method: str, path: str, symbol: str | None = None) -> Fault | None:
        for fault in self.queued:
            if fault.matches(method, path, symbol):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.queued.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self.queued.clear()


def server_error_body(status: int) -> dict[str, object]:
    return {"code": status, "msg": SERVER_ERRORS.get(status, "Internal error")}
