//! Which Microsoft cloud a Graph URL belongs to, and so which login host and token scope go
//! with it. Tokens of one national cloud are not accepted by another (Graph docs:
//! concepts/deployments.md, "Access tokens acquired for a national cloud deployment are not
//! interchangeable with those acquired for the global service or any other national cloud").
//!
//! | Cloud | Graph host | Login host | Token scope |
//! |---|---|---|---|
//! | global | graph.microsoft.com | login.microsoftonline.com | `https://graph.microsoft.com/.default` |
//! | US Government L4 (GCC High) | graph.microsoft.us | login.microsoftonline.us | `https://graph.microsoft.us/.default` |
//! | US Government L5 (DoD) | dod-graph.microsoft.us | login.microsoftonline.us | `https://dod-graph.microsoft.us/.default` |
//! | China (21Vianet) | microsoftgraph.chinacloudapi.cn | login.chinacloudapi.cn | `https://microsoftgraph.chinacloudapi.cn/.default` |
//!
//! Any other Graph host (a loopback simulator, a proxy) is the global cloud unless
//! `CALSYNC_GRAPH_CLOUD` says otherwise.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cloud {
    #[default]
    Global,
    UsGovernment,
    UsGovernmentDod,
    China,
}

impl Cloud {
    pub const ALL: [Cloud; 4] = [
        Cloud::Global,
        Cloud::UsGovernment,
        Cloud::UsGovernmentDod,
        Cloud::China,
    ];

    /// The host of the cloud's Graph service.
    pub fn graph_host(self) -> &'static str {
        match self {
            Cloud::Global => "graph.microsoft.com",
            Cloud::UsGovernment => "graph.microsoft.us",
            Cloud::UsGovernmentDod => "dod-graph.microsoft.us",
            Cloud::China => "microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The cloud's Microsoft Entra ID (token service) root, no trailing slash.
    pub fn login_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGovernment | Cloud::UsGovernmentDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The client-credentials scope: the cloud's Graph resource with `/.default`.
    pub fn scope(self) -> String {
        format!("https://{}/.default", self.graph_host())
    }

    /// The name `CALSYNC_GRAPH_CLOUD` takes.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGovernment => "usgov",
            Cloud::UsGovernmentDod => "usgov-dod",
            Cloud::China => "china",
        }
    }

    pub fn from_name(name: &str) -> Option<Cloud> {
        let name = name.trim();
        Cloud::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// The cloud whose Graph host `graph_url` names, if it names one.
    pub fn of_graph_url(graph_url: &str) -> Option<Cloud> {
        let url = reqwest::Url::parse(graph_url).ok()?;
        let host = url.host_str()?;
        Cloud::ALL
            .into_iter()
            .find(|c| c.graph_host().eq_ignore_ascii_case(host))
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Graph docs: concepts/deployments.md — the Graph and Entra ID root endpoints per cloud.
    #[test]
    fn each_cloud_has_its_documented_hosts_and_its_own_scope() {
        let table = [
            (
                "https://graph.microsoft.com/v1.0",
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com/.default",
            ),
            (
                "https://graph.microsoft.us/v1.0",
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us/.default",
            ),
            (
                "https://dod-graph.microsoft.us/v1.0",
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us/.default",
            ),
            (
                "https://microsoftgraph.chinacloudapi.cn/v1.0",
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn/.default",
            ),
        ];
        for (graph, login, scope) in table {
            let cloud = Cloud::of_graph_url(graph).expect(graph);
            assert_eq!(cloud.login_url(), login, "{graph}");
            assert_eq!(cloud.scope(), scope, "{graph}");
            assert_eq!(Cloud::from_name(cloud.name()), Some(cloud));
        }
        assert_eq!(Cloud::of_graph_url("http://127.0.0.1:8080/v1.0"), None);
    }
}
