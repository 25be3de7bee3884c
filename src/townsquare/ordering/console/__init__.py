"""The merchant's order console: the live order board (server-sent events, a sound on new
orders), one order with its actions and timeline, the printable ticket, the kitchen display,
the pickup-code scanner and the sales charts. Pages only: every change goes through
`townsquare.ordering.orders`."""
