"""Repair tickets (报修): a resident reports, the property assigns a technician, the technician
moves the ticket to done (with a charge paid in the cashier when there is one), the resident
confirms and rates. The door for other packages is `service` (and `figures` for the numbers)."""
