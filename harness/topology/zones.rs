//! The four names the load balancer serves under the deployment's domain
//! (docs/ARCHITECTURE.md section 1; the network requirements' four DNS records), by what each is for.

/// The zone names under a domain, by role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zones {
    /// `manage.<domain>`: the Management Dashboard.
    pub dashboard: String,
    /// `config.<domain>`: the Root Tenant Authority.
    pub root_tenant: String,
    /// `webtask.<domain>`: the webtask endpoint.
    pub webtask: String,
    /// `login.<domain>`: the App Tenant, where users and the AD/LDAP connector log in.
    pub login: String,
}

impl Zones {
    /// The names under `domain` (`"example.com"`).
    pub fn under(domain: &str) -> Self {
        let name = |label: &str| format!("{label}.{domain}");
        Self {
            dashboard: name("manage"),
            root_tenant: name("config"),
            webtask: name("webtask"),
            login: name("login"),
        }
    }

    /// The four names in the order the DNS zone, the certificate and the exports list
    /// them: dashboard, root tenant, webtask, login.
    pub fn list(self) -> [String; 4] {
        [self.dashboard, self.root_tenant, self.webtask, self.login]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves each role's name and the order of the list.
    #[test]
    fn names() {
        let zones = Zones::under("example.com");
        assert_eq!(zones.dashboard, "manage.example.com");
        assert_eq!(zones.login, "login.example.com");
        assert_eq!(
            zones.list(),
            [
                "manage.example.com",
                "config.example.com",
                "webtask.example.com",
                "login.example.com"
            ]
        );
    }
}
