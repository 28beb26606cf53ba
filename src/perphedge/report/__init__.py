"""Rendering: terminal tables, JSON and HTML reports. No domain math lives here."""
