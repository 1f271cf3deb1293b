//! The topology's lists of client networks (`lb.allow`, `lb.admin_networks`), parsed
//! once, when the scenario loads, into [`Ipv4Net`]s: a bad entry is a loading error that
//! names the file, line and key (`topology.lb.allow[0]`) like every other, and the load
//! balancer and the exports use the parsed networks as they are.

use ipnet::Ipv4Net;
use serde::{Deserialize, Deserializer};

/// What the error message shows as the accepted form.
pub const EXPECTED: &str = "an IPv4 network such as \"198.51.100.0/24\"";

/// `#[serde(deserialize_with = "super::networks::deserialize")]` for `Vec<Ipv4Net>`
/// fields: each entry a CIDR string, an error naming the entry's index.
pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<Ipv4Net>, D::Error> {
    /// One entry, parsed on its own so that an error's path ends at its index.
    #[derive(Deserialize)]
    struct Entry(#[serde(deserialize_with = "entry")] Ipv4Net);
    let entries = Vec::<Entry>::deserialize(de)?;
    Ok(entries.into_iter().map(|Entry(net)| net).collect())
}

fn entry<'de, D: Deserializer<'de>>(de: D) -> Result<Ipv4Net, D::Error> {
    let text = String::deserialize(de)?;
    text.parse()
        .map_err(|_| serde::de::Error::custom(format!("expected {EXPECTED}, found {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Lists {
        #[serde(deserialize_with = "deserialize")]
        allow: Vec<Ipv4Net>,
    }

    /// Proves good networks parse (and print as written), and a bad one is refused with
    /// the expected form and what was found.
    #[test]
    fn parses_and_refuses() {
        let good: Lists = toml::from_str(r#"allow = ["198.51.100.0/24", "10.0.0.0/8"]"#).unwrap();
        let printed: Vec<String> = good.allow.iter().map(ToString::to_string).collect();
        assert_eq!(printed, ["198.51.100.0/24", "10.0.0.0/8"]);
        for bad in [r#"allow = ["everyone"]"#, r#"allow = ["2001:db8::/32"]"#] {
            let message = toml::from_str::<Lists>(bad).unwrap_err().to_string();
            assert!(message.contains(EXPECTED), "{message}");
        }
    }
}
