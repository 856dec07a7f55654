use thread_flow::D1Target;

// The default table name is the struct name in snake_case: `sqlite_stats`.
#[derive(D1Target)]
struct SqliteStats {
    #[d1(primary_key)]
    id: i64,
}

fn main() {}
