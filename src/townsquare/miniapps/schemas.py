"""JSON shapes of the registry API: mini-apps, versions, the review queue and templates.

Every input string and number is bounded so that no request can reach the database with a
value the columns cannot hold; the services then apply the business rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from townsquare.core.i18n import gettext
from townsquare.miniapps.models import MiniApp, MiniAppVersion, Template, TemplateVersion
from townsquare.miniapps.registry import HistoryItem, state_label
from townsquare.miniapps.review import QueueItem
from townsquare.miniapps.runtimes import RUNTIMES, Runtime, defaults_from_fields

Id = Annotated[str, StringConstraints(min_length=3, max_length=40)]
Name = Annotated[str, StringConstraints(max_length=64)]
Text = Annotated[str, StringConstraints(max_length=2000)]
Tag = Annotated[str, StringConstraints(max_length=16)]
City = Annotated[str, StringConstraints(max_length=32)]
Label = Annotated[str, StringConstraints(max_length=32)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Value = Annotated[str, StringConstraints(max_length=4000)] | Annotated[
    int, Field(ge=-(10**12), le=10**12)
] | bool | None
Config = Annotated[dict[Key, Value], Field(max_length=20)]


class MiniAppIn(BaseModel):
    merchant_id: Id
    kind: Literal["template", "external"]
    name: Name
    icon: Annotated[str, StringConstraints(max_length=255)] = ""
    description: Text = ""
    category: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        None, description="Category code; by default the template's or the merchant's."
    )
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    cities: list[City] = Field(min_length=1, max_length=20)
    template_id: Id | None = Field(None, description="For kind=template: a published template.")
    config: Config | None = Field(
        None, description="For kind=template: settings that differ from the template's defaults."
    )
    external_url: Annotated[str, StringConstraints(max_length=500)] = Field(
        "", description="For kind=external: https://, or http://127.0.0.1 / localhost for dev."
    )
    label: Label = "1.0.0"
    changelog: Text = ""


class FromTemplateIn(BaseModel):
    merchant_id: Id
    name: Name
    icon: Annotated[str, StringConstraints(max_length=255)] = ""
    description: Text = Field("", description="Empty: the template's description.")
    category: Annotated[str, StringConstraints(max_length=32)] | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    cities: list[City] = Field(min_length=1, max_length=20)
    config: Config = Field(default_factory=dict, description="Only what differs from the defaults.")
    label: Label = "1.0.0"
    submit: bool = Field(False, description="Submit version 1 for review at once.")
    publish_on_approval: bool = True


class VersionIn(BaseModel):
    label: Label
    changelog: Text = ""
    from_version: Id | None = Field(None, description="Copy this version (default: the newest).")


class VersionPatch(BaseModel):
    label: Label | None = None
    changelog: Text | None = None
    name: Name | None = None
    icon: Annotated[str, StringConstraints(max_length=255)] | None = None
    description: Text | None = None
    tags: list[Tag] | None = Field(None, max_length=10)
    cities: list[City] | None = Field(None, max_length=20)
    external_url: Annotated[str, StringConstraints(max_length=500)] | None = None
    config: Config | None = Field(None, description="Merged into the current settings.")


class SubmitIn(BaseModel):
    publish_on_approval: bool = False


class ReasonIn(BaseModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class VersionBrief(BaseModel):
    id: str
    number: int
    label: str
    state: str


class VersionOut(BaseModel):
    id: str
    miniapp_id: str
    number: int
    label: str
    changelog: str
    name: str
    icon: str
    description: str
    tags: list[str]
    cities: list[str]
    external_url: str
    config: dict[str, Any]
    state: str
    state_label: str
    lane: str | None
    publish_on_approval: bool
    submitted_at: datetime | None
    due_at: datetime | None
    decided_at: datetime | None
    reason: str
    template_version: int | None = Field(
        description="The template version its settings were made from (template mini-apps)")
    created_at: datetime

    @classmethod
    def of(cls, version: MiniAppVersion) -> VersionOut:
        return cls(
            id=version.public_id, miniapp_id=version.miniapp.public_id, number=version.number,
            label=version.label, changelog=version.changelog, name=version.name,
            icon=version.icon, description=version.description, tags=list(version.tags),
            cities=list(version.cities), external_url=version.external_url,
            config=dict(version.config), state=version.state.value,
            state_label=state_label(version.state),
            lane=version.lane.value if version.lane else None,
            publish_on_approval=version.publish_on_approval, submitted_at=version.submitted_at,
            due_at=version.due_at, decided_at=version.decided_at, reason=version.reason,
            template_version=version.template_version, created_at=version.created_at,
        )


class MiniAppOut(BaseModel):
    id: str
    merchant_id: str
    merchant_name: str
    builder_provider_id: str | None
    category: str
    kind: str
    template_id: str | None
    runtime: str | None
    name: str
    icon: str
    description: str
    tags: list[str]
    cities: list[str]
    listed: bool
    taken_down_reason: str
    created_at: datetime
    latest_version: VersionBrief | None = None

    @classmethod
    def of(cls, miniapp: MiniApp, latest: MiniAppVersion | None = None) -> MiniAppOut:
        return cls(
            id=miniapp.public_id, merchant_id=miniapp.merchant.public_id,
            merchant_name=miniapp.merchant.name,
            builder_provider_id=miniapp.builder.public_id if miniapp.builder else None,
            category=miniapp.category.code, kind=miniapp.kind.value,
            template_id=miniapp.template.public_id if miniapp.template else None,
            runtime=miniapp.template.runtime if miniapp.template else None,
            name=miniapp.name, icon=miniapp.icon, description=miniapp.description,
            tags=list(miniapp.tags), cities=list(miniapp.cities), listed=miniapp.listed,
            taken_down_reason=miniapp.taken_down_reason, created_at=miniapp.created_at,
            latest_version=VersionBrief(
                id=latest.public_id, number=latest.number, label=latest.label,
                state=latest.state.value,
            ) if latest else None,
        )


class HistoryOut(BaseModel):
    at: datetime
    action: str
    subject_id: str
    actor: str | None
    from_state: str | None
    reason: str
    label: str | None

    @classmethod
    def of(cls, item: HistoryItem) -> HistoryOut:
        return cls(
            at=item.at, action=item.action, subject_id=item.subject_id, actor=item.actor_name,
            from_state=item.from_state, reason=item.reason, label=item.label,
        )


class MiniAppDetail(MiniAppOut):
    versions: list[VersionOut]
    history: list[HistoryOut]


class CreatedOut(BaseModel):
    miniapp: MiniAppDetail
    client_secret: str = Field(description="Shown this once; only its digest is stored.")


class SecretOut(BaseModel):
    client_secret: str = Field(description="The new secret; the old one stops working now.")


class QueueItemOut(BaseModel):
    version: VersionOut
    miniapp_id: str
    miniapp_name: str
    merchant_name: str
    category: str
    lane: str
    submitted_at: datetime
    due_at: datetime
    age_minutes: int
    overdue: bool

    @classmethod
    def of(cls, item: QueueItem) -> QueueItemOut:
        return cls(
            version=VersionOut.of(item.version), miniapp_id=item.miniapp.public_id,
            miniapp_name=item.miniapp.name, merchant_name=item.miniapp.merchant.name,
            category=item.miniapp.category.code, lane=item.lane.value,
            submitted_at=item.submitted_at, due_at=item.due_at,
            age_minutes=int(item.age.total_seconds() // 60), overdue=item.overdue,
        )


class ListedOut(BaseModel):
    miniapp: MiniAppOut
    published_version: VersionOut


class FieldOut(BaseModel):
    name: str
    label: str
    type: str
    required: bool
    max_length: int
    choices: list[str]
    minimum: int | None
    maximum: int | None
    default: Any = None


class RuntimeOut(BaseModel):
    key: str
    label: str
    fields: list[FieldOut]

    @classmethod
    def of(cls, runtime: Runtime, defaults: dict[str, Any] | None = None) -> RuntimeOut:
        defaults = defaults or {}
        return cls(
            key=runtime.key, label=gettext(runtime.label),
            fields=[
                FieldOut(
                    name=f.name, label=gettext(f.label), type=f.type, required=f.required,
                    max_length=f.max_length, choices=list(f.choices), minimum=f.minimum,
                    maximum=f.maximum, default=defaults.get(f.name),
                )
                for f in runtime.fields
            ],
        )


class TemplateIn(BaseModel):
    provider_id: Id
    runtime: Annotated[str, StringConstraints(max_length=32)]
    name: Name
    description: Text = ""
    category: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        None, description="Suggested category code for mini-apps made from it."
    )
    defaults: Config = Field(default_factory=dict)


class TemplateOut(BaseModel):
    id: str
    provider_id: str
    provider_name: str
    runtime: str
    name: str
    description: str
    category: str | None
    status: str
    version: int = Field(description="The current published version (0: never published)")
    withdrawn_at: datetime | None
    withdrawn_reason: str
    fields: list[FieldOut]
    created_at: datetime

    @classmethod
    def of(cls, template: Template) -> TemplateOut:
        runtime = RUNTIMES.get(template.runtime)
        fields = (
            RuntimeOut.of(runtime, defaults_from_fields(template.fields)).fields if runtime else []
        )
        return cls(
            id=template.public_id, provider_id=template.provider.public_id,
            provider_name=template.provider.name, runtime=template.runtime, name=template.name,
            description=template.description,
            category=template.category.code if template.category else None,
            status=template.status.value, version=template.version,
            withdrawn_at=template.withdrawn_at, withdrawn_reason=template.withdrawn_reason,
            fields=fields, created_at=template.created_at,
        )


class TemplateEditIn(BaseModel):
    """The whole template as it should read (the runtime stays); a published template's
    change becomes its next version."""

    name: Name
    description: Text = ""
    category: Annotated[str, StringConstraints(max_length=32)] | None = None
    defaults: Config = Field(default_factory=dict)
    note: Text = Field("", description="What changed, shown to merchants using the template")


class WithdrawIn(BaseModel):
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class TemplateVersionOut(BaseModel):
    number: int
    name: str
    description: str
    note: str
    created_at: datetime
    defaults: dict[str, Any]

    @classmethod
    def of(cls, version: TemplateVersion) -> TemplateVersionOut:
        return cls(number=version.number, name=version.name, description=version.description,
                   note=version.note, created_at=version.created_at,
                   defaults=defaults_from_fields(version.fields))


class UpgradeIn(BaseModel):
    label: Label
    changelog: Text = ""
