"""Orders: carts, checkout, the order state machine, pickup numbers and codes, and the events
scoring reads (docs/ordering.md, "Orders"). Other packages and pages use these names only."""

from townsquare.ordering.orders.cart import (
    CartLineView,
    CartView,
    cart_for,
    choose_store,
    clear_cart,
    remove_line,
    set_line,
    view_cart,
)
from townsquare.ordering.orders.checkout import (
    DeliveryAddress,
    Quote,
    place,
    quote,
    set_commission_provider,
    set_discount_provider,
)
from townsquare.ordering.orders.errors import (
    AlreadyRated,
    BelowMinimum,
    EmptyCart,
    KindNotOffered,
    NotAShop,
    OrderNotFound,
    OrderStateError,
    PickupCodeInvalid,
    PriceChanged,
    StoreNotChosen,
)
from townsquare.ordering.orders.labels import (
    CANCELLED_BY_LABELS,
    COMPLAINT_LABELS,
    KIND_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    reason_label,
    status_label,
)
from townsquare.ordering.orders.models import (
    ENDED,
    Cart,
    CartLine,
    Order,
    OrderComplaint,
    OrderEvent,
    OrderLine,
    OrderReview,
    OrderStatus,
)
from townsquare.ordering.orders.pickup import pickup_code
from townsquare.ordering.orders.pricing import Discount
from townsquare.ordering.orders.service import (
    COMPLAINT_CATEGORIES,
    accept,
    cancel_by_merchant,
    cancel_by_resident,
    changes_since,
    complain,
    confirm_received,
    delivered,
    dispatch,
    for_merchant,
    get_for_merchant,
    get_for_resident,
    hand_over,
    mine,
    rate,
    ready,
    reject,
    reorder,
    review_of,
    start,
    timeline,
)
from townsquare.ordering.orders.shop import ShopSettings, stores_of
from townsquare.ordering.orders.shop import shop as shop_settings
from townsquare.ordering.slots.holds import OutOfStock, SlotFull, SlotNotOffered, SoldOut
from townsquare.ordering.stores.service import OutsideZones

__all__ = [
    "CANCELLED_BY_LABELS", "COMPLAINT_LABELS", "KIND_LABELS", "REASON_LABELS", "STATUS_LABELS",
    "reason_label", "status_label",
    "COMPLAINT_CATEGORIES", "ENDED", "AlreadyRated", "BelowMinimum", "Cart", "CartLine",
    "CartLineView", "CartView", "DeliveryAddress", "Discount", "EmptyCart", "KindNotOffered",
    "NotAShop",
    "Order", "OrderComplaint", "OrderEvent", "OrderLine", "OrderNotFound", "OrderReview",
    "OrderStateError", "OrderStatus", "OutOfStock", "OutsideZones", "PickupCodeInvalid",
    "PriceChanged", "Quote", "ShopSettings", "SlotFull", "SlotNotOffered", "SoldOut",
    "StoreNotChosen", "accept", "cancel_by_merchant", "cancel_by_resident", "cart_for",
    "changes_since", "choose_store", "clear_cart", "complain", "confirm_received", "delivered",
    "dispatch", "for_merchant", "get_for_merchant", "get_for_resident", "hand_over", "mine",
    "pickup_code", "place", "quote", "rate", "ready", "reject", "remove_line", "reorder",
    "review_of", "set_commission_provider", "set_discount_provider", "set_line",
    "shop_settings", "start", "stores_of",
    "timeline", "view_cart",
]
