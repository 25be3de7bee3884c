"""Imports every ORM model so that `Base.metadata` is complete (for Alembic and tests)."""

from townsquare.accounts import models as accounts  # noqa: F401
from townsquare.community import models as community  # noqa: F401
from townsquare.community.bills import models as community_bills  # noqa: F401
from townsquare.community.gate import models as community_gate  # noqa: F401
from townsquare.community.repairs import models as community_repairs  # noqa: F401
from townsquare.community.services import models as community_services  # noqa: F401
from townsquare.core import audit, generations  # noqa: F401
from townsquare.core.database import Base
from townsquare.delivery import models as delivery  # noqa: F401
from townsquare.events import models as events  # noqa: F401
from townsquare.events import rollups as event_rollups  # noqa: F401  (counts ORM-added events)
from townsquare.gateway import models as gateway  # noqa: F401
from townsquare.merchants import models as merchants  # noqa: F401
from townsquare.messaging import models as messaging  # noqa: F401
from townsquare.miniapps import models as miniapps  # noqa: F401
from townsquare.ordering.catalog import models as ordering_catalog  # noqa: F401
from townsquare.ordering.chat import models as ordering_chat  # noqa: F401
from townsquare.ordering.orders import models as ordering_orders  # noqa: F401
from townsquare.ordering.slots import models as ordering_slots  # noqa: F401
from townsquare.ordering.stores import models as ordering_stores  # noqa: F401
from townsquare.payments.funding import models as payments_funding  # noqa: F401
from townsquare.payments.ledger import models as payments_ledger  # noqa: F401
from townsquare.payments.ledger import records as payments_records  # noqa: F401
from townsquare.payments.trades import models as payments_trades  # noqa: F401
from townsquare.payments.wallet import models as payments_wallet  # noqa: F401
from townsquare.scoring import models as scoring  # noqa: F401
from townsquare.scoring.integrity import models as scoring_integrity  # noqa: F401
from townsquare.traffic import models as traffic  # noqa: F401

metadata = Base.metadata
