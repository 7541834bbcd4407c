use std::path::Path;

/// The committed contract must be what the code serves. When this fails,
/// run: cargo run -p optralis -- schema > schema.graphql
#[test]
fn committed_schema_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let committed = std::fs::read_to_string(&path).expect("schema.graphql at the workspace root");
    let generated = optralis::graphql::sdl();
    if committed != generated {
        let first_diff = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "schema.graphql is stale (first difference at line {}). Regenerate it with: \
             cargo run -p optralis -- schema > schema.graphql",
            first_diff + 1
        );
    }
}
