//! The committed spec must be what the code generates (golem's drift check).

#[test]
fn committed_spec_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi/pollcast.yaml"
    ))
    .expect("openapi/pollcast.yaml is committed");
    let generated = pollcast::api::spec_yaml();
    assert!(
        committed == generated,
        "openapi/pollcast.yaml is stale: run `cargo run -- openapi > openapi/pollcast.yaml`"
    );
}

#[test]
fn every_operation_has_an_operation_id_and_a_summary() {
    let spec: serde_yaml::Value = serde_yaml::from_str(&pollcast::api::spec_yaml()).unwrap();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for (method, op) in item.as_mapping().unwrap() {
            assert!(
                op["operationId"].is_string(),
                "{path:?} {method:?} has no operationId"
            );
            assert!(
                op["summary"].is_string(),
                "{path:?} {method:?} has no summary"
            );
        }
    }
}
