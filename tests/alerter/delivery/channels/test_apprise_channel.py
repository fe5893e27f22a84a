"""Apprise delivers to real local receivers: a JSON webhook and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator

import pytest

from alerter.delivery.channels import apprise_channel, apprise_plugins
from alerter.delivery.channels.apprise_channel import AppriseChannel, AppriseUrlError
from alerter.delivery.channels.base import Outcome
from tests.alerter.receiver import Answer, receiving
from tests.alerter.smtp import Inbox, smtp_server
from tests.support import free_port

ALERT = {
    "title": "🔴 Service Down: api",
    "message": "**Item:** api\n**Status:** down\n**Reason:** connection refused",
}


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    with smtp_server() as inbox:
        yield inbox


def test_json_url_posts_title_and_body_and_a_500_is_retried_later() -> None:
    answers = iter([Answer(500), Answer(200)])
    with receiving(lambda _r: next(answers), path="/notify") as receiver:
        url = receiver.url.replace("http://", "json://")
        channel = AppriseChannel(url)
        rendered = apprise_channel.render(ALERT)
        first = channel.send(rendered)
        second = channel.send(rendered)
        assert first.outcome is Outcome.RETRY
        assert "500" in first.detail
        assert second.outcome is Outcome.DELIVERED
        [body] = receiver.bodies()
    assert body["title"] == ALERT["title"]
    assert body["message"].startswith("**Item:** api")


def test_refused_connection_is_retried_with_a_reason() -> None:
    channel = AppriseChannel(f"json://127.0.0.1:{free_port()}/x")
    result = channel.send(apprise_channel.render(ALERT))
    assert result.outcome is Outcome.RETRY
    assert result.detail.startswith("JSON: ")


def test_mailto_delivers_to_a_real_smtp_server_with_the_title_as_subject(
    smtp: Inbox,
) -> None:
    inbox = smtp
    result = AppriseChannel(inbox.mailto()).send(apprise_channel.render(ALERT))
    assert result.outcome is Outcome.DELIVERED
    [mail] = inbox.messages
    assert mail["Subject"] == ALERT["title"]
    assert "oncall@example.test" in mail["To"]
    assert "connection refused" in mail.get_body(("plain", "html")).get_content()  # type: ignore[union-attr]


def test_describe_masks_credentials_and_names_the_service() -> None:
    text = apprise_channel.describe(
        "mailto://bob:hunter22@127.0.0.1:2525?to=a@example.test&from=hb@example.test"
    )
    assert text.startswith("E-Mail: mailto://bob:****@127.0.0.1:2525")
    assert "hunter22" not in text


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("nonsense://foo", "not an Apprise URL"),
        ("mailto://bob:hunter22@127.0.0.1:2525?to=a@example.test", "Invalid ~From~ email"),
    ],
)
def test_a_bad_url_is_refused_with_apprise_reason_and_no_secret(url: str, why: str) -> None:
    with pytest.raises(AppriseUrlError, match=why) as refused:
        apprise_channel.describe(url)
    assert "hunter22" not in str(refused.value)


def test_only_the_plugins_of_the_configured_urls_are_imported() -> None:
    code = (
        "import sys; from alerter.delivery.channels import apprise_channel as a; "
        "a.describe('json://127.0.0.1:9/x'); a.describe('tgram://123456789:abcdefghij/42'); "
        "print(sorted(m for m in sys.modules if m.startswith('apprise.plugins.')))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(ast.literal_eval(out))
    assert {"apprise.plugins.custom_json", "apprise.plugins.telegram"} <= loaded
    assert len(loaded) < 20  # Apprise's own lookup imports all ~190


@pytest.mark.parametrize(("schema", "name"), [("json", "NotifyJSON"), ("mailtos", "NotifyEmail")])
def test_plugin_for_finds_the_class_serving_a_schema(schema: str, name: str) -> None:
    assert apprise_plugins.plugin_for(schema).__name__ == name
    assert apprise_plugins.plugin_for("nonsense") is None
