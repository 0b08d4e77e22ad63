"""A generated ~1 MB live-blog page, deterministic (seeded), with the weight real pages carry.

Each blog is a `Blog`: the page as a template whose variable parts are the per-request
noise (script nonces, an ad token, "Updated N min ago"), the page's modified time and
the new posts at the top of the feed (in the HTML and in the JSON-LD). Everything else
(nav, inline CSS and scripts, an SVG sprite, ad slots, 50 posts, footer) is fixed per blog.

    python3 bench/urlwatch/page.py --out /tmp/page.html     # one page, to look at or `livewatch check`
"""

import argparse
import datetime
import json
import random

POSTS = 50
BASE_TIME = datetime.datetime(2026, 11, 30, 6, 0, tzinfo=datetime.timezone.utc)
POST_STEP = datetime.timedelta(minutes=7)  # between the 50 posts of the page
NEW_STEP = datetime.timedelta(minutes=2)  # between the posts added in mode `new`

WORDS = (
    "the government minister said on officials confirmed that talks would continue "
    "tonight after a day of negotiations in the capital where thousands gathered "
    "outside parliament police reported several arrests as protesters marched toward "
    "the square emergency services were called to the scene of the blast and hospitals "
    "treated dozens of people for minor injuries the prime minister is expected to "
    "address the nation later this evening meanwhile markets fell sharply in early "
    "trading analysts warned of further volatility ahead of the central bank decision "
    "our correspondent reports from the border where aid convoys have been waiting for "
    "days the united nations called for an immediate ceasefire and urged all sides to "
    "protect civilians opposition leaders rejected the proposal calling it a betrayal "
    "of voters the vote is scheduled for thursday morning local time the president "
    "spoke by phone with european leaders about energy supplies and sanctions weather "
    "forecasters expect heavy rain across the north with flood warnings in place for "
    "rivers in several regions rescue teams are searching for survivors in collapsed "
    "buildings witnesses described hearing a loud explosion shortly before midnight "
    "the health ministry published new figures showing a rise in hospital admissions "
    "election officials said turnout was higher than at the last contest schools will "
    "remain closed until further notice transport operators cancelled trains and "
    "flights airports advised passengers to check before travelling"
).split()

TOPICS = [
    "election night", "storm warnings", "budget statement", "border talks", "earthquake",
    "summit", "strikes", "wildfires", "trial verdict", "markets", "floods", "ceasefire",
]


def _sentence(rng, lo=8, hi=22):
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def _paragraph(rng, lo=2, hi=5):
    return " ".join(_sentence(rng) for _ in range(rng.randint(lo, hi)))


def _iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ident(rng, n=8):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def _css(rng, size):
    """Inline CSS the way a site's critical CSS looks: many short rules, minified lines."""
    rules = []
    total = 0
    props = ["margin", "padding", "color", "background", "font-size", "line-height",
             "display", "border", "width", "max-width", "grid-template-columns", "z-index"]
    while total < size:
        sel = ".%s-%s%s" % (_ident(rng, 4), _ident(rng, 6), rng.choice(["", ":hover", " > a", " .icon", "::before"]))
        body = ";".join("%s:%s" % (rng.choice(props), rng.choice(["0", "1rem", "#%06x" % rng.getrandbits(24), "flex", "none", "100%", "calc(100% - 2rem)", "1px solid #ddd"])) for _ in range(rng.randint(2, 6)))
        rule = "%s{%s}" % (sel, body)
        rules.append(rule)
        total += len(rule)
    lines = []
    for i in range(0, len(rules), 40):  # minified CSS in lines of ~40 rules
        lines.append("".join(rules[i:i + 40]))
    return "\n".join(lines)


def _js(rng, size):
    """Minified-looking JavaScript: long lines of function definitions (a site's bundle inlined)."""
    out = []
    total = 0
    while total < size:
        name = _ident(rng, rng.randint(1, 3))
        stmts = ";".join(
            rng.choice([
                "var %s=%s.%s(%d)" % (_ident(rng, 2), _ident(rng, 1), _ident(rng, 5), rng.randint(0, 999)),
                "if(%s&&%s.%s){return %s}" % (_ident(rng, 1), _ident(rng, 1), _ident(rng, 4), _ident(rng, 2)),
                "for(var i=0;i<%s.length;i++){%s[i]=%s(%s[i])}" % (_ident(rng, 1), _ident(rng, 1), _ident(rng, 2), _ident(rng, 1)),
                "%s.addEventListener(\"%s\",function(e){%s(e.target)})" % (_ident(rng, 2), rng.choice(["click", "scroll", "load", "resize"]), _ident(rng, 3)),
                "t.push({id:\"%s\",v:%d,k:\"%s\"})" % (_ident(rng, 6), rng.randint(0, 99999), _ident(rng, 8)),
            ])
            for _ in range(rng.randint(3, 9)))
        fn = "function %s(%s){%s}" % (name, ",".join(_ident(rng, 1) for _ in range(rng.randint(1, 3))), stmts)
        out.append(fn)
        total += len(fn)
    lines = []
    line = []
    n = 0
    for fn in out:  # bundles come in long lines (~8 KB here)
        line.append(fn)
        n += len(fn)
        if n > 8000:
            lines.append("".join(line))
            line, n = [], 0
    if line:
        lines.append("".join(line))
    return "\n".join(lines)


def _svg_sprite(rng, icons=120):
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" style="display:none">']
    for i in range(icons):
        d = " ".join("%s%d %d" % (rng.choice("MLC"), rng.randint(0, 24), rng.randint(0, 24)) for _ in range(rng.randint(20, 60)))
        parts.append('<symbol id="icon-%s" viewBox="0 0 24 24"><path d="%sZ"/></symbol>' % (_ident(rng, 6), d))
    parts.append("</svg>")
    return "\n".join(parts)


def _nav(rng, links=260):
    parts = ['<nav class="site-nav" aria-label="Sections"><ul class="nav-list">']
    for i in range(links):
        sec = _ident(rng, rng.randint(4, 9))
        parts.append('<li class="nav-item nav-item--%d"><a class="nav-link" href="/%s/%s" data-link-name="nav : %s">%s</a></li>'
                     % (i % 7, sec, _ident(rng, 6), sec, sec.capitalize()))
    parts.append("</ul></nav>")
    return "\n".join(parts)


def _footer(rng, links=180):
    parts = ['<footer class="site-footer"><div class="footer-columns">']
    for i in range(links):
        sec = _ident(rng, rng.randint(4, 10))
        parts.append('<a class="footer-link" href="/info/%s">%s %s</a>' % (sec, sec.capitalize(), _ident(rng, 5)))
    parts.append('<p class="copyright">&copy; 2026 Example News Media Ltd. All rights reserved.</p></div></footer>')
    return "\n".join(parts)


class Post:
    """One post: id, time, headline, body paragraphs; rendered as JSON-LD and as HTML."""

    def __init__(self, blog, pid, time, rng):
        self.blog = blog
        self.pid = pid
        self.time = time
        self.headline = _sentence(rng, 5, 11).rstrip(".")
        self.paragraphs = [_paragraph(rng) for _ in range(rng.randint(2, 4))]
        self.author = rng.choice(["Anna Keller", "Tom Reyes", "Sara Okafor", "Luca Bianchi", "Mei Tanaka"])
        self.image = rng.random() < 0.5

    def url(self):
        return "%s#%s" % (self.blog.url, self.pid)

    def jsonld(self):
        return {
            "@type": "BlogPosting",
            "@id": self.url(),
            "url": self.url(),
            "headline": self.headline,
            "articleBody": "\n\n".join(self.paragraphs),
            "datePublished": _iso(self.time),
            "author": {"@type": "Person", "name": self.author},
        }

    def html(self):
        t = self.time.strftime("%H:%M")
        body = "\n".join("<p>%s</p>" % p for p in self.paragraphs)
        img = ""
        if self.image:
            img = ('<figure class="post-media"><img src="https://img.example.net/%s/800.jpg" '
                   'srcset="https://img.example.net/%s/400.jpg 400w, https://img.example.net/%s/800.jpg 800w, '
                   'https://img.example.net/%s/1600.jpg 1600w" sizes="(max-width: 600px) 100vw, 800px" '
                   'alt="%s" loading="lazy" width="800" height="450"><figcaption>%s</figcaption></figure>'
                   % (self.pid, self.pid, self.pid, self.pid, self.headline, self.headline))
        return (
            '<article id="%s" class="live-post" data-post-id="%s">\n'
            '<header class="live-post__header"><time class="live-post__time" datetime="%s">%s</time>\n'
            '<h2 class="live-post__headline">%s</h2>\n'
            '<p class="live-post__byline">By %s</p></header>\n'
            '<div class="live-post__body">\n%s\n%s\n</div>\n'
            '<footer class="live-post__share"><a class="share share--x" href="https://x.com/intent/tweet?url=%s">Share on X</a>'
            '<a class="share share--fb" href="https://www.facebook.com/sharer/sharer.php?u=%s">Share on Facebook</a>'
            '<button class="share share--copy" data-copy="%s">Copy link</button></footer>\n'
            '</article>'
        ) % (self.pid, self.pid, _iso(self.time), t, self.headline, self.author, img, body,
             self.url(), self.url(), self.url())


_SITE = {}


def _site(seed, rest):
    """CSS, SVG sprite, nav, footer and scripts of the site, ~rest bytes; cached per seed."""
    rest = rest // 20_000 * 20_000  # blogs of one run land in the same size class
    key = (seed, rest)
    if key not in _SITE:
        rng = random.Random(seed)
        css = _css(rng, int(rest * 0.22))
        sprite = _svg_sprite(rng)
        nav = _nav(rng)
        footer = _footer(rng)
        js = [_js(rng, int(rest * f)) for f in (0.30, 0.18, 0.08)]
        remaining = rest - len(css) - len(sprite) - sum(len(j) for j in js) - len(nav) - len(footer)
        _SITE[key] = (css, sprite, nav, footer, js, _js(rng, max(remaining, 1_000)))
    return _SITE[key]


# The variable parts of a page, filled in per request (see Blog.render).
FIELDS = ("nonce", "adtoken", "updated", "modified", "new_ld", "new_html")


class Blog:
    """Blog `index` of a run: its own title, post ids and seed; served at `url`."""

    def __init__(self, index, url, seed=17, target=1_080_000):
        self.index = index
        self.url = url
        rng = random.Random(seed * 100_003 + index)
        topic = TOPICS[index % len(TOPICS)]
        self.title = "Live: %s — day %d as it happened (blog %d)" % (topic, 1 + index % 9, index)
        self.posts = [Post(self, "post-%d-%d" % (index, i), BASE_TIME + POST_STEP * i, rng)
                      for i in range(POSTS)]
        self.posts.reverse()  # newest first, as live blogs show them
        self.newest = self.posts[0].time
        self._new_rng_seed = seed * 7_919 + index
        self._new_posts = []
        self.segments = self._template(rng, seed, target)

    def new_post(self, k):
        """The k-th post added in mode `new` (0-based), the same for every run."""
        while len(self._new_posts) <= k:
            i = len(self._new_posts)
            rng = random.Random(self._new_rng_seed * 1_000 + i)
            self._new_posts.append(Post(self, "post-%d-new-%d" % (self.index, i),
                                        self.newest + NEW_STEP * (i + 1), rng))
        return self._new_posts[k]

    def _template(self, rng, seed, target):
        """The page as a list: strings, and FIELDS names where the variable parts go."""
        ld_posts = ",".join(json.dumps(p.jsonld(), ensure_ascii=False) for p in self.posts)
        ld_head = json.dumps({
            "@context": "https://schema.org",
            "@type": "LiveBlogPosting",
            "@id": self.url,
            "url": self.url,
            "headline": self.title,
            "description": "Follow the latest updates live.",
            "coverageStartTime": _iso(BASE_TIME),
            "datePublished": _iso(BASE_TIME),
            "publisher": {"@type": "NewsMediaOrganization", "name": "Example News"},
        }, ensure_ascii=False)[:-1]  # drop the closing brace: dateModified and the updates follow
        feed = []
        for i, p in enumerate(self.posts):
            feed.append(p.html())
            if i % 5 == 4:  # an ad slot after every fifth post, outside the posts
                feed.append(["<div class=\"ad-slot ad-slot--inline\" id=\"ad-inline-%d\" data-ad-unit=\"/2231/news/live/inline\" data-ad-token=\"" % i,
                             "adtoken", "\"></div>"])
        # The fixed heavy parts: the site's, shared by every blog of a run (as a site's
        # pages share their bundle), sized so that the page comes out at ~target bytes.
        fixed = 0
        for x in feed:
            fixed += len(x) if isinstance(x, str) else 80
        fixed += len(ld_posts) + 8_000
        css, sprite, nav, footer, js, extra_js = _site(seed, max(target - fixed, 100_000))

        t = []
        t += ["<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
              "<title>%s | Example News</title>\n" % self.title,
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
              "<link rel=\"canonical\" href=\"%s\">\n" % self.url,
              "<meta property=\"og:title\" content=\"%s\">\n" % self.title,
              "<meta property=\"og:type\" content=\"article\">\n",
              "<meta property=\"og:url\" content=\"%s\">\n" % self.url,
              "<meta property=\"article:published_time\" content=\"%s\">\n" % _iso(BASE_TIME),
              "<meta property=\"article:modified_time\" content=\"", "modified", "\">\n",
              "<link rel=\"preload\" href=\"https://static.example.net/fonts/sans.woff2\" as=\"font\" crossorigin>\n",
              "<link rel=\"stylesheet\" href=\"https://static.example.net/css/main.3f9a1c.css\">\n",
              "<style>\n", css, "\n</style>\n",
              "<script nonce=\"", "nonce", "\">\n", js[0], "\n</script>\n",
              "<script type=\"application/ld+json\">", ld_head, ",\"dateModified\":\"", "modified",
              "\",\"liveBlogUpdate\":[", "new_ld", ld_posts, "]}</script>\n",
              "<script nonce=\"", "nonce", "\">window.__adConfig={unit:\"/2231/news/live\",token:\"", "adtoken",
              "\",lazy:true};\n", js[1], "\n</script>\n",
              "</head>\n<body class=\"liveblog\">\n", sprite, "\n",
              "<header class=\"site-header\"><a class=\"logo\" href=\"/\">Example News</a></header>\n",
              nav, "\n",
              "<div class=\"ad-slot ad-slot--top\" id=\"ad-top\" data-ad-unit=\"/2231/news/live/top\" data-ad-token=\"", "adtoken", "\"></div>\n",
              "<main id=\"main\">\n<h1 class=\"live-title\">%s</h1>\n" % self.title,
              "<p class=\"live-meta\"><span class=\"live-badge\">LIVE</span> <span class=\"live-updated\">", "updated", "</span></p>\n",
              "<div class=\"live-feed\" id=\"live-feed\">\n", "new_html"]
        for x in feed:
            t += [x, "\n"] if isinstance(x, str) else x + ["\n"]
        t += ["</div>\n</main>\n",
              "<aside class=\"most-read\"><h2>Most read</h2><ol>",
              "".join("<li><a href=\"/story/%s\">%s</a></li>" % (_ident(rng, 10), _sentence(rng, 6, 10)) for _ in range(10)),
              "</ol></aside>\n",
              footer, "\n",
              "<script nonce=\"", "nonce", "\">\n", js[2], "\n</script>\n",
              "<script nonce=\"", "nonce", "\">\n", extra_js, "\n</script>\n",
              "<img class=\"pixel\" src=\"https://px.example.net/p.gif?cb=", "adtoken", "\" alt=\"\" width=\"1\" height=\"1\">\n",
              "</body>\n</html>\n"]
        # Join adjacent strings so that rendering is a short join.
        segments = []
        for x in t:
            if x in FIELDS or not segments or segments[-1] in FIELDS:
                segments.append(x)
            else:
                segments[-1] += x
        return segments

    def render(self, nonce="n0a1b2c3", adtoken="tok0", updated="Updated 5 min ago", new=0):
        """The page's bytes with these noise values and the first `new` added posts on top."""
        added = [self.new_post(k) for k in range(new)]
        added.reverse()  # newest first
        modified = added[0].time if added else self.newest
        values = {
            "nonce": nonce,
            "adtoken": adtoken,
            "updated": updated,
            "modified": _iso(modified),
            "new_ld": "".join(json.dumps(p.jsonld(), ensure_ascii=False) + "," for p in added),
            "new_html": "".join(p.html() + "\n" for p in added),
        }
        return "".join(values[s] if s in FIELDS else s for s in self.segments).encode("utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="file to write the page to")
    ap.add_argument("--blog", type=int, default=0, help="blog index (title, ids, seed)")
    ap.add_argument("--url", default="http://127.0.0.1:8000/b/0", help="the page's own URL (JSON-LD @id, canonical)")
    ap.add_argument("--new", type=int, default=0, help="posts added on top (mode `new`)")
    ap.add_argument("--seed", type=int, default=17)
    a = ap.parse_args()
    body = Blog(a.blog, a.url, seed=a.seed).render(new=a.new)
    with open(a.out, "wb") as f:
        f.write(body)
    print("%s: %d bytes (%.2f MiB), %d lines" % (a.out, len(body), len(body) / 2**20, body.count(b"\n")))


if __name__ == "__main__":
    main()
