use sea_orm::entity::prelude::*;

/// Enriched per-machine inventory kept by the services, security, software,
/// patches and network collectors (the spec's column list).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "machine_inventory")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub machine_id: Uuid,
    pub client_id: Uuid,
    pub antivirus_name: Option<String>,
    pub antivirus_version: Option<String>,
    pub antivirus_enabled: Option<bool>,
    pub antivirus_updated: Option<bool>,
    pub firewall_enabled: Option<bool>,
    pub bitlocker_enabled: Option<bool>,
    pub secure_boot_enabled: Option<bool>,
    pub services_total: Option<i32>,
    pub services_running: Option<i32>,
    pub services_failed: Option<i32>,
    pub all_services: Option<Json>,
    pub failed_services: Option<Json>,
    pub software_count: Option<i32>,
    pub software_details: Option<Json>,
    pub users_total: Option<i32>,
    pub users_admin: Option<i32>,
    pub users_details: Option<Json>,
    pub ports_open: Option<i32>,
    pub ports_risky_open: Option<i32>,
    pub all_ports: Option<Json>,
    pub risky_ports_details: Option<Json>,
    pub network_interfaces: Option<Json>,
    pub pending_updates: Option<i32>,
    pub security_updates: Option<i32>,
    pub reboot_required: Option<bool>,
    pub patches_auto_update: Option<bool>,
    pub patches_last_check: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
