"""A favicon per brand: /favicon.svg answers in the host's brand colour with its initial, and
every page links the icon of the brand it is drawn in."""

from urllib.parse import unquote

import pytest

from portal.favicon import favicon_svg, href, initial

pytestmark = pytest.mark.django_db


def paint(org, colour: str) -> None:
    org.brand.primary_color = colour
    org.brand.save(update_fields=["primary_color", "updated_at"])


def test_the_favicon_is_the_hosts_brand(tree, client):
    paint(tree["R1"], "#aa3300")
    paint(tree["P"], "#f0f0f0")
    r1 = client.get("/favicon.svg", HTTP_HOST="r1.test")
    assert (r1.status_code, r1["Content-Type"]) == (200, "image/svg+xml")
    svg = r1.content.decode()
    assert 'fill="#aa3300"' in svg and ">R</text>" in svg and 'fill="#ffffff"' in svg
    # a host no seller claims answers in the provider's brand; dark letter on a light colour
    other = client.get("/favicon.svg", HTTP_HOST="stranger.test").content.decode()
    assert 'fill="#f0f0f0"' in other and ">P</text>" in other and 'fill="#111111"' in other


def test_pages_link_the_icon_of_the_brand_they_are_drawn_in(tree, client):
    paint(tree["R1"], "#aa3300")
    link = '<link rel="icon" type="image/svg+xml" href="/favicon.svg?v='
    assert link in client.get("/", HTTP_HOST="r1.test").content.decode()
    client.force_login(tree["C11.admin"])
    portal = client.get(f"/portal/{tree['C11'].pk}/", HTTP_HOST="r1.test").content.decode()
    assert link in portal
    # a page drawn in another brand than its host's carries that brand's icon inline
    inline = href(tree["R1"].brand, tree["P"].brand)
    assert inline.startswith("data:image/svg+xml,")
    assert unquote(inline) == "data:image/svg+xml," + favicon_svg(tree["R1"].brand)
    version = int(tree["R1"].brand.updated_at.timestamp())
    assert href(tree["R1"].brand, tree["R1"].brand) == f"/favicon.svg?v={version}"


def test_the_initial_is_escaped_and_never_empty():
    assert (initial("  &co"), initial("éclair"), initial("--"), initial("")) == ("C", "É", "?", "?")
