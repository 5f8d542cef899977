//! Unit tests of the HTTP surface's parsing and paging.

use super::*;

#[test]
fn bodies_parse_as_json_or_yaml_and_errors_hide_content() {
    assert_eq!(parse_body(b"{\"a\":1}").unwrap(), json!({"a": 1}));
    assert_eq!(
        parse_body(b"a: 1\nb: [x]\n").unwrap(),
        json!({"a": 1, "b": ["x"]})
    );
    let e = parse_body(b"password: [hunter2\n").unwrap_err();
    assert!(!e.message.contains("hunter2"), "{}", e.message);
    assert!(parse_body(b"  ").is_err());
}

#[test]
fn dry_run_only_true_or_false() {
    let q = |v: &str| HashMap::from([("dryRun".to_string(), v.to_string())]);
    assert!(dry_run(&q("true")).unwrap());
    assert!(!dry_run(&q("false")).unwrap());
    assert!(!dry_run(&HashMap::new()).unwrap());
    assert!(dry_run(&q("yes")).is_err());
}

#[test]
fn pages_visit_only_what_they_return_unless_searching() {
    use std::cell::Cell;
    let items: Vec<String> = (0..10_000).map(|i| format!("item {i:05}")).collect();
    let visited = Cell::new(0usize);
    let counting = || items.iter().inspect(|_| visited.set(visited.get() + 1));
    let mut q = HashMap::new();
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        visited.set(0);
        let (count, page) = page_of(counting(), items.len(), &q, |_| true, (offset, MAX_PAGE));
        assert_eq!(count, 10_000);
        assert!(
            visited.get() <= offset + MAX_PAGE,
            "visited {}",
            visited.get()
        );
        offset += page.len();
        seen.extend(page);
        if offset >= count {
            break;
        }
    }
    assert_eq!(seen.len(), 10_000);
    assert!(seen.iter().zip(&items).all(|(a, b)| *a == b));

    q.insert("searchText".to_string(), "9".to_string());
    let keep = |s: &String| matches(&q, Some(s));
    let (count, page) = page_of(items.iter(), items.len(), &q, keep, (10, 5));
    let want: Vec<&String> = items.iter().filter(|s| s.contains('9')).collect();
    assert_eq!(count, want.len());
    assert_eq!(page, want[10..15].to_vec());
}
