"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from app import search

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.Enum('READER', 'CURATOR', 'ADMIN', name='role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_key_key_hash'))
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_key_prefix'), ['prefix'], unique=False)

    op.create_table('condition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('mesh_term', sa.String(length=500), nullable=True),
    sa.Column('synonyms', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_condition'))
    )
    op.create_table('intervention',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('type', sa.Enum('DRUG', 'BEHAVIORAL', 'BIOLOGICAL', 'COMBINATION_PRODUCT', 'DEVICE', 'DIAGNOSTIC_TEST', 'DIETARY_SUPPLEMENT', 'GENETIC', 'PROCEDURE', 'RADIATION', 'OTHER', name='intervention_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('synonyms', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intervention'))
    )
    op.create_table('publication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('doi', sa.String(length=200), nullable=True),
    sa.Column('pmid', sa.String(length=20), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('journal', sa.String(length=500), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('volume', sa.String(length=100), nullable=True),
    sa.Column('pages', sa.String(length=100), nullable=True),
    sa.Column('first_author', sa.String(length=500), nullable=True),
    sa.Column('citation', sa.Text(), nullable=True),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('retraction_status', sa.Enum('NONE', 'RETRACTED', 'EXPRESSION_OF_CONCERN', 'CORRECTED', name='retraction_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('retraction_date', sa.Date(), nullable=True),
    sa.Column('retraction_notice', sa.Text(), nullable=True),
    sa.Column('retraction_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publication')),
    sa.UniqueConstraint('doi', name=op.f('uq_publication_doi')),
    sa.UniqueConstraint('pmid', name=op.f('uq_publication_pmid'))
    )
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publication_retraction_status'), ['retraction_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_publication_year'), ['year'], unique=False)

    op.create_table('study',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=2000), nullable=False),
    sa.Column('acronym', sa.String(length=100), nullable=True),
    sa.Column('study_type', sa.Enum('RCT', 'NON_RANDOMIZED', 'SINGLE_GROUP', 'LONG_TERM_FOLLOW_UP', 'POOLED_ANALYSIS', 'OBSERVATIONAL', name='study_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('phase', sa.Enum('EARLY_PHASE1', 'PHASE1', 'PHASE1_PHASE2', 'PHASE2', 'PHASE2_PHASE3', 'PHASE3', 'PHASE4', 'NA', name='phase', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('overall_status', sa.Enum('NOT_YET_RECRUITING', 'RECRUITING', 'ENROLLING_BY_INVITATION', 'ACTIVE_NOT_RECRUITING', 'SUSPENDED', 'TERMINATED', 'COMPLETED', 'WITHDRAWN', 'UNKNOWN', 'AVAILABLE', 'NO_LONGER_AVAILABLE', 'TEMPORARILY_NOT_AVAILABLE', 'APPROVED_FOR_MARKETING', 'WITHHELD', name='overall_status', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('allocation', sa.Enum('RANDOMIZED', 'NON_RANDOMIZED', 'NA', name='allocation', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('intervention_model', sa.Enum('SINGLE_GROUP', 'PARALLEL', 'CROSSOVER', 'FACTORIAL', 'SEQUENTIAL', name='intervention_model', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('masking', sa.Enum('NONE', 'SINGLE', 'DOUBLE', 'TRIPLE', 'QUADRUPLE', name='masking', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('primary_purpose', sa.Enum('TREATMENT', 'PREVENTION', 'DIAGNOSTIC', 'ECT', 'SUPPORTIVE_CARE', 'SCREENING', 'HEALTH_SERVICES_RESEARCH', 'BASIC_SCIENCE', 'DEVICE_FEASIBILITY', 'OTHER', name='primary_purpose', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('start_date', sa.String(length=10), nullable=True),
    sa.Column('start_date_sort', sa.Integer(), nullable=False),
    sa.Column('completion_date', sa.String(length=10), nullable=True),
    sa.Column('enrollment', sa.Integer(), nullable=True),
    sa.Column('enrollment_type', sa.Enum('ACTUAL', 'ESTIMATED', name='enrollment_type', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('population', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('sponsor', sa.String(length=500), nullable=True),
    sa.Column('countries', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('follow_up_months_max', sa.Float(), nullable=True),
    sa.Column('has_results', sa.Boolean(), nullable=False),
    sa.Column('retracted', sa.Boolean(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source_record', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study')),
    sa.UniqueConstraint('key', name=op.f('uq_study_key'))
    )
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.create_index('ix_study_enrollment', ['enrollment', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_study_follow_up_months_max'), ['follow_up_months_max'], unique=False)
        batch_op.create_index('ix_study_live_start', ['deleted_at', 'start_date_sort', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_study_overall_status'), ['overall_status'], unique=False)
        batch_op.create_index('ix_study_phase_start', ['phase', 'start_date_sort', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_study_study_type'), ['study_type'], unique=False)
        batch_op.create_index('ix_study_title', ['title', 'id'], unique=False)
        batch_op.create_index('ix_study_updated', ['updated_at', 'id'], unique=False)

    op.create_table('arm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=500), nullable=False),
    sa.Column('arm_type', sa.Enum('EXPERIMENTAL', 'PLACEBO_COMPARATOR', 'ACTIVE_COMPARATOR', 'SHAM_COMPARATOR', 'NO_INTERVENTION', 'OTHER', name='arm_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('n_randomized', sa.Integer(), nullable=True),
    sa.Column('n_completed', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_arm_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_arm')),
    sa.UniqueConstraint('study_id', 'label', name=op.f('uq_arm_study_id_label'))
    )
    with op.batch_alter_table('arm', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_arm_study_id'), ['study_id'], unique=False)

    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('entity', sa.String(length=50), nullable=False),
    sa.Column('entity_key', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('snapshot', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['api_key.id'], name=op.f('fk_audit_entry_actor_id_api_key'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index('ix_audit_entry_entity', ['entity', 'entity_key', 'at'], unique=False)

    op.create_table('condition_alias',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('condition_id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['condition_id'], ['condition.id'], name=op.f('fk_condition_alias_condition_id_condition'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_condition_alias')),
    sa.UniqueConstraint('alias', name=op.f('uq_condition_alias_alias'))
    )
    with op.batch_alter_table('condition_alias', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_condition_alias_condition_id'), ['condition_id'], unique=False)

    op.create_table('idempotency_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['api_key.id'], name=op.f('fk_idempotency_record_actor_id_api_key'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_record')),
    sa.UniqueConstraint('actor_id', 'idempotency_key', name=op.f('uq_idempotency_record_actor_id_idempotency_key'))
    )
    op.create_table('intervention_alias',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('intervention_id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['intervention_id'], ['intervention.id'], name=op.f('fk_intervention_alias_intervention_id_intervention'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intervention_alias')),
    sa.UniqueConstraint('alias', name=op.f('uq_intervention_alias_alias'))
    )
    with op.batch_alter_table('intervention_alias', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intervention_alias_intervention_id'), ['intervention_id'], unique=False)

    op.create_table('outcome_measure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('instrument', sa.String(length=100), nullable=True),
    sa.Column('role', sa.Enum('PRIMARY', 'SECONDARY', 'SAFETY', 'OTHER', name='outcome_role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('unit', sa.String(length=100), nullable=True),
    sa.Column('lower_is_better', sa.Boolean(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_outcome_measure_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_measure'))
    )
    with op.batch_alter_table('outcome_measure', schema=None) as batch_op:
        batch_op.create_index('ix_outcome_measure_instrument_study', ['instrument', 'study_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outcome_measure_study_id'), ['study_id'], unique=False)

    op.create_table('registry_id',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('registry', sa.String(length=100), nullable=False),
    sa.Column('identifier', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_registry_id_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_id')),
    sa.UniqueConstraint('registry', 'identifier', name=op.f('uq_registry_id_registry_identifier'))
    )
    with op.batch_alter_table('registry_id', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_id_identifier'), ['identifier'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_id_study_id'), ['study_id'], unique=False)

    op.create_table('regulatory_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('intervention_id', sa.Integer(), nullable=True),
    sa.Column('condition_id', sa.Integer(), nullable=True),
    sa.Column('agency', sa.String(length=100), nullable=True),
    sa.Column('jurisdiction', sa.String(length=100), nullable=True),
    sa.Column('event_type', sa.Enum('BREAKTHROUGH_APPLICATION', 'BREAKTHROUGH_DESIGNATION', 'SPECIAL_PROTOCOL_ASSESSMENT', 'SUBMISSION', 'SUBMISSION_ACCEPTANCE', 'PRIORITY_REVIEW', 'ADVISORY_COMMITTEE', 'COMPLETE_RESPONSE_LETTER', 'APPROVAL', 'RESCHEDULING_APPLICATION', 'RESCHEDULING_DECISION', 'RESCHEDULING', 'TRIAL_MILESTONE', 'SPONSOR_CHANGE', 'OTHER', name='regulatory_event_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('date', sa.String(length=10), nullable=False),
    sa.Column('date_sort', sa.Integer(), nullable=False),
    sa.Column('product', sa.Text(), nullable=True),
    sa.Column('sponsor', sa.String(length=500), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('vote_for', sa.Integer(), nullable=True),
    sa.Column('vote_against', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('source_url', sa.String(length=2000), nullable=False),
    sa.Column('sources', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['condition_id'], ['condition.id'], name=op.f('fk_regulatory_event_condition_id_condition'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['intervention_id'], ['intervention.id'], name=op.f('fk_regulatory_event_intervention_id_intervention'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regulatory_event')),
    sa.UniqueConstraint('key', name=op.f('uq_regulatory_event_key'))
    )
    with op.batch_alter_table('regulatory_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regulatory_event_agency'), ['agency'], unique=False)
        batch_op.create_index(batch_op.f('ix_regulatory_event_condition_id'), ['condition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_regulatory_event_date_sort'), ['date_sort'], unique=False)
        batch_op.create_index(batch_op.f('ix_regulatory_event_event_type'), ['event_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_regulatory_event_intervention_id'), ['intervention_id'], unique=False)

    op.create_table('study_condition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('condition_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['condition_id'], ['condition.id'], name=op.f('fk_study_condition_condition_id_condition'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_study_condition_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_condition')),
    sa.UniqueConstraint('study_id', 'condition_id', name=op.f('uq_study_condition_study_id_condition_id'))
    )
    with op.batch_alter_table('study_condition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_study_condition_condition_id'), ['condition_id'], unique=False)
        batch_op.create_index('ix_study_condition_condition_study', ['condition_id', 'study_id'], unique=False)

    op.create_table('study_country',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('country', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_study_country_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_country'))
    )
    with op.batch_alter_table('study_country', schema=None) as batch_op:
        batch_op.create_index('ix_study_country_country_study', ['country', 'study_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_study_country_study_id'), ['study_id'], unique=False)

    op.create_table('study_keyword',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('keyword', sa.String(length=500), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_study_keyword_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_keyword'))
    )
    with op.batch_alter_table('study_keyword', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_study_keyword_study_id'), ['study_id'], unique=False)

    op.create_table('study_publication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('publication_id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('PRIMARY_RESULTS', 'SECONDARY', 'FOLLOW_UP', 'POOLED_ANALYSIS', 'PROTOCOL', name='publication_role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['publication_id'], ['publication.id'], name=op.f('fk_study_publication_publication_id_publication'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_study_publication_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_publication')),
    sa.UniqueConstraint('study_id', 'publication_id', name=op.f('uq_study_publication_study_id_publication_id')),
    sa.UniqueConstraint('study_id', 'ref', name=op.f('uq_study_publication_study_id_ref'))
    )
    with op.batch_alter_table('study_publication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_study_publication_publication_id'), ['publication_id'], unique=False)

    op.create_table('study_relation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('relation_type', sa.Enum('FOLLOW_UP_OF', 'POOLED_FROM', 'EXTENSION_OF', 'SITE_OF', name='relation_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('target_study_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_study_relation_study_id_study'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_study_id'], ['study.id'], name=op.f('fk_study_relation_target_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_relation')),
    sa.UniqueConstraint('study_id', 'relation_type', 'target_study_id', name=op.f('uq_study_relation_study_id_relation_type_target_study_id'))
    )
    with op.batch_alter_table('study_relation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_study_relation_study_id'), ['study_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_study_relation_target_study_id'), ['target_study_id'], unique=False)

    op.create_table('timepoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=500), nullable=False),
    sa.Column('anchor', sa.Enum('BASELINE', 'RANDOMIZATION', 'LAST_TREATMENT_SESSION', 'END_OF_TREATMENT', 'STUDY_EXIT', name='anchor', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('months', sa.Float(), nullable=True),
    sa.Column('months_min', sa.Float(), nullable=True),
    sa.Column('months_max', sa.Float(), nullable=True),
    sa.Column('months_mean', sa.Float(), nullable=True),
    sa.Column('months_sd', sa.Float(), nullable=True),
    sa.Column('follow_up_months', sa.Float(), nullable=True),
    sa.Column('n_assessed', sa.Integer(), nullable=True),
    sa.Column('n_eligible', sa.Integer(), nullable=True),
    sa.Column('controlled', sa.Boolean(), nullable=True),
    sa.Column('is_follow_up', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_timepoint_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timepoint'))
    )
    with op.batch_alter_table('timepoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timepoint_follow_up_months'), ['follow_up_months'], unique=False)
        batch_op.create_index(batch_op.f('ix_timepoint_study_id'), ['study_id'], unique=False)

    op.create_table('arm_intervention',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('arm_id', sa.Integer(), nullable=False),
    sa.Column('intervention_id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=500), nullable=False),
    sa.Column('dose_mg', sa.Float(), nullable=True),
    sa.Column('dose_text', sa.String(length=500), nullable=True),
    sa.Column('sessions', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['arm_id'], ['arm.id'], name=op.f('fk_arm_intervention_arm_id_arm'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['intervention_id'], ['intervention.id'], name=op.f('fk_arm_intervention_intervention_id_intervention'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_arm_intervention_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_arm_intervention'))
    )
    with op.batch_alter_table('arm_intervention', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_arm_intervention_arm_id'), ['arm_id'], unique=False)
        batch_op.create_index('ix_arm_intervention_intervention_study', ['intervention_id', 'study_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_arm_intervention_study_id'), ['study_id'], unique=False)

    op.create_table('effect_estimate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('outcome_measure_id', sa.Integer(), nullable=False),
    sa.Column('timepoint_id', sa.Integer(), nullable=False),
    sa.Column('experimental_arm_id', sa.Integer(), nullable=False),
    sa.Column('comparator_arm_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('effect_type', sa.Enum('COHENS_D', 'HEDGES_G', 'SMD', 'MEAN_DIFFERENCE', 'RISK_RATIO', 'ODDS_RATIO', 'RISK_DIFFERENCE', name='effect_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('ci_low', sa.Float(), nullable=True),
    sa.Column('ci_high', sa.Float(), nullable=True),
    sa.Column('ci_level', sa.Float(), nullable=True),
    sa.Column('se', sa.Float(), nullable=True),
    sa.Column('p_value', sa.Float(), nullable=True),
    sa.Column('p_value_relation', sa.Enum('=', '<', '>', name='p_value_relation', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('analysis_population', sa.Enum('ITT', 'MITT', 'PER_PROTOCOL', 'COMPLETERS', name='analysis_population', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('origin', sa.Enum('REPORTED', 'COMPUTED', name='origin', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('retracted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['comparator_arm_id'], ['arm.id'], name=op.f('fk_effect_estimate_comparator_arm_id_arm'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['experimental_arm_id'], ['arm.id'], name=op.f('fk_effect_estimate_experimental_arm_id_arm'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outcome_measure_id'], ['outcome_measure.id'], name=op.f('fk_effect_estimate_outcome_measure_id_outcome_measure'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_effect_estimate_study_id_study'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['timepoint_id'], ['timepoint.id'], name=op.f('fk_effect_estimate_timepoint_id_timepoint'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_effect_estimate'))
    )
    with op.batch_alter_table('effect_estimate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_effect_estimate_comparator_arm_id'), ['comparator_arm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_effect_estimate_experimental_arm_id'), ['experimental_arm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_effect_estimate_outcome_measure_id'), ['outcome_measure_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_effect_estimate_study_id'), ['study_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_effect_estimate_timepoint_id'), ['timepoint_id'], unique=False)
        batch_op.create_index('ix_effect_estimate_type_value', ['effect_type', 'retracted', 'value'], unique=False)

    op.create_table('outcome_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outcome_measure_id', sa.Integer(), nullable=False),
    sa.Column('arm_id', sa.Integer(), nullable=False),
    sa.Column('timepoint_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=True),
    sa.Column('mean', sa.Float(), nullable=True),
    sa.Column('sd', sa.Float(), nullable=True),
    sa.Column('se', sa.Float(), nullable=True),
    sa.Column('change_mean', sa.Float(), nullable=True),
    sa.Column('change_sd', sa.Float(), nullable=True),
    sa.Column('change_se', sa.Float(), nullable=True),
    sa.Column('ci_low', sa.Float(), nullable=True),
    sa.Column('ci_high', sa.Float(), nullable=True),
    sa.Column('count', sa.Integer(), nullable=True),
    sa.Column('denominator', sa.Integer(), nullable=True),
    sa.Column('raw', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('retracted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['arm_id'], ['arm.id'], name=op.f('fk_outcome_result_arm_id_arm'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outcome_measure_id'], ['outcome_measure.id'], name=op.f('fk_outcome_result_outcome_measure_id_outcome_measure'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['timepoint_id'], ['timepoint.id'], name=op.f('fk_outcome_result_timepoint_id_timepoint'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_result'))
    )
    with op.batch_alter_table('outcome_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outcome_result_arm_id'), ['arm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outcome_result_outcome_measure_id'), ['outcome_measure_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outcome_result_timepoint_id'), ['timepoint_id'], unique=False)

    op.create_table('provenance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('arm_id', sa.Integer(), nullable=True),
    sa.Column('timepoint_id', sa.Integer(), nullable=True),
    sa.Column('outcome_result_id', sa.Integer(), nullable=True),
    sa.Column('effect_estimate_id', sa.Integer(), nullable=True),
    sa.Column('publication_id', sa.Integer(), nullable=True),
    sa.Column('registry_record', sa.String(length=100), nullable=True),
    sa.Column('source_url', sa.String(length=2000), nullable=True),
    sa.Column('locator', sa.String(length=500), nullable=True),
    sa.CheckConstraint('(CASE WHEN arm_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN timepoint_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN outcome_result_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN effect_estimate_id IS NULL THEN 0 ELSE 1 END) <= 1', name=op.f('ck_provenance_one_subject')),
    sa.CheckConstraint('publication_id IS NOT NULL OR registry_record IS NOT NULL OR source_url IS NOT NULL', name=op.f('ck_provenance_names_a_source')),
    sa.ForeignKeyConstraint(['arm_id'], ['arm.id'], name=op.f('fk_provenance_arm_id_arm'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['effect_estimate_id'], ['effect_estimate.id'], name=op.f('fk_provenance_effect_estimate_id_effect_estimate'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outcome_result_id'], ['outcome_result.id'], name=op.f('fk_provenance_outcome_result_id_outcome_result'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['publication_id'], ['publication.id'], name=op.f('fk_provenance_publication_id_publication'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_provenance_study_id_study'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['timepoint_id'], ['timepoint.id'], name=op.f('fk_provenance_timepoint_id_timepoint'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provenance'))
    )
    with op.batch_alter_table('provenance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provenance_arm_id'), ['arm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provenance_effect_estimate_id'), ['effect_estimate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provenance_outcome_result_id'), ['outcome_result_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provenance_publication_id'), ['publication_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provenance_study_id'), ['study_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provenance_timepoint_id'), ['timepoint_id'], unique=False)


    _create_search_objects()

def downgrade() -> None:
    _drop_search_objects()
    with op.batch_alter_table('provenance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provenance_timepoint_id'))
        batch_op.drop_index(batch_op.f('ix_provenance_study_id'))
        batch_op.drop_index(batch_op.f('ix_provenance_publication_id'))
        batch_op.drop_index(batch_op.f('ix_provenance_outcome_result_id'))
        batch_op.drop_index(batch_op.f('ix_provenance_effect_estimate_id'))
        batch_op.drop_index(batch_op.f('ix_provenance_arm_id'))

    op.drop_table('provenance')
    with op.batch_alter_table('outcome_result', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outcome_result_timepoint_id'))
        batch_op.drop_index(batch_op.f('ix_outcome_result_outcome_measure_id'))
        batch_op.drop_index(batch_op.f('ix_outcome_result_arm_id'))

    op.drop_table('outcome_result')
    with op.batch_alter_table('effect_estimate', schema=None) as batch_op:
        batch_op.drop_index('ix_effect_estimate_type_value')
        batch_op.drop_index(batch_op.f('ix_effect_estimate_timepoint_id'))
        batch_op.drop_index(batch_op.f('ix_effect_estimate_study_id'))
        batch_op.drop_index(batch_op.f('ix_effect_estimate_outcome_measure_id'))
        batch_op.drop_index(batch_op.f('ix_effect_estimate_experimental_arm_id'))
        batch_op.drop_index(batch_op.f('ix_effect_estimate_comparator_arm_id'))

    op.drop_table('effect_estimate')
    with op.batch_alter_table('arm_intervention', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_arm_intervention_study_id'))
        batch_op.drop_index('ix_arm_intervention_intervention_study')
        batch_op.drop_index(batch_op.f('ix_arm_intervention_arm_id'))

    op.drop_table('arm_intervention')
    with op.batch_alter_table('timepoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_timepoint_study_id'))
        batch_op.drop_index(batch_op.f('ix_timepoint_follow_up_months'))

    op.drop_table('timepoint')
    with op.batch_alter_table('study_relation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_study_relation_target_study_id'))
        batch_op.drop_index(batch_op.f('ix_study_relation_study_id'))

    op.drop_table('study_relation')
    with op.batch_alter_table('study_publication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_study_publication_publication_id'))

    op.drop_table('study_publication')
    with op.batch_alter_table('study_keyword', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_study_keyword_study_id'))

    op.drop_table('study_keyword')
    with op.batch_alter_table('study_country', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_study_country_study_id'))
        batch_op.drop_index('ix_study_country_country_study')

    op.drop_table('study_country')
    with op.batch_alter_table('study_condition', schema=None) as batch_op:
        batch_op.drop_index('ix_study_condition_condition_study')
        batch_op.drop_index(batch_op.f('ix_study_condition_condition_id'))

    op.drop_table('study_condition')
    with op.batch_alter_table('regulatory_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regulatory_event_intervention_id'))
        batch_op.drop_index(batch_op.f('ix_regulatory_event_event_type'))
        batch_op.drop_index(batch_op.f('ix_regulatory_event_date_sort'))
        batch_op.drop_index(batch_op.f('ix_regulatory_event_condition_id'))
        batch_op.drop_index(batch_op.f('ix_regulatory_event_agency'))

    op.drop_table('regulatory_event')
    with op.batch_alter_table('registry_id', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_id_study_id'))
        batch_op.drop_index(batch_op.f('ix_registry_id_identifier'))

    op.drop_table('registry_id')
    with op.batch_alter_table('outcome_measure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outcome_measure_study_id'))
        batch_op.drop_index('ix_outcome_measure_instrument_study')

    op.drop_table('outcome_measure')
    with op.batch_alter_table('intervention_alias', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intervention_alias_intervention_id'))

    op.drop_table('intervention_alias')
    op.drop_table('idempotency_record')
    with op.batch_alter_table('condition_alias', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_condition_alias_condition_id'))

    op.drop_table('condition_alias')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_entity')
        batch_op.drop_index(batch_op.f('ix_audit_entry_actor_id'))

    op.drop_table('audit_entry')
    with op.batch_alter_table('arm', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_arm_study_id'))

    op.drop_table('arm')
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_index('ix_study_updated')
        batch_op.drop_index('ix_study_title')
        batch_op.drop_index(batch_op.f('ix_study_study_type'))
        batch_op.drop_index('ix_study_phase_start')
        batch_op.drop_index(batch_op.f('ix_study_overall_status'))
        batch_op.drop_index('ix_study_live_start')
        batch_op.drop_index(batch_op.f('ix_study_follow_up_months_max'))
        batch_op.drop_index('ix_study_enrollment')

    op.drop_table('study')
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publication_year'))
        batch_op.drop_index(batch_op.f('ix_publication_retraction_status'))

    op.drop_table('publication')
    op.drop_table('intervention')
    op.drop_table('condition')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_key_prefix'))

    op.drop_table('api_key')


def _create_search_objects() -> None:
    statements = search.SQLITE_DDL if op.get_bind().dialect.name == "sqlite" else search.PG_DDL
    for statement in statements:
        op.execute(statement)


def _drop_search_objects() -> None:
    statements = search.SQLITE_DROP if op.get_bind().dialect.name == "sqlite" else search.PG_DROP
    for statement in statements:
        op.execute(statement)
