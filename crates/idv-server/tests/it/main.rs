//! The server's integration tests: one binary, a module per area, over a real server on
//! 127.0.0.1 with a real database (SQLite and PostgreSQL) and a real files folder.

// Tests compare the server's answers with the real time of day (the server reads its `Clock`).
#![allow(clippy::disallowed_methods)]

mod common;
#[macro_use]
mod support;

mod assets;
mod audit;
mod auth;
mod browser;
mod capture;
mod capture_more;
mod contract;
mod cors;
mod deletion;
mod devices;
mod engine;
mod events;
mod examples;
mod export;
mod gateways;
mod hostile;
mod idempotency;
mod kyc;
mod links;
mod mrz;
mod object_stores;
mod outbound;
mod outbox_events;
mod portal;
mod portal_accounts;
mod portal_dashboard;
mod portal_platform;
mod portal_session;
mod portal_sessions;
mod ratelimit;
mod reload;
mod review;
mod route_table;
mod search;
mod secrets_at_rest;
mod sessions;
mod standins;
mod uploads;
mod views;
mod webhooks;
mod webhooks_delivery;
mod well_known;
mod workflows;
