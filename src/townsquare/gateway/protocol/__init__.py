"""The Alipay open-platform protocol, pure: parameters, signatures, signed responses, error codes.
No database and no web framework here, so it is unit-tested on its own."""
