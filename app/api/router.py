"""Every route of the API."""

from fastapi import APIRouter

from app.api.routes import catalog, dashboard, evidence, exchange, ops, studies

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(studies.router)
api_router.include_router(catalog.router)
api_router.include_router(evidence.router)
api_router.include_router(exchange.router)

root_router = APIRouter()
root_router.include_router(ops.router)
root_router.include_router(dashboard.router)
