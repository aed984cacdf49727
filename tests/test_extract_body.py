"""Body locating and article-or-listing on small pages written for each class of failure that
real pages showed (text in containers with no <p>, a body cut into blocks, teasers beside the
story, a grid of cards, a short note): each page beside what a reader expects of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.extract import extract
from syndicator.normalize import normalize_article

PAGES = Path(__file__).parent / "data" / "pages"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Expected:
    kind: str
    has: tuple[str, ...] = ()  # phrases the body holds
    lacks: tuple[str, ...] = ()  # phrases it must not hold
    paragraphs: int | None = None
    teasers: int | None = None
    published: str | None = None  # as an ISO instant in UTC
    authors: tuple[str, ...] | None = None
    title: str | None = None  # the story's title (feeds, content hash)
    page_title: str | None = None  # the page's title as the page states it
    direction: str | None = None  # the direction the page declares for the article
    repeated: tuple[str, ...] = ()  # paragraphs the body holds twice


EXPECTED = {
    # Text between <br>s in a <div>: no <p> at all, no metadata.
    "br-paragraphs.html": Expected(
        "article",
        has=("two crossings a day", "council agreed", "harbour office"),
        lacks=("Quay Street", "Archive"),
        paragraphs=3,
    ),
    # The body in two sibling blocks with an advertisement between them.
    "split-body.html": Expected(
        "article",
        has=("eight months of repairs", "heritage fund", "four hundred books", "record office"),
        lacks=("Advertisement",),
        paragraphs=4,
    ),
    # Teasers with a sentence each beside the story, in a box no class word names.
    "related-teasers.html": Expected(
        "article",
        has=("two weeks earlier", "end of October"),
        lacks=("Cider festival", "twenty producers", "Saturday from October"),
        paragraphs=3,
    ),
    # Beside the story, cards whose blurbs are sentences, in a block no class names: other
    # stories, not more of this one.
    "story-beside-cards.html": Expected(
        "article",
        has=("eleven", "evening shift", "cargo line"),
        lacks=("For you", "new lamp", "far reef", "better chimney"),
        paragraphs=5,
    ),
    # A grid of linked headings with a line or two each: a listing, whatever its sentences.
    "section-front.html": Expected("listing", teasers=4),
    # A page that names no title: titled by its first sentence, its body kept whole.
    "untitled.html": Expected(
        "article", has=("forty-two nesting pairs", "fledge in August"), paragraphs=2
    ),
    # Chrome's names on the story's own wrappers (a share widget's class, taxonomy classes on
    # <article>) do not hide the story; readers' comments stay out.
    "chrome-named-wrapper.html": Expected(
        "article",
        has=("approved the extension", "eighteen months", "open to deliveries"),
        lacks=("About time", "Nobody asked", "Share"),
        paragraphs=3,
    ),
    # A body container's class (entry-content) on a comment: not the body.
    "container-in-comment.html": Expected(
        "article",
        has=("cold larder", "dark honey"),
        lacks=("lovely",),
        paragraphs=3,
    ),
    # JSON-LD in a CDATA section behind a JavaScript comment (as pages write it for old parsers).
    "ld-json-cdata.html": Expected(
        "article",
        has=("sleeper service", "almost full"),
        paragraphs=2,
        published="2026-03-14T05:30:00+00:00",
        authors=("Mara Quist",),
    ),
    # One short paragraph of running text in a <section>, nothing else: an article.
    "short-note.html": Expected("article", has=("vidange annuelle",), paragraphs=1),
    # Titles: the page states its title with the site's name (a meta tag naming two properties
    # at once, as RDFa allows); the story's title is the headline without it.
    "title-stated.html": Expected(
        "article",
        paragraphs=2,
        title="Ferry timetable changes from May",
        page_title="Ferry timetable changes from May | Coastal Times",
    ),
    # A JSON-LD headline that is a description (the page shows its name, never the headline).
    "ld-headline-description.html": Expected(
        "article", paragraphs=2, title="Lake Ostra", page_title="Lake Ostra"
    ),
    # A long table that carries the article: its introduction and references come with it.
    "table-article.html": Expected(
        "article",
        has=("lives the same stretch of time", "time travel happens only once", "Reference work"),
        lacks=("Random page", "open licence"),
    ),
    # A line the text itself repeats is kept each time; copies of the lead (a mobile copy, a
    # lightbox's) are not.
    "repeated-paragraphs.html": Expected(
        "article",
        has=("eleven thousand times", "canal museum"),
        paragraphs=6,
        repeated=("The water is high and the gates are shut.",),
    ),
    # A page that links to no other page lists nothing: its line of text and its headings are
    # an article, short as they are.
    "linkless-note.html": Expected("article", has=("reading room is closed", "Opening hours")),
    # A section page with no stories yet: it links to other pages, so it is a listing (of none).
    "empty-section.html": Expected("listing", teasers=0),
    # Words of a sentence whose class names chrome (links styled as pop-ups, a glossed term)
    # are the sentence's; a tooltip's text, text for screen readers and a share label are not.
    "chrome-named-words.html": Expected(
        "article",
        has=(
            "Every crossing of the old ferry",
            "written down by the ferryman, with the fare",
            "fill eleven shelves of the county",
            "twice in those years, both times after a flood",
        ),
        lacks=("Share", "forty volumes", "Listen"),
        paragraphs=4,
    ),
    # A line the text repeats right after itself (a chorus) is the text's, as readers see it;
    # a copy in another container (a mobile copy of the lead) is not.
    "refrain.html": Expected(
        "article",
        paragraphs=4,
        repeated=("Haul away, the water's rising, haul away for home.",),
    ),
    # The author the page states (Dublin Core before a generic author tag) before a byline
    # element that holds more than the name.
    "byline-stated.html": Expected("article", paragraphs=2, authors=("Ines Vale",)),
    # The author marked up outside the article's container (a header above the story).
    "byline-outside.html": Expected("article", paragraphs=2, authors=("Tomas Reef",)),
    # A line repeated in another section of the text (a container with paragraphs of its own)
    # is the text's; a container that holds only a copy (a pull quote) is not.
    "sections-repeat.html": Expected(
        "article",
        paragraphs=6,  # three, the heading, two: the pull quote's copy is not one
        repeated=("Check every seam before you go on to the next step.",),
    ),
    # The document declares its direction (and no language): the article carries it.
    "declared-rtl.html": Expected("article", paragraphs=2, direction="rtl"),
    # An entry's taxonomy classes (WordPress's post_class: category-popular, tag-ads) on the
    # story's own wrapper, beside a sidebar with a sentence of its own: the story, not a listing.
    "entry-taxonomy.html": Expected(
        "article",
        has=("best time to walk", "1. The north pier", "older than most of the town"),
        lacks=("Notes on the coast", "Privacy"),
        paragraphs=8,
    ),
    # Sections of a report named by a BEM modifier (report__section--ads: a variant that may
    # hold advertisements) that hold running text: the report, not its title alone.
    "section-modifiers.html": Expected(
        "article",
        has=("two plates", "six minutes to reach full heat", "two heating rings"),
        lacks=("Kitchen Lab", "Imprint"),
        paragraphs=12,
    ),
    # Below the story, the next ones the page loads as a reader scrolls, each under its own
    # <h1>, longer than the page's own: the page's story alone, not the stream and not the
    # longest of them.
    "next-stories-headlines.html": Expected(
        "article",
        has=("three crossings a day", "evening crossing twice a week"),
        lacks=("lifeboat", "Lifeboat", "half-term", "K. Moss"),
        paragraphs=3,
    ),
    # The same stream as <article> elements, each a whole story: the first is the page's.
    "next-stories-articles.html": Expected(
        "article",
        has=("allotments by the railway", "lease of twenty-five years"),
        lacks=("Old bridge", "stone bridge", "Sunday afternoons"),
    ),
    # Questions and answers, each an <article> with a heading and running text but no date or
    # byline: parts of one page, not a stream of stories (the answers are all the body).
    "faq-articles.html": Expected(
        "article",
        has=("waiting list of one to two years", "sixty pounds a year", "written agreement"),
        lacks=("Green Spaces Trust", "Contact"),
        paragraphs=12,
    ),
    # A <nav> never closed: the parser puts the whole page inside it. With no running text
    # anywhere else, what the menu holds is weighed as other blocks are.
    "unclosed-nav.html": Expected(
        "article",
        has=("six new ringers", "Thursday evenings", "forty steps"),
        lacks=("Parish News",),
        paragraphs=3,
    ),
    # The story written for readers without scripts, in <noscript>, beside an empty shell
    # that a script fills: the story, not an empty listing.
    "noscript-page.html": Expected(
        "article",
        has=("night walks", "glow-worms", "five pounds"),
        paragraphs=3,
    ),
    # A menu built of custom elements (<site-navigation>, <menu-item>) with long entries and
    # no links or classes: named for what it is by its tag, it is chrome, not the body.
    "custom-element-menu.html": Expected(
        "article",
        has=("first Monday in March", "brown bin by post", "seven in the morning"),
        lacks=("state pension", "Contact us"),
        paragraphs=3,
    ),
    # A page built as one <form> (a web-forms site): the form found as the body is a block of
    # text, not a form to drop when the body is read.
    "page-in-form.html": Expected(
        "article",
        has=("twenty past four in March", "civic society", "from eleven until seven"),
    ),
    # A live report whose class names say comments: the weighing finds it once the names are
    # set aside, and cutting chrome by those names must not then empty it.
    "named-all-chrome.html": Expected(
        "article",
        has=("first win of the season", "near post", "off the post", "free kick"),
        lacks=("County Sport", "Contact"),
        paragraphs=4,
    ),
    # XHTML: an XML declaration, the doctype and comments before <html>, which comes after
    # the first lines. An HTML page, not plain text.
    "xhtml-prolog.html": Expected(
        "article",
        has=("an eighth each decade", "greenhouse gases", "feeds on itself"),
        lacks=("Institute",),
        paragraphs=3,
    ),
    # A server's warnings printed before the doctype (<br />, <b>Warning</b>…): still a page.
    "server-warnings-first.html": Expected(
        "article",
        has=("forty bags", "fishing line", "take their rubbish home"),
        lacks=("mysql_connect", "Sailing Club"),
        paragraphs=3,
    ),
    # The layout around the content and its side column, named for both (a theme's
    # content-sidebar-wrap) and holding <main> and the entry-content: not a sidebar. The
    # blog's "about me" line above it is not the article.
    "layout-named-sidebar.html": Expected(
        "article",
        has=("keeps for four days", "one at a time", "forty-five minutes"),
        lacks=("Hello, I am Ruth", "Flapjacks"),
        paragraphs=3,
    ),
    # Below the story, cards each wrapped whole in one link (<a><div><h3/><p/></div></a>):
    # their blurbs are link text, not running text that outweighs the story.
    "linked-cards.html": Expected(
        "article",
        has=("forty goals", "take up coaching", "until the final whistle"),
        lacks=("fourth round", "hamstring", "hundredth birthday"),
        paragraphs=3,
    ),
    # The lines that list a story's categories and tags (links with rel="tag", as blogs mark
    # them) are not paragraphs of the story.
    "tag-line.html": Expected(
        "article",
        has=("sluice gate", "three hundred eels", "time to set"),
        lacks=("Filed under", "Tags:", "Wildlife"),
        paragraphs=3,
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_page(name: str) -> None:
    expected = EXPECTED[name]
    extraction = extract((PAGES / name).read_bytes(), f"https://news.example/2026/09/{name}")
    assert extraction.kind == expected.kind
    if expected.teasers is not None:
        assert len([t for t in extraction.teasers if not t.related]) == expected.teasers
    if expected.kind != "article":
        assert not extraction.articles
        return
    article = normalize_article(extraction.articles[0], now=NOW)
    text = "\n".join(article.paragraphs)
    for paragraph in expected.repeated:
        assert article.paragraphs.count(paragraph) == 2
    if expected.title is not None:
        assert article.title == expected.title
    if expected.page_title is not None:
        assert extraction.title == expected.page_title
    assert extraction.articles[0].direction == expected.direction
    assert article.direction == expected.direction
    for phrase in expected.has:
        assert phrase in text
    for phrase in expected.lacks:
        assert phrase not in text
    if expected.paragraphs is not None:
        assert len(article.paragraphs) == expected.paragraphs, article.paragraphs
    if expected.published is not None:
        assert article.published is not None
        assert article.published.isoformat() == expected.published
    if expected.authors is not None:
        assert article.authors == expected.authors


def test_every_page_has_an_expectation() -> None:
    assert sorted(p.name for p in PAGES.glob("*.html")) == sorted(EXPECTED)


def test_extract_json_reports_both_titles_and_the_direction() -> None:
    """What ``syndicator extract --json`` prints for a document: the page's title beside the
    story's, and the article's direction (declared, else its language's)."""
    from syndicator.cli.documents import document_json
    from syndicator.ingest import read_document

    def read(name: str) -> dict[str, object]:
        body = (PAGES / name).read_bytes()
        return document_json(read_document(body, f"https://news.example/{name}", now=NOW))

    stated = read("title-stated.html")
    assert stated["title"] == "Ferry timetable changes from May | Coastal Times"
    article = stated["articles"][0]  # type: ignore[index]
    assert article["title"] == "Ferry timetable changes from May"
    assert article["dir"] is None  # English: left to right
    assert read("declared-rtl.html")["articles"][0]["dir"] == "rtl"  # type: ignore[index]


# A page whose story a source's body selector picks out in parts: a lead picture before them, an
# advertisement between them, and one part nested in another (a class on nested blocks).
PARTS_PAGE = b"""<!doctype html><html lang="en"><head><title>Harbour works begin</title></head>
<body><h1>Harbour works begin</h1>
<figure><img src="/quay.jpg" alt="The quay"><figcaption>The old quay.</figcaption></figure>
<div class="part"><p>Work on the northern quay began on Monday, the harbour office said.</p>
<div class="part"><p>The crane arrived by sea from the yard at the river mouth last week.</p></div>
</div>
<div class="advert"><span>Buy a season ticket for the ferry today and save money.</span></div>
<div class="part"><p>The council expects the quay to reopen to ferries before the summer.</p></div>
</body></html>"""


@pytest.mark.parametrize("selector", [".part", "p"])
def test_a_body_selector_that_matches_several_elements_takes_each_once(selector: str) -> None:
    """The parts a source's body selector matches make its body, in page order, each paragraph
    once (a part inside another is not taken again), whatever pictures come before them."""
    from syndicator.model import Selectors

    url = "https://news.example/harbour.html"
    doc = extract(PARTS_PAGE, url, selectors=Selectors(body=selector))
    (draft,) = doc.articles
    assert draft.method == "selectors"
    assert draft.body is not None
    assert [p.split()[0] for p in draft.body.paragraphs] == ["Work", "The", "The"]
    assert "season ticket" not in (draft.body_html or "")
    assert [image.url for image in draft.body.images] == ["https://news.example/quay.jpg"]
    assert normalize_article(draft, now=NOW).paragraphs == draft.body.paragraphs
