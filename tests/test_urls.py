"""A remembered link is the link Flask would build, whatever the arguments and whatever the request's host,
scheme, script root or method."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask, url_for

from rehab import RehabFlask, urls


@pytest.fixture
def app() -> Flask:
    app = RehabFlask(__name__)
    app.config["SERVER_NAME"] = None
    shop = Blueprint("shop", __name__, url_prefix="/shop")
    shop.add_url_rule("/items/<int:item_id>", "item", lambda item_id: "")
    shop.add_url_rule("/", "index", lambda: "", methods=["GET", "POST"])
    other = Blueprint("other", __name__, url_prefix="/other")
    other.add_url_rule("/", "index", lambda: "")
    app.register_blueprint(shop)
    app.register_blueprint(other)
    app.add_url_rule("/thing", "thing_get", lambda: "", methods=["GET"])
    def edit() -> str:
        return ""

    app.add_url_rule("/edit", "edit", edit, methods=["GET"])
    app.add_url_rule("/edit/save", "edit", edit, methods=["POST"])
    return app


def plain(app: Flask, endpoint: str, **arguments: Any) -> str:
    """What Flask itself builds, without the memo."""
    return Flask.url_for(app, endpoint, **arguments)


CASES: list[tuple[str, dict[str, Any]]] = [
    ("shop.item", {"item_id": 3}),
    ("shop.item", {"item_id": 3, "page": 2}),
    ("shop.item", {"page": 2, "item_id": 3}),
    ("shop.item", {"item_id": 3, "v": True}),
    ("shop.item", {"item_id": 3, "v": 1}),
    ("shop.item", {"item_id": 3, "v": "1"}),
    ("shop.item", {"item_id": 3, "v": None}),
    ("shop.item", {"item_id": 3, "q": "a b&c=d/é"}),
    ("shop.item", {"item_id": 3, "_anchor": "advice"}),
    ("shop.item", {"item_id": 3, "_anchor": "a b"}),
    ("shop.item", {"item_id": 3, "f": -0.0}),
    ("shop.item", {"item_id": 3, "f": 0.0}),
    ("shop.item", {"item_id": 3, "many": ["a", "b"]}),
    ("shop.item", {"item_id": 3, "_external": True}),
    ("shop.item", {"item_id": 3, "_external": True, "_scheme": "https"}),
    ("edit", {}),
    ("edit", {"_method": "POST"}),
    ("thing_get", {}),
    (".index", {}),
    ("shop.index", {}),
]


def test_every_argument_combination_builds_what_flask_builds_first_and_then_from_memory(app):
    with app.test_request_context("/shop/", base_url="http://clinic.example/rehab"):
        expected = [plain(app, endpoint, **arguments) for endpoint, arguments in CASES]
        for _ in range(2):  # the first round fills the memo, the second reads it
            assert [url_for(endpoint, **arguments) for endpoint, arguments in CASES] == expected
    assert "/rehab/shop/items/3?v=True" in expected and "/rehab/shop/items/3?v=1" in expected
    assert "/rehab/shop/items/3?f=-0.0" in expected and "/rehab/shop/items/3#advice" in expected


@pytest.mark.parametrize(("first", "then"), [
    ({"base_url": "http://clinic.example/rehab"}, {"base_url": "http://clinic.example/other-prefix"}),
    ({"base_url": "http://clinic.example/"}, {"base_url": "https://clinic.example/"}),
    ({"base_url": "http://clinic.example/"}, {"base_url": "http://second.example:8080/"}),
    ({"base_url": "http://clinic.example/"}, {"base_url": "http://clinic.example/", "method": "POST"}),
    ({"path": "/shop/"}, {"path": "/other/"}),
])
def test_a_link_remembered_for_one_request_is_not_given_to_a_request_that_would_build_another(app, first, then):
    """Behind a proxy the script root, scheme and host can change from one request to the next; a relative
    endpoint follows the request's blueprint; the method chooses among an endpoint's rules."""
    for request in (first, then, first):
        with app.test_request_context(**{"path": "/shop/", **request}):
            for endpoint, arguments in CASES:
                assert url_for(endpoint, **arguments) == plain(app, endpoint, **arguments)


def test_the_script_root_a_proxy_sends_is_in_each_request_s_links(app):
    with app.test_request_context("/", environ_overrides={"SCRIPT_NAME": "/a"}):
        assert url_for("shop.item", item_id=1) == "/a/shop/items/1"
    with app.test_request_context("/", environ_overrides={"SCRIPT_NAME": "/b"}):
        assert url_for("shop.item", item_id=1) == "/b/shop/items/1"


def test_outside_a_request_links_are_built_every_time(app):
    app.config["SERVER_NAME"] = "clinic.example"
    with app.app_context():
        assert url_for("shop.item", item_id=1) == "http://clinic.example/shop/items/1"
    app.config["SERVER_NAME"] = "second.example"
    with app.app_context():
        assert url_for("shop.item", item_id=1) == "http://second.example/shop/items/1"


def test_url_defaults_turn_the_memo_off(app):
    language = {"value": "en"}
    app.url_defaults(lambda endpoint, values: values.setdefault("lang", language["value"]))
    with app.test_request_context("/"):
        assert url_for("shop.item", item_id=1) == "/shop/items/1?lang=en"
        language["value"] = "es"
        assert url_for("shop.item", item_id=1) == "/shop/items/1?lang=es"


def test_a_failed_build_is_not_remembered_and_the_memo_stays_bounded(app, monkeypatch):
    monkeypatch.setattr(urls, "LIMIT", 3)
    with app.test_request_context("/"):
        for _ in range(2):
            with pytest.raises(Exception, match="item_id"):
                url_for("shop.item")
        links = [url_for("shop.item", item_id=number) for number in range(10)]
        assert links == [f"/shop/items/{number}" for number in range(10)]
        assert len(app._links._links) <= 3  # type: ignore[attr-defined]


def test_behind_a_proxy_each_request_s_forwarded_prefix_scheme_and_host_are_in_its_links(app):
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.add_url_rule("/where", "where", lambda: " ".join((url_for("shop.item", item_id=1),
                                                          url_for("shop.item", item_id=1, _external=True))))
    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]
    client = app.test_client()
    for _ in range(2):
        assert client.get("/where").text == "/shop/items/1 http://localhost/shop/items/1"
        assert client.get("/where", headers={"X-Forwarded-Prefix": "/rehab", "X-Forwarded-Proto": "https",
                                             "X-Forwarded-Host": "clinic.example"}).text == \
            "/rehab/shop/items/1 https://clinic.example/rehab/shop/items/1"
        assert client.get("/where", headers={"X-Forwarded-Prefix": "/other"}).text == \
            "/other/shop/items/1 http://localhost/other/shop/items/1"
