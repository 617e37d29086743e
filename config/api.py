"""The one NinjaAPI. Each app adds its Router here."""

from ninja import NinjaAPI

api = NinjaAPI(title="Brute API", version="1", urls_namespace="api")
