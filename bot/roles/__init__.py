"""Roles and nicknames kept in sync with members' linked accounts."""
