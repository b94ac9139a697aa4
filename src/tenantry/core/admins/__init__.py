"""Dashboard administrators: their own accounts, sessions and the Principal they act as."""
