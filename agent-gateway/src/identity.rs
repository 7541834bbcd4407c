//! Who an agent is, from its client certificate's common name.

use uuid::Uuid;

/// The tenant and machine a client certificate was issued to
/// (`CN=client_id:machine_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AgentIdentity {
    pub client_id: Uuid,
    pub machine_id: Uuid,
}

/// What the gateway reads from a verified client certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    pub identity: AgentIdentity,
    /// Hex serial, as the CA issued it.
    pub serial: String,
    pub not_after: chrono::DateTime<chrono::Utc>,
}

impl ClientCertificate {
    pub fn from_der(der: &[u8]) -> Result<Self, CnError> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| CnError::Malformed)?;
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .ok_or(CnError::Malformed)?;
        Ok(Self {
            identity: AgentIdentity::from_common_name(cn)?,
            serial: cert.raw_serial().iter().map(|b| format!("{b:02x}")).collect(),
            not_after: chrono::DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
                .ok_or(CnError::Malformed)?,
        })
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CnError {
    /// `CN=client_id`: certificates from before per-machine identities.
    #[error("legacy certificate (CN holds only a client id); re-enrol the agent")]
    Legacy,
    #[error("certificate common name is not client_id:machine_id")]
    Malformed,
}

impl AgentIdentity {
    /// Parses a common name. Only the canonical hyphenated UUID form is
    /// accepted: the CA writes exactly that, so anything else is forged or
    /// foreign.
    pub fn from_common_name(cn: &str) -> Result<Self, CnError> {
        let parse = |s: &str| {
            Uuid::try_parse(s)
                .ok()
                .filter(|u| u.hyphenated().to_string() == s.to_ascii_lowercase())
        };
        match cn.split_once(':') {
            None if parse(cn).is_some() => Err(CnError::Legacy),
            None => Err(CnError::Malformed),
            Some((client, machine)) => match (parse(client), parse(machine)) {
                (Some(client_id), Some(machine_id)) => Ok(Self {
                    client_id,
                    machine_id,
                }),
                _ => Err(CnError::Malformed),
            },
        }
    }

    pub fn common_name(&self) -> String {
        format!("{}:{}", self.client_id, self.machine_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_legacy_or_malformed_names() {
        let id = AgentIdentity {
            client_id: Uuid::new_v4(),
            machine_id: Uuid::new_v4(),
        };
        assert_eq!(AgentIdentity::from_common_name(&id.common_name()), Ok(id));
        assert_eq!(
            AgentIdentity::from_common_name(&id.client_id.to_string()),
            Err(CnError::Legacy)
        );
        for bad in [
            "",
            "agent",
            ":",
            &format!("{}:", id.client_id),
            &format!("{}:{}:x", id.client_id, id.machine_id),
            &format!("{}:{}", id.client_id.simple(), id.machine_id),
            &format!("{{{}}}:{}", id.client_id, id.machine_id),
        ] {
            assert_eq!(
                AgentIdentity::from_common_name(bad),
                Err(CnError::Malformed),
                "{bad:?}"
            );
        }
    }
}
