"""Categories of local service: anyone may list them; operators create, rename and mark them urgent.

An urgent category (e.g. locksmiths, medicine delivery) sends its mini-apps through the
expedited review lane; the miniapps package reads `Category.urgent` for that.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.text import clean_name
from townsquare.merchants.models import Category

CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


def _check_code(code: str) -> str:
    code = (code or "").strip()
    if not CODE.match(code):
        raise ValidationFailed(
            "A category code is 2 to 32 lower-case letters, digits or underscores, "
            "starting with a letter.",
            field="code",
        )
    return code


def list_categories(db: Session) -> list[Category]:
    """Every category, in code order (public: the hub and the forms need them)."""
    return list(db.scalars(select(Category).order_by(Category.code)))


def get_category(db: Session, *, code: str) -> Category:
    """The category with this code, or NotFound."""
    found = None
    if CODE.match(code or ""):
        found = db.scalar(select(Category).where(Category.code == code))
    if found is None:
        raise NotFound("No such category: {category}.", category=(code or "")[:32])
    return found


def create_category(
    db: Session, *, actor: User | None, code: str, name_zh: str, name_en: str, urgent: bool = False
) -> Category:
    """A new category (operators only); codes are unique."""
    require_role(actor, Role.OPERATOR)
    code = _check_code(code)
    name_zh = clean_name(name_zh, field="name_zh", max_length=32)
    name_en = clean_name(name_en, field="name_en", max_length=48)
    if db.scalar(select(func.count()).select_from(Category).where(Category.code == code)):
        raise Conflict("The category code {category} is taken.", category=code)
    category = Category(code=code, name_zh=name_zh, name_en=name_en, urgent=urgent)
    db.add(category)
    db.flush()
    audit.record(
        db, actor_id=actor.id if actor else None, action="category.create",
        subject_type="category", subject_id=code, urgent=urgent,
    )
    return category


def rename_category(
    db: Session, *, actor: User | None, code: str, name_zh: str, name_en: str
) -> Category:
    """Change a category's Chinese and English names (operators only)."""
    require_role(actor, Role.OPERATOR)
    category = get_category(db, code=code)
    name_zh = clean_name(name_zh, field="name_zh", max_length=32)
    name_en = clean_name(name_en, field="name_en", max_length=48)
    audit.record(
        db, actor_id=actor.id if actor else None, action="category.rename",
        subject_type="category", subject_id=category.code,
        before=[category.name_zh, category.name_en], after=[name_zh, name_en],
    )
    category.name_zh, category.name_en = name_zh, name_en
    db.flush()
    return category


def set_urgent(db: Session, *, actor: User | None, code: str, urgent: bool) -> Category:
    """Mark a category urgent (expedited review lane) or not (operators only)."""
    require_role(actor, Role.OPERATOR)
    category = get_category(db, code=code)
    if category.urgent != urgent:
        category.urgent = urgent
        audit.record(
            db, actor_id=actor.id if actor else None, action="category.urgent",
            subject_type="category", subject_id=category.code, urgent=urgent,
        )
        db.flush()
    return category


def update_category(
    db: Session,
    *,
    actor: User | None,
    code: str,
    name_zh: str | None = None,
    name_en: str | None = None,
    urgent: bool | None = None,
) -> Category:
    """Change any of a category's names and urgency (operators only); omitted fields stay."""
    require_role(actor, Role.OPERATOR)
    category = get_category(db, code=code)
    if name_zh is not None or name_en is not None:
        rename_category(
            db, actor=actor, code=code, name_zh=category.name_zh if name_zh is None else name_zh,
            name_en=category.name_en if name_en is None else name_en,
        )
    if urgent is not None:
        set_urgent(db, actor=actor, code=code, urgent=urgent)
    return category
