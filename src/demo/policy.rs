//! The simulated tenant's policy: its branches and their domains, its Teams integrations (one
//! with a rotated secret, two the LMS can never find) and how Graph sees an address. The
//! generator and the simulated Graph both read it, so the database and the tenant agree.

use crate::sim::MailboxState;

/// The tenant domains of the demo's branches; any other domain is not a mailbox in the tenant.
pub const TENANT_DOMAINS: [&str; 5] = [
    "north.example",
    "south.example",
    "online.example",
    "city.example",
    "evening.example",
];
/// Learners who signed up with a personal address: no such user in the tenant.
pub const PERSONAL_DOMAIN: &str = "mail.example";
/// The tenant whose client secret has expired (its syncs fail at the token endpoint).
pub const EXPIRED_SECRET_TENANT: &str = "online.example";

/// How Graph sees an address in the demo tenant; the generator and the simulated Graph's
/// directory share this one rule.
pub fn mailbox_state(email: &str) -> MailboxState {
    let email = email.to_ascii_lowercase();
    let Some((_, domain)) = email.rsplit_once('@') else {
        return MailboxState::Unknown;
    };
    if !TENANT_DOMAINS.contains(&domain) {
        return MailboxState::Unknown;
    }
    // About one tenant user in forty has no Exchange licence.
    if fnv1a(email.as_bytes()) % 40 == 7 {
        MailboxState::NoMailbox
    } else {
        MailboxState::Ok
    }
}

pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A branch of the demo LMS.
pub(super) struct Branch {
    pub(super) id: i64,
    pub(super) name: &'static str,
    pub(super) domain: &'static str,
    pub(super) teams_enabled: bool,
    /// The integration the LMS would use for users of this branch, if any.
    pub(super) integration: Option<&'static str>,
}

pub(super) const BRANCHES: [Branch; 5] = [
    Branch {
        id: 1,
        name: "North Campus",
        domain: "north.example",
        teams_enabled: true,
        integration: Some("north"),
    },
    Branch {
        id: 2,
        name: "South Campus",
        domain: "south.example",
        teams_enabled: true,
        integration: Some("south"),
    },
    Branch {
        id: 3,
        name: "Online Academy",
        domain: "online.example",
        teams_enabled: true,
        integration: Some("online"),
    },
    Branch {
        id: 4,
        name: "City Partners College",
        domain: "city.example",
        teams_enabled: false,
        integration: None,
    },
    Branch {
        id: 5,
        name: "Evening School",
        domain: "evening.example",
        teams_enabled: true,
        integration: None,
    },
];

/// A Teams integration row of the demo (owners are the branch admins, user ids 1 to 5).
pub struct DemoIntegration {
    pub id: i64,
    pub name: &'static str,
    pub active: bool,
    pub tenant: &'static str,
    pub owner: Option<i64>,
    pub branch: Option<i64>,
}

pub const INTEGRATIONS: [DemoIntegration; 6] = [
    DemoIntegration {
        id: 1,
        name: "North Campus Teams",
        active: true,
        tenant: "north.example",
        owner: Some(1),
        branch: Some(1),
    },
    DemoIntegration {
        id: 2,
        name: "South Campus Teams",
        active: true,
        tenant: "south.example",
        owner: Some(2),
        branch: Some(2),
    },
    DemoIntegration {
        id: 3,
        name: "Online Academy Teams",
        active: true,
        tenant: EXPIRED_SECRET_TENANT,
        owner: Some(3),
        branch: Some(3),
    },
    // Nobody owns it, so the LMS's lookup (through the owner's branch) never finds it.
    DemoIntegration {
        id: 4,
        name: "Production",
        active: true,
        tenant: "lms.example",
        owner: None,
        branch: None,
    },
    // Set up for Evening School by North's admin: Evening School's learners never find it either.
    DemoIntegration {
        id: 5,
        name: "Evening School Teams",
        active: true,
        tenant: "evening.example",
        owner: Some(1),
        branch: Some(5),
    },
    DemoIntegration {
        id: 6,
        name: "Old pilot (retired)",
        active: false,
        tenant: "north.example",
        owner: Some(1),
        branch: Some(1),
    },
];

/// The demo's (fake) app registration of an integration.
pub fn demo_client_id(integration: i64) -> String {
    format!("00000000-0000-4000-8000-{:012}", 1000 + integration)
}

/// The demo's (fake) client secret of an integration, as stored in the LMS database.
pub fn demo_secret(integration: i64) -> String {
    format!("demo-secret-{integration}-not-real")
}
