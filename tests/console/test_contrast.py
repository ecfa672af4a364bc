"""The console stylesheet's colours meet WCAG 2.1 AA: text at least 4.5:1 against what it is
drawn on (1.4.3), component boundaries, chart marks and the focus indicator at least 3:1
(1.4.11); links, buttons and inputs show a focus outline (2.4.7).

The pairs are read from console/static/console.css itself (custom properties resolved), so a
colour changed there is checked; a colour declaration the table below does not place is a
failure, naming it, until it is paired or said to be decorative."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "console" / "static" / "console.css"
TEXT, LARGE_OR_UI = 4.5, 3.0
Ref = tuple[str, str]  # (selector, property)

PAGE: Ref = ("html", "background")
HEADER: Ref = (".top", "background")
BAND: Ref = ("thead th", "background")
CHART: Ref = ("svg.chart", "background")

# (what, foreground, background, minimum ratio)
PAIRS: list[tuple[str, Ref, Ref, float]] = [
    ("body text", ("html", "color"), PAGE, TEXT),
    ("links", ("a", "color"), PAGE, TEXT),
    ("table header text", ("html", "color"), BAND, TEXT),
    ("links in table headers", ("a", "color"), BAND, TEXT),
    ("hints", (".hint", "color"), PAGE, TEXT),
    ("table captions", ("caption", "color"), PAGE, TEXT),
    ("footer", (".foot", "color"), PAGE, TEXT),
    ("header text", (".top", "color"), HEADER, TEXT),
    ("navigation links (the current page too)", (".top a", "color"), HEADER, TEXT),
    ("the operator's role in the header", (".top .role", "color"), HEADER, TEXT),
    ("button labels", ("button", "color"), ("button", "background"), TEXT),
    ("danger button labels", ("button", "color"), ("button.danger", "background"), TEXT),
    ("the sign-out button", ("button", "color"), HEADER, TEXT),
    ("errors", (".error", "color"), PAGE, TEXT),
    ("notices", (".notice", "color"), PAGE, TEXT),
    ("bad states (dead, rejected, voided)", (".bad", "color"), PAGE, TEXT),
    ("a new secret's box", ("html", "color"), (".secret", "background"), TEXT),
    ("links in a new secret's box", ("a", "color"), (".secret", "background"), TEXT),
    ("JSON", ("html", "color"), ("pre.json", "background"), TEXT),
    ("the skip link", ("a", "color"), (".skip", "background"), TEXT),
    ("chart labels", ("svg.chart .tick", "fill"), CHART, TEXT),
    ("choices in a list box", ("select", "color"), ("select", "background"), TEXT),
    ("input boundaries", ("input:not([type=checkbox])", "border"), PAGE, LARGE_OR_UI),
    ("list box boundaries", ("select", "border"), PAGE, LARGE_OR_UI),
    ("buttons against the page", ("button", "background"), PAGE, LARGE_OR_UI),
    ("danger buttons against the page", ("button.danger", "background"), PAGE, LARGE_OR_UI),
    ("the sign-out button's boundary", (".top button", "border-color"), HEADER, LARGE_OR_UI),
    ("chart bars", ("svg.chart .bar", "fill"), CHART, LARGE_OR_UI),
    ("chart axes", ("svg.chart .axis", "stroke"), CHART, LARGE_OR_UI),
]

# Colours that carry no information (1.4.11 does not apply), and why.
DECORATIVE: dict[Ref, str] = {
    ("fieldset", "border"): "groups fields that have their own labels and boundaries",
    ("th", "border-bottom"): "row rules: the cells are read as a table anyway",
    ("td", "border-bottom"): "row rules: the cells are read as a table anyway",
    ("svg.chart", "border"): "frames a chart that is also given as text",
    ("pre.json", "border"): "frames text that stands on its own",
    (".foot", "border-top"): "separates the footer, which needs no boundary",
    (".secret", "border"): "frames a box whose heading says what it is",
    ("button", "border"): "the button's fill is its boundary (checked above)",
    ("button.danger", "border-color"): "the button's fill is its boundary (checked above)",
    (".top button", "background"): "transparent: the header shows through (checked above)",
    (":focus-visible", "outline"): "checked by test_the_focus_indicator_is_visible_everywhere",
    (":focus-visible", "box-shadow"): "checked by test_the_focus_indicator_is_visible_everywhere",
}

COLOUR = re.compile(r"#[0-9a-fA-F]{3,6}\b|\bvar\(--[\w-]+\)|\b(?:white|black|transparent)\b")
NAMED = {"white": "#ffffff", "black": "#000000"}


def rules(css: str) -> dict[str, dict[str, str]]:
    """Each selector (comma lists split) and the declarations it sets, later rules winning."""
    found: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(
        r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    ):
        declarations = dict(
            (name.strip(), value.strip())
            for name, _, value in (d.partition(":") for d in body.split(";"))
            if value.strip()
        )
        for selector in selectors.split(","):
            found.setdefault(" ".join(selector.split()), {}).update(declarations)
    return found


def colour(value: str, variables: dict[str, str]) -> str | None:
    """The colour in a declaration's value (#hex), custom properties resolved."""
    match = COLOUR.search(value)
    if match is None:
        return None
    token = match.group(0)
    if token.startswith("var("):
        return colour(variables[token[4:-1]], variables)
    return NAMED.get(token, token)


def luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance."""
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio, 1 to 21."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.fixture(scope="module")
def sheet() -> dict[str, dict[str, str]]:
    return rules(CSS.read_text())


def resolve(sheet: dict[str, dict[str, str]], ref: Ref) -> str:
    """The colour a (selector, property) sets; `transparent` is what it is drawn on."""
    variables = sheet[":root"]
    value = sheet[ref[0]][ref[1]]
    found = colour(value, variables)
    assert found is not None and found != "transparent", (ref, value)
    return found


@pytest.mark.parametrize(("what", "fg", "bg", "minimum"), PAIRS, ids=[p[0] for p in PAIRS])
def test_each_pair_meets_aa(
    sheet: dict[str, dict[str, str]], what: str, fg: Ref, bg: Ref, minimum: float
) -> None:
    ratio = contrast(resolve(sheet, fg), resolve(sheet, bg))
    assert ratio >= minimum, f"{what}: {fg} on {bg} is {ratio:.2f}:1, under {minimum}:1"


def test_every_colour_in_the_stylesheet_is_checked_or_said_to_be_decorative(
    sheet: dict[str, dict[str, str]],
) -> None:
    placed = {ref for _, fg, bg, _ in PAIRS for ref in (fg, bg)} | set(DECORATIVE)
    variables = sheet[":root"]
    unplaced = [
        (selector, name)
        for selector, declarations in sheet.items()
        if selector != ":root"
        for name, value in declarations.items()
        if colour(value, variables) is not None and (selector, name) not in placed
    ]
    assert unplaced == [], f"colours neither paired nor decorative: {unplaced}"


def test_the_focus_indicator_is_visible_everywhere(sheet: dict[str, dict[str, str]]) -> None:
    """A 3px outline with a dark ring around it: one of the two stands out at least 3:1 on
    the page, the table header band and the dark header."""
    focus = sheet[":focus-visible"]
    width = re.search(r"(\d+)px", focus["outline"])
    assert width and int(width.group(1)) >= 2 and "none" not in focus["outline"]
    outline = resolve(sheet, (":focus-visible", "outline"))
    ring = resolve(sheet, (":focus-visible", "box-shadow"))
    for ground in (PAGE, BAND, HEADER, (".secret", "background")):
        shown = resolve(sheet, ground)
        best = max(contrast(outline, shown), contrast(ring, shown))
        assert best >= LARGE_OR_UI, (ground, best)


def test_no_rule_hides_the_focus_of_links_buttons_or_inputs(
    sheet: dict[str, dict[str, str]],
) -> None:
    for selector, declarations in sheet.items():
        if ":focus" in selector and declarations.get("outline", "").startswith(("none", "0")):
            # main is focused only as the skip link's target, and is not a control
            assert selector == "main:focus", selector


def test_the_contrast_sums_are_wcag_s() -> None:
    assert round(contrast("#000", "#fff"), 2) == 21.0
    assert contrast("#777777", "#ffffff") < TEXT < contrast("#767676", "#ffffff")
    assert contrast("#0b4f9c", "#0b4f9c") == 1.0


def test_the_reader_resolves_custom_properties_and_splits_selector_lists() -> None:
    sheet = rules(":root { --a: #123456; }\n/* x { color: red } */ p, li { color: var(--a) }")
    assert set(sheet) == {":root", "p", "li"}
    assert colour(sheet["li"]["color"], sheet[":root"]) == "#123456"
