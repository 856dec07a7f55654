use thread_flow::D1Target;

#[derive(D1Target)]
struct Counter {
    #[d1(primary_key)]
    id: i64,
    hits: u64,
    total: Option<u128>,
    #[d1(sql_type = "INTEGER")]
    bytes: usize,
}

fn main() {}
