"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 10:59:50.867108
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import placement.db

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('geocode_cache',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('query', sa.String(length=400), nullable=False),
    sa.Column('status', sa.Enum('pending', 'ok', 'manual', 'not_found', 'implausible', 'failed', name='geostatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('display_name', sa.String(length=500), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('fetched_at', placement.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_geocode_cache')),
    sa.UniqueConstraint('query', name=op.f('uq_geocode_cache_query'))
    )
    op.create_table('municipality',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=True),
    sa.Column('created_at', placement.db.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_municipality')),
    sa.UniqueConstraint('code', name=op.f('uq_municipality_code')),
    sa.UniqueConstraint('name', name=op.f('uq_municipality_name'))
    )
    op.create_table('period',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_period_dates_ordered')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_period')),
    sa.UniqueConstraint('code', name='uq_period_code')
    )
    op.create_table('preference_window',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('opens_at', placement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closes_at', placement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('max_choices', sa.Integer(), nullable=False),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_preference_window_closes_after_opening')),
    sa.CheckConstraint('max_choices BETWEEN 1 AND 20', name=op.f('ck_preference_window_max_choices_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preference_window'))
    )
    op.create_table('school',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('geo_status', sa.Enum('pending', 'ok', 'manual', 'not_found', 'implausible', 'failed', name='geostatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('need_index', sa.Double(), nullable=False),
    sa.Column('created_at', placement.db.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('lat IS NULL OR (lat BETWEEN -90 AND 90)', name=op.f('ck_school_lat_range')),
    sa.CheckConstraint('lon IS NULL OR (lon BETWEEN -180 AND 180)', name=op.f('ck_school_lon_range')),
    sa.CheckConstraint('need_index > 0', name=op.f('ck_school_need_index_positive')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_school_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school')),
    sa.UniqueConstraint('code', name='uq_school_code')
    )
    with op.batch_alter_table('school', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('school_class',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('year BETWEEN 7 AND 10', name=op.f('ck_school_class_year_range')),
    sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_school_class_period_id_period'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_school_class_school_id_school'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_class')),
    sa.UniqueConstraint('school_id', 'name', name='uq_school_class_school_id_name')
    )
    with op.batch_alter_table('school_class', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_class_period_id'), ['period_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_school_class_school_id'), ['school_id'], unique=False)

    op.create_table('pupil',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=40), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('gender', sa.Enum('female', 'male', 'other', name='gender', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('birth_year', sa.Integer(), nullable=False),
    sa.Column('birth_month', sa.Integer(), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('self_arranged_offer_id', sa.Integer(), nullable=True),
    sa.Column('created_at', placement.db.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('birth_month BETWEEN 1 AND 12', name=op.f('ck_pupil_birth_month_range')),
    sa.CheckConstraint('birth_year BETWEEN 1990 AND 2100', name=op.f('ck_pupil_birth_year_range')),
    sa.ForeignKeyConstraint(['class_id'], ['school_class.id'], name=op.f('fk_pupil_class_id_school_class'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_pupil_school_id_school'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pupil')),
    sa.UniqueConstraint('school_id', 'external_id', name='uq_pupil_school_id_external_id')
    )
    with op.batch_alter_table('pupil', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pupil_class_id'), ['class_id'], unique=False)
        batch_op.create_index('ix_pupil_school_id_class_id', ['school_id', 'class_id'], unique=False)

    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('coordinator', 'school_staff', 'employer_contact', 'pupil', name='role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=True),
    sa.Column('login_code_hash', sa.String(length=256), nullable=True),
    sa.Column('pupil_id', sa.Integer(), nullable=True),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('email_verified_at', placement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('created_at', placement.db.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('last_login_at', placement.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(role = 'pupil') = (pupil_id IS NOT NULL)", name=op.f('ck_user_account_pupil_role_has_pupil')),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupil.id'], name=op.f('fk_user_account_pupil_id_pupil'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('email', name='uq_user_account_email'),
    sa.UniqueConstraint('pupil_id', name='uq_user_account_pupil_id')
    )
    op.create_table('allocation_round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('draft', 'solving', 'proposed', 'published', 'closed', 'failed', name='roundstatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('policy', sa.JSON(), nullable=False),
    sa.Column('preference_window_id', sa.Integer(), nullable=True),
    sa.Column('input_hash', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', placement.db.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('solved_at', placement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_at', placement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirm_deadline', placement.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_allocation_round_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['preference_window_id'], ['preference_window.id'], name=op.f('fk_allocation_round_preference_window_id_preference_window'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allocation_round'))
    )
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', placement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('entity_type', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_audit_event_actor_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_event_entity', ['entity_type', 'entity_id'], unique=False)

    op.create_table('employer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('org_number', sa.String(length=11), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', name='employerstatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('reviewed_at', placement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('created_at', placement.db.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_employer_municipality_id_municipality'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user_account.id'], name=op.f('fk_employer_reviewed_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employer')),
    sa.UniqueConstraint('code', name=op.f('uq_employer_code')),
    sa.UniqueConstraint('org_number', name='uq_employer_org_number')
    )
    op.create_table('school_membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_school_membership_school_id_school'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_school_membership_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_membership')),
    sa.UniqueConstraint('user_id', 'school_id', name='uq_school_membership_user_id_school_id')
    )
    with op.batch_alter_table('school_membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_membership_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_school_membership_user_id'), ['user_id'], unique=False)

    op.create_table('employer_membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('employer_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['employer_id'], ['employer.id'], name=op.f('fk_employer_membership_employer_id_employer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_employer_membership_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employer_membership')),
    sa.UniqueConstraint('user_id', 'employer_id', name='uq_employer_membership_user_id_employer_id')
    )
    with op.batch_alter_table('employer_membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employer_membership_employer_id'), ['employer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_employer_membership_user_id'), ['user_id'], unique=False)

    op.create_table('round_period',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_round_period_period_id_period'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['round_id'], ['allocation_round.id'], name=op.f('fk_round_period_round_id_allocation_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'period_id', name=op.f('pk_round_period'))
    )
    op.create_table('workplace',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('employer_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('geo_status', sa.Enum('pending', 'ok', 'manual', 'not_found', 'implausible', 'failed', name='geostatus', native_enum=False, create_constraint=True), nullable=False),
    sa.CheckConstraint('lat IS NULL OR (lat BETWEEN -90 AND 90)', name=op.f('ck_workplace_lat_range')),
    sa.CheckConstraint('lon IS NULL OR (lon BETWEEN -180 AND 180)', name=op.f('ck_workplace_lon_range')),
    sa.ForeignKeyConstraint(['employer_id'], ['employer.id'], name=op.f('fk_workplace_employer_id_employer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workplace'))
    )
    with op.batch_alter_table('workplace', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workplace_employer_id'), ['employer_id'], unique=False)

    op.create_table('offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('employer_id', sa.Integer(), nullable=False),
    sa.Column('workplace_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('catalogue', 'self_arranged', name='offerkind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('status', sa.Enum('draft', 'active', 'withdrawn', name='offerstatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('sector', sa.Enum('health', 'education', 'retail', 'hospitality', 'construction', 'manufacturing', 'it', 'transport', 'office', 'culture', 'public', 'agriculture', 'vehicles', 'beauty', 'sports', 'science', name='sector', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=True),
    sa.Column('requirements', sa.JSON(), nullable=False),
    sa.Column('supervisor_name', sa.String(length=200), nullable=True),
    sa.Column('supervisor_phone', sa.String(length=40), nullable=True),
    sa.Column('supervisor_email', sa.String(length=254), nullable=True),
    sa.Column('risk_assessment_confirmed_at', placement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('risk_assessment_confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', placement.db.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('min_age IS NULL OR (min_age BETWEEN 12 AND 20)', name=op.f('ck_offer_min_age_range')),
    sa.ForeignKeyConstraint(['employer_id'], ['employer.id'], name=op.f('fk_offer_employer_id_employer'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['risk_assessment_confirmed_by_id'], ['user_account.id'], name=op.f('fk_offer_risk_assessment_confirmed_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workplace_id'], ['workplace.id'], name=op.f('fk_offer_workplace_id_workplace'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offer')),
    sa.UniqueConstraint('code', name=op.f('uq_offer_code'))
    )
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_employer_id'), ['employer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_workplace_id'), ['workplace_id'], unique=False)

    op.create_table('assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('proposed', 'published', 'confirmed', 'declined', 'withdrawn', 'locked', name='assignmentstatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('decline_reason', sa.Text(), nullable=True),
    sa.Column('created_at', placement.db.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', placement.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('rank IS NULL OR rank >= 1', name=op.f('ck_assignment_rank_positive')),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.id'], name=op.f('fk_assignment_offer_id_offer'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_assignment_period_id_period'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupil.id'], name=op.f('fk_assignment_pupil_id_pupil'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['allocation_round.id'], name=op.f('fk_assignment_round_id_allocation_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment')),
    sa.UniqueConstraint('round_id', 'pupil_id', name='uq_assignment_round_id_pupil_id')
    )
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index('ix_assignment_offer_id_period_id', ['offer_id', 'period_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_pupil_id'), ['pupil_id'], unique=False)
        batch_op.create_index('uq_assignment_active_pupil_period', ['pupil_id', 'period_id'], unique=True, sqlite_where=sa.text("status IN ('published', 'confirmed', 'locked')"), postgresql_where=sa.text("status IN ('published', 'confirmed', 'locked')"))

    op.create_table('offer_capacity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('places', sa.Integer(), nullable=False),
    sa.CheckConstraint('places >= 0', name=op.f('ck_offer_capacity_places_not_negative')),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.id'], name=op.f('fk_offer_capacity_offer_id_offer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_offer_capacity_period_id_period'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offer_capacity')),
    sa.UniqueConstraint('offer_id', 'period_id', name='uq_offer_capacity_offer_id_period_id')
    )
    with op.batch_alter_table('offer_capacity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_capacity_period_id'), ['period_id'], unique=False)

    op.create_table('offer_school',
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.id'], name=op.f('fk_offer_school_offer_id_offer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_offer_school_school_id_school'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('offer_id', 'school_id', name=op.f('pk_offer_school'))
    )
    op.create_table('preference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('created_at', placement.db.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('rank >= 1', name=op.f('ck_preference_rank_positive')),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.id'], name=op.f('fk_preference_offer_id_offer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupil.id'], name=op.f('fk_preference_pupil_id_pupil'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preference')),
    sa.UniqueConstraint('pupil_id', 'offer_id', name='uq_preference_pupil_id_offer_id'),
    sa.UniqueConstraint('pupil_id', 'rank', name='uq_preference_pupil_id_rank')
    )
    with op.batch_alter_table('preference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_preference_offer_id'), ['offer_id'], unique=False)

    # pupil -> offer closes a cycle (offer -> user_account -> pupil), so this
    # key is added once both tables exist.
    with op.batch_alter_table("pupil", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_pupil_self_arranged_offer_id_offer"), "offer",
            ["self_arranged_offer_id"], ["id"], ondelete="SET NULL",
        )
    _create_audit_guard()


AUDIT_GUARD_MESSAGE = "audit_event is append-only"


def _create_audit_guard() -> None:
    """The audit log is append-only: the database itself refuses UPDATE."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{AUDIT_GUARD_MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
            f"BEGIN SELECT RAISE(ABORT, '{AUDIT_GUARD_MESSAGE}'); END"
        )


def _drop_audit_guard() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_event_no_update" + (
        " ON audit_event" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")



def downgrade() -> None:
    _drop_audit_guard()
    with op.batch_alter_table("pupil", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_pupil_self_arranged_offer_id_offer"), type_="foreignkey")
    with op.batch_alter_table('preference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_preference_offer_id'))

    op.drop_table('preference')
    op.drop_table('offer_school')
    with op.batch_alter_table('offer_capacity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offer_capacity_period_id'))

    op.drop_table('offer_capacity')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('uq_assignment_active_pupil_period', sqlite_where=sa.text("status IN ('published', 'confirmed', 'locked')"), postgresql_where=sa.text("status IN ('published', 'confirmed', 'locked')"))
        batch_op.drop_index(batch_op.f('ix_assignment_pupil_id'))
        batch_op.drop_index('ix_assignment_offer_id_period_id')

    op.drop_table('assignment')
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offer_workplace_id'))
        batch_op.drop_index(batch_op.f('ix_offer_employer_id'))

    op.drop_table('offer')
    with op.batch_alter_table('workplace', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workplace_employer_id'))

    op.drop_table('workplace')
    op.drop_table('round_period')
    with op.batch_alter_table('employer_membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employer_membership_user_id'))
        batch_op.drop_index(batch_op.f('ix_employer_membership_employer_id'))

    op.drop_table('employer_membership')
    with op.batch_alter_table('school_membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_membership_user_id'))
        batch_op.drop_index(batch_op.f('ix_school_membership_school_id'))

    op.drop_table('school_membership')
    op.drop_table('employer')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_entity')
        batch_op.drop_index(batch_op.f('ix_audit_event_at'))

    op.drop_table('audit_event')
    op.drop_table('allocation_round')
    op.drop_table('user_account')
    with op.batch_alter_table('pupil', schema=None) as batch_op:
        batch_op.drop_index('ix_pupil_school_id_class_id')
        batch_op.drop_index(batch_op.f('ix_pupil_class_id'))

    op.drop_table('pupil')
    with op.batch_alter_table('school_class', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_class_school_id'))
        batch_op.drop_index(batch_op.f('ix_school_class_period_id'))

    op.drop_table('school_class')
    with op.batch_alter_table('school', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_municipality_id'))

    op.drop_table('school')
    op.drop_table('preference_window')
    op.drop_table('period')
    op.drop_table('municipality')
    op.drop_table('geocode_cache')
