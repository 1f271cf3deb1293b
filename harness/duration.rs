//! Durations as people write them in scenario files (`"30s"`, `"1m30s"`, `"250ms"`) and as
//! the report prints them.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// What the error message shows as the accepted form.
pub const EXPECTED: &str = "a duration string such as \"30s\", \"1m30s\" or \"250ms\"";

/// Parses `"30s"`-style text.
pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("invalid duration {text:?} ({e}); expected {EXPECTED}"))
}

/// `#[serde(with = "crate::duration")]` for `Duration` fields.
pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Duration;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(EXPECTED)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
            parse(v).map_err(E::custom)
        }
    }
    de.deserialize_str(Visitor)
}

/// Serializes as the same text [`parse`] reads.
pub fn serialize<S: Serializer>(value: &Duration, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(&humantime::format_duration(*value).to_string())
}

/// `#[serde(with = "crate::duration::option")]` for `Option<Duration>` fields.
pub mod option {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(deserialize_with = "super::deserialize")] Duration);
        Ok(Option::<Wrap>::deserialize(de)?.map(|w| w.0))
    }

    pub fn serialize<S: Serializer>(value: &Option<Duration>, ser: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => super::serialize(d, ser),
            None => ser.serialize_none(),
        }
    }
}

/// A point in the run as `m:ss.mmm` (`0:35.667`): how the timeline prints times.
pub fn clock(at: Duration) -> String {
    let ms = at.as_millis();
    format!("{}:{:02}.{:03}", ms / 60_000, (ms / 1000) % 60, ms % 1000)
}

/// A point in the run as `m:ss` (`1:30`), for window boundaries.
pub fn clock_short(at: Duration) -> String {
    let s = at.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

/// A span as the report prints it: `850ms`, `5.667s`, `2m`.
pub fn span(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms.is_multiple_of(60_000) {
        return format!("{}m", ms / 60_000);
    }
    let mut out = format!("{}", ms / 1000);
    let frac = ms % 1000;
    if frac != 0 {
        let digits = format!("{frac:03}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// A clock offset in nanoseconds, signed: `+3.214ms`, `-10m`, `0ms`. Below a second it
/// keeps microseconds, since NTP's corrections are that fine.
pub fn offset(ns: i64) -> String {
    let sign = match ns.signum() {
        1 => "+",
        -1 => "-",
        _ => "",
    };
    let abs = ns.unsigned_abs();
    if abs >= 1_000_000_000 {
        return format!("{sign}{}", span(Duration::from_nanos(abs)));
    }
    let us = abs / 1000;
    let text = format!("{}.{:03}", us / 1000, us % 1000);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{sign}{text}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves the printed forms are the ones the report promises.
    #[test]
    fn formats() {
        assert_eq!(clock(Duration::from_millis(95_667)), "1:35.667");
        assert_eq!(clock_short(Duration::from_secs(90)), "1:30");
        assert_eq!(span(Duration::from_millis(850)), "850ms");
        assert_eq!(span(Duration::from_millis(5_670)), "5.67s");
        assert_eq!(span(Duration::from_secs(120)), "2m");
        assert_eq!(span(Duration::from_secs(2)), "2s");
        assert_eq!(offset(3_214_567), "+3.214ms");
        assert_eq!(offset(-600_000_000_000), "-10m");
        assert_eq!(offset(0), "0ms");
        assert_eq!(offset(-500), "-0ms");
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert!(
            parse("3 parsecs")
                .unwrap_err()
                .contains("expected a duration string")
        );
    }
}
