"""e2sim."""
