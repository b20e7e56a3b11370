"""Saved searches and their webhook deliveries."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["subscriptions"])
