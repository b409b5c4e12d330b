"""Queue page (being built)."""

from __future__ import annotations

import streamlit as st

st.title("Queue")
st.info("This page is being built.")
