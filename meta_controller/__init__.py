"""meta_controller."""
