"""Community pass pages: the resident pages and the staff console (routers in their modules;
the gate's pages, gate/pages.py, are a router module of their own in web/app.py)."""

from __future__ import annotations

from fastapi import APIRouter

from townsquare.community import resident_pages, staff_pages

router = APIRouter(include_in_schema=False)
# Staff first: its fixed paths (/community/staff, /community/committee) must win over
# the resident home's /community/{community_id}.
router.include_router(staff_pages.router)
router.include_router(resident_pages.router)
