"""Tests of xapps.agent."""
