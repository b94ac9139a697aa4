"""The admin dashboard (``/dashboard`` on the vanity domain)."""
