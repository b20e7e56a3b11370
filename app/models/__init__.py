"""Every model, imported so that Base.metadata is complete."""

from app.models import (  # noqa: F401
    access,
    appraisal,
    feed,
    outcome,
    profiles,
    publication,
    regulatory,
    rendered,
    study,
)
from app.models.access import ApiKey, AuditEntry, IdempotencyRecord
from app.models.appraisal import RiskOfBias
from app.models.feed import Change, DeliveryAttempt, Subscription, WebhookDelivery
from app.models.flags import FlagExplanation, StudyFlag
from app.models.outcome import EffectEstimate, OutcomeMeasure, OutcomeResult, Provenance, Timepoint
from app.models.profiles import EvidenceProfile
from app.models.publication import Publication, StudyPublication
from app.models.regulatory import RegulatoryEvent
from app.models.rendered import StudyRender
from app.models.study import (
    Arm,
    ArmIntervention,
    Condition,
    ConditionAlias,
    Intervention,
    InterventionAlias,
    RegistryId,
    Study,
    StudyCondition,
    StudyCountry,
    StudyKeyword,
    StudyRelation,
)

__all__ = [
    "ApiKey", "Arm", "ArmIntervention", "AuditEntry", "Change", "Condition",
    "ConditionAlias", "DeliveryAttempt", "EffectEstimate", "EvidenceProfile", "FlagExplanation",
    "IdempotencyRecord", "Intervention",
    "InterventionAlias", "OutcomeMeasure", "OutcomeResult", "Provenance", "Publication",
    "RegistryId", "RegulatoryEvent", "RiskOfBias", "Study", "StudyCondition", "StudyCountry",
    "StudyFlag", "StudyKeyword", "StudyPublication", "StudyRelation", "StudyRender",
    "Subscription",
    "Timepoint", "WebhookDelivery",
]
