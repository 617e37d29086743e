"""Shared by the service modules: the one refusal helper (config/errors.py), where orders.py has it."""

from __future__ import annotations

from config.errors import refuse

__all__ = ["refuse"]
