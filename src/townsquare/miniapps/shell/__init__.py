"""The web shell: the service hub on the home page, opening a listed mini-app in the container
with a signed launch context, and profile consent with its one-time code exchange."""
