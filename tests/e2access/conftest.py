"""The OSC-path fixtures live with the stand-in's tests (tests/osc_platform/conftest.py)."""
