//! The simulated Graph that matches the demo database.

use crate::sim::{Directory, Latency, MailboxState, SimConfig, SimHandle, SimServer, SimTenant};

use super::policy::{
    EXPIRED_SECRET_TENANT, INTEGRATIONS, demo_client_id, demo_secret, mailbox_state,
};

/// How the simulated Graph for the demo behaves.
#[derive(Debug, Clone)]
pub struct SimulatorSettings {
    pub port: u16,
    pub latency: Latency,
    pub fault_rate: f64,
}

impl Default for SimulatorSettings {
    fn default() -> Self {
        SimulatorSettings {
            port: 0,
            latency: Latency::between(
                std::time::Duration::from_millis(20),
                std::time::Duration::from_millis(120),
            ),
            fault_rate: 0.02,
        }
    }
}

/// The simulated tenant that matches the demo database: its app registrations, its
/// directory, and one rotated secret (Online Academy's), as support staff meet them.
pub fn simulator_config(settings: &SimulatorSettings) -> SimConfig {
    let tenants = INTEGRATIONS
        .iter()
        .map(|i| {
            let secret = if i.tenant == EXPIRED_SECRET_TENANT {
                "rotated-in-azure-but-not-in-the-lms".to_string()
            } else {
                demo_secret(i.id)
            };
            SimTenant::new(i.tenant, &demo_client_id(i.id), &secret)
        })
        .collect();
    SimConfig {
        latency: settings.latency,
        fault_rate: settings.fault_rate,
        directory: Directory::new(MailboxState::Unknown).with_rule(mailbox_state),
        tenants,
        ..SimConfig::default()
    }
}

/// Starts the demo's simulated Graph on a loopback port.
pub async fn start_simulator(settings: SimulatorSettings) -> std::io::Result<SimHandle> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], settings.port));
    SimServer::start_on(addr, simulator_config(&settings)).await
}
