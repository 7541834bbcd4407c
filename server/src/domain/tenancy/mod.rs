//! Tenants (clients) and the platform's first administrator.

mod manage;

pub use manage::ClientChanges;
pub mod settings;

use super::{
    activity::{ActivityLog, Category, Entry, Level, RequestMeta},
    auth::{password, Principal, Role},
    users::{validate_email, NewUser, UserService},
    DomainError,
};
use crate::infra::db::Database;
use chrono::Utc;
use entities::{
    clients,
    enums::{Language, LicenceStatus, Stored, Tier},
    license_types, users,
};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    SqlErr,
};
use serde_json::json;
use uuid::Uuid;

/// Name of the tenant that holds the platform's super_admins.
pub const PLATFORM_CLIENT: &str = "Optralis";

/// What the first start created, so the caller can show it once.
pub enum FirstAdmin {
    AlreadyPresent,
    Created {
        email: String,
        generated_password: Option<String>,
    },
}

#[derive(Clone)]
pub struct TenancyService {
    db: Database,
    users: UserService,
    hasher: password::PasswordHasher,
    activity: ActivityLog,
    /// Where the agent area caches machines and certificates.
    cache: std::sync::Arc<dyn crate::infra::cache::Cache>,
}

fn new_client(
    name: &str,
    kind: &license_types::Model,
    language: Language,
    now: chrono::DateTime<Utc>,
) -> clients::ActiveModel {
    clients::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.to_owned()),
        license_id: Set(Uuid::new_v4()),
        license_type: Set(kind.code.clone()),
        license_status: Set(LicenceStatus::Active),
        license_expires_at: Set(kind
            .default_duration_days
            .map(|days| now + chrono::Duration::days(days.into()))),
        max_machines: Set(None),
        ai_monthly_limit: Set(None),
        language: Set(language),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

impl TenancyService {
    pub fn new(
        db: Database,
        users: UserService,
        hasher: password::PasswordHasher,
        activity: ActivityLog,
        cache: std::sync::Arc<dyn crate::infra::cache::Cache>,
    ) -> Self {
        Self {
            db,
            users,
            hasher,
            activity,
            cache,
        }
    }

    async fn licence_type(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        code: &str,
    ) -> Result<Option<license_types::Model>, DomainError> {
        Ok(license_types::Entity::find()
            .filter(license_types::Column::Code.eq(code))
            .one(conn)
            .await?)
    }

    /// The type named `code`, or BAD_USER_INPUT listing the known ones.
    async fn known_licence_type(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        code: &str,
    ) -> Result<license_types::Model, DomainError> {
        let code = code.trim().to_ascii_lowercase();
        if let Some(kind) = self.licence_type(conn, &code).await? {
            return Ok(kind);
        }
        let known: Vec<String> = license_types::Entity::find()
            .order_by_asc(license_types::Column::Code)
            .all(conn)
            .await?
            .into_iter()
            .map(|t| t.code)
            .collect();
        Err(DomainError::invalid(
            "licenseType",
            format!("unknown licence type; known: {}", known.join(", ")),
        ))
    }

    /// On a database without users, creates the platform tenant and its
    /// super_admin. With no password given, a random one is generated. It
    /// must be changed at first login either way: a password kept in a
    /// compose file or an environment variable is not a secret.
    pub async fn ensure_first_admin(
        &self,
        email: &str,
        password: Option<&str>,
    ) -> Result<FirstAdmin, DomainError> {
        if users::Entity::find().count(&self.db.conn).await? > 0 {
            return Ok(FirstAdmin::AlreadyPresent);
        }
        let email = validate_email(email)?;
        let (password, generated) = match password {
            Some(p) => (p.to_owned(), false),
            None => (super::crypto::random_password(), true),
        };
        let hash = self.hasher.hash(&password).await?;
        let now = Utc::now();
        let txn = self.db.begin_write().await?;
        let enterprise = self
            .licence_type(&txn, &Tier::Enterprise.stored())
            .await?
            .ok_or(DomainError::invariant("built-in licence types are seeded"))?;
        let client = clients::Entity::insert(new_client(PLATFORM_CLIENT, &enterprise, Language::Fr, now))
            .exec_with_returning(&txn)
            .await?;
        let inserted = users::Entity::insert(users::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(client.id),
            email: Set(email.clone()),
            password_hash: Set(hash),
            first_name: Set("Super".into()),
            last_name: Set("Admin".into()),
            role: Set(Role::SuperAdmin),
            must_change_password: Set(true),
            password_changed_at: Set(now),
            totp_enabled: Set(false),
            totp_secret: Set(None),
            totp_pending_secret: Set(None),
            totp_verified_at: Set(None),
            last_login_at: Set(None),
            session_version: Set(0),
            session_carried_jti: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec(&txn)
        .await;
        match inserted {
            Ok(_) => txn.commit().await?,
            // Another instance starting at the same moment won the race.
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                txn.rollback().await?;
                return Ok(FirstAdmin::AlreadyPresent);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(FirstAdmin::Created {
            email,
            generated_password: generated.then_some(password),
        })
    }

    /// Overrides the licence type's machine limit for one tenant; None
    /// returns to the type's limit. A limit below the current count
    /// refuses new machines only.
    pub async fn set_machine_limit(
        &self,
        actor: &Principal,
        client_id: Uuid,
        max_machines: Option<i32>,
        meta: &RequestMeta,
    ) -> Result<clients::Model, DomainError> {
        if !actor.is_super_admin() {
            return Err(DomainError::Forbidden("super_admin only".into()));
        }
        if let Some(max) = max_machines {
            if !(0..=1_000_000).contains(&max) {
                return Err(DomainError::invalid("maxMachines", "must be 0-1000000"));
            }
        }
        let updated = clients::Entity::update_many()
            .col_expr(clients::Column::MaxMachines, Expr::value(max_machines))
            .col_expr(clients::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
            .filter(clients::Column::Id.eq(client_id))
            .exec(&self.db.conn)
            .await?;
        if updated.rows_affected == 0 {
            return Err(DomainError::NotFound("client"));
        }
        let entry = Entry::new(Level::Info, Category::System, "Limite de machines modifiée")
            .client(client_id)
            .metadata(serde_json::json!({ "max_machines": max_machines }))
            .by(actor.user_id);
        self.activity.record(entry, meta).await;
        clients::Entity::find_by_id(client_id)
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("client"))
    }

    pub async fn machine_count(&self, client_id: Uuid) -> Result<i64, DomainError> {
        let n = entities::machines::Entity::find()
            .filter(entities::machines::Column::ClientId.eq(client_id))
            .count(&self.db.conn)
            .await?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// The names of the given tenants, by id.
    pub async fn names(&self, ids: &[Uuid]) -> Result<std::collections::HashMap<Uuid, String>, DomainError> {
        Ok(clients::Entity::find()
            .filter(clients::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect())
    }

    /// Machines per tenant, for the listed tenants.
    pub async fn machine_counts(&self) -> Result<std::collections::HashMap<Uuid, i64>, DomainError> {
        use sea_orm::{FromQueryResult, QuerySelect};
        #[derive(FromQueryResult)]
        struct Row {
            client_id: Uuid,
            n: i64,
        }
        let rows = entities::machines::Entity::find()
            .select_only()
            .column(entities::machines::Column::ClientId)
            .column_as(entities::machines::Column::Id.count(), "n")
            .group_by(entities::machines::Column::ClientId)
            .into_model::<Row>()
            .all(&self.db.conn)
            .await?;
        Ok(rows.into_iter().map(|r| (r.client_id, r.n)).collect())
    }

    /// Creates a tenant and its first admin in one transaction; the admin
    /// receives a welcome email with a temporary password.
    pub async fn create_client(
        &self,
        actor: &Principal,
        name: &str,
        license_type: &str,
        language: Language,
        admin: NewUser,
        meta: &RequestMeta,
    ) -> Result<(clients::Model, users::Model), DomainError> {
        if !actor.is_super_admin() {
            return Err(DomainError::Forbidden("super_admin only".into()));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 255 {
            return Err(DomainError::invalid("name", "must be 1-255 characters"));
        }
        let txn = self.db.begin_write().await?;
        let kind = self.known_licence_type(&txn, license_type).await?;
        let client = clients::Entity::insert(new_client(name, &kind, language, Utc::now()))
            .exec_with_returning(&txn)
            .await?;
        let (user, temporary) = self
            .users
            .insert_with_temporary_password(&txn, client.id, admin, Role::Admin)
            .await?;
        txn.commit().await?;
        self.users
            .queue_credentials_email(&user, &temporary, "welcome", client.language)
            .await?;
        let entry = Entry::new(
            Level::Info,
            Category::System,
            format!("Client créé : {}", client.name),
        )
        .client(client.id)
        .metadata(json!({ "license_type": client.license_type, "admin_email": user.email }))
        .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok((client, user))
    }
}
