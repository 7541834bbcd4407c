//! Users of a tenant and the protections around them: unique email, no
//! self role change or self delete, never remove or demote the last admin,
//! client admins assign only admin/observer.

use super::{
    activity::{ActivityLog, Category, Entry, Level, RequestMeta},
    auth::{normalise_email, password, revoke_refresh_tokens, sessions::Sessions, Principal, Role},
    crypto,
    notify::{
        email,
        outbox::{Email, Outbox},
    },
    DomainError,
};
use crate::infra::db::Database;
use chrono::{Datelike, Utc};
use entities::{enums::Language, users};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, SqlErr, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Option<Role>,
}

#[derive(Clone, Debug, Default)]
pub struct UserChanges {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<Role>,
}

#[derive(Clone)]
pub struct UserService {
    db: Database,
    sessions: Sessions,
    hasher: password::PasswordHasher,
    activity: ActivityLog,
    outbox: Outbox,
    dashboard_url: String,
}

pub fn validate_email(email: &str) -> Result<String, DomainError> {
    let email = normalise_email(email);
    let valid = email.len() <= 255
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(DomainError::invalid("email", "is not a valid email address"))
    }
}

fn validate_name(field: &str, value: &str) -> Result<String, DomainError> {
    let value = value.trim();
    if value.chars().count() > 100 || value.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "must be at most 100 printable characters",
        ));
    }
    Ok(value.to_owned())
}

fn unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

impl UserService {
    pub fn new(
        db: Database,
        sessions: Sessions,
        hasher: password::PasswordHasher,
        activity: ActivityLog,
        outbox: Outbox,
        dashboard_url: String,
    ) -> Self {
        Self {
            db,
            sessions,
            hasher,
            activity,
            outbox,
            dashboard_url,
        }
    }

    pub async fn list(&self, client_id: Uuid) -> Result<Vec<users::Model>, DomainError> {
        Ok(users::Entity::find()
            .filter(users::Column::ClientId.eq(client_id))
            .order_by_asc(users::Column::Email)
            .all(&self.db.conn)
            .await?)
    }

    /// A user of the caller's tenant; another tenant's id is NOT_FOUND.
    pub async fn get(&self, client_id: Uuid, id: Uuid) -> Result<users::Model, DomainError> {
        users::Entity::find_by_id(id)
            .filter(users::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("user"))
    }

    fn assignable(actor: &Principal, role: Role) -> Result<(), DomainError> {
        if role == Role::SuperAdmin && !actor.is_super_admin() {
            return Err(DomainError::Forbidden(
                "client admins may assign only admin or observer".into(),
            ));
        }
        Ok(())
    }

    async fn admins_in(&self, db: &impl ConnectionTrait, client_id: Uuid) -> Result<u64, DomainError> {
        Ok(users::Entity::find()
            .filter(users::Column::ClientId.eq(client_id))
            .filter(users::Column::Role.is_in([Role::Admin, Role::SuperAdmin]))
            .count(db)
            .await?)
    }

    /// Inserts a user with a temporary password that must be changed at
    /// first login, and queues the welcome email carrying it.
    pub async fn insert_with_temporary_password(
        &self,
        db: &impl ConnectionTrait,
        client_id: Uuid,
        new: NewUser,
        role: Role,
    ) -> Result<(users::Model, String), DomainError> {
        let email = validate_email(&new.email)?;
        let temporary = crypto::random_password();
        let hash = self.hasher.hash(&temporary).await?;
        let now = Utc::now();
        let user = users::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(client_id),
            email: Set(email),
            password_hash: Set(hash),
            first_name: Set(validate_name("firstName", &new.first_name)?),
            last_name: Set(validate_name("lastName", &new.last_name)?),
            role: Set(role),
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
        };
        let user = users::Entity::insert(user)
            .exec_with_returning(db)
            .await
            .map_err(|e| {
                if unique_violation(&e) {
                    DomainError::Conflict("a user with this email already exists".into())
                } else {
                    e.into()
                }
            })?;
        Ok((user, temporary))
    }

    /// Queues the e-mail carrying a temporary password: `welcome` for a new
    /// account, `new_password` after an administrator's reset.
    pub async fn queue_credentials_email(
        &self,
        user: &users::Model,
        password: &str,
        kind: &'static str,
        language: Language,
    ) -> Result<(), DomainError> {
        let mail = email::render(
            &email::Template::Welcome {
                name: user.first_name.clone(),
                email: user.email.clone(),
                login_url: self.dashboard_url.clone(),
                temporary_password: Some(password.to_owned()),
                reset_by_admin: kind == "new_password",
            },
            language,
            &email::Common::new(&self.dashboard_url, Utc::now().year()),
        )?;
        self.outbox
            .enqueue(Email {
                kind,
                recipient: user.email.clone(),
                subject: mail.subject,
                body_text: mail.text,
                body_html: Some(mail.html),
                language,
                client_id: Some(user.client_id),
            })
            .await?;
        Ok(())
    }

    pub async fn create(
        &self,
        actor: &Principal,
        new: NewUser,
        meta: &RequestMeta,
    ) -> Result<users::Model, DomainError> {
        actor.ensure_may_create_credentials()?;
        let role = new.role.unwrap_or(Role::Observer);
        Self::assignable(actor, role)?;
        let (user, temporary) = self
            .insert_with_temporary_password(&self.db.conn, actor.client_id, new, role)
            .await?;
        // The caller's tenant is not loaded here; French is the default.
        self.queue_credentials_email(&user, &temporary, "welcome", Language::Fr)
            .await?;
        self.record(actor, "Utilisateur créé", &user, meta).await;
        Ok(user)
    }

    pub async fn update(
        &self,
        actor: &Principal,
        id: Uuid,
        changes: UserChanges,
        meta: &RequestMeta,
    ) -> Result<users::Model, DomainError> {
        let user = self.get(actor.client_id, id).await?;
        let mut active = user.clone().into_active_model();
        if let Some(role) = changes.role {
            let current = Some(user.role);
            if Some(role) != current {
                if actor.user_id == Some(user.id) {
                    return Err(DomainError::Forbidden("you cannot change your own role".into()));
                }
                Self::assignable(actor, role)?;
                if current == Some(Role::SuperAdmin) && !actor.is_super_admin() {
                    return Err(DomainError::Forbidden(
                        "only a super_admin may change a super_admin".into(),
                    ));
                }
                let demoting = current >= Some(Role::Admin) && role < Role::Admin;
                if demoting && self.admins_in(&self.db.conn, user.client_id).await? <= 1 {
                    return Err(DomainError::Forbidden("the last admin cannot be demoted".into()));
                }
                active.role = Set(role);
            }
        }
        if let Some(email) = changes.email {
            active.email = Set(validate_email(&email)?);
        }
        if let Some(v) = changes.first_name {
            active.first_name = Set(validate_name("firstName", &v)?);
        }
        if let Some(v) = changes.last_name {
            active.last_name = Set(validate_name("lastName", &v)?);
        }
        active.updated_at = Set(Utc::now());
        let updated = active.update(&self.db.conn).await.map_err(|e| {
            if unique_violation(&e) {
                DomainError::Conflict("a user with this email already exists".into())
            } else {
                e.into()
            }
        })?;
        // The role is read from the session state on every request: drop it
        // so a demotion applies at the next one, on every instance.
        self.sessions.invalidate(updated.id).await;
        self.record(actor, "Utilisateur modifié", &updated, meta).await;
        Ok(updated)
    }

    pub async fn delete(&self, actor: &Principal, id: Uuid, meta: &RequestMeta) -> Result<(), DomainError> {
        let user = self.get(actor.client_id, id).await?;
        if actor.user_id == Some(user.id) {
            return Err(DomainError::Forbidden(
                "you cannot delete your own account".into(),
            ));
        }
        let role = Some(user.role);
        if role == Some(Role::SuperAdmin) && !actor.is_super_admin() {
            return Err(DomainError::Forbidden(
                "only a super_admin may delete a super_admin".into(),
            ));
        }
        if role >= Some(Role::Admin) && self.admins_in(&self.db.conn, user.client_id).await? <= 1 {
            return Err(DomainError::Forbidden("the last admin cannot be deleted".into()));
        }
        users::Entity::delete_by_id(user.id)
            .filter(users::Column::ClientId.eq(actor.client_id))
            .exec(&self.db.conn)
            .await?;
        self.sessions.invalidate(user.id).await;
        self.record(actor, "Utilisateur supprimé", &user, meta).await;
        Ok(())
    }

    /// Sets a new temporary password, emails it, and signs the user out.
    pub async fn reset_password(
        &self,
        actor: &Principal,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        actor.ensure_may_create_credentials()?;
        let user = self.get(actor.client_id, id).await?;
        if user.role == Role::SuperAdmin && !actor.is_super_admin() {
            return Err(DomainError::Forbidden(
                "only a super_admin may reset a super_admin".into(),
            ));
        }
        let temporary = crypto::random_password();
        let hash = self.hasher.hash(&temporary).await?;
        let txn = self.db.conn.begin().await?;
        users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(hash))
            .col_expr(users::Column::MustChangePassword, Expr::value(true))
            .col_expr(users::Column::PasswordChangedAt, Expr::value(Utc::now()))
            .col_expr(users::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(users::Column::Id.eq(user.id))
            .exec(&txn)
            .await?;
        Sessions::bump(&txn, user.id, None).await?;
        txn.commit().await?;
        self.sessions.invalidate(user.id).await;
        revoke_refresh_tokens(&self.db, entities::refresh_tokens::Column::UserId.eq(user.id)).await?;
        self.queue_credentials_email(&user, &temporary, "new_password", Language::Fr)
            .await?;
        self.record(
            actor,
            "Mot de passe réinitialisé par un administrateur",
            &user,
            meta,
        )
        .await;
        Ok(())
    }

    async fn record(&self, actor: &Principal, message: &str, target: &users::Model, meta: &RequestMeta) {
        let entry = Entry::new(Level::Info, Category::User, message)
            .client(target.client_id)
            .metadata(json!({ "target_user_id": target.id, "email": target.email, "role": target.role }))
            .by(actor.user_id);
        self.activity.record(entry, meta).await;
    }
}
