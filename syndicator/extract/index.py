"""Where each element of a parsed page is, from one pass over the tree: document order, depth,
parent, and containment by pre/post-order numbers.

The extractors ask "is this figure before the body?", "is this byline inside a related box?",
"which ``<article>`` holds this container?" for many elements of a page. Walking ancestors or
siblings for each of them costs the depth of the page (or its width) per question, and a walk
inside a walk (as a recursive "does this follow that") grows exponentially with depth. Here each
element gets two numbers in one walk — where its subtree starts and where it ends in document
order — and every such question becomes a comparison of numbers or a binary search. Pure: it
reads the tree and never changes it; it knows nothing of articles or chrome.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator

from lxml import etree
from lxml.html import HtmlElement


class TreeIndex:
    """Document order, depth, parents and subtree spans of ``root`` and everything under it.

    The numbers are those of the tree as it was when the index was built: an index of a tree
    that changed since answers for the old tree (build a new one after moving elements).
    """

    __slots__ = ("_depth", "_end", "_order", "_start", "root")

    def __init__(self, root: HtmlElement) -> None:
        self.root = root
        # lxml's own pre-order walk (in C, no recursion however deep the tree), then one pass
        # backwards: a subtree ends where its last child's subtree ends.
        order: list[HtmlElement] = list(root.iter())
        end: dict[HtmlElement, int] = {}
        for i in range(len(order) - 1, -1, -1):
            el = order[i]
            end[el] = end[el[-1]] if len(el) else i
        self._order = order
        self._start: dict[HtmlElement, int] = dict(zip(order, range(len(order)), strict=True))
        self._end = end
        self._depth: dict[HtmlElement, int] | None = None  # worked out when first asked

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, el: object) -> bool:
        return el in self._start

    def position(self, el: HtmlElement) -> int:
        """The element's place in document order (the root is 0)."""
        return self._start[el]

    def end(self, el: HtmlElement) -> int:
        """The position of the last element of ``el``'s subtree (``el``'s own if it has none)."""
        return self._end[el]

    def depth(self, el: HtmlElement) -> int:
        """How many ancestors ``el`` has up to the root of the index (the root's depth is 0)."""
        if self._depth is None:
            depth = {self.root: 0}
            for node in self._order:
                below = depth[node] + 1
                for child in node:
                    depth[child] = below
            self._depth = depth
        return self._depth[el]

    def parent(self, el: HtmlElement) -> HtmlElement | None:
        """The parent of ``el`` within the index (None for the root)."""
        return None if el is self.root else el.getparent()

    def elements(self) -> list[HtmlElement]:
        """Every node of the tree, in document order (a copy: the caller may change it)."""
        return list(self._order)

    def inside(self, el: HtmlElement, container: HtmlElement) -> bool:
        """True if ``el`` is a descendant of ``container`` (not ``container`` itself)."""
        first = self._start[container]
        return first < self._start[el] <= self._end[container]

    def within(self, el: HtmlElement, container: HtmlElement) -> bool:
        """True if ``el`` is ``container`` or one of its descendants."""
        first = self._start[container]
        return first <= self._start[el] <= self._end[container]

    def before(self, el: HtmlElement, other: HtmlElement) -> bool:
        """True if ``el`` (with all it holds) ends before ``other`` starts."""
        return self._end[el] < self._start[other]

    def after(self, el: HtmlElement, other: HtmlElement) -> bool:
        """True if ``el`` starts after ``other`` (with all it holds) ends."""
        return self._start[el] > self._end[other]

    def ancestors(self, el: HtmlElement) -> Iterator[HtmlElement]:
        """The ancestors of ``el`` within the index, nearest first. Use it for one element, not
        for each of many: :meth:`subtrees` and :meth:`nearest` answer those in one pass."""
        parent = self.parent(el)
        while parent is not None:
            yield parent
            parent = self.parent(parent)

    def descendants(self, el: HtmlElement) -> list[HtmlElement]:
        """The elements under ``el``, in document order (a slice, not a walk)."""
        return self._order[self._start[el] + 1 : self._end[el] + 1]

    def in_subtree(self, el: HtmlElement, elements: Iterable[HtmlElement]) -> list[HtmlElement]:
        """Those of ``elements`` that are ``el`` or lie inside it (in the order given)."""
        start = self._start
        first, last = start[el], self._end[el]
        return [e for e in elements if first <= start[e] <= last]

    def subtrees(self, tops: Iterable[HtmlElement]) -> Subtrees:
        """The union of the subtrees of ``tops``: which elements lie in (or are) one of them."""
        return Subtrees(self, tops)

    def marked(
        self,
        scope: HtmlElement,
        mark: Callable[[HtmlElement], bool],
        *,
        self_too: bool = True,
        among: Iterable[HtmlElement] | None = None,
    ) -> Subtrees:
        """The elements of ``scope``'s subtree that are, or lie inside, an element for which
        ``mark`` is true (``mark`` is asked at most once per element, never inside an element
        already marked; ``scope`` itself is asked only if ``self_too``). What "has an ancestor up
        to ``scope`` that is X" asks of every element, in one pass.

        ``among``: the only elements that can be marked, in document order (a list made in one
        walk already, such as the elements with a class), to ask fewer."""
        first, last = self._start[scope], self._end[scope]
        if not self_too:
            first += 1
        tops: list[HtmlElement] = []
        start, end, order = self._start, self._end, self._order
        if among is not None:
            covered = first - 1  # what lies up to here is before the scope, or marked already
            for el in among:
                where = start.get(el)
                if where is None or where <= covered:
                    continue
                if where > last:
                    break
                if mark(el):
                    tops.append(el)
                    covered = end[el]
            return Subtrees(self, tops)
        i = first
        while i <= last:
            el = order[i]
            if isinstance(el.tag, str) and mark(el):
                tops.append(el)
                i = end[el] + 1  # what it holds is covered
            else:
                i += 1
        return Subtrees(self, tops)

    def nearest(
        self, scope: HtmlElement, mark: Callable[[HtmlElement], bool]
    ) -> dict[HtmlElement, HtmlElement]:
        """For each element of ``scope``'s subtree that has one, its nearest ancestor (not
        itself) for which ``mark`` is true, up to and including ``scope``: one pass."""
        first, last = self._start[scope], self._end[scope]
        out: dict[HtmlElement, HtmlElement] = {}
        open_marks: list[HtmlElement] = []  # the marked ancestors of the element, outermost first
        for i in range(first, last + 1):
            el = self._order[i]
            while open_marks and self._end[open_marks[-1]] < i:
                open_marks.pop()
            if open_marks:
                out[el] = open_marks[-1]
            if isinstance(el.tag, str) and mark(el):
                open_marks.append(el)
        return out


class Subtrees:
    """A union of subtrees of an indexed tree: ``el in subtrees`` is a binary search."""

    __slots__ = ("_ends", "_index", "_starts", "tops")

    def __init__(self, index: TreeIndex, tops: Iterable[HtmlElement]) -> None:
        self._index = index
        spans = sorted((index.position(t), index.end(t), t) for t in tops if t in index)
        starts: list[int] = []
        ends: list[int] = []
        kept: list[HtmlElement] = []
        for first, last, top in spans:
            if ends and first <= ends[-1]:
                continue  # inside the previous one (subtrees nest or are apart)
            starts.append(first)
            ends.append(last)
            kept.append(top)
        self._starts = starts
        self._ends = ends
        self.tops = kept  # the outermost of the given elements, in document order

    def __contains__(self, el: object) -> bool:
        index = self._index
        if not isinstance(el, etree._Element) or el not in index:
            return False
        where = index.position(el)
        i = bisect_right(self._starts, where) - 1
        return i >= 0 and where <= self._ends[i]

    def below(self, el: HtmlElement) -> bool:
        """True if ``el`` lies strictly inside one of the subtrees (has an ancestor among the
        given elements)."""
        index = self._index
        if el not in index:
            return False
        where = index.position(el)
        i = bisect_right(self._starts, where) - 1
        return i >= 0 and self._starts[i] < where <= self._ends[i]

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __len__(self) -> int:
        return len(self._starts)
