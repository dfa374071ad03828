"""A bank's shared stimuli in the console, in process on both backends: the list, a
stimulus's page, adding one and storing its next version from a file, refusals beside the
form, and a stimulus of another bank or organization not found."""

from __future__ import annotations

import httpx
import pytest

from tests.support.console import console_sign_in, field_errors
from tests.support.factories import Factory, login
from tests.support.stimuli import PASSAGE_ID, PASSAGE_SENTENCE, PASSAGE_TITLE, passage
from waa_ads.auth.models import Role

pytestmark = pytest.mark.asyncio


async def test_stimulus_pages_list_show_add_and_version(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org, Role.admin)
    headers = await login(client, account)
    banks = [
        (
            await client.post(
                "/api/v1/banks", json={"slug": slug, "name": slug.title()}, headers=headers
            )
        ).json()["id"]
        for slug in ("reading", "other")
    ]
    bank_id = banks[0]
    csrf = await console_sign_in(client, account)
    url = f"/console/banks/{bank_id}/stimuli"

    empty = await client.get(url)
    assert empty.status_code == 200
    assert "No shared stimuli in this bank yet." in empty.text
    assert f'href="{url}"' in (await client.get(f"/console/banks/{bank_id}")).text

    missing = await client.post(url, data={"csrf_token": csrf})
    assert missing.status_code == 422
    assert field_errors(missing.text) == {"file": "choose the stimulus&#39;s file"}
    added = await client.post(
        url,
        data={"csrf_token": csrf},
        files={"file": ("tide.xml", passage().encode(), "application/xml")},
    )
    assert added.status_code == 303, added.text
    page_url = added.headers["location"]
    page = await client.get(page_url)
    assert page.status_code == 200
    assert PASSAGE_TITLE in page.text and PASSAGE_SENTENCE in page.text
    assert "<script" not in page.text.split("What candidates see")[1].split("</section>")[0]
    listed = await client.get(url)
    assert PASSAGE_ID in listed.text and page_url in listed.text

    again = await client.post(
        url,
        data={"csrf_token": csrf},
        files={"file": ("tide.xml", passage().encode(), "application/xml")},
    )
    assert again.status_code == 409
    assert PASSAGE_ID in field_errors(again.text)["file"]

    newer = await client.post(
        page_url,
        data={"csrf_token": csrf},
        files={"file": ("tide.xml", passage(sentence="Once a day").encode(), "application/xml")},
    )
    assert newer.status_code == 303
    assert "Once a day" in (await client.get(page_url)).text
    broken = await client.post(
        page_url,
        data={"csrf_token": csrf},
        files={"file": ("tide.xml", b"<qti-assessment-stimulus", "application/xml")},
    )
    assert broken.status_code == 422
    assert "malformed XML" in field_errors(broken.text)["file"]

    stimulus_id = page_url.rsplit("/", 1)[1]
    elsewhere = await client.get(f"/console/banks/{banks[1]}/stimuli/{stimulus_id}")
    assert elsewhere.status_code == 404
    stranger = await make.user(await make.organization(), Role.admin)
    await console_sign_in(client, stranger)
    assert (await client.get(page_url)).status_code == 404
