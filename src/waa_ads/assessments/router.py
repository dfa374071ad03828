"""HTTP routes: assessments (definitions, versions, publishing, preview) and
administrations (windows, proctors, rosters, access codes)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile, status
from pydantic import StringConstraints

from waa_ads.assessments import interchange, schemas, service
from waa_ads.assessments.errors import (
    AdministrationCancelled,
    AdministrationInUse,
    AdministrationNotFound,
    AdministrationWindowInvalid,
    AdministrationWindowOverlaps,
    AssessmentInUse,
    AssessmentNotFound,
    AssessmentSlugTaken,
    AssessmentVersionNotDraft,
    AssessmentVersionNotFound,
    AssessmentVersionNotPublished,
    AssessmentVersionStale,
    ItemNotPublished,
    RosterCsvInvalid,
    RosterEntryNotFound,
    RosterRejected,
    SectionTimeLimitUnsupported,
    SelectionUnsatisfiable,
    UnknownIntegrityPolicy,
    UnknownItem,
    UnknownItemBank,
    UnknownProctor,
)
from waa_ads.assessments.models import Assessment, AssessmentVersion
from waa_ads.auth.deps import PrincipalDep
from waa_ads.auth.errors import CREDENTIAL_ERRORS, RoleRequired
from waa_ads.content.errors import (
    BankNotFound,
    BankWriteForbidden,
    ImportRejected,
    NothingToImport,
    PackageBuildError,
    PackageError,
    UnsafePackage,
)
from waa_ads.core.deps import SessionDep, SettingsDep
from waa_ads.core.errors import error_responses
from waa_ads.core.params import Version

router = APIRouter()
assessments = APIRouter(prefix="/assessments", tags=["assessments"])
administrations = APIRouter(prefix="/administrations", tags=["administrations"])


#: The definition names only items and banks of the organization.
_REFERENCE_ERRORS = (UnknownItem, UnknownItemBank, SectionTimeLimitUnsupported)
#: Pinning a definition to published items (publishing, previewing a draft).
_PIN_ERRORS = (
    UnknownItem,
    ItemNotPublished,
    SelectionUnsatisfiable,
    SectionTimeLimitUnsupported,
)


def _pair(assessment: Assessment, version: AssessmentVersion) -> schemas.AssessmentWithVersion:
    return schemas.AssessmentWithVersion(
        assessment=schemas.AssessmentRead.model_validate(assessment),
        version=schemas.AssessmentVersionRead.model_validate(version),
    )


@assessments.post(
    "",
    response_model=schemas.AssessmentWithVersion,
    status_code=status.HTTP_201_CREATED,
    summary="Create an assessment (version 1, a draft)",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, AssessmentSlugTaken, *_REFERENCE_ERRORS
    ),
)
async def create_assessment(
    session: SessionDep, principal: PrincipalDep, body: schemas.AssessmentCreate
) -> schemas.AssessmentWithVersion:
    return _pair(*await service.create_assessment(session, principal, body))


@assessments.post(
    "/import-qti",
    response_model=schemas.TestImportRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create an assessment from a QTI assessment test package (3.0, 2.2 or 2.1)",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        RoleRequired,
        BankNotFound,
        BankWriteForbidden,
        PackageError,
        UnsafePackage,
        NothingToImport,
        ImportRejected,
        interchange.TestPackageInvalid,
        AssessmentSlugTaken,
        *_REFERENCE_ERRORS,
        413,
    ),
)
async def import_qti_test(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="A .zip content package holding a test")],
    bank_id: Annotated[uuid.UUID, Form(description="The bank the test's items go to")],
    slug: Annotated[
        schemas.Slug | None,
        Form(description="The new assessment's slug; default: from the test's identifier"),
    ] = None,
    test: Annotated[
        str | None,
        Form(description="The test's resource identifier, when the package holds several"),
    ] = None,
) -> schemas.TestImportRead:
    """The test's items go to the bank (published, as new items or new versions of the
    bank's items with the same identifier) and a draft assessment is made of them, all or
    nothing: a refused item stores nothing (the 422 ``import-rejected`` problem lists each
    item). ``notes`` lists what the assessment does differently from the test (nested
    sections flattened, a section's time limit, an unusual outcome processing...)."""
    done = await interchange.import_test_package(
        session,
        request.app.state.blobs,
        principal,
        bank_id,
        file.filename or "upload.zip",
        await file.read(),
        slug=slug,
        test=test,
    )
    return schemas.TestImportRead(
        assessment=schemas.AssessmentRead.model_validate(done.assessment),
        version=schemas.AssessmentVersionRead.model_validate(done.version),
        items=done.items,
        notes=done.notes,
    )


@assessments.get(
    "/{assessment_id}/export-qti",
    summary="An assessment version as a QTI 3.0 content package: its items and the test",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}},
        **error_responses(
            *CREDENTIAL_ERRORS,
            AssessmentNotFound,
            AssessmentVersionNotFound,
            interchange.TestExportUnsupported,
            PackageBuildError,
        ),
    },
)
async def export_qti_test(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    assessment_id: uuid.UUID,
    version: Annotated[Version | None, Query(description="Default: the newest")] = None,
) -> Response:
    """Items are the versions a published assessment version pinned (a selection's whole
    pool, with ``qti-selection``); for a draft, each item's published version, else its
    newest."""
    data = await interchange.export_test_package(
        session, request.app.state.blobs, principal, assessment_id, version
    )
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="assessment-{assessment_id}-qti3.zip"'
        },
    )


@assessments.get(
    "",
    response_model=list[schemas.AssessmentRead],
    summary="The organization's assessments",
    responses=error_responses(*CREDENTIAL_ERRORS),
)
async def list_assessments(
    session: SessionDep,
    principal: PrincipalDep,
    archived: Annotated[bool, Query(description="Include archived assessments")] = False,
) -> list[schemas.AssessmentRead]:
    rows = await service.list_assessments(session, principal, archived=archived)
    return [schemas.AssessmentRead.model_validate(r) for r in rows]


@assessments.get(
    "/pool-size",
    response_model=schemas.PoolSize,
    summary="How many published items a selection rule with these filters draws from",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, UnknownItemBank),
)
async def selection_pool_size(
    session: SessionDep,
    principal: PrincipalDep,
    bank_id: uuid.UUID,
    tag: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] | None,
        Query(max_length=20, description="Every given tag must be present"),
    ] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] | None,
        Query(max_length=20, description="Any of these interaction types"),
    ] = None,
) -> schemas.PoolSize:
    """The size of the pool a rule ``{"bank_id", "tags", "subject", "interaction_types"}``
    would be pinned to if published now: the bank's published items matching every filter
    (admins and authors)."""
    return await service.pool_size(
        session,
        principal,
        bank_id=bank_id,
        tags=tag or [],
        subject=subject,
        interaction_types=type or [],
    )


@assessments.get(
    "/{assessment_id}",
    response_model=schemas.AssessmentWithVersion,
    summary="An assessment with its newest version",
    responses=error_responses(*CREDENTIAL_ERRORS, AssessmentNotFound, AssessmentVersionNotFound),
)
async def get_assessment(
    session: SessionDep, principal: PrincipalDep, assessment_id: uuid.UUID
) -> schemas.AssessmentWithVersion:
    return _pair(*await service.get_version(session, principal, assessment_id, None))


@assessments.post(
    "/{assessment_id}/archive",
    response_model=schemas.AssessmentWithVersion,
    summary="Archive an assessment: left out of listings, still readable by id",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, AssessmentNotFound),
)
async def archive_assessment(
    session: SessionDep, principal: PrincipalDep, assessment_id: uuid.UUID
) -> schemas.AssessmentWithVersion:
    return _pair(*await service.archive_assessment(session, principal, assessment_id))


@assessments.post(
    "/{assessment_id}/restore",
    response_model=schemas.AssessmentWithVersion,
    summary="Restore an archived assessment",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, AssessmentNotFound),
)
async def restore_assessment(
    session: SessionDep, principal: PrincipalDep, assessment_id: uuid.UUID
) -> schemas.AssessmentWithVersion:
    return _pair(
        *await service.archive_assessment(session, principal, assessment_id, archived=False)
    )


@assessments.delete(
    "/{assessment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an assessment, its versions and administrations (admins)",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, AssessmentNotFound, AssessmentInUse
    ),
)
async def delete_assessment(
    session: SessionDep, principal: PrincipalDep, assessment_id: uuid.UUID
) -> Response:
    """409 ``assessment-in-use`` once an attempt was made on any version: archive it
    instead."""
    await service.delete_assessment(session, principal, assessment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@assessments.put(
    "/{assessment_id}",
    response_model=schemas.AssessmentWithVersion,
    summary="Replace the definition (a published assessment gets a new draft version)",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        RoleRequired,
        AssessmentNotFound,
        AssessmentVersionNotFound,
        AssessmentVersionStale,
        *_REFERENCE_ERRORS,
    ),
)
async def update_assessment(
    session: SessionDep,
    principal: PrincipalDep,
    assessment_id: uuid.UUID,
    body: schemas.AssessmentUpdate,
) -> schemas.AssessmentWithVersion:
    return _pair(*await service.update_assessment(session, principal, assessment_id, body))


@assessments.get(
    "/{assessment_id}/versions/{version}",
    response_model=schemas.AssessmentWithVersion,
    summary="One version of an assessment",
    responses=error_responses(*CREDENTIAL_ERRORS, AssessmentNotFound, AssessmentVersionNotFound),
)
async def get_assessment_version(
    session: SessionDep, principal: PrincipalDep, assessment_id: uuid.UUID, version: Version
) -> schemas.AssessmentWithVersion:
    return _pair(*await service.get_version(session, principal, assessment_id, version))


@assessments.post(
    "/{assessment_id}/publish",
    response_model=schemas.AssessmentWithVersion,
    summary="Publish the draft: pin item versions, check selection rules against the bank",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        RoleRequired,
        AssessmentNotFound,
        AssessmentVersionNotFound,
        AssessmentVersionNotDraft,
        UnknownIntegrityPolicy,
        *_PIN_ERRORS,
    ),
)
async def publish_assessment(
    session: SessionDep, principal: PrincipalDep, assessment_id: uuid.UUID
) -> schemas.AssessmentWithVersion:
    return _pair(*await service.publish(session, principal, assessment_id))


@assessments.get(
    "/{assessment_id}/preview",
    response_model=schemas.AssessmentPreview,
    response_model_exclude_unset=True,
    summary="See a form as a candidate would (newest version unless ?version=)",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        RoleRequired,
        AssessmentNotFound,
        AssessmentVersionNotFound,
        *_PIN_ERRORS,
    ),
)
async def preview_assessment(
    session: SessionDep,
    principal: PrincipalDep,
    assessment_id: uuid.UUID,
    version: Version | None = None,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 1,
) -> schemas.AssessmentPreview:
    return await service.preview(session, principal, assessment_id, version, seed)


# --- administrations ---------------------------------------------------------------------


@administrations.post(
    "",
    response_model=schemas.AdministrationRead,
    status_code=status.HTTP_201_CREATED,
    summary="Schedule a published assessment version for a window",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        RoleRequired,
        AssessmentVersionNotFound,
        AssessmentVersionNotPublished,
        UnknownProctor,
    ),
)
async def create_administration(
    session: SessionDep, principal: PrincipalDep, body: schemas.AdministrationCreate
) -> schemas.AdministrationRead:
    administration = await service.create_administration(session, principal, body)
    return await service.administration_read(session, administration)


@administrations.get(
    "",
    response_model=list[schemas.AdministrationRead],
    summary="Administrations (proctors see the ones they are assigned to)",
    responses=error_responses(*CREDENTIAL_ERRORS),
)
async def list_administrations(
    session: SessionDep,
    principal: PrincipalDep,
    archived: Annotated[bool, Query(description="Include archived administrations")] = False,
) -> list[schemas.AdministrationRead]:
    rows = await service.list_administrations(session, principal, archived=archived)
    return [await service.administration_read(session, r) for r in rows]


@administrations.get(
    "/{administration_id}",
    response_model=schemas.AdministrationRead,
    summary="One administration",
    responses=error_responses(*CREDENTIAL_ERRORS, AdministrationNotFound),
)
async def get_administration(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> schemas.AdministrationRead:
    administration = await service.get_administration(session, principal, administration_id)
    return await service.administration_read(session, administration)


@administrations.patch(
    "/{administration_id}",
    response_model=schemas.AdministrationRead,
    summary="Change the window, title, notes or proctors",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        RoleRequired,
        AdministrationNotFound,
        AdministrationWindowInvalid,
        AdministrationWindowOverlaps,
        UnknownProctor,
    ),
)
async def update_administration(
    session: SessionDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID,
    body: schemas.AdministrationUpdate,
) -> schemas.AdministrationRead:
    administration = await service.update_administration(
        session, principal, administration_id, body
    )
    return await service.administration_read(session, administration)


@administrations.post(
    "/{administration_id}/archive",
    response_model=schemas.AdministrationRead,
    summary="Archive an administration: left out of listings, still readable by id",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound),
)
async def archive_administration(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> schemas.AdministrationRead:
    administration = await service.archive_administration(session, principal, administration_id)
    return await service.administration_read(session, administration)


@administrations.post(
    "/{administration_id}/restore",
    response_model=schemas.AdministrationRead,
    summary="Restore an archived administration",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound),
)
async def restore_administration(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> schemas.AdministrationRead:
    administration = await service.archive_administration(
        session, principal, administration_id, archived=False
    )
    return await service.administration_read(session, administration)


@administrations.delete(
    "/{administration_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an administration with its roster (admins)",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound, AdministrationInUse
    ),
)
async def delete_administration(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> Response:
    """409 ``administration-in-use`` once an attempt was made in it: archive it instead."""
    await service.delete_administration(session, principal, administration_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@administrations.post(
    "/{administration_id}/cancel",
    response_model=schemas.AdministrationRead,
    summary="Cancel an administration",
    responses=error_responses(*CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound),
)
async def cancel_administration(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> schemas.AdministrationRead:
    administration = await service.cancel_administration(session, principal, administration_id)
    return await service.administration_read(session, administration)


@administrations.get(
    "/{administration_id}/roster",
    response_model=list[schemas.RosterEntryRead],
    summary="The roster (codes are never shown again after issue)",
    responses=error_responses(*CREDENTIAL_ERRORS, AdministrationNotFound),
)
async def list_roster(
    session: SessionDep, principal: PrincipalDep, administration_id: uuid.UUID
) -> list[schemas.RosterEntryRead]:
    rows = await service.list_roster(session, principal, administration_id)
    return [service.entry_read(r) for r in rows]


@administrations.post(
    "/{administration_id}/roster",
    response_model=list[schemas.RosterEntryRead],
    status_code=status.HTTP_201_CREATED,
    summary="Add candidates with accommodations; each gets an access code, shown once",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        RoleRequired,
        AdministrationNotFound,
        AdministrationCancelled,
        RosterRejected,
    ),
)
async def add_to_roster(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID,
    body: schemas.RosterAddMany,
) -> list[schemas.RosterEntryRead]:
    issued = await service.add_to_roster(
        session, settings, principal, administration_id, body.entries
    )
    return [service.entry_read(i.entry, i.code) for i in issued]


@administrations.post(
    "/{administration_id}/roster/csv",
    response_model=list[schemas.RosterEntryRead],
    status_code=status.HTTP_201_CREATED,
    summary="Add candidates from CSV (external_id or email, accommodations); all or nothing",
    responses=error_responses(
        *CREDENTIAL_ERRORS,
        RoleRequired,
        AdministrationNotFound,
        AdministrationCancelled,
        RosterCsvInvalid,
        RosterRejected,
    ),
)
async def import_roster(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="UTF-8 CSV with a header row")],
) -> list[schemas.RosterEntryRead]:
    raw = await file.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterCsvInvalid("the CSV is not UTF-8 text") from None
    issued = await service.import_roster_csv(session, settings, principal, administration_id, text)
    return [service.entry_read(i.entry, i.code) for i in issued]


@administrations.put(
    "/{administration_id}/roster/{entry_id}/accommodations",
    response_model=schemas.RosterEntryRead,
    summary="Change a candidate's accommodations",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound, RosterEntryNotFound
    ),
)
async def update_accommodations(
    session: SessionDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID,
    entry_id: uuid.UUID,
    body: schemas.Accommodations,
) -> schemas.RosterEntryRead:
    entry = await service.update_accommodations(
        session, principal, administration_id, entry_id, body
    )
    return service.entry_read(entry)


@administrations.post(
    "/{administration_id}/roster/{entry_id}/code",
    response_model=schemas.RosterEntryRead,
    summary="Issue a new access code (the old one stops working)",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound, RosterEntryNotFound
    ),
)
async def reissue_code(
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID,
    entry_id: uuid.UUID,
) -> schemas.RosterEntryRead:
    issued = await service.reissue_code(session, settings, principal, administration_id, entry_id)
    return service.entry_read(issued.entry, issued.code)


@administrations.delete(
    "/{administration_id}/roster/{entry_id}/code",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a candidate's access code",
    responses=error_responses(
        *CREDENTIAL_ERRORS, RoleRequired, AdministrationNotFound, RosterEntryNotFound
    ),
)
async def revoke_code(
    session: SessionDep,
    principal: PrincipalDep,
    administration_id: uuid.UUID,
    entry_id: uuid.UUID,
) -> Response:
    await service.revoke_code(session, principal, administration_id, entry_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


router.include_router(assessments)
router.include_router(administrations)
