#[test]
fn integration_passes() {
    assert_eq!(demo::add(2, 2), 4);
}
