//! Licences: the types the super_admin defines, each tenant's licence,
//! and a tenant's view of its own.

use super::{
    error::Result,
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    auth::Role,
    licensing::{self, Extension, LicenceTypeInput, FEATURES},
};
use async_graphql::{
    Context, InputObject, InputValueError, InputValueResult, Object, Scalar, ScalarType, SimpleObject, Value,
    ID,
};
use chrono::{DateTime, Utc};
use entities::license_types;

/// A licence type's code. Built-in: TRIAL, STARTER, ESSENTIALS, PRO,
/// BUSINESS, ENTERPRISE; the super_admin may define more. Accepted as an
/// enum-like literal (`TRIAL`) or a string (`"trial"`); answered as the
/// stored lowercase string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseTypeCode(pub String);

#[Scalar]
impl ScalarType for LicenseTypeCode {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::Enum(name) => Ok(Self(name.as_str().to_ascii_lowercase())),
            Value::String(s) => Ok(Self(s.trim().to_ascii_lowercase())),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::Enum(_) | Value::String(_))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::Tier")]
pub enum Tier {
    Trial,
    Starter,
    Essentials,
    Pro,
    Business,
    Enterprise,
}

#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::LicenceStatus")]
pub enum LicenseStatus {
    Active,
    /// Past its expiry: the tenant is read-only.
    Expired,
    /// Suspended by the platform: the tenant is read-only.
    Suspended,
}

/// What a licence type grants.
#[derive(SimpleObject)]
pub struct LicenseType {
    id: ID,
    code: LicenseTypeCode,
    name: String,
    /// The features it unlocks.
    tier: Tier,
    /// Machines a tenant may enrol; null = unlimited.
    max_machines: Option<i32>,
    retention_days: i32,
    ai_quota_monthly: i32,
    /// How long a new licence of this type runs; null = until changed.
    default_duration_days: Option<i32>,
    /// One of the six built-in types: editable, never deleted.
    builtin: bool,
}

impl From<license_types::Model> for LicenseType {
    fn from(t: license_types::Model) -> Self {
        Self {
            id: id(t.id),
            code: LicenseTypeCode(t.code),
            name: t.name,
            tier: t.tier.into(),
            max_machines: t.max_machines,
            retention_days: t.retention_days,
            ai_quota_monthly: t.ai_quota_monthly,
            default_duration_days: t.default_duration_days,
            builtin: t.builtin,
        }
    }
}

#[derive(InputObject)]
pub struct LicenseTypeInput {
    name: String,
    tier: Tier,
    /// null = unlimited.
    max_machines: Option<i32>,
    retention_days: i32,
    ai_quota_monthly: i32,
    default_duration_days: Option<i32>,
}

impl From<LicenseTypeInput> for LicenceTypeInput {
    fn from(i: LicenseTypeInput) -> Self {
        Self {
            name: i.name,
            tier: i.tier.into(),
            max_machines: i.max_machines,
            retention_days: i.retention_days,
            ai_quota_monthly: i.ai_quota_monthly,
            default_duration_days: i.default_duration_days,
        }
    }
}

/// A tenant's licence as the rules read it.
#[derive(SimpleObject)]
pub struct License {
    client_id: ID,
    client_name: String,
    license_id: ID,
    license_type: LicenseTypeCode,
    license_type_name: String,
    tier: Tier,
    /// ACTIVE, or why the tenant is read-only.
    status: LicenseStatus,
    expires_at: Option<DateTime<Utc>>,
    /// Whole days until expiry, negative once past; null without expiry.
    days_left: Option<i64>,
    /// null = unlimited.
    max_machines: Option<i32>,
    /// Whether the super_admin set this tenant's limit by hand.
    machine_limit_overridden: bool,
    retention_days: i32,
    ai_quota_monthly: i32,
}

impl License {
    fn new(client: &entities::clients::Model, l: licensing::Licence, now: DateTime<Utc>) -> Self {
        Self {
            client_id: id(client.id),
            client_name: client.name.clone(),
            license_id: id(client.license_id),
            days_left: l.days_left(now),
            license_type: LicenseTypeCode(l.type_code),
            license_type_name: l.type_name,
            tier: l.tier.into(),
            status: l.status.into(),
            expires_at: l.expires_at,
            max_machines: l.max_machines,
            machine_limit_overridden: l.machine_limit_overridden,
            retention_days: l.retention_days,
            ai_quota_monthly: l.ai_quota_monthly,
        }
    }
}

/// A gated feature and whether the caller's plan has it.
#[derive(SimpleObject)]
pub struct PlanFeature {
    name: String,
    required_tier: Tier,
    included: bool,
}

/// The caller's own licence, with what it uses.
#[derive(SimpleObject)]
pub struct MyLicense {
    license: License,
    machine_count: i64,
    ai_requests_this_month: i32,
    features: Vec<PlanFeature>,
}

#[derive(Default)]
pub struct LicensingQuery;

#[Object]
impl LicensingQuery {
    /// Every licence type (super_admin).
    async fn license_types(&self, ctx: &Context<'_>) -> Result<Vec<LicenseType>> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let list = ctx.services().licensing.types().list().await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// Each tenant's licence: type, status, expiry and days left
    /// (super_admin).
    async fn licenses(&self, ctx: &Context<'_>) -> Result<Vec<License>> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let licensing = &ctx.services().licensing;
        let now = licensing.now();
        Ok(licensing
            .all()
            .await?
            .into_iter()
            .map(|(c, l)| License::new(&c, l, now))
            .collect())
    }

    /// The caller's tenant's licence, what it uses, and the features of
    /// each plan. Readable whatever the licence's status.
    async fn my_license(&self, ctx: &Context<'_>) -> Result<MyLicense> {
        let principal = ctx.caller()?;
        let services = ctx.services();
        let licensing = &services.licensing;
        let client = services.tenancy.get(principal.client_id).await?;
        let licence = licensing.of(principal.client_id).await?;
        let machine_count = services.tenancy.machine_count(principal.client_id).await?;
        let ai_requests_this_month = licensing.usage().used(principal.client_id).await?;
        let features = FEATURES
            .iter()
            .map(|(f, name, tier)| PlanFeature {
                name: (*name).to_owned(),
                required_tier: (*tier).into(),
                included: f.included_in(licence.tier),
            })
            .collect();
        Ok(MyLicense {
            license: License::new(&client, licence, licensing.now()),
            machine_count,
            ai_requests_this_month,
            features,
        })
    }
}

#[derive(Default)]
pub struct LicensingMutation;

#[Object]
impl LicensingMutation {
    /// Defines a licence type (super_admin). Its code is fixed once made.
    async fn create_license_type(
        &self,
        ctx: &Context<'_>,
        code: LicenseTypeCode,
        input: LicenseTypeInput,
    ) -> Result<LicenseType> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let created = ctx
            .services()
            .licensing
            .types()
            .create(principal, &code.0, input.into(), ctx.meta())
            .await?;
        Ok(created.into())
    }

    /// Changes a type's limits, retention, quota or tier (super_admin);
    /// its tenants follow at once. A built-in type keeps its tier.
    async fn update_license_type(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: LicenseTypeInput,
    ) -> Result<LicenseType> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let id = parse_id("id", &id)?;
        let updated = ctx
            .services()
            .licensing
            .types()
            .update(principal, id, input.into(), ctx.meta())
            .await?;
        Ok(updated.into())
    }

    /// Deletes a type no tenant holds (super_admin); CONFLICT otherwise,
    /// and for the built-in types.
    async fn delete_license_type(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .licensing
            .types()
            .delete(principal, id, ctx.meta())
            .await?;
        Ok(true)
    }

    /// Extends a tenant's licence to `until`, or by `months` from its
    /// current expiry (from today once lapsed), reactivating an expired
    /// one; the tenant's admins get the license-extended e-mail
    /// (super_admin). Give exactly one of the two.
    async fn extend_license(
        &self,
        ctx: &Context<'_>,
        client_id: ID,
        until: Option<DateTime<Utc>>,
        months: Option<i32>,
    ) -> Result<super::tenancy::Client> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let client_id = parse_id("clientId", &client_id)?;
        let by = match (until, months) {
            (Some(at), None) => Extension::Until(at),
            (None, Some(n)) => Extension::Months(u32::try_from(n).unwrap_or(0)),
            _ => {
                return Err(super::ApiError::bad_input(
                    "months",
                    "give exactly one of until and months",
                ))
            }
        };
        let services = ctx.services();
        services
            .licensing
            .extend(principal, client_id, by, ctx.meta())
            .await?;
        super::tenancy::Client::load(ctx, client_id).await
    }
}
