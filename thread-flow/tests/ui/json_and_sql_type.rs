use thread_flow::D1Target;

#[derive(D1Target)]
struct Note {
    #[d1(primary_key)]
    id: i64,
    #[d1(json, sql_type = "BLOB")]
    tags: Vec<String>,
}

fn main() {}
