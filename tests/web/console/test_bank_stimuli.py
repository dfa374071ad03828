"""A bank's shared stimuli in the console, in process on both backends: the list, a
stimulus's page, adding one and storing its next version from a file, refusals beside the
form, and a stimulus of another bank or organization not found."""

from __future__ import annotations

import httpx
import pytest

from tests.support.banks import import_upload
from tests.support.console import console_sign_in, field_errors
from tests.support.factories import Factory, login
from tests.support.stimuli import (
    PASSAGE_ID,
    PASSAGE_SENTENCE,
    PASSAGE_TITLE,
    passage,
    stimulus_package,
)
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


async def test_stimulus_page_lists_its_items_archives_and_deletes_only_an_unused_one(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    account = await make.user(org, Role.admin)
    headers = await login(client, account)
    bank = await client.post(
        "/api/v1/banks", json={"slug": "reading", "name": "Reading"}, headers=headers
    )
    bank_id = bank.json()["id"]
    imported = await import_upload(client, headers, bank_id, "tide.zip", stimulus_package())
    assert imported.status_code == 201, imported.text
    spare = await client.post(
        f"/api/v1/banks/{bank_id}/stimuli",
        json={"source": {"format": "qti", "content": passage(identifier="spare")}},
        headers=headers,
    )
    spare_id = spare.json()["stimulus"]["id"]
    listed = await client.get(f"/api/v1/banks/{bank_id}/stimuli", headers=headers)
    (used_id,) = [s["id"] for s in listed.json()["items"] if s["identifier"] == PASSAGE_ID]
    csrf = await console_sign_in(client, account)
    url = f"/console/banks/{bank_id}/stimuli"
    page_url = f"{url}/{used_id}"

    page = await client.get(page_url)
    assert page.status_code == 200
    users = page.text.split("Items using this stimulus")[1].split("</table>")[0]
    assert "2 items use this stimulus" in users
    for identifier in ("TIDE-1", "TIDE-2"):
        assert f'<td class="code">{identifier}</td>' in users
    assert f'href="/console/banks/{bank_id}/items/' in users
    assert f'action="{page_url}/archive"' in page.text
    archive_form = page.text.split(f'action="{page_url}/archive"')[1].split(">")[0]
    assert "data-confirm=" in archive_form
    # Used: no delete button; a delete posted anyway is refused on the page.
    assert f'action="{page_url}/delete"' not in page.text
    refused = await client.post(f"{page_url}/delete", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert "2 items use the shared stimulus" in refused.text
    assert "archive it instead" in refused.text

    archived = await client.post(f"{page_url}/archive", data={"csrf_token": csrf})
    assert archived.status_code == 303, archived.text
    page = await client.get(page_url)
    assert "This shared stimulus is archived" in page.text
    assert f'action="{page_url}/restore"' in page.text
    assert "TIDE-1" in page.text  # the items still use it
    assert page_url not in (await client.get(url)).text
    every = await client.get(url, params={"archived": "true"})
    assert page_url in every.text
    restored = await client.post(f"{page_url}/restore", data={"csrf_token": csrf})
    assert restored.status_code == 303
    assert page_url in (await client.get(url)).text

    spare_url = f"{url}/{spare_id}"
    spare_page = await client.get(spare_url)
    assert "No item uses this stimulus." in spare_page.text
    assert f'action="{spare_url}/delete"' in spare_page.text
    deleted = await client.post(f"{spare_url}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert deleted.headers["location"].endswith(url)
    assert (await client.get(spare_url)).status_code == 404


async def test_stimulus_page_in_french(client: httpx.AsyncClient, make: Factory) -> None:
    org = await make.organization()
    account = await make.user(org, Role.admin)
    headers = await login(client, account)
    bank = await client.post(
        "/api/v1/banks", json={"slug": "reading", "name": "Reading"}, headers=headers
    )
    bank_id = bank.json()["id"]
    added = await client.post(
        f"/api/v1/banks/{bank_id}/stimuli",
        json={"source": {"format": "qti", "content": passage()}},
        headers=headers,
    )
    stimulus_id = added.json()["stimulus"]["id"]
    await console_sign_in(client, account)
    client.cookies.set("waa_lang", "fr")
    page = await client.get(f"/console/banks/{bank_id}/stimuli/{stimulus_id}")
    assert page.status_code == 200
    assert "Items qui utilisent ce texte support" in page.text
    assert "utilise ce texte support." in page.text.split("Items qui utilisent")[1]
    assert "Archiver le texte support" in page.text
