"""Messages between a resident and a shop, about one order or about the mini-app itself.

`service` is the door (start or open a conversation, write, answer, read); `pages` are the
resident's thread under /me/orders/{ord}/messages (and /me/messages) and the merchant's inbox at
/console/merchant/{mer}/messages. A shop's answer to a waiting resident records how long the
resident waited as a `message_response` behaviour event, which scoring reads."""
