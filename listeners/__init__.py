"""The listeners, one module per platform; the registry is explicit."""

from __future__ import annotations

from listeners.base import Listener
from listeners.bluesky import BlueskyListener
from listeners.demo import DemoListener
from listeners.hackernews import HackerNewsListener
from listeners.lemmy import LemmyListener
from listeners.mastodon import MastodonListener
from listeners.reddit import RedditListener
from listeners.rss import RSSListener
from listeners.x import XListener

REGISTRY: dict[str, type[Listener]] = {
    cls.platform: cls
    for cls in (
        DemoListener,
        HackerNewsListener,
        LemmyListener,
        RSSListener,
        MastodonListener,
        BlueskyListener,
        RedditListener,
        XListener,
    )
}

__all__ = ["REGISTRY", "Listener"]
