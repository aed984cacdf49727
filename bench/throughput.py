"""Extraction throughput: article pages per second through extract → normalize → fingerprint.

The page is generated here (no files needed): a news article of about 60 KB as such pages come,
in Arabic, with what surrounds the story on a real site: head metadata and JSON-LD, inline style
and scripts, a navigation bar, breadcrumbs, a sticky title, share bar, ad slots, the lead picture,
some thirty paragraphs with links, inline figures with captions and credits, a related-articles
box, a newsletter form, a most-read list, comments and a footer of links. Every pass runs
``extract(body, url, kind="article")`` and ``normalize_article`` (which computes the content hash
and the similarity signature) on one core; the figure is the median of several runs.

    .venv/bin/python bench/throughput.py [--pages 100] [--runs 5] [--profile]

Both wall-clock and CPU-time rates are printed (CPU time is steadier on a busy machine), with
the CPU time per page of each stage and the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import cProfile
import html
import json
import os
import pstats
import random
import statistics
import sys
import time
from datetime import UTC, datetime

from syndicator import fingerprint
from syndicator.extract import extract
from syndicator.normalize import normalize_article

URL = "https://news.example/asia/2024/06/20/putin-vietnam.html"
NOW = datetime(2024, 6, 21, tzinfo=UTC)
TARGET = 150.0

_TEXT = (
    "الرئيس الروسي فلاديمير بوتين فيتنام هانوي كوريا الشمالية الصين موسكو الغرب التعاون الطاقة "
    "الأمن الدفاع الصناعات النووية الشراكة الاستراتيجية الشاملة اتفاقية توقيع زيارة جولة آسيوية "
    "المحطة الثانية التحالفات القديمة التنسيق شركاء تقليديين دعم مواقف المواجهة المتفاقمة حالياً "
    "العلاقات الثنائية الاقتصاد التجارة الاستثمارات النفط الغاز المفاعلات التكنولوجيا التعليم "
    "الوزير الخارجية المتحدث باسم الحكومة البرلمان المعارضة العقوبات الأوروبية الأميركية "
    "الولايات المتحدة الاتحاد الأوروبي حلف شمال الأطلسي الحرب أوكرانيا المفاوضات السلام الهدنة "
    "قال أكد أوضح أضاف أشار أعلن نقلت وكالة الأنباء الرسمية عن مصادر مطلعة في بيان صدر أمس "
    "خلال مؤتمر صحافي مشترك عقده الجانبان بعد محادثات استمرت ساعات في القصر الرئاسي "
    "التي تعد من أبرز الملفات المطروحة على طاولة البحث بين البلدين منذ سنوات طويلة "
    "في ظل التطورات الإقليمية والدولية المتسارعة وتزايد الضغوط على موسكو من العواصم الغربية"
)
_WORDS = _TEXT.split()


def sentence(rng: random.Random, low: int = 12, high: int = 28) -> str:
    words = rng.choices(_WORDS, k=rng.randint(low, high))
    return " ".join(words) + rng.choice(("،", "")) + " " + " ".join(rng.choices(_WORDS, k=6)) + "."


def paragraph(rng: random.Random) -> str:
    text = " ".join(sentence(rng) for _ in range(rng.randint(2, 4)))
    words = text.split(" ")
    if rng.random() < 0.4:  # a link or an emphasis inside the paragraph
        i = rng.randrange(len(words) - 3)
        href = f"/news/{rng.randint(100000, 999999)}.html"
        words[i : i + 3] = [f'<a href="{href}">{" ".join(words[i : i + 3])}</a>']
    if rng.random() < 0.2:
        i = rng.randrange(len(words) - 2)
        words[i : i + 2] = [f"<strong>{' '.join(words[i : i + 2])}</strong>"]
    return " ".join(words)


def figure(rng: random.Random, n: int) -> str:
    caption = " ".join(rng.choices(_WORDS, k=8))
    credit = rng.choice(("أ.ب", "أ.ف.ب", "رويترز", "إ.ب.أ"))
    return (
        f'<figure class="article-figure"><picture><source type="image/webp" '
        f'srcset="/img/putin-vietnam-{n}.webp 1x, /img/putin-vietnam-{n}@2x.webp 2x">'
        f'<img src="/img/putin-vietnam-{n}.jpg" alt="{caption}" loading="lazy" width="1200" '
        f'height="800"></picture><figcaption>{caption} ({credit})</figcaption>'
        f'<div class="lightbox-caption" aria-hidden="true">{caption} ({credit})</div></figure>'
    )


def card(rng: random.Random, n: int, cls: str = "teaser") -> str:
    title = " ".join(rng.choices(_WORDS, k=9))
    summary = sentence(rng)
    return (
        f'<article class="{cls}"><a class="teaser-link" href="/article/story-{n}.html">'
        f'<img src="/img/story-{n}-thumb.jpg" alt="" width="320" height="180">'
        f'<h3>{title}</h3></a><div class="teaser-section">أوروبا</div>'
        f'<p class="teaser-summary">{summary}</p>'
        f'<div class="teaser-byline">«الشرق الأوسط» (موسكو)</div>'
        f'<time datetime="2024-06-1{n % 10}T10:00:00Z">منذ {n} ساعات</time></article>'
    )


def page(seed: int = 7) -> bytes:
    """A realistic article page of about 60 KB (deterministic for a seed)."""
    rng = random.Random(seed)
    title = "بوتين في فيتنام بعد كوريا الشمالية... تنسيق لمواجهة «تحديات قديمة وجديدة»"
    standfirst = "تعزيز التعاون في مجالات الطاقة والأمن والدفاع والصناعات النووية"
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": title,
        "datePublished": "2024-06-20T12:15:00+07:00",
        "dateModified": "2024-06-20T13:40:00+07:00",
        "articleSection": "آسيا",
        "inLanguage": "ar",
        "mainEntityOfPage": {"@type": "WebPage", "@id": URL},
        "image": [{"@type": "ImageObject", "url": "/img/putin-vietnam-0.jpg"}],
        "publisher": {"@type": "Organization", "name": "أخبار المثال"},
        "author": {"@type": "Organization", "name": "الشرق الأوسط"},
        "description": standfirst,
    }
    nav = "".join(
        f'<li><a href="/section/{i}.html">{" ".join(rng.choices(_WORDS, k=2))}</a></li>'
        for i in range(36)
    )
    style = "\n".join(
        f".c{i}{{margin:{i % 7}px {i % 5}px;padding:0 {i % 3}px;color:#{i * 4099 % 0xFFFFFF:06x};"
        f"font:{12 + i % 6}px/1.5 'Noto Naskh Arabic',serif}}"
        for i in range(50)
    )
    script = "\n".join(
        f"window.dataLayer.push({{'event':'slot{i}','section':'asia','pos':{i},"
        f"'sizes':[[300,250],[728,90]],'targeting':{{'kw':'{rng.choice(_WORDS)}'}}}});"
        for i in range(30)
    )
    body: list[str] = []
    for i in range(32):
        body.append(f"<p>{paragraph(rng)}</p>")
        if i in (4, 12, 20, 27):
            body.append(figure(rng, i))
        if i in (8, 18):
            body.append(
                '<div class="ad-slot"><span>مساحة إعلانية</span>'
                f'<div id="gpt-ad-{i}" data-sizes="300x250"></div></div>'
            )
        if i == 15:
            body.append(f"<h2>{' '.join(rng.choices(_WORDS, k=6))}</h2>")
        if i == 23:
            body.append(f"<blockquote><p>{sentence(rng)}</p></blockquote>")
    related = "".join(card(rng, n) for n in range(1, 7))
    most_read = "".join(
        f'<li><a href="/article/most-{n}.html">{" ".join(rng.choices(_WORDS, k=8))}</a></li>'
        for n in range(10)
    )
    comments = "".join(
        f'<li class="comment"><span class="comment-author">قارئ {n}</span>'
        f"<p>{sentence(rng, 6, 14)}</p></li>"
        for n in range(6)
    )
    footer = "".join(
        f'<a href="/page/{n}.html">{" ".join(rng.choices(_WORDS, k=2))}</a> ' for n in range(60)
    )
    doc = f"""<!DOCTYPE html>
<html lang="ar" dir="rtl">
<head>
<meta charset="utf-8">
<title>{title} | أخبار المثال</title>
<link rel="canonical" href="{URL}">
<link rel="amphtml" href="{URL.replace("/asia/", "/amp/asia/")}">
<meta property="og:type" content="article">
<meta property="og:title" content="{html.escape(title)}">
<meta property="og:url" content="{URL}">
<meta property="og:image" content="https://news.example/img/putin-vietnam-0.jpg">
<meta property="og:description" content="{standfirst}">
<meta property="og:site_name" content="أخبار المثال">
<meta property="article:published_time" content="2024-06-20T12:15:00+07:00">
<meta property="article:modified_time" content="2024-06-20T13:40:00+07:00">
<meta property="article:section" content="آسيا">
<meta name="twitter:card" content="summary_large_image">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/site.css">
<style>{style}</style>
<script async src="/static/analytics.js"></script>
<script>window.dataLayer = window.dataLayer || [];
{script}</script>
<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>
</head>
<body class="article-page">
<a class="skip" href="#main">تخطي إلى المحتوى</a>
<header class="site-header"><a class="logo" href="/">أخبار المثال</a>
<nav class="main-nav" aria-label="الأقسام"><ul>{nav}</ul></nav>
<form class="search" action="/search"><input name="q" placeholder="بحث"><button>ابحث</button></form>
</header>
<div class="cookie-consent" role="dialog"><p>نستخدم ملفات تعريف الارتباط لتحسين تجربتك.</p>
<button>موافق</button></div>
<div class="sticky-title" aria-hidden="true">{title}</div>
<ol class="breadcrumbs"><li><a href="/">الرئيسية</a></li><li><a href="/asia/">آسيا</a></li></ol>
<main id="main">
<article class="article">
<div class="section-label"><a href="/asia/">آسيا</a></div>
<h1 class="headline">{title}</h1>
<p class="standfirst">{standfirst}</p>
<div class="byline">«الشرق الأوسط» <span class="dateline">(هانوي)</span></div>
<time class="published" datetime="2024-06-20T12:15:00+07:00">20 يونيو 2024</time>
<div class="share"><a href="https://facebook.com/sharer?u={URL}">فيسبوك</a>
<a href="https://twitter.com/intent/tweet?url={URL}">إكس</a><a href="mailto:?subject=x">بريد</a>
<span>شارك المقال</span></div>
{figure(rng, 0)}
<div class="article-body">
{chr(10).join(body)}
</div>
<div class="tags"><a href="/tag/russia">روسيا</a><a href="/tag/vietnam">فيتنام</a></div>
<section class="related"><h2>مقالات ذات صلة</h2>{related}</section>
</article>
<aside class="sidebar"><div class="most-read"><h2>الأكثر قراءة</h2><ol>{most_read}</ol></div>
<div class="ad-slot"><div id="gpt-ad-side" data-sizes="300x600"></div></div></aside>
<section class="newsletter"><h2>اشترك في النشرة البريدية</h2>
<form action="/subscribe"><input type="email" name="email"><button>اشترك</button></form></section>
<section class="comments"><h2>التعليقات</h2><ul>{comments}</ul></section>
</main>
<footer class="site-footer"><nav>{footer}</nav><p>جميع الحقوق محفوظة © 2024 أخبار المثال</p>
</footer>
</body>
</html>
"""
    return doc.encode("utf-8")


def one(body: bytes) -> int:
    """One page through the pipeline's pure part; returns the paragraph count (a sanity check)."""
    draft = extract(body, URL, kind="article").articles[0]
    article = normalize_article(draft, now=NOW)
    return len(article.paragraphs)


def stages(body: bytes, pages: int) -> dict[str, float]:
    """CPU milliseconds per page in each stage (normalize without the fingerprints it computes).

    ``normalize_article`` folds the title and each paragraph once and makes both fingerprints
    from those folds: the fold is counted with the content hash, the signature is what it adds.
    """
    start = time.process_time()
    for _ in range(pages):
        draft = extract(body, URL, kind="article").articles[0]
    extracting = time.process_time() - start
    start = time.process_time()
    for _ in range(pages):
        article = normalize_article(draft, now=NOW)
    normalizing = time.process_time() - start
    start = time.process_time()
    for _ in range(pages):
        title, *paragraphs = fingerprint.fold_words([article.title, *article.paragraphs])
        folded = [" ".join(words) for words in paragraphs]
        fingerprint.folded_content_hash(" ".join(title), folded)
    hashing = time.process_time() - start
    words = [*title, *(word for words in paragraphs for word in words)]
    start = time.process_time()
    for _ in range(pages):
        fingerprint.words_signature(words)
    signing = time.process_time() - start
    return {
        "extract": extracting / pages * 1000,
        "normalize": (normalizing - hashing - signing) / pages * 1000,
        "content hash": hashing / pages * 1000,
        "similarity signature": signing / pages * 1000,
    }


def reference_ms() -> float:
    """A fixed pure-Python workload, best of five, to put figures from two machines side by side."""
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        sum(range(10**6))
        best = min(best, time.process_time() - start)
    return best * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=100, help="pages per run (default 100)")
    parser.add_argument("--runs", type=int, default=5, help="runs; the median is reported")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = parser.parse_args()

    body = page()
    paragraphs = one(body)  # warm caches and check the page reads as intended
    print(f"page: {len(body) / 1024:.1f} KB, {paragraphs} paragraphs extracted")
    print(f"this machine: sum(range(10**6)) takes {reference_ms():.0f} ms (to compare machines)")
    print("load average at start: " + " ".join(f"{n:.2f}" for n in os.getloadavg()))
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.pages):
            one(body)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        return 0
    wall, cpu = [], []
    for _ in range(args.runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(args.pages):
            one(body)
        wall.append(args.pages / (time.perf_counter() - start))
        cpu.append(args.pages / (time.process_time() - start_cpu))
    print(f"runs, pages/s (wall clock): {', '.join(f'{r:.1f}' for r in wall)}")
    print(f"runs, pages/s (CPU time):   {', '.join(f'{r:.1f}' for r in cpu)}")
    split = stages(body, max(args.pages // 4, 5))
    print("CPU ms per page: " + ", ".join(f"{name} {ms:.1f}" for name, ms in split.items()))
    print(
        f"median: {statistics.median(wall):.0f} pages/s wall clock, "
        f"{statistics.median(cpu):.0f} pages/s of CPU time, on one core (target ≥ {TARGET:.0f})"
    )
    print("load average at end: " + " ".join(f"{n:.2f}" for n in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
