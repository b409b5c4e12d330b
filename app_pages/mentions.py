"""Mentions (marketers): filter, read and download what people say. The table is paged in SQL;
counts, aggregates and the CSV share one `MentionFilter` (earful.queries), so they agree."""

from __future__ import annotations

import streamlit as st

from app_pages._common import (
    db_url,
    demo_badge,
    display_tz,
    empty_state,
    escape_md,
    get_settings,
    get_store,
    period_picker,
    read,
    safe_url,
    show_post_text,
    source_warnings,
)
from earful import charts
from earful.export import export_bytes
from earful.models import INTENTS, LABELS
from earful.queries import AUTHORS_WINDOW, MentionFilter, top_hashtags, top_links, top_terms

PAGE_SIZE = 50
DOWNLOAD_MAX = 100_000  # rows; the file is built in the dashboard's memory
SAMPLE = 2000  # newest texts used for terms, hashtags and links

settings = get_settings()
url = db_url()
tz = display_tz(settings)
entities = list(settings.entities())

st.title("Mentions")


def _filters() -> MentionFilter:
    c = st.columns([2, 2, 2, 2])
    period = period_picker("mn_", container=c[0])
    seen = read(url, "known_platforms", period.start)
    chosen = st.session_state.get("mn_platforms") or []
    options = sorted({*seen, *chosen, *(s.platform for s in settings.sources)})
    platforms = c[1].multiselect("Platform", options, key="mn_platforms")
    labels = c[2].multiselect("Sentiment", list(LABELS), key="mn_labels")
    intents = c[3].multiselect("Intent", list(INTENTS), key="mn_intents")
    c = st.columns([2, 3, 1, 2])
    ents = c[0].multiselect("Brand or competitor", entities, key="mn_entities")
    search = c[1].text_input("Search text", key="mn_search", placeholder='words or "a phrase"')
    min_f = c[2].number_input("Min. followers", min_value=0, step=100, key="mn_minf")
    langs = c[3].multiselect("Language", read(url, "distinct_languages"), key="mn_langs")
    return MentionFilter(
        since=period.start,
        until=period.end,
        platforms=tuple(platforms),
        labels=tuple(labels),
        intents=tuple(intents),
        entities=tuple(ents),
        search=search.strip(),
        min_followers=int(min_f) or None,
        langs=tuple(langs),
    )


def _table(f: MentionFilter, total: int) -> None:
    pages = max(1, -(-total // PAGE_SIZE))
    if st.session_state.get("mn_last_filter") != f:  # a new filter starts at page 1
        st.session_state["mn_last_filter"] = f
        st.session_state["mn_page"] = 1
    elif st.session_state.get("mn_page", 1) > pages:
        st.session_state["mn_page"] = pages
    nav = st.columns([1, 4])
    page = int(nav[0].number_input(f"Page (of {pages:,})", 1, pages, key="mn_page"))
    if st.session_state.get("mn_last_view") != (f, page):  # another page: nothing selected
        st.session_state["mn_last_view"] = (f, page)
        st.session_state.pop("mn_table", None)
    first = (page - 1) * PAGE_SIZE
    rows = read(url, "list_mentions", f, limit=PAGE_SIZE, offset=first)
    nav[1].caption(
        f"Newest first: rows {first + 1:,}–{first + len(rows):,} of {total:,}. "
        "Select a row to read the whole post."
    )
    view = rows.assign(
        created_at=rows["created_at"].map(lambda t: t.astimezone(tz).strftime("%Y-%m-%d %H:%M")),
        url=rows["url"].map(safe_url),
    )
    event = st.dataframe(
        view.drop(columns=["id", "is_demo"]),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="mn_table",
        column_order=[
            "created_at",
            "matched",
            "label",
            "text",
            "author",
            "author_followers",
            "platform",
            "intent",
            "compound",
            "lang",
            "url",
        ],
        column_config={
            "created_at": st.column_config.TextColumn(f"When ({tz.key})"),
            "author_followers": st.column_config.NumberColumn("Followers", format="%d"),
            "matched": "About",
            "label": "Sentiment",
            "author": "Author",
            "platform": "Platform",
            "intent": "Intent",
            "lang": "Lang",
            "compound": st.column_config.NumberColumn("Score", format="%.2f"),
            "text": st.column_config.TextColumn("Text", width="large"),
            "url": st.column_config.LinkColumn("Link", display_text="open"),
        },
    )
    sel = event.selection.rows if event and event.selection else []
    if sel and sel[0] < len(rows):
        m = read(url, "get_mention", int(rows.iloc[sel[0]]["id"]))
        if m:
            with st.container(border=True):
                st.caption(
                    f"{escape_md(m['platform'])} · {escape_md(m['author'])} · "
                    f"{m['author_followers'] or 0:,} followers · {m['label']} · {m['intent'] or '–'}"
                )
                show_post_text(m["text"])
                link = safe_url(m["url"])
                if link:
                    st.link_button("Open the original", link)


@st.fragment(run_every=settings.dashboard.refresh)
def mentions_page() -> None:
    f = _filters()
    source_warnings(url)
    counts = read(url, "label_counts", f)
    total = sum(counts.values())
    if total == 0:
        if read(url, "count_mentions") == 0:
            empty_state("no_sources" if not settings.sources else "no_mentions")
        else:
            empty_state("no_match")
        return
    head = st.columns([3, 1])
    head[0].markdown(f"**{total:,}** mentions match")
    with head[0]:
        demo_badge(read(url, "has_demo"))
    store = get_store(url)
    too_many = total > DOWNLOAD_MAX
    head[1].download_button(
        f"Download CSV ({total:,} rows)",
        data=lambda: export_bytes(store, f),
        file_name="earful-mentions.csv",
        mime="text/csv",
        key="mn_download",
        on_click="ignore",
        icon=":material/download:",
        disabled=too_many,
    )
    if too_many:
        head[1].caption(
            f"Browser downloads stop at {DOWNLOAD_MAX:,} rows: narrow the filters, or run "
            "`earful export --format csv --since … --until …` on the server."
        )
    st.altair_chart(charts.sentiment_distribution_chart(counts), width="stretch")
    st.caption(
        " · ".join(f"{lab} {counts.get(lab, 0) / total:.0%}" for lab in charts.LABEL_ORDER)
        + " (sentiment of the matching mentions)"
    )
    _table(f, total)

    st.subheader("What stands out")
    texts = read(url, "sample_texts", f, limit=SAMPLE)
    note = f"From the newest {min(SAMPLE, total):,} matching mentions."
    a, b = st.columns(2)
    with a:
        st.markdown("**Top authors by reach**")
        st.dataframe(read(url, "top_authors", f), hide_index=True, width="stretch")
        if total > AUTHORS_WINDOW:
            st.caption(f"Among the newest {AUTHORS_WINDOW:,} matching mentions.")
        terms = top_terms(texts, exclude=[t for ts in settings.entities().values() for t in ts])
        if terms:
            st.altair_chart(charts.ranked_bar_chart(terms, title="Top terms"), width="stretch")
        st.caption(note)
    with b:
        tags, links = top_hashtags(texts), top_links(texts)
        if tags:
            st.altair_chart(charts.ranked_bar_chart(tags, title="Hashtags"), width="stretch")
        st.markdown("**Shared links**")
        if links:
            st.dataframe(
                {"link": [u for u, _ in links], "mentions": [n for _, n in links]}, hide_index=True
            )
        else:
            st.caption("No links in these mentions.")


mentions_page()
