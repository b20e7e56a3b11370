"""JSON merge patch (RFC 7396) over stored documents."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.errors import UnprocessableContent, validation_errors

M = TypeVar("M", bound=BaseModel)


def _item_model(annotation: Any) -> type[BaseModel] | None:
    args = getattr(annotation, "__args__", ())
    if getattr(annotation, "__origin__", None) is list and args:
        item = args[0]
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None


def _computed(item: Any) -> bool:
    return isinstance(item, dict) and item.get("origin") == "COMPUTED"


def input_document(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """A stored document cut down to the fields the input model accepts. Computed effects
    are left out: they are derived from the results, and every write derives them again."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in data:
            continue
        value = data[name]
        item = _item_model(info.annotation)
        if item is not None and isinstance(value, list):
            value = [input_document(item, v) if isinstance(v, dict) else v
                     for v in value if not _computed(v)]
        out[name] = value
    return out


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = merge_patch(out.get(name), value)
    return out


def validated(model: type[M], merged: dict[str, Any]) -> M:
    """A patched document validated whole; a 422 names the first field in the body that
    fails (`loc` from "body"), with every failing field in `errors`."""
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        errors = validation_errors(exc.errors())
        for e in errors:
            e["loc"] = ["body", *e["loc"]]
        where = ".".join(str(p) for p in errors[0]["loc"])
        raise UnprocessableContent(f"{where}: {errors[0]['msg']}", errors=errors) from None
