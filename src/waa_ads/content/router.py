"""HTTP routes of the item bank: banks, members, items, versions and the workflow."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile, status

from waa_ads.auth.deps import PrincipalDep
from waa_ads.auth.errors import CREDENTIAL_ERRORS, RoleRequired, UserNotFound
from waa_ads.content import assets, schemas, service, stimuli, transfer
from waa_ads.content.errors import (
    MEDIA_REFUSALS,
    BankInUse,
    BankNotFound,
    BankReviewerRequired,
    BankSlugTaken,
    BankWriteForbidden,
    ImportRejected,
    ItemFormatError,
    ItemIdentifierChanged,
    ItemIdentifierTaken,
    ItemInUse,
    ItemIsTranslation,
    ItemNotFound,
    ItemNotPublished,
    ItemVersionNotFound,
    ItemVersionStale,
    ItemVersionWrongStatus,
    LanguageNotSupported,
    MediaNotFound,
    NothingToImport,
    PackageBuildError,
    PackageError,
    RubricError,
    RubricKindChanged,
    RubricNeedsExtendedText,
    RubricNotFound,
    RubricSlugTaken,
    RubricVersionNotFound,
    StimulusArchived,
    StimulusIdentifierTaken,
    StimulusInUse,
    StimulusInvalid,
    StimulusMissing,
    StimulusNotFound,
    TranslationExists,
    TranslationMismatch,
    UnsafePackage,
)
from waa_ads.content.interchange.qti.writer import write_item
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.content.item.responses import response_schema
from waa_ads.content.item.stimulus import StimulusDefinition
from waa_ads.content.models import (
    Item,
    ItemVersion,
    MediaAsset,
    Stimulus,
    StimulusVersion,
    VersionStatus,
)
from waa_ads.content.sources import parse_source
from waa_ads.core.deps import SessionDep, SettingsDep
from waa_ads.core.errors import error_responses
from waa_ads.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from waa_ads.core.params import Seed, Version
from waa_ads.core.security import constant_time_equals, media_signature

router = APIRouter()
banks = APIRouter(prefix="/banks", tags=["item banks"])
items = APIRouter(prefix="/items", tags=["items"])
media = APIRouter(prefix="/media", tags=["media"])
rubrics = APIRouter(prefix="/rubrics", tags=["rubrics"])
shared_stimuli = APIRouter(prefix="/stimuli", tags=["stimuli"])


#: Finding an item's version (an item in a bank the caller may not read is not found).
_ITEM_LOOKUP_ERRORS = (ItemNotFound, ItemVersionNotFound)
#: Reading an item's source and attaching its rubric.
_ITEM_SOURCE_ERRORS = (
    ItemFormatError,
    RubricVersionNotFound,
    RubricNeedsExtendedText,
    StimulusMissing,
    StimulusArchived,
)


def _pair(item: Item, version: ItemVersion) -> schemas.ItemWithVersion:
    return schemas.ItemWithVersion(
        item=schemas.ItemRead.model_validate(item),
        version=schemas.ItemVersionRead.model_validate(version),
    )


# --- banks -------------------------------------------------------------------------------


@banks.post(
    "",
    response_model=schemas.BankRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create an item bank",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, BankSlugTaken),
)
async def create_bank(
    session: SessionDep, principal: PrincipalDep, body: schemas.BankCreate
) -> schemas.BankRead:
    return schemas.BankRead.model_validate(await service.create_bank(session, principal, body))


@banks.get(
    "",
    response_model=list[schemas.BankRead],
    summary="The item banks the caller may read",
    responses=error_responses(*CREDENTIAL_ERRORS),
)
async def list_banks(
    session: SessionDep,
    principal: PrincipalDep,
    archived: Annotated[bool, Query(description="Include archived banks")] = False,
) -> list[schemas.BankRead]:
    rows = await service.list_banks(session, principal, archived=archived)
    return [schemas.BankRead.model_validate(r) for r in rows]


@banks.get(
    "/{bank_id}",
    response_model=schemas.BankRead,
    summary="One item bank",
    responses=error_responses(*CREDENTIAL_ERRORS, BankNotFound),
)
async def get_bank(
    session: SessionDep, principal: PrincipalDep, bank_id: uuid.UUID
) -> schemas.BankRead:
    access = await service.bank_access(session, principal, bank_id)
    return schemas.BankRead.model_validate(access.bank)


@banks.patch(
    "/{bank_id}",
    response_model=schemas.BankRead,
    summary="Rename a bank or change whether publishing needs review",
    responses=error_responses(*CREDENTIAL_ERRORS, BankNotFound, BankReviewerRequired),
)
async def update_bank(
    session: SessionDep, principal: PrincipalDep, bank_id: uuid.UUID, body: schemas.BankUpdate
) -> schemas.BankRead:
    bank = await service.update_bank(session, principal, bank_id, body)
    return schemas.BankRead.model_validate(bank)


@banks.post(
    "/{bank_id}/archive",
    response_model=schemas.BankRead,
    summary="Archive a bank: left out of listings, still readable by id (reviewers)",
    responses=error_responses(*CREDENTIAL_ERRORS, BankNotFound, BankReviewerRequired),
)
async def archive_bank(
    session: SessionDep, principal: PrincipalDep, bank_id: uuid.UUID
) -> schemas.BankRead:
    return schemas.BankRead.model_validate(await service.archive_bank(session, principal, bank_id))


@banks.post(
    "/{bank_id}/restore",
    response_model=schemas.BankRead,
    summary="Restore an archived bank (reviewers)",
    responses=error_responses(*CREDENTIAL_ERRORS, BankNotFound, BankReviewerRequired),
)
async def restore_bank(
    session: SessionDep, principal: PrincipalDep, bank_id: uuid.UUID
) -> schemas.BankRead:
    return schemas.BankRead.model_validate(await service.restore_bank(session, principal, bank_id))


@banks.delete(
    "/{bank_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a bank and its items (admins); refused while anything uses them",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, BankNotFound, BankInUse),
)
async def delete_bank(session: SessionDep, principal: PrincipalDep, bank_id: uuid.UUID) -> Response:
    """409 ``item-bank-in-use`` when an assessment uses one of its items or draws from it,
    or an attempt or a result used one: archive the bank instead."""
    await service.delete_bank(session, principal, bank_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@banks.get(
    "/{bank_id}/members",
    response_model=list[schemas.BankMemberRead],
    summary="Who may write or review in a bank",
    responses=error_responses(*CREDENTIAL_ERRORS, BankNotFound),
)
async def list_members(
    session: SessionDep, principal: PrincipalDep, bank_id: uuid.UUID
) -> list[schemas.BankMemberRead]:
    rows = await service.list_members(session, principal, bank_id)
    return [schemas.BankMemberRead.model_validate(r) for r in rows]


@banks.put(
    "/{bank_id}/members",
    response_model=schemas.BankMemberRead,
    summary="Grant an account author or reviewer permission on a bank (admins)",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, BankNotFound, UserNotFound),
)
async def set_member(
    session: SessionDep, principal: PrincipalDep, bank_id: uuid.UUID, body: schemas.BankMemberSet
) -> schemas.BankMemberRead:
    member = await service.set_member(session, principal, bank_id, body)
    return schemas.BankMemberRead.model_validate(member)


@banks.delete(
    "/{bank_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an account's permission on a bank (admins)",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, BankNotFound),
)
async def remove_member(
    session: SessionDep, principal: PrincipalDep, bank_id: uuid.UUID, user_id: uuid.UUID
) -> Response:
    await service.remove_member(session, principal, bank_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@banks.post(
    "/{bank_id}/items",
    response_model=schemas.ItemWithVersion,
    status_code=status.HTTP_201_CREATED,
    summary="Add an item (version 1, a draft) from native, QTI or stored form",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        BankNotFound,
        BankWriteForbidden,
        ItemIdentifierTaken,
        LanguageNotSupported,
        *_ITEM_SOURCE_ERRORS,
    ),
)
async def create_item(
    session: SessionDep, principal: PrincipalDep, bank_id: uuid.UUID, body: schemas.ItemCreate
) -> schemas.ItemWithVersion:
    definition = parse_source(body.source)
    item, version = await service.create_item(
        session,
        principal,
        bank_id,
        definition,
        metadata=body.metadata,
        rubric_version_id=body.rubric_version_id,
        change_note=body.change_note,
        language=body.language,
    )
    return _pair(item, version)


@banks.post(
    "/{bank_id}/import",
    status_code=status.HTTP_201_CREATED,
    summary="Import items from a QTI 3.0/2.x package (zip) or file, or a native YAML/JSON file",
    response_model=schemas.ImportReportRead,
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        BankNotFound,
        BankWriteForbidden,
        PackageError,
        UnsafePackage,
        NothingToImport,
        ImportRejected,
        413,
    ),
)
async def import_items(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    bank_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="A .zip package, .xml, .yaml or .json file")],
    publish: Annotated[bool, Form(description="Publish every imported item")] = False,
    mode: Annotated[
        Literal["all", "partial"],
        Form(
            description="all: nothing is stored if any item is refused; partial: store "
            "what can be, and list each refused item with its reason"
        ),
    ] = "all",
) -> schemas.ImportReportRead:
    """``mode=all`` (the default) is all or nothing: when any item is rejected, nothing is
    stored and the 422 ``import-rejected`` problem's ``report`` lists each item with its
    status and reason. ``mode=partial`` stores every item that passes and answers 201
    with the report listing each refused one (``ok`` false, ``rejected`` > 0); only when
    none can be stored is it the 422 problem. In both modes an item whose identifier the
    bank already holds becomes that item's new version (status ``new_version``)."""
    data = await file.read()
    # Reading a package is seconds of CPU for thousands of items: off the event loop, so
    # the process keeps answering candidates' saves meanwhile.
    candidates = await asyncio.to_thread(
        transfer.candidates_from_bytes, file.filename or "upload", data
    )
    report = await transfer.import_items(
        session,
        request.app.state.blobs,
        principal,
        bank_id,
        candidates,
        publish=publish,
        mode=mode,
    )
    return schemas.ImportReportRead.model_validate(report.as_dict())


@banks.get(
    "/{bank_id}/export",
    summary="Export a bank's items: a QTI 3.0 content package or native JSON files (zip)",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}},
        **error_responses(*CREDENTIAL_ERRORS, BankNotFound, PackageBuildError),
    },
)
async def export_items(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    bank_id: uuid.UUID,
    format: Annotated[Literal["qti3", "native"], Query()] = "qti3",
    status_filter: Annotated[VersionStatus | None, Query(alias="status")] = None,
    tag: Annotated[list[str] | None, Query()] = None,
) -> Response:
    versions = await transfer.versions_for_export(
        session, principal, bank_id=bank_id, status=status_filter, tags=tag or []
    )
    if format == "qti3":
        data = await transfer.export_qti3(session, request.app.state.blobs, principal, versions)
    else:
        data = await asyncio.to_thread(transfer.export_native, versions)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="bank-{bank_id}-{format}.zip"'},
    )


# --- items -------------------------------------------------------------------------------


@items.get(
    "",
    response_model=Page[schemas.ItemRead],
    summary="Search items by text, tags, interaction type and status",
    responses=error_responses(*CREDENTIAL_ERRORS, BankNotFound),
)
async def search_items(
    session: SessionDep,
    principal: PrincipalDep,
    bank_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in id, title, tags")] = None,
    tag: Annotated[list[str] | None, Query(description="Every given tag must be present")] = None,
    type: Annotated[str | None, Query(max_length=40, description="Interaction type")] = None,
    status_filter: Annotated[VersionStatus | None, Query(alias="status")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    archived: Annotated[bool, Query(description="Include archived items")] = False,
) -> Page[schemas.ItemRead]:
    rows, next_cursor = await service.search_items(
        session,
        principal,
        bank_id=bank_id,
        text=q,
        tags=tag or [],
        interaction_type=type,
        status=status_filter,
        cursor=cursor,
        limit=limit,
        archived=archived,
    )
    return Page(items=[schemas.ItemRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@items.get(
    "/{item_id}",
    response_model=schemas.ItemWithVersion,
    summary="An item with its newest version",
    responses=error_responses(*CREDENTIAL_ERRORS, *_ITEM_LOOKUP_ERRORS),
)
async def get_item(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID
) -> schemas.ItemWithVersion:
    return _pair(*await service.get_version(session, principal, item_id))


@items.patch(
    "/{item_id}",
    response_model=schemas.ItemWithVersion,
    summary="Edit an item (a published item gets a new draft version)",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        *_ITEM_LOOKUP_ERRORS,
        BankWriteForbidden,
        ItemVersionStale,
        ItemIdentifierChanged,
        LanguageNotSupported,
        TranslationExists,
        TranslationMismatch,
        *_ITEM_SOURCE_ERRORS,
    ),
)
async def update_item(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID, body: schemas.ItemUpdate
) -> schemas.ItemWithVersion:
    definition = parse_source(body.source) if body.source is not None else None
    item, version = await service.update_item(
        session,
        principal,
        item_id,
        definition=definition,
        metadata=body.metadata,
        rubric_version_id=body.rubric_version_id,
        change_note=body.change_note,
        expected_version=body.expected_version,
        language=body.language,
    )
    return _pair(item, version)


@items.post(
    "/{item_id}/translations",
    response_model=schemas.ItemWithVersion,
    status_code=status.HTTP_201_CREATED,
    summary="Add a translation: the item in another language, delivered in its place to "
    "candidates of that language and scored as the item",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        ItemNotFound,
        BankWriteForbidden,
        BankReviewerRequired,
        ItemIsTranslation,
        TranslationExists,
        TranslationMismatch,
        LanguageNotSupported,
        *_ITEM_SOURCE_ERRORS,
    ),
)
async def create_translation(
    session: SessionDep,
    principal: PrincipalDep,
    item_id: uuid.UUID,
    body: schemas.TranslationCreate,
) -> schemas.ItemWithVersion:
    definition = parse_source(body.source)
    item, version = await service.create_translation(
        session,
        principal,
        item_id,
        definition,
        language=body.language,
        change_note=body.change_note,
        publish=body.publish,
    )
    return _pair(item, version)


@items.get(
    "/{item_id}/translations",
    response_model=list[schemas.ItemRead],
    summary="The translations of an item (of its source, for a translation)",
    responses=error_responses(*CREDENTIAL_ERRORS, ItemNotFound),
)
async def list_translations(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID
) -> list[schemas.ItemRead]:
    rows = await service.list_translations(session, principal, item_id)
    return [schemas.ItemRead.model_validate(r) for r in rows]


@items.get(
    "/{item_id}/versions",
    response_model=list[schemas.ItemVersionRead],
    summary="Every version of an item",
    responses=error_responses(*CREDENTIAL_ERRORS, ItemNotFound),
)
async def list_versions(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID
) -> list[schemas.ItemVersionRead]:
    rows = await service.list_versions(session, principal, item_id)
    return [schemas.ItemVersionRead.model_validate(r) for r in rows]


@items.get(
    "/{item_id}/versions/{version}",
    response_model=schemas.ItemVersionRead,
    summary="One version of an item (authors' view, with its answer key)",
    responses=error_responses(*CREDENTIAL_ERRORS, *_ITEM_LOOKUP_ERRORS),
)
async def get_version(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID, version: Version
) -> schemas.ItemVersionRead:
    _, row = await service.get_version(session, principal, item_id, version)
    return schemas.ItemVersionRead.model_validate(row)


@items.get(
    "/{item_id}/versions/{version}/preview",
    response_model=schemas.CandidateItem,
    response_model_exclude_unset=True,
    summary="A version as a candidate would receive it (never an answer key)",
    responses=error_responses(*CREDENTIAL_ERRORS, *_ITEM_LOOKUP_ERRORS),
)
async def preview_version(
    session: SessionDep,
    principal: PrincipalDep,
    item_id: uuid.UUID,
    version: Version,
    seed: Annotated[Seed | None, Query(description="Shuffle seed; omit for document order")] = None,
    supports: Annotated[
        schemas.AccessibilitySupports | None,
        Query(
            description="Show the item as a candidate with these accessibility supports "
            "sees it (repeat the parameter, or separate names with commas): spoken, "
            "braille, sign-language, linguistic-guidance, ... (the glossary and "
            "translations are always shown)"
        ),
    ] = None,
) -> schemas.CandidateItem:
    _, row = await service.get_version(session, principal, item_id, version)
    shown = await stimuli.for_item_version(session, row)
    return schemas.CandidateItem.model_validate(
        service.candidate_payload(row, seed, shared_stimuli=shown, supports=supports or ())
    )


@items.get(
    "/{item_id}/versions/{version}/qti",
    summary="A version as a QTI 3.0 item document (what an export writes for it)",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}},
        **error_responses(*CREDENTIAL_ERRORS, *_ITEM_LOOKUP_ERRORS),
    },
)
async def version_qti(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID, version: Version
) -> Response:
    """The authors' view (with the answer key and response processing): the item's source
    to read or edit as QTI. Media paths are the item's own, as stored."""
    _, row = await service.get_version(session, principal, item_id, version)
    xml = write_item(ItemDefinition.from_dict(row.definition))
    return Response(xml, media_type="application/xml", headers={"Cache-Control": "no-store"})


@items.get(
    "/{item_id}/versions/{version}/response-schema",
    response_model=dict[str, Any],
    summary="The JSON Schema of each response of a version (what autosave accepts)",
    responses=error_responses(*CREDENTIAL_ERRORS, *_ITEM_LOOKUP_ERRORS),
)
async def response_schemas(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID, version: Version
) -> dict[str, Any]:
    """One JSON Schema (draft 2020-12) document per response identifier of the version.

    The reply is an open object on purpose: its values are JSON Schema documents, whose
    keywords depend on each response's cardinality and base type
    (docs/response-shapes.md); a reply model would have to restate JSON Schema itself.
    """
    _, row = await service.get_version(session, principal, item_id, version)
    definition = ItemDefinition.from_dict(row.definition)
    return {
        declaration.identifier: response_schema(
            declaration, definition.interaction_for(declaration.identifier)
        )
        for declaration in definition.response_declarations
    }


@items.post(
    "/{item_id}/submit",
    response_model=schemas.ItemWithVersion,
    summary="Submit the draft for review",
    responses=error_responses(
        *CREDENTIAL_ERRORS, *_ITEM_LOOKUP_ERRORS, BankWriteForbidden, ItemVersionWrongStatus
    ),
)
async def submit_item(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID
) -> schemas.ItemWithVersion:
    return _pair(*await service.submit_for_review(session, principal, item_id))


@items.post(
    "/{item_id}/publish",
    response_model=schemas.ItemWithVersion,
    summary="Publish the newest version (a reviewer, where the bank requires review)",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        *_ITEM_LOOKUP_ERRORS,
        BankWriteForbidden,
        BankReviewerRequired,
        ItemVersionWrongStatus,
    ),
)
async def publish_item(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID
) -> schemas.ItemWithVersion:
    return _pair(*await service.publish(session, principal, item_id))


@items.post(
    "/{item_id}/retire",
    response_model=schemas.ItemWithVersion,
    summary="Retire the published version",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        *_ITEM_LOOKUP_ERRORS,
        BankWriteForbidden,
        ItemNotPublished,
        ItemVersionWrongStatus,
    ),
)
async def retire_item(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID
) -> schemas.ItemWithVersion:
    return _pair(*await service.retire(session, principal, item_id))


@items.post(
    "/{item_id}/archive",
    response_model=schemas.ItemRead,
    summary="Archive an item: left out of searches and exports, still readable by id",
    responses=error_responses(*CREDENTIAL_ERRORS, ItemNotFound, BankWriteForbidden),
)
async def archive_item(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID
) -> schemas.ItemRead:
    return schemas.ItemRead.model_validate(await service.archive_item(session, principal, item_id))


@items.post(
    "/{item_id}/restore",
    response_model=schemas.ItemRead,
    summary="Restore an archived item",
    responses=error_responses(*CREDENTIAL_ERRORS, ItemNotFound, BankWriteForbidden),
)
async def restore_item(
    session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID
) -> schemas.ItemRead:
    return schemas.ItemRead.model_validate(await service.restore_item(session, principal, item_id))


@items.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an item and all its versions; refused while anything uses them",
    responses=error_responses(*CREDENTIAL_ERRORS, ItemNotFound, BankWriteForbidden, ItemInUse),
)
async def delete_item(session: SessionDep, principal: PrincipalDep, item_id: uuid.UUID) -> Response:
    """409 ``item-in-use`` when an assessment uses the item, or an attempt or a result used
    one of its versions: archive it instead."""
    await service.delete_item(session, principal, item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- media ---------------------------------------------------------------------------------


@media.post(
    "",
    response_model=schemas.MediaRead,
    status_code=status.HTTP_201_CREATED,
    summary="Upload a media file (type sniffed from the bytes; the same bytes stored once)",
    responses={
        200: {"model": schemas.MediaRead, "description": "Already stored."},
        **error_responses(*CREDENTIAL_ERRORS, RoleRequired, *MEDIA_REFUSALS, 413),
    },
)
async def upload_media(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="The media file")],
) -> schemas.MediaRead:
    assets.require_author(principal)
    data = await file.read()
    asset, created = await assets.store_media(
        session,
        request.app.state.blobs,
        principal,
        principal.organization_id,
        data,
        filename=file.filename,
        declared_type=file.content_type
        if file.content_type not in (None, "application/octet-stream")
        else None,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return schemas.MediaRead.model_validate(asset)


@media.get(
    "",
    response_model=list[schemas.MediaRead],
    summary="The organization's media assets",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired),
)
async def list_media(session: SessionDep, principal: PrincipalDep) -> list[schemas.MediaRead]:
    assets.require_author(principal)
    return [
        schemas.MediaRead.model_validate(m) for m in await assets.list_media(session, principal)
    ]


@media.get(
    "/signed/{organization_id}/{sha256}",
    summary="A media file through a signed URL (what candidates' item pages use)",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        **error_responses(MediaNotFound),
    },
)
async def get_signed_media(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    organization_id: uuid.UUID,
    sha256: str,
    sig: str = "",
) -> Response:
    expected = media_signature(settings, str(organization_id), sha256)
    if not sig or not constant_time_equals(sig, expected):
        raise MediaNotFound("media not found")
    asset = await assets.get_media_by_hash_in(session, organization_id, sha256)
    return await _media_response(request, asset)


@media.get(
    "/sha256/{sha256}",
    summary="A media asset's bytes, by content address",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        **error_responses(*CREDENTIAL_ERRORS, MediaNotFound),
    },
)
async def get_media_by_hash(
    request: Request, session: SessionDep, principal: PrincipalDep, sha256: str
) -> Response:
    asset = await assets.get_media_by_hash(session, principal, sha256)
    return await _media_response(request, asset)


@media.get(
    "/{media_id}",
    response_model=schemas.MediaRead,
    summary="One media asset's description",
    responses=error_responses(*CREDENTIAL_ERRORS, MediaNotFound),
)
async def get_media(
    session: SessionDep, principal: PrincipalDep, media_id: uuid.UUID
) -> schemas.MediaRead:
    return schemas.MediaRead.model_validate(await assets.get_media(session, principal, media_id))


@media.get(
    "/{media_id}/content",
    summary="A media asset's bytes",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        **error_responses(*CREDENTIAL_ERRORS, MediaNotFound),
    },
)
async def get_media_content(
    request: Request, session: SessionDep, principal: PrincipalDep, media_id: uuid.UUID
) -> Response:
    asset = await assets.get_media(session, principal, media_id)
    return await _media_response(request, asset)


async def _media_response(request: Request, asset: MediaAsset) -> Response:
    data = await request.app.state.blobs.get(asset.sha256)
    return Response(
        data,
        media_type=asset.content_type,
        headers={
            "Cache-Control": "private, max-age=31536000, immutable",
            "ETag": f'"{asset.sha256}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- rubrics -------------------------------------------------------------------------------


@rubrics.get(
    "/schema",
    summary="The JSON Schema rubric documents are validated against",
    response_model=dict[str, Any],
)
async def rubric_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) document of rubric YAML, for editors and linters.

    The reply is an open object on purpose: it is a JSON Schema document, whose shape is
    JSON Schema's own, not a record of this API.
    """
    from waa_ads.content.rubrics.document import rubric_schema as schema

    return schema()


@rubrics.post(
    "",
    response_model=schemas.RubricWithVersion,
    status_code=status.HTTP_201_CREATED,
    summary="Create a rubric from its YAML document (version 1)",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, RubricSlugTaken, RubricError),
)
async def create_rubric(
    session: SessionDep, principal: PrincipalDep, body: schemas.RubricCreate
) -> schemas.RubricWithVersion:
    rubric, version = await assets.create_rubric(
        session, principal, principal.organization_id, slug=body.slug, source_yaml=body.yaml
    )
    return schemas.RubricWithVersion.build(rubric, version)


@rubrics.get(
    "",
    response_model=list[schemas.RubricRead],
    summary="The organization's rubrics",
    responses=error_responses(*CREDENTIAL_ERRORS),
)
async def list_rubrics(session: SessionDep, principal: PrincipalDep) -> list[schemas.RubricRead]:
    return [
        schemas.RubricRead.model_validate(r) for r in await assets.list_rubrics(session, principal)
    ]


@rubrics.post(
    "/{rubric_id}/versions",
    response_model=schemas.RubricWithVersion,
    status_code=status.HTTP_201_CREATED,
    summary="Add a version of a rubric",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, RubricNotFound, RubricKindChanged, RubricError
    ),
)
async def add_rubric_version(
    session: SessionDep,
    principal: PrincipalDep,
    rubric_id: uuid.UUID,
    body: schemas.RubricVersionCreate,
) -> schemas.RubricWithVersion:
    rubric, version = await assets.add_rubric_version(session, principal, rubric_id, body.yaml)
    return schemas.RubricWithVersion.build(rubric, version)


@rubrics.get(
    "/{rubric_id}/versions/{version}",
    response_model=schemas.RubricWithVersion,
    summary="One version of a rubric",
    responses=error_responses(*CREDENTIAL_ERRORS, RubricNotFound, RubricVersionNotFound),
)
async def get_rubric_version(
    session: SessionDep, principal: PrincipalDep, rubric_id: uuid.UUID, version: Version
) -> schemas.RubricWithVersion:
    rubric, row = await assets.get_rubric_version(session, principal, rubric_id, version)
    return schemas.RubricWithVersion.build(rubric, row)


# --- shared stimuli ----------------------------------------------------------------------


def _stimulus_pair(stimulus: Stimulus, version: StimulusVersion) -> schemas.StimulusWithVersion:
    return schemas.StimulusWithVersion(
        stimulus=schemas.StimulusRead.model_validate(stimulus),
        version=schemas.StimulusVersionRead.model_validate(version),
    )


async def _stimulus_from(
    session: SessionDep, principal: PrincipalDep, body: schemas.StimulusCreate
) -> StimulusDefinition:
    definition = stimuli.parse_source(body.source.format, body.source.content)
    if body.media:
        metadata = {**definition.metadata, "media": dict(body.media)}
        definition = definition.model_copy(update={"metadata": metadata})
    # Every picture named (beside the document or in a stored form's metadata) must be the
    # organization's own.
    media = definition.metadata.get("media") or {}
    if not isinstance(media, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in media.items()
    ):
        raise StimulusInvalid("metadata.media maps each picture path to a SHA-256")
    await stimuli.check_media(session, principal.organization_id, media)
    return definition


@banks.post(
    "/{bank_id}/stimuli",
    response_model=schemas.StimulusWithVersion,
    status_code=status.HTTP_201_CREATED,
    summary="Add a shared stimulus (a passage several items are shown beside)",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        BankNotFound,
        BankWriteForbidden,
        StimulusInvalid,
        StimulusIdentifierTaken,
        MediaNotFound,
    ),
)
async def create_stimulus(
    session: SessionDep, principal: PrincipalDep, bank_id: uuid.UUID, body: schemas.StimulusCreate
) -> schemas.StimulusWithVersion:
    """Items refer to it by its identifier (``qti-assessment-stimulus-ref``); its body is
    sanitized as an item body is."""
    definition = await _stimulus_from(session, principal, body)
    row, version, _ = await stimuli.store(
        session, principal, bank_id, definition, change_note=body.change_note, create_only=True
    )
    return _stimulus_pair(row, version)


@banks.get(
    "/{bank_id}/stimuli",
    response_model=Page[schemas.StimulusRead],
    summary="A bank's shared stimuli",
    responses=error_responses(*CREDENTIAL_ERRORS, BankNotFound),
)
async def list_stimuli(
    session: SessionDep,
    principal: PrincipalDep,
    bank_id: uuid.UUID,
    q: Annotated[str | None, Query(max_length=200, description="Text in id or title")] = None,
    archived: Annotated[bool, Query(description="Include archived stimuli")] = False,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[schemas.StimulusRead]:
    rows, next_cursor = await stimuli.list_in_bank(
        session, principal, bank_id, text=q, archived=archived, cursor=cursor, limit=limit
    )
    return Page(
        items=[schemas.StimulusRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@shared_stimuli.get(
    "/{stimulus_id}",
    response_model=schemas.StimulusDetail,
    summary="A shared stimulus with its newest version and the items that use it",
    responses=error_responses(*CREDENTIAL_ERRORS, StimulusNotFound),
)
async def get_stimulus(
    session: SessionDep, principal: PrincipalDep, stimulus_id: uuid.UUID
) -> schemas.StimulusDetail:
    """``items``: each item whose newest version refers to the stimulus (archived items
    included), with that version."""
    pair = _stimulus_pair(*await stimuli.get_version(session, principal, stimulus_id, None))
    users = await stimuli.items_using(session, principal, stimulus_id)
    return schemas.StimulusDetail(
        stimulus=pair.stimulus,
        version=pair.version,
        items=[
            schemas.StimulusUser(
                item_id=item.id,
                identifier=item.identifier,
                title=version.title,
                version=version.version,
                status=version.status,
                archived=item.archived_at is not None,
            )
            for item, version in users
        ],
    )


@shared_stimuli.post(
    "/{stimulus_id}/archive",
    response_model=schemas.StimulusRead,
    summary="Archive a shared stimulus: left out of the bank's list and of new references; "
    "the items that use it keep showing it",
    responses=error_responses(*CREDENTIAL_ERRORS, StimulusNotFound, BankWriteForbidden),
)
async def archive_stimulus(
    session: SessionDep, principal: PrincipalDep, stimulus_id: uuid.UUID
) -> schemas.StimulusRead:
    return schemas.StimulusRead.model_validate(
        await stimuli.archive(session, principal, stimulus_id)
    )


@shared_stimuli.post(
    "/{stimulus_id}/restore",
    response_model=schemas.StimulusRead,
    summary="Restore an archived shared stimulus",
    responses=error_responses(*CREDENTIAL_ERRORS, StimulusNotFound, BankWriteForbidden),
)
async def restore_stimulus(
    session: SessionDep, principal: PrincipalDep, stimulus_id: uuid.UUID
) -> schemas.StimulusRead:
    return schemas.StimulusRead.model_validate(
        await stimuli.restore(session, principal, stimulus_id)
    )


@shared_stimuli.delete(
    "/{stimulus_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a shared stimulus and its versions; refused while items use it",
    responses=error_responses(
        *CREDENTIAL_ERRORS, StimulusNotFound, BankWriteForbidden, StimulusInUse
    ),
)
async def delete_stimulus(
    session: SessionDep, principal: PrincipalDep, stimulus_id: uuid.UUID
) -> Response:
    """409 ``stimulus-in-use`` (``items``: how many) when any version of an item refers to
    it: archive it instead."""
    await stimuli.delete_stimulus(session, principal, stimulus_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@shared_stimuli.put(
    "/{stimulus_id}",
    response_model=schemas.StimulusWithVersion,
    summary="Store a stimulus's next version (none when its content is the same)",
    responses=error_responses(
        *CREDENTIAL_ERRORS, StimulusNotFound, BankWriteForbidden, StimulusInvalid, MediaNotFound
    ),
)
async def update_stimulus(
    session: SessionDep,
    principal: PrincipalDep,
    stimulus_id: uuid.UUID,
    body: schemas.StimulusCreate,
) -> schemas.StimulusWithVersion:
    """Item versions stored before keep showing the version they were stored with; an
    item's next version shows this one."""
    definition = await _stimulus_from(session, principal, body)
    row, version = await stimuli.update(
        session, principal, stimulus_id, definition, change_note=body.change_note
    )
    return _stimulus_pair(row, version)


@shared_stimuli.get(
    "/{stimulus_id}/versions/{version}",
    response_model=schemas.StimulusVersionRead,
    summary="One version of a shared stimulus",
    responses=error_responses(*CREDENTIAL_ERRORS, StimulusNotFound),
)
async def get_stimulus_version(
    session: SessionDep, principal: PrincipalDep, stimulus_id: uuid.UUID, version: Version
) -> schemas.StimulusVersionRead:
    _, row = await stimuli.get_version(session, principal, stimulus_id, version)
    return schemas.StimulusVersionRead.model_validate(row)


@shared_stimuli.get(
    "/{stimulus_id}/versions/{version}/preview",
    response_model=schemas.CandidateStimulus,
    summary="A stimulus version as a candidate's player receives it beside its items",
    responses=error_responses(*CREDENTIAL_ERRORS, StimulusNotFound),
)
async def preview_stimulus(
    session: SessionDep, principal: PrincipalDep, stimulus_id: uuid.UUID, version: Version
) -> schemas.CandidateStimulus:
    _, row = await stimuli.get_version(session, principal, stimulus_id, version)
    return schemas.CandidateStimulus.model_validate(stimuli.preview(row))


router.include_router(banks)
router.include_router(shared_stimuli)
router.include_router(items)
router.include_router(media)
router.include_router(rubrics)
