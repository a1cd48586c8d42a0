"""Clinic administration: the team and its accounts, clinic settings and templates (``team``); adding a clinic,
and who works in and administers each (``clinics``); the audit trail (``audit``). Admin is a role per clinic
(docs/security.md 29)."""

from __future__ import annotations

from rehab.views.admin import audit, clinics, team  # noqa: F401  (their routes register on the blueprint)
from rehab.views.admin.blueprint import bp

__all__ = ["bp"]
