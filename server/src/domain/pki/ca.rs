//! The internal certificate authority (ECDSA P-256): created at first start
//! in the data dir, it signs the gateway's server certificate, one client
//! certificate per machine (CN `client_id:machine_id`) and the CRL.

use crate::infra::secrets::write_private;
use chrono::{DateTime, Utc};
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SanType,
    SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use std::path::Path;
use time::OffsetDateTime;
use uuid::Uuid;

const CA_CERT_FILE: &str = "ca.crt";
const CA_KEY_FILE: &str = "ca.key";
const CA_VALIDITY_DAYS: i64 = 3650;
pub const CLIENT_VALIDITY_DAYS: i64 = 365;
const SERVER_VALIDITY_DAYS: i64 = 825;
pub const CRL_VALIDITY_HOURS: i64 = 24;

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("certificate authority: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("certificate authority files: {0}")]
    Io(String),
}

/// A certificate and its private key, PEM-encoded.
#[derive(Clone, Debug)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

pub struct RevokedEntry {
    pub serial: String,
    pub revoked_at: DateTime<Utc>,
}

pub struct CertificateAuthority {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn to_offset(t: DateTime<Utc>) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// 128 random bits, top bit clear so the DER integer stays positive.
fn random_serial() -> (SerialNumber, String) {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    (SerialNumber::from_slice(&bytes), hex::encode(bytes))
}

impl CertificateAuthority {
    /// Loads `ca.crt`/`ca.key` from `dir`, creating them on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self, CaError> {
        let (cert_path, key_path) = (dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE));
        if cert_path.exists() && key_path.exists() {
            let cert_pem = std::fs::read_to_string(&cert_path).map_err(|e| CaError::Io(e.to_string()))?;
            let key_pem = std::fs::read_to_string(&key_path).map_err(|e| CaError::Io(e.to_string()))?;
            return Self::from_pem(&cert_pem, &key_pem);
        }
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Optralis Agent CA");
        dn.push(DnType::OrganizationName, "Optralis");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = Utc::now();
        params.not_before = to_offset(now - chrono::Duration::hours(1));
        params.not_after = to_offset(now + chrono::Duration::days(CA_VALIDITY_DAYS));
        params.serial_number = Some(random_serial().0);
        let cert = params.self_signed(&key)?;
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        write_private(&key_path, key_pem.as_bytes()).map_err(|e| CaError::Io(e.to_string()))?;
        std::fs::write(&cert_path, cert_pem.as_bytes()).map_err(|e| CaError::Io(e.to_string()))?;
        tracing::info!(path = %cert_path.display(), "created the agent certificate authority");
        Self::from_pem(&cert_pem, &key_pem)
    }

    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CaError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            issuer,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    fn leaf(
        &self,
        cn: &str,
        sans: Vec<SanType>,
        eku: ExtendedKeyUsagePurpose,
        days: i64,
    ) -> Result<Issued, CaError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        dn.push(DnType::OrganizationName, "Optralis");
        params.distinguished_name = dn;
        params.subject_alt_names = sans;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![eku];
        params.use_authority_key_identifier_extension = true;
        let (serial, serial_hex) = random_serial();
        params.serial_number = Some(serial);
        let now = Utc::now();
        // Backdated a little: agents' clocks drift.
        let not_before = now - chrono::Duration::minutes(5);
        let not_after = now + chrono::Duration::days(days);
        params.not_before = to_offset(not_before);
        params.not_after = to_offset(not_after);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial: serial_hex,
            not_before: DateTime::from_timestamp(not_before.timestamp(), 0).unwrap_or(now),
            not_after: DateTime::from_timestamp(not_after.timestamp(), 0).unwrap_or(now),
        })
    }

    /// A machine's client certificate: CN `client_id:machine_id`.
    pub fn issue_client(&self, client_id: Uuid, machine_id: Uuid) -> Result<Issued, CaError> {
        self.leaf(
            &format!("{client_id}:{machine_id}"),
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
            CLIENT_VALIDITY_DAYS,
        )
    }

    /// The gateway's server certificate for `names` (DNS names or IPs).
    pub fn issue_server(&self, names: &[String]) -> Result<Issued, CaError> {
        let sans = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => n.clone().try_into().map(SanType::DnsName),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cn = names.first().map_or("optralis-gateway", String::as_str);
        self.leaf(
            cn,
            sans,
            ExtendedKeyUsagePurpose::ServerAuth,
            SERVER_VALIDITY_DAYS,
        )
    }

    /// A DER CRL listing `revoked`, valid 24 h.
    pub fn crl(&self, revoked: &[RevokedEntry], number: u64) -> Result<Vec<u8>, CaError> {
        let now = Utc::now();
        let params = CertificateRevocationListParams {
            this_update: to_offset(now),
            next_update: to_offset(now + chrono::Duration::hours(CRL_VALIDITY_HOURS)),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .filter_map(|r| {
                    Some(RevokedCertParams {
                        serial_number: SerialNumber::from_slice(&hex::decode(&r.serial).ok()?),
                        revocation_time: to_offset(r.revoked_at),
                        reason_code: None,
                        invalidity_date: None,
                    })
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.der().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    #[test]
    fn creates_once_then_reloads_and_issues_parsable_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::load_or_create(dir.path()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(CA_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = CertificateAuthority::load_or_create(dir.path()).unwrap();
        assert_eq!(ca.cert_pem(), again.cert_pem());

        let (client, machine) = (Uuid::new_v4(), Uuid::new_v4());
        let issued = again.issue_client(client, machine).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(issued.cert_pem.as_bytes()).unwrap();
        let cert = pem.parse_x509().unwrap();
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(cn, format!("{client}:{machine}"));
        assert_eq!(hex::encode(cert.raw_serial()), issued.serial);
        let days = (issued.not_after - issued.not_before).num_days();
        assert!((365..=366).contains(&days));

        let crl = again
            .crl(
                &[RevokedEntry {
                    serial: issued.serial.clone(),
                    revoked_at: Utc::now(),
                }],
                1,
            )
            .unwrap();
        let (_, parsed) = CertificateRevocationList::from_der(&crl).unwrap();
        let serials: Vec<String> = parsed
            .iter_revoked_certificates()
            .map(|r| hex::encode(r.raw_serial()))
            .collect();
        assert_eq!(serials, vec![issued.serial]);
    }
}
