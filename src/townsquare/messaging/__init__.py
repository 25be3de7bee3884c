"""Platform messaging: subscribe-once template messages from mini-apps to a user's inbox."""
