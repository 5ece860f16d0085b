"""Tests of the SQLAlchemy storage adapter."""
