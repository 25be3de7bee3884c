"""Why a cart, a checkout or an order transition is refused: each with a stable code (the
holds' own refusals, SlotFull, SoldOut …, come from `ordering.slots.holds`)."""

from __future__ import annotations

from townsquare.core.errors import Conflict, NotFound, TownsquareError, ValidationFailed


class NotAShop(NotFound):
    code = "not_a_shop"


class OrderNotFound(NotFound):
    code = "order_not_found"


class OrderStateError(Conflict):
    """The order is not in a status this transition may leave (or someone else moved it)."""

    code = "order_state"


class PriceChanged(Conflict):
    code = "price_changed"


class EmptyCart(TownsquareError):
    code = "empty_cart"
    status = 422


class BelowMinimum(TownsquareError):
    code = "below_minimum"
    status = 422


class KindNotOffered(TownsquareError):
    code = "kind_not_offered"
    status = 422


class StoreNotChosen(TownsquareError):
    code = "store_not_chosen"
    status = 422


class PickupCodeInvalid(ValidationFailed):
    code = "pickup_code_invalid"


class AlreadyRated(Conflict):
    code = "already_rated"
