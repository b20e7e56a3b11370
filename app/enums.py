"""Controlled vocabularies, stored as strings with a named CHECK constraint.

Spellings follow ClinicalTrials.gov API v2 where it has one.
"""

from enum import StrEnum


class StudyType(StrEnum):
    RCT = "RCT"
    NON_RANDOMIZED = "NON_RANDOMIZED"
    SINGLE_GROUP = "SINGLE_GROUP"
    LONG_TERM_FOLLOW_UP = "LONG_TERM_FOLLOW_UP"
    POOLED_ANALYSIS = "POOLED_ANALYSIS"
    OBSERVATIONAL = "OBSERVATIONAL"


class Phase(StrEnum):
    EARLY_PHASE1 = "EARLY_PHASE1"
    PHASE1 = "PHASE1"
    PHASE1_PHASE2 = "PHASE1_PHASE2"
    PHASE2 = "PHASE2"
    PHASE2_PHASE3 = "PHASE2_PHASE3"
    PHASE3 = "PHASE3"
    PHASE4 = "PHASE4"
    NA = "NA"


class OverallStatus(StrEnum):
    NOT_YET_RECRUITING = "NOT_YET_RECRUITING"
    RECRUITING = "RECRUITING"
    ENROLLING_BY_INVITATION = "ENROLLING_BY_INVITATION"
    ACTIVE_NOT_RECRUITING = "ACTIVE_NOT_RECRUITING"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"
    COMPLETED = "COMPLETED"
    WITHDRAWN = "WITHDRAWN"
    UNKNOWN = "UNKNOWN"
    AVAILABLE = "AVAILABLE"
    NO_LONGER_AVAILABLE = "NO_LONGER_AVAILABLE"
    TEMPORARILY_NOT_AVAILABLE = "TEMPORARILY_NOT_AVAILABLE"
    APPROVED_FOR_MARKETING = "APPROVED_FOR_MARKETING"
    WITHHELD = "WITHHELD"


class Allocation(StrEnum):
    RANDOMIZED = "RANDOMIZED"
    NON_RANDOMIZED = "NON_RANDOMIZED"
    NA = "NA"


class InterventionModel(StrEnum):
    SINGLE_GROUP = "SINGLE_GROUP"
    PARALLEL = "PARALLEL"
    CROSSOVER = "CROSSOVER"
    FACTORIAL = "FACTORIAL"
    SEQUENTIAL = "SEQUENTIAL"


class Masking(StrEnum):
    NONE = "NONE"
    SINGLE = "SINGLE"
    DOUBLE = "DOUBLE"
    TRIPLE = "TRIPLE"
    QUADRUPLE = "QUADRUPLE"


class PrimaryPurpose(StrEnum):
    TREATMENT = "TREATMENT"
    PREVENTION = "PREVENTION"
    DIAGNOSTIC = "DIAGNOSTIC"
    ECT = "ECT"
    SUPPORTIVE_CARE = "SUPPORTIVE_CARE"
    SCREENING = "SCREENING"
    HEALTH_SERVICES_RESEARCH = "HEALTH_SERVICES_RESEARCH"
    BASIC_SCIENCE = "BASIC_SCIENCE"
    DEVICE_FEASIBILITY = "DEVICE_FEASIBILITY"
    OTHER = "OTHER"


class EnrollmentType(StrEnum):
    ACTUAL = "ACTUAL"
    ESTIMATED = "ESTIMATED"


class RelationType(StrEnum):
    FOLLOW_UP_OF = "FOLLOW_UP_OF"
    POOLED_FROM = "POOLED_FROM"
    EXTENSION_OF = "EXTENSION_OF"
    SITE_OF = "SITE_OF"


class ArmType(StrEnum):
    EXPERIMENTAL = "EXPERIMENTAL"
    PLACEBO_COMPARATOR = "PLACEBO_COMPARATOR"
    ACTIVE_COMPARATOR = "ACTIVE_COMPARATOR"
    SHAM_COMPARATOR = "SHAM_COMPARATOR"
    NO_INTERVENTION = "NO_INTERVENTION"
    OTHER = "OTHER"


class InterventionType(StrEnum):
    DRUG = "DRUG"
    BEHAVIORAL = "BEHAVIORAL"
    BIOLOGICAL = "BIOLOGICAL"
    COMBINATION_PRODUCT = "COMBINATION_PRODUCT"
    DEVICE = "DEVICE"
    DIAGNOSTIC_TEST = "DIAGNOSTIC_TEST"
    DIETARY_SUPPLEMENT = "DIETARY_SUPPLEMENT"
    GENETIC = "GENETIC"
    PROCEDURE = "PROCEDURE"
    RADIATION = "RADIATION"
    OTHER = "OTHER"


class Anchor(StrEnum):
    BASELINE = "BASELINE"
    RANDOMIZATION = "RANDOMIZATION"
    LAST_TREATMENT_SESSION = "LAST_TREATMENT_SESSION"
    END_OF_TREATMENT = "END_OF_TREATMENT"
    STUDY_EXIT = "STUDY_EXIT"


class TimepointRole(StrEnum):
    """What a timepoint is in the study's schedule; follow-up length reads FOLLOW_UP only."""

    BASELINE = "BASELINE"
    PRIMARY_ENDPOINT = "PRIMARY_ENDPOINT"
    END_OF_TREATMENT = "END_OF_TREATMENT"
    FOLLOW_UP = "FOLLOW_UP"


class ClockSource(StrEnum):
    """Where a timepoint's place on a clock comes from."""

    SOURCE = "SOURCE"  # the source states it on this clock
    ANCHOR = "ANCHOR"  # the source's months from an anchor on this clock
    SCHEDULE = "SCHEDULE"  # derived with the study's sourced treatment end


class OutcomeRole(StrEnum):
    PRIMARY = "PRIMARY"
    SECONDARY = "SECONDARY"
    SAFETY = "SAFETY"
    OTHER = "OTHER"


class EffectType(StrEnum):
    COHENS_D = "COHENS_D"
    HEDGES_G = "HEDGES_G"
    SMD = "SMD"
    MEAN_DIFFERENCE = "MEAN_DIFFERENCE"
    RISK_RATIO = "RISK_RATIO"
    ODDS_RATIO = "ODDS_RATIO"
    RISK_DIFFERENCE = "RISK_DIFFERENCE"


STANDARDIZED_EFFECTS = (EffectType.COHENS_D, EffectType.HEDGES_G, EffectType.SMD)
RATIO_EFFECTS = (EffectType.RISK_RATIO, EffectType.ODDS_RATIO)
COUNT_EFFECTS = (EffectType.RISK_RATIO, EffectType.ODDS_RATIO, EffectType.RISK_DIFFERENCE)


class Comparison(StrEnum):
    """A between-arm contrast (two distinct arms) or a within-arm change (pre vs post)."""

    BETWEEN_ARMS = "BETWEEN_ARMS"
    WITHIN_ARM = "WITHIN_ARM"


class Orientation(StrEnum):
    """How a source printed a contrast: ours is experimental minus (or over) comparator."""

    EXPERIMENTAL_VS_COMPARATOR = "EXPERIMENTAL_VS_COMPARATOR"
    COMPARATOR_VS_EXPERIMENTAL = "COMPARATOR_VS_EXPERIMENTAL"


class Favours(StrEnum):
    EXPERIMENTAL = "EXPERIMENTAL"
    COMPARATOR = "COMPARATOR"
    NEITHER = "NEITHER"


class Direction(StrEnum):
    """Which sign of a contrast favours the experimental arm."""

    HIGHER_FAVOURS_EXPERIMENTAL = "HIGHER_FAVOURS_EXPERIMENTAL"
    LOWER_FAVOURS_EXPERIMENTAL = "LOWER_FAVOURS_EXPERIMENTAL"


class PValueRelation(StrEnum):
    EQ = "="
    LT = "<"
    GT = ">"


class AnalysisPopulation(StrEnum):
    ITT = "ITT"
    MITT = "MITT"
    PER_PROTOCOL = "PER_PROTOCOL"
    COMPLETERS = "COMPLETERS"


class Origin(StrEnum):
    REPORTED = "REPORTED"
    COMPUTED = "COMPUTED"


class RetractionStatus(StrEnum):
    NONE = "NONE"
    RETRACTED = "RETRACTED"
    EXPRESSION_OF_CONCERN = "EXPRESSION_OF_CONCERN"
    CORRECTED = "CORRECTED"


class PublicationRole(StrEnum):
    PRIMARY_RESULTS = "PRIMARY_RESULTS"
    SECONDARY = "SECONDARY"
    FOLLOW_UP = "FOLLOW_UP"
    POOLED_ANALYSIS = "POOLED_ANALYSIS"
    PROTOCOL = "PROTOCOL"


class RegulatoryEventType(StrEnum):
    BREAKTHROUGH_APPLICATION = "BREAKTHROUGH_APPLICATION"
    BREAKTHROUGH_DESIGNATION = "BREAKTHROUGH_DESIGNATION"
    SPECIAL_PROTOCOL_ASSESSMENT = "SPECIAL_PROTOCOL_ASSESSMENT"
    SUBMISSION = "SUBMISSION"
    SUBMISSION_ACCEPTANCE = "SUBMISSION_ACCEPTANCE"
    PRIORITY_REVIEW = "PRIORITY_REVIEW"
    ADVISORY_COMMITTEE = "ADVISORY_COMMITTEE"
    COMPLETE_RESPONSE_LETTER = "COMPLETE_RESPONSE_LETTER"
    APPROVAL = "APPROVAL"
    RESCHEDULING_APPLICATION = "RESCHEDULING_APPLICATION"
    RESCHEDULING_DECISION = "RESCHEDULING_DECISION"
    RESCHEDULING = "RESCHEDULING"
    TRIAL_MILESTONE = "TRIAL_MILESTONE"
    SPONSOR_CHANGE = "SPONSOR_CHANGE"
    OTHER = "OTHER"


class Role(StrEnum):
    READER = "READER"
    CURATOR = "CURATOR"
    ADMIN = "ADMIN"


class RiskOfBiasTool(StrEnum):
    """The appraisal tool: Cochrane's RoB 2 for randomized trials, ROBINS-I for
    non-randomized studies of interventions."""

    ROB2 = "ROB2"
    ROBINS_I = "ROBINS_I"


class Rob2Judgement(StrEnum):
    LOW = "LOW"
    SOME_CONCERNS = "SOME_CONCERNS"
    HIGH = "HIGH"


class RobinsJudgement(StrEnum):
    LOW = "LOW"
    MODERATE = "MODERATE"
    SERIOUS = "SERIOUS"
    CRITICAL = "CRITICAL"
    NO_INFORMATION = "NO_INFORMATION"


class RiskOfBiasJudgement(StrEnum):
    """Every judgement either tool gives (the stored overall judgement)."""

    LOW = "LOW"
    SOME_CONCERNS = "SOME_CONCERNS"
    HIGH = "HIGH"
    MODERATE = "MODERATE"
    SERIOUS = "SERIOUS"
    CRITICAL = "CRITICAL"
    NO_INFORMATION = "NO_INFORMATION"


class RiskOfBiasLevel(StrEnum):
    """A level on the RoB 2 scale, LOW < SOME_CONCERNS < HIGH: the most a selection keeps
    (`max_risk_of_bias`)."""

    LOW = "LOW"
    SOME_CONCERNS = "SOME_CONCERNS"
    HIGH = "HIGH"


RISK_OF_BIAS_LEVELS = (RiskOfBiasLevel.LOW, RiskOfBiasLevel.SOME_CONCERNS,
                       RiskOfBiasLevel.HIGH)
# Each overall judgement on the RoB 2 scale, ROBINS-I mapped onto it; NO_INFORMATION is not
# on the scale (it is never "at most" a level).
RISK_OF_BIAS_SCALE: dict[str, RiskOfBiasLevel] = {
    "LOW": RiskOfBiasLevel.LOW, "SOME_CONCERNS": RiskOfBiasLevel.SOME_CONCERNS,
    "HIGH": RiskOfBiasLevel.HIGH, "MODERATE": RiskOfBiasLevel.SOME_CONCERNS,
    "SERIOUS": RiskOfBiasLevel.HIGH, "CRITICAL": RiskOfBiasLevel.HIGH,
}


def judgements_at_most(level: RiskOfBiasLevel) -> list[str]:
    """The overall judgements (of either tool) at most `level` on the RoB 2 scale."""
    rank = RISK_OF_BIAS_LEVELS.index(level)
    return [j for j, on_scale in RISK_OF_BIAS_SCALE.items()
            if RISK_OF_BIAS_LEVELS.index(on_scale) <= rank]


class StudyDesign(StrEnum):
    """The design of the body of evidence an evidence profile grades: GRADE starts randomized
    trials at HIGH certainty and observational studies at LOW."""

    RANDOMIZED = "RANDOMIZED"
    OBSERVATIONAL = "OBSERVATIONAL"


class Certainty(StrEnum):
    """GRADE certainty of evidence, most certain first."""

    HIGH = "HIGH"
    MODERATE = "MODERATE"
    LOW = "LOW"
    VERY_LOW = "VERY_LOW"


class GradeRating(StrEnum):
    """How much a GRADE domain lowers the certainty: not at all, one level, two levels."""

    NONE = "NONE"
    SERIOUS = "SERIOUS"
    VERY_SERIOUS = "VERY_SERIOUS"


class FlagType(StrEnum):
    """A discrepancy between a study's registry record and what its publications report."""

    PRIMARY_OUTCOME_NOT_REPORTED = "PRIMARY_OUTCOME_NOT_REPORTED"
    NEW_PRIMARY_OUTCOME = "NEW_PRIMARY_OUTCOME"
    TIMEPOINT_CHANGED = "TIMEPOINT_CHANGED"
    ENROLLMENT_DIFFERS = "ENROLLMENT_DIFFERS"
