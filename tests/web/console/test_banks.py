"""The item bank area of the console, in process on both backends: banks, the bank page's
search, the item page (workflow, the candidate's preview, trying a response, versions and
their differences), the editor, import, media and rubrics; refusals shown where they
happen, and what people without the right get."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.console import console_sign_in, field_errors, post_form
from tests.support.factories import Account, Factory, login
from tests.support.items import choice_item, package
from tests.support.media import png
from waa_ads.auth.models import Organization, Role

pytestmark = pytest.mark.asyncio


async def _author_with_bank(
    client: httpx.AsyncClient, make: Factory, *, role: Role = Role.admin
) -> tuple[Organization, Account, dict[str, str], str]:
    org = await make.organization()
    account = await make.user(org, role)
    headers = await login(client, account)
    bank = await client.post(
        "/api/v1/banks",
        json={"slug": "science", "name": "Science", "description": "Grade 5 science"},
        headers=headers,
    )
    assert bank.status_code == 201, bank.text
    return org, account, headers, bank.json()["id"]


async def _add_item(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    bank_id: str,
    identifier: str,
    title: str,
    **meta: Any,
) -> dict[str, Any]:
    reply = await client.post(
        f"/api/v1/banks/{bank_id}/items",
        json={
            "source": {"format": "qti", "content": choice_item(identifier, title)},
            "metadata": meta,
        },
        headers=headers,
    )
    assert reply.status_code == 201, reply.text
    item: dict[str, Any] = reply.json()["item"]
    return item


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_banks_are_listed_created_renamed_archived_and_restored(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, account, headers, bank_id = await _author_with_bank(client, make)
    csrf = await console_sign_in(client, account)
    listing = await client.get("/console/banks")
    assert listing.status_code == 200
    assert "Science" in listing.text and "Grade 5 science" in listing.text

    created = await post_form(
        client,
        "/console/banks",
        csrf,
        {"name": "History", "slug": "history", "review_required": "on"},
    )
    assert created.status_code == 303, created.text
    history = (await client.get("/api/v1/banks", headers=headers)).json()
    made = next(b for b in history if b["slug"] == "history")
    assert made["review_required"] is True
    assert created.headers["location"] == f"/console/banks/{made['id']}"

    taken = await post_form(client, "/console/banks", csrf, {"name": "Again", "slug": "history"})
    assert taken.status_code == 409
    assert "There is a problem" in taken.text
    assert 'value="Again"' in taken.text
    bad = await post_form(client, "/console/banks", csrf, {"name": "Bad", "slug": "Not A Slug"})
    assert bad.status_code == 422
    assert "slug" in field_errors(bad.text)

    renamed = await post_form(
        client,
        f"/console/banks/{bank_id}/settings",
        csrf,
        {"name": "Natural science", "description": ""},
    )
    assert renamed.status_code == 303
    bank = (await client.get(f"/api/v1/banks/{bank_id}", headers=headers)).json()
    assert bank["name"] == "Natural science" and bank["description"] is None
    empty = await post_form(client, f"/console/banks/{bank_id}/settings", csrf, {"name": ""})
    assert empty.status_code == 422
    assert "name" in field_errors(empty.text)

    archived = await post_form(client, f"/console/banks/{bank_id}/archive", csrf)
    assert archived.status_code == 303
    link = f'<a href="/console/banks/{bank_id}">Natural science</a>'
    assert link not in (await client.get("/console/banks")).text
    with_archived = (await client.get("/console/banks?archived=true")).text
    assert link in with_archived and "tag-archived" in with_archived
    assert "This bank is archived" in (await client.get(f"/console/banks/{bank_id}")).text
    await post_form(client, f"/console/banks/{bank_id}/restore", csrf)
    assert (await client.get(f"/api/v1/banks/{bank_id}", headers=headers)).json()[
        "archived_at"
    ] is None


async def test_the_bank_page_searches_its_items_by_text_tag_type_and_status(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, account, headers, bank_id = await _author_with_bank(client, make)
    greek = await _add_item(client, headers, bank_id, "Q1", "Greek letters", tags=["greek"])
    await _add_item(client, headers, bank_id, "Q2", "Planets", tags=["space"], subject="astronomy")
    await client.post(f"/api/v1/items/{greek['id']}/publish", headers=headers)
    await console_sign_in(client, account)
    url = f"/console/banks/{bank_id}"

    everything = _text((await client.get(url)).text)
    assert "Greek letters" in everything and "Planets" in everything
    by_text = _text((await client.get(url, params={"q": "astronomy"})).text)
    assert "Planets" in by_text and "Greek letters" not in by_text
    by_tag = _text((await client.get(url, params={"tag": "greek"})).text)
    assert "Greek letters" in by_tag and "Planets" not in by_tag
    by_status = _text((await client.get(url, params={"status": "published"})).text)
    assert "Greek letters" in by_status and "Planets" not in by_status
    by_type = _text((await client.get(url, params={"type": "slider"})).text)
    assert "No items match this search" in by_type
    wrong = await client.get(url, params={"status": "lost"})
    assert wrong.status_code == 200
    assert "status" in field_errors(wrong.text)


async def test_the_item_page_previews_as_a_candidate_sees_it_and_runs_the_workflow(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, account, headers, bank_id = await _author_with_bank(client, make)
    item = await _add_item(client, headers, bank_id, "Q1", "Greek letters", tags=["greek"])
    csrf = await console_sign_in(client, account)
    url = f"/console/banks/{bank_id}/items/{item['id']}"
    page = await client.get(url)
    assert page.status_code == 200
    preview = (
        await client.get(f"/api/v1/items/{item['id']}/versions/1/preview", headers=headers)
    ).json()
    assert preview["html"].strip() in page.text  # the player's own HTML, as the API sent it
    assert 'type="radio" name="RESPONSE" value="B"' in page.text
    assert "correct" not in page.text.split('id="item-preview"')[1].split("</form>")[0].lower()
    assert "Submit for review" in page.text and "Publish version 1" in page.text

    published = await post_form(client, f"{url}/workflow/publish", csrf)
    assert published.status_code == 303
    after = await client.get(url)
    assert "Published." in after.text
    assert (await client.get(f"/api/v1/items/{item['id']}", headers=headers)).json()["item"][
        "status"
    ] == "published"
    assert "Retire" in after.text and "Publish version" not in after.text
    await post_form(client, f"{url}/workflow/archive", csrf)
    assert "This item is archived" in (await client.get(url)).text
    await post_form(client, f"{url}/workflow/restore", csrf)
    refused = await post_form(client, f"{url}/workflow/submit", csrf)
    assert refused.status_code == 409
    assert "notice-error" in refused.text
    assert (await post_form(client, f"{url}/workflow/explode", csrf)).status_code == 404


async def test_trying_a_response_shows_the_score_and_every_outcome(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, account, headers, bank_id = await _author_with_bank(client, make)
    item = await _add_item(client, headers, bank_id, "Q1", "Greek letters")
    csrf = await console_sign_in(client, account)
    url = f"/console/banks/{bank_id}/items/{item['id']}"

    right = await post_form(client, f"{url}/try", csrf, {"responses": '{"RESPONSE": "B"}'})
    assert right.status_code == 200
    assert "Score: 1.0 of 1.0" in _text(right.text)
    wrong = await post_form(client, f"{url}/try", csrf, {"responses": '{"RESPONSE": "A"}'})
    assert "Score: 0.0 of 1.0" in _text(wrong.text)
    # Without the page's script, the preview's own controls are read.
    controls = await post_form(client, f"{url}/try", csrf, {"RESPONSE": "B", "version": "1"})
    assert "Score: 1.0 of 1.0" in _text(controls.text)
    assert "{&#34;RESPONSE&#34;: &#34;B&#34;}" in controls.text

    broken = await post_form(client, f"{url}/try", csrf, {"responses": "{not json"})
    assert broken.status_code == 422
    assert "not JSON" in field_errors(broken.text)["responses"]
    listed = await post_form(client, f"{url}/try", csrf, {"responses": '["B"]'})
    assert "object keyed by response identifier" in field_errors(listed.text)["responses"]
    # Numbers that are not ASCII digits are no version or seed: the latest, unshuffled.
    odd = await post_form(
        client, f"{url}/try", csrf, {"responses": '{"RESPONSE": "B"}', "version": "²", "seed": "٣"}
    )
    assert odd.status_code == 200
    assert "Score: 1.0 of 1.0" in _text(odd.text)


async def test_versions_are_listed_and_compared_line_by_line(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, account, headers, bank_id = await _author_with_bank(client, make)
    item = await _add_item(client, headers, bank_id, "Q1", "Greek letters")
    await client.post(f"/api/v1/items/{item['id']}/publish", headers=headers)
    v2 = await client.patch(
        f"/api/v1/items/{item['id']}",
        json={
            "source": {"format": "qti", "content": choice_item("Q1", "Greek v2", correct="C")},
            "change_note": "C is right",
        },
        headers=headers,
    )
    assert v2.status_code == 200, v2.text
    await console_sign_in(client, account)
    url = f"/console/banks/{bank_id}/items/{item['id']}"
    page = _text((await client.get(url)).text)
    assert "Version 2 draft Greek v2" in page and "C is right" in page
    assert "Version 1 published Greek letters" in page
    old = (await client.get(url, params={"version": 1})).text
    assert "Preview of version 1" in _text(old)

    diff = await client.get(f"{url}/diff", params={"from": 1, "to": 2})
    assert diff.status_code == 200
    text = diff.text
    removed = '<del class="diff-del"><span class="diff-marker">\u2212 </span>'
    added = '<ins class="diff-add"><span class="diff-marker">+ </span>'
    assert f"{removed}title: &#34;Greek letters&#34;</del>" in text
    assert f"{added}title: &#34;Greek v2&#34;</ins>" in text
    assert re.search(re.escape(added) + r"\s+&#34;correct_response&#34;: &#34;C&#34;", text)
    assert re.search(re.escape(removed) + r"\s+&#34;correct_response&#34;: &#34;B&#34;", text)
    assert "<strong>3</strong> lines added (marked +), <strong>3</strong> removed" in text
    same = await client.get(f"{url}/diff", params={"from": 2, "to": 2})
    assert "no difference" in same.text
    missing = await client.get(f"{url}/diff", params={"from": 1, "to": 7})
    assert missing.status_code == 404


async def test_import_shows_the_report_of_each_item_and_export_links_to_the_api(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, account, headers, bank_id = await _author_with_bank(client, make)
    csrf = await console_sign_in(client, account)
    url = f"/console/banks/{bank_id}/import"
    form = await client.get(url)
    assert 'enctype="multipart/form-data"' in form.text
    done = await client.post(
        url,
        data={"csrf_token": csrf, "mode": "all", "publish": "on"},
        files={"file": ("pkg.zip", package("P1", "P2"), "application/zip")},
    )
    assert done.status_code == 200, done.text
    report = _text(done.text)
    assert "Every item was stored: 2 new, 0 as new versions." in report
    assert "P1" in report and "P2" in report
    items = (await client.get("/api/v1/items", params={"bank_id": bank_id}, headers=headers)).json()
    assert {i["identifier"] for i in items["items"]} == {"P1", "P2"}
    assert {i["status"] for i in items["items"]} == {"published"}

    broken = await client.post(
        url,
        data={"csrf_token": csrf, "mode": "all"},
        files={"file": ("pkg.zip", package("P3", with_media=False), "application/zip")},
    )
    assert broken.status_code == 422
    text = _text(broken.text)
    assert "Nothing was stored: 1 item refused" in text
    assert "rejected" in text and "dot.png" in text
    nothing = await client.post(url, data={"csrf_token": csrf, "mode": "all"})
    assert nothing.status_code == 422
    assert "file" in field_errors(nothing.text)

    bank = (await client.get(f"/console/banks/{bank_id}")).text
    export = f"/api/v1/banks/{bank_id}/export?format=qti3"
    assert f'href="{export}"' in bank
    assert (await client.get(export)).headers["content-type"] == "application/zip"


async def test_people_without_the_bank_get_the_problem_page(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org, admin, headers, bank_id = await _author_with_bank(client, make)
    item = await _add_item(client, headers, bank_id, "Q1", "Greek letters")
    pages = [
        f"/console/banks/{bank_id}",
        f"/console/banks/{bank_id}/items/{item['id']}",
        f"/console/banks/{bank_id}/import",
        f"/console/banks/{bank_id}/items/{item['id']}/diff?from=1&to=1",
    ]
    author = await make.user(org, Role.author)
    proctor = await make.user(org, Role.proctor)
    other = await make.organization()
    stranger = await make.user(other, Role.admin)
    for who in (author, proctor, stranger):
        client.cookies.clear()
        csrf = await console_sign_in(client, who)
        assert "Science" not in (await client.get("/console/banks")).text
        for url in pages:
            page = await client.get(url)
            assert page.status_code == 404, (url, page.status_code)
            assert "notice-error" in page.text
        tried = await post_form(
            client, f"/console/banks/{bank_id}/items/{item['id']}/try", csrf, {"responses": "{}"}
        )
        assert tried.status_code == 404
    # An item is shown only under its own bank.
    client.cookies.clear()
    await console_sign_in(client, admin)
    second = await client.post(
        "/api/v1/banks", json={"slug": "other", "name": "Other"}, headers=headers
    )
    wrong = await client.get(f"/console/banks/{second.json()['id']}/items/{item['id']}")
    assert wrong.status_code == 404


async def test_the_editor_creates_and_edits_a_choice_item_with_errors_beside_the_fields(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, account, headers, bank_id = await _author_with_bank(client, make)
    csrf = await console_sign_in(client, account)
    new = f"/console/banks/{bank_id}/items/new"
    chooser = await client.get(new)
    assert f'href="/console/banks/{bank_id}/items/new?type=slider"' in chooser.text
    form = await client.get(new, params={"type": "choice"})
    assert form.status_code == 200 and 'name="choice-4-content"' in form.text

    fields = {
        "type": "choice",
        "identifier": "planets",
        "title": "Largest planet",
        "stem": "<p>Which planet is the <em>largest</em>?</p>",
        "prompt": "Choose one.",
        "choice_rows": "4",
        "choice-1-id": "earth",
        "choice-1-content": "Earth",
        "choice-2-id": "jupiter",
        "choice-2-content": "Jupiter",
        "choice-2-correct": "on",
        "choice-3-id": "",
        "choice-3-content": "Mars",
        "max_choices": "1",
        "shuffle": "on",
        "tags": "space, grade-5",
        "subject": "astronomy",
    }
    more = await post_form(client, new, csrf, {**fields, "more": "choice"})
    assert more.status_code == 200 and 'name="choice-5-content"' in more.text
    assert 'value="Jupiter"' in more.text

    bad = await post_form(client, new, csrf, {**fields, "stem": "<p>Unclosed"})
    assert bad.status_code == 422
    assert "stem" in field_errors(bad.text)
    assert 'value="Largest planet"' in bad.text
    bad_tag = await post_form(client, new, csrf, {**fields, "estimated_time_s": "0"})
    assert bad_tag.status_code == 422
    assert "estimated_time_s" in field_errors(bad_tag.text)

    created = await post_form(client, new, csrf, fields)
    assert created.status_code == 303, created.text
    item_id = created.headers["location"].rsplit("/", 1)[1]
    stored = (await client.get(f"/api/v1/items/{item_id}", headers=headers)).json()
    assert stored["item"]["identifier"] == "planets"
    assert sorted(stored["item"]["tags"]) == ["grade-5", "space"]
    assert stored["version"]["definition"]["response_declarations"][0]["correct_response"] == (
        "jupiter"
    )
    choices = stored["version"]["definition"]["interactions"][0]["choices"]
    assert [c["identifier"] for c in choices] == ["earth", "jupiter", "choice_3"]
    taken = await post_form(client, new, csrf, fields)
    assert taken.status_code == 409
    assert "There is a problem" in taken.text

    edit = f"/console/banks/{bank_id}/items/{item_id}/edit"
    page = await client.get(edit)
    assert page.status_code == 200
    assert 'value="Jupiter"' in page.text and 'name="choice-2-correct" aria-label' in page.text
    assert "&lt;p&gt;Which planet is the &lt;em&gt;largest&lt;/em&gt;?&lt;/p&gt;" in page.text
    await client.post(f"/api/v1/items/{item_id}/publish", headers=headers)
    changed = {**fields, "title": "The largest planet", "expected_version": "1"}
    changed.pop("choice-2-correct")
    changed["choice-1-correct"] = "on"
    saved = await post_form(client, edit, csrf, {**changed, "change_note": "Earth now"})
    assert saved.status_code == 303
    after = (await client.get(f"/api/v1/items/{item_id}", headers=headers)).json()["version"]
    assert after["version"] == 2 and after["title"] == "The largest planet"
    assert after["definition"]["response_declarations"][0]["correct_response"] == "earth"
    assert after["change_note"] == "Earth now"
    stale = await post_form(client, edit, csrf, changed)
    assert stale.status_code == 409
    assert "There is a problem" in stale.text


@pytest.mark.parametrize(
    ("kind", "fields", "correct"),
    [
        ("text_entry", {"correct": "Paris", "expected_length": "10"}, "Paris"),
        ("numeric_entry", {"correct": "3.14"}, 3.14),
        ("extended_text", {"expected_lines": "8", "format": "plain"}, None),
        (
            "order",
            {
                "choice_rows": "3",
                "choice-1-id": "a",
                "choice-1-content": "A",
                "choice-2-id": "b",
                "choice-2-content": "B",
                "correct": "b a",
            },
            ["b", "a"],
        ),
        (
            "associate",
            {
                "choice_rows": "3",
                "choice-1-id": "hot",
                "choice-1-content": "hot",
                "choice-2-id": "cold",
                "choice-2-content": "cold",
                "pairs": "hot cold",
            },
            [["cold", "hot"]],
        ),
        (
            "match",
            {
                "source_rows": "3",
                "source-1-id": "fr",
                "source-1-content": "France",
                "target_rows": "3",
                "target-1-id": "paris",
                "target-1-content": "Paris",
                "pairs": "fr paris",
            },
            [["fr", "paris"]],
        ),
        ("slider", {"lower_bound": "0", "upper_bound": "100", "step": "1", "correct": "32"}, 32),
    ],
)
async def test_the_editor_has_a_form_for_each_common_interaction(
    client: httpx.AsyncClient,
    make: Factory,
    kind: str,
    fields: dict[str, str],
    correct: Any,
) -> None:
    _, account, headers, bank_id = await _author_with_bank(client, make)
    csrf = await console_sign_in(client, account)
    new = f"/console/banks/{bank_id}/items/new"
    assert (await client.get(new, params={"type": kind})).status_code == 200
    base = {"type": kind, "identifier": f"i-{kind}", "title": kind, "stem": "<p>Q</p>"}
    created = await post_form(client, new, csrf, {**base, **fields})
    assert created.status_code == 303, field_errors(created.text) or created.text[-2000:]
    item_id = created.headers["location"].rsplit("/", 1)[1]
    version = (await client.get(f"/api/v1/items/{item_id}", headers=headers)).json()["version"]
    assert version["interaction_types"] == [kind]
    assert version["definition"]["response_declarations"][0].get("correct_response") == correct
    edit = await client.get(f"/console/banks/{bank_id}/items/{item_id}/edit")
    assert edit.status_code == 200
    for value in fields.values():
        if "\n" not in value and value not in ("on", "3"):
            assert value in edit.text, value


async def test_the_source_view_reads_and_saves_qti_json_and_native(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, account, headers, bank_id = await _author_with_bank(client, make)
    item = await _add_item(client, headers, bank_id, "Q1", "Greek letters")
    csrf = await console_sign_in(client, account)
    url = f"/console/banks/{bank_id}/items/{item['id']}/source"
    qti = await client.get(url)
    assert qti.status_code == 200
    assert "qti-assessment-item" in qti.text and "&lt;qti-value&gt;B&lt;/qti-value&gt;" in qti.text
    stored = await client.get(url, params={"format": "definition"})
    assert "&#34;waa_item&#34;: 1" in stored.text
    native = await client.get(url, params={"format": "native"})
    assert "identifier: Q1" in native.text and "correct: B" in native.text

    xml = choice_item("Q1", "Greek letters, edited", correct="C")
    saved = await post_form(
        client, url, csrf, {"format": "qti", "content": xml, "expected_version": "1"}
    )
    assert saved.status_code == 303
    version = (await client.get(f"/api/v1/items/{item['id']}", headers=headers)).json()["version"]
    assert version["title"] == "Greek letters, edited"

    broken = await post_form(client, url, csrf, {"format": "qti", "content": "<not-closed>"})
    assert broken.status_code == 422
    assert "content" in field_errors(broken.text)
    assert "&lt;not-closed&gt;" in broken.text
    renamed = await post_form(
        client, url, csrf, {"format": "qti", "content": choice_item("Q2", "Other")}
    )
    assert renamed.status_code == 422
    assert "There is a problem" in renamed.text
    bad_json = await post_form(client, url, csrf, {"format": "definition", "content": "{"})
    assert "not JSON" in field_errors(bad_json.text)["content"]

    new = f"/console/banks/{bank_id}/items/new/source"
    template = await client.get(new, params={"type": "hotspot"})
    assert "type: hotspot" in template.text
    yaml_text = (
        "identifier: tf\ntitle: Moon\nbody: '{{RESPONSE}}'\ninteractions:\n"
        "  - type: true_false\n    prompt: The Moon gives off light.\n    correct: false\n"
        "scoring: match_correct\n"
    )
    created = await post_form(client, new, csrf, {"format": "native", "content": yaml_text})
    assert created.status_code == 303, created.text[-2000:]
    assert "Saved as version 1." in (await client.get(created.headers["location"])).text


RUBRIC = Path(__file__).resolve().parents[2] / "fixtures" / "rubrics"


async def test_the_media_library_uploads_lists_and_shows_a_file(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, account, headers, _ = await _author_with_bank(client, make)
    csrf = await console_sign_in(client, account)
    library = await client.get("/console/banks/media")
    assert library.status_code == 200 and "No media yet." in library.text
    sent = await client.post(
        "/console/banks/media",
        data={"csrf_token": csrf},
        files={"file": ("dot.png", png(4, 3), "image/png")},
    )
    assert sent.status_code == 303
    page = await client.get(sent.headers["location"])
    assert "Uploaded: dot.png." in page.text
    assert "4 \u00d7 3 px" in page.text and "image/png" in page.text
    media_id = sent.headers["location"].rsplit("/", 1)[1]
    assert f'src="/api/v1/media/{media_id}/content"' in page.text
    assert "dot.png" in (await client.get("/console/banks/media")).text
    again = await client.post(
        "/console/banks/media",
        data={"csrf_token": csrf},
        files={"file": ("dot.png", png(4, 3), "image/png")},
    )
    assert "Already in the library" in (await client.get(again.headers["location"])).text

    wrong = await client.post(
        "/console/banks/media",
        data={"csrf_token": csrf},
        files={"file": ("dot.jpg", png(4, 3), "image/jpeg")},
    )
    assert wrong.status_code == 422
    assert "image/png" in field_errors(wrong.text)["file"]
    listed = (await client.get("/api/v1/media", headers=headers)).json()
    assert len(listed) == 1


async def test_rubrics_are_created_validated_and_versioned(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, account, _, _ = await _author_with_bank(client, make)
    csrf = await console_sign_in(client, account)
    text = (RUBRIC / "photosynthesis-short-answer.yaml").read_text()
    assert (await client.get("/console/banks/rubrics")).status_code == 200
    broken = text.replace("points: 1", "points: 2")
    refused = await post_form(
        client, "/console/banks/rubrics", csrf, {"slug": "photo", "yaml": broken}
    )
    assert refused.status_code == 422
    assert "levels[1].points" in field_errors(refused.text)["yaml"]
    two = text.replace("points: 1", "points: 2").replace("id: none", "id: complete")
    both = await post_form(client, "/console/banks/rubrics", csrf, {"slug": "photo", "yaml": two})
    message = field_errors(both.text)["yaml"]
    assert message.count("levels[") >= 2, message
    assert '<a href="#yaml">' in both.text
    created = await post_form(
        client, "/console/banks/rubrics", csrf, {"slug": "photo", "yaml": text}
    )
    assert created.status_code == 303, created.text[-2000:]
    url = created.headers["location"]
    page = await client.get(url)
    assert "Why leaves need light" in page.text or "why leaves need light" in page.text
    assert "Maximum: 2.0 points" in page.text
    listing = await client.get("/console/banks/rubrics")
    assert 'class="code">photo</td>' in listing.text

    v2 = await post_form(
        client, f"{url}/versions", csrf, {"yaml": text.replace("version: 1", "version: 2")}
    )
    assert v2.status_code == 303
    assert "Saved as version 2." in (await client.get(url)).text
    first = await client.get(url, params={"version": 1})
    assert "<h2>Version 1</h2>" in first.text
    analytic = (RUBRIC / "argumentative-essay.yaml").read_text()
    kind = await post_form(client, f"{url}/versions", csrf, {"yaml": analytic})
    assert kind.status_code == 409
    assert "yaml" in field_errors(kind.text)


async def test_media_and_rubrics_are_refused_to_a_proctor(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org = await make.organization()
    proctor = await make.user(org, Role.proctor)
    await console_sign_in(client, proctor)
    media = await client.get("/console/banks/media")
    assert media.status_code == 403 and "notice-error" in media.text


async def test_an_essay_made_in_the_editor_gets_a_rubric(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, account, headers, bank_id = await _author_with_bank(client, make)
    text = (RUBRIC / "photosynthesis-short-answer.yaml").read_text()
    rubric = await client.post(
        "/api/v1/rubrics", json={"slug": "photo", "yaml": text}, headers=headers
    )
    version_id = rubric.json()["version"]["id"]
    csrf = await console_sign_in(client, account)
    new = f"/console/banks/{bank_id}/items/new"
    form = await client.get(new, params={"type": "extended_text"})
    assert f'<option value="{version_id}">' in form.text
    assert "why leaves need light (version 1)" in form.text
    fields = {
        "type": "extended_text",
        "identifier": "leaves",
        "title": "Leaves",
        "stem": "<p>Why do leaves need light?</p>",
        "expected_lines": "5",
        "format": "plain",
        "rubric_version_id": version_id,
    }
    created = await post_form(client, new, csrf, fields)
    assert created.status_code == 303, created.text[-2000:]
    item_id = created.headers["location"].rsplit("/", 1)[1]
    version = (await client.get(f"/api/v1/items/{item_id}", headers=headers)).json()["version"]
    assert version["rubric_version_id"] == version_id
    edit = await client.get(f"/console/banks/{bank_id}/items/{item_id}/edit")
    assert f'<option value="{version_id}" selected>' in edit.text


async def test_the_bank_page_pages_through_its_items(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, account, headers, bank_id = await _author_with_bank(client, make)
    for n in range(27):
        await _add_item(client, headers, bank_id, f"P{n:02d}", f"Paged {n:02d}")
    await console_sign_in(client, account)
    first = await client.get(f"/console/banks/{bank_id}", params={"q": "paged"})
    shown = re.findall(r">Paged (\d\d)</a>", first.text)
    assert len(shown) == 25
    found = re.search(r'href="([^"]+cursor=[^"]+)">Next page', first.text)
    assert found, "no next page link"
    second = await client.get(found.group(1).replace("&amp;", "&"))
    rest = re.findall(r">Paged (\d\d)</a>", second.text)
    assert len(rest) == 2 and not set(rest) & set(shown)
    assert "First page" in second.text and "Next page" not in second.text


async def test_an_author_who_is_not_the_banks_reviewer_sees_the_refusal_in_the_form(
    client: httpx.AsyncClient, make: Factory
) -> None:
    org, _, headers, bank_id = await _author_with_bank(client, make)
    author = await make.user(org, Role.author)
    granted = await client.put(
        f"/api/v1/banks/{bank_id}/members",
        json={"user_id": str(author.user.id), "permission": "author"},
        headers=headers,
    )
    assert granted.status_code == 200, granted.text
    client.cookies.clear()
    csrf = await console_sign_in(client, author)
    assert "Science" in (await client.get("/console/banks")).text
    refused = await post_form(
        client, f"/console/banks/{bank_id}/settings", csrf, {"name": "Renamed"}
    )
    assert refused.status_code == 403
    assert "There is a problem" in refused.text and 'value="Renamed"' in refused.text
    archive = await post_form(client, f"/console/banks/{bank_id}/archive", csrf)
    assert archive.status_code == 403
