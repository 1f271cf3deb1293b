//! The zone's answers and the client half, on the wire format.

use super::*;

fn zone() -> Zone {
    let names = ["manage", "config", "webtask", "login"].map(|n| format!("{n}.example.com"));
    Zone::new(&names, Ipv4Addr::new(10, 0, 1, 10), 60)
}

/// Proves a query for a zone name gets an authoritative A record with the zone's TTL,
/// encoded in the real wire format and decoded by the client half.
#[test]
fn answers_zone_records() {
    let q = query(0x1234, "login.example.com").unwrap();
    let reply = zone().answer(&q).unwrap();
    let msg = Message::from_vec(&reply).unwrap();
    assert_eq!(msg.id(), 0x1234);
    assert!(msg.authoritative());
    assert_eq!(msg.answers().len(), 1);
    let answer = parse_answer(0x1234, &reply).unwrap();
    assert_eq!(answer.address, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 10)));
    assert_eq!(answer.ttl, Duration::from_secs(60));
    // Names are case-insensitive.
    let upper = zone()
        .answer(&query(7, "LOGIN.Example.COM").unwrap())
        .unwrap();
    assert!(parse_answer(7, &upper).is_ok());
}

/// Proves unknown names get NXDOMAIN and known names without A data get an empty
/// NOERROR, as an authoritative server answers.
#[test]
fn nxdomain_and_nodata() {
    let reply = zone()
        .answer(&query(9, "nope.example.com").unwrap())
        .unwrap();
    assert_eq!(
        Message::from_vec(&reply).unwrap().response_code(),
        ResponseCode::NXDomain
    );
    assert_eq!(parse_answer(9, &reply), Err("NXDOMAIN".to_string()));

    let mut aaaa = Message::new();
    aaaa.set_id(3).add_query(Query::query(
        fqdn("login.example.com").unwrap(),
        RecordType::AAAA,
    ));
    let reply = zone().answer(&aaaa.to_vec().unwrap()).unwrap();
    let msg = Message::from_vec(&reply).unwrap();
    assert_eq!(msg.response_code(), ResponseCode::NoError);
    assert!(msg.answers().is_empty());
}

/// Proves malformed input is dropped or refused, never answered as if it were valid.
#[test]
fn malformed_input() {
    assert_eq!(zone().answer(b"\x00\x01garbage"), None);
    let mut empty = Message::new();
    empty.set_id(5);
    let reply = zone().answer(&empty.to_vec().unwrap()).unwrap();
    assert_eq!(
        Message::from_vec(&reply).unwrap().response_code(),
        ResponseCode::FormErr
    );
    assert!(
        parse_answer(6, &reply)
            .unwrap_err()
            .contains("does not match")
    );
}
