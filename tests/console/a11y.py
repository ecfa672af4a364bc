"""Accessibility checks of a rendered console page, on its HTML (no browser needed).

The console is server-rendered HTML with no JavaScript, so what a screen reader or a keyboard
user meets is in the markup: these checks read it with the standard library's parser into a
small tree and name each problem they find, in words an engineer can act on. They cover what
WCAG 2.1 AA asks that markup can show (names of controls, tables, charts, links and buttons,
the page's language and headings, tab order, errors announced); colour contrast is checked on
the stylesheet (test_contrast.py) and keyboard use in a real browser
(test_browser_keyboard.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

from aiohttp import web

VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip
CONTROLS = {"input", "select", "textarea"}


@dataclass
class Node:
    """An element: its tag, attributes, children (elements and text) and parent."""

    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def elements(self) -> Iterator[Node]:
        """This element and every element under it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.elements()

    def text(self) -> str:
        """The text under it, whitespace folded (what a screen reader reads of it)."""
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def ancestors(self) -> Iterator[Node]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def describe(self) -> str:
        """`<tag id=... name=...>`, to name the element in a problem."""
        shown = " ".join(
            f'{k}="{self.attrs[k]}"' for k in ("id", "name", "href") if k in self.attrs
        )
        return f"<{self.tag}{' ' + shown if shown else ''}>"


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag: str) -> None:
        for node in [self.current, *self.current.ancestors()]:
            if node.tag == tag:
                self.current = node.parent or self.root
                return

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def console_pages(console_app: web.Application) -> list[str]:
    """The canonical path of every GET route of the console's sub-application but its static
    files: what the accessibility and screenshot tests visit, so that a new page is covered."""
    return sorted(
        {
            route.resource.canonical
            for route in console_app.router.routes()
            if route.method == "GET"
            and route.resource is not None
            and not route.resource.canonical.startswith("/console/static")
        }
    )


def parse(html: str) -> Node:
    """The page as a tree of `Node`s under a `#document` root."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def problems(html: str) -> list[str]:
    """Every accessibility problem found on the page; empty when there is none."""
    root = parse(html)
    ids = _ids(root)
    found = [*_duplicate_ids(root)]
    for check in (_language, _headings, _skip_link, _tab_order):
        found.extend(check(root))
    for check_named in (_controls, _tables, _pictures, _links_and_buttons, _errors):
        found.extend(check_named(root, ids))
    return found


def _ids(root: Node) -> dict[str, Node]:
    return {e.attrs["id"]: e for e in root.elements() if e.attrs.get("id")}


def _duplicate_ids(root: Node) -> Iterator[str]:
    seen: set[str] = set()
    for element in root.elements():
        name = element.attrs.get("id")
        if name and name in seen:
            yield f"id {name!r} is used twice (labels and aria references need one element)"
        if name:
            seen.add(name)


def _language(root: Node) -> Iterator[str]:
    html = next((e for e in root.elements() if e.tag == "html"), None)
    if html is None or not html.attrs.get("lang", "").strip():
        yield "<html> has no lang attribute"


def _headings(root: Node) -> Iterator[str]:
    count = sum(1 for e in root.elements() if e.tag == "h1")
    if count != 1:
        yield f"the page has {count} <h1> elements, not one"


def focusable(root: Node) -> list[Node]:
    """The elements a Tab reaches, in document order (no positive tabindex is allowed)."""
    reached = []
    for e in root.elements():
        if e.attrs.get("tabindex", "").strip().lstrip("-").isdigit():
            if int(e.attrs["tabindex"]) >= 0:
                reached.append(e)
        elif (e.tag == "a" and "href" in e.attrs) or e.tag in {"button", "select", "textarea"}:
            if "disabled" not in e.attrs:
                reached.append(e)
        elif e.tag == "summary" or (
            e.tag == "input" and e.attrs.get("type") != "hidden" and "disabled" not in e.attrs
        ):
            reached.append(e)
    return reached


def _skip_link(root: Node) -> Iterator[str]:
    reached = focusable(root)
    first = reached[0] if reached else None
    if first is None or first.tag != "a" or not first.attrs.get("href", "").startswith("#"):
        yield "the first element in the tab order is not a skip link"
        return
    target = first.attrs["href"][1:]
    if "skip" not in first.text().lower():
        yield f"the first link {first.describe()} does not say it skips to the content"
    if target not in _ids(root) or _ids(root)[target].tag != "main":
        yield f"the skip link points at #{target}, which is not the <main> element"


def _tab_order(root: Node) -> Iterator[str]:
    for e in root.elements():
        value = e.attrs.get("tabindex", "").strip()
        if value.isdigit() and int(value) > 0:
            yield f"{e.describe()} has a positive tabindex ({value}): it breaks the tab order"


def _referenced_text(element: Node, attribute: str, ids: dict[str, Node]) -> str | None:
    """The text of the elements an aria-labelledby / aria-describedby names; None if one of
    them is missing."""
    names = element.attrs.get(attribute, "").split()
    if not names or any(n not in ids for n in names):
        return None
    return " ".join(ids[n].text() for n in names).strip()


def accessible_name(element: Node, ids: dict[str, Node], root: Node) -> str:
    """What assistive technology announces as the element's name (the parts of the accessible
    name computation the console uses): aria-labelledby, aria-label, label, own text, title."""
    labelled = _referenced_text(element, "aria-labelledby", ids)
    if labelled:
        return labelled
    if element.attrs.get("aria-label", "").strip():
        return element.attrs["aria-label"].strip()
    if element.tag in CONTROLS:
        own = element.attrs.get("id")
        labels = [
            e for e in root.elements() if e.tag == "label" and own and e.attrs.get("for") == own
        ]
        labels += [a for a in element.ancestors() if a.tag == "label"]
        text = " ".join(label.text() for label in labels).strip()
        if text:
            return text
    elif element.tag == "svg":
        title = next(
            (c for c in element.children if isinstance(c, Node) and c.tag == "title"), None
        )
        if title is not None and title.text():
            return title.text()
    elif element.tag in {"a", "button", "summary"}:  # named by their content
        text = element.text() or " ".join(
            e.attrs.get("alt", "") for e in element.elements() if e.tag == "img"
        )
        if text.strip():
            return text.strip()
    return element.attrs.get("title", "").strip()


def _controls(root: Node, ids: dict[str, Node]) -> Iterator[str]:
    for e in root.elements():
        hidden = e.attrs.get("type") == "hidden"
        if e.tag in CONTROLS and not hidden and not accessible_name(e, ids, root):
            yield f"form control {e.describe()} has no label"


def _tables(root: Node, ids: dict[str, Node]) -> Iterator[str]:
    for table in (e for e in root.elements() if e.tag == "table"):
        caption = next(
            (c for c in table.children if isinstance(c, Node) and c.tag == "caption"), None
        )
        named = (caption is not None and caption.text()) or accessible_name(table, ids, root)
        if not named:
            yield f"table {table.describe()} has neither a caption nor an aria-label(ledby)"
        cells = [e for e in table.elements() if e.tag == "th" and _owner(e) is table]
        if not cells:
            yield f"table {table.describe()} has no header cells (<th>)"
        for th in cells:
            if th.attrs.get("scope") not in {"col", "row", "colgroup", "rowgroup"}:
                yield f"header cell {th.text()!r} of table {table.describe()} has no scope"


def _owner(cell: Node) -> Node | None:
    """The table a cell belongs to (not a table nested inside it)."""
    return next((a for a in cell.ancestors() if a.tag == "table"), None)


def _pictures(root: Node, ids: dict[str, Node]) -> Iterator[str]:
    for e in root.elements():
        if e.tag == "img" and "alt" not in e.attrs:
            yield f"image {e.describe()} has no alt attribute"
        shown = e.tag == "svg" and e.attrs.get("aria-hidden") != "true"
        if shown and (e.attrs.get("role") != "img" or not accessible_name(e, ids, root)):
            yield f'chart {e.describe()} is not a role="img" with a title or aria-label'


def _links_and_buttons(root: Node, ids: dict[str, Node]) -> Iterator[str]:
    for e in root.elements():
        active = (e.tag == "a" and "href" in e.attrs) or e.tag == "button"
        if active and not accessible_name(e, ids, root):
            yield f"{e.describe()} has no text: nothing to announce"


def _errors(root: Node, ids: dict[str, Node]) -> Iterator[str]:
    described = {
        name for e in root.elements() for name in e.attrs.get("aria-describedby", "").split()
    }
    for e in root.elements():
        if "error" in e.attrs.get("class", "").split():
            in_alert = any(a.attrs.get("role") == "alert" for a in [e, *e.ancestors()])
            if not in_alert and e.attrs.get("id") not in described:
                yield (
                    f"error {e.text()!r} is neither in a role=alert region "
                    "nor a field's aria-describedby"
                )
