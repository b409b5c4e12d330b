"""Mentions page (being built)."""

from __future__ import annotations

import streamlit as st

st.title("Mentions")
st.info("This page is being built.")
