"""Merchant console pages for the catalog: categories and products, one product with its SKUs
(price in yuan, stock per store, sold-out switches) and pictures, and the import and export of
the whole catalog. Product pictures are served from the data directory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.errors import NotFound, TownsquareError
from townsquare.core.i18n import N_, current_locale
from townsquare.core.money import fen_to_yuan, yuan_to_fen
from townsquare.core.text import well_formed
from townsquare.ordering import access
from townsquare.ordering.catalog import fields, pictures, sheets, transfer
from townsquare.ordering.catalog import service as catalog
from townsquare.ordering.catalog.models import UNITS, Product
from townsquare.ordering.stores.models import Store
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import attempt, flashes, rejected, see_other, whole_number
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=4000)]
DONE = {
    "category": N_("Category added."),
    "created": N_("Product created. Add its SKUs and pictures next."),
    "saved": N_("Changes saved."),
    "sku": N_("SKU added."),
    "picture": N_("Picture added."),
    "picture_removed": N_("Picture removed."),
}
TYPES = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _stores(db: Session, merchant_id: int) -> list[Store]:
    return list(db.scalars(select(Store).where(Store.merchant_id == merchant_id)
                           .order_by(Store.id)))


def catalog_context(db: Session, user: User, mer_id: str) -> dict[str, Any]:
    merchant = access.merchant(db, actor=user, merchant_id=mer_id)
    return {"merchant": merchant, "categories": catalog.categories_of(db, merchant),
            "products": catalog.products_of(db, actor=user, merchant_id=mer_id),
            "units": UNITS, "yuan": fen_to_yuan, "problems": [], "imported": None}


@router.get("/console/merchant/{mer_id}/catalog", response_class=HTMLResponse)
def catalog_page(request: Request, mer_id: str, user: CurrentUser,
                 db: DbSession) -> HTMLResponse:
    return render(request, "ordering/catalog.html", flashes=flashes(request, DONE), form={},
                  **catalog_context(db, user, mer_id))


def _catalog_form(request: Request, db: Session, user: User, mer_id: str,
                  action: Callable[[], object], done: str, **form: Any) -> Response:
    access.merchant(db, actor=user, merchant_id=mer_id)
    return attempt(request, db, action, template="ordering/catalog.html",
                   context=lambda: catalog_context(db, user, mer_id),
                   done_url=f"/console/merchant/{mer_id}/catalog?ok={done}", form=form)


@router.post("/console/merchant/{mer_id}/catalog/categories")
def add_category(request: Request, mer_id: str, user: FormUser, db: DbSession,
                 name: Text = "") -> Response:
    return _catalog_form(request, db, user, mer_id, lambda: catalog.add_category(
        db, actor=user, merchant_id=mer_id, name=name), "category", category=name)


@router.post("/console/merchant/{mer_id}/catalog/products")
def create_product(request: Request, mer_id: str, user: FormUser, db: DbSession,
                   name: Text = "", category: Text = "", unit: Text = "份") -> Response:
    form = {"name": name, "category": category, "unit": unit}
    try:
        product = catalog.create_product(db, actor=user, merchant_id=mer_id, name=name,
                                         category=category, unit=unit)
    except TownsquareError as exc:
        db.rollback()
        return rejected(request, db, "ordering/catalog.html", exc, form=form,
                        **catalog_context(db, user, mer_id))
    return see_other(f"/console/merchant/{mer_id}/catalog/{product.public_id}?ok=created")


@router.get("/console/merchant/{mer_id}/catalog/export.{fmt}")
def export(mer_id: str, fmt: str, user: CurrentUser, db: DbSession) -> Response:
    if fmt not in TYPES:
        raise NotFound("No such file.")
    data = transfer.export_catalog(db, actor=user, merchant_id=mer_id, fmt=fmt,
                                   english=current_locale.get() == "en")
    return Response(data, media_type=TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="catalog-{mer_id}.{fmt}"'})


@router.post("/console/merchant/{mer_id}/catalog/import", response_class=HTMLResponse)
async def import_file(request: Request, mer_id: str, user: FormUser, db: DbSession,
                      file: Annotated[UploadFile, File()]) -> Response:
    data = await file.read(sheets.MAX_BYTES + 1)
    try:
        imported = transfer.import_catalog(db, actor=user, merchant_id=mer_id, data=data)
    except TownsquareError as exc:
        db.rollback()
        context = catalog_context(db, user, mer_id)
        context["problems"] = getattr(exc, "problems", [])
        return rejected(request, db, "ordering/catalog.html", exc, form={}, **context)
    return render(request, "ordering/catalog.html", form={},
                  **(catalog_context(db, user, mer_id) | {"imported": imported}))


# ---- one product ------------------------------------------------------------------------------


def own_product(db: Session, user: User, mer_id: str, prd_id: str) -> Product:
    merchant = access.merchant(db, actor=user, merchant_id=mer_id)
    product = catalog.get_product(db, actor=user, product_id=prd_id)
    if product.merchant_id != merchant.id:
        raise NotFound("No such product.")
    return product


def product_context(db: Session, user: User, mer_id: str, prd_id: str) -> dict[str, Any]:
    product = own_product(db, user, mer_id, prd_id)
    return {"merchant": access.merchant(db, actor=user, merchant_id=mer_id),
            "product": product, "stores": _stores(db, product.merchant_id),
            "stock": catalog.stock_of(db, list(product.skus)), "units": UNITS,
            "yuan": fen_to_yuan, "options_text": fields.options_text(product.options),
            "available_text": fields.available_text(product.available_from,
                                                    product.available_until)}


@router.get("/console/merchant/{mer_id}/catalog/{prd_id}", response_class=HTMLResponse)
def product_page(request: Request, mer_id: str, prd_id: str, user: CurrentUser,
                 db: DbSession) -> HTMLResponse:
    return render(request, "ordering/product.html", flashes=flashes(request, DONE), form={},
                  **product_context(db, user, mer_id, prd_id))


def _product_form(request: Request, db: Session, user: User, mer_id: str, prd_id: str,
                  action: Callable[[], object], done: str, **form: Any) -> Response:
    own_product(db, user, mer_id, prd_id)
    return attempt(request, db, action, template="ordering/product.html",
                   context=lambda: product_context(db, user, mer_id, prd_id),
                   done_url=f"/console/merchant/{mer_id}/catalog/{prd_id}?ok={done}", form=form)


@router.post("/console/merchant/{mer_id}/catalog/{prd_id}")
def edit_product(request: Request, mer_id: str, prd_id: str, user: FormUser, db: DbSession,
                 name: Text = "", category: Text = "", description: Text = "",
                 unit: Text = "份", options: Text = "", prep_minutes: Text = "0",
                 available: Text = "", active: Text = "", sold_out: Text = "") -> Response:
    def save() -> object:
        catalog.update_product(
            db, actor=user, product_id=prd_id, name=name, category=category,
            description=description, unit=unit, options=options,
            prep_minutes=whole_number(prep_minutes or "0", field="prep_minutes"),
            available=available, active=bool(active))
        return catalog.set_product_sold_out(db, actor=user, product_id=prd_id,
                                            sold_out=bool(sold_out))

    return _product_form(request, db, user, mer_id, prd_id, save, "saved")


@router.post("/console/merchant/{mer_id}/catalog/{prd_id}/skus")
def add_sku(request: Request, mer_id: str, prd_id: str, user: FormUser, db: DbSession,
            code: Text = "", spec: Text = "", price: Text = "") -> Response:
    return _product_form(request, db, user, mer_id, prd_id, lambda: catalog.add_sku(
        db, actor=user, product_id=prd_id, code=code, spec=spec,
        price_fen=yuan_to_fen(price, field="price")), "sku",
        sku={"code": code, "spec": spec, "price": price})


@router.post("/console/merchant/{mer_id}/catalog/{prd_id}/skus/{sku_id}")
async def edit_sku(request: Request, mer_id: str, prd_id: str, sku_id: str, user: FormUser,
                   db: DbSession) -> Response:
    posted = await request.form()
    product = own_product(db, user, mer_id, prd_id)
    stores = _stores(db, product.merchant_id)

    def save() -> object:
        sku = catalog.update_sku(db, actor=user, sku_id=sku_id,
                                 spec=str(posted.get("spec", ""))[:100],
                                 price_fen=yuan_to_fen(str(posted.get("price", ""))[:30],
                                                       field="price"),
                                 sold_out=bool(posted.get("sold_out")))
        if sku.product_id != product.id:
            raise NotFound("No such SKU.")
        for store in stores:
            text = str(posted.get(f"stock_{store.public_id}", ""))[:12]
            catalog.set_stock(db, actor=user, sku_id=sku_id, store_id=store.public_id,
                              quantity=fields.whole(text, field="stock", high=1_000_000))
        return sku

    return _product_form(request, db, user, mer_id, prd_id, save, "saved")


@router.post("/console/merchant/{mer_id}/catalog/{prd_id}/pictures")
async def add_picture(request: Request, mer_id: str, prd_id: str, user: FormUser,
                      db: DbSession, settings: AppSettings,
                      picture: Annotated[UploadFile, File()]) -> Response:
    data = await picture.read(pictures.MAX_BYTES + 1)
    return _product_form(request, db, user, mer_id, prd_id, lambda: pictures.add_picture(
        db, actor=user, product_id=prd_id, data=data, data_dir=settings.data_dir), "picture")


@router.post("/console/merchant/{mer_id}/catalog/{prd_id}/pictures/{pic_id}/remove")
def remove_picture(request: Request, mer_id: str, prd_id: str, pic_id: str, user: FormUser,
                   db: DbSession, settings: AppSettings) -> Response:
    return _product_form(request, db, user, mer_id, prd_id, lambda: pictures.remove_picture(
        db, actor=user, product_id=prd_id, picture_id=pic_id, data_dir=settings.data_dir),
        "picture_removed")


@router.get("/ordering/pictures/{pic_id}.{size}.jpg")
def picture_file(pic_id: str, size: str, settings: AppSettings) -> FileResponse:
    """A product picture (public: residents see it on the menu); long-cached, as a picture's
    id changes whenever the picture does."""
    path = pictures.path_of(settings.data_dir, pic_id, size) if well_formed(pic_id, "pic") \
        else None
    if path is None or not path.is_file():
        raise NotFound("No such picture.")
    return FileResponse(path, media_type="image/jpeg",
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})
