"""``waa-ads demo``: a demo organization with an admin, and the sample bank written for this
project (items of every type, rubrics, media), published and ready to assemble; the demo
test's administration with a rating plan on the answers people score, two raters and a
rating lead (who adjudicates).

Running it again keeps what exists and gives the admin, the raters and the lead new
passwords (only a hash is stored, so the old ones cannot be shown again).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

import yaml
from sqlalchemy import func, select

from waa_ads.audit.service import Actor
from waa_ads.auth import schemas as auth_schemas
from waa_ads.auth import service as auth_service
from waa_ads.auth.deps import Principal
from waa_ads.auth.models import Organization, Role, User
from waa_ads.content import assets, service
from waa_ads.content import schemas as content_schemas
from waa_ads.content.models import Item, ItemBank, Rubric, RubricVersion
from waa_ads.content.transfer import candidates_from_bytes
from waa_ads.core.db import Database
from waa_ads.core.errors import Unprocessable
from waa_ads.core.storage import BlobStore

DEMO_ORG = "demo"
DEMO_ADMIN = "admin@demo.example.com"
#: The demo's rating people: (label printed, e-mail, display name). The lead adjudicates.
DEMO_RATERS = (
    ("rater 1", "rater1@demo.example.com", "Demo Rater One"),
    ("rater 2", "rater2@demo.example.com", "Demo Rater Two"),
)
DEMO_LEAD = ("rating lead", "lead@demo.example.com", "Demo Rating Lead")
SYSTEM = Actor("system", "demo")


@dataclass
class DemoResult:
    organization: str
    admin_email: str
    admin_password: str
    bank: str
    items: int
    rubrics: int
    media: int
    assessment: str | None = None
    administration: str | None = None
    candidates: list[tuple[str, str]] = field(default_factory=list)
    #: (label, e-mail, password) of the raters and the rating lead.
    rating_people: list[tuple[str, str, str]] = field(default_factory=list)
    rating_plan: str | None = None
    notes: list[str] = field(default_factory=list)


def _content() -> Any:
    return resources.files("waa_ads.demo").joinpath("content")


async def load_demo(
    db: Database, blobs: BlobStore, auth: auth_service.AuthComponents
) -> DemoResult:
    root = _content()
    manifest = yaml.safe_load(root.joinpath("manifest.yaml").read_text(encoding="utf-8"))
    bank_spec = manifest.get("bank", {})
    password = secrets.token_urlsafe(12)
    async with db.transaction() as session:
        org = (
            await session.execute(select(Organization).where(Organization.slug == DEMO_ORG))
        ).scalar_one_or_none()
        if org is None:
            org = await auth_service.create_organization(
                session, slug=DEMO_ORG, name="Demo Academy", actor=SYSTEM
            )
        admin = (
            await session.execute(
                select(User).where(User.organization_id == org.id, User.email == DEMO_ADMIN)
            )
        ).scalar_one_or_none()
        if admin is None:
            await auth_service.create_user(
                session,
                auth,
                org.id,
                auth_schemas.UserCreate(
                    email=DEMO_ADMIN,
                    display_name="Demo Admin",
                    roles=[Role.admin, Role.author, Role.proctor, Role.rater],
                    password=password,
                ),
                actor=SYSTEM,
            )
        else:
            admin.password_hash = await auth.hasher.hash(password)
            admin.is_active = True
        principal = Principal.system(org.id, via="demo")

        bank = (
            await session.execute(
                select(ItemBank).where(
                    ItemBank.organization_id == org.id,
                    ItemBank.slug == bank_spec.get("slug", "sample"),
                )
            )
        ).scalar_one_or_none()
        if bank is None:
            bank = await service.create_bank(
                session,
                principal,
                content_schemas.BankCreate(
                    slug=bank_spec.get("slug", "sample"),
                    name=bank_spec.get("name", "Sample bank"),
                    description=bank_spec.get("description"),
                ),
            )

        rubric_versions: dict[str, Any] = {}
        for entry in manifest.get("rubrics", []):
            stem = PurePosixPath(str(entry)).stem
            existing = (
                await session.execute(
                    select(Rubric).where(Rubric.organization_id == org.id, Rubric.slug == stem)
                )
            ).scalar_one_or_none()
            if existing is None:
                text = root.joinpath("rubrics", f"{stem}.yaml").read_text(encoding="utf-8")
                _, version = await assets.create_rubric(
                    session, principal, org.id, slug=stem, source_yaml=text
                )
            else:
                version = (
                    await session.execute(
                        select(RubricVersion).where(
                            RubricVersion.rubric_id == existing.id,
                            RubricVersion.version == existing.latest_version,
                        )
                    )
                ).scalar_one()
            rubric_versions[stem] = version.id

        media_refs: dict[str, str] = {}
        for media_file in sorted(root.joinpath("media").iterdir(), key=lambda p: p.name):
            asset, _ = await assets.store_media(
                session,
                blobs,
                principal,
                org.id,
                media_file.read_bytes(),
                filename=media_file.name,
                declared_type=None,
            )
            media_refs[f"../media/{media_file.name}"] = asset.sha256

        count = (
            await session.execute(
                select(func.count()).select_from(Item).where(Item.bank_id == bank.id)
            )
        ).scalar_one()
        notes: list[str] = []
        identifiers: list[str] = []
        new_items = []
        for entry in manifest["items"]:
            name = str(entry["file"])
            data = root.joinpath("items", name).read_bytes()
            (candidate,) = candidates_from_bytes(name, data)
            if candidate.item is None:
                raise Unprocessable(f"demo item {name}: {candidate.error}")
            identifiers.append(candidate.item.identifier)
            if count == 0:
                item = candidate.item
                used = {p: s for p, s in media_refs.items() if p[len("../") :] in data.decode()}
                if used:
                    item = item.model_copy(update={"metadata": {**item.metadata, "media": used}})
                rubric = entry.get("rubric")
                new_items.append(
                    service.NewItem(
                        item,
                        content_schemas.ItemMetadata(
                            tags=list(entry.get("tags", [])), subject=entry.get("subject")
                        ),
                        rubric_version_id=rubric_versions[rubric] if rubric else None,
                        change_note="demo content",
                    )
                )
        if count == 0:
            await service.create_items(session, principal, bank.id, new_items, publish=True)
            count = len(new_items)
        else:
            notes.append("the sample bank already had items; they were kept as they are")
        assessment_id, administration_id, candidates = await _demo_assessment(
            session, auth.settings, principal, bank.id, identifiers
        )
        people, plan_id = await _demo_rating(session, auth, principal, administration_id)
    return DemoResult(
        rating_people=people,
        rating_plan=plan_id,
        assessment=assessment_id,
        administration=administration_id,
        candidates=candidates,
        organization=DEMO_ORG,
        admin_email=DEMO_ADMIN,
        admin_password=password,
        bank=bank.slug,
        items=int(count),
        rubrics=len(rubric_versions),
        media=len(media_refs),
        notes=notes,
    )


DEMO_CANDIDATES = [
    ("Amara Okafor", "demo-001"),
    ("Bruno Costa", "demo-002"),
    ("Chen Wei", "demo-003"),
    ("Dana Levi", "demo-004"),
    ("Emil Novak", "demo-005"),
]


async def _demo_assessment(
    session: Any, settings: Any, principal: Principal, bank_id: Any, identifiers: list[str]
) -> tuple[str, str, list[tuple[str, str]]]:
    """The demo assessment (every sample item, in manifest order), published; an open
    administration for a month; five candidates, each with a fresh access code (the
    second gets 50% extra time)."""
    from datetime import timedelta

    from waa_ads.assessments import schemas as a_schemas
    from waa_ads.assessments import service as a_service
    from waa_ads.assessments.definition import AssessmentDefinition
    from waa_ads.assessments.models import Administration, Assessment, RosterEntry
    from waa_ads.auth.models import Candidate
    from waa_ads.core.db import utcnow

    assessment = (
        await session.execute(
            select(Assessment).where(
                Assessment.organization_id == principal.organization_id,
                Assessment.slug == "demo-placement",
            )
        )
    ).scalar_one_or_none()
    if assessment is None:
        items = (await session.execute(select(Item).where(Item.bank_id == bank_id))).scalars().all()
        order = {name: n for n, name in enumerate(identifiers)}
        ordered = sorted(items, key=lambda i: (order.get(i.identifier, len(order)), i.identifier))
        definition = AssessmentDefinition.model_validate(
            {
                "title": "Demo placement test",
                "description": "Every kind of question the platform supports, in one sitting.",
                "sections": [
                    {
                        "identifier": "all",
                        "title": "Questions",
                        "items": [{"item_id": str(i.id)} for i in ordered],
                    }
                ],
                "time_limit_s": 3600,
                "attempts_allowed": 2,
                "breaks": {"allowed": True, "count_against_time": False, "max_breaks": 2},
                "scoring": {
                    "bands": [
                        {"name": "not yet", "min_score": 0, "passed": False},
                        {"name": "pass", "min_score": 0.6 * len(ordered), "passed": True},
                    ],
                    "release": "immediately",
                },
            }
        )
        assessment, _ = await a_service.create_assessment(
            session,
            principal,
            a_schemas.AssessmentCreate(slug="demo-placement", definition=definition),
        )
        await a_service.publish(session, principal, assessment.id)
    _, version = await a_service.get_version(
        session, principal, assessment.id, assessment.published_version
    )
    administration = (
        (
            await session.execute(
                select(Administration).where(
                    Administration.assessment_version_id == version.id,
                    Administration.cancelled_at.is_(None),
                )
            )
        )
        .scalars()
        .first()
    )
    now = utcnow()
    if administration is None or administration.closes_at <= now:
        administration = await a_service.create_administration(
            session,
            principal,
            a_schemas.AdministrationCreate(
                assessment_version_id=version.id,
                title="Demo session (open for 30 days)",
                opens_at=now - timedelta(minutes=1),
                closes_at=now + timedelta(days=30),
            ),
        )
    codes: list[tuple[str, str]] = []
    to_add: list[a_schemas.RosterAdd] = []
    names: dict[Any, str] = {}
    for n, (name, external_id) in enumerate(DEMO_CANDIDATES):
        candidate = (
            await session.execute(
                select(Candidate).where(
                    Candidate.organization_id == principal.organization_id,
                    Candidate.external_id == external_id,
                )
            )
        ).scalar_one_or_none()
        if candidate is None:
            from waa_ads.auth import schemas as auth_schemas

            candidate = await auth_service.create_candidate(
                session,
                principal.organization_id,
                auth_schemas.CandidateCreate(full_name=name, external_id=external_id),
                actor=SYSTEM,
            )
        names[candidate.id] = name
        entry = (
            await session.execute(
                select(RosterEntry).where(
                    RosterEntry.administration_id == administration.id,
                    RosterEntry.candidate_id == candidate.id,
                )
            )
        ).scalar_one_or_none()
        if entry is None:
            to_add.append(
                a_schemas.RosterAdd(
                    candidate_id=candidate.id,
                    accommodations=a_schemas.Accommodations(
                        extra_time_multiplier=1.5 if n == 1 else 1.0
                    ),
                )
            )
        else:
            issued = await a_service.reissue_code(
                session, settings, principal, administration.id, entry.id
            )
            codes.append((name, issued.code or ""))
    if to_add:
        issued_many = await a_service.add_to_roster(
            session, settings, principal, administration.id, to_add
        )
        for issued_entry in issued_many:
            codes.append(
                (names.get(issued_entry.entry.candidate_id, "candidate"), issued_entry.code or "")
            )
    return str(assessment.id), str(administration.id), codes


async def _account(
    session: Any, auth: auth_service.AuthComponents, org_id: Any, email: str, name: str
) -> tuple[User, str]:
    """A rater account of the demo (created, or kept with a new password)."""
    password = secrets.token_urlsafe(12)
    user = (
        await session.execute(
            select(User).where(User.organization_id == org_id, User.email == email)
        )
    ).scalar_one_or_none()
    if user is None:
        user, _ = await auth_service.create_user(
            session,
            auth,
            org_id,
            auth_schemas.UserCreate(
                email=email, display_name=name, roles=[Role.rater], password=password
            ),
            actor=SYSTEM,
        )
    else:
        user.password_hash = await auth.hasher.hash(password)
        user.is_active = True
    return user, password


async def _demo_rating(
    session: Any,
    auth: auth_service.AuthComponents,
    principal: Principal,
    administration_id: str,
) -> tuple[list[tuple[str, str, str]], str]:
    """Two raters and a lead, and the administration's rating plan (kept when it exists):
    every answer people score (essays, short answers, uploads) rated twice, blind; ratings
    more than one point apart go to the lead, whose score stands."""
    import uuid

    from waa_ads.rating import schemas as r_schemas
    from waa_ads.rating import service as r_service
    from waa_ads.rating.models import RatingPlan

    people: list[tuple[str, str, str]] = []
    raters: list[User] = []
    for label, email, name in DEMO_RATERS:
        user, password = await _account(session, auth, principal.organization_id, email, name)
        raters.append(user)
        people.append((label, email, password))
    lead_label, lead_email, lead_name = DEMO_LEAD
    lead, password = await _account(session, auth, principal.organization_id, lead_email, lead_name)
    people.append((lead_label, lead_email, password))
    administration = uuid.UUID(administration_id)
    plan_id = await session.scalar(
        select(RatingPlan.id).where(RatingPlan.administration_id == administration)
    )
    if plan_id is None:
        plan = await r_service.create_plan(
            session,
            principal,
            r_schemas.PlanCreate(
                administration_id=administration,
                title="Demo written answers",
                double_share=1.0,
                raters=[r_schemas.Member(user_id=u.id) for u in raters],
                adjudicators=[r_schemas.Member(user_id=lead.id)],
                leads=[lead.id],
                lease_seconds=900,
            ),
        )
        plan_id = plan.id
    return people, str(plan_id)
