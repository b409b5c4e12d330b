"""Ids and URLs of demo posts in the shape of the platform each one mimics.

Part of `earful.demo`. `_ids` gives a post its URL and native id (X snowflakes,
Mastodon ids, Bluesky at-URIs with a CID, Reddit fullnames, Hacker News item
numbers, Lemmy post ids, an outlet's article URL for RSS), `_thread_url` turns
a forum reply into a comment under its root's URL, `_url_slug` makes a URL's
slug of a post's first words; `_b32` and `_base36` are the encodings used.

The cut is here because these are pure functions of the RNG and the values
passed in, shared by the posts (`earful.demo_hour`) and the support team's
replies (`earful.demo_support_plan`), which import them from here rather than
from the stream's entry module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from datetime import datetime

from earful.demo_cast import Author
from earful.models import Mention

B32 = "234567abcdefghijklmnopqrstuvwxyz"


def _b32(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        out.append(B32[n & 31])
        n >>= 5
    return "".join(reversed(out))


def _ids(
    rng: random.Random, platform: str, author: Author, created: datetime, slug: str
) -> tuple[str, str]:
    """(url, native_id) in the shape of the mimicked platform."""
    ms = int(created.timestamp() * 1000)
    user = author.name.split("@")[0]
    if platform == "x":
        sid = ((ms - 1288834974657) << 22) | rng.getrandbits(22)
        return f"https://x.com/{user}/status/{sid}", str(sid)
    if platform == "mastodon":
        sid = (ms << 16) | rng.getrandbits(16)
        return f"https://{author.home}/@{user}/{sid}", str(sid)
    if platform == "bluesky":
        rkey = _b32((int(created.timestamp() * 1_000_000) << 10) | rng.getrandbits(10), 13)
        did = "did:plc:" + _b32(int(hashlib.sha1(author.name.encode()).hexdigest(), 16), 24)
        uri = f"at://{did}/app.bsky.feed.post/{rkey}"
        cid = "bafyrei" + _b32(rng.getrandbits(260), 52)
        return f"https://bsky.app/profile/{author.name}/post/{rkey}", f"{uri}|{cid}"
    if platform == "reddit":
        pid = _base36(rng.randint(36**6, 36**7 - 1))
        return f"https://www.reddit.com/r/{author.home}/comments/{pid}/{slug}/", f"t3_{pid}"
    if platform == "hackernews":
        hid = 44_000_000 + (ms // 1000 - 1_750_000_000) // 3 + rng.randint(0, 2)
        return f"https://news.ycombinator.com/item?id={hid}", str(hid)
    if platform == "lemmy":
        lid = rng.randint(20_000_000, 40_000_000)
        return f"https://{author.home}/post/{lid}", str(lid)
    return f"https://{author.home}/{created:%Y/%m}/{slug}", ""  # rss: the outlet's article


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _url_slug(text: str) -> str:
    return "_".join(re.findall(r"[a-z0-9]+", text.lower())[:6])


def _thread_url(reply: Mention, root: Mention) -> Mention:
    """Forum replies are comments under the root post's URL."""
    n = int(hashlib.sha1(reply.external_id.encode()).hexdigest()[:12], 16)
    if root.platform == "reddit":
        cid = _base36(n % 36**7)
        url = f"{root.url.rstrip('/')}/comment/{cid}/"
        return dataclasses.replace(reply, url=url, native_id=f"t1_{cid}")
    if root.platform == "lemmy":
        host = root.url.split("/post/")[0]
        num = 10_000_000 + n % 30_000_000
        return dataclasses.replace(reply, url=f"{host}/comment/{num}", native_id=str(num))
    return reply
