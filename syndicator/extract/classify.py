"""Article or listing: does a page present one article, or cards leading to many?

The signals are those the body locator weighs (:mod:`syndicator.extract.body`): one dominant
block of running text with sentences reads as an article; a block of many short cards, each a
linked heading with a line or two, reads as a listing; what the page says of itself (JSON-LD
``@type``, ``og:type``, ``itemprop="articleBody"``, ``article:*`` meta) settles it first. A page
that is both (an article with a box of teasers) is an article: its teasers are read too. Pure.
"""

from __future__ import annotations

from syndicator.extract.body import PROSE_PER_CARD, Analysis, Figures

# Running text a page needs to be read as an article without metadata saying so: a paragraph of
# a few sentences (Readability's reader mode asks about as much).
MIN_PROSE = 140


def has_running_text(figures: Figures) -> bool:
    """One block of running text: enough of it, in sentences, and not a grid of cards."""
    if figures.prose < MIN_PROSE or (figures.sentences < 1 and figures.prose < 2 * MIN_PROSE):
        return False
    cards = max(figures.linked_headings, figures.articles if figures.articles >= 3 else 0)
    return not (cards >= 3 and figures.prose < cards * PROSE_PER_CARD)


def is_article(analysis: Analysis, *, declared: bool) -> bool:
    """``declared``: the page's metadata says it is an article."""
    if declared:
        return True
    if analysis.best is None:
        return False
    best, page = analysis.of(analysis.best), analysis.of(analysis.root)
    if not has_running_text(best):
        return False
    # The block dominates the page's running text: not one teaser's blurb among many cards
    # (beside linked headings, it must hold more running text than the rest of the page).
    share = 0.5 if page.linked_headings >= 3 else 0.3
    return best.prose >= share * page.prose
