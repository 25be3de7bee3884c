"""The community pass: residents, households, health status, gate passes and notices."""
