"""Key management for admins: create (the key is shown once), list (without secrets) and
revoke. Every change is audited; a curator or reader key is refused with 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.api.auth import AdminDep
from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, problems
from app.errors import NotFound
from app.schemas.keys import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyRead
from app.services import keys

router = APIRouter(prefix="/keys", tags=["admin"], route_class=SessionRoute)
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", status_code=201, response_class=JSONBytes, response_model=ApiKeyCreated,
             responses=problems(400, 401, 403, 413, 422, 429))
def create_key(body: ApiKeyCreate, admin: AdminDep, session: SessionDep) -> Response:
    """Create a key; the answer holds the key itself, which is never shown again."""
    key, token = keys.create(session, name=body.name, role=body.role, actor_id=admin.id,
                             audited=True)
    shown = ApiKeyCreated.model_validate({**keys.describe(key), "key": token})
    return JSONBytes(shown.model_dump(mode="json"), status_code=201,
                     headers={"Location": f"/api/v1/keys/{key.id}", "Cache-Control": "no-store"})


@router.get("", response_class=JSONBytes, response_model=ApiKeyList,
            responses=problems(400, 401, 403, 429))
def list_keys(_: AdminDep, session: SessionDep) -> Response:
    """List every key, revoked ones too, without any secret."""
    items = [ApiKeyRead.model_validate(keys.describe(k)).model_dump(mode="json")
             for k in keys.list_all(session)]
    return JSONBytes({"items": items})


@router.delete("/{key_id}", response_class=JSONBytes, response_model=ApiKeyRead,
               responses=problems(400, 401, 403, 404, 413, 422, 429))
def revoke_key(key_id: KeyId, admin: AdminDep, session: SessionDep) -> Response:
    """Revoke a key: it stops working at once; its record and audit trail stay."""
    try:
        key = keys.revoke_by_id(session, key_id, actor_id=admin.id)
    except keys.KeyProblem as problem:
        raise NotFound(str(problem)) from None
    return JSONBytes(ApiKeyRead.model_validate(keys.describe(key)).model_dump(mode="json"))
