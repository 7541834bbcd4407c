//! Integration tests driving the server through its public interfaces.
//! Run on SQLite by default; set OPTRALIS_TEST_DATABASE_URL and
//! OPTRALIS_TEST_REDIS_URL to run the same tests on PostgreSQL and Redis.

mod admin;
mod agent_config;
mod agent_contract;
mod agent_scenarios;
mod agents;
mod ai_automation;
mod alerting;
mod analyses;
mod analysis_engine;
mod cli;
mod collect;
mod db_outage;
mod docker;
mod docker_engine;
mod email;
mod fleet_ops;
mod graphql_http;
mod health;
mod helpers;
mod identity;
mod infra;
mod installers;
mod licensing;
mod listening;
mod live_resources;
mod machines;
mod narrator;
mod organise;
mod process;
mod query_cost;
mod reminders;
mod scale_out;
mod schema;
mod security_agents;
mod security_auth;
mod security_graphql;
mod security_hardening;
mod security_transport;
mod shutdown;
mod sites;
mod storage;
mod subscriptions;
mod tenancy;
mod windows_builds;
