"""The community's service marketplace (docs/community-services.md): the property's catalog,
outside merchants admitted with a commission, bookings on ordering's slots paid in the cashier."""
