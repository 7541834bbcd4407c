//! Contact-form messages for the super_admin: the list and its handling.

use super::{
    error::{ApiError, Result},
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    auth::Role,
    public::contact::{Cursor, MAX_PAGE},
};
use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, Object, SimpleObject, ID,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use entities::{contact_messages, enums::Language};
use uuid::Uuid;

#[derive(SimpleObject)]
pub struct ContactMessage {
    id: ID,
    name: String,
    email: String,
    company: Option<String>,
    /// demo, technical, enterprise; null when none was picked.
    subject: Option<String>,
    message: String,
    /// fr or en: the sender's language.
    language: String,
    /// The client address the form came from.
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: DateTime<Utc>,
    handled_at: Option<DateTime<Utc>>,
    handled_by: Option<ID>,
}

impl From<contact_messages::Model> for ContactMessage {
    fn from(m: contact_messages::Model) -> Self {
        Self {
            id: id(m.id),
            name: m.name,
            email: m.email,
            company: m.company,
            subject: m.subject,
            message: m.message,
            language: match m.language {
                Language::Fr => "fr",
                Language::En => "en",
            }
            .to_owned(),
            ip: m.ip,
            user_agent: m.user_agent,
            created_at: m.created_at,
            handled_at: m.handled_at,
            handled_by: m.handled_by.map(id),
        }
    }
}

fn encode_cursor(m: &contact_messages::Model) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", m.created_at.timestamp_micros(), m.id))
}

fn decode_cursor(raw: &str) -> Option<Cursor> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
    let (micros, id) = text.split_once('|')?;
    Some(Cursor {
        created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id: Uuid::parse_str(id).ok()?,
    })
}

#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// Messages from the public contact form, newest first, `first` up to
    /// 100 per page (super_admin).
    #[graphql(complexity = "super::cost::page(Some(first), 20, MAX_PAGE, child_complexity)")]
    async fn contact_messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, ContactMessage, EmptyFields, EmptyFields>> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        if !(1..=MAX_PAGE as i32).contains(&first) {
            return Err(ApiError::bad_input(
                "first",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        let after = match after {
            None => None,
            Some(raw) => Some(
                decode_cursor(&raw).ok_or_else(|| ApiError::bad_input("after", "is not a valid cursor"))?,
            ),
        };
        let (rows, more) = ctx.services().contact.list(first as u64, after).await?;
        let mut connection = Connection::new(after.is_some(), more);
        connection.edges.extend(
            rows.into_iter()
                .map(|m| Edge::new(encode_cursor(&m), ContactMessage::from(m))),
        );
        Ok(connection)
    }
}

#[derive(Default)]
pub struct ContactMutation;

#[Object]
impl ContactMutation {
    /// Marks a contact message dealt with (super_admin); a message already
    /// handled keeps its first handling.
    async fn mark_contact_message_handled(&self, ctx: &Context<'_>, id: ID) -> Result<ContactMessage> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let message_id = parse_id("id", &id)?;
        let handled = ctx
            .services()
            .contact
            .mark_handled(message_id, principal.user_id)
            .await?;
        Ok(handled.into())
    }
}
