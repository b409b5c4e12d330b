"""Earful dashboard: the Streamlit entry script (page config, navigation, shared sidebar).

Run with `streamlit run dashboard.py` (or `earful up` / `make run`). Pages live
in app_pages/ and are UI only: they read through cached functions in
app_pages/_common.py, which call earful/ for queries and charts.
"""

from __future__ import annotations

import streamlit as st

from app_pages._common import user_picker

st.set_page_config(page_title="Earful", page_icon=":ear:", layout="wide")

pages = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/monitoring:", default=True),
    st.Page("app_pages/mentions.py", title="Mentions", icon=":material/forum:"),
    st.Page("app_pages/queue.py", title="Reply queue", icon=":material/support_agent:"),
    st.Page("app_pages/sources.py", title="Sources", icon=":material/sensors:"),
]
page = st.navigation(pages)
user_picker()
page.run()
