"""Every route of the API."""

from fastapi import APIRouter, Depends

from app.api.auth import read_access
from app.api.deps import single_values
from app.api.routes import (
    admin,
    appraisal,
    catalog,
    compat,
    dashboard,
    deliveries,
    evidence,
    exchange,
    feed,
    flags,
    imports,
    network,
    ops,
    profiles,
    publications,
    studies,
    subscriptions,
    synthesis,
)

# Every route reads the key (if any) and refuses a one-value parameter given twice.
api_router = APIRouter(prefix="/api/v1",
                       dependencies=[Depends(read_access), Depends(single_values)])
api_router.include_router(studies.router)
api_router.include_router(publications.router)
api_router.include_router(catalog.router)
api_router.include_router(imports.router)
api_router.include_router(evidence.router)
api_router.include_router(appraisal.router)
api_router.include_router(flags.router)
api_router.include_router(profiles.router)
api_router.include_router(network.router)
api_router.include_router(exchange.router)
api_router.include_router(admin.router)
api_router.include_router(synthesis.router)
api_router.include_router(feed.router)
api_router.include_router(subscriptions.router)
api_router.include_router(deliveries.router)

root_router = APIRouter()
root_router.include_router(ops.router)
root_router.include_router(compat.ctgov_router)
root_router.include_router(compat.fhir_router)
root_router.include_router(dashboard.router)
