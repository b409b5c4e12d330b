"""Earful: hear what customers say about your brand on public social networks."""

__version__ = "0.1.0"
